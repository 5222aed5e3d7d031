"""The handshake proof: both accepted key kinds sign and verify; any change of car, boot, nonce
or key makes it fail with BadProofError; other key kinds are refused."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.link import (
    BadProofError,
    InvalidMessageError,
    Proof,
    RefusalCode,
    UnsupportedKeyError,
    decode,
    encode,
    proof_payload,
    sign_proof,
    verify_proof,
)
from smartev.link.proof import CarPrivateKey

EPOCH = bytes(range(16))
NONCE = bytes(range(100, 132))


def other_key_like(key: CarPrivateKey) -> CarPrivateKey:
    if isinstance(key, Ed25519PrivateKey):
        return Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(params=["ed25519", "p256"])
def key(request: pytest.FixtureRequest) -> CarPrivateKey:
    if request.param == "ed25519":
        return Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def test_a_proof_verifies_after_travelling_in_a_proof_message(key: CarPrivateKey) -> None:
    signature = sign_proof(key, "car-1", EPOCH, NONCE)
    received = decode(encode(Proof(signature)))
    assert isinstance(received, Proof)
    verify_proof(key.public_key(), received.signature, "car-1", EPOCH, NONCE)


@pytest.mark.parametrize(
    ("car_id", "epoch", "nonce"),
    [
        ("car-2", EPOCH, NONCE),
        ("car-1", bytes(16), NONCE),
        ("car-1", EPOCH, bytes(32)),
    ],
    ids=["other car", "other boot", "other nonce"],
)
def test_a_proof_is_good_for_one_car_boot_and_nonce_only(
    key: CarPrivateKey, car_id: str, epoch: bytes, nonce: bytes
) -> None:
    signature = sign_proof(key, "car-1", EPOCH, NONCE)
    with pytest.raises(BadProofError, match="car-2" if car_id == "car-2" else "car-1") as caught:
        verify_proof(key.public_key(), signature, car_id, epoch, nonce)
    assert caught.value.refusal_code is RefusalCode.BAD_PROOF


def test_another_key_or_garbage_does_not_verify(key: CarPrivateKey) -> None:
    signature = sign_proof(key, "car-1", EPOCH, NONCE)
    other = other_key_like(key)
    for public_key, candidate in [
        (other.public_key(), signature),
        (key.public_key(), bytes(len(signature))),
        (key.public_key(), b"\x30\x02\x01"),
    ]:
        with pytest.raises(BadProofError):
            verify_proof(public_key, candidate, "car-1", EPOCH, NONCE)


def test_the_payload_is_domain_separated_and_unambiguous() -> None:
    payload = proof_payload("car-1", EPOCH, NONCE)
    assert payload.startswith(b"smartev-link/handshake-proof/v1\x00\x00\x05car-1")
    assert payload.endswith(EPOCH + NONCE)
    # The car id is length-prefixed: moving bytes between it and the epoch changes the payload.
    assert proof_payload("car-1", EPOCH, NONCE) != proof_payload("car-", b"1" + EPOCH[:15], NONCE)
    with pytest.raises(InvalidMessageError, match="epoch: must be 16 bytes"):
        proof_payload("car-1", EPOCH[:8], NONCE)
    with pytest.raises(InvalidMessageError, match="nonce: must be 32 bytes"):
        proof_payload("car-1", EPOCH, NONCE + b"x")


def test_other_key_kinds_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(UnsupportedKeyError, match="secp384r1"):
        sign_proof(p384, "car-1", EPOCH, NONCE)
    with pytest.raises(UnsupportedKeyError, match="secp384r1"):
        verify_proof(p384.public_key(), b"x", "car-1", EPOCH, NONCE)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(UnsupportedKeyError, match="RSA"):
        sign_proof(rsa_key, "car-1", EPOCH, NONCE)  # type: ignore[arg-type]
