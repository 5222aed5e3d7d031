"""Errors of the car's software. Each maps onto one gRPC status code at the API's edge."""

from __future__ import annotations

from smartev.core.errors import InvalidInputError, PeerError, SmartevError


class VehicleError(SmartevError):
    """Root of the car software's errors."""


class PermissionDeniedError(VehicleError):
    """The client's scopes do not allow this on this path."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class NotActuatorError(VehicleError, InvalidInputError):
    """A target was asked for a sensor or an attribute."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(f"{path} is a {kind}, not an actuator: it cannot be actuated")
        self.path = path


class ProviderUnavailableError(VehicleError, PeerError):
    """No provider serves this actuator now, so the target could not be delivered."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no provider is available for {path}")
        self.path = path


class AlreadyProvidedError(VehicleError):
    """Another provider already owns this signal."""

    def __init__(self, path: str, owner: str) -> None:
        super().__init__(f"{path} is already provided by {owner!r}")
        self.path = path


class UnsafeRequestError(VehicleError, InvalidInputError):
    """A safety rule refused the target. ``reason`` is the command-life rejection code."""

    def __init__(self, path: str, rule: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.rule = rule
        self.reason = reason
