"""The CAN feeder: decodes CAN frames with a DBC and publishes the mapped signals as VSS values.

:meth:`CanFeeder.on_frame` is the whole logic and does no I/O: decode, convert, rate-limit, then
one ``publish({path: value, ...})`` per frame. :meth:`CanFeeder.run` only moves frames from a
python-can bus into it. The feeder knows the broker as that one ``publish`` callable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import can
from cantools.database import DecodeError
from cantools.database.can import Database, Message

from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError, PeerError, SmartevError
from smartev.vehicle.can_mapping import (
    CanMapping,
    SignalMapping,
    Value,
    load_can_mapping,
    load_dbc,
    resolve_signal,
)
from smartev.vehicle.errors import VehicleError

__all__ = ["CanBusError", "CanFeeder", "CanFeederStats", "Publish", "load_can_feeder"]

logger = logging.getLogger(__name__)

Publish = Callable[[Mapping[str, object]], None]
"""Hands one frame's VSS updates to the broker, e.g. the ``publish`` of a broker provider.

It may raise a :class:`~smartev.core.errors.SmartevError` to refuse values; anything else is a
bug and ends :meth:`CanFeeder.run`.
"""

# Clock differences of float timestamps near 1.7e9 s are off by up to ~0.2 µs; without slack a
# frame exactly one interval after the last publish could be throttled.
_INTERVAL_SLACK_S: Final = 1e-6


class CanBusError(VehicleError, PeerError):
    """The CAN bus failed while the feeder was reading it."""


@dataclass(slots=True)
class CanFeederStats:
    """What the feeder has seen since it was made.

    Every frame is counted in exactly one of ``unknown_id`` (not in the DBC), ``unmapped`` (in the
    DBC, but no mapped signal), ``decode_errors`` and ``decoded``. ``published`` counts values
    handed to ``publish``; ``dropped`` counts values the mapping could not convert (no ``map``
    entry, a named value on a numeric path, not finite, out of range); ``publish_errors`` counts
    values ``publish`` refused (with a :class:`~smartev.core.errors.SmartevError`).
    """

    frames: int = 0
    decoded: int = 0
    unknown_id: int = 0
    unmapped: int = 0
    decode_errors: int = 0
    published: int = 0
    dropped: int = 0
    publish_errors: int = 0


class CanFeeder:
    """Feeds VSS values decoded from CAN frames to ``publish``."""

    def __init__(
        self,
        db: Database,
        mapping: CanMapping,
        publish: Publish,
        *,
        clock: Clock,
        recv_timeout_s: float = 0.1,
    ) -> None:
        if not recv_timeout_s > 0:
            raise InvalidInputError(f"recv_timeout_s {recv_timeout_s} must be > 0")
        self._db = db
        self._mapping = mapping
        self._publish = publish
        self._clock = clock
        self._recv_timeout_s = recv_timeout_s
        self._routes: dict[str, tuple[SignalMapping, ...]] = {}
        for entry in mapping.signals:
            resolve_signal(db, entry.message, entry.signal)  # a mapping made for another DBC
            self._routes[entry.message] = (*self._routes.get(entry.message, ()), entry)
        self._last: dict[str, tuple[Value, float]] = {}  # path -> (value, monotonic s) published
        self._tally = CanFeederStats()
        self._reported_ids: set[int] = set()
        self._reported_paths: set[str] = set()

    @property
    def mapping(self) -> CanMapping:
        return self._mapping

    @property
    def stats(self) -> CanFeederStats:
        return replace(self._tally)  # a snapshot: the feeder keeps counting in its own

    def on_frame(self, arbitration_id: int, data: bytes, timestamp: float) -> None:
        """Decode one frame and publish its mapped signals; never raises for bad frames.

        ``timestamp`` (the bus's receive time) only labels log lines: rate limits run on the
        feeder's clock, since hardware and replayed timestamps need not be monotonic.
        """
        tally = self._tally
        tally.frames += 1
        try:
            message = self._db.get_message_by_frame_id(arbitration_id)
        except KeyError:
            tally.unknown_id += 1
            return
        routes = self._routes.get(message.name)
        if routes is None:
            tally.unmapped += 1
            return
        try:
            decoded = message.decode_simple(data, decode_choices=True, scaling=True)
        except (DecodeError, ValueError) as exc:
            tally.decode_errors += 1
            self._report_decode_error(arbitration_id, message, data, timestamp, exc)
            return
        tally.decoded += 1
        now = self._clock.monotonic()
        updates: dict[str, Value] = {}
        for entry in routes:
            raw = decoded.get(entry.signal)
            if raw is None or not self._due(entry, now):
                continue  # a multiplexed signal absent from this frame, or too soon
            value = entry.convert(raw)
            if value is None:
                tally.dropped += 1
            elif not (entry.on_change and self._unchanged(entry.path, value)):
                updates[entry.path] = value
        if updates:
            self._deliver(updates, now)

    def _due(self, entry: SignalMapping, now: float) -> bool:
        last = self._last.get(entry.path)
        if last is None or entry.min_interval_ms <= 0:
            return True
        return now - last[1] + _INTERVAL_SLACK_S >= entry.min_interval_ms / 1000.0

    def _unchanged(self, path: str, value: Value) -> bool:
        last = self._last.get(path)
        # The type is compared too: True == 1 == 1.0 in Python, but not in VSS.
        return last is not None and type(last[0]) is type(value) and last[0] == value

    def _deliver(self, updates: dict[str, Value], now: float) -> None:
        try:
            self._publish(updates)
            accepted = updates
        except SmartevError as exc:
            if len(updates) == 1:
                self._refused(updates, exc)
                return
            # The broker refuses a whole batch for one bad value; one signal out of its VSS range
            # must not hold back the others of its frame, so each is offered on its own.
            accepted = {}
            for path, value in updates.items():
                try:
                    self._publish({path: value})
                except SmartevError as single_exc:
                    self._refused({path: value}, single_exc)
                else:
                    accepted[path] = value
        # Refused values are not remembered: the next frame offers them again.
        for path, value in accepted.items():
            self._last[path] = (value, now)
        self._tally.published += len(accepted)

    def _refused(self, update: dict[str, Value], exc: SmartevError) -> None:
        self._tally.publish_errors += 1
        (path,) = update
        if path not in self._reported_paths:
            self._reported_paths.add(path)
            logger.warning(
                "publish refused %s = %r from CAN: %s; further refusals for it are only counted",
                path,
                update[path],
                exc,
            )

    def _report_decode_error(
        self, arbitration_id: int, message: Message, data: bytes, timestamp: float, exc: Exception
    ) -> None:
        if arbitration_id in self._reported_ids:
            return
        self._reported_ids.add(arbitration_id)
        logger.warning(
            "cannot decode CAN frame 0x%X (%s, %d bytes, DBC says %d) at %.3f: %s; further "
            "errors for this id are only counted",
            arbitration_id,
            message.name,
            len(data),
            message.length,
            timestamp,
            exc,
        )

    async def run(self, bus: can.BusABC) -> None:
        """Feed every data frame received on ``bus`` to :meth:`on_frame` until cancelled.

        The bus stays open (it belongs to the caller); the reader thread is stopped and joined
        before this returns. A failing bus raises :class:`CanBusError`.
        """
        reader = _FrameReader()
        notifier = can.Notifier(
            bus, [reader], timeout=self._recv_timeout_s, loop=asyncio.get_running_loop()
        )
        try:
            while True:
                msg = await reader.next_message()
                if msg.is_error_frame or msg.is_remote_frame:
                    continue
                self.on_frame(msg.arbitration_id, bytes(msg.data), msg.timestamp)
        finally:
            # Joined off the loop: the reader thread may sit in bus.recv for one timeout.
            await asyncio.to_thread(notifier.stop, self._recv_timeout_s * 10)


class _FrameReader(can.Listener):
    """Hands frames and bus errors from the notifier (on the loop) to :meth:`CanFeeder.run`."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[can.Message | Exception] = asyncio.Queue()

    def on_message_received(self, msg: can.Message) -> None:
        self._queue.put_nowait(msg)

    def on_error(self, exc: Exception) -> None:
        self._queue.put_nowait(exc)

    async def next_message(self) -> can.Message:
        item = await self._queue.get()
        if isinstance(item, Exception):
            raise CanBusError(f"CAN bus failed while reading: {item}") from item
        return item

    def stop(self) -> None:
        pass


def load_can_feeder(
    dbc_path: str | Path,
    mapping_path: str | Path,
    publish: Publish,
    *,
    clock: Clock,
) -> CanFeeder:
    """A feeder for a DBC file and a mapping file; CanMappingError if either is wrong."""
    db = load_dbc(dbc_path)
    return CanFeeder(db, load_can_mapping(mapping_path, db), publish, clock=clock)
