"""Selection: PRN, per-cell counts, retained panel, inclusion probabilities, weights, reserves,
monthly subsample, determinism and the files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from samplekit.calibration import CalibrationSettings
from samplekit.errors import InputError, ParamsError
from samplekit.params import load_params
from samplekit.selection import (
    CELL,
    SAMPLE_COLUMNS,
    SelectionSettings,
    pips,
    prn,
    select_sample,
    synthetic_frame,
    write_selection,
)

FAST = CalibrationSettings(margins=("city",), totals=("units",))


def _in_cell(df: pd.DataFrame, key: tuple) -> pd.DataFrame:
    mask = np.ones(len(df), dtype=bool)
    for col, value in zip(CELL, key, strict=True):
        mask &= (df[col].astype(str) == str(value)).to_numpy()
    return df[mask]


@pytest.fixture(scope="module")
def small():
    frame, cells = synthetic_frame(6000, 80, sample_size=400, panel_share=0.03, rng=11)
    return frame, cells


@pytest.fixture(scope="module")
def result(small):
    frame, cells = small
    # min_fresh=2 (the default is 0): the tests below exercise fresh units beyond the allocation
    return select_sample(
        frame, cells, SelectionSettings(seed=20130627, reserve_per_cell=3, min_fresh=2)
    )


# ----------------------------------------------------------------------------------------- PRN
def test_prn_is_a_stable_function_of_id_and_seed():
    ids = pd.Series([f"91440101MA{k:08d}" for k in range(2000)], dtype="str")
    u = prn(ids, 20130627)
    assert ((u > 0) & (u < 1)).all()
    # independent of row order, of the other ids and of the container type
    perm = np.random.default_rng(0).permutation(len(ids))
    np.testing.assert_array_equal(prn(ids.iloc[perm].to_numpy(dtype=object), 20130627), u[perm])
    np.testing.assert_array_equal(prn(["91440101MA00000007"], 20130627), u[[7]])
    # different lengths and non-ASCII ids hash the same alone or in a batch
    mixed = ["a", "企业代码一", "91440101MA00000007", "x" * 41]
    np.testing.assert_array_equal(prn(mixed, 5), np.concatenate([prn([m], 5) for m in mixed]))
    # a pinned value: the PRN must never change across versions or platforms
    assert prn(["914401017082054420"], 20130627)[0] == pytest.approx(0.8535111795716175, abs=1e-15)


def test_prn_is_uniform_and_seeds_are_independent():
    ids = [f"9144{k:014d}" for k in range(20000)]
    u1, u2 = prn(ids, 1), prn(ids, 2)
    assert stats.kstest(u1, "uniform").pvalue > 0.001
    assert stats.kstest(u2, "uniform").pvalue > 0.001
    assert abs(np.corrcoef(u1, u2)[0, 1]) < 4 / np.sqrt(len(ids))


def test_pips_by_hand():
    # n = 2 of sizes 10,1,1,1,1: unit 0 would get 2·10/14 > 1, so it is taken and the
    # remaining place is shared equally among the four others.
    got = pips(
        np.array([10.0, 1, 1, 1, 1, 3, 1]), np.array([0, 0, 0, 0, 0, 1, 1]), np.array([2, 1])
    )
    np.testing.assert_allclose(got, [1, 0.25, 0.25, 0.25, 0.25, 0.75, 0.25])


# ------------------------------------------------------------------------------ the sample list
def _fresh_floor(frame: pd.DataFrame, cells: pd.DataFrame, min_fresh: int) -> pd.Series:
    """Per cell, by counting the frame: max(n, R + min(min_fresh, N − R)) where R > 0, else n."""
    active = frame[frame["status"] == "active"]
    keys = [active[c].astype(str) for c in CELL]
    r = active["in_panel"].astype(int).groupby(keys).sum()
    other = (~active["in_panel"]).astype(int).groupby(keys).sum()
    idx = pd.MultiIndex.from_frame(cells[CELL].astype(str))
    r, other = r.reindex(idx, fill_value=0), other.reindex(idx, fill_value=0)
    n = cells["n"].to_numpy()
    floor = np.where(r > 0, r + np.minimum(min_fresh, other), 0)
    return pd.Series(np.maximum(n, floor), index=idx)


def test_counts_per_cell_equal_the_allocation(small, result):
    frame, cells = small
    got = result.sample.groupby(CELL, observed=True).size()
    got.index = got.index.set_levels([lvl.astype(str) for lvl in got.index.levels])
    # min_fresh = 2: a cell its retained members fill gets up to 2 fresh units more
    want = _fresh_floor(frame, cells, 2)
    added = want.to_numpy() - cells["n"].to_numpy()
    assert added.sum() > 0  # the synthetic panel fills some cells: the rule is exercised
    np.testing.assert_array_equal(got.reindex(want.index, fill_value=0).to_numpy(), want)
    assert list(result.sample.columns) == SAMPLE_COLUMNS
    assert result.flags.query("flag == 'too_few_eligible'").empty
    flagged = result.flags.query("flag == 'fresh_added'")
    assert len(flagged) > 0 and (flagged["value"] > 0).all()
    # with min_fresh = 0 the counts are the allocation (retained members beyond it kept)
    old = select_sample(frame, cells, SelectionSettings(seed=20130627, min_fresh=0))
    got0 = old.sample.groupby(CELL, observed=True).size()
    got0.index = got0.index.set_levels([lvl.astype(str) for lvl in got0.index.levels])
    want0 = _fresh_floor(frame, cells, 0)
    np.testing.assert_array_equal(got0.reindex(want0.index, fill_value=0).to_numpy(), want0)
    assert old.flags.query("flag == 'fresh_added'").empty


def test_every_cell_with_retained_members_has_a_fresh_group_with_design_weights(small, result):
    frame, cells = small
    s = result.sample
    fresh = s["status"] != "retained"
    for key, g in s.groupby(CELL, observed=True):
        ret = g["status"] == "retained"
        if not ret.any():
            continue
        pool = _in_cell(frame[(frame["status"] == "active") & ~frame["in_panel"]], key)
        if len(pool) == 0:
            continue  # every unit of the cell is retained: a census
        f = g[~ret]
        assert len(f) == max(min(2, len(pool)), len(f))  # at least min(2, N − R) fresh units
        # retained: take-all group (weight 1); fresh: SRS of their number from the N − R others
        np.testing.assert_allclose(g.loc[ret, "weight"], 1.0)
        np.testing.assert_allclose(f["weight"], len(pool) / len(f))
    assert fresh.sum() > 0


def test_every_active_existing_member_is_retained(small, result):
    frame, cells = small
    active_panel = frame[frame["in_panel"] & (frame["status"] == "active")]
    sample = result.sample.set_index("enterprise_id")
    assert set(active_panel["enterprise_id"]) <= set(sample.index)
    assert (sample.loc[active_panel["enterprise_id"], "status"] == "retained").all()
    inactive = frame[frame["status"] != "active"]["enterprise_id"]
    assert not sample.index.isin(inactive).any()
    assert (
        sample.loc[sample["status"] != "retained"].index.isin(
            frame.loc[frame["in_panel"], "enterprise_id"]
        )
    ).sum() == 0


def test_new_units_are_the_smallest_prns_of_their_cell(small, result):
    frame, _ = small
    f = frame[(frame["status"] == "active") & ~frame["in_panel"]].copy()
    f["prn"] = prn(f["enterprise_id"], 20130627)
    s = result.sample[result.sample["status"] != "retained"]
    for key, g in list(s.groupby(CELL, observed=True))[:25]:
        pool = _in_cell(f, key).sort_values("prn")
        assert list(g.sort_values("prn")["enterprise_id"]) == list(
            pool["enterprise_id"].head(len(g))
        )


def test_design_weights_reproduce_cell_units_and_calibration_margins(small, result):
    frame, cells = small
    s = result.sample
    w = s.groupby(CELL, observed=True)["weight"].sum()
    eligible = frame[frame["status"] == "active"].groupby(CELL, observed=True).size()
    np.testing.assert_allclose(w.to_numpy(), eligible.reindex(w.index).to_numpy(), rtol=1e-12)
    assert (s["weight"] * s["inclusion_prob"]).between(1 - 1e-12, 1 + 1e-12).all()
    # two design groups: retained members take-all; fresh units an SRS of n − R from N − R
    # (a cell with no fresh unit keeps n/N for its retained members)
    ret = (
        (s["status"] == "retained")
        .groupby([s[c] for c in CELL], observed=True)
        .transform("sum")
        .to_numpy()
    )
    fresh = s["cell_n"].to_numpy() - ret
    want = np.where(
        s["status"] == "retained",
        1.0,
        fresh / np.maximum(s["cell_frame_units"].to_numpy() - ret, 1),
    )
    want = np.where(fresh == 0, s["cell_n"] / s["cell_frame_units"], want)
    np.testing.assert_allclose(s["inclusion_prob"], want)
    assert (s["status"] == "retained").any() and (s["inclusion_prob"] < 1).any()
    # calibrated weights hit the frame's units and employment per city/section/size/ownership
    rep = result.representativeness
    assert result.calibration_converged
    np.testing.assert_allclose(rep["calibrated_units"], rep["frame_units"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rep["calibrated_employment"], rep["frame_employment"], rtol=1e-6)
    tot = rep[rep["dimension"] == "total"].iloc[0]
    assert tot["weighted_units"] == pytest.approx(tot["frame_units"])


def test_pps_design_weights_reproduce_cell_employment(small):
    frame, cells = small
    res = select_sample(
        frame, cells, SelectionSettings(seed=3, method="pps", calibration=FAST, min_fresh=2)
    )
    s = res.sample
    emp = (
        (s["weight"] * s["employees"].clip(lower=1))
        .groupby([s[c] for c in CELL], observed=True)
        .sum()
    )
    act = frame[frame["status"] == "active"]
    want = act["employees"].clip(lower=1).groupby([act[c] for c in CELL], observed=True).sum()
    np.testing.assert_allclose(emp.to_numpy(), want.reindex(emp.index).to_numpy(), rtol=1e-9)
    got = s.groupby(CELL, observed=True).size()
    got.index = got.index.set_levels([lvl.astype(str) for lvl in got.index.levels])
    want_n = _fresh_floor(frame, cells, 2)
    np.testing.assert_array_equal(got.reindex(want_n.index, fill_value=0).to_numpy(), want_n)


def test_reserves_follow_the_sample_in_prn_order(small, result):
    res = result.reserves
    assert not res["enterprise_id"].isin(result.sample["enterprise_id"]).any()
    for key, g in list(res.groupby(CELL, observed=True))[:25]:
        assert list(g["reserve_rank"]) == list(range(1, len(g) + 1))
        assert g["prn"].is_monotonic_increasing
        sel = _in_cell(result.sample, key)
        new = sel[sel["status"] != "retained"]
        if len(new):
            assert g["prn"].min() > new["prn"].max()
    assert res.groupby(CELL, observed=True).size().max() <= 3


def test_monthly_subsample_prefers_the_existing_network(small, result):
    frame, cells = small
    s = result.sample
    got = s.groupby(CELL, observed=True)["monthly"].sum()
    want = cells.set_index(CELL)["n_monthly"]
    np.testing.assert_array_equal(got.reindex(want.index, fill_value=0).to_numpy(), want.to_numpy())
    old = set(frame.loc[frame["in_monthly"] & (frame["status"] == "active"), "enterprise_id"])
    in_old = s["enterprise_id"].isin(old)
    # wherever an existing network member is left out, its cell's monthly places are all taken
    # by other existing members
    for key, _g in s[in_old & ~s["monthly"]].groupby(CELL, observed=True):
        cell = _in_cell(s, key)
        assert cell["enterprise_id"].isin(old)[cell["monthly"]].all()


def test_replacements_stay_in_their_cell(small, result):
    rep = result.replacements.dropna(subset=["replacement_id"])
    assert len(rep) > 0
    s = result.sample.set_index("enterprise_id")
    for r in rep.itertuples(index=False):
        assert tuple(s.loc[r.replacement_id, CELL]) == tuple(getattr(r, c) for c in CELL)
        assert s.loc[r.replacement_id, "status"] == "replacement"
    assert (result.sample["status"] == "replacement").sum() == len(rep)


def test_cell_with_too_few_eligible_units_is_reported(small):
    frame, cells = small
    cells = cells.copy()
    h = cells.index[cells["frame_units"] > 0][0]
    cells.loc[h, "n"] = cells.loc[h, "frame_units"] + 4
    res = select_sample(frame, cells, SelectionSettings(seed=1, calibration=FAST))
    flag = res.flags[res.flags["flag"] == "too_few_eligible"]
    assert len(flag) == 1 and flag.iloc[0]["value"] == 4
    assert flag.iloc[0]["city"] == cells.loc[h, "city"]
    assert "only" in flag.iloc[0]["message"] and "unfilled" in flag.iloc[0]["message"]
    row = _in_cell(res.cells, tuple(cells.loc[h, CELL])).iloc[0]
    assert row["sample_n"] == row["eligible_units"] and row["shortfall"] == 4


def test_missing_columns_and_bad_params_are_clear_errors(small, tmp_path):
    frame, cells = small
    with pytest.raises(InputError, match="missing column.*in_panel"):
        select_sample(frame.drop(columns="in_panel"), cells, SelectionSettings(seed=1))
    p = tmp_path / "p.yaml"
    p.write_text("seed: 1\nselection:\n  method: random\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="selection.method"):
        SelectionSettings.from_params(load_params(p))


# ------------------------------------------------------------------- inclusion probabilities
def _replicated(sizes: np.ndarray, n: int, reps: int, panel: int = 0):
    """``reps`` identical cells of len(sizes) units (the first ``panel`` of them existing
    members), each allocated ``n`` places: one call gives ``reps`` independent draws."""
    N = len(sizes)
    frame = pd.DataFrame(
        {
            "enterprise_id": [f"R{r:05d}U{k:02d}" for r in range(reps) for k in range(N)],
            "name": "x",
            "city": "甲市",
            "section": "C",
            "size_class": "small",
            "ownership": [f"o{r:05d}" for r in range(reps) for _ in range(N)],
            "employees": np.tile(sizes, reps),
            "status": "active",
            "in_panel": np.tile(np.arange(N) < panel, reps),
            "in_monthly": False,
        }
    )
    cells = pd.DataFrame(
        {
            "city": "甲市",
            "section": "C",
            "size_class": "small",
            "ownership": [f"o{r:05d}" for r in range(reps)],
            "n": n,
            "n_monthly": 0,
        }
    )
    return frame, cells


def _frequencies(select, frame, cells, N, seeds):
    hits = np.zeros(N)
    for seed in seeds:
        ids = select(frame, cells, seed)
        hits += np.bincount(pd.Series(ids).str[-2:].astype(int), minlength=N)
    return hits / (len(seeds) * len(cells))


def _samplekit(method):
    def select(frame, cells, seed):
        res = select_sample(
            frame, cells, SelectionSettings(seed=seed, method=method, calibration=FAST)
        )
        return res.sample["enterprise_id"]

    return select


def _biased(frame, cells, seed):
    """A plausible-looking but wrong selector: smallest PRN after favouring bigger units."""
    f = frame.assign(key=prn(frame["enterprise_id"], seed) / np.sqrt(frame["employees"]))
    f = f.sort_values(["ownership", "key"])
    return f.groupby("ownership").head(int(cells["n"].iloc[0]))["enterprise_id"]


def _max_z(freq, p, draws):
    se = np.sqrt(np.maximum(p * (1 - p), 1e-12) / draws)
    return np.max(np.abs(freq - p) / se)


def test_srs_inclusion_frequencies_match_and_a_biased_selector_fails():
    sizes = np.array([20, 30, 45, 60, 80, 100, 150, 220, 300, 500])
    frame, cells = _replicated(sizes, n=3, reps=100)
    seeds = range(20)  # 20 seeds × 100 cells = 2000 draws, fixed: the test is deterministic
    draws = 20 * 100
    p = np.full(len(sizes), 0.3)  # stated π = n/N
    freq = _frequencies(_samplekit("srs"), frame, cells, len(sizes), seeds)
    chi2 = np.sum((freq - p) ** 2 * draws / (p * (1 - p)))
    assert _max_z(freq, p, draws) < 3.5
    assert stats.chi2.sf(chi2, df=len(sizes)) > 0.001
    biased = _frequencies(_biased, frame, cells, len(sizes), seeds)
    assert _max_z(biased, p, draws) > 6


def test_srs_with_existing_panel_draws_the_rest_at_rate_n_minus_r_over_n_minus_r():
    sizes = np.arange(1, 11) * 10
    frame, cells = _replicated(sizes, n=5, reps=100, panel=2)
    freq = _frequencies(_samplekit("srs"), frame, cells, len(sizes), range(20))
    np.testing.assert_array_equal(freq[:2], 1.0)
    p = np.full(8, 3 / 8)
    assert _max_z(freq[2:], p, 2000) < 3.5


def _pareto_exact_by_hand(
    lam: np.ndarray, n: int, odds: np.ndarray, grid: int = 20001
) -> np.ndarray:
    """Exact inclusion probabilities of Pareto order sampling by plain trapezoid integration
    over u_i (a different route from the library's Gauss–Legendre in log t):
    π_i = ∫₀¹ P(fewer than n of the others have ξ_j < ξ_i(u)) du, ξ = [u/(1−u)]/θ."""
    out = np.zeros(len(lam))
    u = np.linspace(0, 1, grid)[1:-1]
    for i in range(len(lam)):
        t = u / (1 - u) / odds[i]
        others = np.delete(odds, i)
        q = others * t[:, None] / (1 + others * t[:, None])  # P(ξ_j < t)
        dist = np.zeros((len(u), n))
        dist[:, 0] = 1
        for j in range(q.shape[1]):
            qj = q[:, [j]]
            shifted = np.hstack([np.zeros((len(u), 1)), dist[:, :-1]])
            dist = dist * (1 - qj) + shifted * qj
        out[i] = np.trapezoid(np.r_[1.0, dist.sum(axis=1), 0.0], np.r_[0.0, u, 1.0])
    return out


SMALL_CELLS = [
    (np.array([1.0, 2, 3]), 1),
    (np.array([1.0, 2, 3, 4, 5]), 2),
    (np.array([20.0, 30, 45, 60, 80, 100, 150, 220, 300, 500]), 3),
]


@pytest.mark.parametrize("sizes,n", SMALL_CELLS)
def test_pareto_pips_inclusion_probabilities_are_exact_by_simulation(sizes, n):
    """The stated π (λ = n x / Σx) is within 1 % of the true inclusion probability, checked
    on 2 million simulated draws (SE of a frequency ≤ 0.19 % of λ for λ ≥ 0.13, so a 1 % error
    would show at > 5 SE); the old sequential Poisson keys u/λ fail the same check."""
    from samplekit.selection import pareto_odds

    lam = pips(sizes, np.zeros(len(sizes), int), np.array([n]))
    free = lam < 1
    m = n - int((~free).sum())
    odds = pareto_odds(lam[free], m)
    hand = _pareto_exact_by_hand(lam[free], m, odds)
    np.testing.assert_allclose(hand, lam[free], rtol=1e-4)
    reps = 2_000_000 if len(sizes) <= 5 else 400_000
    rng = np.random.default_rng(len(sizes))
    u = rng.random((reps, len(sizes)))
    theta = np.ones(len(sizes))
    theta[free] = odds
    keys = np.where(lam >= 1, u - 1, u / (1 - u) / theta)  # the keys of selection.pareto_keys
    freq = np.bincount(np.argsort(keys, axis=1)[:, :n].ravel(), minlength=len(sizes)) / reps
    big = lam >= 0.13
    assert np.max(np.abs(freq[big] / lam[big] - 1)) < 0.01
    assert _max_z(freq, lam, reps) < 4.0
    sps = np.where(lam >= 1, u - 1, u / lam)
    freq_sps = np.bincount(np.argsort(sps, axis=1)[:, :n].ravel(), minlength=len(sizes)) / reps
    assert np.max(np.abs(freq_sps[big] / lam[big] - 1)) > 0.05


def test_pps_selection_draws_at_the_stated_probabilities_and_a_biased_selector_fails():
    """Through ``select_sample``: inclusion frequencies over replicated cells match the stated
    ``inclusion_prob`` in small cells (3 units, 1 place) and in a 10-unit cell."""
    for sizes, n in (SMALL_CELLS[0], SMALL_CELLS[2]):
        frame, cells = _replicated(sizes, n=n, reps=400)
        res = select_sample(frame, cells, SelectionSettings(seed=0, method="pps", calibration=FAST))
        stated = (
            res.sample.assign(k=res.sample["enterprise_id"].str[-2:].astype(int))
            .groupby("k")["inclusion_prob"]
            .first()
        )
        lam = pips(sizes, np.zeros(len(sizes), int), np.array([n]))
        np.testing.assert_allclose(stated.to_numpy(), lam[stated.index.to_numpy()])
        freq = _frequencies(_samplekit("pps"), frame, cells, len(sizes), range(10))
        assert _max_z(freq, lam, 4000) < 3.5
    biased = _frequencies(_biased, frame, cells, len(sizes), range(10))
    assert _max_z(biased, lam, 4000) > 6


# -------------------------------------------------------------------------- determinism & files
def test_sample_list_is_byte_identical_whatever_the_row_order(small, tmp_path):
    frame, cells = small
    params = load_params()
    settings = SelectionSettings(seed=20130627)
    a = select_sample(frame, cells, settings)
    shuffled = frame.sample(frac=1, random_state=5).reset_index(drop=True)
    b = select_sample(shuffled, cells.iloc[::-1], settings)
    write_selection(a, tmp_path / "a", params)
    write_selection(b, tmp_path / "b", params)
    for name in (
        "sample_list.csv",
        "reserve_list.csv",
        "representativeness.csv",
        "sample_list.xlsx",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    text = (tmp_path / "a" / "sample_list.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")  # utf-8-sig for Excel users
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "a" / "sample_list.xlsx")
    cities = sorted(a.sample["city"].astype(str).unique())
    assert wb.sheetnames == [*cities, "说明"]
    ws = wb[cities[0]]
    headers = [c.value for c in ws[4]]
    assert "统一社会信用代码" in headers and "企业名称" in headers and "入样状态" in headers


def test_cell_codes_of_string_columns_match_a_row_by_row_lookup():
    """``_codes`` looks up the distinct values of a string column only; the result must be the
    row-by-row look-up of each value's text (missing values and the text "nan" included)."""
    from samplekit.selection import _codes

    cats = pd.Index(["a", "b", "nan"])
    values = ["a", "x", None, "nan", "b", "a", None]
    for dtype in ("str", "string", object):
        s = pd.Series(values, dtype=dtype)
        expected = [
            cats.get_loc(str(v)) if str(v) in cats and v is not None else len(cats) for v in values
        ]
        if dtype is object:  # object columns go through astype(str): None becomes "None"
            expected = [cats.get_loc(str(v)) if str(v) in cats else len(cats) for v in values]
        assert _codes(s, cats).tolist() == expected, dtype
