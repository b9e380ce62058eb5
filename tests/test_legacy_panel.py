"""The retained legacy panel as two design groups of its cell (issue 10 item 3): a simulated
cell whose panel is its largest firms, selected again and again by `select_sample`; the
estimation's take-all group; and the two-treatment sensitivity table by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.calibration import CalibrationSettings
from samplekit.estimation import estimate, panel_sensitivity
from samplekit.selection import SelectionSettings, select_sample

CELL = {"city": "甲市", "section": "C", "size_class": "small", "ownership": "private"}


def _cell_frame(big_n=200, panel=20, seed=1):
    rng = np.random.default_rng(seed)
    emp = np.sort(np.round(np.exp(rng.normal(4.0, 0.8, big_n))) + 1)[::-1]
    return pd.DataFrame(
        {
            "enterprise_id": [f"E{i:04d}" for i in range(big_n)],
            "name": "",
            **CELL,
            "employees": emp,
            "status": "active",
            "in_panel": np.arange(big_n) < panel,
            "in_monthly": False,
        }
    )


def test_largest_firms_panel_two_groups_unbiased_quasi_biased():
    frame = _cell_frame()
    cells = pd.DataFrame([{**CELL, "n": 40, "n_monthly": 0}])
    truth = frame["employees"].sum()
    x_ret = frame.loc[frame["in_panel"], "employees"].sum()
    x_rest = truth - x_ret
    # exact expectation of the quasi-randomisation estimator: (N/n)(X_R + (n−R)/(N−R) X_rest)
    quasi_expected = 200 / 40 * (x_ret + 20 / 180 * x_rest)
    fast = CalibrationSettings(method="linear", bounds=None, margins=("city",), totals=("units",))
    two, quasi = [], []
    for seed in range(1, 81):
        res = select_sample(frame, cells, SelectionSettings(seed=seed, calibration=fast))
        s = res.sample
        assert s.loc[s["status"] == "retained", "weight"].eq(1.0).all()
        assert s.loc[s["status"] != "retained", "weight"].eq(180 / 20).all()
        two.append(float((s["weight"] * s["employees"]).sum()))
        quasi.append(float(res.cells["quasi_weighted_employment"].iloc[0]))
    two, quasi = np.array(two), np.array(quasi)
    mc_se = two.std(ddof=1) / np.sqrt(len(two))
    assert abs(two.mean() - truth) < 3.5 * mc_se and abs(two.mean() / truth - 1) < 0.02
    assert quasi.mean() == pytest.approx(quasi_expected, rel=0.02)
    assert quasi.mean() / truth > 1.4  # the panel of the largest firms inflates the total
    flags = res.flags[res.flags["flag"] == "panel_treatment_differs"]
    assert len(flags) == 1 and flags["value"].iloc[0] > 10


def test_quasi_weights_setting_keeps_the_old_weights_and_the_membership():
    frame = _cell_frame(panel=10)
    cells = pd.DataFrame([{**CELL, "n": 30, "n_monthly": 0}])
    fast = CalibrationSettings(method="linear", bounds=None, margins=("city",), totals=("units",))
    a = select_sample(frame, cells, SelectionSettings(seed=5, calibration=fast)).sample
    b = select_sample(
        frame, cells, SelectionSettings(seed=5, calibration=fast, panel_weights="quasi")
    ).sample
    assert a["enterprise_id"].tolist() == b["enterprise_id"].tolist()  # same units selected
    assert (b["weight"] == 200 / 30).all()
    assert a["weight"].sum() == pytest.approx(200) and b["weight"].sum() == pytest.approx(200)


def _membership_and_reports():
    # one cell, N = 10: retained r1, r2 (weight 1), fresh f1..f3 from the other 8 (weight 8/3)
    ids = ["r1", "r2", "f1", "f2", "f3"]
    w = [1.0, 1.0, 8 / 3, 8 / 3, 8 / 3]
    m = pd.DataFrame(
        {
            "enterprise_id": ids,
            **{k: [v] * 5 for k, v in CELL.items()},
            "weight": w,
            "calibrated_weight": w,
            "employees": [500, 400, 50, 60, 40],
            "cell_frame_units": 10,
            "cell_n": 5,
            "valid_from": "2013-01",
            "valid_to": None,
        }
    )
    x = np.array([500.0, 400.0, 50.0, 60.0, 40.0])
    red = np.array([50.0, 0.0, 5.0, 0.0, 2.0])
    rep = pd.DataFrame(
        {
            "enterprise_id": ids,
            "period": "2013-12",
            "baseline_employment": x,
            "survey_employment": x - red,
            "reduction_closure": 0.0,
            "reduction_suspension": 0.0,
            "reduction_layoff": red,
            "reduction_relocation": 0.0,
            "reduction_other": 0.0,
            "reason_1": np.where(red > 0, 4.0, np.nan),
            "reason_2": np.nan,
            "reason_3": np.nan,
        }
    )
    return m, rep, x, red


def test_take_all_group_has_no_variance_and_sensitivity_by_hand():
    m, rep, x, red = _membership_and_reports()
    est = estimate(
        rep,
        m,
        periods="2013-12",
        weight="weight",
        variance="design",
        indicators=["baseline_employment"],
    ).iloc[0]
    assert est["estimate"] == pytest.approx(900 + 8 / 3 * 150)
    # only the fresh group varies: N = 8, n = 3, SRS variance N²(1 − n/N) s²/n
    s2 = np.var([50.0, 60.0, 40.0], ddof=1)
    assert est["se"] == pytest.approx(np.sqrt(8**2 * (1 - 3 / 8) * s2 / 3))
    assert est["df"] == 5 - 2
    sens = panel_sensitivity(
        rep, m, periods="2013-12", indicators=["baseline_employment", "job_loss_rate"]
    )
    sens = sens.set_index("indicator")
    assert sens.loc["baseline_employment", "estimate_quasi"] == pytest.approx(2 * x.sum())
    assert sens.loc["baseline_employment", "difference"] == pytest.approx(
        2 * x.sum() - (900 + 8 / 3 * 150)
    )
    rate_two = 100 * (50 + 8 / 3 * 7) / (900 + 8 / 3 * 150)
    assert sens.loc["job_loss_rate", "estimate"] == pytest.approx(rate_two)
    assert sens.loc["job_loss_rate", "estimate_quasi"] == pytest.approx(100 * red.sum() / x.sum())
    assert bool(sens.loc["baseline_employment", "material"])
