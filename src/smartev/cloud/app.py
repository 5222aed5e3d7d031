"""The cloud app factory: one FastAPI app, a router per domain, start and stop in one lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from smartev import __version__
from smartev.cloud import gateway, status
from smartev.cloud.gateway import LinkGateway
from smartev.core.bus import EventBus
from smartev.core.clock import Clock
from smartev.core.config import Settings


@dataclass(frozen=True, slots=True)
class CloudContext:
    """What every router may reach through ``request.app.state.ctx``."""

    settings: Settings
    clock: Clock
    bus: EventBus
    started_monotonic: float


def create_app(
    settings: Settings, clock: Clock, bus: EventBus, *, link: LinkGateway | None = None
) -> FastAPI:
    """Build the cloud app around the given settings, clock and bus (owned by the caller);
    with ``link``, cars connect to its gateway at ``/link/v1``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ctx = CloudContext(
            settings=settings, clock=clock, bus=bus, started_monotonic=clock.monotonic()
        )
        yield

    app = FastAPI(
        title="smartev cloud",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = link
    app.include_router(status.router)
    app.include_router(gateway.router)
    return app
