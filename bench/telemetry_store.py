"""Telemetry ingest into the cloud's database: batches and samples per second through
``SqlTelemetryStore.store`` (samples, latest values, rollups, session detection, one transaction
per group of batches).

    python bench/telemetry_store.py [--cars 1000] [--seconds 10] [--threads 6] [--postgres]

The load is a fleet in which every car sends one batch a second (``--samples`` per batch, the
signals a driving car changes: speed, position, power, SoC, odometer…), stored from ``--threads``
threads as the car gateway does (``asyncio.to_thread``: the default pool has min(32, CPUs + 4)
threads). SQLite is the cloud's default (a file in WAL mode, ``synchronous=FULL``: each commit
waits for the disk); ``--postgres`` starts a throwaway PostgreSQL cluster (the tests' one:
fsync off, on /dev/shm when roomy, so its numbers are an upper bound). Target (issue): 1,000 cars
once a second on 2 cores with SQLite. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent.parent))
from smartev.cloud.db import Database
from smartev.cloud.telemetry import SqlTelemetryStore
from smartev.core.clock import SimClock
from smartev.link import Sample, SampleKind

# Ten seconds before a minute ends: a timed run crosses into the next minute, when each car's
# minute of rollups and its detector snapshot are stored (once a minute; per batch, a
# ten-second run counts that cost six times over).
START = datetime(2026, 6, 1, 8, 0, 50, tzinfo=UTC)
TARGET_BATCHES_PER_S = 1000
WARM_UP_S = 3
BATTERY = "Vehicle.Powertrain.TractionBattery"
# What a driving car sends every second or so (the default telemetry policy's fast signals).
SIGNALS = (
    "Vehicle.Speed",
    "Vehicle.IsMoving",
    "Vehicle.TraveledDistance",
    "Vehicle.CurrentLocation.Latitude",
    "Vehicle.CurrentLocation.Longitude",
    "Vehicle.CurrentLocation.Heading",
    f"{BATTERY}.StateOfCharge.Current",
    f"{BATTERY}.StateOfCharge.CurrentEnergy",
    f"{BATTERY}.CurrentPower",
    f"{BATTERY}.CurrentCurrent",
    f"{BATTERY}.CurrentVoltage",
    f"{BATTERY}.Range",
    "Vehicle.Powertrain.Range",
    "Vehicle.Powertrain.ElectricMotor.Speed",
    "Vehicle.Powertrain.ElectricMotor.Torque",
    f"{BATTERY}.Temperature.Average",
    "Vehicle.Cabin.HVAC.AmbientAirTemperature",
    "Vehicle.Exterior.AirTemperature",
    f"{BATTERY}.Charging.IsCharging",
    "Vehicle.Powertrain.Transmission.SelectedGear",
)


def batch(car: int, second: int, first_seq: int, n: int) -> tuple[Sample, ...]:
    ts_us = int(START.timestamp() * 1_000_000) + second * 1_000_000 + car * 100
    out = []
    for i, path in enumerate(SIGNALS[:n]):
        value: bool | int | float
        if path.endswith(("IsMoving", "IsCharging")):
            value = path.endswith("IsMoving")
        elif path.endswith(("SelectedGear", "TraveledDistance")):
            value = second * 15 if path.endswith("TraveledDistance") else 1
        else:
            value = round(50.0 + (second * 7 + i * 13 + car) % 97 * 0.5, 2)
        out.append(Sample(first_seq + i, ts_us, path, value, SampleKind.CHANGE))
    return tuple(out)


def measure(url: str, cars: int, seconds: int, threads: int, per_batch: int) -> dict[str, float]:
    db = Database(url)
    clock = SimClock(START)
    store = SqlTelemetryStore(db, clock=clock)
    car_ids = [f"LBENCH{c:011d}" for c in range(cars)]
    seqs = dict.fromkeys(car_ids, 1)

    def send(c: int, second: int) -> None:
        car = car_ids[c]
        samples = batch(c, second, seqs[car], per_batch)
        seqs[car] += len(samples)
        store.store(car, samples)

    with ThreadPoolExecutor(threads) as pool:
        # Warm-up: first contact makes each car's rows; the second batch starts its drive.
        for second in range(WARM_UP_S):
            list(pool.map(lambda c, s=second: send(c, s), range(cars)))
        t0, cpu0 = time.perf_counter(), time.process_time()
        for second in range(WARM_UP_S, WARM_UP_S + seconds):
            clock.advance(1.0)
            list(pool.map(lambda c, s=second: send(c, s), range(cars)))
        elapsed, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    stored = store.count(car_ids[0])
    expected = (WARM_UP_S + seconds) * per_batch
    if stored != expected:
        raise SystemExit(f"car 0 has {stored} samples stored, expected {expected}")
    db.close()
    batches = cars * seconds
    return {
        "batches_per_s": batches / elapsed,
        "samples_per_s": batches * per_batch / elapsed,
        "elapsed_s": elapsed,
        "cpu_ms_per_batch": cpu_s * 1000 / batches,
    }


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    from tests.pg import find_bin_dir, running_cluster, temporary_database

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (no initdb under /usr/lib/postgresql)")
    with running_cluster(bin_dir) as cluster, temporary_database(cluster.url()) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10, help="batches per car, timed")
    parser.add_argument("--threads", type=int, default=min(32, (os.cpu_count() or 1) + 4))
    parser.add_argument("--samples", type=int, default=15, help=f"per batch, 1..{len(SIGNALS)}")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if not 1 <= args.samples <= len(SIGNALS) or args.cars < 1 or args.seconds < 1:
        parser.error(f"--samples must be 1..{len(SIGNALS)}; --cars and --seconds >= 1")
    logging.basicConfig(level=logging.WARNING)
    with contextlib.ExitStack() as stack:
        if args.postgres:
            url, backend = stack.enter_context(postgres_url()), "postgresql"
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="smartev-bench-ingest-"))
            url, backend = f"sqlite:///{tmp}/cloud.db", "sqlite"
        result = measure(url, args.cars, args.seconds, args.threads, args.samples)

    table = Table(
        title=f"telemetry ingest, {backend}, {args.cars:,} cars × {args.seconds} s, "
        f"{args.samples} samples a batch, {args.threads} threads"
    )
    for col in ("measure", "value", "target / note"):
        table.add_column(col, justify="right")
    table.add_row(
        "batches/s", f"{result['batches_per_s']:,.0f}", f">= {TARGET_BATCHES_PER_S:,} (1,000 cars)"
    )
    table.add_row("samples/s", f"{result['samples_per_s']:,.0f}", "")
    table.add_row("elapsed", f"{result['elapsed_s']:.2f} s", "")
    table.add_row(
        "CPU per batch", f"{result['cpu_ms_per_batch']:.2f} ms", "all threads, this process"
    )
    Console().print(table)
    print(
        json.dumps(
            {
                "bench": "telemetry_store",
                "backend": backend,
                "cars": args.cars,
                "seconds": args.seconds,
                "threads": args.threads,
                "samples_per_batch": args.samples,
                "cpus": os.cpu_count(),
                **{k: round(v, 3) for k, v in result.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
