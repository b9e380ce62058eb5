"""The open indicator table, monthly warnings and immediate reports, the explainable composite
and macro series as regressors (issue 14)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samplekit.errors import ParamsError, ValidationError
from samplekit.params import load_params
from samplekit.warning import (
    IndicatorDef,
    WarningSettings,
    assign_levels,
    composite_score,
    explain_score,
    forecast_indicators,
    indicator_values,
    monthly_inputs,
)

PROVINCE = "全省"
CITIES = ["甲", "乙", "丙"]

# A new indicator that no code knows: declared only here.
NEW_INDICATOR = """
  indicators:
    net_change_rate:
      source: estimate
      direction: lower_is_worse
      lines: [-1.8, -2.4, -3.0, -3.6]
      core: true
      family: employment
    long_term_unemployed:
      name: 长期失业人员数(人)
      source: city
      family: unemployment
      frequency: month
      direction: higher_is_worse
      lines: [120, 140, 160, 180]
      approach: 10
      aggregate: mean
      unit: 人
      range: [0, 100000]
      integer: true
      core: true
      sudden: {mom_k: 4, line_cross: true, window: 24}
"""


def _params(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text("name: t\nseed: 1\nwarning:\n" + body, encoding="utf-8")
    return p


def _table(
    shock_city: str | None = "甲",
    start: str = "2010-01",
    end: str = "2013-12",
    shock_from: str = "2013-07",
    jump: float = 60.0,
    seed: int = 4,
) -> pd.DataFrame:
    """Monthly counts around 100 (noise sd 3); the shocked city jumps by ``jump`` from
    ``shock_from`` on."""
    rng = np.random.default_rng(seed)
    periods = [str(p) for p in pd.period_range(start, end, freq="M")]
    rows = []
    for city in [*CITIES, PROVINCE]:
        level = 100 + rng.normal(0, 3, len(periods))
        if city == shock_city:
            level = level + jump * (np.array(periods) >= shock_from)
        rows.append(
            pd.DataFrame({"city": city, "period": periods, "long_term_unemployed": np.round(level)})
        )
    return pd.concat(rows, ignore_index=True)


# -------------------------------------------------------------------- the open table
def test_new_indicator_only_in_params_is_validated_judged_forecast_and_reported(tmp_path):
    from samplekit.forecast import ForecastSettings
    from samplekit.indicators import declared_columns, validate_city_indicators
    from samplekit.warning_monthly import compute_monthly_warning
    from samplekit.warning_report import write_monthly_warning

    params = load_params(_params(tmp_path, NEW_INDICATOR))  # jobs.validate runs here
    s = WarningSettings.from_params(params)
    ind = s.indicator("long_term_unemployed")
    assert (ind.family, ind.frequency, ind.unit) == ("unemployment", "month", "人")
    specs = declared_columns(s.indicators)
    assert specs["long_term_unemployed"] == ("长期失业人员数(人)", "人", 0.0, 100000.0, True)

    # validated: a fractional count and a negative value are named by row and column
    raw = _table().astype({"long_term_unemployed": object})
    raw.loc[3, "long_term_unemployed"] = "101.5"
    raw.loc[7, "long_term_unemployed"] = "-4"
    with pytest.raises(ValidationError) as exc:
        validate_city_indicators(raw.astype(str), cities=[*CITIES, PROVINCE], columns=specs)
    probs = exc.value.problems
    assert set(zip(probs["row"], probs["column"], probs["rule"], strict=True)) == {
        (5, "long_term_unemployed", "integer"),
        (9, "long_term_unemployed", "range"),
    }
    # a Chinese header (the indicator's name) is accepted
    zh = _table().rename(columns={"long_term_unemployed": "长期失业人员数(人)"}).astype(str)
    table = validate_city_indicators(zh, cities=[*CITIES, PROVINCE], columns=specs)
    assert "long_term_unemployed" in table

    # judged (quarterly): the quarter's mean month against the lines, by hand
    vals = indicator_values(
        pd.DataFrame(
            columns=[
                "quarter",
                "city",
                "indicator",
                "estimate",
                "se",
                "ci_low",
                "ci_high",
                "n_reporters",
                "small_domain",
            ]
        ),
        table,
        None,
        s,
    )
    lv = assign_levels(vals, s, province=PROVINCE)
    q4 = lv[(lv["quarter"] == "2013Q4") & (lv["city"] == "甲")].iloc[0]
    mean = table[(table.city == "甲") & table.period.isin(["2013-10", "2013-11", "2013-12"])][
        "long_term_unemployed"
    ].mean()
    assert q4["value"] == pytest.approx(mean)
    expected = sum(mean >= line for line in (120, 140, 160, 180))
    assert q4["rank"] == expected and expected >= 2

    # forecast: its monthly series goes through the forecasting machinery
    only = dataclasses.replace(s, indicators=(ind,))  # no panel estimates in this test
    monthly = monthly_inputs(
        pd.DataFrame(columns=["period"]),
        pd.DataFrame(),
        table,
        only,
        province=PROVINCE,
        end="2013-12",
    )
    fs = ForecastSettings(
        models=("naive", "ar"), season=None, origins=3, simulations=200, spring_festival=False
    )
    fc, crossing, _ = forecast_indicators(monthly, only, fs, province=PROVINCE)
    f = fc[
        (fc["indicator"] == "long_term_unemployed") & (fc["city"] == "乙") & (fc["kind"] == "month")
    ]
    assert len(f) == 3 and f["forecast"].between(80, 120).all()
    assert set(crossing["indicator"]) == {"long_term_unemployed"}

    # judged monthly and reported (with an immediate report for the jump)
    res = compute_monthly_warning(table, s, period="2013-07", province=PROVINCE)
    assert res.areas == ["甲"]
    paths = write_monthly_warning(res, tmp_path / "out")
    names = {p.name for p in paths}
    assert {"monthly_levels.csv", "立即报告_2013-07.docx", "立即报告_2013-07.xlsx"} <= names
    written = pd.read_csv(tmp_path / "out" / "monthly_levels.csv")
    assert "长期失业人员数(人)" in set(written["indicator_name"])


@pytest.mark.parametrize(
    "body, needle",
    [
        ("family: labour", "family"),
        ("frequency: week", "frequency"),
        ("range: [5, 1]", "range"),
        ("sudden: {mom_k: -1}", "sudden.mom_k"),
        ("sudden: {jump: 3}", "sudden"),
        ("table: 12", "table"),
    ],
)
def test_bad_new_keys_name_the_key(tmp_path, body, needle):
    text = (
        "  indicators:\n    x: {source: city, direction: higher_is_worse, lines: [1, 2, 3, 4],"
        f" core: true, frequency: month, {body}}}\n"
    )
    if body.startswith("frequency"):
        text = text.replace("frequency: month, ", "")
    with pytest.raises(ParamsError) as exc:
        load_params(_params(tmp_path, text))
    assert f"warning.indicators.x.{needle}" in str(exc.value)


def test_sudden_rules_need_a_monthly_indicator_and_tables_must_exist(tmp_path):
    text = (
        "  indicators:\n    x: {source: city, direction: higher_is_worse, lines: [1, 2, 3, 4],"
        " core: true, sudden: {mom_k: 3}}\n"
    )
    with pytest.raises(ParamsError, match="frequency: month"):
        load_params(_params(tmp_path, text))
    text = (
        "  indicators:\n    x: {source: city, direction: higher_is_worse, lines: [1, 2, 3, 4],"
        " core: true, table: no/such/file.csv}\n"
    )
    with pytest.raises(ParamsError, match="warning.indicators.x.table"):
        load_params(_params(tmp_path, text))
    text = (
        "  composite: {family_weights: {labour: 1}}\n  indicators:\n    x: {source: city, "
        "direction: higher_is_worse, lines: [1, 2, 3, 4], core: true}\n"
    )
    with pytest.raises(ParamsError, match="family_weights.labour"):
        load_params(_params(tmp_path, text))


def test_external_table_of_one_indicator_is_validated_and_merged(tmp_path):
    from samplekit.indicators import merge_tables

    base = _table()[["city", "period"]].assign(registered_rate=3.0)
    extra = _table()
    merged = merge_tables(base, extra, file="x.csv")
    assert len(merged) == len(base) and merged["long_term_unemployed"].notna().all()
    with pytest.raises(ValidationError, match="x.csv"):
        merge_tables(merged, extra, file="x.csv")


# ------------------------------------------------------- monthly and immediate reports
def test_mom_rule_threshold_by_hand():
    from samplekit.warning_monthly import judge_months, month_values, sudden_changes

    s = WarningSettings.from_params(
        load_params(_params(Path("/tmp"), NEW_INDICATOR), validate=False)
    )
    table = _table(jump=12.0)  # 12 persons: ~3 sd of the monthly change (sd ≈ 3√2)
    vals = month_values(table, s, end="2013-07")
    lv = judge_months(vals, s, province=PROVINCE)
    trig = sudden_changes(lv, s, raw=vals)
    x = table[table.city == "甲"].set_index("period")["long_term_unemployed"]
    d = x.diff()
    past = d.loc["2011-07":"2013-06"]  # the 24 changes before 2013-07
    thr = past.mean() + 4 * past.std(ddof=1)
    mom = trig[(trig.rule == "mom") & (trig.city == "甲") & (trig.period == "2013-07")]
    assert (d["2013-07"] > thr) == (len(mom) == 1)
    if len(mom):
        assert mom["threshold"].iloc[0] == pytest.approx(thr)


def test_demo_like_shock_triggers_one_immediate_report_in_its_first_month(tmp_path):
    from samplekit.demo import demo_macro_indicators
    from samplekit.warning_monthly import compute_monthly_warning
    from samplekit.warning_report import write_monthly_warning

    params = load_params("params/guangdong_2013.yaml", validate=False)
    s = WarningSettings.from_params(params)
    cities = pd.DataFrame(
        {
            "city": ["东莞", "深圳", "韶关", "河源", "梅州", "湛江"],
            "employed": [500.0, 600.0, 80.0, 70.0, 90.0, 150.0],
        }
    )
    table = demo_macro_indicators(
        cities,
        province="广东省",
        start="2010-01",
        end="2013-12",
        shock={"cities": ["东莞", "深圳"], "start": "2013-07", "end": "2013-12"},
        rng=8,
    )
    months = [str(p) for p in pd.period_range("2011-07", "2013-12", freq="M")]
    reports = {}
    for m in months:
        res = compute_monthly_warning(table, s, period=m, province="广东省")
        if res.immediate:
            reports[m] = res.areas
    assert list(reports) == ["2013-07"]
    # the shocked cities (and the province, which sums them), nobody else
    assert set(reports["2013-07"]) - {"广东省"} == {"东莞", "深圳"}
    out = tmp_path / "w"
    write_monthly_warning(
        compute_monthly_warning(table, s, period="2013-06", province="广东省"), out / "06"
    )
    assert not (out / "06" / "immediate").exists()
    write_monthly_warning(
        compute_monthly_warning(table, s, period="2013-07", province="广东省"), out / "07"
    )
    assert sorted(p.name for p in (out / "07" / "immediate").iterdir()) == [
        "立即报告_2013-07.docx",
        "立即报告_2013-07.xlsx",
    ]
    again = compute_monthly_warning(table, s, period="2013-07", province="广东省")
    write_monthly_warning(again, out / "07b")
    for name in ("立即报告_2013-07.docx", "立即报告_2013-07.xlsx"):  # byte-identical
        first = (out / "07" / "immediate" / name).read_bytes()
        assert first == (out / "07b" / "immediate" / name).read_bytes()


def test_cooldown_and_cluster_rule():
    from samplekit.warning_monthly import cluster_triggers, immediate_areas

    s = dataclasses.replace(
        WarningSettings.from_params(load_params(validate=False)), mass_layoff_cluster=3
    )
    counts = pd.DataFrame(
        {
            "period": ["2013-01", "2013-02", "2013-06", "2013-07"],
            "city": "甲",
            "count": [3, 5, 2, 4],
        }
    )
    trig = cluster_triggers(counts, s)
    assert trig["period"].tolist() == ["2013-01", "2013-02", "2013-07"]
    areas = immediate_areas(trig, cooldown=3)
    # 2013-02 follows a trigger one month earlier; 2013-07 comes after 4 quiet months
    assert areas["period"].tolist() == ["2013-01", "2013-07"]
    assert immediate_areas(trig, cooldown=0)["period"].tolist() == ["2013-01", "2013-02", "2013-07"]


# ------------------------------------------------------------------- the composite
def test_composite_contributions_sum_and_hand_score():
    base = WarningSettings.from_params(load_params(validate=False))

    def ind(key, family, weight=1.0):
        return IndicatorDef(
            key=key,
            name=key,
            source="city",
            column=key,
            direction="higher_is_worse",
            lines=(1.0, 2.0, 3.0, 4.0),
            family=family,
            weight=weight,
            core=True,
        )

    s = dataclasses.replace(
        base,
        indicators=(
            ind("u1", "unemployment"),
            ind("u2", "unemployment", 3.0),
            ind("e1", "employment"),
            ind("m1", "macro"),
        ),
        family_weights={"unemployment": 0.5, "employment": 0.3, "ui_fund": 0.1, "macro": 0.1},
    )
    values = pd.DataFrame(
        {
            "quarter": "2013Q4",
            "city": ["甲"] * 4 + ["乙"] * 3,
            "indicator": ["u1", "u2", "e1", "m1", "u1", "u2", "e1"],
            "value": [4.5, 1.2, 2.0, np.nan, 0.0, 0.5, 3.1],
        }
    )
    lv = assign_levels(values, s, province=PROVINCE)
    scores, contrib = composite_score(lv, s)
    sc = scores.set_index("city")["score"]
    # 甲: m1 not judged -> families unemployment, employment (0.5 / 0.8, 0.3 / 0.8);
    # u1 rank 4 share 1/4, u2 rank 1 share 3/4, e1 rank 2
    jia = 100 * (0.5 / 0.8 * (0.25 * 4 / 4 + 0.75 * 1 / 4) + 0.3 / 0.8 * 2 / 4)
    yi = 100 * (0.3 / 0.8 * 3 / 4)
    assert sc["甲"] == pytest.approx(jia) and sc["乙"] == pytest.approx(yi)
    sums = contrib.groupby("city")["contribution"].sum()
    assert np.allclose(sums.reindex(sc.index), sc)
    text = explain_score(contrib, s, city="甲", period="2013Q4")
    assert f"{jia:.1f}" in text and "u1(红色预警" in text
    # the score rule maps the score to a level
    s2 = dataclasses.replace(s, composite="score", score_lines=(10.0, 25.0, 50.0, 75.0))
    from samplekit.warning import composite_raw

    raw = composite_raw(lv, s2).set_index("city")
    assert raw.loc["甲", "raw_rank"] == sum(jia >= x for x in (10, 25, 50, 75))
    assert raw.loc["乙", "drivers"] == "e1"


# ----------------------------------------------------------- macro series as regressors
def test_arimax_forecast_matches_a_hand_checked_statsmodels_fit():
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from samplekit.forecast import arimax_forecast, lagged_regressor

    rng = np.random.default_rng(3)
    n = 120
    g = rng.normal(0.8, 1.0, n)
    x = lagged_regressor(g, 1)
    u = np.zeros(n)
    for t in range(1, n):
        u[t] = 0.6 * u[t - 1] + rng.normal(0, 0.2)
    y = 5.0 - 0.4 * np.nan_to_num(x) + u
    yt, xt = y[1:-1], x[1:-1]
    ours = arimax_forecast(yt, exog=xt, exog_future=x[-1:], order=(1, 0, 0))[0]
    res = SARIMAX(yt, exog=xt, order=(1, 0, 0), trend="c").fit(disp=False)
    c, beta, phi = res.params[0], res.params[1], res.params[2]
    # regression with AR(1) errors, statsmodels' trend in the error equation:
    # y_t = β x_t + u_t, u_t = c + φ u_{t−1} + e_t  →  ŷ = β x_{T+1} + c + φ (y_T − β x_T)
    hand = beta * x[-1] + c + phi * (yt[-1] - beta * xt[-1])
    assert ours == pytest.approx(hand, rel=1e-6)
    assert beta == pytest.approx(-0.4, abs=0.1) and phi == pytest.approx(0.6, abs=0.2)


def test_regressor_comparison_finds_a_real_leader_and_rejects_noise():
    from samplekit.backtest import BacktestRule, regressor_comparison

    rng = np.random.default_rng(7)
    n = 70
    periods = [str(p) for p in pd.period_range("2000Q1", periods=n, freq="Q")]
    lead = rng.normal(0, 1, n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.5 * y[t - 1] + 0.8 * lead[t - 1] + rng.normal(0, 0.2)
    series = pd.DataFrame({"period": periods, "value": y + 5})
    regs = {
        "leader": pd.DataFrame({"period": periods, "value": lead}),
        "noise": pd.DataFrame({"period": periods, "value": rng.normal(0, 1, n)}),
    }
    events = pd.DataFrame({"start": [periods[60]], "end": [periods[62]]})
    rule = dataclasses.replace(
        BacktestRule.from_params(load_params("params/backtest_example.yaml")),
        signal="level",
        lines=(6.0, 6.5, 7.0, 7.5),
    )
    comp, errors = regressor_comparison(
        series, regs, events, rule, start=periods[52], lag=1, order=(1, 0, 0)
    )
    c = comp[comp["model"] != "observed"].set_index("regressor")
    assert c.loc["leader", "rmse"] < 0.6 * c.loc["", "rmse"]
    assert c.loc["leader", "dm_stat"] < 0 and c.loc["leader", "improves_rmse"]
    assert not c.loc["noise", "improves_rmse"]
    # RMSE recomputed from the stored errors
    e = errors[errors.model == "leader"]
    assert c.loc["leader", "rmse"] == pytest.approx(np.sqrt(np.mean((e.actual - e.forecast) ** 2)))
    assert c.loc["leader", "origins"] == n - 52


# ------------------------------------------------------------- three levels of government
def test_reapportion_city_allocation_to_counties():
    from samplekit.counties import reapportion, validate_counties

    raw = pd.DataFrame(
        {
            "城市": ["甲", "甲", "甲", "乙", "乙"],
            "县(区)": ["a1", "a2", "a3", "b1", "b2"],
            "weight": ["50", "30", "20", "", ""],
            "total": ["", "", "", "7", "5"],
        }
    )
    counties = validate_counties(raw, cities=["甲", "乙"])
    alloc = pd.DataFrame({"city": ["甲", "乙"], "n": [11, 12]})
    out = reapportion(alloc, counties).set_index("county")
    # 11 × (0.5, 0.3, 0.2) = 5.5, 3.3, 2.2 → floors 5, 3, 2, the last seat to the largest
    # remainder (a1)
    assert out.loc[["a1", "a2", "a3"], "n"].tolist() == [6, 3, 2]
    assert out.loc[["b1", "b2"], "n"].tolist() == [7, 5] and out.loc["b1", "given"]
    assert out.groupby("city")["n"].sum().to_dict() == {"甲": 11, "乙": 12}
    bad = raw.assign(total=["", "", "", "7", "4"])
    from samplekit.errors import InputError

    with pytest.raises(InputError, match="乙"):
        reapportion(alloc, validate_counties(bad, cities=["甲", "乙"]))
    with pytest.raises(ValidationError) as exc:
        validate_counties(raw.assign(城市=["甲", "丁", "甲", "乙", "乙"]), cities=["甲", "乙"])
    assert exc.value.problems["row"].tolist() == [3]


def test_county_levels_flag_small_domains_and_use_county_lines(tmp_path):
    from samplekit.counties import county_levels

    body = (
        "  indicators:\n    net_change_rate: {source: estimate, direction: lower_is_worse,"
        " lines: [-1.8, -2.4, -3.0, -3.6], county_lines: [-3, -4, -5, -6],"
        " scope: [province, city, county], core: true}\n"
    )
    s = WarningSettings.from_params(load_params(_params(tmp_path, body)))
    est = pd.DataFrame(
        {
            "quarter": "2013Q4",
            "city": ["甲", "甲", "乙"],
            "county": ["a1", "a2", "b1"],
            "indicator": "net_change_rate",
            "estimate": [-4.2, -9.0, -3.1],
            "se": 0.5,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "n_reporters": [12, 3, 8],
            "small_domain": [False, True, False],
        }
    )
    lv = county_levels(est, s, quarter="2013Q4").set_index("county")
    assert lv.loc["a1", "level"] == "III" and lv.loc["a1", "line"] == -4  # county lines
    assert lv.loc["a2", "status"] == "small_domain" and lv.loc["a2", "rank"] == 0
    assert lv.loc["a2", "level_name"] == "样本过少,不判断"
    assert lv.loc["b1", "level"] == "IV"


def test_county_estimates_of_a_one_county_city_equal_the_city_estimate():
    from samplekit.counties import county_estimates
    from samplekit.demo import HistorySettings, simulate_history, synthetic_panel
    from samplekit.estimation import estimate

    panel = synthetic_panel(900, rng=2)
    reports, _ = simulate_history(panel, HistorySettings(start="2013-04", end="2013-06"), rng=3)
    cities = sorted(panel["city"].unique())
    one = cities[0]
    county = np.where(
        panel["city"] == one, one + "区", np.where(panel.index % 2 == 0, "东区", "西区")
    )
    n_h = panel.groupby(["city", "section"])["enterprise_id"].transform("size")
    sample = panel.assign(
        county=county, cell_n=n_h, cell_frame_units=n_h * 5, weight=5.0, calibrated_weight=5.0
    )
    est = county_estimates(reports, sample, ["2013Q2"], indicators=["net_change_rate"])
    months = ["2013-04", "2013-05", "2013-06"]
    city = estimate(
        reports,
        sample,
        periods=months,
        by=["city"],
        indicators=["net_change_rate"],
        out_of_sample="drop",
    )
    a = est[est["city"] == one].iloc[0]
    b = city[city["city"] == one].iloc[0]
    assert a["estimate"] == pytest.approx(b["estimate"]) and a["se"] == pytest.approx(b["se"])
    assert set(est[est["city"] == cities[1]]["county"]) == {"东区", "西区"}


def test_demo_counties_are_valid_and_assigned_in_proportion_to_weight():
    from samplekit.counties import validate_counties
    from samplekit.demo.counties import assign_demo_counties, demo_counties

    table = validate_counties(
        demo_counties().astype(str).replace("nan", ""), cities=["深圳", "佛山", "广州"]
    )
    members = pd.DataFrame(
        {
            "enterprise_id": [f"E{i:05d}" for i in range(6000)],
            "city": ["深圳"] * 4000 + ["佛山"] * 1000 + ["广州"] * 1000,
        }
    )
    c = assign_demo_counties(members, table, seed=1)
    assert c[members.city == "广州"].isna().all()
    sz = c[members.city == "深圳"].value_counts(normalize=True)
    w = table[table.city == "深圳"].set_index("county")["weight"]
    assert np.allclose(sz.reindex(w.index), w / w.sum(), atol=0.03)
    assert c.equals(assign_demo_counties(members, table, seed=1))  # stable


def test_warn_period_cli_writes_the_immediate_report_only_when_triggered(
    tmp_path, monkeypatch, capsys
):
    from samplekit import jobs
    from samplekit.cli import main
    from samplekit.warning_monthly import compute_monthly_warning

    s = WarningSettings.from_params(load_params(_params(tmp_path, NEW_INDICATOR)))
    table = _table()
    monkeypatch.setattr(
        jobs,
        "monthly_warning",
        lambda params, period, **kw: compute_monthly_warning(
            table, s, period=period, province=PROVINCE
        ),
    )
    args = ["warn", "--params", "params/guangdong_2013.yaml", "--out"]
    assert main([*args, str(tmp_path / "a"), "--period", "2013-06"]) == 0
    assert "无重大变化" in capsys.readouterr().out
    assert not (tmp_path / "a" / "immediate").exists()
    assert main([*args, str(tmp_path / "b"), "--period", "2013-07"]) == 0
    assert "立即报告" in capsys.readouterr().out.splitlines()[-1]
    assert (tmp_path / "b" / "immediate" / "立即报告_2013-07.docx").is_file()
    assert main([*args, str(tmp_path / "c"), "--period", "2013-7"]) == 1


def test_regressor_example_files_match_their_generators():
    from samplekit.backtest import example_layoff_notices, us_gdp_growth
    from samplekit.io import read_table
    from samplekit.paths import project_root

    root = project_root() / "data" / "demo" / "backtest"
    for name, frame in (
        ("layoff_notices.csv", example_layoff_notices()),
        ("us_gdp_growth.csv", us_gdp_growth()),
    ):
        got = read_table(root / name)
        assert got["period"].tolist() == frame["period"].tolist()
        assert np.allclose(got["value"].astype(float), frame["value"])
    # GDP growth by hand for the first quarter: 100·ln(realgdp 1959Q2 / 1959Q1)
    from statsmodels.datasets import macrodata

    d = macrodata.load_pandas().data
    g = us_gdp_growth()
    assert g["value"].iloc[0] == pytest.approx(
        100 * np.log(d["realgdp"].iloc[1] / d["realgdp"].iloc[0]), abs=1e-6
    )
