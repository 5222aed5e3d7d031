"""The sharing API: the household's owner gives members a role for one of its cars (driver,
guest within a window, charging manager), lists and revokes those roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from smartev.cloud import sharing
from smartev.cloud.access import CarRole
from smartev.cloud.api.common import (
    HouseholdId,
    UserId,
    WireTime,
    domain_errors,
    error_responses,
    from_us,
    from_us_or_none,
    to_us,
)
from smartev.cloud.deps import CAR_ID_PATTERN, Caller, context, now_us

router = APIRouter(prefix="/api/v1/households", tags=["sharing"])

CarId = Annotated[str, Path(pattern=CAR_ID_PATTERN, description="The car's id (VIN).")]
_GRANTS = "/{household_id}/cars/{car_id}/grants"


class _GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_from: WireTime | None = Field(
        default=None, description="ISO-8601 with an offset; null: from now on."
    )


class StandingGrantIn(_GrantIn):
    """A driver or charging manager: until taken back, unless valid_until says otherwise."""

    role: Literal["driver", "charging_manager"]
    valid_until: WireTime | None = Field(
        default=None, description="ISO-8601, later than valid_from; null: until taken back."
    )


class GuestGrantIn(_GrantIn):
    """A guest: always for a window with an end."""

    role: Literal["guest"]
    valid_until: WireTime = Field(description="ISO-8601, later than valid_from.")


GrantIn = Annotated[StandingGrantIn | GuestGrantIn, Field(discriminator="role")]


class GrantOut(BaseModel):
    car_id: str
    user_id: str
    role: CarRole
    valid_from: datetime | None
    valid_until: datetime | None
    granted_by: str
    granted_at: datetime

    @classmethod
    def of(cls, grant: sharing.Grant) -> GrantOut:
        return cls(
            car_id=grant.car_id,
            user_id=grant.user_id,
            role=grant.role,
            valid_from=from_us_or_none(grant.valid_from_us),
            valid_until=from_us_or_none(grant.valid_until_us),
            granted_by=grant.granted_by,
            granted_at=from_us(grant.created_us),
        )


@router.put(
    _GRANTS + "/{user_id}",
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Give a member a role for a car (owner)",
)
def set_grant(
    household_id: HouseholdId,
    car_id: CarId,
    user_id: UserId,
    body: GrantIn,
    caller: Caller,
    request: Request,
) -> GrantOut:
    """Replaces the role the member had for the car. The member must belong to the household
    and the car to the household; a guest's role needs valid_until; the window's ends must be
    in the years 2000..2199."""
    ctx = context(request)
    try:
        with ctx.db.begin() as db, domain_errors():
            grant = sharing.set_grant(
                db,
                household_id=household_id,
                actor_id=caller.user_id,
                car_id=car_id,
                user_id=user_id,
                role=CarRole(body.role),
                valid_from_us=None if body.valid_from is None else to_us(body.valid_from),
                valid_until_us=None if body.valid_until is None else to_us(body.valid_until),
                now_us=now_us(ctx),
            )
    except IntegrityError:  # the same role given twice at the same moment
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="the role was changed at the same time; try again"
        ) from None
    return GrantOut.of(grant)


@router.delete(
    _GRANTS + "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
    summary="Take a member's role for a car back (owner)",
)
def revoke_grant(
    household_id: HouseholdId, car_id: CarId, user_id: UserId, caller: Caller, request: Request
) -> None:
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        sharing.revoke_grant(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            car_id=car_id,
            user_id=user_id,
            now_us=now_us(ctx),
        )


@router.get(
    _GRANTS,
    responses=error_responses(401, 403, 404),
    summary="The roles given for a car (owner)",
)
def list_grants(
    household_id: HouseholdId, car_id: CarId, caller: Caller, request: Request
) -> list[GrantOut]:
    with context(request).db.connect() as db, domain_errors():
        grants = sharing.grants_for_car(
            db, household_id=household_id, actor_id=caller.user_id, car_id=car_id
        )
    return [GrantOut.of(g) for g in grants]
