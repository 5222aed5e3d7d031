"""The cycle runner: energy balance, following the trace, shortfall, HVAC, SoC bookkeeping."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core.units import STANDARD_GRAVITY
from smartev.sim import battery as bat
from smartev.sim.battery import pack_for
from smartev.sim.cycles import DriveCycle, builtin_cycle
from smartev.sim.drive import simulate_cycle, step
from smartev.sim.params import DEFAULT_PARAMS
from smartev.sim.powertrain import DriveParams
from smartev.sim.spec import VehicleSpec, load_vehicle, parse_vehicle, shipped_vehicles


def independent_wheel_work_j(
    spec: VehicleSpec, speed: np.ndarray, dt: np.ndarray, grade: np.ndarray
) -> float:
    """Wheel work from first principles, written apart from the model's own code."""
    v = 0.5 * (speed[:-1] + speed[1:])
    accel = np.diff(speed) / dt
    mass = spec.mass_kg * (1 + DEFAULT_PARAMS.rotating_mass_factor)
    rolling = np.where(v > 0.01, spec.f0_n + spec.f1_n_per_mps * v, 0.0)
    force = (
        mass * accel + rolling + spec.f2_n_per_mps2 * v**2 + spec.mass_kg * STANDARD_GRAVITY * grade
    )
    return float(np.sum(force * v * dt))


specs = st.builds(
    lambda mass, a, c, kwh, chem, kw, drive, motor: parse_vehicle(
        {
            "name": "random",
            "epa_coastdown": {"a_lbf": a, "b_lbf_per_mph": 0.1, "c_lbf_per_mph2": c},
            "test_mass_kg": mass,
            "battery_kwh": kwh,
            "chemistry": chem,
            "motor_kw": kw,
            "drive": drive,
            "motor_type": motor,
        }
    ),
    st.floats(900, 3500),
    st.floats(10, 60),
    st.floats(0.01, 0.04),
    st.floats(20, 120),
    st.sampled_from(["nmc", "lfp"]),
    st.floats(40, 400),
    st.sampled_from(["fwd", "rwd", "awd"]),
    st.sampled_from(["pmsm", "induction"]),
)


@st.composite
def cycles(draw: st.DrawFn) -> DriveCycle:
    n = draw(st.integers(20, 300))
    speeds = draw(st.lists(st.floats(0, 40), min_size=n, max_size=n))
    grade_pct = draw(st.floats(-6, 6))
    speed = np.array([0.0, *speeds, 0.0])
    t = np.arange(len(speed), dtype=float)
    return DriveCycle("random", t, speed, np.full(len(speed), grade_pct / 100))


@settings(max_examples=120, deadline=None)
@given(specs, cycles(), st.floats(0.001, 0.95), st.one_of(st.none(), st.floats(15, 30)))
def test_energy_balances(
    spec: VehicleSpec, cycle: DriveCycle, soc0: float, hvac: float | None
) -> None:
    """Battery chemical energy = wheel work + friction braking + every loss, within 0.1 %."""
    r = simulate_cycle(spec, cycle, soc0=soc0, hvac_setpoint_c=hvac, ambient_c=0.0)
    grade = 0.5 * (cycle.grade[:-1] + cycle.grade[1:])
    wheel = independent_wheel_work_j(spec, r.speed_mps, r.dt_s, grade)
    friction = -float(r.friction_w @ r.dt_s)  # dissipated, positive
    losses = float((r.motor_loss_w + r.battery_loss_w + r.aux_w + r.hvac_w) @ r.dt_s)
    chemical = float(r.chemical_w @ r.dt_s)
    scale = max(abs(chemical), float((np.abs(r.chemical_w)) @ r.dt_s))
    assert abs(chemical - (wheel + friction + losses)) <= 1e-3 * scale
    assert friction >= 0
    assert np.all(r.motor_loss_w >= 0)
    assert np.all(r.battery_loss_w >= 0)
    # Terminal energy is the chemical energy less the battery's own losses.
    assert float(r.terminal_w @ r.dt_s) == pytest.approx(
        chemical - float(r.battery_loss_w @ r.dt_s)
    )


def test_soc_follows_the_charge_drawn() -> None:
    spec = load_vehicle("xiaomi-su7")
    r = simulate_cycle(spec, builtin_cycle("wltc3b"), soc0=0.8)
    drop_kwh = (r.soc[0] - r.soc[-1]) * spec.battery_kwh
    assert drop_kwh == pytest.approx(r.chemical_kwh, rel=0.02)
    assert 0 < r.soc[-1] < r.soc[0]


def test_follows_a_cycle_it_can_and_reports_distance() -> None:
    spec = load_vehicle("tesla-model-3-rwd")
    udds = builtin_cycle("udds")
    r = simulate_cycle(spec, udds)
    assert r.trace_miss_steps == 0
    assert r.max_shortfall_kmh == 0
    assert r.distance_m == pytest.approx(udds.distance_m, rel=1e-9)
    assert 0.2 < r.regen_share < 0.6
    assert r.wall_kwh > r.battery_kwh > 0


def test_a_cycle_beyond_the_car_is_simulated_with_the_shortfall_reported() -> None:
    weak = parse_vehicle(
        {
            "name": "weak",
            "epa_coastdown": {"a_lbf": 30, "b_lbf_per_mph": 0.1, "c_lbf_per_mph2": 0.02},
            "etw_lb": 4000,
            "battery_kwh": 40,
            "chemistry": "nmc",
            "motor_kw": 25,
            "drive": "fwd",
            "max_speed_kmh": 110,
        }
    )
    us06 = builtin_cycle("us06")
    r = simulate_cycle(weak, us06)
    assert r.trace_miss_steps > 50
    assert r.max_shortfall_kmh > 10
    assert r.distance_m < us06.distance_m
    assert np.all(r.speed_mps <= us06.speed_mps + 1e-9)
    assert np.all(r.speed_mps <= 110 / 3.6 + 1e-9)
    # Never above what the motor can do: the power at the wheels stays within rating.
    assert np.max(r.motor_w) <= 25_000 * 1.0001


def test_empty_battery_limits_the_car() -> None:
    spec = load_vehicle("nissan-leaf")
    r = simulate_cycle(spec, builtin_cycle("udds"), soc0=pack_for(spec).soc_min + 0.001)
    assert r.trace_miss_steps > 0
    assert r.soc[-1] >= pack_for(spec).soc_min - 1e-4
    assert r.distance_m < builtin_cycle("udds").distance_m / 2


def test_hvac_in_the_cold_costs_energy_and_warms_the_cabin() -> None:
    spec = load_vehicle("xiaomi-su7")
    udds = builtin_cycle("udds")
    off = simulate_cycle(spec, udds, ambient_c=-5)
    on = simulate_cycle(spec, udds, ambient_c=-5, hvac_setpoint_c=21)
    ptc = simulate_cycle(spec, udds, ambient_c=-5, hvac_setpoint_c=21, heat_pump=False)
    assert off.cabin_c[-1] == pytest.approx(-5, abs=0.5)
    assert on.cabin_c[-1] == pytest.approx(21, abs=0.3)
    assert on.battery_kwh > off.battery_kwh
    assert ptc.battery_kwh > on.battery_kwh  # the heat pump's COP > 1 pays off


def test_motor_type_and_drive_change_the_result() -> None:
    base = load_vehicle("kia-ev6-rwd")
    from dataclasses import replace

    induction = replace(base, motor_type="induction")
    udds = builtin_cycle("udds")
    assert simulate_cycle(induction, udds).battery_kwh != simulate_cycle(base, udds).battery_kwh


STEP_OUTPUTS = (
    "speed_mps",
    "limited",
    "wheel_w",
    "motor_w",
    "friction_w",
    "motor_loss_w",
    "terminal_w",
    "chemical_w",
    "battery_loss_w",
    "current_a",
    "aux_w",
    "extra_w",
)
car_states = st.tuples(
    st.floats(0, 45),  # v0
    st.floats(-6, 6),  # asked change of speed
    st.one_of(st.floats(-0.01, 0.05), st.floats(0.05, 0.95), st.floats(0.95, 1.0)),  # SoC
    st.floats(-0.08, 0.08),  # grade
    st.floats(0, 6000),  # HVAC
)


@settings(max_examples=60, deadline=None)
@given(st.lists(car_states, min_size=7, max_size=7), st.floats(-20, 40))
def test_a_fleet_step_gives_each_car_its_own_step(
    cars: list[tuple[float, float, float, float, float]], temp_c: float
) -> None:
    """Stepped together, with shared curve tables and the terms skipped when no car needs them,
    every car gets what stepping it alone gives, in every output."""
    specs = list(shipped_vehicles().values())
    v0, dv, soc, grade, hvac = (np.array(column) for column in zip(*cars, strict=True))
    target = np.maximum(v0 + dv, 0.0)
    fleet_p = DriveParams.stack([DriveParams.for_spec(s) for s in specs])
    fleet_pack = bat.Pack.stack([pack_for(s) for s in specs])
    together = step(fleet_p, fleet_pack, v0, target, 1.0, grade, soc, hvac, temp_c)
    for k, spec in enumerate(specs):
        alone = step(
            DriveParams.for_spec(spec),
            pack_for(spec),
            v0[k : k + 1],
            target[k : k + 1],
            1.0,
            float(grade[k]),
            soc[k : k + 1],
            float(hvac[k]),
            temp_c,
        )
        for name in STEP_OUTPUTS:
            got, want = getattr(together, name)[k], getattr(alone, name)[0]
            assert got == pytest.approx(want, rel=1e-9, abs=1e-6), f"car {k} {name}"


def test_hvac_on_an_unevenly_sampled_cycle_matches_an_even_one() -> None:
    """The cabin model steps with each sample's own length, not an assumed second."""
    spec = load_vehicle("xiaomi-su7")
    even_t = np.arange(0.0, 1201.0)
    uneven_t = np.concatenate((np.arange(0.0, 100.0), np.arange(100.0, 1201.0, 10.0)))

    def parked(t: np.ndarray) -> DriveCycle:
        return DriveCycle("parked", t, np.zeros_like(t), np.zeros_like(t))

    even = simulate_cycle(spec, parked(even_t), ambient_c=-5, hvac_setpoint_c=21)
    uneven = simulate_cycle(spec, parked(uneven_t), ambient_c=-5, hvac_setpoint_c=21)
    hvac_even = float(even.hvac_w @ even.dt_s)
    hvac_uneven = float(uneven.hvac_w @ uneven.dt_s)
    assert hvac_uneven == pytest.approx(hvac_even, rel=0.03)
    assert uneven.cabin_c[-1] == pytest.approx(even.cabin_c[-1], abs=0.3)
