"""An automation's YAML text (Home Assistant's shape) checked against a household and turned into
the model of ``model.py``; every fault found is reported with its line, column and path.

YAML booleans are YAML 1.2's (only ``true``/``false``): ``to: on`` is the text ``"on"``, which a
boolean property then refuses with a hint, instead of silently meaning ``true``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from yaml.nodes import MappingNode, Node, ScalarNode

from smartev.ecosystem.automation_conditions import read_condition, read_conditions
from smartev.ecosystem.automation_context import (
    AutomationContext,
    AutomationReader,
    known_list,
    read_items,
)
from smartev.ecosystem.automation_triggers import read_triggers
from smartev.ecosystem.model import (
    DEFAULT_MAX_RUNS,
    Action,
    Automation,
    ConditionAction,
    DelayAction,
    DeviceAction,
    IfAction,
    Mode,
    NotifyAction,
    SceneAction,
    SetAction,
    StopAction,
    Trigger,
    WaitForTriggerAction,
    Where,
)
from smartev.ecosystem.yaml_nodes import describe, items_of, join, line_of, load_tree
from smartev.spec.devices import Scalar
from smartev.spec.errors import InvalidValueError, show_value

__all__ = ["AutomationContext", "parse_automation"]

MAX_ACTIONS: Final = 100
MAX_RUNS_LIMIT: Final = 100
MAX_ALIAS: Final = 100
MAX_TEXT: Final = 2000


def parse_automation(text: str, context: AutomationContext, *, automation_id: str) -> Automation:
    """The automation of ``text``, or :class:`AutomationError` listing every problem found."""
    root = load_tree(text)
    r = AutomationReader(context)
    fields = r.mapping(
        root,
        "",
        "an automation",
        required=("alias", "triggers", "actions"),
        optional=("description", "mode", "max", "conditions"),
    )
    if fields is None:
        r.raise_problems()
        raise AssertionError("unreachable: a non-mapping root is a problem")
    alias = (
        r.text(fields["alias"], "alias", min_len=1, max_len=MAX_ALIAS)
        if "alias" in fields
        else None
    )
    description = ""
    if "description" in fields:
        description = r.text(fields["description"], "description", max_len=MAX_TEXT) or ""
    mode, max_runs = _mode(r, fields)
    triggers: tuple[Trigger, ...] = ()
    if "triggers" in fields:
        r.trigger_ids = _declared_ids(fields["triggers"])
        triggers = read_triggers(r, fields["triggers"], "triggers")
    conditions = None
    if "conditions" in fields:
        conditions = read_conditions(r, fields["conditions"], "conditions")
    actions: tuple[Action, ...] | None = None
    if "actions" in fields:
        actions = read_actions(r, fields["actions"], "actions")
        if actions is not None and count_actions(actions) > MAX_ACTIONS:
            r.fail(
                fields["actions"],
                "actions",
                f"at most {MAX_ACTIONS} actions (nested ones count), not {count_actions(actions)}",
            )
    r.raise_problems()
    assert alias is not None
    assert actions is not None
    return Automation(
        id=automation_id,
        alias=alias,
        triggers=triggers,
        conditions=conditions or (),
        actions=actions,
        mode=mode,
        max_runs=max_runs,
        description=description,
    )


def _mode(r: AutomationReader, fields: dict[str, Node]) -> tuple[Mode, int]:
    mode = Mode.SINGLE
    if "mode" in fields:
        mode = Mode(r.choice(fields["mode"], "mode", tuple(Mode)) or Mode.SINGLE)
    max_runs = DEFAULT_MAX_RUNS
    if "max" in fields:
        max_runs = r.integer(fields["max"], "max", 1, MAX_RUNS_LIMIT) or DEFAULT_MAX_RUNS
        if mode not in (Mode.QUEUED, Mode.PARALLEL):
            r.fail(
                fields["max"],
                "max",
                f"max limits queued and parallel runs only; this mode is "
                f"{mode} (use mode: queued or mode: parallel, or leave max out)",
            )
    return mode, max_runs


def _declared_ids(node: Node) -> frozenset[str]:
    """Trigger ids as written, read before the triggers are checked, so that a trigger with
    another fault does not make every ``condition: trigger`` naming it a second problem."""
    ids: set[str] = set()
    for _, item in items_of(node):
        if isinstance(item, MappingNode):
            for key, value in item.value:
                if (
                    isinstance(key, ScalarNode)
                    and key.value == "id"
                    and isinstance(value, ScalarNode)
                ):
                    ids.add(str(value.value))
    return frozenset(ids)


def count_actions(actions: tuple[Action, ...]) -> int:
    """How many actions there are, the ones inside ``if`` included."""
    total = 0
    for action in actions:
        total += 1
        if isinstance(action, IfAction):
            total += count_actions(action.then) + count_actions(action.otherwise)
    return total


def read_actions(
    r: AutomationReader, node: Node, path: str, *, allow_empty: bool = False
) -> tuple[Action, ...] | None:
    """A list of actions (one mapping counts as a list of one); ``None`` if any is bad."""
    return read_items(r, node, path, "actions", read_action, allow_empty=allow_empty)


def read_action(r: AutomationReader, node: Node, path: str) -> Action | None:
    if not isinstance(node, MappingNode):
        r.fail(node, path, f"an action must be a mapping, not {describe(node)}")
        return None
    keys = [str(k.value) for k, _ in node.value if isinstance(k, ScalarNode)]
    kind = next((k for k in keys if k in _KINDS), None)
    if kind == "device":
        kind = "set" if "set" in keys and "action" not in keys else "action"
    if kind is None:
        r.fail(
            node,
            path,
            "an action needs one of these keys: device (with action or set), "
            "notify, delay, wait_for_trigger, scene, if, condition, stop",
        )
        return None
    if kind == "condition":
        condition = read_condition(r, node, path)
        return None if condition is None else ConditionAction(Where(path, line_of(node)), condition)
    required, optional, build = _READERS[kind]
    what = _WHAT.get(kind, f"a {kind} action")
    fields = r.mapping(node, path, what, required=required, optional=optional)
    if fields is None or any(k not in fields for k in required):
        return None
    return build(r, fields, path, Where(path, line_of(node)))


def _device_action(
    r: AutomationReader, f: dict[str, Node], path: str, where: Where
) -> Action | None:
    found = r.device(f["device"], join(path, "device"))
    if found is None:
        return None
    device_id, spec = found
    action = r.action_spec(f["action"], join(path, "action"), device_id, spec)
    if action is None:
        return None
    ref = str(f["action"].value)
    args: dict[str, Scalar] | None = {}
    owner = f.get("data", f["action"])
    if "data" in f:
        args = r.typed_args(
            f["data"],
            join(path, "data"),
            action.inputs,
            unknown=f"action {ref} has no input {{name}}; inputs: {{known}}",
            label=f"{device_id} {ref} input",
        )
    if args is None:
        return None
    try:
        checked = action.check_inputs(args, f"{device_id} {ref}")
    except InvalidValueError as exc:
        r.fail(owner, join(path, "data"), str(exc))
        return None
    return DeviceAction(where, device_id, ref, checked)


def _set(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Action | None:
    found = r.device(f["device"], join(path, "device"))
    pairs = r.pairs(f["set"], join(path, "set"), "set")
    if found is None or pairs is None:
        return None
    device_id, spec = found
    if not pairs:
        r.fail(f["set"], join(path, "set"), "set needs at least one property: value")
        return None
    values: dict[str, Scalar] = {}
    ok = True
    for ref, key_node, value_node in pairs:
        ref_path = join(join(path, "set"), ref)
        prop = spec.properties.get(ref)
        if prop is None or not prop.writable:
            writable = [k for k, p in spec.properties.items() if p.writable]
            why = "has no property" if prop is None else "cannot write the read-only property"
            listing = known_list(ref, writable, "its writable properties")
            r.fail(key_node, ref_path, f"{device_id} {why} {show_value(ref)}{listing}")
            ok = False
            continue
        value = r.value_for(value_node, ref_path, prop, f"{device_id}/{ref}")
        if value is None:
            ok = False
        else:
            values[ref] = value
    return SetAction(where, device_id, values) if ok else None


def _notify(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Action | None:
    to = r.recipients(f["notify"], join(path, "notify"))
    message = r.text(f["message"], join(path, "message"), min_len=1, max_len=MAX_TEXT)
    title: str | None = ""
    if "title" in f:
        title = r.text(f["title"], join(path, "title"), max_len=MAX_ALIAS)
    if to is None or message is None or title is None:
        return None
    return NotifyAction(where, to, message, title)


def _delay(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Action | None:
    seconds = r.duration(f["delay"], join(path, "delay"))
    return None if seconds is None else DelayAction(where, seconds)


def _wait(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Action | None:
    before = len(r.problems)
    triggers = read_triggers(r, f["wait_for_trigger"], join(path, "wait_for_trigger"))
    timeout = None
    if "timeout" in f:
        timeout = r.duration(f["timeout"], join(path, "timeout"))
    go_on: bool | None = True
    if "continue_on_timeout" in f:
        go_on = r.boolean(f["continue_on_timeout"], join(path, "continue_on_timeout"))
    if len(r.problems) > before or go_on is None:
        return None
    return WaitForTriggerAction(where, triggers, timeout, go_on)


def _scene(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Action | None:
    scene = r.named(f["scene"], join(path, "scene"), r.context.scenes, "scene")
    return None if scene is None else SceneAction(where, scene)


def _if(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Action | None:
    conditions = read_conditions(r, f["if"], join(path, "if"), allow_empty=False)
    then = read_actions(r, f["then"], join(path, "then"))
    otherwise: tuple[Action, ...] | None = ()
    if "else" in f:
        otherwise = read_actions(r, f["else"], join(path, "else"), allow_empty=True)
    if conditions is None or then is None or otherwise is None:
        return None
    return IfAction(where, conditions, then, otherwise)


def _stop(r: AutomationReader, f: dict[str, Node], path: str, where: Where) -> Action | None:
    node = f["stop"]
    if isinstance(node, ScalarNode) and node.value == "" and node.style is None:
        return StopAction(where)  # a bare ``stop:``
    reason = r.text(node, join(path, "stop"), max_len=MAX_TEXT)
    return None if reason is None else StopAction(where, reason)


_Build = Callable[[AutomationReader, dict[str, Node], str, Where], Action | None]
# The key that tells an action's kind, first match wins; "device" means action or set.
_KINDS: Final = (
    "device",
    "notify",
    "delay",
    "wait_for_trigger",
    "scene",
    "if",
    "condition",
    "stop",
)
_WHAT: Final = {"action": "a device action", "if": "an if action"}
_READERS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], _Build]]] = {
    "action": (("device", "action"), ("data",), _device_action),
    "set": (("device", "set"), (), _set),
    "notify": (("notify", "message"), ("title",), _notify),
    "delay": (("delay",), (), _delay),
    "wait_for_trigger": (("wait_for_trigger",), ("timeout", "continue_on_timeout"), _wait),
    "scene": (("scene",), (), _scene),
    "if": (("if", "then"), ("else",), _if),
    "stop": (("stop",), (), _stop),
}
