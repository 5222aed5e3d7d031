"""Places and prices: geofences (a named circle with a charging tariff), which one a position
falls in, what a charging session there cost, and the names of a drive's ends."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from smartev.cloud.session_records import ChargingSession, Drive
from smartev.core.errors import InvalidInputError

__all__ = [
    "ChargingCost",
    "DrivePlaces",
    "Geofence",
    "charging_cost",
    "distance_m",
    "drive_places",
    "match_geofence",
    "place_name",
]

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG); the haversine's error is < 0.5 % anyway
RADIUS_RANGE_M = (1.0, 100_000.0)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Geofence:
    """A named circle on the map and what charging inside it costs (all prices ≥ 0)."""

    name: str
    lat: float
    lon: float
    radius_m: float
    price_per_kwh: float = 0.0
    price_per_minute: float = 0.0
    session_fee: float = 0.0
    currency: str = "EUR"  # ISO 4217

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInputError(f"geofence name {self.name!r}: must not be blank")
        where = f"geofence {self.name!r}"
        _check(where, "lat", self.lat, -90.0, 90.0, "must be -90..90 degrees")
        _check(where, "lon", self.lon, -180.0, 180.0, "must be -180..180 degrees")
        lo, hi = RADIUS_RANGE_M
        _check(where, "radius_m", self.radius_m, lo, hi, "must be 1..100,000 m")
        for name in ("price_per_kwh", "price_per_minute", "session_fee"):
            _check(where, name, getattr(self, name), 0.0, math.inf, "must be a number >= 0")
        if not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isupper()):
            raise InvalidInputError(
                f"{where}: currency {self.currency!r} must be a 3-letter ISO 4217 code like 'EUR'"
            )


def _check(where: str, name: str, value: float, lo: float, hi: float, rule: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and lo <= value <= hi):
        raise InvalidInputError(f"{where}: {name} {value!r} {rule}")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a spherical earth (haversine), in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def match_geofence(lat: float, lon: float, geofences: Iterable[Geofence]) -> Geofence | None:
    """The geofence containing the position; of several, the smallest (a charger's own fence
    inside a city-wide one is the more precise answer). A tie goes to the first given."""
    best: Geofence | None = None
    for fence in geofences:
        inside = distance_m(lat, lon, fence.lat, fence.lon) <= fence.radius_m
        if inside and (best is None or fence.radius_m < best.radius_m):
            best = fence
    return best


def place_name(lat: float | None, lon: float | None, geofences: Iterable[Geofence]) -> str | None:
    """The name of the geofence a position lies in; None if it lies in none or is unknown."""
    if lat is None or lon is None:
        return None
    fence = match_geofence(lat, lon, geofences)
    return fence.name if fence is not None else None


@dataclass(frozen=True, slots=True)
class DrivePlaces:
    start: str | None
    end: str | None


def drive_places(drive: Drive, geofences: Iterable[Geofence]) -> DrivePlaces:
    """Names for where a drive began and ended (None where no geofence matches)."""
    fences = tuple(geofences)
    return DrivePlaces(
        place_name(drive.start_lat, drive.start_lon, fences),
        place_name(drive.end_lat, drive.end_lon, fences),
    )


@dataclass(frozen=True, slots=True)
class ChargingCost:
    amount: Decimal  # rounded to cents, half up
    currency: str
    geofence: str  # the geofence's name, whose tariff applied


def charging_cost(session: ChargingSession, geofence: Geofence) -> ChargingCost:
    """session fee + price per kWh × energy added + price per minute × duration, in cents.

    Money is computed in decimal from the floats' shortest representation, so 0.35 €/kWh is
    exactly 0.35 and the rounding to cents is the only one.
    """
    energy_kwh = session.energy_added_kwh
    if energy_kwh is None:
        if geofence.price_per_kwh > 0:
            raise InvalidInputError(
                f"charging session at {session.start_us} µs has no energy_added_kwh: geofence "
                f"{geofence.name!r} prices energy, so its cost needs the energy added"
            )
        energy_kwh = 0.0
    amount = (
        _decimal(geofence.session_fee)
        + _decimal(geofence.price_per_kwh) * _decimal(max(energy_kwh, 0.0))
        + _decimal(geofence.price_per_minute) * _decimal(session.duration_s) / 60
    )
    return ChargingCost(amount.quantize(_CENT, ROUND_HALF_UP), geofence.currency, geofence.name)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))
