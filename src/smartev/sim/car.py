"""The real-time simulated car: one car's day of driving, parking and charging, stepped by the
physics of :mod:`smartev.sim.drive`, with its actuators checked and its state emitted on a clock.

:class:`SimulatedCar` is a plain synchronous model (``tick``, actuator methods, ``state``);
:meth:`SimulatedCar.run` is the thin async runner that moves it along a :class:`Clock`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from smartev.core.bus import EventBus
from smartev.core.clock import Clock
from smartev.sim import battery as bat
from smartev.sim.car_parts import (
    DEFAULT_PACK_THERMAL,
    CarThermal,
    Charger,
    Ledger,
    Leg,
    PackThermalParams,
    RangeEstimator,
)
from smartev.sim.car_state import (
    ActuatorRejectedError,
    CarInputError,
    CarState,
    CarStateChanged,
    EnergyMeters,
)
from smartev.sim.charging import ChargeKind
from smartev.sim.cycles import DriveCycle
from smartev.sim.drive import step
from smartev.sim.geo import distance_between_m
from smartev.sim.params import DEFAULT_PARAMS, ModelParams
from smartev.sim.powertrain import DriveParams
from smartev.sim.route import Route
from smartev.sim.spec import VehicleSpec
from smartev.sim.thermal import DEFAULT_CABIN, CabinParams

__all__ = [
    "ActuatorRejectedError",
    "CarInputError",
    "CarState",
    "CarStateChanged",
    "EnergyMeters",
    "SimulatedCar",
]

SETPOINT_RANGE_C = (15.0, 30.0)
MIN_CHARGE_LIMIT = 0.5
ROUTE_START_TOLERANCE_M = 100.0  # farther than this from the car, a route would teleport it
PARK_DECEL_MPS2 = 2.0  # parking while moving: the driver brakes to a stop first
_STANDSTILL_MPS = 0.1
_EPS_S = 1e-9  # shorter than this, a step is rounding left over


class SimulatedCar:
    """One car living on a clock. Tick it by hand, or ``await car.run()`` along the clock.

    A :class:`DriveCycle` given to :meth:`drive` carries speed only: the car then moves along a
    great circle from where it stands, in the direction it faces. A :class:`Route` also places
    the car on the map. When the trace ends the car parks.

    Plugged in with charging asked for, the car runs on shore power: the charger feeds its loads
    (computers, HVAC) besides charging the battery, so a car parked at its charge limit holds it.
    A car that is parked, not charging and with the HVAC off is asleep and draws nothing.
    """

    def __init__(
        self,
        spec: VehicleSpec,
        *,
        clock: Clock,
        start_lat: float,
        start_lon: float,
        heading_deg: float = 0.0,
        soc: float = 0.8,
        ambient_c: float = 20.0,
        odometer_m: float = 0.0,
        dt_s: float = 1.0,
        params: ModelParams = DEFAULT_PARAMS,
        cabin: CabinParams = DEFAULT_CABIN,
        heat_pump: bool = True,
        pack_thermal: PackThermalParams = DEFAULT_PACK_THERMAL,
    ) -> None:
        if not 0.0 <= soc <= 1.0:
            raise CarInputError(f"initial soc {soc} must be in 0..1")
        if not (math.isfinite(dt_s) and 0.0 < dt_s <= 60.0):
            raise CarInputError(f"dt_s {dt_s} must be in (0, 60] seconds")
        if not (-90.0 <= start_lat <= 90.0 and -180.0 <= start_lon <= 180.0):
            raise CarInputError(f"start ({start_lat}, {start_lon}) is not a latitude, longitude")
        self.spec = spec
        self.clock = clock
        self.dt_s = dt_s
        self._params = params
        self._p = DriveParams.for_spec(spec, params)
        self._pack = bat.pack_for(spec)
        self._t = clock.timestamp()
        self._lat, self._lon, self._heading = start_lat, start_lon, heading_deg % 360.0
        self._odometer_m = odometer_m
        self._speed = 0.0
        self._soc = soc
        self._thermal = CarThermal(
            ambient_c, ambient_c, ambient_c, spec.battery_kwh, cabin, pack_thermal, heat_pump
        )
        self._charge_limit = min(0.8, self._pack.soc_max)
        self._charger: Charger | None = None
        self._charge_requested = False
        self._leg: Leg | None = None
        self._range = RangeEstimator.for_drive(self._p, self._pack)
        self._last = Ledger()
        self._last_dt = 0.0
        self._meters = Ledger()
        self._state = self._snapshot()

    # --- what the car reports ---------------------------------------------------------------

    @property
    def state(self) -> CarState:
        return self._state

    @property
    def charging(self) -> bool:
        return self._shore_powered and self._soc < self._charge_limit

    @property
    def _shore_powered(self) -> bool:
        return self._charger is not None and self._charge_requested

    @property
    def meters(self) -> EnergyMeters:
        """Energy counted since the car was made."""
        return self._meters.meters()

    def _snapshot(self) -> CarState:
        dt = self._last_dt
        usable_kwh = max(self._soc - self._pack.soc_min, 0.0) * self.spec.battery_kwh
        charging = self.charging
        return CarState(
            time=datetime.fromtimestamp(self._t, UTC),
            speed_mps=self._speed,
            lat=self._lat,
            lon=self._lon,
            heading_deg=self._heading,
            odometer_m=self._odometer_m,
            soc=self._soc,
            range_km=self._range.range_km(usable_kwh),
            battery_power_w=self._last.terminal_j / dt if dt > 0 else 0.0,
            battery_temp_c=self._thermal.battery_c,
            cabin_temp_c=self._thermal.cabin_c,
            ambient_c=self._thermal.ambient_c,
            hvac_on=self._thermal.hvac_on,
            hvac_setpoint_c=self._thermal.setpoint_c,
            charge_limit=self._charge_limit,
            plugged_in=self._charger is not None,
            charging=charging,
            charging_power_w=self._last.charge_j / dt if dt > 0 else 0.0,
            wall_power_w=self._last.wall_j / dt if dt > 0 else 0.0,
            charger_kind=self._charger.kind if self._charger is not None else None,
            activity="driving" if self._leg is not None else "charging" if charging else "parked",
            limited=self._last.limited,
        )

    def _changed(self) -> None:
        self._state = self._snapshot()

    # --- the driver ---------------------------------------------------------------------------

    def drive(self, trip: Route | DriveCycle) -> None:
        """Start following a route or a speed trace from where the car stands."""
        if self._charger is not None:
            raise ActuatorRejectedError(
                "drive", "plugged_in", "drive: the car is plugged in; unplug() before driving"
            )
        if self._speed > _STANDSTILL_MPS:
            raise ActuatorRejectedError(
                "drive",
                "unsafe_while_moving",
                f"drive: the car is moving at {self._speed * 3.6:.1f} km/h; "
                "a new trip starts from a standstill (park() first)",
            )
        origin = (self._lat, self._lon, self._heading)
        if isinstance(trip, Route):
            first = trip.waypoints[0]
            gap_m = distance_between_m(self._lat, self._lon, first.lat, first.lon)
            if gap_m > ROUTE_START_TOLERANCE_M:
                raise ActuatorRejectedError(
                    "drive",
                    "invalid_value",
                    f"drive: route {trip.name!r} starts {gap_m:.0f} m from the car; it must start "
                    f"within {ROUTE_START_TOLERANCE_M:g} m of it",
                )
            self._leg = Leg(trip.to_cycle(), trip, origin)
        else:
            self._leg = Leg(trip, None, origin)
        self._changed()

    def park(self) -> None:
        """End the drive. A moving car first brakes to a stop where it is, then parks."""
        leg = self._leg
        if leg is not None and self._speed > _STANDSTILL_MPS:
            brake_s = max(self._speed / PARK_DECEL_MPS2, self.dt_s)
            self._leg = leg.braking(self._speed, brake_s)
        else:
            self._leg = None
            self._speed = 0.0
        self._changed()

    # --- actuators ----------------------------------------------------------------------------

    def set_hvac(self, on: bool, setpoint_c: float | None = None) -> None:
        if setpoint_c is not None:
            lo, hi = SETPOINT_RANGE_C
            if not lo <= setpoint_c <= hi:
                raise ActuatorRejectedError(
                    "hvac.setpoint",
                    "invalid_value",
                    f"hvac set point {setpoint_c} °C is outside {lo:g}..{hi:g} °C",
                )
            self._thermal.setpoint_c = float(setpoint_c)
        self._thermal.hvac_on = bool(on)
        self._changed()

    def set_ambient(self, ambient_c: float) -> None:
        """The weather changes (not an actuator: the world around the car sets it)."""
        self._thermal.ambient_c = float(ambient_c)
        self._changed()

    def set_charge_limit(self, limit: float) -> None:
        """Charge up to ``limit`` (a share of usable energy); above it, charging stops."""
        hi = self._pack.soc_max
        if not MIN_CHARGE_LIMIT <= limit <= hi:
            raise ActuatorRejectedError(
                "charge_limit",
                "invalid_value",
                f"charge limit {limit} is outside {MIN_CHARGE_LIMIT:g}..{hi:g}",
            )
        self._charge_limit = float(limit)
        self._changed()

    def plug_in(
        self, kind: ChargeKind = "ac", evse_kw: float = 11.0, *, charge_now: bool = True
    ) -> None:
        """Connect a charger offering ``evse_kw``; like most cars, charging starts at once."""
        if self._leg is not None:
            raise ActuatorRejectedError(
                "plug", "unsafe_while_moving", "plug_in: the car is driving; park() first"
            )
        if self._charger is not None:
            raise ActuatorRejectedError(
                "plug", "plugged_in", "plug_in: the car is already plugged in; unplug() first"
            )
        self._charger = Charger(kind, float(evse_kw))
        self._charge_requested = charge_now
        self._changed()

    def unplug(self) -> None:
        """Disconnect; a charge in progress ends."""
        self._charger = None
        self._charge_requested = False
        self._changed()

    def start_charging(self) -> None:
        """Ask for charging; it runs while the SoC is below the charge limit."""
        self._require_plug("start_charging")
        self._charge_requested = True
        self._changed()

    def stop_charging(self) -> None:
        self._require_plug("stop_charging")
        self._charge_requested = False
        self._changed()

    def _require_plug(self, what: str) -> None:
        if self._charger is None:
            raise ActuatorRejectedError(
                "charging", "not_plugged_in", f"{what}: the car is not plugged in; plug_in() first"
            )

    # --- physics ------------------------------------------------------------------------------

    def tick(self, dt_s: float) -> CarState:
        """Advance the car by ``dt_s`` seconds, in physics steps of at most ``self.dt_s``."""
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise CarInputError(f"tick dt_s {dt_s} must be a finite number of seconds > 0")
        totals = Ledger()
        left = dt_s
        while left > _EPS_S:
            left -= self._advance(left, totals)
        self._t += dt_s
        self._last, self._last_dt = totals, dt_s
        self._meters.add(totals)
        self._changed()
        return self._state

    def _advance(self, left_s: float, totals: Ledger) -> float:
        """One physics step of at most ``self.dt_s`` out of ``left_s``; returns its length.

        A step ends early where something changes within it: the trace ends, or the charge
        reaches its limit (so the SoC lands exactly on the limit). Asleep, the car only cools
        or warms, which the thermal models solve exactly for any length: one step covers all.
        """
        dt_s = min(left_s, self.dt_s)
        heat_w, hvac_w = self._thermal.hvac_w()
        if self._leg is not None:
            return self._drive_step(self._leg, dt_s, heat_w, hvac_w, totals)
        charging, hvac_on = self.charging, self._thermal.hvac_on
        charger = self._charger if self._shore_powered else None
        if charger is not None and (charging or hvac_on):
            # The charger feeds the car's loads, so the battery sees only the charge current.
            charge_w, wall_w = charger.power(
                self._pack,
                self._soc,
                charging=charging,
                loads_w=self._p.aux_w + hvac_w,
                max_ac_kw=self.spec.max_ac_kw,
                params=self._params,
            )
            terminal_w = -charge_w
        elif hvac_on and self._soc > self._pack.soc_min:
            # Awake on the battery for the HVAC alone (pre-heating before a drive).
            charge_w, wall_w, terminal_w = 0.0, 0.0, self._p.aux_w + hvac_w
        else:  # asleep
            self._thermal.advance(0.0, 0.0, left_s, awake=False)
            return left_s
        ocv = float(bat.ocv_v(self._pack, self._soc))
        r = float(bat.resistance_ohm(self._pack, self._soc, self._thermal.battery_c))
        current = float(bat.current_a(terminal_w, ocv, r))
        end_soc = float(bat.soc_after(self._pack, self._soc, current, dt_s))
        landed = charge_w > 0.0 and end_soc >= self._charge_limit
        if landed:
            # Constant current within the step: the SoC is linear in time, so cut it there.
            dt_s *= (self._charge_limit - self._soc) / (end_soc - self._soc)
        self._book(totals, dt_s, terminal_w, current, terminal_w + current * current * r)
        if landed:
            self._soc = self._charge_limit  # exactly, not a rounding short of it
        totals.charge_j += charge_w * dt_s
        totals.wall_j += wall_w * dt_s
        self._thermal.advance(heat_w, current * current * r, dt_s, awake=True)
        return dt_s

    def _drive_step(
        self, leg: Leg, dt_s: float, heat_w: float, hvac_w: float, totals: Ledger
    ) -> float:
        dt_s, v1, grade = leg.target(dt_s)
        v0 = self._speed
        s = step(
            self._p,
            self._pack,
            np.array([v0]),
            np.array([v1]),
            dt_s,
            grade,
            np.array([self._soc]),
            hvac_w,
            self._thermal.battery_c,
        )
        terminal_w = float(s.terminal_w[0])
        self._book(totals, dt_s, terminal_w, float(s.current_a[0]), float(s.chemical_w[0]))
        self._thermal.advance(heat_w, float(s.battery_loss_w[0]), dt_s, awake=True)
        self._follow(leg, v0, float(s.speed_mps[0]), dt_s, terminal_w * dt_s)
        totals.limited |= bool(s.limited[0])
        return dt_s

    def _book(
        self, totals: Ledger, dt_s: float, terminal_w: float, current_a: float, chemical_w: float
    ) -> None:
        self._soc = float(bat.soc_after(self._pack, self._soc, current_a, dt_s))
        totals.terminal_j += terminal_w * dt_s
        totals.chemical_j += chemical_w * dt_s

    def _follow(self, leg: Leg, v0: float, v1: float, dt_s: float, energy_j: float) -> None:
        moved_m = 0.5 * (v0 + v1) * dt_s
        leg.advance(dt_s, moved_m)
        self._odometer_m += moved_m
        self._speed = v1
        self._lat, self._lon, self._heading = leg.position()
        self._range.add(moved_m, energy_j)
        if leg.done:
            # Traces end at a standstill; one the car fell behind on ends here all the same.
            self._leg = None
            self._speed = 0.0

    # --- the runner ---------------------------------------------------------------------------

    async def run(
        self,
        *,
        on_state: Callable[[CarState], None] | None = None,
        bus: EventBus | None = None,
        publish_every_s: float = 1.0,
    ) -> None:
        """Follow the clock until cancelled, emitting the state now and every ``publish_every_s``.

        Each round ticks by the clock time that really passed (a scaled clock may wake late), so
        the car never drifts from its clock. Each state goes to ``on_state`` and, as a
        :class:`CarStateChanged`, to ``bus``.
        """
        if not (math.isfinite(publish_every_s) and publish_every_s > 0.0):
            raise CarInputError(f"publish_every_s {publish_every_s} must be > 0 seconds")

        def emit(state: CarState) -> None:
            if on_state is not None:
                on_state(state)
            if bus is not None:
                bus.publish(CarStateChanged(state))

        behind = self.clock.timestamp() - self._t
        emit(self.tick(behind) if behind > 1e-6 else self._state)
        while True:
            await self.clock.sleep(publish_every_s)
            behind = self.clock.timestamp() - self._t
            if behind > 1e-6:
                emit(self.tick(behind))
