"""kuksa.val.v2.VAL over a real port with the generated stubs: every RPC, good and bad requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import grpc
import pytest
from kuksa.val.v2 import types_pb2 as types_v2
from kuksa.val.v2 import val_pb2 as val_v2

from smartev.core.clock import SimClock
from smartev.spec import shipped_catalog
from smartev.vehicle.actuation import ActuationState
from smartev.vehicle.broker import Broker

from .conftest import KUKSA_START, DemoProvider

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
LIMIT = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"
HVAC = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
STATE = "Vehicle.LowVoltageSystemState"
INLETS = "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.SupportedInletTypes"

CATALOG = shipped_catalog()


def sid(path: str) -> types_v2.SignalID:
    return types_v2.SignalID(path=path)


def by_id(path: str) -> types_v2.SignalID:
    return types_v2.SignalID(id=CATALOG.get(path).id)


async def rpc_error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def publish(v2: Any, path: str, **value: Any) -> None:
    await v2.PublishValue(
        val_v2.PublishValueRequest(
            signal_id=sid(path), data_point=types_v2.Datapoint(value=types_v2.Value(**value))
        )
    )


async def test_server_info(v2: Any) -> None:
    info = await v2.GetServerInfo(val_v2.GetServerInfoRequest())
    assert info.name == "smartev"
    assert info.version


async def test_publish_then_get_by_path_and_id(v2: Any, kuksa_clock: SimClock) -> None:
    kuksa_clock.advance(1.5)
    await publish(v2, SPEED, float=42.5)
    got = await v2.GetValue(val_v2.GetValueRequest(signal_id=sid(SPEED)))
    assert got.data_point.value.WhichOneof("typed_value") == "float"
    assert got.data_point.value.float == 42.5
    assert got.data_point.timestamp.ToDatetime().timestamp() == KUKSA_START.timestamp() + 1.5
    again = await v2.GetValue(val_v2.GetValueRequest(signal_id=by_id(SPEED)))
    assert again.data_point == got.data_point
    many = await v2.GetValues(
        val_v2.GetValuesRequest(signal_ids=[sid(SOC), sid(SPEED), by_id(SPEED)])
    )
    assert not many.data_points[0].HasField("value")  # never set: a datapoint without value
    assert [dp.value.float for dp in many.data_points[1:]] == [42.5, 42.5]


async def test_get_value_errors(v2: Any) -> None:
    get = v2.GetValue
    err = await rpc_error(get(val_v2.GetValueRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(get(val_v2.GetValueRequest(signal_id=types_v2.SignalID())))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(get(val_v2.GetValueRequest(signal_id=sid(""))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(get(val_v2.GetValueRequest(signal_id=sid("Vehicle.Sped"))))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "Vehicle.Sped" in err.details()
    assert "Vehicle.Speed" in err.details()
    err = await rpc_error(get(val_v2.GetValueRequest(signal_id=sid("Vehicle.Cabin"))))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "branch" in err.details()
    err = await rpc_error(get(val_v2.GetValueRequest(signal_id=types_v2.SignalID(id=99999))))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "99999" in err.details()
    err = await rpc_error(get(val_v2.GetValueRequest(signal_id=sid("V." * 600))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(v2.GetValues(val_v2.GetValuesRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(v2.GetValues(val_v2.GetValuesRequest(signal_ids=[sid(SPEED), sid("X")])))
    assert err.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (SPEED, {"string": "fast"}, "expected float"),
        (SOC, {"float": 140.0}, "must be 0..100"),
        (WINDOW, {"uint32": 300}, "must be 0..255"),
        (STATE, {"string": "FLYING"}, "must be one of"),
        (INLETS, {"string_array": types_v2.StringArray(values=["GBT_AC", "USB"])}, "item 1"),
        ("Vehicle.IsMoving", {"int32": 1}, "expected boolean"),
    ],
)
async def test_publish_value_refusals_name_path_and_rule(
    v2: Any, path: str, value: dict[str, Any], expected: str
) -> None:
    err = await rpc_error(publish(v2, path, **value))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert path in err.details()
    assert expected in err.details()


async def test_publish_value_malformed(v2: Any) -> None:
    err = await rpc_error(v2.PublishValue(val_v2.PublishValueRequest(signal_id=sid(SPEED))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert SPEED in err.details()
    err = await rpc_error(
        v2.PublishValue(
            val_v2.PublishValueRequest(signal_id=sid(SPEED), data_point=types_v2.Datapoint())
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(publish(v2, "Vehicle.Nope", float=1.0))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_list_metadata(v2: Any) -> None:
    leaf = await v2.ListMetadata(val_v2.ListMetadataRequest(root=LIMIT))
    (md,) = leaf.metadata
    assert md.path == LIMIT
    assert md.id == CATALOG.get(LIMIT).id
    assert md.data_type == types_v2.DATA_TYPE_UINT8
    assert md.entry_type == types_v2.ENTRY_TYPE_ACTUATOR
    assert md.unit == "percent"
    assert (md.min.uint32, md.max.uint32) == (0, 100)
    (state,) = (await v2.ListMetadata(val_v2.ListMetadataRequest(root=STATE))).metadata
    assert "LOCK" in state.allowed_values.string_array.values
    everything = await v2.ListMetadata(val_v2.ListMetadataRequest(root=""))
    assert len(everything.metadata) == len(CATALOG)
    doors = await v2.ListMetadata(
        val_v2.ListMetadataRequest(root="Vehicle.Cabin.Door.*.*.IsLocked")
    )
    assert len(doors.metadata) == 4
    branch = await v2.ListMetadata(val_v2.ListMetadataRequest(root="Vehicle.Cabin.HVAC"))
    assert all(m.path.startswith("Vehicle.Cabin.HVAC.") for m in branch.metadata)
    err = await rpc_error(v2.ListMetadata(val_v2.ListMetadataRequest(root="Vehicle.Nope")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "Vehicle.Nope" in err.details()
    err = await rpc_error(v2.ListMetadata(val_v2.ListMetadataRequest(root="Vehicle..Speed")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def anext_with_timeout(stream: AsyncIterator[Any]) -> Any:
    return await asyncio.wait_for(anext(stream), 5)


async def test_subscribe_streams_known_paths_and_names_unknown(v2: Any) -> None:
    await publish(v2, SPEED, float=10.0)
    call = v2.Subscribe(val_v2.SubscribeRequest(signal_paths=[SPEED, SOC, "Vehicle.NoSuch"]))
    stream = call.__aiter__()
    first = await anext_with_timeout(stream)
    assert set(first.entries) == {SPEED, SOC}
    assert first.entries[SPEED].value.float == 10.0
    assert not first.entries[SOC].HasField("value")
    metadata = await call.initial_metadata()
    assert ("x-smartev-unknown-paths", "Vehicle.NoSuch") in list(metadata)
    await publish(v2, SOC, float=55.0)
    second = await anext_with_timeout(stream)
    assert dict(second.entries)[SOC].value.float == 55.0
    call.cancel()


async def test_subscribe_refusals(v2: Any) -> None:
    async def first_error(request: val_v2.SubscribeRequest) -> grpc.aio.AioRpcError:
        return await rpc_error(anext(v2.Subscribe(request).__aiter__()))

    err = await first_error(val_v2.SubscribeRequest(signal_paths=["Vehicle.NoSuch"]))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "Vehicle.NoSuch" in err.details()
    err = await first_error(val_v2.SubscribeRequest())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await first_error(val_v2.SubscribeRequest(signal_paths=[SPEED], buffer_size=1001))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await first_error(val_v2.SubscribeRequest(signal_paths=["Vehicle..X"]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_subscribe_by_id(v2: Any) -> None:
    speed_id = CATALOG.get(SPEED).id
    call = v2.SubscribeById(val_v2.SubscribeByIdRequest(signal_ids=[speed_id, 424242]))
    stream = call.__aiter__()
    first = await anext_with_timeout(stream)
    assert list(first.entries) == [speed_id]
    assert ("x-smartev-unknown-ids", "424242") in list(await call.initial_metadata())
    await publish(v2, SPEED, float=33.0)
    assert (await anext_with_timeout(stream)).entries[speed_id].value.float == 33.0
    call.cancel()
    err = await rpc_error(
        anext(v2.SubscribeById(val_v2.SubscribeByIdRequest(signal_ids=[424242])).__aiter__())
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND


def actuate(path: str, **value: Any) -> val_v2.ActuateRequest:
    return val_v2.ActuateRequest(signal_id=sid(path), value=types_v2.Value(**value))


async def test_actuate_refusals(v2: Any, kuksa_broker: Broker) -> None:
    cases = [
        (actuate(LIMIT, uint32=80), grpc.StatusCode.UNAVAILABLE, "no provider"),
        (actuate(SPEED, float=10.0), grpc.StatusCode.INVALID_ARGUMENT, "not an actuator"),
        (actuate("Vehicle.Nope", bool=True), grpc.StatusCode.NOT_FOUND, "Vehicle.Nope"),
        (actuate(LIMIT, uint32=101), grpc.StatusCode.INVALID_ARGUMENT, "must be 0..100"),
        (actuate(LIMIT, string="80"), grpc.StatusCode.INVALID_ARGUMENT, "expected uint8"),
        (val_v2.ActuateRequest(signal_id=sid(LIMIT)), grpc.StatusCode.INVALID_ARGUMENT, "no value"),
        (val_v2.ActuateRequest(), grpc.StatusCode.INVALID_ARGUMENT, "signal_id"),
    ]
    for request, code, words in cases:
        err = await rpc_error(v2.Actuate(request))
        assert (err.code(), words in err.details()) == (code, True), err.details()
    assert kuksa_broker.actuations.open_requests() == []


async def test_actuate_refused_by_safety_rules(
    v2: Any, demo_provider: DemoProvider, kuksa_broker: Broker
) -> None:
    err = await rpc_error(v2.Actuate(actuate(LIMIT, uint32=20)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert LIMIT in err.details()
    assert "50..100" in err.details()
    err = await rpc_error(v2.Actuate(actuate(TRUNK, bool=True)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "speed is unknown" in err.details()
    await publish(v2, SPEED, float=50.0)
    err = await rpc_error(v2.Actuate(actuate(TRUNK, bool=True)))
    assert "50 km/h" in err.details()
    await publish(v2, SPEED, float=0.0)
    await v2.Actuate(actuate(TRUNK, bool=True))
    assert demo_provider.received == [] or demo_provider.received[0][0] == TRUNK


async def test_actuate_reaches_the_provider_and_is_executed(
    v2: Any, demo_provider: DemoProvider, kuksa_broker: Broker
) -> None:
    call = v2.Actuate(actuate(LIMIT, uint32=80))
    await call
    trailing = dict(await call.trailing_metadata())
    request_id = trailing["x-smartev-actuation-id"]
    assert trailing["x-smartev-actuation-state"] == "accepted"
    done = await asyncio.wait_for(kuksa_broker.actuations.wait(request_id), 5)
    assert done.state is ActuationState.EXECUTED
    assert demo_provider.received[0][0] == LIMIT
    assert demo_provider.received[0][1].uint32 == 80
    assert kuksa_broker.get(LIMIT).value == 80
    target = kuksa_broker.get_target(LIMIT)
    assert target.value == 80


async def test_batch_actuate_is_all_or_nothing_and_one_message(
    v2: Any, demo_provider: DemoProvider, kuksa_broker: Broker
) -> None:
    bad = val_v2.BatchActuateRequest(
        actuate_requests=[actuate(LIMIT, uint32=90), actuate(HVAC, float=40.0)]
    )
    err = await rpc_error(v2.BatchActuate(bad))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert HVAC in err.details()
    assert kuksa_broker.actuations.open_requests() == []
    good = val_v2.BatchActuateRequest(
        actuate_requests=[actuate(LIMIT, uint32=90), actuate(HVAC, float=21.5)]
    )
    call = v2.BatchActuate(good)
    await call
    ids = [v for k, v in await call.trailing_metadata() if k == "x-smartev-actuation-id"]
    assert len(ids) == 2
    for request_id in ids:
        done = await asyncio.wait_for(kuksa_broker.actuations.wait(request_id), 5)
        assert done.state is ActuationState.EXECUTED
    batches = [r for r in demo_provider.responses if r.HasField("batch_actuate_stream_request")]
    assert len(batches) == 1
    assert len(batches[0].batch_actuate_stream_request.actuate_requests) == 2
    for request in (
        val_v2.BatchActuateRequest(),
        val_v2.BatchActuateRequest(
            actuate_requests=[actuate(LIMIT, uint32=90), actuate(LIMIT, uint32=91)]
        ),
    ):
        err = await rpc_error(v2.BatchActuate(request))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_actuate_stream(v2: Any, demo_provider: DemoProvider, kuksa_broker: Broker) -> None:
    async def requests() -> AsyncIterator[val_v2.ActuateRequest]:
        yield actuate(LIMIT, uint32=70)
        yield actuate(HVAC, float=20.0)

    await v2.ActuateStream(requests())
    await asyncio.sleep(0.2)
    assert {path for path, _ in demo_provider.received} == {LIMIT, HVAC}

    async def bad_requests() -> AsyncIterator[val_v2.ActuateRequest]:
        yield actuate(SPEED, float=1.0)

    err = await rpc_error(v2.ActuateStream(bad_requests()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_provider_refusal_fails_the_request(
    v2: Any, demo_provider: DemoProvider, kuksa_broker: Broker
) -> None:
    demo_provider.refuse = True
    call = v2.Actuate(actuate(LIMIT, uint32=60))
    await call
    request_id = dict(await call.trailing_metadata())["x-smartev-actuation-id"]
    done = await asyncio.wait_for(kuksa_broker.actuations.wait(request_id), 5)
    assert done.state is ActuationState.FAILED
    assert "motor stalled" in done.reason


async def test_provider_disconnect_fails_open_requests_and_frees_the_claim(
    v2: Any, demo_provider: DemoProvider, kuksa_broker: Broker
) -> None:
    demo_provider.execute = False
    call = v2.Actuate(actuate(LIMIT, uint32=65))
    await call
    request_id = dict(await call.trailing_metadata())["x-smartev-actuation-id"]
    await demo_provider.stop()
    done = await asyncio.wait_for(kuksa_broker.actuations.wait(request_id), 5)
    assert done.state is ActuationState.FAILED
    assert "disconnected" in done.reason
    err = await rpc_error(v2.Actuate(actuate(LIMIT, uint32=65)))
    assert err.code() == grpc.StatusCode.UNAVAILABLE


async def test_provider_claim_refusals(v2: Any, demo_provider: DemoProvider) -> None:
    async def claim(*identifiers: types_v2.SignalID) -> grpc.aio.AioRpcError:
        async def requests() -> AsyncIterator[val_v2.OpenProviderStreamRequest]:
            yield val_v2.OpenProviderStreamRequest(
                provide_actuation_request=val_v2.ProvideActuationRequest(
                    actuator_identifiers=list(identifiers)
                )
            )
            await asyncio.sleep(5)

        return await rpc_error(anext(v2.OpenProviderStream(requests()).__aiter__()))

    assert (await claim(sid("Vehicle.Nope"))).code() == grpc.StatusCode.NOT_FOUND
    err = await claim(sid(SPEED))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert SPEED in err.details()
    err = await claim(sid(LIMIT))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert LIMIT in err.details()
    assert (await claim()).code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_provider_publishes_with_per_signal_errors(v2: Any, kuksa_broker: Broker) -> None:
    speed_id, soc_id = CATALOG.get(SPEED).id, CATALOG.get(SOC).id
    requests = [
        val_v2.OpenProviderStreamRequest(
            provide_signal_request=val_v2.ProvideSignalRequest(
                signals_sample_intervals={speed_id: types_v2.SampleInterval(interval_ms=100)}
            )
        ),
        val_v2.OpenProviderStreamRequest(
            publish_values_request=val_v2.PublishValuesRequest(
                request_id=7,
                data_points={
                    speed_id: types_v2.Datapoint(value=types_v2.Value(float=88.0)),
                    soc_id: types_v2.Datapoint(value=types_v2.Value(float=101.0)),
                    31337: types_v2.Datapoint(value=types_v2.Value(float=1.0)),
                },
            )
        ),
    ]
    responses = [r async for r in v2.OpenProviderStream(iter(requests))]
    assert responses[0].HasField("provide_signal_response")
    status = responses[1].publish_values_response
    assert status.request_id == 7
    assert set(status.status) == {soc_id, 31337}
    assert status.status[soc_id].code == types_v2.ERROR_CODE_INVALID_ARGUMENT
    assert SOC in status.status[soc_id].message
    assert status.status[31337].code == types_v2.ERROR_CODE_NOT_FOUND
    # The good value was applied; the stream ended, so the provider's value is now stale.
    assert kuksa_broker.get(SPEED).value == 88.0
    assert kuksa_broker.get(SPEED).stale
    got = await v2.GetValue(val_v2.GetValueRequest(signal_id=sid(SPEED)))
    assert not got.data_point.HasField("value")
    assert got.data_point.HasField("timestamp")


async def test_malformed_bytes_are_invalid_argument(channel: grpc.aio.Channel) -> None:
    for method in ("/kuksa.val.v2.VAL/GetValue", "/kuksa.val.v1.VAL/Get"):
        call = channel.unary_unary(method)
        err = await rpc_error(call(b"\x0a\xff\xff\xff\xff"))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "malformed" in err.details()


async def test_provider_error_indication_marks_values_stale(v2: Any, kuksa_broker: Broker) -> None:
    speed_id = CATALOG.get(SPEED).id
    call = v2.OpenProviderStream()
    await call.write(
        val_v2.OpenProviderStreamRequest(
            provide_signal_request=val_v2.ProvideSignalRequest(
                signals_sample_intervals={speed_id: types_v2.SampleInterval(interval_ms=100)}
            )
        )
    )
    assert (await call.read()).HasField("provide_signal_response")
    await call.write(
        val_v2.OpenProviderStreamRequest(
            publish_values_request=val_v2.PublishValuesRequest(
                request_id=1,
                data_points={speed_id: types_v2.Datapoint(value=types_v2.Value(float=42.0))},
            )
        )
    )
    await call.write(
        val_v2.OpenProviderStreamRequest(
            provider_error_indication=val_v2.ProviderErrorIndication(
                provider_error=types_v2.CODE_NETWORK_ERROR
            )
        )
    )
    for _ in range(100):
        if kuksa_broker.get(SPEED).stale:
            break
        await asyncio.sleep(0.01)
    assert kuksa_broker.get(SPEED).stale
    assert kuksa_broker.get(SPEED).value == 42.0
    await call.write(
        val_v2.OpenProviderStreamRequest(
            publish_values_request=val_v2.PublishValuesRequest(
                request_id=2,
                data_points={speed_id: types_v2.Datapoint(value=types_v2.Value(float=43.0))},
            )
        )
    )
    for _ in range(100):
        if not kuksa_broker.get(SPEED).stale:
            break
        await asyncio.sleep(0.01)
    assert kuksa_broker.get(SPEED).value == 43.0
    assert not kuksa_broker.get(SPEED).stale
    call.cancel()
