"""The database fixtures: each test gets an empty database of its own, on a SQLite file and on the
session's real PostgreSQL server, and that server is the one the cloud expects."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    make_url,
    select,
    text,
)

from tests.pg import temporary_database

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(200), nullable=False),
)


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_table_round_trips(db_url: str) -> None:
    with engine_for(db_url) as engine:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(notes), [{"body": "plug in"}, {"body": "charge to 80 %"}])
    # A second engine: the rows were committed, not just seen by the connection that wrote them.
    with engine_for(db_url) as engine, engine.connect() as conn:
        rows = conn.execute(select(notes.c.id, notes.c.body).order_by(notes.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, "plug in"), (2, "charge to 80 %")]


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_starts_with_an_empty_database(db_url: str, round_: int) -> None:
    # Whichever round runs second would find the first one's table if databases were shared.
    with engine_for(db_url) as engine:
        assert inspect(engine).get_table_names() == []
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(notes).values(body=f"round {round_}"))
            assert conn.execute(select(notes.c.body)).scalars().all() == [f"round {round_}"]


@pytest.mark.postgres
def test_the_server_is_postgresql_13_or_newer_and_private(postgres_server: str) -> None:
    with engine_for(postgres_server) as engine, engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        listen = conn.execute(text("SHOW listen_addresses")).scalar_one()
        fsync = conn.execute(text("SHOW fsync")).scalar_one()
    assert int(version.split(".")[0]) >= 13, version
    assert listen == "127.0.0.1"
    assert fsync == "off"


@pytest.mark.postgres
def test_a_temporary_database_is_dropped_despite_open_connections(postgres_server: str) -> None:
    with temporary_database(postgres_server) as url:
        name = make_url(url).database
        assert name is not None
        assert name != make_url(postgres_server).database
        leftover = create_engine(url)
        leftover.connect()  # never closed: the drop has to terminate it
    with engine_for(postgres_server) as engine, engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar_one()
    leftover.dispose()
    assert found == 0
