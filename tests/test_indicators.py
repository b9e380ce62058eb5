"""The city indicators table: validation and the seeded demo generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.demo import demo_city_indicators
from samplekit.errors import ValidationError
from samplekit.indicators import (
    HEADERS_ZH,
    load_city_indicators,
    validate_city_indicators,
)

CITIES = ["东莞", "深圳", "广州", "汕头"]
SHOCK = {"cities": ["东莞", "深圳"], "start": "2013-07", "end": "2013-12"}


def _demo(**kw):
    cities = pd.DataFrame({"city": CITIES, "employed": [500.0, 900.0, 800.0, 300.0]})
    args = {"province": "省", "start": "2012-01", "end": "2013-12", "shock": SHOCK, "rng": 4}
    args.update(kw)
    return demo_city_indicators(cities, **args)


def test_valid_table_passes_with_chinese_headers_and_empty_cells(tmp_path):
    raw = pd.DataFrame(
        {
            "城市": ["广州", "广州"],
            "月份": ["2013-01", "2013-02"],
            HEADERS_ZH["registered_rate"]: ["2.4", ""],
            "求人倍率": ["1.2", "1.3"],
        }
    )
    path = tmp_path / "t.csv"
    raw.to_csv(path, index=False, encoding="gbk")
    got = load_city_indicators(path, cities=CITIES)
    assert list(got.columns) == ["city", "period", "registered_rate", "demand_supply_ratio"]
    assert got["registered_rate"].iloc[0] == 2.4 and np.isnan(got["registered_rate"].iloc[1])


def test_every_bad_cell_is_reported():
    raw = pd.DataFrame(
        {
            "city": ["广州", "火星", "", "广州", "深圳"],
            "period": ["2013-01", "2013-02", "2013-03", "2013-01", "2013-13"],
            "registered_rate": ["2.5", "abc", "120", "2.6", "3"],
            "new_registered_unemployed": ["10", "-1", "2.5", "4", "5"],
        }
    )
    with pytest.raises(ValidationError) as exc:
        validate_city_indicators(raw, cities=CITIES, file="t.csv")
    p = exc.value.problems
    found = set(zip(p["row"], p["column"], p["rule"], strict=True))
    assert (3, "city", "unknown_city") in found
    assert (4, "city", "required") in found
    assert (2, "period", "duplicate") in found and (5, "period", "duplicate") in found
    assert (6, "period", "period_format") in found
    assert (3, "registered_rate", "not_numeric") in found
    assert (4, "registered_rate", "range") in found
    assert (3, "new_registered_unemployed", "range") in found
    assert (4, "new_registered_unemployed", "integer") in found
    assert "t.csv" in str(exc.value)


def test_missing_columns():
    with pytest.raises(ValidationError) as exc:
        validate_city_indicators(pd.DataFrame({"city": ["广州"], "period": ["2013-01"]}))
    assert set(exc.value.problems["rule"]) == {"no_indicator"}
    with pytest.raises(ValidationError):
        validate_city_indicators(pd.DataFrame({"registered_rate": ["1"]}))


def test_demo_is_valid_seeded_and_follows_the_shock():
    a, b = _demo(), _demo()
    pd.testing.assert_frame_equal(a, b)
    assert not _demo(rng=5).equals(a)
    validate_city_indicators(a.astype(str).replace("nan", ""), cities=[*CITIES, "省"])
    q = a.assign(shock=a["period"].between("2013-07", "2013-12"))
    by = q.groupby(["city", "shock"])[
        ["registered_rate", "ui_fund_months", "demand_supply_ratio"]
    ].mean()
    for city in ("东莞", "深圳"):
        assert (
            by.loc[(city, True), "registered_rate"] > by.loc[(city, False), "registered_rate"] + 0.3
        )
        assert by.loc[(city, True), "ui_fund_months"] < by.loc[(city, False), "ui_fund_months"] - 2
        assert (
            by.loc[(city, True), "demand_supply_ratio"]
            < by.loc[(city, False), "demand_supply_ratio"] - 0.1
        )
    for city in ("广州", "汕头"):
        assert (
            abs(by.loc[(city, True), "registered_rate"] - by.loc[(city, False), "registered_rate"])
            < 0.2
        )
    new = a.pivot(index="period", columns="city", values="new_registered_unemployed")
    assert new["东莞"]["2013-10":"2013-12"].sum() > 1.3 * new["东莞"]["2012-10":"2012-12"].sum()


def test_province_row_is_the_weighted_mean_and_the_sum():
    a = _demo()
    month = a[a["period"] == "2013-09"].set_index("city")
    w = pd.Series([500.0, 900.0, 800.0, 300.0], index=CITIES)
    rate = (month.loc[CITIES, "registered_rate"] * w).sum() / w.sum()
    assert abs(month.loc["省", "registered_rate"] - rate) < 0.006
    assert (
        month.loc["省", "new_registered_unemployed"]
        == month.loc[CITIES, "new_registered_unemployed"].sum()
    )


def test_store_rates_replace_the_generated_ones():
    reports = pd.DataFrame({"city": ["广州"], "period": ["2013-05"], "registered_rate_end": [4.44]})
    a = _demo(city_reports=reports)
    assert a.set_index(["city", "period"]).loc[("广州", "2013-05"), "registered_rate"] == 4.44
