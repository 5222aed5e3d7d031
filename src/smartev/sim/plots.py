"""PNG plots of simulator results: a cycle run over time, and validation against EPA data.

matplotlib is imported when a plot is drawn, not when smartev starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from smartev.sim.drive import CycleResult
from smartev.sim.errors import SimError
from smartev.sim.validate import ValidationReport


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise SimError(f"cannot write plot {path}: {exc.strerror}") from exc
    finally:
        _pyplot().close(fig)


def plot_run(result: CycleResult, path: Path) -> None:
    """Speed (asked and reached), battery power and SoC over time."""
    plt = _pyplot()
    t = result.time_s
    mid = 0.5 * (t[:-1] + t[1:])
    fig, (ax_v, ax_p, ax_s) = plt.subplots(3, 1, sharex=True, figsize=(9, 7))
    ax_v.plot(t, result.target_speed_mps * 3.6, color="0.6", lw=1, label="cycle")
    ax_v.plot(t, result.speed_mps * 3.6, color="tab:blue", lw=1.2, label="car")
    ax_v.set_ylabel("speed (km/h)")
    ax_v.legend(loc="upper right")
    ax_p.plot(mid, result.terminal_w / 1000, color="tab:red", lw=1)
    ax_p.axhline(0, color="0.7", lw=0.8)
    ax_p.set_ylabel("battery power (kW)")
    ax_s.plot(t, result.soc * 100, color="tab:green")
    ax_s.set_ylabel("SoC (%)")
    ax_s.set_xlabel("time (s)")
    fig.suptitle(f"{result.vehicle} — {result.cycle}")
    fig.tight_layout()
    _save(fig, path)


def plot_validation(report: ValidationReport, path: Path) -> None:
    """Simulated vs measured wall energy, with the 1:1 line and ±3 % / ±5 % bands."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 7))
    measured = np.array([c.measured_wh_per_mi for c in report.cases])
    lo, hi = measured.min() * 0.85, measured.max() * 1.15
    line = np.array([lo, hi])
    ax.plot(line, line, color="0.3", lw=1, label="simulated = measured")
    for band, shade in ((0.05, "0.93"), (0.03, "0.85")):
        ax.fill_between(
            line, line * (1 - band), line * (1 + band), color=shade, label=f"±{band:.0%}"
        )
    for cycle, marker in (("udds", "o"), ("hwfet", "s")):
        rows = [c for c in report.cases if c.cycle == cycle]
        ax.scatter(
            [c.measured_wh_per_mi for c in rows],
            [c.simulated_wh_per_mi for c in rows],
            marker=marker,
            label=cycle.upper(),
            zorder=3,
        )
        for c in rows:
            ax.annotate(
                f"{c.make} {c.model}"[:22],
                (c.measured_wh_per_mi, c.simulated_wh_per_mi),
                fontsize=7,
                xytext=(4, 2),
                textcoords="offset points",
            )
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured wall energy (Wh/mi, EPA)")
    ax.set_ylabel("simulated wall energy (Wh/mi)")
    ax.set_title(
        f"smartev vs EPA: mean |error| {report.mean_abs_error_pct:.1f} %, "
        f"max {report.max_abs_error_pct:.1f} %"
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
