"""The household the automation and scene parser tests check against: one device of every
shipped kind, a car built from the shipped VSS catalog and the car's remote commands."""

from __future__ import annotations

import textwrap

from smartev.ecosystem.automation_context import AutomationContext
from smartev.ecosystem.automation_yaml import parse_automation
from smartev.ecosystem.errors import AutomationError
from smartev.ecosystem.model import Automation
from smartev.spec.car_device import car_spec
from smartev.spec.catalog import shipped_catalog
from smartev.spec.device_kinds import DEVICE_KINDS
from smartev.spec.devices import ActionSpec, Format, PropertySpec
from smartev.vehicle.command_table import COMMANDS, KEY_COMMANDS

VIN = "LSJWH4097PN000001"
CAR = f"car:{VIN}"
CABLE = (
    "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsChargingCableConnected"
)
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"

_FORMATS = {bool: Format.BOOL, int: Format.INT, float: Format.FLOAT, str: Format.STRING}


def _car_actions() -> tuple[ActionSpec, ...]:
    return tuple(
        ActionSpec(
            spec.name,
            inputs=tuple(
                PropertySpec(
                    a.name,
                    _FORMATS[a.kind],
                    low=a.low,
                    high=a.high,
                    values=a.choices,
                    required=a.required,
                )
                for a in spec.args
            ),
        )
        for spec in COMMANDS.values()
        if spec.name not in KEY_COMMANDS
    )


_DEVICES = {
    "light:hall": "light",
    "light:living": "light",
    "thermostat:living": "thermostat",
    "garage_door:main": "garage_door",
    "door_lock:front": "door_lock",
    "smart_plug:dryer": "smart_plug",
    "wallbox:garage": "wallbox",
    "solar_inverter:roof": "solar_inverter",
    "home_battery:cellar": "home_battery",
    "presence_sensor:hall": "presence_sensor",
    "energy_meter:home": "energy_meter",
    "phone:ana": "phone",
    "phone:ben": "phone",
}

CONTEXT = AutomationContext(
    devices={
        **{device: DEVICE_KINDS[kind] for device, kind in _DEVICES.items()},
        CAR: car_spec(shipped_catalog(), _car_actions()),
    },
    zones=("home", "work"),
    scenes=("away", "evening"),
    people=("ana", "ben", "cleo"),  # cleo has no phone
)


def parse(text: str) -> Automation:
    return parse_automation(textwrap.dedent(text), CONTEXT, automation_id="a1")


def problems(text: str) -> list[tuple[int, str, str]]:
    """(line, path, reason) of every problem; fails the test if the text parses."""
    try:
        parse(text)
    except AutomationError as exc:
        refused = exc
    else:
        raise AssertionError("the automation was accepted")
    assert refused.problems, "an AutomationError without problems"
    return [(p.line, p.path, p.reason) for p in refused.problems]


def one_problem(text: str) -> tuple[int, str, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]
