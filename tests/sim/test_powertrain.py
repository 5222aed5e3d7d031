"""Road load, traction, motor losses and the braking split, against the formulas written out."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.core.units import STANDARD_GRAVITY
from smartev.sim.params import DEFAULT_PARAMS
from smartev.sim.powertrain import (
    DriveParams,
    max_traction_n,
    motor_loss_w,
    road_load_n,
    split_braking,
)
from smartev.sim.spec import VehicleSpec, shipped_vehicles

SPECS = list(shipped_vehicles().values())
FLEET = DriveParams.stack([DriveParams.for_spec(spec) for spec in SPECS])


def documented_loss_w(p: DriveParams, force_n: float, speed_mps: float) -> float:
    """The loss map as ``MotorLosses`` states it, for one car of floats."""
    rated, base = p.rated_w, p.base_speed_mps
    w = speed_mps / base
    tau = abs(force_n) * base / rated
    loss = rated * (p.loss_speed * w + p.loss_speed2 * w * w)
    loss += rated * (p.loss_copper * tau * tau + p.loss_inverter * tau)
    loss += p.loss_gear * abs(force_n) * speed_mps
    return float(loss * (p.loss_regen if force_n < 0 else 1.0))


cars = st.sampled_from(SPECS)
forces = st.floats(-20_000, 20_000)
speeds = st.floats(0, 70)


@given(cars, forces, speeds)
def test_motor_loss_is_the_documented_map(
    spec: VehicleSpec, force_n: float, speed_mps: float
) -> None:
    p = DriveParams.for_spec(spec)
    got = float(motor_loss_w(p, force_n, speed_mps))
    assert got == pytest.approx(documented_loss_w(p, force_n, speed_mps), rel=1e-12, abs=1e-9)


def test_regen_costing_what_driving_does_is_taken_as_such() -> None:
    same = {kind: replace(losses, regen=1.0) for kind, losses in DEFAULT_PARAMS.losses.items()}
    p = DriveParams.for_spec(SPECS[0], DEFAULT_PARAMS.with_(losses=same))
    assert p.derived.regen_loss_is_one
    assert not DriveParams.for_spec(SPECS[0]).derived.regen_loss_is_one
    assert float(motor_loss_w(p, -3000.0, 12.0)) == float(motor_loss_w(p, 3000.0, 12.0))


@given(st.lists(st.tuples(forces, speeds), min_size=len(SPECS), max_size=len(SPECS)))
def test_a_fleets_losses_are_each_cars_own(cases: list[tuple[float, float]]) -> None:
    force = np.array([f for f, _ in cases])
    speed = np.array([v for _, v in cases])
    got = motor_loss_w(FLEET, force, speed)
    for k, spec in enumerate(SPECS):
        want = documented_loss_w(DriveParams.for_spec(spec), force[k], speed[k])
        assert got[k] == pytest.approx(want, rel=1e-12, abs=1e-9)


def test_road_load_rolls_only_while_moving_and_climbs_the_grade() -> None:
    spec = SPECS[0]
    p = DriveParams.for_spec(spec)
    speed = np.array([0.0, 0.005, 0.02, 10.0, 30.0])
    aero = spec.f2_n_per_mps2 * speed**2
    rolling = np.where(speed > 0.01, spec.f0_n + spec.f1_n_per_mps * speed, 0.0)
    assert road_load_n(p, speed) == pytest.approx(rolling + aero, rel=1e-15)
    assert np.array_equal(road_load_n(p, speed, 0.0), road_load_n(p, speed, np.zeros(5)))
    climb = road_load_n(p, speed, 0.05) - road_load_n(p, speed)
    assert climb == pytest.approx(np.full(5, spec.mass_kg * STANDARD_GRAVITY * 0.05))


@given(st.lists(st.tuples(forces, speeds), min_size=len(SPECS), max_size=len(SPECS)))
def test_braking_split_with_traction_given_is_the_same(cases: list[tuple[float, float]]) -> None:
    force = np.array([f for f, _ in cases])
    speed = np.array([v for _, v in cases])
    charge_limit = np.full(len(SPECS), 60_000.0)
    plain = split_braking(FLEET, force, speed, charge_limit)
    given_traction = split_braking(
        FLEET, force, speed, charge_limit, traction_n=max_traction_n(FLEET, speed)
    )
    assert np.array_equal(plain[0], given_traction[0])
    assert np.array_equal(plain[1], given_traction[1])
    regen, friction = plain
    assert np.all(regen <= 0.0)
    assert np.all(friction <= 0.0)
    assert regen + friction == pytest.approx(np.minimum(force, 0.0), rel=1e-12, abs=1e-9)
