"""The engine: modes, traces, loop detection, and the life of automations and runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smartev.ecosystem.engine import AutomationEngine
from smartev.ecosystem.engine_runs import MAX_CHAIN_DEPTH, RATE_LIMIT_RUNS
from smartev.ecosystem.errors import UnknownAutomationError
from smartev.ecosystem.model import (
    DelayAction,
    DeviceAction,
    Mode,
    SetAction,
    StateCondition,
    StateTrigger,
)
from smartev.ecosystem.registry import RunContext
from tests.ecosystem.engine_helpers import (
    Home,
    automation,
    e,
    kind_device,
    new_home,
    standard_devices,
    w,
)

DOOR = e("garage_door:main/door.state")
TRIGGER = StateTrigger(w("triggers/0"), (DOOR,))
SLOW = (
    DelayAction(w("actions/0"), 60),
    DeviceAction(w("actions/1"), "light:hall", "light.toggle"),
)


@pytest.fixture
async def home() -> AsyncIterator[Home]:
    h = new_home(devices=standard_devices(), traces_kept=5)
    await h.engine.start()
    yield h
    await h.engine.stop()


async def trigger_door(home: Home, *states: str) -> None:
    for state in states:
        home["garage_door:main"].report("door.state", state)
        await home.settle()


# --- modes ---


async def test_single_mode_refuses_while_running(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW, mode=Mode.SINGLE))
    await trigger_door(home, "opening", "open")
    assert home.outcomes("a") == ["already_running"]
    assert home.finished[0].error == "already running (mode single)"
    await home.settle(60)
    assert home.outcomes("a") == ["already_running", "finished"]
    assert home["light:hall"].calls == [("light.toggle", {})]


async def test_restart_mode_replaces_the_running_run(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW, mode=Mode.RESTART))
    await trigger_door(home, "opening")
    await home.settle(30)
    await trigger_door(home, "open")
    assert home.outcomes("a") == ["restarted"]
    assert home.finished[0].error == "restarted by a newer trigger"
    await home.settle(59)
    assert home["light:hall"].calls == []
    await home.settle(1)
    assert home.outcomes("a") == ["restarted", "finished"]
    assert len(home["light:hall"].calls) == 1


async def test_queued_mode_runs_one_after_the_other_up_to_max(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW, mode=Mode.QUEUED, max_runs=2))
    await trigger_door(home, "opening", "open", "closing")
    assert home.outcomes("a") == ["already_running"]  # the third: 2 going or waiting
    assert "mode queued, max 2" in home.finished[0].error
    await home.settle(60)
    assert home.outcomes("a") == ["already_running", "finished"]
    await home.settle(60)
    assert home.outcomes("a") == ["already_running", "finished", "finished"]
    assert len(home["light:hall"].calls) == 2


async def test_parallel_mode_runs_side_by_side_up_to_max(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW, mode=Mode.PARALLEL, max_runs=2))
    await trigger_door(home, "opening", "open", "closing")
    assert home.outcomes("a") == ["already_running"]
    await home.settle(60)
    assert home.outcomes("a") == ["already_running", "finished", "finished"]


# --- traces ---


async def test_traces_are_kept_newest_first_up_to_the_limit(home: Home) -> None:
    action = DeviceAction(w("actions/0"), "light:hall", "light.toggle")
    home.engine.load(automation("a", TRIGGER, action))
    await trigger_door(home, "opening", "open", "closing", "closed", "opening", "open", "closing")
    traces = home.engine.traces("a")
    assert len(traces) == 5
    assert [t.trigger.to_value for t in traces] == [
        "closing",
        "open",
        "opening",
        "closed",
        "closing",
    ]
    assert home.engine.trace(traces[0].run_id) is traces[0]
    assert home.engine.trace(home.finished[0].run_id) is None  # dropped with the oldest
    assert len(home.finished) == 7  # on_trace saw every one


async def test_a_running_trace_is_visible_and_then_finished(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW))
    await trigger_door(home, "open")
    (trace,) = home.engine.traces("a")
    assert (trace.outcome, trace.finished) == ("running", None)
    assert [s.kind for s in trace.actions] == ["delay"]
    await home.settle(60)
    assert trace.outcome == "finished"
    assert trace.finished == trace.started + 60
    assert trace.trigger.path == "triggers/0"
    assert trace.caused_by == []


async def test_on_trace_errors_do_not_break_the_engine() -> None:
    def broken(trace: object) -> None:
        raise RuntimeError("consumer bug")

    h = new_home(devices=standard_devices())
    h.engine._on_trace = broken
    action = DeviceAction(w("actions/0"), "light:hall", "light.toggle")
    h.engine.load(automation("a", TRIGGER, action))
    await h.engine.start()
    await trigger_door(h, "open")
    assert h.engine.traces("a")[0].outcome == "finished"
    await h.engine.stop()


# --- manual runs ---


async def test_manual_run_returns_the_finished_trace(home: Home) -> None:
    condition = StateCondition(w("conditions/0"), (e("light:hall/light.on"),), (True,))
    action = DeviceAction(w("actions/0"), "light:hall", "light.toggle")
    home.engine.load(automation("a", TRIGGER, action, (condition,)))
    trace = await home.engine.run("a")
    assert (trace.outcome, trace.trigger.kind) == ("conditions_failed", "manual")
    trace = await home.engine.run("a", skip_conditions=True)
    assert trace.outcome == "finished"
    assert trace.conditions == []
    assert trace.trigger.description == "run by hand"


async def test_manual_run_of_a_disabled_automation_works_but_triggers_do_not(home: Home) -> None:
    action = DeviceAction(w("actions/0"), "light:hall", "light.toggle")
    home.engine.load(automation("a", TRIGGER, action, enabled=False))
    await trigger_door(home, "open")
    assert home.finished == []
    assert (await home.engine.run("a")).outcome == "finished"


async def test_unknown_automation_is_an_error(home: Home) -> None:
    with pytest.raises(UnknownAutomationError, match="unknown automation 'x'; loaded: none"):
        await home.engine.run("x")
    with pytest.raises(UnknownAutomationError):
        home.engine.unload("x")


# --- the life of automations and runs ---


async def test_unload_during_a_run_aborts_it(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW))
    await trigger_door(home, "open")
    home.engine.unload("a")
    await home.settle()
    assert home.outcomes("a") == ["aborted"]
    assert home.finished[0].error == "the automation was removed"
    assert home.engine.traces("a") == []
    assert home.engine.automations() == []
    await home.settle(120)
    assert home["light:hall"].calls == []
    await trigger_door(home, "closed")
    assert len(home.finished) == 1


async def test_loading_a_new_version_aborts_the_old_runs_and_queue(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW, mode=Mode.QUEUED))
    await trigger_door(home, "opening", "open")
    new = automation("a", TRIGGER, DeviceAction(w("actions/0"), "light:living", "light.toggle"))
    home.engine.load(new)
    await home.settle()
    assert home.outcomes("a") == ["aborted", "aborted"]
    assert home.engine.automations() == [new]
    await trigger_door(home, "closed")
    assert home.outcomes("a") == ["aborted", "aborted", "finished"]
    assert home["light:hall"].calls == []
    assert home["light:living"].calls == [("light.toggle", {})]


async def test_stop_aborts_runs_and_stops_watching(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW))
    await trigger_door(home, "open")
    await home.engine.stop()
    assert home.outcomes("a") == ["aborted"]
    assert home.finished[0].error == "the automation engine stopped"
    await trigger_door(home, "closed")
    assert len(home.finished) == 1


async def test_a_run_cancelled_before_it_started_still_ends_with_a_trace(home: Home) -> None:
    home.engine.load(automation("a", TRIGGER, SLOW))
    home["garage_door:main"].report("door.state", "open")  # the run task has not run yet
    home.engine.unload("a")
    await home.settle()
    assert home.outcomes("a") == ["aborted"]


def test_constructor_checks_its_arguments() -> None:
    h = new_home()
    with pytest.raises(ValueError, match="action_timeout_s 0 must be > 0"):
        AutomationEngine(h.clock, h.registry, action_timeout_s=0)
    with pytest.raises(ValueError, match="traces_kept 0 must be at least 1"):
        AutomationEngine(h.clock, h.registry, traces_kept=0)


# --- loop detection ---


def _toggle_pair(home: Home) -> None:
    light = e("light:hall/light.on")
    home.engine.load(
        automation(
            "A",
            StateTrigger(w("triggers/0"), (light,), to_values=(True,)),
            DeviceAction(w("actions/0"), "light:hall", "light.turn_off"),
        )
    )
    home.engine.load(
        automation(
            "B",
            StateTrigger(w("triggers/0"), (light,), to_values=(False,)),
            DeviceAction(w("actions/0"), "light:hall", "light.turn_on"),
        )
    )


async def test_two_automations_toggling_a_light_are_stopped(home: Home) -> None:
    _toggle_pair(home)
    home["light:hall"].report("light.on", True)  # someone switches it on
    for _ in range(10):
        await home.settle(1)
    # The refused run ends first: the light reports during A's call, before A's step is done.
    assert home.outcomes("A") == ["loop_stopped", "finished"]
    assert home.outcomes("B") == ["finished"]
    (stopped,) = [t for t in home.finished if t.outcome == "loop_stopped"]
    assert stopped.error == "loop: A → B → A"
    assert stopped.caused_by == ["B", "A"]
    assert len(home["light:hall"].calls) == 2  # turn_off, turn_on, and no more


async def test_an_automation_triggering_itself_is_stopped(home: Home) -> None:
    home.engine.load(
        automation(
            "A",
            StateTrigger(w("triggers/0"), (e("light:hall/light.on"),)),
            DeviceAction(w("actions/0"), "light:hall", "light.toggle"),
        )
    )
    home["light:hall"].report("light.on", True)
    await home.settle(5)
    assert home.outcomes("A") == ["loop_stopped", "finished"]
    assert home.finished[0].error == "loop: A → A"


async def test_chains_deeper_than_the_limit_are_stopped(home: Home) -> None:
    cause: RunContext | None = None
    for i in range(MAX_CHAIN_DEPTH):
        cause = RunContext(f"r{i}", f"X{i}", cause)
    home.engine.load(
        automation("a", TRIGGER, DeviceAction(w("actions/0"), "light:hall", "light.toggle"))
    )
    home.registry._mark("garage_door:main", cause, None)
    await trigger_door(home, "open")
    assert home.outcomes("a") == ["loop_stopped"]
    assert home.finished[0].error.startswith(f"chain of {MAX_CHAIN_DEPTH + 1} automations")


async def test_rate_guard_stops_loops_the_context_cannot_see(home: Home) -> None:
    # A light that echoes every change back without the run's context (a device that reports
    # through another path): the context chain cannot see the loop, the rate guard does.
    light = home["light:hall"]
    home.engine.load(
        automation(
            "A",
            StateTrigger(w("triggers/0"), (e("light:hall/light.brightness"),)),
            SetAction(w("actions/0"), "light:living", {"light.brightness": 10}),
            mode=Mode.PARALLEL,
        )
    )
    for i in range(40):
        light.report("light.brightness", i % 2 + 1)
        await home.settle(0.1)
    outcomes = home.outcomes("A")
    assert outcomes.count("finished") == RATE_LIMIT_RUNS
    assert outcomes[RATE_LIMIT_RUNS:] == ["loop_stopped"] * (40 - RATE_LIMIT_RUNS)
    assert home.finished[-1].error == "ran 20 times in 10 s"
    await home.settle(10)  # the window clears
    light.report("light.brightness", 50)
    await home.settle()
    assert home.outcomes("A")[-1] == "finished"


async def test_a_change_caused_by_a_run_carries_its_chain_to_the_next(home: Home) -> None:
    home.add(kind_device("light:porch", light__on=False))
    home.engine.load(
        automation(
            "first",
            TRIGGER,
            DeviceAction(w("actions/0"), "light:hall", "light.turn_on"),
        )
    )
    home.engine.load(
        automation(
            "second",
            StateTrigger(w("triggers/0"), (e("light:hall/light.on"),), to_values=(True,)),
            DeviceAction(w("actions/0"), "light:porch", "light.turn_on"),
        )
    )
    await trigger_door(home, "open")
    await home.settle()
    second = home.engine.traces("second")[0]
    assert second.outcome == "finished"
    assert second.caused_by == ["first"]


async def test_many_automations_dispatch_only_to_their_entity(home: Home) -> None:
    for i in range(1000):
        device = f"light:l{i}"
        home.add(kind_device(device, light__on=False))
        home.engine.load(
            automation(
                f"a{i}",
                StateTrigger(w("triggers/0"), (e(f"{device}/light.on"),), to_values=(True,)),
                DeviceAction(w("actions/0"), device, "light.turn_off"),
            )
        )
    assert len(home.engine._index.properties[("light:l500", "light.on")]) == 1
    home["light:l500"].report("light.on", True)
    await home.settle()
    assert [t.automation_id for t in home.finished] == ["a500"]
    assert home["light:l500"].calls == [("light.turn_off", {})]
