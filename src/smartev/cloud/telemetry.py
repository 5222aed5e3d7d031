"""Telemetry ingest: each batch a car sends is stored, with everything derived from it, in one
transaction; then whoever listens is told what changed.

:class:`TelemetryStore` is what the car gateway needs; :class:`SqlTelemetryStore` implements it
on the cloud's database (SQLite embedded, PostgreSQL at scale: the same statements). One batch,
one transaction:

- new samples into ``telemetry_sample`` (a sample at or below the car's stored sequence number is
  ignored, and the insert does nothing on a conflict, so a resent batch never duplicates);
- the resume point ``telemetry_cursor.last_seq``;
- ``signal_latest``: the newest value per signal, replaced only by a newer sample;
- drives, charging sessions and state intervals the detector concluded (:mod:`.derived`);
- at a checkpoint: the minute and hour buckets of the numeric values gathered since the last one
  (``signal_rollup``, :mod:`smartev.cloud.rollup`) and the session detector's snapshot, with the
  seq they cover (``telemetry_cursor.detector``).

A checkpoint comes when a car's new minute begins, when the detector concluded something, with a
car's first batch, after :data:`SNAPSHOT_EVERY_SAMPLES`, after a minute of silence
(:meth:`SqlTelemetryStore.sweep_silence`) and on :meth:`SqlTelemetryStore.flush`; a car sending
every second is checkpointed once a minute instead of every second. In between, the newest
minute's buckets wait in memory: loading a car (after a restart, or after another process wrote
it) feeds the samples stored after the checkpoint to the restored detector and the buckets again,
so nothing is lost or counted twice.

After the commit every listener (:meth:`SqlTelemetryStore.subscribe`) gets an
:class:`IngestResult`, in the thread that stored the batch: a listener that lives on an event
loop hands it over with ``loop.call_soon_threadsafe``.

Per car the store keeps, in memory, its last sequence number, the newest time of each signal and
its session detector, loaded from the database on first use. The cursor update says which
``last_seq`` it expects; if another process moved it meanwhile (several gateways on one
PostgreSQL), the transaction is rolled back, the car reloaded and the batch stored again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Final, Protocol

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from smartev.cloud import derived
from smartev.cloud import schema as t
from smartev.cloud.db import Database
from smartev.cloud.group_commit import GroupCommit
from smartev.cloud.rollup import accumulate
from smartev.cloud.rollup import rows as rollup_rows
from smartev.cloud.session_records import SessionEvent
from smartev.cloud.telemetry_sql import (
    KIND_TEXT,
    Batch,
    CarMemory,
    CursorMovedError,
    IngestWriter,
    SampleRow,
    decode_value,
    encode,
    encode_value,
    read_car,
)
from smartev.core.clock import Clock
from smartev.core.errors import PeerError
from smartev.link import Sample
from smartev.link.messages import SampleValue

log = logging.getLogger(__name__)

# How many samples may come between two stored detector snapshots: what loading a car replays.
SNAPSHOT_EVERY_SAMPLES: Final = 2000
# How often the app tells the detectors that time passed (drives end 5 min after the car stopped).
SWEEP_EVERY_S: Final = 60.0
SILENT_AFTER_S: Final = 60.0  # a car whose newest sample is older is told that time passed
_MINUTE_US: Final = 60_000_000

__all__ = [
    "IngestResult",
    "SqlTelemetryStore",
    "StoredSample",
    "TelemetryStore",
    "TelemetryStoreError",
    "decode_value",
    "encode_value",
    "sweep_silence_forever",
]


class TelemetryStoreError(PeerError):
    """The store could not be read or written (the database failed)."""


class TelemetryStore(Protocol):
    """What the car gateway needs of wherever telemetry is kept."""

    def store(self, car_id: str, samples: Sequence[Sample]) -> int:
        """Store new samples (re-sent ones are ignored); return the car's highest stored seq."""
        ...

    def last_seq(self, car_id: str) -> int:
        """The highest sequence number stored for the car (0 when none)."""
        ...


@dataclass(frozen=True, slots=True)
class StoredSample:
    car_id: str
    seq: int
    ts_us: int
    path: str
    value: SampleValue
    kind: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one stored batch (or a silence sweep) changed, for the live fan-out.

    ``latest`` holds every signal whose newest value the batch replaced (a heartbeat repeating
    the same value too: its age changed), path -> (ts_us, value). ``events`` are the detector's
    events in order (including starts and discarded drives, which have no rows); ``drives``,
    ``charges`` and ``states`` are the rows written (a state with ``end_us`` None was opened).
    """

    car_id: str
    received_us: int
    stored: int  # new samples
    last_seq: int
    latest: Mapping[str, tuple[int, SampleValue]]
    events: tuple[SessionEvent, ...]
    drives: tuple[derived.DriveRecord, ...]
    charges: tuple[derived.ChargeRecord, ...]
    states: tuple[derived.StateRecord, ...]


IngestListener = Callable[[IngestResult], None]


class SqlTelemetryStore:
    """Telemetry on the cloud's :class:`Database`. Thread-safe: batches of one car are stored one
    at a time, and batches of different cars that arrive while a commit is under way are written
    together in the next transaction (group commit: one disk flush for all of them)."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self._clock = clock
        self._listeners: list[IngestListener] = []
        self._cars: dict[str, CarMemory] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._writer = IngestWriter(db.backend)
        self._groups: GroupCommit[Batch, None] = GroupCommit(db, self._write_batches)
        self._db_errors: tuple[type[BaseException], ...] = (
            SQLAlchemyError,
            db.engine.dialect.loaded_dbapi.Error,
        )
        self._all_loaded = False

    # --- listeners ----------------------------------------------------------------------------

    def subscribe(self, listener: IngestListener) -> Callable[[], None]:
        """Call ``listener`` after each committed batch; returns the function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _publish(self, result: IngestResult) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(result)
            except Exception:  # a broken listener must not fail the car's ack
                log.exception("telemetry listener %r failed", listener)

    # --- the gateway's interface ----------------------------------------------------------------

    def last_seq(self, car_id: str) -> int:
        car = self._cars.get(car_id)
        if car is None:
            with self._lock(car_id):
                car = self._load(car_id)
        return car.last_seq

    def store(self, car_id: str, samples: Sequence[Sample]) -> int:
        with self._lock(car_id):
            result = self._locked(car_id, partial(self._prepare, car_id, samples=samples))
        if result is None:
            return self.last_seq(car_id)
        self._publish(result)
        return result.last_seq

    def _locked(
        self, car_id: str, prepare: Callable[[CarMemory], tuple[Batch, IngestResult] | None]
    ) -> IngestResult | None:
        """Prepare a batch from the car's state and write it; on a moved cursor reload the car
        and prepare again. Call holding the car's lock."""
        for attempt in range(3):
            car = self._load(car_id)
            try:
                prepared = prepare(car)
                if prepared is None:
                    return None
                batch, result = prepared
                self._commit(batch)
            except CursorMovedError:
                log.info("telemetry of %s was stored elsewhere meanwhile; reloading", car_id)
                self._cars.pop(car_id, None)
                if attempt == 2:
                    raise TelemetryStoreError(
                        f"cannot store telemetry of {car_id}: its cursor keeps moving"
                    ) from None
                continue
            except self._db_errors as exc:
                self._cars.pop(car_id, None)
                raise TelemetryStoreError(f"cannot store telemetry of {car_id}: {exc}") from exc
            except BaseException:
                self._cars.pop(car_id, None)  # its detector may have moved ahead: reload
                raise
            car.last_seq, car.last_ts_us, car.has_cursor = batch.top_seq, batch.top_ts_us, True
            if batch.snapshot is not None:
                car.snapshot_seq = batch.top_seq
                car.pending.clear()
                car.pending_minute_us = None
            elif batch.pending_minute_us is not None:
                car.pending_minute_us = batch.pending_minute_us
            car.open_state_id = batch.new_open_state_id
            for path, (ts_us, _) in result.latest.items():
                car.latest_ts[path] = ts_us
            return replace(
                result,
                drives=batch.written.drives,
                charges=batch.written.charges,
                states=batch.written.states,
            )
        return None  # not reached: the last attempt returns or raises

    def _prepare(
        self, car_id: str, car: CarMemory, *, samples: Sequence[Sample]
    ) -> tuple[Batch, IngestResult] | None:
        last = car.last_seq
        new = [s for s in samples if s.seq > last]
        if not new:
            return None
        received_us = self._now_us()
        rows: list[SampleRow] = []
        numbers: list[tuple[int, str, float]] = []
        newest: dict[str, tuple[int, SampleValue, str]] = {}
        events: list[SessionEvent] = []
        feed = car.detector.feed
        top_seq, top_ts = last, car.last_ts_us
        # One pass, written for speed: this runs for every sample the fleet sends.
        for s in new:
            seq, ts_us, path, value = s.seq, s.ts_us, s.path, s.value
            text, num = encode(value)
            rows.append((car_id, seq, ts_us, path, text, num, KIND_TEXT[s.kind]))
            if num is not None:
                numbers.append((ts_us, path, num))
            held = newest.get(path)
            if held is None or ts_us >= held[0]:
                newest[path] = (ts_us, value, text)
            if seq > top_seq:
                top_seq = seq
            if ts_us > top_ts:
                top_ts = ts_us
            found = feed(ts_us, path, value)
            if found:
                events.extend(found)
        latest_ts = car.latest_ts
        fresh = [
            (path, ts_us, value, text)
            for path, (ts_us, value, text) in newest.items()
            if ts_us >= latest_ts.get(path, -1)
        ]
        accumulate(car.pending, numbers)
        minutes = {ts_us - ts_us % _MINUTE_US for ts_us, _, _ in numbers}
        if car.pending_minute_us is not None:
            minutes.add(car.pending_minute_us)
        batch = self._batch(car_id, car, top_seq, top_ts, events, new_minute=len(minutes) > 1)
        if batch.snapshot is None and minutes:
            batch.pending_minute_us = minutes.pop()
        batch.samples = rows
        batch.latest = [(car_id, path, ts_us, text, received_us) for path, ts_us, _, text in fresh]
        changed = {path: (ts_us, value) for path, ts_us, value, _ in fresh}
        result = IngestResult(
            car_id, received_us, len(rows), top_seq, changed, tuple(events), (), (), ()
        )
        return batch, result

    def _batch(
        self,
        car_id: str,
        car: CarMemory,
        top_seq: int,
        top_ts: int,
        events: list[SessionEvent],
        *,
        new_minute: bool = False,
        flush: bool = False,
    ) -> Batch:
        """The batch's checkpoint (see the module docstring): the detector's snapshot and the
        pending rollups, when the detector concluded something, a new minute began, the car is
        new, SNAPSHOT_EVERY_SAMPLES came since the last one, or ``flush``."""
        batch = Batch(
            car_id=car_id,
            expected_seq=car.last_seq,
            has_cursor=car.has_cursor,
            open_state_id=car.open_state_id,
            top_seq=top_seq,
            top_ts_us=top_ts,
            snapshot=None,
            events=events,
        )
        if (
            flush
            or events
            or new_minute
            or not car.has_cursor
            or top_seq - car.snapshot_seq >= SNAPSHOT_EVERY_SAMPLES
        ):
            batch.snapshot = json.dumps(
                {"seq": top_seq, "detector": car.detector.snapshot()}, separators=(",", ":")
            )
            batch.rollup = rollup_rows(car_id, car.pending)
        return batch

    # --- group commit ---------------------------------------------------------------------------

    def _commit(self, batch: Batch) -> None:
        """Write the batch, together with the batches of other cars queued meanwhile (one
        transaction, one disk flush: :class:`GroupCommit`); raise its error if any."""
        self._groups.run(batch)

    def _write_batches(self, conn: Connection, group: list[Batch]) -> list[None]:
        self._writer.write(conn, group)
        return [None] * len(group)

    # --- silence --------------------------------------------------------------------------------

    def sweep_silence(self, now_us: int | None = None) -> list[IngestResult]:
        """Tell each car's detector that time passed without samples up to ``now_us`` (default:
        the clock's now), and store what that concluded: drives and charges that stopped for
        good, cars gone offline. Call it every minute or so; the first call also loads the cars
        not seen since the service started."""
        now_us = self._now_us() if now_us is None else now_us
        if not self._all_loaded:
            with self.db.connect() as conn:
                known = conn.execute(select(t.telemetry_cursor.c.car_id)).scalars().all()
            for car_id in known:
                with self._lock(car_id):
                    self._load(car_id)
            self._all_loaded = True
        results = []
        for car_id in list(self._cars):
            try:
                with self._lock(car_id):
                    result = self._locked(car_id, partial(self._silence, car_id, now_us=now_us))
            except TelemetryStoreError as exc:
                log.warning("cannot store what the silence of %s concluded: %s", car_id, exc)
                continue
            if result is not None:
                self._publish(result)
                results.append(result)
        return results

    def flush(self) -> None:
        """Store every car's pending rollups and detector snapshot now (at shutdown, or before
        reading buckets that must hold the newest minute); nothing is lost without it."""
        for car_id in list(self._cars):
            with self._lock(car_id):
                self._locked(car_id, partial(self._flush, car_id))

    def _flush(self, car_id: str, car: CarMemory) -> tuple[Batch, IngestResult] | None:
        if not car.has_cursor or not car.pending:
            return None
        batch = self._batch(car_id, car, car.last_seq, car.last_ts_us, [], flush=True)
        return batch, IngestResult(car_id, self._now_us(), 0, car.last_seq, {}, (), (), (), ())

    def _silence(
        self, car_id: str, car: CarMemory, *, now_us: int
    ) -> tuple[Batch, IngestResult] | None:
        # A car still sending is left alone: its own samples conclude what it did, and a sweep
        # between two batches of one moment would decide that moment before it is complete.
        if not car.has_cursor or now_us - car.last_ts_us < SILENT_AFTER_S * 1_000_000:
            return None
        events = car.detector.on_silence(now_us)
        if not events and not car.pending:
            return None
        batch = self._batch(car_id, car, car.last_seq, car.last_ts_us, events, flush=True)
        result = IngestResult(car_id, now_us, 0, car.last_seq, {}, tuple(events), (), (), ())
        return batch, result

    # --- cars in memory -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, car_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.get(car_id)
            if lock is None:
                lock = self._locks[car_id] = threading.Lock()
        with lock:
            yield

    def _load(self, car_id: str) -> CarMemory:
        """The car from memory, else from the database (call holding the car's lock)."""
        car = self._cars.get(car_id)
        if car is not None:
            return car
        try:
            with self.db.connect() as conn:
                car = read_car(conn, car_id)
        except SQLAlchemyError as exc:
            raise TelemetryStoreError(f"cannot read telemetry state of {car_id}: {exc}") from exc
        self._cars[car_id] = car
        return car

    def _now_us(self) -> int:
        return int(self._clock.timestamp() * 1_000_000)

    # --- reading (tests, tools) ----------------------------------------------------------------

    def count(self, car_id: str) -> int:
        with self.db.connect() as conn:
            n = conn.execute(
                select(func.count())
                .select_from(t.telemetry_sample)
                .where(t.telemetry_sample.c.car_id == car_id)
            ).scalar_one()
        return int(n)

    def samples(self, car_id: str, after_seq: int = 0, limit: int = 1000) -> list[StoredSample]:
        s = t.telemetry_sample.c
        with self.db.connect() as conn:
            rows = conn.execute(
                select(s.seq, s.ts_us, s.path, s.value, s.kind)
                .where(s.car_id == car_id, s.seq > after_seq)
                .order_by(s.seq)
                .limit(limit)
            ).all()
        return [
            StoredSample(car_id, r.seq, r.ts_us, r.path, decode_value(r.value), r.kind)
            for r in rows
        ]

    def close(self) -> None:
        """Nothing to release: the database belongs to whoever opened it."""


async def sweep_silence_forever(
    store: SqlTelemetryStore, clock: Clock, every_s: float = SWEEP_EVERY_S
) -> None:
    """Run :meth:`SqlTelemetryStore.sweep_silence` every ``every_s`` seconds of the clock, in a
    worker thread, until cancelled."""
    while True:
        await clock.sleep(every_s)
        try:
            await asyncio.to_thread(store.sweep_silence)
        except TelemetryStoreError as exc:
            log.warning("silence sweep failed: %s", exc)
