"""Reading both layouts and every validation rule, alone and combined, on crafted files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.errors import InputError
from samplekit.io import write_csv, write_xlsx
from samplekit.reports import (
    REPORT_COLUMNS,
    ValidationRules,
    check_file,
    previous_period,
    read_report_file,
    rejected_rows,
    to_form,
    validate_reports,
)
from samplekit.rules import MassLayoffRule

PANEL = ["E1", "E2", "E3", "E4"]


def clean_month() -> pd.DataFrame:
    """Four enterprises in 2013-07 whose rows satisfy every rule (hand-checked)."""
    d = pd.DataFrame(
        {
            "enterprise_id": PANEL,
            "period": "2013-07",
            "baseline_employment": [200, 150, 80, 1000],
            "survey_employment": [190, 156, 80, 995],
            "change": [-10, 6, 0, -5],
            "change_pct": [-5.0, 4.0, 0.0, -0.5],
            "reduction_closure": [None, None, None, None],
            "reduction_suspension": [None, None, None, None],
            "reduction_layoff": [4, None, None, None],
            "reduction_relocation": [None, None, None, None],
            "reduction_other": [6, None, None, 5],
            "reason_1": [4, None, None, 10],
            "reason_2": [8, None, None, None],
            "reason_3": [None, None, None, None],
            "remark": [None, None, "备注", None],
        }
    )
    for c in d.columns[2:-1]:
        d[c] = d[c].astype("Int64") if c != "change_pct" else d[c].astype("Float64")
    return d


def write(d: pd.DataFrame, path) -> str:
    write_csv(d, path, excel=False)
    return str(path)


def rules_of(problems: pd.DataFrame, row: int, severity: str = "error") -> set[str]:
    p = problems[(problems["row"] == row) & (problems["severity"] == severity)]
    return set(p["rule"])


def test_clean_file_has_no_errors_and_reads_back(tmp_path):
    d = clean_month()
    rf, problems = check_file(
        write(d, tmp_path / "r_2013-07.csv"), panel_ids=PANEL, expected_period="2013-07"
    )
    assert rf.layout == "canonical" and rf.kind == "reports"
    assert not (problems["severity"] == "error").any()
    assert rf.data["row"].tolist() == [2, 3, 4, 5]  # header is spreadsheet row 1
    for c in REPORT_COLUMNS:
        left = rf.data[c].astype(object).where(rf.data[c].notna(), None).tolist()
        right = d[c].astype(object).where(d[c].notna(), None).tolist()
        assert left == right, c


# (mutation on row index 0 .. 3, expected error rule). Row i is spreadsheet row i + 2.
SINGLE_RULES = [
    (lambda d: d.loc.__setitem__((0, "change"), -11), 0, "change"),
    (lambda d: d.loc.__setitem__((0, "change_pct"), -6.0), 0, "change_pct"),
    (lambda d: d.loc.__setitem__((1, "reduction_layoff"), 2), 1, "reduction_without_fall"),
    (lambda d: d.loc.__setitem__((0, "reduction_other"), 5), 0, "reduction_sum"),
    (lambda d: d.loc.__setitem__((3, "reason_1"), pd.NA), 3, "reason_missing"),
    (lambda d: d.loc.__setitem__((0, "reason_2"), 12), 0, "reason_code"),
    (lambda d: d.loc.__setitem__((0, "reason_2"), 4), 0, "reason_duplicate"),
    (
        lambda d: (
            d.loc.__setitem__((0, "reason_3"), 6) or d.loc.__setitem__((0, "reason_2"), pd.NA)
        ),
        0,
        "reason_gap",
    ),
    (lambda d: d.loc.__setitem__((2, "enterprise_id"), "E9"), 2, "not_in_panel"),
    (lambda d: d.loc.__setitem__((2, "period"), "2013-06"), 2, "period_expected"),
    (lambda d: d.loc.__setitem__((2, "period"), "2013-13"), 2, "period_format"),
    (
        lambda d: (
            d.loc.__setitem__((2, "survey_employment"), -1)
            or d.loc.__setitem__((2, "change"), -81)
            or d.loc.__setitem__((2, "change_pct"), pd.NA)
            or d.loc.__setitem__((2, "reduction_other"), 81)
            or d.loc.__setitem__((2, "reason_1"), 11)
        ),
        2,
        "negative_employment",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "index", "rule"), SINGLE_RULES, ids=[r for _, _, r in SINGLE_RULES]
)
def test_each_rule_alone(mutate, index, rule):
    d = clean_month()
    mutate(d)
    d["row"] = np.arange(len(d)) + 2
    problems = validate_reports(d, file="f.csv", panel_ids=PANEL, expected_period="2013-07")
    assert rules_of(problems, index + 2) == {rule}
    others = problems[(problems["row"] != index + 2) & (problems["severity"] == "error")]
    assert others.empty  # nothing else is blamed
    assert rejected_rows(problems) == {index + 2}
    p = problems[problems["rule"] == rule].iloc[0]
    assert p["file"] == "f.csv" and p["message"]


def test_duplicate_rejects_every_copy():
    d = clean_month()
    d = pd.concat([d, d.iloc[[1]]], ignore_index=True)
    d["row"] = np.arange(len(d)) + 2
    problems = validate_reports(d, panel_ids=PANEL)
    assert rejected_rows(problems) == {3, 6}
    assert set(problems.loc[problems["severity"] == "error", "rule"]) == {"duplicate"}


def test_rules_combined_on_one_row_all_reported():
    d = clean_month()
    d.loc[0, "change"] = -12
    d.loc[0, "reason_1"] = 12
    d.loc[0, "enterprise_id"] = "NOPE"
    d.loc[0, "reduction_other"] = 1
    d["row"] = np.arange(len(d)) + 2
    problems = validate_reports(d, panel_ids=PANEL)
    assert rules_of(problems, 2) == {"change", "reason_code", "not_in_panel", "reduction_sum"}
    assert rejected_rows(problems) == {2}


@pytest.mark.parametrize(
    ("written", "ok"),
    [
        ("-5", True),
        ("-5.0", True),
        ("-5.04", True),
        ("-5.1", False),
        ("-4.9", False),
        ("-6", False),
    ],
)
def test_change_pct_tolerance_follows_written_decimals(tmp_path, written, ok):
    # exact −10/200 × 100 = −5.0; with 1 decimal written the tolerance is 0.05
    d = clean_month().astype({"change_pct": object})
    d.loc[0, "change_pct"] = written
    rf, problems = check_file(write(d, tmp_path / "r_2013-07.csv"), panel_ids=PANEL)
    assert ("change_pct" in rules_of(problems, 2)) is (not ok)


def test_integer_change_pct_uses_half_unit_tolerance(tmp_path):
    d = clean_month().astype({"change_pct": object})
    d.loc[3, "baseline_employment"] = 1000
    d.loc[3, "survey_employment"] = 966  # exact −3.4 %
    d.loc[3, "change"] = -34
    d.loc[3, "reduction_other"] = 34
    d.loc[3, "change_pct"] = "-3"  # rounded to an integer: |−3 − (−3.4)| = 0.4 ≤ 0.5
    _, problems = check_file(write(d, tmp_path / "a.csv"), panel_ids=PANEL)
    assert "change_pct" not in rules_of(problems, 5)
    d.loc[3, "survey_employment"] = 964  # exact −3.6 %: "−3" is not its rounding
    d.loc[3, "change"] = -36
    d.loc[3, "reduction_other"] = 36
    _, problems = check_file(write(d, tmp_path / "b.csv"), panel_ids=PANEL)
    assert "change_pct" in rules_of(problems, 5)


@pytest.mark.parametrize(
    ("base", "survey", "flag"),
    [
        (2000, 1900, True),  # 100 persons (5 %)
        (2000, 1901, False),  # 99 persons, 4.95 %
        (50, 45, True),  # 10 %
        (100, 91, False),  # 9 %
    ],
)
def test_mass_layoff_flag_thresholds(base, survey, flag):
    d = clean_month().iloc[[0]].copy()
    d["baseline_employment"] = base
    d["survey_employment"] = survey
    d["change"] = survey - base
    d["change_pct"] = round(100 * (survey - base) / base, 1)
    d["reduction_layoff"] = pd.NA
    d["reduction_other"] = base - survey
    d["row"] = 2
    problems = validate_reports(d, panel_ids=PANEL)
    assert ("mass_layoff" in rules_of(problems, 2, "warning")) is flag
    assert not rules_of(problems, 2)  # flagged, never rejected
    stricter = validate_reports(
        d,
        panel_ids=PANEL,
        rules=ValidationRules(mass_layoff=MassLayoffRule(min_persons=200, min_share=0.5)),
    )
    assert "mass_layoff" not in rules_of(stricter, 2, "warning")


def test_large_swing_and_baseline_break_are_warnings():
    d = clean_month()
    d.loc[1, "survey_employment"] = 230  # +53.3 %
    d.loc[1, "change"] = 80
    d.loc[1, "change_pct"] = 53.3
    d["row"] = np.arange(len(d)) + 2
    previous = pd.DataFrame(
        {
            "enterprise_id": ["E1", "E2"],
            "period": ["2013-06", "2013-06"],
            "survey_employment": [200, 149],
        }
    )
    problems = validate_reports(d, panel_ids=PANEL, previous=previous)
    assert rules_of(problems, 3, "warning") == {"large_swing", "baseline_break"}
    assert "baseline_break" not in rules_of(problems, 2, "warning")  # 200 == 200
    assert rejected_rows(problems) == set()


def test_bad_cells_are_reported_not_guessed(tmp_path):
    d = clean_month().astype(object)
    d.loc[0, "baseline_employment"] = "1,200"
    d.loc[1, "survey_employment"] = None
    d.loc[2, "reduction_other"] = -3  # canonical reductions are non-negative
    d.loc[3, "reason_1"] = "订单"
    _, problems = check_file(write(d, tmp_path / "x.csv"), panel_ids=PANEL)
    assert "number" in rules_of(problems, 2)
    assert "required" in rules_of(problems, 3)
    assert "reduction_negative" in rules_of(problems, 4)
    assert "reason_code" in rules_of(problems, 5)
    assert "reason_missing" not in rules_of(problems, 5)  # an invalid code is not "missing"


def _title_rows_csv(form: pd.DataFrame, path, encoding: str) -> None:
    title = "监测城市就业人员变化情况表\n填报单位:东莞市人力资源和社会保障局,单位:人\n"
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(title)
        form.to_csv(fh, index=False, lineterminator="\n")


@pytest.mark.parametrize("encoding", ["gbk", "utf-8", "utf-8-sig"])
def test_ministry_form_with_chinese_headers_reads_like_canonical(tmp_path, encoding):
    d = clean_month()
    form = to_form(d, names=pd.Series(["甲厂", "乙厂", "丙店", "丁公司"]))
    assert (form.loc[0, "就业人数减少类型-经济性裁员"]) == "-4"  # form sign convention
    path = tmp_path / f"附表一_2013-07_{encoding}.csv"
    _title_rows_csv(form, path, encoding)
    rf, problems = check_file(path, panel_ids=PANEL)
    assert rf.layout == "form"
    assert not (problems["severity"] == "error").any(), problems
    assert len(rf.data) == 4  # the 总计 row is not a report
    assert rf.data["row"].tolist() == [4, 5, 6, 7]  # two title rows, header in row 3
    assert rf.data["reduction_layoff"].tolist()[0] == 4  # sign flipped to non-negative
    assert rf.data["reduction_other"].tolist()[3] == 5
    assert rf.data["reason_1"].tolist()[0] == 4 and rf.data["reason_2"].tolist()[0] == 8
    assert rf.data["name"].tolist()[0] == "甲厂"


def test_form_in_xlsx_with_title_rows(tmp_path):
    d = clean_month()
    form = to_form(d, reasons_in_one_cell=False)
    path = tmp_path / "附表一_2013-07.xlsx"
    write_xlsx(
        {"附表一": form}, path, titles={"附表一": "监测城市就业人员变化情况表"}, source="东莞市"
    )
    rf, problems = check_file(path, panel_ids=PANEL)
    assert rf.layout == "form" and len(rf.data) == 4
    assert rf.data["row"].tolist() == [5, 6, 7, 8]  # title, source, blank, header
    assert rf.data["reduction_layoff"].tolist()[0] == 4
    assert rf.data["reason_2"].tolist()[0] == 8
    assert not (problems["severity"] == "error").any()


def test_form_specific_problems(tmp_path):
    d = clean_month()
    form = to_form(d, with_total=False)
    form.loc[0, "就业人数减少类型-经济性裁员"] = "4"  # positive: accepted, warned
    form.loc[3, "就业人数减少主要原因"] = "10、4、8、6"  # four codes
    path = tmp_path / "附表一_2013-07.csv"
    form.to_csv(path, index=False, encoding="gbk")
    rf, problems = check_file(path, panel_ids=PANEL)
    assert "reduction_sign" in rules_of(problems, 2, "warning")
    assert rf.data["reduction_layoff"].tolist()[0] == 4
    assert rules_of(problems, 5) == {"reason_count"}


def test_period_from_file_name_when_form_has_no_period_column(tmp_path):
    form = to_form(clean_month(), with_total=False).drop(columns=["调查期"])
    path = tmp_path / "东莞_201307.csv"
    form.to_csv(path, index=False, encoding="gbk")
    rf = read_report_file(path)
    assert set(rf.data["period"]) == {"2013-07"}
    form.to_csv(tmp_path / "东莞.csv", index=False, encoding="gbk")
    with pytest.raises(InputError, match="no period column"):
        read_report_file(tmp_path / "东莞.csv")
    assert set(read_report_file(tmp_path / "东莞.csv", period="2013-08").data["period"]) == {
        "2013-08"
    }


def test_unreadable_files_raise_input_error(tmp_path):
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="no header row"):
        read_report_file(tmp_path / "junk.csv")
    with pytest.raises(InputError, match="not found"):
        read_report_file(tmp_path / "missing.csv")
    d = clean_month().drop(columns=["survey_employment"])
    with pytest.raises(InputError, match="survey_employment"):
        read_report_file(write(d, tmp_path / "r.csv"))


def test_city_table_in_both_languages(tmp_path):
    from samplekit.reports import CITY_HEADERS_ZH, validate_city_reports

    ct = pd.DataFrame(
        {
            "city": ["东莞", "深圳"],
            "period": "2013-07",
            "registered_unemployed_start": [1000, 2000],
            "registered_unemployed_end": [1100, 2100],
            "registered_rate_start": [2.4, 2.5],
            "registered_rate_end": [2.6, 120.0],
        }
    )
    for name, frame in (("en.csv", ct), ("zh.csv", ct.rename(columns=CITY_HEADERS_ZH))):
        write_csv(frame, tmp_path / name)
        rf = read_report_file(tmp_path / name)
        assert rf.kind == "city"
        assert rf.data["registered_unemployed_end"].tolist() == [1100, 2100]
        problems = validate_city_reports(rf.data)
        assert rules_of(problems, 3) == {"rate_range"}


def test_previous_period():
    assert previous_period("2013-01") == "2012-12"
    assert previous_period("2013-10") == "2013-09"
