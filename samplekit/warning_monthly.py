"""Monthly warnings and immediate reports (seed 000: "个别失业预警监测类指标发生重大变化的,要按规定
时间报送").

Indicators declared with ``frequency: month`` are judged every month against their lines (the
same levels, lines per area and approach margin as the quarterly judgement). Sudden-change rules
(``warning.indicators.<key>.sudden``) and a cluster of mass layoffs in one city
(``warning.immediate.mass_layoff_cluster``) *trigger*; an area whose rules trigger in a month,
after ``warning.immediate.cooldown_months`` months without any trigger, is the subject of an
immediate report for that month. A condition that persists is followed by the quarterly report,
not re-reported every month. Pure: DataFrames and settings in, DataFrames out. See
``docs/warning.md`` ("Monthly warnings and immediate reports").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from samplekit.errors import ParamsError
from samplekit.periods import MONTH_RE, month_range
from samplekit.warning import (
    IndicatorDef,
    WarningSettings,
    classify,
    composite_score,
)

#: Columns of the monthly levels table (monthly_levels.csv).
MONTH_LEVEL_COLUMNS: list[str] = [
    "period",
    "city",
    "scope",
    "indicator",
    "indicator_name",
    "family",
    "value",
    "line",
    "level",
    "level_name",
    "rank",
    "status",
]
#: Columns of the trigger table (one row per rule that fired).
TRIGGER_COLUMNS: list[str] = [
    "period",
    "city",
    "indicator",
    "indicator_name",
    "rule",
    "value",
    "reference",
    "threshold",
    "message",
]
RULE_ZH: dict[str, str] = {
    "mom": "环比突变",
    "yoy": "同比突变",
    "line_cross": "季报间越线",
    "mass_layoff_cluster": "规模裁员集中",
}
MONTH_HEADERS_ZH: dict[str, str] = {
    "period": "月份",
    "city": "地区",
    "scope": "范围",
    "indicator": "指标代码",
    "indicator_name": "指标",
    "family": "指标类别",
    "value": "指标值",
    "line": "对照警戒线",
    "level": "预警等级",
    "level_name": "等级名称",
    "rank": "等级序号",
    "status": "状态",
    "rule": "触发规则",
    "reference": "参照值",
    "threshold": "触发阈值",
    "message": "说明",
    "score": "综合得分",
    "contribution": "贡献分",
    "family_weight": "类别权重",
    "indicator_share": "类内权重",
    "severity": "严重度",
}


def monthly_indicators(settings: WarningSettings) -> list[IndicatorDef]:
    """The indicators judged monthly (``frequency: month``)."""
    return [ind for ind in settings.indicators if ind.frequency == "month"]


def month_values(
    city_table: pd.DataFrame | None, settings: WarningSettings, *, end: str
) -> pd.DataFrame:
    """Monthly values of every monthly indicator up to ``end``: ``period, city, indicator,
    value`` after the indicator's transform (``yoy_diff`` / ``yoy_pct`` against the same month
    a year earlier; ``level`` unchanged), plus ``raw`` (the untransformed value)."""
    cols = ["period", "city", "indicator", "value", "raw"]
    parts = []
    for ind in monthly_indicators(settings):
        if city_table is None or ind.column not in city_table:
            continue
        df = city_table[["city", "period", ind.column]].rename(columns={ind.column: "raw"})
        df = df[df["period"].astype(str) <= end].copy()
        df["raw"] = df["raw"].astype(float)
        if ind.transform == "level":
            df["value"] = df["raw"]
        else:
            prev = df[["city", "period", "raw"]].copy()
            prev["period"] = [str(pd.Period(p, freq="M") + 12) for p in prev["period"]]
            df = df.merge(prev, on=["city", "period"], how="left", suffixes=("", "_ly"))
            if ind.transform == "yoy_diff":
                df["value"] = df["raw"] - df["raw_ly"]
            else:
                df["value"] = 100 * (df["raw"] / df["raw_ly"].where(df["raw_ly"] != 0) - 1)
            df = df.drop(columns="raw_ly")
        parts.append(df.assign(indicator=ind.key)[cols])
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["indicator", "city", "period"], kind="stable").reset_index(drop=True)


def judge_months(values: pd.DataFrame, settings: WarningSettings, *, province: str) -> pd.DataFrame:
    """Level and status of every monthly value (:data:`MONTH_LEVEL_COLUMNS`)."""
    defs = {ind.key: ind for ind in settings.indicators}
    rows = []
    for rec in values.itertuples(index=False):
        ind = defs[rec.indicator]
        scope = "province" if rec.city == province else "city"
        if scope not in ind.scope:
            continue
        rank, status, line = classify(
            float(rec.value),
            ind.lines_for(rec.city, province=province),
            ind.direction,
            ind.approach,
        )
        rows.append(
            {
                "period": rec.period,
                "city": rec.city,
                "scope": scope,
                "indicator": ind.key,
                "indicator_name": ind.name,
                "family": ind.family,
                "value": float(rec.value),
                "line": line,
                "level": settings.level_code(rank),
                "level_name": settings.level_name(rank),
                "rank": rank,
                "status": status,
            }
        )
    return pd.DataFrame(rows, columns=MONTH_LEVEL_COLUMNS)


def _jump(
    x: np.ndarray, lag: int, k: float, window: int, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Change d_t = x_t − x_{t−lag}; fires when sign·(d_t − mean) > k·sd of the ``window``
    earlier changes (at least 12 of them). Returns (fired, change, threshold)."""
    n = len(x)
    d = np.full(n, np.nan)
    d[lag:] = x[lag:] - x[:-lag]
    fired = np.zeros(n, dtype=bool)
    thr = np.full(n, np.nan)
    for t in range(n):
        past = d[max(0, t - window) : t]
        past = past[np.isfinite(past)]
        if len(past) < 12 or not np.isfinite(d[t]):
            continue
        sd = float(np.std(past, ddof=1))
        mean = float(np.mean(past))
        thr[t] = mean + sign * k * sd
        fired[t] = sign * (d[t] - mean) > k * sd
    return fired, d, thr


def sudden_changes(
    levels: pd.DataFrame, settings: WarningSettings, *, raw: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every sudden-change trigger in the monthly history (:data:`TRIGGER_COLUMNS`).

    Parameters
    ----------
    levels : DataFrame
        :func:`judge_months` output over the history (consecutive months per area).
    raw : DataFrame, optional
        :func:`month_values` output; the month-on-month and year-on-year rules look at the
        untransformed values (``raw``) when given, else at ``value``.

    Rules, each in the indicator's worse direction: ``mom`` — x_t − x_{t−1} beyond k standard
    deviations of the area's ``window`` earlier month-on-month changes (from their mean);
    ``yoy`` — the same for x_t − x_{t−12}; ``line_cross`` — the rank above the rank at the last
    month of the previous quarter (the last quarterly report).
    """
    defs = {ind.key: ind for ind in settings.indicators}
    rows = []
    rawv = None
    if raw is not None:
        rawv = raw.set_index(["indicator", "city", "period"])["raw"]
    for (key, city), grp in levels.groupby(["indicator", "city"], sort=True):
        ind = defs[key]
        rules = ind.sudden
        if rules is None:
            continue
        grp = grp.sort_values("period")
        periods = grp["period"].astype(str).tolist()
        full = month_range(periods[0], periods[-1])
        g = grp.set_index("period").reindex(full)
        x = (
            np.array([rawv.get((key, city, p), np.nan) for p in full], dtype=float)
            if rawv is not None
            else g["value"].to_numpy(dtype=float)
        )
        sign = 1.0 if ind.direction == "higher_is_worse" else -1.0
        for name, lag, k in (("mom", 1, rules.mom_k), ("yoy", 12, rules.yoy_k)):
            if k is None:
                continue
            fired, d, thr = _jump(x, lag, k, rules.window, sign)
            for t in np.flatnonzero(fired):
                what = "环比" if name == "mom" else "同比"
                rows.append(
                    {
                        "period": full[t],
                        "city": city,
                        "indicator": key,
                        "indicator_name": ind.name,
                        "rule": name,
                        "value": x[t],
                        "reference": x[t - lag],
                        "threshold": thr[t],
                        "message": f"{ind.name}{what}变动 {d[t]:+.2f}{ind.unit},超过以往"
                        f"{rules.window}个月变动的 {k:g} 倍标准差(阈值 {thr[t]:+.2f})",
                    }
                )
        if rules.line_cross:
            rank = g["rank"].to_numpy(dtype=float)
            for t, p in enumerate(full):
                prev_q = pd.Period(p, freq="M").asfreq("Q") - 1
                last_report = str(prev_q.asfreq("M", how="end"))
                if last_report not in full or not np.isfinite(rank[t]):
                    continue
                r0 = rank[full.index(last_report)]
                if np.isfinite(r0) and rank[t] > r0:
                    rows.append(
                        {
                            "period": p,
                            "city": city,
                            "indicator": key,
                            "indicator_name": ind.name,
                            "rule": "line_cross",
                            "value": float(g["value"].iloc[t]),
                            "reference": float(g["value"].loc[last_report]),
                            "threshold": float(g["line"].iloc[t]),
                            "message": f"{ind.name} {g['value'].iloc[t]:.2f}{ind.unit} 越过"
                            f"{settings.level_name(int(rank[t]))}警戒线 "
                            f"{g['line'].iloc[t]:g},上次季报({last_report})为"
                            f"{settings.level_name(int(r0))}",
                        }
                    )
    out = pd.DataFrame(rows, columns=TRIGGER_COLUMNS)
    return out.sort_values(["period", "city", "indicator", "rule"], kind="stable").reset_index(
        drop=True
    )


def cluster_triggers(layoff_counts: pd.DataFrame | None, settings: WarningSettings) -> pd.DataFrame:
    """``mass_layoff_cluster`` triggers: cities with at least
    ``warning.immediate.mass_layoff_cluster`` sample enterprises in mass layoff in one month.
    ``layoff_counts``: ``period, city, count``."""
    n = settings.mass_layoff_cluster
    if n is None or layoff_counts is None or layoff_counts.empty:
        return pd.DataFrame(columns=TRIGGER_COLUMNS)
    hit = layoff_counts[layoff_counts["count"] >= n]
    return pd.DataFrame(
        {
            "period": hit["period"].astype(str),
            "city": hit["city"].astype(str),
            "indicator": "mass_layoffs",
            "indicator_name": "规模裁员企业数(家)",
            "rule": "mass_layoff_cluster",
            "value": hit["count"].astype(float),
            "reference": np.nan,
            "threshold": float(n),
            "message": [f"当月 {int(c)} 家监测企业规模裁员(集中阈值 {n} 家)" for c in hit["count"]],
        },
        columns=TRIGGER_COLUMNS,
    ).reset_index(drop=True)


def immediate_areas(triggers: pd.DataFrame, *, cooldown: int) -> pd.DataFrame:
    """The (month, area) pairs that call for an immediate report: an area with a trigger in a
    month and none in the ``cooldown`` months before it. Returns ``period, city``."""
    if triggers.empty:
        return pd.DataFrame(columns=["period", "city"])
    pairs = triggers[["period", "city"]].drop_duplicates()
    have = set(map(tuple, pairs.to_numpy()))
    keep = []
    for p, c in pairs.itertuples(index=False):
        m = pd.Period(p, freq="M")
        if not any((str(m - k), c) in have for k in range(1, cooldown + 1)):
            keep.append((p, c))
    return (
        pd.DataFrame(keep, columns=["period", "city"])
        .sort_values(["period", "city"], kind="stable")
        .reset_index(drop=True)
    )


@dataclass(frozen=True)
class MonthlyWarningResult:
    """What ``samplekit warn --period`` shows and writes for one month."""

    period: str
    province: str
    settings: WarningSettings
    levels: pd.DataFrame  # the month's monthly levels (MONTH_LEVEL_COLUMNS)
    history: pd.DataFrame  # all months judged
    triggers: pd.DataFrame  # the month's triggers (every rule that fired)
    areas: list[str]  # areas of the month's immediate report (empty: none)
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    contributions: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def immediate(self) -> bool:
        """True when the month calls for an immediate report."""
        return bool(self.areas)

    @property
    def report_triggers(self) -> pd.DataFrame:
        """The triggers of the areas in the immediate report."""
        return self.triggers[self.triggers["city"].isin(self.areas)].reset_index(drop=True)


def compute_monthly_warning(
    city_table: pd.DataFrame | None,
    settings: WarningSettings,
    *,
    period: str,
    province: str,
    layoff_counts: pd.DataFrame | None = None,
) -> MonthlyWarningResult:
    """Judge the monthly indicators for ``period`` and decide on an immediate report (pure).

    Parameters
    ----------
    city_table : DataFrame
        The validated city indicators table (with any external indicator columns).
    period : str
        The month, ``YYYY-MM``.
    layoff_counts : DataFrame, optional
        ``period, city, count`` of sample enterprises in mass layoff (for the cluster rule).
    """
    if not MONTH_RE.match(str(period)):
        raise ParamsError(f"--period {period!r}: use a month like 2013-07")
    if not monthly_indicators(settings):
        raise ParamsError(
            "warning.indicators: no indicator has 'frequency: month'; the monthly "
            "warning judges monthly indicators only"
        )
    vals = month_values(city_table, settings, end=period)
    if period not in set(vals["period"].astype(str)):
        raise ParamsError(
            f"--period {period}: the city indicators table has no monthly "
            "indicator value for this month"
        )
    history = judge_months(vals, settings, province=province)
    trig = pd.concat(
        [sudden_changes(history, settings, raw=vals), cluster_triggers(layoff_counts, settings)],
        ignore_index=True,
    )
    trig = trig[trig["period"].astype(str) <= period]
    areas = immediate_areas(trig, cooldown=settings.cooldown_months)
    now = areas[areas["period"] == period]["city"].tolist()
    # Province first, then cities by name.
    now = sorted(now, key=lambda c: (c != province, c))
    scores, contrib = composite_score(
        history[history["period"] == period], settings, period_column="period"
    )
    return MonthlyWarningResult(
        period=period,
        province=province,
        settings=settings,
        levels=history[history["period"] == period].reset_index(drop=True),
        history=history,
        triggers=trig[trig["period"] == period].reset_index(drop=True),
        areas=now,
        scores=scores,
        contributions=contrib,
    )
