"""kuksa.val.v1.VAL over a real port with the generated stubs: Get, Set, Subscribe,
StreamedUpdate and GetServerInfo, with the databroker's per-entry errors and status codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import grpc
import pytest
from kuksa.val.v1 import types_pb2 as types_v1
from kuksa.val.v1 import val_pb2 as val_v1

from smartev.vehicle.actuation import ActuationState
from smartev.vehicle.broker import Broker

from .conftest import DemoProvider

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LIMIT = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"
STATE = "Vehicle.LowVoltageSystemState"
TEMP = "Vehicle.Cabin.Seat.Row1.DriverSide.HeatingCooling"

T = types_v1


async def rpc_error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def get_request(*paths: str, view: int = T.VIEW_CURRENT_VALUE, fields: tuple[int, ...] = ()) -> Any:
    return val_v1.GetRequest(
        entries=[val_v1.EntryRequest(path=p, view=view, fields=list(fields)) for p in paths]
    )


def update(path: str, field: int, **value: Any) -> val_v1.EntryUpdate:
    point = T.Datapoint(**value)
    entry = T.DataEntry(path=path)
    (entry.actuator_target if field == T.FIELD_ACTUATOR_TARGET else entry.value).CopyFrom(point)
    return val_v1.EntryUpdate(entry=entry, fields=[field])


async def test_server_info(v1: Any) -> None:
    info = await v1.GetServerInfo(val_v1.GetServerInfoRequest())
    assert info.name == "smartev"


async def test_get_values_targets_and_metadata(v1: Any, kuksa_broker: Broker) -> None:
    kuksa_broker.publish({SPEED: 12.5})
    got = await v1.Get(get_request(SPEED, SOC))
    assert not got.errors
    assert not got.HasField("error")
    by_path = {e.path: e for e in got.entries}
    assert by_path[SPEED].value.float == 12.5
    assert by_path[SPEED].value.timestamp.seconds > 0
    assert not by_path[SOC].HasField("value")
    md = await v1.Get(get_request(LIMIT, STATE, SOC, TEMP, view=T.VIEW_METADATA))
    meta = {e.path: e.metadata for e in md.entries}
    assert meta[LIMIT].data_type == T.DATA_TYPE_UINT8
    assert meta[LIMIT].entry_type == T.ENTRY_TYPE_ACTUATOR
    assert meta[LIMIT].unit == "percent"
    restriction = meta[LIMIT].value_restriction.unsigned
    assert (restriction.min, restriction.max) == (0, 100)
    assert "LOCK" in meta[STATE].value_restriction.string.allowed_values
    assert meta[SOC].value_restriction.floating_point.max == 100.0
    assert meta[TEMP].value_restriction.signed.min == -100
    assert meta[SOC].HasField("sensor")
    assert meta[LIMIT].HasField("actuator")
    only_type = await v1.Get(
        get_request(SPEED, view=T.VIEW_FIELDS, fields=(T.FIELD_METADATA_DATA_TYPE,))
    )
    assert only_type.entries[0].metadata.data_type == T.DATA_TYPE_FLOAT
    assert not only_type.entries[0].metadata.HasField("unit")


async def test_get_branches_and_wildcards(v1: Any) -> None:
    branch = await v1.Get(get_request("Vehicle.Cabin.HVAC", view=T.VIEW_METADATA))
    assert len(branch.entries) > 5
    doors = await v1.Get(get_request("Vehicle.Cabin.Door.*.*.IsLocked"))
    assert len(doors.entries) == 4


async def test_get_errors(v1: Any) -> None:
    got = await v1.Get(get_request(SPEED, "Vehicle.Sped", "Vehicle..X"))
    assert [e.path for e in got.entries] == [SPEED]
    errors = {e.path: e.error for e in got.errors}
    assert errors["Vehicle.Sped"].code == 404
    assert "Vehicle.Speed" in errors["Vehicle.Sped"].message  # a suggestion
    assert errors["Vehicle..X"].code == 400
    assert got.error.code == 404
    err = await rpc_error(v1.Get(val_v1.GetRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(v1.Get(get_request(SPEED, view=42)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_set_value_and_target(
    v1: Any, kuksa_broker: Broker, demo_provider: DemoProvider
) -> None:
    await v1.Set(val_v1.SetRequest(updates=[update(SPEED, T.FIELD_VALUE, float=3.0)]))
    assert kuksa_broker.get(SPEED).value == 3.0
    call = v1.Set(val_v1.SetRequest(updates=[update(LIMIT, T.FIELD_ACTUATOR_TARGET, uint32=75)]))
    response = await call
    assert not response.errors
    request_id = dict(await call.trailing_metadata())["x-smartev-actuation-id"]
    done = await asyncio.wait_for(kuksa_broker.actuations.wait(request_id), 5)
    assert done.state is ActuationState.EXECUTED
    got = await v1.Get(get_request(LIMIT, view=T.VIEW_ALL))
    assert got.entries[0].value.uint32 == 75
    assert got.entries[0].actuator_target.uint32 == 75


async def test_set_errors(v1: Any, kuksa_broker: Broker) -> None:
    err = await rpc_error(
        v1.Set(val_v1.SetRequest(updates=[update(SPEED, T.FIELD_ACTUATOR_TARGET, float=1.0)]))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert SPEED in err.details()
    assert "not an actuator" in err.details()
    err = await rpc_error(
        v1.Set(val_v1.SetRequest(updates=[val_v1.EntryUpdate(fields=[T.FIELD_VALUE])]))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def entry_errors(*updates: val_v1.EntryUpdate) -> dict[str, Any]:
        response = await v1.Set(val_v1.SetRequest(updates=list(updates)))
        assert response.error.code == response.errors[0].error.code
        return {e.path: e.error for e in response.errors}

    errors = await entry_errors(update("Vehicle.Nope", T.FIELD_VALUE, float=1.0))
    assert errors["Vehicle.Nope"].code == 404
    errors = await entry_errors(update(LIMIT, T.FIELD_ACTUATOR_TARGET, uint32=80))
    assert (errors[LIMIT].code, errors[LIMIT].reason) == (503, "unavailable")
    errors = await entry_errors(
        update(SPEED, T.FIELD_VALUE, float=5.0), update(SOC, T.FIELD_VALUE, string="full")
    )
    assert list(errors) == [SOC]
    assert errors[SOC].code == 400
    assert SOC in errors[SOC].message
    assert kuksa_broker.get(SPEED).value is None  # all or nothing
    errors = await entry_errors(
        val_v1.EntryUpdate(entry=T.DataEntry(path=SPEED), fields=[T.FIELD_METADATA_UNIT])
    )
    assert errors[SPEED].code == 400
    errors = await entry_errors(val_v1.EntryUpdate(entry=T.DataEntry(path=SPEED)))
    assert "nothing to set" in errors[SPEED].message
    errors = await entry_errors(
        val_v1.EntryUpdate(entry=T.DataEntry(path=SPEED), fields=[T.FIELD_VALUE])
    )
    assert "no value given" in errors[SPEED].message


async def test_subscribe_values_and_targets(
    v1: Any, kuksa_broker: Broker, demo_provider: DemoProvider
) -> None:
    demo_provider.execute = False
    request = val_v1.SubscribeRequest(
        entries=[
            val_v1.SubscribeEntry(path=SPEED, view=T.VIEW_CURRENT_VALUE),
            val_v1.SubscribeEntry(path=LIMIT, fields=[T.FIELD_ACTUATOR_TARGET]),
            val_v1.SubscribeEntry(path="Vehicle.NoSuch", view=T.VIEW_CURRENT_VALUE),
        ]
    )
    call = v1.Subscribe(request)
    stream = call.__aiter__()
    seen: dict[str, Any] = {}
    while len(seen) < 2:
        response = await asyncio.wait_for(anext(stream), 5)
        for item in response.updates:
            seen[item.entry.path] = item
    assert list(seen[SPEED].fields) == [T.FIELD_VALUE]
    assert list(seen[LIMIT].fields) == [T.FIELD_ACTUATOR_TARGET]
    assert ("x-smartev-unknown-paths", "Vehicle.NoSuch") in list(await call.initial_metadata())
    kuksa_broker.publish({SPEED: 99.0})
    response = await asyncio.wait_for(anext(stream), 5)
    assert response.updates[0].entry.value.float == 99.0
    kuksa_broker.actuate(LIMIT, 66)
    response = await asyncio.wait_for(anext(stream), 5)
    assert response.updates[0].entry.actuator_target.uint32 == 66
    call.cancel()


async def test_subscribe_refusals(v1: Any) -> None:
    async def first_error(*entries: val_v1.SubscribeEntry) -> grpc.aio.AioRpcError:
        call = v1.Subscribe(val_v1.SubscribeRequest(entries=list(entries)))
        return await rpc_error(anext(call.__aiter__()))

    err = await first_error(val_v1.SubscribeEntry(path="Vehicle.NoSuch"))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "Vehicle.NoSuch" in err.details()
    assert (await first_error()).code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await first_error(val_v1.SubscribeEntry(path=SPEED, view=T.VIEW_METADATA))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_streamed_update(v1: Any, kuksa_broker: Broker) -> None:
    async def requests() -> AsyncIterator[val_v1.StreamedUpdateRequest]:
        yield val_v1.StreamedUpdateRequest(updates=[update(SPEED, T.FIELD_VALUE, float=1.0)])
        yield val_v1.StreamedUpdateRequest(
            updates=[update(SPEED, T.FIELD_ACTUATOR_TARGET, float=2.0)]
        )
        yield val_v1.StreamedUpdateRequest(updates=[update(SOC, T.FIELD_VALUE, float=50.0)])

    responses = [r async for r in v1.StreamedUpdate(requests())]
    assert [len(r.errors) for r in responses] == [0, 1, 0]
    assert responses[1].errors[0].error.code == 400
    assert kuksa_broker.get(SOC).value == 50.0
