"""Unauthenticated liveness: ``/healthz`` for probes (``/`` is the web app, :mod:`.web`).

It shows only what is safe to show anyone: that the service runs, its version and its clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import BaseModel

from smartev import __version__

if TYPE_CHECKING:
    from smartev.cloud.app import CloudContext

router = APIRouter(tags=["status"])


class Health(BaseModel):
    status: str
    version: str
    uptime_s: float
    clock_utc: str
    clock_speed: float | None


def _health(request: Request) -> Health:
    ctx: CloudContext = request.app.state.ctx
    clock = ctx.clock
    return Health(
        status="ok",
        version=__version__,
        uptime_s=round(clock.monotonic() - ctx.started_monotonic, 3),
        clock_utc=clock.now().isoformat().replace("+00:00", "Z"),
        clock_speed=getattr(clock, "speed", 1.0),
    )


@router.get("/healthz")
async def healthz(request: Request) -> Health:
    """Liveness probe: 200 with the version and the service's clock while it runs."""
    return _health(request)
