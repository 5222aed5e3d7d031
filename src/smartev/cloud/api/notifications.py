"""The notifications API: the messages automations sent to the caller (their own only, from
every household they belong to), newest first, and marking one read. New ones are also pushed
on the live socket (``{"type": "notification", …}``)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from smartev.cloud import home_store as store
from smartev.cloud.api.common import domain_errors, error_responses, from_us, from_us_or_none
from smartev.cloud.deps import Caller, context, now_us, read_db

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

NotificationId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="The notification's id.")
]


class NotificationOut(BaseModel):
    id: str
    household_id: str
    title: str
    message: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, stored: store.StoredNotification) -> NotificationOut:
        return cls(
            id=stored.id,
            household_id=stored.household_id,
            title=stored.title,
            message=stored.message,
            created_at=from_us(stored.created_us),
            read_at=from_us_or_none(stored.read_us),
        )


@router.get("", responses=error_responses(401), summary="Your notifications, newest first")
async def list_notifications(
    caller: Caller,
    request: Request,
    unread: Annotated[bool, Query(description="Only those not read yet.")] = False,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many.")] = 50,
) -> list[NotificationOut]:
    ctx = context(request)
    rows = await read_db(
        ctx, lambda db: store.notifications(db, caller.user_id, unread_only=unread, limit=limit)
    )
    return [NotificationOut.of(r) for r in rows]


@router.post(
    "/{notification_id}/read",
    responses=error_responses(401, 404),
    summary="Mark one of your notifications read",
)
async def mark_read(
    notification_id: NotificationId, caller: Caller, request: Request
) -> NotificationOut:
    ctx = context(request)

    def write() -> store.StoredNotification:
        with ctx.db.begin() as db:
            return store.mark_read(
                db, user_id=caller.user_id, notification_id=notification_id, now_us=now_us(ctx)
            )

    with domain_errors():
        return NotificationOut.of(await asyncio.to_thread(write))
