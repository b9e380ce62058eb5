"""The quarterly brief (issue 18): its key figures are the estimation module's, its counts are
the data's, its Word version carries the five headings and the figures."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
import synthetic_panel as sp

from samplekit import brief as bf
from samplekit.estimation import change_between, estimate


@pytest.fixture(scope="module")
def data():
    members = sp.membership()
    reps = sp.reports(members)
    # three members do not report in 2013-11 (response below 100%)
    missing = members["enterprise_id"].iloc[[0, 9, 20]]
    drop = (reps["period"] == "2013-11") & reps["enterprise_id"].isin(missing)
    return members, reps[~drop].reset_index(drop=True), missing


@pytest.fixture(scope="module")
def brief(data):
    members, reps, _ = data
    return bf.compute_brief(
        quarter="2013Q4",
        reports=reps,
        membership=members,
        windows=sp.windows(),
        register=sp.register(members),
        province="测试省",
    )


def test_key_figures_equal_the_estimation_module(data, brief):
    members, reps, _ = data
    ind = brief.indicators.set_index("indicator")
    direct = estimate(
        reps, members, periods="2013Q4", indicators=list(bf.KEY_INDICATORS)
    ).set_index("indicator")
    for key in bf.KEY_INDICATORS:
        for col in ("estimate", "se", "ci_low", "ci_high", "n_reporters"):
            assert ind.loc[key, col] == pytest.approx(direct.loc[key, col], rel=1e-12), (key, col)
        for tag, other in (("prev", "2013Q3"), ("yoy", "2012Q4")):
            ch = change_between(
                reps, members, period_a=other, period_b="2013Q4", indicator=key
            ).iloc[0]
            assert ind.loc[key, f"change_{tag}"] == pytest.approx(ch["estimate"], rel=1e-12)
            assert ind.loc[key, f"change_{tag}_low"] == pytest.approx(ch["ci_low"], rel=1e-12)
    # the quarter's units report in all three months: the 3 firms missing in November are out
    assert ind.loc["job_loss_rate", "n_reporters"] == len(members) - 3


def test_key_rate_against_a_hand_ratio(data, brief):
    """Job-loss rate = Σ w·reduced / Σ w·baseline over the quarter's full reporters (every
    stratum of the synthetic panel keeps ≥ 5 of its 7–8 firms; non-response re-weights within
    strata, so compute it the same way by hand)."""
    members, reps, missing = data
    q = reps[reps["period"].isin(["2013-10", "2013-11", "2013-12"])]
    full = members[~members["enterprise_id"].isin(missing)].copy()
    strata = ["city", "section", "size_class", "ownership"]
    total_w = members.groupby(strata)["calibrated_weight"].sum()
    resp_w = full.groupby(strata)["calibrated_weight"].sum()
    full["w"] = (
        full["calibrated_weight"]
        * (total_w / resp_w).reindex(pd.MultiIndex.from_frame(full[strata])).to_numpy()
    )
    x = q[q["period"] == "2013-10"].set_index("enterprise_id")["baseline_employment"]
    red = q.groupby("enterprise_id")["reduction_layoff"].sum()
    full = full.set_index("enterprise_id")
    rate = (
        100
        * (full["w"] * red.reindex(full.index)).sum()
        / (full["w"] * x.reindex(full.index)).sum()
    )
    got = brief.indicators.set_index("indicator").loc["job_loss_rate", "estimate"]
    assert got == pytest.approx(rate, rel=1e-10)


def test_overview_counts_members_response_and_windows(data, brief):
    members, _, _ = data
    o = brief.overview
    assert o["members"] == len(members) == 63
    assert o["ministry"] == int(members["ministry"].sum())
    assert o["expected"] == 3 * 63 and o["reported"] == 3 * 63 - 3
    nov = brief.response.set_index("period").loc["2013-11"]
    assert (nov["members"], nov["reported"]) == (63, 60)
    assert o["window_in_force"] == 1 and o["window_inside"] == []


def test_structure_against_the_register(data, brief):
    members, _, _ = data
    reg = sp.register(members)
    active = reg[reg["status"] == "active"]
    s = brief.structure[brief.structure["dimension"] == "city"].set_index("value")
    for city in ("甲市", "乙市"):
        assert s.loc[city, "members"] == (members["city"] == city).sum()
        assert s.loc[city, "register_units"] == (active["city"] == city).sum()
        share = (
            100
            * members.loc[members["city"] == city, "calibrated_weight"].sum()
            / members["calibrated_weight"].sum()
        )
        assert s.loc[city, "weighted_share"] == pytest.approx(share)
    for dim in bf.STRUCTURE_DIMENSIONS:
        part = brief.structure[brief.structure["dimension"] == dim]
        assert part["member_share"].sum() == pytest.approx(100)
        assert part["register_share"].sum() == pytest.approx(100)


def test_viewpoints_follow_the_numbers(data, brief):
    """The exposed manufacturers lose jobs from 2013-07: the year-on-year job-loss rate rises
    significantly, and the sentence says so with the estimated figure."""
    ind = brief.indicators.set_index("indicator").loc["job_loss_rate"]
    assert ind["change_yoy_low"] > 0
    text = "".join(brief.viewpoints)
    assert f"{ind['estimate']:.2f}%" in text
    assert "较上年同期上升" in text and "变动显著" in text
    sec = brief.domains[
        (brief.domains["dimension"] == "section") & (brief.domains["indicator"] == "job_loss_rate")
    ].set_index("domain")
    assert sec.loc["C", "significant"] == "up"
    assert "制造业" in text
    assert "报送率" in text and f"{100 * (189 - 3) / 189:.1f}%" in text
    assert brief.trend_text == ["未提供预警结果,本节从略。"]


def test_word_brief_has_the_five_headings_and_the_figures(tmp_path, brief):
    from samplekit.brief_report import write_brief

    paths = write_brief(brief, tmp_path, data_note="合成测试数据。")
    docx = tmp_path / "brief_2013Q4.docx"
    assert docx in paths and (tmp_path / "brief_2013Q4.xlsx") in paths
    with zipfile.ZipFile(docx) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    for head in ("监测样本概况", "监测数据结构", "监测指标提炼", "监测观点概括", "监测趋势研判"):
        assert head in xml
    est = brief.indicators.set_index("indicator").loc["net_change_rate"]
    assert f"{est['estimate']:.2f}~" not in xml  # the interval column holds the bounds
    assert f"{est['ci_low']:.2f}~{est['ci_high']:.2f}" in xml
    again = tmp_path / "again"
    write_brief(brief, again, data_note="合成测试数据。")
    assert (again / "brief_2013Q4.docx").read_bytes() == docx.read_bytes()


def test_quarter_without_reports_is_a_clear_error(data):
    members, reps, _ = data
    with pytest.raises(Exception, match="2014Q1"):
        bf.key_indicators(reps, members, quarter="2014Q1")
    assert np.isfinite(bf.key_indicators(reps, members, quarter="2012Q2")["estimate"]).all()
