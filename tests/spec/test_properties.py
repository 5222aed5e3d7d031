"""Property-based checks: validate() on any Python value, integer ranges, and the tree parser."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.spec import (
    CatalogError,
    DataType,
    InvalidValueError,
    Kind,
    SignalSpec,
    parse_vss_tree,
)
from smartev.spec.vss_types import FLOAT32_MAX, INT_RANGES

ELEMENT_TYPES = {
    DataType.BOOLEAN: bool,
    DataType.STRING: str,
    DataType.FLOAT: float,
    DataType.DOUBLE: float,
    **dict.fromkeys(INT_RANGES, int),
}

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=4)
    | st.fractions()
    | st.decimals()
    | st.complex_numbers()
    | st.sampled_from([np.int8(-3), np.uint64(2**64 - 1), np.float32(1.5), np.bool_(True)])
    | st.sampled_from(["AC", "DC", "START", "STOP"])
)
ANY_VALUE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.frozensets(st.integers(), max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


def outcome(spec: SignalSpec, value: object) -> object:
    """What validate() gives: the value, or the InvalidValueError it raised."""
    try:
        return spec.validate(value)
    except InvalidValueError as exc:
        return exc


def make(datatype: DataType, **rules: Any) -> SignalSpec:
    return SignalSpec(
        path="Vehicle.X",
        id=1,
        kind=Kind.ACTUATOR,
        datatype=datatype,
        unit=None,
        min=rules.get("min"),
        max=rules.get("max"),
        allowed=rules.get("allowed"),
        description="",
    )


SPECS = [make(datatype) for datatype in DataType] + [
    make(DataType.UINT8, min=0, max=100),
    make(DataType.FLOAT, min=-40, max=85.5),
    make(DataType.INT16_ARRAY, min=-5, max=5),
    make(DataType.STRING, allowed=("AC", "DC")),
    make(DataType.STRING_ARRAY, allowed=("AC", "DC")),
]


def assert_python_type(spec: SignalSpec, result: object) -> None:
    python_type = ELEMENT_TYPES[spec.datatype.element]
    items = result if spec.datatype.is_array else (result,)
    if spec.datatype.is_array:
        assert type(result) is tuple
    assert isinstance(items, tuple)
    for item in items:
        assert type(item) is python_type
        if isinstance(item, float):
            assert math.isfinite(item)
        if spec.min is not None:
            assert isinstance(item, int | float)
            assert item >= spec.min
        if spec.max is not None:
            assert isinstance(item, int | float)
            assert item <= spec.max
        if spec.allowed is not None:
            assert item in spec.allowed


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(SPECS), ANY_VALUE)
def test_validate_returns_the_right_type_or_raises_invalid_value(
    spec: SignalSpec, value: object
) -> None:
    result = outcome(spec, value)
    if isinstance(result, InvalidValueError):
        assert result.path == "Vehicle.X"
        assert result.rule in {"type", "range", "finite", "min", "max", "allowed"}
        assert str(result).startswith("invalid value ")
    else:
        assert_python_type(spec, result)
        assert spec.validate(result) == result  # validating twice changes nothing


@given(st.sampled_from(sorted(INT_RANGES)), st.integers(min_value=-(2**65), max_value=2**65))
def test_integers_are_accepted_exactly_within_the_datatype_range(
    datatype: DataType, value: int
) -> None:
    low, high = INT_RANGES[datatype]
    spec = make(datatype)
    result = outcome(spec, value)
    if low <= value <= high:
        assert result == value
    else:
        assert isinstance(result, InvalidValueError)
        assert result.rule == "range"
        assert f"must be {low}..{high} ({datatype})" in str(result)


def test_integer_ranges_are_the_usual_ones() -> None:
    assert INT_RANGES[DataType.UINT8] == (0, 255)
    assert INT_RANGES[DataType.INT16] == (-32768, 32767)
    assert INT_RANGES[DataType.UINT32] == (0, 4294967295)
    assert INT_RANGES[DataType.UINT64] == (0, 18446744073709551615)


@given(st.floats())
def test_floats_must_be_finite_and_fit(value: float) -> None:
    for datatype in (DataType.FLOAT, DataType.DOUBLE):
        fits = math.isfinite(value) and (datatype is DataType.DOUBLE or abs(value) <= FLOAT32_MAX)
        result = outcome(make(datatype), value)
        if fits:
            assert result == value
        else:
            assert isinstance(result, InvalidValueError)
            assert result.rule == ("range" if math.isfinite(value) else "finite")


def test_decimal_is_not_a_number_here() -> None:
    # Decimal is not a numbers.Real; a caller converts it on purpose.
    with pytest.raises(InvalidValueError, match=r"expected double \(a number\)"):
        make(DataType.DOUBLE).validate(Decimal("1.5"))


# --- the parser ---------------------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
NAMES = st.sampled_from(["Vehicle", "Speed", "Cabin", "Door", "IsOpen", "A", "_x"]) | st.text(
    max_size=5
)
TYPES = st.sampled_from(["branch", "sensor", "actuator", "attribute", "struct"]) | JSON_SCALARS
DATATYPES = st.sampled_from([*DataType, "int128", "Types.X"]) | JSON_SCALARS
NODES: st.SearchStrategy[Any] = st.deferred(
    lambda: (
        st.fixed_dictionaries(
            {"type": TYPES},
            optional={
                "datatype": DATATYPES,
                "children": st.dictionaries(NAMES, NODES, max_size=3) | JSON,
                "min": JSON_SCALARS,
                "max": JSON_SCALARS,
                "allowed": st.lists(JSON_SCALARS, max_size=3) | JSON,
                "default": JSON,
                "unit": JSON_SCALARS,
                "description": JSON_SCALARS,
                "pattern": st.sampled_from(["[A-Z]+", "(", ".*"]) | JSON_SCALARS,
                "deprecation": JSON_SCALARS,
            },
        )
        | JSON
    )
)
TREES = st.dictionaries(NAMES, NODES, max_size=3) | JSON


@settings(max_examples=250, deadline=None)
@given(TREES)
def test_any_tree_gives_a_catalog_or_a_catalog_error(tree: object) -> None:
    try:
        catalog = parse_vss_tree(tree)
    except CatalogError as exc:
        catalog = None
        message = str(exc)
    if catalog is None:
        assert message.startswith("VSS JSON: ")
        return
    specs = list(catalog)
    assert [spec.id for spec in specs] == list(range(1, len(specs) + 1))
    assert [spec.path for spec in specs] == sorted(spec.path for spec in specs)
    for spec in specs:
        if spec.default is not None:
            assert spec.validate(spec.default) == spec.default


LEAVES = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["sensor", "actuator", "attribute"]),
        "datatype": st.sampled_from(list(DataType)),
        "description": st.text(max_size=5),
    }
)
WELL_FORMED = st.recursive(
    LEAVES,
    lambda inner: st.fixed_dictionaries(
        {
            "type": st.just("branch"),
            "children": st.dictionaries(
                st.from_regex(r"[A-Za-z0-9_]{1,4}", fullmatch=True), inner, min_size=1, max_size=3
            ),
        }
    ),
    max_leaves=12,
)


def count_leaves(node: dict[str, Any]) -> int:
    if node["type"] != "branch":
        return 1
    return sum(count_leaves(child) for child in node["children"].values())


@given(st.dictionaries(st.sampled_from(["Vehicle", "Home"]), WELL_FORMED, min_size=1))
def test_well_formed_trees_keep_every_leaf(tree: dict[str, dict[str, Any]]) -> None:
    catalog = parse_vss_tree(tree)
    assert len(catalog) == sum(count_leaves(node) for node in tree.values())
    for spec in catalog:
        assert catalog.by_id(spec.id) is spec
        assert catalog.match(spec.path) == [spec]
