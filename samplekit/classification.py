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


def map_unique(values: pd.Series, func) -> np.ndarray:
    """Apply ``func`` to each distinct value only (registers have millions of rows, few codes).

    Missing values are passed to ``func`` as ``None``.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = [func(None)] + [func(u) for u in uniques]
    out = np.empty(len(mapped), dtype=object)
    out[:] = mapped
    return out[codes + 1]


def map_pairs(first: pd.Series, second: pd.Series, func) -> tuple[list, np.ndarray]:
    """Apply ``func(a, b)`` to each distinct pair of values only (``None`` for missing).

    Returns the list of results for the distinct pairs and, per row, the index into that list.
    """
    a_codes, a_uniques = pd.factorize(first, use_na_sentinel=True)
    b_codes, b_uniques = pd.factorize(second, use_na_sentinel=True)
    width = len(b_uniques) + 1
    pair = (a_codes.astype(np.int64) + 1) * width + (b_codes + 1)
    inverse, pair_uniques = pd.factorize(pair)  # hashing beats sorting for millions of rows
    results = []
    for p in pair_uniques.tolist():
        i, j = divmod(p, width)
        results.append(func(a_uniques[i - 1] if i else None, b_uniques[j - 1] if j else None))
    return results, inverse.reshape(-1)


def _take(results: list, inverse: np.ndarray, dtype=object) -> np.ndarray:
    values = np.empty(len(results), dtype=dtype)
    values[:] = results
    return values[inverse]


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
    if division is None:
        division = pd.Series(pd.NA, index=section.index, dtype="object")
    by_prefix = sorted(prefixes, key=lambda t: -len(t[1]))
    needs_division = {p[0] for p in prefixes}

    def lookup(sec, div):
        sec, div = ("" if sec is None else str(sec)), ("" if div is None else str(div))
        match = next(
            (g for ps, prefix, g in by_prefix if ps == sec and div and div.startswith(prefix)), None
        )
        return (
            match if match is not None else defaults.get(sec),
            div == "" and sec in needs_division,
        )

    # Only the distinct (section, division) pairs are looked up: millions of rows, few pairs.
    results, inverse = map_pairs(section, division, lookup)
    group = _take([r[0] for r in results], inverse)
    used_default = _take([r[1] for r in results], inverse, dtype=bool)
    return pd.DataFrame(
        {"industry_group": group, "used_default": used_default}, index=section.index
    )


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
        if ind in frame
        else np.full(len(frame), np.nan)
        for ind in _INDICATORS
    }
    codes, names = pd.factorize(groups)
    rank = np.full(len(frame), 3, dtype=np.int8)  # 0 large, 1 medium, 2 small, 3 micro
    for code, name in enumerate(names):
        rows = thresholds[thresholds["industry_group"] == name]
        if rows.empty:
            continue
        idx = np.flatnonzero(codes == code)
        # Start at "large" and demote when any listed indicator misses a bound; NaN meets none.
        level = np.zeros(len(idx), dtype=np.int8)
        for row in rows.itertuples():
            v = values[row.indicator][idx]
            missed = (
                (~(v >= row.large_min)).astype(np.int8)
                + (~(v >= row.medium_min))
                + (~(v >= row.small_min))
            )
            level = np.maximum(level, missed)
        rank[idx] = level
    return pd.Series(
        np.asarray(reference.SIZE_CLASSES, dtype=object)[rank], index=frame.index, name="size_class"
    )


def ownership(registration_type: pd.Series) -> pd.Series:
    """Ownership group from the registration type code (see ``registration_types.csv``).

    state = 110 国有企业 and 151 国有独资公司; collective = 120, 130; private and other domestic
    = 140, 150, 159, 160, 170, 190; hmt = 2xx (Hong Kong/Macao/Taiwan-invested); foreign = 3xx.
    Unknown codes give NA (the validator reports them).
    """
    table = reference.ownership_of_code()
    return pd.Series(
        map_unique(registration_type, lambda c: table.get(str(c), pd.NA)),
        index=registration_type.index,
        name="ownership",
    )


def sector(section: pd.Series, division: pd.Series | None = None) -> pd.Series:
    """Primary / secondary / tertiary by the 2012 三次产业划分规定.

    Divisions 05 (agricultural services), 11 (mining support) and 43 (repair of metal products
    and machinery) count as tertiary although their sections do not.
    """
    secs = reference.sections()
    of_section = dict(zip(secs["section"], secs["sector_2012"], strict=True))
    exceptions = {d for cell in secs["tertiary_divisions"] for d in cell.split() if d}

    def lookup(sec, div):
        if div is not None and str(div)[:2] in exceptions:
            return "tertiary"
        return of_section.get(str(sec), pd.NA)

    if division is None:
        division = pd.Series(pd.NA, index=section.index, dtype="object")
    base = pd.Series(_take(*map_pairs(section, division, lookup)), index=section.index)
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
    out = frame.copy(deep=False)  # copy-on-write: the new columns do not touch the input
    out["sector"] = sector(frame["section"], frame.get("division"))
    out["size_class"] = size_class(frame, groups["industry_group"])
    out["ownership"] = ownership(frame["registration_type"])
    return out, groups["used_default"]
