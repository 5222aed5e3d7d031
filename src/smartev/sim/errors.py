"""Errors of the simulator."""

from __future__ import annotations

from smartev.core.errors import InvalidInputError, SmartevError


class SimError(SmartevError):
    """Root of the simulator's errors."""


class InvalidSpecError(SimError, InvalidInputError):
    """A vehicle spec has a missing or impossible field; the message names it."""


class InvalidCycleError(SimError, InvalidInputError):
    """A drive cycle or route is malformed; the message names the line or field."""
