from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.sim.solar import (
    clear_sky_irradiance_w_m2,
    local_solar_hour,
    pv_power_w,
    solar_elevation_deg,
    solar_noon,
    sun_position,
)

MUNICH = (48.137, 11.575)
JUNE = datetime(2026, 6, 21, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 21, tzinfo=UTC)


def _day(start: datetime, step_min: int = 5) -> list[datetime]:
    return [start + timedelta(minutes=m) for m in range(0, 24 * 60, step_min)]


def _daily_kwh(peak_kw: float, lat: float, lon: float, day: datetime) -> float:
    return sum(pv_power_w(peak_kw, lat, lon, t) for t in _day(day)) * 5 / 60 / 1000


def test_zero_at_local_midnight() -> None:
    midnight = solar_noon(MUNICH[1], JUNE) - timedelta(hours=12)
    assert pv_power_w(6.0, *MUNICH, midnight) == 0.0
    assert solar_elevation_deg(*MUNICH, midnight) < -15


def test_peak_near_solar_noon() -> None:
    noon = solar_noon(MUNICH[1], JUNE)
    times = _day(JUNE, 1)
    best = max(times, key=lambda t: pv_power_w(6.0, *MUNICH, t))
    assert abs((best - noon).total_seconds()) <= 5 * 60
    # Munich is 11.6° east: solar noon comes about 46 min before 12:00 UTC, give or take the
    # equation of time (−1.6 min at the June solstice).
    assert noon.hour == 11
    assert 10 <= noon.minute <= 18


def test_sun_at_noon_on_the_solstices_matches_the_declination() -> None:
    for day, decl in ((JUNE, 23.44), (DECEMBER, -23.44)):
        sun = sun_position(*MUNICH, solar_noon(MUNICH[1], day))
        assert sun.declination_deg == pytest.approx(decl, abs=0.1)
        assert sun.elevation_deg == pytest.approx(90 - MUNICH[0] + decl, abs=0.2)
        assert abs(sun.hour_angle_deg) < 0.1


def test_june_yields_more_than_december_at_48_north() -> None:
    june = _daily_kwh(6.0, *MUNICH, JUNE)
    december = _daily_kwh(6.0, *MUNICH, DECEMBER)
    assert june > 3 * december > 0
    # A 6 kWp horizontal array on a clear June day: a few tens of kWh, not hundreds.
    assert 25 < june < 50


def test_polar_night_is_dark_all_day() -> None:
    assert all(pv_power_w(6.0, 80.0, 15.0, t) == 0.0 for t in _day(DECEMBER, 10))


def test_midnight_sun_shines_at_midnight() -> None:
    midnight = solar_noon(15.0, JUNE) - timedelta(hours=12)
    assert pv_power_w(6.0, 80.0, 15.0, midnight) > 0


@pytest.mark.parametrize("hours", [1.0, 2.5, 4.0, 6.0])
def test_output_is_symmetric_around_solar_noon(hours: float) -> None:
    noon = solar_noon(MUNICH[1], JUNE)
    before = pv_power_w(6.0, *MUNICH, noon - timedelta(hours=hours))
    after = pv_power_w(6.0, *MUNICH, noon + timedelta(hours=hours))
    assert before == pytest.approx(after, rel=0.01)


def test_irradiance_is_about_1000_overhead_and_zero_below_the_horizon() -> None:
    assert clear_sky_irradiance_w_m2(90.0) == pytest.approx(1040, abs=30)
    assert clear_sky_irradiance_w_m2(0.0) == 0.0
    assert clear_sky_irradiance_w_m2(-5.0) == 0.0
    assert clear_sky_irradiance_w_m2(10.0) < clear_sky_irradiance_w_m2(30.0)


def test_sky_clearness_and_efficiency_scale_the_output() -> None:
    noon = solar_noon(MUNICH[1], JUNE)
    clear = pv_power_w(6.0, *MUNICH, noon, efficiency=1.0)
    assert pv_power_w(6.0, *MUNICH, noon, efficiency=1.0, sky_clearness=0.5) == clear / 2
    assert pv_power_w(12.0, *MUNICH, noon, efficiency=1.0) == pytest.approx(2 * clear)


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pv_power_w(6.0, *MUNICH, datetime(2026, 6, 21, 12, 0))  # noqa: DTZ001


def test_local_solar_hour_follows_the_longitude() -> None:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert local_solar_hour(0.0, at) == 12.0
    assert local_solar_hour(15.0, at) == 13.0
    assert local_solar_hour(-150.0, at) == 2.0


@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    seconds=st.integers(0, 366 * 86400 * 3),
)
def test_any_place_and_time_gives_bounded_values(lat: float, lon: float, seconds: int) -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    elevation = solar_elevation_deg(lat, lon, when)
    assert -90.0 <= elevation <= 90.0
    power = pv_power_w(6.0, lat, lon, when)
    assert 0.0 <= power <= 6.0 * 1100 * 0.85
    assert (power == 0.0) == (elevation <= 0.0) or power < 1e-6
