"""The simulated wallbox and the socket a car plugs into.

The car is not simulated here: the composition plugs in anything that follows :class:`EvPort`
(what the car asks for now, and taking the energy delivered). The wallbox delivers
min(what the car asks, current limit × voltage × phases) while it is enabled, and nothing
otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from smartev.core.clock import Clock
from smartev.sim.errors import SimError
from smartev.sim.home_device import NO_OUTPUT, SimDevice, rounded
from smartev.spec.devices import DeviceActionError, Scalar


class EvPort(Protocol):
    """The car's side of the charging cable, as the wallbox sees it."""

    def max_power_w(self, now: datetime) -> float:
        """The power the car would take now, in W: 0 when it is full, at its charge limit, or
        does not want to charge."""
        ...

    def deliver(self, power_w: float, seconds: float) -> None:
        """The wallbox supplied ``power_w`` for the last ``seconds``."""
        ...


class ChargerState(StrEnum):
    """OCPP's connector states, as the spec names them."""

    AVAILABLE = "available"
    CONNECTED = "connected"
    CHARGING = "charging"
    SUSPENDED_EV = "suspended_ev"
    SUSPENDED_EVSE = "suspended_evse"
    FINISHED = "finished"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class WallboxParams:
    """A three-phase 230 V box at 16 A: 11 kW. A car that has asked for nothing for
    ``finish_after_s`` after taking energy has finished (before that it has only paused)."""

    phases: int = 3
    voltage_v: float = 230.0
    current_limit_a: float = 16.0
    finish_after_s: float = 60.0


class SimWallbox(SimDevice):
    """A wallbox. The composition calls :meth:`plug_in` / :meth:`unplug`; the home's step calls
    :meth:`update`, which delivers energy up to the clock's time at the power last decided and
    decides the next."""

    def __init__(
        self, key: str, *, clock: Clock, name: str = "", params: WallboxParams | None = None
    ) -> None:
        super().__init__("wallbox", key, name=name or f"Wallbox {key}", clock=clock)
        self.params = params or WallboxParams()
        if self.params.phases not in (1, 2, 3):
            raise ValueError(f"wallbox phases {self.params.phases} must be 1, 2 or 3")
        self._car: EvPort | None = None
        self._enabled = True
        self._fault = False
        self._limit_a = self.params.current_limit_a
        self._power_w = 0.0
        self._session_kwh = 0.0
        self._session_started = False  # energy has flowed since the car was plugged in
        self._asked_nothing_since: float | None = None
        self._finished_fired = False
        self._since = clock.monotonic()
        self._set("charger.enabled", True)
        self._set("charger.current_limit", self._limit_a)
        self._set("charger.session_energy", 0.0)
        self._decide()
        self._actions.update(
            {
                "charger.start": self._start,
                "charger.stop": self._stop,
                "charger.set_current_limit": self._set_limit,
            }
        )
        self._writes["charger.current_limit"] = self._write_limit

    # --- the composition's side ---

    @property
    def car(self) -> EvPort | None:
        return self._car

    @property
    def power_w(self) -> float:
        return self._power_w

    @property
    def state(self) -> ChargerState:
        return ChargerState(str(self._values["charger.state"]))

    @property
    def max_power_w(self) -> float:
        """What the box could deliver at its current limit."""
        return self._limit_a * self.params.voltage_v * self.params.phases

    def plug_in(self, car: EvPort) -> None:
        """A car's cable goes in: a new session starts (session energy back to 0)."""
        if self._car is not None:
            raise SimError(f"{self.device_id} already has a car plugged in; unplug() it first")
        self.update()
        self._car = car
        self._session_kwh = 0.0
        self._session_started = False
        self._asked_nothing_since = None
        self._finished_fired = False
        self._set("charger.session_energy", 0.0)
        if not self._fault:
            self._set("charger.state", ChargerState.CONNECTED.value)
        self._fire("charger.plugged_in")
        self._decide()

    def unplug(self) -> EvPort | None:
        """The cable comes out; returns the car that was plugged in (None if there was none)."""
        self.update()
        car, self._car = self._car, None
        if car is not None:
            self._fire("charger.unplugged")
        self._decide()
        return car

    def set_fault(self, fault: bool) -> None:
        """The box trips (state ``fault``, no power) or is reset."""
        self.update()
        self._fault = fault
        self._decide()

    def update(self, until: float | None = None) -> None:
        """Deliver the power decided last from then to ``until`` (clock.monotonic(); default
        now), then decide anew."""
        end = self._clock.monotonic() if until is None else until
        dt = end - self._since
        if dt > 0:
            self._since = end
            if self._car is not None and self._power_w > 0:
                self._car.deliver(self._power_w, dt)
                self._session_kwh += self._power_w * dt / 3.6e6
                self._set("charger.session_energy", rounded(self._session_kwh, 2))
        self._decide()

    # --- the rules ---

    def _decide(self) -> None:
        power, state = 0.0, ChargerState.AVAILABLE
        car = self._car
        if self._fault:
            state = ChargerState.FAULT
        elif car is None:
            state = ChargerState.AVAILABLE
        elif not self._enabled:
            state = ChargerState.SUSPENDED_EVSE if self._session_started else ChargerState.CONNECTED
        else:
            ask = max(0.0, car.max_power_w(self._clock.now()))
            if ask > 0:
                power, state = min(ask, self.max_power_w), ChargerState.CHARGING
                self._session_started = True
                self._asked_nothing_since = None
                self._finished_fired = False
            else:
                state = self._idle_state()
        self._power_w = power
        self._set("charger.power", rounded(power))
        self._set("charger.state", state.value)

    def _idle_state(self) -> ChargerState:
        """The car is plugged in, the box may deliver, the car asks for nothing."""
        now = self._clock.monotonic()
        if self._asked_nothing_since is None:
            self._asked_nothing_since = now
        waited = now - self._asked_nothing_since
        if not self._session_started or waited < self.params.finish_after_s:
            return ChargerState.SUSPENDED_EV
        if not self._finished_fired:
            self._finished_fired = True
            self._set("charger.state", ChargerState.FINISHED.value)
            self._fire("charger.charging_finished")
        return ChargerState.FINISHED

    # --- the driver's side ---

    def _enable(self, enabled: bool) -> None:
        self.update()
        if self._fault and enabled:
            raise DeviceActionError(f"{self.device_id} has a fault: it cannot charge until reset")
        self._enabled = enabled
        self._set("charger.enabled", enabled)
        self._decide()

    def _limit(self, current_a: Scalar) -> None:
        if not isinstance(current_a, int | float) or isinstance(current_a, bool):
            raise DeviceActionError(f"{self.device_id}: current limit must be a number of amperes")
        self.update()
        self._limit_a = float(current_a)
        self._set("charger.current_limit", self._limit_a)
        self._decide()

    async def _start(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._enable(True)
        return NO_OUTPUT

    async def _stop(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._enable(False)
        return NO_OUTPUT

    async def _set_limit(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._limit(args["current_a"])
        return NO_OUTPUT

    async def _write_limit(self, value: Scalar) -> None:
        self._limit(value)
