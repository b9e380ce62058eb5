"""The employment climate index against a hand computation (ratio estimator, Cochran 6.11)."""

from __future__ import annotations

import math

import pytest
from test_estimation import DESIGN, make_reports, make_sample, quarter_reports, row

from samplekit.climate import CLIMATE_INDICATORS, climate_index


def hand_climate(design):
    """100·Σ_h N_h mean_h(c) / Σ_h N_h with c = 1[y>x] + ½·1[y=x]; SE of the ratio to N̂."""
    n_hat = sum(big_n for big_n, _ in design.values())
    score = {}
    for _, units in design.values():
        for u in units:
            score[u[0]] = 1.0 if u[3] > u[2] else (0.5 if u[3] == u[2] else 0.0)
    est = (
        sum(
            big_n * sum(score[u[0]] for u in units) / len(units) for big_n, units in design.values()
        )
        / n_hat
    )
    var = 0.0
    for big_n, units in design.values():
        n = len(units)
        d = [score[u[0]] - est for u in units]
        mean = sum(d) / n
        var += big_n**2 * (1 - n / big_n) * sum((v - mean) ** 2 for v in d) / (n - 1) / n
    return 100 * est, 100 * math.sqrt(var) / n_hat


def test_climate_index_matches_hand_computation():
    res = climate_index(make_reports(), make_sample(), periods="2013-12")
    assert list(res["indicator"]) == CLIMATE_INDICATORS
    value, se = hand_climate(DESIGN)
    r = row(res, "climate_index")
    assert r["estimate"] == pytest.approx(value) and r["se"] == pytest.approx(se)
    shares = res.set_index("indicator")["estimate"]
    # index = % rising + ½ % unchanged; the three shares add up to 100
    assert shares["climate_index"] == pytest.approx(
        shares["share_rising"] + 0.5 * shares["share_unchanged"]
    )
    assert shares[["share_rising", "share_unchanged", "share_falling"]].sum() == pytest.approx(100)


def test_climate_index_by_domain_and_quarter():
    sample = make_sample()
    res = climate_index(make_reports(), sample, periods="2013-12", by=["city"])
    for city in ("甲市", "乙市"):
        sub = {k: v for k, v in DESIGN.items() if k[0] == city}
        value, _ = hand_climate(sub)
        assert row(res, "climate_index", city=city)["estimate"] == pytest.approx(value)
    # all enterprises unchanged → exactly 50 (neutral) with zero SE
    flat = make_reports().assign(survey_employment=lambda d: d["baseline_employment"])
    r = row(climate_index(flat, sample, periods="2013-12"), "climate_index")
    assert r["estimate"] == pytest.approx(50.0) and r["se"] == pytest.approx(0.0, abs=1e-12)
    # a quarter compares the last survey with the first baseline (e2 misses a month: out)
    q = climate_index(quarter_reports(), sample, periods="2013Q4")
    assert set(q["period"]) == {"2013Q4"} and (q["n_reporters"] == 11).all()
    assert 0 <= row(q, "climate_index")["estimate"] <= 100


def test_climate_index_with_the_membership_in_force():
    from test_estimation import W1, W2, membership, panel_reports

    before = climate_index(panel_reports(False), membership(False), periods="2013Q2")
    after = climate_index(panel_reports(True), membership(True), periods="2013Q2")
    assert before.equals(after)
    # 2014-01 by hand: window 2 members (r1 in, a4 gone) with window 2 weights
    rep = panel_reports(True)
    jan = rep[rep["period"] == "2014-01"].set_index("enterprise_id")
    w = {e: v[1] for e, v in W2.items()}
    score = {
        e: 1.0
        if jan.loc[e, "survey_employment"] > jan.loc[e, "baseline_employment"]
        else 0.5
        if jan.loc[e, "survey_employment"] == jan.loc[e, "baseline_employment"]
        else 0.0
        for e in W2
    }
    want = 100 * sum(w[e] * score[e] for e in W2) / sum(w.values())
    got = row(climate_index(rep, membership(True), periods="2014-01"), "climate_index")
    assert got["estimate"] == pytest.approx(want) and got["n_reporters"] == len(W2)
    # the ministry's network: a1 and a2 only (S1's weight total 22 on two members)
    mini = row(
        climate_index(rep, membership(True), periods="2014-01", network="ministry"), "climate_index"
    )
    assert mini["n_reporters"] == 2
    assert mini["estimate"] == pytest.approx(100 * (score["a1"] + score["a2"]) / 2)
    assert set(W1) - set(W2) == {"a4"}
