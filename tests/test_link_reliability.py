"""Telemetry survives ``kill -9`` of either end: real ``smartev up`` and ``smartev car run``
processes on real sockets, and every sequence number the car assigned is stored exactly once.

The car never stops producing while it runs, so each scenario ends the same way: the car is
stopped cleanly (SIGTERM; its buffer keeps what the cloud has not acked), then this process
opens the car's buffer file with the car's own key and runs an :class:`Uplink` until the buffer
is empty. The cloud must then hold exactly the numbers the car assigned: ``1..last_seq``, minus
the block a crash of the car skips (``telemetry_buffer``'s docstring: after an unclean stop the
sequence continues after the reserved block), which is read from a copy of the buffer file taken
right after the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from smartev.core.clock import RealClock
from smartev.vehicle.car_key import load_or_create_car_key
from smartev.vehicle.telemetry_buffer import SEQ_RESERVE_BLOCK, TelemetryBuffer
from smartev.vehicle.uplink import Uplink, websocket_connector
from tests.net import free_port

pytestmark = pytest.mark.slow

SMARTEV = str(Path(sys.executable).parent / "smartev")
VIN = "LSJWH4097PN000001"
CAR_SPEED = "50"  # simulated seconds per real second: a few hundred samples a second
HANG_GUARD_S = 30.0  # polls give up after this long: a guard against hangs, not a timing check


@dataclass(frozen=True)
class CrashSnapshot:
    """The car's buffer file as a ``kill -9`` left it."""

    last_seq: int  # the last number assigned before the kill
    seq_reserved: int  # where the sequence continues after the unclean stop
    was_open: bool  # the file was not closed cleanly
    dropped_total: int


@dataclass
class Rig:
    """One cloud and one car, as processes, in a temporary directory."""

    tmp: Path
    cloud_port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def car_dir(self) -> Path:
        return self.tmp / "car"

    @property
    def cloud_dir(self) -> Path:
        return self.tmp / "cloud"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.cloud_port}/link/v1"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTEV_")}
        env["XDG_DATA_HOME"] = str(self.tmp / "xdg")
        return env | extra

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str]
    ) -> tuple[subprocess.Popen[bytes], Path]:
        # Output goes to files: a pipe nobody reads would block a chatty process.
        log_file = self.tmp / f"{name}-{len(self.procs)}.log"
        with log_file.open("wb") as log:
            proc = subprocess.Popen(
                [SMARTEV, *args], env=env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT
            )
        self.procs.append(proc)
        return proc, log_file

    def provision(self) -> None:
        subprocess.run(
            [
                *(SMARTEV, "car", "provision", "--vin", VIN),
                *("--data-dir", str(self.car_dir), "--cloud-data-dir", str(self.cloud_dir)),
            ],
            env=self.env(),
            cwd=self.tmp,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start_cloud(self) -> subprocess.Popen[bytes]:
        proc, log = self._spawn(
            "cloud",
            ["up", "--port", str(self.cloud_port), "--speed", "60"],
            self.env(SMARTEV_DATA_DIR=str(self.cloud_dir)),
        )
        # Not "the port accepts": the socket listens before the app has started.
        self.wait_until(lambda: self._says_up(proc, log), "the cloud is up")
        return proc

    def _says_up(self, proc: subprocess.Popen[bytes], log: Path) -> bool:
        if proc.poll() is not None:
            pytest.fail(f"the cloud exited with {proc.returncode}\n{self.logs()}")
        return "smartev is up" in log.read_text(errors="replace")

    def start_car(self) -> subprocess.Popen[bytes]:
        proc, _ = self._spawn(
            "car",
            [
                *("car", "run", "--grpc", f"127.0.0.1:{free_port()}", "--speed", CAR_SPEED),
                *("--cycle", "udds", "--data-dir", str(self.car_dir), "--cloud", self.url),
            ],
            self.env(),
        )
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=HANG_GUARD_S)
        assert code == 0, f"{proc.args!r} exited with {code} on SIGTERM\n{self.logs()}"

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=HANG_GUARD_S)

    # --- what the cloud stored ----------------------------------------------------------------

    def _cloud_query(self, sql: str) -> list[tuple[int, ...]]:
        db_file = self.cloud_dir / "cloud.db"
        if not db_file.exists():
            return []
        # Read-only, and only while the cloud runs: closing this connection never checkpoints
        # or removes the WAL a killed cloud must recover from.
        with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
            try:
                return db.execute(sql, (VIN,)).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # the cloud has not created its schema yet
                    return []
                raise

    def cloud_count(self) -> int:
        rows = self._cloud_query("SELECT COUNT(*) FROM telemetry_sample WHERE car_id = ?")
        return rows[0][0] if rows else 0

    def cloud_seqs(self) -> list[int]:
        rows = self._cloud_query("SELECT seq FROM telemetry_sample WHERE car_id = ? ORDER BY seq")
        return [row[0] for row in rows]

    def cloud_samples_stored_twice(self) -> list[tuple[int, ...]]:
        """The same observation (signal, time, value) stored under more than one number: what a
        car re-appending its unacked samples after a restart would leave."""
        return self._cloud_query(
            "SELECT path, ts_us, value, COUNT(*) FROM telemetry_sample WHERE car_id = ? "
            "GROUP BY path, ts_us, value HAVING COUNT(*) > 1"
        )

    # --- the car's buffer file ------------------------------------------------------------------

    def snapshot_after_kill(self) -> CrashSnapshot:
        """Read a copy of the killed car's buffer: opening the file itself would take the crash
        recovery away from the restarted car."""
        copy = self.tmp / f"snapshot-{len(self.procs)}"
        copy.mkdir()
        for suffix in ("", "-wal"):
            source = self.car_dir / f"telemetry.db{suffix}"
            if source.exists():
                shutil.copy(source, copy / source.name)
        with contextlib.closing(sqlite3.connect(copy / "telemetry.db")) as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            (max_seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM sample").fetchone()
        return CrashSnapshot(
            last_seq=max(int(meta.get("last_seq", 0)), max_seq),
            seq_reserved=int(meta.get("seq_reserved", 0)),
            was_open=meta.get("open") == 1,
            dropped_total=int(meta.get("dropped_total", 0)),
        )

    def drain_car_buffer(self) -> tuple[int, int]:
        """Send what the stopped car left in its buffer, as the car would on its next start but
        without producing more: returns (last assigned seq, samples that were pending)."""

        async def drain() -> tuple[int, int]:
            buffer = TelemetryBuffer(self.car_dir / "telemetry.db", clock=RealClock())
            try:
                assert buffer.dropped_total == 0, "the buffer dropped samples: counts won't match"
                pending = buffer.pending_count()
                uplink = Uplink(
                    car_id=VIN,
                    private_key=load_or_create_car_key(self.car_dir),
                    epoch=os.urandom(16),
                    buffer=buffer,
                    clock=RealClock(),
                )
                running = asyncio.create_task(uplink.run(websocket_connector(self.url)))
                try:
                    async with asyncio.timeout(HANG_GUARD_S):
                        while buffer.pending_count() or not uplink.connected.is_set():  # noqa: ASYNC110
                            await asyncio.sleep(0.02)
                finally:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
                return buffer.last_seq, pending
            finally:
                buffer.close()

        return asyncio.run(drain())

    # --- helpers ------------------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        """Poll state the processes change until it holds; fail after HANG_GUARD_S."""
        deadline = time.monotonic() + HANG_GUARD_S
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {HANG_GUARD_S:g} s\n{self.logs()}")
            time.sleep(0.05)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.tmp.glob("*.log"))
        )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    rig.provision()
    yield rig
    for proc in rig.procs:  # only the processes this rig started
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Sorted sequence numbers as runs (first, last): [1, 2, 3, 7, 8] -> [(1, 3), (7, 8)]."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def test_cloud_killed_mid_stream_stores_every_sample_once(rig: Rig) -> None:
    cloud = rig.start_cloud()
    car = rig.start_car()
    rig.wait_until(lambda: rig.cloud_count() >= 300, "the cloud stores the car's first samples")

    stored_before = rig.cloud_count()
    rig.kill(cloud)
    time.sleep(1.0)  # the car keeps producing into its buffer while the cloud is gone
    assert car.poll() is None, f"the car did not survive losing the cloud\n{rig.logs()}"
    cloud = rig.start_cloud()
    # The car reconnects on its own and resends what the dead cloud never acked.
    rig.wait_until(
        lambda: rig.cloud_count() >= stored_before + 300, "the car streams to the restarted cloud"
    )
    rig.stop(car)

    last_seq, pending = rig.drain_car_buffer()
    seqs = rig.cloud_seqs()
    assert rig.cloud_count() == len(seqs) == len(set(seqs))
    # The car was never killed: its numbers have no gap, and the cloud holds each one once.
    assert ranges(seqs) == [(1, last_seq)], f"runs of stored seqs ({pending} left at the drain)"
    assert rig.cloud_samples_stored_twice() == []
    rig.stop(cloud)


def test_car_killed_mid_stream_stores_every_sample_once(rig: Rig) -> None:
    cloud = rig.start_cloud()
    car = rig.start_car()
    rig.wait_until(lambda: rig.cloud_count() >= 300, "the cloud stores the car's first samples")

    rig.kill(car)
    crash = rig.snapshot_after_kill()
    assert crash.was_open, "the kill left the buffer marked closed: not a crash"
    assert crash.dropped_total == 0
    # The restarted car continues after the block it had reserved: those numbers are skipped.
    assert crash.last_seq < crash.seq_reserved < crash.last_seq + SEQ_RESERVE_BLOCK
    stored_before = rig.cloud_count()
    car = rig.start_car()
    rig.wait_until(
        lambda: rig.cloud_count() >= stored_before + 300, "the restarted car streams again"
    )
    rig.stop(car)

    last_seq, pending = rig.drain_car_buffer()
    seqs = rig.cloud_seqs()
    assert rig.cloud_count() == len(seqs) == len(set(seqs))
    # Everything assigned before the kill (including what was sent but never acked), then
    # everything after the reserved block: each exactly once, nothing else.
    expected = [(1, crash.last_seq), (crash.seq_reserved + 1, last_seq)]
    assert ranges(seqs) == expected, f"runs of stored seqs ({pending} left at the drain)"
    assert rig.cloud_samples_stored_twice() == []
    rig.stop(cloud)
