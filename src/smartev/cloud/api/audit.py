"""The audit API: a car's log of who did what, for those whose role includes the audit scope
(the household's owner). The household's log is served by the households API with these same
shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from smartev.cloud import audit
from smartev.cloud.access import CarAccess, Scope
from smartev.cloud.api.common import error_responses, from_us
from smartev.cloud.deps import context, require_car

router = APIRouter(prefix="/api/v1/cars", tags=["audit"])

PAGE_MAX = 500
AUDIT_ID_MAX = 2**31 - 1  # audit_event.id is a 32-bit integer on PostgreSQL
BeforeId = Annotated[
    int | None,
    Query(ge=1, le=AUDIT_ID_MAX, description="Only events older than this id (the next page)."),
]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description="At most this many events.")]


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    action: str = Field(examples=["grant.set"])
    actor_id: str | None = Field(description="Who did it; null: the car or the service.")
    household_id: str | None
    car_id: str | None
    detail: dict[str, str | int | float | bool | None]


class AuditPage(BaseModel):
    events: list[AuditEventOut] = Field(description="Newest first.")
    next_before_id: int | None = Field(
        description="Pass as before_id for the next (older) page; null when this is the last."
    )

    @classmethod
    def of(cls, events: list[audit.AuditEvent], limit: int) -> AuditPage:
        return cls(
            events=[
                AuditEventOut(
                    id=e.id,
                    at=from_us(e.ts_us),
                    action=e.action,
                    actor_id=e.actor_id,
                    household_id=e.household_id,
                    car_id=e.car_id,
                    detail=e.detail,
                )
                for e in events
            ],
            next_before_id=events[-1].id if len(events) == limit else None,
        )


@router.get("/{car_id}/audit", responses=error_responses(401, 403, 404), summary="A car's log")
def car_audit(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.AUDIT))],
    before_id: BeforeId = None,
    limit: Limit = 100,
) -> AuditPage:
    ctx = context(request)
    with ctx.db.connect() as db:
        events = audit.events_for_car(
            db, access.car_id, before_id=before_id, limit=limit, since_us=access.since_us
        )
    return AuditPage.of(events, limit)
