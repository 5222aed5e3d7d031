"""ETA of the car at a zone: straight line with circuity, along a route, standing, driving away."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError
from smartev.ecosystem.eta import CIRCUITY_FACTOR, EtaEstimator, InvalidTrackError
from smartev.ecosystem.geo import InvalidPositionError, Zone, distance_m

HOME = Zone("home", 48.0, 11.0, 100.0)
R = 6_371_008.8


def at(east_m: float, north_m: float, zone: Zone = HOME) -> tuple[float, float]:
    """The point ``east_m``/``north_m`` metres from a zone's centre (flat-earth offset)."""
    lat = zone.lat + math.degrees(north_m / R)
    lon = zone.lon + math.degrees(east_m / (R * math.cos(math.radians(zone.lat))))
    return lat, lon


def straight_eta(lat: float, lon: float, kmh: float, zone: Zone = HOME) -> float:
    return (zone.distance_m(lat, lon) - zone.radius_m) * CIRCUITY_FACTOR / (kmh / 3.6)


def test_no_position_no_estimate() -> None:
    eta = EtaEstimator()
    assert eta.eta_s(HOME) is None
    assert eta.remaining_m(HOME) is None
    assert eta.speed_kmh() is None


def test_driving_straight_toward_the_zone() -> None:
    eta = EtaEstimator()
    etas: list[float] = []
    north = -10_000.0
    for step in range(100):
        ts = step * 5.0
        eta.update(ts, *at(0, north), 60.0)
        estimate = eta.eta_s(HOME)
        assert estimate is not None
        assert estimate == pytest.approx(straight_eta(*at(0, north), 60.0), rel=1e-3)
        etas.append(estimate)
        north += 60 / 3.6 * 5
    assert all(b < a for a, b in itertools.pairwise(etas))


def test_first_sample_moving_gives_an_estimate() -> None:
    eta = EtaEstimator()
    eta.update(0.0, *at(0, -5000), 50.0)
    assert eta.eta_s(HOME) == pytest.approx(straight_eta(*at(0, -5000), 50.0))


def test_inside_is_zero_even_when_standing() -> None:
    eta = EtaEstimator()
    eta.update(0.0, *at(30, 40), 0.0)
    eta.update(500.0, *at(30, 40), 0.0)
    assert eta.eta_s(HOME) == 0.0
    assert eta.remaining_m(HOME) == 0.0


def test_never_moved_no_estimate() -> None:
    eta = EtaEstimator()
    eta.update(0.0, *at(0, -5000), 0.0)
    assert eta.eta_s(HOME) is None


def test_standing_too_long_gives_none() -> None:
    eta = EtaEstimator()
    for step in range(30):
        eta.update(step * 2.0, *at(0, -5000 + step * 20), 36.0)
    stop = at(0, -5000 + 30 * 20)
    eta.update(60.0, *stop, 0.0)
    eta.update(150.0, *stop, 0.0)
    # A red light: still the speed driven before.
    assert eta.speed_kmh() == pytest.approx(36.0)
    assert eta.eta_s(HOME) == pytest.approx(straight_eta(*stop, 36.0))
    eta.update(180.0, *stop, 0.0)
    assert eta.eta_s(HOME) == pytest.approx(straight_eta(*stop, 36.0))
    eta.update(180.5, *stop, 0.0)
    assert eta.eta_s(HOME) is None
    # Moving again: the estimate is back.
    eta.update(182.0, *stop, 30.0)
    assert eta.eta_s(HOME) is not None


def test_standing_times_out_with_now_and_no_new_sample() -> None:
    eta = EtaEstimator()
    eta.update(0.0, *at(0, -5000), 50.0)
    eta.update(10.0, *at(0, -4860), 0.0)
    assert eta.eta_s(HOME, now=100.0) is not None
    assert eta.eta_s(HOME, now=131.0) is None
    assert eta.eta_s(HOME) is not None  # by the newest sample it stood only 0 s


def test_driving_away_gives_none() -> None:
    eta = EtaEstimator()
    north = -3000.0
    for step in range(20):
        eta.update(step * 1.0, *at(0, north), 36.0)
        north -= 10.0
        if step < 5:
            assert eta.eta_s(HOME) is not None  # 50 m not yet exceeded
    assert eta.eta_s(HOME) is None
    # Turns around: once the last minute shows no growth of more than 50 m, estimates resume.
    for step in range(20, 100):
        eta.update(step * 1.0, *at(0, north), 36.0)
        north += 10.0
    assert eta.eta_s(HOME) == pytest.approx(straight_eta(*at(0, north - 10), 36.0))


def test_gps_jitter_is_not_driving_away() -> None:
    eta = EtaEstimator()
    for step, wobble in enumerate([0, 30, -20, 40, -30, 25, 0, 35]):
        eta.update(step * 5.0, *at(wobble, -5000 + wobble), 40.0)
    assert eta.eta_s(HOME) is not None


# --- routes -------------------------------------------------------------------------------------

# 2 km east, then 2 km north to the zone's centre.
L_ROUTE = [at(-2000, -2000), at(0, -2000), at(0, 0)]


def test_along_route_distance() -> None:
    eta = EtaEstimator()
    eta.set_route(L_ROUTE)
    eta.update(0.0, *at(-1000, -2000), 36.0)
    remaining = eta.remaining_m(HOME)
    assert remaining is not None
    assert remaining == pytest.approx(3000.0, rel=2e-3)
    assert eta.eta_s(HOME) == pytest.approx(remaining / 10.0)
    # 150 m beside the route still counts as on it.
    eta.update(1.0, *at(-1000, -1850), 36.0)
    assert eta.remaining_m(HOME) == pytest.approx(3000.0, rel=2e-3)


def test_off_route_falls_back_to_straight_line() -> None:
    eta = EtaEstimator()
    eta.set_route(L_ROUTE)
    eta.update(0.0, *at(-1000, -1500), 36.0)  # 500 m from the route
    assert eta.eta_s(HOME) == pytest.approx(straight_eta(*at(-1000, -1500), 36.0))


def test_route_to_elsewhere_is_ignored() -> None:
    eta = EtaEstimator()
    eta.set_route([at(-2000, -2000), at(5000, -2000)])
    eta.update(0.0, *at(-1000, -2000), 36.0)
    assert eta.eta_s(HOME) == pytest.approx(straight_eta(*at(-1000, -2000), 36.0))
    eta.set_route(None)
    assert eta.eta_s(HOME) == pytest.approx(straight_eta(*at(-1000, -2000), 36.0))


def interpolate(route: list[tuple[float, float]], spacing_m: float) -> list[tuple[float, float]]:
    """Points every ``spacing_m`` along a route (linear in degrees: fine at these distances)."""
    points = []
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(route):
        steps = max(1, round(distance_m(lat1, lon1, lat2, lon2) / spacing_m))
        for k in range(steps):
            f = k / steps
            points.append((lat1 + f * (lat2 - lat1), lon1 + f * (lon2 - lon1)))
    points.append(route[-1])
    return points


@pytest.mark.parametrize(
    "route",
    [
        L_ROUTE,
        # Out east, back along the same road, then north: the doubled road must not confuse it.
        [at(-2000, -2000), at(1000, -2000), at(-500, -2000), at(-500, 0), at(0, 0)],
        # A winding road that at times leads away from the destination.
        [at(0, -3000), at(-800, -2500), at(-800, -1500), at(600, -1200), at(0, 0)],
    ],
)
def test_eta_decreases_along_a_route_at_constant_speed(route: list[tuple[float, float]]) -> None:
    eta = EtaEstimator()
    eta.set_route(route)
    etas: list[float] = []
    for step, point in enumerate(interpolate(route, 50 / 3.6)):  # 50 km/h, a sample a second
        eta.update(float(step), *point, 50.0)
        estimate = eta.eta_s(HOME)
        assert estimate is not None
        etas.append(estimate)
    assert etas[-1] == 0.0
    # Until the zone's edge (where it drops to 0): one second less per second driven.
    driving = [e for e in etas if e > 0]
    for earlier, later in itertools.pairwise(driving):
        assert earlier - later == pytest.approx(1.0, abs=0.05)


def test_route_set_after_the_position_applies_at_once() -> None:
    eta = EtaEstimator()
    eta.update(0.0, *at(-1000, -2000), 36.0)
    eta.set_route(L_ROUTE)
    assert eta.remaining_m(HOME) == pytest.approx(3000.0, rel=2e-3)


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_doubled_road_with_gps_noise(rng: random.Random) -> None:
    # Out 1.5 km east and back along the other carriageway 15 m away, then north: a noisy fix
    # may sit nearer the other direction, which must not throw the estimate back and forth.
    route = [
        at(-2000, -2000),
        at(1000, -2000),
        at(1000, -1985),
        at(-500, -1985),
        at(-500, 0),
        at(0, 0),
    ]
    eta = EtaEstimator()
    eta.set_route(route)
    previous: float | None = None
    for step, point in enumerate(interpolate(route, 50 / 3.6)):
        east, north = rng.uniform(-10, 10), rng.uniform(-10, 10)
        lat, lon = point
        lat += math.degrees(north / R)
        lon += math.degrees(east / (R * math.cos(math.radians(lat))))
        eta.update(float(step), lat, lon, 50.0)
        estimate = eta.eta_s(HOME)
        assert estimate is not None
        if estimate == 0.0:  # reached the zone's edge
            break
        if previous is not None:
            # Noise moves it by seconds; matching the other direction would by minutes.
            assert previous - 5.0 <= estimate <= previous + 5.0
        previous = estimate
    assert estimate == 0.0


# --- speed --------------------------------------------------------------------------------------


def test_speed_is_the_mean_over_the_last_five_minutes_of_motion() -> None:
    eta = EtaEstimator()
    ts = 0.0
    for _ in range(600):
        eta.update(ts, *at(0, -20000), 100.0)
        ts += 1.0
    for _ in range(150):
        eta.update(ts, *at(0, -20000), 50.0)
        ts += 1.0
    assert eta.speed_kmh() == pytest.approx(75.0, rel=0.01)
    # A stop of 100 s does not count, neither as speed nor as time.
    for _ in range(100):
        eta.update(ts, *at(0, -20000), 0.0)
        ts += 1.0
    eta.update(ts, *at(0, -20000), 50.0)
    assert eta.speed_kmh() == pytest.approx(75.0, rel=0.01)
    for _ in range(400):
        ts += 1.0
        eta.update(ts, *at(0, -20000), 50.0)
    assert eta.speed_kmh() == pytest.approx(50.0)


def test_speed_floor_in_slow_traffic() -> None:
    eta = EtaEstimator()
    for step in range(10):
        eta.update(float(step), *at(0, -5000), 5.0)
    assert eta.speed_kmh() == 15.0


def test_speed_made_good_without_reported_speed() -> None:
    eta = EtaEstimator()
    for step in range(30):
        eta.update(float(step), *at(0, -5000 + 10 * step), None)  # 10 m/s
    assert eta.speed_kmh() == pytest.approx(36.0, rel=0.01)
    # Parked with GPS wandering a few metres: standing, not crawling.
    parked = EtaEstimator()
    for step in range(200):
        parked.update(float(step), *at(5 * (step % 2), -5000), None)
    assert parked.eta_s(HOME) is None


@settings(max_examples=50, deadline=None)
@given(
    st.floats(30.0, 130.0),
    st.lists(st.floats(-0.2, 0.2), min_size=20, max_size=80),
)
def test_speed_jitter_keeps_eta_in_bounds(nominal_kmh: float, jitter: list[float]) -> None:
    eta = EtaEstimator()
    north = -30_000.0
    previous: float | None = None
    for step, noise in enumerate(jitter):
        reported = nominal_kmh * (1 + noise)
        eta.update(step * 2.0, *at(0, north), reported)
        estimate = eta.eta_s(HOME)
        assert estimate is not None
        remaining = eta.remaining_m(HOME)
        assert remaining is not None
        base = remaining / (nominal_kmh / 3.6)
        assert base / 1.2 <= estimate * (1 + 1e-9)
        assert estimate <= base / 0.8 * (1 + 1e-9)
        if previous is not None and step >= 5:
            # One sample moves the mean by at most its share of the time, not by ±20 %.
            assert abs(estimate - previous) <= 0.12 * previous
        previous = estimate
        north += nominal_kmh / 3.6 * 2.0


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("speed", [-1.0, math.nan, math.inf])
def test_bad_speed(speed: float) -> None:
    with pytest.raises(InvalidTrackError, match="invalid speed") as info:
        EtaEstimator().update(0.0, *at(0, 0), speed)
    assert isinstance(info.value, InvalidInputError)


def test_bad_timestamp_and_position() -> None:
    with pytest.raises(InvalidTrackError, match="timestamp"):
        EtaEstimator().update(math.nan, *at(0, 0), 10.0)
    with pytest.raises(InvalidPositionError, match="latitude"):
        EtaEstimator().update(0.0, 95.0, 0.0, 10.0)


def test_bad_route() -> None:
    with pytest.raises(InvalidTrackError, match="at least 2 points, not 1"):
        EtaEstimator().set_route([at(0, 0)])
    with pytest.raises(InvalidPositionError, match="longitude"):
        EtaEstimator().set_route([at(0, 0), (0.0, 200.0)])


def test_stale_sample_is_ignored() -> None:
    eta = EtaEstimator()
    eta.update(10.0, *at(0, -5000), 36.0)
    eta.update(5.0, *at(0, -1000), 36.0)
    assert eta.remaining_m(HOME) == pytest.approx(4900 * CIRCUITY_FACTOR, rel=1e-3)
