"""The handshake proof: the bytes a car signs to show it holds its key, and their check.

The car signs ``proof_payload(car_id, epoch, nonce)``: a domain-separation prefix, then the
length-prefixed car id, the boot epoch and the cloud's nonce. The prefix keeps a proof from being
usable as any other signature made with the same key (a command, an update); the epoch and nonce
make each proof good for one handshake only. Ed25519 and ECDSA P-256 (SHA-256, DER) are accepted.
"""

from __future__ import annotations

from typing import TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartev.link.errors import BadProofError, InvalidMessageError, UnsupportedKeyError
from smartev.link.messages import EPOCH_BYTES, NONCE_BYTES

PROOF_DOMAIN = b"smartev-link/handshake-proof/v1\x00"

CarPrivateKey: TypeAlias = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
CarPublicKey: TypeAlias = Ed25519PublicKey | ec.EllipticCurvePublicKey


def proof_payload(car_id: str, epoch: bytes, nonce: bytes) -> bytes:
    """The exact bytes a car signs in the handshake (see the module docstring)."""
    if len(epoch) != EPOCH_BYTES:
        raise InvalidMessageError(f"invalid epoch: must be {EPOCH_BYTES} bytes, not {len(epoch)}")
    if len(nonce) != NONCE_BYTES:
        raise InvalidMessageError(f"invalid nonce: must be {NONCE_BYTES} bytes, not {len(nonce)}")
    name = car_id.encode("utf-8")
    if not 0 < len(name) <= 0xFFFF:
        raise InvalidMessageError(f"invalid car_id: must be 1..65535 bytes, not {len(name)}")
    return PROOF_DOMAIN + len(name).to_bytes(2, "big") + name + bytes(epoch) + bytes(nonce)


def _check_curve(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise UnsupportedKeyError(
            f"ECDSA key on curve {key.curve.name} is not accepted: use P-256 (secp256r1) or Ed25519"
        )


def sign_proof(private_key: CarPrivateKey, car_id: str, epoch: bytes, nonce: bytes) -> bytes:
    """The car's signature for a Proof message."""
    payload = proof_payload(car_id, epoch, nonce)
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key.sign(payload)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        _check_curve(private_key)
        return private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
    raise UnsupportedKeyError(
        f"{type(private_key).__name__} is not accepted: use an Ed25519 or ECDSA P-256 key"
    )


def verify_proof(
    public_key: CarPublicKey, signature: bytes, car_id: str, epoch: bytes, nonce: bytes
) -> None:
    """Return if ``signature`` is the car's proof for this handshake, else raise BadProofError."""
    payload = proof_payload(car_id, epoch, nonce)
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, payload)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            _check_curve(public_key)
            public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        else:
            raise UnsupportedKeyError(
                f"{type(public_key).__name__} is not accepted: use an Ed25519 or ECDSA P-256 key"
            )
    except InvalidSignature as exc:
        raise BadProofError(f"the handshake signature of car {car_id!r} does not verify") from exc
