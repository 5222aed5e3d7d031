"""A household's geofences in the database: the named circles with charging prices that its
members see and its owner edits (what a fence means — matching, costs — is
:mod:`smartev.cloud.costs`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.costs import Geofence
from smartev.cloud.errors import ConflictError, NotFoundError
from smartev.cloud.households import require_member, require_owner_of

MAX_GEOFENCES_PER_HOUSEHOLD = 200
_EDIT = "edit its geofences"


@dataclass(frozen=True, slots=True)
class StoredGeofence:
    id: str
    household_id: str
    fence: Geofence


@dataclass(frozen=True, slots=True)
class GeofenceChanges:
    """The fields to change; None keeps the stored value."""

    name: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    price_per_kwh: float | None = None
    price_per_minute: float | None = None
    session_fee: float | None = None
    currency: str | None = None

    def applied_to(self, fence: Geofence) -> Geofence:
        changes = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return dataclasses.replace(fence, **changes)  # validated again by Geofence


def _stored(row: Row[Any]) -> StoredGeofence:
    return StoredGeofence(
        id=row.id,
        household_id=row.household_id,
        fence=Geofence(
            name=row.name,
            lat=row.lat,
            lon=row.lon,
            radius_m=row.radius_m,
            price_per_kwh=row.price_per_kwh,
            price_per_minute=row.price_per_minute,
            session_fee=row.session_fee,
            currency=row.currency,
        ),
    )


def _columns(fence: Geofence) -> dict[str, Any]:
    return dataclasses.asdict(fence)


def geofences_of(db: Connection, household_id: str) -> list[StoredGeofence]:
    """The household's geofences by name (no access check: for the service's own use)."""
    rows = db.execute(
        select(t.geofence)
        .where(t.geofence.c.household_id == household_id)
        .order_by(t.geofence.c.name, t.geofence.c.id)
    ).all()
    return [_stored(r) for r in rows]


def list_geofences(db: Connection, *, household_id: str, actor_id: str) -> list[StoredGeofence]:
    require_member(db, household_id, actor_id)
    return geofences_of(db, household_id)


def _audit(db: Connection, action: str, stored: StoredGeofence, actor_id: str, now_us: int) -> None:
    audit.record(
        db,
        ts_us=now_us,
        action=action,
        actor_id=actor_id,
        household_id=stored.household_id,
        detail={"geofence_id": stored.id, "name": stored.fence.name},
    )


def create_geofence(
    db: Connection, *, household_id: str, actor_id: str, fence: Geofence, now_us: int
) -> StoredGeofence:
    require_owner_of(db, household_id, actor_id, _EDIT)
    count = db.execute(
        select(func.count())
        .select_from(t.geofence)
        .where(t.geofence.c.household_id == household_id)
    ).scalar_one()
    if count >= MAX_GEOFENCES_PER_HOUSEHOLD:
        raise ConflictError(
            f"household {household_id} has {MAX_GEOFENCES_PER_HOUSEHOLD} geofences, the most "
            "allowed; delete one first"
        )
    stored = StoredGeofence(t.new_id("geo"), household_id, fence)
    db.execute(
        insert(t.geofence).values(id=stored.id, household_id=household_id, **_columns(fence))
    )
    _audit(db, "geofence.created", stored, actor_id, now_us)
    return stored


def _require_geofence(db: Connection, household_id: str, geofence_id: str) -> StoredGeofence:
    row = db.execute(
        select(t.geofence).where(
            t.geofence.c.id == geofence_id, t.geofence.c.household_id == household_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no geofence {geofence_id} in household {household_id}")
    return _stored(row)


def update_geofence(
    db: Connection,
    *,
    household_id: str,
    actor_id: str,
    geofence_id: str,
    changes: GeofenceChanges,
    now_us: int,
) -> StoredGeofence:
    require_owner_of(db, household_id, actor_id, _EDIT)
    old = _require_geofence(db, household_id, geofence_id)
    stored = StoredGeofence(old.id, household_id, changes.applied_to(old.fence))
    db.execute(
        update(t.geofence).where(t.geofence.c.id == geofence_id).values(**_columns(stored.fence))
    )
    _audit(db, "geofence.updated", stored, actor_id, now_us)
    return stored


def delete_geofence(
    db: Connection, *, household_id: str, actor_id: str, geofence_id: str, now_us: int
) -> None:
    require_owner_of(db, household_id, actor_id, _EDIT)
    old = _require_geofence(db, household_id, geofence_id)
    db.execute(delete(t.geofence).where(t.geofence.c.id == geofence_id))
    _audit(db, "geofence.deleted", old, actor_id, now_us)
