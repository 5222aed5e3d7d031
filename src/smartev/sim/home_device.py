"""What every simulated home device shares: its identity and spec, its values, reporting to the
attached sink (only real changes, nothing while offline, the missed ones on return), going
offline, and routing ``call``/``write`` to the device's own handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeAlias

from smartev.core.clock import Clock
from smartev.spec.device_kinds import device_spec
from smartev.spec.devices import (
    DeviceActionError,
    DeviceOfflineError,
    DeviceSink,
    DeviceSpec,
    Scalar,
)

ActionHandler: TypeAlias = Callable[[Mapping[str, Scalar]], Awaitable[Mapping[str, Scalar]]]
WriteHandler: TypeAlias = Callable[[Scalar], Awaitable[None]]

NO_OUTPUT: Mapping[str, Scalar] = {}


def rounded(value: float, digits: int = 0) -> float:
    """``value`` rounded for reporting, as a float and never ``-0.0`` (so a sign flip of nothing
    is not a change)."""
    return round(value, digits) + 0.0


class SimDevice:
    """Base of the simulated home devices; each is a :class:`~smartev.spec.devices.DeviceDriver`.

    Subclasses register their actions and writable properties in ``_actions`` / ``_writes`` and
    set values with :meth:`_set`, already rounded to what is worth reporting.
    """

    def __init__(self, kind: str, key: str, *, name: str, clock: Clock) -> None:
        self._spec = device_spec(kind)
        self._device_id = f"{kind}:{key}"
        self._name = name
        self._clock = clock
        self._online = True
        self._values: dict[str, Scalar] = {}
        self._reported: dict[str, Scalar] = {}
        self._sinks: list[DeviceSink] = []
        self._actions: dict[str, ActionHandler] = {}
        self._writes: dict[str, WriteHandler] = {}

    # --- DeviceDriver ---

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def name(self) -> str:
        return self._name

    @property
    def spec(self) -> DeviceSpec:
        return self._spec

    @property
    def online(self) -> bool:
        return self._online

    def values(self) -> Mapping[str, Scalar]:
        return dict(self._values)

    def attach(self, sink: DeviceSink) -> None:
        if sink not in self._sinks:
            self._sinks.append(sink)

    async def call(self, ref: str, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._spec.action(ref)  # an unknown ref names what the device has
        self._require_online(ref)
        handler = self._actions.get(ref)
        if handler is None:  # a spec'd action without a handler is a bug in this module
            raise DeviceActionError(f"{self._device_id}: {ref} is not implemented")
        return await handler(args)

    async def write(self, ref: str, value: Scalar) -> None:
        spec = self._spec.property(ref)
        self._require_online(ref)
        handler = self._writes.get(ref)
        if handler is None or not spec.writable:
            raise DeviceActionError(f"{self._device_id}: {ref} is read-only")
        await handler(value)

    # --- for tests and the composition ---

    def set_online(self, online: bool) -> None:
        """Take the device off the network (or bring it back); coming back reports what changed
        while it was away."""
        if online == self._online:
            return
        self._online = online
        if not online:
            self._went_offline()
        for sink in self._sinks:
            sink.availability_changed(self._device_id, online)
        if online:
            for ref, value in self._values.items():
                self._report(ref, value)

    # --- for subclasses ---

    def _went_offline(self) -> None:
        """Hook: what the device does when it loses its connection (a moving door stops)."""

    def _require_online(self, ref: str) -> None:
        if not self._online:
            raise DeviceOfflineError(f"{self._device_id} is offline; cannot do {ref}")

    def _set(self, ref: str, value: Scalar) -> None:
        self._values[ref] = value
        if self._online:
            self._report(ref, value)

    def _report(self, ref: str, value: Scalar) -> None:
        old = self._reported.get(ref)
        if old == value and type(old) is type(value):
            return
        self._reported[ref] = value
        for sink in self._sinks:
            sink.property_changed(self._device_id, ref, value)

    def _fire(self, ref: str, args: Mapping[str, Scalar] | None = None) -> None:
        if not self._online:
            return  # an event nobody could hear is lost, as with a real device
        for sink in self._sinks:
            sink.event_fired(self._device_id, ref, dict(args or {}))
