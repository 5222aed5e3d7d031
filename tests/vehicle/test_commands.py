"""The car's command verifier: every rejection reason, replay rules, key enrollment and
revocation, the role table in action, a cloud that alters commands, and fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartev.core.clock import SimClock
from smartev.link.signing import (
    ArgValue,
    Command,
    KeyAlgorithm,
    PrivateKey,
    SignedCommand,
    decode_envelope,
    encode_envelope,
    generate_key,
    key_id,
    make_command,
    new_epoch,
    public_key_bytes,
    sign_command,
)
from smartev.vehicle.command_table import ALLOWED, COMMANDS, key_enroll_args
from smartev.vehicle.commands import (
    CommandRejectedError,
    CommandVerifier,
    RejectReason,
    ReplayWindow,
    VerifiedCommand,
    to_vss,
)
from smartev.vehicle.keyring import KeyRing, Role

CAR = "VIN5YJ3E1EA7KF000001"
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
HOUR_US = 3_600_000_000
T = TypeVar("T")


class Device:
    """A user's phone, browser or service tool: a key and its own counter."""

    def __init__(self, alg: KeyAlgorithm = KeyAlgorithm.ED25519) -> None:
        self.private: PrivateKey = generate_key(alg)
        self.public = public_key_bytes(self.private)
        self.kid = key_id(self.public)
        self.counter = 0

    def command(
        self,
        verifier: CommandVerifier,
        name: str,
        args: Mapping[str, ArgValue] | None = None,
        *,
        counter: int | None = None,
        ttl_s: float = 5.0,
        car_id: str | None = None,
    ) -> SignedCommand:
        info = verifier.session_info(self.kid)
        if counter is None:
            self.counter += 1
            counter = self.counter
        command = make_command(
            car_id=car_id or info.car_id,
            name=name,
            args=args,
            epoch=info.epoch,
            counter=counter,
            key_id=self.kid,
            now_us=info.clock_us,
            ttl_s=ttl_s,
        )
        return sign_command(self.private, command)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def owner() -> Device:
    return Device()


@pytest.fixture
def verifier(clock: SimClock, owner: Device) -> CommandVerifier:
    ring = KeyRing()
    ring.pair_owner(owner.public, "owner's phone", round(clock.timestamp() * 1e6))
    return CommandVerifier(CAR, ring, new_epoch(), clock)


def rejected(verifier: CommandVerifier, signed: SignedCommand | bytes) -> RejectReason:
    verify = verifier.verify_bytes if isinstance(signed, bytes) else verifier.verify
    with pytest.raises(CommandRejectedError) as info:
        verify(signed)  # type: ignore[arg-type]
    return info.value.reason


def enroll(
    verifier: CommandVerifier,
    owner: Device,
    role: Role,
    alg: KeyAlgorithm = KeyAlgorithm.ED25519,
    **window: int,
) -> Device:
    device = Device(alg)
    args = key_enroll_args(device.public, role, f"{role} device", **window)
    verifier.enroll(owner.command(verifier, "key.enroll", args))
    return device


# -- accepted commands and every rejection reason ---------------------------------------------


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
def test_a_signed_command_is_accepted(
    verifier: CommandVerifier, owner: Device, alg: KeyAlgorithm
) -> None:
    driver = enroll(verifier, owner, Role.DRIVER, alg)
    verified = verifier.verify_bytes(
        encode_envelope(driver.command(verifier, "hvac.set", {"temp_c": 21}))
    )
    assert isinstance(verified, VerifiedCommand)
    assert (verified.name, verified.role, verified.args) == (
        "hvac.set",
        Role.DRIVER,
        {"temp_c": 21.0},
    )
    assert to_vss(verified) == {
        "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature": 21.0,
        "Vehicle.Cabin.HVAC.IsAirConditioningActive": True,
    }


def test_malformed(verifier: CommandVerifier) -> None:
    assert rejected(verifier, b"\x93\x01garbage") is RejectReason.MALFORMED


def test_unknown_key(verifier: CommandVerifier) -> None:
    assert rejected(verifier, Device().command(verifier, "door.lock")) == "unknown_key"


def test_bad_signature(verifier: CommandVerifier, owner: Device) -> None:
    signed = owner.command(verifier, "door.lock")
    assert rejected(verifier, dataclasses.replace(signed, signature=bytes(64))) == "bad_signature"
    # A stranger's signature over a command that names the owner's key.
    stranger = Device()
    forged = sign_command(
        stranger.private, dataclasses.replace(signed.command, key_id=stranger.kid)
    )
    assert rejected(verifier, SignedCommand(signed.command, forged.signature)) == "bad_signature"


def test_wrong_car(verifier: CommandVerifier, owner: Device) -> None:
    signed = owner.command(verifier, "door.unlock", car_id="VIN5YJ3E1EA7KF000002")
    assert rejected(verifier, signed) == "wrong_car"


def test_wrong_epoch_after_a_reboot(
    verifier: CommandVerifier, owner: Device, clock: SimClock
) -> None:
    before = owner.command(verifier, "door.lock")
    rebooted = CommandVerifier(CAR, verifier.key_ring, new_epoch(), clock)
    assert rejected(rebooted, before) == "wrong_epoch"
    # The client fetches the new session info; counters start again in the new epoch.
    assert rebooted.verify(owner.command(rebooted, "door.lock", counter=1)).name == "door.lock"


def test_expired(verifier: CommandVerifier, owner: Device, clock: SimClock) -> None:
    signed = owner.command(verifier, "door.lock")
    clock.advance(4.9)
    late = owner.command(verifier, "door.unlock")
    clock.advance(0.2)
    assert rejected(verifier, signed) == "expired"
    assert verifier.verify(late).name == "door.unlock"
    at_the_limit = owner.command(verifier, "door.lock", ttl_s=60)
    clock.advance(59.9)
    assert verifier.verify(at_the_limit).name == "door.lock"


def test_expiry_too_far_ahead_of_the_car_clock(verifier: CommandVerifier, owner: Device) -> None:
    info = verifier.session_info()
    command = make_command(
        car_id=CAR,
        name="door.lock",
        epoch=info.epoch,
        counter=1,
        key_id=owner.kid,
        now_us=info.clock_us + 30_000_000,  # a client clock 30 s ahead of the car's
        ttl_s=60,
    )
    assert rejected(verifier, sign_command(owner.private, command)) == "expired"


def test_revoked_takes_effect_on_the_next_command(verifier: CommandVerifier, owner: Device) -> None:
    driver = enroll(verifier, owner, Role.DRIVER)
    verifier.verify(driver.command(verifier, "door.unlock"))
    pending = driver.command(verifier, "door.lock")  # signed before the revocation
    verifier.revoke(owner.command(verifier, "key.revoke", {"key_id": driver.kid}))
    assert rejected(verifier, pending) == "revoked"
    assert rejected(verifier, driver.command(verifier, "honk")) == "revoked"
    record = verifier.key_ring.get(driver.kid)
    assert record is not None
    assert record.revoked_by == owner.kid


def test_not_permitted_by_role(verifier: CommandVerifier, owner: Device) -> None:
    manager = enroll(verifier, owner, Role.CHARGING_MANAGER)
    assert rejected(verifier, manager.command(verifier, "door.unlock")) == "not_permitted"
    verifier.verify(manager.command(verifier, "charge_limit.set", {"percent": 90}))


def test_guest_only_inside_its_window(
    verifier: CommandVerifier, owner: Device, clock: SimClock
) -> None:
    now_us = verifier.now_us()
    guest = enroll(
        verifier,
        owner,
        Role.GUEST,
        valid_from_us=now_us + HOUR_US,
        valid_until_us=now_us + 3 * HOUR_US,
    )
    assert rejected(verifier, guest.command(verifier, "door.unlock")) == "not_permitted"
    clock.advance(2 * 3600)
    verifier.verify(guest.command(verifier, "door.unlock"))
    clock.advance(3600)
    assert rejected(verifier, guest.command(verifier, "door.lock")) == "not_permitted"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("self_destruct", {}),
        ("charge_limit.set", {"percent": 49}),
        ("charge_limit.set", {"percent": 101}),
        ("charge_limit.set", {"percent": 80.0}),
        ("charge_limit.set", {"percent": True}),
        ("charge_limit.set", {}),
        ("hvac.set", {"temp_c": 30.5}),
        ("hvac.set", {"temp_c": "warm"}),
        ("hvac.set", {"temp_c": 21, "fan": 3}),
        ("trunk.open", {"trunk": "side"}),
        ("door.lock", {"now": True}),
        ("key.revoke", {"key_id": "XYZ"}),
        ("key.enroll", {"public_key": "00", "role": "driver", "label": "x"}),
        ("key.enroll", {"public_key": "00" * 32, "role": "king", "label": "x"}),
    ],
)
def test_invalid_value(
    verifier: CommandVerifier, owner: Device, name: str, args: dict[str, ArgValue]
) -> None:
    signed = owner.command(verifier, name, args)
    assert rejected(verifier, signed) == "invalid_value"
    # A rejected command does not use up its counter.
    again = owner.command(verifier, "door.lock", counter=signed.command.counter)
    assert verifier.verify(again).name == "door.lock"


# -- replay -----------------------------------------------------------------------------------


def test_the_same_envelope_twice_is_replayed(verifier: CommandVerifier, owner: Device) -> None:
    envelope = encode_envelope(owner.command(verifier, "door.unlock"))
    verifier.verify_bytes(envelope)
    assert rejected(verifier, envelope) == "replayed"


def test_locks_need_a_strictly_higher_counter(verifier: CommandVerifier, owner: Device) -> None:
    verifier.verify(owner.command(verifier, "door.lock", counter=5))
    assert rejected(verifier, owner.command(verifier, "door.unlock", counter=4)) == "replayed"
    assert rejected(verifier, owner.command(verifier, "trunk.open", counter=5)) == "replayed"
    verifier.verify(owner.command(verifier, "door.unlock", counter=6))
    assert verifier.session_info(owner.kid).counter == 6


def test_comfort_commands_may_arrive_out_of_order_once_each(
    verifier: CommandVerifier, owner: Device
) -> None:
    for counter in (10, 8, 9, 7):
        verifier.verify(owner.command(verifier, "honk", counter=counter))
    assert rejected(verifier, owner.command(verifier, "flash", counter=8)) == "replayed"
    verifier.verify(owner.command(verifier, "hvac.off", counter=45))
    outside = owner.command(verifier, "hvac.off", counter=13)  # 32 behind, never used
    assert rejected(verifier, outside) == "replayed"
    verifier.verify(owner.command(verifier, "hvac.off", counter=14))  # 31 behind, never used
    # A lock command may not fill a gap.
    assert rejected(verifier, owner.command(verifier, "door.lock", counter=44)) == "replayed"


def test_counters_are_per_key(verifier: CommandVerifier, owner: Device) -> None:
    driver = enroll(verifier, owner, Role.DRIVER)
    verifier.verify(owner.command(verifier, "door.lock", counter=100))
    verifier.verify(driver.command(verifier, "door.lock", counter=1))


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(1, 80), st.booleans()), max_size=60), st.integers(1, 40))
def test_replay_window_matches_a_reference_model(ops: list[tuple[int, bool]], size: int) -> None:
    from smartev.vehicle.command_table import ReplayClass

    window, seen = ReplayWindow(size), set[int]()
    for counter, strict in ops:
        replay = ReplayClass.SECURITY if strict else ReplayClass.COMFORT
        highest = max(seen, default=0)
        expected = counter > highest or (
            not strict and highest - counter < size and counter not in seen
        )
        assert (window.refusal(counter, replay) is None) == expected
        if expected:
            window.accept(counter)
            seen.add(counter)


# -- enrollment -------------------------------------------------------------------------------


def test_an_enrolled_driver_key_works(verifier: CommandVerifier, owner: Device) -> None:
    driver = enroll(verifier, owner, Role.DRIVER, KeyAlgorithm.P256)
    assert verifier.verify(driver.command(verifier, "trunk.open")).role is Role.DRIVER
    key = verifier.key_ring.get(driver.kid)
    assert key is not None
    assert (key.enrolled_by, key.label) == (owner.kid, "driver device")


def test_only_an_owner_may_enroll_or_revoke(verifier: CommandVerifier, owner: Device) -> None:
    driver = enroll(verifier, owner, Role.DRIVER)
    newcomer = Device()
    args = key_enroll_args(newcomer.public, Role.OWNER, "sneaky")
    with pytest.raises(CommandRejectedError) as info:
        verifier.enroll(driver.command(verifier, "key.enroll", args))
    assert info.value.reason == "not_permitted"
    with pytest.raises(CommandRejectedError) as info:
        verifier.revoke(driver.command(verifier, "key.revoke", {"key_id": owner.kid}))
    assert info.value.reason == "not_permitted"
    assert newcomer.kid not in verifier.key_ring


def test_a_second_owner_through_enrollment_not_pairing(
    verifier: CommandVerifier, owner: Device
) -> None:
    second = enroll(verifier, owner, Role.OWNER)
    verifier.revoke(second.command(verifier, "key.revoke", {"key_id": owner.kid}))
    assert rejected(verifier, owner.command(verifier, "door.lock")) == "revoked"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ({"role": "guest"}, "guest key needs valid_until_us"),
        ({"valid_from_us": 10, "valid_until_us": 5}, "must be a time after"),
        ({"public_key": "04" + "00" * 64}, "not a point"),
    ],
)
def test_refused_enrollments(
    verifier: CommandVerifier, owner: Device, args: dict[str, ArgValue], match: str
) -> None:
    full = {**key_enroll_args(Device().public, Role.DRIVER, "phone"), **args}
    with pytest.raises(CommandRejectedError, match=match) as info:
        verifier.enroll(owner.command(verifier, "key.enroll", full))
    assert info.value.reason == "invalid_value"


def test_refused_revocations(verifier: CommandVerifier, owner: Device) -> None:
    for key, match in ((owner.kid, "last owner key"), ("0123456789abcdef", "no such key")):
        with pytest.raises(CommandRejectedError, match=match) as info:
            verifier.revoke(owner.command(verifier, "key.revoke", {"key_id": key}))
        assert info.value.reason == "invalid_value"


def test_a_revoked_key_cannot_be_enrolled_again(verifier: CommandVerifier, owner: Device) -> None:
    driver = enroll(verifier, owner, Role.DRIVER)
    verifier.revoke(owner.command(verifier, "key.revoke", {"key_id": driver.kid}))
    again = key_enroll_args(driver.public, Role.DRIVER, "again")
    with pytest.raises(CommandRejectedError, match="cannot return"):
        verifier.enroll(owner.command(verifier, "key.enroll", again))


def test_enroll_and_revoke_want_their_own_command(verifier: CommandVerifier, owner: Device) -> None:
    with pytest.raises(CommandRejectedError, match=r"expected a key\.enroll"):
        verifier.enroll(owner.command(verifier, "door.lock"))
    verified = verifier.verify(owner.command(verifier, "door.lock"))
    with pytest.raises(ValueError, match="not a key command"):
        verifier.apply_key_command(verified)


# -- the role table in action -----------------------------------------------------------------

SAMPLE_ARGS: dict[str, dict[str, ArgValue]] = {
    "charge_limit.set": {"percent": 80},
    "hvac.set": {"temp_c": 20.5},
    "key.revoke": {"key_id": "0123456789abcdef"},
}


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.OWNER])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_role_is_held_to_its_row(
    verifier: CommandVerifier, owner: Device, role: Role, name: str
) -> None:
    now_us = verifier.now_us()
    device = enroll(verifier, owner, role, valid_until_us=now_us + HOUR_US)
    args = SAMPLE_ARGS.get(name, {})
    if name == "key.enroll":
        args = key_enroll_args(Device().public, Role.DRIVER, "x")
    signed = device.command(verifier, name, args)
    if name in ALLOWED[role]:
        assert verifier.verify(signed).name == name
    else:
        assert rejected(verifier, signed) == "not_permitted"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_owner_may_send_everything(verifier: CommandVerifier, owner: Device, name: str) -> None:
    args = SAMPLE_ARGS.get(name, {})
    if name == "key.enroll":
        args = key_enroll_args(Device().public, Role.DRIVER, "x")
    assert verifier.verify(owner.command(verifier, name, args)).name == name


# -- the cloud relays but cannot forge --------------------------------------------------------

CHANGES: dict[str, dict[str, Any]] = {
    "args": {"args": {"percent": 100}},
    "name": {"name": "charging.start", "args": {}},
    "counter": {"counter": 99},
    "car_id": {"car_id": "VIN5YJ3E1EA7KF000002"},
    "expiry": {"expires_at_us": None},  # filled in below: later by 50 s
}


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
@pytest.mark.parametrize("field", sorted(CHANGES))
def test_a_command_altered_in_the_cloud_is_rejected(
    verifier: CommandVerifier, owner: Device, alg: KeyAlgorithm, field: str
) -> None:
    user = enroll(verifier, owner, Role.DRIVER, alg)
    envelope = encode_envelope(user.command(verifier, "charge_limit.set", {"percent": 60}))
    # The cloud decodes, changes one field, and re-encodes with the user's signature.
    signed = decode_envelope(envelope)
    change = dict(CHANGES[field])
    if field == "expiry":
        change["expires_at_us"] = signed.command.expires_at_us + 50_000_000
    altered = SignedCommand(dataclasses.replace(signed.command, **change), signed.signature)
    reason = rejected(verifier, encode_envelope(altered))
    assert reason == "bad_signature"
    assert verifier.verify_bytes(envelope).args == {"percent": 60}  # the original still works


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
def test_no_single_bit_flip_of_an_envelope_is_accepted(
    verifier: CommandVerifier, owner: Device, alg: KeyAlgorithm
) -> None:
    user = enroll(verifier, owner, Role.DRIVER, alg)
    envelope = encode_envelope(user.command(verifier, "hvac.set", {"temp_c": 22.5}))
    reasons = set()
    for index in range(len(envelope)):
        for bit in range(8):
            flipped = bytearray(envelope)
            flipped[index] ^= 1 << bit
            reasons.add(rejected(verifier, bytes(flipped)))
    assert reasons <= {"malformed", "bad_signature", "unknown_key"}
    assert verifier.verify_bytes(envelope).name == "hvac.set"


# -- fuzz: verify raises only CommandRejectedError --------------------------------------------

DEVICES = [Device(KeyAlgorithm.ED25519), Device(KeyAlgorithm.P256)]
FUZZ_EPOCH = bytes(range(16))


def _fuzz_verifier(clock: SimClock) -> CommandVerifier:
    ring = KeyRing()
    now_us = round(clock.timestamp() * 1e6)
    ring.pair_owner(DEVICES[0].public, "owner", now_us)
    ring.add(
        public_key=DEVICES[1].public,
        role=Role.GUEST,
        label="guest",
        valid_from_us=0,
        valid_until_us=now_us + HOUR_US,
        enrolled_by=DEVICES[0].kid,
        now_us=now_us,
    )
    return CommandVerifier(CAR, ring, FUZZ_EPOCH, clock)


def _mostly(value: T, other: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Usually the value a command needs to pass this check, sometimes anything."""
    return st.one_of(st.just(value), st.just(value), st.just(value), other)


@st.composite
def fuzz_commands(draw: st.DrawFn) -> tuple[SignedCommand, float]:
    now_us = round(START.timestamp() * 1e6)
    issued = now_us + draw(_mostly(-1_000_000, st.integers(-(10**8), 10**8)))
    device = draw(st.sampled_from([*DEVICES, *DEVICES, None]))
    name = draw(
        st.sampled_from(sorted(COMMANDS))
        | st.from_regex(r"[a-z]{1,6}(\.[a-z]{1,6})?", fullmatch=True)
    )
    sample_args: Mapping[str, ArgValue] = SAMPLE_ARGS.get(name, {})
    wild_args: st.SearchStrategy[Mapping[str, ArgValue]] = st.dictionaries(
        st.sampled_from(["percent", "temp_c", "trunk", "key_id", "public_key", "role", "x"]),
        st.booleans()
        | st.integers(-5, 200)
        | st.floats(-50, 150)
        | st.sampled_from(["rear", "guest", "00" * 32]),
        max_size=4,
    )
    command = Command(
        car_id=draw(_mostly(CAR, st.just("VIN5YJ3E1EA7KF000002"))),
        name=name,
        args=draw(_mostly(sample_args, wild_args)),
        epoch=draw(_mostly(FUZZ_EPOCH, st.binary(min_size=16, max_size=16))),
        counter=draw(st.integers(1, 60)),
        issued_at_us=issued,
        expires_at_us=issued + draw(st.integers(1, 60_000_000)),
        key_id=device.kid if device else draw(st.from_regex(r"[0-9a-f]{16}", fullmatch=True)),
    )
    if device is not None and draw(_mostly(True, st.just(False))):
        signed = sign_command(device.private, command)
    else:
        signed = SignedCommand(command, draw(st.binary(min_size=0, max_size=70)))
    return signed, draw(_mostly(0.0, st.floats(0, 120)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fuzz_commands(), min_size=1, max_size=8))
def test_verify_raises_only_command_rejected(items: list[tuple[SignedCommand, float]]) -> None:
    clock = SimClock(START)
    verifier = _fuzz_verifier(clock)
    reasons: set[str] = set()
    for signed, advance_s in items:
        clock.advance(advance_s)
        try:
            verified = verifier.verify(signed)
        except CommandRejectedError as exc:
            reasons.add(exc.reason)
            continue
        assert verified.command == signed.command
        if verified.name in {"key.enroll", "key.revoke"}:
            with contextlib.suppress(CommandRejectedError):
                verifier.apply_key_command(verified)
        else:
            assert to_vss(verified)
    assert reasons <= set(RejectReason)
