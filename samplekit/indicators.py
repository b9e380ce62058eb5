"""The city indicators table: monthly city inputs to the warning system, its validator and a
seeded demo generator.

One row per city (or the province, under its own name) and month:

| column | meaning |
|---|---|
| ``city`` | city name (or the province's name for a province row) |
| ``period`` | month ``YYYY-MM`` |
| ``registered_rate`` | 城镇登记失业率, %, end of month |
| ``ui_fund_months`` | 失业保险基金可支撑月数, months of benefits the fund balance covers |
| ``new_registered_unemployed`` | 新增登记失业人数, persons registered during the month |
| ``demand_supply_ratio`` | 求人倍率, vacancies ÷ job seekers at public employment agencies |

Indicator columns are optional ("where present"); at least one must be there. Every bad cell is
reported with its row and column.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import (
    PROBLEM_COLUMNS,
    ParamsError,
    ValidationError,
    problems_frame,
    summarize_problems,
)
from samplekit.io import read_table
from samplekit.params import Params
from samplekit.periods import MONTH_RE

#: column -> (Chinese header, unit, lower bound, upper bound, integer)
INDICATOR_COLUMNS: dict[str, tuple[str, str, float, float, bool]] = {
    "registered_rate": ("城镇登记失业率", "%", 0.0, 100.0, False),
    "ui_fund_months": ("失业保险基金可支撑月数", "月", 0.0, 1200.0, False),
    "new_registered_unemployed": ("新增登记失业人数", "人", 0.0, 1e8, True),
    "demand_supply_ratio": ("求人倍率", "", 0.0, 100.0, False),
}
KEY_COLUMNS: dict[str, str] = {"city": "城市", "period": "月份"}
HEADERS_ZH: dict[str, str] = {**KEY_COLUMNS, **{k: (f"{v[0]}({v[1]})" if v[1] else v[0])
                                                 for k, v in INDICATOR_COLUMNS.items()}}


def validate_city_indicators(raw: pd.DataFrame, *, cities: Iterable[str] | None = None,
                             file: str = "<city indicators>") -> pd.DataFrame:
    """Validate a city indicators table; return it typed and sorted, or raise naming every cell.

    Parameters
    ----------
    raw : DataFrame
        Cells as read (strings); English keys or the Chinese headers of :data:`HEADERS_ZH`.
    cities : iterable of str, optional
        Allowed names in ``city`` (the city table's cities plus the province's name).
    file : str
        Name used in problem messages.

    Returns
    -------
    DataFrame with ``city, period`` and the indicator columns present (floats; NaN for empty
    cells, which are allowed: an indicator may be missing for some months).

    Raises
    ------
    ValidationError
        Problems: missing key columns or no indicator column; empty or unknown city; period not
        ``YYYY-MM``; duplicate city-period; non-numeric, negative or out-of-range values;
        non-integer counts.
    """
    aliases = {}
    for key, zh in HEADERS_ZH.items():
        aliases[zh] = key
    for key, (zh, *_rest) in INDICATOR_COLUMNS.items():
        aliases[zh] = key
    aliases.update({v: k for k, v in KEY_COLUMNS.items()})
    df = raw.rename(columns=lambda c: aliases.get(str(c).strip(), str(c).strip()))
    rows: list[dict[str, Any]] = []

    def add(row: int | None, column: str, value: Any, rule: str, message: str) -> None:
        rows.append({"severity": "error", "file": file, "row": row, "column": column,
                     "value": "" if value is None or (isinstance(value, float) and np.isnan(value))
                     else str(value), "rule": rule, "message": message})

    for col, zh in KEY_COLUMNS.items():
        if col not in df.columns:
            add(None, col, None, "missing_column", f"required column '{col}' ({zh}) not found")
    present = [c for c in INDICATOR_COLUMNS if c in df.columns]
    if not present:
        add(None, "registered_rate", None, "no_indicator",
            "no indicator column found; expected at least one of "
            + ", ".join(f"{k} ({v[0]})" for k, v in INDICATOR_COLUMNS.items()))
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(f"{file}: city indicators table has the wrong columns\n"
                              + summarize_problems(probs), probs)
    df = df.reset_index(drop=True)
    allowed = set(cities) if cities is not None else None
    out = pd.DataFrame({
        "city": df["city"].astype("string").str.strip(),
        "period": df["period"].astype("string").str.strip(),
    })
    for i, v in out["city"].items():
        if pd.isna(v) or v == "":
            add(i + 2, "city", v, "required", "city name is empty")
        elif allowed is not None and v not in allowed:
            add(i + 2, "city", v, "unknown_city",
                "not a city of the city table nor the province; check the spelling")
    for i, v in out["period"].items():
        if pd.isna(v) or not MONTH_RE.match(str(v)):
            add(i + 2, "period", v, "period_format", "period must be a month like 2013-07")
    dup = out.duplicated(["city", "period"], keep=False).to_numpy()
    for i in np.flatnonzero(dup):
        add(i + 2, "period", out["period"].iloc[i], "duplicate",
            f"city {out['city'].iloc[i]} has this month twice; keep one row per city and month")
    for col in present:
        zh, unit, low, high, integer = INDICATOR_COLUMNS[col]
        text = df[col].astype("string").str.strip()
        num = pd.to_numeric(text, errors="coerce")
        bad = (num.isna() & text.notna() & (text != "")).to_numpy()
        for i in np.flatnonzero(bad):
            add(i + 2, col, df[col].iloc[i], "not_numeric", f"{zh} must be a number ({unit})")
        out_of_range = ((num < low) | (num > high)).fillna(False).to_numpy()
        for i in np.flatnonzero(out_of_range):
            add(i + 2, col, df[col].iloc[i], "range", f"{zh} must lie in [{low:g}, {high:g}]")
        if integer:
            frac = ((num - np.round(num)).abs() > 1e-9).fillna(False).to_numpy()
            for i in np.flatnonzero(frac):
                add(i + 2, col, df[col].iloc[i], "integer", f"{zh} is a count of persons")
        out[col] = num.astype("float64")
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(f"{file}: {len(probs)} problem(s) in the city indicators table\n"
                              + summarize_problems(probs), probs)
    out["city"] = out["city"].astype(str)
    out["period"] = out["period"].astype(str)
    return out.sort_values(["city", "period"], kind="stable").reset_index(drop=True)


def load_city_indicators(path: str | os.PathLike[str], *, cities: Iterable[str] | None = None
                         ) -> pd.DataFrame:
    """Read (CSV UTF-8/GBK, XLSX) and validate a city indicators file."""
    return validate_city_indicators(read_table(path), cities=cities, file=Path(path).name)


# --------------------------------------------------------------------------------- demo
def months(start: str, end: str) -> list[str]:
    """Months ``YYYY-MM`` from ``start`` to ``end`` inclusive."""
    return [str(p) for p in pd.period_range(start, end, freq="M")]


def demo_shock(params: Params) -> dict[str, Any]:
    """The demo shock (cities, start, end) from ``monthly.demo.shock``.

    Falls back to the documented default (东莞, 深圳, 佛山, 中山, 2013-07 … 2013-12) when the monthly
    section does not set it, so the city indicators follow the same episode as the reports;
    ``shock: null`` there disables it here too.
    """
    demo = params.get("monthly.demo", {})
    if isinstance(demo, Mapping) and "shock" in demo and demo["shock"] is None:
        return {"cities": [], "start": "2013-07", "end": "2013-12", "enabled": False}
    shock = params.get("monthly.demo.shock", {})
    if not isinstance(shock, Mapping):
        raise ParamsError(f"{params.path}: 'monthly.demo.shock' must be a mapping")
    cities = shock.get("cities", ["东莞", "深圳", "佛山", "中山"])
    start = str(shock.get("start", "2013-07"))
    end = str(shock.get("end", "2013-12"))
    for key, value in (("start", start), ("end", end)):
        if not MONTH_RE.match(value):
            raise ParamsError(f"{params.path}: 'monthly.demo.shock.{key}' = {value!r} "
                              "must be a month like \"2013-07\"")
    return {"cities": [str(c) for c in cities], "start": start, "end": end,
            "enabled": bool(shock.get("enabled", True))}


def demo_city_indicators(cities: pd.DataFrame, *, province: str, start: str = "2010-01",
                         end: str = "2013-12", shock: Mapping[str, Any] | None = None,
                         city_reports: pd.DataFrame | None = None,
                         rng: np.random.Generator | int | None = None) -> pd.DataFrame:
    """A seeded synthetic city indicators table that follows the demo shock.

    Each city gets a stable level with seasonality (the Spring Festival: more newly registered
    unemployed and a higher demand/supply ratio in February–March) and noise. During the shock
    months in the shocked cities the registered rate and new registrations rise, the fund's months
    of cover fall (more claims) and the demand/supply ratio falls, ramping up over the episode.
    The province row is the employment-weighted mean (sum for counts) of the cities.

    Parameters
    ----------
    cities : DataFrame
        The city table (``city`` and, for weights and sizes, ``employed``).
    province : str
        Name written in ``city`` for the province rows.
    start, end : str
        First and last month.
    shock : mapping, optional
        ``cities``, ``start``, ``end`` (see :func:`demo_shock`); None = no shock.
    city_reports : DataFrame, optional
        The monthly city table from the store (``city, period, registered_rate_end``); when given,
        its registered rates replace the generated ones so both sources agree.
    rng : Generator, int or None

    Returns
    -------
    DataFrame valid under :func:`validate_city_indicators`.
    """
    rng = np.random.default_rng(rng)
    periods = months(start, end)
    month_no = np.array([int(p[5:]) for p in periods])
    idx = pd.PeriodIndex(periods, freq="M")
    n = len(periods)
    names = cities["city"].astype(str).tolist()
    employed = (pd.to_numeric(cities["employed"], errors="coerce").fillna(100.0).to_numpy()
                if "employed" in cities else np.full(len(names), 100.0))
    ramp = np.zeros(n)
    shocked: set[str] = set()
    if shock is not None and shock.get("enabled", True):
        s0, s1 = pd.Period(shock["start"], "M"), pd.Period(shock["end"], "M")
        inside = (idx >= s0) & (idx <= s1)
        length = max(int((s1 - s0).n) + 1, 1)
        # Linear ramp over the episode: 1/len in the first month up to 1 in the last.
        ramp[inside] = (np.arange(inside.sum()) + 1) / length
        shocked = set(shock["cities"])
    spring = np.isin(month_no, (2, 3)).astype(float)
    rows = []
    for j, city in enumerate(names):
        hit = ramp if city in shocked else np.zeros(n)
        base_rate = rng.uniform(2.2, 2.9)
        rate = (base_rate + 0.08 * spring - 0.03 * np.arange(n) / 12
                + _ar1(rng, n, 0.6, 0.03) + 1.0 * hit)
        fund = rng.uniform(22.0, 36.0) + _ar1(rng, n, 0.8, 0.4) - 9.0 * hit
        base_new = max(employed[j], 10.0) * 1.6  # persons per month per 10k employed
        expected = base_new * (1 + 0.35 * spring + 0.02 * np.arange(n) / 12) * (1 + 0.8 * hit)
        new = rng.poisson(expected).astype(float)
        ratio = (rng.uniform(1.12, 1.30) + 0.10 * spring + _ar1(rng, n, 0.5, 0.02)
                 - 0.35 * hit)
        rows.append(pd.DataFrame({
            "city": city, "period": periods, "registered_rate": np.round(rate, 2),
            "ui_fund_months": np.round(fund, 1), "new_registered_unemployed": new,
            "demand_supply_ratio": np.round(ratio, 2), "_w": employed[j],
        }))
    df = pd.concat(rows, ignore_index=True)
    if city_reports is not None and len(city_reports):
        rep = city_reports[["city", "period", "registered_rate_end"]].dropna()
        df = df.merge(rep, on=["city", "period"], how="left")
        have = df["registered_rate_end"].notna()
        df.loc[have, "registered_rate"] = df.loc[have, "registered_rate_end"].astype(float).round(2)
        df = df.drop(columns="registered_rate_end")
    prov = df.groupby("period", sort=True).apply(_province_row, include_groups=False)
    prov = prov.reset_index().assign(city=province)
    out = pd.concat([df.drop(columns="_w"), prov[df.columns.drop("_w")]], ignore_index=True)
    return out.sort_values(["city", "period"], kind="stable").reset_index(drop=True)


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    e = rng.normal(0.0, sd, n)
    x = np.empty(n)
    x[0] = e[0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _province_row(g: pd.DataFrame) -> pd.Series:
    w = g["_w"].to_numpy()
    return pd.Series({
        "registered_rate": round(float(np.average(g["registered_rate"], weights=w)), 2),
        "ui_fund_months": round(float(np.average(g["ui_fund_months"], weights=w)), 1),
        "new_registered_unemployed": float(g["new_registered_unemployed"].sum()),
        "demand_supply_ratio": round(float(np.average(g["demand_supply_ratio"], weights=w)), 2),
    })


def city_indicators_for(params: Params, cities: pd.DataFrame, *,
                        city_reports: pd.DataFrame | None = None) -> pd.DataFrame:
    """The city indicators table of a job: ``warning.city_indicators`` if set, else the demo.

    The demo table covers ``monthly.demo.start/end`` (default 2010-01 … 2013-12), follows
    :func:`demo_shock` and is seeded from the params ``seed``.
    """
    province = str(params.get("province.name", "全省"))
    path = params.path_of("warning.city_indicators", None)
    allowed = [*cities["city"].astype(str), province]
    if path is not None:
        return load_city_indicators(path, cities=allowed)
    start = str(params.get("monthly.demo.start", "2010-01"))
    end = str(params.get("monthly.demo.end", "2013-12"))
    seed = int(params.get("seed", 0, types=int)) + 606
    table = demo_city_indicators(cities, province=province, start=start, end=end,
                                 shock=demo_shock(params), city_reports=city_reports, rng=seed)
    return validate_city_indicators(table, cities=allowed, file="demo city indicators")
