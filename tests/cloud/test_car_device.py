"""The car as a device of its household, over real sockets on SQLite and PostgreSQL: an
automation's command, signed with the household's service key, reaches a car on the real link
and is carried out once the owner enrolled the key with a real owner-signed ``key.enroll``;
without that the car refuses it (``unknown_key`` in the trace). The car's telemetry becomes the
device's values and events (which start automations); writes name the command to use."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartev.cloud.car_device import command_effects
from smartev.link.messages import SampleKind
from smartev.link.signing import public_key_bytes
from smartev.spec import shipped_catalog
from smartev.vehicle.actuation import ActuationRequest
from smartev.vehicle.broker import Broker
from smartev.vehicle.command_service import CommandService
from smartev.vehicle.commands import CommandVerifier
from smartev.vehicle.keyring import KeyRing
from smartev.vehicle.telemetry_buffer import SampleDraft
from tests.cloud.car_helpers import (
    CAR,
    LinkedCar,
    Person,
    Signer,
    eventually,
    give_role,
    make_gateway,
    now_us,
    person,
    put_car,
)
from tests.cloud.server import RunningCloud, running_cloud

HVAC_ON = "Vehicle.Cabin.HVAC.IsAirConditioningActive"
HVAC_TEMP = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
CABLE = (
    "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsChargingCableConnected"
)
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
LATITUDE = "Vehicle.CurrentLocation.Latitude"
DEVICE = f"car:{CAR}"

PREHEAT = f"""\
alias: Pre-heat when plugged in
triggers:
  - trigger: event
    device: {DEVICE}
    event: car.plugged_in
actions:
  - device: {DEVICE}
    action: hvac.set
    data: {{temp_c: 21.5}}
"""


class Car:
    """A car whose doors and climate do what they are told; it knows the owner's phone key."""

    def __init__(self, cloud: RunningCloud, tmp: Path, key: Ed25519PrivateKey, owner: Signer):
        clock = cloud.clock
        self.broker = Broker(shipped_catalog(), clock=clock, actuation_timeout_s=5)
        self.provider = self.broker.register_provider(
            "body",
            sensors=["Vehicle.Speed"],
            actuators=["Vehicle.Cabin.Door", HVAC_ON, HVAC_TEMP],
            on_actuate=self._do,
        )
        self.provider.publish({"Vehicle.Speed": 0.0})
        ring = KeyRing()
        ring.pair_owner(public_key_bytes(owner.key), "Ada's phone", now_us(cloud))
        verifier = CommandVerifier(CAR, ring, owner.epoch, clock)
        service = CommandService(verifier, self.broker, clock)
        self.link = LinkedCar(cloud, tmp, key, on_command=service.handle, epoch=owner.epoch)
        self._now = lambda: now_us(cloud)

    def _do(self, request: ActuationRequest) -> None:
        asyncio.get_running_loop().call_soon(self.provider.publish, {request.path: request.value})

    def report(self, values: dict[str, Any]) -> None:
        """Telemetry, sent over the link as the car's sampler would."""
        self.link.buffer.append(
            [SampleDraft(self._now(), p, v, SampleKind.CHANGE) for p, v in values.items()]
        )


async def call(cloud: RunningCloud, who: Person, method: str, path: str, **kw: Any) -> Any:
    """An HTTP request off the test's loop (the car runs on it)."""

    def go() -> Any:
        with cloud.client(who.token) as c:
            return c.request(method, path, **kw)

    return await asyncio.to_thread(go)


def home(who: Person, rest: str = "") -> str:
    return f"/api/v1/households/{who.household_id}{rest}"


async def enroll_service_key(cloud: RunningCloud, ada: Person, phone: Signer) -> dict[str, Any]:
    """The owner creates the service key and enrolls it on the car with a signed key.enroll."""
    r = await call(cloud, ada, "POST", home(ada, "/service-key"))
    assert r.status_code == 201, r.text
    key = r.json()
    body = phone.body("key.enroll", args=key["enroll_args"])
    r = await call(cloud, ada, "POST", f"/api/v1/cars/{CAR}/commands", json=body)
    assert r.status_code == 202, r.text
    command_id = r.json()["id"]
    seen: dict[str, Any] = {}

    async def executed() -> bool:
        r = await call(cloud, ada, "GET", f"/api/v1/cars/{CAR}/commands/{command_id}")
        seen.update(r.json())
        return seen["state"] in {"executed", "rejected", "failed", "expired"}

    while not await executed():  # noqa: ASYNC110 - polled over HTTP like a client would
        await asyncio.sleep(0.02)
    assert seen["state"] == "executed", seen
    return key  # type: ignore[no-any-return]


async def test_an_automation_command_reaches_the_car_and_is_carried_out(
    db_url: str, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        put_car(cloud, ada)
        phone = Signer(cloud.clock)
        car = Car(cloud, tmp_path, key, phone)
        await car.link.start()
        try:
            service_key = await enroll_service_key(cloud, ada, phone)
            assert service_key["enroll_args"]["role"] == "service"
            assert service_key["enroll_args"]["label"] == "automations"

            r = await call(cloud, ada, "POST", home(ada, "/automations"), json={"source": PREHEAT})
            assert r.status_code == 201, r.text
            automation_id = r.json()["id"]
            r = await call(cloud, ada, "POST", home(ada, f"/automations/{automation_id}/run"))
            assert r.status_code == 200, r.text
            trace = r.json()
            assert trace["outcome"] == "finished", trace
            step = trace["actions"][0]
            assert step["result"] == "ok", step
            assert step["outputs"]["state"] == "executed"
            assert car.broker.current_value(HVAC_TEMP) == 21.5
            assert car.broker.current_value(HVAC_ON) is True

            # The command is the car's record like any other, sent by no person.
            r = await call(cloud, ada, "GET", f"/api/v1/cars/{CAR}/commands")
            sent = next(c for c in r.json() if c["id"] == step["outputs"]["command_id"])
            assert sent["name"] == "hvac.set"
            assert sent["requested_by"] is None
            assert [s["state"] for s in sent["states"]][-1] == "executed"

            # The run is stored with its trace.
            r = await call(cloud, ada, "GET", home(ada, f"/automations/{automation_id}/traces"))
            assert [t["run_id"] for t in r.json()] == [trace["run_id"]]

            # ... and in the car's audit log as sent by the household's automations.
            r = await call(cloud, ada, "GET", f"/api/v1/cars/{CAR}/audit")
            requested = next(
                e
                for e in r.json()["events"]
                if e["action"] == "command.requested" and e["detail"]["name"] == "hvac.set"
            )
            assert requested["detail"]["sent_by"] == "automations"
            assert requested["actor_id"] is None

            # Plugging in, right after the automation's hvac.set: the car's telemetry becomes
            # the car.plugged_in event, which is not that command's doing (only its targets
            # are), so the second run is not taken for a loop. (One second later: the runs are
            # listed newest first by their start.)
            cloud.clock.advance(1)
            car.report({CABLE: False})
            await eventually(lambda: _value(cloud, ada, CABLE) is False)
            car.report({CABLE: True})

            def two_runs() -> bool:
                with cloud.client(ada.token) as c:
                    runs = c.get(home(ada, f"/automations/{automation_id}/traces")).json()
                return len(runs) == 2 and all(r["outcome"] == "finished" for r in runs)

            await eventually(two_runs)
            with cloud.client(ada.token) as c:
                runs = c.get(home(ada, f"/automations/{automation_id}/traces")).json()
            assert runs[0]["trigger"].startswith(DEVICE)
        finally:
            await car.link.stop()


def _value(cloud: RunningCloud, who: Person, path: str) -> Any:
    with cloud.client(who.token) as c:
        return c.get(home(who, f"/devices/{DEVICE}")).json()["values"].get(path)


async def test_without_the_enrolled_key_the_car_refuses_with_unknown_key(
    db_url: str, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        put_car(cloud, ada)
        phone = Signer(cloud.clock)
        car = Car(cloud, tmp_path, key, phone)
        r = await call(cloud, ada, "POST", home(ada, "/automations"), json={"source": PREHEAT})
        automation_id = r.json()["id"]

        # No service key at all: nothing is sent, the step says why.
        await car.link.start()
        try:
            r = await call(cloud, ada, "POST", home(ada, f"/automations/{automation_id}/run"))
            trace = r.json()
            assert trace["outcome"] == "failed"
            assert "no service key" in trace["actions"][0]["detail"]

            # A key the car was never told about: the car rejects it.
            r = await call(cloud, ada, "POST", home(ada, "/service-key"))
            assert r.status_code == 201
            r = await call(cloud, ada, "POST", home(ada, f"/automations/{automation_id}/run"))
            trace = r.json()
            assert trace["outcome"] == "failed", trace
            step = trace["actions"][0]
            assert step["result"] == "failed"
            assert "rejected" in step["detail"], step
            assert "unknown_key" in step["detail"], step
            assert "does not know the key" in step["detail"]
            assert car.broker.current_value(HVAC_ON) is None

            # The same through the devices API: a 409 that says why.
            r = await call(
                cloud,
                ada,
                "POST",
                home(ada, f"/devices/{DEVICE}/actions/hvac.off"),
                json={"data": {}},
            )
            assert r.status_code == 409, r.text
            assert "unknown_key" in r.json()["detail"]
        finally:
            await car.link.stop()


async def test_car_values_writes_and_what_each_role_sees(db_url: str, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    with running_cloud(db_url, tmp_path, link=make_gateway(db_url, {CAR: key})) as cloud:
        ada = person(cloud, "ada@example.org", "Ada")
        cam = person(cloud, "cam@example.org", "Cam")
        put_car(cloud, ada)
        give_role(cloud, ada, cam, "charging_manager")
        phone = Signer(cloud.clock)
        car = Car(cloud, tmp_path, key, phone)

        # Offline: listed, not online; an action is a 409 that says so.
        r = await call(cloud, ada, "GET", home(ada, "/devices"))
        (device,) = [d for d in r.json() if d["id"] == DEVICE]
        assert device["online"] is False
        assert device["kind"] == "car"
        r = await call(
            cloud, ada, "POST", home(ada, f"/devices/{DEVICE}/actions/door.lock"), json={}
        )
        assert r.status_code == 409
        assert "offline" in r.json()["detail"]

        await car.link.start()
        try:
            await eventually(lambda: _online(cloud, ada))
            car.report({SOC: 64.5, LATITUDE: 48.1})
            await eventually(lambda: _value(cloud, ada, SOC) == 64.5)
            assert _value(cloud, ada, LATITUDE) == 48.1

            # A charging manager sees the battery, not where the car is; and controls nothing.
            r = await call(cloud, cam, "GET", home(ada, f"/devices/{DEVICE}"))
            assert r.status_code == 200, r.text
            seen = r.json()
            assert seen["values"].get(SOC) == 64.5
            assert LATITUDE not in seen["values"]
            refs = {p["ref"] for s in seen["services"] for p in s["properties"]}
            assert SOC in refs
            assert LATITUDE not in refs
            r = await call(
                cloud, cam, "POST", home(ada, f"/devices/{DEVICE}/actions/charging.start"), json={}
            )
            assert r.status_code == 403
            assert "owner and the drivers" in r.json()["detail"]

            # Car values change only through commands: the refusal names them.
            r = await call(
                cloud,
                ada,
                "PUT",
                home(ada, f"/devices/{DEVICE}/properties/{HVAC_ON}"),
                json={"value": True},
            )
            assert r.status_code == 409, r.text
            assert "hvac.set" in r.json()["detail"]
            assert "hvac.off" in r.json()["detail"]
            # Checked against the command's rules before anything is signed.
            r = await call(
                cloud,
                ada,
                "POST",
                home(ada, f"/devices/{DEVICE}/actions/hvac.set"),
                json={"data": {"temp_c": 99}},
            )
            assert r.status_code == 422
            assert "15..30" in r.text
        finally:
            await car.link.stop()
        await eventually(lambda: not _online(cloud, ada))


def _online(cloud: RunningCloud, who: Person) -> bool:
    with cloud.client(who.token) as c:
        return bool(c.get(home(who, f"/devices/{DEVICE}")).json()["online"])


def test_a_command_claims_its_targets_and_the_events_they_mean() -> None:
    locked = command_effects("door.lock", {})
    assert locked is not None
    assert "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked" in locked
    assert {"car.locked", "car.unlocked"} <= locked
    assert "car.plugged_in" not in locked
    charging = command_effects("charging.start", {})
    assert charging is not None
    assert "Vehicle.Powertrain.TractionBattery.Charging.IsCharging" in charging
    assert {"car.charging_started", "car.charging_finished"} <= charging
    climate = command_effects("hvac.set", {"temp_c": 21.0})
    assert climate is not None
    assert not any(ref.startswith("car.") for ref in climate)  # a cable plugged in is not its doing
    assert command_effects("key.enroll", {}) is None
