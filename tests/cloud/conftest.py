"""Databases for the cloud tests: each test that takes ``db_url`` runs once on a SQLite file and
once on a fresh database in a private PostgreSQL cluster started for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud.server import RunningCloud, running_cloud
from tests.pg import find_bin_dir, running_cluster, temporary_database

# Set by `make test`: a service that is not installed fails the run instead of skipping.
REQUIRE_SERVICES = "SMARTEV_REQUIRE_SERVICES"


def _services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES, "") not in ("", "0")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """SQLAlchemy URL of the superuser's ``postgres`` database on a cluster private to this
    session; skipped when PostgreSQL is not installed (failed under SMARTEV_REQUIRE_SERVICES)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = (
            "PostgreSQL is not installed: no initdb under /usr/lib/postgresql/*/bin "
            "(`make services` installs Debian's postgresql package)"
        )
        if _services_required():
            pytest.fail(f"{message}; {REQUIRE_SERVICES} is set, so this is an error")
        pytest.skip(message)
    with running_cluster(bin_dir) as cluster:
        yield cluster.url()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of an empty database of its own for this test, removed afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/cloud.db"
        return
    # Asked for here rather than as an argument so SQLite-only runs never start the cluster.
    admin_url: str = request.getfixturevalue("postgres_server")
    with temporary_database(admin_url) as url:
        yield url


@pytest.fixture
def cloud(db_url: str, tmp_path: Path) -> Iterator[RunningCloud]:
    """A real cloud on a fresh database of each kind, served on a loopback port."""
    with running_cloud(db_url, tmp_path) as running:
        yield running
