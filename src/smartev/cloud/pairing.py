"""Pairing: a car joins a household by the one-time code it shows; unpairing lets it go again.

The car makes the code and sends only its hash and expiry over its authenticated link
(:class:`~smartev.link.PairingOffer`); :func:`store_offer` keeps them on the car's row. A person who
reads the code off the car enters it (:func:`pair_car`); the cloud finds the car by the code's
hash, checks it has not expired, puts the car in the person's household and clears the code, so
it works once. A car already in a household is not taken by a new code: its owner unpairs it first
(:func:`unpair_car`). Codes are short (40 bits, valid 10 minutes), so failed attempts are limited
per person (:class:`PairingLimiter`). Times are the world clock's, like the car's own.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.db import Database
from smartev.cloud.errors import ConflictError, GoneError, NotFoundError
from smartev.cloud.households import create_household, own_home_name, require_owner_of
from smartev.core.clock import Clock
from smartev.core.errors import SmartevError
from smartev.link import PairingOffer
from smartev.link.pairing import PAIRING_TTL_S, pairing_code_sha256

log = logging.getLogger(__name__)

PAIRING_FAILURES_ALLOWED: Final = 10
PAIRING_WINDOW_S: Final = 600.0
# A car's clock may run a little ahead of ours; an offer is kept at most this long.
MAX_OFFER_AHEAD_US: Final = int((PAIRING_TTL_S + 60) * 1_000_000)
CAR_NAME_MAX_CHARS: Final = 100


class TooManyPairingAttemptsError(SmartevError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many wrong pairing codes; try again in {retry_after_s} s "
            "(check the code on the car's screen)"
        )
        self.retry_after_s = retry_after_s


class WrongCodeError(NotFoundError):
    """No car shows this code (mistyped, or used already)."""


class ExpiredCodeError(GoneError):
    """The car showed this code, but it has expired."""


@dataclass(frozen=True, slots=True)
class PairedCar:
    car_id: str
    name: str
    household_id: str
    paired_us: int


def ensure_car(db: Connection, car_id: str) -> None:
    """Give a car seen for the first time its row (named by its id); a no-op otherwise."""
    insert_ = sqlite.insert if db.dialect.name == "sqlite" else postgresql.insert
    db.execute(
        insert_(t.car)
        .values(id=car_id, name=car_id[:CAR_NAME_MAX_CHARS])
        .on_conflict_do_nothing(index_elements=[t.car.c.id])
    )


def store_offer(db: Database, car_id: str, offer: PairingOffer, now_us: int) -> bool:
    """Keep the code hash the car offers (replacing an older one); False when it has expired."""
    if offer.expires_at_us <= now_us:
        log.info("car %s offered a pairing code that had already expired; ignored", car_id)
        return False
    expires_us = min(offer.expires_at_us, now_us + MAX_OFFER_AHEAD_US)
    with db.begin() as c:
        ensure_car(c, car_id)
        c.execute(
            update(t.car)
            .where(t.car.c.id == car_id)
            .values(pairing_code_hash=offer.code_sha256.hex(), pairing_expires_us=expires_us)
        )
    log.info("car %s shows a pairing code", car_id)
    return True


class PairingLimiter:
    """At most :data:`PAIRING_FAILURES_ALLOWED` wrong codes per person in
    :data:`PAIRING_WINDOW_S` (on the security clock). In memory: one process."""

    def __init__(self, clock: Clock, *, max_people: int = 100_000) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._max_people = max_people

    def check(self, user_id: str) -> None:
        failures = self._failures.get(user_id)
        if not failures:
            return
        now = self._clock.monotonic()
        while failures and failures[0] <= now - PAIRING_WINDOW_S:
            failures.popleft()
        if len(failures) >= PAIRING_FAILURES_ALLOWED:
            raise TooManyPairingAttemptsError(int(failures[0] + PAIRING_WINDOW_S - now) + 1)

    def failed(self, user_id: str) -> None:
        if len(self._failures) >= self._max_people:
            self._failures.clear()  # bounded memory beats perfect memory under a flood
        self._failures.setdefault(user_id, deque()).append(self._clock.monotonic())


def _target_household(db: Connection, user_id: str, household_id: str | None, now_us: int) -> str:
    if household_id is not None:
        require_owner_of(db, household_id, user_id, "pair cars with it")
        return household_id
    owned = db.execute(
        select(t.household.c.id)
        .where(t.household.c.owner_id == user_id)
        .order_by(t.household.c.created_us, t.household.c.id)
        .limit(1)
    ).first()
    if owned is not None:
        owned_id: str = owned.id
        return owned_id
    # Every account gets a household at sign-up; one made before that rule gets it now.
    name = db.execute(select(t.user.c.display_name).where(t.user.c.id == user_id)).scalar_one()
    return create_household(db, owner_id=user_id, name=own_home_name(name), now_us=now_us)


def pair_car(
    db: Connection,
    *,
    user_id: str,
    code: str,
    now_us: int,
    name: str | None = None,
    household_id: str | None = None,
) -> PairedCar:
    """Put the car that shows ``code`` into the person's household (their own unless they name
    another they own). NotFoundError for a code no car shows (wrong or used), GoneError for an
    expired one, ConflictError for a car that is in a household already."""
    target = _target_household(db, user_id, household_id, now_us)
    digest = pairing_code_sha256(code).hex()
    rows = db.execute(
        select(t.car.c.id, t.car.c.name, t.car.c.household_id, t.car.c.pairing_expires_us)
        .where(t.car.c.pairing_code_hash == digest)
        .with_for_update()
    ).all()
    if len(rows) != 1:
        # Two cars showing the same code (1 in 2**40) are told apart by neither: ask for a new one.
        raise WrongCodeError(
            "no car shows this pairing code: check it on the car's screen (a code works once)"
        )
    car = rows[0]
    if car.pairing_expires_us is None or car.pairing_expires_us <= now_us:
        raise ExpiredCodeError("this pairing code has expired: let the car show a new one")
    if car.household_id is not None:
        where = "your household" if car.household_id == target else "another household"
        raise ConflictError(
            f"car {car.id} is already paired with {where}; its owner must unpair it first"
        )
    new_name = name.strip() if name and name.strip() else car.name
    db.execute(
        update(t.car)
        .where(t.car.c.id == car.id)
        .values(
            household_id=target,
            name=new_name,
            paired_us=now_us,
            pairing_code_hash=None,
            pairing_expires_us=None,
        )
    )
    audit.record(
        db,
        ts_us=now_us,
        action="car.paired",
        actor_id=user_id,
        household_id=target,
        car_id=car.id,
        detail={"name": new_name},
    )
    return PairedCar(car.id, new_name, target, now_us)


def unpair_car(
    db: Connection, *, user_id: str, car_id: str, household_id: str, now_us: int
) -> None:
    """Take the car out of its household: every role given for it ends, its code is cleared."""
    db.execute(delete(t.car_grant).where(t.car_grant.c.car_id == car_id))
    db.execute(
        update(t.car)
        .where(t.car.c.id == car_id)
        .values(household_id=None, paired_us=None, pairing_code_hash=None, pairing_expires_us=None)
    )
    audit.record(
        db,
        ts_us=now_us,
        action="car.unpaired",
        actor_id=user_id,
        household_id=household_id,
        car_id=car_id,
    )


def rename_car(
    db: Connection, *, user_id: str, car_id: str, household_id: str, name: str, now_us: int
) -> None:
    old = db.execute(select(t.car.c.name).where(t.car.c.id == car_id)).scalar_one()
    db.execute(update(t.car).where(t.car.c.id == car_id).values(name=name))
    audit.record(
        db,
        ts_us=now_us,
        action="car.renamed",
        actor_id=user_id,
        household_id=household_id,
        car_id=car_id,
        detail={"from": old, "to": name},
    )
