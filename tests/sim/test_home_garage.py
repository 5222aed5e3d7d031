import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from smartev.core.clock import SimClock
from smartev.sim.home_garage import DoorState, SimGarageDoor
from smartev.spec.devices import DeviceActionError, DeviceOfflineError, Scalar

START = datetime(2026, 5, 4, 7, 30, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, Scalar | None]] = []
        self.events: list[str] = []

    def property_changed(self, device_id: str, ref: str, value: Scalar | None) -> None:
        self.changes.append((ref, value))

    def event_fired(self, device_id: str, ref: str, args: Mapping[str, Scalar]) -> None:
        self.events.append(ref)

    def availability_changed(self, device_id: str, online: bool) -> None:
        pass

    def states(self) -> list[Scalar | None]:
        return [v for ref, v in self.changes if ref == "door.state"]

    def positions(self) -> list[Scalar | None]:
        return [v for ref, v in self.changes if ref == "door.position"]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START, speed=None)


@pytest.fixture
def door(clock: SimClock) -> SimGarageDoor:
    return SimGarageDoor("main", clock=clock)


async def _start(
    clock: SimClock, door: SimGarageDoor, ref: str
) -> asyncio.Task[Mapping[str, Scalar]]:
    task = asyncio.create_task(door.call(ref, {}))
    await clock.run_for(0)  # the call starts the motor
    return task


async def test_opening_takes_12_s_and_reports_opening_then_open(
    clock: SimClock, door: SimGarageDoor
) -> None:
    sink = Recorder()
    door.attach(sink)
    task = await _start(clock, door, "door.open")
    assert door.state is DoorState.OPENING
    await clock.run_for(6)
    assert not task.done()
    assert door.values()["door.position"] == 50
    await clock.run_for(5.9)
    assert not task.done()
    await clock.run_for(0.1)
    assert task.done()
    assert task.result() == {}
    assert sink.states() == ["opening", "open"]
    positions = sink.positions()
    assert positions[-1] == 100
    assert positions == sorted(positions)
    assert len(positions) >= 12


async def test_closing_an_open_door_and_asking_twice(clock: SimClock) -> None:
    door = SimGarageDoor("main", clock=clock, travel_s=10.0, open_=True)
    first = await _start(clock, door, "door.close")
    await clock.run_for(4)
    second = await _start(clock, door, "door.close")  # joins the same motion
    await clock.run_for(6)
    assert await first == {}
    assert await second == {}
    assert door.values() == {"door.state": "closed", "door.position": 0}
    assert await door.call("door.close", {}) == {}  # already there: at once


async def test_offline_mid_motion_raises_offline(clock: SimClock, door: SimGarageDoor) -> None:
    task = await _start(clock, door, "door.open")
    await clock.run_for(3)
    door.set_online(False)
    await clock.run_for(1)
    with pytest.raises(DeviceOfflineError, match="went offline at 25 %"):
        await task
    door.set_online(True)
    assert door.values() == {"door.state": "stopped", "door.position": 25}


async def test_obstruction_stops_the_door_and_fires_the_event(
    clock: SimClock,
) -> None:
    door = SimGarageDoor("main", clock=clock, open_=True)
    sink = Recorder()
    door.attach(sink)
    task = await _start(clock, door, "door.close")
    await clock.run_for(6)
    door.set_obstructed(True)
    await clock.run_for(1)
    with pytest.raises(DeviceActionError, match="something is in the way"):
        await task
    assert sink.events == ["door.obstructed"]
    assert door.state is DoorState.STOPPED
    with pytest.raises(DeviceActionError, match="in the way"):
        await door.call("door.close", {})  # still obstructed: refuses at once
    door.set_obstructed(False)
    task = await _start(clock, door, "door.close")
    await clock.run_for(6)
    assert await task == {}
    assert door.state is DoorState.CLOSED


async def test_stop_and_reverse_end_the_waiting_call(clock: SimClock, door: SimGarageDoor) -> None:
    opening = await _start(clock, door, "door.open")
    await clock.run_for(3)
    assert await door.call("door.stop", {}) == {}
    await clock.run_for(1)
    with pytest.raises(DeviceActionError, match="stopped at 25 %"):
        await opening
    assert door.values() == {"door.state": "stopped", "door.position": 25}
    opening = await _start(clock, door, "door.open")
    await clock.run_for(3)
    closing = await _start(clock, door, "door.close")
    await clock.run_for(1)
    with pytest.raises(DeviceActionError, match="other way"):
        await opening
    await clock.run_for(6)
    assert await closing == {}
    assert door.position_pct == 0.0


async def test_door_moves_on_when_the_caller_gives_up(clock: SimClock, door: SimGarageDoor) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await door.call("door.open", {})
    clock.advance(20)
    door.update()  # the home's step looks at it
    assert door.state is DoorState.OPEN
