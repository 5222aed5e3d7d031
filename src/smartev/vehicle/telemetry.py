"""Telemetry sampling: which signal values the car sends to the cloud, and when.

Each signal has a :class:`SignalPolicy`: send on change (beyond an optional deadband), but no
more often than ``min_interval_s``; and at least every ``heartbeat_s`` even when nothing changed.
A change that comes too early is held back and sent once the interval has passed, with the newest
value at that time: the latest value is never lost, intermediate ones may be.
:class:`TelemetrySampler` applies the policies (pure, on an injected clock);
:func:`pump_broker` feeds it from the broker and puts what it emits into the durable
:class:`~smartev.vehicle.telemetry_buffer.TelemetryBuffer`, which assigns sequence numbers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError
from smartev.spec import PathPattern
from smartev.vehicle.broker import Broker
from smartev.vehicle.telemetry_buffer import (
    BufferedSample,
    SampleDraft,
    SampleKind,
    SampleValue,
    TelemetryBuffer,
)

__all__ = [
    "DEFAULT_TELEMETRY_POLICY",
    "BufferedSample",
    "PolicyRule",
    "SampleDraft",
    "SampleKind",
    "SignalKind",
    "SignalPolicy",
    "TelemetryPolicy",
    "TelemetrySampler",
    "pump_broker",
    "value_changed",
]

SignalKind: TypeAlias = Literal["state", "measurement"]

# Float slack when comparing elapsed times: 0.1 + 0.2 s of ticks is "0.3 s" for a policy.
_EPS_S: Final = 1e-9


@dataclass(frozen=True, slots=True)
class SignalPolicy:
    """When one signal is sent.

    - ``on_change``: send when the value changes (numbers: by at least ``min_delta``, if set);
      when False the signal is sent periodically only, every ``heartbeat_s``.
    - ``min_interval_s``: never two samples of the signal closer than this; an early change is
      sent when the interval is over, with the newest value then.
    - ``heartbeat_s``: send the current value at least this often (None: never unless changed).
    - ``kind``: ``"state"`` (locks, doors, charging state, activity): its changes are never
      dropped from the buffer; ``"measurement"`` (speed, power, temperatures): may be when full.
    """

    min_interval_s: float = 0.0
    heartbeat_s: float | None = 60.0
    on_change: bool = True
    kind: SignalKind = "measurement"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if not self.min_interval_s >= 0:
            raise InvalidInputError(f"min_interval_s {self.min_interval_s}: must be >= 0")
        if not self.min_delta >= 0:
            raise InvalidInputError(f"min_delta {self.min_delta}: must be >= 0")
        if self.kind not in ("state", "measurement"):
            raise InvalidInputError(f"signal kind {self.kind!r}: must be 'state' or 'measurement'")
        if self.heartbeat_s is not None and not self.heartbeat_s >= max(
            self.min_interval_s, _EPS_S
        ):
            raise InvalidInputError(
                f"heartbeat_s {self.heartbeat_s}: must be > 0 and >= min_interval_s "
                f"({self.min_interval_s}), or None"
            )
        if not self.on_change and self.heartbeat_s is None:
            raise InvalidInputError("a signal with on_change=False needs a heartbeat_s")
        if not self.on_change and self.kind == "state":
            raise InvalidInputError("a state signal is sent on change: on_change must be True")


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """A policy for the signals a KUKSA-style pattern selects (see :mod:`smartev.spec.path_glob`):
    a path selects itself and everything below it, ``*`` one segment, ``**`` any number."""

    pattern: str
    policy: SignalPolicy
    _compiled: PathPattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", PathPattern(self.pattern))

    def matches(self, path: str) -> bool:
        return self._compiled.matches(path)


@dataclass(frozen=True, slots=True)
class TelemetryPolicy:
    """A table of rules, first match wins, and the policy of every signal no rule selects."""

    rules: tuple[PolicyRule, ...] = ()
    default: SignalPolicy = SignalPolicy()

    def for_path(self, path: str) -> SignalPolicy:
        for rule in self.rules:
            if rule.matches(path):
                return rule.policy
        return self.default


_STATE = SignalPolicy(kind="state", heartbeat_s=300.0)
_SETTING = SignalPolicy(kind="state", heartbeat_s=None)  # attributes and settings: on change
_EVERY_SECOND = SignalPolicy(min_interval_s=1.0)
_TEMPERATURE = SignalPolicy(min_interval_s=10.0, min_delta=0.5)
_BATTERY = "Vehicle.Powertrain.TractionBattery"
_CHARGING = f"{_BATTERY}.Charging"

DEFAULT_TELEMETRY_POLICY: Final = TelemetryPolicy(
    rules=tuple(
        PolicyRule(pattern, policy)
        for pattern, policy in (
            ("Vehicle.Speed", SignalPolicy(min_interval_s=1.0, min_delta=0.1)),
            ("Vehicle.CurrentLocation", SignalPolicy(min_interval_s=2.0)),
            (f"{_BATTERY}.StateOfCharge", SignalPolicy(min_delta=0.1)),
            ("Vehicle.Cabin.Door.**.Window.Position", _EVERY_SECOND),
            ("Vehicle.Cabin.Door", _STATE),
            ("Vehicle.Body.Trunk", _STATE),
            ("Vehicle.Body.Hood", _STATE),
            ("Vehicle.Body.Lights", _STATE),
            ("Vehicle.Body.Horn", _STATE),
            ("Vehicle.IsMoving", _STATE),
            ("Vehicle.LowVoltageSystemState", _STATE),
            ("Vehicle.Powertrain.Transmission.SelectedGear", _STATE),
            (f"{_CHARGING}.IsCharging", _STATE),
            (f"{_CHARGING}.IsDischarging", _STATE),
            (f"{_CHARGING}.ChargingPort", _STATE),
            (f"{_CHARGING}.EvseId", _STATE),
            (f"{_CHARGING}.ChargeLimit", _SETTING),
            (f"{_CHARGING}.StartStopCharging", _SETTING),
            (f"{_CHARGING}.Timer", _SETTING),
            (f"{_BATTERY}.BatteryConditioning", _STATE),
            ("Vehicle.Cabin.HVAC.**.Is*Active", _STATE),
            ("Vehicle.Cabin.HVAC.Station", _SETTING),
            ("Vehicle.Cabin.Seat", _SETTING),
            ("Vehicle.Service.IsServiceDue", _STATE),
            ("Vehicle.VehicleIdentification", _SETTING),
            ("Vehicle.VersionVSS", _SETTING),
            ("Vehicle.Cabin.HVAC.AmbientAirTemperature", _TEMPERATURE),
            ("Vehicle.Exterior.AirTemperature", _TEMPERATURE),
            (f"{_BATTERY}.Temperature", _TEMPERATURE),
            ("Vehicle.Powertrain.ElectricMotor.Temperature", _TEMPERATURE),
        )
    ),
    default=_EVERY_SECOND,
)


def _as_number(value: SampleValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def value_changed(old: SampleValue, new: SampleValue, min_delta: float = 0.0) -> bool:
    """Is ``new`` a change from ``old``? Numbers by at least ``min_delta`` (if > 0); NaN equals
    NaN; ``1`` and ``1.0`` are equal, ``True`` and ``1`` are not."""
    a, b = _as_number(old), _as_number(new)
    if a is not None and b is not None:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) != math.isnan(b)
        if min_delta > 0:
            return abs(b - a) >= min_delta
        return a != b
    return type(old) is not type(new) or old != new


@dataclass(slots=True)
class _Track:
    """What the sampler knows of one signal."""

    policy: SignalPolicy
    state: bool
    sent: SampleValue  # the value the cloud has (last sent)
    sent_at: float  # clock.monotonic() of the last sample
    latest: SampleValue
    latest_ts_us: int
    deferred: bool = False  # latest is a change waiting for min_interval_s


def _ts_us(ts: float) -> int:
    return round(ts * 1_000_000)


class TelemetrySampler:
    """Applies a :class:`TelemetryPolicy` to a stream of values. Pure: no I/O, time from the
    clock it is given (``clock.monotonic()`` for intervals, ``clock.timestamp()`` for the
    heartbeats' timestamps)."""

    def __init__(self, policy: TelemetryPolicy, clock: Clock) -> None:
        self.policy = policy
        self._clock = clock
        self._tracks: dict[str, _Track] = {}

    def offer(self, path: str, value: SampleValue, ts: float) -> list[SampleDraft]:
        """A new value of ``path`` measured at ``ts`` (epoch seconds): what to send now.

        The first value of a signal is always sent at once, as a change.
        """
        now = self._clock.monotonic()
        track = self._tracks.get(path)
        if track is None:
            policy = self.policy.for_path(path)
            state = policy.kind == "state"
            ts_us = _ts_us(ts)
            self._tracks[path] = _Track(policy, state, value, now, value, ts_us)
            return [SampleDraft(ts_us, path, value, "change", state)]
        policy = track.policy
        track.latest = value
        track.latest_ts_us = _ts_us(ts)
        if not policy.on_change:
            return []
        if not value_changed(track.sent, value, policy.min_delta):
            track.deferred = False  # back to what the cloud has: nothing to send
            return []
        if now - track.sent_at + _EPS_S >= policy.min_interval_s:
            return [self._emit(path, track, now, "change", track.latest_ts_us)]
        track.deferred = True
        return []

    def due(self) -> list[SampleDraft]:
        """Held-back changes whose interval is over, and heartbeats that are due."""
        now = self._clock.monotonic()
        drafts: list[SampleDraft] = []
        heartbeat_ts_us: int | None = None
        for path, track in self._tracks.items():
            policy = track.policy
            elapsed = now - track.sent_at + _EPS_S
            if track.deferred:
                if elapsed >= policy.min_interval_s:
                    drafts.append(self._emit(path, track, now, "change", track.latest_ts_us))
            elif policy.heartbeat_s is not None and elapsed >= policy.heartbeat_s:
                if heartbeat_ts_us is None:
                    heartbeat_ts_us = _ts_us(self._clock.timestamp())
                drafts.append(self._emit(path, track, now, "heartbeat", heartbeat_ts_us))
        return drafts

    def flush(self) -> list[SampleDraft]:
        """Every held-back change now, interval or not: for a clean shutdown."""
        now = self._clock.monotonic()
        return [
            self._emit(path, track, now, "change", track.latest_ts_us)
            for path, track in self._tracks.items()
            if track.deferred
        ]

    def forget(self, path: str) -> list[SampleDraft]:
        """The signal's value is no longer known (stale): stop its heartbeats; its next value is
        sent at once, as a first value. A held-back change is returned, to be sent now."""
        track = self._tracks.pop(path, None)
        if track is None or not track.deferred:
            return []
        return [self._emit(path, track, self._clock.monotonic(), "change", track.latest_ts_us)]

    @staticmethod
    def _emit(path: str, track: _Track, now: float, kind: SampleKind, ts_us: int) -> SampleDraft:
        track.sent = track.latest
        track.sent_at = now
        track.deferred = False
        return SampleDraft(ts_us, path, track.latest, kind, track.state)


async def pump_broker(
    broker: Broker,
    patterns: Sequence[str],
    sampler: TelemetrySampler,
    buffer: TelemetryBuffer,
    clock: Clock,
    *,
    tick_s: float = 0.1,
) -> None:
    """Subscribe to ``patterns``, feed every fresh value to the sampler, ask it for due samples
    every ``tick_s``, and append what it emits to the buffer. Runs until cancelled (or the
    subscription ends); on the way out held-back changes are appended too.

    Never-set signals are skipped. A value turning stale (its provider gone) is not a change:
    the signal's heartbeats stop until a fresh value comes, which is sent at once.
    """
    if not tick_s > 0:
        raise InvalidInputError(f"tick_s {tick_s}: must be > 0")
    subscription = broker.subscribe(patterns)

    async def feed() -> None:
        async for batch in subscription:
            drafts: list[SampleDraft] = []
            for path, datapoint in batch.items():
                if datapoint.stale:
                    drafts += sampler.forget(path)
                elif datapoint.ts != 0.0:
                    drafts += sampler.offer(path, datapoint.value, datapoint.ts)
            if drafts:
                buffer.append(drafts)

    async def tick() -> None:
        while True:
            await clock.sleep(tick_s)
            drafts = sampler.due()
            if drafts:
                buffer.append(drafts)

    tasks = (asyncio.create_task(feed()), asyncio.create_task(tick()))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # re-raises what ended it
    finally:
        subscription.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        held_back = sampler.flush()
        if held_back:
            buffer.append(held_back)
