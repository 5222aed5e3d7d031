"""Unit conversions. Internally smartev computes in SI; names carry their unit (``speed_mps``).

Exact factors come from their definitions (international mile and pound, 1959).
"""

from __future__ import annotations

M_PER_MILE = 1609.344
KG_PER_LB = 0.45359237
STANDARD_GRAVITY = 9.80665  # m/s²
N_PER_LBF = KG_PER_LB * STANDARD_GRAVITY
J_PER_KWH = 3.6e6
J_PER_WH = 3600.0
W_PER_HP = 745.6998715822702  # mechanical horsepower
ZERO_CELSIUS_K = 273.15


def kmh_to_mps(speed_kmh: float) -> float:
    return speed_kmh / 3.6


def mps_to_kmh(speed_mps: float) -> float:
    return speed_mps * 3.6


def mph_to_mps(speed_mph: float) -> float:
    return speed_mph * M_PER_MILE / 3600.0


def mps_to_mph(speed_mps: float) -> float:
    return speed_mps * 3600.0 / M_PER_MILE


def miles_to_m(distance_mi: float) -> float:
    return distance_mi * M_PER_MILE


def m_to_miles(distance_m: float) -> float:
    return distance_m / M_PER_MILE


def lb_to_kg(mass_lb: float) -> float:
    return mass_lb * KG_PER_LB


def lbf_to_n(force_lbf: float) -> float:
    return force_lbf * N_PER_LBF


def hp_to_kw(power_hp: float) -> float:
    return power_hp * W_PER_HP / 1000.0


def j_to_kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def kwh_to_j(energy_kwh: float) -> float:
    return energy_kwh * J_PER_KWH


def wh_per_mi_to_wh_per_km(consumption_wh_per_mi: float) -> float:
    return consumption_wh_per_mi * 1000.0 / M_PER_MILE


def wh_per_km_to_wh_per_mi(consumption_wh_per_km: float) -> float:
    return consumption_wh_per_km * M_PER_MILE / 1000.0


def celsius_to_kelvin(temp_c: float) -> float:
    return temp_c + ZERO_CELSIUS_K


def kelvin_to_celsius(temp_k: float) -> float:
    return temp_k - ZERO_CELSIUS_K
