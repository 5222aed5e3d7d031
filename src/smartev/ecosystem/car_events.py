"""The car's events (``car.plugged_in``, ``car.locked``, …) derived from changes of its VSS
signals: pure, so the cloud's car driver calls it for each change and fires what it returns.
Which signal stands for which event is declared once, in the car's spec
(:data:`smartev.spec.car_device.CAR_EVENT_SIGNALS`).

An event needs a transition between two known values: the first value the cloud learns (after a
restart or a reconnect) says how things are, not that they just changed, so it fires nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from smartev.spec.car_device import CAR_EVENT_SIGNALS
from smartev.spec.devices import Scalar

# Signal path → ((value it becomes, event), …), built from the spec's table.
_BY_SIGNAL: Final[Mapping[str, tuple[tuple[bool, str], ...]]] = MappingProxyType(
    {
        path: tuple(
            (signal.becomes, event)
            for event, signal in CAR_EVENT_SIGNALS.items()
            if signal.path == path
        )
        for path in {signal.path for signal in CAR_EVENT_SIGNALS.values()}
    }
)


def car_events(ref: str, old: Scalar | None, new: Scalar | None) -> list[str]:
    """The car events a change of signal ``ref`` from ``old`` to ``new`` means (often none)."""
    events = _BY_SIGNAL.get(ref)
    if events is None or type(old) is not bool or type(new) is not bool or old == new:
        return []
    return [event for becomes, event in events if becomes == new]
