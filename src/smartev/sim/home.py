"""A simulated home: its devices, the weather and the sun at its place, and the energy balance
at its grid meter, all advanced together on one clock.

``default_home(clock, lat, lon)`` builds a typical one; ``await home.run()`` keeps it going (one
task for the whole home), or a test moves the clock and calls ``home.update()``. The composition
plugs a car into ``home.get(SimWallbox, "wallbox:garage").plug_in(car)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from smartev.core.clock import Clock
from smartev.sim.errors import SimError
from smartev.sim.home_device import SimDevice
from smartev.sim.home_devices import (
    SimDoorLock,
    SimLight,
    SimPhone,
    SimPresenceSensor,
    SimSmartPlug,
    SimThermostat,
)
from smartev.sim.home_energy import SimEnergyMeter, SimHomeBattery, SimSolarInverter
from smartev.sim.home_garage import SimGarageDoor
from smartev.sim.home_physics import (
    DEFAULT_BASE_LOAD_W,
    BatteryParams,
    RoomParams,
    TimeOfUseTariff,
    base_load_w,
    outdoor_temperature_c,
)
from smartev.sim.home_wallbox import ChargerState, EvPort, SimWallbox, WallboxParams
from smartev.sim.solar import clear_sky_irradiance_w_m2, solar_elevation_deg
from smartev.spec.devices import DeviceDriver

D = TypeVar("D", bound=SimDevice)


@dataclass(frozen=True, slots=True)
class HomeConfig:
    """What makes one simulated home different from another. No time zones: local time is UTC
    plus ``utc_offset_h``, or the mean solar time of the home's longitude when that is None."""

    outdoor_mean_c: float = 10.0
    outdoor_swing_c: float = 8.0  # the day's maximum minus its minimum
    utc_offset_h: float | None = None
    base_load_w: tuple[float, ...] = DEFAULT_BASE_LOAD_W
    tariff: TimeOfUseTariff = field(default_factory=TimeOfUseTariff)
    room: RoomParams = field(default_factory=RoomParams)
    room_start_c: float = 20.0
    solar_peak_kw: float = 6.0
    solar_efficiency: float = 0.85
    sky_clearness: float = 1.0  # 1 clear, 0 overcast
    battery: BatteryParams = field(default_factory=BatteryParams)
    battery_start_soc_pct: float = 50.0
    wallbox: WallboxParams = field(default_factory=WallboxParams)
    garage_travel_s: float = 12.0
    kettle_w: float = 2000.0
    # A long jump of the clock is cut into steps of at most this, so the sun, the thermostat and
    # the battery see the hours in between.
    max_step_s: float = 60.0


@dataclass(frozen=True, slots=True)
class EnergyBalance:
    """The home's powers at one moment, in W. ``grid_w`` = loads − solar + battery."""

    base_load_w: float
    plugs_w: float
    chargers_w: float
    heat_pumps_w: float
    solar_w: float
    battery_w: float  # positive: the batteries are charging
    grid_w: float  # positive: importing

    @property
    def loads_w(self) -> float:
        return self.base_load_w + self.plugs_w + self.chargers_w + self.heat_pumps_w


class SimulatedHome:
    """The devices of one home and the physics between them."""

    def __init__(
        self, clock: Clock, latitude: float, longitude: float, config: HomeConfig | None = None
    ) -> None:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise SimError(
                f"home position ({latitude}, {longitude}) is impossible: latitude must be "
                "-90..90, longitude -180..180"
            )
        self.clock = clock
        self.latitude, self.longitude = latitude, longitude
        self.config = config or HomeConfig()
        if not self.config.max_step_s > 0:
            raise SimError(f"max_step_s {self.config.max_step_s} must be > 0")
        self._devices: dict[str, SimDevice] = {}
        self._last_ts = clock.timestamp()
        self._outdoor_c = self._outdoor_at(clock.now())
        self._balance = EnergyBalance(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    # --- devices ---

    def add(self, device: D) -> D:
        if device.device_id in self._devices:
            raise SimError(f"{device.device_id} is already in the home; device ids are unique")
        if isinstance(device, SimEnergyMeter) and self._of(SimEnergyMeter):
            raise SimError("a home has one grid meter; it already has one")
        self._devices[device.device_id] = device
        self._settle(self.clock.now(), 0.0)
        return device

    @property
    def devices(self) -> tuple[SimDevice, ...]:
        return tuple(self._devices.values())

    def drivers(self) -> list[DeviceDriver]:
        """The devices as the ecosystem sees them (to add to a registry or a hub)."""
        return list(self._devices.values())

    def device(self, device_id: str) -> SimDevice:
        try:
            return self._devices[device_id]
        except KeyError:
            known = ", ".join(self._devices) or "none"
            raise SimError(f"the home has no device {device_id}; it has: {known}") from None

    def get(self, kind: type[D], device_id: str) -> D:
        """``device_id``, checked to be a ``kind``: ``get(SimWallbox, "wallbox:garage")``."""
        device = self.device(device_id)
        if not isinstance(device, kind):
            raise SimError(f"{device_id} is a {type(device).__name__}, not a {kind.__name__}")
        return device

    def _of(self, kind: type[D]) -> list[D]:
        return [d for d in self._devices.values() if isinstance(d, kind)]

    # --- what the home knows ---

    @property
    def outdoor_temperature_c(self) -> float:
        return self._outdoor_c

    @property
    def balance(self) -> EnergyBalance:
        return self._balance

    def local_hour(self, when: datetime) -> float:
        return (self._local_seconds(when) / 3600.0) % 24.0

    def _local_seconds(self, when: datetime) -> float:
        offset_h = self.config.utc_offset_h
        if offset_h is None:
            offset_h = self.longitude / 15.0
        return when.timestamp() + offset_h * 3600.0

    def _outdoor_at(self, when: datetime) -> float:
        c = self.config
        return outdoor_temperature_c(self.local_hour(when), c.outdoor_mean_c, c.outdoor_swing_c)

    # --- time ---

    def update(self) -> float:
        """Advance every device's physics to the clock's time; returns the seconds advanced."""
        now_ts = self.clock.timestamp()
        dt = now_ts - self._last_ts
        if dt <= 0:
            return 0.0
        steps = math.ceil(dt / self.config.max_step_s)
        h = dt / steps
        mono_now = self.clock.monotonic()
        for k in range(1, steps + 1):
            t = self._last_ts + k * h
            self._settle(datetime.fromtimestamp(t, UTC), h, mono_now - (now_ts - t))
        self._last_ts = now_ts
        return dt

    async def run(self, step_s: float = 5.0) -> None:
        """Keep the home going: update every ``step_s`` of the clock's time until cancelled."""
        if not step_s > 0:
            raise SimError(f"home step {step_s} s must be > 0")
        self.update()
        while True:
            await self.clock.sleep(step_s)
            self.update()

    def _settle(self, when: datetime, dt_s: float, mono: float | None = None) -> None:
        """One step of ``dt_s`` ending at ``when``: each device over the step, then the balance."""
        c = self.config
        local_s = self._local_seconds(when)
        local_hour = (local_s / 3600.0) % 24.0
        self._outdoor_c = self._outdoor_at(when)
        elevation = solar_elevation_deg(self.latitude, self.longitude, when)
        irradiance = clear_sky_irradiance_w_m2(elevation) * c.sky_clearness
        for plug in self._of(SimSmartPlug):
            plug.advance(dt_s)
        for thermostat in self._of(SimThermostat):
            thermostat.advance(dt_s, self._outdoor_c)
        for wallbox in self._of(SimWallbox):
            wallbox.update(mono)
        for inverter in self._of(SimSolarInverter):
            inverter.advance(dt_s, when, math.floor(local_s / 86400.0))
        for sensor in self._of(SimPresenceSensor):
            sensor.advance(irradiance)
        for door in self._of(SimGarageDoor):
            door.update()
        base = base_load_w(local_hour, c.base_load_w)
        plugs = sum(p.power_w for p in self._of(SimSmartPlug))
        chargers = sum(w.power_w for w in self._of(SimWallbox))
        heat_pumps = sum(t.electrical_w for t in self._of(SimThermostat))
        solar = sum(i.power_w for i in self._of(SimSolarInverter))
        net = base + plugs + chargers + heat_pumps - solar
        battery_w = 0.0
        for battery in self._of(SimHomeBattery):
            battery.advance(dt_s, net + battery_w)
            battery_w += battery.power_w
        grid = net + battery_w
        self._balance = EnergyBalance(base, plugs, chargers, heat_pumps, solar, battery_w, grid)
        for meter in self._of(SimEnergyMeter):
            meter.show(grid, chargers, local_hour)


def default_home(
    clock: Clock, latitude: float, longitude: float, config: HomeConfig | None = None
) -> SimulatedHome:
    """A family house: two lights, a heat pump for the living room, a garage door, a smart front
    door lock, a kettle on a smart plug, an 11 kW wallbox in the garage, 6 kWp of solar on the
    roof, a 10 kWh battery in the basement, a presence sensor in the hall and the grid meter."""
    home = SimulatedHome(clock, latitude, longitude, config)
    c = home.config
    hall = home.add(SimLight("hall", clock=clock, name="Hall light"))
    home.add(SimLight("living", clock=clock, name="Living room light"))
    home.add(
        SimThermostat(
            "living",
            clock=clock,
            name="Living room heat pump",
            room=c.room,
            temperature_c=c.room_start_c,
        )
    )
    home.add(SimGarageDoor("main", clock=clock, name="Garage door", travel_s=c.garage_travel_s))
    home.add(SimDoorLock("front", clock=clock, name="Front door"))
    home.add(SimSmartPlug("kettle", clock=clock, name="Kettle", load_w=c.kettle_w))
    home.add(SimWallbox("garage", clock=clock, name="Garage wallbox", params=c.wallbox))
    home.add(
        SimSolarInverter(
            "roof",
            clock=clock,
            name="Roof solar",
            latitude=latitude,
            longitude=longitude,
            peak_kw=c.solar_peak_kw,
            efficiency=c.solar_efficiency,
            sky_clearness=c.sky_clearness,
        )
    )
    home.add(
        SimHomeBattery(
            "basement",
            clock=clock,
            name="Home battery",
            params=c.battery,
            soc_pct=c.battery_start_soc_pct,
        )
    )
    home.add(SimPresenceSensor("hall", clock=clock, name="Hall presence", light=hall))
    home.add(SimEnergyMeter("home", clock=clock, name="Grid meter", tariff=c.tariff))
    return home


__all__ = [
    "ChargerState",
    "EnergyBalance",
    "EvPort",
    "HomeConfig",
    "SimDevice",
    "SimDoorLock",
    "SimEnergyMeter",
    "SimGarageDoor",
    "SimHomeBattery",
    "SimLight",
    "SimPhone",
    "SimPresenceSensor",
    "SimSmartPlug",
    "SimSolarInverter",
    "SimThermostat",
    "SimWallbox",
    "SimulatedHome",
    "WallboxParams",
    "default_home",
]
