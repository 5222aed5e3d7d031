import asyncio
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from smartev.core.bus import EventBus
from smartev.core.clock import SimClock
from smartev.sim import battery as bat
from smartev.sim.car import (
    ActuatorRejectedError,
    CarInputError,
    CarState,
    CarStateChanged,
    SimulatedCar,
)
from smartev.sim.charging import simulate_charge
from smartev.sim.cycles import builtin_cycle
from smartev.sim.drive import simulate_cycle
from smartev.sim.geo import destination, distance_between_m
from smartev.sim.params import DEFAULT_PARAMS
from smartev.sim.route import Route, Waypoint
from smartev.sim.spec import VehicleSpec, load_vehicle

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
MUNICH = (48.13743, 11.57549)  # Marienplatz
# Marienplatz → Karlsplatz (Stachus) → Hauptbahnhof → Königsplatz, about 2.1 km through the centre.
CITY_ROUTE = Route(
    "munich-centre",
    (
        Waypoint(*MUNICH, speed_limit_kmh=30),
        Waypoint(48.13902, 11.56590, speed_limit_kmh=50, stop_s=20),
        Waypoint(48.14020, 11.56005),
        Waypoint(48.14553, 11.56540),
    ),
)


@pytest.fixture(scope="module")
def su7() -> VehicleSpec:
    return load_vehicle("xiaomi-su7")


def make_car(spec: VehicleSpec, **kwargs: object) -> SimulatedCar:
    options: dict[str, object] = {"start_lat": MUNICH[0], "start_lon": MUNICH[1]} | kwargs
    return SimulatedCar(spec, clock=SimClock(START), **options)  # type: ignore[arg-type]


def drive_to_the_end(car: SimulatedCar, dt_s: float = 1.0) -> list[CarState]:
    states = []
    while car.state.activity == "driving":
        states.append(car.tick(dt_s))
    return states


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing, written out independently of the code under test."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def angle_between(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


# --- driving ------------------------------------------------------------------------------------


def test_udds_matches_the_cycle_and_simulate_cycle(su7: VehicleSpec) -> None:
    udds = builtin_cycle("udds")
    car = make_car(su7, soc=0.8, ambient_c=20.0)
    car.drive(udds)
    started = car.state
    states = drive_to_the_end(car)
    assert started.activity == "driving"

    assert len(states) == len(udds.time_s) - 1
    assert car.state.odometer_m == pytest.approx(udds.distance_m, rel=0.005)
    speeds = np.array([s.speed_mps for s in states])
    assert np.max(np.abs(speeds[:-1] - udds.speed_mps[1:-1])) < 0.01
    assert not any(s.limited for s in states)
    reference = simulate_cycle(su7, udds, soc0=0.8, ambient_c=20.0)
    assert 0.8 - car.state.soc == pytest.approx(0.8 - reference.soc[-1], rel=0.02)
    # The trace ended at a standstill, so the car parked by itself.
    assert car.state.activity == "parked"
    assert car.state.speed_mps == 0.0
    assert car.state.time == START + timedelta(seconds=udds.duration_s)


def test_a_cycle_without_route_drives_straight_on(su7: VehicleSpec) -> None:
    car = make_car(su7, heading_deg=90.0)
    car.drive(builtin_cycle("hwfet"))
    drive_to_the_end(car)
    end = car.state
    gone = distance_between_m(*MUNICH, end.lat, end.lon)
    assert gone == pytest.approx(end.odometer_m, abs=1.0)
    assert angle_between(bearing_deg(*MUNICH, end.lat, end.lon), 90.0) < 0.5
    assert angle_between(end.heading_deg, 90.0) < 0.5


def test_a_route_places_the_car_on_the_map(su7: VehicleSpec) -> None:
    car = make_car(su7)
    car.drive(CITY_ROUTE)
    states = drive_to_the_end(car)

    first_leg = bearing_deg(*MUNICH, CITY_ROUTE.waypoints[1].lat, CITY_ROUTE.waypoints[1].lon)
    moving = [s for s in states if s.speed_mps > 1.0]
    assert angle_between(moving[0].heading_deg, first_leg) < 1.0
    for s in states:  # the odometer and the map agree all along
        lat, lon, _ = CITY_ROUTE.position_at(s.odometer_m)
        assert distance_between_m(s.lat, s.lon, lat, lon) < 0.5
    for w in CITY_ROUTE.waypoints[1:-1]:
        assert min(distance_between_m(s.lat, s.lon, w.lat, w.lon) for s in states) < 10.0
    last = CITY_ROUTE.waypoints[-1]
    assert distance_between_m(car.state.lat, car.state.lon, last.lat, last.lon) < 20.0
    last_leg = bearing_deg(
        CITY_ROUTE.waypoints[-2].lat, CITY_ROUTE.waypoints[-2].lon, last.lat, last.lon
    )
    assert angle_between(car.state.heading_deg, last_leg) < 1.0
    assert car.state.odometer_m == pytest.approx(CITY_ROUTE.distance_m, rel=0.005)
    assert max(s.speed_mps for s in states) <= 50 / 3.6 + 1e-9
    assert car.state.activity == "parked"


def test_park_while_moving_brakes_to_a_stop(su7: VehicleSpec) -> None:
    car = make_car(su7)
    car.drive(builtin_cycle("hwfet"))
    while car.state.speed_mps < 20.0:
        car.tick(1.0)
    car.park()
    braking = car.state
    assert braking.activity == "driving"
    states = drive_to_the_end(car)
    assert len(states) <= 12  # 20+ m/s at 2 m/s²
    assert car.state.speed_mps == 0.0
    assert car.state.activity == "parked"
    assert 50.0 < car.state.odometer_m - braking.odometer_m < 200.0


def test_ticks_of_any_length_cover_the_same_drive(su7: VehicleSpec) -> None:
    by_second, by_minute = make_car(su7), make_car(su7)
    for car, dt in ((by_second, 1.0), (by_minute, 60.0)):
        car.drive(builtin_cycle("udds"))
        drive_to_the_end(car, dt)
    assert by_minute.state.odometer_m == pytest.approx(by_second.state.odometer_m, rel=1e-9)
    assert by_minute.state.soc == pytest.approx(by_second.state.soc, rel=1e-9)
    assert by_minute.state.time > by_second.state.time  # the minute ticks overshoot the end


def test_energy_books_balance_over_a_drive(su7: VehicleSpec) -> None:
    pack = bat.pack_for(su7)
    car = make_car(su7, soc=0.9, ambient_c=-5.0)
    car.set_hvac(True, 21.0)
    soc0 = car.state.soc
    terminal_j = 0.0
    for name in ("udds", "us06"):
        car.drive(builtin_cycle(name))
        terminal_j += sum(s.battery_power_w * 1.0 for s in drive_to_the_end(car))
    soc1 = car.state.soc
    meters = car.meters
    # Coulomb counting turns the SoC drop into charge; each coulomb left at the OCV of its SoC.
    socs = np.linspace(soc1, soc0, 401)
    stored_kwh = pack.capacity_ah * float(np.trapezoid(bat.ocv_v(pack, socs), socs)) / 1000.0
    assert meters.chemical_kwh == pytest.approx(stored_kwh, rel=0.01)
    # Against the nominal-voltage figure (usable kWh × SoC drop) the flat LFP curve leaves ~1.5 %.
    assert meters.chemical_kwh == pytest.approx((soc0 - soc1) * su7.battery_kwh, rel=0.03)
    assert meters.battery_kwh == pytest.approx(terminal_j / 3.6e6, rel=1e-9)
    assert 0 < meters.chemical_kwh - meters.battery_kwh < 0.05 * meters.chemical_kwh


def test_range_estimate_follows_the_driving(su7: VehicleSpec) -> None:
    car = make_car(su7, soc=0.8)
    fresh = car.state.range_km
    assert 500 < fresh < 900  # 0.8 × 73.6 kWh at a steady-50-km/h consumption
    car.drive(builtin_cycle("us06"))
    drive_to_the_end(car)
    used_share = (0.8 - car.state.soc) / 0.8
    # Hard driving pulls the consumption up: range falls faster than the SoC.
    assert car.state.range_km < fresh * (1 - used_share) * 0.97


# --- HVAC ---------------------------------------------------------------------------------------


def test_hvac_warms_the_cabin_in_the_cold_and_costs_energy(su7: VehicleSpec) -> None:
    car = make_car(su7, soc=0.7, ambient_c=-5.0)
    car.set_hvac(True, 21.0)
    states = [car.tick(60.0) for _ in range(30)]
    assert states[0].cabin_temp_c > -5.0
    assert car.state.cabin_temp_c == pytest.approx(21.0, abs=0.5)
    assert all(s.battery_power_w > 500.0 for s in states)  # heat pump, blower and computers
    assert car.state.soc < 0.7
    assert car.state.activity == "parked"

    car.set_hvac(False)
    car.set_ambient(-8.0)  # and the night gets colder
    soc = car.state.soc
    for _ in range(180):
        car.tick(60.0)
    assert car.state.cabin_temp_c == pytest.approx(-8.0, abs=0.5)
    assert car.state.battery_temp_c < -5.0
    assert car.state.battery_power_w == 0.0  # asleep
    assert car.state.soc == soc


def test_hvac_in_the_cold_raises_a_drives_consumption(su7: VehicleSpec) -> None:
    used = []
    for hvac in (False, True):
        car = make_car(su7, ambient_c=-5.0)
        car.set_hvac(hvac, 21.0)
        car.drive(builtin_cycle("udds"))
        drive_to_the_end(car)
        used.append(car.meters.battery_kwh)
    assert used[1] > used[0] + 0.3


# --- charging -----------------------------------------------------------------------------------


def test_ac_charging_stops_exactly_at_the_limit(su7: VehicleSpec) -> None:
    car = make_car(su7, soc=0.5, dt_s=10.0)
    car.set_charge_limit(0.8)
    car.plug_in("ac", evse_kw=11.0)
    assert car.state.plugged_in
    assert car.state.charging
    assert car.state.activity == "charging"
    states: list[CarState] = []
    while car.state.charging and len(states) < 600:
        states.append(car.tick(60.0))

    # The car's on-board charger (7 kW) limits the 11 kW wallbox; the grid also feeds the car's
    # computers while it charges.
    on_board_w = su7.max_ac_kw * 1000.0
    assert states[0].charging_power_w == pytest.approx(
        on_board_w * DEFAULT_PARAMS.charger_efficiency
    )
    assert states[0].wall_power_w == pytest.approx(on_board_w, rel=0.03)
    assert states[0].charging_power_w == pytest.approx(-states[0].battery_power_w)
    assert car.state.soc == pytest.approx(0.8, abs=0.002)
    assert not car.state.charging
    assert car.state.activity == "parked"
    assert car.state.charger_kind == "ac"
    reference = simulate_charge(su7, soc_from=0.5, soc_to=0.8, kind="ac", evse_kw=11.0)
    assert len(states) * 60.0 == pytest.approx(reference.duration_s, abs=60.0)
    assert car.meters.charged_kwh == pytest.approx(reference.energy_added_kwh, rel=0.01)

    for _ in range(120):  # parked at the limit, plugged in: it holds
        car.tick(60.0)
    assert car.state.soc == pytest.approx(0.8, abs=0.002)
    assert not car.state.charging
    car.set_charge_limit(0.9)  # a higher limit resumes the charge
    assert car.state.charging


def test_dc_charging_tapers(su7: VehicleSpec) -> None:
    car = make_car(su7, soc=0.1, dt_s=5.0)
    car.set_charge_limit(1.0)
    car.plug_in("dc", evse_kw=250.0)
    power_at: dict[float, float] = {}
    while car.state.charging:
        s = car.tick(30.0)
        for soc in (0.3, 0.7, 0.85, 0.95):
            if soc not in power_at and s.soc >= soc:
                power_at[soc] = s.charging_power_w
    assert power_at[0.3] == pytest.approx(su7.max_dc_kw * 1000.0, rel=0.01)
    assert power_at[0.3] > power_at[0.7] > power_at[0.85] > power_at[0.95]
    assert car.state.soc == pytest.approx(1.0, abs=1e-9)
    assert car.state.battery_temp_c > 30.0  # 180 kW warms the pack


def test_stop_and_start_charging(su7: VehicleSpec) -> None:
    car = make_car(su7, soc=0.6)
    car.plug_in("ac", 11.0, charge_now=False)
    assert car.state.plugged_in
    assert not car.state.charging
    car.tick(600.0)
    assert car.state.soc == 0.6
    car.start_charging()
    car.tick(600.0)
    assert car.state.soc > 0.6
    car.stop_charging()
    soc = car.state.soc
    car.tick(600.0)
    assert car.state.soc == soc
    assert car.state.charging_power_w == 0.0
    car.unplug()
    assert not car.state.plugged_in
    assert car.state.charger_kind is None


def test_a_day_drive_park_plug_in_charge_to_the_limit(su7: VehicleSpec) -> None:
    car = make_car(su7, soc=0.55, dt_s=1.0)
    activities = [car.state.activity]
    car.drive(CITY_ROUTE)
    for _ in range(8 * 60):  # eight minutes for a five-minute route, ticked every second
        s = car.tick(1.0)
        if s.activity != activities[-1]:
            activities.append(s.activity)
    car.park()
    after_drive = car.state.soc
    car.set_charge_limit(0.6)
    car.plug_in("ac", evse_kw=11.0)
    for _ in range(120):  # two hours, a minute at a time
        s = car.tick(60.0)
        if s.activity != activities[-1]:
            activities.append(s.activity)
    car.unplug()
    assert activities == ["parked", "driving", "parked", "charging", "parked"]
    assert after_drive < 0.55
    assert car.state.soc == pytest.approx(0.6, abs=0.002)
    assert car.state.activity == "parked"
    last = CITY_ROUTE.waypoints[-1]
    assert distance_between_m(car.state.lat, car.state.lon, last.lat, last.lon) < 20.0


# --- actuators that say no ---------------------------------------------------------------------


def test_actuator_rejections_say_what_and_why(su7: VehicleSpec) -> None:
    car = make_car(su7)
    with pytest.raises(ActuatorRejectedError, match=r"hvac set point 40.0 °C is outside 15..30 °C"):
        car.set_hvac(True, 40.0)
    with pytest.raises(ActuatorRejectedError, match=r"charge limit 0.3 is outside 0.5..1"):
        car.set_charge_limit(0.3)
    with pytest.raises(ActuatorRejectedError, match="not plugged in") as exc:
        car.start_charging()
    assert (exc.value.actuator, exc.value.reason) == ("charging", "not_plugged_in")
    with pytest.raises(ActuatorRejectedError, match="evse_kw -3"):
        car.plug_in("ac", -3.0)
    with pytest.raises(ActuatorRejectedError, match="kind 'ev'"):
        car.plug_in("ev", 11.0)  # type: ignore[arg-type]

    car.plug_in("ac", 11.0)
    with pytest.raises(ActuatorRejectedError, match="already plugged in"):
        car.plug_in("dc", 50.0)
    with pytest.raises(ActuatorRejectedError, match="plugged in; unplug") as exc:
        car.drive(builtin_cycle("udds"))
    assert exc.value.reason == "plugged_in"
    car.unplug()

    car.drive(builtin_cycle("udds"))
    with pytest.raises(ActuatorRejectedError, match="driving; park") as exc:
        car.plug_in("ac", 11.0)
    assert exc.value.reason == "unsafe_while_moving"
    while car.state.speed_mps < 5.0:
        car.tick(1.0)
    with pytest.raises(ActuatorRejectedError, match="moving at"):
        car.drive(builtin_cycle("hwfet"))

    far = make_car(su7, start_lat=52.52, start_lon=13.40)  # Berlin
    with pytest.raises(ActuatorRejectedError, match=r"starts 50[0-9]{4} m from the car"):
        far.drive(CITY_ROUTE)
    assert car.state.hvac_setpoint_c == 21.0  # the refused targets changed nothing
    assert car.state.charge_limit == 0.8


def test_bad_arguments(su7: VehicleSpec) -> None:
    with pytest.raises(CarInputError, match=r"soc 1\.5"):
        make_car(su7, soc=1.5)
    with pytest.raises(CarInputError, match="dt_s 0"):
        make_car(su7, dt_s=0.0)
    with pytest.raises(CarInputError, match="tick dt_s -1"):
        make_car(su7).tick(-1.0)


# --- the runner ---------------------------------------------------------------------------------


async def test_run_follows_a_sim_clock_and_publishes_on_the_bus(su7: VehicleSpec) -> None:
    clock = SimClock(START)
    car = SimulatedCar(su7, clock=clock, start_lat=MUNICH[0], start_lon=MUNICH[1])
    car.drive(builtin_cycle("udds"))
    seen: list[CarState] = []
    published: list[CarState] = []
    async with EventBus() as bus:
        bus.subscribe(CarStateChanged, lambda event: published.append(event.state))
        task = asyncio.create_task(car.run(on_state=seen.append, bus=bus))
        await asyncio.sleep(0)  # let the runner start and wait on the clock
        await clock.run_for(60)
        await bus.drain()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert len(seen) == 61  # the state at start, then one a second
    assert [s.time for s in seen] == [START + timedelta(seconds=i) for i in range(61)]
    assert published == seen
    udds = builtin_cycle("udds")
    assert [s.speed_mps for s in seen[1:]] == pytest.approx(udds.speed_mps[1:61].tolist())
    assert car.state.time == clock.now()


async def test_run_catches_up_with_a_clock_that_jumped(su7: VehicleSpec) -> None:
    clock = SimClock(START)
    car = SimulatedCar(su7, clock=clock, start_lat=MUNICH[0], start_lon=MUNICH[1], soc=0.5)
    car.plug_in("ac", 11.0)
    clock.advance(3600.0)  # an hour passes before the runner starts
    seen: list[CarState] = []
    task = asyncio.create_task(car.run(on_state=seen.append, publish_every_s=10.0))
    await asyncio.sleep(0)
    await clock.run_for(30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [s.time for s in seen] == [START + timedelta(seconds=3600 + 10 * i) for i in range(4)]
    assert seen[0].soc == pytest.approx(0.5 + 6.4 / su7.battery_kwh, abs=0.005)


def test_destination_and_distance_agree() -> None:
    lat, lon, heading = destination(*MUNICH, 45.0, 10_000.0)
    assert distance_between_m(*MUNICH, lat, lon) == pytest.approx(10_000.0, rel=1e-9)
    assert angle_between(bearing_deg(*MUNICH, lat, lon), 45.0) < 1e-6
    assert angle_between(heading, 45.0) < 0.2  # a great circle turns a little
