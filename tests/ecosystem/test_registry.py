"""The registry credits a device's changes to the automation run that asked for them: all of
them for a plain device, only the written property for a write, only the declared effects for a
driver that declares them (the car)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from smartev.core.clock import SimClock
from smartev.ecosystem.registry import (
    CAUSE_WINDOW_S,
    DeviceEvent,
    DeviceListChange,
    DeviceRegistry,
    Happening,
    PropertyChange,
    RunContext,
)
from smartev.spec.devices import Scalar
from tests.ecosystem.engine_helpers import FakeDevice, kind_device

RUN = RunContext("run-1", "a1")


class DeclaringDevice(FakeDevice):
    """A fake that says a light.turn_on changes only light.on."""

    def changes_made_by(self, ref: str, args: Mapping[str, Scalar]) -> Collection[str] | None:
        return {"light.on"} if ref == "light.turn_on" else None


def setup(device: FakeDevice) -> tuple[SimClock, DeviceRegistry, list[Happening]]:
    clock = SimClock(speed=None)
    registry = DeviceRegistry(clock)
    registry.add(device)
    seen: list[Happening] = []
    registry.subscribe(seen.append)
    return clock, registry, seen


def causes(seen: list[Happening]) -> dict[str, RunContext | None]:
    return {h.ref: h.context for h in seen if isinstance(h, PropertyChange | DeviceEvent)}


async def test_a_plain_device_credits_every_change_in_the_window() -> None:
    light = kind_device("light:hall", light__on=False, light__brightness=0)
    clock, registry, seen = setup(light)
    await registry.call("light:hall", "light.turn_on", {}, RUN)
    light.report("light.on", True)
    light.report("light.brightness", 40)
    assert causes(seen) == {"light.on": RUN, "light.brightness": RUN}
    clock.advance(CAUSE_WINDOW_S + 1)
    light.report("light.brightness", 50)
    assert seen[-1].context is None  # type: ignore[union-attr]


async def test_a_write_credits_only_the_property_written() -> None:
    light = kind_device("light:hall", light__on=False, light__brightness=0)
    _, registry, seen = setup(light)
    await registry.write("light:hall", "light.brightness", 30, RUN)
    light.report("light.on", True)  # someone at the wall switch
    assert causes(seen) == {"light.brightness": RUN, "light.on": None}


async def test_a_driver_that_declares_effects_gets_only_those_credited() -> None:
    base = kind_device("light:hall", light__on=False, light__brightness=0)
    light = DeclaringDevice(base.device_id, base.spec, dict(base.initial))
    _, registry, seen = setup(light)
    await registry.call("light:hall", "light.turn_on", {}, RUN)
    light.report("light.on", True)
    light.report("light.brightness", 70)
    assert causes(seen) == {"light.on": RUN, "light.brightness": None}


async def test_a_call_without_a_run_clears_the_credit() -> None:
    light = kind_device("light:hall", light__on=False, light__brightness=0)
    _, registry, seen = setup(light)
    await registry.call("light:hall", "light.turn_on", {}, RUN)
    await registry.call("light:hall", "light.turn_off", {}, None)  # a person in the app
    light.report("light.on", False)
    assert causes(seen) == {"light.on": None}


async def test_devices_joining_and_leaving_are_reported_once() -> None:
    light = kind_device("light:hall", light__on=False, light__brightness=0)
    clock = SimClock(speed=None)
    registry = DeviceRegistry(clock)
    seen: list[Happening] = []
    registry.subscribe(seen.append)
    registry.add(light)
    registry.remove("light:hall")
    registry.remove("light:hall")  # already gone: nothing to report
    assert seen == [
        DeviceListChange("light:hall", True, clock.timestamp()),
        DeviceListChange("light:hall", False, clock.timestamp()),
    ]
