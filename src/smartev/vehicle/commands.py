"""The car's command verifier: decides whether a signed command from a user's key is accepted,
and names the reason when it is not.

Checks, in this order (the first that fails gives the rejection reason):

1. decode the envelope ............................ ``malformed``
2. the key is enrolled on this car ................ ``unknown_key``
3. the signature verifies with that key ........... ``bad_signature``
4. the key is not revoked ......................... ``revoked``
5. now is inside the key's validity window ........ ``not_permitted``
6. the command names this car ..................... ``wrong_car``
7. the command names this boot's epoch ............ ``wrong_epoch``
8. not expired, and not valid for over 60 s more .. ``expired``
9. the command is known, the key's role allows it . ``invalid_value`` / ``not_permitted``
10. its arguments fit the command's schema ........ ``invalid_value``
11. its counter is new for the key (then recorded)  ``replayed``

An accepted command then goes to the broker as actuator targets (:func:`to_vss`), where the
safety rules (``vehicle/safety.py``: ``unsafe_while_moving``, …) apply; key commands go to
:meth:`CommandVerifier.apply_key_command` instead. Nothing here does I/O; time comes from the
clock passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from smartev.core.clock import Clock
from smartev.core.errors import InvalidInputError
from smartev.link.signing import (
    EPOCH_BYTES,
    MAX_TTL_S,
    ArgValue,
    Command,
    EnvelopeError,
    SignedCommand,
    decode_envelope,
    verify_signature,
)
from smartev.vehicle.command_table import (
    ALLOWED,
    COMMANDS,
    KEY_COMMANDS,
    CommandSpec,
    InvalidArgumentsError,
    ReplayClass,
    vss_targets,
)
from smartev.vehicle.errors import VehicleError
from smartev.vehicle.keyring import EnrolledKey, KeyRing, KeyRingError, Role

DEFAULT_WINDOW: Final = 32
DEFAULT_CLOCK_SKEW_S: Final = 2.0


class RejectReason(StrEnum):
    """Why the car refused a command; the values are the command life's rejection codes."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    REVOKED = "revoked"
    NOT_PERMITTED = "not_permitted"
    WRONG_CAR = "wrong_car"
    WRONG_EPOCH = "wrong_epoch"
    EXPIRED = "expired"
    INVALID_VALUE = "invalid_value"
    REPLAYED = "replayed"


class CommandRejectedError(VehicleError, InvalidInputError):
    """The car refused a command. ``reason`` is the code, the message the explanation."""

    def __init__(self, reason: RejectReason, message: str, *, key_id: str | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.key_id = key_id


@dataclass(frozen=True, slots=True)
class VerifiedCommand:
    """A command that passed every check; ``args`` are checked, with defaults filled in."""

    command: Command
    key: EnrolledKey
    spec: CommandSpec
    args: Mapping[str, ArgValue]
    verified_at_us: int

    @property
    def name(self) -> str:
        return self.command.name

    @property
    def role(self) -> Role:
        return self.key.role


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a client needs to sign commands for this car now: its id, this boot's epoch, the
    car's clock (so expiry is in car time) and the highest counter accepted from the key."""

    car_id: str
    epoch: bytes
    clock_us: int
    counter: int


class ReplayWindow:
    """Counters seen from one key in one epoch, in the manner of IPsec's anti-replay window.

    ``highest`` is the highest counter accepted; bit i of the bitmap records whether
    ``highest - i`` was accepted. A security command must come above ``highest``; a comfort
    command may also fill a gap less than ``size`` below it, once.
    """

    def __init__(self, size: int = DEFAULT_WINDOW) -> None:
        if not 1 <= size <= 1024:
            raise InvalidInputError(f"replay window size {size} must be 1..1024")
        self.size = size
        self.highest = 0
        self._seen = 0

    def refusal(self, counter: int, replay: ReplayClass) -> str | None:
        """Why ``counter`` cannot be accepted, or None when it can."""
        if counter > self.highest:
            return None
        if replay is ReplayClass.SECURITY:
            return f"counter {counter} is not above {self.highest}, the highest seen from this key"
        behind = self.highest - counter
        if behind >= self.size:
            return (
                f"counter {counter} is {behind} behind the highest seen ({self.highest}): "
                f"outside the window of {self.size}"
            )
        if self._seen >> behind & 1:
            return f"counter {counter} was already used"
        return None

    def accept(self, counter: int) -> None:
        if counter > self.highest:
            shift = counter - self.highest
            self._seen = (
                (self._seen << shift | 1) & ((1 << self.size) - 1) if shift < self.size else 1
            )
            self.highest = counter
        else:
            self._seen |= 1 << (self.highest - counter)


class CommandVerifier:
    """Verifies signed commands for one car in one boot epoch (a new boot makes a new verifier)."""

    def __init__(
        self,
        car_id: str,
        key_ring: KeyRing,
        epoch: bytes,
        clock: Clock,
        *,
        window: int = DEFAULT_WINDOW,
        clock_skew_s: float = DEFAULT_CLOCK_SKEW_S,
    ) -> None:
        if type(epoch) is not bytes or len(epoch) != EPOCH_BYTES:
            raise InvalidInputError(f"epoch must be {EPOCH_BYTES} random bytes")
        if not 0 <= clock_skew_s <= 30:
            raise InvalidInputError(f"clock_skew_s {clock_skew_s} must be 0..30")
        self.car_id = car_id
        self.key_ring = key_ring
        self.epoch = epoch
        self._clock = clock
        self._window = window
        ReplayWindow(window)  # check the size now, not at the first command
        self._max_ahead_us = round((MAX_TTL_S + clock_skew_s) * 1_000_000)
        self._windows: dict[str, ReplayWindow] = {}

    def now_us(self) -> int:
        return round(self._clock.timestamp() * 1_000_000)

    def session_info(self, key_id: str | None = None) -> SessionInfo:
        window = self._windows.get(key_id) if key_id is not None else None
        counter = window.highest if window is not None else 0
        return SessionInfo(self.car_id, self.epoch, self.now_us(), counter)

    def verify_bytes(self, data: bytes) -> VerifiedCommand:
        """Decode an envelope and verify it; a malformed envelope is rejected as ``malformed``."""
        try:
            signed = decode_envelope(data)
        except EnvelopeError as exc:
            raise CommandRejectedError(RejectReason.MALFORMED, str(exc)) from exc
        return self.verify(signed)

    def verify(self, signed: SignedCommand) -> VerifiedCommand:
        """Accept the command or raise :class:`CommandRejectedError`; see the module's list."""
        command, now_us = signed.command, self.now_us()
        kid = command.key_id

        def reject(reason: RejectReason, message: str) -> CommandRejectedError:
            return CommandRejectedError(reason, f"{command.name}: {message}", key_id=kid)

        key = self.key_ring.get(kid)
        if key is None:
            raise reject(RejectReason.UNKNOWN_KEY, f"key {kid} is not enrolled on this car")
        if not verify_signature(self.key_ring.public_key(kid), signed):
            raise reject(RejectReason.BAD_SIGNATURE, f"signature does not verify with key {kid}")
        if key.revoked:
            raise reject(RejectReason.REVOKED, f"key {kid} was revoked at {key.revoked_at_us} us")
        if not key.is_valid_at(now_us):
            until = "open" if key.valid_until_us is None else f"{key.valid_until_us}"
            raise reject(
                RejectReason.NOT_PERMITTED,
                f"key {kid} ({key.role}) is valid from {key.valid_from_us} to {until} us, "
                f"not at {now_us}",
            )
        if command.car_id != self.car_id:
            raise reject(
                RejectReason.WRONG_CAR, f"signed for car {command.car_id}, not {self.car_id}"
            )
        if command.epoch != self.epoch:
            raise reject(
                RejectReason.WRONG_EPOCH, "signed for another boot of the car: fetch session info"
            )
        if now_us > command.expires_at_us:
            late_s = (now_us - command.expires_at_us) / 1e6
            raise reject(RejectReason.EXPIRED, f"expired {late_s:.3f} s ago")
        if command.expires_at_us - now_us > self._max_ahead_us:
            raise reject(
                RejectReason.EXPIRED,
                f"valid until {command.expires_at_us} us, over {MAX_TTL_S:g} s from the car's "
                f"clock {now_us} us: the client must use the car's clock",
            )
        spec = COMMANDS.get(command.name)
        if spec is None:
            raise reject(RejectReason.INVALID_VALUE, "unknown command")
        if command.name not in ALLOWED[key.role]:
            raise reject(RejectReason.NOT_PERMITTED, f"a {key.role} key may not send it")
        try:
            args = spec.check_args(command.args)
        except InvalidArgumentsError as exc:
            raise reject(RejectReason.INVALID_VALUE, str(exc)) from exc
        window = self._windows.get(kid)
        if window is None:
            window = self._windows[kid] = ReplayWindow(self._window)
        refusal = window.refusal(command.counter, spec.replay)
        if refusal is not None:
            raise reject(RejectReason.REPLAYED, refusal)
        window.accept(command.counter)
        return VerifiedCommand(command, key, spec, args, now_us)

    def apply_key_command(self, verified: VerifiedCommand) -> EnrolledKey:
        """Carry out a verified ``key.enroll`` or ``key.revoke``: the key ring changes at once."""
        if verified.name not in KEY_COMMANDS:
            raise InvalidInputError(f"{verified.name} is not a key command: use to_vss()")
        signer = verified.key.key_id
        if verified.role is not Role.OWNER:  # ALLOWED says so too; key changes are owner-only
            raise CommandRejectedError(
                RejectReason.NOT_PERMITTED, f"{verified.name} needs an owner key", key_id=signer
            )
        args, now_us = verified.args, self.now_us()
        try:
            if verified.name == "key.revoke":
                return self.key_ring.revoke(str(args["key_id"]), revoked_by=signer, now_us=now_us)
            until = args.get("valid_until_us")
            return self.key_ring.add(
                public_key=bytes.fromhex(str(args["public_key"])),
                role=Role(str(args["role"])),
                label=str(args["label"]),
                valid_from_us=int(args.get("valid_from_us", 0)),
                valid_until_us=None if until is None else int(until),
                enrolled_by=signer,
                now_us=now_us,
            )
        except KeyRingError as exc:
            raise CommandRejectedError(
                RejectReason.INVALID_VALUE, f"{verified.name}: {exc}", key_id=signer
            ) from exc

    def enroll(self, signed: SignedCommand) -> EnrolledKey:
        """Verify a ``key.enroll`` command and enroll its key."""
        return self._key_command("key.enroll", signed)

    def revoke(self, signed: SignedCommand) -> EnrolledKey:
        """Verify a ``key.revoke`` command and revoke its key: the key's next command fails."""
        return self._key_command("key.revoke", signed)

    def _key_command(self, name: str, signed: SignedCommand) -> EnrolledKey:
        if signed.command.name != name:
            raise CommandRejectedError(
                RejectReason.INVALID_VALUE,
                f"expected a {name} command, got {signed.command.name}",
                key_id=signed.command.key_id,
            )
        return self.apply_key_command(self.verify(signed))


def to_vss(verified: VerifiedCommand) -> dict[str, ArgValue]:
    """The broker actuator targets of a verified command (not for key commands)."""
    return vss_targets(verified.name, verified.args)
