"""The car gateway: one WebSocket per connected car, speaking the link protocol.

Handshake: the car's ``Hello`` (its id, protocol version and boot epoch) is answered with a
``Challenge``; the car signs it with its own key (``Proof``), which the gateway checks against the
public key registered for that car, then says ``Welcome`` with the highest telemetry sequence it
has stored so the car resends from there. After that, every ``TelemetryBatch`` is stored in one
transaction (re-sent samples are ignored) and acked only once stored; ``CommandStatus`` reports
go to the command log and a ``PairingOffer`` to the car's row; commands queued for the car go down
as ``Command`` frames. Anything else, or anything malformed, gets a ``Refusal`` and the connection
is closed. The cloud's handlers (:meth:`LinkGateway.attach`) run in worker threads, one at a time
per car and in the order the car sent its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from smartev.cloud.telemetry import TelemetryStore
from smartev.core.clock import Clock
from smartev.link import (
    Ack,
    Challenge,
    Command,
    CommandStatus,
    Hello,
    LinkError,
    LinkProtocolError,
    PairingOffer,
    Ping,
    Pong,
    Proof,
    RefusalCode,
    TelemetryBatch,
    Welcome,
    decode,
    encode,
    refusal_for,
)
from smartev.link.messages import Message
from smartev.link.proof import CarPublicKey, verify_proof
from smartev.link.transport import ConnectionClosedError, FrameChannel

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 10.0
INGEST_THREADS = 64


class RefusedError(LinkProtocolError):
    """The gateway refuses the peer for a reason of its own (unknown car, unexpected message)."""

    def __init__(self, message: str, code: RefusalCode) -> None:
        super().__init__(message, code=code)


@dataclass
class CarSession:
    car_id: str
    epoch: bytes
    outbox: asyncio.Queue[Command] = field(default_factory=lambda: asyncio.Queue(1000))
    # The loop the connection runs on: commands are queued through it from any thread.
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)


def _ignore(*_args: object) -> None:
    pass


class LinkGateway:
    """Everything the gateway shares across cars: their keys, the store, who is connected."""

    def __init__(
        self,
        *,
        store: TelemetryStore,
        car_keys: Callable[[str], CarPublicKey | None],
        clock: Clock,
        on_status: Callable[[str, CommandStatus], None] = _ignore,
        on_connect: Callable[[str], None] = _ignore,
    ) -> None:
        self.store = store
        self._car_keys = car_keys
        self._clock = clock
        self._on_status = on_status
        self._on_connect = on_connect
        self._on_disconnect: Callable[[str], None] = _ignore
        self._on_pairing_offer: Callable[[str, PairingOffer], None] = _ignore
        self.sessions: dict[str, CarSession] = {}
        # Storing a batch waits mostly for its commit (an fsync), and the store writes every
        # batch queued meanwhile in that one commit: as many threads as batches that may share
        # a commit. With the default pool's 6, a 20 ms fsync capped ingest at ~300 batches/s.
        self._ingest = ThreadPoolExecutor(INGEST_THREADS, thread_name_prefix="ingest")

    def attach(
        self,
        *,
        on_status: Callable[[str, CommandStatus], None] | None = None,
        on_connect: Callable[[str], None] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
        on_pairing_offer: Callable[[str, PairingOffer], None] | None = None,
    ) -> None:
        """Set the cloud's handlers (the app factory wires commands, pairing and the live hub).

        ``on_disconnect`` runs on the event loop and must not block; the others run in threads.
        """
        if on_status is not None:
            self._on_status = on_status
        if on_connect is not None:
            self._on_connect = on_connect
        if on_disconnect is not None:
            self._on_disconnect = on_disconnect
        if on_pairing_offer is not None:
            self._on_pairing_offer = on_pairing_offer

    def send_command(self, car_id: str, command: Command) -> bool:
        """Queue a command for a connected car (from any thread); False when it is not connected."""
        session = self.sessions.get(car_id)
        if session is None:
            return False
        session.loop.call_soon_threadsafe(self._enqueue, session, command)
        return True

    @staticmethod
    def _enqueue(session: CarSession, command: Command) -> None:
        try:
            session.outbox.put_nowait(command)
        except asyncio.QueueFull:
            log.warning(
                "car %s: command %s dropped, the car has not taken the %d before it",
                session.car_id,
                command.command_id,
                session.outbox.maxsize,
            )

    async def _handler(self, handler: Callable[..., None], *args: Any) -> None:
        """Run a handler in a worker thread; its failure is logged, the connection goes on."""
        try:
            await asyncio.to_thread(handler, *args)
        except Exception:
            log.exception("car link handler %r failed", handler)

    async def serve(self, channel: FrameChannel) -> None:
        """Run one car's connection until it closes; refuse and close on any protocol error."""
        session: CarSession | None = None
        try:
            session = await asyncio.wait_for(self._handshake(channel), HANDSHAKE_TIMEOUT_S)
            previous = self.sessions.get(session.car_id)
            self.sessions[session.car_id] = session
            if previous is not None:
                log.info("car %s reconnected; the older connection is replaced", session.car_id)
            await self._handler(self._on_connect, session.car_id)
            await self._run(channel, session)
        except LinkError as exc:
            log.warning("link refused: %s", exc)
            with contextlib.suppress(ConnectionClosedError):
                await channel.send(encode(refusal_for(exc)))
        except TimeoutError:
            with contextlib.suppress(ConnectionClosedError):
                await channel.send(
                    encode(
                        refusal_for(RefusedError("handshake took too long", RefusalCode.UNEXPECTED))
                    )
                )
        except ConnectionClosedError:
            pass
        finally:
            if session is not None and self.sessions.get(session.car_id) is session:
                del self.sessions[session.car_id]
                try:
                    self._on_disconnect(session.car_id)
                except Exception:
                    log.exception("car link handler %r failed", self._on_disconnect)
            with contextlib.suppress(ConnectionClosedError):
                await channel.close()

    async def _recv(self, channel: FrameChannel) -> Message:
        return decode(await channel.recv())

    async def _handshake(self, channel: FrameChannel) -> CarSession:
        hello = await self._recv(channel)
        if not isinstance(hello, Hello):
            raise RefusedError(
                f"expected Hello first, got {type(hello).__name__}", RefusalCode.UNEXPECTED
            )
        public_key = self._car_keys(hello.car_id)
        if public_key is None:
            raise RefusedError(f"car {hello.car_id!r} is not registered", RefusalCode.UNKNOWN_CAR)
        nonce = secrets.token_bytes(32)
        await channel.send(encode(Challenge(nonce, int(self._clock.timestamp() * 1e6))))
        proof = await self._recv(channel)
        if not isinstance(proof, Proof):
            raise RefusedError(
                f"expected Proof, got {type(proof).__name__}", RefusalCode.UNEXPECTED
            )
        verify_proof(public_key, proof.signature, hello.car_id, hello.epoch, nonce)
        # A car not seen since the start is loaded from the database (its detector replayed):
        # off the event loop, which every connected car shares.
        resume = await asyncio.get_running_loop().run_in_executor(
            self._ingest, self.store.last_seq, hello.car_id
        )
        await channel.send(encode(Welcome(os.urandom(8).hex(), resume)))
        log.info("car %s connected (resume from seq %d)", hello.car_id, resume)
        return CarSession(hello.car_id, hello.epoch)

    async def _run(self, channel: FrameChannel, session: CarSession) -> None:
        async def downlink() -> None:
            while True:
                command = await session.outbox.get()
                await channel.send(encode(command))

        sender = asyncio.create_task(downlink())
        try:
            while True:
                message = await self._recv(channel)
                if isinstance(message, TelemetryBatch):
                    top = await asyncio.get_running_loop().run_in_executor(
                        self._ingest, self._store_batch, session.car_id, message
                    )
                    await channel.send(encode(Ack(top)))
                elif isinstance(message, CommandStatus):
                    await self._handler(self._on_status, session.car_id, message)
                elif isinstance(message, PairingOffer):
                    await self._handler(self._on_pairing_offer, session.car_id, message)
                elif isinstance(message, Ping):
                    await channel.send(encode(Pong(message.ts_us)))
                else:
                    raise RefusedError(
                        f"unexpected {type(message).__name__} after the handshake",
                        RefusalCode.UNEXPECTED,
                    )
        finally:
            sender.cancel()

    def _store_batch(self, car_id: str, batch: TelemetryBatch) -> int:
        return self.store.store(car_id, batch.samples)


class StarletteChannel:
    """A Starlette WebSocket as a FrameChannel (binary frames only)."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def recv(self) -> bytes:
        try:
            message = await self._ws.receive()
        except (WebSocketDisconnect, RuntimeError) as exc:
            raise ConnectionClosedError(str(exc)) from exc
        if message["type"] == "websocket.disconnect":
            raise ConnectionClosedError("the car disconnected")
        data = message.get("bytes")
        if data is None:
            # Text frames are not part of the protocol: the codec refuses them like garbage.
            return b""
        return bytes(data)

    async def send(self, frame: bytes) -> None:
        try:
            await self._ws.send_bytes(frame)
        except (WebSocketDisconnect, RuntimeError) as exc:
            raise ConnectionClosedError(str(exc)) from exc

    async def close(self, reason: str = "") -> None:
        # Closing a connection the car already dropped is not an error.
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self._ws.close(code=1008 if reason else 1000, reason=reason)


router = APIRouter()


@router.websocket("/link/v1")
async def link_endpoint(websocket: WebSocket) -> None:
    """Cars connect here; the link protocol authenticates them (see the module docstring)."""
    gateway: LinkGateway | None = getattr(websocket.app.state, "gateway", None)
    if gateway is None:
        await websocket.close(code=1013, reason="this server has no car gateway")
        return
    await websocket.accept()
    await gateway.serve(StarletteChannel(websocket))
