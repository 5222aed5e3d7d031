"""What the session detector reports — the car's states, its drives and charging sessions, and
the events that announce them — and how a session's two ends (:class:`Mark`) make its record.
The state machine that finds the ends is :mod:`smartev.cloud.sessions`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, TypeAlias

__all__ = [
    "CAPACITY_MIN_SOC_RISE_PCT",
    "ChargingEnded",
    "ChargingSession",
    "ChargingStarted",
    "Drive",
    "DriveDiscarded",
    "DriveEnded",
    "DriveStarted",
    "Mark",
    "Reading",
    "SessionEvent",
    "StateClosed",
    "StateInterval",
    "StateOpened",
    "Totals",
    "VehicleState",
    "charging_session_from_marks",
    "drive_from_marks",
]

DistanceSource: TypeAlias = Literal["odometer", "speed"]
# stored_energy: StateOfCharge.CurrentEnergy; soc: SoC × NetCapacity; power: ∫ CurrentPower dt.
DriveEnergySource: TypeAlias = Literal["stored_energy", "soc", "power"]
# power: ∫ Charging.AveragePower dt; soc: SoC rise × NetCapacity (no power was reported).
ChargeEnergySource: TypeAlias = Literal["power", "soc"]
ChargeKind: TypeAlias = Literal["AC", "DC"]


class VehicleState(StrEnum):
    """What the car is doing; at any time it is in exactly one of these."""

    DRIVING = "driving"
    PARKED = "parked"
    CHARGING = "charging"
    ASLEEP = "asleep"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class StateInterval:
    """A closed stretch of one state. ``end_us`` may equal ``start_us`` when the state was seen
    at one instant only (one moment of telemetry, then silence)."""

    state: VehicleState
    start_us: int
    end_us: int
    soc_start_pct: float | None
    soc_end_pct: float | None

    @property
    def duration_s(self) -> float:
        return (self.end_us - self.start_us) / 1e6


@dataclass(frozen=True, slots=True)
class Drive:
    """One drive, from the moment the car moved to the moment it stopped for good."""

    start_us: int
    end_us: int
    start_lat: float | None
    start_lon: float | None
    end_lat: float | None
    end_lon: float | None
    distance_km: float | None
    distance_source: DistanceSource | None
    duration_s: float
    energy_used_kwh: float | None  # out of the battery; negative if it came back with more
    energy_source: DriveEnergySource | None
    efficiency_wh_per_km: float | None
    speed_avg_kmh: float | None  # distance over duration, stops included
    speed_max_kmh: float | None
    soc_start_pct: float | None
    soc_end_pct: float | None
    odometer_start_km: float | None
    odometer_end_km: float | None


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """One charge, from the moment power flowed to the moment it stopped for good."""

    start_us: int
    end_us: int
    lat: float | None
    lon: float | None
    duration_s: float
    energy_added_kwh: float | None  # into the battery
    energy_source: ChargeEnergySource | None
    energy_from_soc_kwh: float | None  # SoC rise × NetCapacity, to compare with the above
    kind: ChargeKind | None  # None when the car reported no charging power
    power_max_kw: float | None
    soc_start_pct: float | None
    soc_end_pct: float | None
    capacity_estimate_kwh: float | None  # energy_added / SoC rise, when it rose >= 10 points


@dataclass(frozen=True, slots=True)
class StateOpened:
    state: VehicleState
    start_us: int
    soc_pct: float | None


@dataclass(frozen=True, slots=True)
class StateClosed:
    interval: StateInterval


@dataclass(frozen=True, slots=True)
class DriveStarted:
    start_us: int
    lat: float | None
    lon: float | None
    soc_pct: float | None
    odometer_km: float | None


@dataclass(frozen=True, slots=True)
class DriveEnded:
    drive: Drive


@dataclass(frozen=True, slots=True)
class DriveDiscarded:
    """The car moved, but too little to count as a drive (it was parking, or a sensor glitched)."""

    start_us: int
    end_us: int
    distance_km: float | None
    duration_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class ChargingStarted:
    start_us: int
    lat: float | None
    lon: float | None
    soc_pct: float | None


@dataclass(frozen=True, slots=True)
class ChargingEnded:
    session: ChargingSession


SessionEvent: TypeAlias = (
    StateOpened
    | StateClosed
    | DriveStarted
    | DriveEnded
    | DriveDiscarded
    | ChargingStarted
    | ChargingEnded
)


# --- from two ends to a record ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """Where the car is and what its battery holds, at one moment."""

    lat: float | None = None
    lon: float | None = None
    soc_pct: float | None = None
    odometer_m: float | None = None
    energy_kwh: float | None = None
    capacity_kwh: float | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    """Integrals since the detector began; a session takes the difference between its ends.
    The *_unknown_s count time when the signal was not known, which voids that integral."""

    battery_kwh: float = 0.0  # ∫ CurrentPower
    battery_unknown_s: float = 0.0
    distance_km: float = 0.0  # ∫ Speed
    speed_unknown_s: float = 0.0
    charged_kwh: float = 0.0  # ∫ AveragePower while charging
    charge_unknown_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Mark:
    """A session's end: when, the readings then, and the integrals up to then."""

    ts_us: int
    reading: Reading
    totals: Totals


def drive_from_marks(
    start: Mark,
    end: Mark,
    speed_max_kmh: float | None,
    *,
    min_distance_km: float,
    min_duration_s: float,
) -> DriveEnded | DriveDiscarded:
    """The drive between two marks, or why it is discarded (shorter than both minimums)."""
    a, b = start.reading, end.reading
    duration_s = (end.ts_us - start.ts_us) / 1e6
    distance_km: float | None = None
    distance_source: DistanceSource | None = None
    if a.odometer_m is not None and b.odometer_m is not None and b.odometer_m >= a.odometer_m:
        distance_km, distance_source = (b.odometer_m - a.odometer_m) / 1000.0, "odometer"
    elif end.totals.speed_unknown_s == start.totals.speed_unknown_s:
        distance_km, distance_source = end.totals.distance_km - start.totals.distance_km, "speed"
    if (distance_km or 0.0) < min_distance_km and duration_s < min_duration_s:
        reason = f"shorter than {min_distance_km:g} km and {min_duration_s:g} s"
        return DriveDiscarded(start.ts_us, end.ts_us, distance_km, duration_s, reason)
    energy_kwh: float | None = None
    energy_source: DriveEnergySource | None = None
    capacity_kwh = b.capacity_kwh if b.capacity_kwh is not None else a.capacity_kwh
    if a.energy_kwh is not None and b.energy_kwh is not None:
        energy_kwh, energy_source = a.energy_kwh - b.energy_kwh, "stored_energy"
    elif a.soc_pct is not None and b.soc_pct is not None and capacity_kwh is not None:
        energy_kwh, energy_source = (a.soc_pct - b.soc_pct) / 100.0 * capacity_kwh, "soc"
    elif end.totals.battery_unknown_s == start.totals.battery_unknown_s:
        energy_kwh = end.totals.battery_kwh - start.totals.battery_kwh
        energy_source = "power"
    has_distance = distance_km is not None and distance_km > 0.0
    return DriveEnded(
        Drive(
            start_us=start.ts_us,
            end_us=end.ts_us,
            start_lat=a.lat,
            start_lon=a.lon,
            end_lat=b.lat,
            end_lon=b.lon,
            distance_km=distance_km,
            distance_source=distance_source,
            duration_s=duration_s,
            energy_used_kwh=energy_kwh,
            energy_source=energy_source,
            efficiency_wh_per_km=energy_kwh * 1000.0 / distance_km
            if energy_kwh is not None and distance_km is not None and has_distance
            else None,
            speed_avg_kmh=distance_km / (duration_s / 3600.0)
            if distance_km is not None and duration_s > 0
            else None,
            speed_max_kmh=speed_max_kmh,
            soc_start_pct=a.soc_pct,
            soc_end_pct=b.soc_pct,
            odometer_start_km=a.odometer_m / 1000.0 if a.odometer_m is not None else None,
            odometer_end_km=b.odometer_m / 1000.0 if b.odometer_m is not None else None,
        )
    )


CAPACITY_MIN_SOC_RISE_PCT: Final = 10.0  # a smaller rise makes the SoC's rounding too large a share


def charging_session_from_marks(
    start: Mark, end: Mark, power_max_kw: float | None, *, dc_above_kw: float
) -> ChargingSession:
    """The charge between two marks: energy from ∫ power when the car reported it throughout."""
    a, b = start.reading, end.reading
    capacity_kwh = b.capacity_kwh if b.capacity_kwh is not None else a.capacity_kwh
    soc_rise_pct = (
        b.soc_pct - a.soc_pct if a.soc_pct is not None and b.soc_pct is not None else None
    )
    from_soc = (
        soc_rise_pct / 100.0 * capacity_kwh
        if soc_rise_pct is not None and capacity_kwh is not None
        else None
    )
    # A car that never reported a charging power above 0 did not report it at all.
    peak_kw = power_max_kw if power_max_kw is not None and power_max_kw > 0.0 else None
    energy_kwh = from_soc
    source: ChargeEnergySource | None = "soc" if from_soc is not None else None
    estimate: float | None = None
    if peak_kw is not None and end.totals.charge_unknown_s == start.totals.charge_unknown_s:
        energy_kwh, source = end.totals.charged_kwh - start.totals.charged_kwh, "power"
        if soc_rise_pct is not None and soc_rise_pct >= CAPACITY_MIN_SOC_RISE_PCT:
            estimate = energy_kwh / soc_rise_pct * 100.0
    kind: ChargeKind | None = None
    if peak_kw is not None:
        kind = "DC" if peak_kw > dc_above_kw else "AC"
    return ChargingSession(
        start_us=start.ts_us,
        end_us=end.ts_us,
        lat=a.lat,
        lon=a.lon,
        duration_s=(end.ts_us - start.ts_us) / 1e6,
        energy_added_kwh=energy_kwh,
        energy_source=source,
        energy_from_soc_kwh=from_soc,
        kind=kind,
        power_max_kw=peak_kw,
        soc_start_pct=a.soc_pct,
        soc_end_pct=b.soc_pct,
        capacity_estimate_kwh=estimate,
    )
