"""Drives, charges and state intervals from telemetry: hand-made streams, a simulated day, and
invariants over random streams."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartev.cloud.session_records import (
    ChargingEnded,
    ChargingSession,
    Drive,
    DriveDiscarded,
    DriveEnded,
    DriveStarted,
    SessionEvent,
    StateClosed,
    StateInterval,
    StateOpened,
    VehicleState,
)
from smartev.cloud.session_stats import battery_health, vampire_drain
from smartev.cloud.sessions import SessionConfig, SessionDetector
from smartev.core.clock import SimClock
from smartev.core.errors import InvalidInputError
from smartev.sim.car import CarState, SimulatedCar
from smartev.sim.cycles import builtin_cycle
from smartev.sim.spec import load_vehicle
from smartev.sim_provider import state_to_vss

S = 1_000_000  # µs per second
T0 = int(datetime(2026, 6, 1, 8, 0, tzinfo=UTC).timestamp()) * S
BATTERY = "Vehicle.Powertrain.TractionBattery"
CHARGING = f"{BATTERY}.Charging"
PATHS = {
    "speed": "Vehicle.Speed",
    "moving": "Vehicle.IsMoving",
    "odometer": "Vehicle.TraveledDistance",
    "lat": "Vehicle.CurrentLocation.Latitude",
    "lon": "Vehicle.CurrentLocation.Longitude",
    "soc": f"{BATTERY}.StateOfCharge.Current",
    "power": f"{BATTERY}.CurrentPower",
    "capacity": f"{BATTERY}.NetCapacity",
    "charging": f"{CHARGING}.IsCharging",
    "cable": f"{CHARGING}.ChargingPort.AnyPosition.IsChargingCableConnected",
    "charge_kw": f"{CHARGING}.AveragePower",
    "lv": "Vehicle.LowVoltageSystemState",
    "cabin": "Vehicle.Cabin.HVAC.AmbientAirTemperature",
}
Sample = tuple[int, str, object]


class Script:
    """A car told what to do, sending its signals on change and every ``heartbeat_s``.

    Its physics is plain: driving uses ``wh_per_km`` at the wheels' speed, charging adds what
    the charger gives. ``samples`` is what it sent, to be fed to detectors.
    """

    def __init__(self, *, capacity_kwh: float | None = 60.0, heartbeat_s: float = 60.0) -> None:
        self.t_s = 0.0
        self.heartbeat_s = heartbeat_s
        self.capacity_kwh = capacity_kwh if capacity_kwh is not None else 60.0
        self.values: dict[str, object] = {
            "speed": 0.0,
            "moving": False,
            "odometer": 10_000,
            "lat": 48.137,
            "lon": 11.575,
            "soc": 70.0,
            "power": 0.0,
            "charging": False,
            "cable": False,
            "charge_kw": 0.0,
            "cabin": 20.0,
        }
        if capacity_kwh is not None:
            self.values["capacity"] = capacity_kwh
        self._odometer_m = 10_000.0
        self._soc = 70.0
        self._sent: dict[str, tuple[object, float]] = {}
        self.samples: list[Sample] = []
        self._emit()

    @property
    def now_us(self) -> int:
        return T0 + round(self.t_s * S)

    def _emit(self) -> None:
        for name, value in self.values.items():
            sent = self._sent.get(name)
            if sent is None or sent[0] != value or self.t_s - sent[1] >= self.heartbeat_s:
                self._sent[name] = (value, self.t_s)
                self.samples.append((self.now_us, PATHS[name], value))

    def step(self, dt_s: float, **changes: object) -> None:
        self.t_s += dt_s
        self.values.update(changes)
        self._emit()

    def drive(self, seconds: float, speed_kmh: float, *, wh_per_km: float = 150.0) -> None:
        """Drive at a steady speed, one sample round a second (pulling away takes no time)."""
        for _ in range(round(seconds)):
            moved_m = speed_kmh / 3.6
            self._odometer_m += moved_m
            used_kwh = moved_m / 1000.0 * wh_per_km / 1000.0
            self._soc -= used_kwh / self.capacity_kwh * 100.0
            self.step(
                1.0,
                speed=speed_kmh,
                moving=True,
                odometer=int(self._odometer_m),
                lat=48.137 + self._odometer_m / 111_195.0 - 10_000 / 111_195.0,
                soc=round(self._soc, 3),
                power=round(used_kwh * 3.6e6, 1),
            )

    def stop(self) -> None:
        """Come to a standstill (one second)."""
        self.step(1.0, speed=0.0, moving=False, power=300.0)

    def stand(self, seconds: float, *, every_s: float = 60.0, drain_pct_per_h: float = 0.0) -> None:
        """Stand still; the car's electronics quiet down, the SoC may drain."""
        steps = round(seconds / every_s)
        for _ in range(steps):
            self._soc -= drain_pct_per_h * every_s / 3600.0
            self.step(every_s, soc=round(self._soc, 3), power=0.0)

    def charge(self, seconds: float, kw: float, *, every_s: float = 60.0) -> None:
        """Charge at ``kw`` into the battery from now (plugging in if not yet); each sample says
        what the charger gives from then on."""
        for _ in range(round(seconds / every_s)):
            self.step(
                0.0,
                cable=True,
                charging=True,
                charge_kw=kw,
                soc=round(self._soc, 3),
                power=round(-kw * 1000.0, 1),
            )
            self.t_s += every_s
            self._soc += kw * every_s / 3600.0 / self.capacity_kwh * 100.0

    def stop_charging(self, *, unplug: bool = False) -> None:
        """Charging stops now."""
        self.step(
            0.0,
            charging=False,
            charge_kw=0.0,
            power=0.0,
            cable=not unplug,
            soc=round(self._soc, 3),
        )

    def silence(self, seconds: float) -> None:
        """Nothing is sent for a while (no coverage); the next sample repeats everything."""
        self.t_s += seconds
        self._sent.clear()


def run(
    samples: Sequence[Sample],
    detector: SessionDetector | None = None,
    *,
    end_us: int | None = None,
) -> list[SessionEvent]:
    """Feed ``samples``, then say a moment passed after the last one (or at ``end_us``)."""
    detector = detector if detector is not None else SessionDetector()
    events: list[SessionEvent] = []
    for ts_us, path, value in samples:
        events += detector.feed(ts_us, path, value)
    if end_us is None:
        end_us = max((s[0] for s in samples), default=0) + 1
    return events + detector.on_silence(end_us)


def drives(events: Sequence[SessionEvent]) -> list[Drive]:
    return [e.drive for e in events if isinstance(e, DriveEnded)]


def charges(events: Sequence[SessionEvent]) -> list[ChargingSession]:
    return [e.session for e in events if isinstance(e, ChargingEnded)]


def intervals(events: Sequence[SessionEvent]) -> list[StateInterval]:
    return [e.interval for e in events if isinstance(e, StateClosed)]


def states(events: Sequence[SessionEvent]) -> list[str]:
    return [e.state.value for e in events if isinstance(e, StateOpened)]


# --- drives -------------------------------------------------------------------------------------


def test_a_stop_at_a_traffic_light_does_not_split_a_drive() -> None:
    car = Script()
    car.stand(600)
    drive_start_us = car.now_us + S
    car.drive(300, 50.0)
    car.stop()
    car.stand(60, every_s=10)  # red light
    car.drive(300, 50.0)
    car.stop()
    stop_us = car.now_us
    car.stand(900)
    events = run(car.samples)
    [drive] = drives(events)
    assert drive.start_us == drive_start_us
    assert drive.end_us == stop_us  # when it stopped, not when the stop was long enough
    assert drive.distance_source == "odometer"
    distance_km = drive.distance_km
    assert distance_km is not None
    assert distance_km == pytest.approx(600 * 50 / 3.6 / 1000, abs=0.002)
    assert drive.duration_s == 661.0  # 2 × 300 s driving, 60 s red, 1 s to stop
    assert drive.speed_max_kmh == 50.0
    assert drive.speed_avg_kmh == pytest.approx(distance_km / (661 / 3600))
    assert drive.energy_source == "soc"
    assert drive.energy_used_kwh == pytest.approx(distance_km * 0.150, rel=0.01)
    assert drive.efficiency_wh_per_km == pytest.approx(150.0, rel=0.01)
    assert drive.odometer_start_km == 10.0
    assert drive.odometer_end_km == pytest.approx(10.0 + distance_km)
    assert drive.soc_start_pct == 70.0
    assert drive.soc_end_pct == pytest.approx(70.0 - distance_km * 0.150 / 60 * 100, abs=0.01)
    assert drive.start_lat == pytest.approx(48.137)
    assert drive.end_lat == pytest.approx(48.137 + distance_km * 1000 / 111_195, abs=1e-4)
    assert states(events) == ["parked", "driving", "parked"]


def test_the_callers_clock_ends_a_drive_without_waiting_for_a_sample() -> None:
    car = Script()
    car.drive(120, 30.0)
    car.stop()
    stop_us = car.now_us
    detector = SessionDetector()
    events = [e for s in car.samples for e in detector.feed(*s)]
    assert [type(e) for e in events] == [StateOpened, StateClosed, StateOpened, DriveStarted]
    assert detector.on_silence(stop_us + 299 * S) == []  # the stop is not long enough yet
    ended = detector.on_silence(stop_us + 300 * S)
    assert [type(e) for e in ended] == [DriveEnded, StateClosed, StateOpened]
    assert drives(ended)[0].end_us == stop_us
    assert detector.state is VehicleState.PARKED
    assert detector.state_since_us == stop_us


def test_a_long_stop_makes_two_drives() -> None:
    car = Script()
    car.drive(200, 40.0)
    car.stop()
    first_stop_us = car.now_us
    car.stand(600)
    car.drive(100, 60.0)
    car.stop()
    car.stand(600)
    events = run(car.samples)
    first, second = drives(events)
    assert first.end_us == first_stop_us
    assert second.start_us == first_stop_us + 600 * S + S
    assert second.distance_km == pytest.approx(100 * 60 / 3.6 / 1000, abs=0.002)
    assert states(events) == ["parked", "driving", "parked", "driving", "parked"]
    parked = intervals(events)[2]
    assert parked.state is VehicleState.PARKED
    assert (parked.start_us, parked.end_us) == (first.end_us, second.start_us)


def test_a_drive_that_set_off_without_a_gps_fix_starts_where_the_first_fix_was() -> None:
    # No odometer and a steady speed: after the start, only the position changes.
    samples: list[Sample] = [
        (T0, PATHS["speed"], 0.0),
        (T0 + 1 * S, PATHS["speed"], 50.0),
        (T0 + 2 * S, PATHS["lat"], 48.1),
        (T0 + 3 * S, PATHS["lon"], 11.5),  # the first fix
        (T0 + 4 * S, PATHS["lat"], 48.2),
        (T0 + 5 * S, PATHS["lon"], 11.6),
        (T0 + 100 * S, PATHS["speed"], 0.0),
    ]
    [drive] = drives(run(samples, end_us=T0 + 1000 * S))
    assert (drive.start_lat, drive.start_lon) == (48.1, 11.5)
    assert (drive.end_lat, drive.end_lon) == (48.2, 11.6)


def test_a_few_metres_of_manoeuvring_are_discarded_not_a_drive() -> None:
    car = Script()
    car.drive(20, 5.0)
    car.stop()
    car.stand(600)
    events = run(car.samples)
    assert drives(events) == []
    [discarded] = [e for e in events if isinstance(e, DriveDiscarded)]
    assert discarded.distance_km == pytest.approx(20 * 5 / 3.6 / 1000, abs=0.001)
    assert discarded.duration_s == 20.0
    assert "0.1 km and 60 s" in discarded.reason
    assert states(events) == ["parked", "driving", "parked"]  # it did move


def test_without_the_capacity_the_energy_comes_from_battery_power() -> None:
    car = Script(capacity_kwh=None)
    car.drive(600, 80.0, wh_per_km=180.0)
    car.stop()
    car.stand(600)
    [drive] = drives(run(car.samples))
    assert drive.energy_source == "power"
    assert drive.efficiency_wh_per_km == pytest.approx(180.0, rel=0.01)


def test_without_an_odometer_the_distance_comes_from_speed() -> None:
    car = Script()
    car.drive(600, 72.0)
    car.stop()
    car.stand(600)
    samples = [s for s in car.samples if s[1] != PATHS["odometer"]]
    [drive] = drives(run(samples))
    assert drive.distance_source == "speed"
    assert drive.distance_km == pytest.approx(12.0, rel=0.01)
    assert drive.odometer_start_km is None


# --- charging -----------------------------------------------------------------------------------


def test_an_ac_charge_with_a_short_pause_is_one_session() -> None:
    car = Script()
    car.stand(600)
    plug_us = car.now_us
    car.charge(3600, 11.0)
    car.stop_charging()
    car.stand(90, every_s=10)  # the car pauses for 90 s, then goes on
    car.charge(3600, 11.0)
    car.stop_charging()
    stopped_us = car.now_us
    car.stand(600)
    events = run(car.samples)
    [session] = charges(events)
    assert session.start_us == plug_us
    assert session.end_us == stopped_us
    assert session.kind == "AC"
    assert session.power_max_kw == 11.0
    assert session.energy_source == "power"
    assert session.energy_added_kwh == pytest.approx(22.0, rel=0.01)
    assert session.energy_from_soc_kwh == pytest.approx(22.0, rel=0.01)
    assert session.soc_start_pct == 70.0
    assert session.soc_end_pct == pytest.approx(70.0 + 22.0 / 60.0 * 100.0, abs=0.01)
    assert session.capacity_estimate_kwh == pytest.approx(60.0, rel=0.01)
    assert session.lat == pytest.approx(48.137)
    assert states(events) == ["parked", "charging", "parked"]


def test_a_dc_charge_is_dc_and_one_rising_less_than_10_points_has_no_capacity_estimate() -> None:
    car = Script()
    car.drive(60, 30.0)
    car.stop()
    car.stand(120, every_s=60)
    car.charge(20 * 60, 150.0, every_s=10)  # 50 kWh
    car.stop_charging(unplug=True)
    car.stand(600)
    car.charge(120, 7.0)  # 0.23 kWh
    car.stop_charging()
    car.stand(600)
    events = run(car.samples)
    dc, ac = charges(events)
    assert dc.kind == "DC"
    assert dc.power_max_kw == 150.0
    assert dc.energy_added_kwh == pytest.approx(50.0, rel=0.01)
    assert dc.capacity_estimate_kwh == pytest.approx(60.0, rel=0.01)
    assert ac.kind == "AC"
    assert ac.capacity_estimate_kwh is None
    # The drive ended when the car stopped, before the plug went in.
    assert states(events) == [
        "parked",
        "driving",
        "parked",
        "charging",
        "parked",
        "charging",
        "parked",
    ]


def test_average_power_with_the_cable_in_counts_as_charging_without_is_charging() -> None:
    car = Script()
    car.charge(1800, 7.0)
    car.stop_charging()
    car.stand(600)
    samples = [s for s in car.samples if s[1] != PATHS["charging"]]
    [session] = charges(run(samples))
    assert session.energy_added_kwh == pytest.approx(3.5, rel=0.01)


# --- offline, asleep, vampire drain -------------------------------------------------------------


def test_offline_opens_after_15_minutes_of_silence_and_closes_when_data_returns() -> None:
    car = Script()
    car.stand(300)
    last_us = car.now_us
    car.silence(3600)
    car.stand(300)
    back_us = car.now_us - 300 * S + 60 * S  # the first round after the silence
    detector = SessionDetector()
    events: list[SessionEvent] = []
    before = [s for s in car.samples if s[0] <= last_us]
    after = [s for s in car.samples if s[0] > last_us]
    for sample in before:
        events += detector.feed(*sample)
    assert detector.on_silence(last_us + 14 * 60 * S)[-1:] == []
    went_offline = detector.on_silence(last_us + 15 * 60 * S)
    assert went_offline[-1] == StateOpened(VehicleState.OFFLINE, last_us, 70.0)
    assert detector.state is VehicleState.OFFLINE
    events += went_offline
    for sample in after:
        events += detector.feed(*sample)
    events += detector.on_silence(car.now_us + 1)
    offline = [i for i in intervals(events) if i.state is VehicleState.OFFLINE]
    assert [(i.start_us, i.end_us) for i in offline] == [(last_us, back_us)]
    assert states(events) == ["parked", "offline", "parked"]
    # Without the caller's on_silence, the gap between samples says the same.
    assert intervals(run(car.samples)) == intervals(events)


def test_a_drive_into_no_coverage_ends_at_the_last_sample() -> None:
    car = Script()
    car.drive(300, 50.0)
    last_us = car.now_us
    car.silence(1800)
    car.stop()
    car.stand(600)
    events = run(car.samples)
    [drive] = drives(events)
    assert drive.end_us == last_us
    assert states(events) == ["parked", "driving", "offline", "parked"]


def test_a_parked_night_falls_asleep_and_shows_its_vampire_drain() -> None:
    car = Script()
    car.drive(600, 50.0)
    car.stop()
    parked_us = car.now_us
    car.stand(12 * 3600, drain_pct_per_h=0.1)  # SoC changes do not wake the car
    car.drive(600, 50.0)
    car.stop()
    car.stand(600)
    events = run(car.samples)
    # Asleep until it drives off: nothing woke it before.
    assert states(events) == ["parked", "driving", "parked", "asleep", "driving", "parked"]
    night = intervals(events)[2:4]
    assert [i.state for i in night] == ["parked", "asleep"]
    assert night[1].start_us == parked_us + 1800 * S  # quiet since it stopped
    drain = vampire_drain(intervals(events), capacity_kwh=60.0)
    [standstill] = drain.standstills
    assert standstill.start_us == parked_us
    assert standstill.duration_s == pytest.approx(12 * 3600 + 1, abs=2)
    assert standstill.soc_lost_pct == pytest.approx(1.2, abs=0.01)
    assert drain.soc_pct_per_day == pytest.approx(2.4, rel=0.01)
    assert drain.energy_kwh_per_day == pytest.approx(2.4 / 100 * 60.0, rel=0.01)
    assert standstill.asleep_s > 11 * 3600


def test_a_battery_draw_wakes_an_asleep_car_even_when_its_value_repeats() -> None:
    samples: list[Sample] = [(T0, PATHS["speed"], 0.0), (T0, PATHS["power"], 500.0)]
    samples += [(T0 + k * 600 * S, PATHS["cabin"], 21.5) for k in range(1, 5)]  # quiet 40 min
    samples += [(T0 + 2500 * S, PATHS["power"], 500.0), (T0 + 2560 * S, PATHS["cabin"], 21.5)]
    assert states(run(samples)) == ["parked", "asleep", "parked"]


def test_low_voltage_state_off_means_asleep_at_once() -> None:
    car = Script()
    car.stand(120)
    car.step(60, lv="OFF")
    off_us = car.now_us
    car.stand(600)
    car.step(60, lv="ON")
    on_us = car.now_us
    car.stand(120)
    events = run(car.samples)
    asleep = [i for i in intervals(events) if i.state is VehicleState.ASLEEP]
    assert [(i.start_us, i.end_us) for i in asleep] == [(off_us, on_us)]


def test_vampire_drain_skips_short_standstills_and_joins_parked_with_asleep() -> None:
    h = 3600 * S
    spans = [
        StateInterval(VehicleState.PARKED, 0, h // 2, 80.0, 79.9),
        StateInterval(VehicleState.DRIVING, h // 2, h, 79.9, 75.0),
        StateInterval(VehicleState.PARKED, h, 2 * h, 75.0, 74.9),
        StateInterval(VehicleState.ASLEEP, 2 * h, 10 * h, 74.9, 74.2),
        StateInterval(VehicleState.PARKED, 10 * h, 11 * h, 74.2, 74.0),
    ]
    drain = vampire_drain(spans)
    [night] = drain.standstills
    assert (night.start_us, night.end_us) == (h, 11 * h)
    assert night.soc_lost_pct == pytest.approx(1.0)
    assert drain.soc_pct_per_day == pytest.approx(2.4)
    assert drain.energy_kwh_per_day is None
    assert vampire_drain(spans[:2]).soc_pct_per_day is None


# --- ordering -----------------------------------------------------------------------------------


def test_samples_older_than_the_newest_are_ignored() -> None:
    car = Script()
    car.stand(600)
    late = (car.now_us - 300 * S, PATHS["speed"], 80.0)  # arrives after newer ones
    samples = [*car.samples, late]
    car.stand(600)
    samples += car.samples[len(samples) - 1 :]
    detector = SessionDetector()
    events = run(samples, detector)
    assert detector.ignored_samples == 1
    assert states(events) == ["parked"]


def test_a_value_of_the_wrong_type_is_ignored() -> None:
    detector = SessionDetector()
    detector.feed(T0, PATHS["speed"], "fast")
    detector.feed(T0, PATHS["moving"], 1)
    assert detector.ignored_samples == 2
    with pytest.raises(InvalidInputError, match="ts_us"):
        detector.feed(1.5, PATHS["speed"], 0.0)  # type: ignore[arg-type]


# --- persistence --------------------------------------------------------------------------------


def a_busy_day() -> Script:
    car = Script()
    car.stand(600)
    car.drive(900, 60.0)
    car.stop()
    car.stand(120, every_s=10)
    car.charge(3600, 11.0)
    car.stop_charging(unplug=True)
    car.stand(3 * 3600)
    car.drive(300, 30.0)
    car.silence(3600)
    car.stand(600)
    return car


def test_snapshot_json_restore_continues_exactly() -> None:
    samples = a_busy_day().samples
    end_us = samples[-1][0] + 1
    whole = run(samples, end_us=end_us)
    for split in (1, len(samples) // 3, len(samples) // 2, len(samples) - 1):
        first = SessionDetector()
        events = [e for s in samples[:split] for e in first.feed(*s)]
        resumed = SessionDetector.restore(json.loads(json.dumps(first.snapshot())))
        assert resumed.snapshot() == first.snapshot()
        assert events + run(samples[split:], resumed, end_us=end_us) == whole


def test_restore_refuses_a_snapshot_it_cannot_read() -> None:
    with pytest.raises(InvalidInputError, match="version 7: must be 1"):
        SessionDetector.restore({"version": 7})
    snapshot = SessionDetector().snapshot()
    del snapshot["progress"]["totals"]
    with pytest.raises(InvalidInputError, match="malformed"):
        SessionDetector.restore(snapshot)


# The snapshot of a detector stopped mid-drive, as the detector wrote it before it kept its
# progress in objects updated in place (version 1). Snapshots are stored in the database, so this
# layout has to restore, and be written back, unchanged.
STORED_V1 = """\
{"version":1,"config":{"moving_speed_kmh":1.0,"drive_stop_s":300.0,"charge_stop_s":120.0,
"asleep_after_s":1800.0,"offline_after_s":900.0,"awake_power_w":100.0,"min_drive_km":0.1,
"min_drive_s":60.0,"dc_above_kw":22.0},"progress":{"signals":{"speed_kmh":0.0,
"is_moving":false,"odometer_m":11249.0,"lat":48.14824151265795,"lon":11.575,
"soc_pct":69.687,"energy_kwh":null,"power_w":0.0,"capacity_kwh":60.0,"is_charging":false,
"cable":false,"charge_kw":0.0,"lv_state":null},"prev":{"lat":48.14824151265795,"lon":11.575,
"soc_pct":69.687,"odometer_m":11249.0,"energy_kwh":null,"capacity_kwh":60.0},
"totals":{"battery_kwh":0.18916666666666662,"battery_unknown_s":0.0,
"distance_km":1.2499999999999976,"speed_unknown_s":0.0,"charged_kwh":0.0,
"charge_unknown_s":0.0},"frame_us":1780301071000000,"frame_open":true,
"last_activity_us":1780301011000000,"interval":{"state":"driving",
"start_us":1780300921000000,"soc_pct":70.0},"drive":{"start":{"ts_us":1780300921000000,
"reading":{"lat":48.137,"lon":11.575,"soc_pct":70.0,"odometer_m":10000.0,"energy_kwh":null,
"capacity_kwh":60.0},"totals":{"battery_kwh":0.0,"battery_unknown_s":0.0,"distance_km":0.0,
"speed_unknown_s":0.0,"charged_kwh":0.0,"charge_unknown_s":0.0}},
"stop":{"ts_us":1780301011000000,"reading":{"lat":48.14824151265795,"lon":11.575,
"soc_pct":69.687,"odometer_m":11249.0,"energy_kwh":null,"capacity_kwh":60.0},
"totals":{"battery_kwh":0.18749999999999994,"battery_unknown_s":0.0,
"distance_km":1.2499999999999976,"speed_unknown_s":0.0,"charged_kwh":0.0,
"charge_unknown_s":0.0}},"peak":50.0},"charge":null,"ignored_samples":0}}
"""


def test_the_stored_snapshot_layout_is_kept() -> None:
    car = Script()
    car.stand(120)
    car.drive(90, 50.0)
    car.stop()
    car.stand(60, every_s=20)
    detector = SessionDetector()
    for s in car.samples:
        detector.feed(*s)
    assert json.dumps(detector.snapshot(), separators=(",", ":")) == STORED_V1.replace("\n", "")
    resumed = SessionDetector.restore(json.loads(STORED_V1))
    assert resumed.snapshot() == detector.snapshot()
    [drive] = drives(resumed.on_silence(car.now_us + 3600 * S))
    assert drive.distance_km == pytest.approx(1.249)


def test_config_checks_its_thresholds() -> None:
    with pytest.raises(InvalidInputError, match="drive_stop_s 0: must be a number > 0"):
        SessionConfig(drive_stop_s=0)
    with pytest.raises(InvalidInputError, match="dc_above_kw -1: must be a number >= 0"):
        SessionConfig(dc_above_kw=-1)


# --- battery health -----------------------------------------------------------------------------


def a_charge(day: float, capacity_kwh: float | None) -> ChargingSession:
    start_us = T0 + round(day * 86_400) * S
    return ChargingSession(
        start_us=start_us,
        end_us=start_us + 3600 * S,
        lat=None,
        lon=None,
        duration_s=3600.0,
        energy_added_kwh=10.0,
        energy_source="power",
        energy_from_soc_kwh=None,
        kind="AC",
        power_max_kw=11.0,
        soc_start_pct=None,
        soc_end_pct=None,
        capacity_estimate_kwh=capacity_kwh,
    )


def test_battery_health_is_the_median_of_the_latest_estimates_with_a_monthly_trend() -> None:
    month = 365.25 / 12
    sessions = [a_charge(i * 10, 75.0 - 0.2 * (i * 10 / month)) for i in range(19)]  # 6 months
    sessions.insert(5, a_charge(51, 20.0))  # a broken measurement
    sessions.append(a_charge(200, None))  # a charge that rose too little
    health = battery_health(sessions, 77.0, last_n=5)
    assert len(health.points) == 19
    assert health.estimates_used == 5
    assert health.capacity_kwh == pytest.approx(75.0 - 0.2 * 160 / month)
    assert health.health_pct == pytest.approx((75.0 - 0.2 * 160 / month) / 77.0 * 100)
    assert health.trend_kwh_per_month == pytest.approx(-0.2)
    short = battery_health(sessions[:3], 77.0)
    assert short.trend_kwh_per_month is None  # 20 days: noise, not ageing
    assert battery_health([], 77.0).capacity_kwh is None
    with pytest.raises(InvalidInputError, match="rated_capacity_kwh 0"):
        battery_health([], 0)


# --- a real simulated day -----------------------------------------------------------------------


def test_a_simulated_day_drive_park_charge() -> None:
    spec = load_vehicle("xiaomi-su7")
    car = SimulatedCar(
        spec,
        clock=SimClock(datetime(2026, 6, 1, 8, tzinfo=UTC)),
        start_lat=48.137,
        start_lon=11.575,
        soc=0.66,
    )
    detector = SessionDetector()
    events: list[SessionEvent] = []
    sent: dict[str, tuple[object, int]] = {}

    def publish(state: CarState) -> None:
        # As the car's telemetry does: each signal on change, and a heartbeat each minute.
        ts_us = round(state.time.timestamp() * S)
        values = state_to_vss(state) | {f"{BATTERY}.NetCapacity": round(spec.battery_kwh)}
        for path, value in values.items():
            last = sent.get(path)
            if last is None or last[0] != value or ts_us - last[1] >= 60 * S:
                sent[path] = (value, ts_us)
                events.extend(detector.feed(ts_us, path, value))

    publish(car.tick(60.0))
    before = car.state, car.meters
    car.drive(builtin_cycle("udds"))
    while car.state.activity == "driving":
        publish(car.tick(1.0))
    after_drive = car.state, car.meters
    car.dt_s = 30.0  # parked and charging, physics steps of 30 s are as exact and much faster
    for _ in range(40):
        publish(car.tick(60.0))  # parked 40 minutes: asleep after 30
    car.plug_in("ac", 11.0)
    while car.state.charging:
        publish(car.tick(60.0))
    after_charge = car.meters
    for _ in range(10):
        publish(car.tick(60.0))
    events += detector.on_silence(round(car.state.time.timestamp() * S) + 1)

    [drive] = drives(events)
    driven_km = (after_drive[0].odometer_m - before[0].odometer_m) / 1000
    assert drive.distance_km == pytest.approx(driven_km, rel=0.01)
    assert drive.energy_used_kwh == pytest.approx(
        after_drive[1].battery_kwh - before[1].battery_kwh, rel=0.03
    )
    assert drive.speed_max_kmh == pytest.approx(builtin_cycle("udds").max_speed_mps * 3.6, abs=1)
    [session] = charges(events)
    assert session.kind == "AC"
    assert session.energy_added_kwh == pytest.approx(
        after_charge.charged_kwh - after_drive[1].charged_kwh, rel=0.03
    )
    assert session.soc_end_pct == pytest.approx(80.0)
    assert session.capacity_estimate_kwh == pytest.approx(spec.battery_kwh, rel=0.05)
    assert states(events) == ["parked", "driving", "parked", "asleep", "charging", "parked"]


# --- invariants over random streams -------------------------------------------------------------

# Every (signal, value) a random stream picks from; "odometer" values are distances to add.
_CHOICES: list[tuple[str, object]] = [
    *(("speed", v) for v in (0.0, 0.5, 3.0, 50.0, 120.0)),
    *(("moving", v) for v in (False, True)),
    *(("soc", v) for v in (10.0, 49.5, 50.0, 80.0)),
    *(("power", v) for v in (-50_000.0, -7000.0, 0.0, 40.0, 500.0, 20_000.0)),
    ("capacity", 60),
    *(("charging", v) for v in (False, True)),
    *(("cable", v) for v in (False, True)),
    *(("charge_kw", v) for v in (0.0, 7.0, 11.0, 150.0)),
    *(("lv", v) for v in ("OFF", "ON", "ACC")),
    *(("lat", v) for v in (48.1, 48.2)),
    ("cabin", 21.5),
    ("speed", "fast"),  # a value of the wrong type
    *(("odometer", v) for v in (0, 50, 3000)),
]
# Steps between samples: the same moment, seconds, minutes, a gap past offline, out of order.
_STEPS_S = (0.0, 0.0, 1.0, 1.0, 10.0, 60.0, 130.0, 400.0, 1000.0, 2500.0, -5.0)


def _stream(
    picks: list[tuple[float, int]], choices: Sequence[tuple[str, object]] = _CHOICES
) -> list[Sample]:
    t_us, odometer_m = T0, 0
    samples: list[Sample] = []
    for step_s, choice in picks:
        t_us += round(step_s * S)
        name, value = choices[choice]
        if name == "odometer":
            assert isinstance(value, int)
            odometer_m += value
            value = odometer_m
        samples.append((t_us, PATHS[name], value))
    return samples


streams = st.lists(
    st.tuples(st.sampled_from(_STEPS_S), st.integers(0, len(_CHOICES) - 1)),
    min_size=1,
    max_size=80,
).map(_stream)


def check_invariants(events: Sequence[SessionEvent]) -> None:
    opened: StateOpened | None = None
    closed: list[StateInterval] = []
    for event in events:
        if isinstance(event, StateOpened):
            assert opened is None, "an interval opened while another was open"
            if closed:
                assert event.start_us == closed[-1].end_us, "intervals are contiguous"
            opened = event
        elif isinstance(event, StateClosed):
            i = event.interval
            assert opened is not None
            assert (opened.state, opened.start_us) == (i.state, i.start_us)
            assert i.end_us >= i.start_us
            closed.append(i)
            opened = None
    assert opened is not None  # the car is always in some state once data came
    spans = {(i.state, i.start_us, i.end_us) for i in closed}
    for event in events:
        if isinstance(event, DriveEnded | DriveDiscarded):
            d = event.drive if isinstance(event, DriveEnded) else event
            assert (VehicleState.DRIVING, d.start_us, d.end_us) in spans
        elif isinstance(event, ChargingEnded):
            c = event.session
            assert (VehicleState.CHARGING, c.start_us, c.end_us) in spans
    starts = [e.start_us for e in events if isinstance(e, DriveStarted)]
    ends = [e for e in events if isinstance(e, DriveEnded | DriveDiscarded)]
    assert len(starts) - len(ends) in (0, 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams)
def test_random_streams_keep_intervals_contiguous_and_sessions_inside_them(
    samples: list[Sample],
) -> None:
    check_invariants(run(samples))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.data())
def test_snapshot_restore_at_any_point_changes_nothing(
    samples: list[Sample], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(samples)))
    first = SessionDetector()
    events = [e for s in samples[:split] for e in first.feed(*s)]
    resumed = SessionDetector.restore(json.loads(json.dumps(first.snapshot())))
    end_us = max(s[0] for s in samples) + 1
    assert events + run(samples[split:], resumed, end_us=end_us) == run(samples, end_us=end_us)


class AlwaysDeciding(SessionDetector):
    """Decides about every moment, as the detector did before it skipped the settled ones."""

    def feed(self, ts_us: int, path: str, value: object) -> list[SessionEvent]:
        self._settled = False
        return super().feed(ts_us, path, value)

    def on_silence(self, now_us: int) -> list[SessionEvent]:
        self._settled = False
        return super().on_silence(now_us)


# The longitude too (a position needs both), and waits short enough for a short stream to fall
# asleep and wake, end drives and charges by their timers.
_WITH_LON = [*_CHOICES, ("lon", 11.5), ("lon", 11.6)]
_SHORT_WAITS = SessionConfig(drive_stop_s=30.0, charge_stop_s=20.0, asleep_after_s=50.0)
streams_with_lon = st.lists(
    st.tuples(st.sampled_from(_STEPS_S), st.integers(0, len(_WITH_LON) - 1)),
    min_size=1,
    max_size=80,
).map(lambda picks: _stream(picks, _WITH_LON))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams_with_lon, st.sampled_from([SessionConfig(), _SHORT_WAITS]), st.data())
def test_skipping_settled_moments_changes_nothing(
    samples: list[Sample], config: SessionConfig, data: st.DataObject
) -> None:
    skipping, always = SessionDetector(config), AlwaysDeciding(config)
    for ts_us, path, value in samples:
        assert skipping.feed(ts_us, path, value) == always.feed(ts_us, path, value)
        if data.draw(st.booleans()):  # the caller's clock, some time after the sample
            now_us = ts_us + round(data.draw(st.sampled_from(_STEPS_S[2:-1])) * S)
            assert skipping.on_silence(now_us) == always.on_silence(now_us)
        assert skipping.snapshot() == always.snapshot()
