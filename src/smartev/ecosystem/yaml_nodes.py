"""Untrusted YAML text as a tree of positioned nodes, and typed reads from it that collect
problems (line, column, path, reason) instead of stopping at the first.

Booleans follow YAML 1.2's core schema: only ``true``/``false`` are booleans, so ``to: on``
stays the text ``"on"`` (YAML 1.1 would make it ``True``), and ``07:30`` stays text instead of
YAML 1.1's base-60 integer 450. Anchors, aliases and tags are refused (an alias can multiply a
small text into a huge tree), and so are texts past :data:`MAX_TEXT_BYTES`, trees past
:data:`MAX_NODES` nodes or deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, Final

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from smartev.ecosystem.errors import AutomationError, AutomationProblem
from smartev.spec.devices import Scalar
from smartev.spec.errors import show_value

MAX_TEXT_BYTES: Final = 64 * 1024
MAX_NODES: Final = 2000
MAX_DEPTH: Final = 12

_STR: Final = "tag:yaml.org,2002:str"
_INT: Final = "tag:yaml.org,2002:int"
_FLOAT: Final = "tag:yaml.org,2002:float"
_BOOL: Final = "tag:yaml.org,2002:bool"
_NULL: Final = "tag:yaml.org,2002:null"
_PLAIN_TAGS: Final = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

_INT_RE: Final = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_RE: Final = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)


class _Resolver(BaseResolver):
    """YAML 1.2 core schema resolution of plain scalars."""


_Resolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Resolver.add_implicit_resolver(_INT, re.compile(rf"^(?:{_INT_RE.pattern})$"), list("-+0123456789"))
_Resolver.add_implicit_resolver(
    _FLOAT, re.compile(rf"^(?:{_FLOAT_RE.pattern})$"), list("-+.0123456789")
)


class _RefusedError(Exception):
    """The text uses something we never accept; one problem, and no tree."""

    def __init__(self, line: int, column: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.column = column
        self.reason = reason


class _Loader(Reader, Scanner, Parser, Composer, _Resolver):
    """A composer that counts nodes and depth and refuses anchors, aliases and tags."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)
        self.node_count = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line, column = event.start_mark.line + 1, event.start_mark.column + 1
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _RefusedError(
                line,
                column,
                "YAML anchors and aliases (&name, *name) are not allowed; write each value out",
            )
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.tag not in (None, "!"):
            raise _RefusedError(
                line, column, f"YAML tags ({event.tag}) are not allowed; write plain values"
            )
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise _RefusedError(line, column, f"too large: more than {MAX_NODES} YAML nodes")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _RefusedError(line, column, f"nested deeper than {MAX_DEPTH} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        assert node is not None
        return node


def load_tree(text: str) -> Node:
    """The single document of ``text`` as a node tree; :class:`AutomationError` if the text is
    too large, not YAML, empty or uses anchors, aliases or tags."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise _error(1, 0, "", f"too large: more than {MAX_TEXT_BYTES // 1024} KiB of text")
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
    except _RefusedError as exc:
        raise _error(exc.line, exc.column, "", exc.reason) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 0)
        what = ": ".join(p for p in (exc.context, exc.problem) if p) or "malformed"
        raise _error(line, column, "", f"not valid YAML: {what}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise _error(line, 0, "", f"not valid YAML: {exc.reason} {exc.character!r}") from None
    except yaml.YAMLError as exc:
        raise _error(1, 0, "", f"not valid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise _error(1, 0, "", "the text is empty; expected a mapping")
    return node


def _error(line: int, column: int, path: str, reason: str) -> AutomationError:
    return AutomationError([AutomationProblem(line, column, path, reason)])


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def join(path: str, part: str | int) -> str:
    return f"{path}/{part}" if path else str(part)


def items_of(node: Node) -> Iterator[tuple[int, Node]]:
    """The items of a sequence node, or the node itself as the one item of a list."""
    if isinstance(node, SequenceNode):
        yield from enumerate(node.value)
    else:
        yield 0, node


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list" if node.value else "an empty list"
    if isinstance(node, ScalarNode) and node.value == "" and node.style is None:
        return "nothing (null)"
    return show_value(node.value)


class NodeReader:
    """Typed reads from nodes. A read that fails records a problem and returns ``None``."""

    def __init__(self) -> None:
        self.problems: list[AutomationProblem] = []

    def fail(self, node: Node, path: str, reason: str) -> None:
        mark = node.start_mark
        self.problems.append(AutomationProblem(mark.line + 1, mark.column + 1, path, reason))

    def raise_problems(self) -> None:
        if self.problems:
            raise AutomationError(self.problems)

    def mapping(
        self,
        node: Node,
        path: str,
        what: str,
        *,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
    ) -> dict[str, Node] | None:
        """Key → value node of a mapping with only the allowed keys and all the required ones."""
        if not isinstance(node, MappingNode):
            self.fail(node, path, f"{what} must be a mapping, not {describe(node)}")
            return None
        allowed = required + optional
        fields: dict[str, Node] = {}
        for key_node, value in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in fields:
                self.fail(key_node, join(path, key), f"duplicate key {key!r}")
            elif allowed and key not in allowed:
                self.fail(
                    key_node,
                    join(path, key),
                    f"unknown key {show_value(key)} in {what}; allowed: {', '.join(allowed)}",
                )
            else:
                fields[key] = value
        missing = [k for k in required if k not in fields]
        if missing:
            keys = ", ".join(missing)
            self.fail(node, path, f"{what} is missing required key(s): {keys}")
        return fields

    def pairs(self, node: Node, path: str, what: str) -> list[tuple[str, Node, Node]] | None:
        """(key, key node, value node) of a free-form mapping, duplicates refused."""
        if not isinstance(node, MappingNode):
            self.fail(node, path, f"{what} must be a mapping, not {describe(node)}")
            return None
        seen: set[str] = set()
        out: list[tuple[str, Node, Node]] = []
        for key_node, value in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in seen:
                self.fail(key_node, join(path, key), f"duplicate key {key!r}")
                continue
            seen.add(key)
            out.append((key, key_node, value))
        return out

    def key(self, node: Node, path: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.fail(node, path, f"a key must be plain text, not {describe(node)}")
            return None
        return str(node.value)

    def scalar(self, node: Node, path: str) -> Scalar | None:
        """The node's value in its YAML 1.2 type; null is refused (leave the key out instead)."""
        if not isinstance(node, ScalarNode):
            self.fail(node, path, f"expected a single value, not {describe(node)}")
            return None
        value = _plain_value(node)
        if value is None:
            self.fail(node, path, "expected a value, found nothing (null); leave the key out")
        elif isinstance(value, float) and not math.isfinite(value):
            self.fail(node, path, f"{node.value} is not a finite number")
            return None
        return value

    def text(self, node: Node, path: str, *, min_len: int = 0, max_len: int = 10_000) -> str | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(node, path, f"must be text, not {show_value(value)} (quote it)")
            return None
        if not min_len <= len(value) <= max_len:
            if min_len:
                size = f"{min_len}..{max_len} characters"
            else:
                size = f"at most {max_len} characters"
            self.fail(node, path, f"must be {size}, not {len(value)}")
            return None
        return value

    def text_items(self, node: Node, path: str) -> list[tuple[str, Node, str]]:
        """(text, node, path) of one text or each text of a list; bad items are reported."""
        out: list[tuple[str, Node, str]] = []
        if isinstance(node, SequenceNode) and not node.value:
            self.fail(node, path, "expected a value or a non-empty list of values")
        for i, item in items_of(node):
            item_path = join(path, i) if isinstance(node, SequenceNode) else path
            value = self.text(item, item_path)
            if value is not None:
                out.append((value, item, item_path))
        return out

    def number(self, node: Node, path: str) -> float | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(node, path, f"must be a number, not {show_value(value)}")
            return None
        return float(value)

    def integer(self, node: Node, path: str, low: int, high: int) -> int | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        if type(value) is not int or not low <= value <= high:
            self.fail(node, path, f"must be a whole number {low}..{high}, not {show_value(value)}")
            return None
        return value

    def boolean(self, node: Node, path: str) -> bool | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(node, path, f"must be true or false, not {show_value(value)}")
            return None
        return value

    def choice(self, node: Node, path: str, choices: tuple[str, ...]) -> str | None:
        value = self.scalar(node, path)
        if value is None:
            return None
        if value not in choices:
            self.fail(node, path, f"must be one of {', '.join(choices)}, not {show_value(value)}")
            return None
        return str(value)


def _plain_value(node: ScalarNode) -> Scalar | None:
    """The Python value of a scalar node by its resolved tag (quoted scalars are text)."""
    text = str(node.value)
    tag = node.tag
    if tag not in _PLAIN_TAGS or tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() == "true"
    if tag == _INT:
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text)
        except ValueError:  # longer than int()'s digit limit: keep it as text
            return text
    lowered = text.lower().lstrip("+")
    if lowered in (".inf", "-.inf", ".nan"):
        return {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[lowered]
    return float(text)
