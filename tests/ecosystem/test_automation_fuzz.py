"""Fuzzing the automation and scene parsers: whatever the text, the answer is an Automation (a
Scene) or an AutomationError whose problems all point at a line, never another exception."""

from __future__ import annotations

import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartev.ecosystem.automation_yaml import parse_automation
from smartev.ecosystem.errors import AutomationError
from smartev.ecosystem.model import Automation, Scene
from smartev.ecosystem.scene_yaml import parse_scene
from tests.ecosystem.automation_household import CAR, CONTEXT, SOC
from tests.ecosystem.test_automation_yaml import (
    ARRIVING_HOME,
    CHEAP_OR_SOLAR,
    LEAVING_HOME,
    PREHEAT,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID = (ARRIVING_HOME, LEAVING_HOME, PREHEAT, CHEAP_OR_SOLAR)
SCENE = """\
name: away
entities:
  light:hall: {light.on: false}
  door_lock:front: {lock.locked: true}
"""


def _check_refusal(refused: AutomationError) -> None:
    assert refused.problems
    for problem in refused.problems:
        assert problem.line >= 1, problem
        assert problem.column >= 0, problem
        assert problem.reason, problem


def check(text: str) -> Automation | None:
    try:
        return parse_automation(text, CONTEXT, automation_id="fuzz")
    except AutomationError as exc:
        refused = exc
    _check_refusal(refused)
    return None


def check_scene(text: str) -> Scene | None:
    try:
        return parse_scene(text, CONTEXT)
    except AutomationError as exc:
        refused = exc
    _check_refusal(refused)
    return None


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    check(text)
    check_scene(text)


@FUZZ
@given(st.text(alphabet=string.printable + "&*!|>-:[]{}'\"#%@`\t", max_size=300))
def test_random_yaml_punctuation(text: str) -> None:
    check(text)


def _mutate(text: str, ops: list[tuple[int, int, int, str]]) -> str:
    for op, at, length, insert in ops:
        if not text:
            break
        i = at % len(text)
        if op == 0:  # delete
            text = text[:i] + text[i + length :]
        elif op == 1:  # duplicate a stretch
            text = text[:i] + text[i : i + length] * 2 + text[i + length :]
        elif op == 2:  # replace characters
            text = text[:i] + insert + text[i + len(insert) :]
        else:  # insert
            text = text[:i] + insert + text[i:]
    return text


_OPS = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 10_000),
        st.integers(1, 40),
        st.text(alphabet=string.printable + "äß°", max_size=8),
    ),
    min_size=1,
    max_size=6,
)


@FUZZ
@given(st.sampled_from(VALID), _OPS)
def test_mutations_of_valid_automations(text: str, ops: list[tuple[int, int, int, str]]) -> None:
    check(_mutate(text, ops))


@FUZZ
@given(_OPS)
def test_mutations_of_a_valid_scene(ops: list[tuple[int, int, int, str]]) -> None:
    check_scene(_mutate(SCENE, ops))


def _swap_values(text: str, a: int, b: int) -> str:
    """Swap the values after ``key:`` of two lines."""
    lines = text.splitlines()
    keyed = [i for i, line in enumerate(lines) if ": " in line]
    i, j = keyed[a % len(keyed)], keyed[b % len(keyed)]
    key_i, _, value_i = lines[i].partition(": ")
    key_j, _, value_j = lines[j].partition(": ")
    lines[i], lines[j] = f"{key_i}: {value_j}", f"{key_j}: {value_i}"
    return "\n".join(lines) + "\n"


@FUZZ
@given(st.sampled_from(VALID), st.integers(0, 200), st.integers(0, 200))
def test_swapped_values_of_valid_automations(text: str, a: int, b: int) -> None:
    check(_swap_values(text, a, b))


def test_the_fixtures_are_valid_before_mutation() -> None:
    for text in VALID:
        assert check(text) is not None
    assert check_scene(SCENE) is not None


# --- random YAML trees built from the language's own words ------------------------------------

_WORDS = [
    "alias",
    "description",
    "mode",
    "max",
    "triggers",
    "conditions",
    "actions",
    "trigger",
    "condition",
    "entity_id",
    "from",
    "to",
    "for",
    "id",
    "above",
    "below",
    "zone",
    "event",
    "at",
    "weekday",
    "device",
    "data",
    "state",
    "after",
    "before",
    "person",
    "present",
    "conditions",
    "and",
    "or",
    "not",
    "action",
    "set",
    "notify",
    "title",
    "message",
    "delay",
    "wait_for_trigger",
    "timeout",
    "continue_on_timeout",
    "scene",
    "if",
    "then",
    "else",
    "stop",
    "numeric_state",
    "time",
    "eta",
    "presence",
    "enter",
    "leave",
    "queued",
    "home",
    "ana",
    "away",
    "mon",
    "07:30",
    "00:00:30",
    "light:hall",
    "light:hall/light.on",
    CAR,
    f"{CAR}/{SOC}",
    "hvac.set",
    "temp_c",
    "door.open",
    "garage_door:main",
    "light.on",
    "thermostat.mode",
    "heat",
    "days",
    "minutes",
    "seconds",
    "on",
    "off",
    "yes",
]
_SCALARS = st.one_of(
    st.sampled_from(_WORDS),
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(_WORDS), children, max_size=5),
    ),
    max_leaves=40,
)


@FUZZ
@given(_TREES)
def test_random_yaml_trees(tree: object) -> None:
    check(yaml.safe_dump(tree))


_SMALL_TREES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(_WORDS), children, max_size=3),
    ),
    max_leaves=8,
)
_ELEMENTS = st.lists(
    st.dictionaries(st.sampled_from(_WORDS), _SMALL_TREES, max_size=5), min_size=1, max_size=3
)


@FUZZ
@given(_ELEMENTS, st.lists(_SMALL_TREES, max_size=2), _ELEMENTS)
def test_random_trees_inside_an_automation(
    triggers: list[object], conditions: list[object], actions: list[object]
) -> None:
    document = {
        "alias": "fuzz",
        "triggers": triggers,
        "conditions": conditions,
        "actions": actions,
    }
    check(yaml.safe_dump(document))
