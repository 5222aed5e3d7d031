"""Small in-test devices and builders for the automation engine's tests.

:class:`FakeDevice` implements the DeviceDriver protocol: it keeps values, reports them to the
registry, records every call and write, and can be told to go offline mid-action, refuse, or
never answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from smartev.core.clock import SimClock
from smartev.ecosystem.engine import AutomationEngine
from smartev.ecosystem.geo import Zone
from smartev.ecosystem.model import (
    Action,
    Automation,
    Condition,
    Entity,
    Mode,
    Trigger,
    Where,
)
from smartev.ecosystem.registry import DeviceRegistry
from smartev.ecosystem.trace import Trace
from smartev.spec.device_kinds import device_spec
from smartev.spec.devices import (
    ActionSpec,
    DeviceActionError,
    DeviceOfflineError,
    DeviceSink,
    DeviceSpec,
    EventSpec,
    Format,
    PropertySpec,
    Scalar,
    ServiceSpec,
)

MONDAY_8AM = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)  # a Monday
HOME = Zone("home", 52.5200, 13.4050, 100.0)
WORK = Zone("work", 52.5300, 13.4050, 100.0)
FAR = (52.6000, 13.4050)  # ~9 km north of home

CAR = "car:LSJWH4097PN000001"
LAT = "Vehicle.CurrentLocation.Latitude"
LON = "Vehicle.CurrentLocation.Longitude"
SPEED = "Vehicle.Speed"
CABLE = (
    "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsChargingCableConnected"
)

# A car spec with just what the tests need (the real one is built from a VSS catalog).
CAR_SPEC = DeviceSpec(
    "car",
    "a test car",
    (
        ServiceSpec(
            "Vehicle.CurrentLocation",
            properties=(
                PropertySpec("Latitude", Format.FLOAT, low=-90, high=90),
                PropertySpec("Longitude", Format.FLOAT, low=-180, high=180),
            ),
        ),
        ServiceSpec("Vehicle", properties=(PropertySpec("Speed", Format.FLOAT, unit="km/h"),)),
        ServiceSpec(
            "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition",
            properties=(PropertySpec("IsChargingCableConnected", Format.BOOL),),
        ),
        ServiceSpec(
            "door",
            actions=(ActionSpec("lock"), ActionSpec("unlock")),
        ),
        ServiceSpec(
            "hvac",
            actions=(
                ActionSpec(
                    "set",
                    inputs=(PropertySpec("temp_c", Format.FLOAT, low=15, high=30),),
                    outputs=(PropertySpec("accepted", Format.BOOL),),
                ),
            ),
        ),
        ServiceSpec(
            "car",
            events=(EventSpec("plugged_in"), EventSpec("unplugged")),
        ),
    ),
)

Effect = Callable[["FakeDevice", Mapping[str, Scalar]], Mapping[str, Scalar] | None]


def _light_on(d: FakeDevice, args: Mapping[str, Scalar]) -> None:
    d.report("light.on", True)
    if "brightness" in args:
        d.report("light.brightness", args["brightness"])


def _set(ref: str, value: Scalar) -> Effect:
    def effect(d: FakeDevice, args: Mapping[str, Scalar]) -> None:
        d.report(ref, value)

    return effect


DEFAULT_EFFECTS: dict[str, Effect] = {
    "light.turn_on": _light_on,
    "light.turn_off": _set("light.on", False),
    "light.toggle": lambda d, a: d.report("light.on", not d.values().get("light.on", False)),
    "lock.lock": _set("lock.locked", True),
    "lock.unlock": _set("lock.locked", False),
    "door.open": _set("door.state", "open"),
    "door.close": _set("door.state", "closed"),
    "switch.turn_on": _set("switch.on", True),
    "switch.turn_off": _set("switch.on", False),
    "hvac.set": lambda d, a: {"accepted": True},
}


@dataclass(eq=False)
class FakeDevice:
    """A device the test drives by hand."""

    device_id: str
    spec: DeviceSpec
    initial: dict[str, Scalar] = field(default_factory=dict)
    name: str = ""
    online: bool = True
    calls: list[tuple[str, dict[str, Scalar]]] = field(default_factory=list)
    writes: list[tuple[str, Scalar]] = field(default_factory=list)
    # What the next calls do: "ok", "hang" (never answer), "offline" (drop mid-action),
    # "refuse" (DeviceActionError), "crash" (a driver bug).
    behaviour: str = "ok"
    effects: dict[str, Effect] = field(default_factory=lambda: dict(DEFAULT_EFFECTS))
    _sink: DeviceSink | None = None
    _values: dict[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._values = dict(self.initial)

    def values(self) -> Mapping[str, Scalar]:
        return self._values

    def attach(self, sink: DeviceSink) -> None:
        self._sink = sink

    def report(self, ref: str, value: Scalar | None) -> None:
        if value is None:
            self._values.pop(ref, None)
        else:
            self._values[ref] = value
        assert self._sink is not None
        self._sink.property_changed(self.device_id, ref, value)

    def fire(self, ref: str, **args: Scalar) -> None:
        assert self._sink is not None
        self._sink.event_fired(self.device_id, ref, args)

    def set_online(self, online: bool) -> None:
        self.online = online
        assert self._sink is not None
        self._sink.availability_changed(self.device_id, online)

    async def _misbehave(self) -> None:
        if self.behaviour == "hang":
            await asyncio.Event().wait()
        if self.behaviour == "offline":
            self.set_online(False)
            raise DeviceOfflineError(f"{self.device_id} went offline during the action")
        if self.behaviour == "refuse":
            raise DeviceActionError(f"{self.device_id} refused: motor jammed")
        if self.behaviour == "crash":
            raise RuntimeError("driver bug")

    async def call(self, ref: str, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self.calls.append((ref, dict(args)))
        await self._misbehave()
        effect = self.effects.get(ref)
        outputs = effect(self, args) if effect is not None else None
        return outputs or {}

    async def write(self, ref: str, value: Scalar) -> None:
        self.writes.append((ref, value))
        await self._misbehave()
        self.report(ref, value)


def kind_device(device_id: str, **values: Scalar) -> FakeDevice:
    """A device of a shipped kind (``light:hall``), with values given as ``light__on=True``."""
    kind = device_id.partition(":")[0]
    spec = CAR_SPEC if kind == "car" else device_spec(kind)
    return FakeDevice(device_id, spec, {k.replace("__", "."): v for k, v in values.items()})


def w(path: str) -> Where:
    return Where(path, 1)


def e(ref: str) -> Entity:
    """``"light:hall/light.on"`` → Entity."""
    device, _, member = ref.partition("/")
    return Entity(device, member)


def automation(
    automation_id: str,
    triggers: tuple[Trigger, ...] | Trigger,
    actions: tuple[Action, ...] | Action = (),
    conditions: tuple[Condition, ...] = (),
    *,
    mode: Mode = Mode.SINGLE,
    max_runs: int = 10,
    enabled: bool = True,
) -> Automation:
    return Automation(
        automation_id,
        automation_id,
        triggers if isinstance(triggers, tuple) else (triggers,),
        conditions,
        actions if isinstance(actions, tuple) else (actions,),
        mode=mode,
        max_runs=max_runs,
        enabled=enabled,
    )


@dataclass(eq=False)
class Home:
    """A clock, a registry with devices, an engine, and every finished trace."""

    clock: SimClock
    registry: DeviceRegistry
    engine: AutomationEngine
    finished: list[Trace]
    devices: dict[str, FakeDevice]

    def add(self, device: FakeDevice) -> FakeDevice:
        self.registry.add(device)
        self.devices[device.device_id] = device
        return device

    def __getitem__(self, device_id: str) -> FakeDevice:
        return self.devices[device_id]

    async def settle(self, seconds: float = 0.0) -> None:
        await self.clock.run_for(seconds)

    def outcomes(self, automation_id: str) -> list[str]:
        """Outcomes of the finished traces of one automation, oldest first."""
        return [t.outcome.value for t in self.finished if t.automation_id == automation_id]


def new_home(
    *,
    devices: tuple[FakeDevice, ...] = (),
    clock: SimClock | None = None,
    **engine_args: object,
) -> Home:
    clock = clock or SimClock(start=MONDAY_8AM, speed=None)
    registry = DeviceRegistry(clock)
    finished: list[Trace] = []
    engine = AutomationEngine(
        clock,
        registry,
        on_trace=finished.append,
        **engine_args,  # type: ignore[arg-type]
    )
    home = Home(clock, registry, engine, finished, {})
    for device in devices:
        home.add(device)
    return home


def move(device: FakeDevice, lat: float, lon: float, speed: float | None = None) -> None:
    """Report a new position (latitude first, as drivers do)."""
    if device.device_id.startswith("car:"):
        if speed is not None:
            device.report(SPEED, speed)
        device.report(LAT, lat)
        device.report(LON, lon)
    else:
        device.report("location.latitude", lat)
        device.report("location.longitude", lon)


@dataclass
class RecordingNotifier:
    sent: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)
    fail: bool = False
    hang: bool = False

    async def notify(self, to: tuple[str, ...], title: str, message: str) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.fail:
            raise ConnectionError("push service unreachable")
        self.sent.append((to, title, message))


__all__ = [
    "CABLE",
    "CAR",
    "CAR_SPEC",
    "FAR",
    "HOME",
    "LAT",
    "LON",
    "MONDAY_8AM",
    "SPEED",
    "WORK",
    "FakeDevice",
    "Home",
    "RecordingNotifier",
    "automation",
    "e",
    "kind_device",
    "move",
    "new_home",
    "w",
]


def standard_devices() -> tuple[FakeDevice, ...]:
    return (
        kind_device("light:hall", light__on=False, light__brightness=50),
        kind_device("light:living", light__on=False, light__brightness=50),
        kind_device("door_lock:front", lock__locked=False, lock__state="unlocked"),
        kind_device("garage_door:main", door__state="closed", door__position=0),
        kind_device("energy_meter:home", grid__power=200.0, grid__surplus_power=0.0),
        kind_device(
            "thermostat:living", thermostat__mode="off", thermostat__target_temperature=20.0
        ),
        kind_device(CAR),
        kind_device("phone:ana"),
    )
