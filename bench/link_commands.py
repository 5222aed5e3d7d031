"""Command round trip over the link: API request to ``executed``, with many connected cars.

    python bench/link_commands.py [--cars 100] [--commands 1000] [--rate 100]

The cloud (gateway + command relay) runs in this process on a loopback port; the cars run in a
second process (one event loop, each car with its own link, broker, key ring and verifier, and a
door provider that reports the asked value at once). Each command is signed by the car owner's
key for the car's current boot epoch, submitted to the relay (what the API will call), and timed
until the relay records ``executed``. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAR = "bench-car-{:03d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the cars (child process) ----------------------------------------------------------------


async def run_cars(url: str, keys: Path, n_cars: int) -> None:
    from cryptography.hazmat.primitives import serialization

    from smartev.core.clock import RealClock
    from smartev.spec import shipped_catalog
    from smartev.vehicle.actuation import ActuationRequest
    from smartev.vehicle.broker import Broker
    from smartev.vehicle.command_service import CommandService
    from smartev.vehicle.commands import CommandVerifier
    from smartev.vehicle.keyring import KeyRing
    from smartev.vehicle.telemetry_buffer import TelemetryBuffer
    from smartev.vehicle.uplink import Uplink, websocket_connector

    clock = RealClock()
    catalog = shipped_catalog()
    tasks = []
    for i in range(n_cars):
        car_id = CAR.format(i)
        broker = Broker(catalog, clock=clock, actuation_timeout_s=10)

        def executor(broker: Broker) -> object:
            def execute(request: ActuationRequest) -> None:
                provider = broker.provider_of(request.path)
                assert provider is not None
                asyncio.get_running_loop().call_soon(
                    provider.publish, {request.path: request.value}
                )

            return execute

        broker.register_provider(
            "doors",
            sensors=["Vehicle.Speed"],
            actuators=["Vehicle.Cabin.Door"],
            on_actuate=executor(broker),  # type: ignore[arg-type]
        ).publish({"Vehicle.Speed": 0.0})
        ring = KeyRing()
        owner = bytes.fromhex((keys / f"{car_id}.owner").read_text())
        ring.pair_owner(owner, "bench owner", int(time.time() * 1e6))
        epoch = os.urandom(16)
        car_key = serialization.load_pem_private_key(
            (keys / f"{car_id}.key").read_bytes(), password=None
        )
        uplink = Uplink(
            car_id=car_id,
            private_key=car_key,
            epoch=epoch,  # type: ignore[arg-type]
            buffer=TelemetryBuffer(keys / f"{car_id}.db", clock=clock),
            clock=clock,
            on_command=CommandService(
                CommandVerifier(car_id, ring, epoch, clock), broker, clock
            ).handle,
        )
        tasks.append(asyncio.create_task(uplink.run(websocket_connector(url))))
    await asyncio.gather(*tasks)


# --- the cloud and the measurement (this process) --------------------------------------------


async def measure(n_cars: int, n_commands: int, rate: float) -> list[float]:
    import uvicorn
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import insert

    from smartev.cloud import schema as t
    from smartev.cloud.app import create_app
    from smartev.cloud.db import Database, default_url
    from smartev.cloud.gateway import LinkGateway
    from smartev.cloud.telemetry import SqlTelemetryStore
    from smartev.core.bus import EventBus
    from smartev.core.clock import RealClock
    from smartev.core.config import Settings
    from smartev.link.signing import (
        KeyAlgorithm,
        encode_envelope,
        generate_key,
        key_id,
        make_command,
        public_key_bytes,
        sign_command,
    )

    tmp = Path(tempfile.mkdtemp(prefix="smartev-bench-link-"))
    clock = RealClock()
    car_keys, owners = {}, {}
    for i in range(n_cars):
        car_id = CAR.format(i)
        car_key = Ed25519PrivateKey.generate()
        car_keys[car_id] = car_key.public_key()
        (tmp / f"{car_id}.key").write_bytes(
            car_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        owners[car_id] = generate_key(KeyAlgorithm.ED25519)
        (tmp / f"{car_id}.owner").write_text(public_key_bytes(owners[car_id]).hex())
    db = Database(default_url(tmp))
    with db.begin() as c:  # the cars are known to the cloud (commands refer to them)
        c.execute(insert(t.car), [{"id": car_id, "name": car_id} for car_id in car_keys])
    gateway = LinkGateway(
        store=SqlTelemetryStore(db, clock=clock), car_keys=car_keys.get, clock=clock
    )
    app = create_app(Settings(data_dir=tmp), clock, EventBus(), link=gateway, db=db)
    relay = app.state.ctx.commands  # create_app wires it to the gateway
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    cars = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [
            sys.executable,
            __file__,
            "--cars-process",
            f"ws://127.0.0.1:{port}/link/v1",
            str(tmp),
            str(n_cars),
        ]
    )
    try:
        deadline = time.monotonic() + 120
        while len(gateway.sessions) < n_cars:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(gateway.sessions)} of {n_cars} cars connected")
            await asyncio.sleep(0.1)
        counters = dict.fromkeys(car_keys, 0)
        latencies: list[float] = []

        async def one(car_id: str) -> None:
            counters[car_id] += 1
            owner = owners[car_id]
            command = make_command(
                car_id=car_id,
                name=random.choice(["door.lock", "door.unlock"]),
                args={},
                epoch=gateway.sessions[car_id].epoch,
                counter=counters[car_id],
                key_id=key_id(public_key_bytes(owner)),
                now_us=int(time.time() * 1e6),
                ttl_s=30,
            )
            envelope = encode_envelope(sign_command(owner, command))
            t0 = time.perf_counter()
            record = await asyncio.to_thread(relay.submit, car_id, envelope)  # as the API route
            done = await relay.wait_final(record.command_id)
            if done.state == "executed":
                latencies.append((time.perf_counter() - t0) * 1000)
            else:
                print(f"command {done.command_id}: {done.states}", file=sys.stderr)

        pending = []
        start = time.perf_counter()
        for k in range(n_commands):
            pending.append(asyncio.create_task(one(CAR.format(k % n_cars))))
            delay = start + (k + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.gather(*pending)
        return latencies
    finally:
        cars.kill()
        cars.wait()
        server.should_exit = True
        await serving


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--cars-process":
        asyncio.run(run_cars(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=100)
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="commands per second")
    args = parser.parse_args()
    latencies = asyncio.run(measure(args.cars, args.commands, args.rate))
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{len(latencies)} commands executed over {args.cars} cars at {args.rate:g}/s: "
        f"p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms (target p99 < 50 ms)"
    )
    print(
        json.dumps(
            {
                "command_p50_ms": round(q[49], 2),
                "command_p99_ms": round(q[98], 2),
                "cars": args.cars,
                "commands_executed": len(latencies),
            }
        )
    )


if __name__ == "__main__":
    main()
