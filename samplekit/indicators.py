"""The city indicators table: monthly city inputs to the warning system and its validator
(the seeded demo table is :func:`samplekit.demo.demo_city_indicators`).

One row per city (or the province, under its own name) and month:

| column | meaning |
|---|---|
| ``city`` | city name (or the province's name for a province row) |
| ``period`` | month ``YYYY-MM`` |
| ``registered_rate`` | 城镇登记失业率, %, end of month |
| ``ui_fund_months`` | 失业保险基金可支撑月数, months of benefits the fund balance covers |
| ``new_registered_unemployed`` | 新增登记失业人数, persons registered during the month |
| ``demand_supply_ratio`` | 求人倍率, vacancies ÷ job seekers at public employment agencies |

Indicator columns are optional ("where present"); at least one must be there. Every bad cell is
reported with its row and column.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import (
    PROBLEM_COLUMNS,
    ValidationError,
    problems_frame,
    summarize_problems,
)
from samplekit.io import read_table
from samplekit.periods import MONTH_RE

#: column -> (Chinese header, unit, lower bound, upper bound, integer)
INDICATOR_COLUMNS: dict[str, tuple[str, str, float, float, bool]] = {
    "registered_rate": ("城镇登记失业率", "%", 0.0, 100.0, False),
    "ui_fund_months": ("失业保险基金可支撑月数", "月", 0.0, 1200.0, False),
    "new_registered_unemployed": ("新增登记失业人数", "人", 0.0, 1e8, True),
    "demand_supply_ratio": ("求人倍率", "", 0.0, 100.0, False),
}
KEY_COLUMNS: dict[str, str] = {"city": "城市", "period": "月份"}
HEADERS_ZH: dict[str, str] = {
    **KEY_COLUMNS,
    **{k: (f"{v[0]}({v[1]})" if v[1] else v[0]) for k, v in INDICATOR_COLUMNS.items()},
}


ColumnSpec = tuple[str, str, float, float, bool]


def declared_columns(indicators: Iterable[Any]) -> dict[str, ColumnSpec]:
    """Column specs of the indicators declared in params with ``source: city`` (the open
    indicator table): ``column -> (Chinese name, unit, low, high, integer)``.

    A known column (:data:`INDICATOR_COLUMNS`) keeps its name and rules unless the params give
    ``range`` / ``integer``; a new column takes the indicator's ``name``, ``unit``, ``range``
    (default any finite number) and ``integer``.
    """
    out: dict[str, ColumnSpec] = {}
    for ind in indicators:
        if ind.source != "city":
            continue
        base = INDICATOR_COLUMNS.get(ind.column)
        zh, unit, low, high, integer = base or (ind.name, ind.unit, -1e15, 1e15, False)
        if ind.valid_range is not None:
            low, high = ind.valid_range
        out[ind.column] = (zh, unit, low, high, bool(integer or ind.integer))
    return out


def validate_city_indicators(
    raw: pd.DataFrame,
    *,
    cities: Iterable[str] | None = None,
    file: str = "<city indicators>",
    columns: dict[str, ColumnSpec] | None = None,
) -> pd.DataFrame:
    """Validate a city indicators table; return it typed and sorted, or raise naming every cell.

    Parameters
    ----------
    raw : DataFrame
        Cells as read (strings); English keys or the Chinese headers of :data:`HEADERS_ZH`.
    cities : iterable of str, optional
        Allowed names in ``city`` (the city table's cities plus the province's name).
    file : str
        Name used in problem messages.
    columns : dict, optional
        Indicator columns declared in params (:func:`declared_columns`), validated like the
        built-in ones (their Chinese names are accepted as headers).

    Returns
    -------
    DataFrame with ``city, period`` and the indicator columns present (floats; NaN for empty
    cells, which are allowed: an indicator may be missing for some months).

    Raises
    ------
    ValidationError
        Problems: missing key columns or no indicator column; empty or unknown city; period not
        ``YYYY-MM``; duplicate city-period; non-numeric, negative or out-of-range values;
        non-integer counts.
    """
    spec = {**INDICATOR_COLUMNS, **(columns or {})}
    aliases = {}
    for key, zh in HEADERS_ZH.items():
        aliases[zh] = key
    for key, (zh, unit, *_rest) in spec.items():
        aliases[zh] = key
        aliases[f"{zh}({unit})"] = key
    aliases.update({v: k for k, v in KEY_COLUMNS.items()})
    df = raw.rename(columns=lambda c: aliases.get(str(c).strip(), str(c).strip()))
    rows: list[dict[str, Any]] = []

    def add(row: int | None, column: str, value: Any, rule: str, message: str) -> None:
        rows.append(
            {
                "severity": "error",
                "file": file,
                "row": row,
                "column": column,
                "value": ""
                if value is None or (isinstance(value, float) and np.isnan(value))
                else str(value),
                "rule": rule,
                "message": message,
            }
        )

    for col, zh in KEY_COLUMNS.items():
        if col not in df.columns:
            add(None, col, None, "missing_column", f"required column '{col}' ({zh}) not found")
    present = [c for c in spec if c in df.columns]
    if not present:
        add(
            None,
            "registered_rate",
            None,
            "no_indicator",
            "no indicator column found; expected at least one of "
            + ", ".join(f"{k} ({v[0]})" for k, v in spec.items()),
        )
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(
            f"{file}: city indicators table has the wrong columns\n" + summarize_problems(probs),
            probs,
        )
    df = df.reset_index(drop=True)
    allowed = set(cities) if cities is not None else None
    out = pd.DataFrame(
        {
            "city": df["city"].astype("string").str.strip(),
            "period": df["period"].astype("string").str.strip(),
        }
    )
    for i, v in out["city"].items():
        if pd.isna(v) or v == "":
            add(i + 2, "city", v, "required", "city name is empty")
        elif allowed is not None and v not in allowed:
            add(
                i + 2,
                "city",
                v,
                "unknown_city",
                "not a city of the city table nor the province; check the spelling",
            )
    for i, v in out["period"].items():
        if pd.isna(v) or not MONTH_RE.match(str(v)):
            add(i + 2, "period", v, "period_format", "period must be a month like 2013-07")
    dup = out.duplicated(["city", "period"], keep=False).to_numpy()
    for i in np.flatnonzero(dup):
        add(
            i + 2,
            "period",
            out["period"].iloc[i],
            "duplicate",
            f"city {out['city'].iloc[i]} has this month twice; keep one row per city and month",
        )
    for col in present:
        zh, unit, low, high, integer = spec[col]
        text = df[col].astype("string").str.strip()
        num = pd.to_numeric(text, errors="coerce")
        bad = (num.isna() & text.notna() & (text != "")).to_numpy()
        for i in np.flatnonzero(bad):
            add(i + 2, col, df[col].iloc[i], "not_numeric", f"{zh} must be a number ({unit})")
        out_of_range = ((num < low) | (num > high)).fillna(False).to_numpy()
        for i in np.flatnonzero(out_of_range):
            add(i + 2, col, df[col].iloc[i], "range", f"{zh} must lie in [{low:g}, {high:g}]")
        if integer:
            frac = ((num - np.round(num)).abs() > 1e-9).fillna(False).to_numpy()
            for i in np.flatnonzero(frac):
                add(i + 2, col, df[col].iloc[i], "integer", f"{zh} is a count of persons")
        out[col] = num.astype("float64")
    if rows:
        probs = problems_frame(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
        raise ValidationError(
            f"{file}: {len(probs)} problem(s) in the city indicators table\n"
            + summarize_problems(probs),
            probs,
        )
    out["city"] = out["city"].astype(str)
    out["period"] = out["period"].astype(str)
    return out.sort_values(["city", "period"], kind="stable").reset_index(drop=True)


def load_city_indicators(
    path: str | os.PathLike[str],
    *,
    cities: Iterable[str] | None = None,
    columns: dict[str, ColumnSpec] | None = None,
) -> pd.DataFrame:
    """Read (CSV UTF-8/GBK, XLSX) and validate a city indicators file."""
    return validate_city_indicators(
        read_table(path), cities=cities, file=Path(path).name, columns=columns
    )


def merge_tables(base: pd.DataFrame | None, extra: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """Join an external indicator table (``city, period`` + columns) onto the city table.

    A column held by both is refused (two sources for one indicator), naming the file.
    """
    if base is None:
        return extra
    both = sorted((set(base.columns) & set(extra.columns)) - {"city", "period"})
    if both:
        probs = problems_frame(
            pd.DataFrame(
                [
                    {
                        "severity": "error",
                        "file": file,
                        "row": None,
                        "column": c,
                        "value": "",
                        "rule": "duplicate_column",
                        "message": "this indicator is already in the city indicators table; keep one source",
                    }
                    for c in both
                ],
                columns=PROBLEM_COLUMNS,
            )
        )
        raise ValidationError(
            f"{file}: column(s) {both} also in the city indicators table\n"
            + summarize_problems(probs),
            probs,
        )
    out = base.merge(extra, on=["city", "period"], how="outer")
    return out.sort_values(["city", "period"], kind="stable").reset_index(drop=True)
