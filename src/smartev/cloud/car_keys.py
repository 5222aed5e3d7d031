"""The public keys of the cars the cloud knows: one PEM file per car in a directory.

Provisioning (``smartev car provision``) writes a car's public key here; the gateway reads it
when the car connects. A file-per-car directory is the embedded default; a fleet would keep the
keys in the database behind the same ``public_key(car_id)`` call.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from smartev.core.errors import InvalidInputError
from smartev.link.proof import CarPublicKey

_CAR_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class CarKeyDirectory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, car_id: str) -> Path:
        if not _CAR_ID.match(car_id):
            raise InvalidInputError(f"car id {car_id!r} must be 1..128 of A-Z a-z 0-9 . _ : -")
        return self.directory / f"{car_id}.pem"

    def register(self, car_id: str, public_key_pem: bytes) -> None:
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey):
            raise InvalidInputError("a car key must be Ed25519 or ECDSA P-256")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._file(car_id).write_bytes(public_key_pem)

    def public_key(self, car_id: str) -> CarPublicKey | None:
        try:
            data = self._file(car_id).read_bytes()
        except (OSError, InvalidInputError):
            return None
        key = serialization.load_pem_public_key(data)
        return key if isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey) else None
