"""Bounding a device's answer in clock time: a device that never answers fails its step with a
timeout instead of hanging the run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from smartev.core.clock import Clock
from smartev.ecosystem.engine_values import show_duration

T = TypeVar("T")


class DeviceTimeoutError(Exception):
    """A device did not answer within the engine's action timeout (internal to the engine: it
    becomes a ``timeout`` trace step)."""


async def bounded(clock: Clock, timeout_s: float, work: Awaitable[T], what: str) -> T:
    """``await work``, or raise :class:`DeviceTimeoutError` after ``timeout_s`` of clock time.

    The timer runs on the given clock (not the event loop's), so a simulated clock decides when
    a device is late. The work is cancelled when it is late or when the caller is cancelled.
    """
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    raise DeviceTimeoutError(f"{what} did not answer within {show_duration(timeout_s)}")
