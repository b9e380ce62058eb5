"""Calibration-aware variances against stored output of R's survey package
(tests/fixtures/calibrated_variance/: make_fixtures.R, VERSIONS.txt)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.calibrated_variance import (
    calibrated_domains,
    calibrated_ratio,
    calibrated_total,
    stratified_variance,
)
from samplekit.errors import InputError
from samplekit.paths import project_root

FIX = project_root() / "tests" / "fixtures" / "calibrated_variance"
METHODS = ("linear", "raking", "logit")


@pytest.fixture(scope="module")
def fixture():
    design = pd.read_csv(FIX / "design.csv").sort_values("id").reset_index(drop=True)
    weights = pd.read_csv(FIX / "weights.csv")
    results = pd.read_csv(FIX / "results.csv", dtype={"domain": str})
    m = np.column_stack(
        [np.ones(len(design)), design["city"].eq("B"), design["city"].eq("C"), design["x"]]
    ).astype(float)
    return design, weights, results, m


def _kw(design, weights, m, method):
    w = weights[weights["method"] == method].sort_values("id")["weight"].to_numpy()
    return {
        "weight": w,
        "design_weight": design["design_weight"].to_numpy(),
        "strata": design["stratum"].to_numpy(),
        "calibration_matrix": m,
        "fpc": design["fpc"].to_numpy(),
    }


def _ref(results, method, statistic, domain="all"):
    row = results[
        (results["method"] == method)
        & (results["statistic"] == statistic)
        & (results["domain"] == domain)
    ]
    assert len(row) == 1
    return float(row["estimate"].iloc[0]), float(row["se"].iloc[0])


@pytest.mark.parametrize("method", METHODS)
def test_totals_and_ratios_match_survey_calibrate(fixture, method):
    design, weights, results, m = fixture
    kw = _kw(design, weights, m, method)
    for stat, got in (
        ("total_y", calibrated_total(design["y"], **kw)),
        ("total_r", calibrated_total(design["r"], **kw)),
        ("ratio_r_x", calibrated_ratio(design["r"], design["x"], **kw)),
    ):
        est, se = _ref(results, method, stat)
        assert got[0] == pytest.approx(est, rel=1e-9), stat
        assert got[1] == pytest.approx(se, rel=1e-6), stat


@pytest.mark.parametrize("method", METHODS)
def test_domains_match_svyby(fixture, method):
    design, weights, results, m = fixture
    kw = _kw(design, weights, m, method)
    for stat, x in (("total_y", None), ("ratio_r_x", design["x"])):
        y = design["y"] if stat == "total_y" else design["r"]
        got = calibrated_domains(y, by=design["sector"], x=x, **kw).set_index("domain")
        assert list(got.index) == ["C", "F", "G"]
        for sector in got.index:
            est, se = _ref(results, method, stat, sector)
            assert got.loc[sector, "estimate"] == pytest.approx(est, rel=1e-9), (stat, sector)
            assert got.loc[sector, "se"] == pytest.approx(se, rel=1e-6), (stat, sector)


def test_ignoring_calibration_gives_a_different_se(fixture):
    """The uncalibrated linearisation (residuals = the values themselves) is far from survey's
    calibrated SE for a total correlated with the calibration variable: the check can fail."""
    design, weights, results, m = fixture
    kw = _kw(design, weights, m, "linear")
    naive = np.sqrt(
        stratified_variance(
            kw["weight"] * design["y"].to_numpy(), strata=kw["strata"], fpc=kw["fpc"]
        )
    )
    _, se = _ref(results, "linear", "total_y")
    assert naive > 2 * se


def test_stratified_variance_by_hand_and_errors():
    # two strata of 3 and 2 units, N = 10 and 4: Σ (1 − n/N) n/(n − 1) Σ (u − ū)²
    u = np.array([1.0, 2.0, 6.0, 4.0, 8.0])
    strata = np.array(["a", "a", "a", "b", "b"])
    fpc = np.array([10, 10, 10, 4, 4])
    want = (1 - 3 / 10) * 3 / 2 * (4 + 1 + 9) + (1 - 2 / 4) * 2 / 1 * (4 + 4)
    assert stratified_variance(u, strata=strata, fpc=fpc) == pytest.approx(want)
    with pytest.raises(InputError, match="single unit"):
        stratified_variance(u, strata=np.array(["a", "a", "a", "b", "c"]))
    with pytest.raises(InputError, match="design_weight"):
        calibrated_total(
            u, weight=u, design_weight=-u, strata=strata, calibration_matrix=np.ones((5, 1))
        )
