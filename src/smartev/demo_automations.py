"""What the demo world does for its household once the cloud runs: the shipped automations and
scenes installed (as the API adds them: stored, then loaded into the household's hub), and the
owner's phone (:class:`OwnerPhone`) signing ``key.enroll`` commands sent through the cloud's
command relay, the same path a person's phone takes: the household's service key once, and the
browser and phone keys the household's people register, as they ask for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud import automation_store as store
from smartev.cloud import schema as t
from smartev.cloud.app import CloudContext
from smartev.cloud.automation_key import ServiceKey
from smartev.cloud.commands import CommandRecord
from smartev.cloud.device_keys import KeyRequest, RevokeRequest, key_requests, revoke_requests
from smartev.core.clock import Clock, RealClock
from smartev.core.errors import InvalidInputError
from smartev.demo_files import DemoFiles
from smartev.demo_setup import DemoOwner
from smartev.ecosystem.registry import AvailabilityChange, DeviceRegistry, Happening
from smartev.ecosystem.shipped import HomeBindings, shipped_automations, shipped_scenes
from smartev.link.signing import (
    MAX_TTL_S,
    ArgValue,
    encode_envelope,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)

log = logging.getLogger(__name__)

ENROLL_ATTEMPTS: Final = 3  # an enrollment that expired on the way (a slow start) is sent again
# How often the owner's phone looks for keys to enroll, in real seconds: a person who just
# registered a browser key waits about this long, at any speed of the world's clock.
KEY_REQUESTS_EVERY_S: Final = 1.0


async def install_shipped(
    ctx: CloudContext, owner: DemoOwner, files: DemoFiles, bindings: HomeBindings
) -> None:
    """Install each shipped scene and automation (enabled) that was never installed before: one
    the owner deleted stays deleted, and one found under its name (a start that stopped before
    remembering it) is not added twice. A text that does not fit the household is logged."""
    hub = await ctx.homes.hub(owner.household_id)

    def existing() -> tuple[set[str], set[str]]:
        with ctx.db.connect() as db:
            scenes = {s.name for s in store.scenes(db, owner.household_id)}
            aliases = {a.alias for a in store.automations(db, owner.household_id)}
        return scenes, aliases

    scene_names, aliases = await asyncio.to_thread(existing)
    now_us = int(ctx.clock.timestamp() * 1_000_000)
    for name, source in shipped_scenes(bindings).items():
        key = f"scene:{name}"
        if key in files.state().done:
            continue
        if name not in scene_names:
            try:
                scene = hub.parse_scene(source)
            except InvalidInputError as exc:
                log.error("the shipped scene %r does not fit the demo household: %s", name, exc)
                continue
            scene_id = t.new_id("scn")

            def add_scene(
                scene_id: str = scene_id, name: str = scene.name, text: str = source
            ) -> None:
                with ctx.db.begin() as db:
                    store.add_scene(
                        db,
                        household_id=owner.household_id,
                        scene_id=scene_id,
                        name=name,
                        source=text,
                        actor_id=owner.user_id,
                        now_us=now_us,
                    )

            await asyncio.to_thread(add_scene)
            hub.put_scene(scene_id, scene)
        files.remember(done=key)
    for name, source in shipped_automations(bindings).items():
        key = f"automation:{name}"
        if key in files.state().done:
            continue
        automation_id = t.new_id("aut")
        try:
            automation = hub.parse(automation_id, source)
        except InvalidInputError as exc:
            log.error("the shipped automation %r does not fit the demo household: %s", name, exc)
            continue
        if automation.alias not in aliases:

            def add_automation(
                automation_id: str = automation_id,
                alias: str = automation.alias,
                text: str = source,
            ) -> None:
                with ctx.db.begin() as db:
                    store.add_automation(
                        db,
                        household_id=owner.household_id,
                        automation_id=automation_id,
                        alias=alias,
                        source=text,
                        enabled=True,
                        actor_id=owner.user_id,
                        now_us=now_us,
                    )

            await asyncio.to_thread(add_automation)
            hub.load(automation_id, source, enabled=True)
        files.remember(done=key)


async def wait_online(registry: DeviceRegistry, device_id: str) -> None:
    """Return once the device is online (at once if it is)."""
    online = asyncio.Event()

    def seen(happening: Happening) -> None:
        if (
            isinstance(happening, AvailabilityChange)
            and happening.device == device_id
            and happening.online
        ):
            online.set()

    unsubscribe = registry.subscribe(seen)
    try:
        if device_id in registry and registry.online(device_id):
            return
        await online.wait()
    finally:
        unsubscribe()


class OwnerPhone:
    """The demo owner's phone as the signer of their commands to the car: it holds the owner's
    device key (an owner key in the car) and numbers its commands in each boot of the car."""

    def __init__(
        self, ctx: CloudContext, owner: DemoOwner, owner_key: Ed25519PrivateKey, vin: str
    ) -> None:
        self.ctx, self.owner, self.vin = ctx, owner, vin
        self._key = owner_key
        self._key_id = key_id(public_key_bytes(owner_key))
        self._epoch: bytes | None = None
        self._counter = 0
        # Counters must reach the car in order: numbering and handing over go one at a time.
        self._numbering = asyncio.Lock()

    async def send(self, name: str, args: Mapping[str, ArgValue]) -> CommandRecord | None:
        """Once the car is connected, sign the command, send it through the relay as the owner
        and wait for the car's final word; one that expired on the way is sent again. The last
        record, or None when the car's boot went away each time before it was sent."""
        hub = await self.ctx.homes.hub(self.owner.household_id, refresh=False)
        record: CommandRecord | None = None
        for _ in range(ENROLL_ATTEMPTS):
            await wait_online(hub.registry, f"car:{self.vin}")
            async with self._numbering:
                epoch = self.ctx.homes.links.epoch(self.vin)
                if epoch is None:  # gone again between the news and now
                    continue
                if epoch != self._epoch:  # a new boot: its counters start afresh
                    self._epoch, self._counter = epoch, 0
                self._counter += 1
                command = make_command(
                    car_id=self.vin,
                    name=name,
                    args=dict(args),
                    epoch=epoch,
                    counter=self._counter,
                    key_id=self._key_id,
                    now_us=int(self.ctx.clock.timestamp() * 1_000_000),
                    ttl_s=MAX_TTL_S,
                )
                envelope = encode_envelope(sign_command(self._key, command))
                submitted = await asyncio.to_thread(
                    self.ctx.commands.submit, self.vin, envelope, user_id=self.owner.user_id
                )
            record = await self.ctx.commands.wait_final(submitted.command_id)
            if record.state != "expired":
                return record
        return record


def _outcome(record: CommandRecord | None) -> str:
    last = record.states[-1] if record is not None else None
    if last is None:
        return "car never online"
    return f"{last.state}: {last.reason}" if last.reason else last.state


async def enroll_service_key(
    phone: OwnerPhone, service_key: ServiceKey, files: DemoFiles
) -> CommandRecord | None:
    """Send the car the owner-signed ``key.enroll`` of the household's service key and wait for
    its final word; remember an executed one. A refusal is logged in one line and the world goes
    on (automations then cannot command the car). The command's record, or None when the key
    was enrolled before."""
    if service_key.key_id in files.state().enrolled_keys:
        return None
    record = await phone.send("key.enroll", service_key.enroll_args)
    if record is not None and record.state == "executed":
        files.remember(enrolled_key=service_key.key_id)
        log.info("service key %s enrolled in car %s", service_key.key_id, phone.vin)
        return record
    log.error(
        "ENROLLING THE SERVICE KEY %s IN CAR %s FAILED (%s): the shipped automations cannot "
        "command the car",
        service_key.key_id,
        phone.vin,
        _outcome(record),
    )
    return record


async def enroll_key_requests(
    phone: OwnerPhone,
    *,
    clock: Clock | None = None,
    every_s: float = KEY_REQUESTS_EVERY_S,
    on_sent: Callable[[KeyRequest, CommandRecord | None], None] = lambda request, record: None,
) -> None:
    """Keep the car's key ring in step with the household, as the owner's phone does when it
    is asked to: enroll the device keys the household's people register (the owner's browsers
    as owner keys, a guest's with the guest's validity window) and revoke those that lost their
    standing (revoked in the cloud, or their person's role taken back). Look every ``every_s``
    of ``clock``'s time (real time by default) and send each ``key.enroll`` or ``key.revoke``;
    each outcome is logged. Runs until cancelled."""
    ctx, household_id = phone.ctx, phone.owner.household_id
    clock = clock or RealClock()
    sending: dict[str, asyncio.Task[None]] = {}  # key id → its enrollment on its way

    def requests() -> list[KeyRequest]:
        with ctx.db.connect() as db:
            return key_requests(db, household_id, int(ctx.clock.timestamp() * 1_000_000))

    async def enroll(request: KeyRequest) -> None:
        try:
            record = await phone.send("key.enroll", request.enroll_args())
        finally:
            sending.pop(request.key_id, None)
        outcome = _outcome(record)
        level = logging.INFO if record is not None and record.state == "executed" else logging.ERROR
        log.log(
            level,
            "key %s (%r of %s) as %s in car %s: %s",
            request.key_id,
            request.label,
            request.email,
            request.role,
            request.car_id,
            outcome,
        )
        on_sent(request, record)

    def revocations() -> list[RevokeRequest]:
        with ctx.db.connect() as db:
            return revoke_requests(db, household_id, int(ctx.clock.timestamp() * 1_000_000))

    async def revoke(request: RevokeRequest) -> None:
        try:
            record = await phone.send("key.revoke", request.revoke_args())
        finally:
            sending.pop(request.key_id, None)
        executed = record is not None and record.state == "executed"
        log.log(
            logging.INFO if executed else logging.ERROR,
            "key %s (%r of %s) revoked in car %s (%s): %s",
            request.key_id,
            request.label,
            request.email,
            request.car_id,
            request.reason,
            _outcome(record),
        )

    try:
        while True:
            for request in await asyncio.to_thread(requests):
                # Only the demo car has the owner's phone key; the relay's record of a command
                # on its way keeps a request out of the list, this keeps it out until then.
                if request.car_id != phone.vin or request.key_id in sending:
                    continue
                task = asyncio.create_task(enroll(request), name=f"enroll-{request.key_id}")
                sending[request.key_id] = task
            for revocation in await asyncio.to_thread(revocations):
                if revocation.car_id != phone.vin or revocation.key_id in sending:
                    continue
                task = asyncio.create_task(revoke(revocation), name=f"revoke-{revocation.key_id}")
                sending[revocation.key_id] = task
            await clock.sleep(every_s)
    finally:
        waiting = list(sending.values())
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
