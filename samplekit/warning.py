"""Warning indicators, lines and levels, the composite level per city and its hysteresis.

"有警报警、无警提醒": an indicator beyond a warning line raises an alarm at that line's level; an
indicator within the approach margin of the first line sends a reminder. Everything — the levels,
each indicator's direction, lines, approach margin and scope, the composite rule and the number of
quiet periods before a level drops — comes from the ``warning:`` section of the params file.

Ranks: 0 is "no line crossed" (无警); 1 … L are the configured levels from the mildest (default
IV 蓝色) to the most severe (default I 红色). See ``docs/warning.md`` for the rules.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from samplekit.errors import ParamsError
from samplekit.params import Params
from samplekit.periods import quarter_label, quarter_months, quarters_back

#: Default of ``warning.min_reporters`` = ``estimation.SMALL_DOMAIN_REPORTERS`` (not imported
#: here: estimation pulls in scipy, and the CLI starts faster without it; a test keeps them equal).
_SMALL_DOMAIN_REPORTERS = 1120

if TYPE_CHECKING:  # estimation (scipy) is imported where it is used: the CLI starts faster
    from samplekit.estimation import Network, OutOfSample

Direction = Literal["higher_is_worse", "lower_is_worse"]
Source = Literal["estimate", "mass_layoffs", "city"]
Aggregate = Literal["sum", "last", "mean", "compound"]
Transform = Literal["level", "yoy_diff", "yoy_pct"]
Basis = Literal["estimate", "ci"]
CompositeRule = Literal["worst", "points", "score"]
Family = Literal["unemployment", "employment", "ui_fund", "macro"]
Frequency = Literal["month", "quarter"]

#: Indicator families (seed 000: unemployment, employment and UI indicators with macro series).
FAMILIES: tuple[str, ...] = ("unemployment", "employment", "ui_fund", "macro")
FAMILY_ZH: dict[str, str] = {
    "unemployment": "失业类",
    "employment": "就业类",
    "ui_fund": "失业保险基金类",
    "macro": "宏观经济类",
}
FREQUENCY_ZH: dict[str, str] = {"month": "月度", "quarter": "季度"}

STATUSES: tuple[str, ...] = ("alarm", "reminder", "normal")
#: The two monitoring networks (两网合并: one sample, two networks).
NETWORK_ZH: dict[str, str] = {
    "province": "企业用工定点监测(全省)",
    "ministry": "失业动态监测(人社部月报网络)",
}
STATUS_ZH: dict[str, str] = {"alarm": "报警", "reminder": "提醒", "normal": "正常"}
NO_LEVEL = "none"
NO_LEVEL_ZH = "无警"
DIRECTION_ZH: dict[str, str] = {"higher_is_worse": "越高越差", "lower_is_worse": "越低越差"}

#: Column order of the per-indicator levels table (levels.csv).
LEVEL_COLUMNS: list[str] = [
    "quarter",
    "city",
    "scope",
    "indicator",
    "indicator_name",
    "value",
    "se",
    "ci_low",
    "ci_high",
    "n_members",
    "n_reporters",
    "response_rate",
    "small_domain",
    "line",
    "level",
    "level_name",
    "rank",
    "status",
]

#: Chinese headers for the warning tables.
HEADERS_ZH: dict[str, str] = {
    "quarter": "季度",
    "city": "地区",
    "scope": "范围",
    "indicator": "指标代码",
    "indicator_name": "指标",
    "value": "指标值",
    "se": "标准误",
    "ci_low": "95%置信下限",
    "ci_high": "95%置信上限",
    "n_members": "在册监测企业数",
    "n_reporters": "报送企业数",
    "response_rate": "报送率(%)",
    "small_domain": "样本过少",
    "line": "对照警戒线",
    "level": "预警等级",
    "level_name": "等级名称",
    "rank": "等级序号",
    "status": "状态",
    "raw_rank": "当期等级序号",
    "composite_rank": "综合等级序号",
    "composite_level": "综合预警等级",
    "composite_name": "综合等级名称",
    "drivers": "触发指标",
    "quiet_run": "连续平稳期数",
}


@dataclass(frozen=True)
class Level:
    """One warning level: code (I–IV), Chinese name and chart colour."""

    code: str
    name: str
    color: str


@dataclass(frozen=True)
class SuddenRules:
    """Sudden-change rules of a monthly indicator (``warning.indicators.<key>.sudden``).

    ``mom_k`` / ``yoy_k``: a month-on-month (year-on-year) change in the worse direction beyond
    k standard deviations of the area's earlier changes (``window`` months before the month);
    ``line_cross``: a line crossed since the last quarterly report (the rank now above the rank
    at the previous quarter's last month). None / False switches a rule off.
    """

    mom_k: float | None = None
    yoy_k: float | None = None
    line_cross: bool = False
    window: int = 24


@dataclass(frozen=True)
class IndicatorDef:
    """One warning indicator, as configured under ``warning.indicators.<key>``.

    ``lines`` hold one line per level, mildest first; ``city_lines`` override them for named
    cities and ``province_lines`` for the province row.
    """

    key: str
    name: str
    source: Source
    column: str
    direction: Direction
    lines: tuple[float, ...]
    approach: float = 0.0
    scope: tuple[str, ...] = ("province", "city")
    core: bool = False
    aggregate: Aggregate = "last"
    transform: Transform = "level"
    forecast: bool = True
    weight: float = 1.0
    unit: str = ""
    province_lines: tuple[float, ...] | None = None
    city_lines: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    family: Family = "employment"
    frequency: Frequency = "quarter"
    valid_range: tuple[float, float] | None = None
    integer: bool = False
    table: str | None = None
    sudden: SuddenRules | None = None
    county_lines: tuple[float, ...] | None = None

    def lines_for(self, city: str, *, province: str) -> tuple[float, ...]:
        """The lines that apply to ``city`` (the province row uses ``province_lines``)."""
        if city == province and self.province_lines is not None:
            return self.province_lines
        return tuple(self.city_lines.get(city, self.lines))


@dataclass(frozen=True)
class WarningSettings:
    """The validated ``warning:`` section."""

    levels: tuple[Level, ...]
    indicators: tuple[IndicatorDef, ...]
    composite: CompositeRule = "worst"
    points_lines: tuple[float, ...] = ()
    hysteresis_periods: int = 2
    basis: Basis = "estimate"
    history_quarters: int = 16
    min_reporters: int = _SMALL_DOMAIN_REPORTERS
    city_indicators: str | None = None
    mass_layoff_persons: int = 100
    mass_layoff_share: float = 0.10
    forecast: Mapping[str, Any] = field(default_factory=dict)
    family_weights: Mapping[str, float] = field(default_factory=dict)
    score_lines: tuple[float, ...] = ()
    cooldown_months: int = 3
    mass_layoff_cluster: int | None = None
    counties: str | None = None

    def indicator(self, key: str) -> IndicatorDef:
        for ind in self.indicators:
            if ind.key == key:
                return ind
        raise KeyError(key)

    @property
    def level_codes(self) -> list[str]:
        return [lv.code for lv in self.levels]

    def level_code(self, rank: int) -> str:
        return NO_LEVEL if rank == 0 else self.levels[rank - 1].code

    def level_name(self, rank: int) -> str:
        return NO_LEVEL_ZH if rank == 0 else self.levels[rank - 1].name

    def level_color(self, rank: int) -> str:
        return "#9e9e9e" if rank == 0 else self.levels[rank - 1].color

    @classmethod
    def from_params(cls, params: Params) -> WarningSettings:
        """Read and validate ``warning:``; every error names the file and the dotted key."""
        allowed = {
            "levels",
            "indicators",
            "composite",
            "hysteresis_periods",
            "basis",
            "history_quarters",
            "min_reporters",
            "city_indicators",
            "forecast",
            "immediate",
            "counties",
        }
        params.check_keys("warning", allowed)
        levels = parse_levels(params.get("warning.levels", None), params, "warning.levels")
        raw = params.get("warning.indicators", None)
        if not isinstance(raw, Mapping) or not raw:
            raise ParamsError(
                f"{params.path}: 'warning.indicators' must be a non-empty mapping "
                "of indicator key -> definition (see docs/warning.md)"
            )
        indicators = tuple(
            parse_indicator(str(k), v, params, f"warning.indicators.{k}", n_levels=len(levels))
            for k, v in raw.items()
        )
        comp = params.get("warning.composite", {})
        if not isinstance(comp, Mapping):
            raise ParamsError(
                f"{params.path}: 'warning.composite' must be a mapping "
                "(rule: worst|points, points_lines: [...])"
            )
        unknown = sorted(set(comp) - {"rule", "points_lines", "family_weights", "score_lines"})
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {unknown} in 'warning.composite'; "
                "allowed: family_weights, points_lines, rule, score_lines"
            )
        rule = params.choice("warning.composite.rule", ("worst", "points", "score"), "worst")
        points_lines: tuple[float, ...] = ()
        if rule == "points":
            points_lines = _lines(
                params.get("warning.composite.points_lines", None),
                params,
                "warning.composite.points_lines",
                len(levels),
                "higher_is_worse",
            )
        score_lines: tuple[float, ...] = ()
        if rule == "score" or comp.get("score_lines") is not None:
            score_lines = _lines(
                params.get("warning.composite.score_lines", None),
                params,
                "warning.composite.score_lines",
                len(levels),
                "higher_is_worse",
            )
        family_weights = parse_family_weights(comp.get("family_weights"), params)
        imm = params.get("warning.immediate", {}) or {}
        if not isinstance(imm, Mapping) or set(imm) - {"cooldown_months", "mass_layoff_cluster"}:
            raise ParamsError(
                f"{params.path}: 'warning.immediate' takes cooldown_months and "
                f"mass_layoff_cluster, found {imm!r}"
            )
        cluster = imm.get("mass_layoff_cluster")
        if cluster is not None and (
            isinstance(cluster, bool) or not isinstance(cluster, int) or cluster < 1
        ):
            raise ParamsError(
                f"{params.path}: 'warning.immediate.mass_layoff_cluster' = "
                f"{cluster!r} must be a whole number ≥ 1 (mass-layoff members in "
                "one city in one month) or null"
            )
        if not any(ind.core for ind in indicators):
            raise ParamsError(
                f"{params.path}: no indicator under 'warning.indicators' has "
                "'core: true'; the composite level needs at least one"
            )
        from samplekit.rules import MassLayoffRule

        mass_layoff = MassLayoffRule.from_params(params)  # one rule: monthly.mass_layoff
        fc = params.get("warning.forecast", {})
        if not isinstance(fc, Mapping):
            raise ParamsError(f"{params.path}: 'warning.forecast' must be a mapping")
        counties = params.get("warning.counties", None)
        if counties is not None and not isinstance(counties, str):
            raise ParamsError(
                f"{params.path}: 'warning.counties' must be a path (city, county, "
                f"weight/total) or null, found {counties!r}"
            )
        city_ind = params.get("warning.city_indicators", None)
        if city_ind is not None and not isinstance(city_ind, str):
            raise ParamsError(
                f"{params.path}: 'warning.city_indicators' must be a path or null, "
                f"found {city_ind!r}"
            )
        return cls(
            levels=levels,
            indicators=indicators,
            composite=rule,  # type: ignore[arg-type]
            points_lines=points_lines,
            hysteresis_periods=int(params.number("warning.hysteresis_periods", 2, low=1, high=12)),
            basis=params.choice("warning.basis", ("estimate", "ci"), "estimate"),  # type: ignore[arg-type]
            history_quarters=int(params.number("warning.history_quarters", 16, low=1, high=80)),
            min_reporters=int(
                params.number("warning.min_reporters", _SMALL_DOMAIN_REPORTERS, low=1)
            ),
            city_indicators=city_ind,
            mass_layoff_persons=mass_layoff.min_persons,
            mass_layoff_share=mass_layoff.min_share,
            forecast=dict(fc),
            family_weights=family_weights,
            score_lines=score_lines,
            cooldown_months=int(
                params.number("warning.immediate.cooldown_months", 3, low=0, high=24)
            ),
            mass_layoff_cluster=cluster,
            counties=counties,
        )


DEFAULT_LEVELS: tuple[Level, ...] = (
    Level("IV", "蓝色", "#1f77b4"),
    Level("III", "黄色", "#e6b800"),
    Level("II", "橙色", "#ff7f0e"),
    Level("I", "红色", "#d62728"),
)


def parse_family_weights(raw: Any, params: Params | None = None) -> dict[str, float]:
    """``warning.composite.family_weights``: family -> weight ≥ 0 (empty = equal weights)."""
    where = f"{params.path}: " if params is not None else ""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not raw:
        raise ParamsError(
            f"{where}'warning.composite.family_weights' must map families "
            f"({', '.join(FAMILIES)}) to weights; found {raw!r}"
        )
    out = {}
    for k, v in raw.items():
        if k not in FAMILIES:
            raise ParamsError(
                f"{where}'warning.composite.family_weights.{k}': unknown family; "
                f"use {', '.join(FAMILIES)}"
            )
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ParamsError(
                f"{where}'warning.composite.family_weights.{k}' = {v!r} must be a number ≥ 0"
            )
        out[str(k)] = float(v)
    if sum(out.values()) <= 0:
        raise ParamsError(f"{where}'warning.composite.family_weights': the weights sum to 0")
    return out


def parse_levels(raw: Any, params: Params | None = None, key: str = "levels") -> tuple[Level, ...]:
    """Levels from a params list of ``{code, name, color}``, mildest first (default IV…I)."""
    where = f"{params.path}: " if params is not None else ""
    if raw is None:
        return DEFAULT_LEVELS
    if not isinstance(raw, list) or not raw:
        raise ParamsError(
            f"{where}'{key}' must be a list of {{code, name, color}}, mildest first; found {raw!r}"
        )
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not {"code", "name"} <= set(item):
            raise ParamsError(
                f"{where}'{key}[{i}]' must have 'code' and 'name' (and optionally "
                f"'color'); found {item!r}"
            )
        out.append(Level(str(item["code"]), str(item["name"]), str(item.get("color", "#555555"))))
    codes = [lv.code for lv in out]
    if len(set(codes)) != len(codes) or NO_LEVEL in codes:
        raise ParamsError(
            f"{where}'{key}': level codes must be unique and not '{NO_LEVEL}', found {codes}"
        )
    return tuple(out)


def _lines(
    raw: Any, params: Params | None, key: str, n_levels: int, direction: str
) -> tuple[float, ...]:
    where = f"{params.path}: " if params is not None else ""
    if (
        not isinstance(raw, list)
        or len(raw) != n_levels
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw)
    ):
        raise ParamsError(
            f"{where}'{key}' must be a list of {n_levels} numbers (one line per "
            f"level, mildest first); found {raw!r}"
        )
    values = tuple(float(x) for x in raw)
    steps = np.diff(values)
    ok = np.all(steps > 0) if direction == "higher_is_worse" else np.all(steps < 0)
    if not ok:
        order = "increasing" if direction == "higher_is_worse" else "decreasing"
        raise ParamsError(
            f"{where}'{key}' = {list(values)} must be strictly {order} "
            f"(direction {direction}: each level's line is worse than the last)"
        )
    return values


def parse_indicator(
    key: str, raw: Any, params: Params | None, where_key: str, *, n_levels: int
) -> IndicatorDef:
    """One indicator definition from its params mapping (see ``docs/warning.md``)."""
    where = f"{params.path}: " if params is not None else ""
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where}'{where_key}' must be a mapping, found {raw!r}")
    allowed = {
        "name",
        "source",
        "column",
        "direction",
        "lines",
        "approach",
        "scope",
        "core",
        "aggregate",
        "transform",
        "forecast",
        "weight",
        "unit",
        "province_lines",
        "city_lines",
        "family",
        "frequency",
        "range",
        "integer",
        "table",
        "sudden",
        "county_lines",
    }
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ParamsError(
            f"{where}unknown key(s) {unknown} in '{where_key}'; allowed: "
            f"{', '.join(sorted(allowed))}"
        )

    def choice(name: str, options: Sequence[str], default: str | None = None) -> str:
        value = raw.get(name, default)
        if value not in options:
            raise ParamsError(
                f"{where}'{where_key}.{name}' = {value!r} is not one of {', '.join(options)}"
            )
        return str(value)

    direction = choice("direction", ("higher_is_worse", "lower_is_worse"))
    source = choice("source", ("estimate", "mass_layoffs", "city"))
    lines = _lines(raw.get("lines"), params, f"{where_key}.lines", n_levels, direction)
    prov = raw.get("province_lines")
    province_lines = (
        None
        if prov is None
        else _lines(prov, params, f"{where_key}.province_lines", n_levels, direction)
    )
    city_lines_raw = raw.get("city_lines") or {}
    if not isinstance(city_lines_raw, Mapping):
        raise ParamsError(f"{where}'{where_key}.city_lines' must map city -> list of lines")
    city_lines = {
        str(c): _lines(v, params, f"{where_key}.city_lines.{c}", n_levels, direction)
        for c, v in city_lines_raw.items()
    }
    scope_raw = raw.get("scope", ["province", "city"])
    scope = tuple([scope_raw] if isinstance(scope_raw, str) else scope_raw)
    if not scope or not set(scope) <= {"province", "city", "county"}:
        raise ParamsError(
            f"{where}'{where_key}.scope' = {scope_raw!r}: use a list of "
            "'province', 'city' and/or 'county'"
        )
    county = raw.get("county_lines")
    county_lines = (
        None
        if county is None
        else _lines(county, params, f"{where_key}.county_lines", n_levels, direction)
    )
    rng_raw = raw.get("range")
    valid_range: tuple[float, float] | None = None
    if rng_raw is not None:
        if (
            not isinstance(rng_raw, list)
            or len(rng_raw) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rng_raw)
            or not rng_raw[0] < rng_raw[1]
        ):
            raise ParamsError(
                f"{where}'{where_key}.range' = {rng_raw!r} must be [low, high] with "
                "low < high (the values an external table may hold)"
            )
        valid_range = (float(rng_raw[0]), float(rng_raw[1]))
    table = raw.get("table")
    if table is not None and (not isinstance(table, str) or source != "city"):
        raise ParamsError(
            f"{where}'{where_key}.table' = {table!r}: a path to an external table "
            "(city, period, column), only with 'source: city'"
        )
    frequency = raw.get("frequency", "quarter")
    if frequency == "month" and source != "city":
        raise ParamsError(
            f"{where}'{where_key}.frequency: month' needs 'source: city' (a monthly "
            "external or city-table column); design-based estimates are quarterly"
        )
    if raw.get("sudden") is not None and frequency != "month":
        raise ParamsError(
            f"{where}'{where_key}.sudden' needs 'frequency: month' (sudden-change "
            "rules judge monthly values)"
        )
    approach = raw.get("approach", 0.0)
    if not isinstance(approach, (int, float)) or isinstance(approach, bool) or approach < 0:
        raise ParamsError(
            f"{where}'{where_key}.approach' = {approach!r} must be a number ≥ 0 "
            "(the reminder margin, in the indicator's units)"
        )
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
        raise ParamsError(f"{where}'{where_key}.weight' = {weight!r} must be a number ≥ 0")
    for flag in ("core", "forecast", "integer"):
        if flag in raw and not isinstance(raw[flag], bool):
            raise ParamsError(
                f"{where}'{where_key}.{flag}' must be true or false, found {raw[flag]!r}"
            )
    return IndicatorDef(
        key=key,
        name=str(raw.get("name", key)),
        source=source,  # type: ignore[arg-type]
        column=str(raw.get("column", key)),
        direction=direction,  # type: ignore[arg-type]
        lines=lines,
        approach=float(approach),
        scope=scope,
        core=bool(raw.get("core", False)),
        aggregate=choice("aggregate", ("sum", "last", "mean", "compound"), "last"),  # type: ignore[arg-type]
        transform=choice("transform", ("level", "yoy_diff", "yoy_pct"), "level"),  # type: ignore[arg-type]
        forecast=bool(raw.get("forecast", source != "mass_layoffs")),
        weight=float(weight),
        unit=str(raw.get("unit", "")),
        province_lines=province_lines,
        city_lines=city_lines,
        family=choice(
            "family",
            FAMILIES,  # type: ignore[arg-type]
            "unemployment" if source == "city" else "employment",
        ),
        frequency=choice("frequency", ("month", "quarter"), "quarter"),  # type: ignore[arg-type]
        valid_range=valid_range,
        integer=bool(raw.get("integer", False)),
        table=table,
        sudden=_parse_sudden(raw.get("sudden"), where, where_key),
        county_lines=county_lines,
    )


def _parse_sudden(raw: Any, where: str, where_key: str) -> SuddenRules | None:
    if raw is None:
        return None
    allowed = {"mom_k", "yoy_k", "line_cross", "window"}
    if not isinstance(raw, Mapping) or set(raw) - allowed:
        raise ParamsError(
            f"{where}'{where_key}.sudden' must be a mapping with keys among "
            f"{', '.join(sorted(allowed))}; found {raw!r}"
        )
    ks = {}
    for name in ("mom_k", "yoy_k"):
        v = raw.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise ParamsError(
                f"{where}'{where_key}.sudden.{name}' = {v!r} must be a number > 0 "
                "(standard deviations) or null"
            )
        ks[name] = None if v is None else float(v)
    cross = raw.get("line_cross", False)
    if not isinstance(cross, bool):
        raise ParamsError(f"{where}'{where_key}.sudden.line_cross' must be true or false")
    window = raw.get("window", 24)
    if isinstance(window, bool) or not isinstance(window, int) or not 6 <= window <= 120:
        raise ParamsError(
            f"{where}'{where_key}.sudden.window' = {window!r} must be a whole "
            "number of months in [6, 120]"
        )
    return SuddenRules(mom_k=ks["mom_k"], yoy_k=ks["yoy_k"], line_cross=cross, window=window)


# ---------------------------------------------------------------------------------- levels
def classify(
    value: float, lines: Sequence[float], direction: Direction, approach: float = 0.0
) -> tuple[int, str, float]:
    """Rank, status and the line that applies, for one value.

    Parameters
    ----------
    value : float
        The indicator value (NaN gives rank 0, status ``normal`` and the first line).
    lines : sequence of float
        One line per level, mildest first (increasing when higher is worse).
    direction : {"higher_is_worse", "lower_is_worse"}
    approach : float
        Reminder margin in the indicator's units: a value within ``approach`` of the first line
        (and not beyond it) is a reminder.

    Returns
    -------
    (rank, status, line)
        ``rank`` 0 when no line is crossed, else the index (1-based) of the most severe line
        crossed; ``line`` is that line, or the first line when none is crossed.

    Examples
    --------
    >>> classify(3.6, [3.0, 3.5, 4.0, 4.5], "higher_is_worse", 0.2)
    (2, 'alarm', 3.5)
    >>> classify(2.9, [3.0, 3.5, 4.0, 4.5], "higher_is_worse", 0.2)
    (0, 'reminder', 3.0)
    """
    if value is None or not np.isfinite(value):
        return 0, "normal", float(lines[0])
    sign = 1.0 if direction == "higher_is_worse" else -1.0
    # A line is crossed when the value reaches it (≥ for higher-is-worse, ≤ otherwise); the
    # tolerance keeps decimal inputs like 2.8 vs 3.0 − 0.2 on the side a reader expects.
    eps = 1e-9
    crossed = [i for i, line in enumerate(lines) if sign * (value - line) >= -eps]
    if crossed:
        rank = max(crossed) + 1
        return rank, "alarm", float(lines[rank - 1])
    if sign * (value - lines[0]) >= -approach - eps:
        return 0, "reminder", float(lines[0])
    return 0, "normal", float(lines[0])


def assign_levels(
    values: pd.DataFrame, settings: WarningSettings, *, province: str
) -> pd.DataFrame:
    """Level and status of each indicator value.

    Parameters
    ----------
    values : DataFrame
        ``quarter, city, indicator, value`` and optionally ``se, ci_low, ci_high, n_reporters,
        small_domain``; ``city`` equal to ``province`` marks the province row.
    settings : WarningSettings
    province : str
        The province's name as it appears in ``city``.

    Returns
    -------
    DataFrame with :data:`LEVEL_COLUMNS`, sorted by quarter, city, indicator. Rows outside an
    indicator's scope are dropped. With ``basis: ci`` the bound of the confidence interval nearer
    to the normal side is compared with the lines (an alarm needs the whole interval beyond the
    line); indicators without a CI use the value.
    """
    df = values.copy()
    for col in ("se", "ci_low", "ci_high", "n_members", "n_reporters", "response_rate"):
        if col not in df:
            df[col] = np.nan
    if "small_domain" not in df:
        df["small_domain"] = False
    defs = {ind.key: ind for ind in settings.indicators}
    unknown = sorted(set(df["indicator"]) - set(defs))
    if unknown:
        raise ParamsError(f"indicator(s) {unknown} have no definition under 'warning.indicators'")
    rows = []
    for rec in df.itertuples(index=False):
        ind = defs[rec.indicator]
        scope = "province" if rec.city == province else "city"
        if scope not in ind.scope:
            continue
        lines = ind.lines_for(rec.city, province=province)
        value = float(rec.value) if pd.notna(rec.value) else np.nan
        judged = value
        if settings.basis == "ci" and pd.notna(rec.ci_low) and pd.notna(rec.ci_high):
            judged = float(rec.ci_low if ind.direction == "higher_is_worse" else rec.ci_high)
        rank, status, line = classify(judged, lines, ind.direction, ind.approach)
        rows.append(
            {
                "quarter": rec.quarter,
                "city": rec.city,
                "scope": scope,
                "indicator": ind.key,
                "indicator_name": ind.name,
                "value": value,
                "se": rec.se,
                "ci_low": rec.ci_low,
                "ci_high": rec.ci_high,
                "n_members": rec.n_members,
                "n_reporters": rec.n_reporters,
                "response_rate": rec.response_rate,
                "small_domain": bool(rec.small_domain) if pd.notna(rec.small_domain) else False,
                "line": line,
                "level": settings.level_code(rank),
                "level_name": settings.level_name(rank),
                "rank": rank,
                "status": status,
            }
        )
    out = pd.DataFrame(rows, columns=LEVEL_COLUMNS)
    for col in ("n_members", "n_reporters"):
        out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
    out["response_rate"] = pd.to_numeric(out["response_rate"], errors="coerce")
    return out.sort_values(["quarter", "city", "indicator"], kind="stable").reset_index(drop=True)


def points_rank(points: float, points_lines: Sequence[float]) -> int:
    """Composite rank from a points total: the number of points lines reached."""
    return int(sum(points >= line for line in points_lines))


def composite_raw(levels: pd.DataFrame, settings: WarningSettings) -> pd.DataFrame:
    """The composite rank of each city and quarter before hysteresis.

    Rule ``worst``: the highest rank among the core indicators. Rule ``points``: the sum over core
    indicators of ``weight × rank``, mapped to a level by ``composite.points_lines``.

    Returns ``quarter, city, raw_rank, drivers`` (the core indicators at the raw rank, or at any
    alarm for ``points``; ``;``-separated).
    """
    core = {ind.key: ind for ind in settings.indicators if ind.core}
    if settings.composite == "score":
        scores, contrib = composite_score(levels, settings)
        drivers = (
            contrib[contrib["contribution"] > 0]
            .groupby(["quarter", "city"])["indicator"]
            .agg(lambda s: ";".join(sorted(s)))
        )
        out = scores[["quarter", "city"]].copy()
        out["raw_rank"] = [points_rank(v, settings.score_lines) for v in scores["score"]]
        out["drivers"] = [
            drivers.get((q, c), "") for q, c in zip(out["quarter"], out["city"], strict=True)
        ]
        return out.reset_index(drop=True)
    sub = levels[levels["indicator"].isin(core)]
    rows = []
    for (quarter, city), grp in sub.groupby(["quarter", "city"], sort=True):
        if settings.composite == "worst":
            rank = int(grp["rank"].max())
            drivers = grp.loc[(grp["rank"] == rank) & (rank > 0), "indicator"]
        else:
            points = float(
                sum(core[k].weight * r for k, r in zip(grp["indicator"], grp["rank"], strict=True))
            )
            rank = points_rank(points, settings.points_lines)
            drivers = grp.loc[grp["rank"] > 0, "indicator"]
        rows.append(
            {
                "quarter": quarter,
                "city": city,
                "raw_rank": rank,
                "drivers": ";".join(sorted(drivers)),
            }
        )
    return pd.DataFrame(rows, columns=["quarter", "city", "raw_rank", "drivers"])


CONTRIBUTION_COLUMNS: list[str] = [
    "quarter",
    "city",
    "indicator",
    "indicator_name",
    "family",
    "family_weight",
    "indicator_share",
    "rank",
    "severity",
    "contribution",
]


def composite_score(
    levels: pd.DataFrame, settings: WarningSettings, *, period_column: str = "quarter"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An explainable composite: a weighted score (0–100) over indicator families.

    For area a and period t, with L levels, every indicator i judged there (a finite value)
    has severity s_i = rank_i / L. Family f gets weight W_f (``composite.family_weights``,
    default equal), renormalised over the families judged in that area and period; within a
    family indicator i gets the share w_i / Σ_{j∈f} w_j of its ``weight``. The contribution is
    c_i = 100 · W_f · share_i · s_i and the score is Σ c_i: 0 = no line crossed anywhere, 100 =
    every indicator at the most severe level. Indicators with weight 0 are shown with c_i = 0.

    Returns
    -------
    (scores, contributions)
        ``scores``: ``<period>, city, score``; ``contributions``:
        :data:`CONTRIBUTION_COLUMNS` (one row per judged indicator; they sum to the score).
    """
    defs = {ind.key: ind for ind in settings.indicators}
    n_levels = len(settings.levels)
    df = levels[levels["value"].notna()].copy()
    cols = [period_column if c == "quarter" else c for c in CONTRIBUTION_COLUMNS]
    if df.empty:
        return (pd.DataFrame(columns=[period_column, "city", "score"]), pd.DataFrame(columns=cols))
    df["family"] = [defs[k].family for k in df["indicator"]]
    df["weight"] = [defs[k].weight for k in df["indicator"]]
    df["indicator_name"] = [defs[k].name for k in df["indicator"]]
    fam_w = settings.family_weights or dict.fromkeys(FAMILIES, 1.0)
    parts = []
    for (_t, _c), grp in df.groupby([period_column, "city"], sort=True):
        fam_tot = grp.groupby("family")["weight"].sum()
        present = [f for f in fam_tot.index if fam_tot[f] > 0 and fam_w.get(f, 0.0) > 0]
        total = sum(fam_w[f] for f in present)
        g = grp.copy()
        g["family_weight"] = [
            fam_w.get(f, 0.0) / total if f in present else 0.0 for f in g["family"]
        ]
        g["indicator_share"] = [
            w / fam_tot[f] if fam_tot[f] > 0 else 0.0
            for f, w in zip(g["family"], g["weight"], strict=True)
        ]
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    out["severity"] = out["rank"].astype(float) / n_levels
    out["contribution"] = 100.0 * out["family_weight"] * out["indicator_share"] * out["severity"]
    contrib = out[cols].reset_index(drop=True)
    scores = (
        contrib.groupby([period_column, "city"], sort=True)["contribution"]
        .sum()
        .rename("score")
        .reset_index()
    )
    return scores, contrib


def explain_score(
    contributions: pd.DataFrame,
    settings: WarningSettings,
    *,
    city: str,
    period: str,
    period_column: str = "quarter",
    top: int = 3,
) -> str:
    """One Chinese sentence saying why an area has its score: the score, each family's part and
    the indicators contributing most (with their levels)."""
    c = contributions[(contributions["city"] == city) & (contributions[period_column] == period)]
    if c.empty:
        return f"{city}:无可判断的指标。"
    score = float(c["contribution"].sum())
    fam = c.groupby("family", sort=False)["contribution"].sum()
    fam = fam.reindex([f for f in FAMILIES if f in fam.index])  # a fixed order for readers
    fam_txt = "、".join(f"{FAMILY_ZH.get(f, f)}{v:.1f}分" for f, v in fam.items())
    hot = c[c["contribution"] > 0].sort_values("contribution", ascending=False, kind="stable")
    if hot.empty:
        return f"{city}综合得分 {score:.1f}(满分100):{fam_txt};没有指标越过警戒线。"
    why = "、".join(
        f"{r.indicator_name}({settings.level_name(int(r.rank))}预警,{r.contribution:.1f}分)"
        for r in hot.head(top).itertuples(index=False)
    )
    return f"{city}综合得分 {score:.1f}(满分100):{fam_txt};主要来自{why}。"


def apply_hysteresis(raw_ranks: Sequence[int], periods: int) -> tuple[list[int], list[int]]:
    """Hold a level until ``periods`` consecutive quiet periods have passed.

    A level rises at once. A period is *quiet* when its raw rank is below the level in force; at
    the ``periods``-th consecutive quiet period the level drops to the highest raw rank seen in
    those quiet periods (so it never drops below what was observed). ``periods = 1`` means no
    hysteresis.

    Returns
    -------
    (ranks, quiet_run)
        The rank in force each period and the length of the current quiet run.

    Examples
    --------
    >>> apply_hysteresis([0, 3, 1, 0, 0, 2], 2)
    ([0, 3, 3, 1, 1, 2], [0, 0, 1, 0, 1, 0])
    """
    if periods < 1:
        raise ValueError("periods must be ≥ 1")
    out: list[int] = []
    runs: list[int] = []
    level = 0
    quiet: list[int] = []
    for i, raw in enumerate(int(r) for r in raw_ranks):
        if i == 0 or raw >= level:
            level, quiet = raw, []
        else:
            quiet.append(raw)
            if len(quiet) >= periods:
                level, quiet = max(quiet), []
        out.append(level)
        runs.append(len(quiet))
    return out, runs


def composite_levels(levels: pd.DataFrame, settings: WarningSettings) -> pd.DataFrame:
    """Composite level per city and quarter, with hysteresis over the quarters given.

    Returns ``quarter, city, raw_rank, composite_rank, composite_level, composite_name,
    quiet_run, drivers`` sorted by city then quarter.
    """
    raw = composite_raw(levels, settings)
    parts = []
    for _city, grp in raw.groupby("city", sort=True):
        grp = grp.sort_values("quarter").copy()
        ranks, runs = apply_hysteresis(grp["raw_rank"].tolist(), settings.hysteresis_periods)
        grp["composite_rank"] = ranks
        grp["quiet_run"] = runs
        parts.append(grp)
    cols = [
        "quarter",
        "city",
        "raw_rank",
        "composite_rank",
        "composite_level",
        "composite_name",
        "quiet_run",
        "drivers",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["composite_level"] = [settings.level_code(r) for r in out["composite_rank"]]
    out["composite_name"] = [settings.level_name(r) for r in out["composite_rank"]]
    return out[cols].reset_index(drop=True)


# ------------------------------------------------------------------------- quarterly values
def _transform_values(df: pd.DataFrame, transform: str, z: float) -> pd.DataFrame:
    """Apply a year-on-year transform to ``quarter, city, value, se`` rows (same city, q − 4).

    ``yoy_diff``: value − value a year earlier, se = √(se² + se_ly²) (the two quarters'
    covariance on the matched panel is ignored, which overstates the se when it is positive);
    ``yoy_pct``: 100·(value / value_ly − 1), se by the delta method.
    A ``bridge_se`` column (values bridged across a series break, ``bridge.bridge_quarters``)
    is the part of each se due to the one estimated shift: two bridged quarters share it, so
    their covariance ``bridge_se × bridge_se_ly`` is taken out (the shift cancels in the change).
    """
    if transform == "level":
        return df
    bridged = "bridge_se" in df.columns
    prev = df[["quarter", "city", "value", "se", *(["bridge_se"] if bridged else [])]].copy()
    prev["quarter"] = [str(pd.Period(q, freq="Q") + 4) for q in prev["quarter"]]
    m = df.merge(prev, on=["quarter", "city"], how="left", suffixes=("", "_ly"))
    se, se_ly = m["se"].astype(float), m["se_ly"].astype(float)
    cov = (
        m["bridge_se"].astype(float).fillna(0) * m["bridge_se_ly"].astype(float).fillna(0)
        if bridged
        else 0.0
    )
    if transform == "yoy_diff":
        m["value"] = m["value"] - m["value_ly"]
        m["se"] = np.sqrt(np.maximum(se**2 + se_ly**2 - 2 * cov, 0))
    else:
        ratio = m["value"] / m["value_ly"].where(m["value_ly"] != 0)
        v, v_ly = m["value"], m["value_ly"]
        m["se"] = 100 * np.sqrt(
            np.maximum((se / v_ly) ** 2 + (v * se_ly / v_ly**2) ** 2 - 2 * v * cov / v_ly**3, 0)
        )
        m["value"] = 100 * (ratio - 1)
    m["ci_low"] = m["value"] - z * m["se"]
    m["ci_high"] = m["value"] + z * m["se"]
    return m.drop(columns=["value_ly", "se_ly", *(["bridge_se_ly"] if bridged else [])])


def estimate_quarters(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    quarters: Sequence[str],
    *,
    province: str,
    indicators: Sequence[str] | None = None,
    min_reporters: int = 5,
    level: float = 0.95,
    out_of_sample: OutOfSample = "error",
) -> pd.DataFrame:
    """Design-based estimates (``estimation.estimate``) per city and for the province.

    ``membership`` is the panel of record (each quarter is estimated from the members in force
    in it, with that window's weights) or a one-window sample list. Returns ``quarter, city,
    indicator, estimate, se, ci_low, ci_high, n_members, n_reporters, response_rate,
    small_domain``; the province row has
    ``city == province``. Quarters without all three months in the reports are skipped.
    """
    from samplekit.estimation import estimate

    period = reports["period"].astype(str)
    have = set(period)
    # A member that closed before a quarter (last report: 0 employed) counts as a reporter with
    # 0, not as non-response: the quarter's rows plus the earlier rows of enterprises that ever
    # reported 0 employed (enough to find each one's latest earlier report).
    zero = pd.to_numeric(reports["survey_employment"], errors="coerce") == 0
    ever_zero = reports["enterprise_id"].isin(set(reports.loc[zero, "enterprise_id"]))
    parts = []
    for q in quarters:
        months = quarter_months(q)
        if not set(months) <= have:
            continue
        rep = reports[period.isin(months) | ((period < months[0]) & ever_zero)]
        kw = {
            "periods": months,
            "min_reporters": min_reporters,
            "level": level,
            "indicators": list(indicators) if indicators is not None else None,
            "out_of_sample": out_of_sample,
        }
        by_city = estimate(rep, membership, by=["city"], **kw)
        prov = estimate(rep, membership, **kw).assign(city=province)
        parts += [by_city.assign(quarter=q), prov.assign(quarter=q)]
    cols = [
        "quarter",
        "city",
        "indicator",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n_members",
        "n_reporters",
        "response_rate",
        "small_domain",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    return out.sort_values(["quarter", "city", "indicator"], kind="stable").reset_index(drop=True)


def city_quarterly(table: pd.DataFrame, column: str, aggregate: str) -> pd.DataFrame:
    """Quarterly values of a monthly city-table column: ``quarter, city, value``.

    ``sum`` and ``mean`` need the three months; ``last`` takes the quarter's last month.
    """
    if column not in table:
        return pd.DataFrame(columns=["quarter", "city", "value"])
    df = table[["city", "period", column]].dropna().copy()
    df["quarter"] = [str(pd.Period(p, freq="M").asfreq("Q")) for p in df["period"]]
    df = df.sort_values(["city", "period"])
    g = df.groupby(["quarter", "city"], sort=True)[column]
    n = g.size()
    if aggregate == "sum":
        val = g.sum().where(n == 3)
    elif aggregate == "mean":
        val = g.mean().where(n == 3)
    elif aggregate == "compound":
        val = g.apply(lambda s: 100 * (np.prod(1 + s / 100) - 1)).where(n == 3)
    else:
        last_month = {q: quarter_months(q)[-1] for q in df["quarter"].unique()}
        df = df[[p == last_month[q] for p, q in zip(df["period"], df["quarter"], strict=True)]]
        val = df.set_index(["quarter", "city"])[column]
    return val.rename("value").reset_index().dropna()


def mass_layoff_counts(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    quarters: Sequence[str],
    *,
    province: str,
    min_persons: int = 100,
    min_share: float = 0.10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members with a mass layoff (≥ min_persons or ≥ min_share of staff cut in a month, seed
    002's line) per city and quarter, and the list itself.

    Each month counts the members in force that month (``membership``: the panel of record, or a
    one-window sample list); reports of non-members and of individual organisations are left
    out of the list.
    Returns ``(counts: quarter, city, value; list: monthly_tables.mass_layoffs rows + quarter)``.
    """
    from samplekit.monthly_tables import mass_layoffs

    months = [m for q in quarters for m in quarter_months(q)]
    rep = reports[reports["period"].astype(str).isin(months)]
    cities = sorted(membership["city"].astype(str).unique())
    ml = mass_layoffs(
        rep, membership, min_persons=min_persons, min_share=min_share, network="province"
    )
    ml = ml[ml["city"].isin(cities)]
    if "individual" in membership.columns:  # 附表三 units are not part of the design
        from samplekit.estimation import _flag

        ind = membership.loc[_flag(membership["individual"]), "enterprise_id"]
        ml = ml[~ml["enterprise_id"].isin(set(ind.astype(str)))]
    ml = ml.assign(quarter=[str(pd.Period(p, freq="M").asfreq("Q")) for p in ml["period"]])
    distinct = ml.drop_duplicates(["quarter", "enterprise_id"])
    grid = pd.MultiIndex.from_product([list(quarters), cities], names=["quarter", "city"])
    counts = distinct.groupby(["quarter", "city"]).size().reindex(grid, fill_value=0)
    counts = counts.rename("value").reset_index()
    prov = counts.groupby("quarter", as_index=False)["value"].sum().assign(city=province)
    out = pd.concat([counts, prov], ignore_index=True)
    out["value"] = out["value"].astype(float)
    return out, ml


def indicator_values(
    estimates: pd.DataFrame,
    city_table: pd.DataFrame | None,
    mass_counts: pd.DataFrame | None,
    settings: WarningSettings,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """The warning indicators per quarter and city, from their sources and transforms.

    Returns ``quarter, city, indicator, value, se, ci_low, ci_high, n_reporters,
    small_domain`` (se and CI only for design-based estimates).
    """
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    # Estimates bridged across a series break carry the shift's part of their se.
    extra = ["bridge_se"] if "bridge_se" in estimates.columns else []
    parts = []
    for ind in settings.indicators:
        if ind.source == "estimate":
            df = estimates[estimates["indicator"] == ind.column].rename(
                columns={"estimate": "value"}
            )[
                [
                    "quarter",
                    "city",
                    "value",
                    "se",
                    "ci_low",
                    "ci_high",
                    *[c for c in ("n_members", "n_reporters", "response_rate") if c in estimates],
                    "small_domain",
                    *extra,
                ]
            ]
        elif ind.source == "city":
            if city_table is None or ind.column not in city_table:
                continue
            df = city_quarterly(city_table, ind.column, ind.aggregate).assign(
                se=np.nan, ci_low=np.nan, ci_high=np.nan, n_reporters=np.nan, small_domain=False
            )
        else:
            if mass_counts is None:
                continue
            df = mass_counts.assign(
                se=np.nan, ci_low=np.nan, ci_high=np.nan, n_reporters=np.nan, small_domain=False
            )
        if extra and "bridge_se" not in df.columns:
            df = df.assign(bridge_se=0.0)
        df = _transform_values(df.copy(), ind.transform, z)
        parts.append(df.assign(indicator=ind.key))
    cols = [
        "quarter",
        "city",
        "indicator",
        "value",
        "se",
        "ci_low",
        "ci_high",
        "n_members",
        "n_reporters",
        "response_rate",
        "small_domain",
    ]
    out = pd.concat(parts, ignore_index=True).reindex(columns=cols)
    return out.sort_values(["quarter", "city", "indicator"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------- forecasts
def monthly_inputs(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    city_table: pd.DataFrame | None,
    settings: WarningSettings,
    *,
    province: str,
    end: str,
    out_of_sample: OutOfSample = "error",
) -> pd.DataFrame:
    """Monthly series of every forecast indicator: ``city, indicator, period, value`` up to
    ``end`` (estimates from ``estimation.monthly_series``, each month from the members in force
    in it; city inputs from the table)."""
    from samplekit.estimation import monthly_series

    parts = []
    rep = reports[reports["period"].astype(str) <= end]
    for ind in settings.indicators:
        if not ind.forecast:
            continue
        if ind.source == "estimate":
            kw = {
                "indicator": ind.column,
                "min_reporters": settings.min_reporters,
                "out_of_sample": out_of_sample,
            }
            by_city = monthly_series(rep, membership, by=["city"], **kw)
            prov = monthly_series(rep, membership, **kw).assign(city=province)
            df = pd.concat([by_city, prov], ignore_index=True).rename(columns={"estimate": "value"})
        elif ind.source == "city" and city_table is not None and ind.column in city_table:
            df = city_table[["city", "period", ind.column]].rename(columns={ind.column: "value"})
            df = df[df["period"] <= end]
        else:
            continue
        parts.append(df[["city", "period", "value"]].assign(indicator=ind.key))
    cols = ["city", "indicator", "period", "value"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    return out.sort_values(["indicator", "city", "period"], kind="stable").reset_index(drop=True)


def _yoy_transform(history: pd.Series, target_months: Sequence[str], ind: IndicatorDef):
    """The forecast's quarter transform: compare with the same months a year earlier."""
    from samplekit.forecast import aggregate_paths

    if ind.transform == "level":
        return None
    ly = [str(pd.Period(m, freq="M") - 12) for m in target_months]
    if not set(ly) <= set(history.index):
        return lambda v: np.full_like(np.asarray(v, dtype=float), np.nan)
    ref = float(aggregate_paths(history.loc[ly].to_numpy(dtype=float)[None, :], ind.aggregate)[0])
    if ind.transform == "yoy_diff":
        return lambda v: np.asarray(v, dtype=float) - ref
    return lambda v: (
        100 * (np.asarray(v, dtype=float) / ref - 1)
        if ref
        else np.full_like(np.asarray(v, dtype=float), np.nan)
    )


def forecast_indicators(
    monthly: pd.DataFrame, settings: WarningSettings, fsettings: Any, *, province: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Forecast every (city, indicator) monthly series and the next quarter.

    Returns
    -------
    (forecasts, crossing, scores)
        ``forecasts``: :data:`samplekit.forecast.FORECAST_COLUMNS` — ``kind = month`` rows are
        the monthly series 1…H months ahead (before any quarterly aggregate or transform),
        ``kind = quarter`` the next quarter on the indicator's warning scale (what the lines
        apply to); ``crossing``: ``city, indicator, target,
        level, line, probability`` — the probability that next quarter's value is at or beyond
        each line; ``scores``: ``city, indicator, model, horizon, rmse, n, chosen``.
    """
    from samplekit.forecast import (
        FORECAST_COLUMNS,
        crossing_probabilities,
        forecast_series,
        forecast_table,
        quarter_values,
    )

    defs = {ind.key: ind for ind in settings.indicators}
    f_parts, c_rows, s_parts = [], [], []
    need = 2 * (fsettings.season or 12)  # season: null (adjusted series) still needs 2 years
    for (indicator, city), grp in monthly.groupby(["indicator", "city"], sort=True):
        ind = defs[indicator]
        scope = "province" if city == province else "city"
        if scope not in ind.scope:
            continue
        series = grp.set_index("period")["value"].astype(float)
        if series.notna().sum() < need:
            continue
        fc = forecast_series(series, fsettings, key=f"{city}|{indicator}")
        months = [m for m in fc.periods if quarter_months(quarter_label(m))[0] == m]
        target = quarter_months(quarter_label(months[0])) if months else []
        transform = _yoy_transform(series, target, ind) if target else None
        table = forecast_table(
            fc,
            city=city,
            indicator=indicator,
            aggregate=ind.aggregate,
            level=fsettings.level,
            transform=transform,
        )
        f_parts.append(table)
        q = quarter_values(fc, ind.aggregate, transform)
        if q is not None:
            label, _point, draws = q
            lines = ind.lines_for(city, province=province)
            probs = crossing_probabilities(draws, lines, ind.direction)
            for k, (line, p) in enumerate(zip(lines, probs, strict=True)):
                c_rows.append(
                    {
                        "city": city,
                        "indicator": indicator,
                        "target": label,
                        "level": settings.levels[k].code,
                        "line": line,
                        "probability": p,
                    }
                )
        sc = fc.scores.assign(
            city=city, indicator=indicator, chosen=fc.scores["model"].isin(fc.models or (fc.model,))
        )
        s_parts.append(sc)
    forecasts = (
        pd.concat(f_parts, ignore_index=True) if f_parts else pd.DataFrame(columns=FORECAST_COLUMNS)
    )
    crossing = pd.DataFrame(
        c_rows, columns=["city", "indicator", "target", "level", "line", "probability"]
    )
    scores = (
        pd.concat(s_parts, ignore_index=True)[
            ["city", "indicator", "model", "horizon", "rmse", "n", "chosen"]
        ]
        if s_parts
        else pd.DataFrame(columns=["city", "indicator", "model", "horizon", "rmse", "n", "chosen"])
    )
    return forecasts, crossing, scores


# ------------------------------------------------------------------------------------- job
@dataclass(frozen=True)
class WarningResult:
    """Everything ``samplekit warn`` and notebooks 04/05 show for one quarter."""

    quarter: str
    province: str
    settings: WarningSettings
    values: pd.DataFrame  # indicator values, all quarters judged
    levels: pd.DataFrame  # per indicator, all quarters (LEVEL_COLUMNS)
    composite: pd.DataFrame  # per city and quarter, with hysteresis
    estimates: pd.DataFrame  # every estimation indicator for the quarter (province + cities)
    monthly: pd.DataFrame  # monthly input series (forecast indicators)
    forecasts: pd.DataFrame
    crossing: pd.DataFrame
    scores: pd.DataFrame
    mass_layoffs: pd.DataFrame  # the list for the quarter
    network: str = "province"  # the monitoring network estimated (estimation.network_members)
    composite_scores: pd.DataFrame = field(default_factory=pd.DataFrame)  # score per city
    contributions: pd.DataFrame = field(default_factory=pd.DataFrame)  # per indicator
    # A declared series break (bridge.WarningBreak) and, per value, the panel it comes from
    # (bridge.value_sources); None / empty without a break.
    series_break: Any = None
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def network_zh(self) -> str:
        """The network in words, for titles and notes."""
        return NETWORK_ZH.get(self.network, self.network)

    @property
    def current_levels(self) -> pd.DataFrame:
        return self.levels[self.levels["quarter"] == self.quarter].reset_index(drop=True)

    @property
    def current_composite(self) -> pd.DataFrame:
        return self.composite[self.composite["quarter"] == self.quarter].reset_index(drop=True)


def compute_warning(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    city_table: pd.DataFrame | None,
    settings: WarningSettings,
    *,
    quarter: str,
    province: str,
    fsettings: Any = None,
    forecasts: bool = True,
    network: Network = "province",
    out_of_sample: OutOfSample = "error",
    series_break: Any = None,
) -> WarningResult:
    """The warning analysis for ``quarter`` from reports, the membership and the city table
    (pure).

    Parameters
    ----------
    membership : DataFrame
        The panel of record (``store.read_membership``): every month and quarter is estimated
        from the members in force in it, with that window's weights, so a later window never
        changes an earlier quarter. A one-window sample list is accepted (in force always).
    network : {"province", "ministry"}
        The monitoring network estimated (default the province's whole panel); "ministry" keeps
        the ministry's monthly network (``estimation.network_members``). Said in the result.
    out_of_sample : {"error", "drop"}
        Reports of enterprises that are not members in force that month.
    series_break : bridge.BreakSettings, optional
        A declared break (params ``monthly.break``). When it lies inside the compared months,
        the old panel's quarterly estimates and monthly inputs are bridged to the new design
        (``bridge.warning_break``), year-on-year values across it use the bridged quarters or
        are refused (NaN, no level), and ``sources`` says which panel each value comes from.

    Levels are judged for the last ``history_quarters`` quarters (so that hysteresis has a past),
    with four more quarters estimated for the year-on-year transforms.
    """
    from samplekit.estimation import INDICATORS, network_members, network_reports
    from samplekit.forecast import ForecastSettings

    fsettings = fsettings or ForecastSettings()
    # Every member's reports count in its months in force (no filter on today's members); the
    # ministry network leaves out the reports of province-only members.
    reports = network_reports(reports, membership, network=network)
    membership = network_members(membership, network=network)
    judged = quarters_back(quarter, settings.history_quarters)
    needed = quarters_back(quarter, settings.history_quarters + 4)
    est_cols = sorted({ind.column for ind in settings.indicators if ind.source == "estimate"})
    unknown = [c for c in est_cols if c not in INDICATORS]
    if unknown:
        raise ParamsError(
            f"warning.indicators: column(s) {unknown} are not estimation "
            f"indicators; use one of {', '.join(INDICATORS)}"
        )
    if not set(quarter_months(quarter)) <= set(reports["period"].astype(str)):
        raise ParamsError(
            f"quarter {quarter}: the reports do not cover its months "
            f"{quarter_months(quarter)} (found "
            f"{reports['period'].min()} … {reports['period'].max()})"
        )
    brk = None
    if series_break is not None:
        from samplekit import bridge

        brk = bridge.warning_break(
            reports,
            membership,
            series_break,
            province=province,
            first=quarter_months(needed[0])[0],
            end=quarter_months(quarter)[-1],
        )
    with warnings.catch_warnings():
        if brk is not None and brk.active:
            # The quarter holding a declared break straddles the two panels' windows by design;
            # the report's break note says how it is estimated.
            from samplekit.estimation import WindowStraddleWarning

            warnings.simplefilter("ignore", WindowStraddleWarning)
        hist = estimate_quarters(
            reports,
            membership,
            needed[:-1],
            province=province,
            indicators=est_cols,
            min_reporters=settings.min_reporters,
            out_of_sample=out_of_sample,
        )
        current = estimate_quarters(
            reports,
            membership,
            [quarter],
            province=province,
            min_reporters=settings.min_reporters,
            out_of_sample=out_of_sample,
        )
    est_all = pd.concat([hist, current[current["indicator"].isin(est_cols)]], ignore_index=True)
    if brk is not None:
        if brk.active:
            est_defs = [ind for ind in settings.indicators if ind.source == "estimate"]
            agg = {ind.column: ind.aggregate for ind in est_defs}
            est_all = bridge.bridge_quarters(est_all, brk, aggregates=agg)
    counts, ml = mass_layoff_counts(
        reports,
        membership,
        needed,
        province=province,
        min_persons=settings.mass_layoff_persons,
        min_share=settings.mass_layoff_share,
    )
    values = indicator_values(est_all, city_table, counts, settings)
    values = values[values["quarter"].isin(judged)].reset_index(drop=True)
    sources = pd.DataFrame()
    if brk is not None and brk.active:
        q_src = pd.concat(
            [
                est_all.loc[
                    est_all["indicator"] == ind.column, ["quarter", "city", "source"]
                ].assign(indicator=ind.key)
                for ind in est_defs
            ],
            ignore_index=True,
        )
        kinds = {ind.key: (ind.source, ind.transform) for ind in settings.indicators}
        values, sources = bridge.value_sources(values, brk, kinds=kinds, quarter_sources=q_src)
        values = values.drop(columns="bridge_se", errors="ignore")
    levels = assign_levels(values, settings, province=province)
    composite = composite_levels(levels, settings)
    comp_scores, contributions = composite_score(levels, settings)
    end = quarter_months(quarter)[-1]
    if forecasts:
        monthly = monthly_inputs(
            reports,
            membership,
            city_table,
            settings,
            province=province,
            end=end,
            out_of_sample=out_of_sample,
        )
        if brk is not None and brk.active:  # forecasts read the bridged history
            cols = {i.key: i.column for i in settings.indicators if i.source == "estimate"}
            monthly = bridge.bridge_monthly(monthly, brk, columns=cols)
        fc, crossing, scores = forecast_indicators(monthly, settings, fsettings, province=province)
    else:
        monthly = pd.DataFrame(columns=["city", "indicator", "period", "value"])
        fc = crossing = scores = pd.DataFrame()
    return WarningResult(
        quarter=quarter,
        province=province,
        settings=settings,
        values=values,
        levels=levels,
        composite=composite,
        estimates=current,
        monthly=monthly,
        forecasts=fc,
        crossing=crossing,
        scores=scores,
        mass_layoffs=ml[ml["quarter"] == quarter].reset_index(drop=True),
        network=network,
        composite_scores=comp_scores,
        contributions=contributions,
        series_break=brk,
        sources=sources,
    )


def quarter_climate(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    quarter: str,
    *,
    province: str,
    network: Network = "province",
    out_of_sample: OutOfSample | None = None,
) -> pd.DataFrame:
    """用工景气指数 of the quarter per city and for the province (``climate.climate_index``):
    ``city, estimate, se, ci_low, ci_high, n_reporters, network`` for indicator
    ``climate_index``, from the members of ``network`` in force in the quarter.

    ``out_of_sample`` defaults to "error" for a membership and "drop" for a one-window sample
    list (which does not list every reporter, e.g. individual units).
    """
    from samplekit.climate import climate_index
    from samplekit.estimation import is_membership

    months = quarter_months(quarter)
    rep = reports[reports["period"].astype(str) <= months[-1]]
    if out_of_sample is None:
        out_of_sample = "error" if is_membership(membership) else "drop"
    kw = {"periods": months, "network": network, "out_of_sample": out_of_sample}
    by_city = climate_index(rep, membership, by=["city"], **kw)
    prov = climate_index(rep, membership, **kw).assign(city=province)
    out = pd.concat([prov, by_city], ignore_index=True)
    out = out[out["indicator"] == "climate_index"].assign(network=network)
    return out[
        ["city", "estimate", "se", "ci_low", "ci_high", "n_reporters", "network"]
    ].reset_index(drop=True)
