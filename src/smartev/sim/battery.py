"""The traction battery as an equivalent circuit: open-circuit voltage over SoC and a resistance.

All functions take numpy arrays (or floats) and broadcast, so the same code steps one car along
time or a fleet of cars at one instant. Power is positive when the battery discharges.

Pack parameters come from public figures only (usable kWh, chemistry, optionally the nominal pack
voltage); the cell curves are typical published shapes for each chemistry, not one cell's data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from smartev.sim.spec import Chemistry, VehicleSpec

FloatArray = npt.NDArray[np.float64]
ArrayLike = FloatArray | float

# Cell open-circuit voltage at SoC 0, 0.1, …, 1.0: typical shapes. NMC rises steadily; LFP is flat
# through the middle, which is why an LFP car's SoC is hard to estimate from voltage.
_SOC_GRID = np.linspace(0.0, 1.0, 11)
_CELL_OCV_V: dict[Chemistry, FloatArray] = {
    "nmc": np.array([3.00, 3.45, 3.55, 3.62, 3.68, 3.74, 3.82, 3.90, 3.98, 4.08, 4.18]),
    "lfp": np.array([2.90, 3.20, 3.25, 3.28, 3.29, 3.30, 3.31, 3.32, 3.33, 3.35, 3.45]),
}
# Series cells of a ~400 V class pack, used when the spec gives no pack voltage.
_DEFAULT_SERIES: dict[Chemistry, int] = {"nmc": 96, "lfp": 120}
# Resistive loss as a fraction of power when discharging at 1C at mid SoC and 25 °C. Pack-level
# figures of this size are typical for automotive packs (cells, busbars, contactors).
_LOSS_AT_1C: dict[Chemistry, float] = {"nmc": 0.022, "lfp": 0.028}
_R_PER_K = 0.025  # relative resistance change per kelvin below 25 °C (electrolyte gets viscous)
# DC charge acceptance as a fraction of the car's peak DC power, over SoC: constant-current until
# the knee, then tapering (constant voltage). LFP holds power longer than NMC.
_TAPER_SOC = np.array([0.0, 0.1, 0.5, 0.6, 0.8, 0.9, 0.95, 1.0])
_TAPER: dict[Chemistry, FloatArray] = {
    "nmc": np.array([0.60, 1.00, 1.00, 0.80, 0.45, 0.25, 0.15, 0.04]),
    "lfp": np.array([0.60, 1.00, 1.00, 1.00, 0.75, 0.40, 0.20, 0.05]),
}


# Curves are resampled once onto this uniform SoC grid, so one interpolation serves one pack
# (a table of shape (K,)) or a fleet of packs (shape (N, K)) alike.
_GRID_POINTS = 41
_UNIFORM_SOC = np.linspace(0.0, 1.0, _GRID_POINTS)


def _interp_uniform(table: FloatArray, soc: ArrayLike) -> FloatArray:
    """Linear interpolation of ``table`` (rows over the uniform SoC grid) at ``soc``."""
    x = np.clip(np.asarray(soc, dtype=np.float64), 0.0, 1.0) * (_GRID_POINTS - 1)
    lo = np.minimum(x.astype(np.intp), _GRID_POINTS - 2)
    frac = x - lo
    if table.ndim == 1:
        left, right = table[lo], table[lo + 1]
    else:
        rows = np.arange(table.shape[0])
        left, right = table[rows, lo], table[rows, lo + 1]
    return np.asarray(left + (right - left) * frac, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Pack:
    """The equivalent-circuit parameters of one pack (floats) or of a fleet's packs (arrays)."""

    ocv_table_v: FloatArray  # pack open-circuit voltage over the uniform SoC grid
    taper_table: FloatArray  # DC charge acceptance share over the uniform SoC grid
    nominal_v: Any
    capacity_ah: Any
    energy_kwh: Any
    r_ohm_25c: Any
    max_dc_w: Any
    soc_min: Any
    soc_max: Any

    @classmethod
    def stack(cls, packs: list[Pack]) -> Pack:
        """One Pack whose fields hold every pack's values, for the fleet engine."""
        return cls(**{f.name: np.stack([getattr(p, f.name) for p in packs]) for f in fields(cls)})


def pack_for(spec: VehicleSpec) -> Pack:
    """Derive a pack from the spec's public figures."""
    curve = _CELL_OCV_V[spec.chemistry]
    mean_cell_v = float(np.trapezoid(curve, _SOC_GRID))
    if spec.pack_voltage_v is not None:
        series = max(1, round(spec.pack_voltage_v / mean_cell_v))
    else:
        series = _DEFAULT_SERIES[spec.chemistry]
    nominal_v = series * mean_cell_v
    capacity_ah = spec.battery_kwh * 1000.0 / nominal_v
    # P·R/V² is the loss fraction; at 1C, P = E/1 h, so R = loss_at_1C · V² / (E / 1 h).
    r_ohm = _LOSS_AT_1C[spec.chemistry] * nominal_v**2 / (spec.battery_kwh * 1000.0)
    ocv_table = series * np.interp(_UNIFORM_SOC, _SOC_GRID, curve)
    taper = np.interp(_UNIFORM_SOC, _TAPER_SOC, _TAPER[spec.chemistry])
    return Pack(
        ocv_table_v=ocv_table,
        taper_table=taper,
        nominal_v=nominal_v,
        capacity_ah=capacity_ah,
        energy_kwh=spec.battery_kwh,
        r_ohm_25c=r_ohm,
        max_dc_w=spec.max_dc_kw * 1000.0,
        soc_min=spec.soc_min,
        soc_max=spec.soc_max,
    )


def ocv_v(pack: Pack, soc: ArrayLike) -> FloatArray:
    """Open-circuit pack voltage at ``soc`` (clipped to 0..1)."""
    return _interp_uniform(pack.ocv_table_v, soc)


def resistance_ohm(pack: Pack, soc: ArrayLike, temp_c: ArrayLike = 25.0) -> FloatArray:
    """Series resistance: higher when nearly empty and when cold."""
    soc = np.asarray(soc, dtype=np.float64)
    low_soc = 1.0 + 1.5 * np.clip((0.15 - soc) / 0.15, 0.0, 1.0)
    cold = 1.0 + _R_PER_K * np.clip(25.0 - np.asarray(temp_c, dtype=np.float64), 0.0, 60.0)
    return np.asarray(pack.r_ohm_25c * low_soc * cold, dtype=np.float64)


def max_discharge_w(pack: Pack, soc: ArrayLike, ocv: ArrayLike, r_ohm: ArrayLike) -> FloatArray:
    """The most terminal power the pack gives: matched-load limit, fading to 0 at the SoC floor."""
    fade = np.clip((np.asarray(soc) - pack.soc_min) / 0.03, 0.0, 1.0)
    return np.asarray(0.9 * np.asarray(ocv) ** 2 / (4.0 * np.asarray(r_ohm)) * fade)


def charge_acceptance_w(pack: Pack, soc: ArrayLike) -> FloatArray:
    """The most power the pack accepts (DC charging or regenerative braking) at ``soc``."""
    soc = np.asarray(soc, dtype=np.float64)
    share = _interp_uniform(pack.taper_table, soc)
    # Nothing more once full; close to full a trickle still goes in, so a charge ends.
    headroom = np.where(soc < pack.soc_max, np.clip((pack.soc_max - soc) / 0.02, 0.05, 1.0), 0.0)
    return np.asarray(pack.max_dc_w * share * headroom, dtype=np.float64)


def current_a(terminal_w: ArrayLike, ocv: ArrayLike, r_ohm: ArrayLike) -> FloatArray:
    """Battery current for a terminal power (discharge > 0), from P = V_oc·I − I²·R.

    The power must be within the matched-load limit V_oc²/(4R); callers clip to
    :func:`max_discharge_w` first.
    """
    ocv = np.asarray(ocv, dtype=np.float64)
    r = np.asarray(r_ohm, dtype=np.float64)
    disc = np.maximum(ocv * ocv - 4.0 * r * np.asarray(terminal_w, dtype=np.float64), 0.0)
    # The numerically stable root: 2P / (V + sqrt(V² − 4RP)) equals (V − sqrt(…)) / (2R).
    return np.asarray(2.0 * np.asarray(terminal_w) / (ocv + np.sqrt(disc)), dtype=np.float64)


def soc_after(pack: Pack, soc: ArrayLike, current: ArrayLike, dt_s: ArrayLike) -> FloatArray:
    """SoC after ``current`` amperes for ``dt_s`` seconds (coulomb counting)."""
    return np.asarray(
        np.asarray(soc) - np.asarray(current) * np.asarray(dt_s) / (3600.0 * pack.capacity_ah),
        dtype=np.float64,
    )


def charge_efficiency(pack: Pack, terminal_w: float, soc: float = 0.5) -> float:
    """Share of the terminal power that ends up stored when charging at ``terminal_w``."""
    ocv = float(ocv_v(pack, soc))
    r = float(resistance_ohm(pack, soc))
    i = float(current_a(-terminal_w, ocv, r))
    return float(-(ocv * i) / terminal_w)
