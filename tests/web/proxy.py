"""A TCP proxy on loopback that a test can cut: every connection through it (the browser's
HTTP requests and its live WebSocket) is dropped at once, as a broken Wi-Fi or a restarted
load balancer would drop them, while the server behind it keeps running.

It runs in its own thread with its own event loop, so a synchronous test (Playwright's sync API)
can use it. ``cut()`` drops what is open and keeps accepting new connections; inside
``down()`` new connections are dropped too, so a test can change something while the browser
surely cannot hear of it, then let it reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Self

__all__ = ["CuttableProxy"]

_CHUNK = 64 * 1024
_START_TIMEOUT_S = 10.0


class CuttableProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port`` until closed."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cuttable-proxy", daemon=True)
        self._started = threading.Event()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._refusing = False
        self._error: BaseException | None = None
        self.port = 0
        self.accepted = 0  # connections accepted and forwarded, for a test's curiosity
        self.cuts = 0  # connections dropped by cut()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # --- life ---

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT_S):
            raise RuntimeError("the proxy did not start listening within 10 s")
        if self._error is not None:
            raise RuntimeError(f"the proxy could not start: {self._error}") from self._error
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening, drop every connection and end the thread."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(_START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_START_TIMEOUT_S)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        self._drop_all()
        if self._server is not None:
            await self._server.wait_closed()

    # --- what a test does ---

    def cut(self) -> int:
        """Drop every open connection now (the server behind stays up); answers how many."""
        return asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(_START_TIMEOUT_S)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """The network is down inside the block: open connections are dropped on entry and new
        ones are dropped as soon as they arrive; on exit connections go through again."""
        self._set_refusing(True)
        self.cut()
        try:
            yield
        finally:
            self._set_refusing(False)

    def _set_refusing(self, refusing: bool) -> None:
        async def set_it() -> None:
            self._refusing = refusing

        asyncio.run_coroutine_threadsafe(set_it(), self._loop).result(_START_TIMEOUT_S)

    async def _cut(self) -> int:
        return self._drop_all()

    def _drop_all(self) -> int:
        dropped = len(self._open)
        for writer in list(self._open):
            # abort, not close: no orderly goodbye, like a connection that broke
            writer.transport.abort()
        self._open.clear()
        self.cuts += dropped // 2
        return dropped // 2

    # --- forwarding ---

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_w.transport.abort()
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.transport.abort()
            return
        self.accepted += 1
        pair = {client_w, upstream_w}
        self._open |= pair
        try:
            await asyncio.gather(
                self._pump(client_r, upstream_w),
                self._pump(upstream_r, client_w),
            )
        finally:
            self._open -= pair
            for writer in pair:
                writer.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction until it ends; a half-close is passed on as one."""
        try:
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.transport.abort()
