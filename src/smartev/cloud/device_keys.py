"""What the cars know of people's device keys (registered in :mod:`.key_registration`): whether
each key is enrolled on the cars its person may use, what an owner's device still has to
enroll, and the highest command counter a key has used on a car.

The cloud never holds a device's private key and cannot enroll a key by itself: a car trusts a
key once a command ``key.enroll`` signed by one of its owner keys has been executed on it. What a
key's state on a car is follows from the key commands stored for that car since it was paired:

- ``enrolled``: a ``key.enroll`` of the key was executed, and no ``key.revoke`` of it since;
- ``revoked``: a ``key.revoke`` of it was executed after that (the car never takes it back), or
  the person revoked the key here;
- ``pending``: neither yet: the owner's device has still to enroll it (:func:`key_requests`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import Connection, func, select

from smartev.cloud import schema as t
from smartev.cloud.access import CarRole, visible_cars
from smartev.cloud.db import Database
from smartev.cloud.key_registration import DeviceKey, row_key
from smartev.link.signing import ArgValue, KeyAlgorithm
from smartev.vehicle.command_table import key_enroll_args
from smartev.vehicle.keyring import Role

ENROLL: Final = "key.enroll"
REVOKE: Final = "key.revoke"
EXECUTED: Final = "executed"
IN_FLIGHT: Final = frozenset({"requested", "delivered", "accepted"})
# A key.enroll the car rejected for this reason will be rejected again (the key is already on
# its ring, or revoked there): asking the owner's device to send it again would loop forever.
REFUSED_FOR_GOOD: Final = "invalid_value"


class KeyState(StrEnum):
    ENROLLED = "enrolled"
    PENDING = "pending"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class CarKeyState:
    """One key's state on one car the key's person has a role for."""

    car_id: str
    role: CarRole
    state: KeyState


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """A member's key that the household's owner has still to enroll on one car: what their
    signing device needs to sign ``key.enroll`` (see :meth:`enroll_args`)."""

    key_id: str
    public_key: bytes
    algorithm: KeyAlgorithm
    label: str
    user_id: str
    email: str
    car_id: str
    role: Role  # the car's role to enroll the key with
    valid_from_us: int | None
    valid_until_us: int | None

    def enroll_args(self) -> dict[str, ArgValue]:
        """The arguments of the ``key.enroll`` command that enrolls this key on the car."""
        return key_enroll_args(
            self.public_key,
            self.role,
            self.label,
            valid_from_us=self.valid_from_us,
            valid_until_us=self.valid_until_us,
        )


# ── what the cars know of the keys ─────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class _KeyCommand:
    """A stored key.enroll or key.revoke of a car, with its current state."""

    car_id: str
    name: str
    args: Mapping[str, ArgValue]
    state: str
    reason: str  # of the current state
    state_us: int  # when it reached its current state
    created_us: int
    expires_us: int


def _key_commands(db: Connection, car_ids: Sequence[str]) -> list[_KeyCommand]:
    """The key commands stored for the cars since each was paired (older ones went to a key
    ring that pairing replaced), in the order they reached their state."""
    if not car_ids:
        return []
    c = t.command.c
    rows = db.execute(
        select(c.id, c.car_id, c.name, c.args, c.state, c.created_us, c.expires_us)
        .join(t.car, t.car.c.id == c.car_id)
        .where(
            c.car_id.in_(list(car_ids)),
            c.name.in_((ENROLL, REVOKE)),
            c.created_us >= func.coalesce(t.car.c.paired_us, 0),
        )
    ).all()
    if not rows:
        return []
    last: dict[str, tuple[int, str, int]] = {}  # command id → (n, reason, ts_us)
    for s in db.execute(
        select(
            t.command_state.c.command_id,
            t.command_state.c.n,
            t.command_state.c.reason,
            t.command_state.c.ts_us,
        ).where(t.command_state.c.command_id.in_([r.id for r in rows]))
    ):
        if s.command_id not in last or s.n > last[s.command_id][0]:
            last[s.command_id] = (s.n, s.reason, s.ts_us)
    out = []
    for r in rows:
        _n, reason, state_us = last.get(r.id, (0, "", r.created_us))
        try:
            args = json.loads(r.args)
        except ValueError:
            continue  # not written by the relay: nothing a car executed
        if isinstance(args, dict):
            out.append(
                _KeyCommand(
                    r.car_id, r.name, args, r.state, reason, state_us, r.created_us, r.expires_us
                )
            )
    return sorted(out, key=lambda k: (k.state_us, k.created_us))


@dataclass(frozen=True, slots=True)
class _OnCar:
    """One key as one car's stored key commands left it."""

    enrolled: bool  # a key.enroll of it was executed
    revoked: bool  # a key.revoke of it was executed after that: the car never takes it back
    enrolling: bool  # a key.enroll of it is on its way to the car
    enroll_refused: bool  # the car rejected its latest key.enroll for good
    revoking: bool  # a key.revoke of it is on its way to the car
    revoke_refused: bool  # the car rejected its latest key.revoke for good

    def state(self, key: DeviceKey) -> KeyState:
        """What the key's person is told: revoked on the car or here, enrolled, or pending."""
        if self.revoked or not key.live:
            return KeyState.REVOKED
        return KeyState.ENROLLED if self.enrolled else KeyState.PENDING


def _on_car(history: Iterable[_KeyCommand], car_id: str, key: DeviceKey, now_us: int) -> _OnCar:
    public_hex = key.public_key.hex()
    enrolled = revoked = enrolling = revoking = enroll_refused = revoke_refused = False
    for command in history:
        if command.car_id != car_id:
            continue
        if command.name == ENROLL and command.args.get("public_key") == public_hex:
            is_enroll = True
        elif command.name == REVOKE and command.args.get("key_id") == key.key_id:
            is_enroll = False
        else:
            continue
        executed = command.state == EXECUTED
        on_its_way = command.state in IN_FLIGHT and command.expires_us > now_us
        for_good = command.state == "rejected" and command.reason == REFUSED_FOR_GOOD
        if is_enroll:
            enrolled = enrolled or executed
            enrolling = enrolling or on_its_way
            if executed or command.state not in IN_FLIGHT:
                enroll_refused = for_good
        else:
            revoked = revoked or (executed and enrolled)
            revoking = revoking or on_its_way
            if executed or command.state not in IN_FLIGHT:
                revoke_refused = for_good
    return _OnCar(enrolled, revoked, enrolling, enroll_refused, revoking, revoke_refused)


def car_states(
    db: Connection, user_id: str, keys: Sequence[DeviceKey], now_us: int
) -> dict[str, list[CarKeyState]]:
    """For each of the person's keys (by key id): its state on every car they have a role for."""
    cars = sorted(visible_cars(db, user_id, now_us), key=lambda a: a.car_id)
    history = _key_commands(db, [a.car_id for a in cars])
    return {
        key.key_id: [
            CarKeyState(a.car_id, a.role, _on_car(history, a.car_id, key, now_us).state(key))
            for a in cars
        ]
        for key in keys
    }


@dataclass(frozen=True, slots=True)
class _Role:
    user_id: str
    email: str
    car_id: str
    role: CarRole
    valid_from_us: int | None
    valid_until_us: int | None


def _household_roles(db: Connection, household_id: str, now_us: int) -> list[_Role]:
    """Every member's role for every car of the household that has not ended: the owner's
    (owner of each car) and the roles given, including those that start later."""
    owner = db.execute(
        select(t.household.c.owner_id, t.user.c.email)
        .join(t.user, t.user.c.id == t.household.c.owner_id)
        .where(t.household.c.id == household_id)
    ).first()
    if owner is None:
        return []
    car_ids = list(
        db.execute(
            select(t.car.c.id).where(t.car.c.household_id == household_id).order_by(t.car.c.id)
        ).scalars()
    )
    roles = [_Role(owner.owner_id, owner.email, car, CarRole.OWNER, None, None) for car in car_ids]
    g = t.car_grant.c
    grants = db.execute(
        select(g.car_id, g.user_id, g.role, g.valid_from_us, g.valid_until_us, t.user.c.email)
        .join(t.user, t.user.c.id == g.user_id)
        .join(
            t.household_member,
            (t.household_member.c.user_id == g.user_id)
            & (t.household_member.c.household_id == household_id),
        )
        .where(
            g.car_id.in_(car_ids),
            g.user_id != owner.owner_id,
            (g.valid_until_us.is_(None)) | (g.valid_until_us > now_us),
        )
        .order_by(g.user_id, g.car_id)
    ).all()
    roles.extend(
        _Role(r.user_id, r.email, r.car_id, CarRole(r.role), r.valid_from_us, r.valid_until_us)
        for r in grants
    )
    return roles


def key_requests(db: Connection, household_id: str, now_us: int) -> list[KeyRequest]:
    """The keys the household's owner has still to enroll: each live key of a member (the
    owner's own too) on each household car they have a role for, unless it is enrolled there,
    revoked there, refused there for good, or a ``key.enroll`` of it is on its way.

    The role to enroll is the car's name for the person's role; a role with a validity window
    (a guest's) gives the key the same window. Ordered by person, car, key."""
    roles = _household_roles(db, household_id, now_us)
    if not roles:
        return []
    users = sorted({r.user_id for r in roles})
    keys: dict[str, list[DeviceKey]] = {}
    for row in db.execute(
        select(t.device_key)
        .where(t.device_key.c.user_id.in_(users), t.device_key.c.revoked_us.is_(None))
        .order_by(t.device_key.c.created_us, t.device_key.c.key_id)
    ):
        key = row_key(row)
        keys.setdefault(key.user_id, []).append(key)
    history = _key_commands(db, sorted({r.car_id for r in roles}))
    out = []
    for role in sorted(roles, key=lambda r: (r.user_id, r.car_id)):
        for key in keys.get(role.user_id, ()):
            on_car = _on_car(history, role.car_id, key, now_us)
            if on_car.state(key) is not KeyState.PENDING or on_car.enrolling:
                continue
            if on_car.enroll_refused:
                continue
            out.append(
                KeyRequest(
                    key_id=key.key_id,
                    public_key=key.public_key,
                    algorithm=key.algorithm,
                    label=key.label,
                    user_id=role.user_id,
                    email=role.email,
                    car_id=role.car_id,
                    role=Role(role.role.value),
                    valid_from_us=role.valid_from_us,
                    valid_until_us=role.valid_until_us,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class RevokeRequest:
    """A person's key that is enrolled on a household car but should no longer be: the key was
    revoked in the cloud, or its person has no role for the car any more. What the owner's
    signing device needs to sign ``key.revoke`` (see :meth:`revoke_args`)."""

    key_id: str
    label: str
    user_id: str
    email: str
    car_id: str
    reason: str  # in words, for the owner and the log

    def revoke_args(self) -> dict[str, ArgValue]:
        """The arguments of the ``key.revoke`` command that removes this key from the car."""
        return {"key_id": self.key_id}


def revoke_requests(db: Connection, household_id: str, now_us: int) -> list[RevokeRequest]:
    """The keys the household's owner has to revoke on the household's cars: a person's key
    enrolled on a car (by an executed ``key.enroll`` since the car joined) whose person revoked
    it in the cloud or has no role for that car any more (a role taken back or run out, a
    member who left). Keys with a ``key.revoke`` on its way, or refused by the car for good,
    are left out. Ordered by car, person, key."""
    roles = _household_roles(db, household_id, now_us)
    car_ids = sorted({r.car_id for r in roles})
    history = _key_commands(db, car_ids)
    enrolled_hex = {
        str(c.args.get("public_key")) for c in history if c.name == ENROLL and c.state == EXECUTED
    }
    if not enrolled_hex:
        return []
    keys = [
        row_key(row)
        for row in db.execute(
            select(t.device_key)
            .where(t.device_key.c.public_key.in_(sorted(enrolled_hex)))
            .order_by(t.device_key.c.user_id, t.device_key.c.key_id)
        )
    ]
    emails = dict(
        db.execute(
            select(t.user.c.id, t.user.c.email).where(t.user.c.id.in_({k.user_id for k in keys}))
        ).all()
    )
    holding = {
        (r.user_id, r.car_id)
        for r in roles
        if r.valid_until_us is None or r.valid_until_us > now_us
    }
    out = []
    for car_id in car_ids:
        for key in keys:
            on_car = _on_car(history, car_id, key, now_us)
            if not on_car.enrolled or on_car.revoked or on_car.revoking or on_car.revoke_refused:
                continue
            if not key.live:
                reason = "the key was revoked in the cloud"
            elif (key.user_id, car_id) not in holding:
                reason = "its person has no role for the car any more"
            else:
                continue
            out.append(
                RevokeRequest(
                    key.key_id, key.label, key.user_id, emails.get(key.user_id, ""), car_id, reason
                )
            )
    return out


# ── counters ───────────────────────────────────────────────────────────────────────────────


def last_counter(database: Database, car_id: str, kid: str) -> int:
    """The highest counter among the stored commands of the car signed by the key (0: none):
    the relay stores each command's key and counter with it (migration 0003 read them out of
    the envelopes stored before)."""
    c = t.command.c
    with database.connect() as db:
        highest = db.execute(
            select(func.max(c.counter)).where(c.car_id == car_id, c.key_id == kid)
        ).scalar_one()
    return int(highest or 0)
