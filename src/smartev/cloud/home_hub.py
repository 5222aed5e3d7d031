"""One household's home as the cloud runs it: its device registry (cars and attached home
devices), its automations and scenes in an automation engine, and what the engine needs of the
household (time zone, zones, people, a notifier). Lives on the app's event loop; made, started
and fed by :class:`smartev.cloud.homes.HomeHubs`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from smartev.cloud import automation_store as store
from smartev.cloud import home_store
from smartev.cloud import schema as t
from smartev.cloud.car_device import CarDevice
from smartev.cloud.live import DeviceChange, iso
from smartev.cloud.telemetry import decode_value
from smartev.ecosystem.automation_context import AutomationContext
from smartev.ecosystem.automation_yaml import parse_automation
from smartev.ecosystem.engine import AutomationEngine, Person
from smartev.ecosystem.errors import AutomationError, UnknownAutomationError
from smartev.ecosystem.geo import Zone
from smartev.ecosystem.model import Automation, Scene
from smartev.ecosystem.registry import (
    AvailabilityChange,
    DeviceRegistry,
    Happening,
    PropertyChange,
)
from smartev.ecosystem.scene_yaml import parse_scene
from smartev.ecosystem.trace import Trace
from smartev.spec.devices import Scalar

if TYPE_CHECKING:
    from smartev.cloud.homes import HomeHubs

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CarRow:
    car_id: str
    name: str
    values: Mapping[str, Scalar]


@dataclass(frozen=True, slots=True)
class _Household:
    """What a hub reads of its household at start and on each refresh."""

    time_zone: str
    zones: tuple[tuple[str, float, float, float], ...]
    residents: tuple[home_store.Resident, ...]
    cars: tuple[CarRow, ...]


def _read_household(db: Connection, household_id: str, known_cars: frozenset[str]) -> _Household:
    cars = []
    rows = db.execute(
        select(t.car.c.id, t.car.c.name, t.car.c.paired_us).where(
            t.car.c.household_id == household_id
        )
    ).all()
    for row in rows:
        values: dict[str, Scalar] = {}
        if row.id not in known_cars:  # a car already in the hub keeps its live values
            latest = t.signal_latest.c
            for path, value in db.execute(
                select(latest.path, latest.value).where(
                    latest.car_id == row.id, latest.ts_us >= (row.paired_us or 0)
                )
            ).all():
                decoded = _decode(value)
                if decoded is not None:
                    values[path] = decoded
        cars.append(CarRow(row.id, row.name, values))
    return _Household(
        home_store.time_zone(db, household_id),
        tuple(home_store.zones(db, household_id)),
        tuple(home_store.residents(db, household_id)),
        tuple(cars),
    )


def _decode(text: str) -> Scalar | None:
    value = decode_value(text)
    return None if isinstance(value, tuple) else value


class HouseholdNotifier:
    """The engine's notifier: a notification row per person, pushed on their live sockets."""

    def __init__(self, hubs: HomeHubs, household_id: str) -> None:
        self._hubs = hubs
        self._household_id = household_id

    async def notify(self, to: tuple[str, ...], title: str, message: str) -> None:
        residents = await self._hubs.read(lambda db: home_store.residents(db, self._household_id))
        by_id = {r.user_id: r.user_id for r in residents}
        by_email = {r.email.lower(): r.user_id for r in residents}
        users: list[str] = []
        for name in to:
            user_id = by_id.get(name) or by_email.get(name.lower())
            if user_id is None:
                raise ValueError(f"{name} is not a member of household {self._household_id}")
            if user_id not in users:
                users.append(user_id)
        now_us = self._hubs.now_us()

        def write() -> list[home_store.StoredNotification]:
            with self._hubs.db.begin() as db:
                return home_store.add_notifications(
                    db,
                    household_id=self._household_id,
                    user_ids=users,
                    title=title,
                    message=message,
                    now_us=now_us,
                )

        for stored in await asyncio.to_thread(write):
            self._hubs.live.publish_notification(
                stored.user_id,
                {
                    "type": "notification",
                    "id": stored.id,
                    "household_id": stored.household_id,
                    "title": stored.title,
                    "message": stored.message,
                    "ts": iso(stored.created_us),
                },
            )


class HomeHub:
    """One household's devices, automations and scenes, on the app's loop."""

    def __init__(self, hubs: HomeHubs, household_id: str) -> None:
        self.household_id = household_id
        self._hubs = hubs
        self.registry = DeviceRegistry(hubs.clock)
        self.cars: dict[str, CarDevice] = {}
        self.people: dict[str, Person] = {}
        self.zones: dict[str, Zone] = {}
        self.time_zone = home_store.DEFAULT_TIME_ZONE
        self.scenes: dict[str, Scene] = {}  # by name
        self.scene_names: dict[str, str] = {}  # scene id → name
        self.broken: dict[str, AutomationError] = {}  # stored automations that no longer parse
        self._broken_sources: dict[str, tuple[str, bool]] = {}  # id → (source, enabled)
        self._broken_scenes: dict[str, str] = {}  # id → source, of scenes that no longer parse
        self.engine: AutomationEngine | None = None
        self._writes: set[asyncio.Task[None]] = set()
        # From the start, not from start(): devices attached before the hub starts (or to a
        # hub that is never asked for) still show their changes to the members' live sockets.
        self.registry.subscribe(self._publish)

    @property
    def started(self) -> bool:
        return self.engine is not None

    def context(self) -> AutomationContext:
        return AutomationContext(
            devices=self.registry.specs(),
            zones=tuple(self.zones),
            scenes=tuple(self.scenes),
            people=tuple(self.people),
        )

    # --- start, refresh, stop ---

    async def start(self) -> None:
        await self.refresh()
        rows = await self._hubs.read(
            lambda db: (
                store.automations(db, self.household_id),
                store.scenes(db, self.household_id),
            )
        )
        stored_automations, stored_scenes = rows
        for stored_scene in stored_scenes:
            self._broken_scenes[stored_scene.id] = stored_scene.source
        self._retry_scenes()
        self.engine = self._new_engine()
        for automation in stored_automations:
            self.load(automation.id, automation.source, enabled=automation.enabled)
        await self.engine.start()

    def _new_engine(self) -> AutomationEngine:
        return AutomationEngine(
            self._hubs.clock,
            self.registry,
            tz=ZoneInfo(self.time_zone),
            zones=self.zones,
            scenes=self.scenes,
            people=self.people,
            notifier=HouseholdNotifier(self._hubs, self.household_id),
            on_trace=self._on_trace,
        )

    async def refresh(self) -> None:
        """Re-read the household: its cars (paired, unpaired), zones, members, time zone."""
        known = frozenset(self.cars)
        state = await self._hubs.read(lambda db: _read_household(db, self.household_id, known))
        self._sync_cars(state.cars)
        self.zones = {}
        for name, lat, lon, radius_m in state.zones:
            with contextlib.suppress(ValueError):
                self.zones[name] = Zone(name, lat, lon, radius_m)
        self.people = {
            r.user_id: Person(
                id=r.user_id,
                name=r.display_name,
                phone=f"phone:{r.user_id}" if f"phone:{r.user_id}" in self.registry else None,
            )
            for r in state.residents
        }
        engine = self.engine
        if engine is not None:
            engine.set_zones(self.zones)
            engine.set_people(self.people)
        if state.time_zone != self.time_zone:
            self.time_zone = state.time_zone
            if engine is not None:
                await self.restart_engine()

    async def restart_engine(self) -> None:
        """A new engine with the household's current settings (runs going on are aborted)."""
        old = self.engine
        if old is None:
            return
        automations = old.automations()
        await old.stop()
        self.engine = self._new_engine()
        for automation in automations:
            self.engine.load(automation)
        await self.engine.start()

    def _sync_cars(self, cars: tuple[CarRow, ...]) -> None:
        wanted = {car.car_id: car for car in cars}
        before = set(self.cars)
        for car_id in list(self.cars):
            if car_id not in wanted:  # unpaired, or paired into another household
                device = self.cars.pop(car_id)
                self.registry.remove(device.device_id)
                self._hubs.forget_car(car_id, self)
        for car_id, row in wanted.items():
            if car_id in self.cars or f"car:{car_id}" in self.registry:
                continue
            device = self._hubs.car_device(self.household_id, row)
            self.registry.add(device)
            self.cars[car_id] = device
            self._hubs.watch_car(car_id, self)
        if set(self.cars) != before:
            self.devices_changed()

    async def stop(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.stop()
        await self.flush_traces()
        for car_id in list(self.cars):
            self._hubs.forget_car(car_id, self)

    # --- automations and scenes (the API changes them at once) ---

    def parse(self, automation_id: str, source: str) -> Automation:
        """The automation in ``source`` checked against the household (AutomationError)."""
        return parse_automation(source, self.context(), automation_id=automation_id)

    def parse_scene(self, source: str) -> Scene:
        """The scene in ``source`` checked against the household (AutomationError)."""
        return parse_scene(source, self.context())

    def load(self, automation_id: str, source: str, *, enabled: bool) -> None:
        """(Re)load a stored automation into the engine (a disabled one is loaded without its
        triggers: it still runs by hand); one that no longer parses (a device went away) is kept
        aside with its problems, shown by the API, and not run."""
        engine = self.engine
        assert engine is not None
        self.broken.pop(automation_id, None)
        self._broken_sources.pop(automation_id, None)
        try:
            automation = self.parse(automation_id, source)
        except AutomationError as exc:
            self.broken[automation_id] = exc
            self._broken_sources[automation_id] = (source, enabled)
            with contextlib.suppress(UnknownAutomationError):
                engine.unload(automation_id)
            log.warning("automation %s no longer fits its household: %s", automation_id, exc)
            return
        engine.load(dataclasses.replace(automation, enabled=enabled))

    def unload(self, automation_id: str) -> None:
        self.broken.pop(automation_id, None)
        self._broken_sources.pop(automation_id, None)
        if self.engine is not None:
            with contextlib.suppress(UnknownAutomationError):
                self.engine.unload(automation_id)

    def devices_changed(self) -> None:
        """A device came or went: what did not fit before may fit now (and the reverse shows
        when it is next saved or loaded)."""
        self._retry_scenes()
        if self.engine is not None:
            for automation_id, (source, enabled) in list(self._broken_sources.items()):
                self.load(automation_id, source, enabled=enabled)

    def _retry_scenes(self) -> None:
        for scene_id, source in list(self._broken_scenes.items()):
            try:
                scene = parse_scene(source, self.context())
            except AutomationError as exc:
                log.warning("scene %s does not fit its household: %s", scene_id, exc)
                continue
            del self._broken_scenes[scene_id]
            self.put_scene(scene_id, scene)

    def _put_scene(self, scene_id: str, scene: Scene) -> None:
        old = self.scene_names.get(scene_id)
        if old is not None:
            self.scenes.pop(old, None)
        self.scene_names[scene_id] = scene.name
        self.scenes[scene.name] = scene

    def put_scene(self, scene_id: str, scene: Scene) -> None:
        self._broken_scenes.pop(scene_id, None)
        self._put_scene(scene_id, scene)
        if self.engine is not None:
            self.engine.set_scenes(self.scenes)

    def drop_scene(self, scene_id: str) -> None:
        self._broken_scenes.pop(scene_id, None)
        name = self.scene_names.pop(scene_id, None)
        if name is not None:
            self.scenes.pop(name, None)
        if self.engine is not None:
            self.engine.set_scenes(self.scenes)

    # --- live: what the household's members see happen ---

    def _publish(self, happening: Happening) -> None:
        """A home device's change to the members' live sockets (a car's values go out as its
        own ``state`` messages, filtered by each person's role)."""
        if happening.device.startswith("car:"):
            return
        live = self._hubs.live
        if isinstance(happening, PropertyChange):
            change = DeviceChange(happening.ref, happening.value, round(happening.ts * 1e6))
            live.publish_device(self.household_id, happening.device, (change,))
        elif isinstance(happening, AvailabilityChange):
            live.publish_device_online(self.household_id, happening.device, happening.online)

    # --- traces ---

    def _on_trace(self, trace: Trace) -> None:
        async def write() -> None:
            try:
                await asyncio.to_thread(self._hubs.write_run, self.household_id, trace)
            except Exception:
                log.exception("storing the trace of run %s failed", trace.run_id)
                return
            ended = trace.finished if trace.finished is not None else trace.started
            self._hubs.live.publish_automation_run(
                self.household_id,
                trace.automation_id,
                trace.run_id,
                str(trace.outcome),
                round(ended * 1e6),
            )

        task = asyncio.ensure_future(write())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def flush_traces(self) -> None:
        """Wait until every finished run so far is stored."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
