"""The automation engine of one household: it watches the device registry, fires triggers,
checks conditions, runs actions in the automation's mode, stops loops and keeps traces.

Semantics follow Home Assistant where it has them (crossing-only numeric triggers, ``for:``
durations, modes single/restart/queued/parallel, a run stops at the first failed action).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, tzinfo
from types import MappingProxyType

from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError
from smartev.ecosystem.actions import ActionRunner, Notifier, RunState
from smartev.ecosystem.conditions import ConditionView, check, condition_kind
from smartev.ecosystem.engine_index import TriggerIndex
from smartev.ecosystem.engine_position import PositionTracker
from smartev.ecosystem.engine_runs import (
    RATE_LIMIT_RUNS,
    RATE_WINDOW_S,
    Run,
    Slot,
    TraceStore,
    loop_detail,
)
from smartev.ecosystem.engine_scenes import SceneApplier
from smartev.ecosystem.engine_time import TimePlanner
from smartev.ecosystem.engine_values import as_number
from smartev.ecosystem.engine_view import HomeView, Person, device_kind
from smartev.ecosystem.errors import UnknownAutomationError
from smartev.ecosystem.geo import SPEED_REFS, Zone, position_refs
from smartev.ecosystem.model import Automation, Mode, Scene, Trigger
from smartev.ecosystem.registry import (
    DeviceEvent,
    DeviceRegistry,
    Happening,
    PropertyChange,
    RunContext,
)
from smartev.ecosystem.trace import Outcome, StepResult, Trace, TraceStep, TriggerInfo
from smartev.ecosystem.triggers import Fire, Timers

__all__ = ["AutomationEngine", "Notifier", "Person", "UnknownAutomationError"]

log = logging.getLogger(__name__)

# Cache marker for a device whose position refs were not looked up yet.
_UNSEEN: tuple[str, str] = ("", "")
_NO_ZONES: Mapping[str, Zone] = MappingProxyType({})
_NO_SCENES: Mapping[str, Scene] = MappingProxyType({})
_NO_PEOPLE: Mapping[str, Person] = MappingProxyType({})


class _Host:
    """What the action runner reads of the engine (kept off the engine's public surface)."""

    def __init__(self, engine: AutomationEngine) -> None:
        self._engine = engine

    @property
    def clock(self) -> Clock:
        return self._engine._clock

    @property
    def registry(self) -> DeviceRegistry:
        return self._engine._registry

    @property
    def view(self) -> ConditionView:
        return self._engine._view

    @property
    def notifier(self) -> Notifier | None:
        return self._engine._notifier

    @property
    def action_timeout_s(self) -> float:
        return self._engine._action_timeout_s

    @property
    def scenes(self) -> Mapping[str, Scene]:
        return self._engine._scenes

    @property
    def scene_applier(self) -> SceneApplier:
        return self._engine._scene_applier

    def watch(self, trigger: Trigger, fire: Fire) -> Callable[[], None]:
        return self._engine._index.add(trigger, fire)


class AutomationEngine:
    """Runs a household's automations against its device registry."""

    def __init__(
        self,
        clock: Clock,
        registry: DeviceRegistry,
        *,
        tz: tzinfo = UTC,
        zones: Mapping[str, Zone] = _NO_ZONES,
        scenes: Mapping[str, Scene] = _NO_SCENES,
        people: Mapping[str, Person] = _NO_PEOPLE,
        notifier: Notifier | None = None,
        on_trace: Callable[[Trace], None] | None = None,
        action_timeout_s: float = 60.0,
        traces_kept: int = 20,
    ) -> None:
        if not action_timeout_s > 0:
            raise InvalidInputError(f"action_timeout_s {action_timeout_s} must be > 0 seconds")
        if traces_kept < 1:
            raise InvalidInputError(f"traces_kept {traces_kept} must be at least 1")
        self._clock = clock
        self._registry = registry
        self._scenes: dict[str, Scene] = dict(scenes)
        self._notifier = notifier
        self._on_trace = on_trace
        self._action_timeout_s = action_timeout_s
        self._positions = PositionTracker(zones)
        self._view = HomeView(clock, registry, self._positions, tz, people)
        self._timers = Timers(clock)
        self._index = TriggerIndex(self._timers, registry.value, self._positions.inside)
        self._planner = TimePlanner(clock, tz, self._index.times)
        self._index.times_changed = self._planner.replan
        self._scene_applier = SceneApplier(clock, registry, action_timeout_s)
        self._runner = ActionRunner(_Host(self))
        self._slots: dict[str, Slot] = {}
        self._store = TraceStore(traces_kept)
        self._tasks: set[asyncio.Task[None]] = set()
        self._position_refs: dict[str, tuple[str, str] | None] = {}
        self._unsubscribe: Callable[[], None] | None = None

    # --- life ---

    async def start(self) -> None:
        """Subscribe to the registry and start the time triggers' task."""
        if self._unsubscribe is not None:
            return
        self._view.start_ts = self._clock.timestamp()
        self._unsubscribe = self._registry.subscribe(self._on_happening)
        self._seed_positions()
        self._planner.start()

    async def stop(self) -> None:
        """Stop watching; runs end ``aborted``; pending ``for:`` timers and tasks are cancelled."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._planner.stop()
        self._timers.cancel_all()
        for slot in self._slots.values():
            self._abort_runs(slot, "the automation engine stopped")
        tasks = list(self._tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- automations ---

    def load(self, automation: Automation) -> None:
        """Load (or replace: the old one's runs end ``aborted``) an automation."""
        old = self._slots.pop(automation.id, None)
        if old is not None:
            self._retire(old, "the automation was changed")
        slot = Slot(automation)
        self._slots[automation.id] = slot
        if automation.enabled:
            for trigger in automation.triggers:
                slot.unsubscribes.append(self._index.add(trigger, self._fire_for(slot)))

    def unload(self, automation_id: str) -> None:
        """Remove an automation; its runs end ``aborted`` and its traces are forgotten (the
        aborted ones still reach ``on_trace``)."""
        slot = self._slots.pop(automation_id, None)
        if slot is None:
            raise UnknownAutomationError(automation_id, sorted(self._slots))
        self._retire(slot, "the automation was removed")
        self._store.forget(automation_id)

    def automations(self) -> list[Automation]:
        return [slot.automation for slot in self._slots.values()]

    def set_zones(self, zones: Mapping[str, Zone]) -> None:
        self._positions.set_zones(zones)
        self._seed_positions()

    def set_scenes(self, scenes: Mapping[str, Scene]) -> None:
        self._scenes = dict(scenes)

    def set_people(self, people: Mapping[str, Person]) -> None:
        self._view.people = dict(people)

    def set_notifier(self, notifier: Notifier | None) -> None:
        self._notifier = notifier

    def set_route(self, device: str, points: Sequence[tuple[float, float]] | None) -> None:
        """The route a device follows (for its ETA); None to forget it."""
        self._positions.set_route(device, points)

    # --- traces ---

    def traces(self, automation_id: str) -> list[Trace]:
        """The automation's kept traces, newest first (running ones included)."""
        return self._store.of(automation_id)

    def trace(self, run_id: str) -> Trace | None:
        return self._store.get(run_id)

    # --- running by hand ---

    async def run(self, automation_id: str, *, skip_conditions: bool = False) -> Trace:
        """Run an automation now (its mode applies) and return its trace once it finished."""
        slot = self._slots.get(automation_id)
        if slot is None:
            raise UnknownAutomationError(automation_id, sorted(self._slots))
        info = TriggerInfo("manual", "manual", "", "run by hand", ts=self._clock.timestamp())
        run = self._triggered(slot, info, None, skip_conditions=skip_conditions)
        if run.trace.finished is not None:  # refused, or already over
            return run.trace
        waiter: asyncio.Future[Trace] = asyncio.get_running_loop().create_future()
        run.waiters.append(waiter)
        return await waiter

    async def apply_scene(self, name: str, context: RunContext | None = None) -> list[TraceStep]:
        """Apply a scene now; one step per value (failed values do not stop the others)."""
        scene = self._scenes.get(name)
        if scene is None:
            known = ", ".join(sorted(self._scenes)) or "none"
            raise InvalidInputError(f"unknown scene {name!r}; scenes: {known}")
        return await self._scene_applier.apply(scene, context)

    # --- happenings → triggers ---

    def _on_happening(self, happening: Happening) -> None:
        if type(happening) is PropertyChange:
            key = (happening.device, happening.ref)
            self._view.since[key] = happening.ts
            self._index.property_changed(happening)
            refs = self._position_refs.get(happening.device, _UNSEEN)
            if refs is _UNSEEN:
                refs = position_refs(device_kind(happening.device))
                self._position_refs[happening.device] = refs
            if refs is not None and happening.ref in refs:
                self._moved(happening.device, happening.ts, happening.context)
        elif type(happening) is DeviceEvent:
            self._index.event_fired(happening)

    def _moved(self, device: str, ts: float, context: RunContext | None) -> None:
        position = self._view.position(device)
        if position is None:
            return
        speed_ref = SPEED_REFS.get(device_kind(device))
        speed = None if speed_ref is None else as_number(self._registry.value(device, speed_ref))
        crossings = self._positions.moved(device, ts, position[0], position[1], speed)
        for zone, event in crossings:
            self._index.zone_crossed(device, zone, event, ts, context)
        if self._index.wants_eta(device):
            positions = self._positions
            self._index.eta_estimated(
                device, lambda zone: positions.eta_s(device, zone, ts), ts, context
            )

    def _seed_positions(self) -> None:
        """Tell the zone tracker where every device is now (sets state, fires nothing)."""
        for device in self._registry.ids():
            position = self._view.position(device)
            if position is not None:
                self._positions.moved(device, self._clock.timestamp(), *position, None)

    def _fire_for(self, slot: Slot) -> Fire:
        def fire(info: TriggerInfo, cause: RunContext | None) -> None:
            if self._slots.get(slot.automation.id) is slot:
                self._triggered(slot, info, cause)

        return fire

    # --- runs ---

    def _triggered(
        self,
        slot: Slot,
        info: TriggerInfo,
        cause: RunContext | None,
        *,
        skip_conditions: bool = False,
    ) -> Run:
        """Decide what a trigger does: refused (loop, rate, conditions, mode) or a run."""
        automation = slot.automation
        now = self._clock.timestamp()
        trace = Trace(
            uuid.uuid4().hex,
            automation.id,
            info,
            started=now,
            caused_by=cause.chain() if cause is not None else [],
        )
        context = RunContext(trace.run_id, automation.id, cause)
        run = Run(automation, RunState(trace, context, info.id))
        detail = loop_detail(automation.id, cause)
        if detail is None and info.kind != "manual" and slot.too_often(self._clock.monotonic()):
            detail = f"ran {RATE_LIMIT_RUNS} times in {RATE_WINDOW_S:g} s"
        if detail is not None:
            self._refuse(trace, Outcome.LOOP_STOPPED, detail)
            return run
        # Conditions are checked when the trigger fires (also for a run that will wait in a
        # queue), as Home Assistant does.
        if not skip_conditions:
            for condition in automation.conditions:
                holds, detail = check(condition, self._view, info.id)
                result = StepResult.TRUE if holds else StepResult.FALSE
                step = TraceStep(
                    condition.where.path, condition_kind(condition), result, detail, now, now
                )
                trace.conditions.append(step)
                if not holds:
                    self._refuse(trace, Outcome.CONDITIONS_FAILED, detail)
                    return run
        busy = len(slot.running) + len(slot.queued)
        mode = automation.mode
        if mode is Mode.SINGLE and slot.running:
            self._refuse(trace, Outcome.ALREADY_RUNNING, "already running (mode single)")
            return run
        if mode in (Mode.QUEUED, Mode.PARALLEL) and busy >= automation.max_runs:
            self._refuse(
                trace,
                Outcome.ALREADY_RUNNING,
                f"{busy} runs already going or waiting (mode {mode}, max {automation.max_runs})",
            )
            return run
        if mode is Mode.RESTART:
            for old in list(slot.running):
                self._cancel(old, Outcome.RESTARTED, "restarted by a newer trigger")
        self._store.add(trace)
        slot.started(self._clock.monotonic())
        if mode is Mode.QUEUED and slot.running:
            slot.queued.append(run)
        else:
            self._start(slot, run)
        return run

    def _refuse(self, trace: Trace, outcome: Outcome, detail: str) -> None:
        trace.outcome = outcome
        trace.error = detail
        trace.finished = self._clock.timestamp()
        self._store.add(trace)
        self._publish(trace)

    def _start(self, slot: Slot, run: Run) -> None:
        slot.running.append(run)
        task = asyncio.get_running_loop().create_task(self._execute(slot, run))
        run.task = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._task_done(slot, run, done))

    def _task_done(self, slot: Slot, run: Run, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if run.trace.finished is None:
            # Cancelled before it ever ran, so _execute could not finish it.
            run.trace.error = run.cancel_detail
            self._finish(slot, run, run.cancel_outcome)

    async def _execute(self, slot: Slot, run: Run) -> None:
        trace = run.trace
        try:
            outcome = await self._runner.run(run.automation.actions, run.state) or Outcome.FINISHED
        except asyncio.CancelledError:
            # The engine cancelled it (restart, reload, unload, stop) and said how it ends.
            outcome = run.cancel_outcome
            trace.error = run.cancel_detail
        except Exception as exc:  # a bug must end the run visibly, never silently
            log.exception("run %s of %s failed", trace.run_id, trace.automation_id)
            outcome = Outcome.FAILED
            trace.error = f"internal error: {exc!r}"
        self._finish(slot, run, outcome)

    def _finish(self, slot: Slot, run: Run, outcome: Outcome) -> None:
        trace = run.trace
        trace.outcome = outcome
        trace.finished = self._clock.timestamp()
        if run in slot.running:
            slot.running.remove(run)
        self._publish(trace)
        for waiter in run.waiters:
            if not waiter.done():
                waiter.set_result(trace)
        if slot.queued and not slot.running and self._slots.get(slot.automation.id) is slot:
            self._start(slot, slot.queued.popleft())

    def _cancel(self, run: Run, outcome: Outcome, detail: str) -> None:
        run.cancel_outcome = outcome
        run.cancel_detail = detail
        if run.task is not None:
            run.task.cancel()

    def _abort_runs(self, slot: Slot, detail: str) -> None:
        while slot.queued:
            queued = slot.queued.popleft()
            queued.trace.error = detail
            self._finish(slot, queued, Outcome.ABORTED)
        for run in list(slot.running):
            self._cancel(run, Outcome.ABORTED, detail)

    def _retire(self, slot: Slot, detail: str) -> None:
        for unsubscribe in slot.unsubscribes:
            unsubscribe()
        slot.unsubscribes.clear()
        self._abort_runs(slot, detail)

    def _publish(self, trace: Trace) -> None:
        if self._on_trace is None:
            return
        try:
            self._on_trace(trace)
        except Exception:  # a broken consumer must not break the engine
            log.exception("on_trace consumer failed for run %s", trace.run_id)
