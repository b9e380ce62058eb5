"""The city table: a province's yearbook figures per city, and its validator.

A real province replaces the demo table with its own (template:
``data/templates/city_table_template.csv``). Every missing or invalid cell is named.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from samplekit.errors import PROBLEM_COLUMNS, ValidationError, problems_frame, summarize_problems
from samplekit.io import read_table

#: column -> (Chinese header, unit, required)
CITY_COLUMNS: dict[str, tuple[str, str, bool]] = {
    "city": ("城市", "", True),
    "municipality": ("是否直辖市", "true/false", False),
    "population": ("年末人口", "万人", True),
    "employed": ("从业人员", "万人", True),
    "employed_secondary": ("第二产业从业人员", "万人", True),
    "employed_tertiary": ("第三产业从业人员", "万人", True),
    "gdp": ("地区生产总值", "亿元", True),
    "gdp_secondary": ("第二产业增加值", "亿元", True),
    "gdp_tertiary": ("第三产业增加值", "亿元", True),
    "existing_panel": ("现有监测企业数", "家", True),
    "existing_monthly": ("其中:月度失业动态监测企业数", "家", False),
    "synthetic": ("合成数据列", "", False),
}
NUMERIC = [c for c in CITY_COLUMNS if c not in ("city", "municipality", "synthetic")]
CITY_HEADERS_ZH = {k: (f"{v[0]}({v[1]})" if v[1] else v[0]) for k, v in CITY_COLUMNS.items()}


def validate_cities(raw: pd.DataFrame, *, file: str = "<cities>") -> pd.DataFrame:
    """Validate a city table; return it typed, or raise naming every bad cell.

    Rules: required columns present; city names non-empty and unique; numbers present, numeric,
    non-negative; employed_secondary + employed_tertiary ≤ employed and gdp_secondary +
    gdp_tertiary ≤ gdp (the rest is the primary sector).

    Raises
    ------
    ValidationError
    """
    zh_to_key = {v[0]: k for k, v in CITY_COLUMNS.items()}
    zh_to_key.update({CITY_HEADERS_ZH[k]: k for k in CITY_COLUMNS})
    df = raw.rename(columns=lambda c: zh_to_key.get(str(c).strip(), str(c).strip()))
    rows: list[dict] = []

    def add(row, column, value, rule, message):
        rows.append(
            {
                "severity": "error",
                "file": file,
                "row": row,
                "column": column,
                "value": "" if value is None else str(value),
                "rule": rule,
                "message": message,
            }
        )

    for col, (zh, _unit, required) in CITY_COLUMNS.items():
        if required and col not in df.columns:
            add(None, col, None, "missing_column", f"缺少必填列 '{col}'({zh})")
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(f"{file}:城市表缺少必填列\n" + summarize_problems(probs), probs)
    df = df.reset_index(drop=True)
    out = pd.DataFrame({"city": df["city"].astype("string").str.strip()})
    for i, v in out["city"].items():
        if pd.isna(v) or v == "":
            add(i + 2, "city", v, "required", "城市名称为空")
    for i in np.flatnonzero(out["city"].duplicated(keep=False).to_numpy()):
        add(i + 2, "city", out["city"].iloc[i], "duplicate_city", "同一城市出现两次")
    for col in NUMERIC:
        if col not in df.columns:
            out[col] = 0 if col == "existing_monthly" else np.nan
            continue
        num = pd.to_numeric(df[col], errors="coerce")
        for i in np.flatnonzero(num.isna().to_numpy()):
            add(
                i + 2,
                col,
                df[col].iloc[i],
                "not_numeric",
                f"{CITY_COLUMNS[col][0]}应为数字(单位:{CITY_COLUMNS[col][1]})",
            )
        for i in np.flatnonzero((num < 0).fillna(False).to_numpy()):
            add(i + 2, col, df[col].iloc[i], "negative", "不能为负数")
        out[col] = num
    for parts, total in (
        (("employed_secondary", "employed_tertiary"), "employed"),
        (("gdp_secondary", "gdp_tertiary"), "gdp"),
    ):
        excess = (out[parts[0]] + out[parts[1]] > out[total] * (1 + 1e-9)).fillna(False)
        for i in np.flatnonzero(excess.to_numpy()):
            add(
                i + 2,
                parts[0],
                out[parts[0]].iloc[i],
                "sector_sum",
                f"{CITY_COLUMNS[parts[0]][0]} + {CITY_COLUMNS[parts[1]][0]} 超过"
                f"{CITY_COLUMNS[total][0]}",
            )
    if "municipality" in df.columns:
        out["municipality"] = (
            df["municipality"]
            .astype("string")
            .str.strip()
            .str.lower()
            .isin(["true", "1", "是", "yes"])
        )
    else:
        out["municipality"] = False
    out["synthetic"] = (
        df["synthetic"].astype("string").fillna("") if "synthetic" in df.columns else ""
    )
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(
            f"{file}:城市表有 {len(probs)} 处问题\n" + summarize_problems(probs), probs
        )
    for col in ("existing_panel", "existing_monthly"):
        out[col] = out[col].astype("int64")
    return out[list(CITY_COLUMNS)]


def load_cities(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a city table file (CSV/XLSX, English or Chinese headers)."""
    return validate_cities(read_table(path), file=Path(path).name)


def synthetic_columns(cities: pd.DataFrame) -> list[str]:
    """Columns marked synthetic in any row of the table (demo stand-ins)."""
    cols: set[str] = set()
    for cell in cities.get("synthetic", pd.Series(dtype=str)).fillna(""):
        cols.update(c for c in str(cell).split(";") if c)
    return [c for c in CITY_COLUMNS if c in cols]


def synthetic_note(cities: pd.DataFrame) -> str:
    """A Chinese sentence naming the synthetic columns, for notebooks and reports."""
    cols = synthetic_columns(cities)
    if not cols:
        return ""
    names = "、".join(CITY_COLUMNS[c][0] for c in cols)
    return (
        f"注意:城市表中的{names}为按文档化、可复现程序生成的合成数据(演示用),"
        "并非统计年鉴数据;实际使用时请替换为年鉴数据。"
    )
