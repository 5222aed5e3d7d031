"""One car over a drive cycle: the physics step and the cycle runner.

:func:`step` advances any number of cars (or one car over many time steps) by one step each: it
limits the asked speed to what the motor and battery can deliver, splits braking between the motor
and the friction brakes, and books every watt: battery chemical power = wheel power + friction
braking + motor/inverter/gear losses + battery losses + auxiliaries + HVAC.

:func:`simulate_cycle` runs a car over a whole cycle. When the car can follow the trace (the usual
case) every step is known in advance, so the whole cycle is computed as arrays over time in two
passes (the second with the SoC trajectory of the first): a 1,370 s UDDS takes about a
millisecond. When the car cannot follow (too little power), it falls back to stepping in order,
because each step then starts from the speed actually reached, and reports the shortfall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from smartev.core import units
from smartev.sim import battery as bat
from smartev.sim.cycles import DriveCycle
from smartev.sim.params import DEFAULT_PARAMS, ModelParams
from smartev.sim.powertrain import (
    DriveParams,
    max_traction_n,
    motor_loss_w,
    road_load_n,
    split_braking,
    standby_w,
)
from smartev.sim.spec import VehicleSpec
from smartev.sim.thermal import DEFAULT_CABIN, CabinParams, cabin_trace

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Share of the battery's spare discharge power that reaches the wheels when power-limited: the
# rest is motor and inverter loss at full load.
_FULL_LOAD_EFFICIENCY = 0.88


class _StepParts(NamedTuple):
    """What a step's less used outputs are computed from: per entry, or one float for all."""

    speed_avg_mps: FloatArray
    force_n: FloatArray  # at the wheels
    friction_n: FloatArray
    running_loss_w: FloatArray  # motor, inverter and gear losses besides standby
    r_ohm: FloatArray
    aux_w: Any  # asked
    standby_w: Any
    extra_w: Any  # asked


@dataclass(frozen=True, slots=True)
class Step:
    """One step's result for each car (or each time step). Powers in W, averaged over the step.

    The fleet engine steps all its cars every step and reads only the fields, so the other
    powers are properties, computed from the step's parts when read.
    """

    speed_mps: FloatArray  # reached at the end of the step
    limited: BoolArray  # the asked speed could not be reached
    motor_w: FloatArray  # mechanical power of the motor at the wheels (negative in regen)
    terminal_w: FloatArray  # at the battery terminals, discharge > 0
    current_a: FloatArray
    # Share of the asked auxiliaries and HVAC the pack fed (less than 1 only on an empty pack);
    # None when every entry was fed in full.
    fed_share: FloatArray | None
    _parts: _StepParts

    @property
    def wheel_w(self) -> FloatArray:
        """Road load + inertia, at the wheels (negative when braking)."""
        return self._parts.force_n * self._parts.speed_avg_mps

    @property
    def friction_w(self) -> FloatArray:
        """Dissipated by friction brakes (<= 0)."""
        return self._parts.friction_n * self._parts.speed_avg_mps

    @property
    def motor_loss_w(self) -> FloatArray:
        """Motor, inverter and gear losses, the drive's standby draw included."""
        return self._parts.running_loss_w + self._fed(self._parts.standby_w)

    @property
    def battery_loss_w(self) -> FloatArray:
        """I²R."""
        return self.current_a * self.current_a * self._parts.r_ohm

    @property
    def chemical_w(self) -> FloatArray:
        """OCV·I: what leaves the cells' chemistry."""
        return self.terminal_w + self.battery_loss_w

    @property
    def aux_w(self) -> FloatArray:
        """Auxiliaries really fed (less than asked only on an empty pack)."""
        return self._fed(self._parts.aux_w)

    @property
    def extra_w(self) -> FloatArray:
        """HVAC really fed."""
        return self._fed(self._parts.extra_w)

    def _fed(self, asked_w: Any) -> FloatArray:
        if self.fed_share is None:
            return np.full(self.terminal_w.shape, asked_w, dtype=np.float64)
        return np.asarray(asked_w * self.fed_share, dtype=np.float64)

    @classmethod
    def joined(cls, rows: Sequence[Step]) -> Step:
        """The steps of ``rows`` end to end, as if stepped at once."""

        def join(values: list[Any]) -> Any:
            shapes = [r.terminal_w.shape for r in rows]
            return np.concatenate(
                [np.broadcast_to(v, shape) for v, shape in zip(values, shapes, strict=True)]
            )

        shares = [np.ones(r.terminal_w.shape) if r.fed_share is None else r.fed_share for r in rows]
        return cls(
            speed_mps=join([r.speed_mps for r in rows]),
            limited=join([r.limited for r in rows]),
            motor_w=join([r.motor_w for r in rows]),
            terminal_w=join([r.terminal_w for r in rows]),
            current_a=join([r.current_a for r in rows]),
            fed_share=join(shares),
            _parts=_StepParts(
                *(join(list(part)) for part in zip(*(r._parts for r in rows), strict=True))
            ),
        )


def step(
    p: DriveParams,
    pack: bat.Pack,
    v0: FloatArray,
    v_target: FloatArray,
    dt_s: FloatArray | float,
    grade: FloatArray | float,
    soc: FloatArray,
    extra_w: FloatArray | float = 0.0,
    battery_temp_c: FloatArray | float = 25.0,
) -> Step:
    """Advance by one step from ``v0`` toward ``v_target``; ``extra_w`` is HVAC power.

    ``v0``, ``v_target`` and ``soc`` are arrays of one shape (one entry per car or time step);
    the other arguments are floats or arrays of that shape.
    """
    # The fleet engine calls this once per time step for all cars, where each numpy call costs
    # about as much as its arithmetic: so quantities are computed once and passed on, and
    # intermediate arrays made here are updated in place.
    ocv, charge_share = bat.curves_at(pack, soc)
    ocv_sq = ocv * ocv
    r = bat.resistance_ohm(pack, soc, battery_temp_c)
    available_w = bat.max_discharge_w(pack, soc, ocv, r, ocv_sq=ocv_sq)
    # An empty pack (at its SoC floor) cannot feed even the auxiliaries: the car shuts down.
    standby = standby_w(p)
    asked_w = p.derived.on_load_w
    if not (isinstance(extra_w, int | float) and extra_w == 0.0):
        asked_w = asked_w + np.asarray(extra_w)
    loads_w = np.minimum(asked_w, available_w)
    fed = None
    if np.count_nonzero(loads_w < asked_w):  # count_nonzero: the cheapest "any" at this size
        fed = np.divide(loads_w, asked_w, out=np.ones_like(loads_w), where=asked_w > 0)
    v_target = np.minimum(v_target, p.max_speed_mps)
    v_avg = v0 + v_target
    v_avg *= 0.5
    force = v_target - v0
    force *= p.inertial_mass_kg
    force /= dt_s
    force += road_load_n(p, v_avg, grade)
    spare_w = np.maximum(available_w - loads_w, 0.0)
    traction = max_traction_n(p, v_avg)
    cap = np.minimum(traction, spare_w * _FULL_LOAD_EFFICIENCY / np.maximum(v_avg, 0.5))
    limited = force > cap * (1.0 + 1e-9)
    v1 = v_target
    if np.count_nonzero(limited):
        # Solve m·(v1 − v0)/dt + RL((v0 + v1)/2) = cap for v1 where limited; RL is smooth and
        # small next to the inertia term, so a few fixed-point rounds converge.
        v1 = np.array(v_target, dtype=np.float64, copy=True)
        for _ in range(3):
            v_mid = 0.5 * (v0 + v1)
            cap_mid = np.minimum(
                max_traction_n(p, v_mid), spare_w * _FULL_LOAD_EFFICIENCY / np.maximum(v_mid, 0.5)
            )
            reach = v0 + dt_s * (cap_mid - road_load_n(p, v_mid, grade)) / p.inertial_mass_kg
            reach = np.minimum(np.maximum(reach, 0.0), v_target)
            v1 = np.where(limited, reach, v_target)
        v_avg = 0.5 * (v0 + v1)
        force = p.inertial_mass_kg * (v1 - v0) / dt_s + road_load_n(p, v_avg, grade)
        traction = max_traction_n(p, v_avg)
    charge_limit = bat.charge_acceptance_w(pack, soc, share=charge_share)
    charge_limit += loads_w
    regen_force, friction_force = split_braking(p, force, v_avg, charge_limit, traction_n=traction)
    # The motor drives with the whole force or brakes with the regenerative part (regen_force
    # is 0 when driving), without a np.where.
    motor_force = np.maximum(force, 0.0)
    motor_force += regen_force
    motor_w = motor_force * v_avg
    loss = motor_loss_w(p, motor_force, v_avg)
    terminal = motor_w + loss
    terminal += loads_w
    return Step(
        speed_mps=np.asarray(v1, dtype=np.float64),
        limited=limited,
        motor_w=motor_w,
        terminal_w=terminal,
        current_a=bat.current_a(terminal, ocv, r, ocv_sq=ocv_sq),
        fed_share=fed,
        _parts=_StepParts(v_avg, force, friction_force, loss, r, p.aux_w, standby, extra_w),
    )


@dataclass(frozen=True)
class CycleResult:
    """A car's run over a cycle. Step arrays have one entry per step; speed/SoC/cabin one more."""

    vehicle: str
    cycle: str
    time_s: FloatArray
    target_speed_mps: FloatArray
    speed_mps: FloatArray
    soc: FloatArray
    cabin_c: FloatArray
    dt_s: FloatArray
    wheel_w: FloatArray
    motor_w: FloatArray
    friction_w: FloatArray
    motor_loss_w: FloatArray
    battery_loss_w: FloatArray
    aux_w: FloatArray
    hvac_w: FloatArray
    terminal_w: FloatArray
    chemical_w: FloatArray
    limited: BoolArray
    wall_per_chemical: float  # wall energy to put one joule back into the cells

    def _energy_kwh(self, power_w: FloatArray) -> float:
        return float(np.dot(power_w, self.dt_s)) / units.J_PER_KWH

    @cached_property
    def distance_m(self) -> float:
        return float(np.dot(0.5 * (self.speed_mps[:-1] + self.speed_mps[1:]), self.dt_s))

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0])

    @property
    def battery_kwh(self) -> float:
        """Net energy out of the battery terminals (what a DC meter on the pack reads)."""
        return self._energy_kwh(self.terminal_w)

    @property
    def chemical_kwh(self) -> float:
        return self._energy_kwh(self.chemical_w)

    @property
    def wall_kwh(self) -> float:
        """AC energy from the wall to recharge what the cycle used, charger losses included."""
        return self.chemical_kwh * self.wall_per_chemical

    def _per_100km(self, kwh: float) -> float:
        return kwh / (self.distance_m / 100_000.0) if self.distance_m > 0 else float("nan")

    @property
    def battery_kwh_per_100km(self) -> float:
        return self._per_100km(self.battery_kwh)

    @property
    def wall_kwh_per_100km(self) -> float:
        return self._per_100km(self.wall_kwh)

    @property
    def battery_wh_per_mi(self) -> float:
        return units.wh_per_km_to_wh_per_mi(self.battery_kwh_per_100km * 10.0)

    @property
    def wall_wh_per_mi(self) -> float:
        return units.wh_per_km_to_wh_per_mi(self.wall_kwh_per_100km * 10.0)

    @property
    def regen_share(self) -> float:
        """Energy the motor regenerated over the energy it drew for traction (electrical side)."""
        motor_elec = self.motor_w + self.motor_loss_w
        drawn = float(np.dot(np.maximum(motor_elec, 0.0), self.dt_s))
        regenerated = float(np.dot(np.maximum(-motor_elec, 0.0), self.dt_s))
        return regenerated / drawn if drawn > 0 else 0.0

    @property
    def trace_miss_steps(self) -> int:
        """Steps where the car could not reach the cycle's speed."""
        return int(np.count_nonzero(self.limited))

    @property
    def max_shortfall_kmh(self) -> float:
        return units.mps_to_kmh(float(np.max(self.target_speed_mps - self.speed_mps)))


def wall_per_chemical(spec: VehicleSpec, params: ModelParams = DEFAULT_PARAMS) -> float:
    """Wall energy per joule stored, when charging at level 2 (charger and battery losses)."""
    pack = bat.pack_for(spec)
    terminal_w = params.level2_charge_w * params.charger_efficiency
    return 1.0 / (params.charger_efficiency * bat.charge_efficiency(pack, terminal_w))


def simulate_cycle(
    spec: VehicleSpec,
    cycle: DriveCycle,
    *,
    params: ModelParams = DEFAULT_PARAMS,
    soc0: float = 0.9,
    ambient_c: float = 23.0,
    hvac_setpoint_c: float | None = None,
    heat_pump: bool = True,
    cabin: CabinParams = DEFAULT_CABIN,
) -> CycleResult:
    """Drive ``spec`` over ``cycle`` from ``soc0``; HVAC on when ``hvac_setpoint_c`` is given."""
    p = DriveParams.for_spec(spec, params)
    pack = bat.pack_for(spec)
    t = cycle.time_s
    target = cycle.speed_mps
    dt = np.diff(t)
    grade = 0.5 * (cycle.grade[:-1] + cycle.grade[1:])
    n = len(dt)
    cabin_c, hvac = cabin_trace(
        n + 1,
        dt,
        cabin0_c=ambient_c,
        ambient_c=ambient_c,
        setpoint_c=hvac_setpoint_c,
        heat_pump=heat_pump,
        p=cabin,
    )
    hvac = hvac[:n]
    soc_start = np.full(n, soc0)
    # A flat cycle (most are) skips the grade term in each step.
    slope: FloatArray | float = grade if grade.any() else 0.0
    s = step(p, pack, target[:-1], target[1:], dt, slope, soc_start, hvac, ambient_c)
    if not s.limited.any():
        soc_traj = bat.soc_after(
            pack, soc0, np.concatenate(([0.0], np.cumsum(s.current_a * dt))), 1.0
        )
        s = step(p, pack, target[:-1], target[1:], dt, slope, soc_traj[:-1], hvac, ambient_c)
        speed = target
    else:
        s, speed = _step_in_order(p, pack, target, dt, grade, soc0, hvac, ambient_c)
    soc = bat.soc_after(pack, soc0, np.concatenate(([0.0], np.cumsum(s.current_a * dt))), 1.0)
    return CycleResult(
        vehicle=spec.name,
        cycle=cycle.name,
        time_s=t,
        target_speed_mps=target,
        speed_mps=speed,
        soc=soc,
        cabin_c=cabin_c,
        dt_s=dt,
        wheel_w=s.wheel_w,
        motor_w=s.motor_w,
        friction_w=s.friction_w,
        motor_loss_w=s.motor_loss_w,
        battery_loss_w=s.battery_loss_w,
        aux_w=s.aux_w,
        hvac_w=s.extra_w,
        terminal_w=s.terminal_w,
        chemical_w=s.chemical_w,
        limited=s.limited,
        wall_per_chemical=wall_per_chemical(spec, params),
    )


def _step_in_order(
    p: DriveParams,
    pack: bat.Pack,
    target: FloatArray,
    dt: FloatArray,
    grade: FloatArray,
    soc0: float,
    hvac: FloatArray,
    battery_temp_c: float,
) -> tuple[Step, FloatArray]:
    """Step by step, each from the speed really reached: for cycles the car cannot follow."""
    n = len(dt)
    speed = np.empty(n + 1)
    speed[0] = target[0]
    soc = np.array([soc0])
    rows: list[Step] = []
    for i in range(n):
        s = step(
            p,
            pack,
            speed[i : i + 1],
            target[i + 1 : i + 2],
            dt[i],
            grade[i],
            soc,
            hvac[i],
            battery_temp_c,
        )
        rows.append(s)
        speed[i + 1] = s.speed_mps[0]
        soc = bat.soc_after(pack, soc, s.current_a, dt[i])
    return Step.joined(rows), speed
