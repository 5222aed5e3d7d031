"""the ecosystem: automations, scenes, their runs, the service key, notifications, time zones

Revision: 0002, after 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".", 1)[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False)
        )

    op.create_table(
        "automation",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        _fk("automation", "household_id", "household.id", "CASCADE"),
        _fk("automation", "created_by", "user_account.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation")),
    )
    with op.batch_alter_table("automation", schema=None) as batch_op:
        batch_op.create_index("ix_automation_household", ["household_id"], unique=False)

    op.create_table(
        "scene",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        _fk("scene", "household_id", "household.id", "CASCADE"),
        _fk("scene", "created_by", "user_account.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scene")),
        sa.UniqueConstraint("household_id", "name", name="uq_scene_household_name"),
    )

    op.create_table(
        "automation_run",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("automation_id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("started_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_us", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("trace", sa.Text(), nullable=False),
        _fk("automation_run", "automation_id", "automation.id", "CASCADE"),
        _fk("automation_run", "household_id", "household.id", "CASCADE"),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_automation_run")),
    )
    with op.batch_alter_table("automation_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_run_automation_started", ["automation_id", "started_us"], unique=False
        )

    op.create_table(
        "service_key",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("next_counter", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("revoked_us", sa.BigInteger(), nullable=True),
        _fk("service_key", "household_id", "household.id", "CASCADE"),
        _fk("service_key", "created_by", "user_account.id", "SET NULL"),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_service_key")),
    )
    with op.batch_alter_table("service_key", schema=None) as batch_op:
        batch_op.create_index("ix_service_key_household", ["household_id"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("read_us", sa.BigInteger(), nullable=True),
        _fk("notification", "user_id", "user_account.id", "CASCADE"),
        _fk("notification", "household_id", "household.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_user_created", ["user_id", "created_us"], unique=False
        )


def downgrade() -> None:
    op.drop_table("notification")
    op.drop_table("service_key")
    op.drop_table("automation_run")
    op.drop_table("scene")
    op.drop_table("automation")
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
