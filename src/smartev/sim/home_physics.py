"""The home's physics as pure functions: outdoor temperature over a day, a room's temperature
(first-order RC model), a thermostat's hysteresis, the household's base load, a time-of-use
tariff, and a home battery's dispatch. Values in, values out; the drivers call them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# --- outdoor temperature -----------------------------------------------------------------------

# The coldest and warmest hours of a clear day (local solar time): the ground keeps losing heat
# until dawn and keeps gaining it until mid-afternoon.
COLDEST_HOUR = 5.0
WARMEST_HOUR = 15.0


def outdoor_temperature_c(local_hour: float, mean_c: float, swing_c: float) -> float:
    """Outdoor temperature at ``local_hour`` (0..24): ``mean_c`` ± half of ``swing_c`` (the day's
    maximum minus its minimum), lowest at 05:00 and highest at 15:00, on a half-cosine rising
    over 10 h and falling over 14 h so the curve is smooth at both turns."""
    half = swing_c / 2
    h = local_hour % 24.0
    rise = WARMEST_HOUR - COLDEST_HOUR
    if COLDEST_HOUR <= h <= WARMEST_HOUR:
        return mean_c - half * math.cos(math.pi * (h - COLDEST_HOUR) / rise)
    since_warmest = (h - WARMEST_HOUR) % 24.0
    return mean_c + half * math.cos(math.pi * since_warmest / (24.0 - rise))


# --- room and thermostat -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomParams:
    """A heated room: its heat capacity and how fast it loses heat to the outside.

    Defaults: with no heating the room drifts to the outdoor temperature with a time constant of
    5 h; the heat pump's 3 kW of heat warm it by about 3 °C in 15 min (cooling likewise).
    """

    heat_capacity_j_per_k: float = 900_000.0
    time_constant_s: float = 5 * 3600.0
    heating_w: float = 3000.0  # thermal power delivered when heating
    cooling_w: float = 2500.0  # thermal power removed when cooling
    heating_cop: float = 3.0  # heat out per electrical energy in
    cooling_cop: float = 3.0


def room_temperature_step(
    temp_c: float, outdoor_c: float, hvac_w: float, dt_s: float, room: RoomParams
) -> float:
    """The room's temperature ``dt_s`` later with ``hvac_w`` of heat going in (negative: being
    removed) and the outdoor temperature held: the exact solution of
    C·dT/dt = (T_out − T)·C/τ + P, so a long step is as right as many short ones."""
    if dt_s <= 0:
        return temp_c
    equilibrium = outdoor_c + hvac_w * room.time_constant_s / room.heat_capacity_j_per_k
    return equilibrium + (temp_c - equilibrium) * math.exp(-dt_s / room.time_constant_s)


class ThermostatMode(StrEnum):
    OFF = "off"
    HEAT = "heat"
    COOL = "cool"
    AUTO = "auto"


class HvacAction(StrEnum):
    IDLE = "idle"
    HEATING = "heating"
    COOLING = "cooling"


HYSTERESIS_C = 0.3


def thermostat_action(
    mode: ThermostatMode,
    target_c: float,
    current_c: float,
    previous: HvacAction,
    hysteresis_c: float = HYSTERESIS_C,
) -> HvacAction:
    """What the thermostat does now. Heating starts below target − hysteresis and, once on,
    continues to target + hysteresis (cooling mirrored), so it does not chatter around the set
    point. In auto a running action stops at the target itself, so heating never overshoots into
    the band where cooling would start."""
    low, high = target_c - hysteresis_c, target_c + hysteresis_c
    heat_ok = mode in (ThermostatMode.HEAT, ThermostatMode.AUTO)
    cool_ok = mode in (ThermostatMode.COOL, ThermostatMode.AUTO)
    stop_heating_at = target_c if mode is ThermostatMode.AUTO else high
    stop_cooling_at = target_c if mode is ThermostatMode.AUTO else low
    if heat_ok and (
        current_c < low or (previous is HvacAction.HEATING and current_c < stop_heating_at)
    ):
        return HvacAction.HEATING
    if cool_ok and (
        current_c > high or (previous is HvacAction.COOLING and current_c > stop_cooling_at)
    ):
        return HvacAction.COOLING
    return HvacAction.IDLE


def hvac_thermal_w(action: HvacAction, room: RoomParams) -> float:
    if action is HvacAction.HEATING:
        return room.heating_w
    if action is HvacAction.COOLING:
        return -room.cooling_w
    return 0.0


def hvac_electrical_w(action: HvacAction, room: RoomParams) -> float:
    if action is HvacAction.HEATING:
        return room.heating_w / room.heating_cop
    if action is HvacAction.COOLING:
        return room.cooling_w / room.cooling_cop
    return 0.0


# --- household load and tariff -----------------------------------------------------------------

# Everything not metered separately (fridge, standby, cooking, lights, TV), by local hour: a night
# floor, a breakfast bump and an evening peak. Watts.
DEFAULT_BASE_LOAD_W: tuple[float, ...] = (
    250, 230, 220, 220, 220, 240, 450, 800, 650, 400, 350, 380,
    550, 450, 350, 350, 420, 650, 1100, 1200, 1000, 750, 500, 320,
)  # fmt: skip


def base_load_w(local_hour: float, profile: tuple[float, ...] = DEFAULT_BASE_LOAD_W) -> float:
    """The base load at ``local_hour``, interpolated linearly between the profile's hours (the
    profile's values are at the start of each of its equal slots over 24 h)."""
    if not profile:
        raise ValueError("a base load profile needs at least one value (watts per slot of a day)")
    slot_h = 24.0 / len(profile)
    pos = (local_hour % 24.0) / slot_h
    i = int(pos) % len(profile)
    frac = pos - int(pos)
    return profile[i] + (profile[(i + 1) % len(profile)] - profile[i]) * frac


@dataclass(frozen=True, slots=True)
class TimeOfUseTariff:
    """Two prices a day: cheap from ``cheap_from_h`` to ``cheap_until_h`` (local hours, may wrap
    midnight), normal otherwise. Prices per kWh in ``currency``."""

    normal_price: float = 0.32
    cheap_price: float = 0.22
    cheap_from_h: float = 23.0
    cheap_until_h: float = 6.0
    currency: str = "EUR"

    def is_cheap(self, local_hour: float) -> bool:
        h = local_hour % 24.0
        if self.cheap_from_h <= self.cheap_until_h:
            return self.cheap_from_h <= h < self.cheap_until_h
        return h >= self.cheap_from_h or h < self.cheap_until_h

    def price(self, local_hour: float) -> float:
        return self.cheap_price if self.is_cheap(local_hour) else self.normal_price


# --- home battery ------------------------------------------------------------------------------


class BatteryMode(StrEnum):
    AUTO = "auto"  # absorb the surplus, cover the deficit
    HOLD = "hold"  # neither charge nor discharge
    CHARGE = "charge"  # charge at full power, from the grid if need be


@dataclass(frozen=True, slots=True)
class BatteryParams:
    capacity_kwh: float = 10.0
    max_charge_w: float = 5000.0
    max_discharge_w: float = 5000.0
    efficiency: float = 0.95  # one way: stored = charged × η, delivered = taken × η
    min_soc_pct: float = 5.0  # reserve the battery management keeps


def battery_power_w(
    mode: BatteryMode, soc_pct: float, net_load_w: float, battery: BatteryParams
) -> float:
    """The battery's power (positive: charging) given the home's net load without it
    (consumption − production; negative: surplus). Limited by the power rating and by the charge
    left: a full battery takes nothing, one at its reserve gives nothing."""
    if mode is BatteryMode.HOLD:
        return 0.0
    wanted = battery.max_charge_w if mode is BatteryMode.CHARGE else -net_load_w
    if wanted > 0:
        return min(wanted, battery.max_charge_w) if soc_pct < 100.0 else 0.0
    return max(wanted, -battery.max_discharge_w) if soc_pct > battery.min_soc_pct else 0.0


def battery_soc_step(soc_pct: float, power_w: float, dt_s: float, battery: BatteryParams) -> float:
    """The state of charge after ``dt_s`` at ``power_w`` at the terminals, within the reserve and
    100 % (the battery management cuts off there)."""
    energy_wh = power_w * dt_s / 3600.0
    stored_wh = energy_wh * battery.efficiency if power_w > 0 else energy_wh / battery.efficiency
    soc = soc_pct + stored_wh / (battery.capacity_kwh * 10.0)  # 1 % of capacity = capacity × 10 Wh
    floor = min(battery.min_soc_pct, soc_pct)  # never pushed up by a floor it was already below
    return min(100.0, max(floor, soc))
