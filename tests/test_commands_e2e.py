"""Signed commands from a user's key, relayed by the cloud, verified and carried out by the car."""

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud.app import create_app
from smartev.cloud.commands import CommandRelay
from smartev.cloud.db import Database, default_url
from smartev.cloud.gateway import LinkGateway
from smartev.cloud.telemetry import SqlTelemetryStore
from smartev.core.bus import EventBus
from smartev.core.clock import RealClock
from smartev.core.config import Settings
from smartev.link.signing import (
    KeyAlgorithm,
    SignedCommand,
    decode_envelope,
    encode_envelope,
    generate_key,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)
from smartev.spec import shipped_catalog
from smartev.vehicle.actuation import ActuationRequest
from smartev.vehicle.broker import Broker
from smartev.vehicle.command_service import CommandService
from smartev.vehicle.commands import CommandVerifier
from smartev.vehicle.keyring import KeyRing
from smartev.vehicle.telemetry_buffer import TelemetryBuffer
from smartev.vehicle.uplink import Uplink, websocket_connector
from tests.net import free_port

CAR = "LSJWH4097PN000001"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"


class World:
    """A cloud on a real port and a car connected to it, in one event loop."""

    def __init__(self, tmp: Path) -> None:
        clock = RealClock()
        self.clock = clock
        car_key = Ed25519PrivateKey.generate()
        self.db = Database(default_url(tmp))
        self.store = SqlTelemetryStore(self.db, clock=clock)
        self.gateway = LinkGateway(
            store=self.store,
            car_keys=lambda car: car_key.public_key() if car == CAR else None,
            clock=clock,
        )
        self.port = free_port()
        app = create_app(Settings(data_dir=tmp), clock, EventBus(), link=self.gateway, db=self.db)
        # The app stores commands in its database and wires the gateway to them.
        self.relay: CommandRelay = app.state.ctx.commands
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        # The car: a broker whose door provider does what it is asked.
        self.broker = Broker(shipped_catalog(), clock=clock, actuation_timeout_s=5)
        self.provider = self.broker.register_provider(
            "body",
            sensors=["Vehicle.Speed"],
            actuators=["Vehicle.Cabin.Door"],
            on_actuate=self._execute,
        )
        self.provider.publish({"Vehicle.Speed": 0.0})
        self.owner = generate_key(KeyAlgorithm.ED25519)
        ring = KeyRing()
        ring.pair_owner(public_key_bytes(self.owner), "owner phone", int(clock.timestamp() * 1e6))
        self.epoch = os.urandom(16)
        self.verifier = CommandVerifier(CAR, ring, self.epoch, clock)
        self.buffer = TelemetryBuffer(tmp / "car.db", clock=clock)
        self.uplink = Uplink(
            car_id=CAR,
            private_key=car_key,
            epoch=self.epoch,
            buffer=self.buffer,
            clock=clock,
            on_command=CommandService(self.verifier, self.broker, clock).handle,
        )
        self.counter = 0
        self.connect = websocket_connector(f"ws://127.0.0.1:{self.port}/link/v1")
        self.car_task: asyncio.Task[None] | None = None

    def _execute(self, request: ActuationRequest) -> None:
        asyncio.get_running_loop().call_later(
            0.05, self.provider.publish, {request.path: request.value}
        )

    def signed(
        self, name: str, args: dict[str, object] | None = None, ttl_s: float = 5.0
    ) -> SignedCommand:
        self.counter += 1
        command = make_command(
            car_id=CAR,
            name=name,
            args=args or {},
            epoch=self.epoch,
            counter=self.counter,  # type: ignore[arg-type]
            key_id=key_id(public_key_bytes(self.owner)),
            now_us=int(self.clock.timestamp() * 1e6),
            ttl_s=ttl_s,
        )
        return sign_command(self.owner, command)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    serving = asyncio.create_task(w.server.serve())
    while not w.server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    w.car_task = asyncio.create_task(w.uplink.run(w.connect))
    await asyncio.wait_for(w.uplink.connected.wait(), 10)
    yield w
    w.car_task.cancel()
    w.server.should_exit = True
    await serving
    w.buffer.close()
    w.db.close()


def states(record: object) -> list[str]:
    return [s[0] for s in record.states]  # type: ignore[attr-defined]


async def test_a_signed_command_goes_through_every_state(world: World) -> None:
    record = world.relay.submit(CAR, encode_envelope(world.signed("door.lock")))
    done = await asyncio.wait_for(world.relay.wait_final(record.command_id), 10)
    assert states(done) == ["requested", "delivered", "accepted", "executed"]
    assert world.broker.get(LOCK).value is True
    times = [s[1] for s in done.states]
    assert times == sorted(times)


async def test_a_command_altered_in_the_cloud_is_rejected_by_the_car(world: World) -> None:
    genuine = world.signed("door.lock")
    forged_command = dataclasses.replace(genuine.command, name="door.unlock")
    forged = encode_envelope(SignedCommand(forged_command, genuine.signature))
    assert decode_envelope(forged).command.name == "door.unlock"  # well formed, wrongly signed
    record = world.relay.submit(CAR, forged)
    done = await asyncio.wait_for(world.relay.wait_final(record.command_id), 10)
    assert states(done)[-1] == "rejected"
    assert done.states[-1][2] == "bad_signature"
    assert world.broker.get(LOCK).value is None  # nothing reached the doors


async def test_replayed_and_expired_commands_are_rejected(world: World) -> None:
    envelope = encode_envelope(world.signed("door.lock"))
    first = world.relay.submit(CAR, envelope)
    await asyncio.wait_for(world.relay.wait_final(first.command_id), 10)
    again = world.relay.submit(CAR, envelope)
    done = await asyncio.wait_for(world.relay.wait_final(again.command_id), 10)
    assert (done.state, done.states[-1][2]) == ("rejected", "replayed")
    # Sent after its expiry: the cloud does not even deliver it.
    late = encode_envelope(world.signed("door.unlock", ttl_s=0.2))
    await asyncio.sleep(0.3)
    record = world.relay.submit(CAR, late)
    assert states(record) == ["requested", "expired"]


async def test_an_offline_car_gets_the_command_when_it_reconnects(world: World) -> None:
    assert world.car_task is not None
    world.car_task.cancel()
    while world.gateway.sessions:  # noqa: ASYNC110 - the gateway notices the closed socket
        await asyncio.sleep(0.01)
    record = world.relay.submit(CAR, encode_envelope(world.signed("door.lock", ttl_s=30)))
    await asyncio.sleep(0.2)
    assert states(record) == ["requested"]  # waiting for the car
    world.car_task = asyncio.create_task(world.uplink.run(world.connect))
    done = await asyncio.wait_for(world.relay.wait_final(record.command_id), 10)
    assert states(done) == ["requested", "delivered", "accepted", "executed"]
