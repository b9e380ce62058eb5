"""Reading the network's side files (supplementary events, special notes, insured persons).

These files come from cities and other offices like the monthly form does: CSV (UTF-8, UTF-8 with
BOM, GBK) or XLSX, English keys or Chinese headers, sometimes with title rows above the header.
This module reads them as text and parses typed columns, turning every bad cell into a problem
(file, row, column, rule, message) instead of an exception; the domain modules validate the rules.

Row numbers are the spreadsheet's (header row + 1 = first data row), as in :mod:`samplekit.reports`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import PROBLEM_COLUMNS, InputError, problems_frame
from samplekit.io import ENCODINGS, file_sha256
from samplekit.periods import MONTH_RE

_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_DATETIME_RE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)


@dataclass
class SideFile:
    """One side file read into canonical keys.

    Attributes
    ----------
    path : Path
    data : DataFrame
        Canonical columns (text) plus ``row`` (spreadsheet row number).
    raw : DataFrame
        The original cells, same positions as ``data`` (kept for quarantine).
    sha256 : str
    problems : DataFrame
        Problems found while reading (missing required columns are raised, not listed).
    """

    path: Path
    data: pd.DataFrame
    raw: pd.DataFrame
    sha256: str
    problems: pd.DataFrame = field(default_factory=lambda: problems_frame([]))


def blank(v: Any) -> bool:
    """True for None, NaN and pandas' NA (what an empty cell becomes)."""
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def norm_header(text: Any) -> str:
    """A header cell without spaces, full-width brackets or units: for matching aliases."""
    s = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    s = s.strip().replace("（", "(").replace("）", ")").replace("\n", "").replace(" ", "")
    s = s.replace("\u3000", "").replace("(%)", "").replace("%", "").replace("(人)", "")
    return s.lower()


def read_side_file(
    path: str | Path, *, aliases: dict[str, str], required: list[str], what: str
) -> SideFile:
    """Read a CSV/XLSX side file whose header is one of the first 20 rows.

    Parameters
    ----------
    path : the file
    aliases : mapping normalised header (:func:`norm_header`) -> canonical key
        Canonical keys map to themselves automatically.
    required : canonical keys that must be columns
    what : Chinese name of the file kind, for messages (e.g. "补充数据")

    Raises
    ------
    InputError
        The file is missing, of an unknown type, cannot be decoded, or lacks a required column
        (the message lists the headers found and the ones expected).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise InputError(f"{p}: unknown file type '{suffix}'; use .csv or .xlsx")
    keys = {norm_header(k): k for k in required} | {norm_header(a): k for a, k in aliases.items()}
    try:
        if suffix in (".xlsx", ".xlsm"):
            head = pd.read_excel(p, header=None, dtype=str, nrows=20, engine="openpyxl")
            lines = [list(r) for r in head.itertuples(index=False)]
            encoding = None
        else:
            encoding, lines = _csv_head(p)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{p}: cannot be read as {suffix[1:].upper()}: {exc}") from exc
    need = {norm_header(k) for k in required} | {a for a, k in keys.items() if k in required}
    header_idx = next(
        (
            i
            for i, line in enumerate(lines)
            if sum(norm_header(c) in need for c in line) >= min(2, len(required))
        ),
        None,
    )
    if header_idx is None:
        raise InputError(
            f"{p}: no header row found in the first {len(lines)} rows of this "
            f"{what} file; expected columns {', '.join(required)} "
            f"(or their Chinese headers)"
        )
    try:
        if encoding is None:
            cells = pd.read_excel(p, header=header_idx, dtype=str, engine="openpyxl")
        else:
            cells = pd.read_csv(
                p,
                header=0,
                skiprows=header_idx,
                dtype=str,
                encoding=encoding,
                keep_default_na=False,
                na_values=[""],
            )
    except Exception as exc:
        raise InputError(
            f"{p}: cannot be read past its header (row {header_idx + 1}): {exc}"
        ) from exc
    first = header_idx + 2  # 1-based spreadsheet row of the first data row
    row_numbers = first + np.arange(len(cells), dtype="int64")
    keep = cells.notna().any(axis=1).to_numpy() if len(cells.columns) else np.zeros(0, bool)
    cells, row_numbers = cells[keep].reset_index(drop=True), row_numbers[keep]
    mapping: dict[str, str] = {}
    for col in cells.columns:
        key = keys.get(norm_header(col))
        if key is not None and key not in mapping.values():
            mapping[str(col)] = key
    missing = [k for k in required if k not in mapping.values()]
    if missing:
        raise InputError(
            f"{p}: {what} file lacks column(s) {', '.join(missing)}; found "
            f"{', '.join(map(str, cells.columns))}"
        )
    data = pd.DataFrame(
        {k: cells[c].astype("object").where(cells[c].notna(), None) for c, k in mapping.items()}
    )
    for c in data.columns:
        data[c] = data[c].map(
            lambda v: None if blank(v) or str(v).strip() == "" else str(v).strip()
        )
    data["row"] = row_numbers
    return SideFile(path=p, data=data.reset_index(drop=True), raw=cells, sha256=file_sha256(p))


def _csv_head(path: Path) -> tuple[str, list[list[str]]]:
    last: Exception | None = None
    for enc in ENCODINGS:
        try:
            with open(path, encoding=enc, newline="") as fh:
                fh.read()
                fh.seek(0)
                lines = []
                for i, line in enumerate(csv.reader(fh)):
                    lines.append(line)
                    if i >= 19:
                        break
            return enc, lines
        except UnicodeDecodeError as exc:
            last = exc
    raise InputError(f"{path}: cannot decode as UTF-8 or GBK ({last}); save it as UTF-8 CSV")


class Problems:
    """Collects problems of one file: ``add(mask, column, values, rule, message)``."""

    def __init__(self, data: pd.DataFrame, file: str) -> None:
        self.data = data.reset_index(drop=True)
        self.file = file
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: Any,
        column: str,
        rule: str,
        message: str | pd.Series,
        severity: str = "error",
        values: pd.Series | None = None,
    ) -> None:
        m = np.asarray(pd.array(mask, dtype="boolean").fillna(False), dtype=bool)
        if not m.any():
            return
        vals = (
            values
            if values is not None
            else (self.data[column] if column in self.data.columns else pd.Series([""] * len(m)))
        )
        v = [
            ("" if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA else str(x))
            for x in pd.Series(vals).reset_index(drop=True)[m]
        ]
        msg = list(message.reset_index(drop=True)[m]) if isinstance(message, pd.Series) else message
        self.parts.append(
            pd.DataFrame(
                {
                    "severity": severity,
                    "file": self.file,
                    "row": self.data["row"].to_numpy()[m],
                    "column": column,
                    "value": v,
                    "rule": rule,
                    "message": msg,
                },
                columns=PROBLEM_COLUMNS,
            )
        )

    def required(self, columns: list[str]) -> None:
        for c in columns:
            self.add(self.data[c].isna(), c, "required", f"'{c}' 不能为空")

    def frame(self) -> pd.DataFrame:
        parts = [p for p in self.parts if len(p)]
        return problems_frame(pd.concat(parts, ignore_index=True)) if parts else problems_frame([])


def parse_int(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text -> nullable Int64; also the mask of non-empty cells that are not whole numbers."""
    num = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = s.notna() & (num.isna() | (num != np.round(num)))
    return pd.array(num.where(~bad).round(), dtype="Int64"), bad


def parse_float(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text -> Float64 (a trailing % is allowed); also the mask of bad non-empty cells."""
    t = s.map(lambda v: None if blank(v) else str(v).rstrip("%").strip())
    num = pd.to_numeric(t, errors="coerce").astype("float64")
    bad = s.notna() & num.isna()
    return pd.array(num, dtype="Float64"), bad


def parse_date(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'2013-07-04', '2013/7/4', '2013年7月4日' -> 'YYYY-MM-DD'; also the mask of bad cells."""

    def one(v: Any) -> str | None:
        if blank(v):
            return None
        m = _DATE_RE.match(str(v).strip().split(" ")[0].split("T")[0])
        if not m:
            return None
        try:
            return pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3))).strftime(
                "%Y-%m-%d"
            )
        except ValueError:
            return None

    out = s.map(one)
    return out, s.notna() & out.isna()


def parse_datetime(value: Any) -> pd.Timestamp | None:
    """'2013-08-04 17:30', '2013/8/4', '2013年8月4日' -> Timestamp (midnight without a time)."""
    if value is None:
        return None
    m = _DATETIME_RE.match(str(value).strip())
    if not m:
        return None
    try:
        return pd.Timestamp(
            int(m.group(1)),
            int(m.group(2)),
            int(m.group(3)),
            int(m.group(4) or 0),
            int(m.group(5) or 0),
            int(m.group(6) or 0),
        )
    except ValueError:
        return None


def parse_period(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'2013-07', '2013/7', '2013年7月', '201307' -> 'YYYY-MM'; also the mask of bad cells."""

    def one(v: Any) -> str | None:
        if blank(v):
            return None
        t = str(v).strip()
        m = re.match(r"^(\d{4})(?:[-/.年](\d{1,2})月?|(\d{2}))$", t)
        if m and 1 <= int(m.group(2) or m.group(3)) <= 12:
            return f"{m.group(1)}-{int(m.group(2) or m.group(3)):02d}"
        return t if MONTH_RE.match(t) else None

    out = s.map(one)
    return out, s.notna() & out.isna()


#: Characters of the 18-character unified social credit code (GB 32100-2015): no I, O, Z, S, V.
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check(code: str) -> str | None:
    """The check character of the first 17 characters of a credit code (GB 32100-2015)."""
    if len(code) < 17 or any(c not in _CREDIT_CHARS for c in code[:17]):
        return None
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(code[:17], _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_problem(code: Any) -> str | None:
    """``None`` when ``code`` is a well-formed credit code; else the rule it breaks
    (``credit_code_format`` or ``credit_code_check``)."""
    if blank(code):
        return None
    c = str(code).strip().upper()
    if len(c) != 18 or any(ch not in _CREDIT_CHARS for ch in c):
        return "credit_code_format"
    return None if credit_code_check(c) == c[17] else "credit_code_check"
