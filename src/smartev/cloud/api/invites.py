"""The invites API: the owner invites people into a household with a one-time code (shown only
when it is made), lists and revokes pending invites; anyone logged in accepts a code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from smartev.cloud import invites
from smartev.cloud.api.common import (
    ID_PATTERN,
    Email,
    HouseholdId,
    WholeNumber,
    domain_errors,
    error_responses,
    from_us,
)
from smartev.cloud.api.households import HouseholdOut
from smartev.cloud.deps import Caller, context, now_us

router = APIRouter(tags=["invites"])

InviteId = Annotated[str, Path(pattern=ID_PATTERN, description="The invite's id.")]
EXPIRES_MAX_H = 720


def _auth_now_us(request: Request) -> int:
    return int(context(request).auth_clock.timestamp() * 1_000_000)


class NewInviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email | None = Field(
        default=None, description="When given, only the account with this address may accept."
    )
    expires_in_h: WholeNumber = Field(default=72, ge=1, le=EXPIRES_MAX_H)


class InviteOut(BaseModel):
    id: str
    email: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, invite: invites.Invite) -> InviteOut:
        return cls(
            id=invite.id,
            email=invite.email,
            created_by=invite.created_by,
            created_at=from_us(invite.created_us),
            expires_at=from_us(invite.expires_us),
        )


class NewInviteOut(InviteOut):
    code: str = Field(description="The one-time code to pass on; it is not shown again.")


class Accept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=100)


@router.post(
    "/api/v1/households/{household_id}/invites",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 404),
    summary="Invite someone (owner)",
)
def create_invite(
    household_id: HouseholdId, body: NewInviteIn, caller: Caller, request: Request
) -> NewInviteOut:
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        made = invites.create_invite(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            email=body.email,
            expires_in_s=body.expires_in_h * 3600,
            auth_now_us=_auth_now_us(request),
            now_us=now_us(ctx),
        )
    return NewInviteOut(**InviteOut.of(made.invite).model_dump(), code=made.code)


@router.get(
    "/api/v1/households/{household_id}/invites",
    responses=error_responses(401, 403, 404),
    summary="Pending invites (owner)",
)
def list_invites(household_id: HouseholdId, caller: Caller, request: Request) -> list[InviteOut]:
    """Invites not yet accepted, revoked or expired; their codes are never shown again."""
    with context(request).db.connect() as db, domain_errors():
        pending = invites.pending_invites(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            auth_now_us=_auth_now_us(request),
        )
    return [InviteOut.of(i) for i in pending]


@router.delete(
    "/api/v1/households/{household_id}/invites/{invite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409),
    summary="Revoke an invite (owner)",
)
def revoke_invite(
    household_id: HouseholdId, invite_id: InviteId, caller: Caller, request: Request
) -> None:
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        invites.revoke_invite(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            invite_id=invite_id,
            auth_now_us=_auth_now_us(request),
            now_us=now_us(ctx),
        )


@router.post(
    "/api/v1/invites/accept",
    responses=error_responses(400, 401, 403, 404, 409, 410),
    summary="Join a household with an invite code",
)
def accept_invite(body: Accept, caller: Caller, request: Request) -> HouseholdOut:
    """404: no invite has the code; 410: it expired, was revoked or was used (the detail says
    which); 403: it names another account's e-mail address; 409: you are a member already."""
    ctx = context(request)
    try:
        with ctx.db.begin() as db, domain_errors():
            membership = invites.accept_invite(
                db,
                code=body.code,
                user_id=caller.user_id,
                auth_now_us=_auth_now_us(request),
                now_us=now_us(ctx),
            )
    except IntegrityError:  # joined through another invite at the same moment
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="you are a member of this household already"
        ) from None
    return HouseholdOut.of(membership)
