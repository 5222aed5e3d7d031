"""The simulated garage door: it travels between closed (0 %) and open (100 %) in ``travel_s``,
reporting opening/closing and its position as it moves, and stops when told, when it loses its
connection, or when something is in the way.

The motion is a model, not a task: the position is computed from when the motion started, so
whoever looks (a waiting ``call``, the home's physics step) sees the same door, and a door keeps
moving even when the caller that asked for it has given up waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from smartev.core.clock import Clock
from smartev.sim.home_device import NO_OUTPUT, SimDevice
from smartev.spec.devices import DeviceActionError, DeviceOfflineError, Scalar

# How often a waiting call looks at the door, in simulated seconds: the position is reported at
# this resolution while someone waits (the home's step reports it too).
POLL_S = 0.5


class DoorState(StrEnum):
    OPEN = "open"
    OPENING = "opening"
    CLOSED = "closed"
    CLOSING = "closing"
    STOPPED = "stopped"


class _Ending(StrEnum):
    ARRIVED = "arrived"
    STOPPED = "stopped"
    REVERSED = "reversed"
    OFFLINE = "offline"
    OBSTRUCTED = "obstructed"


@dataclass(slots=True)
class _Motion:
    opening: bool
    from_pct: float
    started: float  # clock.monotonic()
    ending: _Ending | None = None


class SimGarageDoor(SimDevice):
    """A motorised garage door. ``call("door.open")`` returns when the door is open; it raises
    :class:`DeviceOfflineError` if the door goes offline on the way and
    :class:`DeviceActionError` if it is stopped, reversed or obstructed."""

    def __init__(
        self, key: str, *, clock: Clock, name: str = "", travel_s: float = 12.0, open_: bool = False
    ) -> None:
        super().__init__("garage_door", key, name=name or f"Garage door {key}", clock=clock)
        if not travel_s > 0:
            raise ValueError(f"garage door travel time {travel_s} s must be > 0")
        self.travel_s = travel_s
        self._position = 100.0 if open_ else 0.0
        self._motion: _Motion | None = None
        self._obstructed = False
        self._set("door.state", DoorState.OPEN.value if open_ else DoorState.CLOSED.value)
        self._set("door.position", 100 if open_ else 0)
        self._actions.update(
            {"door.open": self._open, "door.close": self._close, "door.stop": self._stop}
        )

    @property
    def state(self) -> DoorState:
        return DoorState(str(self._values["door.state"]))

    @property
    def position_pct(self) -> float:
        self.update()
        return self._position

    def set_obstructed(self, obstructed: bool) -> None:
        """Something is in the door's way (a moving door stops and fires ``door.obstructed``;
        a door asked to move while obstructed does the same at once) or no longer is."""
        self._obstructed = obstructed
        if obstructed and self._motion is not None:
            self.update()
            self._halt(_Ending.OBSTRUCTED)

    def update(self) -> None:
        """Bring the position and state up to the clock (idempotent)."""
        motion = self._motion
        if motion is None:
            return
        elapsed = self._clock.monotonic() - motion.started
        travelled = 100.0 * elapsed / self.travel_s
        if motion.opening:
            self._position = min(100.0, motion.from_pct + travelled)
            arrived = self._position >= 100.0
        else:
            self._position = max(0.0, motion.from_pct - travelled)
            arrived = self._position <= 0.0
        self._set("door.position", round(self._position))
        if arrived:
            motion.ending = _Ending.ARRIVED
            self._motion = None
            self._set("door.state", (DoorState.OPEN if motion.opening else DoorState.CLOSED).value)

    def _went_offline(self) -> None:
        if self._motion is not None:
            self.update()
            self._halt(_Ending.OFFLINE)

    def _halt(self, ending: _Ending) -> None:
        motion = self._motion
        if motion is None:
            return
        motion.ending = ending
        self._motion = None
        self._set("door.state", DoorState.STOPPED.value)
        if ending is _Ending.OBSTRUCTED:
            self._fire("door.obstructed")

    async def _move(self, opening: bool) -> Mapping[str, Scalar]:
        self.update()
        goal = DoorState.OPEN if opening else DoorState.CLOSED
        if self._motion is None and self.state is goal:
            return NO_OUTPUT
        motion = self._motion
        if motion is None or motion.opening != opening:
            if motion is not None:
                self._halt(_Ending.REVERSED)
            motion = _Motion(opening, self._position, self._clock.monotonic())
            self._motion = motion
            self._set("door.state", (DoorState.OPENING if opening else DoorState.CLOSING).value)
            if self._obstructed:
                self._halt(_Ending.OBSTRUCTED)
        # else: the door is already on its way there; wait for the same motion.
        while motion.ending is None:
            remaining = self.travel_s * abs((100.0 if opening else 0.0) - self._position) / 100.0
            await self._clock.sleep(min(POLL_S, max(remaining, 1e-3)))
            self.update()
        return self._outcome(motion, goal)

    def _outcome(self, motion: _Motion, goal: DoorState) -> Mapping[str, Scalar]:
        verb = "open" if motion.opening else "close"
        where = f"at {round(self._position)} %"
        if motion.ending is _Ending.ARRIVED:
            return NO_OUTPUT
        if motion.ending is _Ending.OFFLINE:
            raise DeviceOfflineError(
                f"{self.device_id} went offline {where} on its way to {goal}; it stopped there"
            )
        if motion.ending is _Ending.OBSTRUCTED:
            raise DeviceActionError(
                f"{self.device_id} stopped {where}: something is in the way; clear it and "
                f"{verb} again"
            )
        if motion.ending is _Ending.REVERSED:
            raise DeviceActionError(f"{self.device_id} was sent the other way {where}")
        raise DeviceActionError(f"{self.device_id} was stopped {where} before it was {goal}")

    async def _open(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        return await self._move(True)

    async def _close(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        return await self._move(False)

    async def _stop(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self.update()
        self._halt(_Ending.STOPPED)
        return NO_OUTPUT
