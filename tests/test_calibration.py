"""Calibration: GREG and raking against hand computations, bounds, conflicts, dispersion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samplekit.calibration import (
    CalibrationSettings,
    calibrate,
    solve_calibration,
    weight_dispersion,
)
from samplekit.errors import ParamsError
from samplekit.params import Params


def test_linear_unbounded_is_the_greg_closed_form():
    rng = np.random.default_rng(1)
    n = 40
    x = np.column_stack([np.ones(n), rng.uniform(10, 100, n), rng.integers(0, 2, n)])
    d = rng.uniform(5, 15, n)
    targets = d @ x * np.array([1.1, 0.95, 1.2])
    g, ok, _, _ = solve_calibration(d, x, targets, method="linear", bounds=None)
    # Hand computation: g_i = 1 + x_i' (Σ d x x')^{-1} (T - Σ d x).
    lam = np.linalg.solve((x * d[:, None]).T @ x, targets - d @ x)
    assert ok
    np.testing.assert_allclose(g, 1 + x @ lam, rtol=1e-9)
    np.testing.assert_allclose((d * g) @ x, targets, rtol=1e-9)


def test_unbounded_raking_is_iterative_proportional_fitting():
    rng = np.random.default_rng(2)
    n = 60
    a = rng.integers(0, 2, n)
    b = rng.integers(0, 3, n)
    d = rng.uniform(1, 3, n)
    ta = np.array([70.0, 50.0])
    tb = np.array([30.0, 45.0, 45.0])
    x = np.column_stack([(a == k) for k in range(2)] + [(b == k) for k in range(3)]).astype(float)
    g, ok, _, _ = solve_calibration(d, x, np.concatenate([ta, tb]), method="raking", bounds=None)
    # Hand computation: classic IPF on the two margins until it settles.
    w = d.copy()
    for _ in range(500):
        w *= (ta / np.bincount(a, weights=w, minlength=2))[a]
        w *= (tb / np.bincount(b, weights=w, minlength=3))[b]
    assert ok
    np.testing.assert_allclose(d * g, w, rtol=1e-7)


def test_bounded_raking_keeps_g_within_bounds_and_meets_totals():
    rng = np.random.default_rng(3)
    n = 200
    cat = rng.integers(0, 4, n)
    emp = rng.lognormal(4, 0.6, n)
    d = np.full(n, 10.0)
    x = np.column_stack([(cat == k) * 1.0 for k in range(4)] + [(cat == k) * emp for k in range(4)])
    targets = (d @ x) * np.array([1.6, 0.7, 1.0, 1.3, 1.5, 0.75, 1.05, 1.2])
    g, ok, _, res = solve_calibration(d, x, targets, method="raking", bounds=(0.5, 2.0))
    assert ok and np.max(np.abs(res)) < 1e-8
    assert g.min() > 0.5 and g.max() < 2.0
    gl, okl, _, _ = solve_calibration(d, x, targets, method="linear", bounds=(0.5, 2.0))
    assert okl and gl.min() >= 0.5 - 1e-12 and gl.max() <= 2.0 + 1e-12
    np.testing.assert_allclose((d * gl) @ x, targets, rtol=1e-7)


def _frames(pop_factor_section_b: float):
    """A sample of 40 units and a population whose section B is far larger than the sample says."""
    rng = np.random.default_rng(4)
    sample = pd.DataFrame(
        {
            "city": rng.choice(["甲市", "乙市"], 40),
            "section": np.repeat(["A", "B"], 20),
            "employees": rng.integers(50, 300, 40),
        }
    )
    rows = []
    for _, r in sample.iterrows():
        k = 10 if r["section"] == "A" else int(10 * pop_factor_section_b)
        rows += [r.to_dict()] * k
    return sample, pd.DataFrame(rows)


def test_calibrate_reproduces_population_margins():
    sample, pop = _frames(1.5)
    settings = CalibrationSettings(margins=("city", "section"), bounds=(0.3, 3.0))
    res = calibrate(sample, np.full(len(sample), 10.0), pop, settings)
    assert res.converged
    for dim in ("city", "section"):
        want = pop.groupby(dim)["employees"].agg(["size", "sum"])
        got = (
            pd.DataFrame(
                {"w": res.weights, "we": res.weights * sample["employees"], dim: sample[dim]}
            )
            .groupby(dim)[["w", "we"]]
            .sum()
        )
        np.testing.assert_allclose(got["w"], want["size"], rtol=1e-8)
        np.testing.assert_allclose(got["we"], want["sum"], rtol=1e-8)
    diag = dict(zip(res.diagnostics["key"], res.diagnostics["value"], strict=True))
    assert diag["converged"] == "true"
    assert float(diag["calibrated_kish_deff"]) >= 1.0


def test_calibration_that_cannot_converge_names_the_conflicting_margin():
    sample, pop = _frames(3.5)  # section B needs g = 3.5, beyond the upper bound 3
    settings = CalibrationSettings(margins=("city", "section"), bounds=(0.3, 3.0), max_iter=60)
    res = calibrate(sample, np.full(len(sample), 10.0), pop, settings)
    assert not res.converged
    assert res.conflicts == ("section",)
    assert "section" in res.message and "section=B" in res.message
    np.testing.assert_allclose(res.weights, 10.0)  # falls back to the design weights


def test_uncovered_category_is_dropped_and_reported():
    sample, pop = _frames(1.0)
    extra = pd.DataFrame({"city": ["丙市"] * 7, "section": ["A"] * 7, "employees": [100] * 7})
    res = calibrate(
        sample,
        np.full(len(sample), 10.0),
        pd.concat([pop, extra]),
        CalibrationSettings(margins=("city", "section")),
    )
    diag = dict(zip(res.diagnostics["key"], res.diagnostics["value"], strict=True))
    assert res.converged
    assert diag["uncovered_units"] == "7" and "city=丙市" in diag["uncovered_categories"]
    np.testing.assert_allclose(res.weights.sum(), len(pop))


def test_weight_dispersion_by_hand():
    out = weight_dispersion(np.array([1.0, 1.0, 2.0, 4.0]))
    assert out["kish_deff"] == pytest.approx(4 * 22 / 64)  # n Σw² / (Σw)²
    assert out["kish_deff"] == pytest.approx(1 + out["cv"] ** 2)
    assert out["max_min_ratio"] == pytest.approx(4.0)


def test_settings_from_params_reject_bad_bounds():
    good = Params(
        Path("p.yaml"), {"selection": {"calibration": {"method": "linear", "bounds": [0.5, 2]}}}
    )
    s = CalibrationSettings.from_params(good)
    assert s.method == "linear" and s.bounds == (0.5, 2.0)
    bad = Params(Path("p.yaml"), {"selection": {"calibration": {"bounds": [2, 3]}}})
    with pytest.raises(ParamsError, match="bounds"):
        CalibrationSettings.from_params(bad)
    typo = Params(Path("p.yaml"), {"selection": {"calibration": {"bound": [0.5, 2]}}})
    with pytest.raises(ParamsError, match="unknown key"):
        CalibrationSettings.from_params(typo)
