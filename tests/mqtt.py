"""A private Mosquitto broker for tests: its own config in a temporary directory, listening on a
free loopback port, anonymous, no persistence; stoppable and restartable on the same port."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.net import free_port

MOSQUITTO = Path("/usr/sbin/mosquitto")
START_TIMEOUT_S = 10


class MosquittoError(RuntimeError):
    """The test broker could not be started."""


def find_mosquitto() -> Path | None:
    """The mosquitto binary (Debian's package, else one on PATH), or None if not installed."""
    if MOSQUITTO.is_file():
        return MOSQUITTO
    found = shutil.which("mosquitto")
    return Path(found) if found else None


class MosquittoBroker:
    """One mosquitto process at a time on ``host``:``port``; :meth:`stop` kills it (as a crash
    would: no clean goodbye to the clients) and :meth:`start` brings a fresh one back."""

    def __init__(self, binary: Path, directory: Path) -> None:
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = free_port()
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.config.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepts(self.host, self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise MosquittoError(f"mosquitto did not start on port {self.port}:\n{tail}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def running_broker(binary: Path, directory: Path) -> Iterator[MosquittoBroker]:
    """A started broker; killed on exit whatever happened."""
    broker = MosquittoBroker(binary, directory)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
