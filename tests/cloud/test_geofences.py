"""Geofences over a real socket, on SQLite and PostgreSQL: the owner adds, changes and deletes
them, members see them, strangers do not, and input out of range is refused naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.cloud.server import RunningCloud

HOME = {"name": "Home", "lat": 52.52, "lon": 13.405, "radius_m": 150.0, "price_per_kwh": 0.32}


@pytest.fixture
def people(cloud: RunningCloud) -> Iterator[dict[str, httpx2.Client]]:
    """Ada owns a household Bo is a member of; Cy is a stranger to it."""
    clients = {
        name: cloud.client(cloud.sign_up(f"{name}@example.org", name.title()))
        for name in ("ada", "bo", "cy")
    }
    home = _home(clients["ada"])
    code = clients["ada"].post(f"/api/v1/households/{home}/invites", json={}).json()["code"]
    assert clients["bo"].post("/api/v1/invites/accept", json={"code": code}).status_code == 200
    yield clients
    for client in clients.values():
        client.close()


def _home(client: httpx2.Client) -> str:
    household_id: str = client.get("/api/v1/households").json()[0]["id"]
    return household_id


def _fences(home: str) -> str:
    return f"/api/v1/households/{home}/geofences"


def _create(client: httpx2.Client, home: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(_fences(home), json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_the_owner_edits_geofences_and_members_see_them(
    people: dict[str, httpx2.Client],
) -> None:
    ada, bo, cy = people["ada"], people["bo"], people["cy"]
    home = _home(ada)
    fence = _create(ada, home, HOME)
    assert fence == {
        **HOME,
        "id": fence["id"],
        "household_id": home,
        "price_per_minute": 0.0,
        "session_fee": 0.0,
        "currency": "EUR",
    }
    work = _create(
        ada,
        home,
        {"name": "Work", "lat": -33.9, "lon": 151.2, "radius_m": 100000, "currency": "AUD"},
    )
    assert [f["name"] for f in bo.get(_fences(home)).json()] == ["Home", "Work"]

    changed = ada.patch(
        f"{_fences(home)}/{fence['id']}", json={"price_per_kwh": 0.29, "session_fee": None}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**fence, "price_per_kwh": 0.29}
    assert ada.delete(f"{_fences(home)}/{work['id']}").status_code == 204
    assert ada.delete(f"{_fences(home)}/{work['id']}").status_code == 404
    assert bo.get(_fences(home)).json() == [changed.json()]

    url = f"{_fences(home)}/{fence['id']}"
    rule = f"only the owner of household {home} may edit its geofences"
    for method, target, body in (
        ("POST", _fences(home), HOME),
        ("PATCH", url, {"name": "Mine"}),
        ("DELETE", url, None),
    ):
        member = bo.request(method, target, json=body)
        assert member.status_code == 403, member.text
        assert member.json() == {"detail": rule}
        stranger = cy.request(method, target, json=body)
        assert stranger.status_code == 404
        assert stranger.json() == {"detail": f"no household {home} for you"}
    assert cy.get(_fences(home)).status_code == 404
    # Another household's fence is not reachable through one's own household either.
    assert cy.delete(f"{_fences(_home(cy))}/{fence['id']}").status_code == 404

    log = ada.get(f"/api/v1/households/{home}/audit").json()["events"]
    assert [e["action"] for e in log[:4]] == [
        "geofence.deleted",
        "geofence.updated",
        "geofence.created",
        "geofence.created",
    ]
    assert log[0]["detail"] == {"geofence_id": work["id"], "name": "Work"}


BAD_FENCES: list[tuple[dict[str, Any], str]] = [
    ({**HOME, "radius_m": 0}, "radius_m"),
    ({**HOME, "radius_m": 1e9}, "radius_m"),
    ({**HOME, "radius_m": "wide"}, "radius_m"),
    ({**HOME, "lat": 91}, "lat"),
    ({**HOME, "lon": -180.5}, "lon"),
    ({**HOME, "price_per_kwh": -0.1}, "price_per_kwh"),
    ({**HOME, "price_per_minute": 1e6}, "price_per_minute"),
    ({**HOME, "session_fee": True}, "session_fee"),
    ({**HOME, "currency": "eur"}, "currency"),
    ({**HOME, "currency": "EURO"}, "currency"),
    ({**HOME, "name": ""}, "name"),
    ({**HOME, "name": "   "}, "name"),
    ({k: v for k, v in HOME.items() if k != "lat"}, "lat"),
    ({**HOME, "colour": "blue"}, "colour"),
]


def test_geofences_out_of_range_are_refused_naming_the_field(
    people: dict[str, httpx2.Client],
) -> None:
    ada = people["ada"]
    home = _home(ada)
    for body, field in BAD_FENCES:
        r = ada.post(_fences(home), json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["loc"][-1] for e in r.json()["detail"]], (body, r.text)
    fence = _create(ada, home, HOME)
    bad_changes: list[tuple[dict[str, Any], str]] = [
        ({"radius_m": -1}, "radius_m"),
        ({"currency": "€"}, "currency"),
        ({"name": "   "}, "name"),
    ]
    for body, field in bad_changes:
        r = ada.patch(f"{_fences(home)}/{fence['id']}", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["loc"][-1] for e in r.json()["detail"]]
    not_json = ada.post(
        _fences(home), content=b"{name: Home}", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert "JSON" in str(not_json.json()["detail"])
    assert ada.get(_fences(home)).json() == [fence]
