import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.sim.home_physics import (
    BatteryMode,
    BatteryParams,
    HvacAction,
    RoomParams,
    ThermostatMode,
    TimeOfUseTariff,
    base_load_w,
    battery_power_w,
    battery_soc_step,
    hvac_electrical_w,
    hvac_thermal_w,
    outdoor_temperature_c,
    room_temperature_step,
    thermostat_action,
)

ROOM = RoomParams()
HOURS = [h / 10 for h in range(240)]


def test_outdoor_is_coldest_at_5_and_warmest_at_15() -> None:
    temps = {h: outdoor_temperature_c(h, 10.0, 8.0) for h in HOURS}
    assert min(temps, key=temps.__getitem__) == 5.0
    assert max(temps, key=temps.__getitem__) == 15.0
    assert temps[5.0] == pytest.approx(6.0)
    assert temps[15.0] == pytest.approx(14.0)


@given(st.floats(0, 48), st.floats(-30, 40), st.floats(0, 25))
def test_outdoor_stays_in_its_band_and_is_continuous(h: float, mean: float, swing: float) -> None:
    t = outdoor_temperature_c(h, mean, swing)
    assert mean - swing / 2 - 1e-9 <= t <= mean + swing / 2 + 1e-9
    assert abs(outdoor_temperature_c(h + 1e-4, mean, swing) - t) < 1e-3 * (1 + swing)


def test_a_room_without_heating_drifts_to_outdoor_with_its_time_constant() -> None:
    after = room_temperature_step(20.0, 0.0, 0.0, ROOM.time_constant_s, ROOM)
    assert after == pytest.approx(20.0 / math.e)
    assert room_temperature_step(20.0, 0.0, 0.0, 100 * ROOM.time_constant_s, ROOM) < 1e-6


def test_heating_warms_a_room_a_few_degrees_in_a_quarter_hour() -> None:
    after = room_temperature_step(18.0, 5.0, hvac_thermal_w(HvacAction.HEATING, ROOM), 900, ROOM)
    assert 2.0 < after - 18.0 < 4.0
    cooled = room_temperature_step(28.0, 30.0, hvac_thermal_w(HvacAction.COOLING, ROOM), 900, ROOM)
    assert 1.5 < 28.0 - cooled < 4.0


@given(st.floats(-10, 40), st.floats(-20, 40), st.floats(-3000, 3000), st.integers(1, 50))
def test_one_long_room_step_equals_many_short_ones(
    temp: float, outdoor: float, hvac_w: float, n: int
) -> None:
    long = room_temperature_step(temp, outdoor, hvac_w, 3600.0, ROOM)
    short = temp
    for _ in range(n):
        short = room_temperature_step(short, outdoor, hvac_w, 3600.0 / n, ROOM)
    assert short == pytest.approx(long, abs=1e-6)


@pytest.mark.parametrize(
    ("mode", "current", "previous", "expected"),
    [
        (ThermostatMode.HEAT, 20.6, HvacAction.IDLE, HvacAction.HEATING),
        (ThermostatMode.HEAT, 20.8, HvacAction.IDLE, HvacAction.IDLE),  # inside the band
        (ThermostatMode.HEAT, 21.2, HvacAction.HEATING, HvacAction.HEATING),  # runs on to +0.3
        (ThermostatMode.HEAT, 21.4, HvacAction.HEATING, HvacAction.IDLE),
        (ThermostatMode.HEAT, 25.0, HvacAction.IDLE, HvacAction.IDLE),  # heat never cools
        (ThermostatMode.COOL, 21.4, HvacAction.IDLE, HvacAction.COOLING),
        (ThermostatMode.COOL, 20.8, HvacAction.COOLING, HvacAction.COOLING),
        (ThermostatMode.COOL, 20.6, HvacAction.COOLING, HvacAction.IDLE),
        (ThermostatMode.COOL, 15.0, HvacAction.IDLE, HvacAction.IDLE),
        (ThermostatMode.AUTO, 20.6, HvacAction.IDLE, HvacAction.HEATING),
        (ThermostatMode.AUTO, 21.4, HvacAction.IDLE, HvacAction.COOLING),
        (ThermostatMode.AUTO, 21.1, HvacAction.HEATING, HvacAction.IDLE),  # stops at the target
        (ThermostatMode.AUTO, 20.9, HvacAction.COOLING, HvacAction.IDLE),
        (ThermostatMode.OFF, 5.0, HvacAction.HEATING, HvacAction.IDLE),
    ],
)
def test_thermostat_hysteresis(
    mode: ThermostatMode, current: float, previous: HvacAction, expected: HvacAction
) -> None:
    assert thermostat_action(mode, 21.0, current, previous) is expected


def test_heat_pump_draws_heat_over_cop() -> None:
    assert hvac_electrical_w(HvacAction.HEATING, ROOM) == pytest.approx(1000.0)
    assert hvac_electrical_w(HvacAction.IDLE, ROOM) == 0.0


def test_base_load_interpolates_between_hours_and_wraps() -> None:
    profile = (100.0, 200.0, 300.0, 400.0)  # 6-hour slots
    assert base_load_w(0.0, profile) == 100.0
    assert base_load_w(3.0, profile) == 150.0
    assert base_load_w(21.0, profile) == 250.0  # halfway back to midnight's 100
    assert base_load_w(24.0, profile) == 100.0
    with pytest.raises(ValueError, match="at least one value"):
        base_load_w(1.0, ())


def test_tariff_is_cheap_overnight_and_may_not_wrap() -> None:
    night = TimeOfUseTariff()
    assert night.price(23.5) == night.cheap_price
    assert night.price(3.0) == night.cheap_price
    assert night.price(6.0) == night.normal_price
    assert night.price(12.0) == night.normal_price
    midday = TimeOfUseTariff(cheap_from_h=11, cheap_until_h=15)
    assert midday.is_cheap(12.0)
    assert not midday.is_cheap(16.0)


BATTERY = BatteryParams(capacity_kwh=10.0, max_charge_w=5000.0, max_discharge_w=4000.0)


@pytest.mark.parametrize(
    ("mode", "soc", "net_load", "expected"),
    [
        (BatteryMode.AUTO, 50.0, -2000.0, 2000.0),  # absorbs the surplus
        (BatteryMode.AUTO, 50.0, -9000.0, 5000.0),  # within its rating
        (BatteryMode.AUTO, 50.0, 1500.0, -1500.0),  # covers the deficit
        (BatteryMode.AUTO, 50.0, 9000.0, -4000.0),
        (BatteryMode.AUTO, 100.0, -2000.0, 0.0),  # full
        (BatteryMode.AUTO, 5.0, 2000.0, 0.0),  # at its reserve
        (BatteryMode.HOLD, 50.0, -2000.0, 0.0),
        (BatteryMode.CHARGE, 50.0, 2000.0, 5000.0),  # from the grid if need be
    ],
)
def test_battery_dispatch(mode: BatteryMode, soc: float, net_load: float, expected: float) -> None:
    assert battery_power_w(mode, soc, net_load, BATTERY) == expected


def test_battery_soc_counts_energy_with_losses() -> None:
    assert battery_soc_step(50.0, 1000.0, 3600.0, BATTERY) == pytest.approx(50.0 + 9.5)
    assert battery_soc_step(50.0, -950.0, 3600.0, BATTERY) == pytest.approx(40.0)


@given(
    st.floats(0, 100), st.floats(-20000, 20000), st.floats(0, 7200), st.sampled_from(BatteryMode)
)
def test_battery_soc_stays_in_bounds(soc: float, net: float, dt: float, mode: BatteryMode) -> None:
    power = battery_power_w(mode, soc, net, BATTERY)
    assert -BATTERY.max_discharge_w <= power <= BATTERY.max_charge_w
    after = battery_soc_step(soc, power, dt, BATTERY)
    assert min(soc, BATTERY.min_soc_pct) <= after <= 100.0
