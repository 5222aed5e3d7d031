"""The demo car's day on the world's clock: in the morning it leaves home for work along a real
route, parks there, drives back in the evening, and at home is plugged into the wallbox; the
owner's phone goes where the car goes.

The day follows the car's state, not a timetable alone: in working hours (07:40–17:15 in the
household's time zone) a car at home leaves for work; outside them a car at work drives home,
and a car at home is plugged in. A world stopped during a drive goes on along the rest of the
route when it starts again. :meth:`DemoDay.step` is the plain decision; :meth:`DemoDay.run`
makes it every few seconds of the clock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from importlib import resources
from typing import Final
from zoneinfo import ZoneInfo

import yaml

from smartev.core.clock import Clock
from smartev.sim.car import SimulatedCar
from smartev.sim.car_state import CarState
from smartev.sim.errors import SimError
from smartev.sim.ev_port import WallboxCable
from smartev.sim.geo import distance_between_m
from smartev.sim.home import SimPhone
from smartev.sim.route import Route, Waypoint, parse_route

log = logging.getLogger(__name__)

COMMUTE: Final = "munich-commute"
DAY_STARTS_AT: Final = time(7, 0)  # a new world's clock starts here: the car leaves soon after
LEAVE_HOME_AT: Final = time(7, 40)
LEAVE_WORK_AT: Final = time(17, 15)
# A car this close to home or work is there. Within the 100 m a route may start from the car.
AT_PLACE_M: Final = 100.0
# A car stopped this close to its route when the world stopped goes on along it.
RESUME_WITHIN_M: Final = 300.0
STEP_S: Final = 5.0


class Leg(StrEnum):
    """The drive the car is on."""

    TO_WORK = "to_work"
    TO_HOME = "to_home"


@dataclass(frozen=True, slots=True)
class Commute:
    """The way to work, and the same way back."""

    to_work: Route
    to_home: Route

    @property
    def home(self) -> tuple[float, float]:
        first = self.to_work.waypoints[0]
        return (first.lat, first.lon)

    @property
    def work(self) -> tuple[float, float]:
        last = self.to_work.waypoints[-1]
        return (last.lat, last.lon)

    def route(self, leg: Leg) -> Route:
        return self.to_work if leg is Leg.TO_WORK else self.to_home


def reverse_route(route: Route, name: str) -> Route:
    """``route`` driven backwards: each segment keeps its speed limit, each stop its dwell."""
    points = route.waypoints
    limits = [w.speed_limit_kmh for w in points[:-1]]  # the limit of the segment each starts
    backwards = [
        Waypoint(w.lat, w.lon, limits[i - 1] if i > 0 else None, w.stop_s)
        for i, w in reversed(list(enumerate(points)))
    ]
    return Route(name, tuple(backwards), route.default_speed_kmh)


def load_commute(name: str = COMMUTE) -> Commute:
    """The shipped route ``name`` (``smartev/data/routes/<name>.yaml``) and its way back."""
    text = resources.files("smartev").joinpath(f"data/routes/{name}.yaml").read_text("utf-8")
    to_work = parse_route(yaml.safe_load(text), source=f"route {name}")
    return Commute(to_work, reverse_route(to_work, f"{to_work.name} (home)"))


def remaining_route(route: Route, lat: float, lon: float) -> Route | None:
    """The rest of ``route`` from the point of it nearest to (lat, lon), starting at (lat, lon);
    None when that is farther than :data:`RESUME_WITHIN_M` or at the route's end already."""
    points = route.waypoints
    best: tuple[float, int, float] | None = None  # distance, segment, share along it
    for k in range(len(points) - 1):
        share, gap_m = _nearest_on_segment(points[k], points[k + 1], lat, lon)
        if best is None or gap_m < best[0]:
            best = (gap_m, k, share)
    assert best is not None  # a route has at least one segment
    gap_m, k, _ = best
    if gap_m > RESUME_WITHIN_M:
        return None
    rest = list(points[k + 1 :])
    if distance_between_m(lat, lon, rest[0].lat, rest[0].lon) < 1.0:
        rest = rest[1:]  # standing on the next waypoint: go on from there
    if not rest:
        return None
    start = Waypoint(lat, lon, points[k].speed_limit_kmh)
    return Route(f"{route.name} (resumed)", (start, *rest), route.default_speed_kmh)


def _nearest_on_segment(a: Waypoint, b: Waypoint, lat: float, lon: float) -> tuple[float, float]:
    """(share along a→b of the nearest point, its distance in m); flat within a segment."""
    scale = math.cos(math.radians(a.lat))
    bx, by = (b.lon - a.lon) * scale, b.lat - a.lat
    px, py = (lon - a.lon) * scale, lat - a.lat
    length_sq = bx * bx + by * by
    share = 0.0 if length_sq == 0 else min(1.0, max(0.0, (px * bx + py * by) / length_sq))
    near_lat, near_lon = a.lat + share * (b.lat - a.lat), a.lon + share * (b.lon - a.lon)
    return share, distance_between_m(lat, lon, near_lat, near_lon)


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """When the household's working day is, in its time zone."""

    time_zone: str = "Europe/Berlin"
    leave_home: time = LEAVE_HOME_AT
    leave_work: time = LEAVE_WORK_AT

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def working_hours(self, when: datetime) -> bool:
        local = when.astimezone(self.zone).time()
        return self.leave_home <= local < self.leave_work

    def morning(self, when: datetime) -> datetime:
        """:data:`DAY_STARTS_AT` on the local day of ``when``."""
        day = when.astimezone(self.zone).date()
        return datetime.combine(day, DAY_STARTS_AT, tzinfo=self.zone)


class DemoDay:
    """The day of one car with its cable to the home's wallbox and its owner's phone."""

    def __init__(
        self,
        *,
        car: SimulatedCar,
        cable: WallboxCable,
        commute: Commute,
        clock: Clock,
        schedule: DaySchedule | None = None,
        phone: SimPhone | None = None,
        leg: Leg | None = None,
    ) -> None:
        self._car = car
        self._cable = cable
        self._commute = commute
        self._clock = clock
        self._schedule = schedule or DaySchedule()
        self._phone = phone
        self._leg: Leg | None = None
        self._resume = leg  # the drive a stopped world was on
        self._problem = ""

    @property
    def leg(self) -> Leg | None:
        """The drive under way (to be saved with the world), None while parked."""
        return self._leg or self._resume

    @property
    def cable(self) -> WallboxCable:
        return self._cable

    async def run(self, step_s: float = STEP_S) -> None:
        """Decide every ``step_s`` of the clock's time until cancelled."""
        while True:
            self.step()
            await self._clock.sleep(step_s)

    def step(self) -> None:
        """Do what the time of day and the car's state ask for now."""
        state = self._car.state
        if self._resume is not None:
            self._go_on(self._resume, state)
            self._resume = None
            state = self._car.state
        if self._leg is not None:
            if state.activity == "driving":
                self._follow(state)
                return
            self._arrived(self._leg, state)
        self._follow(state)
        working = self._schedule.working_hours(self._clock.now())
        if self._at(state, self._commute.home):
            if working:
                self._depart(Leg.TO_WORK)
            elif not self._cable.plugged:
                self._plug_in()
        elif self._at(state, self._commute.work) and not working:
            self._depart(Leg.TO_HOME)

    # --- what the day does ---

    def _depart(self, leg: Leg) -> None:
        self._cable.unplug()
        self._drive(leg, self._commute.route(leg))

    def _drive(self, leg: Leg, route: Route, *, going_on: bool = False) -> None:
        try:
            self._car.drive(route)
        except SimError as exc:
            self._tell(f"the demo car cannot drive {leg}: {exc}")
            return
        self._leg, self._problem = leg, ""
        verb = "goes on" if going_on else "leaves"
        log.info("the demo car %s %s (%s, %.1f km)", verb, _WAY[leg], route.name, _km(route))

    def _arrived(self, leg: Leg, state: CarState) -> None:
        self._leg = None
        # The driver gets out: like a real car, the cabin climate (a pre-heat left on, say)
        # ends with the drive instead of running all day in the car park.
        self._car.set_hvac(False)
        log.info(
            "the demo car arrived %s: SoC %.0f %%, odometer %.1f km",
            "at work" if leg is Leg.TO_WORK else "home",
            state.soc * 100,
            state.odometer_m / 1000,
        )

    def _plug_in(self) -> None:
        try:
            self._cable.plug_in()
        except SimError as exc:
            self._tell(f"the demo car cannot be plugged into the wallbox: {exc}")
            return
        self._problem = ""
        log.info("the demo car is plugged into %s", self._cable.wallbox.device_id)

    def _go_on(self, leg: Leg, state: CarState) -> None:
        """Start a new world on the drive the stopped one was on, from where the car is."""
        rest = remaining_route(self._commute.route(leg), state.lat, state.lon)
        if rest is not None:
            self._drive(leg, rest, going_on=True)
        elif not any(self._at(state, place) for place in (self._commute.home, self._commute.work)):
            self._tell(
                f"the demo car is at {state.lat:.5f}, {state.lon:.5f}, off its route, neither "
                "home nor at work: it stays there (`smartev up --reset` starts afresh)"
            )

    def _follow(self, state: CarState) -> None:
        if self._phone is not None:
            self._phone.move_to(state.lat, state.lon)

    @staticmethod
    def _at(state: CarState, place: tuple[float, float]) -> bool:
        return distance_between_m(state.lat, state.lon, *place) <= AT_PLACE_M

    def _tell(self, problem: str) -> None:
        """Log a problem once, not at every step it lasts."""
        if problem != self._problem:
            self._problem = problem
            log.warning("%s", problem)


_WAY: Final = {Leg.TO_WORK: "for work", Leg.TO_HOME: "for home"}


def _km(route: Route) -> float:
    return route.distance_m / 1000.0
