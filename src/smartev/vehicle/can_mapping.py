"""The CAN-to-VSS mapping: which DBC signal feeds which VSS path, and how its value is converted.

A mapping file is YAML with one list, ``signals``; each entry names a VSS ``path``, the DBC
``message`` and ``signal`` it comes from, and optionally how to convert the (already DBC-scaled)
value and how often to publish it::

    signals:
      - path: Vehicle.Powertrain.TractionBattery.CurrentCurrent
        message: BatteryStatus
        signal: BatteryCurrent
        scale: -1.0              # value * scale + offset (default 1.0 and 0.0)
        offset: 0.0
        min_interval_ms: 500     # publish at most once per 500 ms (default 0: every frame)
        on_change: true          # publish only a value that differs from the last one published
        datatype: float          # optional VSS datatype the value is converted to
      - path: Vehicle.Powertrain.TractionBattery.Charging.IsCharging
        message: ChargingStatus
        signal: ChargingState
        map: {CHARGING: true, CONNECTED: false}   # DBC value or choice name -> VSS value

Conversion rules, in order (:meth:`SignalMapping.convert`):

1. ``map``: the DBC choice name is looked up first, then the number; a value not in the map is
   dropped. ``map`` excludes ``scale``/``offset``.
2. Without ``map``, a value the DBC names (``VAL_``) is published as its name (a ``str``) —
   unless the entry is numeric (a ``scale``/``offset`` other than 1/0, or a numeric
   ``datatype``): then it is dropped, because a named value in a numeric signal marks a state
   such as ``SNA`` (signal not available), not a quantity.
3. Numbers go through ``value * scale + offset``.
4. ``datatype`` (a VSS datatype name) converts the result: integers are rounded and must fit,
   ``boolean`` is "not zero", ``string`` accepts names only. A value that does not convert, or a
   float that is not finite, is dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast, get_args

import cantools.database
import yaml
from cantools.database.can import Database, Message, Signal
from cantools.database.errors import Error as CantoolsError
from cantools.database.namedsignalvalue import NamedSignalValue

from smartev.core.errors import InvalidInputError
from smartev.vehicle.errors import VehicleError

__all__ = [
    "EXAMPLE_DBC_PATH",
    "EXAMPLE_MAPPING_PATH",
    "CanMapping",
    "CanMappingError",
    "Datatype",
    "MapKey",
    "SignalMapping",
    "Value",
    "load_can_mapping",
    "load_dbc",
    "parse_can_mapping",
    "resolve_signal",
]

_DATA_DIR: Final = Path(__file__).parent / "data" / "can"
EXAMPLE_DBC_PATH: Final = _DATA_DIR / "example.dbc"
EXAMPLE_MAPPING_PATH: Final = _DATA_DIR / "example_mapping.yaml"

Value = bool | int | float | str
"""What a VSS path receives: plain Python values only."""
MapKey = int | float | str
"""A ``map`` key: a DBC (scaled) number or a DBC choice name."""
RawValue = int | float | str | NamedSignalValue
"""What cantools decodes a signal to."""

Datatype = Literal[
    "boolean",
    "string",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float",
    "double",
]
_DATATYPES: Final[frozenset[str]] = frozenset(get_args(Datatype))
_INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    f"{sign}int{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if sign == ""
    else (0, 2**bits - 1)
    for sign in ("", "u")
    for bits in (8, 16, 32, 64)
}
_ENTRY_FIELDS: Final = (
    "path",
    "message",
    "signal",
    "scale",
    "offset",
    "map",
    "min_interval_ms",
    "on_change",
    "datatype",
)
_NON_NUMERIC: Final = frozenset({"boolean", "string"})
_VSS_PATH: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+")


class CanMappingError(VehicleError, InvalidInputError):
    """A DBC file or a CAN mapping file is unreadable or wrong; the message names file and field."""


@dataclass(frozen=True)
class SignalMapping:
    """One DBC signal feeding one VSS path (one entry of a mapping file)."""

    path: str
    message: str
    signal: str
    scale: float = 1.0
    offset: float = 0.0
    value_map: Mapping[MapKey, Value] | None = None
    min_interval_ms: float = 0.0
    on_change: bool = False
    datatype: Datatype | None = None

    @property
    def is_numeric(self) -> bool:
        """Whether the entry declares a number (so a named DBC value is dropped, not published)."""
        has_linear = self.scale != 1.0 or self.offset != 0.0
        return has_linear or (self.datatype is not None and self.datatype not in _NON_NUMERIC)

    def convert(self, raw: RawValue) -> Value | None:
        """The VSS value for a decoded DBC value, or None when the value is to be dropped."""
        value = raw.name if isinstance(raw, NamedSignalValue) else raw
        if self.value_map is not None:
            hit = self.value_map.get(value)
            if hit is None and isinstance(raw, NamedSignalValue):
                hit = self.value_map.get(raw.value)
            return None if hit is None else _to_datatype(hit, self.datatype)
        if isinstance(value, str):
            return None if self.is_numeric else _to_datatype(value, self.datatype)
        if self.scale != 1.0 or self.offset != 0.0:
            value = value * self.scale + self.offset
        return _to_datatype(value, self.datatype)


def _to_datatype(value: Value, datatype: Datatype | None) -> Value | None:
    """``value`` converted to ``datatype``, or None when it does not fit."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if datatype is None:
        return value
    if datatype == "string":
        return value if isinstance(value, str) else None
    if isinstance(value, str):
        return None
    if datatype == "boolean":
        return bool(value)
    if isinstance(value, bool):
        return None
    if datatype in ("float", "double"):
        return float(value)
    low, high = _INT_RANGES[datatype]
    number = round(value)
    return number if low <= number <= high else None


@dataclass(frozen=True)
class CanMapping:
    """A whole mapping file: every VSS path fed from CAN, each at most once."""

    signals: tuple[SignalMapping, ...]

    def messages(self) -> frozenset[str]:
        """The DBC messages the mapping reads."""
        return frozenset(entry.message for entry in self.signals)


def load_dbc(path: str | Path) -> Database:
    """Read a CAN database (DBC, KCD, SYM or ARXML, by file extension)."""
    try:
        db = cantools.database.load_file(path)
    except OSError as exc:
        raise CanMappingError(f"cannot read CAN database {path}: {exc.strerror}") from exc
    except (CantoolsError, ValueError) as exc:
        raise CanMappingError(f"cannot parse CAN database {path}: {exc}") from exc
    if not isinstance(db, Database):
        raise CanMappingError(f"{path} is a diagnostics database, not a CAN database")
    return db


def load_can_mapping(path: str | Path, db: Database) -> CanMapping:
    """Read and check a mapping file against the CAN database its signals come from."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CanMappingError(f"cannot read CAN mapping {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CanMappingError(f"cannot read CAN mapping {path}: not UTF-8 text") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CanMappingError(f"CAN mapping {path} is not valid YAML: {exc}") from exc
    return parse_can_mapping(document, db, source=str(path))


def parse_can_mapping(document: object, db: Database, *, source: str = "mapping") -> CanMapping:
    """Check a parsed mapping document (``{"signals": [...]}``) against ``db``."""
    if not isinstance(document, dict) or set(document) != {"signals"}:
        raise CanMappingError(f"{source}: must be a mapping with one key, 'signals' (a list)")
    entries = document["signals"]
    if not isinstance(entries, list) or not entries:
        raise CanMappingError(f"{source}: 'signals' must be a non-empty list of entries")
    signals: list[SignalMapping] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        mapping = _parse_entry(entry, db, f"{source}: signals[{index}]")
        if mapping.path in first_index:
            raise CanMappingError(
                f"{source}: signals[{index}]: path {mapping.path} is already mapped by "
                f"signals[{first_index[mapping.path]}]; a VSS path can have one source only"
            )
        first_index[mapping.path] = index
        signals.append(mapping)
    return CanMapping(tuple(signals))


def resolve_signal(db: Database, message_name: str, signal_name: str) -> tuple[Message, Signal]:
    """The DBC message and signal an entry names; CanMappingError naming both if absent."""
    try:
        message = db.get_message_by_name(message_name)
    except KeyError:
        raise CanMappingError(
            f"message {message_name!r} (of signal {signal_name!r}) is not in the CAN database"
        ) from None
    try:
        signal = message.get_signal_by_name(signal_name)
    except KeyError:
        known = ", ".join(sorted(s.name for s in message.signals))
        raise CanMappingError(
            f"signal {signal_name!r} is not in message {message_name!r}; it has: {known}"
        ) from None
    if message.is_container:
        raise CanMappingError(f"message {message_name!r} is a container; containers unsupported")
    return message, signal


def _parse_entry(entry: object, db: Database, where: str) -> SignalMapping:
    if not isinstance(entry, dict):
        raise CanMappingError(f"{where}: must be a mapping with path, message and signal")
    path = entry.get("path")
    if isinstance(path, str):
        where = f"{where} ({path})"
    unknown = sorted(str(key) for key in entry if key not in _ENTRY_FIELDS)
    if unknown:
        raise CanMappingError(
            f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(_ENTRY_FIELDS)}"
        )
    for field in ("path", "message", "signal"):
        if not isinstance(entry.get(field), str) or not entry[field]:
            raise CanMappingError(f"{where}: field {field!r} is required and must be a string")
    if not _VSS_PATH.fullmatch(entry["path"]):
        raise CanMappingError(
            f"{where}: field 'path': {entry['path']!r} is not a VSS path like Vehicle.Speed"
        )
    try:
        _, signal = resolve_signal(db, entry["message"], entry["signal"])
    except CanMappingError as exc:
        raise CanMappingError(f"{where}: {exc}") from None
    if "map" in entry and ("scale" in entry or "offset" in entry):
        raise CanMappingError(f"{where}: give either 'map' or 'scale'/'offset', not both")
    datatype = _parse_datatype(entry.get("datatype"), where)
    value_map = None
    if "map" in entry:
        value_map = _parse_map(entry["map"], signal, datatype, where)
    return SignalMapping(
        path=entry["path"],
        message=entry["message"],
        signal=entry["signal"],
        scale=_number(entry, "scale", 1.0, where),
        offset=_number(entry, "offset", 0.0, where),
        value_map=value_map,
        min_interval_ms=_interval(entry, where),
        on_change=_flag(entry, "on_change", where),
        datatype=datatype,
    )


def _number(entry: dict[object, object], field: str, default: float, where: str) -> float:
    value = entry.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CanMappingError(f"{where}: field {field!r} must be a finite number, got {value!r}")
    return float(value)


def _interval(entry: dict[object, object], where: str) -> float:
    value = _number(entry, "min_interval_ms", 0.0, where)
    if value < 0:
        raise CanMappingError(f"{where}: field 'min_interval_ms' must be >= 0, got {value:g}")
    return value


def _flag(entry: dict[object, object], field: str, where: str) -> bool:
    value = entry.get(field, False)
    if not isinstance(value, bool):
        raise CanMappingError(f"{where}: field {field!r} must be true or false, got {value!r}")
    return value


def _parse_datatype(value: object, where: str) -> Datatype | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in _DATATYPES:
        known = ", ".join(sorted(_DATATYPES))
        raise CanMappingError(f"{where}: field 'datatype': {value!r} is not one of {known}")
    return cast(Datatype, value)


def _parse_map(
    value: object, signal: Signal, datatype: Datatype | None, where: str
) -> dict[MapKey, Value]:
    if not isinstance(value, dict) or not value:
        raise CanMappingError(f"{where}: field 'map' must be a non-empty mapping of from: to")
    choices = {str(choice) for choice in (signal.choices or {}).values()}
    result: dict[MapKey, Value] = {}
    for key, target in value.items():
        if isinstance(key, bool):
            # YAML 1.1 reads unquoted on/off/yes/no/true/false as booleans.
            raise CanMappingError(
                f"{where}: map key {key!r} is a YAML boolean; quote choice names like 'ON'"
            )
        if isinstance(key, str) and key not in choices:
            hint = f"its choices are {', '.join(sorted(choices))}" if choices else "it has none"
            raise CanMappingError(
                f"{where}: map key {key!r} is not a choice of signal {signal.name}; {hint}"
            )
        if not isinstance(key, int | float | str):
            raise CanMappingError(f"{where}: map key {key!r} must be a number or a choice name")
        if not isinstance(target, bool | int | float | str):
            raise CanMappingError(
                f"{where}: map value for {key!r} must be a boolean, number or string, "
                f"got {target!r}"
            )
        if _to_datatype(target, datatype) is None:
            raise CanMappingError(
                f"{where}: map value {target!r} for {key!r} is not a valid {datatype or 'value'}"
            )
        result[key] = target
    return result
