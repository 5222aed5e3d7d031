import contextlib
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core import units
from smartev.sim.errors import InvalidSpecError
from smartev.sim.spec import load_vehicle, parse_vehicle, shipped_vehicles

BASE = {
    "name": "Test car",
    "epa_coastdown": {"a_lbf": 30.0, "b_lbf_per_mph": 0.1, "c_lbf_per_mph2": 0.02},
    "etw_lb": 4000,
    "battery_kwh": 60,
    "chemistry": "nmc",
    "motor_kw": 150,
    "drive": "fwd",
}


def test_shipped_specs_include_the_su7_and_the_six_epa_cars() -> None:
    shipped = shipped_vehicles()
    assert {
        "xiaomi-su7",
        "tesla-model-3-rwd",
        "nissan-leaf",
        "chevrolet-bolt-euv",
        "ford-mach-e-rwd",
        "kia-ev6-rwd",
        "bmw-i4-edrive40",
    } <= set(shipped)
    su7 = shipped["xiaomi-su7"]
    assert (su7.battery_kwh, su7.chemistry, su7.mass_kg) == (73.6, "lfp", 1980)
    assert all(spec.source for spec in shipped.values())


def test_three_ways_to_give_road_load_agree_in_si() -> None:
    epa = parse_vehicle(BASE)
    v = units.mph_to_mps(50)
    expected_lbf = 30.0 + 0.1 * 50 + 0.02 * 50**2
    assert epa.road_load_n(v) == pytest.approx(units.lbf_to_n(expected_lbf))
    assert epa.mass_kg == pytest.approx(units.lb_to_kg(4000))

    wltp = {**BASE, "road_load": {"f0_n": 120.0, "f1_n_per_kmh": 0.5, "f2_n_per_kmh2": 0.03}}
    del wltp["epa_coastdown"]
    spec = parse_vehicle(wltp)
    assert spec.road_load_n(100 / 3.6) == pytest.approx(120 + 0.5 * 100 + 0.03 * 100**2)

    physical = {**BASE, "cd": 0.25, "frontal_area_m2": 2.2, "crr": 0.009, "test_mass_kg": 2000}
    del physical["epa_coastdown"], physical["etw_lb"]
    spec = parse_vehicle(physical)
    assert spec.road_load_n(10) == pytest.approx(
        0.009 * 2000 * 9.80665 + 0.5 * 1.2 * 0.25 * 2.2 * 100
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"etw_lb": -10}, "etw_lb: Input should be greater than 660"),
        ({"chemistry": "lead"}, "chemistry: Input should be 'nmc' or 'lfp'"),
        ({"soc_window": [0.1, 1.2]}, "soc_window [0.1, 1.2] must satisfy 0 <= min < max <= 1"),
        ({"drive": "2wd"}, "drive: Input should be 'fwd', 'rwd' or 'awd'"),
        ({"test_mass_kg": 1800}, "give the test mass exactly one way"),
        ({"cd": 0.3}, "give road load exactly one way"),
        ({"motor_kw": "lots"}, "motor_kw: Input should be a valid number"),
        ({"wings": 2}, "wings: unknown field"),
        ({"battery_kwh": None}, "battery_kwh"),
    ],
)
def test_bad_specs_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSpecError) as err:
        parse_vehicle({**BASE, **change}, source="car.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("car.yaml: ")


def test_missing_field_is_named() -> None:
    data = dict(BASE)
    del data["motor_kw"]
    with pytest.raises(InvalidSpecError, match="motor_kw: missing"):
        parse_vehicle(data)


def test_load_from_file_and_by_name(tmp_path: Path) -> None:
    path = tmp_path / "car.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert load_vehicle(path).name == "Test car"
    assert load_vehicle("nissan-leaf").drive == "fwd"
    with pytest.raises(InvalidSpecError, match="unknown vehicle 'nope'"):
        load_vehicle("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InvalidSpecError, match="not valid"):
        load_vehicle(bad)
    with pytest.raises(InvalidSpecError, match="cannot read"):
        load_vehicle(tmp_path / "missing.yaml")


json_like = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from([*sorted(BASE), "cd", "crr", "soc_window"]), json_like))
def test_parse_vehicle_never_fails_unexpectedly(data: dict[str, object]) -> None:
    with contextlib.suppress(InvalidSpecError):
        parse_vehicle(data)
