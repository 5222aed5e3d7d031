"""Who may do what: access rights from scopes in KUKSA's format.

A scope is ``ACTION[:SUBACTION][:PATH]``, several separated by spaces, as in a JWT's ``scope``
claim: ``read``, ``read:Vehicle.Speed``, ``actuate:Vehicle.Cabin``, ``provide:Vehicle.*.IsOpen``,
``provide:data:Vehicle.Speed``. Rules (after KUKSA's authorization design):

- no path: the action on everything;
- a path names a branch or a signal and covers everything below it;
- ``*`` matches exactly one path segment (``Vehicle.*.IsOpen`` does not reach
  ``Vehicle.Body.Trunk.Rear.IsOpen``; ``Vehicle.*.*.*.IsOpen`` does);
- ``actuate`` and ``provide`` include ``read``; ``provide`` covers both publishing values
  (``provide:data``) and serving actuation requests (``provide:actuation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from smartev.core.errors import InvalidInputError


class Action(StrEnum):
    READ = "read"
    ACTUATE = "actuate"
    PROVIDE_DATA = "provide:data"
    PROVIDE_ACTUATION = "provide:actuation"


_IMPLIES: dict[str, tuple[Action, ...]] = {
    "read": (Action.READ,),
    "actuate": (Action.ACTUATE, Action.READ),
    "provide": (Action.PROVIDE_DATA, Action.PROVIDE_ACTUATION, Action.READ),
    "provide:data": (Action.PROVIDE_DATA, Action.READ),
    "provide:actuation": (Action.PROVIDE_ACTUATION, Action.READ),
}
# Scopes that are not about signals (e.g. "openid", "profile") are ignored, as KUKSA does.
_SIGNAL_ACTIONS = ("read", "actuate", "provide")


class InvalidScopeError(InvalidInputError):
    """A scope string that is about signals but malformed."""


def _matches(pattern: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    if len(segments) < len(pattern):
        return False
    return all(p in ("*", s) for p, s in zip(pattern, segments, strict=False))


@dataclass(frozen=True, slots=True)
class Grant:
    action: Action
    pattern: tuple[str, ...] | None  # None: every path

    def covers(self, segments: tuple[str, ...]) -> bool:
        return self.pattern is None or _matches(self.pattern, segments)


def _parse_one(scope: str) -> list[Grant]:
    head, _, rest = scope.partition(":")
    if head not in _SIGNAL_ACTIONS:
        return []
    action_key = head
    path = rest
    if head == "provide" and rest.split(":", 1)[0] in ("data", "actuation"):
        sub, _, path = rest.partition(":")
        action_key = f"provide:{sub}"
    if path and (":" in path or "" in path.split(".") or any(c.isspace() for c in path)):
        raise InvalidScopeError(f"scope {scope!r}: path {path!r} is not a VSS path pattern")
    pattern = tuple(path.split(".")) if path else None
    return [Grant(action, pattern) for action in _IMPLIES[action_key]]


class Access:
    """The rights of one client. ``Access.full()`` is every right (in-process trusted callers)."""

    __slots__ = ("_cache", "_grants", "_unrestricted", "scope")

    def __init__(self, grants: tuple[Grant, ...], *, scope: str = "", unrestricted: bool = False):
        self._grants = grants
        self._unrestricted = unrestricted
        self._cache: dict[tuple[Action, str], bool] = {}
        self.scope = scope

    @classmethod
    def full(cls) -> Access:
        return _FULL

    @classmethod
    def from_scope(cls, scope: str) -> Access:
        """Rights from a space-separated scope string (a JWT's ``scope`` claim)."""
        grants: list[Grant] = []
        for item in scope.split():
            grants.extend(_parse_one(item))
        return cls(tuple(grants), scope=scope)

    def allows(self, action: Action, path: str) -> bool:
        if self._unrestricted:
            return True
        key = (action, path)
        hit = self._cache.get(key)
        if hit is None:
            segments = _split(path)
            hit = any(g.action is action and g.covers(segments) for g in self._grants)
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        return hit


_FULL = Access((), scope="*", unrestricted=True)


@lru_cache(maxsize=8192)
def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))
