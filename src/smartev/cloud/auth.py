"""Accounts and logins: argon2 password hashes, short-lived access tokens, rotating refresh
tokens, logout that revokes, and a login rate limit.

An access token is a JWT (HS256) naming the user and the login (``sid``) it belongs to, valid
for :data:`ACCESS_TTL_S`; every request also checks that the login was not revoked, so logging out
ends its access tokens at once. A refresh token is 256 random bits, stored only as its SHA-256;
each use returns a new one, and a second use of a spent one (a stolen copy) revokes the whole
login. Security timeouts run on the ``auth_clock`` (real time in a running service), even when the
demo world's clock runs faster.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, insert, select, update

from smartev.cloud import schema as t
from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError, SmartevError

ACCESS_TTL_S = 15 * 60
REFRESH_TTL_S = 30 * 24 * 3600
LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_S = 15 * 60
PASSWORD_MIN_CHARS = 10
PASSWORD_MAX_CHARS = 200
# One @, a dot in the domain, no spaces or control characters (PostgreSQL refuses NUL in text).
# Written without \s so that JSON Schema's regex engine and Python's agree on every character.
_NOT_IN_EMAIL = r"@ \x00-\x1f\x7f-\x9f"
EMAIL_PATTERN = (
    rf"^[^{_NOT_IN_EMAIL}]{{1,64}}@[^{_NOT_IN_EMAIL}]{{1,189}}\.[^.{_NOT_IN_EMAIL}]{{2,63}}$"
)
_EMAIL = re.compile(EMAIL_PATTERN)


class AuthError(SmartevError):
    """Credentials or a token were not accepted; the message is safe to show the caller."""


class AccountExistsError(InvalidInputError):
    """Sign-up with an e-mail address that has an account already."""


class TooManyAttemptsError(AuthError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: a user, through one login."""

    user_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in_s: int


def load_or_create_secret(data_dir: Path) -> str:
    """The token-signing key kept in ``data_dir/secret.key`` (created 0600 on first use)."""
    path = data_dir / "secret.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidInputError(f"{email!r} is not an e-mail address")
    return email


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS:
        raise InvalidInputError(
            f"a password must be {PASSWORD_MIN_CHARS}..{PASSWORD_MAX_CHARS} characters"
        )


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginLimiter:
    """At most :data:`LOGIN_FAILURES_ALLOWED` failed logins per key (e-mail, client address) in
    :data:`LOGIN_WINDOW_S`. Kept in memory: one process; a fleet would keep it in the database."""

    def __init__(self, clock: Clock, *, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def check(self, *keys: str) -> None:
        now = self._clock.monotonic()
        for key in keys:
            failures = self._failures.get(key)
            if not failures:
                continue
            while failures and failures[0] <= now - LOGIN_WINDOW_S:
                failures.popleft()
            if len(failures) >= LOGIN_FAILURES_ALLOWED:
                wait_s = failures[0] + LOGIN_WINDOW_S - now
                raise TooManyAttemptsError(max(1, math.ceil(wait_s)))

    def failed(self, *keys: str) -> None:
        if len(self._failures) >= self._max_keys:
            self._failures.clear()  # bounded memory beats perfect memory under a flood
        now = self._clock.monotonic()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


class Accounts:
    """Sign-up, login, refresh, logout and token checks over the database's account tables."""

    def __init__(self, secret: str, clock: Clock, *, hasher: PasswordHasher | None = None) -> None:
        if len(secret) < 32:
            raise InvalidInputError("the token-signing secret must be at least 32 characters")
        self._secret = secret
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self.limiter = LoginLimiter(clock)
        # A hash to verify against when the e-mail is unknown: the answer takes as long either way.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def _now_us(self) -> int:
        return int(self._clock.timestamp() * 1_000_000)

    def sign_up(self, db: Connection, email: str, password: str, display_name: str) -> str:
        email = normalize_email(email)
        check_password_rules(password)
        name = display_name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidInputError("display_name must be 1..100 characters")
        if db.execute(select(t.user.c.id).where(t.user.c.email == email)).first():
            raise AccountExistsError(f"an account for {email} exists already; log in instead")
        user_id = t.new_id("usr")
        db.execute(
            insert(t.user).values(
                id=user_id,
                email=email,
                display_name=name,
                password_hash=self._hasher.hash(password),
                created_us=self._now_us(),
            )
        )
        return user_id

    def log_in(self, db: Connection, email: str, password: str, client: str) -> TokenPair:
        email = email.strip().lower()
        self.limiter.check(f"email:{email}", f"client:{client}")
        row = db.execute(
            select(t.user.c.id, t.user.c.password_hash).where(t.user.c.email == email)
        ).first()
        try:
            self._hasher.verify(row.password_hash if row else self._dummy_hash, password)
            ok = row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None:
            self.limiter.failed(f"email:{email}", f"client:{client}")
            raise AuthError("wrong e-mail or password")
        self.limiter.succeeded(f"email:{email}")
        session_id = t.new_id("ses")
        db.execute(
            insert(t.auth_session).values(id=session_id, user_id=row.id, created_us=self._now_us())
        )
        return self._issue(db, Principal(row.id, session_id))

    def _issue(self, db: Connection, principal: Principal) -> TokenPair:
        now = self._clock.timestamp()
        access = jwt.encode(
            {
                "sub": principal.user_id,
                "sid": principal.session_id,
                "iat": int(now),
                "exp": int(now) + ACCESS_TTL_S,
                "typ": "access",
            },
            self._secret,
            algorithm="HS256",
        )
        refresh = secrets.token_urlsafe(32)
        db.execute(
            insert(t.refresh_token).values(
                token_hash=_sha256(refresh),
                session_id=principal.session_id,
                expires_us=int((now + REFRESH_TTL_S) * 1_000_000),
            )
        )
        return TokenPair(access, refresh, ACCESS_TTL_S)

    def refresh(self, db: Connection, refresh_token: str) -> TokenPair:
        row = db.execute(
            select(
                t.refresh_token.c.session_id,
                t.refresh_token.c.expires_us,
                t.refresh_token.c.used_us,
                t.auth_session.c.user_id,
                t.auth_session.c.revoked_us,
            )
            .join(t.auth_session, t.auth_session.c.id == t.refresh_token.c.session_id)
            .where(t.refresh_token.c.token_hash == _sha256(refresh_token))
        ).first()
        now_us = self._now_us()
        if row is None or row.revoked_us is not None or row.expires_us <= now_us:
            raise AuthError("the refresh token is not valid; log in again")
        if row.used_us is not None:
            self._revoke(db, row.session_id, now_us)
            raise AuthError("the refresh token was used before; this login is revoked")
        # Conditional, so of two requests racing with one token only one gets a new pair.
        spent = db.execute(
            update(t.refresh_token)
            .where(
                t.refresh_token.c.token_hash == _sha256(refresh_token),
                t.refresh_token.c.used_us.is_(None),
            )
            .values(used_us=now_us)
        )
        if spent.rowcount != 1:
            self._revoke(db, row.session_id, now_us)
            raise AuthError("the refresh token was used before; this login is revoked")
        return self._issue(db, Principal(row.user_id, row.session_id))

    def log_out(self, db: Connection, principal: Principal) -> None:
        self._revoke(db, principal.session_id, self._now_us())

    def _revoke(self, db: Connection, session_id: str, now_us: int) -> None:
        db.execute(
            update(t.auth_session)
            .where(t.auth_session.c.id == session_id, t.auth_session.c.revoked_us.is_(None))
            .values(revoked_us=now_us)
        )

    def authenticate(self, db: Connection, access_token: str) -> Principal:
        """The principal of a valid access token of a login that was not revoked."""
        try:
            claims = jwt.decode(
                access_token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["sub", "sid", "exp"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"the access token is not valid: {exc}") from exc
        if claims.get("typ") != "access":
            raise AuthError("not an access token")
        # Expiry is checked on the service's auth clock (pyjwt would use the host's).
        if not isinstance(claims["exp"], int) or claims["exp"] <= self._clock.timestamp():
            raise AuthError("the access token has expired; refresh it or log in again")
        revoked = db.execute(
            select(t.auth_session.c.revoked_us).where(
                t.auth_session.c.id == claims["sid"],
                t.auth_session.c.user_id == claims["sub"],
            )
        ).first()
        if revoked is None or revoked.revoked_us is not None:
            raise AuthError("this login has ended; log in again")
        return Principal(str(claims["sub"]), str(claims["sid"]))
