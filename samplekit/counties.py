"""The third level of government: counties (县/区) under their cities.

Seed 003 asks for three-level warning lines (province, city, county) and seed 001 for the
cities to re-deploy their monitoring task to their counties ("各市将监测任务在县(区)进行再部署").
This module re-apportions each city's sample allocation to its counties (by the same
:func:`samplekit.apportion.apportion` machinery, or by given county totals), estimates the
warning indicators by county from a membership with a ``county`` column and judges them against
county lines, flagging domains too small to judge. Pure: DataFrames in, DataFrames out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from samplekit.apportion import apportion
from samplekit.errors import PROBLEM_COLUMNS, InputError, ValidationError, problems_frame
from samplekit.errors import summarize_problems as _summarize
from samplekit.warning import LEVEL_COLUMNS, WarningSettings, _transform_values, classify

if TYPE_CHECKING:
    from samplekit.forecast import ForecastSettings

COUNTY_HEADERS_ZH: dict[str, str] = {
    "city": "城市",
    "county": "县(区)",
    "weight": "分配权重",
    "total": "给定样本数",
    "n": "样本数",
}
#: 样本过少: shown in place of a level where a county domain is too small to judge or forecast.
SMALL_DOMAIN_ZH = "样本过少,不判断"
SMALL_DOMAIN_FORECAST_ZH = "样本过少,不预测"


def validate_counties(
    raw: pd.DataFrame, *, cities: Iterable[str], file: str = "<counties>"
) -> pd.DataFrame:
    """Validate a county table: ``city, county`` and ``weight`` (e.g. employed persons) and/or
    ``total`` (a given county sample size). Every bad cell is named with its row.

    Returns ``city, county, weight, total`` (floats, NaN where not given).
    """
    aliases = {v: k for k, v in COUNTY_HEADERS_ZH.items()}
    df = raw.rename(columns=lambda c: aliases.get(str(c).strip(), str(c).strip()))
    rows = []

    def add(row, column, value, rule, message):
        rows.append(
            {
                "severity": "error",
                "file": file,
                "row": row,
                "column": column,
                "value": "" if value is None else str(value),
                "rule": rule,
                "message": message,
            }
        )

    for col in ("city", "county"):
        if col not in df:
            add(None, col, None, "missing_column", f"required column '{col}' not found")
    if "weight" not in df and "total" not in df:
        add(None, "weight", None, "missing_column", "give 'weight' or 'total' (or both)")
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(
            f"{file}: county table has the wrong columns\n" + _summarize(probs), probs
        )
    allowed = set(cities)
    out = pd.DataFrame(
        {"city": df["city"].astype(str).str.strip(), "county": df["county"].astype(str).str.strip()}
    )
    for i, c in out["city"].items():
        if c not in allowed:
            add(i + 2, "city", c, "unknown_city", "not a city of the city table")
    for i in np.flatnonzero(out.duplicated(["city", "county"], keep=False).to_numpy()):
        add(i + 2, "county", out["county"].iloc[i], "duplicate", "county listed twice")
    for col in ("weight", "total"):
        if col not in df:
            out[col] = np.nan
            continue
        text = df[col].astype("string").str.strip()
        num = pd.to_numeric(text, errors="coerce")
        for i in np.flatnonzero((num.isna() & text.notna() & (text != "")).to_numpy()):
            add(i + 2, col, df[col].iloc[i], "not_numeric", f"{col} must be a number")
        for i in np.flatnonzero((num < 0).fillna(False).to_numpy()):
            add(i + 2, col, df[col].iloc[i], "range", f"{col} must be ≥ 0")
        if col == "total":
            frac = ((num - np.round(num)).abs() > 1e-9).fillna(False).to_numpy()
            for i in np.flatnonzero(frac):
                add(i + 2, col, df[col].iloc[i], "integer", "a sample size is a whole number")
        out[col] = num.astype(float)
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(
            f"{file}: {len(probs)} problem(s) in the county table\n" + _summarize(probs), probs
        )
    return out


def reapportion(
    allocation: pd.DataFrame,
    counties: pd.DataFrame,
    *,
    method: str = "largest_remainder",
    min_per_county: int = 0,
) -> pd.DataFrame:
    """Re-deploy each city's sample size to its counties.

    Parameters
    ----------
    allocation : DataFrame
        ``city, n`` (the city's allocated sample size).
    counties : DataFrame
        :func:`validate_counties` output. Where a city's counties all have ``total``, those
        are used and must add up to the city's ``n``; otherwise ``n`` is shared in proportion to
        ``weight`` by :func:`samplekit.apportion.apportion` (``method``) with at least
        ``min_per_county`` per county.

    Returns
    -------
    DataFrame ``city, county, weight, n, given`` (``given`` = from county totals).
    """
    parts = []
    n_by_city = allocation.set_index("city")["n"]
    for city, grp in counties.groupby("city", sort=True):
        if city not in n_by_city:
            raise InputError(f"county table: city {city} has no allocation")
        n = int(n_by_city[city])
        if grp["total"].notna().all():
            if int(grp["total"].sum()) != n:
                raise InputError(
                    f"county table: the county totals of {city} add up to "
                    f"{int(grp['total'].sum())}, the city's allocation is {n}"
                )
            shares, given = grp["total"].astype(int).to_numpy(), True
        else:
            if grp["weight"].isna().any():
                raise InputError(f"county table: {city} has counties without weight or total")
            shares = apportion(
                grp["weight"].to_numpy(),
                n,
                method=method,  # type: ignore[arg-type]
                lower=np.full(len(grp), min_per_county),
                labels=grp["county"].tolist(),
            )
            given = False
        parts.append(grp[["city", "county", "weight"]].assign(n=shares, given=given))
    cols = ["city", "county", "weight", "n", "given"]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def county_estimates(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    quarters: Sequence[str],
    *,
    indicators: Sequence[str],
    min_reporters: int = 5,
    level: float = 0.95,
) -> pd.DataFrame:
    """Design-based quarterly estimates by city and county (``estimation.estimate`` with
    ``by=["city", "county"]``; the membership must carry ``county``). Returns ``quarter, city,
    county, indicator, estimate, se, ci_low, ci_high, n_reporters, small_domain``."""
    from samplekit.estimation import estimate
    from samplekit.periods import quarter_months

    if "county" not in membership:
        raise InputError(
            "the membership has no 'county' column; add the optional county "
            "column to the register and the sample to judge counties"
        )
    period = reports["period"].astype(str)
    parts = []
    for q in quarters:
        months = quarter_months(q)
        if not set(months) <= set(period):
            continue
        est = estimate(
            reports[period.isin(months)],
            membership,
            periods=months,
            by=["city", "county"],
            indicators=list(indicators),
            min_reporters=min_reporters,
            level=level,
            out_of_sample="drop",
        )
        parts.append(est.assign(quarter=q))
    cols = [
        "quarter",
        "city",
        "county",
        "indicator",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n_reporters",
        "small_domain",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


#: The levels table of the third level: ``LEVEL_COLUMNS`` with the county in place of the scope.
COUNTY_LEVEL_COLUMNS: list[str] = [("county" if c == "scope" else c) for c in LEVEL_COLUMNS]


def county_levels(
    estimates: pd.DataFrame, settings: WarningSettings, *, quarter: str, level: float = 0.95
) -> pd.DataFrame:
    """County levels of the indicators whose ``scope`` includes ``county`` (design-based
    estimates), against ``county_lines`` (default the city lines), with the indicator's
    transform. A domain with fewer than ``min_reporters`` reporters (``small_domain``) is
    shown with its value but not judged: rank 0, status ``small_domain`` (样本过少,不判断)."""
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for ind in settings.indicators:
        if "county" not in ind.scope or ind.source != "estimate":
            continue
        e = estimates[estimates["indicator"] == ind.column].rename(columns={"estimate": "value"})
        e = e.assign(city=e["city"].astype(str) + "|" + e["county"].astype(str))
        small = e.set_index(["quarter", "city"])["small_domain"]
        v = _transform_values(e.drop(columns=["county", "indicator"]).copy(), ind.transform, z)
        v = v[v["quarter"] == quarter]
        lines = ind.county_lines or ind.lines
        for rec in v.itertuples(index=False):
            city, county = rec.city.split("|", 1)
            is_small = bool(small.get((rec.quarter, rec.city), False))
            if ind.transform != "level":  # the year-earlier quarter must be judgeable too
                prev = str(pd.Period(rec.quarter, freq="Q") - 4)
                is_small = is_small or bool(small.get((prev, rec.city), True))
            if is_small or not np.isfinite(rec.value):
                rank, status, line = 0, "small_domain", float(lines[0])
            else:
                rank, status, line = classify(float(rec.value), lines, ind.direction, ind.approach)
            rows.append(
                {
                    "quarter": rec.quarter,
                    "city": city,
                    "county": county,
                    "indicator": ind.key,
                    "indicator_name": ind.name,
                    "value": float(rec.value),
                    "se": rec.se,
                    "ci_low": rec.ci_low,
                    "ci_high": rec.ci_high,
                    "n_reporters": rec.n_reporters,
                    "small_domain": is_small,
                    "line": line,
                    "level": settings.level_code(rank),
                    "level_name": SMALL_DOMAIN_ZH
                    if status == "small_domain"
                    else settings.level_name(rank),
                    "rank": rank,
                    "status": status,
                }
            )
    out = pd.DataFrame(rows, columns=COUNTY_LEVEL_COLUMNS)
    return out.sort_values(["city", "county", "indicator"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------ forecasts
#: The county forecast level table (``county_forecast.csv``): the next quarter's forecast on
#: the indicator's warning scale, judged against the county lines, or flagged and not forecast.
COUNTY_FORECAST_COLUMNS: list[str] = [
    "target",
    "city",
    "county",
    "indicator",
    "indicator_name",
    "model",
    "forecast",
    "pi_low",
    "pi_high",
    "n_reporters",
    "judgeable_months",
    "small_domain",
    "line",
    "probability",
    "level",
    "level_name",
    "rank",
    "status",
]


def county_monthly(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    settings: WarningSettings,
    *,
    end: str,
) -> pd.DataFrame:
    """Monthly county series of the forecast indicators whose ``scope`` includes ``county``
    and whose source is the design-based estimate (``estimation.monthly_series`` with
    ``by=["city", "county"]``, each month from the members in force in it).

    Returns ``city, county, indicator, period, value, n_reporters, small_domain`` up to ``end``.
    """
    from samplekit.estimation import monthly_series

    if "county" not in membership:
        raise InputError(
            "the membership has no 'county' column; add the optional county "
            "column to the register and the sample to forecast counties"
        )
    rep = reports[reports["period"].astype(str) <= end]
    parts = []
    for ind in settings.indicators:
        if "county" not in ind.scope or ind.source != "estimate" or not ind.forecast:
            continue
        s = monthly_series(
            rep,
            membership,
            indicator=ind.column,
            by=["city", "county"],
            min_reporters=settings.min_reporters,
            out_of_sample="drop",
        )
        parts.append(s.rename(columns={"estimate": "value"}).assign(indicator=ind.key))
    cols = ["city", "county", "indicator", "period", "value", "n_reporters", "small_domain"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    return out.sort_values(["indicator", "city", "county", "period"], kind="stable").reset_index(
        drop=True
    )


def county_forecasts(
    monthly: pd.DataFrame, settings: WarningSettings, fsettings: ForecastSettings, *, end: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast every county series like a city's (``forecast.forecast_series``: the same
    candidates, rolling-origin choice, simulated paths and quarter transform) and judge the
    next quarter against the county lines (``county_lines``, default the city lines).

    A county is flagged ``small_domain`` and **not forecast** when its domain is too small:
    the last month ``end`` has fewer than ``settings.min_reporters`` reporters, or fewer than
    two seasons (``2 × season``, 24 months) are judgeable. Months with too few reporters are
    left out of the series (inner gaps interpolated, as for any series).

    Returns
    -------
    (forecasts, levels)
        ``forecasts``: ``forecast.FORECAST_COLUMNS`` with ``county`` after ``city`` (the
        monthly path and the quarter row of each forecast county); ``levels``:
        :data:`COUNTY_FORECAST_COLUMNS`, one row per county and indicator, sorted by city,
        county, indicator.
    """
    from samplekit.forecast import (
        FORECAST_COLUMNS,
        crossing_probabilities,
        forecast_series,
        forecast_table,
        quarter_values,
    )
    from samplekit.periods import quarter_label, quarter_months
    from samplekit.warning import _yoy_transform

    defs = {ind.key: ind for ind in settings.indicators}
    need = 2 * (fsettings.season or 12)
    f_parts, rows = [], []
    for (key, city, county), grp in monthly.groupby(["indicator", "city", "county"], sort=True):
        ind = defs[key]
        lines = ind.county_lines or ind.lines
        grp = grp[grp["period"].astype(str) <= end].set_index("period")
        ok = ~grp["small_domain"].astype(bool) & grp["value"].notna()
        last_n = int(grp["n_reporters"].get(end, 0) or 0) if end in grp.index else 0
        judgeable = int(ok.sum())
        row = {
            "city": city,
            "county": county,
            "indicator": key,
            "indicator_name": ind.name,
            "n_reporters": last_n,
            "judgeable_months": judgeable,
        }
        if end not in grp.index or not bool(ok.get(end, False)) or judgeable < need:
            q = quarter_label(str(pd.Period(end, freq="M") + 1))
            rows.append(
                {
                    **row,
                    "target": q,
                    "model": "",
                    "forecast": np.nan,
                    "pi_low": np.nan,
                    "pi_high": np.nan,
                    "small_domain": True,
                    "line": float(lines[0]),
                    "probability": np.nan,
                    "level": settings.level_code(0),
                    "level_name": SMALL_DOMAIN_FORECAST_ZH,
                    "rank": 0,
                    "status": "small_domain",
                }
            )
            continue
        series = grp["value"].where(ok).astype(float)
        fc = forecast_series(series, fsettings, key=f"{city}|{county}|{key}")
        months = [m for m in fc.periods if quarter_months(quarter_label(m))[0] == m]
        target = quarter_months(quarter_label(months[0])) if months else []
        transform = _yoy_transform(series.dropna(), target, ind) if target else None
        table = forecast_table(
            fc,
            city=city,
            indicator=key,
            aggregate=ind.aggregate,
            level=fsettings.level,
            transform=transform,
        )
        table.insert(1, "county", county)
        f_parts.append(table)
        qrow = table[table["kind"] == "quarter"]
        if not len(qrow):
            continue
        rec = qrow.iloc[0]
        rank, status, line = classify(float(rec["forecast"]), lines, ind.direction, ind.approach)
        _, _, draws = quarter_values(fc, ind.aggregate, transform)
        prob = crossing_probabilities(draws, [line], ind.direction)[0]
        rows.append(
            {
                **row,
                "target": rec["target"],
                "model": rec["model"],
                "forecast": float(rec["forecast"]),
                "pi_low": float(rec["pi_low"]),
                "pi_high": float(rec["pi_high"]),
                "small_domain": False,
                "line": line,
                "probability": prob,
                "level": settings.level_code(rank),
                "level_name": settings.level_name(rank),
                "rank": rank,
                "status": status,
            }
        )
    cols = [FORECAST_COLUMNS[0], "county", *FORECAST_COLUMNS[1:]]
    forecasts = (
        pd.concat(f_parts, ignore_index=True)[cols] if f_parts else pd.DataFrame(columns=cols)
    )
    levels = pd.DataFrame(rows, columns=COUNTY_FORECAST_COLUMNS)
    levels = levels.sort_values(["city", "county", "indicator"], kind="stable")
    return forecasts, levels.reset_index(drop=True)
