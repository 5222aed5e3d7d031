"""Tenant isolation, walked from the OpenAPI document: for every route, a stranger who names
another household's car, household, drive, key or anything else gets 403/404 and changes nothing,
and a caller without a token gets 401. New routes are covered without touching this file."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from smartev.cloud import automation_store as store
from smartev.cloud import home_store, key_registration
from smartev.cloud import schema as t
from smartev.cloud.households import create_household
from smartev.ecosystem.trace import Outcome, Trace, TriggerInfo
from smartev.link.signing import KeyAlgorithm, generate_key, public_key_bytes
from tests.cloud.server import RunningCloud, running_cloud

PUBLIC = {
    ("get", "/healthz"),
    ("get", "/"),
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
}
METHODS = ("get", "post", "put", "patch", "delete")
# Path values that name a kind of thing every household has, not one of anna's.
NOT_SECRET = {"action_ref", "property_ref"}
MS = 1000


@dataclass
class Tenant:
    email: str
    token: str
    ids: dict[str, str] = field(default_factory=dict)


def _now_us(cloud: RunningCloud) -> int:
    return int(cloud.clock.timestamp() * 1_000_000)


def _automation_source(car_id: str) -> str:
    return (
        "alias: Lock when plugged in\n"
        "triggers:\n"
        f"  - {{trigger: event, device: 'car:{car_id}', event: car.plugged_in}}\n"
        "actions:\n"
        f"  - {{device: 'car:{car_id}', action: door.lock}}\n"
    )


def _scene_source(car_id: str) -> str:
    return f"name: cool\nentities:\n  'car:{car_id}': {{{AC}: true}}\n"


AC = "Vehicle.Cabin.HVAC.IsAirConditioningActive"


def make_tenant(cloud: RunningCloud, email: str, car_id: str, friend_email: str) -> Tenant:
    """A user who owns a household with a member, a paired car, a drive, a charging session,
    a state interval, a geofence, a pending invite, a grant and a command; an automation with a
    run's trace, a scene and a notification (the car is the household's device); a device key."""
    db = cloud.ctx.db
    accounts = cloud.ctx.accounts
    now = _now_us(cloud)
    with db.begin() as c:
        user_id = accounts.sign_up(c, email, "correct horse battery", email.split("@")[0])
        friend_id = accounts.sign_up(c, friend_email, "correct horse battery", "friend")
        household_id = create_household(c, owner_id=user_id, name="home", now_us=now)
        c.execute(
            insert(t.household_member).values(
                household_id=household_id, user_id=friend_id, joined_us=now
            )
        )
        c.execute(
            insert(t.car).values(id=car_id, household_id=household_id, name="car", paired_us=now)
        )
        grant_id = t.new_id("grt")
        c.execute(
            insert(t.car_grant).values(
                id=grant_id,
                car_id=car_id,
                user_id=friend_id,
                role="driver",
                granted_by=user_id,
                created_us=now,
            )
        )
        drive_id, charge_id, geofence_id, invite_id = (
            t.new_id("drv"),
            t.new_id("chg"),
            t.new_id("geo"),
            t.new_id("inv"),
        )
        c.execute(
            insert(t.drive).values(
                id=drive_id,
                car_id=car_id,
                start_us=now - 3600 * 10**6,
                end_us=now - 1800 * 10**6,
                distance_km=12.0,
                duration_s=1800.0,
                speed_avg_kmh=24.0,
                speed_max_kmh=60.0,
            )
        )
        c.execute(
            insert(t.charging_session).values(
                id=charge_id,
                car_id=car_id,
                start_us=now - 1700 * 10**6,
                end_us=now - 100 * 10**6,
                kind="AC",
                energy_added_kwh=10.0,
                power_max_kw=11.0,
                duration_s=1600.0,
            )
        )
        c.execute(
            insert(t.state_interval).values(
                id=t.new_id("sti"), car_id=car_id, state="parked", start_us=now - 100 * 10**6
            )
        )
        c.execute(
            insert(t.geofence).values(
                id=geofence_id,
                household_id=household_id,
                name="home",
                lat=48.1,
                lon=11.5,
                radius_m=100.0,
                price_per_kwh=0.3,
                price_per_minute=0.0,
                session_fee=0.0,
                currency="EUR",
            )
        )
        c.execute(
            insert(t.invite).values(
                id=invite_id,
                household_id=household_id,
                code_hash=hashlib.sha256(email.encode()).hexdigest(),
                created_by=user_id,
                created_us=now,
                expires_us=now + 3600 * 10**6,
            )
        )
        command_id = t.new_id("cmd")
        c.execute(
            insert(t.command).values(
                id=command_id,
                car_id=car_id,
                user_id=user_id,
                name="door.lock",
                args="{}",
                envelope=b"\x00",
                expires_us=now - 1,
                created_us=now - 10,
                state="expired",
                pending=False,
            )
        )
        c.execute(
            insert(t.command_state).values(
                command_id=command_id, n=0, state="expired", reason="", ts_us=now - 1
            )
        )
        automation_id, scene_id, run_id, notification_id = (
            t.new_id("aut"),
            t.new_id("scn"),
            uuid.uuid4().hex,
            t.new_id("ntf"),
        )
        c.execute(
            insert(t.automation).values(
                id=automation_id,
                household_id=household_id,
                alias="Lock when plugged in",
                source=_automation_source(car_id),
                enabled=True,
                created_us=now,
                updated_us=now,
                created_by=user_id,
            )
        )
        trace = Trace(
            run_id,
            automation_id,
            TriggerInfo("manual", "manual", "", "run by hand", ts=now / 1e6),
            started=now / 1e6,
            finished=now / 1e6,
            outcome=Outcome.FINISHED,
        )
        store.record_run(c, household_id, trace)
        c.execute(
            insert(t.scene).values(
                id=scene_id,
                household_id=household_id,
                name="cool",
                source=_scene_source(car_id),
                created_us=now,
                updated_us=now,
                created_by=user_id,
            )
        )
        home_store.add_notifications(
            c, household_id=household_id, user_ids=[user_id], title="t", message="m", now_us=now
        )
        notification_id = home_store.notifications(c, user_id)[0].id
        device_key, _ = key_registration.register(
            c,
            user_id=user_id,
            public_key=public_key_bytes(generate_key(KeyAlgorithm.P256)),
            label="Browser",
            now_us=now,
        )
        token = accounts.log_in(c, email, "correct horse battery", "test").access_token
    return Tenant(
        email,
        token,
        {
            "car_id": car_id,
            "household_id": household_id,
            "user_id": friend_id,
            "member_id": friend_id,
            "grant_id": grant_id,
            "drive_id": drive_id,
            "session_id": charge_id,
            "charge_id": charge_id,
            "geofence_id": geofence_id,
            "invite_id": invite_id,
            "command_id": command_id,
            "automation_id": automation_id,
            "run_id": run_id,
            "scene_id": scene_id,
            "notification_id": notification_id,
            "key_id": device_key.key_id,
            "device_id": f"car:{car_id}",
            "action_ref": "door.lock",
            "property_ref": AC,
        },
    )


def log_in(cloud: RunningCloud, email: str) -> str:
    with cloud.ctx.db.begin() as c:
        return cloud.ctx.accounts.log_in(c, email, "correct horse battery", "test").access_token


# ── request bodies from the OpenAPI document ────────────────────────────────────────────────

NAMED_EXAMPLES: dict[str, Any] = {
    "email": "stranger-target@example.com",
    "password": "correct horse battery",
    "display_name": "Stranger",
    "name": "Renamed by a stranger",
    "role": "driver",
    "code": "ABCD-EFGH",
    "currency": "EUR",
    "refresh_token": "x" * 43,
}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def example(spec: dict[str, Any], schema: dict[str, Any], name: str = "") -> Any:
    """A value that satisfies ``schema`` (enough of JSON Schema for our own documents)."""
    schema = _resolve(spec, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(spec, s).get("type") != "null"]
            return example(spec, options[0], name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type", "object")
    if name in NAMED_EXAMPLES and kind == "string":
        return NAMED_EXAMPLES[name]
    if kind == "object":
        props = schema.get("properties", {})
        return {
            key: example(spec, sub, key)
            for key, sub in props.items()
            if key in schema.get("required", ()) or key in ("valid_until", "valid_from", "email")
        }
    if kind == "array":
        low = schema.get("minItems", 0)
        return [example(spec, schema.get("items", {}), name) for _ in range(max(low, 1))]
    if kind == "string":
        if schema.get("format") == "date-time":
            return (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
        if schema.get("format") in ("byte", "base64") or name == "envelope":
            return base64.b64encode(b"\x00" * 8).decode()
        text = "x" * max(schema.get("minLength", 1), 1)
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            text = "ABCD-EFGH" if re.search(pattern, "ABCD-EFGH") else "A1"
        return text[: schema.get("maxLength", len(text))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 10))
        value = low + 1 if low + 1 <= high else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None


def request_body(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return example(spec, content["application/json"]["schema"])


def dump(cloud: RunningCloud) -> dict[str, set[str]]:
    """Every row of every table, as sortable text."""
    out: dict[str, set[str]] = {}
    with cloud.ctx.db.connect() as c:
        for table in t.metadata.sorted_tables:
            out[table.name] = {
                json.dumps([repr(v) for v in row], sort_keys=True)
                for row in c.execute(select(table))
            }
    return out


# Rows every request may add: logins and audit lines of the stranger's own actions.
GROWING = {"auth_session", "refresh_token", "audit_event"}


def test_every_route_keeps_strangers_out(db_url: str, tmp_path: Path) -> None:
    with running_cloud(db_url, tmp_path) as cloud:
        anna = make_tenant(cloud, "anna@example.com", "CAR-ANNA-0001", "anna.kid@example.com")
        bert = make_tenant(cloud, "bert@example.com", "CAR-BERT-0001", "bert.kid@example.com")
        spec = cloud.client().get("/openapi.json").json()
        before = dump(cloud)
        walked: list[str] = []
        anna_secrets = [v for k, v in anna.ids.items() if k not in NOT_SECRET] + [anna.email]
        with cloud.client() as anonymous:
            for path, item in spec["paths"].items():
                for method in METHODS:
                    operation = item.get(method)
                    if operation is None or (method, path) in PUBLIC:
                        continue
                    names = re.findall(r"{(\w+)}", path)
                    missing = [n for n in names if n not in anna.ids]
                    assert not missing, f"{method} {path}: teach this test {missing}"
                    url = path.format(**anna.ids)
                    body = request_body(spec, operation)
                    label = f"{method.upper()} {path}"
                    r = anonymous.request(method, url, json=body)
                    assert r.status_code == 401, f"{label} without a token: {r.status_code}"
                    # A fresh login each time: bert's own logout must not end the walk.
                    with cloud.client(log_in(cloud, bert.email)) as as_bert:
                        r = as_bert.request(method, url, json=body)
                    if names:
                        assert r.status_code in (403, 404), (
                            f"{label} with anna's ids as bert: {r.status_code} {r.text[:200]}"
                        )
                    else:
                        assert r.status_code < 500, f"{label}: {r.status_code} {r.text[:200]}"
                        if r.is_success:
                            leaked = [s for s in anna_secrets if s in r.text]
                            assert not leaked, f"{label} shows bert anna's {leaked}"
                    walked.append(label)
        after = dump(cloud)
        for table, rows in before.items():
            lost = [row for row in rows - after[table] if any(s in row for s in anna_secrets)]
            assert not lost, f"bert's requests changed or removed anna's rows in {table}"
            if table not in GROWING:
                added = after[table] - rows
                touching = [row for row in added if any(s in row for s in anna_secrets)]
                assert not touching, f"bert's requests added rows about anna to {table}"
        assert len(walked) >= 5, walked
