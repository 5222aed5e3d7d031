"""Alembic's entry point: migrate the connection the cloud passes in (``config.attributes``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from smartev.cloud.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through smartev.cloud.db.migrate(engine)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
