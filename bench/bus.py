"""Event bus throughput and latency.

    python bench/bus.py [--events N]

Measures events per second through ``smartev.core.bus.EventBus`` with 1 and 10 subscribers
(publisher and subscribers on one asyncio loop, so one core), and the publish-to-delivery latency.
For scale it runs a bare ``asyncio.Queue`` producer/consumer pair the same way: the floor any
asyncio bus stands on. Target (issue 2): >= 300,000 events/s with one subscriber.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from smartev.core.bus import Event, EventBus

BATCH = 500  # events published between yields to the loop, like a busy producer


@dataclass(frozen=True, slots=True)
class Sample(Event):
    stamp_ns: int


async def bus_throughput(n_events: int, n_subs: int) -> float:
    """Events published per second until every subscriber has handled all of them."""
    async with EventBus() as bus:
        counts = [0] * n_subs

        def make_handler(i: int):  # type: ignore[no-untyped-def]
            def handler(_: Sample) -> None:
                counts[i] += 1

            return handler

        for i in range(n_subs):
            bus.subscribe(Sample, make_handler(i), maxsize=n_events)
        event = Sample(0)
        t0 = time.perf_counter()
        for start in range(0, n_events, BATCH):
            for _ in range(min(BATCH, n_events - start)):
                bus.publish(event)
            await asyncio.sleep(0)
        await bus.drain()
        elapsed = time.perf_counter() - t0
        assert counts == [n_events] * n_subs, counts
        return n_events / elapsed


async def bus_latency(n_events: int, burst: int) -> list[float]:
    """Publish-to-handler latency in microseconds, events published in bursts of ``burst``."""
    latencies: list[float] = []
    async with EventBus() as bus:

        def handler(e: Sample) -> None:
            latencies.append((time.perf_counter_ns() - e.stamp_ns) / 1000)

        bus.subscribe(Sample, handler)
        for _ in range(n_events // burst):
            for _ in range(burst):
                bus.publish(Sample(time.perf_counter_ns()))
            await asyncio.sleep(0)
        await bus.drain()
    return latencies


async def queue_throughput(n_events: int) -> float:
    """The same workload over a bare asyncio.Queue and one consumer task."""
    queue: asyncio.Queue[Sample] = asyncio.Queue()
    done = 0

    async def consume() -> None:
        nonlocal done
        while True:
            await queue.get()
            done += 1
            if done == n_events:
                return

    consumer = asyncio.create_task(consume())
    event = Sample(0)
    t0 = time.perf_counter()
    for start in range(0, n_events, BATCH):
        for _ in range(min(BATCH, n_events - start)):
            queue.put_nowait(event)
        await asyncio.sleep(0)
    await consumer
    return n_events / (time.perf_counter() - t0)


def best_of(runs: int, fn, *args):  # type: ignore[no-untyped-def]
    return max(asyncio.run(fn(*args)) for _ in range(runs))


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000, help="events per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the best is kept")
    args = parser.parse_args()

    one = best_of(args.runs, bus_throughput, args.events, 1)
    ten = best_of(args.runs, bus_throughput, args.events // 5, 10)
    floor = best_of(args.runs, queue_throughput, args.events)
    lat_single = asyncio.run(bus_latency(50_000, 1))
    lat_burst = asyncio.run(bus_latency(args.events, 100))

    table = Table(title="event bus (one asyncio loop, one core)")
    for col in ("workload", "smartev EventBus", "asyncio.Queue floor", "target"):
        table.add_column(col, justify="right")
    table.add_row("events/s, 1 subscriber", f"{one:,.0f}", f"{floor:,.0f}", ">= 300,000")
    table.add_row("events/s, 10 subscribers", f"{ten:,.0f}", "", "")
    table.add_row("deliveries/s, 10 subscribers", f"{ten * 10:,.0f}", "", "")
    for label, lat in (("1 event per loop turn", lat_single), ("bursts of 100", lat_burst)):
        table.add_row(
            f"latency p50 / p99 µs, {label}",
            f"{percentile(lat, 50):.1f} / {percentile(lat, 99):.1f}",
            "",
            "",
        )
    Console(width=110).print(table)
    print(
        json.dumps(
            {
                "events_per_s_1sub": round(one),
                "events_per_s_10sub": round(ten),
                "deliveries_per_s_10sub": round(ten * 10),
                "p50_us": round(percentile(lat_burst, 50), 1),
                "p99_us": round(percentile(lat_burst, 99), 1),
                "p99_us_single_event": round(percentile(lat_single, 99), 1),
                "asyncio_queue_events_per_s": round(floor),
            }
        )
    )


if __name__ == "__main__":
    main()
