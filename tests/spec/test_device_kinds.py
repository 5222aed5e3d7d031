"""The shipped device kinds: exact names, formats, units, ranges, enum values and access."""

from __future__ import annotations

import pytest

from smartev.spec import (
    DEVICE_KINDS,
    Access,
    ActionSpec,
    DeviceSpecError,
    EventSpec,
    Format,
    InvalidValueError,
    PropertySpec,
    device_spec,
)
from smartev.spec.devices import NAME

R = frozenset({Access.READ, Access.NOTIFY})
RW = frozenset({Access.READ, Access.WRITE, Access.NOTIFY})
BOOL, INT, FLOAT, TEXT = Format.BOOL, Format.INT, Format.FLOAT, Format.STRING
Row = tuple[Format, str | None, float | None, float | None, tuple[str, ...], frozenset[Access]]

# kind → ref → (format, unit, low, high, values, access): the contract the other packages use.
PROPERTIES: dict[str, dict[str, Row]] = {
    "light": {
        "light.on": (BOOL, None, None, None, (), RW),
        "light.brightness": (INT, "%", 0, 100, (), RW),
    },
    "thermostat": {
        "thermostat.mode": (TEXT, None, None, None, ("off", "heat", "cool", "auto"), RW),
        "thermostat.target_temperature": (FLOAT, "Cel", 5, 35, (), RW),
        "thermostat.current_temperature": (FLOAT, "Cel", None, None, (), R),
        "thermostat.action": (TEXT, None, None, None, ("idle", "heating", "cooling"), R),
    },
    "garage_door": {
        "door.state": (
            TEXT,
            None,
            None,
            None,
            ("open", "opening", "closed", "closing", "stopped"),
            R,
        ),
        "door.position": (INT, "%", 0, 100, (), R),
    },
    "door_lock": {
        "lock.locked": (BOOL, None, None, None, (), R),
        "lock.state": (TEXT, None, None, None, ("locked", "unlocked", "jammed"), R),
    },
    "smart_plug": {
        "switch.on": (BOOL, None, None, None, (), RW),
        "meter.power": (FLOAT, "W", None, None, (), R),
        "meter.energy": (FLOAT, "kWh", None, None, (), R),
    },
    "wallbox": {
        "charger.state": (
            TEXT,
            None,
            None,
            None,
            (
                "available",
                "connected",
                "charging",
                "suspended_ev",
                "suspended_evse",
                "finished",
                "fault",
            ),
            R,
        ),
        "charger.power": (FLOAT, "W", None, None, (), R),
        "charger.current_limit": (FLOAT, "A", 6, 32, (), RW),
        "charger.session_energy": (FLOAT, "kWh", None, None, (), R),
        "charger.enabled": (BOOL, None, None, None, (), R),
    },
    "solar_inverter": {
        "inverter.power": (FLOAT, "W", None, None, (), R),
        "inverter.energy_today": (FLOAT, "kWh", None, None, (), R),
    },
    "home_battery": {
        "battery.soc": (FLOAT, "%", 0, 100, (), R),
        "battery.power": (FLOAT, "W", None, None, (), R),
        "battery.mode": (TEXT, None, None, None, ("auto", "hold", "charge"), RW),
    },
    "presence_sensor": {
        "presence.occupied": (BOOL, None, None, None, (), R),
        "presence.illuminance": (FLOAT, "lx", None, None, (), R),
    },
    "energy_meter": {
        "grid.power": (FLOAT, "W", None, None, (), R),
        "grid.surplus_power": (FLOAT, "W", None, None, (), R),
        "tariff.price": (FLOAT, None, None, None, (), R),
        "tariff.currency": (TEXT, None, None, None, (), R),
    },
    "phone": {
        "location.latitude": (FLOAT, "degrees", -90, 90, (), R),
        "location.longitude": (FLOAT, "degrees", -180, 180, (), R),
        "location.accuracy": (FLOAT, "m", 0, None, (), R),
    },
}

# kind → action ref → {argument: required}
ACTIONS: dict[str, dict[str, dict[str, bool]]] = {
    "light": {
        "light.turn_on": {"brightness": False},
        "light.turn_off": {},
        "light.toggle": {},
    },
    "thermostat": {"thermostat.set": {"mode": False, "target_temperature": False}},
    "garage_door": {"door.open": {}, "door.close": {}, "door.stop": {}},
    "door_lock": {"lock.lock": {}, "lock.unlock": {}},
    "smart_plug": {"switch.turn_on": {}, "switch.turn_off": {}},
    "wallbox": {
        "charger.start": {},
        "charger.stop": {},
        "charger.set_current_limit": {"current_a": True},
    },
}

# kind → event ref → argument names
EVENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "garage_door": {"door.obstructed": ()},
    "door_lock": {"lock.operated": ("method",)},
    "wallbox": {
        "charger.plugged_in": (),
        "charger.unplugged": (),
        "charger.charging_finished": (),
    },
}


def test_the_shipped_kinds_are_exactly_these() -> None:
    assert set(DEVICE_KINDS) == set(PROPERTIES)


@pytest.mark.parametrize("kind", sorted(PROPERTIES))
def test_properties_are_exactly_as_agreed(kind: str) -> None:
    spec = device_spec(kind)
    assert spec.kind == kind
    assert spec.description
    assert set(spec.properties) == set(PROPERTIES[kind])
    for ref, (fmt, unit, low, high, values, access) in PROPERTIES[kind].items():
        prop = spec.property(ref)
        assert (prop.format, prop.unit, prop.low, prop.high) == (fmt, unit, low, high), ref
        assert prop.values == values, ref
        assert prop.access == access, ref
        assert prop.description, ref


@pytest.mark.parametrize("kind", sorted(PROPERTIES))
def test_actions_and_events_are_exactly_as_agreed(kind: str) -> None:
    spec = device_spec(kind)
    assert {ref: {p.name: p.required for p in a.inputs} for ref, a in spec.actions.items()} == (
        ACTIONS.get(kind, {})
    )
    assert {ref: tuple(p.name for p in e.args) for ref, e in spec.events.items()} == (
        EVENTS.get(kind, {})
    )
    for action in spec.actions.values():
        assert action.description
    for event in spec.events.values():
        assert event.description


@pytest.mark.parametrize("kind", sorted(PROPERTIES))
def test_names_are_lower_case_words(kind: str) -> None:
    for service in device_spec(kind):
        assert NAME.fullmatch(service.name)
        members: list[PropertySpec | ActionSpec | EventSpec] = [
            *service.properties,
            *service.actions,
            *service.events,
        ]
        for member in members:
            assert NAME.fullmatch(member.name), member.name


def test_action_inputs_carry_the_property_rules() -> None:
    set_limit = device_spec("wallbox").action("charger.set_current_limit")
    assert set_limit.check_inputs({"current_a": 16}) == {"current_a": 16.0}
    with pytest.raises(InvalidValueError, match="must be 6..32 A"):
        set_limit.check_inputs({"current_a": 40})
    turn_on = device_spec("light").action("light.turn_on")
    assert turn_on.check_inputs({}) == {}
    assert turn_on.check_inputs({"brightness": 30}) == {"brightness": 30}
    with pytest.raises(InvalidValueError, match="must be 0..100 %"):
        turn_on.check_inputs({"brightness": 101})
    thermostat_set = device_spec("thermostat").action("thermostat.set")
    assert thermostat_set.check_inputs({"mode": "heat"}) == {"mode": "heat"}
    with pytest.raises(InvalidValueError, match="one of off, heat, cool, auto"):
        thermostat_set.check_inputs({"mode": "dry"})


def test_operated_takes_a_method() -> None:
    (method,) = device_spec("door_lock").event("lock.operated").args
    assert method.format is Format.STRING
    assert method.required


def test_an_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(DeviceSpecError) as caught:
        device_spec("toaster")
    message = str(caught.value)
    assert "unknown device kind 'toaster'" in message
    for kind in PROPERTIES:
        assert kind in message


def test_the_car_is_built_not_shipped() -> None:
    with pytest.raises(DeviceSpecError, match="car_spec"):
        device_spec("car")


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        DEVICE_KINDS["toaster"] = DEVICE_KINDS["light"]  # type: ignore[index]
