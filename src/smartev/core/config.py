"""Configuration, read once at start into a frozen, typed :class:`Settings`.

Sources, each overriding the one before: built-in defaults, a TOML file, environment variables
``SMARTEV_<NAME>`` (``SMARTEV_<SECTION>__<NAME>`` for a nested section), and explicit overrides
(command-line options). The TOML file is ``$SMARTEV_CONFIG`` if set, else ``./smartev.toml`` if it
exists. Unknown keys are errors, not silently ignored, and every error names where the bad value
came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smartev.core.errors import ConfigError

ENV_PREFIX = "SMARTEV_"
MQTT_DEFAULT_PORT = 1883
CONFIG_ENV = "SMARTEV_CONFIG"
DEFAULT_CONFIG_FILE = Path("smartev.toml")


@dataclass(frozen=True, slots=True)
class MqttAddress:
    """Where an MQTT broker is, from ``mqtt://[user[:password]@]host[:port]``."""

    host: str
    port: int = MQTT_DEFAULT_PORT
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password
        user = f"{self.username}@" if self.username else ""
        return f"MqttAddress(mqtt://{user}{self.host}:{self.port})"


def parse_mqtt_url(url: str) -> MqttAddress:
    """The broker of ``url``; ValueError saying what was wrong and what would be right."""
    shape = "like mqtt://host:1883 or mqtt://user:password@host:1883"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"MQTT URL has a bad port: write it {shape}") from None
    if parts.scheme != "mqtt":
        scheme = f"'{parts.scheme}://'" if parts.scheme else "no scheme"
        raise ValueError(f"MQTT URL has {scheme}, must start with mqtt:// ({shape})")
    if not parts.hostname:
        raise ValueError(f"MQTT URL has no host: write it {shape}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"MQTT URL must not have a path, query or fragment: write it {shape}")
    if port == 0:
        raise ValueError(f"MQTT URL port must be 1..65535: write it {shape}")
    return MqttAddress(
        host=parts.hostname,
        port=MQTT_DEFAULT_PORT if port is None else port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def default_data_dir() -> Path:
    """Where smartev keeps its data unless told otherwise (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "smartev"


class Settings(BaseModel):
    """Everything an operator can configure. Field docs are the reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address the cloud app listens on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the cloud app.")
    speed: float = Field(
        60.0, gt=0, le=100_000, description="Simulated seconds per real second in the demo world."
    )
    data_dir: Path = Field(
        default_factory=default_data_dir, description="Directory for databases and keys."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is a SQLite file in data_dir."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log verbosity."
    )
    secret_key: str | None = Field(
        None,
        min_length=32,
        description="Key that signs access tokens (32+ characters); default: one generated at "
        "first start in data_dir/secret.key. Set it when several cloud processes share a "
        "database.",
        repr=False,
    )
    tls_cert: Path | None = Field(None, description="PEM certificate: serve HTTPS and wss://.")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")
    mqtt_url: str | None = Field(
        None,
        description="MQTT broker for the Home Assistant bridge of the demo world, "
        "mqtt://[user:password@]host[:port] (port 1883 by default); none: no bridge.",
        repr=False,  # may carry a password
    )
    clock_start: datetime | None = Field(
        None,
        description="World time of the demo world's first start, ISO 8601 with a UTC offset "
        "(2026-06-01T07:00:00+02:00); default: 07:00 today in the household's time zone. A "
        "restart goes on from the world time it stopped at; a later clock_start jumps ahead.",
    )

    @field_validator("clock_start")
    @classmethod
    def _check_clock_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError(
                f"{value.isoformat()} has no UTC offset; write it like 2026-06-01T07:00:00+02:00"
            )
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_mqtt_url(value)
        return value

    @property
    def mqtt(self) -> MqttAddress | None:
        """The broker of ``mqtt_url``, or None without one."""
        return None if self.mqtt_url is None else parse_mqtt_url(self.mqtt_url)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from exc


def _from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings values from ``SMARTEV_*`` variables, and for each key the variable it came from."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        node = values
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = raw
        origin[parts[0]] = name
    return values, origin


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the configuration once.

    ``env`` defaults to ``os.environ``; ``overrides`` (command-line options) win over everything,
    and those whose value is None are ignored.
    """
    env = os.environ if env is None else env
    origin: dict[str, str] = {}
    values: dict[str, Any] = {}
    path = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        values = _read_toml(path)
        origin = {key: f"config file {path}" for key in values}
    env_values, env_origin = _from_env(env)
    values = _merge(values, env_values)
    origin.update(env_origin)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    values = _merge(values, given)
    origin.update({key: "command line" for key in given})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            where = origin.get(str(err["loc"][0]), "defaults") if err["loc"] else "settings"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown setting '{key}' (from {where})")
            else:
                problems.append(f"setting '{key}' (from {where}): {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc
