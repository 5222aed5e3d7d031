"""Hypothesis strategies for every link message, shared by the codec and fuzz tests."""

from __future__ import annotations

from hypothesis import strategies as st

from smartev.link import (
    Ack,
    Challenge,
    Command,
    CommandState,
    CommandStatus,
    Hello,
    Message,
    PairingOffer,
    Ping,
    Pong,
    Proof,
    Refusal,
    RefusalCode,
    Sample,
    SampleKind,
    SampleValue,
    TelemetryBatch,
    Welcome,
)
from smartev.spec import shipped_catalog

SEQ_MAX = 2**63 - 1
CATALOG_PATHS = [spec.path for spec in shipped_catalog()]

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
ids = st.builds(
    str.__add__, st.sampled_from(_ALNUM), st.text(alphabet=_ALNUM + "._:-", max_size=40)
)
_names = st.text(alphabet=_ALNUM + "_", min_size=1, max_size=8)
paths = st.sampled_from(CATALOG_PATHS) | st.builds(
    lambda first, rest: ".".join([first, *rest]),
    st.builds(str.__add__, st.sampled_from(_ALNUM[:52]), st.text(alphabet=_ALNUM, max_size=6)),
    st.lists(_names, max_size=6),
)
seqs = st.integers(0, SEQ_MAX)
times_us = st.integers(0, SEQ_MAX)


def texts(max_size: int) -> st.SearchStrategy[str]:
    # Lone surrogates cannot be UTF-8 encoded, so they cannot be sent at all.
    return st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=max_size)


scalars: st.SearchStrategy[bool | int | float | str] = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    texts(20),
)
values: st.SearchStrategy[SampleValue] = st.one_of(
    st.none(), scalars, st.lists(scalars, max_size=5).map(tuple)
)


@st.composite
def batches(draw: st.DrawFn, max_samples: int = 20) -> TelemetryBatch:
    count = draw(st.integers(1, max_samples))
    first = draw(st.integers(0, SEQ_MAX - count + 1))
    samples = tuple(
        Sample(
            seq=first + index,
            ts_us=draw(times_us),
            path=draw(paths),
            value=draw(values),
            kind=draw(st.sampled_from(SampleKind)),
        )
        for index in range(count)
    )
    return TelemetryBatch(first_seq=first, samples=samples)


hellos = st.builds(
    Hello,
    car_id=ids,
    protocol_version=st.integers(1, 0xFFFF),
    software=texts(128),
    epoch=st.binary(min_size=16, max_size=16),
    last_acked_seq=st.none() | seqs,
)
challenges = st.builds(
    Challenge, nonce=st.binary(min_size=32, max_size=32), server_time_us=times_us
)
proofs = st.builds(Proof, signature=st.binary(min_size=1, max_size=128))
welcomes = st.builds(Welcome, session_id=ids, resume_from_seq=seqs)
refusals = st.builds(
    Refusal,
    code=st.sampled_from(RefusalCode),
    message=texts(200),
    supported_versions=st.lists(st.integers(1, 0xFFFF), max_size=16).map(tuple),
)
acks = st.builds(Ack, up_to_seq=seqs)
commands = st.builds(Command, command_id=ids, envelope=st.binary(min_size=1, max_size=300))
command_statuses = st.builds(
    CommandStatus,
    command_id=ids,
    state=st.sampled_from(CommandState),
    reason=texts(200),
    ts_us=times_us,
    value=values,
)
pings = st.builds(Ping, ts_us=times_us)
pongs = st.builds(Pong, ts_us=times_us)
pairing_offers = st.builds(
    PairingOffer, code_sha256=st.binary(min_size=32, max_size=32), expires_at_us=times_us
)

MESSAGE_STRATEGIES: dict[type, st.SearchStrategy[Message]] = {
    Hello: hellos,
    Challenge: challenges,
    Proof: proofs,
    Welcome: welcomes,
    Refusal: refusals,
    TelemetryBatch: batches(),
    Ack: acks,
    Command: commands,
    CommandStatus: command_statuses,
    Ping: pings,
    Pong: pongs,
    PairingOffer: pairing_offers,
}
messages: st.SearchStrategy[Message] = st.one_of(*MESSAGE_STRATEGIES.values())
small_messages: st.SearchStrategy[Message] = st.one_of(
    *(s for cls, s in MESSAGE_STRATEGIES.items() if cls is not TelemetryBatch), batches(3)
)
"""Messages with at most 3 samples per batch: cheaper to draw, for the fuzz tests."""
