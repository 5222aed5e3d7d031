"""The demo world around the cloud: the demo owner, their household and a family member in it,
the simulated home and the owner's phone, one simulated car connected over the link and living
its day (:mod:`smartev.demo_day`), the shipped automations, the owner's phone enrolling the keys
the household's people register, and (with ``mqtt_url``) the Home Assistant bridge, started and
stopped with ``smartev up``.

:meth:`DemoWorld.prepare` does the storage work before the server listens (the household's hub
starts with the app, so its devices must be attached by then); :meth:`DemoWorld.start` starts
what needs the server: the car node connects to the world's own ``/link/v1``. The world's clock
and the car's drive are saved every second of real time and at the end, so that a restart goes
on from there (:func:`world_start`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from smartev.car_node import DEFAULT_PLACE, CarNodeConfig, last_stored_time, run_car_node
from smartev.cloud.access import CarRole
from smartev.cloud.app import CloudContext
from smartev.cloud.automation_key import ServiceKey
from smartev.cloud.commands import CommandRecord
from smartev.core.clock import RealClock
from smartev.core.config import MqttAddress, Settings
from smartev.demo_automations import (
    OwnerPhone,
    enroll_key_requests,
    enroll_service_key,
    install_shipped,
)
from smartev.demo_day import DaySchedule, DemoDay, Leg, load_commute
from smartev.demo_files import DemoFiles
from smartev.demo_setup import (
    TIME_ZONE,
    DemoCar,
    DemoMember,
    DemoOwner,
    enrolled_in_car,
    ensure_family,
    ensure_owner,
    ensure_service_key,
    furnish_household,
    prepare_car,
)
from smartev.ecosystem.ha_bridge import HomeAssistantBridge
from smartev.ecosystem.ha_discovery import DeviceInfo
from smartev.ecosystem.shipped import HomeBindings
from smartev.sim.car import SimulatedCar
from smartev.sim.ev_port import WallboxCable
from smartev.sim.home import SimPhone, SimulatedHome, SimWallbox, default_home
from smartev.sim.spec import VehicleSpec, load_vehicle
from smartev.spec import shipped_catalog

log = logging.getLogger(__name__)

VEHICLE: Final = "xiaomi-su7"
CAR_DIR: Final = "car"
# The demo car's own VIN: not the one `smartev car run` uses by default, so a car started by
# hand (or by a test) against this cloud keeps its own registered key.
DEMO_VIN: Final = "LSJWH4097PN900001"
HOME_PLACE: Final = DEFAULT_PLACE  # the home, its geofence, the phone and the parked car
CAR_START_TIMEOUT_S: Final = 30.0  # real seconds for the car's gRPC API to listen
WALLBOX: Final = "wallbox:garage"
SAVE_EVERY_S: Final = 1.0  # real seconds between saves of the world's clock


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """How a person logs in to the demo world's web app."""

    email: str
    password: str | None  # None: the account exists but its password file is gone


@dataclass(frozen=True, slots=True)
class DemoReady:
    """What ``smartev up`` tells once the world runs."""

    login: DemoLogin  # the owner's
    car_vin: str
    car_grpc: str  # host:port of the car's KUKSA gRPC API
    household_id: str
    family: DemoLogin  # the family member's
    family_role: CarRole | None  # theirs for the car (None: the owner took it back)


@dataclass(frozen=True, slots=True)
class _Prepared:
    owner: DemoOwner
    family: DemoMember
    car: DemoCar
    service_key: ServiceKey
    home: SimulatedHome
    phone: SimPhone


def world_start(settings: Settings, now: datetime) -> datetime:
    """When the world's clock starts: a new world at ``settings.clock_start``, else at 07:00
    today (``now``'s day) in the household's time zone, so that the car leaves soon; a world
    that ran before goes on from where it stopped (the saved clock, or the car's newest stored
    value if later: stored telemetry never goes back in time). A ``clock_start`` later than
    that jumps ahead; an earlier one is ignored (and said so)."""
    files = DemoFiles(settings.data_dir)
    state = files.state()
    known = [
        t
        for t in (
            None if state.world_time_us is None else state.world_time_us / 1e6,
            last_stored_time(settings.data_dir / CAR_DIR),
        )
        if t is not None
    ]
    wanted = settings.clock_start
    if not known:
        if state.done:  # a world from before its clock was kept: it ran on real time
            return wanted or now
        return wanted or DaySchedule(TIME_ZONE).morning(now)
    stopped = datetime.fromtimestamp(max(known), UTC)
    if wanted is None:
        return stopped
    if wanted <= stopped:
        log.warning(
            "clock_start %s is before the time the demo world stopped at (%s): it goes on from "
            "there (start afresh with `smartev up --reset`)",
            wanted.isoformat(),
            stopped.isoformat(),
        )
        return stopped
    return wanted


class DemoWorld:
    """One demo household with its home, phone and car on the cloud ``ctx``."""

    def __init__(self, ctx: CloudContext) -> None:
        self._ctx = ctx
        self._files = DemoFiles(ctx.settings.data_dir)
        self._vehicle: VehicleSpec = load_vehicle(VEHICLE)
        self._prepared: _Prepared | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._car_task: asyncio.Task[None] | None = None
        self._car_stop = asyncio.Event()
        self._enrolling: asyncio.Task[CommandRecord | None] | None = None
        self.day: DemoDay | None = None  # once the car exists
        self.phone: OwnerPhone | None = None  # once the car is paired, with the owner's key
        self.bridge: HomeAssistantBridge | None = None

    @property
    def prepared(self) -> _Prepared:
        if self._prepared is None:
            raise RuntimeError("DemoWorld.prepare() has not run")
        return self._prepared

    @property
    def owner(self) -> DemoOwner:
        return self.prepared.owner

    @property
    def family(self) -> DemoMember:
        return self.prepared.family

    @property
    def ctx(self) -> CloudContext:
        return self._ctx

    @property
    def enrollment(self) -> asyncio.Task[CommandRecord | None] | None:
        """The service key's enrollment in the car, while or after it runs (None: not needed)."""
        return self._enrolling

    # --- before the server listens ---

    def prepare(self) -> None:
        """The owner, the household, the car's keys and pairing, the family member; the home's
        devices attached to the household's hub (which starts with the app)."""
        ctx, files = self._ctx, self._files
        owner = ensure_owner(ctx, files)
        furnish_household(ctx, owner, files, HOME_PLACE)
        car = prepare_car(
            ctx,
            owner,
            files,
            vin=DEMO_VIN,
            name=f"{self._vehicle.make} {self._vehicle.model}",
            car_dir=ctx.settings.data_dir / CAR_DIR,
        )
        family = ensure_family(ctx, owner, files, car)
        service_key = ensure_service_key(ctx, owner)
        if enrolled_in_car(car.data_dir, service_key):
            files.remember(enrolled_key=service_key.key_id)
        home = default_home(ctx.clock, *HOME_PLACE)
        for driver in home.drivers():
            ctx.homes.attach_device(owner.household_id, driver)
        # The phone's id is the owner's user id: the household's people find their phones so.
        phone = SimPhone(
            owner.user_id,
            clock=ctx.clock,
            latitude=HOME_PLACE[0],
            longitude=HOME_PLACE[1],
            name=f"{owner.email}'s phone",
        )
        ctx.homes.attach_device(owner.household_id, phone)
        self._prepared = _Prepared(owner, family, car, service_key, home, phone)

    # --- once the server listens ---

    async def start(self, link_url: str, *, mqtt: MqttAddress | None, app_url: str) -> DemoReady:
        """Start the home, the car (its link to ``link_url``) and its day, install the shipped
        automations, let the owner's phone enroll the service key and the keys people register,
        keep saving the world's clock, and run the bridge to ``mqtt``."""
        ctx, prepared = self._ctx, self.prepared
        owner, car, family = prepared.owner, prepared.car, prepared.family
        self._spawn(prepared.home.run(), "demo-home")
        grpc_target = await self._start_car(car, link_url)
        self._spawn(self._save_progress(), "demo-save")
        bindings = HomeBindings(car=f"car:{car.vin}")
        if car.paired:
            await install_shipped(ctx, owner, self._files, bindings)
            if car.owner_key_paired:
                self.phone = OwnerPhone(ctx, owner, self._files.owner_key(), car.vin)
                self._enrolling = asyncio.create_task(
                    enroll_service_key(self.phone, prepared.service_key, self._files),
                    name="demo-enroll-service-key",
                )
                self._enrolling.add_done_callback(_log_failure)
                self._spawn(enroll_key_requests(self.phone), "demo-enroll-key-requests")
        if mqtt is not None:
            self._start_bridge(mqtt, app_url, car.vin)
        return DemoReady(
            DemoLogin(owner.email, owner.password),
            car.vin,
            grpc_target,
            owner.household_id,
            DemoLogin(family.email, family.password),
            family.role,
        )

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_log_failure)
        self._tasks.append(task)

    def _on_car(self, car: SimulatedCar) -> None:
        """The car exists (before its first report): plug it in if the day says so, and start
        its day."""
        prepared = self.prepared
        saved = self._files.state().car_leg
        self.day = DemoDay(
            car=car,
            cable=WallboxCable(car, prepared.home.get(SimWallbox, WALLBOX)),
            commute=load_commute(),
            clock=self._ctx.clock,
            schedule=DaySchedule(TIME_ZONE),
            phone=prepared.phone,
            leg=Leg(saved) if saved in tuple(Leg) else None,
        )
        self.day.step()
        self._spawn(self.day.run(), "demo-day")

    async def _save_progress(self) -> None:
        """Save the world's clock and the car's drive every :data:`SAVE_EVERY_S` real seconds."""
        clock = RealClock()
        while True:
            self._save_now()
            await clock.sleep(SAVE_EVERY_S)

    def _save_now(self) -> None:
        leg = self.day.leg if self.day is not None else None
        self._files.save_progress(
            world_time_us=int(self._ctx.clock.timestamp() * 1_000_000),
            car_leg=None if leg is None else str(leg),
        )

    async def _start_car(self, car: DemoCar, link_url: str) -> str:
        config = CarNodeConfig(
            spec=self._vehicle,
            catalog=shipped_catalog(),
            data_dir=car.data_dir,
            grpc_port=0,  # a free port: a second world on this machine must not collide
            vin=car.vin,
            start=HOME_PLACE,
            resume=True,  # where the car was when the world stopped
            cloud_url=link_url,
            cloud_ca=self._ctx.settings.tls_cert,
            # about 3 s of real time at any speed (see CarNodeConfig.liveness_timeout_s)
            liveness_timeout_s=max(10.0, 3.0 * (self._ctx.settings.speed or 1.0)),
        )
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def ready(target: str) -> None:
            if not listening.done():
                listening.set_result(target)

        self._car_task = asyncio.create_task(
            run_car_node(
                config, self._ctx.clock, self._car_stop, on_ready=ready, on_car=self._on_car
            ),
            name="demo-car",
        )
        self._car_task.add_done_callback(_log_failure)
        waited: list[asyncio.Future[Any]] = [listening, self._car_task]
        done, _ = await asyncio.wait(
            waited,
            timeout=CAR_START_TIMEOUT_S,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if listening not in done:  # its error, if any, is logged as the task ends
            log.error("the demo car %s did not start", car.vin)
            return ""
        return listening.result()

    def _start_bridge(self, mqtt: MqttAddress, app_url: str, vin: str) -> None:
        hub = self._ctx.homes.started_hub(self.owner.household_id)
        if hub is None:
            log.error("the demo household's home did not start: no Home Assistant bridge")
            return
        model = f"{self._vehicle.make} {self._vehicle.model}"
        car_info = DeviceInfo(manufacturer=self._vehicle.make, model=model)
        self.bridge = HomeAssistantBridge(
            hub.registry,
            host=mqtt.host,
            port=mqtt.port,
            # Reconnecting to a broker is about the network, not the world: real-time backoff
            # (on the world's clock, 60x, it would retry several times a second).
            clock=RealClock(),
            username=mqtt.username,
            password=mqtt.password,
            device_info=lambda device: car_info if device == f"car:{vin}" else DeviceInfo(),
            origin_url=app_url,
        )
        bridging = asyncio.create_task(self.bridge.run(), name="demo-ha-bridge")
        bridging.add_done_callback(_log_failure)
        self._tasks.append(bridging)
        log.info("Home Assistant bridge to mqtt://%s:%d", mqtt.host, mqtt.port)

    # --- stopping ---

    async def stop(self) -> None:
        """Stop the bridge (it says ``offline``), the enrollments, the day, the car and the home,
        then save where the world stopped."""
        if self.bridge is not None:
            await self.bridge.stop()
        self._car_stop.set()  # the car closes its gRPC server, link and stores itself
        tasks = [*self._tasks, *([self._enrolling] if self._enrolling else [])]
        for task in tasks:
            task.cancel()
        if self._car_task is not None:
            tasks.append(self._car_task)
        await asyncio.gather(*tasks, return_exceptions=True)  # failures were logged as they ended
        if self._prepared is not None:
            self._save_now()  # after the car stored its last values: not before any of them


def _log_failure(task: asyncio.Task[Any]) -> None:
    """Say at once when a task of the demo world ends with an error (not when the world stops)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("demo %s failed", task.get_name(), exc_info=task.exception())
