"""The simulated car as a provider of the car's signal broker (composition, like ``world.py``).

It publishes the :class:`~smartev.sim.car.SimulatedCar`'s physical state under VSS paths and
carries out actuator targets: HVAC, charge limit and start/stop charging go to the simulated
car; doors, trunks, windows and the charge port flap are a small body model here that takes the
time such parts take. A target the car refuses is reported back as a failed actuation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass

from smartev.sim.car import SimulatedCar
from smartev.sim.car_state import CarState
from smartev.sim.errors import SimError
from smartev.vehicle.actuation import ActuationRequest
from smartev.vehicle.broker import Broker, Provider

log = logging.getLogger(__name__)

BATTERY = "Vehicle.Powertrain.TractionBattery"
CHARGING = f"{BATTERY}.Charging"
PORT = f"{CHARGING}.ChargingPort.AnyPosition"
HVAC = "Vehicle.Cabin.HVAC"
SETPOINT = f"{HVAC}.Station.Row1.Driver.Temperature"
DOORS = tuple(
    f"Vehicle.Cabin.Door.Row{row}.{side}"
    for row in (1, 2)
    for side in ("DriverSide", "PassengerSide")
)
TRUNKS = ("Vehicle.Body.Trunk.Front", "Vehicle.Body.Trunk.Rear")


@dataclass(frozen=True, slots=True)
class BodyPart:
    """An actuator the body model moves, and how long the movement takes."""

    path: str
    initial: object
    seconds: float


BODY: tuple[BodyPart, ...] = (
    *(BodyPart(f"{d}.IsLocked", True, 0.5) for d in DOORS),
    *(BodyPart(f"{d}.IsOpen", False, 1.0) for d in DOORS),
    *(BodyPart(f"{d}.Window.Position", 0, 4.0) for d in DOORS),
    *(BodyPart(f"{t}.IsLocked", True, 0.5) for t in TRUNKS),
    *(BodyPart(f"{t}.IsOpen", False, 3.0) for t in TRUNKS),
    BodyPart(f"{PORT}.IsFlapOpen", False, 1.0),
)
CAR_ACTUATORS = (
    SETPOINT,
    f"{HVAC}.IsAirConditioningActive",
    f"{CHARGING}.ChargeLimit",
    f"{CHARGING}.StartStopCharging",
)
SENSORS = (
    "Vehicle.Speed",
    "Vehicle.IsMoving",
    "Vehicle.TraveledDistance",
    "Vehicle.CurrentLocation.Latitude",
    "Vehicle.CurrentLocation.Longitude",
    "Vehicle.CurrentLocation.Heading",
    f"{BATTERY}.StateOfCharge.Current",
    f"{BATTERY}.StateOfCharge.Displayed",
    f"{BATTERY}.StateOfCharge.CurrentEnergy",
    f"{BATTERY}.Range",
    "Vehicle.Powertrain.Range",
    f"{BATTERY}.CurrentPower",
    f"{BATTERY}.Temperature.Average",
    f"{BATTERY}.NetCapacity",
    f"{BATTERY}.GrossCapacity",
    f"{CHARGING}.IsCharging",
    f"{PORT}.IsChargingCableConnected",
    f"{CHARGING}.AveragePower",
    f"{HVAC}.AmbientAirTemperature",
    "Vehicle.Exterior.AirTemperature",
    "Vehicle.VehicleIdentification.VIN",
    "Vehicle.VehicleIdentification.Brand",
    "Vehicle.VehicleIdentification.Model",
    "Vehicle.Powertrain.Type",
)


def state_to_vss(state: CarState) -> dict[str, object]:
    """The car's state under VSS paths, in VSS units."""
    return {
        "Vehicle.Speed": round(state.speed_mps * 3.6, 2),
        "Vehicle.IsMoving": state.speed_mps > 0.1,
        "Vehicle.TraveledDistance": int(state.odometer_m),
        "Vehicle.CurrentLocation.Latitude": state.lat,
        "Vehicle.CurrentLocation.Longitude": state.lon,
        "Vehicle.CurrentLocation.Heading": state.heading_deg % 360.0,
        f"{BATTERY}.StateOfCharge.Current": round(state.soc * 100.0, 3),
        f"{BATTERY}.StateOfCharge.Displayed": round(state.soc * 100.0, 0),
        f"{BATTERY}.Range": int(state.range_km * 1000),
        "Vehicle.Powertrain.Range": int(state.range_km * 1000),
        f"{BATTERY}.CurrentPower": round(state.battery_power_w, 1),
        f"{BATTERY}.Temperature.Average": round(state.battery_temp_c, 2),
        f"{CHARGING}.IsCharging": state.charging,
        f"{PORT}.IsChargingCableConnected": state.plugged_in,
        f"{CHARGING}.AveragePower": round(state.charging_power_w / 1000.0, 3),
        f"{CHARGING}.ChargeLimit": round(state.charge_limit * 100),
        f"{HVAC}.AmbientAirTemperature": round(state.cabin_temp_c, 2),
        "Vehicle.Exterior.AirTemperature": round(state.ambient_c, 2),
        f"{HVAC}.IsAirConditioningActive": state.hvac_on,
        SETPOINT: round(state.hvac_setpoint_c, 1),
    }


class SimulatedCarProvider:
    """Joins a SimulatedCar to a Broker. Call :meth:`on_state` with each new car state."""

    def __init__(
        self,
        car: SimulatedCar,
        broker: Broker,
        *,
        vin: str,
        name: str = "simulated-car",
        liveness_timeout_s: float | None = 10.0,
    ) -> None:
        self.car = car
        self._clock = car.clock
        self._body: dict[str, object] = {part.path: part.initial for part in BODY}
        self._seconds = {part.path: part.seconds for part in BODY}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, object] = {}
        self.provider: Provider = broker.register_provider(
            name,
            sensors=SENSORS,
            actuators=(*CAR_ACTUATORS, *self._body),
            on_actuate=self._on_actuate,
            liveness_timeout_s=liveness_timeout_s,
        )
        spec = car.spec
        self.provider.publish(
            {
                "Vehicle.VehicleIdentification.VIN": vin,
                "Vehicle.VehicleIdentification.Brand": spec.make or spec.name,
                "Vehicle.VehicleIdentification.Model": spec.model or spec.name,
                "Vehicle.Powertrain.Type": "ELECTRIC",
                f"{BATTERY}.NetCapacity": round(spec.battery_kwh),
                f"{BATTERY}.GrossCapacity": round(spec.battery_kwh),
                **self._body,
            }
        )
        self.on_state(car.state)

    def on_state(self, state: CarState) -> None:
        """Publish what changed since the last state (and tell the broker the car is alive)."""
        values = state_to_vss(state)
        changed = {k: v for k, v in values.items() if self._last.get(k) != v}
        if changed:
            self.provider.publish(changed)
            self._last.update(changed)
        else:
            self.provider.heartbeat()

    # --- actuation ----------------------------------------------------------------------------

    def _on_actuate(self, request: ActuationRequest) -> None:
        if request.path in self._body:
            self._spawn(self._move(request))
            return
        try:
            self._apply_to_car(request)
        except SimError as exc:
            self.provider.fail(request.id, str(exc))
            return
        self.on_state(self.car.state)

    def _apply_to_car(self, request: ActuationRequest) -> None:
        car, value = self.car, request.value
        actions: dict[str, Callable[[], None]] = {
            SETPOINT: lambda: car.set_hvac(True, float(value)),  # type: ignore[arg-type]
            f"{HVAC}.IsAirConditioningActive": lambda: car.set_hvac(bool(value)),
            f"{CHARGING}.ChargeLimit": lambda: car.set_charge_limit(float(value) / 100.0),  # type: ignore[arg-type]
            f"{CHARGING}.StartStopCharging": (
                car.start_charging if value == "START" else car.stop_charging
            ),
        }
        actions[request.path]()
        if request.path == f"{CHARGING}.StartStopCharging":
            # StartStopCharging is a command, not a state: it is done when the car says so.
            self.provider.publish({request.path: value})

    async def _move(self, request: ActuationRequest) -> None:
        await self._clock.sleep(self._seconds[request.path])
        self._body[request.path] = request.value
        self.provider.publish({request.path: request.value})

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.provider.close()
