"""Malformed catalogs: every fault is a CatalogError naming the source, the node and the fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smartev.spec import (
    Catalog,
    CatalogError,
    DataType,
    Kind,
    SignalSpec,
    load_vss_json,
    parse_vss_tree,
)


def tree_with(leaf: dict[str, Any], name: str = "Speed") -> dict[str, Any]:
    return {
        "Vehicle": {
            "type": "branch",
            "description": "High-level vehicle data.",
            "children": {name: {"description": "d", **leaf}},
        }
    }


SPEED = {"type": "sensor", "datatype": "float", "unit": "km/h"}


def test_a_minimal_tree_loads() -> None:
    catalog = parse_vss_tree(tree_with(SPEED))
    spec = catalog.get("Vehicle.Speed")
    assert (spec.id, spec.kind, spec.datatype, spec.unit, spec.description) == (
        1,
        Kind.SENSOR,
        DataType.FLOAT,
        "km/h",
        "d",
    )


def test_unknown_keys_are_ignored_and_description_is_optional() -> None:
    tree = {
        "Vehicle": {
            "type": "branch",
            "uuid": "x",
            "children": {"Speed": {"type": "sensor", "datatype": "float", "uuid": "y", "fka": []}},
        }
    }
    assert parse_vss_tree(tree).get("Vehicle.Speed").description == ""


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ([], "T: expected an object of root branches, got a list"),
        ({}, "T: expected an object of root branches, got an object"),
        (None, "T: expected an object of root branches, got null"),
        ({"Vehicle": {"type": "branch", "children": {}}}, "T: no signals"),
        ({"Vehicle": []}, "T: Vehicle: expected an object, got a list"),
        ({"Vehicle": {"children": {}}}, "T: Vehicle: type None is not branch, sensor, actuator"),
        (
            {"Vehicle": {"type": "branch", "children": []}},
            "T: Vehicle: children must be an object, got a list",
        ),
        (
            {"Vehicle": {"type": "branch", "children": {"Sp eed": SPEED}}},
            "T: Vehicle: bad node name 'Sp eed'",
        ),
        ({"Vehicle.Speed": SPEED}, "T: the root: bad node name 'Vehicle.Speed'"),
        ({"": SPEED}, "T: the root: bad node name ''"),
        (tree_with({"type": "struct"}), "T: Vehicle.Speed: type 'struct' is not branch"),
        (tree_with({"type": "property", "datatype": "float"}), "type 'property' is not branch"),
        (tree_with({"type": "sensor"}), "T: Vehicle.Speed: datatype None is not a VSS primitive"),
        (
            tree_with({"type": "sensor", "datatype": "int128"}),
            "T: Vehicle.Speed: datatype 'int128' is not a VSS primitive type",
        ),
        (
            tree_with({"type": "sensor", "datatype": "Types.DeliveryInfo"}),
            "(struct types are not supported)",
        ),
        (
            tree_with({**SPEED, "children": {}}),
            "T: Vehicle.Speed: a sensor cannot have children",
        ),
        (
            tree_with({**SPEED, "unit": 5}),
            "T: Vehicle.Speed: unit must be a string, got an integer",
        ),
        (tree_with({**SPEED, "description": ["x"]}), "description must be a string, got a list"),
        (tree_with({**SPEED, "min": "0"}), "T: Vehicle.Speed: min '0' is not a number"),
        (tree_with({**SPEED, "max": True}), "T: Vehicle.Speed: max True is not a number"),
        (tree_with({**SPEED, "min": float("nan")}), "T: Vehicle.Speed: min nan is not finite"),
        (tree_with({**SPEED, "min": 5, "max": 1}), "T: Vehicle.Speed: min 5 is above max 1"),
        (
            tree_with({"type": "sensor", "datatype": "boolean", "min": 0}),
            "T: Vehicle.Speed: min given for a boolean signal",
        ),
        (tree_with({**SPEED, "allowed": "AC"}), "allowed must be a list, got a string"),
        (tree_with({**SPEED, "allowed": []}), "allowed must be a non-empty list"),
        (
            tree_with({"type": "sensor", "datatype": "string", "allowed": ["AC", 1]}),
            "T: Vehicle.Speed: allowed value 1: expected string",
        ),
        (
            tree_with({"type": "attribute", "datatype": "uint8", "default": 300}),
            "T: Vehicle.Speed: default: invalid value 300 for Vehicle.Speed: must be 0..255",
        ),
        (
            tree_with({"type": "actuator", "datatype": "uint8", "max": 100, "default": 101}),
            "default: invalid value 101 for Vehicle.Speed: must be <= 100",
        ),
        (
            tree_with({"type": "attribute", "datatype": "string", "pattern": "("}),
            "T: Vehicle.Speed: pattern '(':",
        ),
        (
            tree_with({"type": "attribute", "datatype": "uint8", "pattern": "[0-9]"}),
            "pattern given for a uint8 signal",
        ),
        (tree_with({**SPEED, "deprecation": 6}), "deprecation must be a string"),
    ],
)
def test_malformed_trees(tree: object, message: str) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_vss_tree(tree, source="T")
    assert message in str(caught.value)


def test_huge_integer_bounds_are_kept() -> None:
    catalog = parse_vss_tree(tree_with({"type": "sensor", "datatype": "uint64", "max": 10**400}))
    assert catalog.get("Vehicle.Speed").validate(2**64 - 1) == 2**64 - 1


def test_deep_faults_name_the_whole_path() -> None:
    tree = {
        "Vehicle": {
            "type": "branch",
            "children": {
                "Cabin": {
                    "type": "branch",
                    "children": {"Door": {"type": "branch", "children": {"IsOpen": 3}}},
                }
            },
        }
    }
    with pytest.raises(CatalogError, match=r"^T: Vehicle\.Cabin\.Door\.IsOpen: expected an object"):
        parse_vss_tree(tree, source="T")


def test_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(CatalogError, match=r"cannot read VSS JSON .*missing\.json: No such file"):
        load_vss_json(missing)

    broken = tmp_path / "broken.json"
    broken.write_text('{"Vehicle": ', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"broken\.json: not valid JSON: Expecting value"):
        load_vss_json(broken)

    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_vss_json(binary)

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_vss_json(deep)

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(tree_with({"type": "sensor", "datatype": "int128"})), "utf-8")
    with pytest.raises(CatalogError, match=rf"^{wrong}: Vehicle\.Speed: datatype 'int128'"):
        load_vss_json(str(wrong))

    good = tmp_path / "good.json"
    good.write_text(json.dumps(tree_with(SPEED)), encoding="utf-8")
    assert "Vehicle.Speed" in load_vss_json(good)


def spec(path: str, signal_id: int) -> SignalSpec:
    return SignalSpec(
        path=path,
        id=signal_id,
        kind=Kind.SENSOR,
        datatype=DataType.BOOLEAN,
        unit=None,
        min=None,
        max=None,
        allowed=None,
        description="",
    )


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        ([spec("A.B", 1), spec("A.B", 2)], "A.B: defined twice"),
        ([spec("A.B", 1), spec("A.C", 1)], "A.C: id 1 is already A.B"),
        ([spec("A.B", 1), spec("A.B.C", 2)], "A.B: is both a signal and a branch"),
    ],
)
def test_incoherent_signal_sets(signals: list[SignalSpec], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        Catalog(signals)


def test_an_unknown_kind_or_datatype_string_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match=r"A\.B: 'gadget' is not a valid Kind"):
        SignalSpec(
            path="A.B",
            id=1,
            kind="gadget",  # type: ignore[arg-type]
            datatype=DataType.BOOLEAN,
            unit=None,
            min=None,
            max=None,
            allowed=None,
            description="",
        )
