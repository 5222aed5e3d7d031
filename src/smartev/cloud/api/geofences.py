"""The geofences API: a household's named circles with charging prices. Members see them; the
owner creates, changes and deletes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from smartev.cloud import geofences
from smartev.cloud.api.common import ID_PATTERN, HouseholdId, Name, domain_errors, error_responses
from smartev.cloud.costs import RADIUS_RANGE_M, Geofence
from smartev.cloud.deps import Caller, context, now_us

router = APIRouter(prefix="/api/v1/households", tags=["geofences"])

GeofenceId = Annotated[str, Path(pattern=ID_PATTERN, description="The geofence's id.")]
_FENCES = "/{household_id}/geofences"

# Far above any real tariff, low enough that a typo (a price in cents) stands out.
PRICE_PER_KWH_MAX = 100.0
PRICE_PER_MINUTE_MAX = 100.0
SESSION_FEE_MAX = 10_000.0

# Strict: a JSON number, not true or "1.5".
Lat = Annotated[float, Field(strict=True, ge=-90.0, le=90.0, description="Degrees north (WGS 84).")]
Lon = Annotated[
    float, Field(strict=True, ge=-180.0, le=180.0, description="Degrees east (WGS 84).")
]
RadiusM = Annotated[float, Field(strict=True, ge=RADIUS_RANGE_M[0], le=RADIUS_RANGE_M[1])]
PricePerKwh = Annotated[float, Field(strict=True, ge=0.0, le=PRICE_PER_KWH_MAX)]
PricePerMinute = Annotated[float, Field(strict=True, ge=0.0, le=PRICE_PER_MINUTE_MAX)]
SessionFee = Annotated[float, Field(strict=True, ge=0.0, le=SESSION_FEE_MAX)]
Currency = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.", examples=["EUR"])
]


class GeofenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    lat: Lat
    lon: Lon
    radius_m: RadiusM
    price_per_kwh: PricePerKwh = 0.0
    price_per_minute: PricePerMinute = 0.0
    session_fee: SessionFee = 0.0
    currency: Currency = "EUR"


class GeofencePatch(BaseModel):
    """The fields to change; a field left out (or null) keeps its value."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    radius_m: RadiusM | None = None
    price_per_kwh: PricePerKwh | None = None
    price_per_minute: PricePerMinute | None = None
    session_fee: SessionFee | None = None
    currency: Currency | None = None


class GeofenceOut(BaseModel):
    id: str
    household_id: str
    name: str
    lat: float
    lon: float
    radius_m: float
    price_per_kwh: float
    price_per_minute: float
    session_fee: float
    currency: str

    @classmethod
    def of(cls, stored: geofences.StoredGeofence) -> GeofenceOut:
        fence = stored.fence
        return cls(
            id=stored.id,
            household_id=stored.household_id,
            name=fence.name,
            lat=fence.lat,
            lon=fence.lon,
            radius_m=fence.radius_m,
            price_per_kwh=fence.price_per_kwh,
            price_per_minute=fence.price_per_minute,
            session_fee=fence.session_fee,
            currency=fence.currency,
        )


@router.get(_FENCES, responses=error_responses(401, 404), summary="The household's geofences")
def list_geofences(
    household_id: HouseholdId, caller: Caller, request: Request
) -> list[GeofenceOut]:
    with context(request).db.connect() as db, domain_errors():
        fences = geofences.list_geofences(db, household_id=household_id, actor_id=caller.user_id)
    return [GeofenceOut.of(f) for f in fences]


@router.post(
    _FENCES,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Add a geofence (owner)",
)
def create_geofence(
    household_id: HouseholdId, body: GeofenceIn, caller: Caller, request: Request
) -> GeofenceOut:
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        stored = geofences.create_geofence(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            fence=Geofence(**body.model_dump()),
            now_us=now_us(ctx),
        )
    return GeofenceOut.of(stored)


@router.patch(
    _FENCES + "/{geofence_id}",
    responses=error_responses(400, 401, 403, 404),
    summary="Change a geofence (owner)",
)
def update_geofence(
    household_id: HouseholdId,
    geofence_id: GeofenceId,
    body: GeofencePatch,
    caller: Caller,
    request: Request,
) -> GeofenceOut:
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        stored = geofences.update_geofence(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            geofence_id=geofence_id,
            changes=geofences.GeofenceChanges(**body.model_dump()),
            now_us=now_us(ctx),
        )
    return GeofenceOut.of(stored)


@router.delete(
    _FENCES + "/{geofence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
    summary="Delete a geofence (owner)",
)
def delete_geofence(
    household_id: HouseholdId, geofence_id: GeofenceId, caller: Caller, request: Request
) -> None:
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        geofences.delete_geofence(
            db,
            household_id=household_id,
            actor_id=caller.user_id,
            geofence_id=geofence_id,
            now_us=now_us(ctx),
        )
