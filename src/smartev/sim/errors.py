"""Errors of the simulator."""

from __future__ import annotations

from typing import Literal

from smartev.core.errors import InvalidInputError, SmartevError

Rejection = Literal["invalid_value", "not_plugged_in", "plugged_in", "unsafe_while_moving"]


class SimError(SmartevError):
    """Root of the simulator's errors."""


class InvalidSpecError(SimError, InvalidInputError):
    """A vehicle spec has a missing or impossible field; the message names it."""


class InvalidCycleError(SimError, InvalidInputError):
    """A drive cycle or route is malformed; the message names the line or field."""


class CarInputError(SimError, InvalidInputError):
    """A bad argument to the simulated car (a negative step, a SoC outside 0..1)."""


class ActuatorRejectedError(CarInputError):
    """The car refused an actuator target or a driver request in its present state.

    ``actuator`` names what was asked (``hvac.setpoint``, ``charging``, ``drive``…), ``reason`` is
    one of the rejection reasons of a command's life (docs/architecture.md, "Commands").
    """

    def __init__(self, actuator: str, reason: Rejection, message: str) -> None:
        super().__init__(message)
        self.actuator = actuator
        self.reason = reason
