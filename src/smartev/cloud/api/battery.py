"""Vampire drain and battery health: what the car's standstills and charging sessions say
about its battery (:mod:`smartev.cloud.session_stats`). Both need the ``charges`` scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from smartev.cloud import derived, history
from smartev.cloud import schema as t
from smartev.cloud.access import CarAccess, Scope
from smartev.cloud.api.common import WireTime, error_responses, to_us
from smartev.cloud.api.signals import query_error, wire_time
from smartev.cloud.deps import context, now_us, require_car
from smartev.cloud.derived import ChargeRecord, StateRecord
from smartev.cloud.session_records import ChargingSession, StateInterval, VehicleState
from smartev.cloud.session_stats import battery_health, vampire_drain
from smartev.cloud.telemetry import decode_value
from smartev.core.errors import InvalidInputError

router = APIRouter(prefix="/api/v1/cars", tags=["battery"])

_DAY_US: Final = 86_400 * 1_000_000
_BATTERY = "Vehicle.Powertrain.TractionBattery"
NET_CAPACITY, GROSS_CAPACITY = f"{_BATTERY}.NetCapacity", f"{_BATTERY}.GrossCapacity"
MAX_HEALTH_SESSIONS: Final = 1000
MAX_DRAIN_INTERVALS: Final = 100_000


def _latest_number(conn: Connection, car_id: str, path: str) -> float | None:
    s = t.signal_latest.c
    text = conn.execute(select(s.value).where(s.car_id == car_id, s.path == path)).scalar()
    value = decode_value(text) if text is not None else None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return float(value) if ok else None  # type: ignore[arg-type]


def _rated_capacity_kwh(conn: Connection, car_id: str) -> float | None:
    """The car's rated capacity as set, else as the car reports it (gross, then net)."""
    rated = conn.execute(select(t.car.c.rated_capacity_kwh).where(t.car.c.id == car_id)).scalar()
    if rated is not None and rated > 0:
        return float(rated)
    return _latest_number(conn, car_id, GROSS_CAPACITY) or _latest_number(
        conn, car_id, NET_CAPACITY
    )


class StandstillOut(BaseModel):
    start: datetime
    end: datetime
    soc_start: float
    soc_end: float
    asleep_s: float
    energy_lost_kwh: float | None
    soc_pct_per_day: float


class VampireDrainOut(BaseModel):
    car_id: str
    start: datetime
    end: datetime
    capacity_kwh: float | None = Field(description="Usable capacity used to turn % into kWh.")
    duration_s: float = Field(description="Time counted (standstills of at least an hour).")
    soc_lost_pct: float
    soc_pct_per_day: float | None
    energy_kwh_per_day: float | None
    standstills: list[StandstillOut]


def _to_interval(s: StateRecord) -> StateInterval:
    assert s.end_us is not None
    return StateInterval(VehicleState(s.state), s.start_us, s.end_us, s.soc_start, s.soc_end)


@router.get(
    "/{car_id}/vampire-drain",
    response_model=VampireDrainOut,
    responses=error_responses(401, 403, 404),
    summary="Battery lost while the car stood (parked or asleep), per day",
)
def get_vampire_drain(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.CHARGES))],
    start: Annotated[WireTime | None, Query(description="Default: 30 days before end.")] = None,
    end: Annotated[WireTime | None, Query(description="Default: now.")] = None,
) -> VampireDrainOut:
    ctx = context(request)
    end_us = to_us(end) if end is not None else now_us(ctx)
    start_us = to_us(start) if start is not None else end_us - 30 * _DAY_US
    try:
        history.check_range(start_us, end_us)
    except InvalidInputError as exc:
        raise query_error("end", str(exc)) from None
    with ctx.db.connect() as conn:
        intervals = [
            _to_interval(s)
            for s in derived.states(
                conn,
                access.car_id,
                start_us,
                end_us,
                MAX_DRAIN_INTERVALS,
                since_us=access.since_us,
            )
            if s.end_us is not None
        ]
        capacity_kwh = _latest_number(conn, access.car_id, NET_CAPACITY) or _rated_capacity_kwh(
            conn, access.car_id
        )
    drain = vampire_drain(intervals, capacity_kwh=capacity_kwh)
    return VampireDrainOut(
        car_id=access.car_id,
        start=wire_time(start_us),
        end=wire_time(end_us),
        capacity_kwh=capacity_kwh,
        duration_s=drain.duration_s,
        soc_lost_pct=drain.soc_lost_pct,
        soc_pct_per_day=drain.soc_pct_per_day,
        energy_kwh_per_day=drain.energy_kwh_per_day,
        standstills=[
            StandstillOut(
                start=wire_time(s.start_us),
                end=wire_time(s.end_us),
                soc_start=s.soc_start_pct,
                soc_end=s.soc_end_pct,
                asleep_s=s.asleep_s,
                energy_lost_kwh=s.energy_lost_kwh,
                soc_pct_per_day=s.soc_pct_per_day,
            )
            for s in drain.standstills
        ],
    )


class CapacityPointOut(BaseModel):
    ts: datetime = Field(description="When the charge that measured it ended.")
    capacity_kwh: float


class BatteryHealthOut(BaseModel):
    car_id: str
    rated_capacity_kwh: float | None = Field(
        description="As set for the car, else as it reports (gross, then net capacity)."
    )
    capacity_kwh: float | None = Field(description="Median of the newest charges' estimates.")
    health_pct: float | None
    estimates_used: int
    trend_kwh_per_month: float | None
    points: list[CapacityPointOut]


def _as_session(c: ChargeRecord) -> ChargingSession:
    return ChargingSession(
        start_us=c.start_us,
        end_us=c.end_us,
        lat=None,
        lon=None,
        duration_s=c.duration_s,
        energy_added_kwh=c.energy_added_kwh,
        energy_source=None,
        energy_from_soc_kwh=None,
        kind=None,
        power_max_kw=c.power_max_kw,
        soc_start_pct=c.soc_start,
        soc_end_pct=c.soc_end,
        capacity_estimate_kwh=c.capacity_estimate_kwh,
    )


@router.get(
    "/{car_id}/battery-health",
    response_model=BatteryHealthOut,
    responses=error_responses(401, 403, 404),
    summary="Usable battery capacity estimated from charging sessions, and its trend",
)
def get_battery_health(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.CHARGES))],
) -> BatteryHealthOut:
    with context(request).db.connect() as conn:
        rated_kwh = _rated_capacity_kwh(conn, access.car_id)
        sessions = [
            _as_session(c)
            for c in derived.charges(
                conn, access.car_id, None, None, MAX_HEALTH_SESSIONS, since_us=access.since_us
            )
            if c.capacity_estimate_kwh is not None
        ]
    if rated_kwh is None:
        return BatteryHealthOut(
            car_id=access.car_id,
            rated_capacity_kwh=None,
            capacity_kwh=None,
            health_pct=None,
            estimates_used=0,
            trend_kwh_per_month=None,
            points=[],
        )
    health = battery_health(sessions, rated_kwh)
    return BatteryHealthOut(
        car_id=access.car_id,
        rated_capacity_kwh=health.rated_capacity_kwh,
        capacity_kwh=health.capacity_kwh,
        health_pct=health.health_pct,
        estimates_used=health.estimates_used,
        trend_kwh_per_month=health.trend_kwh_per_month,
        points=[
            CapacityPointOut(ts=wire_time(p.ts_us), capacity_kwh=p.capacity_kwh)
            for p in health.points
        ],
    )
