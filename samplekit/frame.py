"""The enterprise register (sampling frame): read, validate every row, classify.

Accepted files: CSV (UTF-8, UTF-8 with BOM, GBK), XLSX, Parquet. Column names may be the English
keys or the Chinese headers cities use (:data:`COLUMN_ALIASES`). Every row is checked and **all**
problems are reported (row, column, value, rule); with any error nothing is returned.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from samplekit import reference
from samplekit.classification import classify, map_pairs, map_unique
from samplekit.errors import (
    PROBLEM_COLUMNS,
    InputError,
    SamplekitWarning,
    ValidationError,
    problems_frame,
    summarize_problems,
)
from samplekit.io import read_table

REQUIRED_COLUMNS: tuple[str, ...] = (
    "enterprise_id", "name", "city", "section", "registration_type", "employees", "revenue",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "division", "assets", "status", "export_share", "in_panel", "in_monthly",
)

#: Chinese (and common variant) headers accepted for each column.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "enterprise_id": ("企业代码", "统一社会信用代码", "组织机构代码", "企业编码", "id"),
    "name": ("企业名称", "单位名称"),
    "city": ("城市", "地市", "所在城市", "所在地市"),
    "section": ("行业门类", "门类", "所属行业门类", "企业所属行业"),
    "division": ("行业大类", "行业代码", "大类"),
    "registration_type": ("登记注册类型", "企业登记注册类型", "企业性质", "登记注册类型代码"),
    "employees": ("从业人数", "从业人员", "从业人员数", "就业人数"),
    "revenue": ("营业收入", "营业收入(万元)", "营业收入(万元)"),
    "assets": ("资产总额", "资产总计", "资产总额(万元)", "资产总额(万元)"),
    "status": ("经营状态", "状态", "营业状态"),
    "export_share": ("出口比重", "出口占比", "出口交货值占比"),
    "in_panel": ("是否监测企业", "现有监测企业", "在监测样本"),
    "in_monthly": ("是否月度监测", "月度监测企业", "失业动态监测企业"),
}

STATUS_ALIASES: dict[str, str] = {
    "active": "active", "正常": "active", "营业": "active", "在营": "active", "存续": "active",
    "closed": "closed", "关闭": "closed", "破产": "closed", "注销": "closed", "关闭破产": "closed",
    "suspended": "suspended", "停业": "suspended", "歇业": "suspended", "停业整顿": "suspended",
    "moved": "moved", "迁出": "moved", "迁出本市": "moved",
}
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}

#: Chinese headers of the classified frame (for Excel output).
FRAME_HEADERS_ZH: dict[str, str] = {
    "enterprise_id": "企业代码", "name": "企业名称", "city": "城市", "section": "行业门类",
    "division": "行业大类", "registration_type": "登记注册类型", "employees": "从业人数",
    "revenue": "营业收入(万元)", "assets": "资产总额(万元)", "status": "经营状态",
    "export_share": "出口比重", "in_panel": "现有监测企业", "in_monthly": "月度监测企业",
    "sector": "三次产业", "size_class": "企业规模", "ownership": "所有制类型",
}


@dataclass(frozen=True)
class FrameCheck:
    """Result of checking a register: the classified frame (None when errors) and all problems."""

    frame: pd.DataFrame | None
    problems: pd.DataFrame

    @property
    def ok(self) -> bool:
        return not (self.problems["severity"] == "error").any()


def rename_aliases(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    """Map Chinese/variant headers to the English keys; refuse ambiguous headers."""
    lookup = {}
    for key, aliases in COLUMN_ALIASES.items():
        for name in (key, *aliases):
            lookup[_norm(name)] = key
    mapping: dict[str, str] = {}
    for col in raw.columns:
        key = lookup.get(_norm(str(col)))
        if key is None:
            continue
        if key in mapping.values():
            first = next(c for c, k in mapping.items() if k == key)
            raise InputError(
                f"{file}: columns '{first}' and '{col}' both mean '{key}'; keep one of them"
            )
        mapping[col] = key
    return raw.rename(columns=mapping)


def _parse_bool(value) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return 0.0
    text = str(value).strip().lower()
    return 1.0 if text in _TRUE else 0.0 if text in _FALSE else np.nan


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "").replace("\ufeff", "")


def _problem_rows(file: str, mask: np.ndarray, column: str, values: pd.Series, rule: str,
                  message: str, severity: str = "error") -> pd.DataFrame:
    idx = np.flatnonzero(mask)
    return pd.DataFrame({
        "severity": severity,
        "file": file,
        "row": idx + 2,  # spreadsheet row: header is row 1
        "column": column,
        "value": values.iloc[idx].astype("str").fillna("").to_numpy(dtype=object),
        "rule": rule,
        "message": message,
    }, columns=PROBLEM_COLUMNS)


def validate_frame(raw: pd.DataFrame, *, file: str = "<frame>",
                   cities: Iterable[str] | None = None) -> FrameCheck:
    """Validate every row of a register and classify it.

    Parameters
    ----------
    raw : DataFrame
        The register as read (cells as strings or numbers), English or Chinese headers.
    file : str
        Name used in problem rows.
    cities : iterable of str, optional
        The allowed city names (the params' city table); None accepts any non-empty city.

    Returns
    -------
    FrameCheck
        ``frame`` is None when any error was found; ``problems`` lists every problem.
    """
    df = rename_aliases(raw, file)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(str(c) for c in raw.columns)
        problems = problems_frame(pd.DataFrame({
            "severity": "error", "file": file, "row": None, "column": missing, "value": "",
            "rule": "missing_column",
            "message": [f"required column '{c}' (or a Chinese header such as "
                        f"'{COLUMN_ALIASES[c][0]}') not found; found: {found}" for c in missing],
        }))
        return FrameCheck(None, problems)
    df = df.reset_index(drop=True)
    parts: list[pd.DataFrame] = []

    def text(col: str) -> pd.Series:
        s = df[col]
        if not pd.api.types.is_string_dtype(s) or s.dtype == object:
            s = s.astype("str")
        # Strip and blank only when needed: copying 10M strings per column costs gigabytes.
        ends = s.str.slice(0, 1).str.isspace() | s.str.slice(-1).str.isspace()
        padded = ends.fillna(False).astype(bool)
        if padded.any():
            s = s.str.strip()
        blank = (s == "").fillna(False).astype(bool)
        return s.mask(blank) if blank.any() else s

    # Required values present.
    clean: dict[str, pd.Series] = {}
    for col in ("enterprise_id", "name", "city", "section", "registration_type"):
        s = text(col)
        clean[col] = s
        parts.append(_problem_rows(file, s.isna().to_numpy(), col, df[col], "required",
                                   f"'{col}' is empty; every enterprise needs one"))
    ids = clean["enterprise_id"]
    dup = ids.duplicated(keep=False) & ids.notna()
    parts.append(_problem_rows(file, dup.to_numpy(), "enterprise_id", df["enterprise_id"],
                               "duplicate_id", "the same enterprise_id appears on more than one "
                               "row; keep one row per enterprise"))
    if cities is not None:
        allowed = sorted(set(cities))
        bad = clean["city"].notna() & ~clean["city"].isin(allowed)
        parts.append(_problem_rows(file, bad.to_numpy(), "city", df["city"], "unknown_city",
                                   f"not a city of the params' city table ({'、'.join(allowed)})"))
    sections = reference.sections()
    sec = clean["section"].str.upper()
    bad = sec.notna() & ~sec.isin(sections["section"].tolist())
    parts.append(_problem_rows(file, bad.to_numpy(), "section", df["section"], "unknown_section",
                               "expected a GB/T 4754-2011 section letter A–T"))
    clean["section"] = sec
    reg = clean["registration_type"].str.replace(r"\.0$", "", regex=True)
    known = reference.registration_types()["code"].tolist()
    bad = reg.notna() & ~reg.isin(known)
    parts.append(_problem_rows(file, bad.to_numpy(), "registration_type",
                               df["registration_type"], "unknown_registration_type",
                               "expected a registration type code of 国统字〔1998〕200号 "
                               "(110, 120, …, 340; 151/159 of the 2011 revision)"))
    clean["registration_type"] = reg

    # Division: digits, within the section's range.
    if "division" in df.columns:
        div = text("division").str.replace(r"\.0$", "", regex=True)
        div = div.where(div.isna() | (div.str.len() != 1), "0" + div)  # "5" -> "05"
        ranges = sections.set_index("section")

        def division_ok(s, d):
            if d is None:
                return True
            d = str(d)
            if not (d.isdigit() and 2 <= len(d) <= 4):
                return False
            if s is None or s not in ranges.index:
                return True  # the section itself is reported
            return ranges.at[s, "first_division"] <= d[:2] <= ranges.at[s, "last_division"]

        results, inverse = map_pairs(sec, div, division_ok)
        bad = pd.Series(~np.asarray(results, dtype=bool)[inverse], index=df.index)
        parts.append(_problem_rows(file, bad.to_numpy(), "division", df["division"],
                                   "invalid_division",
                                   "expected a 2-digit GB/T 4754-2011 division inside the "
                                   "section's range (e.g. C: 13–43)"))
        clean["division"] = div
    else:
        clean["division"] = pd.Series(pd.NA, index=df.index, dtype="string")

    # Numbers: numeric and non-negative.
    for col, required in (("employees", True), ("revenue", True), ("assets", False),
                          ("export_share", False)):
        if col not in df.columns:
            clean[col] = pd.Series(np.nan, index=df.index)
            continue
        raw_col = df[col]
        if pd.api.types.is_numeric_dtype(raw_col):
            num = raw_col.astype(float)
            present = raw_col.notna()
        else:
            num = pd.to_numeric(raw_col, errors="coerce")
            present = raw_col.notna() & (raw_col.astype("str").str.strip() != "")
            present = present.fillna(False).astype(bool)
        if required:
            parts.append(_problem_rows(file, (~present).to_numpy(), col, raw_col, "required",
                                       f"'{col}' is empty; every enterprise needs one"))
        parts.append(_problem_rows(file, (present & num.isna()).to_numpy(), col, raw_col,
                                   "not_numeric", "not a number (write digits only, no "
                                   "thousands separators or units)"))
        parts.append(_problem_rows(file, (num < 0).fillna(False).to_numpy(), col, raw_col,
                                   "negative", "must not be negative"))
        if col == "employees":
            frac = (num.notna() & (num != np.floor(num))).to_numpy()
            parts.append(_problem_rows(file, frac, col, raw_col, "not_integer",
                                       "employees must be a whole number of persons"))
        if col == "export_share":
            parts.append(_problem_rows(file, (num > 1).fillna(False).to_numpy(), col, raw_col,
                                       "out_of_range", "export share is a fraction 0–1 "
                                       "(write 0.35, not 35)"))
        clean[col] = num.astype(float)

    if "status" in df.columns:
        st = text("status")
        mapped = pd.Series(map_unique(st, lambda v: "active" if v is None else
                                      STATUS_ALIASES.get(str(v).lower(), pd.NA)), index=df.index)
        parts.append(_problem_rows(file, mapped.isna().to_numpy(), "status", df["status"],
                                   "unknown_status",
                                   "expected active/closed/suspended/moved (正常/关闭/停业/迁出)"))
        clean["status"] = mapped
    else:
        clean["status"] = pd.Series("active", index=df.index)
    for col in ("in_panel", "in_monthly"):
        if col in df.columns:
            parsed = map_unique(df[col], _parse_bool).astype(float)  # 1 true, 0 false, NaN bad
            is_true = pd.Series(parsed == 1, index=df.index)
            is_false = pd.Series(parsed == 0, index=df.index)
            parts.append(_problem_rows(file, (~(is_true | is_false)).to_numpy(), col, df[col],
                                       "not_boolean", "expected true/false (是/否, 1/0)"))
            clean[col] = is_true.astype(bool)
        else:
            clean[col] = pd.Series(False, index=df.index)

    problems = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else pd.DataFrame(columns=PROBLEM_COLUMNS)
    if len(problems):
        return FrameCheck(None, problems_frame(problems))

    frame = pd.DataFrame({
        "enterprise_id": ids.astype(str),
        "name": clean["name"].astype(str),
        "city": clean["city"].astype(str),
        "section": clean["section"].astype(str),
        "division": clean["division"],
        "registration_type": clean["registration_type"].astype(str),
        "employees": clean["employees"].astype("int64"),
        "revenue": clean["revenue"],
        "assets": clean["assets"],
        "status": clean["status"].astype(str),
        "export_share": clean["export_share"].fillna(0.0),
        "in_panel": clean["in_panel"],
        "in_monthly": clean["in_monthly"] & clean["in_panel"],
    }, copy=False)
    frame, used_default = classify(frame)
    warn = _problem_rows(file, used_default.to_numpy(), "division", frame["division"],
                         "division_missing",
                         "division missing: size class used the section's default industry "
                         "group; add the 2-digit division for an exact class", "warning")
    needs_assets = frame["section"].isin(["E", "K", "L"]) & frame["assets"].isna()
    warn2 = _problem_rows(file, needs_assets.to_numpy(), "assets", frame["assets"],
                          "assets_missing", "the size rule for this industry uses assets; "
                          "missing assets count as below every bound", "warning")
    problems = problems_frame(pd.concat([warn, warn2], ignore_index=True))
    return FrameCheck(frame, problems)


def check_frame(path: str | os.PathLike[str], *, cities: Iterable[str] | None = None
                ) -> FrameCheck:
    """Read and validate a register file (see :func:`validate_frame`)."""
    raw = read_table(path, engine="pyarrow")  # registers are big; the validator strips text
    return validate_frame(raw, file=Path(path).name, cities=cities)


def load_frame(path: str | os.PathLike[str], *, cities: Iterable[str] | None = None
               ) -> pd.DataFrame:
    """Read, validate and classify a register; raise if any row has an error.

    Raises
    ------
    ValidationError
        With ``problems`` listing every problem (row, column, value, rule).

    Warns
    -----
    SamplekitWarning
        When rows were classified with a default industry group (division missing).
    """
    result = check_frame(path, cities=cities)
    if not result.ok:
        errors = result.problems[result.problems["severity"] == "error"]
        raise ValidationError(
            f"{path}: {len(errors)} problem(s) in the register; nothing was loaded.\n"
            + summarize_problems(errors), result.problems)
    if len(result.problems):
        warnings.warn(f"{path}: {len(result.problems)} warning(s):\n"
                      + summarize_problems(result.problems), SamplekitWarning, stacklevel=2)
    return result.frame


def apply_panel(frame: pd.DataFrame, panel: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """Set ``in_panel``/``in_monthly`` from a list of existing panel members.

    ``panel`` has an ``enterprise_id`` (企业代码) column and optionally ``in_monthly``; ids not in
    the register are an error naming their rows.
    """
    from samplekit.errors import InputError

    panel = rename_aliases(panel, file)
    if "enterprise_id" not in panel.columns:
        raise InputError(f"{file}: the panel list needs an 'enterprise_id' (企业代码) column")
    ids = panel["enterprise_id"].astype(str).str.strip()
    unknown = ids[~ids.isin(frame["enterprise_id"])]
    if len(unknown):
        rows = ", ".join(str(i + 2) for i in unknown.index[:10])
        raise InputError(f"{file}: {len(unknown)} panel enterprise(s) not in the register "
                         f"(rows {rows}); fix the ids or add them to the register")
    out = frame.copy()
    out["in_panel"] = out["enterprise_id"].isin(ids)
    if "in_monthly" in panel.columns:
        monthly = ids[panel["in_monthly"].astype(str).str.lower().isin(["true", "1", "是"])]
        out["in_monthly"] = out["enterprise_id"].isin(monthly)
    else:
        out["in_monthly"] = out["in_monthly"] & out["in_panel"]
    return out
