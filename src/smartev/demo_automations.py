"""What the demo world does for its household once the cloud runs: the shipped automations and
scenes installed (as the API adds them: stored, then loaded into the household's hub), and the
household's service key enrolled in the car by an owner-signed ``key.enroll`` command sent
through the cloud's command relay, the same path a person's phone takes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud import automation_store as store
from smartev.cloud import schema as t
from smartev.cloud.app import CloudContext
from smartev.cloud.automation_key import ServiceKey
from smartev.cloud.commands import CommandRecord
from smartev.core.errors import InvalidInputError
from smartev.demo_files import DemoFiles
from smartev.demo_setup import DemoOwner
from smartev.ecosystem.registry import AvailabilityChange, DeviceRegistry, Happening
from smartev.ecosystem.shipped import HomeBindings, shipped_automations, shipped_scenes
from smartev.link.signing import (
    MAX_TTL_S,
    encode_envelope,
    key_id,
    make_command,
    public_key_bytes,
    sign_command,
)

log = logging.getLogger(__name__)

ENROLL_ATTEMPTS: Final = 3  # an enrollment that expired on the way (a slow start) is sent again


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


async def enroll_service_key(
    ctx: CloudContext,
    owner: DemoOwner,
    owner_key: Ed25519PrivateKey,
    service_key: ServiceKey,
    vin: str,
    files: DemoFiles,
) -> CommandRecord | None:
    """Once the car is connected, send it the owner-signed ``key.enroll`` of the household's
    service key and wait for its final word; remember an executed one. A refusal is logged in
    one line and the world goes on (automations then cannot command the car). The command's
    record, or None when the key was enrolled before."""
    if service_key.key_id in files.state().enrolled_keys:
        return None
    hub = await ctx.homes.hub(owner.household_id, refresh=False)
    owner_public = public_key_bytes(owner_key)
    record: CommandRecord | None = None
    for attempt in range(1, ENROLL_ATTEMPTS + 1):
        await wait_online(hub.registry, f"car:{vin}")
        epoch = ctx.homes.links.epoch(vin)
        if epoch is None:  # gone again between the news and now
            continue
        command = make_command(
            car_id=vin,
            name="key.enroll",
            args=service_key.enroll_args,
            epoch=epoch,
            counter=attempt,  # a boot's counters start afresh; each attempt takes the next
            key_id=key_id(owner_public),
            now_us=int(ctx.clock.timestamp() * 1_000_000),
            ttl_s=MAX_TTL_S,
        )
        envelope = encode_envelope(sign_command(owner_key, command))
        submitted = await asyncio.to_thread(
            ctx.commands.submit, vin, envelope, user_id=owner.user_id
        )
        record = await ctx.commands.wait_final(submitted.command_id)
        if record.state == "executed":
            files.remember(enrolled_key=service_key.key_id)
            log.info("service key %s enrolled in car %s", service_key.key_id, vin)
            return record
        if record.state != "expired":
            break
    last = record.states[-1] if record is not None else None
    log.error(
        "ENROLLING THE SERVICE KEY %s IN CAR %s FAILED (%s%s): the shipped automations cannot "
        "command the car",
        service_key.key_id,
        vin,
        last.state if last else "car never online",
        f": {last.reason}" if last and last.reason else "",
    )
    return record
