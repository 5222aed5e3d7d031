"""The CAN feeder: mapping files, conversion, rate limits, bad frames, and a real virtual bus."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import can
import cantools
import pytest
from cantools.database.can import Database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartev.core.clock import SimClock
from smartev.core.errors import InvalidInputError
from smartev.spec import shipped_catalog
from smartev.vehicle.can_feeder import CanBusError, CanFeeder, load_can_feeder
from smartev.vehicle.can_mapping import (
    EXAMPLE_DBC_PATH,
    EXAMPLE_MAPPING_PATH,
    CanMapping,
    CanMappingError,
    load_can_mapping,
    load_dbc,
    parse_can_mapping,
)

SPEED = "Vehicle.Speed"
SOC = "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current"
CURRENT = "Vehicle.Powertrain.TractionBattery.CurrentCurrent"
IS_CHARGING = "Vehicle.Powertrain.TractionBattery.Charging.IsCharging"
DRIVER_LOCKED = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
ODOMETER = "Vehicle.TraveledDistance"

# A small DBC of the test's own, for cases the example does not have (float signals).
TEST_DBC = """\
VERSION ""
NS_ :
BS_:
BU_: ECU
BO_ 16 Motion: 2 ECU
 SG_ Speed : 0|16@1+ (0.1,0) [0|6553.4] "km/h" ECU
BO_ 32 Thermal: 4 ECU
 SG_ Temp : 0|32@1- (1,0) [-1e9|1e9] "degC" ECU
BO_ 48 Gear: 1 ECU
 SG_ GearLever : 0|3@1+ (1,0) [0|7] "" ECU
BO_ 64 Spare: 1 ECU
 SG_ Unused : 0|8@1+ (1,0) [0|255] "" ECU
SIG_VALTYPE_ 32 Temp : 1;
VAL_ 16 Speed 65535 "SNA" ;
VAL_ 48 GearLever 0 "P" 1 "R" 2 "N" 3 "D" ;
"""


class Recorder:
    """Stands in for the broker: records every publish call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self.changed = asyncio.Event()

    def __call__(self, updates: Mapping[str, object]) -> None:
        self.calls.append(dict(updates))
        self.changed.set()

    def latest(self) -> dict[str, object]:
        merged: dict[str, object] = {}
        for call in self.calls:
            merged.update(call)
        return merged

    def values_of(self, path: str) -> list[object]:
        return [call[path] for call in self.calls if path in call]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(datetime(2025, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def example_db() -> Database:
    return _example()[0]


@pytest.fixture
def test_db() -> Database:
    db = cantools.database.load_string(TEST_DBC, database_format="dbc")
    assert isinstance(db, Database)
    return db


@functools.cache
def _example() -> tuple[Database, CanMapping]:
    db = load_dbc(EXAMPLE_DBC_PATH)
    return db, load_can_mapping(EXAMPLE_MAPPING_PATH, db)


def mapping_of(db: Database, *entries: dict[str, object]) -> CanMapping:
    return parse_can_mapping({"signals": list(entries)}, db)


def frame(
    db: Database, message: str, *, strict: bool = True, **signals: float | str
) -> tuple[int, bytes]:
    msg = db.get_message_by_name(message)
    return msg.frame_id, msg.encode(signals, strict=strict)


def feed(
    feeder: CanFeeder, db: Database, message: str, *, strict: bool = True, **signals: float | str
) -> None:
    frame_id, data = frame(db, message, strict=strict, **signals)
    feeder.on_frame(frame_id, data, 0.0)


# --- mapping files -------------------------------------------------------------------------


def test_example_mapping_loads_against_example_dbc(example_db: Database) -> None:
    mapping = load_can_mapping(EXAMPLE_MAPPING_PATH, example_db)
    paths = {entry.path for entry in mapping.signals}
    assert {SPEED, SOC, CURRENT, IS_CHARGING, DRIVER_LOCKED, ODOMETER} <= paths
    assert mapping.messages() == {m.name for m in example_db.messages}


def _error_for(db: Database, entry: dict[str, object]) -> str:
    with pytest.raises(CanMappingError) as info:
        mapping_of(db, {"path": "Vehicle.Speed", "message": "Motion", "signal": "Speed"}, entry)
    assert isinstance(info.value, InvalidInputError)
    return str(info.value)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"path": "Vehicle.X", "message": "Nope", "signal": "Speed"},
            "signals[1] (Vehicle.X): message 'Nope' (of signal 'Speed') is not in",
        ),
        (
            {"path": "Vehicle.X", "message": "Motion", "signal": "Nope"},
            "signals[1] (Vehicle.X): signal 'Nope' is not in message 'Motion'; it has: Speed",
        ),
        (
            {
                "path": "Vehicle.X",
                "message": "Gear",
                "signal": "GearLever",
                "map": {0: 1},
                "scale": 2,
            },
            "signals[1] (Vehicle.X): give either 'map' or 'scale'/'offset', not both",
        ),
        (
            {"message": "Motion", "signal": "Speed"},
            "signals[1]: field 'path' is required",
        ),
        (
            {"path": "Vehicle Speed", "message": "Motion", "signal": "Speed"},
            "'Vehicle Speed' is not a VSS path",
        ),
        (
            {"path": "Vehicle.X", "message": "Motion", "signal": "Speed", "min_interval": 5},
            "unknown field(s) min_interval",
        ),
        (
            {"path": "Vehicle.X", "message": "Motion", "signal": "Speed", "scale": "x"},
            "field 'scale' must be a finite number, got 'x'",
        ),
        (
            {"path": "Vehicle.X", "message": "Motion", "signal": "Speed", "min_interval_ms": -1},
            "field 'min_interval_ms' must be >= 0",
        ),
        (
            {"path": "Vehicle.X", "message": "Motion", "signal": "Speed", "on_change": "yes"},
            "field 'on_change' must be true or false",
        ),
        (
            {"path": "Vehicle.X", "message": "Motion", "signal": "Speed", "datatype": "int"},
            "field 'datatype': 'int' is not one of",
        ),
        (
            {"path": "Vehicle.X", "message": "Gear", "signal": "GearLever", "map": {"DRIVE": 1}},
            "map key 'DRIVE' is not a choice of signal GearLever; its choices are D, N, P, R",
        ),
        (
            {"path": "Vehicle.X", "message": "Gear", "signal": "GearLever", "map": {True: 1}},
            "map key True is a YAML boolean",
        ),
        (
            {
                "path": "Vehicle.X",
                "message": "Gear",
                "signal": "GearLever",
                "map": {"P": 300},
                "datatype": "int8",
            },
            "map value 300 for 'P' is not a valid int8",
        ),
        (
            {"path": "Vehicle.Speed", "message": "Motion", "signal": "Speed"},
            "signals[1]: path Vehicle.Speed is already mapped by signals[0]",
        ),
    ],
)
def test_mapping_errors_name_the_entry_and_the_field(
    test_db: Database, entry: dict[str, object], expected: str
) -> None:
    assert expected in _error_for(test_db, entry)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("signals: [path: Vehicle.Speed\n", "is not valid YAML"),
        ("- path: Vehicle.Speed\n", "must be a mapping with one key, 'signals'"),
        ("signals: []\n", "'signals' must be a non-empty list"),
        ("signals:\n  - [Vehicle.Speed]\n", "signals[0]: must be a mapping"),
    ],
)
def test_mapping_file_errors(tmp_path: Path, test_db: Database, text: str, expected: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CanMappingError, match=r"mapping\.yaml") as info:
        load_can_mapping(path, test_db)
    assert expected in str(info.value)


def test_missing_and_unparsable_files(tmp_path: Path, test_db: Database) -> None:
    with pytest.raises(CanMappingError, match="cannot read CAN mapping"):
        load_can_mapping(tmp_path / "absent.yaml", test_db)
    with pytest.raises(CanMappingError, match="cannot read CAN database"):
        load_dbc(tmp_path / "absent.dbc")
    broken = tmp_path / "broken.dbc"
    broken.write_text("BO_ this is not a DBC", encoding="utf-8")
    with pytest.raises(CanMappingError, match="cannot parse CAN database"):
        load_dbc(broken)


def test_feeder_rejects_a_mapping_made_for_another_dbc(
    example_db: Database, test_db: Database, clock: SimClock
) -> None:
    mapping = mapping_of(test_db, {"path": SPEED, "message": "Motion", "signal": "Speed"})
    with pytest.raises(CanMappingError, match="'Motion'"):
        CanFeeder(example_db, mapping, Recorder(), clock=clock)


# --- conversion ----------------------------------------------------------------------------


def test_example_frames_publish_vss_values(example_db: Database, clock: SimClock) -> None:
    published = Recorder()
    feeder = load_can_feeder(EXAMPLE_DBC_PATH, EXAMPLE_MAPPING_PATH, published, clock=clock)
    feed(feeder, example_db, "VehicleDynamics", VehicleSpeed=88.5, LongitudinalAccel=-1.5)
    feed(
        feeder,
        example_db,
        "BatteryStatus",
        BatteryVoltage=400.2,
        BatteryCurrent=120.5,  # discharging, as the BMS counts it
        StateOfCharge=55.5,
        BatteryTemperature=25,
    )
    feed(
        feeder,
        example_db,
        "ChargingStatus",
        ChargingState="CHARGING",
        ChargeLimit=80,
        TimeToComplete=95,
    )
    feed(
        feeder,
        example_db,
        "DoorStatus",
        DriverDoorLocked=1,
        PassengerDoorLocked=0,
        RearLeftDoorLocked=1,
        RearRightDoorLocked=1,
    )
    feed(feeder, example_db, "Odometer", OdometerValue=12345.6)

    assert len(published.calls) == 5  # one publish per frame, with all of its signals
    assert published.calls[1].keys() == {
        CURRENT,
        SOC,
        "Vehicle.Powertrain.TractionBattery.CurrentVoltage",
        "Vehicle.Powertrain.TractionBattery.Temperature.Average",
    }
    values = published.latest()
    assert values[SPEED] == pytest.approx(88.5)
    assert values[CURRENT] == pytest.approx(-120.5)  # VSS counts charging as positive
    assert values[SOC] == pytest.approx(55.5)
    assert values[IS_CHARGING] is True
    assert values["Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit"] == 80
    assert values["Vehicle.Powertrain.TractionBattery.Charging.TimeToComplete"] == 95 * 60
    assert values[DRIVER_LOCKED] is True
    assert values["Vehicle.Cabin.Door.Row1.PassengerSide.IsLocked"] is False
    assert values[ODOMETER] == 12_345_600
    assert feeder.stats.published == 15
    catalog = shipped_catalog()
    for path, value in values.items():
        assert catalog.validate(path, value) == value  # VSS-typed and in range
    for entry in feeder.mapping.signals:
        if entry.datatype is not None:
            assert catalog.get(entry.path).datatype.value == entry.datatype


def test_choice_names_without_a_map_are_published_as_strings(
    test_db: Database, clock: SimClock
) -> None:
    published = Recorder()
    mapping = mapping_of(
        test_db, {"path": "Vehicle.Powertrain.Gear", "message": "Gear", "signal": "GearLever"}
    )
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    feed(feeder, test_db, "Gear", GearLever="D")
    feed(feeder, test_db, "Gear", GearLever=5)  # a number the DBC does not name
    assert published.values_of("Vehicle.Powertrain.Gear") == ["D", 5]
    assert type(published.values_of("Vehicle.Powertrain.Gear")[0]) is str


def test_map_matches_choice_names_then_numbers_and_drops_the_rest(
    test_db: Database, clock: SimClock
) -> None:
    published = Recorder()
    mapping = mapping_of(
        test_db,
        {
            "path": "Vehicle.Powertrain.Transmission.CurrentGear",
            "message": "Gear",
            "signal": "GearLever",
            "map": {"D": 1, "R": -1, 2: 0, 6: 9},
        },
    )
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    for lever in ("D", "R", "N", "P", 6):
        feed(feeder, test_db, "Gear", GearLever=lever)
    assert published.values_of("Vehicle.Powertrain.Transmission.CurrentGear") == [1, -1, 0, 9]
    assert feeder.stats.dropped == 1  # P is in neither the names nor the numbers


def test_named_values_and_non_finite_floats_on_numeric_paths_are_dropped(
    test_db: Database, clock: SimClock
) -> None:
    published = Recorder()
    mapping = mapping_of(
        test_db,
        {"path": SPEED, "message": "Motion", "signal": "Speed", "datatype": "float"},
        {"path": "Vehicle.Cabin.Temp", "message": "Thermal", "signal": "Temp"},
    )
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    feed(feeder, test_db, "Motion", Speed="SNA")
    feed(feeder, test_db, "Thermal", strict=False, Temp=math.nan)
    feed(feeder, test_db, "Thermal", strict=False, Temp=math.inf)
    assert published.calls == []
    assert feeder.stats.dropped == 3
    feed(feeder, test_db, "Motion", Speed=12.5)
    assert published.calls == [{SPEED: pytest.approx(12.5)}]


@pytest.mark.parametrize(
    ("datatype", "raw", "expected"),
    [
        ("uint8", 100.4, 100),
        ("uint8", 300.0, None),
        ("int16", -12.6, -13),
        ("boolean", 0.0, False),
        ("float", 7, 7.0),
        ("string", 7, None),
    ],
)
def test_datatype_conversion(
    test_db: Database, clock: SimClock, datatype: str, raw: float, expected: object
) -> None:
    published = Recorder()
    mapping = mapping_of(
        test_db, {"path": "Vehicle.X", "message": "Thermal", "signal": "Temp", "datatype": datatype}
    )
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    feed(feeder, test_db, "Thermal", Temp=raw)
    got = published.values_of("Vehicle.X")
    assert got == ([] if expected is None else [expected])
    if got:
        assert type(got[0]) is type(expected)


# --- rate limits ---------------------------------------------------------------------------


def test_min_interval_publishes_at_most_once_per_interval(
    test_db: Database, clock: SimClock
) -> None:
    published = Recorder()
    mapping = mapping_of(
        test_db, {"path": SPEED, "message": "Motion", "signal": "Speed", "min_interval_ms": 100}
    )
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    for step, speed in enumerate([10.0, 11.0, 12.0, 13.0, 14.0, 15.0]):
        if step:
            clock.advance(0.04)
        feed(feeder, test_db, "Motion", Speed=speed)
    # Frames at 0, 40, 80, 120, 160 and 200 ms: 0 and 120 are published, the rest too soon.
    assert published.values_of(SPEED) == pytest.approx([10.0, 13.0])
    clock.advance(0.02)  # exactly 100 ms after the last publish
    feed(feeder, test_db, "Motion", Speed=16.0)
    assert published.values_of(SPEED) == pytest.approx([10.0, 13.0, 16.0])
    assert feeder.stats.decoded == 7


def test_on_change_publishes_only_changed_values(test_db: Database, clock: SimClock) -> None:
    published = Recorder()
    mapping = mapping_of(
        test_db, {"path": SPEED, "message": "Motion", "signal": "Speed", "on_change": True}
    )
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    for speed in (5.0, 5.0, 5.0, 6.0, 6.0, 5.0):
        feed(feeder, test_db, "Motion", Speed=speed)
    assert published.values_of(SPEED) == pytest.approx([5.0, 6.0, 5.0])


def test_a_change_held_back_by_the_interval_is_published_by_a_later_frame(
    test_db: Database, clock: SimClock
) -> None:
    published = Recorder()
    mapping = mapping_of(
        test_db,
        {
            "path": SPEED,
            "message": "Motion",
            "signal": "Speed",
            "on_change": True,
            "min_interval_ms": 1000,
        },
    )
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    feed(feeder, test_db, "Motion", Speed=5.0)
    clock.advance(0.5)
    feed(feeder, test_db, "Motion", Speed=7.0)  # too soon
    clock.advance(0.5)
    feed(feeder, test_db, "Motion", Speed=7.0)  # the same value again, but new to subscribers
    clock.advance(1.0)
    feed(feeder, test_db, "Motion", Speed=7.0)  # unchanged since the last publish
    assert published.values_of(SPEED) == pytest.approx([5.0, 7.0])


def test_rate_limits_are_per_path_within_one_frame(example_db: Database, clock: SimClock) -> None:
    published = Recorder()
    feeder = load_can_feeder(EXAMPLE_DBC_PATH, EXAMPLE_MAPPING_PATH, published, clock=clock)
    for soc in (50, 51):
        feed(
            feeder,
            example_db,
            "BatteryStatus",
            BatteryVoltage=400,
            BatteryCurrent=10,
            StateOfCharge=soc,
            BatteryTemperature=25,
        )
        # Next frame: voltage and current (500 ms) are due, SoC (1 s) and temperature are not.
        clock.advance(0.5)
    assert published.calls[1].keys() == {
        "Vehicle.Powertrain.TractionBattery.CurrentVoltage",
        CURRENT,
    }


def test_refused_publish_is_counted_and_retried(
    test_db: Database, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[dict[str, object]] = []

    def refusing(updates: Mapping[str, object]) -> None:
        calls.append(dict(updates))
        if len(calls) <= 2:
            raise InvalidInputError(f"invalid value {updates[SPEED]} for {SPEED}")

    mapping = mapping_of(
        test_db, {"path": SPEED, "message": "Motion", "signal": "Speed", "on_change": True}
    )
    feeder = CanFeeder(test_db, mapping, refusing, clock=clock)
    with caplog.at_level(logging.WARNING, logger="smartev.vehicle.can_feeder"):
        for _ in range(3):
            feed(feeder, test_db, "Motion", Speed=5.0)
    assert len(calls) == 3  # refused values are not remembered, so on_change tries again
    assert feeder.stats.publish_errors == 2
    assert feeder.stats.published == 1
    assert len([r for r in caplog.records if "publish refused" in r.message]) == 1


def test_one_refused_value_does_not_hold_back_the_rest_of_its_frame(
    example_db: Database, clock: SimClock
) -> None:
    published = Recorder()

    def checking_broker(updates: Mapping[str, object]) -> None:
        soc = updates.get(SOC)
        if isinstance(soc, float) and soc > 100:  # the broker refuses the whole batch
            raise InvalidInputError(f"invalid value {soc} for {SOC}: must be 0..100")
        published(updates)

    db, mapping = _example()
    feeder = CanFeeder(db, mapping, checking_broker, clock=clock)
    feed(
        feeder,
        example_db,
        "BatteryStatus",
        strict=False,
        BatteryVoltage=400,
        BatteryCurrent=10,
        StateOfCharge=110,  # 8 bits at 0.5 % reach 127.5 %
        BatteryTemperature=25,
    )
    assert SOC not in published.latest()
    assert published.latest()[CURRENT] == pytest.approx(-10.0)
    assert len(published.latest()) == 3
    assert (feeder.stats.published, feeder.stats.publish_errors) == (3, 1)


# --- bad frames ----------------------------------------------------------------------------


def test_unknown_unmapped_and_malformed_frames_are_counted(
    test_db: Database, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    published = Recorder()
    mapping = mapping_of(test_db, {"path": SPEED, "message": "Motion", "signal": "Speed"})
    feeder = CanFeeder(test_db, mapping, published, clock=clock)
    with caplog.at_level(logging.WARNING, logger="smartev.vehicle.can_feeder"):
        feeder.on_frame(0x7FF, b"\x00" * 8, 1.0)  # not in the DBC
        feeder.on_frame(64, b"\x00", 2.0)  # Spare: in the DBC, nothing mapped
        feeder.on_frame(16, b"\x01", 3.0)  # Motion is 2 bytes long
        feeder.on_frame(16, b"", 4.0)
        feeder.on_frame(16, b"\x10\x00", 5.0)
    stats = feeder.stats
    assert (stats.frames, stats.unknown_id, stats.unmapped) == (5, 1, 1)
    assert (stats.decode_errors, stats.decoded, stats.published) == (2, 1, 1)
    decode_logs = [r for r in caplog.records if "cannot decode CAN frame 0x10" in r.message]
    assert len(decode_logs) == 1  # once per id


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from([0x101, 0x1A0, 0x1B0, 0x2C0, 0x3E0]),
                st.integers(min_value=0, max_value=0x1FFFFFFF),
            ),
            st.binary(min_size=0, max_size=64),
        ),
        max_size=20,
    )
)
def test_on_frame_never_raises(frames: list[tuple[int, bytes]]) -> None:
    clock = SimClock(datetime(2025, 6, 1, tzinfo=UTC))
    published = Recorder()
    db, mapping = _example()
    feeder = CanFeeder(db, mapping, published, clock=clock)
    for arbitration_id, data in frames:
        feeder.on_frame(arbitration_id, data, 0.0)
        clock.advance(0.01)
    s = feeder.stats
    assert s.frames == len(frames) == s.unknown_id + s.unmapped + s.decode_errors + s.decoded
    for call in published.calls:
        for value in call.values():
            assert type(value) in (bool, int, float, str)
            assert not isinstance(value, float) or math.isfinite(value)


# --- a real (virtual) CAN bus --------------------------------------------------------------


@pytest.fixture
def bus_pair() -> Iterator[tuple[can.BusABC, can.BusABC]]:
    channel = f"test-{uuid.uuid4()}"
    sender = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    receiver = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    yield sender, receiver
    sender.shutdown()
    receiver.shutdown()


async def wait_until(published: Recorder, done: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async def poll() -> None:
        while not done():
            published.changed.clear()
            await published.changed.wait()

    await asyncio.wait_for(poll(), timeout_s)  # the timeout only guards against a hang


async def test_feeder_reads_a_virtual_bus(
    bus_pair: tuple[can.BusABC, can.BusABC], example_db: Database, clock: SimClock
) -> None:
    sender, receiver = bus_pair
    published = Recorder()
    feeder = load_can_feeder(EXAMPLE_DBC_PATH, EXAMPLE_MAPPING_PATH, published, clock=clock)
    task = asyncio.create_task(feeder.run(receiver))
    frames = [
        frame(example_db, "VehicleDynamics", VehicleSpeed=42.0, LongitudinalAccel=0.5),
        frame(
            example_db,
            "BatteryStatus",
            BatteryVoltage=398.0,
            BatteryCurrent=-50.0,  # charging, as the BMS counts it
            StateOfCharge=80,
            BatteryTemperature=30,
        ),
        frame(
            example_db,
            "ChargingStatus",
            ChargingState="CONNECTED",
            ChargeLimit=90,
            TimeToComplete=0,
        ),
        (0x555, b"\x01\x02"),  # not in the DBC
        frame(
            example_db,
            "DoorStatus",
            DriverDoorLocked=1,
            PassengerDoorLocked=1,
            RearLeftDoorLocked=0,
            RearRightDoorLocked=0,
        ),
        frame(example_db, "Odometer", OdometerValue=100.5),
    ]
    for arbitration_id, data in frames:
        sender.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))

    await wait_until(published, lambda: ODOMETER in published.latest())
    values = published.latest()
    assert values[SPEED] == pytest.approx(42.0)
    assert values[CURRENT] == pytest.approx(50.0)
    assert values[SOC] == pytest.approx(80.0)
    assert values[IS_CHARGING] is False
    assert (
        values[
            "Vehicle.Powertrain.TractionBattery.Charging.ChargingPort.AnyPosition.IsChargingCableConnected"
        ]
        is True
    )
    assert values[DRIVER_LOCKED] is True
    assert values["Vehicle.Cabin.Door.Row2.DriverSide.IsLocked"] is False
    assert values[ODOMETER] == 100_500
    assert feeder.stats.unknown_id == 1

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert can.Notifier.find_instances(receiver) == ()  # the reader thread is stopped


class _BrokenBus(can.BusABC):
    """A bus whose receiver fails, as a pulled USB adapter does."""

    def __init__(self) -> None:
        super().__init__(channel="broken")

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        raise can.CanOperationError("adapter unplugged")

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise can.CanOperationError("adapter unplugged")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_failing_bus_ends_run_with_a_peer_error(clock: SimClock) -> None:
    feeder = load_can_feeder(EXAMPLE_DBC_PATH, EXAMPLE_MAPPING_PATH, Recorder(), clock=clock)
    bus = _BrokenBus()
    try:
        with pytest.raises(CanBusError, match="adapter unplugged"):
            await asyncio.wait_for(feeder.run(bus), 5.0)
    finally:
        bus.shutdown()
