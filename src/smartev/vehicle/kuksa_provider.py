"""One ``kuksa.val.v2.VAL/OpenProviderStream`` call: a provider of actuators and signal values.

What the provider sends and what the broker does with it:

- ``ProvideActuationRequest`` claims actuators (a broker provider with ``on_actuate``); each
  accepted target then goes down the stream as a ``BatchActuateStreamRequest`` (signals by id,
  as the databroker sends them; targets accepted together travel in one message);
- ``ProvideSignalRequest`` claims signals whose values it will publish (sample intervals are
  ignored: the broker takes every value);
- ``PublishValuesRequest`` publishes values; the good ones are applied, the bad ones are named in
  a ``PublishValuesResponse`` (no response when all are good, as in the databroker);
- ``BatchActuateStreamResponse`` with an error fails the open actuation request of that signal;
- ``ProviderErrorIndication`` marks the provider's values stale until it publishes again.

Claims that fail (unknown signal, no permission, already provided) end the stream with NOT_FOUND,
PERMISSION_DENIED, INVALID_ARGUMENT or ALREADY_EXISTS, as in the databroker. When the provider
closes its side of the stream, a provider of actuators stays connected (kuksa-client's
``subscribe_target_values`` sends its claim and closes its side) until the call ends; when the
call ends, every claim is released: the values go stale and open actuation requests fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from enum import Enum
from typing import TypeAlias

import grpc  # type: ignore[import-untyped, unused-ignore]
from kuksa.val.v2 import types_pb2 as types_v2  # type: ignore[import-untyped, unused-ignore]
from kuksa.val.v2 import val_pb2 as val_v2  # type: ignore[import-untyped, unused-ignore]

from smartev.core.errors import SmartevError
from smartev.spec.vss import SignalSpec
from smartev.vehicle.actuation import ActuationRequest
from smartev.vehicle.broker import Broker, Provider
from smartev.vehicle.kuksa_convert import read_value_v2, resolve_signal, value_v2
from smartev.vehicle.kuksa_rpc import Caller, RequestError, status_of

log = logging.getLogger(__name__)

_ERROR_CODES = {
    grpc.StatusCode.NOT_FOUND: types_v2.ERROR_CODE_NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED: types_v2.ERROR_CODE_PERMISSION_DENIED,
}


class _Signal(Enum):
    END = "end"  # the call is over
    FLUSH = "flush"  # actuation requests are waiting to be sent


_Outgoing: TypeAlias = "val_v2.OpenProviderStreamResponse | Exception | _Signal"


def _error(exc: Exception) -> types_v2.Error:
    code, message = status_of(exc)
    return types_v2.Error(
        code=_ERROR_CODES.get(code, types_v2.ERROR_CODE_INVALID_ARGUMENT), message=message
    )


class ProviderSession:
    """The broker side of one provider stream."""

    def __init__(self, broker: Broker, caller: Caller, name: str) -> None:
        self._broker = broker
        self._caller = caller
        self.name = name
        self._providers: list[Provider] = []
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._pending: list[ActuationRequest] = []

    @property
    def claimed(self) -> frozenset[str]:
        return frozenset().union(*(p.paths for p in self._providers))

    async def run(
        self, requests: AsyncIterator[val_v2.OpenProviderStreamRequest]
    ) -> AsyncIterator[val_v2.OpenProviderStreamResponse]:
        """The responses of the stream, while a task handles the provider's requests."""
        reader = asyncio.create_task(self._read(requests))
        try:
            while True:
                item = await self._outbox.get()
                if item is _Signal.END:
                    return
                if item is _Signal.FLUSH:
                    batch = self._actuation_batch()
                    if batch is not None:
                        yield batch
                elif isinstance(item, Exception):
                    raise item
                else:
                    yield item
        finally:
            reader.cancel()
            self.close()

    def close(self) -> None:
        for provider in self._providers:
            provider.close()

    async def _read(self, requests: AsyncIterator[val_v2.OpenProviderStreamRequest]) -> None:
        try:
            async for request in requests:
                self._caller.check()
                response = self.handle(request)
                if response is not None:
                    self._outbox.put_nowait(response)
        except Exception as exc:
            self._outbox.put_nowait(exc)
            return
        if not any(p.actuators for p in self._providers):
            self._outbox.put_nowait(_Signal.END)

    def handle(
        self, request: val_v2.OpenProviderStreamRequest
    ) -> val_v2.OpenProviderStreamResponse | None:
        """Carry out one request of the provider; returns the response to send, if any."""
        action = request.WhichOneof("action")
        if action == "provide_actuation_request":
            return self._provide_actuation(request.provide_actuation_request)
        if action == "provide_signal_request":
            return self._provide_signals(request.provide_signal_request)
        if action == "publish_values_request":
            return self._publish(request.publish_values_request)
        if action == "batch_actuate_stream_response":
            self._actuation_response(request.batch_actuate_stream_response)
        elif action == "provider_error_indication":
            error = request.provider_error_indication.provider_error
            for provider in self._providers:
                provider.report_error(types_v2.ProviderError.Name(error))
        return None

    def _claim(self, specs: Iterable[SignalSpec], *, actuators: bool) -> None:
        claimed = self.claimed
        new = [path for path in dict.fromkeys(s.path for s in specs) if path not in claimed]
        if not new:
            return
        provider = self._broker.register_provider(
            self.name,
            sensors=() if actuators else new,
            actuators=new if actuators else (),
            on_actuate=self._on_actuate if actuators else None,
            access=self._caller.access,
        )
        self._providers.append(provider)

    def _provide_actuation(
        self, request: val_v2.ProvideActuationRequest
    ) -> val_v2.OpenProviderStreamResponse:
        if not request.actuator_identifiers:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "no actuator_identifiers given")
        catalog = self._broker.catalog
        self._claim(
            (resolve_signal(catalog, s) for s in request.actuator_identifiers), actuators=True
        )
        return val_v2.OpenProviderStreamResponse(
            provide_actuation_response=val_v2.ProvideActuationResponse()
        )

    def _provide_signals(
        self, request: val_v2.ProvideSignalRequest
    ) -> val_v2.OpenProviderStreamResponse:
        if not request.signals_sample_intervals:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "no signals given")
        specs = []
        for number in request.signals_sample_intervals:
            spec = self._broker.catalog.by_id(number)
            if spec is None:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"no signal has the id {number}")
            specs.append(spec)
        self._claim(specs, actuators=False)
        return val_v2.OpenProviderStreamResponse(
            provide_signal_response=val_v2.ProvideSignalResponse()
        )

    def _publish(
        self, request: val_v2.PublishValuesRequest
    ) -> val_v2.OpenProviderStreamResponse | None:
        errors: dict[int, types_v2.Error] = {}
        values: dict[str, object] = {}
        ids: dict[str, int] = {}
        access = self._caller.access
        by_id = self._broker.catalog.by_id
        for number, dp in request.data_points.items():
            try:
                spec = by_id(number)
                if spec is None:
                    raise RequestError(grpc.StatusCode.NOT_FOUND, f"no signal has the id {number}")
                values[spec.path] = read_value_v2(spec.path, dp.value)
                ids[spec.path] = number
            except SmartevError as exc:
                errors[number] = _error(exc)
        if values:
            try:  # the broker checks access and every value; the usual batch is all good
                self._broker.publish(values, access=access)
            except SmartevError:
                # Publish what is good and name what is not, one signal at a time.
                for path, value in values.items():
                    try:
                        self._broker.publish({path: value}, access=access)
                    except SmartevError as exc:
                        errors[ids[path]] = _error(exc)
            for provider in self._providers:
                provider.heartbeat()
        if not errors:
            return None
        return val_v2.OpenProviderStreamResponse(
            publish_values_response=val_v2.PublishValuesResponse(
                request_id=request.request_id, status=errors
            )
        )

    def _actuation_response(self, response: val_v2.BatchActuateStreamResponse) -> None:
        if not response.HasField("error") or response.error.code == types_v2.ERROR_CODE_OK:
            return
        try:
            spec = resolve_signal(
                self._broker.catalog,
                response.signal_id if response.HasField("signal_id") else None,
            )
        except SmartevError as exc:
            log.warning("provider %s refused an actuation of an unknown signal: %s", self.name, exc)
            return
        request = self._broker.actuations.open_for(spec.path)
        for provider in self._providers:
            if request is not None and spec.path in provider.actuators:
                message = response.error.message or f"error code {response.error.code}"
                provider.fail(request.id, f"provider {self.name} refused: {message}")

    # --- actuation requests down the stream ---------------------------------------------------

    def _on_actuate(self, request: ActuationRequest) -> None:
        if not self._pending:
            self._outbox.put_nowait(_Signal.FLUSH)
        self._pending.append(request)

    def _actuation_batch(self) -> val_v2.OpenProviderStreamResponse | None:
        pending, self._pending = self._pending, []
        if not pending:
            return None
        catalog = self._broker.catalog
        items = []
        for request in pending:
            spec = catalog.get(request.path)
            items.append(
                val_v2.ActuateRequest(
                    signal_id=types_v2.SignalID(id=spec.id),
                    value=value_v2(spec.datatype, request.value),
                )
            )
        return val_v2.OpenProviderStreamResponse(
            batch_actuate_stream_request=val_v2.BatchActuateStreamRequest(actuate_requests=items)
        )
