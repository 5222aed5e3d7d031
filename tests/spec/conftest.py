"""The full VSS 6.0 catalog, read once for the spec tests from ../shared/data (never copied)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smartev.spec import Catalog, load_vss_json

FULL_VSS_JSON = Path(__file__).resolve().parents[3] / "shared" / "data" / "vss_release_6.0.json"


@pytest.fixture(scope="session")
def full_catalog() -> Catalog:
    return load_vss_json(FULL_VSS_JSON)


@pytest.fixture(scope="session")
def full_vss_tree() -> dict[str, Any]:
    """The decoded release JSON, for checks that must not go through the loader."""
    tree: dict[str, Any] = json.loads(FULL_VSS_JSON.read_text(encoding="utf-8"))
    return tree
