"""The real kuksa-client 0.6.0 (unmodified) against the server: its blocking ``VSSClient`` in
worker threads and its asyncio ``VSSClient`` on the test's loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from kuksa_client.grpc import (
    Datapoint,
    DataType,
    EntryType,
    MetadataField,
    VSSClient,
    VSSClientError,
)
from kuksa_client.grpc.aio import VSSClient as AsyncVSSClient

from smartev.vehicle.actuation import ActuationState
from smartev.vehicle.broker import Broker
from smartev.vehicle.grpc_server import GrpcServer

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LIMIT = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"
INLETS = "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.SupportedInletTypes"


def client(server: GrpcServer) -> VSSClient:
    return VSSClient(server.host, server.port)


async def test_read_write_and_metadata(kuksa_server: GrpcServer) -> None:
    def session() -> dict[str, Any]:
        with client(kuksa_server) as c:
            info = c.get_server_info()
            # kuksa-client takes arrays in its command-line syntax
            c.set_current_values({SPEED: Datapoint(42.5), INLETS: Datapoint("[GBT_AC, OTHER]")})
            values = c.get_current_values([SPEED, SOC, INLETS])
            metadata = c.get_metadata([LIMIT, SPEED])
            unit = c.get_metadata([SPEED], MetadataField.UNIT)
            return {"info": info, "values": values, "metadata": metadata, "unit": unit}

    result = await asyncio.to_thread(session)
    assert result["info"].name == "smartev"
    values = result["values"]
    assert values[SPEED].value == 42.5
    assert values[SPEED].timestamp is not None
    assert values[SOC] is None  # never set
    assert list(values[INLETS].value.values) == ["GBT_AC", "OTHER"]  # it returns the message
    limit = result["metadata"][LIMIT]
    assert limit.data_type is DataType.UINT8
    assert limit.entry_type is EntryType.ACTUATOR
    assert limit.unit == "percent"
    assert limit.value_restriction is not None
    assert (limit.value_restriction.min, limit.value_restriction.max) == (0, 100)
    assert result["unit"][SPEED].unit == "km/h"


async def test_errors_reach_the_client(kuksa_server: GrpcServer) -> None:
    def attempt(action: str) -> dict[str, Any]:
        with client(kuksa_server) as c:
            try:
                if action == "get":
                    c.get_current_values(["Vehicle.Nope"])
                elif action == "range":
                    c.set_current_values({SOC: Datapoint(140.0)})
                elif action == "sensor":
                    c.set_target_values({SPEED: Datapoint(10.0)})
                else:
                    c.set_target_values({LIMIT: Datapoint(80)})
            except VSSClientError as exc:
                return exc.to_dict()
        raise AssertionError(f"{action} did not fail")

    not_found = await asyncio.to_thread(attempt, "get")
    assert not_found["errors"][0]["error"]["code"] == 404
    out_of_range = await asyncio.to_thread(attempt, "range")
    assert out_of_range["error"]["code"] == 3  # INVALID_ARGUMENT
    assert SOC in out_of_range["error"]["message"]
    sensor = await asyncio.to_thread(attempt, "sensor")
    assert sensor["error"]["code"] == 3
    no_provider = await asyncio.to_thread(attempt, "no provider")
    assert no_provider["error"]["code"] == 503


async def test_subscribe_current_values(kuksa_server: GrpcServer) -> None:
    subscribed = threading.Event()

    def watch() -> list[dict[str, Any]]:
        seen = []
        with client(kuksa_server) as c:
            for updates in c.subscribe_current_values([SPEED, "Vehicle.Cabin.HVAC"]):
                seen.append(updates)
                subscribed.set()
                speed = updates.get(SPEED)
                if speed is not None and speed.value == 77.0:
                    break
        return seen

    def publish() -> None:
        subscribed.wait(5)
        with client(kuksa_server) as c:
            c.set_current_values({SPEED: Datapoint(77.0)})

    seen, _ = await asyncio.gather(asyncio.to_thread(watch), asyncio.to_thread(publish))
    assert "Vehicle.Cabin.HVAC.IsAirConditioningActive" in seen[0]  # a branch, expanded
    assert seen[-1][SPEED].value == 77.0


async def test_provider_executes_targets(kuksa_server: GrpcServer, kuksa_broker: Broker) -> None:
    """kuksa-client's ``subscribe_target_values`` is a v2 provider: it claims the actuator and
    receives targets; it carries them out by publishing the new current value."""
    claimed = threading.Event()

    def provide() -> list[Any]:
        targets = []
        with client(kuksa_server) as c:
            for updates in c.subscribe_target_values([LIMIT]):
                targets.append(updates[LIMIT].value)
                c.set_current_values({LIMIT: Datapoint(updates[LIMIT].value)})
                break
        return targets

    provider = asyncio.create_task(asyncio.to_thread(provide))
    for _ in range(100):
        if kuksa_broker.provider_of(LIMIT) is not None:
            claimed.set()
            break
        await asyncio.sleep(0.05)
    assert claimed.is_set()

    def set_target() -> None:
        with client(kuksa_server) as c:
            c.set_target_values({LIMIT: Datapoint(80)})

    await asyncio.to_thread(set_target)
    assert await asyncio.wait_for(provider, 10) == [80]
    done = await asyncio.wait_for(kuksa_broker.actuations.wait("act-1"), 5)
    assert done.state is ActuationState.EXECUTED
    assert kuksa_broker.get(LIMIT).value == 80


async def test_async_client(kuksa_server: GrpcServer, kuksa_broker: Broker) -> None:
    async with AsyncVSSClient(kuksa_server.host, kuksa_server.port) as c:
        assert (await c.get_server_info()).name == "smartev"
        await c.set_current_values({SOC: Datapoint(64.0)})
        assert (await c.get_current_values([SOC]))[SOC].value == 64.0
        stream = c.subscribe_current_values([SOC])
        first = await asyncio.wait_for(anext(stream), 5)
        assert first[SOC].value == 64.0
        kuksa_broker.publish({SOC: 65.0})
        second = await asyncio.wait_for(anext(stream), 5)
        assert second[SOC].value == 65.0
        await stream.aclose()
        with pytest.raises(VSSClientError):
            await c.set_target_values({LIMIT: Datapoint(80)})
