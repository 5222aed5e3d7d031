"""What routes depend on: the service's context, the caller (from the bearer token), and the
caller's access to the car named in the path.

A missing or bad token is a 401 that says why; a car the caller has no role for is a 404 (it
might as well not exist); a car they see but whose data or action their role does not include is
a 403 that names the role and what it lacks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, HTTPException, Path, Request, status
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from smartev.cloud.access import CarAccess, Scope, car_access
from smartev.cloud.auth import AuthError, Principal

if TYPE_CHECKING:
    from smartev.cloud.app import CloudContext

CAR_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
T = TypeVar("T")


def context(request: Request) -> CloudContext:
    ctx: CloudContext = request.app.state.ctx
    return ctx


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send the access token as 'Authorization: Bearer <token>'")
    return token.strip()


# The two lookups every request makes (its login, its role for the car) are primary-key reads.
# On SQLite (a file: no waiting) they run on the event loop, where handing each to a worker
# thread cost more than the read itself (measured: ~1.5 ms of CPU per hop under load); on
# PostgreSQL each is a network round trip, during which the loop must not stand still.


async def read_db(ctx: CloudContext, read: Callable[[Connection], T]) -> T:
    """Run a short read: inline on SQLite, in a worker thread on a networked database."""

    def run() -> T:
        with ctx.db.connect() as db:
            return read(db)

    if ctx.db.backend == "sqlite":
        return run()
    return await run_in_threadpool(run)


async def principal(request: Request) -> Principal:
    ctx = context(request)
    token = bearer_token(request)
    try:
        return await read_db(ctx, lambda db: ctx.accounts.authenticate(db, token))
    except AuthError as exc:
        raise _unauthorized(str(exc)) from None


Caller = Annotated[Principal, Depends(principal)]


def now_us(ctx: CloudContext) -> int:
    return int(ctx.clock.timestamp() * 1_000_000)


def require_car(scope: Scope) -> Callable[..., Awaitable[CarAccess]]:
    """A dependency giving the caller's access to ``{car_id}`` if their role includes ``scope``."""

    async def dependency(
        request: Request,
        caller: Caller,
        car_id: Annotated[str, Path(pattern=CAR_ID_PATTERN, description="The car's id (VIN).")],
    ) -> CarAccess:
        ctx = context(request)
        access = await read_db(ctx, lambda db: car_access(db, caller.user_id, car_id, now_us(ctx)))
        if access is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no car {car_id} for you")
        if not access.allows(scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"your role for car {car_id} ({access.role}) does not include {scope}",
            )
        return access

    return dependency
