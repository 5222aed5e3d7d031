"""Conditions: each kind checked against a hand-made view, and top-level conditions in traces."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
from zoneinfo import ZoneInfo

import pytest

from smartev.ecosystem.conditions import check
from smartev.ecosystem.engine import Person
from smartev.ecosystem.model import (
    AndCondition,
    Condition,
    DeviceAction,
    NotCondition,
    NumericCondition,
    OrCondition,
    PresenceCondition,
    StateCondition,
    StateTrigger,
    TimeCondition,
    TriggerCondition,
    ZoneCondition,
)
from smartev.spec.devices import Scalar
from tests.ecosystem.engine_helpers import (
    CAR,
    FAR,
    HOME,
    Home,
    automation,
    e,
    move,
    new_home,
    standard_devices,
    w,
)


@dataclass
class View:
    values: dict[tuple[str, str], Scalar] = field(default_factory=dict)
    since: dict[tuple[str, str], float] = field(default_factory=dict)
    zones: dict[tuple[str, str], bool] = field(default_factory=dict)
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    at: datetime = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)  # Monday
    tz: tzinfo = UTC

    def now(self) -> datetime:
        return self.at

    def timestamp(self) -> float:
        return self.at.timestamp()

    def value(self, device: str, ref: str) -> Scalar | None:
        return self.values.get((device, ref))

    def held_since(self, device: str, ref: str) -> float:
        return self.since.get((device, ref), 0.0)

    def inside(self, device: str, zone: str) -> bool | None:
        if zone not in ("home", "work"):
            raise LookupError(zone)
        return self.zones.get((device, zone))

    def position(self, device: str) -> tuple[float, float] | None:
        return self.positions.get(device)

    def cars(self) -> list[str]:
        return [d for d in self.positions if d.startswith("car:")]

    def phone_of(self, person: str) -> str | None:
        return self.phones.get(person)


W = w("conditions/0")
LIGHT = e("light:hall/light.on")
POWER = e("energy_meter:home/grid.surplus_power")


def holds(condition: Condition, view: View, trigger_id: str = "") -> bool:
    return check(condition, view, trigger_id)[0]


def test_state_condition_one_of_states_for_every_entity() -> None:
    view = View(values={("light:hall", "light.on"): True, ("light:living", "light.on"): False})
    assert holds(StateCondition(W, (LIGHT,), (True,)), view)
    assert not holds(StateCondition(W, (LIGHT,), (False,)), view)
    both = StateCondition(W, (LIGHT, e("light:living/light.on")), (True,))
    result = check(both, view, "")
    assert result == (False, "light:living/light.on is false, not true")
    assert not holds(StateCondition(W, (LIGHT,), (1,)), view)  # True is not 1
    assert not holds(StateCondition(W, (e("light:x/light.on"),), (True,)), view)  # unknown


def test_state_condition_for_needs_the_value_to_have_held() -> None:
    view = View(values={("light:hall", "light.on"): True})
    view.since[("light:hall", "light.on")] = view.timestamp() - 30
    assert holds(StateCondition(W, (LIGHT,), (True,), for_s=30), view)
    holds_, detail = check(StateCondition(W, (LIGHT,), (True,), for_s=60), view, "")
    assert not holds_
    assert "only for 00:00:30, not yet 00:01:00" in detail


def test_numeric_condition_strict_bounds_and_non_numbers() -> None:
    view = View(values={("energy_meter:home", "grid.surplus_power"): 1500.0})
    assert holds(NumericCondition(W, (POWER,), above=1400), view)
    assert not holds(NumericCondition(W, (POWER,), above=1500), view)
    assert holds(NumericCondition(W, (POWER,), above=1000, below=2000), view)
    assert not holds(NumericCondition(W, (POWER,), below=1000), view)
    view.values[("energy_meter:home", "grid.surplus_power")] = True
    assert not holds(NumericCondition(W, (POWER,), above=0), view)
    assert not holds(NumericCondition(W, (e("energy_meter:x/grid.power"),), above=0), view)


def test_time_condition_window_weekdays_and_time_zone() -> None:
    view = View()  # Monday 08:00 UTC
    assert holds(TimeCondition(W, after=time(7), before=time(9)), view)
    assert not holds(TimeCondition(W, after=time(9)), view)
    assert holds(TimeCondition(W, after=time(22), before=time(9)), view)  # wraps midnight
    assert not holds(TimeCondition(W, weekdays=frozenset({5, 6})), view)
    window = TimeCondition(W, after=time(7), before=time(9))
    assert check(window, view, "")[1] == "it is 08:00:00 on mon, inside after 07:00 before 09:00"
    view.tz = ZoneInfo("Europe/Berlin")  # 09:00 there
    assert not holds(TimeCondition(W, after=time(7), before=time(9)), view)


def test_zone_condition_every_device_inside() -> None:
    view = View(zones={(CAR, "home"): True, ("phone:ana", "home"): False})
    assert holds(ZoneCondition(W, (CAR,), "home"), view)
    assert not holds(ZoneCondition(W, (CAR, "phone:ana"), "home"), view)
    assert check(ZoneCondition(W, ("phone:bo",), "home"), view, "") == (
        False,
        "the position of phone:bo is not known",
    )
    assert check(ZoneCondition(W, (CAR,), "moon"), view, "") == (False, "there is no zone moon")


def test_presence_condition_in_a_zone_and_not() -> None:
    view = View(phones={"ana": "phone:ana"}, zones={("phone:ana", "home"): True})
    assert holds(PresenceCondition(W, "ana", "home"), view)
    assert not holds(PresenceCondition(W, "ana", "home", present=False), view)
    assert not holds(PresenceCondition(W, "bo", "home"), view)  # no phone
    assert not holds(PresenceCondition(W, "ana", "work"), view)  # position there unknown
    assert not holds(PresenceCondition(W, "ana", "work", present=False), view)  # unknown too


def test_presence_condition_in_the_car_means_the_phone_is_near_a_car() -> None:
    view = View(
        phones={"ana": "phone:ana"},
        positions={CAR: (52.5, 13.4), "phone:ana": (52.5002, 13.4)},  # ~22 m apart
    )
    assert check(PresenceCondition(W, "ana", "car"), view, "") == (True, "ana is in a car")
    view.positions["phone:ana"] = (52.501, 13.4)  # ~110 m
    assert not holds(PresenceCondition(W, "ana", "car"), view)
    assert holds(PresenceCondition(W, "ana", "car", present=False), view)
    del view.positions["phone:ana"]
    assert not holds(PresenceCondition(W, "ana", "car", present=False), view)


def test_trigger_condition() -> None:
    view = View()
    assert holds(TriggerCondition(W, ("opened", "closed")), view, "opened")
    assert not holds(TriggerCondition(W, ("opened",)), view, "")


def test_and_or_not() -> None:
    view = View(values={("light:hall", "light.on"): True})
    on = StateCondition(W, (LIGHT,), (True,))
    off = StateCondition(W, (LIGHT,), (False,))
    assert holds(AndCondition(W, (on, on)), view)
    assert not holds(AndCondition(W, (on, off)), view)
    assert holds(OrCondition(W, (off, on)), view)
    assert not holds(OrCondition(W, (off, off)), view)
    assert holds(NotCondition(W, (off,)), view)
    assert not holds(NotCondition(W, (off, on)), view)


# --- through the engine ---


@pytest.fixture
async def home() -> AsyncIterator[Home]:
    h = new_home(
        devices=standard_devices(),
        zones={"home": HOME},
        people={"ana": Person("ana", "Ana", "phone:ana")},
    )
    await h.engine.start()
    yield h
    await h.engine.stop()


TRIGGER = StateTrigger(w("triggers/0"), (e("garage_door:main/door.state"),), id="door")
ACTION = DeviceAction(w("actions/0"), "light:hall", "light.turn_on")


async def test_conditions_are_recorded_and_stop_at_the_first_false(home: Home) -> None:
    conditions = (
        TriggerCondition(w("conditions/0"), ("door",)),
        StateCondition(w("conditions/1"), (LIGHT,), (True,)),
        StateCondition(w("conditions/2"), (LIGHT,), (False,)),
    )
    home.engine.load(automation("a", TRIGGER, ACTION, conditions))
    home["garage_door:main"].report("door.state", "open")
    await home.settle()
    trace = home.finished[0]
    assert trace.outcome == "conditions_failed"
    assert [(s.path, s.kind, s.result.value) for s in trace.conditions] == [
        ("conditions/0", "trigger", "true"),
        ("conditions/1", "state", "false"),
    ]
    assert trace.error == "light:hall/light.on is false, not true"
    assert trace.actions == []
    assert home["light:hall"].calls == []


async def test_state_condition_for_uses_the_time_since_the_last_change(home: Home) -> None:
    condition = StateCondition(w("conditions/0"), (LIGHT,), (True,), for_s=60)
    home.engine.load(automation("a", TRIGGER, ACTION, (condition,), enabled=True))
    home["light:hall"].report("light.on", True)
    await home.settle(30)
    home["garage_door:main"].report("door.state", "open")
    await home.settle(40)
    home["garage_door:main"].report("door.state", "closed")
    await home.settle()
    assert home.outcomes("a") == ["conditions_failed", "finished"]


async def test_zone_and_presence_conditions_use_the_engine_positions(home: Home) -> None:
    conditions = (
        ZoneCondition(w("conditions/0"), (CAR,), "home"),
        PresenceCondition(w("conditions/1"), "ana", "car"),
    )
    home.engine.load(automation("a", TRIGGER, ACTION, conditions, enabled=True))
    move(home[CAR], *FAR)
    move(home["phone:ana"], *FAR)
    move(home[CAR], HOME.lat, HOME.lon)
    move(home["phone:ana"], HOME.lat + 0.0002, HOME.lon)  # 22 m from the car
    home["garage_door:main"].report("door.state", "open")
    await home.settle()
    assert home.outcomes("a") == ["finished"]
    move(home["phone:ana"], HOME.lat + 0.002, HOME.lon)  # 220 m: not in the car
    home["garage_door:main"].report("door.state", "closed")
    await home.settle()
    assert home.outcomes("a") == ["finished", "conditions_failed"]
    assert home.finished[-1].error == "ana is not in a car"
