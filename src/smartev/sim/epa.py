"""EPA dynamometer test results: reading the calibration CSV and turning its rows into specs.

The columns are those of EPA's test car list as kept in ``epa2022_bev_calibration.csv``: make,
model, config, etw_lb, rated_hp, drive (EPA's drive-system code), the target coast-down
coefficients a/b/c, and the measured wall energy over UDDS and HWFET in Wh/mi.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from smartev.core import units
from smartev.sim.errors import InvalidSpecError
from smartev.sim.spec import Drive, VehicleSpec, parse_vehicle

REQUIRED_COLUMNS = (
    "make",
    "model",
    "config",
    "etw_lb",
    "a_lbf",
    "b_lbf_per_mph",
    "c_lbf_per_mph2",
    "rated_hp",
    "drive",
    "udds_wall_wh_per_mi",
    "hwfet_wall_wh_per_mi",
)
# EPA drive-system codes: front, rear, all-wheel, 4-wheel, part-time 4-wheel.
DRIVE_CODES: dict[str, Drive] = {"F": "fwd", "R": "rwd", "A": "awd", "4": "awd", "P": "awd"}
# The CSV says nothing of the battery; its size barely moves dynamometer energy (through the
# pack resistance), so every car gets the same typical pack.
DEFAULT_BATTERY_KWH = 75.0
SHIPPED_CSV = "epa2022_bev_calibration.csv"


@dataclass(frozen=True, slots=True)
class EpaTestCar:
    make: str
    model: str
    config: str
    spec: VehicleSpec
    measured_wh_per_mi: dict[str, float]  # cycle name ("udds", "hwfet") → wall Wh/mi


def _number(row: dict[str, str], column: str, where: str) -> float:
    raw = (row.get(column) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise InvalidSpecError(f"{where}: column {column} is {raw!r}, not a number") from None
    if not math.isfinite(value):
        raise InvalidSpecError(f"{where}: column {column} is {raw!r}, not a finite number")
    return value


def parse_epa_csv(text: str, *, source: str = "EPA CSV") -> list[EpaTestCar]:
    """Parse and check an EPA test-car CSV; errors name the line and the column."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:  # line_num is the row's last physical line (quoted newlines count)
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise InvalidSpecError(f"{source} line {reader.line_num}: not valid CSV ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidSpecError(f"{source}: missing column(s) {', '.join(missing)}")
    cars: list[EpaTestCar] = []
    for line, row in rows:
        where = f"{source} line {line}"
        if None in row:
            raise InvalidSpecError(f"{where}: more fields than the header has columns")
        code = (row["drive"] or "").strip().upper()
        if code not in DRIVE_CODES:
            raise InvalidSpecError(
                f"{where}: drive {row['drive']!r} is not an EPA drive code (F, R, A, 4 or P)"
            )
        measured = {
            cycle: _number(row, f"{cycle}_wall_wh_per_mi", where) for cycle in ("udds", "hwfet")
        }
        for cycle, value in measured.items():
            if not 50 <= value <= 1000:
                raise InvalidSpecError(
                    f"{where}: {cycle}_wall_wh_per_mi {value} is not a plausible result "
                    "(50..1000 Wh/mi)"
                )
        name = f"{row['make']} {row['model']}".strip()
        spec = parse_vehicle(
            {
                "name": name,
                "make": row["make"],
                "model": row["model"],
                "source": where,
                "epa_coastdown": {
                    "a_lbf": _number(row, "a_lbf", where),
                    "b_lbf_per_mph": _number(row, "b_lbf_per_mph", where),
                    "c_lbf_per_mph2": _number(row, "c_lbf_per_mph2", where),
                },
                "etw_lb": _number(row, "etw_lb", where),
                "battery_kwh": DEFAULT_BATTERY_KWH,
                "chemistry": "nmc",
                "motor_kw": units.hp_to_kw(_number(row, "rated_hp", where)),
                "drive": DRIVE_CODES[code],
            },
            source=where,
        )
        cars.append(EpaTestCar(row["make"], row["model"], row["config"].strip(), spec, measured))
    if not cars:
        raise InvalidSpecError(f"{source}: no test cars in the file")
    return cars


def load_epa_csv(path: Path | str | None = None) -> list[EpaTestCar]:
    """Read an EPA test-car CSV; without a path, the calibration set shipped with smartev."""
    if path is None:
        text = (resources.files("smartev.sim") / "data" / SHIPPED_CSV).read_text(encoding="utf-8")
        return parse_epa_csv(text, source=SHIPPED_CSV)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSpecError(f"cannot read EPA CSV {path}: {exc}") from exc
    return parse_epa_csv(text, source=str(path))
