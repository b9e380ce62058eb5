"""Size class (国统字〔2011〕75号), ownership and sector against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from samplekit import reference
from samplekit.classification import industry_group, ownership, sector, size_class

# (section, division, employees, revenue, assets, expected) — worked by hand from the table in
# data/reference/enterprise_size_thresholds_2011.csv, at and just below each bound.
HAND_CASES = [
    # 农、林、牧、渔业: revenue only (20000 / 500 / 50)
    ("A", "01", 5, 20000, None, "large"),
    ("A", "01", 5, 19999.9, None, "medium"),
    ("A", "01", 5000, 500, None, "medium"),
    ("A", "01", 5000, 499, None, "small"),
    ("A", "01", 5000, 50, None, "small"),
    ("A", "01", 5000, 49.9, None, "micro"),
    # 工业: employees 1000/300/20 AND revenue 40000/2000/300
    ("C", "13", 1000, 40000, None, "large"),
    ("C", "13", 999, 40000, None, "medium"),
    ("C", "13", 1000, 39999, None, "medium"),
    ("C", "13", 300, 2000, None, "medium"),
    ("C", "13", 299, 1e6, None, "small"),
    ("C", "13", 5000, 1999, None, "small"),
    ("C", "13", 20, 300, None, "small"),
    ("C", "13", 19, 1e6, None, "micro"),
    ("C", "13", 5000, 299, None, "micro"),
    ("B", "06", 1000, 40000, None, "large"),
    ("D", "44", 300, 2000, None, "medium"),
    # 建筑业: revenue 80000/6000/300 AND assets 80000/5000/300
    ("E", "47", 1, 80000, 80000, "large"),
    ("E", "47", 1, 80000, 79999, "medium"),
    ("E", "47", 1, 6000, 5000, "medium"),
    ("E", "47", 1, 5999, 5000, "small"),
    ("E", "47", 1, 300, 300, "small"),
    ("E", "47", 1, 300, 299, "micro"),
    # 批发业 (51): employees 200/20/5 AND revenue 40000/5000/1000
    ("F", "51", 200, 40000, None, "large"),
    ("F", "51", 199, 40000, None, "medium"),
    ("F", "51", 20, 5000, None, "medium"),
    ("F", "51", 20, 4999, None, "small"),
    ("F", "51", 5, 1000, None, "small"),
    ("F", "51", 4, 1000, None, "micro"),
    # 零售业 (52): employees 300/50/10 AND revenue 20000/500/100
    ("F", "52", 300, 20000, None, "large"),
    ("F", "52", 50, 500, None, "medium"),
    ("F", "52", 49, 500, None, "small"),
    ("F", "52", 10, 100, None, "small"),
    ("F", "52", 10, 99, None, "micro"),
    # 交通运输业 (54-58): employees 1000/300/20 AND revenue 30000/3000/200
    ("G", "54", 1000, 30000, None, "large"),
    ("G", "58", 300, 3000, None, "medium"),
    ("G", "56", 300, 2999, None, "small"),
    ("G", "55", 20, 200, None, "small"),
    ("G", "54", 19, 200, None, "micro"),
    # 仓储业 (59): employees 200/100/20 AND revenue 30000/1000/100
    ("G", "59", 200, 30000, None, "large"),
    ("G", "59", 100, 1000, None, "medium"),
    ("G", "59", 99, 1000, None, "small"),
    ("G", "59", 20, 99, None, "micro"),
    # 邮政业 (60): employees 1000/300/20 AND revenue 30000/2000/100
    ("G", "60", 1000, 30000, None, "large"),
    ("G", "60", 300, 2000, None, "medium"),
    ("G", "60", 300, 1999, None, "small"),
    ("G", "60", 20, 100, None, "small"),
    ("G", "60", 19, 100, None, "micro"),
    # 住宿业 (61): employees 300/100/10 AND revenue 10000/2000/100
    ("H", "61", 300, 10000, None, "large"),
    ("H", "61", 100, 2000, None, "medium"),
    ("H", "61", 100, 1999, None, "small"),
    ("H", "61", 9, 5000, None, "micro"),
    # 餐饮业 (62): same bounds as 住宿业
    ("H", "62", 300, 10000, None, "large"),
    ("H", "62", 299, 10000, None, "medium"),
    ("H", "62", 10, 100, None, "small"),
    ("H", "62", 10, 99, None, "micro"),
    # 信息传输业 (63, 64): employees 2000/100/10 AND revenue 100000/1000/100
    ("I", "63", 2000, 100000, None, "large"),
    ("I", "64", 1999, 100000, None, "medium"),
    ("I", "63", 100, 1000, None, "medium"),
    ("I", "63", 10, 100, None, "small"),
    ("I", "64", 10, 99, None, "micro"),
    # 软件和信息技术服务业 (65): employees 300/100/10 AND revenue 10000/1000/50
    ("I", "65", 300, 10000, None, "large"),
    ("I", "65", 100, 1000, None, "medium"),
    ("I", "65", 100, 999, None, "small"),
    ("I", "65", 10, 50, None, "small"),
    ("I", "65", 10, 49, None, "micro"),
    # 房地产开发经营 (7010): revenue 200000/1000/100 AND assets 10000/5000/2000
    ("K", "7010", 1, 200000, 10000, "large"),
    ("K", "7010", 1, 199999, 10000, "medium"),
    ("K", "7010", 1, 1000, 5000, "medium"),
    ("K", "7010", 1, 1000, 4999, "small"),
    ("K", "7010", 1, 100, 2000, "small"),
    ("K", "7010", 1, 100, 1999, "micro"),
    # 物业管理 (702): employees 1000/300/100 AND revenue 5000/1000/500
    ("K", "702", 1000, 5000, None, "large"),
    ("K", "702", 300, 1000, None, "medium"),
    ("K", "702", 299, 1000, None, "small"),
    ("K", "702", 100, 500, None, "small"),
    ("K", "702", 99, 500, None, "micro"),
    # 租赁和商务服务业 (L): employees 300/100/10 AND assets 120000/8000/100
    ("L", "72", 300, 0, 120000, "large"),
    ("L", "72", 300, 0, 119999, "medium"),
    ("L", "71", 100, 0, 8000, "medium"),
    ("L", "72", 10, 0, 100, "small"),
    ("L", "72", 10, 0, 99, "micro"),
    # 其他未列明行业 (M N O Q R; K 703/709): employees 300/100/10
    ("M", "73", 300, 0, None, "large"),
    ("N", "77", 299, 0, None, "medium"),
    ("O", "80", 100, 0, None, "medium"),
    ("Q", "84", 99, 0, None, "small"),
    ("R", "86", 10, 0, None, "small"),
    ("K", "703", 9, 1e9, 1e9, "micro"),
    ("K", "709", 300, 0, None, "large"),
]


def _frame(cases):
    return pd.DataFrame(
        cases, columns=["section", "division", "employees", "revenue", "assets", "expected"]
    )


def test_size_class_hand_cases():
    df = _frame(HAND_CASES)
    got = size_class(df)
    wrong = df.assign(got=got)[got != df["expected"]]
    assert wrong.empty, wrong.to_string()


def test_every_industry_group_has_hand_cases():
    df = _frame(HAND_CASES)
    covered = set(industry_group(df["section"], df["division"])["industry_group"])
    listed = set(reference.size_thresholds()["industry_group"])
    assert listed <= covered, listed - covered


def _reference_rule(group_rows: pd.DataFrame, values: dict[str, float]) -> str:
    """Independent statement of the rule: the highest class whose every bound is met."""
    for cls, col in (("large", "large_min"), ("medium", "medium_min"), ("small", "small_min")):
        if all(values[r.indicator] >= getattr(r, col) for r in group_rows.itertuples()):
            return cls
    return "micro"


def test_size_class_boundary_sweep_against_reference_rule():
    """At, just below and just above every bound of every group, one indicator at a time."""
    thresholds = reference.size_thresholds()
    example = {  # a section/division per group
        "农、林、牧、渔业": ("A", "02"),
        "工业": ("C", "30"),
        "建筑业": ("E", "48"),
        "批发业": ("F", "51"),
        "零售业": ("F", "52"),
        "交通运输业": ("G", "54"),
        "仓储业": ("G", "59"),
        "邮政业": ("G", "60"),
        "住宿业": ("H", "61"),
        "餐饮业": ("H", "62"),
        "信息传输业": ("I", "63"),
        "软件和信息技术服务业": ("I", "65"),
        "房地产开发经营": ("K", "7010"),
        "物业管理": ("K", "702"),
        "租赁和商务服务业": ("L", "71"),
        "其他未列明行业": ("M", "74"),
    }
    rows, expected = [], []
    for group, grows in thresholds.groupby("industry_group"):
        sec, div = example[group]
        for target in grows.itertuples():
            for bound in ("large_min", "medium_min", "small_min"):
                for delta in (-1, 0, 1):
                    values = {"employees": 1e9, "revenue": 1e12, "assets": 1e12}
                    values[target.indicator] = getattr(target, bound) + delta
                    rows.append({"section": sec, "division": div, **values})
                    expected.append(_reference_rule(grows, values))
    df = pd.DataFrame(rows)
    assert (size_class(df).to_numpy() == np.array(expected)).all()


def test_missing_indicator_counts_as_not_met():
    df = pd.DataFrame(
        {
            "section": ["E"],
            "division": ["47"],
            "employees": [5000],
            "revenue": [1e6],
            "assets": [np.nan],
        }
    )
    assert size_class(df).tolist() == ["micro"]


def test_missing_division_uses_section_default_and_is_flagged():
    g = industry_group(pd.Series(["F", "F", "C", "K"]), pd.Series([None, "51", None, None]))
    assert g["industry_group"].tolist() == ["零售业", "批发业", "工业", "房地产开发经营"]
    assert g["used_default"].tolist() == [True, False, False, True]


def test_ownership_groups():
    codes = pd.Series(["110", "151", "120", "130", "159", "170", "230", "330", "999"])
    assert ownership(codes).tolist()[:8] == [
        "state",
        "state",
        "collective",
        "collective",
        "private",
        "private",
        "hmt",
        "foreign",
    ]
    assert pd.isna(ownership(codes).iloc[8])


def test_sector_with_division_exceptions():
    got = sector(
        pd.Series(["A", "A", "B", "C", "C", "F"]), pd.Series(["01", "05", "11", "13", "43", "51"])
    )
    assert got.tolist() == ["primary", "tertiary", "tertiary", "secondary", "tertiary", "tertiary"]
