"""Signed commands: keys, the canonical payload, signatures and the envelope codec."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError
from smartev.link.signing import (
    DOMAIN,
    MAX_TTL_S,
    SIGNATURE_BYTES,
    Command,
    CommandFormatError,
    EnvelopeError,
    KeyAlgorithm,
    KeyFormatError,
    SignedCommand,
    decode_envelope,
    encode_envelope,
    generate_key,
    key_algorithm,
    key_id,
    load_public_key,
    make_command,
    public_key_bytes,
    sign_command,
    signed_payload,
    verify_signature,
)

NOW_US = 1_780_000_000_000_000
EPOCH = bytes(range(16))
KEYS = {alg: generate_key(alg) for alg in KeyAlgorithm}


def command_for(alg: KeyAlgorithm = KeyAlgorithm.ED25519, **changes: Any) -> Command:
    fields: dict[str, object] = {
        "car_id": "VIN5YJ3E1EA7KF000001",
        "name": "charge_limit.set",
        "args": {"percent": 80},
        "epoch": EPOCH,
        "counter": 7,
        "key_id": key_id(public_key_bytes(KEYS[alg])),
        "now_us": NOW_US,
    }
    fields.update(changes)
    return make_command(**fields)  # type: ignore[arg-type]


# -- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "size"), [(KeyAlgorithm.ED25519, 32), (KeyAlgorithm.P256, 65)])
def test_public_key_bytes_round_trip(alg: KeyAlgorithm, size: int) -> None:
    raw = public_key_bytes(KEYS[alg].public_key())
    assert len(raw) == size
    assert public_key_bytes(KEYS[alg]) == raw  # a private key gives its public key's bytes
    assert public_key_bytes(load_public_key(raw)) == raw
    assert len(key_id(raw)) == 16
    assert key_algorithm(KEYS[alg]) is key_algorithm(load_public_key(raw)) is alg
    assert int(key_id(raw), 16) >= 0


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "0 bytes"),
        (b"\x04" * 33, "33 bytes"),
        (b"\x02" + bytes(64), "65 bytes"),  # 65 bytes without the uncompressed prefix
        (b"\x04" + bytes(64), "not a point"),
        (b"\x04" + b"\x01" * 64, "not a point"),
    ],
)
def test_bad_public_key_bytes(data: bytes, match: str) -> None:
    with pytest.raises(KeyFormatError, match=match):
        load_public_key(data)


def test_only_p256_ec_keys() -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(KeyFormatError, match="only P-256"):
        public_key_bytes(other.public_key())


# -- commands and signatures ------------------------------------------------------------------


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
def test_sign_and_verify(alg: KeyAlgorithm) -> None:
    signed = sign_command(KEYS[alg], command_for(alg))
    assert len(signed.signature) == SIGNATURE_BYTES
    assert verify_signature(KEYS[alg].public_key(), signed)
    other = generate_key(alg).public_key()
    assert not verify_signature(other, signed)


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
@pytest.mark.parametrize(
    "change",
    [
        {"args": {"percent": 81}},
        {"name": "charge_limit.sat"},
        {"counter": 8},
        {"car_id": "VIN5YJ3E1EA7KF000002"},
        {"epoch": bytes(16)},
        {"now_us": NOW_US + 1},
    ],
)
def test_any_changed_field_breaks_the_signature(alg: KeyAlgorithm, change: dict[str, Any]) -> None:
    signed = sign_command(KEYS[alg], command_for(alg))
    forged = SignedCommand(command_for(alg, **change), signed.signature)
    assert not verify_signature(KEYS[alg].public_key(), forged)


def test_signature_is_domain_separated() -> None:
    command = command_for()
    assert signed_payload(command).startswith(DOMAIN)
    ed25519 = KEYS[KeyAlgorithm.ED25519]
    assert isinstance(ed25519, Ed25519PrivateKey)
    bare = ed25519.sign(msgpack.packb(command.fields(), use_bin_type=True))
    assert not verify_signature(
        KEYS[KeyAlgorithm.ED25519].public_key(), SignedCommand(command, bare)
    )


def test_args_are_canonical_whatever_their_order() -> None:
    a = command_for(args={"b": 1, "a": "x", "c": 2.5})
    b = command_for(args={"c": 2.5, "a": "x", "b": 1})
    assert a == b
    assert list(a.args) == ["a", "b", "c"]
    with pytest.raises(TypeError):
        a.args["a"] = "changed after signing"  # type: ignore[index]
    assert signed_payload(a) == signed_payload(b)


def test_bool_and_int_arguments_sign_differently() -> None:
    assert signed_payload(command_for(args={"on": True})) != signed_payload(
        command_for(args={"on": 1})
    )


def test_signing_with_a_key_the_command_does_not_name_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="signed with key"):
        sign_command(KEYS[KeyAlgorithm.P256], command_for(KeyAlgorithm.ED25519))


def test_default_and_maximum_expiry() -> None:
    assert command_for().expires_at_us - NOW_US == 5_000_000
    assert command_for(ttl_s=MAX_TTL_S).expires_at_us - NOW_US == 60_000_000
    for ttl_s in (60.001, 0, -1, math.nan):
        with pytest.raises(CommandFormatError, match="ttl_s"):
            command_for(ttl_s=ttl_s)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"car_id": ""}, "car_id"),
        ({"car_id": "car with spaces"}, "car_id"),
        ({"name": "Door.Lock"}, "name"),
        ({"name": "door..lock"}, "name"),
        ({"args": {"Percent": 80}}, "argument name"),
        ({"args": {"x": math.nan}}, "finite"),
        ({"args": {"x": math.inf}}, "finite"),
        ({"args": {"x": None}}, "bool, int, float or str"),
        ({"args": {"x": b"bytes"}}, "bool, int, float or str"),
        ({"args": {"x": 2**63}}, "integer"),
        ({"args": {"x": "y" * 257}}, "256"),
        ({"args": {"x": "\ud800"}}, "Unicode"),
        ({"args": {f"a{i}": i for i in range(17)}}, "16"),
        ({"args": {1: 2}}, "argument name"),
        ({"epoch": bytes(15)}, "epoch"),
        ({"counter": 0}, "counter"),
        ({"counter": 2**32}, "counter"),
        ({"counter": True}, "counter"),
        ({"key_id": "ABCDEF0123456789"}, "key_id"),
        ({"now_us": -1}, "issued_at_us"),
    ],
)
def test_command_fields_are_checked(change: dict[str, Any], match: str) -> None:
    with pytest.raises(CommandFormatError, match=match):
        command_for(**change)


def test_expiry_must_follow_issue_within_the_maximum() -> None:
    base = command_for()
    with pytest.raises(CommandFormatError, match="at most 60 s"):
        dataclasses.replace(base, expires_at_us=base.issued_at_us + 60_000_001)
    with pytest.raises(CommandFormatError, match="expires_at_us"):
        dataclasses.replace(base, expires_at_us=base.issued_at_us)


# -- the envelope -----------------------------------------------------------------------------

arg_values = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
commands = st.builds(
    Command,
    car_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,30}", fullmatch=True),
    name=st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){0,2}", fullmatch=True),
    args=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), arg_values, max_size=8
    ),
    epoch=st.binary(min_size=16, max_size=16),
    counter=st.integers(1, 2**32 - 1),
    issued_at_us=st.just(NOW_US),
    expires_at_us=st.integers(NOW_US + 1, NOW_US + 60_000_000),
    key_id=st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
)


@given(commands, st.binary(min_size=64, max_size=64))
def test_envelope_round_trip(command: Command, signature: bytes) -> None:
    signed = SignedCommand(command, signature)
    assert decode_envelope(encode_envelope(signed)) == signed


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
def test_decoded_envelope_still_verifies(alg: KeyAlgorithm) -> None:
    signed = sign_command(KEYS[alg], command_for(alg, args={"t": 21.5, "on": True, "s": "é"}))
    assert verify_signature(KEYS[alg].public_key(), decode_envelope(encode_envelope(signed)))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_decode_arbitrary_bytes_raises_only_envelope_error(data: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        decode_envelope(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=9) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=500)
@given(msgpack_values)
def test_decode_arbitrary_msgpack_raises_only_envelope_error(value: object) -> None:
    try:
        data = msgpack.packb(value, use_bin_type=True)
    except (OverflowError, ValueError):
        return
    with contextlib.suppress(EnvelopeError):
        decode_envelope(data)


@given(commands, st.data())
def test_decode_of_a_mutated_envelope_raises_only_envelope_error(
    command: Command, data: st.DataObject
) -> None:
    envelope = bytearray(encode_envelope(SignedCommand(command, bytes(64))))
    index = data.draw(st.integers(0, len(envelope) - 1))
    envelope[index] = data.draw(st.integers(0, 255))
    with contextlib.suppress(EnvelopeError):
        decode_envelope(bytes(envelope))


def _raw_envelope(
    fields: list[object], signature: object = bytes(64), version: object = 1
) -> bytes:
    packed: bytes = msgpack.packb([version, fields, signature], use_bin_type=True)
    return packed


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.__setitem__(2, [["b", 1], ["a", 2]]), "ascending"),
        (lambda f: f.__setitem__(2, [["a", 1], ["a", 2]]), "distinct"),
        (lambda f: f.__setitem__(2, [["a"]]), "pairs"),
        (lambda f: f.__setitem__(2, {"a": 1}), "pairs"),
        (lambda f: f.__setitem__(4, 7.0), "counter"),
        (lambda f: f.__setitem__(3, "0123456789abcdef"), "epoch"),
        (lambda f: f.append(None), "8 values"),
    ],
)
def test_decode_is_strict(mutate: object, match: str) -> None:
    fields = command_for().fields()
    mutate(fields)  # type: ignore[operator]
    with pytest.raises(EnvelopeError, match=match):
        decode_envelope(_raw_envelope(fields))


def test_decode_checks_version_signature_size_and_limit() -> None:
    fields = command_for().fields()
    with pytest.raises(EnvelopeError, match="version"):
        decode_envelope(_raw_envelope(fields, version=2))
    with pytest.raises(EnvelopeError, match="signature"):
        decode_envelope(_raw_envelope(fields, signature=bytes(63)))
    with pytest.raises(EnvelopeError, match="over the limit"):
        decode_envelope(_raw_envelope(fields), max_bytes=50)
    with pytest.raises(EnvelopeError, match="not valid msgpack"):
        decode_envelope(_raw_envelope(fields) + b"\x00")  # trailing bytes
    with pytest.raises(EnvelopeError, match="expected bytes"):
        decode_envelope("text")  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
def test_a_garbage_signature_never_verifies(alg: KeyAlgorithm) -> None:
    public = KEYS[alg].public_key()
    command = command_for(alg)
    for signature in (bytes(64), b"\xff" * 64, bytes(63), b""):
        assert not verify_signature(public, SignedCommand(command, signature))
