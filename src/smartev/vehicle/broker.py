"""The VSS signal broker: current values, actuator targets, subscriptions and providers.

Keyed by VSS path and validated against a :class:`~smartev.spec.vss.Catalog`. What it adds to
KUKSA's databroker:

- a subscription with some unknown paths streams the known ones and reports the unknown ones
  (``Subscription.unknown``) instead of failing;
- a slow subscriber never holds anyone up and never grows without bound: its pending updates are
  coalesced to the newest value per path;
- providers own the signals they register; when one stops (``close``) or goes silent past its
  liveness timeout, its values are marked stale, and come back fresh with its next update;
- the newest values persist in a SQLite file and come back (stale) after a restart;
- actuation is closed-loop with request ids and states (see :mod:`smartev.vehicle.actuation`),
  and every target passes the safety rules (:mod:`smartev.vehicle.safety`) first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from smartev.core.clock import Clock
from smartev.spec import Catalog, Kind, SignalSpec, Value
from smartev.spec.errors import InvalidValueError, UnknownPathError
from smartev.vehicle.access import Access, Action
from smartev.vehicle.actuation import (
    ActuationLog,
    ActuationRequest,
    ActuationState,
    same_value,
)
from smartev.vehicle.errors import (
    AlreadyProvidedError,
    NotActuatorError,
    PermissionDeniedError,
    ProviderUnavailableError,
)
from smartev.vehicle.safety import RULES, Rule, check_target
from smartev.vehicle.store import ValueStore

log = logging.getLogger(__name__)

FULL_ACCESS = Access.full()
HOUSEKEEPING_S = 0.25


@dataclass(frozen=True, slots=True)
class Datapoint:
    value: Value | None
    ts: float  # epoch seconds of the clock; 0 when never set
    stale: bool = False


EMPTY = Datapoint(None, 0.0)


class Subscription:
    """Updates for a set of paths, as an async iterator of ``{path: Datapoint}`` batches.

    The first batch holds the current value of every path. Later batches hold what changed since
    the last one was taken, newest value per path. ``close()`` (or leaving ``async with``) ends it.
    """

    def __init__(
        self, broker: Broker, paths: tuple[str, ...], unknown: tuple[str, ...], *, targets: bool
    ) -> None:
        self._broker = broker
        self.paths = paths
        self.unknown = unknown
        self.targets = targets
        self._pending: dict[str, Datapoint] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def _offer(self, path: str, dp: Datapoint) -> None:
        self._pending[path] = dp
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Datapoint]:
        while not self._pending:
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        batch, self._pending = self._pending, {}
        return batch

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._broker._drop(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


ActuateHandler = Callable[[ActuationRequest], None]


class Provider:
    """A registered source of values and executor of actuation requests for the paths it owns."""

    def __init__(
        self,
        broker: Broker,
        name: str,
        sensors: frozenset[str],
        actuators: frozenset[str],
        on_actuate: ActuateHandler | None,
        liveness_timeout_s: float | None,
        access: Access,
    ) -> None:
        self._broker = broker
        self.name = name
        self.sensors = sensors
        self.actuators = actuators
        self.on_actuate = on_actuate
        self.liveness_timeout_s = liveness_timeout_s
        self.access = access
        self.last_seen = broker.clock.monotonic()
        self.alive = True
        self.closed = False

    @property
    def paths(self) -> frozenset[str]:
        return self.sensors | self.actuators

    def publish(self, updates: Mapping[str, object]) -> None:
        """Report current values (sensors, attributes, and actuators' reached values)."""
        self._broker.publish(updates, access=self.access, provider=self)

    def heartbeat(self) -> None:
        self._broker._seen(self)

    def report_error(self, reason: str) -> None:
        """The provider cannot vouch for its values now: mark them stale until it publishes."""
        self._broker._provider_down(self, reason)

    def fail(self, request_id: str, reason: str) -> None:
        """Report that an actuation request could not be carried out."""
        self._broker._provider_failed(self, request_id, reason)

    def close(self) -> None:
        self._broker._remove_provider(self)


class Broker:
    """The in-car signal broker. Pure bookkeeping plus one housekeeping task (:meth:`run`)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        clock: Clock,
        store: ValueStore | None = None,
        actuation_timeout_s: float = 10.0,
        rules: tuple[Rule, ...] = RULES,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self._store = store
        self._rules = rules
        self.actuation_timeout_s = actuation_timeout_s
        self._flush_interval_s = flush_interval_s
        self._current: dict[str, Datapoint] = {}
        self._target: dict[str, Datapoint] = {}
        self._value_subs: dict[str, list[Subscription]] = {}
        self._target_subs: dict[str, list[Subscription]] = {}
        self._owner: dict[str, Provider] = {}
        self._providers: dict[str, Provider] = {}
        self._dirty: set[str] = set()
        self.actuations = ActuationLog()
        if store is not None:
            for path, (raw, ts) in store.load().items():
                spec = catalog.find(path)
                if spec is None:
                    continue  # the catalog changed since: forget the signal
                try:
                    value = spec.validate(raw)
                except InvalidValueError:
                    log.warning("stored value %r of %s no longer valid: dropped", raw, path)
                    continue
                self._current[path] = Datapoint(value, ts, stale=True)

    # --- reading ------------------------------------------------------------------------------

    def _readable(self, spec: SignalSpec, access: Access) -> SignalSpec:
        if not access.allows(Action.READ, spec.path):
            raise PermissionDeniedError(f"no read access to {spec.path}", path=spec.path)
        return spec

    def get(self, path: str, *, access: Access = FULL_ACCESS) -> Datapoint:
        """The current value of a signal (``value`` None if it never had one)."""
        self._readable(self.catalog.get(path), access)
        return self._current.get(path, EMPTY)

    def get_target(self, path: str, *, access: Access = FULL_ACCESS) -> Datapoint:
        spec = self._readable(self.catalog.get(path), access)
        if spec.kind is not Kind.ACTUATOR:
            raise NotActuatorError(path, spec.kind.value)
        return self._target.get(path, EMPTY)

    def current_value(self, path: str) -> Value | None:
        """The current value or None, no checks: for rules and trusted code."""
        dp = self._current.get(path)
        return None if dp is None or dp.stale else dp.value

    def resolve(
        self, patterns: Sequence[str], *, access: Access = FULL_ACCESS, action: Action = Action.READ
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the paths the patterns match, the patterns that match nothing), checking access."""
        paths: dict[str, None] = {}
        unknown: list[str] = []
        for pattern in patterns:
            matched = self.catalog.match(pattern)
            if not matched:
                unknown.append(pattern)
            for spec in matched:
                if not access.allows(action, spec.path):
                    raise PermissionDeniedError(
                        f"no {action.value} access to {spec.path}", path=spec.path
                    )
                paths[spec.path] = None
        return tuple(paths), tuple(unknown)

    # --- subscribing --------------------------------------------------------------------------

    def subscribe(
        self, patterns: Sequence[str], *, access: Access = FULL_ACCESS, targets: bool = False
    ) -> Subscription:
        """Stream the values (or actuator targets) of every path the patterns match.

        Patterns that match nothing are reported in ``unknown``; if none matches anything, the
        request fails with UnknownPathError naming them.
        """
        paths, unknown = self.resolve(patterns, access=access)
        if not paths:
            raise UnknownPathError(
                unknown[0] if unknown else "", note="no known signal matches the request"
            )
        if targets:
            actuators = tuple(p for p in paths if self.catalog.get(p).kind is Kind.ACTUATOR)
            if not actuators:
                spec = self.catalog.get(paths[0])
                raise NotActuatorError(spec.path, spec.kind.value)
            paths = actuators
        sub = Subscription(self, paths, unknown, targets=targets)
        index = self._target_subs if targets else self._value_subs
        source = self._target if targets else self._current
        for path in paths:
            index.setdefault(path, []).append(sub)
            sub._offer(path, source.get(path, EMPTY))
        return sub

    def _drop(self, sub: Subscription) -> None:
        index = self._target_subs if sub.targets else self._value_subs
        for path in sub.paths:
            subs = index.get(path)
            if subs is not None and sub in subs:
                subs.remove(sub)
                if not subs:
                    del index[path]

    # --- providing ----------------------------------------------------------------------------

    def register_provider(
        self,
        name: str,
        *,
        sensors: Iterable[str] = (),
        actuators: Iterable[str] = (),
        on_actuate: ActuateHandler | None = None,
        liveness_timeout_s: float | None = None,
        access: Access = FULL_ACCESS,
    ) -> Provider:
        """Claim signals (patterns allowed). Each signal has at most one provider at a time."""
        sensor_paths, _ = self.resolve(tuple(sensors), access=access, action=Action.PROVIDE_DATA)
        actuator_paths, _ = self.resolve(
            tuple(actuators), access=access, action=Action.PROVIDE_ACTUATION
        )
        for path in actuator_paths:
            kind = self.catalog.get(path).kind
            if kind is not Kind.ACTUATOR:
                raise NotActuatorError(path, kind.value)
        claimed = frozenset(sensor_paths) | frozenset(actuator_paths)
        for path in claimed:
            owner = self._owner.get(path)
            if owner is not None and not owner.closed:
                raise AlreadyProvidedError(path, owner.name)
        provider = Provider(
            self,
            name,
            frozenset(sensor_paths),
            frozenset(actuator_paths),
            on_actuate,
            liveness_timeout_s,
            access,
        )
        for path in claimed:
            self._owner[path] = provider
        self._providers[f"{name}#{id(provider)}"] = provider
        return provider

    def publish(
        self,
        updates: Mapping[str, object],
        *,
        access: Access = FULL_ACCESS,
        provider: Provider | None = None,
    ) -> None:
        """Set current values. All are checked first: one bad value rejects the whole batch."""
        find = self.catalog.find
        trusted = access is FULL_ACCESS
        checked: list[tuple[str, Value]] = []
        for path, raw in updates.items():
            spec = find(path)
            if spec is None:
                spec = self.catalog.get(path)  # raises UnknownPathError with suggestions
            if not trusted and not access.allows(Action.PROVIDE_DATA, path):
                raise PermissionDeniedError(f"no provide access to {path}", path=path)
            checked.append((path, spec.validate(raw)))
        if provider is not None:
            self._seen(provider)
        now = self.clock.timestamp()
        current = self._current
        subs_by_path = self._value_subs
        dirty = self._dirty
        open_paths = self.actuations.open_paths
        for path, value in checked:
            dp = Datapoint(value, now)
            current[path] = dp
            dirty.add(path)
            subs = subs_by_path.get(path)
            if subs:
                for sub in subs:
                    sub._offer(path, dp)
            if path in open_paths:
                self._check_executed(path, value, now)

    def _seen(self, provider: Provider) -> None:
        provider.last_seen = self.clock.monotonic()
        if not provider.alive:
            provider.alive = True
            log.info("provider %s is back", provider.name)

    def _provider_down(self, provider: Provider, reason: str) -> None:
        if provider.alive:
            provider.alive = False
            log.warning(
                "provider %s reports an error (%s): its values are stale", provider.name, reason
            )
            self._mark_stale(provider.paths)

    def _mark_stale(self, paths: Iterable[str]) -> None:
        for path in paths:
            dp = self._current.get(path)
            if dp is not None and not dp.stale:
                stale = Datapoint(dp.value, dp.ts, stale=True)
                self._current[path] = stale
                for sub in self._value_subs.get(path, ()):
                    sub._offer(path, stale)

    def _remove_provider(self, provider: Provider) -> None:
        if provider.closed:
            return
        provider.closed = True
        provider.alive = False
        for path in provider.paths:
            if self._owner.get(path) is provider:
                del self._owner[path]
        self._providers.pop(f"{provider.name}#{id(provider)}", None)
        self._mark_stale(provider.paths)
        now = self.clock.timestamp()
        for request in self.actuations.open_requests():
            if request.path in provider.actuators:
                self.actuations.finish(
                    request, ActuationState.FAILED, now, f"provider {provider.name} disconnected"
                )

    def provider_of(self, path: str) -> Provider | None:
        return self._owner.get(path)

    # --- actuating ----------------------------------------------------------------------------

    def _check_actuation(self, path: str, value: object, access: Access) -> tuple[Value, Provider]:
        spec = self.catalog.get(path)
        if not access.allows(Action.ACTUATE, path):
            raise PermissionDeniedError(f"no actuate access to {path}", path=path)
        if spec.kind is not Kind.ACTUATOR:
            raise NotActuatorError(path, spec.kind.value)
        checked = spec.validate(value)
        owner = self._owner.get(path)
        if owner is None or not owner.alive or owner.on_actuate is None:
            raise ProviderUnavailableError(path)
        check_target(path, checked, self.current_value, self._rules)
        return checked, owner

    def actuate(
        self, path: str, value: object, *, access: Access = FULL_ACCESS, client: str = ""
    ) -> ActuationRequest:
        """Check a target and deliver it to the actuator's provider; returns the request."""
        return self.actuate_many({path: value}, access=access, client=client)[0]

    def actuate_many(
        self, targets: Mapping[str, object], *, access: Access = FULL_ACCESS, client: str = ""
    ) -> list[ActuationRequest]:
        """All targets are checked before any is delivered: all or nothing."""
        checked = [
            (path, *self._check_actuation(path, value, access)) for path, value in targets.items()
        ]
        now = self.clock.timestamp()
        requests = []
        for path, value, owner in checked:
            request = ActuationRequest(
                id=self.actuations.new_id(),
                path=path,
                value=value,
                client=client,
                provider=owner.name,
                state=ActuationState.ACCEPTED,
                created_ts=now,
                deadline_ts=now + self.actuation_timeout_s,
                updated_ts=now,
            )
            self.actuations.add(request)
            target = Datapoint(value, now)
            self._target[path] = target
            for sub in self._target_subs.get(path, ()):
                sub._offer(path, target)
            assert owner.on_actuate is not None
            owner.on_actuate(request)
            current = self._current.get(path)
            if current is not None and not current.stale and same_value(current.value, value):
                request = self.actuations.finish(request, ActuationState.EXECUTED, now)
            requests.append(self.actuations.get(request.id) or request)
        return requests

    def _check_executed(self, path: str, value: Value, now: float) -> None:
        request = self.actuations.open_for(path)
        if request is not None and same_value(value, request.value):
            self.actuations.finish(request, ActuationState.EXECUTED, now)

    def _provider_failed(self, provider: Provider, request_id: str, reason: str) -> None:
        request = self.actuations.get(request_id)
        if request is None or request.state.final or request.provider != provider.name:
            return
        self.actuations.finish(request, ActuationState.FAILED, self.clock.timestamp(), reason)

    # --- housekeeping -------------------------------------------------------------------------

    def housekeeping(self) -> None:
        """Time out actuations, mark silent providers stale, save changed values."""
        now = self.clock.timestamp()
        for request in self.actuations.open_requests():
            if now >= request.deadline_ts:
                self.actuations.finish(
                    request,
                    ActuationState.TIMED_OUT,
                    now,
                    f"{request.path} did not report {request.value!r} within "
                    f"{self.actuation_timeout_s:g} s",
                )
        mono = self.clock.monotonic()
        for provider in list(self._providers.values()):
            timeout = provider.liveness_timeout_s
            if provider.alive and timeout is not None and mono - provider.last_seen > timeout:
                self._provider_down(provider, f"silent for {mono - provider.last_seen:.1f} s")

    def flush(self) -> None:
        """Write changed values to the store."""
        if self._store is None or not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        items = []
        for path in dirty:
            dp = self._current[path]
            items.append((path, dp.value, dp.ts))
        self._store.save(items)

    async def run(self) -> None:
        """Run housekeeping on the broker's clock until cancelled; saves on the way out."""
        since_flush = 0.0
        try:
            while True:
                await self.clock.sleep(HOUSEKEEPING_S)
                self.housekeeping()
                since_flush += HOUSEKEEPING_S
                if since_flush >= self._flush_interval_s:
                    since_flush = 0.0
                    self.flush()
        finally:
            self.flush()
