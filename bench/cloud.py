"""The cloud under a fleet: telemetry ingest with drive/charge derivation, live-state freshness,
and the live-state and history endpoints' request rates, on SQLite and on PostgreSQL.

    python bench/cloud.py [--cars 1000] [--seconds 30] [--database sqlite|postgresql|both]
                          [--quick]

Three processes on this machine's two cores: the cloud (the app as ``smartev up`` builds it:
gateway, SQL telemetry store with session detection, live hub; SQLite with synchronous=FULL, or
a local PostgreSQL on disk with fsync on), the fleet (one event loop, every car with its own
authenticated link, sending one batch of ~14 signals per second, staggered over the second,
while driving, parking and charging), and this process, which watches.

- **ingest**: batches acked per second, and the ack latency (send → Ack, i.e. committed);
- **freshness**: the owner of 10 of the cars holds the live WebSocket; freshness is the time from
  a sample's timestamp (taken when the car sent it) to its arrival on that socket, p50/p99;
- **state_rps / history_rps**: afterwards, 32 concurrent clients in a fourth process (HTTP/1.1
  keep-alive) ask ``GET /cars/{id}/state`` or ``GET /cars/{id}/history`` (SoC over the last day,
  1-minute buckets) of random cars for 10 s.

Target (issue 6): 1,000 cars reporting once per second sustained with p99 freshness under 1 s.
No anchor runs here (TeslaMate needs Elixir and PostgreSQL with its own schema); the table shows
the target beside the figures. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-" + "k" * 40
PASSWORD = "bench password 1"
WATCHED = 10  # cars of the watching owner
TARGET_CARS = 1000
TARGET_FRESHNESS_P99_MS = 1000.0
CAR = "BENCH{:06d}"
# Munich, Marienplatz: where the fleet drives around.
LAT0, LON0 = 48.1374, 11.5755


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


# ── the cloud (child process) ───────────────────────────────────────────────────────────────


def serve(data_dir: Path, url: str, port: int) -> None:
    import uvicorn

    from smartev.cloud.service import build_cloud
    from smartev.core.bus import EventBus
    from smartev.core.clock import RealClock
    from smartev.core.config import Settings

    settings = Settings(data_dir=data_dir, database_url=url, secret_key=SECRET, log_level="warning")

    async def main() -> None:
        async with EventBus() as bus, build_cloud(settings, RealClock(), bus) as cloud:
            config = uvicorn.Config(
                cloud.app, host="127.0.0.1", port=port, log_level="warning", access_log=False
            )
            await uvicorn.Server(config).serve()

    asyncio.run(main())


# ── the fleet (child process) ───────────────────────────────────────────────────────────────


class Car:
    """A car's state as it would report it: drives for a while, parks, plugs in and charges."""

    def __init__(self, index: int, rng: random.Random) -> None:
        self.rng = rng
        self.lat = LAT0 + rng.uniform(-0.05, 0.05)
        self.lon = LON0 + rng.uniform(-0.05, 0.05)
        self.soc = rng.uniform(30, 90)
        self.odometer_m = rng.uniform(1e6, 5e7)
        self.mode = rng.choice(("driving", "parked", "charging"))
        self.mode_left_s = rng.uniform(30, 300)
        self.speed = 0.0
        self.heading = rng.uniform(0, 360)

    def step(self, dt: float) -> dict[str, object]:
        self.mode_left_s -= dt
        if self.mode_left_s <= 0:
            self.mode = {"driving": "parked", "parked": "charging", "charging": "driving"}[
                self.mode
            ]
            self.mode_left_s = self.rng.uniform(60, 600)
        power_w = 300.0
        charging = self.mode == "charging"
        if self.mode == "driving":
            self.speed = max(0.0, min(130.0, self.speed + self.rng.uniform(-8, 9)))
            metres = self.speed / 3.6 * dt
            self.odometer_m += metres
            self.heading = (self.heading + self.rng.uniform(-10, 10)) % 360
            self.lat += metres / 111_000 * math.cos(math.radians(self.heading))
            self.lon += metres / 74_000 * math.sin(math.radians(self.heading))
            power_w = 2000 + self.speed * 150
            self.soc = max(5.0, self.soc - power_w * dt / 3600 / 750)
        else:
            self.speed = 0.0
            if charging:
                power_w = -11_000.0
                self.soc = min(100.0, self.soc + 11 * dt / 3600 / 0.75)
        battery = "Vehicle.Powertrain.TractionBattery"
        return {
            "Vehicle.Speed": round(self.speed, 1),
            "Vehicle.IsMoving": self.speed > 0.1,
            "Vehicle.TraveledDistance": int(self.odometer_m),
            "Vehicle.CurrentLocation.Latitude": round(self.lat, 6),
            "Vehicle.CurrentLocation.Longitude": round(self.lon, 6),
            "Vehicle.CurrentLocation.Heading": round(self.heading, 1),
            f"{battery}.StateOfCharge.Current": round(self.soc, 3),
            f"{battery}.CurrentPower": round(power_w, 1),
            f"{battery}.Charging.IsCharging": charging,
            f"{battery}.Charging.ChargingPort.AnyPosition.IsChargingCableConnected": charging,
            f"{battery}.Charging.AveragePower": 11.0 if charging else 0.0,
            f"{battery}.Range": int(self.soc * 5000),
            f"{battery}.Temperature.Average": round(25 + self.rng.uniform(-1, 1), 1),
            "Vehicle.Exterior.AirTemperature": 12.5,
        }


async def run_fleet(url: str, keys: dict[str, str], seconds: float) -> dict[str, Any]:
    import websockets
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from smartev.link import (
        PROTOCOL_VERSION,
        Ack,
        Hello,
        Proof,
        Sample,
        TelemetryBatch,
        Welcome,
        decode,
        encode,
    )
    from smartev.link.proof import sign_proof

    latencies: list[float] = []
    late: list[float] = []
    sent = acked = 0
    failures: list[str] = []
    stop_at = time.monotonic() + seconds + 15  # + time for every car to connect
    measure_from = [math.inf]

    async def car(index: int, car_id: str, key_hex: str) -> None:
        nonlocal sent, acked
        rng = random.Random(index)
        state = Car(index, rng)
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key_hex))
        epoch = os.urandom(16)
        await asyncio.sleep(index * 0.004)  # ~250 handshakes per second
        try:
            async with websockets.connect(url, max_size=2**20, compression=None) as ws:
                await ws.send(encode(Hello(car_id, PROTOCOL_VERSION, "bench", epoch, None)))
                challenge = decode(await ws.recv())
                nonce = challenge.nonce  # type: ignore[attr-defined]
                await ws.send(encode(Proof(sign_proof(key, car_id, epoch, nonce))))
                welcome = decode(await ws.recv())
                assert isinstance(welcome, Welcome), welcome
                seq = welcome.resume_from_seq
                pending: dict[int, float] = {}

                async def read_acks() -> None:
                    nonlocal acked
                    async for frame in ws:
                        message = decode(frame)  # type: ignore[arg-type]
                        if isinstance(message, Ack):
                            now = time.monotonic()
                            for top in [s for s in pending if s <= message.up_to_seq]:
                                sent_at = pending.pop(top)
                                if sent_at >= measure_from[0]:
                                    latencies.append(now - sent_at)
                                    acked += 1

                reader = asyncio.create_task(read_acks())
                phase = rng.random()  # each car its own moment in the second
                next_at = math.ceil(time.monotonic()) + phase
                while time.monotonic() < stop_at:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    now = time.monotonic()
                    if now >= measure_from[0]:
                        late.append(now - next_at)
                    next_at += 1.0
                    ts_us = int(time.time() * 1_000_000)
                    values = state.step(1.0)
                    first = seq + 1
                    samples = tuple(
                        Sample(first + i, ts_us, path, value)  # type: ignore[arg-type]
                        for i, (path, value) in enumerate(values.items())
                    )
                    seq += len(samples)
                    pending[seq] = now
                    await ws.send(encode(TelemetryBatch(first, samples)))
                    if now >= measure_from[0]:
                        sent += 1
                reader.cancel()
        except Exception as exc:  # reported, not raised: one broken car must not stop the run
            failures.append(f"{car_id}: {type(exc).__name__}: {exc}")

    tasks = [
        asyncio.create_task(car(i, car_id, key)) for i, (car_id, key) in enumerate(keys.items())
    ]
    connect_s = len(keys) * 0.004 + 5
    await asyncio.sleep(connect_s)
    measure_from[0] = time.monotonic()
    started = time.monotonic()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    return {
        "sent": sent,
        "acked": acked,
        "elapsed_s": elapsed,
        "ack_p50_ms": pct(latencies, 50) * 1000,
        "ack_p99_ms": pct(latencies, 99) * 1000,
        "send_late_p99_ms": pct(late, 99) * 1000,
        "failures": failures[:5],
        "failed_cars": len(failures),
    }


# ── HTTP load (child process) ──────────────────────────────────────────────────────────────


async def run_http(base: str, token: str, paths: list[str], seconds: float) -> dict[str, Any]:
    import httpx2

    latencies: list[float] = []
    errors: dict[int, int] = {}
    stop_at = time.monotonic() + seconds
    limits = httpx2.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx2.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as client:

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < stop_at:
                t0 = time.monotonic()
                response = await client.get(rng.choice(paths))
                latencies.append(time.monotonic() - t0)
                if response.status_code != 200:
                    errors[response.status_code] = errors.get(response.status_code, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(32)))
        elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "errors": errors,
    }


# ── the run (this process) ─────────────────────────────────────────────────────────────────


def provision(data_dir: Path, url: str, n_cars: int) -> tuple[Path, list[str]]:
    """Cars with keys registered, owners with households; returns the fleet's key file and
    the watching owner's car ids."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )
    from sqlalchemy import insert

    from smartev.cloud import schema as t
    from smartev.cloud.auth import Accounts
    from smartev.cloud.car_keys import CarKeyDirectory
    from smartev.cloud.db import Database
    from smartev.cloud.households import create_household
    from smartev.core.clock import RealClock
    from smartev.vehicle.car_key import public_pem

    db = Database(url)
    accounts = Accounts(SECRET, RealClock())
    directory = CarKeyDirectory(data_dir / "cars")
    keys: dict[str, str] = {}
    now = int(time.time() * 1e6)
    cars_per_owner = WATCHED
    with db.begin() as c:
        households: list[str] = []
        for owner in range(math.ceil(n_cars / cars_per_owner)):
            user_id = accounts.sign_up(c, f"owner{owner}@example.com", PASSWORD, f"Owner {owner}")
            household_id = create_household(c, owner_id=user_id, name="home", now_us=now)
            households.append(household_id)
        rows = []
        for i in range(n_cars):
            car_id = CAR.format(i)
            key = Ed25519PrivateKey.generate()
            directory.register(car_id, public_pem(key))
            keys[car_id] = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
            rows.append(
                {
                    "id": car_id,
                    "household_id": households[i // cars_per_owner],
                    "name": car_id,
                    "paired_us": now,
                }
            )
        c.execute(insert(t.car), rows)
    db.close()
    keys_file = data_dir / "fleet-keys.json"
    keys_file.write_text(json.dumps(keys))
    return keys_file, [CAR.format(i) for i in range(min(WATCHED, n_cars))]


def log_in(base: str, email: str) -> str:
    import httpx2

    r = httpx2.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


async def watch(base: str, token: str, seconds: float) -> list[float]:
    """Freshness of the state messages on the owner's live socket, in seconds."""
    import websockets

    fresh: list[float] = []
    url = base.replace("http://", "ws://") + "/api/v1/live"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        stop_at = time.monotonic() + seconds
        while (left := stop_at - time.monotonic()) > 0:
            try:
                frame = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            message = json.loads(frame)
            if message.get("type") != "state":
                continue
            now = time.time()
            newest = max((s["ts"] for s in message["signals"] if "ts" in s), default=None, key=str)
            if newest is not None:
                from datetime import datetime

                ts = datetime.fromisoformat(newest.replace("Z", "+00:00")).timestamp()
                fresh.append(now - ts)
    return fresh


@contextlib.contextmanager
def database(kind: str, scratch: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{scratch / 'cloud.db'}"
        return
    from tests.pg import find_bin_dir, running_cluster, temporary_database

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (make services installs it)")
    with (
        running_cluster(bin_dir, durable=True) as cluster,
        temporary_database(cluster.url()) as url,
    ):
        yield url


def child(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def wait_up(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    import httpx2

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the cloud exited at start; see its log")
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("the cloud did not start")


def run_one(kind: str, n_cars: int, seconds: float, http_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="smartev-bench-cloud-") as tmp:
        scratch = Path(tmp)
        log = scratch / "processes.log"
        with database(kind, scratch) as url:
            keys_file, watched = provision(scratch, url, n_cars)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            cloud = child(["--serve", str(scratch), url, str(port)], log)
            try:
                wait_up(base, cloud)
                token = log_in(base, "owner0@example.com")
                fleet_report = scratch / "fleet.json"
                fleet = child(
                    [
                        "--fleet",
                        base.replace("http://", "ws://") + "/link/v1",
                        str(keys_file),
                        str(seconds),
                        str(fleet_report),
                    ],
                    log,
                )
                connect_s = n_cars * 0.004 + 5
                time.sleep(connect_s)
                fresh = asyncio.run(watch(base, token, seconds))
                fleet.wait(timeout=seconds + 120)
                ingest = json.loads(fleet_report.read_text())
                results = {}
                for name, path in (
                    ("state", "/api/v1/cars/{}/state"),
                    (
                        "history",
                        "/api/v1/cars/{}/history?path=Vehicle.Powertrain.TractionBattery."
                        "StateOfCharge.Current&resolution=1m&start={}&end={}",
                    ),
                ):
                    end = time.time()
                    iso = lambda ts: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))  # noqa: E731
                    paths = [path.format(car, iso(end - 86400), iso(end)) for car in watched]
                    report = scratch / f"{name}.json"
                    load = child(
                        ["--http", base, token, json.dumps(paths), str(http_s), str(report)], log
                    )
                    load.wait(timeout=http_s + 60)
                    results[name] = json.loads(report.read_text())
            finally:
                for proc in (cloud,):
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            tail = log.read_text(errors="replace")[-2000:]
    return {
        "database": kind,
        "cars": n_cars,
        "ingest": ingest,
        "fresh_p50_ms": pct(fresh, 50) * 1000,
        "fresh_p99_ms": pct(fresh, 99) * 1000,
        "fresh_n": len(fresh),
        "http": results,
        "log_tail": tail if ingest["failed_cars"] else "",
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--fleet":
        keys = json.loads(Path(sys.argv[3]).read_text())
        result = asyncio.run(run_fleet(sys.argv[2], keys, float(sys.argv[4])))
        Path(sys.argv[5]).write_text(json.dumps(result))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--http":
        result = asyncio.run(
            run_http(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), float(sys.argv[5]))
        )
        Path(sys.argv[6]).write_text(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=TARGET_CARS)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="100 cars, 10 s, 3 s of HTTP")
    args = parser.parse_args()
    n_cars, seconds, http_s = args.cars, args.seconds, 10.0
    if args.quick:
        n_cars, seconds, http_s = 100, 10.0, 3.0
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    from rich.console import Console
    from rich.table import Table

    console = Console()
    runs = []
    for kind in kinds:
        console.print(f"[bold]{kind}[/]: {n_cars} cars for {seconds:g} s …")
        runs.append(run_one(kind, n_cars, seconds, http_s))
    table = Table(
        title=f"cloud under {n_cars} cars, 1 batch/s each (target: 1,000 cars, p99 < 1 s)"
    )
    for column in ("measure", *kinds, "target"):
        table.add_column(column, justify="right")
    rows = [
        (
            "batches acked / s",
            lambda r: f"{r['ingest']['acked'] / r['ingest']['elapsed_s']:,.0f}",
            f"{TARGET_CARS:,}",
        ),
        (
            "ack p50 / p99 ms",
            lambda r: f"{r['ingest']['ack_p50_ms']:.0f} / {r['ingest']['ack_p99_ms']:.0f}",
            "",
        ),
        ("send late p99 ms", lambda r: f"{r['ingest']['send_late_p99_ms']:.0f}", ""),
        ("cars failed", lambda r: str(r["ingest"]["failed_cars"]), "0"),
        (
            "freshness p50 / p99 ms",
            lambda r: f"{r['fresh_p50_ms']:.0f} / {r['fresh_p99_ms']:.0f}",
            "p99 < 1,000",
        ),
        ("live messages seen", lambda r: str(r["fresh_n"]), ""),
        (
            "state req/s (p99 ms)",
            lambda r: f"{r['http']['state']['rps']:,.0f} ({r['http']['state']['p99_ms']:.0f})",
            "",
        ),
        (
            "history req/s (p99 ms)",
            lambda r: f"{r['http']['history']['rps']:,.0f} ({r['http']['history']['p99_ms']:.0f})",
            "",
        ),
    ]
    for label, cell, target in rows:
        table.add_row(label, *(cell(r) for r in runs), target)
    console.print(table)
    for r in runs:
        if r["log_tail"]:
            console.print(
                f"[red]{r['database']}: failures[/] {r['ingest']['failures']}\n{r['log_tail']}"
            )
        errors = {k: v["errors"] for k, v in r["http"].items() if v["errors"]}
        if errors:
            console.print(f"[red]{r['database']}: HTTP errors[/] {errors}")
    # The JSON line: the sustained run on the first database, with the other beside it.
    first = runs[0]
    summary = {
        "database": first["database"],
        "ingest_cars": n_cars
        if first["ingest"]["failed_cars"] == 0
        and first["ingest"]["acked"] >= 0.95 * n_cars * first["ingest"]["elapsed_s"]
        else round(first["ingest"]["acked"] / first["ingest"]["elapsed_s"]),
        "freshness_p99_ms": round(first["fresh_p99_ms"], 1),
        "state_rps": round(first["http"]["state"]["rps"]),
        "history_rps": round(first["http"]["history"]["rps"]),
        "ack_p99_ms": round(first["ingest"]["ack_p99_ms"], 1),
        "runs": [
            {
                "database": r["database"],
                "batches_per_s": round(r["ingest"]["acked"] / r["ingest"]["elapsed_s"]),
                "freshness_p99_ms": round(r["fresh_p99_ms"], 1),
                "state_rps": round(r["http"]["state"]["rps"]),
                "history_rps": round(r["http"]["history"]["rps"]),
            }
            for r in runs
        ],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
