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
from samplekit.names import normalize_name

REQUIRED_COLUMNS: tuple[str, ...] = (
    "enterprise_id",
    "name",
    "city",
    "section",
    "registration_type",
    "employees",
    "revenue",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "division",
    "assets",
    "status",
    "export_share",
    "in_panel",
    "in_monthly",
    "county",
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
    "county": ("县(区)", "县(区)", "县区", "区县", "所在县区", "所在区县"),
}

STATUS_ALIASES: dict[str, str] = {
    "active": "active",
    "正常": "active",
    "营业": "active",
    "在营": "active",
    "存续": "active",
    "closed": "closed",
    "关闭": "closed",
    "破产": "closed",
    "注销": "closed",
    "关闭破产": "closed",
    "suspended": "suspended",
    "停业": "suspended",
    "歇业": "suspended",
    "停业整顿": "suspended",
    "moved": "moved",
    "迁出": "moved",
    "迁出本市": "moved",
}
#: Largest value accepted per number column (a larger one is an ``out_of_range`` error, not an
#: overflow): employees of one enterprise, revenue and assets in 10k yuan, export share.
MAX_VALUE: dict[str, float] = {"employees": 1e7, "revenue": 1e10, "assets": 1e11}
#: Revenue or assets per employee this many times the section's median (or below its
#: reciprocal) is a ``magnitude`` warning: 元 written under a 万元 header is 10 000 times.
MAGNITUDE_FACTOR = 300.0
#: Sections with fewer enterprises than this use only the absolute bound below.
MAGNITUDE_MIN_FIRMS = 10
#: Revenue or assets per employee above this (10k yuan, i.e. 1 亿元 a head) is always flagged.
MAGNITUDE_ABSOLUTE = 1e4
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}

#: Chinese headers of the classified frame (for Excel output).
FRAME_HEADERS_ZH: dict[str, str] = {
    "enterprise_id": "企业代码",
    "name": "企业名称",
    "city": "城市",
    "section": "行业门类",
    "division": "行业大类",
    "registration_type": "登记注册类型",
    "employees": "从业人数",
    "revenue": "营业收入(万元)",
    "assets": "资产总额(万元)",
    "status": "经营状态",
    "export_share": "出口比重",
    "in_panel": "现有监测企业",
    "in_monthly": "月度监测企业",
    "sector": "三次产业",
    "size_class": "企业规模",
    "ownership": "所有制类型",
    "county": "县(区)",
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


def _problem_rows(
    file: str,
    mask: np.ndarray,
    column: str,
    values: pd.Series,
    rule: str,
    message: str,
    severity: str = "error",
    *,
    rownum: np.ndarray | None = None,
) -> pd.DataFrame:
    idx = np.flatnonzero(mask)
    return pd.DataFrame(
        {
            "severity": severity,
            "file": file,
            # the file's own line (header found in the first 20 rows, blank lines counted);
            # for a frame without a file: header is row 1
            "row": rownum[idx] if rownum is not None else idx + 2,
            "column": column,
            "value": values.iloc[idx].astype("str").fillna("").to_numpy(dtype=object),
            "rule": rule,
            "message": message,
        },
        columns=PROBLEM_COLUMNS,
    )


def validate_frame(
    raw: pd.DataFrame,
    *,
    file: str = "<frame>",
    cities: Iterable[str] | None = None,
    rows: np.ndarray | None = None,
    counties: pd.DataFrame | None = None,
) -> FrameCheck:
    """Validate every row of a register and classify it.

    Parameters
    ----------
    raw : DataFrame
        The register as read (cells as strings or numbers), English or Chinese headers.
    file : str
        Name used in problem rows.
    cities : iterable of str, optional
        The allowed city names (the params' city table); None accepts any non-empty city.
    rows : array of int, optional
        The file line of each row (as from :func:`read_register`); default: header = row 1.
    counties : DataFrame, optional
        The declared county table (``city, county``, as from
        :func:`samplekit.counties.validate_counties`). With it, the optional ``county`` (县(区))
        column must name a county of the row's city (rule ``unknown_county``) and may be blank
        only for a city without counties in the table (rule ``county_missing``). Without it any
        county, or a blank, is accepted.

    Returns
    -------
    FrameCheck
        ``frame`` is None when any error was found; ``problems`` lists every problem.
    """
    from functools import partial

    if rows is not None:
        rows = np.asarray(rows, dtype=np.int64)
    prob = partial(_problem_rows, rownum=rows)
    df = rename_aliases(raw, file)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(str(c) for c in raw.columns)
        problems = problems_frame(
            pd.DataFrame(
                {
                    "severity": "error",
                    "file": file,
                    "row": None,
                    "column": missing,
                    "value": "",
                    "rule": "missing_column",
                    "message": [
                        f"缺少必填列 {c}(表头可写作“{COLUMN_ALIASES[c][0]}”);现有列:{found}"
                        for c in missing
                    ],
                }
            )
        )
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
        parts.append(
            prob(
                file,
                s.isna().to_numpy(),
                col,
                df[col],
                "required",
                f"必填项 {FRAME_HEADERS_ZH.get(col, col)} 为空",
            )
        )
    ids = clean["enterprise_id"]
    dup = ids.duplicated(keep=False) & ids.notna()
    parts.append(
        prob(
            file,
            dup.to_numpy(),
            "enterprise_id",
            df["enterprise_id"],
            "duplicate_id",
            "同一企业代码出现在多行;每个企业只保留一行",
        )
    )
    if cities is not None:
        # Listed in the official order (division code, else the city table's own order).
        allowed = reference.city_order([str(c) for c in cities])
        bad = clean["city"].notna() & ~clean["city"].isin(allowed)
        # The commonest mistake: 杭州市 for 杭州 (or the reverse). Say which spelling to use.
        fixable = set()
        if bad.any():
            spelled = {c: _city_spelling(c, allowed) for c in clean["city"][bad].unique()}
            fixable = {c for c, fix in spelled.items() if fix}
            for wrong in sorted(fixable):
                rows = (clean["city"] == wrong).to_numpy()
                parts.append(
                    prob(
                        file,
                        rows,
                        "city",
                        df["city"],
                        "unknown_city",
                        f"城市表中写作“{spelled[wrong]}”,请把“{wrong}”改为"
                        f"“{spelled[wrong]}”(与城市表的写法一致)",
                    )
                )
        rest = bad & ~clean["city"].isin(fixable)
        parts.append(
            prob(
                file,
                rest.to_numpy(),
                "city",
                df["city"],
                "unknown_city",
                f"不是城市表中的城市({'、'.join(allowed)})",
            )
        )
    if "county" in df.columns:
        df["county"] = df["county"].astype(object).where(df["county"].notna(), "")
        clean["county"] = text("county")
        parts.extend(
            _county_problems(clean["city"], clean["county"], df["county"], counties, prob, file)
        )
    sections = reference.sections()
    sec = clean["section"].str.upper()
    bad = sec.notna() & ~sec.isin(sections["section"].tolist())
    parts.append(
        prob(
            file,
            bad.to_numpy(),
            "section",
            df["section"],
            "unknown_section",
            "应为 GB/T 4754-2011 门类字母 A–T",
        )
    )
    clean["section"] = sec
    # Registration type: a code of 国统字〔1998〕200号 (any level), its name, or a four-digit
    # market-regulation enterprise-type code that decides one type.
    lookup = reference.registration_type_lookup()
    market = set(reference.market_regulation_types()["code"])

    def to_code(v):
        if v is None:
            return None
        t = str(v).strip()
        t = t[:-2] if t.endswith(".0") else t
        return lookup.get(t) or lookup.get(normalize_name(t)) or ("?" + t if t in market else "")

    mapped = pd.Series(map_unique(clean["registration_type"], to_code), index=df.index)
    present = clean["registration_type"].notna().to_numpy()
    unmapped = present & mapped.astype("str").str.startswith("?").to_numpy()
    unknown = present & (mapped == "").to_numpy()
    # Everyday names (民营, 外资, 有限公司 …) are not registration types; name the likely code.
    hinted = np.zeros(len(df), dtype=bool)
    if unknown.any():
        values = clean["registration_type"].astype("str")
        for word, hint in _REGISTRATION_HINTS.items():
            rows = (
                unknown & ~hinted & values.str.contains(word, regex=False).fillna(False).to_numpy()
            )
            if rows.any():
                hinted |= rows
                parts.append(
                    prob(
                        file,
                        rows,
                        "registration_type",
                        df["registration_type"],
                        "unknown_registration_type",
                        f"“{word}”不是登记注册类型的名称;请填写代码:{hint}",
                    )
                )
    parts.append(
        prob(
            file,
            unknown & ~hinted,
            "registration_type",
            df["registration_type"],
            "unknown_registration_type",
            "不是登记注册类型:应为国统字〔1998〕200号的代码(110、120、…、173、…、340)或其名称,"
            "或市场监管企业类型代码(见 data/reference)",
        )
    )
    parts.append(
        prob(
            file,
            unmapped,
            "registration_type",
            df["registration_type"],
            "unmapped_enterprise_type",
            "该市场监管企业类型代码不能唯一对应登记注册类型(上位类或多种可能);"
            "请填写三位登记注册类型代码",
        )
    )
    reg = mapped.where(~(unknown | unmapped) & present, None)
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
        parts.append(
            prob(
                file,
                bad.to_numpy(),
                "division",
                df["division"],
                "invalid_division",
                "应为该门类范围内的 GB/T 4754-2011 两位大类代码(如 C:13–43)",
            )
        )
        clean["division"] = div
    else:
        clean["division"] = pd.Series(pd.NA, index=df.index, dtype="string")

    # Numbers: numeric and non-negative.
    for col, required in (
        ("employees", True),
        ("revenue", True),
        ("assets", False),
        ("export_share", False),
    ):
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
            parts.append(
                prob(
                    file,
                    (~present).to_numpy(),
                    col,
                    raw_col,
                    "required",
                    f"必填项 {FRAME_HEADERS_ZH.get(col, col)} 为空",
                )
            )
        parts.append(
            prob(
                file,
                (present & num.isna()).to_numpy(),
                col,
                raw_col,
                "not_numeric",
                "不是数字(只写数字,不要千分位逗号或单位)",
            )
        )
        parts.append(
            prob(file, (num < 0).fillna(False).to_numpy(), col, raw_col, "negative", "不能为负数")
        )
        limit = MAX_VALUE.get(col)
        if limit is not None:  # e.g. 99999999999999999999 employees: an error, not an overflow
            parts.append(
                prob(
                    file,
                    (num > limit).fillna(False).to_numpy(),
                    col,
                    raw_col,
                    "out_of_range",
                    f"数值过大(超过{limit:g});请检查单位和位数",
                )
            )
            num = num.where(~(num > limit))
        if col == "employees":
            frac = (num.notna() & (num != np.floor(num))).to_numpy()
            parts.append(prob(file, frac, col, raw_col, "not_integer", "从业人数应为整数"))
        if col == "export_share":
            parts.append(
                prob(
                    file,
                    (num > 1).fillna(False).to_numpy(),
                    col,
                    raw_col,
                    "out_of_range",
                    "出口比重是0–1之间的小数(写0.35,不写35)",
                )
            )
        clean[col] = num.astype(float)

    if "status" in df.columns:
        st = text("status")
        mapped = pd.Series(
            map_unique(
                st, lambda v: "active" if v is None else STATUS_ALIASES.get(str(v).lower(), pd.NA)
            ),
            index=df.index,
        )
        parts.append(
            prob(
                file,
                mapped.isna().to_numpy(),
                "status",
                df["status"],
                "unknown_status",
                "经营状态应为 正常/关闭/停业/迁出(active/closed/suspended/moved)",
            )
        )
        clean["status"] = mapped
    else:
        clean["status"] = pd.Series("active", index=df.index)
    for col in ("in_panel", "in_monthly"):
        if col in df.columns:
            parsed = map_unique(df[col], _parse_bool).astype(float)  # 1 true, 0 false, NaN bad
            is_true = pd.Series(parsed == 1, index=df.index)
            is_false = pd.Series(parsed == 0, index=df.index)
            parts.append(
                prob(
                    file,
                    (~(is_true | is_false)).to_numpy(),
                    col,
                    df[col],
                    "not_boolean",
                    "应为 是/否(true/false、1/0)",
                )
            )
            clean[col] = is_true.astype(bool)
        else:
            clean[col] = pd.Series(False, index=df.index)

    problems = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else pd.DataFrame(columns=PROBLEM_COLUMNS)
    )
    if len(problems):
        return FrameCheck(None, problems_frame(problems))

    frame = pd.DataFrame(
        {
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
        },
        copy=False,
    )
    if "county" in clean:  # only a register with the optional column carries it on
        county = clean["county"].astype(object)
        frame["county"] = county.where(county.notna(), None)
    frame, used_default = classify(frame)
    warn = prob(
        file,
        used_default.to_numpy(),
        "division",
        frame["division"],
        "division_missing",
        "缺少行业大类:规模按门类的默认行业组划分;请补充两位大类代码",
        "warning",
    )
    needs_assets = frame["section"].isin(["E", "K", "L"]) & frame["assets"].isna()
    warn2 = prob(
        file,
        needs_assets.to_numpy(),
        "assets",
        frame["assets"],
        "assets_missing",
        "该行业的规模划分用资产总额;缺少资产按未达标处理",
        "warning",
    )
    warn3 = prob(
        file,
        ~id_check_ok(frame["enterprise_id"]),
        "enterprise_id",
        frame["enterprise_id"],
        "id_check",
        "统一社会信用代码(GB 32100-2015)或组织机构代码(GB 11714)的校验位不符;请核对代码是否抄错",
        "warning",
    )
    magnitude = [
        prob(file, mask, col, frame[col], "magnitude", msg, "warning")
        for col, mask, msg in magnitude_outliers(frame)
    ]
    problems = problems_frame(pd.concat([warn, warn2, warn3, *magnitude], ignore_index=True))
    return FrameCheck(frame, problems)


def _county_problems(
    city: pd.Series,
    county: pd.Series,
    raw: pd.Series,
    counties: pd.DataFrame | None,
    prob,
    file: str,
) -> list[pd.DataFrame]:
    """Rows whose 县(区) is not a county of their city in the declared county table."""
    if counties is None:
        return []
    table = counties.assign(
        city=counties["city"].astype(str).str.strip(),
        county=counties["county"].astype(str).str.strip(),
    )
    has = set(table["city"])
    pairs = set(zip(table["city"], table["county"], strict=True))
    given = county.notna().to_numpy()
    known = np.array(
        [(c, k) in pairs for c, k in zip(city.astype(object), county.astype(object), strict=True)]
    )
    in_table = city.isin(has).to_numpy()
    out = []
    for c in sorted(set(city[given & ~known].dropna().astype(str))):
        names = table.loc[table["city"] == c, "county"].tolist()
        rows = given & ~known & (city == c).to_numpy()
        hint = f"县区表中{c}的县(区)为:{'、'.join(names)}" if names else f"县区表中{c}没有县(区)"
        out.append(prob(file, rows, "county", raw, "unknown_county", f"不是{c}的县(区);{hint}"))
    out.append(
        prob(
            file,
            ~given & in_table,
            "county",
            raw,
            "county_missing",
            "县(区)为空;该城市在县区表中有县(区),请填写",
        )
    )
    return out


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def _weighted(vals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ weight × value over the leading columns (column by column: no big int64 copy)."""
    total = np.zeros(len(vals), dtype=np.int32)
    for j, w in enumerate(weights.tolist()):
        total += np.maximum(vals[:, j], 0).astype(np.int32) * w
    return total


def id_check_ok(ids: pd.Series) -> np.ndarray:
    """True where an id's check character is right, or where the id is neither an 18-character
    统一社会信用代码 (GB 32100-2015) nor a 9-character 组织机构代码 (GB 11714-1997, ``XXXXXXXX-X``
    or without the hyphen); other ids (and ids with non-ASCII characters) are not checked: any
    unique string is accepted.

    Works on the Arrow bytes of the column (no Python string per row: 10M ids in a second).

    Examples
    --------
    >>> id_check_ok(pd.Series(["91350100M000100Y43", "91350100M000100Y44", "D2143569-X"])).tolist()
    [True, False, True]
    """
    import pyarrow as pa

    arr = pa.array(ids, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    n = len(arr)
    ok = np.ones(n, dtype=bool)
    bufs = arr.buffers()
    if n == 0 or bufs[2] is None:
        return ok
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8)
    lengths = np.diff(offsets)
    valid = arr.is_valid().to_numpy(zero_copy_only=False)

    def chars(idx: np.ndarray, length: int) -> np.ndarray:
        if len(idx) == n and offsets[-1] - offsets[0] == n * length:  # all this long: a reshape
            return data[offsets[0] : offsets[-1]].reshape(n, length)
        return data[offsets[idx].astype(np.int64)[:, None] + np.arange(length)]

    # Byte -> value tables (lower case accepted); -1 not allowed, -2 non-ASCII (not checked).
    uscc = np.full(256, -1, dtype=np.int16)
    uscc[128:] = -2
    for v, ch in enumerate(_USCC_ALPHABET):
        uscc[ord(ch)] = uscc[ord(ch.lower())] = v
    org = np.full(256, -1, dtype=np.int16)
    org[128:] = -2
    for v, ch in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        org[ord(ch)] = org[ord(ch.lower())] = v
    idx = np.flatnonzero(valid & (lengths == 18))
    if len(idx):
        vals = uscc[chars(idx, 18)]
        checked = ~(vals == -2).any(axis=1)
        allowed = (vals >= 0).all(axis=1)
        check = (31 - _weighted(vals, _USCC_WEIGHTS) % 31) % 31
        ok[idx] = ~checked | (allowed & (check == vals[:, 17]))
    for length in (9, 10):
        idx = np.flatnonzero(valid & (lengths == length))
        if not len(idx):
            continue
        mat = chars(idx, length)
        if length == 10:  # XXXXXXXX-X
            keep = mat[:, 8] == ord("-")
            idx, mat = idx[keep], np.delete(mat[keep], 8, axis=1)
        digit = org[mat]
        checked = ~(digit == -2).any(axis=1)
        # check = 11 - (Σ mod 11): 10 is 'X' (33), 11 is '0'
        c9 = 11 - _weighted(digit, _ORG_WEIGHTS) % 11
        want = np.where(c9 == 10, 33, np.where(c9 == 11, 0, c9))
        good = (digit[:, :8] >= 0).all(axis=1) & (want == digit[:, 8])
        ok[idx] = ~checked | good
    return ok


def magnitude_outliers(frame: pd.DataFrame) -> list[tuple[str, np.ndarray, str]]:
    """Rows whose revenue or assets per employee is far outside their section's.

    Per section with at least :data:`MAGNITUDE_MIN_FIRMS` enterprises the median of
    value ÷ employees is the reference; a row at or beyond :data:`MAGNITUDE_FACTOR` times it (or
    its reciprocal) is flagged, and so is any row above :data:`MAGNITUDE_ABSOLUTE` (10k yuan a
    head) whatever the section. Typical cause: 元 written under a 万元 header (10 000 times).
    Returns ``(column, mask, message)`` per indicator.
    """
    out = []
    emp = frame["employees"].to_numpy(dtype=float)
    for col in ("revenue", "assets"):
        v = frame[col].to_numpy(dtype=float)
        per = np.where((emp > 0) & (v > 0), v / np.where(emp > 0, emp, 1.0), np.nan)
        ratio = pd.Series(per, index=frame.index)
        med = ratio.groupby(frame["section"]).transform("median")
        count = ratio.groupby(frame["section"]).transform("count")
        rel = ratio / med
        far = (count >= MAGNITUDE_MIN_FIRMS) & (
            (rel >= MAGNITUDE_FACTOR) | (rel <= 1 / MAGNITUDE_FACTOR)
        )
        mask = (far | (ratio > MAGNITUDE_ABSOLUTE)).fillna(False).to_numpy(dtype=bool)
        zh = "营业收入" if col == "revenue" else "资产总额"
        out.append(
            (
                col,
                mask,
                f"人均{zh}与同门类企业相差{MAGNITUDE_FACTOR:g}倍以上(或超过每人"
                f"{MAGNITUDE_ABSOLUTE:g}万元):是否以元而非万元填报?"
                f"单位错误会改变企业规模划分",
            )
        )
    return out


def _header_score(cells: Iterable[object]) -> int:
    lookup = {_norm(n): k for k, names in COLUMN_ALIASES.items() for n in (k, *names)}
    keys = {lookup.get(_norm(str(c))) for c in cells if c is not None and str(c) != "nan"}
    keys.discard(None)
    return len(keys) if ("enterprise_id" in keys or "name" in keys) else 0


def read_register(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a register file as text cells, with the file line of every row.

    The header is the first of the first 20 rows naming at least three register columns
    (one of them the id or the name), so title rows above it are skipped. Row numbers are
    the file's lines (blank lines counted) for CSV and the sheet's rows for XLSX.

    Raises
    ------
    InputError
        Empty file; no header in the first 20 rows (a file split by ``;`` or tabs is named as
        such, with the line); a row with more or fewer cells than the header (with its line);
        a mixed-encoding file (with the first line that is not UTF-8); header but no data.
    """
    from samplekit.io import csv_encoding, csv_head, data_line_numbers, guess_delimiter

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        raw = read_table(p)
        return raw, np.arange(len(raw), dtype=np.int64) + 2
    if suffix in (".csv", ".txt"):
        head = csv_head(p, csv_encoding(p, whole=False))  # the reader names a later bad line
    elif suffix in (".xlsx", ".xlsm"):
        try:
            top = pd.read_excel(p, header=None, dtype=str, nrows=20, engine="openpyxl")
        except Exception as exc:
            raise InputError(f"{p}: cannot be read as XLSX: {exc}") from exc
        head = [list(r) for r in top.itertuples(index=False)]
    else:
        raw = read_table(p)  # names the unknown type
        return raw, np.arange(len(raw), dtype=np.int64) + 2
    scores = [_header_score(r) for r in head]
    header_idx = next((i for i, sc in enumerate(scores) if sc >= 3), None)
    if header_idx is None:
        delim = guess_delimiter(head)
        if delim is not None:
            raise InputError(
                f"{p}: 第{delim[0]}行似乎以{delim[1]}分隔;请另存为逗号分隔的 CSV(或 XLSX)后重新报送"
            )
        raise InputError(
            f"{p}: 前{len(head)}行中没有找到表头(需要企业代码、企业名称、城市、行业门类等列)"
        )
    raw = read_table(
        p, engine="pyarrow" if suffix in (".csv", ".txt") else "c", skiprows=header_idx
    )
    if not len(raw):
        raise InputError(f"{p}: 只有表头(第{header_idx + 1}行),没有数据行")
    if suffix in (".csv", ".txt"):
        rows = data_line_numbers(p, header_idx + 1, len(raw))
        # Unlike the other text columns, a name is kept as sent: undo the formula escape.
        from samplekit.io import unescape_formulas

        for col in raw.columns:
            if _norm(str(col)) in {_norm(n) for n in ("name", *COLUMN_ALIASES["name"])}:
                raw[col] = unescape_formulas(raw[col])
    else:
        rows = np.arange(len(raw), dtype=np.int64) + header_idx + 2
    return raw, rows


_CITY_SUFFIXES = ("市", "地区", "自治州", "盟")
#: Everyday words for ownership found in registers -> the registration-type codes they mean
#: (国统字〔1998〕200号), first match wins.
_REGISTRATION_HINTS: dict[str, str] = {
    "民营": "170 私营企业(或 171 私营独资、172 私营合伙、173 私营有限责任公司、174 私营股份有限公司)",
    "私企": "170 私营企业(或 171–174)",
    "国企": "110 国有企业(国有独资公司为 151)",
    "合资": "310 中外合资经营企业,或 210 合资经营企业(港或澳、台资)",
    "港资": "230 港、澳、台商独资经营企业(合资 210、合作 220)",
    "台资": "230 港、澳、台商独资经营企业(合资 210、合作 220)",
    "外资": "330 外资企业(中外合资 310、中外合作 320)",
    "外企": "330 外资企业(中外合资 310、中外合作 320)",
    "有限公司": "159 其他有限责任公司(私营的为 173,国有独资为 151),股份有限公司为 160",
    "个体": "个体工商户不是企业登记注册类型;不应列入企业名录",
}


def _city_spelling(name: str, allowed: list[str]) -> str | None:
    """The city-table spelling of ``name`` when they differ only by an administrative suffix
    (杭州市 ↔ 杭州), else None."""

    def bare(c: str) -> str:
        for suffix in _CITY_SUFFIXES:
            if c.endswith(suffix) and len(c) > len(suffix) + 1:
                return c[: -len(suffix)]
        return c

    matches = [c for c in allowed if bare(c) == bare(str(name))]
    return matches[0] if len(matches) == 1 else None


def check_frame(
    path: str | os.PathLike[str],
    *,
    cities: Iterable[str] | None = None,
    counties: pd.DataFrame | None = None,
) -> FrameCheck:
    """Read and validate a register file (see :func:`read_register`, :func:`validate_frame`)."""
    raw, rows = read_register(path)  # registers are big: pyarrow; the validator strips text
    result = validate_frame(raw, file=Path(path).name, cities=cities, rows=rows, counties=counties)
    if Path(path).suffix.lower() in (".xlsx", ".xlsm"):
        from samplekit.io import xlsx_formulas_without_values

        found = xlsx_formulas_without_values(path)
        if found:
            cols = list(raw.columns)
            named = rename_aliases(raw.head(0), Path(path).name).columns
            probs = pd.DataFrame(
                [
                    {
                        "severity": "error",
                        "file": Path(path).name,
                        "row": r,
                        "column": str(named[c - 1]) if c - 1 < len(cols) else str(c),
                        "value": f,
                        "rule": "formula_no_value",
                        "message": "公式单元格没有计算结果(文件由程序生成、未在 Excel 中保存);"
                        "请在 Excel 中打开并保存,或填写数值",
                    }
                    for (r, c), f in sorted(found.items())
                    if r > int(rows[0]) - 1
                ],
                columns=PROBLEM_COLUMNS,
            )
            if len(probs):
                result = FrameCheck(
                    None, problems_frame(pd.concat([result.problems, probs], ignore_index=True))
                )
    return result


def load_frame(
    path: str | os.PathLike[str],
    *,
    cities: Iterable[str] | None = None,
    counties: pd.DataFrame | None = None,
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
    result = check_frame(path, cities=cities, counties=counties)
    if not result.ok:
        errors = result.problems[result.problems["severity"] == "error"]
        raise ValidationError(
            f"{path}: {len(errors)} problem(s) in the register; nothing was loaded.\n"
            + summarize_problems(errors),
            result.problems,
        )
    if len(result.problems):
        warnings.warn(
            f"{path}:{len(result.problems)}条提示:\n" + summarize_problems(result.problems),
            SamplekitWarning,
            stacklevel=2,
        )
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
        raise InputError(
            f"{file}: {len(unknown)} panel enterprise(s) not in the register "
            f"(rows {rows}); fix the ids or add them to the register"
        )
    out = frame.copy()
    out["in_panel"] = out["enterprise_id"].isin(ids)
    if "in_monthly" in panel.columns:
        monthly = ids[panel["in_monthly"].astype(str).str.lower().isin(["true", "1", "是"])]
        out["in_monthly"] = out["enterprise_id"].isin(monthly)
    else:
        out["in_monthly"] = out["in_monthly"] & out["in_panel"]
    return out
