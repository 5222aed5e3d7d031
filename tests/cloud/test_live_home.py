"""Household messages on the live socket, over real sockets on SQLite and PostgreSQL: a home
device's changes, its going offline and an automation's run reach every member of the household
and nobody else; a car's values stay ``state`` messages (never ``device`` ones); a member who
leaves stops hearing. The hub's household fan-out and its coalescing, without sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud.live import DeviceChange, LiveHub
from tests.cloud.car_helpers import (
    CAR,
    LinkedCar,
    give_role,
    make_gateway,
    now_us,
    person,
    put_car,
)
from tests.cloud.server import RunningCloud, running_cloud
from tests.cloud.test_devices_api import LIGHT, Light, home, req
from tests.cloud.test_live import SPEED, Socket, live, sample

AUTOMATION = f"""\
alias: Dim the hall
triggers:
  - trigger: state
    entity_id: {LIGHT}/light.on
    to: true
actions:
  - device: {LIGHT}
    set: {{light.brightness: 30}}
"""


class SwitchedLight(Light):
    """The test's light, which can also drop off the network and come back."""

    def set_online(self, online: bool) -> None:
        self.online = online
        if self._sink is not None:
            self._sink.availability_changed(self.device_id, online)


async def until(socket: Socket, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The next message of ``kind``, and those that came before it."""
    before = []
    while (message := await socket.next())["type"] != kind:
        before.append(message)
    return message, before


def device_values(messages: list[dict[str, Any]], device_id: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for message in messages:
        if message["type"] == "device" and message["device_id"] == device_id:
            values.update({c["ref"]: c["value"] for c in message["changes"]})
    return values


async def test_members_see_their_home_live_and_strangers_nothing(
    db_url: str, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")  # the owner
        max_ = person(cloud, "max@example.org", "Max")  # a member: a guest of the car
        eve = person(cloud, "eve@example.org", "Eve")  # a stranger with a home of her own
        put_car(cloud, ada)
        give_role(cloud, ada, max_, "guest", valid_until_us=now_us(cloud) + 3600 * 10**6)
        light = SwitchedLight()
        cloud.ctx.homes.attach_device(ada.household_id, light)
        eve_light = SwitchedLight("light:porch", "Porch")
        cloud.ctx.homes.attach_device(eve.household_id, eve_light)
        r = await asyncio.to_thread(
            req, cloud, ada, "POST", home(ada, "/automations"), json={"source": AUTOMATION}
        )
        assert r.status_code == 201, r.text
        automation_id = r.json()["id"]
        car = LinkedCar(cloud, tmp_path, key)
        await car.start()

        async with (
            live(cloud, ada) as ada_ws,
            live(cloud, max_) as max_ws,
            live(cloud, eve) as eve_ws,
        ):
            # The car's values reach its people as state, never as a home device's.
            car.buffer.append([sample(SPEED, 12.0, now_us(cloud))])
            for socket in (ada_ws, max_ws):
                state, before = await until(socket, "state")
                assert state["car_id"] == CAR
                assert before == []

            r = await asyncio.to_thread(
                req,
                cloud,
                ada,
                "POST",
                home(ada, f"/devices/{LIGHT}/actions/light.turn_on"),
                json={},
            )
            assert r.status_code == 200, r.text
            for socket in (ada_ws, max_ws):
                run, before = await until(socket, "automation_run")
                assert run == {
                    "type": "automation_run",
                    "household_id": ada.household_id,
                    "automation_id": automation_id,
                    "run_id": run["run_id"],
                    "outcome": "finished",
                    "ts": "2026-06-01T08:00:00Z",
                }
                assert {m["type"] for m in before} == {"device"}
                assert all(m["household_id"] == ada.household_id for m in before)
                assert device_values(before, LIGHT) == {"light.on": True, "light.brightness": 30}
                assert before[0]["changes"][0]["ts"] == "2026-06-01T08:00:00Z"

            light.set_online(False)
            for socket in (ada_ws, max_ws):
                message, before = await until(socket, "device_online")
                assert message == {
                    "type": "device_online",
                    "household_id": ada.household_id,
                    "device_id": LIGHT,
                    "online": False,
                }
                assert before == []

            # Eve's first message is about her own home: nothing of Ada's reached her socket.
            r = await asyncio.to_thread(
                req,
                cloud,
                eve,
                "POST",
                home(eve, "/devices/light:porch/actions/light.turn_on"),
                json={},
            )
            assert r.status_code == 200, r.text
            first = await eve_ws.next()
            assert (first["type"], first["household_id"], first["device_id"]) == (
                "device",
                eve.household_id,
                "light:porch",
            )
            assert all(m.get("household_id") != ada.household_id for m in eve_ws.seen)
            # And none of Eve's home reached Ada's.
            light.set_online(True)
            message, before = await until(ada_ws, "device_online")
            assert message["online"] is True
            assert before == []
        await car.stop()


async def test_a_member_who_leaves_stops_hearing(cloud: RunningCloud) -> None:
    cloud.ctx.live.refresh_s = 0.05
    ada = person(cloud, "ada@example.org", "Ada")
    max_ = person(cloud, "max@example.org", "Max")
    put_car(cloud, ada)
    give_role(cloud, ada, max_, "driver")  # makes him a member too
    hub = cloud.ctx.live
    async with live(cloud, max_) as max_ws:
        hub.publish_device_online(ada.household_id, LIGHT, False)
        message = await max_ws.next()
        assert (message["type"], message["household_id"]) == ("device_online", ada.household_id)
        r = await asyncio.to_thread(
            req, cloud, max_, "DELETE", home(ada, f"/members/{max_.user_id}")
        )
        assert r.status_code == 204, r.text

        async def only_his_own_home() -> None:
            # Publish to both homes until Ada's no longer comes first: membership was re-read.
            while True:
                hub.publish_device_online(ada.household_id, LIGHT, True)
                hub.publish_device_online(max_.household_id, LIGHT, True)
                first = await max_ws.next()
                if first["household_id"] == max_.household_id:
                    return
                assert (await max_ws.next())["household_id"] == max_.household_id

        await asyncio.wait_for(only_his_own_home(), 10)


async def test_the_hub_sends_household_messages_to_members_only_coalescing_devices() -> None:
    hub = LiveHub(None, None)  # type: ignore[arg-type]  # publishing needs neither
    hub.bind(asyncio.get_running_loop())
    member = hub.subscribe("usr_m", {}, frozenset({"hh_1"}))
    other = hub.subscribe("usr_o", {}, frozenset({"hh_2"}))
    hub.publish_device("hh_1", LIGHT, [DeviceChange("light.on", True, 1)])
    hub.publish_device("hh_1", LIGHT, [DeviceChange("light.brightness", 10, 2)])
    hub.publish_device("hh_1", LIGHT, [DeviceChange("light.brightness", 20, 3)])
    hub.publish_device("hh_1", LIGHT, [DeviceChange("light.brightness", 5, 0)])  # older: kept out
    hub.publish_device_online("hh_1", "sensor:door", False)
    hub.publish_automation_run("hh_1", "aut_1", "run_1", "finished", 4)
    hub.publish_device("hh_1", LIGHT, [DeviceChange("light.on", False, 5)])
    await asyncio.sleep(0)  # the hand-over to the loop

    def drain(sub: Any) -> list[dict[str, Any]]:
        out = []
        while (message := sub.pop()) is not None:
            out.append(message)
        return out

    assert drain(other) == []
    assert drain(member) == [
        {
            "type": "device",
            "household_id": "hh_1",
            "device_id": LIGHT,
            "changes": [
                {"ref": "light.brightness", "value": 20, "ts": "1970-01-01T00:00:00.000003Z"},
                {"ref": "light.on", "value": False, "ts": "1970-01-01T00:00:00.000005Z"},
            ],
        },
        {
            "type": "device_online",
            "household_id": "hh_1",
            "device_id": "sensor:door",
            "online": False,
        },
        {
            "type": "automation_run",
            "household_id": "hh_1",
            "automation_id": "aut_1",
            "run_id": "run_1",
            "outcome": "finished",
            "ts": "1970-01-01T00:00:00.000004Z",
        },
    ]
