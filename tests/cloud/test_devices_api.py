"""The devices API over real sockets, on SQLite and PostgreSQL: a household's devices with values
and specs, actions and writes with their refusals (invalid input, unknown refs, read-only, an
offline device, one that never answers), and who may see and control what."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException
from sqlalchemy import insert

from smartev.cloud import schema as t
from smartev.cloud.api.devices import ACTION_TIMEOUT_S, bounded
from smartev.core.clock import SimClock
from smartev.spec.device_kinds import device_spec
from smartev.spec.devices import DeviceOfflineError, DeviceSink, DeviceSpec, Scalar
from tests.cloud.car_helpers import CAR, Person, give_role, person, put_car
from tests.cloud.server import START, RunningCloud, running_cloud

LIGHT = "light:hall"


class Light:
    """A dimmable light that does what it is asked at once (a DeviceDriver)."""

    def __init__(self, device_id: str = LIGHT, name: str = "Hall") -> None:
        self.device_id = device_id
        self.name = name
        self.spec: DeviceSpec = device_spec("light")
        self.online = True
        self.hang = False  # never answer (a device gone quiet)
        self._values: dict[str, Scalar] = {"light.on": False, "light.brightness": 0}
        self._sink: DeviceSink | None = None

    def values(self) -> Mapping[str, Scalar]:
        return dict(self._values)

    def attach(self, sink: DeviceSink) -> None:
        self._sink = sink

    def _set(self, ref: str, value: Scalar) -> None:
        self._values[ref] = value
        if self._sink is not None:
            self._sink.property_changed(self.device_id, ref, value)

    async def call(self, ref: str, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        if self.hang:
            await asyncio.Event().wait()
        if not self.online:
            raise DeviceOfflineError(f"{self.device_id} stopped answering")
        on = {"light.turn_on": True, "light.turn_off": False}.get(ref, not self._values["light.on"])
        self._set("light.on", on)
        if "brightness" in args:
            self._set("light.brightness", args["brightness"])
        return {}

    async def write(self, ref: str, value: Scalar) -> None:
        self._set(ref, value)


def home(who: Person, rest: str = "") -> str:
    return f"/api/v1/households/{who.household_id}{rest}"


def req(cloud: RunningCloud, who: Person, method: str, path: str, **kw: Any) -> Any:
    with cloud.client(who.token) as c:
        return c.request(method, path, **kw)


def test_devices_values_specs_actions_and_writes(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        light = Light()
        cloud.ctx.homes.attach_device(ada.household_id, light)

        r = req(cloud, ada, "GET", home(ada, "/devices"))
        assert r.status_code == 200, r.text
        assert r.json() == [
            {
                "id": LIGHT,
                "name": "Hall",
                "kind": "light",
                "online": True,
                "values": {"light.on": False, "light.brightness": 0},
            }
        ]
        detail = req(cloud, ada, "GET", home(ada, f"/devices/{LIGHT}")).json()
        (service,) = detail["services"]
        brightness = next(p for p in service["properties"] if p["ref"] == "light.brightness")
        assert brightness["unit"] == "%"
        assert [brightness["low"], brightness["high"]] == [0, 100]
        assert set(brightness["access"]) == {"read", "write", "notify"}
        turn_on = next(a for a in service["actions"] if a["ref"] == "light.turn_on")
        assert [(i["name"], i["required"]) for i in turn_on["inputs"]] == [("brightness", False)]

        r = req(
            cloud,
            ada,
            "POST",
            home(ada, f"/devices/{LIGHT}/actions/light.turn_on"),
            json={"data": {"brightness": 40}},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"device_id": LIGHT, "action": "light.turn_on", "outputs": {}}
        assert light.values() == {"light.on": True, "light.brightness": 40}
        r = req(
            cloud,
            ada,
            "PUT",
            home(ada, f"/devices/{LIGHT}/properties/light.brightness"),
            json={"value": 70},
        )
        assert r.status_code == 204, r.text
        values = req(cloud, ada, "GET", home(ada, f"/devices/{LIGHT}")).json()["values"]
        assert values == {"light.on": True, "light.brightness": 70}

        # Refusals say what was wrong.
        r = req(
            cloud,
            ada,
            "PUT",
            home(ada, f"/devices/{LIGHT}/properties/light.brightness"),
            json={"value": 140},
        )
        assert r.status_code == 422
        assert "0..100" in r.text
        r = req(
            cloud,
            ada,
            "PUT",
            home(ada, f"/devices/{LIGHT}/properties/light.brightness"),
            json={"value": True},
        )
        assert r.status_code == 422
        assert "integer" in r.text
        r = req(
            cloud,
            ada,
            "POST",
            home(ada, f"/devices/{LIGHT}/actions/light.turn_on"),
            json={"data": {"colour": "red"}},
        )
        assert r.status_code == 422
        assert "colour" in r.text
        r = req(cloud, ada, "POST", home(ada, f"/devices/{LIGHT}/actions/light.dance"), json={})
        assert r.status_code == 404
        assert "light.turn_on" in r.json()["detail"]
        r = req(cloud, ada, "GET", home(ada, "/devices/light:cellar"))
        assert r.status_code == 404

        light.online = False
        r = req(cloud, ada, "POST", home(ada, f"/devices/{LIGHT}/actions/light.toggle"), json={})
        assert r.status_code == 409
        assert "offline" in r.json()["detail"]


async def test_a_device_that_never_answers_is_a_504_on_the_clock() -> None:
    clock = SimClock(START)
    light = Light()
    light.hang = True
    pending = asyncio.ensure_future(bounded(clock, light.call("light.toggle", {}), LIGHT))
    for _ in range(5):  # let it start, and its timer start
        await asyncio.sleep(0)
    await clock.run_for(ACTION_TIMEOUT_S - 1)
    assert not pending.done()
    await clock.run_for(1)
    with pytest.raises(HTTPException) as refused:
        await pending
    assert refused.value.status_code == 504


def test_who_sees_and_controls_what(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        dan = person(cloud, "dan@example.org", "Dan")  # drives Ada's car
        gus = person(cloud, "gus@example.org", "Gus")  # a guest of it
        max_ = person(cloud, "max@example.org", "Max")  # a member with no car role
        eve = person(cloud, "eve@example.org", "Eve")  # a stranger
        put_car(cloud, ada)
        give_role(cloud, ada, dan, "driver")
        give_role(cloud, ada, gus, "guest", valid_until_us=2**62)
        # Max: a member without a role for the car.
        with cloud.ctx.db.begin() as db:
            db.execute(
                insert(t.household_member).values(
                    household_id=ada.household_id, user_id=max_.user_id, joined_us=0
                )
            )
        cloud.ctx.homes.attach_device(ada.household_id, Light())

        def ids(who: Person) -> list[str]:
            return [d["id"] for d in req(cloud, who, "GET", home(ada, "/devices")).json()]

        assert ids(ada) == [f"car:{CAR}", LIGHT]
        assert ids(dan) == [f"car:{CAR}", LIGHT]
        assert ids(gus) == [f"car:{CAR}", LIGHT]
        assert ids(max_) == [LIGHT]  # no role for the car: it does not exist for him
        r = req(cloud, max_, "GET", home(ada, f"/devices/car:{CAR}"))
        assert r.status_code == 404
        for who in (dan, gus, max_):
            assert req(cloud, who, "GET", home(ada, f"/devices/{LIGHT}")).status_code == 200

        toggle = home(ada, f"/devices/{LIGHT}/actions/light.toggle")
        assert req(cloud, dan, "POST", toggle, json={}).status_code == 200
        for who in (gus, max_):
            r = req(cloud, who, "POST", toggle, json={})
            assert r.status_code == 403, r.text
            assert "owner and the drivers" in r.json()["detail"]
        # Strangers: nothing of the household exists.
        assert req(cloud, eve, "GET", home(ada, "/devices")).status_code == 404
        assert req(cloud, eve, "POST", toggle, json={}).status_code == 404
        assert req(cloud, eve, "GET", home(ada, f"/devices/{LIGHT}")).status_code == 404
