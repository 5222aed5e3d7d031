import asyncio
from dataclasses import dataclass

import pytest

from smartev.core.bus import BusClosedError, BusFullError, Event, EventBus, Overflow
from smartev.core.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Tick(Event):
    n: int


@dataclass(frozen=True, slots=True)
class SpecialTick(Tick):
    pass


@dataclass(frozen=True, slots=True)
class Other(Event):
    text: str


async def test_delivers_in_order_to_every_subscriber_of_the_type() -> None:
    async with EventBus() as bus:
        a: list[int] = []
        b: list[int] = []
        bus.subscribe(Tick, lambda e: a.append(e.n))

        async def handler(e: Tick) -> None:
            b.append(e.n)

        bus.subscribe(Tick, handler)
        for i in range(100):
            bus.publish(Tick(i))
        bus.publish(Other("not for them"))
        await bus.drain()
        assert a == list(range(100))
        assert b == list(range(100))


async def test_publish_never_runs_handlers_inline() -> None:
    async with EventBus() as bus:
        seen: list[int] = []
        bus.subscribe(Tick, lambda e: seen.append(e.n))
        bus.publish(Tick(1))
        assert seen == []  # delivery is asynchronous
        await bus.drain()
        assert seen == [1]


async def test_subclasses_reach_base_subscribers_and_event_gets_all() -> None:
    async with EventBus() as bus:
        ticks: list[Event] = []
        everything: list[Event] = []
        specials: list[Event] = []
        bus.subscribe(Tick, ticks.append)
        bus.subscribe(Event, everything.append)
        bus.subscribe(SpecialTick, specials.append)
        bus.publish(Tick(1))
        bus.publish(SpecialTick(2))
        bus.publish(Other("x"))
        await bus.drain()
        assert ticks == [Tick(1), SpecialTick(2)]
        assert everything == [Tick(1), SpecialTick(2), Other("x")]
        assert specials == [SpecialTick(2)]


async def test_unsubscribe_is_the_returned_function_and_idempotent() -> None:
    async with EventBus() as bus:
        seen: list[int] = []
        unsub = bus.subscribe(Tick, lambda e: seen.append(e.n))
        bus.publish(Tick(1))
        await bus.drain()
        unsub()
        unsub()
        bus.publish(Tick(2))
        await bus.drain()
        assert seen == [1]
        assert bus.subscriptions == ()


async def test_failing_handler_is_counted_logged_and_keeps_receiving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with EventBus() as bus:
        seen: list[int] = []

        def fragile(e: Tick) -> None:
            if e.n == 1:
                raise RuntimeError("boom")
            seen.append(e.n)

        sub = bus.subscribe(Tick, fragile, name="fragile")
        for i in range(3):
            bus.publish(Tick(i))
        await bus.drain()
        assert seen == [0, 2]
        assert sub.errors == 1
        assert "subscriber fragile failed" in caplog.text


async def test_slow_subscriber_does_not_hold_back_a_fast_one() -> None:
    async with EventBus() as bus:
        release = asyncio.Event()
        fast: list[int] = []

        async def slow(_: Tick) -> None:
            await release.wait()

        slow_sub = bus.subscribe(Tick, slow, maxsize=5)
        bus.subscribe(Tick, lambda e: fast.append(e.n))
        for i in range(50):
            bus.publish(Tick(i))
        for _ in range(5):
            await asyncio.sleep(0)
        assert fast == list(range(50))
        assert slow_sub.pending <= 5
        release.set()


async def _stuck_subscriber(bus: EventBus, overflow: Overflow) -> tuple[list[int], asyncio.Event]:
    got: list[int] = []
    gate = asyncio.Event()

    async def slow(e: Tick) -> None:
        await gate.wait()
        got.append(e.n)

    bus.subscribe(Tick, slow, maxsize=3, overflow=overflow, name="slow")
    bus.publish(Tick(0))
    await asyncio.sleep(0)  # the handler takes event 0 and blocks on the gate
    return got, gate


async def test_drop_oldest_keeps_the_newest_events() -> None:
    async with EventBus() as bus:
        got, gate = await _stuck_subscriber(bus, Overflow.DROP_OLDEST)
        sub = bus.subscriptions[0]
        for i in range(1, 10):
            bus.publish(Tick(i))
        assert sub.dropped == 6
        gate.set()
        await bus.drain()
        assert got == [0, 7, 8, 9]


async def test_drop_newest_keeps_what_was_queued() -> None:
    async with EventBus() as bus:
        got, gate = await _stuck_subscriber(bus, Overflow.DROP_NEWEST)
        sub = bus.subscriptions[0]
        for i in range(1, 10):
            bus.publish(Tick(i))
        assert sub.dropped == 6
        gate.set()
        await bus.drain()
        assert got == [0, 1, 2, 3]


async def test_disconnect_unsubscribes_on_overflow(caplog: pytest.LogCaptureFixture) -> None:
    async with EventBus() as bus:
        _, gate = await _stuck_subscriber(bus, Overflow.DISCONNECT)
        sub = bus.subscriptions[0]
        for i in range(1, 10):
            bus.publish(Tick(i))  # the publisher is never hurt
        assert sub.disconnected
        assert not sub.active
        assert bus.subscriptions == ()
        assert "slow fell 3 events behind and was disconnected" in caplog.text
        gate.set()


async def test_block_makes_publish_refuse_and_publish_wait_wait() -> None:
    async with EventBus() as bus:
        got, gate = await _stuck_subscriber(bus, Overflow.BLOCK)
        for i in range(1, 4):
            bus.publish(Tick(i))
        with pytest.raises(BusFullError, match="use publish_wait"):
            bus.publish(Tick(99))
        waiting = asyncio.create_task(bus.publish_wait(Tick(4)))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # still no room
        gate.set()
        await asyncio.wait_for(waiting, timeout=5)
        await bus.drain()
        assert got == [0, 1, 2, 3, 4]  # nothing lost


async def test_bad_subscriptions_and_closed_bus() -> None:
    bus = EventBus()
    with pytest.raises(InvalidInputError, match="not an Event subclass"):
        bus.subscribe(int, print)  # type: ignore[type-var]
    with pytest.raises(InvalidInputError, match="maxsize"):
        bus.subscribe(Tick, print, maxsize=0)
    await bus.close()
    with pytest.raises(BusClosedError):
        bus.publish(Tick(1))
    with pytest.raises(BusClosedError):
        bus.subscribe(Tick, print)


async def test_close_stops_delivery_tasks() -> None:
    bus = EventBus()
    sub = bus.subscribe(Tick, print)
    await bus.close()
    assert sub._task.done()
