"""The quarterly evaluation of cities (考核通报).

Seed 001: "建立全省就业失业动态监测考核通报制度,对各市监测数据上报情况,包括上报时间要求、数据质量、数据分析等内容,
按季度考评并全省通报". Each city is scored per quarter on three parts (weights and penalties are
params, ``evaluation:``; ``docs/network.md`` gives the defaults):

* **timeliness** = clip(on-time rate (%) − ``days_late`` × mean days late of late reports, 0, 100);
  the on-time rate is over the member-months due (members closed earlier are not due);
* **data quality** = clip(100 − Σ penalty × rate, 0, 100) with the rates per 100 rows delivered:
  rows quarantined, rules broken (errors and warnings), rows resubmitted (replaced), identity
  failures (the form's arithmetic: ``change``, ``change_pct``, ``reduction_sum``); and social
  insurance warnings per 100 members;
* **analysis** = 100 when the city's quarterly analysis (warning) report arrived on time,
  ``late_analysis_credit`` × 100 when late, 0 when missing.

total = Σ weight × part; cities are ranked by total (ties share a rank) and graded.
Every function here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import ParamsError

#: Rules of the form's arithmetic relations (填表说明): failures count as identity failures.
IDENTITY_RULES: tuple[str, ...] = ("change", "change_pct", "reduction_sum")

METRIC_COLUMNS: list[str] = [
    "city",
    "quarter",
    "due",
    "on_time",
    "late",
    "missing",
    "on_time_rate",
    "mean_days_late",
    "rows_delivered",
    "quarantined_rows",
    "rules_broken",
    "resubmitted_rows",
    "identity_failures",
    "members",
    "insurance_warnings",
    "analysis",
]
SCORE_COLUMNS: list[str] = [
    *METRIC_COLUMNS,
    "timeliness",
    "quality",
    "analysis_score",
    "total",
    "rank",
    "grade",
]
HEADERS_ZH: dict[str, str] = {
    "city": "城市",
    "quarter": "季度",
    "due": "应报企业·月",
    "on_time": "按时报送",
    "late": "迟报",
    "missing": "漏报",
    "on_time_rate": "按时报送率(%)",
    "mean_days_late": "平均迟报天数",
    "rows_delivered": "报送行数",
    "quarantined_rows": "未通过审核行数",
    "rules_broken": "违反审核规则次数",
    "resubmitted_rows": "更正重报行数",
    "identity_failures": "表内关系错误",
    "members": "监测企业数",
    "insurance_warnings": "社保比对持续差异企业数",
    "analysis": "季度分析报告",
    "timeliness": "报送及时性得分",
    "quality": "数据质量得分",
    "analysis_score": "数据分析得分",
    "total": "综合得分",
    "rank": "名次",
    "grade": "等次",
}
ANALYSIS_ZH: dict[str, str] = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送"}

_DEFAULT_PENALTIES: dict[str, float] = {
    "days_late": 5.0,
    "quarantined": 10.0,
    "rules": 2.0,
    "resubmissions": 5.0,
    "identity": 10.0,
    "insurance": 10.0,
}
_DEFAULT_GRADES: tuple[tuple[float, str], ...] = (
    (90.0, "优秀"),
    (75.0, "良好"),
    (60.0, "合格"),
    (0.0, "不合格"),
)


@dataclass(frozen=True)
class EvaluationSettings:
    """Weights, penalties and grades of the city evaluation (``evaluation:`` in params).

    Attributes
    ----------
    weights : mapping timeliness / quality / analysis -> weight (sum 1)
    penalties : mapping -> points per unit: ``days_late`` (per mean day late), ``quarantined``,
        ``rules``, ``resubmissions``, ``identity`` (per 100 rows delivered), ``insurance``
        (per 100 members)
    late_analysis_credit : share of the analysis score for a report received late
    grades : (minimum total, name) from the best down; the last minimum should be 0
    """

    weights: Mapping[str, float] = field(
        default_factory=lambda: {"timeliness": 0.4, "quality": 0.4, "analysis": 0.2}
    )
    penalties: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT_PENALTIES))
    late_analysis_credit: float = 0.5
    grades: tuple[tuple[float, str], ...] = _DEFAULT_GRADES

    @classmethod
    def from_params(cls, params: Any) -> EvaluationSettings:
        """Read ``evaluation`` (missing keys keep their defaults; weights must sum to 1)."""
        d = cls()
        if params is None:
            return d
        sec = params.get("evaluation", {}) or {}
        if not isinstance(sec, Mapping):
            raise ParamsError(f"{params.path}: 'evaluation' must be a mapping, found {sec!r}")
        params.check_keys("evaluation", {"weights", "penalties", "late_analysis_credit", "grades"})
        weights = dict(d.weights)
        given = params.get("evaluation.weights", {}) or {}
        if not isinstance(given, Mapping):
            raise ParamsError(f"{params.path}: key 'evaluation.weights' must be a mapping")
        for k in given:
            if k not in weights:
                raise ParamsError(
                    f"{params.path}: key 'evaluation.weights.{k}': unknown part; "
                    f"use {', '.join(weights)}"
                )
            weights[k] = float(params.number(f"evaluation.weights.{k}", low=0, high=1))
        if abs(sum(weights.values()) - 1) > 1e-9:
            raise ParamsError(
                f"{params.path}: key 'evaluation.weights' must sum to 1, found "
                f"{sum(weights.values()):g} ({weights})"
            )
        penalties = dict(d.penalties)
        given = params.get("evaluation.penalties", {}) or {}
        if not isinstance(given, Mapping):
            raise ParamsError(f"{params.path}: key 'evaluation.penalties' must be a mapping")
        for k in given:
            if k not in penalties:
                raise ParamsError(
                    f"{params.path}: key 'evaluation.penalties.{k}': unknown "
                    f"penalty; use {', '.join(penalties)}"
                )
            penalties[k] = float(params.number(f"evaluation.penalties.{k}", low=0))
        grades = d.grades
        given = params.get("evaluation.grades", None)
        if given is not None:
            if not isinstance(given, list) or not given:
                raise ParamsError(
                    f"{params.path}: key 'evaluation.grades' must be a list of "
                    "{min, name} from the best down"
                )
            out = []
            for i, g in enumerate(given):
                key = f"evaluation.grades[{i}]"
                if (
                    not isinstance(g, Mapping)
                    or set(g) != {"min", "name"}
                    or not isinstance(g["min"], (int, float))
                    or isinstance(g["min"], bool)
                    or not isinstance(g["name"], str)
                ):
                    raise ParamsError(
                        f"{params.path}: key '{key}' must be {{min: number, name: "
                        f"text}}, found {g!r}"
                    )
                out.append((float(g["min"]), g["name"]))
            if [m for m, _ in out] != sorted((m for m, _ in out), reverse=True):
                raise ParamsError(
                    f"{params.path}: key 'evaluation.grades' must go from the highest minimum down"
                )
            grades = tuple(out)
        return cls(
            weights=weights,
            penalties=penalties,
            late_analysis_credit=float(
                params.number(
                    "evaluation.late_analysis_credit", d.late_analysis_credit, low=0, high=1
                )
            ),
            grades=grades,
        )


def city_metrics(
    status: pd.DataFrame,
    deliveries: pd.DataFrame,
    row_problems: pd.DataFrame,
    insurance_warnings: pd.DataFrame,
    analysis: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    quarter: str,
    cities: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The evaluation's raw figures per city for one quarter.

    Parameters
    ----------
    status : :func:`samplekit.reporting_calendar.member_status` of each month of the quarter
    deliveries : rows delivered in the quarter's months (``enterprise_id, period, load_id,
        status``: accepted / replaced / quarantined)
    row_problems : ``enterprise_id, period, severity, rule`` of delivered rows
    insurance_warnings : persistent gaps (``enterprise_id, city, first_period, last_period``)
    analysis : :func:`samplekit.reporting_calendar.analysis_status` (``city, received_at, on_time``)
    panel : ``enterprise_id, city`` (attributes rows to cities)
    quarter : ``YYYYQn``
    cities : all cities to list (default: those in ``status``)

    Returns
    -------
    DataFrame
        :data:`METRIC_COLUMNS`; ``analysis`` is on_time / late / missing.
    """
    from samplekit.periods import quarter_months

    months = quarter_months(quarter)
    p = panel.drop_duplicates("enterprise_id")
    city_of = p.set_index(p["enterprise_id"].astype(str))["city"]
    names = list(cities) if cities is not None else sorted(status["city"].unique())
    st = status[status["period"].isin(months)]
    counts = st.groupby("city")["status"].value_counts().unstack(fill_value=0)
    late_days = (
        st[st["status"] == "late"]
        .groupby("city")["days_late"]
        .apply(lambda s: float(s.astype(float).mean()))
    )
    members = st.groupby("city")["enterprise_id"].nunique()
    dv = deliveries[deliveries["period"].isin(months)].copy()
    dv["city"] = dv["enterprise_id"].astype(str).map(city_of)
    rows = dv.groupby("city").size()
    quarantined = dv[dv["status"] == "quarantined"].groupby("city").size()
    replaced = dv[dv["status"] == "replaced"].groupby("city").size()
    rp = row_problems[row_problems["period"].isin(months)].copy()
    rp["city"] = rp["enterprise_id"].astype(str).map(city_of)
    broken = rp.groupby("city").size()
    identity = (
        rp[(rp["severity"] == "error") & rp["rule"].isin(IDENTITY_RULES)].groupby("city").size()
    )
    iw = insurance_warnings
    if len(iw):
        overlap = (iw["first_period"] <= months[-1]) & (iw["last_period"] >= months[0])
        warned = iw[overlap].groupby("city")["enterprise_id"].nunique()
    else:
        warned = pd.Series(dtype=int)
    an = (
        analysis.set_index("city")
        if len(analysis)
        else pd.DataFrame(columns=["received_at", "on_time"])
    )
    out = []
    for c in names:
        n = {
            k: int(counts.loc[c, k]) if c in counts.index and k in counts.columns else 0
            for k in ("on_time", "late", "time_unknown", "quarantined", "missing", "closed")
        }
        due = sum(n.values()) - n["closed"]
        if c in an.index and pd.notna(an.loc[c, "received_at"]):
            verdict = "on_time" if bool(an.loc[c, "on_time"]) else "late"
        else:
            verdict = "missing"
        out.append(
            {
                "city": c,
                "quarter": quarter,
                "due": due,
                "on_time": n["on_time"],
                "late": n["late"],
                "missing": n["missing"] + n["quarantined"],
                "on_time_rate": 100.0 * n["on_time"] / due if due else np.nan,
                "mean_days_late": float(late_days.get(c, 0.0)),
                "rows_delivered": int(rows.get(c, 0)),
                "quarantined_rows": int(quarantined.get(c, 0)),
                "rules_broken": int(broken.get(c, 0)),
                "resubmitted_rows": int(replaced.get(c, 0)),
                "identity_failures": int(identity.get(c, 0)),
                "members": int(members.get(c, 0)),
                "insurance_warnings": int(warned.get(c, 0)),
                "analysis": verdict,
            }
        )
    return pd.DataFrame(out, columns=METRIC_COLUMNS)


def score_cities(
    metrics: pd.DataFrame, *, settings: EvaluationSettings | None = None
) -> pd.DataFrame:
    """Score, rank and grade the cities (formulas in the module docstring).

    Returns the metrics with ``timeliness, quality, analysis_score, total`` (0–100, rounded to
    0.01), ``rank`` (1 = best; ties share the rank) and ``grade``, sorted by rank then city.
    """
    s = settings or EvaluationSettings()
    pen = s.penalties
    m = metrics.copy()
    rows = m["rows_delivered"].astype(float).where(m["rows_delivered"] > 0)
    per100 = {
        k: (100.0 * m[c].astype(float) / rows).fillna(0.0)
        for k, c in (
            ("quarantined", "quarantined_rows"),
            ("rules", "rules_broken"),
            ("resubmissions", "resubmitted_rows"),
            ("identity", "identity_failures"),
        )
    }
    insurance = (
        100.0
        * m["insurance_warnings"].astype(float)
        / m["members"].astype(float).where(m["members"] > 0)
    ).fillna(0.0)
    m["timeliness"] = (m["on_time_rate"].fillna(0.0) - pen["days_late"] * m["mean_days_late"]).clip(
        0, 100
    )
    m["quality"] = (
        100.0 - sum(pen[k] * v for k, v in per100.items()) - pen["insurance"] * insurance
    ).clip(0, 100)
    m["analysis_score"] = m["analysis"].map(
        {"on_time": 100.0, "late": 100.0 * s.late_analysis_credit, "missing": 0.0}
    )
    w = s.weights
    m["total"] = (
        w["timeliness"] * m["timeliness"]
        + w["quality"] * m["quality"]
        + w["analysis"] * m["analysis_score"]
    )
    for c in ("timeliness", "quality", "analysis_score", "total"):
        m[c] = m[c].astype(float).round(2)
    m["rank"] = m["total"].rank(method="min", ascending=False).astype(int)

    def grade(total: float) -> str:
        return next((name for low, name in s.grades if total >= low), s.grades[-1][1])

    m["grade"] = m["total"].map(grade)
    return m[SCORE_COLUMNS].sort_values(["rank", "city"], kind="stable").reset_index(drop=True)


def circular_text(scores: pd.DataFrame, *, quarter: str, province: str = "全省") -> list[str]:
    """The circular's paragraphs (Chinese): overview, best and worst, what to improve."""
    if scores.empty:
        return [f"{quarter}无可考评的城市。"]
    top = scores.iloc[0]
    bottom = scores.iloc[-1]
    avg = scores["total"].mean()
    grades = scores["grade"].value_counts()
    lines = [
        f"现将{province}{quarter}就业失业动态监测工作考核情况通报如下。本季度共考评"
        f"{len(scores)}个城市,平均综合得分{avg:.1f}分,其中"
        + "、".join(f"{g}{n}个" for g, n in grades.items())
        + "。",
        f"{top['city']}综合得分{top['total']:.1f}分,位列第一;{bottom['city']}综合得分"
        f"{bottom['total']:.1f}分,位列末位。",
    ]
    weak_time = scores[scores["timeliness"] < 90]["city"].tolist()
    if weak_time:
        lines.append(
            "报送及时性有待提高的城市:"
            + "、".join(weak_time)
            + "。请严格按规定时间报送,杜绝迟报、漏报。"
        )
    weak_q = scores[scores["quality"] < 90]["city"].tolist()
    if weak_q:
        lines.append(
            "数据质量有待提高的城市:" + "、".join(weak_q) + "。请加强审核,减少退回和更正重报。"
        )
    no_an = scores[scores["analysis"] != "on_time"]["city"].tolist()
    if no_an:
        lines.append("未按时报送季度分析报告的城市:" + "、".join(no_an) + "。")
    return lines


def write_circular(
    scores: pd.DataFrame,
    *,
    quarter: str,
    out_dir: str | Path,
    province: str = "全省",
    settings: EvaluationSettings | None = None,
    note: str = "",
) -> list[Path]:
    """Write the circular: ``city_evaluation_<quarter>.csv`` and ``考核通报_<quarter>.xlsx``
    (ranking, the figures behind it, the text; an 说明 sheet with the weights and penalties).

    Same scores → byte-identical files.
    """
    from samplekit.io import write_csv, write_xlsx

    s = settings or EvaluationSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shown = scores.assign(analysis=scores["analysis"].map(ANALYSIS_ZH)).round(2)
    text = circular_text(scores, quarter=quarter, province=province)
    score_cols = ["rank", "city", "total", "grade", "timeliness", "quality", "analysis_score"]
    detail_cols = [c for c in METRIC_COLUMNS if c != "quarter"]
    about = {
        "季度": quarter,
        "权重": ";".join(f"{k}={v:g}" for k, v in s.weights.items()),
        "扣分": ";".join(f"{k}={v:g}" for k, v in s.penalties.items()),
        "逾期分析报告得分比例": f"{s.late_analysis_credit:g}",
        "等次": ";".join(f"{n}≥{m:g}" for m, n in s.grades),
        "计算方法": "docs/network.md",
        "数据说明": note or "—",
    }
    return [
        write_csv(scores.round(4), out / f"city_evaluation_{quarter}.csv"),
        write_xlsx(
            {
                "考核得分排名": shown[score_cols],
                "分项指标": shown[detail_cols],
                "通报正文": pd.DataFrame({"text": text}),
            },
            out / f"考核通报_{quarter}.xlsx",
            headers={**HEADERS_ZH, "text": "通报内容"},
            titles={
                "考核得分排名": f"{province}就业失业动态监测工作考核通报({quarter})",
                "分项指标": f"各市监测数据上报情况分项指标({quarter})",
                "通报正文": f"考核通报({quarter})",
            },
            about=about,
            source="企业用工定点监测直报数据、报送登记、社保比对",
        ),
    ]
