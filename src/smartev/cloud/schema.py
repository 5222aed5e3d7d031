"""The cloud's tables (SQLAlchemy 2 Core), one ``MetaData`` shared by the app and Alembic.

Times are integer microseconds since the Unix epoch, UTC (``*_us``), taken from the service's
clock, so the same rows mean the same thing on SQLite and PostgreSQL and under a simulated clock.
Ids of people-facing rows are random text (``usr_…``, ``hh_…``): guessing one reaches nothing, and
counting them tells nothing. Cars keep the id they use on the link (their VIN).
"""

from __future__ import annotations

import secrets

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def new_id(prefix: str) -> str:
    """A random id such as ``usr_3q0x…`` (96 random bits)."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


ID = String(40)
CAR_ID = String(128)
PATH = String(256)

# ── accounts ─────────────────────────────────────────────────────────────────────────────────

user = Table(
    "user_account",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-cased
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_us", BigInteger, nullable=False),
)

# A login: the refresh tokens it hands out and the access tokens minted from them carry its id;
# logging out revokes it, and with it every token of that login.
auth_session = Table(
    "auth_session",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
    Index("ix_auth_session_user", "user_id"),
)

refresh_token = Table(
    "refresh_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 hex: the token is never stored
    Column("session_id", ID, ForeignKey("auth_session.id", ondelete="CASCADE"), nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("used_us", BigInteger),  # rotated: a second use means theft and revokes the session
)

# ── households, sharing, audit ───────────────────────────────────────────────────────────────

household = Table(
    "household",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("owner_id", ID, ForeignKey("user_account.id"), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    # IANA name (checked with zoneinfo): time triggers and conditions of its automations.
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
)

household_member = Table(
    "household_member",
    metadata,
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("joined_us", BigInteger, nullable=False),
    Index("ix_household_member_user", "user_id"),
)

invite = Table(
    "invite",
    metadata,
    Column("id", ID, primary_key=True),
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("email", String(254)),  # when set, only that account may accept
    Column("created_by", ID, ForeignKey("user_account.id"), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("accepted_by", ID, ForeignKey("user_account.id")),
    Column("accepted_us", BigInteger),
    Column("revoked_us", BigInteger),
)

car = Table(
    "car",
    metadata,
    Column("id", CAR_ID, primary_key=True),
    Column("household_id", ID, ForeignKey("household.id", ondelete="SET NULL")),
    Column("name", String(100), nullable=False),
    Column("paired_us", BigInteger),
    # The car shows a one-time code; only its hash is kept, until it is used or expires.
    Column("pairing_code_hash", String(64)),
    Column("pairing_expires_us", BigInteger),
    Column("rated_capacity_kwh", Float),
    Index("ix_car_household", "household_id"),
)

# A person's role for one car. The household's owner is owner of its cars without a row here.
car_grant = Table(
    "car_grant",
    metadata,
    Column("id", ID, primary_key=True),
    Column("car_id", CAR_ID, ForeignKey("car.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(20), nullable=False),  # driver | guest | charging_manager
    Column("valid_from_us", BigInteger),
    Column("valid_until_us", BigInteger),
    Column("granted_by", ID, ForeignKey("user_account.id"), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    UniqueConstraint("car_id", "user_id", name="uq_car_grant_car_user"),
    Index("ix_car_grant_user", "user_id"),
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", ID),
    Column("car_id", CAR_ID),
    Column("actor_id", ID),  # None: the car or the service itself
    Column("action", String(60), nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
    Column("ts_us", BigInteger, nullable=False),
    Index("ix_audit_event_car_ts", "car_id", "ts_us"),
    Index("ix_audit_event_household_ts", "household_id", "ts_us"),
)

geofence = Table(
    "geofence",
    metadata,
    Column("id", ID, primary_key=True),
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("radius_m", Float, nullable=False),
    Column("price_per_kwh", Float, nullable=False, default=0.0),
    Column("price_per_minute", Float, nullable=False, default=0.0),
    Column("session_fee", Float, nullable=False, default=0.0),
    Column("currency", String(3), nullable=False, default="EUR"),
    Index("ix_geofence_household", "household_id"),
)

# ── telemetry ────────────────────────────────────────────────────────────────────────────────

telemetry_sample = Table(
    "telemetry_sample",
    metadata,
    Column("car_id", CAR_ID, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("ts_us", BigInteger, nullable=False),
    Column("path", PATH, nullable=False),
    Column("value", Text, nullable=False),  # JSON
    Column("num", Float),  # the value as a number when it is one (bools as 0/1): for queries
    Column("kind", String(12), nullable=False),
    Index("ix_telemetry_sample_car_path_ts", "car_id", "path", "ts_us"),
    # On SQLite, tables keyed by several columns are stored in their key's order (no rowid):
    # one B-tree fewer to write per row, for the tables ingest writes with every batch.
    sqlite_with_rowid=False,
)

# Per car: the highest stored seq (the resume point) and the session detector's state, written
# in the same transaction as the samples that moved them.
telemetry_cursor = Table(
    "telemetry_cursor",
    metadata,
    Column("car_id", CAR_ID, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_ts_us", BigInteger, nullable=False, default=0),
    # JSON {"seq", "detector"}: the session detector's snapshot after the samples up to seq, which
    # are also the samples in signal_rollup (a checkpoint, not rewritten with every batch:
    # loading the car replays the samples stored since).
    Column("detector", Text),
)

signal_latest = Table(
    "signal_latest",
    metadata,
    Column("car_id", CAR_ID, primary_key=True),
    Column("path", PATH, primary_key=True),
    Column("ts_us", BigInteger, nullable=False),
    Column("value", Text, nullable=False),  # JSON
    Column("received_us", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Downsampled numeric series: one row per car, signal, resolution and time bucket.
signal_rollup = Table(
    "signal_rollup",
    metadata,
    Column("car_id", CAR_ID, primary_key=True),
    Column("path", PATH, primary_key=True),
    Column("resolution_s", Integer, primary_key=True),
    Column("bucket_us", BigInteger, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("total", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("last", Float, nullable=False),
    Column("last_ts_us", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# ── commands ─────────────────────────────────────────────────────────────────────────────────

command = Table(
    "command",
    metadata,
    Column("id", ID, primary_key=True),
    Column("car_id", CAR_ID, ForeignKey("car.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID),  # None: an automation of the household
    Column("name", String(40), nullable=False),
    Column("args", Text, nullable=False),  # JSON, as signed
    Column("envelope", LargeBinary, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("state", String(12), nullable=False),
    Column("pending", Boolean, nullable=False),  # still to be sent to the car
    # The signing key and its counter, read from the envelope: what a device that lost its own
    # count needs to sign its next command. None until indexed (``device_keys.last_counter``
    # fills the rows stored without them); "" for an envelope that cannot be read.
    Column("key_id", String(16)),
    Column("counter", BigInteger),
    Index("ix_command_car_created", "car_id", "created_us"),
    Index("ix_command_pending", "car_id", "pending"),
    Index("ix_command_car_key", "car_id", "key_id"),
)

command_state = Table(
    "command_state",
    metadata,
    Column("command_id", ID, ForeignKey("command.id", ondelete="CASCADE"), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("state", String(12), nullable=False),
    Column("reason", Text, nullable=False),
    Column("ts_us", BigInteger, nullable=False),
)

# A person's device key (a browser's or phone's): the public half of the key that signs the
# commands it sends. The cloud only lists it; a car trusts it once its owner enrolled it there.
device_key = Table(
    "device_key",
    metadata,
    Column("key_id", String(16), primary_key=True),  # smartev.link.signing.key_id of public_key
    Column("user_id", ID, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
    Column("public_key", String(130), nullable=False),  # lowercase hex, as key.enroll signs it
    Column("algorithm", String(10), nullable=False),  # p256 | ed25519
    Column("label", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
    Index("ix_device_key_user", "user_id"),
)

# ── derived: drives, charging sessions, state intervals ──────────────────────────────────────

drive = Table(
    "drive",
    metadata,
    Column("id", ID, primary_key=True),
    Column("car_id", CAR_ID, ForeignKey("car.id", ondelete="CASCADE"), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("start_lat", Float),
    Column("start_lon", Float),
    Column("end_lat", Float),
    Column("end_lon", Float),
    Column("start_place", String(100)),
    Column("end_place", String(100)),
    Column("distance_km", Float),  # None: neither odometer nor speed was reported
    Column("duration_s", Float, nullable=False),
    Column("energy_used_kwh", Float),
    Column("efficiency_wh_per_km", Float),
    Column("speed_avg_kmh", Float),
    Column("speed_max_kmh", Float),
    Column("soc_start", Float),
    Column("soc_end", Float),
    Column("odometer_start_km", Float),
    Column("odometer_end_km", Float),
    Index("ix_drive_car_start", "car_id", "start_us"),
)

charging_session = Table(
    "charging_session",
    metadata,
    Column("id", ID, primary_key=True),
    Column("car_id", CAR_ID, ForeignKey("car.id", ondelete="CASCADE"), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("place", String(100)),
    Column("geofence_id", ID),
    Column("kind", String(2)),  # AC | DC; None when the car reported no charging power
    Column("energy_added_kwh", Float),
    Column("power_max_kw", Float),
    Column("duration_s", Float, nullable=False),
    Column("soc_start", Float),
    Column("soc_end", Float),
    Column("capacity_estimate_kwh", Float),
    Column("cost", Float),
    Column("currency", String(3)),
    Index("ix_charging_session_car_start", "car_id", "start_us"),
)

state_interval = Table(
    "state_interval",
    metadata,
    Column("id", ID, primary_key=True),
    Column("car_id", CAR_ID, ForeignKey("car.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(10), nullable=False),  # driving|parked|charging|asleep|offline
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger),  # None while it lasts
    Column("soc_start", Float),
    Column("soc_end", Float),
    Index("ix_state_interval_car_start", "car_id", "start_us"),
)

# ── the ecosystem: automations, scenes, their runs, the service key, notifications ─────────────

# A household's automation as the person wrote it (the YAML text is the record; the parsed form
# is rebuilt from it against the household's devices whenever the hub loads it).
automation = Table(
    "automation",
    metadata,
    Column("id", ID, primary_key=True),
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("source", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("created_by", ID, ForeignKey("user_account.id", ondelete="SET NULL")),
    Index("ix_automation_household", "household_id"),
)

scene = Table(
    "scene",
    metadata,
    Column("id", ID, primary_key=True),
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("source", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("created_by", ID, ForeignKey("user_account.id", ondelete="SET NULL")),
    UniqueConstraint("household_id", "name", name="uq_scene_household_name"),
)

# One finished run of an automation with its whole trace (JSON); the newest few per automation.
automation_run = Table(
    "automation_run",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("automation_id", ID, ForeignKey("automation.id", ondelete="CASCADE"), nullable=False),
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), nullable=False),
    Column("started_us", BigInteger, nullable=False),
    Column("finished_us", BigInteger),
    Column("outcome", String(20), nullable=False),
    Column("trace", Text, nullable=False),
    Index("ix_automation_run_automation_started", "automation_id", "started_us"),
)

# The household's key that signs the commands its automations send to its cars. The private
# key is sealed (AES-GCM, key derived from the cloud's secret): never stored in clear.
service_key = Table(
    "service_key",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("sealed_private_key", LargeBinary, nullable=False),
    Column("next_counter", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("created_by", ID, ForeignKey("user_account.id", ondelete="SET NULL")),
    Column("revoked_us", BigInteger),
    Index("ix_service_key_household", "household_id"),
)

notification = Table(
    "notification",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
    Column("household_id", ID, ForeignKey("household.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("read_us", BigInteger),
    Index("ix_notification_user_created", "user_id", "created_us"),
)
