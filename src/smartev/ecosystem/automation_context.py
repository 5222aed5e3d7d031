"""The household an automation is checked against (devices, zones, scenes, people), and the reads
that resolve names in it: devices, entities, actions, events, durations, times and weekdays."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Final, TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from smartev.ecosystem.model import Entity
from smartev.ecosystem.yaml_nodes import NodeReader, describe, items_of, join
from smartev.spec.devices import (
    DEVICE_ID,
    ActionSpec,
    DeviceSpec,
    EventSpec,
    PropertySpec,
    Scalar,
)
from smartev.spec.errors import InvalidValueError, show_value

# Devices whose position is known, so zone and ETA rules can apply to them.
PHONE_KIND: Final = "phone"  # a person's phone is the device phone:<person>
POSITIONED_KINDS: Final = frozenset({"car", PHONE_KIND})
PLACE_CAR: Final = "car"  # presence ``at: car``: the person is in the car
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DURATION_S: Final = 7 * 24 * 3600.0
DURATION_UNITS: Final = {
    "days": 86400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
    "milliseconds": 0.001,
}

_CLOCK: Final = re.compile(r"([0-9]{1,3}):([0-9]{1,2})(?::([0-9]{1,2}(?:\.[0-9]+)?))?")
_SECONDS: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TIME: Final = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
# Notifications go to a person of the household or straight to an e-mail address.
_YAML11_BOOLS: Final = frozenset({"on", "off", "yes", "no", "y", "n"})
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class AutomationContext:
    """What of a household an automation may name (``devices`` from DeviceRegistry.specs())."""

    devices: Mapping[str, DeviceSpec]
    zones: Collection[str] = ()
    scenes: Collection[str] = ()
    people: Collection[str] = ()


def known_list(name: str, known: Collection[str], what: str) -> str:
    """`` (did you mean 'x'?); <what>: a, b, c`` for an error message about ``name``."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    shown = ", ".join(names[:12])
    if len(names) > 12:
        shown += f", … ({len(names)} in all)"
    return f"{hint}; {what}: {shown or 'none'}"


def yaml11_hint(prop: PropertySpec, value: Scalar) -> str:
    """Why ``on``/``yes`` is not a boolean here: YAML 1.2 booleans are only true and false."""
    if prop.format == "bool" and isinstance(value, str) and value.lower() in _YAML11_BOOLS:
        return f" ({value} is text here; write true or false)"
    return ""


class AutomationReader(NodeReader):
    """Node reads that resolve the household's names; failures become problems."""

    def __init__(self, context: AutomationContext) -> None:
        super().__init__()
        self.context = context
        # The ids the automation's triggers declare, for ``condition: trigger``.
        self.trigger_ids: frozenset[str] = frozenset()

    # --- names of the household ---------------------------------------------------------------

    def device(self, node: Node, path: str) -> tuple[str, DeviceSpec] | None:
        device_id = self.text(node, path)
        if device_id is None:
            return None
        return self.device_named(device_id, node, path)

    def device_named(self, device_id: str, node: Node, path: str) -> tuple[str, DeviceSpec] | None:
        spec = self.context.devices.get(device_id)
        if spec is None:
            if not DEVICE_ID.fullmatch(device_id):
                shape = " (a device id is <kind>:<id>, like light:hall)"
            else:
                shape = ""
            listing = known_list(device_id, self.context.devices, "devices")
            self.fail(node, path, f"unknown device {show_value(device_id)}{shape}{listing}")
            return None
        return device_id, spec

    def positioned_devices(self, node: Node, path: str) -> tuple[str, ...] | None:
        """Device ids (one or a list) of devices with a position (the car, phones)."""
        out: list[str] = []
        items = self.text_items(node, path)
        for device_id, item, item_path in items:
            found = self.device_named(device_id, item, item_path)
            if found is None:
                continue
            if device_id.partition(":")[0] not in POSITIONED_KINDS:
                kinds = " or ".join(sorted(POSITIONED_KINDS))
                self.fail(
                    item,
                    item_path,
                    f"{device_id} has no position; zone and ETA rules need a "
                    f"device of kind {kinds}",
                )
                continue
            out.append(device_id)
        if not items or len(out) != len(items):
            return None
        return tuple(out)

    def entities(
        self, node: Node, path: str, *, numeric: bool = False
    ) -> list[tuple[Entity, PropertySpec, Node]] | None:
        """``<device>/<service>.<name>`` refs (one or a list) with their property specs."""
        out: list[tuple[Entity, PropertySpec, Node]] = []
        items = self.text_items(node, path)
        for ref, item, item_path in items:
            device_id, sep, member = ref.partition("/")
            if not sep or not member:
                self.fail(
                    item,
                    item_path,
                    f"{show_value(ref)} is not <device>/<service>.<name> "
                    "(like light:hall/light.on)",
                )
                continue
            found = self.device_named(device_id, item, item_path)
            if found is None:
                continue
            spec = found[1]
            prop = spec.properties.get(member)
            if prop is None:
                listing = known_list(member, spec.properties, "its properties")
                self.fail(
                    item, item_path, f"{device_id} has no property {show_value(member)}{listing}"
                )
                continue
            if numeric and prop.format not in ("int", "float"):
                self.fail(
                    item,
                    item_path,
                    f"{ref} is {prop.format}, not a number; use a state "
                    "trigger or condition for it",
                )
                continue
            out.append((Entity(device_id, member), prop, item))
        if not items or len(out) != len(items):
            return None
        return out

    def action_spec(
        self, node: Node, path: str, device_id: str, spec: DeviceSpec
    ) -> ActionSpec | None:
        ref = self.text(node, path)
        if ref is None:
            return None
        action = spec.actions.get(ref)
        if action is None:
            listing = known_list(ref, spec.actions, "its actions")
            self.fail(node, path, f"{device_id} has no action {show_value(ref)}{listing}")
        return action

    def event_spec(
        self, node: Node, path: str, device_id: str, spec: DeviceSpec
    ) -> EventSpec | None:
        ref = self.text(node, path)
        if ref is None:
            return None
        event = spec.events.get(ref)
        if event is None:
            listing = known_list(ref, spec.events, "its events")
            self.fail(node, path, f"{device_id} has no event {show_value(ref)}{listing}")
        return event

    def named(self, node: Node, path: str, known: Collection[str], what: str) -> str | None:
        """A zone, scene or person name of the household."""
        name = self.text(node, path)
        if name is None:
            return None
        if name not in known:
            plural = "people" if what == "person" else f"{what}s"
            listing = known_list(name, known, f"the household's {plural}")
            self.fail(node, path, f"unknown {what} {show_value(name)}{listing}")
            return None
        return name

    def recipients(self, node: Node, path: str) -> tuple[str, ...] | None:
        out: list[str] = []
        items = self.text_items(node, path)
        for name, item, item_path in items:
            if name in self.context.people or _EMAIL.fullmatch(name):
                out.append(name)
            else:
                listing = known_list(name, self.context.people, "the household's people")
                self.fail(
                    item,
                    item_path,
                    f"unknown person {show_value(name)} (a person id or an "
                    f"e-mail address){listing}",
                )
        if not items or len(out) != len(items):
            return None
        return tuple(out)

    def value_for(self, node: Node, path: str, prop: PropertySpec, label: str) -> Scalar | None:
        """The value in the property's canonical type, or a problem naming the spec's rule."""
        value = self.scalar(node, path)
        if value is None:
            return None
        try:
            return prop.validate(value, label)
        except InvalidValueError as exc:
            self.fail(node, path, str(exc) + yaml11_hint(prop, value))
            return None

    def typed_args(
        self,
        node: Node,
        path: str,
        specs: tuple[PropertySpec, ...],
        *,
        unknown: str,
        label: str,
    ) -> dict[str, Scalar] | None:
        """A ``data:`` mapping of named values, each checked against its spec (an action's
        inputs, an event's arguments). ``unknown`` is the problem for a name not in ``specs``,
        with ``{name}`` and ``{known}``; ``label`` names a value in a refusal."""
        by_name = {spec.name: spec for spec in specs}
        pairs = self.pairs(node, path, "data")
        if pairs is None:
            return None
        out: dict[str, Scalar] = {}
        ok = True
        for name, key_node, value_node in pairs:
            arg_path = join(path, name)
            spec = by_name.get(name)
            if spec is None:
                known = ", ".join(by_name) or "none"
                self.fail(key_node, arg_path, unknown.format(name=repr(name), known=known))
                ok = False
                continue
            value = self.value_for(value_node, arg_path, spec, f"{label} {name}")
            if value is None:
                ok = False
            else:
                out[name] = value
        return out if ok else None

    # --- durations, times of day, weekdays ----------------------------------------------------

    def duration(self, node: Node, path: str) -> float | None:
        """Seconds from ``"HH:MM:SS"``/``"HH:MM"``/``"SS"``, a number, or a unit mapping."""
        if isinstance(node, MappingNode):
            seconds = self._duration_mapping(node, path)
        else:
            value = self.scalar(node, path)
            if value is None:
                return None
            seconds = self._duration_value(value)
            if seconds is None:
                self.fail(
                    node,
                    path,
                    f'{show_value(value)} is not a duration; write "HH:MM:SS", '
                    '"HH:MM", a number of seconds, or {minutes: 5}',
                )
                return None
        if seconds is None:
            return None
        if seconds > MAX_DURATION_S:
            self.fail(node, path, f"a duration is at most 7 days, not {seconds:g} s")
            return None
        return seconds

    @staticmethod
    def _duration_value(value: object) -> float | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value) if value >= 0 else None
        if not isinstance(value, str):
            return None
        if _SECONDS.fullmatch(value):
            return float(value)
        match = _CLOCK.fullmatch(value)
        if match is None:
            return None
        hours, minutes, seconds = match.groups()
        if int(minutes) >= 60 or (seconds is not None and float(seconds) >= 60):
            return None
        return int(hours) * 3600.0 + int(minutes) * 60.0 + float(seconds or 0)

    def _duration_mapping(self, node: Node, path: str) -> float | None:
        fields = self.mapping(node, path, "a duration", optional=tuple(DURATION_UNITS))
        if fields is None:
            return None
        if not fields:
            units = ", ".join(DURATION_UNITS)
            self.fail(node, path, f"a duration mapping needs at least one of {units}")
            return None
        total = 0.0
        ok = True
        for unit, value_node in fields.items():
            amount = self.number(value_node, join(path, unit))
            if amount is None:
                ok = False
            elif amount < 0:
                self.fail(value_node, join(path, unit), f"{unit} must be ≥ 0, not {amount:g}")
                ok = False
            else:
                total += amount * DURATION_UNITS[unit]
        return total if ok else None

    def time_of_day(self, node: Node, path: str) -> time | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        match = _TIME.fullmatch(value) if isinstance(value, str) else None
        if match is not None:
            hour, minute, second = (int(g or 0) for g in match.groups())
            if hour <= 23 and minute <= 59 and second <= 59:
                return time(hour, minute, second)
        self.fail(
            node,
            path,
            f'{show_value(value)} is not a time of day; write "HH:MM" or '
            '"HH:MM:SS" between 00:00 and 23:59:59',
        )
        return None

    def times_of_day(self, node: Node, path: str) -> tuple[time, ...] | None:
        out: list[time] = []
        ok = True
        if isinstance(node, MappingNode) or (isinstance(node, SequenceNode) and not node.value):
            self.fail(node, path, f"expected a time of day or a list of them, not {describe(node)}")
            return None
        for i, item in items_of(node):
            at = self.time_of_day(item, join(path, i) if item is not node else path)
            if at is None:
                ok = False
            else:
                out.append(at)
        return tuple(out) if ok else None

    def weekdays(self, node: Node, path: str) -> frozenset[int] | None:
        days: set[int] = set()
        ok = True
        for name, item, item_path in self.text_items(node, path):
            if name.lower() in WEEKDAYS:
                days.add(WEEKDAYS.index(name.lower()))
            else:
                self.fail(
                    item,
                    item_path,
                    f"{show_value(name)} is not a weekday; use {', '.join(WEEKDAYS)}",
                )
                ok = False
        return frozenset(days) if ok and days else None


T = TypeVar("T")


def read_items(
    r: AutomationReader,
    node: Node,
    path: str,
    what: str,
    read_one: Callable[[AutomationReader, Node, str], T | None],
    *,
    allow_empty: bool,
) -> tuple[T, ...] | None:
    """A list of ``what`` (one mapping counts as a list of one), each read by ``read_one``;
    ``None`` if any is bad (every bad one is reported)."""
    if isinstance(node, ScalarNode) or (
        isinstance(node, SequenceNode) and not node.value and not allow_empty
    ):
        r.fail(node, path, f"expected a non-empty list of {what}, not {describe(node)}")
        return None
    out: list[T] = []
    ok = True
    for i, item in items_of(node):
        one = read_one(r, item, join(path, i))
        if one is None:
            ok = False
        else:
            out.append(one)
    return tuple(out) if ok else None
