import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartev.sim.epa import load_epa_csv, parse_epa_csv
from smartev.sim.errors import InvalidSpecError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "epa2022_bev_calibration.csv"
HEADER = (
    "make,model,config,etw_lb,a_lbf,b_lbf_per_mph,c_lbf_per_mph2,rated_hp,drive,"
    "udds_wall_wh_per_mi,hwfet_wall_wh_per_mi"
)


def test_shipped_set_equals_the_shared_data() -> None:
    shipped = load_epa_csv()
    shared = load_epa_csv(SHARED)
    assert [(c.make, c.model, c.measured_wh_per_mi) for c in shipped] == [
        (c.make, c.model, c.measured_wh_per_mi) for c in shared
    ]
    assert len(shipped) == 6
    tesla = shipped[0]
    assert tesla.spec.drive == "rwd"
    assert tesla.spec.motor_kw == pytest.approx(191.6, abs=0.1)
    assert tesla.measured_wh_per_mi == {"udds": 181.9, "hwfet": 198.1}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("X,Y,0,4000,30,0.1,0.02,200,R,abc,220", "line 2: column udds_wall_wh_per_mi is 'abc'"),
        ("X,Y,0,4000,30,0.1,0.02,200,R,nan,220", "not a finite number"),
        ("X,Y,0,4000,30,0.1,0.02,200,R,5,220", "not a plausible result"),
        ("X,Y,0,-4000,30,0.1,0.02,200,R,200,220", "line 2: etw_lb"),
        ("X,Y,0,4000,30,0.1,0.02,200,R,200,220,extra", "more fields than the header"),
    ],
)
def test_bad_rows_name_line_and_column(row: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as err:
        parse_epa_csv(f"{HEADER}\n{row}\n", source="t.csv")
    assert message in str(err.value)


def test_missing_columns_and_empty_file() -> None:
    with pytest.raises(InvalidSpecError, match="missing column"):
        parse_epa_csv("make,model\nA,B\n")
    with pytest.raises(InvalidSpecError, match="no test cars"):
        parse_epa_csv(HEADER + "\n")


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_fuzzed_csv_gives_cars_or_a_clear_error(text: str) -> None:
    with contextlib.suppress(InvalidSpecError):
        parse_epa_csv(HEADER + "\n" + text)
