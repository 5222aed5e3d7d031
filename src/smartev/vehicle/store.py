"""Last-known signal values on disk (SQLite), so a restarted car knows where it was.

The broker marks what changed and calls :meth:`ValueStore.save` now and then (not per update);
values are JSON, arrays come back as tuples.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from smartev.core.errors import PeerError

Stored = tuple[object, float]  # value, timestamp (epoch seconds)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signal_value (
    path TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    ts REAL NOT NULL
) WITHOUT ROWID
"""


class StoreError(PeerError):
    """The value file could not be read or written."""


def _decode(text: str) -> object:
    value = json.loads(text)
    return tuple(value) if isinstance(value, list) else value


class ValueStore:
    """One SQLite file holding the newest value of each signal."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the signal value store {self.path}: {exc}") from exc

    def load(self) -> dict[str, Stored]:
        try:
            rows = self._db.execute("SELECT path, value, ts FROM signal_value").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        loaded: dict[str, Stored] = {}
        for path, text, ts in rows:
            try:
                loaded[path] = (_decode(text), float(ts))
            except (ValueError, TypeError):
                continue  # a damaged row loses that one value, not the car's memory
        return loaded

    def save(self, items: Iterable[tuple[str, object, float]]) -> None:
        rows = [(path, json.dumps(value), ts) for path, value, ts in items]
        if not rows:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO signal_value (path, value, ts) VALUES (?, ?, ?) "
                    "ON CONFLICT(path) DO UPDATE SET value = excluded.value, ts = excluded.ts",
                    rows,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()
