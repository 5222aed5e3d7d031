"""Estimated time of arrival of a moving device (the car) at a zone, from its reported
positions, speeds and, when known, its planned route.

Pure code: every sample carries its own timestamp; nothing here reads a clock.

The model — ETA = remaining distance / expected speed:

Remaining distance
    Inside the zone (distance to the centre ≤ radius): 0. With a route whose end lies in the zone
    and the car within :data:`ROUTE_TOLERANCE_M` of it: the distance along the route from the
    car's projection onto the nearest segment to the route's end. Otherwise (no route, a route
    to somewhere else, or off the route): the straight-line distance to the zone's edge times
    :data:`CIRCUITY_FACTOR`. Roads are longer than the crow flies; the ratio ("detour index" or
    circuity factor) is typically 1.2–1.4 (Ballou, Rahardja and Sakai 2002, "Selected country
    circuity factors for road travel distance estimation", Transportation Research Part A 36);
    1.3 is the middle of that range. Where a route passes the same place twice (out and back, a
    loop), the match that continues the previous one — its remaining distance less the distance
    moved — wins over the nearest by a few metres of GPS error.

Expected speed
    The time-weighted mean of the reported speed over the last :data:`MOTION_WINDOW_S` of
    motion — samples below :data:`STANDING_KMH` count neither as speed nor as time, so a red
    light neither drags the mean down nor shortens the window. Each sample's speed holds over
    the interval since the sample before it. The mean is floored at :data:`MIN_SPEED_KMH`, since
    a car in slow traffic still arrives. A sample without a speed (a phone) takes the speed made
    good over the positions of the last :data:`APPROACH_WINDOW_S` (at least
    :data:`MIN_DERIVED_SPAN_S` of them, so GPS jitter is not read as motion).

No estimate (None)
    No position yet; no motion seen yet; standing (< :data:`STANDING_KMH`) for more than
    :data:`STANDING_LIMIT_S`; or, when the straight-line distance is used, driving away: the
    distance to the zone is more than :data:`AWAY_TOLERANCE_M` above its minimum over the last
    :data:`APPROACH_WINDOW_S`. (Along a route the distance to the destination may grow for a
    while — a road that winds — so the check is not made there.)
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from smartev.core.errors import InvalidInputError
from smartev.ecosystem.errors import EcosystemError
from smartev.ecosystem.geo import EARTH_RADIUS_M, Zone, check_position, distance_m
from smartev.spec.errors import show_value

__all__ = [
    "APPROACH_WINDOW_S",
    "AWAY_TOLERANCE_M",
    "CIRCUITY_FACTOR",
    "MIN_SPEED_KMH",
    "MOTION_WINDOW_S",
    "ROUTE_TOLERANCE_M",
    "STANDING_KMH",
    "STANDING_LIMIT_S",
    "EtaEstimator",
    "InvalidTrackError",
]

CIRCUITY_FACTOR = 1.3
ROUTE_TOLERANCE_M = 200.0
MOTION_WINDOW_S = 300.0
STANDING_KMH = 3.0
MIN_SPEED_KMH = 15.0
STANDING_LIMIT_S = 120.0
APPROACH_WINDOW_S = 60.0
AWAY_TOLERANCE_M = 50.0
# Route segments this much farther than the nearest may be where the device really is: GPS
# error is about this size.
SAME_PLACE_M = 25.0
MIN_DERIVED_SPAN_S = 10.0


class InvalidTrackError(EcosystemError, InvalidInputError):
    """A sample or a route given to the ETA estimator is not usable (bad speed, too few points)."""


@dataclass(frozen=True, slots=True)
class _Fix:
    ts: float
    lat: float
    lon: float


def _local_xy(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """Metres east/north of (lat0, lon0) on a plane tangent there (equirectangular): exact
    enough within the few hundred metres where projecting onto a route matters."""
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0  # across the antimeridian the short way
    x = math.radians(dlon) * math.cos(math.radians(lat0)) * EARTH_RADIUS_M
    y = math.radians(lat - lat0) * EARTH_RADIUS_M
    return x, y


class _Route:
    """A polyline with the length remaining from each vertex to its end."""

    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        if len(points) < 2:
            raise InvalidTrackError(
                f"a route needs at least 2 points, not {len(points)}; pass None to clear it"
            )
        for lat, lon in points:
            check_position(lat, lon)
        self.points = tuple((float(lat), float(lon)) for lat, lon in points)
        tail = [0.0]
        for (lat1, lon1), (lat2, lon2) in zip(
            reversed(self.points[:-1]), reversed(self.points[1:]), strict=True
        ):
            tail.append(tail[-1] + distance_m(lat1, lon1, lat2, lon2))
        self.remaining_from = tuple(reversed(tail))  # [i]: along the route from vertex i to end

    @property
    def end(self) -> tuple[float, float]:
        return self.points[-1]

    def remaining_m(self, lat: float, lon: float, expected: float | None) -> float | None:
        """Distance along the route from the projection of (lat, lon) to the end; None when the
        point is farther than the tolerance from the route.

        Where the route passes the same place twice (a road driven out and back, a loop),
        segments about as near as the nearest (within :data:`SAME_PLACE_M`) compete, and the one
        whose remaining distance is closest to ``expected`` — the previous match less the
        distance moved since — wins; with no previous match, the earliest along the route."""
        matches: list[tuple[float, float]] = []  # (offset from route, remaining)
        for i, ((lat1, lon1), (lat2, lon2)) in enumerate(itertools.pairwise(self.points)):
            ax, ay = _local_xy(lat, lon, lat1, lon1)
            bx, by = _local_xy(lat, lon, lat2, lon2)
            dx, dy = bx - ax, by - ay
            length_sq = dx * dx + dy * dy
            # The point sits at the origin; t is where its projection falls along A→B.
            t = 0.0 if length_sq == 0.0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / length_sq))
            px, py = ax + t * dx, ay + t * dy
            rest = math.hypot(bx - px, by - py) + self.remaining_from[i + 1]
            matches.append((math.hypot(px, py), rest))
        nearest = min(offset for offset, _ in matches)
        if nearest > ROUTE_TOLERANCE_M:
            return None
        rests = [rest for offset, rest in matches if offset <= nearest + SAME_PLACE_M]
        if expected is None:
            return max(rests)
        return min(rests, key=lambda rest: abs(rest - expected))


class EtaEstimator:
    """Estimates one device's time of arrival at zones from its stream of samples.

    Feed every position (with the speed in km/h when the device reports one) to :meth:`update`
    in time order; samples older than the newest one are ignored (a late duplicate).
    """

    def __init__(self) -> None:
        self._last: _Fix | None = None
        # Positions of the last APPROACH_WINDOW_S, plus the newest one before it as a baseline.
        self._fixes: deque[_Fix] = deque()
        # (seconds, km/h) intervals of motion, newest last, MOTION_WINDOW_S in total at most.
        self._motion: deque[tuple[float, float]] = deque()
        self._motion_s = 0.0
        self._last_moving_kmh: float | None = None
        self._standing_since: float | None = None
        self._route: _Route | None = None
        # Distance along the route to its end at the newest position; None: off or no route.
        self._route_rest: float | None = None

    def set_route(self, points: Sequence[tuple[float, float]] | None) -> None:
        """Set the planned route, (lat, lon) points ending at the destination; None clears it."""
        self._route = None if points is None else _Route(points)
        self._route_rest = self._match_route(self._last, None) if self._last else None

    def _match_route(self, fix: _Fix, previous: _Fix | None) -> float | None:
        if self._route is None:
            return None
        expected = None
        if previous is not None and self._route_rest is not None:
            moved = distance_m(previous.lat, previous.lon, fix.lat, fix.lon)
            expected = self._route_rest - moved
        return self._route.remaining_m(fix.lat, fix.lon, expected)

    def update(self, ts: float, lat: float, lon: float, speed_kmh: float | None) -> None:
        """Record a sample: ``ts`` in seconds (any epoch, the same for every sample), position in
        degrees, speed in km/h or None if the device does not report one."""
        if not math.isfinite(ts):
            raise InvalidTrackError(f"invalid timestamp {show_value(ts)}: must be finite")
        check_position(lat, lon)
        if speed_kmh is not None and (not math.isfinite(speed_kmh) or speed_kmh < 0):
            raise InvalidTrackError(
                f"invalid speed {show_value(speed_kmh)}: must be a finite number ≥ 0 km/h"
            )
        previous = self._last
        if previous is not None and ts < previous.ts:
            return
        fix = _Fix(ts, lat, lon)
        self._last = fix
        self._fixes.append(fix)
        while len(self._fixes) > 1 and self._fixes[1].ts <= ts - APPROACH_WINDOW_S:
            self._fixes.popleft()
        self._route_rest = self._match_route(fix, previous)
        speed = speed_kmh if speed_kmh is not None else self._speed_made_good()
        if speed is None:
            return
        if speed < STANDING_KMH:
            if self._standing_since is None:
                self._standing_since = ts
            return
        self._standing_since = None
        self._last_moving_kmh = speed
        if previous is not None and ts > previous.ts:
            self._add_motion(ts - previous.ts, speed)

    def _speed_made_good(self) -> float | None:
        first, last = self._fixes[0], self._fixes[-1]
        span = last.ts - first.ts
        if span < MIN_DERIVED_SPAN_S:
            return None
        return distance_m(first.lat, first.lon, last.lat, last.lon) / span * 3.6

    def _add_motion(self, seconds: float, kmh: float) -> None:
        self._motion.append((seconds, kmh))
        self._motion_s += seconds
        while self._motion_s > MOTION_WINDOW_S:
            oldest_s, oldest_kmh = self._motion[0]
            excess = self._motion_s - MOTION_WINDOW_S
            if oldest_s <= excess:
                self._motion.popleft()
                self._motion_s -= oldest_s
            else:
                self._motion[0] = (oldest_s - excess, oldest_kmh)
                self._motion_s = MOTION_WINDOW_S

    def speed_kmh(self, *, now: float | None = None) -> float | None:
        """The speed the estimate uses, or None (no position, never moved, or standing for more
        than :data:`STANDING_LIMIT_S` up to ``now`` — by default the newest sample's time)."""
        if self._last is None:
            return None
        if self._standing_since is not None:
            at = self._last.ts if now is None else max(now, self._last.ts)
            if at - self._standing_since > STANDING_LIMIT_S:
                return None
        if self._motion_s > 0:
            mean = sum(s * kmh for s, kmh in self._motion) / self._motion_s
        elif self._last_moving_kmh is not None:
            mean = self._last_moving_kmh  # moving since the very first sample
        else:
            return None
        return max(mean, MIN_SPEED_KMH)

    def remaining_m(self, zone: Zone) -> float | None:
        """The distance still to drive into ``zone`` (see the module docstring), or None with no
        position yet or when driving away from it."""
        last = self._last
        if last is None:
            return None
        if zone.contains(last.lat, last.lon):
            return 0.0
        route = self._route
        if route is not None and self._route_rest is not None and zone.contains(*route.end):
            return self._route_rest
        to_edge = zone.distance_m(last.lat, last.lon) - zone.radius_m
        nearest = min(zone.distance_m(f.lat, f.lon) for f in self._fixes) - zone.radius_m
        if to_edge - nearest > AWAY_TOLERANCE_M:
            return None
        return to_edge * CIRCUITY_FACTOR

    def eta_s(self, zone: Zone, *, now: float | None = None) -> float | None:
        """Seconds until the device is expected inside ``zone``: 0 when it is inside, None when
        there is no estimate (see the module docstring). ``now`` (same epoch as the samples)
        lets a standing car time out when no new sample arrives."""
        remaining = self.remaining_m(zone)
        if remaining is None:
            return None
        if remaining == 0.0:
            return 0.0
        speed = self.speed_kmh(now=now)
        if speed is None:
            return None
        return remaining / (speed / 3.6)
