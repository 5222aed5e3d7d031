"""The devices of one household and their current state, with one stream of what happens.

Drivers (simulated devices, the car as the cloud sees it, later MQTT devices) report to the
registry; the registry keeps each device's values, stamps every change with the clock's time and
with the run that caused it (when an automation's action asked the device within
:data:`CAUSE_WINDOW_S`), and hands it to the listeners in order: the automation engine, the Home
Assistant bridge, the live fan-out. Listeners are plain callables, called synchronously; they
must not block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Final, Protocol, TypeAlias, runtime_checkable

from smartev.core.clock import Clock
from smartev.ecosystem.errors import UnknownDeviceError
from smartev.spec.devices import (
    DeviceDriver,
    DeviceOfflineError,
    DeviceSpec,
    Scalar,
)

log = logging.getLogger(__name__)

# A device's changes this long after an automation asked it are that automation's doing (a
# garage door reports "open" 12 s after "open" was asked): loop detection follows them. A write
# claims only the property written; a driver that declares an action's effects, only those.
CAUSE_WINDOW_S: Final = 30.0


@runtime_checkable
class DeclaresEffects(Protocol):
    """A driver that knows what an action changes (the car: a command's VSS targets and the
    events they mean). Only those changes are the asking run's doing; without it, any change of
    the device within the window is (a garage door's state, position and events alike)."""

    def changes_made_by(self, ref: str, args: Mapping[str, Scalar]) -> Collection[str] | None: ...


@dataclass(frozen=True, slots=True)
class RunContext:
    """Which automation run caused something, and which run caused that one."""

    run_id: str
    automation_id: str
    parent: RunContext | None = None

    def chain(self) -> list[str]:
        """Automation ids from this run back to the first cause."""
        ids: list[str] = []
        ctx: RunContext | None = self
        while ctx is not None:
            ids.append(ctx.automation_id)
            ctx = ctx.parent
        return ids

    @property
    def depth(self) -> int:
        return len(self.chain())


@dataclass(frozen=True, slots=True)
class PropertyChange:
    device: str
    ref: str
    value: Scalar | None
    old: Scalar | None
    ts: float  # the clock's timestamp (seconds since the epoch)
    context: RunContext | None = None


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    device: str
    ref: str
    args: Mapping[str, Scalar]
    ts: float
    context: RunContext | None = None


@dataclass(frozen=True, slots=True)
class AvailabilityChange:
    device: str
    online: bool
    ts: float


@dataclass(frozen=True, slots=True)
class DeviceListChange:
    """A device joined (``added``) or left the household's registry."""

    device: str
    added: bool
    ts: float


Happening: TypeAlias = PropertyChange | DeviceEvent | AvailabilityChange | DeviceListChange
Listener: TypeAlias = Callable[[Happening], None]


class DeviceRegistry:
    """A household's devices by id, their values, and the stream of changes."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._drivers: dict[str, DeviceDriver] = {}
        self._values: dict[str, dict[str, Scalar]] = {}
        self._listeners: list[Listener] = []
        self._declaring: set[str] = set()  # drivers that declare their actions' effects
        # device → (the asking run, until when, the refs it may change: None = any)
        self._causes: dict[str, tuple[RunContext, float, frozenset[str] | None]] = {}

    # --- devices ---

    def add(self, driver: DeviceDriver) -> None:
        device_id = driver.device_id
        if device_id in self._drivers:
            raise ValueError(f"device {device_id} is already registered")
        self._drivers[device_id] = driver
        if isinstance(driver, DeclaresEffects):  # once: a protocol check is not free
            self._declaring.add(device_id)
        self._values[device_id] = dict(driver.values())
        driver.attach(self)
        self._emit(DeviceListChange(device_id, True, self._clock.timestamp()))

    def remove(self, device_id: str) -> None:
        if self._drivers.pop(device_id, None) is None:
            return
        self._declaring.discard(device_id)
        self._values.pop(device_id, None)
        self._causes.pop(device_id, None)
        self._emit(DeviceListChange(device_id, False, self._clock.timestamp()))

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._drivers

    def ids(self) -> list[str]:
        return sorted(self._drivers)

    def driver(self, device_id: str) -> DeviceDriver:
        try:
            return self._drivers[device_id]
        except KeyError:
            raise UnknownDeviceError(device_id, sorted(self._drivers)) from None

    def spec(self, device_id: str) -> DeviceSpec:
        return self.driver(device_id).spec

    def specs(self) -> dict[str, DeviceSpec]:
        return {device_id: d.spec for device_id, d in self._drivers.items()}

    def values(self, device_id: str) -> Mapping[str, Scalar]:
        return self._values.get(device_id, {})

    def value(self, device_id: str, ref: str) -> Scalar | None:
        return self._values.get(device_id, {}).get(ref)

    def online(self, device_id: str) -> bool:
        driver = self._drivers.get(device_id)
        return driver is not None and driver.online

    # --- listeners ---

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, happening: Happening) -> None:
        for listener in list(self._listeners):
            try:
                listener(happening)
            except Exception:  # a broken listener must not starve the others
                log.exception("device listener %r failed", listener)

    # --- asking devices (with the asking run's context, for loop detection) ---

    async def call(
        self,
        device_id: str,
        ref: str,
        args: Mapping[str, Scalar],
        context: RunContext | None = None,
    ) -> Mapping[str, Scalar]:
        driver = self.driver(device_id)
        checked = driver.spec.action(ref).check_inputs(args, f"{device_id}/{ref}")
        if not driver.online:
            raise DeviceOfflineError(f"{device_id} is offline")
        effects = (
            driver.changes_made_by(ref, checked) if isinstance(driver, DeclaresEffects) else None
        )
        self._mark(device_id, context, effects)
        return await driver.call(ref, checked)

    async def write(
        self, device_id: str, ref: str, value: Scalar, context: RunContext | None = None
    ) -> None:
        driver = self.driver(device_id)
        spec = driver.spec.property(ref)
        if not spec.writable:
            raise ValueError(f"{device_id}/{ref} is read-only")
        checked = spec.validate(value, f"{device_id}/{ref}")
        if not driver.online:
            raise DeviceOfflineError(f"{device_id} is offline")
        self._mark(device_id, context, frozenset({ref}))
        await driver.write(ref, checked)

    def _mark(
        self, device_id: str, context: RunContext | None, effects: Collection[str] | None
    ) -> None:
        if context is None:
            self._causes.pop(device_id, None)
        else:
            until = self._clock.timestamp() + CAUSE_WINDOW_S
            refs = None if effects is None else frozenset(effects)
            self._causes[device_id] = (context, until, refs)

    def _cause(self, device_id: str, ref: str, now: float) -> RunContext | None:
        cause = self._causes.get(device_id)
        if cause is None:
            return None
        context, until, refs = cause
        if now > until:
            del self._causes[device_id]
            return None
        return context if refs is None or ref in refs else None

    # --- DeviceSink: what drivers report ---

    def property_changed(self, device_id: str, ref: str, value: Scalar | None) -> None:
        values = self._values.get(device_id)
        if values is None:
            return  # removed, or never added
        old = values.get(ref)
        if value is None:
            values.pop(ref, None)
        else:
            values[ref] = value
        if old == value and type(old) is type(value):
            return
        now = self._clock.timestamp()
        self._emit(
            PropertyChange(device_id, ref, value, old, now, self._cause(device_id, ref, now))
        )

    def event_fired(self, device_id: str, ref: str, args: Mapping[str, Scalar]) -> None:
        if device_id not in self._drivers:
            return
        now = self._clock.timestamp()
        self._emit(DeviceEvent(device_id, ref, dict(args), now, self._cause(device_id, ref, now)))

    def availability_changed(self, device_id: str, online: bool) -> None:
        if device_id not in self._drivers:
            return
        self._emit(AvailabilityChange(device_id, online, self._clock.timestamp()))
