"""The quarterly public release: wages, vacancies, shortage occupations, climate indices,
with disclosure control (docs/release.md).

Estimates are design-based (the engine of :mod:`samplekit.estimation`): the quarterly forms of
the members in force at the quarter's last month, weighted by that month's design rows,
re-weighted for form non-response within strata, Taylor-linearised SEs. Disclosure control
then marks every domain cell published, primary-suppressed (too few enterprises, dominance) or
secondary-suppressed (so no suppressed value can be narrowed to within ``protection`` of its
true value by solving the published additive table), and flags estimates whose CV exceeds a
limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from samplekit.errors import InputError, ParamsError
from samplekit.estimation import (
    Spec,
    _attach_design,
    design_by_month,
    linearised_estimates,
    prepare_membership,
)
from samplekit.labour_form import (
    EMP_COLUMNS,
    HARD_COLUMNS,
    OCCUPATION_GROUPS,
    OCCUPATION_SHORT_ZH,
    VAC_COLUMNS,
)
from samplekit.periods import QUARTER_RE, quarter_months

#: Domain dimensions of the public tables (region, industry, enterprise size).
DIMENSIONS: dict[str, str] = {"city": "地区", "section": "行业", "size_class": "企业规模"}
#: The two-way table (region × industry): its cells sum to the city and the section rows.
CROSS = "city_section"
CROSS_INDICATORS: list[str] = [
    "employees",
    "wage_bill",
    "vacancies",
    "hard_vacancies",
    "average_wage",
    "vacancy_rate",
]
#: Additive columns of the public tables (weighted totals; rows sum to the province row).
ADDITIVE: list[str] = ["employees", "wage_bill", "vacancies", "hard_vacancies"]
#: Every indicator of a domain cell, in table order.
CELL_INDICATORS: list[str] = [
    *ADDITIVE,
    "average_wage",
    "vacancy_rate",
    "hard_share",
    "climate_outlook",
    "climate_headcount",
]
NAMES_ZH: dict[str, str] = {
    "employees": "从业人员(人)",
    "wage_bill": "季度工资总额(万元)",
    "vacancies": "岗位空缺(个)",
    "hard_vacancies": "难招岗位空缺(个)",
    "average_wage": "月平均工资(元)",
    "vacancy_rate": "岗位空缺率(%)",
    "hard_share": "难招岗位占比(%)",
    "climate_outlook": "用工景气指数(预期)",
    "climate_headcount": "用工景气指数(人数变动)",
    "enterprises": "调查企业数(家)",
}
STATUS_ZH = {"published": "公开", "primary": "一次隐匿", "secondary": "二次隐匿"}


@dataclass(frozen=True)
class ReleaseSettings:
    """Params ``release:`` (docs/release.md).

    Attributes
    ----------
    min_enterprises : int
        A cell with fewer reporting enterprises is suppressed (primary).
    dominance : {"nk", "p"}
        The dominance rule on each enterprise's (unweighted) wage bill and employees.
    n, k : int, float
        (n, k) rule: the largest ``n`` contributors above ``k`` % of the cell total.
    p : float
        p% rule: the remainder after the two largest is below ``p`` % of the largest.
    protection : float
        Secondary suppression: each suppressed value's feasible range, solved from the
        published table, must reach ``value × (1 ± protection)``.
    cv_limit : float
        Estimates with CV = SE / |estimate| above it are flagged unreliable.
    symbol, unreliable_symbol : str
        Shown for a suppressed cell / after an unreliable estimate in the public tables.
    level : float
        Confidence level of intervals (and of the ties in the shortage ranking).
    """

    min_enterprises: int = 3
    dominance: Literal["nk", "p"] = "nk"
    n: int = 2
    k: float = 85.0
    p: float = 10.0
    protection: float = 0.1
    cv_limit: float = 0.3
    symbol: str = "x"
    unreliable_symbol: str = "*"
    level: float = 0.95
    form: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Any) -> ReleaseSettings:
        """Build from the ``release:`` section (absent = defaults)."""
        from samplekit.labour_form import FormRules

        allowed = set(cls.__dataclass_fields__)
        params.check_keys("release", allowed)
        d = cls()
        s = cls(
            min_enterprises=int(params.number("release.min_enterprises", d.min_enterprises, low=1)),
            dominance=params.choice("release.dominance", ("nk", "p"), d.dominance),
            n=int(params.number("release.n", d.n, low=1)),
            k=float(params.number("release.k", d.k, low=0, high=100)),
            p=float(params.number("release.p", d.p, low=0, high=100)),
            protection=float(params.number("release.protection", d.protection, low=0, high=1)),
            cv_limit=float(params.number("release.cv_limit", d.cv_limit, low=0)),
            symbol=str(params.get("release.symbol", d.symbol, types=str)),
            unreliable_symbol=str(
                params.get("release.unreliable_symbol", d.unreliable_symbol, types=str)
            ),
            level=float(params.number("release.level", d.level, low=0.5, high=0.999)),
            form=dict(params.get("release.form", {}) or {}),
        )
        if not s.symbol.strip():
            raise ParamsError(f"{params.path}: key 'release.symbol' must not be empty")
        FormRules.from_params(params)
        return s


# ------------------------------------------------------------------------------ units
def release_units(
    forms: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    quarter: str,
    weight: str = "calibrated_weight",
) -> pd.DataFrame:
    """One row per enterprise that returned the quarter's form, with its design.

    The design is the membership rows in force at the quarter's last month (the form is filled
    at the quarter's end); weights are re-weighted for form non-response within strata.
    Adds the derived variables ``employees``, ``wage_bill`` (万元), ``wage_month`` (元 per
    month), ``vacancies``, ``hard_vacancies``, outlook dummies and ``climate_outlook``.
    """
    if not QUARTER_RE.match(str(quarter)):
        raise InputError(f"quarter {quarter!r} is not YYYYQn (e.g. '2013Q4')")
    month = quarter_months(quarter)[-1]
    f = forms.loc[forms["quarter"] == quarter].copy()
    if f.empty:
        raise InputError(f"没有 {quarter} 的企业用工情况调查表数据;请先载入该季度的调查表")
    rows, individual = prepare_membership(membership, weight=weight)
    design = design_by_month(rows, [month]).assign(period=quarter)
    # Urban individual economic organisations are outside the design (docs/estimation.md).
    f = f.loc[~f["enterprise_id"].astype(str).isin(individual)]
    num = [*EMP_COLUMNS, *VAC_COLUMNS, *HARD_COLUMNS, "employees_total", "wage_bill"]
    f[num] = f[num].astype(float)
    units = pd.DataFrame(
        {"enterprise_id": f["enterprise_id"].astype(str).to_numpy(), "period": quarter}
    )
    for c in [*EMP_COLUMNS, *VAC_COLUMNS, *HARD_COLUMNS]:
        units[c] = f[c].to_numpy()
    units["employees"] = f["employees_total"].to_numpy()
    units["wage_bill"] = f["wage_bill"].to_numpy() / 10.0  # 千元 -> 万元
    units["wage_month"] = f["wage_bill"].to_numpy() * 1000.0 / 3.0  # 元 per month
    units["vacancies"] = f[VAC_COLUMNS].sum(axis=1).to_numpy()
    units["hard_vacancies"] = f[HARD_COLUMNS].sum(axis=1).to_numpy()
    units["jobs"] = units["employees"] + units["vacancies"]
    outlook = f["outlook"].astype(float).to_numpy()
    units["up"], units["same"] = (outlook == 1).astype(float), (outlook == 2).astype(float)
    units["climate_outlook"] = units["up"] + 0.5 * units["same"]
    units["one"] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        units["firm_wage"] = np.where(
            units["employees"] > 0, units["wage_month"] / units["employees"], np.nan
        )
    return _attach_design(units, design, nonresponse="stratum", singleton="collapse")


_CELL_SPECS = [
    Spec("employees", "employees"),
    Spec("wage_bill", "wage_bill"),
    Spec("vacancies", "vacancies"),
    Spec("hard_vacancies", "hard_vacancies"),
    Spec("average_wage", "wage_month", "employees"),
    Spec("vacancy_rate", "vacancies", "jobs", 100.0),
    Spec("hard_share", "hard_vacancies", "vacancies", 100.0),
    Spec("climate_outlook", "climate_outlook", "one", 100.0),
]


def domain_estimates(units: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Every indicator of :data:`CELL_INDICATORS` (but the headcount climate) by dimension.

    Returns
    -------
    DataFrame
        ``dimension`` (``province`` or a key of :data:`DIMENSIONS`), ``domain``, ``indicator``,
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n_reporters``.
    """
    parts = []
    for dim in ["province", *DIMENSIONS, CROSS]:
        by = {"province": [], CROSS: ["city", "section"]}.get(dim, [dim])
        specs = [sp for sp in _CELL_SPECS if dim != CROSS or sp.name in CROSS_INDICATORS]
        est = linearised_estimates(units, specs, by=by, level=level, min_reporters=1)
        domain = (
            est["city"].astype(str) + "/" + est["section"].astype(str)
            if dim == CROSS
            else (est[dim].astype(str) if by else "全省")
        )
        est = est.assign(dimension=dim, domain=domain)
        parts.append(est.drop(columns=[*by, "small_domain", "period"]))
    return pd.concat(parts, ignore_index=True)[
        ["dimension", "domain", "indicator", "estimate", "se", "ci_low", "ci_high", "n_reporters"]
    ]


def headcount_climate(
    reports: pd.DataFrame, membership: pd.DataFrame, *, quarter: str, level: float = 0.95
) -> pd.DataFrame:
    """The climate index from the monthly headcount change (:func:`samplekit.climate.
    climate_index`), in the layout of :func:`domain_estimates`."""
    import warnings

    from samplekit.climate import climate_index
    from samplekit.estimation import WindowStraddleWarning

    parts = []
    with warnings.catch_warnings():
        # A December window inside the quarter: the run's rule (members in force all quarter)
        # is documented in docs/estimation.md; the release states it in docs/release.md.
        warnings.simplefilter("ignore", WindowStraddleWarning)
        for dim in ["province", *DIMENSIONS]:
            by = [] if dim == "province" else [dim]
            est = climate_index(
                reports, membership, periods=quarter, by=by, level=level, min_reporters=1
            )
            est = est.loc[est["indicator"] == "climate_index"]
            est = est.assign(
                dimension=dim,
                domain=est[dim].astype(str) if by else "全省",
                indicator="climate_headcount",
            )
            parts.append(est.drop(columns=[*by, "small_domain", "period"]))
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------ quantiles
def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose weighted CDF reaches ``q`` (design-based quantile)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cdf = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(cdf, q - 1e-12), len(v) - 1)])


def wage_quantiles(
    units: pd.DataFrame,
    *,
    probs: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
    level: float = 0.95,
) -> pd.DataFrame:
    """Firm-level quantiles of the average monthly wage with Woodruff intervals, by dimension.

    Each enterprise counts once with its design weight (the distribution of firms' average
    wages, not of workers' wages). The interval inverts the CDF at ``p ± z·se(F̂(q̂))``, the
    SE of the CDF being the linearised SE of the ratio Σw·1[y ≤ q̂] / Σw (Woodruff 1952).
    """
    z = stats.norm.ppf(0.5 + level / 2)
    u = units.loc[units["firm_wage"].notna()].assign(_all="全省")
    out = []
    for dim in ["province", *DIMENSIONS]:
        key = "_all" if dim == "province" else dim
        dom_of = u[key].astype(str)
        qs = {
            (dom, p): weighted_quantile(g["firm_wage"].to_numpy(), g["_w"].to_numpy(), p)
            for dom, g in u.groupby(dom_of, sort=True)
            for p in probs
        }
        # SE of F̂(q̂) per domain in one pass: y = 1[wage ≤ the domain's q̂], zero outside.
        tmp = u.assign(
            **{
                f"_b{i}": (
                    u["firm_wage"] <= dom_of.map({d: q for (d, pp), q in qs.items() if pp == p})
                ).astype(float)
                for i, p in enumerate(probs)
            }
        ).assign(_dom=dom_of)
        specs = [Spec(f"F{i}", f"_b{i}", "one") for i in range(len(probs))]
        se = linearised_estimates(tmp, specs, by=["_dom"], min_reporters=1).set_index(
            ["_dom", "indicator"]
        )["se"]
        for dom, g in u.groupby(dom_of, sort=True):
            v, w = g["firm_wage"].to_numpy(), g["_w"].to_numpy()
            for i, p in enumerate(probs):
                se_f = float(se.loc[(dom, f"F{i}")])
                lo = weighted_quantile(v, w, max(p - z * se_f, 0.0))
                hi = weighted_quantile(v, w, min(p + z * se_f, 1.0))
                out.append(
                    {
                        "dimension": dim,
                        "domain": str(dom),
                        "quantile": p,
                        "estimate": qs[(dom, p)],
                        "ci_low": lo,
                        "ci_high": hi,
                        "se": (hi - lo) / (2 * z),
                        "n_reporters": len(g),
                    }
                )
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------ shortage
def shortage_ranking(units: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Occupation groups ranked by weighted vacancies, with intervals and ties (province).

    ``rank`` = 1 + the number of groups whose vacancies are significantly larger (the SE of
    each pairwise difference is the linearised SE of the total of ``vac_i − vac_j``, so the
    covariance between groups is included); groups sharing a rank are ties (``tied``).
    ``rank_low``/``rank_high`` bound the plausible ranks. Also the vacancy-to-employment ratio
    (%), the hard-to-fill share (%) and the shortage-talent index (急需紧缺人才指数):
    ``100 × (hard_g / emp_g) / (Σ hard / Σ emp)`` — 100 is the all-occupation average.
    """
    z = stats.norm.ppf(0.5 + level / 2)
    specs = []
    for g in OCCUPATION_GROUPS:
        specs += [
            Spec(f"vac_{g}", f"vac_{g}"),
            Spec(f"ratio_{g}", f"vac_{g}", f"emp_{g}", 100.0),
            Spec(f"hardshare_{g}", f"hard_{g}", f"vac_{g}", 100.0),
            Spec(f"hardratio_{g}", f"hard_{g}", f"emp_{g}", 1.0),
        ]
    specs.append(Spec("hardratio_all", "hard_vacancies", "employees", 1.0))
    d = units.copy()
    pairs = [(a, b) for a in OCCUPATION_GROUPS for b in OCCUPATION_GROUPS if a < b]
    for a, b in pairs:
        d[f"d_{a}_{b}"] = d[f"vac_{a}"] - d[f"vac_{b}"]
        specs.append(Spec(f"d_{a}_{b}", f"d_{a}_{b}"))
    est = linearised_estimates(d, specs, level=level, min_reporters=1).set_index("indicator")
    significant = {}
    for a, b in pairs:
        e, s = est.loc[f"d_{a}_{b}", ["estimate", "se"]]
        significant[(a, b)] = e > z * s  # a above b
        significant[(b, a)] = -e > z * s
    base = est.loc["hardratio_all", "estimate"]
    rows = []
    for g in OCCUPATION_GROUPS:
        above = sum(significant[(o, g)] for o in OCCUPATION_GROUPS if o != g)
        below = sum(significant[(g, o)] for o in OCCUPATION_GROUPS if o != g)
        hr = est.loc[f"hardratio_{g}"]
        rows.append(
            {
                "occupation": g,
                "occupation_zh": OCCUPATION_SHORT_ZH[g],
                "vacancies": est.loc[f"vac_{g}", "estimate"],
                "vacancies_se": est.loc[f"vac_{g}", "se"],
                "vacancies_ci_low": est.loc[f"vac_{g}", "ci_low"],
                "vacancies_ci_high": est.loc[f"vac_{g}", "ci_high"],
                "vacancy_ratio": est.loc[f"ratio_{g}", "estimate"],
                "vacancy_ratio_ci_low": est.loc[f"ratio_{g}", "ci_low"],
                "vacancy_ratio_ci_high": est.loc[f"ratio_{g}", "ci_high"],
                "hard_share": est.loc[f"hardshare_{g}", "estimate"],
                "talent_index": 100.0 * hr["estimate"] / base if base > 0 else np.nan,
                # SE treating the all-occupation ratio as fixed (it is estimated far more precisely).
                "talent_index_se": 100.0 * hr["se"] / base if base > 0 else np.nan,
                "rank": 1 + int(above),
                "rank_low": 1 + int(above),
                "rank_high": len(OCCUPATION_GROUPS) - int(below),
            }
        )
    out = pd.DataFrame(rows)
    out["tied"] = out.duplicated("rank", keep=False)
    out["rank_zh"] = np.where(
        out["tied"], "并列" + out["rank"].astype(str), out["rank"].astype(str)
    )
    return out.sort_values(
        ["rank", "vacancies"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)


# ------------------------------------------------------------------------------ disclosure
def dominated(
    values: np.ndarray, *, rule: Literal["nk", "p"], n: int = 2, k: float = 85.0, p: float = 10.0
) -> bool:
    """Whether one cell's contributions fail the dominance rule.

    (n, k): the ``n`` largest contributions exceed ``k`` % of the total. p%: the total less the
    two largest is below ``p`` % of the largest (the second largest could estimate the largest
    to within p %). A cell of zeros is not dominated.
    """
    x = np.sort(np.asarray(values, float))[::-1]
    total = x.sum()
    if total <= 0:
        return False
    if rule == "nk":
        return bool(x[:n].sum() > k / 100.0 * total)
    return bool(total - x[:2].sum() < p / 100.0 * x[0])


def audit_linked(
    values: np.ndarray,
    constraints: np.ndarray,
    suppressed: np.ndarray,
    *,
    cache: dict[Any, list[tuple[float, float]]] | None = None,
) -> pd.DataFrame:
    """Bounds an intruder gets on each suppressed cell by solving the published tables.

    Parameters
    ----------
    values : array (cells × columns)
        True values of every cell (interior cells, margins, the total) for each additive column.
    constraints : array (equations × cells)
        The tables' additivity, ``constraints @ values[:, j] = 0`` (e.g. rows − total).
    suppressed : bool array (cells)
    cache : dict, optional
        Bounds of components already solved (keyed by their cells and column): a component
        whose cells did not change has the same bounds.

    Returns
    -------
    DataFrame
        ``cell`` (position), ``column`` (position), ``value``, ``lower``, ``upper``: the minimum
        and maximum of each suppressed cell over non-negative values consistent with every
        published cell (``scipy.optimize.linprog``, HiGHS).
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    idx = np.flatnonzero(suppressed)
    out = []
    if not len(idx):
        return pd.DataFrame(out, columns=["cell", "column", "value", "lower", "upper"])
    # Suppressed cells linked through an equation form one sub-problem; the published cells are
    # constants, so each connected component is solved on its own (same bounds, smaller LPs).
    a_s = constraints[:, idx]
    used = np.flatnonzero(np.abs(a_s).sum(axis=1) > 0)
    inc = (a_s[used] != 0).astype(float)
    _, comp = connected_components(csr_matrix(inc.T @ inc), directed=False)
    for col in range(values.shape[1]):
        v = values[:, col]
        b_all = -(constraints[:, ~suppressed] @ v[~suppressed])
        for k in np.unique(comp):
            members = np.flatnonzero(comp == k)
            rows = used[(a_s[used][:, members] != 0).any(axis=1)]
            a_k, b_k = a_s[np.ix_(rows, members)], b_all[rows]
            ckey = (tuple(idx[members]), col)
            if cache is not None and ckey in cache:
                found = cache[ckey]
            else:
                found = [_bounds(a_k, b_k, j) for j in range(len(members))]
                if cache is not None:
                    cache[ckey] = found
            out += [
                (idx[m], col, v[idx[m]], lo, hi) for m, (lo, hi) in zip(members, found, strict=True)
            ]
    out.sort(key=lambda r: (r[1], r[0]))
    return pd.DataFrame(out, columns=["cell", "column", "value", "lower", "upper"])


def _bounds(a: np.ndarray, b: np.ndarray, j: int) -> tuple[float, float]:
    """Min and max of unknown ``j`` subject to ``a x = b``, ``x ≥ 0``."""
    if not len(a):  # in no equation: anything non-negative fits
        return 0.0, np.inf
    c = np.zeros(a.shape[1])
    c[j] = 1.0
    bounds = [(0, None)] * a.shape[1]
    lo = optimize.linprog(c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
    hi = optimize.linprog(-c, A_eq=a, b_eq=b, bounds=bounds, method="highs")
    return (lo.fun if lo.status == 0 else np.nan), (-hi.fun if hi.status == 0 else np.inf)


def _unprotected(audit: pd.DataFrame, protection: float) -> pd.DataFrame:
    tol = 1e-6 * np.maximum(audit["value"].abs(), 1.0)
    need_lo = audit["value"] * (1 - protection)
    need_hi = audit["value"] * (1 + protection)
    bad = (audit["lower"] > need_lo + tol) | (audit["upper"] < need_hi - tol)
    # A suppressed zero needs only to be hidden, i.e. the range must not collapse to 0.
    zero = audit["value"].abs() <= 1e-9
    bad = np.where(zero, audit["upper"] - audit["lower"] <= tol, bad)
    return audit.loc[bad]


def suppress_linked(
    values: np.ndarray,
    constraints: np.ndarray,
    primary: np.ndarray,
    *,
    protection: float,
    fixed: np.ndarray | None = None,
    screen: int | None = None,
    cache: dict[Any, list[tuple[float, float]]] | None = None,
) -> np.ndarray:
    """Secondary suppression of linked additive tables (:func:`audit_linked`'s layout).

    First every equation with exactly one suppressed cell gets a second one (its smallest
    published cell by the first column); then the published tables are solved and, while a
    suppressed value's range does not reach ``value × (1 ± protection)``, the smallest published
    cell sharing an equation with it (by the failing column) is suppressed too. ``fixed`` cells
    (the province total) are never suppressed. Returns ``published``/``primary``/``secondary``.
    ``screen`` audits only the leading
    columns while adding cells (faster), then all; ``cache`` is :func:`audit_linked`'s.
    """
    n = len(primary)
    fixed = np.zeros(n, dtype=bool) if fixed is None else np.asarray(fixed, bool)
    status = np.where(primary, "primary", "published").astype(object)
    member = constraints != 0
    cache = {} if cache is None else cache

    def pick(candidates: np.ndarray, col: int) -> bool:
        cand = candidates[(status[candidates] == "published") & ~fixed[candidates]]
        if not len(cand):
            return False
        status[cand[np.argsort(values[cand, col], kind="stable")[0]]] = "secondary"
        return True

    while True:
        changed = True
        while changed:
            changed = False
            for eq in range(len(constraints)):
                cells = np.flatnonzero(member[eq])
                if (status[cells] != "published").sum() == 1 and pick(cells, 0):
                    changed = True
        sup = status != "published"
        cols = values if screen is None else values[:, :screen]
        bad = _unprotected(audit_linked(cols, constraints, sup, cache=cache), protection)
        if bad.empty and screen is not None:
            # The leading columns pass: check every column (rarely adds more).
            screen = None
            bad = _unprotected(audit_linked(values, constraints, sup, cache=cache), protection)
        if bad.empty:
            return status
        # One complement per failing cell per round (then solve again).
        added = False
        for cell, col in bad.drop_duplicates("cell")[["cell", "column"]].to_numpy(int):
            if status[cell] == "published":
                continue
            near = np.flatnonzero(member[member[:, cell]].any(axis=0))
            added = pick(near, col) or pick(np.arange(n), col) or added
        if not added:
            return status  # nothing left to suppress


def _one_way(
    table: pd.DataFrame, total: pd.Series, columns: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    values = np.vstack(
        [table[list(columns)].to_numpy(float), total[list(columns)].to_numpy(float)[None, :]]
    )
    constraints = np.append(np.ones(len(table)), -1.0)[None, :]
    return values, constraints


def audit_suppression(
    table: pd.DataFrame, total: pd.Series, suppressed: np.ndarray, *, columns: Sequence[str]
) -> pd.DataFrame:
    """:func:`audit_linked` for one table whose rows sum to a published ``total``
    (``row`` = position in ``table``, ``column`` = column name)."""
    values, constraints = _one_way(table, total, columns)
    audit = audit_linked(values, constraints, np.append(suppressed, False))
    return audit.rename(columns={"cell": "row"}).assign(
        column=[list(columns)[c] for c in audit["column"]]
    )


def suppress_table(
    table: pd.DataFrame,
    total: pd.Series,
    primary: np.ndarray,
    *,
    columns: Sequence[str],
    protection: float,
) -> np.ndarray:
    """:func:`suppress_linked` for one table whose rows sum to a published ``total``."""
    values, constraints = _one_way(table, total, columns)
    fixed = np.append(np.zeros(len(table), bool), True)
    status = suppress_linked(
        values, constraints, np.append(primary, False), protection=protection, fixed=fixed
    )
    return status[:-1]


def disclosure(
    cells: pd.DataFrame, units: pd.DataFrame, settings: ReleaseSettings
) -> tuple[dict[str, str], dict[str, str], pd.DataFrame]:
    """Primary and secondary suppression of the linked public tables.

    The cells are the province total (never suppressed), the city, section and size-class rows
    and the city × section cells; equations: cities sum to the total, sections to the total,
    size classes to the total, each city's cells to its row, each section's cells to its row.

    Returns
    -------
    status, reason, audit
        ``"dimension\tdomain"`` → status / reason, and the audit of :func:`audit_linked` with
        ``key`` naming each cell.
    """
    s = settings
    add = cells.loc[cells["indicator"].isin(ADDITIVE)]
    wide = add.pivot_table(
        index=["dimension", "domain"], columns="indicator", values="estimate", sort=False
    )[ADDITIVE]
    count = (
        cells.loc[cells["indicator"] == "employees"]
        .set_index(["dimension", "domain"])["n_reporters"]
        .reindex(wide.index)
    )
    keys = [f"{d}\t{m}" for d, m in wide.index]
    pos = {k: i for i, k in enumerate(keys)}
    eqs = []
    total = pos["province\t全省"]
    for dim in DIMENSIONS:
        row = np.zeros(len(keys))
        row[[i for k, i in pos.items() if k.startswith(dim + "\t")]] = 1.0
        row[total] = -1.0
        eqs.append(row)
    for dim, part in (("city", 0), ("section", 1)):
        for dom in wide.loc[dim].index:
            row = np.zeros(len(keys))
            row[
                [
                    i
                    for k, i in pos.items()
                    if k.startswith(CROSS + "\t") and k.split("\t")[1].split("/")[part] == dom
                ]
            ] = 1.0
            if not row.any():
                continue
            row[pos[f"{dim}\t{dom}"]] = -1.0
            eqs.append(row)
    constraints = np.vstack(eqs)
    groups = {
        "city": units["city"].astype(str),
        "section": units["section"].astype(str),
        "size_class": units["size_class"].astype(str),
        CROSS: units["city"].astype(str) + "/" + units["section"].astype(str),
    }
    reasons: dict[str, str] = {}
    for (dim, dom), n in count.items():
        if dim == "province":
            continue
        g = units.loc[groups[dim] == dom]
        r = []
        if n < s.min_enterprises:
            r.append("min_enterprises")
        if any(
            dominated(g[c].to_numpy(), rule=s.dominance, n=s.n, k=s.k, p=s.p)
            for c in ("wage_bill", "employees")
        ):
            r.append("dominance")
        reasons[f"{dim}\t{dom}"] = ";".join(r)
    primary = np.array([bool(reasons.get(k, "")) for k in keys])
    fixed = np.array([k == "province\t全省" for k in keys])
    values = wide.to_numpy(float)
    cache: dict[Any, list[tuple[float, float]]] = {}
    status = suppress_linked(
        values, constraints, primary, protection=s.protection, fixed=fixed, screen=2, cache=cache
    )
    audit = audit_linked(values, constraints, status != "published", cache=cache)
    audit["key"] = [keys[c] for c in audit["cell"]]
    for k, st in zip(keys, status, strict=True):
        if st == "secondary":
            reasons[k] = "complementary"
    return dict(zip(keys, status, strict=True)), reasons, audit


@dataclass
class ReleaseResult:
    """Everything of one quarter's release.

    ``cells``: one row per dimension × domain × indicator with ``estimate, se, cv, ci_low,
    ci_high, n_reporters, status, reason, unreliable``; ``quantiles`` and ``shortage`` as from
    :func:`wage_quantiles` and :func:`shortage_ranking`; ``audit``: the solved bounds of every
    suppressed additive cell.
    """

    quarter: str
    cells: pd.DataFrame
    quantiles: pd.DataFrame
    shortage: pd.DataFrame
    audit: pd.DataFrame
    settings: ReleaseSettings

    def counts(self) -> dict[str, int]:
        """Cells published, suppressed (primary, secondary) and flagged unreliable."""
        c = self.cells.loc[self.cells["dimension"] != "province"]
        return {
            "cells": len(c),
            "published": int((c["status"] == "published").sum()),
            "primary": int((c["status"] == "primary").sum()),
            "secondary": int((c["status"] == "secondary").sum()),
            "unreliable": int((c["unreliable"] & (c["status"] == "published")).sum()),
        }


def compute_release(
    forms: pd.DataFrame,
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    quarter: str,
    settings: ReleaseSettings | None = None,
) -> ReleaseResult:
    """Estimates and disclosure control of one quarter (docs/release.md)."""
    s = settings or ReleaseSettings()
    units = release_units(forms, membership, quarter=quarter)
    form_cells = domain_estimates(units, level=s.level)
    climate = headcount_climate(reports, membership, quarter=quarter, level=s.level)
    # The release's domains are those with returned forms (a size class without any is absent).
    known = pd.MultiIndex.from_frame(form_cells[["dimension", "domain"]])
    climate = climate.loc[pd.MultiIndex.from_frame(climate[["dimension", "domain"]]).isin(known)]
    cells = pd.concat([form_cells, climate], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        cells["cv"] = cells["se"] / cells["estimate"].abs()
    cells["unreliable"] = cells["cv"].fillna(np.inf) > s.cv_limit
    cells["status"], cells["reason"] = "published", ""
    status, reasons, audit = disclosure(cells, units, s)
    key = cells["dimension"] + "\t" + cells["domain"]
    cells["status"] = key.map(status).fillna("published")
    cells["reason"] = key.map(reasons).fillna("")
    audit = audit.assign(
        indicator=[ADDITIVE[c] for c in audit["column"]],
        dimension=[k.split("\t")[0] for k in audit["key"]],
        domain=[k.split("\t")[1] for k in audit["key"]],
    )[["dimension", "domain", "indicator", "value", "lower", "upper"]]
    return ReleaseResult(
        quarter,
        cells,
        wage_quantiles(units, level=s.level),
        shortage_ranking(units, level=s.level),
        audit,
        s,
    )


# ------------------------------------------------------------------------------ tables
_DECIMALS = {
    "employees": 0,
    "wage_bill": 1,
    "vacancies": 0,
    "hard_vacancies": 0,
    "average_wage": 0,
    "vacancy_rate": 1,
    "hard_share": 1,
    "climate_outlook": 1,
    "climate_headcount": 1,
}


def public_tables(result: ReleaseResult) -> dict[str, pd.DataFrame]:
    """The public tables: no SEs, suppressed cells as the symbol, rounded; an unreliable
    estimate is followed by the unreliable symbol (text cells then)."""
    s = result.settings
    c = result.cells
    out: dict[str, pd.DataFrame] = {}
    for dim, zh in {**DIMENSIONS, CROSS: "地区和行业"}.items():
        part = c.loc[c["dimension"].isin([dim, "province"])]
        if dim == CROSS:
            part = part.loc[part["indicator"].isin(CROSS_INDICATORS)]
        shown = []
        for r in part.itertuples(index=False):
            if r.status != "published":
                text: Any = s.symbol
            elif not np.isfinite(r.estimate):
                text = "—"
            else:
                v = round(float(r.estimate), _DECIMALS[r.indicator])
                text = (
                    f"{v:,.{_DECIMALS[r.indicator]}f}{s.unreliable_symbol}" if r.unreliable else v
                )
            shown.append(text)
        part = part.assign(shown=shown)
        wide = part.pivot(index="domain", columns="indicator", values="shown")[
            CROSS_INDICATORS if dim == CROSS else CELL_INDICATORS
        ]
        n = part.drop_duplicates("domain").set_index("domain")["n_reporters"]
        order = [d for d in part["domain"].drop_duplicates() if d != "全省"] + ["全省"]
        wide = wide.reindex(order).reset_index().rename(columns={"domain": dim})
        wide.insert(
            1,
            "enterprises",
            [
                s.symbol if st != "published" else int(n[d])
                for d, st in zip(
                    order,
                    part.drop_duplicates("domain").set_index("domain")["status"].reindex(order),
                    strict=True,
                )
            ],
        )
        if dim == CROSS:  # one row per city × section with returned forms, then the total
            parts = wide[CROSS].str.split("/", expand=True)
            wide.insert(0, "city", parts[0].where(wide[CROSS] != "全省", "全省"))
            wide.insert(1, "section", parts[1].where(wide[CROSS] != "全省", ""))
            wide = wide.drop(columns=CROSS)
        out[f"按{zh}"] = wide
    sh = result.shortage
    out["紧缺职业"] = pd.DataFrame(
        {
            "rank_zh": sh["rank_zh"],
            "occupation_zh": sh["occupation_zh"],
            "vacancies": sh["vacancies"].round(0),
            "vacancy_ratio": sh["vacancy_ratio"].round(1),
            "hard_share": sh["hard_share"].round(1),
            "talent_index": sh["talent_index"].round(1),
        }
    )
    q = result.quantiles.loc[result.quantiles["dimension"] == "province"]
    out["工资分布"] = pd.DataFrame(
        {
            "quantile": (q["quantile"] * 100).round(0).astype(int).astype(str) + "%分位数",
            "estimate": q["estimate"].round(0),
        }
    )
    return out


PUBLIC_HEADERS: dict[str, str] = {
    **NAMES_ZH,
    "city": "地区",
    "section": "行业",
    "size_class": "企业规模",
    "rank_zh": "排名",
    "occupation_zh": "职业大类",
    "vacancy_ratio": "空缺与从业人员比(%)",
    "talent_index": "急需紧缺人才指数",
    "quantile": "分位数",
    "estimate": "企业月平均工资(元)",
}


def internal_tables(result: ReleaseResult) -> dict[str, pd.DataFrame]:
    """The internal annex: every estimate with SE, CV, CI, enterprises, status and flags."""
    c = result.cells.copy()
    c["indicator_zh"] = c["indicator"].map(NAMES_ZH)
    c["status_zh"] = c["status"].map(STATUS_ZH)
    return {
        "全部估计": c[
            [
                "dimension",
                "domain",
                "indicator",
                "indicator_zh",
                "estimate",
                "se",
                "cv",
                "ci_low",
                "ci_high",
                "n_reporters",
                "status_zh",
                "reason",
                "unreliable",
            ]
        ],
        "隐匿核验": result.audit,
        "紧缺职业": result.shortage,
        "工资分位数": result.quantiles,
    }


INTERNAL_HEADERS: dict[str, str] = {
    "dimension": "分组维度",
    "domain": "分组",
    "indicator": "指标代码",
    "indicator_zh": "指标",
    "estimate": "估计值",
    "se": "标准误",
    "cv": "变异系数",
    "ci_low": "置信区间下限",
    "ci_high": "置信区间上限",
    "n_reporters": "调查企业数",
    "status_zh": "发布状态",
    "reason": "隐匿原因",
    "unreliable": "不可靠(CV超限)",
    "row": "行",
    "column": "栏",
    "value": "真值",
    "lower": "可推算下限",
    "upper": "可推算上限",
}


def about_rows(result: ReleaseResult) -> dict[str, Any]:
    """The 说明 rows explaining symbols, rules and counts."""
    s = result.settings
    k = result.counts()
    rule = (
        f"({s.n}, {s.k:g}) 规则:最大 {s.n} 家企业合计超过该格合计的 {s.k:g}%"
        if s.dominance == "nk"
        else f"p% 规则(p = {s.p:g}):除最大两家外其余合计不足最大一家的 {s.p:g}%"
    )
    return {
        "符号“" + s.symbol + "”": "该格数据隐匿(保护企业信息):调查企业少于 "
        f"{s.min_enterprises} 家、或被少数企业主导({rule})为一次隐匿;为使隐匿数据无法由合计"
        f"反推(反推区间至少覆盖真值±{s.protection:.0%})而隐匿的为二次隐匿",
        "符号“" + s.unreliable_symbol + "”": f"估计值变异系数超过 {s.cv_limit:.0%},仅供参考",
        "用工景气指数": "增加(或预期上升)企业占比 + 0.5 × 持平企业占比,50 为荣枯线",
        "急需紧缺人才指数": "某职业难招岗位空缺与从业人员之比 ÷ 全部职业平均比值 × 100",
        "估计方法": "按抽样设计加权估计(层内无回答调整),全省合计为各分组之和",
        "格数": f"公开 {k['published']},一次隐匿 {k['primary']},二次隐匿 {k['secondary']},"
        f"标注不可靠 {k['unreliable']}(按地区、行业、企业规模及地区×行业分组的指标格)",
    }


def _figure_wages(result: ReleaseResult) -> Any:
    import matplotlib.pyplot as plt

    from samplekit.plotting import setup_fonts

    setup_fonts()
    c = result.cells
    d = c.loc[
        (c["dimension"] == "city")
        & (c["indicator"] == "average_wage")
        & (c["status"] == "published")
    ].sort_values("estimate")
    fig, ax = plt.subplots(figsize=(7, 0.28 * max(len(d), 4) + 1))
    ax.barh(d["domain"], d["estimate"], color="#4472c4")
    ax.set_xlabel("月平均工资(元)")
    fig.tight_layout()
    return fig


def _figure_shortage(result: ReleaseResult) -> Any:
    import matplotlib.pyplot as plt

    sh = result.shortage.iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    err = [sh["vacancies"] - sh["vacancies_ci_low"], sh["vacancies_ci_high"] - sh["vacancies"]]
    ax.barh(sh["occupation_zh"], sh["vacancies"], xerr=err, color="#c0504d", capsize=3)
    ax.set_xlabel("岗位空缺(个,含95%置信区间)")
    fig.tight_layout()
    return fig


def press_summary(result: ReleaseResult, *, province: str, data_note: str = "") -> Any:
    """The Chinese press summary (新闻通稿) as a :class:`samplekit.documents.Document`."""
    from samplekit.documents import Document, default_issuer, quarter_zh

    c = result.cells
    prov = c.loc[c["dimension"] == "province"].set_index("indicator")["estimate"]
    sh = result.shortage
    top = sh.loc[sh["rank"] == 1, "occupation_zh"].tolist()
    doc = Document(
        title=f"{province}{quarter_zh(result.quarter)}企业用工情况",
        issuer=default_issuer(province),
        period=quarter_zh(result.quarter),
        data_note=data_note,
    )
    doc.summary(
        [
            f"全省监测企业月平均工资 {prov['average_wage']:,.0f} 元。",
            f"岗位空缺率 {prov['vacancy_rate']:.1f}%,其中难招岗位占 {prov['hard_share']:.1f}%。",
            f"用工景气指数(人数变动){prov['climate_headcount']:.1f},"
            f"(企业预期){prov['climate_outlook']:.1f}(50 为荣枯线)。",
            f"岗位空缺最多的职业大类:{'、'.join(top)}"
            + ("(差异在统计误差范围内,并列)" if len(top) > 1 else "")
            + "。",
        ]
    )
    doc.section("工资水平")
    doc.paragraph("各地区企业月平均工资见下图(隐匿的格不列入)。")
    doc.figure(_figure_wages(result), title="各地区企业月平均工资", source="企业用工情况调查")
    doc.section("紧缺职业")
    doc.table(
        public_tables(result)["紧缺职业"],
        title="职业大类岗位空缺排名",
        headers=PUBLIC_HEADERS,
        source="企业用工情况调查",
    )
    doc.figure(_figure_shortage(result), title="职业大类岗位空缺", source="企业用工情况调查")
    doc.section("说明")
    for key, text in about_rows(result).items():
        doc.paragraph(f"{key}:{text}")
    return doc


def write_release(
    result: ReleaseResult,
    out_dir: Any,
    *,
    province: str,
    data_note: str = "",
    about: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Write ``public/`` (tables workbook, press summary) and ``internal/`` (annex)."""
    from pathlib import Path

    from samplekit.documents import write_document
    from samplekit.io import write_xlsx

    out = Path(out_dir)
    (out / "public").mkdir(parents=True, exist_ok=True)
    (out / "internal").mkdir(parents=True, exist_ok=True)
    q = result.quarter
    rows = {**about_rows(result), **dict(about or {})}
    paths = [
        write_xlsx(
            public_tables(result),
            out / "public" / f"{q}_季度用工发布表.xlsx",
            headers=PUBLIC_HEADERS,
            about=rows,
            source="企业用工情况调查(季度)",
            units="单位:见各栏标题",
            data_note=data_note,
        )
    ]
    paths += write_document(
        press_summary(result, province=province, data_note=data_note),
        out / "public" / f"{q}_新闻通稿.docx",
    )
    paths.append(
        write_xlsx(
            internal_tables(result),
            out / "internal" / f"{q}_内部附表.xlsx",
            headers=INTERNAL_HEADERS,
            about=rows,
            source="企业用工情况调查(季度)",
            data_note=data_note,
        )
    )
    return paths
