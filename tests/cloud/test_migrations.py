"""Migrations on a database that already has data: what 0003 adds is filled in for old rows."""

from pathlib import Path

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from smartev.cloud.db import MIGRATIONS, default_url, open_engine
from smartev.link.signing import (
    KeyAlgorithm,
    encode_envelope,
    generate_key,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)

CAR = "LSJWH4097PN000001"


def _upgrade(engine: object, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:  # type: ignore[attr-defined]
        config.attributes["connection"] = connection
        alembic_command.upgrade(config, revision)


def test_0003_reads_the_key_and_counter_of_commands_stored_before_it(tmp_path: Path) -> None:
    engine = open_engine(default_url(tmp_path))
    _upgrade(engine, "0002")
    key = generate_key(KeyAlgorithm.ED25519)
    kid = key_id(public_key_bytes(key))
    signed = sign_command(
        key,
        make_command(
            car_id=CAR, name="door.lock", epoch=bytes(16), counter=7, key_id=kid, now_us=10**15
        ),
    )
    row = {"car": CAR, "expires": 10**15 + 5_000_000, "created": 10**15}
    with engine.begin() as c:
        c.execute(text("INSERT INTO car (id, name) VALUES (:car, 'old car')"), row)
        for command_id, envelope in (("cmd_signed", encode_envelope(signed)), ("cmd_junk", b"x")):
            c.execute(
                text(
                    "INSERT INTO command (id, car_id, name, args, envelope, expires_us, "
                    "created_us, state, pending) VALUES (:id, :car, 'door.lock', '{}', :envelope, "
                    ":expires, :created, 'executed', false)"
                ),
                {**row, "id": command_id, "envelope": envelope},
            )
    _upgrade(engine, "head")
    with engine.connect() as c:
        got = dict(
            (r.id, (r.key_id, r.counter))
            for r in c.execute(text("SELECT id, key_id, counter FROM command"))
        )
    assert got == {"cmd_signed": (kid, 7), "cmd_junk": ("", 0)}
    engine.dispose()
