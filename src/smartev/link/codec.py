"""The frame codec: messages to msgpack bytes and back, refusing any bad frame with a clean error.

A frame is one msgpack array ``[version, type_tag, field, ...]`` with the message's fields in the
order of its dataclass, except that a TelemetryBatch's samples are arrays
``[seq, ts_us, path, value, kind_code]`` (kind 0 = change, 1 = heartbeat). Enums travel as their
string values, ``bytes`` as msgpack bin, tuples as arrays, ``None`` as nil. Any change of layout
takes a new version; ``[version, type_tag]`` and the Refusal layout never change, so a peer of any
version can read why it is being refused. ``docs/link.md`` has the full table.

:func:`decode` raises only :class:`~smartev.link.errors.LinkProtocolError` subclasses, whatever
the bytes: a frame over the limit is refused before parsing, and a malformed one before any
message is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # ships no type information

from smartev.link.errors import (
    FrameTooLargeError,
    InvalidMessageError,
    LinkError,
    MalformedFrameError,
    UnsupportedVersionError,
)
from smartev.link.messages import (
    MAX_TEXT_CHARS,
    Ack,
    Challenge,
    Command,
    CommandStatus,
    Hello,
    Message,
    MessageType,
    PairingOffer,
    Ping,
    Pong,
    Proof,
    Refusal,
    Sample,
    SampleKind,
    TelemetryBatch,
    Welcome,
)
from smartev.spec.errors import show_value

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
MAX_FRAME_BYTES = 1024 * 1024

_V = PROTOCOL_VERSION
_HEARTBEAT = SampleKind.HEARTBEAT
_KIND_BY_CODE: dict[int, SampleKind] = {0: SampleKind.CHANGE, 1: SampleKind.HEARTBEAT}
_CLASSES: dict[int, type[Message]] = {
    MessageType.HELLO: Hello,
    MessageType.CHALLENGE: Challenge,
    MessageType.PROOF: Proof,
    MessageType.WELCOME: Welcome,
    MessageType.REFUSAL: Refusal,
    MessageType.TELEMETRY_BATCH: TelemetryBatch,
    MessageType.ACK: Ack,
    MessageType.COMMAND: Command,
    MessageType.COMMAND_STATUS: CommandStatus,
    MessageType.PING: Ping,
    MessageType.PONG: Pong,
    MessageType.PAIRING_OFFER: PairingOffer,
}
_ARITY: dict[type[Message], int] = {cls: len(fields(cls)) for cls in _CLASSES.values()}
_SAMPLE_FIELDS = len(fields(Sample))


def _encode_batch(m: TelemetryBatch) -> list[object]:
    samples = [
        (s.seq, s.ts_us, s.path, s.value, 1 if s.kind is _HEARTBEAT else 0) for s in m.samples
    ]
    return [_V, MessageType.TELEMETRY_BATCH, m.first_seq, samples]


# One function per message spells its layout; enums pack as the strings they are.
_ENCODERS: dict[type[Any], Callable[[Any], list[object]]] = {
    TelemetryBatch: _encode_batch,
    Ack: lambda m: [_V, MessageType.ACK, m.up_to_seq],
    Hello: lambda m: [
        _V,
        MessageType.HELLO,
        m.car_id,
        m.protocol_version,
        m.software,
        m.epoch,
        m.last_acked_seq,
    ],
    Challenge: lambda m: [_V, MessageType.CHALLENGE, m.nonce, m.server_time_us],
    Proof: lambda m: [_V, MessageType.PROOF, m.signature],
    Welcome: lambda m: [_V, MessageType.WELCOME, m.session_id, m.resume_from_seq],
    Refusal: lambda m: [_V, MessageType.REFUSAL, m.code, m.message, m.supported_versions],
    Command: lambda m: [_V, MessageType.COMMAND, m.command_id, m.envelope],
    CommandStatus: lambda m: [
        _V,
        MessageType.COMMAND_STATUS,
        m.command_id,
        m.state,
        m.reason,
        m.ts_us,
        m.value,
    ],
    Ping: lambda m: [_V, MessageType.PING, m.ts_us],
    Pong: lambda m: [_V, MessageType.PONG, m.ts_us],
    PairingOffer: lambda m: [_V, MessageType.PAIRING_OFFER, m.code_sha256, m.expires_at_us],
}


def encode(message: Message) -> bytes:
    """The frame for ``message`` in the current protocol version."""
    encoder = _ENCODERS.get(type(message))
    if encoder is None:
        raise InvalidMessageError(f"cannot encode {type(message).__name__}: not a link message")
    try:
        packed: bytes = msgpack.packb(encoder(message), use_bin_type=True)
        return packed
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a lone surrogate in a string
        raise InvalidMessageError(f"cannot encode {type(message).__name__}: {exc}") from exc


def decode(frame: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> Message:
    """The message in ``frame``; any frame that is not a valid message raises LinkProtocolError.

    ``max_bytes`` is checked before anything is parsed (a transport may pass a smaller limit
    during the handshake, whose frames are a few hundred bytes).
    """
    if not isinstance(frame, bytes | bytearray):
        raise MalformedFrameError(f"a frame must be binary, not {type(frame).__name__}")
    size = len(frame)
    if size > max_bytes:
        raise FrameTooLargeError(size, max_bytes)
    if size == 0:
        raise MalformedFrameError("empty frame")
    wire = _unpack(frame, size)
    if type(wire) is not tuple or len(wire) < 2:
        raise MalformedFrameError("a frame must be an array [version, type_tag, fields...]")
    version, tag = wire[0], wire[1]
    if type(version) is not int:
        raise MalformedFrameError(f"the protocol version must be an integer, not {version!r:.40}")
    cls = _CLASSES.get(tag) if type(tag) is int else None
    if version not in SUPPORTED_VERSIONS:
        if cls is Refusal and version > 0:
            # A refusal has the same layout in every version: read it, so that a peer learns why.
            try:
                return _build(Refusal, wire[2:])
            except MalformedFrameError as exc:
                raise UnsupportedVersionError(version, SUPPORTED_VERSIONS) from exc
        raise UnsupportedVersionError(version, SUPPORTED_VERSIONS)
    if cls is None:
        raise MalformedFrameError(f"unknown message type tag {tag!r:.40}")
    return _build(cls, wire[2:])


def refusal_for(error: LinkError) -> Refusal:
    """The Refusal to send a peer before closing because of ``error``."""
    return Refusal(
        code=error.refusal_code,
        message=str(error)[:MAX_TEXT_CHARS],
        supported_versions=SUPPORTED_VERSIONS,
    )


def _refuse_ext(code: int, data: bytes) -> object:
    raise ValueError(f"msgpack extension type {code} is not used by the link protocol")


def _unpack(frame: bytes, size: int) -> Any:
    # Every length is bounded by the frame's own size. Nothing is built until a first pass has
    # checked that the frame is complete msgpack: the unpacker allocates each array when it reads
    # its header, so without that pass a few KB of nested headers each claiming a million items
    # would cost ~100 ms of allocation before failing on missing data.
    limits = {
        "max_str_len": size,
        "max_bin_len": size,
        "max_array_len": size,
        "max_map_len": 0,
        "max_ext_len": 0,
    }
    try:
        checker = msgpack.Unpacker(max_buffer_size=size, **limits)
        checker.feed(frame)
        checker.skip()
        if checker.tell() != size:
            raise MalformedFrameError("trailing bytes after the message")
        return msgpack.unpackb(
            frame, raw=False, use_list=False, strict_map_key=True, ext_hook=_refuse_ext, **limits
        )
    except msgpack.OutOfData:
        raise MalformedFrameError(f"truncated frame: {size} bytes end inside a value") from None
    except msgpack.StackError:
        raise MalformedFrameError("frame nests arrays too deeply") from None
    except (ValueError, msgpack.UnpackException) as exc:  # the unpacker's ways to say "bad bytes"
        detail = str(exc) or type(exc).__name__
        raise MalformedFrameError(f"frame is not valid msgpack: {detail}") from exc


def _build(cls: type[Message], values: tuple[Any, ...]) -> Message:
    arity = _ARITY[cls]
    if len(values) != arity:
        raise MalformedFrameError(
            f"malformed {cls.__name__} frame: {len(values)} fields, expected {arity}"
        )
    try:
        if cls is TelemetryBatch:
            return TelemetryBatch(values[0], _samples(values[1]))
        return cls(*values)
    except InvalidMessageError as exc:
        raise MalformedFrameError(f"malformed {cls.__name__} frame: {exc}") from exc


def _samples(wire: object) -> tuple[Sample, ...]:
    if type(wire) is not tuple:
        raise InvalidMessageError(
            f"invalid TelemetryBatch.samples {show_value(wire)}: must be an array of samples"
        )
    samples = []
    kinds = _KIND_BY_CODE
    for index, item in enumerate(wire):
        if type(item) is not tuple or len(item) != _SAMPLE_FIELDS:
            raise InvalidMessageError(
                f"samples[{index}] must be an array [seq, ts_us, path, value, kind_code]"
            )
        seq, ts_us, path, value, code = item
        kind = kinds.get(code) if type(code) is int else None
        if kind is None:
            raise InvalidMessageError(
                f"invalid samples[{index}] kind code {code!r:.40}: must be 0 (change) or 1"
                " (heartbeat)"
            )
        try:
            samples.append(Sample(seq, ts_us, path, value, kind))
        except InvalidMessageError as exc:
            raise InvalidMessageError(f"samples[{index}]: {exc}") from exc
    return tuple(samples)


__all__ = [
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "decode",
    "encode",
    "refusal_for",
]
