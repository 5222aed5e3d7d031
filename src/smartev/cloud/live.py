"""The live fan-out: what happens to a car (new values, command states, drives, charges, the link
going up or down) is pushed to every connected person who may see it, as JSON messages.

Publishing is synchronous and may happen on any thread (telemetry is stored in worker threads):
``publish_*`` hand the event to the event loop with ``call_soon_threadsafe`` and return at once,
so a slow or stuck browser never slows ingest. On the loop each :class:`Subscriber` (one socket)
gets only what its person's role for that car allows — unseen cars, signals hidden from the role
(:func:`~smartev.cloud.access.may_see_signal`) and data outside the role's scopes are left out —
judged by the access the socket last read (re-read every few seconds by the socket's handler,
:mod:`smartev.cloud.api.live`).

Slow consumers: a subscriber's queue coalesces state: while a car's state message waits, newer
values of that car merge into it (latest value per signal), so a slow reader gets current values,
never a backlog. Other messages (commands, drives, charges, link changes) are never dropped; a
reader that falls :data:`QUEUE_LIMIT` of them behind is disconnected (close code 1013) and should
reconnect and re-read what it shows over HTTP.

Message shapes (``ts`` and other times are ISO-8601 UTC with ``Z``):

- ``{"type": "state", "car_id", "signals": [{"path", "value", "ts"}]}``
- ``{"type": "command", "car_id", "id", "name", "state", "reason", "reason_text", "ts"}``
- ``{"type": "drive" | "charge", "car_id", <the drive's or charge's fields>}``
- ``{"type": "car_state", "car_id", "state", "start", "end", "soc_start", "soc_end"}``
- ``{"type": "car_online" | "car_offline", "car_id", "ts"}``
- ``{"type": "notification", "id", "household_id", "title", "message", "ts"}`` (to its person)

Household messages go to every member of the household (re-read with the roles):

- ``{"type": "device", "household_id", "device_id", "changes": [{"ref", "value", "ts"}]}`` for
  a home device's new values (cars are not home devices here: their values are ``state``
  messages, filtered by role), coalesced per device like ``state``;
- ``{"type": "device_online", "household_id", "device_id", "online"}``;
- ``{"type": "automation_run", "household_id", "automation_id", "run_id", "outcome", "ts"}``
  when a run's trace is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from smartev.cloud.access import CarAccess, CarRole, Scope, may_see_signal, visible_cars
from smartev.cloud.command_reasons import reason_text
from smartev.cloud.commands import CommandUpdate
from smartev.cloud.db import Database
from smartev.cloud.derived import ChargeRecord, DriveRecord, StateRecord
from smartev.cloud.households import households_of
from smartev.cloud.telemetry import IngestResult
from smartev.core.clock import Clock
from smartev.link.messages import SampleValue
from smartev.spec.devices import Scalar

log = logging.getLogger(__name__)

QUEUE_LIMIT: Final = 500
REFRESH_S: Final = 3.0
# Roles that see every command of the car; the others see only the commands they sent.
SEES_ALL_COMMANDS: Final = frozenset({CarRole.OWNER, CarRole.DRIVER})
# Fields of a charge a role without the location scope must not see.
CHARGE_LOCATION_FIELDS: Final = ("lat", "lon", "place", "geofence_id")
DRIVE_LOCATION_FIELDS: Final = (
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "start_place",
    "end_place",
)

Message = dict[str, Any]  # one JSON message on the socket
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(ts_us: int) -> str:
    """``2026-06-01T08:00:00.250000Z``: the wire form of a time."""
    return (_EPOCH + timedelta(microseconds=ts_us)).isoformat().replace("+00:00", "Z")


def sees_command(access: CarAccess, user_id: str, sender_id: str | None) -> bool:
    """Whether a person with ``access`` sees a command ``sender_id`` sent (HTTP and live alike)."""
    if not access.allows(Scope.COMMANDS):
        return False
    return access.role in SEES_ALL_COMMANDS or sender_id == user_id


@dataclass(frozen=True, slots=True)
class LiveSignal:
    path: str
    value: SampleValue
    ts_us: int


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """A home device's property took a value (None: it has none any more)."""

    ref: str
    value: Scalar | None
    ts_us: int


# A waiting device message in a subscriber's queue: (household id, device id).
_DeviceKey = tuple[str, str]
_Key = TypeVar("_Key", str, _DeviceKey)  # what a coalesced message waits under
_Value = TypeVar("_Value", LiveSignal, DeviceChange)  # a value with its time, by name


class Subscriber:
    """One socket's view: whose it is, which cars it may see, and what waits to be sent."""

    def __init__(
        self,
        user_id: str,
        access: Mapping[str, CarAccess],
        *,
        households: frozenset[str] = frozenset(),
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.user_id = user_id
        self.access: Mapping[str, CarAccess] = access  # replaced whole by the handler's refresh
        self.households = households  # the person's households: replaced with the access
        self.wakeup = asyncio.Event()
        self.overflowed = False
        self._limit = queue_limit
        # Items are a message, a car id whose coalesced state waits in _states, or a device
        # whose coalesced changes wait in _devices.
        self._queue: deque[Message | str | _DeviceKey] = deque()
        self._states: dict[str, dict[str, LiveSignal]] = {}
        self._devices: dict[_DeviceKey, dict[str, DeviceChange]] = {}
        self._messages = 0

    def push(self, message: Message) -> None:
        """Queue a message that must not be lost (loop thread only)."""
        if self._messages >= self._limit:
            self.overflowed = True
        else:
            self._queue.append(message)
            self._messages += 1
        self.wakeup.set()

    def push_state(self, car_id: str, signals: Iterable[LiveSignal]) -> None:
        """Queue new values of a car, merged into its waiting state message if there is one."""
        self._merge(self._states, car_id, ((signal.path, signal) for signal in signals))

    def push_device(
        self, household_id: str, device_id: str, changes: Iterable[DeviceChange]
    ) -> None:
        """Queue a home device's new values, merged into its waiting message if there is one."""
        self._merge(self._devices, (household_id, device_id), ((c.ref, c) for c in changes))

    def _merge(
        self,
        waiting_by_key: dict[_Key, dict[str, _Value]],
        key: _Key,
        values: Iterable[tuple[str, _Value]],
    ) -> None:
        """Coalesce: the newest value per name waits under ``key``, queued once."""
        waiting = waiting_by_key.get(key)
        if waiting is None:
            waiting = waiting_by_key[key] = {}
            self._queue.append(key)
        for name, value in values:
            old = waiting.get(name)
            if old is None or value.ts_us >= old.ts_us:
                waiting[name] = value
        self.wakeup.set()

    def pop(self) -> Message | None:
        """The next message to send, or None when nothing waits."""
        if not self._queue:
            return None
        item = self._queue.popleft()
        if isinstance(item, tuple):
            changes = self._devices.pop(item)
            return {
                "type": "device",
                "household_id": item[0],
                "device_id": item[1],
                "changes": [
                    {"ref": c.ref, "value": c.value, "ts": iso(c.ts_us)}
                    for c in sorted(changes.values(), key=lambda c: c.ref)
                ],
            }
        if isinstance(item, str):
            signals = self._states.pop(item)
            return {
                "type": "state",
                "car_id": item,
                "signals": [
                    {"path": s.path, "value": s.value, "ts": iso(s.ts_us)}
                    for s in sorted(signals.values(), key=lambda s: s.path)
                ],
            }
        self._messages -= 1
        return item


class LiveHub:
    """Every live socket of this process, and the thread-safe way to publish to them."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        refresh_s: float = REFRESH_S,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self._db = db
        self._clock = clock
        self.refresh_s = refresh_s
        self.queue_limit = queue_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscriber] = set()

    # ── sockets (loop thread) ────────────────────────────────────────────────────────────

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the sockets live on (the app's lifespan binds it; the first socket too)."""
        self._loop = loop

    def access_for(self, user_id: str) -> dict[str, CarAccess]:
        """The cars the person may see now, by id (reads the database: call it in a thread)."""
        now_us = int(self._clock.timestamp() * 1_000_000)
        with self._db.connect() as c:
            return {a.car_id: a for a in visible_cars(c, user_id, now_us)}

    def households_for(self, user_id: str) -> frozenset[str]:
        """The households the person belongs to now (reads the database: call it in a thread)."""
        with self._db.connect() as c:
            return frozenset(m.household_id for m in households_of(c, user_id))

    def subscribe(
        self,
        user_id: str,
        access: Mapping[str, CarAccess],
        households: frozenset[str] = frozenset(),
    ) -> Subscriber:
        subscriber = Subscriber(
            user_id, access, households=households, queue_limit=self.queue_limit
        )
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # ── publishing (any thread) ──────────────────────────────────────────────────────────

    def _watched(self, car_id: str) -> bool:
        """Whether any socket may be showing the car (read from an ingest thread: a socket that
        subscribes meanwhile reads the car's state over HTTP when it starts anyway)."""
        try:
            return any(car_id in sub.access for sub in tuple(self._subscribers))
        except RuntimeError:  # the subscribers changed while being read: assume watched
            return True

    def _hand_over(self, deliver: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or not self._subscribers:
            return  # nobody listens
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app is stopping
            loop.call_soon_threadsafe(deliver, *args)

    def publish_state(self, car_id: str, signals: Iterable[LiveSignal]) -> None:
        batch = tuple(signals)
        if batch:
            self._hand_over(self._deliver_state, car_id, batch)

    def publish_command(self, update: CommandUpdate) -> None:
        self._hand_over(self._deliver_command, update)

    def publish_drive(self, drive: DriveRecord) -> None:
        self._hand_over(self._deliver_record, "drive", drive, Scope.DRIVES, DRIVE_LOCATION_FIELDS)

    def publish_charge(self, charge: ChargeRecord) -> None:
        self._hand_over(
            self._deliver_record, "charge", charge, Scope.CHARGES, CHARGE_LOCATION_FIELDS
        )

    def publish_car_state(self, state: StateRecord) -> None:
        self._hand_over(self._deliver_record, "car_state", state, Scope.STATE, ())

    def publish_link(self, car_id: str, online: bool) -> None:
        """The car's link came up (``online``) or went down."""
        message = {
            "type": "car_online" if online else "car_offline",
            "car_id": car_id,
            "ts": iso(int(self._clock.timestamp() * 1_000_000)),
        }
        self._hand_over(self._deliver_plain, car_id, message)

    def publish_notification(self, user_id: str, message: Message) -> None:
        """A message for one person (an automation's notification) on each of their sockets."""
        self._hand_over(self._deliver_to_person, user_id, message)

    def publish_device(
        self, household_id: str, device_id: str, changes: Iterable[DeviceChange]
    ) -> None:
        """A home device's new values, for the household's members."""
        batch = tuple(changes)
        if batch:
            self._hand_over(self._deliver_device, household_id, device_id, batch)

    def publish_device_online(self, household_id: str, device_id: str, online: bool) -> None:
        message = {
            "type": "device_online",
            "household_id": household_id,
            "device_id": device_id,
            "online": online,
        }
        self._hand_over(self._deliver_household, household_id, message)

    def publish_automation_run(
        self, household_id: str, automation_id: str, run_id: str, outcome: str, ts_us: int
    ) -> None:
        """A run of one of the household's automations ended and its trace is stored."""
        message = {
            "type": "automation_run",
            "household_id": household_id,
            "automation_id": automation_id,
            "run_id": run_id,
            "outcome": outcome,
            "ts": iso(ts_us),
        }
        self._hand_over(self._deliver_household, household_id, message)

    def on_ingested(self, result: IngestResult) -> None:
        """The telemetry store's listener: a stored batch's new values, drives, charges, states."""
        if not self._watched(result.car_id):
            return  # the ingest path pays nothing while nobody watches this car
        self.publish_state(
            result.car_id,
            (LiveSignal(path, value, ts_us) for path, (ts_us, value) in result.latest.items()),
        )
        for drive in result.drives:
            self.publish_drive(drive)
        for charge in result.charges:
            self.publish_charge(charge)
        for state in result.states:
            self.publish_car_state(state)

    # ── delivery (loop thread) ───────────────────────────────────────────────────────────

    def _deliver_state(self, car_id: str, signals: tuple[LiveSignal, ...]) -> None:
        for sub in self._subscribers:
            access = sub.access.get(car_id)
            if access is None or not access.allows(Scope.STATE):
                continue
            role, since_us = access.role, access.since_us
            visible = [s for s in signals if s.ts_us >= since_us and may_see_signal(role, s.path)]
            if visible:
                sub.push_state(car_id, visible)

    def _deliver_command(self, update: CommandUpdate) -> None:
        message = {
            "type": "command",
            "car_id": update.car_id,
            "id": update.command_id,
            "name": update.name,
            "state": update.state,
            "reason": update.reason,
            "reason_text": reason_text(update.reason),
            "ts": iso(update.ts_us),
        }
        for sub in self._subscribers:
            access = sub.access.get(update.car_id)
            if access is not None and sees_command(access, sub.user_id, update.user_id):
                sub.push(message)

    def _deliver_record(
        self, kind: str, record: Any, scope: Scope, location_fields: tuple[str, ...]
    ) -> None:
        full = _record_message(kind, record)
        without_location = {k: v for k, v in full.items() if k not in location_fields}
        start_us: int = record.start_us
        for sub in self._subscribers:
            access = sub.access.get(full["car_id"])
            if access is None or not access.allows(scope) or start_us < access.since_us:
                continue
            sub.push(full if access.allows(Scope.LOCATION) else without_location)

    def _deliver_plain(self, car_id: str, message: Message) -> None:
        for sub in self._subscribers:
            if car_id in sub.access:
                sub.push(message)

    def _deliver_device(
        self, household_id: str, device_id: str, changes: tuple[DeviceChange, ...]
    ) -> None:
        for sub in self._subscribers:
            if household_id in sub.households:
                sub.push_device(household_id, device_id, changes)

    def _deliver_household(self, household_id: str, message: Message) -> None:
        for sub in self._subscribers:
            if household_id in sub.households:
                sub.push(message)

    def _deliver_to_person(self, user_id: str, message: Message) -> None:
        for sub in self._subscribers:
            if sub.user_id == user_id:
                sub.push(message)


def _record_message(kind: str, record: Any) -> Message:
    """A stored row as a message: ``*_us`` times become ISO ``start``/``end``."""
    message: Message = {"type": kind}
    for name, value in dataclasses.asdict(record).items():
        if name.endswith("_us"):
            message[name[:-3]] = None if value is None else iso(value)
        else:
            message[name] = value
    return message
