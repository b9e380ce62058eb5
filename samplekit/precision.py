"""Expected precision of the monthly job-change rate under an allocation, and the sample size a
target coefficient of variation needs (Neyman within one domain, Bethel-style for all cities and
the province at once).

Model (see ``docs/allocation.md``): the strata are the allocation cells; the domain rate is the
employment-weighted mean of stratum rates, ``R = sum_h W_h R_h`` with ``W_h = E_h / E`` (frame
employment). Each stratum mean is estimated by the mean of ``n_h`` enterprise rates drawn by
simple random sampling without replacement, with within-stratum standard deviation ``S_h``
(assumed per size class in params, or estimated from monitoring history). Then

    Var(R̂) = sum_h W_h² S_h² (1/n_h − 1/N_h),      CV = sqrt(Var) / R̄

where ``R̄`` is the expected level of the monthly rate (params ``mean_rate``). Strata with no
sample are out of the estimate's coverage; the variance is computed over covered strata with
weights renormalised to them and the uncovered employment share is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from samplekit import reference
from samplekit.errors import ParamsError

PROVINCE = "全省"

PRECISION_HEADERS_ZH: dict[str, str] = {
    "city": "城市",
    "strata": "层数(单元)",
    "frame_units": "名录企业数",
    "n": "样本数",
    "n_monthly": "月度样本数",
    "coverage": "覆盖的从业人数比重",
    "cv": "预期变异系数(全部样本)",
    "cv_monthly": "预期变异系数(月度子样本)",
    "target_cv": "目标变异系数",
    "n_neyman": "达到目标所需样本(Neyman)",
    "n_current_mix": "达到目标所需样本(按现结构等比放大)",
    "n_bethel": "各市与全省同时达标所需样本(Bethel)",
    "meets_target": "是否达标",
}

DEFAULT_SD_BY_SIZE: dict[str, float] = {"large": 0.03, "medium": 0.04, "small": 0.06, "micro": 0.08}


@dataclass(frozen=True)
class PrecisionSettings:
    """Assumptions for the precision figures (``allocation.precision`` in params).

    ``mean_rate`` is the expected level of the monthly job-change rate (e.g. 0.02 = 2% of
    employment changes per month); ``sd_by_size`` the within-stratum SD of enterprise rates
    per size class; ``sd_by_section`` optional multipliers per section (e.g. C: 1.2);
    ``target_cv`` the CV a domain estimate should reach.
    """

    mean_rate: float = 0.02
    sd_by_size: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SD_BY_SIZE))
    sd_by_section: Mapping[str, float] = field(default_factory=dict)
    target_cv: float = 0.05
    target_cv_province: float | None = None

    @property
    def province_target(self) -> float:
        """The province's target CV (``target_cv`` unless set on its own)."""
        return self.target_cv if self.target_cv_province is None else self.target_cv_province

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, *, where: str = "precision"
    ) -> PrecisionSettings:
        """Validate a mapping (the params section); errors name ``where`` and the key."""
        data = dict(data or {})
        allowed = {"mean_rate", "sd_by_size", "sd_by_section", "target_cv", "target_cv_province"}
        unknown = set(data) - allowed
        if unknown:
            raise ParamsError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        d = cls()

        def positive(key: str, value: Any) -> float:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ParamsError(
                    f"{where}: key '{key}' must be a positive number, found {value!r}"
                )
            return float(value)

        mean_rate = positive("mean_rate", data.get("mean_rate", d.mean_rate))
        target = positive("target_cv", data.get("target_cv", d.target_cv))
        province = data.get("target_cv_province")
        province = None if province is None else positive("target_cv_province", province)
        sd = dict(d.sd_by_size)
        given = data.get("sd_by_size", {}) or {}
        if not isinstance(given, Mapping):
            raise ParamsError(f"{where}: key 'sd_by_size' must map size classes to SDs")
        for key, value in given.items():
            if key not in reference.SIZE_CLASSES:
                raise ParamsError(
                    f"{where}: key 'sd_by_size.{key}' is not a size class; use "
                    f"{', '.join(reference.SIZE_CLASSES)}"
                )
            sd[key] = positive(f"sd_by_size.{key}", value)
        mult = {}
        given = data.get("sd_by_section", {}) or {}
        if not isinstance(given, Mapping):
            raise ParamsError(f"{where}: key 'sd_by_section' must map sections to multipliers")
        names = reference.section_names()
        for key, value in given.items():
            if key not in names:
                raise ParamsError(f"{where}: key 'sd_by_section.{key}' is not a section A–T")
            mult[key] = positive(f"sd_by_section.{key}", value)
        return cls(
            mean_rate=mean_rate,
            sd_by_size=sd,
            sd_by_section=mult,
            target_cv=target,
            target_cv_province=province,
        )


def stratum_sd(cells: pd.DataFrame, settings: PrecisionSettings) -> np.ndarray:
    """Within-stratum SD per cell: the size class SD times the section multiplier."""
    base = (
        cells["size_class"]
        .map(settings.sd_by_size)
        .fillna(max(settings.sd_by_size.values()))
        .to_numpy(dtype=float)
    )
    mult = cells["section"].map(settings.sd_by_section).fillna(1.0).to_numpy(dtype=float)
    return base * mult


def stratified_variance(weights: np.ndarray, sd: np.ndarray, n: np.ndarray, N: np.ndarray) -> float:
    """``sum_h W_h² S_h² (1/n_h − 1/N_h)`` over strata with ``n_h >= 1`` (W as given).

    Examples
    --------
    >>> stratified_variance(np.array([0.5, 0.5]), np.array([0.1, 0.2]), np.array([10, 20]),
    ...                     np.array([100, 200]))
    0.00016875
    """
    ok = n >= 1
    w, s, nn, NN = weights[ok], sd[ok], n[ok].astype(float), N[ok].astype(float)
    return float(np.sum(w**2 * s**2 * (1.0 / nn - 1.0 / NN)))


def neyman_sample_size(
    weights: np.ndarray, sd: np.ndarray, N: np.ndarray, target_var: float
) -> float:
    """Smallest total n reaching ``target_var`` with Neyman allocation ``n_h ∝ W_h S_h``.

    ``n = (sum W_h S_h)² / (V + sum W_h² S_h² / N_h)``; strata whose Neyman share exceeds
    ``N_h`` are taken completely (take-all) and the rest re-solved.
    """
    w, s, NN = weights.astype(float), sd.astype(float), N.astype(float)
    take_all = np.zeros(len(w), dtype=bool)
    for _ in range(len(w) + 1):
        free = ~take_all
        ws = w[free] * s[free]
        if ws.sum() <= 0:
            return float(NN[take_all].sum())
        n_free = ws.sum() ** 2 / (target_var + np.sum(ws**2 / NN[free]))
        n_h = n_free * ws / ws.sum()
        over = n_h > NN[free]
        if not over.any():
            return float(n_free + NN[take_all].sum())
        take_all[np.flatnonzero(free)[over]] = True
    return float(NN.sum())


def scaled_sample_size(
    weights: np.ndarray, sd: np.ndarray, n: np.ndarray, N: np.ndarray, target_var: float
) -> float:
    """Total n reaching ``target_var`` when the current allocation is scaled by one factor
    ``k`` (``n_h(k) = min(k n_h, N_h)``, strata filled up are take-all); bisection on ``k``."""
    a = weights**2 * sd**2
    n = n.astype(float)
    N = N.astype(float)

    def var(k: float) -> float:
        nh = np.minimum(k * n, N)
        return float(np.sum(a * (1.0 / nh - 1.0 / N)))

    lo, hi = 1e-9, float(np.max(N / n))
    if var(hi) > target_var:  # cannot happen: all take-all gives zero variance
        return float(N.sum())
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if var(mid) > target_var:
            lo = mid
        else:
            hi = mid
    return float(np.minimum(hi * n, N).sum())


def bethel_sample_size(
    cells: pd.DataFrame, sd: np.ndarray, settings: PrecisionSettings
) -> np.ndarray:
    """Continuous stratum sizes minimising the total n so that every city's and the
    province's estimate reach ``target_cv`` at once (a Bethel/Chromy-type problem).

    Solves ``min sum n_h`` s.t. ``sum_{h in d} A_h / n_h <= b_d`` for every city d and
    ``sum_h B_h / n_h <= b_0`` and ``n_h <= N_h`` by its KKT conditions
    ``n_h = min(N_h, sqrt(λ_d A_h + μ B_h))``: for a given μ each city's λ_d is found by
    bisection, and μ by an outer bisection. Continuous sizes (round up to use them).
    """
    E = cells["frame_employment"].to_numpy(dtype=float)
    N = cells["frame_units"].to_numpy(dtype=float)
    codes, city_index = np.unique(cells["city"].to_numpy(), return_inverse=True)
    Ed = np.bincount(city_index, weights=E, minlength=len(codes))
    Wd = E / np.where(Ed[city_index] > 0, Ed[city_index], 1.0)
    W0 = E / E.sum()
    A, B = (Wd * sd) ** 2, (W0 * sd) ** 2
    V = (settings.target_cv * settings.mean_rate) ** 2
    V0 = (settings.province_target * settings.mean_rate) ** 2
    b_d = V + np.bincount(city_index, weights=A / N, minlength=len(codes))
    b_0 = V0 + np.sum(B / N)

    def city_lhs(lam: np.ndarray, mu: float) -> np.ndarray:
        n = np.minimum(np.sqrt(np.maximum(lam[city_index] * A + mu * B, 1e-300)), N)
        return np.bincount(city_index, weights=A / n, minlength=len(codes))

    def solve_lambda(mu: float) -> np.ndarray:
        # g_d(λ) decreases in λ; λ_d = 0 when the province term alone meets city d
        lo = np.zeros(len(codes))
        hi = np.ones(len(codes))
        for _ in range(400):
            bad = city_lhs(hi, mu) > b_d
            if not bad.any():
                break
            lo[bad] = hi[bad]  # keep the bracket tight: [hi/4, hi] after expansion
            hi[bad] *= 4.0
        if mu > 0:
            ok0 = city_lhs(np.zeros(len(codes)), mu) <= b_d
        else:
            ok0 = np.zeros(len(codes), dtype=bool)
        for _ in range(45):
            mid = 0.5 * (lo + hi)
            over = city_lhs(mid, mu) > b_d
            lo = np.where(over, mid, lo)
            hi = np.where(over, hi, mid)
        return np.where(ok0, 0.0, hi)

    def sizes(mu: float) -> np.ndarray:
        lam = solve_lambda(mu)
        return np.minimum(np.sqrt(lam[city_index] * A + mu * B), N)

    n = sizes(0.0)
    if np.sum(B / np.maximum(n, 1e-300)) <= b_0:
        return n
    lo, hi = 0.0, 1.0
    while np.sum(B / np.maximum(sizes(hi), 1e-300)) > b_0:
        lo, hi = hi, hi * 4.0
    for _ in range(45):
        mid = 0.5 * (lo + hi)
        if np.sum(B / np.maximum(sizes(mid), 1e-300)) > b_0:
            lo = mid
        else:
            hi = mid
    return sizes(hi)


def _domain_row(
    name: str,
    sub: pd.DataFrame,
    sd: np.ndarray,
    settings: PrecisionSettings,
    bethel: np.ndarray,
    target: float,
) -> dict[str, Any]:
    E = sub["frame_employment"].to_numpy(dtype=float)
    N = sub["frame_units"].to_numpy(dtype=float)
    n = sub["n"].to_numpy()
    m = sub["n_monthly"].to_numpy()
    V = (target * settings.mean_rate) ** 2
    covered = n >= 1
    cov = E[covered].sum() / E.sum() if E.sum() > 0 else np.nan
    row: dict[str, Any] = {
        "city": name,
        "strata": int(covered.sum()),
        "frame_units": int(N.sum()),
        "n": int(n.sum()),
        "n_monthly": int(m.sum()),
        "coverage": cov,
    }
    if covered.any() and E[covered].sum() > 0:
        w = np.where(covered, E / E[covered].sum(), 0.0)
        var = stratified_variance(w, sd, n, N)
        row["cv"] = np.sqrt(var) / settings.mean_rate
        row["n_neyman"] = neyman_sample_size(w[covered], sd[covered], N[covered], V)
        row["n_current_mix"] = scaled_sample_size(
            w[covered], sd[covered], n[covered], N[covered], V
        )
    else:
        row["cv"] = row["n_neyman"] = row["n_current_mix"] = np.nan
    mcov = m >= 1
    if mcov.any() and E[mcov].sum() > 0:
        wm = np.where(mcov, E / E[mcov].sum(), 0.0)
        row["cv_monthly"] = np.sqrt(stratified_variance(wm, sd, m, N)) / settings.mean_rate
    else:
        row["cv_monthly"] = np.nan
    row["n_bethel"] = float(bethel.sum())
    row["target_cv"] = target
    row["meets_target"] = "是" if row["cv"] <= target else "否"
    return row


def precision_table(cells: pd.DataFrame, settings: PrecisionSettings | None = None) -> pd.DataFrame:
    """Expected CV per city and for the province, and the sample needed for the target CV.

    Parameters
    ----------
    cells : DataFrame
        Allocation cells with city, section, size_class, frame_units, frame_employment, n,
        n_monthly.
    settings : PrecisionSettings, optional

    Returns
    -------
    DataFrame
        One row per city (sorted) then the province (``全省``): strata, frame_units, n,
        n_monthly, coverage, cv, cv_monthly, n_neyman, n_current_mix, n_bethel, target_cv,
        meets_target. ``n_neyman`` treats each domain on its own; ``n_bethel`` is that
        domain's part of the joint solution meeting every city and the province at once.
    """
    settings = settings or PrecisionSettings()
    cells = (
        cells[cells["frame_units"] > 0]
        .sort_values(["city", "section", "size_class", "ownership"], kind="stable")
        .reset_index(drop=True)
    )
    sd = stratum_sd(cells, settings)
    # Bethel over the strata the design covers (cells with sample), as the CVs are
    covered = cells["n"].to_numpy() >= 1
    bethel = np.zeros(len(cells))
    if covered.any():
        bethel[covered] = bethel_sample_size(
            cells[covered].reset_index(drop=True), sd[covered], settings
        )
    rows = []
    codes, uniques = pd.factorize(cells["city"], sort=True)
    order = np.argsort(codes, kind="stable")
    edges = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    for i, name in enumerate(uniques):
        sel = order[edges[i] : edges[i + 1]]
        rows.append(
            _domain_row(
                str(name), cells.iloc[sel], sd[sel], settings, bethel[sel], settings.target_cv
            )
        )
    rows.append(_domain_row(PROVINCE, cells, sd, settings, bethel, settings.province_target))
    cols = [
        "city",
        "strata",
        "frame_units",
        "n",
        "n_monthly",
        "coverage",
        "cv",
        "cv_monthly",
        "target_cv",
        "meets_target",
        "n_neyman",
        "n_current_mix",
        "n_bethel",
    ]
    return pd.DataFrame(rows)[cols]


def stratum_sd_from_history(reports: pd.DataFrame, units: pd.DataFrame) -> dict[str, float]:
    """Estimate the within-stratum SD of monthly enterprise rates per size class from history.

    Parameters
    ----------
    reports : DataFrame
        Monthly reports in the canonical layout (enterprise_id, period, baseline_employment,
        change).
    units : DataFrame
        enterprise_id and size_class of the reporting enterprises.

    Returns
    -------
    dict
        size class -> SD of ``change / baseline_employment`` over enterprise-months (ddof=1),
        for use as ``allocation.precision.sd_by_size``.
    """
    df = reports.merge(units[["enterprise_id", "size_class"]], on="enterprise_id", how="inner")
    base = pd.to_numeric(df["baseline_employment"], errors="coerce")
    rate = pd.to_numeric(df["change"], errors="coerce") / base.where(base > 0)
    df = df.assign(rate=rate).dropna(subset=["rate"])
    sd = df.groupby("size_class", sort=True)["rate"].std(ddof=1).dropna()
    return {str(k): float(v) for k, v in sd.items() if v > 0}
