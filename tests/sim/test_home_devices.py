import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from smartev.core.clock import SimClock
from smartev.sim.home_devices import (
    SimDoorLock,
    SimLight,
    SimPhone,
    SimPresenceSensor,
    SimSmartPlug,
    SimThermostat,
)
from smartev.sim.home_physics import HvacAction, ThermostatMode
from smartev.spec.devices import (
    DeviceActionError,
    DeviceOfflineError,
    Scalar,
    UnknownMemberError,
)

START = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str, Scalar | None]] = []
        self.events: list[tuple[str, str, dict[str, Scalar]]] = []
        self.availability: list[tuple[str, bool]] = []

    def property_changed(self, device_id: str, ref: str, value: Scalar | None) -> None:
        self.changes.append((device_id, ref, value))

    def event_fired(self, device_id: str, ref: str, args: Mapping[str, Scalar]) -> None:
        self.events.append((device_id, ref, dict(args)))

    def availability_changed(self, device_id: str, online: bool) -> None:
        self.availability.append((device_id, online))

    def refs(self) -> list[tuple[str, Scalar | None]]:
        return [(ref, value) for _, ref, value in self.changes]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START, speed=None)


async def test_light_switches_at_once_and_remembers_its_brightness(clock: SimClock) -> None:
    light = SimLight("hall", clock=clock, brightness=60)
    sink = Recorder()
    light.attach(sink)
    assert light.device_id == "light:hall"
    assert light.values() == {"light.on": False, "light.brightness": 60}
    await light.call("light.turn_on", {})
    assert light.values()["light.on"] is True
    await light.call("light.turn_on", {"brightness": 30})
    await light.call("light.toggle", {})
    await light.write("light.brightness", 90)
    await light.call("light.toggle", {})
    assert sink.refs() == [
        ("light.on", True),
        ("light.brightness", 30),  # turning on again at another level reports only the level
        ("light.on", False),
        ("light.brightness", 90),
        ("light.on", True),
    ]


async def test_unknown_refs_and_read_only_writes_are_refused(clock: SimClock) -> None:
    light = SimLight("hall", clock=clock)
    with pytest.raises(UnknownMemberError, match="light.dim"):
        await light.call("light.dim", {})
    plug = SimSmartPlug("kettle", clock=clock, load_w=2000)
    with pytest.raises(DeviceActionError, match="read-only"):
        await plug.write("meter.power", 5.0)


async def test_offline_device_refuses_and_reports_what_it_missed_on_return(
    clock: SimClock,
) -> None:
    light = SimLight("hall", clock=clock)
    sink = Recorder()
    light.attach(sink)
    light.set_online(False)
    assert not light.online
    with pytest.raises(DeviceOfflineError, match="light:hall is offline"):
        await light.call("light.turn_on", {})
    light._set("light.on", True)  # someone uses the wall switch while the bridge is down
    assert sink.changes == []
    light.set_online(True)
    assert sink.availability == [("light:hall", False), ("light:hall", True)]
    assert sink.refs() == [("light.on", True)]


async def test_plug_meters_its_load_while_on(clock: SimClock) -> None:
    plug = SimSmartPlug("kettle", clock=clock, load_w=2000)
    sink = Recorder()
    plug.attach(sink)
    plug.advance(600)
    assert plug.values()["meter.energy"] == 0.0
    await plug.call("switch.turn_on", {})
    assert plug.values()["meter.power"] == 2000.0
    plug.advance(900)  # a quarter hour at 2 kW
    assert plug.values()["meter.energy"] == 0.5
    await plug.write("switch.on", False)
    assert plug.power_w == 0.0
    plug.advance(900)
    assert plug.values()["meter.energy"] == 0.5
    assert ("meter.power", 0.0) in sink.refs()


async def test_lock_takes_a_second_and_says_who_operated_it(clock: SimClock) -> None:
    lock = SimDoorLock("front", clock=clock, locked=True)
    sink = Recorder()
    lock.attach(sink)
    task = asyncio.create_task(lock.call("lock.unlock", {}))
    await clock.run_for(0)  # the task starts and begins to move the bolt
    await clock.run_for(0.5)
    assert not task.done()
    assert lock.locked
    await clock.run_for(0.5)
    assert await task == {}
    assert lock.values() == {"lock.locked": False, "lock.state": "unlocked"}
    lock.operate_manually(True)
    assert [e[2]["method"] for e in sink.events] == ["remote", "manual"]
    assert all(e[1] == "lock.operated" for e in sink.events)


async def test_jammed_lock_refuses(clock: SimClock) -> None:
    lock = SimDoorLock("front", clock=clock, locked=False)
    lock.set_jammed(True)
    assert lock.values()["lock.state"] == "jammed"
    with pytest.raises(DeviceActionError, match="jammed"):
        await lock.call("lock.lock", {})
    lock.set_jammed(False)
    assert lock.values()["lock.state"] == "unlocked"


async def test_lock_going_offline_mid_operation_raises(clock: SimClock) -> None:
    lock = SimDoorLock("front", clock=clock)
    task = asyncio.create_task(lock.call("lock.unlock", {}))
    await clock.run_for(0)  # the task starts and begins to move the bolt
    await clock.run_for(0.5)
    lock.set_online(False)
    await clock.run_for(1)
    with pytest.raises(DeviceOfflineError):
        await task


def test_presence_follows_daylight_and_the_lamp_unless_pinned(clock: SimClock) -> None:
    light = SimLight("hall", clock=clock, brightness=100)
    sensor = SimPresenceSensor("hall", clock=clock, light=light)
    sensor.advance(0.0)
    assert sensor.values()["presence.illuminance"] == 0.0
    sensor.advance(800.0)
    assert sensor.values()["presence.illuminance"] == 480.0
    light._set("light.on", True)
    sensor.advance(0.0)
    assert sensor.values()["presence.illuminance"] == 300.0
    sensor.set_illuminance(12.5)
    sensor.advance(800.0)
    assert sensor.values()["presence.illuminance"] == 12.0
    sensor.set_occupied(True)
    assert sensor.values()["presence.occupied"] is True


def test_phone_moves_and_refuses_impossible_places(clock: SimClock) -> None:
    phone = SimPhone("anna", clock=clock, latitude=48.1, longitude=11.5)
    sink = Recorder()
    phone.attach(sink)
    phone.move_to(48.2, 11.5, 25.0)
    assert phone.device_id == "phone:anna"
    assert sink.refs() == [("location.latitude", 48.2), ("location.accuracy", 25.0)]
    with pytest.raises(ValueError, match="latitude must be -90..90"):
        phone.move_to(91.0, 0.0)


def test_room_warms_to_the_set_point_and_cools_when_off(clock: SimClock) -> None:
    thermostat = SimThermostat("living", clock=clock, temperature_c=16.0, target_c=21.0)
    assert thermostat.action is HvacAction.HEATING
    assert thermostat.electrical_w == pytest.approx(1000.0)
    temps = []
    for _ in range(120):  # an hour in 30 s steps, 2 °C outside
        thermostat.advance(30, 2.0)
        temps.append(thermostat.temperature_c)
    assert 20.6 < temps[-1] < 21.4  # held within the hysteresis band
    assert temps[19] > 17.5  # 1.5 °C in 10 min, nearly 3 in 20, with 2 °C outside
    assert temps[39] > 18.8
    assert thermostat.values()["thermostat.current_temperature"] == round(temps[-1], 1)
    thermostat._apply("off", None)
    for _ in range(120):
        thermostat.advance(30, 2.0)
    assert thermostat.action is HvacAction.IDLE
    assert thermostat.temperature_c < temps[-1] - 2.0


async def test_thermostat_set_and_writes(clock: SimClock) -> None:
    thermostat = SimThermostat("living", clock=clock, temperature_c=24.0, target_c=21.0)
    sink = Recorder()
    thermostat.attach(sink)
    assert thermostat.action is HvacAction.IDLE
    await thermostat.call("thermostat.set", {"mode": "cool"})
    assert thermostat.action is HvacAction.COOLING
    await thermostat.write("thermostat.target_temperature", 25.0)
    assert thermostat.action is HvacAction.IDLE
    await thermostat.write("thermostat.mode", "auto")
    await thermostat.call("thermostat.set", {"mode": "heat", "target_temperature": 26})
    assert thermostat.values()["thermostat.target_temperature"] == 26.0
    assert thermostat.action is HvacAction.HEATING
    assert ("thermostat.mode", ThermostatMode.HEAT.value) in sink.refs()
