"""Values as automations compare and show them: equality that keeps bools apart from numbers,
numeric ranges with Home Assistant's strict bounds, and plain-words rendering for traces."""

from __future__ import annotations

import math

from smartev.spec.devices import Scalar


def same_value(a: Scalar | None, b: Scalar | None) -> bool:
    """Equality as a person means it: ``1 == 1.0``, but ``True`` is not ``1``."""
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def one_of(value: Scalar | None, options: tuple[Scalar, ...]) -> bool:
    return any(same_value(value, option) for option in options)


def as_number(value: Scalar | None) -> float | None:
    """The value as a float, or None for bools, text, unknown and non-finite values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def in_range(value: float, above: float | None, below: float | None) -> bool:
    """``above < value < below`` with either bound optional (Home Assistant's strict bounds)."""
    return (above is None or value > above) and (below is None or value < below)


def show(value: Scalar | None) -> str:
    """A value in plain words for a trace."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def show_range(above: float | None, below: float | None) -> str:
    parts = []
    if above is not None:
        parts.append(f"above {above:g}")
    if below is not None:
        parts.append(f"below {below:g}")
    return " and ".join(parts)


def show_duration(seconds: float) -> str:
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"
