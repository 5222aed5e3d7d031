"""Households and their members: who belongs to which household, who owns it, and the checks
every household route asks the same way.

Every account gets a household of its own at sign-up, which it owns and cannot leave, so every
person belongs to at least one. A household the caller is not a member of does not exist for
them (:class:`NotFoundError`, never a "forbidden" that would confirm it exists); a member who is
not the owner gets :class:`NotPermittedError` naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Select, case, delete, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.errors import ConflictError, NotFoundError, NotPermittedError

HOUSEHOLD_NAME_MAX_CHARS = 100
_OWN_HOME_SUFFIX = "'s home"


class HouseholdRole(StrEnum):
    OWNER = "owner"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Membership:
    """One person's place in one household."""

    household_id: str
    name: str
    owner_id: str
    user_id: str

    @property
    def role(self) -> HouseholdRole:
        return HouseholdRole.OWNER if self.user_id == self.owner_id else HouseholdRole.MEMBER


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    display_name: str
    email: str | None  # shown to the owner and to the person themself only
    role: HouseholdRole
    joined_us: int


@dataclass(frozen=True, slots=True)
class HouseholdCar:
    id: str
    name: str


def own_home_name(display_name: str) -> str:
    """The name of the household made at sign-up: ``"Ada's home"``."""
    keep = HOUSEHOLD_NAME_MAX_CHARS - len(_OWN_HOME_SUFFIX)
    return display_name.strip()[:keep] + _OWN_HOME_SUFFIX


def create_household(db: Connection, *, owner_id: str, name: str, now_us: int) -> str:
    household_id = t.new_id("hh")
    db.execute(
        insert(t.household).values(id=household_id, name=name, owner_id=owner_id, created_us=now_us)
    )
    db.execute(
        insert(t.household_member).values(
            household_id=household_id, user_id=owner_id, joined_us=now_us
        )
    )
    audit.record(
        db,
        ts_us=now_us,
        action="household.created",
        actor_id=owner_id,
        household_id=household_id,
        detail={"name": name},
    )
    return household_id


def _memberships_query() -> Select[str, str, str, str]:
    return select(
        t.household.c.id, t.household.c.name, t.household.c.owner_id, t.household_member.c.user_id
    ).join(t.household_member, t.household_member.c.household_id == t.household.c.id)


def households_of(db: Connection, user_id: str) -> list[Membership]:
    """The households the user belongs to: those they own first, then by when they joined."""
    owned_first = case((t.household.c.owner_id == user_id, 0), else_=1)
    rows = db.execute(
        _memberships_query()
        .where(t.household_member.c.user_id == user_id)
        .order_by(owned_first, t.household_member.c.joined_us, t.household.c.id)
    ).all()
    return [Membership(r.id, r.name, r.owner_id, r.user_id) for r in rows]


def require_member(db: Connection, household_id: str, user_id: str) -> Membership:
    """The user's membership of the household; NotFoundError when they have none."""
    row = db.execute(
        _memberships_query().where(
            t.household.c.id == household_id, t.household_member.c.user_id == user_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no household {household_id} for you")
    return Membership(row.id, row.name, row.owner_id, row.user_id)


def require_owner(membership: Membership, action: str) -> None:
    """NotPermittedError unless the member owns the household; ``action`` completes the rule
    "only the owner of household … may …"."""
    if membership.role is not HouseholdRole.OWNER:
        raise NotPermittedError(
            f"only the owner of household {membership.household_id} may {action}"
        )


def require_owner_of(db: Connection, household_id: str, user_id: str, action: str) -> Membership:
    membership = require_member(db, household_id, user_id)
    require_owner(membership, action)
    return membership


def members(db: Connection, viewer: Membership) -> list[Member]:
    """The household's members as ``viewer`` sees them, the owner first."""
    rows = db.execute(
        select(
            t.user.c.id,
            t.user.c.display_name,
            t.user.c.email,
            t.household_member.c.joined_us,
        )
        .join(t.household_member, t.household_member.c.user_id == t.user.c.id)
        .where(t.household_member.c.household_id == viewer.household_id)
        .order_by(t.household_member.c.joined_us, t.user.c.id)
    ).all()
    sees_emails = viewer.role is HouseholdRole.OWNER
    out = [
        Member(
            user_id=r.id,
            display_name=r.display_name,
            email=r.email if sees_emails or r.id == viewer.user_id else None,
            role=HouseholdRole.OWNER if r.id == viewer.owner_id else HouseholdRole.MEMBER,
            joined_us=r.joined_us,
        )
        for r in rows
    ]
    return sorted(out, key=lambda m: m.role is not HouseholdRole.OWNER)


def cars(db: Connection, household_id: str) -> list[HouseholdCar]:
    rows = db.execute(
        select(t.car.c.id, t.car.c.name)
        .where(t.car.c.household_id == household_id)
        .order_by(t.car.c.name, t.car.c.id)
    ).all()
    return [HouseholdCar(r.id, r.name) for r in rows]


def rename(
    db: Connection, *, household_id: str, actor_id: str, name: str, now_us: int
) -> Membership:
    membership = require_owner_of(db, household_id, actor_id, "rename it")
    db.execute(update(t.household).where(t.household.c.id == household_id).values(name=name))
    audit.record(
        db,
        ts_us=now_us,
        action="household.renamed",
        actor_id=actor_id,
        household_id=household_id,
        detail={"from": membership.name, "to": name},
    )
    return Membership(household_id, name, membership.owner_id, actor_id)


def remove_member(
    db: Connection, *, household_id: str, actor_id: str, user_id: str, now_us: int
) -> None:
    """The owner removes a member, or a member leaves; either way their roles for the
    household's cars go with them (each recorded on its car)."""
    actor = require_member(db, household_id, actor_id)
    if user_id != actor_id:
        require_owner(actor, "remove other members")
    if user_id == actor.owner_id:
        raise ConflictError(
            f"the owner cannot leave household {household_id}; every account keeps its own home"
        )
    gone = db.execute(
        delete(t.household_member).where(
            t.household_member.c.household_id == household_id,
            t.household_member.c.user_id == user_id,
        )
    )
    if gone.rowcount == 0:
        raise NotFoundError(f"user {user_id} is not a member of household {household_id}")
    household_cars = select(t.car.c.id).where(t.car.c.household_id == household_id)
    grants = db.execute(
        select(t.car_grant.c.car_id, t.car_grant.c.role).where(
            t.car_grant.c.user_id == user_id, t.car_grant.c.car_id.in_(household_cars)
        )
    ).all()
    for grant in grants:
        db.execute(
            delete(t.car_grant).where(
                t.car_grant.c.car_id == grant.car_id, t.car_grant.c.user_id == user_id
            )
        )
        audit.record(
            db,
            ts_us=now_us,
            action="grant.revoked",
            actor_id=actor_id,
            household_id=household_id,
            car_id=grant.car_id,
            detail={"user_id": user_id, "role": grant.role, "reason": "left the household"},
        )
    audit.record(
        db,
        ts_us=now_us,
        action="member.left" if user_id == actor_id else "member.removed",
        actor_id=actor_id,
        household_id=household_id,
        detail={"user_id": user_id},
    )
