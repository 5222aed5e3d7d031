"""A car's signals: the live state (newest value of each signal, its age, whether it is stale)
and the history of one signal over a time range, raw or downsampled (rules in
:mod:`smartev.cloud.history`). A role sees only the signals it may (``access.may_see_signal``):
a charging manager's state holds the battery and charging signals, and nobody without the
location scope sees ``Vehicle.CurrentLocation.*``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from smartev.cloud import history
from smartev.cloud.access import CarAccess, Scope, may_see_signal
from smartev.cloud.api.common import WireTime, error_responses, from_us, to_us
from smartev.cloud.deps import context, now_us, read_db, require_car
from smartev.cloud.history import Resolution
from smartev.core.errors import InvalidInputError
from smartev.link.messages import SampleValue
from smartev.spec import InvalidPatternError, PathPattern

router = APIRouter(prefix="/api/v1/cars", tags=["signals"])

# Something received within this long means the car is online, when no gateway of this process
# holds its connection (it may be connected to another one).
ONLINE_WITHIN_S: Final = 120.0
MAX_PATTERNS: Final = 20
_LATEST_US: Final = to_us(datetime(2200, 1, 1, tzinfo=UTC))
_DAY_US: Final = 86_400 * 1_000_000
PATH_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$"

Scalar = bool | int | float | str
SignalValue = Scalar | list[Scalar] | None


def wire_time(ts_us: int) -> datetime:
    """A stored time for JSON; a car's clock gone far off is shown clamped, not an error."""
    return from_us(max(0, min(ts_us, _LATEST_US)))


def _json(value: SampleValue) -> SignalValue:
    return list(value) if isinstance(value, tuple) else value


def query_error(name: str, message: str) -> RequestValidationError:
    """A 422 in the shape of every other request validation error, about a query parameter."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": None}]
    )


# --- live state ----------------------------------------------------------------------------------


class SignalOut(BaseModel):
    path: str
    value: SignalValue
    ts: datetime = Field(description="When the car observed the value.")
    age_s: float = Field(description="Seconds from ts to as_of.")
    stale: bool = Field(
        description="The car is offline, or the value is older than max(3 × the signal's "
        "heartbeat, 120 s); a signal sent only on change is never stale while online."
    )


class CarStateOut(BaseModel):
    car_id: str
    online: bool = Field(description="The car is connected (or sent something in the last 2 min).")
    as_of: datetime
    last_seen: datetime | None = Field(description="When the cloud last received telemetry.")
    signals: list[SignalOut]


def _patterns(text: str | None) -> list[PathPattern] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or len(parts) > MAX_PATTERNS:
        raise query_error("paths", f"give 1..{MAX_PATTERNS} comma-separated path patterns")
    try:
        return [PathPattern(p) for p in parts]
    except InvalidPatternError as exc:
        raise query_error("paths", str(exc)) from None


def _online(request: Request, car_id: str, last_seen_us: int | None, now: int) -> bool:
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None and car_id in gateway.sessions:
        return True
    return last_seen_us is not None and now - last_seen_us <= ONLINE_WITHIN_S * 1e6


@router.get(
    "/{car_id}/state",
    response_model=CarStateOut,
    responses=error_responses(401, 403, 404),
    summary="The car's live state: the newest value of each signal you may see",
)
# Async, with its one read through read_db: on SQLite an indexed read of at most a few hundred
# rows costs less than a hop to a worker thread (2.4 vs 3.0 ms of CPU per request measured with
# bench/cloud.py); on PostgreSQL it goes to a thread.
async def car_state(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.STATE))],
    paths: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Comma-separated VSS path patterns (Vehicle.Speed, "
            "Vehicle.Powertrain.TractionBattery.**); all signals when absent.",
        ),
    ] = None,
) -> CarStateOut:
    patterns = _patterns(paths)
    ctx = context(request)
    now = now_us(ctx)
    values = await read_db(
        ctx, lambda conn: history.latest_values(conn, access.car_id, since_us=access.since_us)
    )
    last_seen_us = max((v.received_us for v in values), default=None)
    online = _online(request, access.car_id, last_seen_us, now)
    signals = []
    for v in values:
        if not may_see_signal(access.role, v.path):
            continue
        if patterns is not None and not any(p.matches(v.path) for p in patterns):
            continue
        age_s = max(0.0, (now - v.ts_us) / 1e6)
        signals.append(
            SignalOut(
                path=v.path,
                value=_json(v.value),
                ts=wire_time(v.ts_us),
                age_s=round(age_s, 3),
                stale=history.is_stale(v.path, age_s, online=online),
            )
        )
    return CarStateOut(
        car_id=access.car_id,
        online=online,
        as_of=wire_time(now),
        last_seen=wire_time(last_seen_us) if last_seen_us is not None else None,
        signals=signals,
    )


# --- history -------------------------------------------------------------------------------------


class PointOut(BaseModel):
    ts: datetime
    value: SignalValue


class BucketOut(BaseModel):
    ts: datetime = Field(description="The bucket's start.")
    avg: float
    min: float
    max: float
    last: float
    n: int = Field(description="How many samples the bucket holds.")


class HistoryOut(BaseModel):
    car_id: str
    path: str
    start: datetime
    end: datetime
    resolution: Resolution = Field(description="The one used (auto resolved).")
    points: list[PointOut] = Field(description="The samples, when resolution is raw.")
    buckets: list[BucketOut] = Field(description="Buckets holding samples, when 1m or 1h.")


@router.get(
    "/{car_id}/history",
    response_model=HistoryOut,
    responses=error_responses(401, 403, 404),
    summary="One signal over a time range, raw or in minute / hour buckets",
)
def signal_history(
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.HISTORY))],
    path: Annotated[
        str,
        Query(min_length=1, max_length=256, pattern=PATH_PATTERN, description="A VSS path."),
    ],
    start: Annotated[WireTime | None, Query(description="Default: a day before end.")] = None,
    end: Annotated[WireTime | None, Query(description="Default: now.")] = None,
    resolution: Annotated[
        Resolution,
        Query(
            description="auto: raw up to 6 h, minutes up to ~7 days, hours beyond; "
            f"at most {history.MAX_POINTS:,} points and {history.MAX_RANGE_DAYS} days."
        ),
    ] = Resolution.AUTO,
) -> HistoryOut:
    if not may_see_signal(access.role, path):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"your role for car {access.car_id} ({access.role}) may not see {path}",
        )
    ctx = context(request)
    end_us = to_us(end) if end is not None else now_us(ctx)
    start_us = to_us(start) if start is not None else end_us - _DAY_US
    try:
        with ctx.db.connect() as conn:
            found = history.series(
                conn, access.car_id, path, start_us, end_us, resolution, since_us=access.since_us
            )
    except InvalidInputError as exc:
        name = "resolution" if "resolution" in str(exc) else "end"
        raise query_error(name, str(exc)) from None
    return HistoryOut(
        car_id=access.car_id,
        path=path,
        start=wire_time(start_us),
        end=wire_time(end_us),
        resolution=found.resolution,
        points=[PointOut(ts=wire_time(p.ts_us), value=_json(p.value)) for p in found.points],
        buckets=[
            BucketOut(ts=wire_time(b.ts_us), avg=b.avg, min=b.low, max=b.high, last=b.last, n=b.n)
            for b in found.buckets
        ],
    )
