"""The household's service key: the Ed25519 key that signs the commands its automations send to
its cars, kept by the cloud.

The owner creates it (a new one replaces and revokes the old) and enrolls its public key on each
car with a ``key.enroll`` command signed on their own device (role ``service``, label
``automations``): the cloud can then act on the owner's behalf within the service role's table,
and nothing else — the car still verifies every command. The private key is stored sealed with
AES-GCM under a key derived (HKDF-SHA256) from the cloud's token secret, bound to its household
and key id; it is never stored, logged or shown in clear. Each signature takes the next counter
from the database in the same statement that moves it on, so two processes never sign two
commands with one counter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Row, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.errors import CloudError, ConflictError
from smartev.link.signing import (
    MAX_COUNTER,
    ArgValue,
    encode_envelope,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)
from smartev.vehicle.command_table import key_enroll_args
from smartev.vehicle.keyring import Role

SERVICE_KEY_LABEL: Final = "automations"
_SEAL_INFO: Final = b"smartev service-key seal v1"
_NONCE_BYTES: Final = 12


class ServiceKeyError(CloudError):
    """The stored service key cannot be used (sealed with another secret, counter used up)."""


class NoServiceKeyError(ConflictError):
    """The household has no service key: its owner must create one and enroll it on the car."""


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """The public side of a household's service key (the private part never leaves here)."""

    key_id: str
    household_id: str
    public_key: bytes
    created_us: int
    created_by: str | None
    next_counter: int

    @property
    def enroll_args(self) -> dict[str, ArgValue]:
        """The arguments of the ``key.enroll`` command the owner's device signs for each car."""
        return key_enroll_args(self.public_key, Role.SERVICE, SERVICE_KEY_LABEL)


class KeySealer:
    """Seals private keys with a key derived from the cloud's secret (AES-256-GCM)."""

    def __init__(self, secret: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO)
        self._aead = AESGCM(derived.derive(secret.encode()))

    def seal(self, plain: bytes, bound_to: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, bound_to)

    def open(self, sealed: bytes, bound_to: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], bound_to)
        except InvalidTag:
            raise ServiceKeyError(
                "the stored service key cannot be opened: it was sealed under another secret_key "
                "(set the same secret_key on every cloud process, or create a new service key)"
            ) from None


def _bound(household_id: str, kid: str) -> bytes:
    return f"{household_id}/{kid}".encode()


def _row_to_key(row: Row[Any]) -> ServiceKey:
    return ServiceKey(
        key_id=row.key_id,
        household_id=row.household_id,
        public_key=bytes(row.public_key),
        created_us=row.created_us,
        created_by=row.created_by,
        next_counter=row.next_counter,
    )


def current_key(db: Connection, household_id: str) -> ServiceKey | None:
    """The household's key in use (not revoked), or None."""
    k = t.service_key.c
    row = db.execute(
        select(t.service_key)
        .where(k.household_id == household_id, k.revoked_us.is_(None))
        .order_by(k.created_us.desc())
    ).first()
    return None if row is None else _row_to_key(row)


def _revoke_all(db: Connection, household_id: str, now_us: int) -> list[str]:
    k = t.service_key.c
    revoked = (
        db.execute(select(k.key_id).where(k.household_id == household_id, k.revoked_us.is_(None)))
        .scalars()
        .all()
    )
    if revoked:
        db.execute(update(t.service_key).where(k.key_id.in_(revoked)).values(revoked_us=now_us))
    return list(revoked)


def create_key(
    db: Connection, sealer: KeySealer, *, household_id: str, actor_id: str, now_us: int
) -> ServiceKey:
    """A new service key for the household; the one in use (if any) is revoked. The caller has
    checked that ``actor_id`` owns the household."""
    # Serialise concurrent creations per household (PostgreSQL; SQLite has one writer anyway).
    db.execute(select(t.household.c.id).where(t.household.c.id == household_id).with_for_update())
    replaced = _revoke_all(db, household_id, now_us)
    private = Ed25519PrivateKey.generate()
    public = public_key_bytes(private)
    kid = key_id(public)
    raw = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    db.execute(
        insert(t.service_key).values(
            key_id=kid,
            household_id=household_id,
            public_key=public,
            sealed_private_key=sealer.seal(raw, _bound(household_id, kid)),
            next_counter=1,
            created_us=now_us,
            created_by=actor_id,
        )
    )
    audit.record(
        db,
        ts_us=now_us,
        action="service_key.created",
        actor_id=actor_id,
        household_id=household_id,
        detail={"key_id": kid, "replaced": ",".join(replaced) or None},
    )
    return ServiceKey(kid, household_id, public, now_us, actor_id, 1)


def revoke_key(db: Connection, *, household_id: str, actor_id: str, now_us: int) -> str:
    """Revoke the household's key; its id. NoServiceKeyError when there is none."""
    revoked = _revoke_all(db, household_id, now_us)
    if not revoked:
        raise NoServiceKeyError(f"household {household_id} has no service key to revoke")
    audit.record(
        db,
        ts_us=now_us,
        action="service_key.revoked",
        actor_id=actor_id,
        household_id=household_id,
        detail={"key_id": ",".join(revoked)},
    )
    return revoked[0]


def sign_for_car(
    db: Connection,
    sealer: KeySealer,
    *,
    household_id: str,
    car_id: str,
    name: str,
    args: Mapping[str, ArgValue],
    epoch: bytes,
    car_now_us: int,
    ttl_s: float,
) -> bytes:
    """A signed command envelope from the household's service key, with the key's next counter
    (taken and moved on in one statement: call inside the transaction that uses it)."""
    k = t.service_key.c
    row = db.execute(
        update(t.service_key)
        .where(k.household_id == household_id, k.revoked_us.is_(None))
        .values(next_counter=k.next_counter + 1)
        .returning(k.key_id, k.sealed_private_key, k.next_counter)
    ).first()
    if row is None:
        raise NoServiceKeyError(
            f"household {household_id} has no service key: its owner creates one "
            "(POST /api/v1/households/{id}/service-key) and enrolls it on the car"
        )
    counter = row.next_counter - 1
    if counter > MAX_COUNTER:
        raise ServiceKeyError(
            f"service key {row.key_id} has signed {MAX_COUNTER} commands: create a new one"
        )
    raw = sealer.open(bytes(row.sealed_private_key), _bound(household_id, row.key_id))
    private = Ed25519PrivateKey.from_private_bytes(raw)
    command = make_command(
        car_id=car_id,
        name=name,
        args=args,
        epoch=epoch,
        counter=counter,
        key_id=row.key_id,
        now_us=car_now_us,
        ttl_s=ttl_s,
    )
    return encode_envelope(sign_command(private, command))
