"""The scenes API over real sockets, on SQLite and PostgreSQL: scenes saved, checked (every
problem with its line), renamed, deleted, activated, used by automations; who may do what."""

from __future__ import annotations

from pathlib import Path

from smartev.cloud import audit
from tests.cloud.car_helpers import give_role, person, put_car
from tests.cloud.server import running_cloud
from tests.cloud.test_devices_api import LIGHT, Light, home, req

EVENING = f"""\
name: evening
description: dim and warm
entities:
  {LIGHT}: {{light.on: true, light.brightness: 20}}
"""
BAD = f"""\
name: bad
entities:
  {LIGHT}:
    light.brightness: 400
    light.colour: red
"""


def test_scenes_are_saved_checked_and_activated(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        light = Light()
        cloud.ctx.homes.attach_device(ada.household_id, light)

        r = req(cloud, ada, "POST", home(ada, "/scenes"), json={"source": BAD})
        assert r.status_code == 422, r.text
        by_line = {p["line"]: p["message"] for p in r.json()["problems"]}
        assert "0..100" in by_line[4]
        assert "light.colour" in by_line[5]

        r = req(cloud, ada, "POST", home(ada, "/scenes"), json={"source": EVENING})
        assert r.status_code == 201, r.text
        scene = r.json()
        assert scene["name"] == "evening"
        assert scene["problems"] == []
        r = req(cloud, ada, "POST", home(ada, "/scenes"), json={"source": EVENING})
        assert r.status_code == 409
        assert "already has a scene named 'evening'" in r.json()["detail"]

        r = req(cloud, ada, "POST", home(ada, f"/scenes/{scene['id']}/activate"))
        assert r.status_code == 200, r.text
        activation = r.json()
        assert activation["ok"] is True
        assert {s["result"] for s in activation["steps"]} == {"ok"}
        assert light.values() == {"light.on": True, "light.brightness": 20}

        # An automation may name the scene; the scene can still be renamed (a run of the
        # automation would then fail its step, naming the scene it misses).
        automation = (
            "alias: Evening at seven\ntriggers:\n  - {trigger: time, at: '19:00'}\n"
            "actions:\n  - scene: evening\n"
        )
        r = req(cloud, ada, "POST", home(ada, "/automations"), json={"source": automation})
        assert r.status_code == 201, r.text
        renamed = EVENING.replace("name: evening", "name: night")
        r = req(cloud, ada, "PUT", home(ada, f"/scenes/{scene['id']}"), json={"source": renamed})
        assert r.status_code == 200
        assert r.json()["name"] == "night"
        listed = req(cloud, ada, "GET", home(ada, "/scenes")).json()
        assert [s["name"] for s in listed] == ["night"]

        r = req(cloud, ada, "DELETE", home(ada, f"/scenes/{scene['id']}"))
        assert r.status_code == 204
        assert req(cloud, ada, "GET", home(ada, f"/scenes/{scene['id']}")).status_code == 404
        with cloud.ctx.db.connect() as db:
            actions = [e.action for e in audit.events_for_household(db, ada.household_id)]
        assert actions[:3] == ["scene.deleted", "scene.changed", "automation.created"]


def test_who_may_read_edit_and_activate_scenes(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        dan = person(cloud, "dan@example.org", "Dan")
        cam = person(cloud, "cam@example.org", "Cam")
        eve = person(cloud, "eve@example.org", "Eve")
        put_car(cloud, ada)
        give_role(cloud, ada, dan, "driver")
        give_role(cloud, ada, cam, "charging_manager")
        cloud.ctx.homes.attach_device(ada.household_id, Light())
        scene_id = req(cloud, ada, "POST", home(ada, "/scenes"), json={"source": EVENING}).json()[
            "id"
        ]
        one = home(ada, f"/scenes/{scene_id}")
        for member in (dan, cam):
            assert req(cloud, member, "GET", one).status_code == 200
            assert req(cloud, member, "PUT", one, json={"source": EVENING}).status_code == 403
            assert req(cloud, member, "DELETE", one).status_code == 403
        assert req(cloud, dan, "POST", one + "/activate").status_code == 200
        r = req(cloud, cam, "POST", one + "/activate")
        assert r.status_code == 403
        assert "charging_manager" in r.json()["detail"]
        for method, path in (("GET", one), ("POST", one + "/activate"), ("DELETE", one)):
            assert req(cloud, eve, method, path).status_code == 404
