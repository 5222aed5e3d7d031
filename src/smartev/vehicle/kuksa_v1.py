"""``kuksa.val.v1.VAL`` on top of the broker: Get, Set, Subscribe, StreamedUpdate, GetServerInfo.

kuksa-client's ``VSSClient`` reads values, targets and metadata and sets targets through v1. As in
the databroker, problems with single paths in ``Get`` and ``Set`` are answered in the response's
``errors`` with HTTP-like codes (404 not found, 400 bad request, 403 forbidden, 503 no provider)
while the call succeeds, and kuksa-client raises them as ``VSSClientError``; a malformed request
(no entries, no path, an unknown view) and a target for a sensor or attribute fail the call with
INVALID_ARGUMENT. Paths may be branches or wildcard patterns.

Unlike the databroker, ``Set`` is all or nothing: every update is checked first and nothing is
applied if one fails. A target becomes an actuation request (its id and state are in the trailing
metadata, as in v2); a ``VALUE`` is published as the signal's current value (a v1 provider). A
``Subscribe`` with some unknown paths streams the known ones and names the unknown ones in the
initial metadata ``x-smartev-unknown-paths``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence

import grpc  # type: ignore[import-untyped, unused-ignore]
from kuksa.val.v1 import types_pb2 as types_v1  # type: ignore[import-untyped, unused-ignore]
from kuksa.val.v1 import val_pb2 as val_v1  # type: ignore[import-untyped, unused-ignore]

from smartev.core.errors import SmartevError
from smartev.spec.errors import UnknownPathError
from smartev.spec.vss import Kind, SignalSpec
from smartev.vehicle.access import Action
from smartev.vehicle.actuation import ActuationRequest
from smartev.vehicle.broker import Broker, Datapoint, Subscription
from smartev.vehicle.errors import NotActuatorError, PermissionDeniedError, UnsafeRequestError
from smartev.vehicle.kuksa_convert import (
    METADATA_FIELDS,
    datapoint_v1,
    metadata_v1,
    read_value_v1,
)
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
    status_of,
)
from smartev.vehicle.kuksa_v2 import UNKNOWN_PATHS_KEY, actuation_metadata

SERVICE = "kuksa.val.v1.VAL"

T = types_v1
VALUE = T.FIELD_VALUE
TARGET = T.FIELD_ACTUATOR_TARGET
_INVALID = grpc.StatusCode.INVALID_ARGUMENT
_VIEW_FIELDS: dict[int, tuple[int, ...]] = {
    T.VIEW_UNSPECIFIED: (),
    T.VIEW_CURRENT_VALUE: (T.FIELD_PATH, VALUE),
    T.VIEW_TARGET_VALUE: (T.FIELD_PATH, TARGET),
    T.VIEW_METADATA: (T.FIELD_PATH, T.FIELD_METADATA),
    T.VIEW_FIELDS: (),
    T.VIEW_ALL: (T.FIELD_PATH, VALUE, TARGET, T.FIELD_METADATA),
}
_HTTP: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "bad_request"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "conflict"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthorized"),
}


def requested_fields(view: int, fields: Iterable[int]) -> set[int]:
    """The fields a view and an explicit field list ask for together (as the databroker)."""
    if view not in _VIEW_FIELDS:
        raise RequestError(_INVALID, f"unknown view {view}")
    combined = set(fields)
    if view == T.VIEW_UNSPECIFIED and not combined:
        combined = {T.FIELD_PATH, VALUE}
    combined.update(_VIEW_FIELDS[view])
    return combined


def entry_error(path: str, exc: Exception) -> types_v1.DataEntryError:
    code, message = status_of(exc)
    http, reason = _HTTP.get(code, (500, "internal_error"))
    if isinstance(exc, UnsafeRequestError):
        reason = exc.reason
    return T.DataEntryError(path=path, error=T.Error(code=http, reason=reason, message=message))


async def merged(
    subscriptions: Sequence[Subscription],
) -> AsyncIterator[tuple[Subscription, dict[str, Datapoint]]]:
    """The batches of several subscriptions as they come, each with its subscription."""
    waiting: dict[asyncio.Future[dict[str, Datapoint]], Subscription] = {
        asyncio.ensure_future(anext(sub)): sub for sub in subscriptions
    }
    try:
        while waiting:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                sub = waiting.pop(future)
                try:
                    batch = future.result()
                except StopAsyncIteration:
                    continue
                yield sub, batch
                waiting[asyncio.ensure_future(anext(sub))] = sub
    finally:
        for future in waiting:
            future.cancel()


class ValV1:
    """The servicer; ``handler`` gives its handlers for a ``grpc.aio`` server."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._catalog = broker.catalog

    def handler(self, authenticate: Authenticate) -> grpc.GenericRpcHandler:
        h = Handlers(SERVICE, authenticate)
        h.unary_unary("Get", val_v1.GetRequest.FromString, self.get)
        h.unary_unary("Set", val_v1.SetRequest.FromString, self.set)
        h.unary_stream("Subscribe", val_v1.SubscribeRequest.FromString, self.subscribe)
        h.stream_stream(
            "StreamedUpdate", val_v1.StreamedUpdateRequest.FromString, self.streamed_update
        )
        h.unary_unary("GetServerInfo", val_v1.GetServerInfoRequest.FromString, self.server_info)
        return h.generic_handler()

    async def server_info(
        self, request: val_v1.GetServerInfoRequest, caller: Caller, context: Context
    ) -> val_v1.GetServerInfoResponse:
        return val_v1.GetServerInfoResponse(name=SERVER_NAME, version=server_version())

    # --- Get ----------------------------------------------------------------------------------

    def _match(self, path: str) -> list[SignalSpec]:
        specs = self._catalog.match(check_path(path))
        if not specs:
            if "*" not in path:
                self._catalog.get(path)  # raises with suggestions of close paths
            raise UnknownPathError(path, note="no signal matches it")
        return specs

    async def get(
        self, request: val_v1.GetRequest, caller: Caller, context: Context
    ) -> val_v1.GetResponse:
        if not request.entries:
            raise RequestError(_INVALID, "no entries requested")
        wanted: dict[str, set[int]] = {}
        errors = []
        forbidden = False
        for item in request.entries:
            fields = requested_fields(item.view, item.fields)
            try:
                specs = self._match(item.path)
                if fields & {VALUE, TARGET}:
                    for spec in specs:
                        if not caller.access.allows(Action.READ, spec.path):
                            raise PermissionDeniedError(f"no read access to {spec.path}")
            except SmartevError as exc:
                errors.append(entry_error(item.path, exc))
                forbidden = forbidden or isinstance(exc, PermissionDeniedError)
                continue
            for spec in specs:
                wanted.setdefault(spec.path, set()).update(fields)
        if forbidden:
            wanted.clear()  # as the databroker: no partial answer when some reads are refused
        entries = [self._entry(path, fields, caller) for path, fields in wanted.items()]
        return val_v1.GetResponse(
            entries=entries, errors=errors, error=errors[0].error if errors else None
        )

    def _entry(self, path: str, fields: set[int], caller: Caller) -> types_v1.DataEntry:
        spec = self._catalog.get(path)
        entry = T.DataEntry(path=path)
        if VALUE in fields:
            point = datapoint_v1(spec.datatype, self._broker.get(path, access=caller.access))
            if point is not None:
                entry.value.CopyFrom(point)
        if TARGET in fields and spec.kind is Kind.ACTUATOR:
            target = self._broker.get_target(path, access=caller.access)
            point = datapoint_v1(spec.datatype, target)
            if point is not None:
                entry.actuator_target.CopyFrom(point)
        metadata = metadata_v1(spec, fields)
        if metadata is not None:
            entry.metadata.CopyFrom(metadata)
        return entry

    # --- Set and StreamedUpdate ---------------------------------------------------------------

    def _check_update(
        self,
        update: val_v1.EntryUpdate,
        caller: Caller,
        values: dict[str, object],
        targets: dict[str, object],
    ) -> None:
        path: str = update.entry.path
        if not path:
            raise RequestError(_INVALID, "an update has no path (entry.path is required)")
        spec = self._catalog.get(check_path(path))
        fields = set(update.fields)
        access = caller.access
        if TARGET in fields:
            if spec.kind is not Kind.ACTUATOR:
                raise NotActuatorError(path, spec.kind.value)
            if not access.allows(Action.ACTUATE, path):
                raise PermissionDeniedError(f"no actuate access to {path}", path=path)
            targets[path] = spec.validate(read_value_v1(path, update.entry.actuator_target))
        if VALUE in fields:
            if not access.allows(Action.PROVIDE_DATA, path):
                raise PermissionDeniedError(f"no provide access to {path}", path=path)
            values[path] = spec.validate(read_value_v1(path, update.entry.value))
        if fields & METADATA_FIELDS:
            raise RequestError(_INVALID, f"the metadata of {path} cannot be changed")
        if not fields & {VALUE, TARGET}:
            raise RequestError(
                _INVALID, f"nothing to set for {path}: fields must include VALUE or ACTUATOR_TARGET"
            )

    def _apply(
        self, updates: Iterable[val_v1.EntryUpdate], caller: Caller, *, strict: bool
    ) -> tuple[list[types_v1.DataEntryError], list[ActuationRequest]]:
        """Check every update, then actuate the targets and publish the values, or nothing.

        ``strict`` (``Set``): a missing path or a target for a non-actuator fails the call.
        """
        errors = []
        values: dict[str, object] = {}
        targets: dict[str, object] = {}
        for update in updates:
            try:
                self._check_update(update, caller, values, targets)
            except (RequestError, NotActuatorError) as exc:
                missing_path = isinstance(exc, RequestError) and not update.entry.path
                if strict and (missing_path or isinstance(exc, NotActuatorError)):
                    raise
                errors.append(entry_error(update.entry.path, exc))
            except SmartevError as exc:
                errors.append(entry_error(update.entry.path, exc))
        if errors:
            return errors, []
        done: list[ActuationRequest] = []
        try:
            if targets:
                done = self._broker.actuate_many(targets, access=caller.access, client=caller.name)
            if values:
                self._broker.publish(values, access=caller.access)
        except SmartevError as exc:
            path = getattr(exc, "path", None)
            errors.append(entry_error(path if isinstance(path, str) else "", exc))
        return errors, done

    async def set(
        self, request: val_v1.SetRequest, caller: Caller, context: Context
    ) -> val_v1.SetResponse:
        errors, done = self._apply(request.updates, caller, strict=True)
        if done:
            context.set_trailing_metadata(actuation_metadata(done))
        return val_v1.SetResponse(errors=errors, error=errors[0].error if errors else None)

    async def streamed_update(
        self,
        requests: AsyncIterator[val_v1.StreamedUpdateRequest],
        caller: Caller,
        context: Context,
    ) -> AsyncIterator[val_v1.StreamedUpdateResponse]:
        async for request in requests:
            caller.check()
            errors, _ = self._apply(request.updates, caller, strict=False)
            yield val_v1.StreamedUpdateResponse(
                errors=errors, error=errors[0].error if errors else None
            )

    # --- Subscribe ----------------------------------------------------------------------------

    async def subscribe(
        self, request: val_v1.SubscribeRequest, caller: Caller, context: Context
    ) -> AsyncIterator[val_v1.SubscribeResponse]:
        if not request.entries:
            raise RequestError(_INVALID, "no entries given")
        patterns: dict[bool, list[str]] = {False: [], True: []}
        for entry in request.entries:
            fields = requested_fields(entry.view, entry.fields)
            path = check_path(entry.path)
            if VALUE in fields:
                patterns[False].append(path)
            if TARGET in fields:
                patterns[True].append(path)
        if not patterns[False] and not patterns[True]:
            raise RequestError(
                _INVALID, "nothing to subscribe to: fields must include VALUE or ACTUATOR_TARGET"
            )
        subs: list[Subscription] = []
        unknown: dict[str, None] = {}
        no_targets: list[str] = []
        try:
            for targets, wanted in patterns.items():
                if not wanted:
                    continue
                try:
                    sub = self._broker.subscribe(wanted, access=caller.access, targets=targets)
                except UnknownPathError:
                    unknown.update(dict.fromkeys(wanted))
                    continue
                if not sub.paths:  # targets of sensors and attributes only: nothing to stream
                    sub.close()
                    unknown.update(dict.fromkeys(wanted))
                    no_targets = wanted
                    continue
                subs.append(sub)
                unknown.update(dict.fromkeys(sub.unknown))
            if not subs and no_targets:
                raise RequestError(
                    _INVALID,
                    f"{', '.join(no_targets)}: no actuator matches, only actuators have targets",
                )
            if not subs:
                raise UnknownPathError(next(iter(unknown)), note="no known signal matches it")
            if unknown:
                await context.send_initial_metadata(metadata_values(UNKNOWN_PATHS_KEY, [*unknown]))
            async for sub, batch in merged(subs):
                caller.check()
                yield val_v1.SubscribeResponse(updates=self._updates(batch, targets=sub.targets))
        finally:
            for sub in subs:
                sub.close()

    def _updates(self, batch: dict[str, Datapoint], *, targets: bool) -> list[val_v1.EntryUpdate]:
        updates = []
        for path, dp in batch.items():
            entry = T.DataEntry(path=path)
            point = datapoint_v1(self._catalog.get(path).datatype, dp)
            if point is not None:
                (entry.actuator_target if targets else entry.value).CopyFrom(point)
            updates.append(val_v1.EntryUpdate(entry=entry, fields=[TARGET if targets else VALUE]))
        return updates
