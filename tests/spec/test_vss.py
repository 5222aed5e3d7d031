"""The full VSS 6.0 catalog, the shipped subset, lookups, ids and the value rules."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from collections import Counter
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from smartev.core.errors import InvalidInputError
from smartev.spec import (
    Catalog,
    DataType,
    InvalidValueError,
    Kind,
    SignalSpec,
    UnknownPathError,
    Value,
    shipped_catalog,
)

CHARGE_LIMIT = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_vss_subset.py"


def make_spec(
    datatype: str,
    *,
    path: str = "Vehicle.X",
    kind: Kind = Kind.SENSOR,
    min: float | None = None,
    max: float | None = None,
    allowed: tuple[Value, ...] | None = None,
    pattern: str | None = None,
) -> SignalSpec:
    return SignalSpec(
        path=path,
        id=1,
        kind=kind,
        datatype=DataType(datatype),
        unit=None,
        min=min,
        max=max,
        allowed=allowed,
        description="",
        pattern=pattern,
    )


# --- the full release ---------------------------------------------------------------------------


def test_full_catalog_has_the_1263_leaves_of_vss_6_0(
    full_catalog: Catalog, full_vss_tree: dict[str, Any]
) -> None:
    assert len(full_catalog) == 1263
    assert Counter(spec.kind for spec in full_catalog) == {
        Kind.ACTUATOR: 643,
        Kind.SENSOR: 490,
        Kind.ATTRIBUTE: 130,
    }

    # counted independently of the loader: every node whose type is not "branch"
    def leaves(node: dict[str, object]) -> int:
        if node["type"] != "branch":
            return 1
        children = node.get("children", {})
        assert isinstance(children, dict)
        return sum(leaves(child) for child in children.values())

    assert sum(leaves(node) for node in full_vss_tree.values()) == 1263


@pytest.mark.parametrize(
    ("path", "kind", "datatype", "unit", "bounds"),
    [
        ("Vehicle.Speed", Kind.SENSOR, DataType.FLOAT, "km/h", (None, None)),
        ("Vehicle.TraveledDistance", Kind.SENSOR, DataType.UINT32, "m", (None, None)),
        (CHARGE_LIMIT, Kind.ACTUATOR, DataType.UINT8, "percent", (0, 100)),
        ("Vehicle.CurrentLocation.Latitude", Kind.SENSOR, DataType.DOUBLE, "degrees", (-90, 90)),
        ("Vehicle.VehicleIdentification.VIN", Kind.ATTRIBUTE, DataType.STRING, None, (None, None)),
        ("Vehicle.Cabin.SeatPosCount", Kind.ATTRIBUTE, DataType.UINT8_ARRAY, None, (None, None)),
        (
            "Vehicle.Powertrain.TractionBattery.Temperature.CellTemperature",
            Kind.SENSOR,
            DataType.FLOAT_ARRAY,
            None,
            (None, None),
        ),
    ],
)
def test_known_signals(
    full_catalog: Catalog,
    path: str,
    kind: Kind,
    datatype: DataType,
    unit: str | None,
    bounds: tuple[int | None, int | None],
) -> None:
    spec = full_catalog.get(path)
    assert (spec.kind, spec.datatype, spec.unit, (spec.min, spec.max)) == (
        kind,
        datatype,
        unit,
        bounds,
    )
    assert spec.description


def test_allowed_default_deprecation_and_pattern_are_read(full_catalog: Catalog) -> None:
    start_stop = full_catalog.get("Vehicle.Powertrain.TractionBattery.Charging.StartStopCharging")
    assert start_stop.allowed == ("START", "STOP")
    assert full_catalog.get(CHARGE_LIMIT).default == 100
    assert full_catalog.get("Vehicle.Cabin.SeatPosCount").default == (2, 3)
    tire = full_catalog.get("Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Temperature")
    assert tire.deprecation is not None
    assert tire.deprecation.startswith("v6.0")
    assert full_catalog.get("Vehicle.VehicleIdentification.VIN").pattern is not None
    assert Counter(spec.datatype for spec in full_catalog)[DataType.STRING_ARRAY] == 20


def test_ids_follow_the_sorted_paths_from_1(full_catalog: Catalog) -> None:
    specs = list(full_catalog)
    assert [spec.path for spec in specs] == sorted(spec.path for spec in specs)
    assert [spec.id for spec in specs] == list(range(1, 1264))
    speed = full_catalog.get("Vehicle.Speed")
    assert full_catalog.by_id(speed.id) is speed
    assert full_catalog.by_id(0) is None
    assert full_catalog.by_id(1264) is None


def test_lookup_and_membership(full_catalog: Catalog) -> None:
    assert "Vehicle.Speed" in full_catalog
    assert "Vehicle.Cabin" not in full_catalog  # a branch
    assert full_catalog.is_branch("Vehicle.Cabin")
    assert full_catalog.find("Vehicle.Sped") is None
    assert full_catalog.find("Vehicle.Speed") is full_catalog.get("Vehicle.Speed")


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("Vehicle.Sped", "unknown signal path 'Vehicle.Sped' (did you mean 'Vehicle.Speed'?)"),
        (
            "Vehicle.Cabn.Door.Row1.DriverSide.IsOpen",
            "did you mean 'Vehicle.Cabin.Door.Row1.DriverSide.IsOpen'",
        ),
        ("Vehicle.Cabin", "unknown signal path 'Vehicle.Cabin': it is a branch, not a signal"),
        ("Nothing.Like.It", "unknown signal path 'Nothing.Like.It'"),
        ("", "unknown signal path ''"),
    ],
)
def test_unknown_paths_are_named_with_close_matches(
    full_catalog: Catalog, path: str, fragment: str
) -> None:
    with pytest.raises(UnknownPathError, match=None) as caught:
        full_catalog.get(path)
    assert fragment in str(caught.value)
    assert caught.value.path == path
    assert isinstance(caught.value, InvalidInputError)


# --- the shipped subset -------------------------------------------------------------------------


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vss_subset", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_catalog_equals_the_release_for_every_signal(full_catalog: Catalog) -> None:
    shipped = shipped_catalog()
    assert shipped is shipped_catalog()  # read once
    assert 60 <= len(shipped) <= 120
    for spec in shipped:
        assert dataclasses.replace(spec, id=0) == dataclasses.replace(
            full_catalog.get(spec.path), id=0
        ), spec.path


def test_shipped_file_is_what_the_script_writes(full_vss_tree: dict[str, Any]) -> None:
    script = _script()
    assert {spec.path for spec in shipped_catalog()} == set(script.SIGNALS)
    shipped_file = Path(__file__).resolve().parents[2] / "src/smartev/spec/data/vss_signals.json"
    assert json.loads(shipped_file.read_text(encoding="utf-8")) == script.subset(
        full_vss_tree, script.SIGNALS
    )


def test_script_refuses_a_path_that_is_not_a_leaf(full_vss_tree: dict[str, Any]) -> None:
    script = _script()
    with pytest.raises(SystemExit, match=r"Vehicle\.Sped\n  Vehicle\.Cabin$"):
        script.subset(full_vss_tree, ["Vehicle.Speed", "Vehicle.Sped", "Vehicle.Cabin"])


@pytest.mark.parametrize(
    "path",
    [
        "Vehicle.Speed",
        "Vehicle.TraveledDistance",
        "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current",
        "Vehicle.Powertrain.TractionBattery.Range",
        "Vehicle.Powertrain.Range",
        CHARGE_LIMIT,
        "Vehicle.Powertrain.TractionBattery.Charging.IsCharging",
        "Vehicle.Powertrain.TractionBattery.Charging.StartStopCharging",
        "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsFlapOpen",
        "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsChargingCableConnected",
        "Vehicle.Cabin.Door.Row2.PassengerSide.IsLocked",
        "Vehicle.Body.Trunk.Rear.IsOpen",
        "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature",
        "Vehicle.Chassis.Axle.Row2.Wheel.Right.Tire.Pressure",
        "Vehicle.VehicleIdentification.VIN",
    ],
)
def test_shipped_catalog_has_what_the_system_uses(path: str) -> None:
    assert path in shipped_catalog()


# --- value rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("datatype", "value", "expected"),
    [
        ("boolean", True, True),
        ("boolean", False, False),
        ("string", "", ""),
        ("string", "ÄÖ 東京", "ÄÖ 東京"),
        ("int8", -128, -128),
        ("int8", 127, 127),
        ("int16", np.int16(-5), -5),
        ("int32", -(2**31), -(2**31)),
        ("int64", 2**63 - 1, 2**63 - 1),
        ("uint8", 0, 0),
        ("uint8", 255, 255),
        ("uint16", 65535, 65535),
        ("uint32", 2**32 - 1, 2**32 - 1),
        ("uint64", 2**64 - 1, 2**64 - 1),
        ("float", 1, 1.0),
        ("float", -3.5, -3.5),
        ("float", 3.4e38, 3.4e38),
        ("float", np.float32(1.5), 1.5),
        ("double", 1e300, 1e300),
        ("double", Fraction(1, 4), 0.25),
        ("boolean[]", [True, False], (True, False)),
        ("string[]", ("a", "b"), ("a", "b")),
        ("uint8[]", [], ()),
        ("uint8[]", [1, 255], (1, 255)),
        ("int16[]", (-1,), (-1,)),
        ("float[]", [1, 2.5], (1.0, 2.5)),
    ],
)
def test_good_values_come_back_in_the_datatype_python_type(
    datatype: str, value: object, expected: Value
) -> None:
    result = make_spec(datatype).validate(value)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(result, tuple):
        assert isinstance(expected, tuple)
        assert all(type(a) is type(b) for a, b in zip(result, expected, strict=True))


@pytest.mark.parametrize(
    ("datatype", "value", "rule", "message"),
    [
        ("boolean", 1, "type", "invalid value 1 for Vehicle.X: expected boolean"),
        ("boolean", "true", "type", "invalid value 'true' for Vehicle.X: expected boolean"),
        ("boolean", None, "type", "invalid value None for Vehicle.X: expected boolean"),
        ("boolean", np.bool_(True), "type", "expected boolean"),
        ("string", 5, "type", "invalid value 5 for Vehicle.X: expected string"),
        ("string", b"x", "type", "expected string"),
        ("uint8", True, "type", "invalid value True for Vehicle.X: expected uint8 (an integer)"),
        ("uint8", 1.0, "type", "expected uint8 (an integer)"),
        ("uint8", "1", "type", "expected uint8 (an integer)"),
        ("uint8", -1, "range", "invalid value -1 for Vehicle.X: must be 0..255 (uint8)"),
        ("uint8", 256, "range", "must be 0..255 (uint8)"),
        ("int8", 128, "range", "must be -128..127 (int8)"),
        ("uint16", 65536, "range", "must be 0..65535 (uint16)"),
        ("int32", 2**31, "range", "must be -2147483648..2147483647 (int32)"),
        ("uint64", 2**64, "range", "(uint64)"),
        ("int64", -(2**63) - 1, "range", "(int64)"),
        ("float", False, "type", "invalid value False for Vehicle.X: expected float (a number)"),
        ("float", "1.0", "type", "expected float (a number)"),
        ("float", math.nan, "finite", "invalid value nan for Vehicle.X: must be a finite number"),
        ("float", math.inf, "finite", "must be a finite number"),
        ("double", -math.inf, "finite", "must be a finite number"),
        ("float", 3.5e38, "range", "must fit in a float (|x| <= 3.4028235e+38)"),
        ("float", 10**400, "range", "must fit in a float"),
        ("double", 10**400, "range", "must fit in a double"),
        ("uint8[]", "12", "type", "invalid value '12' for Vehicle.X: expected uint8[] (a list"),
        ("uint8[]", {1, 2}, "type", "expected uint8[] (a list or tuple)"),
        ("uint8[]", [1, 300], "range", "invalid value 300 for Vehicle.X: item 1: must be 0..255"),
        ("string[]", ["a", 1], "type", "invalid value 1 for Vehicle.X: item 1: expected string"),
        ("float[]", [0.0, math.nan], "finite", "item 1: must be a finite number"),
    ],
)
def test_bad_values_name_the_path_and_the_rule(
    datatype: str, value: object, rule: str, message: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec(datatype).validate(value)
    assert caught.value.rule == rule
    assert caught.value.path == "Vehicle.X"
    assert message in str(caught.value)
    assert isinstance(caught.value, InvalidInputError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("spec", "value", "rule", "message"),
    [
        (make_spec("uint8", min=0, max=100), 140, "max", "must be 0..100"),
        (make_spec("int8", min=-100, max=100), -101, "min", "must be -100..100"),
        (make_spec("float", min=0), -0.5, "min", "invalid value -0.5 for Vehicle.X: must be >= 0"),
        (make_spec("float", max=100.0), 100.5, "max", "must be <= 100"),
        (make_spec("double", min=0.5), 0, "min", "must be >= 0.5"),
        (make_spec("int16[]", min=0, max=10), [0, 11], "max", "item 1: must be 0..10"),
        (
            make_spec("string", allowed=("AC", "DC")),
            "FAST",
            "allowed",
            "invalid value 'FAST' for Vehicle.X: must be one of 'AC', 'DC'",
        ),
        (
            make_spec("string[]", allowed=("AC", "DC")),
            ["AC", "ac"],
            "allowed",
            "invalid value 'ac' for Vehicle.X: item 1: must be one of 'AC', 'DC'",
        ),
        (make_spec("uint8", allowed=(1, 2, 4)), 3, "allowed", "must be one of 1, 2, 4"),
        (make_spec("string", pattern="[A-Z]{3}"), "ABCD", "pattern", "must match [A-Z]{3}"),
    ],
)
def test_signal_rules(spec: SignalSpec, value: object, rule: str, message: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        spec.validate(value)
    assert caught.value.rule == rule
    assert message in str(caught.value)


def test_bounds_are_inclusive() -> None:
    spec = make_spec("float", min=0, max=100.0)
    assert spec.validate(0) == 0.0
    assert spec.validate(100) == 100.0


def test_messages_from_the_real_catalog(full_catalog: Catalog) -> None:
    with pytest.raises(InvalidValueError) as caught:
        full_catalog.validate(CHARGE_LIMIT, 140)
    assert str(caught.value) == f"invalid value 140 for {CHARGE_LIMIT}: must be 0..100"
    assert caught.value.rule == "max"

    door = "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen"
    with pytest.raises(InvalidValueError) as caught:
        full_catalog.validate(door, "open")
    assert str(caught.value) == f"invalid value 'open' for {door}: expected boolean"

    vin = "Vehicle.VehicleIdentification.VIN"
    assert full_catalog.validate(vin, "WVWZZZ1JZXW000001") == "WVWZZZ1JZXW000001"
    with pytest.raises(InvalidValueError) as caught:
        full_catalog.validate(vin, "SIMCAR-0001")  # VINs never hold '-' (nor I, O, Q)
    assert caught.value.rule == "pattern"

    soc = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
    assert full_catalog.validate(soc, 100) == 100.0
    with pytest.raises(InvalidValueError, match=r"must be 0\.\.100$"):
        full_catalog.validate(soc, 100.01)

    with pytest.raises(UnknownPathError):
        full_catalog.validate("Vehicle.Sped", 1.0)


def test_only_actuators_take_a_target(full_catalog: Catalog) -> None:
    assert full_catalog.validate_target(CHARGE_LIMIT, 80) == 80
    with pytest.raises(InvalidValueError) as caught:
        full_catalog.validate_target("Vehicle.Speed", 10.0)
    assert caught.value.rule == "kind"
    assert str(caught.value) == (
        "invalid value 10.0 for Vehicle.Speed: is a sensor; only actuators take a target"
    )
    with pytest.raises(InvalidValueError, match="is an attribute; only actuators"):
        full_catalog.validate_target("Vehicle.VehicleIdentification.VIN", "WVWZZZ1JZXW000001")


def test_huge_values_are_shortened_in_messages() -> None:
    with pytest.raises(InvalidValueError) as caught:
        make_spec("boolean").validate("x" * 10_000)
    assert len(str(caught.value)) < 200


def test_a_spec_from_plain_strings_is_normalized() -> None:
    spec = SignalSpec(
        path="Vehicle.X",
        id=7,
        kind="actuator",  # type: ignore[arg-type]
        datatype="uint8[]",  # type: ignore[arg-type]
        unit=None,
        min=None,
        max=None,
        allowed=[1, 2],  # type: ignore[arg-type]
        description="",
        default=[1],  # type: ignore[arg-type]
    )
    assert (spec.kind, spec.datatype, spec.allowed, spec.default) == (
        Kind.ACTUATOR,
        DataType.UINT8_ARRAY,
        (1, 2),
        (1,),
    )
