"""Households over a real socket, on SQLite and PostgreSQL: invites and joining, members and
leaving, car roles (driver, guest within its window, charging manager), the audit logs, and who
may see or do what (a stranger gets 404, a member trying an owner's action 403)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import insert, select

from smartev.cloud import schema as t
from smartev.cloud.access import CarRole, car_access
from smartev.cloud.deps import now_us
from tests.cloud.server import PASSWORD, START, RunningCloud

CAR = "VIN0000000000001"


@pytest.fixture
def people(cloud: RunningCloud) -> Iterator[dict[str, httpx2.Client]]:
    """Ada owns a household with a car; Bo and Cy have accounts (and homes) of their own."""
    clients = {
        name: cloud.client(cloud.sign_up(f"{name}@example.org", name.title()))
        for name in ("ada", "bo", "cy")
    }
    _add_car(cloud, _home(clients["ada"]), CAR)
    yield clients
    for client in clients.values():
        client.close()


def _log_in_again(cloud: RunningCloud, client: httpx2.Client, email: str) -> None:
    with cloud.client() as c:
        r = c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"


def _home(client: httpx2.Client) -> str:
    homes = client.get("/api/v1/households").json()
    household_id: str = homes[0]["id"]
    return household_id


def _user_id(client: httpx2.Client) -> str:
    user_id: str = client.get("/api/v1/auth/me").json()["id"]
    return user_id


def _add_car(cloud: RunningCloud, household_id: str, car_id: str, name: str = "Blue") -> None:
    # Cars join by pairing (the cars API); here the row is enough.
    with cloud.ctx.db.begin() as db:
        db.execute(insert(t.car).values(id=car_id, household_id=household_id, name=name))


def _invite(owner: httpx2.Client, household_id: str, **body: Any) -> dict[str, Any]:
    r = owner.post(f"/api/v1/households/{household_id}/invites", json=body)
    assert r.status_code == 201, r.text
    invite: dict[str, Any] = r.json()
    return invite


def _join(owner: httpx2.Client, household_id: str, member: httpx2.Client) -> str:
    code = _invite(owner, household_id)["code"]
    r = member.post("/api/v1/invites/accept", json={"code": code})
    assert r.status_code == 200, r.text
    return _user_id(member)


def _role_now(cloud: RunningCloud, user_id: str, car_id: str = CAR) -> CarRole | None:
    with cloud.ctx.db.connect() as db:
        access = car_access(db, user_id, car_id, now_us(cloud.ctx))
    return None if access is None else access.role


def _actions(client: httpx2.Client, url: str) -> list[str]:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()["events"]]


def test_an_invite_lets_someone_join_once(
    cloud: RunningCloud, people: dict[str, httpx2.Client]
) -> None:
    ada, bo, cy = people["ada"], people["bo"], people["cy"]
    home = _home(ada)
    invite = _invite(ada, home)
    assert invite["expires_at"] == "2026-06-04T08:00:00Z"  # 72 h by default
    assert invite["email"] is None
    assert len(invite["code"]) >= 22  # >= 128 random bits, base64
    with cloud.ctx.db.connect() as db:
        stored = db.execute(select(t.invite.c.code_hash)).scalars().all()
    assert invite["code"] not in stored  # only its hash

    pending = ada.get(f"/api/v1/households/{home}/invites").json()
    assert [i["id"] for i in pending] == [invite["id"]]
    assert "code" not in pending[0]

    joined = bo.post("/api/v1/invites/accept", json={"code": invite["code"]})
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"id": home, "name": "Ada's home", "role": "member"}
    assert [h["role"] for h in bo.get("/api/v1/auth/me").json()["households"]] == [
        "owner",
        "member",
    ]
    assert ada.get(f"/api/v1/households/{home}/invites").json() == []

    used = cy.post("/api/v1/invites/accept", json={"code": invite["code"]})
    assert used.status_code == 410
    assert "used already" in used.json()["detail"]
    again = bo.post("/api/v1/invites/accept", json={"code": _invite(ada, home)["code"]})
    assert again.status_code == 409

    # The owner sees every member's address; a member sees only their own.
    by_owner = {
        m["display_name"]: m for m in ada.get(f"/api/v1/households/{home}").json()["members"]
    }
    by_member = {m["display_name"]: m for m in bo.get(f"/api/v1/households/{home}/members").json()}
    assert [by_owner["Ada"]["role"], by_owner["Bo"]["role"]] == ["owner", "member"]
    assert by_owner["Bo"]["email"] == "bo@example.org"
    assert by_member["Ada"]["email"] is None
    assert by_member["Bo"]["email"] == "bo@example.org"
    assert by_owner["Bo"]["joined_at"] == "2026-06-01T08:00:00Z"

    actions = _actions(ada, f"/api/v1/households/{home}/audit")
    assert actions == ["invite.created", "invite.accepted", "invite.created", "household.created"]


def test_an_invite_that_cannot_be_used_says_why(
    cloud: RunningCloud, people: dict[str, httpx2.Client]
) -> None:
    ada, bo, cy = people["ada"], people["bo"], people["cy"]
    home = _home(ada)

    short = _invite(ada, home, expires_in_h=1)
    cloud.clock.advance(3 * 3600)  # the world's clock does not time invites
    revoked = _invite(ada, home)
    assert ada.delete(f"/api/v1/households/{home}/invites/{revoked['id']}").status_code == 204
    for_cy = _invite(ada, home, email="CY@example.org")
    assert for_cy["email"] == "cy@example.org"
    cloud.auth_clock.advance(3600)  # the short invite expires, and so do the access tokens
    for name, client in people.items():
        _log_in_again(cloud, client, f"{name}@example.org")

    cases = [
        (bo, short["code"], 410, "expired"),
        (bo, revoked["code"], 410, "revoked"),
        (bo, for_cy["code"], 403, "another e-mail address"),
        (bo, "no-such-code", 404, "no invite"),
    ]
    for who, code, status, words in cases:
        r = who.post("/api/v1/invites/accept", json={"code": code})
        assert r.status_code == status, r.text
        assert words in r.json()["detail"]
    assert cy.post("/api/v1/invites/accept", json={"code": for_cy["code"]}).status_code == 200

    assert [i["id"] for i in ada.get(f"/api/v1/households/{home}/invites").json()] == []
    again = ada.delete(f"/api/v1/households/{home}/invites/{revoked['id']}")
    assert again.status_code == 409
    accepted = ada.delete(f"/api/v1/households/{home}/invites/{for_cy['id']}")
    assert accepted.status_code == 409
    elsewhere = bo.delete(f"/api/v1/households/{_home(bo)}/invites/{short['id']}")
    assert elsewhere.status_code == 404

    bad = [
        ({"expires_in_h": 0}, "expires_in_h"),
        ({"expires_in_h": 721}, "expires_in_h"),
        ({"expires_in_h": "soon"}, "expires_in_h"),
        ({"email": "nobody"}, "email"),
        ({"code": "x"}, "code"),
    ]
    for body, field in bad:
        r = ada.post(f"/api/v1/households/{home}/invites", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["loc"][-1] for e in r.json()["detail"]]


def test_a_member_may_not_act_as_owner_and_a_stranger_sees_nothing(
    people: dict[str, httpx2.Client],
) -> None:
    ada, bo, cy = people["ada"], people["bo"], people["cy"]
    home = _home(ada)
    bo_id = _join(ada, home, bo)
    cy_id = _user_id(cy)
    grant = {"role": "driver"}

    owner_only = [
        ("POST", f"/api/v1/households/{home}/invites", {}, "invite people"),
        ("GET", f"/api/v1/households/{home}/invites", None, "invite people"),
        ("PATCH", f"/api/v1/households/{home}", {"name": "Mine"}, "rename it"),
        ("GET", f"/api/v1/households/{home}/audit", None, "read its audit log"),
        ("PUT", f"/api/v1/households/{home}/cars/{CAR}/grants/{bo_id}", grant, "share its cars"),
        ("GET", f"/api/v1/households/{home}/cars/{CAR}/grants", None, "share its cars"),
        (
            "DELETE",
            f"/api/v1/households/{home}/members/{_user_id(ada)}",
            None,
            "remove other members",
        ),
    ]
    for method, url, body, rule in owner_only:
        r = bo.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.text)
        assert r.json() == {"detail": f"only the owner of household {home} may {rule}"}
        stranger = cy.request(method, url, json=body)
        assert stranger.status_code == 404, (method, url, stranger.text)
        assert stranger.json() == {"detail": f"no household {home} for you"}

    # A member sees the household but not the car they have no role for.
    expected = {
        f"/api/v1/households/{home}": 200,
        f"/api/v1/households/{home}/members": 200,
        f"/api/v1/households/{home}/geofences": 200,
        f"/api/v1/cars/{CAR}/audit": 404,
    }
    for url, status in expected.items():
        assert bo.get(url).status_code == status, url
        assert cy.get(url).status_code == 404, url
    assert cy.delete(f"/api/v1/households/{home}/members/{cy_id}").status_code == 404
    unknown = cy.get("/api/v1/households/hh_doesnotexist")
    assert unknown.status_code == 404
    assert [h["id"] for h in cy.get("/api/v1/households").json()] == [_home(cy)]


def test_members_leave_or_are_removed_and_lose_their_car_roles(
    cloud: RunningCloud, people: dict[str, httpx2.Client]
) -> None:
    ada, bo, cy = people["ada"], people["bo"], people["cy"]
    home = _home(ada)
    ada_id = _user_id(ada)
    bo_id = _join(ada, home, bo)
    cy_id = _join(ada, home, cy)
    for user_id in (bo_id, cy_id):
        r = ada.put(
            f"/api/v1/households/{home}/cars/{CAR}/grants/{user_id}", json={"role": "driver"}
        )
        assert r.status_code == 200, r.text
    assert _role_now(cloud, bo_id) is CarRole.DRIVER

    owner_leaves = ada.delete(f"/api/v1/households/{home}/members/{ada_id}")
    assert owner_leaves.status_code == 409
    assert "owner cannot leave" in owner_leaves.json()["detail"]

    assert bo.delete(f"/api/v1/households/{home}/members/{bo_id}").status_code == 204
    assert ada.delete(f"/api/v1/households/{home}/members/{cy_id}").status_code == 204
    assert ada.delete(f"/api/v1/households/{home}/members/{cy_id}").status_code == 404
    for user_id in (bo_id, cy_id):
        assert _role_now(cloud, user_id) is None
    assert bo.get(f"/api/v1/households/{home}").status_code == 404
    assert ada.get(f"/api/v1/households/{home}/cars/{CAR}/grants").json() == []
    members = ada.get(f"/api/v1/households/{home}/members").json()
    assert [m["user_id"] for m in members] == [ada_id]

    car_log = ada.get(f"/api/v1/cars/{CAR}/audit").json()["events"]
    revoked = [e for e in car_log if e["action"] == "grant.revoked"]
    assert {e["detail"]["user_id"] for e in revoked} == {bo_id, cy_id}
    assert all(e["detail"]["reason"] == "left the household" for e in revoked)
    household_log = _actions(ada, f"/api/v1/households/{home}/audit")
    assert household_log[:2] == ["member.removed", "grant.revoked"]
    assert "member.left" in household_log


def test_car_roles_follow_their_grant_and_a_guest_s_window(
    cloud: RunningCloud, people: dict[str, httpx2.Client]
) -> None:
    ada, bo = people["ada"], people["bo"]
    home = _home(ada)
    bo_id = _join(ada, home, bo)
    grants = f"/api/v1/households/{home}/cars/{CAR}/grants"
    assert _role_now(cloud, bo_id) is None
    assert bo.get(f"/api/v1/cars/{CAR}/audit").status_code == 404

    r = ada.put(f"{grants}/{bo_id}", json={"role": "charging_manager"})
    assert r.status_code == 200, r.text
    assert _role_now(cloud, bo_id) is CarRole.CHARGING_MANAGER
    denied = bo.get(f"/api/v1/cars/{CAR}/audit")
    assert denied.status_code == 403
    assert "charging_manager" in denied.json()["detail"]

    window = {
        "role": "guest",
        "valid_from": "2026-06-01T11:00:00+02:00",  # 09:00 UTC
        "valid_until": "2026-06-01T11:00:00Z",
    }
    r = ada.put(f"{grants}/{bo_id}", json=window)
    assert r.status_code == 200, r.text
    guest = r.json()
    assert (guest["role"], guest["valid_from"], guest["valid_until"]) == (
        "guest",
        "2026-06-01T09:00:00Z",
        "2026-06-01T11:00:00Z",
    )
    assert ada.get(grants).json() == [guest]
    detail = ada.get(f"/api/v1/households/{home}").json()
    assert detail["cars"] == [{"id": CAR, "name": "Blue"}]
    roles = {m["user_id"]: m["cars"] for m in detail["members"]}
    assert roles[bo_id] == [
        {
            "car_id": CAR,
            "role": "guest",
            "valid_from": guest["valid_from"],
            "valid_until": guest["valid_until"],
        }
    ]
    assert roles[_user_id(ada)][0]["role"] == "owner"

    # Before, inside and after the window, on the world's clock.
    assert _role_now(cloud, bo_id) is None
    cloud.clock.advance(timedelta(hours=1).total_seconds())
    assert _role_now(cloud, bo_id) is CarRole.GUEST
    assert bo.get(f"/api/v1/cars/{CAR}/audit").status_code == 403
    cloud.clock.advance(timedelta(hours=2).total_seconds() - 1)
    assert _role_now(cloud, bo_id) is CarRole.GUEST
    cloud.clock.advance(1)
    assert _role_now(cloud, bo_id) is None
    assert bo.get(f"/api/v1/cars/{CAR}/audit").status_code == 404

    assert ada.delete(f"{grants}/{bo_id}").status_code == 204
    assert ada.delete(f"{grants}/{bo_id}").status_code == 404
    assert ada.get(grants).json() == []

    log = ada.get(f"/api/v1/cars/{CAR}/audit").json()
    assert [e["action"] for e in log["events"]] == ["grant.revoked", "grant.set", "grant.set"]
    newest = log["events"][0]
    assert newest["actor_id"] == _user_id(ada)
    assert newest["at"] == (START + timedelta(hours=3)).isoformat().replace("+00:00", "Z")
    page = ada.get(f"/api/v1/cars/{CAR}/audit", params={"limit": 2}).json()
    assert len(page["events"]) == 2
    rest = ada.get(f"/api/v1/cars/{CAR}/audit", params={"before_id": page["next_before_id"]}).json()
    assert [e["action"] for e in rest["events"]] == ["grant.set"]
    assert rest["next_before_id"] is None


def test_a_role_that_does_not_fit_is_refused_naming_why(
    cloud: RunningCloud, people: dict[str, httpx2.Client]
) -> None:
    ada, bo, cy = people["ada"], people["bo"], people["cy"]
    home = _home(ada)
    bo_id = _join(ada, home, bo)
    cy_id = _user_id(cy)
    _add_car(cloud, _home(cy), "VIN_OF_CY")
    grants = f"/api/v1/households/{home}/cars/{CAR}/grants"

    not_member = ada.put(f"{grants}/{cy_id}", json={"role": "driver"})
    assert not_member.status_code == 404
    assert "not a member" in not_member.json()["detail"]
    other_car = ada.put(
        f"/api/v1/households/{home}/cars/VIN_OF_CY/grants/{bo_id}", json={"role": "driver"}
    )
    assert other_car.status_code == 404
    assert other_car.json()["detail"] == f"no car VIN_OF_CY in household {home}"
    to_owner = ada.put(f"{grants}/{_user_id(ada)}", json={"role": "driver"})
    assert to_owner.status_code == 409

    bad = [
        ({"role": "guest"}, "valid_until", "required"),
        ({"role": "owner"}, "role", "driver"),
        ({"role": "pilot"}, "role", "driver"),
        ({"role": 5}, "role", ""),
        ({}, "role", "discriminator"),
        (
            {
                "role": "driver",
                "valid_from": "2026-06-02T00:00:00Z",
                "valid_until": "2026-06-01T00:00:00Z",
            },
            "valid_until",
            "later than valid_from",
        ),
        ({"role": "guest", "valid_until": "2026-06-02T00:00:00"}, "valid_until", "timezone"),
        ({"role": "guest", "valid_until": "1900-01-01T00:00:00Z"}, "valid_until", "2000..2199"),
        ({"role": "guest", "valid_until": "tomorrow"}, "valid_until", "datetime"),
        ({"role": "driver", "colour": "red"}, "colour", "not permitted"),
    ]
    for body, field, words in bad:
        r = ada.put(f"{grants}/{bo_id}", json=body)
        assert r.status_code == 422, (body, r.text)
        errors = r.json()["detail"]
        named = [e for e in errors if field in e["loc"] or f"'{field}'" in e["msg"]]
        assert any(words in e["msg"] for e in named), (body, errors)
    assert ada.get(grants).json() == []


def test_the_owner_renames_the_household(people: dict[str, httpx2.Client]) -> None:
    ada, bo = people["ada"], people["bo"]
    home = _home(ada)
    _join(ada, home, bo)
    r = ada.patch(f"/api/v1/households/{home}", json={"name": "  The Lovelaces  "})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": home, "name": "The Lovelaces", "role": "owner"}
    assert bo.get(f"/api/v1/households/{home}").json()["name"] == "The Lovelaces"
    for body in ({"name": " "}, {"name": "x" * 101}, {"name": None}, {}):
        refused = ada.patch(f"/api/v1/households/{home}", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert "name" in [e["loc"][-1] for e in refused.json()["detail"]]
    log = ada.get(f"/api/v1/households/{home}/audit").json()["events"]
    assert log[0]["action"] == "household.renamed"
    assert log[0]["detail"] == {"from": "Ada's home", "to": "The Lovelaces"}
