"""Structure of a register by city, section, size and ownership (tables for notebook 00)."""

from __future__ import annotations

import pandas as pd

from samplekit import reference
from samplekit.rules import EligibilityRule

#: Chinese headers for the structure tables.
SUMMARY_HEADERS_ZH: dict[str, str] = {
    "city": "城市",
    "section": "行业门类",
    "section_name": "行业名称",
    "size_class": "企业规模",
    "ownership": "所有制类型",
    "units": "企业数",
    "active": "正常经营企业数",
    "eligible": "可抽选企业数(非微型、正常经营)",
    "employment": "从业人数",
    "share_units": "企业数占比(%)",
    "share_employment": "从业人数占比(%)",
    "panel": "现有监测企业数",
    "panel_share": "监测企业占比(%)",
    "monthly": "月度监测企业数",
}


def structure(
    frame: pd.DataFrame, by: str | list[str], *, eligibility: EligibilityRule | None = None
) -> pd.DataFrame:
    """Units, active and eligible units, employment and the existing panel per group.

    Parameters
    ----------
    frame : DataFrame
        The classified register.
    by : str or list of str
        Grouping columns (``city``, ``section``, ``size_class``, ``ownership``).
    eligibility : EligibilityRule, optional
        Which units may enter the panel (:class:`samplekit.rules.EligibilityRule`; the job's
        rule comes from its allocation rules). Default: active and not micro.

    Returns
    -------
    DataFrame
        One row per group with ``units, active, eligible, employment, share_units,
        share_employment, panel, panel_share, monthly``; shares in percent of the column total.
        Eligible: by ``eligibility`` (default: active and not micro — 308号 excludes micro).

    Examples
    --------
    >>> df = pd.DataFrame({"city": ["甲", "甲", "乙"], "status": ["active"] * 3,
    ...     "size_class": ["small", "micro", "large"], "employees": [50, 5, 1000],
    ...     "in_panel": [True, False, True], "in_monthly": [False, False, True]})
    >>> structure(df, "city")["eligible"].tolist()
    [1, 1]
    """
    keys = [by] if isinstance(by, str) else list(by)
    active = frame["status"] == "active"
    work = pd.DataFrame(
        {
            **{k: frame[k] for k in keys},
            "units": 1,
            "active": active.astype(int),
            "eligible": (eligibility or EligibilityRule()).mask(frame).astype(int),
            "employment": frame["employees"].where(active, 0),
            "panel": frame["in_panel"].astype(int),
            "monthly": frame["in_monthly"].astype(int),
        }
    )
    out = work.groupby(keys, sort=True).sum().reset_index()
    out["share_units"] = (100 * out["units"] / out["units"].sum()).round(2)
    out["share_employment"] = (100 * out["employment"] / out["employment"].sum()).round(2)
    out["panel_share"] = (100 * out["panel"] / out["panel"].sum()).round(2)
    if "section" in keys:
        out.insert(
            keys.index("section") + 1, "section_name", out["section"].map(reference.section_names())
        )
    if "size_class" in keys:
        order = {c: i for i, c in enumerate(reference.SIZE_CLASSES)}
        out = out.sort_values("size_class", key=lambda s: s.map(order), kind="stable")
    return out[
        [
            *keys,
            *(["section_name"] if "section" in keys else []),
            "units",
            "active",
            "eligible",
            "employment",
            "share_units",
            "share_employment",
            "panel",
            "panel_share",
            "monthly",
        ]
    ].reset_index(drop=True)


def mix(frame: pd.DataFrame, by: str, of: str, *, weight: str | None = None) -> pd.DataFrame:
    """Percent mix of ``of`` within each ``by`` group (rows sum to 100), e.g. size mix per city."""
    values = frame[weight] if weight else pd.Series(1, index=frame.index)
    table = values.groupby([frame[by], frame[of]]).sum().unstack(of, fill_value=0)
    return (100 * table.div(table.sum(axis=1), axis=0)).round(2)


def panel_vs_frame(frame: pd.DataFrame, of: str) -> pd.DataFrame:
    """Share (%) of each ``of`` category among active units and among the existing panel."""
    active = frame[frame["status"] == "active"]
    panel = frame[frame["in_panel"]]
    out = (
        pd.DataFrame(
            {
                "frame": 100 * active[of].value_counts(normalize=True),
                "panel": 100 * panel[of].value_counts(normalize=True),
            }
        )
        .fillna(0.0)
        .round(2)
    )
    order = {"size_class": reference.SIZE_CLASSES, "ownership": reference.OWNERSHIP_GROUPS}.get(of)
    if order is not None:
        out = out.reindex([c for c in order if c in out.index])
    out.index.name = of
    return out.reset_index()
