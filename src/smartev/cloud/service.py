"""The cloud as one running service: database, telemetry store, car gateway and app, built from
the settings, with their background work, started and stopped together.

``smartev up`` (through :mod:`smartev.world`) and the benchmarks build the cloud here, so what is
measured is what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI

from smartev.cloud.app import create_app, open_database
from smartev.cloud.car_keys import CarKeyDirectory
from smartev.cloud.db import Database
from smartev.cloud.gateway import LinkGateway
from smartev.cloud.telemetry import SqlTelemetryStore, sweep_silence_forever
from smartev.core.bus import EventBus
from smartev.core.clock import Clock
from smartev.core.config import Settings


@dataclass(frozen=True, slots=True)
class CloudService:
    app: FastAPI
    db: Database
    store: SqlTelemetryStore
    gateway: LinkGateway


@contextlib.asynccontextmanager
async def build_cloud(
    settings: Settings, clock: Clock, bus: EventBus, *, auth_clock: Clock | None = None
) -> AsyncIterator[CloudService]:
    """The cloud of ``settings`` on ``clock``; cars connect at ``/link/v1`` with the keys
    registered in ``data_dir/cars``. Closes the database when the block ends."""
    db = open_database(settings)
    try:
        store = SqlTelemetryStore(db, clock=clock)
        gateway = LinkGateway(
            store=store,
            car_keys=CarKeyDirectory(settings.data_dir / "cars").public_key,
            clock=clock,
        )
        app = create_app(settings, clock, bus, link=gateway, db=db, auth_clock=auth_clock)
        sweeping = asyncio.create_task(sweep_silence_forever(store, clock), name="silence-sweep")
        try:
            yield CloudService(app, db, store, gateway)
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
    finally:
        db.close()
