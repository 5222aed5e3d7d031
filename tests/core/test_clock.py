import asyncio
from datetime import UTC, datetime

import pytest

from smartev.core.clock import Clock, RealClock, SimClock
from smartev.core.errors import InvalidInputError

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(RealClock(), Clock)
    assert isinstance(SimClock(START), Clock)


def test_sim_clock_stands_still_until_advanced() -> None:
    clock = SimClock(START)
    assert clock.now() == START
    assert clock.monotonic() == 0
    clock.advance(90)
    assert clock.now() == datetime(2026, 6, 1, 8, 1, 30, tzinfo=UTC)
    assert clock.monotonic() == 90
    assert clock.timestamp() == START.timestamp() + 90


def test_sim_clock_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="must be >= 0"):
        SimClock(START).advance(-1)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        SimClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidInputError, match="speed"):
        SimClock(START, speed=0)


async def test_sleep_returns_only_when_time_is_advanced() -> None:
    clock = SimClock(START)
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.monotonic())

    tasks = [asyncio.create_task(sleeper(s)) for s in (30, 10, 20)]
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(15)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert woke == [15]  # the 10 s sleeper, woken at the new time
    clock.advance(100)
    await asyncio.gather(*tasks)
    assert sorted(woke) == [15, 115, 115]


async def test_run_for_stops_at_every_deadline_of_a_periodic_task() -> None:
    clock = SimClock(START)
    ticks: list[float] = []

    async def every_7s() -> None:
        while True:
            await clock.sleep(7)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(every_7s())
    await asyncio.sleep(0)
    await clock.run_for(30)
    assert ticks == [7, 14, 21, 28]
    assert clock.monotonic() == 30
    task.cancel()


async def test_cancelled_sleep_is_forgotten() -> None:
    clock = SimClock(START)
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.run_for(10)  # must not trip over the cancelled sleeper
    assert clock.monotonic() == 10


async def test_scaled_clock_runs_n_times_real_time() -> None:
    real = [1000.0]
    clock = SimClock(START, speed=60, real_monotonic=lambda: real[0])
    real[0] += 2.0
    assert clock.monotonic() == pytest.approx(120)
    clock.advance(30)  # a jump is still possible
    assert clock.monotonic() == pytest.approx(150)
    clock.set_speed(None)  # stop it
    real[0] += 5
    assert clock.monotonic() == pytest.approx(150)


async def test_scaled_sleep_takes_real_time_divided_by_speed() -> None:
    clock = SimClock(START, speed=1000)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await clock.sleep(50)  # 50 ms of real time at 1000x
    assert clock.monotonic() >= 50
    assert loop.time() - t0 < 5  # generous: a loaded machine must not fail this


async def test_scaled_sleeper_wakes_early_when_clock_is_advanced() -> None:
    clock = SimClock(START, speed=1)
    task = asyncio.create_task(clock.sleep(3600))
    await asyncio.sleep(0)
    clock.advance(3600)
    await asyncio.wait_for(task, timeout=5)


async def test_speed_change_wakes_sleepers_to_recheck() -> None:
    clock = SimClock(START, speed=1)
    task = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(0.01)
    clock.set_speed(100_000)
    await asyncio.wait_for(task, timeout=5)


async def test_real_clock_is_utc_and_sleeps() -> None:
    clock = RealClock()
    assert clock.now().tzinfo is UTC
    before = clock.monotonic()
    await clock.sleep(0.01)
    assert clock.monotonic() > before
