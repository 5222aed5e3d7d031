"""The automations API over real sockets, on SQLite and PostgreSQL: saving, changing and deleting
automations (checked against the household, refused with every problem and its line), runs by
hand and by a device change with their traces, notifications to people, who may do what, the
time zone, and automations surviving a restart of the cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartev.cloud import audit
from smartev.cloud import automation_store as store
from smartev.cloud.db import Database
from smartev.ecosystem.trace import Outcome, Trace, TriggerInfo
from tests.cloud.car_helpers import Person, eventually, give_role, person, put_car
from tests.cloud.server import RunningCloud, running_cloud
from tests.cloud.test_devices_api import LIGHT, Light, home, req


def notify_source(who: Person, alias: str = "Hall light on") -> str:
    return f"""\
alias: {alias}
triggers:
  - trigger: state
    entity_id: {LIGHT}/light.on
    to: true
actions:
  - device: {LIGHT}
    set: {{light.brightness: 30}}
  - notify: {who.user_id}
    title: Hall
    message: The hall light is on
"""


BROKEN = f"""\
alias: Broken
triggers:
  - trigger: state
    entity_id: light:cellar/light.on
actions:
  - device: {LIGHT}
    action: light.dance
"""


def test_automations_are_saved_checked_changed_and_deleted(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        cloud.ctx.homes.attach_device(ada.household_id, Light())

        r = req(cloud, ada, "POST", home(ada, "/automations"), json={"source": BROKEN})
        assert r.status_code == 422, r.text
        body = r.json()
        by_line = {p["line"]: p for p in body["problems"]}
        assert "light:cellar" in by_line[4]["message"]
        assert by_line[4]["path"].startswith("triggers/0")
        assert "light.dance" in by_line[7]["message"]
        assert "light.turn_on" in by_line[7]["message"]  # what it has instead
        assert all(d["loc"] == ["body", "source"] for d in body["detail"])
        assert "line 4" in body["detail"][0]["msg"]
        r = req(cloud, ada, "POST", home(ada, "/automations"), json={"source": "alias: [oops"})
        assert r.status_code == 422
        assert r.json()["problems"][0]["line"] >= 1

        r = req(cloud, ada, "POST", home(ada, "/automations/validate"), json={"source": BROKEN})
        assert r.status_code == 200
        assert r.json()["ok"] is False
        assert {p["line"] for p in r.json()["problems"]} >= {4, 7}
        good = notify_source(ada)
        r = req(cloud, ada, "POST", home(ada, "/automations/validate"), json={"source": good})
        assert r.json() == {"ok": True, "alias": "Hall light on", "problems": []}
        assert req(cloud, ada, "GET", home(ada, "/automations")).json() == []  # nothing saved

        r = req(cloud, ada, "POST", home(ada, "/automations"), json={"source": good})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["alias"] == "Hall light on"
        assert created["enabled"] is True
        assert created["problems"] == []
        assert created["created_by"] == ada.user_id
        automation_id = created["id"]
        listed = req(cloud, ada, "GET", home(ada, "/automations")).json()
        assert [a["id"] for a in listed] == [automation_id]

        changed = notify_source(ada, "Hall light, renamed")
        r = req(
            cloud,
            ada,
            "PUT",
            home(ada, f"/automations/{automation_id}"),
            json={"source": changed, "enabled": False},
        )
        assert r.status_code == 200, r.text
        assert r.json()["alias"] == "Hall light, renamed"
        assert r.json()["enabled"] is False
        r = req(
            cloud, ada, "PUT", home(ada, f"/automations/{automation_id}"), json={"source": BROKEN}
        )
        assert r.status_code == 422
        got = req(cloud, ada, "GET", home(ada, f"/automations/{automation_id}")).json()
        assert got["source"] == changed  # a refused change keeps what was there

        r = req(cloud, ada, "DELETE", home(ada, f"/automations/{automation_id}"))
        assert r.status_code == 204
        r = req(cloud, ada, "GET", home(ada, f"/automations/{automation_id}"))
        assert r.status_code == 404
        with cloud.ctx.db.connect() as db:
            actions = [e.action for e in audit.events_for_household(db, ada.household_id)]
        assert actions[:3] == ["automation.deleted", "automation.changed", "automation.created"]


async def test_runs_by_hand_and_by_a_device_change_leave_traces_and_notify(
    db_url: str, tmp_path: Path
) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        bob = person(cloud, "bob@example.org", "Bob")
        light = Light()
        cloud.ctx.homes.attach_device(ada.household_id, light)
        r = req(cloud, ada, "POST", home(ada, "/automations"), json={"source": notify_source(ada)})
        automation_id = r.json()["id"]

        # By hand: the conditions are skipped or not, the actions run; the trace answers.
        r = req(cloud, ada, "POST", home(ada, f"/automations/{automation_id}/run"))
        assert r.status_code == 200, r.text
        trace = r.json()
        assert trace["outcome"] == "finished"
        assert trace["trigger"]["kind"] == "manual"
        assert [(s["path"], s["result"]) for s in trace["actions"]] == [
            ("actions/0", "ok"),
            ("actions/1", "ok"),
        ]
        assert light.values()["light.brightness"] == 30
        runs = req(cloud, ada, "GET", home(ada, f"/automations/{automation_id}/traces")).json()
        assert [t["run_id"] for t in runs] == [trace["run_id"]]
        one = req(
            cloud, ada, "GET", home(ada, f"/automations/{automation_id}/traces/{trace['run_id']}")
        ).json()
        assert one == trace

        # By a device change: turning the light on fires the state trigger.
        r = req(cloud, ada, "POST", home(ada, f"/devices/{LIGHT}/actions/light.turn_on"), json={})
        assert r.status_code == 200

        def two_runs() -> bool:
            return len(traces(cloud, ada, automation_id)) == 2

        await eventually(two_runs)
        # (Both started at the same time of the test's stopped clock: found by their trigger.)
        (latest,) = [t for t in traces(cloud, ada, automation_id) if t["run_id"] != trace["run_id"]]
        assert latest["outcome"] == "finished"
        assert latest["trigger"] == "light:hall/light.on changed from false to true"

        # The notifications: Ada's own, two of them; Bob sees none of them.
        def notified() -> list[dict[str, Any]]:
            with cloud.client(ada.token) as c:
                return c.get("/api/v1/notifications").json()  # type: ignore[no-any-return]

        await eventually(lambda: len(notified()) == 2)
        first = notified()[0]
        assert first["title"] == "Hall"
        assert first["message"] == "The hall light is on"
        assert first["household_id"] == ada.household_id
        assert first["read_at"] is None
        assert req(cloud, bob, "GET", "/api/v1/notifications").json() == []
        r = req(cloud, bob, "POST", f"/api/v1/notifications/{first['id']}/read")
        assert r.status_code == 404
        r = req(cloud, ada, "POST", f"/api/v1/notifications/{first['id']}/read")
        assert r.status_code == 200
        assert r.json()["read_at"] == "2026-06-01T08:00:00Z"
        unread = req(cloud, ada, "GET", "/api/v1/notifications?unread=true").json()
        assert [n["id"] for n in unread] == [notified()[1]["id"]]


def traces(cloud: RunningCloud, who: Person, automation_id: str) -> list[dict[str, Any]]:
    with cloud.client(who.token) as c:
        out: list[dict[str, Any]] = c.get(home(who, f"/automations/{automation_id}/traces")).json()
    return out


def test_who_may_read_edit_and_run(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        dan = person(cloud, "dan@example.org", "Dan")
        gus = person(cloud, "gus@example.org", "Gus")
        eve = person(cloud, "eve@example.org", "Eve")
        put_car(cloud, ada)
        give_role(cloud, ada, dan, "driver")
        give_role(cloud, ada, gus, "guest", valid_until_us=2**62)
        cloud.ctx.homes.attach_device(ada.household_id, Light())
        source = notify_source(ada)
        automation_id = req(
            cloud, ada, "POST", home(ada, "/automations"), json={"source": source}
        ).json()["id"]
        one = home(ada, f"/automations/{automation_id}")

        for member in (dan, gus):
            assert req(cloud, member, "GET", home(ada, "/automations")).status_code == 200
            assert req(cloud, member, "GET", one).status_code == 200
            r = req(cloud, member, "POST", home(ada, "/automations"), json={"source": source})
            assert r.status_code == 403
            assert "only the owner" in r.json()["detail"]
            assert req(cloud, member, "PUT", one, json={"source": source}).status_code == 403
            assert req(cloud, member, "DELETE", one).status_code == 403
        assert req(cloud, dan, "POST", one + "/run").status_code == 200  # a driver runs it
        r = req(cloud, gus, "POST", one + "/run")
        assert r.status_code == 403
        assert "guest of car" in r.json()["detail"]
        for method, path in (("GET", one), ("POST", one + "/run"), ("DELETE", one)):
            assert req(cloud, eve, method, path).status_code == 404
        assert req(cloud, eve, "GET", home(ada, "/automations")).status_code == 404


def test_the_time_zone_is_the_owners_to_set(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        dan = person(cloud, "dan@example.org", "Dan")
        put_car(cloud, ada)
        give_role(cloud, ada, dan, "driver")
        zone = home(ada, "/time-zone")
        assert req(cloud, dan, "GET", zone).json()["time_zone"] == "UTC"
        r = req(cloud, ada, "PUT", zone, json={"time_zone": "Mars/Olympus_Mons"})
        assert r.status_code == 422
        assert "IANA" in r.text
        assert req(cloud, dan, "PUT", zone, json={"time_zone": "Europe/Berlin"}).status_code == 403
        r = req(cloud, ada, "PUT", zone, json={"time_zone": "Europe/Berlin"})
        assert r.status_code == 200, r.text
        assert req(cloud, dan, "GET", zone).json()["time_zone"] == "Europe/Berlin"
        hub = cloud.ctx.homes.started_hub(ada.household_id)
        assert hub is None or hub.time_zone == "Europe/Berlin"


def test_automations_come_back_after_a_restart(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        cloud.ctx.homes.attach_device(ada.household_id, Light())
        source = notify_source(ada)
        automation_id = req(
            cloud, ada, "POST", home(ada, "/automations"), json={"source": source}
        ).json()["id"]
    with running_cloud(db_url, tmp_path) as cloud:
        # Started with the app; its light is not attached yet: it waits, saying why.
        hub = cloud.ctx.homes.started_hub(ada.household_id)
        assert hub is not None
        assert automation_id in hub.broken
        light = Light()
        cloud.ctx.homes.attach_device(ada.household_id, light)
        got = req(cloud, ada, "GET", home(ada, f"/automations/{automation_id}")).json()
        assert got["problems"] == []
        r = req(cloud, ada, "POST", home(ada, f"/automations/{automation_id}/run"))
        assert r.json()["outcome"] == "finished"
        assert light.values()["light.brightness"] == 30


def test_only_the_newest_runs_are_kept(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        cloud.ctx.homes.attach_device(ada.household_id, Light())
        automation_id = req(
            cloud, ada, "POST", home(ada, "/automations"), json={"source": notify_source(ada)}
        ).json()["id"]
    db = Database(db_url)
    try:
        for n in range(store.RUNS_KEPT + 5):
            info = TriggerInfo("manual", "manual", "", "run by hand", ts=float(n))
            trace = Trace(f"run{n:03d}", automation_id, info, started=float(n), finished=n + 0.5)
            trace.outcome = Outcome.FINISHED
            with db.begin() as c:
                store.record_run(c, ada.household_id, trace)
        with db.connect() as c:
            kept = store.runs(c, automation_id, limit=100)
        assert len(kept) == store.RUNS_KEPT
        assert kept[0].run_id == f"run{store.RUNS_KEPT + 4:03d}"
        assert kept[-1].run_id == "run005"
    finally:
        db.close()
