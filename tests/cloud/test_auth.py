"""Accounts and tokens without HTTP: the login limiter's window, what an access token must be
(its type, its signature, its secret, its expiry), and the refresh token's single use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher

from smartev.cloud.auth import (
    ACCESS_TTL_S,
    LOGIN_FAILURES_ALLOWED,
    LOGIN_WINDOW_S,
    AccountExistsError,
    Accounts,
    AuthError,
    LoginLimiter,
    TooManyAttemptsError,
    check_password_rules,
    load_or_create_secret,
    normalize_email,
)
from smartev.cloud.db import Database
from smartev.core.clock import SimClock
from smartev.core.errors import InvalidInputError

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SECRET = "unit-secret-" + "s" * 40
PASSWORD = "correct horse battery"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/auth.db")
    yield database
    database.close()


@pytest.fixture
def accounts(clock: SimClock) -> Accounts:
    return Accounts(SECRET, clock, hasher=FAST_HASHER)


def _signed_up_and_logged_in(db: Database, accounts: Accounts) -> tuple[str, str]:
    with db.begin() as conn:
        accounts.sign_up(conn, "ada@example.org", PASSWORD, "Ada")
        pair = accounts.log_in(conn, "ada@example.org", PASSWORD, "10.0.0.1")
    return pair.access_token, pair.refresh_token


# ── the limiter ──────────────────────────────────────────────────────────────────────────────


def test_the_limiter_blocks_after_the_allowed_failures_until_the_first_leaves_the_window(
    clock: SimClock,
) -> None:
    limiter = LoginLimiter(clock)
    for _ in range(LOGIN_FAILURES_ALLOWED):
        limiter.check("email:a")
        limiter.failed("email:a")
        clock.advance(10)
    with pytest.raises(TooManyAttemptsError) as caught:
        limiter.check("email:a")
    # The oldest failure was 50 s ago: it leaves the window in LOGIN_WINDOW_S - 50 s.
    assert caught.value.retry_after_s == LOGIN_WINDOW_S - 50
    limiter.check("email:b")  # other keys are not touched

    clock.advance(LOGIN_WINDOW_S - 51)
    with pytest.raises(TooManyAttemptsError) as caught:
        limiter.check("email:a")
    assert caught.value.retry_after_s == 1
    clock.advance(1)
    limiter.check("email:a")


def test_the_limiter_checks_every_key_and_success_clears_only_its_own(clock: SimClock) -> None:
    limiter = LoginLimiter(clock)
    for n in range(LOGIN_FAILURES_ALLOWED):
        limiter.failed(f"email:{n}", "client:1.2.3.4")
    with pytest.raises(TooManyAttemptsError):
        limiter.check("email:new", "client:1.2.3.4")
    limiter.succeeded("email:0")
    with pytest.raises(TooManyAttemptsError):
        limiter.check("email:0", "client:1.2.3.4")
    limiter.check("email:0", "client:5.6.7.8")


def test_the_limiter_forgets_everything_rather_than_grow_without_bound(clock: SimClock) -> None:
    limiter = LoginLimiter(clock, max_keys=3)
    for _ in range(LOGIN_FAILURES_ALLOWED):
        limiter.failed("email:a")
    limiter.failed("email:b")
    limiter.failed("email:c")
    limiter.failed("email:d")  # the table was full: cleared first
    limiter.check("email:a")


# ── input rules ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "bad", ["", "plain", "a@b", "a b@example.org", "a@@example.org", "a@example.c", "@x.org"]
)
def test_addresses_that_are_not_e_mail_addresses_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="not an e-mail address"):
        normalize_email(bad)


def test_addresses_are_kept_trimmed_and_lower_case() -> None:
    assert normalize_email("  Ada.L@Example.ORG ") == "ada.l@example.org"


def test_password_length_rules_name_the_range() -> None:
    check_password_rules("x" * 10)
    for bad in ("x" * 9, "x" * 201):
        with pytest.raises(InvalidInputError, match=r"10\.\.200"):
            check_password_rules(bad)


def test_a_short_signing_secret_is_refused(clock: SimClock) -> None:
    with pytest.raises(InvalidInputError, match="at least 32"):
        Accounts("too-short", clock)


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path / "data")
    assert len(secret) >= 32
    assert load_or_create_secret(tmp_path / "data") == secret
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o077 == 0


# ── access tokens ────────────────────────────────────────────────────────────────────────────


def _claims(access: str) -> dict[str, Any]:
    # The tokens are timed by the simulated clock, not the host's: pyjwt's own checks are off.
    claims: dict[str, Any] = jwt.decode(
        access, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    return claims


def test_a_valid_access_token_names_its_user_and_login(db: Database, accounts: Accounts) -> None:
    access, _ = _signed_up_and_logged_in(db, accounts)
    with db.connect() as conn:
        principal = accounts.authenticate(conn, access)
    claims = _claims(access)
    assert (principal.user_id, principal.session_id) == (claims["sub"], claims["sid"])
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == ACCESS_TTL_S


def test_a_token_of_another_type_is_refused(db: Database, accounts: Accounts) -> None:
    access, _ = _signed_up_and_logged_in(db, accounts)
    for typ in ("refresh", None):
        claims = {k: v for k, v in _claims(access).items() if k != "typ"}
        if typ is not None:
            claims["typ"] = typ
        forged = jwt.encode(claims, SECRET, algorithm="HS256")
        with db.connect() as conn, pytest.raises(AuthError, match="not an access token"):
            accounts.authenticate(conn, forged)


def test_a_tampered_token_is_refused(db: Database, accounts: Accounts) -> None:
    access, _ = _signed_up_and_logged_in(db, accounts)
    header, payload, signature = access.split(".")
    other = jwt.encode({**_claims(access), "sub": "usr_someone_else"}, "x" * 40, algorithm="HS256")
    swapped_payload = f"{header}.{other.split('.')[1]}.{signature}"
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (swapped_payload, f"{header}.{payload}.{flipped}", f"{header}.{payload}.", "x.y"):
        with db.connect() as conn, pytest.raises(AuthError, match="not valid"):
            accounts.authenticate(conn, bad)


def test_a_token_signed_with_another_secret_or_no_algorithm_is_refused(
    db: Database, accounts: Accounts, clock: SimClock
) -> None:
    access, _ = _signed_up_and_logged_in(db, accounts)
    elsewhere = Accounts("another-secret-" + "y" * 40, clock, hasher=FAST_HASHER)
    unsigned = jwt.encode(_claims(access), "", algorithm="none")
    with db.connect() as conn:
        for accounts_, token in ((elsewhere, access), (accounts, unsigned)):
            with pytest.raises(AuthError, match="not valid"):
                accounts_.authenticate(conn, token)


def test_an_access_token_expires_on_the_auth_clock(
    db: Database, accounts: Accounts, clock: SimClock
) -> None:
    access, _ = _signed_up_and_logged_in(db, accounts)
    clock.advance(ACCESS_TTL_S - 1)
    with db.connect() as conn:
        accounts.authenticate(conn, access)
    clock.advance(1)
    with db.connect() as conn, pytest.raises(AuthError, match="expired"):
        accounts.authenticate(conn, access)


# ── sign-up, refresh, logout ─────────────────────────────────────────────────────────────────


def test_a_second_account_for_an_address_is_refused(db: Database, accounts: Accounts) -> None:
    _signed_up_and_logged_in(db, accounts)
    with db.begin() as conn, pytest.raises(AccountExistsError, match="exists already"):
        accounts.sign_up(conn, "ADA@example.org", PASSWORD, "Ada again")


def test_a_refresh_token_works_once_and_its_reuse_ends_the_login(
    db: Database, accounts: Accounts
) -> None:
    _, refresh = _signed_up_and_logged_in(db, accounts)
    with db.begin() as conn:
        pair = accounts.refresh(conn, refresh)
    assert pair.refresh_token != refresh
    # pytest.raises inside the transaction: the caller catches, so the revocation commits.
    with db.begin() as conn, pytest.raises(AuthError, match="used before"):
        accounts.refresh(conn, refresh)
    with db.begin() as conn, pytest.raises(AuthError, match="not valid"):
        accounts.refresh(conn, pair.refresh_token)
    with db.connect() as conn, pytest.raises(AuthError, match="ended"):
        accounts.authenticate(conn, pair.access_token)


def test_logging_out_ends_the_login_s_access_tokens(db: Database, accounts: Accounts) -> None:
    access, refresh = _signed_up_and_logged_in(db, accounts)
    with db.connect() as conn:
        principal = accounts.authenticate(conn, access)
    with db.begin() as conn:
        accounts.log_out(conn, principal)
    with db.connect() as conn, pytest.raises(AuthError, match="ended"):
        accounts.authenticate(conn, access)
    with db.begin() as conn, pytest.raises(AuthError, match="log in again"):
        accounts.refresh(conn, refresh)
