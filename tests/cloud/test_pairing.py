"""Pairing over real sockets, on SQLite and PostgreSQL: the car offers a one-time code's hash over
its link, the owner enters the code over HTTP and the car joins their household; wrong, expired
and used codes, the per-person limit on wrong codes, unpairing and renaming; the car list."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.api.cars import CODE_PATTERN
from smartev.cloud.pairing import MAX_OFFER_AHEAD_US, PAIRING_FAILURES_ALLOWED, store_offer
from smartev.link import PairingOffer
from smartev.link.pairing import (
    PAIRING_TTL_S,
    PairingCodeError,
    new_pairing_code,
    normalize_pairing_code,
    pairing_code_sha256,
)
from tests.cloud.car_helpers import (
    CAR,
    LinkedCar,
    Person,
    eventually,
    give_role,
    make_gateway,
    now_us,
    person,
)
from tests.cloud.server import RunningCloud, running_cloud


def offer(cloud: RunningCloud, car_id: str = CAR) -> str:
    """The car shows a new code (its offer stored as the gateway would); returns the code."""
    code = new_pairing_code()
    expires_us = now_us(cloud) + int(PAIRING_TTL_S * 1_000_000)
    assert store_offer(
        cloud.ctx.db, car_id, PairingOffer(pairing_code_sha256(code), expires_us), now_us(cloud)
    )
    return code


def pair(cloud: RunningCloud, who: Person, code: str, **extra: str) -> tuple[int, dict[str, str]]:
    with cloud.client(who.token) as c:
        r = c.post("/api/v1/cars/pair", json={"code": code, **extra})
    body: dict[str, str] = r.json()
    return r.status_code, body


async def test_a_car_offers_a_code_over_its_link_and_the_owner_pairs_it(
    db_url: str, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        car = LinkedCar(cloud, tmp_path, key)
        await car.start()
        code = new_pairing_code()
        expires_us = now_us(cloud) + int(PAIRING_TTL_S * 1_000_000)
        car.uplink.offer_pairing(PairingOffer(pairing_code_sha256(code), expires_us))

        def offered() -> bool:
            with cloud.ctx.db.connect() as db:
                row = db.execute(select(t.car.c.pairing_code_hash).where(t.car.c.id == CAR)).first()
            return row is not None and row.pairing_code_hash is not None

        await eventually(offered)
        with cloud.ctx.db.connect() as db:
            stored = db.execute(select(t.car).where(t.car.c.id == CAR)).one()
        assert stored.pairing_code_hash == pairing_code_sha256(code).hex()  # never the code
        assert stored.pairing_expires_us == expires_us
        assert stored.household_id is None

        # Typed in lower case without the dash: still the code.
        status, body = pair(cloud, ada, code.lower().replace("-", ""), name=" Family car ")
        assert status == 201, body
        assert body["car_id"] == CAR
        assert body["name"] == "Family car"
        assert body["household_id"] == ada.household_id

        with cloud.client(ada.token) as c:
            cars = c.get("/api/v1/cars").json()
            one = c.get(f"/api/v1/cars/{CAR}").json()
        assert [(x["car_id"], x["role"], x["name"]) for x in cars] == [(CAR, "owner", "Family car")]
        assert one == cars[0]
        assert "door.lock" in one["commands"]
        assert "key.enroll" in one["commands"]
        assert set(one["scopes"]) >= {"state", "commands", "sharing"}
        assert one["paired_at"].startswith("2026-06-01T08:00:00")

        # The code worked once.
        status, body = pair(cloud, ada, code)
        assert status == 404
        assert "no car shows this pairing code" in body["detail"]
        with cloud.ctx.db.connect() as db:
            events = audit.events_for_car(db, CAR)
        assert [e.action for e in events] == ["car.paired"]
        assert events[0].actor_id == ada.user_id
        await car.stop()


def test_expired_and_wrong_codes_fail_and_are_limited_per_person(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    bob = person(cloud, "bob@example.org", "Bob")
    code = offer(cloud)
    cloud.clock.advance(PAIRING_TTL_S + 1)
    status, body = pair(cloud, ada, code)
    assert status == 410
    assert "expired" in body["detail"]
    for _ in range(PAIRING_FAILURES_ALLOWED - 1):
        assert pair(cloud, ada, new_pairing_code())[0] == 404
    with cloud.client(ada.token) as c:
        r = c.post("/api/v1/cars/pair", json={"code": new_pairing_code()})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "too many wrong pairing codes" in r.json()["detail"]
    # Another person is not limited by Ada's mistakes; Ada may try again after the window.
    fresh = offer(cloud)
    assert pair(cloud, ada, fresh)[0] == 429
    cloud.auth_clock.advance(600)
    assert pair(cloud, ada, fresh)[0] == 201
    assert pair(cloud, bob, new_pairing_code())[0] == 404


def test_malformed_codes_and_bodies_are_422_naming_the_field(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org")
    for body in (
        {"code": "7KQ2-M9XU"},  # U is not in the alphabet
        {"code": "7KQ2-M9X"},
        {"code": "7KQ2-M9XD!"},
        {"code": "7KQ2-M9XD", "name": "   "},
        {"code": "7KQ2-M9XD", "household_id": "not an id"},
        {"code": "7KQ2-M9XD", "extra": 1},
        {},
    ):
        with cloud.client(ada.token) as c:
            r = c.post("/api/v1/cars/pair", json=body)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], list)
    with cloud.client() as c:
        assert c.post("/api/v1/cars/pair", json={"code": "7KQ2-M9XD"}).status_code == 401


def test_a_paired_car_is_not_taken_by_a_new_code_until_its_owner_unpairs_it(
    cloud: RunningCloud,
) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    bob = person(cloud, "bob@example.org", "Bob")
    dan = person(cloud, "dan@example.org", "Dan")
    assert pair(cloud, ada, offer(cloud))[0] == 201
    give_role(cloud, ada, dan, "driver")

    status, body = pair(cloud, bob, offer(cloud))
    assert status == 409
    assert "already paired with another household" in body["detail"]
    status, body = pair(cloud, ada, offer(cloud))
    assert status == 409
    assert "already paired with your household" in body["detail"]

    with cloud.client(bob.token) as c:
        assert c.delete(f"/api/v1/cars/{CAR}").status_code == 404  # not his to see
    with cloud.client(dan.token) as c:
        r = c.delete(f"/api/v1/cars/{CAR}")
    assert r.status_code == 403
    assert "(driver) does not include sharing" in r.json()["detail"]
    with cloud.client(ada.token) as c:
        assert c.delete(f"/api/v1/cars/{CAR}").status_code == 204
        assert c.get(f"/api/v1/cars/{CAR}").status_code == 404
        assert c.get("/api/v1/cars").json() == []
    with cloud.client(dan.token) as c:
        assert c.get("/api/v1/cars").json() == []  # the roles given for it ended too
    with cloud.ctx.db.connect() as db:
        assert db.execute(select(t.car_grant)).all() == []
        row = db.execute(select(t.car).where(t.car.c.id == CAR)).one()
        assert (row.household_id, row.paired_us, row.pairing_code_hash) == (None, None, None)

    status, body = pair(cloud, bob, offer(cloud))
    assert status == 201
    assert body["household_id"] == bob.household_id
    with cloud.ctx.db.connect() as db:
        actions = [e.action for e in reversed(audit.events_for_car(db, CAR))]
    assert actions == ["car.paired", "car.unpaired", "car.paired"]


def test_pairing_into_a_household_needs_its_owner(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    bob = person(cloud, "bob@example.org", "Bob")
    dan = person(cloud, "dan@example.org", "Dan")
    assert pair(cloud, ada, offer(cloud, "LSJWH4097PN000009"))[0] == 201
    give_role(cloud, ada, dan, "driver", "LSJWH4097PN000009")  # Dan: a member, not the owner
    code = offer(cloud)
    status, body = pair(cloud, dan, code, household_id=ada.household_id)
    assert status == 403
    assert "only the owner" in body["detail"]
    status, body = pair(cloud, dan, code, household_id=bob.household_id)
    assert status == 404
    status, body = pair(cloud, ada, code, household_id=ada.household_id)
    assert status == 201
    assert body["name"] == CAR  # not named yet: its id


def test_the_owner_renames_the_car(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    dan = person(cloud, "dan@example.org", "Dan")
    assert pair(cloud, ada, offer(cloud), name="Blue")[0] == 201
    give_role(cloud, ada, dan, "guest", valid_until_us=now_us(cloud) + 3_600_000_000)
    with cloud.client(ada.token) as c:
        r = c.patch(f"/api/v1/cars/{CAR}", json={"name": "  Red  "})
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Red"
        assert c.patch(f"/api/v1/cars/{CAR}", json={"name": ""}).status_code == 422
        assert c.patch(f"/api/v1/cars/{CAR}", json={"name": "x" * 101}).status_code == 422
    with cloud.client(dan.token) as c:
        assert c.patch(f"/api/v1/cars/{CAR}", json={"name": "Mine"}).status_code == 403
        seen = c.get("/api/v1/cars").json()
    assert [(x["name"], x["role"]) for x in seen] == [("Red", "guest")]
    assert "key.enroll" not in seen[0]["commands"]
    assert "history" not in seen[0]["scopes"]
    with cloud.ctx.db.connect() as db:
        renamed = [e for e in audit.events_for_car(db, CAR) if e.action == "car.renamed"]
    assert renamed[0].detail == {"from": "Blue", "to": "Red"}


def test_offers_that_expired_are_ignored_and_far_ones_are_cut(cloud: RunningCloud) -> None:
    now = now_us(cloud)
    digest = pairing_code_sha256(new_pairing_code())
    assert not store_offer(cloud.ctx.db, CAR, PairingOffer(digest, now), now)
    assert store_offer(cloud.ctx.db, CAR, PairingOffer(digest, now + 10**15), now)
    with cloud.ctx.db.connect() as db:
        row = db.execute(select(t.car).where(t.car.c.id == CAR)).one()
    assert row.pairing_expires_us == now + MAX_OFFER_AHEAD_US
    assert row.name == CAR


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabciloquz -!", max_size=14))
def test_the_documented_code_pattern_is_exactly_what_reads_as_a_code(text: str) -> None:
    try:
        normalize_pairing_code(text)
        readable = True
    except PairingCodeError:
        readable = False
    assert (re.fullmatch(CODE_PATTERN, text) is not None) is readable


def test_a_new_owner_sees_nothing_recorded_before_the_car_joined_their_household(
    cloud: RunningCloud,
) -> None:
    """Sold and paired again: the first owner's drives, charges, places, values and audit stay
    out of the new household's view, over every route that shows them."""
    ada = person(cloud, "ada@example.org", "Ada")
    bob = person(cloud, "bob@example.org", "Bob")
    assert pair(cloud, ada, offer(cloud))[0] == 201
    cloud.clock.advance(2 * 3600)
    before = now_us(cloud) - 60_000_000
    with cloud.ctx.db.begin() as db:
        db.execute(
            insert(t.drive).values(
                id="drv_ada",
                car_id=CAR,
                start_us=before - 1_800_000_000,
                end_us=before,
                distance_km=12.0,
                duration_s=1800.0,
            )
        )
        db.execute(
            insert(t.signal_latest).values(
                car_id=CAR,
                path="Vehicle.CurrentLocation.Latitude",
                ts_us=before,
                value="48.1",
                received_us=before,
            )
        )
        db.execute(
            insert(t.telemetry_sample).values(
                car_id=CAR,
                seq=1,
                ts_us=before,
                path="Vehicle.CurrentLocation.Latitude",
                value="48.1",
                num=48.1,
                kind="change",
            )
        )
    with cloud.client(ada.token) as c:
        assert [d["id"] for d in c.get(f"/api/v1/cars/{CAR}/drives").json()["drives"]] == [
            "drv_ada"
        ]
        assert c.delete(f"/api/v1/cars/{CAR}").status_code == 204
    cloud.clock.advance(120)
    assert pair(cloud, bob, offer(cloud))[0] == 201

    day = "start=2026-05-01T00:00:00Z&end=2026-06-02T00:00:00Z"
    with cloud.client(bob.token) as c:
        assert c.get(f"/api/v1/cars/{CAR}/drives").json()["drives"] == []
        assert c.get(f"/api/v1/cars/{CAR}/drives/drv_ada").status_code == 404
        assert c.get(f"/api/v1/cars/{CAR}/state").json()["signals"] == []
        history = c.get(
            f"/api/v1/cars/{CAR}/history?path=Vehicle.CurrentLocation.Latitude&{day}"
        ).json()
        assert history["points"] == []
        assert history["buckets"] == []
        actions = [e["action"] for e in c.get(f"/api/v1/cars/{CAR}/audit").json()["events"]]
        assert actions == ["car.paired"]
