"""The shipped home-device kinds (light, thermostat, wallbox, …): one table of specs whose
service, property, action and event names every driver, automation and bridge relies on.

Units: ``%``, ``W``, ``kWh``, ``A``, ``Cel``, ``lx``, ``m``, ``degrees``. A property marked ``r``
below is read+notify (its changes are reported), ``rw`` adds write. The car is not here: its spec
is built per VSS catalog by :func:`smartev.spec.car_device.car_spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from smartev.spec.devices import (
    READ_NOTIFY,
    READ_WRITE_NOTIFY,
    Access,
    ActionSpec,
    DeviceSpec,
    DeviceSpecError,
    EventSpec,
    Format,
    PropertySpec,
    ServiceSpec,
)

_BOOL, _INT, _FLOAT, _STRING = Format.BOOL, Format.INT, Format.FLOAT, Format.STRING
_R, _RW = READ_NOTIFY, READ_WRITE_NOTIFY


# Shared shapes, so that a value means the same on every kind and action that has it.
def _percent(
    name: str, description: str, *, access: frozenset[Access] = _R, required: bool = True
) -> PropertySpec:
    return PropertySpec(
        name, _INT, "%", 0, 100, 1, access=access, description=description, required=required
    )


def _target_temperature(
    name: str, description: str, *, access: frozenset[Access] = _R, required: bool = True
) -> PropertySpec:
    return PropertySpec(
        name, _FLOAT, "Cel", 5, 35, 0.5, access=access, description=description, required=required
    )


def _current_limit(name: str, description: str, *, access: frozenset[Access] = _R) -> PropertySpec:
    return PropertySpec(name, _FLOAT, "A", 6, 32, 1, access=access, description=description)


_SPECS: Final[tuple[DeviceSpec, ...]] = (
    DeviceSpec(
        "light",
        "a dimmable light",
        (
            ServiceSpec(
                "light",
                properties=(
                    PropertySpec("on", _BOOL, access=_RW, description="the light is on"),
                    _percent("brightness", "brightness when on", access=_RW),
                ),
                actions=(
                    ActionSpec(
                        "turn_on",
                        inputs=(
                            _percent(
                                "brightness",
                                "brightness to turn on at (else the last one)",
                                required=False,
                            ),
                        ),
                        description="turn the light on",
                    ),
                    ActionSpec("turn_off", description="turn the light off"),
                    ActionSpec("toggle", description="turn the light on if off, off if on"),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "thermostat",
        "a room's heating or air conditioner",
        (
            ServiceSpec(
                "thermostat",
                properties=(
                    PropertySpec(
                        "mode",
                        _STRING,
                        values=("off", "heat", "cool", "auto"),
                        access=_RW,
                        description="what the device may do to reach the target",
                    ),
                    _target_temperature(
                        "target_temperature", "the temperature to hold", access=_RW
                    ),
                    PropertySpec(
                        "current_temperature",
                        _FLOAT,
                        unit="Cel",
                        description="the room's measured temperature",
                    ),
                    PropertySpec(
                        "action",
                        _STRING,
                        values=("idle", "heating", "cooling"),
                        description="what the device is doing now",
                    ),
                ),
                actions=(
                    ActionSpec(
                        "set",
                        inputs=(
                            PropertySpec(
                                "mode",
                                _STRING,
                                values=("off", "heat", "cool", "auto"),
                                required=False,
                                description="the new mode (else unchanged)",
                            ),
                            _target_temperature(
                                "target_temperature",
                                "the new target (else unchanged)",
                                required=False,
                            ),
                        ),
                        description="set the mode and/or the target temperature at once",
                    ),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "garage_door",
        "a motorised garage door",
        (
            ServiceSpec(
                "door",
                properties=(
                    PropertySpec(
                        "state",
                        _STRING,
                        values=("open", "opening", "closed", "closing", "stopped"),
                        description="where the door is and where it is going",
                    ),
                    _percent("position", "how far open: 0 closed, 100 fully open"),
                ),
                actions=(
                    ActionSpec("open", description="open the door"),
                    ActionSpec("close", description="close the door"),
                    ActionSpec("stop", description="stop the door where it is"),
                ),
                events=(
                    EventSpec("obstructed", description="closing stopped: something is in the way"),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "door_lock",
        "a smart lock on a house door",
        (
            ServiceSpec(
                "lock",
                properties=(
                    PropertySpec("locked", _BOOL, description="the bolt is thrown"),
                    PropertySpec(
                        "state",
                        _STRING,
                        values=("locked", "unlocked", "jammed"),
                        description="the lock's state, jammed when the bolt is stuck",
                    ),
                ),
                actions=(
                    ActionSpec("lock", description="throw the bolt"),
                    ActionSpec("unlock", description="withdraw the bolt"),
                ),
                events=(
                    EventSpec(
                        "operated",
                        args=(
                            PropertySpec(
                                "method",
                                _STRING,
                                description="how: keypad, key, app, automation, …",
                            ),
                        ),
                        description="someone locked or unlocked the door",
                    ),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "smart_plug",
        "a switchable socket that meters what it supplies",
        (
            ServiceSpec(
                "switch",
                properties=(PropertySpec("on", _BOOL, access=_RW, description="power is on"),),
                actions=(
                    ActionSpec("turn_on", description="switch the power on"),
                    ActionSpec("turn_off", description="switch the power off"),
                ),
            ),
            ServiceSpec(
                "meter",
                properties=(
                    PropertySpec("power", _FLOAT, unit="W", description="power drawn now"),
                    PropertySpec("energy", _FLOAT, unit="kWh", description="energy drawn in all"),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "wallbox",
        "a car charger on the home's wall",
        (
            ServiceSpec(
                "charger",
                properties=(
                    PropertySpec(
                        "state",
                        _STRING,
                        values=(
                            "available",
                            "connected",
                            "charging",
                            "suspended_ev",
                            "suspended_evse",
                            "finished",
                            "fault",
                        ),
                        description="the charge point's state (OCPP's connector status)",
                    ),
                    PropertySpec("power", _FLOAT, unit="W", description="power delivered now"),
                    _current_limit(
                        "current_limit", "the most current a car may draw per phase", access=_RW
                    ),
                    PropertySpec(
                        "session_energy",
                        _FLOAT,
                        unit="kWh",
                        description="energy delivered since the car was plugged in",
                    ),
                    PropertySpec("enabled", _BOOL, description="the charger may deliver power"),
                ),
                actions=(
                    ActionSpec("start", description="start (or resume) charging"),
                    ActionSpec("stop", description="stop charging"),
                    ActionSpec(
                        "set_current_limit",
                        inputs=(_current_limit("current_a", "the new limit per phase"),),
                        description="set the most current a car may draw per phase",
                    ),
                ),
                events=(
                    EventSpec("plugged_in", description="a car was plugged in"),
                    EventSpec("unplugged", description="the car was unplugged"),
                    EventSpec("charging_finished", description="the car stopped taking energy"),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "solar_inverter",
        "the inverter of a rooftop solar array",
        (
            ServiceSpec(
                "inverter",
                properties=(
                    PropertySpec("power", _FLOAT, unit="W", description="power produced now"),
                    PropertySpec(
                        "energy_today", _FLOAT, unit="kWh", description="energy produced today"
                    ),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "home_battery",
        "a stationary battery that stores the home's energy",
        (
            ServiceSpec(
                "battery",
                properties=(
                    PropertySpec(
                        "soc",
                        _FLOAT,
                        unit="%",
                        low=0,
                        high=100,
                        description="state of charge",
                    ),
                    PropertySpec(
                        "power",
                        _FLOAT,
                        unit="W",
                        description="positive when charging, negative when discharging",
                    ),
                    PropertySpec(
                        "mode",
                        _STRING,
                        values=("auto", "hold", "charge"),
                        access=_RW,
                        description="auto: self-consumption; hold: keep the charge; charge: fill",
                    ),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "presence_sensor",
        "a room's occupancy and light sensor",
        (
            ServiceSpec(
                "presence",
                properties=(
                    PropertySpec("occupied", _BOOL, description="someone is in the room"),
                    PropertySpec(
                        "illuminance", _FLOAT, unit="lx", description="the light in the room"
                    ),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "energy_meter",
        "the home's grid meter and its tariff",
        (
            ServiceSpec(
                "grid",
                properties=(
                    PropertySpec(
                        "power",
                        _FLOAT,
                        unit="W",
                        description="positive when importing, negative when exporting",
                    ),
                    PropertySpec(
                        "surplus_power",
                        _FLOAT,
                        unit="W",
                        description="exported power plus what the car charger draws: the power "
                        "a car could take from the sun",
                    ),
                ),
            ),
            ServiceSpec(
                "tariff",
                properties=(
                    # No unit: the price is per kWh in tariff.currency, which the meter reports.
                    PropertySpec(
                        "price", _FLOAT, description="the price of 1 kWh now, in tariff.currency"
                    ),
                    PropertySpec(
                        "currency", _STRING, description="the tariff's currency (ISO 4217: EUR)"
                    ),
                ),
            ),
        ),
    ),
    DeviceSpec(
        "phone",
        "a person's phone as a location tracker (the device id's part after phone: is the person)",
        (
            ServiceSpec(
                "location",
                properties=(
                    PropertySpec(
                        "latitude",
                        _FLOAT,
                        unit="degrees",
                        low=-90,
                        high=90,
                        description="WGS 84 latitude",
                    ),
                    PropertySpec(
                        "longitude",
                        _FLOAT,
                        unit="degrees",
                        low=-180,
                        high=180,
                        description="WGS 84 longitude",
                    ),
                    PropertySpec(
                        "accuracy",
                        _FLOAT,
                        unit="m",
                        low=0,
                        description="radius of the fix's uncertainty",
                    ),
                ),
            ),
        ),
    ),
)

DEVICE_KINDS: Final[Mapping[str, DeviceSpec]] = MappingProxyType(
    {spec.kind: spec for spec in _SPECS}
)


def device_spec(kind: str) -> DeviceSpec:
    """The shipped spec of ``kind``; :class:`DeviceSpecError` naming the known kinds otherwise."""
    spec = DEVICE_KINDS.get(kind)
    if spec is not None:
        return spec
    known = ", ".join(DEVICE_KINDS)
    if kind == "car":
        raise DeviceSpecError(
            f"the car has no shipped spec: build it from a VSS catalog with car_spec(); "
            f"shipped kinds: {known}"
        )
    raise DeviceSpecError(f"unknown device kind {kind!r}; known kinds: {known}")
