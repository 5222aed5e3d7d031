"""Safety rules: the one place that decides whether an actuator target may reach the car.

Rules are data: a table of small frozen rule objects, each naming the actuator paths it guards,
what it checks and the rejection reason it gives. :func:`check_target` runs every rule that
guards the path against the car's current state (read through ``current``) and raises
:class:`~smartev.vehicle.errors.UnsafeRequestError` for the first that refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smartev.vehicle.errors import UnsafeRequestError

SPEED = "Vehicle.Speed"
WALKING_SPEED_KMH = 7.0

Current = Callable[[str], object]  # current value of a path, or None when unknown


def _speed_kmh(current: Current) -> float | None:
    value = current(SPEED)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class NotWhileMoving:
    """Refuse ``value`` on these paths above walking speed (or when the speed is unknown)."""

    name: str
    paths: tuple[str, ...]
    value: object
    max_speed_kmh: float = WALKING_SPEED_KMH

    def refuse(self, path: str, value: object, current: Current) -> tuple[str, str] | None:
        if value != self.value:
            return None
        speed = _speed_kmh(current)
        if speed is None:
            return "unsafe_while_moving", f"{path} = {value!r} refused: the car's speed is unknown"
        if speed > self.max_speed_kmh:
            return (
                "unsafe_while_moving",
                f"{path} = {value!r} refused at {speed:.0f} km/h: only below "
                f"{self.max_speed_kmh:g} km/h",
            )
        return None


@dataclass(frozen=True, slots=True)
class WithinRange:
    """Refuse numbers outside [low, high], tighter than the catalog's own limits."""

    name: str
    paths: tuple[str, ...]
    low: float
    high: float
    unit: str

    def refuse(self, path: str, value: object, current: Current) -> tuple[str, str] | None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and not self.low <= value <= self.high:  # type: ignore[operator]
            return (
                "invalid_value",
                f"{path} = {value:g} refused: must be {self.low:g}..{self.high:g} {self.unit}",
            )
        return None


@dataclass(frozen=True, slots=True)
class Requires:
    """Refuse ``value`` on these paths unless ``other`` currently reads ``other_value``."""

    name: str
    paths: tuple[str, ...]
    value: object
    other: str
    other_value: object
    reason: str
    explanation: str

    def refuse(self, path: str, value: object, current: Current) -> tuple[str, str] | None:
        if value == self.value and current(self.other) != self.other_value:
            return self.reason, f"{path} = {value!r} refused: {self.explanation}"
        return None


Rule = NotWhileMoving | WithinRange | Requires

CHARGING = "Vehicle.Powertrain.TractionBattery.Charging"
_PORTS = (
    "AnyPosition",
    "FrontLeft",
    "FrontMiddle",
    "FrontRight",
    "RearLeft",
    "RearMiddle",
    "RearRight",
)
_DOORS = tuple(
    f"Vehicle.Cabin.Door.Row{row}.{side}"
    for row in (1, 2)
    for side in ("DriverSide", "PassengerSide")
)
_TRUNKS = ("Vehicle.Body.Trunk.Front", "Vehicle.Body.Trunk.Rear")

RULES: tuple[Rule, ...] = (
    NotWhileMoving("no trunk opening while moving", tuple(f"{t}.IsOpen" for t in _TRUNKS), True),
    NotWhileMoving(
        "no trunk opening while moving (switch)", tuple(f"{t}.Switch" for t in _TRUNKS), "OPEN"
    ),
    NotWhileMoving(
        "no trunk opening while moving (one-shot switch)",
        tuple(f"{t}.Switch" for t in _TRUNKS),
        "ONE_SHOT_OPEN",
    ),
    NotWhileMoving(
        "no trunk unlocking while moving", tuple(f"{t}.IsLocked" for t in _TRUNKS), False
    ),
    NotWhileMoving("no door opening while moving", tuple(f"{d}.IsOpen" for d in _DOORS), True),
    NotWhileMoving("no remote unlock while moving", tuple(f"{d}.IsLocked" for d in _DOORS), False),
    NotWhileMoving(
        "no charge port opening while moving",
        tuple(f"{CHARGING}.ChargingPort.{p}.IsFlapOpen" for p in _PORTS),
        True,
    ),
    NotWhileMoving(
        "no charging cable release while moving",
        tuple(f"{CHARGING}.ChargingPort.{p}.IsChargingCableLocked" for p in _PORTS),
        False,
    ),
    WithinRange("charge limit 50..100 %", (f"{CHARGING}.ChargeLimit",), 50, 100, "%"),
    WithinRange(
        "HVAC set point 15..30 °C",
        tuple(
            f"Vehicle.Cabin.HVAC.Station.Row{row}.{side}.Temperature"
            for row in (1, 2, 3, 4)
            for side in ("Driver", "Passenger")
        ),
        15,
        30,
        "°C",
    ),
    Requires(
        "charging needs the cable",
        (f"{CHARGING}.StartStopCharging",),
        "START",
        f"{CHARGING}.ChargingPort.AnyPosition.IsChargingCableConnected",
        True,
        "not_plugged_in",
        "no charging cable is connected",
    ),
)


def rules_for(path: str, rules: tuple[Rule, ...] = RULES) -> tuple[Rule, ...]:
    return tuple(rule for rule in rules if path in rule.paths)


def check_target(
    path: str, value: object, current: Current, rules: tuple[Rule, ...] = RULES
) -> None:
    """Raise UnsafeRequestError if a rule refuses ``value`` for ``path`` in the present state."""
    for rule in rules:
        if path in rule.paths:
            refused = rule.refuse(path, value, current)
            if refused is not None:
                reason, message = refused
                raise UnsafeRequestError(path, rule.name, reason, message)
