"""The car in Home Assistant discovery: a fixed table of its meaningful VSS signals and remote
commands, never every leaf, and only those its spec has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from smartev.ecosystem.ha_components import (
    NONE_TEXT,
    Builder,
    Call,
    FromState,
    ValueTarget,
    add_tracker,
)
from smartev.spec.car_device import car_action_ref
from smartev.spec.devices import DeviceSpec, Format

_BATTERY: Final = "Vehicle.Powertrain.TractionBattery"
_CHARGING: Final = f"{_BATTERY}.Charging"
_HVAC: Final = "Vehicle.Cabin.HVAC"
_DRIVER_TEMP: Final = f"{_HVAC}.Station.Row1.Driver.Temperature"
DEFAULT_CABIN_TEMP_C: Final = 21.0


@dataclass(frozen=True, slots=True)
class _CarSensor:
    cid: str
    path: str
    name: str
    unit: str | None
    device_class: str | None
    state_class: str | None = "measurement"
    scale: float | None = None  # from the signal's unit to ``unit``


# fmt: off
_CAR_SENSORS: Final = (
    _CarSensor("battery", f"{_BATTERY}.StateOfCharge.Current", "Battery", "%", "battery"),
    _CarSensor("range", "Vehicle.Powertrain.Range", "Range", "km", "distance", scale=0.001),
    _CarSensor("speed", "Vehicle.Speed", "Speed", "km/h", "speed"),
    _CarSensor("odometer", "Vehicle.TraveledDistance", "Odometer", "km", "distance",
               "total_increasing", scale=0.001),
    _CarSensor("charging_power", f"{_CHARGING}.AveragePower", "Charging power", "kW", "power"),
    _CarSensor("time_to_full", f"{_CHARGING}.TimeToComplete", "Time to full", "s", "duration"),
    _CarSensor("cabin_temperature", f"{_HVAC}.AmbientAirTemperature", "Cabin temperature", "°C",
               "temperature"),
    _CarSensor("outside_temperature", "Vehicle.Exterior.AirTemperature", "Outside temperature",
               "°C", "temperature"),
)
# fmt: on
_CAR_BUTTONS: Final = (("honk", "honk", "Honk"), ("flash", "flash", "Flash lights"))


def add_car(b: Builder, spec: DeviceSpec) -> None:
    """The car's components and commands (see the module docstring)."""
    props, acts = spec.properties, spec.actions

    def has(*refs: str) -> bool:
        return all(r in props or r in acts for r in refs)

    locked = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
    if has(locked, "door.lock", "door.unlock"):
        topic = b.command("lock", {"LOCK": Call("door.lock"), "UNLOCK": Call("door.unlock")})
        b.add(
            "lock", "lock", "Doors", command_topic=topic, state_topic=b.state_topic,
            value_template=b.flag(locked, "LOCKED", "UNLOCKED"),
        )  # fmt: skip
    _car_climate(b, spec)
    limit = f"{_CHARGING}.ChargeLimit"
    if has(limit, "charge_limit.set"):
        arg = acts["charge_limit.set"].inputs[0]
        topic = b.command(
            "charge_limit", value=ValueTarget("charge_limit.set", arg.format, arg=arg.name)
        )
        b.add(
            "charge_limit", "number", "Charge limit", command_topic=topic,
            state_topic=b.state_topic, value_template=b.value(limit), min=arg.low, max=arg.high,
            step=1, unit_of_measurement="%", mode="slider",
        )  # fmt: skip
    charging = f"{_CHARGING}.IsCharging"
    if has(charging, "charging.start", "charging.stop"):
        choices = {"ON": Call("charging.start"), "OFF": Call("charging.stop")}
        b.add(
            "charging", "switch", "Charging", command_topic=b.command("charging", choices),
            state_topic=b.state_topic, value_template=b.flag(charging, "ON", "OFF"),
        )  # fmt: skip
    for cid, command, name in _CAR_BUTTONS:
        if car_action_ref(command) in acts:
            topic = b.command(cid, {"PRESS": Call(car_action_ref(command))})
            b.add(cid, "button", name, command_topic=topic)
    if "trunk.open" in acts:
        topic = b.command("trunk", {"PRESS": Call("trunk.open")})
        b.add("trunk", "button", "Open trunk", command_topic=topic)
    location = "Vehicle.CurrentLocation"
    add_tracker(
        b, spec, f"{location}.Latitude", f"{location}.Longitude", f"{location}.HorizontalAccuracy"
    )
    for s in _CAR_SENSORS:
        if s.path in props:
            b.add(
                s.cid, "sensor", s.name, state_topic=b.state_topic,
                value_template=b.value(s.path, s.scale), unit_of_measurement=s.unit,
                device_class=s.device_class, state_class=s.state_class,
            )  # fmt: skip
    plugged = f"{_CHARGING}.ChargingPort.AnyPosition.IsChargingCableConnected"
    if plugged in props:
        b.add(
            "plugged_in", "binary_sensor", "Plugged in", state_topic=b.state_topic,
            value_template=b.flag(plugged, "ON", "OFF"), device_class="plug",
        )  # fmt: skip


def _car_climate(b: Builder, spec: DeviceSpec) -> None:
    acts = spec.actions
    if not {"hvac.set", "hvac.off"} <= set(acts):
        return
    temp = next((i for i in acts["hvac.set"].inputs if i.name == "temp_c"), None)
    if temp is None or temp.low is None or temp.high is None:
        return
    # The car heats or cools by itself towards the set temperature: "auto" is climate on.
    keep = FromState("temp_c", _DRIVER_TEMP, DEFAULT_CABIN_TEMP_C, temp.low, temp.high)
    modes = {"auto": Call("hvac.set", from_state=(keep,)), "off": Call("hvac.off")}
    options: dict[str, Any] = {
        "modes": list(modes),
        "mode_command_topic": b.command("climate_mode", modes),
        "temperature_command_topic": b.command(
            "climate_temperature", value=ValueTarget("hvac.set", Format.FLOAT, arg="temp_c")
        ),
        "min_temp": temp.low, "max_temp": temp.high, "temp_step": 0.5, "temperature_unit": "C",
    }  # fmt: skip
    props = spec.properties
    active = f"{_HVAC}.IsAirConditioningActive"
    if active in props:
        options["mode_state_topic"] = b.state_topic
        options["mode_state_template"] = b.flag(active, "auto", "off").replace(NONE_TEXT, "off")
    if _DRIVER_TEMP in props:
        options["temperature_state_topic"] = b.state_topic
        options["temperature_state_template"] = b.value(_DRIVER_TEMP)
    if f"{_HVAC}.AmbientAirTemperature" in props:
        options["current_temperature_topic"] = b.state_topic
        options["current_temperature_template"] = b.value(f"{_HVAC}.AmbientAirTemperature")
    b.add("climate", "climate", "Climate", **options)
