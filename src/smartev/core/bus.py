"""A typed, in-process publish/subscribe event bus with bounded queues.

Events are instances of :class:`Event` subclasses (frozen dataclasses by convention). A handler
subscribes to one event class and receives that class and its subclasses; subscribing to
``Event`` receives everything.

Delivery is asynchronous: :meth:`EventBus.publish` never runs a handler and never waits. It
appends the event to each matching subscriber's own bounded queue, and each subscriber has its own
task that calls the handler in publish order. A slow subscriber therefore never slows the
publisher or the other subscribers.

Backpressure policy — what happens when a subscriber's queue is full — is chosen per subscription
(:class:`Overflow`) and always visible in its counters:

``DROP_OLDEST`` (default)
    The oldest undelivered event is discarded to make room; ``dropped`` counts them. Right for
    state updates, where the newest value is what matters.
``DROP_NEWEST``
    The new event is not queued for this subscriber; ``dropped`` counts them. Right when the
    events already queued must be delivered in full.
``DISCONNECT``
    The subscriber is unsubscribed on the first overflow; ``disconnected`` turns true and a warning
    is logged. Right for remote consumers (a browser's WebSocket) that should reconnect and resync
    rather than silently miss events.
``BLOCK``
    Nothing is dropped: :meth:`EventBus.publish_wait` waits until the subscriber has room, and
    plain :meth:`EventBus.publish` raises :class:`BusFullError` instead of dropping. Only for
    consumers that must see every event and are known to keep up.

A handler that raises is logged and counted in ``errors``; it keeps receiving events.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from smartev.core.errors import InvalidInputError, SmartevError

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000


class Event:
    """Base class of every event on the bus. Subclass it with a frozen dataclass."""

    __slots__ = ()


E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None]] | Callable[[E], None]


class Overflow(StrEnum):
    """What a subscription does when its queue is full. See the module docstring."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    DISCONNECT = "disconnect"
    BLOCK = "block"


class BusError(SmartevError):
    """Root of the event bus's errors."""


class BusFullError(BusError):
    """``publish`` met a full ``BLOCK`` subscriber; use ``publish_wait`` to wait for room."""


class BusClosedError(BusError):
    """The bus was closed."""


class Subscription(Generic[E]):
    """One subscriber: its queue, its delivery task and its counters.

    Calling the subscription unsubscribes it (``unsub = bus.subscribe(...); unsub()``); calling it
    again does nothing. Events still queued at that moment are not delivered.
    """

    __slots__ = (
        "_bus",
        "_handler",
        "_is_async",
        "_queue",
        "_room",
        "_task",
        "_waiter",
        "active",
        "delivered",
        "disconnected",
        "dropped",
        "errors",
        "event_type",
        "maxsize",
        "name",
        "overflow",
    )

    def __init__(
        self,
        bus: EventBus,
        event_type: type[E],
        handler: Handler[E],
        *,
        maxsize: int,
        overflow: Overflow,
        name: str,
    ) -> None:
        self._bus = bus
        self._handler = handler
        self._is_async = inspect.iscoroutinefunction(handler)
        self._queue: deque[E] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._room: asyncio.Event | None = None
        self.event_type = event_type
        self.maxsize = maxsize
        self.overflow = overflow
        self.name = name
        self.active = True
        self.disconnected = False
        self.delivered = 0
        self.dropped = 0
        self.errors = 0
        self._task = asyncio.get_running_loop().create_task(self._deliver(), name=f"bus:{name}")

    @property
    def pending(self) -> int:
        """Events queued and not yet handed to the handler."""
        return len(self._queue)

    def __call__(self) -> None:
        self._bus._remove(self)

    def _offer(self, event: E) -> None:
        queue = self._queue
        if len(queue) >= self.maxsize:
            overflow = self.overflow
            if overflow is Overflow.DROP_OLDEST:
                queue.popleft()
                self.dropped += 1
            elif overflow is Overflow.DROP_NEWEST:
                self.dropped += 1
                return
            elif overflow is Overflow.DISCONNECT:
                log.warning(
                    "event bus: subscriber %s fell %d events behind and was disconnected",
                    self.name,
                    len(queue),
                )
                self.disconnected = True
                self._bus._remove(self)
                return
            else:
                raise BusFullError(
                    f"subscriber {self.name} has {len(queue)} undelivered events (its limit); "
                    "use publish_wait() to wait for room"
                )
        queue.append(event)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_for_room(self) -> None:
        while self.active and len(self._queue) >= self.maxsize:
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()

    async def _deliver(self) -> None:
        queue = self._queue
        handler = self._handler
        loop = asyncio.get_running_loop()
        while True:
            if not queue:
                waiter = self._waiter = loop.create_future()
                if self._room is not None:
                    self._room.set()
                self._bus._note_idle(self)
                await waiter
                continue
            event = queue.popleft()
            try:
                if self._is_async:
                    await cast(Callable[[E], Awaitable[None]], handler)(event)
                else:
                    handler(event)
            except Exception:
                self.errors += 1
                log.exception("event bus: subscriber %s failed on %r", self.name, event)
            self.delivered += 1
            if self._room is not None and len(queue) < self.maxsize:
                self._room.set()

    def _stop(self) -> asyncio.Task[None]:
        self.active = False
        self._queue.clear()
        if self._room is not None:
            self._room.set()
        self._task.cancel()
        return self._task


class EventBus:
    """The in-process bus. Create and use it inside a running event loop.

    ``async with EventBus() as bus:`` closes it (and stops every delivery task) on exit.
    """

    def __init__(self) -> None:
        self._subs: list[Subscription[Any]] = []
        self._routes: dict[type[Event], tuple[Subscription[Any], ...]] = {}
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._stopping: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> EventBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def subscribe(
        self,
        event_type: type[E],
        handler: Handler[E],
        *,
        maxsize: int = DEFAULT_QUEUE_SIZE,
        overflow: Overflow = Overflow.DROP_OLDEST,
        name: str | None = None,
    ) -> Subscription[E]:
        """Deliver each ``event_type`` event (and subclass) to ``handler``; return the unsubscribe.

        ``handler`` may be a plain function or a coroutine function.
        """
        if self._closed:
            raise BusClosedError("cannot subscribe to a closed event bus")
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise InvalidInputError(f"cannot subscribe to {event_type!r}: not an Event subclass")
        if maxsize < 1:
            raise InvalidInputError(f"subscription maxsize {maxsize} must be >= 1")
        label = name or str(getattr(handler, "__qualname__", repr(handler)))
        sub = Subscription(
            self, event_type, handler, maxsize=maxsize, overflow=Overflow(overflow), name=label
        )
        self._subs.append(sub)
        self._routes.clear()
        return sub

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every matching subscriber. Never blocks, never runs a handler."""
        if self._closed:
            raise BusClosedError("cannot publish on a closed event bus")
        targets = self._routes.get(type(event))
        if targets is None:
            targets = self._route(type(event))
        for sub in targets:
            sub._offer(event)

    async def publish_wait(self, event: Event) -> None:
        """Like :meth:`publish`, but first wait until every ``BLOCK`` subscriber has room."""
        if self._closed:
            raise BusClosedError("cannot publish on a closed event bus")
        targets = self._routes.get(type(event)) or self._route(type(event))
        for sub in targets:
            if sub.overflow is Overflow.BLOCK:
                await sub._wait_for_room()
        self.publish(event)

    @property
    def subscriptions(self) -> tuple[Subscription[Any], ...]:
        return tuple(self._subs)

    def _route(self, event_type: type[Event]) -> tuple[Subscription[Any], ...]:
        targets = tuple(s for s in self._subs if issubclass(event_type, s.event_type))
        self._routes[event_type] = targets
        return targets

    def _remove(self, sub: Subscription[Any]) -> None:
        if not sub.active:
            return
        self._subs.remove(sub)
        self._routes.clear()
        task = sub._stop()
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
        self._note_idle(sub)

    def _note_idle(self, _sub: Subscription[Any]) -> None:
        if self._idle_waiters and self._all_idle():
            waiters, self._idle_waiters = self._idle_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def _all_idle(self) -> bool:
        return all(not s._queue and s._waiter is not None for s in self._subs)

    async def drain(self) -> None:
        """Wait until every subscriber has handled everything queued so far."""
        while not self._all_idle():
            fut = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(fut)
            await fut

    async def close(self) -> None:
        """Unsubscribe everyone and stop the delivery tasks. Undelivered events are discarded."""
        self._closed = True
        for sub in list(self._subs):
            self._remove(sub)
        await asyncio.gather(*list(self._stopping), return_exceptions=True)
