import asyncio
import inspect
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from smartev.core.clock import SimClock
from smartev.ecosystem.registry import DeviceRegistry, PropertyChange
from smartev.sim.errors import SimError
from smartev.sim.home import (
    HomeConfig,
    SimEnergyMeter,
    SimGarageDoor,
    SimHomeBattery,
    SimLight,
    SimPhone,
    SimSmartPlug,
    SimSolarInverter,
    SimThermostat,
    SimulatedHome,
    SimWallbox,
    default_home,
)
from smartev.spec.devices import DeviceDriver, DeviceSpec, Scalar

MUNICH = (48.137, 11.575)
SUMMER_MIDNIGHT = datetime(2026, 6, 20, 23, 0, tzinfo=UTC)
DEFAULT_IDS = {
    "light:hall",
    "light:living",
    "thermostat:living",
    "garage_door:main",
    "door_lock:front",
    "smart_plug:kettle",
    "wallbox:garage",
    "solar_inverter:roof",
    "home_battery:basement",
    "presence_sensor:hall",
    "energy_meter:home",
}


class ValidatingSink:
    """Checks every reported value against the device's spec as it arrives."""

    def __init__(self, specs: Mapping[str, DeviceSpec]) -> None:
        self.specs = specs
        self.changes: list[tuple[str, str, Scalar | None]] = []
        self.events: list[tuple[str, str]] = []

    def property_changed(self, device_id: str, ref: str, value: Scalar | None) -> None:
        spec = self.specs[device_id].property(ref)
        assert value is not None
        checked = spec.validate(value, f"{device_id}/{ref}")
        assert type(checked) is type(value), f"{device_id}/{ref}: {value!r} is not canonical"
        self.changes.append((device_id, ref, value))

    def event_fired(self, device_id: str, ref: str, args: Mapping[str, Scalar]) -> None:
        event = self.specs[device_id].event(ref)
        assert {a.name for a in event.args} == set(args)
        for arg in event.args:
            arg.validate(args[arg.name])
        self.events.append((device_id, ref))

    def availability_changed(self, device_id: str, online: bool) -> None:
        pass


class Car:
    """The car's side of the cable for these tests."""

    def __init__(self, need_kwh: float, ask_w: float = 11_000.0) -> None:
        self.need_kwh, self.ask_w = need_kwh, ask_w

    def max_power_w(self, now: datetime) -> float:
        return self.ask_w if self.need_kwh > 1e-9 else 0.0

    def deliver(self, power_w: float, seconds: float) -> None:
        self.need_kwh = max(0.0, self.need_kwh - power_w * seconds / 3.6e6)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(SUMMER_MIDNIGHT, speed=None)


@pytest.fixture
def home(clock: SimClock) -> SimulatedHome:
    return default_home(clock, *MUNICH)


def _conforms(driver: DeviceDriver) -> None:
    assert isinstance(driver.device_id, str)
    assert isinstance(driver.name, str)
    assert isinstance(driver.spec, DeviceSpec)
    assert driver.device_id.split(":")[0] == driver.spec.kind
    assert isinstance(driver.online, bool)
    assert isinstance(driver.values(), Mapping)
    assert callable(driver.attach)
    assert inspect.iscoroutinefunction(driver.call)
    assert inspect.iscoroutinefunction(driver.write)


def test_default_home_has_its_devices_and_each_is_a_driver(home: SimulatedHome) -> None:
    assert {d.device_id for d in home.devices} == DEFAULT_IDS
    for driver in home.drivers():
        _conforms(driver)
        # Every property is known from the start, and valid.
        assert set(driver.values()) == set(driver.spec.properties), driver.device_id
        for ref, value in driver.values().items():
            driver.spec.property(ref).validate(value, f"{driver.device_id}/{ref}")
    _conforms(SimPhone("anna", clock=home.clock, latitude=48.1, longitude=11.6))


def test_get_checks_the_kind(home: SimulatedHome) -> None:
    assert isinstance(home.get(SimWallbox, "wallbox:garage"), SimWallbox)
    with pytest.raises(SimError, match="SimLight, not a SimWallbox"):
        home.get(SimWallbox, "light:hall")
    with pytest.raises(SimError, match="no device light:attic"):
        home.device("light:attic")
    with pytest.raises(SimError, match="already in the home"):
        home.add(SimLight("hall", clock=home.clock))
    with pytest.raises(SimError, match="one grid meter"):
        home.add(SimEnergyMeter("second", clock=home.clock))


async def test_a_simulated_day_reports_only_valid_values(
    clock: SimClock, home: SimulatedHome
) -> None:
    sink = ValidatingSink({d.device_id: d.spec for d in home.devices})
    for device in home.devices:
        device.attach(sink)
    wallbox = home.get(SimWallbox, "wallbox:garage")
    garage = home.get(SimGarageDoor, "garage_door:main")
    runner = asyncio.create_task(home.run(step_s=5.0))
    await clock.run_for(7 * 3600)
    opening = asyncio.create_task(garage.call("door.open", {}))
    await clock.run_for(0)  # the call starts the motor before time moves on
    await clock.run_for(12)
    assert opening.done()
    assert opening.exception() is None
    wallbox.plug_in(Car(20.0))
    await home.get(SimSmartPlug, "smart_plug:kettle").call("switch.turn_on", {})
    await clock.run_for(10 * 3600)
    await clock.run_for(7 * 3600)
    runner.cancel()
    refs = {(device, ref) for device, ref, _ in sink.changes}
    assert ("solar_inverter:roof", "inverter.power") in refs
    assert ("thermostat:living", "thermostat.current_temperature") in refs
    assert ("energy_meter:home", "tariff.price") in refs
    assert ("wallbox:garage", "charger.charging_finished") in sink.events
    # Reporting is thinned: a 5 s step over a day is 17 280 steps; rounded values change far
    # less often than that.
    per_ref = max(sum(1 for c in sink.changes if c[:2] == key) for key in refs)
    assert per_ref < 17_280


async def test_energy_balance_at_the_meter(clock: SimClock, home: SimulatedHome) -> None:
    wallbox = home.get(SimWallbox, "wallbox:garage")
    meter = home.get(SimEnergyMeter, "energy_meter:home")
    battery = home.get(SimHomeBattery, "home_battery:basement")
    inverter = home.get(SimSolarInverter, "solar_inverter:roof")
    wallbox.plug_in(Car(40.0, ask_w=7000.0))
    for hour in range(24):
        clock.advance(3600)
        home.update()
        b = home.balance
        assert b.grid_w == pytest.approx(b.loads_w - b.solar_w + b.battery_w), hour
        assert b.chargers_w == wallbox.power_w
        assert b.battery_w == battery.power_w
        assert b.solar_w == inverter.power_w
        values = meter.values()
        assert values["grid.power"] == round(b.grid_w)
        assert values["grid.surplus_power"] == round(max(0.0, -b.grid_w) + b.chargers_w)
    assert inverter.values()["inverter.energy_today"] > 10.0


async def test_battery_absorbs_midday_surplus_until_full(clock: SimClock) -> None:
    config = HomeConfig(battery_start_soc_pct=20.0)
    home = default_home(clock, *MUNICH, config)
    battery = home.get(SimHomeBattery, "home_battery:basement")
    clock.advance(8 * 3600)  # to 07:00 UTC: the sun is up, the battery still low
    home.update()
    assert battery.power_w > 1000.0
    assert home.balance.grid_w == pytest.approx(0.0, abs=1e-6)  # all taken by the battery
    clock.advance(6 * 3600)
    home.update()
    assert battery.soc_pct == pytest.approx(100.0)
    await battery.write("battery.mode", "hold")
    clock.advance(60)
    home.update()
    assert battery.power_w == 0.0


def test_tariff_and_outdoor_follow_the_local_clock(clock: SimClock) -> None:
    home = default_home(clock, *MUNICH, HomeConfig(utc_offset_h=2.0))
    meter = home.get(SimEnergyMeter, "energy_meter:home")
    assert home.local_hour(clock.now()) == 1.0
    assert meter.values()["tariff.price"] == 0.22  # 01:00 local: cheap
    assert meter.values()["tariff.currency"] == "EUR"
    clock.advance(8 * 3600)  # 09:00 local
    home.update()
    assert meter.values()["tariff.price"] == 0.32
    assert 6.0 < home.outdoor_temperature_c < 14.0


def test_solar_energy_today_restarts_at_local_midnight(clock: SimClock) -> None:
    home = default_home(clock, *MUNICH)
    inverter = home.get(SimSolarInverter, "solar_inverter:roof")
    clock.advance(22 * 3600)
    home.update()
    day_one = inverter.values()["inverter.energy_today"]
    assert isinstance(day_one, float)
    assert day_one > 20.0
    clock.advance(6 * 3600)  # past local midnight, before sunrise
    home.update()
    assert inverter.values()["inverter.energy_today"] == 0.0


def test_a_long_jump_is_stepped_through(clock: SimClock, home: SimulatedHome) -> None:
    thermostat = home.get(SimThermostat, "thermostat:living")
    clock.advance(3 * 3600)
    assert home.update() == pytest.approx(3 * 3600)
    # The thermostat held the room in its band all along instead of one 3 h step of heating.
    assert 20.6 <= thermostat.temperature_c <= 21.4
    assert home.update() == 0.0


async def test_home_devices_work_through_the_registry(clock: SimClock, home: SimulatedHome) -> None:
    registry = DeviceRegistry(clock)
    seen: list[PropertyChange] = []
    registry.subscribe(lambda h: seen.append(h) if isinstance(h, PropertyChange) else None)
    for driver in home.drivers():
        registry.add(driver)
    await registry.call("light:hall", "light.turn_on", {"brightness": 40})
    assert registry.value("light:hall", "light.on") is True
    assert registry.value("light:hall", "light.brightness") == 40
    clock.advance(5)
    home.update()
    # The hall's lamp now lights the hall's sensor (before sunrise there is no daylight).
    assert registry.value("presence_sensor:hall", "presence.illuminance") == 120.0
    assert any(c.device == "presence_sensor:hall" for c in seen)


def test_home_refuses_impossible_places_and_steps(clock: SimClock) -> None:
    with pytest.raises(SimError, match="latitude must be"):
        SimulatedHome(clock, 95.0, 0.0)
    with pytest.raises(SimError, match="max_step_s"):
        SimulatedHome(clock, 48.0, 11.0, HomeConfig(max_step_s=0))
