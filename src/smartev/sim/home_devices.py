"""The simulated home's everyday devices: light, smart plug, door lock, presence sensor, phone and
the room thermostat (with its room). The garage door and the energy devices have their own
modules."""

from __future__ import annotations

from collections.abc import Mapping

from smartev.core.clock import Clock
from smartev.sim.home_device import NO_OUTPUT, SimDevice, rounded
from smartev.sim.home_physics import (
    HvacAction,
    RoomParams,
    ThermostatMode,
    hvac_electrical_w,
    hvac_thermal_w,
    room_temperature_step,
    thermostat_action,
)
from smartev.spec.devices import DeviceActionError, Scalar


class SimLight(SimDevice):
    """A dimmable light; switches at once. Turning on without a brightness restores the last."""

    def __init__(self, key: str, *, clock: Clock, name: str = "", brightness: int = 80) -> None:
        super().__init__("light", key, name=name or f"Light {key}", clock=clock)
        self._set("light.on", False)
        self._set("light.brightness", brightness)
        self._actions.update(
            {
                "light.turn_on": self._turn_on,
                "light.turn_off": self._turn_off,
                "light.toggle": self._toggle,
            }
        )
        self._writes.update({"light.on": self._write_on, "light.brightness": self._write_level})

    @property
    def is_on(self) -> bool:
        return self._values["light.on"] is True

    @property
    def brightness(self) -> int:
        level = self._values["light.brightness"]
        assert isinstance(level, int)
        return level

    async def _turn_on(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        if "brightness" in args:
            self._set("light.brightness", args["brightness"])
        self._set("light.on", True)
        return NO_OUTPUT

    async def _turn_off(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._set("light.on", False)
        return NO_OUTPUT

    async def _toggle(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._set("light.on", not self.is_on)
        return NO_OUTPUT

    async def _write_on(self, value: Scalar) -> None:
        self._set("light.on", value)

    async def _write_level(self, value: Scalar) -> None:
        self._set("light.brightness", value)


class SimSmartPlug(SimDevice):
    """A metered socket with an appliance of ``load_w`` plugged in, drawing it while switched on."""

    def __init__(
        self, key: str, *, clock: Clock, load_w: float, name: str = "", on: bool = False
    ) -> None:
        super().__init__("smart_plug", key, name=name or f"Plug {key}", clock=clock)
        self.load_w = load_w
        self._energy_kwh = 0.0
        self._set("switch.on", on)
        self._set("meter.energy", 0.0)
        self._set_power()
        self._actions.update({"switch.turn_on": self._turn_on, "switch.turn_off": self._turn_off})
        self._writes["switch.on"] = self._write_on

    @property
    def power_w(self) -> float:
        return self.load_w if self._values["switch.on"] is True else 0.0

    def advance(self, dt_s: float) -> None:
        """Meter the ``dt_s`` that just passed at the power drawn during it."""
        self._energy_kwh += self.power_w * dt_s / 3.6e6
        self._set("meter.energy", rounded(self._energy_kwh, 3))

    def _set_power(self) -> None:
        self._set("meter.power", rounded(self.power_w))

    def _switch(self, on: bool) -> None:
        self._set("switch.on", on)
        self._set_power()

    async def _turn_on(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._switch(True)
        return NO_OUTPUT

    async def _turn_off(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._switch(False)
        return NO_OUTPUT

    async def _write_on(self, value: Scalar) -> None:
        self._switch(value is True)


class SimDoorLock(SimDevice):
    """A motorised lock: the bolt takes ``operate_s`` to move; each operation fires
    ``lock.operated`` with method ``remote`` (asked through the driver) or ``manual``."""

    def __init__(
        self, key: str, *, clock: Clock, name: str = "", locked: bool = True, operate_s: float = 1.0
    ) -> None:
        super().__init__("door_lock", key, name=name or f"Lock {key}", clock=clock)
        self.operate_s = operate_s
        self._jammed = False
        self._show(locked)
        self._actions.update({"lock.lock": self._lock, "lock.unlock": self._unlock})

    @property
    def locked(self) -> bool:
        return self._values["lock.locked"] is True

    def operate_manually(self, locked: bool) -> None:
        """Someone turns the key or the thumb-turn: instantaneous, method ``manual``."""
        if self._jammed:
            return
        self._show(locked)
        self._fire("lock.operated", {"method": "manual"})

    def set_jammed(self, jammed: bool) -> None:
        """The bolt sticks (state ``jammed``; remote operations fail) or is freed again."""
        self._jammed = jammed
        if jammed:
            self._set("lock.state", "jammed")
        else:
            self._show(self.locked)

    def _show(self, locked: bool) -> None:
        self._set("lock.locked", locked)
        self._set("lock.state", "locked" if locked else "unlocked")

    async def _operate(self, locked: bool) -> Mapping[str, Scalar]:
        verb = "lock" if locked else "unlock"
        if self._jammed:
            raise DeviceActionError(f"{self.device_id} is jammed: cannot {verb}; free the bolt")
        await self._clock.sleep(self.operate_s)
        self._require_online(f"lock.{verb}")
        if self._jammed:
            raise DeviceActionError(f"{self.device_id} jammed while trying to {verb}")
        self._show(locked)
        self._fire("lock.operated", {"method": "remote"})
        return NO_OUTPUT

    async def _lock(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        return await self._operate(True)

    async def _unlock(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        return await self._operate(False)


# Indoor daylight: about 120 lx outdoors per W/m² of sunlight, of which a room by a window gets a
# few per mille; a light at full brightness adds a few hundred lux.
LUX_PER_W_M2 = 120.0
DAYLIGHT_INDOORS = 0.005
LAMP_LX = 300.0


class SimPresenceSensor(SimDevice):
    """Occupancy (set by tests or the composition) and illuminance: daylight through the windows
    plus the room's light when it is on, unless a test pins it with :meth:`set_illuminance`."""

    def __init__(
        self, key: str, *, clock: Clock, name: str = "", light: SimLight | None = None
    ) -> None:
        super().__init__("presence_sensor", key, name=name or f"Presence {key}", clock=clock)
        self._light = light
        self._pinned_lx: float | None = None
        self._set("presence.occupied", False)
        self._set("presence.illuminance", 0.0)

    def set_occupied(self, occupied: bool) -> None:
        self._set("presence.occupied", occupied)

    def set_illuminance(self, lux: float | None) -> None:
        """Pin the illuminance (None: follow the sun and the light again)."""
        self._pinned_lx = lux
        if lux is not None:
            self._set("presence.illuminance", rounded(max(0.0, lux)))

    def advance(self, irradiance_w_m2: float) -> None:
        if self._pinned_lx is not None:
            return
        lux = irradiance_w_m2 * LUX_PER_W_M2 * DAYLIGHT_INDOORS
        if self._light is not None and self._light.is_on:
            lux += LAMP_LX * self._light.brightness / 100
        self._set("presence.illuminance", rounded(lux))


class SimPhone(SimDevice):
    """A person's phone as a location tracker; the composition moves it."""

    def __init__(
        self,
        person: str,
        *,
        clock: Clock,
        latitude: float,
        longitude: float,
        accuracy_m: float = 10.0,
        name: str = "",
    ) -> None:
        super().__init__("phone", person, name=name or f"{person}'s phone", clock=clock)
        self.move_to(latitude, longitude, accuracy_m)

    def move_to(self, latitude: float, longitude: float, accuracy_m: float = 10.0) -> None:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180 and accuracy_m >= 0):
            raise ValueError(
                f"phone position ({latitude}, {longitude}) ± {accuracy_m} m is impossible: "
                "latitude must be -90..90, longitude -180..180, accuracy >= 0"
            )
        # Six decimals are 0.1 m: finer is noise, and each move is a change worth reporting.
        self._set("location.latitude", rounded(latitude, 6))
        self._set("location.longitude", rounded(longitude, 6))
        self._set("location.accuracy", rounded(accuracy_m, 1))


class SimThermostat(SimDevice):
    """A room with a heat pump (heats and cools) and its thermostat.

    The room follows :func:`room_temperature_step`; the action follows the mode with hysteresis.
    ``electrical_w`` is what the heat pump draws, for the home's meter.
    """

    def __init__(
        self,
        key: str,
        *,
        clock: Clock,
        name: str = "",
        room: RoomParams | None = None,
        temperature_c: float = 20.0,
        target_c: float = 21.0,
        mode: ThermostatMode = ThermostatMode.HEAT,
    ) -> None:
        super().__init__("thermostat", key, name=name or f"Thermostat {key}", clock=clock)
        self.room = room or RoomParams()
        self._temp_c = temperature_c
        self._mode = mode
        self._target_c = target_c
        self._action = HvacAction.IDLE
        self._set("thermostat.mode", mode.value)
        self._set("thermostat.target_temperature", target_c)
        self._update()
        self._actions["thermostat.set"] = self._set_action
        self._writes.update(
            {
                "thermostat.mode": self._write_mode,
                "thermostat.target_temperature": self._write_target,
            }
        )

    @property
    def temperature_c(self) -> float:
        return self._temp_c

    @property
    def action(self) -> HvacAction:
        return self._action

    @property
    def electrical_w(self) -> float:
        return hvac_electrical_w(self._action, self.room)

    def advance(self, dt_s: float, outdoor_c: float) -> None:
        """The room over the ``dt_s`` that just passed, with the action held, then the new
        action."""
        heat = hvac_thermal_w(self._action, self.room)
        self._temp_c = room_temperature_step(self._temp_c, outdoor_c, heat, dt_s, self.room)
        self._update()

    def set_temperature(self, temp_c: float) -> None:
        """Put the room at ``temp_c`` (a window opened, a test's starting point)."""
        self._temp_c = temp_c
        self._update()

    def _update(self) -> None:
        self._action = thermostat_action(self._mode, self._target_c, self._temp_c, self._action)
        self._set("thermostat.current_temperature", rounded(self._temp_c, 1))
        self._set("thermostat.action", self._action.value)

    def _apply(self, mode: Scalar | None, target: Scalar | None) -> None:
        if mode is not None:
            self._mode = ThermostatMode(str(mode))
            self._set("thermostat.mode", self._mode.value)
        if isinstance(target, int | float) and not isinstance(target, bool):
            self._target_c = float(target)
            self._set("thermostat.target_temperature", self._target_c)
        self._update()

    async def _set_action(self, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        self._apply(args.get("mode"), args.get("target_temperature"))
        return NO_OUTPUT

    async def _write_mode(self, value: Scalar) -> None:
        self._apply(value, None)

    async def _write_target(self, value: Scalar) -> None:
        self._apply(None, value)
