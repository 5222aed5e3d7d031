"""Geofences, what charging inside them costs, and the names of a drive's ends."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.cloud.costs import (
    ChargingCost,
    DrivePlaces,
    Geofence,
    charging_cost,
    distance_m,
    drive_places,
    match_geofence,
    place_name,
)
from smartev.cloud.session_records import ChargingSession, Drive
from smartev.core.errors import InvalidInputError

HOME = Geofence("Home", 48.13743, 11.57549, 50.0, price_per_kwh=0.30, currency="EUR")
MUNICH = Geofence("Munich", 48.1374, 11.5755, 15_000.0)
IONITY = Geofence(
    "Ionity Holzkirchen",
    47.8856,
    11.6958,
    100.0,
    price_per_kwh=0.69,
    price_per_minute=0.0,
    session_fee=0.0,
)
METRES_PER_DEGREE = math.pi / 180 * 6_371_008.8  # of latitude, on the haversine's sphere


def a_session(energy_kwh: float | None, duration_s: float) -> ChargingSession:
    return ChargingSession(
        start_us=1_780_300_800_000_000,
        end_us=1_780_300_800_000_000 + round(duration_s * 1e6),
        lat=48.13743,
        lon=11.57549,
        duration_s=duration_s,
        energy_added_kwh=energy_kwh,
        energy_source="power" if energy_kwh is not None else None,
        energy_from_soc_kwh=None,
        kind="AC",
        power_max_kw=11.0,
        soc_start_pct=40.0,
        soc_end_pct=70.0,
        capacity_estimate_kwh=None,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"radius_m": 0.5}, "geofence 'x': radius_m 0.5 must be 1..100,000 m"),
        ({"radius_m": 100_001.0}, "radius_m 100001.0 must be 1..100,000 m"),
        ({"lat": 91.0}, "lat 91.0 must be -90..90 degrees"),
        ({"lon": -180.5}, "lon -180.5 must be -180..180 degrees"),
        ({"lat": math.nan}, "lat nan must be -90..90 degrees"),
        ({"price_per_kwh": -0.1}, "price_per_kwh -0.1 must be a number >= 0"),
        ({"price_per_minute": math.inf}, "price_per_minute inf must be a number >= 0"),
        ({"session_fee": -1.0}, "session_fee -1.0 must be a number >= 0"),
        ({"currency": "eur"}, "currency 'eur' must be a 3-letter ISO 4217 code"),
        ({"name": " "}, "geofence name ' ': must not be blank"),
    ],
)
def test_a_geofence_says_which_field_is_wrong_and_what_is_right(
    changes: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {"name": "x", "lat": 48.0, "lon": 11.0, "radius_m": 100.0}
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")):
        Geofence(**(fields | changes))  # type: ignore[arg-type]


def test_haversine_distance() -> None:
    assert distance_m(48.0, 11.0, 49.0, 11.0) == pytest.approx(METRES_PER_DEGREE)
    assert distance_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(METRES_PER_DEGREE)
    assert distance_m(0.0, 179.5, 0.0, -179.5) == pytest.approx(METRES_PER_DEGREE)  # across ±180°
    assert distance_m(90.0, 0.0, 90.0, 120.0) == pytest.approx(0.0, abs=1e-6)


@given(
    st.floats(-89.0, 89.0),
    st.floats(-180.0, 180.0),
    st.floats(-89.0, 89.0),
    st.floats(-180.0, 180.0),
)
def test_distance_is_symmetric_and_at_most_half_the_circumference(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    d = distance_m(lat1, lon1, lat2, lon2)
    assert d == pytest.approx(distance_m(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0.0 <= d <= math.pi * 6_371_008.8 + 1e-6


def test_the_smallest_containing_geofence_wins() -> None:
    fences = [MUNICH, HOME, IONITY]
    assert match_geofence(48.13743, 11.57549, fences) is HOME
    near_home_m = 40.0 / METRES_PER_DEGREE
    assert match_geofence(48.13743 + near_home_m, 11.57549, fences) is HOME
    assert match_geofence(48.13743 + 2 * near_home_m, 11.57549, fences) is MUNICH
    assert match_geofence(47.8856, 11.6958, fences) is IONITY
    assert match_geofence(52.52, 13.405, fences) is None  # Berlin
    assert match_geofence(48.0, 11.0, []) is None


def test_places_of_a_drive() -> None:
    drive = Drive(
        start_us=0,
        end_us=3_600_000_000,
        start_lat=48.13743,
        start_lon=11.57549,
        end_lat=47.8856,
        end_lon=11.6958,
        distance_km=35.0,
        distance_source="odometer",
        duration_s=3600.0,
        energy_used_kwh=6.0,
        energy_source="soc",
        efficiency_wh_per_km=171.4,
        speed_avg_kmh=35.0,
        speed_max_kmh=120.0,
        soc_start_pct=80.0,
        soc_end_pct=70.0,
        odometer_start_km=1000.0,
        odometer_end_km=1035.0,
    )
    assert drive_places(drive, [MUNICH, HOME, IONITY]) == DrivePlaces("Home", "Ionity Holzkirchen")
    assert place_name(None, 11.0, [HOME]) is None
    assert place_name(0.0, 0.0, [HOME]) is None


def test_charging_cost_is_fee_plus_energy_plus_time_in_cents() -> None:
    fence = Geofence(
        "Work",
        48.0,
        11.0,
        200.0,
        price_per_kwh=0.35,
        price_per_minute=0.02,
        session_fee=1.0,
        currency="EUR",
    )
    # 1.00 + 0.35 × 22.123 + 0.02 × 95 = 10.64305
    assert charging_cost(a_session(22.123, 95 * 60), fence) == ChargingCost(
        Decimal("10.64"), "EUR", "Work"
    )
    # 0.1 × 0.05 = 0.005, which rounds half up to a cent
    cheap = Geofence("Cheap", 48.0, 11.0, 200.0, price_per_kwh=0.1)
    assert charging_cost(a_session(0.05, 60), cheap).amount == Decimal("0.01")
    free = Geofence("Free", 48.0, 11.0, 200.0)
    assert charging_cost(a_session(30.0, 3600), free).amount == Decimal("0.00")


def test_a_session_without_energy_costs_only_fee_and_time_or_is_refused() -> None:
    parking = Geofence("Garage", 48.0, 11.0, 200.0, price_per_minute=0.05, session_fee=2.0)
    assert charging_cost(a_session(None, 600), parking).amount == Decimal("2.50")
    with pytest.raises(InvalidInputError, match="has no energy_added_kwh"):
        charging_cost(a_session(None, 600), HOME)
