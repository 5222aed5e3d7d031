"""The cloud relays signed commands to cars and keeps each command's visible life in the database.

The cloud cannot create or change a command: it stores the envelope a user's device signed and
forwards it unchanged; the car verifies the signature. States, each stored with its time in
``command_state``: ``requested`` (stored) → ``delivered`` → ``accepted`` | ``rejected(reason)`` →
``executed`` | ``failed`` | ``expired``. A car that is offline gets the command when it connects,
unless the command expired first (then it is ``expired`` and never sent).

Delivery is at least once: a command stays *pending* until the car reports any state for it, and
each new connection of the car gets every pending command again (the car's replay check makes a
second copy harmless). The database is the record; memory holds only the pending commands' ids and
expiry times (for the expiry sweep; a command expires within minutes) and the waiters of
:meth:`CommandRelay.wait_final`. Every method may be called from any thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, Select, func, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.db import Database
from smartev.cloud.group_commit import GroupCommit
from smartev.cloud.pairing import ensure_car
from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError
from smartev.link import Command, CommandStatus
from smartev.link.signing import ArgValue, decode_envelope

log = logging.getLogger(__name__)

REQUESTED: Final = "requested"
EXPIRED: Final = "expired"
FINAL: Final = frozenset({"rejected", "executed", "failed", "expired"})
MAX_NAME_CHARS: Final = 40
EXPIRY_SWEEP_S: Final = 1.0
MAX_CAR_CLOCK_OFF_S: Final = 300.0


class StateChange(NamedTuple):
    state: str
    ts_us: int
    reason: str


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """One command as stored, with every state it went through (oldest first)."""

    command_id: str
    car_id: str
    user_id: str | None
    name: str
    args: Mapping[str, ArgValue]
    created_us: int
    expires_at_us: int
    states: tuple[StateChange, ...]

    @property
    def state(self) -> str:
        return self.states[-1].state


@dataclass(frozen=True, slots=True)
class CommandUpdate:
    """A command reached a state (what the live fan-out tells the people who may see it)."""

    car_id: str
    command_id: str
    user_id: str | None
    name: str
    state: str
    reason: str
    ts_us: int


@dataclass(slots=True)
class _Step:
    """A new state for one command, as queued for the next group of state writes."""

    command_id: str
    state: str
    reason: str
    ts_us: int
    car_id: str | None  # the reporting car: a report about another car's command is ignored
    only_pending: bool
    over: bool = False  # set when written: the command had already ended


def _ignore(_update: CommandUpdate) -> None:
    pass


class CommandRelay:
    """Stores commands, sends them to connected cars and records what the cars report.

    ``send`` is how to reach a connected car (the gateway's ``send_command``, thread-safe); it
    returns False when the car is not connected. ``on_change`` hears every new state, from the
    thread that stored it.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        on_change: Callable[[CommandUpdate], None] = _ignore,
    ) -> None:
        self._db = db
        self._clock = clock
        self.on_change = on_change
        self.send: Callable[[str, Command], bool] | None = None
        self._lock = threading.Lock()
        # command id -> (car id, expiry): what the sweep may have to expire.
        self._pending: dict[str, tuple[str, int]] = {}
        # car id -> command ids sent over the car's current connection (not sent twice on it).
        self._sent: dict[str, set[str]] = {}
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._states: GroupCommit[_Step, CommandUpdate | None] = GroupCommit(db, self._write_steps)
        with db.connect() as c:
            rows = c.execute(
                select(t.command.c.id, t.command.c.car_id, t.command.c.expires_us).where(
                    t.command.c.pending.is_(True)
                )
            ).all()
        self._pending = {r.id: (r.car_id, r.expires_us) for r in rows}

    def _now_us(self) -> int:
        return int(self._clock.timestamp() * 1_000_000)

    # ── requests ─────────────────────────────────────────────────────────────────────────

    def submit(
        self,
        car_id: str,
        envelope: bytes,
        *,
        user_id: str | None = None,
        sent_by: str | None = None,
    ) -> CommandRecord:
        """Store a signed command (its envelope is read, never changed) and try to deliver it.

        InvalidInputError when the envelope is malformed or names another car. With ``user_id``
        (a person) or ``sent_by`` (a service of the cloud, such as the household's automations)
        the request is also written to the car's audit log, in the same transaction.
        """
        command = decode_envelope(envelope).command
        if command.car_id != car_id:
            raise InvalidInputError(
                f"the command is signed for car {command.car_id}, not for car {car_id}"
            )
        if len(command.name) > MAX_NAME_CHARS:
            raise InvalidInputError(
                f"command name {command.name[:60]!r} is longer than {MAX_NAME_CHARS} characters"
            )
        command_id = t.new_id("cmd")
        now_us = self._now_us()
        with self._db.begin() as c:
            household_id = _household_of(c, car_id)
            c.execute(
                insert(t.command).values(
                    id=command_id,
                    car_id=car_id,
                    user_id=user_id,
                    name=command.name,
                    args=json.dumps(dict(command.args), sort_keys=True),
                    envelope=bytes(envelope),
                    key_id=command.key_id,
                    counter=command.counter,
                    expires_us=command.expires_at_us,
                    created_us=now_us,
                    state=REQUESTED,
                    pending=True,
                )
            )
            c.execute(
                insert(t.command_state).values(
                    command_id=command_id, n=0, state=REQUESTED, reason="", ts_us=now_us
                )
            )
            if user_id is not None or sent_by is not None:
                detail = {"command_id": command_id, "name": command.name}
                if sent_by is not None:
                    detail["sent_by"] = sent_by
                audit.record(
                    c,
                    ts_us=now_us,
                    action="command.requested",
                    actor_id=user_id,
                    household_id=household_id,
                    car_id=car_id,
                    detail=detail,
                )
        self._pending[command_id] = (car_id, command.expires_at_us)
        self._changed(
            CommandUpdate(car_id, command_id, user_id, command.name, REQUESTED, "", now_us)
        )
        self.flush(car_id)
        record = self.get(command_id)
        assert record is not None  # just stored; commands are deleted only with their car
        return record

    # ── delivery ─────────────────────────────────────────────────────────────────────────

    def car_connected(self, car_id: str) -> None:
        """A new connection of the car: everything pending goes to it, again if need be."""
        with self._lock:
            self._sent.pop(car_id, None)
        self.flush(car_id)

    def car_disconnected(self, car_id: str) -> None:
        with self._lock:
            self._sent.pop(car_id, None)

    def flush(self, car_id: str) -> None:
        """Send what waits for the car if it is connected; expire what is too old to send."""
        now_us = self._now_us()
        with self._db.connect() as c:
            rows = c.execute(
                select(t.command.c.id, t.command.c.envelope, t.command.c.expires_us)
                .where(t.command.c.car_id == car_id, t.command.c.pending.is_(True))
                .order_by(t.command.c.created_us, t.command.c.id)
            ).all()
        for row in rows:
            if now_us >= row.expires_us:
                self._expire(row.id, "not_reached")
        send = self.send
        if send is None:
            return
        with self._lock:  # one sender at a time, so a command goes once per connection
            sent = self._sent.setdefault(car_id, set())
            for row in rows:
                if now_us >= row.expires_us or row.id in sent:
                    continue
                if not send(car_id, Command(row.id, row.envelope)):
                    break  # not connected: the next connection gets them
                sent.add(row.id)

    def on_status(self, car_id: str, status: CommandStatus) -> None:
        """Record the car's report on one of its commands (others' and late reports are ignored).

        The report's time is the car's, unless it is more than :data:`MAX_CAR_CLOCK_OFF_S` off
        the cloud's (a car without time yet): then the cloud's.
        """
        now_us = self._now_us()
        ts_us = status.ts_us
        if abs(ts_us - now_us) > MAX_CAR_CLOCK_OFF_S * 1_000_000:
            ts_us = now_us
        self._advance(status.command_id, str(status.state), status.reason, ts_us, car_id=car_id)

    def expire_due(self) -> int:
        """Expire every pending command whose time is up (the car was not reached); how many."""
        now_us = self._now_us()
        due = [cid for cid, (_, expires_us) in list(self._pending.items()) if now_us >= expires_us]
        for command_id in due:
            self._expire(command_id, "not_reached")
        return len(due)

    async def expire_forever(self, interval_s: float = EXPIRY_SWEEP_S) -> None:
        """Run :meth:`expire_due` every ``interval_s`` real seconds until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            if self._pending:
                try:
                    await asyncio.to_thread(self.expire_due)
                except Exception:  # a database hiccup must not end the sweep
                    log.exception("expiring pending commands failed; trying again")

    def cancel_pending(self, car_id: str, reason: str) -> None:
        """End every pending command of the car as expired with ``reason`` (e.g. on unpair)."""
        for command_id, (pending_car, _) in list(self._pending.items()):
            if pending_car == car_id:
                self._expire(command_id, reason)

    def _expire(self, command_id: str, reason: str) -> None:
        self._advance(command_id, EXPIRED, reason, self._now_us(), only_pending=True)

    def _advance(
        self,
        command_id: str,
        state: str,
        reason: str,
        ts_us: int,
        *,
        car_id: str | None = None,
        only_pending: bool = False,
    ) -> None:
        """Store one new state unless the command is over (or not the car's, or not pending).

        States reported at the same time (many cars, or a car's delivered/accepted/executed in
        quick succession) share one transaction: see :class:`GroupCommit`.
        """
        step = _Step(command_id, state, reason, ts_us, car_id, only_pending)
        update = self._states.run(step)
        if update is None:
            if step.over:
                self._pending.pop(command_id, None)
            return
        self._pending.pop(command_id, None)
        with self._lock:
            sent = self._sent.get(update.car_id)
            if sent is not None:
                sent.discard(command_id)
        self._changed(update)

    def _write_steps(self, c: Connection, steps: list[_Step]) -> list[CommandUpdate | None]:
        return [self._write_step(c, step) for step in steps]

    @staticmethod
    def _write_step(c: Connection, step: _Step) -> CommandUpdate | None:
        """One state in the group's transaction; the update to announce, or None."""
        row = c.execute(
            select(
                t.command.c.car_id,
                t.command.c.user_id,
                t.command.c.name,
                t.command.c.state,
                t.command.c.pending,
            ).where(t.command.c.id == step.command_id)
        ).first()
        if row is None or (step.car_id is not None and row.car_id != step.car_id):
            return None  # not a command of this car: a confused or malicious report
        if row.state in FINAL or (step.only_pending and not row.pending):
            step.over = True
            return None
        # Conditional on the state read above: of two writers (the sweep, the car's report)
        # only one moves the command on; the other sees zero rows and stops.
        moved = c.execute(
            update(t.command)
            .where(t.command.c.id == step.command_id, t.command.c.state == row.state)
            .values(state=step.state, pending=False)
        ).rowcount
        if moved != 1:
            return None
        n = c.execute(
            select(func.count())
            .select_from(t.command_state)
            .where(t.command_state.c.command_id == step.command_id)
        ).scalar_one()
        c.execute(
            insert(t.command_state).values(
                command_id=step.command_id,
                n=n,
                state=step.state,
                reason=step.reason,
                ts_us=step.ts_us,
            )
        )
        return CommandUpdate(
            row.car_id, step.command_id, row.user_id, row.name, step.state, step.reason, step.ts_us
        )

    def _changed(self, update: CommandUpdate) -> None:
        # Waiters wait for the end (wait_final): the states on the way do not wake them, so a
        # command is read again once when it ends, not after each of its states.
        with self._lock:
            final = update.state in FINAL
            waiters = self._waiters.pop(update.command_id, []) if final else []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)
        try:
            self.on_change(update)
        except Exception:  # a listener's bug must not undo a stored state
            log.exception("a command listener failed on %s", update)

    # ── reading ──────────────────────────────────────────────────────────────────────────

    def get(self, command_id: str) -> CommandRecord | None:
        with self._db.connect() as c:
            records = _load(c, select(t.command).where(t.command.c.id == command_id))
        return records[0] if records else None

    def for_car(
        self, car_id: str, *, limit: int = 50, user_id: str | None = None
    ) -> list[CommandRecord]:
        """The car's commands, newest first; with ``user_id`` only those that person sent."""
        query = select(t.command).where(t.command.c.car_id == car_id)
        if user_id is not None:
            query = query.where(t.command.c.user_id == user_id)
        query = query.order_by(t.command.c.created_us.desc(), t.command.c.id.desc()).limit(limit)
        with self._db.connect() as c:
            return _load(c, query)

    async def wait_final(self, command_id: str) -> CommandRecord:
        """The command once it has reached a final state."""
        loop = asyncio.get_running_loop()
        while True:
            event = asyncio.Event()
            with self._lock:
                self._waiters.setdefault(command_id, []).append((loop, event))
            try:
                record = await asyncio.to_thread(self.get, command_id)
                if record is None:
                    raise InvalidInputError(f"no command {command_id}")
                if record.state in FINAL:
                    return record
                await event.wait()
            finally:
                with self._lock:
                    waiting = self._waiters.get(command_id, [])
                    if (loop, event) in waiting:
                        waiting.remove((loop, event))
                    if not waiting:
                        self._waiters.pop(command_id, None)


def _household_of(c: Connection, car_id: str) -> str | None:
    """The car's household; a car seen for the first time gets its row."""
    ensure_car(c, car_id)
    household_id: str | None = c.execute(
        select(t.car.c.household_id).where(t.car.c.id == car_id)
    ).scalar_one()
    return household_id


def _load(c: Connection, query: Select[Any]) -> list[CommandRecord]:
    rows = c.execute(query).all()
    if not rows:
        return []
    states: dict[str, list[StateChange]] = {r.id: [] for r in rows}
    for s in c.execute(
        select(t.command_state)
        .where(t.command_state.c.command_id.in_(list(states)))
        .order_by(t.command_state.c.command_id, t.command_state.c.n)
    ):
        states[s.command_id].append(StateChange(s.state, s.ts_us, s.reason))
    return [
        CommandRecord(
            command_id=r.id,
            car_id=r.car_id,
            user_id=r.user_id,
            name=r.name,
            args=json.loads(r.args),
            created_us=r.created_us,
            expires_at_us=r.expires_us,
            states=tuple(states[r.id]),
        )
        for r in rows
    ]
