"""Sample allocation: city totals, the joint integer allocation over cells, rules, the nested
monthly subsample, and a diagnosis when the rules cannot all hold.

The steps (see ``docs/allocation.md`` for the formulas and assumptions):

1. **City totals** — score = w · employment share + (1 − w) · GDP share, times an optional tilt;
   floors = max(existing panel, minimum by population class); caps = what the city's eligible
   cells can hold; integer totals adding up to N by :func:`samplekit.apportion.apportion`.
2. **Secondary / tertiary split** per city by the same kind of score on the city's sector
   employment and GDP (existing primary-sector members keep their places on top).
3. **One joint MILP** (``scipy.optimize.milp``, HiGHS) over the cells city × section ×
   size_class × ownership for the whole sample ``n`` and the nested monthly subsample ``m``:
   minimise the weighted L1 deviation from proportional targets, subject to the sector totals,
   the monthly city totals, every rule of params, ``existing <= n <= frame_units`` and
   ``m <= n``, with a penalty for monthly places not taken by units already in the monthly
   network.
4. **Diagnosis** — when the MILP is infeasible, the same model with one non-negative slack per
   rule row (and per kept existing member, per sector total) is solved minimising total slack;
   the non-zero slacks are the smallest relaxation, reported with numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit import reference
from samplekit.allocation_model import (
    PROVINCE,
    SCOPE_ZH,
    _build_model,
    _diagnosis_message,
    _rule_groups,
    city_index,
    diagnose,
    rule_bounds,
    solve_model,
)
from samplekit.apportion import METHODS, METHODS_ZH, Method, apportion
from samplekit.errors import InfeasibleError, InputError, ParamsError
from samplekit.io import round_floats
from samplekit.params import Params

CELL_KEYS: list[str] = ["city", "section", "size_class", "ownership"]
RULE_KINDS: tuple[str, ...] = ("max_share", "min_share", "exclude", "min_count", "max_count")
RULE_SCOPES: tuple[str, ...] = ("sample", "monthly")
RULE_PER: tuple[str, ...] = ("province", "city")
RULE_WHERE_KEYS: tuple[str, ...] = ("section", "size_class", "ownership", "sector")
TARGET_BASES: tuple[str, ...] = ("employment", "units")
PANEL_TARGETS: tuple[str, ...] = ("on_top", "shared")

#: Chinese headers for the output tables.
HEADERS_ZH: dict[str, str] = {
    "city": "城市",
    "population": "常住人口(万人)",
    "employment_share": "从业人员占比",
    "gdp_share": "GDP占比",
    "tilt": "倾斜系数",
    "score": "分配得分",
    "existing": "现有监测企业",
    "existing_monthly": "现有月度监测企业",
    "floor": "最低样本数",
    "cap": "样本上限",
    "target": "按得分应分数",
    "allocated": "分配样本数",
    "primary": "第一产业(保留)",
    "secondary": "第二产业",
    "tertiary": "第三产业",
    "monitored": "是否月度监测城市",
    "monthly_floor": "月度最低样本数",
    "monthly_subsample": "月度监测子样本",
    "frame_units": "名录企业数(正常经营)",
    "frame_employment": "名录从业人数",
    "section": "行业门类",
    "section_name": "行业名称",
    "sector": "三次产业",
    "size_class": "企业规模",
    "ownership": "所有制类型",
    "allowed": "纳入抽样行业",
    "target_n": "比例目标",
    "n": "样本数",
    "target_monthly": "月度比例目标",
    "n_monthly": "月度样本数",
    "rule": "规则",
    "label": "规则说明",
    "source": "依据",
    "kind": "规则类型",
    "scope": "适用范围",
    "per": "层级",
    "value": "规定值",
    "required": "要求(家)",
    "achieved": "实际(家)",
    "binding": "是否约束生效",
    "base": "基数(家)",
    "achievable": "可达到(家)",
    "slack": "需放宽(家)",
    "message": "说明",
    "note": "依据说明",
    "source_document": "依据文件",
    "cities": "适用城市",
    "employees": "从业人数区间",
    "where": "条件",
    "employees_band": "从业人数区间",
    "given_total": "给定任务数",
    "formula_total": "公式分配数",
    "fitted_target": "拟合权数应分数",
    "difference": "公式减给定",
    "relative_difference": "相对差异",
    "given_secondary": "给定第二产业",
    "given_tertiary": "给定第三产业",
    "formula_secondary": "公式第二产业",
    "formula_tertiary": "公式第三产业",
    "secondary_difference": "第二产业公式减给定",
    "parameter": "参数",
    "params_value": "参数文件取值",
    "fitted": "拟合值",
    "rmse_params": "均方根误差(参数值)",
    "rmse_fitted": "均方根误差(拟合值)",
    "mean_abs_params": "平均绝对差(参数值)",
    "mean_abs_fitted": "平均绝对差(拟合值)",
    "mean_abs_formula": "平均绝对差(公式分配数)",
}

KIND_ZH: dict[str, str] = {
    "max_share": "占比上限",
    "min_share": "占比下限",
    "exclude": "排除",
    "min_count": "数量下限",
    "max_count": "数量上限",
}


#: Where a rule's number comes from (params ``source``). Every rule names one; ``assumption``
#: and ``document`` need a one-line ``note`` (the reason, or the document's number and title).
RULE_SOURCES: dict[str, str] = {
    "province_plan_2013": "广东省人社厅《全省企业用工定点监测扩面组织实施方案》(2013-06-27)",
    "mohrss_2011_308": "人社部函〔2011〕308号《关于进一步做好失业动态监测工作有关问题的通知》",
    "mohrss_2009_152": "人社部发〔2009〕152号《关于做好失业动态监测工作有关问题的通知》及附件2"
    "《关于开展失业动态监测工作的实施方案》",
    "document": "其他文件(见说明)",
    "assumption": "假设(无文件规定此数值,理由见说明)",
}
#: Sources that need a ``note``.
NOTE_REQUIRED: tuple[str, ...] = ("assumption", "document")
#: Source of the structural rows (city totals given in a file).
GIVEN_SOURCE = "city_totals"

BAND_KEY = "employees_band"
PER_ZH: dict[str, str] = {"province": "全省", "city": "各市"}


# ---------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Rule:
    """One rule of the rule set (data, from params).

    ``where`` maps a cell attribute (section, size_class, ownership, sector) to the values it
    constrains; ``employees`` restricts it to enterprises with ``lo <= employees <= hi``
    (an employee band, e.g. 50–300; ``hi`` may be infinite); ``cities`` restricts it to the
    named cities (key-industry emphasis); ``per`` says whether the rule holds province-wide
    (over the named cities, when given) or in each (named) city. ``source`` is a key of
    :data:`RULE_SOURCES`; ``note`` says why (required for ``assumption`` and ``document``).
    """

    name: str
    kind: Literal["max_share", "min_share", "exclude", "min_count", "max_count"]
    where: tuple[tuple[str, tuple[str, ...]], ...]
    scope: Literal["sample", "monthly"] = "sample"
    per: Literal["province", "city"] = "province"
    value: float = 0.0
    source: str = ""
    label: str = ""
    employees: tuple[float, float] | None = None
    cities: tuple[str, ...] = ()
    note: str = ""

    def describe(self) -> str:
        """A Chinese description, e.g. ``制造业(C)占比 ≤ 40%``."""
        if self.label:
            return self.label
        parts = [_describe_where(k, v) for k, v in self.where]
        if self.employees is not None:
            lo, hi = self.employees
            parts.append(
                f"从业人数 {lo:g}–{hi:g} 人企业"
                if math.isfinite(hi)
                else f"从业人数 ≥ {lo:g} 人企业"
            )
        what = "、".join(parts)  # the cities are the rule's groups (rules report, diagnosis)
        if self.kind == "max_share":
            return f"{what}占比 ≤ {self.value:.0%}"
        if self.kind == "min_share":
            return f"{what}占比 ≥ {self.value:.0%}"
        if self.kind == "exclude":
            return f"排除{what}"
        if self.kind == "min_count":
            return f"{what} ≥ {self.value:g} 家"
        return f"{what} ≤ {self.value:g} 家"

    def mask(self, cells: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the cells the rule counts (the named cities only, when given).

        An employee range needs the band columns of :func:`frame_cells` (``band_lo``,
        ``band_hi``): a band is counted when it lies inside the range (the bands are cut at
        every range's ends, so a band never straddles one).
        """
        out = np.ones(len(cells), dtype=bool)
        for key, values in self.where:
            out &= cells[key].isin(values).to_numpy()
        if self.employees is not None:
            if "band_lo" not in cells.columns:
                raise InputError(
                    f"rule '{self.name}': the cells carry no employee bands; "
                    "build them with frame_cells(frame, bands=employee_bands(rules))"
                )
            lo, hi = self.employees
            out &= (cells["band_lo"].to_numpy() >= lo) & (cells["band_hi"].to_numpy() <= hi)
        if self.cities:
            out &= cells["city"].isin(self.cities).to_numpy()
        return out


def employee_bands(rules: tuple[Rule, ...] | list[Rule]) -> tuple[float, ...]:
    """The cut points of the employee bands the rules need (sorted; empty: no band rule).

    A range ``[lo, hi]`` of whole persons cuts at ``lo`` and ``hi + 1``; band *k* holds the
    enterprises with ``cut[k-1] <= employees < cut[k]``.

    Examples
    --------
    >>> employee_bands([Rule("b", "min_share", (), employees=(50.0, 300.0), value=0.3)])
    (50.0, 301.0)
    """
    cuts: set[float] = set()
    for r in rules:
        if r.employees is not None:
            lo, hi = r.employees
            if lo > 0:
                cuts.add(float(lo))
            if math.isfinite(hi):
                cuts.add(float(hi) + 1.0)
    return tuple(sorted(cuts))


def _describe_where(key: str, values: tuple[str, ...]) -> str:
    if key == "section":
        names = reference.section_names()
        return "+".join(f"{names.get(v, v)}({v})" for v in values)
    if key == "size_class":
        return "+".join(reference.SIZE_CLASSES_ZH.get(v, v) for v in values) + "企业"
    if key == "ownership":
        return "+".join(reference.OWNERSHIP_ZH.get(v, v) for v in values) + "企业"
    return "+".join(reference.SECTORS_ZH.get(v, v) for v in values)


@dataclass(frozen=True)
class Floors:
    """Minimum sample per city: a municipality minimum and minimums by population class.

    ``by_population`` holds ``(min_population, minimum)`` pairs (population in 10k persons,
    inclusive lower bound), the first class whose bound the city reaches applies.
    """

    municipality: int = 300
    by_population: tuple[tuple[float, int], ...] = ((100.0, 60), (50.0, 45), (0.0, 30))
    source: str = "mohrss_2011_308"
    note: str = ""

    def minimum(self, population: float, municipality: bool) -> int:
        if municipality:
            return self.municipality
        for bound, minimum in sorted(self.by_population, reverse=True):
            if population >= bound:
                return minimum
        return 0


@dataclass(frozen=True)
class AllocationSettings:
    """Everything the allocation needs besides the inputs (read from ``allocation:`` params)."""

    total: int = 10000
    method: Method = "largest_remainder"
    employment_weight: float = 0.5
    tilt: Mapping[str, float] = field(default_factory=dict)
    floors: Floors = field(default_factory=Floors)
    cap_to_frame: bool = True
    sector_employment_weight: float = 0.5
    top_sections: int = 10
    pillar_sections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    target_basis: Literal["employment", "units"] = "employment"
    panel_targets: Literal["on_top", "shared"] = "on_top"
    min_fresh: int = 2
    rules: tuple[Rule, ...] = ()
    monthly_total: int = 1000
    monthly_cities: tuple[str, ...] | None = None
    monthly_floors: Floors = field(default_factory=Floors)
    keep_existing_monthly: bool = True
    prefer_existing_monthly: float = 3.0
    mip_gap: float = 1e-4
    time_limit: float = 60.0
    precision: Mapping[str, Any] = field(default_factory=dict)
    city_totals: str | None = None
    compare_with: str | None = None
    given_primary: Literal["secondary", "tertiary"] = "tertiary"

    @classmethod
    def from_params(cls, params: Params) -> AllocationSettings:
        """Read and validate the ``allocation:`` section; errors name the file and key."""
        return _settings_from_params(params)


_ALLOWED_KEYS = {
    "total",
    "method",
    "employment_weight",
    "tilt",
    "floors",
    "cap_to_frame",
    "sector_employment_weight",
    "sections",
    "target_basis",
    "panel_targets",
    "min_fresh",
    "rules",
    "monthly",
    "precision",
    "solver",
    "city_totals",
    "compare_with",
    "given_primary",
}


def _floors_from(params: Params, key: str, default: Floors) -> Floors:
    node = params.get(key, None)
    if node is None:
        return default
    if not isinstance(node, Mapping):
        raise ParamsError(f"{params.path}: key '{key}' must be a mapping, found {node!r}")
    unknown = set(node) - {"municipality", "by_population", "source", "note"}
    if unknown:
        raise ParamsError(
            f"{params.path}: unknown key(s) {sorted(unknown)} in '{key}'; allowed: "
            "municipality, by_population, source, note"
        )
    source, note = _source_from(params, key, node, default.source)
    municipality = int(params.number(f"{key}.municipality", default.municipality, low=0))
    classes = params.get(f"{key}.by_population", None, types=list)
    if classes is None:
        pairs = default.by_population
    else:
        pairs_list = []
        for i, item in enumerate(classes):
            where = f"{key}.by_population[{i}]"
            if not (isinstance(item, Mapping) and set(item) == {"min_population", "minimum"}):
                raise ParamsError(
                    f"{params.path}: '{where}' must be a mapping with keys "
                    f"min_population and minimum, found {item!r}"
                )
            bound, minimum = item["min_population"], item["minimum"]
            if (
                not isinstance(bound, (int, float))
                or isinstance(bound, bool)
                or bound < 0
                or not isinstance(minimum, int)
                or isinstance(minimum, bool)
                or minimum < 0
            ):
                raise ParamsError(
                    f"{params.path}: '{where}' needs a non-negative number "
                    f"min_population and a non-negative integer minimum, found "
                    f"{item!r}"
                )
            pairs_list.append((float(bound), int(minimum)))
        pairs = tuple(pairs_list)
    return Floors(municipality=municipality, by_population=pairs, source=source, note=note)


def _source_from(
    params: Params, where_key: str, item: Mapping[str, Any], default: str | None
) -> tuple[str, str]:
    """``source`` (a key of RULE_SOURCES) and ``note`` of a rule or floors mapping."""
    source = item.get("source", default)
    allowed = ", ".join(RULE_SOURCES)
    if source is None:
        raise ParamsError(
            f"{params.path}: '{where_key}.source' is missing; say where the number "
            f"comes from: one of {allowed} (see docs/allocation.md)"
        )
    if source not in RULE_SOURCES:
        hint = (
            " ('province' and 'ministry' are too vague: name the document)"
            if source in ("province", "ministry")
            else ""
        )
        raise ParamsError(
            f"{params.path}: '{where_key}.source' = {source!r} is not one of {allowed}{hint}"
        )
    note = item.get("note", "")
    if not isinstance(note, str):
        raise ParamsError(
            f"{params.path}: '{where_key}.note' must be a one-line text, found {note!r}"
        )
    if source in NOTE_REQUIRED and not note.strip():
        raise ParamsError(
            f"{params.path}: '{where_key}.source' = {source} needs a one-line "
            "'note' (why this value, or which document)"
        )
    if "\n" in note.strip():
        raise ParamsError(f"{params.path}: '{where_key}.note' must be one line")
    return str(source), note.strip()


def _rule_from(params: Params, i: int, item: Any) -> Rule:
    where_key = f"allocation.rules[{i}]"
    if not isinstance(item, Mapping):
        raise ParamsError(f"{params.path}: '{where_key}' must be a mapping, found {item!r}")
    allowed = {
        "name",
        "kind",
        "where",
        "scope",
        "per",
        "value",
        "source",
        "label",
        "cities",
        "note",
    }
    unknown = set(item) - allowed
    if unknown:
        raise ParamsError(
            f"{params.path}: unknown key(s) {sorted(unknown)} in '{where_key}'; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ParamsError(f"{params.path}: '{where_key}.name' must be a non-empty string")
    where_key = f"allocation.rules[{i}] ({name})"
    kind = item.get("kind")
    if kind not in RULE_KINDS:
        raise ParamsError(
            f"{params.path}: '{where_key}.kind' = {kind!r} is not one of {', '.join(RULE_KINDS)}"
        )
    scope = item.get("scope", "sample")
    if scope not in RULE_SCOPES:
        raise ParamsError(
            f"{params.path}: '{where_key}.scope' = {scope!r} is not one of {', '.join(RULE_SCOPES)}"
        )
    per = item.get("per", "province")
    if per not in RULE_PER:
        raise ParamsError(
            f"{params.path}: '{where_key}.per' = {per!r} is not one of {', '.join(RULE_PER)}"
        )
    where = item.get("where")
    keys = ", ".join((*RULE_WHERE_KEYS, "employees"))
    if not isinstance(where, Mapping) or not where:
        raise ParamsError(
            f"{params.path}: '{where_key}.where' must map one of {keys} to a list "
            f"of values, found {where!r}"
        )
    valid = {
        "section": set(reference.section_names()),
        "size_class": set(reference.SIZE_CLASSES),
        "ownership": set(reference.OWNERSHIP_GROUPS),
        "sector": set(reference.SECTORS_ZH),
    }
    where_items = []
    employees: tuple[float, float] | None = None
    for key in sorted(where):
        if key == "employees":
            employees = _employee_range(params, f"{where_key}.where.employees", where[key])
            continue
        if key not in valid:
            raise ParamsError(f"{params.path}: '{where_key}.where' has key {key!r}; use {keys}")
        values = where[key]
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not values:
            raise ParamsError(
                f"{params.path}: '{where_key}.where.{key}' must be a list, found {values!r}"
            )
        bad = [v for v in values if v not in valid[key]]
        if bad:
            raise ParamsError(
                f"{params.path}: '{where_key}.where.{key}' has {bad!r}; expected "
                f"values from {', '.join(sorted(valid[key]))}"
            )
        where_items.append((key, tuple(values)))
    cities = item.get("cities", [])
    cities = [cities] if isinstance(cities, str) else cities
    if (
        not isinstance(cities, list)
        or any(not isinstance(c, str) or not c.strip() for c in cities)
        or ("cities" in item and not cities)
    ):
        raise ParamsError(
            f"{params.path}: '{where_key}.cities' must be a non-empty list of city "
            f"names (e.g. [深圳, 东莞]), found {item.get('cities')!r}"
        )
    if len(set(cities)) != len(cities):
        raise ParamsError(f"{params.path}: '{where_key}.cities' names a city twice: {cities!r}")
    value = item.get("value", 0 if kind == "exclude" else None)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ParamsError(
            f"{params.path}: '{where_key}.value' must be a non-negative number, found {value!r}"
        )
    if kind in ("max_share", "min_share") and value > 1:
        raise ParamsError(
            f"{params.path}: '{where_key}.value' = {value} is a share and must "
            "be in [0, 1] (write 0.4 for 40%)"
        )
    source, note = _source_from(params, where_key, item, None)
    label = item.get("label", "")
    return Rule(
        name=name,
        kind=kind,
        where=tuple(where_items),
        scope=scope,
        per=per,
        value=float(value),
        source=source,
        label=str(label),
        employees=employees,
        cities=tuple(c.strip() for c in cities),
        note=note,
    )


def _employee_range(params: Params, key: str, value: Any) -> tuple[float, float]:
    """``[lo, hi]`` (whole persons, inclusive; ``hi`` null = no upper end)."""
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and value[0] >= 0
        and (
            value[1] is None
            or (
                isinstance(value[1], int)
                and not isinstance(value[1], bool)
                and value[1] >= value[0]
            )
        )
    )
    if not ok:
        raise ParamsError(
            f"{params.path}: '{key}' must be [lo, hi] in whole persons with "
            f"0 <= lo <= hi (hi null for no upper end), e.g. [50, 300]; found "
            f"{value!r}"
        )
    return float(value[0]), math.inf if value[1] is None else float(value[1])


def _settings_from_params(params: Params) -> AllocationSettings:
    params.check_keys("allocation", _ALLOWED_KEYS)
    d = AllocationSettings()
    total = params.get("allocation.total", types=int)
    if total <= 0:
        raise ParamsError(f"{params.path}: key 'allocation.total' = {total} must be positive")
    method = params.choice("allocation.method", METHODS, d.method)
    w = params.number("allocation.employment_weight", d.employment_weight, low=0, high=1)
    tilt = params.get("allocation.tilt", {}, types=dict)
    for city, factor in tilt.items():
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 0:
            raise ParamsError(
                f"{params.path}: key 'allocation.tilt.{city}' must be a positive "
                f"number (e.g. 1.1 for +10%), found {factor!r}"
            )
    floors = _floors_from(params, "allocation.floors", d.floors)
    cap = params.get("allocation.cap_to_frame", d.cap_to_frame, types=bool)
    sw = params.number("allocation.sector_employment_weight", w, low=0, high=1)
    sections = params.get("allocation.sections", {}, types=dict)
    unknown = set(sections) - {"top", "pillar"}
    if unknown:
        raise ParamsError(
            f"{params.path}: unknown key(s) {sorted(unknown)} in "
            "'allocation.sections'; allowed: pillar, top"
        )
    top = int(params.number("allocation.sections.top", d.top_sections, low=1, high=20))
    pillar_raw = params.get("allocation.sections.pillar", {}, types=dict)
    names = reference.section_names()
    pillar: dict[str, tuple[str, ...]] = {}
    for city, secs in pillar_raw.items():
        secs = [secs] if isinstance(secs, str) else secs
        if not isinstance(secs, list) or any(s not in names for s in secs):
            raise ParamsError(
                f"{params.path}: key 'allocation.sections.pillar.{city}' must be a "
                f"list of section letters A–T, found {secs!r}"
            )
        pillar[str(city)] = tuple(secs)
    basis = params.choice("allocation.target_basis", TARGET_BASES, d.target_basis)
    panel_targets = params.choice("allocation.panel_targets", PANEL_TARGETS, d.panel_targets)
    min_fresh = int(params.number("allocation.min_fresh", d.min_fresh, low=0))
    rules_raw = params.get("allocation.rules", [], types=list)
    rules = tuple(_rule_from(params, i, item) for i, item in enumerate(rules_raw))
    seen: set[str] = set()
    for r in rules:
        if r.name in seen:
            raise ParamsError(
                f"{params.path}: rule name {r.name!r} appears twice in "
                "'allocation.rules'; names must be unique"
            )
        seen.add(r.name)
    monthly = params.get("allocation.monthly", {}, types=dict)
    unknown = set(monthly) - {"total", "cities", "floors", "keep_existing", "prefer_existing"}
    if unknown:
        raise ParamsError(
            f"{params.path}: unknown key(s) {sorted(unknown)} in "
            "'allocation.monthly'; allowed: cities, floors, keep_existing, "
            "prefer_existing, total"
        )
    monthly_total = int(
        params.number("allocation.monthly.total", min(d.monthly_total, total), low=0, high=total)
    )
    if monthly_total != params.get("allocation.monthly.total", monthly_total):
        raise ParamsError(f"{params.path}: key 'allocation.monthly.total' must be an integer")
    mcities = params.get("allocation.monthly.cities", None, types=list)
    monthly_floors = _floors_from(params, "allocation.monthly.floors", floors)
    keep = params.get("allocation.monthly.keep_existing", d.keep_existing_monthly, types=bool)
    prefer = params.number("allocation.monthly.prefer_existing", d.prefer_existing_monthly, low=0)
    precision = params.get("allocation.precision", {}, types=dict)
    solver = params.get("allocation.solver", {}, types=dict)
    unknown = set(solver) - {"mip_gap", "time_limit"}
    if unknown:
        raise ParamsError(
            f"{params.path}: unknown key(s) {sorted(unknown)} in "
            "'allocation.solver'; allowed: mip_gap, time_limit"
        )
    gap = params.number("allocation.solver.mip_gap", d.mip_gap, low=0, high=1)
    limit = params.number("allocation.solver.time_limit", d.time_limit, low=1)
    given: dict[str, str | None] = {}
    for key in ("city_totals", "compare_with"):
        value = params.get(f"allocation.{key}", None)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ParamsError(
                f"{params.path}: key 'allocation.{key}' must be a file path (CSV or "
                f"XLSX with columns city, total[, secondary, tertiary]), found "
                f"{value!r}"
            )
        given[key] = value
    given_primary = params.choice(
        "allocation.given_primary", ("secondary", "tertiary"), d.given_primary
    )
    settings = AllocationSettings(
        city_totals=given["city_totals"],
        compare_with=given["compare_with"],
        given_primary=given_primary,
        total=total,
        method=method,
        employment_weight=float(w),
        tilt={str(k): float(v) for k, v in tilt.items()},
        floors=floors,
        cap_to_frame=cap,
        sector_employment_weight=float(sw),
        top_sections=top,
        pillar_sections=pillar,
        target_basis=basis,
        panel_targets=panel_targets,
        min_fresh=min_fresh,
        rules=rules,
        monthly_total=monthly_total,
        monthly_cities=tuple(str(c) for c in mcities) if mcities is not None else None,
        monthly_floors=monthly_floors,
        keep_existing_monthly=keep,
        prefer_existing_monthly=float(prefer),
        mip_gap=float(gap),
        time_limit=float(limit),
        precision=precision,
    )
    # precision keys are validated by the precision module
    from samplekit.precision import PrecisionSettings

    PrecisionSettings.from_mapping(precision, where=f"{params.path}: 'allocation.precision'")
    return settings


# ---------------------------------------------------------------------------------- result
@dataclass(frozen=True)
class AllocationResult:
    """The allocation: city table, cell table, rules report, precision, solver facts."""

    city: pd.DataFrame
    cells: pd.DataFrame
    rules_report: pd.DataFrame
    precision: pd.DataFrame
    settings: AllocationSettings
    solver: Mapping[str, Any] = field(default_factory=dict)
    comparison: pd.DataFrame | None = None
    weight_fit: pd.DataFrame | None = None


# ---------------------------------------------------------------------------------- cells
def frame_cells(frame: pd.DataFrame, *, bands: tuple[float, ...] = ()) -> pd.DataFrame:
    """Count the eligible frame per cell city × section × size_class × ownership (× employee
    band, when ``bands`` is given).

    Parameters
    ----------
    frame : DataFrame
        The classified register (``samplekit.frame.load_frame``): needs city, section,
        size_class, ownership, employees, status, in_panel, in_monthly.

    Returns
    -------
    DataFrame
        One row per cell with at least one active unit: ``frame_units`` (status active),
        ``frame_employment`` (their employees), ``existing`` (active existing panel members),
        ``existing_monthly`` (active members of the monthly network), sorted by the keys.

    Examples
    --------
    >>> f = pd.DataFrame({"city": ["甲", "甲"], "section": ["C", "C"],
    ...     "size_class": ["large", "large"], "ownership": ["state", "state"],
    ...     "employees": [500, 900], "status": ["active", "closed"],
    ...     "in_panel": [True, True], "in_monthly": [False, True]})
    >>> frame_cells(f)[["frame_units", "existing", "existing_monthly"]].values.tolist()
    [[1, 1, 0]]
    """
    needed = CELL_KEYS + ["employees", "status"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(
            f"frame: missing column(s) {', '.join(missing)}; load the register with "
            "samplekit.frame.load_frame"
        )
    active = (frame["status"] == "active").to_numpy(dtype=bool, na_value=False)
    in_panel = _bool_col(frame, "in_panel") & active
    in_monthly = _bool_col(frame, "in_monthly") & active
    # group on integer codes of each key (fast on Arrow-backed strings), then decode
    codes, uniques = [], []
    for key in CELL_KEYS:
        c, u = pd.factorize(frame[key], sort=True)
        codes.append(c)
        uniques.append(np.asarray(u, dtype=object))
    keys = list(CELL_KEYS)
    employees = pd.to_numeric(frame["employees"]).to_numpy(dtype=float, na_value=0.0)
    if bands:
        cuts = np.asarray(sorted(bands), dtype=float)
        band = np.searchsorted(cuts, np.floor(employees + 1e-9), side="right")
        labels = np.asarray(band_labels(tuple(cuts)), dtype=object)
        codes.append(band)
        uniques.append(labels)
        keys.append(BAND_KEY)
    df = pd.DataFrame(dict(zip(keys, codes, strict=True)))
    df["frame_units"] = active.astype(np.int64)
    df["frame_employment"] = np.where(active, employees, 0.0)
    df["existing"] = in_panel.astype(np.int64)
    df["existing_monthly"] = in_monthly.astype(np.int64)
    df["existing_employment"] = np.where(in_panel, employees, 0.0)
    df = df[active]
    out = df.groupby(keys, sort=True).sum().reset_index()
    if bands:
        b = out[BAND_KEY].to_numpy()
        lo = np.concatenate([[0.0], cuts])
        hi = np.concatenate([cuts - 1.0, [np.inf]])
        out["band_lo"], out["band_hi"] = lo[b], hi[b]
    for key, u in zip(keys, uniques, strict=True):
        out[key] = pd.Series(u[out[key].to_numpy()], dtype=object).astype(str)
    out["frame_employment"] = np.round(out["frame_employment"]).astype(np.int64)
    out["existing_employment"] = np.round(out["existing_employment"]).astype(np.int64)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def band_labels(cuts: tuple[float, ...]) -> list[str]:
    """Labels of the employee bands cut at ``cuts``: ``0-49``, ``50-300``, ``301+``."""
    lo = [0.0, *cuts]
    hi = [c - 1.0 for c in cuts] + [math.inf]
    return [f"{a:g}-{b:g}" if math.isfinite(b) else f"{a:g}+" for a, b in zip(lo, hi, strict=True)]


def cell_keys(cells: pd.DataFrame) -> list[str]:
    """The cell keys of a cell table: CELL_KEYS, plus the employee band when present."""
    return CELL_KEYS + ([BAND_KEY] if BAND_KEY in cells.columns else [])


def _bool_col(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[col].to_numpy(dtype=bool, na_value=False)


CITY_COLUMNS = (
    "city",
    "municipality",
    "population",
    "employed",
    "employed_secondary",
    "employed_tertiary",
    "gdp",
    "gdp_secondary",
    "gdp_tertiary",
)


def _check_cities(cities: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in CITY_COLUMNS if c not in cities.columns]
    if missing:
        raise InputError(
            f"city table: missing column(s) {', '.join(missing)}; see "
            "docs/architecture.md (the city table)"
        )
    c = cities.copy()
    c["city"] = c["city"].astype(str)
    if c["city"].duplicated().any():
        dup = sorted(c.loc[c["city"].duplicated(), "city"])
        raise InputError(f"city table: city {', '.join(dup)} appears more than once")
    for col in CITY_COLUMNS[2:]:
        c[col] = pd.to_numeric(c[col], errors="coerce")
        bad = c.loc[c[col].isna() | (c[col] < 0), "city"].tolist()
        if bad:
            raise InputError(
                f"city table: column '{col}' is missing or negative for "
                f"{', '.join(bad)}; fill in the yearbook figure"
            )
    c["municipality"] = c["municipality"].map(
        lambda v: v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "是")
    )
    unknown = sorted(set(cells["city"]) - set(c["city"]))
    if unknown:
        raise InputError(
            f"frame: city {', '.join(unknown[:5])} is not in the city table; fix "
            "the register's city names or add the city"
        )
    return c.sort_values("city", kind="stable").reset_index(drop=True)


def _section_sector() -> dict[str, str]:
    s = reference.sections()
    return dict(zip(s["section"], s["sector_2012"], strict=True))


# ---------------------------------------------------------------------------------- given totals
GIVEN_ALIASES: dict[str, str] = {
    "城市": "city",
    "target_10000": "total",
    "合计": "total",
    "目标任务": "total",
    "第二产业": "secondary",
    "第三产业": "tertiary",
}


def check_given_totals(
    table: pd.DataFrame, *, file: str, cities: list[str] | None = None
) -> pd.DataFrame:
    """Validate a table of given city totals (the province's own task table).

    Parameters
    ----------
    table : DataFrame
        Columns ``city``, ``total`` and optionally both ``secondary`` and ``tertiary``
        (aliases: 城市, target_10000/合计/目标任务, 第二产业, 第三产业); other columns are
        ignored. Cells may be strings (as read from CSV).
    file : str
        Name used in messages.
    cities : list of str, optional
        The cities of the city table: every one must appear once, no other.

    Returns
    -------
    DataFrame
        ``city, total, secondary, tertiary`` (integers; the split columns are absent when the
        table has none), sorted by city.

    Raises
    ------
    InputError
        Naming the file, row (header = row 1) and column of each problem.
    """
    t = table.rename(columns={k: v for k, v in GIVEN_ALIASES.items() if k in table.columns})
    t = t.rename(columns=lambda c: str(c).strip())
    missing = [c for c in ("city", "total") if c not in t.columns]
    if missing:
        raise InputError(
            f"{file}: missing column(s) {', '.join(missing)}; expected city, total "
            f"and optionally secondary, tertiary (found {', '.join(map(str, t.columns))})"
        )
    split = [c for c in ("secondary", "tertiary") if c in t.columns]
    if len(split) == 1:
        raise InputError(
            f"{file}: column '{split[0]}' without its partner; give both secondary "
            "and tertiary, or neither"
        )
    cols = ["city", "total", *split]
    out = t[cols].copy().reset_index(drop=True)
    out["city"] = out["city"].astype(str).str.strip()
    problems = []
    for col in cols[1:]:
        raw = out[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() | (num < 0) | (num != np.floor(num))
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append(
                f"row {i + 2}, column '{col}': {raw.iat[i]!r} is not a whole number >= 0"
            )
        out[col] = num.fillna(0).astype(np.int64)
    dup = out["city"].duplicated(keep="first").to_numpy()
    for i in np.flatnonzero(dup):
        problems.append(f"row {i + 2}, column 'city': {out['city'].iat[i]} appears twice")
    if cities is not None:
        known = set(cities)
        for i, name in enumerate(out["city"]):
            if name not in known:
                problems.append(f"row {i + 2}, column 'city': {name} is not in the city table")
        absent = sorted(known - set(out["city"]))
        if absent:
            problems.append(f"no row for {', '.join(absent)}")
    if split and not problems:
        wrong = out["secondary"] + out["tertiary"] != out["total"]
        for i in np.flatnonzero(wrong.to_numpy()):
            r = out.iloc[i]
            problems.append(
                f"row {i + 2}: secondary + tertiary = {r.secondary + r.tertiary} "
                f"differs from total {r.total}"
            )
    if problems:
        raise InputError(
            f"{file}: "
            + "; ".join(problems[:10])
            + (f"; … {len(problems) - 10} more" if len(problems) > 10 else "")
        )
    return out.sort_values("city", kind="stable").reset_index(drop=True)


def employment_score(city: pd.DataFrame, w: float) -> np.ndarray:
    """City score ``tilt · (w · employment share + (1 − w) · GDP share)``, normalised."""
    raw = (w * city["employment_share"].to_numpy() + (1 - w) * city["gdp_share"].to_numpy()) * city[
        "tilt"
    ].to_numpy()
    return raw / raw.sum()


def fit_employment_weight(city: pd.DataFrame, given: np.ndarray) -> dict[str, float]:
    """The employment weight *w* whose proportional shares come nearest to given city totals.

    Least squares over cities: minimise Σ (G · score_i(w) − given_i)² for w in [0, 1], with
    G = Σ given and ``score`` as :func:`employment_score` (tilt included, floors and rounding
    left out, so the fit is smooth). ``city`` needs employment_share, gdp_share, tilt.

    Returns
    -------
    dict
        ``weight`` (fitted w), ``rmse`` and ``mean_abs`` (enterprises) of the fitted shares.
    """
    from scipy.optimize import minimize_scalar

    given = np.asarray(given, dtype=float)
    total = given.sum()

    def loss(w: float) -> float:
        return float(np.sum((total * employment_score(city, w) - given) ** 2))

    # the loss is smooth in w on [0, 1]; a grid start avoids a local dip near an end
    grid = np.linspace(0, 1, 101)
    w0 = grid[int(np.argmin([loss(w) for w in grid]))]
    lo, hi = max(0.0, w0 - 0.01), min(1.0, w0 + 0.01)
    res = minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    w = float(res.x) if loss(float(res.x)) <= loss(w0) else float(w0)
    resid = total * employment_score(city, w) - given
    return {
        "weight": w,
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "mean_abs": float(np.mean(np.abs(resid))),
    }


def fit_sector_weight(
    city: pd.DataFrame, total: np.ndarray, secondary: np.ndarray
) -> dict[str, float]:
    """The sector weight *w_s* whose secondary shares come nearest to a given split.

    Secondary share ``s_i = w_s · E_sec/(E_sec + E_ter) + (1 − w_s) · G_sec/(G_sec + G_ter)``
    is linear in *w_s*, so min Σ (T_i s_i − S_i)² has the closed form
    ``w_s = Σ T_i d_i (S_i − T_i g_i) / Σ (T_i d_i)²`` (``d = e − g``), clipped to [0, 1].
    """
    e = (
        city["employed_secondary"] / (city["employed_secondary"] + city["employed_tertiary"])
    ).to_numpy(dtype=float)
    g = (city["gdp_secondary"] / (city["gdp_secondary"] + city["gdp_tertiary"])).to_numpy(
        dtype=float
    )
    t = np.asarray(total, dtype=float)
    sec = np.asarray(secondary, dtype=float)
    d = t * (e - g)
    w = float(np.clip(np.sum(d * (sec - t * g)) / max(np.sum(d * d), 1e-300), 0.0, 1.0))
    resid = t * (w * e + (1 - w) * g) - sec
    return {
        "weight": w,
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "mean_abs": float(np.mean(np.abs(resid))),
    }


# ---------------------------------------------------------------------------------- allocate
def allocate(
    cities: pd.DataFrame,
    frame: pd.DataFrame | None,
    settings: AllocationSettings,
    *,
    cells: pd.DataFrame | None = None,
    city_totals: pd.DataFrame | None = None,
    compare_with: pd.DataFrame | None = None,
) -> AllocationResult:
    """Allocate the sample to cities, sectors and cells under every rule at once.

    Parameters
    ----------
    cities : DataFrame
        The city table (docs/architecture.md).
    frame : DataFrame
        The classified register; ignored when ``cells`` is given.
    settings : AllocationSettings
        From :meth:`AllocationSettings.from_params`.
    cells : DataFrame, optional
        Pre-computed :func:`frame_cells` (benchmarks, large registers); with employee-band
        rules they must carry the bands of :func:`employee_bands`.
    city_totals : DataFrame, optional
        Given city totals (``city, total[, secondary, tertiary]``, :func:`check_given_totals`)
        imposed instead of the formula; the cells are allocated inside them.
    compare_with : DataFrame, optional
        A table of the same form to compare the formula with (and fit the weights to); the
        default comparison is with ``city_totals`` when given.

    Returns
    -------
    AllocationResult

    Raises
    ------
    InfeasibleError
        When the rules, floors and caps cannot all hold (or a given city total breaks one);
        ``diagnosis`` names the rules, cities and numbers and the smallest relaxation.
    """
    t0 = time.perf_counter()
    bands = employee_bands(settings.rules)
    if cells is None:
        if frame is None:
            raise InputError("allocate needs the register (frame) or its cells")
        cells = frame_cells(frame, bands=bands)
    else:
        cells = cells.copy()
    keys = cell_keys(cells)
    cities = _check_cities(cities, cells)
    _check_rule_cities(settings, cities)
    names = cities["city"].tolist()
    given = (
        None
        if city_totals is None
        else check_given_totals(
            city_totals, file=settings.city_totals or "city_totals", cities=names
        )
    )
    compare = (
        None
        if compare_with is None
        else check_given_totals(
            compare_with, file=settings.compare_with or "compare_with", cities=names
        )
    )
    if given is not None and int(given["total"].sum()) != settings.total:
        raise InputError(
            f"{settings.city_totals or 'city_totals'}: the given city totals add up "
            f"to {int(given['total'].sum())}, but allocation.total is "
            f"{settings.total}; make them agree"
        )
    sector_of = _section_sector()
    cells["sector"] = cells["section"].map(sector_of).fillna("tertiary")
    cells = cells.sort_values(keys, kind="stable").reset_index(drop=True)
    cells["allowed"] = _allowed_sections(cells, settings)
    excluded = np.zeros(len(cells), dtype=bool)
    for rule in settings.rules:
        if rule.kind == "exclude" and rule.scope == "sample" and not rule.cities:
            excluded |= rule.mask(cells)
    cells["upper"] = np.where(
        cells["allowed"] & ~excluded & (cells["sector"] != "primary"),
        cells["frame_units"],
        cells["existing"],
    ).astype(np.int64)
    city = _city_totals(cities, cells, settings)
    cells = cells.merge(city[["city"]], on="city", how="inner")
    if given is None:
        formula_split = _sector_split(city, cells, settings)
    else:
        try:  # the formula's own split, for the comparison only
            formula_split = _sector_split(city, cells, settings)
        except InfeasibleError:
            formula_split = None
        city = _impose_given(city, given, settings)
        split = _given_split(city, given, cells, settings)
    if given is None:
        city["given"] = False
        split = formula_split
    city = city.merge(split, on="city", how="left")
    monthly = _monthly_totals(city, settings)
    city = city.merge(monthly, on="city", how="left")
    _check_monthly_rule_cities(settings, city)
    cells = _cell_targets(cells, city, settings=settings)
    # cells that can hold nobody (excluded, outside the city's sections, no existing member)
    # stay at zero; leaving them out halves the model
    active = cells["upper"].to_numpy() > 0
    full_cells, cells = cells, cells[active].reset_index(drop=True)
    # A cell holding existing members gets room for min(min_fresh, other units) fresh ones on
    # top of them (its fresh group then stands for its other units; docs/allocation.md). When
    # these floors do not fit the totals and rules, the plain floors (existing) are kept and the
    # selection adds the fresh units beyond the allocation (selection.min_fresh).
    ex = cells["existing"].to_numpy()
    up = cells["upper"].to_numpy()
    floor = np.where(ex > 0, ex + np.minimum(settings.min_fresh, np.maximum(up - ex, 0)), ex)
    # only in the city-sectors whose total holds them (the province's task table can leave a
    # city-sector little more than its existing members)
    key = (cells["city"] + "|" + cells["sector"]).to_numpy()
    need = pd.Series(floor).groupby(key).transform("sum").to_numpy()
    sector_total = np.select(
        [cells["sector"] == "secondary", cells["sector"] == "tertiary"],
        [
            cells["city"].map(city.set_index("city")["secondary"]).to_numpy(),
            cells["city"].map(city.set_index("city")["tertiary"]).to_numpy(),
        ],
        0,
    )
    floor = np.where(need <= sector_total, floor, ex)
    fresh_floor = bool((floor > ex).any())
    model = _build_model(cells.assign(existing=floor), city, settings)
    t_build = time.perf_counter() - t0
    res = solve_model(model, settings)
    if res.x is None and fresh_floor:
        fresh_floor = False
        model = _build_model(cells, city, settings)
        res = solve_model(model, settings)
    if res.x is None:
        if res.status == 2 or "infeasible" in str(res.message).lower():
            diagnosis = diagnose(cells, city, settings)
            raise InfeasibleError(_diagnosis_message(diagnosis), diagnosis=diagnosis)
        raise InfeasibleError(
            f"the allocation solver stopped without a solution: {res.message}"
            f" (raise allocation.solver.time_limit)"
        )
    k = len(cells)
    n_model, m_model = model.decode(res.x)
    n_all = np.zeros(len(full_cells), dtype=np.int64)
    m_all = np.zeros(len(full_cells), dtype=np.int64)
    n_all[active] = n_model
    m_all[active] = m_model
    cells = full_cells
    cells["n"] = n_all
    cells["n_monthly"] = m_all
    t_solve = time.perf_counter() - t0 - t_build
    reference_table = compare if compare is not None else given
    comparison, weight_fit = (
        (None, None)
        if reference_table is None
        else _compare(city, formula_split, reference_table, settings)
    )
    city = _finish_city(city, cells)
    report = _rules_report(cells, city, settings)
    from samplekit.precision import PrecisionSettings, precision_table

    precision = precision_table(cells, PrecisionSettings.from_mapping(settings.precision))
    out_cells = cells.rename(columns={"target": "target_n"})
    band_cols = [BAND_KEY, "band_lo", "band_hi"] if BAND_KEY in out_cells.columns else []
    out_cells = out_cells[
        CELL_KEYS
        + band_cols
        + [
            "sector",
            "allowed",
            "frame_units",
            "frame_employment",
            "existing",
            "existing_monthly",
            "target_n",
            "n",
            "target_monthly",
            "n_monthly",
        ]
    ]
    out_cells = out_cells[(out_cells["frame_units"] > 0) | (out_cells["n"] > 0)]
    solver = {
        "status": int(res.status),
        "message": str(res.message),
        "method": getattr(res, "method", ""),
        "objective": float(res.fun),
        "mip_gap": float(getattr(res, "mip_gap", 0.0) or 0.0),
        "cells": k,
        "variables": len(model.c),
        "rows": model.constraints.A.shape[0],
        "build_seconds": t_build,
        "solve_seconds": t_solve,
        "fresh_floor": fresh_floor,
    }
    return AllocationResult(
        city=city,
        cells=out_cells.reset_index(drop=True),
        rules_report=report,
        precision=precision,
        settings=settings,
        solver=solver,
        comparison=comparison,
        weight_fit=weight_fit,
    )


def _check_rule_cities(settings: AllocationSettings, cities: pd.DataFrame) -> None:
    known = set(cities["city"])
    for i, rule in enumerate(settings.rules):
        unknown = [c for c in rule.cities if c not in known]
        if unknown:
            raise ParamsError(
                f"allocation.rules[{i}] ({rule.name}).cities names "
                f"{', '.join(unknown)}, not in the city table"
            )


def _check_monthly_rule_cities(settings: AllocationSettings, city: pd.DataFrame) -> None:
    monitored = set(city.loc[city["monitored"], "city"])
    for i, rule in enumerate(settings.rules):
        off = [c for c in rule.cities if c not in monitored]
        if rule.scope == "monthly" and off:
            raise ParamsError(
                f"allocation.rules[{i}] ({rule.name}) is a monthly rule but names "
                f"{', '.join(off)}, not monitored monthly (allocation.monthly."
                "cities)"
            )


def _impose_given(
    city: pd.DataFrame, given: pd.DataFrame, settings: AllocationSettings
) -> pd.DataFrame:
    """Replace the formula's city totals by the given ones; a given total below the existing
    panel or the population minimum, or above what the city's cells can hold, is reported as
    an infeasibility naming the city and the rule it breaks."""
    city = city.copy()
    file = settings.city_totals or "city_totals"
    city["formula"] = city["allocated"]
    city["allocated"] = city["city"].map(given.set_index("city")["total"]).astype(np.int64)
    city["given"] = True
    rows = []
    source_floor = settings.floors.source
    for r in city.itertuples(index=False):
        checks = [
            (
                "keep_existing",
                "现有监测企业全部保留",
                "province_plan_2013",
                int(r.existing),
                +1,
                "the existing panel there",
            ),
            (
                "city_floor",
                "城市最低样本数(人口规模)",
                source_floor,
                int(r.floor),
                +1,
                "the population minimum",
            ),
            (
                "city_cap",
                "城市样本上限(可入样名录企业数)",
                "frame",
                int(r.cap),
                -1,
                "what the city's eligible cells can hold",
            ),
        ]
        for rule, label, source, bound, direction, what in checks:
            short = (bound - r.allocated) * direction
            if short <= 0:
                continue
            verb = "below" if direction > 0 else "above"
            rows.append(
                {
                    "rule": rule,
                    "label": label,
                    "source": source,
                    "scope": "sample",
                    "city": r.city,
                    "base": int(r.allocated),
                    "required": bound,
                    "achievable": int(r.allocated),
                    "slack": float(short),
                    "existing": int(r.existing),
                    "capacity": int(r.cap),
                    "message": f"{r.city}: the given city total {int(r.allocated)} ({file}) is "
                    f"{verb} {what} ({bound}) — change it by {short} (rule '{rule}')",
                }
            )
    if rows:
        from samplekit.allocation_model import DIAGNOSIS_COLUMNS

        diagnosis = pd.DataFrame(rows, columns=DIAGNOSIS_COLUMNS)
        raise InfeasibleError(_diagnosis_message(diagnosis), diagnosis=diagnosis)
    return city


def _given_split(
    city: pd.DataFrame, given: pd.DataFrame, cells: pd.DataFrame, settings: AllocationSettings
) -> pd.DataFrame:
    """Secondary and tertiary places of the cells: the given split (existing primary-sector
    members counted in ``given_primary``), or the formula split of the given total."""
    g = given.set_index("city")
    rows = []
    has_split = "secondary" in g.columns
    for r in city.itertuples(index=False):
        if has_split:
            sec, ter = int(g.at[r.city, "secondary"]), int(g.at[r.city, "tertiary"])
            if settings.given_primary == "secondary":
                sec -= int(r.primary)
            else:
                ter -= int(r.primary)
            rows.append(
                {"city": r.city, "secondary_score": np.nan, "secondary": sec, "tertiary": ter}
            )
    if has_split:
        return pd.DataFrame(rows)
    return _sector_split(city, cells, settings)


def _compare(
    city: pd.DataFrame,
    formula_split: pd.DataFrame | None,
    table: pd.DataFrame,
    settings: AllocationSettings,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """City by city: the formula's allocation against a given table, and the weights that
    reproduce the table best."""
    g = table.set_index("city").reindex(city["city"])
    formula = city["formula"] if "formula" in city.columns else city["allocated"]
    given = g["total"].to_numpy(dtype=float)
    fit = fit_employment_weight(city, given)
    out = pd.DataFrame(
        {
            "city": city["city"].to_numpy(),
            "given_total": g["total"].to_numpy(dtype=np.int64),
            "formula_total": formula.to_numpy(dtype=np.int64),
            "target": (given.sum() * employment_score(city, settings.employment_weight)),
            "fitted_target": given.sum() * employment_score(city, fit["weight"]),
        }
    )
    out["difference"] = out["formula_total"] - out["given_total"]
    out["relative_difference"] = out["difference"] / out["given_total"].clip(lower=1)
    resid_params = out["target"] - given
    fits = [
        {
            "parameter": "employment_weight",
            "params_value": settings.employment_weight,
            "fitted": fit["weight"],
            "rmse_params": float(np.sqrt(np.mean(resid_params**2))),
            "rmse_fitted": fit["rmse"],
            "mean_abs_params": float(np.mean(np.abs(resid_params))),
            "mean_abs_fitted": fit["mean_abs"],
            "mean_abs_formula": float(np.mean(np.abs(out["difference"]))),
        }
    ]
    if "secondary" in g.columns and formula_split is not None:
        fs = formula_split.set_index("city").reindex(city["city"])
        out["given_secondary"] = g["secondary"].to_numpy(dtype=np.int64)
        out["given_tertiary"] = g["tertiary"].to_numpy(dtype=np.int64)
        prim = city["primary"].to_numpy(dtype=np.int64)
        counted = {
            "secondary": fs["secondary"].to_numpy(dtype=np.int64),
            "tertiary": fs["tertiary"].to_numpy(dtype=np.int64),
        }
        counted[settings.given_primary] = counted[settings.given_primary] + prim
        out["formula_secondary"] = counted["secondary"]
        out["formula_tertiary"] = counted["tertiary"]
        out["secondary_difference"] = out["formula_secondary"] - out["given_secondary"]
        sf = fit_sector_weight(
            city, g["total"].to_numpy(dtype=float), g["secondary"].to_numpy(dtype=float)
        )
        e = city["employed_secondary"] / (city["employed_secondary"] + city["employed_tertiary"])
        gg = city["gdp_secondary"] / (city["gdp_secondary"] + city["gdp_tertiary"])
        w = settings.sector_employment_weight
        r0 = (given * (w * e + (1 - w) * gg)).to_numpy() - g["secondary"].to_numpy(dtype=float)
        fits.append(
            {
                "parameter": "sector_employment_weight",
                "params_value": w,
                "fitted": sf["weight"],
                "rmse_params": float(np.sqrt(np.mean(r0**2))),
                "rmse_fitted": sf["rmse"],
                "mean_abs_params": float(np.mean(np.abs(r0))),
                "mean_abs_fitted": sf["mean_abs"],
                "mean_abs_formula": float(np.mean(np.abs(out["secondary_difference"]))),
            }
        )
    return out, pd.DataFrame(fits)


def _allowed_sections(cells: pd.DataFrame, settings: AllocationSettings) -> np.ndarray:
    """Per city: the top-k sections by frame employment (secondary and tertiary), pillar
    sections named in params, and any section holding existing panel members."""
    emp = (
        cells[cells["sector"] != "primary"]
        .groupby(["city", "section"], sort=True)["frame_employment"]
        .sum()
        .reset_index()
        .sort_values(
            ["city", "frame_employment", "section"], ascending=[True, False, True], kind="stable"
        )
    )
    top = emp.groupby("city", sort=True).head(settings.top_sections)
    allowed = set(zip(top["city"], top["section"], strict=True))
    pillar_all = settings.pillar_sections.get("all", ())
    for city_name in cells["city"].unique():
        for s in tuple(pillar_all) + tuple(settings.pillar_sections.get(city_name, ())):
            allowed.add((city_name, s))
    has_existing = cells.loc[cells["existing"] > 0, ["city", "section"]].drop_duplicates()
    allowed |= set(zip(has_existing["city"], has_existing["section"], strict=True))
    keys = list(zip(cells["city"], cells["section"], strict=True))
    return np.fromiter((k in allowed for k in keys), dtype=bool, count=len(keys))


def _city_totals(
    cities: pd.DataFrame, cells: pd.DataFrame, settings: AllocationSettings
) -> pd.DataFrame:
    agg = (
        cells.groupby("city", sort=True)
        .agg(
            frame_units=("frame_units", "sum"),
            frame_employment=("frame_employment", "sum"),
            existing=("existing", "sum"),
            existing_monthly=("existing_monthly", "sum"),
            cap=("upper", "sum"),
        )
        .reset_index()
    )
    prim = cells[cells["sector"] == "primary"].groupby("city")["existing"].sum()
    agg["primary"] = agg["city"].map(prim).fillna(0).astype(np.int64)
    city = cities[
        [
            "city",
            "municipality",
            "population",
            "employed",
            "gdp",
            "employed_secondary",
            "employed_tertiary",
            "gdp_secondary",
            "gdp_tertiary",
        ]
    ].merge(agg, on="city", how="left")
    for col in (
        "frame_units",
        "frame_employment",
        "existing",
        "existing_monthly",
        "cap",
        "primary",
    ):
        city[col] = city[col].fillna(0).astype(np.int64)
    w = settings.employment_weight
    emp_total, gdp_total = city["employed"].sum(), city["gdp"].sum()
    if emp_total <= 0 or gdp_total <= 0:
        raise InputError("city table: employed and gdp must have positive totals")
    unknown_tilt = sorted(set(settings.tilt) - set(city["city"]))
    if unknown_tilt:
        raise ParamsError(f"allocation.tilt names {', '.join(unknown_tilt)}, not in the city table")
    city["employment_share"] = city["employed"] / emp_total
    city["gdp_share"] = city["gdp"] / gdp_total
    city["tilt"] = city["city"].map(settings.tilt).fillna(1.0).astype(float)
    raw = (w * city["employment_share"] + (1 - w) * city["gdp_share"]) * city["tilt"]
    city["score"] = raw / raw.sum()
    city["target"] = city["score"] * settings.total
    city["floor"] = [
        max(int(e), settings.floors.minimum(float(p), bool(m)))
        for e, p, m in zip(city["existing"], city["population"], city["municipality"], strict=True)
    ]
    if not settings.cap_to_frame:
        city["cap"] = settings.total  # no cap beyond the total itself
    # the eligible frame may not reach the population minimum: the floor is then the frame
    # (reported in the rules report), unless it is below the existing panel (impossible)
    short = city["floor"] > city["cap"]
    if short.any():
        bad = city[short & (city["existing"] > city["cap"])]
        if len(bad):
            raise InputError(
                "existing panel larger than the city's eligible cells: " + ", ".join(bad["city"])
            )
    city["floor_required"] = city["floor"]
    city["floor"] = np.minimum(city["floor"], city["cap"])
    city["allocated"] = apportion(
        city["score"].to_numpy(),
        settings.total,
        method=settings.method,
        lower=city["floor"].to_numpy(),
        upper=city["cap"].to_numpy(),
        labels=city["city"].tolist(),
    )
    return city


def _sector_split(
    city: pd.DataFrame, cells: pd.DataFrame, settings: AllocationSettings
) -> pd.DataFrame:
    rows = []
    w = settings.sector_employment_weight
    sums = cells.groupby(["city", "sector"], sort=True)[["existing", "upper"]].sum()
    for r in city.itertuples(index=False):
        lower = [int(sums["existing"].get((r.city, s), 0)) for s in ("secondary", "tertiary")]
        upper = [int(sums["upper"].get((r.city, s), 0)) for s in ("secondary", "tertiary")]
        emp = r.employed_secondary + r.employed_tertiary
        gdp = r.gdp_secondary + r.gdp_tertiary
        sec = w * (r.employed_secondary / emp if emp else 0.5) + (1 - w) * (
            r.gdp_secondary / gdp if gdp else 0.5
        )
        parts = apportion(
            [sec, 1 - sec],
            int(r.allocated) - int(r.primary),
            method=settings.method,
            lower=lower,
            upper=upper,
            labels=[f"{r.city}第二产业", f"{r.city}第三产业"],
        )
        rows.append(
            {
                "city": r.city,
                "secondary_score": sec,
                "secondary": int(parts[0]),
                "tertiary": int(parts[1]),
            }
        )
    return pd.DataFrame(rows)


def _monthly_totals(city: pd.DataFrame, settings: AllocationSettings) -> pd.DataFrame:
    if settings.monthly_cities is not None:
        unknown = sorted(set(settings.monthly_cities) - set(city["city"]))
        if unknown:
            raise ParamsError(
                f"allocation.monthly.cities names {', '.join(unknown)}, not in the city table"
            )
        monitored = city["city"].isin(settings.monthly_cities).to_numpy()
    else:
        monitored = (city["existing_monthly"] > 0).to_numpy()
        if not monitored.any():
            monitored = np.ones(len(city), dtype=bool)
    floors = np.array(
        [
            settings.monthly_floors.minimum(float(p), bool(m))
            for p, m in zip(city["population"], city["municipality"], strict=True)
        ]
    )
    if settings.keep_existing_monthly:
        floors = np.maximum(floors, city["existing_monthly"].to_numpy())
    caps = city["allocated"].to_numpy()
    floors = np.where(monitored, np.minimum(floors, caps), 0)
    caps = np.where(monitored, caps, 0)
    total = settings.monthly_total if monitored.any() else 0
    labels = [f"{c}(月度)" for c in city["city"]]
    alloc = apportion(
        city["score"].to_numpy() * monitored,
        total,
        method=settings.method,
        lower=floors,
        upper=caps,
        labels=labels,
    )
    return pd.DataFrame(
        {
            "city": city["city"],
            "monitored": monitored,
            "monthly_floor": floors,
            "monthly_subsample": alloc,
        }
    )


def _cell_targets(
    cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings
) -> pd.DataFrame:
    """Proportional targets: each city-sector total shared among its open cells in proportion
    to frame employment (or units); the monthly target scales it by monthly / city total.

    ``panel_targets="on_top"``: the existing (legacy) members are a take-all group kept on top
    — a cell's target is its ``existing`` plus a share of the city-sector total left after
    the existing members, in proportion to the employment (units) of its *other* units — so
    the fresh part of every cell is sized for the units it stands for. ``"shared"``: the
    whole total in proportion to the whole cell (the existing members then take the cell's
    places first and the fresh part can be left with none).
    """
    emp = settings.target_basis == "employment"
    basis = (cells["frame_employment"] if emp else cells["frame_units"]).astype(float).to_numpy()
    existing = cells["existing"].to_numpy().astype(float)
    on_top = settings.panel_targets == "on_top"
    if on_top:
        if not emp:
            held = existing
        elif "existing_employment" in cells.columns:
            held = cells["existing_employment"].astype(float).to_numpy()
        else:  # cells given without it: the existing members at the cell's mean employment
            units = cells["frame_units"].astype(float).to_numpy()
            held = np.where(units > 0, existing * basis / np.maximum(units, 1.0), 0.0)
        basis = np.maximum(basis - held, 0.0)
    open_ = (cells["upper"] > cells["existing"]).to_numpy() | (cells["existing"] > 0).to_numpy()
    open_ &= (cells["sector"] != "primary").to_numpy()
    open_ &= cells["allowed"].to_numpy()
    b = np.where(open_, np.maximum(basis, 1e-9), 0.0)
    key = cells["city"] + "|" + cells["sector"]
    denom = pd.Series(b).groupby(key.to_numpy()).transform("sum").to_numpy()
    sec_total = cells["city"].map(city.set_index("city")["secondary"]).to_numpy()
    ter_total = cells["city"].map(city.set_index("city")["tertiary"]).to_numpy()
    total = np.select(
        [cells["sector"] == "secondary", cells["sector"] == "tertiary"], [sec_total, ter_total], 0
    )
    if on_top:
        kept = pd.Series(np.where(open_, existing, 0.0)).groupby(key.to_numpy()).transform("sum")
        total = np.maximum(total - kept.to_numpy(), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        target = np.where(denom > 0, total * b / denom, 0.0)
    if on_top:
        target = np.where(open_, target + existing, target)
    target = np.where((cells["sector"] == "primary").to_numpy(), cells["existing"], target)
    ratio = city.set_index("city")["monthly_subsample"] / city.set_index("city")["allocated"].clip(
        lower=1
    )
    cells = cells.copy()
    cells["target"] = target
    cells["target_monthly"] = target * cells["city"].map(ratio).to_numpy()
    return cells


# ---------------------------------------------------------------------------------- reports
def _finish_city(city: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    got = cells.groupby("city", sort=True).agg(n=("n", "sum"), n_monthly=("n_monthly", "sum"))
    city = city.copy()
    city["allocated_check"] = city["city"].map(got["n"]).fillna(0).astype(np.int64)
    city["monthly_check"] = city["city"].map(got["n_monthly"]).fillna(0).astype(np.int64)
    if (city["allocated_check"] != city["allocated"]).any() or (
        city["monthly_check"] != city["monthly_subsample"]
    ).any():
        raise RuntimeError("internal error: cell totals do not add up to the city totals")
    cols = [
        "city",
        "population",
        "employment_share",
        "gdp_share",
        "tilt",
        "score",
        "existing",
        "existing_monthly",
        "floor",
        "cap",
        "target",
        "allocated",
        "primary",
        "secondary",
        "tertiary",
        "monitored",
        "monthly_floor",
        "monthly_subsample",
        "frame_units",
        "frame_employment",
    ]
    return city[cols].reset_index(drop=True)


def _rules_report(
    cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings
) -> pd.DataFrame:
    """Each rule × scope × group: required bound, achieved count, binding (at the bound)."""
    rows = []
    by_city = city_index(cells)
    for rule in settings.rules:
        col = "n_monthly" if rule.scope == "monthly" else "n"
        x = cells[col].to_numpy()
        for group, idx, base in _rule_groups(rule, cells, city, settings, by_city):
            lo, hi = rule_bounds(rule, base)
            achieved = int(x[idx].sum())
            required = hi if rule.kind in ("max_share", "max_count", "exclude") else lo
            rows.append(
                {
                    "rule": rule.name,
                    "label": rule.describe(),
                    "source": rule.source,
                    "note": rule.note,
                    "kind": rule.kind,
                    "scope": rule.scope,
                    "per": rule.per,
                    "city": group,
                    "value": rule.value,
                    "base": base,
                    "required": int(required),
                    "achieved": achieved,
                    "binding": achieved == required,
                }
            )
    for r in city.itertuples(index=False):
        rows.append(
            {
                "rule": "city_floor",
                "label": "城市最低样本数(现有样本与人口规模取大)",
                "source": settings.floors.source,
                "note": settings.floors.note,
                "kind": "min_count",
                "scope": "sample",
                "per": "city",
                "city": r.city,
                "value": r.floor,
                "base": r.allocated,
                "required": int(r.floor),
                "achieved": int(r.allocated),
                "binding": int(r.allocated) == int(r.floor),
            }
        )
        if r.monitored:
            rows.append(
                {
                    "rule": "monthly_city_floor",
                    "label": "月度监测城市最低样本数",
                    "source": settings.monthly_floors.source,
                    "note": settings.monthly_floors.note,
                    "kind": "min_count",
                    "scope": "monthly",
                    "per": "city",
                    "city": r.city,
                    "value": r.monthly_floor,
                    "base": r.monthly_subsample,
                    "required": int(r.monthly_floor),
                    "achieved": int(r.monthly_subsample),
                    "binding": int(r.monthly_subsample) == int(r.monthly_floor),
                }
            )
    kept = int(np.minimum(cells["n"], cells["existing"]).sum())
    rows.append(
        {
            "rule": "keep_existing",
            "label": "现有监测企业全部保留",
            "source": "province_plan_2013",
            "note": "扩面是在现有 3000 家基础上增加到 10000 家",
            "kind": "min_count",
            "scope": "sample",
            "per": "province",
            "city": PROVINCE,
            "value": int(cells["existing"].sum()),
            "base": int(cells["n"].sum()),
            "required": int(cells["existing"].sum()),
            "achieved": kept,
            "binding": True,
        }
    )
    report = pd.DataFrame(rows)
    report["binding"] = np.where(report["binding"], "是", "否")
    return report


def rule_table(settings: AllocationSettings) -> pd.DataFrame:
    """One row per rule (and per floor set) with its source document and note, for the design
    report: name, label, kind, scope, per, cities, value, source, source_document, note."""
    rows = []
    for r in settings.rules:
        rows.append(
            {
                "rule": r.name,
                "label": r.describe(),
                "kind": r.kind,
                "scope": r.scope,
                "per": r.per,
                "cities": "、".join(r.cities),
                "value": r.value,
                "source": r.source,
                "source_document": RULE_SOURCES.get(r.source, ""),
                "note": r.note,
            }
        )
    for name, label, fl, scope in (
        ("city_floor", "各市最低样本数(按人口规模)", settings.floors, "sample"),
        ("monthly_city_floor", "月度监测城市最低样本数", settings.monthly_floors, "monthly"),
    ):
        classes = ";".join(f"≥{b:g}万人 {m}" for b, m in fl.by_population)
        rows.append(
            {
                "rule": name,
                "label": f"{label}:直辖市 {fl.municipality};{classes}",
                "kind": "min_count",
                "scope": scope,
                "per": "city",
                "cities": "",
                "value": np.nan,
                "source": fl.source,
                "source_document": RULE_SOURCES.get(fl.source, ""),
                "note": fl.note,
            }
        )
    return pd.DataFrame(rows)


def about(result: AllocationResult, params: Params | None = None) -> dict[str, Any]:
    """Parameters and provenance for the 说明 sheet."""
    from samplekit import __version__

    s = result.settings
    info: dict[str, Any] = {
        "表格": "城市分配、单元分配、规则检查、精度估计",
        "样本总量": s.total,
        "分配方法": METHODS_ZH[s.method],
        "从业人员权数 w": s.employment_weight,
        "倾斜系数": dict(s.tilt),
        "第二/三产业划分权数": s.sector_employment_weight,
        "各市纳入行业": f"从业人数前 {s.top_sections} 位门类 + 支柱行业 + 现有样本所在门类",
        "支柱行业": {k: list(v) for k, v in s.pillar_sections.items()},
        "单元比例目标基数": {"employment": "名录从业人数", "units": "名录企业数"}[s.target_basis],
        "月度子样本总量": s.monthly_total,
        "规则数": len(s.rules),
        **{
            f"规则{i}": f"{r.describe()};{SCOPE_ZH[r.scope]};"
            f"{'各市' if r.per == 'city' else '全省'};"
            f"依据:{RULE_SOURCES.get(r.source, r.source or '-')}"
            + (f"({r.note})" if r.note else "")
            for i, r in enumerate(s.rules, start=1)
        },
        "各市样本总量": (
            f"给定任务表 {s.city_totals}(二三产业划分按表;现有第一产业监测企业计入"
            f"{reference.SECTORS_ZH[s.given_primary]})"
            if s.city_totals
            else "按得分公式分配"
        ),
        "对比任务表": s.compare_with or (s.city_totals or "无"),
        "月度子样本城市": "已有月度监测企业的城市"
        if s.monthly_cities is None
        else "、".join(s.monthly_cities),
        "求解器": "scipy.optimize.milp (HiGHS)",
        "求解状态": result.solver.get("message", ""),
        "samplekit 版本": __version__,
    }
    if params is not None:
        from samplekit.paths import project_root

        try:  # relative to the project, so the workbook does not depend on the checkout
            info["参数文件"] = Path(params.path).resolve().relative_to(project_root()).as_posix()
        except ValueError:
            info["参数文件"] = Path(params.path).name
        info["参数摘要(SHA-256)"] = params.digest()
        info["方案名称"] = params.get("title", params.get("name", ""))
    return info


def write_allocation(
    result: AllocationResult,
    out_dir: str | Path,
    params: Params | None = None,
    *,
    data_note: str = "",
) -> dict[str, Path]:
    """Write ``allocation_city.csv``, ``allocation_cells.csv``, ``rules_report.csv``,
    ``rules.csv`` (rules and their sources), ``precision.csv``, with a comparison table
    ``comparison.csv`` and ``weight_fit.csv`` (when a task table is given) and
    ``allocation.xlsx`` (Chinese headers, 说明 sheet) into ``out_dir``.

    Floats are rounded to fixed decimals so the same inputs give byte-identical files;
    ``data_note`` (the job's synthetic-data note) marks every sheet when the inputs are synthetic.
    """
    from samplekit.io import standard_about, write_csv, write_xlsx
    from samplekit.precision import PRECISION_HEADERS_ZH

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "allocation_city": round_floats(result.city),
        "allocation_cells": round_floats(result.cells),
        "rules_report": round_floats(result.rules_report),
        "precision": round_floats(result.precision),
    }
    tables["rules"] = round_floats(rule_table(result.settings))
    if result.comparison is not None:
        tables["comparison"] = round_floats(result.comparison)
        tables["weight_fit"] = round_floats(result.weight_fit)
    paths = {name: write_csv(df, out / f"{name}.csv") for name, df in tables.items()}
    headers = dict(HEADERS_ZH)
    headers.update(PRECISION_HEADERS_ZH)
    sheets = {
        "城市分配": tables["allocation_city"],
        "单元分配": tables["allocation_cells"],
        "规则检查": tables["rules_report"],
        "规则依据": rules_for_readers(tables["rules"]),
        "精度估计": tables["precision"],
    }
    titles = {
        "城市分配": "各市样本分配",
        "单元分配": "城市×行业×规模×所有制单元分配",
        "规则检查": "抽样规则检查(要求、实际、是否约束生效)",
        "规则依据": "抽样规则及其依据文件(假设另注理由)",
        "精度估计": "月度就业变动率估计的预期变异系数",
    }
    if result.comparison is not None:
        sheets["任务表对比"] = tables["comparison"]
        sheets["权数拟合"] = tables["weight_fit"]
        titles["任务表对比"] = "公式分配与给定任务表逐市对比"
        titles["权数拟合"] = "最接近给定任务表的从业人员权数(单参数最小二乘)"
    paths["allocation_xlsx"] = write_xlsx(
        {**sheets, "规则检查": rules_for_readers(tables["rules_report"])},
        out / "allocation.xlsx",
        headers=headers,
        titles=titles,
        about=standard_about(params, extra=about(result, params)),
        source="企业名录与城市基础数据,samplekit 样本分配",
        units="单位:家(另注明者除外)",
        formats=XLSX_FORMATS,
        data_note=data_note,
    )
    return paths


#: Number formats of the allocation workbook that the column names alone do not decide.
XLSX_FORMATS: dict[str, str] = {
    "tilt": "dec2",
    "score": "dec4",
    "target": "dec2",
    "target_n": "dec2",
    "target_monthly": "dec2",
    "n_neyman": "int",
    "n_current_mix": "int",
    "n_bethel": "int",
    "population": "dec1",
    "target_cv": "dec3",
}


def rules_for_readers(report: pd.DataFrame) -> pd.DataFrame:
    """The rules report with its codes (kind, scope, level, source) as Chinese names and the
    internal rule key dropped (``label`` names the rule)."""
    out = report.drop(columns=["rule"], errors="ignore").copy()
    if "source_document" in out.columns:  # the document's title already says the source
        out = out.drop(columns=["source"], errors="ignore")
    for col, names in (
        ("kind", KIND_ZH),
        ("scope", SCOPE_ZH),
        ("per", PER_ZH),
        ("source", RULE_SOURCES),
        ("city", {PROVINCE: "全省"}),
    ):
        if col in out.columns:
            out[col] = out[col].map(lambda v, n=names: n.get(v, v)).astype(object)
    return out


# ---------------------------------------------------------------------------------- summaries
MIX_HEADERS_ZH: dict[str, str] = {
    "group": "分组",
    "frame_units": "名录企业数",
    "frame_share": "名录企业占比",
    "frame_employment_share": "名录从业人数占比",
    "n": "样本数",
    "sample_share": "样本占比",
    "n_monthly": "月度样本数",
    "monthly_share": "月度样本占比",
}


def mix_table(
    cells: pd.DataFrame, by: Literal["section", "size_class", "ownership", "sector"]
) -> pd.DataFrame:
    """Composition of the frame, the sample and the monthly subsample by one attribute.

    Returns one row per group (Chinese name in ``group``) with counts and shares, sorted by
    frame employment share (descending), so a reader sees where the sample departs from the
    frame.
    """
    g = cells.groupby(by, sort=True)[["frame_units", "frame_employment", "n", "n_monthly"]].sum()
    out = pd.DataFrame(
        {
            "frame_units": g["frame_units"],
            "frame_share": g["frame_units"] / g["frame_units"].sum(),
            "frame_employment_share": g["frame_employment"] / g["frame_employment"].sum(),
            "n": g["n"],
            "sample_share": g["n"] / max(g["n"].sum(), 1),
            "n_monthly": g["n_monthly"],
            "monthly_share": g["n_monthly"] / max(g["n_monthly"].sum(), 1),
        }
    )
    names: Mapping[str, str]
    if by == "section":
        names = {k: f"{k} {v}" for k, v in reference.section_names().items()}
    elif by == "size_class":
        names = reference.SIZE_CLASSES_ZH
    elif by == "ownership":
        names = reference.OWNERSHIP_ZH
    else:
        names = reference.SECTORS_ZH
    out.insert(0, "group", [names.get(str(k), str(k)) for k in out.index])
    out = out.sort_values(
        ["frame_employment_share", "group"], ascending=[False, True], kind="stable"
    )
    return out.reset_index(drop=True)


def summary_lines(result: AllocationResult) -> list[str]:
    """Key numbers as plain Chinese text lines (rounded, stable for notebook checks)."""
    city, cells, report = result.city, result.cells, result.rules_report
    s = result.settings
    binding = report[
        (report["binding"] == "是")
        & ~report["rule"].isin(["keep_existing", "city_floor", "monthly_city_floor"])
    ]
    prov = result.precision.set_index("city").loc[PROVINCE]
    floors_binding = int((city["allocated"] == city["floor"]).sum())
    sme = cells.loc[cells["size_class"].isin(["small", "medium"]), "n"].sum() / s.total
    manuf = cells.loc[cells["section"] == "C", "n"].sum() / s.total
    state = cells.loc[cells["ownership"] == "state", "n"].sum() / s.total
    return [
        f"样本总量 {int(city['allocated'].sum())} 家,分配到 {len(city)} 个城市;"
        f"月度子样本 {int(city['monthly_subsample'].sum())} 家",
        f"现有监测企业 {int(cells['existing'].sum())} 家全部保留;"
        f"按最低样本数分配的城市 {floors_binding} 个",
        f"中小型企业占比 {sme:.1%},制造业占比 {manuf:.1%},国有企业占比 {state:.1%}",
        f"约束生效的规则检查 {len(binding)} 项(共 {len(report)} 项)",
        f"全省月度就业变动率估计的预期变异系数 {prov['cv']:.3f}"
        f"(月度子样本 {prov['cv_monthly']:.3f})",
    ]


def summary_zh(result: AllocationResult) -> str:
    """A short Chinese summary (Markdown) generated from the allocation's numbers."""
    city, report, prec = result.city, result.rules_report, result.precision
    s = result.settings
    top = city.sort_values("allocated", ascending=False).head(3)
    tops = "、".join(f"{r.city}({r.allocated} 家)" for r in top.itertuples())
    floor_cities = city.loc[city["allocated"] == city["floor"], "city"].tolist()
    binding = report[
        (report["binding"] == "是")
        & ~report["rule"].isin(["keep_existing", "city_floor", "monthly_city_floor"])
    ]
    bind_rules = binding.groupby("label", sort=True)["city"].count()
    rule_text = ";".join(f"{label}({n} 处)" for label, n in bind_rules.items()) or "无"
    per_city = prec[prec["city"] != PROVINCE]
    thin = per_city.sort_values("cv", ascending=False).head(3)
    thin_text = "、".join(f"{r.city}(CV {r.cv:.2f})" for r in thin.itertuples())
    meets = int((per_city["meets_target"] == "是").sum())
    prov = prec.set_index("city").loc[PROVINCE]
    extra = max(0.0, float(per_city["n_bethel"].sum()) - s.total)
    parts = [
        f"- 按得分({s.employment_weight:.0%} 从业人员占比 + {1 - s.employment_weight:.0%} GDP "
        f"占比)用{METHODS_ZH[s.method]}分配 {s.total} 家样本,样本最多的是 {tops}。",
        f"- {len(floor_cities)} 个城市的样本数由最低样本数(现有样本与人口规模要求取大)决定"
        + (f":{'、'.join(floor_cities)}。" if floor_cities else "。"),
        f"- 所有规则同时满足;达到上下限(约束生效)的规则:{rule_text}。",
        f"- 月度失业动态监测子样本 {s.monthly_total} 家嵌套在全部样本中,优先保留已在网企业"
        f"({int(np.minimum(result.cells['n_monthly'], result.cells['existing_monthly']).sum())}"
        f" / {int(result.cells['existing_monthly'].sum())} 家保留)。",
        f"- 精度:全省月度就业变动率估计的预期变异系数为 {prov['cv']:.3f}"
        f"(目标 {prov['target_cv']:.2f});{meets} / {len(per_city)} 个城市达到各市目标 "
        f"{s.precision.get('target_cv', 0.05):.2f}。样本最薄弱的城市:{thin_text}。"
        + (
            f"各市与全省同时达标约需 {per_city['n_bethel'].sum():,.0f} 家"
            f"(比现有方案多 {extra:,.0f} 家)。"
            if extra > 0
            else ""
        ),
    ]
    return "\n".join(parts)
