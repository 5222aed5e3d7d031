"""Errors of the signal catalog: unknown paths, invalid values, bad patterns, malformed catalogs."""

from __future__ import annotations

from collections.abc import Sequence

from smartev.core.errors import InvalidInputError, SmartevError

_MAX_SHOWN = 80


def show_value(value: object) -> str:
    """``repr`` of a value for an error message, shortened so a huge value cannot flood a log."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


class SpecError(SmartevError):
    """Root of the spec package's errors."""


class UnknownPathError(SpecError, InvalidInputError):
    """A path names no signal of the catalog; the message suggests close matches when there are."""

    def __init__(self, path: str, *, suggestions: Sequence[str] = (), note: str = "") -> None:
        message = f"unknown signal path {show_value(path)}"
        if note:
            message += f": {note}"
        if suggestions:
            message += " (did you mean " + " or ".join(repr(s) for s in suggestions) + "?)"
        super().__init__(message)
        self.path = path
        self.suggestions = tuple(suggestions)


class InvalidValueError(SpecError, InvalidInputError):
    """A value breaks a signal's rule.

    ``rule`` is one of the stable strings ``type``, ``range`` (outside the datatype's own range,
    e.g. 300 for a uint8), ``finite``, ``min``, ``max``, ``allowed``, ``pattern`` and ``kind``
    (a target for a signal that is not an actuator). ``requirement`` is the part of the message
    after the colon: ``must be 0..100``.
    """

    def __init__(self, path: str, rule: str, value: object, requirement: str) -> None:
        super().__init__(f"invalid value {show_value(value)} for {path}: {requirement}")
        self.path = path
        self.rule = rule
        self.value = value
        self.requirement = requirement


class InvalidPatternError(SpecError, InvalidInputError):
    """A path pattern (``Vehicle.Cabin.*``) is malformed; the message says where."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"invalid path pattern {show_value(pattern)}: {reason}")
        self.pattern = pattern
        self.reason = reason


class CatalogError(SpecError):
    """A catalog file or tree is malformed; the message names the source, the node and the fault."""
