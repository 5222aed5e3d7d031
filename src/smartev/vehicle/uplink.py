"""The car's side of the link: connect, prove who it is, stream buffered telemetry, take acks.

Samples are in the on-disk :class:`~smartev.vehicle.telemetry_buffer.TelemetryBuffer` before they
are sent and leave it only when the cloud acks them, so a dropped connection or a killed process
loses nothing: on reconnect the cloud's ``Welcome`` says what it has stored, the car drops that
much from its buffer and resends the rest. The cloud ignores samples it already has, so each
reaches storage exactly once.

Pairing: :meth:`Uplink.offer_pairing` hands the uplink the hash of the one-time code the car
shows; it goes to the cloud at once if connected, and again after every ``Welcome`` until it
expires, so a car that was offline when the code was made still offers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from smartev.core.clock import Clock
from smartev.link import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Ack,
    Challenge,
    Command,
    Hello,
    LinkProtocolError,
    PairingOffer,
    Pong,
    Proof,
    Refusal,
    Sample,
    SampleKind,
    TelemetryBatch,
    Welcome,
    decode,
    encode,
)
from smartev.link.messages import Message
from smartev.link.proof import CarPrivateKey, sign_proof
from smartev.link.transport import ConnectionClosedError, FrameChannel
from smartev.vehicle.errors import VehicleError
from smartev.vehicle.telemetry_buffer import TelemetryBuffer

log = logging.getLogger(__name__)

BATCH_SAMPLES = 500
MAX_UNACKED_BATCHES = 4
MAX_BATCH_BYTES = MAX_FRAME_BYTES * 3 // 4  # leaves room under the cloud's frame limit
IDLE_POLL_S = 0.05
SOFTWARE = "smartev-car"


class LinkRefusedError(VehicleError):
    """The cloud refused the car (unknown car, bad proof, unsupported version…)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"the cloud refused the link: {refusal.code}: {refusal.message}")
        self.refusal = refusal


CommandHandler = Callable[[Command, FrameChannel], Awaitable[None]]


class Uplink:
    """One car's link to the cloud. :meth:`run` keeps it connected until cancelled."""

    def __init__(
        self,
        *,
        car_id: str,
        private_key: CarPrivateKey,
        epoch: bytes,
        buffer: TelemetryBuffer,
        clock: Clock,
        on_command: CommandHandler | None = None,
        batch_samples: int = BATCH_SAMPLES,
    ) -> None:
        self.car_id = car_id
        self._key = private_key
        self.epoch = epoch
        self.buffer = buffer
        self._clock = clock
        self._on_command = on_command
        self._batch = batch_samples
        self.acked_seq = 0
        self.connected = asyncio.Event()
        self.sent_batches = 0
        self._pairing: PairingOffer | None = None
        self._pairing_unsent = False

    def offer_pairing(self, offer: PairingOffer) -> None:
        """Send a pairing code's hash to the cloud (now if connected), and again after each
        reconnect until it expires."""
        self._pairing = offer
        self._pairing_unsent = True

    def _now_us(self) -> int:
        return int(self._clock.timestamp() * 1_000_000)

    async def run(
        self, connect: Callable[[], Awaitable[FrameChannel]], *, max_backoff_s: float = 10.0
    ) -> None:
        """Connect, run a session, and reconnect with backoff after any failure."""
        backoff = 0.2
        while True:
            try:
                channel = await connect()
            except (OSError, ConnectionClosedError) as exc:
                log.info("cloud not reachable (%s); retrying in %.1f s", exc, backoff)
            else:
                try:
                    await self.session(channel)
                except (ConnectionClosedError, LinkProtocolError) as exc:
                    log.info("link lost (%s); reconnecting", exc)
                except LinkRefusedError as exc:
                    log.warning("%s", exc)
                finally:
                    if self.connected.is_set():  # a session got through: start over gently
                        backoff = 0.2
                    self.connected.clear()
                    with contextlib.suppress(ConnectionClosedError):
                        await channel.close()
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, max_backoff_s)

    async def _expect(self, channel: FrameChannel) -> Message:
        message = decode(await channel.recv())
        if isinstance(message, Refusal):
            raise LinkRefusedError(message)
        return message

    async def session(self, channel: FrameChannel) -> None:
        """Handshake, then stream and receive until the connection ends."""
        await channel.send(
            encode(
                Hello(self.car_id, PROTOCOL_VERSION, SOFTWARE, self.epoch, self.acked_seq or None)
            )
        )
        challenge = await self._expect(channel)
        if not isinstance(challenge, Challenge):
            raise LinkProtocolError(f"expected Challenge, got {type(challenge).__name__}")
        signature = sign_proof(self._key, self.car_id, self.epoch, challenge.nonce)
        await channel.send(encode(Proof(signature)))
        welcome = await self._expect(channel)
        if not isinstance(welcome, Welcome):
            raise LinkProtocolError(f"expected Welcome, got {type(welcome).__name__}")
        # The cloud has everything up to resume_from_seq: drop it here, resend the rest.
        if welcome.resume_from_seq > self.buffer.last_seq:
            # The cloud has seen numbers this buffer never gave out (the buffer file was lost or
            # replaced): move ours above them, or the cloud would take them for resends.
            log.warning(
                "the cloud has stored up to seq %d, this car's buffer only reached %d: "
                "renumbering the buffer above the cloud's mark",
                welcome.resume_from_seq,
                self.buffer.last_seq,
            )
            self.buffer.renumber_above(welcome.resume_from_seq)
        stored = min(welcome.resume_from_seq, self.buffer.last_seq)
        self.buffer.ack(stored)
        self.acked_seq = stored
        self._pairing_unsent = self._pairing is not None
        self.connected.set()
        acked = asyncio.Event()
        sender = asyncio.create_task(self._send_loop(channel, stored, acked))
        receiver = asyncio.create_task(self._receive_loop(channel, acked))
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the first to stop says why (a lost connection, a bad frame…)
        finally:
            for task in (sender, receiver):
                task.cancel()
            for task in (sender, receiver):
                with contextlib.suppress(
                    asyncio.CancelledError, ConnectionClosedError, LinkProtocolError
                ):
                    await task

    async def _receive_loop(self, channel: FrameChannel, acked: asyncio.Event) -> None:
        while True:
            message = await self._expect(channel)
            if isinstance(message, Ack):
                if message.up_to_seq > self.acked_seq:
                    self.buffer.ack(min(message.up_to_seq, self.buffer.last_seq))
                    self.acked_seq = message.up_to_seq
                    acked.set()
            elif isinstance(message, Command):
                if self._on_command is not None:
                    await self._on_command(message, channel)
            elif not isinstance(message, Pong):
                raise LinkProtocolError(f"unexpected {type(message).__name__} from the cloud")

    async def _send_loop(self, channel: FrameChannel, after: int, acked: asyncio.Event) -> None:
        sent_up_to = after
        in_flight: list[int] = []  # the last seq of each batch not yet acked
        limit = self._batch
        while True:
            if self._pairing_unsent and self._pairing is not None:
                self._pairing_unsent = False
                if self._pairing.expires_at_us > self._now_us():
                    await channel.send(encode(self._pairing))
            in_flight = [end for end in in_flight if end > self.acked_seq]
            if len(in_flight) >= MAX_UNACKED_BATCHES:
                acked.clear()
                await acked.wait()
                continue
            samples = self.buffer.read(sent_up_to, limit, contiguous=True)
            if not samples:
                await asyncio.sleep(IDLE_POLL_S)
                continue
            frame = encode(
                TelemetryBatch(
                    samples[0].seq,
                    tuple(
                        Sample(s.seq, s.ts_us, s.path, s.value, SampleKind(s.kind)) for s in samples
                    ),
                )
            )
            if len(frame) > MAX_BATCH_BYTES and len(samples) > 1:
                limit = max(1, len(samples) // 2)  # big values: fewer per frame
                continue
            await channel.send(frame)
            self.sent_batches += 1
            sent_up_to = samples[-1].seq
            in_flight.append(sent_up_to)
            limit = min(self._batch, limit * 2)


class WebsocketsChannel:
    """A ``websockets`` client connection as a FrameChannel."""

    def __init__(self, connection: object) -> None:
        from websockets.asyncio.client import ClientConnection

        assert isinstance(connection, ClientConnection)
        self._ws = connection

    async def recv(self) -> bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            data = await self._ws.recv()
        except ConnectionClosed as exc:
            raise ConnectionClosedError(str(exc)) from exc
        return data if isinstance(data, bytes) else data.encode()

    async def send(self, frame: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            raise ConnectionClosedError(str(exc)) from exc

    async def close(self, reason: str = "") -> None:
        await self._ws.close(reason=reason)


def websocket_connector(
    url: str, *, ca_file: str | None = None, max_frame_bytes: int = 1 << 20
) -> Callable[[], Awaitable[FrameChannel]]:
    """A connect function for :meth:`Uplink.run`: ``ws://``, or ``wss://`` (TLS) checked against
    the system's roots or the given CA file."""
    import ssl

    from websockets.asyncio.client import connect

    context = None
    if url.startswith("wss://"):
        context = ssl.create_default_context(cafile=ca_file)

    async def open_channel() -> FrameChannel:
        try:
            connection = await connect(url, ssl=context, max_size=max_frame_bytes, open_timeout=5)
        except Exception as exc:  # websockets raises several families; all mean "not now"
            raise ConnectionClosedError(f"cannot connect to {url}: {exc}") from exc
        return WebsocketsChannel(connection)

    return open_channel
