"""Vehicle specs: a car described by public data only, read from YAML or JSON and checked.

A spec gives road load one of three ways (WLTP coefficients, EPA coast-down coefficients, or
drag/area/rolling resistance), the test mass, the usable battery, its chemistry, the motor's power
and the driven axles. Everything is converted once into SI (:class:`VehicleSpec`), so the physics
never sees a pound or a mile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from smartev.core import units
from smartev.sim.errors import InvalidSpecError

AIR_DENSITY_KG_M3 = 1.2  # near EPA's standard test conditions (20 °C, 101.3 kPa)

Chemistry = Literal["nmc", "lfp"]
Drive = Literal["fwd", "rwd", "awd"]
MotorType = Literal["pmsm", "induction"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WltpRoadLoad(_Strict):
    f0_n: float = Field(gt=0, lt=2000)
    f1_n_per_kmh: float = Field(ge=-5, lt=20)
    f2_n_per_kmh2: float = Field(gt=0, lt=0.2)


class EpaCoastdown(_Strict):
    a_lbf: float = Field(gt=0, lt=500)
    b_lbf_per_mph: float = Field(ge=-2, lt=5)
    c_lbf_per_mph2: float = Field(gt=0, lt=0.5)


class VehicleFile(_Strict):
    """The spec file's schema: field names carry their units."""

    name: str = Field(min_length=1, max_length=120)
    make: str = ""
    model: str = ""
    source: str = Field("", description="Where the public figures come from.")
    road_load: WltpRoadLoad | None = None
    epa_coastdown: EpaCoastdown | None = None
    cd: float | None = Field(None, gt=0.1, lt=1.0)
    frontal_area_m2: float | None = Field(None, gt=1.0, lt=6.0)
    crr: float | None = Field(None, gt=0.003, lt=0.05)
    test_mass_kg: float | None = Field(None, gt=300, lt=10_000)
    etw_lb: float | None = Field(None, gt=660, lt=22_000)
    battery_kwh: float = Field(gt=5, lt=300)
    chemistry: Chemistry
    motor_kw: float = Field(gt=10, lt=1500)
    drive: Drive
    motor_type: MotorType = "pmsm"
    aux_w: float | None = Field(None, ge=0, lt=10_000)
    pack_voltage_v: float | None = Field(None, gt=100, lt=1000)
    soc_window: tuple[float, float] = (0.0, 1.0)
    max_ac_kw: float = Field(11.0, gt=1, le=50)
    max_dc_kw: float = Field(150.0, gt=10, le=1000)
    max_speed_kmh: float = Field(200.0, gt=50, le=420)

    @model_validator(mode="after")
    def _one_of_each(self) -> VehicleFile:
        ways = [
            self.road_load is not None,
            self.epa_coastdown is not None,
            any(v is not None for v in (self.cd, self.frontal_area_m2, self.crr)),
        ]
        if sum(ways) != 1:
            raise ValueError(
                "give road load exactly one way: road_load {f0_n, f1_n_per_kmh, f2_n_per_kmh2}, "
                "epa_coastdown {a_lbf, b_lbf_per_mph, c_lbf_per_mph2}, "
                "or cd + frontal_area_m2 + crr"
            )
        if ways[2] and None in (self.cd, self.frontal_area_m2, self.crr):
            raise ValueError("cd, frontal_area_m2 and crr must be given together")
        if (self.test_mass_kg is None) == (self.etw_lb is None):
            raise ValueError("give the test mass exactly one way: test_mass_kg or etw_lb")
        lo, hi = self.soc_window
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"soc_window {list(self.soc_window)} must satisfy 0 <= min < max <= 1")
        return self


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """A vehicle in SI units. Road load is F = f0_n + f1_n_per_mps·v + f2_n_per_mps2·v²."""

    name: str
    make: str
    model: str
    source: str
    mass_kg: float
    f0_n: float
    f1_n_per_mps: float
    f2_n_per_mps2: float
    battery_kwh: float
    chemistry: Chemistry
    motor_kw: float
    drive: Drive
    motor_type: MotorType
    aux_w: float | None
    pack_voltage_v: float | None
    soc_min: float
    soc_max: float
    max_ac_kw: float
    max_dc_kw: float
    max_speed_mps: float

    def road_load_n(self, speed_mps: float) -> float:
        return self.f0_n + self.f1_n_per_mps * speed_mps + self.f2_n_per_mps2 * speed_mps**2


def spec_from_file(data: VehicleFile) -> VehicleSpec:
    """Convert a checked spec file into SI."""
    mass = data.test_mass_kg if data.test_mass_kg is not None else units.lb_to_kg(data.etw_lb or 0)
    if data.road_load is not None:
        rl = data.road_load
        f0, f1, f2 = rl.f0_n, rl.f1_n_per_kmh * 3.6, rl.f2_n_per_kmh2 * 3.6**2
    elif data.epa_coastdown is not None:
        cd = data.epa_coastdown
        mps_per_mph = units.mph_to_mps(1.0)
        f0 = units.lbf_to_n(cd.a_lbf)
        f1 = units.lbf_to_n(cd.b_lbf_per_mph) / mps_per_mph
        f2 = units.lbf_to_n(cd.c_lbf_per_mph2) / mps_per_mph**2
    else:
        assert data.cd is not None
        assert data.frontal_area_m2 is not None
        assert data.crr is not None
        f0 = data.crr * mass * units.STANDARD_GRAVITY
        f1 = 0.0
        f2 = 0.5 * AIR_DENSITY_KG_M3 * data.cd * data.frontal_area_m2
    return VehicleSpec(
        name=data.name,
        make=data.make,
        model=data.model,
        source=data.source,
        mass_kg=mass,
        f0_n=f0,
        f1_n_per_mps=f1,
        f2_n_per_mps2=f2,
        battery_kwh=data.battery_kwh,
        chemistry=data.chemistry,
        motor_kw=data.motor_kw,
        drive=data.drive,
        motor_type=data.motor_type,
        aux_w=data.aux_w,
        pack_voltage_v=data.pack_voltage_v,
        soc_min=data.soc_window[0],
        soc_max=data.soc_window[1],
        max_ac_kw=data.max_ac_kw,
        max_dc_kw=data.max_dc_kw,
        max_speed_mps=units.kmh_to_mps(data.max_speed_kmh),
    )


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "spec"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            problems.append(f"{where}: missing (required)")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown field")
        else:
            problems.append(f"{where}: {msg} (got {err.get('input')!r})")
    return "; ".join(problems)


def parse_vehicle(data: object, *, source: str = "spec") -> VehicleSpec:
    """Check raw spec data (from YAML or JSON) and convert it; errors name every bad field."""
    if not isinstance(data, dict):
        raise InvalidSpecError(f"{source}: a vehicle spec must be a mapping of fields")
    try:
        checked = VehicleFile.model_validate(data)
    except ValidationError as exc:
        raise InvalidSpecError(f"{source}: {_describe(exc)}") from exc
    return spec_from_file(checked)


def load_vehicle_file(path: Path | str) -> VehicleSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidSpecError(f"cannot read vehicle spec {path}: {exc.strerror}") from exc
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidSpecError(
            f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from exc
    return parse_vehicle(data, source=str(path))


def _shipped_dir() -> Any:
    return resources.files("smartev.sim") / "data" / "vehicles"


@cache
def shipped_vehicles() -> dict[str, VehicleSpec]:
    """The specs shipped with smartev, by file stem (``xiaomi-su7``, ``tesla-model-3-rwd``, …)."""
    found: dict[str, VehicleSpec] = {}
    for entry in sorted(_shipped_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml", ".json")):
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            found[entry.name.rsplit(".", 1)[0]] = parse_vehicle(data, source=entry.name)
    return found


def load_vehicle(name_or_path: str | Path) -> VehicleSpec:
    """A shipped spec by name, or a spec file by path."""
    key = str(name_or_path)
    shipped = shipped_vehicles()
    if key in shipped:
        return shipped[key]
    path = Path(key)
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        return load_vehicle_file(path)
    raise InvalidSpecError(
        f"unknown vehicle {key!r}: give a spec file path or one of {', '.join(sorted(shipped))}"
    )
