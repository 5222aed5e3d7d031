"""The cloud app factory: one FastAPI app, a router per domain, start and stop in one lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from smartev import __version__
from smartev.cloud import status
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


def create_app(settings: Settings, clock: Clock, bus: EventBus) -> FastAPI:
    """Build the cloud app around the given settings, clock and bus (owned by the caller)."""

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
    app.include_router(status.router)
    return app
