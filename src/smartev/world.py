"""Composition of the demo world: the clock, the bus and the cloud service, served until told to
stop, with the demo household around it (:mod:`smartev.demo_world`: its home, phone, car and its
day, shipped automations and Home Assistant bridge); and the world's data directory: marked as
smartev's when the world first runs there, and emptied of the world's data on ``--reset``.

This is the only place (with ``cli.py`` and the ``demo_*`` modules) where a simulator is wired to a
car and a car to the cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import shutil
import signal
import socket
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import uvicorn

from smartev.core.bus import EventBus
from smartev.core.clock import SimClock
from smartev.core.config import Settings
from smartev.core.errors import ConfigError

if TYPE_CHECKING:
    from smartev.demo_world import DemoReady, DemoWorld

log = logging.getLogger(__name__)

# How long in-flight requests may take to finish after a stop signal; keeps shutdown under 2 s.
GRACEFUL_SHUTDOWN_S = 1

# What smartev itself makes in a data directory; `--reset` removes these and nothing else.
DATA_DIR_MARKER: Final = ".smartev-data"
DATABASE_FILES: Final = ("cloud.db", "cloud.db-wal", "cloud.db-shm", "cloud.db-journal")
WORLD_FILES: Final = (*DATABASE_FILES, "secret.key", DATA_DIR_MARKER)
WORLD_DIRS: Final = ("cars", "car", "demo")
_MARKER_TEXT: Final = (
    "This directory holds a smartev world's data (its database, keys, the demo car and "
    "household).\n`smartev up --reset` removes that data from here, and only that.\n"
)


def mark_data_dir(data_dir: Path) -> None:
    """Create the data directory if need be, and mark it as smartev's (for ``--reset``)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        marker = data_dir / DATA_DIR_MARKER
        if not marker.exists():
            marker.write_text(_MARKER_TEXT)
    except OSError as exc:
        raise ConfigError(f"cannot use the data directory {data_dir}: {exc.strerror}") from exc


def reset_data_dir(data_dir: Path, *, database_url: str | None = None) -> list[Path]:
    """Remove the world's data from ``data_dir`` (what :data:`WORLD_FILES` and
    :data:`WORLD_DIRS` name; anything else there stays) and return what was removed. A directory
    that does not look like smartev's (neither its marker nor its database is there, and it is
    not empty) is refused, and so is a world whose database is elsewhere (``database_url``)."""
    if database_url is not None:
        raise ConfigError(
            "--reset empties the data directory's own SQLite database, but database_url points "
            "the world at another database: empty that one yourself, or reset without it"
        )
    if not data_dir.exists():
        return []
    if not data_dir.is_dir():
        raise ConfigError(f"cannot reset {data_dir}: it is not a directory")
    try:
        empty = next(data_dir.iterdir(), None) is None
    except OSError as exc:
        raise ConfigError(f"cannot reset {data_dir}: {exc.strerror}") from exc
    ours = (data_dir / DATA_DIR_MARKER).is_file() or (data_dir / DATABASE_FILES[0]).is_file()
    if not (ours or empty):
        raise ConfigError(
            f"{data_dir} does not look like a smartev data directory (no {DATA_DIR_MARKER} or "
            f"{DATABASE_FILES[0]} in it): not resetting it; give --data-dir the directory "
            "smartev made"
        )
    removed = []
    try:
        for name in (*WORLD_DIRS, *WORLD_FILES):
            path = data_dir / name
            if path.is_symlink() or path.is_file():
                path.unlink()  # a link itself, never what it points at
            elif path.is_dir():
                shutil.rmtree(path)
            else:
                continue
            removed.append(path)
    except OSError as exc:
        raise ConfigError(f"cannot reset {data_dir}: {exc.strerror} ({exc.filename})") from exc
    return removed


def bind_listener(host: str, port: int) -> socket.socket:
    """Open the listening socket, or raise a ConfigError that says in one line what is wrong."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use; stop what uses it or pick "
                "another with --port"
            ) from exc
        if exc.errno == errno.EACCES:
            raise ConfigError(f"no permission to listen on {host}:{port}") from exc
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def public_url(sock: socket.socket) -> str:
    """The address a person on this machine should open for a bound listener."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling (:func:`run_world` owns the signals),
    telling when it has started listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def link_url(sock: socket.socket, *, tls: bool) -> str:
    """The car link address of a bound listener, as a car on this machine reaches it."""
    host, port = sock.getsockname()[:2]
    if host == "0.0.0.0":
        host = "localhost" if tls else "127.0.0.1"  # a certificate names a host, not an address
    elif host == "::":
        host = "localhost" if tls else "[::1]"
    elif ":" in host:
        host = f"[{host}]"
    return f"{'wss' if tls else 'ws'}://{host}:{port}/link/v1"


@dataclass(frozen=True, slots=True)
class WorldReady:
    """What a person needs to use the running world."""

    url: str  # the web app
    demo: DemoReady


async def run_world(
    settings: Settings,
    sock: socket.socket,
    *,
    on_ready: Callable[[WorldReady], None],
    stop: asyncio.Event | None = None,
    on_started: Callable[[DemoWorld], None] = lambda _: None,
) -> None:
    """Run the world on ``sock`` until SIGINT or SIGTERM (or ``stop`` is set), then shut down
    cleanly: the demo's car, home and bridge first, then the server. A second signal forces the
    server down at once. ``on_started`` hears the running demo world (for tests)."""
    # deferred: keeps `smartev --help` fast
    from smartev.cloud.app import CloudContext
    from smartev.cloud.service import build_cloud
    from smartev.demo_world import DemoWorld, world_start

    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("TLS needs both tls_cert and tls_key")
    start = world_start(settings, datetime.now(UTC))
    mark_data_dir(settings.data_dir)
    clock = SimClock(start, speed=settings.speed)
    log.info("the world's clock starts at %s", start.isoformat())
    stopping = stop or asyncio.Event()
    async with EventBus() as bus, build_cloud(settings, clock, bus) as cloud:
        ctx: CloudContext = cloud.app.state.ctx
        demo = DemoWorld(ctx)
        demo.prepare()  # before the app starts: the household's hub starts with it
        config = uvicorn.Config(
            cloud.app,
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
            log_level=settings.log_level,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            access_log=settings.log_level == "debug",
        )
        server = _Server(config)

        def on_signal() -> None:
            if stopping.is_set():
                server.force_exit = True
                server.should_exit = True
            stopping.set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await _first(serving, server.listening, stopping)
            if server.started and not stopping.is_set():
                try:
                    url = public_url(sock)
                    if settings.tls_cert:
                        url = url.replace("http://", "https://")
                    ready = await demo.start(
                        link_url(sock, tls=settings.tls_cert is not None),
                        mqtt=settings.mqtt,
                        app_url=url,
                    )
                    on_started(demo)
                    on_ready(WorldReady(url, ready))
                    await _first(serving, stopping)
                finally:
                    await demo.stop()
        finally:
            server.should_exit = True
            try:
                await serving
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)


async def _first(task: asyncio.Task[None], *events: asyncio.Event) -> None:
    """Wait until ``task`` ends or one of ``events`` is set."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait([task, *waiters], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
