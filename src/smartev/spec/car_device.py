"""The car as a device of the household: its spec built from a VSS catalog (every leaf a
property, every remote command an action, a few derived events), so automations treat a car like
any other device.

Properties: one service per VSS branch holding leaves, named by the branch path, each leaf a
property named by its last segment, so a property ref is the VSS path itself
(``Vehicle.Cabin.HVAC.IsAirConditioningActive``). Array leaves (``string[]``…) are left out: a
device property holds one scalar.

Actions: the remote commands, passed in by the caller (``spec/`` may not import ``vehicle/``) as
:class:`ActionSpec` s **named by the full command name** (``ActionSpec("door.lock")``,
``ActionSpec("hvac.set", inputs=(PropertySpec("temp_c", Format.FLOAT, low=15, high=30),))``).
The part before the first dot is the service, the rest the action, so the action ref is the
command name itself (``door.lock``). A command without a dot (``honk``, ``flash``) goes to the
``car`` service: its ref is ``car.honk``. :func:`car_action_ref` and :func:`car_command_name`
translate between the two; the ``car.`` prefix is reserved for that, so no command may start
with it.

Events: service ``car``, no arguments; :data:`CAR_EVENT_SIGNALS` says which VSS signal change
each one stands for. The ecosystem derives them from the car's values; this module only
declares them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from smartev.spec.catalog import Catalog
from smartev.spec.devices import (
    NAME,
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
from smartev.spec.vss_types import INT_RANGES, DataType, Kind, SignalSpec

CAR_KIND: Final = "car"
CAR_SERVICE: Final = "car"  # the car's events and its commands without a dot

_FORMATS: Final[Mapping[DataType, Format]] = {
    DataType.BOOLEAN: Format.BOOL,
    DataType.STRING: Format.STRING,
    DataType.FLOAT: Format.FLOAT,
    DataType.DOUBLE: Format.FLOAT,
    **{datatype: Format.INT for datatype in INT_RANGES},
}
_ACCESS: Final[Mapping[Kind, frozenset[Access]]] = {
    Kind.SENSOR: READ_NOTIFY,
    Kind.ACTUATOR: READ_WRITE_NOTIFY,
    Kind.ATTRIBUTE: frozenset({Access.READ}),
}


@dataclass(frozen=True, slots=True)
class CarEventSignal:
    """A car event stands for ``path`` changing to ``becomes`` (from anything else)."""

    path: str
    becomes: bool
    description: str


_CHARGING: Final = "Vehicle.Powertrain.TractionBattery.Charging"
_CABLE: Final = f"{_CHARGING}.ChargingPort.AnyPosition.IsChargingCableConnected"
_IS_CHARGING: Final = f"{_CHARGING}.IsCharging"
_DRIVER_DOOR_LOCKED: Final = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"

CAR_EVENT_SIGNALS: Final[Mapping[str, CarEventSignal]] = MappingProxyType(
    {
        "car.plugged_in": CarEventSignal(_CABLE, True, "a charging cable was plugged in"),
        "car.unplugged": CarEventSignal(_CABLE, False, "the charging cable was unplugged"),
        "car.charging_started": CarEventSignal(_IS_CHARGING, True, "the battery began charging"),
        "car.charging_finished": CarEventSignal(
            _IS_CHARGING, False, "the battery stopped charging"
        ),
        # The driver's door stands for the car: central locking moves every door together.
        "car.locked": CarEventSignal(_DRIVER_DOOR_LOCKED, True, "the car was locked"),
        "car.unlocked": CarEventSignal(_DRIVER_DOOR_LOCKED, False, "the car was unlocked"),
    }
)


def car_action_ref(command: str) -> str:
    """A remote command's action ref: ``door.lock`` → ``door.lock``, ``honk`` → ``car.honk``."""
    return command if "." in command else f"{CAR_SERVICE}.{command}"


def car_command_name(ref: str) -> str:
    """The remote command of a car action ref: ``car.honk`` → ``honk``, ``door.lock`` itself."""
    return ref.removeprefix(f"{CAR_SERVICE}.")


def car_spec(catalog: Catalog, actions: Iterable[ActionSpec] = ()) -> DeviceSpec:
    """The spec of a car whose signals are ``catalog`` and whose remote commands are ``actions``
    (named by the full command name, see the module's docstring).

    Raises :class:`DeviceSpecError` for a command name that is not ``<service>.<action>`` or a
    bare name in lower-case words, that starts with ``car.``, or that is given twice.
    """
    branches: dict[str, list[PropertySpec]] = {}
    for signal in catalog:
        prop = _leaf_property(signal)
        if prop is not None:
            branch = signal.path[: -len(prop.name) - 1]
            branches.setdefault(branch, []).append(prop)
    services = [
        ServiceSpec(branch, properties=tuple(props)) for branch, props in sorted(branches.items())
    ]
    grouped: dict[str, list[ActionSpec]] = {CAR_SERVICE: []}
    for action in actions:
        service, name = _split_command(action.name)
        grouped.setdefault(service, []).append(dataclasses.replace(action, name=name))
    events = tuple(
        EventSpec(ref.partition(".")[2], description=signal.description)
        for ref, signal in CAR_EVENT_SIGNALS.items()
    )
    services.append(
        ServiceSpec(
            CAR_SERVICE,
            actions=tuple(grouped.pop(CAR_SERVICE)),
            events=events,
            description="what happened to the car, and its commands that have no service",
        )
    )
    services.extend(
        ServiceSpec(service, actions=tuple(members)) for service, members in grouped.items()
    )
    return DeviceSpec(
        CAR_KIND, "an electric car, its VSS signals and remote commands", tuple(services)
    )


def _leaf_property(signal: SignalSpec) -> PropertySpec | None:
    if signal.datatype.is_array:
        return None
    low, high = signal.min, signal.max
    if signal.datatype in INT_RANGES:
        # Bounded by the datatype when VSS gives none, as the car's broker checks it (uint8: 0..255)
        own_low, own_high = INT_RANGES[signal.datatype]
        low = own_low if low is None else low
        high = own_high if high is None else high
    values = tuple(v for v in signal.allowed or () if not isinstance(v, tuple))
    return PropertySpec(
        signal.path.rpartition(".")[2],
        _FORMATS[signal.datatype],
        unit=signal.unit,
        low=low,
        high=high,
        values=values,
        access=_ACCESS[signal.kind],
        description=signal.description,
    )


def _split_command(command: str) -> tuple[str, str]:
    service, dot, name = command.partition(".")
    if not dot:
        service, name = CAR_SERVICE, command
    elif service == CAR_SERVICE:
        raise DeviceSpecError(
            f"car command {command!r}: the service {CAR_SERVICE!r} is reserved for the car's "
            f"events and its commands without a dot; name it <service>.<action> with another "
            "service"
        )
    if not NAME.fullmatch(service) or not NAME.fullmatch(name):
        raise DeviceSpecError(
            f"car command {command!r} is not <service>.<action> or <action> in lower-case "
            "words (like door.lock or honk)"
        )
    return service, name
