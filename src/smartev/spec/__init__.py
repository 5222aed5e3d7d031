"""The data model: the VSS signal catalog (a shipped subset and a loader for full VSS JSON) and
the rules a signal's values meet."""

from smartev.spec.errors import (
    CatalogError,
    InvalidPatternError,
    InvalidValueError,
    SpecError,
    UnknownPathError,
)
from smartev.spec.vss import (
    Catalog,
    DataType,
    Kind,
    PathPattern,
    Scalar,
    SignalSpec,
    Value,
    load_vss_json,
    parse_vss_tree,
    shipped_catalog,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "DataType",
    "InvalidPatternError",
    "InvalidValueError",
    "Kind",
    "PathPattern",
    "Scalar",
    "SignalSpec",
    "SpecError",
    "UnknownPathError",
    "Value",
    "load_vss_json",
    "parse_vss_tree",
    "shipped_catalog",
]
