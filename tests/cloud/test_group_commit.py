"""Group commit: concurrent writes share a transaction; a failing write fails only itself."""

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from smartev.cloud.db import Database, default_url
from smartev.cloud.group_commit import GroupCommit


@pytest.fixture
def db(tmp_path: Path):
    database = CountingDatabase(default_url(tmp_path))
    with database.begin() as c:
        c.execute(text("CREATE TABLE item (n INTEGER PRIMARY KEY)"))
    yield database
    database.close()


class CountingDatabase(Database):
    """A database that numbers its transactions, so a test can tell which writes shared one."""

    transactions = 0

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        self.transactions += 1
        with super().begin() as c:
            yield c


def _count(db: Database) -> int:
    with db.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM item")).scalar_one())


def test_writes_queued_during_a_commit_share_the_next_transaction(db: CountingDatabase) -> None:
    first_writing, release = threading.Event(), threading.Event()
    transactions: dict[int, list[int]] = {}

    def write(c: Connection, n: int) -> int:
        transactions.setdefault(db.transactions, []).append(n)
        c.execute(text("INSERT INTO item (n) VALUES (:n)"), {"n": n})
        if n == 0:
            first_writing.set()
            assert release.wait(10)
        return n * 10

    commit = GroupCommit(db, lambda c, items: [write(c, n) for n in items])
    results: dict[int, int] = {}

    def run(n: int) -> None:
        results[n] = commit.run(n)

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert first_writing.wait(10)
    others = [threading.Thread(target=run, args=(n,)) for n in range(1, 9)]
    for thread in others:
        thread.start()
    # All eight are queued behind the first write before it commits (none can write meanwhile).
    while len(commit._queue) < 8:  # the queue is the thing under test
        threading.Event().wait(0.001)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert results == {n: n * 10 for n in range(9)}
    groups = sorted(sorted(ns) for ns in transactions.values())
    assert groups == [[0], list(range(1, 9))]
    assert _count(db) == 9


def test_a_failing_write_fails_alone_and_the_group_is_retried_one_by_one(db: Database) -> None:
    first_writing, release = threading.Event(), threading.Event()

    def write(c: Connection, n: int) -> int:
        if n == 5:
            raise ValueError("five is refused")
        c.execute(text("INSERT INTO item (n) VALUES (:n)"), {"n": n})
        if n == 0 and not release.is_set():
            first_writing.set()
            assert release.wait(10)
        return n

    commit = GroupCommit(db, lambda c, items: [write(c, n) for n in items])
    outcome: dict[int, object] = {}

    def run(n: int) -> None:
        try:
            outcome[n] = commit.run(n)
        except ValueError as exc:
            outcome[n] = str(exc)

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert first_writing.wait(10)
    others = [threading.Thread(target=run, args=(n,)) for n in range(1, 8)]
    for thread in others:
        thread.start()
    while len(commit._queue) < 7:
        threading.Event().wait(0.001)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert outcome == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: "five is refused", 6: 6, 7: 7}
    assert _count(db) == 7  # the group's rolled-back rows were written again, one by one


def test_a_single_write_runs_in_its_own_transaction_and_returns_its_result(db: Database) -> None:
    def write(c: Connection, items: list[int]) -> list[None]:
        c.execute(text("INSERT INTO item VALUES (:n)"), [{"n": n} for n in items])
        return [None] * len(items)

    commit = GroupCommit(db, write)
    commit.run(1)
    commit.run(2)
    assert _count(db) == 2
