"""Path patterns: the cases of KUKSA databroker's glob tests and wildcard docs, on VSS 6.0."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError
from smartev.spec import Catalog, DataType, InvalidPatternError, Kind, PathPattern, SignalSpec

SUNROOF = [
    "Vehicle.Cabin.Sunroof.Position",
    "Vehicle.Cabin.Sunroof.Shade.IsOpen",  # new since the databroker's test list
    "Vehicle.Cabin.Sunroof.Shade.Position",
    "Vehicle.Cabin.Sunroof.Shade.Switch",
    "Vehicle.Cabin.Sunroof.Switch",
]
SHADES = [
    f"Vehicle.Cabin.Door.{row}.{side}.Shade.Position"
    for row in ("Row1", "Row2")
    for side in ("DriverSide", "PassengerSide")
]


def paths(catalog: Catalog, pattern: str) -> list[str]:
    return [spec.path for spec in catalog.match(pattern)]


def tiny_catalog(*names: str) -> Catalog:
    return Catalog(
        SignalSpec(
            path=name,
            id=i,
            kind=Kind.SENSOR,
            datatype=DataType.STRING,
            unit=None,
            min=None,
            max=None,
            allowed=None,
            description="",
        )
        for i, name in enumerate(names, start=1)
    )


@pytest.mark.parametrize("pattern", ["", '""', "**", "Vehicle", "Vehicle.**"])
def test_everything(full_catalog: Catalog, pattern: str) -> None:
    assert len(full_catalog.match(pattern)) == 1263


@pytest.mark.parametrize(
    "pattern",
    [
        "*",
        "Vehic",
        "Sunroof",
        "*.Sunroof",
        "**.Sunroof",
        "Vehicle.*.Weight",
        "Vehicle.Cabin.Sunroo",
    ],
)
def test_nothing(full_catalog: Catalog, pattern: str) -> None:
    assert full_catalog.match(pattern) == []


def test_two_single_wildcards_select_the_signals_two_levels_deep(full_catalog: Catalog) -> None:
    found = paths(full_catalog, "*.*")
    assert found == [spec.path for spec in full_catalog if spec.path.count(".") == 1]
    assert len(found) == 26
    assert {"Vehicle.Speed", "Vehicle.TraveledDistance", "Vehicle.IsMoving"} <= set(found)


def test_a_signal_path_matches_itself_and_not_a_longer_name(full_catalog: Catalog) -> None:
    assert paths(full_catalog, "Vehicle.TraveledDistance") == ["Vehicle.TraveledDistance"]
    assert "Vehicle.TraveledDistanceSinceStart" in full_catalog
    assert paths(full_catalog, "Vehicle.Cabin.Sunroof.Shade.Position") == [
        "Vehicle.Cabin.Sunroof.Shade.Position"
    ]


@pytest.mark.parametrize("pattern", ["Vehicle.Cabin.Sunroof", "Vehicle.Cabin.Sunroof.**"])
def test_a_branch_matches_every_signal_below_it(full_catalog: Catalog, pattern: str) -> None:
    assert paths(full_catalog, pattern) == SUNROOF


def test_a_branch_does_not_match_a_sibling_with_a_longer_name() -> None:
    catalog = tiny_catalog("Vehicle.Cabin.SunroofThing", "Vehicle.Cabin.Sunroof.Position")
    assert paths(catalog, "Vehicle.Cabin.Sunroof") == ["Vehicle.Cabin.Sunroof.Position"]
    assert paths(tiny_catalog("Vehicle.Cabin.SunroofThing"), "Vehicle.Cabin.Sunroof") == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (
            "Vehicle.Cabin.Sunroof.*",
            ["Vehicle.Cabin.Sunroof.Position", "Vehicle.Cabin.Sunroof.Switch"],
        ),
        ("Vehicle.Cabin.Sunroof.*.Position", ["Vehicle.Cabin.Sunroof.Shade.Position"]),
        ("Vehicle.Cabin.*.*.Position", ["Vehicle.Cabin.Sunroof.Shade.Position"]),
        ("Vehicle.*.Sunroof.*.Position", ["Vehicle.Cabin.Sunroof.Shade.Position"]),
        ("**.Sunroof.*.Position", ["Vehicle.Cabin.Sunroof.Shade.Position"]),
        ("**.Door.*.*.Shade.Position", SHADES),
        (
            "Vehicle.Cabin.Sunroof.**.Position",
            ["Vehicle.Cabin.Sunroof.Position", "Vehicle.Cabin.Sunroof.Shade.Position"],
        ),
        ("**.Sunroof.**", SUNROOF),
        (
            "*.*.*.*.Position",
            [
                "Vehicle.Body.Trunk.Front.Position",
                "Vehicle.Body.Trunk.Rear.Position",
                "Vehicle.Cabin.Sunroof.Shade.Position",
            ],
        ),
        (
            "Vehicle.Cabin.Door.Row1.DriverSide.Is*",
            [
                "Vehicle.Cabin.Door.Row1.DriverSide.IsChildLockActive",
                "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked",
                "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen",
            ],
        ),
        (
            "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.Any*.IsFl*pOpen",
            ["Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsFlapOpen"],
        ),
    ],
)
def test_wildcards(full_catalog: Catalog, pattern: str, expected: list[str]) -> None:
    assert paths(full_catalog, pattern) == expected


def test_double_wildcard_before_several_single_ones(full_catalog: Catalog) -> None:
    # The databroker cannot do this one (its test is ignored); here "**" is zero or more segments.
    found = paths(full_catalog, "**.*.*.*.Position")
    assert found == [
        spec.path
        for spec in full_catalog
        if spec.path.endswith(".Position") and spec.path.count(".") >= 3
    ]
    assert set(SHADES) | {"Vehicle.Cabin.Seat.Row2.Middle.Position"} <= set(found)
    assert "Vehicle.Cabin.RearShade.Position" in found


def test_underscore_names() -> None:
    catalog = tiny_catalog(
        "Vehicle._kuksa.databroker.GitVersion",
        "Vehicle._kuksa.databroker.CargoVersion",
        "Vehicle.Speed",
    )
    assert paths(catalog, "Vehicle._kuksa.**") == [
        "Vehicle._kuksa.databroker.CargoVersion",
        "Vehicle._kuksa.databroker.GitVersion",
    ]


@pytest.mark.parametrize(
    "pattern",
    [
        "String.*",
        "String.**",
        "Vehicle.Chassis.Axle.Row2.Wheel.*",
        "String.String.String.**.String",
        "**.String.String.String.**",
        "**.String.String.9_tring.*",
        "**._string.String.String.*",
        "String._kuksa.tring.9tring.*",
        "*.String._",
        "Vehicle.Con_ñ_de_España,_sí",
    ],
)
def test_valid_patterns(pattern: str) -> None:
    PathPattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("Vehicle.", "segment 2 is empty"),
        (".Speed", "segment 1 is empty"),
        ("String.*.String.String..", "segment 5 is empty"),
        ("*.String.String.String..", "segment 5 is empty"),
        ("String.**.St ring.String", "'St ring' contains whitespace or ':'"),
        ("String.**:String. String", "contains whitespace or ':'"),
        ("String.**.St. .ring.String", "contains whitespace or ':'"),
        ("String.**.St. : .ring.String", "contains whitespace or ':'"),
    ],
)
def test_malformed_patterns(full_catalog: Catalog, pattern: str, reason: str) -> None:
    with pytest.raises(InvalidPatternError) as caught:
        full_catalog.match(pattern)
    assert reason in str(caught.value)
    assert caught.value.pattern == pattern
    assert isinstance(caught.value, InvalidInputError)


# An independent, obviously-correct (exponential) matcher to check the linear one against.
def reference(tokens: list[str], segments: list[str]) -> bool:
    if not tokens:
        return not segments
    head, rest = tokens[0], tokens[1:]
    if head == "**":
        return reference(rest, segments) or (bool(segments) and reference(tokens, segments[1:]))
    if not segments:
        return False
    regex = "[^.]*".join(re.escape(part) for part in re.split(r"\*+", head))
    return re.fullmatch(regex, segments[0]) is not None and reference(rest, segments[1:])


WORDS = ["Vehicle", "Cabin", "Door", "Row1", "DriverSide", "Position", "Shade", "Sunroof", "IsOpen"]
SEGMENTS = st.sampled_from([*WORDS, "*", "**", "Is*", "*Side", "Row*", "S*f", "Po*ion"])


@settings(max_examples=100, deadline=None)
@given(st.lists(SEGMENTS, min_size=1, max_size=8))
def test_matching_agrees_with_a_reference_matcher(full_catalog: Catalog, parts: list[str]) -> None:
    pattern = ".".join(parts)
    tokens = parts if "*" in pattern else [*parts, "**"]  # a plain path also selects a branch
    expected = [spec.path for spec in full_catalog if reference(tokens, spec.path.split("."))]
    assert paths(full_catalog, pattern) == expected


def test_many_double_wildcards_stay_fast(full_catalog: Catalog) -> None:
    # A backtracking matcher would take ages here; the position-set matcher is linear.
    assert full_catalog.match("**.*.**.*.**.*.**.*.**.*.**.*.**.*.**.*.**.*.**.Nothing") == []
