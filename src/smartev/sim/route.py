"""Routes on the map: waypoints with speed limits and stops, their great-circle geometry, and the
drive cycle a car follows to drive one (``Route.to_cycle``); read from JSON or YAML."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import numpy as np
import numpy.typing as npt
import yaml

from smartev.sim.cycles import MAX_ACCEL_MPS2, DriveCycle
from smartev.sim.errors import InvalidCycleError
from smartev.sim.geo import EARTH_RADIUS_M

__all__ = ["Route", "Waypoint", "load_route", "parse_route"]

FloatArray = npt.NDArray[np.float64]

MAX_SPEED_LIMIT_KMH = 250.0
MAX_STOP_S = 86_400.0  # a dwell longer than a day is a parked car, not a route
MIN_SEGMENT_M = 0.1  # closer consecutive waypoints are duplicates: a segment needs a direction
_GRID_STEP_M = 1.0  # distance step of the speed envelope
_MAX_GRID_POINTS = 2_000_000  # past this (2000 km) the step grows instead: memory stays bounded
_MAX_SAMPLES = 10_000_000


@dataclass(frozen=True)
class Waypoint:
    lat: float  # degrees, -90..90
    lon: float  # degrees, -180..180
    speed_limit_kmh: float | None = None  # on the segment that starts here; None: route default
    stop_s: float = 0.0  # dwell here at standstill (traffic light, stop sign)


@dataclass(frozen=True)
class Route:
    """Waypoints joined by great-circle segments. Validated on construction."""

    name: str
    waypoints: tuple[Waypoint, ...]
    default_speed_kmh: float = 50.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "waypoints", tuple(self.waypoints))
        except TypeError:
            raise InvalidCycleError(f"route {self.name!r}: waypoints must be a sequence") from None
        _check_route(self.waypoints, self.default_speed_kmh, where=f"route {self.name!r}")

    @functools.cached_property
    def _unit_vectors(self) -> FloatArray:
        return _unit_vectors(self.waypoints)

    @functools.cached_property
    def _cumulative_m(self) -> FloatArray:
        """Distance from the start to each waypoint."""
        return np.concatenate(([0.0], np.cumsum(_segment_lengths_m(self.waypoints))))

    @property
    def distance_m(self) -> float:
        """Length along the great circles (haversine, mean Earth radius)."""
        return float(self._cumulative_m[-1])

    def position_at(self, distance_m: float) -> tuple[float, float, float]:
        """(lat, lon, heading in degrees 0..360 with 0 = north) after ``distance_m`` along the
        route, clamped to the route; the heading is that of the great circle being driven."""
        if not math.isfinite(distance_m):
            raise InvalidCycleError(f"route {self.name!r}: distance {distance_m} is not finite")
        cumulative = self._cumulative_m
        s = min(max(distance_m, 0.0), float(cumulative[-1]))
        k = min(int(np.searchsorted(cumulative, s, side="right")) - 1, len(cumulative) - 2)
        p1, p2 = self._unit_vectors[k], self._unit_vectors[k + 1]
        delta = (cumulative[k + 1] - cumulative[k]) / EARTH_RADIUS_M
        f = (s - cumulative[k]) / (cumulative[k + 1] - cumulative[k])
        # Spherical linear interpolation: exact on the great circle, across the antimeridian too.
        point = (math.sin((1 - f) * delta) * p1 + math.sin(f * delta) * p2) / math.sin(delta)
        normal = np.cross(p1, p2)
        heading = _heading_deg(point, np.cross(normal, point))
        if s <= 0.0 or s >= cumulative[-1]:  # the exact waypoint, not a rounded copy
            end = self.waypoints[0] if s <= 0.0 else self.waypoints[-1]
            return (end.lat, end.lon, heading)
        lat = math.degrees(math.atan2(point[2], math.hypot(point[0], point[1])))
        lon = math.degrees(math.atan2(point[1], point[0]))
        return (lat, lon, heading)

    def to_cycle(
        self, *, accel_mps2: float = 1.5, decel_mps2: float = 2.0, dt_s: float = 1.0
    ) -> DriveCycle:
        """The speed profile of driving the route, sampled every ``dt_s`` seconds.

        Starts and ends at standstill, keeps each segment's limit (that of its first waypoint, or
        the route default) while on it, brakes at ``decel_mps2`` *before* a slower segment or a
        stop, accelerates at ``accel_mps2``, and dwells ``stop_s`` at zero speed at each waypoint
        with one. The profile is exact at the sample times (constant acceleration between points
        of a 1 m distance grid), so limits and acceleration bounds hold at every sample. The
        car waits less than ``dt_s`` at the start so that the samples' trapezoidal distance is
        ``distance_m`` (see ``_phase_for_exact_distance``).
        """
        for label, value, high in (
            ("accel_mps2", accel_mps2, MAX_ACCEL_MPS2),
            ("decel_mps2", decel_mps2, MAX_ACCEL_MPS2),
            ("dt_s", dt_s, 60.0),
        ):
            if not (math.isfinite(value) and 0.0 < value <= high):
                raise InvalidCycleError(
                    f"route {self.name!r}: {label} {value} must be in (0, {high:g}]"
                )
        s, limit_sq, stop_index = self._distance_grid()
        # Speed envelope: v(s)² <= limit(s_j)² + 2·a·(s - s_j) for every earlier point j (forward,
        # accelerating) and <= limit(s_j)² + 2·d·(s_j - s) for every later j (backward, braking).
        # Each is a running minimum, so both passes are one numpy accumulate each.
        forward = 2 * accel_mps2 * s + np.minimum.accumulate(limit_sq - 2 * accel_mps2 * s)
        backward_terms = (limit_sq + 2 * decel_mps2 * s)[::-1]
        backward = np.minimum.accumulate(backward_terms)[::-1] - 2 * decel_mps2 * s
        speed = np.sqrt(np.clip(np.minimum(forward, backward), 0.0, None))
        # The ends are at rest by construction; rounding in the passes must not leave 1e-16 m/s.
        speed[0] = speed[-1] = 0.0
        # v² is linear in s between grid points, i.e. constant acceleration, so each step takes
        # exactly 2·ds / (v0 + v1); no interval has both ends at rest (each segment has >= 2 steps).
        step_s = 2 * np.diff(s) / (speed[:-1] + speed[1:])
        knot_t = np.concatenate(([0.0], np.cumsum(step_s)))
        knot_t, knot_v = self._with_dwells(knot_t, speed, stop_index)
        if (knot_t[-1] + dt_s) / dt_s > _MAX_SAMPLES:
            raise InvalidCycleError(
                f"route {self.name!r}: {knot_t[-1]:.0f} s at dt_s {dt_s} is more than "
                f"{_MAX_SAMPLES} samples; use a larger dt_s"
            )
        lead_s = _phase_for_exact_distance(knot_t, knot_v, dt_s, self.distance_m)
        time, sampled = _sample(knot_t, knot_v, dt_s, lead_s)
        return DriveCycle(
            name=self.name,
            time_s=time,
            speed_mps=sampled,
            grade=np.zeros_like(time),
            source=f"route {self.name!r}",
        )

    def _distance_grid(self) -> tuple[FloatArray, FloatArray, list[tuple[int, float]]]:
        """Grid distances, the squared speed limit at each, and (grid index, dwell) per stop.

        Waypoints lie on the grid; a waypoint takes the lower of its two segments' limits (so
        speed is legal on both sides of it), and zero at the ends and where the car stops.
        """
        cumulative = self._cumulative_m
        step_m = max(_GRID_STEP_M, float(cumulative[-1]) / _MAX_GRID_POINTS)
        lengths = np.diff(cumulative)
        counts = np.maximum(2, np.ceil(lengths / step_m).astype(np.int64))
        starts = np.concatenate(([0], np.cumsum(counts)))  # grid index of each waypoint
        segment_of_point = np.repeat(np.arange(len(lengths)), counts)
        fraction = (np.arange(int(starts[-1])) - starts[segment_of_point]) / counts[
            segment_of_point
        ]
        s = np.append(
            cumulative[segment_of_point] + fraction * lengths[segment_of_point], cumulative[-1]
        )

        limits_mps = np.array(
            [
                (w.speed_limit_kmh if w.speed_limit_kmh is not None else self.default_speed_kmh)
                / 3.6
                for w in self.waypoints[:-1]
            ]
        )
        limit_sq = np.append(limits_mps[segment_of_point] ** 2, 0.0)
        limit_sq[starts[1:-1]] = np.minimum(limits_mps[:-1], limits_mps[1:]) ** 2
        limit_sq[0] = 0.0
        stops = [(int(starts[i]), w.stop_s) for i, w in enumerate(self.waypoints) if w.stop_s > 0]
        for index, _ in stops:
            limit_sq[index] = 0.0
        return s, limit_sq, stops

    @staticmethod
    def _with_dwells(
        knot_t: FloatArray, knot_v: FloatArray, stops: list[tuple[int, float]]
    ) -> tuple[FloatArray, FloatArray]:
        """Insert each dwell as a second knot at zero speed, ``stop_s`` after the arrival."""
        if not stops:
            return knot_t, knot_v
        indices = np.array([index for index, _ in stops])
        dwells = np.array([dwell for _, dwell in stops])
        shift = np.zeros_like(knot_t)
        np.add.at(shift, indices, dwells)
        departures = knot_t + np.cumsum(shift)
        arrivals = departures[indices] - dwells
        return (
            np.insert(departures, indices, arrivals),
            np.insert(knot_v, indices, 0.0),
        )


def _sample(
    knot_t: FloatArray, knot_v: FloatArray, dt_s: float, lead_s: float
) -> tuple[FloatArray, FloatArray]:
    """The profile delayed by ``lead_s``, sampled from 0 to the first multiple of dt_s after it."""
    steps = math.ceil((knot_t[-1] + lead_s) / dt_s - 1e-9)
    time = np.arange(steps + 1, dtype=np.float64) * dt_s
    # Speed is linear in time between knots (constant acceleration); outside them it is 0.
    speed = np.interp(time - lead_s, knot_t, knot_v, left=0.0, right=0.0)
    # The last sample is at the end within rounding (the 1e-9 above): the car is at rest there.
    speed[-1] = 0.0
    return time, speed


def _phase_for_exact_distance(
    knot_t: FloatArray, knot_v: FloatArray, dt_s: float, distance_m: float
) -> float:
    """A delay in [0, dt_s) after which the sampled trace integrates to ``distance_m``.

    Sampling cuts corners of the profile (starts, stops, limit changes): up to ~0.5 m each at
    1 s, which is several per cent of a short route. Averaged over all delays in [0, dt_s) the
    trapezoid sum of a trace that is at rest at both ends equals its integral exactly, and the
    error is continuous in the delay, so some delay makes it zero; we find it by scanning and
    bisecting. Speeds stay samples of the same profile: limits and accelerations still hold.
    """

    def error(lead_s: float) -> float:
        return float(np.sum(_sample(knot_t, knot_v, dt_s, lead_s)[1])) * dt_s - distance_m

    tolerance = 1e-9 * distance_m
    leads = np.linspace(0.0, dt_s, 33)[:-1]
    errors = [error(float(lead)) for lead in leads]
    best = int(np.argmin(np.abs(errors)))
    if abs(errors[best]) <= tolerance:
        return float(leads[best])
    for i, e_low in enumerate(errors):
        if e_low * errors[(i + 1) % len(errors)] < 0.0:
            low, high = float(leads[i]), float(leads[i] + dt_s / len(leads))
            break
    else:  # a dip narrower than dt_s / 32 crosses zero unseen: take the nearest miss
        return float(leads[best])
    for _ in range(60):
        middle = 0.5 * (low + high)
        e_middle = error(middle)
        if abs(e_middle) <= tolerance:
            return middle
        if (e_middle < 0.0) == (e_low < 0.0):
            low, e_low = middle, e_middle
        else:
            high = middle
    return low


def _unit_vectors(waypoints: tuple[Waypoint, ...]) -> FloatArray:
    lat = np.radians([w.lat for w in waypoints])
    lon = np.radians([w.lon for w in waypoints])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)


def _segment_lengths_m(waypoints: tuple[Waypoint, ...]) -> FloatArray:
    """Great-circle length of each segment by the haversine formula (well conditioned for the
    short segments of a road route, where acos of a dot product would lose them)."""
    lat = np.radians([w.lat for w in waypoints])
    lon = np.radians([w.lon for w in waypoints])
    hav = (
        np.sin(np.diff(lat) / 2) ** 2
        + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    )
    angles = 2 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
    return np.asarray(angles * EARTH_RADIUS_M, dtype=np.float64)


def _heading_deg(point: FloatArray, direction: FloatArray) -> float:
    lat = math.atan2(point[2], math.hypot(point[0], point[1]))
    lon = math.atan2(point[1], point[0])
    east = (-math.sin(lon), math.cos(lon), 0.0)
    north = (-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat))
    heading = math.degrees(
        math.atan2(float(np.dot(direction, east)), float(np.dot(direction, north)))
    )
    heading %= 360.0
    return 0.0 if heading >= 360.0 else heading  # -1e-15 % 360 rounds to 360.0


def _check_route(waypoints: tuple[Waypoint, ...], default_speed_kmh: float, *, where: str) -> None:
    """Raise InvalidCycleError naming the waypoint and field that break a rule."""
    _check_speed(default_speed_kmh, f"{where}: default_speed_kmh")
    if len(waypoints) < 2:
        raise InvalidCycleError(f"{where}: {len(waypoints)} waypoint(s); a route needs at least 2")
    for i, w in enumerate(waypoints):
        at = f"{where}: waypoints[{i}]"
        if not isinstance(w, Waypoint):
            raise InvalidCycleError(f"{at} is a {type(w).__name__}, not a Waypoint")
        if not (_is_real(w.lat) and -90.0 <= w.lat <= 90.0):
            raise InvalidCycleError(f"{at}.lat {w.lat!r} must be a number in -90..90 (degrees)")
        if not (_is_real(w.lon) and -180.0 <= w.lon <= 180.0):
            raise InvalidCycleError(f"{at}.lon {w.lon!r} must be a number in -180..180 (degrees)")
        if w.speed_limit_kmh is not None:
            _check_speed(w.speed_limit_kmh, f"{at}.speed_limit_kmh")
        if not (_is_real(w.stop_s) and 0.0 <= w.stop_s <= MAX_STOP_S):
            raise InvalidCycleError(f"{at}.stop_s {w.stop_s!r} must be in 0..{MAX_STOP_S:g} s")
    for i, length in enumerate(_segment_lengths_m(waypoints)):
        if length < MIN_SEGMENT_M:
            raise InvalidCycleError(
                f"{where}: waypoints[{i + 1}] is {length:.3g} m from waypoints[{i}]; consecutive "
                f"waypoints must be at least {MIN_SEGMENT_M} m apart (remove the duplicate)"
            )
        if length > (math.pi - 1e-6) * EARTH_RADIUS_M:
            raise InvalidCycleError(
                f"{where}: waypoints[{i}] and waypoints[{i + 1}] are antipodal, so the way between "
                "them is undefined; add a waypoint between them"
            )


def _is_real(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_speed(value: object, at: str) -> None:
    if not (_is_real(value) and 0.0 < value <= MAX_SPEED_LIMIT_KMH):
        raise InvalidCycleError(
            f"{at} {value!r} must be a number in (0, {MAX_SPEED_LIMIT_KMH:g}] km/h"
        )


_WAYPOINT_KEYS = ("lat", "lon", "speed_limit_kmh", "stop_s")
_ROUTE_KEYS = ("name", "default_speed_kmh", "waypoints")


def parse_route(data: object, *, source: str = "route") -> Route:
    """A Route from decoded JSON/YAML data: ``{"name", "default_speed_kmh"?, "waypoints": [...]}``
    with waypoints ``{"lat", "lon", "speed_limit_kmh"?, "stop_s"?}``. Unknown keys are errors."""
    top = _mapping(data, source, _ROUTE_KEYS, required=("name", "waypoints"))
    name = top["name"]
    if not isinstance(name, str) or not name.strip():
        raise InvalidCycleError(f"{source}: name {name!r} must be a non-empty string")
    default_speed = _number(top.get("default_speed_kmh", 50.0), f"{source}: default_speed_kmh")
    raw_waypoints = top["waypoints"]
    if not isinstance(raw_waypoints, list | tuple):
        raise InvalidCycleError(
            f"{source}: waypoints must be a list of {{lat, lon, ...}} mappings, "
            f"not {type(raw_waypoints).__name__}"
        )
    waypoints = []
    for i, raw in enumerate(raw_waypoints):
        at = f"{source}: waypoints[{i}]"
        fields = _mapping(raw, at, _WAYPOINT_KEYS, required=("lat", "lon"))
        limit = fields.get("speed_limit_kmh")
        waypoints.append(
            Waypoint(
                lat=_number(fields["lat"], f"{at}.lat"),
                lon=_number(fields["lon"], f"{at}.lon"),
                speed_limit_kmh=None if limit is None else _number(limit, f"{at}.speed_limit_kmh"),
                stop_s=_number(fields.get("stop_s", 0.0), f"{at}.stop_s"),
            )
        )
    # Checked here first so that messages name the file, not only the route.
    _check_route(tuple(waypoints), default_speed, where=source)
    return Route(name=name, waypoints=tuple(waypoints), default_speed_kmh=default_speed)


def _mapping(
    data: object, at: str, allowed: tuple[str, ...], *, required: tuple[str, ...]
) -> dict[str, object]:
    if not isinstance(data, dict):
        raise InvalidCycleError(f"{at} must be a mapping with keys {', '.join(allowed)}")
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise InvalidCycleError(
            f"{at}: unknown key {unknown[0]!r}; the known keys are {', '.join(allowed)}"
        )
    missing = [key for key in required if key not in data]
    if missing:
        raise InvalidCycleError(f"{at}: missing {missing[0]!r}")
    return {str(key): value for key, value in data.items()}


def _number(value: object, at: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCycleError(f"{at} {value!r} must be a number")
    try:
        return float(value)
    except OverflowError:
        raise InvalidCycleError(f"{at} {value!r} is too large") from None


def load_route(path: Path | str) -> Route:
    """Read a route from a ``.json``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise InvalidCycleError(f"{path}: a route file must end in .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidCycleError(f"{path}: cannot read the route: {exc}") from exc
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InvalidCycleError(f"{path} line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        raise InvalidCycleError(f"{path}: invalid YAML: {exc}") from exc
    return parse_route(data, source=str(path))
