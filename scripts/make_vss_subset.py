"""Write the shipped signal catalog (``src/smartev/spec/data/vss_signals.json``): the VSS 6.0 leaves
smartev uses, cut from the full release in the same vss-tools JSON tree shape.

    python scripts/make_vss_subset.py [--source ../shared/data/vss_release_6.0.json]

Every path listed below must be a leaf of the release, or the script stops and writes nothing.
Nodes are copied as they are (branches keep their description, leaves every field), so the shipped
definitions equal the release's; ``tests/spec`` checks that. Run once; rerun when the list changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]  # decoded JSON, only inside this script

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "vss_release_6.0.json"
OUTPUT = ROOT / "src" / "smartev" / "spec" / "data" / "vss_signals.json"

_DOORS = [f"Row{row}.{side}" for row in (1, 2) for side in ("DriverSide", "PassengerSide")]
_WHEELS = [f"Row{row}.Wheel.{side}" for row in (1, 2) for side in ("Left", "Right")]
_BATTERY = "Vehicle.Powertrain.TractionBattery"
_CHARGING = f"{_BATTERY}.Charging"
_PORT = f"{_CHARGING}.ChargingPort.AnyPosition"

SIGNALS: list[str] = [
    # motion and trip
    "Vehicle.Speed",
    "Vehicle.TraveledDistance",
    "Vehicle.TraveledDistanceSinceStart",
    "Vehicle.IsMoving",
    "Vehicle.Acceleration.Longitudinal",
    "Vehicle.Acceleration.Lateral",
    "Vehicle.LowVoltageSystemState",
    "Vehicle.Powertrain.Transmission.SelectedGear",
    # location
    "Vehicle.CurrentLocation.Latitude",
    "Vehicle.CurrentLocation.Longitude",
    "Vehicle.CurrentLocation.Heading",
    "Vehicle.CurrentLocation.Altitude",
    "Vehicle.CurrentLocation.HorizontalAccuracy",
    "Vehicle.CurrentLocation.Timestamp",
    "Vehicle.Exterior.AirTemperature",
    # identity
    "Vehicle.VehicleIdentification.VIN",
    "Vehicle.VehicleIdentification.Brand",
    "Vehicle.VehicleIdentification.Model",
    "Vehicle.VehicleIdentification.Year",
    "Vehicle.VehicleIdentification.LicensePlate",
    "Vehicle.VersionVSS.Major",
    "Vehicle.VersionVSS.Minor",
    "Vehicle.VersionVSS.Patch",
    "Vehicle.Powertrain.Type",
    # range and drive
    "Vehicle.Powertrain.Range",
    "Vehicle.Powertrain.AccumulatedBrakingEnergy",
    "Vehicle.Powertrain.ElectricMotor.Speed",
    "Vehicle.Powertrain.ElectricMotor.Torque",
    "Vehicle.Powertrain.ElectricMotor.Power",
    "Vehicle.Powertrain.ElectricMotor.Temperature",
    "Vehicle.Powertrain.ElectricMotor.MaxPower",
    # traction battery
    f"{_BATTERY}.StateOfCharge.Current",
    f"{_BATTERY}.StateOfCharge.Displayed",
    f"{_BATTERY}.StateOfCharge.CurrentEnergy",
    f"{_BATTERY}.StateOfHealth",
    f"{_BATTERY}.Range",
    f"{_BATTERY}.CurrentPower",
    f"{_BATTERY}.CurrentVoltage",
    f"{_BATTERY}.CurrentCurrent",
    f"{_BATTERY}.Temperature.Average",
    f"{_BATTERY}.Temperature.Min",
    f"{_BATTERY}.Temperature.Max",
    f"{_BATTERY}.NetCapacity",
    f"{_BATTERY}.GrossCapacity",
    f"{_BATTERY}.NominalVoltage",
    f"{_BATTERY}.MaxVoltage",
    f"{_BATTERY}.AccumulatedChargedEnergy",
    f"{_BATTERY}.AccumulatedConsumedEnergy",
    f"{_BATTERY}.BatteryConditioning.IsActive",
    f"{_BATTERY}.BatteryConditioning.RequestedMode",
    f"{_BATTERY}.BatteryConditioning.TargetTemperature",
    # charging
    f"{_CHARGING}.ChargeLimit",
    f"{_CHARGING}.IsCharging",
    f"{_CHARGING}.IsDischarging",
    f"{_CHARGING}.StartStopCharging",
    f"{_CHARGING}.ChargeCurrent.DC",
    f"{_CHARGING}.ChargeCurrent.Phase1",
    f"{_CHARGING}.ChargeCurrent.Phase2",
    f"{_CHARGING}.ChargeCurrent.Phase3",
    f"{_CHARGING}.ChargeVoltage.DC",
    f"{_CHARGING}.ChargeVoltage.Phase1",
    f"{_CHARGING}.ChargeVoltage.Phase2",
    f"{_CHARGING}.ChargeVoltage.Phase3",
    f"{_CHARGING}.ChargeRate",
    f"{_CHARGING}.TimeToComplete",
    f"{_CHARGING}.MaxPower",
    f"{_CHARGING}.AveragePower",
    f"{_CHARGING}.EvseId",
    f"{_CHARGING}.Timer.Mode",
    f"{_CHARGING}.Timer.Time",
    f"{_PORT}.IsChargingCableConnected",
    f"{_PORT}.IsChargingCableLocked",
    f"{_PORT}.IsFlapOpen",
    f"{_PORT}.SupportedInletTypes",
    # body: doors, windows, trunks, hood, lights, horn
    *(
        f"Vehicle.Cabin.Door.{door}.{leaf}"
        for door in _DOORS
        for leaf in ("IsOpen", "IsLocked", "Window.IsOpen", "Window.Position")
    ),
    "Vehicle.Body.Trunk.Rear.IsOpen",
    "Vehicle.Body.Trunk.Rear.IsLocked",
    "Vehicle.Body.Trunk.Front.IsOpen",
    "Vehicle.Body.Trunk.Front.IsLocked",
    "Vehicle.Body.Hood.IsOpen",
    "Vehicle.Body.Lights.Hazard.IsSignaling",
    "Vehicle.Body.Lights.Beam.Low.IsOn",
    "Vehicle.Body.Horn.IsActive",
    # climate
    *(
        f"Vehicle.Cabin.HVAC.Station.Row1.{seat}.{leaf}"
        for seat in ("Driver", "Passenger")
        for leaf in ("Temperature", "FanSpeed")
    ),
    "Vehicle.Cabin.HVAC.AmbientAirTemperature",
    "Vehicle.Cabin.HVAC.IsAirConditioningActive",
    "Vehicle.Cabin.HVAC.IsFrontDefrosterActive",
    "Vehicle.Cabin.HVAC.IsRearDefrosterActive",
    "Vehicle.Cabin.HVAC.IsRecirculationActive",
    "Vehicle.Cabin.Seat.Row1.DriverSide.HeatingCooling",
    "Vehicle.Cabin.Seat.Row1.PassengerSide.HeatingCooling",
    # chassis, 12 V battery, service
    *(f"Vehicle.Chassis.Axle.{wheel}.Tire.Pressure" for wheel in _WHEELS),
    "Vehicle.LowVoltageBattery.CurrentVoltage",
    "Vehicle.LowVoltageBattery.CurrentCurrent",
    "Vehicle.Service.DistanceToService",
    "Vehicle.Service.TimeToService",
    "Vehicle.Service.IsServiceDue",
]

_LEAF_TYPES = {"sensor", "actuator", "attribute"}


def subset(tree: JsonObject, paths: list[str]) -> JsonObject:
    """The part of ``tree`` that holds exactly ``paths``; SystemExit naming any path not a leaf."""
    if len(set(paths)) != len(paths):
        raise SystemExit("duplicate paths in SIGNALS")
    out: JsonObject = {}
    missing: list[str] = []
    for path in paths:
        *branch_names, leaf_name = path.split(".")
        source: JsonObject = tree
        target: JsonObject = out
        for name in branch_names:
            node = source.get(name)
            if not isinstance(node, dict) or node.get("type") != "branch":
                missing.append(path)
                break
            copy = target.setdefault(name, {k: v for k, v in node.items() if k != "children"})
            source = node.get("children", {})
            target = copy.setdefault("children", {})
        else:
            leaf = source.get(leaf_name)
            if isinstance(leaf, dict) and leaf.get("type") in _LEAF_TYPES:
                target[leaf_name] = leaf
            else:
                missing.append(path)
    if missing:
        raise SystemExit("not leaves of the source catalog:\n  " + "\n  ".join(missing))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="full VSS JSON")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    tree = json.loads(args.source.read_text(encoding="utf-8"))
    shipped = subset(tree, SIGNALS)
    text = json.dumps(shipped, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(SIGNALS)} signals to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
