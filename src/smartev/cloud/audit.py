"""The audit log: every action on a car or a household, who did it and when, in the database.

Call :func:`record` in the same transaction as the change it describes, so the log never claims a
change that was rolled back nor misses one that was kept. ``detail`` must not hold secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, insert, select

from smartev.cloud import schema as t

DetailValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    ts_us: int
    household_id: str | None
    car_id: str | None
    actor_id: str | None
    action: str
    detail: dict[str, DetailValue]


def record(
    db: Connection,
    *,
    ts_us: int,
    action: str,
    actor_id: str | None,
    household_id: str | None = None,
    car_id: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> None:
    db.execute(
        insert(t.audit_event).values(
            ts_us=ts_us,
            action=action,
            actor_id=actor_id,
            household_id=household_id,
            car_id=car_id,
            detail=json.dumps(dict(detail or {}), sort_keys=True),
        )
    )


def _page(
    db: Connection, where: ColumnElement[bool], before_id: int | None, limit: int
) -> list[AuditEvent]:
    query = select(t.audit_event).where(where)
    if before_id is not None:
        query = query.where(t.audit_event.c.id < before_id)
    rows = db.execute(query.order_by(t.audit_event.c.id.desc()).limit(limit)).all()
    return [
        AuditEvent(
            r.id, r.ts_us, r.household_id, r.car_id, r.actor_id, r.action, json.loads(r.detail)
        )
        for r in rows
    ]


def events_for_car(
    db: Connection,
    car_id: str,
    *,
    before_id: int | None = None,
    limit: int = 100,
    since_us: int = 0,
) -> list[AuditEvent]:
    """The car's events (from ``since_us`` on), newest first; page with ``before_id``."""
    e = t.audit_event.c
    return _page(db, (e.car_id == car_id) & (e.ts_us >= since_us), before_id, limit)


def events_for_household(
    db: Connection, household_id: str, *, before_id: int | None = None, limit: int = 100
) -> list[AuditEvent]:
    """The household's events (its own and those of its cars' sharing), newest first."""
    return _page(db, t.audit_event.c.household_id == household_id, before_id, limit)
