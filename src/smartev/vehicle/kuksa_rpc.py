"""The plumbing every KUKSA RPC shares: who is calling, decoding, and errors as gRPC statuses.

Each RPC is registered as a method handler that (1) authenticates the call, (2) decodes the
request itself, so that bytes that are not a valid message are INVALID_ARGUMENT rather than
grpc's own UNKNOWN, (3) runs the servicer method and (4) turns any error into the status code
KUKSA's databroker uses, with a message that names the path. An exception that is not one of
ours is a bug: it is logged and answered with INTERNAL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol, TypeAlias, TypeVar
from urllib.parse import quote

import grpc  # type: ignore[import-untyped, unused-ignore]
from google.protobuf.message import (  # type: ignore[import-untyped, unused-ignore]
    DecodeError,
)

from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError, PeerError
from smartev.spec.errors import UnknownPathError
from smartev.vehicle.access import Access
from smartev.vehicle.errors import (
    AlreadyProvidedError,
    PermissionDeniedError,
    ProviderUnavailableError,
    VehicleError,
)

log = logging.getLogger(__name__)

MAX_PATH_LENGTH = 1000  # as the databroker's MAX_REQUEST_PATH_LENGTH
SERVER_NAME = "smartev"

# The servicer context of grpc.aio (typed only when the grpc stubs are installed).
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Metadata: TypeAlias = Sequence[tuple[str, str | bytes]]


class Message(Protocol):
    """What the server needs of a response message."""

    def SerializeToString(self) -> bytes: ...  # noqa: N802 (protobuf's name)


Req = TypeVar("Req")
Resp = TypeVar("Resp", bound=Message)


def _encode(message: Message) -> bytes:
    return message.SerializeToString()


def server_version() -> str:
    try:
        return metadata.version("smartev")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class RequestError(VehicleError):
    """A request the protocol refuses, with the gRPC status code to answer it with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Caller:
    """The client of one call: its rights, a name for logs and actuation requests, its expiry."""

    access: Access
    name: str
    expires_ts: float | None = None
    clock: Clock | None = None

    def check(self) -> None:
        """Raise UNAUTHENTICATED once the caller's token has expired (for long-lived streams)."""
        expires, clock = self.expires_ts, self.clock
        if expires is not None and clock is not None and clock.timestamp() >= expires:
            raise RequestError(grpc.StatusCode.UNAUTHENTICATED, "the token has expired")


Authenticate = Callable[[Metadata, str], Caller]
"""``(invocation metadata, peer) -> Caller``; raises RequestError(UNAUTHENTICATED)."""


def open_access(invocation_metadata: Metadata, peer: str) -> Caller:
    """Every right for every caller: the server has no public key to check tokens with."""
    return Caller(Access.full(), peer)


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code for an error, as the databroker answers it."""
    code = grpc.StatusCode
    if isinstance(exc, RequestError):
        return exc.code, exc.message
    if isinstance(exc, UnknownPathError):
        return code.NOT_FOUND, str(exc)
    if isinstance(exc, PermissionDeniedError):
        return code.PERMISSION_DENIED, str(exc)
    if isinstance(exc, ProviderUnavailableError):
        return code.UNAVAILABLE, str(exc)
    if isinstance(exc, AlreadyProvidedError):
        return code.ALREADY_EXISTS, str(exc)
    if isinstance(exc, InvalidInputError):  # bad values, patterns, targets, unsafe requests
        return code.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, PeerError):
        return code.UNAVAILABLE, str(exc)
    log.error("bug while serving a KUKSA request", exc_info=exc)
    return code.INTERNAL, f"internal error ({type(exc).__name__})"


def check_path(path: str, what: str = "path") -> str:
    """A path or pattern from a request: not empty and not absurdly long."""
    if not path:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"the {what} is empty")
    if len(path) > MAX_PATH_LENGTH:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the {what} {path[:40]!r}… is {len(path)} characters long (at most {MAX_PATH_LENGTH})",
        )
    return path


def _decode(decode: Callable[[bytes], Req], raw: bytes) -> Req:
    try:
        return decode(raw)
    except DecodeError as exc:
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT, f"malformed request message: {exc}"
        ) from None


async def _decoded(
    decode: Callable[[bytes], Req], raw_requests: AsyncIterator[bytes]
) -> AsyncIterator[Req]:
    async for raw in raw_requests:
        yield _decode(decode, raw)


class Handlers:
    """Builds the method handlers of one service, each authenticated and with errors mapped."""

    def __init__(self, service: str, authenticate: Authenticate) -> None:
        self.service = service
        self._authenticate = authenticate
        self._handlers: dict[str, Any] = {}

    def _caller(self, context: Context) -> Caller:
        return self._authenticate(tuple(context.invocation_metadata() or ()), context.peer())

    def generic_handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(self.service, self._handlers)

    def unary_unary(
        self,
        name: str,
        decode: Callable[[bytes], Req],
        method: Callable[[Req, Caller, Context], Awaitable[Resp]],
    ) -> None:
        async def behavior(raw: bytes, context: Context) -> Resp:
            try:
                return await method(_decode(decode, raw), self._caller(context), context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                code, message = status_of(exc)
            await context.abort(code, message)
            raise AssertionError("abort returned")

        self._handlers[name] = grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=None, response_serializer=_encode
        )

    def unary_stream(
        self,
        name: str,
        decode: Callable[[bytes], Req],
        method: Callable[[Req, Caller, Context], AsyncIterator[Resp]],
    ) -> None:
        async def behavior(raw: bytes, context: Context) -> AsyncIterator[Resp]:
            try:
                async for response in method(_decode(decode, raw), self._caller(context), context):
                    yield response
                return
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                code, message = status_of(exc)
            await context.abort(code, message)

        self._handlers[name] = grpc.unary_stream_rpc_method_handler(
            behavior, request_deserializer=None, response_serializer=_encode
        )

    def stream_unary(
        self,
        name: str,
        decode: Callable[[bytes], Req],
        method: Callable[[AsyncIterator[Req], Caller, Context], Awaitable[Resp]],
    ) -> None:
        async def behavior(raw_requests: AsyncIterator[bytes], context: Context) -> Resp:
            try:
                caller = self._caller(context)
                return await method(_decoded(decode, raw_requests), caller, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                code, message = status_of(exc)
            await context.abort(code, message)
            raise AssertionError("abort returned")

        self._handlers[name] = grpc.stream_unary_rpc_method_handler(
            behavior, request_deserializer=None, response_serializer=_encode
        )

    def stream_stream(
        self,
        name: str,
        decode: Callable[[bytes], Req],
        method: Callable[[AsyncIterator[Req], Caller, Context], AsyncIterator[Resp]],
    ) -> None:
        async def behavior(
            raw_requests: AsyncIterator[bytes], context: Context
        ) -> AsyncIterator[Resp]:
            try:
                caller = self._caller(context)
                async for response in method(_decoded(decode, raw_requests), caller, context):
                    yield response
                return
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                code, message = status_of(exc)
            await context.abort(code, message)

        self._handlers[name] = grpc.stream_stream_rpc_method_handler(
            behavior, request_deserializer=None, response_serializer=_encode
        )


def metadata_values(
    key: str, values: Sequence[str], *, budget: int = 4096
) -> list[tuple[str, str]]:
    """Metadata entries ``(key, value)`` for a list, percent-encoded to ASCII and size-capped.

    A VSS path is ASCII without ``%``, so it reads unchanged. Past ``budget`` characters the rest
    is left out and ``<key>-omitted`` says how many.
    """
    entries: list[tuple[str, str]] = []
    used = 0
    for index, value in enumerate(values):
        encoded = quote(value, safe="*.[]-_~")
        used += len(encoded)
        if used > budget:
            entries.append((f"{key}-omitted", str(len(values) - index)))
            break
        entries.append((key, encoded))
    return entries
