"""Each safety rule of the table, refusing and allowing."""

import pytest

from smartev.vehicle.errors import UnsafeRequestError
from smartev.vehicle.safety import RULES, check_target

CHARGING = "Vehicle.Powertrain.TractionBattery.Charging"
CABLE = f"{CHARGING}.ChargingPort.AnyPosition.IsChargingCableConnected"


def state(**values: object) -> dict[str, object]:
    base: dict[str, object] = {"Vehicle.Speed": 0.0, CABLE: True}
    base.update({k.replace("__", "."): v for k, v in values.items()})
    return base


CASES = [
    # (path, value, state, refused reason or None)
    ("Vehicle.Body.Trunk.Rear.IsOpen", True, {"Vehicle.Speed": 50.0}, "unsafe_while_moving"),
    ("Vehicle.Body.Trunk.Rear.IsOpen", True, {"Vehicle.Speed": 3.0}, None),
    ("Vehicle.Body.Trunk.Rear.IsOpen", False, {"Vehicle.Speed": 50.0}, None),
    ("Vehicle.Body.Trunk.Rear.IsOpen", True, {"Vehicle.Speed": None}, "unsafe_while_moving"),
    ("Vehicle.Body.Trunk.Front.Switch", "OPEN", {"Vehicle.Speed": 30.0}, "unsafe_while_moving"),
    (
        "Vehicle.Body.Trunk.Rear.Switch",
        "ONE_SHOT_OPEN",
        {"Vehicle.Speed": 30.0},
        "unsafe_while_moving",
    ),
    ("Vehicle.Body.Trunk.Rear.Switch", "CLOSE", {"Vehicle.Speed": 30.0}, None),
    ("Vehicle.Body.Trunk.Rear.IsLocked", False, {"Vehicle.Speed": 30.0}, "unsafe_while_moving"),
    (
        "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked",
        False,
        {"Vehicle.Speed": 30.0},
        "unsafe_while_moving",
    ),
    ("Vehicle.Cabin.Door.Row2.PassengerSide.IsLocked", False, {"Vehicle.Speed": 5.0}, None),
    ("Vehicle.Cabin.Door.Row1.DriverSide.IsLocked", True, {"Vehicle.Speed": 130.0}, None),
    (
        "Vehicle.Cabin.Door.Row1.PassengerSide.IsOpen",
        True,
        {"Vehicle.Speed": 20.0},
        "unsafe_while_moving",
    ),
    (
        f"{CHARGING}.ChargingPort.AnyPosition.IsFlapOpen",
        True,
        {"Vehicle.Speed": 12.0},
        "unsafe_while_moving",
    ),
    (f"{CHARGING}.ChargingPort.AnyPosition.IsFlapOpen", True, {"Vehicle.Speed": 0.0}, None),
    (
        f"{CHARGING}.ChargingPort.RearLeft.IsChargingCableLocked",
        False,
        {"Vehicle.Speed": 12.0},
        "unsafe_while_moving",
    ),
    (f"{CHARGING}.ChargeLimit", 40, {}, "invalid_value"),
    (f"{CHARGING}.ChargeLimit", 80, {}, None),
    (f"{CHARGING}.ChargeLimit", 100, {}, None),
    ("Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature", 31.5, {}, "invalid_value"),
    ("Vehicle.Cabin.HVAC.Station.Row2.Passenger.Temperature", 14.0, {}, "invalid_value"),
    ("Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature", 21.0, {}, None),
    (f"{CHARGING}.StartStopCharging", "START", {CABLE: False}, "not_plugged_in"),
    (f"{CHARGING}.StartStopCharging", "START", {CABLE: True}, None),
    (f"{CHARGING}.StartStopCharging", "STOP", {CABLE: False}, None),
    ("Vehicle.Cabin.Door.Row1.DriverSide.Window.Position", 100, {"Vehicle.Speed": 100.0}, None),
]


@pytest.mark.parametrize(("path", "value", "overrides", "reason"), CASES)
def test_rule(path: str, value: object, overrides: dict[str, object], reason: str | None) -> None:
    current = {**state(), **overrides}
    if reason is None:
        check_target(path, value, current.get)
        return
    with pytest.raises(UnsafeRequestError) as err:
        check_target(path, value, current.get)
    assert err.value.reason == reason
    assert err.value.path == path
    assert path in str(err.value)


def test_every_rule_is_exercised_by_a_refusing_case() -> None:
    refused_rules = set()
    for path, value, overrides, reason in CASES:
        if reason is None:
            continue
        try:
            check_target(path, value, {**state(), **overrides}.get)
        except UnsafeRequestError as exc:
            refused_rules.add(exc.rule)
    assert refused_rules == {rule.name for rule in RULES}
