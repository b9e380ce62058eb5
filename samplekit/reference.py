"""The committed classification tables (``data/reference/``), loaded once and cached.

Sources are cited in ``data/reference/SOURCES.md`` and ``docs/data_log.md``.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from samplekit.paths import reference_dir

SIZE_CLASSES: tuple[str, ...] = ("large", "medium", "small", "micro")
SIZE_CLASSES_ZH: dict[str, str] = {
    "large": "大型",
    "medium": "中型",
    "small": "小型",
    "micro": "微型",
}

OWNERSHIP_GROUPS: tuple[str, ...] = ("state", "collective", "private", "hmt", "foreign")
OWNERSHIP_ZH: dict[str, str] = {
    "state": "国有",
    "collective": "集体",
    "private": "私营及其他内资",
    "hmt": "港澳台商投资",
    "foreign": "外商投资",
}

STATUSES: tuple[str, ...] = ("active", "closed", "suspended", "moved")
STATUS_ZH: dict[str, str] = {
    "active": "正常",
    "closed": "关闭",
    "suspended": "停业",
    "moved": "迁出",
}

SECTORS_ZH: dict[str, str] = {
    "primary": "第一产业",
    "secondary": "第二产业",
    "tertiary": "第三产业",
}


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


# ------------------------------------------------------------------------------ for readers
#: Rule, flag and status codes of the steps, in Chinese (tables and charts never show a code).
SCOPE_ZH: dict[str, str] = {"sample": "全部样本", "monthly": "月度子样本"}
PER_ZH: dict[str, str] = {"province": "全省", "city": "各市"}
RULE_KIND_ZH: dict[str, str] = {
    "max_share": "占比上限",
    "min_share": "占比下限",
    "exclude": "排除",
    "min_count": "数量下限",
    "max_count": "数量上限",
}
#: Built-in rule rows of the allocation's rules report (params rules carry their own label).
RULE_ZH: dict[str, str] = {
    "city_floor": "各市最低样本数",
    "monthly_city_floor": "各市月度子样本最低数",
    "keep_existing": "保留现有监测企业",
    "city_total": "各市样本总数",
    "sector_total": "二三产业样本数",
    "frame_cap": "不超过名录企业数",
}
SELECTION_STATUS_ZH: dict[str, str] = {"retained": "保留", "replacement": "替换", "new": "新增"}
FLAG_ZH: dict[str, str] = {
    "too_few_eligible": "可入样企业不足",
    "panel_differs_from_frame": "现有样本与名录差异大",
    "fresh_added": "保留企业占满名额,另抽新样本",
}
SEVERITY_ZH: dict[str, str] = {"error": "错误", "warning": "提示", "info": "说明"}
WARNING_STATUS_ZH: dict[str, str] = {
    "alarm": "报警",
    "reminder": "提醒",
    "normal": "正常",
    "none": "无警",
}
#: Where a rule's number comes from (allocation params ``source``), short names for tables.
RULE_SOURCE_ZH: dict[str, str] = {
    "mohrss_2011_308": "人社部函〔2011〕308号",
    "mohrss_2009_152": "人社部发〔2009〕152号",
    "province_plan_2013": "省实施方案(2013)",
    "document": "其他文件",
    "assumption": "假设",
    "city_totals": "给定任务表",
}
#: Keys of the calibration summary (``SelectionResult.calibration``).
CALIBRATION_ZH: dict[str, str] = {
    "method": "校准方法",
    "bounds": "g 值界限",
    "margins": "校准维度:总量",
    "constraints": "约束个数",
    "converged": "是否收敛",
    "iterations": "迭代次数",
    "max_abs_rel_residual": "最大相对残差",
    "sample_units": "样本企业数",
    "uncovered_units": "未被代表的框内企业数",
    "uncovered_categories": "未被代表的类别",
    "g_min": "g 值最小",
    "g_max": "g 值最大",
    "trimmed_at_bounds": "截断在界限上的企业数",
    "design_cv": "设计权数变异系数",
    "design_max_min_ratio": "设计权数最大/最小",
    "design_kish_deff": "设计权数 Kish 设计效应",
    "calibrated_cv": "校准权数变异系数",
    "calibrated_max_min_ratio": "校准权数最大/最小",
    "calibrated_kish_deff": "校准权数 Kish 设计效应",
}
_CALIBRATION_WORDS: dict[str, str] = {
    "raking (logit, bounded)": "有界 raking(logit 距离)",
    "linear (GREG, truncated)": "线性(GREG,截断)",
    "true": "是",
    "false": "否",
    "city": "地市",
    "section": "行业门类",
    "size_class": "企业规模",
    "ownership": "所有制",
    "units": "企业数",
    "employment": "从业人数",
    "micro": "微型",
}


def calibration_summary(calibration: pd.DataFrame) -> pd.DataFrame:
    """The calibration summary with Chinese items and values (the solver's message dropped)."""
    import re

    out = calibration[calibration["key"] != "message"].copy()
    words = sorted(_CALIBRATION_WORDS, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(w) for w in words))

    def value(v: object) -> str:
        text = str(v)
        try:
            number = float(text)
        except ValueError:
            return pattern.sub(lambda m: _CALIBRATION_WORDS[m.group(0)], text).replace("=", ":")
        return f"{number:,.0f}" if number.is_integer() else f"{number:.4g}"

    return pd.DataFrame(
        {
            "项目": out["key"].map(lambda k: CALIBRATION_ZH.get(k, k)),
            "数值": out["value"].map(value),
        }
    ).reset_index(drop=True)


BOOL_ZH: dict[bool, str] = {True: "是", False: "否"}

#: Rules of the monthly report checks (``samplekit.reports``; docs/monthly.md).
REPORT_RULE_ZH: dict[str, str] = {
    "period_format": "调查期格式",
    "period_expected": "调查期不符",
    "negative_employment": "就业人数为负",
    "change": "增减人数不符",
    "change_pct": "增减幅度不符",
    "reduction_without_fall": "有减少类型但人数未减",
    "reduction_sum": "减少人数合计不符",
    "reason_missing": "缺少减员原因",
    "reason_code": "减员原因代码无效",
    "reason_gap": "减员原因顺序有空缺",
    "reason_duplicate": "减员原因重复",
    "not_in_panel": "不是在册监测企业",
    "duplicate": "重复报送",
    "reason_without_fall": "有减员原因但人数未减",
    "baseline_break": "建档期人数变动",
    "mass_layoff": "规模减员",
    "large_swing": "变动幅度大",
    "required": "必填项为空",
    "number": "不是数字",
    "reduction_negative": "减少人数为负",
    "reason_count": "减员原因个数不符",
    "reduction_sign": "减少人数符号",
}
#: Kinds of loaded files and their layouts (the store's load records).
LOAD_KIND_ZH: dict[str, str] = {
    "reports": "企业月报表",
    "city": "城市汇总表",
    "events": "补充数据",
    "notes": "专项说明",
    "insured": "社保参保人数",
}
LAYOUT_ZH: dict[str, str] = {"form": "部颁表式", "canonical": "标准格式"}

#: Column -> code -> Chinese name: the one place tables translate codes (see :func:`readable`).
CODES_ZH: dict[str, dict[str, str]] = {
    "size_class": SIZE_CLASSES_ZH,
    "ownership": OWNERSHIP_ZH,
    "status": {**STATUS_ZH, **SELECTION_STATUS_ZH, **WARNING_STATUS_ZH},
    "sector": SECTORS_ZH,
    "scope": SCOPE_ZH,
    "per": PER_ZH,
    "kind": {**RULE_KIND_ZH, **LOAD_KIND_ZH},
    "layout": LAYOUT_ZH,
    "rule": {**RULE_ZH, **REPORT_RULE_ZH},
    "flag": FLAG_ZH,
    "severity": SEVERITY_ZH,
    "source": RULE_SOURCE_ZH,
    # Warning levels are shown by their codes (IV … I); "none" is the absence of one.
    "composite_level": {"none": "无"},
    "raw_level": {"none": "无"},
    "level": {"none": "无"},
}


def code_names(column: str) -> dict[str, str]:
    """Code -> Chinese name for a column of a step's tables (sections: ``C 制造业``)."""
    if column == "section":
        return {k: f"{k} {v}" for k, v in section_names().items()}
    if column == "registration_type":
        rt = registration_types()
        return dict(zip(rt["code"], rt["name"], strict=True))
    return CODES_ZH.get(column, {})


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every known code column translated (unknown values kept as they are) and
    booleans written 是/否."""
    out = df.copy()
    for col in out.columns:
        names = code_names(str(col))
        if pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].map(BOOL_ZH)
        elif names and not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v, n=names: n.get(v, v) if isinstance(v, str) else v)
    return out


@cache
def admin_division_codes() -> pd.DataFrame:
    """Administrative division codes of cities (GB/T 2260): province, province_code, city, code."""
    return _read("admin_division_codes.csv")


def city_order(cities: list[str] | pd.Series, *, table: pd.DataFrame | None = None) -> list[str]:
    """``cities`` in the official order: ascending administrative division code.

    Parameters
    ----------
    cities : list of str
        City names (a ``市`` suffix is ignored when matching).
    table : DataFrame, optional
        The province's city table; its optional ``code`` column wins over the shipped codes,
        and its row order places cities that have no code (after the coded ones).

    Returns
    -------
    list of str
        The distinct names, official order first; names known nowhere keep their given order.
    """
    codes = dict(zip(admin_division_codes()["city"], admin_division_codes()["code"], strict=True))
    rank_table: dict[str, int] = {}
    if table is not None:
        if "code" in table.columns:
            codes.update(
                {
                    str(c): str(k)
                    for c, k in zip(table["city"], table["code"], strict=True)
                    if str(k)
                }
            )
        rank_table = {str(c): i for i, c in enumerate(table["city"])}
    names = list(dict.fromkeys(str(c) for c in cities))

    def key(item: tuple[int, str]) -> tuple[int, str, int]:
        i, name = item
        bare = name[:-1] if name.endswith("市") else name
        code = codes.get(name) or codes.get(bare)
        if code:
            return (0, code, i)
        return (1, f"{rank_table.get(name, rank_table.get(bare, 10**6)):08d}", i)

    return [n for _, n in sorted(enumerate(names), key=key)]
