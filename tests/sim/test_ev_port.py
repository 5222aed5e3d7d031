"""The cable between a simulated car and a simulated wallbox: the car charges from what the
wallbox offers, the wallbox meters what the car draws, and each end hears the other."""

import asyncio
from datetime import UTC, datetime

import pytest

from smartev.core.clock import SimClock
from smartev.sim.car import ActuatorRejectedError, SimulatedCar
from smartev.sim.errors import SimError
from smartev.sim.ev_port import WallboxCable
from smartev.sim.home_wallbox import ChargerState, SimWallbox
from smartev.sim.route import Route, Waypoint
from smartev.sim.spec import VehicleSpec, load_vehicle

START = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
HOME = (48.1372, 11.5755)


@pytest.fixture(scope="module")
def su7() -> VehicleSpec:
    return load_vehicle("xiaomi-su7")


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START, speed=None)


@pytest.fixture
def car(su7: VehicleSpec, clock: SimClock) -> SimulatedCar:
    return SimulatedCar(su7, clock=clock, start_lat=HOME[0], start_lon=HOME[1], soc=0.5)


@pytest.fixture
def wallbox(clock: SimClock) -> SimWallbox:
    return SimWallbox("garage", clock=clock)


def live(clock: SimClock, car: SimulatedCar, wallbox: SimWallbox, seconds: float) -> None:
    """Time passes for both, in 5 s steps like the home's."""
    for _ in range(round(seconds / 5.0)):
        clock.advance(5.0)
        car.tick(5.0)
        wallbox.update()


def test_the_car_charges_from_the_wallbox_and_the_wallbox_meters_what_it_draws(
    clock: SimClock, car: SimulatedCar, wallbox: SimWallbox
) -> None:
    cable = WallboxCable(car, wallbox)
    wall_before = car.meters.wall_kwh
    cable.plug_in()
    assert cable.plugged
    assert car.state.plugged_in
    assert wallbox.car is cable
    assert wallbox.state is ChargerState.CHARGING
    # The SU7's on-board charger takes 7 kW of the box's 11 kW (16 A x 230 V x 3).
    assert wallbox.power_w == pytest.approx(7_000, rel=0.05)

    live(clock, car, wallbox, 3600)
    assert car.state.charging
    assert car.state.soc > 0.5 + 6.0 / car.spec.battery_kwh
    drawn_kwh = car.meters.wall_kwh - wall_before
    assert drawn_kwh == pytest.approx(7.0, rel=0.05)
    session = wallbox.values()["charger.session_energy"]
    assert session == pytest.approx(drawn_kwh, rel=0.02)
    assert cable.delivered_kwh == pytest.approx(drawn_kwh, rel=0.02)


def test_a_lower_current_limit_slows_the_car_and_stopping_the_wallbox_stops_it(
    clock: SimClock, car: SimulatedCar, wallbox: SimWallbox
) -> None:
    def call(ref: str, **args: float) -> None:
        asyncio.run(wallbox.call(ref, args))  # the action as the household's hub calls it

    cable = WallboxCable(car, wallbox)
    cable.plug_in()
    live(clock, car, wallbox, 60)

    call("charger.set_current_limit", current_a=6)
    live(clock, car, wallbox, 60)
    offer_w = 6 * 230.0 * 3
    assert car.state.charging
    # The battery gets what the charger passes on of the box's 4.1 kW, the car's loads aside.
    assert car.state.charging_power_w <= offer_w
    assert car.state.wall_power_w == pytest.approx(offer_w, rel=0.1)
    # The car's loads come on top of its charger's share; the box gives no more than its limit.
    assert wallbox.power_w == pytest.approx(min(car.state.wall_power_w, offer_w), rel=0.01)

    call("charger.stop")
    live(clock, car, wallbox, 60)
    assert not car.state.charging
    assert car.state.plugged_in
    assert wallbox.power_w == 0
    assert wallbox.state is ChargerState.SUSPENDED_EVSE
    soc = car.state.soc

    call("charger.start")
    live(clock, car, wallbox, 60)
    assert car.state.charging
    assert car.state.soc > soc
    assert wallbox.state is ChargerState.CHARGING


def test_the_car_stopping_its_charge_suspends_then_finishes_the_session(
    clock: SimClock, car: SimulatedCar, wallbox: SimWallbox
) -> None:
    cable = WallboxCable(car, wallbox)
    cable.plug_in()
    live(clock, car, wallbox, 30)
    car.stop_charging()  # the owner's command, as the car's provider applies it
    live(clock, car, wallbox, 10)
    assert wallbox.state is ChargerState.SUSPENDED_EV
    assert wallbox.power_w == 0
    live(clock, car, wallbox, 120)
    assert wallbox.state is ChargerState.FINISHED
    # Stopping and starting the wallbox does not start a charge the car was asked to stop.
    wallbox.set_fault(True)
    wallbox.set_fault(False)
    live(clock, car, wallbox, 10)
    assert not car.state.charging
    car.start_charging()
    live(clock, car, wallbox, 10)
    assert wallbox.state is ChargerState.CHARGING


def test_a_full_car_asks_for_nothing(
    su7: VehicleSpec, clock: SimClock, wallbox: SimWallbox
) -> None:
    car = SimulatedCar(su7, clock=clock, start_lat=HOME[0], start_lon=HOME[1], soc=0.8)
    WallboxCable(car, wallbox).plug_in()  # at its 80 % charge limit already
    live(clock, car, wallbox, 10)
    assert not car.state.charging
    assert wallbox.power_w == 0
    assert wallbox.state is ChargerState.SUSPENDED_EV


def test_unplugging_frees_both_ends_and_a_driving_car_cannot_be_plugged_in(
    clock: SimClock, car: SimulatedCar, wallbox: SimWallbox
) -> None:
    cable = WallboxCable(car, wallbox)
    cable.plug_in()
    with pytest.raises(SimError, match="already plugged"):
        cable.plug_in()
    live(clock, car, wallbox, 30)
    cable.unplug()
    assert not cable.plugged
    assert not car.state.plugged_in
    assert wallbox.car is None
    assert wallbox.state is ChargerState.AVAILABLE
    cable.unplug()  # nothing to take out: nothing happens

    car.drive(Route("away", (Waypoint(*HOME), Waypoint(HOME[0] + 0.01, HOME[1]))))
    car.tick(5.0)
    with pytest.raises(ActuatorRejectedError, match="park"):
        cable.plug_in()
    assert wallbox.car is None
    assert not cable.plugged


def test_a_wallbox_with_another_car_is_refused(
    su7: VehicleSpec, clock: SimClock, car: SimulatedCar, wallbox: SimWallbox
) -> None:
    other = SimulatedCar(su7, clock=clock, start_lat=HOME[0], start_lon=HOME[1], soc=0.5)
    WallboxCable(other, wallbox).plug_in()
    with pytest.raises(SimError, match="already has a car"):
        WallboxCable(car, wallbox).plug_in()
    assert not car.state.plugged_in
