"""Drives, charging sessions, states, vampire drain and battery health over HTTP, on both
databases: a simulated car drives a cycle and charges at a priced geofence, its telemetry is
stored in batches as the link would deliver it, and the API shows one drive and one charge whose
distance and energy match the simulator's, with cost and place; roles and strangers see only
what they may."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from smartev.cloud import schema as t
from smartev.cloud.telemetry import SqlTelemetryStore
from smartev.core.clock import SimClock
from smartev.link import Sample
from smartev.sim.car import SimulatedCar
from smartev.sim.cycles import builtin_cycle
from smartev.sim.spec import load_vehicle
from smartev.sim_provider import state_to_vss
from tests.cloud.car_helpers import CAR, OTHER_CAR, Person, give_role, person, put_car
from tests.cloud.server import START, RunningCloud, running_cloud

S = 1_000_000
BATTERY = "Vehicle.Powertrain.TractionBattery"
HEARTBEAT_S = 60
BATCH = 500  # the uplink's batch size
MUNICH = (48.137, 11.575)
OFFICE_PRICE = {"price_per_kwh": 0.40, "session_fee": 1.50}


@dataclass
class Trip:
    """What the simulator says happened."""

    distance_km: float
    drive_energy_kwh: float
    charged_kwh: float
    end_lat: float
    end_lon: float
    end_us: int


class CarTelemetry:
    """The simulated car's signals, sent on change and every minute, in uplink-sized batches."""

    def __init__(self, store: SqlTelemetryStore, car: SimulatedCar) -> None:
        self.store, self.car = store, car
        capacity = round(car.spec.battery_kwh)
        self.fixed = {f"{BATTERY}.NetCapacity": capacity, f"{BATTERY}.GrossCapacity": capacity}
        self.sent: dict[str, object] = {}
        self.pending: list[Sample] = []
        self.seq = 0
        self.seconds = 0

    def tick(self, seconds: int = 1) -> None:
        for _ in range(seconds):
            state = self.car.tick(1.0)
            self.seconds += 1
            ts_us = round(state.time.timestamp() * S)
            values = {**state_to_vss(state), **self.fixed}
            heartbeat = self.seconds % HEARTBEAT_S == 0
            for path, value in values.items():
                if heartbeat or self.sent.get(path) != value:
                    self.seq += 1
                    self.pending.append(Sample(self.seq, ts_us, path, value))  # type: ignore[arg-type]
                    self.sent[path] = value
            if len(self.pending) >= BATCH:
                self.flush()

    def flush(self) -> None:
        if self.pending:
            self.store.store(CAR, self.pending)
            self.pending = []


def simulate(cloud: RunningCloud, store: SqlTelemetryStore, owner: Person) -> Trip:
    car = SimulatedCar(
        load_vehicle("xiaomi-su7"),
        clock=SimClock(START),
        start_lat=MUNICH[0],
        start_lon=MUNICH[1],
        soc=0.5,
    )
    feed = CarTelemetry(store, car)
    feed.tick(120)  # parked at home
    odometer_m, meters = car.state.odometer_m, car.meters
    car.drive(builtin_cycle("udds"))
    while car.state.activity == "driving":
        feed.tick()
    distance_km = (car.state.odometer_m - odometer_m) / 1000
    drive_energy_kwh = car.meters.battery_kwh - meters.battery_kwh
    feed.tick(600)  # parked at the office, which has a priced charger
    with cloud.ctx.db.begin() as db:
        db.execute(
            insert(t.geofence).values(
                id=t.new_id("geo"),
                household_id=owner.household_id,
                name="Office",
                lat=car.state.lat,
                lon=car.state.lon,
                radius_m=150.0,
                currency="EUR",
                price_per_minute=0.0,
                **OFFICE_PRICE,
            )
        )
    charged = car.meters.charged_kwh
    car.plug_in("dc", 60.0)
    feed.tick(15 * 60)
    car.unplug()
    charged_kwh = car.meters.charged_kwh - charged
    feed.tick(15 * 60)
    feed.flush()
    end_us = round(car.state.time.timestamp() * S)
    cloud.clock.advance((end_us - round(START.timestamp() * S)) / S + 20 * 60)
    store.sweep_silence()  # 20 minutes of silence: the car is offline, all has ended
    return Trip(distance_km, drive_energy_kwh, charged_kwh, car.state.lat, car.state.lon, end_us)


@dataclass
class World:
    cloud: RunningCloud
    owner: Person
    trip: Trip


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    with running_cloud(db_url, tmp_path) as cloud:
        owner = person(cloud, "owner@example.com")
        put_car(cloud, owner)
        store = SqlTelemetryStore(cloud.ctx.db, clock=cloud.clock)
        yield World(cloud, owner, simulate(cloud, store, owner))


def get(cloud: RunningCloud, token: str, url: str, **params: Any) -> tuple[int, Any]:
    with cloud.client(token) as c:
        r = c.get(url, params=params)
    return r.status_code, r.json()


def test_a_simulated_day_gives_one_drive_and_one_priced_charge(world: World) -> None:
    cloud, owner, trip = world.cloud, world.owner, world.trip
    base = f"/api/v1/cars/{CAR}"
    code, body = get(cloud, owner.token, f"{base}/drives")
    assert code == 200
    [drive] = body["drives"]
    assert drive["distance_km"] == pytest.approx(trip.distance_km, rel=0.01)
    assert drive["energy_used_kwh"] == pytest.approx(trip.drive_energy_kwh, rel=0.1)
    assert drive["start_place"] is None  # home has no geofence
    assert drive["end_place"] == "Office"
    assert drive["soc_start"] > drive["soc_end"]
    assert drive["speed_max_kmh"] == pytest.approx(91.2, abs=1.0)  # the UDDS's top speed

    code, detail = get(cloud, owner.token, f"{base}/drives/{drive['id']}")
    assert code == 200
    series = {s["path"]: s for s in detail["series"]}
    assert set(series) == {
        "Vehicle.Speed",
        f"{BATTERY}.CurrentPower",
        f"{BATTERY}.StateOfCharge.Current",
        "Vehicle.CurrentLocation.Latitude",
        "Vehicle.CurrentLocation.Longitude",
    }
    speed = series["Vehicle.Speed"]
    assert speed["resolution"] == "raw"
    assert max(p["value"] for p in speed["points"]) == pytest.approx(91.2, abs=1.0)

    code, body = get(cloud, owner.token, f"{base}/charges")
    assert code == 200
    [charge] = body["charges"]
    assert charge["kind"] == "DC"
    assert charge["place"] == "Office"
    assert charge["energy_added_kwh"] == pytest.approx(trip.charged_kwh, rel=0.02)
    price = OFFICE_PRICE["session_fee"] + OFFICE_PRICE["price_per_kwh"] * charge["energy_added_kwh"]
    assert charge["cost"] == pytest.approx(price, abs=0.006)
    assert charge["currency"] == "EUR"
    assert charge["duration_s"] == pytest.approx(15 * 60, abs=2)
    code, detail = get(cloud, owner.token, f"{base}/charges/{charge['id']}")
    assert code == 200
    assert {s["path"] for s in detail["series"]} == {
        f"{BATTERY}.Charging.AveragePower",
        f"{BATTERY}.StateOfCharge.Current",
    }

    code, body = get(cloud, owner.token, f"{base}/states")
    assert code == 200
    states = [s["state"] for s in body["states"]]
    assert states[:4] == ["parked", "driving", "parked", "charging"]
    assert states[-1] == "offline"
    assert body["states"][-1]["end"] is None
    assert [s["end"] for s in body["states"][:-1]] == [s["start"] for s in body["states"][1:]]

    code, drain = get(cloud, owner.token, f"{base}/vampire-drain")
    assert code == 200
    assert drain["capacity_kwh"] == round(load_vehicle("xiaomi-su7").battery_kwh)
    code, health = get(cloud, owner.token, f"{base}/battery-health")
    assert code == 200
    assert health["rated_capacity_kwh"] == drain["capacity_kwh"]
    if charge["capacity_estimate_kwh"] is not None:
        assert health["capacity_kwh"] == pytest.approx(charge["capacity_estimate_kwh"])


def test_windows_and_limits(world: World) -> None:
    cloud, owner, trip = world.cloud, world.owner, world.trip
    base = f"/api/v1/cars/{CAR}"
    after = "2026-06-02T00:00:00Z"
    assert get(cloud, owner.token, f"{base}/drives", start=after)[1]["drives"] == []
    assert len(get(cloud, owner.token, f"{base}/drives", end=after)[1]["drives"]) == 1
    assert len(get(cloud, owner.token, f"{base}/states", limit=2)[1]["states"]) == 2
    assert (
        get(cloud, owner.token, f"{base}/drives", start=after, end="2026-06-01T00:00:00Z")[0] == 422
    )
    assert get(cloud, owner.token, f"{base}/drives", limit=0)[0] == 422
    assert get(cloud, owner.token, f"{base}/charges", limit=501)[0] == 422
    assert get(cloud, owner.token, f"{base}/drives/drv_nope")[0] == 404
    assert get(cloud, owner.token, f"{base}/charges/chg_nope")[0] == 404
    assert get(cloud, owner.token, f"{base}/drives/not%20an%20id")[0] == 422
    code, body = get(
        cloud, owner.token, f"{base}/vampire-drain", start="2000-01-01T00:00:00Z", end=after
    )
    assert code == 422
    assert "at most 400 days" in str(body)
    # A car without a rated capacity set uses what it reports; one set wins.
    with cloud.ctx.db.begin() as db:
        db.execute(update(t.car).where(t.car.c.id == CAR).values(rated_capacity_kwh=120.0))
    assert get(cloud, owner.token, f"{base}/battery-health")[1]["rated_capacity_kwh"] == 120.0
    assert trip.end_us > 0


def test_roles_and_strangers(world: World) -> None:
    cloud, owner = world.cloud, world.owner
    manager = person(cloud, "manager@example.com")
    guest = person(cloud, "guest@example.com")
    stranger = person(cloud, "stranger@example.com")
    give_role(cloud, owner, manager, "charging_manager")
    give_role(cloud, owner, guest, "guest")
    put_car(cloud, stranger, OTHER_CAR)
    base = f"/api/v1/cars/{CAR}"
    drive_id = get(cloud, owner.token, f"{base}/drives")[1]["drives"][0]["id"]
    charge_id = get(cloud, owner.token, f"{base}/charges")[1]["charges"][0]["id"]

    # A charging manager sees charges, without where they happened, and no drives.
    code, body = get(cloud, manager.token, f"{base}/charges")
    assert code == 200
    [charge] = body["charges"]
    assert (charge["lat"], charge["lon"], charge["place"]) == (None, None, None)
    assert charge["cost"] is not None
    code, detail = get(cloud, manager.token, f"{base}/charges/{charge_id}")
    assert code == 200
    assert len(detail["series"]) == 2  # power and SoC: battery signals, which it may see
    assert get(cloud, manager.token, f"{base}/drives")[0] == 403
    assert get(cloud, manager.token, f"{base}/states")[0] == 403
    assert get(cloud, manager.token, f"{base}/battery-health")[0] == 200
    # A guest: none of it.
    for path in ("drives", "charges", "states", "vampire-drain", "battery-health"):
        assert get(cloud, guest.token, f"{base}/{path}")[0] == 403, path
    # A stranger: the car does not exist; nor does the drive under the stranger's own car.
    for path in ("drives", f"drives/{drive_id}", "charges", f"charges/{charge_id}", "states"):
        assert get(cloud, stranger.token, f"{base}/{path}")[0] == 404, path
    other = f"/api/v1/cars/{OTHER_CAR}"
    assert get(cloud, stranger.token, f"{other}/drives/{drive_id}")[0] == 404
    assert get(cloud, stranger.token, f"{other}/charges/{charge_id}")[0] == 404
    assert get(cloud, stranger.token, f"{other}/drives")[1]["drives"] == []
