"""Home Assistant MQTT device discovery for smartev devices: pure, no I/O.

A device becomes one retained config message on ``<prefix>/device/<node_id>/config`` whose ``cmps``
hold its entities, and a table of :class:`CommandBinding` s that says what each command topic
does to the device. The topic layout (all under ``base``, default ``smartev``):

- ``<base>/bridge/availability``: ``online`` / ``offline`` (retained; ``offline`` is the LWT)
- ``<base>/<node_id>/availability``: the device's ``online`` / ``offline`` (retained)
- ``<base>/<node_id>/state``: one JSON object of the device's exposed values keyed by
  :func:`slug` of the ref (``light.brightness`` → ``light_brightness``), ``null`` when unknown
- ``<base>/<node_id>/<command>/set``: commands; ``<command>`` is a component id, or a component id
  and an aspect (``climate_mode``, ``climate_temperature``, ``light_brightness``)

Home devices map by kind (light, thermostat → climate, garage door → cover, door lock → lock,
wallbox → charging switch, phone → device tracker) and every other property by its format and
access; the car maps a fixed table of its meaningful VSS signals and remote commands
(:mod:`smartev.ecosystem.ha_car`). The shared building blocks are
:mod:`smartev.ecosystem.ha_components`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from smartev.ecosystem.ha_car import add_car
from smartev.ecosystem.ha_components import (
    Builder,
    Call,
    CommandBinding,
    Request,
    Topics,
    ValueTarget,
    Write,
    add_tracker,
    slug,
)
from smartev.spec.devices import DeviceSpec, Format, PropertySpec, Scalar

ORIGIN_NAME: Final = "smartev"
ONLINE: Final = "online"
OFFLINE: Final = "offline"

# Spec units (UCUM-like for home devices, VSS for the car) → Home Assistant's units.
UNITS: Final[Mapping[str, str]] = {
    "Cel": "°C", "Celsius": "°C", "celsius": "°C", "%": "%", "percent": "%",
    "W": "W", "kW": "kW", "Wh": "Wh", "kWh": "kWh", "A": "A", "V": "V",
    "km/h": "km/h", "m": "m", "km": "km", "lx": "lx", "s": "s", "min": "min", "h": "h",
    "degrees": "°",
}  # fmt: skip
_DEVICE_CLASSES: Final[Mapping[str, str]] = {
    "°C": "temperature", "W": "power", "kW": "power", "Wh": "energy", "kWh": "energy",
    "A": "current", "V": "voltage", "km/h": "speed", "m": "distance", "km": "distance",
    "lx": "illuminance", "s": "duration", "min": "duration", "h": "duration",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What Home Assistant shows about a device beyond its name; ``model`` None: its kind."""

    manufacturer: str = "smartev"
    model: str | None = None
    sw_version: str | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    """One device's discovery message, the refs its state message carries, and its commands."""

    device_id: str
    node_id: str
    topic: str
    payload: dict[str, Any]
    state_refs: tuple[str, ...]
    commands: Mapping[str, CommandBinding]


def node_id_of(device_id: str) -> str:
    """``light:hall`` → ``light_hall``: only ``[a-zA-Z0-9_-]`` survive, as discovery requires."""
    return re.sub(r"[^a-zA-Z0-9_-]", "", device_id.replace(":", "_"))


def state_payload(discovery: Discovery, values: Mapping[str, Scalar]) -> dict[str, Scalar | None]:
    """The state message of a device: every exposed ref's value, None (null) when unknown."""
    return {slug(ref): values.get(ref) for ref in discovery.state_refs}


def discover(
    device_id: str,
    name: str,
    spec: DeviceSpec,
    info: DeviceInfo,
    *,
    topics: Topics,
    origin_version: str,
    origin_url: str | None = None,
) -> Discovery:
    """The discovery message and command table of one device (see the module docstring)."""
    node_id = node_id_of(device_id)
    b = Builder(node_id, topics)
    if spec.kind == "car":
        add_car(b, spec)
    else:
        used = _HOME_KINDS[spec.kind](b, spec) if spec.kind in _HOME_KINDS else set()
        for ref, prop in spec.properties.items():
            if ref not in used:
                _generic(b, ref, prop)
    device: dict[str, Any] = {
        "ids": [f"smartev_{node_id}"],
        "name": name,
        "mf": info.manufacturer,
        "mdl": info.model or spec.kind,
    }
    if info.sw_version:
        device["sw"] = info.sw_version
    origin = {"name": ORIGIN_NAME, "sw": origin_version}
    if origin_url:
        origin["url"] = origin_url
    payload: dict[str, Any] = {
        "dev": device,
        "o": origin,
        # Both must be online: a device is unreachable while the bridge itself is gone.
        "availability": [
            {"topic": topics.bridge_availability},
            {"topic": topics.availability(node_id)},
        ],
        "availability_mode": "all",
        "qos": 1,
        "cmps": b.components,
    }
    return Discovery(
        device_id, node_id, topics.config(node_id), payload, tuple(b.refs), dict(b.commands)
    )


def removal(topics: Topics, device_id: str) -> str:
    """The config topic to clear (an empty retained message) when ``device_id`` goes away."""
    return topics.config(node_id_of(device_id))


# --- generic mapping by format and access ----------------------------------------------------


def _title(ref: str) -> str:
    return ref.replace(".", " ").replace("_", " ").capitalize()


def _unit(prop: PropertySpec) -> str | None:
    return None if prop.unit is None else UNITS.get(prop.unit, prop.unit)


def _numeric(prop: PropertySpec) -> bool:
    return prop.format in (Format.INT, Format.FLOAT)


def _bool_class(ref: str) -> str | None:
    name = ref.lower()
    for word, device_class in (("occupied", "occupancy"), ("cable", "plug"), ("plug", "plug")):
        if word in name:
            return device_class
    return None


def _sensor(b: Builder, cid: str, ref: str, prop: PropertySpec, name: str) -> None:
    unit = _unit(prop)
    if not _numeric(prop):
        options = [str(v) for v in prop.values] or None
        b.add(
            cid, "sensor", name, state_topic=b.state_topic, value_template=b.value(ref),
            device_class="enum" if options else None, options=options,
        )  # fmt: skip
        return
    device_class = _DEVICE_CLASSES.get(unit or "")
    if unit == "%" and ("soc" in ref.lower() or ref.startswith("battery.")):
        device_class = "battery"
    b.add(
        cid, "sensor", name, state_topic=b.state_topic, value_template=b.value(ref),
        unit_of_measurement=unit, device_class=device_class,
        state_class="total_increasing" if device_class == "energy" else "measurement",
    )  # fmt: skip


def _generic(b: Builder, ref: str, prop: PropertySpec) -> None:
    cid, name = slug(ref), _title(ref)
    if prop.format is Format.BOOL:
        if prop.writable:
            topic = b.command(cid, {"ON": Write(ref, True), "OFF": Write(ref, False)})
            b.add(
                cid, "switch", name, state_topic=b.state_topic,
                value_template=b.flag(ref, "ON", "OFF"), command_topic=topic,
            )  # fmt: skip
        else:
            b.add(
                cid, "binary_sensor", name, state_topic=b.state_topic,
                value_template=b.flag(ref, "ON", "OFF"), device_class=_bool_class(ref),
            )  # fmt: skip
    elif prop.writable and prop.values:
        options = tuple(prop.values)
        topic = b.command(cid, value=ValueTarget(ref, prop.format, options=options))
        b.add(
            cid, "select", name, state_topic=b.state_topic, value_template=b.value(ref),
            command_topic=topic, options=[str(v) for v in options],
        )  # fmt: skip
    elif prop.writable and _numeric(prop):
        topic = b.command(cid, value=ValueTarget(ref, prop.format))
        b.add(
            cid, "number", name, state_topic=b.state_topic, value_template=b.value(ref),
            command_topic=topic, min=prop.low if prop.low is not None else 0,
            max=prop.high if prop.high is not None else 100,
            step=prop.step or (1 if prop.format is Format.INT else 0.1),
            unit_of_measurement=_unit(prop),
            device_class=_DEVICE_CLASSES.get(_unit(prop) or ""),
        )  # fmt: skip
    else:
        # Read-only, or writable text without a fixed set: shown, not set from Home Assistant.
        _sensor(b, cid, ref, prop, name)


# --- home devices by kind ----------------------------------------------------------------------


def _set_or_call(spec: DeviceSpec, ref: str, action: str, arg: str) -> ValueTarget:
    """Write ``ref`` when it is writable, else pass the value to ``action``'s ``arg``."""
    prop = spec.property(ref)
    if prop.writable or action not in spec.actions:
        return ValueTarget(ref, prop.format)
    return ValueTarget(action, prop.format, arg=arg)


def _light(b: Builder, spec: DeviceSpec) -> set[str]:
    acts = spec.actions
    on = Call("light.turn_on") if "light.turn_on" in acts else Write("light.on", True)
    off = Call("light.turn_off") if "light.turn_off" in acts else Write("light.on", False)
    options: dict[str, Any] = {
        "state_topic": b.state_topic,
        "state_value_template": b.flag("light.on", "ON", "OFF"),
        "command_topic": b.command("light", {"ON": on, "OFF": off}),
    }
    used = {"light.on"}
    if "light.brightness" in spec.properties:
        prop = spec.property("light.brightness")
        turn_on = acts.get("light.turn_on")
        if turn_on is not None and any(i.name == "brightness" for i in turn_on.inputs):
            target = ValueTarget("light.turn_on", prop.format, arg="brightness")
        else:
            target = ValueTarget("light.brightness", prop.format)
        options |= {
            "brightness_state_topic": b.state_topic,
            "brightness_value_template": b.value("light.brightness"),
            "brightness_command_topic": b.command("light_brightness", value=target),
            "brightness_scale": int(prop.high or 100),
            # One brightness message turns the light on at that level; no extra ON.
            "on_command_type": "brightness",
        }
        used.add("light.brightness")
    b.add("light", "light", None, **options)
    return used


def _thermostat(b: Builder, spec: DeviceSpec) -> set[str]:
    props = spec.properties
    options: dict[str, Any] = {}
    used: set[str] = set()
    if "thermostat.mode" in props:
        modes = [str(m) for m in props["thermostat.mode"].values]
        target = _set_or_call(spec, "thermostat.mode", "thermostat.set", "mode")
        choices: dict[str, Request] = {
            m: Write(target.ref, m) if target.arg is None else Call(target.ref, {target.arg: m})
            for m in modes
        }
        options |= {
            "modes": modes,
            "mode_state_topic": b.state_topic,
            "mode_state_template": b.value("thermostat.mode"),
            "mode_command_topic": b.command("climate_mode", choices),
        }
        used.add("thermostat.mode")
    if "thermostat.target_temperature" in props:
        prop = props["thermostat.target_temperature"]
        target = _set_or_call(
            spec, "thermostat.target_temperature", "thermostat.set", "target_temperature"
        )
        options |= {
            "temperature_state_topic": b.state_topic,
            "temperature_state_template": b.value("thermostat.target_temperature"),
            "temperature_command_topic": b.command("climate_temperature", value=target),
            "min_temp": prop.low, "max_temp": prop.high, "temp_step": prop.step,
        }  # fmt: skip
        used.add("thermostat.target_temperature")
    if "thermostat.current_temperature" in props:
        options |= {
            "current_temperature_topic": b.state_topic,
            "current_temperature_template": b.value("thermostat.current_temperature"),
        }
        used.add("thermostat.current_temperature")
    if "thermostat.action" in props:
        options |= {"action_topic": b.state_topic, "action_template": b.value("thermostat.action")}
        used.add("thermostat.action")
    b.add("climate", "climate", None, temperature_unit="C", **options)
    return used


def _garage_door(b: Builder, spec: DeviceSpec) -> set[str]:
    choices = {
        payload: Call(ref)
        for payload, ref in (("OPEN", "door.open"), ("CLOSE", "door.close"), ("STOP", "door.stop"))
        if ref in spec.actions
    }
    options: dict[str, Any] = {"command_topic": b.command("cover", choices)}
    used: set[str] = set()
    if "door.state" in spec.properties:
        options |= {"state_topic": b.state_topic, "value_template": b.value("door.state")}
        options |= {f"state_{s}": s for s in ("open", "opening", "closed", "closing", "stopped")}
        used.add("door.state")
    if "door.position" in spec.properties:
        options |= {
            "position_topic": b.state_topic,
            "position_template": b.value("door.position"),
            "position_open": 100,
            "position_closed": 0,
        }
        used.add("door.position")
    b.add("cover", "cover", None, device_class="garage", **options)
    return used


def _door_lock(b: Builder, spec: DeviceSpec) -> set[str]:
    choices = {p: Call(r) for p, r in (("LOCK", "lock.lock"), ("UNLOCK", "lock.unlock"))}
    options: dict[str, Any] = {"command_topic": b.command("lock", choices)}
    if "lock.state" in spec.properties:
        options |= {"state_topic": b.state_topic, "value_template": b.value("lock.state")}
        options |= {"state_locked": "locked", "state_unlocked": "unlocked"}
        options["state_jammed"] = "jammed"
    else:
        options |= {"state_topic": b.state_topic}
        options["value_template"] = b.flag("lock.locked", "LOCKED", "UNLOCKED")
    b.add("lock", "lock", None, **options)
    return {"lock.state", "lock.locked"}


def _wallbox(b: Builder, spec: DeviceSpec) -> set[str]:
    if not {"charger.start", "charger.stop"} <= set(spec.actions):
        return set()
    topic = b.command("charging", {"ON": Call("charger.start"), "OFF": Call("charger.stop")})
    state_ref = "charger.enabled" if "charger.enabled" in spec.properties else None
    b.add(
        "charging", "switch", "Charging", command_topic=topic,
        state_topic=b.state_topic if state_ref else None,
        value_template=b.flag(state_ref, "ON", "OFF") if state_ref else None,
    )  # fmt: skip
    return {state_ref} if state_ref else set()


def _phone(b: Builder, spec: DeviceSpec) -> set[str]:
    return add_tracker(b, spec, "location.latitude", "location.longitude", "location.accuracy")


_HOME_KINDS: Final = {
    "light": _light,
    "thermostat": _thermostat,
    "garage_door": _garage_door,
    "door_lock": _door_lock,
    "wallbox": _wallbox,
    "phone": _phone,
}
