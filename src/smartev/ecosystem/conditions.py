"""Condition evaluation: whether a condition holds now, and why, in plain words.

Pure reads of a :class:`ConditionView` (the registry's values, how long they held, the zone
tracker, people's phones); the engine supplies the view and records one trace step per top-level
condition with the ``(holds, detail)`` returned here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, tzinfo
from typing import Final, Protocol

from smartev.ecosystem.engine_values import (
    as_number,
    in_range,
    one_of,
    show,
    show_duration,
    show_range,
)
from smartev.ecosystem.geo import distance_m
from smartev.ecosystem.model import (
    AndCondition,
    Condition,
    NotCondition,
    NumericCondition,
    OrCondition,
    PresenceCondition,
    StateCondition,
    TimeCondition,
    TriggerCondition,
    ZoneCondition,
)
from smartev.ecosystem.schedule import in_window
from smartev.spec.devices import Scalar

# A person whose phone is this close to a car counts as being in it (GPS of two devices in the
# same car disagree by a few metres; a car parked beside the house is further than this).
IN_CAR_M: Final = 50.0
PLACE_CAR: Final = "car"
_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConditionView(Protocol):
    """What conditions read; the engine implements it."""

    @property
    def tz(self) -> tzinfo: ...

    def now(self) -> datetime: ...

    def timestamp(self) -> float: ...

    def value(self, device: str, ref: str) -> Scalar | None: ...

    def held_since(self, device: str, ref: str) -> float:
        """The clock timestamp since which the value has not changed (at most the engine's
        start: what happened before is not known)."""
        ...

    def inside(self, device: str, zone: str) -> bool | None:
        """Raises LookupError for an unknown zone."""
        ...

    def position(self, device: str) -> tuple[float, float] | None: ...

    def cars(self) -> list[str]:
        """The devices with a position that are cars."""
        ...

    def phone_of(self, person: str) -> str | None: ...


Result = tuple[bool, str]


def condition_kind(condition: Condition) -> str:
    return _KINDS[type(condition)]


def check(condition: Condition, view: ConditionView, trigger_id: str) -> Result:
    """Whether ``condition`` holds, and a sentence saying why (or why not)."""
    return _CHECKS[type(condition)](condition, view, trigger_id)


def _state(c: StateCondition, view: ConditionView, trigger_id: str) -> Result:
    wanted = " or ".join(show(s) for s in c.states)
    parts: list[str] = []
    for entity in c.entities:
        value = view.value(entity.device, entity.ref)
        if not one_of(value, c.states):
            return False, f"{entity} is {show(value)}, not {wanted}"
        if c.for_s > 0:
            held = view.timestamp() - view.held_since(entity.device, entity.ref)
            if held < c.for_s:
                return False, (
                    f"{entity} is {show(value)} but only for {show_duration(round(held, 3))}, "
                    f"not yet {show_duration(c.for_s)}"
                )
        parts.append(f"{entity} is {show(value)}")
    suffix = f" for at least {show_duration(c.for_s)}" if c.for_s > 0 else ""
    return True, "; ".join(parts) + suffix


def _numeric(c: NumericCondition, view: ConditionView, trigger_id: str) -> Result:
    wanted = show_range(c.above, c.below)
    parts: list[str] = []
    for entity in c.entities:
        value = view.value(entity.device, entity.ref)
        number = as_number(value)
        if number is None:
            return False, f"{entity} is {show(value)}, not a number {wanted}"
        if not in_range(number, c.above, c.below):
            return False, f"{entity} is {show(value)}, not {wanted}"
        parts.append(f"{entity} is {show(value)}, {wanted}")
    return True, "; ".join(parts)


def _show_time(t: time | None) -> str:
    return "" if t is None else t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _time(c: TimeCondition, view: ConditionView, trigger_id: str) -> Result:
    now = view.now()
    holds = in_window(now, c.after, c.before, c.weekdays, view.tz)
    local = now.astimezone(view.tz)
    window = []
    if c.after is not None:
        window.append(f"after {_show_time(c.after)}")
    if c.before is not None:
        window.append(f"before {_show_time(c.before)}")
    if c.weekdays:
        window.append("on " + ", ".join(_WEEKDAYS[d] for d in sorted(c.weekdays)))
    shown = f"it is {local:%H:%M:%S} on {_WEEKDAYS[local.weekday()]}"
    return holds, f"{shown}, {'inside' if holds else 'outside'} {' '.join(window) or 'any time'}"


def _zone(c: ZoneCondition, view: ConditionView, trigger_id: str) -> Result:
    for device in c.devices:
        try:
            inside = view.inside(device, c.zone)
        except LookupError:
            return False, f"there is no zone {c.zone}"
        if inside is None:
            return False, f"the position of {device} is not known"
        if not inside:
            return False, f"{device} is not in {c.zone}"
    return True, f"{', '.join(c.devices)} {'is' if len(c.devices) == 1 else 'are'} in {c.zone}"


def _presence(c: PresenceCondition, view: ConditionView, trigger_id: str) -> Result:
    phone = view.phone_of(c.person)
    if phone is None:
        return False, f"{c.person} has no phone to locate them by"
    where: bool | None
    if c.place == PLACE_CAR:
        where = _in_a_car(phone, view)
        place = "in a car"
    else:
        try:
            where = view.inside(phone, c.place)
        except LookupError:
            return False, f"there is no zone {c.place}"
        place = f"in {c.place}"
    if where is None:
        return False, f"where {c.person} is is not known ({phone} has no position)"
    holds = where == c.present
    return holds, f"{c.person} is {'' if where else 'not '}{place}"


def _in_a_car(phone: str, view: ConditionView) -> bool | None:
    here = view.position(phone)
    if here is None:
        return None
    for car in view.cars():
        there = view.position(car)
        if there is not None and distance_m(here[0], here[1], there[0], there[1]) <= IN_CAR_M:
            return True
    return False


def _trigger(c: TriggerCondition, view: ConditionView, trigger_id: str) -> Result:
    holds = trigger_id in c.ids
    shown = trigger_id or "(no id)"
    return holds, f"the trigger was {shown}, {'one' if holds else 'not one'} of {', '.join(c.ids)}"


def _and(c: AndCondition, view: ConditionView, trigger_id: str) -> Result:
    details = []
    for inner in c.conditions:
        holds, detail = check(inner, view, trigger_id)
        if not holds:
            return False, detail
        details.append(detail)
    return True, "; ".join(details)


def _or(c: OrCondition, view: ConditionView, trigger_id: str) -> Result:
    details = []
    for inner in c.conditions:
        holds, detail = check(inner, view, trigger_id)
        if holds:
            return True, detail
        details.append(detail)
    return False, "none held: " + "; ".join(details)


def _not(c: NotCondition, view: ConditionView, trigger_id: str) -> Result:
    for inner in c.conditions:
        holds, detail = check(inner, view, trigger_id)
        if holds:
            return False, f"it should not be so, but {detail}"
    return True, "none of them held"


_KINDS: Final[dict[type, str]] = {
    StateCondition: "state",
    NumericCondition: "numeric_state",
    TimeCondition: "time",
    ZoneCondition: "zone",
    PresenceCondition: "presence",
    TriggerCondition: "trigger",
    AndCondition: "and",
    OrCondition: "or",
    NotCondition: "not",
}

_CHECKS: Final[dict[type, Callable[..., Result]]] = {
    StateCondition: _state,
    NumericCondition: _numeric,
    TimeCondition: _time,
    ZoneCondition: _zone,
    PresenceCondition: _presence,
    TriggerCondition: _trigger,
    AndCondition: _and,
    OrCondition: _or,
    NotCondition: _not,
}
