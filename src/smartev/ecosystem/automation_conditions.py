"""Conditions from YAML nodes: state, numeric_state, time, zone, presence, trigger and the
logical and/or/not (also in the shorthand ``- and: [...]``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from smartev.ecosystem.automation_context import (
    PHONE_KIND,
    PLACE_CAR,
    AutomationReader,
    known_list,
    read_items,
)
from smartev.ecosystem.automation_triggers import bounds, kind_of, property_values
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
    Where,
    ZoneCondition,
)
from smartev.ecosystem.yaml_nodes import items_of, join, line_of
from smartev.spec.errors import show_value

_LOGIC: Final[dict[str, type[AndCondition | OrCondition | NotCondition]]] = {
    "and": AndCondition,
    "or": OrCondition,
    "not": NotCondition,
}


def read_conditions(
    r: AutomationReader, node: Node, path: str, *, allow_empty: bool = True
) -> tuple[Condition, ...] | None:
    """A list of conditions (one mapping counts as a list of one); ``None`` if any is bad."""
    return read_items(r, node, path, "conditions", read_condition, allow_empty=allow_empty)


def read_condition(r: AutomationReader, node: Node, path: str) -> Condition | None:
    where = Where(path, line_of(node))
    if (
        isinstance(node, MappingNode)
        and len(node.value) == 1
        and isinstance(node.value[0][0], ScalarNode)
        and node.value[0][0].value in _LOGIC
    ):
        key = str(node.value[0][0].value)
        inner = read_conditions(r, node.value[0][1], join(path, key), allow_empty=False)
        return None if inner is None else _LOGIC[key](where, inner)
    kind = kind_of(r, node, path, "condition", tuple(_READERS))
    if kind is None:
        return None
    required, optional, build = _READERS[kind]
    fields = r.mapping(
        node, path, f"a {kind} condition", required=("condition", *required), optional=optional
    )
    if fields is None or any(k not in fields for k in required):
        return None
    return build(r, fields, path, where, node)


def _state(
    r: AutomationReader, f: dict[str, Node], path: str, where: Where, node: Node
) -> Condition | None:
    entities = r.entities(f["entity_id"], join(path, "entity_id"))
    for_s = r.duration(f["for"], join(path, "for")) if "for" in f else 0.0
    if entities is None:
        return None
    states = property_values(r, f["state"], join(path, "state"), entities)
    if states is None or for_s is None:
        return None
    return StateCondition(where, tuple(e for e, _, _ in entities), states, for_s)


def _numeric(
    r: AutomationReader, f: dict[str, Node], path: str, where: Where, node: Node
) -> Condition | None:
    entities = r.entities(f["entity_id"], join(path, "entity_id"), numeric=True)
    above, below, ok = bounds(r, f, path, node)
    if entities is None or not ok:
        return None
    return NumericCondition(where, tuple(e for e, _, _ in entities), above, below)


def _time(
    r: AutomationReader, f: dict[str, Node], path: str, where: Where, node: Node
) -> Condition | None:
    if not any(k in f for k in ("after", "before", "weekday")):
        r.fail(node, path, "a time condition needs at least one of after, before, weekday")
        return None
    after = before = None
    ok = True
    if "after" in f:
        after = r.time_of_day(f["after"], join(path, "after"))
        ok = after is not None
    if "before" in f:
        before = r.time_of_day(f["before"], join(path, "before"))
        ok = ok and before is not None
    weekdays: frozenset[int] | None = frozenset()
    if "weekday" in f:
        weekdays = r.weekdays(f["weekday"], join(path, "weekday"))
    if not ok or weekdays is None:
        return None
    return TimeCondition(where, after, before, weekdays)


def _zone(
    r: AutomationReader, f: dict[str, Node], path: str, where: Where, node: Node
) -> Condition | None:
    devices = r.positioned_devices(f["entity_id"], join(path, "entity_id"))
    zone = r.named(f["zone"], join(path, "zone"), r.context.zones, "zone")
    if devices is None or zone is None:
        return None
    return ZoneCondition(where, devices, zone)


def _presence(
    r: AutomationReader, f: dict[str, Node], path: str, where: Where, node: Node
) -> Condition | None:
    person = r.named(f["person"], join(path, "person"), r.context.people, "person")
    if person is not None and f"{PHONE_KIND}:{person}" not in r.context.devices:
        r.fail(
            f["person"],
            join(path, "person"),
            f"{person} has no phone ({PHONE_KIND}:{person}) "
            "among the household's devices; presence follows a person's phone",
        )
        person = None
    place = r.text(f["at"], join(path, "at"))
    if place is not None and place != PLACE_CAR and place not in r.context.zones:
        listing = known_list(place, r.context.zones, "zones")
        r.fail(
            f["at"],
            join(path, "at"),
            f"unknown place {show_value(place)}: write {PLACE_CAR!r} "
            f"or a zone of the household{listing}",
        )
        place = None
    present: bool | None = True
    if "present" in f:
        present = r.boolean(f["present"], join(path, "present"))
    if person is None or place is None or present is None:
        return None
    return PresenceCondition(where, person, place, present)


def _trigger(
    r: AutomationReader, f: dict[str, Node], path: str, where: Where, node: Node
) -> Condition | None:
    ids_node = f["id"]
    base = join(path, "id")
    ids: list[str] = []
    ok = True
    if isinstance(ids_node, SequenceNode) and not ids_node.value:
        r.fail(ids_node, base, "expected a trigger id or a non-empty list of them")
        return None
    for i, item in items_of(ids_node):
        item_path = join(base, i) if item is not ids_node else base
        value = r.scalar(item, item_path)
        if value is None:
            ok = False
            continue
        if isinstance(value, bool) or str(value) not in r.trigger_ids:
            listing = known_list(str(value), r.trigger_ids, "trigger ids")
            r.fail(item, item_path, f"no trigger has the id {show_value(value)}{listing}")
            ok = False
            continue
        ids.append(str(value))
    return TriggerCondition(where, tuple(ids)) if ok else None


def _logic(kind: str) -> _Build:
    def build(
        r: AutomationReader, f: dict[str, Node], path: str, where: Where, node: Node
    ) -> Condition | None:
        inner = read_conditions(r, f["conditions"], join(path, "conditions"), allow_empty=False)
        return None if inner is None else _LOGIC[kind](where, inner)

    return build


_Build = Callable[[AutomationReader, dict[str, Node], str, Where, Node], Condition | None]
# kind → (required keys besides "condition", optional keys, builder)
_READERS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], _Build]]] = {
    "state": (("entity_id", "state"), ("for",), _state),
    "numeric_state": (("entity_id",), ("above", "below"), _numeric),
    "time": ((), ("after", "before", "weekday"), _time),
    "zone": (("entity_id", "zone"), (), _zone),
    "presence": (("person", "at"), ("present",), _presence),
    "trigger": (("id",), (), _trigger),
    "and": (("conditions",), (), _logic("and")),
    "or": (("conditions",), (), _logic("or")),
    "not": (("conditions",), (), _logic("not")),
}
