"""What the API's routers share at the edge: the error body, the error responses a route
declares, the cloud's domain errors mapped to HTTP statuses, id path parameters and times on
the wire (ISO-8601 UTC with ``Z`` in JSON, integer microseconds inside)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Path, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field

from smartev.cloud.auth import EMAIL_PATTERN
from smartev.cloud.errors import (
    ConflictError,
    GoneError,
    InvalidFieldError,
    NotFoundError,
    NotPermittedError,
)
from smartev.core.errors import InvalidInputError

ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"

HouseholdId = Annotated[str, Path(pattern=ID_PATTERN, description="The household's id.")]
UserId = Annotated[str, Path(pattern=ID_PATTERN, description="The person's user id.")]


class ErrorBody(BaseModel):
    """Every error other than a request that fails validation (422): what was wrong."""

    detail: str


_DESCRIPTIONS = {
    400: "The body is not readable (not UTF-8 JSON).",
    401: "No valid access token (or wrong credentials).",
    403: "You see this, but your role does not allow the action; the detail names the rule.",
    404: "No such thing that you may see.",
    409: "The current state does not allow this change.",
    410: "The thing existed but can no longer be used.",
    429: "Too many failed attempts; wait for Retry-After seconds.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may answer with these error statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code == status.HTTP_429_TOO_MANY_REQUESTS:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds until another attempt is allowed.",
                    "schema": {"type": "integer"},
                }
            }
        out[code] = entry
    return out


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the cloud's domain errors raised in the block into their HTTP statuses; other bad
    input that got past the request models becomes a 422 like theirs."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except NotPermittedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    except ConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except GoneError as exc:
        raise HTTPException(status.HTTP_410_GONE, detail=str(exc)) from None
    except InvalidFieldError as exc:
        raise _unprocessable(("body", exc.field), exc.message) from None
    except InvalidInputError as exc:
        raise _unprocessable(("body",), str(exc)) from None


def _unprocessable(loc: tuple[str, ...], message: str) -> RequestValidationError:
    """A 422 in the shape of every other (the one the OpenAPI document declares)."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}])


def _json_number(value: object) -> object:
    # JSON Schema's integer includes 290.0 but neither true nor "290": pydantic's strict mode
    # refuses the first, its lax mode takes the others.
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


# An integer as JSON Schema means it (a number with no fraction).
WholeNumber = Annotated[int, BeforeValidator(_json_number)]


# A time in a request: ISO-8601 with an offset (``Z`` or ``+02:00``). Kept with its offset:
# :func:`to_us` is exact for any of them, where converting 0001-01-01T00:00+01:00 to UTC is not.
WireTime = AwareDatetime

# Text people name things with: a visible character, no control characters (PostgreSQL refuses
# NUL in text), stored without the blanks around it. The patterns are in the OpenAPI document;
# the checks are ours, so a refusal says in words what was wrong.
# Written without \s so that JSON Schema's regex engine and Python's agree on every character.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^ \x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
_NAME = re.compile(NAME_PATTERN)
EMAIL_MAX_CHARS = 254
_EMAIL = re.compile(EMAIL_PATTERN)


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("must hold a visible character and no control characters")
    return value.strip(" ")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an e-mail address (one @, a domain with a dot, no spaces)")
    lowered = value.lower()
    if len(lowered) > EMAIL_MAX_CHARS:  # "İ".lower() is two characters
        raise ValueError(f"longer than {EMAIL_MAX_CHARS} characters in lower case")
    return lowered


Name = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra={"pattern": NAME_PATTERN}),
    AfterValidator(_name),
]
# An e-mail address in a request, kept lower-cased.
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=EMAIL_MAX_CHARS,
        json_schema_extra={"pattern": EMAIL_PATTERN},
        examples=["ada@example.org"],
    ),
    AfterValidator(_email),
]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware time, exactly (no detour through a float)."""
    return (value - _EPOCH) // _ONE_US


def from_us(value_us: int) -> datetime:
    return _EPOCH + value_us * _ONE_US


def from_us_or_none(value_us: int | None) -> datetime | None:
    return None if value_us is None else from_us(value_us)
