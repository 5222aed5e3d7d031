"""``smartev car run`` as a user runs it: a subprocess serving KUKSA gRPC, read by kuksa-client."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kuksa_client.grpc import Datapoint, VSSClient

from tests.net import free_port

SMARTEV = str(Path(sys.executable).parent / "smartev")
SOC = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTEV_")}
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    return clean


@pytest.fixture
def car(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            SMARTEV,
            "car",
            "run",
            "--grpc",
            f"127.0.0.1:{port}",
            "--speed",
            "30",
            "--cycle",
            "udds",
            "--data-dir",
            str(tmp_path / "car"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "is up" not in line:
        proc.kill()
        pytest.fail(f"car did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_car_serves_kuksa_clients_and_stops_cleanly(
    car: tuple[subprocess.Popen[str], int], tmp_path: Path
) -> None:
    proc, port = car
    with VSSClient("127.0.0.1", port) as client:
        values = client.get_current_values(
            ["Vehicle.VehicleIdentification.VIN", "Vehicle.Speed", "Vehicle.TraveledDistance"]
        )
        assert values["Vehicle.VehicleIdentification.VIN"].value == "LSJWH4097PN000001"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the car drives UDDS at 30x: the odometer moves
            odo = client.get_current_values(["Vehicle.TraveledDistance"])[
                "Vehicle.TraveledDistance"
            ]
            if odo is not None and odo.value and odo.value > 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the odometer never moved")
        client.set_target_values({SOC: Datapoint(90)})
        deadline = time.monotonic() + 20
        while client.get_current_values([SOC])[SOC].value != 90:
            assert time.monotonic() < deadline, "the charge limit never reached 90"
            time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert proc.stdout is not None
    assert "car stopped." in proc.stdout.read()
    assert (tmp_path / "car" / "car-values.db").exists()


def test_bad_options_are_one_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SMARTEV, "car", "run", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )

    result = run("--grpc", "nonsense")
    assert result.returncode == 1
    assert "must be HOST:PORT" in result.stderr
    result = run("--vehicle", "nope")
    assert result.returncode == 1
    assert "unknown vehicle 'nope'" in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--grpc", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert str(port) in result.stderr
    assert "Traceback" not in result.stderr
