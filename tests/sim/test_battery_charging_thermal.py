import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.sim import battery as bat
from smartev.sim.charging import charge_power, simulate_charge
from smartev.sim.errors import SimError
from smartev.sim.spec import load_vehicle
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
