import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError
from smartev.sim.cycles import DriveCycle, builtin_cycle
from smartev.sim.drive import CycleResult, simulate_cycle
from smartev.sim.errors import SimError
from smartev.sim.fleet import FleetEngine, InvalidFleetError
from smartev.sim.spec import VehicleSpec, load_vehicle, shipped_vehicles

REPO = Path(__file__).resolve().parents[2]


def steps_per_lap(cycle: DriveCycle, dt_s: float = 1.0) -> int:
    return len(cycle.resampled(dt_s).time_s) - 1


def shifted(cycle: DriveCycle, offset_steps: int) -> DriveCycle:
    """The 1 Hz cycle started ``offset_steps`` in and wrapped around: one lap of a looping car."""
    r = cycle.resampled(1.0)
    lap = len(r.time_s) - 1
    index = (np.arange(lap + 1) + offset_steps) % lap
    return DriveCycle(
        name=f"{cycle.name}+{offset_steps}",
        time_s=r.time_s,
        speed_mps=r.speed_mps[index],
        grade=r.grade[index],
    )


def assert_close(got: float, want: float, rel: float, what: str) -> None:
    assert got == pytest.approx(want, rel=rel), f"{what}: fleet {got}, single car {want}"


def assert_matches(engine: FleetEngine, car: int, single: CycleResult, rel: float) -> None:
    state = engine.state
    assert_close(float(state.battery_kwh[car]), single.battery_kwh, rel, f"car {car} battery kWh")
    assert_close(float(state.odometer_m[car]), single.distance_m, rel, f"car {car} distance")
    assert int(state.limited_steps[car]) == single.trace_miss_steps


# --- agreement with the single-car path -----------------------------------------------------------


def test_a_fleet_of_one_spec_matches_the_single_car_run_over_one_cycle() -> None:
    spec = load_vehicle("tesla-model-3-rwd")
    udds = builtin_cycle("udds")
    engine = FleetEngine([spec] * 4, udds)
    engine.run(steps_per_lap(udds))
    single = simulate_cycle(spec, udds)
    for car in range(4):
        assert_matches(engine, car, single, rel=0.005)
    assert engine.state.time_s == pytest.approx(udds.duration_s)


@pytest.mark.parametrize("cycle_name", ["udds", "us06"])
def test_each_car_of_a_mixed_fleet_matches_its_own_run_over_its_shifted_cycle(
    cycle_name: str,
) -> None:
    specs = list(shipped_vehicles().values())
    cycle = builtin_cycle(cycle_name)
    lap = steps_per_lap(cycle)
    offsets = [round(i * lap / len(specs)) + 11 * i for i in range(len(specs))]
    engine = FleetEngine(specs, cycle, offsets_s=offsets)
    engine.run(lap)
    for car, (spec, offset) in enumerate(zip(specs, offsets, strict=True)):
        assert_matches(engine, car, simulate_cycle(spec, shifted(cycle, offset)), rel=0.01)


def test_cars_may_each_drive_their_own_cycle() -> None:
    spec = load_vehicle("xiaomi-su7")
    cycles = [builtin_cycle("hwfet"), builtin_cycle("udds"), builtin_cycle("hwfet")]
    hwfet_lap = steps_per_lap(cycles[0])
    engine = FleetEngine([spec] * 3, cycles, loop=False)
    engine.run(hwfet_lap)
    assert_matches(engine, 0, simulate_cycle(spec, cycles[0]), rel=0.005)
    assert engine.state.battery_kwh[2] == engine.state.battery_kwh[0]
    partial = DriveCycle(
        name="udds-head",
        time_s=cycles[1].resampled(1.0).time_s[: hwfet_lap + 1],
        speed_mps=cycles[1].resampled(1.0).speed_mps[: hwfet_lap + 1],
        grade=np.zeros(hwfet_lap + 1),
    )
    assert_matches(engine, 1, simulate_cycle(spec, partial), rel=0.005)


def test_a_car_that_cannot_follow_falls_behind_as_in_the_sequential_path() -> None:
    weak = dataclasses.replace(load_vehicle("tesla-model-3-rwd"), motor_kw=30.0)
    us06 = builtin_cycle("us06")
    engine = FleetEngine([weak], us06)
    engine.run(steps_per_lap(us06))
    single = simulate_cycle(weak, us06)
    assert single.trace_miss_steps > 0
    assert_matches(engine, 0, single, rel=0.005)


def test_grade_is_taken_from_each_cars_cycle() -> None:
    spec = load_vehicle("tesla-model-3-rwd")
    udds = builtin_cycle("udds").resampled(1.0)
    hilly = DriveCycle(
        name="hilly-udds",
        time_s=udds.time_s,
        speed_mps=udds.speed_mps,
        grade=0.04 * np.sin(udds.time_s / 90.0),
    )
    engine = FleetEngine([spec, spec], [hilly, udds])
    engine.run(steps_per_lap(hilly))
    assert_matches(engine, 0, simulate_cycle(spec, hilly), rel=0.005)
    assert_matches(engine, 1, simulate_cycle(spec, udds), rel=0.005)


# --- looping, ending and running flat -------------------------------------------------------------


def test_without_loop_a_car_stands_still_once_its_cycle_is_over() -> None:
    spec = load_vehicle("kia-ev6-rwd")
    hwfet = builtin_cycle("hwfet")
    engine = FleetEngine([spec], hwfet, loop=False)
    state = engine.run(steps_per_lap(hwfet) + 120)
    assert state.speed_mps[0] == 0.0
    assert state.odometer_m[0] == pytest.approx(hwfet.resampled(1.0).distance_m, rel=1e-9)


def test_with_loop_a_car_drives_its_cycle_again() -> None:
    spec = load_vehicle("kia-ev6-rwd")
    hwfet = builtin_cycle("hwfet")
    engine = FleetEngine([spec], hwfet)
    state = engine.run(2 * steps_per_lap(hwfet))
    assert state.odometer_m[0] == pytest.approx(2 * hwfet.resampled(1.0).distance_m, rel=1e-9)


def test_cars_on_cycles_of_different_lengths_each_loop_their_own() -> None:
    spec = load_vehicle("kia-ev6-rwd")
    cycles = [builtin_cycle("hwfet"), builtin_cycle("us06")]
    seconds = 2 * steps_per_lap(cycles[0]) + 7
    state = FleetEngine([spec, spec], cycles, offsets_s=[5.0, 100.0]).run(seconds)
    for car, (cycle, offset) in enumerate(zip(cycles, [5, 100], strict=True)):
        speed = cycle.resampled(1.0).speed_mps[:-1]
        laps = (np.arange(seconds + 1) + offset) % len(speed)
        trace = speed[laps]
        expected = float(np.sum(0.5 * (trace[:-1] + trace[1:])))
        assert state.odometer_m[car] == pytest.approx(expected, rel=1e-9)


def test_cars_that_run_flat_stop_and_are_counted() -> None:
    specs = list(shipped_vehicles().values())
    floor = np.array([s.soc_min for s in specs])
    soc0 = floor + np.where(np.arange(len(specs)) % 2 == 0, 0.003, 0.5)
    engine = FleetEngine(specs, builtin_cycle("us06"), soc0=soc0)
    state = engine.run(900)
    assert state.n_stopped == (len(specs) + 1) // 2
    assert np.array_equal(state.stopped, soc0 < 0.1)
    assert np.all(state.speed_mps[state.stopped] == 0.0)
    assert np.all(state.soc >= floor - 1e-9)
    parked = engine.state
    engine.run(600)
    assert np.array_equal(
        engine.state.odometer_m[parked.stopped], parked.odometer_m[parked.stopped]
    )


def test_a_state_is_a_snapshot() -> None:
    engine = FleetEngine([load_vehicle("xiaomi-su7")], builtin_cycle("udds"))
    before = engine.run(100)
    engine.run(100)
    after = engine.state
    assert before.time_s == 100.0
    assert after.time_s == 200.0
    assert after.odometer_m[0] > before.odometer_m[0]
    assert after.soc[0] < before.soc[0]


@settings(max_examples=25, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 3000), min_size=1, max_size=7),
    soc0=st.floats(0.02, 1.0),
    dt_s=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_soc_stays_within_the_pack_window_and_odometers_only_grow(
    offsets: list[int], soc0: float, dt_s: float
) -> None:
    specs = list(shipped_vehicles().values())[: len(offsets)]
    engine = FleetEngine(specs, builtin_cycle("us06"), offsets_s=offsets, soc0=soc0, dt_s=dt_s)
    floor = np.array([s.soc_min for s in specs])
    ceiling = np.array([s.soc_max for s in specs])
    previous = engine.state
    for _ in range(4):
        state = engine.run(60.0)
        assert np.all(state.soc <= ceiling + 1e-9)
        assert np.all(state.soc >= floor - 1e-9)
        assert np.all(state.odometer_m >= previous.odometer_m)
        assert np.all(state.speed_mps >= 0.0)
        previous = state


# --- bad input ------------------------------------------------------------------------------------


def tesla() -> VehicleSpec:
    return load_vehicle("tesla-model-3-rwd")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"specs": []}, "at least one car"),
        ({"offsets_s": [0.0, 10.0, 20.0]}, "offsets_s has shape (3,) for 2 cars"),
        ({"offsets_s": [0.0, float("nan")]}, "offsets_s contains NaN"),
        ({"dt_s": -1.0}, "dt_s -1.0 must be"),
        ({"dt_s": 0.0}, "dt_s 0.0 must be"),
        ({"dt_s": float("inf")}, "dt_s inf must be"),
        ({"soc0": 1.5}, "soc0 must be within 0..1"),
        ({"soc0": [0.5, 0.6, 0.7]}, "soc0 has shape (3,) for 2 cars"),
        ({"cycle": [builtin_cycle("udds")]}, "got 1 cycles for 2 cars"),
        ({"ambient_c": float("nan")}, "ambient_c nan"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(
    kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"specs": [tesla(), tesla()], "cycle": builtin_cycle("udds")}
    args.update(kwargs)
    with pytest.raises(InvalidFleetError) as raised:
        FleetEngine(**args)  # type: ignore[arg-type]
    assert isinstance(raised.value, SimError)
    assert isinstance(raised.value, InvalidInputError)
    assert message in str(raised.value)


def test_a_step_longer_than_the_cycle_is_a_cycle_error() -> None:
    with pytest.raises(SimError, match="dt_s 5000"):
        FleetEngine([tesla()], builtin_cycle("udds"), dt_s=5000.0)


def test_running_for_negative_time_is_refused() -> None:
    engine = FleetEngine([tesla()], builtin_cycle("udds"))
    with pytest.raises(InvalidFleetError, match=re.escape("seconds -1.0 must be finite and >= 0")):
        engine.run(-1.0)


# --- the benchmark script -------------------------------------------------------------------------


def test_the_benchmark_quick_run_ends_with_one_json_line() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "sim.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "udds_ms",
        "fastsim_udds_ms",
        "fastsim_ratio",
        "fleet_vehicle_s_per_s",
        "fleet_n",
        "fleet_vehicle_s_per_s_n10000",
    ):
        assert key in result
    assert result["fastsim_udds_ms"] is None  # --quick skips the anchor
