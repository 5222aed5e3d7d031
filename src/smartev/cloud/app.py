"""The cloud app factory: one FastAPI app, a router per domain, start and stop in one lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from smartev import __version__
from smartev.cloud import gateway, status
from smartev.cloud.api import ROUTERS
from smartev.cloud.api import automation_traces as traces_api
from smartev.cloud.api import automations as automations_api
from smartev.cloud.api import devices as devices_api
from smartev.cloud.api import home_settings as home_settings_api
from smartev.cloud.api import notifications as notifications_api
from smartev.cloud.api import scenes as scenes_api
from smartev.cloud.auth import Accounts, AuthError, TooManyAttemptsError, load_or_create_secret
from smartev.cloud.automation_key import KeySealer
from smartev.cloud.commands import CommandRelay
from smartev.cloud.db import Database, default_url
from smartev.cloud.gateway import LinkGateway
from smartev.cloud.homes import HomeHubs
from smartev.cloud.limits import BodyLimit
from smartev.cloud.live import LiveHub
from smartev.cloud.pairing import PairingLimiter, store_offer
from smartev.cloud.web import package_web_dir, web_router
from smartev.core.bus import EventBus
from smartev.core.clock import Clock, RealClock
from smartev.core.config import Settings
from smartev.core.errors import InvalidInputError
from smartev.ecosystem.errors import AutomationError
from smartev.link import PairingOffer

# The ecosystem's routers (devices, automations, scenes, notifications), after the others.
ECOSYSTEM_ROUTERS = (
    devices_api.router,
    automations_api.router,
    traces_api.router,
    home_settings_api.router,
    scenes_api.router,
    notifications_api.router,
)


@dataclass(frozen=True, slots=True)
class CloudContext:
    """What every router may reach through ``request.app.state.ctx``.

    ``clock`` is the world's clock (telemetry, drives, commands); ``auth_clock`` times logins and
    tokens and is real time in a running service, even when the world runs faster.
    """

    settings: Settings
    clock: Clock
    auth_clock: Clock
    bus: EventBus
    db: Database
    accounts: Accounts
    started_monotonic: float
    commands: CommandRelay  # signed commands: stored, relayed, their states recorded
    live: LiveHub  # the per-person live WebSocket fan-out
    pairing_limiter: PairingLimiter  # wrong pairing codes per person
    homes: HomeHubs  # per household: its devices, automations and scenes


def open_database(settings: Settings) -> Database:
    return Database(settings.database_url or default_url(settings.data_dir))


def create_app(
    settings: Settings,
    clock: Clock,
    bus: EventBus,
    *,
    link: LinkGateway | None = None,
    db: Database | None = None,
    auth_clock: Clock | None = None,
    accounts: Accounts | None = None,
    web_dir: Path | None = None,
) -> FastAPI:
    """Build the cloud app around the given settings, clock and bus (owned by the caller);
    with ``link``, cars connect to its gateway at ``/link/v1``. Without ``db`` the app opens (and
    migrates) the database of the settings and closes it when it stops. The web app's files
    come from ``web_dir`` (default: the package's ``smartev/web``)."""
    database = db or open_database(settings)
    auth_clock = auth_clock or RealClock()
    secret = settings.secret_key or load_or_create_secret(settings.data_dir)
    live = LiveHub(database, clock)
    commands = CommandRelay(database, clock, on_change=live.publish_command)
    homes = HomeHubs(
        db=database,
        clock=clock,
        relay=commands,
        live=live,
        sealer=KeySealer(secret),
        gateway=link,
    )
    ctx = CloudContext(
        settings=settings,
        clock=clock,
        auth_clock=auth_clock,
        bus=bus,
        db=database,
        accounts=accounts or Accounts(secret, auth_clock),
        started_monotonic=clock.monotonic(),
        commands=commands,
        live=live,
        pairing_limiter=PairingLimiter(auth_clock),
        homes=homes,
    )
    if link is not None:
        _wire_link(link, ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live.bind(asyncio.get_running_loop())
        expiry = asyncio.create_task(commands.expire_forever(), name="command-expiry")
        await homes.start()
        try:
            yield
        finally:
            await homes.stop()
            expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await expiry
            if db is None:
                database.close()

    app = FastAPI(
        title="smartev cloud",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.gateway = link
    app.add_middleware(BodyLimit)

    # Every 422 has the shape the OpenAPI document declares (FastAPI's validation error list),
    # without the input echoed back: a refused password must not travel back in the answer.
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"type": e.get("type", "value_error"), "loc": list(e["loc"]), "msg": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(InvalidInputError)
    async def invalid_input(_request: Request, exc: InvalidInputError) -> JSONResponse:
        error = {"type": "value_error", "loc": ["body"], "msg": str(exc)}
        return JSONResponse({"detail": [error]}, status_code=422)

    # An automation's or scene's text refused: every problem with its line (and the usual 422).
    @app.exception_handler(AutomationError)
    async def text_refused(_request: Request, exc: AutomationError) -> JSONResponse:
        return JSONResponse(automations_api.problems_body(exc), status_code=422)

    @app.exception_handler(TooManyAttemptsError)
    async def too_many(_request: Request, exc: TooManyAttemptsError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(AuthError)
    async def unauthorized(_request: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    app.include_router(status.router)
    app.include_router(web_router(web_dir or package_web_dir()))
    app.include_router(gateway.router)
    for router in (*ROUTERS, *ECOSYSTEM_ROUTERS):
        app.include_router(router)
    return app


def _wire_link(link: LinkGateway, ctx: CloudContext) -> None:
    """Connect the car gateway to the command relay, pairing and the live hub."""
    commands, live = ctx.commands, ctx.live
    commands.send = link.send_command

    def connected(car_id: str) -> None:
        live.publish_link(car_id, online=True)
        commands.car_connected(car_id)
        ctx.homes.car_link_changed(car_id, online=True)

    def disconnected(car_id: str) -> None:
        commands.car_disconnected(car_id)
        live.publish_link(car_id, online=False)
        ctx.homes.car_link_changed(car_id, online=False)

    def pairing_offer(car_id: str, offer: PairingOffer) -> None:
        store_offer(ctx.db, car_id, offer, int(ctx.clock.timestamp() * 1_000_000))

    link.attach(
        on_status=commands.on_status,
        on_connect=connected,
        on_disconnect=disconnected,
        on_pairing_offer=pairing_offer,
    )
    subscribe = getattr(link.store, "subscribe", None)  # the SQL store tells what it ingested
    if subscribe is not None:
        subscribe(live.on_ingested)
        subscribe(ctx.homes.on_ingested)
