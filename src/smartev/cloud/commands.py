"""The cloud relays signed commands to cars and keeps each command's visible life.

The cloud cannot create or change a command: it stores the envelope a user's device signed and
forwards it unchanged; the car verifies the signature. States, each with its time:
``requested`` (stored) → ``delivered`` → ``accepted`` | ``rejected(reason)`` → ``executed`` |
``failed`` | ``expired``. A car that is offline gets the command when it connects, unless the
command expired first (then it is ``expired`` and never sent).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from smartev.core.clock import Clock
from smartev.link import Command, CommandStatus
from smartev.link.signing import decode_envelope

FINAL = frozenset({"rejected", "executed", "failed", "expired"})


@dataclass
class CommandRecord:
    command_id: str
    car_id: str
    name: str
    expires_at_us: int
    envelope: bytes
    states: list[tuple[str, int, str]] = field(default_factory=list)  # (state, ts_us, reason)

    @property
    def state(self) -> str:
        return self.states[-1][0]


class CommandRelay:
    """Commands by id; pending ones per car until the car is connected."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._ids = itertools.count(1)
        self.records: dict[str, CommandRecord] = {}
        self._pending: dict[str, list[str]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        # How to reach a connected car (the gateway's send_command); None: nobody is connected.
        self.send: Callable[[str, Command], bool] | None = None

    def _now_us(self) -> int:
        return int(self._clock.timestamp() * 1_000_000)

    def submit(self, car_id: str, envelope: bytes) -> CommandRecord:
        """Store a signed command (its envelope is checked, not trusted) and try to deliver it."""
        signed = decode_envelope(envelope)
        command_id = f"cmd-{next(self._ids)}"
        record = CommandRecord(
            command_id, car_id, signed.command.name, signed.command.expires_at_us, envelope
        )
        self.records[command_id] = record
        self._set(record, "requested")
        self._pending.setdefault(car_id, []).append(command_id)
        self.flush(car_id)
        return record

    def flush(self, car_id: str) -> None:
        """Send what waits for a car that is now connected; expire what is too old."""
        send = self.send
        waiting = self._pending.get(car_id, [])
        still: list[str] = []
        for command_id in waiting:
            record = self.records[command_id]
            if self._now_us() >= record.expires_at_us:
                self._set(record, "expired", "the car was not reached before the command expired")
            elif send is not None and send(car_id, Command(command_id, record.envelope)):
                continue
            else:
                still.append(command_id)
        self._pending[car_id] = still

    def on_status(self, car_id: str, status: CommandStatus) -> None:
        record = self.records.get(status.command_id)
        if record is None or record.car_id != car_id or record.state in FINAL:
            return  # a status for someone else's command, or after the end: ignored
        self._set(record, str(status.state), status.reason, status.ts_us)

    def _set(self, record: CommandRecord, state: str, reason: str = "", ts_us: int = 0) -> None:
        record.states.append((state, ts_us or self._now_us(), reason))
        event = self._changed.pop(record.command_id, None)
        if event is not None:
            event.set()

    async def wait_final(self, command_id: str) -> CommandRecord:
        record = self.records[command_id]
        while record.state not in FINAL:
            event = self._changed.setdefault(command_id, asyncio.Event())
            await event.wait()
        return record
