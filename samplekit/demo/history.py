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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.io import write_csv, write_xlsx
from samplekit.periods import month_range
from samplekit.reports import (
    CITY_HEADERS_ZH,
    REDUCTION_COLUMNS,
    change_pct,
    to_form,
)

#: Lunar new year (春节) dates 2008–2016: the month of the dip.
SPRING_FESTIVAL: dict[int, str] = {
    2008: "2008-02-07",
    2009: "2009-01-26",
    2010: "2010-02-14",
    2011: "2011-02-03",
    2012: "2012-01-23",
    2013: "2013-02-10",
    2014: "2014-01-31",
    2015: "2015-02-19",
    2016: "2016-02-08",
}

_DIP = {"C": 0.030, "E": 0.025}  # seasonal dip depth by section (others: _DIP_OTHER)
_DIP_OTHER = 0.008

#: The 2013 expansion (seed 001): trial reporting 试行调整阶段 and full operation 运行推广阶段.
TRIAL_MONTHS: tuple[str, str] = ("2013-10", "2013-11")
EXPANSION_MONTH = "2013-12"
#: Default last month of the expansion history (the first quarters after it can be judged).
EXPANSION_END = "2014-06"


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
    #: The 2013 expansion as it happened (issue 16): the old 3000 panel to 2013-11, trial
    #: reporting of the new firms in 2013-10/11, the 10000 from 2013-12
    #: (:func:`simulate_expansion_history`). False: the 10000 report from the start.
    expansion: bool = False

    @classmethod
    def from_params(cls, params: Any) -> HistorySettings:
        """Read ``monthly.demo`` (keys as the attributes; ``shock: null`` disables the shock)."""
        d = cls(seed=int(params.get("seed", 20130627)))
        base = "monthly.demo"
        allowed = {
            "start",
            "end",
            "seed",
            "trend",
            "noise",
            "closure_prob",
            "suspension_prob",
            "relocation_prob",
            "layoff_prob",
            "individual_units",
            "xlsx_periods",
            "shock",
            "expansion",
        }
        sec = params.get(base, {}) or {}
        unknown = sorted(set(sec) - allowed)
        if unknown:
            from samplekit.errors import ParamsError

            raise ParamsError(
                f"{params.path}: unknown key(s) {', '.join(unknown)} in "
                f"'{base}'; allowed: {', '.join(sorted(allowed))}"
            )
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
                    start=str(s.get("start", ds.start)),
                    end=str(s.get("end", ds.end)),
                    extra_loss=float(s.get("extra_loss", ds.extra_loss)),
                    layoff_prob=float(s.get("layoff_prob", ds.layoff_prob)),
                )
        num = {
            k: params.number(f"{base}.{k}", getattr(d, k), low=0)
            for k in (
                "trend",
                "noise",
                "closure_prob",
                "suspension_prob",
                "relocation_prob",
                "layoff_prob",
            )
        }
        from samplekit.errors import ParamsError

        expansion = params.get(f"{base}.expansion", False)
        if not isinstance(expansion, bool):
            raise ParamsError(
                f"{params.path}: key '{base}.expansion' = {expansion!r} must be "
                "true or false (true: the 2013 expansion as it happened)"
            )
        end = str(params.get(f"{base}.end", EXPANSION_END if expansion else d.end))
        if expansion and not (
            str(params.get(f"{base}.start", d.start)) <= "2013-01" and end >= "2014-01"
        ):
            raise ParamsError(
                f"{params.path}: '{base}.expansion: true' needs a history from "
                f"2013-01 or earlier to 2014-01 or later (found "
                f"{params.get(f'{base}.start', d.start)}…{end}); e.g. "
                f'start: "2010-01", end: "{EXPANSION_END}"'
            )
        return cls(
            expansion=expansion,
            start=str(params.get(f"{base}.start", d.start)),
            end=end,
            seed=int(params.get(f"{base}.seed", d.seed)),
            individual_units=int(
                params.number(f"{base}.individual_units", d.individual_units, low=0)
            ),
            xlsx_periods=tuple(params.get(f"{base}.xlsx_periods", list(d.xlsx_periods))),
            shock=shock,
            **{k: float(v) for k, v in num.items()},
        )


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
        rows.append(
            {
                "enterprise_id": f"IND{k + 1:05d}",
                "name": f"{city}{names[sec]}{k + 1}",
                "city": city,
                "section": sec,
                "size_class": "micro",
                "ownership": "private",
                "registration_type": "",
                "employees": int(rng.integers(8, 60)),
                "export_share": 0.0,
                "individual": True,
            }
        )
    return pd.DataFrame(rows)


def simulate_history(
    panel: pd.DataFrame,
    settings: HistorySettings | None = None,
    *,
    cities: pd.DataFrame | None = None,
    rng: np.random.Generator | int | None = None,
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
    periods = month_range(s.start, s.end)
    run = _simulate_run(panel, periods, s, rng)
    reports = _reports_of(panel, periods, run, rng)
    names, e_sum, l_sum = _city_sums(panel, run)
    city_table = _city_table(names, e_sum, l_sum, e_sum[0], periods, cities, rng)
    return reports, city_table


@dataclass(frozen=True)
class _Run:
    """One simulated run of months for one panel (arrays: months × enterprises)."""

    emp: np.ndarray  # (T+1, n): employment at the start of each month, and at the end
    kind: np.ndarray  # (T, n): 0 ordinary 1 closure 2 suspension 3 relocation 4 layoff
    shock_loss: np.ndarray  # (T, n)
    exposed: np.ndarray
    shock_on: np.ndarray
    season: np.ndarray
    state: pd.DataFrame  # per enterprise_id, where the run ends (to continue it)


_STATE_COLUMNS = ["emp", "closed", "susp_left", "susp_level", "drift", "sigma", "dip"]


def _simulate_run(
    panel: pd.DataFrame,
    periods: list[str],
    s: HistorySettings,
    rng: np.random.Generator,
    state: pd.DataFrame | None = None,
) -> _Run:
    """Evolve the panel's employment over ``periods``.

    ``state`` (indexed by enterprise_id, ``_STATE_COLUMNS``) continues enterprises from where an
    earlier run ended (employment, closure, suspension, their own drift, noise and dip); the
    others start from their frame size with fresh draws.
    """
    T, n = len(periods), len(panel)
    section = panel["section"].astype(str).to_numpy()
    city = panel["city"].astype(str).to_numpy()
    e0 = np.maximum(panel["employees"].to_numpy(dtype=float), 1.0)
    export = (
        pd.to_numeric(panel.get("export_share", pd.Series(0.0, index=panel.index)), errors="coerce")
        .fillna(0)
        .to_numpy()
    )

    drift = rng.normal(s.trend, 0.002, n)
    sigma = s.noise * np.clip((e0 / 100.0) ** -0.25, 0.4, 1.6)
    dip = np.array([_DIP.get(x, _DIP_OTHER) for x in section]) * rng.uniform(0.3, 1.7, n)
    start = np.round(e0)
    closed = np.zeros(n, bool)
    susp_left = np.zeros(n, int)
    susp_level = np.zeros(n)
    if state is not None and len(state):
        pos = state.index.get_indexer(panel["enterprise_id"].astype(str))
        had = pos >= 0
        st = state.iloc[pos[had]]
        start[had] = st["emp"].to_numpy(dtype=float)
        closed[had] = st["closed"].to_numpy(dtype=bool)
        susp_left[had] = st["susp_left"].to_numpy(dtype=int)
        susp_level[had] = st["susp_level"].to_numpy(dtype=float)
        drift[had] = st["drift"].to_numpy(dtype=float)
        sigma[had] = st["sigma"].to_numpy(dtype=float)
        dip[had] = st["dip"].to_numpy(dtype=float)
    season = seasonal_profile(periods)
    if s.shock is not None:
        exposed = (
            np.isin(city, s.shock.cities)
            & np.isin(section, s.shock.sections)
            & (export >= s.shock.min_export_share)
        )
        shock_on = np.array([s.shock.start <= p <= s.shock.end for p in periods])
    else:
        exposed, shock_on = np.zeros(n, bool), np.zeros(T, bool)

    emp = np.zeros((T + 1, n))
    emp[0] = start
    kind = np.zeros((T, n), dtype=np.int8)
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
        ending = susp_left == 1
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
    end = pd.DataFrame(
        {
            "emp": emp[T],
            "closed": closed,
            "susp_left": susp_left,
            "susp_level": susp_level,
            "drift": drift,
            "sigma": sigma,
            "dip": dip,
        },
        index=pd.Index(panel["enterprise_id"].astype(str).to_numpy(), name="enterprise_id"),
    )
    return _Run(emp, kind, shock_loss, exposed, shock_on, season, end)


def _reports_of(
    panel: pd.DataFrame, periods: list[str], run: _Run, rng: np.random.Generator
) -> pd.DataFrame:
    """The canonical reports of a run: changes, reduction types and reasons by cause."""
    T, n = len(periods), len(panel)
    emp, kind, season = run.emp, run.kind, run.season
    base = emp[:-1].ravel()
    surv = emp[1:].ravel()
    chg = surv - base
    fall = np.where(chg < 0, -chg, 0)
    k = kind.ravel()
    hit_all = (run.exposed[None, :] & run.shock_on[:, None]).ravel()
    seasonal_dip = np.repeat(season < 0, n)
    red = {c: np.zeros(T * n) for c in REDUCTION_COLUMNS}
    red["reduction_closure"] = np.where(k == 1, fall, 0)
    red["reduction_suspension"] = np.where(k == 2, fall, 0)
    red["reduction_relocation"] = np.where(k == 3, fall, 0)
    lay_share = np.where(
        k == 4, 0.8, np.where(hit_all & (k == 0), rng.uniform(0.3, 0.7, T * n), 0.0)
    )
    lay = np.where(np.isin(k, [0, 4]), np.round(fall * lay_share), 0)
    red["reduction_layoff"] = lay
    red["reduction_other"] = np.where(np.isin(k, [0, 4]), fall - lay, 0)
    r1, r2, r3 = _reasons(k, fall > 0, hit_all, seasonal_dip, rng)

    reports = pd.DataFrame(
        {
            "enterprise_id": np.tile(panel["enterprise_id"].astype(str).to_numpy(), T),
            "period": np.repeat(periods, n),
            "baseline_employment": base.astype("int64"),
            "survey_employment": surv.astype("int64"),
            "change": chg.astype("int64"),
        }
    )
    reports["change_pct"] = change_pct(reports["change"], reports["baseline_employment"])
    for c in REDUCTION_COLUMNS:
        reports[c] = (
            pd.array(np.where(fall > 0, red[c], np.nan), dtype="Float64").round().astype("Int64")
        )
        reports.loc[reports[c] == 0, c] = pd.NA
    reports["reason_1"] = pd.array(r1, dtype="Int64")
    reports["reason_2"] = pd.array(r2, dtype="Int64")
    reports["reason_3"] = pd.array(r3, dtype="Int64")
    reports["remark"] = pd.Series(
        np.where(k == 1, "关闭", np.where(k == 2, "停业整顿", "")), dtype="str"
    ).replace("", pd.NA)
    return reports.sort_values(["period", "enterprise_id"], kind="stable").reset_index(drop=True)


def _city_sums(panel: pd.DataFrame, run: _Run) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per city: panel employment at the start of each month (T+1 × C) and shock loss (T × C)."""
    names = sorted(panel["city"].astype(str).unique())
    city = panel["city"].astype(str).to_numpy()
    code = pd.Index(names).get_indexer(city)

    def per_city(a: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(code, weights=row, minlength=len(names)) for row in a])

    return names, per_city(run.emp), per_city(run.shock_loss)


def _reasons(
    kind: np.ndarray,
    fell: np.ndarray,
    shock: np.ndarray,
    seasonal: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    second = np.where(shock & np.isin(kind, [0, 4]), rng.choice(np.array([9, 8]), size=m), second)
    third = np.where(shock & np.isin(kind, [0, 4]) & (rng.random(m) < 0.5), 6, 0)
    count = rng.integers(1, 3, m)  # ordinary falls: one or two reasons
    count = np.where((kind > 0) | shock, 2, count)
    second = np.where((count >= 2) & (second != first), second, 0)
    third = np.where((second > 0) & (third != first) & (third != second), third, 0)
    na = ~fell
    return (
        np.where(na, np.nan, first),
        np.where(na | (second == 0), np.nan, second),
        np.where(na | (third == 0), np.nan, third),
    )


def _city_table(
    names: list[str],
    emp: np.ndarray,
    shock_loss: np.ndarray,
    base: np.ndarray,
    periods: list[str],
    cities: pd.DataFrame | None,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Registered unemployed: mean-reverting noise around the starting level, pushed up by the
    shock's job loss in the city's panel (elasticity 8: the panel is a small part of the city).

    ``emp`` (T+1 × C) is the panel's employment per city at the start of each month, ``base``
    (C) at the start of the history, ``shock_loss`` (T × C) the shock's job loss.
    """
    if cities is not None and "employed" in cities.columns:
        employed = dict(zip(cities["city"], cities["employed"].astype(float) * 1e4, strict=False))
    else:
        employed = {}
    rows = []
    for j, c in enumerate(names):
        e = employed.get(c, base[j] * 20.0)
        rate0 = rng.uniform(2.2, 2.7) / 100
        u = u0 = e * rate0 / (1 - rate0)
        base_emp = max(base[j], 1.0)
        for t, p in enumerate(periods):
            loss = shock_loss[t, j] / max(emp[t, j], base_emp * 0.1)
            u_new = u * np.exp(0.1 * np.log(u0 / u) + rng.normal(0.0, 0.006) + 8.0 * loss)
            rows.append(
                (
                    c,
                    p,
                    round(u),
                    round(u_new),
                    round(100 * u / (u + e), 2),
                    round(100 * u_new / (u_new + e), 2),
                )
            )
            u = u_new
    from samplekit.reports import CITY_COLUMNS

    out = pd.DataFrame(rows, columns=CITY_COLUMNS)
    return out.sort_values(["period", "city"], kind="stable").reset_index(drop=True)


# --- files with errors, a resubmission, and the store ----------------------------------------

#: Months that get a few realistic errors, and the month that is resubmitted corrected.
ERROR_PERIODS: tuple[str, ...] = ("2010-05", "2011-03", "2011-09", "2012-04", "2012-10", "2013-08")
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


def write_history_files(
    reports: pd.DataFrame,
    city_reports: pd.DataFrame,
    panel: pd.DataFrame,
    out_dir: str | Path,
    *,
    xlsx_periods: tuple[str, ...] = ("2012-06",),
    rng: np.random.Generator | int | None = 0,
) -> list[Path]:
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
                revised = (
                    true[
                        (true["change"] < -5)
                        & true["reduction_layoff"].isna()
                        & ~true["enterprise_id"].isin(ids)
                    ]
                    .head(3)
                    .copy()
                )
                # Revision: part of "other" was in fact economic layoff (totals unchanged).
                moved = (revised["reduction_other"].fillna(0) // 2).astype("Int64")
                revised["reduction_layoff"] = moved.where(moved > 0)
                revised["reduction_other"] = (revised["reduction_other"] - moved).where(
                    lambda v: v > 0
                )
                resub = pd.concat([fixed, revised], ignore_index=True)
        if p in xlsx_periods:
            form = to_form(month, names=_names(month, names), reasons_in_one_cell=True)
            path = out / f"附表一_{p}.xlsx"
            write_xlsx(
                {"附表一": form},
                path,
                titles={"附表一": f"监测城市就业人员变化情况表({p})"},
                source="填报单位:人力资源和社会保障局",
            )
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


def demo_panel(sample: pd.DataFrame, settings: HistorySettings) -> pd.DataFrame:
    """The demo's first panel: the selected sample (with its weights and ``monthly`` network)
    plus the individual units (``individual = True``, no weights)."""
    panel = sample.drop(columns=[c for c in ("individual",) if c in sample.columns]).assign(
        individual=False
    )
    extra = individual_units(
        panel, settings.individual_units, np.random.default_rng(settings.seed + 7)
    )
    return pd.concat([panel, extra], ignore_index=True)


@dataclass(frozen=True)
class DemoWindow:
    """One window of the demo history: the panel in force from ``effective`` and its log."""

    kind: str
    window_month: str
    effective: str
    members: pd.DataFrame
    changes: pd.DataFrame | None
    exits: dict[str, str] | None = None  # enterprise_id -> exit_reason (when no change log)
    note: str = "demo history"


@dataclass(frozen=True)
class PanelHistory:
    """The demo history with its panel of record.

    ``windows`` in order (the first design, then each December window); ``reports`` and
    ``city_reports`` the true values (no errors); ``everyone`` one row per enterprise that was
    ever a member (names for the files).
    """

    windows: list[DemoWindow]
    reports: pd.DataFrame
    city_reports: pd.DataFrame
    everyone: pd.DataFrame


#: Share of the demo's closures that leave the register (bankrupt, deregistered).
BANKRUPT_SHARE = 0.5


def simulate_panel_history(
    panel: pd.DataFrame,
    frame: pd.DataFrame,
    selection: Any,
    settings: HistorySettings | None = None,
    *,
    cities: pd.DataFrame | None = None,
    windows: tuple[str, ...] | None = None,
) -> PanelHistory:
    """Simulate the demo year by year with a December window at the end of each year.

    Each year the members in force report (continuing members from where they were, new ones
    from their frame size). In each December window members that closed in the simulation are
    retired — half of them also left the register (bankrupt: ``not_in_frame``), the others are
    ``closed`` in it — and members that relocated are ``moved``; the real
    :func:`samplekit.maintenance.maintain` replaces them from their cell's reserves (PRN order)
    against the register with those statuses, and recomputes every weight. Individual units
    (``individual = True``) stay members throughout (not part of the design).

    Parameters
    ----------
    panel : DataFrame
        The first panel (:func:`demo_panel`: the design sample with weights plus individual
        units), in force from ``settings.start``.
    frame : DataFrame
        The classified register the design was selected from (``status`` etc.).
    selection : SelectionSettings
        The settings of the design (the PRN seed).
    settings : HistorySettings, optional
    cities : DataFrame, optional
    windows : tuple of str, optional
        Window months; default every December from the first year to ``settings.end``.

    Returns
    -------
    PanelHistory
    """
    from samplekit.maintenance import MaintenanceSettings, maintain
    from samplekit.panel import next_month, previous_month

    s = settings or HistorySettings()
    rng = np.random.default_rng(s.seed)
    periods = month_range(s.start, s.end)
    if windows is None:
        windows = tuple(
            f"{y}-12"
            for y in range(int(s.start[:4]), int(s.end[:4]) + 1)
            if s.start <= f"{y}-12" <= s.end
        )
    indiv = (
        panel["individual"].astype(bool).to_numpy()
        if "individual" in panel.columns
        else np.zeros(len(panel), bool)
    )
    individuals = panel[indiv].reset_index(drop=True)
    design = panel[~indiv].reset_index(drop=True)
    out = [
        DemoWindow("design", previous_month(s.start), s.start, panel.reset_index(drop=True), None)
    ]
    register = frame.copy()
    register["enterprise_id"] = register["enterprise_id"].astype(str)
    rule = MaintenanceSettings(retire_statuses=("closed", "moved"))
    state: pd.DataFrame | None = None
    parts: list[pd.DataFrame] = []
    sums: list[tuple[np.ndarray, np.ndarray]] = []
    everyone = [panel]
    names: list[str] | None = None
    base: np.ndarray | None = None
    edges = [s.start, *[next_month(w) for w in windows], next_month(s.end)]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        seg = [p for p in periods if lo <= p < hi]
        if not seg:
            continue
        members = pd.concat([design, individuals], ignore_index=True)
        run = _simulate_run(members, seg, s, rng, state)
        parts.append(_reports_of(members, seg, run, rng))
        n_city, e_sum, l_sum = _city_sums(members, run)
        if names is None:
            names, base = n_city, e_sum[0]
        sums.append((_align(e_sum[:-1], n_city, names), _align(l_sum, n_city, names)))
        state = (
            run.state
            if state is None
            else pd.concat([state[~state.index.isin(run.state.index)], run.state])
        )
        window = previous_month(hi)
        if window not in windows:
            continue
        # The register of the window: closures and relocations of the year are recorded.
        ids = members["enterprise_id"].astype(str).to_numpy()
        closed = run.state["closed"].to_numpy(dtype=bool) & ~indiv_of(members)
        moved = (run.kind == 3).any(axis=0) & ~closed & ~indiv_of(members)
        bankrupt = closed & (rng.random(len(ids)) < BANKRUPT_SHARE)
        status = register.set_index("enterprise_id")["status"].copy()
        status.loc[status.index.intersection(ids[closed & ~bankrupt])] = "closed"
        status.loc[status.index.intersection(ids[moved])] = "moved"
        register["status"] = status.to_numpy()
        register = register[~register["enterprise_id"].isin(ids[bankrupt])]
        result = maintain(design, register, selection, period=window, window=rule)
        design = result.selection.sample.assign(individual=False)
        new = pd.concat([design, individuals], ignore_index=True)
        out.append(DemoWindow("maintenance", window, next_month(window), new, result.changes))
        everyone.append(design)
    reports = (
        pd.concat(parts, ignore_index=True)
        .sort_values(["period", "enterprise_id"], kind="stable")
        .reset_index(drop=True)
    )
    e_all = np.vstack([e for e, _ in sums] + [np.zeros((1, len(names or [])))])
    l_all = np.vstack([x for _, x in sums])
    city = _city_table(names or [], e_all, l_all, base, periods, cities, rng)
    who = pd.concat(everyone, ignore_index=True).drop_duplicates("enterprise_id", keep="first")
    return PanelHistory(out, reports, city, who.reset_index(drop=True))


#: Panel columns of a window's members (sample-list layout) kept by the expansion history.
_PANEL_KEEP = [
    "enterprise_id",
    "name",
    "city",
    "section",
    "size_class",
    "ownership",
    "employees",
    "export_share",
    "registration_type",
    "division",
]


def old_panel_members(frame: pd.DataFrame) -> pd.DataFrame:
    """The purposive panel before the expansion: the register's ``in_panel`` enterprises, with
    the ministry's monthly network flag (``in_monthly``, 641 in the seed) as ``ministry``."""
    old = frame[frame["in_panel"].astype(bool).to_numpy()]
    keep = [c for c in _PANEL_KEEP if c in old.columns]
    out = old[keep].copy()
    out["enterprise_id"] = out["enterprise_id"].astype(str)
    out["ministry"] = (
        old["in_monthly"].astype(bool).to_numpy() if "in_monthly" in old.columns else False
    )
    out["entry_reason"] = "existing"
    out["individual"] = False
    return out.reset_index(drop=True)


def _weighted_old(members: pd.DataFrame, scope: pd.DataFrame) -> pd.DataFrame:
    """The old panel with calibrated weights (samplekit.bridge.old_panel_weights)."""
    from samplekit.bridge import old_panel_weights

    return old_panel_weights(members, scope)[0]


def _replace_closed(
    members: pd.DataFrame,
    closed_ids: np.ndarray,
    scope: pd.DataFrame,
    taken: set[str],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict]:
    """Replace closed members of the old panel by random active register firms of their
    stratum (the old panel's own December windows; no design, so no PRN order)."""
    strata = ["city", "section", "size_class", "ownership"]
    gone = members[members["enterprise_id"].isin(set(closed_ids))]
    stay = members[~members["enterprise_id"].isin(set(closed_ids))]
    pool = scope[(scope["status"] == "active") & ~scope["enterprise_id"].isin(taken)]
    pool = pool.assign(_key=rng.random(len(pool))).sort_values("_key", kind="stable")
    need = gone.groupby(strata, observed=True).size().rename("_need").reset_index()
    cand = pool.merge(need, on=strata)
    cand = cand[cand.groupby(strata, observed=True).cumcount() < cand["_need"]]
    keep = [c for c in _PANEL_KEEP if c in cand.columns]
    new = cand[keep].assign(ministry=False, entry_reason="replacement", individual=False)
    exits = dict.fromkeys(sorted(gone["enterprise_id"].astype(str)), "closed")
    return pd.concat([stay, new], ignore_index=True), exits


def simulate_expansion_history(
    panel: pd.DataFrame,
    frame: pd.DataFrame,
    selection: Any,
    settings: HistorySettings | None = None,
    *,
    cities: pd.DataFrame | None = None,
) -> PanelHistory:
    """The demo history of the 2013 expansion as it happened (issue 16, seed 001).

    * 2010-01 … 2013-11: the purposive panel of about 3000 (:func:`old_panel_members`),
      weighted by calibration to the register's margins each year
      (:func:`samplekit.bridge.old_panel_weights`), with its own December windows replacing the
      members that closed (random active firms of their stratum); the ministry's network is
      its 641 ``in_monthly`` members;
    * 2013-10 and 2013-11 (试行调整阶段): the new design's other members report on trial —
      membership rows with ``entry_reason = "trial"`` (estimation leaves them out unless asked,
      :func:`samplekit.bridge.include_trial`), the design's weights;
    * from 2013-12 (运行推广阶段): the new design ``panel`` (10000, its ~1000 ministry members),
      a forced window; old members it did not keep leave;
    * continuing to ``settings.end`` (default 2014-06).

    Enterprises continue from where they were (employment, closure, suspension) across windows.

    Parameters
    ----------
    panel : DataFrame
        The new design (:func:`demo_panel`: the selected sample plus individual units).
    frame : DataFrame
        The register (``in_panel``, ``in_monthly``, ``status``).
    selection : SelectionSettings
        Unused (kept for the signature of :func:`simulate_panel_history`).
    settings : HistorySettings, optional
    cities : DataFrame, optional

    Returns
    -------
    PanelHistory
    """
    from samplekit.panel import next_month, previous_month

    del selection
    s = settings or HistorySettings()
    if not (s.start <= "2013-01" and s.end >= EXPANSION_MONTH):
        raise ValueError(
            f"the expansion history needs start ≤ 2013-01 and end ≥ "
            f"{EXPANSION_MONTH}; got {s.start}…{s.end}"
        )
    rng = np.random.default_rng(s.seed)
    periods = month_range(s.start, s.end)
    register = frame.copy()
    register["enterprise_id"] = register["enterprise_id"].astype(str)
    # The population the new design covers (micro enterprises excluded), also for the old panel.
    scope = register[register["size_class"].astype(str) != "micro"].reset_index(drop=True)
    indiv = indiv_of(panel)
    individuals = panel[indiv].reset_index(drop=True)
    design_new = panel[~indiv].reset_index(drop=True)
    design_new = design_new.assign(enterprise_id=design_new["enterprise_id"].astype(str))
    old = _weighted_old(old_panel_members(register), scope)
    taken = set(old["enterprise_id"])
    out = [
        DemoWindow(
            "design",
            previous_month(s.start),
            s.start,
            pd.concat([old, individuals], ignore_index=True),
            None,
            note="扩面前原监测企业(目的抽样,按名录边际校准加权)",
        )
    ]
    edges = sorted(
        {
            s.start,
            *[f"{y}-01" for y in range(int(s.start[:4]) + 1, 2014)],
            TRIAL_MONTHS[0],
            EXPANSION_MONTH,
            next_month(s.end),
        }
    )
    edges = [e for e in edges if s.start <= e <= next_month(s.end)]
    state: pd.DataFrame | None = None
    parts: list[pd.DataFrame] = []
    sums: list[tuple[np.ndarray, np.ndarray]] = []
    everyone = [old, design_new]
    names: list[str] | None = None
    base: np.ndarray | None = None
    trial = pd.DataFrame()
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        seg = [p for p in periods if lo <= p < hi]
        if not seg:
            continue
        if lo >= EXPANSION_MONTH:
            members = pd.concat([design_new, individuals], ignore_index=True)
        else:
            members = pd.concat([old, trial, individuals], ignore_index=True)
        run = _simulate_run(members, seg, s, rng, state)
        parts.append(_reports_of(members, seg, run, rng))
        n_city, e_sum, l_sum = _city_sums(members, run)
        if names is None:
            names, base = n_city, e_sum[0]
        sums.append((_align(e_sum[:-1], n_city, names), _align(l_sum, n_city, names)))
        state = (
            run.state
            if state is None
            else pd.concat([state[~state.index.isin(run.state.index)], run.state])
        )
        window = previous_month(hi)
        if hi == next_month(s.end):
            break
        if hi == TRIAL_MONTHS[0]:
            # 试行调整阶段: the new design's other members report on trial.
            trial = design_new[~design_new["enterprise_id"].isin(set(old["enterprise_id"]))]
            trial = trial.assign(entry_reason="trial")
            out.append(
                DemoWindow(
                    "design",
                    window,
                    hi,
                    pd.concat([old, trial, individuals], ignore_index=True),
                    None,
                    note="扩面试填报(试行调整阶段,试填报企业不计入正式估计)",
                )
            )
            everyone.append(trial)
        elif hi == EXPANSION_MONTH:
            leavers = set(old["enterprise_id"]) - set(design_new["enterprise_id"])
            out.append(
                DemoWindow(
                    "design",
                    window,
                    hi,
                    panel.reset_index(drop=True),
                    None,
                    exits=dict.fromkeys(sorted(leavers), "ineligible"),
                    note="扩面至10000家正式运行(运行推广阶段)",
                )
            )
        elif hi[5:7] == "01" and hi < TRIAL_MONTHS[0]:
            # The old panel's December window: closed members replaced, weights recalibrated.
            ids = members["enterprise_id"].astype(str).to_numpy()
            closed = run.state["closed"].to_numpy(dtype=bool) & ~indiv_of(members)
            old, exits = _replace_closed(old, ids[closed], scope, taken, rng)
            taken |= set(old["enterprise_id"])
            old = _weighted_old(
                old.drop(
                    columns=["weight", "calibrated_weight", "cell_frame_units", "cell_n"],
                    errors="ignore",
                ),
                scope,
            )
            everyone.append(old)
            out.append(
                DemoWindow(
                    "maintenance",
                    window,
                    hi,
                    pd.concat([old, individuals], ignore_index=True),
                    None,
                    exits=exits,
                    note="原监测企业年度调整(关闭企业替换)",
                )
            )
    reports = (
        pd.concat(parts, ignore_index=True)
        .sort_values(["period", "enterprise_id"], kind="stable")
        .reset_index(drop=True)
    )
    e_all = np.vstack([e for e, _ in sums] + [np.zeros((1, len(names or [])))])
    l_all = np.vstack([x for _, x in sums])
    city = _city_table(names or [], e_all, l_all, base, periods, cities, rng)
    who = pd.concat([*everyone, individuals], ignore_index=True).drop_duplicates(
        "enterprise_id", keep="first"
    )
    return PanelHistory(out, reports, city, who.reset_index(drop=True))


def indiv_of(members: pd.DataFrame) -> np.ndarray:
    """The ``individual`` flag of a panel as a bool array (False when absent)."""
    if "individual" not in members.columns:
        return np.zeros(len(members), bool)
    return members["individual"].astype(bool).to_numpy()


def _align(values: np.ndarray, have: list[str], want: list[str]) -> np.ndarray:
    """Columns ``have`` reordered to ``want`` (a city that vanished counts 0)."""
    out = np.zeros((values.shape[0], len(want)))
    pos = pd.Index(have).get_indexer(want)
    out[:, pos >= 0] = values[:, pos[pos >= 0]]
    return out


def build_demo_store(
    panel: pd.DataFrame,
    directory: str | Path,
    *,
    settings: HistorySettings | None = None,
    cities: pd.DataFrame | None = None,
    frame: pd.DataFrame | None = None,
    selection: Any = None,
    network: Any = None,
) -> Path:
    """Simulate, write the files, write the panel of record and ingest every file.

    ``network`` (:class:`samplekit.demo.network.NetworkDemoSettings`): members of some cities
    that do not report in some months (漏报) are removed before the files are written.

    Without ``frame``/``selection`` the panel is one imported list in force throughout. With
    them (the demo) the history runs year by year with December windows
    (:func:`simulate_panel_history`): the store holds the first design and one maintenance
    window per December, and every report belongs to a member in force in its month. With
    ``settings.expansion`` the history is the 2013 expansion as it happened
    (:func:`simulate_expansion_history`).

    Returns
    -------
    Path
        ``directory/store.duckdb``.
    """
    from samplekit.store import ingest_files, load_panel, write_window

    s = settings or HistorySettings()
    d = Path(directory)
    store = d / "store.duckdb"
    if frame is None or selection is None:
        reports, city = simulate_history(panel, s, cities=cities)
        files = write_history_files(
            reports, city, panel, d / "files", xlsx_periods=s.xlsx_periods, rng=s.seed + 1
        )
        load_panel(store, panel)
    else:
        simulate = simulate_expansion_history if s.expansion else simulate_panel_history
        hist = simulate(panel, frame, selection, s, cities=cities)
        reports = hist.reports
        if network is not None:
            from samplekit.demo.network import drop_unreported

            reports, _ = drop_unreported(reports, hist.everyone, settings=network, rng=s.seed + 13)
        files = write_history_files(
            reports,
            hist.city_reports,
            hist.everyone,
            d / "files",
            xlsx_periods=s.xlsx_periods,
            rng=s.seed + 1,
        )
        for w in hist.windows:
            # The expansion's windows (trial from 2013-10, the new design from 2013-12) were
            # not December windows: recorded as forced.
            write_window(
                store,
                members=w.members,
                window_month=w.window_month,
                effective=w.effective,
                kind=w.kind,
                changes=w.changes,
                exits=w.exits,
                force=w.window_month[5:7] != "12",
                run_id=f"demo-{w.window_month}",
                note=w.note,
            )
    ingest_files(store, files)
    return store
