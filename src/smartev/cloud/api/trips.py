"""Drives, charging sessions and the car's states over time: what the cloud derived from the
car's telemetry as it arrived (:mod:`smartev.cloud.derived`).

Drives need the ``drives`` scope, charging sessions the ``charges`` scope, the states the
``history`` scope. Positions and place names are left out
(null) for a role without the ``location`` scope. Lists are newest first, except the states,
which read as a timeline (oldest first).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from smartev.cloud import derived, history
from smartev.cloud.access import CarAccess, Scope, may_see_signal
from smartev.cloud.api.common import ID_PATTERN, WireTime, error_responses, to_us
from smartev.cloud.api.signals import BucketOut, PointOut, query_error, wire_time
from smartev.cloud.deps import context, require_car
from smartev.cloud.derived import ChargeRecord, DriveRecord
from smartev.cloud.history import Resolution
from smartev.cloud.session_records import VehicleState
from smartev.core.errors import InvalidInputError

router = APIRouter(prefix="/api/v1/cars", tags=["drives and charging"])

_BATTERY = "Vehicle.Powertrain.TractionBattery"
SPEED, POWER, SOC = "Vehicle.Speed", f"{_BATTERY}.CurrentPower", f"{_BATTERY}.StateOfCharge.Current"
CHARGE_POWER = f"{_BATTERY}.Charging.AveragePower"
LAT, LON = "Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude"

Start = Annotated[
    WireTime | None, Query(description="Only what overlaps [start, end); default: no bound.")
]
End = Annotated[WireTime | None, Query(description="Default: no bound.")]
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many, newest first.")]
DriveId = Annotated[str, Path(pattern=ID_PATTERN, description="The drive's id.")]
SessionId = Annotated[str, Path(pattern=ID_PATTERN, description="The charging session's id.")]


def _window(start: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    start_us = to_us(start) if start is not None else None
    end_us = to_us(end) if end is not None else None
    if start_us is not None and end_us is not None and end_us <= start_us:
        raise query_error("end", "end must be after start")
    return start_us, end_us


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {what} for you")


# --- drives --------------------------------------------------------------------------------------


class DriveOut(BaseModel):
    id: str
    start: datetime
    end: datetime
    start_lat: float | None
    start_lon: float | None
    end_lat: float | None
    end_lon: float | None
    start_place: str | None = Field(description="The household's geofence it began in.")
    end_place: str | None
    distance_km: float | None
    duration_s: float
    energy_used_kwh: float | None = Field(description="Out of the battery (negative: it gained).")
    efficiency_wh_per_km: float | None
    speed_avg_kmh: float | None
    speed_max_kmh: float | None
    soc_start: float | None = Field(description="State of charge, %.")
    soc_end: float | None
    odometer_start_km: float | None
    odometer_end_km: float | None

    @classmethod
    def of(cls, d: DriveRecord, access: CarAccess) -> DriveOut:
        where = access.allows(Scope.LOCATION)
        return cls(
            id=d.id,
            start=wire_time(d.start_us),
            end=wire_time(d.end_us),
            start_lat=d.start_lat if where else None,
            start_lon=d.start_lon if where else None,
            end_lat=d.end_lat if where else None,
            end_lon=d.end_lon if where else None,
            start_place=d.start_place if where else None,
            end_place=d.end_place if where else None,
            distance_km=d.distance_km,
            duration_s=d.duration_s,
            energy_used_kwh=d.energy_used_kwh,
            efficiency_wh_per_km=d.efficiency_wh_per_km,
            speed_avg_kmh=d.speed_avg_kmh,
            speed_max_kmh=d.speed_max_kmh,
            soc_start=d.soc_start,
            soc_end=d.soc_end,
            odometer_start_km=d.odometer_start_km,
            odometer_end_km=d.odometer_end_km,
        )


class DrivesOut(BaseModel):
    car_id: str
    drives: list[DriveOut]


class SeriesOut(BaseModel):
    path: str
    resolution: Resolution
    points: list[PointOut] = Field(description="The samples, when resolution is raw.")
    buckets: list[BucketOut] = Field(description="Buckets holding samples, when 1m or 1h.")


class DriveDetailOut(DriveOut):
    series: list[SeriesOut] = Field(
        description="Speed, battery power, SoC (and position, if you may see it) during the "
        "drive: raw samples for up to 6 h, else minute buckets."
    )


def _series(
    conn: Connection, access: CarAccess, paths: tuple[str, ...], start_us: int, end_us: int
) -> list[SeriesOut]:
    out = []
    for path in paths:
        if not may_see_signal(access.role, path):
            continue
        try:
            found = history.series(
                conn,
                access.car_id,
                path,
                start_us,
                max(end_us, start_us + 1),
                since_us=access.since_us,
            )
        except InvalidInputError:  # a session longer than history serves: no series
            continue
        out.append(
            SeriesOut(
                path=path,
                resolution=found.resolution,
                points=[
                    PointOut(
                        ts=wire_time(p.ts_us),
                        value=list(p.value) if isinstance(p.value, tuple) else p.value,
                    )
                    for p in found.points
                ],
                buckets=[
                    BucketOut(
                        ts=wire_time(b.ts_us), avg=b.avg, min=b.low, max=b.high, last=b.last, n=b.n
                    )
                    for b in found.buckets
                ],
            )
        )
    return out


@router.get(
    "/{car_id}/drives",
    response_model=DrivesOut,
    responses=error_responses(401, 403, 404),
    summary="The car's drives, newest first",
)
def list_drives(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.DRIVES))],
    start: Start = None,
    end: End = None,
    limit: Limit = 100,
) -> DrivesOut:
    start_us, end_us = _window(start, end)
    with context(request).db.connect() as conn:
        found = derived.drives(
            conn, access.car_id, start_us, end_us, limit, since_us=access.since_us
        )
    return DrivesOut(car_id=access.car_id, drives=[DriveOut.of(d, access) for d in found])


@router.get(
    "/{car_id}/drives/{drive_id}",
    response_model=DriveDetailOut,
    responses=error_responses(401, 403, 404),
    summary="One drive, with its speed, power and SoC series",
)
def get_drive(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.DRIVES))],
    drive_id: DriveId,
) -> DriveDetailOut:
    with context(request).db.connect() as conn:
        found = derived.drive(conn, access.car_id, drive_id, since_us=access.since_us)
        if found is None:
            raise _not_found(f"drive {drive_id}")
        paths = (SPEED, POWER, SOC, *((LAT, LON) if access.allows(Scope.LOCATION) else ()))
        series = _series(conn, access, paths, found.start_us, found.end_us)
    return DriveDetailOut(**DriveOut.of(found, access).model_dump(), series=series)


# --- charging sessions ---------------------------------------------------------------------------


class ChargeOut(BaseModel):
    id: str
    start: datetime
    end: datetime
    lat: float | None
    lon: float | None
    place: str | None = Field(description="The household's geofence it happened in.")
    geofence_id: str | None
    kind: str | None = Field(description="AC or DC; null when the car reported no power.")
    energy_added_kwh: float | None
    power_max_kw: float | None
    duration_s: float
    soc_start: float | None
    soc_end: float | None
    capacity_estimate_kwh: float | None
    cost: float | None = Field(description="With the geofence's tariff; null outside geofences.")
    currency: str | None

    @classmethod
    def of(cls, c: ChargeRecord, access: CarAccess) -> ChargeOut:
        where = access.allows(Scope.LOCATION)
        return cls(
            id=c.id,
            start=wire_time(c.start_us),
            end=wire_time(c.end_us),
            lat=c.lat if where else None,
            lon=c.lon if where else None,
            place=c.place if where else None,
            geofence_id=c.geofence_id if where else None,
            kind=c.kind,
            energy_added_kwh=c.energy_added_kwh,
            power_max_kw=c.power_max_kw,
            duration_s=c.duration_s,
            soc_start=c.soc_start,
            soc_end=c.soc_end,
            capacity_estimate_kwh=c.capacity_estimate_kwh,
            cost=c.cost,
            currency=c.currency,
        )


class ChargesOut(BaseModel):
    car_id: str
    charges: list[ChargeOut]


class ChargeDetailOut(ChargeOut):
    series: list[SeriesOut] = Field(description="Charging power and SoC during the session.")


@router.get(
    "/{car_id}/charges",
    response_model=ChargesOut,
    responses=error_responses(401, 403, 404),
    summary="The car's charging sessions with their cost, newest first",
)
def list_charges(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.CHARGES))],
    start: Start = None,
    end: End = None,
    limit: Limit = 100,
) -> ChargesOut:
    start_us, end_us = _window(start, end)
    with context(request).db.connect() as conn:
        found = derived.charges(
            conn, access.car_id, start_us, end_us, limit, since_us=access.since_us
        )
    return ChargesOut(car_id=access.car_id, charges=[ChargeOut.of(c, access) for c in found])


@router.get(
    "/{car_id}/charges/{session_id}",
    response_model=ChargeDetailOut,
    responses=error_responses(401, 403, 404),
    summary="One charging session, with its power and SoC series",
)
def get_charge(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.CHARGES))],
    session_id: SessionId,
) -> ChargeDetailOut:
    with context(request).db.connect() as conn:
        found = derived.charge(conn, access.car_id, session_id, since_us=access.since_us)
        if found is None:
            raise _not_found(f"charging session {session_id}")
        series = _series(conn, access, (CHARGE_POWER, SOC), found.start_us, found.end_us)
    return ChargeDetailOut(**ChargeOut.of(found, access).model_dump(), series=series)


# --- states --------------------------------------------------------------------------------------


class StateOut(BaseModel):
    state: VehicleState
    start: datetime
    end: datetime | None = Field(description="Null while it lasts.")
    soc_start: float | None
    soc_end: float | None


class StatesOut(BaseModel):
    car_id: str
    states: list[StateOut]


@router.get(
    "/{car_id}/states",
    response_model=StatesOut,
    responses=error_responses(401, 403, 404),
    summary="What the car did over time (driving, parked, charging, asleep, offline)",
)
def list_states(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.HISTORY))],
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many, newest.")] = 1000,
) -> StatesOut:
    start_us, end_us = _window(start, end)
    with context(request).db.connect() as conn:
        found = derived.states(
            conn, access.car_id, start_us, end_us, limit, since_us=access.since_us
        )
    return StatesOut(
        car_id=access.car_id,
        states=[
            StateOut(
                state=VehicleState(s.state),
                start=wire_time(s.start_us),
                end=wire_time(s.end_us) if s.end_us is not None else None,
                soc_start=s.soc_start,
                soc_end=s.soc_end,
            )
            for s in found
        ],
    )
