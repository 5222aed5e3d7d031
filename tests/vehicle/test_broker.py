"""The signal broker: values, subscriptions, providers and liveness, actuation, persistence."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartev.core.clock import SimClock
from smartev.spec import shipped_catalog
from smartev.spec.errors import InvalidValueError, UnknownPathError
from smartev.vehicle.access import Access
from smartev.vehicle.actuation import ActuationRequest, ActuationState
from smartev.vehicle.broker import Broker
from smartev.vehicle.errors import (
    AlreadyProvidedError,
    NotActuatorError,
    PermissionDeniedError,
    ProviderUnavailableError,
    UnsafeRequestError,
)
from smartev.vehicle.store import ValueStore

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
LIMIT = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def broker(clock: SimClock) -> Broker:
    return Broker(shipped_catalog(), clock=clock, actuation_timeout_s=5)


def test_publish_and_get_with_timestamps(broker: Broker, clock: SimClock) -> None:
    assert broker.get(SPEED).value is None
    broker.publish({SPEED: 42.5, SOC: 80.0})
    clock.advance(2)
    broker.publish({SPEED: 50})
    assert broker.get(SPEED).value == 50
    assert broker.get(SPEED).ts == START.timestamp() + 2
    assert broker.get(SOC).ts == START.timestamp()


def test_bad_values_reject_the_whole_batch(broker: Broker) -> None:
    with pytest.raises(InvalidValueError) as err:
        broker.publish({SPEED: 10.0, SOC: 140.0})
    assert err.value.path == SOC
    assert "must be" in str(err.value)
    assert broker.get(SPEED).value is None  # nothing of the batch was applied
    with pytest.raises(UnknownPathError, match="Vehicle.Sped"):
        broker.publish({"Vehicle.Sped": 1.0})
    with pytest.raises(InvalidValueError):
        broker.publish({LOCK: "yes"})


async def test_subscription_streams_known_paths_and_reports_unknown(broker: Broker) -> None:
    sub = broker.subscribe([SPEED, "Vehicle.NoSuch.Thing", "Vehicle.Cabin.Door.Row1"])
    assert sub.unknown == ("Vehicle.NoSuch.Thing",)
    assert SPEED in sub.paths
    assert LOCK in sub.paths
    first = await anext(sub)
    assert first[SPEED].value is None
    broker.publish({SPEED: 10.0})
    broker.publish({SPEED: 20.0, SOC: 50.0})
    batch = await anext(sub)
    assert batch == {SPEED: broker.get(SPEED)}  # coalesced to the newest; SOC not subscribed
    assert batch[SPEED].value == 20.0
    sub.close()
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


def test_subscription_with_nothing_known_fails(broker: Broker) -> None:
    with pytest.raises(UnknownPathError, match="Vehicle.Nope"):
        broker.subscribe(["Vehicle.Nope"])


async def test_slow_subscriber_is_bounded_by_coalescing(broker: Broker) -> None:
    sub = broker.subscribe([SPEED])
    await anext(sub)
    for i in range(10_000):
        broker.publish({SPEED: float(i)})
    batch = await anext(sub)
    assert batch[SPEED].value == 9999.0
    assert len(batch) == 1


def test_access_control(broker: Broker) -> None:
    reader = Access.from_scope("read:Vehicle.Speed")
    broker.publish({SPEED: 1.0, SOC: 2.0})
    assert broker.get(SPEED, access=reader).value == 1.0
    with pytest.raises(PermissionDeniedError, match=SOC):
        broker.get(SOC, access=reader)
    with pytest.raises(PermissionDeniedError, match="provide"):
        broker.publish({SPEED: 3.0}, access=reader)
    with pytest.raises(PermissionDeniedError):
        broker.subscribe([SPEED, SOC], access=reader)
    with pytest.raises(PermissionDeniedError, match="actuate"):
        broker.actuate(LOCK, True, access=reader)


class Car:
    """A provider that carries out what it is asked, when told to."""

    def __init__(self, broker: Broker) -> None:
        self.asked: list[ActuationRequest] = []
        self.provider = broker.register_provider(
            "car",
            sensors=[SPEED, "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition"],
            actuators=["Vehicle.Cabin.Door", "Vehicle.Body.Trunk", LIMIT],
            on_actuate=self.asked.append,
            liveness_timeout_s=3,
        )

    def execute_all(self) -> None:
        for request in self.asked:
            self.provider.publish({request.path: request.value})
        self.asked.clear()


def test_actuation_is_closed_loop(broker: Broker) -> None:
    car = Car(broker)
    car.provider.publish({SPEED: 0.0, LOCK: False})
    request = broker.actuate(LOCK, True, client="phone")
    assert request.state is ActuationState.ACCEPTED
    assert car.asked == [request]
    assert broker.get_target(LOCK).value is True
    assert broker.get(LOCK).value is False  # not yet done
    car.execute_all()
    done = broker.actuations.get(request.id)
    assert done is not None
    assert done.state is ActuationState.EXECUTED
    assert done.client == "phone"


def test_actuation_failure_and_timeout(broker: Broker, clock: SimClock) -> None:
    car = Car(broker)
    car.provider.publish({SPEED: 0.0})
    failing = broker.actuate(TRUNK, True)
    car.provider.fail(failing.id, "trunk jammed")
    state = broker.actuations.get(failing.id)
    assert state is not None
    assert (state.state, state.reason) == (ActuationState.FAILED, "trunk jammed")
    slow = broker.actuate(LIMIT, 90)
    clock.advance(6)
    broker.housekeeping()
    state = broker.actuations.get(slow.id)
    assert state is not None
    assert state.state is ActuationState.TIMED_OUT
    assert "did not report 90" in state.reason


def test_newer_request_replaces_an_open_one(broker: Broker) -> None:
    car = Car(broker)
    car.provider.publish({SPEED: 0.0})
    first = broker.actuate(LIMIT, 80)
    second = broker.actuate(LIMIT, 90)
    replaced = broker.actuations.get(first.id)
    assert replaced is not None
    assert replaced.state is ActuationState.FAILED
    assert second.id in replaced.reason
    car.provider.publish({LIMIT: 90})
    assert broker.actuations.get(second.id).state is ActuationState.EXECUTED  # type: ignore[union-attr]


def test_actuation_refusals(broker: Broker) -> None:
    with pytest.raises(ProviderUnavailableError, match=LOCK):
        broker.actuate(LOCK, True)
    car = Car(broker)
    car.provider.publish({SPEED: 60.0})
    with pytest.raises(UnsafeRequestError) as err:
        broker.actuate(TRUNK, True)
    assert err.value.reason == "unsafe_while_moving"
    with pytest.raises(NotActuatorError, match="is a sensor"):
        broker.actuate(SPEED, 10.0)
    with pytest.raises(InvalidValueError):
        broker.actuate(LIMIT, 300)
    with pytest.raises(UnsafeRequestError, match="50..100"):
        broker.actuate(LIMIT, 20)
    # all or nothing: the good target is not delivered when one is refused
    with pytest.raises(UnsafeRequestError):
        broker.actuate_many({LOCK: True, TRUNK: True})
    assert car.asked == []


def test_one_provider_per_signal_and_stale_on_close(broker: Broker) -> None:
    car = Car(broker)
    with pytest.raises(AlreadyProvidedError, match="'car'"):
        broker.register_provider("other", sensors=[SPEED])
    car.provider.publish({SPEED: 30.0})
    assert not broker.get(SPEED).stale
    open_request = broker.actuate(LOCK, True)
    car.provider.close()
    assert broker.get(SPEED).stale
    assert broker.get(SPEED).value == 30.0  # the last value is kept, marked stale
    assert broker.actuations.get(open_request.id).state is ActuationState.FAILED  # type: ignore[union-attr]
    with pytest.raises(ProviderUnavailableError):
        broker.actuate(LOCK, False)
    broker.register_provider("car2", sensors=[SPEED]).publish({SPEED: 31.0})
    assert not broker.get(SPEED).stale


async def test_silent_provider_goes_stale_and_comes_back(broker: Broker, clock: SimClock) -> None:
    car = Car(broker)
    car.provider.publish({SPEED: 30.0})
    sub = broker.subscribe([SPEED])
    await anext(sub)
    runner = asyncio.create_task(broker.run())
    await asyncio.sleep(0)
    await clock.run_for(4)
    assert broker.get(SPEED).stale
    assert (await anext(sub))[SPEED].stale
    car.provider.publish({SPEED: 35.0})
    assert not broker.get(SPEED).stale
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def test_wait_for_an_actuation(broker: Broker) -> None:
    car = Car(broker)
    car.provider.publish({SPEED: 0.0})
    request = broker.actuate(LOCK, True)
    waiting = asyncio.create_task(broker.actuations.wait(request.id))
    await asyncio.sleep(0)
    car.execute_all()
    done = await asyncio.wait_for(waiting, 5)
    assert done.state is ActuationState.EXECUTED


async def test_target_subscription(broker: Broker) -> None:
    Car(broker).provider.publish({SPEED: 0.0})
    sub = broker.subscribe([LIMIT], targets=True)
    await anext(sub)
    broker.actuate(LIMIT, 70)
    assert (await anext(sub))[LIMIT].value == 70


def test_values_persist_across_restarts(tmp_path: Path, clock: SimClock) -> None:
    store = ValueStore(tmp_path / "values.db")
    first = Broker(shipped_catalog(), clock=clock, store=store)
    first.publish(
        {SPEED: 12.5, SOC: 66.0, "Vehicle.VehicleIdentification.VIN": "LSJWH4097PN000001"}
    )
    first.flush()
    store.close()
    again = Broker(shipped_catalog(), clock=clock, store=ValueStore(tmp_path / "values.db"))
    restored = again.get(SOC)
    assert restored.value == 66.0
    assert restored.stale  # no provider has confirmed it since the restart
    assert again.get("Vehicle.VehicleIdentification.VIN").value == "LSJWH4097PN000001"


def test_provider_error_marks_stale_until_next_publish(broker: Broker) -> None:
    car = Car(broker)
    car.provider.publish({SPEED: 30.0})
    car.provider.report_error("sensor bus down")
    assert broker.get(SPEED).stale
    with pytest.raises(ProviderUnavailableError):
        broker.actuate(LOCK, True)
    car.provider.publish({SPEED: 31.0})
    assert not broker.get(SPEED).stale


def test_target_subscription_needs_an_actuator(broker: Broker) -> None:
    with pytest.raises(NotActuatorError, match="is a sensor"):
        broker.subscribe([SPEED], targets=True)
