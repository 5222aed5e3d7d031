"""A household's car as a device of its home: its VSS values as properties, its remote commands
as actions (signed with the household's service key and relayed like any person's command),
its plug/charge/lock changes as events.

The car's values come from what the cloud stores (the newest value per signal at start, then
each ingested batch); it is online while the car's link is connected. An action is a signed
command: the cloud signs it with the service key for the car's current boot (epoch), submits it
through the :class:`~smartev.cloud.commands.CommandRelay` after the same checks the commands API
makes, and waits for the car's final word, bounded by the command's expiry. Car values are never
written directly: a write names the command to use instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Collection, Mapping
from typing import Final, Protocol

from smartev.cloud.command_reasons import reason_text
from smartev.cloud.commands import CommandRecord, CommandRelay
from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError
from smartev.ecosystem.car_events import car_events
from smartev.link.signing import MAX_TTL_S, ArgValue, decode_envelope
from smartev.spec.car_device import CAR_EVENT_SIGNALS, car_action_ref, car_command_name
from smartev.spec.devices import (
    ActionSpec,
    DeviceActionError,
    DeviceOfflineError,
    DeviceSink,
    DeviceSpec,
    Format,
    PropertySpec,
    Scalar,
)
from smartev.vehicle.command_table import (
    ALLOWED,
    CHARGING,
    COMMANDS,
    KEY_COMMANDS,
    Arg,
    vss_targets,
)
from smartev.vehicle.keyring import Role

# The longest life a command may have: an automation's command waits for nobody to tap, and on
# a sped-up demo clock (60x) even the maximum is one second of real time.
COMMAND_TTL_S: Final = MAX_TTL_S
IS_CHARGING: Final = f"{CHARGING}.IsCharging"
SENT_BY: Final = "automations"  # in the car's audit log: the household's service key sent it
# After its expiry a command the car took may still be carried out (an actuator moving): how
# long past the expiry a final state is waited for before the action counts as timed out.
FINAL_GRACE_S: Final = 15.0

_FORMATS: Final = {bool: Format.BOOL, int: Format.INT, float: Format.FLOAT, str: Format.STRING}
_OUTPUTS: Final = (
    PropertySpec("command_id", Format.STRING, description="the command's id in the cloud"),
    PropertySpec("state", Format.STRING, description="the command's final state"),
)


class CarCommandTimeoutError(DeviceActionError):
    """The car did not report a final state for the command in time."""


class CarSessions(Protocol):
    """What the car gateway knows of a connected car: its current boot epoch."""

    def epoch(self, car_id: str) -> bytes | None: ...


# (car_id, command name, args, epoch, car's now in µs, ttl) → a signed envelope; blocking (DB).
CommandSigner = Callable[[str, str, Mapping[str, ArgValue], bytes, int, float], bytes]


def _input(arg: Arg) -> PropertySpec:
    return PropertySpec(
        arg.name,
        _FORMATS[arg.kind],
        low=arg.low,
        high=arg.high,
        values=arg.choices,
        required=arg.required,
    )


def car_action_specs() -> tuple[ActionSpec, ...]:
    """The car's actions: every remote command but key management, named by the full command
    name (``door.lock``, ``honk``: :func:`~smartev.spec.car_device.car_spec` turns the latter
    into the ref ``car.honk``), with the command's arguments as inputs."""
    return tuple(
        ActionSpec(
            name=spec.name,
            inputs=tuple(_input(arg) for arg in spec.args),
            outputs=_OUTPUTS,
            description=spec.summary,
        )
        for spec in COMMANDS.values()
        if spec.name not in KEY_COMMANDS
    )


@functools.cache
def commands_setting() -> Mapping[str, tuple[str, ...]]:
    """VSS actuator path → the commands that set it (for a write's refusal to name them)."""
    out: dict[str, list[str]] = {}
    for name in COMMANDS:
        if name in KEY_COMMANDS:
            continue
        for args in ({}, {"trunk": "front"}):
            for path in vss_targets(name, args):
                if name not in out.setdefault(path, []):
                    out[path].append(name)
    return {path: tuple(names) for path, names in out.items()}


def command_effects(name: str, args: Mapping[str, Scalar]) -> frozenset[str] | None:
    """What a command changes: its VSS targets, what charging makes of them, and the car events
    those signals mean — the registry credits only these to the automation that sent it (a cable
    plugged in by hand while the automation's ``hvac.set`` runs is nobody's loop)."""
    if name not in COMMANDS or name in KEY_COMMANDS:
        return None
    try:
        changed = set(vss_targets(name, args))
    except InvalidInputError:
        return None
    if name in ("charging.start", "charging.stop"):
        changed.add(IS_CHARGING)
    events = {event for event, sig in CAR_EVENT_SIGNALS.items() if sig.path in changed}
    return frozenset(changed | events)


class CarDevice:
    """The :class:`~smartev.spec.devices.DeviceDriver` of one car, on the hub's event loop."""

    def __init__(
        self,
        *,
        car_id: str,
        name: str,
        spec: DeviceSpec,
        values: Mapping[str, Scalar],
        sessions: CarSessions,
        relay: CommandRelay,
        sign: CommandSigner,
        clock: Clock,
        ttl_s: float = COMMAND_TTL_S,
    ) -> None:
        self.car_id = car_id
        self._id = f"car:{car_id}"
        self._name = name
        self._spec = spec
        props = spec.properties
        self._values: dict[str, Scalar] = {k: v for k, v in values.items() if k in props}
        self._sessions = sessions
        self._relay = relay
        self._sign = sign
        self._clock = clock
        self._ttl_s = ttl_s
        self._sink: DeviceSink | None = None
        self._online = sessions.epoch(car_id) is not None

    # --- DeviceDriver ---

    @property
    def device_id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def spec(self) -> DeviceSpec:
        return self._spec

    @property
    def online(self) -> bool:
        return self._online

    def values(self) -> Mapping[str, Scalar]:
        return dict(self._values)

    def attach(self, sink: DeviceSink) -> None:
        self._sink = sink

    async def write(self, ref: str, value: Scalar) -> None:
        commands = commands_setting().get(ref, ())
        hint = (
            f"use the action {' or '.join(car_action_ref(c) for c in commands)}"
            if commands
            else "it changes only through the car's commands"
        )
        raise DeviceActionError(f"{self._id}/{ref} cannot be written directly: {hint}")

    async def call(self, ref: str, args: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
        name = car_command_name(ref)
        if name not in COMMANDS or name in KEY_COMMANDS:
            raise DeviceActionError(f"{self._id} has no command {name}")
        if name not in ALLOWED[Role.SERVICE]:
            raise DeviceActionError(
                f"the household's service key may not send {name} (the car's service role "
                "does not include it)"
            )
        epoch = self._sessions.epoch(self.car_id)
        if epoch is None:
            raise DeviceOfflineError(f"{self._id} is not connected to the cloud")
        now_us = int(self._clock.timestamp() * 1_000_000)
        try:
            checked = COMMANDS[name].check_args(args)
            envelope = await asyncio.to_thread(
                self._sign, self.car_id, name, checked, epoch, now_us, self._ttl_s
            )
        except DeviceActionError:
            raise
        except Exception as exc:  # no key, a refused argument: the person reads why
            raise DeviceActionError(f"{name} for {self._id} was not sent: {exc}") from exc
        command = decode_envelope(envelope).command  # the same reading the API does
        if command.car_id != self.car_id or command.name != name:
            raise DeviceActionError(f"{name}: signed for {command.car_id}/{command.name}")
        record = await asyncio.to_thread(
            functools.partial(self._relay.submit, self.car_id, envelope, sent_by=SENT_BY)
        )
        final = await self._final(record.command_id, command.expires_at_us)
        if final.state == "executed":
            return {"command_id": final.command_id, "state": final.state}
        reason = final.states[-1].reason
        words = reason_text(reason) or "no reason given"
        raise DeviceActionError(
            f"{name} {final.state} by car {self.car_id}"
            + (f" ({reason}): {words}" if reason else f": {words}")
        )

    def changes_made_by(self, ref: str, args: Mapping[str, Scalar]) -> Collection[str] | None:
        return command_effects(car_command_name(ref), args)

    async def _final(self, command_id: str, expires_at_us: int) -> CommandRecord:
        waiting = asyncio.ensure_future(self._relay.wait_final(command_id))
        bound = expires_at_us / 1_000_000 + FINAL_GRACE_S - self._clock.timestamp()
        timer = asyncio.ensure_future(self._clock.sleep(max(0.0, bound)))
        try:
            done, _ = await asyncio.wait({waiting, timer}, return_when=asyncio.FIRST_COMPLETED)
            if waiting in done:
                return waiting.result()
            raise CarCommandTimeoutError(
                f"car {self.car_id} did not report the end of command {command_id} within "
                f"{FINAL_GRACE_S:g} s after it expired"
            )
        finally:
            for task in (waiting, timer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # --- what the cloud learns of the car (hub loop) ---

    def set_online(self, online: bool) -> None:
        if online == self._online:
            return
        self._online = online
        if self._sink is not None:
            self._sink.availability_changed(self._id, online)

    def update_values(self, latest: Mapping[str, Scalar]) -> None:
        """New values the car reported: properties changed, and the events they mean."""
        props = self._spec.properties
        for path, value in latest.items():
            if path not in props or isinstance(value, tuple):
                continue
            old = self._values.get(path)
            self._values[path] = value
            if self._sink is None:
                continue
            self._sink.property_changed(self._id, path, value)
            if old != value:
                for event in car_events(path, old, value):
                    self._sink.event_fired(self._id, event, {})
