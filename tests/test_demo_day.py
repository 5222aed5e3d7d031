"""The demo car's day, moved by a test clock: to work in the morning along the Munich route, back
in the evening, plugged into the home's wallbox and charged, the owner's phone with the car."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from smartev.core.clock import SimClock
from smartev.demo_day import (
    AT_PLACE_M,
    DemoDay,
    Leg,
    load_commute,
    remaining_route,
    reverse_route,
)
from smartev.sim.car import SimulatedCar
from smartev.sim.ev_port import WallboxCable
from smartev.sim.geo import distance_between_m
from smartev.sim.home import ChargerState, SimPhone, SimulatedHome, SimWallbox, default_home
from smartev.sim.route import Route, Waypoint
from smartev.sim.spec import VehicleSpec, load_vehicle

BERLIN = ZoneInfo("Europe/Berlin")
MORNING = datetime(2026, 6, 2, 7, 0, tzinfo=BERLIN)  # a Tuesday
COMMUTE = load_commute()
HOME, WORK = COMMUTE.home, COMMUTE.work


@pytest.fixture(scope="module")
def su7() -> VehicleSpec:
    return load_vehicle("xiaomi-su7")


@dataclass
class World:
    clock: SimClock
    car: SimulatedCar
    home: SimulatedHome
    wallbox: SimWallbox
    phone: SimPhone
    day: DemoDay

    def local(self) -> time:
        return self.clock.now().astimezone(BERLIN).time()

    def live_until(self, until: time, step_s: float = 5.0) -> list[tuple[float, float]]:
        """Move time on in steps, the car, the home and the day each step (as their tasks do in
        the world); the car's positions on the way."""
        target = datetime.combine(self.clock.now().astimezone(BERLIN).date(), until, BERLIN)
        if target <= self.clock.now():
            target += timedelta(days=1)
        positions = []
        while self.clock.now() < target:
            step = min(step_s, (target - self.clock.now()).total_seconds())
            self.clock.advance(step)
            self.car.tick(step)
            self.home.update()
            self.day.step()
            positions.append((self.car.state.lat, self.car.state.lon))
        return positions

    def phone_at(self) -> tuple[float, float]:
        values = self.phone.values()
        return (float(values["location.latitude"]), float(values["location.longitude"]))


def make_world(
    su7: VehicleSpec,
    *,
    start: datetime = MORNING,
    leg: Leg | None = None,
    at: tuple[float, float] = HOME,
    soc: float = 0.8,
) -> World:
    clock = SimClock(start, speed=None)
    car = SimulatedCar(su7, clock=clock, start_lat=at[0], start_lon=at[1], soc=soc)
    home = default_home(clock, *HOME)
    wallbox = home.get(SimWallbox, "wallbox:garage")
    phone = SimPhone("usr_owner", clock=clock, latitude=HOME[0], longitude=HOME[1])
    day = DemoDay(
        car=car,
        cable=WallboxCable(car, wallbox),
        commute=COMMUTE,
        clock=clock,
        phone=phone,
        leg=leg,
    )
    return World(clock, car, home, wallbox, phone, day)


def gap_to_route_m(route: Route, point: tuple[float, float]) -> float:
    """How far ``point`` is from the route's line (sampled every 10 m)."""
    return min(
        distance_between_m(*point, *route.position_at(s)[:2])
        for s in range(0, int(route.distance_m) + 1, 10)
    )


def test_the_car_lives_a_working_day(su7: VehicleSpec) -> None:
    world = make_world(su7)
    world.day.step()
    # Before work the car waits at home, plugged into the wallbox (full: it asks for nothing).
    world.live_until(time(7, 39, 55))
    assert world.day.cable.plugged
    assert world.wallbox.car is world.day.cable
    assert world.car.state.activity != "driving"
    assert world.phone_at() == pytest.approx(HOME, abs=1e-5)

    # 07:40: unplugged and away along the route (the cabin pre-heated, as the shipped
    # automation would).
    world.car.set_hvac(True, 21.0)
    world.live_until(time(7, 40, 5))
    assert world.day.leg is Leg.TO_WORK
    assert world.car.state.activity == "driving"
    assert not world.car.state.plugged_in
    assert world.wallbox.state is ChargerState.AVAILABLE

    way = world.live_until(time(8, 15))
    assert world.day.leg is None
    assert world.car.state.activity == "parked"
    assert distance_between_m(world.car.state.lat, world.car.state.lon, *WORK) < 50
    assert not world.car.state.hvac_on  # the driver got out: no climate all day in the car park
    # It went along the route, one point after another, and drove its length.
    driving = way[: next(i for i, p in enumerate(way) if distance_between_m(*p, *WORK) < 1)]
    assert len(driving) > 100
    assert max(gap_to_route_m(COMMUTE.to_work, p) for p in driving[::20]) < 10
    assert max(distance_between_m(*p, *HOME) for p in driving) > 14_000
    assert world.car.state.odometer_m == pytest.approx(COMMUTE.to_work.distance_m, rel=0.01)
    # The owner's phone went with it.
    assert world.phone_at() == pytest.approx((world.car.state.lat, world.car.state.lon), abs=1e-5)

    world.live_until(time(17, 14, 30), step_s=30)  # nothing happens at work: longer steps
    assert world.car.state.activity == "parked"
    world.live_until(time(17, 15, 5))
    assert world.day.leg is Leg.TO_HOME
    midway = world.live_until(time(17, 25))
    assert world.phone_at() == pytest.approx(midway[-1], abs=1e-5)
    assert distance_between_m(*midway[-1], *HOME) > AT_PLACE_M

    wall_before = world.car.meters.wall_kwh
    world.live_until(time(17, 50))
    state = world.car.state
    assert distance_between_m(state.lat, state.lon, *HOME) < 50
    assert world.day.leg is None
    # Home: plugged in, and the wallbox shows the car charging.
    assert state.plugged_in
    assert state.charging
    assert world.wallbox.state is ChargerState.CHARGING
    assert world.wallbox.power_w > 5_000
    assert world.wallbox.values()["charger.power"] > 0
    soc_home = state.soc
    assert soc_home < 0.78  # two commutes took about 8 % of the battery

    world.live_until(time(21, 0))
    assert world.car.state.soc == pytest.approx(0.8)  # back at its charge limit
    assert world.wallbox.state is ChargerState.FINISHED
    drawn = world.car.meters.wall_kwh - wall_before
    assert drawn > 0.04 * su7.battery_kwh
    assert world.wallbox.values()["charger.session_energy"] == pytest.approx(drawn, rel=0.03)

    # The next morning it leaves again.
    world.live_until(time(7, 39, 30), step_s=30)
    world.live_until(time(7, 40, 5))
    assert world.day.leg is Leg.TO_WORK


def test_a_world_stopped_on_the_way_goes_on_along_the_route(su7: VehicleSpec) -> None:
    route = COMMUTE.to_work
    middle = route.position_at(route.distance_m / 2)
    world = make_world(
        su7, start=MORNING.replace(hour=7, minute=55), leg=Leg.TO_WORK, at=middle[:2]
    )
    assert world.day.leg is Leg.TO_WORK
    world.day.step()
    assert world.car.state.activity == "driving"
    world.live_until(time(8, 20))
    assert distance_between_m(world.car.state.lat, world.car.state.lon, *WORK) < 50
    assert world.car.state.odometer_m == pytest.approx(route.distance_m / 2, rel=0.02)
    assert world.day.leg is None


def test_a_car_at_work_after_hours_drives_home_and_one_at_home_stays(su7: VehicleSpec) -> None:
    evening = MORNING.replace(hour=20)
    at_work = make_world(su7, start=evening, at=WORK)
    at_work.day.step()
    assert at_work.day.leg is Leg.TO_HOME
    at_home = make_world(su7, start=evening)
    at_home.day.step()
    assert at_home.day.leg is None
    assert at_home.day.cable.plugged


def test_a_car_off_its_route_stays_where_it_is(su7: VehicleSpec) -> None:
    world = make_world(su7, leg=Leg.TO_HOME, at=(48.35, 11.78))  # at the airport
    world.live_until(time(7, 45))
    assert world.car.state.activity == "parked"
    assert world.car.state.lat == 48.35


async def test_the_day_runs_on_the_clock_with_the_car(su7: VehicleSpec) -> None:
    world = make_world(su7, start=MORNING.replace(minute=39))
    tasks = [
        asyncio.create_task(world.car.run()),
        asyncio.create_task(world.home.run()),
        asyncio.create_task(world.day.run()),
    ]
    try:
        await world.clock.run_for(50)
        assert world.day.cable.plugged
        await world.clock.run_for(30)
        assert world.car.state.activity == "driving"
        await world.clock.run_for(60)
        assert distance_between_m(world.car.state.lat, world.car.state.lon, *HOME) > 100
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_the_way_home_is_the_way_to_work_backwards() -> None:
    to_work, to_home = COMMUTE.to_work, COMMUTE.to_home
    assert to_home.distance_m == pytest.approx(to_work.distance_m)
    assert [(w.lat, w.lon) for w in to_home.waypoints] == [
        (w.lat, w.lon) for w in reversed(to_work.waypoints)
    ]
    # The A9 leg keeps its 120 km/h both ways, the old town its 20.
    assert max(w.speed_limit_kmh or 0 for w in to_home.waypoints) == 120
    assert to_home.waypoints[-2].speed_limit_kmh == 20
    assert to_home.waypoints[-1].speed_limit_kmh is None
    there = reverse_route(to_home, "there")
    work_end = Waypoint(*WORK, None, to_work.waypoints[-1].stop_s)
    assert there.waypoints == (*to_work.waypoints[:-1], work_end)
    # Real places at its ends: Marienplatz, and the Garching research campus.
    assert HOME == (48.1372, 11.5755)
    assert distance_between_m(*WORK, 48.2650, 11.6710) < 500
    assert 15 <= len(to_work.waypoints) <= 30


def test_the_rest_of_a_route_starts_where_the_car_is() -> None:
    route = COMMUTE.to_work
    lat, lon, _ = route.position_at(5_000)
    rest = remaining_route(route, lat, lon)
    assert rest is not None
    assert rest.waypoints[0].lat == lat
    assert rest.distance_m == pytest.approx(route.distance_m - 5_000, abs=5)
    assert remaining_route(route, *WORK) is None
    assert remaining_route(route, 48.35, 11.78) is None
