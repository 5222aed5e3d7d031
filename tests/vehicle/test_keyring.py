"""The car's key ring: pairing, adding and revoking keys, and its records for storage."""

from __future__ import annotations

import json

import pytest

from smartev.link.signing import KeyAlgorithm, generate_key, key_id, public_key_bytes
from smartev.vehicle.keyring import PAIRING, EnrolledKey, KeyRing, KeyRingError, Role

NOW_US = 1_780_000_000_000_000


def new_public(alg: KeyAlgorithm = KeyAlgorithm.ED25519) -> bytes:
    return public_key_bytes(generate_key(alg))


def add(ring: KeyRing, role: Role, by: str, **changes: object) -> EnrolledKey:
    fields: dict[str, object] = {
        "public_key": new_public(),
        "role": role,
        "label": f"{role} phone",
        "valid_from_us": 0,
        "valid_until_us": NOW_US + 1 if role is Role.GUEST else None,
        "enrolled_by": by,
        "now_us": NOW_US,
    }
    fields.update(changes)
    return ring.add(**fields)  # type: ignore[arg-type]


def test_pairing_enrolls_the_first_owner_only() -> None:
    ring = KeyRing()
    assert not ring.has_owner()
    owner = ring.pair_owner(new_public(KeyAlgorithm.P256), "owner's phone", NOW_US)
    assert (owner.role, owner.enrolled_by, owner.enrolled_at_us) == (Role.OWNER, PAIRING, NOW_US)
    assert ring.has_owner()
    assert ring.get(owner.key_id) == owner
    with pytest.raises(KeyRingError, match="already has an owner"):
        ring.pair_owner(new_public(), "intruder", NOW_US)


def test_revocation_is_recorded_and_idempotent() -> None:
    ring = KeyRing()
    owner = ring.pair_owner(new_public(), "owner", NOW_US)
    driver = add(ring, Role.DRIVER, owner.key_id)
    revoked = ring.revoke(driver.key_id, revoked_by=owner.key_id, now_us=NOW_US + 5)
    assert revoked.revoked
    assert (revoked.revoked_at_us, revoked.revoked_by) == (NOW_US + 5, owner.key_id)
    assert ring.revoke(driver.key_id, revoked_by=owner.key_id, now_us=NOW_US + 9) == revoked


def test_the_last_owner_cannot_be_revoked() -> None:
    ring = KeyRing()
    owner = ring.pair_owner(new_public(), "owner", NOW_US)
    with pytest.raises(KeyRingError, match="last owner"):
        ring.revoke(owner.key_id, revoked_by=owner.key_id, now_us=NOW_US)
    second = add(ring, Role.OWNER, owner.key_id)
    ring.revoke(owner.key_id, revoked_by=second.key_id, now_us=NOW_US)
    assert ring.has_owner()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"label": ""}, "label"),
        ({"label": "tab\there"}, "label"),
        ({"role": Role.GUEST, "valid_until_us": None}, "guest key needs valid_until_us"),
        ({"valid_from_us": 10, "valid_until_us": 10}, "after valid_from_us"),
        ({"valid_from_us": -1}, "times"),
        ({"enrolled_by": "somebody"}, "enrolled_by"),
        ({"public_key": b"\x04" + bytes(64)}, "not a point"),
        ({"public_key": bytes(31)}, "31 bytes"),
    ],
)
def test_refused_keys(changes: dict[str, object], match: str) -> None:
    ring = KeyRing()
    owner = ring.pair_owner(new_public(), "owner", NOW_US)
    role = changes.pop("role", Role.DRIVER)
    with pytest.raises(KeyRingError, match=match):
        add(ring, role, owner.key_id, **changes)  # type: ignore[arg-type]
    assert len(ring) == 1


def test_validity_window() -> None:
    ring = KeyRing()
    owner = ring.pair_owner(new_public(), "owner", NOW_US)
    guest = add(ring, Role.GUEST, owner.key_id, valid_from_us=100, valid_until_us=200)
    assert [guest.is_valid_at(t) for t in (99, 100, 199, 200)] == [False, True, True, False]
    assert owner.is_valid_at(0)


def test_records_round_trip_through_json_and_call_the_hook() -> None:
    saved: list[str] = []
    ring = KeyRing(on_change=lambda r: saved.append(json.dumps(r.to_records())))
    owner = ring.pair_owner(new_public(KeyAlgorithm.P256), "owner", NOW_US)
    guest = add(ring, Role.GUEST, owner.key_id)
    ring.revoke(guest.key_id, revoked_by=owner.key_id, now_us=NOW_US + 1)
    assert len(saved) == 3
    restored = KeyRing.from_records(json.loads(saved[-1]))
    assert list(restored) == list(ring)
    assert restored.public_key(owner.key_id).public_numbers() == (  # type: ignore[union-attr]
        ring.public_key(owner.key_id).public_numbers()  # type: ignore[union-attr]
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"role": "emperor"}, "role"),
        ({"public_key": "zz"}, "not hex"),
        ({"key_id": "0000000000000000"}, "key_id"),
        ({"extra": 1}, "exactly the fields"),
        ({"valid_until_us": "tomorrow"}, "valid_until_us"),
        ({"revoked_at_us": 5}, "revoked_at_us"),
    ],
)
def test_bad_records_are_refused(change: dict[str, object], match: str) -> None:
    ring = KeyRing()
    ring.pair_owner(new_public(), "owner", NOW_US)
    record = {**ring.to_records()[0], **change}
    with pytest.raises(KeyRingError, match=match):
        KeyRing.from_records([record])


def test_duplicate_records_are_refused() -> None:
    ring = KeyRing()
    ring.pair_owner(new_public(), "owner", NOW_US)
    with pytest.raises(KeyRingError, match="twice"):
        KeyRing.from_records(ring.to_records() * 2)


def test_key_id_is_derived_from_the_public_key() -> None:
    ring = KeyRing()
    public = new_public()
    assert ring.pair_owner(public, "owner", NOW_US).key_id == key_id(public)
