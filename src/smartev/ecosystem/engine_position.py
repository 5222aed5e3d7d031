"""Where the household's devices with a position are: zone membership (through the geo
module's :class:`ZoneTracker`) and each device's ETA to the zones (one :class:`EtaEstimator`
per device)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

from smartev.ecosystem.eta import EtaEstimator, InvalidTrackError
from smartev.ecosystem.geo import InvalidPositionError, Zone, ZoneTracker
from smartev.ecosystem.model import ZoneEvent


class PositionTracker:
    def __init__(self, zones: Mapping[str, Zone]) -> None:
        self._zones = dict(zones)
        self._tracker = ZoneTracker(self._zones.values())
        self._estimators: dict[str, EtaEstimator] = {}

    @property
    def zones(self) -> Mapping[str, Zone]:
        return self._zones

    def set_zones(self, zones: Mapping[str, Zone]) -> None:
        self._zones = dict(zones)
        self._tracker.set_zones(self._zones.values())

    def inside(self, device: str, zone: str) -> bool | None:
        """Raises LookupError (:class:`UnknownZoneError`) for a zone that does not exist."""
        return self._tracker.inside(device, zone)

    def moved(
        self, device: str, ts: float, lat: float, lon: float, speed_kmh: float | None
    ) -> list[tuple[str, ZoneEvent]]:
        """Record a position; the zone crossings it made. A position out of range is ignored
        (a broken fix must not look like leaving home)."""
        try:
            events = self._tracker.update(device, lat, lon)
        except InvalidPositionError:
            return []
        estimator = self._estimators.get(device)
        if estimator is None:
            estimator = self._estimators[device] = EtaEstimator()
        if speed_kmh is not None and speed_kmh < 0:
            speed_kmh = None  # a signed speed (reversing) says nothing about the approach
        # A sample the estimator cannot use leaves the estimate as it was.
        with contextlib.suppress(InvalidTrackError):
            estimator.update(ts, lat, lon, speed_kmh)
        return events

    def eta_s(self, device: str, zone: str, now: float) -> float | None:
        """Seconds until ``device`` reaches ``zone``, or None when there is no estimate."""
        estimator = self._estimators.get(device)
        target = self._zones.get(zone)
        if estimator is None or target is None:
            return None
        return estimator.eta_s(target, now=now)

    def set_route(self, device: str, points: Sequence[tuple[float, float]] | None) -> None:
        """Raises :class:`InvalidTrackError` for a route of fewer than 2 points."""
        estimator = self._estimators.get(device)
        if estimator is None:
            estimator = self._estimators[device] = EtaEstimator()
        estimator.set_route(points)

    def forget(self, device: str) -> None:
        self._tracker.forget(device)
        self._estimators.pop(device, None)
