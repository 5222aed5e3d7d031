"""A lumped cabin thermal model and its HVAC: heat pump (or PTC heater) and air conditioning.

The cabin is one heat capacity exchanging heat with the outside through a conductance, warmed by
the sun and by the HVAC. The controller feeds forward the heat the cabin loses to the outside at
the set point and adds a proportional correction, within the HVAC's thermal limits, so the cabin
settles at the set point rather than short of it; electric power is thermal power over the
coefficient of performance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CabinParams:
    heat_capacity_j_per_k: float = 120_000.0  # air, seats and trim that follow the air quickly
    conductance_w_per_k: float = 80.0  # glass, body and ventilation exchange
    max_heat_w: float = 6000.0  # thermal
    max_cool_w: float = 5000.0  # thermal
    gain_w_per_k: float = 1500.0  # controller: thermal watts per kelvin of error
    blower_w: float = 150.0  # fan and controls whenever the HVAC is on
    solar_gain_w: float = 0.0


DEFAULT_CABIN = CabinParams()


def heating_cop(ambient_c: float, heat_pump: bool) -> float:
    """Coefficient of performance when heating; a heat pump degrades in the cold, PTC is 1."""
    if not heat_pump or ambient_c < -20.0:
        return 1.0
    return min(3.5, max(1.3, 2.2 + 0.05 * ambient_c))


def cooling_cop(ambient_c: float) -> float:
    return min(3.5, max(1.5, 3.0 - 0.05 * (ambient_c - 25.0)))


def hvac_thermal_w(
    cabin_c: FloatArray | float,
    setpoint_c: FloatArray | float,
    on: FloatArray | bool,
    *,
    ambient_c: FloatArray | float | None = None,
    p: CabinParams = DEFAULT_CABIN,
) -> FloatArray:
    """Heat the HVAC puts into the cabin (negative when cooling). Broadcasts over cars.

    With ``ambient_c`` the controller also feeds forward the cabin's heat loss at the set point.
    """
    setpoint = np.asarray(setpoint_c)
    demand = p.gain_w_per_k * (setpoint - np.asarray(cabin_c))
    if ambient_c is not None:
        demand = (
            demand + p.conductance_w_per_k * (setpoint - np.asarray(ambient_c)) - p.solar_gain_w
        )
    return np.asarray(np.clip(demand, -p.max_cool_w, p.max_heat_w) * on, dtype=np.float64)


def hvac_electric_w(
    thermal_w: FloatArray | float,
    ambient_c: float,
    heat_pump: bool,
    on: FloatArray | bool,
    p: CabinParams = DEFAULT_CABIN,
) -> FloatArray:
    t = np.asarray(thermal_w, dtype=np.float64)
    cop = np.where(t >= 0, heating_cop(ambient_c, heat_pump), cooling_cop(ambient_c))
    return np.asarray(np.abs(t) / cop + p.blower_w * np.asarray(on), dtype=np.float64)


def cabin_step(
    cabin_c: FloatArray | float,
    ambient_c: float,
    thermal_w: FloatArray | float,
    dt_s: float,
    p: CabinParams = DEFAULT_CABIN,
) -> FloatArray:
    """Cabin temperature after ``dt_s`` with constant HVAC heat: exact for the linear model."""
    k = p.conductance_w_per_k
    equilibrium = ambient_c + (np.asarray(thermal_w) + p.solar_gain_w) / k
    decay = math.exp(-k * dt_s / p.heat_capacity_j_per_k)
    return np.asarray(equilibrium + (np.asarray(cabin_c) - equilibrium) * decay, dtype=np.float64)


def cabin_trace(
    steps: int,
    dt_s: float | FloatArray,
    *,
    cabin0_c: float,
    ambient_c: float,
    setpoint_c: float | None,
    heat_pump: bool,
    p: CabinParams = DEFAULT_CABIN,
) -> tuple[FloatArray, FloatArray]:
    """Cabin temperature at each step start, and HVAC electric power over each step, for one car.

    The same equations as :func:`hvac_thermal_w` and :func:`cabin_step`, written with plain floats:
    one car's trace is a sequential recurrence, and floats are ten times faster than numpy
    scalars for it. ``dt_s`` is one step length, or one per step (``steps - 1`` of them) for a
    cycle sampled at uneven times.
    """
    temps = np.empty(steps, dtype=np.float64)
    thermal = np.zeros(steps, dtype=np.float64)
    k = p.conductance_w_per_k
    step_s = np.broadcast_to(np.asarray(dt_s, dtype=np.float64), (max(steps - 1, 0),))
    # Decay over each step; the last entry (after the final point) is never used.
    decays = np.exp(-k * np.append(step_s, 0.0) / p.heat_capacity_j_per_k)
    t = cabin0_c
    if setpoint_c is None:
        eq = ambient_c + p.solar_gain_w / k
        temps[:] = eq + (cabin0_c - eq) * np.concatenate(([1.0], np.cumprod(decays[:-1])))
        return temps, thermal
    lo, hi, gain, solar = -p.max_cool_w, p.max_heat_w, p.gain_w_per_k, p.solar_gain_w
    feed_forward = k * (setpoint_c - ambient_c) - solar
    for i, decay in enumerate(decays.tolist()):
        temps[i] = t
        q = min(hi, max(lo, feed_forward + gain * (setpoint_c - t)))
        thermal[i] = q
        eq = ambient_c + (q + solar) / k
        t = eq + (t - eq) * decay
    return temps, hvac_electric_w(thermal, ambient_c, heat_pump, True, p)
