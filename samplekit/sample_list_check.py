"""A sample list (panel file) checked in full before it may replace the store's panel.

``samplekit ingest --panel FILE`` used to load whatever the reader produced: a name with one
unquoted comma shifted the columns of its row and the shifted panel replaced the stored one.
Now the file is read strictly (a row with more or fewer cells than the header is refused with
its line) and every row is validated; with any error, or with a change too large against the
stored panel (unless ``--force``), the store is not touched.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from samplekit import reference
from samplekit.errors import PROBLEM_COLUMNS, problems_frame

#: Required columns of a sample list used as the panel (name: rows given by name are matched).
PANEL_REQUIRED: tuple[str, ...] = ("enterprise_id", "name", "city", "section")
#: Largest share of the stored panel that may leave, or be added, without ``--force``. The
#: yearly December rotation replaces well under a quarter; an expansion (3000 → 10000) or a
#: wrong file is a deliberate act.
MAX_PANEL_CHANGE = 0.25
_SIZE = set(reference.SIZE_CLASSES)
_OWN = set(reference.OWNERSHIP_GROUPS)
_BOOL = {"true", "false", "1", "0", "yes", "no", "是", "否", "", "nan", "none"}


def _rows(
    mask: np.ndarray,
    column: str,
    values: pd.Series,
    rule: str,
    message: str,
    file: str,
    severity: str = "error",
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    idx = np.flatnonzero(mask)
    return pd.DataFrame(
        {
            "severity": severity,
            "file": file,
            "row": (rows[idx] if rows is not None else idx + 2),
            "column": column,
            "value": values.iloc[idx].astype("str").to_numpy(dtype=object),
            "rule": rule,
            "message": message,
        },
        columns=PROBLEM_COLUMNS,
    )


def validate_panel(
    panel: pd.DataFrame,
    *,
    file: str = "<panel>",
    stored_ids: Iterable[str] | None = None,
    cities: Iterable[str] | None = None,
    force: bool = False,
    max_change: float = MAX_PANEL_CHANGE,
) -> pd.DataFrame:
    """Every problem of a sample list meant to become the panel.

    Parameters
    ----------
    panel : DataFrame
        The file as read (text cells), header = row 1.
    file : str
    stored_ids : iterable of str, optional
        The panel now in the store; a new list that drops or adds more than ``max_change`` of
        it is an error (``panel_change``) unless ``force``.
    cities : iterable of str, optional
        Allowed cities (the params' city table).
    force : bool
    max_change : float

    Returns
    -------
    DataFrame
        Problems (errors refuse the whole file).

    Examples
    --------
    >>> p = pd.DataFrame({"enterprise_id": ["A", "A"], "name": ["甲", "乙"],
    ...                   "city": ["广州", "广州"], "section": ["C", "Z"]})
    >>> sorted(validate_panel(p)["rule"])
    ['duplicate_id', 'duplicate_id', 'unknown_section']
    """
    missing = [c for c in PANEL_REQUIRED if c not in panel.columns]
    if missing:
        return problems_frame(
            pd.DataFrame(
                {
                    "severity": "error",
                    "file": file,
                    "row": None,
                    "column": missing,
                    "value": "",
                    "rule": "missing_column",
                    "message": [
                        f"名单缺少列 {c};现有列:{', '.join(map(str, panel.columns))}"
                        for c in missing
                    ],
                }
            )
        )
    d = panel.reset_index(drop=True)
    parts: list[pd.DataFrame] = []

    def text(c: str) -> pd.Series:
        return d[c].astype("str").str.strip().where(d[c].notna(), "")

    ids = text("enterprise_id")
    for c in PANEL_REQUIRED:
        parts.append(
            _rows((text(c) == "").to_numpy(), c, d[c], "required", f"必填项 {c} 为空", file)
        )
    dup = ids.duplicated(keep=False) & (ids != "")
    parts.append(
        _rows(
            dup.to_numpy(),
            "enterprise_id",
            d["enterprise_id"],
            "duplicate_id",
            "同一企业代码出现在多行",
            file,
        )
    )
    parts.append(
        _rows(
            ids.str.contains(r"\s", regex=True).to_numpy(),
            "enterprise_id",
            d["enterprise_id"],
            "id_format",
            "企业代码中含有空格",
            file,
        )
    )
    sec = text("section").str.upper()
    known = set(reference.sections()["section"])
    parts.append(
        _rows(
            ((sec != "") & ~sec.isin(known)).to_numpy(),
            "section",
            d["section"],
            "unknown_section",
            "应为 GB/T 4754-2011 门类字母 A–T(列是否错位?)",
            file,
        )
    )
    if cities is not None:
        allowed = set(cities)
        city = text("city")
        parts.append(
            _rows(
                ((city != "") & ~city.isin(allowed)).to_numpy(),
                "city",
                d["city"],
                "unknown_city",
                "不是城市表中的城市(列是否错位?)",
                file,
            )
        )
    if "registration_type" in d.columns:
        lookup = reference.registration_type_lookup()
        rt = text("registration_type").str.replace(r"\.0$", "", regex=True)
        parts.append(
            _rows(
                ((rt != "") & ~rt.isin(list(lookup))).to_numpy(),
                "registration_type",
                d["registration_type"],
                "unknown_registration_type",
                "不是登记注册类型代码(列是否错位?)",
                file,
            )
        )
    for col, allowed_values, label in (
        ("size_class", _SIZE, "large/medium/small/micro"),
        ("ownership", _OWN, "state/collective/private/hmt/foreign"),
    ):
        if col in d.columns:
            v = text(col)
            parts.append(
                _rows(
                    ((v != "") & ~v.isin(allowed_values)).to_numpy(),
                    col,
                    d[col],
                    f"unknown_{col}",
                    f"应为 {label}(列是否错位?)",
                    file,
                )
            )
    if "export_share" in d.columns:
        v = text("export_share")
        num = pd.to_numeric(v.where(v != ""), errors="coerce")
        bad = ((v != "") & (num.isna() | (num < 0) | (num > 1))).to_numpy()
        parts.append(
            _rows(
                bad,
                "export_share",
                d["export_share"],
                "out_of_range",
                "出口比重应为0–1之间的数(列是否错位?)",
                file,
            )
        )
    if "individual" in d.columns:
        v = text("individual").str.lower()
        parts.append(
            _rows(
                (~v.isin(_BOOL)).to_numpy(),
                "individual",
                d["individual"],
                "not_boolean",
                "应为 是/否(true/false)",
                file,
            )
        )
    stored = {str(x) for x in (stored_ids or [])}
    if stored and not force:
        new = set(ids[ids != ""])
        gone, added = len(stored - new), len(new - stored)
        if gone > max_change * len(stored) or added > max_change * len(stored):
            parts.append(
                pd.DataFrame(
                    [
                        {
                            "severity": "error",
                            "file": file,
                            "row": None,
                            "column": "enterprise_id",
                            "value": f"-{gone}/+{added}",
                            "rule": "panel_change",
                            "message": f"与存储中的名单({len(stored)}家)相比移出{gone}家、新增{added}家,"
                            f"超过{max_change:.0%};确认是新名单请加 --force",
                        }
                    ],
                    columns=PROBLEM_COLUMNS,
                )
            )
    parts = [p for p in parts if len(p)]
    return problems_frame(pd.concat(parts, ignore_index=True)) if parts else problems_frame([])
