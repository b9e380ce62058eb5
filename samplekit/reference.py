"""The committed classification tables (``data/reference/``), loaded once and cached.

Sources are cited in ``data/reference/SOURCES.md`` and ``docs/data_log.md``.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from samplekit.paths import reference_dir

SIZE_CLASSES: tuple[str, ...] = ("large", "medium", "small", "micro")
SIZE_CLASSES_ZH: dict[str, str] = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}

OWNERSHIP_GROUPS: tuple[str, ...] = ("state", "collective", "private", "hmt", "foreign")
OWNERSHIP_ZH: dict[str, str] = {
    "state": "国有",
    "collective": "集体",
    "private": "私营及其他内资",
    "hmt": "港澳台商投资",
    "foreign": "外商投资",
}

STATUSES: tuple[str, ...] = ("active", "closed", "suspended", "moved")
STATUS_ZH: dict[str, str] = {"active": "正常", "closed": "关闭", "suspended": "停业", "moved": "迁出"}

SECTORS_ZH: dict[str, str] = {"primary": "第一产业", "secondary": "第二产业", "tertiary": "第三产业"}


def _read(name: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(reference_dir() / name, dtype=str, keep_default_na=False, **kwargs)


@cache
def sections() -> pd.DataFrame:
    """GB/T 4754-2011 sections: section, name, sector_2012, first/last division."""
    df = _read("gbt4754_2011_sections.csv")
    div = _read("gbt4754_2011_divisions.csv")
    return df.merge(div, on="section", how="left", validate="1:1")


@cache
def section_names() -> dict[str, str]:
    """Section letter -> Chinese name."""
    return dict(zip(sections()["section"], sections()["name"], strict=True))


@cache
def registration_types() -> pd.DataFrame:
    """Registration types of 国统字〔1998〕200号 (the 16 types and their subtypes 141–149,
    151/159, 171–174, each with its ``parent``) and the ownership group."""
    return _read("registration_types.csv")


@cache
def market_regulation_types() -> pd.DataFrame:
    """Four-digit enterprise-type codes of market-regulation registers and the registration type
    each maps to (empty where the code does not decide one); source in ``SOURCES.md``."""
    return _read("market_regulation_enterprise_types.csv")


@cache
def registration_type_lookup() -> dict[str, str]:
    """Every accepted spelling of a registration type -> its three-digit code.

    Codes themselves, the Chinese names (compared after :func:`samplekit.names.normalize_name`,
    so full-width brackets and spaces do not matter) and the four-digit market-regulation codes
    that map to one type. Four-digit codes that do not decide a type are absent (see
    :func:`market_regulation_types`).
    """
    from samplekit.names import normalize_name

    rt = registration_types()
    out = {c: c for c in rt["code"]}
    for code, name in zip(rt["code"], rt["name"], strict=True):
        out[normalize_name(name)] = code
    mr = market_regulation_types()
    for code, target in zip(mr["code"], mr["registration_type"], strict=True):
        if target:
            out[code] = target
    return out


@cache
def ownership_of_code() -> dict[str, str]:
    """Registration type code -> ownership group."""
    rt = registration_types()
    return dict(zip(rt["code"], rt["ownership"], strict=True))


@cache
def size_thresholds() -> pd.DataFrame:
    """Lower bounds per industry group and indicator (国统字〔2011〕75号)."""
    df = _read("enterprise_size_thresholds_2011.csv")
    for col in ("large_min", "medium_min", "small_min"):
        df[col] = df[col].astype(float)
    return df


@cache
def size_groups() -> pd.DataFrame:
    """Which industry group each section / division prefix belongs to, with section defaults."""
    return _read("size_groups.csv")


@cache
def reduction_types() -> pd.DataFrame:
    """The five reduction types of the monthly form: code, name_zh, name_en."""
    df = _read("reduction_codes.csv")
    return df[df["kind"] == "reduction_type"].drop(columns="kind").reset_index(drop=True)


@cache
def reason_codes() -> pd.DataFrame:
    """The eleven main-reason codes (1–11) of the monthly form."""
    df = _read("reduction_codes.csv")
    df = df[df["kind"] == "reason"].drop(columns="kind").reset_index(drop=True)
    df["code"] = df["code"].astype(int)
    return df
