"""The Home Assistant MQTT bridge: publishes the registry's devices with device discovery, keeps
their state and availability current, and turns Home Assistant's commands into registry calls.

The topic layout and payloads are :mod:`smartev.ecosystem.ha_discovery`'s; this module does the
I/O (aiomqtt): one connection at a time, reconnected with backoff, everything republished after
each connect and whenever Home Assistant announces ``online`` on its status topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import aiomqtt

from smartev import __version__
from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError, SmartevError
from smartev.ecosystem.errors import RejectedCommandError
from smartev.ecosystem.ha_commands import parse_command
from smartev.ecosystem.ha_components import Call, Request, Topics
from smartev.ecosystem.ha_discovery import (
    OFFLINE,
    ONLINE,
    DeviceInfo,
    Discovery,
    discover,
    node_id_of,
    state_payload,
)
from smartev.ecosystem.registry import (
    AvailabilityChange,
    DeviceListChange,
    DeviceRegistry,
    Happening,
    PropertyChange,
)

log = logging.getLogger(__name__)

# At most one state message per device this often (real loop time): a charging car changes a
# dozen values a second, Home Assistant needs the latest of them, not each one.
STATE_INTERVAL_S: Final = 0.1
BACKOFF_MIN_S: Final = 1.0
BACKOFF_MAX_S: Final = 30.0
MAX_COMMAND_BYTES: Final = 256


class _JobKind(StrEnum):
    STATE = "state"
    AVAILABILITY = "availability"
    DEVICE = "device"  # discovery, availability and state of one device
    REMOVED = "removed"
    EVERYTHING = "everything"


@dataclass(frozen=True, slots=True)
class _Job:
    kind: _JobKind
    device_id: str = ""


class HomeAssistantBridge:
    """Bridges ``registry`` to Home Assistant through the MQTT broker at ``host``:``port``.

    Run it with ``await bridge.run()`` (in a task) and end it with ``await bridge.stop()``.
    The registry tells the bridge about changes, not about devices added or removed later: call
    :meth:`device_added` / :meth:`device_removed` for those.
    """

    def __init__(
        self,
        registry: DeviceRegistry,
        *,
        host: str,
        port: int = 1883,
        clock: Clock,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        discovery_prefix: str = "homeassistant",
        base_topic: str = "smartev",
        device_info: Callable[[str], DeviceInfo] | None = None,
        origin_url: str | None = None,
    ) -> None:
        if not 0 < port < 65536:
            raise InvalidInputError(f"MQTT port {port} must be 1..65535")
        for what, topic in (("discovery_prefix", discovery_prefix), ("base_topic", base_topic)):
            if not topic or any(c in topic for c in "/+#\0"):
                raise InvalidInputError(
                    f"{what} {topic!r} must be one non-empty topic level without / + # (like "
                    "smartev)"
                )
        self._registry = registry
        self._host, self._port = host, port
        self._clock = clock
        self._username, self._password, self._tls = username, password, tls
        self._topics = Topics(discovery_prefix, base_topic)
        self._device_info = device_info
        self._origin_url = origin_url
        self._client_id = f"smartev-bridge-{secrets.token_hex(4)}"
        self._discoveries: dict[str, Discovery] = {}  # by node id
        self._outbox: asyncio.Queue[_Job] = asyncio.Queue()
        self._state_due: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._delay = BACKOFF_MIN_S

    @property
    def topics(self) -> Topics:
        return self._topics

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once the bridge is connected and has published everything."""
        await self._connected.wait()

    def discovery(self, device_id: str) -> Discovery | None:
        """The discovery last published for ``device_id`` (None before, or after removal)."""
        return self._discoveries.get(node_id_of(device_id))

    # --- lifecycle ---

    async def run(self) -> None:
        """Stay connected until :meth:`stop`: reconnect with backoff when the broker goes away."""
        if self._run_task is not None:
            raise RuntimeError("HomeAssistantBridge.run() is already running")
        self._run_task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        unsubscribe = self._registry.subscribe(self._on_happening)
        try:
            while not self._stopping:
                try:
                    await self._session()
                except aiomqtt.MqttError as exc:
                    if self._stopping:
                        break
                    log.warning(
                        "MQTT broker %s:%d: %s; reconnecting in %g s",
                        self._host, self._port, exc, self._delay,
                    )  # fmt: skip
                finally:
                    self._client = None
                    self._connected.clear()
                if self._stopping:
                    break
                await self._clock.sleep(self._delay)
                self._delay = min(self._delay * 2, BACKOFF_MAX_S)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            unsubscribe()
            for task in list(self._tasks):
                task.cancel()
            self._run_task = None

    async def stop(self) -> None:
        """Say ``offline`` on the bridge's availability topic, disconnect, and end :meth:`run`."""
        self._stopping = True
        client = self._client
        if client is not None and self._connected.is_set():
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self._topics.bridge_availability, OFFLINE, qos=1, retain=True)
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            await asyncio.wait([task])

    def device_added(self, device_id: str) -> None:
        """Publish a device added to the registry after the bridge started (the registry's
        ``DeviceListChange`` calls it; a composition may too)."""
        self._outbox.put_nowait(_Job(_JobKind.DEVICE, device_id))

    def device_removed(self, device_id: str) -> None:
        """Withdraw a device from Home Assistant (empty retained config, state, availability)."""
        self._discoveries.pop(node_id_of(device_id), None)
        self._outbox.put_nowait(_Job(_JobKind.REMOVED, device_id))

    # --- one connection ---

    async def _session(self) -> None:
        will = aiomqtt.Will(self._topics.bridge_availability, OFFLINE, qos=1, retain=True)
        async with aiomqtt.Client(
            self._host,
            self._port,
            username=self._username,
            password=self._password,
            identifier=self._client_id,
            will=will,
            tls_context=self._tls,
            timeout=10,
        ) as client:
            self._client = client
            log.info("connected to MQTT broker %s:%d", self._host, self._port)
            # Subscribed first: a command or an HA restart during the republish is not lost.
            await client.subscribe(self._topics.command_filter, qos=1)
            await client.subscribe(self._topics.ha_status, qos=1)
            await self._publish_everything(client)
            self._delay = BACKOFF_MIN_S
            self._connected.set()
            outbox = asyncio.create_task(self._drain_outbox(client))
            try:
                async for message in client.messages:
                    self._on_message(message)
            finally:
                outbox.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await outbox

    async def _drain_outbox(self, client: aiomqtt.Client) -> None:
        while True:
            job = await self._outbox.get()
            try:
                await self._do(client, job)
            except aiomqtt.MqttError as exc:
                # The connection is gone; the reader sees it too and reconnects. The job waits
                # for the next connection (a removal must not be lost).
                log.debug("could not publish %s: %s", job, exc)
                self._outbox.put_nowait(job)
                return
            except Exception:  # a bug in one device's mapping must not stop the others
                log.exception("could not publish %s", job)

    async def _do(self, client: aiomqtt.Client, job: _Job) -> None:
        if job.kind is _JobKind.STATE:
            self._state_due.discard(job.device_id)  # later changes need a message of their own
        if job.kind is _JobKind.EVERYTHING:
            await self._publish_everything(client)
        elif job.kind is _JobKind.REMOVED:
            node_id = node_id_of(job.device_id)
            for topic in (
                self._topics.config(node_id),
                self._topics.state(node_id),
                self._topics.availability(node_id),
            ):
                await client.publish(topic, b"", qos=1, retain=True)
        elif job.device_id not in self._registry:
            return  # removed meanwhile
        elif job.kind is _JobKind.DEVICE or self.discovery(job.device_id) is None:
            await self._publish_device(client, job.device_id)
        elif job.kind is _JobKind.STATE:
            await self._publish_state(client, job.device_id)
        else:
            await self._publish_availability(client, job.device_id)

    async def _publish_everything(self, client: aiomqtt.Client) -> None:
        await client.publish(self._topics.bridge_availability, ONLINE, qos=1, retain=True)
        for device_id in self._registry.ids():
            try:
                await self._publish_device(client, device_id)
            except aiomqtt.MqttError:
                raise
            except Exception:  # one device's broken spec must not hide the others
                log.exception("could not publish device %s to Home Assistant", device_id)

    async def _publish_device(self, client: aiomqtt.Client, device_id: str) -> None:
        driver = self._registry.driver(device_id)
        info = self._device_info(device_id) if self._device_info else DeviceInfo()
        found = discover(
            device_id,
            driver.name,
            driver.spec,
            info,
            topics=self._topics,
            origin_version=__version__,
            origin_url=self._origin_url,
        )
        self._discoveries[found.node_id] = found
        await client.publish(found.topic, _json(found.payload), qos=1, retain=True)
        await self._publish_availability(client, device_id)
        await self._publish_state(client, device_id)

    async def _publish_state(self, client: aiomqtt.Client, device_id: str) -> None:
        found = self.discovery(device_id)
        if found is None:
            return
        state = state_payload(found, self._registry.values(device_id))
        await client.publish(self._topics.state(found.node_id), _json(state), qos=1, retain=True)

    async def _publish_availability(self, client: aiomqtt.Client, device_id: str) -> None:
        online = ONLINE if self._registry.online(device_id) else OFFLINE
        topic = self._topics.availability(node_id_of(device_id))
        await client.publish(topic, online, qos=1, retain=True)

    # --- what the registry reports ---

    def _on_happening(self, happening: Happening) -> None:
        if isinstance(happening, PropertyChange):
            device_id = happening.device
            if device_id in self._state_due or self._loop is None:
                return  # a state message is already due: it will carry this value too
            self._state_due.add(device_id)
            self._loop.call_later(
                STATE_INTERVAL_S, self._outbox.put_nowait, _Job(_JobKind.STATE, device_id)
            )
        elif isinstance(happening, AvailabilityChange):
            self._outbox.put_nowait(_Job(_JobKind.AVAILABILITY, happening.device))
        elif isinstance(happening, DeviceListChange):  # a car paired, a device attached later
            if happening.added:
                self.device_added(happening.device)
            else:
                self.device_removed(happening.device)

    # --- what Home Assistant sends ---

    def _on_message(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        text = _text(message.payload)
        if topic == self._topics.ha_status:
            # A retained "online" is the one seen at subscribe time; everything was just sent.
            if text == ONLINE and not message.retain:
                log.info("Home Assistant is online: republishing discovery and states")
                self._outbox.put_nowait(_Job(_JobKind.EVERYTHING))
            return
        try:
            device_id, request = self._command(topic, text, message.retain)
        except RejectedCommandError as exc:
            log.warning("ignored Home Assistant command on %s: %s", topic, exc)
            return
        task = asyncio.create_task(self._execute(topic, device_id, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _command(self, topic: str, text: str | None, retained: bool) -> tuple[str, Request]:
        if retained:
            # Replaying a stale retained UNLOCK at every reconnect would be dangerous.
            raise RejectedCommandError("a retained command is not executed; publish it unretained")
        if text is None:
            raise RejectedCommandError(
                f"the payload must be UTF-8 text of at most {MAX_COMMAND_BYTES} bytes"
            )
        parts = self._topics.parse_command(topic)
        found = self._discoveries.get(parts[0]) if parts else None
        if parts is None or found is None:
            known = ", ".join(sorted(self._discoveries)) or "none"
            raise RejectedCommandError(f"no device has this command topic; known nodes: {known}")
        binding = found.commands.get(parts[1])
        if binding is None:
            known = ", ".join(sorted(found.commands)) or "none"
            raise RejectedCommandError(
                f"{found.device_id} has no command {parts[1]!r}; it has {known}"
            )
        values = self._registry.values(found.device_id)
        return found.device_id, parse_command(binding, text, values)

    async def _execute(self, topic: str, device_id: str, request: Request) -> None:
        try:
            if isinstance(request, Call):
                await self._registry.call(device_id, request.ref, request.args)
            else:
                await self._registry.write(device_id, request.ref, request.value)
        except (SmartevError, ValueError, LookupError) as exc:
            log.warning("Home Assistant command on %s failed: %s", topic, exc)
        except Exception:  # a driver's bug must not end the bridge
            log.exception("Home Assistant command on %s failed", topic)


def _text(payload: object) -> str | None:
    if isinstance(payload, str):
        data = payload.encode()
    elif isinstance(payload, bytes | bytearray):
        data = bytes(payload)
    elif isinstance(payload, int | float):
        data = str(payload).encode()
    else:
        data = b""
    if len(data) > MAX_COMMAND_BYTES:
        return None
    try:
        return data.decode().strip()
    except UnicodeDecodeError:
        return None


def _json(payload: Mapping[str, object]) -> str:
    # Non-finite numbers are not JSON: a value that went NaN is published as unknown.
    return json.dumps(_finite(payload), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
