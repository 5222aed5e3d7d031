"""``smartev sim``: run the vehicle simulator and validate it against EPA results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from smartev.cli_output import err, fail, out
from smartev.core.errors import SmartevError

sim_app = typer.Typer(
    name="sim",
    help="The vehicle physics simulator: run a car over a drive cycle, validate against EPA data.",
    no_args_is_help=True,
)


@sim_app.command("vehicles")
def vehicles() -> None:
    """List the vehicle specs shipped with smartev."""
    from smartev.sim.spec import shipped_vehicles

    table = Table(title="shipped vehicles")
    for col in ("name", "vehicle", "battery", "motor", "drive", "mass"):
        table.add_column(col)
    for key, spec in shipped_vehicles().items():
        table.add_row(
            key,
            spec.name,
            f"{spec.battery_kwh:g} kWh {spec.chemistry.upper()}",
            f"{spec.motor_kw:g} kW",
            spec.drive.upper(),
            f"{spec.mass_kg:,.0f} kg",
        )
    out.print(table)


def run_summary(result: Any) -> dict[str, Any]:
    """The figures of a cycle run, for people and for ``--json``."""
    return {
        "vehicle": result.vehicle,
        "cycle": result.cycle,
        "distance_km": round(result.distance_m / 1000, 3),
        "duration_s": round(result.duration_s, 1),
        "battery_kwh": round(result.battery_kwh, 4),
        "wall_kwh": round(result.wall_kwh, 4),
        "battery_kwh_per_100km": round(result.battery_kwh_per_100km, 2),
        "wall_kwh_per_100km": round(result.wall_kwh_per_100km, 2),
        "battery_wh_per_mi": round(result.battery_wh_per_mi, 1),
        "wall_wh_per_mi": round(result.wall_wh_per_mi, 1),
        "regen_share": round(result.regen_share, 3),
        "soc_start": round(float(result.soc[0]), 4),
        "soc_end": round(float(result.soc[-1]), 4),
        "hvac_kwh": round(float(result.hvac_w @ result.dt_s) / 3.6e6, 4),
        "cabin_end_c": round(float(result.cabin_c[-1]), 1),
        "trace_miss_steps": result.trace_miss_steps,
        "max_shortfall_kmh": round(result.max_shortfall_kmh, 2),
    }


@sim_app.command("run")
def run(
    vehicle: Annotated[
        str, typer.Option(help="A shipped vehicle name or a spec file (YAML/JSON).")
    ],
    cycle: Annotated[str, typer.Option(help="udds, hwfet, us06, wltc3b, or a CSV file.")],
    ambient_c: Annotated[
        float, typer.Option("--ambient-c", min=-40, max=55, help="Outside temperature, °C.")
    ] = 23.0,
    hvac_c: Annotated[
        float | None,
        typer.Option("--hvac-c", min=15, max=30, help="Turn the HVAC on with this set point, °C."),
    ] = None,
    soc: Annotated[float, typer.Option(min=0.05, max=1.0, help="SoC at the start, 0..1.")] = 0.9,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write speed, power and SoC over time to this PNG.")
    ] = None,
) -> None:
    """Drive a car over a cycle and report distance, energy (battery and wall), regen, SoC."""
    from smartev.sim.cycles import load_cycle
    from smartev.sim.drive import simulate_cycle
    from smartev.sim.spec import load_vehicle

    try:
        spec = load_vehicle(vehicle)
        trace = load_cycle(cycle)
        result = simulate_cycle(spec, trace, soc0=soc, ambient_c=ambient_c, hvac_setpoint_c=hvac_c)
        if plot is not None:
            from smartev.sim.plots import plot_run

            plot_run(result, plot)
    except SmartevError as exc:
        raise fail(str(exc)) from None
    summary = run_summary(result)
    if as_json:
        print(json.dumps(summary))
        return
    table = Table(title=f"{result.vehicle} over {result.cycle}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    rows = [
        ("distance", f"{summary['distance_km']:.2f} km"),
        ("duration", f"{summary['duration_s']:.0f} s"),
        ("battery energy", f"{summary['battery_kwh']:.3f} kWh"),
        (
            "battery consumption",
            f"{summary['battery_kwh_per_100km']:.1f} kWh/100 km  "
            f"({summary['battery_wh_per_mi']:.0f} Wh/mi)",
        ),
        ("wall energy", f"{summary['wall_kwh']:.3f} kWh"),
        (
            "wall consumption",
            f"{summary['wall_kwh_per_100km']:.1f} kWh/100 km  "
            f"({summary['wall_wh_per_mi']:.0f} Wh/mi)",
        ),
        ("regen share", f"{summary['regen_share']:.0%}"),
        ("SoC", f"{summary['soc_start']:.1%} → {summary['soc_end']:.1%}"),
    ]
    if hvac_c is not None:
        rows.append(("HVAC", f"{summary['hvac_kwh']:.3f} kWh, cabin {summary['cabin_end_c']} °C"))
    if result.trace_miss_steps:
        rows.append(
            (
                "could not follow",
                f"{result.trace_miss_steps} steps, up to {summary['max_shortfall_kmh']:.1f} km/h "
                "below the cycle",
            )
        )
    for row in rows:
        table.add_row(*row)
    out.print(table)
    if plot is not None:
        out.print(f"plot written to {plot}")


@sim_app.command("validate")
def validate_cmd(
    data: Annotated[
        Path | None,
        typer.Option(help="EPA test-car CSV [default: the calibration set shipped with smartev]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write simulated vs measured to this PNG.")
    ] = None,
) -> None:
    """Simulate every car of an EPA CSV over UDDS and HWFET; compare with measured wall energy.

    The model's parameters are global (the same for every car): nothing is tuned per vehicle.
    """
    from smartev.sim.epa import load_epa_csv
    from smartev.sim.validate import validate

    try:
        cars = load_epa_csv(data)
        if as_json:
            report = validate(cars)
        else:
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("simulating", total=2 * len(cars))
                report = validate(cars, on_case=lambda _: progress.advance(task))
        if plot is not None:
            from smartev.sim.plots import plot_validation

            plot_validation(report, plot)
    except SmartevError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(report.to_json()))
        return
    table = Table(title="simulated vs measured wall energy (EPA dynamometer)")
    for col in ("make", "model", "cycle", "simulated Wh/mi", "measured Wh/mi", "error"):
        table.add_column(col, justify="right" if "Wh" in col or col == "error" else "left")
    for c in report.cases:
        table.add_row(
            c.make,
            c.model,
            c.cycle.upper(),
            f"{c.simulated_wh_per_mi:.1f}",
            f"{c.measured_wh_per_mi:.1f}",
            f"{c.error_pct:+.1f} %",
        )
    out.print(table)
    out.print(
        f"mean absolute error {report.mean_abs_error_pct:.2f} %, "
        f"largest {report.max_abs_error_pct:.2f} % over {len(report.cases)} cases"
    )
    if plot is not None:
        out.print(f"plot written to {plot}")
