"""Monthly reports: the schema, reading both layouts, and validating every row by the form's rules.

Two layouts are read (``docs/monthly.md``):

* the canonical layout of ``docs/architecture.md`` (English keys, reductions non-negative);
* the ministry's 附表一 as cities fill it in: Chinese headers (title rows above the header are
  read for the month and the city), the printed two-level header with 就业人数减少类型 merged over
  its five columns, the 甲/1…12 row, reductions entered as negative numbers, the main reasons in
  one cell (``4、8``) or in three columns, a 总计 row (checked against the column sums, not
  loaded), rows given by 单位名称 only (matched to the panel: :func:`match_report_names`), UTF-8
  or GBK CSV, or XLSX.

A file of the city table (registered unemployed and rate at both period ends) is recognised by its
columns in either language.

Validation is vectorised (a national month of 310 000 rows is checked in about a second) and
returns one :class:`~samplekit.errors.Problem`-shaped row per problem: ``error`` rejects the row,
``warning`` keeps it and flags it for follow-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.errors import PROBLEM_COLUMNS, InputError, problems_frame
from samplekit.io import file_sha256
from samplekit.periods import MONTH_RE, previous_period
from samplekit.rules import MassLayoffRule

REDUCTION_TYPES: tuple[str, ...] = ("closure", "suspension", "layoff", "relocation", "other")
REDUCTION_COLUMNS: list[str] = [f"reduction_{t}" for t in REDUCTION_TYPES]
REASON_COLUMNS: list[str] = ["reason_1", "reason_2", "reason_3"]
REASON_CODES: tuple[int, ...] = tuple(range(1, 12))

#: The canonical report layout (docs/architecture.md), in order.
REPORT_COLUMNS: list[str] = [
    "enterprise_id",
    "period",
    "baseline_employment",
    "survey_employment",
    "change",
    "change_pct",
    *REDUCTION_COLUMNS,
    *REASON_COLUMNS,
    "remark",
]
COUNT_COLUMNS: list[str] = [
    "baseline_employment",
    "survey_employment",
    "change",
    *REDUCTION_COLUMNS,
]

#: The city table layout.
CITY_COLUMNS: list[str] = [
    "city",
    "period",
    "registered_unemployed_start",
    "registered_unemployed_end",
    "registered_rate_start",
    "registered_rate_end",
]

#: Chinese headers of the canonical columns (the ministry's 附表一 wording).
REPORT_HEADERS_ZH: dict[str, str] = {
    "enterprise_id": "统一社会信用代码",
    "name": "单位名称",
    "city": "城市",
    "registration_type": "企业性质",
    "section": "企业所属行业",
    "period": "调查期",
    "baseline_employment": "建档期期末就业人数",
    "survey_employment": "调查期期末就业人数",
    "change": "增减人数",
    "change_pct": "增减幅度(%)",
    "reduction_closure": "关闭破产",
    "reduction_suspension": "停业整顿",
    "reduction_layoff": "经济性裁员",
    "reduction_relocation": "企业迁出本市",
    "reduction_other": "其他",
    "reason_1": "主要原因1",
    "reason_2": "主要原因2",
    "reason_3": "主要原因3",
    "reasons": "就业人数减少主要原因",
    "remark": "备注",
}
CITY_HEADERS_ZH: dict[str, str] = {
    "city": "城市",
    "period": "调查期",
    "registered_unemployed_start": "建档期期末城镇登记失业人数",
    "registered_unemployed_end": "调查期期末城镇登记失业人数",
    "registered_rate_start": "建档期期末城镇登记失业率(%)",
    "registered_rate_end": "调查期期末城镇登记失业率(%)",
}

# Header spellings seen on filled-in forms -> canonical key (after _norm_header).
_FORM_ALIASES: dict[str, str] = {
    "统一社会信用代码": "enterprise_id",
    "企业代码": "enterprise_id",
    "组织机构代码": "enterprise_id",
    "企业编码": "enterprise_id",
    "单位代码": "enterprise_id",
    "单位名称": "name",
    "企业名称": "name",
    "企业性质": "registration_type",
    "企业所属行业": "section",
    "所属行业": "section",
    "行业": "section",
    "城市": "city",
    "监测城市": "city",
    "调查期": "period",
    "报告期": "period",
    "所属期": "period",
    "统计期": "period",
    "建档期期末就业人数": "baseline_employment",
    "建档期末就业人数": "baseline_employment",
    "调查期期末就业人数": "survey_employment",
    "调查期末就业人数": "survey_employment",
    "增减人数": "change",
    "增减就业人数": "change",
    "调查期比建档期期末增减就业人数": "change",
    "增减幅度": "change_pct",
    "关闭破产": "reduction_closure",
    "停业整顿": "reduction_suspension",
    "经济性裁员": "reduction_layoff",
    "企业迁出本市": "reduction_relocation",
    "迁出本市": "reduction_relocation",
    "其他": "reduction_other",
    "就业人数减少主要原因": "reasons",
    "主要原因": "reasons",
    "减少主要原因": "reasons",
    "主要原因1": "reason_1",
    "主要原因2": "reason_2",
    "主要原因3": "reason_3",
    "原因1": "reason_1",
    "原因2": "reason_2",
    "原因3": "reason_3",
    "备注": "remark",
    "序号": "seq",
    "建档期期末城镇登记失业人数": "registered_unemployed_start",
    "调查期期末城镇登记失业人数": "registered_unemployed_end",
    "建档期期末城镇登记失业率": "registered_rate_start",
    "调查期期末城镇登记失业率": "registered_rate_end",
}
_HEADER_MARKERS = ("baseline_employment", "registered_unemployed_start")
_TOTAL_LABELS = {"总计", "合计", "总 计", "合 计"}
#: Largest count (persons) accepted in a cell; a larger one is a ``number`` error.
MAX_COUNT = 100_000_000
_FILE_PERIOD_RE = re.compile(r"(?<!\d)(\d{4})[-_年]?(0[1-9]|1[0-2])(?!\d)")

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ValidationRules:
    """Thresholds of the monthly checks (``monthly.validation`` in params).

    Attributes
    ----------
    mass_layoff : MassLayoffRule
        A fall of at least ``min_persons`` people, or ``min_share`` of the baseline, is flagged
        for follow-up (seed 002); the same rule the monthly tables and the warning use
        (``monthly.mass_layoff``).
    swing_pct
        A change of at least this many percent either way is flagged.
    change_pct_tolerance
        Smallest tolerance for the reported change % (percentage points). The tolerance actually
        used is the larger of this and half a unit of the last decimal the city wrote, so "−3" is
        accepted for −3.4 but not for −3.6.
    """

    mass_layoff: MassLayoffRule = field(default_factory=MassLayoffRule)
    swing_pct: float = 50.0
    change_pct_tolerance: float = 0.05

    @classmethod
    def from_params(cls, params: Any) -> ValidationRules:
        """Read ``monthly.validation`` (missing keys keep their defaults)."""
        if params is None:
            return cls()
        params.check_keys(
            "monthly",
            {
                "store",
                "validation",
                "demo",
                "calendar",
                "events",
                "special_notes",
                "insurance",
                "mass_layoff",
                "break",
            },
        )
        base = "monthly.validation"
        rule = MassLayoffRule.from_params(params)  # refuses the keys it replaced, naming them
        params.check_keys(base, {"swing_pct", "change_pct_tolerance"})
        d = cls()
        return cls(
            mass_layoff=rule,
            swing_pct=float(params.number(f"{base}.swing_pct", d.swing_pct, low=0)),
            change_pct_tolerance=float(
                params.number(f"{base}.change_pct_tolerance", d.change_pct_tolerance, low=0)
            ),
        )


@dataclass
class ReportFile:
    """One file read into the canonical layout.

    Attributes
    ----------
    path : Path
    kind : "reports" or "city"
    layout : "canonical" or "form"
    data : DataFrame
        Canonical columns (typed: nullable Int64 counts and codes, Float64 change %), plus
        ``row`` (the spreadsheet row number), ``name`` when the file has one, and
        ``change_pct_decimals`` (decimals the city wrote, for the rounding tolerance).
    problems : DataFrame
        Problems found while reading cells (bad numbers, missing required cells, signs).
    sha256 : str
    expected_period : str or None
        The month agreed by ``--period``, the title and the file name (:func:`resolve_period`).
    title : str
        The text above the header (title, 填报单位 and unit lines).
    """

    path: Path
    kind: Literal["reports", "city"]
    layout: Literal["canonical", "form"]
    data: pd.DataFrame
    problems: pd.DataFrame
    sha256: str
    raw: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    expected_period: str | None = None
    title: str = ""


def _norm_header(text: Any) -> str:
    s = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    s = s.strip().replace("（", "(").replace("）", ")").replace("\n", "").replace(" ", "")
    s = s.replace("\u3000", "")
    s = re.sub(r"\(%\)|%|\(人\)|\(个\)", "", s)
    s = re.sub(r"^就业人数减少类型[-_:：/·]?", "", s)
    return s


def _header_key(text: Any) -> str | None:
    raw = "" if text is None else str(text).strip()
    if (
        raw in REPORT_COLUMNS
        or raw in CITY_COLUMNS
        or raw in ("name", "city", "section", "registration_type", "reasons")
    ):
        return raw
    return _FORM_ALIASES.get(_norm_header(text))


def _norm_period(value: str) -> str:
    """'2013/7', '2013.07', '2013年7月', '201307' -> '2013-07'; anything else unchanged."""
    v = value.strip()
    m = re.match(r"^(\d{4})(?:[-/.年](\d{1,2})月?|(\d{2}))$", v)
    if m and 1 <= int(m.group(2) or m.group(3)) <= 12:
        return f"{m.group(1)}-{int(m.group(2) or m.group(3)):02d}"
    return v


def period_of_filename(path: str | Path) -> str | None:
    """The month written in a file name (``2013-07``, ``201307``, ``2013年07``), if any."""
    m = _FILE_PERIOD_RE.search(Path(path).stem)
    return f"{m.group(1)}-{m.group(2)}" if m else None


@dataclass
class _Cells:
    """A report file's cells under its (one- or two-level) header, before typing."""

    cells: pd.DataFrame
    rows: pd.Series  # file line (CSV) or sheet row (XLSX) of each record
    header_row: int
    layout: Literal["canonical", "form"]
    title: str
    formulas: dict[tuple[int, str], str]  # (row, column key) -> formula without a value


_LABEL_ROW = {"甲", "乙", "甲栏", "栏次", "栏序号", "甲栏序号"}
_FOOTER_RE = re.compile(
    r"^(补充资料|报出日期|填报日期|填表人|填报人|单位负责人|负责人|审核人|"
    r"统计负责人|联系电话|说明|注[::])"
)


def _read_cells(path: Path) -> _Cells:
    """Read a file as strings; find the header (one or two rows) and the title above it."""
    from samplekit.io import csv_encoding, csv_head, guess_delimiter

    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise InputError(f"{path}: unknown file type '{suffix}'; use .csv or .xlsx")
    try:
        if suffix in (".xlsx", ".xlsm"):
            if path.stat().st_size == 0:
                raise InputError(f"{path}: 文件为空(0 字节);请重新导出后报送")
            head = pd.read_excel(path, header=None, dtype=str, nrows=20, engine="openpyxl")
            lines = [list(r) for r in head.itertuples(index=False)]
            encoding = None
        else:
            encoding = csv_encoding(path)
            lines = csv_head(path, encoding)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as {suffix[1:].upper()}: {exc}") from exc
    header_idx = None
    for i, line in enumerate(lines):
        keys = {_header_key(c) for c in line}
        if keys & set(_HEADER_MARKERS):
            header_idx = i
            break
    if header_idx is None:
        delim = guess_delimiter(lines) if encoding else None
        if delim is not None:
            raise InputError(
                f"{path}: 第{delim[0]}行似乎以{delim[1]}分隔;请另存为逗号分隔的"
                f" CSV(或 XLSX)后重新报送"
            )
        raise InputError(
            f"{path}: no header row found in the first {len(lines)} rows; expected the "
            f"canonical columns (enterprise_id, period, baseline_employment, …) or the form's "
            f"Chinese headers (建档期期末就业人数, 调查期期末就业人数, …)"
        )
    title = " ".join(
        str(c).strip()
        for line in lines[:header_idx]
        for c in line
        if c is not None and str(c).strip() and str(c) != "nan"
    )
    try:
        if encoding is None:
            grid = pd.read_excel(
                path, header=None, dtype=str, engine="openpyxl", skiprows=header_idx
            )
        else:
            grid = pd.read_csv(
                path,
                header=None,
                skiprows=header_idx,
                dtype=str,
                encoding=encoding,
                keep_default_na=False,
                na_values=[""],
                skipinitialspace=True,
                skip_blank_lines=False,
            )
    except Exception as exc:
        if encoding is not None:
            from samplekit.io import field_count_problem

            bad = field_count_problem(path, encoding, header_idx + 1)
            if bad is not None:
                raise InputError(
                    f"{path}: 第{bad[0]}行有{bad[1]}列,表头有{bad[2]}列(常见原因:名称中含有未加"
                    f"引号的逗号);请修正该行后重新报送"
                ) from exc
        raise InputError(
            f"{path}: cannot be read past its header (row {header_idx + 1}): {exc}"
        ) from exc
    top = [("" if pd.isna(v) else str(v)) for v in grid.iloc[0]]
    levels = 1
    if len(grid) > 1:
        second = [("" if pd.isna(v) else str(v)) for v in grid.iloc[1]]
        sub = {_header_key(c) for c in second} & set(REDUCTION_COLUMNS)
        if len(sub) >= 2:  # the printed form: 就业人数减少类型 merged over its five columns
            levels = 2
            names = [b if b.strip() else t for t, b in zip(top, second, strict=True)]
        else:
            names = top
    else:
        names = top
    # Blank header cells get a placeholder; repeated names keep their first occurrence.
    names = [n if n.strip() else f"_blank_{j}" for j, n in enumerate(names)]
    seen: dict[str, int] = {}
    cols = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        cols.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    cells = grid.iloc[levels:].reset_index(drop=True)
    cells.columns = cols
    header_row = header_idx + levels  # last header line (1-based)
    rows = pd.Series(np.arange(len(cells)) + header_row + 1, name="row")
    layout: Literal["canonical", "form"] = (
        "canonical" if any(str(c).strip() in _HEADER_MARKERS for c in cols) else "form"
    )
    formulas: dict[tuple[int, str], str] = {}
    if encoding is None:
        from samplekit.io import xlsx_formulas_without_values

        for (r, c), f in xlsx_formulas_without_values(path).items():
            if r > header_row and c - 1 < len(cols):
                formulas[(r, cols[c - 1])] = f
    return _Cells(cells, rows, header_row, layout, title, formulas)


def _problems_if(
    mask: pd.Series,
    rows: pd.Series,
    column: str,
    values: pd.Series | str,
    rule: str,
    message: str,
    severity: Severity,
    file: str,
) -> pd.DataFrame:
    """:func:`_problems` for the rows where ``mask`` holds (cheap when none does)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    vals = values[m] if isinstance(values, pd.Series) else values
    return _problems(rows[m], column, vals, rule, message, severity, file)


def _problems(
    rows: pd.Series,
    column: str,
    values: pd.Series | str,
    rule: str,
    message: pd.Series | str,
    severity: Severity,
    file: str,
) -> pd.DataFrame:
    n = len(rows)
    if n == 0:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)

    def _as_list(x: Any) -> Any:
        if isinstance(x, pd.Series):
            return np.array([_fmt(v) for v in x.to_numpy(dtype=object)], dtype=object)
        return [x] * n

    return pd.DataFrame(
        {
            "severity": severity,
            "file": file,
            "row": rows.to_numpy(),
            "column": column,
            "value": _as_list(values),
            "rule": rule,
            "message": _as_list(message),
        },
        columns=PROBLEM_COLUMNS,
    )


def _fmt(v: Any) -> str:
    """A cell value as text: integers without '.0', missing as ''."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _to_number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Strings -> float; also a mask of non-empty cells that are not numbers."""
    s = s.reset_index(drop=True)
    num = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = num.isna() & s.notna()
    if bad.any():  # slow path only for the odd cell: surrounding spaces, empty strings
        st = s[bad].astype("str").str.strip()
        num[bad] = pd.to_numeric(st, errors="coerce").astype("float64")
        bad = num.isna() & s.notna()
        bad[bad] = st[bad[bad].index] != ""
    return num, bad


def _decimals(s: pd.Series) -> pd.Series:
    st = s.astype("str")
    pos = st.str.find(".")
    n = (st.str.len() - pos - 1).where(pos >= 0, 0)
    return n.fillna(0).astype("int64")


def resolve_period(
    *,
    argument: str | None = None,
    title: str | None = None,
    file_name: str | None = None,
    today: str | None = None,
    allow_future: bool = False,
    file: str = "",
) -> str | None:
    """The month a report file must be: ``--period``, the title and the file name must agree.

    Parameters
    ----------
    argument : str, optional
        ``--period`` (``YYYY-MM``).
    title : str, optional
        The month written in the form's title (``2013年6月``).
    file_name : str, optional
        The month in the file name (``…2013-07…``).
    today : str, optional
        The current month ``YYYY-MM`` (default: the clock); a later month is refused unless
        ``allow_future``.
    allow_future : bool
    file : str
        Named in the messages.

    Returns
    -------
    str or None
        The agreed month, or None when none of the three gives one.

    Raises
    ------
    InputError
        When two sources disagree, or the month is in the future.

    Examples
    --------
    >>> resolve_period(argument="2013-07", file_name="2013-07", today="2014-01")
    '2013-07'
    """
    named = {"--period": argument, "标题": title, "文件名": file_name}
    given = {k: _norm_period(v) for k, v in named.items() if v}
    if len(set(given.values())) > 1:
        raise InputError(
            f"{file}: 调查期不一致("
            + ",".join(f"{k} {v}" for k, v in given.items())
            + ");请核对后用正确的 --period 或更正文件"
        )
    period = next(iter(given.values()), None)
    if period is not None and not allow_future:
        now = today or pd.Timestamp.now().strftime("%Y-%m")
        if MONTH_RE.match(period) and period > now:
            raise InputError(
                f"{file}: 调查期 {period} 晚于当前月份 {now};确需载入请加 --allow-future"
            )
    return period


_TITLE_PERIOD_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月(?!\s*\d{1,2}\s*日)")
_DATE_LABELS = ("报出日期", "填报日期", "报送日期", "制表日期", "日期")


def title_period(title: str) -> str | None:
    """The month named in a form's title rows (``2013年6月``), ignoring 报出日期-like dates.

    Examples
    --------
    >>> title_period("监测城市就业人员变化情况表(2013年6月) 报出日期:2013年7月5日")
    '2013-06'
    """
    found = set()
    for part in re.split(r"\s+", title):
        if any(lbl in part for lbl in _DATE_LABELS):
            continue
        for m in _TITLE_PERIOD_RE.finditer(part):
            if 1 <= int(m.group(2)) <= 12:
                found.add(f"{m.group(1)}-{int(m.group(2)):02d}")
    return found.pop() if len(found) == 1 else None


def read_report_file(
    path: str | Path,
    *,
    period: str | None = None,
    allow_future: bool = False,
    today: str | None = None,
) -> ReportFile:
    """Read one monthly report file (either layout) or one city-table file.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX.
    period : str, optional
        The month (``YYYY-MM``, ``--period``). It must agree with the month in the form's title
        and in the file name (:func:`resolve_period`); the agreed month is
        ``ReportFile.expected_period``.
    allow_future, today
        See :func:`resolve_period`.

    Returns
    -------
    ReportFile

    Raises
    ------
    InputError
        The file is missing, empty, cannot be decoded, has no recognisable header or no data
        row; the period sources disagree or the month is in the future; or a required column is
        missing (the message lists what was found).

    Examples
    --------
    >>> rf = read_report_file("data/demo/reports/2013-07.csv")  # doctest: +SKIP
    >>> rf.data[["enterprise_id", "change"]].head()  # doctest: +SKIP
    """
    p = Path(path)
    got = _read_cells(p)
    cells, rows, header_row, layout = got.cells, got.rows, got.header_row, got.layout
    name = p.name
    keys: dict[str, str] = {}
    for col in cells.columns:
        key = _header_key(col)
        if key is not None and key not in keys.values():
            keys[col] = key
    formulas = {(r, keys[c]): f for (r, c), f in got.formulas.items() if c in keys}
    cells = cells.rename(columns=keys)[list(keys.values())]
    cells.index = pd.RangeIndex(len(cells))
    cells = cells.apply(_unescape)
    is_city = (
        "registered_unemployed_start" in cells.columns
        and "baseline_employment" not in cells.columns
    )
    probs: list[pd.DataFrame] = []

    # The printed form's 甲/1…12 column-number row, footer lines (补充资料, 报出日期 …), 总计/合计
    # rows and empty rows are not reports; the total row is kept to check the column sums.
    label_cols = [c for c in ("seq", "name", "enterprise_id", "city") if c in cells.columns]
    is_total = pd.Series(False, index=cells.index)
    is_label = pd.Series(False, index=cells.index)
    is_footer = pd.Series(False, index=cells.index)
    counts_empty = (
        cells[[c for c in ("baseline_employment", "survey_employment") if c in cells.columns]]
        .isna()
        .all(axis=1)
    )
    for c in label_cols:
        text = cells[c].astype("str").str.strip().str.replace(r"[\s\u3000]", "", regex=True)
        is_total |= text.isin(_TOTAL_LABELS)
        is_label |= text.isin(_LABEL_ROW)
        is_footer |= text.str.match(_FOOTER_RE.pattern).fillna(False).astype(bool) & counts_empty
    is_label |= _column_number_row(cells)
    empty = cells.isna().all(axis=1)
    totals = cells[is_total & ~empty]
    total_rows = rows[(is_total & ~empty).to_numpy()]
    keep = ~(is_total | empty | is_label | is_footer)
    cells, rows = cells[keep].reset_index(drop=True), rows[keep.to_numpy()].reset_index(drop=True)
    if not len(cells):
        raise InputError(f"{p}: 只有表头(到第{header_row}行),没有数据行")

    in_title = title_period(got.title) if got.title else None
    file_period = resolve_period(
        argument=period,
        title=in_title,
        file_name=period_of_filename(p),
        today=today,
        allow_future=allow_future,
        file=str(p),
    )
    if "period" not in cells.columns:
        if file_period is None:
            raise InputError(
                f"{p}: no period column (调查期/period) and no month in the title or the file "
                f"name; pass --period YYYY-MM or name the file like 'reports_2013-07.csv'"
            )
        cells["period"] = file_period
    per = cells["period"].astype("str")
    cells["period"] = per.map({v: _norm_period(v) for v in per.dropna().unique()})

    if is_city:
        required = list(CITY_COLUMNS)
    else:
        required = ["baseline_employment", "survey_employment"]
        if "enterprise_id" not in cells.columns and "name" not in cells.columns:
            required.insert(0, "enterprise_id")
    missing = [c for c in required if c not in cells.columns]
    if missing:
        zh = CITY_HEADERS_ZH if is_city else REPORT_HEADERS_ZH
        raise InputError(
            f"{p}: missing column(s) {', '.join(f'{c} ({zh.get(c, c)})' for c in missing)} "
            f"(header in row {header_row}); found: {', '.join(map(str, cells.columns))}"
        )
    if not is_city and "enterprise_id" not in cells.columns:
        cells["enterprise_id"] = pd.Series([None] * len(cells), dtype=object)
    for (r, key), f in sorted(formulas.items()):
        probs.append(
            _problems(
                pd.Series([r]),
                key,
                f,
                "formula_no_value",
                "公式单元格没有计算结果(文件由程序生成、未在 Excel 中保存);"
                "请在 Excel 中打开并保存,或填写数值",
                "error",
                name,
            )
        )

    out = pd.DataFrame({"row": rows.astype("int64")})
    if is_city:
        out["city"] = cells["city"].astype("str").str.strip()
        out["period"] = cells["period"]
        for c in CITY_COLUMNS[2:]:
            num, bad = _to_number(cells[c])
            probs.append(
                _problems_if(bad, rows, c, cells[c], "number", "不是数字;请填写数值", "error", name)
            )
            out[c] = num
        kind: Literal["reports", "city"] = "city"
    else:
        out["enterprise_id"] = cells["enterprise_id"].astype("str").str.strip()
        out.loc[cells["enterprise_id"].isna(), "enterprise_id"] = pd.NA
        out["period"] = cells["period"]
        if "name" in cells.columns:
            out["name"] = cells["name"].astype("str").str.strip().where(cells["name"].notna())
        for c in COUNT_COLUMNS:
            if c not in cells.columns:
                out[c] = pd.array([pd.NA] * len(cells), dtype="Int64")
                continue
            num, bad = _to_number(cells[c])
            frac = num.notna() & (num != np.round(num))
            probs.append(
                _problems_if(
                    bad | frac,
                    rows,
                    c,
                    cells[c],
                    "number",
                    "不是整数人数;请填写整数(不要千分位逗号、单位或文字)",
                    "error",
                    name,
                )
            )
            big = num.abs() > MAX_COUNT
            probs.append(
                _problems_if(
                    big,
                    rows,
                    c,
                    cells[c],
                    "number",
                    f"数值过大(绝对值超过{MAX_COUNT:,});请核对",
                    "error",
                    name,
                )
            )
            num = num.where(~(frac | big))
            if c in REDUCTION_COLUMNS:
                if layout == "form":
                    pos = num > 0
                    probs.append(
                        _problems_if(
                            pos,
                            rows,
                            c,
                            cells[c],
                            "reduction_sign",
                            "减少类型应以负数填报(填表说明(七));已按减少人数读取",
                            "warning",
                            name,
                        )
                    )
                    num = num.abs()
                else:
                    neg = num < 0
                    probs.append(
                        _problems_if(
                            neg,
                            rows,
                            c,
                            cells[c],
                            "reduction_negative",
                            "规范格式中减少人数为非负数;请去掉负号",
                            "error",
                            name,
                        )
                    )
                    num = num.where(~neg)
            out[c] = (
                pd.array(num.round(), dtype="Int64") if len(num) else pd.array([], dtype="Int64")
            )
        if "change_pct" in cells.columns:
            num, bad = _to_number(cells["change_pct"])
            big = num.abs() > MAX_COUNT
            bad = bad | big
            num = num.where(~big)
            probs.append(
                _problems_if(
                    bad,
                    rows,
                    "change_pct",
                    cells["change_pct"],
                    "number",
                    "增减幅度不是数字",
                    "error",
                    name,
                )
            )
            out["change_pct"] = pd.array(num, dtype="Float64")
            out["change_pct_decimals"] = _decimals(cells["change_pct"]).to_numpy()
        else:
            out["change_pct"] = pd.array([pd.NA] * len(cells), dtype="Float64")
            out["change_pct_decimals"] = 0
        reasons, rprobs = _parse_reasons(cells, rows, name)
        probs.append(rprobs)
        for c in [*REASON_COLUMNS, "reason_cells"]:
            out[c] = reasons[c]
        out["remark"] = (
            cells["remark"].astype("str").str.strip()
            if "remark" in cells.columns
            else pd.Series([pd.NA] * len(cells), dtype="str")
        )
        for c in ("enterprise_id", "period", "baseline_employment", "survey_employment"):
            miss = out[c].isna() & ~_row_in(rows, probs, c)
            if c == "enterprise_id" and "name" in out.columns:
                miss &= out["name"].isna()  # a name is matched to the panel instead
            probs.append(
                _problems_if(
                    miss.to_numpy(),
                    rows,
                    c,
                    "",
                    "required",
                    f"必填项 {REPORT_HEADERS_ZH[c]} 为空",
                    "error",
                    name,
                )
            )
        kind = "reports"
    probs = [d for d in probs if len(d)]
    problems = problems_frame(pd.concat(probs, ignore_index=True)) if probs else problems_frame([])
    rf = ReportFile(
        path=p,
        kind=kind,
        layout=layout,
        data=out,
        problems=problems,
        sha256=file_sha256(p),
        raw=cells,
        expected_period=file_period,
        title=got.title,
    )
    if kind == "reports" and len(totals):
        rf.problems = _with(rf.problems, _check_total_row(rf, totals, total_rows, layout))
    return rf


def _unescape(s: pd.Series) -> pd.Series:
    from samplekit.io import unescape_formulas

    return unescape_formulas(s)


def _with(problems: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    parts = [x for x in (problems, more) if len(x)]
    return problems_frame(pd.concat(parts, ignore_index=True)) if parts else problems


def _column_number_row(cells: pd.DataFrame) -> pd.Series:
    """The printed form's 栏次 row: its filled cells are 1, 2, 3, … left to right (≥ 5 of them)."""

    def is_numbering(row: pd.Series) -> bool:
        vals = [str(v).strip() for v in row if v is not None and not pd.isna(v) and str(v).strip()]
        vals = [v for v in vals if v not in _LABEL_ROW]
        return len(vals) >= 5 and vals == [str(i) for i in range(1, len(vals) + 1)]

    head = cells.head(3)  # it sits right under the header
    out = pd.Series(False, index=cells.index)
    for i, row in head.iterrows():
        out.iloc[i] = is_numbering(row)
    return out


def _check_total_row(
    rf: ReportFile, totals: pd.DataFrame, total_rows: pd.Series, layout: str
) -> pd.DataFrame:
    """File-level warning when the 总计 row differs from the column sums (naming the columns)."""
    d = rf.data
    diffs = []
    for c in COUNT_COLUMNS:
        if c not in totals.columns:
            continue
        num, bad = _to_number(totals[c].iloc[[0]])
        if bad.any() or num.isna().all():
            continue
        stated = float(num.iloc[0])
        if c in REDUCTION_COLUMNS and layout == "form":
            stated = abs(stated)
        summed = float(d[c].astype("Float64").sum()) if c in d.columns else 0.0
        if stated != summed:
            diffs.append(f"{REPORT_HEADERS_ZH[c]} 总计 {stated:g} ≠ 各行合计 {summed:g}")
    if not diffs:
        return problems_frame([])
    line = int(total_rows.iloc[0])
    return _problems(
        pd.Series([pd.NA]),
        "总计",
        ";".join(diffs),
        "total_row",
        f"第{line}行总计与各行合计不符:" + ";".join(diffs) + "(总计行不入库;请核对各行或总计)",
        "warning",
        rf.path.name,
    )


def _row_in(rows: pd.Series, probs: list[pd.DataFrame], column: str) -> pd.Series:
    hit: set[int] = set()
    for d in probs:
        if len(d):
            hit.update(d.loc[d["column"] == column, "row"].astype(int).tolist())
    return pd.Series(rows.isin(hit).to_numpy())


def _parse_reasons(
    cells: pd.DataFrame, rows: pd.Series, file: str
) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    n = len(cells)
    probs: list[pd.DataFrame] = []
    if "reasons" in cells.columns and not any(c in cells.columns for c in REASON_COLUMNS):
        text = cells["reasons"].astype("str").str.strip().fillna("")
        text = text.where(cells["reasons"].notna(), "")
        parts = text.str.split(r"[;；,，、/\s]+", regex=True, expand=True)
        parts = parts.replace("", None) if len(parts.columns) else parts
        ntok = parts.notna().sum(axis=1) if len(parts.columns) else pd.Series(0, index=text.index)
        many = ntok > 3
        probs.append(
            _problems(
                rows[many.to_numpy()],
                "reasons",
                text[many],
                "reason_count",
                "主要原因最多填写3个代码",
                "error",
                file,
            )
        )
        raw_cols = {
            c: (parts[i] if i in parts.columns else pd.Series([None] * n))
            for i, c in enumerate(REASON_COLUMNS)
        }
        src = "reasons"
    else:
        raw_cols = {
            c: (cells[c] if c in cells.columns else pd.Series([None] * n)) for c in REASON_COLUMNS
        }
        src = None
    out: dict[str, pd.Series] = {}
    given = np.zeros(n, dtype=int)
    for c, s in raw_cols.items():
        s = s.reset_index(drop=True)
        num, bad = _to_number(s)
        frac = num.notna() & (num != np.round(num))
        out_of_range = num.notna() & ~frac & ~num.isin(REASON_CODES)
        badm = bad | frac | out_of_range
        probs.append(
            _problems_if(
                badm.to_numpy(),
                rows,
                src or c,
                s,
                "reason_code",
                "主要原因代码应为1–11的整数",
                "error",
                file,
            )
        )
        out[c] = pd.array(num.where(~badm).round(), dtype="Int64")
        given = given + (num.notna() | bad).to_numpy().astype(int)
    out["reason_cells"] = pd.Series(given)
    probs = [d for d in probs if len(d)]
    return out, (
        pd.concat(probs, ignore_index=True) if probs else pd.DataFrame(columns=PROBLEM_COLUMNS)
    )


def validate_reports(
    data: pd.DataFrame,
    *,
    file: str = "",
    panel_ids: Any = None,
    expected_period: str | None = None,
    previous: pd.DataFrame | None = None,
    rules: ValidationRules | None = None,
) -> pd.DataFrame:
    """Check every report row by the form's rules.

    Parameters
    ----------
    data : DataFrame
        Reports in the canonical layout with a ``row`` column (as from :func:`read_report_file`;
        ``change_pct_decimals`` optional).
    file : str
        File name written into each problem.
    panel_ids : collection of str, optional
        Enterprise ids of the current panel; ``None`` skips the check.
    expected_period : str, optional
        Every row must be this month.
    previous : DataFrame, optional
        ``enterprise_id, period, survey_employment`` of earlier accepted reports; the baseline must
        equal the previous month's survey figure (breaks are warnings).
    rules : ValidationRules, optional

    Returns
    -------
    DataFrame
        Problems (columns of :data:`samplekit.errors.PROBLEM_COLUMNS`).

    Notes
    -----
    Errors (the row is rejected): ``period_format``, ``period_expected``,
    ``negative_employment``, ``change``, ``change_pct``, ``reduction_without_fall``,
    ``reduction_sum``, ``reason_missing``, ``reason_code``, ``reason_gap``,
    ``reason_duplicate``, ``not_in_panel``, ``duplicate``. Warnings (kept, flagged):
    ``reason_without_fall``, ``baseline_break``, ``mass_layoff``, ``large_swing``. Reading adds
    ``required``, ``number``, ``reduction_negative``, ``reason_count`` (errors) and
    ``reduction_sign`` (warning). See ``docs/monthly.md``.

    Examples
    --------
    >>> rf = read_report_file("reports_2013-07.csv")  # doctest: +SKIP
    >>> problems = validate_reports(rf.data, file=rf.path.name, panel_ids=panel["enterprise_id"])
    ... # doctest: +SKIP
    """
    rules = rules or ValidationRules()
    d = data.reset_index(drop=True)
    rows = d["row"]
    probs: list[pd.DataFrame] = []

    def add(
        mask: Any, column: str, values: Any, rule: str, message: Any, severity: Severity = "error"
    ) -> None:
        m = np.asarray(pd.array(mask, dtype="boolean").fillna(False), dtype=bool)
        if not m.any():
            return
        # Values and messages are built for the flagged rows only (a national month is big).
        if callable(values):
            v = values(m).reset_index(drop=True)
        else:
            v = values[m].reset_index(drop=True) if isinstance(values, pd.Series) else values
        if isinstance(message, tuple):
            prefix, series = message
            msg = pd.Series([prefix + _fmt(x) for x in series[m].to_numpy(dtype=object)])
        else:
            msg = message
        probs.append(
            _problems(rows[m].reset_index(drop=True), column, v, rule, msg, severity, file)
        )

    per = d["period"].astype("str")
    bad_fmt = d["period"].notna() & ~per.str.match(MONTH_RE.pattern)
    add(bad_fmt, "period", per, "period_format", "调查期应写作 YYYY-MM,例如 2013-07")
    if expected_period is not None:
        add(
            d["period"].notna() & ~bad_fmt & (per != expected_period),
            "period",
            per,
            "period_expected",
            f"本文件应为 {expected_period} 的报表",
        )

    base = d["baseline_employment"].astype("Float64")
    surv = d["survey_employment"].astype("Float64")
    chg = d["change"].astype("Float64")
    for c, s in (("baseline_employment", base), ("survey_employment", surv)):
        add(s < 0, c, s, "negative_employment", "就业人数不能为负数")
    calc = surv - base
    add(
        chg.notna() & calc.notna() & (chg != calc),
        "change",
        chg,
        "change",
        ("增减人数应等于调查期期末就业人数 − 建档期期末就业人数 = ", calc),
    )
    # The employment figures decide whether it fell (a wrong "change" is reported once, as
    # such); a missing change is derived, not rejected.
    change = calc.fillna(chg)

    pct = d["change_pct"].astype("Float64")
    exact = 100.0 * calc / base.where(base > 0)
    dec = (
        d["change_pct_decimals"]
        if "change_pct_decimals" in d.columns
        else pd.Series(1, index=d.index)
    )
    tol = np.maximum(rules.change_pct_tolerance, 0.5 * 10.0 ** (-dec.astype(float))) + 1e-9
    add(
        pct.notna() & exact.notna() & ((pct - exact).abs() > tol),
        "change_pct",
        pct,
        "change_pct",
        ("增减幅度应为 增减人数 ÷ 建档期期末就业人数 × 100 = ", exact.round(2)),
    )
    add(
        pct.notna() & (base == 0),
        "change_pct",
        pct,
        "change_pct",
        "建档期期末就业人数为0时不计算增减幅度,请留空",
    )

    red = d[REDUCTION_COLUMNS].astype("Float64")
    red_total = red.sum(axis=1, min_count=1)
    fell = change < 0
    not_fell = change >= 0
    any_red = (red.fillna(0) > 0).any(axis=1)
    add(
        not_fell & any_red,
        "reduction_*",
        red_total,
        "reduction_without_fall",
        "就业人数未减少时不应填报减少类型(填表说明(五))",
    )
    add(
        fell & (red_total.fillna(0) != -change),
        "reduction_*",
        red_total.fillna(0),
        "reduction_sum",
        ("各减少类型之和应等于减少人数 ", -change),
    )

    reasons = d[REASON_COLUMNS].astype("Float64")
    has_reason = reasons.notna().any(axis=1)
    if "reason_cells" in d.columns:  # an invalid code is reported as such, not as missing
        has_reason = has_reason | (d["reason_cells"] > 0)
    add(
        fell & ~has_reason,
        "reason_1",
        "",
        "reason_missing",
        "就业人数减少时应填写主要原因代码(最多3个,按重要性排序)",
    )
    add(
        not_fell & has_reason,
        "reason_1",
        reasons["reason_1"],
        "reason_without_fall",
        "就业人数未减少时一般不填主要原因",
        "warning",
    )
    gap = (reasons["reason_1"].isna() & reasons[["reason_2", "reason_3"]].notna().any(axis=1)) | (
        reasons["reason_2"].isna() & reasons["reason_3"].notna()
    )
    if "reason_cells" in d.columns:  # a gap left by an invalid code is that code's problem
        gap &= d["reason_cells"] <= reasons.notna().sum(axis=1)
    add(gap, "reason_1", reasons["reason_1"], "reason_gap", "主要原因应从第1位起按顺序填写")
    for c in REASON_COLUMNS:  # read_report_file already blanks invalid codes; frames may not
        add(
            reasons[c].notna() & ~reasons[c].isin(list(REASON_CODES)),
            c,
            reasons[c],
            "reason_code",
            "主要原因代码应为1–11的整数",
        )
    r1, r2, r3 = (reasons[c] for c in REASON_COLUMNS)
    dup = (r1.notna() & ((r1 == r2) | (r1 == r3))) | (r2.notna() & (r2 == r3))
    add(
        dup,
        "reason_2",
        lambda m: reasons_text(d[m], sep="/"),
        "reason_duplicate",
        "主要原因代码不能重复",
    )

    if panel_ids is not None:
        # object dtype: Arrow-string isin with a long list is very slow in pandas 3
        ids = pd.Index(np.asarray(list(panel_ids), dtype=object))
        inside = pd.Series(ids.get_indexer(d["enterprise_id"].astype(object)) >= 0)
        add(
            d["enterprise_id"].notna() & ~inside,
            "enterprise_id",
            d["enterprise_id"],
            "not_in_panel",
            "该企业不在当前监测名单中;请核对统一社会信用代码",
        )
    key = d[["enterprise_id", "period"]]
    dupk = key.notna().all(axis=1) & key.duplicated(keep=False)
    add(
        dupk,
        "enterprise_id",
        d["enterprise_id"],
        "duplicate",
        "同一企业同一调查期在本文件中出现多次;请只保留一行",
    )

    if previous is not None and len(previous):
        prev = previous[["enterprise_id", "period", "survey_employment"]].rename(
            columns={"survey_employment": "_prev_survey", "period": "_prev_period"}
        )
        uniq = {p: previous_period(p) for p in per[~bad_fmt].unique()}
        look = pd.DataFrame({"enterprise_id": d["enterprise_id"], "_prev_period": per.map(uniq)})
        prev = prev.drop_duplicates(["enterprise_id", "_prev_period"], keep="last")
        merged = look.merge(prev, on=["enterprise_id", "_prev_period"], how="left")
        pv = merged["_prev_survey"].astype("Float64")
        add(
            pv.notna() & base.notna() & (pv != base),
            "baseline_employment",
            base,
            "baseline_break",
            ("建档期期末就业人数应等于上月调查期期末就业人数 ", pv),
            "warning",
        )

    fall = (-change).where(fell)
    mass = fell & pd.Series(
        rules.mass_layoff.mask(fall.astype("Float64").fillna(0), base.astype("Float64").fillna(0)),
        index=fall.index,
    )
    add(
        mass,
        "change",
        change,
        "mass_layoff",
        f"{rules.mass_layoff.describe_zh()},请核实并跟踪",
        "warning",
    )
    add(
        (exact.abs() >= rules.swing_pct),
        "change_pct",
        exact.round(1),
        "large_swing",
        f"增减幅度达到±{rules.swing_pct:g}%,请核实",
        "warning",
    )

    if not probs:
        return problems_frame([])
    out = pd.concat(probs, ignore_index=True)
    out["value"] = out["value"].astype("str").replace({"<NA>": "", "nan": ""})
    return problems_frame(out)


def validate_city_reports(
    data: pd.DataFrame, *, file: str = "", expected_period: str | None = None
) -> pd.DataFrame:
    """Check a city table: period format, counts ≥ 0, rates in [0, 100], one row per city."""
    d = data.reset_index(drop=True)
    probs: list[pd.DataFrame] = []
    per = d["period"].astype("str")
    m = ~per.str.match(MONTH_RE.pattern)
    probs.append(
        _problems(
            d["row"][m], "period", per[m], "period_format", "调查期应写作 YYYY-MM", "error", file
        )
    )
    if expected_period is not None:
        m = ~m & (per != expected_period)
        probs.append(
            _problems(
                d["row"][m],
                "period",
                per[m],
                "period_expected",
                f"本文件应为 {expected_period} 的报表",
                "error",
                file,
            )
        )
    for c in ("registered_unemployed_start", "registered_unemployed_end"):
        m = d[c] < 0
        probs.append(_problems(d["row"][m], c, d[c][m], "negative", "人数不能为负", "error", file))
    for c in ("registered_rate_start", "registered_rate_end"):
        m = (d[c] < 0) | (d[c] > 100)
        probs.append(
            _problems(
                d["row"][m], c, d[c][m], "rate_range", "登记失业率应在0–100(%)之间", "error", file
            )
        )
    m = d[["city", "period"]].duplicated(keep=False)
    probs.append(
        _problems(
            d["row"][m],
            "city",
            d["city"][m],
            "duplicate",
            "同一城市同一调查期出现多次",
            "error",
            file,
        )
    )
    probs = [p for p in probs if len(p)]
    return problems_frame(pd.concat(probs, ignore_index=True)) if probs else problems_frame([])


def check_file(
    path: str | Path,
    *,
    panel_ids: Any = None,
    expected_period: str | None = None,
    previous: pd.DataFrame | None = None,
    rules: ValidationRules | None = None,
    panel: pd.DataFrame | None = None,
    mapping: dict[str, str] | None = None,
    allow_future: bool = False,
    today: str | None = None,
) -> tuple[ReportFile, pd.DataFrame]:
    """Read and validate one file; returns the file and all its problems (reading + rules).

    ``expected_period`` is ``--period``; the month checked is the one agreed with the title and
    the file name (:func:`resolve_period`), exactly as ``ingest`` decides it. ``panel``
    (``enterprise_id, name, city``) is used to match rows given by name only; its ids are the
    membership list when ``panel_ids`` is not given.
    """
    rf = read_report_file(path, period=expected_period, allow_future=allow_future, today=today)
    if rf.kind == "city":
        found = validate_city_reports(
            rf.data, file=rf.path.name, expected_period=rf.expected_period
        )
    else:
        rf = match_report_names(rf, panel=panel, mapping=mapping)
        if panel_ids is None and panel is not None and len(panel):
            panel_ids = panel["enterprise_id"].astype(str).tolist()
        found = validate_reports(
            rf.data,
            file=rf.path.name,
            panel_ids=panel_ids,
            expected_period=rf.expected_period,
            previous=previous,
            rules=rules,
        )
    return rf, _with(rf.problems, found)


def match_report_names(
    rf: ReportFile, *, panel: pd.DataFrame | None, mapping: dict[str, str] | None = None
) -> ReportFile:
    """Fill ``enterprise_id`` of rows that give only a 单位名称, from the panel in force.

    Rows with an id keep it. A name is matched within the file's city — a ``city`` column, else
    the one panel city named in the title (填报单位:广州市人力资源和社会保障局), else the whole
    panel — by :func:`samplekit.names.match_names` (normalised, never guessed; the city's
    ``mapping`` first). Unmatched and ambiguous names become ``name_unmatched`` /
    ``name_ambiguous`` errors suggesting the closest panel names.

    Parameters
    ----------
    rf : ReportFile
    panel : DataFrame or None
        Panel members in force for the file's city and month: ``enterprise_id, name, city``.
        None: no panel, so a row without an id cannot be matched (an error).
    mapping : dict, optional
        Name → enterprise_id sent back by the city (:func:`samplekit.names.read_name_mapping`).
    """
    from samplekit.names import cities_in_text, match_names

    if rf.kind != "reports" or "name" not in rf.data.columns:
        return rf
    d = rf.data.copy()
    need = d["enterprise_id"].isna() & d["name"].notna()
    if not need.any():
        return rf
    file = rf.path.name
    if panel is None or not len(panel):
        rows = d.loc[need, "row"].reset_index(drop=True)
        more = _problems(
            rows,
            "name",
            d.loc[need, "name"].reset_index(drop=True),
            "name_unmatched",
            "没有监测名单,无法按单位名称匹配企业;请先载入名单或填写统一社会信用代码",
            "error",
            file,
        )
        return ReportFile(
            rf.path,
            rf.kind,
            rf.layout,
            d,
            _with(rf.problems, more),
            rf.sha256,
            rf.raw,
            rf.expected_period,
            rf.title,
        )
    if "city" in d.columns:
        city: pd.Series | str | None = d["city"]
    else:
        named = cities_in_text(rf.title, panel["city"].astype(str).unique())
        city = named[0] if len(named) == 1 else None
    m = match_names(d["name"], panel=panel, city=city, mapping=mapping, ids=d["enterprise_id"])
    d["enterprise_id"] = m.enterprise_id.where(m.enterprise_id.notna(), None).to_numpy()
    d["match"] = m.status.to_numpy()
    parts = []
    for status, rule, text in (
        ("unmatched", "name_unmatched", "单位名称在监测名单中找不到"),
        ("ambiguous", "name_ambiguous", "单位名称在监测名单中对应多个企业"),
    ):
        hit = (m.status == status).to_numpy()
        if hit.any():
            rows = d.loc[hit, "row"].reset_index(drop=True)
            msg = pd.Series(
                [
                    f"{text}"
                    + (f";最接近的名单企业:{h}" if h else "")
                    + ";请填写统一社会信用代码,或报送名称对照表(单位名称→统一社会信用代码)"
                    for h in m.suggestions[hit]
                ]
            )
            parts.append(
                _problems(
                    rows,
                    "name",
                    d.loc[hit, "name"].reset_index(drop=True),
                    rule,
                    msg,
                    "error",
                    file,
                )
            )
    more = problems_frame(pd.concat(parts, ignore_index=True)) if parts else problems_frame([])
    return ReportFile(
        rf.path,
        rf.kind,
        rf.layout,
        d,
        _with(rf.problems, more),
        rf.sha256,
        rf.raw,
        rf.expected_period,
        rf.title,
    )


def rejected_rows(problems: pd.DataFrame) -> set[int]:
    """Spreadsheet row numbers with at least one error."""
    err = problems[(problems["severity"] == "error") & problems["row"].notna()]
    return set(err["row"].astype(int).tolist())


def to_form(
    reports: pd.DataFrame,
    *,
    names: pd.Series | None = None,
    reasons_in_one_cell: bool = True,
    with_total: bool = True,
) -> pd.DataFrame:
    """Reports in the canonical layout -> the ministry's 附表一 with Chinese headers.

    Reductions and falls are written as negative numbers (填表说明(七)); change % to one decimal.
    Used by the demo history and by tests; a city's own form is read by
    :func:`read_report_file`.
    """
    d = reports.reset_index(drop=True)
    out = pd.DataFrame({"序号": np.arange(1, len(d) + 1).astype(str)})
    out["统一社会信用代码"] = d["enterprise_id"].to_numpy()
    out["单位名称"] = (
        (names if names is not None else d.get("name", "")).to_numpy()
        if (names is not None or "name" in d.columns)
        else ""
    )
    out["调查期"] = d["period"].to_numpy()
    for c in ("baseline_employment", "survey_employment", "change"):
        out[REPORT_HEADERS_ZH[c]] = _int_text(d[c])
    out["增减幅度(%)"] = _pct_text(d["change_pct"])
    for c in REDUCTION_COLUMNS:
        v = d[c].astype("Int64")
        out[f"就业人数减少类型-{REPORT_HEADERS_ZH[c]}"] = _int_text(-v).where(v.fillna(0) > 0, "")
    if reasons_in_one_cell:
        out["就业人数减少主要原因"] = reasons_text(d)
    else:
        for c in REASON_COLUMNS:
            out[REPORT_HEADERS_ZH[c]] = _int_text(d[c])
    out["备注"] = d["remark"].fillna("").to_numpy() if "remark" in d.columns else ""
    if with_total:
        total = dict.fromkeys(out.columns, "")
        total["序号"] = "总计"
        for c in ("baseline_employment", "survey_employment", "change"):
            total[REPORT_HEADERS_ZH[c]] = str(int(d[c].sum()))
        out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    return out


def reasons_text(d: pd.DataFrame, sep: str = "、") -> pd.Series:
    """Reason codes joined in rank order (``4、8``); empty when none."""
    parts = [_int_text(d[c]) for c in REASON_COLUMNS]
    joined = parts[0].str.cat(parts[1:], sep=sep)
    return joined.str.replace(f"({sep})+$", "", regex=True).str.replace(
        f"^({sep})+", "", regex=True
    )


def _int_text(s: pd.Series) -> pd.Series:
    return s.astype("Int64").astype("string").fillna("").astype("str")


def _pct_text(s: pd.Series) -> pd.Series:
    v = s.astype("Float64")
    return v.map(lambda x: "" if pd.isna(x) else f"{x:.1f}").astype("str")


def change_pct(change: pd.Series, baseline: pd.Series, decimals: int = 1) -> pd.Series:
    """Change % = change ÷ baseline × 100, rounded half away from zero (NA when baseline is 0)."""
    b = baseline.astype("Float64")
    raw = 100.0 * change.astype("Float64") / b.where(b > 0)
    scale = 10.0**decimals
    return (np.sign(raw) * np.floor(raw.abs() * scale + 0.5) / scale).astype("Float64")
