"""Device keys over real sockets, on SQLite and PostgreSQL: a person registers a browser's P-256
key; the owner's phone finds it among the household's key requests and enrolls it on a car on
the real link; the browser key then signs a command the car carries out, with what the command
session told it (epoch, car clock, counter); revoked on the car or here, it shows so. Members'
keys are requested with their role and window; the rules of registering and who may see what."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from smartev.cloud import device_keys, key_registration
from smartev.cloud import schema as t
from smartev.cloud.access import CarRole, commands_for
from smartev.link import CommandState, CommandStatus
from smartev.link.signing import (
    MAX_TTL_S,
    KeyAlgorithm,
    PrivateKey,
    encode_envelope,
    generate_key,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)
from smartev.vehicle.keyring import Role
from tests.cloud.car_helpers import (
    CAR,
    OTHER_CAR,
    Person,
    Signer,
    give_role,
    make_gateway,
    now_us,
    person,
    put_car,
)
from tests.cloud.server import RunningCloud, running_cloud
from tests.cloud.test_commands_api import LOCK, Car, final

HOUR_US = 3600 * 1_000_000


def call(cloud: RunningCloud, who: Person, method: str, path: str, **kw: Any) -> Any:
    with cloud.client(who.token) as c:
        return c.request(method, "/api/v1" + path, **kw)


def browser_key() -> tuple[PrivateKey, str]:
    """A browser's key as WebCrypto makes it: P-256, the public half exported 'raw' in hex."""
    key = generate_key(KeyAlgorithm.P256)
    return key, public_key_bytes(key).hex()


def register(cloud: RunningCloud, who: Person, public_hex: str, label: str = "Browser") -> Any:
    return call(
        cloud, who, "POST", "/me/device-keys", json={"public_key": public_hex, "label": label}
    )


def states(cloud: RunningCloud, who: Person) -> dict[str, list[dict[str, Any]]]:
    r = call(cloud, who, "GET", "/me/device-keys")
    assert r.status_code == 200, r.text
    return {k["key_id"]: k["cars"] for k in r.json()}


def requests(cloud: RunningCloud, owner: Person) -> list[dict[str, Any]]:
    r = call(cloud, owner, "GET", f"/households/{owner.household_id}/key-requests")
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def signed(key: PrivateKey, name: str, args: dict[str, Any], session: dict[str, Any]) -> Any:
    """The body a browser posts: a command signed with what the command session said."""
    command = make_command(
        car_id=session["car_id"],
        name=name,
        args=args,
        epoch=bytes.fromhex(session["epoch"]),
        counter=session["last_counter"] + 1,
        key_id=key_id(public_key_bytes(key)),
        now_us=session["car_time_us"],
        ttl_s=30,
    )
    return {"envelope": base64.b64encode(encode_envelope(sign_command(key, command))).decode()}


async def test_a_browser_key_is_enrolled_signs_commands_and_is_revoked(
    db_url: str, tmp_path: Path
) -> None:
    car_key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: car_key})) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        put_car(cloud, ada)
        phone = Signer(cloud.clock)  # the owner key paired at the car
        car = Car(cloud, tmp_path, car_key, phone)
        await car.link.start()

        browser, public_hex = browser_key()
        kid = key_id(public_key_bytes(browser))
        r = await asyncio.to_thread(register, cloud, ada, public_hex, "Browser on Linux")
        assert r.status_code == 201, r.text
        assert r.json() == {
            "key_id": kid,
            "public_key": public_hex,
            "algorithm": "p256",
            "label": "Browser on Linux",
            "created_at": "2026-06-01T08:00:00Z",
            "revoked_at": None,
        }
        assert states(cloud, ada) == {kid: [{"car_id": CAR, "role": "owner", "state": "pending"}]}

        # The owner's phone finds the key and enrolls it with the arguments it is given.
        (wanted,) = await asyncio.to_thread(requests, cloud, ada)
        assert wanted["key_id"] == kid
        assert (wanted["car_id"], wanted["role"], wanted["user_id"]) == (CAR, "owner", ada.user_id)
        assert wanted["email"] == "ada@example.org"
        assert wanted["enroll_args"] == {
            "public_key": public_hex,
            "role": "owner",
            "label": "Browser on Linux",
        }
        r = await asyncio.to_thread(
            call,
            cloud,
            ada,
            "POST",
            f"/cars/{CAR}/commands",
            json=phone.body("key.enroll", args=wanted["enroll_args"]),
        )
        assert r.status_code == 202, r.text
        assert (await final(cloud, ada, r.json()["id"]))["state"] == "executed"
        assert states(cloud, ada) == {kid: [{"car_id": CAR, "role": "owner", "state": "enrolled"}]}
        assert await asyncio.to_thread(requests, cloud, ada) == []

        # The browser asks what it needs and signs a command the car carries out.
        path = f"/cars/{CAR}/command-session?key_id={kid}"
        session = (await asyncio.to_thread(call, cloud, ada, "GET", path)).json()
        assert session == {
            "car_id": CAR,
            "online": True,
            "epoch": phone.epoch.hex(),
            "car_time_us": now_us(cloud),
            "clock_speed": 0.0,  # the test's clock only moves by hand
            "last_counter": 0,
            "allowed_commands": sorted(commands_for(CarRole.OWNER)),
            "max_ttl_s": MAX_TTL_S,
            "role": "owner",
        }
        for expected_counter in (1, 2):
            body = signed(browser, "door.lock", {}, session)
            r = await asyncio.to_thread(
                call, cloud, ada, "POST", f"/cars/{CAR}/commands", json=body
            )
            assert (await final(cloud, ada, r.json()["id"]))["state"] == "executed"
            session = (await asyncio.to_thread(call, cloud, ada, "GET", path)).json()
            assert session["last_counter"] == expected_counter
        assert car.broker.get(LOCK).value is True

        # Revoked on the car by its owner: the car refuses it, and it is never asked for again.
        r = await asyncio.to_thread(
            call,
            cloud,
            ada,
            "POST",
            f"/cars/{CAR}/commands",
            json=phone.body("key.revoke", args={"key_id": kid}),
        )
        assert (await final(cloud, ada, r.json()["id"]))["state"] == "executed"
        assert states(cloud, ada) == {kid: [{"car_id": CAR, "role": "owner", "state": "revoked"}]}
        assert await asyncio.to_thread(requests, cloud, ada) == []
        body = signed(browser, "door.unlock", {}, session)
        r = await asyncio.to_thread(call, cloud, ada, "POST", f"/cars/{CAR}/commands", json=body)
        done = await final(cloud, ada, r.json()["id"])
        assert (done["state"], done["states"][-1]["reason"]) == ("rejected", "revoked")

        # Revoked here: listed so, no command session for it, and it cannot be registered again.
        r = await asyncio.to_thread(call, cloud, ada, "DELETE", f"/me/device-keys/{kid}")
        assert r.status_code == 204
        (listed,) = (await asyncio.to_thread(call, cloud, ada, "GET", "/me/device-keys")).json()
        assert listed["revoked_at"] == "2026-06-01T08:00:00Z"
        assert (await asyncio.to_thread(call, cloud, ada, "GET", path)).status_code == 410
        assert (await asyncio.to_thread(register, cloud, ada, public_hex)).status_code == 409
        r = await asyncio.to_thread(call, cloud, ada, "DELETE", f"/me/device-keys/{kid}")
        assert r.status_code == 204  # again: nothing changes
        with cloud.ctx.db.connect() as db:
            actions = list(
                db.execute(
                    select(t.audit_event.c.action).where(t.audit_event.c.actor_id == ada.user_id)
                ).scalars()
            )
        assert actions.count("device_key.registered") == 1
        assert actions.count("device_key.revoked") == 1
        await car.link.stop()


def test_members_keys_are_requested_with_their_role_and_window(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        bob = person(cloud, "bob@example.org", "Bob")
        cyd = person(cloud, "cyd@example.org", "Cyd")
        dan = person(cloud, "dan@example.org", "Dan")
        eve = person(cloud, "eve@example.org", "Eve")
        put_car(cloud, ada)
        put_car(cloud, ada, OTHER_CAR, "Red")
        until = now_us(cloud) + 48 * HOUR_US
        give_role(cloud, ada, bob, "guest", valid_until_us=until)
        give_role(cloud, ada, cyd, "driver", OTHER_CAR)
        give_role(cloud, ada, dan, "driver", valid_until_us=now_us(cloud) - 1)  # ended
        keys = {who.user_id: browser_key()[1] for who in (ada, bob, cyd, dan, eve)}
        for who in (ada, bob, cyd, dan, eve):
            assert register(cloud, who, keys[who.user_id]).status_code == 201

        got = {(r["user_id"], r["car_id"]): r for r in requests(cloud, ada)}
        assert set(got) == {
            (ada.user_id, CAR),
            (ada.user_id, OTHER_CAR),
            (bob.user_id, CAR),
            (cyd.user_id, OTHER_CAR),
        }
        guest = got[(bob.user_id, CAR)]
        assert guest["role"] == "guest"
        assert (guest["valid_from"], guest["valid_until"]) == (None, "2026-06-03T08:00:00Z")
        assert guest["enroll_args"] == {
            "public_key": keys[bob.user_id],
            "role": "guest",
            "label": "Browser",
            "valid_until_us": until,
        }
        assert got[(cyd.user_id, OTHER_CAR)]["role"] == "driver"
        assert got[(cyd.user_id, OTHER_CAR)]["email"] == "cyd@example.org"

        # The same through the function the demo world's owner phone calls.
        with cloud.ctx.db.connect() as db:
            direct = device_keys.key_requests(db, ada.household_id, now_us(cloud))
        bob_request = next(r for r in direct if r.user_id == bob.user_id)
        assert bob_request.role is Role.GUEST
        assert bob_request.public_key == bytes.fromhex(keys[bob.user_id])
        assert (bob_request.valid_from_us, bob_request.valid_until_us) == (None, until)
        assert len(direct) == 4

        # Each person sees their key on the cars they have a role for now, and nothing else.
        assert states(cloud, bob) == {
            key_id(bytes.fromhex(keys[bob.user_id])): [
                {"car_id": CAR, "role": "guest", "state": "pending"}
            ]
        }
        assert states(cloud, eve) == {key_id(bytes.fromhex(keys[eve.user_id])): []}

        # Only the owner sees the requests; for strangers the household does not exist.
        household = f"/households/{ada.household_id}/key-requests"
        assert call(cloud, bob, "GET", household).status_code == 403
        assert call(cloud, eve, "GET", household).status_code == 404


def test_an_enroll_on_its_way_or_refused_for_good_is_not_asked_for_again(
    db_url: str, tmp_path: Path
) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        put_car(cloud, ada)  # not connected: commands wait for it
        phone = Signer(cloud.clock)
        _browser, public_hex = browser_key()
        assert register(cloud, ada, public_hex).status_code == 201
        (wanted,) = requests(cloud, ada)
        body = phone.body("key.enroll", args=wanted["enroll_args"], ttl_s=30)
        r = call(cloud, ada, "POST", f"/cars/{CAR}/commands", json=body)
        assert r.json()["state"] == "requested"
        assert requests(cloud, ada) == []  # on its way

        cloud.clock.advance(31)
        assert cloud.ctx.commands.expire_due() == 1  # the car was never reached
        (again,) = requests(cloud, ada)
        assert again["key_id"] == wanted["key_id"]

        # The car reports it refuses the key (it is on its ring already, or revoked there):
        # asking again would loop, so the key is no longer requested.
        body = phone.body("key.enroll", args=wanted["enroll_args"], ttl_s=30)
        command_id = call(cloud, ada, "POST", f"/cars/{CAR}/commands", json=body).json()["id"]
        cloud.ctx.commands.on_status(
            CAR,
            CommandStatus(command_id, CommandState.REJECTED, "invalid_value", now_us(cloud)),
        )
        assert requests(cloud, ada) == []
        key = states(cloud, ada)
        assert list(key.values()) == [[{"car_id": CAR, "role": "owner", "state": "pending"}]]


def test_registering_rules(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        bob = person(cloud, "bob@example.org", "Bob")
        _key, public_hex = browser_key()
        first = register(cloud, ada, public_hex, "Phone")
        assert first.status_code == 201
        again = register(cloud, ada, public_hex.upper(), "Another label")
        assert again.status_code == 200
        assert again.json() == first.json()
        taken = register(cloud, bob, public_hex)
        assert taken.status_code == 409
        assert "another account" in taken.json()["detail"]

        ed25519 = public_key_bytes(Ed25519PrivateKey.generate()).hex()
        r = register(cloud, bob, ed25519, "Laptop")
        assert (r.status_code, r.json()["algorithm"]) == (201, "ed25519")

        def refused(public: str, label: str, words: str) -> None:
            r = register(cloud, bob, public, label)
            assert r.status_code == 422, r.text
            assert words in str(r.json()["detail"]), r.text

        off_curve = "04" + "11" * 64
        refused(off_curve, "x", "not a point on the curve")
        refused("05" + "11" * 64, "x", "public_key")
        refused("ab" * 33, "x", "public_key")
        refused(public_key_bytes(generate_key(KeyAlgorithm.P256)).hex(), "tab\there", "label")
        refused(public_key_bytes(generate_key(KeyAlgorithm.P256)).hex(), "   ", "label")
        refused(public_key_bytes(generate_key(KeyAlgorithm.P256)).hex(), "x" * 65, "label")

        # At most 20 live keys: the 21st is refused until one is revoked.
        live = [browser_key()[1] for _ in range(key_registration.MAX_LIVE_KEYS - 1)]
        for public in live:
            assert register(cloud, ada, public).status_code == 201
        extra = browser_key()[1]
        r = register(cloud, ada, extra)
        assert r.status_code == 409
        assert "revoke one" in r.json()["detail"]
        assert call(cloud, ada, "DELETE", f"/me/device-keys/{key_id(bytes.fromhex(live[0]))}")
        assert register(cloud, ada, extra).status_code == 201

        # Someone else's key cannot be revoked, nor named in a command session.
        ada_kid = key_id(bytes.fromhex(public_hex))
        assert call(cloud, bob, "DELETE", f"/me/device-keys/{ada_kid}").status_code == 404
        assert call(cloud, bob, "DELETE", "/me/device-keys/XYZ").status_code == 422
        listed = call(cloud, bob, "GET", "/me/device-keys").json()
        assert [k["label"] for k in listed] == ["Laptop"]


def test_command_session_rules(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        bob = person(cloud, "bob@example.org", "Bob")
        eve = person(cloud, "eve@example.org", "Eve")
        put_car(cloud, ada)
        give_role(cloud, ada, bob, "guest", valid_until_us=now_us(cloud) + HOUR_US)
        keys = {}
        for who in (ada, bob, eve):
            _key, public_hex = browser_key()
            assert register(cloud, who, public_hex).status_code == 201
            keys[who.user_id] = key_id(bytes.fromhex(public_hex))

        def session(who: Person, kid: str) -> Any:
            return call(cloud, who, "GET", f"/cars/{CAR}/command-session?key_id={kid}")

        r = session(bob, keys[bob.user_id])
        assert r.status_code == 200
        guest = r.json()
        assert guest["role"] == "guest"
        assert guest["allowed_commands"] == sorted(commands_for(CarRole.GUEST))
        assert "trunk.open" not in guest["allowed_commands"]
        assert (guest["online"], guest["epoch"]) == (False, None)  # no car on the link
        assert guest["car_time_us"] == now_us(cloud)

        assert session(eve, keys[eve.user_id]).status_code == 404  # a stranger to the car
        assert session(bob, keys[ada.user_id]).status_code == 404  # not bob's key
        assert session(bob, "0123456789abcdef").status_code == 404
        assert session(bob, "not-a-key").status_code == 422
        r = call(cloud, bob, "GET", f"/cars/{CAR}/command-session")
        assert r.status_code == 422


def test_keys_that_lost_their_standing_are_asked_to_be_revoked_on_the_car(
    db_url: str, tmp_path: Path
) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        bob = person(cloud, "bob@example.org", "Bob")
        eve = person(cloud, "eve@example.org", "Eve")
        put_car(cloud, ada)  # not connected: the test reports the car's answers itself
        give_role(cloud, ada, bob, "guest", valid_until_us=now_us(cloud) + 48 * HOUR_US)
        phone = Signer(cloud.clock)
        _bob_key, bob_hex = browser_key()
        _ada_key, ada_hex = browser_key()
        assert register(cloud, bob, bob_hex).status_code == 201
        assert register(cloud, ada, ada_hex).status_code == 201
        revocations = f"/households/{ada.household_id}/key-revocations"

        def answer(name: str, args: dict[str, Any], state: CommandState) -> None:
            body = phone.body(name, args=args, ttl_s=30)
            command_id = call(cloud, ada, "POST", f"/cars/{CAR}/commands", json=body).json()["id"]
            cloud.ctx.commands.on_status(CAR, CommandStatus(command_id, state, "", now_us(cloud)))

        for request in requests(cloud, ada):  # both keys enrolled on the car
            answer("key.enroll", request["enroll_args"], CommandState.EXECUTED)
        assert call(cloud, ada, "GET", revocations).json() == []

        # Bob's role is taken back, Ada deletes her browser's key: both are to go from the car.
        grant = f"/households/{ada.household_id}/cars/{CAR}/grants/{bob.user_id}"
        assert call(cloud, ada, "DELETE", grant).status_code == 204
        ada_kid = key_id(bytes.fromhex(ada_hex))
        assert call(cloud, ada, "DELETE", f"/me/device-keys/{ada_kid}").status_code == 204
        got = {r["user_id"]: r for r in call(cloud, ada, "GET", revocations).json()}
        assert set(got) == {ada.user_id, bob.user_id}
        bob_kid = key_id(bytes.fromhex(bob_hex))
        assert got[bob.user_id]["revoke_args"] == {"key_id": bob_kid}
        assert got[bob.user_id]["reason"] == "its person has no role for the car any more"
        assert got[ada.user_id]["reason"] == "the key was revoked in the cloud"

        # A revoke on its way is not asked for twice; once executed the key is gone for good.
        body = phone.body("key.revoke", args={"key_id": bob_kid}, ttl_s=30)
        command_id = call(cloud, ada, "POST", f"/cars/{CAR}/commands", json=body).json()["id"]
        assert [r["key_id"] for r in call(cloud, ada, "GET", revocations).json()] == [ada_kid]
        cloud.ctx.commands.on_status(
            CAR, CommandStatus(command_id, CommandState.EXECUTED, "", now_us(cloud))
        )
        answer("key.revoke", {"key_id": ada_kid}, CommandState.EXECUTED)
        assert call(cloud, ada, "GET", revocations).json() == []

        # Only the owner sees them; for strangers the household does not exist.
        assert call(cloud, bob, "GET", revocations).status_code == 403  # a member, not the owner
        assert call(cloud, eve, "GET", revocations).status_code == 404
