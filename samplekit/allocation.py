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
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from samplekit import reference
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
PROVINCE = "全省"

#: Chinese headers for the output tables.
HEADERS_ZH: dict[str, str] = {
    "city": "城市", "population": "常住人口(万人)", "employment_share": "从业人员占比",
    "gdp_share": "GDP占比", "tilt": "倾斜系数", "score": "分配得分", "existing": "现有监测企业",
    "existing_monthly": "现有月度监测企业", "floor": "最低样本数", "cap": "样本上限",
    "target": "按得分应分数", "allocated": "分配样本数", "primary": "第一产业(保留)",
    "secondary": "第二产业", "tertiary": "第三产业", "monitored": "是否月度监测城市",
    "monthly_floor": "月度最低样本数", "monthly_subsample": "月度监测子样本",
    "frame_units": "名录企业数(正常经营)", "frame_employment": "名录从业人数",
    "section": "行业门类", "section_name": "行业名称", "sector": "三次产业",
    "size_class": "企业规模", "ownership": "所有制类型", "allowed": "纳入抽样行业",
    "target_n": "比例目标", "n": "样本数", "target_monthly": "月度比例目标",
    "n_monthly": "月度样本数", "rule": "规则", "label": "规则说明", "source": "依据",
    "kind": "规则类型", "scope": "适用范围", "per": "层级", "value": "规定值",
    "required": "要求(家)", "achieved": "实际(家)", "binding": "是否约束生效",
    "base": "基数(家)", "achievable": "可达到(家)", "slack": "需放宽(家)", "message": "说明",
}

KIND_ZH: dict[str, str] = {
    "max_share": "占比上限", "min_share": "占比下限", "exclude": "排除",
    "min_count": "数量下限", "max_count": "数量上限",
}
SCOPE_ZH: dict[str, str] = {"sample": "全部样本", "monthly": "月度子样本"}
SOURCE_ZH: dict[str, str] = {"province": "省定", "ministry": "部定"}
PER_ZH: dict[str, str] = {"province": "全省", "city": "各市"}


# ---------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Rule:
    """One rule of the rule set (data, from params).

    ``where`` maps a cell attribute (section, size_class, ownership, sector) to the values it
    constrains; ``per`` says whether the rule holds province-wide or in each city.
    """

    name: str
    kind: Literal["max_share", "min_share", "exclude", "min_count", "max_count"]
    where: tuple[tuple[str, tuple[str, ...]], ...]
    scope: Literal["sample", "monthly"] = "sample"
    per: Literal["province", "city"] = "province"
    value: float = 0.0
    source: str = ""
    label: str = ""

    def describe(self) -> str:
        """A Chinese description, e.g. ``制造业(C)占比 ≤ 40%``."""
        if self.label:
            return self.label
        what = "、".join(_describe_where(k, v) for k, v in self.where)
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
        """Boolean mask of the cells the rule counts."""
        out = np.ones(len(cells), dtype=bool)
        for key, values in self.where:
            out &= cells[key].isin(values).to_numpy()
        return out


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
    rules: tuple[Rule, ...] = ()
    monthly_total: int = 1000
    monthly_cities: tuple[str, ...] | None = None
    monthly_floors: Floors = field(default_factory=Floors)
    keep_existing_monthly: bool = True
    prefer_existing_monthly: float = 3.0
    mip_gap: float = 1e-4
    time_limit: float = 60.0
    precision: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Params) -> AllocationSettings:
        """Read and validate the ``allocation:`` section; errors name the file and key."""
        return _settings_from_params(params)


_ALLOWED_KEYS = {
    "total", "method", "employment_weight", "tilt", "floors", "cap_to_frame",
    "sector_employment_weight", "sections", "target_basis", "rules", "monthly", "precision",
    "solver",
}


def _floors_from(params: Params, key: str, default: Floors) -> Floors:
    node = params.get(key, None)
    if node is None:
        return default
    if not isinstance(node, Mapping):
        raise ParamsError(f"{params.path}: key '{key}' must be a mapping, found {node!r}")
    unknown = set(node) - {"municipality", "by_population"}
    if unknown:
        raise ParamsError(f"{params.path}: unknown key(s) {sorted(unknown)} in '{key}'; allowed: "
                          "municipality, by_population")
    municipality = int(params.number(f"{key}.municipality", default.municipality, low=0))
    classes = params.get(f"{key}.by_population", None, types=list)
    if classes is None:
        pairs = default.by_population
    else:
        pairs_list = []
        for i, item in enumerate(classes):
            where = f"{key}.by_population[{i}]"
            if not (isinstance(item, Mapping) and set(item) == {"min_population", "minimum"}):
                raise ParamsError(f"{params.path}: '{where}' must be a mapping with keys "
                                  f"min_population and minimum, found {item!r}")
            bound, minimum = item["min_population"], item["minimum"]
            if not isinstance(bound, (int, float)) or isinstance(bound, bool) or bound < 0 or \
                    not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 0:
                raise ParamsError(f"{params.path}: '{where}' needs a non-negative number "
                                  f"min_population and a non-negative integer minimum, found "
                                  f"{item!r}")
            pairs_list.append((float(bound), int(minimum)))
        pairs = tuple(pairs_list)
    return Floors(municipality=municipality, by_population=pairs)


def _rule_from(params: Params, i: int, item: Any) -> Rule:
    where_key = f"allocation.rules[{i}]"
    if not isinstance(item, Mapping):
        raise ParamsError(f"{params.path}: '{where_key}' must be a mapping, found {item!r}")
    allowed = {"name", "kind", "where", "scope", "per", "value", "source", "label"}
    unknown = set(item) - allowed
    if unknown:
        raise ParamsError(f"{params.path}: unknown key(s) {sorted(unknown)} in '{where_key}'; "
                          f"allowed: {', '.join(sorted(allowed))}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ParamsError(f"{params.path}: '{where_key}.name' must be a non-empty string")
    where_key = f"allocation.rules[{i}] ({name})"
    kind = item.get("kind")
    if kind not in RULE_KINDS:
        raise ParamsError(f"{params.path}: '{where_key}.kind' = {kind!r} is not one of "
                          f"{', '.join(RULE_KINDS)}")
    scope = item.get("scope", "sample")
    if scope not in RULE_SCOPES:
        raise ParamsError(f"{params.path}: '{where_key}.scope' = {scope!r} is not one of "
                          f"{', '.join(RULE_SCOPES)}")
    per = item.get("per", "province")
    if per not in RULE_PER:
        raise ParamsError(f"{params.path}: '{where_key}.per' = {per!r} is not one of "
                          f"{', '.join(RULE_PER)}")
    where = item.get("where")
    if not isinstance(where, Mapping) or not where:
        raise ParamsError(f"{params.path}: '{where_key}.where' must map one of "
                          f"{', '.join(RULE_WHERE_KEYS)} to a list of values, found {where!r}")
    valid = {
        "section": set(reference.section_names()),
        "size_class": set(reference.SIZE_CLASSES),
        "ownership": set(reference.OWNERSHIP_GROUPS),
        "sector": set(reference.SECTORS_ZH),
    }
    where_items = []
    for key in sorted(where):
        if key not in valid:
            raise ParamsError(f"{params.path}: '{where_key}.where' has key {key!r}; use "
                              f"{', '.join(RULE_WHERE_KEYS)}")
        values = where[key]
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not values:
            raise ParamsError(f"{params.path}: '{where_key}.where.{key}' must be a list, found "
                              f"{values!r}")
        bad = [v for v in values if v not in valid[key]]
        if bad:
            raise ParamsError(f"{params.path}: '{where_key}.where.{key}' has {bad!r}; expected "
                              f"values from {', '.join(sorted(valid[key]))}")
        where_items.append((key, tuple(values)))
    value = item.get("value", 0 if kind == "exclude" else None)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ParamsError(f"{params.path}: '{where_key}.value' must be a non-negative number, "
                          f"found {value!r}")
    if kind in ("max_share", "min_share") and value > 1:
        raise ParamsError(f"{params.path}: '{where_key}.value' = {value} is a share and must "
                          "be in [0, 1] (write 0.4 for 40%)")
    source = item.get("source", "")
    label = item.get("label", "")
    return Rule(name=name, kind=kind, where=tuple(where_items), scope=scope, per=per,
                value=float(value), source=str(source), label=str(label))


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
            raise ParamsError(f"{params.path}: key 'allocation.tilt.{city}' must be a positive "
                              f"number (e.g. 1.1 for +10%), found {factor!r}")
    floors = _floors_from(params, "allocation.floors", d.floors)
    cap = params.get("allocation.cap_to_frame", d.cap_to_frame, types=bool)
    sw = params.number("allocation.sector_employment_weight", w, low=0, high=1)
    sections = params.get("allocation.sections", {}, types=dict)
    unknown = set(sections) - {"top", "pillar"}
    if unknown:
        raise ParamsError(f"{params.path}: unknown key(s) {sorted(unknown)} in "
                          "'allocation.sections'; allowed: pillar, top")
    top = int(params.number("allocation.sections.top", d.top_sections, low=1, high=20))
    pillar_raw = params.get("allocation.sections.pillar", {}, types=dict)
    names = reference.section_names()
    pillar: dict[str, tuple[str, ...]] = {}
    for city, secs in pillar_raw.items():
        secs = [secs] if isinstance(secs, str) else secs
        if not isinstance(secs, list) or any(s not in names for s in secs):
            raise ParamsError(f"{params.path}: key 'allocation.sections.pillar.{city}' must be a "
                              f"list of section letters A–T, found {secs!r}")
        pillar[str(city)] = tuple(secs)
    basis = params.choice("allocation.target_basis", TARGET_BASES, d.target_basis)
    rules_raw = params.get("allocation.rules", [], types=list)
    rules = tuple(_rule_from(params, i, item) for i, item in enumerate(rules_raw))
    seen: set[str] = set()
    for r in rules:
        if r.name in seen:
            raise ParamsError(f"{params.path}: rule name {r.name!r} appears twice in "
                              "'allocation.rules'; names must be unique")
        seen.add(r.name)
    monthly = params.get("allocation.monthly", {}, types=dict)
    unknown = set(monthly) - {"total", "cities", "floors", "keep_existing", "prefer_existing"}
    if unknown:
        raise ParamsError(f"{params.path}: unknown key(s) {sorted(unknown)} in "
                          "'allocation.monthly'; allowed: cities, floors, keep_existing, "
                          "prefer_existing, total")
    monthly_total = int(params.number("allocation.monthly.total", min(d.monthly_total, total), low=0,
                                      high=total))
    if monthly_total != params.get("allocation.monthly.total", monthly_total):
        raise ParamsError(f"{params.path}: key 'allocation.monthly.total' must be an integer")
    mcities = params.get("allocation.monthly.cities", None, types=list)
    monthly_floors = _floors_from(params, "allocation.monthly.floors", floors)
    keep = params.get("allocation.monthly.keep_existing", d.keep_existing_monthly, types=bool)
    prefer = params.number("allocation.monthly.prefer_existing", d.prefer_existing_monthly,
                           low=0)
    precision = params.get("allocation.precision", {}, types=dict)
    solver = params.get("allocation.solver", {}, types=dict)
    unknown = set(solver) - {"mip_gap", "time_limit"}
    if unknown:
        raise ParamsError(f"{params.path}: unknown key(s) {sorted(unknown)} in "
                          "'allocation.solver'; allowed: mip_gap, time_limit")
    gap = params.number("allocation.solver.mip_gap", d.mip_gap, low=0, high=1)
    limit = params.number("allocation.solver.time_limit", d.time_limit, low=1)
    settings = AllocationSettings(
        total=total, method=method, employment_weight=float(w),
        tilt={str(k): float(v) for k, v in tilt.items()}, floors=floors, cap_to_frame=cap,
        sector_employment_weight=float(sw), top_sections=top, pillar_sections=pillar,
        target_basis=basis, rules=rules, monthly_total=monthly_total,
        monthly_cities=tuple(str(c) for c in mcities) if mcities is not None else None,
        monthly_floors=monthly_floors, keep_existing_monthly=keep,
        prefer_existing_monthly=float(prefer), mip_gap=float(gap), time_limit=float(limit),
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


# ---------------------------------------------------------------------------------- cells
def frame_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Count the eligible frame per cell city × section × size_class × ownership.

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
        raise InputError(f"frame: missing column(s) {', '.join(missing)}; load the register with "
                         "samplekit.frame.load_frame")
    active = (frame["status"] == "active").to_numpy(dtype=bool, na_value=False)
    in_panel = _bool_col(frame, "in_panel") & active
    in_monthly = _bool_col(frame, "in_monthly") & active
    # group on integer codes of each key (fast on Arrow-backed strings), then decode
    codes, uniques = [], []
    for key in CELL_KEYS:
        c, u = pd.factorize(frame[key], sort=True)
        codes.append(c)
        uniques.append(np.asarray(u, dtype=object))
    df = pd.DataFrame(dict(zip(CELL_KEYS, codes, strict=True)))
    df["frame_units"] = active.astype(np.int64)
    employees = pd.to_numeric(frame["employees"]).to_numpy(dtype=float, na_value=0.0)
    df["frame_employment"] = np.where(active, employees, 0.0)
    df["existing"] = in_panel.astype(np.int64)
    df["existing_monthly"] = in_monthly.astype(np.int64)
    df = df[active]
    out = df.groupby(CELL_KEYS, sort=True).sum().reset_index()
    for key, u in zip(CELL_KEYS, uniques, strict=True):
        out[key] = pd.Series(u[out[key].to_numpy()], dtype=object).astype(str)
    out["frame_employment"] = np.round(out["frame_employment"]).astype(np.int64)
    return out.sort_values(CELL_KEYS, kind="stable").reset_index(drop=True)


def _bool_col(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[col].to_numpy(dtype=bool, na_value=False)


CITY_COLUMNS = ("city", "municipality", "population", "employed", "employed_secondary",
                "employed_tertiary", "gdp", "gdp_secondary", "gdp_tertiary")


def _check_cities(cities: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in CITY_COLUMNS if c not in cities.columns]
    if missing:
        raise InputError(f"city table: missing column(s) {', '.join(missing)}; see "
                         "docs/architecture.md (the city table)")
    c = cities.copy()
    c["city"] = c["city"].astype(str)
    if c["city"].duplicated().any():
        dup = sorted(c.loc[c["city"].duplicated(), "city"])
        raise InputError(f"city table: city {', '.join(dup)} appears more than once")
    for col in CITY_COLUMNS[2:]:
        c[col] = pd.to_numeric(c[col], errors="coerce")
        bad = c.loc[c[col].isna() | (c[col] < 0), "city"].tolist()
        if bad:
            raise InputError(f"city table: column '{col}' is missing or negative for "
                             f"{', '.join(bad)}; fill in the yearbook figure")
    c["municipality"] = c["municipality"].map(
        lambda v: v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "是"))
    unknown = sorted(set(cells["city"]) - set(c["city"]))
    if unknown:
        raise InputError(f"frame: city {', '.join(unknown[:5])} is not in the city table; fix "
                         "the register's city names or add the city")
    return c.sort_values("city", kind="stable").reset_index(drop=True)


def _section_sector() -> dict[str, str]:
    s = reference.sections()
    return dict(zip(s["section"], s["sector_2012"], strict=True))


# ---------------------------------------------------------------------------------- allocate
def allocate(cities: pd.DataFrame, frame: pd.DataFrame | None, settings: AllocationSettings, *,
             cells: pd.DataFrame | None = None) -> AllocationResult:
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
        Pre-computed :func:`frame_cells` (benchmarks, large registers).

    Returns
    -------
    AllocationResult

    Raises
    ------
    InfeasibleError
        When the rules, floors and caps cannot all hold; ``diagnosis`` names the rules, cities
        and numbers and the smallest relaxation.
    """
    t0 = time.perf_counter()
    if cells is None:
        if frame is None:
            raise InputError("allocate needs the register (frame) or its cells")
        cells = frame_cells(frame)
    else:
        cells = cells.copy()
    cities = _check_cities(cities, cells)
    sector_of = _section_sector()
    cells["sector"] = cells["section"].map(sector_of).fillna("tertiary")
    cells = cells.sort_values(CELL_KEYS, kind="stable").reset_index(drop=True)
    cells["allowed"] = _allowed_sections(cells, settings)
    excluded = np.zeros(len(cells), dtype=bool)
    for rule in settings.rules:
        if rule.kind == "exclude" and rule.scope == "sample":
            excluded |= rule.mask(cells)
    cells["upper"] = np.where(cells["allowed"] & ~excluded & (cells["sector"] != "primary"),
                              cells["frame_units"], cells["existing"]).astype(np.int64)
    city = _city_totals(cities, cells, settings)
    cells = cells.merge(city[["city"]], on="city", how="inner")
    split = _sector_split(city, cells, settings)
    city = city.merge(split, on="city", how="left")
    monthly = _monthly_totals(city, settings)
    city = city.merge(monthly, on="city", how="left")
    cells = _cell_targets(cells, city, settings=settings)
    # cells that can hold nobody (excluded, outside the city's sections, no existing member)
    # stay at zero; leaving them out halves the model
    active = cells["upper"].to_numpy() > 0
    full_cells, cells = cells, cells[active].reset_index(drop=True)
    model = _build_model(cells, city, settings)
    t_build = time.perf_counter() - t0
    res = solve_model(model, settings)
    if res.x is None:
        if res.status == 2 or "infeasible" in str(res.message).lower():
            diagnosis = diagnose(cells, city, settings)
            raise InfeasibleError(_diagnosis_message(diagnosis), diagnosis=diagnosis)
        raise InfeasibleError(f"the allocation solver stopped without a solution: {res.message}"
                              f" (raise allocation.solver.time_limit)")
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
    city = _finish_city(city, cells)
    report = _rules_report(cells, city, settings)
    from samplekit.precision import PrecisionSettings, precision_table

    precision = precision_table(cells, PrecisionSettings.from_mapping(settings.precision))
    out_cells = cells.rename(columns={"target": "target_n"})
    out_cells = out_cells[CELL_KEYS + ["sector", "allowed", "frame_units", "frame_employment",
                                       "existing", "existing_monthly", "target_n", "n",
                                       "target_monthly", "n_monthly"]]
    out_cells = out_cells[(out_cells["frame_units"] > 0) | (out_cells["n"] > 0)]
    solver = {"status": int(res.status), "message": str(res.message),
              "method": getattr(res, "method", ""),
              "objective": float(res.fun), "mip_gap": float(getattr(res, "mip_gap", 0.0) or 0.0),
              "cells": k, "variables": len(model.c), "rows": model.constraints.A.shape[0],
              "build_seconds": t_build, "solve_seconds": t_solve}
    return AllocationResult(city=city, cells=out_cells.reset_index(drop=True),
                            rules_report=report, precision=precision, settings=settings,
                            solver=solver)


def _allowed_sections(cells: pd.DataFrame, settings: AllocationSettings) -> np.ndarray:
    """Per city: the top-k sections by frame employment (secondary and tertiary), pillar
    sections named in params, and any section holding existing panel members."""
    emp = (cells[cells["sector"] != "primary"]
           .groupby(["city", "section"], sort=True)["frame_employment"].sum().reset_index()
           .sort_values(["city", "frame_employment", "section"], ascending=[True, False, True],
                        kind="stable"))
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


def _city_totals(cities: pd.DataFrame, cells: pd.DataFrame, settings: AllocationSettings
                 ) -> pd.DataFrame:
    agg = cells.groupby("city", sort=True).agg(
        frame_units=("frame_units", "sum"), frame_employment=("frame_employment", "sum"),
        existing=("existing", "sum"), existing_monthly=("existing_monthly", "sum"),
        cap=("upper", "sum")).reset_index()
    prim = cells[cells["sector"] == "primary"].groupby("city")["existing"].sum()
    agg["primary"] = agg["city"].map(prim).fillna(0).astype(np.int64)
    city = cities[["city", "municipality", "population", "employed", "gdp", "employed_secondary",
                   "employed_tertiary", "gdp_secondary", "gdp_tertiary"]].merge(
        agg, on="city", how="left")
    for col in ("frame_units", "frame_employment", "existing", "existing_monthly", "cap",
                "primary"):
        city[col] = city[col].fillna(0).astype(np.int64)
    w = settings.employment_weight
    emp_total, gdp_total = city["employed"].sum(), city["gdp"].sum()
    if emp_total <= 0 or gdp_total <= 0:
        raise InputError("city table: employed and gdp must have positive totals")
    unknown_tilt = sorted(set(settings.tilt) - set(city["city"]))
    if unknown_tilt:
        raise ParamsError(f"allocation.tilt names {', '.join(unknown_tilt)}, not in the city "
                          "table")
    city["employment_share"] = city["employed"] / emp_total
    city["gdp_share"] = city["gdp"] / gdp_total
    city["tilt"] = city["city"].map(settings.tilt).fillna(1.0).astype(float)
    raw = (w * city["employment_share"] + (1 - w) * city["gdp_share"]) * city["tilt"]
    city["score"] = raw / raw.sum()
    city["target"] = city["score"] * settings.total
    city["floor"] = [
        max(int(e), settings.floors.minimum(float(p), bool(m)))
        for e, p, m in zip(city["existing"], city["population"], city["municipality"],
                           strict=True)
    ]
    if not settings.cap_to_frame:
        city["cap"] = settings.total  # no cap beyond the total itself
    # the eligible frame may not reach the population minimum: the floor is then the frame
    # (reported in the rules report), unless it is below the existing panel (impossible)
    short = city["floor"] > city["cap"]
    if short.any():
        bad = city[short & (city["existing"] > city["cap"])]
        if len(bad):
            raise InputError("existing panel larger than the city's eligible cells: "
                             + ", ".join(bad["city"]))
    city["floor_required"] = city["floor"]
    city["floor"] = np.minimum(city["floor"], city["cap"])
    city["allocated"] = apportion(city["score"].to_numpy(), settings.total,
                                  method=settings.method, lower=city["floor"].to_numpy(),
                                  upper=city["cap"].to_numpy(), labels=city["city"].tolist())
    return city


def _sector_split(city: pd.DataFrame, cells: pd.DataFrame, settings: AllocationSettings
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
            r.gdp_secondary / gdp if gdp else 0.5)
        parts = apportion([sec, 1 - sec], int(r.allocated) - int(r.primary),
                          method=settings.method, lower=lower, upper=upper,
                          labels=[f"{r.city}第二产业", f"{r.city}第三产业"])
        rows.append({"city": r.city, "secondary_score": sec, "secondary": int(parts[0]),
                     "tertiary": int(parts[1])})
    return pd.DataFrame(rows)


def _monthly_totals(city: pd.DataFrame, settings: AllocationSettings) -> pd.DataFrame:
    if settings.monthly_cities is not None:
        unknown = sorted(set(settings.monthly_cities) - set(city["city"]))
        if unknown:
            raise ParamsError(f"allocation.monthly.cities names {', '.join(unknown)}, not in "
                              "the city table")
        monitored = city["city"].isin(settings.monthly_cities).to_numpy()
    else:
        monitored = (city["existing_monthly"] > 0).to_numpy()
        if not monitored.any():
            monitored = np.ones(len(city), dtype=bool)
    floors = np.array([settings.monthly_floors.minimum(float(p), bool(m))
                       for p, m in zip(city["population"], city["municipality"], strict=True)])
    if settings.keep_existing_monthly:
        floors = np.maximum(floors, city["existing_monthly"].to_numpy())
    caps = city["allocated"].to_numpy()
    floors = np.where(monitored, np.minimum(floors, caps), 0)
    caps = np.where(monitored, caps, 0)
    total = settings.monthly_total if monitored.any() else 0
    labels = [f"{c}(月度)" for c in city["city"]]
    alloc = apportion(city["score"].to_numpy() * monitored, total, method=settings.method,
                      lower=floors, upper=caps, labels=labels)
    return pd.DataFrame({"city": city["city"], "monitored": monitored, "monthly_floor": floors,
                         "monthly_subsample": alloc})


def _cell_targets(cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings
                  ) -> pd.DataFrame:
    """Proportional targets: each city-sector total shared among its open cells in proportion
    to frame employment (or units); the monthly target scales it by monthly / city total."""
    basis = (cells["frame_employment"] if settings.target_basis == "employment"
             else cells["frame_units"]).astype(float).to_numpy()
    open_ = (cells["upper"] > cells["existing"]).to_numpy() | (cells["existing"] > 0).to_numpy()
    open_ &= (cells["sector"] != "primary").to_numpy()
    open_ &= cells["allowed"].to_numpy()
    b = np.where(open_, np.maximum(basis, 1e-9), 0.0)
    key = cells["city"] + "|" + cells["sector"]
    denom = pd.Series(b).groupby(key.to_numpy()).transform("sum").to_numpy()
    sec_total = cells["city"].map(city.set_index("city")["secondary"]).to_numpy()
    ter_total = cells["city"].map(city.set_index("city")["tertiary"]).to_numpy()
    total = np.select([cells["sector"] == "secondary", cells["sector"] == "tertiary"],
                      [sec_total, ter_total], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        target = np.where(denom > 0, total * b / denom, 0.0)
    target = np.where((cells["sector"] == "primary").to_numpy(), cells["existing"], target)
    ratio = (city.set_index("city")["monthly_subsample"]
             / city.set_index("city")["allocated"].clip(lower=1))
    cells = cells.copy()
    cells["target"] = target
    cells["target_monthly"] = target * cells["city"].map(ratio).to_numpy()
    return cells


# ---------------------------------------------------------------------------------- the model
@dataclass
class _Model:
    c: np.ndarray
    integrality: np.ndarray
    bounds: Bounds
    constraints: LinearConstraint
    rows: list[dict[str, Any]]
    decode: Any = None  # solution vector -> (n, m)


class _Rows:
    """Accumulates sparse constraint rows ``lb <= a · x <= ub`` with a description each."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.info: list[dict[str, Any]] = []

    def add(self, cols: np.ndarray, vals: np.ndarray, lb: float, ub: float,
            info: dict[str, Any] | None = None) -> None:
        i = len(self.lb)
        self.r.append(np.full(len(cols), i, dtype=np.int64))
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lb.append(lb)
        self.ub.append(ub)
        self.info.append(info or {})

    def add_block(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, lb: np.ndarray,
                  ub: np.ndarray) -> None:
        """Many rows at once (``rows`` relative to the block); no descriptions."""
        start = len(self.lb)
        count = len(lb)
        self.r.append(start + np.asarray(rows, dtype=np.int64))
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lb.extend(np.asarray(lb, dtype=float).tolist())
        self.ub.extend(np.asarray(ub, dtype=float).tolist())
        self.info.extend([{}] * count)

    def matrix(self, ncols: int) -> sparse.csr_array:
        r = np.concatenate(self.r) if self.r else np.zeros(0, dtype=np.int64)
        c = np.concatenate(self.c) if self.c else np.zeros(0, dtype=np.int64)
        v = np.concatenate(self.v) if self.v else np.zeros(0)
        return sparse.csr_array((v, (r, c)), shape=(len(self.lb), ncols))


def city_index(cells: pd.DataFrame) -> dict[str, np.ndarray]:
    """City -> positions of its cells (sorted), computed once per model."""
    codes, uniques = pd.factorize(cells["city"], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(u): order[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniques)}


def _rule_groups(rule: Rule, cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings,
                 by_city: dict[str, np.ndarray] | None = None
                 ) -> list[tuple[str, np.ndarray, int]]:
    """(group name, cell indices, base total) for each province/city group a rule applies to."""
    mask = rule.mask(cells)
    monthly = rule.scope == "monthly"
    if rule.per == "province":
        base = settings.monthly_total if monthly else settings.total
        return [(PROVINCE, np.flatnonzero(mask), int(base))]
    groups = []
    index = city_index(cells) if by_city is None else by_city
    empty = np.zeros(0, dtype=np.int64)
    for r in city.itertuples(index=False):
        base = int(r.monthly_subsample) if monthly else int(r.allocated)
        if monthly and not r.monitored:
            continue
        pos = index.get(r.city, empty)
        groups.append((r.city, pos[mask[pos]], base))
    return groups


def rule_bounds(rule: Rule, base: int) -> tuple[float, float]:
    """The count bounds ``(lo, hi)`` a rule puts on its cells in a group of ``base`` units.

    Shares are turned into counts with the group total fixed: ``max_share v`` allows
    ``floor(v · base)``, ``min_share v`` requires ``ceil(v · base)``.
    """
    if rule.kind == "max_share":
        return 0.0, float(math.floor(rule.value * base + 1e-9))
    if rule.kind == "min_share":
        return float(math.ceil(rule.value * base - 1e-9)), math.inf
    if rule.kind == "exclude":
        return 0.0, 0.0
    if rule.kind == "min_count":
        return float(math.ceil(rule.value - 1e-9)), math.inf
    return 0.0, float(math.floor(rule.value + 1e-9))


def _build_model(cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings,
                 *, relax: bool = False) -> _Model:
    """Variables: n (k), m (k), then either deviations dn, dm and shortfall s (solve), or one
    slack per relaxable row (``relax=True``, the diagnosis)."""
    k = len(cells)
    idx = np.arange(k)
    existing = cells["existing"].to_numpy().astype(float)
    upper = cells["upper"].to_numpy().astype(float)
    ex_monthly = np.minimum(cells["existing_monthly"].to_numpy(), cells["upper"].to_numpy())
    monitored = cells["city"].map(city.set_index("city")["monitored"]).to_numpy().astype(bool)
    m_upper = np.where(monitored, upper, 0.0)
    rows = _Rows()
    relaxable: list[tuple[int, int]] = []  # (row index, direction: +1 raise ub / -1 lower lb)

    def add_relaxable(cols, vals, lb, ub, info):
        rows.add(cols, vals, lb, ub, info)
        i = len(rows.lb) - 1
        if np.isfinite(ub):
            relaxable.append((i, +1))
        if np.isfinite(lb) and lb > -math.inf and (lb > 0 or not np.isfinite(ub)):
            relaxable.append((i, -1))

    # m <= n
    rows.add_block(np.concatenate([idx, idx]), np.concatenate([idx + k, idx]),
                   np.concatenate([np.ones(k), -np.ones(k)]), np.full(k, -np.inf), np.zeros(k))
    # sector totals per city (secondary, tertiary); primary is fixed by bounds
    city_codes = cells["city"].to_numpy()
    sector = cells["sector"].to_numpy()
    by_city = city_index(cells)
    empty = np.zeros(0, dtype=np.int64)
    for r in city.itertuples(index=False):
        pos = by_city.get(r.city, empty)
        for s in ("secondary", "tertiary"):
            cols = pos[sector[pos] == s]
            total = int(getattr(r, s))
            info = {"rule": "sector_split", "scope": "sample", "city": r.city,
                    "label": f"{reference.SECTORS_ZH[s]}样本数 = {total}", "base": total,
                    "source": "province"}
            add_relaxable(cols, np.ones(len(cols)), total, total, info)
        if r.monitored:
            cols = pos + k
            info = {"rule": "monthly_city_total", "scope": "monthly", "city": r.city,
                    "label": f"月度子样本 = {int(r.monthly_subsample)}",
                    "base": int(r.monthly_subsample), "source": "province"}
            add_relaxable(cols, np.ones(len(cols)), r.monthly_subsample, r.monthly_subsample,
                          info)
    # rules
    for rule in settings.rules:
        offset = k if rule.scope == "monthly" else 0
        for group, cols, base in _rule_groups(rule, cells, city, settings, by_city):
            lo, hi = rule_bounds(rule, base)
            info = {"rule": rule.name, "scope": rule.scope, "city": group,
                    "label": rule.describe(), "base": base, "source": rule.source,
                    "kind": rule.kind, "existing": int(existing[cols].sum()),
                    "capacity": int(upper[cols].sum())}
            add_relaxable(cols + offset, np.ones(len(cols)), lo if lo > 0 else -math.inf, hi,
                          info)
    if not relax:
        return _segment_model(cells, rows, settings, existing, upper, m_upper, ex_monthly)
    # relaxed model: slack per relaxable row, and per kept existing member (n >= existing - s);
    # the city totals stay fixed, so a relaxed sector split moves places between sectors
    for r in city.itertuples(index=False):
        pos = by_city.get(r.city, empty)
        rows.add(pos, np.ones(len(pos)), float(r.allocated), float(r.allocated))
    keep = np.flatnonzero(existing > 0)
    for i in keep:
        info = {"rule": "keep_existing", "scope": "sample", "city": city_codes[i],
                "label": f"保留现有监测企业 {cells['section'].iat[i]}/"
                         f"{reference.SIZE_CLASSES_ZH.get(cells['size_class'].iat[i])}/"
                         f"{reference.OWNERSHIP_ZH.get(cells['ownership'].iat[i])}",
                "base": int(existing[i]), "source": "province", "cell": i}
        rows.add(np.array([i]), np.ones(1), existing[i], math.inf, info)
        relaxable.append((len(rows.lb) - 1, -1))
    nslack = len(relaxable)
    nvar = 2 * k + nslack
    slack_rows = np.array([r for r, _ in relaxable], dtype=np.int64)
    slack_dirs = np.array([d for _, d in relaxable], dtype=float)
    # a row lb <= a·x <= ub with slack: a·x - s <= ub (dir +1) or a·x + s >= lb (dir -1);
    # split equality rows into two so each side gets its own slack
    A_base = rows.matrix(nvar)
    lb_arr, ub_arr = np.array(rows.lb), np.array(rows.ub)
    out = _Rows()
    base_coo = A_base.tocoo()
    row_of_slack: dict[tuple[int, int], int] = {
        (r, int(d)): 2 * k + j for j, (r, d) in enumerate(zip(slack_rows, slack_dirs,
                                                                strict=True))}
    order = np.argsort(base_coo.row, kind="stable")
    rr, cc, vv = base_coo.row[order], base_coo.col[order], base_coo.data[order]
    starts = np.searchsorted(rr, np.arange(len(lb_arr) + 1))
    infos = []
    for i in range(len(lb_arr)):
        cols, vals = cc[starts[i]:starts[i + 1]], vv[starts[i]:starts[i + 1]]
        up_slack = row_of_slack.get((i, 1))
        lo_slack = row_of_slack.get((i, -1))
        if up_slack is None and lo_slack is None:
            out.add(cols, vals, lb_arr[i], ub_arr[i])
            infos.append(None)
            continue
        if np.isfinite(ub_arr[i]):
            if up_slack is not None:
                out.add(np.append(cols, up_slack), np.append(vals, -1.0), -math.inf, ub_arr[i])
            else:
                out.add(cols, vals, -math.inf, ub_arr[i])
        if np.isfinite(lb_arr[i]):
            if lo_slack is not None:
                out.add(np.append(cols, lo_slack), np.append(vals, 1.0), lb_arr[i], math.inf)
            else:
                out.add(cols, vals, lb_arr[i], math.inf)
    # dropping an existing panel member weighs twice a change of one in a rule's bound: the
    # province keeps its panel, so the diagnosis prefers relaxing rules
    weight = np.array([2.0 if rows.info[r].get("rule") == "keep_existing" else 1.0
                       for r, _ in relaxable])
    c = np.concatenate([np.zeros(2 * k), weight])
    lb = np.concatenate([np.zeros(k), np.zeros(k), np.zeros(nslack)])
    ub = np.concatenate([upper, m_upper, np.full(nslack, np.inf)])
    integrality = np.concatenate([np.ones(2 * k), np.zeros(nslack)])
    slack_info = []
    for r, d in relaxable:
        info = dict(rows.info[r])
        info["direction"] = int(d)
        info["lb"], info["ub"] = lb_arr[r], ub_arr[r]
        slack_info.append(info)
    A = out.matrix(nvar)
    return _Model(c=c, integrality=integrality, bounds=Bounds(lb, ub),
                  constraints=LinearConstraint(A, np.array(out.lb), np.array(out.ub)),
                  rows=slack_info)


def solve_model(model: _Model, settings: AllocationSettings) -> Any:
    """Solve the allocation MILP: first its LP relaxation (simplex, a vertex), which the
    segment formulation makes integral in practice — an integral LP optimum is optimal for the
    MILP too; otherwise HiGHS branch-and-bound with ``settings.mip_gap``."""
    integer = model.integrality > 0
    lp = milp(model.c, integrality=None, bounds=model.bounds, constraints=model.constraints,
              options={"time_limit": settings.time_limit, "presolve": False})
    if lp.x is not None and np.abs(lp.x[integer] - np.round(lp.x[integer])).max(
            initial=0.0) < 1e-6:
        lp.method = "lp_integral"
        return lp
    if lp.status == 2:  # the relaxation is infeasible, so is the MILP
        lp.method = "lp_infeasible"
        return lp
    res = milp(model.c, integrality=model.integrality, bounds=model.bounds,
               constraints=model.constraints,
               options={"mip_rel_gap": settings.mip_gap, "time_limit": settings.time_limit,
                        "presolve": True})
    res.method = "branch_and_bound"
    return res


def _segments(t: np.ndarray, lower: np.ndarray, upper: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``x`` in ``[lower, upper]`` as ``x = b + p1 + p2 − q`` around the integer base
    ``b = clip(floor(t), lower, upper)`` so that ``|x − t|`` is linear in each piece.

    ``p1 ∈ [0, 1]`` costs ``|b + 1 − t| − |b − t|`` (between −1 and 1), each unit of ``p2``
    and ``q`` costs 1. The pieces are convex, so the LP relaxation pays exactly the cost of the
    integer points (the convex hull of each cell's cost) and is nearly always integral.
    Returns ``b, p1_ub, p2_ub, q_ub, cost_p1, cost_q``.
    """
    b = np.clip(np.floor(t), lower, upper)
    p1_ub = np.minimum(1.0, upper - b)
    p2_ub = np.maximum(upper - b - 1.0, 0.0)
    q_ub = b - lower
    cost_p1 = np.abs(b + 1.0 - t) - np.abs(b - t)
    cost_q = np.abs(b - 1.0 - t) - np.abs(b - t)
    return b, p1_ub, p2_ub, q_ub, cost_p1, cost_q


def _segment_model(cells: pd.DataFrame, rows: _Rows, settings: AllocationSettings,
                   existing: np.ndarray, upper: np.ndarray, m_upper: np.ndarray,
                   ex_monthly: np.ndarray) -> _Model:
    """The allocation MILP with the weighted L1 deviation written as convex pieces.

    ``rows`` holds the structural constraints over ``x = (n, m)``; here ``n`` and ``m`` are
    replaced by their pieces (columns p1, p2, q for n, then for m), the constants moved to the
    row bounds, and a shortfall ``s >= existing_monthly − m`` added for cells with members of
    the monthly network.
    """
    k = len(cells)
    tgt = cells["target"].to_numpy(dtype=float)
    tgt_m = cells["target_monthly"].to_numpy(dtype=float)
    # weight 1/sqrt(t): between absolute (L1) and relative deviation, so a miss of one
    # enterprise counts more in a small cell than in a large one
    a = 1.0 / np.sqrt(np.maximum(tgt, 1.0))
    w_m = 1.0 / np.sqrt(np.maximum(tgt_m, 1.0))
    bn, p1n, p2n, qn, cp1n, cqn = _segments(tgt, existing, upper)
    bm, p1m, p2m, qm, cp1m, cqm = _segments(tgt_m, np.zeros(k), m_upper)
    A0 = rows.matrix(2 * k).tocsc()
    An, Am = A0[:, :k], A0[:, k:]
    base = np.concatenate([bn, bm])
    shift = A0 @ base
    lb = np.array(rows.lb) - shift
    ub = np.array(rows.ub) - shift
    pref = np.flatnonzero(ex_monthly > 0)
    # shortfall rows: s_j + m_j >= em_j  with m_j = bm + p1 + p2 - q
    npref = len(pref)
    sr = sparse.csc_array((np.ones(npref), (np.arange(npref), pref)), shape=(npref, k))
    zero_n = sparse.csc_array((npref, k))
    top = sparse.hstack([An, An, -An, Am, Am, -Am, sparse.csc_array((A0.shape[0], npref))])
    bottom = sparse.hstack([zero_n, zero_n, zero_n, sr, sr, -sr,
                            sparse.identity(npref, format="csc")])
    A = sparse.vstack([top, bottom]).tocsr()
    lb = np.concatenate([lb, ex_monthly[pref] - bm[pref]])
    ub = np.concatenate([ub, np.full(npref, np.inf)])
    c = np.concatenate([a * cp1n, a, a * cqn, w_m * cp1m, w_m, w_m * cqm,
                        np.full(npref, settings.prefer_existing_monthly)])
    var_lb = np.zeros(6 * k + npref)
    var_ub = np.concatenate([p1n, p2n, qn, p1m, p2m, qm, np.full(npref, np.inf)])
    integrality = np.concatenate([np.ones(6 * k), np.zeros(npref)])

    def decode(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.round(x[:6 * k])
        n = bn + x[:k] + x[k:2 * k] - x[2 * k:3 * k]
        m = bm + x[3 * k:4 * k] + x[4 * k:5 * k] - x[5 * k:6 * k]
        return n.astype(np.int64), m.astype(np.int64)

    return _Model(c=c, integrality=integrality, bounds=Bounds(var_lb, var_ub),
                  constraints=LinearConstraint(A, lb, ub), rows=rows.info, decode=decode)


# ---------------------------------------------------------------------------------- diagnosis
DIAGNOSIS_COLUMNS = ["rule", "label", "source", "scope", "city", "base", "required",
                     "achievable", "slack", "existing", "capacity", "message"]


def diagnose(cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings
             ) -> pd.DataFrame:
    """The smallest relaxation that makes the rule set feasible.

    Solves the allocation model with one non-negative slack per rule row, per sector and
    monthly city total, and per kept existing member, minimising the total slack (in
    enterprises). Each non-zero slack becomes one row: the rule, its scope and city, the
    required bound, the nearest achievable count, and a sentence with the numbers.
    """
    model = _build_model(cells, city, settings, relax=True)
    res = milp(model.c, integrality=model.integrality, bounds=model.bounds,
               constraints=model.constraints,
               options={"time_limit": settings.time_limit, "mip_rel_gap": 0.0})
    if res.x is None:
        return pd.DataFrame([{
            "rule": "frame", "label": "名录容量", "source": "", "scope": "sample",
            "city": PROVINCE, "base": np.nan, "required": np.nan, "achievable": np.nan,
            "slack": np.nan, "existing": np.nan, "capacity": np.nan,
            "message": f"no relaxation of the rules helps ({res.message}); the frame itself "
                       "cannot hold the city totals"}], columns=DIAGNOSIS_COLUMNS)
    k = len(cells)
    slacks = np.round(res.x[2 * k:], 6)
    merged: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for s, info in zip(slacks, model.rows, strict=True):
        if s <= 1e-6:
            continue
        d = info["direction"]
        required = info["ub"] if d > 0 else info["lb"]
        achievable = required + s if d > 0 else required - s
        key = (info["rule"], info["scope"], info["city"], d)
        if info["rule"] == "keep_existing" and key in merged:
            merged[key]["required"] += required
            merged[key]["achievable"] += achievable
            merged[key]["slack"] += s
            continue
        merged[key] = {"rule": info["rule"], "label": info.get("label", ""),
                       "source": info.get("source", ""), "scope": info["scope"],
                       "city": info["city"], "base": info.get("base", np.nan),
                       "required": required, "achievable": achievable, "slack": s,
                       "existing": info.get("existing", np.nan),
                       "capacity": info.get("capacity", np.nan), "direction": d}
    rows = []
    for row in merged.values():
        row["message"] = _slack_message(row)
        rows.append(row)
    df = pd.DataFrame(rows, columns=DIAGNOSIS_COLUMNS)
    return df.sort_values(["slack", "rule", "city"], ascending=[False, True, True],
                          kind="stable").reset_index(drop=True)


def _slack_message(row: Mapping[str, Any]) -> str:
    rule, city_name, s = row["rule"], row["city"], row["slack"]
    req, ach = row["required"], row["achievable"]
    sample = SCOPE_ZH.get(row["scope"], row["scope"])
    where = city_name
    if rule == "keep_existing":
        return (f"{where}: {s:.0f} existing panel member(s) cannot keep their places "
                f"({sample}); the other rules leave room for only {ach:.0f} of {req:.0f}")
    if rule in ("sector_split", "monthly_city_total"):
        return (f"{where}: {row['label']} cannot be met; the nearest feasible is {ach:.0f} "
                f"({s:+.0f} if relaxed)")
    label = row["label"]
    base = row["base"]
    existing = row.get("existing")
    capacity = row.get("capacity")
    if row.get("direction", 1) > 0:
        text = (f"{where}: {label} of {base:.0f} ({sample}) allows {req:.0f}, but at least "
                f"{ach:.0f} are needed")
        if row["scope"] == "sample" and isinstance(existing, (int, float)) and existing > req:
            text += f"; the existing panel already holds {existing:.0f} there"
        return text + f" — relax the rule by {s:.0f} enterprise(s) (rule '{rule}')"
    text = (f"{where}: {label} of {base:.0f} ({sample}) requires {req:.0f}, but at most "
            f"{ach:.0f} can be reached")
    if isinstance(capacity, (int, float)) and not math.isnan(capacity) and capacity < req:
        text += f"; the eligible frame has only {capacity:.0f} such units there"
    return text + f" — relax the rule by {s:.0f} enterprise(s) (rule '{rule}')"


def _diagnosis_message(diagnosis: pd.DataFrame, limit: int = 8) -> str:
    lines = [f"the allocation rules cannot all hold; the smallest relaxation changes "
             f"{len(diagnosis)} rule bound(s) by {diagnosis['slack'].sum():.0f} enterprise(s) "
             "in total:"]
    lines += [f"  - {m}" for m in diagnosis["message"].head(limit)]
    if len(diagnosis) > limit:
        lines.append(f"  … and {len(diagnosis) - limit} more (see the diagnosis table)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- reports
def _finish_city(city: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    got = cells.groupby("city", sort=True).agg(n=("n", "sum"), n_monthly=("n_monthly", "sum"))
    city = city.copy()
    city["allocated_check"] = city["city"].map(got["n"]).fillna(0).astype(np.int64)
    city["monthly_check"] = city["city"].map(got["n_monthly"]).fillna(0).astype(np.int64)
    if (city["allocated_check"] != city["allocated"]).any() or (
            city["monthly_check"] != city["monthly_subsample"]).any():
        raise RuntimeError("internal error: cell totals do not add up to the city totals")
    cols = ["city", "population", "employment_share", "gdp_share", "tilt", "score", "existing",
            "existing_monthly", "floor", "cap", "target", "allocated", "primary", "secondary",
            "tertiary", "monitored", "monthly_floor", "monthly_subsample", "frame_units",
            "frame_employment"]
    return city[cols].reset_index(drop=True)


def _rules_report(cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings
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
            rows.append({"rule": rule.name, "label": rule.describe(), "source": rule.source,
                         "kind": rule.kind, "scope": rule.scope, "per": rule.per,
                         "city": group, "value": rule.value, "base": base,
                         "required": int(required), "achieved": achieved,
                         "binding": achieved == required})
    for r in city.itertuples(index=False):
        rows.append({"rule": "city_floor", "label": "城市最低样本数(现有样本与人口规模取大)",
                     "source": "ministry", "kind": "min_count", "scope": "sample",
                     "per": "city", "city": r.city, "value": r.floor, "base": r.allocated,
                     "required": int(r.floor), "achieved": int(r.allocated),
                     "binding": int(r.allocated) == int(r.floor)})
        if r.monitored:
            rows.append({"rule": "monthly_city_floor", "label": "月度监测城市最低样本数",
                         "source": "ministry", "kind": "min_count", "scope": "monthly",
                         "per": "city", "city": r.city, "value": r.monthly_floor,
                         "base": r.monthly_subsample, "required": int(r.monthly_floor),
                         "achieved": int(r.monthly_subsample),
                         "binding": int(r.monthly_subsample) == int(r.monthly_floor)})
    kept = int(np.minimum(cells["n"], cells["existing"]).sum())
    rows.append({"rule": "keep_existing", "label": "现有监测企业全部保留", "source": "province",
                 "kind": "min_count", "scope": "sample", "per": "province", "city": PROVINCE,
                 "value": int(cells["existing"].sum()), "base": int(cells["n"].sum()),
                 "required": int(cells["existing"].sum()), "achieved": kept, "binding": True})
    report = pd.DataFrame(rows)
    report["binding"] = np.where(report["binding"], "是", "否")
    return report


# ---------------------------------------------------------------------------------- jobs
def allocation_for(params: Params) -> AllocationResult:
    """Load the inputs named by ``params`` and allocate.

    Uses ``samplekit.demo.load_inputs(params)`` (the demo province or the user's files).
    """
    from samplekit.jobs import inputs as load_inputs

    settings = AllocationSettings.from_params(params)
    cities, frame = load_inputs(params)
    return allocate(cities, frame, settings)


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
        **{f"规则{i}": f"{r.describe()};{SCOPE_ZH[r.scope]};"
                         f"{'各市' if r.per == 'city' else '全省'};"
                         f"依据:{SOURCE_ZH.get(r.source, r.source) if r.source else '-'}"
           for i, r in enumerate(s.rules, start=1)},
        "月度子样本城市": "已有月度监测企业的城市" if s.monthly_cities is None
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


def write_allocation(result: AllocationResult, out_dir: str | Path,
                     params: Params | None = None) -> dict[str, Path]:
    """Write ``allocation_city.csv``, ``allocation_cells.csv``, ``rules_report.csv``,
    ``precision.csv`` and ``allocation.xlsx`` (Chinese headers, 说明 sheet) into ``out_dir``.

    Floats are rounded to fixed decimals so the same inputs give byte-identical files.
    """
    from samplekit.io import standard_about, write_csv, write_xlsx
    from samplekit.jobs import data_note
    from samplekit.precision import PRECISION_HEADERS_ZH

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "allocation_city": round_floats(result.city),
        "allocation_cells": round_floats(result.cells),
        "rules_report": round_floats(result.rules_report),
        "precision": round_floats(result.precision),
    }
    paths = {name: write_csv(df, out / f"{name}.csv") for name, df in tables.items()}
    headers = dict(HEADERS_ZH)
    headers.update(PRECISION_HEADERS_ZH)
    sheets = {"城市分配": tables["allocation_city"], "单元分配": tables["allocation_cells"],
              "规则检查": tables["rules_report"], "精度估计": tables["precision"]}
    titles = {"城市分配": "各市样本分配", "单元分配": "城市×行业×规模×所有制单元分配",
              "规则检查": "抽样规则检查(要求、实际、是否约束生效)",
              "精度估计": "月度就业变动率估计的预期变异系数"}
    paths["allocation_xlsx"] = write_xlsx(
        {**sheets, "规则检查": rules_for_readers(tables["rules_report"])},
        out / "allocation.xlsx", headers=headers, titles=titles,
        about=standard_about(params, extra=about(result, params)),
        source="企业名录与城市基础数据,samplekit 样本分配", units="单位:家(另注明者除外)",
        formats=XLSX_FORMATS, data_note=data_note(params) if params is not None else "")
    return paths


#: Number formats of the allocation workbook that the column names alone do not decide.
XLSX_FORMATS: dict[str, str] = {
    "tilt": "dec2", "score": "dec4", "target": "dec2", "target_n": "dec2",
    "target_monthly": "dec2", "n_neyman": "int", "n_current_mix": "int", "n_bethel": "int",
    "population": "dec1", "target_cv": "dec3",
}


def rules_for_readers(report: pd.DataFrame) -> pd.DataFrame:
    """The rules report with its codes (kind, scope, level, source) as Chinese names and the
    internal rule key dropped (``label`` names the rule)."""
    out = report.drop(columns=["rule"], errors="ignore").copy()
    for col, names in (("kind", KIND_ZH), ("scope", SCOPE_ZH), ("per", PER_ZH),
                       ("source", SOURCE_ZH)):
        if col in out.columns:
            out[col] = out[col].map(lambda v, n=names: n.get(v, v)).astype(object)
    return out


# ---------------------------------------------------------------------------------- summaries
MIX_HEADERS_ZH: dict[str, str] = {
    "group": "分组", "frame_units": "名录企业数", "frame_share": "名录企业占比",
    "frame_employment_share": "名录从业人数占比", "n": "样本数", "sample_share": "样本占比",
    "n_monthly": "月度样本数", "monthly_share": "月度样本占比",
}


def mix_table(cells: pd.DataFrame, by: Literal["section", "size_class", "ownership", "sector"]
              ) -> pd.DataFrame:
    """Composition of the frame, the sample and the monthly subsample by one attribute.

    Returns one row per group (Chinese name in ``group``) with counts and shares, sorted by
    frame employment share (descending), so a reader sees where the sample departs from the
    frame.
    """
    g = cells.groupby(by, sort=True)[["frame_units", "frame_employment", "n", "n_monthly"]].sum()
    out = pd.DataFrame({
        "frame_units": g["frame_units"],
        "frame_share": g["frame_units"] / g["frame_units"].sum(),
        "frame_employment_share": g["frame_employment"] / g["frame_employment"].sum(),
        "n": g["n"], "sample_share": g["n"] / max(g["n"].sum(), 1),
        "n_monthly": g["n_monthly"],
        "monthly_share": g["n_monthly"] / max(g["n_monthly"].sum(), 1),
    })
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
    out = out.sort_values(["frame_employment_share", "group"], ascending=[False, True],
                          kind="stable")
    return out.reset_index(drop=True)


def summary_lines(result: AllocationResult) -> list[str]:
    """Key numbers as plain Chinese text lines (rounded, stable for notebook checks)."""
    city, cells, report = result.city, result.cells, result.rules_report
    s = result.settings
    binding = report[(report["binding"] == "是") & ~report["rule"].isin(
        ["keep_existing", "city_floor", "monthly_city_floor"])]
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
    binding = report[(report["binding"] == "是") & ~report["rule"].isin(
        ["keep_existing", "city_floor", "monthly_city_floor"])]
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
        + (f"各市与全省同时达标约需 {per_city['n_bethel'].sum():,.0f} 家"
           f"(比现有方案多 {extra:,.0f} 家)。" if extra > 0 else ""),
    ]
    return "\n".join(parts)
