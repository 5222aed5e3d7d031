"""The commands API over real sockets, on SQLite and PostgreSQL: a signed command from a person's
device goes through the cloud to a car on the real link and every state is visible; what the
cloud refuses before storing; commands for an offline car wait (or expire); who sees which
commands; the database is the record across a restart of the cloud."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud import audit
from smartev.cloud.command_reasons import REASON_TEXTS
from smartev.core.clock import SimClock
from smartev.link.signing import (
    SignedCommand,
    decode_envelope,
    encode_envelope,
    public_key_bytes,
)
from smartev.spec import shipped_catalog
from smartev.vehicle.actuation import ActuationRequest
from smartev.vehicle.broker import Broker
from smartev.vehicle.command_service import CommandService
from smartev.vehicle.commands import CommandVerifier
from smartev.vehicle.keyring import KeyRing
from tests.cloud.car_helpers import (
    CAR,
    LinkedCar,
    Person,
    Signer,
    eventually,
    give_role,
    make_gateway,
    now_us,
    person,
    put_car,
)
from tests.cloud.server import RunningCloud, running_cloud

LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
FINAL = {"rejected", "executed", "failed", "expired"}


class Car:
    """A car with doors that do what they are told, verifying commands from the owner's key."""

    def __init__(self, cloud: RunningCloud, tmp: Path, key: Ed25519PrivateKey, owner: Signer):
        clock = cloud.clock
        self.broker = Broker(shipped_catalog(), clock=clock, actuation_timeout_s=5)
        self.provider = self.broker.register_provider(
            "body", sensors=["Vehicle.Speed"], actuators=["Vehicle.Cabin.Door"], on_actuate=self._do
        )
        self.provider.publish({"Vehicle.Speed": 0.0})
        ring = KeyRing()
        ring.pair_owner(public_key_bytes(owner.key), "Ada's phone", now_us(cloud))
        verifier = CommandVerifier(CAR, ring, owner.epoch, clock)
        service = CommandService(verifier, self.broker, clock)
        self.link = LinkedCar(cloud, tmp, key, on_command=service.handle, epoch=owner.epoch)

    def _do(self, request: ActuationRequest) -> None:
        asyncio.get_running_loop().call_soon(self.provider.publish, {request.path: request.value})


def post(cloud: RunningCloud, who: Person, body: dict[str, Any], car_id: str = CAR) -> Any:
    with cloud.client(who.token) as c:
        return c.post(f"/api/v1/cars/{car_id}/commands", json=body)


def get(cloud: RunningCloud, who: Person, path: str = "") -> Any:
    with cloud.client(who.token) as c:
        return c.get(f"/api/v1/cars/{CAR}/commands{path}")


async def final(cloud: RunningCloud, who: Person, command_id: str) -> dict[str, Any]:
    """The command once it reached a final state (polled over HTTP)."""
    seen: dict[str, Any] = {}

    def done() -> bool:
        seen.update(get(cloud, who, f"/{command_id}").json())
        return seen.get("state") in FINAL

    await eventually(done)
    return seen


async def test_a_command_goes_to_the_car_and_every_state_is_visible(
    db_url: str, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        put_car(cloud, ada)
        phone = Signer(cloud.clock)
        car = Car(cloud, tmp_path, key, phone)
        await car.link.start()

        r = await asyncio.to_thread(post, cloud, ada, phone.body("door.lock"))
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert accepted["name"] == "door.lock"
        assert accepted["states"][0] == {
            "state": "requested",
            "ts": "2026-06-01T08:00:00Z",
            "reason": "",
            "reason_text": None,
        }
        assert accepted["requested_by"] == ada.user_id
        done = await final(cloud, ada, accepted["id"])
        assert [s["state"] for s in done["states"]] == [
            "requested",
            "delivered",
            "accepted",
            "executed",
        ]
        assert car.broker.get(LOCK).value is True

        # Changed on the way (a forged name under the genuine signature): the car refuses it.
        genuine = decode_envelope(phone.envelope("door.lock"))
        forged = SignedCommand(
            dataclasses.replace(genuine.command, name="door.unlock"), genuine.signature
        )
        body = {"envelope": base64.b64encode(encode_envelope(forged)).decode()}
        r = await asyncio.to_thread(post, cloud, ada, body)
        assert r.status_code == 202
        done = await final(cloud, ada, r.json()["id"])
        assert done["state"] == "rejected"
        assert done["states"][-1]["reason"] == "bad_signature"
        assert done["states"][-1]["reason_text"] == REASON_TEXTS["bad_signature"]
        assert car.broker.get(LOCK).value is True  # still locked

        # The same envelope twice: the car carries it out once.
        envelope = phone.body("door.unlock")
        first = (await asyncio.to_thread(post, cloud, ada, envelope)).json()
        assert (await final(cloud, ada, first["id"]))["state"] == "executed"
        again = (await asyncio.to_thread(post, cloud, ada, envelope)).json()
        done = await final(cloud, ada, again["id"])
        assert (done["state"], done["states"][-1]["reason"]) == ("rejected", "replayed")

        with cloud.ctx.db.connect() as db:
            requested = [
                e for e in audit.events_for_car(db, CAR) if e.action == "command.requested"
            ]
        assert len(requested) == 4
        assert requested[-1].actor_id == ada.user_id
        assert requested[-1].detail == {"command_id": accepted["id"], "name": "door.lock"}
        await car.link.stop()


def test_the_cloud_refuses_what_it_can_read_before_storing(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    gus = person(cloud, "gus@example.org", "Gus")
    cam = person(cloud, "cam@example.org", "Cam")
    eve = person(cloud, "eve@example.org", "Eve")
    put_car(cloud, ada)
    give_role(cloud, ada, gus, "guest", valid_until_us=now_us(cloud) + 86_400_000_000)
    give_role(cloud, ada, cam, "charging_manager")
    phone = Signer(cloud.clock)

    def refused(who: Person, body: dict[str, Any], status: int, words: str) -> None:
        r = post(cloud, who, body)
        assert r.status_code == status, r.text
        assert words in str(r.json()["detail"])

    refused(ada, {"envelope": "not base64 at all!"}, 422, "envelope is not base64")
    refused(ada, {"envelope": base64.b64encode(b"\x93garbage").decode()}, 422, "malformed command")
    refused(ada, phone.body("door.lock", car_id="LSJWH4097PN000777"), 422, "signed for car")
    short = phone.body("door.lock", ttl_s=1)
    cloud.clock.advance(2)
    refused(ada, short, 422, "the command expired at")
    ahead = Signer(SimClock(cloud.clock.now() + timedelta(hours=1)))
    refused(ada, ahead.body("door.lock"), 422, "check the signing device's clock")
    refused(gus, phone.body("key.enroll", args={"x": 1}), 403, "(guest) does not allow")
    refused(cam, phone.body("door.unlock"), 403, "(charging_manager) does not allow the command")
    refused(eve, phone.body("door.lock"), 404, f"no car {CAR}")
    refused(ada, {"envelope": "AAAA", "extra": 1}, 422, "extra")
    refused(ada, {"envelope": "A" * 20_000}, 422, "at most")
    with cloud.client() as c:
        assert (
            c.post(f"/api/v1/cars/{CAR}/commands", json=phone.body("door.lock")).status_code == 401
        )
    assert get(cloud, ada).json() == []  # nothing was stored
    # URL-safe base64 without padding is fine too.
    url_safe = base64.urlsafe_b64encode(phone.envelope("door.lock")).decode().rstrip("=")
    assert post(cloud, gus, {"envelope": url_safe}).status_code == 202


async def test_an_offline_car_gets_waiting_commands_when_it_connects_unless_expired(
    db_url: str, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    link = make_gateway(db_url, {CAR: key})
    with running_cloud(db_url, tmp_path, link=link) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        put_car(cloud, ada)
        phone = Signer(cloud.clock)
        soon = post(cloud, ada, phone.body("door.lock", ttl_s=5)).json()
        later = post(cloud, ada, phone.body("door.lock", ttl_s=60)).json()
        assert soon["state"] == later["state"] == "requested"
        cloud.clock.advance(10)
        expired = await final(cloud, ada, soon["id"])  # the cloud's sweep notices
        assert [(s["state"], s["reason"]) for s in expired["states"]] == [
            ("requested", ""),
            ("expired", "not_reached"),
        ]
        assert expired["states"][-1]["reason_text"] == REASON_TEXTS["not_reached"]
        assert get(cloud, ada, f"/{later['id']}").json()["state"] == "requested"

    # The cloud restarts: the waiting command is in the database, and goes out when the car comes.
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        cloud.clock.advance(10)
        car = Car(cloud, tmp_path, key, phone)
        await car.link.start()
        done = await final(cloud, ada, later["id"])
        assert [s["state"] for s in done["states"]] == [
            "requested",
            "delivered",
            "accepted",
            "executed",
        ]
        assert get(cloud, ada, f"/{soon['id']}").json()["state"] == "expired"  # never sent
        await car.link.stop()


def test_owners_see_every_command_others_their_own_newest_first(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    gus = person(cloud, "gus@example.org", "Gus")
    dan = person(cloud, "dan@example.org", "Dan")
    put_car(cloud, ada)
    give_role(cloud, ada, gus, "guest", valid_until_us=now_us(cloud) + 86_400_000_000)
    give_role(cloud, ada, dan, "driver")
    phone = Signer(cloud.clock)
    ids = []
    for who, name in ((ada, "door.lock"), (gus, "door.unlock"), (ada, "honk")):
        r = post(cloud, who, phone.body(name))
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
        cloud.clock.advance(1)
    assert [c["id"] for c in get(cloud, ada).json()] == ids[::-1]
    assert [c["id"] for c in get(cloud, dan).json()] == ids[::-1]
    assert [c["id"] for c in get(cloud, gus).json()] == [ids[1]]
    assert [c["id"] for c in get(cloud, ada, "?limit=1").json()] == [ids[2]]
    assert get(cloud, gus, f"/{ids[0]}").status_code == 404  # Ada's command is not Gus's business
    assert get(cloud, gus, f"/{ids[1]}").json()["name"] == "door.unlock"
    assert get(cloud, ada, "/cmd_nope").status_code == 404
    for bad in ("?limit=0", "?limit=201", "?limit=x", "/not%20an%20id"):
        assert get(cloud, ada, bad).status_code in (404, 422), bad


def test_unpairing_drops_the_commands_still_waiting(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    put_car(cloud, ada)
    phone = Signer(cloud.clock)
    waiting = post(cloud, ada, phone.body("door.lock")).json()
    with cloud.client(ada.token) as c:
        assert c.delete(f"/api/v1/cars/{CAR}").status_code == 204
    record = cloud.ctx.commands.get(waiting["id"])
    assert record is not None
    assert (record.state, record.states[-1].reason) == ("expired", "car_unpaired")
