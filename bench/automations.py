"""Automation engine: latency from a state change to the first action's call, with 1,000
automations loaded, and state changes evaluated per second.

    python bench/automations.py [--automations N] [--samples N] [--changes N] [--quick]

The home: 250 smart plugs (their power is the changing state) and 250 lights (the actions'
targets), drivers that answer at once (the engine's cost is what is measured, not a device's).
The automations are written in YAML and go through the parser, as the API's would: per plug one
``numeric_state`` trigger (power above a threshold, fires on the crossing), one ``state`` trigger
on the plug's switch with a condition, and, for the rest, triggers with ``for:`` durations and
time triggers that stay armed without firing — so dispatch has to find the right ones among all.

1. **latency**: one plug's power crosses its threshold (and drops back, which crosses nothing);
   the time from the registry receiving the change to the driver's ``call`` for the first action,
   one change at a time (the run is awaited before the next change). Target (issue 7): p99 < 5 ms.
2. **throughput**: changes of every plug's power, back to back (about 1 in 10 crosses a threshold
   and starts a run); changes per second until every run finished.

Anchor: Home Assistant's automation engine is the model but does not run here (its current
releases need Python ≥ 3.13; this machine has 3.11), so no anchor figure is printed side by side.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Mapping

from rich.console import Console
from rich.table import Table

from smartev.core.clock import RealClock
from smartev.ecosystem.automation_context import AutomationContext
from smartev.ecosystem.automation_yaml import parse_automation
from smartev.ecosystem.engine import AutomationEngine
from smartev.ecosystem.registry import DeviceRegistry
from smartev.spec.device_kinds import device_spec
from smartev.spec.devices import DeviceSink, DeviceSpec, Scalar

PLUGS = 250
LIGHTS = 250
TARGET_P99_MS = 5.0


class InstantDevice:
    """A device that does what it is asked at once and notes when it was first asked."""

    def __init__(self, device_id: str, spec: DeviceSpec, values: dict[str, Scalar]) -> None:
        self._id = device_id
        self._spec = spec
        self._values = values
        self.sink: DeviceSink | None = None
        self.first_call: float | None = None

    @property
    def device_id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._id

    @property
    def spec(self) -> DeviceSpec:
        return self._spec

    @property
    def online(self) -> bool:
        return True

    def values(self) -> Mapping[str, Scalar]:
        return self._values

    def attach(self, sink: DeviceSink) -> None:
        self.sink = sink

    def call(self, ref: str, args: Mapping[str, Scalar]) -> Awaitable[Mapping[str, Scalar]]:
        if self.first_call is None:
            self.first_call = time.perf_counter()
        return _done()

    def write(self, ref: str, value: Scalar) -> Awaitable[None]:
        if self.first_call is None:
            self.first_call = time.perf_counter()
        return _nothing()


async def _done() -> Mapping[str, Scalar]:
    return {}


async def _nothing() -> None:
    return None


def threshold_w(i: int) -> int:
    return 500 + (i % 20) * 100  # 500..2,400 W


def automation_yaml(n: int) -> str:
    plug = f"smart_plug:p{n % PLUGS}"
    light = f"light:l{n % LIGHTS}"
    kind = n // PLUGS
    if kind == 0:  # the ones the latency run fires
        return f"""
alias: Plug {n} busy
mode: queued
triggers:
  - trigger: numeric_state
    entity_id: {plug}/meter.power
    above: {threshold_w(n)}
actions:
  - device: {light}
    action: light.turn_on
    data: {{brightness: 60}}
"""
    if kind == 1:
        return f"""
alias: Plug {n} switched
triggers:
  - trigger: state
    entity_id: {plug}/switch.on
    from: false
    to: true
conditions:
  - condition: numeric_state
    entity_id: {plug}/meter.power
    below: 3000
actions:
  - device: {light}
    set:
      light.on: true
"""
    if kind == 2:
        return f"""
alias: Plug {n} idle a while
mode: restart
triggers:
  - trigger: numeric_state
    entity_id: {plug}/meter.power
    below: 10
    for: "00:10:00"
actions:
  - device: {light}
    action: light.turn_off
"""
    return f"""
alias: Morning {n}
triggers:
  - trigger: time
    at: "{n % 24:02d}:{n % 60:02d}"
    weekday: [mon, wed, fri]
conditions:
  - condition: time
    after: "05:00"
    before: "23:00"
actions:
  - device: {light}
    action: light.toggle
"""


def build_home(
    clock: RealClock,
) -> tuple[DeviceRegistry, list[InstantDevice], list[InstantDevice]]:
    registry = DeviceRegistry(clock)
    plugs = [
        InstantDevice(
            f"smart_plug:p{i}",
            device_spec("smart_plug"),
            {"switch.on": True, "meter.power": 100.0, "meter.energy": 0.0},
        )
        for i in range(PLUGS)
    ]
    lights = [
        InstantDevice(
            f"light:l{i}", device_spec("light"), {"light.on": False, "light.brightness": 0}
        )
        for i in range(LIGHTS)
    ]
    for device in (*plugs, *lights):
        registry.add(device)
    return registry, plugs, lights


async def quiet(engine: AutomationEngine) -> None:
    """Until no run is going (the engine's tasks all finished)."""
    # the engine's own task set: the bench looks inside to know when the runs are over
    while any(not task.done() for task in engine._tasks):  # noqa: ASYNC110 - no event for it
        await asyncio.sleep(0)


async def measure(automations: int, samples: int, changes: int) -> dict[str, float]:
    clock = RealClock()
    registry, plugs, lights = build_home(clock)
    context = AutomationContext(devices=registry.specs(), zones=(), scenes=(), people=())
    t0 = time.perf_counter()
    parsed = [
        parse_automation(automation_yaml(n), context, automation_id=f"a{n}")
        for n in range(automations)
    ]
    parse_ms = (time.perf_counter() - t0) * 1000 / automations
    engine = AutomationEngine(clock, registry, traces_kept=2)
    for automation in parsed:
        engine.load(automation)
    await engine.start()
    try:
        # 1. latency: one crossing at a time
        latencies: list[float] = []
        gc.collect()
        for k in range(samples):
            i = k % min(PLUGS, automations)
            plug = plugs[i]
            light = lights[i % LIGHTS]
            assert plug.sink is not None
            light.first_call = None
            start = time.perf_counter()
            plug.sink.property_changed(plug.device_id, "meter.power", threshold_w(i) + 50.0)
            await quiet(engine)
            if light.first_call is None:
                raise RuntimeError(f"{plug.device_id} crossed its threshold and nothing ran")
            latencies.append((light.first_call - start) * 1000)
            plug.sink.property_changed(plug.device_id, "meter.power", 100.0)  # back below
            await quiet(engine)
        # 2. throughput: every plug's power, back to back; ~1 in 10 crosses a threshold
        gc.collect()
        start = time.perf_counter()
        for k in range(changes):
            plug = plugs[k % PLUGS]
            assert plug.sink is not None
            crossing = (k // PLUGS) % 10 == 0
            value = threshold_w(k % PLUGS) + 50.0 if crossing else 100.0 + (k % 7)
            plug.sink.property_changed(plug.device_id, "meter.power", value)
            if k % 256 == 255:
                await asyncio.sleep(0)  # let the started runs go, as a busy loop would
        await quiet(engine)
        elapsed = time.perf_counter() - start
    finally:
        await engine.stop()
    latencies.sort()
    return {
        "parse_ms": parse_ms,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
        "changes_per_s": changes / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--automations", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="fewer samples and changes")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.changes = 500, 20_000
    if args.automations < PLUGS:
        parser.error(f"--automations must be at least {PLUGS}")
    result = asyncio.run(measure(args.automations, args.samples, args.changes))
    table = Table(title=f"automation engine, {args.automations} automations loaded")
    table.add_column("measure")
    table.add_column("smartev", justify="right")
    table.add_column("target", justify="right")
    table.add_column("Home Assistant (anchor)", justify="right")
    table.add_row("parse + check, ms per automation", f"{result['parse_ms']:.2f}", "", "not run")
    table.add_row("change → first action p50, ms", f"{result['p50']:.3f}", "", "not run")
    table.add_row(
        "change → first action p99, ms", f"{result['p99']:.3f}", f"< {TARGET_P99_MS:g}", "not run"
    )
    table.add_row("change → first action max, ms", f"{result['max']:.3f}", "", "not run")
    table.add_row("state changes evaluated / s", f"{result['changes_per_s']:,.0f}", "", "not run")
    Console().print(table)
    print(
        json.dumps(
            {
                "automations": args.automations,
                "trigger_to_action_p50_ms": round(result["p50"], 4),
                "trigger_to_action_p99_ms": round(result["p99"], 4),
                "trigger_to_action_max_ms": round(result["max"], 4),
                "changes_per_s": round(result["changes_per_s"]),
                "parse_ms_per_automation": round(result["parse_ms"], 3),
                "samples": args.samples,
                "changes": args.changes,
            }
        )
    )


if __name__ == "__main__":
    main()
