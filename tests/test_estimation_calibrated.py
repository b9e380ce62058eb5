"""Calibration-aware variances wired into estimation (issue 10 items 1 and 4): the engine
against stored output of R's survey package (tests/fixtures/calibrated_variance/), `estimate`
against an independent computation with `samplekit.calibrated_variance` on a small design,
and the t / logit / log intervals by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from samplekit.calibrated_variance import calibrated_ratio, calibrated_total
from samplekit.calibration import CalibrationSettings, calibrate
from samplekit.errors import InputError
from samplekit.estimation import (
    CalibrationModel,
    Spec,
    change_between,
    confidence_interval,
    estimate,
    linearised_estimates,
    monthly_series,
)
from samplekit.paths import project_root

FIX = project_root() / "tests" / "fixtures" / "calibrated_variance"
METHODS = ("linear", "raking", "logit")


# ------------------------------------------------------------------------- R fixtures
@pytest.fixture(scope="module")
def fixture():
    design = pd.read_csv(FIX / "design.csv").sort_values("id").reset_index(drop=True)
    weights = pd.read_csv(FIX / "weights.csv")
    results = pd.read_csv(FIX / "results.csv", dtype={"domain": str})
    return design, weights, results


def _fixture_units(design, weights, method):
    w = weights[weights["method"] == method].sort_values("id")["weight"].to_numpy()
    n_h = design.groupby("stratum")["id"].transform("size").to_numpy(float)
    big_n = design["fpc"].to_numpy(float)
    return design.assign(
        period="p",
        _w=w,
        _d=design["design_weight"],
        _vs=pd.factorize(design["stratum"])[0],
        _nv=n_h,
        _c=(1 - n_h / big_n) * n_h / (n_h - 1),
        one=1.0,
    )


def _ref(results, method, statistic, domain="all"):
    row = results[
        (results["method"] == method)
        & (results["statistic"] == statistic)
        & (results["domain"] == domain)
    ]
    assert len(row) == 1
    return float(row["estimate"].iloc[0]), float(row["se"].iloc[0])


@pytest.mark.parametrize("method", METHODS)
def test_engine_matches_survey_calibrate(fixture, method):
    """survey::calibrate(~city + x) + svytotal / svyratio / svyby, to 1e-6 relative."""
    design, weights, results = fixture
    units = _fixture_units(design, weights, method)
    # city indicators span survey's intercept + city dummies; x enters as it is
    model = CalibrationModel(margins=("city",), totals=("units",), columns=("x",))
    specs = [Spec("total_y", "y"), Spec("total_r", "r"), Spec("ratio_r_x", "r", "x")]
    whole = linearised_estimates(units, specs, calibration=model).set_index("indicator")
    for stat in ("total_y", "total_r", "ratio_r_x"):
        est, se = _ref(results, method, stat)
        assert whole.loc[stat, "estimate"] == pytest.approx(est, rel=1e-9), stat
        assert whole.loc[stat, "se"] == pytest.approx(se, rel=1e-6), stat
    by = linearised_estimates(units, specs, by=["sector"], calibration=model)
    for row in by.itertuples():
        if row.indicator == "total_r":
            continue
        est, se = _ref(results, method, row.indicator, row.sector)
        assert row.estimate == pytest.approx(est, rel=1e-9), (row.indicator, row.sector)
        assert row.se == pytest.approx(se, rel=1e-6), (row.indicator, row.sector)
    # ignoring the calibration is far off for y (≈ proportional to x): the check can fail
    naive = linearised_estimates(units, specs).set_index("indicator")
    assert naive.loc["total_y", "se"] > 2 * whole.loc["total_y", "se"]


# ------------------------------------------------------------ a small calibrated design
def _small_design(method: str, bounds, seed: int = 7):
    """Two cities × two sections × one size × one ownership, SRS per cell, weights calibrated
    by samplekit.calibration on the four margins × units, employment; monthly reports."""
    rng = np.random.default_rng(seed)
    rows = []
    for city in ("A", "B"):
        for section in ("C", "G"):
            big_n, n = (40, 8) if section == "C" else (30, 6)
            emp = rng.integers(20, 400, big_n).astype(float)
            pick = rng.choice(big_n, n, replace=False)
            for k, i in enumerate(pick):
                rows.append(
                    {
                        "enterprise_id": f"{city}{section}{k}",
                        "city": city,
                        "section": section,
                        "size_class": "small",
                        "ownership": "private",
                        "employees": emp[i],
                        "cell_frame_units": big_n,
                        "weight": big_n / n,
                        "_pop_emp": emp.sum(),
                    }
                )
    sample = pd.DataFrame(rows)
    pop = (
        sample.groupby(["city", "section", "size_class", "ownership"])
        .agg(units=("cell_frame_units", "first"), employees=("_pop_emp", "first"))
        .reset_index()
    )
    # move the employment targets so that calibration has work to do
    pop["employees"] *= np.array([1.10, 0.85, 0.9, 1.2])
    settings = CalibrationSettings(method=method, bounds=bounds)
    cal = calibrate(sample, sample["weight"].to_numpy(), pop, settings)
    assert cal.converged
    sample["calibrated_weight"] = cal.weights
    sample = sample.drop(columns="_pop_emp")
    reps = []
    for period in ("2013-11", "2013-12"):
        x = np.round(sample["employees"] * rng.lognormal(0, 0.2, len(sample)))
        red = np.where(rng.random(len(sample)) < 0.4, np.round(x * rng.beta(1.5, 12, len(x))), 0)
        y = x - red + np.where(rng.random(len(sample)) < 0.3, np.round(x * 0.05), 0)
        rep = pd.DataFrame(
            {
                "enterprise_id": sample["enterprise_id"],
                "period": period,
                "baseline_employment": x,
                "survey_employment": y,
                "reduction_closure": 0.0,
                "reduction_suspension": 0.0,
                "reduction_layoff": red,
                "reduction_relocation": 0.0,
                "reduction_other": 0.0,
                "reason_1": np.where(red > 0, 4.0, np.nan),
                "reason_2": np.nan,
                "reason_3": np.nan,
            }
        )
        reps.append(rep)
    return sample, pd.concat(reps, ignore_index=True)


def _hand(sample, rep, *, domain=None):
    """Independent: calibrated_variance with the calibration matrix built here by hand."""
    s = sample.set_index("enterprise_id").loc[rep["enterprise_id"]].reset_index()
    cols = []
    for dim in ("city", "section", "size_class", "ownership"):
        for cat in sorted(s[dim].unique()):
            ind = (s[dim] == cat).to_numpy(float)
            cols += [ind, ind * s["employees"].to_numpy(float)]
    kw = {
        "weight": s["calibrated_weight"].to_numpy(),
        "design_weight": s["weight"].to_numpy(),
        "strata": (s["city"] + s["section"]).to_numpy(),
        "calibration_matrix": np.column_stack(cols),
        "fpc": s["cell_frame_units"].to_numpy(float),
        "domain": None if domain is None else (s["city"] == domain).to_numpy(),
    }
    x = rep["baseline_employment"].to_numpy(float)
    r = rep["reduction_layoff"].to_numpy(float)
    return {
        "baseline_employment": calibrated_total(x, **kw),
        "job_loss_rate": calibrated_ratio(r, x, **kw),
    }


@pytest.mark.parametrize(
    ("method", "bounds"), [("raking", None), ("raking", (0.3, 3.0)), ("linear", None)]
)
def test_estimate_matches_hand_computation(method, bounds):
    sample, reports = _small_design(method, bounds)
    dec = reports[reports["period"] == "2013-12"].reset_index(drop=True)
    got = estimate(
        reports,
        sample,
        periods="2013-12",
        by=["city"],
        indicators=["baseline_employment", "job_loss_rate"],
    )
    prov = estimate(
        reports, sample, periods="2013-12", indicators=["baseline_employment", "job_loss_rate"]
    )
    for domain, table in (
        (None, prov),
        ("A", got[got["city"] == "A"]),
        ("B", got[got["city"] == "B"]),
    ):
        want = _hand(sample, dec, domain=domain)
        t = table.set_index("indicator")
        for ind, (est, se) in want.items():
            scale = 100.0 if ind == "job_loss_rate" else 1.0
            assert t.loc[ind, "estimate"] == pytest.approx(scale * est, rel=1e-9)
            assert t.loc[ind, "se"] == pytest.approx(scale * se, rel=1e-6), (domain, ind)
    design = estimate(
        reports, sample, periods="2013-12", variance="design", indicators=["baseline_employment"]
    )
    # calibration on employees explains most of the baseline: the design SE is far larger
    assert design["se"].iloc[0] > 2 * prov.set_index("indicator").loc["baseline_employment", "se"]


def test_negative_weights_are_estimated_not_refused():
    sample, reports = _small_design("linear", None, seed=3)
    # force a negative weight as unbounded linear calibration can produce
    sample.loc[0, "calibrated_weight"] = -2.0
    dec = reports[reports["period"] == "2013-12"].reset_index(drop=True)
    got = estimate(
        reports, sample, periods="2013-12", indicators=["baseline_employment", "job_loss_rate"]
    ).set_index("indicator")
    want = _hand(sample, dec)
    assert got.loc["baseline_employment", "estimate"] == pytest.approx(
        want["baseline_employment"][0], rel=1e-9
    )
    assert got.loc["job_loss_rate", "se"] == pytest.approx(100 * want["job_loss_rate"][1], rel=1e-6)
    series = monthly_series(reports, sample, indicator="job_loss_rate")
    assert np.isfinite(series["se"]).all()


def test_monthly_series_and_change_use_calibrated_variance():
    sample, reports = _small_design("raking", (0.3, 3.0))
    series = monthly_series(reports, sample, indicator="job_loss_rate", by=["city"])
    for month in ("2013-11", "2013-12"):
        one = estimate(reports, sample, periods=month, by=["city"], indicators=["job_loss_rate"])
        part = series[series["period"] == month]
        np.testing.assert_allclose(part["se"].to_numpy(), one["se"].to_numpy(), rtol=1e-9)
        assert (part["df"].to_numpy() == one["df"].to_numpy()).all()
    change = change_between(
        reports, sample, period_a="2013-11", period_b="2013-12", indicator="baseline_employment"
    )
    design = change_between(
        reports,
        sample,
        period_a="2013-11",
        period_b="2013-12",
        indicator="baseline_employment",
        variance="design",
    )
    assert change["estimate"].iloc[0] == pytest.approx(design["estimate"].iloc[0])
    assert 0 < change["se"].iloc[0] < design["se"].iloc[0]


def test_variance_choice_errors():
    sample, reports = _small_design("raking", None)
    with pytest.raises(InputError, match="design weights are not calibrated"):
        estimate(reports, sample, periods="2013-12", weight="weight", variance="calibrated")
    with pytest.raises(InputError, match="'employees'"):
        estimate(
            reports, sample.drop(columns="employees"), periods="2013-12", variance="calibrated"
        )
    # without the columns the default falls back to the design variance
    plain = estimate(
        reports,
        sample.drop(columns="employees"),
        periods="2013-12",
        indicators=["baseline_employment"],
    )
    design = estimate(
        reports, sample, periods="2013-12", variance="design", indicators=["baseline_employment"]
    )
    assert plain["se"].iloc[0] == pytest.approx(design["se"].iloc[0])


# --------------------------------------------------------------------------- intervals
def test_intervals_by_hand():
    sample, reports = _small_design("raking", (0.3, 3.0))
    got = estimate(reports, sample, periods="2013-12", by=["city"])
    a = got[got["city"] == "A"].set_index("indicator")
    # city A: two cells of 8 and 6 reporters → df = 14 − 2
    assert (a["df"] == 12).all()
    t = stats.t.ppf(0.975, 12)
    rate = a.loc["job_loss_rate"]
    p, sp = rate["estimate"] / 100, rate["se"] / 100
    lo = 1 / (1 + np.exp(-(np.log(p / (1 - p)) - t * sp / (p * (1 - p)))))
    hi = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + t * sp / (p * (1 - p)))))
    assert rate["ci_low"] == pytest.approx(100 * lo) and rate["ci_high"] == pytest.approx(100 * hi)
    tot = a.loc["baseline_employment"]
    assert tot["ci_low"] == pytest.approx(
        tot["estimate"] * np.exp(-t * tot["se"] / tot["estimate"])
    )
    net = a.loc["net_change_rate"]
    assert net["ci_high"] - net["estimate"] == pytest.approx(t * net["se"])
    # a share at 0 with SE 0 falls back to the symmetric interval: [0, 0]
    lo0, hi0 = confidence_interval(
        np.array([0.0]), np.array([0.0]), np.array([5]), kind="logit", scale=100.0
    )
    assert lo0[0] == 0 and hi0[0] == 0


def _satterthwaite_by_hand(sample, rep, z_of, *, domain=None):
    """df = (Σ_h v_h)² / Σ_h v_h²/(n_h − 1), v_h = (1 − n_h/N_h) n_h/(n_h − 1) Σ_i (u_i − ū_h)²
    of u = w·e, e the design-weighted least-squares residual of z·1_d on the calibration
    matrix — by plain loops and numpy's lstsq, not the library."""
    s = sample.set_index("enterprise_id").loc[rep["enterprise_id"]].reset_index()
    cols = []
    for dim in ("city", "section", "size_class", "ownership"):
        for cat in sorted(s[dim].unique()):
            ind = (s[dim] == cat).to_numpy(float)
            cols += [ind, ind * s["employees"].to_numpy(float)]
    m = np.column_stack(cols)
    d = s["weight"].to_numpy(float)
    w = s["calibrated_weight"].to_numpy(float)
    inside = np.ones(len(s), bool) if domain is None else (s["city"] == domain).to_numpy()
    z = np.where(inside, z_of(rep, w, inside), 0.0)
    beta = np.linalg.lstsq(m * np.sqrt(d)[:, None], z * np.sqrt(d), rcond=None)[0]
    u = w * (z - m @ beta)
    v, spread, n_total, strata = 0.0, 0.0, 0, 0
    for _, idx in s.groupby(["city", "section"]).groups.items():
        uh = u[np.asarray(s.index.get_indexer(idx))]
        n, big_n = len(uh), float(s.loc[idx, "cell_frame_units"].iloc[0])
        vh = (1 - n / big_n) * n / (n - 1) * sum((x - uh.mean()) ** 2 for x in uh)
        v += vh
        spread += vh**2 / (n - 1)
        if inside[np.asarray(s.index.get_indexer(idx))].any():
            n_total += int(inside[np.asarray(s.index.get_indexer(idx))].sum())
            strata += 1
    return v, min(math.floor(v * v / spread), n_total - strata)


def test_satterthwaite_df_by_hand():
    sample, reports = _small_design("raking", None)
    dec = reports[reports["period"] == "2013-12"].reset_index(drop=True)

    def total(rep, w, inside):
        return rep["baseline_employment"].to_numpy(float)

    def ratio(rep, w, inside):
        x = rep["baseline_employment"].to_numpy(float)
        r = rep["reduction_layoff"].to_numpy(float)
        big_x = np.sum(w * x * inside)
        return (r - np.sum(w * r * inside) / big_x * x) / big_x

    kw = {"periods": "2013-12", "indicators": ["baseline_employment", "job_loss_rate"]}
    prov = estimate(reports, sample, dof="satterthwaite", **kw).set_index("indicator")
    city = estimate(reports, sample, by=["city"], dof="satterthwaite", **kw)
    design_df = estimate(reports, sample, **kw).set_index("indicator")["df"]
    for domain, table in (
        (None, prov),
        ("A", city[city["city"] == "A"].set_index("indicator")),
        ("B", city[city["city"] == "B"].set_index("indicator")),
    ):
        for ind, f, scale in (("baseline_employment", total, 1.0), ("job_loss_rate", ratio, 100)):
            v, df = _satterthwaite_by_hand(sample, dec, f, domain=domain)
            got = table.loc[ind]
            assert got["se"] == pytest.approx(scale * math.sqrt(v), rel=1e-6)
            assert got["df"] == df, (domain, ind)
    # fewer df than the design's 24 (28 reporters − 4 strata): wider intervals, same SE
    assert (prov["df"] < design_df).all()
    t = prov.loc["baseline_employment"]
    tq = stats.t.ppf(0.975, t["df"])
    assert t["ci_high"] == pytest.approx(t["estimate"] * np.exp(tq * t["se"] / t["estimate"]))
