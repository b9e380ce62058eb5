"""Special notes (专项说明) on the panel's mass layoffs and closures.

Seed 001 (人社部函〔2011〕308号): "对涉及人数较多的关闭破产、停业整顿、业务转移、经济性裁员等要作出专项说明".
Every accepted report whose fall reaches the thresholds (``monthly.special_notes``: ≥ 100 persons
or ≥ 10 % of the baseline, as seed 002; closures of any size when ``closures_always``) needs a
structured note: received or missing, its text and date. The monthly report lists the missing
ones (:func:`missing_notes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.rules import MassLayoffRule
from samplekit.sidefiles import Problems, SideFile, blank, parse_date, parse_period, read_side_file

REQUIRED: list[str] = ["enterprise_id", "period", "text"]
ALIASES: dict[str, str] = {
    "统一社会信用代码": "enterprise_id",
    "企业代码": "enterprise_id",
    "调查期": "period",
    "月份": "period",
    "报送日期": "note_date",
    "说明日期": "note_date",
    "日期": "note_date",
    "专项说明": "text",
    "说明内容": "text",
    "说明": "text",
    "note_date": "note_date",
}
NOTE_STATUS_COLUMNS: list[str] = [
    "period",
    "city",
    "enterprise_id",
    "name",
    "baseline_employment",
    "survey_employment",
    "fall",
    "fall_share_pct",
    "main_type",
    "criterion",
    "note_status",
    "note_date",
    "text",
]
HEADERS_ZH: dict[str, str] = {
    "period": "调查期",
    "city": "城市",
    "enterprise_id": "统一社会信用代码",
    "name": "单位名称",
    "baseline_employment": "建档期期末就业人数",
    "survey_employment": "调查期期末就业人数",
    "fall": "减少人数",
    "fall_share_pct": "减少比例(%)",
    "main_type": "主要减少类型",
    "criterion": "需说明原因",
    "note_status": "专项说明",
    "note_date": "说明日期",
    "text": "说明内容",
}
_TYPE_ZH = {
    "closure": "关闭破产",
    "suspension": "停业整顿",
    "layoff": "经济性裁员",
    "relocation": "企业迁出本市",
    "other": "其他",
}


@dataclass(frozen=True)
class NoteSettings:
    """When a panel report needs a special note (``monthly.special_notes`` in params).

    Attributes
    ----------
    min_persons, min_share
        A fall of at least this many persons or this share of the baseline (seed 002).
    closures_always
        A reported closure (关闭破产 persons > 0) needs a note whatever its size.
    """

    min_persons: int = 100
    min_share: float = 0.10
    closures_always: bool = True

    @classmethod
    def from_params(cls, params: Any) -> NoteSettings:
        """Read ``monthly.special_notes`` (missing keys keep their defaults)."""
        d = cls()
        if params is None:
            return d
        base = "monthly.special_notes"
        params.check_keys(
            base, {"closures_always"}
        )  # the thresholds: the one rule monthly.mass_layoff
        rule = MassLayoffRule.from_params(params)
        return cls(
            min_persons=rule.min_persons,
            min_share=rule.min_share,
            closures_always=bool(
                params.get(f"{base}.closures_always", d.closures_always, types=bool)
            ),
        )


def read_note_file(path: str | Path) -> SideFile:
    """Read a file of special notes (CSV/XLSX; 统一社会信用代码, 调查期, 专项说明, 报送日期)."""
    return read_side_file(path, aliases=ALIASES, required=REQUIRED, what="专项说明")


def validate_notes(
    data: pd.DataFrame, *, file: str = "", panel_ids: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and check special notes.

    Errors: ``required``, ``period_format``, ``date_format``, ``not_in_panel``, ``duplicate``.
    Returns ``(notes, problems)``; notes in the store's layout plus ``row``.
    """
    d = data.reset_index(drop=True).copy()
    if "note_date" not in d.columns:
        d["note_date"] = None
    probs = Problems(d, file)
    probs.required(REQUIRED)
    period, bad_p = parse_period(d["period"])
    probs.add(bad_p, "period", "period_format", "调查期应写作 YYYY-MM")
    date, bad_d = parse_date(d["note_date"])
    probs.add(bad_d, "note_date", "date_format", "日期应写作 YYYY-MM-DD")
    ids = d["enterprise_id"].map(lambda v: None if blank(v) else str(v).strip())
    if panel_ids is not None:
        probs.add(
            ids.notna() & ~ids.isin(set(map(str, panel_ids))),
            "enterprise_id",
            "not_in_panel",
            "该企业不在监测名单中;专项说明只针对监测企业",
        )
    key = pd.DataFrame({"e": ids, "p": period})
    probs.add(
        key.notna().all(axis=1) & key.duplicated(keep=False),
        "enterprise_id",
        "duplicate",
        "同一企业同一调查期的专项说明出现多次;请合并为一行",
    )
    notes = pd.DataFrame(
        {
            "enterprise_id": ids,
            "period": period,
            "note_date": date,
            "text": d["text"],
            "row": d["row"],
        }
    )
    return notes, probs.frame()


def required_notes(reports: pd.DataFrame, *, settings: NoteSettings | None = None) -> pd.DataFrame:
    """Panel reports that need a special note.

    Returns ``period, enterprise_id, baseline_employment, survey_employment, fall,
    fall_share_pct, main_type, criterion`` (criterion: 人数 / 比例 / 人数和比例 / 关闭破产).
    """
    s = settings or NoteSettings()
    r = reports.copy()
    base = r["baseline_employment"].astype("Float64")
    fall = (base - r["survey_employment"].astype("Float64")).clip(lower=0)
    share = fall / base.where(base > 0)
    by_persons = (fall >= s.min_persons).fillna(False)
    by_share = ((share >= s.min_share) & (fall > 0)).fillna(False)
    types = [f"reduction_{t}" for t in _TYPE_ZH]
    red = r[types].astype("Float64").fillna(0)
    closure = (red["reduction_closure"] > 0) & s.closures_always
    need = (by_persons | by_share | closure).to_numpy(dtype=bool)
    r["fall"] = fall.astype("Int64")
    r["fall_share_pct"] = (100 * share).round(1)
    r["main_type"] = np.where(
        red.sum(axis=1) > 0, red.idxmax(axis=1).str.replace("reduction_", "").map(_TYPE_ZH), ""
    )
    r["criterion"] = np.select(
        [by_persons & by_share, by_persons, by_share], ["人数和比例", "人数", "比例"], "关闭破产"
    )
    cols = [
        "period",
        "enterprise_id",
        "baseline_employment",
        "survey_employment",
        "fall",
        "fall_share_pct",
        "main_type",
        "criterion",
    ]
    return r.loc[need, cols].reset_index(drop=True)


def note_status(required: pd.DataFrame, notes: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Each required note: received (with its date and text) or missing."""
    n = notes[["enterprise_id", "period", "note_date", "text"]].astype(
        {"enterprise_id": str, "period": str}
    )
    out = required.astype({"enterprise_id": str, "period": str}).merge(
        n, on=["enterprise_id", "period"], how="left"
    )
    p = panel.drop_duplicates("enterprise_id")
    p = p.set_index(p["enterprise_id"].astype(str))
    out["city"] = out["enterprise_id"].map(p["city"])
    out["name"] = out["enterprise_id"].map(p["name"]) if "name" in p.columns else ""
    out["note_status"] = np.where(out["text"].notna(), "已报送", "未报送")
    return (
        out[NOTE_STATUS_COLUMNS]
        .sort_values(["period", "city", "enterprise_id"], kind="stable")
        .reset_index(drop=True)
    )


def missing_notes(status: pd.DataFrame) -> pd.DataFrame:
    """The required notes still missing (for the monthly report)."""
    return (
        status[status["note_status"] == "未报送"]
        .drop(columns=["note_date", "text"])
        .reset_index(drop=True)
    )
