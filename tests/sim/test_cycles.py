import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.core.errors import InvalidInputError
from smartev.sim.cycles import (
    BUILTIN_CYCLES,
    DriveCycle,
    builtin_cycle,
    format_cycle_csv,
    load_cycle,
    load_cycle_csv,
    parse_cycle_csv,
)
from smartev.sim.errors import InvalidCycleError

M_PER_MILE = 1609.344

# name -> (duration s, distance km, published distance in miles or None) of the regulatory traces.
EXPECTED = {
    "udds": (1369.0, 11.99, 7.45),
    "hwfet": (765.0, 16.51, 10.26),
    "us06": (600.0, 12.89, 8.01),
    "wltc3b": (1800.0, 23.27, None),
}


# --- built-in cycles -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN_CYCLES)
def test_builtin_cycles_have_their_regulatory_duration_and_distance(name: str) -> None:
    duration_s, distance_km, distance_mi = EXPECTED[name]
    cycle = builtin_cycle(name)
    assert cycle.name == name
    assert cycle.duration_s == duration_s
    assert cycle.distance_m / 1000 == pytest.approx(distance_km, abs=0.01)
    if distance_mi is not None:
        assert cycle.distance_m / M_PER_MILE == pytest.approx(distance_mi, abs=0.006)
    assert cycle.is_uniform(1.0)
    assert cycle.speed_mps[0] == 0.0
    assert cycle.speed_mps[-1] == 0.0
    assert np.all(cycle.grade == 0.0)
    assert "fastsim 2.1.5" in cycle.source


def test_builtin_max_speeds() -> None:
    # Published top speeds: UDDS 56.7 mph, HWFET 59.9 mph, US06 80.3 mph, WLTC 3b 131.3 km/h.
    assert builtin_cycle("udds").max_speed_mps * 3.6 == pytest.approx(91.25, abs=0.01)
    assert builtin_cycle("hwfet").max_speed_mps * 3.6 == pytest.approx(96.40, abs=0.01)
    assert builtin_cycle("us06").max_speed_mps * 3.6 == pytest.approx(129.23, abs=0.01)
    assert builtin_cycle("wltc3b").max_speed_mps * 3.6 == pytest.approx(131.3, abs=1e-6)


def test_builtin_cycle_is_case_insensitive_cached_and_read_only() -> None:
    cycle = builtin_cycle("UDDS")
    assert builtin_cycle("udds") is cycle
    assert load_cycle("Udds") is cycle
    for array in (cycle.time_s, cycle.speed_mps, cycle.grade):
        assert array.dtype == np.float64
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1.0


def test_unknown_builtin_lists_the_known_names() -> None:
    with pytest.raises(InvalidCycleError, match="udds, hwfet, us06, wltc3b") as info:
        builtin_cycle("nedc")
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidCycleError, match="neither a built-in cycle"):
        load_cycle("nedc")


# --- DriveCycle ---------------------------------------------------------------------------------


def make_cycle(times: list[float], speeds: list[float]) -> DriveCycle:
    return DriveCycle("test", np.array(times), np.array(speeds), np.zeros(len(times)))


def test_distance_is_trapezoidal() -> None:
    cycle = make_cycle([0.0, 10.0, 20.0, 30.0], [0.0, 10.0, 10.0, 0.0])
    assert cycle.distance_m == 200.0
    assert cycle.duration_s == 30.0
    assert cycle.max_speed_mps == 10.0


def test_constructor_copies_and_freezes_the_arrays() -> None:
    speeds = np.array([0.0, 1.0, 0.0])
    cycle = DriveCycle("c", np.array([0.0, 1.0, 2.0]), speeds, np.zeros(3))
    speeds[1] = 5.0  # the caller's array stays theirs
    assert cycle.speed_mps[1] == 1.0
    assert not cycle.speed_mps.flags.writeable


@pytest.mark.parametrize(
    ("times", "speeds", "message"),
    [
        ([0.0], [0.0], "length >= 2"),
        ([0.0, 1.0], [0.0], "length >= 2"),
        ([1.0, 2.0], [0.0, 0.0], "start at 0"),
        ([0.0, 1.0, 1.0], [0.0, 0.0, 0.0], "increase strictly"),
        ([0.0, 1.0], [0.0, -1.0], ">= 0"),
        ([0.0, 1.0], [0.0, math.nan], "NaN"),
    ],
)
def test_constructor_rejects_broken_traces(
    times: list[float], speeds: list[float], message: str
) -> None:
    with pytest.raises(InvalidCycleError, match=message):
        DriveCycle("c", np.array(times), np.array(speeds), np.zeros(len(times)))


def test_resampled_interpolates_onto_a_uniform_grid() -> None:
    cycle = make_cycle([0.0, 2.0, 5.0], [0.0, 4.0, 1.0])
    half = cycle.resampled(0.5)
    assert half.is_uniform(0.5)
    assert not cycle.is_uniform(1.0)
    np.testing.assert_allclose(half.time_s, np.arange(11) * 0.5)
    assert half.speed_mps[2] == pytest.approx(2.0)  # t = 1 s, halfway up the first ramp
    assert half.speed_mps[7] == pytest.approx(2.5)  # t = 3.5 s, halfway down from 4 to 1
    assert half.distance_m == pytest.approx(cycle.distance_m)  # linear pieces: exact
    # A step that does not divide the duration stops before the end, never after it.
    coarse = cycle.resampled(2.0)
    np.testing.assert_allclose(coarse.time_s, [0.0, 2.0, 4.0])


def test_resampled_udds_at_a_tenth_of_a_second_keeps_the_end() -> None:
    fine = builtin_cycle("udds").resampled(0.1)
    assert fine.duration_s == 1369.0
    assert fine.is_uniform(0.1)
    assert fine.distance_m == pytest.approx(builtin_cycle("udds").distance_m, rel=1e-12)


def test_resampled_rejects_bad_steps() -> None:
    cycle = make_cycle([0.0, 1.0], [0.0, 1.0])
    for dt_s in (0.0, -1.0, math.inf, 2.0):
        with pytest.raises(InvalidCycleError, match="dt_s"):
            cycle.resampled(dt_s)


# --- CSV: hand-written files --------------------------------------------------------------------

GOOD = """\
# a comment, then a blank line

time_s,speed_kmh,grade_pct
0,0,0
1,3.6,1.5
# a comment in the middle
2,7.2,-2
"""


def test_parse_reads_units_grade_and_skips_comments() -> None:
    cycle = parse_cycle_csv(GOOD, name="good")
    assert cycle.name == "good"
    np.testing.assert_array_equal(cycle.time_s, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(cycle.speed_mps, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(cycle.grade, [0.0, 0.015, -0.02])


def test_parse_accepts_speed_in_mps_a_bom_and_crlf() -> None:
    cycle = parse_cycle_csv("\ufefftime_s,speed_mps\r\n0,0\r\n0.5,2.5\r\n")
    np.testing.assert_array_equal(cycle.speed_mps, [0.0, 2.5])
    np.testing.assert_array_equal(cycle.grade, [0.0, 0.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cycle.csv: no header and no data"),
        ("# only a comment\n\n", "cycle.csv: no header and no data"),
        ("0,0\n1,1\n", "cycle.csv line 1: missing header before data '0,0'"),
        ("time,speed\n0,0\n1,1\n", "cycle.csv line 1: header 'time,speed' is not"),
        ("time_s,speed_mph\n0,0\n", "cycle.csv line 1: header 'time_s,speed_mph' is not"),
        ("speed_kmh,time_s\n0,0\n", "cycle.csv line 1: header"),
        ("time_s,speed_kmh,grade\n", "cycle.csv line 1: header"),
        ("time_s,speed_kmh\n", "cycle.csv line 1: only 0 data line"),
        ("# c\ntime_s,speed_kmh\n\n0,0\n", "cycle.csv line 4: only 1 data line"),
        ("time_s,speed_kmh\n0,0\n1,2,3\n", "cycle.csv line 3: 3 field(s) but the header has 2"),
        ("time_s,speed_kmh\n0,0\n1\n", "cycle.csv line 3: 1 field(s) but the header has 2"),
        ("time_s,speed_kmh\n0,0\n1,fast\n", "cycle.csv line 3: speed_kmh 'fast' is not a number"),
        (
            "time_s,speed_kmh\n0,0\n1,nan\n",
            "cycle.csv line 3: speed_kmh is 'nan'; it must be a finite",
        ),
        ("time_s,speed_kmh\n0,0\ninf,0\n", "cycle.csv line 3: time_s is 'inf'"),
        (
            "time_s,speed_kmh\n1,0\n2,0\n",
            "cycle.csv line 2: the first time is 1.0 s; a cycle starts at 0",
        ),
        (
            "time_s,speed_kmh\n0,0\n1,0\n\n# pause\n1,0\n",
            "cycle.csv line 6: time 1.0 s is not after the previous 1.0 s "
            "(time must increase strictly)",
        ),
        (
            "time_s,speed_kmh\n0,0\n2,0\n1,0\n",
            "cycle.csv line 4: time 1.0 s is not after the previous 2.0",
        ),
        ("time_s,speed_kmh\n0,0\n1,-3\n", "cycle.csv line 3: speed -3.0 km/h is negative"),
        (
            "time_s,speed_kmh\n0,401\n1,401\n",
            "cycle.csv line 2: speed 401.0 km/h is above 400 km/h",
        ),
        (
            "time_s,speed_mps\n0,0\n1,112\n",
            "cycle.csv line 3: speed 112.0 m/s is above 111.111 m/s",
        ),
        (
            "time_s,speed_kmh,grade_pct\n0,0,0\n1,0,41\n",
            "cycle.csv line 3: grade 41.0 % is outside -40..40",
        ),
        ("time_s,speed_kmh,grade_pct\n0,0,-40.5\n1,0,0\n", "cycle.csv line 2: grade -40.5 %"),
        (
            "time_s,speed_kmh\n0,0\n# a comment\n1,60\n",
            "cycle.csv lines 2 and 4: speed goes from 0.0 to 60.0 km/h in 1 s, "
            "an acceleration of 16.7",
        ),
        (
            "time_s,speed_mps\n0,20\n0.5,0\n",
            "cycle.csv lines 2 and 3: .* -40 m/s²; it must be within ±15",
        ),
    ],
)
def test_bad_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidCycleError, match=message if ".*" in message else re.escape(message)):
        parse_cycle_csv(text, name="cycle.csv")


def test_the_limits_themselves_are_allowed() -> None:
    # 54 km/h in 1 s is exactly 15 m/s².
    cycle = parse_cycle_csv("time_s,speed_kmh,grade_pct\n0,0,40\n1,54,-40\n2,0,0\n")
    np.testing.assert_allclose(cycle.grade, [0.4, -0.4, 0.0])
    assert parse_cycle_csv("time_s,speed_kmh\n0,400\n1,400\n").max_speed_mps == 400 / 3.6


def test_load_cycle_csv_names_the_file_in_errors_and_the_cycle_after_it(tmp_path: Path) -> None:
    path = tmp_path / "commute.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert load_cycle_csv(path).name == "commute"
    assert load_cycle_csv(str(path), name="other").name == "other"
    assert load_cycle(path).source == f"file {path}"
    assert load_cycle(str(path)).name == "commute"
    path.write_text("time_s,speed_kmh\n0,0\n1,x\n", encoding="utf-8")
    with pytest.raises(InvalidCycleError, match=re.escape(f"{path} line 3: speed_kmh 'x'")):
        load_cycle_csv(path)


def test_load_cycle_csv_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidCycleError, match="cannot read"):
        load_cycle_csv(tmp_path / "missing.csv")
    with pytest.raises(InvalidCycleError, match="cannot read"):
        load_cycle(str(tmp_path / "missing.csv"))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InvalidCycleError, match="cannot read"):
        load_cycle_csv(binary)


def test_a_path_named_like_a_builtin_is_read_as_a_file(tmp_path: Path) -> None:
    path = tmp_path / "udds"
    path.write_text("time_s,speed_mps\n0,0\n1,1\n", encoding="utf-8")
    assert load_cycle(path).duration_s == 1.0


# --- CSV: properties ----------------------------------------------------------------------------


@st.composite
def cycles(draw: st.DrawFn) -> DriveCycle:
    """Valid traces: strictly increasing time, speed within 0..400 km/h, |a| <= 15 m/s²."""
    steps = draw(
        st.lists(
            st.tuples(
                st.floats(0.01, 10.0),  # dt
                st.floats(-0.99, 0.99),  # acceleration as a fraction of the 15 m/s² limit
                st.floats(-0.4, 0.4),  # grade
            ),
            min_size=1,
            max_size=40,
        )
    )
    time, speed, grade = [0.0], [draw(st.floats(0.0, 110.0))], [draw(st.floats(-0.4, 0.4))]
    for dt, accel, slope in steps:
        time.append(time[-1] + dt)
        speed.append(min(max(speed[-1] + accel * 15.0 * dt, 0.0), 110.0))
        grade.append(slope)
    with_grade = draw(st.booleans())
    return DriveCycle(
        name="generated",
        time_s=np.array(time),
        speed_mps=np.array(speed),
        grade=np.array(grade) if with_grade else np.zeros(len(time)),
        source="hypothesis",
    )


@settings(max_examples=150, deadline=None)
@given(cycles())
def test_csv_round_trip(cycle: DriveCycle) -> None:
    exact = parse_cycle_csv(format_cycle_csv(cycle, speed_unit="mps"), name="generated")
    np.testing.assert_array_equal(exact.time_s, cycle.time_s)
    np.testing.assert_array_equal(exact.speed_mps, cycle.speed_mps)
    np.testing.assert_allclose(exact.grade, cycle.grade, rtol=1e-14, atol=1e-17)

    in_kmh = parse_cycle_csv(format_cycle_csv(cycle), name="generated")
    np.testing.assert_array_equal(in_kmh.time_s, cycle.time_s)
    np.testing.assert_allclose(in_kmh.speed_mps, cycle.speed_mps, rtol=1e-14, atol=1e-13)
    assert in_kmh.distance_m == pytest.approx(cycle.distance_m, rel=1e-12, abs=1e-9)


def check_parse(text: str) -> None:
    try:
        cycle = parse_cycle_csv(text, name="fuzz")
    except InvalidCycleError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith("fuzz")
        return
    assert len(cycle.time_s) >= 2
    assert cycle.time_s[0] == 0.0
    assert np.all(np.diff(cycle.time_s) > 0)
    assert np.all(cycle.speed_mps >= 0)
    assert np.all(np.isfinite(cycle.speed_mps))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_fails_otherwise_on_arbitrary_text(text: str) -> None:
    check_parse(text)


TOKENS = st.sampled_from(
    ["0", "1", "-1", "0.5", "1e3", "1e400", "nan", "inf", "-0", "abc", "", " ", "1_0", "4e-324"]
)
LINES = st.one_of(
    st.lists(TOKENS, min_size=1, max_size=4).map(",".join),
    st.sampled_from(["# c", "", "time_s,speed_kmh", "time_s,speed_mps,grade_pct"]),
    st.text(max_size=10),
)


@st.composite
def near_valid_files(draw: st.DrawFn) -> str:
    """A valid file with a few lines replaced, inserted or deleted: reaches the deeper checks."""
    cycle = draw(cycles())
    lines = format_cycle_csv(cycle, speed_unit=draw(st.sampled_from(["kmh", "mps"]))).split("\n")
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(0, len(lines)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "insert" or index == len(lines):
            lines.insert(index, draw(LINES))
        elif action == "replace":
            lines[index] = draw(LINES)
        else:
            del lines[index]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@settings(max_examples=300, deadline=None)
@given(near_valid_files())
def test_parse_never_fails_otherwise_on_near_valid_files(text: str) -> None:
    check_parse(text)
