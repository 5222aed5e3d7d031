"""Clocks: the one source of time for every time-dependent component.

Components never call ``time.time()``, ``datetime.now()`` or ``asyncio.sleep()`` themselves; they
take a :class:`Clock`. Production passes a :class:`RealClock`; tests and the demo world pass a
:class:`SimClock`, which either stands still until the test moves it (``advance``, ``run_for``) or
runs a fixed number of times faster than real time (``speed=60``), and can still be jumped ahead.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from smartev.core.errors import InvalidInputError

# How many loop iterations ``SimClock.run_for`` yields after waking sleepers, so that the tasks it
# woke can run far enough to register their next sleep before time moves on.
_SETTLE_ITERATIONS = 20


@runtime_checkable
class Clock(Protocol):
    """What a component needs to know about time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def timestamp(self) -> float:
        """The current time as seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences are meaningful."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of this clock's time."""
        ...


class RealClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _epoch(start: datetime) -> float:
    if start.tzinfo is None:
        raise InvalidInputError(f"SimClock start {start.isoformat()} must be timezone-aware")
    return start.timestamp()


class SimClock:
    """Simulated time.

    With ``speed=None`` (the default) time stands still until :meth:`advance` or :meth:`run_for`
    moves it: tests are exact and never sleep for real. With ``speed=N`` simulated time runs N
    times faster than real time (``N=60``: one real second is one simulated minute), and
    :meth:`advance` still jumps it ahead.

    Sleepers are woken in deadline order. ``advance`` wakes every sleeper that is due at the new
    time at once; ``run_for`` steps from deadline to deadline and lets the woken tasks run in
    between, so a task that sleeps in a loop sees every one of its ticks.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        speed: float | None = None,
        real_monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and not speed > 0:
            raise InvalidInputError(f"SimClock speed {speed} must be a number > 0, or None")
        self._real = real_monotonic
        self._t = _epoch(start) if start is not None else time.time()
        self._t0 = self._t
        self._speed = speed
        self._real_anchor = real_monotonic()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @property
    def speed(self) -> float | None:
        """How many simulated seconds pass per real second; None when time moves only by hand."""
        return self._speed

    def set_speed(self, speed: float | None) -> None:
        """Change the speed from now on (None stops the clock until it is moved by hand)."""
        if speed is not None and not speed > 0:
            raise InvalidInputError(f"SimClock speed {speed} must be a number > 0, or None")
        self._reanchor()
        self._speed = speed
        # Every sleeper re-checks its deadline under the new speed.
        for _, _, fut in self._sleepers:
            _resolve(fut)
        self._sleepers.clear()

    def timestamp(self) -> float:
        if self._speed is None:
            return self._t
        return self._t + (self._real() - self._real_anchor) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def monotonic(self) -> float:
        return self.timestamp() - self._t0

    def _reanchor(self) -> None:
        self._t = self.timestamp()
        self._real_anchor = self._real()

    def advance(self, seconds: float) -> None:
        """Jump ahead by ``seconds`` and wake every sleeper that is now due."""
        if not seconds >= 0:
            raise InvalidInputError(f"cannot advance a clock by {seconds} s: must be >= 0")
        self._reanchor()
        self._t += seconds
        self._wake_due()

    async def run_for(self, seconds: float) -> None:
        """Move time ahead by ``seconds``, stopping at each sleeper's deadline on the way.

        At each stop the woken tasks get to run (and schedule their next sleep) before time moves
        on, which is what a test of a periodic task needs.
        """
        if not seconds >= 0:
            raise InvalidInputError(f"cannot run a clock for {seconds} s: must be >= 0")
        target = self.timestamp() + seconds
        while True:
            self._drop_finished()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline = self._sleepers[0][0]
            self._reanchor()
            self._t = max(self._t, deadline)
            self._wake_due()
            await self._settle()
        self._reanchor()
        self._t = max(self._t, target)
        self._wake_due()
        await self._settle()

    @staticmethod
    async def _settle() -> None:
        for _ in range(_SETTLE_ITERATIONS):
            await asyncio.sleep(0)

    def _drop_finished(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def _wake_due(self) -> None:
        now = self.timestamp()
        while self._sleepers and self._sleepers[0][0] <= now:
            _resolve(heapq.heappop(self._sleepers)[2])

    async def sleep(self, seconds: float) -> None:
        deadline = self.timestamp() + max(0.0, seconds)
        loop = asyncio.get_running_loop()
        while True:
            remaining = deadline - self.timestamp()
            if remaining <= 0:
                await asyncio.sleep(0)
                return
            fut: asyncio.Future[None] = loop.create_future()
            heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
            if self._speed is None:
                await fut
                continue
            # Scaled time: wake at the real-time equivalent, or earlier if the clock is advanced
            # or its speed changes; either way the loop checks the deadline again.
            timer = loop.call_later(remaining / self._speed, _resolve, fut)
            try:
                await fut
            finally:
                timer.cancel()
