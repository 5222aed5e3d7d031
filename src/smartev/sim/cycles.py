"""Drive cycles: the ``DriveCycle`` speed trace, the built-in regulatory cycles (UDDS, HWFET, US06,
WLTC 3b) and the ``time_s,speed_kmh[,grade_pct]`` CSV format, read with line-numbered errors."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from smartev.sim.errors import InvalidCycleError

__all__ = [
    "BUILTIN_CYCLES",
    "DriveCycle",
    "builtin_cycle",
    "format_cycle_csv",
    "load_cycle",
    "load_cycle_csv",
    "parse_cycle_csv",
]

FloatArray = npt.NDArray[np.float64]

BUILTIN_CYCLES: tuple[str, ...] = ("udds", "hwfet", "us06", "wltc3b")
_BUILTIN_SOURCES = {
    "udds": "EPA UDDS, 40 CFR Part 86 App. I",
    "hwfet": "EPA HWFET, 40 CFR Part 600 App. I",
    "us06": "EPA US06, 40 CFR Part 86 App. I",
    "wltc3b": "WLTC class 3b, UN GTR No. 15 / UN R154 Annex 1",
}
_FASTSIM_NOTE = "numbers from the fastsim 2.1.5 wheel (see data/cycles/SOURCES.md)"

# Plausibility limits for traces read from files. They only catch wrong units or broken files:
# no road vehicle drives faster than 400 km/h, accelerates or brakes harder than 15 m/s²
# (about 1.5 g), or climbs a 40 % grade.
MAX_SPEED_KMH = 400.0
MAX_ACCEL_MPS2 = 15.0
MAX_GRADE_PCT = 40.0

_SPEED_COLUMNS = {"speed_kmh": 3.6, "speed_mps": 1.0}  # column name -> divisor giving m/s
_HEADER_HELP = "'time_s,speed_kmh[,grade_pct]' or 'time_s,speed_mps[,grade_pct]'"


def _frozen_array(values: object, what: str, name: str) -> FloatArray:
    try:
        array = np.array(values, dtype=np.float64)  # a copy: the caller's array stays writable
    except (TypeError, ValueError) as exc:
        raise InvalidCycleError(f"cycle {name!r}: {what} is not an array of numbers") from exc
    if array.ndim != 1:
        raise InvalidCycleError(f"cycle {name!r}: {what} must be one-dimensional")
    if not np.all(np.isfinite(array)):
        raise InvalidCycleError(f"cycle {name!r}: {what} contains NaN or infinity")
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare
class DriveCycle:
    """A speed trace over time. Arrays are float64 copies, read-only, all of one length (>= 2)."""

    name: str
    time_s: FloatArray  # starts at 0, strictly increasing
    speed_mps: FloatArray  # >= 0
    grade: FloatArray  # rise over run (0.01 = 1 %)
    source: str = ""  # where the trace came from

    def __post_init__(self) -> None:
        for field in ("time_s", "speed_mps", "grade"):
            object.__setattr__(self, field, _frozen_array(getattr(self, field), field, self.name))
        n = len(self.time_s)
        if n < 2 or len(self.speed_mps) != n or len(self.grade) != n:
            raise InvalidCycleError(
                f"cycle {self.name!r}: time_s, speed_mps and grade must have one equal length "
                f">= 2, got {n}, {len(self.speed_mps)}, {len(self.grade)}"
            )
        if self.time_s[0] != 0.0:
            raise InvalidCycleError(f"cycle {self.name!r}: time_s must start at 0")
        if np.any(np.diff(self.time_s) <= 0.0):
            raise InvalidCycleError(f"cycle {self.name!r}: time_s must increase strictly")
        if np.any(self.speed_mps < 0.0):
            raise InvalidCycleError(f"cycle {self.name!r}: speed_mps must be >= 0")

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1])

    @property
    def distance_m(self) -> float:
        """Trapezoidal integral of speed over time."""
        dt = np.diff(self.time_s)
        return float(np.sum(0.5 * (self.speed_mps[1:] + self.speed_mps[:-1]) * dt))

    @property
    def max_speed_mps(self) -> float:
        return float(np.max(self.speed_mps))

    def resampled(self, dt_s: float = 1.0) -> DriveCycle:
        """The trace linearly interpolated onto ``0, dt_s, 2·dt_s, ...``.

        The grid stops at the last multiple of ``dt_s`` not after the end: it never invents
        speeds past the recorded trace (cycles end at standstill, so nothing is lost there).
        """
        if not (math.isfinite(dt_s) and 0.0 < dt_s <= self.duration_s):
            raise InvalidCycleError(
                f"cycle {self.name!r}: dt_s {dt_s} must be > 0 and <= the duration "
                f"{self.duration_s} s"
            )
        # The small slack keeps the end sample when the duration is a multiple of dt_s up to
        # rounding (1369.0 / 0.1 is 13689.999...).
        steps = math.floor(self.duration_s / dt_s * (1 + 1e-12) + 1e-9)
        time = np.arange(steps + 1, dtype=np.float64) * dt_s
        time[-1] = min(time[-1], self.duration_s)
        return DriveCycle(
            name=self.name,
            time_s=time,
            speed_mps=np.interp(time, self.time_s, self.speed_mps),
            grade=np.interp(time, self.time_s, self.grade),
            source=self.source,
        )

    def is_uniform(self, dt_s: float = 1.0) -> bool:
        """True when sample i is at i·dt_s (to 1e-9 of a step) for every i."""
        expected = np.arange(len(self.time_s), dtype=np.float64) * dt_s
        return bool(np.all(np.abs(self.time_s - expected) <= 1e-9 * max(dt_s, 1.0)))


def builtin_cycle(name: str) -> DriveCycle:
    """A built-in cycle by name (case-insensitive); the same read-only object on every call."""
    key = name.strip().lower()
    if key not in BUILTIN_CYCLES:
        raise InvalidCycleError(
            f"unknown drive cycle {name!r}: the built-in cycles are {', '.join(BUILTIN_CYCLES)}"
        )
    return _load_builtin(key)


@functools.cache
def _load_builtin(key: str) -> DriveCycle:
    resource = resources.files("smartev.sim").joinpath("data", "cycles", f"{key}.csv")
    text = resource.read_text(encoding="utf-8")
    source = f"{_BUILTIN_SOURCES[key]}; {_FASTSIM_NOTE}"
    return _parse(text, name=key, where=f"built-in cycle {key}.csv", source=source)


def load_cycle(name_or_path: str | Path) -> DriveCycle:
    """A built-in cycle when given one of ``BUILTIN_CYCLES`` as a string, otherwise a CSV file.

    A ``Path`` is always read as a file, so a file called ``udds`` can still be loaded.
    """
    if isinstance(name_or_path, str) and name_or_path.strip().lower() in BUILTIN_CYCLES:
        return builtin_cycle(name_or_path)
    path = Path(name_or_path)
    if isinstance(name_or_path, str) and not path.exists() and path.suffix.lower() != ".csv":
        raise InvalidCycleError(
            f"{name_or_path!r} is neither a built-in cycle ({', '.join(BUILTIN_CYCLES)}) "
            "nor an existing CSV file"
        )
    return load_cycle_csv(path)


def load_cycle_csv(path: Path | str, *, name: str | None = None) -> DriveCycle:
    """Read a cycle CSV file; the cycle is named after the file's stem unless ``name`` is given."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidCycleError(f"{path}: cannot read the drive cycle: {exc}") from exc
    return _parse(text, name=name or path.stem, where=str(path), source=f"file {path}")


def parse_cycle_csv(text: str, *, name: str = "cycle") -> DriveCycle:
    """Parse cycle CSV text; error messages name ``name`` and the 1-based line of ``text``."""
    return _parse(text, name=name, where=name, source="")


def _parse(text: str, *, name: str, where: str, source: str) -> DriveCycle:
    header: list[str] | None = None
    header_line = 0
    lines: list[int] = []  # the original line number of each data row
    rows: list[tuple[float, ...]] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")]
        if header is None:
            header, header_line = _check_header(fields, f"{where} line {number}"), number
            continue
        rows.append(_parse_row(fields, header, f"{where} line {number}"))
        lines.append(number)
    if header is None:
        raise InvalidCycleError(
            f"{where}: no header and no data (expected a header {_HEADER_HELP} "
            "and at least 2 data lines)"
        )
    if len(rows) < 2:
        raise InvalidCycleError(
            f"{where} line {lines[0] if lines else header_line}: only {len(rows)} data line(s) "
            f"after the header on line {header_line}; a drive cycle needs at least 2"
        )
    per_mps = _SPEED_COLUMNS[header[1]]
    _check_trace(rows, lines, where, header[1], per_mps)
    data = np.array(rows, dtype=np.float64)
    grade = data[:, 2] / 100.0 if len(header) == 3 else np.zeros(len(rows))
    return DriveCycle(
        name=name, time_s=data[:, 0], speed_mps=data[:, 1] / per_mps, grade=grade, source=source
    )


def _shown(text: str, limit: int = 40) -> str:
    """Quote text for a message, cut short: a binary file must not become a megabyte message."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _check_header(fields: list[str], at: str) -> list[str]:
    shown = _shown(",".join(fields))
    if len(fields) in (2, 3) and all(_is_number(field) for field in fields):
        raise InvalidCycleError(
            f"{at}: missing header before data {shown}; expected {_HEADER_HELP}"
        )
    if (
        len(fields) not in (2, 3)
        or fields[0] != "time_s"
        or fields[1] not in _SPEED_COLUMNS
        or (len(fields) == 3 and fields[2] != "grade_pct")
    ):
        raise InvalidCycleError(f"{at}: header {shown} is not {_HEADER_HELP}")
    return fields


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _parse_row(fields: list[str], header: list[str], at: str) -> tuple[float, ...]:
    if len(fields) != len(header):
        raise InvalidCycleError(
            f"{at}: {len(fields)} field(s) but the header has {len(header)} ({','.join(header)})"
        )
    values = []
    for column, field in zip(header, fields, strict=True):
        try:
            value = float(field)
        except ValueError:
            raise InvalidCycleError(f"{at}: {column} {_shown(field)} is not a number") from None
        if not math.isfinite(value):
            raise InvalidCycleError(
                f"{at}: {column} is {_shown(field)}; it must be a finite number"
            )
        values.append(value)
    return tuple(values)


def _check_trace(
    rows: Sequence[tuple[float, ...]], lines: Sequence[int], where: str, column: str, per_mps: float
) -> None:
    """Physical checks over the rows; each message names the line(s) at fault."""
    unit = "km/h" if column == "speed_kmh" else "m/s"
    max_speed = MAX_SPEED_KMH if column == "speed_kmh" else MAX_SPEED_KMH / 3.6
    if rows[0][0] != 0.0:
        raise InvalidCycleError(
            f"{where} line {lines[0]}: the first time is {rows[0][0]} s; a cycle starts at 0 s"
        )
    for i, (row, number) in enumerate(zip(rows, lines, strict=True)):
        at = f"{where} line {number}"
        time, speed = row[0], row[1]
        if speed < 0.0:
            raise InvalidCycleError(f"{at}: speed {speed} {unit} is negative (must be >= 0)")
        if speed > max_speed:
            raise InvalidCycleError(
                f"{at}: speed {speed} {unit} is above {max_speed:g} {unit}, faster than any road "
                f"vehicle (is the column {column!r} in the right unit?)"
            )
        if len(row) == 3 and abs(row[2]) > MAX_GRADE_PCT:
            raise InvalidCycleError(
                f"{at}: grade {row[2]} % is outside -{MAX_GRADE_PCT:g}..{MAX_GRADE_PCT:g} % "
                "(grade_pct is in percent: 5 means 5 %)"
            )
        if i == 0:
            continue
        prev_time, prev_speed = rows[i - 1][0], rows[i - 1][1]
        if time <= prev_time:
            raise InvalidCycleError(
                f"{at}: time {time} s is not after the previous {prev_time} s "
                "(time must increase strictly)"
            )
        accel = (speed - prev_speed) / per_mps / (time - prev_time)
        if abs(accel) > MAX_ACCEL_MPS2:
            raise InvalidCycleError(
                f"{where} lines {lines[i - 1]} and {number}: speed goes from {prev_speed} to "
                f"{speed} {unit} in {time - prev_time:g} s, an acceleration of {accel:.3g} m/s²; "
                f"it must be within ±{MAX_ACCEL_MPS2:g} m/s² (no road car does more)"
            )


def format_cycle_csv(cycle: DriveCycle, *, speed_unit: Literal["kmh", "mps"] = "kmh") -> str:
    """The cycle as CSV text that ``parse_cycle_csv`` reads back.

    ``speed_unit="mps"`` reproduces time and speed bit for bit; km/h may differ in the last bit
    of a float. A ``grade_pct`` column is written only when some grade is not zero.
    """
    with_grade = bool(np.any(cycle.grade != 0.0))
    speeds = cycle.speed_mps * 3.6 if speed_unit == "kmh" else cycle.speed_mps
    header = f"time_s,speed_{speed_unit}" + (",grade_pct" if with_grade else "")
    title = f"{cycle.name}: {cycle.source}" if cycle.source else cycle.name
    lines = ["# " + title.replace("\n", " "), header]
    for i in range(len(cycle.time_s)):
        fields = [repr(float(cycle.time_s[i])), repr(float(speeds[i]))]
        if with_grade:
            fields.append(repr(float(cycle.grade[i] * 100.0)))
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"
