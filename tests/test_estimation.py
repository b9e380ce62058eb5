"""Estimates and standard errors against hand computations from the textbook formulas.

The hand computations use plain loops over strata (Cochran 1977, §5.3 stratified totals, §6.11
combined ratio estimate; Särndal et al. 1992, §10.3 domains as sub-populations), written
independently of the vectorised engine in samplekit.estimation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from samplekit.errors import InputError
from samplekit.estimation import (
    INDICATORS,
    change_between,
    estimate,
    monthly_series,
    resolve_periods,
)

# stratum -> (N_h, list of (enterprise_id, export, baseline x, survey y, layoff, reason_1))
DESIGN = {
    ("甲市", "C", "medium", "private"): (
        20,
        [
            ("e1", True, 100, 90, 10, 4),
            ("e2", False, 200, 210, 0, None),
            ("e3", True, 150, 150, 0, None),
            ("e4", False, 80, 60, 20, 6),
        ],
    ),
    ("甲市", "G", "small", "private"): (
        9,
        [
            ("e5", False, 60, 66, 0, None),
            ("e6", True, 70, 63, 7, 4),
            ("e7", False, 55, 55, 0, None),
        ],
    ),
    ("乙市", "C", "large", "state"): (
        3,
        [
            ("e8", False, 1000, 950, 50, 1),
            ("e9", True, 1200, 1210, 0, None),
            ("e10", False, 900, 880, 20, 8),
        ],
    ),  # census stratum
    ("乙市", "G", "medium", "foreign"): (
        12,
        [("e11", True, 300, 280, 20, 4), ("e12", False, 260, 270, 0, None)],
    ),
}


def make_sample(design=DESIGN) -> pd.DataFrame:
    rows = []
    for (city, section, size, owner), (big_n, units) in design.items():
        for eid, export, *_ in units:
            w = big_n / len(units)
            rows.append(
                {
                    "enterprise_id": eid,
                    "city": city,
                    "section": section,
                    "size_class": size,
                    "ownership": owner,
                    "export": export,
                    "weight": w,
                    "calibrated_weight": w,
                    "cell_frame_units": big_n,
                    "cell_n": len(units),
                }
            )
    return pd.DataFrame(rows)


def make_reports(design=DESIGN, period="2013-12") -> pd.DataFrame:
    rows = []
    for _, units in design.values():
        for eid, _export, x, y, layoff, reason in units:
            rows.append(
                {
                    "enterprise_id": eid,
                    "period": period,
                    "baseline_employment": x,
                    "survey_employment": y,
                    "change": y - x,
                    "change_pct": 100 * (y - x) / x,
                    "reduction_closure": 0,
                    "reduction_suspension": 0,
                    "reduction_layoff": layoff,
                    "reduction_relocation": 0,
                    "reduction_other": 0,
                    "reason_1": reason,
                    "reason_2": None,
                    "reason_3": None,
                    "remark": "",
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- hand computations
def hand_total(design, f, domain=lambda u: True, fpc=True):
    """Ŷ = Σ_h N_h ȳ_h and v = Σ_h N_h² (1 − n_h/N_h) s_h² / n_h (Cochran 5.3)."""
    total, var = 0.0, 0.0
    for big_n, units in design.values():
        n = len(units)
        vals = [f(u) if domain(u) else 0.0 for u in units]
        mean = sum(vals) / n
        total += big_n * mean
        if n > 1:
            s2 = sum((v - mean) ** 2 for v in vals) / (n - 1)
            var += big_n**2 * ((1 - n / big_n) if fpc else 1.0) * s2 / n
    return total, math.sqrt(var)


def hand_ratio(design, fy, fx, domain=lambda u: True):
    """R̂ = Ŷ/X̂; v(R̂) = Σ_h N_h² (1 − f_h) s²_{d,h} / n_h / X̂², d = y − R̂x (Cochran 6.11)."""
    y_hat, _ = hand_total(design, fy, domain)
    x_hat, _ = hand_total(design, fx, domain)
    r = y_hat / x_hat
    var = 0.0
    for big_n, units in design.values():
        n = len(units)
        d = [(fy(u) - r * fx(u)) if domain(u) else 0.0 for u in units]
        mean = sum(d) / n
        if n > 1:
            var += big_n**2 * (1 - n / big_n) * sum((v - mean) ** 2 for v in d) / (n - 1) / n
    return r, math.sqrt(var) / x_hat


def row(df, indicator, **where):
    sel = df["indicator"] == indicator
    for k, v in where.items():
        sel &= df[k] == v
    assert sel.sum() == 1
    return df.loc[sel].iloc[0]


# ---------------------------------------------------------------- tests
def test_province_totals_and_rates_match_hand_computation():
    est = estimate(make_reports(), make_sample(), periods="2013-12")
    assert list(est["indicator"]) == INDICATORS
    x = lambda u: u[2]  # noqa: E731
    y = lambda u: u[3]  # noqa: E731
    for name, f in (
        ("baseline_employment", x),
        ("survey_employment", y),
        ("reduced_layoff", lambda u: u[4]),
        ("reduced_reason_4", lambda u: u[4] if u[5] == 4 else 0.0),
    ):
        t, se = hand_total(DESIGN, f)
        r = row(est, name)
        assert r["estimate"] == pytest.approx(t, rel=1e-12)
        assert r["se"] == pytest.approx(se, rel=1e-12)
        # log interval, t quantile with df = 12 reporters − 4 strata
        tq = stats.t.ppf(0.975, 8)
        assert r["df"] == 8
        assert r["ci_low"] == pytest.approx(t * np.exp(-tq * se / t), rel=1e-12)
        assert r["ci_high"] == pytest.approx(t * np.exp(tq * se / t), rel=1e-12)
    for name, fy, fx in (
        ("net_change_rate", lambda u: u[3] - u[2], x),
        ("job_loss_rate", lambda u: u[4], x),
        ("share_reducing", lambda u: float(u[3] < u[2]), lambda u: 1.0),
    ):
        ratio, se = hand_ratio(DESIGN, fy, fx)
        r = row(est, name)
        assert r["estimate"] == pytest.approx(100 * ratio, rel=1e-12)
        assert r["se"] == pytest.approx(100 * se, rel=1e-12)
    # 12 reporters are far below the default small-domain threshold (the Monte Carlo's 1120)
    assert (est["n_reporters"] == 12).all() and est["small_domain"].all()
    small = estimate(make_reports(), make_sample(), periods="2013-12", min_reporters=12)
    assert not small["small_domain"].any()
    # reductions by reason add up to the total persons reduced (all falling units gave a reason)
    reasons = est[est["indicator"].str.startswith("reduced_reason_")]["estimate"].sum()
    types = est[est["indicator"].str.match(r"reduced_(closure|suspension|layoff|relocation|other)")]
    assert reasons == pytest.approx(types["estimate"].sum())


def test_domain_cutting_across_strata_uses_zeros_outside_the_domain():
    est = estimate(make_reports(), make_sample(), periods="2013-12", by=["export"])
    for flag in (True, False):
        dom = lambda u, flag=flag: u[1] == flag  # noqa: E731
        t, se = hand_total(DESIGN, lambda u: u[2], dom)
        r = row(est, "baseline_employment", export=flag)
        assert r["estimate"] == pytest.approx(t) and r["se"] == pytest.approx(se)
        ratio, se = hand_ratio(DESIGN, lambda u: u[4], lambda u: u[2], dom)
        r = row(est, "job_loss_rate", export=flag)
        assert r["estimate"] == pytest.approx(100 * ratio) and r["se"] == pytest.approx(100 * se)
    # domains partition the population: totals add up
    base = est[est["indicator"] == "baseline_employment"]["estimate"].sum()
    assert base == pytest.approx(hand_total(DESIGN, lambda u: u[2])[0])


def test_city_domains_flag_small_domains_without_dropping_them():
    sample = make_sample()
    sample.loc[len(sample)] = {
        "enterprise_id": "e99",
        "city": "丙市",
        "section": "C",
        "size_class": "small",
        "ownership": "private",
        "export": False,
        "weight": 5.0,
        "calibrated_weight": 5.0,
        "cell_frame_units": 5,
        "cell_n": 1,
    }
    est = estimate(make_reports(), sample, periods="2013-12", by=["city"], min_reporters=6)
    cities = est.drop_duplicates("city").set_index("city")
    assert cities.loc["甲市", "n_reporters"] == 7 and not cities.loc["甲市", "small_domain"]
    assert cities.loc["乙市", "n_reporters"] == 5 and cities.loc["乙市", "small_domain"]
    # a city with no reporter is still listed, flagged, with no estimate
    assert cities.loc["丙市", "n_reporters"] == 0 and cities.loc["丙市", "small_domain"]
    assert np.isnan(cities.loc["丙市", "estimate"])


def test_finite_population_correction():
    sample, reports = make_sample(), make_reports()
    with_fpc = row(estimate(reports, sample, periods="2013-12"), "survey_employment")
    no_fpc = row(
        estimate(reports, sample.drop(columns="cell_frame_units"), periods="2013-12"),
        "survey_employment",
    )
    assert with_fpc["se"] == pytest.approx(hand_total(DESIGN, lambda u: u[3])[1])
    assert no_fpc["se"] == pytest.approx(hand_total(DESIGN, lambda u: u[3], fpc=False)[1])
    assert no_fpc["se"] > with_fpc["se"]
    # the census stratum (n_h = N_h = 3) contributes no variance
    only_census = {k: v for k, v in DESIGN.items() if k[1:] == ("C", "large", "state")}
    sub = sample[sample["enterprise_id"].isin(["e8", "e9", "e10"])]
    sub_reports = reports[reports["enterprise_id"].isin(sub["enterprise_id"])]
    r = row(estimate(sub_reports, sub, periods="2013-12"), "survey_employment")
    assert r["se"] == 0.0 and r["estimate"] == pytest.approx(
        hand_total(only_census, lambda u: u[3])[0]
    )


def test_single_reporter_strata_are_collapsed_or_contribute_zero():
    design = {
        ("甲市", "C", "small", "private"): (10, [("s1", False, 100, 90, 10, 4)]),
        ("甲市", "C", "small", "state"): (6, [("s2", False, 50, 55, 0, None)]),
        ("甲市", "G", "small", "private"): (
            8,
            [("s3", False, 40, 30, 10, 4), ("s4", False, 60, 60, 0, None)],
        ),
    }
    sample, reports = make_sample(design), make_reports(design)
    collapsed = row(estimate(reports, sample, periods="2013-12"), "survey_employment")
    # pooled stratum {s1, s2}: (1 − 2/16)·2/1·Σ(t − t̄)² with t = N_h·y, = (1 − 2/16)(t1 − t2)²
    t1, t2 = 10 * 90, 6 * 55
    var_pool = (1 - 2 / 16) * (t1 - t2) ** 2
    var_g = 8**2 * (1 - 2 / 8) * np.var([30, 60], ddof=1) / 2
    assert collapsed["estimate"] == pytest.approx(t1 + t2 + 8 * 45)
    assert collapsed["se"] == pytest.approx(math.sqrt(var_pool + var_g))
    zero = row(estimate(reports, sample, periods="2013-12", singleton="zero"), "survey_employment")
    assert zero["se"] == pytest.approx(math.sqrt(var_g))


def test_nonresponse_reweights_within_strata():
    reports = make_reports()
    reports = reports[reports["enterprise_id"] != "e4"]  # one of 4 in the first stratum is missing
    est = estimate(reports, make_sample(), periods="2013-12")
    design = dict(DESIGN)
    key = ("甲市", "C", "medium", "private")
    design[key] = (20, [u for u in DESIGN[key][1] if u[0] != "e4"])
    t, se = hand_total(design, lambda u: u[2])
    r = row(est, "baseline_employment")
    assert r["estimate"] == pytest.approx(t) and r["se"] == pytest.approx(se)
    assert r["n_reporters"] == 11
    raw = row(
        estimate(reports, make_sample(), periods="2013-12", nonresponse="none"),
        "baseline_employment",
    )
    assert raw["estimate"] == pytest.approx(t - 20 / 4 * (100 + 200 + 150) / 3)


def quarter_reports():
    rng = np.random.default_rng(5)
    frames = []
    for m in ("2013-10", "2013-11", "2013-12"):
        r = make_reports(period=m)
        r["baseline_employment"] = r["baseline_employment"] + rng.integers(-5, 6, len(r))
        r["reduction_closure"] = rng.integers(0, 3, len(r))
        r["reason_1"] = np.where(r["reduction_closure"] > 0, 3, r["reason_1"])
        frames.append(r)
    reports = pd.concat(frames, ignore_index=True)
    # e2 misses November: excluded from the quarter
    return reports[~((reports["enterprise_id"] == "e2") & (reports["period"] == "2013-11"))]


def test_quarter_aggregates_first_baseline_last_survey_summed_reductions():
    reports = quarter_reports()
    est = estimate(reports, make_sample(), periods="2013Q4")
    assert set(est["period"]) == {"2013Q4"}
    # hand aggregation into one month, then the single-month estimator
    rows = []
    for eid, g in reports.groupby("enterprise_id"):
        if len(g) < 3:
            continue
        g = g.sort_values("period")
        red = g[["reduction_closure", "reduction_layoff"]].sum()
        rows.append(
            {
                "enterprise_id": eid,
                "period": "2013-12",
                "baseline_employment": g["baseline_employment"].iloc[0],
                "survey_employment": g["survey_employment"].iloc[-1],
                "reduction_closure": red["reduction_closure"],
                "reduction_suspension": 0,
                "reduction_layoff": red["reduction_layoff"],
                "reduction_relocation": 0,
                "reduction_other": 0,
                "reason_1": None,
                "_r3": float(
                    (g["reduction_closure"] + g["reduction_layoff"])[g["reason_1"] == 3].sum()
                ),
            }
        )
    agg = pd.DataFrame(rows)
    assert "e2" not in set(agg["enterprise_id"])
    one = estimate(agg, make_sample(), periods="2013-12")
    for name in (
        "baseline_employment",
        "survey_employment",
        "net_change_rate",
        "job_loss_rate",
        "reduced_closure",
        "share_reducing",
    ):
        assert row(est, name)["estimate"] == pytest.approx(row(one, name)["estimate"])
        assert row(est, name)["se"] == pytest.approx(row(one, name)["se"])
    # persons reduced with first-ranked reason 3, summed month by month (weights N_h/n_h after
    # the e2 non-response adjustment in its stratum)
    w = make_sample().set_index("enterprise_id")["weight"].to_dict()
    w.update(dict.fromkeys(("e1", "e3", "e4"), 20 / 3))
    expected = sum(w[e] * r3 for e, r3 in zip(agg["enterprise_id"], agg["_r3"], strict=True))
    assert row(est, "reduced_reason_3")["estimate"] == pytest.approx(expected)
    assert row(est, "reduced_reason_3")["n_reporters"] == 11


def test_change_between_on_the_matched_panel():
    reports = quarter_reports()
    sample = make_sample()
    ch = change_between(
        reports, sample, period_a="2013-11", period_b="2013-12", indicator="survey_employment"
    )
    r = ch.iloc[0]
    # matched panel: e2 did not report in November; weights adjusted in its stratum
    matched = reports[reports["enterprise_id"] != "e2"]
    a = matched[matched["period"] == "2013-11"].set_index("enterprise_id")["survey_employment"]
    b = matched[matched["period"] == "2013-12"].set_index("enterprise_id")["survey_employment"]
    design = {}
    for key, (big_n, units) in DESIGN.items():
        design[key] = (big_n, [(u[0], None, a[u[0]], b[u[0]]) for u in units if u[0] != "e2"])
    ta, _ = hand_total(design, lambda u: u[2])
    tb, _ = hand_total(design, lambda u: u[3])
    _, se = hand_total(design, lambda u: u[3] - u[2])
    assert r["estimate_a"] == pytest.approx(ta) and r["estimate_b"] == pytest.approx(tb)
    assert r["estimate"] == pytest.approx(tb - ta) and r["se"] == pytest.approx(se)
    assert r["n_reporters"] == 11
    # ratio change: SE from z_b − z_a, by hand
    ch = change_between(
        reports, sample, period_a="2013-11", period_b="2013-12", indicator="net_change_rate"
    ).iloc[0]
    xa = matched[matched["period"] == "2013-11"].set_index("enterprise_id")["baseline_employment"]
    xb = matched[matched["period"] == "2013-12"].set_index("enterprise_id")["baseline_employment"]
    design = {
        k: (big_n, [(u[0], xa[u[0]], a[u[0]], xb[u[0]], b[u[0]]) for u in units if u[0] != "e2"])
        for k, (big_n, units) in DESIGN.items()
    }
    ra = hand_total(design, lambda u: u[2] - u[1])[0] / hand_total(design, lambda u: u[1])[0]
    rb = hand_total(design, lambda u: u[4] - u[3])[0] / hand_total(design, lambda u: u[3])[0]
    xa_hat, xb_hat = hand_total(design, lambda u: u[1])[0], hand_total(design, lambda u: u[3])[0]
    _, se = hand_total(
        design,
        lambda u: ((u[4] - u[3]) - rb * u[3]) / xb_hat - ((u[2] - u[1]) - ra * u[1]) / xa_hat,
    )
    assert ch["estimate"] == pytest.approx(100 * (rb - ra))
    assert ch["se"] == pytest.approx(100 * se)


def test_monthly_series_matches_month_by_month_estimates():
    reports, sample = quarter_reports(), make_sample()
    series = monthly_series(reports, sample, indicator="job_loss_rate", by=["city"])
    assert list(series.columns[:4]) == ["period", "city", "estimate", "se"]
    assert len(series) == 6
    for _, s in series.iterrows():
        one = estimate(
            reports, sample, periods=s["period"], by=["city"], indicators=["job_loss_rate"]
        )
        r = row(one, "job_loss_rate", city=s["city"])
        assert s["estimate"] == pytest.approx(r["estimate"]) and s["se"] == pytest.approx(r["se"])


def test_resolve_periods():
    assert resolve_periods("2013-12") == ("2013-12", ["2013-12"])
    assert resolve_periods("2014Q1") == ("2014Q1", ["2014-01", "2014-02", "2014-03"])
    assert resolve_periods(["2013-10", "2013-11", "2013-12"])[0] == "2013Q4"
    assert resolve_periods(["2013-11", "2013-12", "2014-01"])[0] == "2013-11~2014-01"
    with pytest.raises(InputError, match="consecutive"):
        resolve_periods(["2013-10", "2013-12"])
    with pytest.raises(InputError, match="YYYY-MM"):
        resolve_periods("2013-13")


def test_input_errors_name_the_problem():
    reports, sample = make_reports(), make_sample()
    extra = reports.iloc[[0]].assign(enterprise_id="zz")
    with pytest.raises(InputError, match="not in the sample list.*zz"):
        estimate(pd.concat([reports, extra]), sample, periods="2013-12")
    with pytest.raises(InputError, match="negative reductions.*reduction_layoff"):
        estimate(
            reports.assign(reduction_layoff=-reports["reduction_layoff"] - 1),
            sample,
            periods="2013-12",
        )
    with pytest.raises(InputError, match="no enterprise reported"):
        estimate(reports, sample, periods="2014-01")
    with pytest.raises(InputError, match="'calibrated_weight'"):
        estimate(reports, sample.assign(calibrated_weight=np.nan), periods="2013-12")
    with pytest.raises(InputError, match="not columns of the sample list"):
        estimate(reports, sample, periods="2013-12", by=["province"])


def test_cross_check_with_svy_taylor_estimates():
    """svy (samplics' successor, Taylor linearisation with strata and fpc) gives the same SEs."""
    import polars as pl
    import svy

    data = make_sample().merge(make_reports(), on="enterprise_id")
    data["stratum"] = data["city"] + data["section"] + data["size_class"] + data["ownership"]
    data["change"] = data["survey_employment"] - data["baseline_employment"]
    cols = [
        "enterprise_id",
        "stratum",
        "weight",
        "cell_frame_units",
        "baseline_employment",
        "survey_employment",
        "change",
        "reduction_layoff",
        "export",
    ]
    smp = svy.Sample(
        pl.from_pandas(data[cols]),
        svy.Design(stratum="stratum", wgt="weight", pop_size="cell_frame_units"),
    )
    ours = estimate(make_reports(), make_sample(), periods="2013-12")
    total = smp.estimation.total("survey_employment").to_dicts()[0]
    r = row(ours, "survey_employment")
    assert r["estimate"] == pytest.approx(total["est"]) and r["se"] == pytest.approx(total["se"])
    ratio = smp.estimation.ratio("change", "baseline_employment").to_dicts()[0]
    r = row(ours, "net_change_rate")
    assert r["estimate"] == pytest.approx(100 * ratio["est"])
    assert r["se"] == pytest.approx(100 * ratio["se"])
    ours = estimate(make_reports(), make_sample(), periods="2013-12", by=["export"])
    for d in smp.estimation.ratio(
        "reduction_layoff", "baseline_employment", by="export"
    ).to_dicts():
        r = row(ours, "job_loss_rate", export=d["by_level"][0])
        assert r["estimate"] == pytest.approx(100 * d["est"])
        assert r["se"] == pytest.approx(100 * d["se"])


def test_out_of_sample_reports_can_be_dropped():
    reports, sample = make_reports(), make_sample()
    extra = reports.iloc[[0]].assign(enterprise_id="zz", baseline_employment=10**6)
    both = pd.concat([reports, extra])
    dropped = estimate(both, sample, periods="2013-12", out_of_sample="drop")
    pd.testing.assert_frame_equal(dropped, estimate(reports, sample, periods="2013-12"))


# ------------------------------------------------------------ a panel with windows (issue 9)
# Window 1 (design, effective 2012-01): S1 = 甲市/C/medium/private, N = 20, a1…a4 (w = 5);
# S2 = 乙市/G/small/private, N = 9, b1…b3 (w = 3); p1 an individual organisation (附表三, no
# weight). a4 closes in 2013-05 (survey 0, all reduced as 关闭破产) and reports no more.
# Window 2 (held 2013-12, effective 2014-01): every row closed at 2013-12 (a4: closed), rows
# re-issued from 2014-01 with new weights — S1 N = 22, a1…a3 + replacement r1 (w = 5.5).
S1 = ("甲市", "C", "medium", "private")
S2 = ("乙市", "G", "small", "private")
W1 = {
    "a1": (S1, 5.0, 20),
    "a2": (S1, 5.0, 20),
    "a3": (S1, 5.0, 20),
    "a4": (S1, 5.0, 20),
    "b1": (S2, 3.0, 9),
    "b2": (S2, 3.0, 9),
    "b3": (S2, 3.0, 9),
}
W2 = {
    "a1": (S1, 5.5, 22),
    "a2": (S1, 5.5, 22),
    "a3": (S1, 5.5, 22),
    "r1": (S1, 5.5, 22),
    "b1": (S2, 3.0, 9),
    "b2": (S2, 3.0, 9),
    "b3": (S2, 3.0, 9),
}
PANEL_MONTHS = [str(p) for p in pd.period_range("2012-04", "2014-06", freq="M")]


def _row(eid, cell, w, big_n, valid_from, valid_to, window, individual=False, ministry=False):
    city, section, size, owner = cell
    return {
        "enterprise_id": eid,
        "name": f"企业{eid}",
        "city": city,
        "section": section,
        "size_class": size,
        "ownership": owner,
        "weight": w,
        "calibrated_weight": w,
        "cell_frame_units": big_n,
        "cell_n": 4 if cell == S1 else 3,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "window_id": window,
        "individual": individual,
        "ministry": ministry,
        "entry_reason": "existing",
        "exit_reason": None,
    }


def membership(after: bool) -> pd.DataFrame:
    """The panel of record before (window 1 open) and after the December 2013 window."""
    end = "2013-12" if after else None
    rows = [
        _row(e, c, w, n, "2012-01", end, 1, ministry=e in ("a1", "a2"))
        for e, (c, w, n) in W1.items()
    ]
    rows.append(_row("p1", S2, np.nan, np.nan, "2012-01", end, 1, individual=True))
    if after:
        rows[3]["exit_reason"] = "closed"
        rows += [
            _row(e, c, w, n, "2014-01", None, 2, ministry=e in ("a1", "a2"))
            for e, (c, w, n) in W2.items()
        ]
        rows[-4]["entry_reason"] = "replacement"
        rows.append(_row("p1", S2, np.nan, np.nan, "2014-01", None, 2, individual=True))
    return pd.DataFrame(rows)


def panel_reports(after: bool) -> pd.DataFrame:
    """Reports 2012-04 … 2013-12 (before) or … 2014-06 (after; r1 from 2014-01)."""
    rng = np.random.default_rng(7)
    base = {
        "a1": 400,
        "a2": 250,
        "a3": 120,
        "a4": 80,
        "b1": 60,
        "b2": 45,
        "b3": 30,
        "r1": 90,
        "p1": 8,
    }
    rows = []
    for m in PANEL_MONTHS:
        for eid, x0 in base.items():
            change = int(rng.integers(-12, 8))
            if eid == "r1" and m < "2014-01":
                continue
            if eid == "a4" and m > "2013-05":
                continue  # closed: no report after its last one (survey 0)
            x = x0 + int(rng.integers(-5, 6))
            y = max(x + change, 0)
            closure = 0
            if eid == "a4" and m == "2013-05":
                y, closure = 0, x
            rows.append(
                {
                    "enterprise_id": eid,
                    "period": m,
                    "baseline_employment": x,
                    "survey_employment": y,
                    "change": y - x,
                    "change_pct": 100 * (y - x) / x,
                    "reduction_closure": closure,
                    "reduction_suspension": 0,
                    "reduction_layoff": max(x - y, 0) - closure,
                    "reduction_relocation": 0,
                    "reduction_other": 0,
                    "reason_1": 4 if y < x else None,
                    "reason_2": None,
                    "reason_3": None,
                    "remark": "",
                }
            )
    rep = pd.DataFrame(rows)
    return rep if after else rep[rep["period"] <= "2013-12"].reset_index(drop=True)


def _strat(units, weights, strata, big_n):
    """Plain loops: t = Σ w v and v(t) = Σ_h (1 − n_h/N_h) n_h/(n_h − 1) Σ_i (u_hi − ū_h)²
    for u = w·v per unit (units: {id: value})."""
    total, var = 0.0, 0.0
    for h in sorted(set(strata.values())):
        ids = [i for i in units if strata[i] == h]
        u = np.array([weights[i] * units[i] for i in ids])
        total += u.sum()
        n = len(ids)
        if n > 1:
            var += (1 - n / big_n[h]) * n / (n - 1) * ((u - u.mean()) ** 2).sum()
    return total, var


def _hand_period(rep, months, members):
    """Per member of ``members``: (x first month, y last month, Σ reductions), a closed member
    counting x = y = 0 in the months after its survey-0 report."""
    out = {}
    for eid in members:
        g = rep[(rep["enterprise_id"] == eid)].set_index("period")
        xs, ys, rs = [], [], []
        for m in months:
            if m in g.index:
                r = g.loc[m]
                xs.append(r["baseline_employment"])
                ys.append(r["survey_employment"])
                rs.append(r["reduction_closure"] + r["reduction_layoff"])
            else:
                before = g[g.index < m]
                assert len(before) and before["survey_employment"].iloc[-1] == 0
                xs.append(0), ys.append(0), rs.append(0)
        out[eid] = (xs[0], ys[-1], sum(rs))
    return out


def _hand_rate(units, w, strata, big_n, num, den):
    """100·Σw num / Σw den and its linearised SE (z = (num − R den)/X̂)."""
    t_num, _ = _strat({i: num(u) for i, u in units.items()}, w, strata, big_n)
    t_den, _ = _strat({i: den(u) for i, u in units.items()}, w, strata, big_n)
    r = t_num / t_den
    _, v = _strat({i: (num(u) - r * den(u)) / t_den for i, u in units.items()}, w, strata, big_n)
    return 100 * r, 100 * math.sqrt(v)


Q2_2013 = ["2013-04", "2013-05", "2013-06"]
Q2_2012 = ["2012-04", "2012-05", "2012-06"]
BIG_N = {S1: 20, S2: 9}


def test_quarter_estimates_do_not_change_when_a_later_window_replaces_closed_firms():
    before = estimate(panel_reports(False), membership(False), periods="2013Q2")
    after = estimate(panel_reports(True), membership(True), periods="2013Q2")
    pd.testing.assert_frame_equal(before, after)
    # hand computation: all seven members, a4 with its May closure (x = April baseline, y = 0)
    rep = panel_reports(True)
    units = _hand_period(rep, Q2_2013, list(W1))
    assert units["a4"][1] == 0 and units["a4"][2] > 0
    w = {e: v[1] for e, v in W1.items()}
    strata = {e: v[0] for e, v in W1.items()}
    rate, se = _hand_rate(units, w, strata, BIG_N, lambda u: u[2], lambda u: u[0])
    got = row(after, "job_loss_rate")
    assert got["estimate"] == pytest.approx(rate) and got["se"] == pytest.approx(se)
    assert got["n_reporters"] == 7
    total, var = _strat({e: u[1] for e, u in units.items()}, w, strata, BIG_N)
    assert row(after, "survey_employment")["estimate"] == pytest.approx(total)
    assert row(after, "survey_employment")["se"] == pytest.approx(math.sqrt(var))
    # the old way (reports of current members only) loses a4 and its job loss: a survivors' rate
    survivors = {e: u for e, u in units.items() if e != "a4"}
    w_surv = {**w, "a1": 20 / 3, "a2": 20 / 3, "a3": 20 / 3}
    old, _ = _hand_rate(survivors, w_surv, strata, BIG_N, lambda u: u[2], lambda u: u[0])
    assert got["estimate"] > old + 1


def test_year_on_year_change_does_not_change_with_a_later_window():
    kw = {"period_a": "2012Q2", "period_b": "2013Q2", "indicator": "job_loss_rate"}
    before = change_between(panel_reports(False), membership(False), **kw)
    after = change_between(panel_reports(True), membership(True), **kw)
    pd.testing.assert_frame_equal(before, after)
    rep = panel_reports(True)
    ua, ub = _hand_period(rep, Q2_2012, list(W1)), _hand_period(rep, Q2_2013, list(W1))
    w = {e: v[1] for e, v in W1.items()}
    strata = {e: v[0] for e, v in W1.items()}
    ra, _ = _hand_rate(ua, w, strata, BIG_N, lambda u: u[2], lambda u: u[0])
    rb, _ = _hand_rate(ub, w, strata, BIG_N, lambda u: u[2], lambda u: u[0])
    xa, _ = _strat({e: u[0] for e, u in ua.items()}, w, strata, BIG_N)
    xb, _ = _strat({e: u[0] for e, u in ub.items()}, w, strata, BIG_N)
    dz = {
        e: (ub[e][2] - rb / 100 * ub[e][0]) / xb - (ua[e][2] - ra / 100 * ua[e][0]) / xa for e in W1
    }
    _, v = _strat(dz, w, strata, BIG_N)
    r = after.iloc[0]
    assert r["estimate_a"] == pytest.approx(ra) and r["estimate_b"] == pytest.approx(rb)
    assert r["estimate"] == pytest.approx(rb - ra) and r["se"] == pytest.approx(100 * math.sqrt(v))
    assert r["n_reporters"] == 7


def test_a_closure_is_a_reported_zero_not_nonresponse():
    est = estimate(
        panel_reports(True),
        membership(True),
        periods="2013-06",
        indicators=["survey_employment", "share_reducing"],
    )
    rep = panel_reports(True)
    june = rep[rep["period"] == "2013-06"].set_index("enterprise_id")["survey_employment"]
    closure = 5 * (june["a1"] + june["a2"] + june["a3"] + 0) + 3 * june[["b1", "b2", "b3"]].sum()
    nonresponse = (
        20 / 3 * (june["a1"] + june["a2"] + june["a3"]) + 3 * june[["b1", "b2", "b3"]].sum()
    )
    got = row(est, "survey_employment")
    assert got["estimate"] == pytest.approx(closure) and got["n_reporters"] == 7
    assert abs(closure - nonresponse) > 100
    # a4 stays a reporter (x = y = 0, not falling) until its row closes
    dec = estimate(
        panel_reports(True), membership(True), periods="2013-12", indicators=["survey_employment"]
    )
    assert row(dec, "survey_employment")["n_reporters"] == 7


def test_a_replacement_contributes_from_its_valid_from():
    rep = panel_reports(True)
    series = monthly_series(rep, membership(True), indicator="survey_employment")
    s = series.set_index("period")
    for m in ("2013-12", "2014-01", "2014-06"):
        month = rep[rep["period"] == m].set_index("enterprise_id")["survey_employment"]
        if m < "2014-01":  # window 1: a4 closed (0), no r1
            want = 5 * month[["a1", "a2", "a3"]].sum() + 3 * month[["b1", "b2", "b3"]].sum()
        else:  # window 2: r1 in, new S1 weights 22/4
            want = 5.5 * month[["a1", "a2", "a3", "r1"]].sum() + 3 * month[["b1", "b2", "b3"]].sum()
        assert s.loc[m, "estimate"] == pytest.approx(want), m
        assert s.loc[m, "n_reporters"] == 7
    # a report of r1 before its valid_from is not a member's report
    early = pd.concat(
        [
            rep,
            rep[(rep["enterprise_id"] == "r1") & (rep["period"] == "2014-01")].assign(
                period="2013-12"
            ),
        ],
        ignore_index=True,
    )
    with pytest.raises(InputError, match="not members in force"):
        estimate(early, membership(True), periods="2013-12")
    dropped = estimate(early, membership(True), periods="2013-12", out_of_sample="drop")
    pd.testing.assert_frame_equal(dropped, estimate(rep, membership(True), periods="2013-12"))
    # monthly_series agrees with month-by-month estimate across the window
    for m in ("2013-06", "2014-02"):
        one = row(estimate(rep, membership(True), periods=m), "survey_employment")
        assert s.loc[m, "se"] == pytest.approx(one["se"])


def test_change_across_windows_uses_each_periods_own_design_rows():
    ch = change_between(
        panel_reports(True),
        membership(True),
        period_a="2013Q2",
        period_b="2014Q2",
        indicator="survey_employment",
    ).iloc[0]
    rep = panel_reports(True)
    matched = ["a1", "a2", "a3", "b1", "b2", "b3"]  # a4 left, r1 entered
    ua = _hand_period(rep, Q2_2013, matched)
    ub = _hand_period(rep, ["2014-04", "2014-05", "2014-06"], matched)
    # each period's weights, scaled in its strata to its own design's weight total
    w_a = {**dict.fromkeys(("a1", "a2", "a3"), 20 / 3), **dict.fromkeys(("b1", "b2", "b3"), 3.0)}
    w_b = {**dict.fromkeys(("a1", "a2", "a3"), 22 / 3), **dict.fromkeys(("b1", "b2", "b3"), 3.0)}
    strata = {e: W1[e][0] for e in matched}
    ta, _ = _strat({e: u[1] for e, u in ua.items()}, w_a, strata, BIG_N)
    tb, _ = _strat({e: u[1] for e, u in ub.items()}, w_b, strata, BIG_N)
    _, v = _strat(
        {e: w_b[e] * ub[e][1] - w_a[e] * ua[e][1] for e in matched},
        dict.fromkeys(matched, 1.0),
        strata,
        BIG_N,
    )
    assert ch["estimate_a"] == pytest.approx(ta) and ch["estimate_b"] == pytest.approx(tb)
    assert ch["estimate"] == pytest.approx(tb - ta) and ch["se"] == pytest.approx(math.sqrt(v))
    assert ch["n_reporters"] == 6


def test_a_run_straddling_a_window_warns_and_uses_its_first_months_rows():
    from samplekit.estimation import WindowStraddleWarning

    m = membership(False)
    second = m.assign(valid_from="2013-05", window_id=2, calibrated_weight=m["weight"] * 2)
    mid = pd.concat([m.assign(valid_to="2013-04"), second], ignore_index=True)
    rep = panel_reports(False)
    with pytest.warns(WindowStraddleWarning, match="2013Q2"):
        est = estimate(rep, mid, periods="2013Q2", indicators=["survey_employment"])
    plain = estimate(rep, membership(False), periods="2013Q2", indicators=["survey_employment"])
    assert row(est, "survey_employment")["estimate"] == pytest.approx(
        row(plain, "survey_employment")["estimate"]
    )


def test_membership_errors_name_the_rows():
    m = membership(True)
    bad = m.copy()
    bad.loc[0, "valid_to"] = "2014-02"  # a1's first row now overlaps its 2014-01 row
    with pytest.raises(InputError, match="overlapping"):
        estimate(panel_reports(True), bad, periods="2013-12")
    bad = m.copy()
    bad.loc[1, "valid_from"] = "2014-05"
    with pytest.raises(InputError, match="valid_from after valid_to"):
        estimate(panel_reports(True), bad, periods="2013-12")
    bad = m.copy()
    bad.loc[2, "valid_from"] = "2012/01"
    with pytest.raises(InputError, match="valid_from.*not a month"):
        estimate(panel_reports(True), bad, periods="2013-12")


def test_ministry_network_keeps_its_members_with_stratum_weight_totals():
    from samplekit.estimation import network_members

    net = network_members(membership(False), network="ministry")
    assert sorted(net["enterprise_id"]) == ["a1", "a2"]
    # S1 weight total 20 carried by the two ministry members; S2 has none (drops out)
    assert net["calibrated_weight"].tolist() == [10.0, 10.0]
    assert network_members(membership(False), network="province") is not None
    with pytest.raises(InputError, match="ministry"):
        network_members(make_sample(), network="ministry")


def test_satterthwaite_df_by_hand():
    # v_h = N_h² (1 − n_h/N_h) s_h² / n_h per stratum (the census stratum gives 0);
    # df = (Σ v_h)² / Σ v_h²/(n_h − 1), floored, at most the design df (12 − 4 = 8)
    est = estimate(make_reports(), make_sample(), periods="2013-12", dof="satterthwaite")
    for name, f in (("baseline_employment", lambda u: u[2]), ("reduced_layoff", lambda u: u[4])):
        parts = []
        for big_n, units in DESIGN.values():
            n = len(units)
            vals = [f(u) for u in units]
            s2 = float(np.var(vals, ddof=1))
            parts.append((big_n**2 * (1 - n / big_n) * s2 / n, n))
        v = sum(p for p, _ in parts)
        df = min(math.floor(v * v / sum(p * p / (n - 1) for p, n in parts)), 8)
        r = row(est, name)
        assert r["df"] == df and df < 8
        assert r["se"] == pytest.approx(math.sqrt(v), rel=1e-12)
        tq = stats.t.ppf(0.975, df)
        assert r["ci_high"] == pytest.approx(r["estimate"] * np.exp(tq * r["se"] / r["estimate"]))
