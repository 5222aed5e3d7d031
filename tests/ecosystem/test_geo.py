"""Zones, great-circle distance and enter/leave detection with hysteresis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError
from smartev.ecosystem.errors import EcosystemError
from smartev.ecosystem.geo import (
    SPEED_REFS,
    InvalidPositionError,
    InvalidZoneError,
    UnknownZoneError,
    Zone,
    ZoneTracker,
    distance_m,
    position_refs,
)
from smartev.ecosystem.model import ZoneEvent

HOME = Zone("home", 52.52, 13.405, 100.0)
# One metre of latitude in degrees on the sphere of radius 6,371,008.8 m.
DEG_PER_M = 180.0 / (math.pi * 6_371_008.8)


def north_of(zone: Zone, metres: float) -> tuple[float, float]:
    return zone.lat + metres * DEG_PER_M, zone.lon


lats = st.floats(-90, 90)
lons = st.floats(-180, 180)


def test_distance_known_values() -> None:
    # One degree of latitude on the mean sphere.
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_195.08, abs=0.05)
    # Berlin Brandenburg Gate to Munich Marienplatz, about 504 km.
    assert distance_m(52.5163, 13.3777, 48.1374, 11.5755) == pytest.approx(504_200, rel=0.005)
    assert distance_m(0, 0, 0, 180) == pytest.approx(math.pi * 6_371_008.8)
    assert distance_m(10, 20, 10, 20) == 0.0


@given(lats, lons, lats, lons)
def test_distance_is_symmetric_and_bounded(a: float, b: float, c: float, d: float) -> None:
    ab = distance_m(a, b, c, d)
    assert ab == pytest.approx(distance_m(c, d, a, b), abs=1e-6)
    assert 0.0 <= ab <= math.pi * 6_371_008.8 + 1e-6


@given(st.tuples(lats, lons, lats, lons, lats, lons))
def test_distance_triangle_inequality(p: tuple[float, ...]) -> None:
    ab = distance_m(p[0], p[1], p[2], p[3])
    bc = distance_m(p[2], p[3], p[4], p[5])
    ac = distance_m(p[0], p[1], p[4], p[5])
    assert ac <= ab + bc + 1e-3


def test_position_and_speed_refs() -> None:
    assert position_refs("car") == (
        "Vehicle.CurrentLocation.Latitude",
        "Vehicle.CurrentLocation.Longitude",
    )
    assert position_refs("phone") == ("location.latitude", "location.longitude")
    assert position_refs("light") is None
    assert SPEED_REFS == {"car": "Vehicle.Speed"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("", 0, 0, 10), "blank"),
        (("  ", 0, 0, 10), "blank"),
        (("x" * 65, 0, 0, 10), "at most 64"),
        (("z", 90.5, 0, 10), "latitude"),
        (("z", math.nan, 0, 10), "latitude"),
        (("z", 0, -180.1, 10), "longitude"),
        (("z", 0, math.inf, 10), "longitude"),
        (("z", 0, 0, 0.5), "radius"),
        (("z", 0, 0, 100_001), "radius"),
        (("z", 0, 0, math.nan), "radius"),
        (("z", True, 0, 10), "latitude"),
    ],
)
def test_zone_validation(args: tuple[object, ...], fragment: str) -> None:
    with pytest.raises(InvalidZoneError, match=fragment) as info:
        Zone(*args)  # type: ignore[arg-type]
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, EcosystemError)


def test_zone_limits_are_inclusive() -> None:
    Zone("x" * 64, -90, -180, 1)
    Zone("z", 90, 180, 100_000)


def test_leave_radius_margin() -> None:
    assert Zone("a", 0, 0, 50).leave_radius_m == 70  # 20 m floor
    assert Zone("b", 0, 0, 1000).leave_radius_m == 1100  # 10 %


def test_first_position_sets_state_without_events() -> None:
    tracker = ZoneTracker([HOME])
    assert tracker.inside("car:V1", "home") is None
    assert tracker.update("car:V1", *north_of(HOME, 10)) == []
    assert tracker.inside("car:V1", "home") is True
    assert tracker.update("phone:ann", *north_of(HOME, 5000)) == []
    assert tracker.inside("phone:ann", "home") is False


def test_enter_and_leave_with_hysteresis() -> None:
    tracker = ZoneTracker([HOME])
    tracker.update("car:V1", *north_of(HOME, 500))
    assert tracker.update("car:V1", *north_of(HOME, 101)) == []
    assert tracker.update("car:V1", *north_of(HOME, 99)) == [("home", ZoneEvent.ENTER)]
    assert tracker.devices_in("home") == ["car:V1"]
    # Jitter around the edge, up to radius + 20 m: still inside, no events.
    for metres in (105, 95, 118, 90, 119.5):
        assert tracker.update("car:V1", *north_of(HOME, metres)) == []
        assert tracker.inside("car:V1", "home") is True
    assert tracker.update("car:V1", *north_of(HOME, 121)) == [("home", ZoneEvent.LEAVE)]
    assert tracker.inside("car:V1", "home") is False
    # Coming back between radius and leave radius is not an enter.
    assert tracker.update("car:V1", *north_of(HOME, 110)) == []
    assert tracker.update("car:V1", *north_of(HOME, 100)) == [("home", ZoneEvent.ENTER)]


@given(st.lists(st.floats(80, 119.9), min_size=1, max_size=30))
def test_jitter_at_edge_never_flaps(distances: list[float]) -> None:
    tracker = ZoneTracker([HOME])
    tracker.update("car:V1", *north_of(HOME, 50))
    for metres in distances:
        assert tracker.update("car:V1", *north_of(HOME, metres)) == []


def test_events_for_several_zones_in_zone_order() -> None:
    work = Zone("work", HOME.lat, HOME.lon, 300)
    tracker = ZoneTracker([HOME, work])
    tracker.update("car:V1", *north_of(HOME, 1000))
    assert tracker.update("car:V1", *north_of(HOME, 0)) == [
        ("home", ZoneEvent.ENTER),
        ("work", ZoneEvent.ENTER),
    ]
    assert tracker.update("car:V1", *north_of(HOME, 2000)) == [
        ("home", ZoneEvent.LEAVE),
        ("work", ZoneEvent.LEAVE),
    ]


def test_devices_are_independent() -> None:
    tracker = ZoneTracker([HOME])
    tracker.update("car:V1", *north_of(HOME, 1000))
    tracker.update("phone:ann", *north_of(HOME, 1000))
    assert tracker.update("phone:ann", *north_of(HOME, 0)) == [("home", ZoneEvent.ENTER)]
    assert tracker.inside("car:V1", "home") is False
    assert tracker.devices_in("home") == ["phone:ann"]


def test_added_zone_is_evaluated_silently_on_next_update() -> None:
    tracker = ZoneTracker()
    tracker.update("car:V1", *north_of(HOME, 0))
    tracker.set_zones([HOME])
    assert tracker.inside("car:V1", "home") is None
    assert tracker.update("car:V1", *north_of(HOME, 0)) == []
    assert tracker.inside("car:V1", "home") is True
    assert tracker.update("car:V1", *north_of(HOME, 500)) == [("home", ZoneEvent.LEAVE)]


def test_removed_zone_is_forgotten() -> None:
    tracker = ZoneTracker([HOME])
    tracker.update("car:V1", *north_of(HOME, 0))
    tracker.set_zones([])
    with pytest.raises(UnknownZoneError, match="unknown zone 'home'; zones: none"):
        tracker.inside("car:V1", "home")
    assert tracker.update("car:V1", *north_of(HOME, 5000)) == []
    tracker.set_zones([HOME])
    # Re-added: its old state was forgotten, so the first evaluation is silent again.
    assert tracker.update("car:V1", *north_of(HOME, 0)) == []
    assert tracker.inside("car:V1", "home") is True


def test_changed_geometry_keeps_state() -> None:
    tracker = ZoneTracker([HOME])
    tracker.update("car:V1", *north_of(HOME, 0))
    tracker.set_zones([Zone("home", HOME.lat, HOME.lon + 1, 100)])
    assert tracker.update("car:V1", *north_of(HOME, 0)) == [("home", ZoneEvent.LEAVE)]


def test_forget_device() -> None:
    tracker = ZoneTracker([HOME])
    tracker.update("car:V1", *north_of(HOME, 1000))
    tracker.forget("car:V1")
    assert tracker.inside("car:V1", "home") is None
    assert tracker.update("car:V1", *north_of(HOME, 0)) == []


def test_duplicate_zone_names_rejected() -> None:
    with pytest.raises(InvalidZoneError, match="duplicate zone name 'home'"):
        ZoneTracker([HOME, Zone("home", 0, 0, 10)])


def test_zone_lookup() -> None:
    tracker = ZoneTracker([HOME])
    assert tracker.zone("home") is HOME
    assert tracker.zones == (HOME,)
    with pytest.raises(UnknownZoneError, match="zones: home") as info:
        tracker.zone("work")
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize(("lat", "lon"), [(91, 0), (0, 181), (math.nan, 0), (0, math.inf)])
def test_update_rejects_bad_position(lat: float, lon: float) -> None:
    tracker = ZoneTracker([HOME])
    with pytest.raises(InvalidPositionError, match="must be"):
        tracker.update("car:V1", lat, lon)
    assert tracker.inside("car:V1", "home") is None
