"""Synthetic quarterly labour-use forms (企业用工情况调查表) for the demo panel.

Everything here is synthetic (the file names say 合成演示数据): wages rise with enterprise size
and differ by industry (finance, IT and utilities highest; hotels, retail and farming lowest),
occupation mixes follow the industry, and two occupation groups are short of staff (生产制造及有关
人员 and 专业技术人员 carry higher vacancy rates and hard-to-fill shares). A few members do not
return the form, a few answer with a headcount off their monthly report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from samplekit.labour_form import OCCUPATION_GROUPS, to_form_layout

#: Monthly average wage (元, 2013) by section; other sections take the default.
SECTION_WAGE: dict[str, float] = {
    "A": 2600,
    "B": 4200,
    "C": 3600,
    "D": 6500,
    "E": 4300,
    "F": 3900,
    "G": 3400,
    "H": 2800,
    "I": 7200,
    "J": 7800,
    "K": 6800,
    "L": 4600,
    "M": 6200,
    "N": 3600,
    "O": 3000,
    "P": 4800,
    "Q": 5000,
    "R": 4400,
    "S": 5000,
}
SIZE_FACTOR: dict[str, float] = {"large": 1.25, "medium": 1.1, "small": 1.0, "micro": 0.9}
#: Occupation mix (groups 1,2,3,4,5,6,8) of production sections and of service sections.
_MIX_PRODUCTION = np.array([0.04, 0.12, 0.08, 0.08, 0.01, 0.65, 0.02])
_MIX_SERVICE = np.array([0.06, 0.22, 0.20, 0.45, 0.01, 0.04, 0.02])
_MIX_FARM = np.array([0.04, 0.06, 0.06, 0.06, 0.70, 0.06, 0.02])
#: Vacancies per employee and hard-to-fill share by group: groups 6 and 2 are the shortages.
VACANCY_RATE = np.array([0.005, 0.045, 0.012, 0.025, 0.01, 0.06, 0.01])
HARD_SHARE = np.array([0.2, 0.55, 0.15, 0.25, 0.2, 0.5, 0.1])


def demo_labour_forms(
    panel: pd.DataFrame, headcount: pd.Series, *, quarter: str, rng: int
) -> pd.DataFrame:
    """Quarterly forms (canonical layout) for the members in force at the quarter's end.

    Parameters
    ----------
    panel : DataFrame
        Members in force (``enterprise_id, section, size_class``).
    headcount : Series
        Survey employment of the quarter's last month by ``enterprise_id``.
    quarter : str
    rng : int
        Seed.
    """
    g = np.random.default_rng(rng)
    p = panel.sort_values("enterprise_id").reset_index(drop=True)
    p = p.loc[p["enterprise_id"].isin(headcount.index)].reset_index(drop=True)
    p = p.loc[g.random(len(p)) > 0.04].reset_index(drop=True)  # ~4 % do not return the form
    emp = headcount.reindex(p["enterprise_id"]).fillna(0).to_numpy().astype(int)
    off = g.random(len(p)) < 0.01  # a headcount well off the monthly report (a warning)
    emp = np.where(off, np.round(emp * 1.6), emp).astype(int)
    sec = p["section"].astype(str).to_numpy()
    base = np.array([SECTION_WAGE.get(s, 4000.0) for s in sec])
    size = p["size_class"].astype(str).map(SIZE_FACTOR).fillna(1.0).to_numpy()
    wage = np.round(base * size * np.exp(g.normal(0, 0.18, len(p))), -1)
    wage_bill = np.round(wage * emp * 3 / 1000.0, 1)
    rows = {
        "enterprise_id": p["enterprise_id"].to_numpy(),
        "quarter": quarter,
        "wage_bill": wage_bill,
        "average_wage": np.where(
            emp > 0, np.round(wage_bill * 1000 / (3 * np.maximum(emp, 1))), np.nan
        ),
    }
    rows["employees_total"] = emp
    mix = np.where(
        np.isin(sec, ["B", "C", "D", "E", "F"])[:, None],
        _MIX_PRODUCTION,
        np.where((sec == "A")[:, None], _MIX_FARM, _MIX_SERVICE),
    )
    occ = np.array([g.multinomial(n, m / m.sum()) for n, m in zip(emp, mix, strict=True)])
    for j, grp in enumerate(OCCUPATION_GROUPS):
        rows[f"emp_{grp}"] = occ[:, j]
    vac = g.poisson(occ * VACANCY_RATE * np.exp(g.normal(0, 0.5, (len(p), 1))))
    hard = g.binomial(vac, HARD_SHARE)
    for j, grp in enumerate(OCCUPATION_GROUPS):
        rows[f"vac_{grp}"] = vac[:, j]
    for j, grp in enumerate(OCCUPATION_GROUPS):
        rows[f"hard_{grp}"] = hard[:, j]
    rows["planned_hiring"] = g.poisson(np.maximum(vac.sum(axis=1), 0) * 1.2)
    rows["outlook"] = g.choice([1, 2, 3], size=len(p), p=[0.28, 0.52, 0.20])
    return pd.DataFrame(rows)


def write_demo_labour_forms(forms: pd.DataFrame, folder: str | Path, *, quarter: str) -> Path:
    """Write the forms in the Chinese form layout; the file name marks them synthetic."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{quarter}_企业用工情况调查表_合成演示数据.csv"
    to_form_layout(forms).to_csv(path, index=False, encoding="utf-8-sig")
    return path
