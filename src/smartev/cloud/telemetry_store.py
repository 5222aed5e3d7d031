"""Where the cloud keeps car telemetry: each sample once, keyed by car and sequence number.

:class:`TelemetryStore` is the interface the gateway uses; :class:`SqliteTelemetryStore` is the
embedded implementation (one SQLite file in WAL mode). A batch is stored in one transaction and
re-sent samples are ignored, so a car that resends after a crash or a lost ack never creates a
duplicate, and :meth:`TelemetryStore.last_seq` tells a reconnecting car where to resume.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from smartev.core.errors import PeerError
from smartev.link import Sample

Value = bool | int | float | str | tuple[bool | int | float | str, ...] | None


@dataclass(frozen=True, slots=True)
class StoredSample:
    car_id: str
    seq: int
    ts_us: int
    path: str
    value: Value
    kind: str


class TelemetryStoreError(PeerError):
    """The store could not be read or written."""


class TelemetryStore(Protocol):
    def store(self, car_id: str, samples: Sequence[Sample]) -> int:
        """Store new samples (re-sent ones are ignored); return the car's highest stored seq."""
        ...

    def last_seq(self, car_id: str) -> int:
        """The highest sequence number stored for the car (0 when none)."""
        ...

    def count(self, car_id: str) -> int: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry_sample (
    car_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_us INTEGER NOT NULL,
    path TEXT NOT NULL,
    value TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (car_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS telemetry_car (
    car_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
"""


class SqliteTelemetryStore:
    """Telemetry in one SQLite file. Safe to call from one thread at a time (a lock guards it)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # The ack goes out only after commit; FULL makes that commit survive a power cut too.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise TelemetryStoreError(
                f"cannot open the telemetry store {self.path}: {exc}"
            ) from exc
        self._last: dict[str, int] = {
            car: seq for car, seq in self._db.execute("SELECT car_id, last_seq FROM telemetry_car")
        }

    def store(self, car_id: str, samples: Sequence[Sample]) -> int:
        dumps = json.dumps
        with self._lock:
            last = self._last.get(car_id, 0)
            rows = [
                (car_id, s.seq, s.ts_us, s.path, dumps(s.value), s.kind.value)
                for s in samples
                if s.seq > last
            ]
            if not rows:
                return last
            top = max(last, max(row[1] for row in rows))
            try:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR IGNORE INTO telemetry_sample VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                self._db.execute(
                    "INSERT INTO telemetry_car VALUES (?, ?) ON CONFLICT(car_id) "
                    "DO UPDATE SET last_seq = excluded.last_seq",
                    (car_id, top),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise TelemetryStoreError(f"cannot store telemetry of {car_id}: {exc}") from exc
            self._last[car_id] = top
            return top

    def last_seq(self, car_id: str) -> int:
        return self._last.get(car_id, 0)

    def count(self, car_id: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM telemetry_sample WHERE car_id = ?", (car_id,)
            ).fetchone()
        return int(row[0])

    def samples(self, car_id: str, after_seq: int = 0, limit: int = 1000) -> list[StoredSample]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts_us, path, value, kind FROM telemetry_sample "
                "WHERE car_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (car_id, after_seq, limit),
            ).fetchall()
        out = []
        for seq, ts_us, path, text, kind in rows:
            value = json.loads(text)
            out.append(
                StoredSample(
                    car_id,
                    seq,
                    ts_us,
                    path,
                    tuple(value) if isinstance(value, list) else value,
                    kind,
                )
            )
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
