"""The car-cloud link end to end over a real WebSocket: handshake, telemetry exactly once."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud.app import create_app
from smartev.cloud.db import Database, default_url
from smartev.cloud.gateway import LinkGateway
from smartev.cloud.telemetry import SqlTelemetryStore
from smartev.core.bus import EventBus
from smartev.core.clock import RealClock
from smartev.core.config import Settings
from smartev.link import RefusalCode
from smartev.link.transport import ConnectionClosedError
from smartev.vehicle.telemetry_buffer import SampleDraft, TelemetryBuffer
from smartev.vehicle.uplink import LinkRefusedError, Uplink, websocket_connector
from tests.certs import write_self_signed
from tests.net import free_port

CAR = "LSJWH4097PN000001"


class Cloud:
    def __init__(self, tmp: Path, keys: dict[str, object]) -> None:
        self.db = Database(default_url(tmp))
        self.store = SqlTelemetryStore(self.db, clock=RealClock())
        self.gateway = LinkGateway(
            store=self.store,
            car_keys=lambda car: keys.get(car),
            clock=RealClock(),  # type: ignore[arg-type,return-value]
        )
        self.port = free_port()
        app = create_app(
            Settings(data_dir=tmp), RealClock(), EventBus(), link=self.gateway, db=self.db
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/v1"


@pytest.fixture
async def cloud_and_key(tmp_path: Path) -> AsyncIterator[tuple[Cloud, Ed25519PrivateKey]]:
    key = Ed25519PrivateKey.generate()
    cloud = Cloud(tmp_path, {CAR: key.public_key()})
    task = asyncio.create_task(cloud.server.serve())
    while not cloud.server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    yield cloud, key
    cloud.server.should_exit = True
    await task
    cloud.db.close()


def drafts(n: int, start_us: int = 0) -> list[SampleDraft]:
    return [SampleDraft(start_us + i, "Vehicle.Speed", float(i % 200), "change") for i in range(n)]


async def wait_until(predicate: object, within_s: float = 20.0) -> None:
    """Poll state another task or process changes (a store, a buffer) until it holds."""

    async def poll() -> None:
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), within_s)


async def test_telemetry_reaches_the_cloud_exactly_once_across_reconnects(
    cloud_and_key: tuple[Cloud, Ed25519PrivateKey], tmp_path: Path
) -> None:
    cloud, key = cloud_and_key
    buffer = TelemetryBuffer(tmp_path / "car.db", clock=RealClock())
    buffer.append(drafts(1200))
    uplink = Uplink(
        car_id=CAR, private_key=key, epoch=os.urandom(16), buffer=buffer, clock=RealClock()
    )
    running = asyncio.create_task(uplink.run(websocket_connector(cloud.url)))
    await wait_until(lambda: cloud.store.count(CAR) == 1200)
    await wait_until(lambda: buffer.pending_count() == 0)
    # The link drops (the car restarts): more samples, a new connection, nothing lost or doubled.
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    buffer.append(drafts(700, 10_000))
    running = asyncio.create_task(uplink.run(websocket_connector(cloud.url)))
    await wait_until(lambda: cloud.store.count(CAR) == 1900)
    assert cloud.store.last_seq(CAR) == buffer.last_seq
    seqs = [s.seq for s in cloud.store.samples(CAR, limit=5000)]
    assert seqs == sorted(set(seqs))
    assert len(seqs) == 1900
    running.cancel()
    buffer.close()


async def test_unknown_car_and_wrong_key_are_refused(
    cloud_and_key: tuple[Cloud, Ed25519PrivateKey], tmp_path: Path
) -> None:
    cloud, _ = cloud_and_key
    buffer = TelemetryBuffer(tmp_path / "car.db", clock=RealClock())
    connect = websocket_connector(cloud.url)
    stranger = Uplink(
        car_id="LSJWH4097PN999999",
        private_key=Ed25519PrivateKey.generate(),
        epoch=os.urandom(16),
        buffer=buffer,
        clock=RealClock(),
    )
    with pytest.raises(LinkRefusedError) as err:
        await stranger.session(await connect())
    assert err.value.refusal.code is RefusalCode.UNKNOWN_CAR
    impostor = Uplink(
        car_id=CAR,
        private_key=Ed25519PrivateKey.generate(),
        epoch=os.urandom(16),
        buffer=buffer,
        clock=RealClock(),
    )
    with pytest.raises(LinkRefusedError) as err:
        await impostor.session(await connect())
    assert err.value.refusal.code is RefusalCode.BAD_PROOF
    assert cloud.store.count(CAR) == 0
    buffer.close()


async def test_garbage_and_wrong_version_get_a_refusal_and_a_closed_connection(
    cloud_and_key: tuple[Cloud, Ed25519PrivateKey],
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from smartev.link import Refusal, decode

    cloud, _ = cloud_and_key
    for frame in (b"\x00garbage", b"\x93\x63\x01\x00", b"\x92\x01" + b"\xff" * 10):
        async with connect(cloud.url) as ws:
            await ws.send(frame)
            answer = decode(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[arg-type]
            assert isinstance(answer, Refusal)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
    async with connect(cloud.url) as ws:  # the server is still up and still refusing cleanly
        await ws.send(b"")
        assert isinstance(decode(await asyncio.wait_for(ws.recv(), 5)), Refusal)  # type: ignore[arg-type]


async def test_telemetry_over_tls(tmp_path: Path) -> None:
    cert, key_file = write_self_signed(tmp_path)
    car_key = Ed25519PrivateKey.generate()
    cloud = Cloud(tmp_path, {CAR: car_key.public_key()})
    cloud.server.config.ssl_certfile = str(cert)
    cloud.server.config.ssl_keyfile = str(key_file)
    serving = asyncio.create_task(cloud.server.serve())
    while not cloud.server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    buffer = TelemetryBuffer(tmp_path / "car.db", clock=RealClock())
    buffer.append(drafts(50))
    url = f"wss://127.0.0.1:{cloud.port}/link/v1"
    uplink = Uplink(
        car_id=CAR, private_key=car_key, epoch=os.urandom(16), buffer=buffer, clock=RealClock()
    )
    # Without the cloud's CA the car refuses to talk to it.
    with pytest.raises(ConnectionClosedError, match="CERTIFICATE_VERIFY_FAILED"):
        await websocket_connector(url)()
    running = asyncio.create_task(uplink.run(websocket_connector(url, ca_file=str(cert))))
    await wait_until(lambda: cloud.store.count(CAR) == 50)
    running.cancel()
    cloud.server.should_exit = True
    await serving
    buffer.close()
    cloud.db.close()


async def test_a_car_whose_buffer_file_was_lost_loses_nothing_new(
    cloud_and_key: tuple[Cloud, Ed25519PrivateKey], tmp_path: Path
) -> None:
    cloud, key = cloud_and_key
    first = TelemetryBuffer(tmp_path / "car.db", clock=RealClock())
    first.append(drafts(300))
    uplink = Uplink(
        car_id=CAR, private_key=key, epoch=os.urandom(16), buffer=first, clock=RealClock()
    )
    running = asyncio.create_task(uplink.run(websocket_connector(cloud.url)))
    await wait_until(lambda: cloud.store.count(CAR) == 300)
    running.cancel()
    first.close()
    (tmp_path / "car.db").unlink()  # the car's storage was replaced: numbering restarts at 1
    fresh = TelemetryBuffer(tmp_path / "car.db", clock=RealClock())
    fresh.append(drafts(120, 1_000_000))
    uplink = Uplink(
        car_id=CAR, private_key=key, epoch=os.urandom(16), buffer=fresh, clock=RealClock()
    )
    running = asyncio.create_task(uplink.run(websocket_connector(cloud.url)))
    await wait_until(lambda: cloud.store.count(CAR) == 420)
    new = cloud.store.samples(CAR, after_seq=300)
    assert [s.ts_us for s in new] == [1_000_000 + i for i in range(120)]
    running.cancel()
    fresh.close()
