"""What the car, command and live tests share: people with households and roles, a car paired
into a household, a car on the real link, and signed commands from an owner's key."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, update

from smartev.cloud import schema as t
from smartev.cloud.db import Database
from smartev.cloud.gateway import LinkGateway
from smartev.cloud.telemetry import SqlTelemetryStore
from smartev.core.clock import Clock, SimClock
from smartev.link.signing import (
    KeyAlgorithm,
    PrivateKey,
    encode_envelope,
    generate_key,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)
from smartev.vehicle.telemetry_buffer import TelemetryBuffer
from smartev.vehicle.uplink import CommandHandler, Uplink, websocket_connector
from tests.cloud.server import RunningCloud

CAR = "LSJWH4097PN000001"
OTHER_CAR = "LSJWH4097PN000002"


@dataclass
class Person:
    token: str
    user_id: str
    household_id: str  # the one they own (made at sign-up)


def person(cloud: RunningCloud, email: str, name: str = "Test") -> Person:
    token = cloud.sign_up(email, name)
    with cloud.client(token) as c:
        me = c.get("/api/v1/auth/me").json()
    own = next(h["id"] for h in me["households"] if h["role"] == "owner")
    return Person(token, me["id"], own)


def now_us(cloud: RunningCloud) -> int:
    return int(cloud.clock.timestamp() * 1_000_000)


def put_car(cloud: RunningCloud, owner: Person, car_id: str = CAR, name: str = "Blue") -> None:
    """The car in the owner's household, as if paired (the pairing tests pair for real)."""
    with cloud.ctx.db.begin() as db:
        db.execute(
            insert(t.car).values(
                id=car_id, name=name, household_id=owner.household_id, paired_us=now_us(cloud)
            )
        )


def give_role(
    cloud: RunningCloud,
    owner: Person,
    member: Person,
    role: str,
    car_id: str = CAR,
    *,
    valid_until_us: int | None = None,
) -> None:
    """Make ``member`` a member of the owner's household with ``role`` for the car."""
    with cloud.ctx.db.begin() as db:
        membership = db.execute(
            select(t.household_member.c.user_id).where(
                t.household_member.c.household_id == owner.household_id,
                t.household_member.c.user_id == member.user_id,
            )
        ).first()
        if membership is None:
            db.execute(
                insert(t.household_member).values(
                    household_id=owner.household_id,
                    user_id=member.user_id,
                    joined_us=now_us(cloud),
                )
            )
        db.execute(
            insert(t.car_grant).values(
                id=t.new_id("grt"),
                car_id=car_id,
                user_id=member.user_id,
                role=role,
                valid_until_us=valid_until_us,
                granted_by=owner.user_id,
                created_us=now_us(cloud),
            )
        )


def drop_role(cloud: RunningCloud, member: Person, car_id: str = CAR) -> None:
    with cloud.ctx.db.begin() as db:
        db.execute(
            update(t.car_grant)
            .where(t.car_grant.c.car_id == car_id, t.car_grant.c.user_id == member.user_id)
            .values(valid_until_us=0)
        )


@dataclass
class Signer:
    """A device's key that signs commands for one car boot (epoch)."""

    clock: Clock
    epoch: bytes = field(default_factory=lambda: os.urandom(16))
    key: PrivateKey = field(default_factory=lambda: generate_key(KeyAlgorithm.ED25519))
    counter: int = 0

    def envelope(
        self,
        name: str,
        args: dict[str, Any] | None = None,
        *,
        car_id: str = CAR,
        ttl_s: float = 30.0,
    ) -> bytes:
        self.counter += 1
        command = make_command(
            car_id=car_id,
            name=name,
            args=args or {},
            epoch=self.epoch,
            counter=self.counter,
            key_id=key_id(public_key_bytes(self.key)),
            now_us=int(self.clock.timestamp() * 1_000_000),
            ttl_s=ttl_s,
        )
        return encode_envelope(sign_command(self.key, command))

    def body(self, name: str, **kwargs: Any) -> dict[str, str]:
        return {"envelope": base64.b64encode(self.envelope(name, **kwargs)).decode()}


def make_gateway(db_url: str, keys: dict[str, Ed25519PrivateKey]) -> LinkGateway:
    """A gateway on the test's database that knows the given cars' keys."""
    clock = SimClock()
    store = SqlTelemetryStore(Database(db_url), clock=clock)
    return LinkGateway(
        store=store,
        car_keys=lambda car: keys[car].public_key() if car in keys else None,
        clock=clock,
    )


class LinkedCar:
    """A car's uplink to the cloud, running in the test's event loop."""

    def __init__(
        self,
        cloud: RunningCloud,
        tmp: Path,
        key: Ed25519PrivateKey,
        *,
        car_id: str = CAR,
        on_command: CommandHandler | None = None,
        epoch: bytes | None = None,
    ) -> None:
        self.buffer = TelemetryBuffer(tmp / f"{car_id}.db", clock=cloud.clock)
        self.uplink = Uplink(
            car_id=car_id,
            private_key=key,
            epoch=epoch or os.urandom(16),
            buffer=self.buffer,
            clock=cloud.clock,
            on_command=on_command,
        )
        url = cloud.base_url.replace("http://", "ws://") + "/link/v1"
        self._connect = websocket_connector(url)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.uplink.run(self._connect))
        await asyncio.wait_for(self.uplink.connected.wait(), 10)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.buffer.close()


async def eventually(predicate: Callable[[], object], within_s: float = 10.0) -> None:
    """Poll what another thread or the server changes until it holds."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - the server gives no event to wait on
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), within_s)
