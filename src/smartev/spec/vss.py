"""The VSS data model in one import: signal definitions, the catalog, its loaders and patterns.

Implementation lives in :mod:`~smartev.spec.vss_types` (a signal and its value rules),
:mod:`~smartev.spec.catalog` (lookup and loading) and :mod:`~smartev.spec.path_glob` (KUKSA
wildcard patterns).
"""

from smartev.spec.catalog import Catalog, load_vss_json, parse_vss_tree, shipped_catalog
from smartev.spec.path_glob import PathPattern
from smartev.spec.vss_types import DataType, Kind, Scalar, SignalSpec, Value

__all__ = [
    "Catalog",
    "DataType",
    "Kind",
    "PathPattern",
    "Scalar",
    "SignalSpec",
    "Value",
    "load_vss_json",
    "parse_vss_tree",
    "shipped_catalog",
]
