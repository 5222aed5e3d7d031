"""The device model: a device is described by services, each with typed properties, actions and
events (the shape of Xiaomi's MIoT specs), and a device driver is anything that follows
:class:`DeviceDriver`.

Names: a device is ``<kind>:<id>`` (``light:hall``, ``car:LSJWH4097PN000001``); a property,
action or event is ``<service>.<name>`` inside its device (``light.brightness``), and
``<device>/<service>.<name>`` outside it (``light:hall/light.brightness``). For the car the
service is a VSS branch and the name a leaf, so its property refs are VSS paths
(``car:VIN/Vehicle.Cabin.HVAC.IsAirConditioningActive``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol, TypeAlias

from smartev.spec.errors import InvalidValueError, SpecError, show_value
from smartev.spec.vss_types import format_number

Scalar: TypeAlias = bool | int | float | str

DEVICE_ID: Final = re.compile(r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")


class DeviceSpecError(SpecError):
    """A device spec is malformed, or a name does not exist in one (the message names it)."""


class UnknownMemberError(DeviceSpecError, LookupError):
    """A property, action or event ``ref`` does not exist in a device's spec."""

    def __init__(self, kind: str, what: str, ref: str, known: list[str]) -> None:
        shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        super().__init__(f"{kind} has no {what} {show_value(ref)}; it has: {shown or 'none'}")
        self.ref = ref


class Format(StrEnum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STRING = "string"


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    NOTIFY = "notify"


READ_NOTIFY: Final = frozenset({Access.READ, Access.NOTIFY})
READ_WRITE_NOTIFY: Final = frozenset({Access.READ, Access.WRITE, Access.NOTIFY})


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """A typed value: a property of a service, or an argument of an action or event.

    ``values`` lists the allowed values of an enumerated property (strings or ints); ``low`` and
    ``high`` bound numbers inclusively; ``step`` is a UI hint, not a rule.
    """

    name: str
    format: Format
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    values: tuple[Scalar, ...] = ()
    access: frozenset[Access] = READ_NOTIFY
    description: str = ""
    required: bool = True  # for action and event arguments only

    @property
    def writable(self) -> bool:
        return Access.WRITE in self.access

    def validate(self, value: object, where: str = "") -> Scalar:
        """The value in its canonical type, or :class:`InvalidValueError` naming the rule.

        Types are strict: a bool is not an int, an int is a float, nothing is parsed from text.
        """
        path = where or self.name
        if self.format is Format.BOOL:
            if type(value) is not bool:
                raise InvalidValueError(path, "type", value, "must be true or false")
            return value
        if self.format is Format.STRING:
            if not isinstance(value, str):
                raise InvalidValueError(path, "type", value, "must be text")
            checked: Scalar = str(value)  # a str subclass (a StrEnum member) becomes plain text
        elif self.format is Format.INT:
            if type(value) is not int:
                raise InvalidValueError(path, "type", value, "must be an integer")
            checked = value
        else:
            if type(value) not in (int, float):
                raise InvalidValueError(path, "type", value, "must be a number")
            assert isinstance(value, int | float)
            try:
                checked = float(value)
            except OverflowError:  # an int too large for a float (10**400)
                raise InvalidValueError(path, "range", value, "must fit in a float") from None
            if not math.isfinite(checked):
                raise InvalidValueError(path, "finite", value, "must be a finite number")
        if self.values and checked not in self.values:
            allowed = ", ".join(str(v) for v in self.values)
            raise InvalidValueError(path, "allowed", value, f"must be one of {allowed}")
        if isinstance(checked, int | float) and not isinstance(checked, bool):
            if self.low is not None and checked < self.low:
                raise InvalidValueError(path, "min", value, f"must be {self._bounds()}")
            if self.high is not None and checked > self.high:
                raise InvalidValueError(path, "max", value, f"must be {self._bounds()}")
        return checked

    def _bounds(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and self.high is not None:
            return f"{format_number(self.low)}..{format_number(self.high)}{unit}"
        if self.low is not None:
            return f"at least {format_number(self.low)}{unit}"
        assert self.high is not None
        return f"at most {format_number(self.high)}{unit}"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """Something a device does when asked: typed inputs in, typed outputs out."""

    name: str
    inputs: tuple[PropertySpec, ...] = ()
    outputs: tuple[PropertySpec, ...] = ()
    description: str = ""

    def check_inputs(self, args: Mapping[str, object], where: str = "") -> dict[str, Scalar]:
        """The arguments checked against ``inputs``: unknown names and missing required ones are
        refused, optional ones may be left out."""
        place = where or self.name
        known = {p.name: p for p in self.inputs}
        unknown = sorted(str(name) for name in set(args) - set(known))
        if unknown:
            expected = ", ".join(known) or "none"
            raise InvalidValueError(
                place,
                "unknown",
                unknown,
                f"unknown argument(s) {', '.join(unknown)}; expected: {expected}",
            )
        checked: dict[str, Scalar] = {}
        for name, spec in known.items():
            if name not in args:
                if not spec.required:
                    continue
                raise InvalidValueError(place, "missing", None, f"argument {name} is missing")
            checked[name] = spec.validate(args[name], f"{place} argument {name}")
        return checked


@dataclass(frozen=True, slots=True)
class EventSpec:
    """Something that happened on a device, with typed arguments."""

    name: str
    args: tuple[PropertySpec, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    properties: tuple[PropertySpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    events: tuple[EventSpec, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One kind of device. Lookups take ``service.name`` refs."""

    kind: str
    description: str
    services: tuple[ServiceSpec, ...]
    _properties: dict[str, PropertySpec] = field(init=False, repr=False, compare=False)
    _actions: dict[str, ActionSpec] = field(init=False, repr=False, compare=False)
    _events: dict[str, EventSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        props: dict[str, PropertySpec] = {}
        actions: dict[str, ActionSpec] = {}
        events: dict[str, EventSpec] = {}
        for service in self.services:
            for table, members in (
                (props, service.properties),
                (actions, service.actions),
                (events, service.events),
            ):
                for member in members:
                    ref = f"{service.name}.{member.name}"
                    if ref in table:
                        raise DeviceSpecError(f"{self.kind}: {ref} is declared twice")
                    table[ref] = member  # type: ignore[assignment]
        object.__setattr__(self, "_properties", props)
        object.__setattr__(self, "_actions", actions)
        object.__setattr__(self, "_events", events)

    @property
    def properties(self) -> Mapping[str, PropertySpec]:
        return self._properties

    @property
    def actions(self) -> Mapping[str, ActionSpec]:
        return self._actions

    @property
    def events(self) -> Mapping[str, EventSpec]:
        return self._events

    def property(self, ref: str) -> PropertySpec:
        try:
            return self._properties[ref]
        except KeyError:
            raise UnknownMemberError(self.kind, "property", ref, list(self._properties)) from None

    def action(self, ref: str) -> ActionSpec:
        try:
            return self._actions[ref]
        except KeyError:
            raise UnknownMemberError(self.kind, "action", ref, list(self._actions)) from None

    def event(self, ref: str) -> EventSpec:
        try:
            return self._events[ref]
        except KeyError:
            raise UnknownMemberError(self.kind, "event", ref, list(self._events)) from None

    def __iter__(self) -> Iterator[ServiceSpec]:
        return iter(self.services)


def split_ref(ref: str) -> tuple[str, str]:
    """``"light:hall/light.on"`` → ``("light:hall", "light.on")``; raises ValueError.

    The member needs a non-empty service and name (``light.``, ``.on`` and ``light.on/x`` are
    refused); a car's service holds dots itself (``Vehicle.Cabin.HVAC.IsAirConditioningActive``).
    """
    device, sep, member = ref.partition("/")
    names = member.split(".")
    if (
        not sep
        or not DEVICE_ID.fullmatch(device)
        or len(names) < 2
        or not all(names)
        or "/" in member
    ):
        raise ValueError(
            f"{show_value(ref)} is not <kind>:<id>/<service>.<name> (like light:hall/light.on)"
        )
    return device, member


# --- the driver interface: what a real or simulated device offers to the ecosystem -------------


class DeviceOfflineError(DeviceSpecError):
    """The device cannot be reached (now, or it went away in the middle of an action)."""


class DeviceActionError(DeviceSpecError):
    """The device refused or failed an action; the message says why in plain words."""


class DeviceSink(Protocol):
    """Where a driver reports what happens on its device (the registry implements it)."""

    def property_changed(self, device_id: str, ref: str, value: Scalar | None) -> None: ...

    def event_fired(self, device_id: str, ref: str, args: Mapping[str, Scalar]) -> None: ...

    def availability_changed(self, device_id: str, online: bool) -> None: ...


class DeviceDriver(Protocol):
    """A device as the ecosystem sees it, real or simulated.

    ``values()`` are the current property values by ref (a property not known yet is missing).
    ``call`` and ``write`` return when the device has done it or raise
    :class:`DeviceOfflineError` / :class:`DeviceActionError`; arguments arrive already checked
    against the spec. Changes are reported to the sink given to ``attach`` — also the changes
    an action causes, as they happen (a garage door: ``opening`` at once, ``open`` 12 s later).
    """

    @property
    def device_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> DeviceSpec: ...

    @property
    def online(self) -> bool: ...

    def values(self) -> Mapping[str, Scalar]: ...

    def attach(self, sink: DeviceSink) -> None: ...

    def call(self, ref: str, args: Mapping[str, Scalar]) -> Awaitable[Mapping[str, Scalar]]: ...

    def write(self, ref: str, value: Scalar) -> Awaitable[None]: ...
