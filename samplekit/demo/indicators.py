"""A seeded synthetic city indicators table (registered unemployment, UI fund months of cover,
new registrations, demand/supply ratio) that follows the demo shock. Synthetic: labelled as such
wherever it is shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from samplekit.periods import month_range


def demo_city_indicators(
    cities: pd.DataFrame,
    *,
    province: str,
    start: str = "2010-01",
    end: str = "2013-12",
    shock: Mapping[str, Any] | None = None,
    city_reports: pd.DataFrame | None = None,
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
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
        ``cities``, ``start``, ``end`` of the demo shock (``monthly.demo.shock``); None = no shock.
    city_reports : DataFrame, optional
        The monthly city table from the store (``city, period, registered_rate_end``); when given,
        its registered rates replace the generated ones so both sources agree.
    rng : Generator, int or None

    Returns
    -------
    DataFrame valid under :func:`validate_city_indicators`.
    """
    rng = np.random.default_rng(rng)
    periods = month_range(start, end)
    month_no = np.array([int(p[5:]) for p in periods])
    idx = pd.PeriodIndex(periods, freq="M")
    n = len(periods)
    names = cities["city"].astype(str).tolist()
    employed = (
        pd.to_numeric(cities["employed"], errors="coerce").fillna(100.0).to_numpy()
        if "employed" in cities
        else np.full(len(names), 100.0)
    )
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
        rate = (
            base_rate
            + 0.08 * spring
            - 0.03 * np.arange(n) / 12
            + _ar1(rng, n, 0.6, 0.03)
            + 1.0 * hit
        )
        fund = rng.uniform(22.0, 36.0) + _ar1(rng, n, 0.8, 0.4) - 9.0 * hit
        base_new = max(employed[j], 10.0) * 1.6  # persons per month per 10k employed
        expected = base_new * (1 + 0.35 * spring + 0.02 * np.arange(n) / 12) * (1 + 0.8 * hit)
        new = rng.poisson(expected).astype(float)
        ratio = rng.uniform(1.12, 1.30) + 0.10 * spring + _ar1(rng, n, 0.5, 0.02) - 0.35 * hit
        rows.append(
            pd.DataFrame(
                {
                    "city": city,
                    "period": periods,
                    "registered_rate": np.round(rate, 2),
                    "ui_fund_months": np.round(fund, 1),
                    "new_registered_unemployed": new,
                    "demand_supply_ratio": np.round(ratio, 2),
                    "_w": employed[j],
                }
            )
        )
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
    return pd.Series(
        {
            "registered_rate": round(float(np.average(g["registered_rate"], weights=w)), 2),
            "ui_fund_months": round(float(np.average(g["ui_fund_months"], weights=w)), 1),
            "new_registered_unemployed": float(g["new_registered_unemployed"].sum()),
            "demand_supply_ratio": round(float(np.average(g["demand_supply_ratio"], weights=w)), 2),
        }
    )


def demo_macro_indicators(
    cities: pd.DataFrame,
    *,
    province: str,
    start: str = "2010-01",
    end: str = "2013-12",
    shock: Mapping[str, Any] | None = None,
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
    """A seeded synthetic macro series by city and month (SYNTHETIC: not customs data).

    ``export_growth`` (出口总值同比增速, %): each city has a stable growth level (6–12 %) with
    AR(1) noise (φ = 0.5, innovation sd 1.2). The demo's export shock is a sudden fall of
    export demand: from its first month to its last the shocked cities' growth is 16 points
    lower (a step, not a ramp — orders stop at once, job losses follow over months). The
    province row is the employment-weighted mean. Generated with its own seed, so the city
    indicators table (:func:`demo_city_indicators`) is unchanged by it.

    Returns
    -------
    DataFrame ``city, period, export_growth``.
    """
    rng = np.random.default_rng(rng)
    periods = month_range(start, end)
    idx = pd.PeriodIndex(periods, freq="M")
    n = len(periods)
    names = cities["city"].astype(str).tolist()
    employed = (
        pd.to_numeric(cities["employed"], errors="coerce").fillna(100.0).to_numpy()
        if "employed" in cities
        else np.full(len(names), 100.0)
    )
    step = np.zeros(n)
    shocked: set[str] = set()
    if shock is not None and shock.get("enabled", True):
        s0, s1 = pd.Period(shock["start"], "M"), pd.Period(shock["end"], "M")
        step[(idx >= s0) & (idx <= s1)] = 1.0
        shocked = set(shock["cities"])
    values = np.empty((len(names), n))
    for j, city in enumerate(names):
        hit = step if city in shocked else np.zeros(n)
        values[j] = rng.uniform(6.0, 12.0) + _ar1(rng, n, 0.5, 1.2) - 16.0 * hit
    rows = [
        pd.DataFrame({"city": city, "period": periods, "export_growth": np.round(values[j], 2)})
        for j, city in enumerate(names)
    ]
    prov = np.average(values, axis=0, weights=np.maximum(employed, 1e-9))
    rows.append(
        pd.DataFrame({"city": province, "period": periods, "export_growth": np.round(prov, 2)})
    )
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(["city", "period"], kind="stable").reset_index(drop=True)
