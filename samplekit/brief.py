"""The quarterly brief of the monitoring panel (监测简报, seed 001 "数据运用(二)常规简报").

Five headings, each computed here from data the package already holds (pure: DataFrames and
plain values in, a :class:`Brief` out; the job layer reads the store and the register):

1. 监测样本概况 — the panel this quarter: members in force, the ministry network, response per
   month and by city, the windows of the panel of record;
2. 监测数据结构 — the members by city, industry section, size class and ownership against the
   register (unweighted and weighted shares);
3. 监测指标提炼 — the key indicators of the quarter (``estimation.estimate``) with intervals and
   their changes on the matched panel (``estimation.change_between``) against the previous
   quarter and the same quarter a year earlier;
4. 监测观点概括 — viewpoints generated from the numbers: what moved, where (cities, sections
   whose year-on-year change is significant), how sure (intervals, response, small domains);
5. 监测趋势研判 — forecasts of the next quarter with prediction intervals and the probability of
   crossing each warning line (from the warning result).

The word-for-word documents are built by :mod:`samplekit.brief_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import InputError
from samplekit.periods import quarter_months

#: Key indicators of the brief, in reading order (estimation indicators).
KEY_INDICATORS: tuple[str, ...] = (
    "net_change_rate",
    "job_loss_rate",
    "share_reducing",
    "survey_employment",
)

#: Chinese names used in the brief (quarterly readings of the estimation indicators).
BRIEF_NAMES_ZH: dict[str, str] = {
    "net_change_rate": "就业人数净变动率(%)",
    "job_loss_rate": "岗位流失率(%)",
    "share_reducing": "减员企业占比(%)",
    "survey_employment": "期末就业人数(人)",
}
#: Units of a change of each indicator (rates change in percentage points).
CHANGE_UNIT_ZH: dict[str, str] = {
    "net_change_rate": "个百分点",
    "job_loss_rate": "个百分点",
    "share_reducing": "个百分点",
    "survey_employment": "人",
}
#: Indicators whose rise is bad news (for the wording of viewpoints).
RISE_IS_WORSE: dict[str, bool] = {
    "net_change_rate": False,
    "job_loss_rate": True,
    "share_reducing": True,
    "survey_employment": False,
}
#: Dimensions of the data-structure heading.
STRUCTURE_DIMENSIONS: tuple[str, ...] = ("city", "section", "size_class", "ownership")
DIMENSION_ZH: dict[str, str] = {
    "city": "地市",
    "section": "行业门类",
    "size_class": "企业规模",
    "ownership": "经济类型",
}


@dataclass(frozen=True)
class Brief:
    """Everything the quarterly brief shows (see the module docstring for the headings)."""

    quarter: str
    province: str
    overview: dict[str, Any]
    response: pd.DataFrame  # period, members, reported, response_rate (province, by month)
    city_response: pd.DataFrame  # city, members, reported, response_rate (quarter, 3 months)
    windows: pd.DataFrame  # the windows of the panel of record, in_force flag
    structure: pd.DataFrame  # dimension, value, members, member_share, weighted_share, ...
    indicators: pd.DataFrame  # key indicators, with changes vs previous / year-ago quarter
    domains: pd.DataFrame  # year-on-year changes by city and by section
    series: pd.DataFrame  # monthly province series of the rate indicators (charts)
    viewpoints: list[str] = field(default_factory=list)
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)
    trend_text: list[str] = field(default_factory=list)
    level: float = 0.95

    @property
    def previous(self) -> str:
        return str(pd.Period(self.quarter, freq="Q") - 1)

    @property
    def year_ago(self) -> str:
        return str(pd.Period(self.quarter, freq="Q") - 4)


# ------------------------------------------------------------------------------ 1. overview
def _design_rows(membership: pd.DataFrame) -> pd.DataFrame:
    """Membership rows that are part of the design (individual organisations left out)."""
    from samplekit.estimation import _flag

    if "individual" in membership.columns:
        return membership.loc[~_flag(membership["individual"])]
    return membership


def members_in_force(membership: pd.DataFrame, period: str) -> pd.DataFrame:
    """The design rows in force in month ``period`` (``valid_from ≤ period ≤ valid_to``)."""
    rows = _design_rows(membership)
    start = rows["valid_from"].astype(str)
    end = rows["valid_to"] if "valid_to" in rows.columns else pd.Series(None, index=rows.index)
    open_ = end.isna() | end.astype(str).isin(["", "None", "nan"])
    keep = (start <= period) & (open_ | (end.astype(str) >= period))
    return rows.loc[keep.to_numpy()].reset_index(drop=True)


def response_by_month(
    reports: pd.DataFrame, membership: pd.DataFrame, months: Sequence[str], *, by: str | None = None
) -> pd.DataFrame:
    """Members in force, members with a report, and the response rate (%) of each month.

    With ``by`` (e.g. ``"city"``) the counts are summed over the months per domain instead.
    """
    rep = reports[["enterprise_id", "period"]].astype(str)
    parts = []
    for m in months:
        members = members_in_force(membership, m)
        ids = set(rep.loc[rep["period"] == m, "enterprise_id"])
        members = members.assign(period=m, _rep=members["enterprise_id"].astype(str).isin(ids))
        parts.append(members)
    allm = pd.concat(parts, ignore_index=True)
    keys = [by] if by else ["period"]
    out = (
        allm.groupby(keys, sort=True)
        .agg(members=("enterprise_id", "size"), reported=("_rep", "sum"))
        .reset_index()
    )
    out["reported"] = out["reported"].astype(int)
    out["response_rate"] = 100 * out["reported"] / out["members"]
    return out


def panel_overview(
    reports: pd.DataFrame, membership: pd.DataFrame, windows: pd.DataFrame, *, quarter: str
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Heading 1: ``(figures, response by month, response by city, windows)``.

    ``figures``: members in force at the quarter's last month, of which in the ministry
    network, cities and sections covered, the response over the quarter, the window in force
    and whether a window took effect inside the quarter.
    """
    from samplekit.estimation import _flag

    months = quarter_months(quarter)
    last = members_in_force(membership, months[-1])
    response = response_by_month(reports, membership, months)
    by_city = response_by_month(reports, membership, months, by="city")
    win = windows.copy()
    eff = win["effective"].astype(str) if len(win) else pd.Series(dtype=str)
    in_force = (eff <= months[0]) if len(win) else pd.Series(dtype=bool)
    win["in_force"] = False
    if len(win) and in_force.any():
        win.loc[in_force[in_force].index[-1], "in_force"] = True
    inside = win[(eff > months[0]) & (eff <= months[-1])] if len(win) else win
    ministry = int(_flag(last["ministry"]).sum()) if "ministry" in last.columns else None
    figures = {
        "members": len(last),
        "ministry": ministry,
        "cities": int(last["city"].nunique()),
        "sections": int(last["section"].nunique()),
        "reported": int(response["reported"].sum()),
        "expected": int(response["members"].sum()),
        "response_rate": float(100 * response["reported"].sum() / response["members"].sum())
        if response["members"].sum()
        else float("nan"),
        "windows": len(win),
        "window_in_force": int(win.loc[win["in_force"], "window_id"].iloc[0])
        if win["in_force"].any()
        else None,
        "window_inside": [str(e) for e in inside["effective"]] if len(inside) else [],
    }
    if len(win) and "in_force" in win and win["in_force"].any():
        row = win.loc[win["in_force"]].iloc[0]
        figures["window_effective"] = str(row["effective"])
        figures["entered"] = int(row["entered"]) if pd.notna(row["entered"]) else 0
        figures["exited"] = int(row["exited"]) if pd.notna(row["exited"]) else 0
    cols = [
        c
        for c in (
            "window_id",
            "kind",
            "window_month",
            "effective",
            "members",
            "entered",
            "exited",
            "forced",
            "in_force",
        )
        if c in win.columns
    ]
    return figures, response, by_city.sort_values("response_rate", kind="stable"), win[cols]


# ------------------------------------------------------------------------------ 2. structure
def data_structure(
    membership: pd.DataFrame,
    register: pd.DataFrame,
    *,
    period: str,
    weight: str = "calibrated_weight",
    dimensions: Sequence[str] = STRUCTURE_DIMENSIONS,
) -> pd.DataFrame:
    """Heading 2: the members in force in ``period`` against the register, per dimension.

    Returns ``dimension, value, members, member_share, weighted_share, register_units,
    register_share, register_employment_share, gap`` (shares in %, ``gap`` = member share −
    register share in points). The register counts its active units (``status == "active"``
    when the column exists). ``weighted_share`` is the members' share of the weight total: the
    weights restore the register's structure when calibration used that margin.
    """
    missing = [d for d in dimensions if d not in register.columns or d not in membership.columns]
    if missing:
        raise InputError(
            f"data_structure: column(s) {', '.join(missing)} missing from the "
            "register or the membership; both need city, section, size_class, "
            "ownership"
        )
    reg = register
    if "status" in reg.columns:
        reg = reg[reg["status"].astype(str) == "active"]
    members = members_in_force(membership, period)
    w = pd.to_numeric(members[weight], errors="coerce").fillna(0.0)
    emp = (
        pd.to_numeric(reg["employees"], errors="coerce").fillna(0.0)
        if "employees" in reg.columns
        else pd.Series(0.0, index=reg.index)
    )
    parts = []
    for dim in dimensions:
        m = members.groupby(members[dim].astype(str)).size().rename("members")
        ws = w.groupby(members[dim].astype(str)).sum().rename("_w")
        r = reg.groupby(reg[dim].astype(str)).size().rename("register_units")
        e = emp.groupby(reg[dim].astype(str)).sum().rename("_e")
        df = pd.concat([m, ws, r, e], axis=1).fillna(0).rename_axis("value").reset_index()
        df["members"] = df["members"].astype(int)
        df["register_units"] = df["register_units"].astype(int)
        df["member_share"] = 100 * df["members"] / max(df["members"].sum(), 1)
        df["weighted_share"] = 100 * df["_w"] / (df["_w"].sum() or np.nan)
        df["register_share"] = 100 * df["register_units"] / max(df["register_units"].sum(), 1)
        df["register_employment_share"] = 100 * df["_e"] / (df["_e"].sum() or np.nan)
        df["gap"] = df["member_share"] - df["register_share"]
        parts.append(df.drop(columns=["_w", "_e"]).assign(dimension=dim))
    cols = [
        "dimension",
        "value",
        "members",
        "member_share",
        "weighted_share",
        "register_units",
        "register_share",
        "register_employment_share",
        "gap",
    ]
    return pd.concat(parts, ignore_index=True)[cols]


# ------------------------------------------------------------------------------ 3. indicators
def _history(reports: pd.DataFrame, last_month: str) -> pd.DataFrame:
    return reports[reports["period"].astype(str) <= last_month]


def key_indicators(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    quarter: str,
    indicators: Sequence[str] = KEY_INDICATORS,
    level: float = 0.95,
    min_reporters: int = 5,
) -> pd.DataFrame:
    """Heading 3: the province's key indicators of ``quarter`` and their changes.

    ``estimate, se, ci_low, ci_high, n_reporters`` are :func:`samplekit.estimation.estimate`
    for the quarter (members in force and reporting in all three months); the changes
    ``change_prev`` (against the previous quarter) and ``change_yoy`` (the same quarter a year
    earlier), each with ``_low``/``_high`` bounds and ``_n`` matched reporters, are
    :func:`samplekit.estimation.change_between` on the matched panel (so a change is not the
    difference of two quarterly estimates with different members). A comparison quarter without
    reports gives NaN.
    """
    from samplekit.estimation import change_between, estimate

    months = quarter_months(quarter)
    rep = _history(reports, months[-1])
    have = set(rep["period"].astype(str))
    if not set(months) <= have:
        raise InputError(f"quarter {quarter}: the reports do not cover its months {months}")
    est = estimate(
        rep,
        membership,
        periods=quarter,
        indicators=list(indicators),
        level=level,
        min_reporters=min_reporters,
    )
    out = est[["indicator", "estimate", "se", "ci_low", "ci_high", "n_reporters"]].copy()
    out.insert(1, "name", out["indicator"].map(BRIEF_NAMES_ZH))
    q = pd.Period(quarter, freq="Q")
    for tag, other in (("prev", str(q - 1)), ("yoy", str(q - 4))):
        vals = {k: [] for k in ("", "_low", "_high", "_n")}
        ok = set(quarter_months(other)) <= have
        for ind in out["indicator"]:
            if ok:
                ch = change_between(
                    rep,
                    membership,
                    period_a=other,
                    period_b=quarter,
                    indicator=ind,
                    level=level,
                    min_reporters=min_reporters,
                )
                r = ch.iloc[0]
                got = (r["estimate"], r["ci_low"], r["ci_high"], int(r["n_reporters"]))
            else:
                got = (np.nan, np.nan, np.nan, 0)
            for k, v in zip(vals, got, strict=True):
                vals[k].append(v)
        for k, v in vals.items():
            out[f"change_{tag}{k}"] = v
        out[f"quarter_{tag}"] = other
    return out.reset_index(drop=True)


def domain_changes(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    quarter: str,
    compare: str,
    dims: Sequence[str] = ("city", "section"),
    indicators: Sequence[str] = ("job_loss_rate", "net_change_rate"),
    level: float = 0.95,
    min_reporters: int = 5,
) -> pd.DataFrame:
    """Changes of rate indicators by domain between ``compare`` and ``quarter`` (matched panel).

    Returns ``dimension, domain, indicator, estimate_a, estimate_b, change, ci_low, ci_high,
    n_reporters, small_domain, significant`` where ``significant`` is "up" / "down" when the
    interval excludes 0 (never for a small domain) and "" otherwise.
    """
    from samplekit.estimation import change_between

    rep = _history(reports, quarter_months(quarter)[-1])
    have = set(rep["period"].astype(str))
    cols = [
        "dimension",
        "domain",
        "indicator",
        "estimate_a",
        "estimate_b",
        "change",
        "ci_low",
        "ci_high",
        "n_reporters",
        "small_domain",
        "significant",
    ]
    if not set(quarter_months(compare)) <= have:
        return pd.DataFrame(columns=cols)
    parts = []
    for dim in dims:
        for ind in indicators:
            ch = change_between(
                rep,
                membership,
                period_a=compare,
                period_b=quarter,
                indicator=ind,
                by=[dim],
                level=level,
                min_reporters=min_reporters,
            )
            parts.append(
                ch.rename(columns={dim: "domain", "estimate": "change"}).assign(dimension=dim)
            )
    out = pd.concat(parts, ignore_index=True)
    out["domain"] = out["domain"].astype(str)
    sig = np.where(out["ci_low"] > 0, "up", np.where(out["ci_high"] < 0, "down", ""))
    out["significant"] = np.where(out["small_domain"], "", sig)
    return out[cols]


def province_series(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    last_month: str,
    months: int = 24,
    indicators: Sequence[str] = ("net_change_rate", "job_loss_rate"),
    level: float = 0.95,
) -> pd.DataFrame:
    """Monthly province estimates with intervals (``estimation.monthly_series``) of the last
    ``months`` months up to ``last_month``: ``indicator, period, estimate, ci_low, ci_high``."""
    from samplekit.estimation import monthly_series

    first = str(pd.Period(last_month, freq="M") - (months - 1))
    period = reports["period"].astype(str)
    # Earlier months are kept for the members that closed (a closure is found from its last
    # report), the shown window for everyone.
    zero = pd.to_numeric(reports["survey_employment"], errors="coerce") == 0
    ever_zero = reports["enterprise_id"].isin(set(reports.loc[zero, "enterprise_id"]))
    rep = reports[(period <= last_month) & ((period >= first) | ever_zero)]
    parts = []
    for ind in indicators:
        s = monthly_series(rep, membership, indicator=ind, level=level)
        parts.append(s[s["period"] >= first].assign(indicator=ind))
    out = pd.concat(parts, ignore_index=True)
    return out[["indicator", "period", "estimate", "ci_low", "ci_high", "n_reporters"]]


# ------------------------------------------------------------------------------ 4. viewpoints
def _fmt_change(value: float, unit: str) -> str:
    if unit == "人":
        return f"{value:+,.0f}人"
    return f"{value:+.2f}{unit}"


def _moved(value: float, low: float, high: float, indicator: str) -> str:
    """How a change reads: direction, and whether the interval excludes zero."""
    unit = CHANGE_UNIT_ZH[indicator]
    size = f"{abs(value):,.0f}人" if unit == "人" else f"{abs(value):.2f}{unit}"
    word = "上升" if value > 0 else "下降" if value < 0 else "持平"
    ci = (
        f"95%置信区间{low:+,.0f}~{high:+,.0f}人"
        if unit == "人"
        else f"95%置信区间{low:+.2f}~{high:+.2f}"
    )
    if low > 0 or high < 0:
        return f"{word}{size}({ci},变动显著)"
    return f"{word}{size}({ci},在抽样误差范围内)"


def viewpoints(
    indicators: pd.DataFrame,
    domains: pd.DataFrame,
    overview: dict[str, Any],
    *,
    quarter: str,
    province: str,
    warning: Any = None,
    min_reporters: int = 5,
    top: int = 4,
) -> list[str]:
    """Heading 4: viewpoints generated from the numbers — what moved, where, how sure.

    No result is written into the wording: every sentence is assembled from ``indicators``
    (:func:`key_indicators`), ``domains`` (:func:`domain_changes`), ``overview``
    (:func:`panel_overview`) and, when given, the warning result's composite levels.
    """
    lines: list[str] = []
    ind = indicators.set_index("indicator")
    # What moved (the province).
    for key in ("net_change_rate", "job_loss_rate", "share_reducing"):
        if key not in ind.index:
            continue
        r = ind.loc[key]
        text = (
            f"{quarter}{province}监测企业{BRIEF_NAMES_ZH[key].split('(')[0]}为"
            f"{r['estimate']:.2f}%(95%置信区间{r['ci_low']:.2f}%~{r['ci_high']:.2f}%)"
        )
        parts = []
        for tag, label in (("prev", "较上季度"), ("yoy", "较上年同期")):
            if pd.notna(r[f"change_{tag}"]):
                parts.append(
                    label
                    + _moved(
                        r[f"change_{tag}"], r[f"change_{tag}_low"], r[f"change_{tag}_high"], key
                    )
                )
        lines.append(text + (",按匹配样本" + ",".join(parts) if parts else "") + "。")
    # Where: domains whose year-on-year change is significant.
    for dim, word in (("city", "地市"), ("section", "行业")):
        for key in ("job_loss_rate", "net_change_rate"):
            d = domains[(domains["dimension"] == dim) & (domains["indicator"] == key)]
            if not len(d):
                continue
            name = BRIEF_NAMES_ZH[key].split("(")[0]
            label = (lambda v: v) if dim == "city" else _section_label
            bad_dir = "up" if RISE_IS_WORSE[key] else "down"
            bad = d[d["significant"] == bad_dir].sort_values(
                "change", ascending=not RISE_IS_WORSE[key]
            )
            good = d[(d["significant"] != "") & (d["significant"] != bad_dir)]
            worse = "上升" if RISE_IS_WORSE[key] else "下降"
            if len(bad):
                items = "、".join(
                    f"{label(r.domain)}({_fmt_change(r.change, '个百分点')})"
                    for r in bad.head(top).itertuples()
                )
                more = f"等{len(bad)}个" if len(bad) > top else f"{len(bad)}个"
                lines.append(
                    f"分{word}看,{name}同比显著{worse}的有{items}{more}{word};"
                    + (f"显著改善的{word}{len(good)}个;" if len(good) else "")
                    + f"其余{len(d) - len(bad) - len(good)}个{word}的变动在抽样误差"
                    "范围内。"
                )
            elif key == "job_loss_rate":
                lines.append(
                    f"分{word}看,没有{word}的{name}同比显著{worse}"
                    + (f",显著改善的{word}{len(good)}个。" if len(good) else "。")
                )
    # How sure.
    small = domains[domains["small_domain"] & (domains["dimension"] == "city")]
    sure = (
        f"判断依据:以上变动均按95%置信区间判断(泰勒线性化,分层设计),变动按前后两期都报送的"
        f"匹配样本计算;本季度应报{overview['expected']:,}家次,实报{overview['reported']:,}"
        f"家次,报送率{overview['response_rate']:.1f}%,未报企业按层内随机缺报调整权数。"
    )
    if len(small):
        sure += (
            "报送企业少于"
            f"{min_reporters}家的地市("
            + "、".join(sorted(set(small["domain"])))
            + ")估计不稳定,不作判断。"
        )
    lines.append(sure)
    if overview.get("window_inside"):
        lines.append(
            "本季度内有样本轮换窗口生效("
            + "、".join(overview["window_inside"])
            + "),季度估计按季初在册且三个月均在册的企业计算。"
        )
    if warning is not None:
        comp = warning.current_composite
        prov = comp[comp["city"] == province]
        alarm = comp[(comp["city"] != province) & (comp["composite_rank"] > 0)]
        s = warning.settings
        if len(prov):
            rank = int(prov["composite_rank"].iloc[0])
            head = (
                f"对照预警线,全省综合预警等级为{s.level_code(rank)}级({s.level_name(rank)})"
                if rank
                else "对照预警线,全省未触及警戒线"
            )
            lines.append(
                head
                + (
                    f",{len(alarm)}个地市处于预警状态("
                    + "、".join(f"{r.city}{r.composite_level}级" for r in alarm.itertuples())
                    + ")。"
                    if len(alarm)
                    else ",各地市均未触及警戒线。"
                )
            )
    return lines


def _bare(name: str) -> str:
    """An indicator name without its unit in brackets: 城镇登记失业率(%) → 城镇登记失业率."""
    return name.split("(")[0]


def _section_label(code: str) -> str:
    from samplekit.reference import section_names

    return section_names().get(str(code), str(code))


# ------------------------------------------------------------------------------ 5. trend
def trend_judgement(warning: Any, *, top: int = 5) -> tuple[pd.DataFrame, list[str]]:
    """Heading 5: the next quarter's forecasts of the province with prediction intervals and the
    probability of crossing each line, and the cities most likely to cross the first line.

    Returns ``(table, sentences)``; the table has ``indicator, name, target, model, forecast,
    pi_low, pi_high`` and one ``p_<level code>`` column per warning level.
    """
    s = warning.settings
    names = {i.key: i.name for i in s.indicators}
    fc = warning.forecasts
    cols = [
        "indicator",
        "name",
        "target",
        "model",
        "forecast",
        "pi_low",
        "pi_high",
        *[f"p_{lv.code}" for lv in s.levels],
    ]
    if not len(fc):
        return pd.DataFrame(columns=cols), ["本季度未作预测(历史数据不足或预测已关闭)。"]
    prov = fc[(fc["kind"] == "quarter") & (fc["city"] == warning.province)].copy()
    cr = warning.crossing
    pc = (
        cr[cr["city"] == warning.province].pivot_table(
            index="indicator", columns="level", values="probability"
        )
        if len(cr)
        else pd.DataFrame()
    )
    rows, lines = [], []
    for r in prov.itertuples():
        row = {
            "indicator": r.indicator,
            "name": names.get(r.indicator, r.indicator),
            "target": r.target,
            "model": r.model,
            "forecast": r.forecast,
            "pi_low": r.pi_low,
            "pi_high": r.pi_high,
        }
        for lv in s.levels:
            row[f"p_{lv.code}"] = (
                float(pc.loc[r.indicator, lv.code])
                if r.indicator in pc.index and lv.code in pc.columns
                else np.nan
            )
        rows.append(row)
        ind = s.indicator(r.indicator)
        p1 = row[f"p_{s.levels[0].code}"]
        line = ind.lines_for(warning.province, province=warning.province)[0]
        unit = {"%": "%", "百分点": "个百分点"}.get(ind.unit, ind.unit)
        lines.append(
            f"预计{r.target}全省{_bare(row['name'])}为{r.forecast:.2f}{unit}(95%预测区间"
            f"{r.pi_low:.2f}~{r.pi_high:.2f}{unit})"
            + (
                f",越过{s.levels[0].code}级警戒线({line:g}{unit})的概率为{p1:.0%}。"
                if pd.notna(p1)
                else "。"
            )
        )
    table = pd.DataFrame(rows, columns=cols)
    if len(cr):
        first = cr[(cr["level"] == s.levels[0].code) & (cr["city"] != warning.province)]
        risky = first[first["probability"] >= 0.5].sort_values(
            ["probability", "city"], ascending=[False, True]
        )
        if len(risky):
            lines.append(
                f"下季度越过{s.levels[0].code}级警戒线概率不低于50%的地市指标有"
                f"{len(risky)}项,最高的是"
                + "、".join(
                    f"{r.city}{_bare(names.get(r.indicator, r.indicator))}({r.probability:.0%})"
                    for r in risky.head(top).itertuples()
                )
                + "。"
            )
        else:
            lines.append(f"各地市下季度越过{s.levels[0].code}级警戒线的概率均低于50%。")
    lines.append(
        "预测模型按滚动起点的样本外误差选择;预测区间与越线概率来自所选模型的模拟路径,"
        "未计入抽样误差,应与置信区间一并解读。"
    )
    return table, lines


# ------------------------------------------------------------------------------ the brief
def compute_brief(
    *,
    quarter: str,
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    windows: pd.DataFrame,
    register: pd.DataFrame,
    province: str,
    warning: Any = None,
    level: float = 0.95,
    min_reporters: int = 5,
    series_months: int = 24,
) -> Brief:
    """The quarterly brief of ``quarter`` (pure).

    Parameters
    ----------
    quarter : str
        ``"2013Q4"``.
    reports : DataFrame
        Accepted monthly reports (``store.read_reports``), at least up to the quarter.
    membership : DataFrame
        The panel of record (``store.read_membership``): every estimate uses the members in
        force in its months, with their window's weights.
    windows : DataFrame
        ``store.read_windows``.
    register : DataFrame
        The classified register (``jobs.register``) for the data structure.
    province : str
        The province's name (labels).
    warning : WarningResult, optional
        ``warning.compute_warning`` of the same quarter: the composite level in the viewpoints
        and the whole trend judgement; without it the fifth heading is empty.

    Examples
    --------
    >>> b = compute_brief(quarter="2013Q4", reports=r, membership=m, windows=w,
    ...                   register=f, province="广东省", warning=res)  # doctest: +SKIP
    >>> b.indicators[["indicator", "estimate", "ci_low", "ci_high"]]  # doctest: +SKIP
    """
    months = quarter_months(quarter)
    figures, response, city_response, win = panel_overview(
        reports, membership, windows, quarter=quarter
    )
    structure = data_structure(membership, register, period=months[-1])
    indicators = key_indicators(
        reports, membership, quarter=quarter, level=level, min_reporters=min_reporters
    )
    year_ago = str(pd.Period(quarter, freq="Q") - 4)
    domains = domain_changes(
        reports,
        membership,
        quarter=quarter,
        compare=year_ago,
        level=level,
        min_reporters=min_reporters,
    )
    series = province_series(
        reports, membership, last_month=months[-1], months=series_months, level=level
    )
    views = viewpoints(
        indicators,
        domains,
        figures,
        quarter=quarter,
        province=province,
        warning=warning,
        min_reporters=min_reporters,
    )
    if warning is not None:
        trend, trend_text = trend_judgement(warning)
    else:
        trend, trend_text = pd.DataFrame(), ["未提供预警结果,本节从略。"]
    return Brief(
        quarter=quarter,
        province=province,
        overview=figures,
        response=response,
        city_response=city_response,
        windows=win,
        structure=structure,
        indicators=indicators,
        domains=domains,
        series=series,
        viewpoints=views,
        trend=trend,
        trend_text=trend_text,
        level=level,
    )
