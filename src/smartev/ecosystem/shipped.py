"""The automations and scenes smartev ships: arriving home, leaving home, pre-heat before
departure, charging on cheap or solar power, and the ``away`` scene they use.

They are YAML texts in ``data/scenes/`` with ``${name}`` placeholders for the household's own
devices (:class:`HomeBindings`); a household gets them as ordinary automations it can read, edit
and switch off.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Final

AUTOMATIONS: Final = (
    "arriving_home",
    "leaving_home",
    "preheat",
    "cheap_or_solar_charging",
)
SCENES: Final = ("away",)


@dataclass(frozen=True, slots=True)
class HomeBindings:
    """Which of the household's devices play which part in the shipped automations."""

    car: str  # "car:LSJWH4097PN000001"
    home_zone: str = "home"
    thermostat: str = "thermostat:living"
    garage: str = "garage_door:main"
    hall_light: str = "light:hall"
    living_light: str = "light:living"
    front_lock: str = "door_lock:front"
    meter: str = "energy_meter:home"
    cheap_price: float = 0.15  # per kWh, in the tariff's currency


def _render(name: str, bindings: HomeBindings) -> str:
    text = resources.files("smartev.ecosystem").joinpath(f"data/scenes/{name}").read_text("utf-8")
    values = {k: str(v) for k, v in dataclasses.asdict(bindings).items()}
    return Template(text).substitute(values)


def shipped_automations(bindings: HomeBindings) -> dict[str, str]:
    """Key → YAML text of each shipped automation, for this household's devices."""
    return {key: _render(f"{key}.yaml", bindings) for key in AUTOMATIONS}


def shipped_scenes(bindings: HomeBindings) -> dict[str, str]:
    """Name → YAML text of each shipped scene, for this household's devices."""
    return {name: _render(f"{name}.scene.yaml", bindings) for name in SCENES}
