"""Zones (geofences) and which device is inside which: great-circle distance, the position
properties of each device kind, and zone enter/leave detection with hysteresis.

Pure code: positions come in as values, events go out as values; nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from smartev.core.errors import InvalidInputError
from smartev.ecosystem.errors import EcosystemError
from smartev.ecosystem.model import ZoneEvent
from smartev.spec.errors import show_value

__all__ = [
    "EARTH_RADIUS_M",
    "SPEED_REFS",
    "InvalidPositionError",
    "InvalidZoneError",
    "UnknownZoneError",
    "Zone",
    "ZoneTracker",
    "check_position",
    "distance_m",
    "position_refs",
]

# IUGG mean Earth radius (R1 = (2a + b) / 3 of WGS 84); haversine on a sphere of this radius is
# within ~0.5 % of the ellipsoidal distance, far below GPS error at geofence scales.
EARTH_RADIUS_M = 6_371_008.8

MAX_NAME_LEN = 64
MIN_RADIUS_M = 1.0
MAX_RADIUS_M = 100_000.0
# Leaving needs this much beyond the radius (whichever is larger): consumer GPS wanders by
# 5–20 m, so a device parked at the edge would otherwise enter and leave over and over.
MIN_LEAVE_MARGIN_M = 20.0
LEAVE_MARGIN_FRACTION = 0.10

_POSITION_REFS: dict[str, tuple[str, str]] = {
    "car": ("Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude"),
    "phone": ("location.latitude", "location.longitude"),
}

SPEED_REFS: dict[str, str] = {"car": "Vehicle.Speed"}
"""Per device kind, the ref of its speed in km/h (only kinds that report one)."""


class InvalidZoneError(EcosystemError, InvalidInputError):
    """A zone's name, centre or radius is out of range, or two zones share a name."""


class InvalidPositionError(EcosystemError, InvalidInputError):
    """A latitude/longitude is not a finite number in range."""


class UnknownZoneError(EcosystemError, InvalidInputError, LookupError):
    """No zone has this name; the message lists the ones there are."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        shown = ", ".join(sorted(known))
        super().__init__(f"unknown zone {show_value(name)}; zones: {shown or 'none'}")
        self.name = name


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_position(lat: float, lon: float) -> None:
    """Raise :class:`InvalidPositionError` unless ``lat``/``lon`` are finite degrees in range."""
    if not _is_number(lat) or not -90.0 <= lat <= 90.0:
        raise InvalidPositionError(f"invalid latitude {show_value(lat)}: must be -90..90 degrees")
    if not _is_number(lon) or not -180.0 <= lon <= 180.0:
        raise InvalidPositionError(
            f"invalid longitude {show_value(lon)}: must be -180..180 degrees"
        )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees (haversine)."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlambda = math.radians(lon2 - lon1) / 2.0
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    # Rounding can push ``a`` a hair outside [0, 1] for (near-)antipodal points.
    a = min(1.0, max(0.0, a))
    return 2.0 * EARTH_RADIUS_M * math.atan2(math.sqrt(a), math.sqrt(1.0 - a))


def position_refs(kind: str) -> tuple[str, str] | None:
    """The (latitude, longitude) property refs of a device kind, or None if it has no position."""
    return _POSITION_REFS.get(kind)


@dataclass(frozen=True, slots=True)
class Zone:
    """A circle on the Earth: ``name``, centre ``lat``/``lon`` in degrees, radius in metres."""

    name: str
    lat: float
    lon: float
    radius_m: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidZoneError(f"invalid zone name {show_value(self.name)}: must not be blank")
        if len(self.name) > MAX_NAME_LEN:
            raise InvalidZoneError(
                f"invalid zone name {show_value(self.name)}: "
                f"must be at most {MAX_NAME_LEN} characters, not {len(self.name)}"
            )
        try:
            check_position(self.lat, self.lon)
        except InvalidPositionError as exc:
            raise InvalidZoneError(f"zone {show_value(self.name)}: {exc}") from None
        if not _is_number(self.radius_m) or not MIN_RADIUS_M <= self.radius_m <= MAX_RADIUS_M:
            raise InvalidZoneError(
                f"zone {show_value(self.name)}: invalid radius {show_value(self.radius_m)}: "
                f"must be {MIN_RADIUS_M:g}..{MAX_RADIUS_M:,.0f} m"
            )

    @property
    def leave_radius_m(self) -> float:
        """The distance from the centre beyond which a device inside counts as having left."""
        return self.radius_m + max(MIN_LEAVE_MARGIN_M, LEAVE_MARGIN_FRACTION * self.radius_m)

    def distance_m(self, lat: float, lon: float) -> float:
        """Distance in metres from the zone's centre to a point."""
        return distance_m(self.lat, self.lon, lat, lon)

    def contains(self, lat: float, lon: float) -> bool:
        """Whether a point lies within the radius (no hysteresis: the plain geometric test)."""
        return self.distance_m(lat, lon) <= self.radius_m


class ZoneTracker:
    """Which device is inside which zone, turning positions into enter/leave events.

    A device is inside once its distance to the centre is ≤ ``radius_m`` and stays inside until
    the distance exceeds :attr:`Zone.leave_radius_m` (radius + max(20 m, 10 % of radius)), so GPS
    jitter at the edge does not make it flap.

    No event is ever produced for a state that was not known before: a device's first position,
    and the first position after a zone was added, only *set* its state. So at start-up a car
    parked at home has not "entered" home, and drawing a new zone around a car does not fire an
    enter. Removing a zone forgets every device's state for it; re-adding a zone of the same name
    with different geometry keeps the state and applies the hysteresis with the new geometry.
    """

    def __init__(self, zones: Iterable[Zone] = ()) -> None:
        self._zones: dict[str, Zone] = {}
        # device -> zone name -> inside. A zone missing for a known device: not evaluated yet.
        self._inside: dict[str, dict[str, bool]] = {}
        self.set_zones(zones)

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(self._zones.values())

    def zone(self, name: str) -> Zone:
        """The zone named ``name``; :class:`UnknownZoneError` if there is none."""
        try:
            return self._zones[name]
        except KeyError:
            raise UnknownZoneError(name, self._zones) from None

    def set_zones(self, zones: Iterable[Zone]) -> None:
        """Replace the set of zones. Names must be unique."""
        new: dict[str, Zone] = {}
        for zone in zones:
            if zone.name in new:
                raise InvalidZoneError(
                    f"duplicate zone name {show_value(zone.name)}: each zone needs its own name"
                )
            new[zone.name] = zone
        self._zones = new
        for states in self._inside.values():
            for name in [n for n in states if n not in new]:
                del states[name]

    def update(self, device: str, lat: float, lon: float) -> list[tuple[str, ZoneEvent]]:
        """Record a device's position; return the (zone name, event) pairs it caused, in zone
        order."""
        check_position(lat, lon)
        states = self._inside.setdefault(device, {})
        events: list[tuple[str, ZoneEvent]] = []
        for name, zone in self._zones.items():
            distance = zone.distance_m(lat, lon)
            was_inside = states.get(name)
            if was_inside is None:
                states[name] = distance <= zone.radius_m
            elif not was_inside and distance <= zone.radius_m:
                states[name] = True
                events.append((name, ZoneEvent.ENTER))
            elif was_inside and distance > zone.leave_radius_m:
                states[name] = False
                events.append((name, ZoneEvent.LEAVE))
        return events

    def inside(self, device: str, zone: str) -> bool | None:
        """Whether ``device`` is in ``zone``; None while its position since the zone was added is
        unknown. :class:`UnknownZoneError` if no zone has that name."""
        if zone not in self._zones:
            raise UnknownZoneError(zone, self._zones)
        return self._inside.get(device, {}).get(zone)

    def devices_in(self, zone: str) -> list[str]:
        """The devices currently inside ``zone``, sorted."""
        if zone not in self._zones:
            raise UnknownZoneError(zone, self._zones)
        return sorted(d for d, states in self._inside.items() if states.get(zone))

    def forget(self, device: str) -> None:
        """Drop a device's state (it was removed); its next position sets state without events."""
        self._inside.pop(device, None)
