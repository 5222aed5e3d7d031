"""The derived tables: drives, charging sessions and state intervals written as the session
detector reports them, named after the household's geofences and priced with them, and read
back as records.

A state interval is written when it opens (``end_us`` None) and closed in place when it ends;
drives and charging sessions are written once they ended (one in progress is only an event).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, Self, TypeVar

from sqlalchemy import Connection, Table, insert, select, update

from smartev.cloud import schema as t
from smartev.cloud.costs import charging_cost, match_geofence
from smartev.cloud.geofences import StoredGeofence, geofences_of
from smartev.cloud.session_records import (
    ChargingEnded,
    ChargingSession,
    Drive,
    DriveEnded,
    SessionEvent,
    StateClosed,
    StateOpened,
)
from smartev.core.errors import InvalidInputError

log = logging.getLogger(__name__)

__all__ = [
    "NOTHING",
    "ChargeRecord",
    "Derived",
    "DriveRecord",
    "StateRecord",
    "charge",
    "charges",
    "drive",
    "drives",
    "states",
    "write_events",
]


class _Record:
    @classmethod
    def from_row(cls, row: Any) -> Self:
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class DriveRecord(_Record):
    id: str
    car_id: str
    start_us: int
    end_us: int
    start_lat: float | None
    start_lon: float | None
    end_lat: float | None
    end_lon: float | None
    start_place: str | None
    end_place: str | None
    distance_km: float | None
    duration_s: float
    energy_used_kwh: float | None
    efficiency_wh_per_km: float | None
    speed_avg_kmh: float | None
    speed_max_kmh: float | None
    soc_start: float | None
    soc_end: float | None
    odometer_start_km: float | None
    odometer_end_km: float | None


@dataclass(frozen=True, slots=True)
class ChargeRecord(_Record):
    id: str
    car_id: str
    start_us: int
    end_us: int
    lat: float | None
    lon: float | None
    place: str | None
    geofence_id: str | None
    kind: str | None
    energy_added_kwh: float | None
    power_max_kw: float | None
    duration_s: float
    soc_start: float | None
    soc_end: float | None
    capacity_estimate_kwh: float | None
    cost: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class StateRecord(_Record):
    id: str
    car_id: str
    state: str
    start_us: int
    end_us: int | None  # None while it lasts
    soc_start: float | None
    soc_end: float | None


@dataclass(frozen=True, slots=True)
class Derived:
    """Rows one batch wrote: drives and charges that ended, states opened or closed."""

    drives: tuple[DriveRecord, ...] = ()
    charges: tuple[ChargeRecord, ...] = ()
    states: tuple[StateRecord, ...] = ()


NOTHING: Final = Derived()


# --- writing -------------------------------------------------------------------------------------


def write_events(
    conn: Connection, car_id: str, events: Sequence[SessionEvent], open_state_id: str | None
) -> tuple[Derived, str | None]:
    """Write what ``events`` concluded; returns the rows and the id of the open state interval
    (``open_state_id`` is the one open before)."""
    drives_out: list[DriveRecord] = []
    charges_out: list[ChargeRecord] = []
    states_out: list[StateRecord] = []
    fences: list[StoredGeofence] | None = None
    for event in events:
        if isinstance(event, StateClosed):
            iv = event.interval
            record = StateRecord(
                open_state_id or t.new_id("st"),
                car_id,
                iv.state.value,
                iv.start_us,
                iv.end_us,
                iv.soc_start_pct,
                iv.soc_end_pct,
            )
            _close_state(conn, record, was_open=open_state_id is not None)
            states_out.append(record)
            open_state_id = None
        elif isinstance(event, StateOpened):
            if open_state_id is not None:  # the detector always closes first; be safe anyway
                conn.execute(
                    update(t.state_interval)
                    .where(t.state_interval.c.id == open_state_id)
                    .values(end_us=event.start_us, soc_end=event.soc_pct)
                )
            record = StateRecord(
                t.new_id("st"),
                car_id,
                event.state.value,
                event.start_us,
                None,
                event.soc_pct,
                None,
            )
            conn.execute(insert(t.state_interval).values(_values(record)))
            states_out.append(record)
            open_state_id = record.id
        elif isinstance(event, DriveEnded):
            fences = fences if fences is not None else household_geofences(conn, car_id)
            drive_record = _drive_record(car_id, event.drive, fences)
            conn.execute(insert(t.drive).values(_values(drive_record)))
            drives_out.append(drive_record)
        elif isinstance(event, ChargingEnded):
            fences = fences if fences is not None else household_geofences(conn, car_id)
            charge_record = _charge_record(car_id, event.session, fences)
            conn.execute(insert(t.charging_session).values(_values(charge_record)))
            charges_out.append(charge_record)
    return Derived(tuple(drives_out), tuple(charges_out), tuple(states_out)), open_state_id


def _close_state(conn: Connection, record: StateRecord, *, was_open: bool) -> None:
    if was_open:
        conn.execute(
            update(t.state_interval)
            .where(t.state_interval.c.id == record.id)
            .values(end_us=record.end_us, soc_end=record.soc_end)
        )
    else:  # opened before this store knew of the car (its snapshot came from elsewhere)
        conn.execute(insert(t.state_interval).values(_values(record)))


def _values(record: _Record) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]


def household_geofences(conn: Connection, car_id: str) -> list[StoredGeofence]:
    """The geofences of the car's household (none when it has no household)."""
    household_id = conn.execute(select(t.car.c.household_id).where(t.car.c.id == car_id)).scalar()
    return geofences_of(conn, household_id) if household_id is not None else []


def _place(
    fences: Sequence[StoredGeofence], lat: float | None, lon: float | None
) -> StoredGeofence | None:
    if lat is None or lon is None or not fences:
        return None
    fence = match_geofence(lat, lon, (f.fence for f in fences))
    return next((f for f in fences if f.fence is fence), None)


def _drive_record(car_id: str, d: Drive, fences: Sequence[StoredGeofence]) -> DriveRecord:
    start = _place(fences, d.start_lat, d.start_lon)
    end = _place(fences, d.end_lat, d.end_lon)
    return DriveRecord(
        id=t.new_id("drv"),
        car_id=car_id,
        start_us=d.start_us,
        end_us=d.end_us,
        start_lat=d.start_lat,
        start_lon=d.start_lon,
        end_lat=d.end_lat,
        end_lon=d.end_lon,
        start_place=start.fence.name if start is not None else None,
        end_place=end.fence.name if end is not None else None,
        distance_km=d.distance_km,
        duration_s=d.duration_s,
        energy_used_kwh=d.energy_used_kwh,
        efficiency_wh_per_km=d.efficiency_wh_per_km,
        speed_avg_kmh=d.speed_avg_kmh,
        speed_max_kmh=d.speed_max_kmh,
        soc_start=d.soc_start_pct,
        soc_end=d.soc_end_pct,
        odometer_start_km=d.odometer_start_km,
        odometer_end_km=d.odometer_end_km,
    )


def _charge_record(
    car_id: str, c: ChargingSession, fences: Sequence[StoredGeofence]
) -> ChargeRecord:
    where = _place(fences, c.lat, c.lon)
    cost: float | None = None
    currency: str | None = None
    if where is not None:
        try:
            priced = charging_cost(c, where.fence)
        except InvalidInputError as exc:  # the tariff prices energy that was not measured
            log.info("charging session of %s not priced: %s", car_id, exc)
        else:
            cost, currency = float(priced.amount), priced.currency
    return ChargeRecord(
        id=t.new_id("chg"),
        car_id=car_id,
        start_us=c.start_us,
        end_us=c.end_us,
        lat=c.lat,
        lon=c.lon,
        place=where.fence.name if where is not None else None,
        geofence_id=where.id if where is not None else None,
        kind=c.kind,
        energy_added_kwh=c.energy_added_kwh,
        power_max_kw=c.power_max_kw,
        duration_s=c.duration_s,
        soc_start=c.soc_start_pct,
        soc_end=c.soc_end_pct,
        capacity_estimate_kwh=c.capacity_estimate_kwh,
        cost=cost,
        currency=currency,
    )


# --- reading -------------------------------------------------------------------------------------


R = TypeVar("R", bound=_Record)


def _overlapping(
    conn: Connection,
    record: type[R],
    table: Table,
    car_id: str,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    since_us: int,
) -> list[R]:
    """The car's rows of ``table`` that overlap [start_us, end_us) and started at or after
    ``since_us``: the newest ``limit``, newest first."""
    c = table.c
    query = select(table).where(c.car_id == car_id, c.start_us >= since_us)
    if start_us is not None:
        query = query.where(c.end_us.is_(None) | (c.end_us >= start_us))
    if end_us is not None:
        query = query.where(c.start_us < end_us)
    rows = conn.execute(query.order_by(c.start_us.desc()).limit(limit)).all()
    return [record.from_row(r) for r in rows]


def _one(
    conn: Connection, record: type[R], table: Table, car_id: str, row_id: str, since_us: int
) -> R | None:
    c = table.c
    row = conn.execute(
        select(table).where(c.car_id == car_id, c.id == row_id, c.start_us >= since_us)
    ).first()
    return record.from_row(row) if row is not None else None


def drives(
    conn: Connection,
    car_id: str,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    *,
    since_us: int = 0,
) -> list[DriveRecord]:
    """The car's drives overlapping the window (and starting at or after ``since_us``), newest
    first."""
    return _overlapping(conn, DriveRecord, t.drive, car_id, start_us, end_us, limit, since_us)


def drive(conn: Connection, car_id: str, drive_id: str, *, since_us: int = 0) -> DriveRecord | None:
    return _one(conn, DriveRecord, t.drive, car_id, drive_id, since_us)


def charges(
    conn: Connection,
    car_id: str,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    *,
    since_us: int = 0,
) -> list[ChargeRecord]:
    """The car's charging sessions overlapping the window (and starting at or after
    ``since_us``), newest first."""
    return _overlapping(
        conn, ChargeRecord, t.charging_session, car_id, start_us, end_us, limit, since_us
    )


def charge(
    conn: Connection, car_id: str, session_id: str, *, since_us: int = 0
) -> ChargeRecord | None:
    return _one(conn, ChargeRecord, t.charging_session, car_id, session_id, since_us)


def states(
    conn: Connection,
    car_id: str,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    *,
    since_us: int = 0,
) -> list[StateRecord]:
    """The car's state intervals overlapping the window (and starting at or after
    ``since_us``), oldest first."""
    newest = _overlapping(
        conn, StateRecord, t.state_interval, car_id, start_us, end_us, limit, since_us
    )
    return newest[::-1]
