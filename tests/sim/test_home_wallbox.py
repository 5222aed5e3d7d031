from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from smartev.core.clock import SimClock
from smartev.sim.errors import SimError
from smartev.sim.home_wallbox import ChargerState, EvPort, SimWallbox, WallboxParams
from smartev.spec.devices import DeviceActionError, Scalar

START = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


class Battery:
    """The car's side for these tests: a battery that takes up to ``ask_w`` until full."""

    def __init__(self, capacity_kwh: float, soc: float, ask_w: float = 11_000.0) -> None:
        self.capacity_kwh, self.soc, self.ask_w = capacity_kwh, soc, ask_w
        self.received_kwh = 0.0

    def max_power_w(self, now: datetime) -> float:
        return 0.0 if self.soc >= 1.0 - 1e-9 else self.ask_w

    def deliver(self, power_w: float, seconds: float) -> None:
        kwh = power_w * seconds / 3.6e6
        self.received_kwh += kwh
        self.soc = min(1.0, self.soc + kwh / self.capacity_kwh)


class Recorder:
    def __init__(self) -> None:
        self.states: list[Scalar | None] = []
        self.events: list[str] = []

    def property_changed(self, device_id: str, ref: str, value: Scalar | None) -> None:
        if ref == "charger.state":
            self.states.append(value)

    def event_fired(self, device_id: str, ref: str, args: Mapping[str, Scalar]) -> None:
        self.events.append(ref)

    def availability_changed(self, device_id: str, online: bool) -> None:
        pass


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START, speed=None)


@pytest.fixture
def wallbox(clock: SimClock) -> SimWallbox:
    return SimWallbox("garage", clock=clock)


def _run(clock: SimClock, wallbox: SimWallbox, seconds: float, step: float = 5.0) -> None:
    for _ in range(round(seconds / step)):
        clock.advance(step)
        wallbox.update()


def test_a_car_is_an_ev_port() -> None:
    car: EvPort = Battery(60, 0.5)
    assert car.max_power_w(START) == 11_000.0


def test_no_power_without_a_car(clock: SimClock, wallbox: SimWallbox) -> None:
    _run(clock, wallbox, 60)
    assert wallbox.power_w == 0.0
    assert wallbox.values()["charger.state"] == "available"


def test_no_power_for_a_full_car(clock: SimClock, wallbox: SimWallbox) -> None:
    car = Battery(60, 1.0)
    wallbox.plug_in(car)
    _run(clock, wallbox, 600)
    assert wallbox.power_w == 0.0
    assert car.received_kwh == 0.0
    assert wallbox.state is ChargerState.SUSPENDED_EV  # nothing flowed: not a finished session


@pytest.mark.parametrize(
    ("ask_w", "limit_a", "phases", "expected_w"),
    [
        (22_000.0, 16.0, 3, 11_040.0),  # the box's limit: 16 A × 230 V × 3
        (7_000.0, 16.0, 3, 7_000.0),  # the car's ask
        (22_000.0, 32.0, 1, 7_360.0),
        (22_000.0, 6.0, 3, 4_140.0),
    ],
)
def test_power_is_the_smaller_of_ask_and_limit(
    clock: SimClock, ask_w: float, limit_a: float, phases: int, expected_w: float
) -> None:
    params = WallboxParams(phases=phases, current_limit_a=limit_a)
    wallbox = SimWallbox("garage", clock=clock, params=params)
    car = Battery(60, 0.2, ask_w=ask_w)
    wallbox.plug_in(car)
    assert wallbox.power_w == pytest.approx(expected_w)
    _run(clock, wallbox, 3600)
    assert car.received_kwh == pytest.approx(expected_w / 1000, rel=1e-6)
    assert wallbox.values()["charger.session_energy"] == round(expected_w / 1000, 2)


def test_session_runs_to_finished_with_events(clock: SimClock, wallbox: SimWallbox) -> None:
    sink = Recorder()
    wallbox.attach(sink)
    car = Battery(11.0, 0.5)  # 5.5 kWh to go: half an hour at the 11 kW it asks
    wallbox.plug_in(car)
    _run(clock, wallbox, 1800)
    assert car.soc == pytest.approx(1.0)
    assert wallbox.state is ChargerState.SUSPENDED_EV  # the car paused: not yet known finished
    _run(clock, wallbox, 60)
    assert wallbox.state is ChargerState.FINISHED
    assert wallbox.values()["charger.session_energy"] == 5.5
    wallbox.unplug()
    assert sink.states == ["connected", "charging", "suspended_ev", "finished", "available"]
    assert sink.events == [
        "charger.plugged_in",
        "charger.charging_finished",
        "charger.unplugged",
    ]


async def test_stop_start_and_current_limit(clock: SimClock, wallbox: SimWallbox) -> None:
    sink = Recorder()
    wallbox.attach(sink)
    await wallbox.call("charger.stop", {})
    car = Battery(60, 0.2)
    wallbox.plug_in(car)
    assert wallbox.state is ChargerState.CONNECTED
    assert wallbox.power_w == 0.0
    await wallbox.call("charger.start", {})
    assert wallbox.state is ChargerState.CHARGING
    await wallbox.call("charger.set_current_limit", {"current_a": 10.0})
    assert wallbox.power_w == pytest.approx(6900.0)
    await wallbox.write("charger.current_limit", 32.0)
    assert wallbox.power_w == 11_000.0  # now the car's ask is the smaller
    await wallbox.call("charger.stop", {})
    assert wallbox.state is ChargerState.SUSPENDED_EVSE
    assert wallbox.values()["charger.enabled"] is False
    _run(clock, wallbox, 600)
    assert car.received_kwh == 0.0


async def test_energy_is_delivered_up_to_the_moment_of_unplugging(
    clock: SimClock, wallbox: SimWallbox
) -> None:
    car = Battery(60, 0.2, ask_w=7200.0)
    wallbox.plug_in(car)
    clock.advance(30)  # no home step in between
    assert wallbox.unplug() is car
    assert car.received_kwh == pytest.approx(0.06)
    assert wallbox.state is ChargerState.AVAILABLE
    assert wallbox.power_w == 0.0
    assert wallbox.values()["charger.session_energy"] == 0.06  # kept until the next car


async def test_fault_and_double_plug(clock: SimClock, wallbox: SimWallbox) -> None:
    wallbox.plug_in(Battery(60, 0.2))
    with pytest.raises(SimError, match="already has a car"):
        wallbox.plug_in(Battery(60, 0.2))
    wallbox.set_fault(True)
    assert wallbox.state is ChargerState.FAULT
    assert wallbox.power_w == 0.0
    with pytest.raises(DeviceActionError, match="fault"):
        await wallbox.call("charger.start", {})
    wallbox.set_fault(False)
    assert wallbox.state is ChargerState.CHARGING
