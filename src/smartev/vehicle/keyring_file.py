"""The car's key ring on disk: a JSON file rewritten atomically on every change."""

from __future__ import annotations

import json
import os
from pathlib import Path

from smartev.core.errors import ConfigError
from smartev.vehicle.keyring import KeyRing, KeyRingError

KEYRING_FILE = "keyring.json"


def _save(path: Path, ring: KeyRing) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([dict(r) for r in ring.to_records()], indent=1))
    os.replace(tmp, path)  # a crash leaves the old file or the new one, never half of one


def load_key_ring(data_dir: Path) -> KeyRing:
    """The car's key ring, saved back to ``data_dir`` whenever it changes."""
    path = data_dir / KEYRING_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, object]] = []
    if path.exists():
        try:
            records = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the car's key ring {path}: {exc}") from exc
    try:
        return KeyRing.from_records(records, on_change=lambda ring: _save(path, ring))
    except KeyRingError as exc:
        raise ConfigError(f"the car's key ring {path} is damaged: {exc}") from exc
