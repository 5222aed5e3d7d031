"""The household as conditions see it: device values and how long they held, positions, zones,
and the people with their phones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from smartev.core.clock import Clock
from smartev.ecosystem.engine_position import PositionTracker
from smartev.ecosystem.engine_values import as_number
from smartev.ecosystem.geo import position_refs
from smartev.ecosystem.registry import DeviceRegistry
from smartev.spec.devices import Scalar


@dataclass(frozen=True, slots=True)
class Person:
    """A member of the household; ``phone`` is the device id of the phone that locates them."""

    id: str  # "ana"
    name: str = ""
    phone: str | None = None  # "phone:ana"


def device_kind(device: str) -> str:
    return device.partition(":")[0]


class HomeView:
    """Implements :class:`smartev.ecosystem.conditions.ConditionView` for the engine."""

    def __init__(
        self,
        clock: Clock,
        registry: DeviceRegistry,
        positions: PositionTracker,
        tz: tzinfo,
        people: Mapping[str, Person],
    ) -> None:
        self._clock = clock
        self._registry = registry
        self._positions = positions
        self.tz = tz
        self.people = dict(people)
        # (device, ref) → clock timestamp of its last change; the engine writes it.
        self.since: dict[tuple[str, str], float] = {}
        self.start_ts = clock.timestamp()

    def now(self) -> datetime:
        return self._clock.now()

    def timestamp(self) -> float:
        return self._clock.timestamp()

    def value(self, device: str, ref: str) -> Scalar | None:
        return self._registry.value(device, ref)

    def held_since(self, device: str, ref: str) -> float:
        return self.since.get((device, ref), self.start_ts)

    def inside(self, device: str, zone: str) -> bool | None:
        return self._positions.inside(device, zone)

    def position(self, device: str) -> tuple[float, float] | None:
        refs = position_refs(device_kind(device))
        if refs is None:
            return None
        lat = as_number(self._registry.value(device, refs[0]))
        lon = as_number(self._registry.value(device, refs[1]))
        if lat is None or lon is None:
            return None
        return lat, lon

    def cars(self) -> list[str]:
        return [d for d in self._registry.ids() if device_kind(d) == "car"]

    def phone_of(self, person: str) -> str | None:
        known = self.people.get(person)
        if known is not None:
            return known.phone
        # Not listed: the language's convention, phone:<person>, if that phone is registered.
        phone = f"phone:{person}"
        return phone if phone in self._registry else None
