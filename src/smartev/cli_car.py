"""``smartev car``: run one simulated car with its signal broker and KUKSA gRPC API."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from smartev.cli_output import fail, out
from smartev.core.errors import SmartevError

car_app = typer.Typer(
    name="car",
    help="The car's own software: a simulated car, its VSS signal broker and KUKSA gRPC API.",
    no_args_is_help=True,
)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise fail(f"--grpc {text!r} must be HOST:PORT, e.g. 127.0.0.1:55555")
    return host.strip("[]"), int(port)


@car_app.command("run")
def run(
    vehicle: Annotated[
        str, typer.Option(help="A shipped vehicle name or a spec file (YAML/JSON).")
    ] = "xiaomi-su7",
    grpc: Annotated[str, typer.Option(help="Address of the KUKSA gRPC API.")] = "127.0.0.1:55555",
    vss: Annotated[
        Path | None,
        typer.Option(help="A full VSS JSON (vss-tools) instead of the shipped signal catalog."),
    ] = None,
    speed: Annotated[
        float, typer.Option(min=0.001, max=100_000, help="Simulated seconds per real second.")
    ] = 1.0,
    cycle: Annotated[
        str | None, typer.Option(help="Drive this cycle (name or CSV) again and again.")
    ] = None,
    vin: Annotated[str, typer.Option(help="The car's VIN.")] = "LSJWH4097PN000001",
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the car keeps its last-known values.")
    ] = None,
    jwt_public_key: Annotated[
        Path | None, typer.Option(help="PEM public key: require KUKSA JWT bearer tokens.")
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    cloud: Annotated[
        str | None,
        typer.Option(help="Stream telemetry to this cloud, e.g. ws://127.0.0.1:8000/link/v1."),
    ] = None,
    cloud_ca: Annotated[
        Path | None, typer.Option(help="CA certificate to trust for a wss:// cloud.")
    ] = None,
    pairing_code: Annotated[
        bool,
        typer.Option(
            "--pairing-code",
            help="Show a one-time code (valid 10 minutes) to pair the car in the app; "
            "needs --cloud.",
        ),
    ] = False,
) -> None:
    """Start one simulated car with its broker and KUKSA-compatible gRPC API (v1 and v2).

    Stops cleanly on Ctrl-C or SIGTERM; the car's last values are kept in the data directory.
    """
    import logging
    import os
    from datetime import datetime

    # gRPC's C core prints its own copy of errors we report in one line; the user can turn it
    # back on with GRPC_VERBOSITY.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from smartev.car_node import CarNodeConfig, run_car_node
    from smartev.core.clock import SimClock
    from smartev.core.config import load_settings
    from smartev.sim.cycles import load_cycle
    from smartev.sim.spec import load_vehicle
    from smartev.spec import load_vss_json, shipped_catalog

    host, port = _host_port(grpc)
    if pairing_code and cloud is None:
        raise fail("--pairing-code needs --cloud: the code reaches the app through the cloud")
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level.upper())
        config = CarNodeConfig(
            spec=load_vehicle(vehicle),
            catalog=load_vss_json(vss) if vss is not None else shipped_catalog(),
            data_dir=data_dir or settings.data_dir,
            grpc_host=host,
            grpc_port=port,
            vin=vin,
            cycle=load_cycle(cycle) if cycle is not None else None,
            jwt_public_key=jwt_public_key.read_text() if jwt_public_key else None,
            tls_cert=tls_cert,
            tls_key=tls_key,
            cloud_url=cloud,
            cloud_ca=cloud_ca,
            pairing_code=pairing_code,
        )
    except (SmartevError, OSError) as exc:
        raise fail(str(exc)) from None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready(target: str) -> None:
            out.print(
                f"car {config.vin} ({config.spec.name}) is up: KUKSA gRPC at [bold]{target}[/]"
            )
            out.print("Press Ctrl-C to stop.")

        def show_code(code: str, until: datetime) -> None:
            out.print(
                f"pairing code [bold]{code}[/]: enter it in the app before {until:%H:%M:%S} UTC"
            )

        await run_car_node(
            config, SimClock(speed=speed), stop, on_ready=ready, on_pairing_code=show_code
        )

    try:
        asyncio.run(main())
    except SmartevError as exc:
        raise fail(str(exc)) from None
    out.print("car stopped.")


@car_app.command("provision")
def provision(
    vin: Annotated[str, typer.Option(help="The car's VIN (its id on the link).")],
    data_dir: Annotated[Path, typer.Option(help="The car's data directory (its key goes here).")],
    cloud_data_dir: Annotated[
        Path | None,
        typer.Option(help="The cloud's data directory: register the car's public key there."),
    ] = None,
) -> None:
    """Create the car's identity key (once) and register its public key with a cloud."""
    from smartev.cloud.car_keys import CarKeyDirectory
    from smartev.core.config import load_settings
    from smartev.vehicle.car_key import load_or_create_car_key, public_pem

    try:
        key = load_or_create_car_key(data_dir)
        cloud_dir = cloud_data_dir or load_settings().data_dir
        CarKeyDirectory(cloud_dir / "cars").register(vin, public_pem(key))
    except (SmartevError, OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    out.print(f"car {vin}: key in {data_dir}, registered with the cloud in {cloud_dir}")


@car_app.command("pair")
def pair(
    data_dir: Annotated[Path, typer.Option(help="The car's data directory.")],
    owner_public_key: Annotated[
        str, typer.Option(help="The owner's public key, hex (Ed25519 raw or P-256 SEC1).")
    ],
    label: Annotated[str, typer.Option(help="What the key is, e.g. 'Anna's phone'.")] = "owner",
) -> None:
    """Enroll the first owner key (in the car, never remotely); later keys need its signature."""
    import time

    from smartev.vehicle.keyring_file import load_key_ring

    try:
        ring = load_key_ring(data_dir)
        key = ring.pair_owner(bytes.fromhex(owner_public_key), label, int(time.time() * 1e6))
    except (SmartevError, ValueError) as exc:
        raise fail(str(exc)) from None
    out.print(f"owner key {key.key_id} ({label}) paired with the car in {data_dir}")
