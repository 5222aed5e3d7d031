"""The demo world as `smartev up` runs it, in this process on a real port, checked through the
HTTP API with the demo logins: its household's devices, the car, the shipped automations and
scene, the service key enrolled in the car, the family member with the role guest whose browser
key the owner's phone enrolls, what a restart keeps (the world's clock too), and `--reset`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud.access import CarRole
from smartev.cloud.automation_key import ServiceKey
from smartev.core.config import Settings
from smartev.core.errors import ConfigError
from smartev.demo_files import DemoFiles, DemoState
from smartev.demo_setup import DEMO_EMAIL, FAMILY_EMAIL, enrolled_in_car
from smartev.demo_world import DEMO_VIN, DemoLogin, DemoWorld, world_start
from smartev.ecosystem.shipped import AUTOMATIONS
from smartev.link.signing import (
    KeyAlgorithm,
    PrivateKey,
    encode_envelope,
    generate_key,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)
from smartev.vehicle.keyring import Role
from smartev.vehicle.keyring_file import load_key_ring
from smartev.world import WorldReady, bind_listener, reset_data_dir, run_world

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
            async with logged_in(ready.result().url, ready.result().demo.login) as api:
                yield RunningWorld(
                    ready.result(), started.result(), api, ready.result().demo.household_id
                )
        finally:
            stop.set()
            async with asyncio.timeout(WAIT_S):
                await world


@contextlib.asynccontextmanager
async def logged_in(url: str, login: DemoLogin) -> AsyncIterator[httpx2.AsyncClient]:
    """An API client of the world at ``url`` logged in as ``login``."""
    assert login.password is not None
    async with httpx2.AsyncClient(base_url=url, timeout=WAIT_S) as api:
        response = await api.post(
            "/api/v1/auth/login", json={"email": login.email, "password": login.password}
        )
        assert response.status_code == 200, response.text
        api.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        yield api


BERLIN = ZoneInfo("Europe/Berlin")


def evening() -> datetime:
    """20:00 today in the household's time zone: the car is home for the night, plugged in,
    and leaves no sooner than 07:40, more than ten real minutes away at 60x."""
    return datetime.combine(datetime.now(BERLIN).date(), datetime.min.time(), BERLIN).replace(
        hour=20
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", speed=60, clock_start=evening())


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
    assert files.new_password("family") != files.password()  # each account its own
    assert files.password("family") == files.new_password("family")
    files.save_progress(world_time_us=1_780_000_000_000_000, car_leg="to_work")
    files.remember(done="member:family")
    state = files.state()
    assert (state.world_time_us, state.car_leg) == (1_780_000_000_000_000, "to_work")
    assert state.done == {"scene:away", "member:family"}
    files.save_progress(world_time_us=1_780_000_000_000_001, car_leg=None)
    assert files.state().car_leg is None
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


async def until(check: Any, what: str) -> Any:
    """Ask ``check()`` (a coroutine) again until it returns something true: the world runs on
    its own clocks in this process, the test waits for what it does."""
    async with asyncio.timeout(WAIT_S):
        while not (result := await check()):  # noqa: ASYNC110 - answers come over HTTP
            await asyncio.sleep(0.05)
    assert result, what
    return result


async def send_signed(
    api: httpx2.AsyncClient, key: PrivateKey, name: str, args: dict[str, Any] | None = None
) -> httpx2.Response:
    """Sign ``name`` for the demo car with ``key`` as a browser does (the command session gives
    the car's epoch, clock and the key's last counter) and post it."""
    kid = key_id(public_key_bytes(key))
    response = await api.get(f"/api/v1/cars/{DEMO_VIN}/command-session", params={"key_id": kid})
    assert response.status_code == 200, response.text
    session = response.json()
    asked = time.monotonic()
    assert session["online"]
    car_now_us = session["car_time_us"] + int(
        (time.monotonic() - asked) * session["clock_speed"] * 1e6
    )
    command = make_command(
        car_id=DEMO_VIN,
        name=name,
        args=args or {},
        epoch=bytes.fromhex(session["epoch"]),
        counter=session["last_counter"] + 1,
        key_id=kid,
        now_us=car_now_us,
        ttl_s=session["max_ttl_s"],
    )
    envelope = base64.b64encode(encode_envelope(sign_command(key, command))).decode()
    return await api.post(f"/api/v1/cars/{DEMO_VIN}/commands", json={"envelope": envelope})


FINAL = {"executed", "rejected", "failed", "expired"}


async def test_the_family_member_is_a_guest_and_the_owners_phone_enrolls_their_browser_key(
    settings: Settings,
) -> None:
    async with running_world(settings) as world:
        demo = world.ready.demo
        assert demo.family.email == FAMILY_EMAIL == "family@smartev.example"
        assert demo.family.password is not None
        assert len(demo.family.password) >= 16
        assert demo.family.password != demo.login.password
        assert demo.family_role is CarRole.GUEST
        password_file = settings.data_dir / "demo" / "family-password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600

        # The owner sees the member in the household, a guest of the car for a year.
        household = await world.get(f"/api/v1/households/{world.household_id}")
        member = next(m for m in household["members"] if m["email"] == FAMILY_EMAIL)
        assert member["role"] == "member"
        [car_role] = member["cars"]
        assert (car_role["car_id"], car_role["role"]) == (DEMO_VIN, "guest")
        window = datetime.fromisoformat(car_role["valid_until"]) - datetime.fromisoformat(
            car_role["valid_from"]
        )
        assert window.days == 365
        assert settings.clock_start is not None
        assert datetime.fromisoformat(car_role["valid_from"]) >= settings.clock_start

        async with logged_in(world.ready.url, demo.family) as api:
            cars = (await api.get("/api/v1/cars")).json()
            assert [(c["car_id"], c["role"]) for c in cars] == [(DEMO_VIN, "guest")]
            assert "trunk.open" not in cars[0]["commands"]

            # The family member's browser registers its key; the owner's phone enrolls it.
            browser = generate_key(KeyAlgorithm.P256)
            response = await api.post(
                "/api/v1/me/device-keys",
                json={
                    "public_key": public_key_bytes(browser).hex(),
                    "label": "Family's browser",
                },
            )
            assert response.status_code == 201, response.text
            kid = response.json()["key_id"]

            async def enrolled() -> bool:
                keys = (await api.get("/api/v1/me/device-keys")).json()
                [key] = [k for k in keys if k["key_id"] == kid]
                return [(c["car_id"], c["state"]) for c in key["cars"]] == [(DEMO_VIN, "enrolled")]

            # The owner's own browser registers one too: it is enrolled as an owner key.
            owners_browser = generate_key(KeyAlgorithm.P256)
            response = await world.api.post(
                "/api/v1/me/device-keys",
                json={
                    "public_key": public_key_bytes(owners_browser).hex(),
                    "label": "Owner's browser",
                },
            )
            assert response.status_code == 201, response.text

            await until(enrolled, "the family member's key enrolled on the car")
            enrolls = [
                c
                for c in await world.get(f"/api/v1/cars/{DEMO_VIN}/commands")
                if c["name"] == "key.enroll" and c["args"]["role"] == "guest"
            ]
            assert [c["state"] for c in enrolls] == ["executed"]
            assert enrolls[0]["requested_by"] == (await world.get("/api/v1/auth/me"))["id"]
            ring_key = load_key_ring(settings.data_dir / "car").get(kid)
            assert ring_key is not None
            assert ring_key.role is Role.GUEST
            assert ring_key.valid_until_us is not None

            async def owners_enrolled() -> bool:
                keys = (await world.api.get("/api/v1/me/device-keys")).json()
                states = [c["state"] for k in keys for c in k["cars"]]
                return states == ["enrolled"]

            await until(owners_enrolled, "the owner's browser key enrolled on the car")
            owner_key = load_key_ring(settings.data_dir / "car").get(
                key_id(public_key_bytes(owners_browser))
            )
            assert owner_key is not None
            assert owner_key.role is Role.OWNER

            # A command the browser signs is executed by the car...
            response = await send_signed(api, browser, "door.unlock")
            assert response.status_code == 202, response.text
            command_id = response.json()["id"]

            async def final() -> Any:
                response = await api.get(f"/api/v1/cars/{DEMO_VIN}/commands/{command_id}")
                body = response.json()
                return body if body["state"] in FINAL else None

            assert (await until(final, "door.unlock done"))["state"] == "executed"

            # ...but not one a guest may not send: the cloud refuses it, and so does the car.
            response = await send_signed(api, browser, "trunk.open")
            assert response.status_code == 403, response.text
            assert "guest" in response.json()["detail"]

        kid_bytes = key_id(public_key_bytes(browser))
        session = demo_session(world.demo, kid_bytes)
        command = make_command(
            car_id=DEMO_VIN,
            name="trunk.open",
            epoch=session[0],
            counter=session[1] + 10,
            key_id=kid_bytes,
            now_us=session[2],
            ttl_s=60,
        )
        ctx = world.demo.ctx
        submitted = await asyncio.to_thread(
            ctx.commands.submit,
            DEMO_VIN,
            encode_envelope(sign_command(browser, command)),
            user_id=world.demo.family.user_id,
        )
        async with asyncio.timeout(WAIT_S):
            record = await ctx.commands.wait_final(submitted.command_id)
        assert (record.state, record.states[-1].reason) == ("rejected", "not_permitted")

        # The owner takes the guest role back: the owner's phone revokes the key on the car too
        # (the cloud already refuses the member; now the car does as well).
        response = await world.api.delete(
            f"/api/v1/households/{world.household_id}/cars/{DEMO_VIN}/grants/"
            f"{world.demo.family.user_id}"
        )
        assert response.status_code == 204, response.text

        async def revoked_on_car() -> bool:
            ring_key = load_key_ring(settings.data_dir / "car").get(kid)
            return ring_key is not None and ring_key.revoked

        await until(revoked_on_car, "the former guest's key revoked on the car")

        async def revokes() -> list[tuple[str, str]]:
            commands = await world.get(f"/api/v1/cars/{DEMO_VIN}/commands")
            return [
                (c["args"]["key_id"], c["state"]) for c in commands if c["name"] == "key.revoke"
            ]

        # The car's ring changes before its report reaches the cloud: wait for the report.
        async def reported() -> bool:
            return all(state in FINAL for _, state in await revokes())

        await until(reported, "the car's report on the key.revoke")
        assert await revokes() == [(kid, "executed")]

        # The owner deletes their browser's key in the cloud: it goes from the car too.
        owners_kid = key_id(public_key_bytes(owners_browser))
        response = await world.api.delete(f"/api/v1/me/device-keys/{owners_kid}")
        assert response.status_code == 204, response.text

        async def owners_revoked() -> bool:
            ring_key = load_key_ring(settings.data_dir / "car").get(owners_kid)
            return ring_key is not None and ring_key.revoked

        await until(owners_revoked, "the owner's deleted browser key revoked on the car")


def demo_session(demo: DemoWorld, kid: str) -> tuple[bytes, int, int]:
    """The car's epoch, the key's last counter and the car's time, from the cloud itself."""
    from smartev.cloud.device_keys import last_counter

    ctx = demo.ctx
    epoch = ctx.homes.links.epoch(DEMO_VIN)
    assert epoch is not None
    return epoch, last_counter(ctx.db, DEMO_VIN, kid), int(ctx.clock.timestamp() * 1e6)


async def test_a_restart_goes_on_from_the_worlds_time_and_reset_starts_afresh(
    settings: Settings,
) -> None:
    assert settings.clock_start is not None
    async with running_world(settings) as world:
        password = world.ready.demo.login.password
        assert world.demo.ctx.clock.now() >= settings.clock_start
        car = world.demo.day
        assert car is not None
        assert car.cable.plugged  # home for the night
    saved = DemoFiles(settings.data_dir).state().world_time_us
    assert saved is not None
    assert saved / 1e6 > settings.clock_start.timestamp()

    # The same --start again: the world goes on from where it stopped, not from there.
    async with running_world(settings) as again:
        assert again.ready.demo.login.password == password
        assert again.demo.ctx.clock.timestamp() >= saved / 1e6

    mine = settings.data_dir / "notes.txt"
    mine.write_text("not smartev's")
    removed = reset_data_dir(settings.data_dir)
    assert {p.name for p in removed} == {
        ".smartev-data",
        "car",
        "cars",
        "cloud.db",
        "demo",
        "secret.key",
    } | {p.name for p in removed if p.name.startswith("cloud.db-")}
    assert [p.name for p in settings.data_dir.iterdir()] == ["notes.txt"]

    # A new world: its clock starts where a first start does, not where the old one stopped.
    assert world_start(settings, datetime.now(UTC)) == settings.clock_start
    async with running_world(settings) as fresh:
        assert fresh.ready.demo.login.password != password


def test_reset_refuses_a_directory_that_is_not_smartevs(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"\xff\xd8")
    (photos / "demo").mkdir()  # a name smartev uses, in somebody else's directory
    with pytest.raises(ConfigError, match="does not look like a smartev data directory"):
        reset_data_dir(photos)
    assert sorted(p.name for p in photos.iterdir()) == ["cat.jpg", "demo"]
    # Nothing there, or an empty directory: nothing to do.
    assert reset_data_dir(tmp_path / "missing") == []
    (tmp_path / "empty").mkdir()
    assert reset_data_dir(tmp_path / "empty") == []
    with pytest.raises(ConfigError, match="database_url"):
        reset_data_dir(photos, database_url="postgresql://db/smartev")


def test_a_new_world_starts_at_seven_in_the_morning_unless_told(tmp_path: Path) -> None:
    now = datetime(2026, 6, 2, 14, 30, tzinfo=UTC)
    fresh = Settings(data_dir=tmp_path / "fresh")
    assert world_start(fresh, now) == datetime(2026, 6, 2, 7, 0, tzinfo=BERLIN)
    told = datetime(2026, 6, 1, 17, 0, tzinfo=BERLIN)
    assert world_start(fresh.model_copy(update={"clock_start": told}), now) == told
    # A world that ran goes on from its saved time; only a later start jumps ahead.
    files = DemoFiles(tmp_path / "fresh")
    files.save_progress(world_time_us=int(told.timestamp() * 1e6) + 5_000_000, car_leg=None)
    assert world_start(fresh, now).timestamp() == told.timestamp() + 5
    assert world_start(fresh.model_copy(update={"clock_start": told}), now).timestamp() == (
        told.timestamp() + 5
    )
    later = datetime(2026, 6, 3, 7, 0, tzinfo=BERLIN)
    assert world_start(fresh.model_copy(update={"clock_start": later}), now) == later
