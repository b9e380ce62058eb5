"""Demo counties (县/区) for the three-level warning: real district names of two demo cities with
SYNTHETIC weights, and a seeded assignment of the demo members to them (the demo register has
no county column). Labelled synthetic wherever shown."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

#: city -> [(district, synthetic weight)]: the 2013 districts of 深圳 and 佛山; the weights are
#: invented (roughly the districts' relative sizes), not yearbook figures.
DEMO_COUNTIES: dict[str, list[tuple[str, float]]] = {
    "深圳": [
        ("福田区", 14.0),
        ("罗湖区", 9.0),
        ("南山区", 13.0),
        ("盐田区", 2.0),
        ("宝安区", 36.0),
        ("龙岗区", 26.0),
    ],
    "佛山": [
        ("禅城区", 18.0),
        ("南海区", 33.0),
        ("顺德区", 35.0),
        ("三水区", 8.0),
        ("高明区", 6.0),
    ],
}


def demo_counties() -> pd.DataFrame:
    """The demo county table ``city, county, weight, total`` (weights synthetic)."""
    rows = [
        {"city": c, "county": k, "weight": w, "total": np.nan}
        for c, ks in DEMO_COUNTIES.items()
        for k, w in ks
    ]
    return pd.DataFrame(rows, columns=["city", "county", "weight", "total"])


def assign_demo_counties(
    members: pd.DataFrame, counties: pd.DataFrame, *, seed: int = 0
) -> pd.Series:
    """A county per member of a city with counties (with probability ∝ the county weight,
    from a hash of the enterprise id and ``seed``: stable across windows); NaN elsewhere."""
    out = pd.Series(np.nan, index=members.index, dtype=object)
    for city, grp in counties.groupby("city", sort=True):
        w = grp["weight"].to_numpy(dtype=float)
        cum = np.cumsum(w / w.sum())
        mask = members["city"].astype(str) == city
        ids = members.loc[mask, "enterprise_id"].astype(str)
        u = np.array(
            [int(hashlib.sha256(f"{seed}|{i}".encode()).hexdigest()[:12], 16) / 16**12 for i in ids]
        )
        out[mask] = grp["county"].to_numpy()[
            np.searchsorted(cum, u, side="right").clip(max=len(w) - 1)
        ]
    return out
