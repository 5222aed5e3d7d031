"""Reading signals back, on both databases: the resolution ``auto`` picks and the limits (in the
history module and over HTTP), downsampled buckets equal to the raw samples' aggregate, the live
state's staleness and online rule, and what each role may see."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud import history
from smartev.cloud.db import Database
from smartev.cloud.history import Resolution
from smartev.cloud.telemetry import SqlTelemetryStore
from smartev.core.clock import SimClock
from smartev.core.errors import InvalidInputError
from smartev.link import Sample
from tests.cloud.car_helpers import (
    CAR,
    OTHER_CAR,
    LinkedCar,
    give_role,
    make_gateway,
    person,
    put_car,
)
from tests.cloud.server import START, RunningCloud, running_cloud

S = 1_000_000
H = 3600 * S
DAY = 24 * H
T0 = int(START.timestamp()) * S
BATTERY = "Vehicle.Powertrain.TractionBattery"
SPEED, SOC = "Vehicle.Speed", f"{BATTERY}.StateOfCharge.Current"
LIMIT = f"{BATTERY}.Charging.ChargeLimit"  # a setting: sent on change only
CHARGING = f"{BATTERY}.Charging.IsCharging"  # a state: heartbeat 300 s
LAT = "Vehicle.CurrentLocation.Latitude"
BRAND = "Vehicle.VehicleIdentification.Brand"
GEAR_TEXT = "Vehicle.Powertrain.Transmission.DriveType"  # a string signal


class Feeder:
    """Sends a car's samples through the store, numbering them."""

    def __init__(self, store: SqlTelemetryStore, car_id: str = CAR) -> None:
        self.store, self.car_id, self.seq = store, car_id, 0

    def send(self, rows: list[tuple[int, str, object]], batch: int = 500) -> None:
        out = []
        for ts_us, path, value in rows:
            self.seq += 1
            out.append(Sample(self.seq, ts_us, path, value))  # type: ignore[arg-type]
        for i in range(0, len(out), batch):
            self.store.store(self.car_id, out[i : i + batch])
        self.store.flush()  # the newest minute's buckets too


# --- the history module --------------------------------------------------------------------------


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.close()


@pytest.fixture
def feeder(db: Database) -> Feeder:
    return Feeder(SqlTelemetryStore(db, clock=SimClock(START)))


def test_auto_picks_raw_then_minutes_then_hours(db: Database, feeder: Feeder) -> None:
    # SoC every 10 minutes for 40 days.
    feeder.send([(T0 + i * 600 * S, SOC, 50.0 + i % 30) for i in range(40 * 144)])
    with db.connect() as c:

        def used(span_us: int) -> Resolution:
            return history.series(c, CAR, SOC, T0, T0 + span_us).resolution

        assert used(6 * H) is Resolution.RAW
        assert used(2 * DAY) is Resolution.MINUTE
        assert used(10_000 * 60 * S) is Resolution.MINUTE
        assert used(7 * DAY) is Resolution.HOUR  # 10,080 minutes: more than fit
        assert used(40 * DAY) is Resolution.HOUR
        week = history.series(c, CAR, SOC, T0 + 33 * DAY, T0 + 40 * DAY)
    # "SoC over the last week" is 168 hourly rows, each the aggregate of its six samples.
    assert len(week.buckets) == 168
    first = week.buckets[0]
    want = [50.0 + i % 30 for i in range(33 * 144, 33 * 144 + 6)]
    assert first.ts_us == T0 + 33 * DAY
    assert (first.n, first.low, first.high, first.last) == (6, min(want), max(want), want[-1])
    assert first.avg == pytest.approx(sum(want) / 6)


def test_raw_falls_back_to_minutes_when_there_are_too_many_samples(
    db: Database, feeder: Feeder
) -> None:
    feeder.send([(T0 + i * S, SPEED, float(i % 100)) for i in range(history.MAX_POINTS + 1)])
    with db.connect() as c:
        assert history.series(c, CAR, SPEED, T0, T0 + 6 * H).resolution is Resolution.MINUTE
        with pytest.raises(InvalidInputError, match="use resolution=1m"):
            history.series(c, CAR, SPEED, T0, T0 + 6 * H, Resolution.RAW)
        minutes = history.series(c, CAR, SPEED, T0, T0 + 6 * H, Resolution.MINUTE)
    assert sum(b.n for b in minutes.buckets) == history.MAX_POINTS + 1


def test_limits_say_what_to_change(db: Database, feeder: Feeder) -> None:
    feeder.send([(T0, GEAR_TEXT, "electric"), (T0 + S, SPEED, 1.0)])
    with db.connect() as c:
        with pytest.raises(InvalidInputError, match="end must be after start"):
            history.series(c, CAR, SPEED, T0, T0)
        with pytest.raises(InvalidInputError, match="at most 400 days"):
            history.series(c, CAR, SPEED, T0, T0 + 401 * DAY)
        with pytest.raises(InvalidInputError, match="use resolution=1h"):
            history.series(c, CAR, SPEED, T0, T0 + 10 * DAY, Resolution.MINUTE)
        with pytest.raises(InvalidInputError, match="not numeric"):
            history.series(c, CAR, GEAR_TEXT, T0, T0 + H, Resolution.HOUR)
        text = history.series(c, CAR, GEAR_TEXT, T0, T0 + 30 * DAY)  # auto: raw, it fits
        hours = history.series(c, CAR, SPEED, T0, T0 + 400 * DAY, Resolution.HOUR)
    assert [p.value for p in text.points] == ["electric"]
    assert [(b.n, b.last) for b in hours.buckets] == [(1, 1.0)]


def test_staleness_follows_the_heartbeat_of_the_signal() -> None:
    assert history.stale_after_s(SPEED) == 180  # 3 × the 60 s heartbeat
    assert history.stale_after_s(CHARGING) == 900  # 3 × 300 s
    assert history.stale_after_s(LIMIT) is None  # on change only
    assert not history.is_stale(LIMIT, 10 * 86_400, online=True)
    assert history.is_stale(LIMIT, 0, online=False)
    assert history.is_stale(SPEED, 181, online=True)
    assert not history.is_stale(SPEED, 179, online=True)


# --- over HTTP -----------------------------------------------------------------------------------


def cloud_feeder(cloud: RunningCloud, car_id: str = CAR) -> Feeder:
    return Feeder(SqlTelemetryStore(cloud.ctx.db, clock=cloud.clock), car_id)


def get(cloud: RunningCloud, token: str, url: str, **params: Any) -> tuple[int, Any]:
    with cloud.client(token) as c:
        r = c.get(url, params=params)
    return r.status_code, r.json()


def signals_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["path"]: s for s in body["signals"]}


def test_state_shows_age_staleness_and_online(cloud: RunningCloud) -> None:
    owner = person(cloud, "owner@example.com")
    put_car(cloud, owner)
    feed = cloud_feeder(cloud)
    feed.send([(T0, SPEED, 42.5), (T0, LIMIT, 80), (T0, CHARGING, False), (T0, LAT, 48.1)])
    cloud.clock.advance(200)
    feed.send([(T0 + 200 * S, SOC, 61.0)])  # something came just now: the car is online
    code, body = get(cloud, owner.token, f"/api/v1/cars/{CAR}/state")
    assert code == 200
    assert body["online"] is True
    assert body["as_of"] == "2026-06-01T08:03:20Z"
    seen = signals_of(body)
    assert seen[SPEED]["value"] == 42.5
    assert seen[SPEED]["ts"] == "2026-06-01T08:00:00Z"
    assert seen[SPEED]["age_s"] == 200
    assert [seen[p]["stale"] for p in (SPEED, LIMIT, CHARGING, SOC)] == [
        True,  # older than 180 s
        False,  # sent on change only
        False,  # 900 s allowed
        False,
    ]
    # Two minutes of silence and no link session: offline, and every value is stale.
    cloud.clock.advance(121)
    code, body = get(cloud, owner.token, f"/api/v1/cars/{CAR}/state", paths=f"{BATTERY}.**")
    assert code == 200
    assert body["online"] is False
    assert set(signals_of(body)) == {SOC, LIMIT, CHARGING}
    assert all(s["stale"] for s in body["signals"])
    code, body = get(cloud, owner.token, f"/api/v1/cars/{CAR}/state", paths="Vehicle..Speed")
    assert code == 422


async def test_a_connected_car_is_online(db_url: str, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        owner = person(cloud, "owner@example.com")
        put_car(cloud, owner)
        cloud_feeder(cloud).send([(T0, SPEED, 1.0)])
        cloud.clock.advance(3600)
        url = f"/api/v1/cars/{CAR}/state"
        assert (await asyncio.to_thread(get, cloud, owner.token, url))[1]["online"] is False
        car = LinkedCar(cloud, tmp_path, key)
        await car.start()
        try:
            body = (await asyncio.to_thread(get, cloud, owner.token, url))[1]
        finally:
            await car.stop()
        assert body["online"] is True
        assert signals_of(body)[SPEED]["stale"] is True  # an hour old while online


def test_each_role_sees_what_it_may(cloud: RunningCloud) -> None:
    owner = person(cloud, "owner@example.com")
    manager = person(cloud, "manager@example.com")
    guest = person(cloud, "guest@example.com")
    stranger = person(cloud, "stranger@example.com")
    put_car(cloud, owner)
    put_car(cloud, stranger, OTHER_CAR)
    give_role(cloud, owner, manager, "charging_manager")
    give_role(cloud, owner, guest, "guest")
    cloud_feeder(cloud).send(
        [(T0, SPEED, 10.0), (T0, SOC, 70.0), (T0, LAT, 48.1), (T0, BRAND, "Xiaomi")]
    )
    state = f"/api/v1/cars/{CAR}/state"
    assert set(signals_of(get(cloud, owner.token, state)[1])) == {SPEED, SOC, LAT, BRAND}
    assert set(signals_of(get(cloud, manager.token, state)[1])) == {SOC, BRAND}
    assert set(signals_of(get(cloud, guest.token, state)[1])) == {SPEED, SOC, LAT, BRAND}
    assert get(cloud, stranger.token, state)[0] == 404
    hist = f"/api/v1/cars/{CAR}/history"
    start = START.isoformat()
    code, body = get(cloud, guest.token, hist, path=SOC, start=start)
    assert code == 403
    assert "history" in body["detail"]
    assert get(cloud, manager.token, hist, path=SOC, start=start)[0] == 403
    assert get(cloud, stranger.token, hist, path=SOC, start=start)[0] == 404
    assert get(cloud, owner.token, f"/api/v1/cars/{OTHER_CAR}/history", path=SOC)[0] == 404


def test_history_over_http(cloud: RunningCloud) -> None:
    owner = person(cloud, "owner@example.com")
    put_car(cloud, owner)
    # Speed every 30 s for three days, and a text signal.
    cloud_feeder(cloud).send(
        [(T0 + i * 30 * S, SPEED, float(i % 120)) for i in range(3 * 2880)]
        + [(T0 + 3 * DAY, GEAR_TEXT, "electric")]
    )
    cloud.clock.advance(3 * 86_400 + 60)
    url = f"/api/v1/cars/{CAR}/history"

    def at(offset: timedelta) -> str:
        return (START + offset).isoformat().replace("+00:00", "Z")

    code, body = get(
        cloud, owner.token, url, path=SPEED, start=at(timedelta(0)), end=at(timedelta(hours=1))
    )
    assert code == 200
    assert body["resolution"] == "raw"
    assert len(body["points"]) == 120
    assert body["points"][:2] == [
        {"ts": "2026-06-01T08:00:00Z", "value": 0.0},
        {"ts": "2026-06-01T08:00:30Z", "value": 1.0},
    ]
    assert body["buckets"] == []
    code, body = get(
        cloud, owner.token, url, path=SPEED, start=at(timedelta(0)), end=at(timedelta(days=3))
    )
    assert (code, body["resolution"], len(body["buckets"])) == (200, "1m", 3 * 1440)
    assert body["buckets"][0] == {
        "ts": "2026-06-01T08:00:00Z",
        "avg": 0.5,
        "min": 0.0,
        "max": 1.0,
        "last": 1.0,
        "n": 2,
    }
    # Defaults: the last day, auto (minutes).
    code, body = get(cloud, owner.token, url, path=SPEED)
    assert (code, body["resolution"], body["end"]) == (200, "1m", at(timedelta(days=3, seconds=60)))
    code, body = get(cloud, owner.token, url, path=SPEED, resolution="1h", start=at(timedelta(0)))
    assert (code, len(body["buckets"])) == (200, 72)
    # What is refused, and why.
    code, body = get(
        cloud,
        owner.token,
        url,
        path=SPEED,
        start="2000-01-01T00:00:00Z",
        end="2100-01-01T00:00:00Z",
    )
    assert code == 422
    assert "at most 400 days" in str(body)
    code, body = get(cloud, owner.token, url, path=GEAR_TEXT, resolution="1h")
    assert code == 422
    assert "resolution=raw" in str(body)
    code, body = get(
        cloud, owner.token, url, path=SPEED, start=at(timedelta(1)), end=at(timedelta(0))
    )
    assert code == 422
    assert get(cloud, owner.token, url, path="not a path")[0] == 422
    assert get(cloud, owner.token, url, path=SPEED, start="2026-06-01T08:00:00")[0] == 422
    assert get(cloud, owner.token, url, path=SPEED, resolution="5m")[0] == 422
