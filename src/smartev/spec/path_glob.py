"""Signal path patterns with the wildcard rules of Eclipse KUKSA databroker.

The rules (from the databroker's ``doc/wildcard_matching.md`` and the tests in
``databroker/src/glob.rs``, eclipse-kuksa/kuksa-databroker at e37f1388), on dot-separated paths:

- ``""`` (and, as in the databroker, the two characters ``""``) matches every signal;
- a pattern without ``*`` matches the signal with that path and every signal below the branch
  with that path: ``Vehicle.Cabin.Sunroof`` matches ``Vehicle.Cabin.Sunroof.Shade.Position``, but
  never a longer name (``Vehicle.TraveledDistance`` does not match
  ``Vehicle.TraveledDistanceSinceStart``, ``Vehic`` matches nothing);
- ``*`` as a whole segment matches exactly one segment: ``Vehicle.Cabin.Sunroof.*`` matches the
  direct children, ``*.*`` the signals two levels deep, ``*`` alone nothing in VSS;
- ``**`` as a whole segment matches zero or more segments: ``Vehicle.Cabin.Sunroof.**`` is the
  same as ``Vehicle.Cabin.Sunroof``, ``Vehicle.Cabin.Sunroof.**.Position`` matches
  ``….Sunroof.Position`` and ``….Sunroof.Shade.Position``, ``**.Sunroof`` matches nothing
  (Sunroof is a branch) and ``**`` everything;
- ``*`` inside a segment matches any run of characters within that segment (``Is*Open``), as the
  ``glob-match`` crate behind the databroker does.

A pattern is malformed (:class:`~smartev.spec.errors.InvalidPatternError`) if it has an empty
segment (a leading, trailing or doubled dot) or whitespace or ``:`` in it, as the databroker's
``is_valid_pattern`` says. Two deliberate differences: ``?``, ``[…]`` and ``{…}``, which
``glob-match`` would interpret, are plain characters here (VSS names never contain them); and
``**`` followed by several ``*`` works here by the rules above (``**.*.*.*.Position`` also selects
``Vehicle.Body.Hood.Position``), where the databroker's matcher misses some paths (a known
``glob-match`` limitation; the databroker marks that test as ignored).
"""

from __future__ import annotations

import re
from typing import Final

from smartev.spec.errors import InvalidPatternError

_ANY_DEPTH: Final = "**"
_ONE: Final = "*"
_FORBIDDEN = re.compile(r"[\s:]")

_Token = str | re.Pattern[str]


class PathPattern:
    """A compiled path pattern; ``literal`` is set when it has no wildcard at all."""

    __slots__ = ("_closure", "_tokens", "literal", "text")

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        if pattern in ("", '""'):
            pattern = _ANY_DEPTH
        segments = pattern.split(".")
        for index, segment in enumerate(segments):
            if not segment:
                raise InvalidPatternError(self.text, f"segment {index + 1} is empty")
            if _FORBIDDEN.search(segment):
                raise InvalidPatternError(
                    self.text, f"segment {segment!r} contains whitespace or ':'"
                )
        self.literal: str | None = None if "*" in pattern else pattern
        tokens: list[_Token] = []
        for segment in segments:
            if segment == _ANY_DEPTH:
                if tokens and tokens[-1] == _ANY_DEPTH:
                    continue  # "**.**" is "**"; collapsing keeps matching linear
                tokens.append(_ANY_DEPTH)
            elif segment == _ONE or "*" not in segment:
                tokens.append(segment)
            else:
                parts = (re.escape(part) for part in re.split(r"\*+", segment))
                tokens.append(re.compile("[^.]*".join(parts)))
        self._tokens = tuple(tokens)
        # Positions reachable from position i without consuming a segment: "**" may match none.
        closure = [(i, i + 1) if token == _ANY_DEPTH else (i,) for i, token in enumerate(tokens)]
        self._closure = (*closure, (len(tokens),))

    def __repr__(self) -> str:
        return f"PathPattern({self.text!r})"

    def matches(self, path: str) -> bool:
        """True if the signal ``path`` is selected by this pattern."""
        if self.literal is not None:
            return path == self.literal or path.startswith(self.literal + ".")
        # A set of positions in the token list, advanced one path segment at a time: linear in
        # len(path) x len(pattern), where a backtracking regex could blow up on many "**".
        tokens = self._tokens
        end = len(tokens)
        states = set(self._closure[0])
        for segment in path.split("."):
            following: set[int] = set()
            for i in states:
                if i == end:
                    continue
                token = tokens[i]
                if token == _ANY_DEPTH:
                    following.update(self._closure[i])
                elif token in (_ONE, segment) or (
                    isinstance(token, re.Pattern) and token.fullmatch(segment)
                ):
                    following.update(self._closure[i + 1])
            if not following:
                return False
            states = following
        return end in states
