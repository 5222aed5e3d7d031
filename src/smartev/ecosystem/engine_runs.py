"""The bookkeeping of runs: one automation's running and queued runs, the loop guards, and the
kept traces.

Loop guards: a run is refused (``loop_stopped``) when the happening that triggered it was caused
by a chain of runs that already contains its automation (A → B → A), when that chain is deeper
than :data:`MAX_CHAIN_DEPTH`, or when the automation already ran :data:`RATE_LIMIT_RUNS` times
within :data:`RATE_WINDOW_S` of clock time (loops the context cannot see, e.g. through a device
that reports late or through the outside world).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from smartev.ecosystem.actions import RunState
from smartev.ecosystem.model import Automation
from smartev.ecosystem.registry import RunContext
from smartev.ecosystem.trace import Outcome, Trace
from smartev.ecosystem.triggers import Unsubscribe

MAX_CHAIN_DEPTH: Final = 8
RATE_LIMIT_RUNS: Final = 20
RATE_WINDOW_S: Final = 10.0


def loop_detail(automation_id: str, cause: RunContext | None) -> str | None:
    """Why a run of ``automation_id`` caused by ``cause`` would be a loop, or None."""
    if cause is None:
        return None
    chain = cause.chain()  # the causing run first, the first cause last
    if automation_id in chain:
        cycle = chain[: chain.index(automation_id) + 1]
        names = [*reversed(cycle), automation_id]
        return "loop: " + " → ".join(names)
    if len(chain) >= MAX_CHAIN_DEPTH:
        names = [*reversed(chain), automation_id]
        return f"chain of {len(names)} automations, more than {MAX_CHAIN_DEPTH}: " + " → ".join(
            names
        )
    return None


@dataclass(eq=False, slots=True)
class Run:
    """One run: its trace and shared state, its task, and how it ends if it is cancelled."""

    automation: Automation
    state: RunState
    skip_conditions: bool = False
    task: asyncio.Task[None] | None = None
    cancel_outcome: Outcome = Outcome.ABORTED
    cancel_detail: str = ""
    waiters: list[asyncio.Future[Trace]] = field(default_factory=list)

    @property
    def trace(self) -> Trace:
        return self.state.trace


@dataclass(eq=False, slots=True)
class Slot:
    """A loaded automation: its trigger subscriptions, runs going and waiting, recent starts."""

    automation: Automation
    unsubscribes: list[Unsubscribe] = field(default_factory=list)
    running: list[Run] = field(default_factory=list)
    queued: deque[Run] = field(default_factory=deque)
    recent_starts: deque[float] = field(default_factory=deque)

    def too_often(self, now: float) -> bool:
        """Whether the rate guard refuses a run starting at ``now`` (monotonic clock seconds)."""
        starts = self.recent_starts
        while starts and starts[0] <= now - RATE_WINDOW_S:
            starts.popleft()
        return len(starts) >= RATE_LIMIT_RUNS

    def started(self, now: float) -> None:
        self.recent_starts.append(now)


class TraceStore:
    """The newest ``kept`` traces of each automation, and every kept trace by run id."""

    def __init__(self, kept: int) -> None:
        if kept < 1:
            raise ValueError(f"traces_kept {kept} must be at least 1")
        self._kept = kept
        self._by_automation: dict[str, deque[Trace]] = {}
        self._by_run: dict[str, Trace] = {}

    def add(self, trace: Trace) -> None:
        traces = self._by_automation.setdefault(trace.automation_id, deque())
        traces.appendleft(trace)
        self._by_run[trace.run_id] = trace
        while len(traces) > self._kept:
            self._by_run.pop(traces.pop().run_id, None)

    def of(self, automation_id: str) -> list[Trace]:
        return list(self._by_automation.get(automation_id, ()))

    def get(self, run_id: str) -> Trace | None:
        return self._by_run.get(run_id)

    def forget(self, automation_id: str) -> None:
        for trace in self._by_automation.pop(automation_id, ()):
            self._by_run.pop(trace.run_id, None)
