"""Stand-in panels for tests, benchmarks and a national month (synthetic, seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_panel(
    n: int,
    *,
    cities: tuple[str, ...] = ("广州", "深圳", "东莞", "佛山", "中山", "汕头", "湛江"),
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
    """A stand-in panel in the "Sample list" layout (tests, benchmarks, a national month).

    Sizes are lognormal around 150 employees; a third are manufacturing (section C), of which
    half export at least 30 % of their output.
    """
    rng = np.random.default_rng(rng)
    sections = np.array(["C", "E", "F", "G", "H", "I", "K", "L", "M", "P"])
    w = np.array([0.34, 0.08, 0.14, 0.08, 0.06, 0.05, 0.05, 0.06, 0.07, 0.07])
    sec = rng.choice(sections, size=n, p=w)
    emp = np.maximum(np.round(np.exp(rng.normal(np.log(150), 0.9, n))), 10).astype(int)
    export = np.where(sec == "C", rng.choice([0.0, 0.1, 0.35, 0.6], size=n), 0.0)
    ownership = rng.choice(
        ["state", "collective", "private", "hmt", "foreign"],
        size=n,
        p=[0.15, 0.05, 0.5, 0.15, 0.15],
    )
    reg = (
        pd.Series(ownership)
        .map(
            {"state": "110", "collective": "120", "private": "170", "hmt": "230", "foreign": "330"}
        )
        .to_numpy()
    )
    size = np.select([emp >= 1000, emp >= 300, emp >= 20], ["large", "medium", "small"], "micro")
    ids = [f"91440000{k:010d}" for k in range(n)]
    return pd.DataFrame(
        {
            "enterprise_id": ids,
            "name": [f"企业{k}" for k in range(n)],
            "city": rng.choice(np.array(cities), size=n),
            "section": sec,
            "size_class": size,
            "ownership": ownership,
            "registration_type": reg,
            "employees": emp,
            "export_share": export,
            "individual": False,
        }
    )
