"""The durable telemetry buffer: sequence numbers, acks, the size bound, crash safety."""

from __future__ import annotations

import logging
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from smartev.core.clock import SimClock
from smartev.core.errors import InvalidInputError
from smartev.vehicle.telemetry_buffer import (
    ROW_OVERHEAD_BYTES,
    SEQ_RESERVE_BLOCK,
    BufferedSample,
    InvalidAckError,
    SampleDraft,
    SampleValue,
    TelemetryBuffer,
    TelemetryBufferError,
)

SPEED = "Vehicle.Speed"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
T0_US = int(START.timestamp() * 1_000_000)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


def open_buffer(path: Path, clock: SimClock, max_bytes: int = 1 << 20) -> TelemetryBuffer:
    return TelemetryBuffer(path, clock=clock, max_bytes=max_bytes)


def draft(i: int, path: str = SPEED, kind: str = "change", state: bool = False) -> SampleDraft:
    return SampleDraft(T0_US + i, path, float(i), kind, state)  # type: ignore[arg-type]


def test_append_assigns_sequence_numbers_and_read_returns_oldest_first(
    tmp_path: Path, clock: SimClock
) -> None:
    values: list[SampleValue] = [
        True,
        42,
        2.5,
        "AC_TYPE_2",
        ("IEC_TYPE_2", "CCS"),
        None,
        -(2**63),
        2**64 - 1,
    ]
    with open_buffer(tmp_path / "t.db", clock) as buf:
        assert buf.last_seq == 0
        assert buf.first_pending_seq is None
        drafts = [
            SampleDraft(T0_US + i, f"Vehicle.X{i}", v, "change") for i, v in enumerate(values)
        ]
        appended = buf.append(drafts)
        assert [s.seq for s in appended] == list(range(1, len(values) + 1))
        more = buf.append([draft(100, kind="heartbeat")])
        assert more == [BufferedSample(9, T0_US + 100, SPEED, 100.0, "heartbeat")]
        assert buf.append([]) == []
        assert buf.read(0, 100) == [*appended, *more]
        for got, value in zip(buf.read(), values, strict=False):
            assert got.value == value
            assert type(got.value) is type(value)
        assert buf.read(after_seq=3, limit=2) == appended[3:5]
        assert buf.pending_count() == 9
        assert buf.last_seq == 9
        assert buf.first_pending_seq == 1


def test_ack_removes_up_to_a_sequence_number_and_is_idempotent(
    tmp_path: Path, clock: SimClock
) -> None:
    with open_buffer(tmp_path / "t.db", clock) as buf:
        buf.append([draft(i) for i in range(10)])
        assert buf.ack(4) == 4
        assert buf.ack(4) == 0
        assert buf.ack(2) == 0
        assert buf.first_pending_seq == 5
        assert [s.seq for s in buf.read()] == [5, 6, 7, 8, 9, 10]
        assert buf.pending_count() == 6
        with pytest.raises(InvalidAckError, match="only assigned up to 10"):
            buf.ack(11)
        assert buf.ack(10) == 6
        assert buf.pending_count() == 0
        assert buf.pending_bytes == 0


def test_sequence_continues_after_restart_even_when_everything_was_acked(
    tmp_path: Path, clock: SimClock
) -> None:
    path = tmp_path / "t.db"
    with open_buffer(path, clock) as buf:
        buf.append([draft(i) for i in range(5)])
        buf.ack(5)
        stream_id = buf.stream_id
    with open_buffer(path, clock) as buf:
        assert buf.last_seq == 5
        assert buf.pending_count() == 0
        assert buf.stream_id == stream_id
        assert [s.seq for s in buf.append([draft(9)])] == [6]
        buf.append([draft(10), draft(11)])
    with open_buffer(path, clock) as buf:
        assert [s.seq for s in buf.read()] == [6, 7, 8]
        assert buf.pending_bytes == sum(9 + ROW_OVERHEAD_BYTES for _ in range(3))


def test_after_a_power_cut_no_number_the_cloud_saw_is_reused(
    tmp_path: Path, clock: SimClock
) -> None:
    """A power cut loses the appends since the last sync: emulated by a copy of the files taken
    earlier. The numbers handed out after the copy must not be handed out again."""
    path, cut = tmp_path / "t.db", tmp_path / "cut"
    cut.mkdir()
    with open_buffer(path, clock) as buf:
        buf.append([draft(i) for i in range(10)])  # reserves a block, synced
        for name in ("t.db", "t.db-wal"):
            shutil.copy(tmp_path / name, cut / name)  # what the disk holds at the cut
        seen_by_cloud = buf.append([draft(i) for i in range(100)])[-1].seq
    with open_buffer(cut / "t.db", clock) as buf:
        assert [s.seq for s in buf.read()] == list(range(1, 11))  # the lost tail is lost
        assert buf.append([draft(0)])[0].seq == 10 + SEQ_RESERVE_BLOCK + 1 > seen_by_cloud
    with open_buffer(cut / "t.db", clock) as buf:  # closed cleanly this time: no jump
        assert buf.append([draft(0)])[0].seq == 10 + SEQ_RESERVE_BLOCK + 2


def test_one_process_at_a_time(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "t.db"
    with (
        open_buffer(path, clock),
        pytest.raises(TelemetryBufferError, match="in use by another process"),
    ):
        open_buffer(path, clock)
    open_buffer(path, clock).close()


def test_bad_drafts_store_nothing(tmp_path: Path, clock: SimClock) -> None:
    with open_buffer(tmp_path / "t.db", clock) as buf:
        buf.append([draft(1)])
        with pytest.raises(InvalidInputError, match="kind 'delta' of Vehicle.Speed"):
            buf.append([draft(2), draft(3, kind="delta")])
        with pytest.raises(InvalidInputError, match="cannot be buffered: it must be a VSS path"):
            buf.append([draft(2), SampleDraft(T0_US, SOC, object(), "change")])  # type: ignore[arg-type]
        # What the wire would refuse never enters the buffer, so it cannot block its head.
        with pytest.raises(InvalidInputError, match="cannot be buffered"):
            buf.append([SampleDraft(T0_US, "not a path!", 1.0, "change")])
        with pytest.raises(InvalidInputError, match="at a time >= 0"):
            buf.append([SampleDraft(-5, SOC, 1.0, "change")])
        for bad in (math.nan, math.inf, (1.0, -math.inf)):
            with pytest.raises(InvalidInputError, match="finite float"):
                buf.append([SampleDraft(T0_US, SOC, bad, "change")])
        with pytest.raises(InvalidInputError, match="limit 0"):
            buf.read(0, 0)
        assert buf.last_seq == 1
        assert [s.seq for s in buf.append([draft(4)])] == [2]


def test_a_damaged_file_is_a_buffer_error(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "t.db"
    path.write_bytes(b"not a database, not at all" * 100)
    with pytest.raises(TelemetryBufferError, match="cannot open telemetry buffer"):
        open_buffer(path, clock)


# --- the bound ---------------------------------------------------------------------------------


def kinds_left(buf: TelemetryBuffer) -> dict[tuple[str, str], list[int]]:
    left: dict[tuple[str, str], list[int]] = {}
    for sample in buf.read(0, 1_000_000):
        left.setdefault((sample.path, sample.kind), []).append(sample.seq)
    return left


def test_contiguous_reads_stop_at_a_gap(tmp_path: Path, clock: SimClock) -> None:
    row = 9 + ROW_OVERHEAD_BYTES
    with open_buffer(tmp_path / "t.db", clock, max_bytes=100 * row) as buf:
        buf.append([draft(i, kind="heartbeat" if 3 <= i < 9 else "change") for i in range(100)])
        buf.append([draft(100)])  # over the bound: the six heartbeats (seqs 4 to 9) go
        assert buf.dropped_total == 6
        assert [s.seq for s in buf.read(0, 10, contiguous=True)] == [1, 2, 3]
        assert [s.seq for s in buf.read(3, 10, contiguous=True)] == list(range(10, 20))
        assert [s.seq for s in buf.read(0, 5)] == [1, 2, 3, 10, 11]
        assert buf.read(101, 10, contiguous=True) == []


def test_over_the_bound_the_oldest_heartbeats_go_first_then_changes_never_state_changes(
    tmp_path: Path, clock: SimClock
) -> None:
    path = tmp_path / "t.db"
    row = 9 + ROW_OVERHEAD_BYTES  # a float sample
    with open_buffer(path, clock, max_bytes=200 * row) as buf:
        # 100 rows of each: measurement heartbeats, state heartbeats, measurement changes,
        # state changes, interleaved. 400 rows against a bound of 200.
        for i in range(100):
            buf.append(
                [
                    draft(i, SPEED, "heartbeat"),
                    draft(i, LOCK, "heartbeat", state=True),
                    draft(i, SOC, "change"),
                    draft(i, LOCK, "change", state=True),
                ]
            )
        left = kinds_left(buf)
        assert len(left[LOCK, "change"]) == 100  # state changes: all of them
        assert buf.pending_bytes <= buf.max_bytes
        dropped = buf.dropped_total
        assert dropped == 400 - buf.pending_count()
        # Heartbeats went first: only some of the newest are left. Then measurement changes,
        # the oldest first: the ones left are the newest.
        heartbeats = left.get((SPEED, "heartbeat"), []) + left.get((LOCK, "heartbeat"), [])
        assert all(seq > 380 for seq in heartbeats)
        soc_changes = [3 + 4 * i for i in range(100)]
        assert 0 < len(left[SOC, "change"]) < 100
        assert left[SOC, "change"] == soc_changes[-len(left[SOC, "change"]) :]
    with open_buffer(path, clock, max_bytes=200 * row) as buf:
        assert buf.dropped_total == dropped  # persisted
        assert buf.pending_bytes <= buf.max_bytes


def test_drops_follow_rank_order(tmp_path: Path, clock: SimClock) -> None:
    row = 9 + ROW_OVERHEAD_BYTES
    with open_buffer(tmp_path / "t.db", clock, max_bytes=100 * row) as buf:
        buf.append([draft(i, SOC, "change") for i in range(40)])
        buf.append([draft(i, LOCK, "heartbeat", state=True) for i in range(30)])
        buf.append([draft(i, SPEED, "heartbeat") for i in range(30)])
        assert buf.dropped_total == 0
        buf.append([draft(1000, LOCK, "change", state=True)])  # 101 rows: over by one
        # 5 % headroom: 6 rows go, all measurement heartbeats, the oldest ones.
        assert buf.dropped_total == 6
        assert kinds_left(buf)[SPEED, "heartbeat"] == list(range(77, 101))
        buf.append([draft(i, LOCK, "change", state=True) for i in range(30)])
        left = kinds_left(buf)
        assert (SPEED, "heartbeat") not in left  # all measurement heartbeats went first
        assert len(left[LOCK, "heartbeat"]) < 30
        assert left[LOCK, "heartbeat"][-1] == 70  # then the oldest state heartbeats
        assert len(left[SOC, "change"]) == 40  # measurement changes untouched so far
        buf.append([draft(i, LOCK, "change", state=True) for i in range(60)])
        left = kinds_left(buf)
        assert (LOCK, "heartbeat") not in left
        assert left[SOC, "change"][-1] == 40  # the newest measurement changes are left
        assert len(left[LOCK, "change"]) == 91
        assert buf.pending_bytes <= buf.max_bytes


def test_state_changes_stay_over_the_bound_with_a_warning(
    tmp_path: Path, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    row = 9 + ROW_OVERHEAD_BYTES
    caplog.set_level(logging.WARNING, logger="smartev.vehicle.telemetry_buffer")
    with open_buffer(tmp_path / "t.db", clock, max_bytes=50 * row) as buf:
        buf.append([draft(i, SPEED) for i in range(10)])
        buf.append([draft(i, LOCK, state=True) for i in range(80)])
        assert buf.pending_count() == 80  # every measurement went, every state change stayed
        assert buf.dropped_total == 10
        assert buf.pending_bytes > buf.max_bytes
        assert "dropped 10 of the oldest" in caplog.text
        assert "never dropped" in caplog.text
        caplog.clear()
        buf.append([draft(81, LOCK, state=True)])
        assert caplog.text == ""  # at most one warning a minute
        clock.advance(61)
        buf.append([draft(82, LOCK, state=True)])
        assert "never dropped" in caplog.text
        buf.ack(buf.last_seq)
        assert buf.pending_bytes == 0


def test_file_stays_near_the_bound(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "t.db"
    max_bytes = 256 * 1024
    rng = random.Random(7)
    with open_buffer(path, clock, max_bytes=max_bytes) as buf:
        for i in range(60):
            buf.append(
                [
                    draft(
                        i * 500 + j,
                        f"Vehicle.Signal{j % 40}",
                        rng.choice(("change", "heartbeat")),
                        state=rng.random() < 0.02,
                    )
                    for j in range(500)
                ]
            )
        assert buf.dropped_total > 20_000
    # B-tree pages half emptied by scattered drops are reused, not returned: about 1.4x measured.
    assert path.stat().st_size <= 2 * max_bytes


# --- crash safety -----------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from smartev.core.clock import RealClock
    from smartev.vehicle.telemetry_buffer import SampleDraft, TelemetryBuffer

    path, max_bytes = sys.argv[1], int(sys.argv[2])
    buf = TelemetryBuffer(path, clock=RealClock(), max_bytes=max_bytes)
    i = 0
    while True:
        i += 1
        drafts = [
            SampleDraft(i, f"Vehicle.S{j}", float(i), "heartbeat" if j % 3 else "change", j == 0)
            for j in range(50)
        ]
        got = buf.append(drafts)
        print("A", got[0].seq, got[-1].seq, flush=True)
        if i % 7 == 0:
            up_to = got[-1].seq - 120
            print("K", up_to, flush=True)
            buf.ack(up_to)
            print("k", up_to, flush=True)
    """
)


def run_and_kill(path: Path, max_bytes: int, lines: int) -> list[list[str]]:
    """Run the appending child, SIGKILL it after ``lines`` lines of output: all it said (it
    runs on while we read, so what it printed after those lines is read after the kill)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(max_bytes)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    said = []
    try:
        for _ in range(lines):
            line = child.stdout.readline()
            assert line, "the child stopped early"
            said.append(line.split())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        said += [line.split() for line in child.stdout.read().splitlines()]
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return said


@pytest.mark.parametrize("max_bytes", [64 << 20, 8 * 1024], ids=["no drops", "dropping"])
def test_kill_9_while_appending_and_acking_loses_and_duplicates_nothing(
    tmp_path: Path, clock: SimClock, max_bytes: int
) -> None:
    path = tmp_path / "t.db"
    rng = random.Random(max_bytes)
    appended: list[int] = []
    state_changes: list[int] = []  # the j == 0 draft of each append
    ack_intended, ack_done = 0, 0
    for _ in range(3):
        for words in run_and_kill(path, max_bytes, rng.randrange(20, 200)):
            if words[0] == "A":
                first, last = int(words[1]), int(words[2])
                appended.extend(range(first, last + 1))
                state_changes.append(first)
            elif words[0] == "K":
                ack_intended = max(ack_intended, int(words[1]))
            else:
                ack_done = max(ack_done, int(words[1]))
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        with open_buffer(path, clock, max_bytes) as buf:
            pending = buf.read(0, 10_000_000)
            seqs = [s.seq for s in pending]
            assert seqs == sorted(set(seqs))  # strictly increasing: no duplicates
            assert all(seq > ack_done for seq in seqs)
            assert buf.last_seq >= appended[-1]
            present = set(seqs)
            kept = state_changes if max_bytes < (1 << 20) else appended
            missing = [seq for seq in kept if seq > ack_intended and seq not in present]
            assert missing == []
            # The next seq continues after everything ever assigned, after the reserved block.
            assert buf.append([draft(0)])[0].seq == buf.last_seq > max(appended)
            assert buf.last_seq > SEQ_RESERVE_BLOCK
            appended.append(buf.last_seq)
            dropped_total = buf.dropped_total
    assert (dropped_total > 0) == (max_bytes < (1 << 20))


def test_acks_between_appends_then_reopen(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "t.db"
    with open_buffer(path, clock) as buf:
        sent_up_to = 0
        for i in range(30):
            buf.append([draft(i * 10 + j) for j in range(10)])
            batch = buf.read(sent_up_to, 25)
            sent_up_to = batch[-1].seq
            if i % 2:
                buf.ack(sent_up_to - 5)
        acked = sent_up_to - 5
    with open_buffer(path, clock) as buf:
        seqs = [s.seq for s in buf.read(0, 1000)]
        assert seqs == list(range(acked + 1, 301))
        assert buf.pending_count() == len(seqs)
        assert buf.first_pending_seq == acked + 1


# --- any interleaving, with a cloud that deduplicates by seq ------------------------------------

PATHS = (SPEED, SOC, LOCK, "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen")
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.tuples(st.integers(0, 255), st.text(max_size=4)),
)
drafts = st.builds(
    SampleDraft,
    st.integers(0, 2**62),
    st.sampled_from(PATHS),
    values,
    st.sampled_from(("change", "heartbeat")),
    st.booleans(),
)


class BufferWithCloud(RuleBasedStateMachine):
    """Appends, sends, acks and restarts in any order; the cloud stores by seq, once."""

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        self.path = Path(self._dir.name) / "t.db"
        self.clock = SimClock(START)
        self.buf = open_buffer(self.path, self.clock, max_bytes=2048)
        self.assigned: dict[int, tuple[SampleDraft, BufferedSample]] = {}
        self.acked_up_to = 0
        self.sent_up_to = 0  # the transport's position; forgotten when the car restarts
        self.cloud: dict[int, BufferedSample] = {}
        self.dropped: set[int] = set()
        self.dropped_before = 0
        self.kills = 0

    @rule(batch=st.lists(drafts, min_size=1, max_size=25))
    def append(self, batch: list[SampleDraft]) -> None:
        last = self.buf.last_seq
        appended = self.buf.append(batch)
        assert [s.seq for s in appended] == list(range(last + 1, last + 1 + len(batch)))
        for d, s in zip(batch, appended, strict=True):
            assert (s.ts_us, s.path, s.value, s.kind) == (d.ts_us, d.path, d.value, d.kind)
            self.assigned[s.seq] = (d, s)

    @rule(limit=st.integers(1, 40), contiguous=st.booleans())
    def send(self, limit: int, contiguous: bool) -> None:
        batch = self.buf.read(self.sent_up_to, limit, contiguous=contiguous)
        if contiguous and batch:
            assert [s.seq for s in batch] == list(range(batch[0].seq, batch[-1].seq + 1))
        for sample in batch:
            stored = self.cloud.setdefault(sample.seq, sample)  # the cloud deduplicates
            assert stored == sample
            self.sent_up_to = sample.seq

    @rule()
    def cloud_acks(self) -> None:
        if self.cloud:
            up_to = max(self.cloud)
            self.buf.ack(up_to)
            self.acked_up_to = max(self.acked_up_to, up_to)

    @rule()
    def car_restarts(self) -> None:
        self.buf.close()
        self.buf = open_buffer(self.path, self.clock, max_bytes=2048)
        self.sent_up_to = 0

    @rule()
    def car_is_killed(self) -> None:
        # The files as a kill -9 leaves them (committed, never closed), in a new place.
        killed = self.path.with_name(f"k{self.kills}.db")
        self.kills += 1
        for suffix in ("", "-wal"):
            shutil.copy(f"{self.path}{suffix}", f"{killed}{suffix}")
        self.buf.close()
        self.path = killed
        self.buf = open_buffer(self.path, self.clock, max_bytes=2048)
        self.sent_up_to = 0

    @invariant()
    def samples_are_pending_stored_or_dropped_once(self) -> None:
        pending = self.buf.read(0, 1_000_000)
        seqs = [s.seq for s in pending]
        assert seqs == sorted(set(seqs))
        for sample in pending:
            assert self.assigned[sample.seq][1] == sample
            assert sample.seq > self.acked_up_to
            assert sample.seq not in self.dropped  # a dropped sample never comes back
        present = set(seqs)
        newly_dropped = {
            seq
            for seq in self.assigned
            if seq > self.acked_up_to and seq not in present and seq not in self.dropped
        }
        for seq in newly_dropped:
            d = self.assigned[seq][0]
            assert not (d.state and d.kind == "change"), "a state change was dropped"
        self.dropped |= newly_dropped
        assert self.buf.dropped_total >= self.dropped_before + len(newly_dropped)
        self.dropped_before = self.buf.dropped_total
        assert self.buf.pending_count() == len(pending)
        if self.buf.pending_bytes > self.buf.max_bytes:
            assert all(self.assigned[s.seq][0].state and s.kind == "change" for s in pending)
        # Exactly once: each seq the car assigned is in the cloud (once, by key), or waiting in
        # the buffer, or counted as dropped; nothing acked is missing from the cloud.
        for seq in self.assigned:
            assert seq in self.cloud or seq in present or seq in self.dropped
            if seq <= self.acked_up_to:
                assert seq in self.cloud or seq in self.dropped

    def teardown(self) -> None:
        self.buf.close()
        self._dir.cleanup()


BufferWithCloud.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_buffer_with_cloud = BufferWithCloud.TestCase


def test_renumber_above_keeps_order_and_survives_reopen(tmp_path: Path, clock: SimClock) -> None:
    with open_buffer(tmp_path / "t.db", clock) as buf:
        buf.append([draft(1), draft(2), draft(3)])
        buf.ack(1)
        assert buf.renumber_above(2) == 0  # nothing to do below our own numbers
        assert buf.renumber_above(10) == 10
        assert [s.seq for s in buf.read(0, 10)] == [12, 13]
        assert buf.last_seq == 13
        assert [s.seq for s in buf.append([draft(4)])] == [14]
    with open_buffer(tmp_path / "t.db", clock) as buf:
        assert [s.seq for s in buf.read(0, 10)] == [12, 13, 14]
        assert [s.seq for s in buf.append([draft(5)])] == [15]
