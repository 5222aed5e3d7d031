"""What the reason code of a command's state means, in plain words for people.

The codes are the car's (:class:`smartev.vehicle.commands.RejectReason` and the safety rules'),
plus the cloud's own for commands it never sent (``not_reached``, ``car_unpaired``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["REASON_TEXTS", "reason_text"]

# What each reason code means, for people (the web app shows it next to the state).
REASON_TEXTS: Final[Mapping[str, str]] = {
    "expired": "The command had expired when the car checked it.",
    "replayed": "The car had already received this exact command and did not carry it out again.",
    "unknown_key": "The car does not know the key that signed the command: pair this device "
    "with the car first.",
    "bad_signature": "The signature does not match the command: it was changed on the way or "
    "signed with another key.",
    "revoked": "The key that signed the command has been revoked on the car.",
    "not_permitted": "Your key's role, or its validity window, does not allow this command.",
    "wrong_car": "The command was signed for another car.",
    "wrong_epoch": "The car has restarted since the command was signed; send it again.",
    "malformed": "The car could not read the command.",
    "invalid_value": "A value in the command is out of range, or not allowed right now.",
    "unsafe_while_moving": "Refused for safety: the car is moving.",
    "not_plugged_in": "Refused: the charging cable is not plugged in.",
    "not_reached": "The car was offline until the command expired, so it was never sent.",
    "car_unpaired": "The car was unpaired before the command could be sent.",
}


def reason_text(reason: str) -> str | None:
    """Plain words for a reason code; an unknown reason (the car's own words) as it is."""
    if not reason:
        return None
    return REASON_TEXTS.get(reason, reason)
