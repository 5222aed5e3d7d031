"""Values and metadata on KUKSA's wire: every VSS datatype in its field, v1 and v2, timestamps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from kuksa.val.v1 import types_pb2 as types_v1
from kuksa.val.v1 import val_pb2 as val_v1
from kuksa.val.v1 import val_pb2_grpc as val_grpc_v1
from kuksa.val.v2 import types_pb2 as types_v2
from kuksa.val.v2 import val_pb2 as val_v2
from kuksa.val.v2 import val_pb2_grpc as val_grpc_v2

from smartev.core.clock import SimClock
from smartev.spec import DataType, parse_vss_tree
from smartev.vehicle.broker import Broker, Datapoint
from smartev.vehicle.grpc_server import start_grpc_server
from smartev.vehicle.kuksa_convert import (
    datapoint_v1,
    datapoint_v2,
    timestamp,
    wire_field,
)

from .conftest import KUKSA_START


def sid(path: str) -> types_v2.SignalID:
    return types_v2.SignalID(path=path)


def test_wire_fields_follow_the_databroker() -> None:
    assert wire_field(DataType.UINT8) == "uint32"
    assert wire_field(DataType.INT16) == "int32"
    assert wire_field(DataType.UINT64_ARRAY) == "uint64_array"
    assert wire_field(DataType.BOOLEAN_ARRAY) == "bool_array"


def test_timestamps_and_values_without_validity() -> None:
    ts = timestamp(1_780_000_000.25)
    assert (ts.seconds, ts.nanos) == (1_780_000_000, 250_000_000)
    assert not datapoint_v2(DataType.FLOAT, Datapoint(None, 0.0)).HasField("timestamp")
    stale = datapoint_v2(DataType.FLOAT, Datapoint(1.5, 10.0, stale=True))
    assert stale.HasField("timestamp")
    assert not stale.HasField("value")
    assert datapoint_v1(DataType.FLOAT, Datapoint(1.5, 10.0, stale=True)) is None
    assert datapoint_v1(DataType.FLOAT, Datapoint(1.5, 10.0)).float == 1.5


ALL_TYPES: dict[str, tuple[str, Any, Any]] = {
    # datatype: (wire field, value sent, expected value back)
    "boolean": ("bool", True, True),
    "string": ("string", "hello", "hello"),
    "int8": ("int32", -100, -100),
    "int16": ("int32", -30000, -30000),
    "int32": ("int32", -(2**31), -(2**31)),
    "int64": ("int64", -(2**63), -(2**63)),
    "uint8": ("uint32", 255, 255),
    "uint16": ("uint32", 65535, 65535),
    "uint32": ("uint32", 2**32 - 1, 2**32 - 1),
    "uint64": ("uint64", 2**64 - 1, 2**64 - 1),
    "float": ("float", 0.5, 0.5),
    "double": ("double", 1e300, 1e300),
    "boolean[]": ("bool_array", [True, False], [True, False]),
    "string[]": ("string_array", ["a", "b"], ["a", "b"]),
    "int8[]": ("int32_array", [-1, 1], [-1, 1]),
    "int16[]": ("int32_array", [-2, 2], [-2, 2]),
    "int32[]": ("int32_array", [-3, 3], [-3, 3]),
    "int64[]": ("int64_array", [-(2**40)], [-(2**40)]),
    "uint8[]": ("uint32_array", [0, 255], [0, 255]),
    "uint16[]": ("uint32_array", [65535], [65535]),
    "uint32[]": ("uint32_array", [7], [7]),
    "uint64[]": ("uint64_array", [2**64 - 1], [2**64 - 1]),
    "float[]": ("float_array", [0.25, -1.0], [0.25, -1.0]),
    "double[]": ("double_array", [1e-300], [1e-300]),
}


def _name(datatype: str) -> str:
    return "T" + datatype.replace("[]", "Array").capitalize()


@pytest.fixture
async def typed_stubs() -> AsyncIterator[tuple[Any, Any]]:
    leaves = {_name(dt): {"type": "sensor", "datatype": dt, "description": dt} for dt in ALL_TYPES}
    catalog = parse_vss_tree({"Vehicle": {"type": "branch", "children": leaves}})
    broker = Broker(catalog, clock=SimClock(KUKSA_START))
    server = await start_grpc_server(broker, port=0)
    async with grpc.aio.insecure_channel(server.target) as chan:
        yield val_grpc_v2.VALStub(chan), val_grpc_v1.VALStub(chan)
    await server.stop(0)


def _wire(field: str, value: Any) -> types_v2.Value:
    message = types_v2.Value()
    if field.endswith("_array"):
        getattr(message, field).values.extend(value)
    else:
        setattr(message, field, value)
    return message


async def test_every_vss_datatype_round_trips(typed_stubs: tuple[Any, Any]) -> None:
    v2, v1 = typed_stubs
    for datatype, (field, sent, expected) in ALL_TYPES.items():
        path = f"Vehicle.{_name(datatype)}"
        (md,) = (await v2.ListMetadata(val_v2.ListMetadataRequest(root=path))).metadata
        kuksa_name = datatype.upper().replace("[]", "_ARRAY").replace("BOOLEAN", "BOOLEAN")
        assert md.data_type == types_v2.DataType.Value(f"DATA_TYPE_{kuksa_name}")
        await v2.PublishValue(
            val_v2.PublishValueRequest(
                signal_id=sid(path), data_point=types_v2.Datapoint(value=_wire(field, sent))
            )
        )
        got = (await v2.GetValue(val_v2.GetValueRequest(signal_id=sid(path)))).data_point.value
        assert got.WhichOneof("typed_value") == field, datatype
        back = getattr(got, field)
        assert (list(back.values) if field.endswith("_array") else back) == expected
        old = await v1.Get(
            val_v1.GetRequest(
                entries=[val_v1.EntryRequest(path=path, view=types_v1.VIEW_CURRENT_VALUE)]
            )
        )
        point = old.entries[0].value
        assert point.WhichOneof("value") == field, datatype
        v1_back = getattr(point, field)
        assert (list(v1_back.values) if field.endswith("_array") else v1_back) == expected


@pytest.mark.parametrize(
    ("datatype", "value", "stale"),
    [
        (DataType.FLOAT, 1.5, False),
        (DataType.DOUBLE, -2.25, False),
        (DataType.UINT8, 200, False),
        (DataType.INT64, -(2**40), False),
        (DataType.BOOLEAN, True, False),
        (DataType.STRING, "OPEN", False),
        (DataType.STRING_ARRAY, ("a", "b"), False),
        (DataType.FLOAT_ARRAY, (1.0, 2.0), False),
        (DataType.FLOAT, 3.0, True),
        (DataType.FLOAT, None, False),
    ],
)
def test_filling_in_place_equals_building(datatype: DataType, value: object, stale: bool) -> None:
    from smartev.vehicle.broker import Datapoint as BrokerDatapoint
    from smartev.vehicle.kuksa_convert import datapoint_v2, fill_datapoint_v2

    dp = BrokerDatapoint(value, 1_780_000_000.123456, stale=stale)  # type: ignore[arg-type]
    filled = types_v2.Datapoint()
    fill_datapoint_v2(filled, datatype, dp)
    assert filled == datapoint_v2(datatype, dp)
