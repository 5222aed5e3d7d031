"""The automation parser: every kind of trigger, condition and action into the model, the shipped
automations, and every refusal with its line, path and reason."""

from __future__ import annotations

from datetime import time

import pytest

from smartev.ecosystem.automation_yaml import parse_automation
from smartev.ecosystem.errors import AutomationError
from smartev.ecosystem.model import (
    AndCondition,
    ConditionAction,
    DelayAction,
    DeviceAction,
    Entity,
    EtaTrigger,
    EventTrigger,
    IfAction,
    Mode,
    NotCondition,
    NotifyAction,
    NumericCondition,
    NumericTrigger,
    OrCondition,
    PresenceCondition,
    SceneAction,
    SetAction,
    StateCondition,
    StateTrigger,
    StopAction,
    TimeCondition,
    TimeTrigger,
    TriggerCondition,
    WaitForTriggerAction,
    Where,
    ZoneCondition,
    ZoneEvent,
    ZoneTrigger,
)
from smartev.ecosystem.shipped import AUTOMATIONS, HomeBindings, shipped_automations
from tests.ecosystem.automation_household import (
    CABLE,
    CAR,
    CONTEXT,
    SOC,
    one_problem,
    parse,
    problems,
)

HEAD = """\
alias: Test
triggers:
  - trigger: state
    entity_id: light:hall/light.on
"""

# --- every kind into the model ----------------------------------------------------------------


def test_every_trigger_kind_round_trips() -> None:
    automation = parse(f"""\
        alias: All triggers
        description: every kind
        mode: parallel
        max: 3
        triggers:
          - trigger: state
            entity_id: [garage_door:main/door.state, garage_door:main/door.state]
            from: closed
            to: [open, opening]
            for: "00:00:30"
            id: opened
          - trigger: numeric_state
            entity_id: energy_meter:home/grid.surplus_power
            above: 1400
            below: 100000
            for: {{minutes: 2}}
          - trigger: zone
            entity_id: [{CAR}, phone:ana]
            zone: home
            event: leave
          - trigger: eta
            entity_id: {CAR}
            zone: work
            below: 10
          - trigger: time
            at: ["07:30", "18:00:15"]
            weekday: [mon, fri]
          - trigger: event
            device: door_lock:front
            event: lock.operated
            data: {{method: keypad}}
            id: 7
        actions:
          - stop: done
        """)
    assert automation.alias == "All triggers"
    assert automation.description == "every kind"
    assert automation.mode is Mode.PARALLEL
    assert automation.max_runs == 3
    assert automation.id == "a1"
    door = Entity("garage_door:main", "door.state")
    assert automation.triggers == (
        StateTrigger(
            Where("triggers/0", 6), (door, door), ("closed",), ("open", "opening"), 30.0, "opened"
        ),
        NumericTrigger(
            Where("triggers/1", 12),
            (Entity("energy_meter:home", "grid.surplus_power"),),
            1400.0,
            100000.0,
            120.0,
        ),
        ZoneTrigger(Where("triggers/2", 17), (CAR, "phone:ana"), "home", ZoneEvent.LEAVE),
        EtaTrigger(Where("triggers/3", 21), (CAR,), "work", 10.0),
        TimeTrigger(Where("triggers/4", 25), (time(7, 30), time(18, 0, 15)), frozenset({0, 4})),
        EventTrigger(
            Where("triggers/5", 28), "door_lock:front", "lock.operated", {"method": "keypad"}, "7"
        ),
    )
    assert automation.actions == (StopAction(Where("actions/0", 34), "done"),)


def test_every_condition_kind_round_trips() -> None:
    automation = parse(f"""\
        alias: All conditions
        triggers:
          trigger: time
          at: "07:00"
          id: morning
        conditions:
          - condition: state
            entity_id: {CAR}/{CABLE}
            state: true
            for: 60
          - condition: numeric_state
            entity_id: {CAR}/{SOC}
            below: 80
          - condition: time
            after: "22:00"
            before: "06:00"
            weekday: sat
          - condition: zone
            entity_id: [{CAR}, phone:ben]
            zone: home
          - condition: presence
            person: ana
            at: car
            present: false
          - condition: trigger
            id: [morning]
          - condition: and
            conditions:
              - condition: presence
                person: ben
                at: home
          - or:
              - condition: trigger
                id: morning
          - not:
              - condition: state
                entity_id: thermostat:living/thermostat.mode
                state: [heat, auto]
        actions:
          - delay: 1
        """)
    assert automation.triggers == (TimeTrigger(Where("triggers/0", 3), (time(7),), id="morning"),)
    assert automation.conditions == (
        StateCondition(Where("conditions/0", 7), (Entity(CAR, CABLE),), (True,), 60.0),
        NumericCondition(Where("conditions/1", 11), (Entity(CAR, SOC),), None, 80.0),
        TimeCondition(Where("conditions/2", 14), time(22), time(6), frozenset({5})),
        ZoneCondition(Where("conditions/3", 18), (CAR, "phone:ben"), "home"),
        PresenceCondition(Where("conditions/4", 21), "ana", "car", False),
        TriggerCondition(Where("conditions/5", 25), ("morning",)),
        AndCondition(
            Where("conditions/6", 27),
            (PresenceCondition(Where("conditions/6/conditions/0", 29), "ben", "home"),),
        ),
        OrCondition(
            Where("conditions/7", 32),
            (TriggerCondition(Where("conditions/7/or/0", 33), ("morning",)),),
        ),
        NotCondition(
            Where("conditions/8", 35),
            (
                StateCondition(
                    Where("conditions/8/not/0", 36),
                    (Entity("thermostat:living", "thermostat.mode"),),
                    ("heat", "auto"),
                ),
            ),
        ),
    )


def test_every_action_kind_round_trips() -> None:
    automation = parse(f"""\
        alias: All actions
        triggers:
          - trigger: event
            device: {CAR}
            event: car.plugged_in
        actions:
          - device: {CAR}
            action: hvac.set
            data: {{temp_c: 21}}
          - device: thermostat:living
            set:
              thermostat.mode: heat
              thermostat.target_temperature: 22
          - notify: ana
            title: Home
            message: The car is home
          - delay: {{hours: 1, milliseconds: 500}}
          - wait_for_trigger:
              - trigger: state
                entity_id: garage_door:main/door.state
                to: closed
            timeout: "00:10"
            continue_on_timeout: false
          - scene: away
          - if:
              - condition: state
                entity_id: light:hall/light.on
                state: false
            then:
              - device: light:hall
                action: light.turn_on
            else:
              - device: light:hall
                action: light.turn_off
          - condition: zone
            entity_id: phone:ana
            zone: home
          - stop: "cable left in"
        """)
    assert automation.triggers == (EventTrigger(Where("triggers/0", 3), CAR, "car.plugged_in"),)
    assert automation.actions == (
        DeviceAction(Where("actions/0", 7), CAR, "hvac.set", {"temp_c": 21.0}),
        SetAction(
            Where("actions/1", 10),
            "thermostat:living",
            {"thermostat.mode": "heat", "thermostat.target_temperature": 22.0},
        ),
        NotifyAction(Where("actions/2", 14), ("ana",), "The car is home", "Home"),
        DelayAction(Where("actions/3", 17), 3600.5),
        WaitForTriggerAction(
            Where("actions/4", 18),
            (
                StateTrigger(
                    Where("actions/4/wait_for_trigger/0", 19),
                    (Entity("garage_door:main", "door.state"),),
                    to_values=("closed",),
                ),
            ),
            600.0,
            False,
        ),
        SceneAction(Where("actions/5", 24), "away"),
        IfAction(
            Where("actions/6", 25),
            (
                StateCondition(
                    Where("actions/6/if/0", 26), (Entity("light:hall", "light.on"),), (False,)
                ),
            ),
            (DeviceAction(Where("actions/6/then/0", 30), "light:hall", "light.turn_on"),),
            (DeviceAction(Where("actions/6/else/0", 33), "light:hall", "light.turn_off"),),
        ),
        ConditionAction(
            Where("actions/7", 35),
            ZoneCondition(Where("actions/7", 35), ("phone:ana",), "home"),
        ),
        StopAction(Where("actions/8", 38), "cable left in"),
    )
    assert automation.mode is Mode.SINGLE
    assert automation.max_runs == 10


def test_defaults_and_shorthands() -> None:
    automation = parse("""\
        alias: x
        triggers:
          trigger: zone
          entity_id: phone:ana
          zone: home
        actions:
          notify: [ana, someone@example.com]
          message: hi
        """)
    assert automation.triggers[0] == ZoneTrigger(Where("triggers/0", 3), ("phone:ana",), "home")
    assert automation.actions == (
        NotifyAction(Where("actions/0", 7), ("ana", "someone@example.com"), "hi"),
    )
    assert automation.conditions == ()


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ('"00:00:30"', 30.0),
        ("00:01:30", 90.0),  # unquoted: still text under YAML 1.2, not base-60
        ('"01:30"', 5400.0),  # HH:MM
        ('"45"', 45.0),
        ("45", 45.0),
        ("2.5", 2.5),
        ("{days: 1, minutes: 1}", 86460.0),
        ("{milliseconds: 250}", 0.25),
        ("0", 0.0),
        ('"168:00:00"', 7 * 86400.0),
    ],
)
def test_duration_forms(written: str, seconds: float) -> None:
    automation = parse(HEAD + f"actions:\n  - delay: {written}\n")
    assert automation.actions == (DelayAction(Where("actions/0", 6), seconds),)


def test_yaml_12_booleans_keep_on_and_yes_as_text() -> None:
    automation = parse("""\
        alias: x
        triggers:
          - trigger: state
            entity_id: thermostat:living/thermostat.mode
            to: "off"
        actions:
          - notify: ana
            message: on
            title: yes
        """)
    assert automation.triggers[0].to_values == ("off",)  # type: ignore[union-attr]
    assert automation.actions[0] == NotifyAction(Where("actions/0", 7), ("ana",), "on", "yes")
    # unquoted off is text too, so it matches the enum value
    off = parse(
        HEAD.replace("light:hall/light.on", "thermostat:living/thermostat.mode")
        + "    to: off\nactions:\n  - stop:\n"
    )
    assert off.triggers[0].to_values == ("off",)  # type: ignore[union-attr]


def test_trigger_id_used_by_condition_inside_if() -> None:
    automation = parse(
        HEAD
        + """\
    id: lit
actions:
  - if:
      - condition: trigger
        id: lit
    then:
      - stop:
"""
    )
    action = automation.actions[0]
    assert isinstance(action, IfAction)
    assert action.conditions == (TriggerCondition(Where("actions/0/if/0", 8), ("lit",)),)


# --- the four shipped automations of the issue, as fixtures -----------------------------------

ARRIVING_HOME = f"""\
alias: Arriving home
mode: queued
triggers:
  - trigger: eta
    entity_id: {CAR}
    zone: home
    below: 10
    id: approaching
  - trigger: zone
    entity_id: {CAR}
    zone: home
    id: arrived
actions:
  - if:
      - condition: trigger
        id: approaching
    then:
      - device: thermostat:living
        set: {{thermostat.mode: heat, thermostat.target_temperature: 22}}
    else:
      - device: garage_door:main
        action: door.open
      - device: light:hall
        action: light.turn_on
        data: {{brightness: 80}}
      - notify: ana
        message: The car is home
"""

LEAVING_HOME = f"""\
alias: Leaving home
triggers:
  - trigger: zone
    entity_id: {CAR}
    zone: home
    event: leave
conditions:
  - condition: presence
    person: ben
    at: home
    present: false
actions:
  - device: garage_door:main
    action: door.close
  - wait_for_trigger:
      - trigger: state
        entity_id: garage_door:main/door.state
        to: closed
    timeout: {{minutes: 2}}
  - scene: away
  - device: {CAR}
    action: door.lock
"""

PREHEAT = f"""\
alias: Pre-heat before departure
triggers:
  - trigger: time
    at: "07:30"
    weekday: [mon, tue, wed, thu, fri]
conditions:
  - condition: state
    entity_id: {CAR}/{CABLE}
    state: true
  - condition: zone
    entity_id: {CAR}
    zone: home
actions:
  - device: {CAR}
    action: hvac.set
    data: {{temp_c: 21}}
  - delay: "00:30:00"
  - device: {CAR}
    action: hvac.off
"""

CHEAP_OR_SOLAR = f"""\
alias: Charge on cheap or solar power
mode: restart
triggers:
  - trigger: numeric_state
    entity_id: energy_meter:home/grid.surplus_power
    above: 1400
    for: {{minutes: 2}}
    id: sun
  - trigger: numeric_state
    entity_id: energy_meter:home/tariff.price
    below: 0.15
    id: cheap
  - trigger: numeric_state
    entity_id: energy_meter:home/grid.surplus_power
    below: 1000
    for: {{minutes: 5}}
    id: cloud
conditions:
  - condition: state
    entity_id: {CAR}/{CABLE}
    state: true
actions:
  - if:
      - condition: trigger
        id: [sun, cheap]
    then:
      - device: {CAR}
        action: charging.start
      - device: wallbox:garage
        action: charger.set_current_limit
        data: {{current_a: 16}}
    else:
      - if:
          - not:
              - condition: numeric_state
                entity_id: energy_meter:home/tariff.price
                below: 0.15
        then:
          - device: {CAR}
            action: charging.stop
"""


@pytest.mark.parametrize("text", [ARRIVING_HOME, LEAVING_HOME, PREHEAT, CHEAP_OR_SOLAR])
def test_the_four_scenes_of_the_issue_parse(text: str) -> None:
    automation = parse(text)
    assert automation.triggers
    assert automation.actions


def test_shipped_automations_parse() -> None:
    texts = shipped_automations(HomeBindings(car=CAR, hall_light="light:hall"))
    assert set(texts) == set(AUTOMATIONS)
    for key, text in texts.items():
        automation = parse_automation(text, CONTEXT, automation_id=key)
        assert automation.id == key


# --- refusals: YAML and size ------------------------------------------------------------------


def test_unparseable_yaml_points_at_the_fault() -> None:
    line, path, reason = one_problem("alias: x\ntriggers:\n  - trigger: [state\nactions: []\n")
    assert line == 4
    assert path == ""
    assert reason.startswith("not valid YAML")


def test_unparseable_yaml_tab_indentation() -> None:
    line, _, reason = one_problem("alias: x\ntriggers:\n\t- trigger: state\n")
    assert line == 3
    assert "not valid YAML" in reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("- alias: x\n", "an automation must be a mapping, not a list"),
        ("just text\n", "an automation must be a mapping, not 'just text'"),
        ("", "the text is empty; expected a mapping"),
        ("# only a comment\n", "the text is empty; expected a mapping"),
    ],
)
def test_top_must_be_a_mapping(text: str, reason: str) -> None:
    assert one_problem(text) == (1, "", reason)


def test_two_documents_are_refused() -> None:
    line, _, reason = one_problem(HEAD + "actions: [{stop: x}]\n---\nalias: y\n")
    assert line == 6
    assert "single document" in reason


def test_too_large_text() -> None:
    text = HEAD + "description: " + "x" * (64 * 1024) + "\nactions: [{stop: }]\n"
    assert one_problem(text) == (1, "", "too large: more than 64 KiB of text")


def test_too_many_nodes() -> None:
    text = HEAD + "actions:\n" + "  - delay: 1\n" * 700
    line, _, reason = one_problem(text)
    assert reason == "too large: more than 2000 YAML nodes"
    assert line > 600


def test_nesting_deeper_than_twelve_levels() -> None:
    text = HEAD + "actions:\n  - stop: " + "[" * 12 + "]" * 12 + "\n"
    line, _, reason = one_problem(text)
    assert (line, reason) == (6, "nested deeper than 12 levels")


def test_deep_nesting_of_a_huge_flow_is_refused_without_recursion_error() -> None:
    line, _, reason = one_problem("a: " + "[" * 5000 + "]" * 5000)
    assert (line, reason) == (1, "nested deeper than 12 levels")


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "    id: &x a\nactions: [{stop: }]\n",
        "a: &a [1, 2]\nb: [*a, *a]\n",
        HEAD + "actions:\n  - stop: *undefined\n",
    ],
)
def test_anchors_and_aliases_are_refused(text: str) -> None:
    _, _, reason = one_problem(text)
    assert reason == "YAML anchors and aliases (&name, *name) are not allowed; write each value out"


def test_billion_laughs_is_refused_at_the_first_anchor() -> None:
    text = 'a: &a ["lol","lol","lol"]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\n'
    assert one_problem(text)[0] == 1


def test_yaml_tags_are_refused() -> None:
    line, _, reason = one_problem(HEAD + "actions:\n  - stop: !!python/object:os.system x\n")
    assert line == 6
    assert reason.startswith("YAML tags (tag:yaml.org,2002:python/object:os.system)")


def test_duplicate_keys() -> None:
    found = problems(HEAD + "    entity_id: light:hall/light.on\nactions: [{stop: }]\nalias: y\n")
    assert found == [
        (5, "triggers/0/entity_id", "duplicate key 'entity_id'"),
        (7, "alias", "duplicate key 'alias'"),
    ]


def test_unknown_keys_name_the_allowed_ones() -> None:
    found = problems(HEAD + "    to: true\n    entity: x\nactions: [{stop: }]\ntrigger: x\n")
    assert found == [
        (
            6,
            "triggers/0/entity",
            "unknown key 'entity' in a state trigger; allowed: trigger, entity_id, from, to, for, "
            "id",
        ),
        (
            8,
            "trigger",
            "unknown key 'trigger' in an automation; allowed: alias, triggers, actions, "
            "description, mode, max, conditions",
        ),
    ]


def test_missing_required_keys() -> None:
    found = problems("description: no alias\ntriggers:\n  - trigger: zone\n    zone: home\n")
    assert found == [
        (1, "", "an automation is missing required key(s): alias, actions"),
        (3, "triggers/0", "a zone trigger is missing required key(s): entity_id"),
    ]


def test_missing_kind_keys() -> None:
    found = problems("alias: x\ntriggers:\n  - entity_id: a\nactions:\n  - wait: 5\n")
    assert found == [
        (
            3,
            "triggers/0",
            "missing key 'trigger': one of state, numeric_state, zone, eta, time, event",
        ),
        (
            5,
            "actions/0",
            "an action needs one of these keys: device (with action or set), notify, delay, "
            "wait_for_trigger, scene, if, condition, stop",
        ),
    ]


def test_unknown_trigger_kind() -> None:
    line, path, reason = one_problem("alias: x\ntriggers:\n  - trigger: sun\nactions: [{stop: }]\n")
    assert (line, path) == (3, "triggers/0/trigger")
    assert reason == ("must be one of state, numeric_state, zone, eta, time, event, not 'sun'")


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        ('""', "must be 1..100 characters, not 0"),
        ("x" * 101, "must be 1..100 characters, not 101"),
        ("12", "must be text, not 12 (quote it)"),
        ("", "expected a value, found nothing (null); leave the key out"),
    ],
)
def test_alias_rules(alias: str, reason: str) -> None:
    assert one_problem(
        f"alias: {alias}\n" + HEAD[len("alias: Test\n") :] + "actions: [{stop: }]\n"
    ) == (
        1,
        "alias",
        reason,
    )


def test_mode_and_max() -> None:
    found = problems(
        HEAD.replace("alias: Test\n", "alias: T\nmode: lazy\n") + "actions: [{stop: }]\n"
    )
    assert found == [(2, "mode", "must be one of single, restart, queued, parallel, not 'lazy'")]
    found = problems(HEAD + "max: 5\nactions: [{stop: }]\n")
    assert found == [
        (
            5,
            "max",
            "max limits queued and parallel runs only; this mode is single (use mode: queued or "
            "mode: parallel, or leave max out)",
        )
    ]
    found = problems(HEAD + "mode: queued\nmax: 0\nactions: [{stop: }]\n")
    assert found == [(6, "max", "must be a whole number 1..100, not 0")]


def test_too_many_triggers_and_actions() -> None:
    many = "alias: x\ntriggers:\n" + "  - {trigger: time, at: '01:00'}\n" * 51
    many += "actions:\n" + "  - {stop: }\n" * 101
    found = problems(many)
    assert found == [
        (3, "triggers", "at most 50 triggers, not 51"),
        (55, "actions", "at most 100 actions (nested ones count), not 101"),
    ]


def test_nested_actions_count() -> None:
    inner = "      - {stop: }\n" * 60
    text = HEAD + "actions:\n  - if: [{condition: trigger, id: x}]\n    then:\n" + inner
    text += "    else:\n" + inner
    text = text.replace(
        "    entity_id: light:hall/light.on\n", "    entity_id: light:hall/light.on\n    id: x\n"
    )
    assert one_problem(text) == (
        7,
        "actions",
        "at most 100 actions (nested ones count), not 121",
    )


def test_empty_lists_are_refused() -> None:
    found = problems("alias: x\ntriggers: []\nactions: []\n")
    assert found == [
        (2, "triggers", "expected a list of 1..50 triggers, not an empty list"),
        (3, "actions", "expected a non-empty list of actions, not an empty list"),
    ]


# --- refusals: the household's names -----------------------------------------------------------


def test_unknown_device_lists_close_matches() -> None:
    line, path, reason = one_problem(
        "alias: x\ntriggers:\n  - trigger: state\n    entity_id: light:hal/light.on\n"
        "actions: [{stop: }]\n"
    )
    assert (line, path) == (4, "triggers/0/entity_id")
    assert reason.startswith(
        "unknown device 'light:hal' (did you mean 'light:hall' or 'light:living'?); devices: "
    )


def test_device_id_without_kind_says_the_shape() -> None:
    _, path, reason = one_problem(HEAD + "actions:\n  - device: hall\n    action: light.turn_on\n")
    assert path == "actions/0/device"
    assert reason.startswith("unknown device 'hall' (a device id is <kind>:<id>, like light:hall)")


def test_entity_without_a_slash() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: state\n    entity_id: light:hall\nactions: [{stop: }]\n"
    )
    assert found == [
        (
            4,
            "triggers/0/entity_id",
            "'light:hall' is not <device>/<service>.<name> (like light:hall/light.on)",
        )
    ]


def test_unknown_property_lists_what_the_device_has() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: state\n"
        "    entity_id: [light:hall/light.on, light:hall/light.of]\nactions: [{stop: }]\n"
    )
    assert found == [
        (
            4,
            "triggers/0/entity_id/1",
            "light:hall has no property 'light.of' (did you mean 'light.on'?); its properties: "
            "light.brightness, light.on",
        )
    ]


def test_unknown_car_property_suggests_the_vss_path() -> None:
    found = problems(
        f"alias: x\ntriggers:\n  - trigger: numeric_state\n"
        f"    entity_id: {CAR}/Vehicle.Powertrain.TractionBattery.StateOfCharge.Curent\n"
        "    below: 20\nactions: [{stop: }]\n"
    )
    assert len(found) == 1
    assert found[0][0] == 4
    assert f"(did you mean '{SOC}'" in found[0][2]
    assert "in all)" in found[0][2]


def test_unknown_action_and_event_list_what_the_device_has() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: event\n    device: garage_door:main\n"
        "    event: door.opened\nactions:\n  - device: garage_door:main\n    action: door.lift\n"
    )
    assert found == [
        (
            5,
            "triggers/0/event",
            "garage_door:main has no event 'door.opened' (did you mean 'door.obstructed'?); its "
            "events: door.obstructed",
        ),
        (
            8,
            "actions/0/action",
            "garage_door:main has no action 'door.lift' (did you mean 'door.stop' or "
            "'door.close'?); its actions: door.close, door.open, door.stop",
        ),
    ]


def test_car_action_is_a_remote_command() -> None:
    automation = parse(
        HEAD + f"actions:\n  - device: {CAR}\n    action: charge_limit.set\n"
        "    data: {percent: 80}\n"
    )
    assert automation.actions == (
        DeviceAction(Where("actions/0", 6), CAR, "charge_limit.set", {"percent": 80}),
    )
    _, _, reason = one_problem(HEAD + f"actions:\n  - device: {CAR}\n    action: key.enroll\n")
    assert reason.startswith(f"{CAR} has no action 'key.enroll'")


def test_set_refuses_a_read_only_property() -> None:
    found = problems(
        HEAD + "actions:\n  - device: thermostat:living\n    set:\n"
        "      thermostat.current_temperature: 20\n      thermostat.moda: heat\n"
    )
    assert found == [
        (
            8,
            "actions/0/set/thermostat.current_temperature",
            "thermostat:living cannot write the read-only property "
            "'thermostat.current_temperature' (did you mean 'thermostat.target_temperature'?); "
            "its writable properties: thermostat.mode, thermostat.target_temperature",
        ),
        (
            9,
            "actions/0/set/thermostat.moda",
            "thermostat:living has no property 'thermostat.moda' (did you mean "
            "'thermostat.mode'?); its writable properties: thermostat.mode, "
            "thermostat.target_temperature",
        ),
    ]


def test_set_needs_values() -> None:
    found = problems(HEAD + "actions:\n  - device: light:hall\n    set: {}\n")
    assert found == [(7, "actions/0/set", "set needs at least one property: value")]


def test_device_with_neither_action_nor_set() -> None:
    found = problems(HEAD + "actions:\n  - device: light:hall\n")
    assert found == [(6, "actions/0", "a device action is missing required key(s): action")]


def test_numeric_state_on_a_non_number() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: numeric_state\n    entity_id: light:hall/light.on\n"
        "    above: 0\nconditions:\n  - condition: numeric_state\n"
        "    entity_id: garage_door:main/door.state\n    below: 3\nactions: [{stop: }]\n"
    )
    assert found == [
        (
            4,
            "triggers/0/entity_id",
            "light:hall/light.on is bool, not a number; use a state trigger or condition for it",
        ),
        (
            8,
            "conditions/0/entity_id",
            "garage_door:main/door.state is string, not a number; use a state trigger or "
            "condition for it",
        ),
    ]


@pytest.mark.parametrize(
    ("entity", "key", "value", "reason"),
    [
        (
            "light:hall/light.on",
            "to",
            "maybe",
            "invalid value 'maybe' for light:hall/light.on: must be true or false",
        ),
        (
            "light:hall/light.on",
            "to",
            "on",
            "invalid value 'on' for light:hall/light.on: must be true or false (on is text here; "
            "write true or false)",
        ),
        (
            "light:hall/light.on",
            "from",
            "yes",
            "invalid value 'yes' for light:hall/light.on: must be true or false (yes is text "
            "here; write true or false)",
        ),
        (
            "garage_door:main/door.state",
            "to",
            "40",
            "invalid value 40 for garage_door:main/door.state: must be text",
        ),
        (
            "garage_door:main/door.state",
            "to",
            "ajar",
            "invalid value 'ajar' for garage_door:main/door.state: must be one of open, opening, "
            "closed, closing, stopped",
        ),
        (
            "thermostat:living/thermostat.target_temperature",
            "to",
            "99",
            "invalid value 99 for thermostat:living/thermostat.target_temperature: must be 5..35 "
            "Cel",
        ),
        (
            "light:hall/light.brightness",
            "to",
            "12.5",
            "invalid value 12.5 for light:hall/light.brightness: must be an integer",
        ),
    ],
)
def test_state_trigger_values_follow_the_property_spec(
    entity: str, key: str, value: str, reason: str
) -> None:
    text = f"alias: x\ntriggers:\n  - trigger: state\n    entity_id: {entity}\n    {key}: {value}\n"
    assert one_problem(text + "actions: [{stop: }]\n") == (5, f"triggers/0/{key}", reason)


def test_state_condition_value_in_a_list_points_at_the_item() -> None:
    found = problems(
        HEAD + "conditions:\n  - condition: state\n    entity_id: thermostat:living/thermostat.mode"
        "\n    state:\n      - heat\n      - 40\nactions: [{stop: }]\n"
    )
    assert found == [
        (
            10,
            "conditions/0/state/1",
            "invalid value 40 for thermostat:living/thermostat.mode: must be text",
        )
    ]


def test_set_values_follow_the_property_spec() -> None:
    found = problems(
        HEAD + "actions:\n  - device: thermostat:living\n    set:\n"
        "      thermostat.target_temperature: 99\n"
    )
    assert found == [
        (
            8,
            "actions/0/set/thermostat.target_temperature",
            "invalid value 99 for thermostat:living/thermostat.target_temperature: must be "
            "5..35 Cel",
        )
    ]


def test_action_inputs_are_checked() -> None:
    found = problems(
        HEAD + f"actions:\n  - device: {CAR}\n    action: hvac.set\n    data: {{temp_c: 99}}\n"
        f"  - device: {CAR}\n    action: charge_limit.set\n"
        f"  - device: light:hall\n    action: light.turn_on\n    data:\n      brightnes: 50\n"
        f"  - device: wallbox:garage\n    action: charger.set_current_limit\n"
        f"    data: {{current_a: high}}\n"
    )
    assert found == [
        (
            8,
            "actions/0/data/temp_c",
            f"invalid value 99 for {CAR} hvac.set input temp_c: must be 15..30",
        ),
        (
            10,
            "actions/1/data",
            f"invalid value None for {CAR} charge_limit.set: argument percent is missing",
        ),
        (
            14,
            "actions/2/data/brightnes",
            "action light.turn_on has no input 'brightnes'; inputs: brightness",
        ),
        (
            17,
            "actions/3/data/current_a",
            "invalid value 'high' for wallbox:garage charger.set_current_limit input current_a: "
            "must be a number",
        ),
    ]


def test_event_data_is_checked_against_the_event_args() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: event\n    device: door_lock:front\n"
        "    event: lock.operated\n    data: {method: 3, who: ana}\nactions: [{stop: }]\n"
    )
    assert found == [
        (
            6,
            "triggers/0/data/method",
            "invalid value 3 for lock.operated argument method: must be text",
        ),
        (
            6,
            "triggers/0/data/who",
            "event lock.operated has no argument 'who'; it has: method",
        ),
    ]


@pytest.mark.parametrize("kind", ["zone", "eta"])
def test_zone_and_eta_need_a_device_with_a_position(kind: str) -> None:
    extra = "    below: 5\n" if kind == "eta" else ""
    found = problems(
        f"alias: x\ntriggers:\n  - trigger: {kind}\n    entity_id: [phone:ana, light:hall]\n"
        f"    zone: home\n{extra}actions: [{{stop: }}]\n"
    )
    assert found == [
        (
            4,
            "triggers/0/entity_id/1",
            "light:hall has no position; zone and ETA rules need a device of kind car or phone",
        )
    ]


def test_zone_condition_needs_a_device_with_a_position() -> None:
    found = problems(
        HEAD + "conditions:\n  - condition: zone\n    entity_id: garage_door:main\n"
        "    zone: home\nactions: [{stop: }]\n"
    )
    assert found == [
        (
            7,
            "conditions/0/entity_id",
            "garage_door:main has no position; zone and ETA rules need a device of kind car or "
            "phone",
        )
    ]


def test_unknown_zone_scene_and_person() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: zone\n    entity_id: phone:ana\n    zone: hom\n"
        "conditions:\n  - condition: presence\n    person: carl\n    at: office\n"
        "actions:\n  - scene: awy\n  - notify: [ana, bob]\n    message: hi\n"
    )
    assert found == [
        (
            5,
            "triggers/0/zone",
            "unknown zone 'hom' (did you mean 'home'?); the household's zones: home, work",
        ),
        (8, "conditions/0/person", "unknown person 'carl'; the household's people: ana, ben, cleo"),
        (
            9,
            "conditions/0/at",
            "unknown place 'office': write 'car' or a zone of the household; zones: home, work",
        ),
        (
            11,
            "actions/0/scene",
            "unknown scene 'awy' (did you mean 'away'?); the household's scenes: away, evening",
        ),
        (
            12,
            "actions/1/notify/1",
            "unknown person 'bob' (a person id or an e-mail address); the household's people: "
            "ana, ben, cleo",
        ),
    ]


# --- refusals: durations, times, weekdays, bounds ----------------------------------------------


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        (
            "-5",
            '-5 is not a duration; write "HH:MM:SS", "HH:MM", a number of seconds, or {minutes: 5}',
        ),
        (
            '"5 minutes"',
            '\'5 minutes\' is not a duration; write "HH:MM:SS", "HH:MM", a number '
            "of seconds, or {minutes: 5}",
        ),
        (
            '"00:61:00"',
            '\'00:61:00\' is not a duration; write "HH:MM:SS", "HH:MM", a number of '
            "seconds, or {minutes: 5}",
        ),
        (
            "true",
            'True is not a duration; write "HH:MM:SS", "HH:MM", a number of seconds, or '
            "{minutes: 5}",
        ),
        ("{days: 8}", "a duration is at most 7 days, not 691200 s"),
        ('"169:00:00"', "a duration is at most 7 days, not 608400 s"),
        (
            "{}",
            "a duration mapping needs at least one of days, hours, minutes, seconds, milliseconds",
        ),
        (".inf", ".inf is not a finite number"),
        ("[1]", "expected a single value, not a list"),
    ],
)
def test_bad_delays(written: str, reason: str) -> None:
    assert one_problem(HEAD + f"actions:\n  - delay: {written}\n") == (
        6,
        "actions/0/delay",
        reason,
    )


def test_bad_duration_mapping_entries() -> None:
    found = problems(HEAD + "    for: {minutes: -1, weeks: 1}\nactions: [{stop: }]\n")
    assert found == [
        (5, "triggers/0/for/minutes", "minutes must be ≥ 0, not -1"),
        (
            5,
            "triggers/0/for/weeks",
            "unknown key 'weeks' in a duration; allowed: days, hours, minutes, seconds, "
            "milliseconds",
        ),
    ]


@pytest.mark.parametrize("written", ["24:00", '"7:61"', "730", '"07:30 am"', '"12:00:60"'])
def test_bad_times(written: str) -> None:
    text = f"alias: x\ntriggers:\n  - trigger: time\n    at: {written}\nactions: [{{stop: }}]\n"
    line, path, reason = one_problem(text)
    assert (line, path) == (4, "triggers/0/at")
    assert reason.endswith(
        'is not a time of day; write "HH:MM" or "HH:MM:SS" between 00:00 and 23:59:59'
    )


def test_bad_time_in_a_list_and_in_a_condition() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: time\n    at: ['07:00', '25:00']\n"
        "conditions:\n  - condition: time\n    before: noon\nactions: [{stop: }]\n"
    )
    assert [(line, path) for line, path, _ in found] == [
        (4, "triggers/0/at/1"),
        (7, "conditions/0/before"),
    ]


def test_bad_weekdays() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: time\n    at: '07:00'\n    weekday: [mon, funday]\n"
        "conditions:\n  - condition: time\n    weekday: 1\nactions: [{stop: }]\n"
    )
    assert found == [
        (
            5,
            "triggers/0/weekday/1",
            "'funday' is not a weekday; use mon, tue, wed, thu, fri, sat, sun",
        ),
        (8, "conditions/0/weekday", "must be text, not 1 (quote it)"),
    ]


def test_time_condition_needs_a_bound() -> None:
    found = problems(HEAD + "conditions:\n  - condition: time\nactions: [{stop: }]\n")
    assert found == [
        (6, "conditions/0", "a time condition needs at least one of after, before, weekday")
    ]


def test_numeric_bounds() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: numeric_state\n"
        "    entity_id: energy_meter:home/grid.power\n"
        "  - trigger: numeric_state\n    entity_id: energy_meter:home/grid.power\n"
        "    above: 100\n    below: 100\n"
        "conditions:\n  - condition: numeric_state\n    entity_id: energy_meter:home/grid.power\n"
        "    above: lots\nactions: [{stop: }]\n"
    )
    assert found == [
        (4, "triggers/0", "give at least one of above, below"),
        (
            8,
            "triggers/1/below",
            "above (100) must be less than below (100); nothing lies between them",
        ),
        (12, "conditions/0/above", "must be a number, not 'lots'"),
    ]


def test_eta_minutes_bounds() -> None:
    found = problems(
        f"alias: x\ntriggers:\n  - trigger: eta\n    entity_id: {CAR}\n    zone: home\n"
        "    below: 0\nactions: [{stop: }]\n"
    )
    assert found == [
        (6, "triggers/0/below", "below is minutes, more than 0 and at most 1440, not 0")
    ]


def test_wait_for_trigger_needs_triggers() -> None:
    found = problems(
        HEAD + "actions:\n  - wait_for_trigger: []\n  - wait_for_trigger:\n    timeout: 5\n"
    )
    assert found == [
        (6, "actions/0/wait_for_trigger", "expected a list of 1..50 triggers, not an empty list"),
        (
            7,
            "actions/1/wait_for_trigger",
            "expected a list of 1..50 triggers, not nothing (null)",
        ),
    ]


def test_condition_trigger_must_name_a_declared_id() -> None:
    found = problems(
        HEAD + "    id: lit\nconditions:\n  - condition: trigger\n    id: [lit, dark]\n"
        "actions:\n  - if: {condition: trigger, id: lits}\n    then: [{stop: }]\n"
    )
    assert found == [
        (8, "conditions/0/id/1", "no trigger has the id 'dark'; trigger ids: lit"),
        (
            10,
            "actions/0/if/0/id",
            "no trigger has the id 'lits' (did you mean 'lit'?); trigger ids: lit",
        ),
    ]


def test_condition_trigger_with_a_faulty_trigger_is_one_problem() -> None:
    found = problems(
        "alias: x\ntriggers:\n  - trigger: time\n    at: late\n    id: t\n"
        "conditions:\n  - condition: trigger\n    id: t\nactions: [{stop: }]\n"
    )
    assert [(line, path) for line, path, _ in found] == [(4, "triggers/0/at")]


def test_logic_conditions_need_conditions() -> None:
    found = problems(
        HEAD + "conditions:\n  - or: []\n  - condition: not\n    conditions: 5\n"
        "actions: [{stop: }]\n"
    )
    assert found == [
        (6, "conditions/0/or", "expected a non-empty list of conditions, not an empty list"),
        (8, "conditions/1/conditions", "expected a non-empty list of conditions, not '5'"),
    ]


def test_if_needs_then() -> None:
    found = problems(HEAD + "actions:\n  - if: [{condition: time, after: '07:00'}]\n")
    assert found == [(6, "actions/0", "an if action is missing required key(s): then")]


def test_problems_are_all_collected_in_line_order() -> None:
    text = f"""\
alias: ""
mode: serial
triggers:
  - trigger: state
    entity_id: light:hall/light.on
    to: on
  - trigger: zone
    entity_id: light:hall
    zone: home
conditions:
  - condition: presence
    person: zoe
    at: home
actions:
  - device: {CAR}
    action: hvac.set
    data: {{temp_c: 40}}
  - delay: soon
  - scene: party
"""
    with pytest.raises(AutomationError) as caught:
        parse(text)
    assert [(p.line, p.path) for p in caught.value.problems] == [
        (1, "alias"),
        (2, "mode"),
        (6, "triggers/0/to"),
        (8, "triggers/1/entity_id"),
        (12, "conditions/0/person"),
        (17, "actions/0/data/temp_c"),
        (18, "actions/1/delay"),
        (19, "actions/2/scene"),
    ]
    assert all(p.column >= 1 for p in caught.value.problems)
    assert str(caught.value).startswith("line 1, column 8 (alias): must be 1..100 characters")


def test_presence_needs_the_persons_phone() -> None:
    found = problems(
        HEAD + "conditions:\n  - condition: presence\n    person: cleo\n    at: car\n"
        "actions: [{stop: }]\n"
    )
    assert found == [
        (
            7,
            "conditions/0/person",
            "cleo has no phone (phone:cleo) among the household's devices; presence follows a "
            "person's phone",
        )
    ]
