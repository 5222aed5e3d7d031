"""What the demo world keeps in ``data_dir/demo`` between runs: the demo owner's password, the
owner's device key, and what was done once and must not be done again (the shipped automations
installed, the service key enrolled in the car).

Secrets are written readable by their owner only (0600), created exclusively so two starts never
write two different ones; the state file is replaced atomically.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.core.errors import ConfigError

DEMO_DIR: Final = "demo"
PASSWORD_FILE: Final = "password"
OWNER_KEY_FILE: Final = "owner-device-key.pem"
STATE_FILE: Final = "state.json"
PASSWORD_BYTES: Final = 18  # 24 URL-safe characters, 144 bits


@dataclass(frozen=True, slots=True)
class DemoState:
    """What the demo world did once and must not do again, by key (``time_zone``,
    ``geofence:home``, ``automation:arriving_home``, ``scene:away``, …): what the owner changed
    or deleted afterwards stays so. ``enrolled_keys``: the service keys enrolled in the car."""

    done: frozenset[str] = field(default_factory=frozenset)
    enrolled_keys: frozenset[str] = field(default_factory=frozenset)


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
        return self.directory / PASSWORD_FILE

    def password(self) -> str | None:
        """The demo owner's password kept from an earlier start, or None."""
        raw = self._read(self.password_path)
        return None if raw is None else raw.decode().strip() or None

    def new_password(self) -> str:
        """A new password, kept (0600) before anybody uses it; one kept already wins."""
        path = self._dir() / PASSWORD_FILE
        _write_private(path, (secrets.token_urlsafe(PASSWORD_BYTES) + "\n").encode())
        password = self.password()
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
            return DemoState(
                done=frozenset(str(k) for k in data.get("done", [])),
                enrolled_keys=frozenset(str(k) for k in data.get("enrolled_keys", [])),
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
            DemoState(
                done=state.done | ({done} if done else set()),
                enrolled_keys=state.enrolled_keys | ({enrolled_key} if enrolled_key else set()),
            )
        )

    def save_state(self, state: DemoState) -> None:
        path = self._dir() / STATE_FILE
        tmp = path.with_suffix(".tmp")
        data = {"done": sorted(state.done), "enrolled_keys": sorted(state.enrolled_keys)}
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, path)  # the old state or the new one, never half of one
