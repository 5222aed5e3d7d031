"""The car's device spec from a VSS catalog: properties by VSS path, commands as actions, events."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smartev.spec import (
    CAR_EVENT_SIGNALS,
    ActionSpec,
    Catalog,
    DataType,
    DeviceSpecError,
    Format,
    InvalidValueError,
    Kind,
    PropertySpec,
    car_action_ref,
    car_command_name,
    car_spec,
    shipped_catalog,
    split_ref,
)
from smartev.spec.devices import READ_NOTIFY, READ_WRITE_NOTIFY, Access

SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
AC = "Vehicle.Cabin.HVAC.IsAirConditioningActive"

# The shapes of the remote commands, as the cloud builds them from vehicle.command_table.
COMMAND_ACTIONS = (
    ActionSpec("door.lock", description="lock all doors"),
    ActionSpec("door.unlock"),
    ActionSpec(
        "trunk.open",
        inputs=(PropertySpec("trunk", Format.STRING, values=("front", "rear"), required=False),),
    ),
    ActionSpec("charging.start"),
    ActionSpec("charging.stop"),
    ActionSpec("charge_limit.set", inputs=(PropertySpec("percent", Format.INT, low=50, high=100),)),
    ActionSpec("hvac.set", inputs=(PropertySpec("temp_c", Format.FLOAT, low=15, high=30),)),
    ActionSpec("hvac.off"),
    ActionSpec("honk"),
    ActionSpec("flash"),
)


def test_every_scalar_leaf_of_the_full_catalog_is_a_property(full_catalog: Catalog) -> None:
    spec = car_spec(full_catalog)
    scalars = {signal.path for signal in full_catalog if not signal.datatype.is_array}
    assert set(spec.properties) == scalars
    assert len(scalars) == len(full_catalog) - 23  # VSS 6.0 has 23 array leaves
    assert spec.kind == "car"


def test_the_ref_is_the_vss_path_and_the_service_its_branch(full_catalog: Catalog) -> None:
    spec = car_spec(full_catalog)
    for service in spec:
        for prop in service.properties:
            assert full_catalog.is_branch(service.name)
            assert f"{service.name}.{prop.name}" in full_catalog
    device, member = split_ref(f"car:LSJWH4097PN000001/{SOC}")
    assert (device, member) == ("car:LSJWH4097PN000001", SOC)
    assert spec.property(member).name == "Current"


def test_formats_units_bounds_and_access_follow_vss(full_catalog: Catalog) -> None:
    spec = car_spec(full_catalog)
    ac = spec.property(AC)
    assert (ac.format, ac.access, ac.writable) == (Format.BOOL, READ_WRITE_NOTIFY, True)
    speed = spec.property("Vehicle.Speed")
    assert (speed.format, speed.unit, speed.access) == (Format.FLOAT, "km/h", READ_NOTIFY)
    assert not speed.writable
    assert (speed.low, speed.high) == (None, None)
    soc = spec.property(SOC)
    assert (soc.format, soc.low, soc.high, soc.unit) == (Format.FLOAT, 0, 100, "percent")
    vin = spec.property("Vehicle.VehicleIdentification.VIN")
    assert (vin.format, vin.access) == (Format.STRING, frozenset({Access.READ}))
    assert soc.description == full_catalog.get(SOC).description


def test_every_property_matches_its_signal(full_catalog: Catalog) -> None:
    spec = car_spec(full_catalog)
    expected_format = {
        DataType.BOOLEAN: Format.BOOL,
        DataType.STRING: Format.STRING,
        DataType.FLOAT: Format.FLOAT,
        DataType.DOUBLE: Format.FLOAT,
    }
    for signal in full_catalog:
        if signal.datatype.is_array:
            continue
        prop = spec.property(signal.path)
        assert prop.format is expected_format.get(signal.datatype, Format.INT)
        assert prop.unit == signal.unit
        assert (Access.WRITE in prop.access) == (signal.kind is Kind.ACTUATOR)
        assert (Access.NOTIFY in prop.access) == (signal.kind is not Kind.ATTRIBUTE)
        if signal.min is not None:
            assert prop.low == signal.min
        if signal.max is not None:
            assert prop.high == signal.max
        assert prop.values == (signal.allowed or ())


def test_allowed_values_become_an_enum(full_catalog: Catalog) -> None:
    spec = car_spec(full_catalog)
    path = "Vehicle.Powertrain.Type"
    assert spec.property(path).values == full_catalog.get(path).allowed
    assert "ELECTRIC" in spec.property(path).values
    with pytest.raises(InvalidValueError) as caught:
        spec.property(path).validate("STEAM", f"car:X/{path}")
    assert caught.value.rule == "allowed"


def test_integers_without_vss_bounds_take_their_datatype_range(full_catalog: Catalog) -> None:
    spec = car_spec(full_catalog)
    for signal in full_catalog:
        if signal.datatype is DataType.UINT8 and signal.min is None and signal.max is None:
            prop = spec.property(signal.path)
            assert (prop.low, prop.high) == (0, 255)
            assert prop.validate(255) == 255
            with pytest.raises(InvalidValueError):
                prop.validate(256)
            return
    pytest.fail("VSS 6.0 has unbounded uint8 signals")


def test_validation_agrees_with_the_catalog_on_the_bounds(full_catalog: Catalog) -> None:
    spec = car_spec(full_catalog)
    for value in (-0.5, 0, 55.5, 100, 100.5):
        ours = _accepted(lambda v: spec.property(SOC).validate(v), value)
        theirs = _accepted(lambda v: full_catalog.validate(SOC, v), value)
        assert ours == theirs, value


def _accepted(check: Callable[[object], object], value: object) -> bool:
    try:
        check(value)
    except InvalidValueError:
        return False
    return True


def test_the_shipped_catalog_builds_too() -> None:
    spec = car_spec(shipped_catalog())
    catalog = shipped_catalog()
    assert set(spec.properties) == {s.path for s in catalog if not s.datatype.is_array}
    assert spec.property(AC).writable


# --- actions --------------------------------------------------------------------------------


def test_commands_are_actions_whose_ref_is_the_command_name() -> None:
    spec = car_spec(shipped_catalog(), COMMAND_ACTIONS)
    refs = {car_action_ref(action.name) for action in COMMAND_ACTIONS}
    assert set(spec.actions) == refs
    assert "door.lock" in spec.actions
    assert spec.action("door.lock").name == "lock"
    assert spec.action("door.lock").description == "lock all doors"
    services = {service.name: service for service in spec}
    assert [a.name for a in services["door"].actions] == ["lock", "unlock"]
    assert [a.name for a in services["charge_limit"].actions] == ["set"]


def test_commands_without_a_dot_belong_to_the_car_service() -> None:
    spec = car_spec(shipped_catalog(), COMMAND_ACTIONS)
    assert spec.action("car.honk").name == "honk"
    assert spec.action("car.flash").name == "flash"
    assert car_action_ref("honk") == "car.honk"
    assert car_action_ref("door.lock") == "door.lock"
    for action in COMMAND_ACTIONS:
        assert car_command_name(car_action_ref(action.name)) == action.name


def test_action_inputs_are_checked() -> None:
    spec = car_spec(shipped_catalog(), COMMAND_ACTIONS)
    hvac = spec.action("hvac.set")
    assert hvac.check_inputs({"temp_c": 21}) == {"temp_c": 21.0}
    with pytest.raises(InvalidValueError, match="must be 15..30"):
        hvac.check_inputs({"temp_c": 40}, "car:X/hvac.set")
    assert spec.action("trunk.open").check_inputs({}) == {}
    with pytest.raises(InvalidValueError, match="argument percent is missing"):
        spec.action("charge_limit.set").check_inputs({})


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("car.honk", "reserved"),
        ("Door.lock", "lower-case"),
        ("door.", "lower-case"),
        (".lock", "lower-case"),
        ("door.lock.all", "lower-case"),
        ("", "lower-case"),
    ],
)
def test_malformed_command_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(DeviceSpecError, match=reason):
        car_spec(shipped_catalog(), [ActionSpec(name)])


def test_a_command_given_twice_is_refused() -> None:
    with pytest.raises(DeviceSpecError, match=r"door\.lock is declared twice"):
        car_spec(shipped_catalog(), [ActionSpec("door.lock"), ActionSpec("door.lock")])


# --- events -------------------------------------------------------------------------------------


def test_the_car_events() -> None:
    spec = car_spec(shipped_catalog())
    assert set(spec.events) == {
        "car.plugged_in",
        "car.unplugged",
        "car.charging_started",
        "car.charging_finished",
        "car.locked",
        "car.unlocked",
    }
    assert set(CAR_EVENT_SIGNALS) == set(spec.events)
    for ref, event in spec.events.items():
        assert event.args == ()
        assert event.description == CAR_EVENT_SIGNALS[ref].description


@pytest.mark.parametrize("catalog_name", ["shipped", "full"])
def test_event_signals_are_boolean_signals_of_the_catalogs(
    catalog_name: str, full_catalog: Catalog
) -> None:
    catalog = shipped_catalog() if catalog_name == "shipped" else full_catalog
    for signal in CAR_EVENT_SIGNALS.values():
        assert catalog.get(signal.path).datatype is DataType.BOOLEAN
    assert CAR_EVENT_SIGNALS["car.plugged_in"].path.endswith("IsChargingCableConnected")
    assert CAR_EVENT_SIGNALS["car.charging_finished"].path.endswith("Charging.IsCharging")
    assert not CAR_EVENT_SIGNALS["car.charging_finished"].becomes
    assert CAR_EVENT_SIGNALS["car.locked"].path.endswith("Row1.DriverSide.IsLocked")
    assert CAR_EVENT_SIGNALS["car.locked"].becomes
