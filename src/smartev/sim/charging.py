"""AC and DC charging: how much power a car takes at a given SoC, and a charge from one SoC to
another.

AC: the on-board charger converts the wall's power at ``charger_efficiency`` up to the smaller of
the car's and the wallbox's limit, and the battery tapers the last few percent. DC: the station
delivers DC straight to the pack, limited by the pack's charge acceptance over SoC (the taper
curve of :func:`smartev.sim.battery.charge_acceptance_w`) and by the station.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from smartev.core import units
from smartev.sim import battery as bat
from smartev.sim.errors import SimError
from smartev.sim.params import DEFAULT_PARAMS, ModelParams
from smartev.sim.spec import VehicleSpec

FloatArray = npt.NDArray[np.float64]
ChargeKind = Literal["ac", "dc"]

AC_TAPER_START_SOC = 0.95  # the pack asks for less from here on, even on AC
DC_STATION_EFFICIENCY = 0.95  # grid to DC at the station's plug, for wall-energy accounting


@dataclass(frozen=True, slots=True)
class ChargePower:
    wall_w: FloatArray  # drawn from the grid (AC) or the station's grid side (DC)
    terminal_w: FloatArray  # into the battery terminals (positive = charging)


def charge_power(
    pack: bat.Pack,
    soc: FloatArray | float,
    *,
    kind: ChargeKind,
    evse_kw: FloatArray | float,
    max_ac_kw: FloatArray | float,
    params: ModelParams = DEFAULT_PARAMS,
) -> ChargePower:
    """Charging power at ``soc`` from a charger offering ``evse_kw``; broadcasts over cars."""
    soc = np.asarray(soc, dtype=np.float64)
    acceptance = bat.charge_acceptance_w(pack, soc)
    if kind == "ac":
        ac_w = np.minimum(np.asarray(evse_kw), np.asarray(max_ac_kw)) * 1000.0
        taper = np.clip((pack.soc_max - soc) / (pack.soc_max - AC_TAPER_START_SOC), 0.05, 1.0) * (
            soc < pack.soc_max
        )
        terminal = np.minimum(ac_w * params.charger_efficiency * taper, acceptance)
        wall = terminal / params.charger_efficiency
    else:
        terminal = np.minimum(np.asarray(evse_kw) * 1000.0, acceptance)
        wall = terminal / DC_STATION_EFFICIENCY
    return ChargePower(
        wall_w=np.asarray(wall, dtype=np.float64), terminal_w=np.asarray(terminal, np.float64)
    )


@dataclass(frozen=True)
class ChargeSession:
    """A simulated charge: time series and totals."""

    kind: ChargeKind
    time_s: FloatArray
    soc: FloatArray
    terminal_w: FloatArray
    wall_w: FloatArray

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1])

    @property
    def energy_added_kwh(self) -> float:
        """Into the battery terminals."""
        return float(np.sum(self.terminal_w[:-1] * np.diff(self.time_s))) / units.J_PER_KWH

    @property
    def wall_kwh(self) -> float:
        return float(np.sum(self.wall_w[:-1] * np.diff(self.time_s))) / units.J_PER_KWH

    @property
    def max_power_kw(self) -> float:
        return float(np.max(self.terminal_w)) / 1000.0


def simulate_charge(
    spec: VehicleSpec,
    *,
    soc_from: float,
    soc_to: float,
    kind: ChargeKind,
    evse_kw: float,
    dt_s: float = 10.0,
    params: ModelParams = DEFAULT_PARAMS,
    max_hours: float = 48.0,
) -> ChargeSession:
    """Charge from ``soc_from`` to ``soc_to`` (a share of usable energy) and record it."""
    pack = bat.pack_for(spec)
    if not 0.0 <= soc_from < soc_to <= pack.soc_max:
        raise SimError(
            f"cannot charge from SoC {soc_from} to {soc_to}: need 0 <= from < to <= {pack.soc_max}"
        )
    times, socs, terminal, wall = [0.0], [soc_from], [], []
    soc = soc_from
    t = 0.0
    while soc < soc_to and t < max_hours * 3600:
        power = charge_power(
            pack, soc, kind=kind, evse_kw=evse_kw, max_ac_kw=spec.max_ac_kw, params=params
        )
        p_term = float(power.terminal_w)
        if p_term <= 0:
            break
        ocv = float(bat.ocv_v(pack, soc))
        r = float(bat.resistance_ohm(pack, soc))
        current = float(bat.current_a(-p_term, ocv, r))
        step = dt_s
        d_soc = -current * step / (3600.0 * pack.capacity_ah)
        if soc + d_soc > soc_to:  # land exactly on the target
            step *= (soc_to - soc) / d_soc
            d_soc = soc_to - soc
        terminal.append(p_term)
        wall.append(float(power.wall_w))
        soc += d_soc
        t += step
        times.append(t)
        socs.append(soc)
    terminal.append(0.0)
    wall.append(0.0)
    return ChargeSession(
        kind=kind,
        time_s=np.array(times),
        soc=np.array(socs),
        terminal_w=np.array(terminal),
        wall_w=np.array(wall),
    )
