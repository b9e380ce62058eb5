"""The social-insurance cross-check: reported employment vs insured persons, firm by firm.

Seed 004: "加强与社会保险等其他数据校核比对". An insured-persons file (firm × month, keyed by the
unified social credit code, from the social-insurance agency) is matched to the panel; per firm
and month the gap is ``reported survey employment − insured persons``. A gap is a discrepancy
when ``|gap| > max(tolerance_persons, tolerance_share × insured)`` (in the direction chosen);
a firm with discrepancies in at least ``persistence_months`` consecutive months gets a warning
(stored, and counted in the city evaluation). Params: ``monthly.insurance``.

Insured persons are not employment: migrant and short-term workers are often not insured, and
insurance records lag hires and separations by a month or so. The tolerance absorbs that; a
persistent gap is a reason to ask, not proof of a wrong report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.sidefiles import (
    Problems,
    SideFile,
    blank,
    credit_code_problem,
    parse_int,
    parse_period,
    read_side_file,
)

Direction = Literal["both", "over", "under"]
REQUIRED: list[str] = ["credit_code", "period", "insured"]
ALIASES: dict[str, str] = {
    "统一社会信用代码": "credit_code",
    "信用代码": "credit_code",
    "月份": "period",
    "参保月份": "period",
    "所属期": "period",
    "调查期": "period",
    "参保人数": "insured",
    "在职参保人数": "insured",
    "缴费人数": "insured",
    "单位名称": "name",
    "企业名称": "name",
    "name": "name",
}
GAP_COLUMNS: list[str] = [
    "enterprise_id",
    "city",
    "period",
    "reported",
    "insured",
    "gap",
    "rel_gap",
    "allowed",
    "status",
]
WARNING_COLUMNS: list[str] = [
    "enterprise_id",
    "city",
    "first_period",
    "last_period",
    "months",
    "mean_gap",
    "max_rel_gap",
]
STATUS_ZH: dict[str, str] = {
    "ok": "一致(容差内)",
    "discrepancy": "差异超出容差",
    "no_insured": "无参保记录",
}
HEADERS_ZH: dict[str, str] = {
    "enterprise_id": "统一社会信用代码",
    "city": "城市",
    "period": "月份",
    "reported": "报表就业人数",
    "insured": "参保人数",
    "gap": "差额(报表−参保)",
    "rel_gap": "相对差额",
    "allowed": "容许差额",
    "status": "比对结果",
    "first_period": "起始月份",
    "last_period": "截止月份",
    "months": "连续月数",
    "mean_gap": "平均差额",
    "max_rel_gap": "最大相对差额",
    "matched": "匹配企业数",
    "discrepancies": "差异企业数",
    "no_insured": "无参保记录企业数",
    "reported_total": "报表就业人数合计",
    "insured_total": "参保人数合计",
}


@dataclass(frozen=True)
class InsuranceSettings:
    """Tolerance and persistence of the cross-check (``monthly.insurance`` in params).

    Attributes
    ----------
    tolerance_share, tolerance_persons
        A gap is tolerated up to the larger of this share of insured persons and this many
        persons (small firms would otherwise be flagged for one hire).
    persistence_months
        Consecutive months with a discrepancy that make a warning.
    direction
        ``both``; ``over`` = only reported > insured (inflated employment); ``under`` = only
        reported < insured (hidden job losses).
    """

    tolerance_share: float = 0.20
    tolerance_persons: int = 10
    persistence_months: int = 3
    direction: Direction = "both"

    @classmethod
    def from_params(cls, params: Any) -> InsuranceSettings:
        """Read ``monthly.insurance`` (missing keys keep their defaults)."""
        d = cls()
        if params is None:
            return d
        base = "monthly.insurance"
        params.check_keys(
            base, {"tolerance_share", "tolerance_persons", "persistence_months", "direction"}
        )
        return cls(
            tolerance_share=float(
                params.number(f"{base}.tolerance_share", d.tolerance_share, low=0)
            ),
            tolerance_persons=int(
                params.number(f"{base}.tolerance_persons", d.tolerance_persons, low=0)
            ),
            persistence_months=int(
                params.number(f"{base}.persistence_months", d.persistence_months, low=1, high=24)
            ),
            direction=params.choice(f"{base}.direction", ("both", "over", "under"), d.direction),
        )


def read_insured_file(path: str | Path) -> SideFile:
    """Read an insured-persons file (CSV/XLSX; 统一社会信用代码, 月份, 参保人数)."""
    return read_side_file(path, aliases=ALIASES, required=REQUIRED, what="社保参保人数")


def validate_insured(data: pd.DataFrame, *, file: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and check insured-person rows.

    Errors: ``required``, ``credit_code_format``, ``period_format``, ``number``, ``negative``,
    ``duplicate``. Returns ``(rows, problems)``.
    """
    d = data.reset_index(drop=True).copy()
    if "name" not in d.columns:
        d["name"] = None
    probs = Problems(d, file)
    probs.required(REQUIRED)
    code = d["credit_code"].map(lambda v: None if blank(v) else str(v).strip().upper())
    rule = code.map(credit_code_problem)
    probs.add(
        rule == "credit_code_format",
        "credit_code",
        "credit_code_format",
        "统一社会信用代码应为18位(数字和大写字母,不含I、O、Z、S、V)",
    )
    # No check-digit rule here: the agency's key is matched as given (a wrong check digit
    # simply does not match the panel and is listed as "no insured row").
    period, bad_p = parse_period(d["period"])
    probs.add(bad_p, "period", "period_format", "月份应写作 YYYY-MM")
    insured, bad_i = parse_int(d["insured"])
    probs.add(bad_i, "insured", "number", "参保人数应为整数")
    ins = pd.Series(insured)
    probs.add(ins.notna() & (ins < 0), "insured", "negative", "参保人数不能为负数")
    key = pd.DataFrame({"c": code, "p": period})
    probs.add(
        key.notna().all(axis=1) & key.duplicated(keep=False),
        "credit_code",
        "duplicate",
        "同一企业同一月份出现多次",
    )
    rows = pd.DataFrame(
        {
            "credit_code": code,
            "period": period,
            "insured": insured,
            "name": d["name"],
            "row": d["row"],
        }
    )
    return rows, probs.frame()


def insurance_gaps(
    reports: pd.DataFrame,
    insured: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    settings: InsuranceSettings | None = None,
) -> pd.DataFrame:
    """Per reporting panel firm and month: reported vs insured persons and the verdict.

    Parameters
    ----------
    reports : accepted reports (``enterprise_id, period, survey_employment``)
    insured : ``credit_code, period, insured`` (the panel's ``enterprise_id`` is the credit code)
    panel : ``enterprise_id, city``

    Returns
    -------
    DataFrame
        :data:`GAP_COLUMNS`; ``status`` ok / discrepancy / no_insured (no insured row: listed,
        never a discrepancy), ``rel_gap`` = gap ÷ insured (NaN when insured is 0).
    """
    s = settings or InsuranceSettings()
    r = reports[["enterprise_id", "period", "survey_employment"]].copy()
    r["enterprise_id"] = r["enterprise_id"].astype(str)
    ins = (
        insured[["credit_code", "period", "insured"]]
        .rename(columns={"credit_code": "enterprise_id"})
        .astype({"enterprise_id": str})
    )
    out = r.merge(ins, on=["enterprise_id", "period"], how="left")
    p = panel.drop_duplicates("enterprise_id")
    out["city"] = out["enterprise_id"].map(p.set_index(p["enterprise_id"].astype(str))["city"])
    out["reported"] = out["survey_employment"].astype("Int64")
    out["insured"] = out["insured"].astype("Int64")
    gap = (out["reported"] - out["insured"]).astype("Float64")
    out["gap"] = gap.astype("Int64")
    ins_f = out["insured"].astype("Float64")
    out["rel_gap"] = (gap / ins_f.where(ins_f > 0)).astype("Float64")
    out["allowed"] = np.maximum(float(s.tolerance_persons), s.tolerance_share * ins_f.fillna(0))
    over = (gap > out["allowed"]).fillna(False)
    under = (-gap > out["allowed"]).fillna(False)
    bad = over | under if s.direction == "both" else (over if s.direction == "over" else under)
    out["status"] = np.where(
        out["insured"].isna(), "no_insured", np.where(bad.to_numpy(dtype=bool), "discrepancy", "ok")
    )
    return (
        out[GAP_COLUMNS]
        .sort_values(["city", "enterprise_id", "period"], kind="stable")
        .reset_index(drop=True)
    )


def persistent_gaps(
    gaps: pd.DataFrame, *, settings: InsuranceSettings | None = None
) -> pd.DataFrame:
    """Runs of at least ``persistence_months`` consecutive months with a discrepancy.

    A month without a report or without an insured row breaks the run (nothing is assumed
    about it). Returns one row per run: :data:`WARNING_COLUMNS`.
    """
    s = settings or InsuranceSettings()
    g = gaps[gaps["status"] == "discrepancy"].copy()
    if g.empty:
        return pd.DataFrame(columns=WARNING_COLUMNS)
    per = g["period"].astype(str)
    g["_m"] = per.str[:4].astype(int) * 12 + per.str[5:7].astype(int)
    g = g.sort_values(["enterprise_id", "_m"])
    new_run = (g["enterprise_id"] != g["enterprise_id"].shift()) | (g["_m"] != g["_m"].shift() + 1)
    g["_run"] = new_run.cumsum()
    rows = []
    for _, run in g.groupby("_run", sort=True):
        if len(run) < s.persistence_months:
            continue
        rows.append(
            {
                "enterprise_id": run["enterprise_id"].iloc[0],
                "city": run["city"].iloc[0],
                "first_period": run["period"].iloc[0],
                "last_period": run["period"].iloc[-1],
                "months": len(run),
                "mean_gap": float(run["gap"].astype(float).mean()),
                "max_rel_gap": float(run["rel_gap"].astype(float).abs().max()),
            }
        )
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def city_gap_summary(gaps: pd.DataFrame) -> pd.DataFrame:
    """Per city and month: firms matched, discrepancies, without insured rows, and the totals."""
    g = gaps.assign(
        _m=gaps["status"] != "no_insured",
        _d=gaps["status"] == "discrepancy",
        _n=gaps["status"] == "no_insured",
    )
    out = (
        g.groupby(["city", "period"], sort=True)
        .agg(
            matched=("_m", "sum"),
            discrepancies=("_d", "sum"),
            no_insured=("_n", "sum"),
            reported_total=("reported", lambda x: int(x[g.loc[x.index, "_m"]].sum())),
            insured_total=("insured", lambda x: int(x.fillna(0).sum())),
        )
        .reset_index()
    )
    return out.astype({"matched": int, "discrepancies": int, "no_insured": int})
