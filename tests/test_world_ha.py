"""Issue 7's acceptance test of the Home Assistant bridge: the demo world with ``mqtt_url`` set,
a private Mosquitto, and a test client that plays Home Assistant. Its lock commands reach the
real (simulated) car as signed commands through the cloud, and the car's report comes back on the
state topic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.core.config import MQTT_DEFAULT_PORT, Settings, load_settings, parse_mqtt_url
from smartev.core.errors import ConfigError
from smartev.demo_world import DEMO_VIN
from smartev.ecosystem.ha_components import slug
from tests.mqtt import MosquittoBroker
from tests.test_demo_world import WAIT_S, RunningWorld, enrollment_state, evening, running_world

CAR_NODE = f"car_{DEMO_VIN}"
DOOR = slug("Vehicle.Cabin.Door.Row1.DriverSide.IsLocked")


class HomeAssistant:
    """A test MQTT client subscribed like Home Assistant, keeping the last message per topic."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.last: dict[str, bytes] = {}

    async def wait_for(
        self, topic: str, check: Callable[[bytes], bool] = bool, *, live: bool = False
    ) -> bytes:
        """The first message on ``topic`` that passes ``check`` (``live``: one published from now
        on, not a retained copy)."""
        if not live and topic in self.last and check(self.last[topic]):
            return self.last[topic]
        async with asyncio.timeout(WAIT_S):
            async for message in self.client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                self.last[message.topic.value] = payload
                fresh = not (live and message.retain)
                if message.topic.value == topic and check(payload) and fresh:
                    return payload
        raise AssertionError("unreachable")

    async def car_state(self, check: Callable[[dict[str, object]], bool]) -> dict[str, object]:
        payload = await self.wait_for(f"smartev/{CAR_NODE}/state", lambda p: check(json.loads(p)))
        return dict(json.loads(payload))


@pytest.mark.mqtt
@pytest.mark.slow
async def test_home_assistant_finds_the_car_and_locks_it_through_the_cloud(
    mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    # the demo's own speed: the world gives the car's simulator a liveness timeout of about 3 s
    # of real time, so a busy event loop does not make its speed stale (which would make the car
    # refuse an unlock as unsafe while moving)
    settings = Settings(
        data_dir=tmp_path / "data",
        speed=60,
        clock_start=evening(),  # the car parked for the night: an unlock is never refused as unsafe
        mqtt_url=f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}",
    )
    async with (
        running_world(settings) as world,
        aiomqtt.Client(mqtt_broker.host, mqtt_broker.port, identifier="test-ha") as client,
    ):
        await client.subscribe("homeassistant/device/+/config", qos=1)
        await client.subscribe("smartev/#", qos=1)
        ha = HomeAssistant(client)
        assert await enrollment_state(world) == "executed"

        config = json.loads(await ha.wait_for(f"homeassistant/device/{CAR_NODE}/config"))
        assert config["dev"]["ids"] == [f"smartev_{CAR_NODE}"]
        assert config["dev"]["mf"] == "Xiaomi"
        assert config["dev"]["mdl"] == "Xiaomi SU7"
        assert config["o"]["name"] == "smartev"
        assert config["o"]["url"] == world.ready.url
        lock = config["cmps"]["lock"]
        assert lock["p"] == "lock"
        assert lock["command_topic"] == f"smartev/{CAR_NODE}/lock/set"
        assert config["availability_mode"] == "all"
        availability = {a["topic"] for a in config["availability"]}
        assert availability == {"smartev/bridge/availability", f"smartev/{CAR_NODE}/availability"}
        assert await ha.wait_for("smartev/bridge/availability") == b"online"
        assert await ha.wait_for(f"smartev/{CAR_NODE}/availability", b"online".__eq__)
        for node in ("light_hall", "wallbox_garage", "energy_meter_home"):
            await ha.wait_for(f"homeassistant/device/{node}/config")

        # The parked car is locked; Home Assistant unlocks it, then locks it again.
        await ha.car_state(lambda s: s.get(DOOR) is True)
        await client.publish(lock["command_topic"], "UNLOCK", qos=1)
        await ha.car_state(lambda s: s.get(DOOR) is False)
        await client.publish(lock["command_topic"], "LOCK", qos=1)
        await ha.car_state(lambda s: s.get(DOOR) is True)
        await assert_sent_by_the_service_key(world, ["door.unlock", "door.lock"])

        # Home Assistant restarted: it says so, and gets every discovery again.
        await client.publish("homeassistant/status", "online", qos=1)
        again = await ha.wait_for(f"homeassistant/device/{CAR_NODE}/config", live=True)
        assert json.loads(again)["cmps"]["lock"] == lock


async def assert_sent_by_the_service_key(world: RunningWorld, names: list[str]) -> None:
    """The commands went through the cloud's relay, from no person (the household's service
    key signs them), and the car executed them."""
    commands = await world.get(f"/api/v1/cars/{DEMO_VIN}/commands")
    sent = [c for c in reversed(commands) if c["name"] in names]
    assert [(c["name"], c["state"], c["requested_by"]) for c in sent] == [
        (name, "executed", None) for name in names
    ]


# --- the mqtt_url setting (SMARTEV_MQTT_URL / --mqtt) ---


def test_mqtt_url_takes_a_host_an_optional_port_and_credentials() -> None:
    assert parse_mqtt_url("mqtt://broker.local").port == MQTT_DEFAULT_PORT
    address = parse_mqtt_url("mqtt://ha:s%40cret@10.0.0.5:1884")
    assert (address.host, address.port, address.username, address.password) == (
        "10.0.0.5",
        1884,
        "ha",
        "s@cret",
    )
    assert "s@cret" not in repr(address)
    settings = load_settings(env={"SMARTEV_MQTT_URL": "mqtt://[::1]:1883"})
    assert settings.mqtt is not None
    assert settings.mqtt.host == "::1"
    assert load_settings(env={}).mqtt is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://broker:1883", "must start with mqtt://"),
        ("broker:1883", "must start with mqtt://"),
        ("mqtt://:1883", "no host"),
        ("mqtt://broker:99999", "bad port"),
        ("mqtt://broker:0", "1..65535"),
        ("mqtt://broker:1883/topic", "must not have a path"),
    ],
)
def test_a_bad_mqtt_url_is_refused_naming_the_setting_and_the_rule(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match="SMARTEV_MQTT_URL") as error:
        load_settings(env={"SMARTEV_MQTT_URL": url})
    assert reason in str(error.value)
    assert "mqtt://host:1883" in str(error.value)


@given(st.text(max_size=60))
def test_any_text_is_an_address_or_a_value_error(text: str) -> None:
    try:
        address = parse_mqtt_url(text)
    except ValueError:
        return
    assert address.host
    assert 1 <= address.port <= 65535
