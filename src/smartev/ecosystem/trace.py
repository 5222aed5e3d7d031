"""What one run of an automation did: which trigger started it, which conditions passed, each
action's result. Plain data, built by the engine and shown by the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from smartev.spec.devices import Scalar


class Outcome(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"  # every action ran (or was skipped by an if)
    CONDITIONS_FAILED = "conditions_failed"  # a condition (top level or inline) did not hold
    STOPPED = "stopped"  # a stop action ended it
    FAILED = "failed"  # an action failed (device offline, refused, timed out)
    ALREADY_RUNNING = "already_running"  # mode single, or the queue/parallel limit reached
    RESTARTED = "restarted"  # mode restart: a newer run replaced it
    LOOP_STOPPED = "loop_stopped"  # it was caused by its own earlier run (A → B → A)
    ABORTED = "aborted"  # the automation was changed, removed or the engine stopped


class StepResult(StrEnum):
    TRUE = "true"  # a condition held
    FALSE = "false"  # a condition did not hold
    OK = "ok"  # an action did what it should
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


@dataclass(slots=True)
class TraceStep:
    path: str  # "conditions/0", "actions/2/then/0"
    kind: str  # "state", "device", "delay", …
    result: StepResult
    detail: str = ""  # in plain words: "light:hall/light.on is False", "device offline"
    started: float = 0.0  # clock timestamps
    finished: float = 0.0
    outputs: dict[str, Scalar] = field(default_factory=dict)


@dataclass(slots=True)
class TriggerInfo:
    path: str  # "triggers/1", or "manual"
    kind: str
    id: str
    description: str  # "car:VIN entered home", "meter:home/energy.surplus_power 1500 > 1400"
    device: str = ""
    ref: str = ""
    from_value: Scalar | None = None
    to_value: Scalar | None = None
    ts: float = 0.0


@dataclass(slots=True)
class Trace:
    run_id: str
    automation_id: str
    trigger: TriggerInfo
    started: float
    finished: float | None = None
    outcome: Outcome = Outcome.RUNNING
    error: str = ""
    caused_by: list[str] = field(default_factory=list)  # automation ids of the causing runs
    conditions: list[TraceStep] = field(default_factory=list)
    actions: list[TraceStep] = field(default_factory=list)
