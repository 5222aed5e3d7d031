"""The car's KUKSA-compatible gRPC server: ``kuksa.val.v2.VAL`` and ``kuksa.val.v1.VAL``, one port.

Authentication is KUKSA databroker's: with a public key configured, every call needs the
metadata ``authorization: Bearer <JWT>``; the token is signed with that key (RS256/384/512 for
an RSA key, ES256/384 for an EC key, EdDSA for Ed25519), has the audience ``kuksa.val``, the
claims ``sub``, ``iss``, ``aud``, ``iat``, ``exp`` and ``scope``, and is valid on the server's
clock (``exp`` strictly, ``iat``/``nbf`` with a minute of skew) at each call and at each message
of a long-lived stream. Its ``scope`` becomes the caller's
:class:`~smartev.vehicle.access.Access`. A missing, malformed, wrongly signed or expired token is
UNAUTHENTICATED. Without a key every caller has every right.

With a certificate and key, the port speaks TLS only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import grpc  # type: ignore[import-untyped, unused-ignore]
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from smartev.core.clock import Clock, RealClock
from smartev.core.errors import ConfigError
from smartev.vehicle.access import Access, InvalidScopeError
from smartev.vehicle.broker import Broker
from smartev.vehicle.errors import VehicleError
from smartev.vehicle.kuksa_rpc import Authenticate, Caller, Metadata, RequestError, open_access
from smartev.vehicle.kuksa_v1 import ValV1
from smartev.vehicle.kuksa_v2 import ValV2

log = logging.getLogger(__name__)

AUDIENCE = "kuksa.val"
REQUIRED_CLAIMS = ("sub", "iss", "aud", "iat", "exp", "scope")
DEFAULT_PORT = 55555  # KUKSA databroker's port
CLOCK_SKEW_S = 60.0  # a token issued by a clock this far ahead is still accepted


class GrpcServerConfigError(VehicleError, ConfigError):
    """The server cannot start as configured: a bad key or certificate, or a busy port."""


def _unauthenticated(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.UNAUTHENTICATED, message)


class JwtAuthenticator:
    """Checks KUKSA bearer tokens against one public key (PEM)."""

    def __init__(self, public_key_pem: str | bytes, *, clock: Clock | None = None) -> None:
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        try:
            key = load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise GrpcServerConfigError(
                f"the JWT public key is not a PEM public key: {exc}"
            ) from exc
        if isinstance(key, rsa.RSAPublicKey):
            self._algorithms = ["RS256", "RS384", "RS512"]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            self._algorithms = ["ES256", "ES384"]
        elif isinstance(key, ed25519.Ed25519PublicKey):
            self._algorithms = ["EdDSA"]
        else:
            raise GrpcServerConfigError(
                f"the JWT public key is a {type(key).__name__}: use an RSA, EC or Ed25519 key"
            )
        self._key = key
        self._clock = clock or RealClock()

    def __call__(self, invocation_metadata: Metadata, peer: str) -> Caller:
        header = next((v for k, v in invocation_metadata if k == "authorization"), None)
        if header is None:
            raise _unauthenticated("no token: send the metadata 'authorization: Bearer <JWT>'")
        if isinstance(header, bytes) or not header.startswith("Bearer "):
            raise _unauthenticated("the authorization metadata must be 'Bearer <JWT>'")
        try:
            claims = jwt.decode(
                header.removeprefix("Bearer ").strip(),
                self._key,  # type: ignore[arg-type, unused-ignore]
                algorithms=self._algorithms,
                audience=AUDIENCE,
                # The times are checked below, on the server's clock.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": list(REQUIRED_CLAIMS),
                },
            )
        except jwt.PyJWTError as exc:
            raise _unauthenticated(f"invalid token: {exc}") from None
        times = {k: claims[k] for k in ("exp", "iat", "nbf") if k in claims}
        for name, value in times.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _unauthenticated(f"invalid token: {name} is not a number")
        scope = claims["scope"]
        if not isinstance(scope, str):
            raise _unauthenticated("invalid token: scope is not a string")
        now = self._clock.timestamp()
        expires = float(times["exp"])
        if now >= expires:
            when = datetime.fromtimestamp(expires, UTC).isoformat()
            raise _unauthenticated(f"the token expired at {when}")
        if max(times.get("iat", now), times.get("nbf", now)) > now + CLOCK_SKEW_S:
            raise _unauthenticated("the token is not valid yet (iat or nbf in the future)")
        try:
            access = Access.from_scope(scope)
        except InvalidScopeError as exc:
            raise _unauthenticated(f"invalid token: {exc}") from None
        return Caller(access, str(claims["sub"]), expires, self._clock)


class GrpcServer:
    """A running server; ``stop`` ends it (open streams end, provider claims are released)."""

    def __init__(self, server: grpc.aio.Server, host: str, port: int, *, tls: bool) -> None:
        self._server = server
        self.host = host
        self.port = port
        self.tls = tls

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace: float | None = 1.0) -> None:
        await self._server.stop(grace)

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()

    async def __aenter__(self) -> GrpcServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _read(path: Path | str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise GrpcServerConfigError(f"cannot read the {what} {path}: {exc.strerror}") from exc


async def start_grpc_server(
    broker: Broker,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    jwt_public_key: str | bytes | None = None,
    tls_cert: Path | str | None = None,
    tls_key: Path | str | None = None,
    clock: Clock | None = None,
) -> GrpcServer:
    """Serve the broker over KUKSA's gRPC API; ``port=0`` picks a free port (see ``.port``).

    ``jwt_public_key`` (PEM text) turns on token checks; ``clock`` is the clock tokens expire on
    (real time by default). ``tls_cert`` and ``tls_key`` (PEM files) turn on TLS.
    """
    authenticate: Authenticate = open_access
    if jwt_public_key is not None:
        authenticate = JwtAuthenticator(jwt_public_key, clock=clock)
    if (tls_cert is None) != (tls_key is None):
        raise GrpcServerConfigError("TLS needs both a certificate and its private key")
    credentials = None
    if tls_cert is not None and tls_key is not None:
        credentials = grpc.ssl_server_credentials(
            [(_read(tls_key, "TLS key"), _read(tls_cert, "TLS certificate"))]
        )
    # No SO_REUSEPORT: a second server on a busy port must fail, not share the port.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(
        (ValV2(broker).handler(authenticate), ValV1(broker).handler(authenticate))
    )
    address = f"{host}:{port}"
    try:
        if credentials is not None:
            bound: int = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        await server.stop(None)
        raise GrpcServerConfigError(f"cannot listen on {address} (in use, or not an address here)")
    await server.start()
    log.info(
        "KUKSA gRPC API on %s:%d (%s, %s)",
        host,
        bound,
        "TLS" if tls_cert is not None else "plaintext",
        "tokens checked" if jwt_public_key is not None else "no authentication",
    )
    return GrpcServer(server, host, bound, tls=tls_cert is not None)
