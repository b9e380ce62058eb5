"""Non-response in estimation (issue 13 item 2): response cells without any reporter are
collapsed by the documented rule, no weight is lost, and response rates sit beside estimates.

Every expected figure below is worked out by hand from the tiny design in the comments
(weights × factors written as fractions), not by the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.estimation import (
    estimate,
    monthly_series,
    response_cells,
    response_summary,
    response_tables,
)

# (enterprise_id, city, section, size_class, ownership, weight, baseline x, survey y, reports?)
UNITS = [
    # cell 1 甲/C/small/private: weights 10, a3 missing -> factor 30/20 = 1.5
    ("a1", "甲", "C", "small", "private", 10.0, 100, 90, True),
    ("a2", "甲", "C", "small", "private", 10.0, 50, 50, True),
    ("a3", "甲", "C", "small", "private", 10.0, 70, 60, False),
    # cell 2 甲/C/small/state: nobody reports -> into 甲/C/small (cell 1 only), W_e = 10
    ("b1", "甲", "C", "small", "state", 5.0, 40, 40, False),
    ("b2", "甲", "C", "small", "state", 5.0, 30, 20, False),
    # cell 3 甲/C/medium/private: both report -> factor 1
    ("c1", "甲", "C", "medium", "private", 4.0, 30, 33, True),
    ("c2", "甲", "C", "medium", "private", 4.0, 20, 18, True),
    # cell 4 甲/C/large/private: nobody reports; 甲/C/large has no reporter, so it goes to
    # 甲/C (cells 1 and 3 report: W_G = 30 + 8 = 38), W_e = 6
    ("e1", "甲", "C", "large", "private", 6.0, 500, 400, False),
    # cell 5 甲/G/small/private: nobody reports; 甲/G/small and 甲/G have no reporter, so it goes
    # to 甲/small (cell 1 only: W_G = 30), W_e = 12
    ("g1", "甲", "G", "small", "private", 12.0, 60, 60, False),
    # cell 6 乙/C/small/private: d2 missing -> factor 16/8 = 2
    ("d1", "乙", "C", "small", "private", 8.0, 70, 63, True),
    ("d2", "乙", "C", "small", "private", 8.0, 90, 90, False),
    # cell 7 丙/C/small/private: the whole city is silent -> not collapsed, weight 9 lost
    ("f1", "丙", "C", "small", "private", 9.0, 45, 45, False),
]

# Hand-worked final weights of the reporters:
#   cell 1: 10 × 1.5 × (1 + 10/30 + 6/38 + 12/30) = 15 × (1 + 1/3 + 3/19 + 2/5)
#   cell 3: 4 × 1 × (1 + 6/38)
#   cell 6: 8 × 2
W_CELL1 = 15 * (1 + 1 / 3 + 3 / 19 + 2 / 5)
W_CELL3 = 4 * (1 + 3 / 19)
W_CELL6 = 16.0


def sample(*, calibrated_factor: float = 1.0) -> pd.DataFrame:
    rows = [
        {
            "enterprise_id": eid,
            "city": city,
            "section": sec,
            "size_class": size,
            "ownership": own,
            "weight": w,
            "calibrated_weight": w * calibrated_factor,
            "employees": x,
        }
        for eid, city, sec, size, own, w, x, _y, _r in UNITS
    ]
    return pd.DataFrame(rows)


def reports(period: str = "2013-12") -> pd.DataFrame:
    rows = []
    for eid, *_rest, x, y, reports_ in UNITS:
        if reports_:
            rows.append(
                {
                    "enterprise_id": eid,
                    "period": period,
                    "baseline_employment": x,
                    "survey_employment": y,
                    "reduction_closure": 0,
                    "reduction_suspension": 0,
                    "reduction_layoff": max(x - y, 0),
                    "reduction_relocation": 0,
                    "reduction_other": 0,
                    "reason_1": 4 if y < x else None,
                }
            )
    return pd.DataFrame(rows)


def _value(est: pd.DataFrame, indicator: str, **where) -> pd.Series:
    m = est["indicator"] == indicator
    for k, v in where.items():
        m &= est[k] == v
    assert m.sum() == 1
    return est.loc[m].iloc[0]


def test_empty_cells_are_collapsed_by_the_documented_rule_and_no_weight_is_lost():
    est = estimate(reports(), sample(), periods="2013-12", weight="weight", variance="design")
    # Hand totals from the hand-worked weights above.
    x_total = W_CELL1 * (100 + 50) + W_CELL3 * (30 + 20) + W_CELL6 * 70
    y_total = W_CELL1 * (90 + 50) + W_CELL3 * (33 + 18) + W_CELL6 * 63
    assert _value(est, "baseline_employment")["estimate"] == pytest.approx(x_total, rel=1e-12)
    assert _value(est, "survey_employment")["estimate"] == pytest.approx(y_total, rel=1e-12)
    rate = 100 * (y_total - x_total) / x_total
    assert _value(est, "net_change_rate")["estimate"] == pytest.approx(rate, rel=1e-12)
    # Every member's weight is kept except the silent city's (9): 30+10+8+6+12 + 16 = 82.
    weights = 2 * W_CELL1 + 2 * W_CELL3 + W_CELL6
    assert weights == pytest.approx(82.0)
    share = _value(est, "share_reducing")  # a ratio over Σw: its denominator is the weight sum
    reducing = W_CELL1 * 1 + W_CELL3 * 1 + W_CELL6 * 1  # a1, c2, d1 fell
    assert share["estimate"] == pytest.approx(100 * reducing / 82.0, rel=1e-12)


def test_the_collapse_report_says_which_cell_went_where():
    cells = response_cells(reports(), sample(), periods="2013-12", weight="weight")
    by_key = cells.set_index(["city", "section", "size_class", "ownership"])
    assert by_key.loc[("甲", "C", "small", "state"), "collapse_level"] == "city_section_size"
    assert by_key.loc[("甲", "C", "small", "state"), "collapsed_into"] == "甲/C/small"
    assert by_key.loc[("甲", "C", "large", "private"), "collapse_level"] == "city_section"
    assert by_key.loc[("甲", "C", "large", "private"), "collapsed_into"] == "甲/C"
    assert by_key.loc[("甲", "C", "large", "private"), "receiving_reporters"] == 4
    assert by_key.loc[("甲", "G", "small", "private"), "collapse_level"] == "city_size"
    assert by_key.loc[("甲", "G", "small", "private"), "collapsed_into"] == "甲/small"
    lost = by_key.loc[("丙", "C", "small", "private")]
    assert lost["collapse_level"] == "none" and lost["weight_lost"] == pytest.approx(9.0)
    assert "全市无报送" in lost["collapse_level_zh"]
    one = by_key.loc[("甲", "C", "small", "private")]
    assert one["adjustment"] == pytest.approx(W_CELL1 / 10)
    assert one["weight_added"] == pytest.approx(30 * (1 / 3 + 3 / 19 + 2 / 5))
    assert one["response_rate"] == pytest.approx(200 / 3)
    assert by_key.loc[("甲", "C", "medium", "private"), "adjustment"] == pytest.approx(22 / 19)
    assert np.isnan(by_key.loc[("甲", "C", "small", "state"), "adjustment"])
    # weight added equals the weight of the collapsed cells: 10 + 6 + 12
    assert cells["weight_added"].sum() == pytest.approx(28.0)
    summary = response_summary(cells, by=["city"], province="全省").set_index("city")
    assert summary.loc["甲", "n_members"] == 9 and summary.loc["甲", "n_reporters"] == 4
    assert summary.loc["甲", "cells_empty"] == 3 and summary.loc["甲", "cells_collapsed"] == 3
    assert summary.loc["丙", "weight_lost"] == pytest.approx(9.0)
    assert summary.loc["全省", "n_members"] == 12 and summary.loc["全省", "n_reporters"] == 5
    assert summary.loc["全省", "response_rate"] == pytest.approx(500 / 12)


def test_calibrated_path_collapses_the_same_way():
    # Calibrated weights 1.2 × design: factors are ratios of weight totals, so the reporters'
    # final calibrated weights are 1.2 × the hand-worked ones; the SE is calibration-aware.
    est = estimate(reports(), sample(calibrated_factor=1.2), periods="2013-12")
    x_total = 1.2 * (W_CELL1 * 150 + W_CELL3 * 50 + W_CELL6 * 70)
    r = _value(est, "baseline_employment")
    assert r["estimate"] == pytest.approx(x_total, rel=1e-12)
    assert np.isfinite(r["se"])


def test_a_take_all_group_without_reporters_goes_to_its_stratums_sampled_group():
    # One stratum, N = 12: two retained members (weight 1, take-all) that do not report and
    # four fresh members of weight (12 − 2) / 4 = 2.5, three reporting -> within factor 10/7.5,
    # then the take-all weight 2 is spread over the fresh reporters: × (1 + 2/10).
    rows = [("t1", 1.0, 500, 480), ("t2", 1.0, 400, 400)] + [
        (f"s{i}", 2.5, 10 * i, 10 * i - 1) for i in range(1, 5)
    ]
    smp = pd.DataFrame(
        {
            "enterprise_id": [r[0] for r in rows],
            "city": "甲",
            "section": "C",
            "size_class": "small",
            "ownership": "private",
            "weight": [r[1] for r in rows],
            "calibrated_weight": [r[1] for r in rows],
            "cell_frame_units": 12,
        }
    )
    rep = pd.DataFrame(
        {
            "enterprise_id": ["s1", "s2", "s3"],
            "period": "2013-12",
            "baseline_employment": [10, 20, 30],
            "survey_employment": [9, 19, 29],
            **{f"reduction_{t}": 0 for t in ("suspension", "closure", "relocation", "other")},
            "reduction_layoff": 1,
            "reason_1": 4,
        }
    )
    est = estimate(rep, smp, periods="2013-12", weight="weight", variance="design")
    w = 2.5 * (10 / 7.5) * (1 + 2 / 10)  # = 4 = 12 / 3: the stratum's weight on 3 reporters
    assert _value(est, "baseline_employment")["estimate"] == pytest.approx(w * 60)
    cells = response_cells(rep, smp, periods="2013-12", weight="weight")
    take = cells.set_index("design_group").loc["take_all"]
    assert take["collapse_level"] == "stratum" and take["n_members"] == 2


def test_response_columns_sit_beside_every_estimate():
    est = estimate(
        reports(), sample(), periods="2013-12", by=["city"], weight="weight", variance="design"
    )
    cols = list(est.columns)
    at = cols.index("n_reporters")
    assert cols[at - 1 : at + 2] == ["n_members", "n_reporters", "response_rate"]
    jia = _value(est, "baseline_employment", city="甲")
    assert (jia["n_members"], jia["n_reporters"]) == (9, 4)
    assert jia["response_rate"] == pytest.approx(100 * 4 / 9)
    bing = _value(est, "baseline_employment", city="丙")  # listed without reporters
    assert (bing["n_members"], bing["n_reporters"], bing["response_rate"]) == (1, 0, 0.0)
    assert np.isnan(bing["estimate"])
    prov = estimate(reports(), sample(), periods="2013-12", weight="weight", variance="design")
    assert (prov["n_members"] == 12).all() and (prov["n_reporters"] == 5).all()
    two = pd.concat([reports("2013-11"), reports("2013-12")], ignore_index=True)
    series = monthly_series(
        two, sample(), indicator="job_loss_rate", by=["city"], weight="weight", variance="design"
    )
    assert series.loc[series["city"] == "乙", "n_members"].tolist() == [2, 2]
    assert series.loc[series["city"] == "乙", "response_rate"].tolist() == [50.0, 50.0]


def test_response_tables_for_the_cli_from_a_membership():
    smp = sample().assign(valid_from="2013-01", valid_to=None, ministry=False)
    by_city, cells = response_tables(reports(), smp, period="2013-12", weights="design")
    assert by_city["city"].iloc[-1] == "全省" and set(by_city["city"]) == {"甲", "乙", "丙", "全省"}
    assert by_city.set_index("city").loc["全省", "weight_lost"] == pytest.approx(9.0)
    assert len(cells) == 7


def test_warning_tables_carry_the_response_columns():
    from samplekit.warning import estimate_quarters

    three = pd.concat([reports(m) for m in ("2013-10", "2013-11", "2013-12")], ignore_index=True)
    q = estimate_quarters(
        three, sample(), ["2013Q4"], province="全省", indicators=["job_loss_rate"]
    ).set_index("city")
    assert (q.loc["甲", "n_members"], q.loc["甲", "n_reporters"]) == (9, 4)
    assert q.loc["全省", "response_rate"] == pytest.approx(500 / 12)
