"""The quarterly brief's tables, figures, Word document and workbook (监测简报).

The computation is :mod:`samplekit.brief`; this module turns a :class:`~samplekit.brief.Brief`
into Chinese tables, figures, a Word document in the house style of :mod:`samplekit.documents`
and a workbook through :func:`samplekit.io.write_xlsx`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.brief import BRIEF_NAMES_ZH, DIMENSION_ZH, Brief

SOURCE = "企业用工定点监测(设计加权估计)、企业名录、样本轮换记录"


# ------------------------------------------------------------------------------ tables
def _value_label(dimension: str, value: str) -> str:
    from samplekit import reference

    if dimension == "section":
        return reference.section_names().get(value, value)
    if dimension == "size_class":
        return reference.SIZE_CLASSES_ZH.get(value, value)
    if dimension == "ownership":
        return reference.OWNERSHIP_ZH.get(value, value)
    return value


def structure_table(brief: Brief, dimension: str) -> pd.DataFrame:
    """One dimension of the data structure with Chinese labels, largest register share first
    (cities in the order given)."""
    df = brief.structure[brief.structure["dimension"] == dimension].copy()
    df["value"] = [_value_label(dimension, str(v)) for v in df["value"]]
    if dimension != "city":
        df = df.sort_values("register_share", ascending=False, kind="stable")
    return df.drop(columns="dimension").reset_index(drop=True)


STRUCTURE_HEADERS = {
    "value": "类别",
    "members": "监测企业(家)",
    "member_share": "监测企业占比(%)",
    "weighted_share": "加权占比(%)",
    "register_units": "名录企业(家)",
    "register_share": "名录企业占比(%)",
    "register_employment_share": "名录从业人数占比(%)",
    "gap": "监测−名录(百分点)",
}
STRUCTURE_FORMATS = {
    "members": "int",
    "register_units": "int",
    "member_share": "dec1",
    "weighted_share": "dec1",
    "register_share": "dec1",
    "register_employment_share": "dec1",
    "gap": "dec1",
}


def indicator_table(brief: Brief) -> pd.DataFrame:
    """The key indicators: estimate, interval, changes against the previous quarter and a year
    earlier with their intervals (as text ``low~high``). Employment is shown in 10k persons
    (万人) so that the table fits the page."""
    ind = brief.indicators

    def scale(key: str) -> float:
        return 1e-4 if key == "survey_employment" else 1.0

    def num(v: float, k: str) -> str:
        return "—" if pd.isna(v) else f"{v * scale(k):.2f}"

    def signed(v: float, k: str) -> str:
        return "—" if pd.isna(v) else f"{v * scale(k):+.2f}"

    rows = []
    for r in ind.itertuples():
        k = r.indicator
        name = "期末就业人数(万人)" if k == "survey_employment" else r.name
        rows.append(
            {
                "name": name,
                "estimate": num(r.estimate, k),
                "ci": f"{num(r.ci_low, k)}~{num(r.ci_high, k)}",
                "prev": signed(r.change_prev, k),
                "prev_ci": f"{signed(r.change_prev_low, k)}~{signed(r.change_prev_high, k)}",
                "yoy": signed(r.change_yoy, k),
                "yoy_ci": f"{signed(r.change_yoy_low, k)}~{signed(r.change_yoy_high, k)}",
            }
        )
    return pd.DataFrame(rows)


INDICATOR_HEADERS = {
    "name": "指标",
    "estimate": "本季度估计",
    "ci": "95%置信区间",
    "prev": "较上季度",
    "prev_ci": "95%置信区间",
    "yoy": "较上年同期",
    "yoy_ci": "95%置信区间",
}
INDICATOR_WIDTHS = {
    "name": 2.9,
    "estimate": 1.8,
    "ci": 2.8,
    "prev": 1.5,
    "prev_ci": 2.4,
    "yoy": 1.6,
    "yoy_ci": 2.4,
}


def domain_table(brief: Brief, dimension: str, indicator: str = "job_loss_rate") -> pd.DataFrame:
    """Year-on-year change of ``indicator`` per domain, largest rise first."""
    d = brief.domains[
        (brief.domains["dimension"] == dimension) & (brief.domains["indicator"] == indicator)
    ].copy()
    d["domain"] = [_value_label(dimension, v) for v in d["domain"]]
    d["judgement"] = d["significant"].map({"up": "显著上升", "down": "显著下降"}).fillna("")
    d.loc[d["judgement"] == "", "judgement"] = np.where(
        d.loc[d["judgement"] == "", "small_domain"], "样本过少", "不显著"
    )
    d = d.sort_values("change", ascending=False, kind="stable")
    return d[
        [
            "domain",
            "estimate_a",
            "estimate_b",
            "change",
            "ci_low",
            "ci_high",
            "n_reporters",
            "judgement",
        ]
    ].reset_index(drop=True)


def domain_headers(brief: Brief, dimension: str) -> dict[str, str]:
    return {
        "domain": DIMENSION_ZH[dimension],
        "estimate_a": f"{brief.year_ago}(%)",
        "estimate_b": f"{brief.quarter}(%)",
        "change": "同比变动(百分点)",
        "ci_low": "95%下限",
        "ci_high": "95%上限",
        "n_reporters": "匹配企业(家)",
        "judgement": "判断",
    }


DOMAIN_FORMATS = {
    "estimate_a": "dec2",
    "estimate_b": "dec2",
    "change": "dec2",
    "ci_low": "dec2",
    "ci_high": "dec2",
    "n_reporters": "int",
}


def trend_table(brief: Brief, warning: Any) -> pd.DataFrame:
    """The trend table with Chinese headers for the probabilities (``越过IV级概率`` …)."""
    from samplekit.forecast import MODEL_ZH

    t = brief.trend.copy()
    if not len(t):
        return t
    t["model"] = t["model"].map(lambda m: MODEL_ZH.get(m, m))
    keep = [
        "name",
        "target",
        "model",
        "forecast",
        "pi_low",
        "pi_high",
        *[c for c in t.columns if c.startswith("p_")],
    ]
    return t[keep]


def _trend_widths(brief: Brief) -> dict[str, float]:
    widths = {
        "name": 3.2,
        "target": 1.4,
        "model": 1.5,
        "forecast": 1.3,
        "pi_low": 1.3,
        "pi_high": 1.3,
    }
    probs = [c for c in brief.trend.columns if c.startswith("p_")]
    widths.update({c: round(5.4 / max(len(probs), 1), 2) for c in probs})
    return widths


def trend_headers(warning: Any) -> dict[str, str]:
    heads = {
        "name": "指标",
        "target": "预测期",
        "model": "模型",
        "forecast": "预测值",
        "pi_low": "预测区间下限",
        "pi_high": "预测区间上限",
    }
    if warning is not None:
        for lv in warning.settings.levels:
            heads[f"p_{lv.code}"] = f"越过{lv.code}级概率"
    return heads


# ------------------------------------------------------------------------------ figures
def plot_series(brief: Brief):
    """The province's monthly net change rate and job-loss rate with 95% intervals."""
    from samplekit.plotting import new_figure

    fig, axes = new_figure(9, 5.2, nrows=2, sharex=True)
    for ax, key, color in zip(
        axes, ("net_change_rate", "job_loss_rate"), ("#1f4e79", "#c00000"), strict=True
    ):
        s = brief.series[brief.series["indicator"] == key]
        x = np.arange(len(s))
        ax.fill_between(
            x, s["ci_low"], s["ci_high"], color=color, alpha=0.18, lw=0, label="95%置信区间"
        )
        ax.plot(x, s["estimate"], color=color, marker="o", ms=2.5, lw=1.3, label="估计值")
        if key == "net_change_rate":
            ax.axhline(0, color="#888888", lw=0.8)
        ax.set_ylabel(f"{BRIEF_NAMES_ZH[key].split('(')[0]}(%)", fontsize=9)
        ax.legend(fontsize=8, loc="upper left", frameon=False)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        periods = list(s["period"])
    step = max(len(periods) // 12, 1)
    axes[-1].set_xticks(range(0, len(periods), step))
    axes[-1].set_xticklabels(periods[::step], rotation=45, ha="right", fontsize=8)
    axes[0].set_title("全省监测企业月度就业人数净变动率与岗位流失率(95%置信区间)", fontsize=11)
    return fig


def plot_domain_changes(brief: Brief, dimension: str = "city", indicator: str = "job_loss_rate"):
    """Year-on-year change per domain with its 95% interval; significant rises in red."""
    from samplekit.plotting import new_figure

    d = domain_table(brief, dimension, indicator).iloc[::-1]
    fig, ax = new_figure(8, 0.28 * len(d) + 1.4)
    y = np.arange(len(d))
    colors = [
        "#c00000" if j == "显著上升" else "#2e7d32" if j == "显著下降" else "#7f7f7f"
        for j in d["judgement"]
    ]
    for yi, (c, lo, hi, col) in enumerate(
        zip(d["change"], d["ci_low"], d["ci_high"], colors, strict=True)
    ):
        ax.errorbar(
            [c], [yi], xerr=[[c - lo], [hi - c]], fmt="none", ecolor=col, elinewidth=1.2, capsize=2
        )
    ax.scatter(d["change"], y, c=colors, s=18, zorder=3)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(d["domain"], fontsize=8)
    ax.set_xlabel("同比变动(百分点,匹配样本)", fontsize=9)
    name = BRIEF_NAMES_ZH[indicator].split("(")[0]
    ax.set_title(
        f"各{DIMENSION_ZH[dimension]}{name}同比变动(95%置信区间;红色为显著上升)", fontsize=10
    )
    ax.grid(axis="x", color="#dddddd", lw=0.6)
    return fig


def plot_trend(warning: Any, indicator: str):
    """The province's quarterly values of a warning indicator with 95% intervals, the next
    quarter's forecast with its prediction interval, and the province's warning lines."""
    from samplekit.plotting import new_figure

    ind = warning.settings.indicator(indicator)
    prov = warning.province
    h = warning.levels[
        (warning.levels["indicator"] == indicator) & (warning.levels["city"] == prov)
    ].sort_values("quarter")
    fc = warning.forecasts
    fc = fc[(fc["indicator"] == indicator) & (fc["kind"] == "quarter") & (fc["city"] == prov)]
    fig, ax = new_figure(9, 4.6)
    x = np.arange(len(h))
    ax.errorbar(
        x,
        h["value"],
        yerr=np.vstack([h["value"] - h["ci_low"], h["ci_high"] - h["value"]]),
        color="#1f4e79",
        marker="o",
        ms=4,
        lw=1.4,
        capsize=3,
        label="季度值(95%置信区间)",
    )
    labels = list(h["quarter"])
    if len(fc):
        f = fc.iloc[0]
        ax.errorbar(
            [len(h)],
            [f["forecast"]],
            yerr=[[f["forecast"] - f["pi_low"]], [f["pi_high"] - f["forecast"]]],
            color="#7f7f7f",
            marker="D",
            ms=5,
            capsize=4,
            ls="none",
            label="下季度预测(95%预测区间)",
        )
        labels.append(f"{f['target']}(预测)")
    lines = ind.lines_for(prov, province=prov)
    for lv, line in zip(warning.settings.levels, lines, strict=True):
        ax.axhline(line, color=lv.color, ls="--", lw=1, label=f"{lv.code}级警戒线({line:g})")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ind.name, fontsize=9)
    ax.set_title(f"全省{ind.name}:季度值、全省警戒线与下季度预测", fontsize=11)
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    return fig


def _figure(doc: Any, fig: Any, *, title: str, source: str) -> None:
    """A figure whose caption stays on the page of its source line (the rendered brief had a
    lone source line on the last page)."""
    doc.figure(fig, title=title, source=source)
    doc.doc.paragraphs[-2].paragraph_format.keep_with_next = True


def _keep_together(doc: Any, max_rows: int = 25) -> None:
    """Keep the last table of ``doc`` on one page when it is short: LibreOffice and Word
    otherwise may break a 3-row table after its header (seen in the rendered brief)."""
    table = doc.doc.tables[-1]
    if len(table.rows) > max_rows:
        return
    for row in table.rows:  # the last row too: the source line stays with the table
        for cell in row.cells:
            for para in cell.paragraphs:
                para.paragraph_format.keep_with_next = True
    # the caption above is already kept with the table (Document.table)


# ------------------------------------------------------------------------------ Word
def brief_document(
    brief: Brief, *, warning: Any = None, data_note: str = "", issuer: str | None = None
) -> Any:
    """The 监测简报 of ``brief.quarter`` as a :class:`samplekit.documents.Document`.

    Five numbered sections after a summary of the viewpoints: 监测样本概况, 监测数据结构,
    监测指标提炼, 监测观点概括, 监测趋势研判 (seed 001).
    """
    from samplekit.documents import Document, default_issuer, quarter_zh
    from samplekit.periods import quarter_months

    period = quarter_zh(brief.quarter)
    o = brief.overview
    doc = Document(
        title="企业用工定点监测简报",
        issuer=issuer or default_issuer(brief.province),
        period=period,
        data_note=data_note,
    )
    doc.summary(brief.viewpoints[:3] + brief.trend_text[:1])

    doc.section("监测样本概况")
    ministry = (
        f",其中纳入人社部失业动态监测(月报网络)的{o['ministry']:,}家"
        if o.get("ministry") is not None
        else ""
    )
    window = (
        f"本季度执行第{o['window_in_force']}版监测名单({o['window_effective']}起生效,"
        f"该次轮换新入{o['entered']}家、退出{o['exited']}家)"
        if o.get("window_in_force") is not None
        else "本季度执行导入的监测名单"
    )
    doc.paragraph(
        f"{period}末在册监测企业{o['members']:,}家{ministry},覆盖{o['cities']}个地市、"
        f"{o['sections']}个行业门类。{window};"
        + ("季度内有名单调整生效。" if o["window_inside"] else "季度内无名单调整。")
        + f"本季度应报{o['expected']:,}家次,实报{o['reported']:,}家次,报送率"
        f"{o['response_rate']:.1f}%。"
    )
    resp = brief.response.copy()
    doc.table(
        resp,
        title=f"{period}各月报送情况",
        headers={
            "period": "月份",
            "members": "在册企业(家)",
            "reported": "报送企业(家)",
            "response_rate": "报送率(%)",
        },
        formats={"members": "int", "reported": "int", "response_rate": "dec1"},
        source="企业用工定点监测直报系统",
    )
    _keep_together(doc)
    low = brief.city_response[brief.city_response["response_rate"] < 100].head(5)
    if not len(low):
        doc.paragraph("本季度各地市监测企业均按月报送。")
    else:
        doc.table(
            low,
            title=f"{period}报送率未达100%的地市(最低{len(low)}个)",
            headers={
                "city": "地市",
                "members": "应报(家次)",
                "reported": "实报(家次)",
                "response_rate": "报送率(%)",
            },
            formats={"members": "int", "reported": "int", "response_rate": "dec1"},
            source="企业用工定点监测直报系统",
        )
        _keep_together(doc)
    win = brief.windows.copy()
    win["kind"] = (
        win["kind"]
        .map({"design": "抽样设计", "maintenance": "年度调整", "import": "导入名单"})
        .fillna(win["kind"])
    )
    end = quarter_months(brief.quarter)[-1]
    win["in_force"] = np.where(
        win["in_force"],
        "本季度执行",
        np.where(win["effective"].astype(str) > end, "下季度起生效", ""),
    )
    doc.table(
        win.drop(columns=[c for c in ("forced",) if c in win.columns]),
        title="监测名单版本(样本轮换窗口)",
        headers={
            "window_id": "版本",
            "kind": "类型",
            "window_month": "调整月份",
            "effective": "生效月份",
            "members": "监测企业(家)",
            "entered": "新入",
            "exited": "退出",
            "in_force": "备注",
        },
        formats={"window_id": "int", "members": "int", "entered": "int", "exited": "int"},
        note="名单只在每年12月的统一窗口调整,次年1月起生效(人社部函〔2011〕308号)。",
        source="样本轮换记录",
    )
    _keep_together(doc)

    doc.section("监测数据结构")
    doc.paragraph(
        "监测企业按地市、行业门类、企业规模和经济类型的分布与企业名录(在营企业)对照。"
        "“加权占比”为监测企业设计权数(经校准)之和的占比,反映加权后的样本结构;"
        "“监测−名录”为未加权占比之差,正值表示该类企业在样本中偏多(分层抽样中偏多的层权数较小)。"
    )
    for k, dim in enumerate(("city", "section", "size_class", "ownership"), start=1):
        doc.subsection(k, f"按{DIMENSION_ZH[dim]}")
        doc.table(
            structure_table(brief, dim),
            title=f"{period}末监测企业与名录结构(按{DIMENSION_ZH[dim]})",
            headers=STRUCTURE_HEADERS,
            formats=STRUCTURE_FORMATS,
            unit="家、%",
            source=SOURCE,
        )
        _keep_together(doc)

    doc.section("监测指标提炼")
    doc.paragraph(
        "季度指标为季度内三个月均在册且均报送的企业的设计加权估计(泰勒线性化标准误,分层设计,"
        "含有限总体校正);“较上季度”“较上年同期”为两期均报送的匹配样本上的变动及其95%置信区间,"
        "两期的权数各按当期名单。比率指标的变动单位为百分点,期末就业人数的变动单位为人。"
    )
    n = brief.indicators[["change_prev_n", "change_yoy_n"]].iloc[0]
    doc.table(
        indicator_table(brief),
        title=f"{period}全省主要监测指标",
        unit="%、百分点、万人",
        headers=INDICATOR_HEADERS,
        widths=INDICATOR_WIDTHS,
        right=["estimate", "ci", "prev", "prev_ci", "yoy", "yoy_ci"],
        source=SOURCE,
        note=f"本季度估计基于{int(brief.indicators['n_reporters'].iloc[0]):,}家报送企业;"
        f"较上季度、较上年同期分别基于{int(n.iloc[0]):,}家、{int(n.iloc[1]):,}家匹配企业。",
    )
    _keep_together(doc)
    _figure(doc, plot_series(brief), title="全省月度就业人数净变动率与岗位流失率", source=SOURCE)

    doc.section("监测观点概括")
    doc.numbered(brief.viewpoints)
    if len(brief.domains):
        doc.table(
            domain_table(brief, "city"),
            title=f"各地市岗位流失率同比变动({brief.quarter}对{brief.year_ago})",
            headers=domain_headers(brief, "city"),
            formats=DOMAIN_FORMATS,
            unit="%、百分点",
            source=SOURCE,
            note="“显著”指95%置信区间不含0;报送企业过少的地市不作判断。",
        )
        _figure(
            doc, plot_domain_changes(brief, "city"), title="各地市岗位流失率同比变动", source=SOURCE
        )

    doc.section("监测趋势研判")
    doc.numbered(brief.trend_text)
    if warning is not None and len(brief.trend):
        doc.table(
            trend_table(brief, warning),
            title="全省下季度预测与越线概率",
            headers=trend_headers(warning),
            widths=_trend_widths(brief),
            formats={
                "forecast": "dec2",
                "pi_low": "dec2",
                "pi_high": "dec2",
                **{c: "pct" for c in brief.trend.columns if c.startswith("p_")},
            },
            note="越线概率为下季度值达到或越过该级警戒线(全省警戒线)的概率。",
            source="企业用工定点监测、城市失业预警指标表",
        )
        _keep_together(doc)
        core = [i.key for i in warning.settings.indicators if i.core]
        for key in core[:1]:
            _figure(
                doc,
                plot_trend(warning, key),
                title=f"全省{warning.settings.indicator(key).name.split('(')[0]}走势与下季度预测",
                source=SOURCE,
            )
    return doc


def brief_workbook(brief: Brief, warning: Any = None) -> dict[str, pd.DataFrame]:
    """The brief's tables, one per sheet (Chinese sheet names)."""
    sheets: dict[str, pd.DataFrame] = {
        "报送情况": brief.response,
        "地市报送": brief.city_response,
        "名单版本": brief.windows,
        "数据结构": brief.structure.assign(
            value=[
                _value_label(d, str(v))
                for d, v in zip(brief.structure["dimension"], brief.structure["value"], strict=True)
            ],
            dimension=brief.structure["dimension"].map(DIMENSION_ZH),
        ),
        "主要指标": indicator_table(brief),
        "地市同比": domain_table(brief, "city"),
        "行业同比": domain_table(brief, "section").rename(columns={"domain": "industry"}),
    }
    if warning is not None and len(brief.trend):
        sheets["趋势研判"] = trend_table(brief, warning)
    return sheets


def write_brief(
    brief: Brief,
    out_dir: str | os.PathLike[str],
    *,
    warning: Any = None,
    data_note: str = "",
    issuer: str | None = None,
    about: Mapping[str, Any] | None = None,
    pdf: bool = False,
) -> list[Path]:
    """Write ``brief_<quarter>.docx`` (and ``.pdf`` with ``pdf``) and ``brief_<quarter>.xlsx``."""
    from samplekit.documents import write_document
    from samplekit.io import write_xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    q = brief.quarter
    paths = write_document(
        brief_document(brief, warning=warning, data_note=data_note, issuer=issuer),
        out / f"brief_{q}.docx",
        pdf=pdf,
    )
    heads = {
        **STRUCTURE_HEADERS,
        **domain_headers(brief, "city"),
        **trend_headers(warning),
        "dimension": "维度",
        "period": "月份",
        "city": "地市",
        "response_rate": "报送率(%)",
        "reported": "报送(家次)",
        "window_id": "版本",
        "kind": "类型",
        "window_month": "调整月份",
        "effective": "生效月份",
        "entered": "新入",
        "exited": "退出",
        "forced": "窗口外调整",
        "in_force": "本季度执行",
    }
    heads["members"] = "在册企业(家)"
    heads["industry"] = "行业门类"
    paths.append(
        write_xlsx(
            brief_workbook(brief, warning),
            out / f"brief_{q}.xlsx",
            headers=heads,
            source=SOURCE,
            data_note=data_note,
            about={"简报季度": q, **(about or {})},
            formats={**STRUCTURE_FORMATS, **DOMAIN_FORMATS},
        )
    )
    return paths
