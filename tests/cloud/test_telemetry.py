"""Telemetry ingest on both databases: each sample once, the newest value only if newer, rollups
equal to the aggregate of the raw samples, drives and states derived in the same transaction,
and a store that starts afresh (or shares the database with another) carrying on correctly."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from smartev.cloud import schema as t
from smartev.cloud.db import Database
from smartev.cloud.rollup import RESOLUTIONS_S, bucket_start_us, numeric
from smartev.cloud.session_records import DriveEnded, VehicleState
from smartev.cloud.telemetry import IngestResult, SqlTelemetryStore, decode_value
from smartev.core.clock import SimClock
from smartev.link import Sample

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
S = 1_000_000
T0 = int(START.timestamp()) * S
CAR = "LSJWH4097PN000001"
SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"
MOVING = "Vehicle.IsMoving"
BRAND = "Vehicle.VehicleIdentification.Brand"
_cars = itertools.count()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.close()


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def store(db: Database, clock: SimClock) -> SqlTelemetryStore:
    return SqlTelemetryStore(db, clock=clock)


def samples(first_seq: int, rows: Sequence[tuple[float, str, object]]) -> list[Sample]:
    """Samples numbered from ``first_seq``: (seconds after T0, path, value)."""
    return [
        Sample(first_seq + i, T0 + round(s * S), path, value)  # type: ignore[arg-type]
        for i, (s, path, value) in enumerate(rows)
    ]


def stored_seqs(db: Database, car_id: str) -> list[int]:
    with db.connect() as c:
        rows = c.execute(
            select(t.telemetry_sample.c.seq)
            .where(t.telemetry_sample.c.car_id == car_id)
            .order_by(t.telemetry_sample.c.seq)
        )
        return [r.seq for r in rows]


def rollups(db: Database, car_id: str) -> dict[tuple[str, int, int], tuple[float, ...]]:
    r = t.signal_rollup.c
    with db.connect() as c:
        rows = c.execute(select(t.signal_rollup).where(r.car_id == car_id)).all()
    return {
        (x.path, x.resolution_s, x.bucket_us): (x.n, x.total, x.low, x.high, x.last, x.last_ts_us)
        for x in rows
    }


def brute_force(stored: Sequence[Sample]) -> dict[tuple[str, int, int], tuple[float, ...]]:
    """The buckets by definition: every numeric sample, the last by (time, seq)."""
    groups: dict[tuple[str, int, int], list[Sample]] = {}
    for s in stored:
        if numeric(s.value) is None:
            continue
        for res in RESOLUTIONS_S:
            groups.setdefault((s.path, res, bucket_start_us(s.ts_us, res)), []).append(s)
    out = {}
    for key, group in groups.items():
        xs = [numeric(s.value) or 0.0 for s in group]
        last = max(group, key=lambda s: (s.ts_us, s.seq))
        out[key] = (len(xs), sum(xs), min(xs), max(xs), numeric(last.value), last.ts_us)
    return out


def assert_rollups_match(store: SqlTelemetryStore, car_id: str, stored: Sequence[Sample]) -> None:
    store.flush()  # the newest minute waits in memory for the next one
    got, want = rollups(store.db, car_id), brute_force(stored)
    assert got.keys() == want.keys()
    for key, (n, total, low, high, last, last_ts) in want.items():
        assert got[key] == (n, pytest.approx(total), low, high, last, last_ts), key


# --- each sample once ----------------------------------------------------------------------------


def test_the_same_batch_twice_is_stored_once(db: Database, store: SqlTelemetryStore) -> None:
    batch = samples(1, [(0, SPEED, 10.0), (0, SOC, 80.0), (1, SPEED, 12.5), (1, MOVING, True)])
    assert store.store(CAR, batch) == 4
    assert store.store(CAR, batch) == 4
    assert stored_seqs(db, CAR) == [1, 2, 3, 4]
    assert_rollups_match(store, CAR, batch)
    with db.connect() as c:  # the car's row exists, made by its first batch
        assert c.execute(select(t.car.c.name).where(t.car.c.id == CAR)).scalar() == CAR


def test_overlapping_batches_store_each_sample_once(db: Database, store: SqlTelemetryStore) -> None:
    every = samples(1, [(i, SPEED, float(i)) for i in range(15)])
    assert store.store(CAR, every[0:10]) == 10
    assert store.store(CAR, every[4:15]) == 15
    assert store.store(CAR, every[2:6]) == 15  # old, resent: nothing new
    assert stored_seqs(db, CAR) == list(range(1, 16))
    assert store.count(CAR) == 15
    assert [s.value for s in store.samples(CAR, after_seq=12)] == [12.0, 13.0, 14.0]
    assert_rollups_match(store, CAR, every)


def test_a_fresh_store_resumes_from_the_database(db: Database, clock: SimClock) -> None:
    first = SqlTelemetryStore(db, clock=clock)
    batch = samples(1, [(0, SPEED, 1.0), (1, SPEED, 2.0)])
    first.store(CAR, batch)
    second = SqlTelemetryStore(db, clock=clock)
    assert second.last_seq(CAR) == 2
    assert second.store(CAR, [*batch, *samples(3, [(2, SPEED, 3.0)])]) == 3
    assert stored_seqs(db, CAR) == [1, 2, 3]


def test_rollups_wait_for_the_next_minute_and_survive_a_restart(
    db: Database, clock: SimClock
) -> None:
    first = SqlTelemetryStore(db, clock=clock)
    air = "Vehicle.Exterior.AirTemperature"  # a signal the session detector does not read
    every = samples(1, [(i * 10, air, float(i)) for i in range(15)])  # 2.5 minutes
    for i in range(6):  # the first minute, a sample a batch
        first.store(CAR, every[i : i + 1])
    minute = T0 - T0 % (60 * S)
    # Stored so far: the car's first batch (a new car is checkpointed) and the second (the
    # detector's first decision, parked); the rest of the minute waits in memory.
    assert rollups(db, CAR)[(air, 60, minute)] == (2, 1.0, 0.0, 1.0, 1.0, T0 + 10 * S)
    first.store(CAR, every[6:8])  # minute 2 began: minute 1 is stored whole
    assert rollups(db, CAR)[(air, 60, minute)][:2] == (6, 15.0)
    first.store(CAR, every[8:10])
    # The process dies with minute 2 in memory; the next one rebuilds it from the samples.
    second = SqlTelemetryStore(db, clock=clock)
    second.store(CAR, every[10:15])
    assert_rollups_match(second, CAR, every)


def test_two_stores_on_one_database_never_double_count(db: Database, clock: SimClock) -> None:
    """Two gateways (processes) that both handled the car: the one with a stale idea of the
    cursor notices, reloads, and stores only what is new."""
    a, b = SqlTelemetryStore(db, clock=clock), SqlTelemetryStore(db, clock=clock)
    every = samples(1, [(i, SPEED, float(i % 7)) for i in range(30)])
    a.store(CAR, every[:10])
    b.store(CAR, every[:20])
    assert a.store(CAR, every[5:30]) == 30
    assert stored_seqs(db, CAR) == list(range(1, 31))
    b.flush()  # its idea of the car is stale: it reloads, and has nothing of its own to add
    assert_rollups_match(a, CAR, every)


def test_batches_stored_at_once_from_many_threads_are_each_written_once(
    db: Database, clock: SimClock
) -> None:
    """Concurrent batches of different cars share transactions (group commit); one of the cars
    has a cursor another store moved, so its group fails and each batch is written on its own."""
    store, other = SqlTelemetryStore(db, clock=clock), SqlTelemetryStore(db, clock=clock)
    cars = [f"CAR{i}" for i in range(12)]
    every = samples(1, [(i // 3, (SPEED, SOC, GEAR)[i % 3], float(i % 17)) for i in range(60)])
    store.store(cars[0], every[:6])
    other.store(cars[0], every[:9])  # store's idea of cars[0] is now stale

    def send(car_id: str) -> None:
        for i in range(0, len(every), 6):
            store.store(car_id, every[max(0, i - 2) : i + 6])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, cars))
    other.flush()
    for car_id in cars:
        assert stored_seqs(db, car_id) == list(range(1, 61)), car_id
        assert_rollups_match(store, car_id, every)


# --- the newest value ----------------------------------------------------------------------------


def latest(db: Database, car_id: str) -> dict[str, tuple[int, object]]:
    s = t.signal_latest.c
    with db.connect() as c:
        rows = c.execute(select(s.path, s.ts_us, s.value).where(s.car_id == car_id))
        return {r.path: (r.ts_us, decode_value(r.value)) for r in rows}


def test_the_newest_value_is_replaced_only_by_a_newer_sample(
    db: Database, store: SqlTelemetryStore
) -> None:
    seen: list[IngestResult] = []
    store.subscribe(seen.append)
    store.store(CAR, samples(1, [(10, SPEED, 50.0), (10, BRAND, "Xiaomi")]))
    # A later seq with an older time (the car's clock stepped back): kept, not the newest.
    store.store(CAR, samples(3, [(5, SPEED, 20.0)]))
    assert latest(db, CAR)[SPEED] == (T0 + 10 * S, 50.0)
    assert seen[-1].latest == {}
    # The same time again, sent later: the later one wins.
    store.store(CAR, samples(4, [(10, SPEED, 51.0), (11, GEAR, 127), (12, SOC, (1, 2))]))
    assert latest(db, CAR) == {
        SPEED: (T0 + 10 * S, 51.0),
        BRAND: (T0 + 10 * S, "Xiaomi"),
        GEAR: (T0 + 11 * S, 127),
        SOC: (T0 + 12 * S, (1, 2)),
    }
    assert seen[-1].latest == {
        SPEED: (T0 + 10 * S, 51.0),
        GEAR: (T0 + 11 * S, 127),
        SOC: (T0 + 12 * S, (1, 2)),
    }
    assert [r.stored for r in seen] == [2, 1, 3]


def test_a_failing_listener_does_not_fail_the_store(store: SqlTelemetryStore) -> None:
    def broken(_: IngestResult) -> None:
        raise RuntimeError("listener bug")

    got: list[IngestResult] = []
    store.subscribe(broken)
    unsubscribe = store.subscribe(got.append)
    assert store.store(CAR, samples(1, [(0, SPEED, 1.0)])) == 1
    unsubscribe()
    store.store(CAR, samples(2, [(1, SPEED, 1.0)]))
    assert len(got) == 1


# --- rollups -------------------------------------------------------------------------------------

values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-1000, 1000),
    st.booleans(),
    st.sampled_from(["P", "D"]),
)
rows = st.lists(
    st.tuples(
        st.integers(0, 3 * 3600),  # seconds after T0: a few hours, several hour buckets
        st.sampled_from((SPEED, SOC, GEAR)),
        values,
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows, cuts=st.lists(st.integers(0, 40), max_size=6), overlap=st.integers(0, 5))
def test_rollups_equal_the_aggregate_of_the_raw_samples(
    db: Database,
    store: SqlTelemetryStore,
    rows: list[tuple[int, str, object]],
    cuts: list[int],
    overlap: int,
) -> None:
    car_id = f"CAR{next(_cars)}"
    every = samples(1, rows)
    bounds = sorted({0, len(every), *(c for c in cuts if c < len(every))})
    for lo, hi in itertools.pairwise(bounds):
        store.store(car_id, every[max(0, lo - overlap) : hi])  # resends the end of the last
    assert stored_seqs(db, car_id) == list(range(1, len(every) + 1))
    assert_rollups_match(store, car_id, every)


# --- derived rows --------------------------------------------------------------------------------


def drive_rows(seconds: int, first_seq: int = 1) -> list[Sample]:
    """A car that stands a minute, drives at 36 km/h for ``seconds``, then stands."""
    out: list[tuple[float, str, object]] = [(0, SPEED, 0.0), (0, SOC, 80.0)]
    for i in range(1, seconds + 1):
        out.append((60 + i, SPEED, 36.0))
    out.append((61 + seconds, SPEED, 0.0))
    out.append((62 + seconds, SOC, 79.0))
    return samples(first_seq, out)


def test_a_drive_and_the_states_are_written_as_they_are_detected(
    db: Database, store: SqlTelemetryStore
) -> None:
    seen: list[IngestResult] = []
    store.subscribe(seen.append)
    batch = drive_rows(120)
    for i in range(0, len(batch), 10):
        store.store(CAR, batch[i : i + 10])
    assert not any(r.drives for r in seen)  # not ended: it may go on after a traffic light
    # 10 minutes later, still no sample: the drive ended where the car stopped.
    results = store.sweep_silence(T0 + 20 * 60 * S)
    drives = [d for r in results for d in r.drives]
    assert len(drives) == 1
    assert drives[0].distance_km == pytest.approx(1.2, rel=0.02)
    assert any(isinstance(e, DriveEnded) for r in results for e in r.events)
    with db.connect() as c:
        assert c.execute(select(func.count()).select_from(t.drive)).scalar() == 1
        states = c.execute(
            select(t.state_interval.c.state, t.state_interval.c.end_us).order_by(
                t.state_interval.c.start_us
            )
        ).all()
    assert [s.state for s in states] == ["parked", "driving", "parked", "offline"]
    assert [s.end_us is None for s in states] == [False, False, False, True]
    assert store.sweep_silence(T0 + 30 * 60 * S) == []  # nothing more to conclude


def test_a_restarted_store_carries_on_a_drive_in_progress(db: Database, clock: SimClock) -> None:
    """The detector snapshot is not written with every batch: a new store replays what came
    after it, and the drive still comes out whole."""
    batch = drive_rows(300)
    first = SqlTelemetryStore(db, clock=clock)
    for i in range(0, 200, 10):
        first.store(CAR, batch[i : i + 10])
    with db.connect() as c:
        snapshot = json.loads(c.execute(select(t.telemetry_cursor.c.detector)).scalar_one())
    assert snapshot["seq"] < 200  # written at the start of the drive, not since
    second = SqlTelemetryStore(db, clock=clock)
    for i in range(200, len(batch), 10):
        second.store(CAR, batch[i : i + 10])
    drives = [d for r in second.sweep_silence(T0 + 30 * 60 * S) for d in r.drives]
    assert len(drives) == 1
    assert drives[0].distance_km == pytest.approx(3.0, rel=0.02)
    assert drives[0].soc_start == 80.0


def test_a_broken_snapshot_starts_the_detector_afresh(db: Database, clock: SimClock) -> None:
    SqlTelemetryStore(db, clock=clock).store(CAR, samples(1, [(0, SPEED, 0.0)]))
    with db.begin() as c:
        c.execute(update(t.telemetry_cursor).values(detector='{"seq": 1, "detector": {}}'))
    fresh = SqlTelemetryStore(db, clock=clock)
    assert fresh.store(CAR, samples(2, [(1, SPEED, 0.0), (2, SPEED, 0.0)])) == 3
    with db.connect() as c:
        states = c.execute(select(t.state_interval.c.state)).scalars().all()
    assert VehicleState.PARKED in states
