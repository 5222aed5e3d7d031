"""The charging cable between a :class:`~smartev.sim.car.SimulatedCar` and a
:class:`~smartev.sim.home_wallbox.SimWallbox`: the car's side of the wallbox (its
:class:`~smartev.sim.home_wallbox.EvPort`), and the wallbox's offer as the car's charger.

The car's physics draws the power (its on-board charger, taper and loads, see
:mod:`smartev.sim.charging`) from a charger offering what the wallbox offers: its current limit ×
voltage × phases while it is enabled, nothing while it is stopped or faulted. The wallbox meters
what the car asks for, so its session energy is the car's wall energy. (The car's own loads on
shore power come on top of its charger's share, as the car's model has it; a wallbox at its
limit meters no more than its limit.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from smartev.sim import battery as bat
from smartev.sim.car import SimulatedCar
from smartev.sim.charging import charge_power
from smartev.sim.errors import SimError
from smartev.sim.home_wallbox import ChargerState, SimWallbox
from smartev.spec.devices import Scalar

__all__ = ["WallboxCable"]

# A charger must offer something; while the wallbox offers nothing the car is paused anyway.
_MIN_EVSE_KW: Final = 0.1
_WALLBOX_SWITCHES: Final = frozenset({"charger.enabled", "charger.current_limit", "charger.state"})


class WallboxCable:
    """One car's cable to one wallbox: :meth:`plug_in` / :meth:`unplug` both ends at once.

    The cable listens to the wallbox (it is attached as one of its sinks): when the wallbox stops
    (``charger.stop``, a fault), the car's charging pauses; when it starts again, the charge the
    car wanted resumes; a new current limit becomes the car's charger power. The car's own wish
    to charge (its charging commands, its charge limit) is read from the car: a car plugged in,
    below its charge limit and not charging was asked not to.
    """

    def __init__(self, car: SimulatedCar, wallbox: SimWallbox) -> None:
        self._car = car
        self._wallbox = wallbox
        self._pack = bat.pack_for(car.spec)
        self._plugged = False
        self._paused = False  # the wallbox gives nothing, so the cable stopped the car's charge
        self._wants_charge = True  # what the car was asked last, as far as it shows
        self._evse_kw = 0.0  # what the car's charger offers now
        self._delivered_kwh = 0.0
        wallbox.attach(self)

    @property
    def plugged(self) -> bool:
        return self._plugged

    @property
    def delivered_kwh(self) -> float:
        """Energy the wallbox metered through this cable since it was made."""
        return self._delivered_kwh

    @property
    def wallbox(self) -> SimWallbox:
        return self._wallbox

    def plug_in(self) -> None:
        """Plug the car into the wallbox; like most cars it wants to charge at once. The car's
        refusal (it is driving) is an :class:`~smartev.sim.errors.ActuatorRejectedError`."""
        if self._plugged:
            raise SimError(f"the car is already plugged into {self._wallbox.device_id}")
        if self._wallbox.car is not None:
            raise SimError(f"{self._wallbox.device_id} already has a car plugged in")
        offer = self._offer_kw()
        self._evse_kw = max(offer, _MIN_EVSE_KW)
        self._car.plug_in("ac", self._evse_kw, charge_now=offer > 0)
        self._plugged, self._paused, self._wants_charge = True, offer <= 0, True
        self._wallbox.plug_in(self)

    def unplug(self) -> None:
        """Take the cable out of both (nothing happens when it is not plugged in)."""
        if not self._plugged:
            return
        self._wallbox.unplug()  # meters up to now first
        self._car.unplug()
        self._plugged = self._paused = False

    # --- the wallbox's side (EvPort) ---

    def max_power_w(self, now: datetime) -> float:
        """What the car would draw now: what it drew over its last tick while charging, or
        what its charger will draw at its SoC when the charge has just begun."""
        self._follow_wallbox()
        if not self._plugged or self._paused:
            return 0.0
        car, state = self._car, self._car.state
        if car.charging:
            if state.charging and state.wall_power_w > 0:
                return state.wall_power_w
            power = charge_power(
                self._pack,
                state.soc,
                kind="ac",
                evse_kw=self._evse_kw,
                max_ac_kw=car.spec.max_ac_kw,
            )
            return float(power.wall_w)
        if state.hvac_on and state.wall_power_w > 0:  # the cabin on shore power
            return state.wall_power_w
        return 0.0

    def deliver(self, power_w: float, seconds: float) -> None:
        """The wallbox metered ``power_w`` for ``seconds``; the car's physics drew it already
        from its charger, which offers what the wallbox does."""
        self._delivered_kwh += power_w * seconds / 3.6e6
        self._follow_wallbox()

    # --- the wallbox's news (DeviceSink) ---

    def property_changed(self, device_id: str, ref: str, value: Scalar | None) -> None:
        if ref in _WALLBOX_SWITCHES:
            self._follow_wallbox()

    def event_fired(self, device_id: str, ref: str, args: Mapping[str, Scalar]) -> None:
        pass

    def availability_changed(self, device_id: str, online: bool) -> None:
        pass

    # --- keeping the car's charger in step with the wallbox ---

    def _offer_kw(self) -> float:
        box = self._wallbox
        if box.state is ChargerState.FAULT or box.values().get("charger.enabled") is False:
            return 0.0
        return max(box.max_power_w, 0.0) / 1000.0

    def _follow_wallbox(self) -> None:
        if not self._plugged:
            return
        car, offer = self._car, self._offer_kw()
        if self._paused:
            if car.charging:  # asked to charge while the wallbox gives nothing: it cannot
                self._wants_charge = True
                car.stop_charging()
        elif car.charging:
            self._wants_charge = True
        elif car.state.soc < car.state.charge_limit - 1e-6:
            self._wants_charge = False  # plugged in, room to charge, not charging: asked not to
        if offer <= 0:
            if not self._paused:
                self._paused = True
                if car.charging:
                    car.stop_charging()
            return
        if abs(offer - self._evse_kw) > 1e-9:
            # A new current limit: the car's charger offers the new power from now on.
            self._evse_kw = offer
            car.unplug()
            car.plug_in("ac", offer, charge_now=self._wants_charge)
            self._paused = False
        elif self._paused:
            self._paused = False
            if self._wants_charge:
                car.start_charging()
