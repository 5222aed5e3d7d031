"""The session detector's progress as plain data: the signals it holds (and the VSS paths they
come from), the drive, charge and state in progress, and the JSON form the cloud persists."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final, TypeAlias

from smartev.cloud.session_records import Mark, Reading, Totals, VehicleState

__all__ = [
    "ACTIVITY_FIELDS",
    "DECISION_FIELDS",
    "NO_READING",
    "SIGNAL_FIELDS",
    "SIGNAL_ROUTES",
    "DetectorProgress",
    "InProgress",
    "OpenInterval",
    "ReadingValues",
    "RunningTotals",
    "Signals",
    "parse_value",
]

_BATTERY = "Vehicle.Powertrain.TractionBattery"
_CHARGING = f"{_BATTERY}.Charging"
# VSS path -> (field of Signals, type of its value). Units are VSS's: km/h, m, %, kWh, W, kW.
SIGNAL_FIELDS: Final[dict[str, tuple[str, type]]] = {
    "Vehicle.Speed": ("speed_kmh", float),
    "Vehicle.IsMoving": ("is_moving", bool),
    "Vehicle.TraveledDistance": ("odometer_m", float),
    "Vehicle.CurrentLocation.Latitude": ("lat", float),
    "Vehicle.CurrentLocation.Longitude": ("lon", float),
    f"{_BATTERY}.StateOfCharge.Current": ("soc_pct", float),
    f"{_BATTERY}.StateOfCharge.CurrentEnergy": ("energy_kwh", float),
    f"{_BATTERY}.CurrentPower": ("power_w", float),  # + = discharging
    f"{_BATTERY}.NetCapacity": ("capacity_kwh", float),
    f"{_CHARGING}.IsCharging": ("is_charging", bool),
    f"{_CHARGING}.ChargingPort.AnyPosition.IsChargingCableConnected": ("cable", bool),
    f"{_CHARGING}.AveragePower": ("charge_kw", float),
    "Vehicle.LowVoltageSystemState": ("lv_state", str),
}
# A changed value of one of these means the car is awake.
ACTIVITY_FIELDS: Final = frozenset(
    {"speed_kmh", "is_moving", "odometer_m", "is_charging", "cable", "charge_kw", "lv_state"}
)
# A changed value of one of these can change what the detector decides about a moment (the
# others are read only when a session starts or stops, or as activity).
DECISION_FIELDS: Final = frozenset(
    {"speed_kmh", "is_moving", "is_charging", "cable", "charge_kw", "lv_state", "lat", "lon"}
)
# What the detector does with a sample, found in one look-up per sample: path -> (field, type,
# whether a changed value is activity, whether it is the battery power, whether a changed value
# can change a decision).
SIGNAL_ROUTES: Final[dict[str, tuple[str, type, bool, bool, bool]]] = {
    path: (name, kind, name in ACTIVITY_FIELDS, name == "power_w", name in DECISION_FIELDS)
    for path, (name, kind) in SIGNAL_FIELDS.items()
}
# What the car is doing: forgotten when it goes offline (where it is and its battery are kept).
_DOING_FIELDS: Final = (*sorted(ACTIVITY_FIELDS), "power_w")

# A Reading's values in field order. The detector keeps the readings of the moment before the
# newest one as this tuple: it is taken at every moment and a tuple costs a tenth of a Reading.
_F: TypeAlias = float | None
ReadingValues: TypeAlias = tuple[_F, _F, _F, _F, _F, _F]
NO_READING: Final[ReadingValues] = (None, None, None, None, None, None)


def parse_value(value: object, kind: type) -> float | bool | str | None:
    """A sample's value as the detector reads it, or None if it is not of the signal's type."""
    if kind is bool:
        return value if isinstance(value, bool) else None
    if kind is str:
        return value.strip().upper() if isinstance(value, str) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class Signals:
    """The newest value of each signal the detector reads (None: not known)."""

    speed_kmh: float | None = None
    is_moving: bool | None = None
    odometer_m: float | None = None
    lat: float | None = None
    lon: float | None = None
    soc_pct: float | None = None
    energy_kwh: float | None = None
    power_w: float | None = None
    capacity_kwh: float | None = None
    is_charging: bool | None = None
    cable: bool | None = None
    charge_kw: float | None = None
    lv_state: str | None = None

    def moving(self, above_kmh: float) -> bool:
        speed_kmh = self.speed_kmh
        return (speed_kmh is not None and speed_kmh > above_kmh) or self.is_moving is True

    def charging(self) -> bool:
        if self.is_charging is True:
            return True
        return self.cable is True and self.charge_kw is not None and self.charge_kw > 0.0

    def reading(self) -> Reading:
        return Reading(*self.reading_values())

    def reading_values(self) -> ReadingValues:
        return (
            self.lat,
            self.lon,
            self.soc_pct,
            self.odometer_m,
            self.energy_kwh,
            self.capacity_kwh,
        )

    def forget_doing(self) -> None:
        for name in _DOING_FIELDS:
            setattr(self, name, None)


@dataclass(slots=True)
class RunningTotals:
    """The integrals of :class:`Totals` as they grow moment by moment (in place: no object per
    moment); a :class:`Mark` keeps a frozen copy."""

    battery_kwh: float = 0.0
    battery_unknown_s: float = 0.0
    distance_km: float = 0.0
    speed_unknown_s: float = 0.0
    charged_kwh: float = 0.0
    charge_unknown_s: float = 0.0

    def integrate(self, sig: Signals, dt_s: float) -> None:
        """Add ``dt_s`` seconds during which the signals held their values."""
        power_w = sig.power_w
        if power_w is None:
            self.battery_unknown_s += dt_s
        else:
            self.battery_kwh += power_w * dt_s / 3.6e6
        speed_kmh = sig.speed_kmh
        if speed_kmh is None and sig.is_moving is False:
            speed_kmh = 0.0
        if speed_kmh is None:
            self.speed_unknown_s += dt_s
        else:
            self.distance_km += speed_kmh * dt_s / 3600.0
        if sig.charging():
            charge_kw = sig.charge_kw
            if charge_kw is None:
                self.charge_unknown_s += dt_s
            else:
                self.charged_kwh += max(charge_kw, 0.0) * dt_s / 3600.0

    def frozen(self) -> Totals:
        return Totals(
            self.battery_kwh,
            self.battery_unknown_s,
            self.distance_km,
            self.speed_unknown_s,
            self.charged_kwh,
            self.charge_unknown_s,
        )


@dataclass(slots=True)
class InProgress:
    """A drive or charge in progress; ``stop`` is set while it is paused, maybe for good. Updated
    in place, at every moment: it never leaves the detector (its marks do, and they are frozen)."""

    start: Mark
    stop: Mark | None = None
    peak: float | None = None  # top speed (km/h) of a drive, top power (kW) of a charge


@dataclass(frozen=True, slots=True)
class OpenInterval:
    state: VehicleState
    start_us: int
    soc_pct: float | None


@dataclass(slots=True)
class DetectorProgress:
    """Everything the detector knows about one car between two samples."""

    signals: Signals = field(default_factory=Signals)
    prev: ReadingValues = NO_READING  # readings of the moment before the newest
    totals: RunningTotals = field(default_factory=RunningTotals)
    frame_us: int | None = None  # the newest moment seen
    frame_open: bool = False  # it has samples not yet decided about
    last_activity_us: int = 0
    interval: OpenInterval | None = None
    drive: InProgress | None = None
    charge: InProgress | None = None
    ignored_samples: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-safe data, laid out as ``dataclasses.asdict`` of the progress (the form stored
        since snapshot version 1), but built directly: asdict costs ten times as much."""
        interval = self.interval
        return {
            "signals": _attrs(self.signals, _SIGNAL_NAMES),
            "prev": dict(zip(_READING_NAMES, self.prev, strict=True)),
            "totals": _attrs(self.totals, _TOTALS_NAMES),
            "frame_us": self.frame_us,
            "frame_open": self.frame_open,
            "last_activity_us": self.last_activity_us,
            "interval": None
            if interval is None
            else {
                "state": interval.state.value,
                "start_us": interval.start_us,
                "soc_pct": interval.soc_pct,
            },
            "drive": _in_progress_json(self.drive),
            "charge": _in_progress_json(self.charge),
            "ignored_samples": self.ignored_samples,
        }

    def mark(self, t: int) -> Mark:
        """Moment ``t`` as a session's end: the readings and the totals now."""
        return Mark(t, self.signals.reading(), self.totals.frozen())

    def start_mark(self, t: int) -> Mark:
        """A session starts with the readings from just before it (the car stood there till
        then); a reading first known now stands in for one not known before."""
        now = self.signals.reading_values()
        merged = Reading(*(b if b is not None else n for b, n in zip(self.prev, now, strict=True)))
        return Mark(t, merged, self.totals.frozen())

    def with_position(self, start: Mark) -> Mark:
        """The first known position stands in for a start position not known then."""
        r, lat, lon = start.reading, self.signals.lat, self.signals.lon
        if r.lat is not None or lat is None or lon is None:
            return start
        return replace(start, reading=replace(r, lat=lat, lon=lon))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectorProgress:
        """Raises KeyError, TypeError or ValueError when ``data`` is not what to_json made."""
        interval = data["interval"]
        prev = Reading(**data["prev"])  # checks the names, as the stored form
        return cls(
            signals=Signals(**data["signals"]),
            prev=_values_of(prev),
            totals=RunningTotals(**data["totals"]),
            frame_us=None if data["frame_us"] is None else int(data["frame_us"]),
            frame_open=bool(data["frame_open"]),
            last_activity_us=int(data["last_activity_us"]),
            interval=None
            if interval is None
            else OpenInterval(
                VehicleState(interval["state"]), int(interval["start_us"]), interval["soc_pct"]
            ),
            drive=_in_progress(data["drive"]),
            charge=_in_progress(data["charge"]),
            ignored_samples=int(data["ignored_samples"]),
        )


# Field names in declaration order: the order of the keys asdict gave the stored JSON.
_SIGNAL_NAMES: Final = tuple(f.name for f in fields(Signals))
_READING_NAMES: Final = tuple(f.name for f in fields(Reading))
_TOTALS_NAMES: Final = tuple(f.name for f in fields(Totals))


def _values_of(r: Reading) -> ReadingValues:
    return (r.lat, r.lon, r.soc_pct, r.odometer_m, r.energy_kwh, r.capacity_kwh)


def _attrs(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _mark_json(mark: Mark) -> dict[str, Any]:
    return {
        "ts_us": mark.ts_us,
        "reading": _attrs(mark.reading, _READING_NAMES),
        "totals": _attrs(mark.totals, _TOTALS_NAMES),
    }


def _in_progress_json(progress: InProgress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    stop = progress.stop
    return {
        "start": _mark_json(progress.start),
        "stop": None if stop is None else _mark_json(stop),
        "peak": progress.peak,
    }


def _mark(data: dict[str, Any]) -> Mark:
    return Mark(int(data["ts_us"]), Reading(**data["reading"]), Totals(**data["totals"]))


def _in_progress(data: dict[str, Any] | None) -> InProgress | None:
    if data is None:
        return None
    stop = data["stop"]
    return InProgress(_mark(data["start"]), None if stop is None else _mark(stop), data["peak"])
