"""NREL FASTSim 3.1.0 on UDDS, timed as an external anchor for our simulator's benchmark.

    python bench/fastsim_anchor.py [--repeats N] [--vehicle RESOURCE]

FASTSim is *not* a dependency of smartev. ``ensure_fastsim_env`` installs it, once, into its own
virtual environment (``bench/.fastsim-venv/``, to be git-ignored) with that environment's pip, and
``time_fastsim_udds`` runs it there in a subprocess (``python -I -c <script>``), so this module
imports nothing outside the standard library and runs under any Python >= 3.11.

What is timed, per repeat, after one untimed warm-up: ``fastsim.SimDrive(veh, cyc)`` followed by
``SimDrive.run()`` (``walk()`` before 3.1) over the whole bundled UDDS cycle (1370 samples at 1 Hz),
with the bundled BEV ``2022_Renault_Zoe_ZE50_R135.yaml`` (no cabin/HVAC/battery thermal model)
and FASTSim's default settings (history saved every step). Loading the vehicle and cycle files
is done once, outside the timed region, and reported on its own. The headline number
``fastsim_udds_ms`` is the *minimum* (best of N) over the repeats; median and max are reported
too, as are the construct-only and run-only medians. The dev VM is bimodal: whole invocations
run ~1.7x slower at times (best of 20: 33-37 ms, or 55-62 ms), so time our own simulator the
same way (best of N) right next to this call and take the ratio of the two.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

FASTSIM_VERSION = "3.1.0"
DEFAULT_VEHICLE = "2022_Renault_Zoe_ZE50_R135.yaml"
PIP_TIMEOUT_S = 1200
RUN_TIMEOUT_S = 600

# Runs inside the FASTSim venv as `python -I -c _WORKER <repeats> <vehicle>`; prints one JSON line.
_WORKER = r"""
import json, statistics, sys, time
from importlib.metadata import version

import fastsim as fs

repeats, wanted = int(sys.argv[1]), sys.argv[2]

names = [str(n) for n in fs.Vehicle.list_resources()]
if wanted not in names:  # another 3.x may ship other files: take a BEV, thermal-free if any
    bevs = [n for n in names if fs.Vehicle.from_resource(n).veh_type() == "BEV"]
    if not bevs:
        sys.exit(f"no BEV among FASTSim's bundled vehicles: {names}")
    wanted = sorted(bevs, key=lambda n: ("thrml" in n.lower(), n))[0]

t0 = time.perf_counter()
veh = fs.Vehicle.from_resource(wanted)
cyc = fs.Cycle.from_resource("udds.csv")
load_ms = (time.perf_counter() - t0) * 1e3

def simulate():
    sd = fs.SimDrive(veh, cyc)
    (sd.run if hasattr(sd, "run") else sd.walk)()
    return sd

def energy(sd):
    d = sd.to_dict()
    v = d["veh"]
    res = v["pt_type"]["BEV"]["res"]
    miles = v["state"]["dist_meters"] / 1609.344
    chem_kwh = res["state"]["energy_out_chemical_joules"] / 3.6e6
    elec_kwh = res["state"]["energy_out_electrical_joules"] / 3.6e6
    soc = res.get("history", {}).get("soc") or [float("nan")]
    return {
        "vehicle": v["name"],
        "cycle_s": float(cyc.len() - 1),
        "dist_mi": miles,
        "res_chemical_kwh": chem_kwh,
        "res_electrical_kwh": elec_kwh,
        "res_chemical_wh_per_mi": chem_kwh * 1e3 / miles,
        "res_electrical_wh_per_mi": elec_kwh * 1e3 / miles,
        "tractive_kwh": v["state"]["energy_tractive_joules"] / 3.6e6,
        "soc_start": soc[0],
        "soc_end": res["state"]["soc"],
        "cyc_met": bool(v["state"]["cyc_met_overall"]),
    }

warm = energy(simulate())  # warm-up, untimed
total, construct, run = [], [], []
for _ in range(repeats):
    t0 = time.perf_counter()
    sd = fs.SimDrive(veh, cyc)
    t1 = time.perf_counter()
    (sd.run if hasattr(sd, "run") else sd.walk)()
    t2 = time.perf_counter()
    total.append((t2 - t0) * 1e3)
    construct.append((t1 - t0) * 1e3)
    run.append((t2 - t1) * 1e3)
last = energy(sd)
if abs(last["res_chemical_kwh"] - warm["res_chemical_kwh"]) > 1e-9:
    sys.exit(f"repeat runs disagree: {warm} vs {last}")

med = statistics.median
print(json.dumps({
    "fastsim_udds_ms": min(total),
    "fastsim_udds_stat": f"min of {repeats} x (SimDrive(veh, cyc) + run()), after 1 warm-up",
    "fastsim_udds_ms_median": med(total),
    "fastsim_udds_ms_max": max(total),
    "fastsim_construct_ms_median": med(construct),
    "fastsim_run_ms_median": med(run),
    "fastsim_load_files_ms": load_ms,
    "repeats": repeats,
    "vehicle_resource": wanted,
    "fastsim_version": version("fastsim"),
    "python": sys.version.split()[0],
    **last,
}))
"""


def _venv_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _installed_fastsim(python: Path) -> str | None:
    """The fastsim version installed for ``python`` (read from metadata, no import), or None."""
    if not python.exists():
        return None
    code = "from importlib.metadata import version; print(version('fastsim'))"
    try:
        out = subprocess.run(
            [str(python), "-I", "-c", code], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_fastsim_env(env_dir: Path = Path(__file__).parent / ".fastsim-venv") -> Path | None:
    """Create (once) a venv at env_dir with `pip install fastsim==3.1.0`; return its python, or
    None with a printed reason (on stderr) if it cannot be installed here."""
    python = _venv_python(env_dir)
    if _installed_fastsim(python) == FASTSIM_VERSION:
        return python
    try:
        if not python.exists():
            print(f"fastsim_anchor: creating venv {env_dir}", file=sys.stderr)
            venv.EnvBuilder(with_pip=True, clear=True, symlinks=os.name != "nt").create(env_dir)
        print(f"fastsim_anchor: pip install fastsim=={FASTSIM_VERSION}", file=sys.stderr)
        cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
        out = subprocess.run(
            [*cmd, f"fastsim=={FASTSIM_VERSION}"],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"fastsim_anchor: cannot set up {env_dir}: {exc!r}", file=sys.stderr)
        return None
    if out.returncode != 0:
        print(
            f"fastsim_anchor: fastsim=={FASTSIM_VERSION} is not installable here "
            f"(pip exit {out.returncode}):\n{_tail(out.stderr or out.stdout)}",
            file=sys.stderr,
        )
        return None
    got = _installed_fastsim(python)
    if got != FASTSIM_VERSION:
        print(f"fastsim_anchor: pip succeeded but fastsim is {got!r}", file=sys.stderr)
        return None
    return python


def time_fastsim_udds(
    python: Path, *, repeats: int = 20, vehicle: str = DEFAULT_VEHICLE
) -> dict[str, float | str]:
    """Run, in a subprocess with that python, FASTSim on UDDS with a stock BEV vehicle.

    Returns ``fastsim_udds_ms`` (best-of-``repeats`` ms of ``SimDrive(veh, cyc)`` + ``run()``
    after one warm-up; ``fastsim_udds_stat`` says so), its median/max, construct-only and
    run-only medians, ``vehicle``, ``fastsim_version``, and the energy FASTSim computed
    (battery chemical and electrical kWh and Wh/mi, distance, SOC) for sanity. Raises
    RuntimeError if the worker fails.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    try:
        out = subprocess.run(
            [str(python), "-I", "-c", _WORKER, str(repeats), vehicle],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"FASTSim worker could not run: {exc!r}") from exc
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(
            f"FASTSim worker failed (exit {out.returncode}):\n{_tail(out.stderr or out.stdout)}"
        )
    result: dict[str, float | str] = json.loads(lines[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--vehicle", default=DEFAULT_VEHICLE, help="FASTSim vehicle resource")
    args = parser.parse_args()
    python = ensure_fastsim_env()
    if python is None:
        print(json.dumps({"fastsim_udds_ms": None, "error": "fastsim not installable here"}))
        return 1
    print(json.dumps(time_fastsim_udds(python, repeats=args.repeats, vehicle=args.vehicle)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
