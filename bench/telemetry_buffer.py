"""Telemetry buffer throughput: appends and read + ack, on a temporary SQLite file.

    python bench/telemetry_buffer.py [--samples N] [--batch 500]

Measures ``smartev.vehicle.telemetry_buffer.TelemetryBuffer``:

1. append, batches of ``--batch`` drafts (one transaction each), ``synchronous=NORMAL``;
2. the same with ``synchronous=FULL`` (an fsync per append: what surviving a power cut costs);
3. append into a full buffer (every 5 % of the bound, the oldest droppable samples are dropped);
4. read a batch after the last sent seq, then ack it: what a transport does;
5. the sampler's ``offer`` (values in, drafts out), to see the rest of the car's side.

Anchor, run here: the same rows inserted with a bare ``sqlite3`` ``executemany`` into the same
schema and pragmas, without encoding or bookkeeping: the floor the buffer stands on.
Target (issue): >= 50,000 samples/s from one car through the whole pipeline.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from smartev.core.clock import SimClock
from smartev.vehicle.telemetry import (
    DEFAULT_TELEMETRY_POLICY,
    SampleDraft,
    SignalPolicy,
    TelemetryPolicy,
    TelemetrySampler,
)
from smartev.vehicle.telemetry_buffer import SampleKind, TelemetryBuffer

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
PATHS = [f"Vehicle.Bench.Signal{i:03d}.Value" for i in range(100)]


def make_drafts(n: int, seed: int = 1) -> list[SampleDraft]:
    """A car-like mix: mostly float measurements, 10 % heartbeats, 2 % state changes."""
    rng = random.Random(seed)
    t0 = int(START.timestamp() * 1_000_000)
    drafts = []
    for i in range(n):
        r = rng.random()
        if r < 0.02:
            drafts.append(
                SampleDraft(t0 + i * 20, PATHS[i % 100], rng.random() < 0.5, "change", True)
            )
        else:
            kind: SampleKind = "heartbeat" if r < 0.12 else "change"
            drafts.append(SampleDraft(t0 + i * 20, PATHS[i % 100], rng.uniform(0, 200), kind))
    return drafts


def bench_append(
    path: Path, drafts: list[SampleDraft], batch: int, *, max_bytes: int, sync: str = "NORMAL"
) -> tuple[float, int]:
    """Samples appended per second, and how many the bound dropped."""
    with TelemetryBuffer(
        path,
        clock=SimClock(START),
        max_bytes=max_bytes,
        synchronous=sync,  # type: ignore[arg-type]
    ) as buf:
        t0 = time.perf_counter()
        for start in range(0, len(drafts), batch):
            buf.append(drafts[start : start + batch])
        elapsed = time.perf_counter() - t0
        return len(drafts) / elapsed, buf.dropped_total


def bench_read_ack(path: Path, batch: int) -> float:
    """Samples read and acked per second, a batch at a time, until the buffer is empty."""
    with TelemetryBuffer(path, clock=SimClock(START), max_bytes=1 << 40) as buf:
        n = 0
        t0 = time.perf_counter()
        while True:
            samples = buf.read(0, batch)
            if not samples:
                break
            buf.ack(samples[-1].seq)
            n += len(samples)
        return n / (time.perf_counter() - t0)


def bench_anchor(path: Path, drafts: list[SampleDraft], batch: int) -> float:
    """The same rows through bare sqlite3: pre-encoded, no bookkeeping."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("locking_mode=EXCLUSIVE", "journal_mode=WAL", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    db.execute(
        "CREATE TABLE sample (seq INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, "
        "path_id INTEGER NOT NULL, value BLOB NOT NULL, drop_rank INTEGER NOT NULL)"
    )
    blob = b"\xcb@Y\x00\x00\x00\x00\x00\x00"
    rows = [(i + 1, d.ts_us, i % 100, blob, 2) for i, d in enumerate(drafts)]
    t0 = time.perf_counter()
    for start in range(0, len(rows), batch):
        db.execute("BEGIN")
        db.executemany("INSERT INTO sample VALUES (?, ?, ?, ?, ?)", rows[start : start + batch])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    db.close()
    return len(rows) / elapsed


def bench_sampler(n: int) -> tuple[float, float]:
    """Offers per second through the sampler, and the share that became drafts."""
    clock = SimClock(START)
    policy = TelemetryPolicy(default=SignalPolicy(min_interval_s=0.0, heartbeat_s=60.0))
    sampler = TelemetrySampler(policy, clock)
    rng = random.Random(2)
    values = [rng.uniform(0, 200) for _ in range(1000)]
    ts = START.timestamp()
    emitted = 0
    t0 = time.perf_counter()
    for i in range(n):
        emitted += len(sampler.offer(PATHS[i % 100], values[i % 1000], ts))
    elapsed = time.perf_counter() - t0
    TelemetrySampler(DEFAULT_TELEMETRY_POLICY, clock)  # the shipped table builds too
    return n / elapsed, emitted / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    # The full-buffer run drops samples on purpose: its warnings would only clutter the table.
    logging.getLogger("smartev.vehicle.telemetry_buffer").setLevel(logging.ERROR)
    n, batch = args.samples, args.batch
    drafts = make_drafts(n)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        append_rate, _ = bench_append(d / "a.db", drafts, batch, max_bytes=1 << 40)
        read_ack_rate = bench_read_ack(d / "a.db", batch)
        full_n = max(batch, n // 20)
        full_rate, _ = bench_append(
            d / "f.db", drafts[:full_n], batch, max_bytes=1 << 40, sync="FULL"
        )
        # A bound of a third of the samples: two thirds of the run appends into a full buffer.
        bound = n * 33 // 3
        dropping_rate, dropped = bench_append(d / "d.db", drafts, batch, max_bytes=bound)
        anchor_rate = bench_anchor(d / "anchor.db", drafts, batch)
    offer_rate, emitted_share = bench_sampler(n)

    table = Table(title=f"telemetry buffer, {n:,} samples, batches of {batch}")
    table.add_column("operation")
    table.add_column("samples/s", justify="right")
    table.add_column("note")
    table.add_row("append (synchronous=NORMAL)", f"{append_rate:,.0f}", "kill -9 safe")
    table.add_row(
        "append (synchronous=FULL)", f"{full_rate:,.0f}", f"power-cut safe; {full_n:,} samples"
    )
    table.add_row(
        "append into a full buffer",
        f"{dropping_rate:,.0f}",
        f"bound {bound:,} B, {dropped:,} dropped",
    )
    table.add_row("read + ack", f"{read_ack_rate:,.0f}", "read after seq, ack up to last")
    table.add_row("sampler offer", f"{offer_rate:,.0f}", f"{emitted_share:.0%} became samples")
    table.add_row("anchor: bare sqlite3 insert", f"{anchor_rate:,.0f}", "same rows and pragmas")
    Console(width=120).print(table)
    print(
        json.dumps(
            {
                "samples": n,
                "batch": batch,
                "append_samples_per_s": round(append_rate),
                "append_full_sync_samples_per_s": round(full_rate),
                "append_dropping_samples_per_s": round(dropping_rate),
                "read_ack_samples_per_s": round(read_ack_rate),
                "sampler_offers_per_s": round(offer_rate),
                "anchor_sqlite_insert_rows_per_s": round(anchor_rate),
            }
        )
    )


if __name__ == "__main__":
    main()
