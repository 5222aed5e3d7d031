"""Next fire time of time triggers and time windows, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError
from smartev.ecosystem.schedule import InvalidScheduleError, in_window, local_instant, next_fire

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
EVERY_DAY: frozenset[int] = frozenset()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_later_today_and_tomorrow() -> None:
    now = datetime(2024, 6, 5, 7, 0, tzinfo=BERLIN)  # Wednesday
    assert next_fire(now, [time(7, 30)], EVERY_DAY, BERLIN) == utc(2024, 6, 5, 5, 30)
    assert next_fire(now, [time(6, 30)], EVERY_DAY, BERLIN) == utc(2024, 6, 6, 4, 30)
    # Strictly after: a trigger at exactly now fires tomorrow.
    assert next_fire(now, [time(7, 0)], EVERY_DAY, BERLIN) == utc(2024, 6, 6, 5, 0)
    assert next_fire(now, [time(6, 0), time(9, 0), time(8, 0)], EVERY_DAY, BERLIN) == utc(
        2024, 6, 5, 6, 0
    )


def test_result_is_utc() -> None:
    fired = next_fire(utc(2024, 1, 1), [time(12)], EVERY_DAY, NEW_YORK)
    assert fired.tzinfo is UTC
    assert fired == utc(2024, 1, 1, 17)


def test_now_in_any_zone() -> None:
    now = datetime(2024, 6, 5, 23, 0, tzinfo=timezone(timedelta(hours=-4)))  # 03:00Z Thursday
    assert next_fire(now, [time(6)], EVERY_DAY, BERLIN) == utc(2024, 6, 6, 4)


def test_weekdays() -> None:
    now = datetime(2024, 6, 5, 12, tzinfo=BERLIN)  # Wednesday
    saturday = next_fire(now, [time(8)], frozenset({5}), BERLIN)
    assert saturday == utc(2024, 6, 8, 6)
    # Only today's weekday, time passed: a week later.
    assert next_fire(now, [time(8)], frozenset({2}), BERLIN) == utc(2024, 6, 12, 6)
    assert next_fire(now, [time(13)], frozenset({2}), BERLIN) == utc(2024, 6, 5, 11)


def test_spring_forward_gap_fires_at_the_jump() -> None:
    # Berlin 2024-03-31: 02:00 CET jumps to 03:00 CEST at 01:00Z.
    now = utc(2024, 3, 30, 12)
    assert next_fire(now, [time(2, 30)], EVERY_DAY, BERLIN) == utc(2024, 3, 31, 1)
    assert next_fire(now, [time(2, 0)], EVERY_DAY, BERLIN) == utc(2024, 3, 31, 1)
    # The day after, 02:30 exists again.
    assert next_fire(utc(2024, 3, 31, 1), [time(2, 30)], EVERY_DAY, BERLIN) == utc(
        2024, 4, 1, 0, 30
    )
    # Two times in the gap fire once (the second one is not after the first).
    assert next_fire(utc(2024, 3, 31, 1), [time(2, 15), time(2, 45)], EVERY_DAY, BERLIN) == utc(
        2024, 4, 1, 0, 15
    )
    # New York 2024-03-10: 02:00 EST jumps to 03:00 EDT at 07:00Z.
    assert next_fire(utc(2024, 3, 9, 12), [time(2, 30)], EVERY_DAY, NEW_YORK) == utc(2024, 3, 10, 7)


def test_fall_back_fires_once_at_first_occurrence() -> None:
    # Berlin 2024-10-27: 03:00 CEST goes back to 02:00 CET at 01:00Z; 02:30 happens at 00:30Z
    # and again at 01:30Z.
    first = next_fire(utc(2024, 10, 26, 12), [time(2, 30)], EVERY_DAY, BERLIN)
    assert first == utc(2024, 10, 27, 0, 30)
    assert next_fire(first, [time(2, 30)], EVERY_DAY, BERLIN) == utc(2024, 10, 28, 1, 30)
    # Between the occurrences the next one is tomorrow, not the repeat.
    assert next_fire(utc(2024, 10, 27, 1, 15), [time(2, 30)], EVERY_DAY, BERLIN) == utc(
        2024, 10, 28, 1, 30
    )
    # New York 2024-11-03: 01:30 EDT (05:30Z), then 01:30 EST (06:30Z).
    assert next_fire(utc(2024, 11, 3), [time(1, 30)], EVERY_DAY, NEW_YORK) == utc(
        2024, 11, 3, 5, 30
    )


def test_local_instant() -> None:
    assert local_instant(date(2024, 3, 31), time(2, 30), BERLIN) == utc(2024, 3, 31, 1)
    assert local_instant(date(2024, 10, 27), time(2, 30), BERLIN) == utc(2024, 10, 27, 0, 30)
    assert local_instant(date(2024, 7, 1), time(0, 0), NEW_YORK) == utc(2024, 7, 1, 4)


def test_invalid_input() -> None:
    with pytest.raises(InvalidScheduleError, match="no time zone") as info:
        next_fire(datetime(2024, 1, 1), [time(8)], EVERY_DAY, BERLIN)  # noqa: DTZ001
    assert isinstance(info.value, InvalidInputError)
    with pytest.raises(InvalidScheduleError, match=r"weekdays \[7\]: must be 0..6"):
        next_fire(utc(2024, 1, 1), [time(8)], frozenset({1, 7}), BERLIN)
    with pytest.raises(InvalidScheduleError, match="at least one time"):
        next_fire(utc(2024, 1, 1), [], EVERY_DAY, BERLIN)
    with pytest.raises(InvalidScheduleError, match="own time zone"):
        next_fire(utc(2024, 1, 1), [time(8, tzinfo=UTC)], EVERY_DAY, BERLIN)
    with pytest.raises(InvalidScheduleError, match="no time zone"):
        in_window(datetime(2024, 1, 1), None, None, EVERY_DAY, BERLIN)  # noqa: DTZ001
    with pytest.raises(InvalidScheduleError, match="own time zone"):
        in_window(utc(2024, 1, 1), time(8, tzinfo=UTC), None, EVERY_DAY, BERLIN)


# --- in_window ---------------------------------------------------------------------------------


def at_local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in June 2024 in Berlin (June 3 is a Monday)."""
    return datetime(2024, 6, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("now", "after", "before", "expected"),
    [
        (at_local(5, 8), time(8), time(17), True),
        (at_local(5, 16, 59), time(8), time(17), True),
        (at_local(5, 17), time(8), time(17), False),
        (at_local(5, 7, 59), time(8), time(17), False),
        (at_local(5, 23), time(22), time(6), True),
        (at_local(5, 5), time(22), time(6), True),
        (at_local(5, 6), time(22), time(6), False),
        (at_local(5, 12), time(22), time(6), False),
        (at_local(5, 12), time(9), None, True),
        (at_local(5, 8), time(9), None, False),
        (at_local(5, 8), None, time(9), True),
        (at_local(5, 9), None, time(9), False),
        (at_local(5, 3), None, None, True),
        (at_local(5, 3), time(12), time(12), True),
    ],
)
def test_in_window(now: datetime, after: time | None, before: time | None, expected: bool) -> None:
    assert in_window(now, after, before, EVERY_DAY, BERLIN) is expected


def test_in_window_uses_local_time_of_the_zone() -> None:
    # 07:00Z is 09:00 in Berlin and 03:00 in New York.
    now = utc(2024, 6, 5, 7)
    assert in_window(now, time(8), time(17), EVERY_DAY, BERLIN)
    assert not in_window(now, time(8), time(17), EVERY_DAY, NEW_YORK)


def test_in_window_weekday_is_the_current_day() -> None:
    friday = frozenset({4})
    assert in_window(at_local(7, 23), time(22), time(6), friday, BERLIN)  # Friday night
    assert in_window(at_local(7, 5), time(22), time(6), friday, BERLIN)  # Friday early morning
    assert not in_window(at_local(8, 5), time(22), time(6), friday, BERLIN)  # Saturday morning
    assert not in_window(at_local(8, 12), None, None, friday, BERLIN)


def test_in_window_repeated_hour_counts_twice() -> None:
    for moment in (utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30)):  # both 02:30 local
        assert in_window(moment, time(2), time(3), EVERY_DAY, BERLIN)


# --- properties --------------------------------------------------------------------------------

ZONES = [BERLIN, NEW_YORK]
# Moments within a day or two of the 2024 clock changes of both zones, and ordinary ones.
ANCHORS = [
    utc(2024, 3, 31, 1),
    utc(2024, 10, 27, 1),
    utc(2024, 3, 10, 7),
    utc(2024, 11, 3, 6),
    utc(2024, 6, 15),
]
# Half of the times fall in 01:00–03:59, where both zones change their clocks.
minute_times = st.builds(time, st.one_of(st.integers(0, 23), st.integers(1, 3)), st.integers(0, 59))
weekday_sets = st.frozensets(st.integers(0, 6), max_size=3)


@st.composite
def nows(draw: st.DrawFn) -> datetime:
    anchor = draw(st.sampled_from(ANCHORS))
    return anchor + timedelta(seconds=draw(st.integers(-2 * 86400, 86400)))


def fires_at(instant: datetime, at: list[time], weekdays: frozenset[int], tz: ZoneInfo) -> bool:
    """Brute-force reference on a grid of whole minutes: the local wall time reaches one of
    ``at`` at this minute, either exactly (first occurrence only) or by jumping over it."""
    wall = instant.astimezone(tz)
    previous = (instant - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
    for t in at:
        for day in {wall.date(), previous.date()}:
            if weekdays and day.weekday() not in weekdays:
                continue
            target = datetime.combine(day, t)
            # The second pass through a repeated hour has fold=1 and does not count.
            exact = wall.replace(tzinfo=None) == target and wall.fold == 0
            jumped = previous < target < wall.replace(tzinfo=None)
            if exact or jumped:
                return True
    return False


@settings(max_examples=60, deadline=None)
@given(nows(), st.lists(minute_times, min_size=1, max_size=3), weekday_sets, st.sampled_from(ZONES))
def test_next_fire_properties(
    now: datetime, at: list[time], weekdays: frozenset[int], tz: ZoneInfo
) -> None:
    fired = next_fire(now, at, weekdays, tz)
    assert fired.tzinfo is UTC
    assert now < fired <= now + timedelta(days=8)
    local = fired.astimezone(tz)
    if local.replace(tzinfo=None).time() in at:
        assert not weekdays or local.weekday() in weekdays
    else:
        # Only a nonexistent local time moves: then fired is a jump (the minute before it reads
        # more than a minute earlier on the wall).
        before = (fired - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
        assert local.replace(tzinfo=None) - before > timedelta(minutes=1)
    assert fires_at(fired, at, weekdays, tz)
    # No earlier fire time: step minute by minute from now to the result.
    step = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while step < fired:
        assert not fires_at(step, at, weekdays, tz), step
        step += timedelta(minutes=1)


@given(nows(), st.one_of(st.none(), minute_times), st.one_of(st.none(), minute_times))
def test_in_window_matches_definition(
    now: datetime, after: time | None, before: time | None
) -> None:
    clock = now.astimezone(BERLIN).time()
    inside = in_window(now, after, before, EVERY_DAY, BERLIN)
    if after is not None and before is not None and after >= before:
        assert inside == (clock >= after or clock < before)
    else:
        assert inside == ((after is None or after <= clock) and (before is None or clock < before))
