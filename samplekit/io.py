"""Reading and writing files at the edges: tables in CSV (UTF-8, UTF-8 BOM, GBK), XLSX, Parquet;
CSV for Excel users (``utf-8-sig``); Chinese Excel workbooks with an 说明 sheet; atomic writes.
"""

from __future__ import annotations

import contextlib
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


def read_table(path: str | os.PathLike[str], *, dtype: Any = str, sheet: str | int = 0,
               engine: Literal["c", "pyarrow"] = "c", skiprows: int = 0) -> pd.DataFrame:
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
                        df = pd.read_csv(p, dtype=dtype, encoding=enc, engine="pyarrow",
                                         keep_default_na=False, na_values=[""],
                                         skiprows=skiprows)
                    else:
                        df = pd.read_csv(p, dtype=dtype, encoding=enc, keep_default_na=False,
                                         na_values=[""], skipinitialspace=True,
                                         skiprows=skiprows)
                    return _unescape_all(df) if engine == "c" else df
                except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
                    # pyarrow reports bad UTF-8 and ragged rows alike as parse errors
                    _explain_csv_failure(p, enc, skiprows, exc)
                    if enc == ENCODINGS[-1]:
                        raise
                    last = exc
            raise InputError(
                f"{p}: cannot decode as UTF-8 or GBK ({last}); save it as UTF-8 CSV"
            )
        if suffix in (".xlsx", ".xlsm"):
            return _unescape_all(pd.read_excel(p, sheet_name=sheet, dtype=dtype,
                                               engine="openpyxl", skiprows=skiprows))
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
    if enc == ENCODINGS[0] and ("decode" in text.lower() or "utf-8" in text.lower()
                                or isinstance(exc, UnicodeDecodeError)):
        where = utf8_problem(p)
        if where is not None and where[1]:
            raise InputError(f"{p}: 文件编码混杂:第{where[0]}行之前是 UTF-8,第{where[0]}行起不是"
                             f"(可能是从 GBK 文件粘贴的行);请整个文件另存为 UTF-8 CSV") from exc
        return
    if "column" in text.lower() or "field" in text.lower() or "tokeniz" in text.lower():
        try:
            bad = field_count_problem(p, enc, skiprows + 1)
        except UnicodeDecodeError:
            return
        if bad is not None:
            line, got, want = bad
            raise InputError(f"{p}: 第{line}行有{got}列,表头有{want}列(常见原因:名称中含有"
                             f"未加引号的逗号,或分隔符不是逗号);请修正该行后重新报送") from exc


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


def round_floats(df: pd.DataFrame, digits: int = 6, *,
                 digits_by_column: Mapping[str, int] | None = None) -> pd.DataFrame:
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


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: str | os.PathLike[str], *,
               headers: Mapping[str, str] | None = None,
               titles: Mapping[str, str] | None = None,
               about: Mapping[str, Any] | None = None,
               source: str | None = None) -> Path:
    """Write one table per sheet with Chinese headers, a title row and an 说明 sheet.

    Parameters
    ----------
    sheets : mapping of sheet name -> DataFrame
        Sheet names are cut to Excel's 31 characters.
    headers : mapping, optional
        English column key -> Chinese header; unmapped columns keep their key.
    titles : mapping, optional
        Sheet name -> title written above the table (row 1); the table starts at row 3.
    about : mapping, optional
        Key -> value rows for the 说明 sheet (parameters, version, commit, input checksums).
    source : str, optional
        Source line written under each title.

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
    for name, df in sheets.items():
        sheet_name = _sheet_name(str(name), used)
        ws = wb.create_sheet(sheet_name)
        start = 1
        if name in titles or source:
            _put(ws, 1, 1, titles.get(name, str(name))).font = Font(bold=True, size=13)
            if source:
                _put(ws, 2, 1, f"来源:{source}")
            start = 4
        for j, col in enumerate(df.columns, start=1):
            _put(ws, start, j, headers.get(str(col), str(col))).font = bold
        for i, row in enumerate(df.itertuples(index=False), start=start + 1):
            for j, value in enumerate(row, start=1):
                _put(ws, i, j, _cell(value))
        for j, col in enumerate(df.columns, start=1):
            width = max([len(str(headers.get(str(col), col))) * 2] + [
                len(str(v)) for v in df[col].head(200)])
            ws.column_dimensions[ws.cell(row=start, column=j).column_letter].width = min(
                max(width + 2, 8), 50)
        ws.freeze_panes = ws.cell(row=start + 1, column=1)
    if about is not None:
        ws = wb.create_sheet(_sheet_name("说明", used))
        ws.cell(row=1, column=1, value="项目").font = bold
        ws.cell(row=1, column=2, value="内容").font = bold
        for i, (key, value) in enumerate(about.items(), start=2):
            _put(ws, i, 1, str(key))
            _put(ws, i, 2, _cell(value if not isinstance(value, (dict, list)) else repr(value)))
        ws.column_dimensions["A"].width = 28
        ws.column_dimensions["B"].width = 90
    import datetime as _dt

    fixed = _dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _fix_zip_timestamps(tmp)
    return Path(path)


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
    return (isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
            and not _PLAIN_NUMBER.match(value))


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
        raise InputError(f"{p}: 文件编码混杂:第{line}行之前是 UTF-8,第{line}行起不是"
                         f"(可能是从 GBK 文件粘贴的行);请整个文件另存为 UTF-8 CSV")
    try:
        with open(p, encoding="gb18030") as fh:
            for _ in fh:
                pass
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: 第{line}行起既不是 UTF-8 也不是 GBK 编码({exc.reason});"
                         f"请另存为 UTF-8 CSV") from exc
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


def field_count_problem(path: str | os.PathLike[str], encoding: str, header_line: int
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


def xlsx_formulas_without_values(path: str | os.PathLike[str], sheet: int = 0
                                 ) -> dict[tuple[int, int], str]:
    """Formula cells of a workbook that carry no cached value: ``{(row, col): formula}``
    (1-based). Such a workbook was written by a program, never opened and saved in Excel, so
    the numbers a city sees are not in the file."""
    from openpyxl import load_workbook

    wb_f = load_workbook(path, read_only=True, data_only=False)
    wb_v = load_workbook(path, read_only=True, data_only=True)
    try:
        ws_f = wb_f.worksheets[sheet]
        ws_v = wb_v.worksheets[sheet]
        out: dict[tuple[int, int], str] = {}
        for r, (rf, rv) in enumerate(zip(ws_f.iter_rows(values_only=True),
                                         ws_v.iter_rows(values_only=True), strict=False),
                                     start=1):
            for c, (vf, vv) in enumerate(zip(rf, rv, strict=False), start=1):
                if isinstance(vf, str) and vf.startswith("=") and vv is None:
                    out[(r, c)] = vf
        return out
    finally:
        wb_f.close()
        wb_v.close()
