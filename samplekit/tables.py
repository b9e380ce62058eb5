"""Tables for readers: one output layer for the HTML reports (great_tables).

Every table a notebook shows goes through :func:`show`: codes become Chinese names
(:func:`samplekit.reference.readable`), columns get Chinese labels with their units, integers get
thousands separators, shares become percentages, floats a fixed number of decimals (never
scientific notation), cities appear in the official order (administrative division code), no
index column is shown, and the notes, the source and the synthetic-data banner sit under the
table. Pure: a DataFrame and plain values in, a :class:`great_tables.GT` out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from samplekit import reference

#: Fonts for Chinese text (the first one installed wins), then the generic family.
FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
    "WenQuanYi Micro Hei",
    "sans-serif",
)
#: Names of rows that sum a table (kept after the cities).
TOTAL_ROWS: tuple[str, ...] = ("全省", "合计", "总计", "全部")
#: Banner shown under every table built from synthetic data.
SYNTHETIC_BANNER = "合成演示数据,不是真实统计数据"
#: Labels of the keys every step shares (a table's own ``labels`` win).
COMMON_LABELS: dict[str, str] = {
    "city": "城市",
    "section": "行业门类",
    "section_name": "行业门类名称",
    "size_class": "企业规模",
    "ownership": "所有制类型",
    "sector": "产业",
    "status": "状态",
    "registration_type": "登记注册类型",
    "enterprise_id": "企业代码",
    "name": "企业名称",
    "employees": "从业人数",
    "units": "企业数",
    "employment": "从业人数",
    "rule": "规则",
    "kind": "类型",
    "scope": "范围",
    "per": "适用于",
    "flag": "提示",
    "severity": "严重程度",
    "message": "说明",
    "value": "数值",
    "period": "调查期",
    "quarter": "季度",
    "indicator": "指标",
    "level": "等级",
}


def _label(name: str, labels: Mapping[str, str], units: Mapping[str, str]) -> str:
    text = labels.get(name, name)
    unit = units.get(name)
    return f"{text}({unit})" if unit and f"({unit})" not in text else text


def order_cities(
    df: pd.DataFrame, *, column: str = "city", city_table: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Rows in the official city order (administrative division code); totals last.

    Rows of one city keep their relative order (a stable sort), so a table by city and
    indicator stays grouped.
    """
    if column not in df.columns or df.empty:
        return df
    names = df[column].astype(str)
    order = reference.city_order([n for n in names if n not in TOTAL_ROWS], table=city_table)
    rank = {c: i for i, c in enumerate(order)}
    key = names.map(lambda c: rank.get(c, len(rank) + 1 + (c in TOTAL_ROWS)))
    return df.iloc[key.reset_index(drop=True).sort_values(kind="stable").index].reset_index(
        drop=True
    )


def show(
    df: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    percent: Sequence[str] = (),
    decimals: Mapping[str, int] | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    notes: Sequence[str] = (),
    source: str | None = None,
    data_note: str = "",
    city_order: bool = True,
    city_table: pd.DataFrame | None = None,
    translate: bool = True,
    index: bool = False,
    max_rows: int | None = None,
) -> Any:
    """A publication table of ``df`` (a :class:`great_tables.GT`; notebooks display it).

    Parameters
    ----------
    df : DataFrame
        The table, columns in their English keys (or already Chinese).
    labels : mapping, optional
        Column key -> Chinese label (the modules' ``*_HEADERS_ZH``).
    units : mapping, optional
        Column key -> unit, appended to the label: ``从业人数(人)``.
    percent : sequence of str
        Columns holding shares (0–1), shown as percentages with one decimal.
    decimals : mapping, optional
        Column key -> decimals for float columns (default 2; integers and integral floats 0).
    title, subtitle : str, optional
        Table heading.
    notes : sequence of str
        Notes under the table (注:…), one line each.
    source : str, optional
        The source line (资料来源:…).
    data_note : str
        The synthetic-data note of the job (``jobs.data_note``); when set, a short banner under
        the table says the figures are synthetic (the report shows the full note once).
    city_order : bool
        Sort by the ``city`` column in the official order (totals last).
    city_table : DataFrame, optional
        The province's city table (its optional ``code`` column sets the order).
    translate : bool
        Translate code columns to Chinese (:func:`samplekit.reference.readable`).
    index : bool
        Keep a meaningful index (e.g. a pivot's rows) as the first column.
    max_rows : int, optional
        Show only the first rows and say how many were left out.

    Returns
    -------
    great_tables.GT
    """
    from great_tables import GT, loc, style

    labels = {**COMMON_LABELS, **dict(labels or {})}
    units = dict(units or {})
    decimals = dict(decimals or {})
    data = df.reset_index() if index else df.reset_index(drop=True)
    data.columns = [str(c) for c in data.columns]
    data.attrs = {}  # side tables in attrs (e.g. a quality summary's rules) are not shown
    if city_order:
        data = order_cities(data, city_table=city_table)
    notes = list(notes)
    if max_rows is not None and len(data) > max_rows:
        notes.append(f"仅列出前 {max_rows} 行,共 {len(data):,} 行;完整表见同目录的 Excel 文件。")
        data = data.head(max_rows)
    if translate:
        data = reference.readable(data)
    # Stable id: the same table renders to the same HTML (byte-identical reports).
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(data, index=False).values.tobytes()
        + repr((list(data.columns), title)).encode()
    ).hexdigest()[:10]
    gt = GT(data, id=f"t{digest}")
    if title:
        gt = gt.tab_header(title=title, subtitle=subtitle)
    gt = gt.cols_label(**{c: _label(c, labels, units) for c in data.columns})
    for col in data.columns:
        s = data[col]
        if col in percent:
            gt = gt.fmt_percent(columns=col, decimals=1)
        elif pd.api.types.is_integer_dtype(s) or (
            pd.api.types.is_float_dtype(s)
            and col not in decimals
            and s.dropna().size
            and (s.dropna() % 1 == 0).all()  # counts held as floats (NaN for missing)
        ):
            gt = gt.fmt_integer(columns=col)
        elif pd.api.types.is_float_dtype(s):
            gt = gt.fmt_number(columns=col, decimals=decimals.get(col, 2))
    text_cols = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])]
    gt = gt.sub_missing(missing_text="—")
    if text_cols:
        gt = gt.cols_align("left", columns=text_cols)
        # City and category names never wrap one character per line.
        gt = gt.tab_style(
            style=style.css("white-space: nowrap"), locations=loc.body(columns=text_cols)
        )
    if data_note:
        # Short under every table; the full note heads the report (and the Excel 说明 sheet).
        gt = gt.tab_source_note(f"⚠ {SYNTHETIC_BANNER}(见报告开头的数据说明)")
    for note in notes:
        gt = gt.tab_source_note(f"注:{note}")
    if source:
        gt = gt.tab_source_note(f"资料来源:{source}")
    gt = gt.opt_table_font(font=list(FONTS), add=False)
    return gt.tab_options(
        table_font_size="14px",
        heading_title_font_size="16px",
        source_notes_font_size="12px",
        column_labels_font_weight="bold",
        data_row_padding="4px",
        table_width=None,
    )


def html(gt: Any) -> str:
    """The table as an HTML fragment (for the run index and tests)."""
    return gt.as_raw_html()
