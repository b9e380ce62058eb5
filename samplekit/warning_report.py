"""The quarterly warning's tables, figures and findings: what ``samplekit warn`` writes and
notebooks 04/05 show (Chinese headers, the network named in every workbook).

The computation is :mod:`samplekit.warning`; this module only turns a
:class:`~samplekit.warning.WarningResult` into tables, figures and sentences.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.io import round_floats
from samplekit.warning import (
    HEADERS_ZH,
    LEVEL_COLUMNS,
    NO_LEVEL,
    NO_LEVEL_ZH,
    STATUS_ZH,
    WarningResult,
    WarningSettings,
)

# ----------------------------------------------------------------------------- outputs
FORECAST_HEADERS_ZH: dict[str, str] = {
    "city": "地区",
    "indicator": "指标代码",
    "indicator_name": "指标",
    "kind": "类型",
    "target": "预测期",
    "horizon": "步长",
    "model": "模型",
    "forecast": "预测值",
    "pi_low": "预测区间下限",
    "pi_high": "预测区间上限",
    "level": "预警等级",
    "line": "警戒线",
    "probability": "越线概率",
}


def levels_table(result: WarningResult) -> pd.DataFrame:
    """levels.csv: the quarter's ``city, indicator, value, ci_low, ci_high, line, level,
    status`` first, then the evidence columns; the province first, then cities by name."""
    cur = result.current_levels.copy()
    cur["_p"] = cur["city"] != result.province
    cur = cur.sort_values(["_p", "city", "indicator"], kind="stable").drop(columns="_p")
    first = ["city", "indicator", "value", "ci_low", "ci_high", "line", "level", "status"]
    rest = [c for c in LEVEL_COLUMNS if c not in first]
    return cur[first + rest].reset_index(drop=True)


def composite_table(result: WarningResult) -> pd.DataFrame:
    """The quarter's composite level per city (province first), with the raw rank and drivers."""
    comp = result.current_composite.copy()
    comp["_p"] = comp["city"] != result.province
    comp = comp.sort_values(["_p", "city"], kind="stable").drop(columns="_p")
    names = {ind.key: ind.name for ind in result.settings.indicators}
    comp["drivers_zh"] = [
        ";".join(names.get(k, k) for k in d.split(";") if k) for d in comp["drivers"]
    ]
    return comp.reset_index(drop=True)


def write_warning(
    result: WarningResult,
    out_dir: str | os.PathLike[str],
    *,
    about: Mapping[str, Any] | None = None,
    figures: bool = True,
    data_note: str = "",
    county_levels: pd.DataFrame | None = None,
    county_forecast: pd.DataFrame | None = None,
) -> list[Path]:
    """Write the quarter's warning outputs; returns the paths.

    ``levels.csv`` (per indicator and city), ``composite.csv`` (per city, with hysteresis),
    ``levels_history.csv`` and ``composite_history.csv`` (every quarter judged),
    ``estimates.csv`` (all design-based estimates of the quarter), ``forecasts.csv``,
    ``crossing.csv`` (probability of crossing each line next quarter), ``forecast_scores.csv``
    (rolling-origin RMSE of every candidate), ``mass_layoffs.csv``, ``warning.xlsx`` (Chinese
    headers, codes shown as Chinese names; ``data_note`` marks it synthetic) and the figures
    ``fig_levels.png`` and ``fig_<indicator>.png`` for core indicators. ``county_levels`` /
    ``county_forecast`` (counties declared) add the sheets 县区等级 and 县区预测 to the
    workbook (:func:`county_sheets`).
    """
    from samplekit.io import write_csv, write_xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # With a declared break every value says which panel it comes from (数据来源).
    lv = round_floats(with_sources(result, levels_table(result)), 4)
    comp = composite_table(result)
    hist = round_floats(with_sources(result, result.levels), 4)
    comp_hist = result.composite
    est = round_floats(result.estimates, 6)
    fc = round_floats(result.forecasts, 4) if len(result.forecasts) else result.forecasts
    cr = round_floats(result.crossing, 4) if len(result.crossing) else result.crossing
    sc = round_floats(result.scores, 6) if len(result.scores) else result.scores
    paths = [
        write_csv(lv, out / "levels.csv"),
        write_csv(comp, out / "composite.csv"),
        write_csv(hist, out / "levels_history.csv"),
        write_csv(comp_hist, out / "composite_history.csv"),
        write_csv(est, out / "estimates.csv"),
        write_csv(fc, out / "forecasts.csv"),
        write_csv(cr, out / "crossing.csv"),
        write_csv(sc, out / "forecast_scores.csv"),
        write_csv(result.mass_layoffs, out / "mass_layoffs.csv"),
    ]
    score = round_floats(score_table(result), 4)
    if len(score):
        paths += [
            write_csv(score, out / "composite_score.csv"),
            write_csv(round_floats(result.contributions, 4), out / "contributions.csv"),
        ]
    sheets = workbook_tables(result, comp=comp, levels=lv, forecasts=fc, crossing=cr)
    if len(score):
        sheets = {**sheets, "综合得分": score}
    if has_break(result):
        shift = pd.concat([break_table(result), break_table(result, cities=True)])
        sheets = {**sheets, "断点衔接": round_floats(shift, 4)}
    sheets = {**sheets, **county_sheets(result.settings, county_levels, county_forecast)}
    headers = {
        **BREAK_HEADERS_ZH,
        **HEADERS_ZH,
        **FORECAST_HEADERS_ZH,
        **COUNTY_SHEET_HEADERS_ZH,
        "drivers_zh": "触发指标",
        "score": "综合得分",
        "reason": "原因",
        "estimate": "估计值",
        "period": "期别",
    }
    paths.append(
        write_xlsx(
            sheets,
            out / "warning.xlsx",
            headers=headers,
            units="单位:见各指标说明",
            data_note=data_note,
            formats={
                "value": "dec2",
                "se": "dec3",
                "ci_low": "dec2",
                "ci_high": "dec2",
                "line": "dec2",
                "forecast": "dec2",
                "pi_low": "dec2",
                "pi_high": "dec2",
            },
            titles={
                "综合等级": f"{result.quarter} 各地区综合预警等级",
                "指标等级": f"{result.quarter} 各预警指标的值、置信区间、警戒线与等级",
                "预测": "下一期预测与预测区间",
                "越线概率": "下一季度越过各警戒线的概率",
                "综合得分": f"{result.quarter} 各地区综合得分(按指标类别加权)及原因",
                "断点衔接": break_note(result),
                "县区等级": f"{result.quarter} 县(区)预警指标与等级(样本过少的县区不判断)",
                "县区预测": "县(区)下季度预测与等级(样本过少的县区不预测)",
            },
            source=f"{result.network_zh}(设计加权估计)与城市指标表",
            about={"监测网络": result.network_zh, **(about or {})},
        )
    )
    paths += write_series_break(result, out, figures=figures)
    if figures:
        paths.append(_save(plot_levels(result), out / "fig_levels.png"))
        for ind in result.settings.indicators:
            if ind.core:
                paths.append(_save(plot_indicator(result, ind.key), out / f"fig_{ind.key}.png"))
    return paths


#: Chinese headers of the county sheets (levels and forecasts).
COUNTY_SHEET_HEADERS_ZH: dict[str, str] = {
    "county": "县(区)",
    "small_domain": "样本过少",
    "judgeable_months": "可判断月数",
    "probability": "越过对照线概率",
    "target": "预测期",
}


def county_sheets(
    settings: WarningSettings,
    levels: pd.DataFrame | None,
    forecast: pd.DataFrame | None,
) -> dict[str, pd.DataFrame]:
    """The county sheets of the workbooks: 县区等级 (``counties.county_levels``) and 县区预测
    (the forecast level table of ``counties.county_forecasts``), codes in Chinese, a small
    domain's level shown as 样本过少 and its flag as 是/否; empty tables are left out."""
    out: dict[str, pd.DataFrame] = {}
    for name, df in (("县区等级", levels), ("县区预测", forecast)):
        if df is None or not len(df):
            continue
        t = round_floats(df.drop(columns=["indicator", "level_name", "rank"], errors="ignore"), 4)
        t["level"] = [
            name_ if small else level_label(settings, code)
            for code, small, name_ in zip(
                df["level"], df["small_domain"].astype(bool), df["level_name"], strict=True
            )
        ]
        t["status"] = [
            "样本过少" if st == "small_domain" else STATUS_ZH.get(st, st) for st in t["status"]
        ]
        t["small_domain"] = np.where(df["small_domain"].astype(bool), "是", "否")
        if "model" in t:
            from samplekit.forecast import MODEL_ZH

            t["model"] = t["model"].map(
                lambda m: "+".join(MODEL_ZH.get(x, x) for x in m.split("+")) if m else ""
            )
        out[name] = t
    return out


SCOPE_ZH: dict[str, str] = {"province": "全省", "city": "地市"}
KIND_ZH: dict[str, str] = {"quarter": "季度", "month": "月度"}


def level_label(settings: WarningSettings, code: str) -> str:
    """A level code as readers see it: ``IV级``; no level: 无警."""
    return NO_LEVEL_ZH if code in (NO_LEVEL, "", None) else f"{code}级"


def workbook_tables(
    result: WarningResult,
    *,
    comp: pd.DataFrame,
    levels: pd.DataFrame,
    forecasts: pd.DataFrame,
    crossing: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """The sheets of ``warning.xlsx`` with every code (indicator, level, status, scope, model,
    kind) replaced by its Chinese name; internal keys (``indicator``, ``drivers``) dropped."""
    from samplekit.forecast import MODEL_ZH

    s = result.settings
    names = {ind.key: ind.name for ind in s.indicators}

    def level(col: pd.Series) -> pd.Series:
        return col.map(lambda c: level_label(s, c)).astype(object)

    c = comp.drop(columns=["drivers"], errors="ignore").copy()
    c["composite_level"] = level(c["composite_level"])
    lv = levels.drop(columns=["indicator"], errors="ignore").copy()
    lv["level"] = level(lv["level"])
    lv["status"] = lv["status"].map(STATUS_ZH).astype(object)
    lv["scope"] = lv["scope"].map(SCOPE_ZH).astype(object)
    fc = forecasts.copy()
    if len(fc):
        fc.insert(fc.columns.get_loc("indicator"), "indicator_name", fc["indicator"].map(names))
        fc = fc.drop(columns="indicator")
        fc["model"] = fc["model"].map(lambda m: MODEL_ZH.get(m, m)).astype(object)
        fc["kind"] = fc["kind"].map(KIND_ZH).astype(object)
    cr = crossing.copy()
    if len(cr):
        cr.insert(cr.columns.get_loc("indicator"), "indicator_name", cr["indicator"].map(names))
        cr = cr.drop(columns="indicator")
        cr["level"] = level(cr["level"])
    return {"综合等级": c, "指标等级": lv, "预测": fc, "越线概率": cr}


def _save(fig: Any, path: Path) -> Path:
    from samplekit.plotting import save_figure

    return save_figure(fig, path)


def plot_levels(result: WarningResult):
    """Heat map of the quarter's level per city (rows) and indicator (columns)."""
    from matplotlib.colors import ListedColormap

    from samplekit.plotting import new_figure

    cur = levels_table(result)
    comp = composite_table(result).set_index("city")["composite_rank"]
    inds = [ind for ind in result.settings.indicators if ind.key in set(cur["indicator"])]
    cities = list(dict.fromkeys(cur["city"]))
    grid = np.full((len(cities), len(inds) + 1), np.nan)
    piv = cur.pivot(index="city", columns="indicator", values="rank")
    for i, c in enumerate(cities):
        grid[i, 0] = comp.get(c, np.nan)
        for j, ind in enumerate(inds):
            grid[i, j + 1] = piv.get(ind.key, pd.Series(dtype=float)).get(c, np.nan)
    colors = [result.settings.level_color(r) for r in range(len(result.settings.levels) + 1)]
    colors[0] = "#e8f5e9"
    fig, ax = new_figure(2 + 1.3 * (len(inds) + 1), 0.32 * len(cities) + 1.5)
    ax.imshow(
        grid,
        cmap=ListedColormap(colors),
        vmin=-0.5,
        vmax=len(result.settings.levels) + 0.5,
        aspect="auto",
    )
    for i in range(len(cities)):
        for j in range(len(inds) + 1):
            if np.isfinite(grid[i, j]):
                ax.text(
                    j,
                    i,
                    result.settings.level_name(int(grid[i, j])),
                    ha="center",
                    va="center",
                    fontsize=7,
                )
    ax.set_xticks(range(len(inds) + 1))
    ax.set_xticklabels(
        ["综合等级", *[ind.name for ind in inds]], rotation=35, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(cities)))
    ax.set_yticklabels(cities, fontsize=8)
    ax.set_title(f"{result.quarter} 各地区预警等级")
    return fig


def plot_indicator(result: WarningResult, indicator: str, cities: Sequence[str] | None = None):
    """An indicator's quarterly values with 95% CIs against its lines, and the next quarter's
    forecast with its prediction interval, for the province and the most severe cities."""
    from samplekit.plotting import new_figure

    ind = result.settings.indicator(indicator)
    hist = result.levels[result.levels["indicator"] == indicator]
    if cities is None:
        cur = hist[hist["quarter"] == result.quarter]
        worst = cur[cur["city"] != result.province].sort_values(
            ["rank", "value"], ascending=[False, ind.direction == "lower_is_worse"]
        )
        cities = [result.province, *worst["city"].head(4)]
    quarters = sorted(hist["quarter"].unique())
    fc = result.forecasts
    fc = fc[(fc["indicator"] == indicator) & (fc["kind"] == "quarter")] if len(fc) else fc
    target = fc["target"].iloc[0] if len(fc) else None
    xlabels = quarters + ([target] if target else [])
    fig, ax = new_figure(9, 4.8)
    palette = ["#333333", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]
    for k, city in enumerate(cities):
        h = hist[hist["city"] == city].set_index("quarter").reindex(quarters)
        x = np.arange(len(quarters)) + (k - len(cities) / 2) * 0.06
        yerr = np.vstack([h["value"] - h["ci_low"], h["ci_high"] - h["value"]])
        color = palette[k % len(palette)]
        if np.isfinite(yerr).any():
            ax.errorbar(
                x,
                h["value"],
                yerr=np.where(np.isfinite(yerr), yerr, 0),
                color=color,
                marker="o",
                ms=3,
                lw=1.3,
                capsize=2,
                label=city,
            )
        else:
            ax.plot(x, h["value"], color=color, marker="o", ms=3, lw=1.3, label=city)
        f = fc[fc["city"] == city] if len(fc) else fc
        if len(f):
            xf = len(quarters) + (k - len(cities) / 2) * 0.06
            ax.errorbar(
                [xf],
                f["forecast"],
                yerr=[
                    [float(f["forecast"].iloc[0] - f["pi_low"].iloc[0])],
                    [float(f["pi_high"].iloc[0] - f["forecast"].iloc[0])],
                ],
                color=color,
                marker="D",
                ms=4,
                ls="none",
                capsize=3,
                alpha=0.7,
            )
    for k, lv in enumerate(result.settings.levels):
        ax.axhline(
            ind.lines[k], color=lv.color, ls="--", lw=1, label=f"{lv.code}级({lv.name})警戒线(地市)"
        )
        if ind.province_lines is not None and result.province in cities:
            ax.axhline(
                ind.province_lines[k],
                color=lv.color,
                ls=":",
                lw=1,
                label=f"{lv.code}级警戒线(全省)",
            )
    if has_break(result):  # the first quarter of the new design
        from samplekit.bridge import quarter_source

        month = result.series_break.settings.month
        new = [
            i for i, q in enumerate(quarters) if quarter_source(q, break_month=month) != "old_panel"
        ]
        if new and new[0] > 0:
            ax.axvline(new[0] - 0.5, color="#d62728", ls="--", lw=1.2)
            ax.text(
                new[0] - 0.5,
                0.02,
                f" 断点({month}起为新样本)",
                transform=ax.get_xaxis_transform(),
                color="#d62728",
                fontsize=7,
            )
    ax.set_xticks(range(len(xlabels)))
    ax.set_xticklabels(
        [*quarters, f"{target}(预测)"] if target else quarters, rotation=30, ha="right", fontsize=8
    )
    ax.set_ylabel(ind.name)
    ax.set_title(f"{ind.name}:季度值(95%置信区间)、警戒线与下季度预测")
    ax.legend(fontsize=7, ncol=3, loc="best")
    return fig


# ------------------------------------------------------------------------- report helpers
def ranking_table(result: WarningResult, climate: pd.DataFrame | None = None) -> pd.DataFrame:
    """季通报 ranking of the cities: composite level (worst first), then the first core
    indicator from worst to best; one column per indicator value, the climate index if given.

    Returns Chinese-ready columns: ``rank_no, city, composite_level, composite_name,
    drivers_zh, <indicator keys…>, climate_index``.
    """
    comp = composite_table(result)
    comp = comp[comp["city"] != result.province]
    cur = result.current_levels
    wide = cur.pivot(index="city", columns="indicator", values="value")
    keys = [ind.key for ind in result.settings.indicators if ind.key in wide.columns]
    df = comp[["city", "composite_rank", "composite_level", "composite_name", "drivers_zh"]].merge(
        wide[keys].reset_index(), on="city", how="left"
    )
    if climate is not None:
        df = df.merge(
            climate[["city", "estimate"]].rename(columns={"estimate": "climate_index"}),
            on="city",
            how="left",
        )
    first = next(ind for ind in result.settings.indicators if ind.core)
    sign = 1.0 if first.direction == "higher_is_worse" else -1.0
    df["_k"] = -sign * df[first.key]
    df = df.sort_values(
        ["composite_rank", "_k", "city"], ascending=[False, True, True], kind="stable"
    ).drop(columns=["_k", "composite_rank"])
    df.insert(0, "rank_no", np.arange(1, len(df) + 1))
    return df.reset_index(drop=True)


REDUCTION_NAMES_ZH: dict[str, str] = {
    "reduced_closure": "关闭破产",
    "reduced_suspension": "停业整顿",
    "reduced_layoff": "经济性裁员",
    "reduced_relocation": "迁出本市",
    "reduced_other": "其他",
}


def reduction_table(
    result: WarningResult, kind: Literal["type", "reason"] = "type"
) -> pd.DataFrame:
    """Persons reduced in the quarter (weighted estimates) by reduction type or by first-ranked
    reason, for the province and each city: ``city, item, name, estimate, se, share_pct``."""
    from samplekit.estimation import INDICATOR_NAMES_ZH

    est = result.estimates
    if kind == "type":
        items = list(REDUCTION_NAMES_ZH)
        names = REDUCTION_NAMES_ZH
    else:
        items = [f"reduced_reason_{k}" for k in range(1, 12)]
        names = {k: INDICATOR_NAMES_ZH.get(k, k) for k in items}
    df = est[est["indicator"].isin(items)][["city", "indicator", "estimate", "se"]].copy()
    df = df.rename(columns={"indicator": "item"})
    df["name"] = df["item"].map(names)
    total = df.groupby("city")["estimate"].transform("sum")
    df["share_pct"] = 100 * df["estimate"] / total.where(total > 0)
    df["_p"] = df["city"] != result.province
    df["_o"] = df["item"].map({k: i for i, k in enumerate(items)})
    df = df.sort_values(["_p", "city", "_o"], kind="stable").drop(columns=["_p", "_o"])
    return df[["city", "item", "name", "estimate", "se", "share_pct"]].reset_index(drop=True)


def findings_zh(result: WarningResult, climate: pd.DataFrame | None = None) -> list[str]:
    """Written findings in Chinese, generated from the numbers (no fixed wording of results)."""
    s = result.settings
    comp = composite_table(result)
    prov = comp[comp["city"] == result.province]
    cities = comp[comp["city"] != result.province]
    lines = []
    p_rank = int(prov["composite_rank"].iloc[0]) if len(prov) else 0
    if p_rank:
        drivers = prov["drivers_zh"].iloc[0]
        lines.append(
            f"{result.quarter}全省综合预警等级为{s.level_code(p_rank)}级"
            f"({s.level_name(p_rank)})"
            + (
                f",触发指标:{drivers}。"
                if drivers
                else ",本季度指标未达该等级,按“连续平稳后降级”规则维持。"
            )
        )
    else:
        lines.append(f"{result.quarter}全省未触及警戒线,综合等级为无警。")
    lines.append(f"估计所用监测网络:{result.network_zh},各月按当月在册样本及其权重估计。")
    if has_break(result):
        lines.append(break_summary_zh(result))
    alarm = cities[cities["composite_rank"] > 0]
    if len(alarm):
        parts = [
            f"{r.city}({r.composite_level}级{r.composite_name})"
            for r in alarm.sort_values("composite_rank", ascending=False).itertuples()
        ]
        lines.append(f"{len(alarm)}个地市处于预警状态:" + "、".join(parts) + "。")
    else:
        lines.append("各地市均未触及警戒线。")
    held = cities[(cities["composite_rank"] > cities["raw_rank"])]
    if len(held):
        lines.append(
            "按“连续平稳后降级”规则维持原等级的地市:"
            + "、".join(held["city"])
            + f"(需连续{s.hysteresis_periods}个季度低于当前等级方可降级)。"
        )
    cur = result.current_levels
    rem = cur[(cur["status"] == "reminder") & (cur["city"] != result.province)]
    if len(rem):
        lines.append(
            "接近警戒线(提醒):"
            + "、".join(f"{r.city}{r.indicator_name}{r.value:.2f}" for r in rem.itertuples())
            + "。"
        )
    for ind in s.indicators:
        if not ind.core:
            continue
        row = cur[(cur["indicator"] == ind.key) & (cur["city"] == result.province)]
        if len(row) and pd.notna(row["value"].iloc[0]):
            r = row.iloc[0]
            ci = (
                f"(95%置信区间{r['ci_low']:.2f}~{r['ci_high']:.2f})"
                if pd.notna(r["ci_low"])
                else ""
            )
            lines.append(f"全省{ind.name}为{r['value']:.2f}{ci},对照警戒线{r['line']:g}。")
    cr = result.crossing
    if len(cr):
        first = cr[cr["level"] == s.levels[0].code]
        risky = first[(first["probability"] >= 0.5) & (first["city"] != result.province)]
        if len(risky):
            names = {i.key: i.name for i in s.indicators}
            top = risky.sort_values("probability", ascending=False).head(6)
            lines.append(
                f"预测显示,{top['target'].iloc[0]}越过{s.levels[0].code}级警戒线概率较高的有:"
                + "、".join(
                    f"{r.city}{names[r.indicator]}({r.probability:.0%})" for r in top.itertuples()
                )
                + "。"
            )
    if climate is not None and len(climate):
        pc = climate[climate["city"] == result.province]
        low = climate[(climate["city"] != result.province) & (climate["estimate"] < 50)]
        if len(pc):
            lines.append(
                f"全省用工景气指数为{pc['estimate'].iloc[0]:.1f}(50为荣枯线)"
                + (
                    f",低于50的地市有{len(low)}个:" + "、".join(low["city"]) + "。"
                    if len(low)
                    else ",各地市均不低于50。"
                )
            )
    if len(result.mass_layoffs):
        ml = (
            result.mass_layoffs.groupby("city")["enterprise_id"]
            .nunique()
            .sort_values(ascending=False)
        )
        lines.append(
            f"本季度监测企业中规模裁员(单月减员≥{s.mass_layoff_persons}人或≥"
            f"{s.mass_layoff_share:.0%})的企业共{int(ml.sum())}家,最多的是"
            + "、".join(f"{c}{n}家" for c, n in ml.head(3).items())
            + "。"
        )
    return lines


# ------------------------------------------------------------------ monthly and immediate
def write_monthly_warning(
    result: Any,
    out_dir: str | os.PathLike[str],
    *,
    about: Mapping[str, Any] | None = None,
    data_note: str = "",
    issuer: str | None = None,
) -> list[Path]:
    """Write one month's warning: ``monthly_levels.csv``, ``monthly_triggers.csv``,
    ``monthly_score.csv`` and ``monthly_warning.xlsx`` in ``out_dir``; when the month calls for
    an immediate report, ``immediate/立即报告_<period>.docx`` and ``.xlsx`` (and nothing is
    written to ``immediate/`` in a quiet month)."""
    from samplekit.documents import immediate_report
    from samplekit.io import write_csv, write_xlsx
    from samplekit.warning_monthly import MONTH_HEADERS_ZH, RULE_ZH

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lv = round_floats(result.levels, 4)
    trig = round_floats(result.triggers, 4)
    contrib = round_floats(result.contributions, 4)
    paths = [
        write_csv(lv, out / "monthly_levels.csv"),
        write_csv(trig, out / "monthly_triggers.csv"),
        write_csv(contrib, out / "monthly_score.csv"),
    ]
    headers = {**MONTH_HEADERS_ZH}
    shown_trig = trig.assign(rule=[RULE_ZH.get(r, r) for r in trig["rule"]])
    sheets = {"月度指标等级": lv, "突变触发": shown_trig, "综合得分构成": contrib}
    common = {
        "headers": headers,
        "data_note": data_note,
        "units": "单位:见各指标说明",
        "source": "城市指标表与外部指标表",
        "formats": {
            "value": "dec2",
            "line": "dec2",
            "reference": "dec2",
            "threshold": "dec2",
            "contribution": "dec2",
            "severity": "dec2",
            "family_weight": "dec3",
            "indicator_share": "dec3",
        },
        "about": {"月份": result.period, **(about or {})},
    }
    paths.append(
        write_xlsx(
            sheets,
            out / "monthly_warning.xlsx",
            titles={
                "月度指标等级": f"{result.period} 月度监测指标等级",
                "突变触发": f"{result.period} 重大变化触发",
                "综合得分构成": f"{result.period} 综合得分与各指标贡献",
            },
            **common,
        )
    )
    if result.immediate:
        imm = out / "immediate"
        imm.mkdir(exist_ok=True)
        doc = immediate_report(result, issuer=issuer, data_note=data_note)
        paths.append(doc.save(imm / f"立即报告_{result.period}.docx"))
        rep = shown_trig[shown_trig["city"].isin(result.areas)]
        lv_a = lv[lv["city"].isin(result.areas)]
        paths.append(
            write_xlsx(
                {"触发明细": rep, "月度指标等级": lv_a},
                imm / f"立即报告_{result.period}.xlsx",
                titles={
                    "触发明细": f"{result.period} 重大变化立即报告:触发明细",
                    "月度指标等级": f"{result.period} 有关地区月度指标等级",
                },
                **common,
            )
        )
    return paths


def score_table(result: WarningResult) -> pd.DataFrame:
    """The quarter's composite score per area with its explanation (``city, score, reason``),
    the province first."""
    from samplekit.warning import explain_score

    sc = result.composite_scores
    if sc is None or sc.empty:
        return pd.DataFrame(columns=["city", "score", "reason"])
    cur = sc[sc["quarter"] == result.quarter].copy()
    cur["reason"] = [
        explain_score(result.contributions, result.settings, city=c, period=result.quarter)
        for c in cur["city"]
    ]
    cur["_p"] = cur["city"] != result.province
    cur = cur.sort_values(["_p", "city"], kind="stable")
    return cur[["city", "score", "reason"]].reset_index(drop=True)


def write_county_warning(
    allocation: pd.DataFrame,
    levels: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    quarter: str,
    data_note: str = "",
    about: Mapping[str, Any] | None = None,
    forecast: pd.DataFrame | None = None,
    settings: WarningSettings | None = None,
) -> list[Path]:
    """The third level: ``county_allocation.csv`` (each city's sample re-deployed to its
    counties), ``county_levels.csv`` (county levels; small domains shown, not judged),
    ``county_forecast.csv`` (with ``forecast``: the next quarter by county, small domains
    flagged, not forecast) and ``county.xlsx`` (with ``settings``, the forecast sheet too)."""
    from samplekit.counties import COUNTY_HEADERS_ZH
    from samplekit.io import write_csv, write_xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lv = round_floats(levels, 4) if len(levels) else levels
    paths = [
        write_csv(allocation, out / "county_allocation.csv"),
        write_csv(lv, out / "county_levels.csv"),
    ]
    sheets = {"县区样本再部署": allocation, "县区预警等级": lv}
    if forecast is not None:
        paths.append(write_csv(round_floats(forecast, 4), out / "county_forecast.csv"))
        if settings is not None:
            sheets.update(county_sheets(settings, None, forecast))
    headers = {
        **HEADERS_ZH,
        **FORECAST_HEADERS_ZH,
        **COUNTY_HEADERS_ZH,
        **COUNTY_SHEET_HEADERS_ZH,
        "given": "按给定县区数",
    }
    paths.append(
        write_xlsx(
            sheets,
            out / "county.xlsx",
            headers=headers,
            titles={
                "县区样本再部署": "各市监测任务在县(区)的再部署",
                "县区预警等级": f"{quarter} 县(区)预警指标与等级(样本过少的县区不判断)",
                "县区预测": "县(区)下季度预测与等级(样本过少的县区不预测)",
            },
            data_note=data_note,
            units="单位:见各指标说明",
            formats={
                "value": "dec2",
                "se": "dec3",
                "ci_low": "dec2",
                "ci_high": "dec2",
                "line": "dec2",
                "weight": "dec1",
            },
            about={"季度": quarter, **(about or {})},
        )
    )
    return paths


# ------------------------------------------------------------------- series break (issue 16)
BREAK_HEADERS_ZH: dict[str, str] = {
    "city": "地区",
    "indicator_name": "指标",
    "period": "月份",
    "estimate_old": "旧样本估计",
    "estimate_new": "新样本估计",
    "shift": "口径差异(新−旧)",
    "se": "差异标准误",
    "ci_low": "95%置信下限",
    "ci_high": "95%置信上限",
    "ratio": "比率(新/旧)",
    "ratio_se": "比率标准误",
    "n_old": "旧样本企业数",
    "n_new": "新样本企业数",
    "n_shared": "共同企业数",
    "raw_value": "原始估计",
    "source_zh": "数据来源",
    "basis_zh": "比较口径",
    "note_zh": "说明",
    "series_break": "断点",
}


def has_break(result: WarningResult) -> bool:
    """True when the run's params declare a break inside the compared months."""
    brk = getattr(result, "series_break", None)
    return brk is not None and brk.active


def break_section_zh(result: WarningResult) -> str:
    """The notebooks' 数据来源与序列断点 text: the break note, or that there is none."""
    brk = getattr(result, "series_break", None)
    if brk is None:
        return (
            "参数未声明序列断点(`monthly.break`):本期比较的季度内没有样本断点,"
            "所有数字均按各月在册的同一监测网络样本及其权数估计。"
        )
    return brk.note_zh()


def break_note(result: WarningResult) -> str:
    """The break in one paragraph (empty without a declared break); with a break outside the
    compared months it says there is none in the window."""
    brk = getattr(result, "series_break", None)
    return "" if brk is None else brk.note_zh()


def with_sources(result: WarningResult, levels: pd.DataFrame) -> pd.DataFrame:
    """``levels`` plus ``source_zh, basis_zh, note_zh`` (which panel each value comes from)
    when the run declares a break; unchanged otherwise."""
    if not has_break(result) or result.sources.empty or "indicator" not in levels.columns:
        return levels
    src = result.sources[["quarter", "city", "indicator", "source_zh", "basis_zh", "note_zh"]]
    keys = ["quarter", "city", "indicator"] if "quarter" in levels.columns else None
    if keys is None:
        src = src[src["quarter"] == result.quarter].drop(columns="quarter")
        keys = ["city", "indicator"]
    return levels.merge(src, on=keys, how="left")


def break_table(result: WarningResult, *, cities: bool = False) -> pd.DataFrame:
    """The level shift of the bridged indicators: the province per overlap month and pooled
    (``period`` 重叠月份合计), or with ``cities`` every city's pooled shift."""
    from samplekit.estimation import INDICATOR_NAMES_ZH

    if not has_break(result) or result.series_break.shift.empty:
        return pd.DataFrame(columns=list(BREAK_HEADERS_ZH))
    sh = result.series_break.shift.copy()
    if cities:
        sh = sh[(sh["period"] == "overlap") & (sh["city"] != result.province)]
    else:
        sh = sh[sh["city"] == result.province]
    sh["indicator_name"] = sh["indicator"].map(INDICATOR_NAMES_ZH).fillna(sh["indicator"])
    sh["period"] = sh["period"].replace({"overlap": "重叠月份合计"})
    cols = [
        "city",
        "indicator_name",
        "period",
        "estimate_old",
        "estimate_new",
        "shift",
        "se",
        "ci_low",
        "ci_high",
        "ratio",
        "ratio_se",
        "n_old",
        "n_new",
        "n_shared",
    ]
    return sh[cols].reset_index(drop=True)


def bridged_series_table(result: WarningResult) -> pd.DataFrame:
    """The monthly input series with the old panel's months bridged (what the forecasts read;
    also the ``--series`` of ``samplekit backtest``: ``period, value`` per city and indicator)."""
    m = result.monthly
    if not has_break(result) or "source" not in m.columns:
        return pd.DataFrame(columns=["city", "indicator", "period", "value", "raw_value"])
    cols = ["city", "indicator", "period", "value", "raw_value", "source", "source_zh"]
    return m[[*cols, "series_break"]].reset_index(drop=True)


def plot_series_break(result: WarningResult, city: str | None = None):
    """The bridged monthly series of each bridged indicator for the province (or ``city``):
    the old panel's own estimates, the same months bridged, the new design's, the overlap
    months shaded and a vertical line at the break."""
    from samplekit.plotting import new_figure

    brk = result.series_break
    city = city or result.province
    m = bridged_series_table(result)
    cols = {
        i.key: i
        for i in result.settings.indicators
        if i.source == "estimate" and i.column in brk.settings.indicators
    }
    keys = [k for k in cols if ((m["indicator"] == k) & (m["city"] == city)).any()]
    # Two years before the break and everything after: the break stays readable.
    start = str(pd.Period(brk.settings.month, freq="M") - 24)
    m = m[m["period"].astype(str) >= start]
    fig, axes = new_figure(9, 2.9 * max(len(keys), 1), nrows=max(len(keys), 1), squeeze=False)
    months = sorted(m["period"].unique())
    pos = {p: i for i, p in enumerate(months)}
    for ax, key in zip(axes[:, 0], keys, strict=False):
        d = m[(m["indicator"] == key) & (m["city"] == city)].sort_values("period")
        x = d["period"].map(pos).to_numpy()
        old = (d["source"] != "new_design").to_numpy()
        if brk.overlap:
            lo, hi = pos.get(brk.overlap[0]), pos.get(brk.overlap[-1])
            if lo is not None and hi is not None:
                ax.axvspan(lo - 0.5, hi + 0.5, color="#fff2cc", label="重叠月份(两套样本同时报送)")
        ax.plot(
            x[old],
            d["raw_value"].to_numpy()[old],
            color="#999999",
            ls="--",
            lw=1.1,
            label="旧样本(3000家)原始估计",
        )
        ax.plot(
            x[old],
            d["value"].to_numpy()[old],
            color="#1f77b4",
            lw=1.4,
            label="衔接序列(旧样本按口径差异调整)",
        )
        ax.plot(
            x[~old],
            d["value"].to_numpy()[~old],
            color="#333333",
            lw=1.6,
            marker="o",
            ms=3,
            label="新样本(10000家)",
        )
        if brk.settings.month in pos:
            xb = pos[brk.settings.month] - 0.5
            ax.axvline(xb, color="#d62728", ls="--", lw=1.2)
            ax.text(
                xb,
                0.97,
                f" 断点 {brk.settings.month}",
                transform=ax.get_xaxis_transform(),
                color="#d62728",
                fontsize=8,
                va="top",
            )
        ax.set_ylabel(_column_name(cols[key].column), fontsize=8)
        step = 3
        ax.set_xticks(range(0, len(months), step))
        ax.set_xticklabels(months[::step], rotation=30, ha="right", fontsize=7)
    # One legend under the last panel: inside the axes it covered the series.
    axes[-1, 0].legend(
        fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, frameon=False
    )
    axes[0, 0].set_title(
        f"{city}月度序列:断点前后的数据来源与衔接({METHOD_TITLE.get(brk.settings.method, '')})"
    )
    fig.tight_layout()
    return fig


METHOD_TITLE: dict[str, str] = {"shift": "水平差值衔接", "ratio": "比率衔接"}


def _column_name(column: str) -> str:
    from samplekit.estimation import INDICATOR_NAMES_ZH

    return f"月度{INDICATOR_NAMES_ZH.get(column, column)}"


def write_series_break(
    result: WarningResult, out_dir: str | os.PathLike[str], *, figures: bool = True
) -> list[Path]:
    """The break's side files: ``series_break_shift.csv`` (province per month and pooled, then
    each city pooled), ``series_bridged.csv`` (the bridged monthly inputs),
    ``backtest_series_<indicator>.csv`` (the province's bridged series, ``period,value``) and
    ``fig_series_break.png``; nothing without a break inside the compared months."""
    from samplekit.io import write_csv

    if not has_break(result):
        return []
    out = Path(out_dir)
    shift = pd.concat([break_table(result), break_table(result, cities=True)], ignore_index=True)
    paths = [write_csv(round_floats(shift, 4), out / "series_break_shift.csv")]
    series = bridged_series_table(result)
    if len(series):
        paths.append(write_csv(round_floats(series, 4), out / "series_bridged.csv"))
        # The province's bridged history per indicator as ``period,value``: the --series input
        # of ``samplekit backtest`` (the change of panel is not an episode).
        prov = series[(series["city"] == result.province) & (series["source"] != "city")]
        for key, grp in prov.groupby("indicator", sort=True):
            back = round_floats(grp[["period", "value"]].sort_values("period"), 6)
            paths.append(write_csv(back, out / f"backtest_series_{key}.csv"))
        if figures:
            paths.append(_save(plot_series_break(result), out / "fig_series_break.png"))
    return paths


def break_summary_zh(result: WarningResult) -> str:
    """One sentence for the summary: the break, and how the quarter's comparisons handle it."""
    brk = result.series_break
    month = brk.settings.month
    src = result.sources
    cur = src[(src["quarter"] == result.quarter) & (src["city"] == result.province)]
    names = {i.key: i.name for i in result.settings.indicators}
    bridged = [names[k] for k in cur.loc[cur["basis"] == "bridged", "indicator"]]
    refused = [names[k] for k in cur.loc[cur["basis"] == "not_comparable", "indicator"]]
    text = (
        f"监测样本于{month[:4]}年{int(month[5:])}月由旧样本(3000家)扩为新样本(10000家),"
        "断点前的数据已按重叠月份估计的口径差异衔接"
        if brk.status == "bridged"
        else f"监测样本于{month[:4]}年{int(month[5:])}月由旧样本(3000家)扩为新样本(10000家),"
        "尚无重叠月份可衔接"
    )
    if bridged:
        text += ";" + "、".join(bridged) + "的同比按衔接序列计算"
    if refused:
        text += ";" + "、".join(refused) + "跨断点不能同比,本季度不判定等级"
    return text + "。"
