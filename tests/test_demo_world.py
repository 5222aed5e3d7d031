"""The demo world as `smartev up` runs it, in this process on a real port, checked through the
HTTP API with the demo login: its household's devices, the car, the shipped automations and
scene, the service key enrolled in the car, and what a restart keeps."""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud.automation_key import ServiceKey
from smartev.core.config import Settings
from smartev.core.errors import ConfigError
from smartev.demo_files import DemoFiles, DemoState
from smartev.demo_setup import DEMO_EMAIL, enrolled_in_car
from smartev.demo_world import DEMO_VIN, DemoWorld
from smartev.ecosystem.shipped import AUTOMATIONS
from smartev.link.signing import key_id, public_key_bytes
from smartev.vehicle.keyring import Role
from smartev.vehicle.keyring_file import load_key_ring
from smartev.world import WorldReady, bind_listener, run_world

pytestmark = pytest.mark.slow

# A safety net for a broken world, not a timing assertion: each step takes well under a second.
WAIT_S = 60
HOME_DEVICES = {
    "light:hall",
    "light:living",
    "thermostat:living",
    "garage_door:main",
    "door_lock:front",
    "smart_plug:kettle",
    "wallbox:garage",
    "solar_inverter:roof",
    "home_battery:basement",
    "presence_sensor:hall",
    "energy_meter:home",
}


@dataclass
class RunningWorld:
    ready: WorldReady
    demo: DemoWorld
    api: httpx2.AsyncClient
    household_id: str

    async def get(self, path: str) -> Any:
        response = await self.api.get(path)
        assert response.status_code == 200, response.text
        return response.json()


@contextlib.asynccontextmanager
async def running_world(settings: Settings) -> AsyncIterator[RunningWorld]:
    """The world on a free loopback port until the block ends, logged in as the demo owner."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[WorldReady] = loop.create_future()
    started: asyncio.Future[DemoWorld] = loop.create_future()
    stop = asyncio.Event()
    with bind_listener("127.0.0.1", 0) as sock:
        world = asyncio.create_task(
            run_world(
                settings, sock, on_ready=ready.set_result, stop=stop, on_started=started.set_result
            )
        )
        try:
            waited: list[asyncio.Future[Any]] = [ready, world]
            async with asyncio.timeout(WAIT_S):
                await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
            if world.done():
                world.result()  # raises what stopped it
                pytest.fail("the world ended before it was ready")
            login = ready.result().demo.login
            assert login.password is not None
            async with httpx2.AsyncClient(base_url=ready.result().url, timeout=WAIT_S) as api:
                response = await api.post(
                    "/api/v1/auth/login", json={"email": login.email, "password": login.password}
                )
                assert response.status_code == 200, response.text
                api.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
                yield RunningWorld(
                    ready.result(), started.result(), api, ready.result().demo.household_id
                )
        finally:
            stop.set()
            async with asyncio.timeout(WAIT_S):
                await world


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", speed=60)


async def enrollment_state(world: RunningWorld) -> str | None:
    """The final state of the service key's enrollment in this run (None: not sent)."""
    task = world.demo.enrollment
    if task is None:
        return None
    async with asyncio.timeout(WAIT_S):
        record = await task
    return None if record is None else record.state


async def test_the_demo_household_has_its_home_its_car_and_the_shipped_automations(
    settings: Settings,
) -> None:
    async with running_world(settings) as world:
        assert world.ready.demo.login.email == DEMO_EMAIL == "demo@smartev.example"
        password = world.ready.demo.login.password
        assert password is not None
        assert len(password) >= 16
        me = await world.get("/api/v1/auth/me")
        owned = [h for h in me["households"] if h["role"] == "owner"]
        assert [h["id"] for h in owned] == [world.household_id]

        base = f"/api/v1/households/{world.household_id}"
        devices = {d["id"]: d for d in await world.get(f"{base}/devices")}
        assert set(devices) >= HOME_DEVICES
        assert f"car:{DEMO_VIN}" in devices
        assert devices[f"phone:{me['id']}"]["kind"] == "phone"

        automations = await world.get(f"{base}/automations")
        assert len(automations) == len(AUTOMATIONS)
        assert {a["alias"] for a in automations} == {
            "Arriving home",
            "Leaving home",
            "Pre-heat before departure",
            "Charge on cheap or solar power",
        }
        assert all(a["enabled"] and not a["problems"] for a in automations)
        scenes = await world.get(f"{base}/scenes")
        assert [(s["name"], s["problems"]) for s in scenes] == [("away", [])]
        fences = await world.get(f"{base}/geofences")
        assert [(g["name"], g["radius_m"]) for g in fences] == [("home", 150.0)]
        assert (await world.get(f"{base}/time-zone"))["time_zone"] == "Europe/Berlin"

        # The service key reached the car by the real path: an owner-signed key.enroll.
        assert await enrollment_state(world) == "executed"
        commands = await world.get(f"/api/v1/cars/{DEMO_VIN}/commands")
        enrolls = [c for c in commands if c["name"] == "key.enroll"]
        assert [c["state"] for c in enrolls] == ["executed"]
        assert enrolls[0]["args"]["role"] == "service"
        assert enrolls[0]["args"]["label"] == "automations"
        assert enrolls[0]["requested_by"] == me["id"]

    password_file = settings.data_dir / "demo" / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password_file.read_text().strip() == password
    key_file = settings.data_dir / "demo" / "owner-device-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def test_a_restart_keeps_the_login_and_adds_nothing_twice(settings: Settings) -> None:
    async with running_world(settings) as world:
        password = world.ready.demo.login.password
        base = f"/api/v1/households/{world.household_id}"
        assert await enrollment_state(world) == "executed"
        automations = await world.get(f"{base}/automations")
        preheat = next(a for a in automations if a["alias"] == "Pre-heat before departure")
        response = await world.api.delete(f"{base}/automations/{preheat['id']}")
        assert response.status_code == 204, response.text

    async with running_world(settings) as again:
        assert again.ready.demo.login.password == password
        assert again.household_id == world.household_id
        automations = await again.get(f"{base}/automations")
        # The deleted one stays deleted, the others are there once.
        assert sorted(a["alias"] for a in automations) == [
            "Arriving home",
            "Charge on cheap or solar power",
            "Leaving home",
        ]
        assert len(await again.get(f"{base}/scenes")) == 1
        assert len(await again.get(f"{base}/geofences")) == 1
        # Enrolled once: the restart does not send key.enroll again.
        assert await enrollment_state(again) is None
        commands = await again.get(f"/api/v1/cars/{DEMO_VIN}/commands")
        assert [c["name"] for c in commands].count("key.enroll") == 1
        devices = {d["id"] for d in await again.get(f"{base}/devices")}
        assert f"car:{DEMO_VIN}" in devices


def test_the_demo_state_survives_a_round_trip_and_a_damaged_file_is_named(
    tmp_path: Path,
) -> None:
    files = DemoFiles(tmp_path)
    assert files.state() == DemoState()
    files.remember(done="scene:away")
    files.remember(enrolled_key="abc")
    assert files.state() == DemoState(frozenset({"scene:away"}), frozenset({"abc"}))
    assert files.new_password() == files.new_password()  # made once, then kept
    assert public_key_bytes(files.owner_key()) == public_key_bytes(files.owner_key())
    (tmp_path / "demo" / "state.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"state\.json is damaged"):
        files.state()


def test_a_service_key_found_in_the_cars_key_ring_counts_as_enrolled(tmp_path: Path) -> None:
    # A start that enrolled the key but stopped before remembering it must not enroll it again:
    # the car refuses a key it holds already.
    public = public_key_bytes(Ed25519PrivateKey.generate())
    service_key = ServiceKey(key_id(public), "hh_1", public, 0, "usr_1", 1)
    assert not enrolled_in_car(tmp_path, service_key)
    load_key_ring(tmp_path).add(
        public_key=public,
        role=Role.SERVICE,
        label="automations",
        valid_from_us=0,
        valid_until_us=None,
        enrolled_by="0123456789abcdef",  # the owner key that signed the enrollment
        now_us=1,
    )
    assert enrolled_in_car(tmp_path, service_key)
    load_key_ring(tmp_path).revoke(service_key.key_id, revoked_by="0123456789abcdef", now_us=2)
    assert not enrolled_in_car(tmp_path, service_key)
