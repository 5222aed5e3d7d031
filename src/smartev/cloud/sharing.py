"""Sharing a household's cars: the owner gives a member a role for one car (driver, guest
within a validity window, charging manager), changes it or takes it back.

Only the household's owner shares; the person must be a member of the household and the car
must belong to it. Every change is recorded in the car's audit log. What a role allows is
:mod:`smartev.cloud.access`'s business, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, delete, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.access import GRANTABLE, CarRole
from smartev.cloud.errors import ConflictError, InvalidFieldError, NotFoundError
from smartev.cloud.households import require_member, require_owner_of

_SHARE = "share its cars"


@dataclass(frozen=True, slots=True)
class Grant:
    car_id: str
    user_id: str
    role: CarRole
    valid_from_us: int | None
    valid_until_us: int | None
    granted_by: str
    created_us: int


# A validity window's ends must fall in these years: anything else is a typo, not a plan.
EARLIEST_US = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z
LATEST_US = 7_258_118_400 * 1_000_000  # 2200-01-01T00:00:00Z


def check_window(role: CarRole, valid_from_us: int | None, valid_until_us: int | None) -> None:
    """InvalidFieldError naming the field when the role or its validity window is wrong."""
    if role not in GRANTABLE:
        grantable = ", ".join(GRANTABLE)
        raise InvalidFieldError("role", f"{role} cannot be granted; grantable are {grantable}")
    if role is CarRole.GUEST and valid_until_us is None:
        raise InvalidFieldError("valid_until", "a guest's role needs an end")
    for field, value in (("valid_from", valid_from_us), ("valid_until", valid_until_us)):
        if value is not None and not EARLIEST_US <= value < LATEST_US:
            raise InvalidFieldError(field, "must be a time in the years 2000..2199")
    if valid_from_us is not None and valid_until_us is not None and valid_until_us <= valid_from_us:
        raise InvalidFieldError("valid_until", "must be later than valid_from")


def _require_car_in(db: Connection, household_id: str, car_id: str) -> None:
    found = db.execute(
        select(t.car.c.id).where(t.car.c.id == car_id, t.car.c.household_id == household_id)
    ).first()
    if found is None:
        raise NotFoundError(f"no car {car_id} in household {household_id}")


def _grants(db: Connection, *conditions: ColumnElement[bool]) -> list[Grant]:
    rows = db.execute(
        select(t.car_grant).where(*conditions).order_by(t.car_grant.c.car_id, t.car_grant.c.user_id)
    ).all()
    return [
        Grant(
            car_id=r.car_id,
            user_id=r.user_id,
            role=CarRole(r.role),
            valid_from_us=r.valid_from_us,
            valid_until_us=r.valid_until_us,
            granted_by=r.granted_by,
            created_us=r.created_us,
        )
        for r in rows
    ]


def set_grant(
    db: Connection,
    *,
    household_id: str,
    actor_id: str,
    car_id: str,
    user_id: str,
    role: CarRole,
    valid_from_us: int | None,
    valid_until_us: int | None,
    now_us: int,
) -> Grant:
    """Give ``user_id`` the role for the car, replacing the role they had."""
    owner = require_owner_of(db, household_id, actor_id, _SHARE)
    _require_car_in(db, household_id, car_id)
    try:
        grantee = require_member(db, household_id, user_id)
    except NotFoundError:
        raise NotFoundError(
            f"user {user_id} is not a member of household {household_id}; invite them first"
        ) from None
    if grantee.user_id == owner.owner_id:
        raise ConflictError("the household's owner is the owner of each of its cars already")
    check_window(role, valid_from_us, valid_until_us)
    values = {
        "role": role.value,
        "valid_from_us": valid_from_us,
        "valid_until_us": valid_until_us,
        "granted_by": actor_id,
        "created_us": now_us,
    }
    changed = db.execute(
        update(t.car_grant)
        .where(t.car_grant.c.car_id == car_id, t.car_grant.c.user_id == user_id)
        .values(**values)
    )
    if changed.rowcount == 0:
        db.execute(
            insert(t.car_grant).values(id=t.new_id("grt"), car_id=car_id, user_id=user_id, **values)
        )
    audit.record(
        db,
        ts_us=now_us,
        action="grant.set",
        actor_id=actor_id,
        household_id=household_id,
        car_id=car_id,
        detail={
            "user_id": user_id,
            "role": role.value,
            "valid_from_us": valid_from_us,
            "valid_until_us": valid_until_us,
        },
    )
    return Grant(car_id, user_id, role, valid_from_us, valid_until_us, actor_id, now_us)


def revoke_grant(
    db: Connection, *, household_id: str, actor_id: str, car_id: str, user_id: str, now_us: int
) -> None:
    require_owner_of(db, household_id, actor_id, _SHARE)
    _require_car_in(db, household_id, car_id)
    existing = _grants(db, t.car_grant.c.car_id == car_id, t.car_grant.c.user_id == user_id)
    if not existing:
        raise NotFoundError(f"user {user_id} has no role for car {car_id}")
    db.execute(
        delete(t.car_grant).where(t.car_grant.c.car_id == car_id, t.car_grant.c.user_id == user_id)
    )
    audit.record(
        db,
        ts_us=now_us,
        action="grant.revoked",
        actor_id=actor_id,
        household_id=household_id,
        car_id=car_id,
        detail={"user_id": user_id, "role": existing[0].role.value},
    )


def grants_for_car(db: Connection, *, household_id: str, actor_id: str, car_id: str) -> list[Grant]:
    """The roles given for one car (the owner's view)."""
    require_owner_of(db, household_id, actor_id, _SHARE)
    _require_car_in(db, household_id, car_id)
    return _grants(db, t.car_grant.c.car_id == car_id)


def grants_in_household(db: Connection, household_id: str) -> list[Grant]:
    """Every role given for the household's cars (to members of it)."""
    household_cars = select(t.car.c.id).where(t.car.c.household_id == household_id)
    members = select(t.household_member.c.user_id).where(
        t.household_member.c.household_id == household_id
    )
    return _grants(db, t.car_grant.c.car_id.in_(household_cars), t.car_grant.c.user_id.in_(members))
