"""A scene's YAML text checked against a household: each device's property values, writable ones
and the few read-only ones that have an obvious action (``lock.locked: true`` → ``lock.lock``,
from the engine's :data:`~smartev.ecosystem.engine_scenes.SCENE_ACTIONS`, the one table)."""

from __future__ import annotations

from typing import Final

from yaml.nodes import Node

from smartev.ecosystem.automation_context import (
    AutomationContext,
    AutomationReader,
    known_list,
)
from smartev.ecosystem.engine_scenes import SCENE_ACTIONS, scene_action
from smartev.ecosystem.model import Scene
from smartev.ecosystem.yaml_nodes import join, load_tree
from smartev.spec.devices import DeviceSpec, Scalar
from smartev.spec.errors import show_value

__all__ = ["parse_scene", "settable_by_action"]

MAX_NAME: Final = 100
MAX_DESCRIPTION: Final = 2000


def settable_by_action(spec: DeviceSpec, ref: str, value: Scalar) -> bool:
    """Whether a scene may set read-only ``ref`` to ``value``: the engine's table has an action
    for it and this device has that action."""
    action = scene_action(ref, value)
    return action is not None and action in spec.actions


def parse_scene(text: str, context: AutomationContext) -> Scene:
    """The scene of ``text``, or :class:`AutomationError` listing every problem found."""
    root = load_tree(text)
    r = AutomationReader(context)
    fields = r.mapping(
        root, "", "a scene", required=("name", "entities"), optional=("description",)
    )
    if fields is None:
        r.raise_problems()
        raise AssertionError("unreachable: a non-mapping root is a problem")
    name = r.text(fields["name"], "name", min_len=1, max_len=MAX_NAME) if "name" in fields else None
    description = ""
    if "description" in fields:
        description = r.text(fields["description"], "description", max_len=MAX_DESCRIPTION) or ""
    values: dict[str, dict[str, Scalar]] = {}
    if "entities" in fields:
        values = _entities(r, fields["entities"])
    r.raise_problems()
    assert name is not None
    return Scene(name=name, values=values, description=description)


def _entities(r: AutomationReader, node: Node) -> dict[str, dict[str, Scalar]]:
    devices = r.pairs(node, "entities", "entities (device: {property: value})")
    if devices is None:
        return {}
    if not devices:
        r.fail(node, "entities", "a scene needs at least one device with values")
    out: dict[str, dict[str, Scalar]] = {}
    for device_id, key_node, value_node in devices:
        path = join("entities", device_id)
        found = r.device_named(device_id, key_node, path)
        props = r.pairs(value_node, path, f"the values of {device_id}")
        if found is None or props is None:
            continue
        if not props:
            r.fail(value_node, path, f"give at least one property value for {device_id}")
            continue
        spec = found[1]
        values: dict[str, Scalar] = {}
        for ref, ref_node, v_node in props:
            ref_path = join(path, ref)
            prop = spec.properties.get(ref)
            if prop is None:
                listing = known_list(ref, spec.properties, "its properties")
                r.fail(
                    ref_node, ref_path, f"{device_id} has no property {show_value(ref)}{listing}"
                )
                continue
            value = r.value_for(v_node, ref_path, prop, f"{device_id}/{ref}")
            if value is None:
                continue
            if not prop.writable and not settable_by_action(spec, ref, value):
                reason, at_value = _read_only(device_id, ref, spec)
                r.fail(v_node if at_value else ref_node, ref_path, reason)
                continue
            values[ref] = value
        out[device_id] = values
    return out


def _read_only(device_id: str, ref: str, spec: DeviceSpec) -> tuple[str, bool]:
    """Why a read-only property cannot take a value, and whether the value (not the property)
    is at fault."""
    reachable = [
        str(v).lower() if isinstance(v, bool) else str(v)
        for (p, v), a in SCENE_ACTIONS.items()
        if p == ref and a in spec.actions
    ]
    if reachable:
        shown = ", ".join(reachable)
        return f"{device_id}/{ref} is read-only; a scene can set it only to {shown}", True
    writable = ", ".join(k for k, p in spec.properties.items() if p.writable) or "none"
    return (
        f"{device_id}/{ref} is read-only and no action sets it; writable properties: {writable}",
        False,
    )
