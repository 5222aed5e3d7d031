"""The building blocks of Home Assistant discovery that every device mapping shares: the topic
layout, the requests a command topic stands for, and the builder of a device's components."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from smartev.spec.devices import DeviceSpec, Format, Scalar

# Home Assistant sets an entity to unknown when a template renders this.
NONE_TEXT: Final = "None"


@dataclass(frozen=True, slots=True)
class Topics:
    """The bridge's MQTT topic layout (see :mod:`smartev.ecosystem.ha_discovery`)."""

    discovery_prefix: str = "homeassistant"
    base: str = "smartev"

    @property
    def bridge_availability(self) -> str:
        return f"{self.base}/bridge/availability"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    @property
    def command_filter(self) -> str:
        return f"{self.base}/+/+/set"

    def config(self, node_id: str) -> str:
        return f"{self.discovery_prefix}/device/{node_id}/config"

    def state(self, node_id: str) -> str:
        return f"{self.base}/{node_id}/state"

    def availability(self, node_id: str) -> str:
        return f"{self.base}/{node_id}/availability"

    def command(self, node_id: str, key: str) -> str:
        return f"{self.base}/{node_id}/{key}/set"

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """``(node_id, command key)`` of a command topic, None for any other topic."""
        parts = topic.split("/")
        if len(parts) != 4 or parts[0] != self.base or parts[3] != "set":
            return None
        return parts[1], parts[2]


@dataclass(frozen=True, slots=True)
class FromState:
    """An action argument taken from the device's current value of ``ref``, clamped to
    ``low..high``; ``default`` when the value is unknown."""

    arg: str
    ref: str
    default: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Call:
    ref: str
    args: Mapping[str, Scalar] = field(default_factory=dict)
    from_state: tuple[FromState, ...] = ()


@dataclass(frozen=True, slots=True)
class Write:
    ref: str
    value: Scalar


Request = Call | Write


@dataclass(frozen=True, slots=True)
class ValueTarget:
    """Where a number or text payload goes: argument ``arg`` of action ``ref``, or, with ``arg``
    None, written to property ``ref``. ``options``: the allowed values of a select."""

    ref: str
    format: Format
    arg: str | None = None
    options: tuple[Scalar, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandBinding:
    """What the payloads of one command topic do: a fixed payload (``ON``, ``LOCK``, ``heat``)
    picks a request from ``choices``; any other payload goes to ``value`` if there is one."""

    key: str
    choices: Mapping[str, Request] = field(default_factory=dict)
    value: ValueTarget | None = None


def slug(ref: str) -> str:
    """The state message's key of a ref: ``light.brightness`` → ``light_brightness``."""
    return re.sub(r"[^a-z0-9]+", "_", ref.lower()).strip("_")


class Builder:
    """Collects one device's components, the refs they read and the commands they take."""

    def __init__(self, node_id: str, topics: Topics) -> None:
        self.node_id = node_id
        self.topics = topics
        self.components: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, CommandBinding] = {}
        self.refs: list[str] = []

    def add(self, cid: str, platform: str, name: str | None, **options: Any) -> None:
        self.components[cid] = {
            "p": platform,
            "unique_id": f"smartev_{self.node_id}_{cid}",
            "name": name,
            **{k: v for k, v in options.items() if v is not None},
        }

    def read(self, ref: str) -> str:
        """The template expression of ``ref``'s value, and ``ref`` is now in the state."""
        if ref not in self.refs:
            self.refs.append(ref)
        return f"value_json['{slug(ref)}']"

    def value(self, ref: str, scale: float | None = None) -> str:
        expr = self.read(ref)
        if scale is None:
            return f"{{{{ {expr} }}}}"
        return f"{{{{ ({expr} * {scale:g}) | round(3) if {expr} is not none else '{NONE_TEXT}' }}}}"

    def flag(self, ref: str, true: str, false: str) -> str:
        expr = self.read(ref)
        return (
            f"{{% if {expr} is none %}}{NONE_TEXT}{{% elif {expr} %}}{true}"
            f"{{% else %}}{false}{{% endif %}}"
        )

    @property
    def state_topic(self) -> str:
        return self.topics.state(self.node_id)

    def command(
        self,
        key: str,
        choices: Mapping[str, Request] | None = None,
        value: ValueTarget | None = None,
    ) -> str:
        self.commands[key] = CommandBinding(key, dict(choices or {}), value)
        return self.topics.command(self.node_id, key)


def add_tracker(b: Builder, spec: DeviceSpec, lat: str, lon: str, accuracy: str) -> set[str]:
    """A device tracker of the ``lat``/``lon`` (and ``accuracy``) refs; the refs it used."""
    if not {lat, lon} <= set(spec.properties):
        return set()
    fields = [("latitude", lat), ("longitude", lon)]
    if accuracy in spec.properties:
        fields.append(("gps_accuracy", accuracy))
    attrs = ", ".join(f"'{key}': {b.read(ref)}" for key, ref in fields)
    b.add(
        "tracker", "device_tracker", None, json_attributes_topic=b.state_topic,
        json_attributes_template=f"{{{{ {{{attrs}}} | tojson }}}}", source_type="gps",
    )  # fmt: skip
    return {ref for _, ref in fields}
