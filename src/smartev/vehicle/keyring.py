"""The car's key ring: the user keys enrolled on this car, each with its role and validity window.

Pure data and rules, no I/O: the car stores :meth:`KeyRing.to_records` wherever it keeps state
(SQLite, JSON) and rebuilds the ring with :meth:`KeyRing.from_records`; ``on_change`` tells it
when to save. The first owner key comes from pairing (:meth:`KeyRing.pair_owner`); every later
change arrives as an owner-signed command, checked by :mod:`smartev.vehicle.commands` before it
reaches :meth:`KeyRing.add` or :meth:`KeyRing.revoke`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final, TypedDict

from smartev.core.errors import InvalidInputError
from smartev.link.signing import PublicKey, SigningError, key_id, load_public_key
from smartev.vehicle.errors import VehicleError

PAIRING: Final = "pairing"  # enrolled_by of the key enrolled at pairing
_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


class Role(StrEnum):
    """What a key may do; the commands of each role are in ``command_table.ALLOWED``."""

    OWNER = "owner"
    DRIVER = "driver"
    GUEST = "guest"
    CHARGING_MANAGER = "charging_manager"
    SERVICE = "service"


class KeyRingError(VehicleError, InvalidInputError):
    """A key-ring change or a stored record breaks a rule; the message says which."""


@dataclass(frozen=True, slots=True)
class EnrolledKey:
    """One user key on this car. Times are the car's clock, microseconds since the Unix epoch."""

    key_id: str
    public_key: bytes
    role: Role
    label: str
    valid_from_us: int
    valid_until_us: int | None
    enrolled_by: str  # key id of the owner key that signed the enrollment, or "pairing"
    enrolled_at_us: int
    revoked_at_us: int | None = None
    revoked_by: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at_us is not None

    def is_valid_at(self, now_us: int) -> bool:
        """True inside the key's validity window (revocation is checked separately)."""
        if now_us < self.valid_from_us:
            return False
        return self.valid_until_us is None or now_us < self.valid_until_us


class KeyRecord(TypedDict):
    """An :class:`EnrolledKey` as plain JSON-ready data (public key in lowercase hex)."""

    key_id: str
    public_key: str
    role: str
    label: str
    valid_from_us: int
    valid_until_us: int | None
    enrolled_by: str
    enrolled_at_us: int
    revoked_at_us: int | None
    revoked_by: str | None


class KeyRing:
    """The keys enrolled on one car, by key id. Revoked keys stay, marked, so they cannot return."""

    def __init__(
        self,
        keys: Iterable[EnrolledKey] = (),
        *,
        on_change: Callable[[KeyRing], None] | None = None,
    ) -> None:
        self._keys: dict[str, EnrolledKey] = {}
        self._public: dict[str, PublicKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise KeyRingError(f"key {key.key_id} appears twice in the key ring")
            self._store(key)
        self._on_change = on_change

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[EnrolledKey]:
        return iter(self._keys.values())

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def get(self, kid: str) -> EnrolledKey | None:
        return self._keys.get(kid)

    def public_key(self, kid: str) -> PublicKey:
        """The loaded public key of an enrolled key (loaded once: P-256 point checks cost)."""
        return self._public[kid]

    def has_owner(self) -> bool:
        """True when a key with the owner role is enrolled and not revoked."""
        return any(k.role is Role.OWNER and not k.revoked for k in self._keys.values())

    def pair_owner(self, public_key: bytes, label: str, now_us: int) -> EnrolledKey:
        """Enroll the first owner key, at pairing. Refused once the car has an owner.

        The caller makes sure pairing happens in the car (screen, NFC card), never remotely.
        """
        if self.has_owner():
            raise KeyRingError(
                "pairing refused: this car already has an owner key; a further owner key must "
                "be enrolled with a key.enroll command signed by an owner"
            )
        return self.add(
            public_key=public_key,
            role=Role.OWNER,
            label=label,
            valid_from_us=0,
            valid_until_us=None,
            enrolled_by=PAIRING,
            now_us=now_us,
        )

    def add(
        self,
        *,
        public_key: bytes,
        role: Role,
        label: str,
        valid_from_us: int,
        valid_until_us: int | None,
        enrolled_by: str,
        now_us: int,
    ) -> EnrolledKey:
        """Enroll a key; the caller has checked that an owner asked for it."""
        key = EnrolledKey(
            key_id=key_id(public_key),
            public_key=public_key,
            role=Role(role),
            label=label,
            valid_from_us=valid_from_us,
            valid_until_us=valid_until_us,
            enrolled_by=enrolled_by,
            enrolled_at_us=now_us,
        )
        existing = self._keys.get(key.key_id)
        if existing is not None:
            state = f"revoked at {existing.revoked_at_us} us" if existing.revoked else "active"
            raise KeyRingError(
                f"key {key.key_id} is already enrolled ({existing.role}, {state}); "
                "a revoked key cannot return: make a new key"
            )
        self._store(key)
        self._changed()
        return key

    def revoke(self, kid: str, *, revoked_by: str, now_us: int) -> EnrolledKey:
        """Revoke a key from now on. Revoking a revoked key changes nothing."""
        key = self._keys.get(kid)
        if key is None:
            raise KeyRingError(f"cannot revoke key {kid}: no such key is enrolled on this car")
        if key.revoked:
            return key
        if key.role is Role.OWNER and not any(
            k.role is Role.OWNER and not k.revoked and k.key_id != kid for k in self
        ):
            raise KeyRingError(
                f"cannot revoke key {kid}: it is the last owner key; enroll another owner first"
            )
        revoked = replace(key, revoked_at_us=now_us, revoked_by=revoked_by)
        self._keys[kid] = revoked
        self._changed()
        return revoked

    def to_records(self) -> list[KeyRecord]:
        return [
            KeyRecord(
                key_id=k.key_id,
                public_key=k.public_key.hex(),
                role=str(k.role),
                label=k.label,
                valid_from_us=k.valid_from_us,
                valid_until_us=k.valid_until_us,
                enrolled_by=k.enrolled_by,
                enrolled_at_us=k.enrolled_at_us,
                revoked_at_us=k.revoked_at_us,
                revoked_by=k.revoked_by,
            )
            for k in self._keys.values()
        ]

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, object]],
        *,
        on_change: Callable[[KeyRing], None] | None = None,
    ) -> KeyRing:
        """Rebuild a ring from :meth:`to_records` output; a bad record raises KeyRingError."""
        return cls((_from_record(i, r) for i, r in enumerate(records)), on_change=on_change)

    def _store(self, key: EnrolledKey) -> None:
        _check_key(key)
        try:
            self._public[key.key_id] = load_public_key(key.public_key)
        except SigningError as exc:
            raise KeyRingError(f"key {key.key_id}: {exc}") from exc
        self._keys[key.key_id] = key

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)


def _is_time(value: object) -> bool:
    return type(value) is int and 0 <= value <= 2**62


def _is_key_id(value: object) -> bool:
    return type(value) is str and _KEY_ID.fullmatch(value) is not None


def _check_key(key: EnrolledKey) -> None:
    name = f"key {key.key_id!r}"
    if not isinstance(key.role, Role):
        raise KeyRingError(f"{name}: role {key.role!r} must be one of {[str(r) for r in Role]}")
    if type(key.public_key) is not bytes or key.key_id != key_id(key.public_key):
        raise KeyRingError(f"{name}: key_id must be the first 16 hex of SHA-256(public_key)")
    if type(key.label) is not str or _LABEL.fullmatch(key.label) is None:
        raise KeyRingError(f"{name}: label {key.label!r} must be 1..64 printable characters")
    if not _is_time(key.valid_from_us) or not _is_time(key.enrolled_at_us):
        raise KeyRingError(f"{name}: valid_from_us and enrolled_at_us must be times in us")
    until = key.valid_until_us
    if until is not None and (not _is_time(until) or until <= key.valid_from_us):
        raise KeyRingError(
            f"{name}: valid_until_us {until} must be a time after valid_from_us {key.valid_from_us}"
        )
    if key.role is Role.GUEST and until is None:
        raise KeyRingError(f"{name}: a guest key needs valid_until_us (the end of its stay)")
    if key.enrolled_by != PAIRING and not _is_key_id(key.enrolled_by):
        raise KeyRingError(f"{name}: enrolled_by must be a key id or {PAIRING!r}")
    if key.revoked_at_us is None and key.revoked_by is None:
        return
    if not _is_time(key.revoked_at_us) or not _is_key_id(key.revoked_by):
        raise KeyRingError(
            f"{name}: revoked_at_us (a time) and revoked_by (a key id) are set together or not "
            "at all"
        )


def _from_record(index: int, record: Mapping[str, object]) -> EnrolledKey:
    fields = set(KeyRecord.__annotations__)
    if not isinstance(record, Mapping) or set(record) != fields:
        raise KeyRingError(f"key record {index}: must have exactly the fields {sorted(fields)}")
    public_hex, role = record["public_key"], record["role"]
    if type(public_hex) is not str or type(role) is not str or role not in set(Role):
        raise KeyRingError(f"key record {index}: public_key must be hex, role one of {list(Role)}")
    try:
        public_key = bytes.fromhex(public_hex)
    except ValueError as exc:
        raise KeyRingError(f"key record {index}: public_key is not hex") from exc
    kwargs = {name: record[name] for name in fields - {"public_key", "role"}}
    return EnrolledKey(public_key=public_key, role=Role(role), **kwargs)  # type: ignore[arg-type]
