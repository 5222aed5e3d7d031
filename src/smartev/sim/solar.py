"""Where the sun is and what a clear sky delivers: solar elevation from date, time (UTC) and
place, clear-sky irradiance on the ground, and the output of a photovoltaic array.

Pure functions, no time zones: everything works in UTC and the longitude gives the solar time.
The sun's position follows NOAA's low-precision series (good to a fraction of a degree), the sky
Meinel's air-mass attenuation with Kasten–Young's air mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Extraterrestrial normal irradiance (W/m²) and the share of diffuse light that a clear sky adds
# to the direct beam on a horizontal surface (Meinel's rule of thumb).
SOLAR_CONSTANT_W_M2 = 1353.0
DIFFUSE_FACTOR = 1.1


@dataclass(frozen=True, slots=True)
class SunPosition:
    elevation_deg: float  # above the horizon; negative at night
    declination_deg: float
    hour_angle_deg: float  # 0 at solar noon, negative in the morning
    equation_of_time_min: float


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"time {when.isoformat()} must be timezone-aware (UTC or with an offset)")
    return when.astimezone(UTC)


def _fractional_year(when: datetime) -> float:
    """The year's angle in radians (NOAA's gamma), at the given UTC time."""
    hours = when.hour + when.minute / 60 + when.second / 3600
    days = 366 if _is_leap(when.year) else 365
    return 2 * math.pi / days * (when.timetuple().tm_yday - 1 + (hours - 12) / 24)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def equation_of_time_min(gamma: float) -> float:
    return 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )


def declination_rad(gamma: float) -> float:
    return (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )


def sun_position(latitude: float, longitude: float, when: datetime) -> SunPosition:
    """The sun seen from (``latitude``, ``longitude``) in degrees (east positive) at ``when``."""
    utc = _utc(when)
    gamma = _fractional_year(utc)
    eot = equation_of_time_min(gamma)
    decl = declination_rad(gamma)
    minutes = utc.hour * 60 + utc.minute + utc.second / 60 + utc.microsecond / 60e6
    true_solar_min = minutes + eot + 4 * longitude
    hour_angle = ((true_solar_min / 4 - 180) + 540) % 360 - 180
    phi = math.radians(latitude)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(
        math.radians(hour_angle)
    )
    elevation = 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))
    return SunPosition(elevation, math.degrees(decl), hour_angle, eot)


def solar_elevation_deg(latitude: float, longitude: float, when: datetime) -> float:
    return sun_position(latitude, longitude, when).elevation_deg


def solar_noon(longitude: float, when: datetime) -> datetime:
    """The UTC time of solar noon (the sun due south or north) on ``when``'s UTC date."""
    utc = _utc(when)
    midnight = datetime(utc.year, utc.month, utc.day, tzinfo=UTC)
    noon = midnight + timedelta(minutes=720 - 4 * longitude)
    # The equation of time hardly moves in a day: two rounds are exact to well under a second.
    for _ in range(2):
        eot = equation_of_time_min(_fractional_year(noon))
        noon = midnight + timedelta(minutes=720 - 4 * longitude - eot)
    return noon


def air_mass(elevation_deg: float) -> float:
    """Relative optical path through the atmosphere (Kasten–Young 1989); 1 at the zenith."""
    zenith = 90.0 - max(elevation_deg, 0.0)
    correction: float = 0.50572 * (96.07995 - zenith) ** -1.6364
    return 1.0 / (math.cos(math.radians(zenith)) + correction)


def clear_sky_irradiance_w_m2(elevation_deg: float) -> float:
    """Global irradiance on a horizontal surface under a clear sky; 0 when the sun is down.

    About 1000 W/m² with the sun overhead, falling with sin(elevation) and with the longer path
    through the air (Meinel: direct = S·0.7^(AM^0.678), plus a tenth for diffuse light).
    """
    if elevation_deg <= 0:
        return 0.0
    direct: float = SOLAR_CONSTANT_W_M2 * 0.7 ** (air_mass(elevation_deg) ** 0.678)
    return DIFFUSE_FACTOR * direct * math.sin(math.radians(elevation_deg))


def pv_power_w(
    peak_kw: float,
    latitude: float,
    longitude: float,
    when: datetime,
    *,
    efficiency: float = 0.85,
    sky_clearness: float = 1.0,
) -> float:
    """A horizontal array's AC output: ``peak_kw`` at 1000 W/m², times the system efficiency
    (inverter, wiring, heat) and how clear the sky is (1 clear … 0 overcast)."""
    irradiance = clear_sky_irradiance_w_m2(solar_elevation_deg(latitude, longitude, when))
    return peak_kw * 1000.0 * irradiance / 1000.0 * efficiency * sky_clearness


def local_solar_hour(longitude: float, when: datetime) -> float:
    """Mean solar time of day in hours 0..24 (UTC shifted by the longitude, 15° an hour)."""
    utc = _utc(when)
    hours = utc.hour + utc.minute / 60 + utc.second / 3600 + utc.microsecond / 3.6e9
    return (hours + longitude / 15.0) % 24.0
