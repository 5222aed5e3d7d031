"""Validation against EPA dynamometer results: simulated vs measured wall energy per car and cycle.

Every car of an EPA test-car CSV runs over UDDS and HWFET with the model's global parameters (the
same for all cars); the report gives each case's error and the mean and largest absolute error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from smartev.sim.cycles import builtin_cycle
from smartev.sim.drive import simulate_cycle
from smartev.sim.epa import EpaTestCar
from smartev.sim.params import DEFAULT_PARAMS, ModelParams

CYCLES = ("udds", "hwfet")


@dataclass(frozen=True, slots=True)
class ValidationCase:
    make: str
    model: str
    config: str
    cycle: str
    simulated_wh_per_mi: float
    measured_wh_per_mi: float

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.simulated_wh_per_mi / self.measured_wh_per_mi - 1.0)


@dataclass(frozen=True, slots=True)
class ValidationReport:
    cases: tuple[ValidationCase, ...]

    @property
    def mean_abs_error_pct(self) -> float:
        return sum(abs(c.error_pct) for c in self.cases) / len(self.cases)

    @property
    def max_abs_error_pct(self) -> float:
        return max(abs(c.error_pct) for c in self.cases)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report: ``{"cars": [...], "mean_abs_error_pct", ...}``."""
        cars = []
        for c in self.cases:
            row = asdict(c)
            row["simulated_wh_per_mi"] = round(c.simulated_wh_per_mi, 2)
            row["error_pct"] = round(c.error_pct, 2)
            cars.append(row)
        return {
            "cars": cars,
            "mean_abs_error_pct": round(self.mean_abs_error_pct, 2),
            "max_abs_error_pct": round(self.max_abs_error_pct, 2),
        }


def validate(
    cars: list[EpaTestCar],
    params: ModelParams = DEFAULT_PARAMS,
    *,
    on_case: Callable[[ValidationCase], None] | None = None,
) -> ValidationReport:
    """Run every car over every validation cycle; ``on_case`` hears of each finished case."""
    cycles = {name: builtin_cycle(name) for name in CYCLES}
    cases = []
    for car in cars:
        for name, cycle in cycles.items():
            result = simulate_cycle(car.spec, cycle, params=params)
            case = ValidationCase(
                make=car.make,
                model=car.model,
                config=car.config,
                cycle=name,
                simulated_wh_per_mi=result.wall_wh_per_mi,
                measured_wh_per_mi=car.measured_wh_per_mi[name],
            )
            cases.append(case)
            if on_case is not None:
                on_case(case)
    return ValidationReport(tuple(cases))
