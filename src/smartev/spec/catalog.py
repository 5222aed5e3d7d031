"""The signal catalog: VSS leaves by path and by id, pattern matching, the vss-tools JSON loader.

``load_vss_json`` reads the tree written by vss-tools' JSON exporter (a full release, e.g. VSS 6.0
with 1,263 leaves, or the shipped subset written in the same shape). Branches hold ``children``;
leaves are ``sensor``, ``actuator`` or ``attribute`` nodes with a primitive datatype. Any other
node type (``struct``/``property`` from a types tree) or datatype (a struct type name such as
``Types.DeliveryInfo``) is refused with a :class:`~smartev.spec.errors.CatalogError`: the catalog
never silently drops a signal. Keys the loader does not use (``uuid``, ``fka``…) are ignored.

Signal ids follow KUKSA v2's numeric ``SignalID``: 1, 2, 3… in the order of the sorted paths of
*this* catalog. They are stable for a given catalog file but differ between catalogs (the shipped
subset and the full release number the same path differently).
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import cast

from smartev.spec.errors import CatalogError, UnknownPathError
from smartev.spec.path_glob import PathPattern
from smartev.spec.vss_types import DataType, Kind, SignalSpec, Value

_KINDS: dict[object, Kind] = {kind.value: kind for kind in Kind}
_DATATYPES: dict[object, DataType] = {datatype.value: datatype for datatype in DataType}
_BAD_NAME = re.compile(r"[.\s:*]")
_SHIPPED = "data/vss_signals.json"


class Catalog:
    """An immutable set of signals, iterated in path order."""

    __slots__ = ("_branches", "_by_id", "_by_path", "_paths")

    def __init__(self, signals: Iterable[SignalSpec]) -> None:
        by_path: dict[str, SignalSpec] = {}
        by_id: dict[int, SignalSpec] = {}
        for spec in signals:
            if spec.path in by_path:
                raise CatalogError(f"{spec.path}: defined twice")
            if spec.id in by_id:
                raise CatalogError(f"{spec.path}: id {spec.id} is already {by_id[spec.id].path}")
            by_path[spec.path] = spec
            by_id[spec.id] = spec
        branches: set[str] = set()
        for path in by_path:
            dot = path.rfind(".")
            while dot > 0 and path[:dot] not in branches:
                branches.add(path[:dot])
                dot = path.rfind(".", 0, dot)
        clashes = sorted(branches & by_path.keys())
        if clashes:
            raise CatalogError(f"{clashes[0]}: is both a signal and a branch")
        self._paths = sorted(by_path)
        self._by_path = {path: by_path[path] for path in self._paths}
        self._by_id = by_id
        self._branches = frozenset(branches)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, path: object) -> bool:
        return path in self._by_path

    def __iter__(self) -> Iterator[SignalSpec]:
        return iter(self._by_path.values())

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} signals>"

    def find(self, path: str) -> SignalSpec | None:
        return self._by_path.get(path)

    def get(self, path: str) -> SignalSpec:
        """The signal at ``path``; :class:`UnknownPathError` with close matches otherwise."""
        spec = self._by_path.get(path)
        if spec is not None:
            return spec
        if path in self._branches:
            raise UnknownPathError(path, note="it is a branch, not a signal")
        raise UnknownPathError(path, suggestions=self._close_matches(path))

    def by_id(self, signal_id: int) -> SignalSpec | None:
        return self._by_id.get(signal_id)

    def is_branch(self, path: str) -> bool:
        return path in self._branches

    def match(self, pattern: str | PathPattern) -> list[SignalSpec]:
        """The signals a KUKSA-style pattern selects (see :mod:`smartev.spec.path_glob`).

        An empty list if none; :class:`~smartev.spec.errors.InvalidPatternError` if malformed.
        """
        compiled = pattern if isinstance(pattern, PathPattern) else PathPattern(pattern)
        literal = compiled.literal
        if literal is None:
            return [spec for path, spec in self._by_path.items() if compiled.matches(path)]
        found = [self._by_path[literal]] if literal in self._by_path else []
        prefix = literal + "."
        start = bisect.bisect_left(self._paths, prefix)
        for path in itertools.islice(self._paths, start, None):
            if not path.startswith(prefix):
                break
            found.append(self._by_path[path])
        return found

    def validate(self, path: str, value: object) -> Value:
        """``value`` checked against the signal at ``path`` (see :meth:`SignalSpec.validate`)."""
        return self.get(path).validate(value)

    def validate_target(self, path: str, value: object) -> Value:
        """A target for the actuator at ``path`` (see :meth:`SignalSpec.validate_target`)."""
        return self.get(path).validate_target(value)

    def _close_matches(self, path: str, budget: int = 3) -> list[str]:
        # Correct the first segment that names nothing among the names that exist at that place,
        # then look again (a few times): cheap, and finds 'Vehicle.Cabn.Door.Row1.DriverSide.IsOpen'
        segments = path.split(".")
        known = 0
        while known < len(segments) - 1 and ".".join(segments[: known + 1]) in self._branches:
            known += 1
        prefix = ".".join(segments[:known]) + "." if known else ""
        names: set[str] = set()
        start = bisect.bisect_left(self._paths, prefix)
        for candidate in itertools.islice(self._paths, start, None):
            if not candidate.startswith(prefix):
                break
            names.add(candidate[len(prefix) :].partition(".")[0])
        found: list[str] = []
        for name in difflib.get_close_matches(segments[known], names, n=3, cutoff=0.6):
            fixed = ".".join([*segments[:known], name, *segments[known + 1 :]])
            if fixed in self._by_path:
                found.append(fixed)
            elif budget > 1 and fixed != path:
                found.extend(self._close_matches(fixed, budget - 1))
        return list(dict.fromkeys(found))[:3]


def parse_vss_tree(tree: object, *, source: str = "VSS JSON") -> Catalog:
    """A catalog from a vss-tools JSON tree already decoded (``{"Vehicle": {...}}``)."""
    if not isinstance(tree, dict) or not tree:
        raise CatalogError(f"{source}: expected an object of root branches, got {_kind_of(tree)}")
    leaves: list[tuple[str, dict[str, object]]] = []
    stack: list[tuple[str, object]] = []
    for name, node in tree.items():
        stack.append((_checked_name(name, "", source), node))
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict):
            raise CatalogError(f"{source}: {path}: expected an object, got {_kind_of(node)}")
        node_type = node.get("type")
        if node_type == "branch":
            children = node.get("children", {})
            if not isinstance(children, dict):
                raise CatalogError(
                    f"{source}: {path}: children must be an object, got {_kind_of(children)}"
                )
            for name, child in children.items():
                stack.append((f"{path}.{_checked_name(name, path, source)}", child))
        elif isinstance(node_type, str) and node_type in _KINDS:
            if "children" in node:
                raise CatalogError(f"{source}: {path}: a {node_type} cannot have children")
            leaves.append((path, node))
        else:
            raise CatalogError(
                f"{source}: {path}: type {node_type!r} is not branch, sensor, actuator or "
                "attribute (struct types are not supported)"
            )
    if not leaves:
        raise CatalogError(f"{source}: no signals (sensor, actuator or attribute) in the tree")
    leaves.sort(key=lambda leaf: leaf[0])
    return Catalog(
        _leaf_spec(path, node, signal_id, source)
        for signal_id, (path, node) in enumerate(leaves, start=1)
    )


def load_vss_json(path: Path | str) -> Catalog:
    """A catalog from a vss-tools JSON file; :class:`CatalogError` if unreadable or malformed."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read VSS JSON {source}: {exc.strerror or exc}") from exc
    return parse_vss_tree(_decode(data, source), source=source)


@cache
def shipped_catalog() -> Catalog:
    """The VSS 6.0 signals smartev uses, shipped in the package (read once, then shared)."""
    data = resources.files("smartev.spec").joinpath(_SHIPPED).read_bytes()
    source = f"smartev.spec/{_SHIPPED}"
    return parse_vss_tree(_decode(data, source), source=source)


def _decode(data: bytes, source: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CatalogError(f"{source}: not valid JSON: {exc}") from None


def _checked_name(name: object, parent: str, source: str) -> str:
    where = parent or "the root"
    if not isinstance(name, str) or not name or _BAD_NAME.search(name):
        raise CatalogError(
            f"{source}: {where}: bad node name {name!r} (a name is not empty and has no '.', "
            "whitespace, ':' or '*')"
        )
    return name


def _leaf_spec(path: str, node: dict[str, object], signal_id: int, source: str) -> SignalSpec:
    raw_datatype = node.get("datatype")
    datatype = _DATATYPES.get(raw_datatype) if isinstance(raw_datatype, str) else None
    if datatype is None:
        raise CatalogError(
            f"{source}: {path}: datatype {raw_datatype!r} is not a VSS primitive type "
            "(struct types are not supported)"
        )
    allowed = node.get("allowed")
    if allowed is not None and not isinstance(allowed, list):
        raise CatalogError(f"{source}: {path}: allowed must be a list, got {_kind_of(allowed)}")
    try:
        return SignalSpec(
            path=path,
            id=signal_id,
            kind=_KINDS[node["type"]],
            datatype=datatype,
            unit=_optional_str(node, "unit", path, source),
            min=cast(float | int | None, node.get("min")),
            max=cast(float | int | None, node.get("max")),
            allowed=None if allowed is None else tuple(cast(list[Value], allowed)),
            description=_optional_str(node, "description", path, source) or "",
            default=cast(Value | None, node.get("default")),
            deprecation=_optional_str(node, "deprecation", path, source),
            comment=_optional_str(node, "comment", path, source),
            pattern=_optional_str(node, "pattern", path, source),
        )
    except CatalogError as exc:
        raise CatalogError(f"{source}: {exc}") from None


def _optional_str(node: dict[str, object], key: str, path: str, source: str) -> str | None:
    value = node.get(key)
    if value is None or isinstance(value, str):
        return value
    raise CatalogError(f"{source}: {path}: {key} must be a string, got {_kind_of(value)}")


def _kind_of(value: object) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
    }
    return names.get(type(value), "null" if value is None else f"a {type(value).__name__}")
