"""The Home Assistant bridge against a real Mosquitto: a test client plays Home Assistant."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime

import aiomqtt
import pytest

from smartev.cloud.car_device import car_action_specs
from smartev.core.clock import SimClock
from smartev.ecosystem.ha_bridge import HomeAssistantBridge
from smartev.ecosystem.ha_components import slug
from smartev.ecosystem.ha_discovery import DeviceInfo
from smartev.ecosystem.registry import DeviceRegistry
from smartev.sim.home import SimPhone, default_home
from smartev.spec.car_device import car_spec
from smartev.spec.catalog import shipped_catalog
from smartev.spec.devices import DeviceActionError, DeviceSink, DeviceSpec, Scalar
from tests.mqtt import MosquittoBroker

pytestmark = pytest.mark.mqtt

START = datetime(2025, 6, 1, 12, tzinfo=UTC)
VIN = "LSJWH4097PN000001"
CAR = f"car:{VIN}"
CAR_NODE = f"car_{VIN}"
# A safety net for a broken bridge, not a timing assertion: messages on loopback take ms.
WAIT_S = 15
DOORS = [
    f"Vehicle.Cabin.Door.Row{r}.{s}.IsLocked"
    for r in (1, 2)
    for s in ("DriverSide", "PassengerSide")
]
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
CHARGE_LIMIT = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"


class CarDriver:
    """The car as the cloud shows it to the registry, reduced to what these tests need: its
    commands take effect at once, as the car reports the new values."""

    def __init__(self) -> None:
        self._spec = car_spec(shipped_catalog(), car_action_specs())
        self._values: dict[str, Scalar] = {door: False for door in DOORS}
        self._values |= {SOC: 64.5, "Vehicle.TraveledDistance": 12_345_000}
        self._sink: DeviceSink | None = None
        self.calls: list[tuple[str, dict[str, Scalar]]] = []

    device_id = CAR
    name = "Family car"
    online = True

    @property
    def spec(self) -> DeviceSpec:
        return self._spec

    def values(self) -> Mapping[str, Scalar]:
        return dict(self._values)

    def attach(self, sink: DeviceSink) -> None:
        self._sink = sink

    def set(self, ref: str, value: Scalar) -> None:
        self._values[ref] = value
        assert self._sink is not None
        self._sink.property_changed(CAR, ref, value)

    async def call(self, ref: str, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self.calls.append((ref, dict(args)))
        if ref in ("door.lock", "door.unlock"):
            for door in DOORS:
                self.set(door, ref == "door.lock")
        elif ref == "charge_limit.set":
            self.set(CHARGE_LIMIT, args["percent"])
        return {}

    async def write(self, ref: str, value: Scalar) -> None:
        raise DeviceActionError(f"the car takes commands, not writes ({ref})")


class HomeAssistant:
    """A test MQTT client subscribed like Home Assistant, keeping the last message per topic."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.last: dict[str, bytes] = {}
        self.live: list[str] = []  # topics of messages that were not retained

    async def wait_for(
        self, topic: str, check: Callable[[bytes], bool] = lambda _: True, *, live: bool = False
    ) -> bytes:
        if not live and topic in self.last and check(self.last[topic]):
            return self.last[topic]
        async with asyncio.timeout(WAIT_S):
            async for message in self.client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                name = message.topic.value
                self.last[name] = payload
                if not message.retain:
                    self.live.append(name)
                if name == topic and check(payload) and (message.retain is False or not live):
                    return payload
        raise AssertionError("unreachable")

    async def config(self, node_id: str) -> dict[str, object]:
        payload = await self.wait_for(f"homeassistant/device/{node_id}/config", bool)
        return dict(json.loads(payload))

    async def state(
        self, node_id: str, check: Callable[[dict[str, object]], bool]
    ) -> dict[str, object]:
        payload = await self.wait_for(f"smartev/{node_id}/state", lambda p: check(json.loads(p)))
        return dict(json.loads(payload))

    async def send(self, topic: str, payload: str | bytes) -> None:
        await self.client.publish(topic, payload, qos=1)


@contextlib.asynccontextmanager
async def home_assistant(broker: MosquittoBroker) -> AsyncIterator[HomeAssistant]:
    async with aiomqtt.Client(broker.host, broker.port, identifier="test-home-assistant") as c:
        await c.subscribe("homeassistant/device/+/config", qos=1)
        await c.subscribe("smartev/#", qos=1)
        yield HomeAssistant(c)


class Household:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.home = default_home(clock, 48.14, 11.58)
        self.registry = DeviceRegistry(clock)
        for driver in self.home.drivers():
            self.registry.add(driver)
        self.phone = SimPhone("alice", clock=clock, latitude=48.15, longitude=11.57)
        self.registry.add(self.phone)
        self.car = CarDriver()
        self.registry.add(self.car)


@contextlib.asynccontextmanager
async def running_bridge(
    broker: MosquittoBroker, household: Household
) -> AsyncIterator[HomeAssistantBridge]:
    bridge = HomeAssistantBridge(
        household.registry,
        host=broker.host,
        port=broker.port,
        clock=household.clock,
        device_info=lambda d: DeviceInfo(model="EV 1") if d == CAR else DeviceInfo(),
    )
    task = asyncio.create_task(bridge.run())
    try:
        async with asyncio.timeout(WAIT_S):
            await bridge.wait_connected()
        yield bridge
    finally:
        await bridge.stop()
        await task  # run() ends quietly after stop()


@pytest.fixture
def household() -> Household:
    return Household(SimClock(START))


async def test_discovery_state_and_availability_of_the_home_and_the_car(
    mqtt_broker: MosquittoBroker, household: Household
) -> None:
    async with home_assistant(mqtt_broker) as ha, running_bridge(mqtt_broker, household):
        assert await ha.wait_for("smartev/bridge/availability") == b"online"
        for device_id in household.registry.ids():
            node = device_id.replace(":", "_")
            config = await ha.config(node)
            assert config["availability_mode"] == "all"
            assert await ha.wait_for(f"smartev/{node}/availability") == b"online"
        light = await ha.config("light_hall")
        assert light["dev"] == {
            "ids": ["smartev_light_hall"],
            "name": "Hall light",
            "mf": "smartev",
            "mdl": "light",
        }
        origin = light["o"]
        assert isinstance(origin, dict)
        assert origin["name"] == "smartev"
        cover = await ha.config("garage_door_main")
        assert cover["cmps"]["cover"]["device_class"] == "garage"  # type: ignore[index]
        car = await ha.config(CAR_NODE)
        assert car["dev"]["mdl"] == "EV 1"  # type: ignore[index]
        components = car["cmps"]
        assert isinstance(components, dict)
        assert components["lock"]["command_topic"] == f"smartev/{CAR_NODE}/lock/set"
        assert components["odometer"]["state_class"] == "total_increasing"
        state = await ha.state(CAR_NODE, lambda s: True)
        assert state[slug(SOC)] == 64.5
        assert state[slug(DOORS[0])] is False
        assert state[slug("Vehicle.Speed")] is None  # not known yet
        plug = await ha.state("smart_plug_kettle", lambda s: True)
        assert plug["switch_on"] is False


async def test_commands_reach_the_devices_and_come_back_as_state(
    mqtt_broker: MosquittoBroker, household: Household
) -> None:
    async with home_assistant(mqtt_broker) as ha, running_bridge(mqtt_broker, household):
        await ha.state(CAR_NODE, lambda s: s[slug(DOORS[0])] is False)
        await ha.send(f"smartev/{CAR_NODE}/lock/set", "LOCK")
        await ha.state(CAR_NODE, lambda s: s[slug(DOORS[0])] is True)
        assert all(household.registry.value(CAR, door) is True for door in DOORS)
        assert household.car.calls == [("door.lock", {})]

        await ha.send(f"smartev/{CAR_NODE}/charge_limit/set", "80")
        await ha.state(CAR_NODE, lambda s: s[slug(CHARGE_LIMIT)] == 80)

        await ha.send("smartev/light_hall/light_brightness/set", "35")
        state = await ha.state("light_hall", lambda s: s["light_on"] is True)
        assert state["light_brightness"] == 35
        await ha.send("smartev/light_hall/light/set", "OFF")
        await ha.state("light_hall", lambda s: s["light_on"] is False)

        await ha.send("smartev/thermostat_living/climate_temperature/set", "23.5")
        await ha.state("thermostat_living", lambda s: s["thermostat_target_temperature"] == 23.5)
        await ha.send("smartev/smart_plug_kettle/switch_on/set", "ON")
        await ha.state("smart_plug_kettle", lambda s: s["switch_on"] is True)


async def test_garbage_is_ignored_with_a_reason_and_the_bridge_goes_on(
    mqtt_broker: MosquittoBroker, household: Household, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smartev.ecosystem.ha_bridge")
    async with home_assistant(mqtt_broker) as ha:
        # A stale retained command is not executed when the bridge subscribes: replayed at every
        # reconnect, a retained UNLOCK would open the car again and again.
        await ha.client.publish(f"smartev/{CAR_NODE}/lock/set", "LOCK", qos=1, retain=True)
        async with running_bridge(mqtt_broker, household) as bridge:
            await ha.state(CAR_NODE, lambda s: True)
            for topic, payload in [
                (f"smartev/{CAR_NODE}/lock/set", "OPEN SESAME"),
                (f"smartev/{CAR_NODE}/lock/set", b"\xff\xfe"),
                (f"smartev/{CAR_NODE}/lock/set", "LOCK" * 100),
                (f"smartev/{CAR_NODE}/nothing/set", "ON"),
                ("smartev/car_NOSUCHCAR/lock/set", "LOCK"),
                (f"smartev/{CAR_NODE}/charge_limit/set", "120"),  # out of range
                (f"smartev/{CAR_NODE}/charge_limit/set", "eighty"),
                ("smartev/thermostat_living/climate_mode/set", "dry"),
                ("smartev/thermostat_living/climate_temperature/set", "99"),
            ]:
                await ha.send(topic, payload)
            # A good command after the garbage still works, and was handled after it.
            await ha.send("smartev/light_hall/light/set", "ON")
            await ha.state("light_hall", lambda s: s["light_on"] is True)
            await ha.send("smartev/light_hall/light/set", "OFF")
            await ha.state("light_hall", lambda s: s["light_on"] is False)
            assert household.car.calls == []
            assert household.registry.value("thermostat:living", "thermostat.mode") == "heat"
            assert bridge.connected
        await ha.client.publish(f"smartev/{CAR_NODE}/lock/set", b"", qos=1, retain=True)
    reasons = "\n".join(r.getMessage() for r in caplog.records)
    assert "'OPEN SESAME' is not one of: LOCK, UNLOCK" in reasons
    assert "UTF-8 text" in reasons
    assert "has no command 'nothing'" in reasons
    assert "no device has this command topic" in reasons
    assert "invalid value 120" in reasons
    assert "'eighty' is not a number" in reasons
    assert "retained command" in reasons
    assert "invalid value 99.0" in reasons


async def test_changes_are_coalesced_into_one_state_message(
    mqtt_broker: MosquittoBroker, household: Household
) -> None:
    async with home_assistant(mqtt_broker) as ha, running_bridge(mqtt_broker, household):
        await ha.state(CAR_NODE, lambda s: True)
        ha.live.clear()
        for soc in range(50):  # all before the loop runs again: one state message carries them
            household.car.set(SOC, 10.0 + soc)
        await ha.state(CAR_NODE, lambda s: s[slug(SOC)] == 59.0)
        assert ha.live.count(f"smartev/{CAR_NODE}/state") == 1


async def test_availability_follows_the_device(
    mqtt_broker: MosquittoBroker, household: Household
) -> None:
    lock = household.home.device("door_lock:front")
    async with home_assistant(mqtt_broker) as ha, running_bridge(mqtt_broker, household):
        topic = "smartev/door_lock_front/availability"
        await ha.wait_for(topic, lambda p: p == b"online")
        lock.set_online(False)
        await ha.wait_for(topic, lambda p: p == b"offline")
        lock.set_online(True)
        await ha.wait_for(topic, lambda p: p == b"online")
    # stop() says the bridge is gone
    async with home_assistant(mqtt_broker) as ha:
        assert await ha.wait_for("smartev/bridge/availability") == b"offline"


async def test_home_assistant_online_republishes_everything(
    mqtt_broker: MosquittoBroker, household: Household
) -> None:
    async with home_assistant(mqtt_broker) as ha, running_bridge(mqtt_broker, household):
        await ha.config(CAR_NODE)
        await ha.send("homeassistant/status", "online")
        config = await ha.wait_for(f"homeassistant/device/{CAR_NODE}/config", live=True)
        assert json.loads(config)["dev"]["name"] == "Family car"
        await ha.wait_for(f"smartev/{CAR_NODE}/state", live=True)
        await ha.wait_for("homeassistant/device/light_hall/config", live=True)


async def test_devices_added_and_removed_later(
    mqtt_broker: MosquittoBroker, household: Household
) -> None:
    async with home_assistant(mqtt_broker) as ha, running_bridge(mqtt_broker, household):
        await ha.config(CAR_NODE)
        bob = SimPhone("bob", clock=household.clock, latitude=48.0, longitude=11.0)
        household.registry.add(bob)  # the bridge hears of it from the registry
        config = await ha.config("phone_bob")
        assert config["cmps"]["tracker"]["p"] == "device_tracker"  # type: ignore[index]
        state = await ha.state("phone_bob", lambda s: True)
        assert state["location_latitude"] == 48.0

        household.registry.remove(CAR)
        await ha.wait_for(f"homeassistant/device/{CAR_NODE}/config", lambda p: p == b"")
        await ha.send(f"smartev/{CAR_NODE}/lock/set", "LOCK")
        await ha.send("smartev/light_hall/light/set", "ON")
        await ha.state("light_hall", lambda s: s["light_on"] is True)
        assert household.car.calls == []
    async with home_assistant(mqtt_broker) as ha:
        # Gone for a Home Assistant that connects later, too (nothing retained for the car).
        await ha.config("phone_bob")
        assert f"homeassistant/device/{CAR_NODE}/config" not in ha.last


async def test_the_bridge_reconnects_and_republishes_after_a_broker_restart(
    mqtt_broker: MosquittoBroker,
) -> None:
    # The backoff sleeps on this clock: 100 times faster than real time, so retries come quickly.
    household = Household(SimClock(START, speed=100))
    async with running_bridge(mqtt_broker, household) as bridge:
        async with home_assistant(mqtt_broker) as ha:
            await ha.config(CAR_NODE)
        mqtt_broker.stop()  # killed: the broker forgets every retained message
        mqtt_broker.start()
        async with home_assistant(mqtt_broker) as ha:
            config = await ha.config(CAR_NODE)
            assert config["dev"]["name"] == "Family car"  # type: ignore[index]
            assert await ha.wait_for("smartev/bridge/availability") == b"online"
            async with asyncio.timeout(WAIT_S):
                await bridge.wait_connected()
            await ha.send(f"smartev/{CAR_NODE}/lock/set", "LOCK")
            await ha.state(CAR_NODE, lambda s: s[slug(DOORS[0])] is True)


async def test_the_bridge_waits_for_a_broker_that_is_not_there_yet(
    mqtt_broker: MosquittoBroker,
) -> None:
    household = Household(SimClock(START, speed=100))
    mqtt_broker.stop()
    bridge = HomeAssistantBridge(
        household.registry, host=mqtt_broker.host, port=mqtt_broker.port, clock=household.clock
    )
    task = asyncio.create_task(bridge.run())
    try:
        await household.clock.run_for(0)
        assert not bridge.connected
        mqtt_broker.start()
        async with asyncio.timeout(WAIT_S):
            await bridge.wait_connected()
        async with home_assistant(mqtt_broker) as ha:
            await ha.config("light_hall")
    finally:
        await bridge.stop()
        await task


def test_bad_settings_are_refused_at_once(household: Household) -> None:
    with pytest.raises(ValueError, match="port 0 must be 1..65535"):
        HomeAssistantBridge(household.registry, host="x", port=0, clock=household.clock)
    with pytest.raises(ValueError, match="base_topic 'a/b' must be one non-empty topic level"):
        HomeAssistantBridge(household.registry, host="x", base_topic="a/b", clock=household.clock)
