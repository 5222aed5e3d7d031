"""People's device keys (a browser's, a phone's) as the cloud lists them: registering one,
listing a person's keys, revoking one. Whether a car trusts a key is
:mod:`smartev.cloud.device_keys`'s question.

The cloud keeps only the public half, in the hex form ``key.enroll`` signs, and the key's id
(:func:`smartev.link.signing.key_id`). A key belongs to one account; a revoked key stays listed
and never returns (the device makes a new one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Row, func, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.errors import ConflictError, GoneError, InvalidFieldError, NotFoundError
from smartev.link.signing import (
    KeyAlgorithm,
    KeyFormatError,
    key_algorithm,
    key_id,
    load_public_key,
)

MAX_LIVE_KEYS: Final = 20
# The car's rule for a key's label (key.enroll's argument), so every registered label enrolls.
LABEL_PATTERN: Final = r"^[^\x00-\x1f\x7f]{1,64}$"
KEY_ID_PATTERN: Final = r"^[0-9a-f]{16}$"
_LABEL = re.compile(LABEL_PATTERN)


@dataclass(frozen=True, slots=True)
class DeviceKey:
    key_id: str
    user_id: str
    public_key: bytes
    algorithm: KeyAlgorithm
    label: str
    created_us: int
    revoked_us: int | None

    @property
    def live(self) -> bool:
        return self.revoked_us is None


def row_key(row: Row[Any]) -> DeviceKey:
    return DeviceKey(
        key_id=row.key_id,
        user_id=row.user_id,
        public_key=bytes.fromhex(row.public_key),
        algorithm=KeyAlgorithm(row.algorithm),
        label=row.label,
        created_us=row.created_us,
        revoked_us=row.revoked_us,
    )


def get_key(db: Connection, kid: str) -> DeviceKey | None:
    row = db.execute(select(t.device_key).where(t.device_key.c.key_id == kid)).first()
    return None if row is None else row_key(row)


def check_label(label: str) -> str:
    if not _LABEL.fullmatch(label) or not label.strip():
        raise InvalidFieldError(
            "label", "must be 1..64 characters with a visible one and no control characters"
        )
    return label


def register(
    db: Connection, *, user_id: str, public_key: bytes, label: str, now_us: int
) -> tuple[DeviceKey, bool]:
    """Register the person's device key; the key and whether it is new (the same key again by
    the same person is the key as registered). ConflictError when another account registered
    it, when it was revoked, or when the person already has :data:`MAX_LIVE_KEYS` live keys.
    Two requests registering one key at the same moment: the second fails on the key's primary
    key (IntegrityError); run it again and it finds the key."""
    try:
        algorithm = key_algorithm(load_public_key(public_key))
    except (KeyFormatError, ValueError) as exc:
        raise InvalidFieldError("public_key", str(exc)) from None
    check_label(label)
    kid = key_id(public_key)
    existing = get_key(db, kid)
    if existing is not None:
        return _existing(existing, user_id), False
    live = db.execute(
        select(func.count())
        .select_from(t.device_key)
        .where(t.device_key.c.user_id == user_id, t.device_key.c.revoked_us.is_(None))
    ).scalar_one()
    if live >= MAX_LIVE_KEYS:
        raise ConflictError(
            f"you already have {live} device keys, the most an account may have; "
            "revoke one you no longer use (DELETE /api/v1/me/device-keys/{key_id}) first"
        )
    key = DeviceKey(kid, user_id, public_key, algorithm, label, now_us, None)
    db.execute(
        insert(t.device_key).values(
            key_id=kid,
            user_id=user_id,
            public_key=public_key.hex(),
            algorithm=str(algorithm),
            label=label,
            created_us=now_us,
        )
    )
    audit.record(
        db,
        ts_us=now_us,
        action="device_key.registered",
        actor_id=user_id,
        detail={"key_id": kid, "algorithm": str(algorithm), "label": label},
    )
    return key, True


def _existing(key: DeviceKey, user_id: str) -> DeviceKey:
    if key.user_id != user_id:
        raise ConflictError(
            f"device key {key.key_id} is registered to another account; make a new key"
        )
    if not key.live:
        raise ConflictError(
            f"device key {key.key_id} was revoked and cannot return; make a new key"
        )
    return key


def keys_of(db: Connection, user_id: str) -> list[DeviceKey]:
    """The person's device keys, revoked ones too, oldest first."""
    rows = db.execute(
        select(t.device_key)
        .where(t.device_key.c.user_id == user_id)
        .order_by(t.device_key.c.created_us, t.device_key.c.key_id)
    ).all()
    return [row_key(r) for r in rows]


def own_key(db: Connection, user_id: str, kid: str) -> DeviceKey:
    """The person's key ``kid`` (NotFoundError for anyone else's: their keys are not shown)."""
    key = get_key(db, kid)
    if key is None or key.user_id != user_id:
        raise NotFoundError(f"no device key {kid} of yours")
    return key


def own_live_key(db: Connection, user_id: str, kid: str) -> DeviceKey:
    key = own_key(db, user_id, kid)
    if not key.live:
        raise GoneError(f"device key {kid} is revoked; register a new key for this device")
    return key


def revoke(db: Connection, *, user_id: str, key_id: str, now_us: int) -> DeviceKey:
    """Revoke the person's key here (revoking a revoked key changes nothing). The cars it is
    enrolled on keep it until their owner revokes it there with ``key.revoke``."""
    key = own_key(db, user_id, key_id)
    if not key.live:
        return key
    db.execute(
        update(t.device_key).where(t.device_key.c.key_id == key_id).values(revoked_us=now_us)
    )
    audit.record(
        db,
        ts_us=now_us,
        action="device_key.revoked",
        actor_id=user_id,
        detail={"key_id": key_id, "label": key.label},
    )
    return DeviceKey(
        key.key_id,
        key.user_id,
        key.public_key,
        key.algorithm,
        key.label,
        key.created_us,
        now_us,
    )
