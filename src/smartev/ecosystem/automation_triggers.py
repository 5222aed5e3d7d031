"""Triggers from YAML nodes: state, numeric_state, zone, eta, time and event (also the triggers
of ``wait_for_trigger``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Final

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from smartev.ecosystem.automation_context import AutomationReader, yaml11_hint
from smartev.ecosystem.model import (
    Entity,
    EtaTrigger,
    EventTrigger,
    NumericTrigger,
    StateTrigger,
    TimeTrigger,
    Trigger,
    Where,
    ZoneEvent,
    ZoneTrigger,
)
from smartev.ecosystem.yaml_nodes import describe, items_of, join, line_of
from smartev.spec.devices import PropertySpec, Scalar
from smartev.spec.errors import InvalidValueError, show_value

MAX_TRIGGERS: Final = 50
MAX_ETA_MIN: Final = 1440.0


def read_triggers(r: AutomationReader, node: Node, path: str) -> tuple[Trigger, ...]:
    """A list of 1..50 triggers (one mapping counts as a list of one)."""
    if (isinstance(node, SequenceNode) and not node.value) or isinstance(node, ScalarNode):
        r.fail(node, path, f"expected a list of 1..{MAX_TRIGGERS} triggers, not {describe(node)}")
        return ()
    if isinstance(node, SequenceNode) and len(node.value) > MAX_TRIGGERS:
        r.fail(node, path, f"at most {MAX_TRIGGERS} triggers, not {len(node.value)}")
    out: list[Trigger] = []
    for i, item in items_of(node):
        trigger = read_trigger(r, item, join(path, i))
        if trigger is not None:
            out.append(trigger)
    return tuple(out)


def kind_of(
    r: AutomationReader, node: Node, path: str, key: str, kinds: tuple[str, ...]
) -> str | None:
    """The value of the key that says which kind a mapping is (``trigger: state``)."""
    if not isinstance(node, MappingNode):
        r.fail(
            node, path, f"expected a mapping with {key}: ({'|'.join(kinds)}), not {describe(node)}"
        )
        return None
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return r.choice(value, join(path, key), kinds)
    r.fail(node, path, f"missing key {key!r}: one of {', '.join(kinds)}")
    return None


def read_trigger(r: AutomationReader, node: Node, path: str) -> Trigger | None:
    kind = kind_of(r, node, path, "trigger", tuple(_READERS))
    if kind is None:
        return None
    required, optional, build = _READERS[kind]
    fields = r.mapping(
        node, path, f"a {kind} trigger", required=("trigger", *required), optional=(*optional, "id")
    )
    if fields is None or any(k not in fields for k in required):
        return None
    trigger_id = _trigger_id(r, fields, path)
    trigger = build(r, fields, path, Where(path, line_of(node)))
    if trigger is None or trigger_id is None:
        return None
    return _with_id(trigger, trigger_id)


def _trigger_id(r: AutomationReader, fields: dict[str, Node], path: str) -> str | None:
    node = fields.get("id")
    if node is None:
        return ""
    value = r.scalar(node, join(path, "id"))
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        if value is not None:
            r.fail(node, join(path, "id"), f"a trigger id is a name, not {show_value(value)}")
        return None
    return str(value)


def _with_id(trigger: Trigger, trigger_id: str) -> Trigger:
    return dataclasses.replace(trigger, id=trigger_id)


def property_values(
    r: AutomationReader,
    node: Node,
    path: str,
    entities: list[tuple[Entity, PropertySpec, Node]],
) -> tuple[Scalar, ...] | None:
    """One value or a list, each valid for every entity's property (in the first one's type)."""
    if (isinstance(node, SequenceNode) and not node.value) or isinstance(node, MappingNode):
        r.fail(node, path, f"expected a value or a non-empty list of values, not {describe(node)}")
        return None
    out: list[Scalar] = []
    ok = True
    for i, item in items_of(node):
        item_path = join(path, i) if item is not node else path
        value = r.scalar(item, item_path)
        if value is None:
            ok = False
            continue
        canonical: Scalar | None = None
        for entity, prop, _ in entities:
            try:
                checked = prop.validate(value, str(entity))
            except InvalidValueError as exc:
                r.fail(item, item_path, str(exc) + yaml11_hint(prop, value))
                ok = False
                break
            canonical = checked if canonical is None else canonical
        if canonical is not None:
            out.append(canonical)
    return tuple(out) if ok else None


def bounds(
    r: AutomationReader, fields: dict[str, Node], node_path: str, owner: Node
) -> tuple[float | None, float | None, bool]:
    """``above``/``below`` of a numeric rule: at least one, and above < below."""
    above = below = None
    ok = True
    if "above" in fields:
        above = r.number(fields["above"], join(node_path, "above"))
        ok = above is not None
    if "below" in fields:
        below = r.number(fields["below"], join(node_path, "below"))
        ok = ok and below is not None
    if "above" not in fields and "below" not in fields:
        r.fail(owner, node_path, "give at least one of above, below")
        ok = False
    elif above is not None and below is not None and above >= below:
        r.fail(
            fields["below"],
            join(node_path, "below"),
            f"above ({above:g}) must be less than below ({below:g}); nothing lies between them",
        )
        ok = False
    return above, below, ok


def _for(r: AutomationReader, fields: dict[str, Node], path: str) -> float | None:
    node = fields.get("for")
    return 0.0 if node is None else r.duration(node, join(path, "for"))


def _state(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Trigger | None:
    entities = r.entities(f["entity_id"], join(path, "entity_id"))
    for_s = _for(r, f, path)
    if entities is None:
        return None
    values: dict[str, tuple[Scalar, ...] | None] = {}
    for key in ("from", "to"):
        values[key] = property_values(r, f[key], join(path, key), entities) if key in f else ()
    from_values, to_values = values["from"], values["to"]
    if from_values is None or to_values is None or for_s is None:
        return None
    return StateTrigger(where, tuple(e for e, _, _ in entities), from_values, to_values, for_s)


def _numeric(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Trigger | None:
    entities = r.entities(f["entity_id"], join(path, "entity_id"), numeric=True)
    owner = f["entity_id"]
    above, below, ok = bounds(r, f, path, owner)
    for_s = _for(r, f, path)
    if entities is None or not ok or for_s is None:
        return None
    return NumericTrigger(where, tuple(e for e, _, _ in entities), above, below, for_s)


def _zone(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Trigger | None:
    devices = r.positioned_devices(f["entity_id"], join(path, "entity_id"))
    zone = r.named(f["zone"], join(path, "zone"), r.context.zones, "zone")
    event: str | None = ZoneEvent.ENTER
    if "event" in f:
        event = r.choice(f["event"], join(path, "event"), tuple(ZoneEvent))
    if devices is None or zone is None or event is None:
        return None
    return ZoneTrigger(where, devices, zone, ZoneEvent(event))


def _eta(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Trigger | None:
    devices = r.positioned_devices(f["entity_id"], join(path, "entity_id"))
    zone = r.named(f["zone"], join(path, "zone"), r.context.zones, "zone")
    below = r.number(f["below"], join(path, "below"))
    if below is not None and not 0 < below <= MAX_ETA_MIN:
        r.fail(
            f["below"],
            join(path, "below"),
            f"below is minutes, more than 0 and at most {MAX_ETA_MIN:g}, not {below:g}",
        )
        below = None
    if devices is None or zone is None or below is None:
        return None
    return EtaTrigger(where, devices, zone, below)


def _time(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Trigger | None:
    at = r.times_of_day(f["at"], join(path, "at"))
    weekdays: frozenset[int] | None = frozenset()
    if "weekday" in f:
        weekdays = r.weekdays(f["weekday"], join(path, "weekday"))
    if at is None or weekdays is None:
        return None
    return TimeTrigger(where, at, weekdays)


def _event(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Trigger | None:
    found = r.device(f["device"], join(path, "device"))
    if found is None:
        return None
    device_id, spec = found
    event = r.event_spec(f["event"], join(path, "event"), device_id, spec)
    if event is None:
        return None
    ref = str(f["event"].value)
    data: dict[str, Scalar] | None = {}
    if "data" in f:
        data = r.typed_args(
            f["data"],
            join(path, "data"),
            event.args,
            unknown=f"event {ref} has no argument {{name}}; it has: {{known}}",
            label=f"{ref} argument",
        )
    if data is None:
        return None
    return EventTrigger(where, device_id, ref, data)


_Build = Callable[[AutomationReader, dict[str, Node], str, Where], Trigger | None]
# kind → (required keys, optional keys, builder); "trigger" and "id" are added to every kind.
_READERS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], _Build]]] = {
    "state": (("entity_id",), ("from", "to", "for"), _state),
    "numeric_state": (("entity_id",), ("above", "below", "for"), _numeric),
    "zone": (("entity_id", "zone"), ("event",), _zone),
    "eta": (("entity_id", "zone", "below"), (), _eta),
    "time": (("at",), ("weekday",), _time),
    "event": (("device", "event"), ("data",), _event),
}
