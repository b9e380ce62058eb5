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

import pandas as pd

from samplekit.errors import InputError

ENCODINGS = ("utf-8-sig", "gb18030")  # utf-8-sig also reads plain UTF-8; GB18030 ⊃ GBK


def read_table(path: str | os.PathLike[str], *, dtype: Any = str, sheet: str | int = 0,
               engine: Literal["c", "pyarrow"] = "c") -> pd.DataFrame:
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
            last: Exception | None = None
            for enc in ENCODINGS:
                try:
                    if engine == "pyarrow":
                        return pd.read_csv(p, dtype=dtype, encoding=enc, engine="pyarrow",
                                           keep_default_na=False, na_values=[""])
                    return pd.read_csv(p, dtype=dtype, encoding=enc, keep_default_na=False,
                                       na_values=[""], skipinitialspace=True)
                except UnicodeDecodeError as exc:
                    last = exc
                except Exception as exc:  # pyarrow reports bad UTF-8 as a parse error
                    if engine != "pyarrow" or enc == ENCODINGS[-1]:
                        raise
                    last = exc
            raise InputError(
                f"{p}: cannot decode as UTF-8 or GBK ({last}); save it as UTF-8 CSV"
            )
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(p, sheet_name=sheet, dtype=dtype, engine="openpyxl")
        if suffix == ".parquet":
            return pd.read_parquet(p)
    except InputError:
        raise
    except Exception as exc:  # the reader's own message, with the file named
        raise InputError(f"{p}: cannot be read as {suffix[1:].upper()}: {exc}") from exc
    raise InputError(f"{p}: unknown file type '{suffix}'; use .csv, .xlsx or .parquet")


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
    """
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
            ws.cell(row=1, column=1, value=titles.get(name, str(name))).font = Font(bold=True,
                                                                                    size=13)
            if source:
                ws.cell(row=2, column=1, value=f"来源:{source}")
            start = 4
        for j, col in enumerate(df.columns, start=1):
            ws.cell(row=start, column=j, value=headers.get(str(col), str(col))).font = bold
        for i, row in enumerate(df.itertuples(index=False), start=start + 1):
            for j, value in enumerate(row, start=1):
                ws.cell(row=i, column=j, value=_cell(value))
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
            ws.cell(row=i, column=1, value=str(key))
            ws.cell(row=i, column=2, value=_cell(value if not isinstance(value, (dict, list))
                                                 else repr(value)))
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
