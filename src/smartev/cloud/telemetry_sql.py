"""The ingest's writes: the statements of one batch, written out once as SQL that SQLite and
PostgreSQL both accept (only how rows are passed differs), run on the driver's own cursor inside
the SQLAlchemy transaction: ``executemany`` on SQLite, one statement over column arrays
(``unnest``) on PostgreSQL.

Why not SQLAlchemy's ``execute``: for a batch of a dozen samples its per-statement work (parameter
processing, result set-up) cost more than the statements themselves, and ingest is the cloud's
hottest path (1,000 cars sending every second). Several cars' batches are written with one
statement each and one commit (group commit, see :mod:`smartev.cloud.telemetry`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, select

from smartev.cloud import derived
from smartev.cloud import schema as t
from smartev.cloud.derived import Derived
from smartev.cloud.rollup import UPSERT_SQL as ROLLUP_SQL
from smartev.cloud.rollup import Pending, RollupRow, accumulate
from smartev.cloud.session_records import SessionEvent
from smartev.cloud.sessions import SessionDetector
from smartev.link import SampleKind
from smartev.link.messages import SampleValue

log = logging.getLogger(__name__)

SampleRow = tuple[str, int, int, str, str, float | None, str]
LatestRow = tuple[str, str, int, str, int]

_SAMPLES_SQL: Final = (
    "INSERT INTO telemetry_sample (car_id, seq, ts_us, path, value, num, kind) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (car_id, seq) DO NOTHING"
)
_LATEST_SQL: Final = (
    "INSERT INTO signal_latest (car_id, path, ts_us, value, received_us) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (car_id, path) DO UPDATE SET ts_us = excluded.ts_us, value = excluded.value, "
    "received_us = excluded.received_us WHERE excluded.ts_us >= signal_latest.ts_us"
)
# The cursor moves only from the last_seq this process knows: 0 rows means another moved it.
_MOVE_SQL: Final = (
    "UPDATE telemetry_cursor SET last_seq = ?, last_ts_us = ? WHERE car_id = ? AND last_seq = ?"
)
_MOVE_WITH_SNAPSHOT_SQL: Final = (
    "UPDATE telemetry_cursor SET last_seq = ?, last_ts_us = ?, detector = ? "
    "WHERE car_id = ? AND last_seq = ?"
)
_NEW_CAR_SQL: Final = "INSERT INTO car (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"
_NEW_CURSOR_SQL: Final = (
    "INSERT INTO telemetry_cursor (car_id, last_seq, last_ts_us, detector) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (car_id) DO NOTHING"
)
CAR_NAME_CHARS: Final = 100
KIND_TEXT: Final = {kind: kind.value for kind in SampleKind}


class CursorMovedError(Exception):
    """Another writer stored samples of the car since this process loaded it."""


@dataclass(slots=True)
class Batch:
    """One car's batch (or silence) made ready to write: rows, detector events and snapshot."""

    car_id: str
    expected_seq: int  # the car's last_seq before
    has_cursor: bool  # False: the car's first batch
    open_state_id: str | None
    top_seq: int
    top_ts_us: int
    snapshot: str | None  # the detector's, as JSON; None: keep the stored one
    pending_minute_us: int | None = None  # the minute of the rollups left pending, if any
    samples: list[SampleRow] = field(default_factory=list)
    latest: list[LatestRow] = field(default_factory=list)
    rollup: list[RollupRow] = field(default_factory=list)
    events: list[SessionEvent] = field(default_factory=list)
    # Set when written:
    written: Derived = derived.NOTHING
    new_open_state_id: str | None = None


# PostgreSQL takes a statement's rows as one array per column (``unnest``): one statement and one
# round trip for the whole group, where executemany would send each row as its own statement.
_PG_COLUMNS: Final = {
    "telemetry_sample": ("varchar", "int8", "int8", "varchar", "text", "float8", "varchar"),
    "signal_latest": ("varchar", "varchar", "int8", "text", "int8"),
    "signal_rollup": (
        *("varchar", "varchar", "int4", "int8", "int4"),
        *("float8", "float8", "float8", "float8", "int8"),
    ),
}
_PG_MOVE_SQL: Final = (
    "UPDATE telemetry_cursor AS c SET last_seq = u.last_seq, last_ts_us = u.last_ts_us "
    "FROM unnest(%b::int8[], %b::int8[], %b::varchar[], %b::int8[]) "
    "AS u(last_seq, last_ts_us, car_id, expected) "
    "WHERE c.car_id = u.car_id AND c.last_seq = u.expected"
)


def _unnest(sql: str, table: str) -> str:
    """``INSERT … VALUES (?, …) ON CONFLICT …`` as ``INSERT … SELECT * FROM unnest(…) …``."""
    head, rest = re.split(r"\s+VALUES\s*\(", sql, maxsplit=1)
    _, _, tail = rest.partition(")")
    arrays = ", ".join(f"%b::{kind}[]" for kind in _PG_COLUMNS[table])
    return f"{head} SELECT * FROM unnest({arrays}){tail}"


class IngestWriter:
    """Writes batches of several cars in the caller's transaction."""

    def __init__(self, backend: str) -> None:
        self._pg = backend != "sqlite"

        def sql(text: str) -> str:
            return text.replace("?", "%s") if self._pg else text

        self._samples = _unnest(_SAMPLES_SQL, "telemetry_sample") if self._pg else _SAMPLES_SQL
        self._latest = _unnest(_LATEST_SQL, "signal_latest") if self._pg else _LATEST_SQL
        self._rollup = _unnest(ROLLUP_SQL, "signal_rollup") if self._pg else ROLLUP_SQL
        self._move = _PG_MOVE_SQL if self._pg else _MOVE_SQL
        self._move_with_snapshot = sql(_MOVE_WITH_SNAPSHOT_SQL)
        self._new_car = sql(_NEW_CAR_SQL)
        self._new_cursor = sql(_NEW_CURSOR_SQL)

    def _put(self, cursor: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """Run the statement for every row; the number of rows it changed."""
        if self._pg:
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
        else:
            cursor.executemany(sql, rows)
        return int(cursor.rowcount)

    def write(self, conn: Connection, batches: Sequence[Batch]) -> None:
        """Write every batch; raises CursorMovedError (the caller rolls back) if a car's cursor
        was not where its batch expected it."""
        cursor: Any = conn.connection.cursor()
        try:
            moves = [
                (b.top_seq, b.top_ts_us, b.car_id, b.expected_seq)
                for b in batches
                if b.has_cursor and b.snapshot is None
            ]
            if moves and self._put(cursor, self._move, moves) != len(moves):
                raise CursorMovedError(", ".join(b.car_id for b in batches))
            moves_with_snapshot = [
                (b.top_seq, b.top_ts_us, b.snapshot, b.car_id, b.expected_seq)
                for b in batches
                if b.has_cursor and b.snapshot is not None
            ]
            if moves_with_snapshot:
                cursor.executemany(self._move_with_snapshot, moves_with_snapshot)
                if cursor.rowcount != len(moves_with_snapshot):
                    raise CursorMovedError(", ".join(b.car_id for b in batches))
            new = [b for b in batches if not b.has_cursor]
            if new:
                cursor.executemany(
                    self._new_car, [(b.car_id, b.car_id[:CAR_NAME_CHARS]) for b in new]
                )
                cursor.executemany(
                    self._new_cursor,
                    [(b.car_id, b.top_seq, b.top_ts_us, b.snapshot) for b in new],
                )
                if cursor.rowcount != len(new):
                    raise CursorMovedError(", ".join(b.car_id for b in new))
            samples = [row for b in batches for row in b.samples]
            if samples:
                self._put(cursor, self._samples, samples)
            latest = [row for b in batches for row in b.latest]
            if latest:
                self._put(cursor, self._latest, latest)
            rollup = [row for b in batches for row in b.rollup]
            if rollup:
                self._put(cursor, self._rollup, rollup)
        finally:
            cursor.close()
        for b in batches:
            if b.events:
                b.written, b.new_open_state_id = derived.write_events(
                    conn, b.car_id, b.events, b.open_state_id
                )
            else:
                b.written, b.new_open_state_id = derived.NOTHING, b.open_state_id


# --- a car's state as stored -------------------------------------------------------------------


@dataclass(slots=True)
class CarMemory:
    """What the store keeps in memory of one car (see the module docstring)."""

    last_seq: int
    has_cursor: bool
    last_ts_us: int
    latest_ts: dict[str, int]
    detector: SessionDetector
    snapshot_seq: int  # the samples up to it are in the stored snapshot and rollups
    open_state_id: str | None
    pending: Pending = field(default_factory=dict)  # rollups of the samples after snapshot_seq
    pending_minute_us: int | None = None  # the one minute pending holds (-1: flush next time)


def encode_value(value: SampleValue) -> str:
    """A sample's value as stored (JSON)."""
    return encode(value)[0]


def encode(value: SampleValue) -> tuple[str, float | None]:
    """The value as stored (JSON) and as a number (bools as 0/1; None if not a number). The
    common scalars skip the json module: a float's repr is its JSON form, and the link admits
    only finite floats."""
    kind = type(value)
    if kind is float:
        return repr(value), value  # type: ignore[return-value]
    if kind is bool:
        return ("true", 1.0) if value else ("false", 0.0)
    if kind is int:
        return str(value), float(value)  # type: ignore[arg-type]
    return json.dumps(value), None


def decode_value(text: str) -> SampleValue:
    """A stored value (JSON) as the car sent it: arrays as tuples."""
    value = json.loads(text)
    return tuple(value) if isinstance(value, list) else value


def read_car(conn: Connection, car_id: str) -> CarMemory:
    """The car's state as stored: its cursor, the time of each signal's newest value, its open
    state interval, and its detector restored from the snapshot with the samples stored since
    fed to it again (the snapshot is not written with every batch)."""
    c = t.telemetry_cursor.c
    cursor = conn.execute(
        select(c.last_seq, c.last_ts_us, c.detector).where(c.car_id == car_id)
    ).first()
    latest = t.signal_latest.c
    latest_ts = {
        r.path: r.ts_us
        for r in conn.execute(select(latest.path, latest.ts_us).where(latest.car_id == car_id))
    }
    s = t.state_interval.c
    open_state_id = conn.execute(
        select(s.id)
        .where(s.car_id == car_id, s.end_us.is_(None))
        .order_by(s.start_us.desc())
        .limit(1)
    ).scalar()
    last_seq = cursor.last_seq if cursor is not None else 0
    detector, snapshot_seq = SessionDetector(), last_seq
    if cursor is not None:
        try:
            stored = json.loads(cursor.detector)
            detector = SessionDetector.restore(stored["detector"])
            snapshot_seq = int(stored["seq"])
        except (ValueError, KeyError, TypeError) as exc:  # InvalidInputError is a ValueError
            # Starting afresh from the next sample: replaying the car's whole history is no option.
            log.warning("session detector of %s not restored (%s): starting afresh", car_id, exc)
            detector, snapshot_seq = SessionDetector(), last_seq
    pending: Pending = {}
    if snapshot_seq < last_seq:
        sample = t.telemetry_sample.c
        rows = conn.execute(
            select(sample.ts_us, sample.path, sample.value, sample.num)
            .where(sample.car_id == car_id, sample.seq > snapshot_seq)
            .order_by(sample.seq)
        ).all()
        for r in rows:
            detector.feed(r.ts_us, r.path, decode_value(r.value))  # its events are stored
        accumulate(pending, ((r.ts_us, r.path, r.num) for r in rows if r.num is not None))
    return CarMemory(
        last_seq=last_seq,
        has_cursor=cursor is not None,
        last_ts_us=cursor.last_ts_us if cursor is not None else 0,
        latest_ts=latest_ts,
        detector=detector,
        snapshot_seq=snapshot_seq,
        open_state_id=open_state_id,
        pending=pending,
        pending_minute_us=-1 if pending else None,
    )
