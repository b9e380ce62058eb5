"""Errors, warnings and problem lists shared by every module.

User-facing errors say what was found, where (file, row, column, key, rule) and how to fix it.
The CLI maps each error class to an exit code, so callers never parse messages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

#: Chinese headers for problem lists sent back to cities (CSV keys stay English).
PROBLEM_HEADERS_ZH: dict[str, str] = {
    "severity": "严重程度",
    "file": "文件",
    "row": "行号",
    "column": "列",
    "value": "值",
    "rule": "规则",
    "message": "说明",
}


class SamplekitWarning(UserWarning):
    """A warning raised by samplekit itself (tests turn these into errors)."""


class SamplekitError(Exception):
    """Base class of user-facing errors; ``exit_code`` is what the CLI returns."""

    exit_code: int = 1


class ParamsError(SamplekitError):
    """A params file is missing, malformed, or has an invalid key or value."""


class InputError(SamplekitError):
    """An input file cannot be read or has the wrong structure."""


class ValidationError(SamplekitError):
    """Rows failed validation; ``problems`` lists every one of them."""

    def __init__(self, message: str, problems: pd.DataFrame):
        super().__init__(message)
        self.problems = problems


class InfeasibleError(SamplekitError):
    """A rule set cannot be met; ``diagnosis`` explains which rules conflict and by how much."""

    exit_code = 2

    def __init__(self, message: str, diagnosis: pd.DataFrame | None = None):
        super().__init__(message)
        self.diagnosis = diagnosis


@dataclass(frozen=True)
class Problem:
    """One problem found in one cell of an input file.

    ``row`` is the 1-based data row number as a user sees it in a spreadsheet
    (header is row 1, so the first data row is row 2); ``None`` for file-level problems.
    """

    severity: Literal["error", "warning"]
    file: str
    row: int | None
    column: str
    value: str
    rule: str
    message: str


PROBLEM_COLUMNS = list(PROBLEM_HEADERS_ZH)


def problems_frame(problems: list[Problem] | pd.DataFrame) -> pd.DataFrame:
    """Return problems as a DataFrame with the standard columns, sorted by row then column."""
    if isinstance(problems, pd.DataFrame):
        df = problems.reindex(columns=PROBLEM_COLUMNS)
    else:
        df = pd.DataFrame([asdict(p) for p in problems], columns=PROBLEM_COLUMNS)
    df["row"] = df["row"].astype("Int64")
    return df.sort_values(
        ["file", "row", "column"], kind="stable", na_position="first"
    ).reset_index(drop=True)


def summarize_problems(problems: pd.DataFrame, limit: int = 5) -> str:
    """One line per rule: how many rows break it and the first few row numbers."""
    lines = []
    for (column, rule), group in problems.groupby(["column", "rule"], sort=True):
        rows = group["row"].dropna().astype(int).tolist()
        shown = ", ".join(str(r) for r in rows[:limit]) + (" …" if len(rows) > limit else "")
        first = group.iloc[0]
        lines.append(
            f"{len(group)} 处:列 '{column}' 违反规则 '{rule}'(行 {shown or '-'}):{first['message']}"
        )
    return "\n".join(lines)
