"""The simulated car as the broker's provider: state in, targets out, refusals reported."""

import asyncio
from datetime import UTC, datetime

import pytest

from smartev.core.clock import SimClock
from smartev.sim.car import SimulatedCar
from smartev.sim.cycles import builtin_cycle
from smartev.sim.spec import load_vehicle
from smartev.sim_provider import CHARGING, PORT, SETPOINT, SimulatedCarProvider
from smartev.spec import shipped_catalog
from smartev.vehicle.actuation import ActuationState
from smartev.vehicle.broker import Broker
from smartev.vehicle.errors import UnsafeRequestError

VIN = "LSJWH4097PN000001"
MUNICH = (48.137, 11.575)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def world(clock: SimClock) -> tuple[SimulatedCar, Broker, SimulatedCarProvider]:
    car = SimulatedCar(
        load_vehicle("xiaomi-su7"), clock=clock, start_lat=MUNICH[0], start_lon=MUNICH[1], soc=0.6
    )
    broker = Broker(shipped_catalog(), clock=clock, actuation_timeout_s=10)
    return car, broker, SimulatedCarProvider(car, broker, vin=VIN)


def test_state_and_attributes_are_published(
    world: tuple[SimulatedCar, Broker, SimulatedCarProvider],
) -> None:
    car, broker, provider = world
    assert broker.get("Vehicle.VehicleIdentification.VIN").value == VIN
    assert broker.get(
        "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
    ).value == pytest.approx(60)
    assert broker.get("Vehicle.CurrentLocation.Latitude").value == pytest.approx(MUNICH[0])
    car.drive(builtin_cycle("udds"))
    for _ in range(300):
        provider.on_state(car.tick(1.0))
    assert broker.get("Vehicle.TraveledDistance").value == int(car.state.odometer_m) > 1000
    assert broker.get("Vehicle.Speed").value == pytest.approx(car.state.speed_mps * 3.6, abs=0.01)


async def test_targets_reach_the_car_and_come_back_executed(
    world: tuple[SimulatedCar, Broker, SimulatedCarProvider], clock: SimClock
) -> None:
    car, broker, _ = world
    hvac = broker.actuate(SETPOINT, 22.0)
    assert broker.actuations.get(hvac.id).state is ActuationState.EXECUTED  # type: ignore[union-attr]
    assert car.state.hvac_on
    limit = broker.actuate(f"{CHARGING}.ChargeLimit", 90)
    assert broker.actuations.get(limit.id).state is ActuationState.EXECUTED  # type: ignore[union-attr]
    assert car.state.charge_limit == pytest.approx(0.9)
    # A body part takes its time: the trunk opens after 3 s of the car's clock.
    trunk = broker.actuate("Vehicle.Body.Trunk.Rear.IsOpen", True)
    await asyncio.sleep(0)
    assert broker.actuations.get(trunk.id).state is ActuationState.ACCEPTED  # type: ignore[union-attr]
    await clock.run_for(3.5)
    assert broker.actuations.get(trunk.id).state is ActuationState.EXECUTED  # type: ignore[union-attr]
    assert broker.get("Vehicle.Body.Trunk.Rear.IsOpen").value is True


def test_charging_commands(world: tuple[SimulatedCar, Broker, SimulatedCarProvider]) -> None:
    car, broker, provider = world
    with pytest.raises(UnsafeRequestError) as err:
        broker.actuate(f"{CHARGING}.StartStopCharging", "START")
    assert err.value.reason == "not_plugged_in"
    car.plug_in("ac", 11.0, charge_now=False)
    provider.on_state(car.state)
    assert broker.get(f"{PORT}.IsChargingCableConnected").value is True
    start = broker.actuate(f"{CHARGING}.StartStopCharging", "START")
    assert broker.actuations.get(start.id).state is ActuationState.EXECUTED  # type: ignore[union-attr]
    provider.on_state(car.tick(60))
    assert broker.get(f"{CHARGING}.IsCharging").value is True


def test_refusal_by_the_car_is_a_failed_request(
    world: tuple[SimulatedCar, Broker, SimulatedCarProvider],
) -> None:
    car, broker, provider = world
    car.plug_in("ac", 11.0, charge_now=False)
    provider.on_state(car.state)
    car.unplug()  # the broker has not heard yet: the car itself refuses
    request = broker.actuate(f"{CHARGING}.StartStopCharging", "START")
    done = broker.actuations.get(request.id)
    assert done is not None
    assert done.state is ActuationState.FAILED
    assert "plug" in done.reason
