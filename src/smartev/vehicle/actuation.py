"""Closed-loop actuation: every request has an id and a visible life.

``accepted`` (the target passed every check and reached the provider) → ``executed`` (the
provider reported the asked value as the actuator's current value), or ``failed`` (the provider
said so, disconnected, or a newer request replaced this one) or ``timed_out`` (no matching value
in time). Each change is kept and can be awaited.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from enum import StrEnum

from smartev.spec import Value

MAX_KEPT_REQUESTS = 10_000


class ActuationState(StrEnum):
    ACCEPTED = "accepted"
    EXECUTED = "executed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"

    @property
    def final(self) -> bool:
        return self is not ActuationState.ACCEPTED


@dataclass(frozen=True, slots=True)
class ActuationRequest:
    id: str
    path: str
    value: Value
    client: str
    provider: str
    state: ActuationState
    created_ts: float
    deadline_ts: float
    updated_ts: float
    reason: str = ""


def same_value(a: object, b: object) -> bool:
    """Does a reported value fulfil a target? Floats compare with a small tolerance."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, int | float) and isinstance(b, int | float):
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6)
        return False
    return a == b


class ActuationLog:
    """The requests of one broker: the open ones by path, and a bounded history by id."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._by_id: OrderedDict[str, ActuationRequest] = OrderedDict()
        self.open_paths: dict[str, str] = {}  # path -> id of its open request
        self._waiters: dict[str, list[asyncio.Future[ActuationRequest]]] = {}

    def new_id(self) -> str:
        return f"act-{next(self._ids)}"

    def get(self, request_id: str) -> ActuationRequest | None:
        return self._by_id.get(request_id)

    def open_for(self, path: str) -> ActuationRequest | None:
        request_id = self.open_paths.get(path)
        return self._by_id.get(request_id) if request_id else None

    def open_requests(self) -> list[ActuationRequest]:
        return [self._by_id[i] for i in self.open_paths.values()]

    def add(self, request: ActuationRequest) -> list[ActuationRequest]:
        """Record a new accepted request; returns the requests it replaced (now failed)."""
        replaced = []
        previous = self.open_for(request.path)
        if previous is not None:
            replaced.append(
                self.finish(
                    previous,
                    ActuationState.FAILED,
                    request.created_ts,
                    f"replaced by {request.id}",
                )
            )
        self._by_id[request.id] = request
        self.open_paths[request.path] = request.id
        while len(self._by_id) > MAX_KEPT_REQUESTS:
            oldest, old = next(iter(self._by_id.items()))
            if not old.state.final:
                break
            del self._by_id[oldest]
        return replaced

    def finish(
        self, request: ActuationRequest, state: ActuationState, now: float, reason: str = ""
    ) -> ActuationRequest:
        done = replace(request, state=state, updated_ts=now, reason=reason)
        self._by_id[done.id] = done
        if self.open_paths.get(done.path) == done.id:
            del self.open_paths[done.path]
        for fut in self._waiters.pop(done.id, []):
            if not fut.done():
                fut.set_result(done)
        return done

    async def wait(self, request_id: str) -> ActuationRequest:
        """Wait until the request is final and return it."""
        request = self._by_id.get(request_id)
        if request is None:
            raise KeyError(request_id)
        if request.state.final:
            return request
        fut: asyncio.Future[ActuationRequest] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(request_id, []).append(fut)
        return await fut
