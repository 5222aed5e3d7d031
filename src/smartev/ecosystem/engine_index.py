"""The trigger index: each happening goes only to the watchers it can concern, so dispatch costs
the number of triggers on that entity, not the number of automations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from smartev.ecosystem.model import (
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
from smartev.ecosystem.triggers import (
    EtaWatch,
    EventWatch,
    Fire,
    NumericWatch,
    StateWatch,
    Timers,
    TimeWatch,
    Unsubscribe,
    Watch,
    ZoneWatch,
)
from smartev.spec.devices import Scalar

PropertyWatch = StateWatch | NumericWatch


def _add(table: dict[Any, list[Any]], key: object, watch: object) -> None:
    table.setdefault(key, []).append(watch)


def _remove(table: dict[Any, list[Any]], key: object, watch: object) -> None:
    watches = table.get(key)
    if watches is None:
        return
    # By identity: two watchers of equal triggers are still two watchers.
    for i, w in enumerate(watches):
        if w is watch:
            del watches[i]
            break
    if not watches:
        del table[key]


class TriggerIndex:
    """Watchers by what can fire them: (device, ref) for property triggers, (device, event) for
    event triggers, the device for zone and ETA triggers. Time watchers sit in a set that the
    time planner reads; ``times_changed`` tells it to plan again."""

    def __init__(
        self,
        timers: Timers,
        value: Callable[[str, str], Scalar | None],
        inside: Callable[[str, str], bool | None],
    ) -> None:
        self._timers = timers
        self._value = value
        self._inside = inside
        self.properties: dict[tuple[str, str], list[PropertyWatch]] = {}
        self.events: dict[tuple[str, str], list[EventWatch]] = {}
        self.zones: dict[str, list[ZoneWatch]] = {}
        self.etas: dict[str, list[EtaWatch]] = {}
        self.times: list[TimeWatch] = []
        self.times_changed: Callable[[], None] = lambda: None

    def add(self, trigger: Trigger, fire: Fire) -> Unsubscribe:
        """Start watching for ``trigger``; the returned function stops it (and its timers)."""
        entries: list[tuple[dict[Any, list[Any]], object, Watch]] = []
        match trigger:
            case StateTrigger():
                for entity in trigger.entities:
                    watch: Watch = StateWatch(trigger, entity, fire, self._timers)
                    entries.append((self.properties, (entity.device, entity.ref), watch))
            case NumericTrigger():
                for entity in trigger.entities:
                    current = self._value(entity.device, entity.ref)
                    watch = NumericWatch(trigger, entity, fire, self._timers, current)
                    entries.append((self.properties, (entity.device, entity.ref), watch))
            case EventTrigger():
                key = (trigger.device, trigger.event)
                entries.append((self.events, key, EventWatch(trigger, fire)))
            case ZoneTrigger():
                for device in trigger.devices:
                    entries.append((self.zones, device, ZoneWatch(trigger, device, fire)))
            case EtaTrigger():
                for device in trigger.devices:
                    inside = self._known_inside(device, trigger.zone)
                    entries.append((self.etas, device, EtaWatch(trigger, device, fire, inside)))
            case TimeTrigger():
                time_watch = TimeWatch(trigger, fire)
                self.times.append(time_watch)
                self.times_changed()

                def stop_time() -> None:
                    if time_watch in self.times:
                        self.times.remove(time_watch)
                        self.times_changed()

                return stop_time
        for table, where, watch in entries:
            _add(table, where, watch)

        def stop() -> None:
            for table, where, watch in entries:
                watch.cancel()
                _remove(table, where, watch)

        return stop

    def _known_inside(self, device: str, zone: str) -> bool | None:
        try:
            return self._inside(device, zone)
        except LookupError:  # the zone is not (yet) defined: nothing is inside it
            return None

    # --- dispatch ---

    def property_changed(self, change: PropertyChange) -> None:
        watches = self.properties.get((change.device, change.ref))
        if watches:
            for watch in tuple(watches) if len(watches) > 1 else watches:
                watch.changed(change)

    def event_fired(self, event: DeviceEvent) -> None:
        watches = self.events.get((event.device, event.ref))
        if watches:
            for watch in tuple(watches):
                watch.fired(event)

    def zone_crossed(
        self, device: str, zone: str, event: ZoneEvent, ts: float, context: RunContext | None
    ) -> None:
        for watch in tuple(self.zones.get(device, ())):
            watch.crossed(zone, event, ts, context)

    def eta_estimated(
        self,
        device: str,
        eta_s: Callable[[str], float | None],
        ts: float,
        context: RunContext | None,
    ) -> None:
        for watch in tuple(self.etas.get(device, ())):
            zone = watch.trigger.zone
            watch.estimated(eta_s(zone), self._known_inside(device, zone), ts, context)

    def wants_eta(self, device: str) -> bool:
        return device in self.etas

    def time_due(self, watches: list[TimeWatch], local: datetime, ts: float) -> None:
        for watch in watches:
            watch.due(local, ts)
