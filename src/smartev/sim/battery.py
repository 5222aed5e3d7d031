"""The traction battery as an equivalent circuit: open-circuit voltage over SoC and a resistance.

All functions take numpy arrays (or floats) and broadcast, so the same code steps one car along
time or a fleet of cars at one instant. Power is positive when the battery discharges.

Pack parameters come from public figures only (usable kWh, chemistry, optionally the nominal pack
voltage); the cell curves are typical published shapes for each chemistry, not one cell's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from smartev.sim.spec import Chemistry, VehicleSpec

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
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


# Curves are resampled once onto this uniform SoC grid, so the grid cell holding a SoC is found by
# arithmetic, and one lookup serves one pack or a fleet of packs alike.
_GRID_POINTS = 41
_UNIFORM_SOC = np.linspace(0.0, 1.0, _GRID_POINTS)
# Within these SoC margins of the window's ends the discharge limit fades out and the charge
# acceptance tapers off. Most of the time no car is that close, and the math is skipped.
_FADE_SOC = 0.03
_HEADROOM_SOC = 0.02


@dataclass(frozen=True, slots=True)
class _SocLookup:
    """A pack's SoC curves laid out for reading many SoCs at once.

    Each curve is a flat table of values and one of slopes to the next grid point, so a read is
    two gathers at one index; distinct curves are stored once and each pack of a fleet points
    at its own by a row offset. The SoC thresholds let a step test all cars with one reduction.
    """

    ocv_v: FloatArray
    ocv_slope: FloatArray
    taper: FloatArray
    taper_slope: FloatArray
    row: IntArray | None  # per pack: offset of its curves in the tables; None for one pack
    fade_below: float  # some pack's discharge limit fades below this SoC
    headroom_above: float  # some pack's charge acceptance tapers above this SoC

    @classmethod
    def of(cls, ocv_table: FloatArray, taper_table: FloatArray, soc_min: Any, soc_max: Any) -> Self:
        curves = np.stack([ocv_table, taper_table], axis=-1)  # (..., K, 2)
        row: IntArray | None = None
        if curves.ndim == 3:
            # A fleet holds a few kinds of packs: sharing their curves keeps the tables in cache.
            distinct, which = np.unique(curves, axis=0, return_inverse=True)
            curves = distinct.reshape(-1, 2)
            row = (which.reshape(-1) * _GRID_POINTS).astype(np.intp)
        slopes = np.zeros_like(curves)
        # The last point is read only at SoC 1, where the share of the cell is 0: slope 0.
        slopes.reshape(-1, _GRID_POINTS, 2)[:, :-1] = np.diff(
            curves.reshape(-1, _GRID_POINTS, 2), axis=1
        )
        return cls(
            ocv_v=np.ascontiguousarray(curves[:, 0]),
            ocv_slope=np.ascontiguousarray(slopes[:, 0]),
            taper=np.ascontiguousarray(curves[:, 1]),
            taper_slope=np.ascontiguousarray(slopes[:, 1]),
            row=row,
            fade_below=float(np.max(soc_min)) + _FADE_SOC,
            headroom_above=float(np.min(soc_max)) - _HEADROOM_SOC,
        )

    def cell(self, soc: FloatArray) -> tuple[Any, Any]:
        """The table index of the grid point below each SoC, and how far into the cell it is."""
        x = np.minimum(np.maximum(soc, 0.0), 1.0)
        x *= _GRID_POINTS - 1
        # With slope tables only the lower point is read, so SoC 1 (the last point) needs no clamp.
        at = x.astype(np.intp)
        frac = x - at
        if self.row is not None:
            at = at + self.row
        return at, frac


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
    _lookup: _SocLookup = field(init=False, repr=False, compare=False)  # derived from the above

    def __post_init__(self) -> None:
        lookup = _SocLookup.of(self.ocv_table_v, self.taper_table, self.soc_min, self.soc_max)
        object.__setattr__(self, "_lookup", lookup)

    @classmethod
    def stack(cls, packs: list[Pack]) -> Pack:
        """One Pack whose fields hold every pack's values, for the fleet engine."""
        return cls(
            **{f.name: np.stack([getattr(p, f.name) for p in packs]) for f in fields(cls) if f.init}
        )


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


def curves_at(pack: Pack, soc: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Open-circuit voltage and DC charge-acceptance share at ``soc``, from one grid lookup.

    The share goes to :func:`charge_acceptance_w` as ``share``; a step needs both curves.
    """
    lookup = pack._lookup
    at, frac = lookup.cell(np.asarray(soc, dtype=np.float64))
    ocv = lookup.ocv_slope[at]
    ocv *= frac
    ocv += lookup.ocv_v[at]
    share = lookup.taper_slope[at]
    share *= frac
    share += lookup.taper[at]
    return np.asarray(ocv, dtype=np.float64), np.asarray(share, dtype=np.float64)


def ocv_v(pack: Pack, soc: ArrayLike) -> FloatArray:
    """Open-circuit pack voltage at ``soc`` (clipped to 0..1)."""
    lookup = pack._lookup
    at, frac = lookup.cell(np.asarray(soc, dtype=np.float64))
    return np.asarray(lookup.ocv_v[at] + lookup.ocv_slope[at] * frac, dtype=np.float64)


def resistance_ohm(pack: Pack, soc: ArrayLike, temp_c: ArrayLike = 25.0) -> FloatArray:
    """Series resistance: higher when nearly empty (below SoC 0.15) and when cold."""
    cold: Any
    if isinstance(temp_c, int | float):  # one temperature for all: plain float math is cheaper
        cold = 1.0 + _R_PER_K * min(max(25.0 - temp_c, 0.0), 60.0)
    else:
        cold = np.minimum(np.maximum(25.0 - np.asarray(temp_c, dtype=np.float64), 0.0), 60.0)
        cold = 1.0 + _R_PER_K * cold
    # 1 + 1.5·(0.15 − soc)/0.15 clipped to 0..1, as one affine term clipped to 1..2.5.
    low_soc = np.asarray(soc, dtype=np.float64) * -10.0
    low_soc += 2.5
    low_soc = np.minimum(np.maximum(low_soc, 1.0), 2.5)
    return np.asarray(low_soc * (pack.r_ohm_25c * cold), dtype=np.float64)


def max_discharge_w(
    pack: Pack,
    soc: ArrayLike,
    ocv: ArrayLike,
    r_ohm: ArrayLike,
    *,
    ocv_sq: ArrayLike | None = None,
) -> FloatArray:
    """The most terminal power the pack gives: matched-load limit, fading to 0 at the SoC floor.

    ``ocv_sq`` is ``ocv²`` when the caller has it already.
    """
    if ocv_sq is None:
        ocv_sq = np.square(ocv)
    available = np.multiply(ocv_sq, 0.9 / 4.0) / r_ohm
    soc = np.asarray(soc, dtype=np.float64)
    if soc.size and soc.min() < pack._lookup.fade_below:
        fade = (soc - pack.soc_min) / _FADE_SOC
        available = available * np.minimum(np.maximum(fade, 0.0), 1.0)
    return np.asarray(available, dtype=np.float64)


def charge_acceptance_w(
    pack: Pack, soc: ArrayLike, *, share: ArrayLike | None = None
) -> FloatArray:
    """The most power the pack accepts (DC charging or regenerative braking) at ``soc``.

    ``share`` is the taper curve at ``soc`` when the caller has it from :func:`curves_at`.
    """
    soc = np.asarray(soc, dtype=np.float64)
    if share is None:
        lookup = pack._lookup
        at, frac = lookup.cell(soc)
        share = lookup.taper[at] + lookup.taper_slope[at] * frac
    accepted = pack.max_dc_w * np.asarray(share)
    if soc.size and soc.max() > pack._lookup.headroom_above:
        # Nothing more once full; close to full a trickle still goes in, so a charge ends.
        headroom = np.minimum(np.maximum((pack.soc_max - soc) / _HEADROOM_SOC, 0.05), 1.0)
        accepted = accepted * (headroom * (soc < pack.soc_max))
    return np.asarray(accepted, dtype=np.float64)


def current_a(
    terminal_w: ArrayLike, ocv: ArrayLike, r_ohm: ArrayLike, *, ocv_sq: ArrayLike | None = None
) -> FloatArray:
    """Battery current for a terminal power (discharge > 0), from P = V_oc·I − I²·R.

    The power must be within the matched-load limit V_oc²/(4R); callers clip to
    :func:`max_discharge_w` first. ``ocv_sq`` is ``ocv²`` when the caller has it already.
    """
    if ocv_sq is None:
        ocv_sq = np.square(ocv)
    disc = np.maximum(ocv_sq - np.multiply(r_ohm, 4.0) * terminal_w, 0.0)
    # The numerically stable root: 2P / (V + sqrt(V² − 4RP)) equals (V − sqrt(…)) / (2R).
    return np.asarray(np.multiply(terminal_w, 2.0) / (np.sqrt(disc) + ocv), dtype=np.float64)


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
