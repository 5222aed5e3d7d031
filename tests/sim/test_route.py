import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.sim.cycles import DriveCycle
from smartev.sim.errors import InvalidCycleError
from smartev.sim.route import EARTH_RADIUS_M, Route, Waypoint, load_route, parse_route

M_PER_DEG = EARTH_RADIUS_M * math.pi / 180  # along a meridian: 111,195 m


def heading_error(heading: float, expected: float) -> float:
    return abs((heading - expected + 180.0) % 360.0 - 180.0)


def route_from_legs(
    legs: Sequence[tuple[float, float, float | None, float]], *, lat: float = 45.0, lon: float = 7.0
) -> Route:
    """Waypoints reached by legs of (length m, bearing deg, limit of the leg, stop at its end)."""
    waypoints = [Waypoint(lat, lon, legs[0][2] if legs else None)]
    for i, (length, bearing, _, stop_s) in enumerate(legs):
        lat += length * math.cos(math.radians(bearing)) / M_PER_DEG
        lon += length * math.sin(math.radians(bearing)) / (M_PER_DEG * math.cos(math.radians(lat)))
        limit = legs[i + 1][2] if i + 1 < len(legs) else None
        waypoints.append(Waypoint(lat, lon, limit, stop_s))
    return Route("legs", tuple(waypoints))


# --- geometry -----------------------------------------------------------------------------------


def test_paris_london_haversine() -> None:
    route = Route("pl", (Waypoint(48.8566, 2.3522), Waypoint(51.5074, -0.1278)))
    assert route.distance_m == pytest.approx(343_500, rel=0.005)


def test_one_degree_of_latitude_and_of_longitude_on_the_equator() -> None:
    assert Route("m", (Waypoint(10, 20), Waypoint(11, 20))).distance_m == pytest.approx(M_PER_DEG)
    assert Route("e", (Waypoint(0, 20), Waypoint(0, 21))).distance_m == pytest.approx(M_PER_DEG)


def test_short_segments_keep_their_precision() -> None:
    route = Route("cm", (Waypoint(45, 7), Waypoint(45 + 0.25 / M_PER_DEG, 7)))
    assert route.distance_m == pytest.approx(0.25, rel=1e-6)


@pytest.mark.parametrize(
    ("end", "expected"),
    [((45.1, 7.0), 0.0), ((45.0, 7.1), 90.0), ((44.9, 7.0), 180.0), ((45.0, 6.9), 270.0)],
)
def test_heading_follows_the_compass(end: tuple[float, float], expected: float) -> None:
    route = Route("r", (Waypoint(45.0, 7.0), Waypoint(*end)))
    for fraction in (0.0, 0.5, 1.0):
        heading = route.position_at(fraction * route.distance_m)[2]
        assert 0.0 <= heading < 360.0
        assert heading_error(heading, expected) < 0.1  # east/west: great circle, not a parallel


def test_position_at_ends_and_clamping() -> None:
    a, b, c = Waypoint(45.0, 7.0), Waypoint(45.01, 7.0), Waypoint(45.01, 7.02)
    route = Route("r", (a, b, c))
    assert route.position_at(0.0)[:2] == (a.lat, a.lon)
    assert route.position_at(-50.0)[:2] == (a.lat, a.lon)
    assert route.position_at(route.distance_m)[:2] == (c.lat, c.lon)
    assert route.position_at(route.distance_m + 1e6)[:2] == (c.lat, c.lon)
    assert heading_error(route.position_at(route.distance_m)[2], 90.0) < 0.1
    first_leg = Route("ab", (a, b)).distance_m
    lat, lon, heading = route.position_at(first_leg)  # at b: the second leg begins
    assert (lat, lon) == pytest.approx((b.lat, b.lon), abs=1e-9)
    assert heading_error(heading, 90.0) < 0.1
    lat, lon, heading = route.position_at(first_leg / 2)
    assert (lat, lon) == pytest.approx((45.005, 7.0), abs=1e-9)
    assert heading_error(heading, 0.0) < 1e-6
    with pytest.raises(InvalidCycleError, match="not finite"):
        route.position_at(math.nan)


def test_position_crosses_the_antimeridian() -> None:
    route = Route("dateline", (Waypoint(0.0, 179.99), Waypoint(0.0, -179.99)))
    assert route.distance_m == pytest.approx(0.02 * M_PER_DEG)
    lat, lon, heading = route.position_at(route.distance_m / 2)
    assert lat == pytest.approx(0.0, abs=1e-9)
    assert abs(lon) == pytest.approx(180.0)
    assert heading == pytest.approx(90.0)


# --- to_cycle -----------------------------------------------------------------------------------


def positions(cycle: DriveCycle) -> np.ndarray:
    steps = 0.5 * (cycle.speed_mps[1:] + cycle.speed_mps[:-1]) * np.diff(cycle.time_s)
    return np.concatenate(([0.0], np.cumsum(steps)))


def check_cycle(route: Route, cycle: DriveCycle, accel: float, decel: float, dt: float) -> None:
    assert cycle.is_uniform(dt)
    assert cycle.speed_mps[0] == 0.0
    assert cycle.speed_mps[-1] == 0.0
    assert cycle.distance_m == pytest.approx(route.distance_m, rel=0.005)
    assert cycle.distance_m == pytest.approx(route.distance_m, rel=1e-6, abs=1e-6)
    rates = np.diff(cycle.speed_mps) / dt
    assert rates.max() <= accel + 1e-9
    assert rates.min() >= -decel - 1e-9
    # Limit of the segment each sample is on; within 2 m of a waypoint either side's counts,
    # since positions integrated from the samples are good to a metre or so, not exact.
    ends = np.concatenate(
        (
            [0.0],
            np.cumsum(
                [
                    Route("s", (a, b)).distance_m
                    for a, b in zip(route.waypoints, route.waypoints[1:], strict=False)
                ]
            ),
        )
    )
    limits = np.array(
        [(w.speed_limit_kmh or route.default_speed_kmh) / 3.6 for w in route.waypoints[:-1]]
    )
    x = positions(cycle)
    first = np.clip(np.searchsorted(ends, x - 2.0, side="right") - 1, 0, len(limits) - 1)
    last = np.clip(np.searchsorted(ends, x + 2.0, side="right") - 1, 0, len(limits) - 1)
    allowed = np.array([limits[i : j + 1].max() for i, j in zip(first, last, strict=True)])
    assert np.all(cycle.speed_mps <= allowed + 1e-9)


TOWN = [  # (leg length m, bearing, limit on the leg km/h, stop at its end s)
    (800.0, 0.0, 50.0, 0.0),
    (1500.0, 45.0, 90.0, 0.0),
    (600.0, 90.0, 30.0, 20.0),
    (2500.0, 100.0, 130.0, 0.0),
    (400.0, 180.0, 50.0, 0.0),
]


@pytest.mark.parametrize("dt", [0.1, 1.0, 2.0])
def test_to_cycle_keeps_limits_accelerations_and_distance(dt: float) -> None:
    route = route_from_legs(TOWN)
    cycle = route.to_cycle(accel_mps2=1.5, decel_mps2=2.0, dt_s=dt)
    check_cycle(route, cycle, 1.5, 2.0, dt)
    assert cycle.max_speed_mps == pytest.approx(130 / 3.6)  # the 2.5 km leg is long enough
    assert cycle.name == route.name


def test_to_cycle_brakes_before_a_slower_segment() -> None:
    route = route_from_legs([(1000.0, 0.0, 90.0, 0.0), (1000.0, 0.0, 30.0, 0.0)])
    cycle = route.to_cycle(dt_s=0.1)
    x = positions(cycle)
    boundary = route.distance_m / 2
    entering = np.argmax(x >= boundary)
    assert cycle.speed_mps[entering] <= 30 / 3.6 + 0.1  # already slow when crossing
    assert np.all(cycle.speed_mps[x > boundary + 1.0] <= 30 / 3.6 + 1e-9)
    # Braking from 90 to 30 km/h at 2 m/s² takes (25² - 8.33²) / 4 = 139 m: started in time.
    braking = (x > boundary - 130.0) & (x < boundary)
    assert np.all(np.diff(cycle.speed_mps[braking]) <= 0.0)


def test_to_cycle_dwells_at_stops() -> None:
    route = route_from_legs([(500.0, 0.0, 50.0, 30.0), (500.0, 0.0, 50.0, 0.0)])
    cycle = route.to_cycle(dt_s=1.0)
    moving = np.flatnonzero(cycle.speed_mps > 0)
    inner = cycle.speed_mps[moving[0] : moving[-1] + 1]
    stopped = np.count_nonzero(inner == 0.0)
    assert 29 <= stopped <= 31
    x = positions(cycle)
    at_rest = x[moving[0] : moving[-1] + 1][inner == 0.0]
    assert at_rest == pytest.approx(np.full(stopped, route.distance_m / 2), abs=1.0)


def test_stops_at_the_ends_add_standstill() -> None:
    a, b = Waypoint(45.0, 7.0, stop_s=10.0), Waypoint(45.005, 7.0, stop_s=5.0)
    plain = Route("p", (Waypoint(45.0, 7.0), Waypoint(45.005, 7.0))).to_cycle()
    stopping = Route("s", (a, b)).to_cycle()
    assert stopping.duration_s == pytest.approx(plain.duration_s + 15.0, abs=1.0)
    assert np.all(stopping.speed_mps[:10] == 0.0)
    assert np.all(stopping.speed_mps[-5:] == 0.0)


def test_to_cycle_of_a_very_short_route() -> None:
    route = Route("yard", (Waypoint(45.0, 7.0), Waypoint(45.0 + 3.0 / M_PER_DEG, 7.0)))
    cycle = route.to_cycle()
    check_cycle(route, cycle, 1.5, 2.0, 1.0)


def test_to_cycle_rejects_bad_parameters() -> None:
    route = route_from_legs(TOWN)
    for kwargs in (
        {"accel_mps2": 0.0},
        {"decel_mps2": -1.0},
        {"dt_s": math.nan},
        {"accel_mps2": 20.0},
    ):
        with pytest.raises(InvalidCycleError, match=next(iter(kwargs))):
            route.to_cycle(**kwargs)


def test_a_twenty_km_route_with_forty_legs_and_eight_stops() -> None:
    # Converts in about 10 ms here; not asserted, since tests never gate on a time (STYLE.md 8).
    legs = [
        (500.0, (i * 37) % 360, [30.0, 50.0, 70.0, 90.0][i % 4], 15.0 * (i % 5 == 0))
        for i in range(40)
    ]
    route = route_from_legs(legs)
    assert route.distance_m == pytest.approx(20_000, rel=0.01)
    cycle = route.to_cycle()
    check_cycle(route, cycle, 1.5, 2.0, 1.0)
    assert np.count_nonzero(cycle.speed_mps == 0.0) >= 8 * 15 - 8


@st.composite
def local_routes(draw: st.DrawFn) -> Route:
    legs = draw(
        st.lists(
            st.tuples(
                st.floats(1.0, 800.0),
                st.floats(0.0, 360.0),
                st.one_of(st.none(), st.floats(5.0, 250.0)),
                st.sampled_from([0.0, 0.0, 0.5, 12.0]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return route_from_legs(legs, lat=draw(st.floats(-60, 60)), lon=draw(st.floats(-179, 179)))


@settings(max_examples=60, deadline=None)
@given(
    local_routes(),
    st.floats(0.3, 4.0),
    st.floats(0.3, 8.0),
    st.sampled_from([0.1, 0.5, 1.0, 2.0]),
)
def test_to_cycle_invariants(route: Route, accel: float, decel: float, dt: float) -> None:
    check_cycle(
        route, route.to_cycle(accel_mps2=accel, decel_mps2=decel, dt_s=dt), accel, decel, dt
    )


# --- reading routes -----------------------------------------------------------------------------

WAYPOINTS: list[dict[str, object]] = [
    {"lat": 45.0, "lon": 7.0, "speed_limit_kmh": 30},
    {"lat": 45.004, "lon": 7.0, "stop_s": 20},
    {"lat": 45.004, "lon": 7.005},
]
DATA: dict[str, object] = {"name": "school run", "default_speed_kmh": 40, "waypoints": WAYPOINTS}


def test_load_route_json_and_yaml(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "r.json").write_text(json.dumps(DATA), encoding="utf-8")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(DATA), encoding="utf-8")
    expected = Route(
        "school run",
        (Waypoint(45.0, 7.0, 30.0), Waypoint(45.004, 7.0, None, 20.0), Waypoint(45.004, 7.005)),
        default_speed_kmh=40.0,
    )
    assert load_route(tmp_path / "r.json") == expected
    assert load_route(str(tmp_path / "r.yaml")) == expected


def test_load_route_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidCycleError, match=r"\.json, \.yaml or \.yml"):
        load_route(tmp_path / "r.txt")
    with pytest.raises(InvalidCycleError, match="cannot read"):
        load_route(tmp_path / "missing.json")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"name": "x",\n "waypoints": [}', encoding="utf-8")
    with pytest.raises(InvalidCycleError, match=re.escape(f"{bad_json} line 2: invalid JSON")):
        load_route(bad_json)
    bad_yaml = tmp_path / "bad.yml"
    bad_yaml.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(InvalidCycleError, match="invalid YAML"):
        load_route(bad_yaml)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("name: x\nwaypoints:\n  - {lat: 45, lon: 7}\n  - {lat: 95, lon: 7}\n")
    with pytest.raises(InvalidCycleError, match=re.escape(f"{wrong}: waypoints[1].lat 95.0")):
        load_route(wrong)


def with_waypoint(index: int, **fields: object) -> dict[str, object]:
    waypoints = [dict(w) for w in WAYPOINTS]
    waypoints[index].update(fields)
    return {**DATA, "waypoints": waypoints}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "r.json must be a mapping"),
        ({"waypoints": []}, "r.json: missing 'name'"),
        ({**DATA, "speed": 3}, "r.json: unknown key 'speed'"),
        ({**DATA, "name": ""}, "r.json: name '' must be a non-empty string"),
        (
            {**DATA, "default_speed_kmh": 0},
            "r.json: default_speed_kmh 0.0 must be a number in (0, 250]",
        ),
        ({**DATA, "waypoints": {"lat": 1}}, "r.json: waypoints must be a list"),
        (
            {**DATA, "waypoints": WAYPOINTS[:1]},
            "r.json: 1 waypoint(s); a route needs at least 2",
        ),
        (with_waypoint(1, lat=-91), "r.json: waypoints[1].lat -91.0 must be a number in -90..90"),
        (
            with_waypoint(2, lon=180.5),
            "r.json: waypoints[2].lon 180.5 must be a number in -180..180",
        ),
        (with_waypoint(0, lat="45"), "r.json: waypoints[0].lat '45' must be a number"),
        (with_waypoint(0, lat=True), "r.json: waypoints[0].lat True must be a number"),
        (
            with_waypoint(1, lon=math.nan),
            "r.json: waypoints[1].lon nan must be a number in -180..180",
        ),
        (with_waypoint(2, speed_limit_kmh=0), "r.json: waypoints[2].speed_limit_kmh 0.0 must be"),
        (
            with_waypoint(2, speed_limit_kmh=251),
            "r.json: waypoints[2].speed_limit_kmh 251.0 must be",
        ),
        (with_waypoint(1, stop_s=-1), "r.json: waypoints[1].stop_s -1.0 must be in 0..86400 s"),
        (with_waypoint(1, elevation=3), "r.json: waypoints[1]: unknown key 'elevation'"),
        (with_waypoint(1, lat=10**400), "r.json: waypoints[1].lat 1000"),
        (
            {**DATA, "waypoints": [{"lon": 7}, {"lat": 1, "lon": 2}]},
            "r.json: waypoints[0]: missing 'lat'",
        ),
        ({**DATA, "waypoints": [3, 4]}, "r.json: waypoints[0] must be a mapping"),
        (
            with_waypoint(1, lat=45.0, lon=7.0),
            "r.json: waypoints[1] is 0 m from waypoints[0]; consecutive waypoints must be at "
            "least 0.1 m apart",
        ),
        (
            {**DATA, "waypoints": [{"lat": 0, "lon": 0}, {"lat": 0, "lon": 180}]},
            "r.json: waypoints[0] and waypoints[1] are antipodal",
        ),
    ],
)
def test_parse_route_errors_name_the_waypoint_and_field(data: object, message: str) -> None:
    with pytest.raises(InvalidCycleError, match=re.escape(message)):
        parse_route(data, source="r.json")


def test_route_validates_when_built_directly() -> None:
    with pytest.raises(InvalidCycleError, match=re.escape("route 'x': waypoints[1].stop_s")):
        Route("x", (Waypoint(1, 1), Waypoint(2, 2, stop_s=-5)))
    with pytest.raises(InvalidCycleError, match="at least 2"):
        Route("x", (Waypoint(1, 1),))


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def near_valid_route_data(draw: st.DrawFn) -> dict[str, object]:
    """Valid route data with a few values replaced or keys dropped or added."""
    waypoints: list[dict[str, object]] = [
        {"lat": draw(st.floats(-90, 90)), "lon": draw(st.floats(-180, 180))}
        for _ in range(draw(st.integers(0, 5)))
    ]
    for waypoint in waypoints:
        if draw(st.booleans()):
            waypoint["speed_limit_kmh"] = draw(st.none() | st.floats(1.0, 250.0))
        if draw(st.booleans()):
            waypoint["stop_s"] = draw(st.floats(0.0, 600.0))
    data: dict[str, object] = {
        "name": draw(st.text(min_size=1, max_size=5)),
        "waypoints": waypoints,
    }
    if draw(st.booleans()):
        data["default_speed_kmh"] = draw(st.integers(1, 250))
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from([data, *waypoints]))
        key = draw(st.sampled_from([*target, "extra"]))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(JSON_LIKE | st.floats(-300, 300) | st.integers(-300, 300))
    return data


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON_LIKE, near_valid_route_data()))
def test_parse_route_returns_a_route_or_says_what_is_wrong(data: object) -> None:
    try:
        route = parse_route(data, source="fuzz")
    except InvalidCycleError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith("fuzz")
        return
    assert len(route.waypoints) >= 2
    assert math.isfinite(route.distance_m)
    assert route.distance_m > 0
    lat, lon, heading = route.position_at(route.distance_m / 3)
    assert -90 <= lat <= 90
    assert -180 <= lon <= 180
    assert 0 <= heading < 360
