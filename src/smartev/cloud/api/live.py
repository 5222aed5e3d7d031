"""The live WebSocket ``/api/v1/live``: one socket per app, pushing what happens to the person's
cars and homes (see :mod:`smartev.cloud.live` for the messages).

Authentication: browsers cannot set headers on a WebSocket, and a token in the URL ends up in
access logs and proxies, so the token comes as the first message,
``{"type": "auth", "token": "<access token>"}``, within :data:`AUTH_TIMEOUT_S`; the answer is
``{"type": "ready", "user_id", "cars": [{"car_id", "role"}]}``. Sending another ``auth`` later
replaces the token (same person only), so a socket can outlive one access token; every
:data:`~smartev.cloud.live.REFRESH_S` seconds the token is checked again (an expired one, or a
logout, closes the socket with 1008) and the person's cars, roles and households are re-read.

Client messages: ``auth``, and ``{"type": "ping"}`` (answered ``{"type": "pong"}``). Anything
else gets ``{"type": "error", "message"}``; after :data:`MAX_BAD_FRAMES` of those the socket is
closed with 1008. The token is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from smartev.cloud.access import CarAccess
from smartev.cloud.auth import AuthError, Principal
from smartev.cloud.live import LiveHub, Subscriber

if TYPE_CHECKING:
    from smartev.cloud.app import CloudContext

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S: Final = 5.0
MAX_BAD_FRAMES: Final = 3
MAX_CLIENT_FRAME_CHARS: Final = 8192
POLICY_VIOLATION: Final = 1008
TRY_AGAIN_LATER: Final = 1013

router = APIRouter(tags=["live"])


class _RefusedError(Exception):
    """Close the socket with ``code`` after telling the client ``message``."""

    def __init__(self, message: str, code: int = POLICY_VIOLATION) -> None:
        super().__init__(message)
        self.code = code


async def _receive_text(websocket: WebSocket) -> str | None:
    """The next client frame as text (None for a binary one); WebSocketDisconnect when gone."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    return text if isinstance(text, str) else None


def _parse(text: str | None) -> tuple[dict[str, Any] | None, str]:
    """The client's message, or None and what was wrong with it."""
    if text is None:
        return None, "send JSON text frames, not binary ones"
    if len(text) > MAX_CLIENT_FRAME_CHARS:
        return None, f"a message must be at most {MAX_CLIENT_FRAME_CHARS} characters"
    try:
        message = json.loads(text)
    except ValueError:
        return None, 'a message must be JSON, e.g. {"type": "ping"}'
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None, 'a message must be a JSON object with a "type", e.g. {"type": "ping"}'
    return message, ""


def _authenticate(ctx: CloudContext, token: object) -> Principal:
    if not isinstance(token, str) or not 1 <= len(token) <= 4096:
        raise AuthError('send {"type": "auth", "token": "<access token>"}')
    with ctx.db.connect() as db:
        return ctx.accounts.authenticate(db, token)


def _ready(principal: Principal, access: Mapping[str, CarAccess]) -> dict[str, Any]:
    return {
        "type": "ready",
        "user_id": principal.user_id,
        "cars": [{"car_id": a.car_id, "role": str(a.role)} for a in access.values()],
    }


class _Connection:
    """One authenticated socket: its reader, its writer and its periodic re-check."""

    def __init__(
        self, websocket: WebSocket, ctx: CloudContext, principal: Principal, token: str
    ) -> None:
        self.ws = websocket
        self.ctx = ctx
        self.hub: LiveHub = ctx.live
        self.principal = principal
        self.token = token
        self.sub: Subscriber | None = None

    async def run(self, access: Mapping[str, CarAccess], households: frozenset[str]) -> None:
        sub = self.sub = self.hub.subscribe(self.principal.user_id, access, households)
        sub.push(_ready(self.principal, access))
        tasks = [
            asyncio.create_task(self._write(sub)),
            asyncio.create_task(self._read(sub)),
            asyncio.create_task(self._recheck(sub)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self.hub.unsubscribe(sub)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await task

    async def _write(self, sub: Subscriber) -> None:
        while True:
            await sub.wakeup.wait()
            sub.wakeup.clear()
            if sub.overflowed:
                raise _RefusedError(
                    f"too slow: more than {self.hub.queue_limit} messages waited for this socket; "
                    "reconnect and re-read over HTTP",
                    TRY_AGAIN_LATER,
                )
            while (message := sub.pop()) is not None:
                await self.ws.send_text(json.dumps(message, separators=(",", ":")))

    async def _read(self, sub: Subscriber) -> None:
        bad = 0
        while True:
            message, problem = _parse(await _receive_text(self.ws))
            kind = message["type"] if message is not None else None
            if kind == "ping":
                sub.push({"type": "pong"})
                continue
            if kind == "auth" and message is not None:
                try:
                    principal = await asyncio.to_thread(
                        _authenticate, self.ctx, message.get("token")
                    )
                except AuthError as exc:
                    raise _RefusedError(str(exc)) from None
                if principal.user_id != self.principal.user_id:
                    raise _RefusedError(
                        "a socket stays with one person; open another for this token"
                    )
                self.principal, self.token = principal, message["token"]
                sub.push(_ready(principal, sub.access))
                continue
            if message is not None:
                problem = f"unknown message type {kind!r:.40}: send ping or auth"
            bad += 1
            if bad >= MAX_BAD_FRAMES:
                raise _RefusedError(f"{problem} ({bad} bad messages: closing)")
            sub.push({"type": "error", "message": problem})

    async def _recheck(self, sub: Subscriber) -> None:
        while True:
            await asyncio.sleep(self.hub.refresh_s)
            try:
                await asyncio.to_thread(_authenticate, self.ctx, self.token)
            except AuthError as exc:
                raise _RefusedError(str(exc)) from None
            sub.access = await asyncio.to_thread(self.hub.access_for, self.principal.user_id)
            sub.households = await asyncio.to_thread(
                self.hub.households_for, self.principal.user_id
            )


async def _close(websocket: WebSocket, message: str, code: int) -> None:
    if websocket.client_state is not WebSocketState.CONNECTED:
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.send_text(json.dumps({"type": "error", "message": message}))
        await websocket.close(code=code, reason=message[:120])


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket) -> None:
    """Live updates for the person's cars; authenticate with the first message (see above)."""
    ctx: CloudContext = websocket.app.state.ctx
    ctx.live.bind(asyncio.get_running_loop())
    await websocket.accept()
    try:
        try:
            first, problem = _parse(
                await asyncio.wait_for(_receive_text(websocket), AUTH_TIMEOUT_S)
            )
        except TimeoutError:
            raise _RefusedError(f"no auth message within {AUTH_TIMEOUT_S:g} s") from None
        if first is None or first["type"] != "auth":
            raise _RefusedError(
                problem or 'the first message must be {"type": "auth", "token": ...}'
            )
        try:
            principal = await asyncio.to_thread(_authenticate, ctx, first.get("token"))
        except AuthError as exc:
            raise _RefusedError(str(exc)) from None
        access = await asyncio.to_thread(ctx.live.access_for, principal.user_id)
        households = await asyncio.to_thread(ctx.live.households_for, principal.user_id)
        await _Connection(websocket, ctx, principal, first["token"]).run(access, households)
    except _RefusedError as exc:
        await _close(websocket, str(exc), exc.code)
    except WebSocketDisconnect:
        pass
