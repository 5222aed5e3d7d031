"""The cars API: pair a car by the code it shows, list the cars you may see with your role, look
at one, rename it, unpair it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from smartev.cloud import pairing
from smartev.cloud import schema as t
from smartev.cloud.access import SCOPES, CarAccess, CarRole, Scope, commands_for, visible_cars
from smartev.cloud.api.common import (
    ID_PATTERN,
    domain_errors,
    error_responses,
    from_us,
    from_us_or_none,
)
from smartev.cloud.deps import Caller, context, now_us, require_car
from smartev.link.pairing import normalize_pairing_code

router = APIRouter(prefix="/api/v1/cars", tags=["cars"])

CarName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CarOut(BaseModel):
    car_id: str
    name: str
    household_id: str
    role: CarRole
    paired_at: datetime | None
    scopes: list[Scope] = Field(description="What your role lets you see and do with the car.")
    commands: list[str] = Field(description="The commands your role may send to the car.")


# 8 characters of Crockford's base32 (I, L, O read as 1, 1, 0); spaces and dashes are free.
CODE_PATTERN = r"^[ -]*(?:[0-9A-TV-Za-tv-z][ -]*){8}$"


def _readable_code(code: str) -> str:
    normalize_pairing_code(code)  # PairingCodeError is a ValueError: a 422 naming the field
    return code


class PairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, AfterValidator(_readable_code)] = Field(
        min_length=8,
        max_length=20,
        json_schema_extra={"pattern": CODE_PATTERN},
        description="The code the car shows, e.g. 7KQ2-M9XD (case, spaces and dashes ignored).",
    )
    name: CarName | None = Field(default=None, description="What to call the car.")
    household_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="A household you own; by default your own household.",
    )


class PairedOut(BaseModel):
    car_id: str
    name: str
    household_id: str
    paired_at: datetime


class RenameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CarName


def _cars_out(request: Request, accesses: list[CarAccess]) -> list[CarOut]:
    ctx = context(request)
    ids = [a.car_id for a in accesses]
    with ctx.db.connect() as db:
        rows = {
            r.id: r
            for r in db.execute(
                select(t.car.c.id, t.car.c.name, t.car.c.paired_us).where(t.car.c.id.in_(ids))
            )
        }
    return [
        CarOut(
            car_id=a.car_id,
            name=rows[a.car_id].name,
            household_id=a.household_id,
            role=a.role,
            paired_at=from_us_or_none(rows[a.car_id].paired_us),
            scopes=sorted(SCOPES[a.role]),
            commands=sorted(commands_for(a.role)),
        )
        for a in accesses
        if a.car_id in rows
    ]


@router.get("", response_model=list[CarOut], responses=error_responses(401))
def list_cars(request: Request, caller: Caller) -> list[CarOut]:
    """Every car you have a role for now, with that role, its scopes and commands."""
    ctx = context(request)
    with ctx.db.connect() as db:
        accesses = visible_cars(db, caller.user_id, now_us(ctx))
    return sorted(_cars_out(request, accesses), key=lambda car: (car.name, car.car_id))


@router.post(
    "/pair",
    status_code=status.HTTP_201_CREATED,
    response_model=PairedOut,
    responses=error_responses(401, 403, 404, 409, 410, 429),
)
def pair(body: PairIn, request: Request, caller: Caller) -> PairedOut:
    """Pair the car that shows this one-time code with your household.

    404: no car shows the code (wrong, or used already); 410: it expired; 409: the car is in a
    household already (its owner unpairs it first); 429: too many wrong codes.
    """
    ctx = context(request)
    try:
        ctx.pairing_limiter.check(caller.user_id)
    except pairing.TooManyPairingAttemptsError as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    with domain_errors():
        try:
            with ctx.db.begin() as db:
                paired = pairing.pair_car(
                    db,
                    user_id=caller.user_id,
                    code=body.code,
                    now_us=now_us(ctx),
                    name=body.name,
                    household_id=body.household_id,
                )
        except (pairing.WrongCodeError, pairing.ExpiredCodeError):
            ctx.pairing_limiter.failed(caller.user_id)
            raise
    return PairedOut(
        car_id=paired.car_id,
        name=paired.name,
        household_id=paired.household_id,
        paired_at=from_us(paired.paired_us),
    )


@router.get("/{car_id}", response_model=CarOut, responses=error_responses(401, 403, 404))
def get_car(
    request: Request, access: Annotated[CarAccess, Depends(require_car(Scope.STATE))]
) -> CarOut:
    """The car as you see it: its name, household, your role, when it was paired."""
    return _cars_out(request, [access])[0]


@router.patch("/{car_id}", response_model=CarOut, responses=error_responses(401, 403, 404))
def rename_car(
    body: RenameIn,
    request: Request,
    caller: Caller,
    access: Annotated[CarAccess, Depends(require_car(Scope.SHARING))],
) -> CarOut:
    """Rename the car (its household's owner)."""
    ctx = context(request)
    with ctx.db.begin() as db:
        pairing.rename_car(
            db,
            user_id=caller.user_id,
            car_id=access.car_id,
            household_id=access.household_id,
            name=body.name,
            now_us=now_us(ctx),
        )
    return _cars_out(request, [access])[0]


@router.delete(
    "/{car_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
)
def unpair_car(
    request: Request,
    caller: Caller,
    access: Annotated[CarAccess, Depends(require_car(Scope.SHARING))],
) -> Response:
    """Unpair the car from its household (its owner): every role given for it ends, and
    commands still waiting for it are dropped. It can then be paired again with a new code."""
    ctx = context(request)
    with ctx.db.begin() as db:
        pairing.unpair_car(
            db,
            user_id=caller.user_id,
            car_id=access.car_id,
            household_id=access.household_id,
            now_us=now_us(ctx),
        )
    ctx.commands.cancel_pending(access.car_id, "car_unpaired")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
