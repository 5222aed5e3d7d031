"""The accounts API: sign up, log in, refresh, log out, and who am I.

Signing up also makes the person's own household, which they own, so everyone belongs to one.
Logins are rate limited per e-mail address and per client address (429 with Retry-After).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from smartev.cloud import households
from smartev.cloud import schema as t
from smartev.cloud.api.common import Email, Name, error_responses
from smartev.cloud.api.households import HouseholdOut
from smartev.cloud.auth import (
    PASSWORD_MAX_CHARS,
    PASSWORD_MIN_CHARS,
    AccountExistsError,
    AuthError,
    TokenPair,
)
from smartev.cloud.deps import Caller, context, now_us

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"])


class SignUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=PASSWORD_MIN_CHARS, max_length=PASSWORD_MAX_CHARS)
    display_name: Name


class Account(BaseModel):
    id: str
    email: str
    display_name: str


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_CHARS)


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid.")

    @classmethod
    def of(cls, pair: TokenPair) -> Tokens:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in_s,
        )


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class Me(Account):
    households: list[HouseholdOut]


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 409),
    summary="Create an account (and its own household)",
)
def sign_up(body: SignUp, request: Request) -> Account:
    ctx = context(request)
    try:
        with ctx.db.begin() as db:
            user_id = ctx.accounts.sign_up(db, body.email, body.password, body.display_name)
            households.create_household(
                db,
                owner_id=user_id,
                name=households.own_home_name(body.display_name),
                now_us=now_us(ctx),
            )
    except (AccountExistsError, IntegrityError):
        # IntegrityError: the same address signed up at the same moment.
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"an account for {body.email} exists already; log in instead",
        ) from None
    return Account(id=user_id, email=body.email, display_name=body.display_name)


@router.post("/login", responses=error_responses(400, 401, 429), summary="Log in")
def log_in(body: LogIn, request: Request) -> Tokens:
    """A short-lived access token and a refresh token. After too many failed attempts for the
    e-mail address or from the client address: 429 with Retry-After."""
    ctx = context(request)
    with ctx.db.begin() as db:
        pair = ctx.accounts.log_in(db, body.email, body.password, _client_address(request))
    return Tokens.of(pair)


@router.post("/refresh", responses=error_responses(400, 401), summary="Swap a refresh token")
def refresh(body: Refresh, request: Request) -> Tokens:
    """A new token pair for a refresh token, which is spent by this; a spent token used again
    ends the whole login (someone has a copy)."""
    ctx = context(request)
    refused: AuthError | None = None
    with ctx.db.begin() as db:
        try:
            pair = ctx.accounts.refresh(db, body.refresh_token)
        except AuthError as exc:
            refused = exc  # raised after the commit: the revocation it may have made must stay
    if refused is not None:
        raise refused
    return Tokens.of(pair)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401),
    summary="End this login",
)
def log_out(caller: Caller, request: Request) -> None:
    """This login's access tokens stop working at once and its refresh token is refused."""
    ctx = context(request)
    with ctx.db.begin() as db:
        ctx.accounts.log_out(db, caller)


@router.get("/me", responses=error_responses(401), summary="Who am I")
def me(caller: Caller, request: Request) -> Me:
    ctx = context(request)
    with ctx.db.connect() as db:
        row = db.execute(
            select(t.user.c.email, t.user.c.display_name).where(t.user.c.id == caller.user_id)
        ).one()
        memberships = households.households_of(db, caller.user_id)
    return Me(
        id=caller.user_id,
        email=row.email,
        display_name=row.display_name,
        households=[HouseholdOut.of(m) for m in memberships],
    )
