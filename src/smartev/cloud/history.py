"""Reading a car's signals back: the newest value of each, how old and whether stale, and the
series of one signal over a time range, raw or downsampled.

Staleness: while the car is offline every value is stale (nobody knows the car's state). While
it is online, a signal the car repeats periodically (a heartbeat in the car's default telemetry
policy) is stale once it is older than ``max(3 × heartbeat, 120 s)``: three heartbeats missed,
and never sooner than two minutes; a signal sent only on change (settings, attributes) is never
stale while the car is online, since no news is no change.

Resolutions: ``raw`` (the samples), ``1m`` and ``1h`` (the minute and hour buckets kept at
ingest, numeric signals only: avg, min, max, last, n; only buckets holding samples are
returned). Buckets lag the samples by up to a minute: a car's newest minute is stored when its
next minute begins, or once it has been silent a minute. ``auto`` picks raw for ranges up to
6 h when they hold at most :data:`MAX_POINTS` samples, else minutes when the range spans at most
:data:`MAX_POINTS` of them (just under seven days), else hours. A range is at most
:data:`MAX_RANGE_DAYS` days; an explicit resolution whose points would exceed
:data:`MAX_POINTS` is refused with the resolution to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Final

from sqlalchemy import Connection, func, select

from smartev.cloud import schema as t
from smartev.cloud.rollup import numeric
from smartev.cloud.telemetry import decode_value
from smartev.core.errors import InvalidInputError
from smartev.link.messages import SampleValue
from smartev.spec import DataType, shipped_catalog
from smartev.vehicle.telemetry import DEFAULT_TELEMETRY_POLICY

__all__ = [
    "MAX_POINTS",
    "MAX_RANGE_DAYS",
    "Bucket",
    "LatestValue",
    "RawPoint",
    "Resolution",
    "Series",
    "is_stale",
    "last_received_us",
    "latest_values",
    "series",
    "stale_after_s",
]

_US_PER_S: Final = 1_000_000
MAX_RANGE_DAYS: Final = 400
MAX_POINTS: Final = 10_000
RAW_UP_TO_S: Final = 6 * 3600
STALE_FLOOR_S: Final = 120.0
MISSED_HEARTBEATS: Final = 3


class Resolution(StrEnum):
    AUTO = "auto"
    RAW = "raw"
    MINUTE = "1m"
    HOUR = "1h"


_BUCKET_S: Final = {Resolution.MINUTE: 60, Resolution.HOUR: 3600}


@dataclass(frozen=True, slots=True)
class LatestValue:
    path: str
    ts_us: int
    value: SampleValue
    received_us: int


@dataclass(frozen=True, slots=True)
class RawPoint:
    ts_us: int
    value: SampleValue


@dataclass(frozen=True, slots=True)
class Bucket:
    ts_us: int  # the bucket's start
    avg: float
    low: float
    high: float
    last: float
    n: int


@dataclass(frozen=True, slots=True)
class Series:
    path: str
    start_us: int
    end_us: int
    resolution: Resolution  # never AUTO: the one used
    points: tuple[RawPoint, ...]  # raw
    buckets: tuple[Bucket, ...]  # 1m, 1h


# --- the newest values ---------------------------------------------------------------------------


def latest_values(conn: Connection, car_id: str, *, since_us: int = 0) -> list[LatestValue]:
    """The newest value of each signal of the car (observed at or after ``since_us``), by path."""
    s = t.signal_latest.c
    rows = conn.execute(
        select(s.path, s.ts_us, s.value, s.received_us)
        .where(s.car_id == car_id, s.ts_us >= since_us)
        .order_by(s.path)
    )
    return [LatestValue(r.path, r.ts_us, decode_value(r.value), r.received_us) for r in rows]


def last_received_us(conn: Connection, car_id: str) -> int | None:
    """When the cloud last received anything from the car (None: never)."""
    s = t.signal_latest.c
    received: int | None = conn.execute(
        select(func.max(s.received_us)).where(s.car_id == car_id)
    ).scalar()
    return received


@cache
def stale_after_s(path: str) -> float | None:
    """How old a value may be while the car is online (None: any age; see the docstring)."""
    heartbeat_s = DEFAULT_TELEMETRY_POLICY.for_path(path).heartbeat_s
    if heartbeat_s is None:
        return None
    return max(MISSED_HEARTBEATS * heartbeat_s, STALE_FLOOR_S)


def is_stale(path: str, age_s: float, *, online: bool) -> bool:
    if not online:
        return True
    limit = stale_after_s(path)
    return limit is not None and age_s > limit


# --- series --------------------------------------------------------------------------------------


def check_range(start_us: int, end_us: int) -> None:
    if end_us <= start_us:
        raise InvalidInputError("end must be after start")
    if end_us - start_us > MAX_RANGE_DAYS * 86_400 * _US_PER_S:
        days = (end_us - start_us) / (86_400 * _US_PER_S)
        raise InvalidInputError(
            f"range of {days:,.0f} days: at most {MAX_RANGE_DAYS} days per request"
        )


def _bucketable(conn: Connection, car_id: str, path: str) -> bool:
    """Whether the signal has numbers (or booleans) that buckets aggregate."""
    spec = shipped_catalog().find(path)
    if spec is not None:
        return spec.datatype is DataType.BOOLEAN or (
            spec.datatype.is_numeric and not spec.datatype.is_array
        )
    s = t.signal_latest.c
    text = conn.execute(select(s.value).where(s.car_id == car_id, s.path == path)).scalar()
    return text is None or numeric(decode_value(text)) is not None


def series(
    conn: Connection,
    car_id: str,
    path: str,
    start_us: int,
    end_us: int,
    resolution: Resolution = Resolution.AUTO,
    *,
    since_us: int = 0,
) -> Series:
    """The signal's values in [start_us, end_us) at the resolution (see the module docstring),
    none observed before ``since_us`` (a bucket that began earlier is left out whole);
    InvalidInputError names what to change when the request cannot be answered."""
    check_range(start_us, end_us)
    if since_us > start_us:
        start_us = min(since_us, end_us - 1)
    span_s = (end_us - start_us) / _US_PER_S
    bucketable = _bucketable(conn, car_id, path)
    if resolution is Resolution.AUTO:
        if span_s <= RAW_UP_TO_S or not bucketable:
            raw = _raw(conn, car_id, path, start_us, end_us)
            if len(raw) <= MAX_POINTS or not bucketable:
                return _raw_series(path, start_us, end_us, raw)
        resolution = Resolution.MINUTE if span_s / 60 <= MAX_POINTS else Resolution.HOUR
    if resolution is Resolution.RAW:
        return _raw_series(path, start_us, end_us, _raw(conn, car_id, path, start_us, end_us))
    if not bucketable:
        raise InvalidInputError(
            f"{path} is not numeric: only resolution=raw (or auto) gives its values"
        )
    bucket_s = _BUCKET_S[resolution]
    if span_s / bucket_s > MAX_POINTS:
        raise InvalidInputError(
            f"{span_s / bucket_s:,.0f} buckets of {resolution} in this range: at most "
            f"{MAX_POINTS:,} per request; use resolution=1h or a shorter range"
        )
    return Series(
        path,
        start_us,
        end_us,
        resolution,
        (),
        tuple(_buckets(conn, car_id, path, bucket_s, start_us, end_us, since_us)),
    )


def _raw_series(path: str, start_us: int, end_us: int, raw: list[RawPoint]) -> Series:
    if len(raw) > MAX_POINTS:
        raise InvalidInputError(
            f"more than {MAX_POINTS:,} samples of {path} in this range: use resolution=1m or "
            "1h (numeric signals), or a shorter range"
        )
    return Series(path, start_us, end_us, Resolution.RAW, tuple(raw), ())


def _raw(conn: Connection, car_id: str, path: str, start_us: int, end_us: int) -> list[RawPoint]:
    """Up to MAX_POINTS + 1 samples (one more tells the caller there are too many)."""
    s = t.telemetry_sample.c
    rows = conn.execute(
        select(s.ts_us, s.value)
        .where(s.car_id == car_id, s.path == path, s.ts_us >= start_us, s.ts_us < end_us)
        .order_by(s.ts_us, s.seq)
        .limit(MAX_POINTS + 1)
    )
    return [RawPoint(r.ts_us, decode_value(r.value)) for r in rows]


def _buckets(
    conn: Connection,
    car_id: str,
    path: str,
    bucket_s: int,
    start_us: int,
    end_us: int,
    since_us: int,
) -> list[Bucket]:
    """The buckets that overlap [start_us, end_us) and began at or after ``since_us``, oldest
    first."""
    r = t.signal_rollup.c
    first_bucket_us = start_us - start_us % (bucket_s * _US_PER_S)
    rows = conn.execute(
        select(r.bucket_us, r.n, r.total, r.low, r.high, r.last)
        .where(
            r.car_id == car_id,
            r.path == path,
            r.resolution_s == bucket_s,
            r.bucket_us >= max(first_bucket_us, since_us),
            r.bucket_us < end_us,
        )
        .order_by(r.bucket_us)
        .limit(MAX_POINTS + 1)
    )
    return [Bucket(b.bucket_us, b.total / b.n, b.low, b.high, b.last, b.n) for b in rows]
