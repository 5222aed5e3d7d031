"""Who may do what with a household's home (its devices, automations, scenes, service key).

- **see** devices, automations, scenes and traces: every member. A car among the devices only
  with a role for that car, showing only the signals that role sees (as everywhere else);
- **control** devices, activate scenes and run automations: the owner, and members who drive
  one of the household's cars (a ``driver`` role valid now). Guests and charging managers only
  read. Calling an action of a car also needs the caller's own role for that car to allow that
  command (the car's table), so the household's service key never lends anyone more than their
  own key would;
- **edit** automations and scenes, the service key and the time zone: the owner.

Strangers get "not found" for everything of the household (never "forbidden").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, select

from smartev.cloud import schema as t
from smartev.cloud.access import CarAccess, CarRole, Scope, car_access, commands_for
from smartev.cloud.errors import NotPermittedError
from smartev.cloud.households import HouseholdRole, Membership, require_member

CONTROL_ROLES: Final = frozenset({CarRole.OWNER, CarRole.DRIVER})


@dataclass(frozen=True, slots=True)
class HomeAccess:
    """A member's view of the household: their membership and their role for each of its cars."""

    membership: Membership
    cars: dict[str, CarAccess]  # car id → the member's access (cars they have no role for: absent)

    @property
    def household_id(self) -> str:
        return self.membership.household_id

    @property
    def user_id(self) -> str:
        return self.membership.user_id

    @property
    def is_owner(self) -> bool:
        return self.membership.role is HouseholdRole.OWNER

    @property
    def may_control(self) -> bool:
        return self.is_owner or any(a.role in CONTROL_ROLES for a in self.cars.values())

    def require_control(self, what: str) -> None:
        if not self.may_control:
            roles = ", ".join(f"{a.role} of car {a.car_id}" for a in self.cars.values())
            raise NotPermittedError(
                f"{what} in household {self.household_id} is for its owner and the drivers of "
                f"its cars; you are a member{' (' + roles + ')' if roles else ''}"
            )

    def require_owner(self, what: str) -> None:
        if not self.is_owner:
            raise NotPermittedError(f"only the owner of household {self.household_id} may {what}")

    def sees_car(self, car_id: str) -> bool:
        access = self.cars.get(car_id)
        return access is not None and access.allows(Scope.STATE)

    def require_car_command(self, car_id: str, command: str) -> None:
        """The caller's own role for the car must allow the command."""
        access = self.cars.get(car_id)
        if access is None or command not in commands_for(access.role):
            role = "no role" if access is None else f"role {access.role}"
            raise NotPermittedError(
                f"your {role} for car {car_id} does not allow the command {command}"
            )


def home_access(db: Connection, household_id: str, user_id: str, now_us: int) -> HomeAccess:
    """The member's access; NotFoundError when they are not a member."""
    membership = require_member(db, household_id, user_id)
    car_ids = db.execute(select(t.car.c.id).where(t.car.c.household_id == household_id)).scalars()
    cars: dict[str, CarAccess] = {}
    for car_id in car_ids:
        access = car_access(db, user_id, car_id, now_us)
        if access is not None and access.household_id == household_id:
            cars[car_id] = access
    return HomeAccess(membership, cars)
