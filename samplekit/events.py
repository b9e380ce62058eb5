"""Supplementary records: out-of-sample mass layoffs (补充数据) and layoff-plan notices (裁员方案报告).

Seeds: "监测范围之外的企业如出现较大规模经济性裁员等情况,也应作为定期监测的补充数据,及时予以反映,并作出说明"
(seed 001) — firms outside the panel with large layoffs are reported as supplementary data, with
an explanation; "企业需要裁减100人以上或占企业职工总数百分之十以上的,其裁减人员方案要及时向当地劳动行政部门报告"
(seed 002) — advance notices of layoff plans.

These records are a second kind of record, validated like the monthly form (every problem named
with file, row, column and rule; rejected rows quarantined) and stored apart from the panel's
reports (``events`` table). They are **never** mixed into design-based estimates: a firm outside
the sample has no design weight, and a notice is a plan, not a measured fall. They are listed
beside the panel's mass layoffs, and the persons in notices received per city and month are a
candidate leading indicator (:func:`notice_persons`, :func:`lead_correlation`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import ParamsError
from samplekit.rules import MassLayoffRule
from samplekit.sidefiles import (
    Problems,
    SideFile,
    blank,
    credit_code_problem,
    parse_date,
    parse_float,
    parse_int,
    read_side_file,
)

RECORD_TYPES: dict[str, str] = {"supplementary": "补充数据", "notice": "裁员方案报告"}
EVENT_TYPES: dict[str, str] = {
    "closure": "关闭破产",
    "suspension": "停业整顿",
    "layoff": "经济性裁员",
    "relocation": "企业迁出本市",
    "other": "其他",
}
_RECORD_ALIASES = {
    "supplementary": "supplementary",
    "补充数据": "supplementary",
    "补充": "supplementary",
    "监测范围外": "supplementary",
    "notice": "notice",
    "裁员方案报告": "notice",
    "裁员方案": "notice",
    "方案报告": "notice",
    "裁员预报": "notice",
}
_TYPE_ALIASES = {
    **{k: k for k in EVENT_TYPES},
    **{v: k for k, v in EVENT_TYPES.items()},
    "迁出本市": "relocation",
    "业务转移": "relocation",
    "关闭": "closure",
    "破产": "closure",
    "停产": "suspension",
    "裁员": "layoff",
}

#: Canonical columns of an event file (``reason_1..3`` come from one 主要原因 cell or three).
EVENT_FILE_COLUMNS: list[str] = [
    "record_type",
    "city",
    "firm_name",
    "credit_code",
    "event_date",
    "persons",
    "staff",
    "share_pct",
    "type",
    "reasons",
    "reason_1",
    "reason_2",
    "reason_3",
    "source",
    "explanation",
    "planned_date",
]
REQUIRED: list[str] = ["record_type", "city", "firm_name", "credit_code", "event_date", "persons"]
ALIASES: dict[str, str] = {
    "记录类型": "record_type",
    "类别": "record_type",
    "城市": "city",
    "所在城市": "city",
    "监测城市": "city",
    "企业名称": "firm_name",
    "单位名称": "firm_name",
    "统一社会信用代码": "credit_code",
    "信用代码": "credit_code",
    "日期": "event_date",
    "发生日期": "event_date",
    "报告日期": "event_date",
    "涉及人数": "persons",
    "裁减人数": "persons",
    "减少人数": "persons",
    "职工总数": "staff",
    "企业职工总数": "staff",
    "从业人数": "staff",
    "占职工比例": "share_pct",
    "裁减比例": "share_pct",
    "类型": "type",
    "减少类型": "type",
    "主要原因": "reasons",
    "就业人数减少主要原因": "reasons",
    "主要原因1": "reason_1",
    "主要原因2": "reason_2",
    "主要原因3": "reason_3",
    "信息来源": "source",
    "来源": "source",
    "说明": "explanation",
    "情况说明": "explanation",
    "计划实施日期": "planned_date",
    **{c: c for c in EVENT_FILE_COLUMNS},
}
HEADERS_ZH: dict[str, str] = {
    "record_type": "记录类型",
    "record_type_zh": "记录类型",
    "city": "城市",
    "firm_name": "企业名称",
    "credit_code": "统一社会信用代码",
    "event_date": "日期",
    "period": "月份",
    "persons": "涉及人数",
    "staff": "职工总数",
    "share_pct": "占职工比例(%)",
    "type": "类型",
    "type_zh": "类型",
    "reasons": "主要原因",
    "source": "信息来源",
    "explanation": "说明",
    "planned_date": "计划实施日期",
    "in_panel": "是否监测企业",
    "notice_persons": "裁员方案涉及人数",
    "notices": "裁员方案报告数",
    "lag": "领先月数",
    "correlation": "相关系数",
    "pairs": "样本月数",
}


@dataclass(frozen=True)
class EventSettings:
    """Thresholds of the supplementary records (``monthly.events`` in params).

    Attributes
    ----------
    min_persons, min_share
        A record below both (fewer persons and a smaller share of staff) is flagged
        ``below_threshold`` (seed 002: 100 persons or 10 % of staff).
    share_tolerance_pct
        Reported share of staff vs 100 × persons ÷ staff: a larger gap (points) is flagged.
    """

    min_persons: int = 100
    min_share: float = 0.10
    share_tolerance_pct: float = 1.0

    @classmethod
    def from_params(cls, params: Any) -> EventSettings:
        """Read ``monthly.events`` (missing keys keep their defaults)."""
        d = cls()
        if params is None:
            return d
        base = "monthly.events"
        sec = params.get(base, {}) or {}
        if not isinstance(sec, Mapping):
            raise ParamsError(f"{params.path}: '{base}' must be a mapping, found {sec!r}")
        allowed = {"share_tolerance_pct"}  # the thresholds: the one rule monthly.mass_layoff
        unknown = sorted(set(sec) - allowed)
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {', '.join(unknown)} in '{base}'; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        rule = MassLayoffRule.from_params(params)
        return cls(
            min_persons=rule.min_persons,
            min_share=rule.min_share,
            share_tolerance_pct=float(
                params.number(f"{base}.share_tolerance_pct", d.share_tolerance_pct, low=0)
            ),
        )


def read_event_file(path: str | Path) -> SideFile:
    """Read a supplementary-records file (CSV/XLSX, English keys or Chinese headers)."""
    return read_side_file(path, aliases=ALIASES, required=REQUIRED, what="补充数据/裁员方案报告")


def _reason_codes(d: pd.DataFrame, probs: Problems) -> dict[str, pd.Series]:
    """reason_1..3 from one 主要原因 cell ("4、8") or three columns; bad codes are errors."""
    n = len(d)
    if "reasons" in d.columns and d["reasons"].notna().any():
        parts = d["reasons"].fillna("").astype(str).str.split(r"[、,，;；\s/]+", regex=True)
        cells = {
            f"reason_{k + 1}": parts.map(lambda p, k=k: ([x for x in p if x] + [None] * 4)[k])
            for k in range(3)
        }
        too_many = parts.map(lambda p: len([x for x in p if x]) > 3)
        probs.add(too_many, "reasons", "reason_count", "主要原因最多填写3个代码")
        src = "reasons"
    else:
        cells = {
            c: (d[c] if c in d.columns else pd.Series([None] * n))
            for c in ("reason_1", "reason_2", "reason_3")
        }
        src = None
    out = {}
    for c, s in cells.items():
        num, bad = parse_int(s.reset_index(drop=True))
        bad = bad | (pd.Series(num).notna() & ~pd.Series(num).isin(range(1, 12))).to_numpy()
        probs.add(
            bad,
            src or c,
            "reason_code",
            "主要原因代码应为1–11的整数",
            values=s.reset_index(drop=True),
        )
        out[c] = pd.array(pd.Series(num).where(~pd.Series(bad)), dtype="Int64")
    return out


def validate_events(
    data: pd.DataFrame,
    *,
    file: str = "",
    cities: Sequence[str] | None = None,
    panel_ids: Sequence[str] | None = None,
    expected_period: str | None = None,
    settings: EventSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and check supplementary records.

    Parameters
    ----------
    data : the text cells in canonical keys with ``row`` (:func:`read_event_file`)
    file : file name written into each problem
    cities : the province's cities (``None`` skips the check)
    panel_ids : credit codes of the panel (an out-of-sample record of a panel member is
        refused: its fall belongs in the monthly form)
    expected_period : every event date must fall in this month
    settings : EventSettings

    Returns
    -------
    (records, problems)
        Records typed in the store's layout (:data:`samplekit.store.EVENT_COLUMNS` plus
        ``row``) and every problem. Errors (row rejected): ``required``, ``record_type``,
        ``city_unknown``, ``credit_code_format``, ``date_format``, ``number``,
        ``persons_positive``, ``share_range``, ``staff_persons``, ``type_code``,
        ``reason_code``, ``reason_count``, ``explanation_missing``, ``in_panel``,
        ``period_expected``, ``duplicate``. Warnings: ``credit_code_check``,
        ``share_consistency``, ``below_threshold``, ``planned_before_notice``.
    """
    s = settings or EventSettings()
    d = data.reset_index(drop=True).copy()
    for c in EVENT_FILE_COLUMNS:
        if c not in d.columns:
            d[c] = None
    probs = Problems(d, file)
    probs.required(REQUIRED)
    kind = d["record_type"].map(
        lambda v: None if blank(v) else _RECORD_ALIASES.get(re.sub(r"\s", "", str(v)).lower())
    )
    probs.add(
        d["record_type"].notna() & kind.isna(),
        "record_type",
        "record_type",
        "记录类型应为 补充数据(supplementary) 或 裁员方案报告(notice)",
    )
    if cities is not None:
        known = set(map(str, cities))
        probs.add(
            d["city"].notna() & ~d["city"].isin(known),
            "city",
            "city_unknown",
            "城市不在本省城市表中",
        )
    code = d["credit_code"].map(lambda v: None if blank(v) else str(v).strip().upper())
    rule = code.map(credit_code_problem)
    probs.add(
        rule == "credit_code_format",
        "credit_code",
        "credit_code_format",
        "统一社会信用代码应为18位(数字和大写字母,不含I、O、Z、S、V)",
    )
    probs.add(
        rule == "credit_code_check",
        "credit_code",
        "credit_code_check",
        "统一社会信用代码校验位不符(GB 32100-2015),请核对",
        "warning",
    )
    date, bad_date = parse_date(d["event_date"])
    probs.add(bad_date, "event_date", "date_format", "日期应写作 YYYY-MM-DD,例如 2013-08-15")
    planned, bad_planned = parse_date(d["planned_date"])
    probs.add(bad_planned, "planned_date", "date_format", "日期应写作 YYYY-MM-DD")
    persons, bad_p = parse_int(d["persons"])
    staff, bad_s = parse_int(d["staff"])
    share, bad_sh = parse_float(d["share_pct"])
    probs.add(bad_p, "persons", "number", "人数应为整数")
    probs.add(bad_s, "staff", "number", "职工总数应为整数")
    probs.add(bad_sh, "share_pct", "number", "比例应为数字(百分数)")
    persons_s, staff_s, share_s = pd.Series(persons), pd.Series(staff), pd.Series(share)
    probs.add(
        persons_s.notna() & (persons_s < 1), "persons", "persons_positive", "涉及人数应不少于1人"
    )
    out_of_range = share_s.notna() & ((share_s <= 0) | (share_s > 100))
    probs.add(out_of_range, "share_pct", "share_range", "占职工比例应在0–100(%)之间")
    probs.add(
        persons_s.notna() & staff_s.notna() & (persons_s > staff_s),
        "staff",
        "staff_persons",
        "涉及人数不能多于职工总数",
    )
    exact = 100.0 * persons_s.astype("Float64") / staff_s.astype("Float64").where(staff_s > 0)
    probs.add(
        share_s.notna()
        & ~out_of_range
        & exact.notna()
        & ((share_s - exact).abs() > s.share_tolerance_pct),
        "share_pct",
        "share_consistency",
        "占职工比例与 涉及人数 ÷ 职工总数 × 100 不符,请核对",
        "warning",
    )
    share_s = share_s.fillna(exact)
    etype = d["type"].map(
        lambda v: None if blank(v) else _TYPE_ALIASES.get(re.sub(r"\s", "", str(v)).lower())
    )
    probs.add(
        d["type"].notna() & etype.isna(),
        "type",
        "type_code",
        "类型应为 关闭破产、停业整顿、经济性裁员、企业迁出本市 或 其他",
    )
    supp = kind == "supplementary"
    probs.add(supp & d["type"].isna(), "type", "required", "补充数据应填写减少类型")
    probs.add(
        supp & d["explanation"].isna(),
        "explanation",
        "explanation_missing",
        "监测范围外企业的补充数据应作出说明(人社部函〔2011〕308号)",
    )
    if panel_ids is not None:
        ids = set(map(str, panel_ids))
        probs.add(
            supp & code.isin(ids),
            "credit_code",
            "in_panel",
            "该企业是监测企业,其减员应在月度报表中填报,不作为补充数据",
        )
    period = date.map(lambda v: None if blank(v) else v[:7])
    if expected_period is not None:
        probs.add(
            period.notna() & (period != expected_period),
            "event_date",
            "period_expected",
            f"本文件应为 {expected_period} 的记录",
        )
    reasons = _reason_codes(d, probs)
    below = (
        persons_s.notna()
        & (persons_s < s.min_persons)
        & ~(share_s.notna() & (share_s >= 100 * s.min_share))
    )
    probs.add(
        below,
        "persons",
        "below_threshold",
        f"涉及人数不足{s.min_persons}人且不足职工总数的{s.min_share:.0%},请核实是否需要报告",
        "warning",
    )
    probs.add(
        planned.notna() & date.notna() & (planned < date),
        "planned_date",
        "planned_before_notice",
        "计划实施日期早于报告日期,请核对",
        "warning",
    )
    key = pd.DataFrame({"k": kind, "c": code, "d": date})
    dup = key.notna().all(axis=1) & key.duplicated(keep=False)
    probs.add(dup, "credit_code", "duplicate", "同一企业同一日期的同类记录在本文件中出现多次")
    ids = set(map(str, panel_ids)) if panel_ids is not None else set()
    records = pd.DataFrame(
        {
            "record_type": kind,
            "city": d["city"],
            "firm_name": d["firm_name"],
            "credit_code": code,
            "event_date": date,
            "period": period,
            "persons": persons,
            "staff": staff,
            "share_pct": pd.array(share_s, dtype="Float64"),
            "type": etype,
            **reasons,
            "source": d["source"],
            "explanation": d["explanation"],
            "planned_date": planned,
            "in_panel": code.isin(ids),
            "row": d["row"],
        }
    )
    return records, probs.frame()


def event_list(
    events: pd.DataFrame, *, period: str | None = None, record_type: str | None = None
) -> pd.DataFrame:
    """Records for display (Chinese labels), newest month first then city and date."""
    e = events.copy()
    if period is not None:
        e = e[e["period"] == period]
    if record_type is not None:
        e = e[e["record_type"] == record_type]
    e = e.assign(
        record_type_zh=e["record_type"].map(RECORD_TYPES),
        type_zh=e["type"].map(EVENT_TYPES).fillna(""),
        reasons=_reasons_text(e),
    )
    cols = [
        "record_type_zh",
        "city",
        "firm_name",
        "credit_code",
        "event_date",
        "persons",
        "staff",
        "share_pct",
        "type_zh",
        "reasons",
        "planned_date",
        "source",
        "explanation",
    ]
    return e.sort_values(["city", "event_date", "credit_code"], kind="stable")[cols].reset_index(
        drop=True
    )


def _reasons_text(e: pd.DataFrame) -> pd.Series:
    def one(r: Any) -> str:
        return "、".join(
            str(int(r[c]))
            for c in ("reason_1", "reason_2", "reason_3")
            if c in r and pd.notna(r[c])
        )

    return e.apply(one, axis=1) if len(e) else pd.Series([], dtype=str)


def notice_persons(
    events: pd.DataFrame, *, periods: Sequence[str], cities: Sequence[str] | None = None
) -> pd.DataFrame:
    """Persons in layoff-plan notices received per city and month (zero-filled).

    The candidate leading indicator of issue 13 (advance notices lead unemployment by 1–2
    months in the US WARN data, Krolikowski & Lunsford); whether it leads here is for the
    back-test (:func:`lead_correlation`). Returns ``city, period, notices, notice_persons``.
    """
    n = events[events["record_type"] == "notice"]
    names = list(cities) if cities is not None else sorted(n["city"].dropna().unique())
    grid = pd.MultiIndex.from_product([names, list(periods)], names=["city", "period"])
    g = n.groupby(["city", "period"]).agg(
        notices=("persons", "size"), notice_persons=("persons", "sum")
    )
    out = g.reindex(grid, fill_value=0).reset_index()
    return out.astype({"notices": "int64", "notice_persons": "int64"})


def lead_correlation(leading: pd.Series, outcome: pd.Series, *, max_lag: int = 3) -> pd.DataFrame:
    """Correlation of ``leading`` at month t − k with ``outcome`` at t, for k = 0 … max_lag.

    Both series are indexed by month (``YYYY-MM``). A peak at k ≥ 1 says the indicator leads
    by k months; with few months or a flat series the correlation is NaN (said, not hidden).
    Returns ``lag, correlation, pairs``.
    """
    idx = sorted(set(leading.index) | set(outcome.index))
    x = leading.reindex(idx).astype(float)
    y = outcome.reindex(idx).astype(float)
    rows = []
    for k in range(max_lag + 1):
        xs = x.shift(k)
        ok = xs.notna() & y.notna()
        r = (
            float(np.corrcoef(xs[ok], y[ok])[0, 1])
            if ok.sum() >= 3 and xs[ok].std() > 0 and y[ok].std() > 0
            else np.nan
        )
        rows.append({"lag": k, "correlation": r, "pairs": int(ok.sum())})
    return pd.DataFrame(rows)


def with_notice_persons(
    city_indicators: pd.DataFrame, events: pd.DataFrame, *, province: str
) -> pd.DataFrame:
    """The city indicators table with a ``notice_persons`` column (persons in layoff-plan
    notices received per city and month, the province row their sum; 0 where none).

    A ``warning:`` indicator with ``source: city, column: notice_persons, aggregate: sum`` then
    uses it like any city input (docs/network.md); supplementary records of out-of-sample
    layoffs are not counted (they are not notices).
    """
    periods = sorted(city_indicators["period"].astype(str).unique())
    cities = [c for c in city_indicators["city"].astype(str).unique() if c != province]
    n = notice_persons(events, periods=periods, cities=cities)
    prov = n.groupby("period", as_index=False)["notice_persons"].sum().assign(city=province)
    table = pd.concat([n[["city", "period", "notice_persons"]], prov], ignore_index=True)
    out = city_indicators.drop(columns=["notice_persons"], errors="ignore").merge(
        table, on=["city", "period"], how="left"
    )
    out["notice_persons"] = out["notice_persons"].fillna(0).astype("int64")
    return out
