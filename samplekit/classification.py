"""Derived classifications of an enterprise: size class, ownership group, sector.

Size classes follow 《统计上大中小微型企业划分办法》(国统字〔2011〕75号; numbers kept by the 2017
revision): an enterprise is *large*, *medium* or *small* when it meets the lower bound of **every**
indicator listed for its industry group, else it drops a class; below the small bound of any listed
indicator it is *micro*. The industry group comes from the section and, where the rule needs it,
the division (2 digits; 3–4 digits for real estate). When the division is missing, the section's
default group is used (``data/reference/size_groups.csv``) and the caller is told which rows.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from samplekit import reference

_INDICATORS = ("employees", "revenue", "assets")


@cache
def _group_tables() -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Section defaults and (section, code prefix, group) rules, longest prefix first."""
    groups = reference.size_groups()
    defaults = {
        row.section: row.industry_group
        for row in groups.itertuples()
        if row.section_default == "yes"
    }
    prefixes = [
        (row.section, prefix, row.industry_group)
        for row in groups.itertuples()
        for prefix in row.code_prefixes.split()
    ]
    prefixes.sort(key=lambda t: -len(t[1]))
    return defaults, prefixes


def industry_group(section: pd.Series, division: pd.Series | None = None) -> pd.DataFrame:
    """The size-rule industry group of each enterprise.

    Parameters
    ----------
    section : Series of str
        GB/T 4754-2011 section letters A–T.
    division : Series of str, optional
        Division code (2 digits, or 3–4 digits for real estate); missing values allowed.

    Returns
    -------
    DataFrame
        ``industry_group`` and ``used_default`` (True where the division was missing but the
        section's groups depend on it, so the section's default group was used).
    """
    defaults, prefixes = _group_tables()
    sec = section.astype("string")
    if division is None:
        division = pd.Series(pd.NA, index=section.index, dtype="string")
    div = division.astype("string")
    # Longest matching code prefix wins: look up "section:prefix" keys of length 4, 3, then 2.
    by_key = {f"{psec}:{prefix}": pgroup for psec, prefix, pgroup in prefixes}
    group = pd.Series(pd.NA, index=section.index, dtype="object")
    for length in (4, 3, 2):
        keys = sec + ":" + div.str.slice(0, length)
        group = group.fillna(keys.map(by_key))
    group = group.fillna(sec.map(defaults)).astype(object)
    sections_needing_division = sorted({p[0] for p in prefixes})
    used_default = (div.isna() & sec.isin(sections_needing_division)).fillna(False)
    used_default = used_default.to_numpy(dtype=bool)
    return pd.DataFrame({"industry_group": group.to_numpy(), "used_default": used_default},
                        index=section.index)


def size_class(frame: pd.DataFrame, groups: pd.Series | None = None) -> pd.Series:
    """Size class (large / medium / small / micro) by 国统字〔2011〕75号.

    Parameters
    ----------
    frame : DataFrame
        Needs ``section`` and the indicators ``employees``, ``revenue`` (10k yuan) and, for the
        groups that use it (construction, real estate development, leasing and business
        services), ``assets`` (10k yuan). ``division`` is used when present.
    groups : Series, optional
        Precomputed industry groups (from :func:`industry_group`).

    Returns
    -------
    Series of str

    Notes
    -----
    A missing indicator value counts as not meeting its bound (the enterprise is classified
    conservatively); the frame validator reports such rows.

    Examples
    --------
    >>> df = pd.DataFrame({"section": ["C", "C"], "employees": [300, 299],
    ...                    "revenue": [2000.0, 50000.0]})
    >>> size_class(df).tolist()
    ['medium', 'small']
    """
    if groups is None:
        groups = industry_group(frame["section"], frame.get("division"))["industry_group"]
    thresholds = reference.size_thresholds()
    values = {
        ind: pd.to_numeric(frame[ind], errors="coerce").to_numpy(dtype=float)
        if ind in frame else np.full(len(frame), np.nan)
        for ind in _INDICATORS
    }
    g = groups.to_numpy(dtype=object)
    # Start everyone at "large" and demote when any listed indicator misses a bound.
    rank = np.zeros(len(frame), dtype=np.int8)  # 0 large, 1 medium, 2 small, 3 micro
    for group_name, rows in thresholds.groupby("industry_group", sort=False):
        in_group = g == group_name
        if not in_group.any():
            continue
        for row in rows.itertuples():
            v = values[row.indicator][in_group]
            level = np.where(v >= row.large_min, 0,
                             np.where(v >= row.medium_min, 1, np.where(v >= row.small_min, 2, 3)))
            level = np.where(np.isnan(v), 3, level)
            rank[in_group] = np.maximum(rank[in_group], level)
    return pd.Series(np.asarray(reference.SIZE_CLASSES, dtype=object)[rank], index=frame.index,
                     name="size_class")


def ownership(registration_type: pd.Series) -> pd.Series:
    """Ownership group from the registration type code (see ``registration_types.csv``).

    state = 110 国有企业 and 151 国有独资公司; collective = 120, 130; private and other domestic
    = 140, 150, 159, 160, 170, 190; hmt = 2xx (Hong Kong/Macao/Taiwan-invested); foreign = 3xx.
    Unknown codes give NA (the validator reports them).
    """
    return registration_type.astype("string").map(reference.ownership_of_code()).rename(
        "ownership")


def sector(section: pd.Series, division: pd.Series | None = None) -> pd.Series:
    """Primary / secondary / tertiary by the 2012 三次产业划分规定.

    Divisions 05 (agricultural services), 11 (mining support) and 43 (repair of metal products
    and machinery) count as tertiary although their sections do not.
    """
    secs = reference.sections()
    base = section.astype(str).map(dict(zip(secs["section"], secs["sector_2012"], strict=True)))
    exceptions = {d for cell in secs["tertiary_divisions"] for d in cell.split() if d}
    if division is not None:
        div2 = division.astype("string").str.slice(0, 2)
        base = base.where(~div2.isin(list(exceptions)).fillna(False).astype(bool), "tertiary")
    return base.rename("sector")


def classify(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Add ``sector``, ``size_class`` and ``ownership`` columns.

    Returns
    -------
    (DataFrame, Series)
        The frame with the new columns, and a boolean Series marking rows whose size class used
        the section's default group because the division was missing.
    """
    groups = industry_group(frame["section"], frame.get("division"))
    out = frame.copy()
    out["sector"] = sector(frame["section"], frame.get("division"))
    out["size_class"] = size_class(frame, groups["industry_group"])
    out["ownership"] = ownership(frame["registration_type"])
    return out, groups["used_default"]
