"""Errors of the ecosystem: unknown devices, automations refused at save time, failed actions,
rejected Home Assistant commands."""

from __future__ import annotations

from dataclasses import dataclass

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


class RejectedCommandError(EcosystemError, InvalidInputError):
    """A command payload from Home Assistant could not be used; the message says why."""


@dataclass(frozen=True, slots=True)
class AutomationProblem:
    """One thing wrong with an automation's text: where (line, column, path) and why."""

    line: int  # 1-based
    column: int  # 1-based; 0 when unknown
    path: str  # "triggers/0/entity_id"
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}{f' ({self.path})' if self.path else ''}: {self.reason}"


class AutomationError(EcosystemError, InvalidInputError):
    """An automation was refused; ``problems`` lists every fault found, in line order."""

    def __init__(self, problems: list[AutomationProblem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("; ".join(str(p) for p in ordered) or "invalid automation")
        self.problems = ordered


class UnknownAutomationError(EcosystemError, InvalidInputError, LookupError):
    """No automation with this id is loaded."""

    def __init__(self, automation_id: str, known: list[str]) -> None:
        shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        super().__init__(f"unknown automation {automation_id!r}; loaded: {shown or 'none'}")
        self.automation_id = automation_id
