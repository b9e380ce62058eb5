"""Precision: stratified variance, Neyman and Bethel sample sizes, the per-city table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.errors import ParamsError
from samplekit.precision import (
    PrecisionSettings,
    bethel_sample_size,
    neyman_sample_size,
    precision_table,
    scaled_sample_size,
    stratified_variance,
    stratum_sd,
    stratum_sd_from_history,
)


def test_stratified_variance_by_hand():
    # W = (.5, .5), S = (.1, .2), n = (10, 20), N = (100, 200):
    # .25*.01*(1/10-1/100) + .25*.04*(1/20-1/200) = .000225 + .00045 = .000675... by hand:
    # first: 0.0025 * 0.09 = 0.000225; second: 0.01 * 0.045 = 0.00045
    v = stratified_variance(
        np.array([0.5, 0.5]), np.array([0.1, 0.2]), np.array([10, 20]), np.array([100, 200])
    )
    assert v == pytest.approx(0.000225 + 0.00045)


def _var(w, s, n, N):
    return float(np.sum(w**2 * s**2 * (1 / n - 1 / N)))


def test_neyman_reaches_the_target_and_beats_proportional():
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(6))
    s = rng.uniform(0.02, 0.1, 6)
    N = rng.integers(5000, 20000, 6).astype(float)
    V = (0.05 * 0.02) ** 2
    n = neyman_sample_size(w, s, N, V)
    nh = n * w * s / np.sum(w * s)
    assert _var(w, s, nh, N) == pytest.approx(V, rel=1e-9)
    # proportional allocation needs more
    n_prop = scaled_sample_size(w, s, N / N.sum() * 100, N, V)
    assert n_prop >= n - 1e-6


def test_neyman_take_all_strata():
    # one tiny stratum with a big weight: Neyman wants more than it has -> take-all
    w = np.array([0.5, 0.5])
    s = np.array([0.1, 0.1])
    N = np.array([3.0, 100000.0])
    V = 1e-6
    n = neyman_sample_size(w, s, N, V)
    n_free = n - 3
    assert _var(
        np.array([0.5]), np.array([0.1]), np.array([n_free]), np.array([100000.0])
    ) == pytest.approx(V, rel=1e-9)


def test_scaled_sample_size_hits_the_target():
    w = np.array([0.2, 0.3, 0.5])
    s = np.array([0.05, 0.03, 0.08])
    n = np.array([10.0, 20.0, 30.0])
    N = np.array([400.0, 500.0, 900.0])
    V = 2e-6
    total = scaled_sample_size(w, s, n, N, V)
    k = total / n.sum()
    assert _var(w, s, np.minimum(k * n, N), N) == pytest.approx(V, rel=1e-6)


def _cells(seed=0, cities=3, per_city=8):
    rng = np.random.default_rng(seed)
    rows = []
    sizes = ["large", "medium", "small"]
    for c in range(cities):
        for j in range(per_city):
            N = int(rng.integers(200, 3000))
            rows.append(
                {
                    "city": f"城{c}",
                    "section": "C",
                    "size_class": sizes[j % 3],
                    "ownership": "private",
                    "frame_units": N,
                    "frame_employment": int(N * rng.uniform(20, 400)),
                    "n": int(rng.integers(2, 40)),
                    "n_monthly": int(rng.integers(0, 5)),
                }
            )
    return pd.DataFrame(rows)


def test_bethel_meets_every_city_and_the_province():
    cells = _cells()
    ps = PrecisionSettings(target_cv=0.03)
    sd = stratum_sd(cells, ps)
    n = bethel_sample_size(cells, sd, ps)
    V = (ps.target_cv * ps.mean_rate) ** 2
    E, N = cells["frame_employment"].to_numpy(float), cells["frame_units"].to_numpy(float)
    neyman_total = 0.0
    for _, idx in cells.groupby("city").indices.items():
        w = E[idx] / E[idx].sum()
        assert _var(w, sd[idx], n[idx], N[idx]) <= V * (1 + 1e-6)
        ney = neyman_sample_size(w, sd[idx], N[idx], V)
        assert n[idx].sum() >= ney - 1e-3  # a city's part is at least its own Neyman size
        neyman_total += ney
    assert _var(E / E.sum(), sd, n, N) <= V * (1 + 1e-6)
    # cities bind here (the province is met by their sum): the joint optimum is their Neymans
    assert n.sum() == pytest.approx(neyman_total, rel=1e-4)


def test_bethel_when_the_province_binds():
    # loose city targets, a tight province target: the province binds, and the joint optimum
    # is then the province's own Neyman allocation
    cells = _cells(seed=2)
    ps = PrecisionSettings(target_cv=5.0, target_cv_province=0.01)
    sd = stratum_sd(cells, ps)
    n = bethel_sample_size(cells, sd, ps)
    E, N = cells["frame_employment"].to_numpy(float), cells["frame_units"].to_numpy(float)
    V0 = (0.01 * ps.mean_rate) ** 2
    assert _var(E / E.sum(), sd, n, N) == pytest.approx(V0, rel=1e-4)
    assert n.sum() == pytest.approx(neyman_sample_size(E / E.sum(), sd, N, V0), rel=1e-4)
    # both kinds binding: a mid city target; every constraint holds and the total exceeds both
    # the province's Neyman size and the sum of the cities' own sizes
    ps2 = PrecisionSettings(target_cv=0.2, target_cv_province=0.01)
    n2 = bethel_sample_size(cells, sd, ps2)
    V = (0.2 * ps2.mean_rate) ** 2
    city_sizes = 0.0
    for _, idx in cells.groupby("city").indices.items():
        w = E[idx] / E[idx].sum()
        assert _var(w, sd[idx], n2[idx], N[idx]) <= V * (1 + 1e-6)
        city_sizes += neyman_sample_size(w, sd[idx], N[idx], V)
    assert _var(E / E.sum(), sd, n2, N) <= V0 * (1 + 1e-6)
    assert n2.sum() >= max(n.sum(), city_sizes) - 1e-3


def test_precision_table_matches_direct_formula():
    cells = _cells()
    ps = PrecisionSettings()
    table = precision_table(cells, ps)
    assert table["city"].tolist() == ["城0", "城1", "城2", "全省"]
    E = cells["frame_employment"].to_numpy(float)
    sd = stratum_sd(cells, ps)
    v = _var(E / E.sum(), sd, cells["n"].to_numpy(float), cells["frame_units"].to_numpy(float))
    prov = table.set_index("city").loc["全省"]
    assert prov["cv"] == pytest.approx(np.sqrt(v) / ps.mean_rate)
    assert prov["n"] == cells["n"].sum()
    assert prov["coverage"] == pytest.approx(1.0)
    # more sample, smaller CV
    bigger = precision_table(cells.assign(n=cells["n"] * 2), ps).set_index("city")
    assert (bigger["cv"] < table.set_index("city")["cv"]).all()


def test_settings_validation():
    s = PrecisionSettings.from_mapping({"sd_by_size": {"large": 0.01}, "sd_by_section": {"C": 2}})
    cells = pd.DataFrame({"size_class": ["large", "small"], "section": ["C", "F"]})
    assert stratum_sd(cells, s).tolist() == [0.02, 0.06]
    with pytest.raises(ParamsError, match="sd_by_size.huge"):
        PrecisionSettings.from_mapping({"sd_by_size": {"huge": 0.1}})
    with pytest.raises(ParamsError, match="unknown key"):
        PrecisionSettings.from_mapping({"target": 0.1})


def test_sd_from_history():
    reports = pd.DataFrame(
        {
            "enterprise_id": ["a", "a", "b", "b"],
            "baseline_employment": [100, 100, 50, 50],
            "change": [2, -2, 5, -5],
        }
    )
    units = pd.DataFrame({"enterprise_id": ["a", "b"], "size_class": ["large", "small"]})
    sd = stratum_sd_from_history(reports, units)
    assert sd["large"] == pytest.approx(np.std([0.02, -0.02], ddof=1))
    assert sd["small"] == pytest.approx(np.std([0.1, -0.1], ddof=1))
