"""Fixtures for the KUKSA gRPC API: a broker with the shipped catalog served on a real port, stubs
on grpc.aio channels, a demo provider that carries out actuation requests, and a server running
in a thread of its own for synchronous clients (hypothesis, kuksa-client's blocking VSSClient)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
import pytest
from kuksa.val.v1 import val_pb2_grpc as val_grpc_v1
from kuksa.val.v2 import types_pb2 as types_v2
from kuksa.val.v2 import val_pb2 as val_v2
from kuksa.val.v2 import val_pb2_grpc as val_grpc_v2

from smartev.core.clock import SimClock
from smartev.spec import shipped_catalog
from smartev.vehicle.broker import Broker
from smartev.vehicle.grpc_server import GrpcServer, start_grpc_server

KUKSA_START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
T = TypeVar("T")


@pytest.fixture
def kuksa_clock() -> SimClock:
    return SimClock(KUKSA_START)


@pytest.fixture
def kuksa_broker(kuksa_clock: SimClock) -> Broker:
    return Broker(shipped_catalog(), clock=kuksa_clock, actuation_timeout_s=5)


@pytest.fixture
async def kuksa_server(kuksa_broker: Broker) -> AsyncIterator[GrpcServer]:
    server = await start_grpc_server(kuksa_broker, port=0)
    yield server
    await server.stop(0)


@pytest.fixture
async def channel(kuksa_server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(kuksa_server.target) as chan:
        yield chan


@pytest.fixture
def v2(channel: grpc.aio.Channel) -> Any:
    return val_grpc_v2.VALStub(channel)


@pytest.fixture
def v1(channel: grpc.aio.Channel) -> Any:
    return val_grpc_v1.VALStub(channel)


class DemoProvider:
    """A KUKSA v2 provider over ``OpenProviderStream``: claims actuators and, when asked,
    reports each target as the actuator's new current value (unless told to refuse)."""

    def __init__(self, stub: Any, catalog_ids: dict[int, str]) -> None:
        self._stub = stub
        self._ids = catalog_ids
        self._outgoing: asyncio.Queue[Any] = asyncio.Queue()
        self.received: list[tuple[str, Any]] = []
        self.responses: list[Any] = []
        self.refuse = False
        self.execute = True
        self._task: asyncio.Task[None] | None = None
        self._claimed = asyncio.Event()
        self.call: Any = None

    async def _requests(self) -> AsyncIterator[Any]:
        while True:
            item = await self._outgoing.get()
            if item is None:
                return
            yield item

    def send(self, request: Any) -> None:
        self._outgoing.put_nowait(request)

    async def start(self, paths: list[str]) -> DemoProvider:
        self.send(
            val_v2.OpenProviderStreamRequest(
                provide_actuation_request=val_v2.ProvideActuationRequest(
                    actuator_identifiers=[types_v2.SignalID(path=p) for p in paths]
                )
            )
        )
        self.call = self._stub.OpenProviderStream(self._requests())
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._claimed.wait(), 5)
        return self

    async def _run(self) -> None:
        async for response in self.call:
            self.responses.append(response)
            if response.HasField("provide_actuation_response"):
                self._claimed.set()
            if not response.HasField("batch_actuate_stream_request"):
                continue
            for item in response.batch_actuate_stream_request.actuate_requests:
                path = self._ids[item.signal_id.id]
                self.received.append((path, item.value))
                if self.refuse:
                    self.send(
                        val_v2.OpenProviderStreamRequest(
                            batch_actuate_stream_response=val_v2.BatchActuateStreamResponse(
                                signal_id=item.signal_id,
                                error=types_v2.Error(
                                    code=types_v2.ERROR_CODE_INVALID_ARGUMENT,
                                    message="motor stalled",
                                ),
                            )
                        )
                    )
                elif self.execute:
                    self.send(
                        val_v2.OpenProviderStreamRequest(
                            publish_values_request=val_v2.PublishValuesRequest(
                                request_id=1,
                                data_points={
                                    item.signal_id.id: types_v2.Datapoint(value=item.value)
                                },
                            )
                        )
                    )

    async def stop(self) -> None:
        if self.call is not None:
            self.call.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await self._task


@pytest.fixture
async def demo_provider(v2: Any, kuksa_broker: Broker) -> AsyncIterator[DemoProvider]:
    """Provides the door lock, the trunk, the charge limit and the HVAC set point."""
    ids = {spec.id: spec.path for spec in kuksa_broker.catalog}
    provider = DemoProvider(v2, ids)
    await provider.start(
        [
            "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked",
            "Vehicle.Body.Trunk.Rear.IsOpen",
            "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit",
            "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature",
        ]
    )
    yield provider
    await provider.stop()


class ThreadedServer:
    """A broker and its gRPC server on an event loop in another thread."""

    def __init__(self, **server_args: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.clock = SimClock(KUKSA_START)
        self.broker = Broker(shipped_catalog(), clock=self.clock, actuation_timeout_s=5)
        self.server: GrpcServer = self.run(start_grpc_server(self.broker, port=0, **server_args))

    @property
    def target(self) -> str:
        return self.server.target

    def run(self, coro: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coro

        future: Future[T] = asyncio.run_coroutine_threadsafe(wrapped(), self.loop)
        return future.result(timeout=10)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop (the broker is not thread-safe)."""

        async def wrapped() -> T:
            return fn()

        return self.run(wrapped())

    def close(self) -> None:
        self.run(self.server.stop(0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@pytest.fixture
def threaded_server() -> Iterator[ThreadedServer]:
    server = ThreadedServer()
    yield server
    server.close()
