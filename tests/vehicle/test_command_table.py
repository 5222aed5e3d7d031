"""The command table: each role's row, argument schemas, and VSS targets the broker knows."""

from __future__ import annotations

import pytest

from smartev.link.signing import ArgValue
from smartev.spec import Kind, shipped_catalog
from smartev.vehicle.command_table import (
    ALLOWED,
    COMMANDS,
    KEY_COMMANDS,
    InvalidArgumentsError,
    ReplayClass,
    vss_targets,
)
from smartev.vehicle.keyring import Role

# Written out by hand, not derived from the table, so a change to a row is a visible decision.
EXPECTED_ROWS: dict[Role, set[str]] = {
    Role.OWNER: set(COMMANDS),
    Role.DRIVER: set(COMMANDS) - {"key.enroll", "key.revoke"},
    Role.GUEST: {
        "door.lock",
        "door.unlock",
        "charge_port.open",
        "charge_port.close",
        "charging.start",
        "charging.stop",
        "hvac.set",
        "hvac.off",
        "windows.vent",
        "windows.close",
        "honk",
        "flash",
    },
    Role.CHARGING_MANAGER: {"charging.start", "charging.stop", "charge_limit.set"},
    Role.SERVICE: {
        "door.lock",
        "door.unlock",
        "trunk.open",
        "trunk.close",
        "charge_port.open",
        "charge_port.close",
        "charging.start",
        "charging.stop",
        "charge_limit.set",
        "hvac.set",
        "hvac.off",
        "windows.vent",
        "windows.close",
        "honk",
        "flash",
    },
}


@pytest.mark.parametrize("role", list(Role))
def test_role_row(role: Role) -> None:
    assert set(ALLOWED[role]) == EXPECTED_ROWS[role]


def test_only_the_owner_manages_keys() -> None:
    assert [role for role in Role if ALLOWED[role] & KEY_COMMANDS] == [Role.OWNER]


def test_replay_classes() -> None:
    security = {name for name, spec in COMMANDS.items() if spec.replay is ReplayClass.SECURITY}
    assert security == {
        "door.lock",
        "door.unlock",
        "trunk.open",
        "trunk.close",
        "charge_port.open",
        "charge_port.close",
        "key.enroll",
        "key.revoke",
    }


@pytest.mark.parametrize(
    ("name", "args", "checked"),
    [
        ("hvac.set", {"temp_c": 21}, {"temp_c": 21.0}),
        ("hvac.set", {"temp_c": 15.0}, {"temp_c": 15.0}),
        ("charge_limit.set", {"percent": 100}, {"percent": 100}),
        ("trunk.open", {}, {"trunk": "rear"}),
        ("trunk.open", {"trunk": "front"}, {"trunk": "front"}),
        ("door.lock", {}, {}),
    ],
)
def test_arguments_are_checked_and_completed(
    name: str, args: dict[str, ArgValue], checked: dict[str, ArgValue]
) -> None:
    assert COMMANDS[name].check_args(args) == checked


@pytest.mark.parametrize(
    ("name", "args", "match"),
    [
        ("hvac.set", {"temp_c": True}, "must be a number"),
        ("hvac.set", {"temp_c": 14}, "15..30"),
        ("charge_limit.set", {"percent": 75.5}, "integer"),
        ("charge_limit.set", {}, "missing"),
        ("honk", {"loud": True}, "unknown argument"),
        ("trunk.open", {"trunk": 1}, "must be a str"),
        ("key.enroll", {"public_key": "AB" * 32, "role": "driver", "label": "x"}, "must match"),
        ("key.enroll", {"public_key": "ab" * 32, "role": "driver", "label": ""}, "must match"),
    ],
)
def test_bad_arguments(name: str, args: dict[str, ArgValue], match: str) -> None:
    with pytest.raises(InvalidArgumentsError, match=match):
        COMMANDS[name].check_args(args)


SAMPLE_ARGS: dict[str, dict[str, ArgValue]] = {
    "charge_limit.set": {"percent": 80},
    "hvac.set": {"temp_c": 20.5},
}


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - KEY_COMMANDS))
def test_every_target_is_a_catalog_actuator_with_a_valid_value(name: str) -> None:
    catalog = shipped_catalog()
    for trunk in ("front", "rear") if name.startswith("trunk.") else (None,):
        args = COMMANDS[name].check_args({"trunk": trunk} if trunk else SAMPLE_ARGS.get(name, {}))
        targets = vss_targets(name, args)
        assert targets
        for path, value in targets.items():
            assert catalog.get(path).kind is Kind.ACTUATOR, path
            catalog.validate_target(path, value)


def test_door_lock_targets_all_four_doors() -> None:
    assert vss_targets("door.lock", {}) == {
        f"Vehicle.Cabin.Door.Row{row}.{side}.IsLocked": True
        for row in (1, 2)
        for side in ("DriverSide", "PassengerSide")
    }


@pytest.mark.parametrize("name", [*sorted(KEY_COMMANDS), "nonsense"])
def test_key_commands_have_no_targets(name: str) -> None:
    with pytest.raises(ValueError, match="no VSS targets"):
        vss_targets(name, {})
