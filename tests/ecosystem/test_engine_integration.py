"""The engine with the real parser and the simulated home: an automation written in YAML closes
the simulated garage door (which takes its travel time on the clock) and turns off a light."""

from __future__ import annotations

import asyncio

from smartev.core.clock import SimClock
from smartev.ecosystem.automation_context import AutomationContext
from smartev.ecosystem.automation_yaml import parse_automation
from smartev.ecosystem.engine import AutomationEngine
from smartev.ecosystem.registry import DeviceRegistry
from smartev.ecosystem.trace import Trace
from smartev.sim.home import default_home
from tests.ecosystem.engine_helpers import MONDAY_8AM

LOCK_UP = """\
alias: Lock up
mode: single
triggers:
  - trigger: state
    entity_id: door_lock:front/lock.locked
    to: true
    id: locked
conditions:
  - condition: trigger
    id: locked
actions:
  - device: garage_door:main
    action: door.close
  - device: light:hall
    set:
      light.on: false
"""


async def call(clock: SimClock, registry: DeviceRegistry, device: str, action: str) -> None:
    """Ask a simulated device and move the clock until it has done it (and what it set off)."""
    asking = asyncio.ensure_future(registry.call(device, action, {}))
    await clock.run_for(0)  # the call starts before time moves on
    await clock.run_for(60)
    await asyncio.wait_for(asking, 10)  # a safety net: it is done by now


async def test_yaml_automation_drives_the_simulated_home() -> None:
    clock = SimClock(start=MONDAY_8AM, speed=None)
    home = default_home(clock, 52.52, 13.405)
    registry = DeviceRegistry(clock)
    for driver in home.drivers():
        registry.add(driver)
    finished: list[Trace] = []
    engine = AutomationEngine(clock, registry, on_trace=finished.append)
    context = AutomationContext(devices=registry.specs())
    engine.load(parse_automation(LOCK_UP, context, automation_id="lock-up"))
    await engine.start()

    await call(clock, registry, "garage_door:main", "door.open")
    assert registry.value("garage_door:main", "door.state") == "open"
    await registry.write("light:hall", "light.on", True)
    await call(clock, registry, "door_lock:front", "lock.unlock")  # the sim lock starts locked
    assert finished == []

    await call(clock, registry, "door_lock:front", "lock.lock")
    (trace,) = finished
    assert trace.outcome == "finished", trace.error
    assert trace.trigger.description == "door_lock:front/lock.locked changed from false to true"
    assert [(s.path, s.kind, s.result.value) for s in trace.actions] == [
        ("actions/0", "device", "ok"),
        ("actions/1", "set", "ok"),
    ]
    door = trace.actions[0]
    assert door.finished - door.started >= 12  # the door's travel time, on the clock
    assert registry.value("garage_door:main", "door.state") == "closed"
    assert registry.value("light:hall", "light.on") is False
    await engine.stop()
