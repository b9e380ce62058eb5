"""The reporting calendar: deadlines, receipt attribution, lateness, chase-up list."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from samplekit.errors import InputError, ParamsError
from samplekit.io import write_csv
from samplekit.params import load_params
from samplekit.reporting_calendar import (
    CalendarSettings,
    analysis_status,
    attribute_receipts,
    chase_list,
    city_status,
    closed_before,
    deadline,
    member_status,
    quarterly_deadline,
    response_rates,
)
from samplekit.reports import REPORT_COLUMNS


# ----------------------------------------------------------------------------- deadlines
def test_deadlines_by_network_and_level():
    s = CalendarSettings()
    assert deadline("2013-09", network="ministry", level="city", settings=s) == pd.Timestamp(
        "2013-10-04"
    )
    assert deadline("2013-12", network="ministry", level="province", settings=s) == pd.Timestamp(
        "2014-01-05"
    )
    assert deadline("2013-12", network="provincial", level="city", settings=s) == pd.Timestamp(
        "2014-01-08"
    )
    assert deadline("2013-12", network="provincial", level="province", settings=s) is None


def test_deadline_moves_before_holidays_and_weekends():
    # National Day week: 3rd and 4th October are holidays -> the 4th moves to the 2nd.
    s = CalendarSettings(holidays=("2013-10-03", "2013-10-04"))
    assert deadline("2013-09", network="ministry", level="city", settings=s) == pd.Timestamp(
        "2013-10-02"
    )
    # 2013-05-05 is a Sunday: with weekends the province's deadline is Friday the 3rd.
    assert pd.Timestamp("2013-05-05").day_name() == "Sunday"
    assert deadline(
        "2013-04", network="ministry", level="province", settings=CalendarSettings()
    ) == pd.Timestamp("2013-05-05")
    assert deadline(
        "2013-04", network="ministry", level="province", settings=CalendarSettings(weekends=True)
    ) == pd.Timestamp("2013-05-03")
    # Quarterly report: 5th of the quarter's following month; 2014-01-05 is a Sunday too.
    assert quarterly_deadline("2013Q4") == pd.Timestamp("2014-01-05")
    assert quarterly_deadline("2013Q4", settings=CalendarSettings(weekends=True)) == pd.Timestamp(
        "2014-01-03"
    )


# ----------------------------------------------------------------------- member status
PERIOD = "2013-09"  # ministry city deadline 2013-10-04, provincial city deadline 2013-10-08


def _expected() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "enterprise_id": ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"],
            "name": [f"企业{i}" for i in range(1, 9)],
            "city": ["甲市", "甲市", "乙市", "乙市", "甲市", "乙市", "甲市", "乙市"],
            "ministry": [True, True, True, False, True, False, True, True],
        }
    )


def _deliveries() -> pd.DataFrame:
    rows = [
        ("e1", PERIOD, 1, "replaced"),  # on time, then corrected by load 3
        ("e1", PERIOD, 3, "accepted"),
        ("e2", PERIOD, 1, "accepted"),  # on time (deadline day, 23:00)
        ("e3", PERIOD, 1, "accepted"),  # city 乙's part arrived 2 days late
        ("e5", PERIOD, 1, "quarantined"),  # sent but rejected, never corrected
        ("e6", PERIOD, 2, "accepted"),  # load 2 has no receipt recorded
        ("e7", PERIOD, 1, "quarantined"),  # rejected, corrected late by load 3
        ("e7", PERIOD, 3, "accepted"),
        ("e2", "2013-08", 9, "accepted"),  # another month: ignored
    ]
    return pd.DataFrame(rows, columns=["enterprise_id", "period", "load_id", "status"])


def _receipts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": ["reports", "reports", "reports", "analysis"],
            "load_id": [1, 1, 3, None],
            "city": ["甲市", "乙市", None, "甲市"],
            "period": [None, None, None, "2013Q3"],
            "received_at": pd.to_datetime(
                ["2013-10-04 23:00", "2013-10-06 09:00", "2013-10-09 10:00", "2013-10-05 09:00"]
            ),
            "source": ["argument"] * 4,
        }
    )


def test_member_status_on_hand_made_receipts():
    st = member_status(
        _expected(), _deliveries(), _receipts(), period=PERIOD, closed={"e8"}
    ).set_index("enterprise_id")
    assert st["status"].to_dict() == {
        "e1": "on_time",
        "e2": "on_time",
        "e3": "late",
        "e4": "missing",
        "e5": "quarantined",
        "e6": "time_unknown",
        "e7": "late",
        "e8": "closed",
    }
    # e3: ministry member, deadline 10-04, received 10-06 -> 2 days; e7: 10-09 -> 5 days
    assert st.loc["e3", "days_late"] == 2
    assert st.loc["e7", "days_late"] == 5
    assert st.loc["e1", "received_at"] == pd.Timestamp("2013-10-04 23:00")
    assert st["resubmitted"].to_dict() == {k: k == "e1" for k in st.index}
    # e4 and e6 are provincial members: judged by the provincial deadline (10-08)
    assert st.loc["e6", "deadline"] == pd.Timestamp("2013-10-08")
    assert st.loc["e2", "deadline"] == pd.Timestamp("2013-10-04")


def test_city_status_counts_and_rates():
    st = member_status(_expected(), _deliveries(), _receipts(), period=PERIOD, closed={"e8"})
    cs = city_status(st).set_index("city")
    a, b, total = cs.loc["甲市"], cs.loc["乙市"], cs.loc["全省"]
    # 甲市: e1 on time, e2 on time, e5 quarantined, e7 late (5 days)
    assert (a["expected"], a["on_time"], a["late"], a["quarantined"], a["missing"]) == (
        4,
        2,
        1,
        1,
        0,
    )
    assert a["reported"] == 3 and a["resubmitted"] == 1
    assert a["response_rate"] == pytest.approx(75.0)
    assert a["on_time_rate"] == pytest.approx(50.0)
    assert a["mean_days_late"] == pytest.approx(5.0)
    # 乙市: e3 late (2), e4 missing, e6 time unknown, e8 closed (not due)
    assert (b["expected"], b["late"], b["missing"], b["time_unknown"], b["closed"]) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert b["response_rate"] == pytest.approx(100 * 2 / 3)
    assert b["on_time_rate"] == pytest.approx(0.0)
    assert total["expected"] == 8 and total["max_days_late"] == 5
    assert total["mean_days_late"] == pytest.approx(3.5)


def test_city_receipt_overrides_whole_file_receipt():
    d = pd.DataFrame(
        {"enterprise_id": ["x", "y"], "period": PERIOD, "load_id": [1, 1], "status": "accepted"}
    )
    r = pd.DataFrame(
        {
            "kind": "reports",
            "load_id": [1, 1],
            "city": [None, "乙市"],
            "received_at": pd.to_datetime(["2013-10-01", "2013-10-09"]),
            "source": ["file", "argument"],
        }
    )
    out = attribute_receipts(
        d, r, pd.DataFrame({"enterprise_id": ["x", "y"], "city": ["甲市", "乙市"]})
    )
    assert out["received_at"].tolist() == [pd.Timestamp("2013-10-01"), pd.Timestamp("2013-10-09")]
    assert out["receipt_source"].tolist() == ["file", "argument"]


def test_closed_members_and_response_rates_by_city_and_cell():
    reports = pd.DataFrame(
        {
            "enterprise_id": ["a", "b", "c", "a", "c"],
            "period": ["2013-08", "2013-08", "2013-08", "2013-09", "2013-09"],
            "survey_employment": [10, 0, 5, 11, 5],
        }
    )
    assert closed_before(reports, "2013-09") == {"b"}
    expected = pd.DataFrame(
        {
            "enterprise_id": ["a", "b", "c", "d"],
            "city": ["甲市", "甲市", "乙市", "乙市"],
            "section": ["C", "C", "C", "F"],
        }
    )
    by_city = response_rates(expected, reports, period="2013-09", closed={"b"})
    got = by_city.set_index("city")
    assert got.loc["甲市", ["expected", "respondents"]].tolist() == [1, 1]
    assert got.loc["乙市", ["expected", "respondents"]].tolist() == [2, 1]
    assert got["rate"].to_dict() == pytest.approx({"甲市": 100.0, "乙市": 50.0})
    # A closed member that still reports (zero) is a respondent, as in member_status.
    still = pd.concat(
        [
            reports,
            pd.DataFrame({"enterprise_id": ["b"], "period": ["2013-09"], "survey_employment": [0]}),
        ],
        ignore_index=True,
    )
    again = response_rates(expected, still, period="2013-09", closed={"b"}).set_index("city")
    assert again.loc["甲市", ["expected", "respondents"]].tolist() == [2, 2]
    # Without the closure list, b (closed) counts as a nonrespondent of its cell.
    cells = response_rates(expected, reports, period="2013-09", by=["city", "section"])
    rate = cells.set_index(["city", "section"])["rate"].to_dict()
    assert rate == pytest.approx({("甲市", "C"): 50.0, ("乙市", "C"): 100.0, ("乙市", "F"): 0.0})


def test_chase_list_with_and_without_contacts():
    st = member_status(_expected(), _deliveries(), _receipts(), period=PERIOD, closed={"e8"})
    problems = pd.DataFrame(
        {"enterprise_id": ["e5", "e5"], "period": PERIOD, "rule": ["change", "reason_missing"]}
    )
    bare = chase_list(st, _expected(), problems=problems)
    assert bare["enterprise_id"].tolist() == ["e4", "e5"]  # by city (code point order)
    assert (bare["contact_phone"] == "").all()
    assert bare.set_index("enterprise_id").loc["e5", "problems"] == "change;reason_missing"
    panel = _expected().assign(contact_person=["张三"] * 8, contact_phone=["020-1"] * 8)
    full = chase_list(st, panel)
    assert full["contact_person"].tolist() == ["张三", "张三"]


def test_analysis_reports_on_time_late_missing():
    r = pd.DataFrame(
        {
            "kind": ["analysis"] * 2,
            "load_id": [None, None],
            "city": ["甲市", "乙市"],
            "period": ["2013Q3", "2013Q3"],
            "received_at": pd.to_datetime(["2013-10-05 17:00", "2013-10-07 09:00"]),
            "source": "argument",
        }
    )
    out = analysis_status(r, cities=["甲市", "乙市", "丙市"], quarter="2013Q3")
    assert out["on_time"].tolist() == [True, False, False]
    assert out["days_late"].tolist()[:2] == [0, 2]
    assert pd.isna(out["received_at"].iloc[2])


# ------------------------------------------------------------------------------ params
def _params_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_calendar_params_errors_name_file_and_key(tmp_path):
    p = _params_file(
        tmp_path, "monthly:\n  calendar:\n    deadlines:\n      ministry: {city: 40}\n"
    )
    with pytest.raises(ParamsError, match=r"p\.yaml.*monthly\.calendar\.deadlines\.ministry\.city"):
        load_params(p)
    p = _params_file(tmp_path, "monthly:\n  calendar:\n    holidays: [2013-10-04]\n")
    with pytest.raises(ParamsError, match=r"monthly\.calendar\.holidays\[0\]"):
        load_params(p)
    p = _params_file(tmp_path, "monthly:\n  calendar:\n    deadline: {}\n")
    with pytest.raises(ParamsError, match="unknown key.*deadline.*monthly.calendar"):
        load_params(p)
    p = _params_file(
        tmp_path,
        "monthly:\n  calendar:\n    deadlines: {provincial: {city: 6}}\n"
        '    holidays: ["2013-10-04"]\n',
    )
    s = CalendarSettings.from_params(load_params(p))
    assert s.deadlines["provincial"]["city"] == 6 and s.deadlines["ministry"]["city"] == 4
    assert s.holidays == ("2013-10-04",)


# ------------------------------------------------------------------- through the store
def _report_rows(ids: list[str], period: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "enterprise_id": ids,
            "period": period,
            "baseline_employment": 100,
            "survey_employment": 100,
            "change": 0,
            "change_pct": 0.0,
            **dict.fromkeys(REPORT_COLUMNS[6:]),
        }
    )[REPORT_COLUMNS]


def test_store_receipts_and_status(tmp_path):
    from samplekit.jobs import reporting_status
    from samplekit.store import (
        ingest_file,
        load_panel,
        read_network_table,
        record_receipt,
        table_counts,
    )

    store = tmp_path / "s.duckdb"
    load_panel(
        store,
        pd.DataFrame(
            {
                "enterprise_id": ["a", "b", "c"],
                "name": ["A", "B", "C"],
                "city": ["甲市", "甲市", "乙市"],
                "section": "C",
                "size_class": "small",
                "ownership": "private",
            }
        ),
    )
    f1 = write_csv(
        _report_rows(["a", "c"], PERIOD), tmp_path / f"reports_{PERIOD}.csv", excel=False
    )
    r1 = ingest_file(store, f1)
    record_receipt(
        store, load_id=r1.load_id, city="甲市", received_at="2013-10-08 16:00", source="argument"
    )
    record_receipt(
        store, load_id=r1.load_id, city="乙市", received_at="2013-10-10 09:00", source="argument"
    )
    before = table_counts(store)
    with pytest.raises(InputError, match="already recorded"):
        record_receipt(
            store, load_id=r1.load_id, city="甲市", received_at="2013-10-01", source="argument"
        )
    with pytest.raises(InputError, match="no loaded file with load_id 99"):
        record_receipt(store, load_id=99, received_at="2013-10-01", source="argument")
    assert table_counts(store) == before
    st = reporting_status(store, [PERIOD]).set_index("enterprise_id")
    assert st["status"].to_dict() == {"a": "on_time", "b": "missing", "c": "late"}
    assert st.loc["c", "days_late"] == 2
    assert len(read_network_table(store, "receipts")) == 2


# ----------------------------------------------------------------------------------- CLI
def test_cli_receive_never_guesses_the_time_and_chase_writes_the_list(tmp_path, capsys):
    from samplekit.cli import main
    from samplekit.store import load_panel, read_network_table, read_table

    store = tmp_path / "s.duckdb"
    load_panel(
        store,
        pd.DataFrame(
            {
                "enterprise_id": ["a", "b", "c"],
                "name": ["A", "B", "C"],
                "city": ["甲市", "甲市", "乙市"],
                "section": "C",
                "size_class": "small",
                "ownership": "private",
            }
        ),
    )
    plain = write_csv(_report_rows(["a"], PERIOD), tmp_path / f"甲市_{PERIOD}.csv", excel=False)
    assert main(["receive", str(plain), "--store", str(store)]) == 1
    assert "没有收到时间" in capsys.readouterr().out
    assert read_table(store, "files").empty  # refused before loading
    assert (
        main(
            [
                "receive",
                str(plain),
                "--store",
                str(store),
                "--city",
                "甲市",
                "--received",
                "2013-10-09 08:30",
            ]
        )
        == 0
    )
    stamped = _report_rows(["c"], PERIOD).assign(报送时间="2013-10-08 17:00")
    stamped_path = write_csv(stamped, tmp_path / f"乙市_{PERIOD}.csv", excel=False)
    assert main(["receive", str(stamped_path), "--store", str(store)]) == 0
    receipts = read_network_table(store, "receipts")
    assert receipts["load_id"].tolist() == [1, 2]
    assert receipts["source"].tolist() == ["argument", "file"]
    assert receipts["city"].iloc[0] == "甲市" and pd.isna(receipts["city"].iloc[1])
    assert receipts["received_at"].iloc[1] == pd.Timestamp("2013-10-08 17:00")
    assert (
        main(
            [
                "receipt",
                "--store",
                str(store),
                "--city",
                "甲市",
                "--quarter",
                "2013Q3",
                "--received",
                "2013-10-05",
            ]
        )
        == 0
    )
    capsys.readouterr()
    out = tmp_path / "chase"
    assert main(["chase", "--store", str(store), "--period", PERIOD, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "应报 3 家,已报 2 家" in printed and "没有联系方式列" in printed
    chase = pd.read_csv(out / f"chase_{PERIOD}.csv", encoding="utf-8-sig")
    assert chase["enterprise_id"].tolist() == ["b"]
    status = pd.read_csv(out / f"reporting_status_{PERIOD}.csv", encoding="utf-8-sig")
    # a: received 10-09 > provincial deadline 10-08 -> late 1 day; c: 10-08 -> on time
    row = status.set_index("city").loc["甲市"]
    assert (row["late"], row["missing"], row["max_days_late"]) == (1, 1, 1)
    assert status.set_index("city").loc["乙市", "on_time"] == 1
    assert (out / f"催报名单_{PERIOD}.xlsx").exists()
