"""Running an automation's actions in order, one trace step each, until one ends the run.

A device call, a write and a notification are each bounded by the engine's action timeout on
its clock; a failed or late one fails the run (Home Assistant without ``continue_on_error``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from smartev.core.clock import Clock
from smartev.core.errors import SmartevError
from smartev.ecosystem.conditions import ConditionView, check, condition_kind
from smartev.ecosystem.engine_scenes import SceneApplier
from smartev.ecosystem.engine_values import show, show_duration
from smartev.ecosystem.model import (
    Action,
    ConditionAction,
    DelayAction,
    DeviceAction,
    IfAction,
    NotifyAction,
    Scene,
    SceneAction,
    SetAction,
    StopAction,
    Trigger,
    WaitForTriggerAction,
)
from smartev.ecosystem.registry import DeviceRegistry, RunContext
from smartev.ecosystem.run_timeout import DeviceTimeoutError, bounded
from smartev.ecosystem.trace import Outcome, StepResult, Trace, TraceStep, TriggerInfo
from smartev.ecosystem.triggers import Fire

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Sends a message to people of the household; raises on failure."""

    async def notify(self, to: tuple[str, ...], title: str, message: str) -> None: ...


@dataclass(slots=True)
class RunState:
    """What the actions of one run share: its trace, its context (for loop detection) and the id
    of the trigger that started it (for ``condition: trigger``)."""

    trace: Trace
    context: RunContext
    trigger_id: str


class ActionHost(Protocol):
    """What actions use of the engine."""

    @property
    def clock(self) -> Clock: ...

    @property
    def registry(self) -> DeviceRegistry: ...

    @property
    def view(self) -> ConditionView: ...

    @property
    def notifier(self) -> Notifier | None: ...

    @property
    def action_timeout_s(self) -> float: ...

    @property
    def scenes(self) -> Mapping[str, Scene]: ...

    @property
    def scene_applier(self) -> SceneApplier: ...

    def watch(self, trigger: Trigger, fire: Fire) -> Callable[[], None]: ...


class ActionRunner:
    """Runs action lists for the engine's runs."""

    def __init__(self, host: ActionHost) -> None:
        self._host = host

    async def run(self, actions: tuple[Action, ...], state: RunState) -> Outcome | None:
        """Run ``actions`` in order; the outcome that ended the run early, or None if all ran."""
        for action in actions:
            outcome = await self._one(action, state)
            if outcome is not None:
                return outcome
        return None

    def _step(self, state: RunState, path: str, kind: str) -> TraceStep:
        step = TraceStep(path, kind, StepResult.OK, started=self._host.clock.timestamp())
        state.trace.actions.append(step)
        return step

    def _end(self, step: TraceStep, result: StepResult, detail: str) -> None:
        step.result = result
        step.detail = detail
        step.finished = self._host.clock.timestamp()

    async def _one(self, action: Action, state: RunState) -> Outcome | None:
        match action:
            case DeviceAction():
                return await self._device(action, state)
            case SetAction():
                return await self._set(action, state)
            case NotifyAction():
                return await self._notify(action, state)
            case DelayAction():
                step = self._step(state, action.where.path, "delay")
                await self._host.clock.sleep(action.seconds)
                self._end(step, StepResult.OK, f"waited {show_duration(action.seconds)}")
                return None
            case WaitForTriggerAction():
                return await self._wait_for_trigger(action, state)
            case SceneAction():
                return await self._scene(action, state)
            case IfAction():
                return await self._if(action, state)
            case ConditionAction():
                step = self._step(state, action.where.path, condition_kind(action.condition))
                holds, detail = check(action.condition, self._host.view, state.trigger_id)
                self._end(step, StepResult.TRUE if holds else StepResult.FALSE, detail)
                if holds:
                    return None
                state.trace.error = detail
                return Outcome.CONDITIONS_FAILED
            case StopAction():
                step = self._step(state, action.where.path, "stop")
                self._end(step, StepResult.OK, action.reason or "stopped")
                state.trace.error = action.reason or "stopped by a stop action"
                return Outcome.STOPPED

    def _failed(self, step: TraceStep, state: RunState, exc: BaseException) -> Outcome:
        if isinstance(exc, DeviceTimeoutError):
            self._end(step, StepResult.TIMEOUT, str(exc))
        elif isinstance(exc, SmartevError | ValueError):
            self._end(step, StepResult.FAILED, str(exc))
        else:  # a driver's bug: the run fails, the engine goes on
            log.error("action %s of %s failed", step.path, state.trace.automation_id, exc_info=exc)
            self._end(step, StepResult.FAILED, f"unexpected error: {exc!r}")
        state.trace.error = f"{step.path}: {step.detail}"
        return Outcome.FAILED

    async def _device(self, action: DeviceAction, state: RunState) -> Outcome | None:
        host = self._host
        step = self._step(state, action.where.path, "device")
        what = f"{action.device} {action.action}"
        try:
            call = host.registry.call(action.device, action.action, action.data, state.context)
            outputs = await bounded(host.clock, host.action_timeout_s, call, action.device)
        except Exception as exc:
            return self._failed(step, state, exc)
        step.outputs = dict(outputs)
        shown = ", ".join(f"{k}={show(v)}" for k, v in action.data.items())
        self._end(step, StepResult.OK, f"called {what}" + (f" with {shown}" if shown else ""))
        return None

    async def _set(self, action: SetAction, state: RunState) -> Outcome | None:
        host = self._host
        step = self._step(state, action.where.path, "set")
        done: list[str] = []
        for ref, value in action.values.items():
            try:
                write = host.registry.write(action.device, ref, value, state.context)
                await bounded(host.clock, host.action_timeout_s, write, action.device)
            except Exception as exc:
                return self._failed(step, state, exc)
            done.append(f"{ref} to {show(value)}")
        self._end(step, StepResult.OK, f"set {action.device} {', '.join(done)}")
        return None

    async def _notify(self, action: NotifyAction, state: RunState) -> Outcome | None:
        host = self._host
        step = self._step(state, action.where.path, "notify")
        notifier = host.notifier
        if notifier is None:
            self._end(step, StepResult.FAILED, "no notifier is configured to send messages")
            state.trace.error = f"{step.path}: {step.detail}"
            return Outcome.FAILED
        try:
            send = notifier.notify(action.to, action.title, action.message)
            await bounded(host.clock, host.action_timeout_s, send, "the notifier")
        except DeviceTimeoutError as exc:
            return self._failed(step, state, exc)
        except Exception as exc:  # the notifier raises whatever its transport raised
            self._end(step, StepResult.FAILED, f"sending failed: {exc}")
            state.trace.error = f"{step.path}: {step.detail}"
            return Outcome.FAILED
        self._end(step, StepResult.OK, f"sent {action.message!r} to {', '.join(action.to)}")
        return None

    async def _wait_for_trigger(
        self, action: WaitForTriggerAction, state: RunState
    ) -> Outcome | None:
        host = self._host
        step = self._step(state, action.where.path, "wait_for_trigger")
        fired: asyncio.Future[TriggerInfo] = asyncio.get_running_loop().create_future()

        def fire(info: TriggerInfo, context: RunContext | None) -> None:
            if not fired.done():
                fired.set_result(info)

        stops = [host.watch(trigger, fire) for trigger in action.triggers]
        try:
            if action.timeout_s is None:
                info: TriggerInfo | None = await fired
            else:
                info = await _first_or_none(host.clock, action.timeout_s, fired)
        finally:
            for stop in stops:
                stop()
        if info is not None:
            self._end(step, StepResult.OK, f"triggered: {info.description}")
            return None
        assert action.timeout_s is not None
        waited = f"timed out after {show_duration(action.timeout_s)}"
        self._end(step, StepResult.TIMEOUT, waited)
        if action.continue_on_timeout:
            return None
        state.trace.error = "timed out"
        return Outcome.STOPPED

    async def _scene(self, action: SceneAction, state: RunState) -> Outcome | None:
        host = self._host
        step = self._step(state, action.where.path, "scene")
        scene = host.scenes.get(action.scene)
        if scene is None:
            known = ", ".join(sorted(host.scenes)) or "none"
            self._end(step, StepResult.FAILED, f"no scene {action.scene!r}; scenes: {known}")
            state.trace.error = f"{step.path}: {step.detail}"
            return Outcome.FAILED
        steps = await host.scene_applier.apply(scene, state.context, action.where.path)
        state.trace.actions.extend(steps)
        bad = [s for s in steps if s.result not in (StepResult.OK, StepResult.SKIPPED)]
        if bad:
            self._end(step, bad[0].result, f"scene {scene.name}: {bad[0].detail}")
            state.trace.error = f"{bad[0].path}: {bad[0].detail}"
            return Outcome.FAILED
        self._end(step, StepResult.OK, f"applied scene {scene.name} ({len(steps)} values)")
        return None

    async def _if(self, action: IfAction, state: RunState) -> Outcome | None:
        step = self._step(state, action.where.path, "if")
        details = []
        holds = True
        for condition in action.conditions:
            ok, detail = check(condition, self._host.view, state.trigger_id)
            details.append(detail)
            if not ok:
                holds = False
                break
        branch = "then" if holds else ("else" if action.otherwise else "nothing")
        self._end(
            step,
            StepResult.TRUE if holds else StepResult.FALSE,
            f"{'; '.join(details)}: running {branch}",
        )
        return await self.run(action.then if holds else action.otherwise, state)


async def _first_or_none(
    clock: Clock, timeout_s: float, fired: asyncio.Future[TriggerInfo]
) -> TriggerInfo | None:
    timer = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        await asyncio.wait((fired, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    return fired.result() if fired.done() else None
