"""The device-keys API: a person registers the keys their browsers and phones sign commands
with, sees whether each is enrolled on their cars, and revokes them; the household's owner sees
which keys wait to be enrolled; a device asks for what it needs to sign its next command (the
car's boot epoch and clock, the key's last counter, what the caller's role may send).

The cloud never sees a private key: it keeps the public half, and a car trusts a key only once
its owner enrolled it there (see :mod:`smartev.cloud.device_keys`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from smartev.cloud import device_keys, key_registration
from smartev.cloud.access import CarAccess, CarRole, Scope, commands_for
from smartev.cloud.api.common import (
    HouseholdId,
    domain_errors,
    error_responses,
    from_us,
    from_us_or_none,
)
from smartev.cloud.deps import Caller, context, now_us, require_car
from smartev.cloud.device_keys import KeyState
from smartev.cloud.households import require_owner_of
from smartev.cloud.key_registration import KEY_ID_PATTERN, LABEL_PATTERN, DeviceKey
from smartev.core.clock import Clock
from smartev.link.signing import MAX_TTL_S, KeyAlgorithm

router = APIRouter(prefix="/api/v1", tags=["device keys"])

_KEY_ID_TEXT = "Your device key's id (16 lowercase hex digits)."
KeyIdQuery = Annotated[str, Query(pattern=KEY_ID_PATTERN, description=_KEY_ID_TEXT)]
KeyIdPath = Annotated[str, Path(pattern=KEY_ID_PATTERN, description=_KEY_ID_TEXT)]
PUBLIC_KEY_PATTERN = r"^([0-9a-fA-F]{64}|04[0-9a-fA-F]{128})$"


class DeviceKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_key: str = Field(
        min_length=64,
        max_length=130,
        pattern=PUBLIC_KEY_PATTERN,
        description="The public key in hex: 65 bytes of uncompressed P-256 (04 || x || y), "
        "as WebCrypto exports it 'raw', or 32 bytes of Ed25519.",
    )
    label: str = Field(
        min_length=1,
        max_length=64,
        pattern=LABEL_PATTERN,
        description="What the device is, for people: 'Browser on Linux'. The car keeps it too.",
    )


class DeviceKeyOut(BaseModel):
    key_id: str = Field(description="The first 16 hex digits of the SHA-256 of the public key.")
    public_key: str
    algorithm: KeyAlgorithm
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: DeviceKey) -> DeviceKeyOut:
        return cls(**_key_fields(key))


def _key_fields(key: DeviceKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "public_key": key.public_key.hex(),
        "algorithm": key.algorithm,
        "label": key.label,
        "created_at": from_us(key.created_us),
        "revoked_at": from_us_or_none(key.revoked_us),
    }


class KeyOnCarOut(BaseModel):
    car_id: str
    role: CarRole = Field(description="Your role for the car.")
    state: KeyState = Field(
        description="enrolled: the car takes this key's commands; pending: the car's owner has "
        "yet to enroll it; revoked: revoked on the car or here (the car never takes it back)."
    )


class DeviceKeyWithCars(DeviceKeyOut):
    cars: list[KeyOnCarOut] = Field(description="The key on each car you have a role for.")


class RevokeRequestOut(BaseModel):
    key_id: str
    label: str
    user_id: str
    email: str
    car_id: str
    reason: str = Field(description="Why the key should go, in words.")
    revoke_args: dict[str, str] = Field(description="The exact arguments of key.revoke to sign.")

    @classmethod
    def of(cls, request: device_keys.RevokeRequest) -> RevokeRequestOut:
        return cls(
            key_id=request.key_id,
            label=request.label,
            user_id=request.user_id,
            email=request.email,
            car_id=request.car_id,
            reason=request.reason,
            revoke_args=request.revoke_args(),
        )


class KeyRequestOut(BaseModel):
    key_id: str
    public_key: str
    algorithm: KeyAlgorithm
    label: str
    user_id: str
    email: str
    car_id: str
    role: str = Field(description="The car's role to enroll the key with.")
    valid_from: datetime | None
    valid_until: datetime | None
    enroll_args: dict[str, bool | int | float | str] = Field(
        description="The exact arguments of the key.enroll command to sign (times in integer "
        "microseconds)."
    )

    @classmethod
    def of(cls, request: device_keys.KeyRequest) -> KeyRequestOut:
        return cls(
            key_id=request.key_id,
            public_key=request.public_key.hex(),
            algorithm=request.algorithm,
            label=request.label,
            user_id=request.user_id,
            email=request.email,
            car_id=request.car_id,
            role=str(request.role),
            valid_from=from_us_or_none(request.valid_from_us),
            valid_until=from_us_or_none(request.valid_until_us),
            enroll_args=request.enroll_args(),
        )


class CommandSessionOut(BaseModel):
    car_id: str
    online: bool = Field(description="Whether the car is connected to the cloud now.")
    epoch: str | None = Field(
        description="The car's current boot epoch in hex (commands must carry it); null while "
        "the car is offline."
    )
    car_time_us: int = Field(description="The car's clock now, microseconds since the epoch.")
    clock_speed: float = Field(
        description="Car seconds per real second (1 in real time, 60 in the demo world, 0 when "
        "the clock only moves by hand): extrapolate car_time_us with it."
    )
    last_counter: int = Field(
        description="The highest counter among this key's stored commands for the car (0: "
        "none); sign the next one with a higher counter."
    )
    allowed_commands: list[str] = Field(description="The commands your role may send.")
    max_ttl_s: float = Field(description="The longest a signed command may live.")
    role: CarRole


@router.post(
    "/me/device-keys",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": DeviceKeyOut, "description": "The key was already registered by you."},
        **error_responses(400, 401, 409),
    },
    summary="Register a device key of yours",
)
def register_key(
    body: DeviceKeyIn, caller: Caller, request: Request, response: Response
) -> DeviceKeyOut:
    """201 with the new key; 200 when you had registered it already. A key someone else
    registered, a key revoked here, or a 21st live key of yours is a 409."""
    ctx = context(request)
    public_key = bytes.fromhex(body.public_key)

    def register() -> tuple[DeviceKey, bool]:
        with ctx.db.begin() as db, domain_errors():
            return key_registration.register(
                db,
                user_id=caller.user_id,
                public_key=public_key,
                label=body.label,
                now_us=now_us(ctx),
            )

    try:
        key, created = register()
    except IntegrityError:  # the same key registered at the same moment: it exists now
        key, created = register()
    if not created:
        response.status_code = status.HTTP_200_OK
    return DeviceKeyOut.of(key)


@router.get(
    "/me/device-keys",
    responses=error_responses(401),
    summary="Your device keys and their state on each of your cars",
)
def list_keys(caller: Caller, request: Request) -> list[DeviceKeyWithCars]:
    ctx = context(request)
    now = now_us(ctx)
    with ctx.db.connect() as db:
        keys = key_registration.keys_of(db, caller.user_id)
        states = device_keys.car_states(db, caller.user_id, keys, now)
    return [
        DeviceKeyWithCars(
            **_key_fields(key),
            cars=[
                KeyOnCarOut(car_id=s.car_id, role=s.role, state=s.state) for s in states[key.key_id]
            ],
        )
        for key in keys
    ]


@router.delete(
    "/me/device-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 404),
    summary="Revoke a device key of yours",
)
def revoke_key(key_id: KeyIdPath, caller: Caller, request: Request) -> None:
    """The cloud lists it as revoked from now on; a car it is enrolled on keeps it until the
    car's owner revokes it there (key.revoke)."""
    ctx = context(request)
    with ctx.db.begin() as db, domain_errors():
        key_registration.revoke(db, user_id=caller.user_id, key_id=key_id, now_us=now_us(ctx))


@router.get(
    "/households/{household_id}/key-requests",
    responses=error_responses(401, 403, 404),
    summary="Members' keys waiting to be enrolled on the household's cars (owner)",
)
def key_requests(
    household_id: HouseholdId, caller: Caller, request: Request
) -> list[KeyRequestOut]:
    """What the owner's signing device needs to enroll each key: one entry per key and car,
    with the role and validity window to enroll it with. Keys with a key.enroll on its way are
    left out, so a signer polling this list does not send one twice."""
    ctx = context(request)
    with ctx.db.connect() as db, domain_errors():
        require_owner_of(db, household_id, caller.user_id, "see the keys waiting to be enrolled")
        requests = device_keys.key_requests(db, household_id, now_us(ctx))
    return [KeyRequestOut.of(r) for r in requests]


@router.get(
    "/households/{household_id}/key-revocations",
    responses=error_responses(401, 403, 404),
    summary="Keys to revoke on the household's cars (owner)",
)
def key_revocations(
    household_id: HouseholdId, caller: Caller, request: Request
) -> list[RevokeRequestOut]:
    """Keys enrolled on a household car that should no longer be: revoked in the cloud, or
    their person has no role for the car any more. The owner's signing device sends each car
    an owner-signed key.revoke with the given arguments. Keys with a key.revoke on its way are
    left out."""
    ctx = context(request)
    with ctx.db.connect() as db, domain_errors():
        require_owner_of(db, household_id, caller.user_id, "see the keys to revoke")
        requests = device_keys.revoke_requests(db, household_id, now_us(ctx))
    return [RevokeRequestOut.of(r) for r in requests]


@router.get(
    "/cars/{car_id}/command-session",
    responses=error_responses(401, 403, 404, 410),
    summary="What a device needs to sign its next command for the car",
)
def command_session(
    key_id: KeyIdQuery,
    caller: Caller,
    request: Request,
    access: Annotated[CarAccess, Depends(require_car(Scope.COMMANDS))],
) -> CommandSessionOut:
    """The car's boot epoch and clock, how fast its clock runs, the key's last counter for the
    car and the commands your role may send. ``key_id`` must be a live key of yours."""
    ctx = context(request)
    with ctx.db.connect() as db, domain_errors():
        key_registration.own_live_key(db, caller.user_id, key_id)
    epoch = ctx.homes.links.epoch(access.car_id)
    return CommandSessionOut(
        car_id=access.car_id,
        online=epoch is not None,
        epoch=None if epoch is None else epoch.hex(),
        car_time_us=now_us(ctx),
        clock_speed=_clock_speed(ctx.clock),
        last_counter=device_keys.last_counter(ctx.db, access.car_id, key_id),
        allowed_commands=sorted(commands_for(access.role)),
        max_ttl_s=MAX_TTL_S,
        role=access.role,
    )


def _clock_speed(clock: Clock) -> float:
    """Car seconds per real second: a simulated clock says (None: it only moves by hand), a
    real one runs at 1."""
    speed: float | None = getattr(clock, "speed", 1.0)
    return 0.0 if speed is None else float(speed)
