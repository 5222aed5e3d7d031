"""The scene parser: property values checked against each device's spec, read-only properties
only where the engine's action table reaches them, every problem with its line."""

from __future__ import annotations

import textwrap

import pytest

from smartev.ecosystem.errors import AutomationError
from smartev.ecosystem.model import Scene
from smartev.ecosystem.scene_yaml import parse_scene, settable_by_action
from smartev.ecosystem.shipped import SCENES, HomeBindings, shipped_scenes
from smartev.spec.device_kinds import DEVICE_KINDS
from tests.ecosystem.automation_household import CAR, CONTEXT


def scene(text: str) -> Scene:
    return parse_scene(textwrap.dedent(text), CONTEXT)


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(AutomationError) as caught:
        scene(text)
    return [(p.line, p.path, p.reason) for p in caught.value.problems]


def test_a_scene_parses_into_values_per_device() -> None:
    parsed = scene("""\
        name: away
        description: Everybody is out
        entities:
          light:hall: {light.on: false}
          thermostat:living:
            thermostat.mode: heat
            thermostat.target_temperature: 17
          door_lock:front: {lock.locked: true}
          garage_door:main: {door.state: closed}
        """)
    assert parsed == Scene(
        name="away",
        description="Everybody is out",
        values={
            "light:hall": {"light.on": False},
            "thermostat:living": {
                "thermostat.mode": "heat",
                "thermostat.target_temperature": 17.0,
            },
            "door_lock:front": {"lock.locked": True},
            "garage_door:main": {"door.state": "closed"},
        },
    )


def test_shipped_scenes_parse() -> None:
    texts = shipped_scenes(HomeBindings(car=CAR))
    assert set(texts) == set(SCENES)
    for name, text in texts.items():
        assert parse_scene(text, CONTEXT).name == name


def test_settable_by_action_needs_the_table_and_the_device_action() -> None:
    lock = DEVICE_KINDS["door_lock"]
    assert settable_by_action(lock, "lock.locked", True)
    assert settable_by_action(lock, "lock.state", "unlocked")
    assert not settable_by_action(lock, "lock.state", "jammed")
    assert not settable_by_action(lock, "lock.locked", 1)
    assert not settable_by_action(DEVICE_KINDS["light"], "lock.locked", True)
    assert not settable_by_action(DEVICE_KINDS["wallbox"], "charger.state", "charging")


def test_read_only_properties_without_an_action_are_refused() -> None:
    found = problems("""\
        name: x
        entities:
          wallbox:garage: {charger.state: charging}
          door_lock:front:
            lock.state: jammed
          garage_door:main: {door.state: opening}
        """)
    assert found == [
        (
            3,
            "entities/wallbox:garage/charger.state",
            "wallbox:garage/charger.state is read-only and no action sets it; writable "
            "properties: charger.current_limit",
        ),
        (
            5,
            "entities/door_lock:front/lock.state",
            "door_lock:front/lock.state is read-only; a scene can set it only to locked, unlocked",
        ),
        (
            6,
            "entities/garage_door:main/door.state",
            "garage_door:main/door.state is read-only; a scene can set it only to closed, open",
        ),
    ]


def test_unknown_devices_properties_and_bad_values() -> None:
    found = problems("""\
        name: x
        entities:
          light:hal: {light.on: false}
          light:living:
            light.brightness: 140
            light.colour: red
          thermostat:living: {thermostat.mode: on}
        """)
    assert [(line, path) for line, path, _ in found] == [
        (3, "entities/light:hal"),
        (5, "entities/light:living/light.brightness"),
        (6, "entities/light:living/light.colour"),
        (7, "entities/thermostat:living/thermostat.mode"),
    ]
    assert found[0][2].startswith("unknown device 'light:hal' (did you mean 'light:hall'")
    assert found[1][2] == "invalid value 140 for light:living/light.brightness: must be 0..100 %"
    assert found[2][2] == (
        "light:living has no property 'light.colour' (did you mean 'light.on'?); its "
        "properties: light.brightness, light.on"
    )
    assert found[3][2] == (
        "invalid value 'on' for thermostat:living/thermostat.mode: must be one of off, heat, "
        "cool, auto"
    )


def test_scene_shape_problems() -> None:
    found = problems("""\
        description: 5
        entities:
          light:hall: {}
          light:living: false
          light:living: {light.on: true}
        colour: blue
        """)
    assert found == [
        (1, "", "a scene is missing required key(s): name"),
        (1, "description", "must be text, not 5 (quote it)"),
        (3, "entities/light:hall", "give at least one property value for light:hall"),
        (
            4,
            "entities/light:living",
            "the values of light:living must be a mapping, not 'false'",
        ),
        (5, "entities/light:living", "duplicate key 'light:living'"),
        (6, "colour", "unknown key 'colour' in a scene; allowed: name, entities, description"),
    ]


def test_empty_entities_and_non_mapping_scene() -> None:
    assert problems("name: x\nentities: {}\n") == [
        (2, "entities", "a scene needs at least one device with values")
    ]
    assert problems("[1, 2]\n") == [(1, "", "a scene must be a mapping, not a list")]
    assert problems("name: [x]\nentities: {light:hall: {light.on: true}}\n") == [
        (1, "name", "expected a single value, not a list")
    ]


def test_scene_yaml_limits_apply() -> None:
    found = problems("name: &n x\nentities: {}\n")
    assert found == [
        (1, "", "YAML anchors and aliases (&name, *name) are not allowed; write each value out")
    ]
