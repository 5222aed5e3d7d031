"""``smartev sim`` as a user runs it, in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SMARTEV = str(Path(sys.executable).parent / "smartev")
SHARED_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "epa2022_bev_calibration.csv"


def smartev(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SMARTEV, "sim", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_run_prints_the_figures_as_json(tmp_path: Path) -> None:
    result = smartev("run", "--vehicle", "xiaomi-su7", "--cycle", "wltc3b", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in (
        "distance_km",
        "duration_s",
        "battery_kwh",
        "wall_kwh",
        "battery_kwh_per_100km",
        "wall_kwh_per_100km",
        "battery_wh_per_mi",
        "wall_wh_per_mi",
        "regen_share",
        "soc_start",
        "soc_end",
    ):
        assert key in out
    assert out["distance_km"] == pytest.approx(23.27, abs=0.01)
    assert out["duration_s"] == 1800
    assert 8 < out["battery_kwh_per_100km"] < 20
    assert out["wall_kwh"] > out["battery_kwh"]
    assert out["soc_end"] < out["soc_start"] == 0.9


def test_run_with_a_csv_cycle_a_spec_file_and_a_plot(tmp_path: Path) -> None:
    (tmp_path / "hill.csv").write_text(
        "time_s,speed_kmh,grade_pct\n0,0,5\n10,36,5\n60,36,5\n70,0,5\n"
    )
    (tmp_path / "car.yaml").write_text(
        "name: Small car\ncd: 0.3\nfrontal_area_m2: 2.1\ncrr: 0.01\ntest_mass_kg: 1300\n"
        "battery_kwh: 40\nchemistry: lfp\nmotor_kw: 70\ndrive: fwd\n"
    )
    result = smartev(
        "run",
        "--vehicle",
        "car.yaml",
        "--cycle",
        "hill.csv",
        "--hvac-c",
        "21",
        "--ambient-c",
        "30",
        "--plot",
        "out.png",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Small car over hill" in result.stdout
    assert "HVAC" in result.stdout
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")


def test_run_shows_shortfall(tmp_path: Path) -> None:
    (tmp_path / "weak.yaml").write_text(
        "name: Weak\ncd: 0.3\nfrontal_area_m2: 2.1\ncrr: 0.01\ntest_mass_kg: 1500\n"
        "battery_kwh: 40\nchemistry: nmc\nmotor_kw: 20\ndrive: fwd\n"
    )
    result = smartev("run", "--vehicle", "weak.yaml", "--cycle", "us06", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "could not follow" in result.stdout


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["--vehicle", "nope", "--cycle", "udds"], "unknown vehicle 'nope'"),
        ({}, ["--vehicle", "xiaomi-su7", "--cycle", "nope"], "nope"),
        (
            {"bad.csv": "time_s,speed_kmh\n0,0\n5,10\n5,20\n"},
            ["--vehicle", "xiaomi-su7", "--cycle", "bad.csv"],
            "line 4",
        ),
        (
            {
                "neg.yaml": "name: X\ncd: 0.3\nfrontal_area_m2: 2\ncrr: 0.01\ntest_mass_kg: -5\n"
                "battery_kwh: 40\nchemistry: nmc\nmotor_kw: 50\ndrive: fwd\n"
            },
            ["--vehicle", "neg.yaml", "--cycle", "udds"],
            "test_mass_kg",
        ),
    ],
)
def test_run_bad_input_is_one_clear_error(
    tmp_path: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = smartev("run", *args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_json_report_against_the_shared_epa_data(tmp_path: Path) -> None:
    result = smartev(
        "validate", "--data", str(SHARED_CSV), "--json", "--plot", "v.png", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["cars"]) == 12
    assert set(report["cars"][0]) == {
        "make",
        "model",
        "config",
        "cycle",
        "simulated_wh_per_mi",
        "measured_wh_per_mi",
        "error_pct",
    }
    errors = [abs(c["error_pct"]) for c in report["cars"]]
    assert report["mean_abs_error_pct"] == pytest.approx(sum(errors) / len(errors), abs=0.01)
    assert report["max_abs_error_pct"] == pytest.approx(max(errors), abs=0.01)
    # The calibrated model's standing (see docs/simulator.md); guards against regressions.
    assert report["mean_abs_error_pct"] < 4.0
    assert report["max_abs_error_pct"] < 7.0
    assert (tmp_path / "v.png").read_bytes().startswith(b"\x89PNG")


def test_validate_table_and_bad_csv(tmp_path: Path) -> None:
    result = smartev("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "mean absolute error" in result.stdout
    (tmp_path / "bad.csv").write_text(
        "make,model,config,etw_lb,a_lbf,b_lbf_per_mph,c_lbf_per_mph2,rated_hp,drive,"
        "udds_wall_wh_per_mi,hwfet_wall_wh_per_mi\nX,Y,0,4000,30,0.1,0.02,200,Q,200,220\n"
    )
    result = smartev("validate", "--data", "bad.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.csv line 2: drive 'Q' is not an EPA drive code" in result.stderr
