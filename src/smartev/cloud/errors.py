"""The cloud's own errors for what a caller asked of households, sharing and geofences.

Each says whose fault it is and maps to one HTTP status at the API's edge: something the caller
may not see (not found), may see but not do (not permitted), a state that forbids the change
(conflict), or something that existed and is used up (gone).
"""

from __future__ import annotations

from smartev.core.errors import InvalidInputError, SmartevError


class CloudError(SmartevError):
    """Root of the errors the cloud's domain modules raise on purpose."""


class NotFoundError(CloudError, InvalidInputError):
    """The thing does not exist, or the caller may not know that it does."""


class NotPermittedError(CloudError, InvalidInputError):
    """The caller sees the thing but their role does not allow the action; says which rule."""


class ConflictError(CloudError, InvalidInputError):
    """The current state forbids the change (already a member, the owner cannot leave, …)."""


class GoneError(CloudError, InvalidInputError):
    """The thing existed but can no longer be used (an invite expired, revoked or used)."""


class InvalidFieldError(CloudError, InvalidInputError):
    """One field of the request is wrong in a way its type alone cannot say."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
