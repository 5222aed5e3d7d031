"""Home Assistant discovery payloads and command parsing: pure, no broker."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.cloud.car_device import car_action_specs
from smartev.core.clock import SimClock
from smartev.ecosystem.errors import RejectedCommandError
from smartev.ecosystem.ha_commands import parse_command
from smartev.ecosystem.ha_components import (
    Call,
    CommandBinding,
    FromState,
    Topics,
    ValueTarget,
    Write,
    slug,
)
from smartev.ecosystem.ha_discovery import (
    DeviceInfo,
    Discovery,
    discover,
    node_id_of,
    state_payload,
)
from smartev.sim.home import default_home
from smartev.spec.car_device import car_spec
from smartev.spec.catalog import Catalog, shipped_catalog
from smartev.spec.device_kinds import DEVICE_KINDS, device_spec
from smartev.spec.devices import DeviceSpec, Format

TOPICS = Topics()
VIN = "LSJWH4097PN000001"
BATTERY = "Vehicle.Powertrain.TractionBattery"
LOCKED = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"


def found(device_id: str, spec: DeviceSpec, name: str = "Thing") -> Discovery:
    info = DeviceInfo(manufacturer="ACME", model="X1", sw_version="2.0")
    return discover(device_id, name, spec, info, topics=TOPICS, origin_version="9.9.9")


def cmps(discovery: Discovery) -> dict[str, dict[str, Any]]:
    components: dict[str, dict[str, Any]] = discovery.payload["cmps"]
    return components


def the_car(catalog: Catalog | None = None) -> Discovery:
    spec = car_spec(catalog or shipped_catalog(), car_action_specs())
    return found(f"car:{VIN}", spec, "Family car")


def test_node_ids_and_slugs() -> None:
    assert node_id_of("light:hall") == "light_hall"
    assert node_id_of("car:WVW.ZZZ-1") == "car_WVWZZZ-1"
    assert slug("light.brightness") == "light_brightness"
    assert slug(f"{BATTERY}.StateOfCharge.Current") == (
        "vehicle_powertrain_tractionbattery_stateofcharge_current"
    )


@given(st.text(max_size=80))
def test_node_ids_only_hold_allowed_characters(device_id: str) -> None:
    assert re.fullmatch(r"[a-zA-Z0-9_-]*", node_id_of(device_id))


def test_device_message_has_device_origin_availability_and_components() -> None:
    d = found("light:hall", device_spec("light"), "Hall light")
    assert d.topic == "homeassistant/device/light_hall/config"
    p = d.payload
    assert p["dev"] == {
        "ids": ["smartev_light_hall"],
        "name": "Hall light",
        "mf": "ACME",
        "mdl": "X1",
        "sw": "2.0",
    }
    assert p["o"] == {"name": "smartev", "sw": "9.9.9"}
    assert p["availability"] == [
        {"topic": "smartev/bridge/availability"},
        {"topic": "smartev/light_hall/availability"},
    ]
    assert p["availability_mode"] == "all"
    light = cmps(d)["light"]
    assert light["p"] == "light"
    assert light["unique_id"] == "smartev_light_hall_light"
    assert light["name"] is None  # the light is the device itself
    assert light["state_topic"] == "smartev/light_hall/state"
    assert light["command_topic"] == "smartev/light_hall/light/set"
    assert light["brightness_command_topic"] == "smartev/light_hall/light_brightness/set"
    assert light["brightness_scale"] == 100
    assert d.commands["light"].choices == {
        "ON": Call("light.turn_on"),
        "OFF": Call("light.turn_off"),
    }
    assert d.commands["light_brightness"].value == ValueTarget(
        "light.turn_on", Format.INT, arg="brightness"
    )


def test_origin_url_and_default_model() -> None:
    d = discover(
        "light:hall",
        "Hall",
        device_spec("light"),
        DeviceInfo(),
        topics=Topics("ha", "home"),
        origin_version="1",
        origin_url="https://example.org/smartev",
    )
    assert d.topic == "ha/device/light_hall/config"
    assert d.payload["o"]["url"] == "https://example.org/smartev"
    assert d.payload["dev"]["mdl"] == "light"
    assert "sw" not in d.payload["dev"]
    assert cmps(d)["light"]["command_topic"] == "home/light_hall/light/set"


@pytest.mark.parametrize("kind", sorted(DEVICE_KINDS))
def test_every_shipped_kind_is_consistent(kind: str) -> None:
    """Each template reads a key of the state message; each command topic has a binding."""
    d = found(f"{kind}:one", device_spec(kind))
    keys = {slug(ref) for ref in d.state_refs}
    assert cmps(d), f"{kind} exposes nothing"
    for cid, component in cmps(d).items():
        assert component["unique_id"] == f"smartev_{kind}_one_{cid}"
        for option, text in component.items():
            if option.endswith("template"):
                assert set(re.findall(r"value_json\['(\w+)'\]", text)) <= keys, option
            if option.endswith("command_topic"):
                parsed = TOPICS.parse_command(text)
                assert parsed is not None
                assert parsed[0] == f"{kind}_one"
                assert parsed[1] in d.commands


def test_thermostat_is_a_climate() -> None:
    climate = cmps(found("thermostat:living", device_spec("thermostat")))["climate"]
    assert climate["p"] == "climate"
    assert climate["modes"] == ["off", "heat", "cool", "auto"]
    assert climate["mode_command_topic"] == "smartev/thermostat_living/climate_mode/set"
    assert climate["temperature_command_topic"] == (
        "smartev/thermostat_living/climate_temperature/set"
    )
    assert climate["current_temperature_template"] == (
        "{{ value_json['thermostat_current_temperature'] }}"
    )
    assert climate["action_topic"] == "smartev/thermostat_living/state"
    assert (climate["min_temp"], climate["max_temp"], climate["temp_step"]) == (5, 35, 0.5)
    assert climate["temperature_unit"] == "C"


def test_garage_door_is_a_garage_cover() -> None:
    d = found("garage_door:main", device_spec("garage_door"))
    cover = cmps(d)["cover"]
    assert (cover["p"], cover["device_class"]) == ("cover", "garage")
    assert cover["state_opening"] == "opening"
    assert cover["state_stopped"] == "stopped"
    assert cover["position_template"] == "{{ value_json['door_position'] }}"
    assert d.commands["cover"].choices == {
        "OPEN": Call("door.open"),
        "CLOSE": Call("door.close"),
        "STOP": Call("door.stop"),
    }


def test_door_lock_wallbox_and_phone() -> None:
    lock = found("door_lock:front", device_spec("door_lock"))
    assert cmps(lock)["lock"]["state_jammed"] == "jammed"
    assert lock.commands["lock"].choices == {
        "LOCK": Call("lock.lock"),
        "UNLOCK": Call("lock.unlock"),
    }

    wallbox = found("wallbox:garage", device_spec("wallbox"))
    c = cmps(wallbox)
    assert c["charging"]["p"] == "switch"
    assert wallbox.commands["charging"].choices == {
        "ON": Call("charger.start"),
        "OFF": Call("charger.stop"),
    }
    limit = c["charger_current_limit"]
    assert (limit["p"], limit["min"], limit["max"]) == ("number", 6, 32)
    assert (limit["unit_of_measurement"], limit["device_class"]) == ("A", "current")
    assert c["charger_state"]["device_class"] == "enum"
    assert "charging" in c["charger_state"]["options"]
    energy = c["charger_session_energy"]
    assert (energy["device_class"], energy["state_class"]) == ("energy", "total_increasing")
    assert c["charger_power"]["state_class"] == "measurement"

    phone = cmps(found("phone:alice", device_spec("phone")))
    assert list(phone) == ["tracker"]
    tracker = phone["tracker"]
    assert (tracker["p"], tracker["source_type"]) == ("device_tracker", "gps")
    assert "'latitude': value_json['location_latitude']" in tracker["json_attributes_template"]


def test_generic_mapping_by_format_and_access() -> None:
    plug = found("smart_plug:kettle", device_spec("smart_plug"))
    c = cmps(plug)
    assert c["switch_on"]["p"] == "switch"
    assert plug.commands["switch_on"].choices == {
        "ON": Write("switch.on", True),
        "OFF": Write("switch.on", False),
    }
    assert (c["meter_power"]["device_class"], c["meter_power"]["unit_of_measurement"]) == (
        "power",
        "W",
    )
    battery = cmps(found("home_battery:b", device_spec("home_battery")))
    assert battery["battery_soc"]["device_class"] == "battery"
    assert battery["battery_mode"]["p"] == "select"
    assert battery["battery_mode"]["options"] == ["auto", "hold", "charge"]
    presence = cmps(found("presence_sensor:hall", device_spec("presence_sensor")))
    assert presence["presence_occupied"]["p"] == "binary_sensor"
    assert presence["presence_occupied"]["device_class"] == "occupancy"
    assert presence["presence_illuminance"]["unit_of_measurement"] == "lx"
    thermostat = cmps(found("thermostat:t", device_spec("thermostat")))
    assert list(thermostat) == ["climate"]  # every thermostat property is in the climate


def test_the_simulated_home_is_discovered_by_name() -> None:
    home = default_home(SimClock(datetime(2025, 6, 1, 12, tzinfo=UTC)), 48.14, 11.58)
    names = {}
    for driver in home.drivers():
        d = discover(
            driver.device_id,
            driver.name,
            driver.spec,
            DeviceInfo(),
            topics=TOPICS,
            origin_version="1",
        )
        names[d.node_id] = d.payload["dev"]["name"]
        state = state_payload(d, driver.values())
        assert set(state) == {slug(r) for r in d.state_refs}
    assert names["light_hall"] == "Hall light"
    assert names["garage_door_main"] == "Garage door"
    assert len(names) == len(home.drivers())


def test_the_car_exposes_its_meaningful_signals_only() -> None:
    d = the_car()
    c = cmps(d)
    assert {k: v["p"] for k, v in c.items()} == {
        "lock": "lock",
        "climate": "climate",
        "charge_limit": "number",
        "charging": "switch",
        "honk": "button",
        "flash": "button",
        "trunk": "button",
        "tracker": "device_tracker",
        "battery": "sensor",
        "range": "sensor",
        "speed": "sensor",
        "odometer": "sensor",
        "charging_power": "sensor",
        "time_to_full": "sensor",
        "cabin_temperature": "sensor",
        "outside_temperature": "sensor",
        "plugged_in": "binary_sensor",
    }
    assert len(d.state_refs) < 25 < len(shipped_catalog())
    assert c["lock"]["command_topic"] == f"smartev/car_{VIN}/lock/set"
    assert c["lock"]["value_template"].count(f"value_json['{slug(LOCKED)}']") == 2
    assert d.commands["lock"].choices == {"LOCK": Call("door.lock"), "UNLOCK": Call("door.unlock")}
    assert d.commands["honk"].choices == {"PRESS": Call("car.honk")}
    assert d.commands["trunk"].choices == {"PRESS": Call("trunk.open")}
    assert (c["charge_limit"]["min"], c["charge_limit"]["max"]) == (50, 100)
    assert d.commands["charge_limit"].value == ValueTarget(
        "charge_limit.set", Format.INT, arg="percent"
    )
    assert (c["battery"]["device_class"], c["battery"]["unit_of_measurement"]) == ("battery", "%")
    odometer = c["odometer"]
    assert (odometer["unit_of_measurement"], odometer["state_class"]) == ("km", "total_increasing")
    assert "* 0.001" in odometer["value_template"]
    assert c["plugged_in"]["device_class"] == "plug"
    climate = c["climate"]
    assert climate["modes"] == ["auto", "off"]
    assert (climate["min_temp"], climate["max_temp"]) == (15, 30)
    assert "auto" in climate["mode_state_template"]
    tracker = c["tracker"]["json_attributes_template"]
    assert "value_json['vehicle_currentlocation_latitude']" in tracker


def test_a_smaller_car_exposes_only_what_it_has() -> None:
    full = shipped_catalog()
    small = Catalog(s for s in full if s.path in (LOCKED, f"{BATTERY}.StateOfCharge.Current"))
    d = the_car(small)
    assert set(cmps(d)) == {"lock", "battery", "honk", "flash", "trunk", "climate"}
    assert "temperature_state_topic" not in cmps(d)["climate"]
    assert set(d.state_refs) == {LOCKED, f"{BATTERY}.StateOfCharge.Current"}


# --- command payloads --------------------------------------------------------------------------

LIGHT = found("light:hall", device_spec("light"))
THERMOSTAT = found("thermostat:living", device_spec("thermostat"))
CAR = the_car()


def test_parse_fixed_payloads_numbers_and_options() -> None:
    assert parse_command(LIGHT.commands["light"], "ON", {}) == Call("light.turn_on")
    assert parse_command(LIGHT.commands["light_brightness"], "40", {}) == Call(
        "light.turn_on", {"brightness": 40}
    )
    assert parse_command(LIGHT.commands["light_brightness"], "40.0", {}) == Call(
        "light.turn_on", {"brightness": 40}
    )
    assert parse_command(THERMOSTAT.commands["climate_mode"], "cool", {}) == Write(
        "thermostat.mode", "cool"
    )
    assert parse_command(THERMOSTAT.commands["climate_temperature"], "21.5", {}) == Write(
        "thermostat.target_temperature", 21.5
    )
    battery = found("home_battery:b", device_spec("home_battery"))
    assert parse_command(battery.commands["battery_mode"], "hold", {}) == Write(
        "battery.mode", "hold"
    )
    assert parse_command(CAR.commands["charge_limit"], "80", {}) == Call(
        "charge_limit.set", {"percent": 80}
    )


@pytest.mark.parametrize(
    ("binding", "payload", "reason"),
    [
        (LIGHT.commands["light"], "on", "not one of: ON, OFF"),
        (LIGHT.commands["light_brightness"], "bright", "not a number"),
        (LIGHT.commands["light_brightness"], "40.5", "not a whole number"),
        (LIGHT.commands["light_brightness"], "nan", "not a finite number"),
        (THERMOSTAT.commands["climate_mode"], "dry", "not one of"),
        (CAR.commands["lock"], "OPEN", "not one of: LOCK, UNLOCK"),
    ],
)
def test_bad_payloads_are_refused_with_the_reason(
    binding: CommandBinding, payload: str, reason: str
) -> None:
    with pytest.raises(RejectedCommandError, match=reason):
        parse_command(binding, payload, {})


def test_car_climate_on_keeps_the_set_temperature_within_the_command_range() -> None:
    mode = CAR.commands["climate_mode"]
    driver_temp = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
    assert parse_command(mode, "off", {}) == Call("hvac.off")
    assert parse_command(mode, "auto", {driver_temp: 23.5}) == Call("hvac.set", {"temp_c": 23.5})
    assert parse_command(mode, "auto", {driver_temp: 40.0}) == Call("hvac.set", {"temp_c": 30})
    assert parse_command(mode, "auto", {}) == Call("hvac.set", {"temp_c": 21.0})
    call = Call("hvac.set", from_state=(FromState("temp_c", driver_temp, 21.0, 15, 30),))
    assert mode.choices["auto"] == call


BINDINGS = [b for d in (LIGHT, THERMOSTAT, CAR) for b in d.commands.values()]


@given(st.sampled_from(BINDINGS), st.text(max_size=40))
def test_any_text_is_a_request_or_a_refusal(binding: CommandBinding, payload: str) -> None:
    values: Mapping[str, float] = {}
    try:
        request: Call | Write | None = parse_command(binding, payload, values)
    except RejectedCommandError:
        request = None  # refused: fine, as long as nothing else escaped
    assert request is None or isinstance(request, Call | Write)
