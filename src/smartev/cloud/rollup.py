"""Downsampled numeric series: the per-bucket aggregates of a batch of samples (pure), and the
statement that merges them into ``signal_rollup``.

A bucket holds, for one car, signal and resolution, the count, sum, minimum, maximum and the
newest value of the samples whose time falls in it (booleans count as 0 and 1; strings, arrays
and ``None`` are not rolled up). Aggregates are gathered here in Python, then merged into the
stored rows with one statement (``ON CONFLICT DO UPDATE``, the same on SQLite and PostgreSQL),
so a stored bucket equals the aggregate over every sample merged into it; merging is associative,
so aggregates may wait and be merged later (:mod:`smartev.cloud.telemetry` merges once a minute).
Of two samples at the same time the later one (higher sequence number) is the bucket's last.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

# The resolutions kept, in seconds: minutes for days, hours for months and years.
RESOLUTIONS_S: Final = (60, 3600)
_RESOLUTIONS_US: Final = tuple((s, s * 1_000_000) for s in RESOLUTIONS_S)


def numeric(value: object) -> float | None:
    """The value as a number for rollups and queries (bools as 0/1), or None if it is none."""
    if isinstance(value, int | float):  # bool is an int
        return float(value)
    return None


def bucket_start_us(ts_us: int, resolution_s: int) -> int:
    """The start of the bucket of ``resolution_s`` seconds that ``ts_us`` falls in."""
    width_us = resolution_s * 1_000_000
    return ts_us - ts_us % width_us


RollupRow = tuple[str, str, int, int, int, float, float, float, float, int]
"""(car_id, path, resolution_s, bucket_us, n, total, low, high, last, last_ts_us)"""

Pending = dict[tuple[str, int, int], list[Any]]
"""Aggregates not stored yet: (path, resolution_s, bucket_us) -> [n, total, low, high, last,
last_ts_us]."""


def accumulate(pending: Pending, samples: Iterable[tuple[int, str, float]]) -> None:
    """Add ``(ts_us, path, number)`` samples, given in sequence order, to the aggregates."""
    for ts_us, path, x in samples:
        for resolution_s, width_us in _RESOLUTIONS_US:
            key = (path, resolution_s, ts_us - ts_us % width_us)
            a = pending.get(key)
            if a is None:
                pending[key] = [1, x, x, x, x, ts_us]
                continue
            a[0] += 1
            a[1] += x
            if x < a[2]:
                a[2] = x
            if x > a[3]:
                a[3] = x
            if ts_us >= a[5]:  # in sequence order: a tie goes to the later sample
                a[4] = x
                a[5] = ts_us


def rows(car_id: str, pending: Pending) -> list[RollupRow]:
    """The aggregates as rows for :data:`UPSERT_SQL`."""
    return [(car_id, *key, *a) for key, a in pending.items()]


def aggregate(car_id: str, samples: Iterable[tuple[int, str, float]]) -> list[RollupRow]:
    """Bucket rows for ``(ts_us, path, number)`` samples given in sequence order: one row per
    (path, resolution, bucket)."""
    pending: Pending = {}
    accumulate(pending, samples)
    return rows(car_id, pending)


# Merging a batch's bucket into the stored one. CASE rather than min()/max(): SQLite's two-argument
# min() is LEAST() on PostgreSQL, while CASE is the same on both.
UPSERT_SQL: Final = """
INSERT INTO signal_rollup
    (car_id, path, resolution_s, bucket_us, n, total, low, high, last, last_ts_us)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (car_id, path, resolution_s, bucket_us) DO UPDATE SET
    n = signal_rollup.n + excluded.n,
    total = signal_rollup.total + excluded.total,
    low = CASE WHEN excluded.low < signal_rollup.low THEN excluded.low ELSE signal_rollup.low END,
    high = CASE WHEN excluded.high > signal_rollup.high
        THEN excluded.high ELSE signal_rollup.high END,
    last = CASE WHEN excluded.last_ts_us >= signal_rollup.last_ts_us
        THEN excluded.last ELSE signal_rollup.last END,
    last_ts_us = CASE WHEN excluded.last_ts_us >= signal_rollup.last_ts_us
        THEN excluded.last_ts_us ELSE signal_rollup.last_ts_us END
"""
