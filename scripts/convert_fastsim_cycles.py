"""One-off conversion of four regulatory drive cycles from the fastsim 2.x wheel into smartev's
``time_s,speed_kmh`` CSV format (``src/smartev/sim/data/cycles/``).

    pip download --no-deps "fastsim<3" -d /tmp/fs
    python scripts/convert_fastsim_cycles.py /tmp/fs/fastsim-2.1.5-*.whl

Kept in the repository so the conversion can be repeated and checked; the package never imports
it. Only numbers are taken from the wheel (its ``resources/cycles/*.csv``), no code. Speeds are
converted from m/s to km/h in decimal arithmetic (m/s × 3.6 is exact in decimal), so every value
written is exactly the source value times 3.6: nothing is rounded.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import re
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

# smartev name -> (file in the wheel, what the trace is); SOURCES.md says the same in prose.
CYCLES: dict[str, tuple[str, str]] = {
    "udds": ("udds.csv", "EPA Urban Dynamometer Driving Schedule (UDDS), 40 CFR Part 86 App. I"),
    "hwfet": (
        "hwfet.csv",
        "EPA Highway Fuel Economy Test schedule (HWFET), 40 CFR Part 600 App. I",
    ),
    "us06": ("us06.csv", "EPA US06 Supplemental FTP schedule, 40 CFR Part 86 App. I"),
    "wltc3b": ("wltc_3b.csv", "WLTC class 3b, UN GTR No. 15 / UN Regulation No. 154, Annex 1"),
}
RESOURCE_DIR = "fastsim/resources/cycles/"
OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "smartev" / "sim" / "data" / "cycles"


def decimal_text(value: Decimal) -> str:
    """Plain decimal notation without exponent or trailing zeros ("3.2187402216", "0")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def convert(source_csv: str, *, title: str, origin: str) -> tuple[str, float, float]:
    """Return (smartev CSV text, duration s, trapezoidal distance m) for one fastsim cycle CSV."""
    rows = list(csv.DictReader(io.StringIO(source_csv)))
    times = [Decimal(row["cycSecs"]) for row in rows]
    speeds_mps = [Decimal(row["cycMps"]) for row in rows]
    grades = [Decimal(row.get("cycGrade") or "0") for row in rows]
    if times[0] != 0 or any(b <= a for a, b in itertools.pairwise(times)):
        raise SystemExit(f"{origin}: time does not start at 0 and increase strictly")
    if any(v < 0 for v in speeds_mps):
        raise SystemExit(f"{origin}: negative speed")
    with_grade = any(g != 0 for g in grades)

    out = io.StringIO()
    out.write(f"# {title}\n# numbers from {origin}; see SOURCES.md\n")
    out.write("time_s,speed_kmh,grade_pct\n" if with_grade else "time_s,speed_kmh\n")
    for t, v, g in zip(times, speeds_mps, grades, strict=True):
        fields = [decimal_text(t), decimal_text(v * Decimal("3.6"))]
        if with_grade:
            fields.append(decimal_text(g * 100))
        out.write(",".join(fields) + "\n")

    distance_m = sum(
        float(t1 - t0) * float(v0 + v1) / 2.0
        for (t0, v0), (t1, v1) in itertools.pairwise(zip(times, speeds_mps, strict=True))
    )
    return out.getvalue(), float(times[-1]), distance_m


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="a fastsim<3 wheel (.whl)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"default: {OUT_DIR}")
    args = parser.parse_args()

    match = re.match(r"fastsim-([^-]+)-", args.wheel.name)
    version = match.group(1) if match else "?"
    digest = hashlib.sha256(args.wheel.read_bytes()).hexdigest()
    print(f"fastsim {version} wheel {args.wheel.name}\nsha256 {digest}")
    args.out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.wheel) as wheel:
        for name, (file_name, title) in CYCLES.items():
            member = RESOURCE_DIR + file_name
            # utf-8-sig: wltc_3b.csv starts with a byte-order mark.
            source = wheel.read(member).decode("utf-8-sig")
            origin = f"the fastsim {version} wheel, {member}"
            text, duration_s, distance_m = convert(source, title=title, origin=origin)
            (args.out / f"{name}.csv").write_text(text, encoding="utf-8")
            print(
                f"{name:7s} <- {member}: {duration_s:.0f} s, {distance_m / 1000:.4f} km "
                f"({distance_m / 1609.344:.3f} mi)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
