"""Calibrate the simulator's global parameters on the EPA calibration cars.

    .venv/bin/python scripts/calibrate_sim.py [--data CSV] [--leave-one-out]

Fits one set of parameters for every car (motor loss coefficients, auxiliary load, charger
efficiency, base speed, regen fade) to the cars' measured wall energy over UDDS and HWFET, and
prints the values to put in ``src/smartev/sim/params.py``. The objective is the largest absolute
error plus 0.7 × the mean absolute error: the fit favours no case far off over a low average.
Nothing is tuned per vehicle: the fit sees only the cars' public figures.

``--leave-one-out`` measures how the model generalizes: for each car, calibrate on the others and
report the errors on the car left out. Needs scipy (a dev dependency).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from smartev.sim.cycles import DriveCycle, builtin_cycle
from smartev.sim.drive import simulate_cycle
from smartev.sim.epa import EpaTestCar, load_epa_csv
from smartev.sim.params import DEFAULT_PARAMS, ModelParams

Vector = npt.NDArray[np.float64]
NAMES = (
    "speed",
    "speed2",
    "copper",
    "inverter",
    "gear",
    "standby",
    "regen",
    "aux_w",
    "charger_efficiency",
    "base_speed_mps",
    "regen_fade_hi_mps",
)
BOUNDS = np.array(
    [
        (0.0, 0.01),
        (0.0, 0.005),
        (0.0, 0.3),
        (0.0, 0.1),
        (0.0, 0.08),
        (0.0, 0.004),
        (0.5, 2.5),
        (100, 900),
        (0.8, 0.95),
        (8.0, 25.0),
        (1.0, 6.0),
    ]
)


def params_from(x: Vector) -> ModelParams:
    pmsm = replace(
        DEFAULT_PARAMS.losses["pmsm"],
        speed=x[0],
        speed2=x[1],
        copper=x[2],
        inverter=x[3],
        gear=x[4],
        standby=x[5],
        regen=x[6],
    )
    return replace(
        DEFAULT_PARAMS,
        losses={**DEFAULT_PARAMS.losses, "pmsm": pmsm},
        aux_w=x[7],
        charger_efficiency=x[8],
        base_speed_mps=x[9],
        regen_fade_mps=(DEFAULT_PARAMS.regen_fade_mps[0], x[10]),
    )


def vector_from(params: ModelParams) -> Vector:
    pm = params.losses["pmsm"]
    return np.array(
        [
            pm.speed,
            pm.speed2,
            pm.copper,
            pm.inverter,
            pm.gear,
            pm.standby,
            pm.regen,
            params.aux_w,
            params.charger_efficiency,
            params.base_speed_mps,
            params.regen_fade_mps[1],
        ]
    )


def errors_pct(
    params: ModelParams, cars: list[EpaTestCar], cycles: dict[str, DriveCycle]
) -> Vector:
    out = []
    for car in cars:
        for name, cycle in cycles.items():
            r = simulate_cycle(car.spec, cycle, params=params)
            out.append(100 * (r.wall_wh_per_mi / car.measured_wh_per_mi[name] - 1))
    return np.array(out)


def calibrate(cars: list[EpaTestCar], cycles: dict[str, DriveCycle], x0: Vector) -> Vector:
    lo, hi = BOUNDS[:, 0], BOUNDS[:, 1]

    def to_x(z: Vector) -> Vector:  # sin² keeps every parameter inside its bounds
        return lo + (hi - lo) * np.sin(z) ** 2

    def objective(z: Vector) -> float:
        e = np.abs(errors_pct(params_from(to_x(z)), cars, cycles))
        return float(e.max() + 0.7 * e.mean())

    z0 = np.arcsin(np.sqrt(np.clip((x0 - lo) / (hi - lo), 1e-6, 1 - 1e-6)))
    best = minimize(
        objective,
        z0,
        method="Nelder-Mead",
        options={"maxiter": 3000, "xatol": 1e-6, "fatol": 1e-5, "adaptive": True},
    )
    return to_x(best.x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="EPA CSV (default: the shipped set)")
    parser.add_argument("--leave-one-out", action="store_true")
    args = parser.parse_args()
    cars = load_epa_csv(args.data)
    cycles = {c: builtin_cycle(c) for c in ("udds", "hwfet")}
    x0 = vector_from(DEFAULT_PARAMS)
    if args.leave_one_out:
        held_out = []
        for i, car in enumerate(cars):
            x = calibrate(cars[:i] + cars[i + 1 :], cycles, x0)
            e = errors_pct(params_from(x), [car], cycles)
            held_out.extend(e)
            print(f"{car.make} {car.model}: held-out errors % {np.round(e, 2)}", flush=True)
        h = np.abs(np.array(held_out))
        print(f"leave-one-out: mean abs {h.mean():.2f} %, max abs {h.max():.2f} %")
        return
    x = calibrate(cars, cycles, x0)
    for name, value in zip(NAMES, x, strict=True):
        print(f"{name:20s} {value:.4g}")
    e = errors_pct(params_from(x), cars, cycles)
    print("errors %:", np.round(e, 2))
    print(f"mean abs {np.abs(e).mean():.2f} %, max abs {np.abs(e).max():.2f} %")


if __name__ == "__main__":
    main()
