"""Pairing codes: unambiguous to read, forgiving to type, hashed the same way at both ends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartev.link.pairing import (
    ALPHABET,
    PairingCodeError,
    format_pairing_code,
    new_pairing_code,
    normalize_pairing_code,
    pairing_code_sha256,
)


def test_a_new_code_is_eight_unambiguous_characters_in_two_groups() -> None:
    code = new_pairing_code()
    assert len(code) == 9
    assert code[4] == "-"
    assert set(code.replace("-", "")) <= set(ALPHABET)
    assert not set(code) & set("ILOU")
    assert len({new_pairing_code() for _ in range(50)}) == 50


def test_typing_is_forgiving_as_crockford_intends() -> None:
    assert normalize_pairing_code("7kq2 m9xd") == "7KQ2M9XD"
    assert normalize_pairing_code("o1l0-iabc") == "0110" + "1ABC"
    assert format_pairing_code("7kq2m9xd") == "7KQ2-M9XD"
    assert pairing_code_sha256("7kq2 m9xd") == pairing_code_sha256("7KQ2-M9XD")
    assert len(pairing_code_sha256("7KQ2-M9XD")) == 32


@pytest.mark.parametrize("bad", ["7KQ2-M9X", "7KQ2-M9XDD", "7KQ2-M9XU", "7KQ2-M9X!", ""])
def test_what_is_not_a_code_is_refused_without_repeating_it(bad: str) -> None:
    with pytest.raises(PairingCodeError, match="8 characters") as caught:
        normalize_pairing_code(bad)
    if bad:
        assert bad not in str(caught.value)  # a mistyped code is still most of a secret


@given(st.text(alphabet=ALPHABET, min_size=8, max_size=8))
def test_every_code_survives_formatting(raw: str) -> None:
    shown = format_pairing_code(raw)
    assert normalize_pairing_code(shown) == raw
    assert pairing_code_sha256(shown.lower()) == pairing_code_sha256(raw)
