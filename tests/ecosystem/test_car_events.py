"""Car events from VSS signal changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smartev.ecosystem.car_events import car_events
from smartev.spec.car_device import CAR_EVENT_SIGNALS

CABLE = (
    "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsChargingCableConnected"
)
CHARGING = "Vehicle.Powertrain.TractionBattery.Charging.IsCharging"
LOCKED = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"


def test_each_signal_turning_true_or_false() -> None:
    assert car_events(CABLE, False, True) == ["car.plugged_in"]
    assert car_events(CABLE, True, False) == ["car.unplugged"]
    assert car_events(CHARGING, False, True) == ["car.charging_started"]
    assert car_events(CHARGING, True, False) == ["car.charging_finished"]
    assert car_events(LOCKED, False, True) == ["car.locked"]
    assert car_events(LOCKED, True, False) == ["car.unlocked"]


def test_first_value_unknown_value_and_no_change_fire_nothing() -> None:
    assert car_events(CABLE, None, True) == []
    assert car_events(CABLE, True, None) == []
    assert car_events(CABLE, True, True) == []
    assert car_events(CABLE, 0, 1) == []  # not booleans
    assert car_events("Vehicle.Speed", 0.0, 50.0) == []


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)


@given(st.sampled_from([CABLE, CHARGING, LOCKED, "Vehicle.Speed", ""]), scalars, scalars)
def test_events_only_on_a_bool_transition_and_always_declared(
    ref: str, old: object, new: object
) -> None:
    events = car_events(ref, old, new)  # type: ignore[arg-type]
    if events:
        assert type(old) is bool
        assert type(new) is bool
        assert old != new
        (event,) = events
        assert CAR_EVENT_SIGNALS[event].path == ref
        assert CAR_EVENT_SIGNALS[event].becomes is new
