"""Statistics over a car's finished sessions: the energy it loses while standing (vampire drain)
and the usable capacity of its battery over time (battery health)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from smartev.cloud.session_records import ChargingSession, StateInterval, VehicleState
from smartev.core.errors import InvalidInputError

__all__ = [
    "BatteryHealth",
    "CapacityPoint",
    "Standstill",
    "VampireDrain",
    "battery_health",
    "vampire_drain",
]

_US_PER_DAY = 86_400 * 1_000_000
DAYS_PER_MONTH = 365.25 / 12.0
_RESTING = (VehicleState.PARKED, VehicleState.ASLEEP)
# Estimates outside this share of the rated capacity come from a broken measurement (a charge
# that was cut by a gap, a SoC that jumped), not from a battery that aged or got better.
PLAUSIBLE_CAPACITY_SHARE = (0.5, 1.2)


# --- vampire drain ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standstill:
    """A run of back-to-back parked and asleep intervals: the car stood, neither driving nor
    charging, and never went offline."""

    start_us: int
    end_us: int
    soc_start_pct: float
    soc_end_pct: float
    asleep_s: float  # how much of it the car slept
    energy_lost_kwh: float | None  # None when no capacity was given

    @property
    def duration_s(self) -> float:
        return (self.end_us - self.start_us) / 1e6

    @property
    def soc_lost_pct(self) -> float:
        return self.soc_start_pct - self.soc_end_pct

    @property
    def soc_pct_per_day(self) -> float:
        return self.soc_lost_pct / (self.duration_s / 86_400.0)


@dataclass(frozen=True, slots=True)
class VampireDrain:
    standstills: tuple[Standstill, ...]  # those counted, oldest first
    duration_s: float
    soc_lost_pct: float
    soc_pct_per_day: float | None  # None when no standstill counted
    energy_kwh_per_day: float | None  # None also when no capacity was given


def vampire_drain(
    intervals: Iterable[StateInterval],
    *,
    capacity_kwh: float | None = None,
    min_duration_s: float = 3600.0,
) -> VampireDrain:
    """SoC (and energy, given the usable ``capacity_kwh``) lost per day while the car stands.

    Back-to-back parked and asleep intervals are joined first — a night is typically a few
    minutes parked, hours asleep, a few minutes parked — so the drain is measured from the last
    drive or charge to the next. Standstills shorter than ``min_duration_s`` (1 h) are skipped:
    the SoC's resolution is too coarse for them. So are those with an unknown SoC at either end.
    The overall rate is total loss over total time, so long standstills weigh more.
    """
    if capacity_kwh is not None and not (math.isfinite(capacity_kwh) and capacity_kwh > 0):
        raise InvalidInputError(f"capacity_kwh {capacity_kwh!r}: must be a number > 0, or None")
    if not (math.isfinite(min_duration_s) and min_duration_s >= 0):
        raise InvalidInputError(f"min_duration_s {min_duration_s!r}: must be a number >= 0")
    counted = [
        s
        for s in _standstills(intervals, capacity_kwh)
        if s.duration_s >= min_duration_s and s.duration_s > 0
    ]
    duration_s = sum(s.duration_s for s in counted)
    lost_pct = sum(s.soc_lost_pct for s in counted)
    per_day = lost_pct / (duration_s / 86_400.0) if duration_s > 0 else None
    return VampireDrain(
        standstills=tuple(counted),
        duration_s=duration_s,
        soc_lost_pct=lost_pct,
        soc_pct_per_day=per_day,
        energy_kwh_per_day=per_day / 100.0 * capacity_kwh
        if per_day is not None and capacity_kwh is not None
        else None,
    )


def _standstills(
    intervals: Iterable[StateInterval], capacity_kwh: float | None
) -> list[Standstill]:
    runs: list[list[StateInterval]] = []
    for interval in sorted(intervals, key=lambda i: i.start_us):
        if interval.state not in _RESTING:
            runs.append([])  # a drive, charge or gap in between ends the run
            continue
        if runs and runs[-1] and runs[-1][-1].end_us == interval.start_us:
            runs[-1].append(interval)
        else:
            runs.append([interval])
    found = []
    for run in runs:
        if not run:
            continue
        first, last = run[0], run[-1]
        if first.soc_start_pct is None or last.soc_end_pct is None:
            continue
        lost_pct = first.soc_start_pct - last.soc_end_pct
        found.append(
            Standstill(
                start_us=first.start_us,
                end_us=last.end_us,
                soc_start_pct=first.soc_start_pct,
                soc_end_pct=last.soc_end_pct,
                asleep_s=sum(i.duration_s for i in run if i.state is VehicleState.ASLEEP),
                energy_lost_kwh=lost_pct / 100.0 * capacity_kwh
                if capacity_kwh is not None
                else None,
            )
        )
    return found


# --- battery health -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapacityPoint:
    ts_us: int  # when the charge ended
    capacity_kwh: float


@dataclass(frozen=True, slots=True)
class BatteryHealth:
    rated_capacity_kwh: float
    capacity_kwh: float | None  # median of the latest estimates; None without any
    health_pct: float | None  # capacity_kwh / rated_capacity_kwh × 100
    estimates_used: int  # how many went into the median
    trend_kwh_per_month: float | None  # least-squares slope over all points; None if too few
    points: tuple[CapacityPoint, ...]  # every plausible estimate, oldest first


def battery_health(
    sessions: Iterable[ChargingSession],
    rated_capacity_kwh: float,
    *,
    last_n: int = 10,
    min_trend_points: int = 3,
    min_trend_span_days: float = 30.0,
) -> BatteryHealth:
    """Usable capacity from the charging sessions' capacity estimates, and its trend.

    The capacity is the median of the ``last_n`` newest estimates: one charge's estimate
    carries the SoC's rounding and the charger's metering error, and a median shrugs off an
    outlier that a mean would follow. The trend is the least-squares slope of all estimates
    against time, in kWh per month (365.25/12 days) — time rather than distance because a
    charging session knows when it happened, not the odometer. It is None with fewer than
    ``min_trend_points`` estimates or when they span less than ``min_trend_span_days``: over
    a shorter time the noise is larger than the ageing. Estimates outside 50..120 % of the
    rated capacity are dropped as broken measurements.
    """
    if not (math.isfinite(rated_capacity_kwh) and rated_capacity_kwh > 0):
        raise InvalidInputError(f"rated_capacity_kwh {rated_capacity_kwh!r}: must be a number > 0")
    if last_n < 1:
        raise InvalidInputError(f"last_n {last_n}: must be >= 1")
    if min_trend_points < 2:
        raise InvalidInputError(f"min_trend_points {min_trend_points}: must be >= 2")
    low, high = (share * rated_capacity_kwh for share in PLAUSIBLE_CAPACITY_SHARE)
    points = tuple(
        sorted(
            (
                CapacityPoint(s.end_us, s.capacity_estimate_kwh)
                for s in sessions
                if s.capacity_estimate_kwh is not None and low <= s.capacity_estimate_kwh <= high
            ),
            key=lambda p: p.ts_us,
        )
    )
    latest = [p.capacity_kwh for p in points[-last_n:]]
    capacity_kwh = statistics.median(latest) if latest else None
    return BatteryHealth(
        rated_capacity_kwh=rated_capacity_kwh,
        capacity_kwh=capacity_kwh,
        health_pct=capacity_kwh / rated_capacity_kwh * 100.0 if capacity_kwh is not None else None,
        estimates_used=len(latest),
        trend_kwh_per_month=_trend_per_month(points, min_trend_points, min_trend_span_days),
        points=points,
    )


def _trend_per_month(
    points: tuple[CapacityPoint, ...], min_points: int, min_span_days: float
) -> float | None:
    if len(points) < min_points:
        return None
    days = [(p.ts_us - points[0].ts_us) / _US_PER_DAY for p in points]
    if days[-1] - days[0] < min_span_days:
        return None
    slope_per_day, _ = statistics.linear_regression(days, [p.capacity_kwh for p in points])
    return slope_per_day * DAYS_PER_MONTH
