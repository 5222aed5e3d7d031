"""Trigger watchers: which property change, device event, zone crossing, ETA or time of day
starts a run (the index in ``engine_index.py`` hands each happening to its watchers).

One watcher per (trigger, entity). A watcher keeps what it needs to fire on a *crossing* (the
numeric and ETA triggers' armed flag) and its pending ``for:`` timer; it calls ``fire`` with a
:class:`TriggerInfo` and the context of the happening that caused it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, Generic, TypeVar

from smartev.core.clock import Clock
from smartev.ecosystem.engine_values import (
    as_number,
    in_range,
    one_of,
    same_value,
    show,
    show_duration,
    show_range,
)
from smartev.ecosystem.model import (
    Entity,
    EtaTrigger,
    EventTrigger,
    NumericTrigger,
    StateTrigger,
    TimeTrigger,
    Trigger,
    ZoneEvent,
    ZoneTrigger,
)
from smartev.ecosystem.registry import DeviceEvent, PropertyChange, RunContext
from smartev.ecosystem.trace import TriggerInfo
from smartev.spec.devices import Scalar

Fire = Callable[[TriggerInfo, RunContext | None], None]
Unsubscribe = Callable[[], None]

# An ETA trigger re-arms once the ETA rises this far above its threshold, so an estimate that
# wobbles around the threshold (traffic lights) does not fire over and over.
ETA_REARM_MARGIN_S = 120.0

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def trigger_kind(trigger: Trigger) -> str:
    """The trigger's name in the language (``state``, ``numeric_state``, …)."""
    return _KINDS[type(trigger)]


_KINDS: dict[type, str] = {
    StateTrigger: "state",
    NumericTrigger: "numeric_state",
    ZoneTrigger: "zone",
    EtaTrigger: "eta",
    TimeTrigger: "time",
    EventTrigger: "event",
}


class Timers:
    """Callbacks after a delay of clock time, one task each; what ``for:`` durations wait on."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, seconds: float, callback: Callable[[], None]) -> asyncio.Task[None]:
        # The deadline is fixed now, not when the task first runs: the clock may move between.
        deadline = self._clock.timestamp() + seconds
        task = asyncio.get_running_loop().create_task(self._wait(deadline, callback))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _wait(self, deadline: float, callback: Callable[[], None]) -> None:
        await self._clock.sleep(deadline - self._clock.timestamp())
        callback()

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()


# --- watchers ---------------------------------------------------------------------------------


_PropertyTrigger = TypeVar("_PropertyTrigger", bound=StateTrigger | NumericTrigger)


class _PropertyWatch(Generic[_PropertyTrigger]):
    """What the state and numeric_state watchers share: firing on a matching change at once,
    or, with ``for:``, once the value held that long (a pending timer the next change ends)."""

    __slots__ = ("_fire", "_pending", "_timers", "entity", "trigger")
    _KIND: ClassVar[str]  # the trigger's kind in TriggerInfo

    def __init__(
        self, trigger: _PropertyTrigger, entity: Entity, fire: Fire, timers: Timers
    ) -> None:
        self.trigger = trigger
        self.entity = entity
        self._fire = fire
        self._timers = timers
        self._pending: asyncio.Task[None] | None = None

    def _matched(self, change: PropertyChange, description: str) -> None:
        trigger = self.trigger
        info = TriggerInfo(
            trigger.where.path,
            self._KIND,
            trigger.id,
            description,
            device=change.device,
            ref=change.ref,
            from_value=change.old,
            to_value=change.value,
            ts=change.ts,
        )
        if trigger.for_s <= 0:
            self._fire(info, change.context)
        else:
            self._pending = self._timers.start(trigger.for_s, lambda: self._held(info, change))

    def _held(self, info: TriggerInfo, change: PropertyChange) -> None:
        self._pending = None
        info.ts = change.ts + self.trigger.for_s
        self._fire(info, change.context)

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


class StateWatch(_PropertyWatch[StateTrigger]):
    """A state trigger on one entity: fires when the value changes as asked (and holds)."""

    __slots__ = ()
    _KIND = "state"

    def changed(self, change: PropertyChange) -> None:
        # Any change ends a pending ``for:`` (the value did not hold); the change itself may
        # start a new one.
        self.cancel()
        trigger = self.trigger
        if change.value is None:
            return  # became unknown: never a match (the language has no "to: unknown")
        if trigger.from_values and not one_of(change.old, trigger.from_values):
            return
        if trigger.to_values and not one_of(change.value, trigger.to_values):
            return
        description = f"{self.entity} changed from {show(change.old)} to {show(change.value)}"
        if trigger.for_s > 0:
            description += f" and stayed so for {show_duration(trigger.for_s)}"
        self._matched(change, description)


class NumericWatch(_PropertyWatch[NumericTrigger]):
    """A numeric_state trigger on one entity: fires on the crossing into the range.

    ``armed`` is True while the value is outside the range (or unknown): only an armed watcher
    fires, and firing disarms it until the value leaves the range again. A watcher starts armed
    unless the value is already inside when the automation is loaded, so a value that first
    appears inside the range fires, and loading an automation whose condition already holds
    does not (Home Assistant's behaviour).
    """

    __slots__ = ("armed",)
    _KIND = "numeric_state"

    def __init__(
        self,
        trigger: NumericTrigger,
        entity: Entity,
        fire: Fire,
        timers: Timers,
        current: Scalar | None,
    ) -> None:
        super().__init__(trigger, entity, fire, timers)
        self.armed = not self._inside(current)

    def _inside(self, value: Scalar | None) -> bool:
        number = as_number(value)
        return number is not None and in_range(number, self.trigger.above, self.trigger.below)

    def changed(self, change: PropertyChange) -> None:
        if not self._inside(change.value):
            self.armed = True
            self.cancel()
            return
        if not self.armed:
            return  # still inside: no new crossing
        self.armed = False
        trigger = self.trigger
        description = (
            f"{self.entity} went from {show(change.old)} to {show(change.value)}, "
            f"{show_range(trigger.above, trigger.below)}"
        )
        if trigger.for_s > 0:
            description += f", and stayed so for {show_duration(trigger.for_s)}"
        self._matched(change, description)


class EventWatch:
    __slots__ = ("_fire", "trigger")

    def __init__(self, trigger: EventTrigger, fire: Fire) -> None:
        self.trigger = trigger
        self._fire = fire

    def fired(self, event: DeviceEvent) -> None:
        args = event.args
        for name, expected in self.trigger.data.items():
            if name not in args or not same_value(args[name], expected):
                return
        shown = ", ".join(f"{k}={show(v)}" for k, v in args.items())
        description = f"{event.device} fired {event.ref}" + (f" ({shown})" if shown else "")
        info = TriggerInfo(
            self.trigger.where.path,
            "event",
            self.trigger.id,
            description,
            device=event.device,
            ref=event.ref,
            ts=event.ts,
        )
        self._fire(info, event.context)

    def cancel(self) -> None:
        pass


class ZoneWatch:
    __slots__ = ("_fire", "device", "trigger")

    def __init__(self, trigger: ZoneTrigger, device: str, fire: Fire) -> None:
        self.trigger = trigger
        self.device = device
        self._fire = fire

    def crossed(self, zone: str, event: ZoneEvent, ts: float, context: RunContext | None) -> None:
        if zone != self.trigger.zone or event != self.trigger.event:
            return
        verb = "entered" if event is ZoneEvent.ENTER else "left"
        info = TriggerInfo(
            self.trigger.where.path,
            "zone",
            self.trigger.id,
            f"{self.device} {verb} {zone}",
            device=self.device,
            ts=ts,
        )
        self._fire(info, context)

    def cancel(self) -> None:
        pass


class EtaWatch:
    """An ETA trigger on one device: fires when the ETA to the zone drops below the threshold;
    re-arms when the ETA rises above threshold + :data:`ETA_REARM_MARGIN_S`, when the device
    arrives in the zone, or when there is no estimate (parked, driving away). It starts armed
    unless the device is inside the zone."""

    __slots__ = ("_fire", "armed", "device", "trigger")

    def __init__(self, trigger: EtaTrigger, device: str, fire: Fire, inside: bool | None) -> None:
        self.trigger = trigger
        self.device = device
        self._fire = fire
        self.armed = inside is not True

    def estimated(
        self, eta_s: float | None, inside: bool | None, ts: float, context: RunContext | None
    ) -> None:
        if inside:
            self.armed = True
            return
        if eta_s is None:
            # No estimate: parked (standing for minutes) or driving away; either way the
            # next approach is a new one.
            self.armed = True
            return
        below_s = self.trigger.below_min * 60.0
        if eta_s >= below_s:
            if eta_s > below_s + ETA_REARM_MARGIN_S:
                self.armed = True
            return
        if not self.armed:
            return
        self.armed = False
        info = TriggerInfo(
            self.trigger.where.path,
            "eta",
            self.trigger.id,
            f"{self.device} is {eta_s / 60.0:.1f} min from {self.trigger.zone} "
            f"(below {self.trigger.below_min:g} min)",
            device=self.device,
            ts=ts,
        )
        self._fire(info, context)

    def cancel(self) -> None:
        pass


class TimeWatch:
    __slots__ = ("_fire", "trigger")

    def __init__(self, trigger: TimeTrigger, fire: Fire) -> None:
        self.trigger = trigger
        self._fire = fire

    def due(self, local: datetime, ts: float) -> None:
        info = TriggerInfo(
            self.trigger.where.path,
            "time",
            self.trigger.id,
            f"it is {local:%H:%M:%S} on {_WEEKDAYS[local.weekday()]}",
            ts=ts,
        )
        self._fire(info, None)

    def cancel(self) -> None:
        pass


Watch = StateWatch | NumericWatch | EventWatch | ZoneWatch | EtaWatch | TimeWatch
