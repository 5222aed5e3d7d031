"""The simulated home's energy devices besides the wallbox: the solar inverter, the home battery
and the grid meter with its tariff. The home's step feeds them; the physics is in
:mod:`smartev.sim.solar` and :mod:`smartev.sim.home_physics`."""

from __future__ import annotations

from datetime import datetime

from smartev.core.clock import Clock
from smartev.sim.home_device import SimDevice, rounded
from smartev.sim.home_physics import (
    BatteryMode,
    BatteryParams,
    TimeOfUseTariff,
    battery_power_w,
    battery_soc_step,
)
from smartev.sim.solar import pv_power_w
from smartev.spec.devices import Scalar


class SimSolarInverter(SimDevice):
    """A rooftop array of ``peak_kw`` (at 1000 W/m²) at the home's place, under a clear sky
    scaled by ``sky_clearness``; ``energy_today`` starts again at local midnight."""

    def __init__(
        self,
        key: str,
        *,
        clock: Clock,
        latitude: float,
        longitude: float,
        peak_kw: float = 6.0,
        efficiency: float = 0.85,
        sky_clearness: float = 1.0,
        name: str = "",
    ) -> None:
        super().__init__("solar_inverter", key, name=name or f"Solar inverter {key}", clock=clock)
        self.latitude, self.longitude = latitude, longitude
        self.peak_kw, self.efficiency = peak_kw, efficiency
        self.sky_clearness = sky_clearness
        self._power_w = self._output(clock.now())
        self._energy_kwh = 0.0
        self._day: int | None = None
        self._set("inverter.power", rounded(self._power_w))
        self._set("inverter.energy_today", 0.0)

    @property
    def power_w(self) -> float:
        return self._power_w

    def _output(self, when: datetime) -> float:
        return pv_power_w(
            self.peak_kw,
            self.latitude,
            self.longitude,
            when,
            efficiency=self.efficiency,
            sky_clearness=self.sky_clearness,
        )

    def advance(self, dt_s: float, when: datetime, local_day: int) -> None:
        """Produce over the ``dt_s`` up to ``when`` (the mean of the powers at both ends), on
        the local day numbered ``local_day``."""
        power = self._output(when)
        if self._day is not None and local_day != self._day:
            self._energy_kwh = 0.0
        self._day = local_day
        self._energy_kwh += (self._power_w + power) / 2 * dt_s / 3.6e6
        self._power_w = power
        self._set("inverter.power", rounded(power))
        self._set("inverter.energy_today", rounded(self._energy_kwh, 2))


class SimHomeBattery(SimDevice):
    """A stationary battery: in ``auto`` it absorbs the surplus and covers the deficit within
    its power rating and charge; ``hold`` keeps the charge; ``charge`` fills it."""

    def __init__(
        self,
        key: str,
        *,
        clock: Clock,
        params: BatteryParams | None = None,
        soc_pct: float = 50.0,
        mode: BatteryMode = BatteryMode.AUTO,
        name: str = "",
    ) -> None:
        super().__init__("home_battery", key, name=name or f"Battery {key}", clock=clock)
        self.params = params or BatteryParams()
        self._soc = soc_pct
        self._mode = mode
        self._power_w = 0.0
        self._set("battery.soc", rounded(soc_pct, 1))
        self._set("battery.power", 0.0)
        self._set("battery.mode", mode.value)
        self._writes["battery.mode"] = self._write_mode

    @property
    def soc_pct(self) -> float:
        return self._soc

    @property
    def power_w(self) -> float:
        """Positive when charging."""
        return self._power_w

    @property
    def mode(self) -> BatteryMode:
        return self._mode

    def advance(self, dt_s: float, net_load_w: float) -> None:
        """Store or give the ``dt_s`` that passed at the power held, then follow the home's net
        load (consumption − production without this battery; negative: a surplus)."""
        self._soc = battery_soc_step(self._soc, self._power_w, dt_s, self.params)
        self._power_w = battery_power_w(self._mode, self._soc, net_load_w, self.params)
        self._set("battery.soc", rounded(self._soc, 1))
        self._set("battery.power", rounded(self._power_w))

    async def _write_mode(self, value: Scalar) -> None:
        self._mode = BatteryMode(str(value))
        self._set("battery.mode", self._mode.value)


class SimEnergyMeter(SimDevice):
    """The home's grid connection: what the home draws from (positive) or gives to (negative)
    the grid, the surplus a car could use, and the price of a kWh now."""

    def __init__(
        self, key: str, *, clock: Clock, tariff: TimeOfUseTariff | None = None, name: str = ""
    ) -> None:
        super().__init__("energy_meter", key, name=name or f"Energy meter {key}", clock=clock)
        self.tariff = tariff or TimeOfUseTariff()
        self._grid_w = 0.0
        self.show(0.0, 0.0, 0.0)

    @property
    def grid_power_w(self) -> float:
        return self._grid_w

    def show(self, grid_w: float, charger_w: float, local_hour: float) -> None:
        """The meter's readings for a grid power, the chargers' power and the local hour."""
        self._grid_w = grid_w
        self._set("grid.power", rounded(grid_w))
        self._set("grid.surplus_power", rounded(max(0.0, -grid_w) + charger_w))
        self._set("tariff.price", self.tariff.price(local_hour))
        self._set("tariff.currency", self.tariff.currency)
