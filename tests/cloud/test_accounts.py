"""The accounts API over a real socket, on SQLite and PostgreSQL: sign-up (with its own
household), login, refresh with rotation, reuse that revokes, logout, expiry and the login rate
limit."""

from __future__ import annotations

from typing import Any

from smartev.cloud.auth import ACCESS_TTL_S, LOGIN_WINDOW_S, REFRESH_TTL_S
from tests.cloud.server import PASSWORD, RunningCloud


def _log_in(cloud: RunningCloud, email: str, password: str = PASSWORD) -> dict[str, Any]:
    with cloud.client() as c:
        r = c.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    tokens: dict[str, Any] = r.json()
    return tokens


def _status_of_me(cloud: RunningCloud, access_token: str) -> int:
    with cloud.client(access_token) as c:
        return c.get("/api/v1/auth/me").status_code


def _refresh(cloud: RunningCloud, refresh_token: str) -> tuple[int, dict[str, str]]:
    with cloud.client() as c:
        r = c.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    body: dict[str, str] = r.json()
    return r.status_code, body


def test_sign_up_makes_an_account_with_its_own_household(cloud: RunningCloud) -> None:
    with cloud.client() as c:
        r = c.post(
            "/api/v1/auth/signup",
            json={"email": "Ada@Example.org", "password": PASSWORD, "display_name": " Ada "},
        )
        assert r.status_code == 201, r.text
        account = r.json()
        assert account == {"id": account["id"], "email": "ada@example.org", "display_name": "Ada"}

        again = c.post(
            "/api/v1/auth/signup",
            json={"email": "ADA@example.org", "password": PASSWORD, "display_name": "Other"},
        )
        assert again.status_code == 409
        assert "exists already" in again.json()["detail"]

    tokens = _log_in(cloud, "ada@example.org")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == ACCESS_TTL_S
    with cloud.client(tokens["access_token"]) as c:
        me = c.get("/api/v1/auth/me").json()
    assert me["id"] == account["id"]
    assert me["email"] == "ada@example.org"
    assert [(h["name"], h["role"]) for h in me["households"]] == [("Ada's home", "owner")]


def test_a_wrong_password_or_unknown_address_is_the_same_401(cloud: RunningCloud) -> None:
    cloud.sign_up("bo@example.org")
    with cloud.client() as c:
        wrong = c.post(
            "/api/v1/auth/login", json={"email": "bo@example.org", "password": "not it at all"}
        )
        unknown = c.post(
            "/api/v1/auth/login", json={"email": "nobody@example.org", "password": PASSWORD}
        )
        anonymous = c.get("/api/v1/auth/me")
        garbage = c.get("/api/v1/auth/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong e-mail or password"}
    assert anonymous.status_code == 401
    assert "Authorization: Bearer" in anonymous.json()["detail"]
    assert garbage.status_code == 401


BAD_SIGN_UPS: list[tuple[dict[str, object], str, str]] = [
    ({"email": "not-an-address", "password": PASSWORD, "display_name": "X"}, "email", "e-mail"),
    ({"email": "a@example.org", "password": "short", "display_name": "X"}, "password", "10"),
    (
        {"email": "a@example.org", "password": PASSWORD, "display_name": " "},
        "display_name",
        "visible",
    ),
    ({"email": "a@example.org", "password": PASSWORD, "display_name": 7}, "display_name", "string"),
    ({"email": ["a@example.org"], "password": PASSWORD, "display_name": "X"}, "email", "string"),
    ({"email": "a@example.org", "password": PASSWORD}, "display_name", "missing"),
    (
        {"email": "a@example.org", "password": PASSWORD, "display_name": "X", "admin": 1},
        "admin",
        "extra",
    ),
]


def test_bad_sign_ups_are_422_naming_the_field(cloud: RunningCloud) -> None:
    with cloud.client() as c:
        for body, field, words in BAD_SIGN_UPS:
            r = c.post("/api/v1/auth/signup", json=body)
            assert r.status_code == 422, (body, r.text)
            errors = r.json()["detail"]
            assert any(
                e["loc"][-1] == field and words in (e["msg"].lower() + e["type"]) for e in errors
            ), (body, errors)
        nothing_made = c.post(
            "/api/v1/auth/login", json={"email": "a@example.org", "password": PASSWORD}
        )
        assert nothing_made.status_code == 401


def test_invalid_json_is_422_saying_so(cloud: RunningCloud) -> None:
    with cloud.client() as c:
        r = c.post(
            "/api/v1/auth/login",
            content=b'{"email": "a@example.org", "password": ',
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 422
    assert "json" in str(r.json()["detail"]).lower()


def test_refresh_rotates_and_a_reused_token_ends_the_login(cloud: RunningCloud) -> None:
    cloud.sign_up("cy@example.org")
    first = _log_in(cloud, "cy@example.org")
    other_login = _log_in(cloud, "cy@example.org")

    code, second = _refresh(cloud, first["refresh_token"])
    assert code == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    assert _status_of_me(cloud, second["access_token"]) == 200

    # The spent token again: someone has a copy, so the whole login ends.
    code, refused = _refresh(cloud, first["refresh_token"])
    assert code == 401
    assert "used before" in refused["detail"]
    assert _status_of_me(cloud, second["access_token"]) == 401
    assert _refresh(cloud, second["refresh_token"])[0] == 401
    # Another login of the same person is not touched.
    assert _status_of_me(cloud, other_login["access_token"]) == 200
    assert _refresh(cloud, "never-issued")[0] == 401


def test_logout_ends_the_login_at_once(cloud: RunningCloud) -> None:
    cloud.sign_up("di@example.org")
    tokens = _log_in(cloud, "di@example.org")
    other_login = _log_in(cloud, "di@example.org")
    with cloud.client(tokens["access_token"]) as c:
        r = c.post("/api/v1/auth/logout")
        assert r.status_code == 204
        assert r.content == b""
        after = c.get("/api/v1/auth/me")
    assert after.status_code == 401
    assert "ended" in after.json()["detail"]
    assert _refresh(cloud, tokens["refresh_token"])[0] == 401
    assert _status_of_me(cloud, other_login["access_token"]) == 200


def test_tokens_expire_on_the_auth_clock(cloud: RunningCloud) -> None:
    cloud.sign_up("ed@example.org")
    tokens = _log_in(cloud, "ed@example.org")
    cloud.clock.advance(10 * ACCESS_TTL_S)  # the world's clock does not time tokens
    assert _status_of_me(cloud, tokens["access_token"]) == 200

    cloud.auth_clock.advance(ACCESS_TTL_S)
    with cloud.client(tokens["access_token"]) as c:
        expired = c.get("/api/v1/auth/me")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    code, fresh = _refresh(cloud, tokens["refresh_token"])
    assert code == 200
    assert _status_of_me(cloud, fresh["access_token"]) == 200

    cloud.auth_clock.advance(REFRESH_TTL_S)
    code, refused = _refresh(cloud, fresh["refresh_token"])
    assert code == 401
    assert "log in again" in refused["detail"]


def test_failed_logins_are_limited_per_address_until_the_window_passes(
    cloud: RunningCloud,
) -> None:
    cloud.sign_up("fa@example.org")
    with cloud.client() as c:
        for _ in range(5):
            r = c.post("/api/v1/auth/login", json={"email": "fa@example.org", "password": "x"})
            assert r.status_code == 401
        # Now even the right password waits: the next guess is not even checked.
        limited = c.post(
            "/api/v1/auth/login", json={"email": "fa@example.org", "password": PASSWORD}
        )
        assert limited.status_code == 429
        retry_after = int(limited.headers["Retry-After"])
        assert 0 < retry_after <= LOGIN_WINDOW_S
        assert f"{retry_after} s" in limited.json()["detail"]

        cloud.auth_clock.advance(retry_after - 2)
        early = c.post("/api/v1/auth/login", json={"email": "fa@example.org", "password": PASSWORD})
        assert early.status_code == 429
        cloud.auth_clock.advance(2)
        ok = c.post("/api/v1/auth/login", json={"email": "fa@example.org", "password": PASSWORD})
        assert ok.status_code == 200, ok.text


def test_failed_logins_are_limited_per_client_across_addresses(cloud: RunningCloud) -> None:
    cloud.sign_up("ga@example.org")
    with cloud.client() as c:
        for n in range(5):
            r = c.post(
                "/api/v1/auth/login", json={"email": f"guess{n}@example.org", "password": "x"}
            )
            assert r.status_code == 401
        limited = c.post(
            "/api/v1/auth/login", json={"email": "ga@example.org", "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0
