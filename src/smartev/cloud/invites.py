"""Invitations into a household: the owner makes a one-time code, someone with an account uses
it to join.

A code carries 128 random bits and only its SHA-256 is stored, so it is shown once, when it is
made. An invite may name the e-mail address of the one account allowed to accept it. Invites
expire on the service's auth clock, like logins: the demo world's faster clock does not shorten
them. Memberships and the audit log are stamped with the world clock, like everything else.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from smartev.cloud import audit
from smartev.cloud import schema as t
from smartev.cloud.errors import ConflictError, GoneError, NotFoundError, NotPermittedError
from smartev.cloud.households import Membership, require_owner_of

INVITE_CODE_BYTES = 16
_INVITE = "invite people"


@dataclass(frozen=True, slots=True)
class Invite:
    id: str
    household_id: str
    email: str | None
    created_by: str
    created_us: int
    expires_us: int


@dataclass(frozen=True, slots=True)
class NewInvite:
    invite: Invite
    code: str  # shown to the owner once; never stored


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def create_invite(
    db: Connection,
    *,
    household_id: str,
    actor_id: str,
    email: str | None,
    expires_in_s: int,
    auth_now_us: int,
    now_us: int,
) -> NewInvite:
    """A new invite valid for ``expires_in_s`` from ``auth_now_us``; ``email`` is normalized."""
    require_owner_of(db, household_id, actor_id, _INVITE)
    code = secrets.token_urlsafe(INVITE_CODE_BYTES)
    invite = Invite(
        id=t.new_id("inv"),
        household_id=household_id,
        email=email,
        created_by=actor_id,
        created_us=auth_now_us,
        expires_us=auth_now_us + expires_in_s * 1_000_000,
    )
    db.execute(
        insert(t.invite).values(
            id=invite.id,
            household_id=household_id,
            code_hash=_code_hash(code),
            email=email,
            created_by=actor_id,
            created_us=invite.created_us,
            expires_us=invite.expires_us,
        )
    )
    audit.record(
        db,
        ts_us=now_us,
        action="invite.created",
        actor_id=actor_id,
        household_id=household_id,
        detail={"invite_id": invite.id, "email": email, "expires_us": invite.expires_us},
    )
    return NewInvite(invite, code)


def _invite(row: Row[Any]) -> Invite:
    return Invite(
        id=row.id,
        household_id=row.household_id,
        email=row.email,
        created_by=row.created_by,
        created_us=row.created_us,
        expires_us=row.expires_us,
    )


def pending_invites(
    db: Connection, *, household_id: str, actor_id: str, auth_now_us: int
) -> list[Invite]:
    """Invites not yet accepted, revoked or expired, newest first (without their codes)."""
    require_owner_of(db, household_id, actor_id, _INVITE)
    rows = db.execute(
        select(t.invite)
        .where(
            t.invite.c.household_id == household_id,
            t.invite.c.accepted_us.is_(None),
            t.invite.c.revoked_us.is_(None),
            t.invite.c.expires_us > auth_now_us,
        )
        .order_by(t.invite.c.created_us.desc(), t.invite.c.id)
    ).all()
    return [_invite(r) for r in rows]


def revoke_invite(
    db: Connection,
    *,
    household_id: str,
    actor_id: str,
    invite_id: str,
    auth_now_us: int,
    now_us: int,
) -> None:
    require_owner_of(db, household_id, actor_id, _INVITE)
    row = db.execute(
        select(t.invite.c.accepted_us, t.invite.c.revoked_us).where(
            t.invite.c.id == invite_id, t.invite.c.household_id == household_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no invite {invite_id} in household {household_id}")
    if row.accepted_us is not None:
        raise ConflictError(f"invite {invite_id} was accepted already; remove the member instead")
    if row.revoked_us is not None:
        raise ConflictError(f"invite {invite_id} was revoked already")
    db.execute(update(t.invite).where(t.invite.c.id == invite_id).values(revoked_us=auth_now_us))
    audit.record(
        db,
        ts_us=now_us,
        action="invite.revoked",
        actor_id=actor_id,
        household_id=household_id,
        detail={"invite_id": invite_id},
    )


def accept_invite(
    db: Connection, *, code: str, user_id: str, auth_now_us: int, now_us: int
) -> Membership:
    """Join the household the code invites to; says which when the code is expired, revoked,
    used, or meant for another account."""
    row = db.execute(
        select(t.invite, t.household.c.name, t.household.c.owner_id)
        .join(t.household, t.household.c.id == t.invite.c.household_id)
        .where(t.invite.c.code_hash == _code_hash(code))
    ).first()
    if row is None:
        raise NotFoundError("no invite has this code; check it for typos")
    if row.revoked_us is not None:
        raise GoneError("this invite was revoked; ask the household's owner for a new one")
    if row.accepted_us is not None:
        raise GoneError("this invite was used already; ask the household's owner for a new one")
    if row.expires_us <= auth_now_us:
        raise GoneError("this invite has expired; ask the household's owner for a new one")
    if row.email is not None:
        email = db.execute(select(t.user.c.email).where(t.user.c.id == user_id)).scalar_one()
        if email != row.email:
            raise NotPermittedError(
                "this invite is for another e-mail address; log in with that account"
            )
    already = db.execute(
        select(t.household_member.c.user_id).where(
            t.household_member.c.household_id == row.household_id,
            t.household_member.c.user_id == user_id,
        )
    ).first()
    if already is not None:
        raise ConflictError(f"you are a member of household {row.household_id} already")
    # Conditional, so two people racing with one code cannot both get in.
    taken = db.execute(
        update(t.invite)
        .where(
            t.invite.c.id == row.id,
            t.invite.c.accepted_us.is_(None),
            t.invite.c.revoked_us.is_(None),
        )
        .values(accepted_by=user_id, accepted_us=auth_now_us)
    )
    if taken.rowcount != 1:
        raise GoneError("this invite was used already; ask the household's owner for a new one")
    db.execute(
        insert(t.household_member).values(
            household_id=row.household_id, user_id=user_id, joined_us=now_us
        )
    )
    audit.record(
        db,
        ts_us=now_us,
        action="invite.accepted",
        actor_id=user_id,
        household_id=row.household_id,
        detail={"invite_id": row.id},
    )
    return Membership(row.household_id, row.name, row.owner_id, user_id)
