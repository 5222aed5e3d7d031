"""A household's settings and people as its automations see them (time zone, zones, residents)
and the notifications its automations send to people.

Plain functions on a connection, called inside the caller's transaction; a time zone change is
written to the audit log in that same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Row, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.errors import InvalidFieldError, NotFoundError

DEFAULT_TIME_ZONE: Final = "UTC"
MAX_TIME_ZONE_CHARS: Final = 64


@dataclass(frozen=True, slots=True)
class StoredNotification:
    id: str
    user_id: str
    household_id: str
    title: str
    message: str
    created_us: int
    read_us: int | None


@dataclass(frozen=True, slots=True)
class Resident:
    """A member of the household as the automations know them."""

    user_id: str
    display_name: str
    email: str


# ── the household: time zone, zones, residents ───────────────────────────────────────────────


def check_time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; InvalidFieldError naming the rule when it is not one."""
    try:
        if not name or len(name) > MAX_TIME_ZONE_CHARS or name.strip() != name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidFieldError(
            "time_zone",
            f"{name[:80]!r} is not an IANA time zone name (like Europe/Berlin or UTC)",
        ) from None


def time_zone(db: Connection, household_id: str) -> str:
    value = db.execute(
        select(t.household.c.time_zone).where(t.household.c.id == household_id)
    ).scalar_one_or_none()
    return value or DEFAULT_TIME_ZONE


def set_time_zone(
    db: Connection, *, household_id: str, name: str, actor_id: str, now_us: int
) -> str:
    check_time_zone(name)
    before = time_zone(db, household_id)
    db.execute(update(t.household).where(t.household.c.id == household_id).values(time_zone=name))
    audit.record(
        db,
        ts_us=now_us,
        action="household.time_zone_changed",
        actor_id=actor_id,
        household_id=household_id,
        detail={"from": before, "to": name},
    )
    return name


def zones(db: Connection, household_id: str) -> list[tuple[str, float, float, float]]:
    """The household's geofences as (name, lat, lon, radius_m)."""
    g = t.geofence.c
    rows = db.execute(
        select(g.name, g.lat, g.lon, g.radius_m)
        .where(g.household_id == household_id)
        .order_by(g.name, g.id)
    ).all()
    return [(r.name, r.lat, r.lon, r.radius_m) for r in rows]


def residents(db: Connection, household_id: str) -> list[Resident]:
    rows = db.execute(
        select(t.user.c.id, t.user.c.display_name, t.user.c.email)
        .join(t.household_member, t.household_member.c.user_id == t.user.c.id)
        .where(t.household_member.c.household_id == household_id)
        .order_by(t.household_member.c.joined_us, t.user.c.id)
    ).all()
    return [Resident(r.id, r.display_name, r.email) for r in rows]


# ── notifications ────────────────────────────────────────────────────────────────────────────


def add_notifications(
    db: Connection,
    *,
    household_id: str,
    user_ids: Iterable[str],
    title: str,
    message: str,
    now_us: int,
) -> list[StoredNotification]:
    out = []
    for user_id in user_ids:
        stored = StoredNotification(
            t.new_id("ntf"), user_id, household_id, title[:200], message, now_us, None
        )
        db.execute(insert(t.notification).values(**asdict(stored)))
        out.append(stored)
    return out


def _notification(row: Row[Any]) -> StoredNotification:
    return StoredNotification(
        row.id, row.user_id, row.household_id, row.title, row.message, row.created_us, row.read_us
    )


def notifications(
    db: Connection, user_id: str, *, unread_only: bool = False, limit: int = 50
) -> list[StoredNotification]:
    n = t.notification.c
    query = select(t.notification).where(n.user_id == user_id)
    if unread_only:
        query = query.where(n.read_us.is_(None))
    rows = db.execute(query.order_by(n.created_us.desc(), n.id.desc()).limit(limit)).all()
    return [_notification(r) for r in rows]


def mark_read(
    db: Connection, *, user_id: str, notification_id: str, now_us: int
) -> StoredNotification:
    n = t.notification.c
    row = db.execute(
        select(t.notification).where(n.id == notification_id, n.user_id == user_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no notification {notification_id} for you")
    stored = _notification(row)
    if stored.read_us is not None:
        return stored
    db.execute(update(t.notification).where(n.id == notification_id).values(read_us=now_us))
    return StoredNotification(
        stored.id,
        stored.user_id,
        stored.household_id,
        stored.title,
        stored.message,
        stored.created_us,
        now_us,
    )
