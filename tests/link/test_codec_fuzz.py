"""Fuzzing the frame decoder: whatever the bytes, decode returns a valid message or raises a
LinkProtocolError (never another exception, never a hang), and whatever it returns re-encodes
to the same message.

Four sources of input, 2,600 examples in all (about 6 s): random bytes, valid frames with bytes
flipped, cut, added or removed, well-formed msgpack arrays of random values behind a real version
and tag, and valid frames with one field replaced by a random value (which reach the field
checks).
"""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartev.link import (
    LinkProtocolError,
    Message,
    MessageType,
    decode,
    encode,
    refusal_for,
)

from .strategies import small_messages

FUZZ = settings(deadline=1000, suppress_health_check=[HealthCheck.too_slow])


def decodes_cleanly(data: bytes) -> Message | None:
    """The message in ``data``, or None if it was refused the only allowed way."""
    try:
        message = decode(data)
    except LinkProtocolError as error:
        encode(refusal_for(error))  # every refusal can be sent to the peer
        return None
    assert decode(encode(message)) == message
    return message


@settings(FUZZ, max_examples=1000)
@given(st.binary(max_size=300) | st.binary(min_size=1, max_size=4).map(lambda b: b * 500))
def test_random_bytes_are_decoded_or_refused(data: bytes) -> None:
    decodes_cleanly(data)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    data = bytearray(encode(draw(small_messages)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        operation = draw(st.sampled_from(["flip", "set", "cut", "extend", "insert", "delete"]))
        if operation == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and data:
            data[where] = draw(st.integers(0, 255))
        elif operation == "cut":
            del data[where:]
        elif operation == "extend":
            data += draw(st.binary(min_size=1, max_size=20))
        elif operation == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[where : where + draw(st.integers(1, 8))]
    return bytes(data)


@settings(FUZZ, max_examples=600)
@given(mutated_frames())
def test_mutated_valid_frames_are_decoded_or_refused(data: bytes) -> None:
    decodes_cleanly(data)


wire_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.sampled_from([0, 1, 2, -1, 16, 32, 2**63 - 1, 2**63])
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["Vehicle.Speed", "change", "busy", "executed", "car-1"])
    | st.binary(max_size=40)
    | st.sampled_from([bytes(16), bytes(32)]),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=10,
)


@settings(FUZZ, max_examples=400)
@given(
    version=st.sampled_from([1, 1, 1, 0, 2]),
    tag=st.integers(0, 13),
    fields=st.lists(wire_values, max_size=5),
)
def test_well_formed_arrays_of_random_values_are_decoded_or_refused(
    version: int, tag: int, fields: list[Any]
) -> None:
    decodes_cleanly(msgpack.packb([version, tag, *fields], use_bin_type=True))


@st.composite
def frames_with_one_field_replaced(draw: st.DrawFn) -> bytes:
    message = draw(small_messages)
    wire = msgpack.unpackb(encode(message))
    target = wire
    index = draw(st.integers(2, len(wire) - 1))
    if wire[1] == MessageType.TELEMETRY_BATCH and index == 3 and draw(st.booleans()):
        # Reach into a sample rather than replacing the whole list.
        target = draw(st.sampled_from(wire[3]))
        index = draw(st.integers(0, len(target) - 1))
    target[index] = draw(wire_values)
    return msgpack.packb(wire, use_bin_type=True)  # type: ignore[no-any-return]


@settings(FUZZ, max_examples=600)
@given(frames_with_one_field_replaced())
def test_valid_frames_with_a_random_field_are_decoded_or_refused(data: bytes) -> None:
    decodes_cleanly(data)
