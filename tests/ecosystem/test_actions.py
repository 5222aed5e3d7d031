"""Every action kind, run by hand through the engine, with its trace steps; failing and silent
devices end the run as failed, never as a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import time

import pytest

from smartev.ecosystem.model import (
    ConditionAction,
    DelayAction,
    DeviceAction,
    IfAction,
    NotifyAction,
    Scene,
    SceneAction,
    SetAction,
    StateCondition,
    StateTrigger,
    StopAction,
    TimeTrigger,
    WaitForTriggerAction,
)
from smartev.ecosystem.trace import Trace
from tests.ecosystem.engine_helpers import (
    CAR,
    Home,
    RecordingNotifier,
    automation,
    e,
    new_home,
    standard_devices,
    w,
)

AWAY = Scene(
    "away",
    {
        "light:hall": {"light.on": False},
        "door_lock:front": {"lock.locked": True},
        "garage_door:main": {"door.state": "closed"},
    },
)
NEVER = StateTrigger(w("triggers/0"), (e("light:x/light.on"),))


@pytest.fixture
async def home() -> AsyncIterator[Home]:
    h = new_home(
        devices=standard_devices(),
        scenes={"away": AWAY},
        notifier=RecordingNotifier(),
        action_timeout_s=10.0,
    )
    await h.engine.start()
    yield h
    await h.engine.stop()


async def run(home: Home, *actions: object, settle: float = 0.0) -> Trace:
    home.engine.load(automation("a", NEVER, tuple(actions)))  # type: ignore[arg-type]
    task = asyncio.ensure_future(home.engine.run("a"))
    await home.settle()  # the run starts before time moves on
    await home.settle(settle)
    return await asyncio.wait_for(task, 10)  # a safety net: the run is over by now


def steps(trace: Trace) -> list[tuple[str, str, str]]:
    return [(s.path, s.kind, s.result.value) for s in trace.actions]


async def test_device_action_calls_with_the_run_context_and_records_outputs(home: Home) -> None:
    action = DeviceAction(w("actions/0"), CAR, "hvac.set", {"temp_c": 21})
    trace = await run(home, action)
    assert trace.outcome == "finished"
    assert home[CAR].calls == [("hvac.set", {"temp_c": 21.0})]
    step = trace.actions[0]
    assert (step.kind, step.result, step.outputs) == ("device", "ok", {"accepted": True})
    assert step.detail == f"called {CAR} hvac.set with temp_c=21"


async def test_device_action_with_invalid_input_fails_the_run(home: Home) -> None:
    trace = await run(home, DeviceAction(w("actions/0"), CAR, "hvac.set", {"temp_c": 40}))
    assert trace.outcome == "failed"
    assert steps(trace) == [("actions/0", "device", "failed")]
    assert "must be 15..30" in trace.actions[0].detail
    assert trace.error.startswith("actions/0: ")


async def test_device_action_on_unknown_device_or_action_fails(home: Home) -> None:
    trace = await run(home, DeviceAction(w("actions/0"), "light:attic", "light.turn_on"))
    assert trace.outcome == "failed"
    assert "unknown device 'light:attic'" in trace.actions[0].detail
    trace = await run(home, DeviceAction(w("actions/0"), "light:hall", "light.dance"))
    assert "has no action 'light.dance'" in trace.actions[0].detail


async def test_device_offline_before_the_action_fails_the_step(home: Home) -> None:
    home["light:hall"].set_online(False)
    trace = await run(
        home,
        DeviceAction(w("actions/0"), "light:hall", "light.turn_on"),
        DeviceAction(w("actions/1"), "light:living", "light.turn_on"),
    )
    assert trace.outcome == "failed"
    assert steps(trace) == [("actions/0", "device", "failed")]  # the run stopped there
    assert trace.actions[0].detail == "light:hall is offline"
    assert home["light:living"].calls == []


async def test_device_going_offline_mid_action_fails_the_step_not_a_hang(home: Home) -> None:
    home["garage_door:main"].behaviour = "offline"
    trace = await run(home, DeviceAction(w("actions/0"), "garage_door:main", "door.open"))
    assert trace.outcome == "failed"
    assert trace.actions[0].detail == "garage_door:main went offline during the action"


async def test_device_that_refuses_or_crashes_fails_the_step(home: Home) -> None:
    home["garage_door:main"].behaviour = "refuse"
    trace = await run(home, DeviceAction(w("actions/0"), "garage_door:main", "door.open"))
    assert (trace.outcome, trace.actions[0].detail) == (
        "failed",
        "garage_door:main refused: motor jammed",
    )
    home["garage_door:main"].behaviour = "crash"
    trace = await run(home, DeviceAction(w("actions/0"), "garage_door:main", "door.open"))
    assert trace.outcome == "failed"
    assert "unexpected error: RuntimeError('driver bug')" in trace.actions[0].detail


async def test_device_that_never_answers_times_out_on_the_clock(home: Home) -> None:
    home["garage_door:main"].behaviour = "hang"
    action = DeviceAction(w("actions/0"), "garage_door:main", "door.open")
    home.engine.load(automation("a", NEVER, action))
    task = asyncio.ensure_future(home.engine.run("a"))
    await home.settle()
    await home.settle(9)
    assert not task.done()
    await home.settle(1)
    trace = await asyncio.wait_for(task, 10)
    assert trace.outcome == "failed"
    assert steps(trace) == [("actions/0", "device", "timeout")]
    assert trace.actions[0].detail == "garage_door:main did not answer within 00:00:10"


async def test_set_action_writes_each_property(home: Home) -> None:
    action = SetAction(
        w("actions/0"),
        "thermostat:living",
        {"thermostat.mode": "heat", "thermostat.target_temperature": 22},
    )
    trace = await run(home, action)
    assert trace.outcome == "finished"
    assert home["thermostat:living"].writes == [
        ("thermostat.mode", "heat"),
        ("thermostat.target_temperature", 22.0),
    ]
    assert trace.actions[0].detail == (
        "set thermostat:living thermostat.mode to heat, thermostat.target_temperature to 22"
    )


async def test_set_action_refuses_read_only_and_invalid_values(home: Home) -> None:
    trace = await run(home, SetAction(w("actions/0"), "door_lock:front", {"lock.locked": True}))
    assert (trace.outcome, trace.actions[0].detail) == (
        "failed",
        "door_lock:front/lock.locked is read-only",
    )
    trace = await run(
        home, SetAction(w("actions/0"), "thermostat:living", {"thermostat.mode": "disco"})
    )
    assert trace.outcome == "failed"
    assert "must be one of" in trace.actions[0].detail


async def test_notify_sends_through_the_notifier(home: Home) -> None:
    trace = await run(home, NotifyAction(w("actions/0"), ("ana",), "The car is home", "Car"))
    assert trace.outcome == "finished"
    notifier = home.engine._notifier
    assert isinstance(notifier, RecordingNotifier)
    assert notifier.sent == [(("ana",), "Car", "The car is home")]


async def test_notify_without_a_notifier_or_failing_fails_the_run(home: Home) -> None:
    notifier = home.engine._notifier
    assert isinstance(notifier, RecordingNotifier)
    notifier.fail = True
    trace = await run(home, NotifyAction(w("actions/0"), ("ana",), "hi"))
    assert (trace.outcome, trace.actions[0].detail) == (
        "failed",
        "sending failed: push service unreachable",
    )
    home.engine.set_notifier(None)
    trace = await run(home, NotifyAction(w("actions/0"), ("ana",), "hi"))
    assert trace.outcome == "failed"
    assert trace.actions[0].detail == "no notifier is configured to send messages"


async def test_delay_waits_on_the_clock(home: Home) -> None:
    action = DelayAction(w("actions/0"), 300)
    home.engine.load(automation("a", NEVER, (action, StopAction(w("actions/1"), "done"))))
    task = asyncio.ensure_future(home.engine.run("a"))
    await home.settle()
    await home.settle(299)
    assert not task.done()
    await home.settle(1)
    trace = await asyncio.wait_for(task, 10)
    assert trace.outcome == "stopped"
    assert trace.error == "done"
    assert steps(trace) == [("actions/0", "delay", "ok"), ("actions/1", "stop", "ok")]
    assert trace.actions[0].finished - trace.actions[0].started == 300


def _wait(timeout_s: float | None, *, continue_on_timeout: bool = True) -> WaitForTriggerAction:
    return WaitForTriggerAction(
        w("actions/0"),
        (
            StateTrigger(
                w("actions/0/wait_for_trigger/0"), (e("light:hall/light.on"),), to_values=(True,)
            ),
        ),
        timeout_s=timeout_s,
        continue_on_timeout=continue_on_timeout,
    )


async def test_wait_for_trigger_continues_when_the_trigger_fires(home: Home) -> None:
    then = DeviceAction(w("actions/1"), "light:living", "light.turn_on")
    home.engine.load(automation("a", NEVER, (_wait(600), then)))
    task = asyncio.ensure_future(home.engine.run("a"))
    await home.settle()
    await home.settle(100)
    home["light:hall"].report("light.on", True)
    await home.settle()
    trace = await asyncio.wait_for(task, 10)
    assert trace.outcome == "finished"
    assert steps(trace) == [
        ("actions/0", "wait_for_trigger", "ok"),
        ("actions/1", "device", "ok"),
    ]
    assert trace.actions[0].detail == "triggered: light:hall/light.on changed from false to true"


async def test_wait_for_trigger_timeout_continues_or_stops(home: Home) -> None:
    then = DeviceAction(w("actions/1"), "light:living", "light.turn_on")
    trace = await run(home, _wait(60), then, settle=60)
    assert trace.outcome == "finished"
    assert steps(trace)[0] == ("actions/0", "wait_for_trigger", "timeout")
    trace = await run(home, _wait(60, continue_on_timeout=False), then, settle=60)
    assert (trace.outcome, trace.error) == ("stopped", "timed out")
    assert len(trace.actions) == 1


async def test_wait_for_a_time_trigger(home: Home) -> None:
    wait = WaitForTriggerAction(w("actions/0"), (TimeTrigger(w("t"), (time(8, 30),)),))
    home.engine.load(automation("a", NEVER, wait))
    task = asyncio.ensure_future(home.engine.run("a"))
    await home.settle()
    await home.settle(1800)
    trace = await asyncio.wait_for(task, 10)
    assert trace.actions[0].detail == "triggered: it is 08:30:00 on Monday"


async def test_scene_action_writes_and_calls_mapped_actions(home: Home) -> None:
    home["light:hall"].report("light.on", True)
    home["garage_door:main"].report("door.state", "open")
    trace = await run(home, SceneAction(w("actions/0"), "away"))
    assert trace.outcome == "finished"
    assert steps(trace) == [
        ("actions/0", "scene", "ok"),
        ("actions/0/light:hall/light.on", "set", "ok"),
        ("actions/0/door_lock:front/lock.locked", "device", "ok"),
        ("actions/0/garage_door:main/door.state", "device", "ok"),
    ]
    assert home["light:hall"].writes == [("light.on", False)]
    assert home["door_lock:front"].calls == [("lock.lock", {})]
    assert home["garage_door:main"].calls == [("door.close", {})]


async def test_scene_leaves_values_already_there_alone(home: Home) -> None:
    home["door_lock:front"].report("lock.locked", True)
    steps_ = await home.engine.apply_scene("away")
    assert [s.detail for s in steps_] == [
        "light:hall/light.on is already false",
        "door_lock:front/lock.locked is already true",
        "garage_door:main/door.state is already closed",
    ]
    assert home["door_lock:front"].calls == []


async def test_scene_value_that_no_action_can_set_fails_the_scene(home: Home) -> None:
    bad = Scene(
        "bad", {"garage_door:main": {"door.state": "stopped"}, "light:hall": {"light.on": True}}
    )
    home.engine.set_scenes({"bad": bad})
    trace = await run(home, SceneAction(w("actions/0"), "bad"))
    assert trace.outcome == "failed"
    assert steps(trace)[1:] == [
        ("actions/0/garage_door:main/door.state", "set", "failed"),
        ("actions/0/light:hall/light.on", "set", "ok"),  # the others still applied
    ]
    assert "read-only and no action sets it to stopped" in trace.error
    trace = await run(home, SceneAction(w("actions/0"), "missing"))
    assert trace.actions[0].detail == "no scene 'missing'; scenes: bad"


async def test_if_runs_the_branch_taken_with_nested_paths(home: Home) -> None:
    light_on = StateCondition(w("actions/0/if/0"), (e("light:hall/light.on"),), (True,))
    if_action = IfAction(
        w("actions/0"),
        (light_on,),
        then=(DeviceAction(w("actions/0/then/0"), "light:living", "light.turn_on"),),
        otherwise=(DeviceAction(w("actions/0/else/0"), "light:living", "light.turn_off"),),
    )
    trace = await run(home, if_action)
    assert steps(trace) == [("actions/0", "if", "false"), ("actions/0/else/0", "device", "ok")]
    assert trace.actions[0].detail == "light:hall/light.on is false, not true: running else"
    home["light:hall"].report("light.on", True)
    trace = await run(home, if_action)
    assert steps(trace) == [("actions/0", "if", "true"), ("actions/0/then/0", "device", "ok")]


async def test_inline_condition_stops_the_run_when_false(home: Home) -> None:
    condition = StateCondition(w("actions/0"), (e("light:hall/light.on"),), (True,))
    trace = await run(
        home,
        ConditionAction(w("actions/0"), condition),
        DeviceAction(w("actions/1"), "light:living", "light.turn_on"),
    )
    assert trace.outcome == "conditions_failed"
    assert steps(trace) == [("actions/0", "state", "false")]
    assert home["light:living"].calls == []
