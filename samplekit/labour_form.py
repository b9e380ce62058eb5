"""The quarterly labour-use form (企业用工情况调查表): schema, layouts and validation.

One row per panel enterprise per quarter: the quarter's wage bill and average monthly wage,
employees at the quarter's end by occupation major group (《中华人民共和国职业分类大典》,
``data/reference/occupation_major_groups.csv``), vacancies and hard-to-fill vacancies by group,
planned hiring next quarter and the firm's employment outlook (1 上升 / 2 持平 / 3 下降).

Two layouts are read: the canonical one (English keys, :data:`FORM_COLUMNS`) and the Chinese
form layout (headers of :data:`FORM_HEADERS_ZH`). Validation returns typed rows and a problem
list (file, row, column, rule); docs/release.md lists every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import Problem, problems_frame
from samplekit.periods import QUARTER_RE, quarter_months
from samplekit.sidefiles import SideFile, parse_float, parse_int, read_side_file

#: Occupation major groups an enterprise can employ (大典 major group 7, 军人, is left out).
OCCUPATION_GROUPS: list[str] = ["1", "2", "3", "4", "5", "6", "8"]

#: Short Chinese names of the groups (2015 edition) for headers; full names in the reference CSV.
OCCUPATION_SHORT_ZH: dict[str, str] = {
    "1": "负责人",
    "2": "专业技术人员",
    "3": "办事人员",
    "4": "社会生产服务和生活服务人员",
    "5": "农林牧渔业生产人员",
    "6": "生产制造及有关人员",
    "8": "其他从业人员",
}

EMP_COLUMNS = [f"emp_{g}" for g in OCCUPATION_GROUPS]
VAC_COLUMNS = [f"vac_{g}" for g in OCCUPATION_GROUPS]
HARD_COLUMNS = [f"hard_{g}" for g in OCCUPATION_GROUPS]

#: Canonical layout, in form order.
FORM_COLUMNS: list[str] = [
    "enterprise_id",
    "quarter",
    "wage_bill",
    "average_wage",
    "employees_total",
    *EMP_COLUMNS,
    *VAC_COLUMNS,
    *HARD_COLUMNS,
    "planned_hiring",
    "outlook",
]
COUNT_COLUMNS: list[str] = [
    "employees_total",
    *EMP_COLUMNS,
    *VAC_COLUMNS,
    *HARD_COLUMNS,
    "planned_hiring",
]
REQUIRED: list[str] = ["enterprise_id", "quarter", "wage_bill", "employees_total", "outlook"]

#: Chinese form headers (the layout sent to enterprises).
FORM_HEADERS_ZH: dict[str, str] = {
    "enterprise_id": "企业代码",
    "quarter": "季度",
    "wage_bill": "本季度工资总额(千元)",
    "average_wage": "本季度月平均工资(元)",
    "employees_total": "季末从业人员合计",
    **{f"emp_{g}": f"季末从业人员_{OCCUPATION_SHORT_ZH[g]}" for g in OCCUPATION_GROUPS},
    **{f"vac_{g}": f"岗位空缺_{OCCUPATION_SHORT_ZH[g]}" for g in OCCUPATION_GROUPS},
    **{f"hard_{g}": f"难招岗位空缺_{OCCUPATION_SHORT_ZH[g]}" for g in OCCUPATION_GROUPS},
    "planned_hiring": "下季度计划招用人数",
    "outlook": "下季度用工预期(1上升2持平3下降)",
}
_ALIASES: dict[str, str] = (
    {k: k for k in FORM_COLUMNS}
    | {v: k for k, v in FORM_HEADERS_ZH.items()}
    | {
        "统一社会信用代码": "enterprise_id",
        "用工预期": "outlook",
        "工资总额(千元)": "wage_bill",
        "月平均工资(元)": "average_wage",
        "从业人员合计": "employees_total",
    }
)
_OUTLOOK = {
    "1": 1,
    "2": 2,
    "3": 3,
    "上升": 1,
    "增加": 1,
    "持平": 2,
    "不变": 2,
    "下降": 3,
    "减少": 3,
}
OUTLOOK_ZH: dict[int, str] = {1: "上升", 2: "持平", 3: "下降"}

#: Rules of :func:`validate_labour_forms`: id -> (severity, Chinese description).
RULES: dict[str, tuple[str, str]] = {
    "required": ("error", "必填项为空"),
    "number": ("error", "不是数字(人数须为整数)"),
    "nonnegative": ("error", "不得为负数"),
    "quarter_format": ("error", "季度须写作 YYYYQn(如 2013Q4)"),
    "quarter_mismatch": ("error", "季度与本次报送季度不符"),
    "unknown_enterprise": ("error", "不是监测样本企业"),
    "duplicate": ("error", "同一企业同一季度重复填报"),
    "occupation_sum": ("error", "各职业大类从业人员之和不等于从业人员合计"),
    "hard_le_vacancies": ("error", "难招岗位空缺数大于岗位空缺数"),
    "wage_without_staff": ("error", "有工资总额但从业人员为0(或相反)"),
    "average_wage_identity": ("error", "月平均工资与 工资总额÷从业人员÷3 不符"),
    "outlook_code": ("error", "用工预期须为 1(上升)、2(持平)或 3(下降)"),
    "wage_range": ("warning", "月平均工资超出合理范围"),
    "headcount_plausibility": ("warning", "季末从业人员与月报调查期就业人数相差过大"),
    "vacancy_plausibility": ("warning", "岗位空缺数相对从业人员过多"),
}


@dataclass(frozen=True)
class FormRules:
    """Thresholds of the form's checks (params ``release.form``).

    Attributes
    ----------
    wage_min, wage_max : float
        Plausible range of the average monthly wage (元); outside it is a warning.
    wage_tolerance : float
        Allowed relative gap between the reported average wage and
        ``wage_bill × 1000 / employees_total / 3`` (rounding on the form).
    headcount_tolerance : float
        Allowed relative gap between ``employees_total`` and the monthly report's survey
        employment of the quarter's last month.
    vacancy_ratio_max : float
        Vacancies above this multiple of employees are a warning.
    """

    wage_min: float = 800.0
    wage_max: float = 60000.0
    wage_tolerance: float = 0.02
    headcount_tolerance: float = 0.3
    vacancy_ratio_max: float = 1.0

    @classmethod
    def from_params(cls, params: Any) -> FormRules:
        """Build from ``release.form`` of a :class:`samplekit.params.Params`."""
        from samplekit.errors import ParamsError

        form = params.get("release.form", {})
        if not isinstance(form, dict):
            raise ParamsError(f"{params.path}: key 'release.form' must be a mapping")
        allowed = set(cls.__dataclass_fields__)
        unknown = set(form) - allowed
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {', '.join(sorted(unknown))} in "
                f"'release.form'; allowed: {', '.join(sorted(allowed))}"
            )
        d = cls()
        rules = cls(
            **{k: float(params.number(f"release.form.{k}", getattr(d, k), low=0)) for k in allowed}
        )
        if rules.wage_min >= rules.wage_max:
            raise ParamsError(f"{params.path}: release.form.wage_min must be below wage_max")
        return rules


def read_labour_form(path: str | Path) -> SideFile:
    """Read a quarterly form file (CSV/XLSX, canonical or Chinese layout)."""
    return read_side_file(path, aliases=_ALIASES, required=REQUIRED, what="企业用工情况调查表")


def to_form_layout(forms: pd.DataFrame) -> pd.DataFrame:
    """The canonical rows in the Chinese form layout (for sending out or the demo files)."""
    return forms.reindex(columns=FORM_COLUMNS).rename(columns=FORM_HEADERS_ZH)


def _text(v: Any) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def validate_labour_forms(
    data: pd.DataFrame,
    *,
    file: str = "",
    quarter: str | None = None,
    panel_ids: Any = None,
    headcount: pd.Series | None = None,
    rules: FormRules | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check quarterly forms; return typed rows and every problem.

    Parameters
    ----------
    data : DataFrame
        Canonical columns as text, plus ``row`` (spreadsheet row; default position + 2).
    file : str
        File name for the problem list.
    quarter : str, optional
        The quarter being loaded; other quarters are errors.
    panel_ids : collection of str, optional
        Members of the panel; other enterprises are errors.
    headcount : Series, optional
        Survey employment of the quarter's last month by ``enterprise_id`` (monthly reports):
        a gap above ``rules.headcount_tolerance`` is a warning.
    rules : FormRules, optional

    Returns
    -------
    data, problems
        ``data``: :data:`FORM_COLUMNS` typed (counts Int64, money Float64, outlook Int64) and
        ``row``; ``problems``: the standard problem columns. Rows with an error are kept in
        ``data`` (the store quarantines them).
    """
    rules = rules or FormRules()
    df = data.reset_index(drop=True).copy()
    rows = df["row"].astype(int) if "row" in df else pd.Series(np.arange(len(df)) + 2)
    df = df.reindex(columns=[*FORM_COLUMNS, "row"])
    df["row"] = rows.to_numpy()
    probs: list[Problem] = []

    def add(mask: Any, column: str, rule: str, values: Any, message: str | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        sev, text = RULES[rule]
        vals = values if isinstance(values, pd.Series) else pd.Series([values] * len(df))
        for i in np.flatnonzero(mask):
            probs.append(
                Problem(
                    sev,
                    file,
                    int(df["row"].iloc[i]),
                    column,  # type: ignore[arg-type]
                    _text(vals.iloc[i]),
                    rule,
                    message or text,
                )
            )

    raw = df.copy()
    for col in REQUIRED:
        add(raw[col].map(lambda v: _text(v).strip() == ""), col, "required", raw[col])
    df["enterprise_id"] = raw["enterprise_id"].map(lambda v: _text(v).strip())
    df["quarter"] = raw["quarter"].map(lambda v: _text(v).strip().upper())
    for col in COUNT_COLUMNS:
        values, bad = parse_int(raw[col].map(lambda v: None if _text(v).strip() == "" else v))
        add(bad, col, "number", raw[col])
        df[col] = values
        add(df[col].fillna(0).to_numpy() < 0, col, "nonnegative", raw[col])
    for col in ("wage_bill", "average_wage"):
        values, bad = parse_float(raw[col].map(lambda v: None if _text(v).strip() == "" else v))
        add(bad, col, "number", raw[col])
        df[col] = values
        add(df[col].fillna(0).to_numpy() < 0, col, "nonnegative", raw[col])
    # Empty breakdown cells are zeros (forms leave them blank), the totals are required.
    for col in [*EMP_COLUMNS, *VAC_COLUMNS, *HARD_COLUMNS, "planned_hiring"]:
        df[col] = df[col].fillna(0)
    q = df["quarter"]
    fmt = q.ne("") & ~q.str.match(QUARTER_RE.pattern)
    add(fmt, "quarter", "quarter_format", raw["quarter"])
    if quarter is not None:
        add(
            q.ne("") & ~fmt & q.ne(quarter),
            "quarter",
            "quarter_mismatch",
            raw["quarter"],
            f"季度与本次报送季度 {quarter} 不符",
        )
    if panel_ids is not None:
        ids = set(map(str, panel_ids))
        add(
            df["enterprise_id"].ne("") & ~df["enterprise_id"].isin(ids),
            "enterprise_id",
            "unknown_enterprise",
            raw["enterprise_id"],
        )
    dup = df["enterprise_id"].ne("") & df.duplicated(["enterprise_id", "quarter"], keep=False)
    add(dup, "enterprise_id", "duplicate", raw["enterprise_id"])
    outlook = raw["outlook"].map(lambda v: _OUTLOOK.get(_text(v).strip().removesuffix(".0")))
    add(
        outlook.isna() & raw["outlook"].map(lambda v: _text(v).strip() != ""),
        "outlook",
        "outlook_code",
        raw["outlook"],
    )
    df["outlook"] = pd.array(outlook, dtype="Int64")

    total = df["employees_total"].astype("float64")
    occ = df[EMP_COLUMNS].astype("float64").sum(axis=1)
    add(
        total.notna() & (occ != total),
        "employees_total",
        "occupation_sum",
        raw["employees_total"],
        None,
    )
    for v, h in zip(VAC_COLUMNS, HARD_COLUMNS, strict=True):
        add(df[h].astype("float64") > df[v].astype("float64"), h, "hard_le_vacancies", raw[h])
    bill = df["wage_bill"].astype("float64")
    add(
        ((bill > 0) & (total == 0)) | ((bill == 0) & (total > 0)),
        "wage_bill",
        "wage_without_staff",
        raw["wage_bill"],
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        implied = bill * 1000.0 / (3.0 * total)
    avg = df["average_wage"].astype("float64")
    gap = (avg - implied).abs() > rules.wage_tolerance * implied.abs() + 1.0
    add(
        avg.notna() & implied.notna() & np.isfinite(implied) & gap,
        "average_wage",
        "average_wage_identity",
        raw["average_wage"],
    )
    # A blank average wage is derived from the identity (the bill and the staff are required).
    df["average_wage"] = avg.where(avg.notna(), implied.where(np.isfinite(implied))).astype(
        "Float64"
    )
    shown = df["average_wage"].astype("float64")
    add(
        shown.notna() & ((shown < rules.wage_min) | (shown > rules.wage_max)),
        "average_wage",
        "wage_range",
        df["average_wage"].round(0),
        f"月平均工资超出合理范围 {rules.wage_min:g}–{rules.wage_max:g} 元",
    )
    vac = df[VAC_COLUMNS].astype("float64").sum(axis=1)
    add(
        vac > rules.vacancy_ratio_max * total.clip(lower=1),
        "employees_total",
        "vacancy_plausibility",
        vac,
        f"岗位空缺合计超过从业人员的 {rules.vacancy_ratio_max:g} 倍",
    )
    if headcount is not None:
        monthly = df["enterprise_id"].map(headcount).astype("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = (total - monthly).abs() / monthly.clip(lower=1)
        add(
            monthly.notna() & total.notna() & (rel > rules.headcount_tolerance),
            "employees_total",
            "headcount_plausibility",
            raw["employees_total"],
            f"季末从业人员与月报调查期就业人数相差超过 {rules.headcount_tolerance:.0%}",
        )
    return df, problems_frame(probs)


def quarter_last_month(quarter: str) -> str:
    """The last month of a quarter (its monthly survey employment is the plausibility check)."""
    return quarter_months(quarter)[-1]
