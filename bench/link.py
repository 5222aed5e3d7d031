"""Telemetry from one car into the cloud over the link, with storage on: samples per second.

    python bench/link.py [--samples N] [--quick]

The cloud is ``smartev up`` as shipped, in its own process with its own data directory (SQLite
store, ``synchronous=FULL``: an ack means the samples are on disk). This process is the car: it
provisions a key, fills a ``TelemetryBuffer`` with N samples of the shipped VSS signals (values
by datatype, kinds and state flags by the default telemetry policy), then runs an ``Uplink``
against the cloud and times it from connecting until the cloud has acked the last sample; the
cloud's stored count is then checked to be exactly N.

For context, the stages on their own in this process: the buffer's append (what the car's
sampler feeds it), the car's side of a batch (buffer read, ``Sample`` objects, encode), and the
cloud's side (decode, store into a scratch ``SqlTelemetryStore`` on SQLite).

Then the command round trip, from the relay's request (what the API calls) to ``executed``, with
100 connected cars (``bench/link_commands.py``; 20 with ``--quick``).

Targets (issue): >= 50,000 samples/s from one car; command p99 < 50 ms with 100 cars. The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
import link_commands
from smartev.cloud.car_keys import CarKeyDirectory
from smartev.cloud.db import Database
from smartev.cloud.telemetry import SqlTelemetryStore
from smartev.core.clock import RealClock, SimClock
from smartev.link import Sample, SampleKind, TelemetryBatch, decode, encode
from smartev.spec import Catalog, Value, shipped_catalog
from smartev.vehicle.car_key import load_or_create_car_key, public_pem
from smartev.vehicle.telemetry import DEFAULT_TELEMETRY_POLICY, SampleDraft
from smartev.vehicle.telemetry_buffer import SampleKind as DraftKind
from smartev.vehicle.telemetry_buffer import TelemetryBuffer
from smartev.vehicle.uplink import BATCH_SAMPLES, Uplink, websocket_connector

SMARTEV = str(Path(sys.executable).parent / "smartev")
VIN = "LSJWH4097PN000001"
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
TARGET_SAMPLES_PER_S = 50_000
APPEND_BATCH = 500  # drafts per append: a busy sampler tick
TIMEOUT_S = 300.0

_INT_RANGES = {
    "uint8": (0, 255),
    "uint16": (0, 65_535),
    "uint32": (0, 1_000_000),
    "int8": (-128, 127),
    "int16": (-32_768, 32_767),
    "int32": (-1_000_000, 1_000_000),
}


def signal_paths(cat: Catalog) -> list[tuple[str, str, tuple[Value, ...] | None]]:
    """The shipped sensors and actuators with scalar values: (path, datatype, allowed)."""
    return [
        (s.path, s.datatype.value, s.allowed)
        for s in cat
        if s.kind.value in ("sensor", "actuator") and not s.datatype.value.endswith("[]")
    ]


def make_drafts(n: int, seed: int = 1) -> list[SampleDraft]:
    """Samples as a car sends them: every signal in turn, about 10 % heartbeats, values by
    datatype within the signal's bounds, state signals flagged as the default policy says."""
    rng = random.Random(seed)
    signals = signal_paths(shipped_catalog())
    state = {p: DEFAULT_TELEMETRY_POLICY.for_path(p).kind == "state" for p, _, _ in signals}
    t0 = int(START.timestamp() * 1_000_000)
    drafts = []
    for i in range(n):
        path, datatype, allowed = signals[i % len(signals)]
        value: Value
        if allowed:
            value = rng.choice(allowed)
        elif datatype == "boolean":
            value = rng.random() < 0.5
        elif datatype in _INT_RANGES:
            value = rng.randint(*_INT_RANGES[datatype])
        elif datatype == "string":
            value = f"EVSE-{rng.randrange(10_000):04d}"
        else:
            value = round(rng.uniform(-50.0, 400.0), 3)
        kind: DraftKind = "heartbeat" if rng.random() < 0.1 and not state[path] else "change"
        drafts.append(SampleDraft(t0 + i * 200, path, value, kind, state[path]))
    return drafts


def fill_buffer(path: Path, drafts: list[SampleDraft]) -> float:
    """Append the drafts in sampler-sized batches: samples appended per second."""
    with TelemetryBuffer(path, clock=SimClock(START)) as buffer:
        t0 = time.perf_counter()
        for start in range(0, len(drafts), APPEND_BATCH):
            buffer.append(drafts[start : start + APPEND_BATCH])
        elapsed = time.perf_counter() - t0
        if buffer.dropped_total:
            raise SystemExit(f"the buffer dropped {buffer.dropped_total} samples: raise its bound")
    return len(drafts) / elapsed


def stage_rates(buffer_path: Path, scratch: Path) -> tuple[float, float]:
    """Samples per second of the car's side of a batch and of the cloud's, with no network."""
    frames: list[bytes] = []
    with TelemetryBuffer(buffer_path, clock=SimClock(START)) as buffer:
        t0 = time.perf_counter()
        after = 0
        while samples := buffer.read(after, BATCH_SAMPLES, contiguous=True):
            wire = tuple(
                Sample(s.seq, s.ts_us, s.path, s.value, SampleKind(s.kind)) for s in samples
            )
            frames.append(encode(TelemetryBatch(samples[0].seq, wire)))
            after = samples[-1].seq
        car_rate = after / (time.perf_counter() - t0)
    db = Database(f"sqlite:///{scratch / 'stage.db'}")
    store = SqlTelemetryStore(db, clock=SimClock(START))
    t0 = time.perf_counter()
    for frame in frames:
        batch = decode(frame)
        assert isinstance(batch, TelemetryBatch)
        store.store(VIN, batch.samples)
    cloud_rate = after / (time.perf_counter() - t0)
    db.close()
    return car_rate, cloud_rate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_cloud(data_dir: Path, port: int, log_file: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTEV_")}
    env |= {"SMARTEV_DATA_DIR": str(data_dir), "SMARTEV_LOG_LEVEL": "warning"}
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [SMARTEV, "up", "--port", str(port)],
            env=env,
            cwd=data_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    # The port accepts connections before the app is up (the socket listens first): wait for the
    # line that says it is, or the first connection would time the cloud's start.
    while "smartev is up" not in log_file.read_text(errors="replace"):
        if proc.poll() is not None:
            raise SystemExit(f"the cloud exited with {proc.returncode}:\n{log_file.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the cloud did not start within 30 s")
        time.sleep(0.05)
    return proc


async def stream(car_dir: Path, buffer_path: Path, url: str) -> tuple[float, float, int]:
    """Run the uplink until the cloud acked every sample: (seconds to connect, seconds from
    connecting to the last ack, batches sent)."""
    with TelemetryBuffer(buffer_path, clock=RealClock()) as buffer:
        last = buffer.last_seq
        uplink = Uplink(
            car_id=VIN,
            private_key=load_or_create_car_key(car_dir),
            epoch=os.urandom(16),
            buffer=buffer,
            clock=RealClock(),
        )
        t0 = time.perf_counter()
        running = asyncio.create_task(uplink.run(websocket_connector(url)))
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await uplink.connected.wait()
                t_connected = time.perf_counter()
                while uplink.acked_seq < last:  # noqa: ASYNC110 - acks arrive on the link task
                    await asyncio.sleep(0.002)
            t_done = time.perf_counter()
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        return t_connected - t0, t_done - t_connected, uplink.sent_batches


def cloud_count(db_file: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM telemetry_sample WHERE car_id = ?", (VIN,)
        ).fetchone()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300_000, help="samples to stream")
    parser.add_argument("--quick", action="store_true", help="50,000 samples: a smoke run")
    args = parser.parse_args()
    n = 50_000 if args.quick else args.samples
    if n < 1:
        parser.error("--samples must be >= 1")
    logging.basicConfig(level=logging.WARNING)
    drafts = make_drafts(n)
    with tempfile.TemporaryDirectory(prefix="smartev-bench-link-") as tmp:
        root = Path(tmp)
        car_dir, cloud_dir = root / "car", root / "cloud"
        cloud_dir.mkdir()
        CarKeyDirectory(cloud_dir / "cars").register(
            VIN, public_pem(load_or_create_car_key(car_dir))
        )
        buffer_path = car_dir / "telemetry.db"
        append_rate = fill_buffer(buffer_path, drafts)
        car_rate, cloud_rate = stage_rates(buffer_path, root)

        port = free_port()
        cloud = start_cloud(cloud_dir, port, root / "cloud.log")
        try:
            connect_s, stream_s, batches = asyncio.run(
                stream(car_dir, buffer_path, f"ws://127.0.0.1:{port}/link/v1")
            )
            stored = cloud_count(cloud_dir / "cloud.db")
        finally:
            cloud.send_signal(signal.SIGTERM)
            cloud.wait(timeout=30)
    if stored != n:
        raise SystemExit(f"the cloud stored {stored:,} samples, expected {n:,}")
    rate = n / stream_s
    overall = n / (connect_s + stream_s)

    table = Table(title=f"car → cloud telemetry, 1 car, {n:,} samples, storage on")
    for col in ("measure", "value", "target / note"):
        table.add_column(col, justify="right")
    table.add_row(
        "samples/s, connected to last ack", f"{rate:,.0f}", f">= {TARGET_SAMPLES_PER_S:,}"
    )
    table.add_row("samples/s, including the handshake", f"{overall:,.0f}", "")
    table.add_row("connect + handshake", f"{connect_s * 1000:,.1f} ms", "")
    table.add_row("batches sent", f"{batches:,}", f"{BATCH_SAMPLES} samples each")
    table.add_row("stored in the cloud", f"{stored:,}", "exactly N, checked")
    table.add_row("buffer append samples/s", f"{append_rate:,.0f}", "context: the car's producer")
    table.add_row("car side samples/s", f"{car_rate:,.0f}", "read + encode, no network")
    table.add_row("cloud side samples/s", f"{cloud_rate:,.0f}", "decode + store, no network")
    n_cars = 20 if args.quick else 100
    latencies = asyncio.run(link_commands.measure(n_cars, 5 * n_cars, 100.0))
    q = statistics.quantiles(latencies, n=100)
    table.add_row(
        f"command round trip p50 / p99 ({n_cars} cars, {len(latencies)} commands)",
        f"{q[49]:.2f} / {q[98]:.2f} ms",
        "p99 < 50 ms",
    )
    Console(width=120).print(table)
    print(
        json.dumps(
            {
                "samples_per_s": round(rate),
                "command_p50_ms": round(q[49], 2),
                "command_p99_ms": round(q[98], 2),
                "cars": n_cars,
                "samples": n,
                "samples_per_s_with_handshake": round(overall),
                "connect_ms": round(connect_s * 1000, 1),
                "buffer_append_samples_per_s": round(append_rate),
                "car_side_samples_per_s": round(car_rate),
                "cloud_side_samples_per_s": round(cloud_rate),
                "target_samples_per_s": TARGET_SAMPLES_PER_S,
            }
        )
    )


if __name__ == "__main__":
    main()
