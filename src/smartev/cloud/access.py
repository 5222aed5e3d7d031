"""Who may see and do what with a car: a person's role for the car decides it, as tables.

The owner of a car's household is the car's ``owner``; anyone else needs a grant for that car
(``driver``, ``guest`` within its validity window, ``charging_manager``). :data:`SCOPES` says which
data each role sees; the commands each role may send are the car's own table
(:data:`smartev.vehicle.command_table.ALLOWED`), so the cloud refuses early what the car would
refuse anyway. A car the person has no role for does not exist for them (404, never 403), so ids
cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import Connection, select

from smartev.cloud import schema as t
from smartev.vehicle.command_table import ALLOWED
from smartev.vehicle.keyring import Role


class CarRole(StrEnum):
    OWNER = "owner"
    DRIVER = "driver"
    GUEST = "guest"
    CHARGING_MANAGER = "charging_manager"


GRANTABLE: Final = (CarRole.DRIVER, CarRole.GUEST, CarRole.CHARGING_MANAGER)


class Scope(StrEnum):
    STATE = "state"  # the live state (latest value per signal)
    LOCATION = "location"  # where the car is and was
    HISTORY = "history"  # signal history
    DRIVES = "drives"
    CHARGES = "charges"  # charging sessions, their cost, battery health
    COMMANDS = "commands"  # send commands and see their states
    AUDIT = "audit"
    SHARING = "sharing"  # grant and revoke roles, rename, unpair


SCOPES: Final[dict[CarRole, frozenset[Scope]]] = {
    CarRole.OWNER: frozenset(Scope),
    CarRole.DRIVER: frozenset(
        {
            Scope.STATE,
            Scope.LOCATION,
            Scope.HISTORY,
            Scope.DRIVES,
            Scope.CHARGES,
            Scope.COMMANDS,
        }
    ),
    CarRole.GUEST: frozenset({Scope.STATE, Scope.LOCATION, Scope.COMMANDS}),
    CarRole.CHARGING_MANAGER: frozenset({Scope.STATE, Scope.CHARGES, Scope.COMMANDS}),
}

# Signals a role without the location scope must not see (in the live state or history).
LOCATION_PATHS: Final = ("Vehicle.CurrentLocation.",)
# What a charging manager sees of the live state: the battery, charging and the car's identity.
CHARGING_MANAGER_PATHS: Final = (
    "Vehicle.Powertrain.TractionBattery.",
    "Vehicle.Powertrain.Range",
    "Vehicle.VehicleIdentification.",
)


def commands_for(role: CarRole) -> frozenset[str]:
    """The command names a role may send (the car checks the same table)."""
    return ALLOWED[Role(role.value)]


def may_see_signal(role: CarRole, path: str) -> bool:
    scopes = SCOPES[role]
    if Scope.LOCATION not in scopes and path.startswith(LOCATION_PATHS):
        return False
    if role is CarRole.CHARGING_MANAGER:
        return path.startswith(CHARGING_MANAGER_PATHS)
    return True


@dataclass(frozen=True, slots=True)
class CarAccess:
    car_id: str
    household_id: str
    role: CarRole
    since_us: int = 0
    """When the car joined this household: nothing recorded before (a previous owner's drives,
    places, charges, audit) is shown to it."""

    def allows(self, scope: Scope) -> bool:
        return scope in SCOPES[self.role]


def car_access(db: Connection, user_id: str, car_id: str, now_us: int) -> CarAccess | None:
    """The user's role for the car now, or None when they have none (or the car is unpaired)."""
    row = db.execute(
        select(t.car.c.household_id, t.car.c.paired_us, t.household.c.owner_id)
        .join(t.household, t.household.c.id == t.car.c.household_id)
        .where(t.car.c.id == car_id)
    ).first()
    if row is None:
        return None
    since_us = row.paired_us or 0
    if row.owner_id == user_id:
        return CarAccess(car_id, row.household_id, CarRole.OWNER, since_us)
    grant = db.execute(
        select(t.car_grant.c.role, t.car_grant.c.valid_from_us, t.car_grant.c.valid_until_us)
        .join(
            t.household_member,
            (t.household_member.c.user_id == t.car_grant.c.user_id)
            & (t.household_member.c.household_id == row.household_id),
        )
        .where(t.car_grant.c.car_id == car_id, t.car_grant.c.user_id == user_id)
    ).first()
    if grant is None:
        return None
    if grant.valid_from_us is not None and now_us < grant.valid_from_us:
        return None
    if grant.valid_until_us is not None and now_us >= grant.valid_until_us:
        return None
    return CarAccess(car_id, row.household_id, CarRole(grant.role), since_us)


def visible_cars(db: Connection, user_id: str, now_us: int) -> list[CarAccess]:
    """Every car the user has a role for now."""
    owned = db.execute(
        select(t.car.c.id, t.car.c.household_id, t.car.c.paired_us)
        .join(t.household, t.household.c.id == t.car.c.household_id)
        .where(t.household.c.owner_id == user_id)
    ).all()
    out = [CarAccess(r.id, r.household_id, CarRole.OWNER, r.paired_us or 0) for r in owned]
    seen = {a.car_id for a in out}
    granted = db.execute(select(t.car_grant.c.car_id).where(t.car_grant.c.user_id == user_id)).all()
    for r in granted:
        if r.car_id in seen:
            continue
        access = car_access(db, user_id, r.car_id, now_us)
        if access is not None:
            out.append(access)
    return out
