"""The households API: the caller's households, their members and cars, renaming, removing a
member or leaving, and the household's audit log.

A household the caller is not a member of is a 404; an owner's action tried by a member is a
403 that names the rule. Invites and car roles have routers of their own
(:mod:`~smartev.cloud.api.invites`, :mod:`~smartev.cloud.api.sharing`).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from smartev.cloud import audit, households, sharing
from smartev.cloud.access import CarRole
from smartev.cloud.api.audit import AuditPage, BeforeId, Limit
from smartev.cloud.api.common import (
    HouseholdId,
    Name,
    UserId,
    domain_errors,
    error_responses,
    from_us,
    from_us_or_none,
)
from smartev.cloud.deps import Caller, context, now_us
from smartev.cloud.households import HouseholdRole, Membership

router = APIRouter(prefix="/api/v1/households", tags=["households"])


class HouseholdOut(BaseModel):
    id: str
    name: str
    role: HouseholdRole = Field(description="The caller's place in it.")

    @classmethod
    def of(cls, membership: Membership) -> HouseholdOut:
        return cls(id=membership.household_id, name=membership.name, role=membership.role)


class CarRoleOut(BaseModel):
    car_id: str
    role: CarRole
    valid_from: datetime | None
    valid_until: datetime | None


class MemberOut(BaseModel):
    user_id: str
    display_name: str
    email: str | None = Field(description="Shown to the owner, and to each person their own.")
    role: HouseholdRole
    joined_at: datetime
    cars: list[CarRoleOut] = Field(description="The member's role for each car they have one for.")


class CarOut(BaseModel):
    id: str
    name: str


class HouseholdDetail(HouseholdOut):
    owner_id: str
    members: list[MemberOut]
    cars: list[CarOut]


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


def _members_out(
    members: list[households.Member], grants: list[sharing.Grant], cars: list[CarOut]
) -> list[MemberOut]:
    out = []
    for member in members:
        if member.role is HouseholdRole.OWNER:
            roles = [
                CarRoleOut(car_id=c.id, role=CarRole.OWNER, valid_from=None, valid_until=None)
                for c in cars
            ]
        else:
            roles = [
                CarRoleOut(
                    car_id=g.car_id,
                    role=g.role,
                    valid_from=from_us_or_none(g.valid_from_us),
                    valid_until=from_us_or_none(g.valid_until_us),
                )
                for g in grants
                if g.user_id == member.user_id
            ]
        out.append(
            MemberOut(
                user_id=member.user_id,
                display_name=member.display_name,
                email=member.email,
                role=member.role,
                joined_at=from_us(member.joined_us),
                cars=roles,
            )
        )
    return out


@router.get("", responses=error_responses(401), summary="My households")
def list_households(caller: Caller, request: Request) -> list[HouseholdOut]:
    with context(request).db.connect() as db:
        return [HouseholdOut.of(m) for m in households.households_of(db, caller.user_id)]


def _detail(request: Request, caller_id: str, household_id: str) -> HouseholdDetail:
    with context(request).db.connect() as db, domain_errors():
        membership = households.require_member(db, household_id, caller_id)
        cars = [CarOut(id=c.id, name=c.name) for c in households.cars(db, household_id)]
        members = households.members(db, membership)
        grants = sharing.grants_in_household(db, household_id)
    return HouseholdDetail(
        id=household_id,
        name=membership.name,
        role=membership.role,
        owner_id=membership.owner_id,
        members=_members_out(members, grants, cars),
        cars=cars,
    )


@router.get("/{household_id}", responses=error_responses(401, 404), summary="A household in full")
def get_household(household_id: HouseholdId, caller: Caller, request: Request) -> HouseholdDetail:
    """Its members with their role for each car, and its cars."""
    return _detail(request, caller.user_id, household_id)


@router.patch(
    "/{household_id}", responses=error_responses(400, 401, 403, 404), summary="Rename (owner)"
)
def rename_household(
    household_id: HouseholdId, body: Rename, caller: Caller, request: Request
) -> HouseholdOut:
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        membership = households.rename(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            name=body.name,
            now_us=now_us(ctx),
        )
    return HouseholdOut.of(membership)


@router.get("/{household_id}/members", responses=error_responses(401, 404), summary="Members")
def list_members(household_id: HouseholdId, caller: Caller, request: Request) -> list[MemberOut]:
    return _detail(request, caller.user_id, household_id).members


@router.delete(
    "/{household_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409),
    summary="Remove a member (owner), or leave (yourself)",
)
def remove_member(
    household_id: HouseholdId, user_id: UserId, caller: Caller, request: Request
) -> None:
    """Their roles for the household's cars end with their membership. The owner cannot leave
    (409): every account keeps its own household."""
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        households.remove_member(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            user_id=user_id,
            now_us=now_us(ctx),
        )


@router.get(
    "/{household_id}/audit",
    responses=error_responses(401, 403, 404),
    summary="The household's log (owner)",
)
def household_audit(
    household_id: HouseholdId,
    caller: Caller,
    request: Request,
    before_id: BeforeId = None,
    limit: Limit = 100,
) -> AuditPage:
    """Invites, members, renames, geofences, and the sharing of its cars; newest first."""
    with context(request).db.connect() as db, domain_errors():
        households.require_owner_of(db, household_id, caller.user_id, "read its audit log")
        events = audit.events_for_household(db, household_id, before_id=before_id, limit=limit)
    return AuditPage.of(events, limit)
