import math

from hypothesis import given
from hypothesis import strategies as st

from smartev.core import units

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


def test_known_values() -> None:
    assert units.mph_to_mps(60) == 26.8224
    assert units.kmh_to_mps(36) == 10
    assert math.isclose(units.lbf_to_n(1), 4.4482216152605)
    assert math.isclose(units.lb_to_kg(4000), 1814.36948)
    assert math.isclose(units.hp_to_kw(100), 74.56998715822702)
    assert math.isclose(units.wh_per_mi_to_wh_per_km(160.9344), 100)
    assert units.celsius_to_kelvin(0) == 273.15


@given(finite)
def test_round_trips(x: float) -> None:
    assert math.isclose(units.mps_to_kmh(units.kmh_to_mps(x)), x, rel_tol=1e-12, abs_tol=1e-9)
    assert math.isclose(units.mps_to_mph(units.mph_to_mps(x)), x, rel_tol=1e-12, abs_tol=1e-9)
    assert math.isclose(units.m_to_miles(units.miles_to_m(x)), x, rel_tol=1e-12, abs_tol=1e-9)
    assert math.isclose(units.j_to_kwh(units.kwh_to_j(x)), x, rel_tol=1e-12, abs_tol=1e-9)
    back = units.wh_per_km_to_wh_per_mi(units.wh_per_mi_to_wh_per_km(x))
    assert math.isclose(back, x, rel_tol=1e-12, abs_tol=1e-9)
    back_t = units.kelvin_to_celsius(units.celsius_to_kelvin(x))
    assert math.isclose(back_t, x, rel_tol=1e-12, abs_tol=1e-6)
