"""initial schema

Revision: 0001, after ; written 2026-11-26 00:06:08.106792.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=True),
        sa.Column("car_id", sa.String(length=128), nullable=True),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_car_ts", ["car_id", "ts_us"], unique=False)
        batch_op.create_index(
            "ix_audit_event_household_ts", ["household_id", "ts_us"], unique=False
        )

    op.create_table(
        "signal_latest",
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=256), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("car_id", "path", name=op.f("pk_signal_latest")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "signal_rollup",
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=256), nullable=False),
        sa.Column("resolution_s", sa.Integer(), nullable=False),
        sa.Column("bucket_us", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("last_ts_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "car_id", "path", "resolution_s", "bucket_us", name=op.f("pk_signal_rollup")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "telemetry_cursor",
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_ts_us", sa.BigInteger(), nullable=False),
        sa.Column("detector", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("car_id", name=op.f("pk_telemetry_cursor")),
    )
    op.create_table(
        "telemetry_sample",
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=256), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("num", sa.Float(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("car_id", "seq", name=op.f("pk_telemetry_sample")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("telemetry_sample", schema=None) as batch_op:
        batch_op.create_index(
            "ix_telemetry_sample_car_path_ts", ["car_id", "path", "ts_us"], unique=False
        )

    op.create_table(
        "user_account",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "auth_session",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_auth_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index("ix_auth_session_user", ["user_id"], unique=False)

    op.create_table(
        "household",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user_account.id"], name=op.f("fk_household_owner_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
    )
    op.create_table(
        "car",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("paired_us", sa.BigInteger(), nullable=True),
        sa.Column("pairing_code_hash", sa.String(length=64), nullable=True),
        sa.Column("pairing_expires_us", sa.BigInteger(), nullable=True),
        sa.Column("rated_capacity_kwh", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_car_household_id_household"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_car")),
    )
    with op.batch_alter_table("car", schema=None) as batch_op:
        batch_op.create_index("ix_car_household", ["household_id"], unique=False)

    op.create_table(
        "geofence",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("price_per_kwh", sa.Float(), nullable=False),
        sa.Column("price_per_minute", sa.Float(), nullable=False),
        sa.Column("session_fee", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_geofence_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence")),
    )
    with op.batch_alter_table("geofence", schema=None) as batch_op:
        batch_op.create_index("ix_geofence_household", ["household_id"], unique=False)

    op.create_table(
        "household_member",
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("joined_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_member_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_household_member_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("household_id", "user_id", name=op.f("pk_household_member")),
    )
    with op.batch_alter_table("household_member", schema=None) as batch_op:
        batch_op.create_index("ix_household_member_user", ["user_id"], unique=False)

    op.create_table(
        "invite",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("accepted_by", sa.String(length=40), nullable=True),
        sa.Column("accepted_us", sa.BigInteger(), nullable=True),
        sa.Column("revoked_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_by"], ["user_account.id"], name=op.f("fk_invite_accepted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_invite_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_invite_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invite_code_hash")),
    )
    op.create_table(
        "refresh_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("used_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_session.id"],
            name=op.f("fk_refresh_token_session_id_auth_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_refresh_token")),
    )
    op.create_table(
        "car_grant",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("valid_from_us", sa.BigInteger(), nullable=True),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=True),
        sa.Column("granted_by", sa.String(length=40), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["car_id"], ["car.id"], name=op.f("fk_car_grant_car_id_car"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["user_account.id"], name=op.f("fk_car_grant_granted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_car_grant_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_car_grant")),
        sa.UniqueConstraint("car_id", "user_id", name="uq_car_grant_car_user"),
    )
    with op.batch_alter_table("car_grant", schema=None) as batch_op:
        batch_op.create_index("ix_car_grant_user", ["user_id"], unique=False)

    op.create_table(
        "charging_session",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("place", sa.String(length=100), nullable=True),
        sa.Column("geofence_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=2), nullable=True),
        sa.Column("energy_added_kwh", sa.Float(), nullable=True),
        sa.Column("power_max_kw", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("soc_start", sa.Float(), nullable=True),
        sa.Column("soc_end", sa.Float(), nullable=True),
        sa.Column("capacity_estimate_kwh", sa.Float(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["car_id"], ["car.id"], name=op.f("fk_charging_session_car_id_car"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_session")),
    )
    with op.batch_alter_table("charging_session", schema=None) as batch_op:
        batch_op.create_index("ix_charging_session_car_start", ["car_id", "start_us"], unique=False)

    op.create_table(
        "command",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["car_id"], ["car.id"], name=op.f("fk_command_car_id_car"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command")),
    )
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.create_index("ix_command_car_created", ["car_id", "created_us"], unique=False)
        batch_op.create_index("ix_command_pending", ["car_id", "pending"], unique=False)

    op.create_table(
        "drive",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("start_lat", sa.Float(), nullable=True),
        sa.Column("start_lon", sa.Float(), nullable=True),
        sa.Column("end_lat", sa.Float(), nullable=True),
        sa.Column("end_lon", sa.Float(), nullable=True),
        sa.Column("start_place", sa.String(length=100), nullable=True),
        sa.Column("end_place", sa.String(length=100), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("energy_used_kwh", sa.Float(), nullable=True),
        sa.Column("efficiency_wh_per_km", sa.Float(), nullable=True),
        sa.Column("speed_avg_kmh", sa.Float(), nullable=True),
        sa.Column("speed_max_kmh", sa.Float(), nullable=True),
        sa.Column("soc_start", sa.Float(), nullable=True),
        sa.Column("soc_end", sa.Float(), nullable=True),
        sa.Column("odometer_start_km", sa.Float(), nullable=True),
        sa.Column("odometer_end_km", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["car_id"], ["car.id"], name=op.f("fk_drive_car_id_car"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drive")),
    )
    with op.batch_alter_table("drive", schema=None) as batch_op:
        batch_op.create_index("ix_drive_car_start", ["car_id", "start_us"], unique=False)

    op.create_table(
        "state_interval",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("car_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=True),
        sa.Column("soc_start", sa.Float(), nullable=True),
        sa.Column("soc_end", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["car_id"], ["car.id"], name=op.f("fk_state_interval_car_id_car"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_interval")),
    )
    with op.batch_alter_table("state_interval", schema=None) as batch_op:
        batch_op.create_index("ix_state_interval_car_start", ["car_id", "start_us"], unique=False)

    op.create_table(
        "command_state",
        sa.Column("command_id", sa.String(length=40), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["command.id"],
            name=op.f("fk_command_state_command_id_command"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("command_id", "n", name=op.f("pk_command_state")),
    )


def downgrade() -> None:

    op.drop_table("command_state")
    with op.batch_alter_table("state_interval", schema=None) as batch_op:
        batch_op.drop_index("ix_state_interval_car_start")

    op.drop_table("state_interval")
    with op.batch_alter_table("drive", schema=None) as batch_op:
        batch_op.drop_index("ix_drive_car_start")

    op.drop_table("drive")
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.drop_index("ix_command_pending")
        batch_op.drop_index("ix_command_car_created")

    op.drop_table("command")
    with op.batch_alter_table("charging_session", schema=None) as batch_op:
        batch_op.drop_index("ix_charging_session_car_start")

    op.drop_table("charging_session")
    with op.batch_alter_table("car_grant", schema=None) as batch_op:
        batch_op.drop_index("ix_car_grant_user")

    op.drop_table("car_grant")
    op.drop_table("refresh_token")
    op.drop_table("invite")
    with op.batch_alter_table("household_member", schema=None) as batch_op:
        batch_op.drop_index("ix_household_member_user")

    op.drop_table("household_member")
    with op.batch_alter_table("geofence", schema=None) as batch_op:
        batch_op.drop_index("ix_geofence_household")

    op.drop_table("geofence")
    with op.batch_alter_table("car", schema=None) as batch_op:
        batch_op.drop_index("ix_car_household")

    op.drop_table("car")
    op.drop_table("household")
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_session_user")

    op.drop_table("auth_session")
    op.drop_table("user_account")
    with op.batch_alter_table("telemetry_sample", schema=None) as batch_op:
        batch_op.drop_index("ix_telemetry_sample_car_path_ts")

    op.drop_table("telemetry_sample")
    op.drop_table("telemetry_cursor")
    op.drop_table("signal_rollup")
    op.drop_table("signal_latest")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_household_ts")
        batch_op.drop_index("ix_audit_event_car_ts")

    op.drop_table("audit_event")
