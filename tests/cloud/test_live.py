"""The live WebSocket over real sockets, on SQLite and PostgreSQL: telemetry from a car on the real
link reaches the people who may see it (latency printed) and nobody else; command states are
pushed; the socket's own protocol (auth first, ping, bad frames); access is re-checked while the
socket lives; a reader that falls too far behind is cut off. The hub's fan-out rules are checked
without sockets too."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from smartev.cloud import live as live_module
from smartev.cloud.access import CarAccess, CarRole
from smartev.cloud.api import live as live_api
from smartev.cloud.command_reasons import REASON_TEXTS
from smartev.cloud.commands import CommandUpdate
from smartev.cloud.derived import ChargeRecord, DriveRecord, StateRecord
from smartev.cloud.live import LiveHub, LiveSignal, Subscriber
from smartev.cloud.telemetry import IngestResult
from smartev.link import SampleKind
from smartev.vehicle.telemetry_buffer import SampleDraft
from tests.cloud.car_helpers import (
    CAR,
    OTHER_CAR,
    LinkedCar,
    Person,
    Signer,
    drop_role,
    give_role,
    make_gateway,
    now_us,
    person,
    put_car,
)
from tests.cloud.server import RunningCloud, running_cloud

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LAT = "Vehicle.CurrentLocation.Latitude"


@dataclass
class Socket:
    ws: ClientConnection
    ready: dict[str, Any]
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def next(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        self.seen.append(message)
        return message

    async def _read_all(self) -> None:
        while True:
            await self.next()

    async def closed_with(self) -> int:
        """Read until the server closes the socket; its close code."""
        with pytest.raises(ConnectionClosed) as caught:
            await self._read_all()
        received = caught.value.rcvd
        assert received is not None
        return received.code


def live_url(cloud: RunningCloud) -> str:
    return cloud.base_url.replace("http://", "ws://") + "/api/v1/live"


@asynccontextmanager
async def live(cloud: RunningCloud, who: Person) -> AsyncIterator[Socket]:
    async with connect(live_url(cloud)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": who.token}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ready["type"] == "ready", ready
        yield Socket(ws, ready)


def sample(path: str, value: object, ts_us: int) -> SampleDraft:
    return SampleDraft(ts_us, path, value, SampleKind.CHANGE)  # type: ignore[arg-type]


async def test_state_reaches_who_may_see_it_fast_and_nobody_else(
    db_url: str, tmp_path: Path
) -> None:
    key_a, key_b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    gateway = make_gateway(db_url, {CAR: key_a, OTHER_CAR: key_b})
    with running_cloud(db_url, tmp_path, link=gateway) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        bob = person(cloud, "bob@example.org", "Bob")
        cam = person(cloud, "cam@example.org", "Cam")
        put_car(cloud, ada, CAR)
        put_car(cloud, bob, OTHER_CAR)
        give_role(cloud, ada, cam, "charging_manager")
        car_a = LinkedCar(cloud, tmp_path, key_a)
        car_b = LinkedCar(cloud, tmp_path, key_b, car_id=OTHER_CAR)
        await car_a.start()
        await car_b.start()
        t0 = now_us(cloud)
        async with (
            live(cloud, ada) as ada_ws,
            live(cloud, bob) as bob_ws,
            live(cloud, cam) as cam_ws,
        ):
            assert ada_ws.ready["cars"] == [{"car_id": CAR, "role": "owner"}]
            assert cam_ws.ready["cars"] == [{"car_id": CAR, "role": "charging_manager"}]
            sent = time.perf_counter()
            car_a.buffer.append(
                [sample(SPEED, 42.5, t0), sample(SOC, 81.5, t0), sample(LAT, 48.1, t0)]
            )
            state = await ada_ws.next()
            latency_ms = (time.perf_counter() - sent) * 1000
            print(f"\nlive latency, car's buffer to the user's socket: {latency_ms:.1f} ms")
            assert state["type"] == "state"
            assert state["car_id"] == CAR
            assert {s["path"]: s["value"] for s in state["signals"]} == {
                SPEED: 42.5,
                SOC: 81.5,
                LAT: 48.1,
            }
            assert state["signals"][0]["ts"] == "2026-06-01T08:00:00Z"
            cam_state = await cam_ws.next()
            assert [s["path"] for s in cam_state["signals"]] == [SOC]  # battery only, no place

            car_b.buffer.append([sample(SPEED, 7.0, t0 + 1)])
            # Bob's first message is his own car: Ada's car never reached his socket.
            assert (await bob_ws.next())["car_id"] == OTHER_CAR
            car_a.buffer.append([sample(SPEED, 50.0, t0 + 2)])
            # Whatever of Bob's car would have reached Ada came before this.
            assert (await ada_ws.next())["signals"] == [
                {"path": SPEED, "value": 50.0, "ts": "2026-06-01T08:00:00.000002Z"}
            ]
            assert {m["car_id"] for m in ada_ws.seen + cam_ws.seen} == {CAR}
            assert {m["car_id"] for m in bob_ws.seen} == {OTHER_CAR}

            # The link going down is news for who sees the car.
            await car_b.stop()
            assert await bob_ws.next() == {
                "type": "car_offline",
                "car_id": OTHER_CAR,
                "ts": "2026-06-01T08:00:00Z",
            }
        await car_a.stop()


async def test_command_states_are_pushed_to_who_may_see_them(cloud: RunningCloud) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    gus = person(cloud, "gus@example.org", "Gus")
    put_car(cloud, ada)
    give_role(cloud, ada, gus, "guest", valid_until_us=now_us(cloud) + 86_400_000_000)
    phone = Signer(cloud.clock)

    def post(who: Person, name: str) -> str:
        with cloud.client(who.token) as c:
            r = c.post(f"/api/v1/cars/{CAR}/commands", json=phone.body(name, ttl_s=5))
        assert r.status_code == 202, r.text
        command_id: str = r.json()["id"]
        return command_id

    async with live(cloud, ada) as ada_ws, live(cloud, gus) as gus_ws:
        mine = await asyncio.to_thread(post, ada, "door.lock")
        message = await ada_ws.next()
        assert message == {
            "type": "command",
            "car_id": CAR,
            "id": mine,
            "name": "door.lock",
            "state": "requested",
            "reason": "",
            "reason_text": None,
            "ts": "2026-06-01T08:00:00Z",
        }
        theirs = await asyncio.to_thread(post, gus, "door.unlock")
        assert (await gus_ws.next())["id"] == theirs  # not Ada's command: a guest sees his own
        assert (await ada_ws.next())["id"] == theirs  # the owner sees every command
        cloud.clock.advance(10)  # the car never came: both expire
        expired = {(await ada_ws.next())["id"], (await ada_ws.next())["id"]}
        assert expired == {mine, theirs}
        last = await gus_ws.next()
        assert (last["id"], last["state"], last["reason"]) == (theirs, "expired", "not_reached")
        assert last["reason_text"] == REASON_TEXTS["not_reached"]


async def test_the_socket_speaks_a_small_protocol(
    cloud: RunningCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = person(cloud, "ada@example.org", "Ada")
    bob = person(cloud, "bob@example.org", "Bob")
    async with live(cloud, ada) as ada_ws:
        assert ada_ws.ready == {"type": "ready", "user_id": ada.user_id, "cars": []}
        await ada_ws.ws.send(json.dumps({"type": "ping"}))
        assert await ada_ws.next() == {"type": "pong"}
        await ada_ws.ws.send("not json")
        assert (await ada_ws.next())["message"].startswith("a message must be JSON")
        await ada_ws.ws.send(b"\x00binary")
        assert (await ada_ws.next())["type"] == "error"
        # The token can be renewed on the open socket, by the same person only.
        await ada_ws.ws.send(json.dumps({"type": "auth", "token": ada.token}))
        assert (await ada_ws.next())["type"] == "ready"
        await ada_ws.ws.send(json.dumps({"type": "subscribe"}))
        assert await ada_ws.closed_with() == 1008  # the third bad message
        assert "unknown message type 'subscribe'" in ada_ws.seen[-1]["message"]
    async with live(cloud, ada) as ada_ws:
        await ada_ws.ws.send(json.dumps({"type": "auth", "token": bob.token}))
        assert await ada_ws.closed_with() == 1008
        assert "one person" in ada_ws.seen[-1]["message"]

    async def refused(first: str | None) -> str:
        async with connect(live_url(cloud)) as ws:
            if first is not None:
                await ws.send(first)
            socket = Socket(ws, {})
            assert await socket.closed_with() == 1008
            message: str = socket.seen[-1]["message"]
            return message

    assert "not valid" in await refused(json.dumps({"type": "auth", "token": "nope"}))
    assert "first message must be" in await refused(json.dumps({"type": "ping"}))
    assert "send" in await refused(json.dumps({"type": "auth"}))
    monkeypatch.setattr(live_api, "AUTH_TIMEOUT_S", 0.2)
    assert "no auth message within 0.2 s" in await refused(None)


async def test_access_is_rechecked_while_the_socket_lives(cloud: RunningCloud) -> None:
    cloud.ctx.live.refresh_s = 0.05
    ada = person(cloud, "ada@example.org", "Ada")
    gus = person(cloud, "gus@example.org", "Gus")
    put_car(cloud, ada, CAR)
    put_car(cloud, gus, OTHER_CAR)
    give_role(cloud, ada, gus, "driver")
    hub = cloud.ctx.live
    async with live(cloud, gus) as gus_ws:
        assert {c["car_id"] for c in gus_ws.ready["cars"]} == {CAR, OTHER_CAR}
        hub.publish_state(CAR, [LiveSignal(SPEED, 1.0, now_us(cloud))])
        assert (await gus_ws.next())["car_id"] == CAR
        drop_role(cloud, gus)

        async def only_his_own_car() -> None:
            # Publish to both cars until Ada's no longer comes first: the role has been re-read.
            while True:
                hub.publish_state(CAR, [LiveSignal(SPEED, 2.0, now_us(cloud))])
                hub.publish_state(OTHER_CAR, [LiveSignal(SPEED, 3.0, now_us(cloud))])
                first = await gus_ws.next()
                if first["car_id"] == OTHER_CAR:
                    return
                assert (await gus_ws.next())["car_id"] == OTHER_CAR

        await asyncio.wait_for(only_his_own_car(), 10)
        # Logging out ends the socket too, at the next re-check.
        with cloud.client(gus.token) as c:
            assert c.post("/api/v1/auth/logout").status_code in (200, 204)
        assert await gus_ws.closed_with() == 1008
        assert "log in again" in gus_ws.seen[-1]["message"]


async def test_a_reader_that_falls_too_far_behind_is_cut_off(cloud: RunningCloud) -> None:
    cloud.ctx.live.queue_limit = 1
    ada = person(cloud, "ada@example.org", "Ada")
    put_car(cloud, ada)
    async with live(cloud, ada) as ada_ws:
        for n in range(200):  # all handed over before the server's loop gets to run its writer
            cloud.ctx.live.publish_command(
                CommandUpdate(CAR, f"cmd_{n}", ada.user_id, "honk", "requested", "", now_us(cloud))
            )
        assert await ada_ws.closed_with() == 1013
        assert "too slow" in ada_ws.seen[-1]["message"]


# ── the hub without sockets ──────────────────────────────────────────────────────────────────


def test_state_coalesces_per_car_and_other_messages_are_bounded() -> None:
    sub = Subscriber("usr_a", {}, queue_limit=2)
    sub.push_state(CAR, [LiveSignal(SPEED, 1.0, 10), LiveSignal(SOC, 50.0, 10)])
    sub.push({"type": "command", "id": "c1"})
    sub.push_state(CAR, [LiveSignal(SPEED, 2.0, 20), LiveSignal(SOC, 49.0, 5)])  # SOC: older
    sub.push({"type": "command", "id": "c2"})
    assert not sub.overflowed
    sub.push({"type": "command", "id": "c3"})
    assert sub.overflowed  # never dropped silently: the socket is closed instead
    state = sub.pop()
    assert state is not None
    assert [(s["path"], s["value"]) for s in state["signals"]] == [(SOC, 50.0), (SPEED, 2.0)]
    assert [sub.pop(), sub.pop(), sub.pop()] == [
        {"type": "command", "id": "c1"},
        {"type": "command", "id": "c2"},
        None,
    ]


def _access(car_id: str, role: CarRole) -> dict[str, CarAccess]:
    return {car_id: CarAccess(car_id, "hh_1", role)}


async def test_drives_and_charges_go_to_the_roles_whose_scopes_include_them() -> None:
    hub = LiveHub(None, None)  # type: ignore[arg-type]  # publishing needs neither
    hub.bind(asyncio.get_running_loop())
    driver = hub.subscribe("usr_d", _access(CAR, CarRole.DRIVER))
    manager = hub.subscribe("usr_m", _access(CAR, CarRole.CHARGING_MANAGER))
    guest = hub.subscribe("usr_g", _access(CAR, CarRole.GUEST))
    stranger = hub.subscribe("usr_s", _access(OTHER_CAR, CarRole.OWNER))
    drive = DriveRecord(
        "drv_1", CAR, 0, 60_000_000, 48.1, 11.5, 48.2, 11.6, "Home", "Work", 10.0, 60.0,
        1.5, 150.0, 36.0, 50.0, 80.0, 78.0, 1000.0, 1010.0,
    )  # fmt: skip
    charge = ChargeRecord(
        "chg_1", CAR, 0, 3_600_000_000, 48.1, 11.5, "Home", "geo_1", "AC", 11.0, 11.0,
        3600.0, 20.0, 40.0, None, 3.3, "EUR",
    )  # fmt: skip
    state = StateRecord("st_1", CAR, "charging", 0, None, 20.0, None)
    hub.on_ingested(
        IngestResult(
            car_id=CAR,
            received_us=0,
            stored=1,
            last_seq=1,
            latest={SPEED: (5, 0.0)},
            events=(),
            drives=(drive,),
            charges=(charge,),
            states=(state,),
        )
    )
    await asyncio.sleep(0)  # the hand-over to the loop

    def drain(sub: Subscriber) -> list[dict[str, Any]]:
        out = []
        while (message := sub.pop()) is not None:
            out.append(message)
        return out

    for_driver = drain(driver)
    assert [m["type"] for m in for_driver] == ["state", "drive", "charge", "car_state"]
    assert for_driver[1]["start"] == "1970-01-01T00:00:00Z"
    assert for_driver[1]["start_place"] == "Home"
    assert for_driver[2]["lat"] == 48.1
    assert for_driver[3]["end"] is None
    for_manager = drain(manager)
    assert [m["type"] for m in for_manager] == ["charge", "car_state"]  # no speed, no drives
    assert not {"lat", "lon", "place", "geofence_id"} & set(for_manager[0])
    assert for_manager[0]["energy_added_kwh"] == 11.0
    assert [m["type"] for m in drain(guest)] == ["state", "car_state"]
    assert drain(stranger) == []
    assert live_module.iso(1_500_000) == "1970-01-01T00:00:01.500000Z"
