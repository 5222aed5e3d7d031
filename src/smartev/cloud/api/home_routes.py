"""Steps the household routes share: the caller's access (404 for a stranger, 403 without the
role asked for), and reading or writing the database under :func:`domain_errors`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from sqlalchemy import Connection

from smartev.cloud.api.common import domain_errors
from smartev.cloud.deps import context, now_us, read_db
from smartev.cloud.home_access import HomeAccess, home_access

T = TypeVar("T")


async def member_access(request: Request, household_id: str, caller_id: str) -> HomeAccess:
    """The caller's access to the household (404 for a stranger)."""
    ctx = context(request)
    with domain_errors():
        return await read_db(ctx, lambda db: home_access(db, household_id, caller_id, now_us(ctx)))


async def owner_access(request: Request, household_id: str, caller_id: str, what: str) -> None:
    """403 unless the caller owns the household (404 for a stranger); ``what`` is what only the
    owner may do (``edit its scenes``)."""
    access = await member_access(request, household_id, caller_id)
    with domain_errors():
        access.require_owner(what)


async def control_access(
    request: Request, household_id: str, caller_id: str, what: str
) -> HomeAccess:
    """The caller's access when it may control the household's devices: the owner and the
    drivers of its cars (403 for others, 404 for a stranger)."""
    access = await member_access(request, household_id, caller_id)
    with domain_errors():
        access.require_control(what)
    return access


async def read_one(request: Request, read: Callable[[Connection], T]) -> T:
    """``read`` on a connection; its domain errors (not found: 404) as HTTP statuses."""
    with domain_errors():
        return await read_db(context(request), read)


async def write_db(request: Request, write: Callable[[Connection], T]) -> T:
    """``write`` in one transaction in a worker thread; its domain errors as HTTP statuses."""
    ctx = context(request)

    def run() -> T:
        with ctx.db.begin() as db:
            return write(db)

    with domain_errors():
        return await asyncio.to_thread(run)
