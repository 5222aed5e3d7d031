from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.sim import battery as bat
from smartev.sim.charging import charge_power, simulate_charge
from smartev.sim.errors import SimError
from smartev.sim.spec import load_vehicle, shipped_vehicles
from smartev.sim.thermal import (
    DEFAULT_CABIN,
    cabin_step,
    cabin_trace,
    hvac_electric_w,
    hvac_thermal_w,
)

SU7 = load_vehicle("xiaomi-su7")
LEAF = load_vehicle("nissan-leaf")


def test_pack_from_public_figures() -> None:
    pack = bat.pack_for(SU7)
    assert pack.nominal_v == pytest.approx(400, rel=0.03)
    assert pack.capacity_ah * pack.nominal_v / 1000 == pytest.approx(73.6)
    assert float(bat.ocv_v(pack, 1.0)) > float(bat.ocv_v(pack, 0.5)) > float(bat.ocv_v(pack, 0))
    # Cold and nearly empty packs have more resistance.
    r = pack.r_ohm_25c
    assert float(bat.resistance_ohm(pack, 0.5, -10)) > r
    assert float(bat.resistance_ohm(pack, 0.02)) > r


@given(st.floats(-200_000, 200_000), st.floats(0.0, 1.0))
def test_current_solves_the_circuit(power_w: float, soc: float) -> None:
    pack = bat.pack_for(LEAF)
    ocv = bat.ocv_v(pack, soc)
    r = bat.resistance_ohm(pack, soc)
    power_w = min(power_w, float(bat.max_discharge_w(pack, 1.0, ocv, r)))
    i = float(bat.current_a(power_w, ocv, r))
    assert float(ocv) * i - i * i * float(r) == pytest.approx(
        power_w, abs=1e-6 * abs(power_w) + 1e-6
    )


def test_fleet_packs_interpolate_like_single_packs() -> None:
    packs = [bat.pack_for(SU7), bat.pack_for(LEAF)]
    fleet = bat.Pack.stack(packs)
    socs = np.array([0.33, 0.81])
    joint = bat.ocv_v(fleet, socs)
    for k, pack in enumerate(packs):
        assert joint[k] == pytest.approx(float(bat.ocv_v(pack, socs[k])))


# The shipped cars all use their whole pack; two more have a narrower SoC window of their own.
FLEET_PACKS = [bat.pack_for(spec) for spec in shipped_vehicles().values()] + [
    bat.pack_for(replace(SU7, soc_min=0.04, soc_max=0.96)),
    bat.pack_for(replace(LEAF, soc_min=0.08, soc_max=0.9)),
]
GRID = np.linspace(0.0, 1.0, 41)


def reference_limits(pack: bat.Pack, soc: float) -> tuple[float, float, float, float]:
    """OCV, resistance, discharge and charge limits from the model's formulas, written out
    directly (np.interp, np.clip, no skipped terms) to check the fast paths against."""
    ocv = float(np.interp(soc, GRID, pack.ocv_table_v))
    r = pack.r_ohm_25c * (1 + 1.5 * float(np.clip((0.15 - soc) / 0.15, 0, 1)))
    fade = float(np.clip((soc - pack.soc_min) / 0.03, 0, 1))
    headroom = float(np.clip((pack.soc_max - soc) / 0.02, 0.05, 1)) if soc < pack.soc_max else 0.0
    share = float(np.interp(soc, GRID, pack.taper_table))
    return ocv, r, 0.9 * ocv**2 / (4 * r) * fade, pack.max_dc_w * share * headroom


@given(st.lists(st.floats(-0.05, 1.05), min_size=len(FLEET_PACKS), max_size=len(FLEET_PACKS)))
def test_a_fleets_pack_limits_are_each_packs_own(socs: list[float]) -> None:
    """One lookup for both curves, shared curve tables and the terms skipped when no pack is near
    either end of its window give each pack what the plain formulas give it alone."""
    fleet = bat.Pack.stack(FLEET_PACKS)
    soc = np.array(socs)
    ocv, share = bat.curves_at(fleet, soc)
    r = bat.resistance_ohm(fleet, soc, 25.0)
    available = bat.max_discharge_w(fleet, soc, ocv, r, ocv_sq=ocv * ocv)
    accepted = bat.charge_acceptance_w(fleet, soc, share=share)
    assert np.array_equal(accepted, bat.charge_acceptance_w(fleet, soc))
    assert np.array_equal(ocv, bat.ocv_v(fleet, soc))
    for k, pack in enumerate(FLEET_PACKS):
        want = reference_limits(pack, min(max(socs[k], 0.0), 1.0))
        got = (ocv[k], r[k], available[k], accepted[k])
        assert got == pytest.approx(want, rel=1e-12, abs=1e-9), f"pack {k} at SoC {socs[k]}"


@pytest.mark.parametrize("end", ["floor", "top"])
def test_one_pack_near_its_window_end_is_limited_alone(end: str) -> None:
    """The narrow-window LEAF near its own floor or top while every other pack is mid-window."""
    fleet = bat.Pack.stack(FLEET_PACKS)
    soc = np.full(len(FLEET_PACKS), 0.5)
    soc[-1] = 0.09 if end == "floor" else 0.89
    ocv, share = bat.curves_at(fleet, soc)
    r = bat.resistance_ohm(fleet, soc)
    got = (
        bat.max_discharge_w(fleet, soc, ocv, r)[-1],
        bat.charge_acceptance_w(fleet, soc, share=share)[-1],
    )
    assert got == pytest.approx(reference_limits(FLEET_PACKS[-1], soc[-1])[2:], rel=1e-12)


@pytest.mark.parametrize("soc", [0.0, 0.025, 0.5, 0.999, 1.0])
def test_curves_hold_at_grid_points_and_the_ends(soc: float) -> None:
    pack = bat.pack_for(SU7)
    assert float(bat.ocv_v(pack, soc)) == pytest.approx(
        float(np.interp(soc, GRID, pack.ocv_table_v)), rel=1e-15
    )
    assert float(bat.ocv_v(pack, soc + 2.0)) == float(bat.ocv_v(pack, 1.0))


def test_resistance_is_the_same_for_one_temperature_or_one_per_car() -> None:
    fleet = bat.Pack.stack(FLEET_PACKS)
    soc = np.linspace(0.05, 0.95, len(FLEET_PACKS))
    for temp_c in (-30.0, 0.0, 25.0, 40.0):
        each = bat.resistance_ohm(fleet, soc, np.full(len(FLEET_PACKS), temp_c))
        assert bat.resistance_ohm(fleet, soc, temp_c) == pytest.approx(each, rel=1e-15)


def test_ac_charge_stops_at_the_target_and_tapers_at_the_top() -> None:
    session = simulate_charge(SU7, soc_from=0.2, soc_to=0.8, kind="ac", evse_kw=11)
    assert session.soc[-1] == pytest.approx(0.8)
    # The SU7 takes 7 kW on AC; the wallbox offers 11.
    assert session.max_power_kw == pytest.approx(7 * 0.915, rel=0.01)
    assert session.wall_kwh > session.energy_added_kwh
    assert session.energy_added_kwh == pytest.approx(0.6 * 73.6, rel=0.03)
    top = float(
        charge_power(bat.pack_for(SU7), 0.99, kind="ac", evse_kw=11, max_ac_kw=7).terminal_w
    )
    assert top < 0.5 * session.max_power_kw * 1000


def test_dc_charge_follows_the_taper() -> None:
    session = simulate_charge(LEAF, soc_from=0.1, soc_to=0.9, kind="dc", evse_kw=150)
    assert session.max_power_kw == pytest.approx(50)  # the LEAF's peak
    late = session.terminal_w[:-1][session.soc[:-1] > 0.85]
    assert late.max() < 0.5 * session.max_power_kw * 1000
    # 10 → 80 % takes longer on an NMC car than the constant-power time.
    assert session.duration_s > 0.8 * 39 / 50 * 3600


def test_bad_charge_request() -> None:
    with pytest.raises(SimError, match=r"cannot charge from SoC 0\.9 to 0\.5"):
        simulate_charge(SU7, soc_from=0.9, soc_to=0.5, kind="ac", evse_kw=11)


def test_cabin_model_step_agrees_with_trace_and_reaches_set_point() -> None:
    temps, electric = cabin_trace(
        1800, 1.0, cabin0_c=-5, ambient_c=-5, setpoint_c=21, heat_pump=True
    )
    assert temps[-1] == pytest.approx(21, abs=0.05)
    assert electric[0] > electric[-1] > 0  # full power first, then holding
    # The vector functions (used by the fleet and the real-time car) give the same trace.
    t = np.array([-5.0])
    for i in range(1800):
        assert t[0] == pytest.approx(temps[i], abs=1e-9)
        q = hvac_thermal_w(t, 21.0, True, ambient_c=-5.0)
        assert float(hvac_electric_w(q, -5.0, True, True)[0]) == pytest.approx(electric[i])
        t = cabin_step(t, -5.0, q, 1.0)


def test_cooling_and_off() -> None:
    temps, electric = cabin_trace(
        600, 1.0, cabin0_c=45, ambient_c=35, setpoint_c=22, heat_pump=True
    )
    assert temps[-1] < 30
    assert np.all(electric > 0)
    temps, electric = cabin_trace(
        36000, 1.0, cabin0_c=30, ambient_c=10, setpoint_c=None, heat_pump=True
    )
    assert temps[-1] == pytest.approx(10 + DEFAULT_CABIN.solar_gain_w / 80, abs=0.1)
    assert not electric.any()
