"""The commands API: send a command a device signed, and follow its states.

The cloud checks what it can read of a signed envelope before storing it (well formed, for this
car, not expired, a command the caller's role may send) and then relays it unchanged; the car
verifies the signature and decides. Every state and its reason is visible here and on the live
socket. The owner and drivers see every command of the car; guests and charging managers see the
commands they sent.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from smartev.cloud.access import CarAccess, Scope, commands_for
from smartev.cloud.api.common import ID_PATTERN, error_responses, from_us
from smartev.cloud.command_reasons import reason_text
from smartev.cloud.commands import CommandRecord
from smartev.cloud.deps import Caller, context, now_us, require_car
from smartev.cloud.live import SEES_ALL_COMMANDS, sees_command
from smartev.link.signing import MAX_ENVELOPE_BYTES, MAX_TTL_S, EnvelopeError, decode_envelope

router = APIRouter(prefix="/api/v1/cars", tags=["commands"])

# How far ahead of the cloud's clock a car's clock may be for a command to be taken.
MAX_CLOCK_AHEAD_S: Final = 300.0
MAX_ENVELOPE_CHARS: Final = (MAX_ENVELOPE_BYTES + 2) // 3 * 4
_LATEST_US: Final = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z

CommandId = Annotated[str, Path(pattern=ID_PATTERN, description="The command's id.")]
CommandsCar = Annotated[CarAccess, Depends(require_car(Scope.COMMANDS))]


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    envelope: str = Field(
        min_length=4,
        max_length=MAX_ENVELOPE_CHARS,
        description="The signed command envelope (smartev.link.signing), base64 (standard or "
        "URL-safe alphabet).",
    )


class CommandStateOut(BaseModel):
    state: str
    ts: datetime
    reason: str = Field(description="The reason code ('' when there is none).")
    reason_text: str | None = Field(description="The reason in plain words.")


class CommandOut(BaseModel):
    id: str
    car_id: str
    name: str
    args: dict[str, bool | int | float | str]
    state: str
    requested_by: str | None
    created_at: datetime
    expires_at: datetime
    states: list[CommandStateOut]

    @classmethod
    def of(cls, record: CommandRecord) -> CommandOut:
        return cls(
            id=record.command_id,
            car_id=record.car_id,
            name=record.name,
            args=dict(record.args),
            state=record.state,
            requested_by=record.user_id,
            created_at=_time(record.created_us),
            expires_at=_time(record.expires_at_us),
            states=[
                CommandStateOut(
                    state=s.state,
                    ts=_time(s.ts_us),
                    reason=s.reason,
                    reason_text=reason_text(s.reason),
                )
                for s in record.states
            ],
        )


def _time(ts_us: int) -> datetime:
    return from_us(max(0, min(ts_us, _LATEST_US)))


def _invalid(message: str) -> RequestValidationError:
    """A 422 shaped like every other request validation error, about the envelope."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", "envelope"), "msg": message, "input": None}]
    )


def _envelope_bytes(text: str) -> bytes:
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(
            "envelope is not base64: send the signed envelope's bytes in base64"
        ) from None


@router.post(
    "/{car_id}/commands",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CommandOut,
    responses=error_responses(401, 403, 404),
)
def send_command(
    body: CommandIn, request: Request, caller: Caller, access: CommandsCar
) -> CommandOut:
    """Relay a signed command to the car (now, or when it next connects, unless it expires)."""
    ctx = context(request)
    envelope = _envelope_bytes(body.envelope)
    try:
        command = decode_envelope(envelope).command
    except EnvelopeError as exc:
        raise _invalid(str(exc)) from None
    if command.car_id != access.car_id:
        raise _invalid(f"the command is signed for car {command.car_id}, not {access.car_id}")
    now = now_us(ctx)
    if command.expires_at_us <= now:
        raise _invalid(
            f"the command expired at {_time(command.expires_at_us).isoformat()} "
            f"(cloud time {_time(now).isoformat()}): sign it again"
        )
    if command.expires_at_us > now + (MAX_TTL_S + MAX_CLOCK_AHEAD_S) * 1_000_000:
        raise _invalid(
            f"the command expires at {_time(command.expires_at_us).isoformat()}, more than "
            f"{MAX_TTL_S + MAX_CLOCK_AHEAD_S:g} s after the cloud's time {_time(now).isoformat()}"
            ": check the signing device's clock"
        )
    if command.name not in commands_for(access.role):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"your role for car {access.car_id} ({access.role}) does not allow the "
            f"command {command.name}",
        )
    record = ctx.commands.submit(access.car_id, envelope, user_id=caller.user_id)
    return CommandOut.of(record)


@router.get(
    "/{car_id}/commands",
    response_model=list[CommandOut],
    responses=error_responses(401, 403, 404),
)
def list_commands(
    request: Request,
    caller: Caller,
    access: CommandsCar,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many.")] = 50,
) -> list[CommandOut]:
    """The car's commands, newest first (guests and charging managers: the ones they sent)."""
    ctx = context(request)
    only = None if access.role in SEES_ALL_COMMANDS else caller.user_id
    records = ctx.commands.for_car(access.car_id, limit=limit, user_id=only)
    return [CommandOut.of(r) for r in records]


@router.get(
    "/{car_id}/commands/{command_id}",
    response_model=CommandOut,
    responses=error_responses(401, 403, 404),
)
def get_command(
    request: Request, caller: Caller, access: CommandsCar, command_id: CommandId
) -> CommandOut:
    """One command with every state it went through."""
    record = context(request).commands.get(command_id)
    if (
        record is None
        or record.car_id != access.car_id
        or not sees_command(access, caller.user_id, record.user_id)
    ):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no command {command_id} of car {access.car_id}"
        )
    return CommandOut.of(record)
