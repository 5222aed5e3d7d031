"""The cloud's database: an SQLAlchemy engine for SQLite (the default) or PostgreSQL, brought to
the newest schema by Alembic at start.

``database_url`` comes from the settings (``SMARTEV_DATABASE_URL``); without it the cloud keeps a
SQLite file in its data directory. SQLite runs in WAL mode with ``synchronous=FULL`` (an ack sent
after a commit survives a power cut) and foreign keys on; PostgreSQL is reached with psycopg 3.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from smartev.core.errors import ConfigError, PeerError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(PeerError):
    """The database could not be reached, read or written."""


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'cloud.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # journal_mode=WAL is a property of the file: set once in open_engine, not per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # 64 MiB of page cache per connection (the default is 2 MiB): telemetry of many cars
    # lands all over its indexes, and each page missed is read again.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def open_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///file`` or ``postgresql[+psycopg]://…``); a ConfigError
    that names the setting when the URL is not one of those."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database_url {url!r} is not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigError("database_url: SQLite needs a file (sqlite:///path/cloud.db)")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Connections are kept (the server's worker threads are up to 40): opening one costs
        # more than the query a request makes.
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=24,
            max_overflow=24,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=16, max_overflow=16, pool_pre_ping=True)
    raise ConfigError(
        f"database_url {parsed.render_as_string(hide_password=True)!r}: "
        "supported are sqlite:///FILE and postgresql://USER@HOST/DB"
    )


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic ``upgrade head``)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            alembic_command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot migrate the database: {exc}") from exc


class Database:
    """The engine and a way to run work in one transaction."""

    def __init__(self, url: str, *, run_migrations: bool = True) -> None:
        self.url = url
        self.engine = open_engine(url)
        self.backend = self.engine.dialect.name
        self._write_turn = threading.RLock() if self.backend == "sqlite" else None
        if run_migrations:
            migrate(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction: committed when the block ends, rolled back on error.

        On SQLite, transactions of this process take turns on a lock: SQLite has one writer,
        and a writer that finds the file locked sleeps in growing steps (up to 100 ms) before it
        tries again, where waiting on a lock wakes it the moment the other commits."""
        if self._write_turn is None:
            with self.engine.begin() as connection:
                yield connection
            return
        with self._write_turn, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (no transaction kept open beyond the block)."""
        with self.engine.connect() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()
