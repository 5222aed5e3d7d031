"""device keys (people's browsers and phones), and each command's signing key and counter

Revision: 0003, after 0002.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smartev.link.signing import EnvelopeError, decode_envelope

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_key",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.String(length=130), nullable=False),
        sa.Column("algorithm", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_device_key_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_device_key")),
    )
    with op.batch_alter_table("device_key", schema=None) as batch_op:
        batch_op.create_index("ix_device_key_user", ["user_id"], unique=False)

    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("counter", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_command_car_key", ["car_id", "key_id"], unique=False)
    # Commands stored before: their key and counter read out of their envelopes, once.
    command = sa.table(
        "command",
        sa.column("id", sa.String),
        sa.column("envelope", sa.LargeBinary),
        sa.column("key_id", sa.String),
        sa.column("counter", sa.BigInteger),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(command.c.id, command.c.envelope)).all():
        try:
            signed = decode_envelope(bytes(row.envelope)).command
            values: dict[str, object] = {"key_id": signed.key_id, "counter": signed.counter}
        except EnvelopeError:  # not a relay's envelope: no key to count for
            values = {"key_id": "", "counter": 0}
        bind.execute(sa.update(command).where(command.c.id == row.id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.drop_index("ix_command_car_key")
        batch_op.drop_column("counter")
        batch_op.drop_column("key_id")
    op.drop_table("device_key")
