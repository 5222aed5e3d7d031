"""``kuksa.val.v2.VAL`` on top of the broker: reading, subscribing, actuating, publishing, metadata.

Status codes are the databroker's: NOT_FOUND for an unknown path or id, INVALID_ARGUMENT for a
malformed request, a value of the wrong type, out of range or refused by a safety rule, and for a
target on a sensor; PERMISSION_DENIED, UNAVAILABLE when no provider serves an actuator,
UNAUTHENTICATED (from the authentication step). Two things go further than the databroker, in
gRPC metadata that KUKSA clients ignore:

- ``Subscribe``/``SubscribeById`` with some unknown paths or ids stream the known ones and name
  the unknown ones in the initial metadata (``x-smartev-unknown-paths`` / ``-ids``); only when
  none is known is the answer NOT_FOUND;
- ``Actuate``/``BatchActuate`` return the id and state of each actuation request in the trailing
  metadata (``x-smartev-actuation-id``, ``x-smartev-actuation-state``, one entry per request).

The provider stream (``OpenProviderStream``) lives in :mod:`smartev.vehicle.kuksa_provider`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc  # type: ignore[import-untyped, unused-ignore]
from kuksa.val.v2 import val_pb2 as val_v2  # type: ignore[import-untyped, unused-ignore]

from smartev.spec.vss import SignalSpec
from smartev.vehicle.actuation import ActuationRequest
from smartev.vehicle.broker import Broker
from smartev.vehicle.kuksa_convert import (
    datapoint_v2,
    fill_datapoint_v2,
    metadata_v2,
    read_value_v2,
    resolve_signal,
)
from smartev.vehicle.kuksa_provider import ProviderSession
from smartev.vehicle.kuksa_rpc import (
    SERVER_NAME,
    Authenticate,
    Caller,
    Context,
    Handlers,
    RequestError,
    check_path,
    metadata_values,
    server_version,
)

SERVICE = "kuksa.val.v2.VAL"
MAX_BUFFER_SIZE = 1000  # as the databroker
UNKNOWN_PATHS_KEY = "x-smartev-unknown-paths"
UNKNOWN_IDS_KEY = "x-smartev-unknown-ids"
ACTUATION_ID_KEY = "x-smartev-actuation-id"
ACTUATION_STATE_KEY = "x-smartev-actuation-state"

_INVALID = grpc.StatusCode.INVALID_ARGUMENT


_HasSignal: TypeAlias = (
    "val_v2.GetValueRequest | val_v2.ActuateRequest | val_v2.PublishValueRequest"
)


def actuation_metadata(requests: list[ActuationRequest]) -> list[tuple[str, str]]:
    ids = [(ACTUATION_ID_KEY, r.id) for r in requests]
    return ids + [(ACTUATION_STATE_KEY, r.state.value) for r in requests]


class ValV2:
    """The servicer; ``handler`` gives its handlers for a ``grpc.aio`` server."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._catalog = broker.catalog
        self._sessions = 0

    def handler(self, authenticate: Authenticate) -> grpc.GenericRpcHandler:
        h = Handlers(SERVICE, authenticate)
        v2 = val_v2
        h.unary_unary("GetValue", v2.GetValueRequest.FromString, self.get_value)
        h.unary_unary("GetValues", v2.GetValuesRequest.FromString, self.get_values)
        h.unary_stream("Subscribe", v2.SubscribeRequest.FromString, self.subscribe)
        h.unary_stream("SubscribeById", v2.SubscribeByIdRequest.FromString, self.subscribe_by_id)
        h.unary_unary("Actuate", v2.ActuateRequest.FromString, self.actuate)
        h.stream_unary("ActuateStream", v2.ActuateRequest.FromString, self.actuate_stream)
        h.unary_unary("BatchActuate", v2.BatchActuateRequest.FromString, self.batch_actuate)
        h.unary_unary("ListMetadata", v2.ListMetadataRequest.FromString, self.list_metadata)
        h.unary_unary("PublishValue", v2.PublishValueRequest.FromString, self.publish_value)
        h.stream_stream(
            "OpenProviderStream", v2.OpenProviderStreamRequest.FromString, self.open_provider_stream
        )
        h.unary_unary("GetServerInfo", v2.GetServerInfoRequest.FromString, self.get_server_info)
        return h.generic_handler()

    # --- reading ------------------------------------------------------------------------------

    def _signal(self, request: _HasSignal) -> SignalSpec:
        present = request.HasField("signal_id")
        return resolve_signal(self._catalog, request.signal_id if present else None)

    async def get_value(
        self, request: val_v2.GetValueRequest, caller: Caller, context: Context
    ) -> val_v2.GetValueResponse:
        spec = self._signal(request)
        dp = self._broker.get(spec.path, access=caller.access)
        return val_v2.GetValueResponse(data_point=datapoint_v2(spec.datatype, dp))

    async def get_values(
        self, request: val_v2.GetValuesRequest, caller: Caller, context: Context
    ) -> val_v2.GetValuesResponse:
        if not request.signal_ids:
            raise RequestError(_INVALID, "no signal_ids given")
        points = []
        for signal_id in request.signal_ids:
            spec = resolve_signal(self._catalog, signal_id)
            dp = self._broker.get(spec.path, access=caller.access)
            points.append(datapoint_v2(spec.datatype, dp))
        return val_v2.GetValuesResponse(data_points=points)

    async def list_metadata(
        self, request: val_v2.ListMetadataRequest, caller: Caller, context: Context
    ) -> val_v2.ListMetadataResponse:
        root: str = request.root  # empty: every signal, as in the databroker
        specs = self._catalog.match(check_path(root, "root") if root else root)
        if not specs:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"no signal matches the root {root!r}")
        return val_v2.ListMetadataResponse(metadata=[metadata_v2(spec) for spec in specs])

    async def get_server_info(
        self, request: val_v2.GetServerInfoRequest, caller: Caller, context: Context
    ) -> val_v2.GetServerInfoResponse:
        return val_v2.GetServerInfoResponse(
            name=SERVER_NAME, version=server_version(), commit_hash=""
        )

    # --- subscribing --------------------------------------------------------------------------

    def _check_buffer(self, buffer_size: int) -> None:
        if buffer_size > MAX_BUFFER_SIZE:
            raise RequestError(
                _INVALID, f"buffer_size {buffer_size} is too large (at most {MAX_BUFFER_SIZE})"
            )

    async def subscribe(
        self, request: val_v2.SubscribeRequest, caller: Caller, context: Context
    ) -> AsyncIterator[val_v2.SubscribeResponse]:
        paths = [check_path(p) for p in request.signal_paths]
        if not paths:
            raise RequestError(_INVALID, "no signal_paths given")
        self._check_buffer(request.buffer_size)
        catalog = self._catalog
        async with self._broker.subscribe(paths, access=caller.access) as sub:
            if sub.unknown:
                await context.send_initial_metadata(metadata_values(UNKNOWN_PATHS_KEY, sub.unknown))
            async for batch in sub:
                caller.check()
                response = val_v2.SubscribeResponse()
                entries = response.entries
                for path, dp in batch.items():
                    fill_datapoint_v2(entries[path], catalog.get(path).datatype, dp)
                yield response

    async def subscribe_by_id(
        self, request: val_v2.SubscribeByIdRequest, caller: Caller, context: Context
    ) -> AsyncIterator[val_v2.SubscribeByIdResponse]:
        if not request.signal_ids:
            raise RequestError(_INVALID, "no signal_ids given")
        self._check_buffer(request.buffer_size)
        specs: dict[str, SignalSpec] = {}
        unknown: list[str] = []
        for number in request.signal_ids:
            spec = self._catalog.by_id(number)
            if spec is None:
                unknown.append(str(number))
            else:
                specs[spec.path] = spec
        if not specs:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND, f"no signal has the id {', '.join(unknown)}"
            )
        async with self._broker.subscribe(list(specs), access=caller.access) as sub:
            if unknown:
                await context.send_initial_metadata(metadata_values(UNKNOWN_IDS_KEY, unknown))
            async for batch in sub:
                caller.check()
                response = val_v2.SubscribeByIdResponse()
                entries = response.entries
                for path, dp in batch.items():
                    spec = specs[path]
                    fill_datapoint_v2(entries[spec.id], spec.datatype, dp)
                yield response

    # --- actuating and publishing -------------------------------------------------------------

    def _target(self, request: val_v2.ActuateRequest) -> tuple[str, object]:
        spec = self._signal(request)
        if not request.HasField("value"):
            raise RequestError(_INVALID, f"no value given for {spec.path}")
        return spec.path, read_value_v2(spec.path, request.value)

    async def actuate(
        self, request: val_v2.ActuateRequest, caller: Caller, context: Context
    ) -> val_v2.ActuateResponse:
        path, value = self._target(request)
        done = self._broker.actuate(path, value, access=caller.access, client=caller.name)
        context.set_trailing_metadata(actuation_metadata([done]))
        return val_v2.ActuateResponse()

    async def actuate_stream(
        self, requests: AsyncIterator[val_v2.ActuateRequest], caller: Caller, context: Context
    ) -> val_v2.ActuateResponse:
        async for request in requests:
            caller.check()
            path, value = self._target(request)
            self._broker.actuate(path, value, access=caller.access, client=caller.name)
        return val_v2.ActuateResponse()

    async def batch_actuate(
        self, request: val_v2.BatchActuateRequest, caller: Caller, context: Context
    ) -> val_v2.BatchActuateResponse:
        if not request.actuate_requests:
            raise RequestError(_INVALID, "no actuate_requests given")
        targets: dict[str, object] = {}
        for item in request.actuate_requests:
            path, value = self._target(item)
            if path in targets:
                raise RequestError(_INVALID, f"{path} is given twice")
            targets[path] = value
        done = self._broker.actuate_many(targets, access=caller.access, client=caller.name)
        context.set_trailing_metadata(actuation_metadata(done))
        return val_v2.BatchActuateResponse()

    async def publish_value(
        self, request: val_v2.PublishValueRequest, caller: Caller, context: Context
    ) -> val_v2.PublishValueResponse:
        spec = self._signal(request)
        if not request.HasField("data_point") or not request.data_point.HasField("value"):
            raise RequestError(_INVALID, f"no value given for {spec.path}")
        value = read_value_v2(spec.path, request.data_point.value)
        self._broker.publish({spec.path: value}, access=caller.access)
        return val_v2.PublishValueResponse()

    async def open_provider_stream(
        self,
        requests: AsyncIterator[val_v2.OpenProviderStreamRequest],
        caller: Caller,
        context: Context,
    ) -> AsyncIterator[val_v2.OpenProviderStreamResponse]:
        self._sessions += 1
        name = f"{caller.name or 'provider'}/v2#{self._sessions}"
        session = ProviderSession(self._broker, caller, name)
        async for response in session.run(requests):
            yield response
