"""JWT bearer tokens in KUKSA's format and TLS, with keys and certificates made by the test."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from kuksa.val.v1 import types_pb2 as types_v1
from kuksa.val.v1 import val_pb2 as val_v1
from kuksa.val.v1 import val_pb2_grpc as val_grpc_v1
from kuksa.val.v2 import types_pb2 as types_v2
from kuksa.val.v2 import val_pb2 as val_v2
from kuksa.val.v2 import val_pb2_grpc as val_grpc_v2
from kuksa_client.grpc import Datapoint, VSSClient, VSSClientError

from smartev.core.clock import SimClock
from smartev.vehicle.broker import Broker
from smartev.vehicle.grpc_server import GrpcServerConfigError, start_grpc_server
from tests.certs import write_self_signed

from .conftest import KUKSA_START

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LIMIT = "Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"
NOW = KUKSA_START.timestamp()


def pem_public(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(key: Any, scope: str | None = "read", *, alg: str = "RS256", **claims: Any) -> str:
    body: dict[str, Any] = {
        "sub": "tester",
        "iss": "smartev tests",
        "aud": ["kuksa.val"],
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 3600,
    }
    if scope is not None:
        body["scope"] = scope
    body.update(claims)
    return jwt.encode(body, key, algorithm=alg)


def bearer(value: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {value}"),)


@pytest.fixture
def auth_clock() -> SimClock:
    return SimClock(KUKSA_START)


@pytest.fixture
async def secured(
    rsa_key: rsa.RSAPrivateKey, kuksa_broker: Broker, auth_clock: SimClock
) -> AsyncIterator[tuple[Any, Any, str]]:
    server = await start_grpc_server(
        kuksa_broker, port=0, jwt_public_key=pem_public(rsa_key), clock=auth_clock
    )
    async with grpc.aio.insecure_channel(server.target) as chan:
        yield val_grpc_v2.VALStub(chan), val_grpc_v1.VALStub(chan), server.target
    await server.stop(0)


async def code_of(call: Awaitable[Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code()


def get_speed() -> val_v2.GetValueRequest:
    return val_v2.GetValueRequest(signal_id=types_v2.SignalID(path=SPEED))


async def test_bad_tokens_are_unauthenticated(
    secured: tuple[Any, Any, str], rsa_key: rsa.RSAPrivateKey
) -> None:
    v2, v1, _ = secured
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert await code_of(v2.GetValue(get_speed())) == unauthenticated
    assert await code_of(v1.Get(val_v1.GetRequest())) == unauthenticated
    assert await code_of(v2.GetServerInfo(val_v2.GetServerInfoRequest())) == unauthenticated
    bad_tokens = [
        token(other),  # signed with another key
        token(rsa_key, exp=int(NOW) - 1),  # expired
        token(rsa_key, iat=int(NOW) + 3600, exp=int(NOW) + 7200),  # issued in the future
        token(rsa_key, exp="tomorrow"),
        token(rsa_key, scope=None),  # no scope claim
        token(rsa_key, aud=["someone.else"]),
        token(rsa_key, scope="read:Vehicle..Speed"),  # a malformed scope
        "not.a.token",
    ]
    for bad in bad_tokens:
        assert await code_of(v2.GetValue(get_speed(), metadata=bearer(bad))) == unauthenticated
    basic = (("authorization", "Basic dXNlcjpwYXNz"),)
    assert await code_of(v2.GetValue(get_speed(), metadata=basic)) == unauthenticated
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await v2.GetValue(get_speed(), metadata=bearer(token(rsa_key, exp=int(NOW) - 1)))
    assert "expired" in info.value.details()


async def test_scopes_are_honoured(
    secured: tuple[Any, Any, str], rsa_key: rsa.RSAPrivateKey, kuksa_broker: Broker
) -> None:
    v2, v1, _ = secured
    kuksa_broker.publish({SPEED: 5.0})
    read_all = bearer(token(rsa_key, "read"))
    got = await v2.GetValue(get_speed(), metadata=read_all)
    assert got.data_point.value.float == 5.0
    publish = val_v2.PublishValueRequest(
        signal_id=types_v2.SignalID(path=SPEED),
        data_point=types_v2.Datapoint(value=types_v2.Value(float=1.0)),
    )
    denied = grpc.StatusCode.PERMISSION_DENIED
    assert await code_of(v2.PublishValue(publish, metadata=read_all)) == denied
    actuate = val_v2.ActuateRequest(
        signal_id=types_v2.SignalID(path=LIMIT), value=types_v2.Value(uint32=80)
    )
    assert await code_of(v2.Actuate(actuate, metadata=read_all)) == denied
    speed_only = bearer(token(rsa_key, "read:Vehicle.Speed"))
    await v2.GetValue(get_speed(), metadata=speed_only)
    soc = val_v2.GetValueRequest(signal_id=types_v2.SignalID(path=SOC))
    assert await code_of(v2.GetValue(soc, metadata=speed_only)) == denied
    # v1 answers per entry, as the databroker: 403 forbidden
    response = await v1.Get(
        val_v1.GetRequest(
            entries=[val_v1.EntryRequest(path=SOC, view=types_v1.VIEW_CURRENT_VALUE)]
        ),
        metadata=speed_only,
    )
    assert response.errors[0].error.code == 403
    assert await v2.PublishValue(publish, metadata=bearer(token(rsa_key, "provide:data")))
    assert kuksa_broker.get(SPEED).value == 1.0


async def test_provider_needs_a_provide_scope(
    secured: tuple[Any, Any, str], rsa_key: rsa.RSAPrivateKey
) -> None:
    v2, _, _ = secured

    def claim() -> Any:
        return iter(
            [
                val_v2.OpenProviderStreamRequest(
                    provide_actuation_request=val_v2.ProvideActuationRequest(
                        actuator_identifiers=[types_v2.SignalID(path=LIMIT)]
                    )
                )
            ]
        )

    call = v2.OpenProviderStream(claim(), metadata=bearer(token(rsa_key, "read actuate")))
    assert await code_of(anext(call.__aiter__())) == grpc.StatusCode.PERMISSION_DENIED
    call = v2.OpenProviderStream(claim(), metadata=bearer(token(rsa_key, "provide:Vehicle")))
    first = await asyncio.wait_for(anext(call.__aiter__()), 5)
    assert first.HasField("provide_actuation_response")
    call.cancel()


async def test_a_stream_ends_when_its_token_expires(
    secured: tuple[Any, Any, str],
    rsa_key: rsa.RSAPrivateKey,
    kuksa_broker: Broker,
    auth_clock: SimClock,
) -> None:
    v2, _, _ = secured
    short = bearer(token(rsa_key, "read", exp=int(NOW) + 60))
    call = v2.Subscribe(val_v2.SubscribeRequest(signal_paths=[SPEED]), metadata=short)
    stream = call.__aiter__()
    await asyncio.wait_for(anext(stream), 5)
    auth_clock.advance(61)
    kuksa_broker.publish({SPEED: 9.0})
    assert await code_of(asyncio.wait_for(anext(stream), 5)) == grpc.StatusCode.UNAUTHENTICATED


async def test_es256_tokens(kuksa_broker: Broker) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    server = await start_grpc_server(
        kuksa_broker, port=0, jwt_public_key=pem_public(key).decode(), clock=SimClock(KUKSA_START)
    )
    async with grpc.aio.insecure_channel(server.target) as chan:
        v2 = val_grpc_v2.VALStub(chan)
        await v2.GetValue(get_speed(), metadata=bearer(token(key, alg="ES256")))
    await server.stop(0)


async def test_kuksa_client_with_tokens(rsa_key: rsa.RSAPrivateKey, kuksa_broker: Broker) -> None:
    server = await start_grpc_server(kuksa_broker, port=0, jwt_public_key=pem_public(rsa_key))
    real_now = int(dt.datetime.now(dt.UTC).timestamp())
    reader = token(rsa_key, "read", iat=real_now - 10, exp=real_now + 600)
    writer = token(rsa_key, "provide:data read", iat=real_now - 10, exp=real_now + 600)

    def session() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with VSSClient(server.host, server.port) as anonymous:
            out["info"] = anonymous.get_server_info()  # UNAUTHENTICATED: None, as it tolerates
            try:
                anonymous.get_current_values([SPEED])
            except VSSClientError as exc:
                out["anonymous"] = exc.error["code"]
        with VSSClient(server.host, server.port, token=writer) as c:
            c.set_current_values({SPEED: Datapoint(12.0)})
        with VSSClient(server.host, server.port, token=reader) as c:
            out["speed"] = c.get_current_values([SPEED])[SPEED].value
            try:
                c.set_current_values({SPEED: Datapoint(13.0)})
            except VSSClientError as exc:
                out["read-only"] = exc.error["code"]
        return out

    out = await asyncio.to_thread(session)
    await server.stop(0)
    assert out["info"] is None
    assert out["anonymous"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert out["speed"] == 12.0
    assert out["read-only"] == grpc.StatusCode.PERMISSION_DENIED.value[0]


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_self_signed(tmp_path_factory.mktemp("tls"))


async def test_tls(certificate: tuple[Path, Path], kuksa_broker: Broker) -> None:
    cert_file, key_file = certificate
    server = await start_grpc_server(kuksa_broker, port=0, tls_cert=cert_file, tls_key=key_file)
    assert server.tls
    kuksa_broker.publish({SPEED: 30.0})
    credentials = grpc.ssl_channel_credentials(cert_file.read_bytes())
    async with grpc.aio.secure_channel(server.target, credentials) as chan:
        got = await val_grpc_v2.VALStub(chan).GetValue(get_speed())
        assert got.data_point.value.float == 30.0
    async with grpc.aio.insecure_channel(server.target) as chan:
        plain = val_grpc_v2.VALStub(chan).GetValue(get_speed(), timeout=2)
        assert await code_of(plain) == grpc.StatusCode.UNAVAILABLE

    def with_kuksa_client() -> Any:
        with VSSClient(
            "127.0.0.1", server.port, root_certificates=cert_file, tls_server_name="localhost"
        ) as c:
            return c.get_current_values([SPEED])[SPEED].value

    assert await asyncio.to_thread(with_kuksa_client) == 30.0
    await server.stop(0)


async def test_configuration_errors(
    certificate: tuple[Path, Path], kuksa_broker: Broker, tmp_path: Path
) -> None:
    cert_file, key_file = certificate
    with pytest.raises(GrpcServerConfigError, match="PEM"):
        await start_grpc_server(kuksa_broker, port=0, jwt_public_key="not a key")
    with pytest.raises(GrpcServerConfigError, match="both"):
        await start_grpc_server(kuksa_broker, port=0, tls_cert=cert_file)
    with pytest.raises(GrpcServerConfigError, match="cannot read"):
        await start_grpc_server(
            kuksa_broker, port=0, tls_cert=tmp_path / "missing.pem", tls_key=key_file
        )
    server = await start_grpc_server(kuksa_broker, port=0)
    with pytest.raises(GrpcServerConfigError, match="cannot listen"):
        await start_grpc_server(kuksa_broker, port=server.port)
    await server.stop(0)
