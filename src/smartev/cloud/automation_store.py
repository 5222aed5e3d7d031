"""The ecosystem's rows: a household's automations and scenes (the text people wrote) and the
traces of their runs (the household's settings and notifications: :mod:`.home_store`).

Plain functions on a connection, called inside the caller's transaction; the changes people make
are written to the audit log in that same transaction. Who may do what is checked by the caller
(:mod:`smartev.cloud.home_access`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from sqlalchemy import Connection, Row, Select, delete, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.errors import ConflictError, NotFoundError
from smartev.cloud.home_store import DEFAULT_TIME_ZONE as DEFAULT_TIME_ZONE
from smartev.cloud.home_store import MAX_TIME_ZONE_CHARS as MAX_TIME_ZONE_CHARS
from smartev.cloud.home_store import Resident as Resident
from smartev.cloud.home_store import StoredNotification as StoredNotification
from smartev.cloud.home_store import add_notifications as add_notifications
from smartev.cloud.home_store import check_time_zone as check_time_zone
from smartev.cloud.home_store import mark_read as mark_read
from smartev.cloud.home_store import notifications as notifications
from smartev.cloud.home_store import residents as residents
from smartev.cloud.home_store import set_time_zone as set_time_zone
from smartev.cloud.home_store import time_zone as time_zone
from smartev.cloud.home_store import zones as zones
from smartev.ecosystem.trace import Trace

# The household's settings and notifications moved to home_store; the names above stay
# reachable here for the callers that use them through this module.

RUNS_KEPT: Final = 50  # traces kept per automation
MAX_AUTOMATIONS_PER_HOUSEHOLD: Final = 500
MAX_SCENES_PER_HOUSEHOLD: Final = 200


@dataclass(frozen=True, slots=True)
class StoredAutomation:
    id: str
    household_id: str
    alias: str
    source: str
    enabled: bool
    created_us: int
    updated_us: int
    created_by: str | None


@dataclass(frozen=True, slots=True)
class StoredScene:
    id: str
    household_id: str
    name: str
    source: str
    created_us: int
    updated_us: int
    created_by: str | None


@dataclass(frozen=True, slots=True)
class StoredRun:
    run_id: str
    automation_id: str
    started_us: int
    finished_us: int | None
    outcome: str
    trace: Mapping[str, Any]  # the Trace as JSON data


def _automation(row: Row[Any]) -> StoredAutomation:
    return StoredAutomation(
        row.id,
        row.household_id,
        row.alias,
        row.source,
        bool(row.enabled),
        row.created_us,
        row.updated_us,
        row.created_by,
    )


def _scene(row: Row[Any]) -> StoredScene:
    return StoredScene(
        row.id,
        row.household_id,
        row.name,
        row.source,
        row.created_us,
        row.updated_us,
        row.created_by,
    )


def _one(db: Connection, query: Select[Any], missing: str) -> Row[Any]:
    """The first row ``query`` finds; :class:`NotFoundError` (``missing``) when there is none."""
    row = db.execute(query).first()
    if row is None:
        raise NotFoundError(missing)
    return row


# ── automations ──────────────────────────────────────────────────────────────────────────────


def automations(db: Connection, household_id: str) -> list[StoredAutomation]:
    a = t.automation.c
    rows = db.execute(
        select(t.automation).where(a.household_id == household_id).order_by(a.created_us, a.id)
    ).all()
    return [_automation(r) for r in rows]


def automation(db: Connection, household_id: str, automation_id: str) -> StoredAutomation:
    a = t.automation.c
    row = _one(
        db,
        select(t.automation).where(a.household_id == household_id, a.id == automation_id),
        f"no automation {automation_id} in household {household_id}",
    )
    return _automation(row)


def households_with_automations(db: Connection) -> list[str]:
    return list(db.execute(select(t.automation.c.household_id).distinct()).scalars())


def add_automation(
    db: Connection,
    *,
    household_id: str,
    automation_id: str,
    alias: str,
    source: str,
    enabled: bool,
    actor_id: str,
    now_us: int,
) -> StoredAutomation:
    count = len(automations(db, household_id))
    if count >= MAX_AUTOMATIONS_PER_HOUSEHOLD:
        raise ConflictError(
            f"household {household_id} has {count} automations, the most it may have; "
            "delete one first"
        )
    db.execute(
        insert(t.automation).values(
            id=automation_id,
            household_id=household_id,
            alias=alias,
            source=source,
            enabled=enabled,
            created_us=now_us,
            updated_us=now_us,
            created_by=actor_id,
        )
    )
    _audit(db, "automation.created", household_id, actor_id, now_us, automation_id, alias)
    return StoredAutomation(
        automation_id, household_id, alias, source, enabled, now_us, now_us, actor_id
    )


def change_automation(
    db: Connection,
    *,
    household_id: str,
    automation_id: str,
    alias: str,
    source: str,
    enabled: bool,
    actor_id: str,
    now_us: int,
) -> StoredAutomation:
    before = automation(db, household_id, automation_id)
    db.execute(
        update(t.automation)
        .where(t.automation.c.id == automation_id)
        .values(alias=alias, source=source, enabled=enabled, updated_us=now_us)
    )
    _audit(db, "automation.changed", household_id, actor_id, now_us, automation_id, alias)
    return StoredAutomation(
        automation_id,
        household_id,
        alias,
        source,
        enabled,
        before.created_us,
        now_us,
        before.created_by,
    )


def remove_automation(
    db: Connection, *, household_id: str, automation_id: str, actor_id: str, now_us: int
) -> None:
    before = automation(db, household_id, automation_id)
    db.execute(delete(t.automation_run).where(t.automation_run.c.automation_id == automation_id))
    db.execute(delete(t.automation).where(t.automation.c.id == automation_id))
    _audit(db, "automation.deleted", household_id, actor_id, now_us, automation_id, before.alias)


def _audit(
    db: Connection,
    action: str,
    household_id: str,
    actor_id: str,
    now_us: int,
    thing_id: str,
    name: str,
) -> None:
    key = "automation_id" if action.startswith("automation") else "scene_id"
    audit.record(
        db,
        ts_us=now_us,
        action=action,
        actor_id=actor_id,
        household_id=household_id,
        detail={key: thing_id, "name": name},
    )


# ── runs ─────────────────────────────────────────────────────────────────────────────────────


def trace_data(trace: Trace) -> dict[str, Any]:
    """A trace as JSON data (enums as their values)."""
    return json.loads(json.dumps(asdict(trace)))  # type: ignore[no-any-return]


def record_run(db: Connection, household_id: str, trace: Trace) -> None:
    """Store a finished run; only the newest :data:`RUNS_KEPT` of its automation stay. A run of
    an automation deleted meanwhile is dropped."""
    r = t.automation_run.c
    exists = db.execute(
        select(t.automation.c.id).where(
            t.automation.c.id == trace.automation_id,
            t.automation.c.household_id == household_id,
        )
    ).first()
    if exists is None:
        return
    finished = None if trace.finished is None else round(trace.finished * 1_000_000)
    db.execute(
        insert(t.automation_run).values(
            run_id=trace.run_id,
            automation_id=trace.automation_id,
            household_id=household_id,
            started_us=round(trace.started * 1_000_000),
            finished_us=finished,
            outcome=str(trace.outcome),
            trace=json.dumps(trace_data(trace)),
        )
    )
    kept = (
        select(r.run_id)
        .where(r.automation_id == trace.automation_id)
        .order_by(r.started_us.desc(), r.run_id.desc())
        .limit(RUNS_KEPT)
    )
    db.execute(
        delete(t.automation_run).where(
            r.automation_id == trace.automation_id, r.run_id.not_in(kept.scalar_subquery())
        )
    )


def _run(row: Row[Any]) -> StoredRun:
    return StoredRun(
        row.run_id,
        row.automation_id,
        row.started_us,
        row.finished_us,
        row.outcome,
        json.loads(row.trace),
    )


def runs(db: Connection, automation_id: str, limit: int = RUNS_KEPT) -> list[StoredRun]:
    r = t.automation_run.c
    rows = db.execute(
        select(t.automation_run)
        .where(r.automation_id == automation_id)
        .order_by(r.started_us.desc(), r.run_id.desc())
        .limit(limit)
    ).all()
    return [_run(row) for row in rows]


def run(db: Connection, automation_id: str, run_id: str) -> StoredRun:
    r = t.automation_run.c
    row = _one(
        db,
        select(t.automation_run).where(r.automation_id == automation_id, r.run_id == run_id),
        f"no run {run_id} of automation {automation_id}",
    )
    return _run(row)


# ── scenes ───────────────────────────────────────────────────────────────────────────────────


def scenes(db: Connection, household_id: str) -> list[StoredScene]:
    s = t.scene.c
    rows = db.execute(
        select(t.scene).where(s.household_id == household_id).order_by(s.name, s.id)
    ).all()
    return [_scene(r) for r in rows]


def scene(db: Connection, household_id: str, scene_id: str) -> StoredScene:
    s = t.scene.c
    row = _one(
        db,
        select(t.scene).where(s.household_id == household_id, s.id == scene_id),
        f"no scene {scene_id} in household {household_id}",
    )
    return _scene(row)


def _check_scene_name(db: Connection, household_id: str, name: str, scene_id: str) -> None:
    s = t.scene.c
    other = db.execute(
        select(s.id).where(s.household_id == household_id, s.name == name, s.id != scene_id)
    ).first()
    if other is not None:
        raise ConflictError(
            f"household {household_id} already has a scene named {name!r}; choose another name"
        )


def add_scene(
    db: Connection,
    *,
    household_id: str,
    scene_id: str,
    name: str,
    source: str,
    actor_id: str,
    now_us: int,
) -> StoredScene:
    count = len(scenes(db, household_id))
    if count >= MAX_SCENES_PER_HOUSEHOLD:
        raise ConflictError(f"household {household_id} has {count} scenes, the most it may have")
    _check_scene_name(db, household_id, name, scene_id)
    db.execute(
        insert(t.scene).values(
            id=scene_id,
            household_id=household_id,
            name=name,
            source=source,
            created_us=now_us,
            updated_us=now_us,
            created_by=actor_id,
        )
    )
    _audit(db, "scene.created", household_id, actor_id, now_us, scene_id, name)
    return StoredScene(scene_id, household_id, name, source, now_us, now_us, actor_id)


def change_scene(
    db: Connection,
    *,
    household_id: str,
    scene_id: str,
    name: str,
    source: str,
    actor_id: str,
    now_us: int,
) -> StoredScene:
    before = scene(db, household_id, scene_id)
    _check_scene_name(db, household_id, name, scene_id)
    db.execute(
        update(t.scene)
        .where(t.scene.c.id == scene_id)
        .values(name=name, source=source, updated_us=now_us)
    )
    _audit(db, "scene.changed", household_id, actor_id, now_us, scene_id, name)
    return StoredScene(
        scene_id, household_id, name, source, before.created_us, now_us, before.created_by
    )


def remove_scene(
    db: Connection, *, household_id: str, scene_id: str, actor_id: str, now_us: int
) -> StoredScene:
    before = scene(db, household_id, scene_id)
    db.execute(delete(t.scene).where(t.scene.c.id == scene_id))
    _audit(db, "scene.deleted", household_id, actor_id, now_us, scene_id, before.name)
    return before
