"""The household's service key, on SQLite and PostgreSQL: created, shown and revoked by the
owner only (its private part never shown nor stored in clear), replaced keys revoked, each
signature taking its own counter even when many sign at once, and a sealed key useless under
another secret."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from smartev.cloud import audit
from smartev.cloud import automation_key as keys
from smartev.cloud import schema as t
from smartev.cloud.db import Database
from smartev.link.signing import decode_envelope, verify_signature
from tests.cloud.car_helpers import CAR, give_role, person, put_car
from tests.cloud.server import SECRET, running_cloud
from tests.cloud.test_devices_api import home, req


def test_the_owner_creates_shows_replaces_and_revokes_the_key(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        dan = person(cloud, "dan@example.org", "Dan")
        eve = person(cloud, "eve@example.org", "Eve")
        put_car(cloud, ada)
        give_role(cloud, ada, dan, "driver")
        url = home(ada, "/service-key")

        assert req(cloud, ada, "GET", url).status_code == 404  # none yet
        assert req(cloud, dan, "POST", url).status_code == 403
        assert req(cloud, eve, "POST", url).status_code == 404
        r = req(cloud, ada, "POST", url)
        assert r.status_code == 201, r.text
        first = r.json()
        assert set(first) == {
            "key_id",
            "household_id",
            "public_key",
            "created_at",
            "created_by",
            "enroll_args",
        }
        assert first["enroll_args"] == {
            "public_key": first["public_key"],
            "role": "service",
            "label": "automations",
        }
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(first["public_key"]))
        assert req(cloud, dan, "GET", url).json() == first  # members see the public part
        assert req(cloud, eve, "GET", url).status_code == 404

        second = req(cloud, ada, "POST", url).json()
        assert second["key_id"] != first["key_id"]
        with cloud.ctx.db.connect() as db:
            rows = {r.key_id: r for r in db.execute(select(t.service_key))}
            assert rows[first["key_id"]].revoked_us is not None
            assert rows[second["key_id"]].revoked_us is None
            # Sealed: neither the private key nor anything readable of it is in the row.
            sealed = bytes(rows[second["key_id"]].sealed_private_key)
            assert len(sealed) == 12 + 32 + 16  # nonce, key, tag
            assert second["public_key"].encode() not in sealed

        assert req(cloud, dan, "DELETE", url).status_code == 403
        assert req(cloud, ada, "DELETE", url).status_code == 204
        assert req(cloud, ada, "GET", url).status_code == 404
        r = req(cloud, ada, "DELETE", url)
        assert r.status_code == 409
        assert "no service key" in r.json()["detail"]
        with cloud.ctx.db.connect() as db:
            actions = [e.action for e in audit.events_for_household(db, ada.household_id)]
        assert actions[:3] == ["service_key.revoked", "service_key.created", "service_key.created"]


def test_signatures_take_distinct_counters_and_need_the_secret(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        put_car(cloud, ada)
        created = req(cloud, ada, "POST", home(ada, "/service-key")).json()
    db = Database(db_url)
    sealer = keys.KeySealer(SECRET)
    epoch = os.urandom(16)

    def sign(_: int) -> bytes:
        with db.begin() as c:
            return keys.sign_for_car(
                c,
                sealer,
                household_id=ada.household_id,
                car_id=CAR,
                name="hvac.set",
                args={"temp_c": 21.0},
                epoch=epoch,
                car_now_us=1_780_000_000_000_000,
                ttl_s=30,
            )

    try:
        with ThreadPoolExecutor(8) as pool:
            envelopes = list(pool.map(sign, range(24)))
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(created["public_key"]))
        signed = [decode_envelope(e) for e in envelopes]
        assert all(verify_signature(public, s) for s in signed)
        assert sorted(s.command.counter for s in signed) == list(range(1, 25))
        assert {s.command.key_id for s in signed} == {created["key_id"]}

        with (
            pytest.raises(keys.ServiceKeyError, match="another secret_key"),
            db.begin() as c,
        ):
            keys.sign_for_car(
                c,
                keys.KeySealer("another-secret-" + "y" * 40),
                household_id=ada.household_id,
                car_id=CAR,
                name="honk",
                args={},
                epoch=epoch,
                car_now_us=1_780_000_000_000_000,
                ttl_s=30,
            )
        with db.begin() as c:
            keys.revoke_key(c, household_id=ada.household_id, actor_id=ada.user_id, now_us=1)
        with pytest.raises(keys.NoServiceKeyError, match="no service key"):
            sign(0)
    finally:
        db.close()
