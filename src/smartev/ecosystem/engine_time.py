"""The one task behind every time trigger: it sleeps on the clock until the soonest next fire
time of any of them, fires the ones due, and plans again."""

from __future__ import annotations

import asyncio
from datetime import datetime, tzinfo

from smartev.core.clock import Clock
from smartev.ecosystem.schedule import next_fire
from smartev.ecosystem.triggers import TimeWatch


class TimePlanner:
    """Fires the time watchers of a list it shares with the trigger index.

    Next fire times are cached per watcher, so a plan after a change computes only the new
    watchers' times; :meth:`replan` restarts the sleep after the set of watchers changed.
    """

    def __init__(self, clock: Clock, tz: tzinfo, watches: list[TimeWatch]) -> None:
        self._clock = clock
        self.tz = tz
        self._watches = watches
        self._next: dict[TimeWatch, datetime] = {}
        self._last_fired: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._replan_pending = False
        # When planning was asked for: the task that plans runs a moment later, and a simulated
        # clock may have jumped in between; a time passed in that gap still fires (late).
        self._asked_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._asked_at = self._clock.now()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def replan(self) -> None:
        """Plan again soon; several changes in one go (loading many automations) plan once."""
        if self._task is None or self._replan_pending:
            return
        self._replan_pending = True
        self._asked_at = self._clock.now()
        asyncio.get_running_loop().call_soon(self._restart)

    def set_tz(self, tz: tzinfo) -> None:
        self.tz = tz
        self._next.clear()
        self.replan()

    def _restart(self) -> None:
        self._replan_pending = False
        if self._task is None:
            return
        self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def _now(self) -> datetime:
        now = self._clock.now() if self._asked_at is None else self._asked_at
        self._asked_at = None
        # Never plan from before the last fire: a clock a hair short of the deadline would
        # otherwise fire the same minute twice.
        if self._last_fired is not None and now < self._last_fired:
            return self._last_fired
        return now

    async def _loop(self) -> None:
        while True:
            now = self._now()
            current = set(self._watches)
            for gone in [w for w in self._next if w not in current]:
                del self._next[gone]
            for watch in self._watches:
                if watch not in self._next:
                    trigger = watch.trigger
                    self._next[watch] = next_fire(now, trigger.at, trigger.weekdays, self.tz)
            if not self._next:
                return  # nothing to wait for; replan() starts again
            soonest = min(self._next.values())
            await self._clock.sleep((soonest - self._clock.now()).total_seconds())
            self._last_fired = soonest
            due = [w for w, at in self._next.items() if at <= soonest]
            for watch in due:
                del self._next[watch]
            local = soonest.astimezone(self.tz)
            for watch in due:
                watch.due(local, soonest.timestamp())
