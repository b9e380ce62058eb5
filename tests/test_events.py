"""Supplementary records (补充数据, 裁员方案报告) and special notes (专项说明)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samplekit.events import (
    EventSettings,
    lead_correlation,
    notice_persons,
    read_event_file,
    validate_events,
)
from samplekit.io import write_csv
from samplekit.reports import REPORT_COLUMNS
from samplekit.sidefiles import credit_code_check, credit_code_problem
from samplekit.special_notes import NoteSettings, missing_notes, note_status, required_notes


def _code(body: str) -> str:
    return body + str(credit_code_check(body))


A = _code("91440300MA5D00001")
B = _code("91441900MA5D00002")
C = _code("91440600MA5D00003")
PANEL_ID = _code("91440100MA5D00009")
HEADER = [
    "记录类型",
    "城市",
    "企业名称",
    "统一社会信用代码",
    "日期",
    "涉及人数",
    "职工总数",
    "占职工比例(%)",
    "类型",
    "主要原因",
    "信息来源",
    "说明",
    "计划实施日期",
]


def _write(path: Path, rows: list[list[str]], title: bool = True) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        if title:
            w.writerow(["监测范围外企业补充数据及裁员方案报告(2013年8月)"])
        w.writerow(HEADER)
        w.writerows(rows)
    return path


GOOD = [
    [
        "补充数据",
        "东莞",
        "甲厂",
        A,
        "2013-08-12",
        "300",
        "1500",
        "20",
        "经济性裁员",
        "4、8",
        "市人社局",
        "订单下降",
        "",
    ],
    [
        "裁员方案报告",
        "深圳",
        "乙厂",
        B,
        "2013/8/20",
        "150",
        "1000",
        "15",
        "经济性裁员",
        "4",
        "企业报告",
        "",
        "2013-09-20",
    ],
]


def test_check_digit_detects_a_changed_character():
    assert credit_code_problem(A) is None
    wrong = A[:10] + ("1" if A[10] != "1" else "2") + A[11:]
    assert credit_code_problem(wrong) == "credit_code_check"
    assert credit_code_problem("9144030012345") == "credit_code_format"
    assert credit_code_problem(A[:-1] + "I") == "credit_code_format"  # I is never used


def test_every_problem_named_with_file_row_column_rule(tmp_path):
    bad = [
        # row 5: supplementary without explanation, persons not a number
        [
            "补充数据",
            "东莞",
            "丙厂",
            C,
            "2013-08-01",
            "约200",
            "900",
            "",
            "经济性裁员",
            "4",
            "市局",
            "",
            "",
        ],
        # row 6: unknown city, short credit code, share out of range
        [
            "补充数据",
            "火星",
            "丁厂",
            "9144",
            "2013-08-02",
            "120",
            "600",
            "120",
            "其他",
            "11",
            "市局",
            "说明",
            "",
        ],
        # row 7: a panel member reported as out-of-sample; reason code 12
        [
            "补充数据",
            "广州",
            "监测企业",
            PANEL_ID,
            "2013-08-03",
            "130",
            "1000",
            "13",
            "经济性裁员",
            "12",
            "市局",
            "说明",
            "",
        ],
        # row 8: bad date, unknown record type, persons > staff
        [
            "方案",
            "深圳",
            "戊厂",
            _code("91440300MA5D00004"),
            "2013-13-01",
            "500",
            "400",
            "",
            "经济性裁员",
            "4",
            "",
            "",
            "",
        ],
        # row 9: notice below threshold (warning only) with inconsistent share (warning)
        [
            "裁员方案报告",
            "佛山",
            "己厂",
            _code("91440600MA5D00005"),
            "2013-08-05",
            "20",
            "400",
            "9",
            "经济性裁员",
            "4",
            "",
            "",
            "2013-08-01",
        ],
        # rows 10, 11: the same record twice
        [
            "裁员方案报告",
            "中山",
            "庚厂",
            _code("91442000MA5D00006"),
            "2013-08-06",
            "100",
            "500",
            "20",
            "经济性裁员",
            "4",
            "",
            "",
            "",
        ],
        [
            "裁员方案报告",
            "中山",
            "庚厂",
            _code("91442000MA5D00006"),
            "2013-08-06",
            "100",
            "500",
            "20",
            "经济性裁员",
            "4",
            "",
            "",
            "",
        ],
        # row 12: missing firm name and type of a supplementary record; another month
        [
            "补充数据",
            "东莞",
            "",
            _code("91441900MA5D00007"),
            "2013-07-30",
            "300",
            "",
            "",
            "",
            "4",
            "",
            "说明",
            "",
        ],
    ]
    path = _write(tmp_path / "补充数据_2013-08.csv", GOOD + bad)
    side = read_event_file(path)
    assert side.data["row"].tolist() == list(range(3, 13))  # title row 1, header row 2
    records, problems = validate_events(
        side.data,
        file=path.name,
        cities=["东莞", "深圳", "佛山", "中山", "广州"],
        panel_ids=[PANEL_ID],
        expected_period="2013-08",
    )
    assert (problems["file"] == path.name).all()
    got = set(
        zip(
            problems["row"].astype(int),
            problems["column"],
            problems["rule"],
            problems["severity"],
            strict=True,
        )
    )
    assert got == {
        (5, "explanation", "explanation_missing", "error"),
        (5, "persons", "number", "error"),
        (6, "city", "city_unknown", "error"),
        (6, "credit_code", "credit_code_format", "error"),
        (6, "share_pct", "share_range", "error"),
        (7, "credit_code", "in_panel", "error"),
        (7, "reasons", "reason_code", "error"),
        (8, "event_date", "date_format", "error"),
        (8, "record_type", "record_type", "error"),
        (8, "staff", "staff_persons", "error"),
        (9, "persons", "below_threshold", "warning"),
        (9, "share_pct", "share_consistency", "warning"),
        (9, "planned_date", "planned_before_notice", "warning"),
        (10, "credit_code", "duplicate", "error"),
        (11, "credit_code", "duplicate", "error"),
        (12, "firm_name", "required", "error"),
        (12, "type", "required", "error"),
        (12, "event_date", "period_expected", "error"),
    }
    good = records.set_index("row")
    assert good.loc[3, "record_type"] == "supplementary" and good.loc[4, "record_type"] == "notice"
    assert good.loc[4, "event_date"] == "2013-08-20" and good.loc[4, "period"] == "2013-08"
    assert good.loc[3, ["reason_1", "reason_2"]].tolist() == [4, 8]
    assert bool(good.loc[7, "in_panel"]) and not bool(good.loc[3, "in_panel"])


def _store_with_reports(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    from samplekit.store import ingest_file, load_panel

    rng = np.random.default_rng(3)
    n = 40
    ids = [_code(f"91440300MA5E{k:05d}") for k in range(n)]
    sample = pd.DataFrame(
        {
            "enterprise_id": ids,
            "name": [f"企业{k}" for k in range(n)],
            "city": np.where(np.arange(n) < 20, "东莞", "深圳"),
            "section": "C",
            "size_class": np.where(np.arange(n) % 2 == 0, "medium", "small"),
            "ownership": "private",
            "registration_type": "170",
            "calibrated_weight": rng.uniform(5, 20, n).round(2),
            "cell_frame_units": 400,
        }
    )
    store = tmp_path / "s.duckdb"
    load_panel(store, sample)
    base = rng.integers(100, 900, n)
    for period, cut in (("2013-07", 0.0), ("2013-08", 0.15)):
        fall = np.where(np.arange(n) % 4 == 0, np.floor(base * cut), 0).astype(int)
        rows = pd.DataFrame(
            {
                "enterprise_id": ids,
                "period": period,
                "baseline_employment": base,
                "survey_employment": base - fall,
                "change": -fall,
                "change_pct": np.round(-100 * fall / base, 1),
                "reduction_closure": None,
                "reduction_suspension": None,
                "reduction_layoff": np.where(fall > 0, fall, None),
                "reduction_relocation": None,
                "reduction_other": None,
                "reason_1": np.where(fall > 0, 4, None),
                "reason_2": None,
                "reason_3": None,
                "remark": None,
            }
        )[REPORT_COLUMNS]
        ingest_file(store, write_csv(rows, tmp_path / f"reports_{period}.csv", excel=False))
        base = base - fall
    return store, sample


def test_events_never_change_design_based_estimates(tmp_path):
    from samplekit.estimation import estimate
    from samplekit.store import ingest_events, read_network_table, read_reports

    store, sample = _store_with_reports(tmp_path)
    before = estimate(read_reports(store), sample, periods="2013-08", by=["city"])
    path = _write(tmp_path / "events.csv", GOOD, title=False)
    result = ingest_events(store, path, cities=["东莞", "深圳"])
    assert (result.loaded, result.quarantined) == (2, 0)
    assert len(read_network_table(store, "events")) == 2
    after = estimate(read_reports(store), sample, periods="2013-08", by=["city"])
    pd.testing.assert_frame_equal(before, after)
    assert len(read_reports(store)) == 80  # the reports table is untouched


def test_event_ingest_atomic_idempotent_and_audited(tmp_path, monkeypatch):
    import samplekit.store as st

    store, _ = _store_with_reports(tmp_path)
    rows = GOOD + [
        ["补充数据", "火星", "坏厂", C, "2013-08-01", "300", "", "", "其他", "4", "", "说明", ""]
    ]
    path = _write(tmp_path / "events.csv", rows)
    counts = st.table_counts(store)

    # A failure half-way (after the events were inserted) leaves nothing behind.
    real = st._load_side

    def failing(con, kind, side, data, problems):  # noqa: ANN001
        orig = con.execute

        def execute(sql, *args):  # noqa: ANN001
            if "INTO side_quarantine" in sql:
                raise RuntimeError("disk full")
            return orig(sql, *args)

        class Wrapped:
            def __getattr__(self, name):  # noqa: ANN001
                return execute if name == "execute" else getattr(con, name)

        return real(Wrapped(), kind, side, data, problems)

    monkeypatch.setattr(st, "_load_side", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        st.ingest_events(store, path, cities=["东莞", "深圳"])
    monkeypatch.setattr(st, "_load_side", real)
    assert st.table_counts(store) == counts

    r = st.ingest_events(store, path, cities=["东莞", "深圳"])
    assert (r.rows, r.loaded, r.quarantined) == (3, 2, 1)
    q = st.read_network_table(store, "side_quarantine")
    assert q["row"].tolist() == [5] and q["rules"].tolist() == ["city_unknown"]
    assert "坏厂" in q["cells"].iloc[0]
    again = st.ingest_events(store, path, cities=["东莞", "深圳"])
    assert again.status == "already_loaded"
    assert st.read_network_table(store, "side_files")["kind"].tolist() == ["events"]

    # A corrected record (same type, code and date) replaces the stored one; the old is audited.
    fixed = [list(GOOD[0])]
    fixed[0][5], fixed[0][7] = "360", "24"
    r2 = st.ingest_events(
        store, _write(tmp_path / "events_更正.csv", fixed), cities=["东莞", "深圳"]
    )
    assert (r2.loaded, r2.replaced) == (1, 1)
    ev = st.read_network_table(store, "events").set_index("credit_code")
    assert ev.loc[A, "persons"] == 360 and len(ev) == 2
    audit = st.read_network_table(store, "side_audit")
    assert len(audit) == 1 and audit["replaced_by"].iloc[0] == r2.load_id
    assert '"persons": "300"' in audit["record"].iloc[0]


def test_notice_persons_and_lead_correlation():
    ev = pd.DataFrame(
        {
            "record_type": ["notice", "notice", "supplementary", "notice"],
            "city": ["东莞", "东莞", "东莞", "深圳"],
            "period": ["2013-07", "2013-07", "2013-07", "2013-08"],
            "persons": [100, 250, 999, 120],
        }
    )
    out = notice_persons(ev, periods=["2013-07", "2013-08"], cities=["东莞", "深圳"])
    assert out.values.tolist() == [
        ["东莞", "2013-07", 2, 350],
        ["东莞", "2013-08", 0, 0],
        ["深圳", "2013-07", 0, 0],
        ["深圳", "2013-08", 1, 120],
    ]
    months = [f"2013-{m:02d}" for m in range(1, 13)]
    x = pd.Series([5, 1, 7, 3, 9, 2, 8, 4, 6, 0, 5, 3], index=months, dtype=float)
    y = x.shift(2) * 3 + 1  # the outcome follows the notices two months later
    lc = lead_correlation(x, y, max_lag=3).set_index("lag")
    assert lc.loc[2, "correlation"] == pytest.approx(1.0)
    assert lc.loc[2, "pairs"] == 10
    assert lc["correlation"].abs().idxmax() == 2


def test_event_settings_from_params(tmp_path):
    from samplekit.errors import ParamsError
    from samplekit.params import load_params

    p = tmp_path / "p.yaml"
    p.write_text("monthly:\n  events:\n    min_share: 0.2\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"p\.yaml.*min_share in 'monthly\.events'"):
        load_params(p)  # the threshold is the one mass-layoff rule, not a key of its own
    p.write_text("monthly:\n  mass_layoff: {min_persons: 50}\n", encoding="utf-8")
    assert EventSettings.from_params(load_params(p)).min_persons == 50


# ------------------------------------------------------------------------ special notes
def test_required_notes_and_status():
    reports = pd.DataFrame(
        {
            "period": "2013-08",
            "enterprise_id": ["a", "b", "c", "d", "e"],
            "baseline_employment": [1000, 500, 50, 60, 400],
            "survey_employment": [880, 480, 44, 60, 395],
            "reduction_closure": [0, 0, 0, 0, 5],
            "reduction_suspension": 0,
            "reduction_layoff": [120, 20, 6, 0, 0],
            "reduction_relocation": 0,
            "reduction_other": 0,
        }
    )
    need = required_notes(reports, settings=NoteSettings())
    # a: 120 persons and 12 %; b: 20 = 4 % (no); c: 6 = 12 % (share); d: no fall;
    # e: a closure of 5 persons (closures always)
    assert need["enterprise_id"].tolist() == ["a", "c", "e"]
    assert need["criterion"].tolist() == ["人数和比例", "比例", "关闭破产"]
    assert need["main_type"].tolist() == ["经济性裁员", "经济性裁员", "关闭破产"]
    assert required_notes(reports, settings=NoteSettings(closures_always=False))[
        "enterprise_id"
    ].tolist() == ["a", "c"]
    notes = pd.DataFrame(
        {
            "enterprise_id": ["a"],
            "period": ["2013-08"],
            "note_date": ["2013-09-03"],
            "text": ["订单下降,裁员120人"],
        }
    )
    panel = pd.DataFrame({"enterprise_id": list("abcde"), "city": "东莞", "name": list("ABCDE")})
    st = note_status(need, notes, panel).set_index("enterprise_id")
    assert st["note_status"].to_dict() == {"a": "已报送", "c": "未报送", "e": "未报送"}
    assert st.loc["a", "note_date"] == "2013-09-03"
    assert missing_notes(st.reset_index())["enterprise_id"].tolist() == ["c", "e"]


def test_note_file_problems_and_store(tmp_path):
    from samplekit.store import ingest_special_notes, load_panel, read_network_table

    store = tmp_path / "s.duckdb"
    load_panel(
        store,
        pd.DataFrame(
            {
                "enterprise_id": ["a", "b"],
                "city": "东莞",
                "section": "C",
                "size_class": "small",
                "ownership": "private",
            }
        ),
    )
    path = tmp_path / "专项说明.csv"
    pd.DataFrame(
        {
            "统一社会信用代码": ["a", "x", "b", "b", "a"],
            "调查期": ["2013-08", "2013-08", "2013年8月", "2013-08", "2013-13"],
            "报送日期": ["2013-09-03", "", "2013-09-04", "2013-09-04", "2013-09-31"],
            "专项说明": ["裁员120人", "说明", "关闭", "关闭", ""],
        }
    ).to_csv(path, index=False, encoding="utf-8-sig")
    r = ingest_special_notes(store, path)
    got = set(
        zip(r.problems["row"].astype(int), r.problems["column"], r.problems["rule"], strict=True)
    )
    assert got == {
        (3, "enterprise_id", "not_in_panel"),
        (4, "enterprise_id", "duplicate"),
        (5, "enterprise_id", "duplicate"),
        (6, "period", "period_format"),
        (6, "note_date", "date_format"),
        (6, "text", "required"),
    }
    assert (r.loaded, r.quarantined) == (1, 4)
    notes = read_network_table(store, "special_notes")
    assert notes[["enterprise_id", "period", "note_date"]].values.tolist() == [
        ["a", "2013-08", "2013-09-03"]
    ]


def test_notice_persons_joins_the_city_indicators_table():
    from samplekit.events import with_notice_persons

    table = pd.DataFrame(
        {
            "city": ["东莞", "深圳", "广东省", "东莞", "深圳", "广东省"],
            "period": ["2013-07"] * 3 + ["2013-08"] * 3,
            "registered_rate": [2.1, 2.3, 2.4, 2.2, 2.3, 2.4],
        }
    )
    ev = pd.DataFrame(
        {
            "record_type": ["notice", "notice", "supplementary"],
            "city": ["东莞", "深圳", "深圳"],
            "period": ["2013-08", "2013-08", "2013-08"],
            "persons": [150, 200, 999],
        }
    )
    out = with_notice_persons(table, ev, province="广东省")
    got = out.set_index(["city", "period"])["notice_persons"].to_dict()
    assert got == {
        ("东莞", "2013-07"): 0,
        ("深圳", "2013-07"): 0,
        ("广东省", "2013-07"): 0,
        ("东莞", "2013-08"): 150,
        ("深圳", "2013-08"): 200,
        ("广东省", "2013-08"): 350,
    }
    assert out["registered_rate"].tolist() == table["registered_rate"].tolist()


def test_notice_persons_indicator_is_wired_from_the_store(tmp_path):
    """A params-declared ``notice_persons`` indicator gets the persons in the store's notices."""
    from samplekit import jobs
    from samplekit.errors import ValidationError
    from samplekit.params import load_params
    from samplekit.store import ingest_events

    store, _ = _store_with_reports(tmp_path)
    rows = [
        *GOOD,  # a supplementary record (东莞, 300: never counted) and a notice (深圳 08-20, 150)
        [
            "裁员方案报告",
            "东莞",
            "丙厂",
            C,
            "2013-08-03",
            "120",
            "800",
            "",
            "",
            "4",
            "企业",
            "",
            "",
        ],
        ["裁员方案报告", "深圳", "丁厂", _code("91440300MA5D00004"), "2013-07-15", "200", "900"]
        + ["", "", "8", "企业", "", ""],
    ]
    result = ingest_events(store, _write(tmp_path / "ev.csv", rows), cities=["东莞", "深圳"])
    assert (result.loaded, result.quarantined) == (4, 0)
    table = pd.DataFrame(
        {
            "city": ["东莞", "深圳", "广东省"] * 3,
            "period": ["2013-07"] * 3 + ["2013-08"] * 3 + ["2013-09"] * 3,
            "registered_rate": [2.1, 2.3, 2.4] * 3,
        }
    )
    csv_path = tmp_path / "city.csv"
    table.to_csv(csv_path, index=False)
    base = load_params()
    assert "notice_persons" in base.data["warning"]["indicators"]  # the demo declares it
    params = base.with_overrides(
        monthly={**base.data["monthly"], "store": str(store)},
        warning={**base.data["warning"], "city_indicators": str(csv_path)},
    )
    got = jobs.warning_inputs(params)["city_indicators"]
    got = got.set_index(["city", "period"])["notice_persons"].to_dict()
    # by hand: 深圳 200 in July, 150 in August; 东莞 120 in August; the province their sums
    assert got == {
        ("东莞", "2013-07"): 0,
        ("东莞", "2013-08"): 120,
        ("东莞", "2013-09"): 0,
        ("广东省", "2013-07"): 200,
        ("广东省", "2013-08"): 270,
        ("广东省", "2013-09"): 0,
        ("深圳", "2013-07"): 200,
        ("深圳", "2013-08"): 150,
        ("深圳", "2013-09"): 0,
    }
    # the quarter's indicator value is the sum of the three months (aggregate: sum)
    from samplekit.warning import city_quarterly

    q = city_quarterly(jobs.city_indicators(params), "notice_persons", "sum")
    assert q.set_index("city").loc["广东省", "value"] == 470
    # the same column in the user's own table is a second source: refused, naming it
    table.assign(notice_persons=1).to_csv(csv_path, index=False)
    with pytest.raises(ValidationError, match="notice_persons"):
        jobs.city_indicators(params)
