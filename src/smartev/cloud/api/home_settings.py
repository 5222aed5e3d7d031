"""A household's settings for its automations: the service key that signs their car commands,
and the time zone their times of day are in. Members read them; the owner changes them.

The service key's private part never leaves the cloud (nor is it stored in clear): the answer
carries the public key and the ``key.enroll`` arguments the owner's own device signs and sends
to each car through the commands API (role ``service``, label ``automations``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from smartev.cloud import automation_key as keys
from smartev.cloud import home_store as store
from smartev.cloud.api.common import HouseholdId, domain_errors, error_responses, from_us
from smartev.cloud.api.devices import member_access
from smartev.cloud.deps import Caller, context, now_us, read_db

router = APIRouter(prefix="/api/v1/households", tags=["automations"])


class ServiceKeyOut(BaseModel):
    key_id: str
    household_id: str
    public_key: str = Field(description="The Ed25519 public key, hex.")
    created_at: datetime
    created_by: str | None
    enroll_args: dict[str, bool | int | float | str] = Field(
        description="The arguments of the key.enroll command to sign on the owner's device and "
        "send to each car (role service, label automations)."
    )

    @classmethod
    def of(cls, key: keys.ServiceKey) -> ServiceKeyOut:
        return cls(
            key_id=key.key_id,
            household_id=key.household_id,
            public_key=key.public_key.hex(),
            created_at=from_us(key.created_us),
            created_by=key.created_by,
            enroll_args=key.enroll_args,
        )


class TimeZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_zone: str = Field(
        min_length=1,
        max_length=store.MAX_TIME_ZONE_CHARS,
        description="An IANA time zone name.",
        examples=["Europe/Berlin"],
    )


class TimeZoneOut(BaseModel):
    household_id: str
    time_zone: str


@router.post(
    "/{household_id}/service-key",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404),
    summary="Create the household's service key (owner); a previous one is revoked",
)
async def create_service_key(
    household_id: HouseholdId, caller: Caller, request: Request
) -> ServiceKeyOut:
    ctx = context(request)
    access = await member_access(request, household_id, caller.user_id)
    with domain_errors():
        access.require_owner("manage its service key")

    def write() -> keys.ServiceKey:
        with ctx.db.begin() as db:
            return keys.create_key(
                db,
                ctx.homes.sealer,
                household_id=household_id,
                actor_id=caller.user_id,
                now_us=now_us(ctx),
            )

    return ServiceKeyOut.of(await asyncio.to_thread(write))


@router.get(
    "/{household_id}/service-key",
    responses=error_responses(401, 404),
    summary="The household's service key (its public part)",
)
async def get_service_key(
    household_id: HouseholdId, caller: Caller, request: Request
) -> ServiceKeyOut:
    ctx = context(request)
    await member_access(request, household_id, caller.user_id)
    key = await read_db(ctx, lambda db: keys.current_key(db, household_id))
    if key is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"household {household_id} has no service key"
        )
    return ServiceKeyOut.of(key)


@router.delete(
    "/{household_id}/service-key",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409),
    summary="Revoke the household's service key (owner); revoke it on the cars too",
)
async def revoke_service_key(household_id: HouseholdId, caller: Caller, request: Request) -> None:
    ctx = context(request)
    access = await member_access(request, household_id, caller.user_id)
    with domain_errors():
        access.require_owner("manage its service key")

    def write() -> None:
        with ctx.db.begin() as db:
            keys.revoke_key(
                db, household_id=household_id, actor_id=caller.user_id, now_us=now_us(ctx)
            )

    with domain_errors():
        await asyncio.to_thread(write)


@router.get(
    "/{household_id}/time-zone",
    responses=error_responses(401, 404),
    summary="The household's time zone",
)
async def get_time_zone(household_id: HouseholdId, caller: Caller, request: Request) -> TimeZoneOut:
    ctx = context(request)
    await member_access(request, household_id, caller.user_id)
    name = await read_db(ctx, lambda db: store.time_zone(db, household_id))
    return TimeZoneOut(household_id=household_id, time_zone=name)


@router.put(
    "/{household_id}/time-zone",
    responses=error_responses(400, 401, 403, 404),
    summary="Set the household's time zone (owner): its automations' times of day",
)
async def set_time_zone(
    household_id: HouseholdId, body: TimeZoneIn, caller: Caller, request: Request
) -> TimeZoneOut:
    ctx = context(request)
    access = await member_access(request, household_id, caller.user_id)
    with domain_errors():
        access.require_owner("set its time zone")
        store.check_time_zone(body.time_zone)

    def write() -> str:
        with ctx.db.begin() as db:
            return store.set_time_zone(
                db,
                household_id=household_id,
                name=body.time_zone,
                actor_id=caller.user_id,
                now_us=now_us(ctx),
            )

    with domain_errors():
        name = await asyncio.to_thread(write)
    hub = ctx.homes.started_hub(household_id)
    if hub is not None:
        await hub.refresh()  # a new time zone restarts the hub's engine
    return TimeZoneOut(household_id=household_id, time_zone=name)
