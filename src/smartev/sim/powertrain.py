"""Longitudinal dynamics and the electric drive: road load, traction limits, motor and inverter
losses, and the split of braking between regeneration and friction brakes.

Every function broadcasts over numpy arrays, so :class:`DriveParams` may hold one car's floats
(stepping along a cycle, vectorized over time) or a fleet's arrays (stepping many cars at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from smartev.core.units import STANDARD_GRAVITY
from smartev.sim.params import DEFAULT_PARAMS, ModelParams
from smartev.sim.spec import VehicleSpec

FloatArray = npt.NDArray[np.float64]
ArrayLike = FloatArray | float


@dataclass(frozen=True, slots=True)
class DerivedDriveParams:
    """Per-car constants computed once from :class:`DriveParams`, so a step does not redo them."""

    weight_n: Any  # m·g, for the grade force
    regen_limit_n: Any  # the most braking force the driven axle takes by regeneration
    standby_w: Any  # see standby_w()
    on_load_w: Any  # auxiliaries + drive standby: drawn whenever the car is on
    # The motor loss map of motor_loss_w() as a polynomial in v and F = |force|, with the rated
    # power and base speed folded in:  v·(spin + spin2·v) + F·(inverter + copper·F + gear·v).
    spin_w_per_mps: Any
    spin2_w_per_mps2: Any
    inverter_w_per_n: Any
    copper_w_per_n2: Any
    regen_loss_is_one: bool  # regeneration costs what driving does, for every car

    @classmethod
    def of(cls, p: DriveParams) -> DerivedDriveParams:
        base, rated = p.base_speed_mps, p.rated_w
        standby = rated * p.loss_standby
        return cls(
            weight_n=p.mass_kg * STANDARD_GRAVITY,
            regen_limit_n=p.max_regen_decel_mps2 * p.mass_kg,
            standby_w=standby,
            on_load_w=p.aux_w + standby,
            spin_w_per_mps=rated * p.loss_speed / base,
            spin2_w_per_mps2=rated * p.loss_speed2 / base**2,
            inverter_w_per_n=p.loss_inverter * base,
            copper_w_per_n2=p.loss_copper * base**2 / rated,
            regen_loss_is_one=bool(np.all(np.asarray(p.loss_regen) == 1.0)),
        )


@dataclass(frozen=True, slots=True)
class DriveParams:
    """Per-car constants of the drive, in SI. Fields are floats for one car or arrays for many."""

    mass_kg: Any
    inertial_mass_kg: Any
    f0_n: Any
    f1_n_per_mps: Any
    f2_n_per_mps2: Any
    rated_w: Any
    max_speed_mps: Any
    loss_speed: Any
    loss_speed2: Any
    loss_copper: Any
    loss_inverter: Any
    loss_gear: Any
    loss_standby: Any
    loss_regen: Any
    max_regen_decel_mps2: Any
    aux_w: Any
    base_speed_mps: float
    regen_fade_lo_mps: float
    regen_fade_hi_mps: float
    # Computed from the fields above, not passed in.
    derived: DerivedDriveParams = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "derived", DerivedDriveParams.of(self))

    @classmethod
    def for_spec(cls, spec: VehicleSpec, params: ModelParams = DEFAULT_PARAMS) -> DriveParams:
        loss = params.losses[spec.motor_type]
        speed_share = params.awd_speed_loss_share if spec.drive == "awd" else 1.0
        return cls(
            mass_kg=spec.mass_kg,
            inertial_mass_kg=spec.mass_kg * (1.0 + params.rotating_mass_factor),
            f0_n=spec.f0_n,
            f1_n_per_mps=spec.f1_n_per_mps,
            f2_n_per_mps2=spec.f2_n_per_mps2,
            rated_w=spec.motor_kw * 1000.0,
            max_speed_mps=spec.max_speed_mps,
            loss_speed=loss.speed * speed_share,
            loss_speed2=loss.speed2 * speed_share,
            loss_copper=loss.copper,
            loss_inverter=loss.inverter,
            loss_gear=loss.gear,
            loss_standby=loss.standby,
            loss_regen=loss.regen,
            max_regen_decel_mps2=params.max_regen_decel_mps2[spec.drive],
            aux_w=spec.aux_w if spec.aux_w is not None else params.aux_w,
            base_speed_mps=params.base_speed_mps,
            regen_fade_lo_mps=params.regen_fade_mps[0],
            regen_fade_hi_mps=params.regen_fade_mps[1],
        )

    @classmethod
    def stack(cls, cars: list[DriveParams]) -> DriveParams:
        """One DriveParams whose per-car fields are arrays, for the fleet engine."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if not f.init:
                continue
            column = [getattr(c, f.name) for c in cars]
            if f.type == "float":
                if len(set(column)) != 1:
                    raise ValueError(f"{f.name} must be the same for every car of a fleet")
                values[f.name] = column[0]
            else:
                values[f.name] = np.asarray(column, dtype=np.float64)
        return cls(**values)


def road_load_n(p: DriveParams, speed_mps: ArrayLike, grade: ArrayLike = 0.0) -> FloatArray:
    """Rolling + aerodynamic + grade force at a speed. Rolling resistance only while moving."""
    v = np.asarray(speed_mps, dtype=np.float64)
    # Times a bool rather than np.where: the same numbers, at less cost.
    load = (p.f0_n + p.f1_n_per_mps * v) * (v > 0.01)
    load += p.f2_n_per_mps2 * v * v
    if isinstance(grade, int | float) and grade == 0.0:  # flat: skip a pass over the cars
        return np.asarray(load, dtype=np.float64)
    return np.asarray(load + p.derived.weight_n * np.asarray(grade), dtype=np.float64)


def max_traction_n(p: DriveParams, speed_mps: ArrayLike) -> FloatArray:
    """Peak motor force at the wheels: constant up to base speed, constant power above."""
    v = np.maximum(np.asarray(speed_mps, dtype=np.float64), p.base_speed_mps)
    return np.asarray(p.rated_w / v, dtype=np.float64)


def motor_loss_w(p: DriveParams, force_n: ArrayLike, speed_mps: ArrayLike) -> FloatArray:
    """Motor, inverter and gear losses for a wheel force and speed (same form for regen).

    A generic efficiency map scaled by the rated power: speed-dependent iron and windage losses,
    copper losses growing with the square of torque, inverter conduction losses with current, and
    gear mesh losses with transmitted power. The drive's standby draw (:func:`standby_w`) is
    booked apart, with the auxiliaries, because an empty pack cuts it too.
    """
    k = p.derived
    v = np.asarray(speed_mps, dtype=np.float64)
    signed = np.asarray(force_n, dtype=np.float64)
    f = np.abs(signed)
    spinning = k.spin2_w_per_mps2 * v
    spinning += k.spin_w_per_mps
    spinning *= v
    loaded = k.copper_w_per_n2 * f
    loaded += k.inverter_w_per_n
    loaded = (loaded + p.loss_gear * v) * f
    running = spinning + loaded
    if k.regen_loss_is_one:
        return np.asarray(running, dtype=np.float64)
    return np.asarray(np.where(signed < 0, running * p.loss_regen, running), dtype=np.float64)


def standby_w(p: DriveParams) -> Any:
    """What the drive (inverter, pumps, controllers) draws whenever it is on, moving or not."""
    return p.derived.standby_w


def regen_fraction(p: DriveParams, speed_mps: ArrayLike) -> FloatArray:
    """Share of braking the motor may take at this speed (fades out as the car stops)."""
    span = p.regen_fade_hi_mps - p.regen_fade_lo_mps
    fraction = (np.asarray(speed_mps, dtype=np.float64) - p.regen_fade_lo_mps) / span
    return np.asarray(np.minimum(np.maximum(fraction, 0.0), 1.0), dtype=np.float64)


def split_braking(
    p: DriveParams,
    force_n: ArrayLike,
    speed_mps: ArrayLike,
    charge_limit_w: ArrayLike,
    *,
    traction_n: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Split a negative (braking) wheel force into (regenerative, friction) parts, both <= 0.

    Regeneration is limited by the motor's peak force, by how hard the driven axle may brake,
    by the fade at low speed, and by the battery's charge acceptance. ``traction_n`` is
    :func:`max_traction_n` at ``speed_mps`` when the caller has it already.
    """
    f = np.minimum(np.asarray(force_n, dtype=np.float64), 0.0)
    v = np.asarray(speed_mps, dtype=np.float64)
    if traction_n is None:
        traction_n = max_traction_n(p, v)
    limit = np.minimum(traction_n, p.derived.regen_limit_n)
    limit = np.minimum(limit, np.asarray(charge_limit_w) / np.maximum(v, 0.1))
    # Both negative: the larger is the smaller braking force.
    regen = np.maximum(f * regen_fraction(p, v), -limit)
    return np.asarray(regen, dtype=np.float64), np.asarray(f - regen, dtype=np.float64)
