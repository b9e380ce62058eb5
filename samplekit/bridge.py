"""Bridging the monthly series across the 2013 expansion (issue 16): old panel → new design.

Until November 2013 the province's series came from a purposive panel of about 3000 enterprises;
from December 2013 from the designed sample of 10000 (seed 001: trial reporting 试行调整阶段
October–November 2013, full operation 运行推广阶段 from December). The two estimate the same
quantity in the overlap months (the trial months and the first months of the new panel), so the
difference between them there is the **level shift** caused by the change of panel, not by the
economy. This module:

* weights the old panel by calibration to the register's margins (:func:`old_panel_weights`: a
  model-based choice, docs/estimation.md "Bridging the 2013 expansion");
* estimates the level shift of an indicator by domain with its SE, linearising both estimators on
  the same enterprises so the covariance through the shared (retained) firms enters
  (:func:`level_shift`);
* splices the series with the shift (additive) or a ratio link, marking the break
  (:func:`bridged_series`);
* gives the warning what it needs across a declared break (:class:`BreakSettings`,
  :func:`crosses_break`, :func:`year_on_year`, :func:`forecast_input`).

Pure: DataFrames and plain values in and out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from samplekit import estimation
from samplekit.calibration import CalibrationResult, CalibrationSettings, calibrate
from samplekit.errors import InputError, ParamsError
from samplekit.periods import MONTH_RE

BridgeMethod = Literal["shift", "ratio"]

#: Indicators bridged by default (the warning's core rates).
CORE_INDICATORS: tuple[str, ...] = ("job_loss_rate", "net_change_rate")

#: Entry reason of a trial-reporting membership row (estimation leaves such rows out).
TRIAL_REASON = estimation.TRIAL_REASON

SOURCE_ZH: dict[str, str] = {
    "old_panel": "原监测企业(扩面前,约3000家,校准加权)",
    "new_design": "扩面后新样本(10000家,按设计加权)",
}
METHOD_ZH: dict[str, str] = {"shift": "水平差值衔接", "ratio": "比率衔接"}
POOLED = "overlap"


# ------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class BreakSettings:
    """A declared series break (params ``monthly.break``).

    Parameters
    ----------
    month : str
        First month of the new design (``"2013-12"``): months before it come from the old panel.
    method : {"shift", "ratio"}
        How the old series is adjusted: add the level shift, or multiply by the ratio link.
    overlap : tuple of str
        Months in which both panels estimate the same quantity. Default: the two trial months
        before ``month``, ``month`` itself and the two after it.
    indicators : tuple of str
        Indicators bridged.
    """

    month: str = "2013-12"
    method: BridgeMethod = "shift"
    overlap: tuple[str, ...] = ()
    indicators: tuple[str, ...] = CORE_INDICATORS

    def overlap_months(self) -> list[str]:
        """The overlap months (the default when none was given)."""
        if self.overlap:
            return list(self.overlap)
        first = estimation._month_index(self.month)
        return [estimation._month_label(first + k) for k in range(-2, 3)]

    @classmethod
    def from_params(cls, params: Any, key: str = "monthly.break") -> BreakSettings | None:
        """Read ``monthly.break``; None when absent or null (no declared break)."""
        sec = params.get(key, None)
        if sec is None:
            return None
        if not isinstance(sec, dict):
            raise ParamsError(
                f"{params.path}: '{key}' must be a mapping such as "
                '{month: "2013-12", method: shift}, found {sec!r}'
            )
        allowed = {"month", "method", "overlap", "indicators"}
        unknown = sorted(set(sec) - allowed)
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {', '.join(unknown)} in '{key}'; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        month = params.get(f"{key}.month", types=str)
        if not _is_month(month):
            raise ParamsError(
                f"{params.path}: key '{key}.month' = {month!r} is not a month "
                'YYYY-MM (the first month of the new design, e.g. "2013-12")'
            )
        method = params.choice(f"{key}.method", ("shift", "ratio"), "shift")
        overlap = params.get(f"{key}.overlap", [], types=list)
        bad = [m for m in overlap if not isinstance(m, str) or not _is_month(m)]
        if bad:
            raise ParamsError(
                f"{params.path}: key '{key}.overlap' has {bad!r}: list months "
                'YYYY-MM in which both panels report, e.g. ["2013-10", "2013-11"]'
            )
        indicators = params.get(f"{key}.indicators", list(CORE_INDICATORS), types=list)
        unknown_ind = [i for i in indicators if i not in estimation.INDICATORS]
        if unknown_ind or not indicators:
            raise ParamsError(
                f"{params.path}: key '{key}.indicators' = {indicators!r}: choose "
                f"among {', '.join(estimation.INDICATORS)}"
            )
        return cls(
            month=month,
            method=method,
            overlap=tuple(overlap),  # type: ignore[arg-type]
            indicators=tuple(indicators),
        )


def _is_month(text: str) -> bool:
    m = MONTH_RE.match(str(text))
    return bool(m) and 1 <= int(m.group(2)) <= 12 and len(str(text)) == 7


# --------------------------------------------------------------------- old-panel weights
def old_panel_weights(
    members: pd.DataFrame,
    register: pd.DataFrame,
    *,
    settings: CalibrationSettings | None = None,
    start_cells: Sequence[str] = ("city", "size_class"),
) -> tuple[pd.DataFrame, CalibrationResult]:
    """Weights for a purposive panel: calibration to the register's margins.

    The old panel was not drawn at random, so it has no design weights. A model-based choice:
    start from ``N_c / n_c`` in coarse cells ``start_cells`` (city × size class), then calibrate
    (raking, :func:`samplekit.calibration.calibrate`) to the register's unit counts and
    employment by city, section, size class and ownership. The estimates are unbiased if,
    **within the calibration margins, the panel's enterprises behave like the register's**
    (their job-loss and net-change rates do not depend on how they were chosen once city,
    section, size class, ownership and employment are accounted for). The bridge
    (:func:`level_shift`) measures how far that assumption is off.

    Parameters
    ----------
    members : DataFrame
        The old panel in force: ``enterprise_id``, ``city, section, size_class, ownership``,
        ``employees``.
    register : DataFrame
        The register of the year (the population the new design covers: same scope), with the
        strata columns and ``employees``; or cell totals with a ``units`` count per row and
        ``employees`` their total employment.
    settings : CalibrationSettings, optional
        Default: raking on the four margins, units and employment, g-bounds [0.1, 10] (a
        purposive panel is far from its margins).
    start_cells : sequence of str
        Cells of the starting weights.

    Returns
    -------
    members, result
        ``members`` with ``weight`` (start), ``calibrated_weight``, ``cell_frame_units`` (N_h of
        the member's stratum in the register) and ``cell_n``; the calibration result.

    Raises
    ------
    InputError
        Missing columns, a start cell without register units, or a calibration that does not
        converge (the message names the conflicting margins).

    Examples
    --------
    >>> weighted, res = old_panel_weights(old, register)  # doctest: +SKIP
    """
    settings = settings or CalibrationSettings(bounds=(0.1, 10.0))
    need = ["enterprise_id", *estimation.STRATUM_COLUMNS, "employees"]
    for what, df in (("the old panel", members), ("the register", register)):
        missing = [c for c in need[1:] if c not in df.columns]
        if what == "the old panel" and "enterprise_id" not in df.columns:
            missing.insert(0, "enterprise_id")
        if missing:
            raise InputError(
                f"{what} lacks column(s) {', '.join(missing)}; old_panel_weights "
                "needs the strata columns and employees"
            )
    out = members.reset_index(drop=True).copy()
    cells = list(start_cells)
    # A ``units`` column makes a register row stand for that many enterprises (cell totals).
    count = (
        pd.to_numeric(register["units"], errors="coerce").fillna(0).to_numpy(float)
        if "units" in register.columns
        else np.ones(len(register))
    )
    strata = estimation.STRATUM_COLUMNS
    cols = list(dict.fromkeys([*strata, *cells]))
    both = pd.concat([register[cols].astype(str), out[cols].astype(str)], ignore_index=True)
    start_code = both.groupby(cells, sort=False).ngroup().to_numpy()
    cell_code = both.groupby(strata, sort=False).ngroup().to_numpy()
    n_reg = len(register)
    pop_start = np.bincount(start_code[:n_reg], weights=count, minlength=start_code.max() + 1)
    pop_cell = np.bincount(cell_code[:n_reg], weights=count, minlength=cell_code.max() + 1)
    mine_start, mine_cell = start_code[n_reg:], cell_code[n_reg:]
    big_n = pop_start[mine_start]
    if (big_n <= 0).any():
        bad = out.loc[big_n <= 0, cells].iloc[0].tolist()
        raise InputError(
            f"the old panel has members in cell {bad} ({' × '.join(cells)}) that "
            "the register does not cover; pass the register of the same scope"
        )
    d = big_n / np.bincount(mine_start, minlength=len(pop_start))[mine_start]
    res = calibrate(out, d, register, settings)
    if not res.converged:
        raise InputError(f"calibrating the old panel to the register failed: {res.message}")
    out["weight"] = d
    out["calibrated_weight"] = res.weights
    out["cell_frame_units"] = pop_cell[mine_cell].astype(np.int64)
    out["cell_n"] = np.bincount(mine_cell, minlength=len(pop_cell))[mine_cell]
    short = out["cell_frame_units"] < out["cell_n"]
    if short.any():
        r = out.loc[short].iloc[0]
        raise InputError(
            f"the old panel has {int(r['cell_n'])} members in stratum "
            f"{tuple(r[strata])} but the register only {int(r['cell_frame_units'])}; "
            "pass the register the panel was drawn from"
        )
    return out, res


# ------------------------------------------------------------------------------ level shift
def _design_units(
    reports: pd.DataFrame,
    design: pd.DataFrame,
    months: Sequence[str],
    *,
    by: Sequence[str],
    weight: str,
) -> pd.DataFrame:
    """Units of one design in each month (non-response adjusted weights, NaN-free)."""
    parts = []
    for m in months:
        try:
            u = estimation.build_units(
                reports, design, periods=m, by=list(by), weight=weight, out_of_sample="drop"
            )
        except InputError:  # no reporter of this design in the month
            continue
        parts.append(u)
    if not parts:
        raise InputError(
            f"no member of the design reported in {', '.join(months)}; the "
            "overlap months must hold reports of both panels"
        )
    return pd.concat(parts, ignore_index=True)


def _linearise(
    units: pd.DataFrame, spec: estimation.Spec, by: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (period, domain) estimate and per unit its linearised contribution ``u = w z``."""
    keys = ["period", *by]
    w = units["_w"].to_numpy(float)
    num = units[spec.numerator].to_numpy(float)
    grp = units.groupby(keys, sort=True, observed=True, dropna=False).ngroup().to_numpy()
    t_num = np.bincount(grp, weights=w * num)
    if spec.denominator is None:
        theta = t_num
        u = w * num
    else:
        den = units[spec.denominator].to_numpy(float)
        t_den = np.bincount(grp, weights=w * den)
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = t_num / t_den
            u = w * (num - theta[grp] * den) / t_den[grp]
    est = units[keys].assign(_g=grp).drop_duplicates("_g").sort_values("_g")
    est = est.assign(
        estimate=spec.scale * theta[est["_g"].to_numpy()], n=np.bincount(grp)[est["_g"].to_numpy()]
    ).drop(columns="_g")
    cols = ["enterprise_id", *keys, *estimation.STRATUM_COLUMNS, "_N"]
    cols = list(dict.fromkeys(cols))
    return est.reset_index(drop=True), units[cols].assign(_u=spec.scale * u)


def _stratified_se(df: pd.DataFrame, keys: Sequence[str], value: str) -> pd.DataFrame:
    """SE of the total of ``value`` per ``keys`` group (domains: zero outside), stratified by
    ``_h`` within ``period`` with N_h ``_N``; singleton strata pooled within period × city."""
    df = df.copy()
    sk = ["period", "_h"]
    n_h = df.groupby(sk)["enterprise_id"].transform("size").to_numpy()
    lonely = n_h == 1
    if lonely.any():
        # One unit has no variance of its own: pool such strata within the city (conservative).
        df.loc[lonely, "_h"] = "pool:" + df.loc[lonely, "city"].astype(str)
        n_h = df.groupby(sk)["enterprise_id"].transform("size").to_numpy()
    big_n = df.groupby(sk)["_N"].transform("sum" if lonely.any() else "max").to_numpy(float)
    if lonely.any():  # pooled strata: N = Σ N_h over the pooled strata (one N_h per stratum)
        first = df.groupby(sk)["_N"].transform("max").to_numpy(float)
        big_n = np.where(df["_h"].astype(str).str.startswith("pool:"), big_n, first)
    big_n = np.where(np.isnan(big_n), np.inf, big_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n_h > 1, np.clip(1 - n_h / big_n, 0, 1) * n_h / np.maximum(n_h - 1, 1), 0.0)
    df["_c"], df["_nh"] = c, n_h
    v = df[value].to_numpy(float)
    df["_s1"], df["_s2"] = v, v * v
    cell = df.groupby([*keys, "_h"], dropna=False, observed=True).agg(
        s1=("_s1", "sum"), s2=("_s2", "sum"), c=("_c", "first"), nh=("_nh", "first")
    )
    cell["var"] = cell["c"] * np.maximum(cell["s2"] - cell["s1"] ** 2 / cell["nh"], 0.0)
    return (
        np.sqrt(cell.groupby(level=list(range(len(keys))), dropna=False)["var"].sum())
        .rename("se")
        .reset_index()
    )


def level_shift(
    reports: pd.DataFrame,
    *,
    old: pd.DataFrame,
    new: pd.DataFrame,
    months: Sequence[str],
    indicators: Sequence[str] = CORE_INDICATORS,
    by: Sequence[str] | None = None,
    weight: str = "calibrated_weight",
    level: float = 0.95,
) -> pd.DataFrame:
    """The level shift between the old panel and the new design in the overlap months.

    In each overlap month both designs estimate the same indicator: θ̂_old (old panel, its
    calibrated weights) and θ̂_new (new design). The shift is ``θ̂_new − θ̂_old`` and the ratio
    link ``θ̂_new / θ̂_old``; the pooled row (``period = "overlap"``) uses the means over the
    months. Both estimators are linearised **on the same enterprises** (an enterprise of both
    panels contributes ``u = w_new z_new − w_old z_old``, one of a single panel its own term; for
    the pooled row the mean over months of each enterprise's terms), and the variance is the
    stratified variance of the total of u with the strata (city × section × size class ×
    ownership) and N_h of the new design — so the covariance through the shared firms and across
    months enters.

    Parameters
    ----------
    reports : DataFrame
        Reports of every firm of either panel in the overlap months (canonical layout).
    old, new : DataFrame
        The two designs as one-window sample lists (in force in every overlap month):
        ``enterprise_id``, strata, the ``weight`` column, ``cell_frame_units``. The old panel's
        weights from :func:`old_panel_weights`; reports of firms outside a design are ignored for
        it.
    months : sequence of str
        The overlap months.
    indicators : sequence of str
        Indicators (rates or totals of :data:`samplekit.estimation.INDICATORS`).
    by : list of str, optional
        Domain columns (e.g. ``["city"]``); none = the province.
    weight : str
        Weight column of both designs.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    DataFrame
        ``by…, period`` (each month, then ``"overlap"``), ``indicator, estimate_old,
        estimate_new, shift, se, ci_low, ci_high, ratio, ratio_se, ratio_ci_low, ratio_ci_high,
        n_old, n_new, n_shared``.

    Examples
    --------
    >>> level_shift(reports, old=old, new=new, months=["2013-10", "2013-11"],
    ...             by=["city"])  # doctest: +SKIP
    """
    by = list(by or [])
    months = list(months)
    if not months:
        raise InputError("months is empty: give the overlap months, e.g. ['2013-10', '2013-11']")
    for what, df in (("old", old), ("new", new)):
        if estimation.is_membership(df):
            raise InputError(
                f"'{what}' is a membership table; pass the design as a one-window "
                "sample list in force in every overlap month (e.g. the rows of its "
                "window without valid_from/valid_to)"
            )
    specs = estimation._specs_for(list(indicators))
    ua = _design_units(reports, old, months, by=by, weight=weight)
    ub = _design_units(reports, new, months, by=by, weight=weight)
    zq = stats.norm.ppf(0.5 + level / 2)
    keys = ["period", *by]
    out = []
    for spec in specs:
        est_a, lin_a = _linearise(ua, spec, by)
        est_b, lin_b = _linearise(ub, spec, by)
        m = lin_b.merge(
            lin_a[["enterprise_id", "period", *by, "_u"]],
            on=["enterprise_id", "period", *by],
            how="outer",
            suffixes=("_b", "_a"),
        )
        # Strata and N_h of the new design; a firm of the old panel only keeps its own cell.
        only_a = m["_u_b"].isna()
        if only_a.any():
            src = lin_a.set_index(["enterprise_id", "period"])
            idx = pd.MultiIndex.from_frame(m.loc[only_a, ["enterprise_id", "period"]])
            for col in [*estimation.STRATUM_COLUMNS, "_N"]:
                m.loc[only_a, col] = src[col].reindex(idx).to_numpy()
        m["_ub"] = m["_u_b"].fillna(0.0)
        m["_ua"] = m["_u_a"].fillna(0.0)
        m["_h"] = (
            m.groupby(estimation.STRATUM_COLUMNS, dropna=False, observed=True, sort=True)
            .ngroup()
            .astype(str)
        )
        both = est_b.merge(est_a, on=keys, how="outer", suffixes=("_new", "_old"))
        both = both.rename(columns={"estimate_new": "estimate_new", "estimate_old": "estimate_old"})
        # The shift per month and pooled over the months.
        m["_d"] = m["_ub"] - m["_ua"]
        pooled_m = m.assign(period=POOLED)
        n_months = len(months)
        spec_agg = {
            "_ub": ("_ub", "sum"),
            "_ua": ("_ua", "sum"),
            "_h": ("_h", "first"),
            "_N": ("_N", "first"),
        }
        if "city" not in by:
            spec_agg["city"] = ("city", "first")
        agg = (
            pooled_m.groupby(["enterprise_id", *by], dropna=False, observed=True)
            .agg(**spec_agg)
            .reset_index()
        )
        agg["_ub"] /= n_months
        agg["_ua"] /= n_months
        agg["period"] = POOLED
        agg["_d"] = agg["_ub"] - agg["_ua"]
        means = (
            both.groupby(by, dropna=False)
            .agg(
                estimate_new=("estimate_new", "mean"),
                estimate_old=("estimate_old", "mean"),
                n_new=("n_new", "max"),
                n_old=("n_old", "max"),
            )
            .reset_index()
            if by
            else pd.DataFrame(
                {
                    "estimate_new": [both["estimate_new"].mean()],
                    "estimate_old": [both["estimate_old"].mean()],
                    "n_new": [both["n_new"].max()],
                    "n_old": [both["n_old"].max()],
                }
            )
        )
        means["period"] = POOLED
        table = pd.concat([both, means], ignore_index=True)
        ucols = list(
            dict.fromkeys(["enterprise_id", *keys, "_h", "_N", "city", "_d", "_ub", "_ua"])
        )
        units = pd.concat([m[ucols], agg[ucols]], ignore_index=True)
        # Ratio link: linearised (u_new − R u_old) / θ_old with R = θ_new / θ_old.
        tk = table.set_index(keys)
        idx = pd.MultiIndex.from_frame(units[keys]) if len(keys) > 1 else units[keys[0]]
        t_new = tk["estimate_new"].reindex(idx).to_numpy(float)
        t_old = tk["estimate_old"].reindex(idx).to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            units["_r"] = (units["_ub"] - (t_new / t_old) * units["_ua"]) / t_old
        se_d = _stratified_se(units, keys, "_d")
        se_r = _stratified_se(units, keys, "_r").rename(columns={"se": "ratio_se"})
        n_sh = m.assign(_s=m["_u_b"].notna() & m["_u_a"].notna())
        n_sh = (
            pd.concat([n_sh, n_sh.drop_duplicates(["enterprise_id", *by]).assign(period=POOLED)])
            .groupby(keys, dropna=False)["_s"]
            .sum()
            .rename("n_shared")
        )
        table = table.merge(se_d, on=keys, how="left").merge(se_r, on=keys, how="left")
        table = table.merge(n_sh.reset_index(), on=keys, how="left")
        table["indicator"] = spec.name
        table["shift"] = table["estimate_new"] - table["estimate_old"]
        table["ci_low"] = table["shift"] - zq * table["se"]
        table["ci_high"] = table["shift"] + zq * table["se"]
        with np.errstate(divide="ignore", invalid="ignore"):
            table["ratio"] = table["estimate_new"] / table["estimate_old"]
        table["ratio_ci_low"] = table["ratio"] - zq * table["ratio_se"]
        table["ratio_ci_high"] = table["ratio"] + zq * table["ratio_se"]
        out.append(table)
    res = pd.concat(out, ignore_index=True)
    for c in ("n_old", "n_new", "n_shared"):
        res[c] = res[c].fillna(0).astype(int)
    order = {p: i for i, p in enumerate([*months, POOLED])}
    ind_order = {name: i for i, name in enumerate(indicators)}
    res = (
        res.assign(_p=res["period"].map(order), _i=res["indicator"].map(ind_order))
        .sort_values([*by, "_i", "_p"], kind="stable")
        .drop(columns=["_p", "_i"])
    )
    cols = [
        *by,
        "period",
        "indicator",
        "estimate_old",
        "estimate_new",
        "shift",
        "se",
        "ci_low",
        "ci_high",
        "ratio",
        "ratio_se",
        "ratio_ci_low",
        "ratio_ci_high",
        "n_old",
        "n_new",
        "n_shared",
    ]
    return res[cols].reset_index(drop=True)


# ------------------------------------------------------------------------------ the series
def bridged_series(
    old_series: pd.DataFrame,
    new_series: pd.DataFrame,
    shift: pd.DataFrame,
    *,
    break_month: str,
    method: BridgeMethod = "shift",
    by: Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """One series across the break: the old panel's months adjusted, the new design's as they are.

    Parameters
    ----------
    old_series, new_series : DataFrame
        :func:`samplekit.estimation.monthly_series` of one or more indicators (an ``indicator``
        column when several) from the old panel and from the new design.
    shift : DataFrame
        :func:`level_shift` (its pooled ``"overlap"`` rows are used).
    break_month : str
        First month of the new design: earlier months come from ``old_series``.
    method : {"shift", "ratio"}
        Additive: old + shift; ratio link: old × ratio.
    by : list of str, optional
        Domain columns shared by the three tables.

    Returns
    -------
    DataFrame
        ``period, by…, indicator, estimate, se, ci_low, ci_high, raw_estimate, source,
        source_zh, adjusted, series_break`` (True at ``break_month``: charts draw the break
        there), ``break_month, method``. The SE of an adjusted month combines the month's SE and
        the shift's (delta method, their covariance ignored).
    """
    by = list(by or [])
    if method not in ("shift", "ratio"):
        raise InputError(f"method={method!r}: use 'shift' or 'ratio'")
    if not _is_month(break_month):
        raise InputError(f"break_month {break_month!r} is not a month YYYY-MM")

    def tidy(df: pd.DataFrame, source: str) -> pd.DataFrame:
        d = df.copy()
        if "indicator" not in d.columns:
            inds = shift["indicator"].unique()
            if len(inds) != 1:
                raise InputError(
                    "the series has no 'indicator' column and the shift table holds "
                    f"{len(inds)} indicators; pass one indicator's shift"
                )
            d["indicator"] = inds[0]
        d = d[
            (d["period"] < break_month) if source == "old_panel" else (d["period"] >= break_month)
        ]
        return d.assign(source=source)

    series = pd.concat(
        [tidy(old_series, "old_panel"), tidy(new_series, "new_design")], ignore_index=True
    )
    pooled = shift[shift["period"] == POOLED][
        [*by, "indicator", "shift", "se", "ratio", "ratio_se"]
    ]
    pooled = pooled.rename(columns={"se": "shift_se"})
    series = series.merge(pooled, on=[*by, "indicator"], how="left")
    old = (series["source"] == "old_panel").to_numpy()
    raw = series["estimate"].to_numpy(float)
    se = series["se"].to_numpy(float)
    if method == "shift":
        adj = raw + series["shift"].to_numpy(float)
        adj_se = np.sqrt(se**2 + series["shift_se"].to_numpy(float) ** 2)
    else:
        r, r_se = series["ratio"].to_numpy(float), series["ratio_se"].to_numpy(float)
        adj = raw * r
        adj_se = np.sqrt((r * se) ** 2 + (raw * r_se) ** 2)
    series["raw_estimate"] = raw
    series["estimate"] = np.where(old, adj, raw)
    series["se"] = np.where(old, adj_se, se)
    zq = stats.norm.ppf(0.5 + level / 2)
    series["ci_low"] = series["estimate"] - zq * series["se"]
    series["ci_high"] = series["estimate"] + zq * series["se"]
    series["adjusted"] = old & np.isfinite(adj)
    series["source_zh"] = series["source"].map(SOURCE_ZH)
    series["series_break"] = (series["period"] == break_month).to_numpy()
    series["break_month"] = break_month
    series["method"] = method
    cols = [
        "period",
        *by,
        "indicator",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "raw_estimate",
        "source",
        "source_zh",
        "adjusted",
        "series_break",
        "break_month",
        "method",
    ]
    return series.sort_values([*by, "indicator", "period"], kind="stable").reset_index(drop=True)[
        cols
    ]


# ------------------------------------------------------------------- the warning's helpers
def crosses_break(period_a: str, period_b: str, *, break_month: str) -> bool:
    """True when comparing ``period_a`` with ``period_b`` (months or quarters) spans the break:
    one of them (or part of one) lies before ``break_month`` and the other at or after it.

    >>> crosses_break("2012Q4", "2013Q4", break_month="2013-12")
    True
    >>> crosses_break("2013Q1", "2014Q1", break_month="2013-12")
    True
    >>> crosses_break("2014-01", "2014-03", break_month="2013-12")
    False
    """
    months = [*estimation.resolve_periods(period_a)[1], *estimation.resolve_periods(period_b)[1]]
    return min(months) < break_month <= max(months)


def year_on_year(
    series: pd.DataFrame,
    *,
    period: str,
    by: Sequence[str] | None = None,
    break_month: str | None = None,
) -> pd.DataFrame:
    """Year-on-year change of a monthly series, honest across the break.

    Parameters
    ----------
    series : DataFrame
        A :func:`bridged_series` (or a plain monthly series: ``period, by…, estimate``, optional
        ``indicator``). A quarter's level is the mean of its months.
    period : str
        The month or quarter compared with the same period a year earlier.
    break_month : str, optional
        The declared break; default the series' ``break_month`` column.

    Returns
    -------
    DataFrame
        ``by…, indicator, period_a, period_b, estimate_a, estimate_b, change, basis, note_zh``
        with ``basis`` one of ``same_design`` (both periods from one design), ``bridged`` (the
        earlier period adjusted by the bridge) or ``not_comparable`` (across the break without a
        bridge: ``change`` is NaN and ``note_zh`` says why).
    """
    by = list(by or [])
    label, months_b = estimation.resolve_periods(period)
    first = estimation._month_index(months_b[0])
    months_a = [estimation._month_label(estimation._month_index(m) - 12) for m in months_b]
    label_a = (
        f"{first // 12 - 1}Q{first % 12 // 3 + 1}"
        if label != months_b[0] and len(months_b) == 3
        else months_a[0]
        if len(months_a) == 1
        else f"{months_a[0]}~{months_a[-1]}"
    )
    d = series.copy()
    if "indicator" not in d.columns:
        d["indicator"] = ""
    if break_month is None and "break_month" in d.columns and d["break_month"].notna().any():
        break_month = str(d["break_month"].dropna().iloc[0])
    keys = [*by, "indicator"]

    def level_of(ms: list[str]) -> pd.DataFrame:
        sub = d[d["period"].isin(ms)]
        agg = {"estimate": ("estimate", "mean"), "n": ("period", "nunique")}
        if "adjusted" in sub.columns:
            agg["adjusted"] = ("adjusted", "max")
        if "source" in sub.columns:
            agg["old"] = ("source", lambda s: bool((s == "old_panel").any()))
        return sub.groupby(keys, dropna=False).agg(**agg).reset_index()

    a, b = level_of(months_a), level_of(months_b)
    out = b.merge(a, on=keys, how="outer", suffixes=("_b", "_a"))
    out.loc[out["n_a"] < len(months_a), "estimate_a"] = np.nan
    out.loc[out["n_b"] < len(months_b), "estimate_b"] = np.nan
    crossing = break_month is not None and crosses_break(
        months_a[0], months_b[-1], break_month=break_month
    )
    bridged = (
        out["adjusted_a"].fillna(False).astype(bool)
        if "adjusted_a" in out.columns
        else pd.Series(False, index=out.index)
    )
    if not crossing:
        basis = np.full(len(out), "same_design", dtype=object)
    else:
        basis = np.where(bridged, "bridged", "not_comparable").astype(object)
    out["basis"] = basis
    out["change"] = np.where(
        out["basis"] == "not_comparable", np.nan, out["estimate_b"] - out["estimate_a"]
    )
    notes = {
        "same_design": "",
        "bridged": (
            f"上年同期({label_a})来自扩面前的原监测企业,已按重叠月份估计的口径差异衔接"
            f"(断点 {break_month});同比变化含衔接误差。"
        ),
        "not_comparable": (
            f"上年同期({label_a})来自扩面前的原监测企业,与 {break_month} 起的新样本"
            "口径不同且未衔接,不能直接同比;请使用衔接后的序列。"
        ),
    }
    out["note_zh"] = out["basis"].map(notes)
    out["period_a"], out["period_b"] = label_a, label
    cols = [
        *by,
        "indicator",
        "period_a",
        "period_b",
        "estimate_a",
        "estimate_b",
        "change",
        "basis",
        "note_zh",
    ]
    return out[cols].reset_index(drop=True)


def forecast_input(
    series: pd.DataFrame, *, indicator: str | None = None, by_value: dict[str, Any] | None = None
) -> pd.Series:
    """The series the forecasts and the back-test should use across a break: the bridged
    estimates (old-panel months adjusted), indexed by month, so that the change of panel is not
    read as an economic shock.

    Parameters
    ----------
    series : DataFrame
        A :func:`bridged_series`.
    indicator : str, optional
        Required when the series holds several indicators.
    by_value : dict, optional
        The domain, e.g. ``{"city": "东莞"}``.
    """
    d = series
    if indicator is not None:
        d = d[d["indicator"] == indicator]
    elif "indicator" in d.columns and d["indicator"].nunique() > 1:
        raise InputError("the bridged series holds several indicators; pass indicator=...")
    for col, value in (by_value or {}).items():
        d = d[d[col] == value]
    if d["period"].duplicated().any():
        raise InputError(
            "the bridged series has several rows per month; pass by_value to pick one domain"
        )
    return pd.Series(
        d["estimate"].to_numpy(float), index=pd.Index(d["period"], name="period"), name="estimate"
    )


def include_trial(membership: pd.DataFrame) -> pd.DataFrame:
    """The membership with trial-reporting rows counted as ordinary rows (estimation leaves
    rows with ``entry_reason = "trial"`` out unless they are passed through here)."""
    if "entry_reason" not in membership.columns:
        return membership
    out = membership.copy()
    trial = out["entry_reason"].astype("string").eq(TRIAL_REASON).fillna(False).to_numpy(bool)
    out.loc[trial, "entry_reason"] = "trial_included"
    return out


# ------------------------------------------------------------------- from the panel of record
def designs_around_break(
    membership: pd.DataFrame, *, break_month: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two designs of a break as one-window sample lists, from the panel of record.

    ``old``: the rows in force in the month before ``break_month`` (trial rows and individual
    units left out); ``new``: the rows in force in ``break_month`` (individual units left out).
    Both without ``valid_from``/``valid_to``, ready for :func:`level_shift`.
    """
    if not _is_month(break_month):
        raise InputError(f"break_month {break_month!r} is not a month YYYY-MM")
    before = estimation._month_label(estimation._month_index(break_month) - 1)
    frm = membership["valid_from"].astype(str)
    to = membership["valid_to"].astype("string").fillna("9999-12").astype(str)
    indiv = (
        estimation._flag(membership["individual"])
        if "individual" in membership.columns
        else np.zeros(len(membership), dtype=bool)
    )
    trial = estimation._trial_mask(membership)

    def in_force(month: str, mask: np.ndarray) -> pd.DataFrame:
        rows = membership[(frm <= month).to_numpy() & (to >= month).to_numpy() & mask]
        return rows.drop(columns=["valid_from", "valid_to"]).reset_index(drop=True)

    old, new = in_force(before, ~indiv & ~trial), in_force(break_month, ~indiv)
    if old.empty or new.empty:
        raise InputError(
            f"the panel of record has no members in force in {before if old.empty else break_month}"
            f"; is {break_month} the first month of the new design?"
        )
    return old, new


def series_across_break(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    settings: BreakSettings,
    *,
    by: Sequence[str] | None = None,
    weight: str = "calibrated_weight",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The level shift and the bridged monthly series of a declared break, from the store's
    reports and panel of record (the entry point for the warning and the notebooks).

    Returns
    -------
    shift, series
        :func:`level_shift` over ``settings.overlap_months()`` and :func:`bridged_series` of the
        official monthly series (:func:`samplekit.estimation.monthly_series` on the membership:
        the old panel before the break, trial rows left out, the new design from it).
    """
    by = list(by or [])
    old, new = designs_around_break(membership, break_month=settings.month)
    shift = level_shift(
        reports,
        old=old,
        new=new,
        months=settings.overlap_months(),
        indicators=settings.indicators,
        by=by,
        weight=weight,
    )
    parts = [
        estimation.monthly_series(reports, membership, indicator=i, by=by, weight=weight).assign(
            indicator=i
        )
        for i in settings.indicators
    ]
    series = pd.concat(parts, ignore_index=True)
    bridged = bridged_series(
        series, series, shift, break_month=settings.month, method=settings.method, by=by
    )
    return shift, bridged


# ------------------------------------------------------------------------ the quarterly warning
#: Where a warning value comes from, as readers see it (tables, charts, notes).
PANEL_ZH: dict[str, str] = {
    "old_panel": "旧样本(3000家)",
    "new_design": "新样本(10000家)",
    "bridged": "衔接序列",
    "mixed": "旧样本与新样本(含断点月份)",
    "city": "城市指标表",
}
BASIS_ZH: dict[str, str] = {
    "same_design": "同口径",
    "bridged": "衔接后同比",
    "not_comparable": "跨断点不可比",
}
#: Months of a quarter's level per month of shift, by the indicator's quarterly aggregate: a
#: quarter's rate (reductions summed over the quarter / the first month's baseline) is about
#: the sum of its monthly rates, so an additive monthly shift δ moves it by 3δ.
_MONTHS_PER_SHIFT: dict[str, int] = {"sum": 3, "compound": 3, "mean": 1, "last": 1}


def quarter_source(quarter: str, *, break_month: str) -> Literal["old_panel", "new_design"]:
    """The design a quarterly estimate comes from: a run of months is estimated from the members
    in force in every month with **the rows in force at its first month**
    (:func:`samplekit.estimation.estimate`), so the quarter holding the break (2013Q4 for a
    break in 2013-12) is an old-panel estimate (its retained members, old weights).

    >>> quarter_source("2013Q4", break_month="2013-12")
    'old_panel'
    >>> quarter_source("2014Q1", break_month="2013-12")
    'new_design'
    """
    first = estimation.resolve_periods(quarter)[1][0]
    return "old_panel" if first < break_month else "new_design"


@dataclass(frozen=True)
class WarningBreak:
    """A declared break as the quarterly warning handles it (:func:`warning_break`).

    Attributes
    ----------
    settings : BreakSettings
    status : {"outside", "bridged", "no_overlap"}
        ``outside``: the break is not inside the months the warning compares (nothing to do);
        ``bridged``: the shift was estimated and the old panel's values are bridged;
        ``no_overlap``: the break is inside the window but no overlap month is available yet —
        comparisons across it are refused.
    overlap : tuple of str
        Overlap months used: those of ``settings`` up to the quarter's last month (a report
        never uses later months) that hold reports.
    shift : DataFrame
        :func:`level_shift` rows (each month and ``"overlap"``) with ``city`` (the province's
        rows carry the province's name).
    province : str
    """

    settings: BreakSettings
    status: Literal["outside", "bridged", "no_overlap"]
    overlap: tuple[str, ...] = ()
    shift: pd.DataFrame = field(default_factory=pd.DataFrame)
    province: str = ""

    @property
    def active(self) -> bool:
        """True when the break lies inside the warning's window (bridged or refused)."""
        return self.status != "outside"

    def pooled(self) -> pd.DataFrame:
        """The pooled (``"overlap"``) shift per city and indicator."""
        if self.shift.empty:
            return pd.DataFrame(columns=["city", "indicator", "shift", "se", "ratio", "ratio_se"])
        return self.shift[self.shift["period"] == POOLED].reset_index(drop=True)

    def note_zh(self) -> str:
        """One paragraph for reports: where the numbers come from and how they are joined."""
        s = self.settings
        head = (
            f"序列断点:{s.month[:4]}年{int(s.month[5:])}月起为扩面后新样本(10000家,按设计加权),"
            "此前为扩面前原监测企业(旧样本,约3000家,按登记名录校准加权)。"
        )
        if self.status == "outside":
            return head + "本期比较的季度均在断点同一侧,无需衔接。"
        if self.status == "no_overlap":
            return head + (
                "尚无两套样本同时报送的重叠月份,无法估计口径差异:跨断点的同比不可比,"
                "表中以“跨断点不可比”标明。"
            )
        p = self.pooled()
        prov = p[p["city"] == self.province]
        parts = []
        for rec in prov.itertuples(index=False):
            name = estimation.INDICATOR_NAMES_ZH.get(rec.indicator, rec.indicator)
            if s.method == "shift":
                parts.append(f"{name}差值{rec.shift:+.3f}(标准误{rec.se:.3f})")
            else:
                parts.append(f"{name}比率{rec.ratio:.3f}(标准误{rec.ratio_se:.3f})")
        months = f"{self.overlap[0]}至{self.overlap[-1]}" if self.overlap else ""
        return head + (
            f"按重叠月份({months},共{len(self.overlap)}个月)两套样本的估计之差"
            f"({METHOD_ZH[s.method]})把断点前的季度值调整到新样本口径(“衔接序列”),"
            "跨断点的同比用衔接序列计算,标准误含衔接误差。全省口径差异(新样本−旧样本,月度):"
            + ";".join(parts)
            + "。季度的数据来源按季度第一个月所用样本确定(含断点的季度按季初在册企业及其权数估计,"
            "属旧样本)。"
        )


def warning_break(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    settings: BreakSettings,
    *,
    province: str,
    first: str,
    end: str,
) -> WarningBreak:
    """Estimate the shift a quarterly warning needs for a declared break.

    Parameters
    ----------
    reports, membership : DataFrame
        The store's reports and panel of record (after the network filter).
    settings : BreakSettings
    province : str
        Name given to the province's rows (``city`` column).
    first, end : str
        First and last month the warning compares (its year-on-year window); only overlap
        months up to ``end`` are used, so a report for 2013Q4 uses October–December only.
    """
    if not first <= settings.month <= end:
        return WarningBreak(settings=settings, status="outside", province=province)
    have = set(reports["period"].astype(str))
    months = [m for m in settings.overlap_months() if m <= end and m in have]
    if not months:
        return WarningBreak(settings=settings, status="no_overlap", province=province)
    try:
        old, new = designs_around_break(membership, break_month=settings.month)
        kw = {"old": old, "new": new, "months": months, "indicators": settings.indicators}
        prov = level_shift(reports, **kw).assign(city=province)
        city = level_shift(reports, **kw, by=["city"])
    except InputError:
        return WarningBreak(settings=settings, status="no_overlap", province=province)
    shift = pd.concat([prov, city], ignore_index=True)
    shift = shift[["city", *[c for c in shift.columns if c != "city"]]]
    return WarningBreak(
        settings=settings, status="bridged", overlap=tuple(months), shift=shift, province=province
    )


def bridge_quarters(
    estimates: pd.DataFrame, brk: WarningBreak, *, aggregates: dict[str, str], level: float = 0.95
) -> pd.DataFrame:
    """Quarterly estimates with the old panel's quarters put on the new design's level.

    Parameters
    ----------
    estimates : DataFrame
        ``quarter, city, indicator, estimate, se, ci_low, ci_high, …`` (indicator = estimation
        column).
    brk : WarningBreak
    aggregates : dict
        Quarterly aggregate of each indicator (``sum``, ``compound``, ``mean``, ``last``): an
        additive monthly shift δ moves a quarter by 3δ for ``sum``/``compound`` (the quarter's
        rate ≈ the sum of its monthly rates), by δ otherwise; a ratio link multiplies it.

    Returns
    -------
    DataFrame
        ``estimates`` plus ``raw_estimate``, ``bridge_se`` (the part of the SE due to the
        estimated shift, signed for the ratio link so that two bridged quarters' covariance is
        ``bridge_se × bridge_se``) and ``source`` (``old_panel``, ``new_design`` or
        ``bridged``); ``se`` and the interval of a bridged quarter include the shift's error.
    """
    out = estimates.copy()
    out["raw_estimate"] = out["estimate"]
    out["bridge_se"] = 0.0
    if out.empty:
        return out.assign(source=pd.Series(dtype=object))
    month = brk.settings.month
    old = np.array([quarter_source(q, break_month=month) == "old_panel" for q in out["quarter"]])
    out["source"] = np.where(old, "old_panel", "new_design").astype(object)
    if brk.status != "bridged":
        return out
    p = brk.pooled()[["city", "indicator", "shift", "se", "ratio", "ratio_se"]]
    p = p.rename(columns={"se": "_dse"})
    m = out[["city", "indicator"]].merge(p, on=["city", "indicator"], how="left")
    ok = (
        old
        & m["shift"].notna().to_numpy()
        & out["indicator"].isin(brk.settings.indicators).to_numpy()
    )
    raw = out["estimate"].to_numpy(float)
    se = out["se"].to_numpy(float)
    if brk.settings.method == "shift":
        k = out["indicator"].map(lambda i: _MONTHS_PER_SHIFT.get(aggregates.get(i, "sum"), 1))
        k = k.to_numpy(float)
        adj, s_se, b_se = raw + k * m["shift"].to_numpy(float), se, k * m["_dse"].to_numpy(float)
    else:
        r = m["ratio"].to_numpy(float)
        adj, s_se, b_se = raw * r, np.abs(r) * se, raw * m["ratio_se"].to_numpy(float)
    z = stats.norm.ppf(0.5 + level / 2)
    tot = np.sqrt(s_se**2 + b_se**2)
    out["estimate"] = np.where(ok, adj, raw)
    out["se"] = np.where(ok, tot, se)
    out["bridge_se"] = np.where(ok, b_se, 0.0)
    out["ci_low"] = np.where(ok, adj - z * tot, out["ci_low"])
    out["ci_high"] = np.where(ok, adj + z * tot, out["ci_high"])
    out.loc[ok, "source"] = "bridged"
    return out


def bridge_monthly(
    monthly: pd.DataFrame, brk: WarningBreak, *, columns: dict[str, str]
) -> pd.DataFrame:
    """The warning's monthly input series with the months before the break bridged (the
    series the forecasts and the back-test should read, so the change of panel is not a shock).

    Parameters
    ----------
    monthly : DataFrame
        ``city, indicator, period, value`` (``warning.monthly_inputs``).
    columns : dict
        Estimation column of each warning indicator key (only these are bridged).

    Returns
    -------
    DataFrame
        ``city, indicator, period, value`` (bridged), ``raw_value``, ``source``
        (``old_panel``/``new_design``/``bridged``/``city``), ``source_zh``, ``series_break``.
    """
    out = monthly.copy()
    out["raw_value"] = out["value"]
    est = out["indicator"].isin(list(columns)).to_numpy()
    before = (out["period"].astype(str) < brk.settings.month).to_numpy()
    out["source"] = np.where(~est, "city", np.where(before, "old_panel", "new_design")).astype(
        object
    )
    if brk.status == "bridged" and len(out):
        p = brk.pooled().rename(columns={"indicator": "_col"})
        key = out[["city"]].assign(_col=out["indicator"].map(columns))
        m = key.merge(p[["city", "_col", "shift", "ratio"]], on=["city", "_col"], how="left")
        ok = est & before & m["shift"].notna().to_numpy()
        raw = out["value"].to_numpy(float)
        if brk.settings.method == "shift":
            adj = raw + m["shift"].to_numpy(float)
        else:
            adj = raw * m["ratio"].to_numpy(float)
        out["value"] = np.where(ok, adj, raw)
        out.loc[ok, "source"] = "bridged"
    out["source_zh"] = out["source"].map(PANEL_ZH)
    out["series_break"] = (out["period"].astype(str) == brk.settings.month).to_numpy()
    return out.reset_index(drop=True)


def value_sources(
    values: pd.DataFrame,
    brk: WarningBreak,
    *,
    kinds: dict[str, tuple[str, str]],
    quarter_sources: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which panel each warning value comes from, and year-on-year values that cannot be made.

    Parameters
    ----------
    values : DataFrame
        ``quarter, city, indicator, value, se, ci_low, ci_high, …`` after the transforms.
    kinds : dict
        Per indicator key ``(source, transform)``: source ``estimate``, ``city`` or
        ``mass_layoffs``; transform ``level``, ``yoy_diff`` or ``yoy_pct``.
    quarter_sources : DataFrame
        ``quarter, city, indicator (key), source`` of the quarterly values before the transform
        (:func:`bridge_quarters`' ``source``).

    Returns
    -------
    values, sources
        ``values`` with the year-on-year values across the break that have no bridge set to
        NaN (value, se, interval) — no level is judged on them; ``sources``: ``quarter, city,
        indicator, source, source_zh, basis, basis_zh, note_zh``.
    """
    month = brk.settings.month
    qs = quarter_sources.set_index(["quarter", "city", "indicator"])["source"]
    rows = []
    drop = np.zeros(len(values), dtype=bool)
    for i, rec in enumerate(values[["quarter", "city", "indicator"]].itertuples(index=False)):
        source, transform = kinds.get(rec.indicator, ("city", "level"))
        ly = str(pd.Period(rec.quarter, freq="Q") - 4)
        crossing = crosses_break(ly, rec.quarter, break_month=month)
        if source == "estimate":
            src = qs.get((rec.quarter, rec.city, rec.indicator), "new_design")
            src_ly = qs.get((ly, rec.city, rec.indicator), src)
            if transform == "level":
                basis = "same_design"
            elif (src == "new_design") == (src_ly == "new_design"):
                basis = "same_design"  # both quarters from one design (both bridged: shift cancels)
            elif "bridged" in (src, src_ly):
                basis = "bridged"
            else:
                basis = "not_comparable"
            # A change between two old-panel quarters is the old panel's (the shift cancels).
            shown = "old_panel" if transform != "level" and src == "bridged" else src
        elif source == "mass_layoffs":
            # A count of sample enterprises grows with the sample (3000 → 10000): no bridge.
            months = estimation.resolve_periods(rec.quarter)[1]
            shown = (
                "old_panel"
                if months[-1] < month
                else "new_design"
                if months[0] >= month
                else "mixed"  # the quarter holding the break counts members of both
            )
            basis = "not_comparable" if transform != "level" and crossing else "same_design"
        else:
            shown, basis = "city", "same_design"
        if transform != "level" and basis == "bridged":
            shown = "bridged"
        note = ""
        if basis == "bridged":
            note = f"上年同期({ly})来自旧样本,已按口径差异衔接后比较"
        elif basis == "not_comparable":
            note = (
                f"上年同期({ly})与本期分属断点({month})两侧的样本"
                + ("(企业数随样本扩大而增加)" if source == "mass_layoffs" else ",且无衔接")
                + ",不能直接同比"
            )
            drop[i] = True
        rows.append(
            {
                "quarter": rec.quarter,
                "city": rec.city,
                "indicator": rec.indicator,
                "source": shown,
                "source_zh": PANEL_ZH[shown],
                "basis": basis,
                "basis_zh": BASIS_ZH[basis],
                "note_zh": note,
            }
        )
    out = values.copy()
    for col in ("value", "se", "ci_low", "ci_high"):
        if col in out.columns:
            out.loc[drop, col] = np.nan
    cols = ["quarter", "city", "indicator", "source", "source_zh", "basis", "basis_zh", "note_zh"]
    return out, pd.DataFrame(rows, columns=cols)
