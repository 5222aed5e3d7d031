"""Composition of one simulated car: the simulator, the signal broker with its value store, the
simulated car as the broker's provider, and the KUKSA gRPC API, run until told to stop.

With ``resume`` a car starts where its value store says it was when it stopped (position,
heading, SoC, odometer, charge limit): a restarted car does not teleport home.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from smartev.core.clock import Clock
from smartev.link import PairingOffer
from smartev.link.pairing import PAIRING_TTL_S, new_pairing_code, pairing_code_sha256
from smartev.sim.car import SimulatedCar
from smartev.sim.cycles import DriveCycle
from smartev.sim.errors import SimError
from smartev.sim.spec import VehicleSpec
from smartev.sim_provider import SimulatedCarProvider
from smartev.spec import Catalog
from smartev.vehicle.broker import Broker
from smartev.vehicle.car_key import load_or_create_car_key
from smartev.vehicle.command_service import CommandService
from smartev.vehicle.commands import CommandVerifier
from smartev.vehicle.grpc_server import start_grpc_server
from smartev.vehicle.keyring_file import load_key_ring
from smartev.vehicle.store import Stored, ValueStore
from smartev.vehicle.telemetry import DEFAULT_TELEMETRY_POLICY, TelemetrySampler, pump_broker
from smartev.vehicle.telemetry_buffer import TelemetryBuffer
from smartev.vehicle.uplink import Uplink, websocket_connector

log = logging.getLogger(__name__)

DEFAULT_VIN = "LSJWH4097PN000001"
DEFAULT_PLACE = (48.1372, 11.5755)  # Munich, Marienplatz
PARK_BETWEEN_TRIPS_S = 600.0
VALUES_FILE = "car-values.db"
_BATTERY = "Vehicle.Powertrain.TractionBattery"


@dataclass(frozen=True, slots=True)
class CarNodeConfig:
    spec: VehicleSpec
    catalog: Catalog
    data_dir: Path
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 55555
    vin: str = DEFAULT_VIN
    cycle: DriveCycle | None = None
    jwt_public_key: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    start: tuple[float, float] = DEFAULT_PLACE
    soc: float = 0.8
    cloud_url: str | None = None  # ws(s)://…/link/v1: stream telemetry to the cloud
    cloud_ca: Path | None = None  # CA file for a wss:// cloud with its own certificate
    pairing_code: bool = False  # show a one-time code the owner enters in the app to pair
    # Simulated seconds of silence after which the simulator's values count as stale. On a
    # sped-up clock give it more: 10 s at 60x is 0.17 s of real time, less than a busy event
    # loop may stall, and stale speed makes the car refuse to unlock (safety first).
    liveness_timeout_s: float = 10.0
    # Start where the value store says the car was (``start`` and ``soc`` when it knows nothing).
    resume: bool = False


@dataclass(frozen=True, slots=True)
class StoredCar:
    """Where the car was and what it had, as its value store kept it."""

    lat: float
    lon: float
    heading_deg: float
    soc: float  # 0..1
    odometer_m: float
    charge_limit: float | None  # 0..1


def stored_car(values: Mapping[str, Stored]) -> StoredCar | None:
    """The car's last state from its stored signal values (in the units
    :func:`smartev.sim_provider.state_to_vss` writes); None without a position and SoC."""

    def number(path: str, low: float, high: float) -> float | None:
        value = values.get(path, (None, 0.0))[0]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if low <= value <= high else None

    lat = number("Vehicle.CurrentLocation.Latitude", -90, 90)
    lon = number("Vehicle.CurrentLocation.Longitude", -180, 180)
    soc_pct = number(f"{_BATTERY}.StateOfCharge.Current", 0, 100)
    if lat is None or lon is None or soc_pct is None:
        return None
    limit_pct = number(f"{_BATTERY}.Charging.ChargeLimit", 0, 100)
    return StoredCar(
        lat=lat,
        lon=lon,
        heading_deg=number("Vehicle.CurrentLocation.Heading", 0, 360) or 0.0,
        soc=soc_pct / 100.0,
        odometer_m=number("Vehicle.TraveledDistance", 0, 1e10) or 0.0,
        charge_limit=None if limit_pct is None else limit_pct / 100.0,
    )


def last_stored_time(data_dir: Path) -> float | None:
    """The newest time (epoch seconds) of any value the car in ``data_dir`` stored, or None:
    a clock restarted earlier than this would stamp new values before old ones."""
    path = data_dir / VALUES_FILE
    if not path.exists():
        return None
    store = ValueStore(path)
    try:
        return max((ts for _, ts in store.load().values()), default=None)
    finally:
        store.close()


def _make_car(config: CarNodeConfig, clock: Clock, values: Mapping[str, Stored]) -> SimulatedCar:
    stored = stored_car(values) if config.resume else None
    if stored is None:
        return SimulatedCar(
            config.spec,
            clock=clock,
            start_lat=config.start[0],
            start_lon=config.start[1],
            soc=config.soc,
        )
    car = SimulatedCar(
        config.spec,
        clock=clock,
        start_lat=stored.lat,
        start_lon=stored.lon,
        heading_deg=stored.heading_deg,
        soc=stored.soc,
        odometer_m=stored.odometer_m,
    )
    if stored.charge_limit is not None:
        try:
            car.set_charge_limit(stored.charge_limit)
        except SimError:
            log.warning(
                "stored charge limit %s no longer fits the car: not kept", stored.charge_limit
            )
    log.info(
        "car %s resumes at %.5f, %.5f with SoC %.1f %%",
        config.vin,
        stored.lat,
        stored.lon,
        stored.soc * 100,
    )
    return car


async def _drive_on_repeat(car: SimulatedCar, cycle: DriveCycle, clock: Clock) -> None:
    """Drive the cycle, park a while, drive it again: a car that keeps living."""
    while True:
        if car.state.activity == "parked" and not car.state.plugged_in:
            car.drive(cycle)
        await clock.sleep(cycle.duration_s + PARK_BETWEEN_TRIPS_S)


async def run_car_node(
    config: CarNodeConfig,
    clock: Clock,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[str], None] = lambda _: None,
    on_pairing_code: Callable[[str, datetime], None] = lambda code, until: None,
    on_car: Callable[[SimulatedCar], None] = lambda car: None,
) -> None:
    """Run the car until ``stop`` is set; ``on_ready`` hears the gRPC address once it listens,
    ``on_pairing_code`` the code to show and until when it is valid (with ``pairing_code``).
    ``on_car`` gets the simulated car as soon as it exists, before it reports its first state
    (the composition drives it, plugs it in)."""
    store = ValueStore(config.data_dir / VALUES_FILE)
    car = _make_car(config, clock, store.load() if config.resume else {})
    broker = Broker(config.catalog, clock=clock, store=store)
    on_car(car)
    provider = SimulatedCarProvider(
        car, broker, vin=config.vin, liveness_timeout_s=config.liveness_timeout_s
    )
    server = await start_grpc_server(
        broker,
        host=config.grpc_host,
        port=config.grpc_port,
        jwt_public_key=config.jwt_public_key,
        tls_cert=config.tls_cert,
        tls_key=config.tls_key,
    )
    tasks = [
        asyncio.create_task(broker.run(), name="broker"),
        asyncio.create_task(car.run(on_state=provider.on_state), name="car"),
    ]
    if config.cycle is not None:
        tasks.append(asyncio.create_task(_drive_on_repeat(car, config.cycle, clock)))
    buffer: TelemetryBuffer | None = None
    if config.cloud_url is not None:
        buffer = TelemetryBuffer(config.data_dir / "telemetry.db", clock=clock)
        epoch = os.urandom(16)  # new each boot: commands signed for an earlier boot are refused
        verifier = CommandVerifier(config.vin, load_key_ring(config.data_dir), epoch, clock)
        uplink = Uplink(
            car_id=config.vin,
            private_key=load_or_create_car_key(config.data_dir),
            epoch=epoch,
            buffer=buffer,
            clock=clock,
            on_command=CommandService(verifier, broker, clock).handle,
        )
        sampler = TelemetrySampler(DEFAULT_TELEMETRY_POLICY, clock)
        tasks.append(asyncio.create_task(pump_broker(broker, ["Vehicle"], sampler, buffer, clock)))
        connect = websocket_connector(
            config.cloud_url, ca_file=str(config.cloud_ca) if config.cloud_ca else None
        )
        tasks.append(asyncio.create_task(uplink.run(connect)))
        if config.pairing_code:
            code = new_pairing_code()
            expires_at_us = int((clock.timestamp() + PAIRING_TTL_S) * 1_000_000)
            uplink.offer_pairing(PairingOffer(pairing_code_sha256(code), expires_at_us))
            on_pairing_code(code, datetime.fromtimestamp(expires_at_us / 1e6, UTC))
    try:
        on_ready(server.target)
        waiting = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiting and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        waiting.cancel()
    finally:
        await server.stop(0.5)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        provider.close()
        broker.flush()
        store.close()
        if buffer is not None:
            buffer.close()
