"""The car carries out signed commands that arrive over the link, and reports each state back.

A command's life on the car: ``delivered`` (it arrived) → ``rejected`` with the verifier's or the
safety rules' reason, or ``accepted`` (verified, and every target handed to its provider) →
``executed`` (the car reports the asked values) or ``failed`` (a provider refused, disconnected,
or did not reach the value in time). Key commands (enroll, revoke) change the key ring at once.
"""

from __future__ import annotations

import asyncio
import logging

from smartev.core.clock import Clock
from smartev.core.errors import SmartevError
from smartev.link import Command, CommandState, CommandStatus, encode
from smartev.link.transport import ConnectionClosedError, FrameChannel
from smartev.spec import InvalidValueError
from smartev.vehicle.actuation import ActuationState
from smartev.vehicle.broker import Broker
from smartev.vehicle.command_table import KEY_COMMANDS
from smartev.vehicle.commands import CommandRejectedError, CommandVerifier, to_vss
from smartev.vehicle.errors import ProviderUnavailableError, UnsafeRequestError

log = logging.getLogger(__name__)


class CommandService:
    def __init__(self, verifier: CommandVerifier, broker: Broker, clock: Clock) -> None:
        self.verifier = verifier
        self._broker = broker
        self._clock = clock
        self._watchers: set[asyncio.Task[None]] = set()

    def _status(
        self, command_id: str, state: CommandState, reason: str = "", value: object = None
    ) -> bytes:
        ts_us = int(self._clock.timestamp() * 1_000_000)
        return encode(CommandStatus(command_id, state, reason, ts_us, value))  # type: ignore[arg-type]

    async def handle(self, command: Command, channel: FrameChannel) -> None:
        """Verify and start one command; its final state is reported when the car gets there."""
        send = channel.send
        await send(self._status(command.command_id, CommandState.DELIVERED))
        try:
            verified = self.verifier.verify_bytes(command.envelope)
            if verified.name in KEY_COMMANDS:
                self.verifier.apply_key_command(verified)
                await send(self._status(command.command_id, CommandState.ACCEPTED))
                await send(self._status(command.command_id, CommandState.EXECUTED))
                return
            requests = self._broker.actuate_many(to_vss(verified), client=verified.key.key_id)
        except CommandRejectedError as exc:
            await send(self._status(command.command_id, CommandState.REJECTED, str(exc.reason)))
            return
        except UnsafeRequestError as exc:
            await send(self._status(command.command_id, CommandState.REJECTED, exc.reason))
            return
        except InvalidValueError:
            await send(self._status(command.command_id, CommandState.REJECTED, "invalid_value"))
            return
        except ProviderUnavailableError as exc:
            await send(self._status(command.command_id, CommandState.FAILED, str(exc)))
            return
        await send(self._status(command.command_id, CommandState.ACCEPTED))
        task = asyncio.create_task(self._watch(command.command_id, [r.id for r in requests], send))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _watch(self, command_id: str, request_ids: list[str], send: object) -> None:
        results = [await self._broker.actuations.wait(rid) for rid in request_ids]
        failed = [r for r in results if r.state is not ActuationState.EXECUTED]
        if failed:
            state, reason = (
                CommandState.FAILED,
                f"{failed[0].path}: {failed[0].state}: {failed[0].reason}",
            )
        else:
            state, reason = CommandState.EXECUTED, ""
        value = results[0].value if len(results) == 1 else None
        try:
            await send(self._status(command_id, state, reason[:500], value))  # type: ignore[operator]
        except (ConnectionClosedError, SmartevError) as exc:
            log.info("command %s %s, but the link is down: %s", command_id, state, exc)
