"""Reading and writing files at the edges: tables in CSV (UTF-8, UTF-8 BOM, GBK), XLSX, Parquet;
CSV for Excel users (``utf-8-sig``); Chinese Excel workbooks with an 说明 sheet; atomic writes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.errors import InputError

ENCODINGS = ("utf-8-sig", "gb18030")  # utf-8-sig also reads plain UTF-8; GB18030 ⊃ GBK


def read_table(
    path: str | os.PathLike[str],
    *,
    dtype: Any = str,
    sheet: str | int = 0,
    engine: Literal["c", "pyarrow"] = "c",
    skiprows: int = 0,
) -> pd.DataFrame:
    """Read a CSV (UTF-8, UTF-8 with BOM or GBK/GB18030), XLSX or Parquet file.

    CSV and XLSX cells are read as strings (``dtype=str``) so that validation, not the reader,
    decides what a cell means (codes keep leading zeros; "1,234" is reported, not guessed).

    ``engine="pyarrow"`` reads large CSVs several times faster (multi-threaded) but keeps
    spaces after delimiters; callers that strip text themselves (the register validator) use it.

    Raises
    ------
    InputError
        When the file is missing, of an unknown type, or cannot be decoded; the message names it.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            if p.stat().st_size == 0:
                raise InputError(f"{p}: 文件为空(0 字节);请重新导出后报送")
            last: Exception | None = None
            for enc in ENCODINGS:
                try:
                    if engine == "pyarrow":
                        df = pd.read_csv(
                            p,
                            dtype=dtype,
                            encoding=enc,
                            engine="pyarrow",
                            keep_default_na=False,
                            na_values=[""],
                            skiprows=skiprows,
                        )
                    else:
                        df = pd.read_csv(
                            p,
                            dtype=dtype,
                            encoding=enc,
                            keep_default_na=False,
                            na_values=[""],
                            skipinitialspace=True,
                            skiprows=skiprows,
                        )
                    return _unescape_all(df) if engine == "c" else df
                except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
                    # pyarrow reports bad UTF-8 and ragged rows alike as parse errors
                    _explain_csv_failure(p, enc, skiprows, exc)
                    if enc == ENCODINGS[-1]:
                        raise
                    last = exc
            raise InputError(f"{p}: cannot decode as UTF-8 or GBK ({last}); save it as UTF-8 CSV")
        if suffix in (".xlsx", ".xlsm"):
            return _unescape_all(
                pd.read_excel(
                    p, sheet_name=sheet, dtype=dtype, engine="openpyxl", skiprows=skiprows
                )
            )
        if suffix == ".parquet":
            return pd.read_parquet(p)
    except InputError:
        raise
    except Exception as exc:  # the reader's own message, with the file named
        raise InputError(f"{p}: cannot be read as {suffix[1:].upper()}: {exc}") from exc
    raise InputError(f"{p}: unknown file type '{suffix}'; use .csv, .xlsx or .parquet")


def _unescape_all(df: pd.DataFrame) -> pd.DataFrame:
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = unescape_formulas(df[col])
    return df


def _explain_csv_failure(p: Path, enc: str, skiprows: int, exc: Exception) -> None:
    """Turn a reader failure into a message naming the line (mixed encoding, ragged rows)."""
    text = str(exc)
    if enc == ENCODINGS[0] and (
        "decode" in text.lower() or "utf-8" in text.lower() or isinstance(exc, UnicodeDecodeError)
    ):
        where = utf8_problem(p)
        if where is not None and where[1]:
            raise InputError(
                f"{p}: 文件编码混杂:第{where[0]}行之前是 UTF-8,第{where[0]}行起不是"
                f"(可能是从 GBK 文件粘贴的行);请整个文件另存为 UTF-8 CSV"
            ) from exc
        return
    if "column" in text.lower() or "field" in text.lower() or "tokeniz" in text.lower():
        try:
            bad = field_count_problem(p, enc, skiprows + 1)
        except UnicodeDecodeError:
            return
        if bad is not None:
            line, got, want = bad
            raise InputError(
                f"{p}: 第{line}行有{got}列,表头有{want}列(常见原因:名称中含有"
                f"未加引号的逗号,或分隔符不是逗号);请修正该行后重新报送"
            ) from exc


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def round_floats(
    df: pd.DataFrame, digits: int = 6, *, digits_by_column: Mapping[str, int] | None = None
) -> pd.DataFrame:
    """A copy with float columns (and floats inside object columns) rounded.

    Files written from rounded values have the same bytes whatever the summation order or the
    platform's last bits; ``digits_by_column`` keeps more digits where they matter (e.g. PRNs).
    """
    out = df.copy()
    for col in out.columns:
        d = (digits_by_column or {}).get(col, digits)
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(d)
        elif out[col].dtype == object:
            out[col] = [round(v, d) if isinstance(v, float) else v for v in out[col]]
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str], *, excel: bool = True) -> Path:
    """Write a CSV atomically and byte-reproducibly (``utf-8-sig`` for Excel users by default).

    Floats are written with ``repr`` precision; line endings are ``\\n`` on every platform.
    Text that a spreadsheet would run as a formula is written with a leading ``'``
    (:func:`escape_formulas`).
    """
    df = escape_formulas(df)  # a name like "=HYPERLINK(…)" must stay text in Excel
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig" if excel else "utf-8", lineterminator="\n")
    return Path(path)


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    headers: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
    about: Mapping[str, Any] | None = None,
    source: str | None = None,
    units: Mapping[str, str] | str | None = None,
    formats: Mapping[str, str] | None = None,
    data_note: str = "",
) -> Path:
    """Write one table per sheet, laid out for analysts and printing, and an 说明 sheet.

    Every table sheet has a title (row 1), a unit line (row 2), a source line (row 3) and the
    table from row 4 (Chinese headers, frozen, with an autofilter); numbers carry Excel number
    formats (:func:`column_format`), columns are sized for CJK text, and the page is set up for
    A4 landscape, fitted to the width, with the header row repeated and page numbers.

    Parameters
    ----------
    sheets : mapping of sheet name -> DataFrame
        Sheet names are cut to Excel's 31 characters. Code columns (``size_class``,
        ``ownership``, ``sector``, ``section``) are shown by their Chinese names
        (:func:`display_codes`); booleans as 是/否.
    headers : mapping, optional
        English column key -> Chinese header; unmapped columns keep their key.
    titles : mapping, optional
        Sheet name -> title written above the table; default the sheet name.
    about : mapping, optional
        Key -> value rows for the 说明 sheet (:func:`standard_about`: parameters, version,
        commit, input checksums); default the version and commit alone. Absolute paths are
        shown relative to the project (or by file name).
    source : str, optional
        Source line written under each title.
    units : str or mapping, optional
        The unit line: one text for every sheet, or sheet name -> text.
        Default "单位:见各栏标题".
    formats : mapping, optional
        Column key -> number format kind (``int``, ``dec1``, ``dec2``, ``dec3``, ``dec4``,
        ``pct`` for a fraction shown as a percentage, ``pct1``, ``text``) or an Excel format
        string; overrides :func:`column_format`.
    data_note : str, optional
        The synthetic-data note of the job (``jobs.data_note(params)``). When given, every
        source line says the data are synthetic and the 说明 sheet carries the note.

    The workbook's timestamps are fixed so the same tables give byte-identical files.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    headers = headers or {}
    titles = titles or {}
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    used: set[str] = set()
    for name, raw in sheets.items():
        df = display_codes(raw)
        sheet_name = _sheet_name(str(name), used)
        ws = wb.create_sheet(sheet_name)
        start = 4
        _write_heading(
            ws,
            title=titles.get(name, str(name)),
            unit=_unit_for(units, str(name)),
            source=source,
            data_note=data_note,
        )
        for j, col in enumerate(df.columns, start=1):
            _put(ws, start, j, headers.get(str(col), str(col))).font = bold
        for i, row in enumerate(df.itertuples(index=False), start=start + 1):
            for j, value in enumerate(row, start=1):
                _put(ws, i, j, _cell(value))
        _format_table(ws, df, start=start, headers=headers, formats=formats or {})
    # every workbook carries an 说明 sheet; without rows from the caller, the version and commit
    about = standard_about(None) if about is None else about
    _write_about(wb.create_sheet(_sheet_name("说明", used)), about, data_note)
    import datetime as _dt

    fixed = _dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _fix_zip_timestamps(tmp)
    return Path(path)


# ------------------------------------------------------------------ workbook layout helpers
#: Number format kinds accepted in ``write_xlsx(formats=...)``.
FORMAT_KINDS: dict[str, str] = {
    "int": "#,##0",
    "dec1": "#,##0.0",
    "dec2": "#,##0.00",
    "dec3": "0.000",
    "dec4": "0.0000",
    "dec6": "0.000000",
    "pct": "0.0%",
    "pct2": "0.00%",
    "pct1": "0.0",
    "text": "@",
}
#: Marker appended to the source line of workbooks built from synthetic data.
SYNTHETIC_MARK = "(合成演示数据,非真实统计数据)"
_SHARE_KEYS = ("share", "coverage", "probability")
_PRECISE_KEYS = ("prn", "order_key", "inclusion_prob", "selection_prob")


def column_format(key: str, values: pd.Series) -> str | None:
    """The Excel number format of a column, decided from its key and dtype.

    Integers get thousands separators; columns whose key ends in ``_pct`` or names a rate are
    already in per cent (two decimals); shares and probabilities in [0, 1] are shown as
    percentages; PRNs and inclusion probabilities keep six / four decimals; coefficients of
    variation three; other decimals two (or none when every value is whole). Text: ``None``.
    """
    k = key.lower()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return None
    if pd.api.types.is_integer_dtype(values):
        return FORMAT_KINDS["int"]
    v = pd.to_numeric(values, errors="coerce").dropna()
    v = v[np.isfinite(v)] if len(v) else v
    if k in ("prn", "order_key"):
        return FORMAT_KINDS["dec6"]
    if k in ("inclusion_prob", "selection_prob"):
        return FORMAT_KINDS["dec4"]
    if k.endswith("_pct") or k.endswith("pct") or "rate" in k:
        return FORMAT_KINDS["dec2"]
    if any(s in k for s in _SHARE_KEYS) and (v.empty or v.abs().max() <= 1.0):
        return FORMAT_KINDS["pct"]
    if k == "cv" or k.startswith("cv_") or k.endswith("_cv"):
        return FORMAT_KINDS["dec3"]
    if len(v) and bool(np.all(np.equal(np.round(v), v))) and "weight" not in k:
        return FORMAT_KINDS["int"]
    return FORMAT_KINDS["dec2"]


def display_codes(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for readers: size, ownership and sector codes as Chinese names, the GB/T 4754
    section letter as its name (dropped when a ``section_name`` column already gives it)."""
    from samplekit import reference

    out = df.copy()
    maps = {
        "size_class": reference.SIZE_CLASSES_ZH,
        "ownership": reference.OWNERSHIP_ZH,
        "sector": reference.SECTORS_ZH,
    }
    for col, names in maps.items():
        if col in out.columns and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = (
                out[col]
                .map(lambda v, n=names: n.get(v, v) if isinstance(v, str) else v)
                .astype(object)
            )
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]) or (
            out[col].dtype == object
            and out[col].map(lambda v: isinstance(v, (bool, np.bool_))).any()
        ):
            out[col] = (
                out[col]
                .map(lambda v: ("是" if v else "否") if isinstance(v, (bool, np.bool_)) else v)
                .astype(object)
            )
    if "section" in out.columns and not pd.api.types.is_numeric_dtype(out["section"]):
        if "section_name" in out.columns:
            out = out.drop(columns="section")
        else:
            names = reference.section_names()
            out["section"] = (
                out["section"]
                .map(lambda v: names.get(v, v) if isinstance(v, str) else v)
                .astype(object)
            )
    return out


def _unit_for(units: Mapping[str, str] | str | None, sheet: str) -> str:
    if isinstance(units, str):
        text = units
    else:
        text = (units or {}).get(sheet, "")
    text = text or "见各栏标题"
    return text if text.startswith("单位") else f"单位:{text}"


def _write_heading(ws: Any, *, title: str, unit: str, source: str | None, data_note: str) -> None:
    """Title, unit and source lines above the table (rows 1–3)."""
    from openpyxl.styles import Font

    _put(ws, 1, 1, title).font = Font(bold=True, size=14)
    _put(ws, 2, 1, unit)
    line = f"来源:{source}" if source else "来源:samplekit"
    if data_note:
        line += SYNTHETIC_MARK
    _put(ws, 3, 1, line).font = Font(color="C00000" if data_note else "000000")


def _format_table(
    ws: Any, df: pd.DataFrame, *, start: int, headers: Mapping[str, str], formats: Mapping[str, str]
) -> None:
    """Number formats, CJK-aware widths, frozen header, autofilter and print setup."""
    from openpyxl.styles import Alignment, PatternFill
    from openpyxl.utils import get_column_letter

    n = len(df)
    lines = 1  # header lines after wrapping: the header row is made that tall
    fill = PatternFill("solid", fgColor="DDEBF7")
    for j, col in enumerate(df.columns, start=1):
        letter = get_column_letter(j)
        head = ws.cell(row=start, column=j)
        head.fill = fill
        head.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        kind = formats.get(str(col))
        fmt = FORMAT_KINDS.get(kind, kind) if kind else column_format(str(col), df[col])
        if fmt:
            for i in range(start + 1, start + 1 + n):
                ws.cell(row=i, column=j).number_format = fmt
        sample = df[col].head(300)
        widths = [_display_width(_shown(v, fmt)) for v in sample]
        header_full = _display_width(str(headers.get(str(col), col)))
        width = min(max([min(header_full, 12), *widths]) + 2, 60)
        ws.column_dimensions[letter].width = width
        lines = max(lines, -(-header_full // max(int(width) - 1, 1)))
    ws.row_dimensions[start].height = 15 * min(lines, 4)
    last = get_column_letter(max(len(df.columns), 1))
    ws.freeze_panes = ws.cell(row=start + 1, column=1)
    ws.auto_filter.ref = f"A{start}:{last}{start + max(n, 1)}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{start}:{start}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页,共 &N 页"


def _shown(value: Any, fmt: str | None) -> str:
    """Roughly the text Excel shows for a value under a format (for column widths)."""
    v = _cell(value)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是"
    if isinstance(v, (int, float)) and fmt:
        if fmt.endswith("%"):
            return f"{v:.1%}"
        decimals = len(fmt.split(".")[1]) if "." in fmt else 0
        return f"{v:,.{decimals}f}"
    return str(v)


def _display_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters count two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _write_about(ws: Any, about: Mapping[str, Any], data_note: str) -> None:
    """The 说明 sheet: item / content rows, the synthetic-data note first when there is one."""
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    ws.cell(row=1, column=1, value="项目").font = bold
    ws.cell(row=1, column=2, value="内容").font = bold
    rows = list(about.items())
    if data_note:
        rows.insert(0, ("数据说明", f"本工作簿含合成演示数据,不是真实统计数据。{data_note}"))
    for i, (key, value) in enumerate(rows, start=2):
        _put(ws, i, 1, str(key)).alignment = Alignment(vertical="top")
        cell = _put(ws, i, 2, about_text(value))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if key == "数据说明":
            cell.font = Font(color="C00000")
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 100
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def about_text(value: Any) -> Any:
    """A 说明 value for readers: mappings as ``key:value;…``, lists joined with 、, absolute
    paths relative to the project (or the file name alone), booleans as 是/否."""
    if isinstance(value, Mapping):
        return ";".join(f"{k}:{about_text(v)}" for k, v in value.items()) or "无"
    if isinstance(value, (list, tuple)):
        return "、".join(str(about_text(v)) for v in value) or "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, os.PathLike) or (
        isinstance(value, str) and os.path.isabs(value) and "\n" not in value and len(value) < 1024
    ):
        return relative_path(value)
    return _cell(value)


def relative_path(path: str | os.PathLike[str]) -> str:
    """A path as shown in outputs: relative to the project root, else the file name alone."""
    from samplekit.paths import project_root

    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(project_root().resolve()).as_posix()
    except (ValueError, OSError):
        return p.name


def standard_about(
    params: Any = None,
    *,
    extra: Mapping[str, Any] | None = None,
    data_note: str = "",
    inputs: bool = True,
) -> dict[str, Any]:
    """The rows every 说明 sheet shares, after the table-specific ``extra`` rows.

    Parameters file (project-relative), its SHA-256, job name, seed, period and quarter, the
    samplekit version, the git commit, the SHA-256 of every input file the params name (and the
    reference tables) and the synthetic columns of the city table. ``data_note`` is written by
    :func:`write_xlsx` itself (first row); pass it there.
    """
    from samplekit import __version__

    info: dict[str, Any] = dict(extra or {})
    if params is not None:
        info["参数文件"] = relative_path(params.path)
        info["参数摘要(SHA-256)"] = params.digest()
        info["方案名称"] = params.get("title", params.get("name", ""))
        for key, label in (("seed", "随机数种子"), ("period", "报告月份"), ("quarter", "报告季度")):
            value = params.get(key, None)
            if value is not None:
                info.setdefault(label, value)
    info["samplekit 版本"] = __version__
    commit = _commit()
    if commit:
        info["代码版本(git 提交)"] = commit
    if params is not None and inputs:
        from samplekit.cache import input_files

        files = input_files(params)
        info["输入文件校验(SHA-256)"] = (
            ";".join(
                f"{relative_path(f['path'])} {f['sha256'][:16]}"
                for f in files
                if not str(f.get("key", "")).startswith("reference:")
            )
            or "无"
        )
        info["参考表校验(SHA-256)"] = (
            ";".join(
                f"{Path(f['path']).name} {f['sha256'][:16]}"
                for f in files
                if str(f.get("key", "")).startswith("reference:")
            )
            or "无"
        )
        synthetic = _synthetic_columns(params)
        info["合成数据列(城市表)"] = synthetic or "无"
    return info


@functools.cache
def _commit() -> str:
    """The checkout's commit (12 hex digits), read once per process; empty outside git."""
    from samplekit.runner import git_state

    git = git_state()
    if not git:
        return ""
    return git["commit"][:12] + ("(有未提交修改)" if git.get("dirty") else "")


def _synthetic_columns(params: Any) -> str:
    """``column(城市…)`` for every synthetic column of the city table, or empty."""
    path = params.path_of("province.cities", None)
    if path is None or not Path(path).is_file():
        return ""
    table = read_table(path)
    if "synthetic" not in table.columns:
        return ""
    cols: dict[str, list[str]] = {}
    for city, cell in zip(table["city"], table["synthetic"].fillna(""), strict=True):
        for col in str(cell).split(";"):
            if col.strip():
                cols.setdefault(col.strip(), []).append(str(city))
    from samplekit.cities import CITY_COLUMNS

    return ";".join(
        f"{CITY_COLUMNS[c][0] if c in CITY_COLUMNS else c}({len(v)}个城市)" for c, v in cols.items()
    )


def _sheet_name(name: str, used: set[str]) -> str:
    for ch in "[]:*?/\\":
        name = name.replace(ch, "_")
    base = name[:31] or "Sheet"
    candidate, k = base, 2
    while candidate in used:
        suffix = f"_{k}"
        candidate, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(candidate)
    return candidate


def _put(ws: Any, row: int, column: int, value: Any) -> Any:
    """Write one cell; text is always text (openpyxl would turn "=…" into a live formula)."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"
    return cell


def _cell(value: Any) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # numpy scalar -> Python scalar
        return value.item()
    return value


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _fix_zip_timestamps(path: Path) -> None:
    """Rewrite an xlsx with fixed member timestamps and a fixed ``dcterms:modified`` stamp
    (openpyxl sets it to the clock at save time), so the bytes are reproducible."""
    import zipfile

    with zipfile.ZipFile(path) as zin:
        members = [(info, zin.read(info.filename)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info, data in members:
            if info.filename == "docProps/core.xml":
                data = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            zout.writestr(fixed, data)


# --- reading files as people send them ---------------------------------------------------------

#: Characters that make a spreadsheet cell a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")
_HEAD_BYTES = 1 << 16


def formula_text(value: Any) -> bool:
    """True for a string a spreadsheet would run as a formula (``=…``, ``+…``, ``-…``, ``@…``,
    a leading tab or carriage return); plain numbers such as ``-5`` or ``+3.2`` are not."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.match(value)
    )


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells that would run as formulas get a leading ``'`` (shown as text).

    Only text columns are looked at; numbers are never changed. :func:`read_table` and the
    report reader remove the quote again (:func:`unescape_formulas`), so a name round-trips.
    """
    out = None
    for col in df.columns:
        s = df[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        st = s.astype("str")
        risky = st.str.match(r"^[=+\-@\t\r]").fillna(False).astype(bool) & s.notna()
        if not risky.any():
            continue
        risky &= ~st.str.match(_PLAIN_NUMBER.pattern).fillna(False).astype(bool)
        if risky.any():
            out = df.copy() if out is None else out
            out[col] = s.astype(object).where(~risky, "'" + st)
    return df if out is None else out


def unescape_formulas(s: pd.Series) -> pd.Series:
    """Undo :func:`escape_formulas` on a text column (``'=x`` -> ``=x``)."""
    if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
        return s
    st = s.astype("str")
    quoted = st.str.match(r"^'[=+\-@\t\r]").fillna(False).astype(bool) & s.notna()
    return s.where(~quoted, st.str.slice(1)) if quoted.any() else s


def file_line_of_offset(path: str | os.PathLike[str], offset: int) -> int:
    """1-based line number of a byte offset."""
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def utf8_problem(path: str | os.PathLike[str]) -> tuple[int, bool] | None:
    """Where a file stops being UTF-8: ``(line, mixed)`` or None when it is all UTF-8.

    ``mixed`` is True when the part before that line already held non-ASCII UTF-8 text — a file
    saved partly as UTF-8 and partly as GBK (pasted rows), which must not be read as GBK.
    """
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    offset, seen_non_ascii = 0, False
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                with open(path, "rb") as again:
                    head = again.read(bad)
                line = head.count(b"\n") + 1
                seen_non_ascii = seen_non_ascii or any(b >= 0x80 for b in head[:bad])
                return line, seen_non_ascii
            if not seen_non_ascii:
                seen_non_ascii = any(b >= 0x80 for b in chunk)
            offset += len(chunk)
    return None


def csv_encoding(path: str | os.PathLike[str], *, whole: bool = True) -> str:
    """``utf-8-sig`` or ``gb18030`` for a CSV; refuses empty and mixed-encoding files.

    ``whole=False`` looks at the first 64 KiB only (big registers: the reader then fails on a
    later non-UTF-8 line and :func:`read_table` names it).

    Raises
    ------
    InputError
        The file is empty, or part UTF-8 and part GBK (the message names the first GBK line).
    """
    p = Path(path)
    if p.stat().st_size == 0:
        raise InputError(f"{p}: 文件为空(0 字节);请重新导出后报送")
    if not whole:
        import codecs

        with open(p, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
    where = utf8_problem(p)
    if where is None:
        return "utf-8-sig"
    line, mixed = where
    if mixed:
        raise InputError(
            f"{p}: 文件编码混杂:第{line}行之前是 UTF-8,第{line}行起不是"
            f"(可能是从 GBK 文件粘贴的行);请整个文件另存为 UTF-8 CSV"
        )
    try:
        with open(p, encoding="gb18030") as fh:
            for _ in fh:
                pass
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{p}: 第{line}行起既不是 UTF-8 也不是 GBK 编码({exc.reason});请另存为 UTF-8 CSV"
        ) from exc
    return "gb18030"


def csv_head(path: str | os.PathLike[str], encoding: str, nrows: int = 20) -> list[list[str]]:
    """The first ``nrows`` records of a CSV (a blank line is an empty record, so record i is
    line i + 1 as long as no quoted cell spans lines)."""
    import csv

    out: list[list[str]] = []
    with open(path, encoding=encoding, newline="") as fh:
        for i, rec in enumerate(csv.reader(fh)):
            out.append(rec)
            if i + 1 >= nrows:
                break
    return out


def guess_delimiter(lines: list[list[str]]) -> tuple[int, str] | None:
    """A line (1-based) that looks split by ``;``, tab or ``|`` instead of commas, if any."""
    for i, rec in enumerate(lines):
        text = ",".join(rec)
        if len(rec) <= 1:
            for d, label in ((";", "分号"), ("\t", "制表符"), ("|", "竖线"), ("；", "全角分号")):
                if text.count(d) >= 2:
                    return i + 1, label
    return None


def data_line_numbers(path: str | os.PathLike[str], header_line: int, n: int) -> np.ndarray:
    """File line number of each of the ``n`` data records after ``header_line`` (1-based).

    Blank lines are skipped by the CSV readers; the numbers here skip them too, so a problem
    is reported on the line the user sees. (A quoted cell spanning lines is not accounted for.)
    """
    plain = np.arange(header_line + 1, header_line + 1 + n, dtype=np.int64)
    blank = False
    with open(path, "rb") as fh:
        tail = b""
        while chunk := fh.read(1 << 24):
            buf = tail + chunk
            if b"\n\n" in buf or b"\n\r\n" in buf:
                blank = True
                break
            tail = buf[-2:]
    if not blank:
        return plain
    out = np.empty(n, dtype=np.int64)
    k = 0
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno <= header_line or not line.strip(b"\r\n"):
                continue
            if k < n:
                out[k] = lineno
            k += 1
    return out if k >= n else plain


def field_count_problem(
    path: str | os.PathLike[str], encoding: str, header_line: int
) -> tuple[int, int, int] | None:
    """The first record whose number of fields differs from the header's:
    ``(line, fields, header_fields)``, or None."""
    import csv

    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        width = None
        for rec in reader:
            if reader.line_num < header_line:
                continue
            if width is None:
                width = len(rec)
                continue
            if rec and len(rec) != width and any(c.strip() for c in rec):
                return reader.line_num, len(rec), width
    return None


#: A formula element (``<f>``, ``<f t="shared" …>``, ``<x:f>``) in the XML parts of a workbook.
_FORMULA_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _has_formula_elements(path: str | os.PathLike[str]) -> bool:
    """True unless no XML part of the workbook holds a formula element.

    A cell shows a formula (``=…``) only through an ``<f>`` element, so a workbook without one
    has no formula cells at all; this look costs a fraction of reading the sheet twice with
    openpyxl (a demo month of 10 000 rows: seconds). Anything unusual (not a zip, unreadable
    part) answers True and leaves the decision to the full read.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.lower().endswith((".xml", ".vml")) or "/worksheets/" in (
                    info.filename
                ):
                    if _FORMULA_ELEMENT.search(zf.read(info)):
                        return True
    except Exception:  # noqa: BLE001 - the full read reports what is wrong with the file
        return True
    return False


def xlsx_formulas_without_values(
    path: str | os.PathLike[str], sheet: int = 0
) -> dict[tuple[int, int], str]:
    """Formula cells of a workbook that carry no cached value: ``{(row, col): formula}``
    (1-based). Such a workbook was written by a program, never opened and saved in Excel, so
    the numbers a city sees are not in the file."""
    from openpyxl import load_workbook

    if not _has_formula_elements(path):
        return {}  # no formula anywhere: the two full reads below would find none
    wb_f = load_workbook(path, read_only=True, data_only=False)
    wb_v = load_workbook(path, read_only=True, data_only=True)
    try:
        ws_f = wb_f.worksheets[sheet]
        ws_v = wb_v.worksheets[sheet]
        out: dict[tuple[int, int], str] = {}
        for r, (rf, rv) in enumerate(
            zip(ws_f.iter_rows(values_only=True), ws_v.iter_rows(values_only=True), strict=False),
            start=1,
        ):
            for c, (vf, vv) in enumerate(zip(rf, rv, strict=False), start=1):
                if isinstance(vf, str) and vf.startswith("=") and vv is None:
                    out[(r, c)] = vf
        return out
    finally:
        wb_f.close()
        wb_v.close()
