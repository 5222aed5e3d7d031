"""Applying a scene: each of its values written to its device, or, for a read-only property with
an obvious action (a lock's ``lock.locked: true``), that action called.

:data:`SCENE_ACTIONS` is the one table of such actions, so that whoever checks a scene before it
is saved can use the same table the engine applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from smartev.core.clock import Clock
from smartev.core.errors import SmartevError
from smartev.ecosystem.engine_values import same_value, show
from smartev.ecosystem.model import Scene
from smartev.ecosystem.registry import DeviceRegistry, RunContext
from smartev.ecosystem.run_timeout import DeviceTimeoutError, bounded
from smartev.ecosystem.trace import StepResult, TraceStep
from smartev.spec.devices import Scalar

# (read-only property ref, wanted value) → the action that gets it there. Small on purpose: only
# actions whose result is that exact value. A wallbox's charger.state is not here: whether a car
# charges depends on the car.
SCENE_ACTIONS: Final[Mapping[tuple[str, Scalar], str]] = MappingProxyType(
    {
        ("lock.locked", True): "lock.lock",
        ("lock.locked", False): "lock.unlock",
        ("lock.state", "locked"): "lock.lock",
        ("lock.state", "unlocked"): "lock.unlock",
        ("door.state", "closed"): "door.close",
        ("door.state", "open"): "door.open",
    }
)


def scene_action(ref: str, value: Scalar) -> str | None:
    """The action that sets read-only ``ref`` to ``value``, or None if there is none."""
    for (known_ref, known_value), action in SCENE_ACTIONS.items():
        if known_ref == ref and same_value(known_value, value):
            return action
    return None


class _NotSettableError(Exception):
    pass


class SceneApplier:
    """Applies scenes through the registry, every value at once, each bounded in time."""

    def __init__(self, clock: Clock, registry: DeviceRegistry, timeout_s: float) -> None:
        self._clock = clock
        self._registry = registry
        self.timeout_s = timeout_s

    async def apply(
        self, scene: Scene, context: RunContext | None, path: str = ""
    ) -> list[TraceStep]:
        """One step per value, in the scene's order; a failed value does not stop the others.

        A value the device already has is left alone (calling ``door.close`` on a closed door
        could be refused by the door)."""
        prefix = f"{path}/" if path else ""
        jobs = [
            self._apply_value(device, ref, value, context, f"{prefix}{device}/{ref}")
            for device, values in scene.values.items()
            for ref, value in values.items()
        ]
        return list(await asyncio.gather(*jobs))

    async def _apply_value(
        self, device: str, ref: str, value: Scalar, context: RunContext | None, path: str
    ) -> TraceStep:
        step = TraceStep(path, "set", StepResult.OK, started=self._clock.timestamp())
        target = f"{device}/{ref}"
        try:
            if same_value(self._registry.value(device, ref), value):
                step.detail = f"{target} is already {show(value)}"
            elif self._registry.spec(device).property(ref).writable:
                write = self._registry.write(device, ref, value, context)
                await bounded(self._clock, self.timeout_s, write, device)
                step.detail = f"set {target} to {show(value)}"
            else:
                action = scene_action(ref, value)
                if action is None:
                    raise _NotSettableError(
                        f"{target} is read-only and no action sets it to {show(value)}"
                    )
                step.kind = "device"
                call = self._registry.call(device, action, {}, context)
                await bounded(self._clock, self.timeout_s, call, device)
                step.detail = f"called {device} {action} to make {target} {show(value)}"
        except DeviceTimeoutError as exc:
            step.result = StepResult.TIMEOUT
            step.detail = str(exc)
        except (SmartevError, ValueError, _NotSettableError) as exc:
            step.result = StepResult.FAILED
            step.detail = str(exc)
        step.finished = self._clock.timestamp()
        return step
