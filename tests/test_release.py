"""The quarterly release: estimates against a hand computation on a small design, the shortage
ranking's ties, dominance rules, and suppression checked by solving the published table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from samplekit.labour_form import FORM_COLUMNS
from samplekit.release import (
    ADDITIVE,
    ReleaseSettings,
    compute_release,
    domain_estimates,
    dominated,
    public_tables,
    release_units,
    shortage_ranking,
    suppress_table,
    weighted_quantile,
)

Q = "2013Q4"


def membership(strata: dict[str, tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """``prefix -> (city, section, size_class, n members, N_h)``; weight N_h / n_h."""
    rows = []
    for prefix, (city, section, size, n, big_n) in strata.items():
        for k in range(1, n + 1):
            rows.append(
                {
                    "enterprise_id": f"{prefix}{k}",
                    "city": city,
                    "section": section,
                    "size_class": size,
                    "ownership": "private",
                    "calibrated_weight": big_n / n,
                    "cell_frame_units": big_n,
                    "valid_from": "2013-01",
                    "valid_to": None,
                }
            )
    return pd.DataFrame(rows)


def forms(rows: list[tuple[str, int, float, int]], quarter: str = Q) -> pd.DataFrame:
    """``(enterprise_id, employees, wage bill 千元, vacancies of group 6)``."""
    out = pd.DataFrame(0, index=range(len(rows)), columns=FORM_COLUMNS)
    out["enterprise_id"] = [r[0] for r in rows]
    out["quarter"] = quarter
    out["employees_total"] = [r[1] for r in rows]
    out["emp_6"] = [r[1] for r in rows]
    out["wage_bill"] = [float(r[2]) for r in rows]
    out["vac_6"] = [r[3] for r in rows]
    out["hard_6"] = [r[3] // 2 for r in rows]
    out["outlook"] = np.resize([1, 2, 3, 2, 1, 2, 2, 1, 3, 2], len(rows))
    return out


SMALL = membership({"A": ("东莞", "C", "small", 3, 10), "B": ("深圳", "G", "medium", 3, 20)})
# B3 does not return the form: B1, B2 carry the stratum (weight 20/3 × 3/2 = 10).
SMALL_FORMS = forms(
    [
        ("A1", 10, 90, 1),
        ("A2", 20, 240, 0),
        ("A3", 30, 270, 2),
        ("B1", 40, 600, 4),
        ("B2", 50, 900, 3),
    ]
)


def hand_ratio(
    y: np.ndarray, x: np.ndarray, w: np.ndarray, strata: list[np.ndarray], fpc: list[float]
) -> tuple[float, float]:
    """Ratio Σwy/Σwx and its linearised SE written out by hand (docs/estimation.md)."""
    big_x = (w * x).sum()
    r = (w * y).sum() / big_x
    u = w * (y - r * x) / big_x
    var = 0.0
    for idx, f in zip(strata, fpc, strict=True):
        n = len(idx)
        var += (1 - f) * n / (n - 1) * ((u[idx] - u[idx].mean()) ** 2).sum()
    return r, np.sqrt(var)


def cell(est: pd.DataFrame, dim: str, dom: str, ind: str) -> pd.Series:
    return est.loc[
        (est["dimension"] == dim) & (est["domain"] == dom) & (est["indicator"] == ind)
    ].iloc[0]


def test_average_wage_and_vacancy_rate_match_a_hand_computation():
    est = domain_estimates(release_units(SMALL_FORMS, SMALL, quarter=Q))
    emp = np.array([10, 20, 30, 40, 50.0])
    wage = np.array([90, 240, 270, 600, 900.0]) * 1000 / 3
    vac = np.array([1, 0, 2, 4, 3.0])
    w = np.array([10 / 3] * 3 + [10.0] * 2)
    strata, fpc = [np.arange(3), np.arange(3, 5)], [3 / 10, 2 / 20]
    r, se = hand_ratio(wage, emp, w, strata, fpc)
    got = cell(est, "province", "全省", "average_wage")
    assert got["estimate"] == pytest.approx(r) and r == pytest.approx(5666666.67 / 1100)
    assert got["se"] == pytest.approx(se)
    rate, rate_se = hand_ratio(vac, emp + vac, w, strata, fpc)
    assert cell(est, "province", "全省", "vacancy_rate")["estimate"] == pytest.approx(100 * rate)
    assert cell(est, "province", "全省", "vacancy_rate")["se"] == pytest.approx(100 * rate_se)
    assert cell(est, "province", "全省", "employees")["estimate"] == pytest.approx(1100)
    # 深圳 is stratum B alone: its ratio's SE comes from B only (A's z are 0 in the domain).
    sz = cell(est, "city", "深圳", "average_wage")
    assert sz["estimate"] == pytest.approx(500000 / 90)
    r_b, se_b = hand_ratio(wage[3:], emp[3:], w[3:], [np.arange(2)], [2 / 20])
    assert sz["se"] == pytest.approx(se_b)
    # Outlook: 1 up (A1, B2), 2 same (A2, B1), 1 down (A3) → (10/3 + 10 + ½(10/3 + 10)) / (10 + 20).
    up_same = (10 / 3 + 10 + 0.5 * (10 / 3 + 10)) / 30
    assert cell(est, "province", "全省", "climate_outlook")["estimate"] == pytest.approx(
        100 * up_same
    )
    # Domain totals add up to the province total (the published table is additive).
    cities = est.loc[(est["dimension"] == "city") & (est["indicator"] == "wage_bill"), "estimate"]
    assert cities.sum() == pytest.approx(cell(est, "province", "全省", "wage_bill")["estimate"])


def test_weighted_quantile_by_hand():
    v = np.array([3.0, 1.0, 4.0, 2.0])
    assert weighted_quantile(v, np.ones(4), 0.5) == 2.0
    assert weighted_quantile(v, np.array([1.0, 1.0, 5.0, 1.0]), 0.5) == 4.0
    assert weighted_quantile(v, np.ones(4), 0.51) == 3.0


def test_dominance_rules_by_hand():
    assert not dominated(np.array([50, 30, 20]), rule="nk", n=2, k=85)
    assert dominated(np.array([50, 30, 20]), rule="nk", n=2, k=75)
    assert not dominated(np.array([50, 30, 20]), rule="p", p=10)
    assert dominated(np.array([90, 8, 2]), rule="p", p=10)  # 2 < 10 % of 90
    assert not dominated(np.zeros(3), rule="nk")


def _solve(
    table: pd.DataFrame, total: pd.Series, sup: np.ndarray, col: str
) -> list[tuple[float, float]]:
    """Independent intruder: min and max of each suppressed cell given the published cells."""
    k = int(sup.sum())
    rest = total[col] - table.loc[~sup, col].sum()
    out = []
    for j in range(k):
        c = np.zeros(k)
        c[j] = 1
        lo = linprog(c, A_eq=np.ones((1, k)), b_eq=[rest], bounds=[(0, None)] * k).fun
        hi = -linprog(-c, A_eq=np.ones((1, k)), b_eq=[rest], bounds=[(0, None)] * k).fun
        out.append((lo, hi))
    return out


def test_secondary_suppression_leaves_no_suppressed_value_recoverable():
    table = pd.DataFrame({"a": [5.0, 300, 40, 80, 600], "b": [2.0, 50, 30, 10, 90]})
    total = table.sum()
    primary = np.array([True, False, False, False, False])
    # With the primary cell alone, solving the table gives its exact value: the check can fail.
    assert _solve(table, total, primary, "a") == [pytest.approx((5.0, 5.0))]
    status = suppress_table(table, total, primary, columns=["a", "b"], protection=0.1)
    sup = status != "published"
    assert status[0] == "primary" and (status == "secondary").sum() >= 1
    for col in ("a", "b"):
        for (lo, hi), v in zip(_solve(table, total, sup, col), table.loc[sup, col], strict=True):
            assert lo <= 0.9 * v + 1e-9 and hi >= 1.1 * v - 1e-9


def _bigger(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    strata = {
        "A": ("东莞", "C", "small", 12, 120),
        "B": ("东莞", "G", "medium", 10, 60),
        "C": ("深圳", "C", "medium", 12, 80),
        "D": ("深圳", "K", "large", 6, 12),
        "E": ("湛江", "C", "small", 2, 30),
        "F": ("佛山", "G", "small", 9, 90),
    }
    mem = membership(strata)
    rows = []
    for eid in mem["enterprise_id"]:
        emp = int(rng.integers(20, 400))
        rows.append((eid, emp, round(emp * 3 * rng.uniform(3, 6), 1), int(rng.integers(0, 9))))
    f = forms(rows)
    f.loc[f["enterprise_id"] == "D1", ["employees_total", "emp_6"]] = 9000  # a dominant firm
    f.loc[f["enterprise_id"] == "D1", "wage_bill"] = 9000 * 3 * 9.0
    months = ["2013-10", "2013-11", "2013-12"]
    rep = []
    for eid in mem["enterprise_id"]:
        x = int(rng.integers(20, 400))
        for m in months:
            y = x + int(rng.integers(-3, 4))
            rep.append(
                {
                    "enterprise_id": eid,
                    "period": m,
                    "baseline_employment": x,
                    "survey_employment": y,
                    "change": y - x,
                }
            )
    reports = pd.DataFrame(rep).assign(
        reduction_closure=0,
        reduction_suspension=0,
        reduction_layoff=0,
        reduction_relocation=0,
        reduction_other=0,
        reason_1=None,
        reason_2=None,
        reason_3=None,
    )
    return f, reports, mem


def _solve_published(c: pd.DataFrame, col: str) -> list[tuple[tuple[float, float], float]]:
    """Independent intruder on all published tables at once: the one-way tables sum to the
    province total, each city's and each section's cells of the two-way table to its row."""
    d = c.loc[c["indicator"] == col].reset_index(drop=True)
    total = d.loc[d["dimension"] == "province", "estimate"].iloc[0]
    sup = (d["status"] != "published").to_numpy()
    eqs: list[tuple[np.ndarray, float]] = []  # (indicator of rows, right-hand side)
    for dim in ("city", "section", "size_class"):
        eqs.append(((d["dimension"] == dim).to_numpy(), total))
    cross = d["dimension"] == "city_section"
    city = d["domain"].str.split("/").str[0]
    sec = d["domain"].str.split("/").str[1]
    for dim, part in (("city", city), ("section", sec)):
        for i, r in d.loc[d["dimension"] == dim].iterrows():
            inner = (cross & (part == r["domain"])).to_numpy()
            if inner.any():  # inner cells − the row = 0
                row = inner.astype(float)
                row[i] = -1.0
                eqs.append((row, 0.0))
    a = np.array([np.asarray(e, float) for e, _ in eqs])
    b = np.array([rhs for _, rhs in eqs]) - a[:, ~sup] @ d.loc[~sup, "estimate"].to_numpy()
    a = a[:, sup]
    out = []
    for j, v in enumerate(d.loc[sup, "estimate"]):
        cvec = np.zeros(sup.sum())
        cvec[j] = 1
        bounds = [(0, None)] * sup.sum()
        lo = linprog(cvec, A_eq=a, b_eq=b, bounds=bounds).fun
        hi = -linprog(-cvec, A_eq=a, b_eq=b, bounds=bounds).fun
        out.append(((lo, hi), v))
    return out


def test_release_suppression_end_to_end_is_verified_by_solving_each_table():
    f, reports, mem = _bigger()
    res = compute_release(f, reports, mem, quarter=Q, settings=ReleaseSettings(min_enterprises=3))
    c = res.cells
    city = c.loc[(c["dimension"] == "city") & (c["indicator"] == "employees")].set_index("domain")
    assert city.loc["湛江", "status"] == "primary"  # 2 enterprises < 3
    assert (
        "dominance"
        in c.loc[(c["dimension"] == "size_class") & (c["domain"] == "large"), "reason"].iloc[0]
    )
    for col in ADDITIVE:
        for (lo, hi), v in _solve_published(c, col):
            assert lo <= 0.9 * v + 1e-6 and hi >= 1.1 * v - 1e-6
    # Every one-way table with a suppressed row has at least two.
    for dim in ("city", "section", "size_class"):
        rows = c.loc[(c["dimension"] == dim) & (c["indicator"] == "employees")]
        assert (rows["status"] != "published").sum() != 1
    pub = public_tables(res)["按地区"].set_index("city")
    assert (pub.loc["湛江"] == "x").all()
    k = res.counts()
    assert k["published"] + k["primary"] + k["secondary"] == k["cells"]
    assert k["primary"] > 0 and k["secondary"] > 0


def test_unreliable_flag_follows_the_cv_limit():
    f, reports, mem = _bigger()
    res = compute_release(f, reports, mem, quarter=Q, settings=ReleaseSettings(cv_limit=0.05))
    c = res.cells
    assert (
        ((c["se"] / c["estimate"].abs() > 0.05) == c["unreliable"])
        .loc[c["se"].notna() & (c["estimate"] != 0)]
        .all()
    )


def test_shortage_ranking_shows_a_coin_toss_as_a_tie():
    mem = membership({"A": ("东莞", "C", "small", 30, 300)})
    rng = np.random.default_rng(2)
    f = forms([(f"A{k}", 100, 1200.0, 0) for k in range(1, 31)])
    f["emp_6"], f["emp_2"], f["emp_4"] = 60, 20, 20
    f["vac_6"] = rng.integers(20, 30, 30)  # clearly the most
    f["vac_2"] = rng.integers(0, 6, 30)
    f["vac_4"] = f["vac_2"].to_numpy()[::-1]  # same total as group 2: a coin toss
    f["hard_6"] = f["hard_2"] = f["hard_4"] = 0
    f["hard_6"] = f["vac_6"] // 2
    units = release_units(f, mem, quarter=Q)
    rank = shortage_ranking(units).set_index("occupation")
    assert rank.loc["6", "rank"] == 1 and not rank.loc["6", "tied"]
    assert rank.loc["2", "rank"] == rank.loc["4", "rank"] == 2
    assert rank.loc["2", "tied"] and rank.loc["2", "rank_zh"] == "并列2"
    assert rank.loc["6", "vacancies"] == pytest.approx(10 * f["vac_6"].sum())
    # The talent index: group 6 holds every hard-to-fill vacancy, 60 % of staff → 100 / 0.6.
    assert rank.loc["6", "talent_index"] == pytest.approx(100 / 0.6)


def test_settings_from_params(tmp_path):
    from samplekit.errors import ParamsError
    from samplekit.params import load_params

    p = tmp_path / "p.yaml"
    p.write_text("release:\n  dominance: p\n  p: 15\n  symbol: '…'\n", encoding="utf-8")
    s = ReleaseSettings.from_params(load_params(p, validate=False))
    assert (s.dominance, s.p, s.symbol) == ("p", 15.0, "…")
    p.write_text("release:\n  minimum: 3\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="minimum"):
        load_params(p)


def test_release_files_are_byte_identical_on_rerun(tmp_path):
    from samplekit.release import write_release

    f, reports, mem = _bigger()
    res = compute_release(f, reports, mem, quarter=Q)
    a = write_release(res, tmp_path / "a", province="广东省", data_note="合成数据")
    b = write_release(res, tmp_path / "b", province="广东省", data_note="合成数据")
    assert [p.name for p in a] == [p.name for p in b]
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name
    pub = tmp_path / "a" / "public"
    assert sorted(p.name for p in pub.iterdir()) == [
        "2013Q4_季度用工发布表.xlsx",
        "2013Q4_新闻通稿.docx",
    ]
