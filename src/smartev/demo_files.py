"""What the demo world keeps in ``data_dir/demo`` between runs: the demo owner's and the family
member's passwords, the owner's device key, what was done once and must not be done again (the
shipped automations installed, the service key enrolled in the car), and where the world was
when it stopped (its clock, the drive the car was on).

Secrets are written readable by their owner only (0600), created exclusively so two starts never
write two different ones; the state file is replaced atomically.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.core.errors import ConfigError

DEMO_DIR: Final = "demo"
PASSWORD_FILE: Final = "password"
OWNER: Final = "owner"
FAMILY: Final = "family"
# The owner's file keeps the name it had before the demo world had a family member.
_PASSWORD_FILES: Final = {OWNER: PASSWORD_FILE, FAMILY: "family-password"}
OWNER_KEY_FILE: Final = "owner-device-key.pem"
STATE_FILE: Final = "state.json"
PASSWORD_BYTES: Final = 18  # 24 URL-safe characters, 144 bits


@dataclass(frozen=True, slots=True)
class DemoState:
    """What the demo world did once and must not do again, by key (``time_zone``,
    ``geofence:home``, ``automation:arriving_home``, ``scene:away``, …): what the owner changed
    or deleted afterwards stays so. ``enrolled_keys``: the service keys enrolled in the car.
    ``world_time_us``: the world's clock when it was saved last (a restart goes on from there);
    ``car_leg``: the drive the car was on then (``to_work`` / ``to_home``), None when parked."""

    done: frozenset[str] = field(default_factory=frozenset)
    enrolled_keys: frozenset[str] = field(default_factory=frozenset)
    world_time_us: int | None = None
    car_leg: str | None = None


def _write_private(path: Path, data: bytes) -> bool:
    """Create ``path`` (0600) with ``data``; False when it exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return True


class DemoFiles:
    """The demo world's files under ``data_dir/demo``."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / DEMO_DIR

    def _dir(self) -> Path:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.directory}: {exc.strerror}") from exc
        return self.directory

    def _read(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc

    @property
    def password_path(self) -> Path:
        return self.password_file(OWNER)

    def password_file(self, account: str = OWNER) -> Path:
        """Where the password of the demo ``account`` (``owner``, ``family``) is kept."""
        return self.directory / _PASSWORD_FILES[account]

    def password(self, account: str = OWNER) -> str | None:
        """The password of the demo ``account`` kept from an earlier start, or None."""
        raw = self._read(self.password_file(account))
        return None if raw is None else raw.decode().strip() or None

    def new_password(self, account: str = OWNER) -> str:
        """A new password, kept (0600) before anybody uses it; one kept already wins."""
        self._dir()
        path = self.password_file(account)
        _write_private(path, (secrets.token_urlsafe(PASSWORD_BYTES) + "\n").encode())
        password = self.password(account)
        if password is None:
            raise ConfigError(f"{path} is empty: delete it and start again")
        return password

    def owner_key(self) -> Ed25519PrivateKey:
        """The owner's device key (the phone that signs their commands), made at first use."""
        path = self._dir() / OWNER_KEY_FILE
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_private(path, pem)
        raw = self._read(path) or b""
        try:
            key = serialization.load_pem_private_key(raw, password=None)
        except ValueError as exc:
            raise ConfigError(
                f"{path} is not a PEM private key: delete it and start again"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key: delete it and start again")
        return key

    def state(self) -> DemoState:
        path = self.directory / STATE_FILE
        raw = self._read(path)
        if raw is None:
            return DemoState()
        try:
            data = json.loads(raw)
            world_time_us = data.get("world_time_us")
            leg = data.get("car_leg")
            return DemoState(
                done=frozenset(str(k) for k in data.get("done", [])),
                enrolled_keys=frozenset(str(k) for k in data.get("enrolled_keys", [])),
                world_time_us=None if world_time_us is None else int(world_time_us),
                car_leg=None if leg is None else str(leg),
            )
        except (ValueError, AttributeError, TypeError) as exc:
            raise ConfigError(
                f"{path} is damaged ({exc}): fix or delete it (deleting it installs the shipped "
                "automations and enrolls the service key again)"
            ) from exc

    def remember(self, *, done: str | None = None, enrolled_key: str | None = None) -> None:
        """Add to the state what was just done."""
        state = self.state()
        self.save_state(
            replace(
                state,
                done=state.done | ({done} if done else set()),
                enrolled_keys=state.enrolled_keys | ({enrolled_key} if enrolled_key else set()),
            )
        )

    def save_progress(self, *, world_time_us: int, car_leg: str | None) -> None:
        """Keep where the world is now: its clock, and the drive the car is on."""
        self.save_state(replace(self.state(), world_time_us=world_time_us, car_leg=car_leg))

    def save_state(self, state: DemoState) -> None:
        path = self._dir() / STATE_FILE
        tmp = path.with_suffix(".tmp")
        data: dict[str, object] = {
            "done": sorted(state.done),
            "enrolled_keys": sorted(state.enrolled_keys),
        }
        if state.world_time_us is not None:
            data["world_time_us"] = state.world_time_us
        if state.car_leg is not None:
            data["car_leg"] = state.car_leg
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, path)  # the old state or the new one, never half of one
