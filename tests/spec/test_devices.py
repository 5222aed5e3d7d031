"""The device model: PropertySpec.validate, ActionSpec.check_inputs, DeviceSpec, split_ref."""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.spec import (
    READ_WRITE_NOTIFY,
    ActionSpec,
    DeviceSpec,
    DeviceSpecError,
    EventSpec,
    Format,
    InvalidValueError,
    PropertySpec,
    ServiceSpec,
    UnknownMemberError,
    split_ref,
)

BRIGHTNESS = PropertySpec("brightness", Format.INT, unit="%", low=0, high=100)
TARGET = PropertySpec("target_temperature", Format.FLOAT, unit="Cel", low=5, high=35)
MODE = PropertySpec("mode", Format.STRING, values=("off", "heat", "cool", "auto"))
ON = PropertySpec("on", Format.BOOL, access=READ_WRITE_NOTIFY)
OPEN_ABOVE = PropertySpec("level", Format.FLOAT, low=-10.5)
OPEN_BELOW = PropertySpec("level", Format.INT, high=1_000_000)

ANY_VALUE = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=4)
    | st.fractions()
    | st.decimals()
    | st.lists(st.integers(), max_size=3)
    | st.tuples(st.floats())
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
    | st.complex_numbers()
)
SPECS = st.sampled_from([BRIGHTNESS, TARGET, MODE, ON, OPEN_ABOVE, OPEN_BELOW])
CANONICAL = {Format.BOOL: bool, Format.INT: int, Format.FLOAT: float, Format.STRING: str}


class Mode(StrEnum):
    HEAT = "heat"


# --- PropertySpec.validate ------------------------------------------------------------------


@given(spec=SPECS, value=ANY_VALUE)
def test_validate_returns_the_canonical_type_or_refuses_with_a_message(
    spec: PropertySpec, value: object
) -> None:
    refusal: InvalidValueError | None = None
    try:
        checked = spec.validate(value, "light:hall/light.level")
    except InvalidValueError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.path == "light:hall/light.level"
        assert refusal.rule in {"type", "finite", "range", "allowed", "min", "max"}
        assert str(refusal).startswith("invalid value ")
        assert "light:hall/light.level: must " in str(refusal)
        return
    assert type(checked) is CANONICAL[spec.format]
    if isinstance(checked, float):
        assert math.isfinite(checked)
    if spec.low is not None:
        assert checked >= spec.low  # type: ignore[operator]
    if spec.high is not None:
        assert checked <= spec.high  # type: ignore[operator]
    if spec.values:
        assert checked in spec.values


@given(st.integers(min_value=0, max_value=100))
def test_an_int_in_range_is_accepted_as_itself(value: int) -> None:
    assert BRIGHTNESS.validate(value) == value


@given(st.floats(min_value=5, max_value=35))
def test_a_float_in_range_is_accepted(value: float) -> None:
    assert TARGET.validate(value) == value


@pytest.mark.parametrize(
    ("spec", "value", "rule"),
    [
        (BRIGHTNESS, True, "type"),  # a bool is not an int
        (BRIGHTNESS, 50.0, "type"),  # nor is a float that happens to be whole
        (BRIGHTNESS, "50", "type"),  # nothing is parsed from text
        (TARGET, False, "type"),
        (TARGET, Decimal("20"), "type"),
        (TARGET, math.nan, "finite"),
        (TARGET, math.inf, "finite"),
        (TARGET, 10**400, "range"),
        (ON, 1, "type"),
        (ON, "true", "type"),
        (MODE, 1, "type"),
        (MODE, "dry", "allowed"),
        (BRIGHTNESS, -1, "min"),
        (BRIGHTNESS, 101, "max"),
        (TARGET, 4.99, "min"),
        (TARGET, 35.01, "max"),
    ],
)
def test_strict_types_and_rules(spec: PropertySpec, value: object, rule: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        spec.validate(value)
    assert caught.value.rule == rule
    assert caught.value.path == spec.name


def test_an_int_is_a_float_and_comes_back_as_one() -> None:
    checked = TARGET.validate(20)
    assert checked == 20.0
    assert type(checked) is float


def test_a_bool_is_only_a_bool() -> None:
    assert ON.validate(True) is True
    assert ON.validate(False) is False


def test_a_str_enum_member_comes_back_as_plain_text() -> None:
    checked = MODE.validate(Mode.HEAT)
    assert checked == "heat"
    assert type(checked) is str


def test_messages_name_the_path_and_the_rule_with_unit() -> None:
    with pytest.raises(InvalidValueError, match=r"invalid value 140 for light:hall/light\."):
        BRIGHTNESS.validate(140, "light:hall/light.brightness")
    with pytest.raises(InvalidValueError) as caught:
        BRIGHTNESS.validate(140)
    assert str(caught.value) == "invalid value 140 for brightness: must be 0..100 %"
    with pytest.raises(InvalidValueError) as caught:
        TARGET.validate(40.5)
    assert caught.value.requirement == "must be 5..35 Cel"
    with pytest.raises(InvalidValueError) as caught:
        OPEN_ABOVE.validate(-11)
    assert caught.value.requirement == "must be at least -10.5"
    with pytest.raises(InvalidValueError) as caught:
        OPEN_BELOW.validate(2_000_000)
    assert caught.value.requirement == "must be at most 1000000"
    with pytest.raises(InvalidValueError) as caught:
        MODE.validate("dry")
    assert caught.value.requirement == "must be one of off, heat, cool, auto"


def test_writable_follows_access() -> None:
    assert ON.writable
    assert not BRIGHTNESS.writable


# --- ActionSpec.check_inputs ------------------------------------------------------------------

SET = ActionSpec(
    "set",
    inputs=(
        PropertySpec("mode", Format.STRING, values=("off", "heat"), required=False),
        PropertySpec("target_temperature", Format.FLOAT, low=5, high=35),
    ),
)


def test_check_inputs_accepts_and_canonicalises() -> None:
    assert SET.check_inputs({"target_temperature": 21}) == {"target_temperature": 21.0}
    assert SET.check_inputs({"mode": "heat", "target_temperature": 21.5}) == {
        "mode": "heat",
        "target_temperature": 21.5,
    }


def test_check_inputs_refuses_unknown_arguments_and_lists_the_expected() -> None:
    with pytest.raises(InvalidValueError) as caught:
        SET.check_inputs({"target_temperature": 21, "speed": 3, "fan": 1}, "thermostat:x/t.set")
    assert caught.value.rule == "unknown"
    assert caught.value.path == "thermostat:x/t.set"
    assert "unknown argument(s) fan, speed; expected: mode, target_temperature" in str(caught.value)


def test_check_inputs_refuses_a_missing_required_argument() -> None:
    with pytest.raises(InvalidValueError, match="argument target_temperature is missing") as c:
        SET.check_inputs({"mode": "off"})
    assert c.value.rule == "missing"


def test_check_inputs_names_the_argument_of_a_bad_value() -> None:
    with pytest.raises(InvalidValueError) as caught:
        SET.check_inputs({"target_temperature": 50}, "thermostat:x/thermostat.set")
    assert caught.value.path == "thermostat:x/thermostat.set argument target_temperature"
    assert caught.value.rule == "max"


def test_an_action_without_inputs_takes_no_arguments() -> None:
    toggle = ActionSpec("toggle")
    assert toggle.check_inputs({}) == {}
    with pytest.raises(InvalidValueError, match="expected: none"):
        toggle.check_inputs({"x": 1})


@given(st.dictionaries(st.text(max_size=20), st.none() | st.integers() | st.floats()))
def test_check_inputs_never_raises_anything_else(args: dict[str, object]) -> None:
    try:
        checked = SET.check_inputs(args)
    except InvalidValueError:
        return
    assert set(checked) <= {"mode", "target_temperature"}


# --- DeviceSpec ---------------------------------------------------------------------------------

LIGHT = DeviceSpec(
    "light",
    "a light",
    (
        ServiceSpec(
            "light",
            properties=(ON, BRIGHTNESS),
            actions=(ActionSpec("toggle"),),
            events=(EventSpec("flickered"),),
        ),
    ),
)


def test_lookups_by_ref() -> None:
    assert LIGHT.property("light.on") is ON
    assert LIGHT.action("light.toggle").name == "toggle"
    assert LIGHT.event("light.flickered").name == "flickered"
    assert list(LIGHT.properties) == ["light.on", "light.brightness"]
    assert [service.name for service in LIGHT] == ["light"]


@pytest.mark.parametrize(
    ("lookup", "ref", "what"),
    [("property", "light.dim", "property"), ("action", "light.on", "action")],
)
def test_an_unknown_ref_names_what_exists(lookup: str, ref: str, what: str) -> None:
    with pytest.raises(UnknownMemberError) as caught:
        getattr(LIGHT, lookup)(ref)
    assert caught.value.ref == ref
    assert f"light has no {what} '{ref}'" in str(caught.value)
    assert isinstance(caught.value, LookupError)


def test_an_unknown_event_says_none_when_there_are_none() -> None:
    plain = DeviceSpec("plain", "", (ServiceSpec("s"),))
    with pytest.raises(UnknownMemberError, match="it has: none"):
        plain.event("s.x")


def test_a_ref_declared_twice_is_refused() -> None:
    with pytest.raises(DeviceSpecError, match=r"light\.on is declared twice"):
        DeviceSpec("light", "", (ServiceSpec("light", (ON,)), ServiceSpec("light", (ON,))))


def test_specs_are_values() -> None:
    again = DeviceSpec(LIGHT.kind, LIGHT.description, LIGHT.services)
    assert again == LIGHT
    assert hash(again) == hash(LIGHT)


# --- split_ref ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("light:hall/light.on", ("light:hall", "light.on")),
        (
            "car:LSJWH4097PN000001/Vehicle.Cabin.HVAC.IsAirConditioningActive",
            ("car:LSJWH4097PN000001", "Vehicle.Cabin.HVAC.IsAirConditioningActive"),
        ),
        ("phone:anna/location.latitude", ("phone:anna", "location.latitude")),
    ],
)
def test_split_ref(ref: str, parts: tuple[str, str]) -> None:
    assert split_ref(ref) == parts


@pytest.mark.parametrize(
    "ref",
    [
        "light.on",
        "light:hall",
        "light:hall/on",
        "light:hall/light.",
        "light:hall/.on",
        "light:hall/light..on",
        "light:hall/light.on/x",
        "Light:hall/light.on",
        "light/light.on",
        ":hall/light.on",
        "",
    ],
)
def test_split_ref_refuses_malformed_refs(ref: str) -> None:
    with pytest.raises(ValueError, match="is not <kind>:<id>/<service>.<name>"):
        split_ref(ref)


@given(st.text(max_size=40))
def test_split_ref_on_any_text_splits_or_raises_value_error(ref: str) -> None:
    try:
        device, member = split_ref(ref)
    except ValueError:
        return
    assert f"{device}/{member}" == ref
