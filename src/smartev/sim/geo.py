"""Geometry on the Earth's surface (a sphere of the mean radius): great-circle distance and the
point reached along a great circle."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius


def destination(
    lat: float, lon: float, heading_deg: float, distance_m: float
) -> tuple[float, float, float]:
    """(lat, lon, heading there) after ``distance_m`` along the great circle leaving at
    ``heading_deg``; the heading turns along the way, as a great circle's does."""
    phi, lam, theta = math.radians(lat), math.radians(lon), math.radians(heading_deg)
    delta = distance_m / EARTH_RADIUS_M
    sin_phi2 = math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta)
    phi2 = math.asin(max(-1.0, min(1.0, sin_phi2)))
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * sin_phi2,
    )
    # The heading on arrival is the reverse of the bearing from the end back to the start.
    back = math.atan2(
        math.sin(lam - lam2) * math.cos(phi),
        math.cos(phi2) * math.sin(phi) - math.sin(phi2) * math.cos(phi) * math.cos(lam - lam2),
    )
    lon2 = (math.degrees(lam2) + 540.0) % 360.0 - 180.0
    heading2 = (math.degrees(back) + 180.0) % 360.0 if distance_m > 0 else heading_deg % 360.0
    return math.degrees(phi2), lon2, heading2


def distance_between_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius, as :class:`Route` measures)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))
