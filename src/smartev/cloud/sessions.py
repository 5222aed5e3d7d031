"""Derives one car's drives, charging sessions and state intervals from its telemetry, sample by
sample: :class:`SessionDetector`, a pure state machine whose progress is a JSON-safe snapshot.

How the telemetry is read
-------------------------
Signals come on change plus a heartbeat, so a value holds until the next sample of its path
(zero-order hold): energy and distance are integrated that way. Samples of one moment arrive one
by one, so the detector decides about a moment only once it is complete: when a later sample
comes, or when the caller says time passed (:meth:`SessionDetector.on_silence`). Events therefore
come one sample late, each carrying the timestamps it is about. A sample older than the newest
one is ignored. ``Vehicle.Powertrain.TractionBattery.CurrentPower`` is positive when the battery
discharges (the simulator's convention: power at the terminals, + = discharge).

The rules (thresholds are :class:`SessionConfig` fields)
---------------------------------------------------------
- Moving: ``Vehicle.Speed`` above ``moving_speed_kmh`` (1 km/h) or ``Vehicle.IsMoving`` true.
- Drive: starts at the first moment the car moves; ends once it has stood still for
  ``drive_stop_s`` (5 min, so traffic lights do not split drives), at the moment it stopped.
  Readings at the start are the last ones before the car moved (it stood there until then).
  Distance from the odometer when known at both ends, else ∫ speed. Energy from
  ``StateOfCharge.CurrentEnergy`` if reported, else SoC × ``NetCapacity``, else ∫ battery power.
  A drive shorter than ``min_drive_km`` (0.1 km) *and* ``min_drive_s`` (60 s) is discarded.
- Charging: ``Charging.IsCharging`` true, or ``Charging.AveragePower`` > 0 with the cable
  connected, while the car stands; ends once that has been false for ``charge_stop_s`` (2 min),
  at the moment it stopped. Energy is ∫ AveragePower dt (else the SoC rise × capacity). The kind
  is DC when the power ever exceeded ``dc_above_kw`` (22 kW: the most AC a three-phase 32 A
  supply gives); a DC charge that never passed 22 kW is reported as AC.
- Asleep: parked, and ``Vehicle.LowVoltageSystemState`` is "OFF" when the car reports that signal
  (any other value means awake). Without it: parked with no *activity* for ``asleep_after_s``
  (30 min) while samples (heartbeats) keep coming; activity is a changed value of speed, motion,
  odometer, charging, cable or charging power, or a battery power of at least ``awake_power_w``
  (100 W) — temperatures, SoC and GPS jitter do not wake a car. Asleep begins when the quiet time
  is over, and is only concluded once a sample after that moment arrived.
- Offline: no sample for ``offline_after_s`` (15 min), told by :meth:`on_silence` or seen as a
  gap between samples (so replaying stored samples gives what the live run gave). Offline begins
  at the last sample; a drive or charge in progress ends there; what the car was doing (speed,
  charging, power) is forgotten until it reports again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

from smartev.cloud.session_progress import (
    NO_READING,
    SIGNAL_ROUTES,
    DetectorProgress,
    InProgress,
    OpenInterval,
    parse_value,
)
from smartev.cloud.session_records import (
    ChargingEnded,
    ChargingStarted,
    DriveStarted,
    SessionEvent,
    StateClosed,
    StateInterval,
    StateOpened,
    VehicleState,
    charging_session_from_marks,
    drive_from_marks,
)
from smartev.core.errors import InvalidInputError

__all__ = ["SessionConfig", "SessionDetector"]

_SNAPSHOT_VERSION: Final = 1
_US_PER_S: Final = 1_000_000
_WAITS: Final = frozenset({"drive_stop_s", "charge_stop_s", "asleep_after_s", "offline_after_s"})
# Looked up once: reading an enum member off its class costs ~0.1 µs, and these are read at
# every moment.
_OFFLINE: Final = VehicleState.OFFLINE
_PARKED: Final = VehicleState.PARKED
_ASLEEP: Final = VehicleState.ASLEEP


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Thresholds of the detector (see the module docstring for what each one decides)."""

    moving_speed_kmh: float = 1.0
    drive_stop_s: float = 300.0
    charge_stop_s: float = 120.0
    asleep_after_s: float = 1800.0
    offline_after_s: float = 900.0
    awake_power_w: float = 100.0
    min_drive_km: float = 0.1
    min_drive_s: float = 60.0
    dc_above_kw: float = 22.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            positive = f.name in _WAITS
            if not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
                rule = "a number > 0" if positive else "a number >= 0"
                raise InvalidInputError(f"session config {f.name} {value!r}: must be {rule}")


class SessionDetector:
    """One car's drives, charges and states. Feed it that car's samples in time order.

    :meth:`feed` runs for every sample the cloud ingests, so it is written for speed: a sample
    of a path not read here, at the current moment, costs one dict look-up; the progress is
    updated in place, objects are made only for what is reported or kept (marks, events), and
    a moment that changed nothing the last decision read is not decided again.
    """

    def __init__(self, config: SessionConfig | None = None) -> None:
        cfg = config if config is not None else SessionConfig()
        self._config = cfg
        self._config_json = asdict(cfg)  # asdict is slow, and the snapshot is taken often
        self._p = DetectorProgress()
        # The waits in µs, read at every moment.
        self._drive_stop_us = _us(cfg.drive_stop_s)
        self._charge_stop_us = _us(cfg.charge_stop_s)
        self._asleep_after_us = _us(cfg.asleep_after_s)
        self._offline_after_us = _us(cfg.offline_after_s)
        # The last decision holds: since it, no signal it reads changed, no activity came and no
        # session or state began or ended. Deciding again would change nothing (see _decide).
        # Not in the snapshot: a restored detector decides its first moment again.
        self._settled = False

    # --- what the caller sees -----------------------------------------------------------------

    @property
    def config(self) -> SessionConfig:
        """The thresholds, fixed for the detector's life (it keeps the waits in µs)."""
        return self._config

    @property
    def state(self) -> VehicleState | None:
        """The state the car is in now (None before the first decided moment)."""
        return self._p.interval.state if self._p.interval is not None else None

    @property
    def ignored_samples(self) -> int:
        """Samples ignored: older than the newest one, or with a value of the wrong type."""
        return self._p.ignored_samples

    @property
    def state_since_us(self) -> int | None:
        return self._p.interval.start_us if self._p.interval is not None else None

    def feed(self, ts_us: int, path: str, value: object) -> list[SessionEvent]:
        """Take one sample; return what started or ended (about earlier moments, see above)."""
        if type(ts_us) is not int:  # the exact type first: this runs for every sample
            _check_timestamp(ts_us)
        p = self._p
        out: list[SessionEvent] = []
        frame_us = p.frame_us
        if ts_us != frame_us:
            if frame_us is None:
                p.frame_us = ts_us
                p.last_activity_us = ts_us
            elif ts_us < frame_us:
                p.ignored_samples += 1
                return out
            else:
                self._advance(ts_us, frame_us, out)
        route = SIGNAL_ROUTES.get(path)
        if route is not None:  # else not read here; it still shows the car is online
            self._apply(ts_us, route, value)
        p.frame_open = True
        return out

    def on_silence(self, now_us: int) -> list[SessionEvent]:
        """Time has passed up to ``now_us`` with no sample: conclude the newest moment, end
        drives and charges whose stop has lasted long enough, and go offline after
        ``offline_after_s``. Calling it is optional: a later sample concludes the same."""
        out: list[SessionEvent] = []
        frame_us = self._p.frame_us
        if frame_us is None or now_us <= frame_us:
            return out
        self._conclude_frame(frame_us, out)
        if not self._offline():
            if now_us - frame_us >= self._offline_after_us:
                self._go_offline(frame_us, out)
            else:
                # Not asleep: that needs a sample after the quiet time (see the module docstring).
                self._fire_timers(now_us, out, asleep=False)
        return out

    # --- samples ------------------------------------------------------------------------------

    def _apply(self, ts_us: int, route: tuple[str, type, bool, bool, bool], value: object) -> None:
        name, kind, activity, power, decides = route
        parsed: float | bool | str | None
        # The common cases first, read as parse_value reads them.
        if kind is float and type(value) is float:
            parsed = value if math.isfinite(value) else None
        elif kind is bool and type(value) is bool:
            parsed = value
        elif kind is float and type(value) is int:
            parsed = float(value)
        else:
            parsed = parse_value(value, kind)
        p = self._p
        if parsed is None:
            p.ignored_samples += 1
            return
        signals = p.signals
        old = getattr(signals, name)
        setattr(signals, name, parsed)
        if (activity and parsed != old) or (
            power and abs(float(parsed)) >= self._config.awake_power_w
        ):
            p.last_activity_us = ts_us
            self._settled = False  # activity wakes an asleep car
        elif decides and parsed != old:
            self._settled = False

    def _advance(self, ts_us: int, frame_us: int, out: list[SessionEvent]) -> None:
        """Time moves from the current moment ``frame_us`` to ``ts_us``, a later one."""
        p = self._p
        if p.frame_open:  # _conclude_frame, inlined: this runs at every moment
            p.frame_open = False
            if not self._settled:
                self._decide(frame_us, out)
        interval = p.interval
        if interval is not None and interval.state is _OFFLINE:
            # After a silence the car may have moved: the readings before it say nothing now.
            p.prev = NO_READING
        elif ts_us - frame_us >= self._offline_after_us:
            self._go_offline(frame_us, out)
            p.prev = NO_READING
        else:
            self._fire_timers(ts_us, out, asleep=True)  # the car stays online
            p.totals.integrate(p.signals, (ts_us - frame_us) / _US_PER_S)
            p.prev = p.signals.reading_values()
        p.frame_us = ts_us

    # --- deciding about one moment ------------------------------------------------------------

    def _conclude_frame(self, frame_us: int, out: list[SessionEvent]) -> None:
        if self._p.frame_open:
            self._p.frame_open = False
            if not self._settled:
                self._decide(frame_us, out)

    def _decide(self, t: int, out: list[SessionEvent]) -> None:
        """All samples of moment ``t`` are in: start, pause, resume or end sessions.

        Deciding twice with the same signals is idempotent: a drive or charge in progress keeps
        its stop and peak, a session the signals call for was started the first time, and the
        rest state differs only after activity. So the next moment needs no decision unless
        something in between unsettled this one (a changed signal, activity, a timer or an
        offline gap that began or ended something)."""
        p = self._p
        signals = p.signals
        moving = signals.moving(self._config.moving_speed_kmh)
        charging = signals.charging()
        if p.drive is not None:
            self._update_drive(p.drive, t, moving)
        if p.charge is not None:
            if moving:
                self._end_charge(t, out, followed=True)
            else:
                self._update_charge(p.charge, t, charging)
        if moving and p.drive is None:
            self._start_drive(t, out)
        elif not moving and charging and p.charge is None:
            if p.drive is not None:
                self._end_drive(t, out, followed=True)
            self._start_charge(t, out)
        if p.drive is None and p.charge is None:
            self._enter(self._rest_state(t), t, signals.soc_pct, out)
        self._settled = True

    def _rest_state(self, t: int) -> VehicleState:
        """Parked or asleep, when neither driving nor charging."""
        lv_state = self._p.signals.lv_state
        if lv_state is not None:
            return _ASLEEP if lv_state == "OFF" else _PARKED
        if self.state is _ASLEEP and self._p.last_activity_us < t:
            return _ASLEEP
        return _PARKED

    def _fire_timers(self, now_us: int, out: list[SessionEvent], *, asleep: bool) -> None:
        """End what has been stopped long enough by ``now_us``; fall asleep if quiet enough."""
        p = self._p
        drive, charge = p.drive, p.charge
        if (
            drive is not None
            and drive.stop is not None
            and now_us - drive.stop.ts_us >= self._drive_stop_us
        ):
            self._end_drive(now_us, out, followed=False)
        if (
            charge is not None
            and charge.stop is not None
            and now_us - charge.stop.ts_us >= self._charge_stop_us
        ):
            self._end_charge(now_us, out, followed=False)
        interval = p.interval
        if (
            asleep
            and interval is not None
            and interval.state is _PARKED
            and p.signals.lv_state is None
        ):
            quiet_from = max(p.last_activity_us, interval.start_us)
            falls_asleep_us = quiet_from + self._asleep_after_us
            if falls_asleep_us < now_us:
                self._enter(_ASLEEP, falls_asleep_us, p.signals.soc_pct, out)

    def _offline(self) -> bool:
        interval = self._p.interval
        return interval is not None and interval.state is _OFFLINE

    def _go_offline(self, at_us: int, out: list[SessionEvent]) -> None:
        if self._p.drive is not None:
            self._end_drive(at_us, out, followed=True)
        if self._p.charge is not None:
            self._end_charge(at_us, out, followed=True)
        self._enter(_OFFLINE, at_us, self._p.signals.soc_pct, out)
        self._p.signals.forget_doing()
        self._settled = False

    def _enter(
        self, state: VehicleState, at_us: int, soc_pct: float | None, out: list[SessionEvent]
    ) -> None:
        current = self._p.interval
        if current is not None:
            if current.state is state:
                return
            closed = StateInterval(current.state, current.start_us, at_us, current.soc_pct, soc_pct)
            out.append(StateClosed(closed))
        self._p.interval = OpenInterval(state, at_us, soc_pct)
        self._settled = False
        out.append(StateOpened(state, at_us, soc_pct))

    # --- drives -------------------------------------------------------------------------------

    def _start_drive(self, t: int, out: list[SessionEvent]) -> None:
        start = self._p.start_mark(t)
        self._p.drive = InProgress(start, None, self._p.signals.speed_kmh)
        r = start.reading
        self._enter(VehicleState.DRIVING, t, r.soc_pct, out)
        odometer_km = r.odometer_m / 1000.0 if r.odometer_m is not None else None
        out.append(DriveStarted(t, r.lat, r.lon, r.soc_pct, odometer_km))

    def _update_drive(self, drive: InProgress, t: int, moving: bool) -> None:
        if drive.start.reading.lat is None:
            drive.start = self._p.with_position(drive.start)
        speed_kmh = self._p.signals.speed_kmh
        if speed_kmh is not None and (drive.peak is None or speed_kmh > drive.peak):
            drive.peak = speed_kmh
        if moving:
            drive.stop = None
        elif drive.stop is None:
            drive.stop = self._p.mark(t)

    def _end_drive(self, now_us: int, out: list[SessionEvent], *, followed: bool) -> None:
        """End the drive where it stopped (or at ``now_us`` if it never did). ``followed``: the
        caller enters another state at ``now_us``, so no parked interval of zero length."""
        drive = self._p.drive
        assert drive is not None
        self._p.drive = None
        self._settled = False
        end = drive.stop if drive.stop is not None else self._p.mark(now_us)
        cfg = self._config
        out.append(
            drive_from_marks(
                drive.start,
                end,
                drive.peak,
                min_distance_km=cfg.min_drive_km,
                min_duration_s=cfg.min_drive_s,
            )
        )
        if not (followed and end.ts_us == now_us):
            self._enter(_PARKED, end.ts_us, end.reading.soc_pct, out)

    # --- charging -----------------------------------------------------------------------------

    def _start_charge(self, t: int, out: list[SessionEvent]) -> None:
        start = self._p.start_mark(t)
        self._p.charge = InProgress(start, None, self._p.signals.charge_kw)
        r = start.reading
        self._enter(VehicleState.CHARGING, t, r.soc_pct, out)
        out.append(ChargingStarted(t, r.lat, r.lon, r.soc_pct))

    def _update_charge(self, charge: InProgress, t: int, charging: bool) -> None:
        if charge.start.reading.lat is None:
            charge.start = self._p.with_position(charge.start)
        if charging:
            power_kw = self._p.signals.charge_kw
            if power_kw is not None and (charge.peak is None or power_kw > charge.peak):
                charge.peak = power_kw
            charge.stop = None
        elif charge.stop is None:
            charge.stop = self._p.mark(t)

    def _end_charge(self, now_us: int, out: list[SessionEvent], *, followed: bool) -> None:
        charge = self._p.charge
        assert charge is not None
        self._p.charge = None
        self._settled = False
        end = charge.stop if charge.stop is not None else self._p.mark(now_us)
        session = charging_session_from_marks(
            charge.start, end, charge.peak, dc_above_kw=self._config.dc_above_kw
        )
        out.append(ChargingEnded(session))
        if not (followed and end.ts_us == now_us):
            self._enter(_PARKED, end.ts_us, end.reading.soc_pct, out)

    # --- persistence --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The detector's whole progress as JSON-safe data, for :meth:`restore`."""
        return {
            "version": _SNAPSHOT_VERSION,
            "config": dict(self._config_json),
            "progress": self._p.to_json(),
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> SessionDetector:
        """A detector that continues exactly where the one that made ``snapshot`` was."""
        version = snapshot.get("version") if isinstance(snapshot, dict) else None
        if version != _SNAPSHOT_VERSION:
            raise InvalidInputError(
                f"session snapshot version {version!r}: must be {_SNAPSHOT_VERSION}"
            )
        try:
            detector = cls(SessionConfig(**snapshot["config"]))
            detector._p = DetectorProgress.from_json(snapshot["progress"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"session snapshot is malformed: {exc!r}") from exc
        return detector


def _us(seconds: float) -> int:
    return round(seconds * _US_PER_S)


def _check_timestamp(ts_us: object) -> None:
    """Accept a subclass of int (not bool): the caller's fast path let only int itself by."""
    if isinstance(ts_us, bool) or not isinstance(ts_us, int):
        raise InvalidInputError(f"ts_us {ts_us!r}: must be an int (µs since the epoch)")
