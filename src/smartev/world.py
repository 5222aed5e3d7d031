"""Composition of the demo world: the clock, the bus and the cloud service, served until told to
stop.

Later issues add the simulated car and home here; this is the only place (with ``cli.py``) where a
simulator is wired to a car and a car to the cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Callable, Generator

import uvicorn

from smartev.core.bus import EventBus
from smartev.core.clock import SimClock
from smartev.core.config import Settings
from smartev.core.errors import ConfigError

log = logging.getLogger(__name__)

# How long in-flight requests may take to finish after a stop signal; keeps shutdown under 2 s.
GRACEFUL_SHUTDOWN_S = 1


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


async def run_world(
    settings: Settings, sock: socket.socket, *, on_ready: Callable[[str], None]
) -> None:
    """Run the world on ``sock`` until SIGINT or SIGTERM, then shut down cleanly."""
    # deferred: keeps `smartev --help` fast
    from smartev.cloud.service import build_cloud

    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("TLS needs both tls_cert and tls_key")
    clock = SimClock(speed=settings.speed)
    async with EventBus() as bus, build_cloud(settings, clock, bus) as cloud:
        config = uvicorn.Config(
            cloud.app,
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
            log_level=settings.log_level,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            access_log=settings.log_level == "debug",
        )
        server = _Server(config)

        def stop() -> None:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        try:
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            listening = asyncio.create_task(server.listening.wait())
            await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
            listening.cancel()
            if server.started:
                url = public_url(sock)
                on_ready(url.replace("http://", "https://") if settings.tls_cert else url)
            await serving
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
