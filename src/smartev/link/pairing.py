"""One-time pairing codes, shared by car and cloud: the car makes and shows a code, the cloud only
ever holds its hash, and both ends read a typed code the same way.

A code is 8 characters of Crockford's base32 alphabet (no I, L, O or U, so nothing reads as
another character), shown as ``XXXX-XXXX``: 40 random bits. Reading is forgiving as Crockford
intends: case, spaces and dashes do not matter, ``I``/``L`` read as ``1`` and ``O`` as ``0``. The
hash is SHA-256 over a domain prefix and the normalized code, so a code hash never equals the
hash of anything else smartev stores.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from smartev.core.errors import InvalidInputError

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS: Final = 8
PAIRING_TTL_S: Final = 600.0
DOMAIN: Final = b"smartev-pairing-code-v1\x00"
_READ_AS: Final = {"I": "1", "L": "1", "O": "0"}


class PairingCodeError(InvalidInputError):
    """Text that is not a pairing code; the message says what a code looks like."""


def new_pairing_code() -> str:
    """A fresh random code, formatted for people: ``XXXX-XXXX``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return format_pairing_code(raw)


def format_pairing_code(code: str) -> str:
    normalized = normalize_pairing_code(code)
    half = CODE_CHARS // 2
    return f"{normalized[:half]}-{normalized[half:]}"


def normalize_pairing_code(text: str) -> str:
    """The code's 8 canonical characters, however it was typed; PairingCodeError if it is not one.

    The message never repeats the text: a mistyped code is still most of a secret.
    """
    chars = [_READ_AS.get(c, c) for c in text.upper() if c not in " -"]
    if len(chars) != CODE_CHARS or any(c not in ALPHABET for c in chars):
        raise PairingCodeError(
            f"a pairing code is {CODE_CHARS} characters of 0-9 and A-Z without U, shown as "
            "XXXX-XXXX on the car"
        )
    return "".join(chars)


def pairing_code_sha256(code: str) -> bytes:
    """The 32-byte hash the cloud keeps and compares (of the normalized code)."""
    return hashlib.sha256(DOMAIN + normalize_pairing_code(code).encode("ascii")).digest()
