"""The car's durable telemetry buffer: samples wait in SQLite until the cloud acknowledges them.

Every sample gets the car's next sequence number when it is appended; it leaves the buffer only
when the cloud acks it (``ack(up_to_seq)``) or when the size bound drops it. Sequence numbers
never repeat for the life of the file, even after every sample was acked, so the cloud can
deduplicate by (car, seq) and a resend after a crash or a reconnect is harmless.

Durability. The file is SQLite in WAL mode with ``synchronous=NORMAL``: a transaction is in the
WAL (in the OS page cache) when ``append`` returns, so killing the process (``kill -9``, a crash)
at any moment loses nothing that was returned and never corrupts the file. A power cut or an OS
crash may lose the appends (and acks) since the last sync, never corrupt the file.
``synchronous="FULL"`` also survives a power cut, at the price of an fsync per append. Either
way a sequence number the cloud may have seen is never given to another sample: numbers are
reserved ``SEQ_RESERVE_BLOCK`` at a time by a commit synced to disk, and a file that was not
closed cleanly continues after its reserved block (so after a crash the sequence jumps). The
file is locked for one process at a time. ``stream_id`` (random, made with the file) names the
sequence: a car that loses its file starts again at 1 under a new ``stream_id``.

Bound. ``pending_bytes`` (each row's encoded value plus a fixed per-row estimate) stays under
``max_bytes``. When an append goes over, whole runs of the oldest samples are dropped, by rank,
until the buffer is 5 % under the bound (so the scan runs once per 5 % of the bound, not per
append): first measurement heartbeats, then state heartbeats, then measurement changes. State
changes are never dropped; if only they are left and the bound is still exceeded, they stay (they
are small and rare) and a warning is logged. Every dropped sample counts in ``dropped_total``
(persisted). The transport sends in sequence order, so a gap between two samples the cloud
received is numbers the car will never send: samples it dropped (``dropped_total`` says how many)
or numbers skipped after an unclean stop.
On disk the main file grows to between 1 and 1.5 times ``max_bytes`` (pages are reused, the file
never shrinks), plus a WAL file of a few MiB.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, NamedTuple, TypeAlias

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information

from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError, PeerError
from smartev.link import LinkError, Sample
from smartev.link import SampleKind as WireKind
from smartev.spec import Value
from smartev.vehicle.errors import VehicleError

log = logging.getLogger(__name__)

SampleKind: TypeAlias = Literal["change", "heartbeat"]
SampleValue: TypeAlias = Value | None

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
# What a row costs besides its encoded value: rowid, timestamp, path id, record header, cell
# pointer. Measured: used pages are 0.94 of the estimate when filled in order, up to 1.4 when full
# (the bound's drops leave pages partly empty).
ROW_OVERHEAD_BYTES: Final = 24
DROP_HEADROOM: Final = 0.05  # a drop brings the buffer this far under the bound
# Sequence numbers are reserved this many at a time by a commit synced to disk; after an unclean
# stop the sequence continues after the reserved block (see the module docstring).
SEQ_RESERVE_BLOCK: Final = 100_000
_WARN_EVERY_S: Final = 60.0
_WAL_LIMIT_BYTES: Final = 8 * 1024 * 1024

# Drop ranks: lower ranks go first when the bound is exceeded; KEEP is never dropped.
_RANK_HEARTBEAT, _RANK_STATE_HEARTBEAT, _RANK_CHANGE, _RANK_KEEP = 0, 1, 2, 3
_RANKS: Final[dict[tuple[str, bool], int]] = {
    ("heartbeat", False): _RANK_HEARTBEAT,
    ("heartbeat", True): _RANK_STATE_HEARTBEAT,
    ("change", False): _RANK_CHANGE,
    ("change", True): _RANK_KEEP,
}
_DROPPABLE: Final = (_RANK_HEARTBEAT, _RANK_STATE_HEARTBEAT, _RANK_CHANGE)
_KIND_OF_RANK: Final[tuple[SampleKind, ...]] = ("heartbeat", "heartbeat", "change", "change")

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS sample (
        seq INTEGER PRIMARY KEY,
        ts_us INTEGER NOT NULL,
        path_id INTEGER NOT NULL,
        value BLOB NOT NULL,
        drop_rank INTEGER NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS signal_path (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID",
)


# The two records are NamedTuples, not frozen dataclasses: both are built once per sample on the
# hot path (50,000+ a second), where a frozen dataclass's __init__ costs 2.5 times as much.


class SampleDraft(NamedTuple):
    """A sample the sampler decided to send, before it has a sequence number.

    ``state`` marks a state signal's sample: its changes are never dropped from the buffer.
    """

    ts_us: int
    path: str
    value: SampleValue
    kind: SampleKind
    state: bool = False


class BufferedSample(NamedTuple):
    """A sample in the buffer: the fields of the wire's ``Sample``, one to one."""

    seq: int
    ts_us: int
    path: str
    value: SampleValue
    kind: SampleKind


class TelemetryBufferError(VehicleError, PeerError):
    """The buffer file cannot be opened, read or written (disk full, locked, damaged)."""


class InvalidAckError(VehicleError, PeerError):
    """The cloud acknowledged a sequence number the car never assigned."""


def _finite(value: SampleValue) -> bool:
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is tuple:
        return all(math.isfinite(v) for v in value if type(v) is float)
    return True


class TelemetryBuffer:
    """Samples on disk until acked. Not thread-safe: one owner (the car's telemetry task)."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock,
        max_bytes: int = DEFAULT_MAX_BYTES,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        if max_bytes < 1024:
            raise InvalidInputError(f"telemetry buffer max_bytes {max_bytes}: must be >= 1024")
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidInputError(f"synchronous {synchronous!r}: must be 'NORMAL' or 'FULL'")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._clock = clock
        self._low_water = int(max_bytes * (1.0 - DROP_HEADROOM))
        self._warned_at: float | None = None
        self._unlogged_drops = 0
        self._pack = msgpack.Packer().pack
        self._synchronous = synchronous
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=1.0)
        except (OSError, sqlite3.Error) as exc:
            raise TelemetryBufferError(f"cannot open telemetry buffer {self.path}: {exc}") from exc
        try:
            self._open(synchronous)
        except sqlite3.Error as exc:
            self._db.close()
            if "locked" in str(exc):
                raise TelemetryBufferError(
                    f"telemetry buffer {self.path} is in use by another process"
                ) from exc
            raise TelemetryBufferError(f"cannot open telemetry buffer {self.path}: {exc}") from exc

    def _open(self, synchronous: str) -> None:
        db = self._db
        # Exclusive before WAL: one process owns the file, and WAL needs no shared-memory index.
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise sqlite3.OperationalError(f"journal mode is {mode}, WAL is required")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT_BYTES}")
        with self._transaction("IMMEDIATE"):  # takes the write lock for good
            for statement in _SCHEMA:
                db.execute(statement)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            meta.setdefault("stream_id", secrets.token_hex(8))
            self._set_meta(stream_id=meta["stream_id"], open=1)
        self.stream_id: str = str(meta["stream_id"])
        count, value_bytes, max_seq = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(length(value)), 0), COALESCE(MAX(seq), 0) FROM sample"
        ).fetchone()
        self._count: int = count
        self._bytes: int = value_bytes + count * ROW_OVERHEAD_BYTES
        last_seq = max(int(meta.get("last_seq", 0)), max_seq)
        reserved = int(meta.get("seq_reserved", 0))
        if meta.get("open") == 1:
            # Not closed cleanly: a power cut may have taken the last appends, whose numbers the
            # cloud may have seen. Continue after the reserved block, which was synced to disk.
            last_seq = max(last_seq, reserved)
        self._last_seq: int = last_seq
        self._reserved: int = max(reserved, last_seq)
        self._dropped: int = int(meta.get("dropped_total", 0))
        self._path_ids: dict[str, int] = {}
        self._paths: dict[int, str] = {}
        for path_id, path in db.execute("SELECT id, path FROM signal_path"):
            self._path_ids[path] = path_id
            self._paths[path_id] = path

    # --- state --------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The last sequence number ever assigned (0 for a new buffer); the next is one more."""
        return self._last_seq

    @property
    def dropped_total(self) -> int:
        """How many samples the bound has dropped over the life of the file."""
        return self._dropped

    @property
    def pending_bytes(self) -> int:
        """The bytes the bound counts: encoded values plus a fixed estimate per row."""
        return self._bytes

    def pending_count(self) -> int:
        """Samples waiting for the cloud's ack."""
        return self._count

    @property
    def first_pending_seq(self) -> int | None:
        row = self._query("SELECT MIN(seq) FROM sample").fetchone()
        return None if row[0] is None else int(row[0])

    # --- appending ----------------------------------------------------------------------------

    def append(self, drafts: Sequence[SampleDraft]) -> list[BufferedSample]:
        """Assign the next sequence numbers and store the samples, in one transaction.

        When this returns the samples survive a crash of the process. If the append takes the
        buffer over its bound, older samples are dropped by rank (see the module docstring);
        a heartbeat just appended can be among them when nothing older of its rank is left.
        """
        if not drafts:
            return []
        new_paths: dict[str, int] = {}
        path_ids = self._path_ids
        pack = self._pack
        rows: list[tuple[int, int, int, bytes, int]] = []
        samples: list[BufferedSample] = []
        added_bytes = 0
        seq = self._last_seq
        for draft in drafts:
            ts_us, path, value, kind, state = draft
            rank = _RANKS.get((kind, state))
            if rank is None:
                raise InvalidInputError(
                    f"sample kind {kind!r} of {path}: must be 'change' or 'heartbeat'"
                )
            path_id = path_ids.get(path) or new_paths.get(path)
            if path_id is None:
                path_id = new_paths[path] = len(path_ids) + len(new_paths) + 1
            try:
                if not _finite(value):  # the wire refuses NaN and infinities: no poison samples
                    raise ValueError(value)
                if path not in path_ids:  # a path is checked once, when first seen
                    Sample(1, max(ts_us, 0), path, value, WireKind(kind))
                if ts_us < 0:
                    raise ValueError(ts_us)
                blob = pack(value)
            except (TypeError, ValueError, OverflowError, LinkError) as exc:
                raise InvalidInputError(
                    f"sample {path}={value!r} at {ts_us} cannot be buffered: it must be a VSS "
                    "path with a VSS value (bool, int, finite float, str, a tuple of those, or "
                    f"None) at a time >= 0 ({exc})"
                ) from exc
            seq += 1
            rows.append((seq, ts_us, path_id, blob, rank))
            samples.append(BufferedSample(seq, ts_us, path, value, kind))
            added_bytes += len(blob)
        added_bytes += len(rows) * ROW_OVERHEAD_BYTES
        db = self._db
        reserve = seq > self._reserved  # this commit also reserves the next block: synced
        try:
            with self._transaction(sync_full=reserve):
                if new_paths:
                    db.executemany(
                        "INSERT INTO signal_path (id, path) VALUES (?, ?)",
                        [(i, p) for p, i in new_paths.items()],
                    )
                db.executemany("INSERT INTO sample VALUES (?, ?, ?, ?, ?)", rows)
                pending_bytes = self._bytes + added_bytes
                dropped, freed = 0, 0
                if pending_bytes > self.max_bytes:
                    dropped, freed = self._drop_oldest(pending_bytes - self._low_water)
                    self._set_meta(dropped_total=self._dropped + dropped)
                self._set_meta(last_seq=seq)
                if reserve:
                    self._set_meta(seq_reserved=seq + SEQ_RESERVE_BLOCK)
        except sqlite3.Error as exc:
            raise TelemetryBufferError(f"cannot append to {self.path}: {exc}") from exc
        if reserve:
            self._reserved = seq + SEQ_RESERVE_BLOCK
        for path, path_id in new_paths.items():
            self._path_ids[path] = path_id
            self._paths[path_id] = path
        self._last_seq = seq
        self._count += len(rows) - dropped
        self._bytes = pending_bytes - freed
        if dropped:
            self._dropped += dropped
            self._unlogged_drops += dropped
        if self._unlogged_drops or self._bytes > self.max_bytes:
            self._log_over_bound()
        return samples

    def _drop_oldest(self, excess: int) -> tuple[int, int]:
        """Delete the oldest samples by rank until ``excess`` bytes are freed: (count, bytes)."""
        dropped, freed = 0, 0
        for rank in _DROPPABLE:
            if freed >= excess:
                break
            cutoff, n = None, 0
            cursor = self._db.execute(
                "SELECT seq, length(value) FROM sample WHERE drop_rank = ? ORDER BY seq", (rank,)
            )
            for seq, size in cursor:
                freed += size + ROW_OVERHEAD_BYTES
                n += 1
                cutoff = seq
                if freed >= excess:
                    break
            cursor.close()
            if cutoff is not None:
                self._db.execute(
                    "DELETE FROM sample WHERE drop_rank = ? AND seq <= ?", (rank, cutoff)
                )
                dropped += n
        return dropped, freed

    def _log_over_bound(self) -> None:
        """Warn about drops and about state changes over the bound, at most once a minute."""
        now = self._clock.monotonic()
        if self._warned_at is not None and now - self._warned_at < _WARN_EVERY_S:
            return
        self._warned_at = now
        if self._unlogged_drops:
            log.warning(
                "telemetry buffer %s over its bound of %d bytes: dropped %d of the oldest "
                "heartbeats and measurement changes (%d in all)",
                self.path,
                self.max_bytes,
                self._unlogged_drops,
                self._dropped,
            )
            self._unlogged_drops = 0
        if self._bytes > self.max_bytes:
            log.warning(
                "telemetry buffer %s holds %d bytes, over its bound of %d, in state changes: "
                "these are never dropped; they leave when the cloud acks them",
                self.path,
                self._bytes,
                self.max_bytes,
            )

    # --- reading and acking -------------------------------------------------------------------

    def read(
        self, after_seq: int = 0, limit: int = 500, *, contiguous: bool = False
    ) -> list[BufferedSample]:
        """Up to ``limit`` pending samples with a sequence number above ``after_seq``, oldest
        first; with ``contiguous``, only up to the first gap (one ``TelemetryBatch``'s worth)."""
        if limit < 1:
            raise InvalidInputError(f"read limit {limit}: must be >= 1")
        rows = self._query(
            "SELECT seq, ts_us, path_id, value, drop_rank FROM sample WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        if contiguous and rows and rows[-1][0] - rows[0][0] != len(rows) - 1:
            first = rows[0][0]
            end = next(i for i, row in enumerate(rows) if row[0] != first + i)
            rows = rows[:end]
        paths, unpack = self._paths, msgpack.unpackb
        return [
            BufferedSample(seq, ts_us, paths[i], unpack(blob, use_list=False), _KIND_OF_RANK[rank])
            for seq, ts_us, i, blob, rank in rows
        ]

    def renumber_above(self, floor: int) -> int:
        """Move every sequence number (pending and future) above ``floor``, keeping order.

        For a cloud that has stored numbers this buffer never gave out: the buffer file was lost
        or replaced, and samples under those numbers would be taken for resends and ignored.
        Returns the shift (0 when nothing needed to move).
        """
        if floor <= self._last_seq:
            return 0
        shift = floor
        try:
            with self._transaction(sync_full=True):
                # Every new number is above every old one, so no row collides with another.
                self._db.execute("UPDATE sample SET seq = seq + ?", (shift,))
                self._set_meta(
                    last_seq=self._last_seq + shift,
                    seq_reserved=self._last_seq + shift + SEQ_RESERVE_BLOCK,
                )
        except sqlite3.Error as exc:
            raise TelemetryBufferError(f"cannot renumber {self.path}: {exc}") from exc
        self._last_seq += shift
        self._reserved = self._last_seq + SEQ_RESERVE_BLOCK
        return shift

    def ack(self, up_to_seq: int) -> int:
        """Remove every sample up to and including ``up_to_seq``; returns how many. Idempotent."""
        if up_to_seq > self._last_seq:
            raise InvalidAckError(
                f"ack up to seq {up_to_seq} for telemetry buffer {self.path}: the car has only "
                f"assigned up to {self._last_seq}"
            )
        db = self._db
        try:
            with self._transaction():
                count, value_bytes = db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(length(value)), 0) FROM sample WHERE seq <= ?",
                    (up_to_seq,),
                ).fetchone()
                if count:
                    db.execute("DELETE FROM sample WHERE seq <= ?", (up_to_seq,))
        except sqlite3.Error as exc:
            raise TelemetryBufferError(f"cannot ack in {self.path}: {exc}") from exc
        self._count -= count
        self._bytes -= value_bytes + count * ROW_OVERHEAD_BYTES
        return int(count)

    @contextlib.contextmanager
    def _transaction(self, mode: str = "", *, sync_full: bool = False) -> Iterator[None]:
        db = self._db
        if sync_full:
            db.execute("PRAGMA synchronous=FULL")
        try:
            db.execute(f"BEGIN {mode}")
            try:
                yield
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            if sync_full:
                db.execute(f"PRAGMA synchronous={self._synchronous}")

    def _set_meta(self, **values: object) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def _query(self, sql: str, params: tuple[int, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise TelemetryBufferError(f"cannot read {self.path}: {exc}") from exc

    # --- life ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Mark the file closed cleanly (the sequence continues without a jump) and close it."""
        if self._closed:
            return
        self._closed = True
        # If this fails the next open takes it for a crash: the sequence jumps, nothing is lost.
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("DELETE FROM meta WHERE key = 'open'")
        self._db.close()

    def __enter__(self) -> TelemetryBuffer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
