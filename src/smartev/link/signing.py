"""Signed commands, shared by car and cloud: user keys, the command and its canonical signed
payload, and the envelope that carries a signed command through the cloud to the car.

A command is signed by the user's own key (Ed25519 or ECDSA P-256) over a domain-separated,
deterministic msgpack encoding of every field, so a relay (the cloud) can read a command but
cannot change it. Whether the car accepts it (key ring, roles, epoch, counter) is decided by
:mod:`smartev.vehicle.commands`; this module only builds, signs, encodes and checks signatures.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import msgpack  # type: ignore[import-untyped,unused-ignore]  # no stubs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from smartev.core.errors import InvalidInputError
from smartev.link.errors import LinkError

# The prefix keeps a command signature from ever verifying as any other signed smartev message.
DOMAIN: Final = b"smartev-command-v1\x00"
ENVELOPE_VERSION: Final = 1
EPOCH_BYTES: Final = 16
SIGNATURE_BYTES: Final = 64  # Ed25519, and P-256 as raw r || s (32 bytes each)
DEFAULT_TTL_S: Final = 5.0
MAX_TTL_S: Final = 60.0
MAX_ENVELOPE_BYTES: Final = 8192
MAX_COUNTER: Final = 2**32 - 1
MAX_ARGS: Final = 16
MAX_ARG_STR: Final = 256
_INT64 = (-(2**63), 2**63 - 1)
_MAX_TIME_US = 2**62

_CAR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,127}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}(\.[a-z][a-z0-9_]{0,31}){0,3}")
_ARG_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")

ArgValue = bool | int | float | str
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


class SigningError(LinkError):
    """Root of the errors of signed commands."""


class CommandFormatError(SigningError, InvalidInputError):
    """A command field breaks its rule (type, length, range); the message names both."""


class EnvelopeError(CommandFormatError):
    """Bytes that are not a well-formed signed-command envelope."""


class KeyFormatError(SigningError, InvalidInputError):
    """Bytes that are not a public key this protocol knows."""


class KeyAlgorithm(StrEnum):
    ED25519 = "ed25519"
    P256 = "p256"


def generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """A new private key for a user's device."""
    if algorithm is KeyAlgorithm.ED25519:
        return Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def new_epoch() -> bytes:
    """A random epoch for one boot of the car: commands signed for another boot never verify."""
    return os.urandom(EPOCH_BYTES)


def key_algorithm(key: PublicKey | PrivateKey) -> KeyAlgorithm:
    if isinstance(key, Ed25519PublicKey | Ed25519PrivateKey):
        return KeyAlgorithm.ED25519
    return KeyAlgorithm.P256


def public_key_bytes(key: PublicKey | PrivateKey) -> bytes:
    """Raw 32 bytes for Ed25519, uncompressed SEC1 (0x04 || x || y, 65 bytes) for P-256."""
    public = (
        key if isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey) else key.public_key()
    )
    if isinstance(public, Ed25519PublicKey):
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if not isinstance(public.curve, ec.SECP256R1):
        raise KeyFormatError(f"EC key on curve {public.curve.name} refused: only P-256 is used")
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def load_public_key(data: bytes) -> PublicKey:
    """The public key in ``data``: 32 bytes are Ed25519, 65 bytes starting 0x04 are P-256."""
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    if len(data) == 65 and data[0] == 0x04:
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
        except ValueError as exc:
            raise KeyFormatError("65-byte P-256 public key is not a point on the curve") from exc
    raise KeyFormatError(
        f"public key of {len(data)} bytes refused: must be 32 bytes (Ed25519) or 65 bytes "
        "starting 0x04 (uncompressed P-256)"
    )


def key_id(public_key: bytes) -> str:
    """A key's short name: the first 16 hex digits of the SHA-256 of its public key bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def _fail(field: str, value: object, rule: str) -> CommandFormatError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return CommandFormatError(f"invalid command {field} {shown}: {rule}")


def _check_str(field: str, value: object, pattern: re.Pattern[str], rule: str) -> str:
    if type(value) is not str or pattern.fullmatch(value) is None:
        raise _fail(field, value, rule)
    return value


def _check_int(field: str, value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _fail(field, value, f"must be an integer in {low}..{high}")
    return value


def _check_arg(key: str, value: object) -> ArgValue:
    if type(value) is bool:
        return value
    if type(value) is int:
        return _check_int(f"argument {key}", value, *_INT64)
    if type(value) is float:
        if not math.isfinite(value):
            raise _fail(f"argument {key}", value, "must be a finite number")
        return value
    if type(value) is str:
        if len(value) > MAX_ARG_STR:
            raise _fail(f"argument {key}", value, f"must be at most {MAX_ARG_STR} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _fail(f"argument {key}", value, "must be valid Unicode text") from exc
        return value
    raise _fail(f"argument {key}", value, "must be a bool, int, float or str")


@dataclass(frozen=True, slots=True)
class Command:
    """One command from one key to one car, in one boot epoch of that car.

    Times are the car's clock in integer microseconds since the Unix epoch (clients learn the
    car's clock from its session info). ``args`` is kept sorted by name: its canonical order.
    """

    car_id: str
    name: str
    args: Mapping[str, ArgValue]
    epoch: bytes
    counter: int
    issued_at_us: int
    expires_at_us: int
    key_id: str

    def __post_init__(self) -> None:
        _check_str(
            "car_id",
            self.car_id,
            _CAR_ID,
            "must be 1..128 of A-Z a-z 0-9 : . _ -, starting with a letter or digit",
        )
        _check_str("name", self.name, _NAME, "must be dotted lowercase words like door.lock")
        if not isinstance(self.args, Mapping) or len(self.args) > MAX_ARGS:
            raise _fail("args", self.args, f"must be a mapping of at most {MAX_ARGS} entries")
        keys = [
            _check_str("argument name", k, _ARG_KEY, "must be a-z 0-9 _, 1..32, from a letter")
            for k in self.args
        ]
        checked = {key: _check_arg(key, self.args[key]) for key in sorted(keys)}
        object.__setattr__(self, "args", MappingProxyType(checked))  # read-only once checked
        if type(self.epoch) is not bytes or len(self.epoch) != EPOCH_BYTES:
            raise _fail("epoch", self.epoch, f"must be {EPOCH_BYTES} bytes")
        _check_int("counter", self.counter, 1, MAX_COUNTER)
        _check_int("issued_at_us", self.issued_at_us, 0, _MAX_TIME_US)
        _check_int("expires_at_us", self.expires_at_us, 0, _MAX_TIME_US)
        lifetime_us = self.expires_at_us - self.issued_at_us
        if not 0 < lifetime_us <= MAX_TTL_S * 1_000_000:
            raise _fail(
                "expires_at_us",
                self.expires_at_us,
                f"must be after issued_at_us {self.issued_at_us} by at most {MAX_TTL_S:g} s",
            )
        _check_str("key_id", self.key_id, _KEY_ID, "must be 16 lowercase hex digits")

    def fields(self) -> list[object]:
        """The command's fields in their fixed wire order (the list that is signed)."""
        return [
            self.car_id,
            self.name,
            [[key, value] for key, value in self.args.items()],
            self.epoch,
            self.counter,
            self.issued_at_us,
            self.expires_at_us,
            self.key_id,
        ]


@dataclass(frozen=True, slots=True)
class SignedCommand:
    command: Command
    signature: bytes


def make_command(
    *,
    car_id: str,
    name: str,
    args: Mapping[str, ArgValue] | None = None,
    epoch: bytes,
    counter: int,
    key_id: str,
    now_us: int,
    ttl_s: float = DEFAULT_TTL_S,
) -> Command:
    """A command issued at ``now_us`` (the car's clock) that expires ``ttl_s`` later."""
    if not 0 < ttl_s <= MAX_TTL_S:
        raise CommandFormatError(f"invalid ttl_s {ttl_s}: must be > 0 and at most {MAX_TTL_S:g}")
    return Command(
        car_id=car_id,
        name=name,
        args=dict(args or {}),
        epoch=epoch,
        counter=counter,
        issued_at_us=now_us,
        expires_at_us=now_us + round(ttl_s * 1_000_000),
        key_id=key_id,
    )


def signed_payload(command: Command) -> bytes:
    """The exact bytes a signature covers: the domain prefix and the canonical msgpack fields."""
    packed: bytes = msgpack.packb(command.fields(), use_bin_type=True)
    return DOMAIN + packed


def sign_command(private_key: PrivateKey, command: Command) -> SignedCommand:
    """Sign ``command`` with the key its ``key_id`` names."""
    own_id = key_id(public_key_bytes(private_key))
    if command.key_id != own_id:
        raise InvalidInputError(
            f"command names key {command.key_id} but is being signed with key {own_id}"
        )
    payload = signed_payload(command)
    if isinstance(private_key, Ed25519PrivateKey):
        return SignedCommand(command, private_key.sign(payload))
    r, s = decode_dss_signature(private_key.sign(payload, ec.ECDSA(hashes.SHA256())))
    return SignedCommand(command, r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def verify_signature(public_key: PublicKey, signed: SignedCommand) -> bool:
    """True when ``signed.signature`` is ``public_key``'s signature of the command."""
    signature = signed.signature
    if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
        return False
    payload = signed_payload(signed.command)
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, payload)
        else:
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public_key.verify(der, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def encode_envelope(signed: SignedCommand) -> bytes:
    """The wire form: msgpack ``[version, fields, signature]``."""
    packed: bytes = msgpack.packb(
        [ENVELOPE_VERSION, signed.command.fields(), signed.signature], use_bin_type=True
    )
    return packed


def _envelope_fail(what: str) -> EnvelopeError:
    return EnvelopeError(f"malformed command envelope: {what}")


def decode_envelope(data: bytes, max_bytes: int = MAX_ENVELOPE_BYTES) -> SignedCommand:
    """Parse and check every field of an envelope; anything wrong raises :class:`EnvelopeError`.

    The signature is not checked here: the verifier does that with the key it holds.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _envelope_fail(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise _envelope_fail(f"{len(data)} bytes is over the limit of {max_bytes}")
    try:
        top = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types (ExtraData, FormatError, ValueError …)
        raise _envelope_fail(f"not valid msgpack ({type(exc).__name__})") from exc
    if type(top) is not list or len(top) != 3:
        raise _envelope_fail("must be a list [version, fields, signature]")
    version, fields, signature = top
    if type(version) is not int or version != ENVELOPE_VERSION:
        raise _envelope_fail(f"version {version!r} unsupported: this end speaks version 1")
    if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
        raise _envelope_fail(f"signature must be {SIGNATURE_BYTES} bytes")
    if type(fields) is not list or len(fields) != 8:
        raise _envelope_fail("fields must be a list of 8 values")
    car_id, name, pairs, epoch, counter, issued_at_us, expires_at_us, kid = fields
    if type(pairs) is not list or not all(type(p) is list and len(p) == 2 for p in pairs):
        raise _envelope_fail("args must be a list of [name, value] pairs")
    names = [pair[0] for pair in pairs]
    if not all(type(n) is str for n in names) or names != sorted(set(names)):
        raise _envelope_fail("argument names must be distinct strings in ascending order")
    try:
        command = Command(
            car_id=car_id,
            name=name,
            args={pair[0]: pair[1] for pair in pairs},
            epoch=epoch,
            counter=counter,
            issued_at_us=issued_at_us,
            expires_at_us=expires_at_us,
            key_id=kid,
        )
    except CommandFormatError as exc:
        raise _envelope_fail(str(exc)) from exc
    return SignedCommand(command, signature)
