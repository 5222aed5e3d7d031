import pytest

from smartev.vehicle.access import Access, Action, InvalidScopeError


@pytest.mark.parametrize(
    ("scope", "action", "path", "allowed"),
    [
        ("read", Action.READ, "Vehicle.Speed", True),
        ("read", Action.ACTUATE, "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked", False),
        ("read:Vehicle.Speed", Action.READ, "Vehicle.Speed", True),
        ("read:Vehicle.Speed", Action.READ, "Vehicle.SpeedX", False),
        ("read:Vehicle.Cabin", Action.READ, "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen", True),
        ("read:Vehicle.Cabin", Action.READ, "Vehicle.Body.Trunk.Rear.IsOpen", False),
        ("actuate:Vehicle.Cabin", Action.READ, "Vehicle.Cabin.HVAC.AmbientAirTemperature", True),
        (
            "actuate:Vehicle.Cabin",
            Action.ACTUATE,
            "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen",
            True,
        ),
        (
            "actuate:Vehicle.Cabin",
            Action.PROVIDE_DATA,
            "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen",
            False,
        ),
        ("provide:Vehicle.Speed", Action.PROVIDE_DATA, "Vehicle.Speed", True),
        ("provide:Vehicle.Speed", Action.PROVIDE_ACTUATION, "Vehicle.Speed", True),
        ("provide:Vehicle.Speed", Action.READ, "Vehicle.Speed", True),
        ("provide:data:Vehicle.Speed", Action.PROVIDE_ACTUATION, "Vehicle.Speed", False),
        (
            "provide:actuation:Vehicle.Body",
            Action.PROVIDE_ACTUATION,
            "Vehicle.Body.Trunk.Rear.IsOpen",
            True,
        ),
        # "*" matches exactly one segment (KUKSA's authorization design).
        ("read:Vehicle.*.IsOpen", Action.READ, "Vehicle.Body.Trunk.Rear.IsOpen", False),
        ("read:Vehicle.*.*.*.IsOpen", Action.READ, "Vehicle.Body.Trunk.Rear.IsOpen", True),
        (
            "read:Vehicle.Body.Windshield.*.Wiping",
            Action.READ,
            "Vehicle.Body.Windshield.Front.Wiping.Mode",
            True,
        ),
        ("openid profile", Action.READ, "Vehicle.Speed", False),
        ("", Action.READ, "Vehicle.Speed", False),
        (
            "read:Vehicle.Speed actuate:Vehicle.Body",
            Action.ACTUATE,
            "Vehicle.Body.Trunk.Rear.IsOpen",
            True,
        ),
    ],
)
def test_scopes(scope: str, action: Action, path: str, allowed: bool) -> None:
    assert Access.from_scope(scope).allows(action, path) is allowed


def test_full_access_allows_everything() -> None:
    full = Access.full()
    assert all(full.allows(a, "Vehicle.Anything") for a in Action)


@pytest.mark.parametrize(
    "scope", ["read:Vehicle..Speed", "read:Vehicle.Speed:x", "actuate:.Vehicle"]
)
def test_malformed_scopes_are_refused(scope: str) -> None:
    with pytest.raises(InvalidScopeError, match="is not a VSS path pattern"):
        Access.from_scope(scope)
