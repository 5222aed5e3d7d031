"""Errors of the ecosystem: unknown devices, automations refused at save time, failed actions."""

from __future__ import annotations

from smartev.core.errors import InvalidInputError, SmartevError
from smartev.spec.errors import show_value


class EcosystemError(SmartevError):
    """Root of the ecosystem package's errors."""


class UnknownDeviceError(EcosystemError, InvalidInputError, LookupError):
    """No device of the household has this id; the message lists the ones it has."""

    def __init__(self, device_id: str, known: list[str]) -> None:
        shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        super().__init__(f"unknown device {show_value(device_id)}; devices: {shown or 'none'}")
        self.device_id = device_id


class AutomationProblem(EcosystemError, InvalidInputError):
    """One thing wrong with an automation's text: where (line, column, path) and why."""

    def __init__(self, line: int, column: int, path: str, reason: str) -> None:
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}{f' ({path})' if path else ''}: {reason}")
        self.line = line
        self.column = column
        self.path = path
        self.reason = reason


class AutomationError(EcosystemError, InvalidInputError):
    """An automation was refused; ``problems`` lists every fault found, in line order."""

    def __init__(self, problems: list[AutomationProblem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("; ".join(str(p) for p in ordered) or "invalid automation")
        self.problems = ordered
