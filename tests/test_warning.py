"""Warning levels, composite rule, hysteresis, params validation and the quarterly job."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samplekit.errors import ParamsError
from samplekit.params import load_params
from samplekit.warning import (
    LEVEL_COLUMNS,
    IndicatorDef,
    WarningSettings,
    _transform_values,
    apply_hysteresis,
    assign_levels,
    city_quarterly,
    classify,
    composite_levels,
    composite_raw,
    compute_warning,
    quarter_months,
    quarters_back,
)
from samplekit.warning_report import levels_table, write_warning

LINES_UP = [3.0, 3.5, 4.0, 4.5]
LINES_DOWN = [-1.0, -2.0, -3.0, -4.0]


# ---------------------------------------------------------------------------------- classify
@pytest.mark.parametrize(
    "value, expected",
    [
        (2.0, (0, "normal", 3.0)),
        (2.79, (0, "normal", 3.0)),
        (2.8, (0, "reminder", 3.0)),  # exactly the approach margin away
        (2.99, (0, "reminder", 3.0)),
        (3.0, (1, "alarm", 3.0)),  # reaching the line crosses it
        (3.6, (2, "alarm", 3.5)),
        (4.0, (3, "alarm", 4.0)),
        (9.0, (4, "alarm", 4.5)),
        (float("nan"), (0, "normal", 3.0)),
    ],
)
def test_classify_higher_is_worse(value, expected):
    rank, status, line = classify(value, LINES_UP, "higher_is_worse", 0.2)
    assert (rank, status) == expected[:2]
    assert math.isclose(line, expected[2])


@pytest.mark.parametrize(
    "value, rank, status",
    [
        (0.5, 0, "normal"),
        (-0.6, 0, "reminder"),
        (-1.0, 1, "alarm"),
        (-2.5, 2, "alarm"),
        (-3.0, 3, "alarm"),
        (-7.0, 4, "alarm"),
    ],
)
def test_classify_lower_is_worse(value, rank, status):
    assert classify(value, LINES_DOWN, "lower_is_worse", 0.5)[:2] == (rank, status)


# -------------------------------------------------------------------------------- hysteresis
def test_hysteresis_rises_at_once_and_drops_after_k_quiet_periods():
    ranks, runs = apply_hysteresis([0, 3, 1, 0, 0, 2], 2)
    assert ranks == [0, 3, 3, 1, 1, 2]
    assert runs == [0, 0, 1, 0, 1, 0]
    # k = 3: held through two quiet quarters, dropped at the third to the worst quiet rank (2)
    assert apply_hysteresis([4, 2, 1, 0, 0], 3)[0] == [4, 4, 4, 2, 2]


def test_hysteresis_one_period_is_no_hysteresis():
    raw = [0, 2, 1, 0, 3, 3, 0]
    assert apply_hysteresis(raw, 1)[0] == raw


def test_hysteresis_never_below_raw_and_never_rises_without_raw():
    rng = np.random.default_rng(1)
    for k in (1, 2, 3, 4):
        raw = rng.integers(0, 5, 60).tolist()
        held, _ = apply_hysteresis(raw, k)
        assert all(h >= r for h, r in zip(held, raw, strict=True))
        for t in range(1, len(raw)):
            if held[t] > held[t - 1]:
                assert held[t] == raw[t]  # a rise is always the raw level itself
            if held[t] < held[t - 1]:
                # a drop only after k consecutive periods below the level in force, and never
                # below what those quiet periods showed
                window = raw[max(t - k + 1, 0) : t + 1]
                assert len(window) == k and max(window) < held[t - 1]
                assert held[t] == max(window)


def test_hysteresis_rejects_zero_periods():
    with pytest.raises(ValueError):
        apply_hysteresis([1, 0], 0)


# ----------------------------------------------------------------------------- settings
def _settings(**kw) -> WarningSettings:
    base = WarningSettings.from_params(load_params())
    return dataclasses.replace(base, **kw)


def test_default_params_section_is_valid():
    s = WarningSettings.from_params(load_params())
    assert [lv.code for lv in s.levels] == ["IV", "III", "II", "I"]
    assert any(ind.core for ind in s.indicators)
    for ind in s.indicators:
        steps = np.diff(ind.lines)
        assert (steps > 0).all() if ind.direction == "higher_is_worse" else (steps < 0).all()


def _params_with(tmp_path: Path, warning_yaml: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text("name: t\nwarning:\n" + warning_yaml, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "body, needle",
    [
        (
            "  indicators:\n    x: {source: estimate, direction: higher_is_worse, lines: [3, 2, 4, 5],"
            " core: true}\n",
            "warning.indicators.x.lines",
        ),
        (
            "  indicators:\n    x: {source: estimate, direction: higher_is_worse, lines: [1, 2, 3],"
            " core: true}\n",
            "list of 4 numbers",
        ),
        (
            "  indicators:\n    x: {source: estimate, direction: up, lines: [1, 2, 3, 4]}\n",
            "warning.indicators.x.direction",
        ),
        (
            "  indicators:\n    x: {source: estimate, direction: higher_is_worse, lines: [1, 2, 3, 4],"
            " colour: red, core: true}\n",
            "colour",
        ),
        (
            "  indicators:\n    x: {source: estimate, direction: higher_is_worse, lines: [1, 2, 3, 4]}"
            "\n",
            "core: true",
        ),
        ("  hysteresis: 2\n", "hysteresis"),
    ],
)
def test_settings_errors_name_the_key(tmp_path, body, needle):
    path = _params_with(tmp_path, body)
    with pytest.raises(ParamsError) as exc:
        WarningSettings.from_params(load_params(path))
    assert needle in str(exc.value)
    assert str(path) in str(exc.value)


def test_custom_levels_and_city_lines(tmp_path):
    body = (
        "  levels: [{code: C, name: 关注}, {code: B, name: 警告}, {code: A, name: 危险}]\n"
        "  indicators:\n"
        "    rate: {source: city, column: registered_rate, direction: higher_is_worse,\n"
        "           lines: [3, 4, 5], city_lines: {甲: [2, 2.5, 3]}, core: true}\n"
    )
    s = WarningSettings.from_params(load_params(_params_with(tmp_path, body)))
    values = pd.DataFrame(
        {
            "quarter": "2013Q4",
            "city": ["甲", "乙", "省"],
            "indicator": "rate",
            "value": [2.6, 2.6, 4.2],
        }
    )
    lv = assign_levels(values, s, province="省").set_index("city")
    assert lv.loc["甲", "level"] == "B" and lv.loc["甲", "line"] == 2.5
    assert lv.loc["乙", "level"] == "none" and lv.loc["乙", "status"] == "normal"
    assert lv.loc["省", "level"] == "B" and lv.loc["省", "level_name"] == "警告"


# ----------------------------------------------------------------------------- levels
def _two_indicator_settings(rule="worst", points_lines=()):
    a = IndicatorDef(
        key="a",
        name="A",
        source="estimate",
        column="a",
        direction="higher_is_worse",
        lines=(1.0, 2.0, 3.0, 4.0),
        approach=0.5,
        core=True,
        scope=("province", "city"),
    )
    b = IndicatorDef(
        key="b",
        name="B",
        source="estimate",
        column="b",
        direction="lower_is_worse",
        lines=(-1.0, -2.0, -3.0, -4.0),
        approach=0.5,
        core=True,
        weight=2.0,
        scope=("city",),
    )
    c = IndicatorDef(
        key="c",
        name="C",
        source="city",
        column="c",
        direction="higher_is_worse",
        lines=(10.0, 20.0, 30.0, 40.0),
        core=False,
    )
    return _settings(
        indicators=(a, b, c),
        composite=rule,
        points_lines=tuple(points_lines),
        hysteresis_periods=2,
        basis="estimate",
    )


def test_assign_levels_scope_basis_and_columns():
    s = _two_indicator_settings()
    values = pd.DataFrame(
        {
            "quarter": "2013Q4",
            "city": ["X", "X", "X", "P", "P"],
            "indicator": ["a", "b", "c", "a", "b"],
            "value": [2.5, -0.7, 35.0, 0.2, -5.0],
            "se": [0.4, np.nan, np.nan, 0.1, np.nan],
            "ci_low": [1.7, np.nan, np.nan, 0.0, np.nan],
            "ci_high": [3.3, np.nan, np.nan, 0.4, np.nan],
        }
    )
    lv = assign_levels(values, s, province="P")
    assert list(lv.columns) == LEVEL_COLUMNS
    # b is city-scoped: the province row is dropped
    assert not ((lv["city"] == "P") & (lv["indicator"] == "b")).any()
    got = lv.set_index(["city", "indicator"])
    assert got.loc[("X", "a"), "rank"] == 2 and got.loc[("X", "a"), "status"] == "alarm"
    assert got.loc[("X", "b"), "status"] == "reminder"
    assert got.loc[("X", "c"), "level"] == "II"
    # basis "ci": the lower CI bound 1.7 is judged (level IV) instead of 2.5 (level III)
    lv_ci = assign_levels(values, dataclasses.replace(s, basis="ci"), province="P")
    assert lv_ci.set_index(["city", "indicator"]).loc[("X", "a"), "rank"] == 1


def test_composite_worst_and_points_rules():
    levels = pd.DataFrame(
        {
            "quarter": "2013Q4",
            "city": ["X", "X", "X", "Y", "Y"],
            "indicator": ["a", "b", "c", "a", "b"],
            "rank": [1, 3, 4, 0, 0],
        }
    )
    worst = composite_raw(levels, _two_indicator_settings()).set_index("city")
    assert worst.loc["X", "raw_rank"] == 3 and worst.loc["X", "drivers"] == "b"  # c not core
    assert worst.loc["Y", "raw_rank"] == 0 and worst.loc["Y", "drivers"] == ""
    # points: 1·1 + 2·3 = 7 ≥ lines (2, 4, 6) → rank 3
    pts = composite_raw(levels, _two_indicator_settings("points", (2, 4, 6, 8))).set_index("city")
    assert pts.loc["X", "raw_rank"] == 3 and pts.loc["X", "drivers"] == "a;b"


def test_composite_levels_apply_hysteresis_per_city():
    q = ["2013Q1", "2013Q2", "2013Q3", "2013Q4"]
    levels = pd.DataFrame(
        {
            "quarter": q * 2,
            "city": ["X"] * 4 + ["Y"] * 4,
            "indicator": "a",
            "rank": [3, 0, 0, 0, 0, 1, 0, 2],
        }
    )
    comp = composite_levels(levels, _two_indicator_settings())
    x = comp[comp["city"] == "X"]["composite_rank"].tolist()
    y = comp[comp["city"] == "Y"]["composite_rank"].tolist()
    assert x == [3, 3, 0, 0]
    assert y == [0, 1, 1, 2]
    assert comp.loc[comp["city"] == "X", "composite_level"].tolist() == ["II", "II", "none", "none"]


# ----------------------------------------------------------------------------- transforms
def test_yoy_transforms_by_hand():
    df = pd.DataFrame(
        {
            "quarter": ["2012Q4", "2013Q4", "2013Q3"],
            "city": "X",
            "value": [2.0, 5.0, 1.0],
            "se": [0.3, 0.4, 0.1],
            "ci_low": np.nan,
            "ci_high": np.nan,
        }
    )
    d = _transform_values(df, "yoy_diff", 1.96).set_index("quarter")
    assert math.isclose(d.loc["2013Q4", "value"], 3.0)
    assert math.isclose(d.loc["2013Q4", "se"], 0.5)
    assert math.isclose(d.loc["2013Q4", "ci_low"], 3.0 - 1.96 * 0.5)
    assert np.isnan(d.loc["2013Q3", "value"])  # no same quarter a year earlier
    p = _transform_values(df, "yoy_pct", 1.96).set_index("quarter")
    assert math.isclose(p.loc["2013Q4", "value"], 150.0)
    se = 100 * math.sqrt((0.4 / 2) ** 2 + (5 * 0.3 / 4) ** 2)
    assert math.isclose(p.loc["2013Q4", "se"], se)


def test_city_quarterly_aggregates():
    t = pd.DataFrame(
        {
            "city": "X",
            "period": ["2013-04", "2013-05", "2013-06", "2013-07"],
            "v": [1.0, 2.0, 4.0, 8.0],
        }
    )
    get = {
        a: city_quarterly(t, "v", a).set_index("quarter")["value"]
        for a in ("sum", "mean", "last", "compound")
    }
    assert get["sum"]["2013Q2"] == 7.0 and "2013Q3" not in get["sum"]  # incomplete quarter
    assert math.isclose(get["mean"]["2013Q2"], 7 / 3)
    assert get["last"]["2013Q2"] == 4.0 and "2013Q3" not in get["last"]
    assert math.isclose(get["compound"]["2013Q2"], 100 * (1.01 * 1.02 * 1.04 - 1))


def test_quarter_helpers():
    assert quarter_months("2013Q4") == ["2013-10", "2013-11", "2013-12"]
    assert quarters_back("2013Q2", 3) == ["2012Q4", "2013Q1", "2013Q2"]


# ------------------------------------------------------------------------ the quarterly job
@pytest.fixture(scope="module")
def synthetic_result():
    """A small simulated panel with the default shock (C's history generator) and weights."""
    from samplekit.demo import (
        HistorySettings,
        demo_city_indicators,
        simulate_history,
        synthetic_panel,
    )
    from samplekit.forecast import ForecastSettings

    panel = synthetic_panel(2400, rng=5)
    reports, city = simulate_history(panel, HistorySettings(start="2011-01"), rng=11)
    n_h = panel.groupby(["city", "section"])["enterprise_id"].transform("size")
    sample = panel.assign(cell_n=n_h, cell_frame_units=n_h * 5, weight=5.0, calibrated_weight=5.0)
    cities = pd.DataFrame({"city": sorted(panel["city"].unique()), "employed": 100.0})
    table = demo_city_indicators(
        cities,
        province="全省",
        start="2011-01",
        end="2013-12",
        shock={"cities": ["东莞", "深圳", "佛山", "中山"], "start": "2013-07", "end": "2013-12"},
        city_reports=city,
        rng=3,
    )
    settings = _settings(history_quarters=3)
    fs = ForecastSettings(
        models=("naive", "seasonal_naive", "ets"), origins=4, simulations=300, seed=1
    )
    return compute_warning(
        reports, sample, table, settings, quarter="2013Q4", province="全省", fsettings=fs
    )


def test_job_catches_the_shock_and_stays_quiet_elsewhere(synthetic_result):
    res = synthetic_result
    comp = res.composite.set_index(["city", "quarter"])["composite_rank"]
    shocked = ["东莞", "深圳", "佛山", "中山"]
    # every shocked city is at a warning level in 2013Q4 (Q3 may still be building up)
    assert all(comp[(c, "2013Q4")] >= 1 for c in shocked)
    quiet = [c for c in res.composite["city"].unique() if c not in shocked and c != "全省"]
    before = res.composite[res.composite["quarter"] < "2013Q3"]
    assert (before["composite_rank"] == 0).mean() >= 0.8
    assert sum(comp[(c, "2013Q4")] >= 1 for c in quiet) <= 1


def test_job_levels_are_consistent_with_lines(synthetic_result):
    res = synthetic_result
    lv = levels_table(res)
    assert list(lv.columns[:8]) == [
        "city",
        "indicator",
        "value",
        "ci_low",
        "ci_high",
        "line",
        "level",
        "status",
    ]
    assert lv["city"].iloc[0] == "全省"
    defs = {i.key: i for i in res.settings.indicators}
    for rec in lv.itertuples(index=False):
        ind = defs[rec.indicator]
        rank, status, line = classify(
            rec.value, ind.lines_for(rec.city, province="全省"), ind.direction, ind.approach
        )
        assert (rank, status) == (
            res.settings.level_codes.index(rec.level) + 1 if rec.level != "none" else 0,
            rec.status,
        )
        assert math.isclose(line, rec.line)
    est = lv[lv["indicator"] == "net_change_rate"]
    assert (est["ci_low"] <= est["value"]).all() and (est["value"] <= est["ci_high"]).all()


def test_job_forecasts_and_crossing(synthetic_result, tmp_path):
    res = synthetic_result
    fc = res.forecasts
    q = fc[fc["kind"] == "quarter"]
    assert set(q["target"]) == {"2014Q1"}
    assert ((q["pi_low"] <= q["forecast"]) & (q["forecast"] <= q["pi_high"])).all()
    cr = res.crossing
    for _, g in cr.groupby(["city", "indicator"]):
        p = g["probability"].to_numpy()
        assert ((p >= 0) & (p <= 1)).all()
        assert (np.diff(p) <= 1e-12).all()  # a worse line is never more likely to be crossed
    paths = write_warning(res, tmp_path, figures=True)
    names = {p.name for p in paths}
    assert {
        "levels.csv",
        "estimates.csv",
        "forecasts.csv",
        "composite.csv",
        "fig_levels.png",
        "warning.xlsx",
    } <= names
    again = tmp_path / "again"
    write_warning(res, again, figures=False)
    for name in ("levels.csv", "forecasts.csv", "estimates.csv", "crossing.csv"):
        assert (tmp_path / name).read_bytes() == (again / name).read_bytes()
    # the workbook's cells are identical (its zip metadata carries openpyxl's save time)
    a = pd.read_excel(tmp_path / "warning.xlsx", sheet_name=None, header=None)
    b = pd.read_excel(again / "warning.xlsx", sheet_name=None, header=None)
    assert a.keys() == b.keys() and all(a[k].equals(b[k]) for k in a)
    assert "综合等级" in a


def test_warn_cli_writes_and_reports(synthetic_result, tmp_path, monkeypatch, capsys):
    """The CLI glue: params validated, results written, alarms and a summary printed."""
    from samplekit import jobs
    from samplekit.cli import main

    seen = {}

    def fake_warning(params, quarter=None, **kw):
        seen["quarter"] = quarter
        return synthetic_result

    monkeypatch.setattr(jobs, "warning", fake_warning)
    monkeypatch.setattr(jobs, "warning_inputs", lambda params: {})
    monkeypatch.setattr(
        jobs,
        "county_warning",  # the county level has its own tests
        lambda params, quarter=None, **kw: (pd.DataFrame(), pd.DataFrame()),
    )
    monkeypatch.setattr(
        jobs,
        "county_forecast",
        lambda params, quarter=None, **kw: (pd.DataFrame(), pd.DataFrame()),
    )
    code = main(
        [
            "warn",
            "--params",
            "params/guangdong_2013.yaml",
            "--quarter",
            "2013Q4",
            "--out",
            str(tmp_path),
            "--no-figures",
            "--no-documents",
        ]
    )
    assert code == 0 and seen["quarter"] == "2013Q4"
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("2013Q4 预警")
    assert any("东莞" in line for line in out[:-1]) or any("深圳" in line for line in out[:-1])
    levels = pd.read_csv(tmp_path / "levels.csv", encoding="utf-8-sig")
    assert set(levels["status"]) <= {"alarm", "reminder", "normal"}
    assert (
        main(
            [
                "warn",
                "--params",
                "params/guangdong_2013.yaml",
                "--quarter",
                "2013Q5",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "quarter" in capsys.readouterr().err


# ------------------------------------------------------------- the panel of record (issue 9)
def test_quarters_and_mass_layoffs_use_the_membership_in_force():
    from test_estimation import membership, panel_reports

    from samplekit.warning import estimate_quarters, mass_layoff_counts

    kw = {"province": "全省", "indicators": ["job_loss_rate", "net_change_rate"]}
    before = estimate_quarters(panel_reports(False), membership(False), ["2013Q2"], **kw)
    after = estimate_quarters(panel_reports(True), membership(True), ["2013Q2"], **kw)
    pd.testing.assert_frame_equal(before, after)
    prov = after[(after["city"] == "全省") & (after["indicator"] == "job_loss_rate")]
    assert prov["n_reporters"].iloc[0] == 7  # a4, closed in 2013-05, is still counted
    # in 2013Q3 too (its survey-0 report is in the quarter before): 0 employed, not missing
    q3 = estimate_quarters(panel_reports(True), membership(True), ["2013Q3"], **kw)
    q3 = q3[(q3["city"] == "全省") & (q3["indicator"] == "job_loss_rate")]
    assert q3["n_reporters"].iloc[0] == 7
    counts, ml = mass_layoff_counts(
        panel_reports(True), membership(True), ["2013Q2"], province="全省"
    )
    # by hand: members (not individual units) that cut ≥ 100 or ≥ 10 % in a month of 2013Q2
    rep = panel_reports(True)
    rep = rep[rep["period"].isin(quarter_months("2013Q2")) & (rep["enterprise_id"] != "p1")]
    fall = (rep["baseline_employment"] - rep["survey_employment"]).clip(lower=0)
    hit = rep[(fall >= 100) | ((fall > 0) & (fall >= 0.1 * rep["baseline_employment"]))]
    assert "a4" in set(ml["enterprise_id"])
    assert counts.set_index("city").loc["全省", "value"] == hit["enterprise_id"].nunique()


def test_warning_says_which_network_it_estimates(synthetic_result):
    from samplekit.warning_report import findings_zh

    assert synthetic_result.network == "province"
    assert any("企业用工定点监测(全省)" in line for line in findings_zh(synthetic_result))


def test_warning_on_the_ministry_network():
    from samplekit.demo import HistorySettings, simulate_history, synthetic_panel

    panel = synthetic_panel(600, rng=5)
    reports, _ = simulate_history(panel, HistorySettings(start="2012-01"), rng=11)
    n_h = panel.groupby(["city", "section"])["enterprise_id"].transform("size")
    sample = panel.assign(
        cell_n=n_h,
        cell_frame_units=n_h * 5,
        weight=5.0,
        calibrated_weight=5.0,
        ministry=np.arange(len(panel)) % 3 == 0,
    )
    settings = _settings(history_quarters=2)
    kw = {"quarter": "2013Q4", "province": "全省", "forecasts": False}
    res = compute_warning(reports, sample, None, settings, network="ministry", **kw)
    assert res.network == "ministry" and res.network_zh == "失业动态监测(人社部月报网络)"
    est = res.estimates
    n_prov = est.loc[
        (est["city"] == "全省") & (est["indicator"] == "job_loss_rate"), "n_reporters"
    ].iloc[0]
    assert n_prov == int(sample["ministry"].sum())  # everyone reports in the simulation
    prov = compute_warning(reports, sample, None, settings, **kw).estimates
    assert prov.loc[
        (prov["city"] == "全省") & (prov["indicator"] == "job_loss_rate"), "n_reporters"
    ].iloc[0] == len(sample)
