"""The households' homes as the cloud runs them: per household a
:class:`~smartev.cloud.home_hub.HomeHub` with its device
registry (its cars, and the home devices the composition attaches), its automations and scenes
loaded from the database into an automation engine, and what the engine needs of the household
(time zone, zones = geofences, people = members, a notifier that stores and pushes messages).

Hubs start lazily (the first API request about the household's devices, automations or scenes)
or at startup for households that have automations, and all stop with the app. Everything of a
hub runs on the app's event loop; what arrives from other threads (telemetry batches, the car
link going up or down) is handed over with ``call_soon_threadsafe``. Database work runs in worker
threads (inline on SQLite for short reads, like :func:`smartev.cloud.deps.read_db`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from sqlalchemy import Connection

from smartev.cloud import automation_store as store
from smartev.cloud.automation_key import KeySealer, sign_for_car
from smartev.cloud.car_device import CarDevice, car_action_specs
from smartev.cloud.commands import CommandRelay
from smartev.cloud.db import Database
from smartev.cloud.home_hub import CarRow, HomeHub
from smartev.cloud.live import LiveHub
from smartev.cloud.telemetry import IngestResult
from smartev.core.clock import Clock
from smartev.ecosystem.trace import Trace
from smartev.link.signing import ArgValue
from smartev.spec import Catalog, shipped_catalog
from smartev.spec.car_device import car_spec
from smartev.spec.devices import DeviceDriver, DeviceSpec

__all__ = ["CarLinks", "HomeHub", "HomeHubs"]

log = logging.getLogger(__name__)

T = TypeVar("T")
REFRESH_S: Final = 30.0  # how often started hubs re-read cars, zones and members (real time)


class CarLinks:
    """The car gateway's sessions as the car devices need them (an absent gateway: all offline)."""

    def __init__(self, gateway: Any | None) -> None:
        self._gateway = gateway

    def epoch(self, car_id: str) -> bytes | None:
        sessions = getattr(self._gateway, "sessions", None)
        session = None if sessions is None else sessions.get(car_id)
        return None if session is None else bytes(session.epoch)


class HomeHubs:
    """Every household's hub in this process, and what the hubs share."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        relay: CommandRelay,
        live: LiveHub,
        sealer: KeySealer,
        gateway: Any | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.relay = relay
        self.live = live
        self.sealer = sealer
        self.links = CarLinks(gateway)
        self._catalog = catalog
        self._car_spec: DeviceSpec | None = None
        self._hubs: dict[str, HomeHub] = {}
        self._by_car: dict[str, HomeHub] = {}
        self._starting: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refresher: asyncio.Task[None] | None = None

    # --- plumbing ---

    def now_us(self) -> int:
        return int(self.clock.timestamp() * 1_000_000)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """A short read: inline on SQLite, in a worker thread on a networked database."""

        def run() -> T:
            with self.db.connect() as db:
                return work(db)

        if self.db.backend == "sqlite":
            return run()
        return await asyncio.to_thread(run)

    def write_run(self, household_id: str, trace: Trace) -> None:
        with self.db.begin() as db:
            store.record_run(db, household_id, trace)

    def car_spec(self) -> DeviceSpec:
        if self._car_spec is None:
            self._car_spec = car_spec(self._catalog or shipped_catalog(), car_action_specs())
        return self._car_spec

    def car_device(self, household_id: str, row: CarRow) -> CarDevice:
        def sign(
            car_id: str,
            name: str,
            args: Mapping[str, ArgValue],
            epoch: bytes,
            now_us: int,
            ttl_s: float,
        ) -> bytes:
            with self.db.begin() as db:
                return sign_for_car(
                    db,
                    self.sealer,
                    household_id=household_id,
                    car_id=car_id,
                    name=name,
                    args=args,
                    epoch=epoch,
                    car_now_us=now_us,
                    ttl_s=ttl_s,
                )

        return CarDevice(
            car_id=row.car_id,
            name=row.name,
            spec=self.car_spec(),
            values=row.values,
            sessions=self.links,
            relay=self.relay,
            sign=sign,
            clock=self.clock,
        )

    def watch_car(self, car_id: str, hub: HomeHub) -> None:
        self._by_car[car_id] = hub

    def forget_car(self, car_id: str, hub: HomeHub) -> None:
        if self._by_car.get(car_id) is hub:
            del self._by_car[car_id]

    def _on_loop(self, work: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app is stopping
            loop.call_soon_threadsafe(work, *args)

    # --- what the rest of the cloud tells the hubs (any thread) ---

    def on_ingested(self, result: IngestResult) -> None:
        """The telemetry store's listener: a car's new values reach its device."""
        if result.car_id not in self._by_car or not result.latest:
            return
        values = {path: value for path, (_ts, value) in result.latest.items()}
        self._on_loop(self._deliver_values, result.car_id, values)

    def _deliver_values(self, car_id: str, values: Mapping[str, Any]) -> None:
        hub = self._by_car.get(car_id)
        device = None if hub is None else hub.cars.get(car_id)
        if device is not None:
            device.update_values(values)

    def car_link_changed(self, car_id: str, online: bool) -> None:
        if car_id in self._by_car:
            self._on_loop(self._deliver_link, car_id, online)

    def _deliver_link(self, car_id: str, online: bool) -> None:
        hub = self._by_car.get(car_id)
        device = None if hub is None else hub.cars.get(car_id)
        if device is not None:
            device.set_online(online)

    # --- hubs ---

    def attach_device(self, household_id: str, driver: DeviceDriver) -> None:
        """Add a home device (simulated, MQTT, Home Assistant) to the household's hub; the hub
        is made if need be and starts with the app (or at its first use)."""
        hub = self._hubs.get(household_id)
        if hub is None:
            hub = self._hubs[household_id] = HomeHub(self, household_id)
        hub.registry.add(driver)
        hub.devices_changed()

    async def hub(self, household_id: str, *, refresh: bool = True) -> HomeHub:
        """The household's started hub (the caller has checked membership)."""
        hub = self._hubs.get(household_id)
        if hub is not None and hub.started:
            if refresh:
                await hub.refresh()
            return hub
        lock = self._starting.setdefault(household_id, asyncio.Lock())
        async with lock:
            hub = self._hubs.get(household_id)
            if hub is None:
                hub = self._hubs[household_id] = HomeHub(self, household_id)
            if not hub.started:
                await hub.start()
        return hub

    def started_hub(self, household_id: str) -> HomeHub | None:
        hub = self._hubs.get(household_id)
        return hub if hub is not None and hub.started else None

    async def start(self) -> None:
        """Bind to the running loop; start the hubs of households with automations or devices."""
        self._loop = asyncio.get_running_loop()
        with_automations = await self.read(store.households_with_automations)
        for household_id in {*with_automations, *self._hubs}:
            try:
                await self.hub(household_id, refresh=False)
            except Exception:  # one broken household must not keep the others down
                log.exception("the home of household %s did not start", household_id)
        self._refresher = asyncio.create_task(self._refresh_forever(), name="home-refresh")

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            for hub in list(self._hubs.values()):
                if hub.started:
                    try:
                        await hub.refresh()
                    except Exception:
                        log.exception("refreshing the home of %s failed", hub.household_id)

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        for hub in list(self._hubs.values()):
            try:
                await hub.stop()
            except Exception:
                log.exception("stopping the home of %s failed", hub.household_id)
