"""Warnings across the 2013 expansion break (issue 16, item 4): a pure level shift at the break
on a small synthetic panel, the bridged year-on-year value against a hand computation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from samplekit import bridge
from samplekit.params import load_params
from samplekit.periods import month_range, quarter_months
from samplekit.warning import WarningSettings, compute_warning

PROVINCE = "全省"
BREAK = bridge.BreakSettings(
    month="2013-12", overlap=("2013-10", "2013-11", "2013-12", "2014-01", "2014-02")
)
# The quarter holding the break straddles the two windows: estimation says so (a warning).
pytestmark = pytest.mark.filterwarnings("ignore::samplekit.estimation.WindowStraddleWarning")
RED = ["reduction_closure", "reduction_suspension", "reduction_layoff", "reduction_relocation"]


def _panel(seed: int = 16) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two cities; per city an old panel of 60 (weight 10) until 2013-11, a new design of 120
    (weight 5) from 2013-12 keeping 30 old members, its 90 new members reporting on trial in
    2013-10/11. Every firm employs 100 and reports every month of its rows. Old members lose
    2 ± 1 jobs a month, new members 5 ± 1, at every date: the economy is flat and the only change
    is the panel (a pure level shift at the break)."""
    rng = np.random.default_rng(seed)
    rows, reps = [], []
    months = month_range("2012-01", "2014-03")
    for city in ("广州", "深圳"):
        old = [f"{city}-o{k}" for k in range(60)]
        new = [f"{city}-n{k}" for k in range(90)]
        kept = old[:30]
        base = {"city": city, "section": "C", "size_class": "medium", "ownership": "private"}
        for e in old:
            rows.append(
                {
                    "enterprise_id": e,
                    **base,
                    "weight": 10.0,
                    "valid_from": "2012-01",
                    "valid_to": "2013-11",
                    "entry_reason": "initial",
                }
            )
        for e in [*kept, *new]:
            rows.append(
                {
                    "enterprise_id": e,
                    **base,
                    "weight": 5.0,
                    "valid_from": "2013-12",
                    "valid_to": None,
                    "entry_reason": "selection",
                }
            )
        for e in new:
            rows.append(
                {
                    "enterprise_id": e,
                    **base,
                    "weight": 5.0,
                    "valid_from": "2013-10",
                    "valid_to": "2013-11",
                    "entry_reason": "trial",
                }
            )
        for e in old:
            for m in months if e in kept else [m for m in months if m <= "2013-11"]:
                reps.append((e, m, 2 + int(rng.integers(-1, 2))))
        for e in new:
            for m in [m for m in months if m >= "2013-10"]:
                reps.append((e, m, 5 + int(rng.integers(-1, 2))))
    membership = pd.DataFrame(rows)
    membership["name"] = membership["enterprise_id"] + "公司"
    membership["calibrated_weight"] = membership["weight"]
    membership["cell_frame_units"] = 600
    reports = pd.DataFrame(reps, columns=["enterprise_id", "period", "reduction_other"])
    reports["baseline_employment"] = 100.0
    reports["survey_employment"] = 100.0  # hires replace the losses: employment is flat
    reports["reduction_other"] = reports["reduction_other"].astype(float)
    reports["change"], reports["change_pct"] = 0.0, 0.0
    for c in RED:
        reports[c] = 0.0
    reports["reason_1"], reports["reason_2"], reports["reason_3"] = 11, None, None
    reports["remark"] = ""
    return membership, reports


def _settings() -> WarningSettings:
    base = WarningSettings.from_params(load_params())
    keep = {"job_loss_rate", "net_change_rate", "mass_layoffs"}
    inds = tuple(i for i in base.indicators if i.key in keep)
    return dataclasses.replace(base, indicators=inds, history_quarters=2)


@pytest.fixture(scope="module")
def panel():
    return _panel()


def _run(panel, quarter, series_break, forecasts=False):
    membership, reports = panel
    from samplekit.forecast import ForecastSettings

    fs = ForecastSettings(models=("naive", "seasonal_naive"), origins=3, simulations=200, seed=1)
    return compute_warning(
        reports,
        membership,
        None,
        _settings(),
        quarter=quarter,
        province=PROVINCE,
        fsettings=fs,
        forecasts=forecasts,
        series_break=series_break,
    )


def _hand(reports, membership, quarter, overlap):
    """The bridged yoy of the job-loss rate by hand: equal weights within each design and full
    response, so every rate is a plain mean of the firms' losses (per 100 employed)."""
    old_ids = set(membership.loc[membership["valid_from"] == "2012-01", "enterprise_id"])
    new_ids = set(membership.loc[membership["valid_from"] == "2013-12", "enterprise_id"])
    loss = reports.set_index(["enterprise_id", "period"])["reduction_other"]

    def monthly(ids, m):  # mean loss of the design's members reporting in m
        return loss.xs(m, level="period").loc[lambda s: s.index.isin(ids)].mean()

    delta = np.mean([monthly(new_ids, m) - monthly(old_ids, m) for m in overlap])
    q_now, q_ly = quarter_months(quarter), quarter_months(str(pd.Period(quarter, "Q") - 4))

    def quarterly(ids, months):  # quarter's rate: losses summed over the months / baseline 100
        sub = loss[loss.index.get_level_values("period").isin(months)]
        sub = sub[sub.index.get_level_values("enterprise_id").isin(ids)]
        return sub.groupby(level="enterprise_id").sum().mean()

    return delta, quarterly(new_ids, q_now), quarterly(old_ids, q_ly)


def _prov(res, indicator):
    lv = res.levels
    return lv[(lv["city"] == PROVINCE) & (lv["indicator"] == indicator)].set_index("quarter")


def test_level_shift_alarms_without_the_bridge_and_not_with_it(panel):
    raw = _prov(_run(panel, "2014Q1", None), "job_loss_rate").loc["2014Q1"]
    res = _run(panel, "2014Q1", BREAK)
    got = _prov(res, "job_loss_rate").loc["2014Q1"]
    delta, q_new, q_old = _hand(panel[1], panel[0], "2014Q1", BREAK.overlap)
    # Without the bridge the change of panel reads as a 6-point jump in job losses: red alarm.
    assert raw["value"] == pytest.approx(q_new - q_old, abs=1e-9)
    assert raw["value"] > 5 and raw["rank"] == 4
    # With it, the earlier quarter is put on the new design's level: quiet, equal to the hand value.
    assert delta == pytest.approx(2.25, abs=0.15)  # 30·2 + 90·5 over 120, minus 2
    assert got["value"] == pytest.approx(q_new - (q_old + 3 * delta), abs=1e-9)
    assert abs(got["value"]) < 0.5 and got["rank"] == 0
    # its se holds the shift's error: larger than the two quarters' sampling errors alone
    shift = res.series_break.pooled().set_index(["city", "indicator"])
    se_delta = shift.loc[(PROVINCE, "job_loss_rate"), "se"]
    assert se_delta > 0 and got["se"] >= 3 * se_delta - 1e-12
    src = res.sources.set_index(["quarter", "city", "indicator"])
    row = src.loc[("2014Q1", PROVINCE, "job_loss_rate")]
    assert row["basis"] == "bridged" and row["source_zh"] == "衔接序列"
    assert "衔接" in row["note_zh"]
    # every city quiet too, each with its own shift
    cities = res.levels[(res.levels["quarter"] == "2014Q1") & (res.levels["city"] != PROVINCE)]
    assert (cities.loc[cities["indicator"] == "job_loss_rate", "rank"] == 0).all()


def test_counts_across_the_break_are_refused_not_judged(panel):
    res = _run(panel, "2014Q1", BREAK)
    ml = _prov(res, "mass_layoffs")
    assert np.isnan(ml.loc["2014Q1", "value"]) and ml.loc["2014Q1", "rank"] == 0
    src = res.sources.set_index(["quarter", "city", "indicator"])
    row = src.loc[("2014Q1", PROVINCE, "mass_layoffs")]
    assert row["basis"] == "not_comparable" and "不能直接同比" in row["note_zh"]
    # a level (not a change) of a bridged indicator: the new design's own quarter, unchanged
    assert src.loc[("2014Q1", PROVINCE, "net_change_rate"), "source"] == "new_design"


def test_2013q4_uses_only_the_months_it_had(panel):
    """The 2013Q4 report bridges with October–December (January was not reported yet); the
    quarter holding the break is an old-panel quarter, so its yoy against 2012Q4 is the old
    panel's own change (same design, the shift cancels)."""
    membership, reports = panel
    res = _run(panel, "2013Q4", BREAK)
    assert res.series_break.overlap == ("2013-10", "2013-11", "2013-12")
    got = _prov(res, "job_loss_rate").loc["2013Q4"]
    old_ids = set(membership.loc[membership["valid_from"] == "2012-01", "enterprise_id"])
    kept = old_ids & set(membership.loc[membership["valid_from"] == "2013-12", "enterprise_id"])
    loss = reports.set_index(["enterprise_id", "period"])["reduction_other"]

    def q(ids, months):
        sub = loss[loss.index.get_level_values("period").isin(months)]
        sub = sub[sub.index.get_level_values("enterprise_id").isin(ids)]
        return sub.groupby(level="enterprise_id").sum().mean()

    # 2013Q4: the members in force all quarter (old rows in October: the 60 kept of 120)
    assert got["value"] == pytest.approx(
        q(kept, quarter_months("2013Q4")) - q(old_ids, quarter_months("2012Q4")), abs=1e-9
    )
    row = res.sources.set_index(["quarter", "city", "indicator"]).loc[
        ("2013Q4", PROVINCE, "job_loss_rate")
    ]
    assert row["basis"] == "same_design" and row["source"] == "old_panel"
    ml = res.sources.set_index(["quarter", "city", "indicator"]).loc[
        ("2013Q4", PROVINCE, "mass_layoffs")
    ]  # October–November counts 60 members a city, December 120: refused, said so
    assert ml["source"] == "mixed" and ml["basis"] == "not_comparable"
    assert "2013-10至2013-12" in res.series_break.note_zh()


def test_forecasts_read_the_bridged_history(panel):
    membership, reports = panel
    res = _run(panel, "2014Q1", BREAK, forecasts=True)
    mon = res.monthly[
        (res.monthly["city"] == PROVINCE) & (res.monthly["indicator"] == "job_loss_rate")
    ]
    mon = mon.set_index("period")
    delta = _hand(reports, membership, "2014Q1", BREAK.overlap)[0]
    old_ids = set(membership.loc[membership["valid_from"] == "2012-01", "enterprise_id"])
    loss = reports.set_index(["enterprise_id", "period"])["reduction_other"]
    june = loss.xs("2013-06", level="period")
    assert mon.loc["2013-06", "raw_value"] == pytest.approx(june[june.index.isin(old_ids)].mean())
    assert mon.loc["2013-06", "value"] == pytest.approx(mon.loc["2013-06", "raw_value"] + delta)
    assert mon.loc["2013-06", "source_zh"] == "衔接序列"
    assert mon.loc["2014-02", "source"] == "new_design" and bool(mon.loc["2013-12", "series_break"])
    # the bridged history has no step at the break: the 2013 mean is the 2014 mean (flat economy)
    before = mon.loc[[m for m in mon.index if "2013-01" <= m <= "2013-11"], "value"].mean()
    after = mon.loc[[m for m in mon.index if m >= "2013-12"], "value"].mean()
    raw_before = mon.loc[[m for m in mon.index if "2013-01" <= m <= "2013-11"], "raw_value"].mean()
    assert abs(after - before) < 0.1 < abs(after - raw_before)


def test_no_break_declared_leaves_the_result_as_it_was(panel):
    res = _run(panel, "2014Q1", None)
    assert res.series_break is None and res.sources.empty
    assert "bridge_se" not in res.levels.columns


# ------------------------------------------------------------------------- the report writer
@pytest.fixture(scope="module")
def bridged_2014q1(panel):
    return _run(panel, "2014Q1", BREAK, forecasts=True)


def test_report_marks_the_break_and_the_panel_of_each_number(bridged_2014q1, tmp_path):
    import docx
    import openpyxl

    from samplekit import documents
    from samplekit.warning_report import break_section_zh, write_warning

    res = bridged_2014q1
    paths = {p.name for p in write_warning(res, tmp_path)}
    assert {"series_break_shift.csv", "series_bridged.csv", "fig_series_break.png"} <= paths
    # one back-test series per bridged indicator the forecasts read (city-table ones are not)
    assert {p for p in paths if p.startswith("backtest_series_")} == {
        "backtest_series_job_loss_rate.csv",
        "backtest_series_net_change_rate.csv",
    }
    shift = pd.read_csv(tmp_path / "series_break_shift.csv", encoding="utf-8-sig")
    pooled = shift[(shift["city"] == PROVINCE) & (shift["period"] == "重叠月份合计")]
    want = res.series_break.pooled().set_index(["city", "indicator"])
    assert pooled["shift"].iloc[0] == pytest.approx(
        want.loc[(PROVINCE, "job_loss_rate"), "shift"], abs=1e-4
    )
    assert set(shift["city"]) == {PROVINCE, "广州", "深圳"}
    lv = pd.read_csv(tmp_path / "levels.csv", encoding="utf-8-sig")
    row = lv[(lv["city"] == PROVINCE) & (lv["indicator"] == "job_loss_rate")].iloc[0]
    assert row["source_zh"] == "衔接序列" and row["basis_zh"] == "衔接后同比"
    series = pd.read_csv(tmp_path / "series_bridged.csv", encoding="utf-8-sig")
    assert set(series["source_zh"].dropna()) >= {"衔接序列", "新样本(10000家)"}
    # the back-test reads the province's bridged history as it is written
    from samplekit.backtest import read_series

    back = read_series(tmp_path / "backtest_series_job_loss_rate.csv").set_index("period")
    mon = res.monthly[
        (res.monthly["city"] == PROVINCE) & (res.monthly["indicator"] == "job_loss_rate")
    ]
    assert back.loc["2013-06", "value"] == pytest.approx(
        mon.set_index("period").loc["2013-06", "value"], abs=1e-6
    )
    wb = openpyxl.load_workbook(tmp_path / "warning.xlsx", read_only=True)
    assert "断点衔接" in wb.sheetnames
    heads = [str(c.value) for row in wb["指标等级"].iter_rows(max_row=6) for c in row]
    assert "数据来源" in heads
    doc = documents.warning_report(res)
    path = tmp_path / "report.docx"
    doc.save(path)
    text = "\n".join(p.text for p in docx.Document(path).paragraphs)
    assert "数据来源与序列断点" in text and "2013-10至2014-02" in text
    assert "监测样本于2013年12月由旧样本(3000家)扩为新样本(10000家)" in text
    cells = {c.text for t in docx.Document(path).tables for r in t.rows for c in r.cells}
    assert {"数据来源", "衔接序列", "新样本(10000家)"} <= cells
    assert break_section_zh(res) == res.series_break.note_zh()


def test_without_a_break_the_report_is_unchanged(panel, tmp_path):
    from samplekit.warning_report import break_section_zh, write_warning

    res = _run(panel, "2014Q1", None)
    names = {p.name for p in write_warning(res, tmp_path, figures=False)}
    assert not any(n.startswith("series_") for n in names)
    lv = pd.read_csv(tmp_path / "levels.csv", encoding="utf-8-sig")
    assert "source_zh" not in lv.columns
    assert "未声明序列断点" in break_section_zh(res)
