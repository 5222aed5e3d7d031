"""The small models a :class:`~smartev.sim.car.SimulatedCar` is built from besides the drive step:
the drive leg it follows and where that puts it on the map, the charger it is plugged into, its
temperatures (cabin with HVAC, and the pack), the range estimate, and its energy ledger."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from smartev.core import units
from smartev.sim import battery as bat
from smartev.sim.car_state import ActuatorRejectedError, EnergyMeters
from smartev.sim.charging import DC_STATION_EFFICIENCY, ChargeKind, charge_power
from smartev.sim.cycles import DriveCycle
from smartev.sim.drive import step
from smartev.sim.geo import destination
from smartev.sim.params import ModelParams
from smartev.sim.powertrain import DriveParams
from smartev.sim.route import Route
from smartev.sim.thermal import CabinParams, cabin_step, hvac_electric_w, hvac_thermal_w

__all__ = [
    "DEFAULT_PACK_THERMAL",
    "RANGE_MEMORY_M",
    "CarThermal",
    "Charger",
    "Ledger",
    "Leg",
    "PackThermalParams",
    "RangeEstimator",
    "pack_temp_after",
]


_END_SLACK_S = 1e-9  # a trace counts as driven to its end up to float rounding


@dataclass
class Leg:
    """A drive being followed: a speed trace, and the route or great circle its distance is laid
    on (a trace without a route leaves from ``origin``, in the direction it faces)."""

    cycle: DriveCycle
    route: Route | None
    origin: tuple[float, float, float]  # lat, lon, heading
    offset_m: float = 0.0  # laid out after what an earlier leg drove on the same route or line
    t_s: float = 0.0
    driven_m: float = 0.0

    @property
    def done(self) -> bool:
        return self.t_s >= self.cycle.duration_s - _END_SLACK_S

    def target(self, dt_s: float) -> tuple[float, float, float]:
        """(step length, speed asked at its end, mean grade) for a step of at most ``dt_s``;
        the step is cut where the trace ends."""
        dt_s = min(dt_s, self.cycle.duration_s - self.t_s)
        times = self.cycle.time_s
        speed = float(np.interp(self.t_s + dt_s, times, self.cycle.speed_mps))
        return dt_s, speed, float(np.interp(self.t_s + 0.5 * dt_s, times, self.cycle.grade))

    def advance(self, dt_s: float, moved_m: float) -> None:
        self.t_s += dt_s
        self.driven_m += moved_m

    def position(self) -> tuple[float, float, float]:
        along = self.offset_m + self.driven_m
        if self.route is not None:
            return self.route.position_at(along)
        return destination(*self.origin, along)

    def braking(self, speed_mps: float, duration_s: float) -> Leg:
        """A leg that brakes evenly from ``speed_mps`` to a stop, going on where this one is."""
        stop = DriveCycle(
            "stop", np.array([0.0, duration_s]), np.array([speed_mps, 0.0]), np.zeros(2)
        )
        return Leg(stop, self.route, self.origin, self.offset_m + self.driven_m)


MAX_EVSE_KW = 1000.0


@dataclass(frozen=True, slots=True)
class Charger:
    """The charger the car is plugged into: AC (through the on-board charger) or DC."""

    kind: ChargeKind
    evse_kw: float

    def __post_init__(self) -> None:
        if self.kind not in ("ac", "dc"):
            raise ActuatorRejectedError(
                "plug", "invalid_value", f"plug_in: kind {self.kind!r} is not 'ac' or 'dc'"
            )
        if not (math.isfinite(self.evse_kw) and 0.0 < self.evse_kw <= MAX_EVSE_KW):
            raise ActuatorRejectedError(
                "plug",
                "invalid_value",
                f"plug_in: evse_kw {self.evse_kw} must be in (0, {MAX_EVSE_KW:g}] kW",
            )

    def power(
        self,
        pack: bat.Pack,
        soc: float,
        *,
        charging: bool,
        loads_w: float,
        max_ac_kw: float,
        params: ModelParams,
    ) -> tuple[float, float]:
        """(into the battery terminals, from the grid) with the car's ``loads_w`` on shore power;
        the battery's share is :func:`smartev.sim.charging.charge_power`'s."""
        charge_w = wall_w = 0.0
        if charging:
            p = charge_power(
                pack, soc, kind=self.kind, evse_kw=self.evse_kw, max_ac_kw=max_ac_kw, params=params
            )
            charge_w, wall_w = float(p.terminal_w[()]), float(p.wall_w[()])
        efficiency = params.charger_efficiency if self.kind == "ac" else DC_STATION_EFFICIENCY
        return charge_w, wall_w + loads_w / efficiency


@dataclass
class Ledger:
    """Energy booked over a tick, or over the car's life, in joules."""

    terminal_j: float = 0.0
    chemical_j: float = 0.0
    charge_j: float = 0.0
    wall_j: float = 0.0
    limited: bool = False  # the car could not reach an asked speed

    def add(self, other: Ledger) -> None:
        self.terminal_j += other.terminal_j
        self.chemical_j += other.chemical_j
        self.charge_j += other.charge_j
        self.wall_j += other.wall_j

    def meters(self) -> EnergyMeters:
        return EnergyMeters(
            battery_kwh=self.terminal_j / units.J_PER_KWH,
            chemical_kwh=self.chemical_j / units.J_PER_KWH,
            charged_kwh=self.charge_j / units.J_PER_KWH,
            wall_kwh=self.wall_j / units.J_PER_KWH,
        )


@dataclass(frozen=True, slots=True)
class PackThermalParams:
    """The pack as one heat capacity that loses heat to the air, and a cooling loop."""

    # About 6.5 kg of pack per usable kWh (cells, modules, housing, coolant) at ~0.9 kJ/(kg·K).
    heat_capacity_j_per_k_per_kwh: float = 6_000.0
    conductance_w_per_k: float = 15.0  # passive, through the housing: hours to settle
    # The liquid loop only runs while the car is awake and the pack is warm; it rejects heat
    # through the front radiator, so it can bring the pack to ambient but not below.
    cooling_w_per_k: float = 250.0
    cooling_above_c: float = 35.0


DEFAULT_PACK_THERMAL = PackThermalParams()


def pack_temp_after(
    p: PackThermalParams,
    energy_kwh: float,
    temp_c: float,
    ambient_c: float,
    heat_w: float,
    dt_s: float,
    *,
    awake: bool,
) -> float:
    """Pack temperature after ``dt_s`` of ``heat_w`` (I²R) inside it: exact for the linear model."""
    cooling = awake and temp_c > p.cooling_above_c
    k = p.conductance_w_per_k + (p.cooling_w_per_k if cooling else 0.0)
    equilibrium = ambient_c + heat_w / k
    decay = math.exp(-k * dt_s / (p.heat_capacity_j_per_k_per_kwh * energy_kwh))
    return equilibrium + (temp_c - equilibrium) * decay


@dataclass
class CarThermal:
    """The cabin, warmed or cooled by the HVAC (:mod:`smartev.sim.thermal`), and the pack."""

    ambient_c: float
    cabin_c: float
    battery_c: float
    battery_kwh: float
    cabin: CabinParams
    pack: PackThermalParams
    heat_pump: bool
    hvac_on: bool = False
    setpoint_c: float = 21.0

    def hvac_w(self) -> tuple[float, float]:
        """(heat into the cabin, electric power) of the HVAC now; both 0 when it is off."""
        on = self.hvac_on
        heat = hvac_thermal_w(
            self.cabin_c, self.setpoint_c, on, ambient_c=self.ambient_c, p=self.cabin
        )
        electric = hvac_electric_w(heat, self.ambient_c, self.heat_pump, on, self.cabin)
        return float(heat), float(electric)

    def advance(
        self, hvac_heat_w: float, battery_loss_w: float, dt_s: float, *, awake: bool
    ) -> None:
        self.cabin_c = float(
            cabin_step(self.cabin_c, self.ambient_c, hvac_heat_w, dt_s, self.cabin)
        )
        self.battery_c = pack_temp_after(
            self.pack,
            self.battery_kwh,
            self.battery_c,
            self.ambient_c,
            battery_loss_w,
            dt_s,
            awake=awake,
        )


RANGE_MEMORY_M = 25_000.0
"""The range estimate forgets driving older than about this distance (exponentially)."""
DEFAULT_RANGE_SPEED_MPS = 50.0 / 3.6
_MIN_J_PER_M = 50.0 * units.J_PER_WH / 1000.0  # 50 Wh/km: a long descent must not promise 5000 km


class RangeEstimator:
    """Usable energy over a rolling consumption, as a car's guess-o-meter does.

    Consumption starts at the car's steady 50 km/h figure (HVAC off, flat road) and then follows
    the battery energy per distance of the last ~``memory_m`` driven, with an exponential memory,
    so an hour in town and a motorway stint each pull it their way. Energy used while stopped in
    traffic counts; energy used while parked (pre-heating, charging) does not.
    """

    def __init__(self, default_j_per_m: float, memory_m: float = RANGE_MEMORY_M) -> None:
        self.j_per_m = default_j_per_m
        self.memory_m = memory_m

    @classmethod
    def for_drive(
        cls, p: DriveParams, pack: bat.Pack, memory_m: float = RANGE_MEMORY_M
    ) -> RangeEstimator:
        v = np.array([DEFAULT_RANGE_SPEED_MPS])
        steady = step(p, pack, v, v, 1.0, 0.0, np.array([0.8]))
        return cls(float(steady.terminal_w[0]) / DEFAULT_RANGE_SPEED_MPS, memory_m)

    @property
    def wh_per_km(self) -> float:
        return self.j_per_m * 1000.0 / units.J_PER_WH

    def add(self, distance_m: float, energy_j: float) -> None:
        """Book ``energy_j`` spent at the battery terminals over ``distance_m`` of driving."""
        if distance_m > 0.0:
            keep = math.exp(-distance_m / self.memory_m)
            weight = -math.expm1(-distance_m / self.memory_m) / distance_m
        else:  # the limit of the above as the distance goes to 0: standing energy still counts
            keep, weight = 1.0, 1.0 / self.memory_m
        self.j_per_m = self.j_per_m * keep + energy_j * weight

    def range_km(self, usable_kwh: float) -> float:
        return usable_kwh * units.J_PER_KWH / max(self.j_per_m, _MIN_J_PER_M) / 1000.0
