"""An automation as checked data: its triggers, conditions and actions (Home Assistant's shape).

The YAML parser (``automation_yaml.py``) builds these; the engine (``engine.py``) runs them.
Every element keeps the ``path`` (``triggers/0``, ``actions/2/then/0``) and ``line`` it came
from, so errors and traces point at the text the person wrote.

Entities are ``<device>/<service>.<name>`` refs split into ``device`` and ``ref``; triggers and
conditions about where a device is (zone, ETA) name the device alone (``car:VIN``, ``phone:ana``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import TypeAlias

from smartev.spec.devices import Scalar


class Mode(StrEnum):
    """What a new trigger does while a run is going (Home Assistant's modes)."""

    SINGLE = "single"  # ignored (the trace says so)
    RESTART = "restart"  # the running one is stopped, a new one starts
    QUEUED = "queued"  # runs after the others, up to ``max`` waiting
    PARALLEL = "parallel"  # runs beside the others, up to ``max`` at once


class ZoneEvent(StrEnum):
    ENTER = "enter"
    LEAVE = "leave"


@dataclass(frozen=True, slots=True)
class Where:
    """Where an element was written: its path in the automation and its line (1-based)."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Entity:
    device: str  # "light:hall"
    ref: str  # "light.on"

    def __str__(self) -> str:
        return f"{self.device}/{self.ref}"


# --- triggers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateTrigger:
    """A property changes (from one of ``from_values``, to one of ``to_values``; empty: any)
    and stays so for ``for_s`` seconds."""

    where: Where
    entities: tuple[Entity, ...]
    from_values: tuple[Scalar, ...] = ()
    to_values: tuple[Scalar, ...] = ()
    for_s: float = 0.0
    id: str = ""


@dataclass(frozen=True, slots=True)
class NumericTrigger:
    """A number crosses into ``above < value < below`` (either bound optional) and stays there
    for ``for_s`` seconds; it fires on the crossing, not on every update inside the range."""

    where: Where
    entities: tuple[Entity, ...]
    above: float | None = None
    below: float | None = None
    for_s: float = 0.0
    id: str = ""


@dataclass(frozen=True, slots=True)
class ZoneTrigger:
    """A device with a position (the car, a phone) enters or leaves a zone."""

    where: Where
    devices: tuple[str, ...]
    zone: str
    event: ZoneEvent = ZoneEvent.ENTER
    id: str = ""


@dataclass(frozen=True, slots=True)
class EtaTrigger:
    """The estimated time of arrival of a device at a zone falls below ``below_min`` minutes."""

    where: Where
    devices: tuple[str, ...]
    zone: str
    below_min: float
    id: str = ""


@dataclass(frozen=True, slots=True)
class TimeTrigger:
    """A time of day in the home's time zone, on the given weekdays (0 = Monday; empty: all)."""

    where: Where
    at: tuple[time, ...]
    weekdays: frozenset[int] = frozenset()
    id: str = ""


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """A device fires an event (``car:VIN`` ``car.plugged_in``), optionally with matching
    arguments."""

    where: Where
    device: str
    event: str
    data: Mapping[str, Scalar] = field(default_factory=dict)
    id: str = ""


Trigger: TypeAlias = (
    StateTrigger | NumericTrigger | ZoneTrigger | EtaTrigger | TimeTrigger | EventTrigger
)

# --- conditions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateCondition:
    where: Where
    entities: tuple[Entity, ...]  # all must hold
    states: tuple[Scalar, ...]  # one of these
    for_s: float = 0.0


@dataclass(frozen=True, slots=True)
class NumericCondition:
    where: Where
    entities: tuple[Entity, ...]
    above: float | None = None
    below: float | None = None


@dataclass(frozen=True, slots=True)
class TimeCondition:
    """Inside ``after``..``before`` (local time; wraps past midnight when after > before) on
    the given weekdays."""

    where: Where
    after: time | None = None
    before: time | None = None
    weekdays: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class ZoneCondition:
    where: Where
    devices: tuple[str, ...]
    zone: str


@dataclass(frozen=True, slots=True)
class PresenceCondition:
    """A person is (or, with ``present=False``, is not) at a place: ``car`` (in the car) or a
    zone name such as ``home``."""

    where: Where
    person: str
    place: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class TriggerCondition:
    """The run was started by a trigger with one of these ids."""

    where: Where
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AndCondition:
    where: Where
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class OrCondition:
    where: Where
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NotCondition:
    """None of the conditions holds."""

    where: Where
    conditions: tuple[Condition, ...]


Condition: TypeAlias = (
    StateCondition
    | NumericCondition
    | TimeCondition
    | ZoneCondition
    | PresenceCondition
    | TriggerCondition
    | AndCondition
    | OrCondition
    | NotCondition
)

# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceAction:
    """Call an action of a device. On the car this is a remote command (``door.lock``,
    ``hvac.set``), sent through the signed-command path with the household's service key."""

    where: Where
    device: str
    action: str
    data: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetAction:
    """Write properties of a device (``thermostat.target_temperature: 22``)."""

    where: Where
    device: str
    values: Mapping[str, Scalar]


@dataclass(frozen=True, slots=True)
class NotifyAction:
    where: Where
    to: tuple[str, ...]  # person ids or e-mails, resolved by the notifier
    message: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class DelayAction:
    where: Where
    seconds: float


@dataclass(frozen=True, slots=True)
class WaitForTriggerAction:
    where: Where
    triggers: tuple[Trigger, ...]
    timeout_s: float | None = None
    continue_on_timeout: bool = True


@dataclass(frozen=True, slots=True)
class SceneAction:
    where: Where
    scene: str


@dataclass(frozen=True, slots=True)
class IfAction:
    where: Where
    conditions: tuple[Condition, ...]
    then: tuple[Action, ...]
    otherwise: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionAction:
    """Stop the run here (outcome ``condition_failed``) unless the condition holds."""

    where: Where
    condition: Condition


@dataclass(frozen=True, slots=True)
class StopAction:
    where: Where
    reason: str = ""


Action: TypeAlias = (
    DeviceAction
    | SetAction
    | NotifyAction
    | DelayAction
    | WaitForTriggerAction
    | SceneAction
    | IfAction
    | ConditionAction
    | StopAction
)

# --- automations and scenes -------------------------------------------------------------------

DEFAULT_MAX_RUNS = 10


@dataclass(frozen=True, slots=True)
class Automation:
    id: str
    alias: str
    triggers: tuple[Trigger, ...]
    conditions: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = ()
    mode: Mode = Mode.SINGLE
    max_runs: int = DEFAULT_MAX_RUNS
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Scene:
    """A named set of property values applied together (Home Assistant's scenes)."""

    name: str
    values: Mapping[str, Mapping[str, Scalar]]  # device → ref → value
    description: str = ""
