"""A seeded synthetic monthly history for the demo panel, written as files and ingested for real.

The generator (``docs/monthly.md``, "Demo history") evolves each enterprise's employment month by
month from its frame size (taken as the December 2009 baseline):

* trend: a per-enterprise drift, N(0.15 %, 0.2 %) a month;
* Spring Festival: a dip in the month of the lunar new year (January or February) and the return
  of migrant workers over the next one or two months (by 2013 March), deeper in manufacturing and
  construction;
* noise: N(0, σ) a month, σ smaller for larger enterprises;
* events: closure (employment to 0, and 0 afterwards — the demo panel reports throughout),
  suspension (a cut to 10–40 % for 1–4 months, then back), relocation out of the city (30–80 %
  leave), economic layoff (10–30 % cut, mostly "经济性裁员");
* a configurable shock (default: export-demand fall for export-heavy manufacturing in 东莞, 深圳,
  佛山, 中山, 2013-07 to 2013-12): extra monthly loss and more layoffs, reason code 4 订单不足.

Reduction types and reason codes follow the cause of each fall. A city table (registered
unemployed and rate at both period ends) moves with the shock. The files alternate layouts
(canonical UTF-8 CSV; the ministry's 附表一 in GBK CSV and in XLSX), a handful of rows carry
realistic errors, and one corrected resubmission follows; they go through
:func:`samplekit.store.ingest_file`, like a city's files would.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.io import write_csv, write_xlsx
from samplekit.reports import (
    CITY_HEADERS_ZH,
    REDUCTION_COLUMNS,
    change_pct,
    to_form,
)

#: Lunar new year (春节) dates 2008–2016: the month of the dip.
SPRING_FESTIVAL: dict[int, str] = {
    2008: "2008-02-07", 2009: "2009-01-26", 2010: "2010-02-14", 2011: "2011-02-03",
    2012: "2012-01-23", 2013: "2013-02-10", 2014: "2014-01-31", 2015: "2015-02-19",
    2016: "2016-02-08",
}

_DIP = {"C": 0.030, "E": 0.025}  # seasonal dip depth by section (others: _DIP_OTHER)
_DIP_OTHER = 0.008


@dataclass(frozen=True)
class ShockSettings:
    """An episode of extra job loss for some enterprises in some months."""

    cities: tuple[str, ...] = ("东莞", "深圳", "佛山", "中山")
    sections: tuple[str, ...] = ("C",)
    min_export_share: float = 0.3
    start: str = "2013-07"
    end: str = "2013-12"
    extra_loss: float = 0.03
    layoff_prob: float = 0.04


@dataclass(frozen=True)
class HistorySettings:
    """Settings of the demo history (``monthly.demo`` in params)."""

    start: str = "2010-01"
    end: str = "2013-12"
    seed: int = 20130627
    trend: float = 0.0015
    noise: float = 0.012
    closure_prob: float = 0.0004
    suspension_prob: float = 0.0008
    relocation_prob: float = 0.0003
    layoff_prob: float = 0.002
    individual_units: int = 40
    xlsx_periods: tuple[str, ...] = ("2012-06",)
    shock: ShockSettings | None = field(default_factory=ShockSettings)

    @classmethod
    def from_params(cls, params: Any) -> HistorySettings:
        """Read ``monthly.demo`` (keys as the attributes; ``shock: null`` disables the shock)."""
        d = cls(seed=int(params.get("seed", 20130627)))
        base = "monthly.demo"
        allowed = {"start", "end", "seed", "trend", "noise", "closure_prob", "suspension_prob",
                   "relocation_prob", "layoff_prob", "individual_units", "xlsx_periods", "shock"}
        sec = params.get(base, {}) or {}
        unknown = sorted(set(sec) - allowed)
        if unknown:
            from samplekit.errors import ParamsError

            raise ParamsError(f"{params.path}: unknown key(s) {', '.join(unknown)} in "
                              f"'{base}'; allowed: {', '.join(sorted(allowed))}")
        shock = d.shock
        if "shock" in sec:
            s = sec["shock"]
            if s is None:
                shock = None
            else:
                ds = ShockSettings()
                shock = ShockSettings(
                    cities=tuple(s.get("cities", ds.cities)),
                    sections=tuple(s.get("sections", ds.sections)),
                    min_export_share=float(s.get("min_export_share", ds.min_export_share)),
                    start=str(s.get("start", ds.start)), end=str(s.get("end", ds.end)),
                    extra_loss=float(s.get("extra_loss", ds.extra_loss)),
                    layoff_prob=float(s.get("layoff_prob", ds.layoff_prob)))
        num = {k: params.number(f"{base}.{k}", getattr(d, k), low=0) for k in (
            "trend", "noise", "closure_prob", "suspension_prob", "relocation_prob", "layoff_prob")}
        return cls(
            start=str(params.get(f"{base}.start", d.start)),
            end=str(params.get(f"{base}.end", d.end)),
            seed=int(params.get(f"{base}.seed", d.seed)),
            individual_units=int(params.number(f"{base}.individual_units", d.individual_units,
                                               low=0)),
            xlsx_periods=tuple(params.get(f"{base}.xlsx_periods", list(d.xlsx_periods))),
            shock=shock, **{k: float(v) for k, v in num.items()})


def months(start: str, end: str) -> list[str]:
    """Months from ``start`` to ``end`` inclusive (``YYYY-MM``)."""
    return [p.strftime("%Y-%m") for p in pd.period_range(start, end, freq="M")]


def seasonal_profile(periods: list[str]) -> np.ndarray:
    """Share of the Spring Festival dip applied in each month (−1 dip, positive = return)."""
    out = np.zeros(len(periods))
    for i, p in enumerate(periods):
        y, m = int(p[:4]), int(p[5:7])
        sf = SPRING_FESTIVAL.get(y)
        if sf is None:
            continue
        sf_month = int(sf[5:7])
        if m == sf_month:
            out[i] = -1.0
        elif sf_month == 1 and m in (2, 3):
            out[i] = 0.5
        elif sf_month == 2 and m == 3:
            out[i] = 0.8
        elif sf_month == 2 and m == 4:
            out[i] = 0.2
    return out


def individual_units(panel: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Urban individual economic organisations (城镇个体经济组织) for 附表三, in busy industries."""
    if n <= 0:
        return panel.iloc[0:0].assign(individual=pd.Series(dtype=bool))
    cities = panel["city"].value_counts().index[:5].tolist()
    sections = ["F", "H", "O"]  # wholesale & retail; hotels & catering; resident services
    names = {"F": "批发和零售业个体户", "H": "住宿和餐饮业个体户", "O": "居民服务业个体户"}
    rows = []
    for k in range(n):
        city = cities[k % len(cities)]
        sec = sections[(k // len(cities)) % len(sections)]
        rows.append({"enterprise_id": f"IND{k + 1:05d}", "name": f"{city}{names[sec]}{k + 1}",
                     "city": city, "section": sec, "size_class": "micro", "ownership": "private",
                     "registration_type": "", "employees": int(rng.integers(8, 60)),
                     "export_share": 0.0, "individual": True})
    return pd.DataFrame(rows)


def simulate_history(panel: pd.DataFrame, settings: HistorySettings | None = None, *,
                     cities: pd.DataFrame | None = None,
                     rng: np.random.Generator | int | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate the monthly reports of ``panel`` and the city table.

    Parameters
    ----------
    panel : DataFrame
        ``enterprise_id, city, section, employees`` (``export_share`` for the shock).
    settings : HistorySettings, optional
    cities : DataFrame, optional
        ``city, employed`` (10k persons) for the registered-unemployment rate; default: panel
        employment × 20 stands in for a city's employed persons.
    rng : Generator, int or None
        Default: ``settings.seed``.

    Returns
    -------
    (reports, city_reports)
        Both in the canonical layout, sorted by period then key; true values (no errors).

    Examples
    --------
    >>> reports, city = simulate_history(panel, HistorySettings(end="2010-12"))  # doctest: +SKIP
    """
    s = settings or HistorySettings()
    rng = np.random.default_rng(s.seed if rng is None else rng)
    periods = months(s.start, s.end)
    T, n = len(periods), len(panel)
    section = panel["section"].astype(str).to_numpy()
    city = panel["city"].astype(str).to_numpy()
    e0 = np.maximum(panel["employees"].to_numpy(dtype=float), 1.0)
    export = pd.to_numeric(panel.get("export_share", pd.Series(0.0, index=panel.index)),
                           errors="coerce").fillna(0).to_numpy()

    drift = rng.normal(s.trend, 0.002, n)
    sigma = s.noise * np.clip((e0 / 100.0) ** -0.25, 0.4, 1.6)
    dip = np.array([_DIP.get(x, _DIP_OTHER) for x in section]) * rng.uniform(0.3, 1.7, n)
    season = seasonal_profile(periods)
    if s.shock is not None:
        exposed = (np.isin(city, s.shock.cities) & np.isin(section, s.shock.sections)
                   & (export >= s.shock.min_export_share))
        shock_on = np.array([s.shock.start <= p <= s.shock.end for p in periods])
    else:
        exposed, shock_on = np.zeros(n, bool), np.zeros(T, bool)

    emp = np.zeros((T + 1, n))
    emp[0] = np.round(e0)
    closed = np.zeros(n, bool)
    susp_left = np.zeros(n, int)
    susp_level = np.zeros(n)
    kind = np.zeros((T, n), dtype=np.int8)  # 0 ordinary 1 closure 2 suspension 3 reloc 4 layoff
    shock_loss = np.zeros((T, n))
    for t in range(T):
        prev = emp[t]
        g = drift + rng.normal(0.0, sigma) + dip * season[t]
        hit = exposed & shock_on[t]
        extra = np.where(hit, s.shock.extra_loss * rng.uniform(0.5, 1.5, n) if s.shock else 0, 0)
        new = np.round(prev * np.exp(g - extra))
        shock_loss[t] = np.where(hit, np.maximum(prev - np.round(prev * np.exp(-extra)), 0), 0)
        u = rng.random((4, n))
        active = ~closed & (susp_left == 0)
        p_layoff = s.layoff_prob + np.where(hit, s.shock.layoff_prob if s.shock else 0, 0)
        ev_close = active & (u[0] < s.closure_prob) & (prev > 0)
        ev_susp = active & ~ev_close & (u[1] < s.suspension_prob) & (prev >= 10)
        ev_reloc = active & ~ev_close & ~ev_susp & (u[2] < s.relocation_prob) & (prev >= 10)
        ev_lay = active & ~ev_close & ~ev_susp & ~ev_reloc & (u[3] < p_layoff) & (prev >= 10)
        cut_lay = rng.uniform(0.10, 0.30, n)
        new = np.where(ev_lay, np.floor(prev * (1 - cut_lay)), new)
        new = np.where(ev_reloc, np.round(prev * (1 - rng.uniform(0.3, 0.8, n))), new)
        # Suspension: cut now, back to the pre-suspension level when it ends.
        ending = (susp_left == 1)
        new = np.where(ending, susp_level, new)
        still = susp_left > 1
        new = np.where(still, prev, new)
        susp_left = np.where(susp_left > 0, susp_left - 1, 0)
        new = np.where(ev_susp, np.round(prev * rng.uniform(0.1, 0.4, n)), new)
        susp_level = np.where(ev_susp, prev, susp_level)
        susp_left = np.where(ev_susp, rng.integers(1, 5, n), susp_left)
        new = np.where(ev_close | closed, 0, new)
        closed |= ev_close
        emp[t + 1] = np.maximum(new, 0)
        kind[t] = np.select([ev_close, ev_susp, ev_reloc, ev_lay], [1, 2, 3, 4], 0)

    base = emp[:-1].ravel()
    surv = emp[1:].ravel()
    chg = surv - base
    fall = np.where(chg < 0, -chg, 0)
    k = kind.ravel()
    hit_all = (exposed[None, :] & shock_on[:, None]).ravel()
    seasonal_dip = np.repeat(season < 0, n)
    red = {c: np.zeros(T * n) for c in REDUCTION_COLUMNS}
    red["reduction_closure"] = np.where(k == 1, fall, 0)
    red["reduction_suspension"] = np.where(k == 2, fall, 0)
    red["reduction_relocation"] = np.where(k == 3, fall, 0)
    lay_share = np.where(k == 4, 0.8, np.where(hit_all & (k == 0), rng.uniform(0.3, 0.7, T * n),
                                                  0.0))
    lay = np.where(np.isin(k, [0, 4]), np.round(fall * lay_share), 0)
    red["reduction_layoff"] = lay
    red["reduction_other"] = np.where(np.isin(k, [0, 4]), fall - lay, 0)
    r1, r2, r3 = _reasons(k, fall > 0, hit_all, seasonal_dip, rng)

    reports = pd.DataFrame({
        "enterprise_id": np.tile(panel["enterprise_id"].astype(str).to_numpy(), T),
        "period": np.repeat(periods, n),
        "baseline_employment": base.astype("int64"),
        "survey_employment": surv.astype("int64"),
        "change": chg.astype("int64"),
    })
    reports["change_pct"] = change_pct(reports["change"], reports["baseline_employment"])
    for c in REDUCTION_COLUMNS:
        reports[c] = pd.array(np.where(fall > 0, red[c], np.nan), dtype="Float64").round(
            ).astype("Int64")
        reports.loc[reports[c] == 0, c] = pd.NA
    reports["reason_1"] = pd.array(r1, dtype="Int64")
    reports["reason_2"] = pd.array(r2, dtype="Int64")
    reports["reason_3"] = pd.array(r3, dtype="Int64")
    reports["remark"] = pd.Series(np.where(k == 1, "关闭", np.where(k == 2, "停业整顿", "")),
                                  dtype="str").replace("", pd.NA)
    city_table = _city_table(panel, emp, shock_loss, periods, cities, rng)
    return reports.sort_values(["period", "enterprise_id"], kind="stable").reset_index(
        drop=True), city_table


def _reasons(kind: np.ndarray, fell: np.ndarray, shock: np.ndarray, seasonal: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to three distinct reason codes consistent with the cause of each fall."""
    m = len(kind)
    ordinary = np.array([11, 6, 7, 5, 1, 4, 8, 2])
    w = np.array([0.25, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05, 0.05])
    first = rng.choice(ordinary, size=m, p=w)
    second = rng.choice(ordinary, size=m, p=w)
    first = np.where(seasonal, 10, first)
    second = np.where(seasonal, 7, second)
    lay_first = rng.choice(np.array([1, 4, 8, 6, 2]), size=m)
    first = np.where(kind == 4, lay_first, first)
    first = np.where(kind == 1, 8, first)
    second = np.where(kind == 1, rng.choice(np.array([1, 4]), size=m), second)
    first = np.where(kind == 2, 3, first)
    second = np.where(kind == 2, 8, second)
    first = np.where(kind == 3, 6, first)
    second = np.where(kind == 3, 1, second)
    first = np.where(shock & np.isin(kind, [0, 4]), 4, first)
    second = np.where(shock & np.isin(kind, [0, 4]), rng.choice(np.array([9, 8]), size=m),
                      second)
    third = np.where(shock & np.isin(kind, [0, 4]) & (rng.random(m) < 0.5), 6, 0)
    count = rng.integers(1, 3, m)  # ordinary falls: one or two reasons
    count = np.where((kind > 0) | shock, 2, count)
    second = np.where((count >= 2) & (second != first), second, 0)
    third = np.where((second > 0) & (third != first) & (third != second), third, 0)
    na = ~fell
    return (np.where(na, np.nan, first), np.where(na | (second == 0), np.nan, second),
            np.where(na | (third == 0), np.nan, third))


def _city_table(panel: pd.DataFrame, emp: np.ndarray, shock_loss: np.ndarray,
                periods: list[str], cities: pd.DataFrame | None, rng: np.random.Generator
                ) -> pd.DataFrame:
    """Registered unemployed: mean-reverting noise around the starting level, pushed up by the
    shock's job loss in the city's panel (elasticity 8: the panel is a small part of the city)."""
    names = sorted(panel["city"].astype(str).unique())
    city = panel["city"].astype(str).to_numpy()
    idx = {c: np.flatnonzero(city == c) for c in names}
    if cities is not None and "employed" in cities.columns:
        employed = dict(zip(cities["city"], cities["employed"].astype(float) * 1e4, strict=False))
    else:
        employed = {}
    rows = []
    for c in names:
        e = employed.get(c, emp[0, idx[c]].sum() * 20.0)
        rate0 = rng.uniform(2.2, 2.7) / 100
        u = u0 = e * rate0 / (1 - rate0)
        base_emp = max(emp[0, idx[c]].sum(), 1.0)
        for t, p in enumerate(periods):
            loss = shock_loss[t, idx[c]].sum() / max(emp[t, idx[c]].sum(), base_emp * 0.1)
            u_new = u * np.exp(0.1 * np.log(u0 / u) + rng.normal(0.0, 0.006) + 8.0 * loss)
            rows.append((c, p, round(u), round(u_new), round(100 * u / (u + e), 2),
                         round(100 * u_new / (u_new + e), 2)))
            u = u_new
    from samplekit.reports import CITY_COLUMNS

    out = pd.DataFrame(rows, columns=CITY_COLUMNS)
    return out.sort_values(["period", "city"], kind="stable").reset_index(drop=True)


# --- files with errors, a resubmission, and the store ----------------------------------------

#: Months that get a few realistic errors, and the month that is resubmitted corrected.
ERROR_PERIODS: tuple[str, ...] = ("2010-05", "2011-03", "2011-09", "2012-04", "2012-10",
                                  "2013-08")
RESUBMITTED_PERIOD = "2013-08"


def _inject_errors(month: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list]:
    """Corrupt a few rows the way cities do; returns the bad month and the ids corrupted."""
    d = month.copy().reset_index(drop=True)
    fell = np.flatnonzero((d["change"] < 0).to_numpy() & (d["baseline_employment"] > 20).to_numpy())
    rose = np.flatnonzero((d["change"] > 0).to_numpy())
    pick = rng.choice(fell, size=4, replace=False)
    ids = d.loc[pick, "enterprise_id"].tolist()
    i0, i1, i2, i3 = pick
    d.loc[i0, "change"] = d.loc[i0, "change"] + 10  # change does not add up
    other = d.loc[i1, "reduction_other"]
    d.loc[i1, "reduction_other"] = (0 if pd.isna(other) else other) + 5  # types ≠ the fall
    d.loc[i2, "reason_1"] = 12  # code out of range
    d.loc[i3, "change_pct"] = -d.loc[i3, "change_pct"]  # sign lost
    j = rng.choice(rose)
    d.loc[j, "reduction_layoff"] = 3  # a type entered although employment rose
    ids.append(d.loc[j, "enterprise_id"])
    dup = d.iloc[[int(rng.integers(len(d)))]]
    ids.append(dup["enterprise_id"].iloc[0])
    typo = d.iloc[[int(rng.integers(len(d)))]].copy()
    typo["enterprise_id"] = typo["enterprise_id"].str[:-1] + "X"  # not in the panel
    d = pd.concat([d, dup, typo], ignore_index=True)
    return d, ids


def write_history_files(reports: pd.DataFrame, city_reports: pd.DataFrame,
                        panel: pd.DataFrame, out_dir: str | Path, *,
                        xlsx_periods: tuple[str, ...] = ("2012-06",),
                        rng: np.random.Generator | int | None = 0) -> list[Path]:
    """Write the history as monthly files in both layouts, with errors and one resubmission.

    Layouts: canonical UTF-8 CSV, except every third month as the ministry form in GBK CSV and
    ``xlsx_periods`` as the form in XLSX (title rows above the header, as cities send them).
    The city table goes in one file per year (canonical keys in even years, Chinese headers in
    odd). Returns the files in ingest order.
    """
    rng = np.random.default_rng(rng)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = panel.set_index("enterprise_id")["name"] if "name" in panel.columns else None
    paths: list[Path] = []
    periods = sorted(reports["period"].unique())
    years = sorted({p[:4] for p in periods})
    by_period = dict(tuple(reports.groupby("period", sort=True)))
    for y in years:
        ct = city_reports[city_reports["period"].str.startswith(y)]
        path = out / f"city_table_{y}.csv"
        if int(y) % 2:
            write_csv(ct.rename(columns=CITY_HEADERS_ZH), path)
        else:
            write_csv(ct, path, excel=False)
        paths.append(path)
    resub: pd.DataFrame | None = None
    for i, p in enumerate(periods):
        month = by_period[p].reset_index(drop=True)
        if p in ERROR_PERIODS:
            month, ids = _inject_errors(month, rng)
            if p == RESUBMITTED_PERIOD:
                true = by_period[p]
                fixed = true[true["enterprise_id"].isin(ids)]
                revised = true[(true["change"] < -5) & true["reduction_layoff"].isna()
                               & ~true["enterprise_id"].isin(ids)].head(3).copy()
                # Revision: part of "other" was in fact economic layoff (totals unchanged).
                moved = (revised["reduction_other"].fillna(0) // 2).astype("Int64")
                revised["reduction_layoff"] = moved.where(moved > 0)
                revised["reduction_other"] = (revised["reduction_other"] - moved).where(
                    lambda v: v > 0)
                resub = pd.concat([fixed, revised], ignore_index=True)
        if p in xlsx_periods:
            form = to_form(month, names=_names(month, names), reasons_in_one_cell=True)
            path = out / f"附表一_{p}.xlsx"
            write_xlsx({"附表一": form}, path,
                       titles={"附表一": f"监测城市就业人员变化情况表({p})"},
                       source="填报单位:人力资源和社会保障局")
        elif i % 3 == 1:
            form = to_form(month, names=_names(month, names), reasons_in_one_cell=True)
            path = out / f"附表一_{p}.csv"
            with open(path, "w", encoding="gbk", newline="") as fh:
                form.to_csv(fh, index=False, lineterminator="\n")
        else:
            path = out / f"reports_{p}.csv"
            write_csv(month, path, excel=False)
        paths.append(path)
        if resub is not None and p == RESUBMITTED_PERIOD:
            rpath = out / f"reports_{p}_更正.csv"
            write_csv(resub, rpath, excel=False)
            paths.append(rpath)
            resub = None
    return paths


def _names(month: pd.DataFrame, names: pd.Series | None) -> pd.Series:
    if names is None:
        return pd.Series([""] * len(month))
    return month["enterprise_id"].map(names).fillna("").reset_index(drop=True)


# --- the demo store ---------------------------------------------------------------------------

def demo_panel(params: Any) -> pd.DataFrame:
    """The demo panel: the selected sample (``selection.sample_for``) plus individual units."""
    from samplekit.selection import sample_for

    settings = HistorySettings.from_params(params)
    sample = sample_for(params).sample
    cols = ["enterprise_id", "name", "city", "section", "size_class", "ownership",
            "registration_type", "employees", "export_share"]
    panel = sample[cols].assign(individual=False)
    extra = individual_units(panel, settings.individual_units,
                             np.random.default_rng(settings.seed + 7))
    return pd.concat([panel, extra], ignore_index=True)


def build_demo_store(panel: pd.DataFrame, directory: str | Path, *,
                     settings: HistorySettings | None = None,
                     cities: pd.DataFrame | None = None) -> Path:
    """Simulate, write the files, load the panel and ingest every file into ``store.duckdb``."""
    from samplekit.store import ingest_files, load_panel

    s = settings or HistorySettings()
    d = Path(directory)
    reports, city = simulate_history(panel, s, cities=cities)
    files = write_history_files(reports, city, panel, d / "files", xlsx_periods=s.xlsx_periods,
                                rng=s.seed + 1)
    store = d / "store.duckdb"
    load_panel(store, panel)
    ingest_files(store, files)
    return store


#: What the demo store depends on: the params sections and the modules that compute it.
_CACHE_SECTIONS = ("seed", "province", "frame", "panel", "allocation", "selection", "monthly")
_CACHE_MODULES = ("history", "reports", "store", "selection", "calibration", "allocation",
                  "apportion", "demo", "classification", "frame", "cities")


def store_for(params: Any) -> Path:
    """The store named by ``monthly.store`` in params, or the demo store when it is null."""
    from samplekit.errors import InputError

    path = params.path_of("monthly.store", None)
    if path is None:
        return demo_store_for(params)
    if not path.exists():
        raise InputError(f"{params.path}: monthly.store = {path} does not exist; create it with "
                         f"`samplekit ingest FILE... --store {path}` or set it to null for the demo")
    return path


def demo_store_for(params: Any) -> Path:
    """The demo store for ``params`` (built once; cached by params digest and code version).

    Builds the demo history files (both layouts, some with errors, one resubmission) under
    ``samplekit.paths.cache_dir()`` and ingests them through the real ingest path.

    Returns
    -------
    Path
        The DuckDB store (``read_reports(path)`` etc.).
    """
    from samplekit.paths import cache_dir, cache_key

    final = cache_dir() / f"monthly_{cache_key(params, _CACHE_SECTIONS, _CACHE_MODULES)}"
    store = final / "store.duckdb"
    if store.exists():
        return store
    tmp = Path(tempfile.mkdtemp(prefix=".monthly_", dir=cache_dir()))
    try:
        from samplekit.cities import load_cities

        # The city table scales the registered-unemployment rate; the register is not needed.
        cities = load_cities(params.path_of("province.cities"))
        build_demo_store(demo_panel(params), tmp, settings=HistorySettings.from_params(params),
                         cities=cities)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first: use its store
            if not store.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return store
