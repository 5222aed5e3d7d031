"""Errors of the car↔cloud link, and the refusal code each one maps to on the wire.

:class:`LinkProtocolError` and its subclasses are a peer's fault (it sent bad bytes): the
transport answers with a :class:`~smartev.link.messages.Refusal` carrying ``error.refusal_code``
and closes. :class:`InvalidMessageError` is the caller's fault (a message built with bad fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from smartev.core.errors import InvalidInputError, PeerError, SmartevError


class RefusalCode(StrEnum):
    """Why a peer is refused; the wire names are stable across protocol versions."""

    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_CAR = "unknown_car"
    BAD_PROOF = "bad_proof"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNEXPECTED = "unexpected"
    BUSY = "busy"


class LinkError(SmartevError):
    """Root of the link package's errors."""

    refusal_code: RefusalCode = RefusalCode.MALFORMED


class InvalidMessageError(LinkError, InvalidInputError):
    """A message was built with a field that breaks its rule; the message names both."""


class LinkProtocolError(LinkError, PeerError):
    """The peer sent something the protocol does not allow: refuse it and close the connection.

    ``code`` overrides the class's refusal code, so that a session can refuse with e.g.
    ``LinkProtocolError("Proof expected, got Ack", code=RefusalCode.UNEXPECTED)``.
    """

    def __init__(self, message: str, *, code: RefusalCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.refusal_code = code


class MalformedFrameError(LinkProtocolError):
    """A frame is not valid msgpack, not a known message, or a field breaks its rule."""


class FrameTooLargeError(LinkProtocolError):
    """A frame is over the size limit; it was refused before any parsing."""

    refusal_code = RefusalCode.TOO_LARGE

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(f"frame of {size_bytes} bytes refused: the limit is {limit_bytes} bytes")
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class UnsupportedVersionError(LinkProtocolError):
    """A frame speaks a protocol version this end does not."""

    refusal_code = RefusalCode.UNSUPPORTED_VERSION

    def __init__(self, version: int, supported: Sequence[int]) -> None:
        listed = ", ".join(str(v) for v in supported)
        super().__init__(
            f"unsupported protocol version {version}: this end speaks version(s) {listed}"
        )
        self.version = version
        self.supported = tuple(supported)


class BadProofError(LinkProtocolError):
    """The car's handshake signature does not verify against the key the cloud holds for it."""

    refusal_code = RefusalCode.BAD_PROOF


class UnsupportedKeyError(LinkError, InvalidInputError):
    """A key of a kind the link does not accept (only Ed25519 and ECDSA P-256 are)."""
