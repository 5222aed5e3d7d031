"""Random requests to every unary RPC (and the first answer of Subscribe) of both services, and
random bytes as requests: the server always answers with a defined status code (never UNKNOWN,
INTERNAL or a timeout) and stays up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kuksa.val.v1 import types_pb2 as types_v1
from kuksa.val.v1 import val_pb2 as val_v1
from kuksa.val.v1 import val_pb2_grpc as val_grpc_v1
from kuksa.val.v2 import types_pb2 as types_v2
from kuksa.val.v2 import val_pb2 as val_v2
from kuksa.val.v2 import val_pb2_grpc as val_grpc_v2

from smartev.spec import Kind, shipped_catalog
from smartev.vehicle.kuksa_convert import wire_field

from .conftest import ThreadedServer

CATALOG = shipped_catalog()
PATHS = [spec.path for spec in CATALOG]
ACTUATORS = [spec.path for spec in CATALOG if spec.kind is Kind.ACTUATOR]
DEFINED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.ALREADY_EXISTS,
}
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[ThreadedServer, Any, Any, grpc.Channel]]:
    server = ThreadedServer()
    # Half of the actuators have a provider that accepts everything, so that requests get past
    # the provider check and reach the safety rules; the other half stay UNAVAILABLE.
    server.call(
        lambda: server.broker.register_provider(
            "fuzz", actuators=ACTUATORS[::2], on_actuate=lambda request: None
        )
    )
    channel = grpc.insecure_channel(server.target)
    yield server, val_grpc_v2.VALStub(channel), val_grpc_v1.VALStub(channel), channel
    channel.close()
    server.close()


text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
paths = st.one_of(
    st.sampled_from(PATHS),
    st.sampled_from(["", "Vehicle", "Vehicle.Cabin", "**", "*", "Vehicle.*.Speed", "Vehicle..X"]),
    text,
    st.just("Vehicle." * 200),
)
int32 = st.integers(-(2**31), 2**31 - 1)
uint32 = st.integers(0, 2**32 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
uint64 = st.integers(0, 2**64 - 1)
floats = st.floats(width=32)
doubles = st.floats()
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": text,
    "bool": st.booleans(),
    "int32": int32,
    "int64": int64,
    "uint32": uint32,
    "uint64": uint64,
    "float": floats,
    "double": doubles,
}
ARRAYS = {
    "string_array": (types_v2.StringArray, text),
    "bool_array": (types_v2.BoolArray, st.booleans()),
    "int32_array": (types_v2.Int32Array, int32),
    "int64_array": (types_v2.Int64Array, int64),
    "uint32_array": (types_v2.Uint32Array, uint32),
    "uint64_array": (types_v2.Uint64Array, uint64),
    "float_array": (types_v2.FloatArray, floats),
    "double_array": (types_v2.DoubleArray, doubles),
}


@st.composite
def wire_values(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for a v2 ``Value`` or a v1 ``Datapoint``: one field, any type."""
    field = draw(st.sampled_from([*SCALARS, *ARRAYS, None]))
    if field is None:
        return {}
    if field in SCALARS:
        return {field: draw(SCALARS[field])}
    _, items = ARRAYS[field]
    return {field: {"values": draw(st.lists(items, max_size=4))}}


@st.composite
def typed(draw: st.DrawFn, kinds: tuple[Kind, ...] = tuple(Kind)) -> tuple[str, dict[str, Any]]:
    """A signal and a value in its own wire field: these reach the range, rule and provider
    checks instead of stopping at the type check."""
    spec = draw(st.sampled_from([s for s in CATALOG if s.kind in kinds]))
    field = wire_field(spec.datatype)
    if field in SCALARS:
        strategy = SCALARS[field]
        if spec.allowed:
            strategy = st.sampled_from(spec.allowed) | strategy
        elif spec.min is not None and spec.max is not None:
            low = max(int(spec.min) - 2, 0 if field.startswith("uint") else -(2**31))
            numbers = st.integers(low, int(spec.max) + 2)
            strategy = numbers.map(float) if field in ("float", "double") else numbers
        return spec.path, {field: draw(strategy)}
    _, items = ARRAYS[field]
    return spec.path, {field: {"values": draw(st.lists(items, max_size=3))}}


signal_ids = st.one_of(
    paths.map(lambda p: types_v2.SignalID(path=p)),
    st.one_of(st.integers(0, len(PATHS) + 2), int32).map(lambda i: types_v2.SignalID(id=i)),
    st.just(types_v2.SignalID()),
    st.none(),
)
timestamps = st.integers(-62135596800, 253402300799).map(lambda s: {"timestamp": {"seconds": s}})
datapoints_v2 = st.builds(
    lambda value, ts: types_v2.Datapoint(value=types_v2.Value(**value), **ts),
    wire_values(),
    st.one_of(st.just({}), timestamps),
)
actuate_requests = st.one_of(
    st.builds(
        lambda sid, value: val_v2.ActuateRequest(signal_id=sid, value=types_v2.Value(**value)),
        signal_ids,
        wire_values(),
    ),
    typed((Kind.ACTUATOR,)).map(
        lambda pv: val_v2.ActuateRequest(
            signal_id=types_v2.SignalID(path=pv[0]), value=types_v2.Value(**pv[1])
        )
    ),
)
fields = st.lists(st.integers(0, 20), max_size=3)
views = st.integers(0, 8)


def v1_update(path: str, which: int, value: dict[str, Any], field_list: list[int]) -> Any:
    entry = types_v1.DataEntry(path=path)
    point = types_v1.Datapoint(**value)
    (entry.actuator_target if which else entry.value).CopyFrom(point)
    return val_v1.EntryUpdate(entry=entry, fields=field_list)


v2_calls = st.one_of(
    st.builds(lambda s: ("GetValue", val_v2.GetValueRequest(signal_id=s)), signal_ids),
    st.builds(
        lambda ids: ("GetValues", val_v2.GetValuesRequest(signal_ids=[i for i in ids if i])),
        st.lists(signal_ids, max_size=4),
    ),
    st.builds(lambda r: ("Actuate", r), actuate_requests),
    st.builds(
        lambda rs: ("BatchActuate", val_v2.BatchActuateRequest(actuate_requests=rs)),
        st.lists(actuate_requests, max_size=4),
    ),
    st.builds(
        lambda root, f: ("ListMetadata", val_v2.ListMetadataRequest(root=root, filter=f)),
        paths,
        text,
    ),
    st.builds(
        lambda s, dp: ("PublishValue", val_v2.PublishValueRequest(signal_id=s, data_point=dp)),
        signal_ids,
        st.one_of(datapoints_v2, st.none()),
    ),
    typed().map(
        lambda pv: (
            "PublishValue",
            val_v2.PublishValueRequest(
                signal_id=types_v2.SignalID(path=pv[0]),
                data_point=types_v2.Datapoint(value=types_v2.Value(**pv[1])),
            ),
        )
    ),
    st.builds(
        lambda ps, size: ("Subscribe", val_v2.SubscribeRequest(signal_paths=ps, buffer_size=size)),
        st.lists(paths, max_size=3),
        st.integers(0, 2000),
    ),
    st.just(("GetServerInfo", val_v2.GetServerInfoRequest())),
)
v1_calls = st.one_of(
    st.builds(
        lambda entries: ("Get", val_v1.GetRequest(entries=entries)),
        st.lists(st.builds(val_v1.EntryRequest, path=paths, view=views, fields=fields), max_size=3),
    ),
    st.builds(
        lambda updates: ("Set", val_v1.SetRequest(updates=updates)),
        st.lists(st.builds(v1_update, paths, st.integers(0, 1), wire_values(), fields), max_size=3),
    ),
    st.builds(
        lambda pv, which: (
            "Set",
            val_v1.SetRequest(updates=[v1_update(pv[0], which, pv[1], [which + 2])]),
        ),
        typed(),
        st.integers(0, 1),
    ),
    st.builds(
        lambda entries: ("Subscribe", val_v1.SubscribeRequest(entries=entries)),
        st.lists(
            st.builds(val_v1.SubscribeEntry, path=paths, view=views, fields=fields), max_size=3
        ),
    ),
    st.just(("GetServerInfo", val_v1.GetServerInfoRequest())),
)


def answer(stub: Any, method: str, request: Any) -> grpc.StatusCode:
    try:
        if method == "Subscribe":
            call = getattr(stub, method)(request, timeout=5)
            try:
                next(call)
            finally:
                call.cancel()
        else:
            getattr(stub, method)(request, timeout=5)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@FUZZ
@given(call=v2_calls)
def test_v2_answers_every_request_with_a_defined_status(
    fuzzed: tuple[ThreadedServer, Any, Any, grpc.Channel], call: tuple[str, Any]
) -> None:
    _, v2, _, _ = fuzzed
    method, request = call
    assert answer(v2, method, request) in DEFINED, (method, request)


@FUZZ
@given(call=v1_calls)
def test_v1_answers_every_request_with_a_defined_status(
    fuzzed: tuple[ThreadedServer, Any, Any, grpc.Channel], call: tuple[str, Any]
) -> None:
    _, _, v1, _ = fuzzed
    method, request = call
    assert answer(v1, method, request) in DEFINED, (method, request)


METHODS = [
    f"/kuksa.val.v2.VAL/{m}"
    for m in ("GetValue", "GetValues", "Actuate", "BatchActuate", "ListMetadata", "PublishValue")
] + [f"/kuksa.val.v1.VAL/{m}" for m in ("Get", "Set")]


@settings(FUZZ, max_examples=100)
@given(method=st.sampled_from(METHODS), raw=st.binary(max_size=64))
def test_random_bytes_are_refused_cleanly(
    fuzzed: tuple[ThreadedServer, Any, Any, grpc.Channel], method: str, raw: bytes
) -> None:
    _, _, _, channel = fuzzed
    call = channel.unary_unary(method)
    try:
        call(raw, timeout=5)
        code = grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()
    assert code in DEFINED, (method, raw)


def test_the_server_is_still_up(fuzzed: tuple[ThreadedServer, Any, Any, grpc.Channel]) -> None:
    _, v2, v1, _ = fuzzed
    assert v2.GetServerInfo(val_v2.GetServerInfoRequest()).name == "smartev"
    assert v1.GetServerInfo(val_v1.GetServerInfoRequest()).name == "smartev"
