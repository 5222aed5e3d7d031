"""One VSS signal's definition (:class:`SignalSpec`) and the rules a value must meet to be set.

A value is accepted only in the Python type that matches the signal's datatype; nothing is parsed
from text, because KUKSA clients send typed values and only text UIs hold strings:

- ``boolean``: a ``bool`` (not 0/1, not ``"true"``, not ``numpy.bool_``);
- ``int8`` … ``uint64``: an ``int`` that is not a ``bool`` (any ``numbers.Integral``, so numpy
  integers too, returned as ``int``), within the datatype's own range (rule ``range``);
- ``float``/``double``: an ``int`` or ``float`` (any ``numbers.Real`` except ``bool``), returned
  as ``float``; NaN and ±inf are refused (rule ``finite``), and a ``float`` must fit in 32 bits
  (rule ``range``);
- ``string``: a ``str``;
- ``T[]``: a ``list`` or ``tuple`` whose items each meet ``T``'s rules, returned as a tuple.

Then the signal's own rules, inclusive, item by item for arrays as KUKSA databroker does:
``min``, ``max``, ``allowed`` (the value is one of the listed ones) and ``pattern`` (a string
fully matches the regular expression, e.g. the VIN's). Every refusal is an
:class:`~smartev.spec.errors.InvalidValueError` naming the path and the rule.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from smartev.spec.errors import CatalogError, InvalidValueError

Scalar: TypeAlias = bool | int | float | str
Value: TypeAlias = Scalar | tuple[Scalar, ...]

FLOAT32_MAX = 3.4028234663852886e38


class Kind(StrEnum):
    SENSOR = "sensor"
    ACTUATOR = "actuator"
    ATTRIBUTE = "attribute"


class DataType(StrEnum):
    """The VSS primitive datatypes and their arrays (VSS 6.0 uses 13 of these 24)."""

    BOOLEAN = "boolean"
    STRING = "string"
    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    UINT64 = "uint64"
    FLOAT = "float"
    DOUBLE = "double"
    BOOLEAN_ARRAY = "boolean[]"
    STRING_ARRAY = "string[]"
    INT8_ARRAY = "int8[]"
    INT16_ARRAY = "int16[]"
    INT32_ARRAY = "int32[]"
    INT64_ARRAY = "int64[]"
    UINT8_ARRAY = "uint8[]"
    UINT16_ARRAY = "uint16[]"
    UINT32_ARRAY = "uint32[]"
    UINT64_ARRAY = "uint64[]"
    FLOAT_ARRAY = "float[]"
    DOUBLE_ARRAY = "double[]"

    @property
    def is_array(self) -> bool:
        return _ELEMENT[self] is not self

    @property
    def element(self) -> DataType:
        """The datatype of one item: ``uint8`` for ``uint8[]``, itself for a scalar type."""
        return _ELEMENT[self]

    @property
    def is_numeric(self) -> bool:
        """True for integer and floating types and their arrays."""
        return _ELEMENT[self] in INT_RANGES or _ELEMENT[self] in _FLOATS


_ELEMENT = {datatype: DataType(datatype.value.removesuffix("[]")) for datatype in DataType}


INT_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT8: (-(2**7), 2**7 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT8: (0, 2**8 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
_FLOATS = frozenset({DataType.FLOAT, DataType.DOUBLE})


def format_number(number: float) -> str:
    """``100`` for 100.0, ``0.5`` for 0.5: bounds read as people write them."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


class _RuleError(Exception):
    """Internal: a value broke ``rule``; turned into an InvalidValueError by the caller."""

    def __init__(self, rule: str, requirement: str) -> None:
        super().__init__(requirement)
        self.rule = rule
        self.requirement = requirement


def _as_type(element: DataType, value: object) -> Scalar:
    """``value`` in the Python type of ``element``, or a refusal with rule type/range/finite."""
    if element in INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int | numbers.Integral):
            raise _RuleError("type", f"expected {element} (an integer)")
        number = int(value)
        low, high = INT_RANGES[element]
        if not low <= number <= high:
            raise _RuleError("range", f"must be {low}..{high} ({element})")
        return number
    if element in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, float | int | numbers.Real):
            raise _RuleError("type", f"expected {element} (a number)")
        try:
            real = float(value)
        except OverflowError:
            raise _RuleError("range", f"must fit in a {element}") from None
        if not math.isfinite(real):
            raise _RuleError("finite", "must be a finite number")
        if element is DataType.FLOAT and abs(real) > FLOAT32_MAX:
            raise _RuleError("range", "must fit in a float (|x| <= 3.4028235e+38)")
        return real
    if element is DataType.BOOLEAN:
        if isinstance(value, bool):
            return value
        raise _RuleError("type", "expected boolean")
    if isinstance(value, str):
        return str(value)
    raise _RuleError("type", "expected string")


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """A VSS leaf: a sensor, actuator or attribute, with the rules its values meet.

    Construction checks that the definition is coherent (bounds only on numeric types, min <= max,
    allowed values and the default valid for the datatype, a pattern that compiles) and raises
    :class:`~smartev.spec.errors.CatalogError` naming the path otherwise. ``allowed`` and
    ``default`` are stored normalized (tuples, floats for float types).
    """

    path: str
    id: int
    kind: Kind
    datatype: DataType
    unit: str | None
    min: float | int | None
    max: float | int | None
    allowed: tuple[Value, ...] | None
    description: str
    default: Value | None = None
    deprecation: str | None = None
    comment: str | None = None
    pattern: str | None = None
    # The common case checked in a few comparisons (see _fast_path): the Python type a value
    # must have, and the bounds it must lie in, when no allowed values or pattern apply.
    _fast_type: type | None = field(default=None, init=False, repr=False, compare=False)
    _fast_low: float = field(default=0.0, init=False, repr=False, compare=False)
    _fast_high: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.kind) is not Kind or type(self.datatype) is not DataType:
            try:  # given as plain strings
                object.__setattr__(self, "kind", Kind(self.kind))
                object.__setattr__(self, "datatype", DataType(self.datatype))
            except ValueError as exc:
                raise CatalogError(f"{self.path}: {exc}") from None
        for name in ("min", "max"):
            bound = getattr(self, name)
            if bound is None:
                continue
            if not self.datatype.is_numeric:
                raise CatalogError(f"{self.path}: {name} given for a {self.datatype} signal")
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise CatalogError(f"{self.path}: {name} {bound!r} is not a number")
            if isinstance(bound, float) and not math.isfinite(bound):
                raise CatalogError(f"{self.path}: {name} {bound!r} is not finite")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise CatalogError(f"{self.path}: min {self.min!r} is above max {self.max!r}")
        if self.pattern is not None:
            if self.datatype.element is not DataType.STRING:
                raise CatalogError(f"{self.path}: pattern given for a {self.datatype} signal")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise CatalogError(f"{self.path}: pattern {self.pattern!r}: {exc}") from None
        if self.allowed is not None:
            object.__setattr__(self, "allowed", self._normalized_allowed(self.allowed))
        if self.default is not None:
            try:
                object.__setattr__(self, "default", self.validate(self.default))
            except InvalidValueError as exc:
                raise CatalogError(f"{self.path}: default: {exc}") from None
        self._fast_path()

    def _fast_path(self) -> None:
        """Precompute the few comparisons that validate a plain value (the broker's hot path)."""
        if self.datatype.is_array or self.allowed is not None or self.pattern is not None:
            return
        element = self.datatype.element
        low: float = -math.inf
        high: float = math.inf
        if element in INT_RANGES:
            kind: type = int
            low, high = INT_RANGES[element]
        elif element in _FLOATS:
            kind = float
            if element is DataType.FLOAT:
                low, high = -FLOAT32_MAX, FLOAT32_MAX
            else:
                low, high = -sys.float_info.max, sys.float_info.max
        elif element is DataType.BOOLEAN:
            kind = bool
        else:
            kind = str
        if self.min is not None:
            low = max(low, self.min)
        if self.max is not None:
            high = min(high, self.max)
        object.__setattr__(self, "_fast_type", kind)
        object.__setattr__(self, "_fast_low", low)
        object.__setattr__(self, "_fast_high", high)

    def _normalized_allowed(self, allowed: object) -> tuple[Value, ...]:
        if isinstance(allowed, str) or not isinstance(allowed, list | tuple) or not allowed:
            raise CatalogError(f"{self.path}: allowed must be a non-empty list, not {allowed!r}")
        element = self.datatype.element
        normalized: list[Value] = []
        for item in allowed:
            try:
                normalized.append(_as_type(element, item))
            except _RuleError as refusal:
                raise CatalogError(
                    f"{self.path}: allowed value {item!r}: {refusal.requirement}"
                ) from None
        return tuple(normalized)

    def validate(self, value: object) -> Value:
        """``value`` coerced to the datatype's Python type if it meets every rule of this signal.

        Raises :class:`~smartev.spec.errors.InvalidValueError` naming the path and the rule.
        """
        kind = self._fast_type
        # NaN fails the bounds comparison and falls through to the full check and its message.
        if (
            kind is not None
            and type(value) is kind
            and (kind is bool or kind is str or self._fast_low <= value <= self._fast_high)  # type: ignore[operator]
        ):
            return value  # type: ignore[return-value]
        if not self.datatype.is_array:
            try:
                return self._check_item(value)
            except _RuleError as refusal:
                raise InvalidValueError(
                    self.path, refusal.rule, value, refusal.requirement
                ) from None
        if not isinstance(value, list | tuple):
            raise InvalidValueError(
                self.path, "type", value, f"expected {self.datatype} (a list or tuple)"
            )
        items: list[Scalar] = []
        for index, item in enumerate(value):
            try:
                items.append(self._check_item(item))
            except _RuleError as refusal:
                raise InvalidValueError(
                    self.path, refusal.rule, item, f"item {index}: {refusal.requirement}"
                ) from None
        return tuple(items)

    def validate_target(self, value: object) -> Value:
        """Like :meth:`validate`, for a target (KUKSA ``Actuate``): only actuators take one."""
        if self.kind is not Kind.ACTUATOR:
            article = "an" if self.kind is Kind.ATTRIBUTE else "a"
            raise InvalidValueError(
                self.path, "kind", value, f"is {article} {self.kind}; only actuators take a target"
            )
        return self.validate(value)

    def _check_item(self, value: object) -> Scalar:
        item = _as_type(self.datatype.element, value)
        if isinstance(item, int | float) and not isinstance(item, bool):
            if self.min is not None and item < self.min:
                raise _RuleError("min", self._bounds())
            if self.max is not None and item > self.max:
                raise _RuleError("max", self._bounds())
        if self.allowed is not None and item not in self.allowed:
            shown = ", ".join(repr(a) for a in self.allowed)
            raise _RuleError("allowed", f"must be one of {shown}")
        if (
            isinstance(item, str)
            and self.pattern is not None
            and re.fullmatch(self.pattern, item) is None
        ):
            raise _RuleError("pattern", f"must match {self.pattern}")
        return item

    def _bounds(self) -> str:
        if self.min is not None and self.max is not None:
            return f"must be {format_number(self.min)}..{format_number(self.max)}"
        if self.min is not None:
            return f"must be >= {format_number(self.min)}"
        assert self.max is not None
        return f"must be <= {format_number(self.max)}"
