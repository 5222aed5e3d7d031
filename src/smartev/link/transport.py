"""The one thing the link needs from a transport: send and receive whole frames.

The cloud adapts Starlette's WebSocket to it, the car the ``websockets`` client; tests can pass
anything with these three methods.
"""

from __future__ import annotations

from typing import Protocol


class ConnectionClosedError(Exception):
    """The peer or the network closed the connection."""


class FrameChannel(Protocol):
    async def recv(self) -> bytes:
        """The next frame; raises ConnectionClosedError when the connection is gone."""
        ...

    async def send(self, frame: bytes) -> None: ...

    async def close(self, reason: str = "") -> None: ...
