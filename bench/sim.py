"""Simulator speed: one car over UDDS, and the fleet engine's vehicle-seconds per second.

    python bench/sim.py [--quick] [--repeats N] [--seconds S]

One car: ``simulate_cycle`` with the Tesla Model 3 RWD over UDDS (target <= 5 ms), best of N and
median after a warm-up. The anchor is NREL FASTSim 3.1.0 on UDDS (``bench/fastsim_anchor.py``,
installed once into its own venv); the host has slow phases lasting seconds, so our UDDS is timed
again right before and after the FASTSim call and the ratio uses the best of each.
Fleet: ``FleetEngine`` stepping the 7 shipped cars in rotation over UDDS with spread offsets, at
dt = 1 s, for N = 1,000 and 10,000 cars (target >= 10,000,000 vehicle-s/s at N >= 1,000).
``--quick`` is a smoke run: few repeats, short fleet runs, no FASTSim.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from smartev.sim.cycles import DriveCycle, builtin_cycle
from smartev.sim.drive import simulate_cycle
from smartev.sim.fleet import FleetEngine
from smartev.sim.spec import VehicleSpec, load_vehicle, shipped_vehicles

UDDS_TARGET_MS = 5.0
FLEET_TARGET = 10_000_000.0
FLEET_SIZES = (1_000, 10_000)
VEHICLE = "tesla-model-3-rwd"


@dataclass(frozen=True, slots=True)
class Timing:
    best_ms: float
    median_ms: float
    runs: int


def time_udds(spec: VehicleSpec, cycle: DriveCycle, runs: int) -> Timing:
    for _ in range(5):
        simulate_cycle(spec, cycle)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        simulate_cycle(spec, cycle)
        times.append((time.perf_counter() - t0) * 1e3)
    return Timing(min(times), statistics.median(times), runs)


def fleet_rate(n_cars: int, seconds: float, runs: int) -> float:
    """Best vehicle-seconds per second over ``runs`` runs of ``seconds`` simulated seconds."""
    specs = list(shipped_vehicles().values())
    udds = builtin_cycle("udds")
    fleet = [specs[i % len(specs)] for i in range(n_cars)]
    # Spread the cars over the cycle so they are not all idling or accelerating together.
    offsets = np.linspace(0.0, udds.duration_s, n_cars, endpoint=False)
    best = 0.0
    for _ in range(runs):
        engine = FleetEngine(fleet, udds, offsets_s=offsets)
        engine.run(10.0)
        t0 = time.perf_counter()
        engine.run(seconds)
        best = max(best, n_cars * seconds / (time.perf_counter() - t0))
    return best


def time_fastsim() -> tuple[float | None, str]:
    """FASTSim 3.1.0's best-of-20 ms on UDDS and what it ran, or None and why not."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fastsim_anchor import ensure_fastsim_env, time_fastsim_udds

    python = ensure_fastsim_env()
    if python is None:
        return None, "FASTSim 3.1.0 could not be installed here (reason above, on stderr)"
    try:
        result = time_fastsim_udds(python, repeats=20)
    except RuntimeError as exc:
        return None, f"FASTSim failed: {exc}"
    return float(result["fastsim_udds_ms"]), f"{result['vehicle_resource']}, {result['python']}"


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: short, no FASTSim")
    parser.add_argument("--repeats", type=int, default=50, help="UDDS runs per timing")
    parser.add_argument("--seconds", type=float, default=600.0, help="simulated s per fleet run")
    args = parser.parse_args()
    repeats = 5 if args.quick else args.repeats
    seconds = 20.0 if args.quick else args.seconds
    fleet_runs = 1 if args.quick else 3

    spec = load_vehicle(VEHICLE)
    udds = builtin_cycle("udds")
    udds_timings = [time_udds(spec, udds, repeats)]
    fastsim_ms: float | None = None
    fastsim_note = "skipped (--quick)"
    if not args.quick:
        fastsim_ms, fastsim_note = time_fastsim()
        udds_timings.append(time_udds(spec, udds, repeats))
    best_ms = min(t.best_ms for t in udds_timings)
    median_ms = statistics.median(t.median_ms for t in udds_timings)
    ratio = fastsim_ms / best_ms if fastsim_ms is not None else None

    rates = {n: fleet_rate(n, seconds, fleet_runs) for n in FLEET_SIZES}
    fleet_n = FLEET_SIZES[0]
    note = f"N={fleet_n} meets the target"
    if rates[fleet_n] < FLEET_TARGET:
        fleet_n = max(rates, key=rates.__getitem__)
        note = f"N={FLEET_SIZES[0]} is below the target; the headline is the best N, {fleet_n}"

    table = Table(title=f"simulator speed ({spec.name}; fleet: 7 shipped cars over UDDS)")
    for col in ("workload", "smartev", "FASTSim 3.1.0", "target"):
        table.add_column(col, justify="right")
    runs = sum(t.runs for t in udds_timings)
    fs = f"{fastsim_ms:.2f}" if fastsim_ms is not None else "n/a"
    table.add_row(f"one car, UDDS (ms, best of {runs})", f"{best_ms:.3f}", fs, "<= 5")
    table.add_row("one car, UDDS (ms, median)", f"{median_ms:.3f}", "", "")
    if ratio is not None:
        table.add_row("FASTSim ms / smartev ms", f"{ratio:,.1f}x", "", "")
    for n, rate in rates.items():
        table.add_row(f"fleet vehicle-s/s N={n:,}", fmt_rate(rate), "", ">= 10,000,000")
    Console(width=110).print(table)
    print(f"FASTSim: {fastsim_note}")
    print(f"fleet: {note}")
    print(
        json.dumps(
            {
                "udds_ms": round(best_ms, 4),
                "udds_ms_median": round(median_ms, 4),
                "udds_ms_each_timing": [round(t.best_ms, 4) for t in udds_timings],
                "fastsim_udds_ms": round(fastsim_ms, 3) if fastsim_ms is not None else None,
                "fastsim_ratio": round(ratio, 2) if ratio is not None else None,
                "fleet_vehicle_s_per_s": round(rates[fleet_n]),
                "fleet_n": fleet_n,
                "fleet_vehicle_s_per_s_n1000": round(rates[1_000]),
                "fleet_vehicle_s_per_s_n10000": round(rates[10_000]),
                "fleet_target_met": rates[fleet_n] >= FLEET_TARGET,
                "fleet_seconds_simulated": seconds,
                "vehicle": spec.name,
                "fastsim_run": fastsim_note,
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
