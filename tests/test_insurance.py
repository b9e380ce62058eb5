"""The social-insurance cross-check: tolerance, persistence, planted discrepancies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.insurance import (
    InsuranceSettings,
    city_gap_summary,
    insurance_gaps,
    persistent_gaps,
)

PANEL = pd.DataFrame(
    {
        "enterprise_id": ["f1", "f2", "f3", "f4", "f5"],
        "city": ["东莞", "东莞", "深圳", "深圳", "深圳"],
    }
)


def test_gaps_against_hand_computation():
    reports = pd.DataFrame(
        {
            "enterprise_id": ["f1", "f2", "f3", "f4", "f5"],
            "period": "2013-10",
            "survey_employment": [100, 200, 20, 50, 8],
        }
    )
    insured = pd.DataFrame(
        {
            "credit_code": ["f1", "f2", "f3", "f5", "zz"],
            "period": "2013-10",
            "insured": [95, 150, 35, 0, 7],
        }
    )
    g = insurance_gaps(reports, insured, PANEL).set_index("enterprise_id")
    # f1: gap 5 ≤ max(10, 0.2×95=19); f2: 50 > max(10, 30); f3: −15, |−15| > max(10, 7);
    # f4: no insured row; f5: 8 ≤ 10 (and no relative gap: insured 0)
    assert g["status"].to_dict() == {
        "f1": "ok",
        "f2": "discrepancy",
        "f3": "discrepancy",
        "f4": "no_insured",
        "f5": "ok",
    }
    assert g["gap"].tolist()[:3] == [5, 50, -15]
    assert g.loc["f2", "allowed"] == pytest.approx(30.0)
    assert g.loc["f3", "rel_gap"] == pytest.approx(-15 / 35)
    assert pd.isna(g.loc["f5", "rel_gap"])
    over = insurance_gaps(
        reports, insured, PANEL, settings=InsuranceSettings(direction="over")
    ).set_index("enterprise_id")
    assert over.loc["f3", "status"] == "ok" and over.loc["f2", "status"] == "discrepancy"
    summary = city_gap_summary(g.reset_index()).set_index("city")
    assert summary.loc["东莞", ["matched", "discrepancies", "no_insured"]].tolist() == [2, 1, 0]
    assert summary.loc["深圳", ["matched", "discrepancies", "no_insured"]].tolist() == [2, 1, 1]
    assert (
        summary.loc["东莞", "reported_total"] == 300 and summary.loc["东莞", "insured_total"] == 245
    )


def test_persistence_needs_consecutive_months():
    months = ["2013-07", "2013-08", "2013-09", "2013-10", "2013-11", "2013-12"]
    # f2 over-reports in Jul–Sep and Nov (Oct fine); f3 in Aug, Sep, Nov, Dec (no Oct report)
    rep = {"f2": [200, 200, 200, 200, 200, 200], "f3": [100, 100, 100, None, 100, 100]}
    ins = {"f2": [100, 100, 100, 190, 100, 190], "f3": [100, 50, 50, 100, 50, 50]}
    reports = pd.DataFrame(
        [
            (e, m, v)
            for e, vs in rep.items()
            for m, v in zip(months, vs, strict=True)
            if v is not None
        ],
        columns=["enterprise_id", "period", "survey_employment"],
    )
    insured = pd.DataFrame(
        [(e, m, v) for e, vs in ins.items() for m, v in zip(months, vs, strict=True)],
        columns=["credit_code", "period", "insured"],
    )
    gaps = insurance_gaps(reports, insured, PANEL)
    w = persistent_gaps(gaps, settings=InsuranceSettings(persistence_months=3))
    assert w[["enterprise_id", "first_period", "last_period", "months"]].values.tolist() == [
        ["f2", "2013-07", "2013-09", 3]
    ]
    assert w["mean_gap"].iloc[0] == pytest.approx(100.0)
    two = persistent_gaps(gaps, settings=InsuranceSettings(persistence_months=2))
    assert two[["enterprise_id", "first_period", "months"]].values.tolist() == [
        ["f2", "2013-07", 3],
        ["f3", "2013-08", 2],
        ["f3", "2013-11", 2],
    ]


def test_insured_file_problems(tmp_path):
    from samplekit.store import ingest_insured, read_network_table

    path = tmp_path / "参保.csv"
    pd.DataFrame(
        {
            "统一社会信用代码": ["91440300MA5D000011", "123", "91440300MA5D000011", ""],
            "月份": ["2013-10", "2013-10", "2013/10", "2013-11"],
            "参保人数": ["100", "-3", "101", "1.5"],
        }
    ).to_csv(path, index=False, encoding="gbk")
    r = ingest_insured(tmp_path / "s.duckdb", path)
    got = set(
        zip(r.problems["row"].astype(int), r.problems["column"], r.problems["rule"], strict=True)
    )
    assert got == {
        (2, "credit_code", "duplicate"),
        (4, "credit_code", "duplicate"),
        (3, "credit_code", "credit_code_format"),
        (3, "insured", "negative"),
        (5, "credit_code", "required"),
        (5, "insured", "number"),
    }
    assert (r.rows, r.loaded, r.quarantined) == (4, 0, 4)
    assert read_network_table(tmp_path / "s.duckdb", "insured").empty


def test_params_errors(tmp_path):
    from samplekit.errors import ParamsError
    from samplekit.params import load_params

    p = tmp_path / "p.yaml"
    p.write_text("monthly:\n  insurance:\n    direction: sideways\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"p\.yaml.*monthly\.insurance\.direction"):
        load_params(p)
    p.write_text("monthly:\n  insurance:\n    tolerance: 0.3\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"unknown key.*tolerance.*monthly\.insurance"):
        load_params(p)


def test_demo_cross_check_flags_exactly_the_planted_discrepancies(tmp_path):
    from samplekit.demo import HistorySettings, simulate_history, synthetic_panel
    from samplekit.demo.network import NetworkDemoSettings, add_network_demo
    from samplekit.store import (
        ingest_files,
        load_panel,
        read_network_table,
        read_panel,
        read_reports,
    )

    panel = synthetic_panel(400, cities=("东莞", "深圳", "湛江", "茂名", "揭阳"), rng=4)
    hs = HistorySettings(start="2013-06", end="2013-12", shock=None)
    reports, _ = simulate_history(panel, hs)
    store = tmp_path / "s.duckdb"
    load_panel(store, panel)
    files = []
    for p, g in reports.groupby("period"):
        path = tmp_path / f"reports_{p}.csv"
        g.to_csv(path, index=False)
        files.append(path)
    ingest_files(store, files)
    s = NetworkDemoSettings()
    res = add_network_demo(store, out_dir=tmp_path / "net", settings=s, rng=7)
    planted = res["planted"]
    gaps = insurance_gaps(
        read_reports(store, list(s.insured_periods)),
        read_network_table(store, "insured"),
        read_panel(store),
    )
    flagged = gaps[gaps["status"] == "discrepancy"]
    expected = {(e, p) for e in planted["persistent_gaps"] for p in s.insured_periods} | {
        (e, planted["transient_period"]) for e in planted["transient_gaps"]
    }
    assert set(zip(flagged["enterprise_id"], flagged["period"], strict=True)) == expected
    assert len(expected) == 4 * 6 + 2
    warnings = read_network_table(store, "insurance_warnings")
    assert sorted(warnings["enterprise_id"]) == sorted(planted["persistent_gaps"])
    assert (warnings["months"] == 6).all()
    assert res["insured"].quarantined == 0
    assert np.isin(planted["transient_gaps"], planted["persistent_gaps"]).sum() == 0
