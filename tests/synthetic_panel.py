"""A small synthetic panel for the brief, deep-dive and extract tests (issue 18).

60 firms in 2 cities × 2 sections × 2 size classes (strata of 7–8 firms), one window in force
since 2012-01, monthly reports 2012-01 … 2013-12 with consistent baseline/survey chains and
reductions (layoff when employment falls). Seeded: the same data every time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MONTHS = [str(p) for p in pd.period_range("2012-01", "2013-12", freq="M")]


def membership(n_per_stratum: int = 8, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for city in ("甲市", "乙市"):
        for section in ("C", "G"):
            for size in ("small", "medium"):
                n = n_per_stratum - (1 if (city, section, size) == ("乙市", "G", "medium") else 0)
                for _ in range(n):
                    k += 1
                    rows.append(
                        {
                            "enterprise_id": f"91440000TEST{k:05d}X",
                            "name": f"{city}测试{section}企业{k}号",
                            "city": city,
                            "section": section,
                            "size_class": size,
                            "ownership": "private" if k % 3 else "state",
                            "registration_type": "170",
                            "employees": 100,
                            "export_share": float(rng.choice([0.0, 0.1, 0.5, 0.8])),
                            "individual": False,
                            "valid_from": "2012-01",
                            "valid_to": None,
                            "inclusion_prob": 0.1,
                            "weight": float(rng.uniform(5, 20)),
                            "calibrated_weight": float(rng.uniform(5, 20)),
                            "cell_frame_units": None,
                            "cell_n": n,
                            "ministry": k % 4 == 0,
                            "entry_reason": "design",
                            "exit_reason": None,
                            "window_id": 1,
                        }
                    )
    return pd.DataFrame(rows)


def reports(members: pd.DataFrame, seed: int = 11, months: list[str] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = months or MONTHS
    rows = []
    for r in members.itertuples():
        level = int(rng.integers(40, 400))
        exposed = r.section == "C" and r.export_share >= 0.3
        for m in months:
            drift = -0.06 if exposed and m >= "2013-07" else 0.0
            new = max(int(round(level * (1 + drift + rng.normal(0, 0.03)))), 1)
            fall = max(level - new, 0)
            rows.append(
                {
                    "enterprise_id": r.enterprise_id,
                    "period": m,
                    "baseline_employment": level,
                    "survey_employment": new,
                    "change": new - level,
                    "change_pct": round(100 * (new - level) / level, 1),
                    "reduction_closure": 0,
                    "reduction_suspension": 0,
                    "reduction_layoff": fall,
                    "reduction_relocation": 0,
                    "reduction_other": 0,
                    "reason_1": 4 if fall else pd.NA,
                    "reason_2": pd.NA,
                    "reason_3": pd.NA,
                    "remark": f"{r.name}备注" if fall > 20 else None,
                }
            )
            level = new
    df = pd.DataFrame(rows)
    for c in ("reason_1", "reason_2", "reason_3"):
        df[c] = df[c].astype("Int64")
    return df


def windows() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "window_id": 1,
                "run_id": "",
                "kind": "import",
                "window_month": "2011-12",
                "effective": "2012-01",
                "made_at": None,
                "params_sha256": "",
                "members": 63,
                "entered": 63,
                "exited": 0,
                "forced": False,
                "note": "",
            }
        ]
    )


def register(members: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """A register of 10 units per member-stratum unit plus inactive units (left out)."""
    rng = np.random.default_rng(seed)
    reg = members.loc[
        members.index.repeat(10), ["city", "section", "size_class", "ownership"]
    ].reset_index(drop=True)
    reg["employees"] = rng.integers(20, 500, len(reg))
    reg["status"] = np.where(np.arange(len(reg)) % 9 == 0, "closed", "active")
    reg["enterprise_id"] = [f"R{k:06d}" for k in range(len(reg))]
    return reg
