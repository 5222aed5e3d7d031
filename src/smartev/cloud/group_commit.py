"""Group commit: writes that arrive from many threads while one transaction is on the disk share
the next transaction, so a burst costs one disk flush instead of one per write.

One thread at a time writes: it takes everything queued, writes it in one transaction, and hands
the turn to the thread of the oldest write queued meanwhile (or frees it). Every other thread
sleeps on its own write's event until it is written or handed the turn: no convoy of threads
passing a lock around while they wait for the disk. When a group fails, each of its writes is
tried on its own, so one bad write never fails the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Connection

from smartev.cloud.db import Database

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Slot(Generic[Item, Result]):
    item: Item
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Write items that arrive together in one transaction: ``write(connection, items)`` gets
    the group (in arrival order) and returns one result per item. :meth:`run` blocks until its
    item is committed and returns its result (or raises what writing it raised)."""

    def __init__(
        self, db: Database, write: Callable[[Connection, list[Item]], list[Result]]
    ) -> None:
        self._db = db
        self._write = write
        self._guard = threading.Lock()
        self._queue: list[_Slot[Item, Result]] = []
        self._writing = False  # a thread is writing a group (guarded by _guard)

    def run(self, item: Item) -> Result:
        slot: _Slot[Item, Result] = _Slot(item)
        with self._guard:
            self._queue.append(slot)
            leading = not self._writing
            self._writing = True
        if not leading:
            slot.wake.wait()
        if not slot.done:  # this thread writes the next group (its own item among it)
            with self._guard:
                group, self._queue = self._queue, []
            try:
                self._write_group(group)
            finally:
                with self._guard:
                    if self._queue:
                        self._queue[0].wake.set()  # that item's thread writes the next group
                    else:
                        self._writing = False
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # set by _write_group when no error

    def _write_group(self, group: list[_Slot[Item, Result]]) -> None:
        try:
            with self._db.begin() as conn:
                results = self._write(conn, [slot.item for slot in group])
            for slot, result in zip(group, results, strict=True):
                slot.result = result
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:  # one failure must not fail the others: write each on its own
                for slot in group:
                    try:
                        with self._db.begin() as conn:
                            [slot.result] = self._write(conn, [slot.item])
                    except Exception as single:
                        slot.error = single
        finally:
            for slot in group:
                slot.done = True
                slot.wake.set()
