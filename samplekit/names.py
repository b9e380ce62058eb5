"""Enterprise names as cities write them: normalisation and matching to the panel.

The ministry's 附表一 identifies an enterprise by its 单位名称 only. A name is matched to the
panel member of the same city whose *normalised* name is identical — never to a "close" one:
an unmatched or ambiguous name is reported with the closest panel names as suggestions, and the
city can send back a mapping (name → 统一社会信用代码) that is applied first.

Normalisation (:func:`normalize_name`): Unicode NFKC (full-width letters, digits, brackets and
spaces become half-width), every kind of bracket becomes ``()``, spaces and the middle dot are
removed, Latin letters are upper-cased, and the legal-form suffixes that cities write in several
ways are reduced to one spelling (``有限责任公司`` → ``有限公司``, ``股份有限公司`` kept apart from
``有限公司``). Nothing else is changed: two firms whose names differ by one character stay two
firms.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

# Spellings of the same legal form; applied in order after NFKC and bracket folding.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("股份有限责任公司", "股份有限公司"),
    ("有限责任公司", "有限公司"),
    ("(有限公司)", "有限公司"),
)
_BRACKETS = str.maketrans(
    {
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "【": "(",
        "】": ")",
        "〔": "(",
        "〕": ")",
        "［": "(",
        "］": ")",
        "<": "(",
        ">": ")",
        "《": "(",
        "》": ")",
        "〈": "(",
        "〉": ")",
    }
)
_DROP = re.compile(r"[\s\u00b7\u30fb\u2022\"'“”‘’]+")


def normalize_name(name: object) -> str:
    """The comparison key of an enterprise name ("" for a missing name).

    Examples
    --------
    >>> normalize_name("广州市ＡＢＣ电子（集团）有限责任公司 ")
    '广州市ABC电子(集团)有限公司'
    """
    if name is None or (isinstance(name, float) and name != name) or name is pd.NA:
        return ""
    s = unicodedata.normalize("NFKC", str(name)).translate(_BRACKETS)
    s = _DROP.sub("", s).upper()
    for old, new in _SUFFIXES:
        s = s.replace(old, new)
    return s


@dataclass(frozen=True)
class NameMatch:
    """Result of matching report rows to panel members by name.

    Attributes
    ----------
    enterprise_id : Series
        The matched id per row (``<NA>`` when unmatched or ambiguous).
    status : Series
        ``id`` (the row already had an id), ``mapping`` (the city's mapping), ``name`` (unique
        normalised name in the city), ``unmatched``, ``ambiguous`` or ``missing`` (no name).
    suggestions : Series
        For unmatched and ambiguous rows: up to three panel names (with their ids), closest first.
    """

    enterprise_id: pd.Series
    status: pd.Series
    suggestions: pd.Series


def match_names(
    names: pd.Series,
    *,
    panel: pd.DataFrame,
    city: pd.Series | str | None = None,
    mapping: Mapping[str, str] | None = None,
    ids: pd.Series | None = None,
    suggestions: int = 3,
) -> NameMatch:
    """Match report rows to panel members by normalised name, never guessing.

    Parameters
    ----------
    names : Series of str
        单位名称 as written in the report.
    panel : DataFrame
        The panel members in force: ``enterprise_id, name, city``.
    city : Series or str, optional
        The city of each row (or of the whole file). When given, only that city's members are
        candidates; when missing, the whole panel is (a name found in two cities is ambiguous).
    mapping : mapping of str to str, optional
        A city's own answer: name (as written, compared normalised) → enterprise_id. Applied
        before the panel names; an id not in the panel is left for the membership rule.
    ids : Series, optional
        Ids already given in the file; rows with an id keep it (status ``id``).
    suggestions : int
        How many close names to suggest for an unmatched or ambiguous row.

    Returns
    -------
    NameMatch

    Examples
    --------
    >>> panel = pd.DataFrame({"enterprise_id": ["A1", "B2"], "city": ["广州", "广州"],
    ...                       "name": ["广州甲有限责任公司", "广州乙股份有限公司"]})
    >>> m = match_names(pd.Series(["广州甲有限公司", "广州丙有限公司"]), panel=panel, city="广州")
    >>> m.enterprise_id.tolist(), m.status.tolist()
    (['A1', <NA>], ['name', 'unmatched'])
    """
    n = len(names)
    names = names.reset_index(drop=True)
    keys = names.map(normalize_name)
    if city is None or isinstance(city, str):
        cities = pd.Series([city] * n, dtype=object)
    else:
        cities = city.reset_index(drop=True).astype(object)
    p = panel[["enterprise_id", "name", "city"]].copy()
    p["enterprise_id"] = p["enterprise_id"].astype(str).str.strip()
    p["_key"] = p["name"].map(normalize_name)
    by_city_key: dict[tuple[str, str], list[str]] = {}
    by_key: dict[str, list[str]] = {}
    for eid, key, c in zip(p["enterprise_id"], p["_key"], p["city"].astype(str), strict=True):
        if key:
            by_city_key.setdefault((c, key), []).append(eid)
            by_key.setdefault(key, []).append(eid)
    norm_map = {normalize_name(k): str(v).strip() for k, v in (mapping or {}).items()}
    label = dict(zip(p["enterprise_id"], p["name"].astype(str), strict=True))
    keys_of_city: dict[str | None, list[tuple[str, str]]] = {}

    out_id: list[object] = [pd.NA] * n
    status: list[str] = [""] * n
    hint: list[str] = [""] * n
    given = ids.reset_index(drop=True) if ids is not None else pd.Series([pd.NA] * n)
    for i in range(n):
        gid = given.iloc[i]
        if gid is not None and not pd.isna(gid) and str(gid).strip():
            out_id[i], status[i] = str(gid).strip(), "id"
            continue
        key = keys.iloc[i]
        if not key:
            status[i] = "missing"
            continue
        if key in norm_map:
            out_id[i], status[i] = norm_map[key], "mapping"
            continue
        c = cities.iloc[i]
        c = None if c is None or pd.isna(c) or not str(c).strip() else str(c).strip()
        found = by_city_key.get((c, key), []) if c is not None else by_key.get(key, [])
        if len(found) == 1:
            out_id[i], status[i] = found[0], "name"
            continue
        status[i] = "ambiguous" if found else "unmatched"
        if c not in keys_of_city:
            pool = p if c is None else p[p["city"].astype(str) == c]
            keys_of_city[c] = list(zip(pool["_key"], pool["enterprise_id"], strict=True))
        pool_keys = keys_of_city[c]
        if found:
            close = found[:suggestions]
        else:
            ranked = difflib.get_close_matches(
                key, [k for k, _ in pool_keys], n=suggestions, cutoff=0.5
            )
            close = [e for k in ranked for kk, e in pool_keys if kk == k][:suggestions]
        hint[i] = ";".join(f"{label[e]}({e})" for e in close)
    return NameMatch(
        pd.Series(out_id, dtype=object),
        pd.Series(status, dtype=object),
        pd.Series(hint, dtype=object),
    )


def read_name_mapping(frame: pd.DataFrame, *, file: str = "<mapping>") -> dict[str, str]:
    """A city's mapping file (``单位名称, 统一社会信用代码``, or ``name, enterprise_id``) as a dict.

    Raises
    ------
    InputError
        When a column is missing or one name maps to two ids.
    """
    from samplekit.errors import InputError

    cols = {str(c).strip(): c for c in frame.columns}
    name_col = next((cols[c] for c in ("name", "单位名称", "企业名称") if c in cols), None)
    id_col = next(
        (
            cols[c]
            for c in ("enterprise_id", "统一社会信用代码", "企业代码", "组织机构代码")
            if c in cols
        ),
        None,
    )
    if name_col is None or id_col is None:
        raise InputError(
            f"{file}: 名称对照表需要“单位名称”和“统一社会信用代码”两列;"
            f"现有列:{', '.join(map(str, frame.columns))}"
        )
    out: dict[str, str] = {}
    for i, (nm, eid) in enumerate(zip(frame[name_col], frame[id_col], strict=True), start=2):
        key = normalize_name(nm)
        if not key or eid is None or pd.isna(eid) or not str(eid).strip():
            continue
        if key in out and out[key] != str(eid).strip():
            raise InputError(
                f"{file}: 第{i}行 单位名称“{nm}”对应两个代码"
                f"({out[key]} 与 {str(eid).strip()});请只保留一个"
            )
        out[key] = str(eid).strip()
    return out


def cities_in_text(text: str, cities: Iterable[str]) -> list[str]:
    """Panel cities named in a text (a form's title or 填报单位 line), longest names first."""
    found = []
    for c in sorted({str(c) for c in cities if str(c)}, key=len, reverse=True):
        if c in text and not any(c in f for f in found):
            found.append(c)
    return found
