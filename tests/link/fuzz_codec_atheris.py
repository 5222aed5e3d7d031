"""Coverage-guided fuzzing of the frame decoder with atheris (libFuzzer); not a pytest test.

    pip install atheris   # in a scratch environment: it is not a project dependency
    PYTHONPATH=src python tests/link/fuzz_codec_atheris.py -runs=100000 [CORPUS_DIR ...]

Every input must decode to a message that re-encodes to itself, or raise LinkProtocolError;
anything else (another exception, a hang past -timeout) is a crash that libFuzzer reports with
the input that caused it. A valid frame of every message type is always added as a seed corpus
(after any directories given, so new inputs go to the first of those), so that mutations reach
the field checks and not only the msgpack parser.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris  # type: ignore[import-not-found,unused-ignore]

with atheris.instrument_imports():
    from smartev.link import (
        Ack,
        Challenge,
        Command,
        CommandState,
        CommandStatus,
        Hello,
        LinkProtocolError,
        Message,
        PairingOffer,
        Ping,
        Pong,
        Proof,
        Refusal,
        RefusalCode,
        Sample,
        SampleKind,
        TelemetryBatch,
        Welcome,
        decode,
        encode,
        refusal_for,
    )

T0_US = 1_760_000_000_000_000
SEEDS: list[Message] = [
    Hello("car:5YJ3E1EA7KF000001", 1, "smartev 0.1.0", bytes(range(16)), 41),
    Challenge(bytes(range(32)), T0_US),
    Proof(bytes(range(64))),
    Welcome("session-7", 42),
    Refusal(RefusalCode.UNSUPPORTED_VERSION, "speak 1", (1,)),
    TelemetryBatch(
        42,
        (
            Sample(42, T0_US, "Vehicle.Speed", 12.5),
            Sample(43, T0_US + 1, "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen", False),
            Sample(44, T0_US + 2, "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current", 80),
            Sample(45, T0_US + 3, "Vehicle.Cabin.Infotainment.Media.Played.Source", "RADIO"),
            Sample(46, T0_US + 4, "Vehicle.X", (1, 2, 3), SampleKind.HEARTBEAT),
            Sample(47, T0_US + 5, "Vehicle.Y", None),
        ),
    ),
    Ack(47),
    Command("cmd-1", b"\x93\x01\x02\x03signed-envelope"),
    CommandStatus("cmd-1", CommandState.EXECUTED, "", T0_US, 21.5),
    Ping(T0_US),
    Pong(T0_US),
    PairingOffer(bytes(range(32)), T0_US),
]


def test_one_input(data: bytes) -> None:
    try:
        message = decode(data)
    except LinkProtocolError as error:
        encode(refusal_for(error))
        return
    if decode(encode(message)) != message:
        raise AssertionError(f"{message!r} does not survive a round trip")


def main() -> None:
    seeds = Path(tempfile.mkdtemp(prefix="link-seeds-"))
    for index, message in enumerate(SEEDS):
        (seeds / f"seed-{index:02d}").write_bytes(encode(message))
    atheris.Setup([*sys.argv, str(seeds)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
