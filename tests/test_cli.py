"""The ``smartev`` command as a user runs it: a real subprocess on a real port."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartev import __version__
from tests.net import free_port

SMARTEV = str(Path(sys.executable).parent / "smartev")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTEV_")}
    clean["XDG_DATA_HOME"] = str(tmp_path / "data")
    clean["NO_COLOR"] = "1"
    return clean


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SMARTEV, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_version(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["--version"], env, tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"smartev {__version__}"


def test_help_documents_every_command(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["--help"], env, tmp_path)
    assert result.returncode == 0
    for command in ("up", "doctor"):
        assert command in result.stdout
        sub = run([command, "--help"], env, tmp_path)
        assert sub.returncode == 0
        assert "Usage:" in sub.stdout


def test_doctor_reports_python_ports_and_services(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    result = run(["doctor"], {**env, "SMARTEV_PORT": str(port)}, tmp_path)
    assert result.returncode == 0, result.stderr
    for item in ("Python", f"127.0.0.1:{port} free", "PostgreSQL", "Mosquitto", "Chromium"):
        assert item in result.stdout


def test_doctor_fails_when_the_port_is_taken(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["doctor", "--config", "/nonexistent.toml"], env, tmp_path)
        assert result.returncode == 1
        assert "does not exist" in result.stderr
        result = run(["doctor"], {**env, "SMARTEV_PORT": str(port)}, tmp_path)
        assert result.returncode == 1
        assert "in use" in result.stdout
        assert "not ready: cloud app port" in result.stderr


class Running:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url


def start_up(env: dict[str, str], cwd: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    """`smartev up` on a free port, once it says it is up: the process and its address."""
    port = free_port()
    proc = subprocess.Popen(
        [SMARTEV, "up", "--port", str(port), "--speed", "60", *options],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server listens (or the process dies)
    if "smartev is up at" not in line:
        proc.kill()
        pytest.fail(
            f"smartev up did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    url = line.split("smartev is up at", 1)[1].split()[0]
    assert url == f"http://127.0.0.1:{port}/"
    return proc, url


@pytest.fixture
def running(env: dict[str, str], tmp_path: Path) -> Iterator[Running]:
    proc, url = start_up(env, tmp_path)
    yield Running(proc, url)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_health_and_stops_cleanly_on_signal(
    running: Running, stop_signal: signal.Signals
) -> None:
    status, body = get(running.url + "healthz")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["version"] == __version__
    assert health["clock_speed"] == 60
    assert health["clock_utc"].endswith("Z")

    status, page = get(running.url)  # the web app
    assert status == 200
    assert b"smartev" in page

    started = time.monotonic()
    running.proc.send_signal(stop_signal)
    returncode = running.proc.wait(timeout=15)  # a hang guard, not a timing assertion
    elapsed = time.monotonic() - started
    out = running.proc.stdout.read() if running.proc.stdout else ""
    assert returncode == 0
    assert "smartev stopped." in out
    print(f"shutdown after {stop_signal.name} took {elapsed:.2f} s")


def test_simulated_clock_runs_at_the_asked_speed(running: Running) -> None:
    first = json.loads(get(running.url + "healthz")[1])
    wall0 = time.monotonic()
    time.sleep(0.5)
    second = json.loads(get(running.url + "healthz")[1])
    wall = time.monotonic() - wall0
    simulated = second["uptime_s"] - first["uptime_s"]
    # Ratio of simulated to real time measured in one run; generous bounds for a busy machine.
    assert 30 < simulated / wall < 90


def test_up_refuses_a_taken_port_in_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["up", "--port", str(port)], env, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: port {port} on 127.0.0.1 is already in use; stop what uses it or pick "
        "another with --port"
    ]
    assert result.stdout == ""


def test_up_rejects_bad_options(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["up", "--speed", "-5"], env, tmp_path)
    assert result.returncode == 1
    assert "setting 'speed' (from command line)" in result.stderr
    result = run(["up", "--port", "http"], env, tmp_path)
    assert result.returncode == 2  # typer's own usage error
    assert "Invalid value" in result.stderr


def test_up_needs_both_tls_files(env: dict[str, str], tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    result = run(["up", "--port", str(free_port()), "--tls-cert", str(cert)], env, tmp_path)
    assert result.returncode == 1
    assert "TLS needs both tls_cert and tls_key" in result.stderr


def test_up_reset_refuses_a_directory_smartev_did_not_make(
    env: dict[str, str], tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"\xff\xd8")
    result = run(
        ["up", "--port", str(free_port()), "--data-dir", str(photos), "--reset"], env, tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {photos} does not look like a smartev data directory (no .smartev-data or "
        "cloud.db in it): not resetting it; give --data-dir the directory smartev made"
    ]
    assert [p.name for p in photos.iterdir()] == ["cat.jpg"]


def test_up_reset_starts_a_new_world_in_the_data_dir_and_prints_both_logins(
    env: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "world"
    (data / "demo").mkdir(parents=True)
    (data / ".smartev-data").write_text("a world ran here\n")
    (data / "demo" / "password").write_text("the-old-password\n")
    (data / "notes.txt").write_text("mine")
    proc, _ = start_up(env, tmp_path, "--data-dir", str(data), "--reset")
    try:
        assert proc.stdout is not None
        owner = proc.stdout.readline()
        family = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)  # a hang guard, not a timing assertion
    assert owner.startswith("log in as demo@smartev.example / ")
    assert "the-old-password" not in owner
    password = owner.split(" / ")[1].strip()
    assert (data / "demo" / "password").read_text().strip() == password
    assert family.startswith("family member: family@smartev.example / ")
    assert family.rstrip().endswith("(role guest for the car)")
    assert (data / "notes.txt").read_text() == "mine"
    assert (data / "cloud.db").is_file()
    # The default data directory was not used.
    assert not (tmp_path / "data" / "smartev").exists()
