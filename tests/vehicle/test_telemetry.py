"""Telemetry policy and sampler on a simulated clock, and the pump from a real broker."""

from __future__ import annotations

import asyncio
import itertools
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartev.core.clock import SimClock
from smartev.core.errors import InvalidInputError
from smartev.spec import shipped_catalog
from smartev.spec.errors import InvalidPatternError
from smartev.vehicle.broker import Broker
from smartev.vehicle.telemetry import (
    DEFAULT_TELEMETRY_POLICY,
    PolicyRule,
    SampleDraft,
    SignalPolicy,
    TelemetryPolicy,
    TelemetrySampler,
    pump_broker,
    value_changed,
)
from smartev.vehicle.telemetry_buffer import TelemetryBuffer, TelemetryBufferError

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
TEMP = "Vehicle.Exterior.AirTemperature"
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
T0 = START.timestamp()


def us(t: float) -> int:
    return round((T0 + t) * 1_000_000)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


def sampler_for(clock: SimClock, policy: SignalPolicy) -> TelemetrySampler:
    return TelemetrySampler(TelemetryPolicy(default=policy), clock)


def test_value_changed() -> None:
    assert not value_changed(1.0, 1.0)
    assert not value_changed(1, 1.0)
    assert value_changed(True, 1)
    assert value_changed(1.0, 1.0000001)
    assert not value_changed(10.0, 10.4, min_delta=0.5)
    assert value_changed(10.0, 10.5, min_delta=0.5)
    assert value_changed(10, 9, min_delta=1)
    assert not value_changed(math.nan, math.nan)
    assert value_changed(math.nan, 1.0)
    assert value_changed(None, 0)
    assert value_changed(("a",), ("b",))
    assert not value_changed(("a", 1), ("a", 1))
    assert value_changed("OFF", "ON", min_delta=5)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_interval_s": -1}, "min_interval_s -1: must be >= 0"),
        ({"min_delta": -0.1}, "min_delta -0.1: must be >= 0"),
        ({"heartbeat_s": 0}, "heartbeat_s 0: must be > 0"),
        ({"heartbeat_s": 1, "min_interval_s": 2}, "must be > 0 and >= min_interval_s"),
        ({"on_change": False, "heartbeat_s": None}, "needs a heartbeat_s"),
        ({"on_change": False, "kind": "state"}, "state signal is sent on change"),
        ({"kind": "event"}, "'event': must be 'state' or 'measurement'"),
    ],
)
def test_policy_checks_its_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SignalPolicy(**fields)  # type: ignore[arg-type]


def test_rules_first_match_wins_and_patterns_follow_kuksa() -> None:
    windows = SignalPolicy(min_interval_s=1.0)
    doors = SignalPolicy(kind="state")
    policy = TelemetryPolicy(
        rules=(
            PolicyRule("Vehicle.Cabin.Door.**.Window.Position", windows),
            PolicyRule("Vehicle.Cabin.Door", doors),
            PolicyRule("Vehicle.Body.*.Rear.IsOpen", doors),
        ),
        default=SignalPolicy(heartbeat_s=None),
    )
    assert policy.for_path("Vehicle.Cabin.Door.Row1.DriverSide.Window.Position") is windows
    assert policy.for_path("Vehicle.Cabin.Door.Row1.DriverSide.Window.IsOpen") is doors
    assert policy.for_path(LOCK) is doors
    assert policy.for_path("Vehicle.Body.Trunk.Rear.IsOpen") is doors
    assert policy.for_path("Vehicle.Body.Trunk.Front.IsOpen") is policy.default
    assert policy.for_path("Vehicle.Cabin.DoorCount") is policy.default  # no partial names
    with pytest.raises(InvalidPatternError):
        PolicyRule("Vehicle..Speed", windows)


def test_shipped_policy() -> None:
    policy = DEFAULT_TELEMETRY_POLICY
    assert policy.for_path(SPEED).min_interval_s == 1.0
    assert policy.for_path("Vehicle.CurrentLocation.Latitude").min_interval_s == 2.0
    soc = policy.for_path(SOC)
    assert (soc.min_interval_s, soc.heartbeat_s, soc.kind) == (0.0, 60.0, "measurement")
    for path in (
        LOCK,
        "Vehicle.Cabin.Door.Row2.PassengerSide.IsOpen",
        "Vehicle.Body.Trunk.Rear.IsLocked",
        "Vehicle.Powertrain.TractionBattery.Charging.IsCharging",
        "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition"
        ".IsChargingCableConnected",
        "Vehicle.Cabin.HVAC.IsAirConditioningActive",
        "Vehicle.IsMoving",
    ):
        state = policy.for_path(path)
        assert (state.kind, state.min_interval_s, state.on_change) == ("state", 0.0, True), path
    window = policy.for_path("Vehicle.Cabin.Door.Row1.DriverSide.Window.Position")
    assert window.kind == "measurement"
    # Every signal of the shipped catalog gets a valid policy.
    kinds = {policy.for_path(spec.path).kind for spec in shipped_catalog()}
    assert kinds == {"state", "measurement"}


# --- the sampler --------------------------------------------------------------------------------


def test_first_value_is_sent_at_once_then_changes_no_faster_than_the_interval(
    clock: SimClock,
) -> None:
    sampler = sampler_for(clock, SignalPolicy(min_interval_s=1.0, heartbeat_s=None))
    assert sampler.offer(SPEED, 10.0, T0) == [SampleDraft(us(0), SPEED, 10.0, "change", False)]
    assert sampler.offer(SPEED, 10.0, T0) == []  # no change
    clock.advance(0.3)
    assert sampler.offer(SPEED, 11.0, T0 + 0.3) == []  # too early: held back
    clock.advance(0.3)
    assert sampler.offer(SPEED, 12.0, T0 + 0.6) == []
    assert sampler.due() == []
    clock.advance(0.4)
    # The newest value, with its own timestamp; 11.0 is gone.
    assert sampler.due() == [SampleDraft(us(0.6), SPEED, 12.0, "change", False)]
    assert sampler.due() == []
    clock.advance(1.5)
    assert sampler.offer(SPEED, 13.0, T0 + 2.5) == [
        SampleDraft(us(2.5), SPEED, 13.0, "change", False)
    ]


def test_the_newest_state_value_is_never_lost(clock: SimClock) -> None:
    sampler = sampler_for(clock, SignalPolicy(kind="state", min_interval_s=5.0, heartbeat_s=None))
    assert sampler.offer(LOCK, True, T0)[0].state
    for i, locked in enumerate((False, True, False), start=1):
        clock.advance(1)
        assert sampler.offer(LOCK, locked, T0 + i) == []
    clock.advance(2)
    assert sampler.due() == [SampleDraft(us(3), LOCK, False, "change", True)]
    # A change and back within the interval: the cloud already has the newest value.
    clock.advance(1)
    assert sampler.offer(LOCK, True, T0 + 6) == []
    assert sampler.offer(LOCK, False, T0 + 6.5) == []
    clock.advance(10)
    assert sampler.due() == []
    # Held back at shutdown: flushed at once.
    assert sampler.offer(LOCK, True, T0 + 16) == [SampleDraft(us(16), LOCK, True, "change", True)]
    assert sampler.offer(LOCK, False, T0 + 16) == []
    assert sampler.flush() == [SampleDraft(us(16), LOCK, False, "change", True)]
    assert sampler.flush() == []


def test_heartbeat_every_n_seconds_with_the_current_value(clock: SimClock) -> None:
    sampler = sampler_for(clock, SignalPolicy(heartbeat_s=60.0, min_delta=0.5))
    sampler.offer(TEMP, 20.0, T0)
    beats = []
    for step in range(1, 181):  # three minutes in 1 s steps
        clock.advance(1)
        if step == 90:
            sampler.offer(TEMP, 20.2, T0 + step)  # inside the deadband: not a change
        beats += sampler.due()
    assert beats == [
        SampleDraft(us(60), TEMP, 20.0, "heartbeat", False),
        SampleDraft(us(120), TEMP, 20.2, "heartbeat", False),
        SampleDraft(us(180), TEMP, 20.2, "heartbeat", False),
    ]
    # A change restarts the heartbeat's count.
    clock.advance(30)
    assert sampler.offer(TEMP, 25.0, T0 + 210)[0].kind == "change"
    clock.advance(59)
    assert sampler.due() == []
    clock.advance(1)
    assert sampler.due() == [SampleDraft(us(270), TEMP, 25.0, "heartbeat", False)]


def test_deadband_is_measured_from_the_last_sent_value(clock: SimClock) -> None:
    sampler = sampler_for(clock, SignalPolicy(min_delta=1.0, heartbeat_s=None))
    sent = [d.value for d in sampler.offer(SOC, 50.0, T0)]
    for value in (50.4, 50.8, 51.1, 51.5, 52.2, 51.5, 51.1):
        sent += [d.value for d in sampler.offer(SOC, value, T0)]
    assert sent == [50.0, 51.1, 52.2, 51.1]


def test_on_change_off_is_periodic_only(clock: SimClock) -> None:
    sampler = sampler_for(clock, SignalPolicy(on_change=False, heartbeat_s=10.0))
    assert len(sampler.offer(SOC, 80.0, T0)) == 1  # the first value, so the cloud has one
    sent = []
    for step in range(1, 31):
        clock.advance(1)
        assert sampler.offer(SOC, 80.0 - step * 0.1, T0 + step) == []
        sent += sampler.due()
    assert [(d.ts_us, d.kind) for d in sent] == [(us(t), "heartbeat") for t in (10, 20, 30)]
    assert [d.value for d in sent] == pytest.approx([79.0, 78.0, 77.0])


def test_signals_are_independent(clock: SimClock) -> None:
    sampler = TelemetrySampler(DEFAULT_TELEMETRY_POLICY, clock)
    assert len(sampler.offer(SPEED, 10.0, T0)) == 1
    assert len(sampler.offer(LOCK, True, T0)) == 1
    clock.advance(0.1)
    assert sampler.offer(SPEED, 20.0, T0 + 0.1) == []  # 1 s minimum for speed
    assert sampler.offer(LOCK, False, T0 + 0.1) == [
        SampleDraft(us(0.1), LOCK, False, "change", True)
    ]


# --- the pump, from a real broker into a real buffer --------------------------------------------


async def test_pump_from_broker_to_buffer(tmp_path: Path, clock: SimClock) -> None:
    broker = Broker(shipped_catalog(), clock=clock)
    buffer = TelemetryBuffer(tmp_path / "t.db", clock=clock)
    sampler = TelemetrySampler(DEFAULT_TELEMETRY_POLICY, clock)
    pump = asyncio.create_task(
        pump_broker(broker, [SPEED, LOCK, SOC], sampler, buffer, clock, tick_s=0.1)
    )
    await clock.run_for(0.05)
    assert buffer.pending_count() == 0  # never-set signals are not telemetry
    provider = broker.register_provider("car", sensors=[SPEED, SOC], actuators=[LOCK])
    provider.publish({LOCK: True, SOC: 80.0})
    for i in range(50):  # speed at 10 Hz for 5 s
        provider.publish({SPEED: float(i)})
        await clock.run_for(0.1)
    provider.publish({LOCK: False})
    await clock.run_for(0.05)
    samples = buffer.read(0, 1000)
    speed = [s for s in samples if s.path == SPEED]
    assert 5 <= len(speed) <= 6  # once a second, the newest value each time
    assert all(b.ts_us - a.ts_us >= 999_000 for a, b in itertools.pairwise(speed))
    assert [(s.value, s.kind) for s in samples if s.path == LOCK] == [
        (True, "change"),
        (False, "change"),
    ]
    assert [s.seq for s in samples] == list(range(1, len(samples) + 1))
    # Heartbeats: SoC did not change for a minute.
    await clock.run_for(60)
    soc = [s for s in buffer.read(0, 1000) if s.path == SOC]
    assert [(s.value, s.kind) for s in soc] == [(80.0, "change"), (80.0, "heartbeat")]
    # A provider gone: its values turn stale, which is not a change, and their heartbeats stop.
    provider.publish({SPEED: 50.0})
    await clock.run_for(0.3)
    provider.publish({SPEED: 51.0})  # 0.3 s after the last: held back
    await clock.run_for(0.3)
    provider.close()  # the held-back change is sent now
    await clock.run_for(0.05)
    assert buffer.read(buffer.last_seq - 1, 1)[0][2:] == (SPEED, 51.0, "change")
    count = buffer.pending_count()
    await clock.run_for(120)
    assert buffer.pending_count() == count
    # Held back at shutdown: appended on the way out.
    other = broker.register_provider("car2", sensors=[SPEED])
    other.publish({SPEED: 99.0})
    await clock.run_for(0.3)
    other.publish({SPEED: 98.0})
    await clock.run_for(0.1)
    last = buffer.last_seq
    pump.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pump
    assert [(s.path, s.value) for s in buffer.read(last, 10)] == [(SPEED, 98.0)]
    buffer.close()


async def test_pump_stops_with_the_buffer_error(tmp_path: Path, clock: SimClock) -> None:
    broker = Broker(shipped_catalog(), clock=clock)
    buffer = TelemetryBuffer(tmp_path / "t.db", clock=clock)
    sampler = TelemetrySampler(DEFAULT_TELEMETRY_POLICY, clock)
    broker.publish({SPEED: 1.0})
    buffer.close()
    with pytest.raises(TelemetryBufferError, match="closed database"):
        await pump_broker(broker, [SPEED], sampler, buffer, clock)
