"""What each remote command is: its replay class, its arguments, the roles that may send it, and
the VSS actuator targets it becomes in the car's broker.

Tables, not code paths: :data:`COMMANDS` (name → :class:`CommandSpec`), :data:`ALLOWED`
(role → command names) and :func:`vss_targets`. The verifier in
:mod:`smartev.vehicle.commands` reads them; the broker's safety rules (``vehicle/safety.py``)
check the resulting targets afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from smartev.core.errors import InvalidInputError
from smartev.link.signing import ArgValue
from smartev.vehicle.errors import VehicleError
from smartev.vehicle.keyring import Role

CHARGING: Final = "Vehicle.Powertrain.TractionBattery.Charging"
FLAP: Final = f"{CHARGING}.ChargingPort.AnyPosition.IsFlapOpen"
HVAC: Final = "Vehicle.Cabin.HVAC"
DOORS: Final = tuple(
    f"Vehicle.Cabin.Door.Row{row}.{side}"
    for row in (1, 2)
    for side in ("DriverSide", "PassengerSide")
)
VENT_POSITION_PCT: Final = 10  # Window.Position: 0 is closed, 100 fully open


class ReplayClass(StrEnum):
    """How a command's counter is checked (see ``commands.ReplayWindow``)."""

    SECURITY = "security"  # strictly above every counter seen from the key: locks, doors, keys
    COMFORT = "comfort"  # may arrive out of order within the window, each counter once


class InvalidArgumentsError(VehicleError, InvalidInputError):
    """A command's arguments do not fit its schema; the message names the argument and rule."""


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command. ``low``/``high`` bound numbers, ``choices``/``pattern`` text."""

    name: str
    kind: type[bool] | type[int] | type[float] | type[str]
    required: bool = True
    default: ArgValue | None = None  # used when not required; None: left out
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None

    def check(self, command: str, value: object) -> ArgValue:
        where = f"{command} argument {self.name} = {value!r}"
        if self.kind is bool or self.kind is str:
            if type(value) is not self.kind:
                raise InvalidArgumentsError(f"{where}: must be a {self.kind.__name__}")
            if isinstance(value, str):
                if self.choices and value not in self.choices:
                    choices = ", ".join(self.choices)
                    raise InvalidArgumentsError(f"{where}: must be one of {choices}")
                if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
                    raise InvalidArgumentsError(f"{where}: must match {self.pattern}")
            assert isinstance(value, bool | str)
            return value
        # bool is an int subclass: an exact type check keeps True out of numbers
        if not (type(value) is int or (self.kind is float and type(value) is float)):
            wanted = "an integer" if self.kind is int else "a number"
            raise InvalidArgumentsError(f"{where}: must be {wanted}")
        assert isinstance(value, int | float)
        if self.low is not None and self.high is not None and not self.low <= value <= self.high:
            raise InvalidArgumentsError(f"{where}: must be {self.low:g}..{self.high:g}")
        return float(value) if self.kind is float else value


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    replay: ReplayClass
    summary: str
    args: tuple[Arg, ...] = ()

    def check_args(self, args: Mapping[str, ArgValue]) -> dict[str, ArgValue]:
        """The arguments checked, with defaults filled in; raises InvalidArgumentsError."""
        known = {arg.name for arg in self.args}
        unknown = sorted(set(args) - known)
        if unknown:
            expected = ", ".join(sorted(known)) or "none"
            raise InvalidArgumentsError(
                f"{self.name}: unknown argument(s) {', '.join(unknown)}; expected: {expected}"
            )
        checked: dict[str, ArgValue] = {}
        for arg in self.args:
            if arg.name in args:
                checked[arg.name] = arg.check(self.name, args[arg.name])
            elif arg.required:
                raise InvalidArgumentsError(f"{self.name}: argument {arg.name} is missing")
            elif arg.default is not None:
                checked[arg.name] = arg.default
        return checked


def _time_arg(name: str, *, default: int | None) -> Arg:
    return Arg(name, int, required=False, default=default, low=0, high=2**62)


_SEC, _COMFORT = ReplayClass.SECURITY, ReplayClass.COMFORT
_TRUNK = Arg("trunk", str, required=False, default="rear", choices=("front", "rear"))

COMMANDS: Final[Mapping[str, CommandSpec]] = {
    spec.name: spec
    for spec in (
        CommandSpec("door.lock", _SEC, "lock all doors"),
        CommandSpec("door.unlock", _SEC, "unlock all doors"),
        CommandSpec("trunk.open", _SEC, "open the rear (or front) trunk", (_TRUNK,)),
        CommandSpec("trunk.close", _SEC, "close the rear (or front) trunk", (_TRUNK,)),
        CommandSpec("charge_port.open", _SEC, "open the charge port flap"),
        CommandSpec("charge_port.close", _SEC, "close the charge port flap"),
        CommandSpec("charging.start", _COMFORT, "start charging"),
        CommandSpec("charging.stop", _COMFORT, "stop charging"),
        CommandSpec(
            "charge_limit.set",
            _COMFORT,
            "set the charge limit",
            (Arg("percent", int, low=50, high=100),),
        ),
        CommandSpec(
            "hvac.set",
            _COMFORT,
            "climate on at a set point",
            (Arg("temp_c", float, low=15, high=30),),
        ),
        CommandSpec("hvac.off", _COMFORT, "climate off"),
        CommandSpec("windows.vent", _COMFORT, f"open all windows {VENT_POSITION_PCT} %"),
        CommandSpec("windows.close", _COMFORT, "close all windows"),
        CommandSpec("honk", _COMFORT, "sound the horn"),
        CommandSpec("flash", _COMFORT, "flash the lights"),
        CommandSpec(
            "key.enroll",
            _SEC,
            "enroll a user key",
            (
                Arg("public_key", str, pattern=r"[0-9a-f]{64}|04[0-9a-f]{128}"),
                Arg("role", str, choices=tuple(Role)),
                Arg("label", str, pattern=r"[^\x00-\x1f\x7f]{1,64}"),
                _time_arg("valid_from_us", default=0),
                _time_arg("valid_until_us", default=None),
            ),
        ),
        CommandSpec(
            "key.revoke", _SEC, "revoke a key", (Arg("key_id", str, pattern=r"[0-9a-f]{16}"),)
        ),
    )
}
KEY_COMMANDS: Final = frozenset({"key.enroll", "key.revoke"})

_LOCKS = frozenset({"door.lock", "door.unlock"})
_TRUNKS = frozenset({"trunk.open", "trunk.close"})
_PORT = frozenset({"charge_port.open", "charge_port.close"})
_CHARGING = frozenset({"charging.start", "charging.stop"})
_CLIMATE = frozenset({"hvac.set", "hvac.off", "windows.vent", "windows.close"})
_FIND = frozenset({"honk", "flash"})

# Who may send what. Owner: everything. Driver: everything but key management. Guest (always
# with a validity window): get in, drive, charge; not the trunk (the owner's things may be in
# it), not the charge limit (battery care stays the owner's), no keys. Charging manager (a
# cloud planner, an employer's charger): charging and the limit only, no physical access.
# Service (the household's automations, a workshop: a key the owner enrolled for a service that
# acts on the owner's behalf): doors, trunks, charging and its limit, climate (pre-heating before
# departure), finding the car; never keys.
ALLOWED: Final[Mapping[Role, frozenset[str]]] = {
    Role.OWNER: frozenset(COMMANDS),
    Role.DRIVER: frozenset(COMMANDS) - KEY_COMMANDS,
    Role.GUEST: _LOCKS | _PORT | _CHARGING | _CLIMATE | _FIND,
    Role.CHARGING_MANAGER: _CHARGING | {"charge_limit.set"},
    Role.SERVICE: _LOCKS | _TRUNKS | _PORT | _CHARGING | _CLIMATE | _FIND | {"charge_limit.set"},
}


def key_enroll_args(
    public_key: bytes,
    role: Role,
    label: str,
    *,
    valid_from_us: int | None = None,
    valid_until_us: int | None = None,
) -> dict[str, ArgValue]:
    """The arguments of a ``key.enroll`` command (client side)."""
    args: dict[str, ArgValue] = {"public_key": public_key.hex(), "role": str(role), "label": label}
    if valid_from_us is not None:
        args["valid_from_us"] = valid_from_us
    if valid_until_us is not None:
        args["valid_until_us"] = valid_until_us
    return args


def vss_targets(name: str, args: Mapping[str, ArgValue]) -> dict[str, ArgValue]:
    """The broker actuator targets of a checked command (all or nothing, in ``actuate_many``)."""
    windows: dict[str, ArgValue] = {f"{d}.Window.Position": VENT_POSITION_PCT for d in DOORS}
    trunk = f"Vehicle.Body.Trunk.{str(args.get('trunk', 'rear')).capitalize()}.IsOpen"
    targets: dict[str, dict[str, ArgValue]] = {
        "door.lock": {f"{door}.IsLocked": True for door in DOORS},
        "door.unlock": {f"{door}.IsLocked": False for door in DOORS},
        "trunk.open": {trunk: True},
        "trunk.close": {trunk: False},
        "charge_port.open": {FLAP: True},
        "charge_port.close": {FLAP: False},
        "charging.start": {f"{CHARGING}.StartStopCharging": "START"},
        "charging.stop": {f"{CHARGING}.StartStopCharging": "STOP"},
        "charge_limit.set": {f"{CHARGING}.ChargeLimit": args.get("percent", 0)},
        "hvac.set": {
            f"{HVAC}.Station.Row1.Driver.Temperature": args.get("temp_c", 0.0),
            f"{HVAC}.IsAirConditioningActive": True,
        },
        "hvac.off": {f"{HVAC}.IsAirConditioningActive": False},
        "windows.vent": windows,
        "windows.close": {path: 0 for path in windows},
        # One-shot signals: the provider ends the honk or flash after a moment.
        "honk": {"Vehicle.Body.Horn.IsActive": True},
        "flash": {"Vehicle.Body.Lights.Hazard.IsSignaling": True},
    }
    if name not in targets:
        raise InvalidInputError(
            f"{name} has no VSS targets: key commands change the key ring, other names are unknown"
        )
    return targets[name]
