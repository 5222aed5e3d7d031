"""The model's global parameters: the same numbers for every car.

They are calibrated once on the EPA calibration cars (``scripts/calibrate_sim.py``) and never
tuned per vehicle, so the model has to generalize from each car's public figures alone. A car's
spec scales them (motor losses scale with the motor's rated power, battery resistance with the
pack's energy and voltage).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from smartev.sim.spec import MotorType


@dataclass(frozen=True, slots=True)
class MotorLosses:
    """Motor + inverter + gear losses, as fractions of the rated power P.

    loss = P·(standby + speed·w + speed2·w² + copper·τ² + inverter·|τ|) + gear·|P_mech|,
    times ``regen`` when the motor brakes, where w = v / base_speed and τ = F·base_speed / P
    (the force as a share of peak force). ``standby`` is drawn whenever the drive is on.
    """

    speed: float
    speed2: float
    copper: float
    inverter: float
    gear: float
    standby: float = 0.0
    regen: float = 1.0


@dataclass(frozen=True, slots=True)
class ModelParams:
    base_speed_mps: float = 13.5
    """Vehicle speed at the motor's base speed: constant force below, constant power above."""
    losses: dict[MotorType, MotorLosses] = field(
        default_factory=lambda: {
            "pmsm": MotorLosses(
                speed=0.00139,
                speed2=0.000583,
                copper=0.130,
                inverter=0.0102,
                gear=0.00313,
                standby=0.00276,
                regen=0.986,
            ),
            # No calibration car has an induction motor: relative to the PMSM figures, more copper
            # loss (the rotor's) and less spinning loss (no magnets to drag, flux reduced at
            # light load). An assumption from the usual comparison, not a calibrated figure.
            "induction": MotorLosses(
                speed=0.0008,
                speed2=0.00035,
                copper=0.20,
                inverter=0.0102,
                gear=0.00313,
                standby=0.00276,
                regen=0.986,
            ),
        }
    )
    awd_speed_loss_share: float = 0.7
    """AWD cars split motor_kw over two motors; at part load mostly one turns under load."""
    aux_w: float = 134.0
    """Low-voltage loads (computers, pumps, lights) with the HVAC off, when a spec gives none."""
    charger_efficiency: float = 0.915
    """AC wall power to DC battery terminals at level-2 charging."""
    level2_charge_w: float = 7200.0
    """Charging power assumed when converting battery energy to wall energy."""
    rotating_mass_factor: float = 0.015
    """Extra equivalent mass of the wheels, shafts and rotor, as a share of the test mass."""
    regen_fade_mps: tuple[float, float] = (0.5, 2.56)
    """Regeneration fades out linearly between these speeds (friction brakes stop the car)."""
    max_regen_decel_mps2: dict[str, float] = field(
        default_factory=lambda: {"fwd": 3.0, "rwd": 2.0, "awd": 3.5}
    )
    """Deceleration the driven axle can take by regeneration before friction brakes blend in."""

    def with_(self, **changes: object) -> ModelParams:
        return replace(self, **changes)  # type: ignore[arg-type]


DEFAULT_PARAMS = ModelParams()
