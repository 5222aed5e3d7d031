"""The link's messages: one frozen dataclass per message, each checking its own fields.

A message that exists is valid: construction refuses a bad field with
:class:`~smartev.link.errors.InvalidMessageError` naming the message, the field and the rule, and
the codec relies on that to validate decoded frames in one place. Types are exact (an ``int``
field takes an ``int``, not a ``bool``; a bytes field takes ``bytes``), because the same checks
run on what a peer sent. How messages look on the wire is :mod:`smartev.link.codec`'s business.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import ClassVar, NoReturn, TypeAlias

from smartev.link.errors import InvalidMessageError, RefusalCode
from smartev.spec.errors import show_value
from smartev.spec.vss_types import Value

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1
MAX_SEQ = INT64_MAX
MAX_TIME_US = INT64_MAX
MAX_VERSION = 0xFFFF
MAX_VERSIONS = 16
MAX_ID_CHARS = 128
MAX_PATH_CHARS = 256
MAX_SOFTWARE_CHARS = 128
MAX_TEXT_CHARS = 1000
EPOCH_BYTES = 16
NONCE_BYTES = 32
SHA256_BYTES = 32
MAX_SIGNATURE_BYTES = 128
MAX_ENVELOPE_BYTES = 64 * 1024

# Ids (car, session, command) are printable and safe in logs, URLs and file names: a VIN,
# "car:VIN", a UUID. Paths are VSS-shaped: dot-separated names, the first starting with a letter.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
# A car sends the same few hundred paths over and over and the regular expression costs more
# than the rest of a sample's checks together, so paths that passed are remembered. The memo is
# bounded (a peer sending ever new paths only falls back to the regular expression) and holds
# nothing but valid paths, so sharing it between connections and threads is harmless.
_valid_paths: set[str] = set()
_MAX_VALID_PATHS = 10_000

SampleValue: TypeAlias = Value | None
"""A sample's value: a VSS scalar, a VSS array as a tuple of scalars, or ``None`` (no value)."""


class MessageType(IntEnum):
    """The tag that says which message a frame holds. A tag is never reused for another layout."""

    HELLO = 1
    CHALLENGE = 2
    PROOF = 3
    WELCOME = 4
    REFUSAL = 5
    TELEMETRY_BATCH = 6
    ACK = 7
    COMMAND = 8
    COMMAND_STATUS = 9
    PING = 10
    PONG = 11
    PAIRING_OFFER = 12


class SampleKind(StrEnum):
    """Why a sample was sent: its value changed, or it repeats an unchanged value periodically."""

    CHANGE = "change"
    HEARTBEAT = "heartbeat"


class CommandState(StrEnum):
    """The car's report on a command (see the command life in the architecture notes)."""

    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXECUTED = "executed"
    FAILED = "failed"
    EXPIRED = "expired"


_KINDS: dict[str, SampleKind] = {kind.value: kind for kind in SampleKind}
_STATES: dict[str, CommandState] = {state.value: state for state in CommandState}
_CODES: dict[str, RefusalCode] = {code.value: code for code in RefusalCode}


def _fail(where: str, value: object, requirement: str) -> NoReturn:
    raise InvalidMessageError(f"invalid {where} {show_value(value)}: {requirement}")


def _check_uint(where: str, value: object, maximum: int = INT64_MAX) -> None:
    if type(value) is not int or not 0 <= value <= maximum:
        _fail(where, value, f"must be an integer 0..{maximum}")


def _check_bytes(where: str, value: object, low: int, high: int) -> None:
    if type(value) is not bytes:
        _fail(where, value, "must be bytes")
    if not low <= len(value) <= high:
        size = f"exactly {low}" if low == high else f"{low}..{high}"
        _fail(where, value, f"must be {size} bytes long, not {len(value)}")


def _check_text(where: str, value: object, maximum: int) -> None:
    if type(value) is not str:
        _fail(where, value, "must be a string")
    if len(value) > maximum:
        _fail(where, value, f"must be at most {maximum} characters, not {len(value)}")


def _check_id(where: str, value: object) -> None:
    if type(value) is not str:
        _fail(where, value, "must be a string")
    if len(value) > MAX_ID_CHARS or _ID.fullmatch(value) is None:
        _fail(
            where,
            value,
            f"must be 1..{MAX_ID_CHARS} of A-Z a-z 0-9 . _ : - starting with a letter or digit",
        )


def _is_vss_path(path: str) -> bool:
    if len(path) > MAX_PATH_CHARS or _PATH.fullmatch(path) is None:
        return False
    if len(_valid_paths) < _MAX_VALID_PATHS:
        _valid_paths.add(path)
    return True


def _check_value(where: str, value: object) -> None:
    if type(value) is float:
        if not math.isfinite(value):
            _fail(where, value, "must be a finite number")
    elif type(value) is int:
        if not INT64_MIN <= value <= UINT64_MAX:
            _fail(where, value, "must fit in 64 bits (-2**63..2**64-1)")
    elif type(value) is tuple:
        for index, item in enumerate(value):
            if item is None or type(item) is tuple:
                _fail(f"{where}[{index}]", item, "must be a bool, int, float or string")
            _check_value(f"{where}[{index}]", item)
    elif value is not None and type(value) is not bool and type(value) is not str:
        _fail(where, value, "must be None, a bool, int, float, string or a tuple of those")


def _coerce(message: object, name: str, members: Mapping[str, StrEnum]) -> None:
    """Accept an enum field given as its wire string, replacing it by the member."""
    value = getattr(message, name)
    member = members.get(value) if type(value) is str else None
    if member is None:
        allowed = ", ".join(members)
        _fail(f"{type(message).__name__}.{name}", value, f"must be one of {allowed}")
    object.__setattr__(message, name, member)


@dataclass(frozen=True, slots=True)
class Hello:
    """The car's first message: who it is, what it speaks, and since when it has been running."""

    message_type: ClassVar[MessageType] = MessageType.HELLO

    car_id: str
    protocol_version: int
    software: str
    epoch: bytes
    """16 random bytes drawn at each boot of the car: a proof cannot be replayed into another."""
    last_acked_seq: int | None
    """The highest sequence number the car saw acknowledged, or None if it knows of none."""

    def __post_init__(self) -> None:
        _check_id("Hello.car_id", self.car_id)
        if type(self.protocol_version) is not int or not 1 <= self.protocol_version <= MAX_VERSION:
            _fail("Hello.protocol_version", self.protocol_version, f"must be 1..{MAX_VERSION}")
        _check_text("Hello.software", self.software, MAX_SOFTWARE_CHARS)
        _check_bytes("Hello.epoch", self.epoch, EPOCH_BYTES, EPOCH_BYTES)
        if self.last_acked_seq is not None:
            _check_uint("Hello.last_acked_seq", self.last_acked_seq, MAX_SEQ)


@dataclass(frozen=True, slots=True)
class Challenge:
    """The cloud's answer to a Hello: a fresh nonce the car must sign."""

    message_type: ClassVar[MessageType] = MessageType.CHALLENGE

    nonce: bytes
    server_time_us: int

    def __post_init__(self) -> None:
        _check_bytes("Challenge.nonce", self.nonce, NONCE_BYTES, NONCE_BYTES)
        _check_uint("Challenge.server_time_us", self.server_time_us, MAX_TIME_US)


@dataclass(frozen=True, slots=True)
class Proof:
    """The car's signature over ``proof_payload(car_id, epoch, nonce)`` with its own key."""

    message_type: ClassVar[MessageType] = MessageType.PROOF

    signature: bytes

    def __post_init__(self) -> None:
        _check_bytes("Proof.signature", self.signature, 1, MAX_SIGNATURE_BYTES)


@dataclass(frozen=True, slots=True)
class Welcome:
    """The handshake is done; the cloud has stored the car's samples up to ``resume_from_seq``
    (0: none), so the car sends those after it."""

    message_type: ClassVar[MessageType] = MessageType.WELCOME

    session_id: str
    resume_from_seq: int
    """The first sequence number the cloud has not stored (0 when it has stored none)."""

    def __post_init__(self) -> None:
        _check_id("Welcome.session_id", self.session_id)
        _check_uint("Welcome.resume_from_seq", self.resume_from_seq, MAX_SEQ)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the sender is about to close the connection. Its layout is the same in every version."""

    message_type: ClassVar[MessageType] = MessageType.REFUSAL

    code: RefusalCode
    message: str
    supported_versions: tuple[int, ...]

    def __post_init__(self) -> None:
        if type(self.code) is not RefusalCode:
            _coerce(self, "code", _CODES)
        _check_text("Refusal.message", self.message, MAX_TEXT_CHARS)
        versions = self.supported_versions
        if type(versions) is not tuple or len(versions) > MAX_VERSIONS:
            _fail("Refusal.supported_versions", versions, f"must be a tuple of <= {MAX_VERSIONS}")
        for index, version in enumerate(versions):
            if type(version) is not int or not 1 <= version <= MAX_VERSION:
                _fail(f"Refusal.supported_versions[{index}]", version, f"must be 1..{MAX_VERSION}")


@dataclass(frozen=True, slots=True, init=False)
class Sample:
    """One value of one signal at one time, numbered by the car's telemetry sequence."""

    seq: int
    ts_us: int
    """When the value was observed: microseconds since the Unix epoch, UTC."""
    path: str
    value: SampleValue
    kind: SampleKind = SampleKind.CHANGE

    def __init__(
        self,
        seq: int,
        ts_us: int,
        path: str,
        value: SampleValue,
        kind: SampleKind = SampleKind.CHANGE,
    ) -> None:
        # Written by hand for the telemetry hot path: the generated frozen __init__ sets each
        # field through object.__setattr__, which made a decoded sample cost three times as much.
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            _check_uint("Sample.seq", seq, MAX_SEQ)
        if type(ts_us) is not int or not 0 <= ts_us <= MAX_TIME_US:
            _check_uint("Sample.ts_us", ts_us, MAX_TIME_US)
        if type(path) is not str or (path not in _valid_paths and not _is_vss_path(path)):
            _fail(
                "Sample.path",
                path,
                f"must be a VSS path of at most {MAX_PATH_CHARS} characters (Vehicle.Speed)",
            )
        if type(value) is float:
            if not math.isfinite(value):
                _fail("Sample.value", value, "must be a finite number")
        elif type(value) is not bool and type(value) is not str:
            _check_value("Sample.value", value)
        if type(kind) is not SampleKind:
            member = _KINDS.get(kind) if type(kind) is str else None
            if member is None:
                _fail("Sample.kind", kind, f"must be one of {', '.join(_KINDS)}")
            kind = member
        _set_seq(self, seq)
        _set_ts_us(self, ts_us)
        _set_path(self, path)
        _set_value(self, value)
        _set_kind(self, kind)


# The slots' own setters, which a frozen dataclass's __setattr__ does not guard.
_set_seq = Sample.__dict__["seq"].__set__
_set_ts_us = Sample.__dict__["ts_us"].__set__
_set_path = Sample.__dict__["path"].__set__
_set_value = Sample.__dict__["value"].__set__
_set_kind = Sample.__dict__["kind"].__set__


@dataclass(frozen=True, slots=True)
class TelemetryBatch:
    """Samples with contiguous sequence numbers from ``first_seq`` on; never empty."""

    message_type: ClassVar[MessageType] = MessageType.TELEMETRY_BATCH

    first_seq: int
    samples: tuple[Sample, ...]

    def __post_init__(self) -> None:
        _check_uint("TelemetryBatch.first_seq", self.first_seq, MAX_SEQ)
        samples = self.samples
        if type(samples) is not tuple or not samples:
            _fail("TelemetryBatch.samples", samples, "must be a non-empty tuple of Sample")
        expected = self.first_seq
        for index, sample in enumerate(samples):
            if type(sample) is not Sample:
                _fail(f"TelemetryBatch.samples[{index}]", sample, "must be a Sample")
            if sample.seq != expected:
                _fail(
                    f"TelemetryBatch.samples[{index}].seq",
                    sample.seq,
                    f"must be {expected}: sequence numbers are contiguous from first_seq",
                )
            expected += 1


@dataclass(frozen=True, slots=True)
class Ack:
    """The cloud has durably stored every sample with ``seq <= up_to_seq``."""

    message_type: ClassVar[MessageType] = MessageType.ACK

    up_to_seq: int

    def __post_init__(self) -> None:
        _check_uint("Ack.up_to_seq", self.up_to_seq, MAX_SEQ)


@dataclass(frozen=True, slots=True)
class Command:
    """A signed command envelope, opaque to the link (its content is the signing module's)."""

    message_type: ClassVar[MessageType] = MessageType.COMMAND

    command_id: str
    envelope: bytes

    def __post_init__(self) -> None:
        _check_id("Command.command_id", self.command_id)
        _check_bytes("Command.envelope", self.envelope, 1, MAX_ENVELOPE_BYTES)


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """The car's report that a command reached a state; ``value`` is the observed value if any."""

    message_type: ClassVar[MessageType] = MessageType.COMMAND_STATUS

    command_id: str
    state: CommandState
    reason: str
    ts_us: int
    value: SampleValue = None

    def __post_init__(self) -> None:
        _check_id("CommandStatus.command_id", self.command_id)
        if type(self.state) is not CommandState:
            _coerce(self, "state", _STATES)
        _check_text("CommandStatus.reason", self.reason, MAX_TEXT_CHARS)
        _check_uint("CommandStatus.ts_us", self.ts_us, MAX_TIME_US)
        _check_value("CommandStatus.value", self.value)


@dataclass(frozen=True, slots=True)
class Ping:
    """Asks the peer for a Pong with the same ``ts_us`` (liveness and round-trip time)."""

    message_type: ClassVar[MessageType] = MessageType.PING

    ts_us: int

    def __post_init__(self) -> None:
        _check_uint("Ping.ts_us", self.ts_us, MAX_TIME_US)


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to a Ping, echoing its ``ts_us``."""

    message_type: ClassVar[MessageType] = MessageType.PONG

    ts_us: int

    def __post_init__(self) -> None:
        _check_uint("Pong.ts_us", self.ts_us, MAX_TIME_US)


@dataclass(frozen=True, slots=True)
class PairingOffer:
    """The car shows a one-time pairing code until ``expires_at_us``; the cloud gets only the
    code's hash (:func:`smartev.link.pairing.pairing_code_sha256`), never the code."""

    message_type: ClassVar[MessageType] = MessageType.PAIRING_OFFER

    code_sha256: bytes
    expires_at_us: int
    """The car's clock, microseconds since the Unix epoch (UTC)."""

    def __post_init__(self) -> None:
        _check_bytes("PairingOffer.code_sha256", self.code_sha256, SHA256_BYTES, SHA256_BYTES)
        _check_uint("PairingOffer.expires_at_us", self.expires_at_us, MAX_TIME_US)


Message: TypeAlias = (
    Hello
    | Challenge
    | Proof
    | Welcome
    | Refusal
    | TelemetryBatch
    | Ack
    | Command
    | CommandStatus
    | Ping
    | Pong
    | PairingOffer
)
"""Any message of the link (a Sample travels only inside a TelemetryBatch)."""
