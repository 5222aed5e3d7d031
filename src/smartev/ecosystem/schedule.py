"""Time of day for automations: when a time trigger fires next, and whether now lies in a time
window, in a household's time zone and across daylight-saving changes.

Pure code: ``now`` is always passed in (an aware datetime); nothing here reads a clock.

Daylight saving, for a local time of day ``t`` on a given date:

- ``t`` does not exist that day (spring forward, e.g. 02:30 in Berlin on the last Sunday of
  March): the trigger fires at the first instant after it that exists — the moment the clocks
  jump (03:00 local), so a 02:30 alarm is late rather than skipped.
- ``t`` happens twice (fall back, e.g. 02:30 on the last Sunday of October): the trigger fires
  once, at the first occurrence (``fold=0``, still on summer time).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from smartev.core.errors import InvalidInputError
from smartev.ecosystem.errors import EcosystemError
from smartev.spec.errors import show_value

__all__ = ["InvalidScheduleError", "in_window", "local_instant", "next_fire"]

# Yesterday covers a jump that ends after midnight; every allowed weekday recurs within 7 days,
# and one more covers a time already past today.
_SEARCH_DAYS = range(-1, 8)


class InvalidScheduleError(EcosystemError, InvalidInputError):
    """A time trigger or time window was given something out of range (naive ``now``, a
    weekday outside 0..6, no times at all)."""


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidScheduleError(
            f"now {now.isoformat()} has no time zone: pass an aware datetime (e.g. in UTC)"
        )


def _check_weekdays(weekdays: Collection[int]) -> None:
    bad = sorted(d for d in weekdays if not isinstance(d, int) or not 0 <= d <= 6)
    if bad:
        raise InvalidScheduleError(f"invalid weekdays {show_value(bad)}: must be 0..6 (0 = Monday)")


def _check_time(t: time, what: str) -> None:
    if t.tzinfo is not None:
        raise InvalidScheduleError(
            f"{what} {t.isoformat()} carries its own time zone: give a plain local time of day; "
            "the household's time zone applies"
        )


def _existing(local: datetime) -> bool:
    """Whether an aware local wall time exists (is not in a spring-forward gap)."""
    round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
    return round_trip.replace(tzinfo=None) == local.replace(tzinfo=None)


def _gap_end(local: datetime) -> datetime:
    """The UTC instant at which the clocks jump over ``local``, a wall time in a gap."""
    # In a gap fold=0 reads the time with the offset before the jump and fold=1 with the one
    # after, so the jump lies between the two readings; bisect on whole seconds (tz
    # transitions fall on whole seconds) for the first instant on the later offset.
    zone = local.tzinfo
    low = math.floor(local.replace(fold=1).astimezone(UTC).timestamp())
    high = math.ceil(local.replace(fold=0).astimezone(UTC).timestamp())
    later_offset = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == later_offset:
            high = mid
        else:
            low = mid
    return datetime.fromtimestamp(high, UTC)


def local_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant at which the local time in ``tz`` is ``at`` on ``day``: the first
    occurrence if it happens twice, the end of the jump if it does not exist."""
    local = datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)  # fold=0: first occurrence
    if _existing(local):
        return local.astimezone(UTC)
    return _gap_end(local)


def next_fire(now: datetime, at: Sequence[time], weekdays: Collection[int], tz: tzinfo) -> datetime:
    """The first instant strictly after ``now`` (returned aware, in UTC) at which the local time
    in ``tz`` is one of ``at`` on an allowed weekday (0 = Monday; empty = every day).

    The weekday is that of the local date the time belongs to, also when a nonexistent time is
    moved to the end of the jump.
    """
    _check_now(now)
    _check_weekdays(weekdays)
    if not at:
        raise InvalidScheduleError("no times given: a time trigger needs at least one time")
    for t in at:
        _check_time(t, "time")
    now_utc = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    times = sorted({t.replace(tzinfo=None) for t in at})
    for offset in _SEARCH_DAYS:
        day = today + timedelta(days=offset)
        if weekdays and day.weekday() not in weekdays:
            continue
        # Instants of one day ascend with the wall times (a gap maps to its end, a repeated
        # hour to its first occurrence), so the first one after now is the answer.
        for t in times:
            instant = local_instant(day, t, tz)
            if instant > now_utc:
                return instant
    # Unreachable with valid input: some allowed day recurs within 7 days.
    raise AssertionError(f"no fire time within 8 days of {now.isoformat()}")


def in_window(
    now: datetime,
    after: time | None,
    before: time | None,
    weekdays: Collection[int],
    tz: tzinfo,
) -> bool:
    """Whether ``after ≤ local time < before`` at ``now`` in ``tz`` on an allowed weekday.

    A bound of None is open. When ``after > before`` the window wraps past midnight (22:00–06:00
    holds at 23:00 and at 05:00); ``after == before`` is a full 24 hours. The weekday checked is
    always that of the current local date — like Home Assistant's time condition — so a
    Friday-only 22:00–06:00 window holds Friday 00:00–06:00 and Friday 22:00–24:00, not Saturday
    morning. Wall time is compared, so during a repeated hour both occurrences count.
    """
    _check_now(now)
    _check_weekdays(weekdays)
    if after is not None:
        _check_time(after, "after")
    if before is not None:
        _check_time(before, "before")
    local = now.astimezone(tz)
    if weekdays and local.weekday() not in weekdays:
        return False
    clock = local.time()
    start = after.replace(tzinfo=None) if after is not None else None
    end = before.replace(tzinfo=None) if before is not None else None
    if start is None:
        return end is None or clock < end
    if end is None:
        return start <= clock
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end
