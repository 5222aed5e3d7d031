"""The frame codec: every message survives a round trip, and each kind of bad frame is refused
with the right error, naming the message and the field."""

from __future__ import annotations

import time
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError, PeerError
from smartev.link import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    Ack,
    Challenge,
    Command,
    CommandState,
    CommandStatus,
    FrameTooLargeError,
    Hello,
    InvalidMessageError,
    LinkProtocolError,
    MalformedFrameError,
    Message,
    MessageType,
    PairingOffer,
    Ping,
    Refusal,
    RefusalCode,
    Sample,
    SampleKind,
    TelemetryBatch,
    UnsupportedVersionError,
    Welcome,
    codec,
    decode,
    encode,
    refusal_for,
)

from .strategies import MESSAGE_STRATEGIES

EPOCH = bytes(range(16))
NONCE = bytes(range(32))
T0_US = 1_760_000_000_000_000


def frame(*items: Any) -> bytes:
    """A hand-made frame: any msgpack array, valid or not."""
    return msgpack.packb(list(items), use_bin_type=True)  # type: ignore[no-any-return]


def sample_wire(seq: int, path: str = "Vehicle.Speed", value: Any = 42.5, kind: int = 0) -> Any:
    return [seq, T0_US + seq, path, value, kind]


def batch_frame(first_seq: int, *samples: Any) -> bytes:
    return frame(1, MessageType.TELEMETRY_BATCH, first_seq, list(samples))


def refused(data: bytes, error: type[LinkProtocolError] = MalformedFrameError) -> str:
    with pytest.raises(error) as caught:
        decode(data)
    assert type(caught.value) is error
    return str(caught.value)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("message_class", list(MESSAGE_STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_message_survives_a_round_trip(message_class: type, data: st.DataObject) -> None:
    message: Message = data.draw(MESSAGE_STRATEGIES[message_class])
    decoded = decode(encode(message))
    assert decoded == message
    # == cannot tell True from 1 or 1 from 1.0; repr can.
    assert repr(decoded) == repr(message)


def test_every_message_type_has_a_strategy_and_a_tag() -> None:
    classes = {c.message_type for c in MESSAGE_STRATEGIES}  # type: ignore[attr-defined]
    assert classes == set(MessageType)


def test_the_frame_is_an_array_of_version_tag_and_fields_in_dataclass_order() -> None:
    assert encode(Ack(up_to_seq=5)) == bytes([0x93, 0x01, 0x07, 0x05])
    hello = Hello("car:VIN1", 1, "smartev 0.1", EPOCH, None)
    assert msgpack.unpackb(encode(hello)) == [1, 1, "car:VIN1", 1, "smartev 0.1", EPOCH, None]
    status = CommandStatus("cmd-1", CommandState.EXECUTED, "", T0_US, 80)
    assert msgpack.unpackb(encode(status)) == [1, 9, "cmd-1", "executed", "", T0_US, 80]
    batch = TelemetryBatch(
        7,
        (
            Sample(7, T0_US, "Vehicle.Speed", 12.5),
            Sample(8, T0_US + 1, "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen", True, "heartbeat"),
        ),
    )
    assert msgpack.unpackb(encode(batch)) == [
        1,
        6,
        7,
        [
            [7, T0_US, "Vehicle.Speed", 12.5, 0],
            [8, T0_US + 1, "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen", True, 1],
        ],
    ]


def test_enum_fields_accept_their_wire_strings() -> None:
    assert Sample(0, 0, "Vehicle.Speed", 1.0, "heartbeat").kind is SampleKind.HEARTBEAT  # type: ignore[arg-type]
    assert Refusal("busy", "later", (1,)).code is RefusalCode.BUSY  # type: ignore[arg-type]
    assert CommandStatus("c", "failed", "", 0).state is CommandState.FAILED  # type: ignore[arg-type]


def test_array_values_and_extreme_numbers_round_trip() -> None:
    values = [(1, 2, 3), ("a", "b"), (), (True, 1.5), -(2**63), 2**64 - 1, -0.0, 1e308, None]
    samples = tuple(Sample(i, T0_US, "Vehicle.X", v) for i, v in enumerate(values))
    batch = TelemetryBatch(0, samples)
    assert decode(encode(batch)) == batch


# --- refused frames: the bytes themselves ------------------------------------------------------


def test_a_truncated_frame_is_malformed() -> None:
    whole = encode(Welcome("session-1", 10))
    for end in range(len(whole)):
        refused(whole[:end])
    assert "truncated" in refused(whole[:-1])


def test_trailing_bytes_are_malformed() -> None:
    assert "trailing bytes" in refused(encode(Ack(1)) + b"\x00")


def test_not_msgpack_and_not_binary_are_malformed() -> None:
    assert "not valid msgpack" in refused(b"\xc1")  # a byte msgpack never uses
    assert "empty" in refused(b"")
    with pytest.raises(MalformedFrameError, match="must be binary"):
        decode("[1, 7, 5]")  # type: ignore[arg-type]  # a WebSocket text frame


def test_invalid_utf8_in_a_string_is_malformed() -> None:
    data = bytearray(frame(1, MessageType.WELCOME, "abc", 1))
    data[data.index(b"abc")] = 0xFF
    refused(bytes(data))


def test_maps_and_extension_types_are_malformed() -> None:
    refused(msgpack.packb({"version": 1, "type": 7}))
    refused(frame(1, MessageType.ACK, {}))
    refused(frame(1, MessageType.ACK, msgpack.ExtType(5, b"x")))
    refused(frame(1, MessageType.ACK, msgpack.ExtType(5, b"")))
    refused(msgpack.packb([1, 10, msgpack.Timestamp(1, 0)]))


def test_a_frame_that_is_not_an_array_of_version_and_tag_is_malformed() -> None:
    for value in (1, "hello", b"\x01\x07", None, []):
        assert "[version, type_tag" in refused(msgpack.packb(value))
    refused(frame(1))


def test_deeply_nested_arrays_are_refused_cleanly() -> None:
    assert "nests" in refused(b"\x91" * 100_000 + b"\xc0")
    refused(b"\x91" * 100_000)
    refused(frame(1, MessageType.ACK, [[[[[[1]]]]]]))


def test_nested_headers_claiming_huge_arrays_are_refused_before_anything_is_built() -> None:
    # ~5 KB of array headers, each claiming a million items: without the first checking pass the
    # unpacker would allocate each level's array up front.
    bomb = (b"\xdd" + (1_000_000).to_bytes(4, "big")) * 1000
    started = time.perf_counter()
    refused(bomb)
    elapsed = time.perf_counter() - started
    print(f"nested-header bomb refused in {elapsed * 1e3:.2f} ms")


def test_length_claims_beyond_the_frame_are_refused() -> None:
    refused(b"\xdb\xff\xff\xff\xff")  # a 4 GiB string
    refused(b"\xc6\xff\xff\xff\xff")  # a 4 GiB bin
    refused(b"\xdd\xff\xff\xff\xff")  # a 4 G-item array


# --- refused frames: size, checked before parsing ----------------------------------------------


def test_an_oversized_frame_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the frame was parsed")

    monkeypatch.setattr(codec.msgpack, "unpackb", never)
    monkeypatch.setattr(codec.msgpack, "Unpacker", never)
    huge = bytes(100 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(FrameTooLargeError) as caught:
        decode(huge)
    print(f"100 MiB frame refused in {(time.perf_counter() - started) * 1e6:.1f} µs")
    assert caught.value.size_bytes == len(huge)
    assert caught.value.limit_bytes == MAX_FRAME_BYTES
    assert caught.value.refusal_code is RefusalCode.TOO_LARGE
    assert f"limit is {MAX_FRAME_BYTES} bytes" in str(caught.value)


def test_the_size_limit_is_per_call() -> None:
    data = encode(Hello("car-1", 1, "x" * 100, EPOCH, 3))
    assert decode(data, max_bytes=len(data)) == decode(data)
    with pytest.raises(FrameTooLargeError, match=f"frame of {len(data)} bytes"):
        decode(data, max_bytes=len(data) - 1)


# --- refused frames: version and type ----------------------------------------------------------


@pytest.mark.parametrize("version", [0, 2, 3, 255, -1, 2**64 - 1])
def test_another_version_is_refused_naming_the_supported_ones(version: int) -> None:
    with pytest.raises(UnsupportedVersionError) as caught:
        decode(frame(version, MessageType.ACK, 5))
    error = caught.value
    assert error.version == version
    assert error.supported == SUPPORTED_VERSIONS
    assert error.refusal_code is RefusalCode.UNSUPPORTED_VERSION
    assert str(error) == (f"unsupported protocol version {version}: this end speaks version(s) 1")


def test_another_version_is_refused_even_with_an_unknown_tag_or_layout() -> None:
    with pytest.raises(UnsupportedVersionError):
        decode(frame(2, 200, ["v2", "fields"], b"x"))


def test_a_refusal_of_any_version_can_be_read() -> None:
    # A v2 peer refusing us in its own version: the Refusal layout never changes.
    refusal = decode(frame(2, MessageType.REFUSAL, "unsupported_version", "speak 2", [2, 3]))
    assert refusal == Refusal(RefusalCode.UNSUPPORTED_VERSION, "speak 2", (2, 3))
    with pytest.raises(UnsupportedVersionError):
        decode(frame(2, MessageType.REFUSAL, "unsupported_version"))


def test_the_version_must_be_an_integer() -> None:
    assert "version must be an integer" in refused(frame("1", MessageType.ACK, 5))
    refused(frame(True, MessageType.ACK, 5))
    refused(frame(1.0, MessageType.ACK, 5))


@pytest.mark.parametrize("tag", [0, 13, 99, -1, 2**64 - 1, True, "ack", None])
def test_an_unknown_type_tag_is_malformed(tag: object) -> None:
    assert "unknown message type tag" in refused(frame(PROTOCOL_VERSION, tag, 5))


def test_the_wrong_number_of_fields_is_malformed() -> None:
    assert refused(frame(1, MessageType.ACK)) == "malformed Ack frame: 0 fields, expected 1"
    assert "2 fields, expected 1" in refused(frame(1, MessageType.ACK, 1, 2))
    refused(frame(1, MessageType.HELLO, "car-1", 1, "sw", EPOCH))


# --- refused frames: fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ((MessageType.ACK, -1), "invalid Ack.up_to_seq -1: must be an integer 0.."),
        ((MessageType.ACK, "5"), "invalid Ack.up_to_seq '5'"),
        ((MessageType.ACK, True), "invalid Ack.up_to_seq True"),
        ((MessageType.ACK, 5.0), "invalid Ack.up_to_seq 5.0"),
        ((MessageType.ACK, 2**63), "invalid Ack.up_to_seq"),
        ((MessageType.ACK, None), "invalid Ack.up_to_seq None"),
        ((MessageType.PING, -5), "invalid Ping.ts_us -5"),
        ((MessageType.PAIRING_OFFER, bytes(31), 0), "invalid PairingOffer.code_sha256"),
        ((MessageType.PAIRING_OFFER, "ab" * 32, 0), "PairingOffer.code_sha256 'abab"),
        ((MessageType.PAIRING_OFFER, bytes(32), -1), "invalid PairingOffer.expires_at_us -1"),
        ((MessageType.PAIRING_OFFER, bytes(32), 1.5), "invalid PairingOffer.expires_at_us 1.5"),
        ((MessageType.WELCOME, "s 1", 0), "invalid Welcome.session_id 's 1'"),
        ((MessageType.WELCOME, "", 0), "invalid Welcome.session_id ''"),
        ((MessageType.WELCOME, "s" * 129, 0), "invalid Welcome.session_id"),
        ((MessageType.WELCOME, b"s-1", 0), "invalid Welcome.session_id b's-1'"),
        ((MessageType.HELLO, "car-1", 1, "sw", EPOCH[:15], None), "must be exactly 16 bytes"),
        ((MessageType.HELLO, "car-1", 1, "sw", EPOCH.hex(), None), "Hello.epoch"),
        ((MessageType.HELLO, "car-1", 0, "sw", EPOCH, None), "invalid Hello.protocol_version 0"),
        ((MessageType.HELLO, "car-1", 1, "s" * 129, EPOCH, None), "at most 128 characters"),
        ((MessageType.HELLO, "car-1", 1, "sw", EPOCH, -1), "invalid Hello.last_acked_seq -1"),
        ((MessageType.CHALLENGE, NONCE[:31], 0), "invalid Challenge.nonce"),
        ((MessageType.PROOF, b""), "invalid Proof.signature b'': must be 1..128 bytes"),
        ((MessageType.PROOF, bytes(129)), "must be 1..128 bytes long, not 129"),
        ((MessageType.REFUSAL, "sorry", "", [1]), "invalid Refusal.code 'sorry': must be one of"),
        ((MessageType.REFUSAL, "busy", "", [0]), "invalid Refusal.supported_versions[0] 0"),
        ((MessageType.REFUSAL, "busy", "", 1), "invalid Refusal.supported_versions 1"),
        ((MessageType.REFUSAL, "busy", "", [1] * 17), "must be a tuple of <= 16"),
        ((MessageType.COMMAND, "c-1", b""), "invalid Command.envelope"),
        ((MessageType.COMMAND, "c-1", "text"), "invalid Command.envelope 'text': must be bytes"),
        ((MessageType.COMMAND_STATUS, "c", "done", "", 0, None), "invalid CommandStatus.state"),
        ((MessageType.COMMAND_STATUS, "c", "failed", "", 0, b"v"), "CommandStatus.value b'v'"),
        ((MessageType.COMMAND_STATUS, "c", "failed", "x" * 1001, 0, None), "at most 1000"),
    ],
)
def test_a_field_that_breaks_its_rule_is_named(fields: tuple[Any, ...], expected: str) -> None:
    tag = MessageType(fields[0])
    message = refused(frame(PROTOCOL_VERSION, *fields))
    assert message.startswith(f"malformed {_class_name(tag)} frame: ")
    assert expected in message


def _class_name(tag: MessageType) -> str:
    return {c.message_type: c.__name__ for c in MESSAGE_STRATEGIES}[tag]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (sample_wire(-1), "samples[0]: invalid Sample.seq -1"),
        ([5, -1, "Vehicle.Speed", 1.0, 0], "invalid Sample.ts_us -1"),
        (sample_wire(5, path=""), "invalid Sample.path ''"),
        (sample_wire(5, path="Vehicle..Speed"), "invalid Sample.path 'Vehicle..Speed'"),
        (sample_wire(5, path="Vehicle.Speed."), "invalid Sample.path"),
        (sample_wire(5, path="1Vehicle.Speed"), "invalid Sample.path"),
        (sample_wire(5, path="Vehicle.Cabin Light"), "invalid Sample.path"),
        (sample_wire(5, path="Vehicle." + "A" * 300), "at most 256 characters"),
        (sample_wire(5, path=7), "invalid Sample.path 7"),
        (sample_wire(5, value=b"raw"), "invalid Sample.value b'raw'"),
        (sample_wire(5, value=float("nan")), "invalid Sample.value nan: must be a finite number"),
        (sample_wire(5, value=float("inf")), "must be a finite number"),
        (sample_wire(5, value=[1, [2]]), "invalid Sample.value[1] (2,)"),
        (sample_wire(5, value=[1, None]), "invalid Sample.value[1] None"),
        (sample_wire(5, value=[1.0, float("-inf")]), "invalid Sample.value[1] -inf"),
        (sample_wire(5, kind=2), "invalid samples[0] kind code 2"),
        (sample_wire(5, kind=True), "kind code True"),
        (sample_wire(5, kind="change"), "kind code 'change'"),
        ([5, T0_US, "Vehicle.Speed", 1.0], "samples[0] must be an array [seq, ts_us"),
        (5, "samples[0] must be an array"),
    ],
)
def test_a_bad_sample_is_named_by_its_index(sample: Any, expected: str) -> None:
    message = refused(batch_frame(5, sample))
    assert message.startswith("malformed TelemetryBatch frame: ")
    assert expected in message


def test_a_batch_must_be_contiguous_from_first_seq() -> None:
    gap = refused(batch_frame(5, sample_wire(5), sample_wire(7)))
    assert "invalid TelemetryBatch.samples[1].seq 7: must be 6" in gap
    assert "must be 4" in refused(batch_frame(3, sample_wire(3), sample_wire(5)))
    assert "samples[0].seq 6: must be 5" in refused(batch_frame(5, sample_wire(6)))
    assert "samples[1].seq 5: must be 6" in refused(batch_frame(5, sample_wire(5), sample_wire(5)))


def test_a_batch_is_never_empty() -> None:
    assert "non-empty tuple of Sample" in refused(batch_frame(5))
    assert "must be an array of samples" in refused(
        frame(1, MessageType.TELEMETRY_BATCH, 5, "samples")
    )


# --- errors and refusals -----------------------------------------------------------------------


def test_protocol_errors_are_the_peers_fault_and_map_to_refusals() -> None:
    errors = [
        MalformedFrameError("x"),
        FrameTooLargeError(10, 5),
        UnsupportedVersionError(2, (1,)),
        LinkProtocolError("Proof expected, got Ack", code=RefusalCode.UNEXPECTED),
    ]
    codes = [error.refusal_code for error in errors]
    assert codes == [
        RefusalCode.MALFORMED,
        RefusalCode.TOO_LARGE,
        RefusalCode.UNSUPPORTED_VERSION,
        RefusalCode.UNEXPECTED,
    ]
    for error in errors:
        assert isinstance(error, PeerError)
        refusal = refusal_for(error)
        assert refusal.code is error.refusal_code
        assert refusal.message == str(error)
        assert refusal.supported_versions == SUPPORTED_VERSIONS
        assert decode(encode(refusal)) == refusal


def test_a_refusal_message_is_cut_to_the_limit() -> None:
    assert len(refusal_for(MalformedFrameError("x" * 5000)).message) == 1000


def test_building_a_bad_message_is_the_callers_fault() -> None:
    with pytest.raises(InvalidMessageError, match="invalid Ack.up_to_seq -1") as caught:
        Ack(-1)
    assert isinstance(caught.value, InvalidInputError)
    assert not isinstance(caught.value, PeerError)
    with pytest.raises(InvalidMessageError, match=r"samples\[0\] 'x': must be a Sample"):
        TelemetryBatch(0, ("x",))  # type: ignore[arg-type]
    with pytest.raises(InvalidMessageError, match="non-empty tuple"):
        TelemetryBatch(0, [Sample(0, 0, "Vehicle.Speed", 1.0)])  # type: ignore[arg-type]
    with pytest.raises(InvalidMessageError, match="invalid Sample.kind 'stale'"):
        Sample(0, 0, "Vehicle.Speed", 1.0, "stale")  # type: ignore[arg-type]
    with pytest.raises(InvalidMessageError, match="must fit in 64 bits"):
        Sample(0, 0, "Vehicle.Speed", 2**64)
    with pytest.raises(InvalidMessageError, match="must be 1..65535"):
        Hello("car-1", 70000, "sw", EPOCH, None)
    with pytest.raises(InvalidMessageError, match="must be bytes"):
        Challenge(bytearray(32), 0)  # type: ignore[arg-type]


def test_messages_are_frozen() -> None:
    sample = Sample(0, 0, "Vehicle.Speed", 1.0)
    with pytest.raises(AttributeError):
        sample.seq = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Ping(1).ts_us = 2  # type: ignore[misc]
    assert hash(sample) == hash(Sample(0, 0, "Vehicle.Speed", 1.0))


def test_encode_refuses_what_cannot_be_sent() -> None:
    with pytest.raises(InvalidMessageError, match="cannot encode str: not a link message"):
        encode("hello")  # type: ignore[arg-type]
    with pytest.raises(InvalidMessageError, match="cannot encode Refusal"):
        encode(Refusal(RefusalCode.BUSY, "\ud800", (1,)))  # a lone surrogate has no UTF-8


def test_commands_and_statuses_carry_bytes_and_values_unchanged() -> None:
    command = Command("cmd-42", bytes(range(256)) * 4)
    assert decode(encode(command)) == command
    status = CommandStatus("cmd-42", CommandState.REJECTED, "unsafe_while_moving", T0_US)
    assert decode(encode(status)) == status


def test_a_pairing_offer_carries_only_the_code_hash_and_its_expiry() -> None:
    digest = bytes(range(32))
    offer = PairingOffer(digest, T0_US)
    assert msgpack.unpackb(encode(offer)) == [1, 12, digest, T0_US]
    assert decode(encode(offer)) == offer
    assert "1 fields, expected 2" in refused(frame(1, MessageType.PAIRING_OFFER, digest))
