"""A private, throwaway PostgreSQL cluster for one test session, and fresh databases inside it.

The cluster lives in a temporary directory, listens on 127.0.0.1 only with trust auth, and trades
durability for speed (fsync, synchronous_commit and full_page_writes off).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from tests.net import free_port

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
# The OS account that owns the cluster when the tests run as root (postgres refuses to run as root).
OS_USER = "postgres"
START_TIMEOUT_S = 60
SHM_FLOOR_BYTES = 1 << 30


class PostgresError(RuntimeError):
    """The test cluster could not be created, started or stopped."""


@dataclass(frozen=True)
class PostgresCluster:
    """A running cluster: where to reach it and as whom."""

    host: str
    port: int
    socket_dir: Path
    data_dir: Path
    bin_dir: Path
    user: str = SUPERUSER

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` as the superuser."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def find_bin_dir() -> Path | None:
    """``/usr/lib/postgresql/<highest major>/bin`` holding ``initdb``, or None if not installed."""
    found = [p.parent for p in PG_ROOT.glob("*/bin/initdb") if p.parent.parent.name.isdigit()]
    return max(found, key=lambda d: int(d.parent.name), default=None)


def libpq_url(url: str) -> str:
    """The libpq form of a SQLAlchemy ``postgresql+psycopg://`` URL, for psycopg.connect."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def running_cluster(bin_dir: Path, *, durable: bool = False) -> Iterator[PostgresCluster]:
    """Create and start a cluster with the binaries in ``bin_dir``; stop and delete it on exit.

    ``durable``: on disk with fsync, synchronous commits and full page writes, as a real server
    runs (for benchmarks); by default on tmpfs with all three off (for tests)."""
    as_root = os.geteuid() == 0
    # Not under pytest's tmp_path: its parents are 0700 root, which the postgres account can't
    # traverse. The socket path also has to stay short (about 100 bytes).
    parent = None if durable else _scratch_parent()
    base = Path(tempfile.mkdtemp(prefix="smartev-pg-", dir=parent))
    try:
        if as_root:
            shutil.chown(base, OS_USER, OS_USER)
        _initdb(bin_dir, base / "data", as_root=as_root)
        # The port is chosen only now, right before the start, so nothing else takes it meanwhile.
        cluster = PostgresCluster(
            host="127.0.0.1",
            port=free_port(),
            socket_dir=base,
            data_dir=base / "data",
            bin_dir=bin_dir,
        )
        _configure(cluster, durable=durable)
        log = base / "server.log"
        try:
            _run(
                [
                    str(bin_dir / "pg_ctl"),
                    *("start", "-w", "-t", str(START_TIMEOUT_S)),
                    *("-D", str(cluster.data_dir), "-l", str(log)),
                ],
                as_root=as_root,
                cwd=base,
                what="start PostgreSQL",
            )
            with _watchdog(cluster, as_root=as_root):
                yield cluster
        finally:
            _stop(cluster, as_root=as_root)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def temporary_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url``; dropped on exit. Yields its URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as admin:
        # Nobody connects to template0, so the copy can't fail with "source database is being
        # accessed by other users" while another test's engine lingers.
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq_url(admin_url), autocommit=True) as admin:
            # FORCE terminates the test's leftover connections (e.g. an engine never disposed).
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _scratch_parent() -> str | None:
    """/dev/shm when it is a roomy tmpfs, else the usual temp directory (None).

    Measured here: on /dev/shm a CREATE DATABASE takes 20-40 ms and the cluster starts in ~1 s;
    on a VM's disk the same copy takes 130-400 ms even with fsync off, and the start ~1.5 s.
    Docker's default /dev/shm is 64 MB, too small for a cluster, hence the floor.
    """
    shm = "/dev/shm"
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    roomy = stat.f_bavail * stat.f_frsize >= SHM_FLOOR_BYTES
    return shm if roomy and os.access(shm, os.W_OK | os.X_OK) else None


def _initdb(bin_dir: Path, data_dir: Path, *, as_root: bool) -> None:
    _run(
        [
            str(bin_dir / "initdb"),
            *("-D", str(data_dir), "-U", SUPERUSER),
            *("-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"),
        ],
        as_root=as_root,
        cwd=data_dir.parent,
        what="initdb",
    )


def _configure(cluster: PostgresCluster, *, durable: bool) -> None:
    # Replace initdb's pg_hba.conf: the unix socket (in a private 0700 directory) and IPv4
    # loopback only.
    (cluster.data_dir / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 trust\n"
    )
    settings = {
        "listen_addresses": f"'{cluster.host}'",
        "port": str(cluster.port),
        "unix_socket_directories": f"'{cluster.socket_dir}'",
        "fsync": "on" if durable else "off",
        "synchronous_commit": "on" if durable else "off",
        "full_page_writes": "on" if durable else "off",
    }
    with (cluster.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# smartev tests\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


@contextlib.contextmanager
def _watchdog(cluster: PostgresCluster, *, as_root: bool) -> Iterator[None]:
    """Stop and delete the cluster should this process die without running its teardown
    (SIGKILL, a CI timeout): the postmaster is a daemon and would otherwise outlive it."""
    stop = [str(cluster.bin_dir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(cluster.data_dir)]
    if as_root:
        stop = ["runuser", "-u", OS_USER, "--", *stop]
    script = 'd=$1; shift; while kill -0 "$0" 2>/dev/null; do sleep 1; done; "$@"; rm -rf "$d"'
    argv = ["sh", "-c", script, str(os.getpid()), str(cluster.socket_dir), *stop]
    # Its own session: a Ctrl-C aimed at pytest must not kill the watchdog before the teardown.
    watchdog = subprocess.Popen(
        argv,
        env=_tool_env(),
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(watchdog.pid, signal.SIGKILL)  # the shell and its sleep
        watchdog.wait()


def _stop(cluster: PostgresCluster, *, as_root: bool) -> None:
    """Stop the server however far it got; leave no postgres process behind."""
    pid = _postmaster_pid(cluster.data_dir)
    if pid is None:
        return
    with contextlib.suppress(PostgresError):
        _run(
            [
                str(cluster.bin_dir / "pg_ctl"),
                *("stop", "-w", "-m", "immediate", "-D", str(cluster.data_dir)),
            ],
            as_root=as_root,
            cwd=cluster.socket_dir,
            what="stop PostgreSQL",
        )
    # pg_ctl failed or timed out: kill the postmaster; its children exit when it dies.
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        if not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
    except OSError:
        return None
    return int(first) if first.strip().isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # The postmaster was pg_ctl's child, so it is reparented to init; until init reaps it, a
    # dead one lingers as a zombie that still answers signal 0.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _run(argv: list[str], *, as_root: bool, cwd: Path, what: str) -> None:
    if as_root:
        argv = ["runuser", "-u", OS_USER, "--", *argv]
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=_tool_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresError(f"could not {what}: {exc}") from exc
    if done.returncode != 0:
        log = cwd / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise PostgresError(
            f"could not {what}: {' '.join(argv)} exited {done.returncode}\n"
            f"{done.stdout}{done.stderr}{tail}"
        )


def _tool_env() -> dict[str, str]:
    # PGDATA, PGPORT, PGHOST... from the caller's shell must not redirect the tools.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}
