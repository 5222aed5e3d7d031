"""The demo world's people and things as the cloud stores them, made before the server starts:
the demo owner's account and household (time zone, home geofence), the simulated car provisioned
and paired into it, the owner's device key paired in the car, the household's service key, and a
family member invited into the household with the role guest for the car.

Everything goes through the cloud's own functions (sign-up, pairing by code, geofences, service
keys, invites, sharing), as the API and ``smartev car provision`` / ``pair`` would. Each step is
idempotent, and what the owner may change afterwards (time zone, geofence, pairing, members and
their roles) is done once only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from smartev.cloud import automation_store as store
from smartev.cloud import households, invites, sharing
from smartev.cloud import schema as t
from smartev.cloud.access import CarRole, car_access
from smartev.cloud.app import CloudContext
from smartev.cloud.automation_key import ServiceKey, create_key, current_key
from smartev.cloud.car_keys import CarKeyDirectory
from smartev.cloud.costs import Geofence
from smartev.cloud.errors import NotFoundError
from smartev.cloud.geofences import create_geofence, geofences_of
from smartev.cloud.pairing import pair_car, store_offer
from smartev.core.errors import ConfigError
from smartev.demo_files import FAMILY, OWNER, DemoFiles
from smartev.link import PairingOffer
from smartev.link.pairing import PAIRING_TTL_S, new_pairing_code, pairing_code_sha256
from smartev.link.signing import key_id, public_key_bytes
from smartev.sim.home_physics import TimeOfUseTariff
from smartev.vehicle.car_key import load_or_create_car_key, public_pem
from smartev.vehicle.keyring_file import load_key_ring

log = logging.getLogger(__name__)

DEMO_EMAIL: Final = "demo@smartev.example"
DEMO_NAME: Final = "Demo"
TIME_ZONE: Final = "Europe/Berlin"
HOME_ZONE: Final = "home"
HOME_RADIUS_M: Final = 150.0
OWNER_KEY_LABEL: Final = "demo owner's phone"
FAMILY_EMAIL: Final = "family@smartev.example"
FAMILY_NAME: Final = "Family"
FAMILY_ROLE: Final = CarRole.GUEST
GUEST_DAYS: Final = 365  # of the world's clock, from the family member's first start
INVITE_TTL_S: Final = 3600  # the invite is accepted at once; it only has to outlive that


@dataclass(frozen=True, slots=True)
class DemoOwner:
    user_id: str
    household_id: str
    email: str
    password: str | None  # None: the account exists but its password file is gone


@dataclass(frozen=True, slots=True)
class DemoMember:
    """The family member: a member of the owner's household with a role for the demo car."""

    user_id: str
    email: str
    password: str | None  # None: the account exists but its password file is gone
    role: CarRole | None  # for the demo car now; None: none (taken back, or the car unpaired)


@dataclass(frozen=True, slots=True)
class DemoCar:
    vin: str
    name: str
    data_dir: Path
    paired: bool  # in the demo household (the owner may have unpaired it)
    owner_key_paired: bool  # the owner's device key is an owner key in the car


def _now_us(ctx: CloudContext) -> int:
    return int(ctx.clock.timestamp() * 1_000_000)


def _ensure_account(
    ctx: CloudContext, files: DemoFiles, account: str, email: str, name: str
) -> tuple[str, str | None]:
    """The demo account ``email`` (its user id and password), signed up at first start like the
    API's sign-up (account and its own household in one transaction) with a password generated
    and kept in the data directory."""
    with ctx.db.connect() as db:
        user_id = db.execute(
            select(t.user.c.id).where(t.user.c.email == email)
        ).scalar_one_or_none()
    password = files.password(account)
    if user_id is None:
        password = password or files.new_password(account)
        with ctx.db.begin() as db:
            user_id = ctx.accounts.sign_up(db, email, password, name)
            households.create_household(
                db,
                owner_id=user_id,
                name=households.own_home_name(name),
                now_us=_now_us(ctx),
            )
        log.info("demo account %s signed up", email)
    elif password is None:
        log.warning(
            "the demo account %s exists but its password file %s is gone: log in with the "
            "password you had, or start afresh with `smartev up --reset`",
            email,
            files.password_file(account),
        )
    return user_id, password


def ensure_owner(ctx: CloudContext, files: DemoFiles) -> DemoOwner:
    """The demo owner and the household they own."""
    user_id, password = _ensure_account(ctx, files, OWNER, DEMO_EMAIL, DEMO_NAME)
    with ctx.db.begin() as db:
        owned = [m for m in households.households_of(db, user_id) if m.owner_id == user_id]
        if owned:
            household_id = owned[0].household_id
        else:  # an account from before every account got its own household
            household_id = households.create_household(
                db,
                owner_id=user_id,
                name=households.own_home_name(DEMO_NAME),
                now_us=_now_us(ctx),
            )
    return DemoOwner(user_id, household_id, DEMO_EMAIL, password)


def furnish_household(
    ctx: CloudContext, owner: DemoOwner, files: DemoFiles, place: tuple[float, float]
) -> None:
    """At first start: the household's time zone and its ``home`` geofence at ``place``."""
    done = files.state().done
    if "time_zone" not in done:
        with ctx.db.begin() as db:
            store.set_time_zone(
                db,
                household_id=owner.household_id,
                name=TIME_ZONE,
                actor_id=owner.user_id,
                now_us=_now_us(ctx),
            )
        files.remember(done="time_zone")
    key = f"geofence:{HOME_ZONE}"
    if key not in done:
        with ctx.db.begin() as db:
            if not any(g.fence.name == HOME_ZONE for g in geofences_of(db, owner.household_id)):
                create_geofence(
                    db,
                    household_id=owner.household_id,
                    actor_id=owner.user_id,
                    # Charging at home costs the household's electricity: the simulated grid
                    # meter's day price (the cloud's cost model has one price per place).
                    fence=Geofence(
                        HOME_ZONE,
                        place[0],
                        place[1],
                        HOME_RADIUS_M,
                        price_per_kwh=TimeOfUseTariff().normal_price,
                        currency=TimeOfUseTariff().currency,
                    ),
                    now_us=_now_us(ctx),
                )
        files.remember(done=key)


def provision_car(data_dir: Path, car_dir: Path, vin: str) -> None:
    """The car's identity key (made once) registered with the cloud: ``smartev car provision``."""
    try:
        key = load_or_create_car_key(car_dir)
        CarKeyDirectory(data_dir / "cars").register(vin, public_pem(key))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot provision the demo car {vin} in {car_dir}: {exc}") from exc


def pair_into_household(
    ctx: CloudContext, owner: DemoOwner, files: DemoFiles, vin: str, name: str
) -> bool:
    """Pair the car into the owner's household once, the way a person does: the car offers a
    code, the owner enters it. True when the car is in the household now."""
    with ctx.db.connect() as db:
        household = db.execute(
            select(t.car.c.household_id).where(t.car.c.id == vin)
        ).scalar_one_or_none()
    if household == owner.household_id:
        return True
    key = f"paired:{vin}"
    if key in files.state().done:
        log.info("the demo car %s was unpaired by its owner; it stays unpaired", vin)
        return False
    if household is not None:
        log.warning("the demo car %s is paired with another household; left there", vin)
        return False
    now_us = _now_us(ctx)
    code = new_pairing_code()
    offer = PairingOffer(pairing_code_sha256(code), now_us + int(PAIRING_TTL_S * 1_000_000))
    store_offer(ctx.db, vin, offer, now_us)
    with ctx.db.begin() as db:
        pair_car(
            db,
            user_id=owner.user_id,
            code=code,
            now_us=now_us,
            name=name,
            household_id=owner.household_id,
        )
    files.remember(done=key)
    log.info("demo car %s paired into household %s", vin, owner.household_id)
    return True


def pair_owner_key(car_dir: Path, owner_key: Ed25519PrivateKey, now_us: int) -> bool:
    """The owner's device key as the car's first owner key, in the car: ``smartev car pair``.
    False (logged) when the car has another owner already."""
    ring = load_key_ring(car_dir)
    public = public_key_bytes(owner_key)
    if ring.get(key_id(public)) is not None:
        return True
    if ring.has_owner():
        log.error(
            "the demo car in %s has another owner key: the demo owner cannot enroll the "
            "automations' service key (delete %s/keyring.json to pair again)",
            car_dir,
            car_dir,
        )
        return False
    ring.pair_owner(public, OWNER_KEY_LABEL, now_us)
    return True


def enrolled_in_car(car_dir: Path, key: ServiceKey) -> bool:
    """Whether the car's key ring holds ``key`` (not revoked): enrolled by an earlier start that
    stopped before remembering it."""
    enrolled = load_key_ring(car_dir).get(key.key_id)
    return enrolled is not None and not enrolled.revoked


def ensure_service_key(ctx: CloudContext, owner: DemoOwner) -> ServiceKey:
    """The household's service key in use, created by the owner when there is none."""
    with ctx.db.begin() as db:
        key = current_key(db, owner.household_id)
        if key is None:
            key = create_key(
                db,
                ctx.homes.sealer,
                household_id=owner.household_id,
                actor_id=owner.user_id,
                now_us=_now_us(ctx),
            )
    return key


def prepare_car(
    ctx: CloudContext,
    owner: DemoOwner,
    files: DemoFiles,
    *,
    vin: str,
    name: str,
    car_dir: Path,
) -> DemoCar:
    """Provision, pair, and pair the owner's key in the car (before the car node starts: it reads
    its key ring at start)."""
    provision_car(ctx.settings.data_dir, car_dir, vin)
    paired = pair_into_household(ctx, owner, files, vin, name)
    owner_key_paired = pair_owner_key(car_dir, files.owner_key(), _now_us(ctx))
    return DemoCar(vin, name, car_dir, paired, owner_key_paired)


def ensure_family(
    ctx: CloudContext, owner: DemoOwner, files: DemoFiles, car: DemoCar
) -> DemoMember:
    """The family member: signed up at first start, joined the owner's household through an
    invite the owner made for their address, and given the role guest for the car for
    :data:`GUEST_DAYS` days; each once (a member or role the owner took back stays so)."""
    user_id, password = _ensure_account(ctx, files, FAMILY, FAMILY_EMAIL, FAMILY_NAME)
    done = files.state().done
    if "member:family" not in done:
        with ctx.db.begin() as db:
            joined = any(
                m.household_id == owner.household_id for m in households.households_of(db, user_id)
            )
            if not joined:
                made = invites.create_invite(
                    db,
                    household_id=owner.household_id,
                    actor_id=owner.user_id,
                    email=FAMILY_EMAIL,
                    expires_in_s=INVITE_TTL_S,
                    auth_now_us=_auth_now_us(ctx),
                    now_us=_now_us(ctx),
                )
                invites.accept_invite(
                    db,
                    code=made.code,
                    user_id=user_id,
                    auth_now_us=_auth_now_us(ctx),
                    now_us=_now_us(ctx),
                )
        files.remember(done="member:family")
        log.info("%s joined the demo household %s", FAMILY_EMAIL, owner.household_id)
    key = f"grant:family:{car.vin}"
    if car.paired and key not in done:
        now_us = _now_us(ctx)
        try:
            with ctx.db.begin() as db:
                sharing.set_grant(
                    db,
                    household_id=owner.household_id,
                    actor_id=owner.user_id,
                    car_id=car.vin,
                    user_id=user_id,
                    role=FAMILY_ROLE,
                    valid_from_us=now_us,
                    valid_until_us=now_us + GUEST_DAYS * 86_400 * 1_000_000,
                    now_us=now_us,
                )
            log.info("%s is a %s of the demo car %s", FAMILY_EMAIL, FAMILY_ROLE, car.vin)
        except NotFoundError:  # the owner removed them from the household: they stay out
            log.info("%s is no member of the demo household: no role for the car", FAMILY_EMAIL)
        files.remember(done=key)
    with ctx.db.connect() as db:
        access = car_access(db, user_id, car.vin, _now_us(ctx))
    return DemoMember(user_id, FAMILY_EMAIL, password, None if access is None else access.role)


def _auth_now_us(ctx: CloudContext) -> int:
    """Invites expire on the service's own clock, not the world's (see cloud.invites)."""
    return int(ctx.auth_clock.timestamp() * 1_000_000)
