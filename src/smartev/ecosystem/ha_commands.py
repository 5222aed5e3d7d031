"""Home Assistant's command payloads: what a payload on a command topic asks of the device, checked
against the topic's :class:`~smartev.ecosystem.ha_components.CommandBinding` (pure, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from smartev.ecosystem.errors import RejectedCommandError
from smartev.ecosystem.ha_components import Call, CommandBinding, Request, ValueTarget, Write
from smartev.spec.devices import Format, Scalar


def parse_command(binding: CommandBinding, payload: str, values: Mapping[str, Scalar]) -> Request:
    """The request a command ``payload`` stands for (pure). ``values`` are the device's current
    values, for arguments taken from the state. Raises :class:`RejectedCommandError`."""
    choice = binding.choices.get(payload)
    if choice is not None:
        return _filled(choice, values)
    target = binding.value
    if target is None:
        expected = ", ".join(binding.choices) or "nothing"
        raise RejectedCommandError(f"payload {payload!r} is not one of: {expected}")
    value = _parse_value(target, payload)
    if target.arg is None:
        return Write(target.ref, value)
    return Call(target.ref, {target.arg: value})


def _filled(request: Request, values: Mapping[str, Scalar]) -> Request:
    if isinstance(request, Write) or not request.from_state:
        return request
    args = dict(request.args)
    for source in request.from_state:
        value = values.get(source.ref)
        number = source.default
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            number = float(value)
        args[source.arg] = min(max(number, source.low), source.high)
    return Call(request.ref, args)


def _parse_value(target: ValueTarget, payload: str) -> Scalar:
    if target.options:
        for option in target.options:
            if str(option) == payload:
                return option
        allowed = ", ".join(str(o) for o in target.options)
        raise RejectedCommandError(f"payload {payload!r} is not one of: {allowed}")
    if target.format is Format.STRING:
        return payload
    try:
        number = float(payload)
    except ValueError:
        raise RejectedCommandError(f"payload {payload!r} is not a number") from None
    if not math.isfinite(number):
        raise RejectedCommandError(f"payload {payload!r} is not a finite number")
    if target.format is Format.INT:
        if not number.is_integer():
            raise RejectedCommandError(f"payload {payload!r} is not a whole number")
        return int(number)
    if target.format is Format.FLOAT:
        return number
    raise RejectedCommandError(f"{target.ref} takes no number (its format is {target.format})")
