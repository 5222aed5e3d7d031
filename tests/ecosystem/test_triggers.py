"""Every trigger kind through the engine: fires, does not fire, crossing-only, ``for:``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from smartev.core.clock import SimClock
from smartev.ecosystem.model import (
    DeviceAction,
    EtaTrigger,
    EventTrigger,
    Mode,
    NumericTrigger,
    StateTrigger,
    TimeTrigger,
    ZoneEvent,
    ZoneTrigger,
)
from tests.ecosystem.engine_helpers import (
    CAR,
    FAR,
    HOME,
    WORK,
    Home,
    automation,
    e,
    kind_device,
    move,
    new_home,
    standard_devices,
    w,
)

TURN_ON = DeviceAction(w("actions/0"), "light:living", "light.turn_on")


@pytest.fixture
async def home() -> AsyncIterator[Home]:
    h = new_home(devices=standard_devices(), zones={"home": HOME, "work": WORK})
    await h.engine.start()
    yield h
    await h.engine.stop()


def fired(home: Home, automation_id: str = "a") -> int:
    return sum(1 for t in home.finished if t.automation_id == automation_id)


# --- state ---


async def test_state_trigger_fires_on_change_to(home: Home) -> None:
    trigger = StateTrigger(
        w("triggers/0"), (e("garage_door:main/door.state"),), to_values=("open",), id="opened"
    )
    home.engine.load(automation("a", trigger, TURN_ON))
    home["garage_door:main"].report("door.state", "opening")
    await home.settle()
    assert fired(home) == 0
    home["garage_door:main"].report("door.state", "open")
    await home.settle()
    assert fired(home) == 1
    trace = home.finished[0]
    assert trace.outcome == "finished"
    assert trace.trigger.id == "opened"
    assert trace.trigger.kind == "state"
    assert (trace.trigger.from_value, trace.trigger.to_value) == ("opening", "open")
    assert trace.trigger.description == "garage_door:main/door.state changed from opening to open"
    assert home["light:living"].calls == [("light.turn_on", {})]


async def test_state_trigger_from_must_match_the_old_value(home: Home) -> None:
    trigger = StateTrigger(
        w("triggers/0"),
        (e("garage_door:main/door.state"),),
        from_values=("closed",),
        to_values=("open", "opening"),
    )
    home.engine.load(automation("a", trigger, TURN_ON))
    home["garage_door:main"].report("door.state", "stopped")  # closed → stopped: to mismatch
    home["garage_door:main"].report("door.state", "open")  # stopped → open: from mismatch
    await home.settle()
    assert fired(home) == 0
    home["garage_door:main"].report("door.state", "closed")
    home["garage_door:main"].report("door.state", "opening")
    await home.settle()
    assert fired(home) == 1


async def test_state_trigger_with_from_does_not_fire_when_the_old_value_is_unknown(
    home: Home,
) -> None:
    phone = home["phone:ana"]
    with_from = StateTrigger(
        w("triggers/0"), (e("phone:ana/location.accuracy"),), from_values=(5.0,)
    )
    without_from = StateTrigger(w("triggers/0"), (e("phone:ana/location.accuracy"),))
    home.engine.load(automation("a", with_from, TURN_ON))
    home.engine.load(automation("b", without_from, TURN_ON))
    phone.report("location.accuracy", 5.0)  # unknown → 5
    await home.settle()
    assert (fired(home, "a"), fired(home, "b")) == (0, 1)


async def test_state_trigger_without_to_fires_on_any_change_but_not_to_unknown(
    home: Home,
) -> None:
    trigger = StateTrigger(w("triggers/0"), (e("light:hall/light.brightness"),))
    home.engine.load(automation("a", trigger, TURN_ON, mode=Mode.PARALLEL))
    home["light:hall"].report("light.brightness", 60)
    home["light:hall"].report("light.brightness", None)
    await home.settle()
    assert fired(home) == 1


async def test_state_trigger_keeps_bools_apart_from_numbers(home: Home) -> None:
    trigger = StateTrigger(w("triggers/0"), (e("light:hall/light.brightness"),), to_values=(1,))
    bool_trigger = StateTrigger(w("triggers/0"), (e("light:hall/light.on"),), to_values=(1,))
    home.engine.load(automation("a", trigger, TURN_ON))
    home.engine.load(automation("b", bool_trigger, TURN_ON))
    home["light:hall"].report("light.brightness", 1)
    home["light:hall"].report("light.on", True)
    await home.settle()
    assert (fired(home, "a"), fired(home, "b")) == (1, 0)


async def test_state_trigger_on_several_entities_fires_for_each(home: Home) -> None:
    trigger = StateTrigger(
        w("triggers/0"), (e("light:hall/light.on"), e("light:living/light.on")), to_values=(True,)
    )
    action = DeviceAction(w("actions/0"), "door_lock:front", "lock.lock")
    home.engine.load(automation("a", trigger, action, mode=Mode.PARALLEL))
    home["light:hall"].report("light.on", True)
    home["light:living"].report("light.on", True)
    await home.settle()
    assert fired(home) == 2
    assert [t.trigger.device for t in home.finished] == ["light:hall", "light:living"]


async def test_state_trigger_for_fires_once_the_value_held(home: Home) -> None:
    trigger = StateTrigger(
        w("triggers/0"), (e("garage_door:main/door.state"),), to_values=("open",), for_s=30
    )
    home.engine.load(automation("a", trigger, TURN_ON))
    home["garage_door:main"].report("door.state", "open")
    await home.settle(29)
    assert fired(home) == 0
    await home.settle(1)
    assert fired(home) == 1
    trace = home.finished[0]
    assert "stayed so for 00:00:30" in trace.trigger.description
    assert trace.trigger.ts == home.clock.timestamp()
    await home.settle(300)
    assert fired(home) == 1  # once, not every 30 s


async def test_state_trigger_for_is_cancelled_when_the_value_changes_away(home: Home) -> None:
    trigger = StateTrigger(
        w("triggers/0"), (e("garage_door:main/door.state"),), to_values=("open",), for_s=30
    )
    home.engine.load(automation("a", trigger, TURN_ON))
    door = home["garage_door:main"]
    door.report("door.state", "open")
    await home.settle(20)
    door.report("door.state", "closing")
    await home.settle(60)
    assert fired(home) == 0
    door.report("door.state", "open")  # a new 30 s from here
    await home.settle(29)
    assert fired(home) == 0
    await home.settle(2)
    assert fired(home) == 1


async def test_pending_for_timer_is_dropped_when_the_automation_is_unloaded(home: Home) -> None:
    trigger = StateTrigger(
        w("triggers/0"), (e("garage_door:main/door.state"),), to_values=("open",), for_s=30
    )
    home.engine.load(automation("a", trigger, TURN_ON))
    home["garage_door:main"].report("door.state", "open")
    await home.settle(10)
    home.engine.unload("a")
    await home.settle(60)
    assert fired(home) == 0


# --- numeric_state ---


def _surplus_trigger(for_s: float = 0.0) -> NumericTrigger:
    return NumericTrigger(
        w("triggers/0"),
        (e("energy_meter:home/grid.surplus_power"),),
        above=1400,
        below=100_000,
        for_s=for_s,
    )


async def test_numeric_trigger_fires_on_the_crossing_only(home: Home) -> None:
    home.engine.load(automation("a", _surplus_trigger(), TURN_ON, mode=Mode.PARALLEL))
    meter = home["energy_meter:home"]
    meter.report("grid.surplus_power", 1400.0)  # the bound itself is outside (strict)
    await home.settle()
    assert fired(home) == 0
    meter.report("grid.surplus_power", 1500.0)
    meter.report("grid.surplus_power", 1600.0)  # still inside: no new crossing
    await home.settle()
    assert fired(home) == 1
    assert home.finished[0].trigger.description == (
        "energy_meter:home/grid.surplus_power went from 1400 to 1500, above 1400 and below 100000"
    )
    meter.report("grid.surplus_power", 100.0)  # leaves: re-armed
    meter.report("grid.surplus_power", 2000.0)
    await home.settle()
    assert fired(home) == 2


async def test_numeric_trigger_already_inside_at_load_does_not_fire(home: Home) -> None:
    home["energy_meter:home"].report("grid.surplus_power", 2000.0)
    home.engine.load(automation("a", _surplus_trigger(), TURN_ON))
    home["energy_meter:home"].report("grid.surplus_power", 2100.0)
    await home.settle()
    assert fired(home) == 0


async def test_numeric_trigger_unknown_previous_value_counts_as_outside(home: Home) -> None:
    trigger = NumericTrigger(w("triggers/0"), (e("phone:ana/location.accuracy"),), below=50)
    home.engine.load(automation("a", trigger, TURN_ON))
    home["phone:ana"].report("location.accuracy", 10.0)  # first appears inside
    await home.settle()
    assert fired(home) == 1


async def test_numeric_trigger_treats_non_numbers_as_outside(home: Home) -> None:
    trigger = NumericTrigger(w("triggers/0"), (e("light:hall/light.on"),), above=0)
    home.engine.load(automation("a", trigger, TURN_ON))
    home["light:hall"].report("light.on", True)  # True is not the number 1 here
    await home.settle()
    assert fired(home) == 0


async def test_numeric_trigger_for_held_fires(home: Home) -> None:
    home.engine.load(automation("a", _surplus_trigger(for_s=120), TURN_ON))
    meter = home["energy_meter:home"]
    meter.report("grid.surplus_power", 1500.0)
    await home.settle(60)
    meter.report("grid.surplus_power", 1800.0)  # still inside: the timer keeps running
    await home.settle(59)
    assert fired(home) == 0
    await home.settle(1)
    assert fired(home) == 1


async def test_numeric_trigger_for_interrupted_does_not_fire_and_rearms(home: Home) -> None:
    home.engine.load(automation("a", _surplus_trigger(for_s=120), TURN_ON))
    meter = home["energy_meter:home"]
    meter.report("grid.surplus_power", 1500.0)
    await home.settle(60)
    meter.report("grid.surplus_power", 900.0)
    await home.settle(300)
    assert fired(home) == 0
    meter.report("grid.surplus_power", 1500.0)
    await home.settle(120)
    assert fired(home) == 1


# --- event ---


async def test_event_trigger_matches_device_event_and_data(home: Home) -> None:
    trigger = EventTrigger(
        w("triggers/0"), "door_lock:front", "lock.operated", data={"method": "keypad"}
    )
    home.engine.load(automation("a", trigger, TURN_ON, mode=Mode.PARALLEL))
    lock = home["door_lock:front"]
    lock.fire("lock.operated", method="app")
    lock.fire("lock.operated")
    home["garage_door:main"].fire("door.obstructed")
    await home.settle()
    assert fired(home) == 0
    lock.fire("lock.operated", method="keypad")
    await home.settle()
    assert fired(home) == 1
    assert home.finished[0].trigger.description == (
        "door_lock:front fired lock.operated (method=keypad)"
    )


async def test_event_trigger_without_data_matches_any_arguments(home: Home) -> None:
    trigger = EventTrigger(w("triggers/0"), CAR, "car.plugged_in")
    home.engine.load(automation("a", trigger, TURN_ON))
    home[CAR].fire("car.plugged_in")
    await home.settle()
    assert fired(home) == 1


# --- zone ---


async def test_zone_trigger_enter_and_leave_fire_once_per_crossing(home: Home) -> None:
    car = home[CAR]
    move(car, *FAR)  # the first position only sets the state
    enter = ZoneTrigger(w("triggers/0"), (CAR,), "home", ZoneEvent.ENTER)
    leave = ZoneTrigger(w("triggers/0"), (CAR,), "home", ZoneEvent.LEAVE)
    home.engine.load(automation("enter", enter, TURN_ON, mode=Mode.PARALLEL))
    home.engine.load(automation("leave", leave, TURN_ON, mode=Mode.PARALLEL))
    move(car, HOME.lat, HOME.lon)
    move(car, HOME.lat + 0.0001, HOME.lon)  # still inside
    await home.settle()
    assert (fired(home, "enter"), fired(home, "leave")) == (1, 0)
    assert home.finished[0].trigger.description == f"{CAR} entered home"
    move(car, *FAR)
    await home.settle()
    assert (fired(home, "enter"), fired(home, "leave")) == (1, 1)


async def test_zone_trigger_ignores_other_zones_and_devices(home: Home) -> None:
    move(home[CAR], *FAR)
    move(home["phone:ana"], *FAR)
    enter = ZoneTrigger(w("triggers/0"), (CAR,), "home", ZoneEvent.ENTER)
    home.engine.load(automation("a", enter, TURN_ON))
    move(home[CAR], WORK.lat, WORK.lon)
    move(home["phone:ana"], HOME.lat, HOME.lon)
    await home.settle()
    assert fired(home) == 0


async def test_zone_trigger_for_a_phone(home: Home) -> None:
    move(home["phone:ana"], *FAR)
    enter = ZoneTrigger(w("triggers/0"), ("phone:ana",), "home", ZoneEvent.ENTER)
    home.engine.load(automation("a", enter, TURN_ON))
    move(home["phone:ana"], HOME.lat, HOME.lon)
    await home.settle()
    assert fired(home) == 1


async def test_position_known_at_start_does_not_fire_an_enter() -> None:
    car = kind_device(CAR)
    h = new_home(devices=(car,), zones={"home": HOME})
    car.initial.clear()
    h.engine.load(automation("a", ZoneTrigger(w("triggers/0"), (CAR,), "home"), TURN_ON))
    await h.engine.start()
    move(car, HOME.lat, HOME.lon)  # first fix: sets state only
    await h.settle()
    assert h.finished == []
    await h.engine.stop()


# --- eta ---


async def _drive_towards_home(home: Home, start_lat: float, step_s: float = 10.0) -> None:
    """Drive south towards home at 50 km/h, one fix every ``step_s``, until inside."""
    car = home[CAR]
    lat = start_lat
    per_step = 50 / 3.6 * step_s / 111_195  # degrees of latitude per step
    while lat > HOME.lat:
        lat = max(HOME.lat, lat - per_step)
        move(car, lat, HOME.lon, speed=50.0)
        await home.settle(step_s)


async def test_eta_trigger_fires_once_when_the_eta_drops_below(home: Home) -> None:
    trigger = EtaTrigger(w("triggers/0"), (CAR,), "home", below_min=5)
    home.engine.load(automation("a", trigger, TURN_ON, mode=Mode.PARALLEL))
    await _drive_towards_home(home, HOME.lat + 0.06)  # ~6.7 km: ~9 min away
    assert fired(home) == 1
    trace = home.finished[0]
    assert trace.trigger.kind == "eta"
    assert "min from home (below 5 min)" in trace.trigger.description


async def test_eta_trigger_rearms_after_arriving(home: Home) -> None:
    trigger = EtaTrigger(w("triggers/0"), (CAR,), "home", below_min=5)
    home.engine.load(automation("a", trigger, TURN_ON, mode=Mode.PARALLEL))
    await _drive_towards_home(home, HOME.lat + 0.06)
    move(home[CAR], *FAR, speed=0.0)  # somewhere else entirely
    await home.settle(600)
    await _drive_towards_home(home, HOME.lat + 0.06)
    assert fired(home) == 2


async def test_eta_trigger_does_not_fire_when_far_or_without_speed(home: Home) -> None:
    trigger = EtaTrigger(w("triggers/0"), (CAR,), "home", below_min=1)
    home.engine.load(automation("a", trigger, TURN_ON))
    car = home[CAR]
    move(car, HOME.lat + 0.05, HOME.lon, speed=50.0)
    move(car, HOME.lat + 0.049, HOME.lon, speed=50.0)
    await home.settle(10)
    assert fired(home) == 0


# --- time ---


async def test_time_trigger_fires_at_the_time_every_day(home: Home) -> None:
    trigger = TimeTrigger(w("triggers/0"), (time(8, 30),))
    home.engine.load(automation("a", trigger, TURN_ON))
    await home.settle(29 * 60)
    assert fired(home) == 0
    await home.settle(60)
    assert fired(home) == 1
    assert home.finished[0].trigger.description == "it is 08:30:00 on Monday"
    await home.settle(24 * 3600)
    assert fired(home) == 2


async def test_time_trigger_respects_weekdays_and_the_engine_time_zone() -> None:
    clock = SimClock(start=datetime(2025, 1, 10, 12, 0, tzinfo=UTC), speed=None)  # Friday
    h = new_home(clock=clock, tz=ZoneInfo("Europe/Berlin"))
    trigger = TimeTrigger(w("triggers/0"), (time(7, 30),), weekdays=frozenset({0}))  # Mondays
    h.engine.load(automation("a", trigger, TURN_ON))
    await h.engine.start()
    await h.settle(3 * 86400)  # Friday noon → Monday noon
    assert len(h.finished) == 1
    fired_at = datetime.fromtimestamp(h.finished[0].trigger.ts, UTC)
    assert fired_at == datetime(2025, 1, 13, 6, 30, tzinfo=UTC)  # 07:30 in Berlin
    await h.engine.stop()


async def test_time_triggers_are_replanned_when_automations_change(home: Home) -> None:
    home.engine.load(automation("late", TimeTrigger(w("triggers/0"), (time(9, 0),)), TURN_ON))
    await home.settle(60)
    home.engine.load(automation("early", TimeTrigger(w("triggers/0"), (time(8, 10),)), TURN_ON))
    home.engine.unload("late")
    await home.settle(3600)
    assert [t.automation_id for t in home.finished] == ["early"]


async def test_two_time_triggers_at_the_same_moment_both_fire(home: Home) -> None:
    at = TimeTrigger(w("triggers/0"), (time(8, 15), time(8, 45)))
    home.engine.load(automation("a", at, TURN_ON))
    home.engine.load(automation("b", at, TURN_ON))
    await home.settle()  # the planner plans before time moves on
    await home.settle(3600)
    assert (fired(home, "a"), fired(home, "b")) == (2, 2)
