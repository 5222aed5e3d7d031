"""What the simulated car shows the world: the state it reports, the event that carries it, and
the errors it answers a bad request with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from smartev.core.bus import Event
from smartev.sim.charging import ChargeKind
from smartev.sim.errors import ActuatorRejectedError, CarInputError

__all__ = [
    "Activity",
    "ActuatorRejectedError",
    "CarInputError",
    "CarState",
    "CarStateChanged",
    "EnergyMeters",
]

Activity = Literal["parked", "driving", "charging"]


@dataclass(frozen=True, slots=True)
class CarState:
    """What the car's sensors report. Powers are averages over the last tick."""

    time: datetime  # UTC
    speed_mps: float
    lat: float
    lon: float
    heading_deg: float  # 0 = north, clockwise
    odometer_m: float
    soc: float  # share of usable energy, 0..1
    range_km: float  # usable energy left over the rolling consumption
    battery_power_w: float  # at the terminals, + = discharge
    battery_temp_c: float
    cabin_temp_c: float
    ambient_c: float
    hvac_on: bool
    hvac_setpoint_c: float
    charge_limit: float  # 0..1
    plugged_in: bool
    charging: bool
    charging_power_w: float  # from the charger into the battery terminals
    wall_power_w: float  # drawn from the grid by the charger, the car's loads included
    charger_kind: ChargeKind | None
    activity: Activity
    limited: bool  # the car could not reach the asked speed during the last tick


@dataclass(frozen=True, slots=True)
class CarStateChanged(Event):
    state: CarState


@dataclass(frozen=True, slots=True)
class EnergyMeters:
    """Energy counters of the car since it was made, in kWh."""

    battery_kwh: float  # out of the battery terminals, net (charging counts negative)
    chemical_kwh: float  # out of the cells' chemistry, net: terminals plus I²R losses
    charged_kwh: float  # from chargers into the battery terminals
    wall_kwh: float  # drawn from the grid by chargers, the car's loads on shore power included
