"""Deep dives (issue 18): a hand-made domain against the rest, checked by hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import synthetic_panel as sp

from samplekit.deep_dive import DeepDiveSettings, DomainFilter, compare_domain
from samplekit.errors import ParamsError
from samplekit.params import Params

STRATA = ["city", "section", "size_class", "ownership"]
Q_MONTHS = ["2013-07", "2013-08", "2013-09"]


@pytest.fixture(scope="module")
def data():
    members = sp.membership()
    return members, sp.reports(members)


def hand(members: pd.DataFrame, reps: pd.DataFrame, in_domain: set[str], numerator: str):
    """Ratio estimates of the domain and the rest and the SE of their difference, written out
    with plain loops: every member reports (no re-weighting), no fpc (no N_h)."""
    q = reps[reps["period"].isin(Q_MONTHS)]
    unit = {}
    for eid, g in q.groupby("enterprise_id"):
        g = g.sort_values("period")
        x = float(g["baseline_employment"].iloc[0])
        y = float(g["survey_employment"].iloc[-1])
        num = y - x if numerator == "change" else float(g["reduction_layoff"].sum())
        unit[eid] = (x, num)
    w = dict(zip(members["enterprise_id"], members["calibrated_weight"], strict=True))
    stratum = {r.enterprise_id: tuple(getattr(r, c) for c in STRATA) for r in members.itertuples()}
    est, xs = {}, {}
    for name, inside in (("d", True), ("r", False)):
        ids = [e for e in unit if (e in in_domain) == inside]
        t_num = sum(w[e] * unit[e][1] for e in ids)
        t_den = sum(w[e] * unit[e][0] for e in ids)
        est[name], xs[name] = t_num / t_den, t_den
    u = {}
    for e, (x, num) in unit.items():
        g = "d" if e in in_domain else "r"
        z = 100 * (num - est[g] * x) / xs[g]
        u[e] = w[e] * (z if g == "d" else -z)
    var = 0.0
    by_stratum: dict[tuple, list[float]] = {}
    for e, v in u.items():
        by_stratum.setdefault(stratum[e], []).append(v)
    for vals in by_stratum.values():
        n = len(vals)
        mean = sum(vals) / n
        var += n / (n - 1) * sum((v - mean) ** 2 for v in vals)
    return 100 * est["d"], 100 * est["r"], np.sqrt(var)


@pytest.mark.parametrize(
    "indicator, numerator", [("net_change_rate", "change"), ("job_loss_rate", "reduced")]
)
def test_hand_made_domain_matches_hand_computation(data, indicator, numerator):
    members, reps = data
    firms = tuple(members["enterprise_id"].iloc[[0, 3, 5, 8, 13, 17, 22, 30, 41, 44, 50, 60]])
    settings = DeepDiveSettings(
        domain=DomainFilter(firms=firms), indicators=(indicator,), start="2013Q3", end="2013Q3"
    )
    res = compare_domain(reps, members, settings=settings)
    d, r, se = hand(members, reps, set(firms), numerator)
    q = res.quarterly.set_index("group")
    assert q.loc["domain", "estimate"] == pytest.approx(d, rel=1e-10)
    assert q.loc["rest", "estimate"] == pytest.approx(r, rel=1e-10)
    row = res.difference.iloc[0]
    assert row["difference"] == pytest.approx(d - r, rel=1e-10)
    assert row["se"] == pytest.approx(se, rel=1e-10)
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.959963984540054 * se)


def test_export_exposed_manufacturers_through_the_shock(data):
    """Section C with export share ≥ 0.3 loses 6% a month from 2013-07 in the synthetic panel:
    the gap in the net change rate is negative and significant from 2013Q3, not before."""
    members, reps = data
    settings = DeepDiveSettings(
        domain=DomainFilter(sections=("C",), min_export_share=0.3),
        indicators=("net_change_rate",),
        start="2012Q3",
    )
    res = compare_domain(reps, members, settings=settings)
    diff = res.difference.set_index("quarter")["significant"]
    assert list(diff.loc[["2013Q3", "2013Q4"]]) == ["down", "down"]
    assert (diff.loc[["2012Q3", "2012Q4", "2013Q1", "2013Q2"]] != "down").all()
    expected = members[(members["section"] == "C") & (members["export_share"] >= 0.3)]
    assert res.profile["members"].sum() == len(expected)
    assert set(res.monthly["group"]) == {"domain", "rest"}
    assert any("差异显著" in line for line in res.findings)


def test_window_rows_decide_membership_of_the_domain(data):
    """A firm is in the domain by its row in force: after a window that reclassifies it out of
    section C it counts in the rest."""
    members, reps = data
    moved = members.iloc[0].copy()
    assert moved["section"] == "C"
    first = members.copy()
    first.loc[0, "valid_to"] = "2012-12"
    later = moved.copy()
    later["section"], later["valid_from"], later["window_id"] = "G", "2013-01", 2
    panel = pd.concat([first, later.to_frame().T], ignore_index=True)
    panel["calibrated_weight"] = panel["calibrated_weight"].astype(float)
    s = DeepDiveSettings(
        domain=DomainFilter(sections=("C",)),
        indicators=("job_loss_rate",),
        start="2012Q4",
        end="2013Q1",
    )
    res = compare_domain(reps, panel, settings=s)
    n = res.quarterly[res.quarterly["group"] == "domain"].set_index("quarter")["n_reporters"]
    assert n.loc["2012Q4"] == n.loc["2013Q1"] + 1


def test_params_are_checked(tmp_path):
    def params(section):
        return Params(tmp_path / "p.yaml", {"deep_dive": section})

    ok = DeepDiveSettings.from_params(
        params({"domain": {"sections": ["C"], "min_export_share": 0.3}, "from": "2012Q1"})
    )
    assert ok.domain.describe() == "行业:制造业;出口交货值占比≥30%"
    with pytest.raises(ParamsError, match="deep_dive.domain"):
        DeepDiveSettings.from_params(params({"domain": {"sector": ["C"]}}))
    with pytest.raises(ParamsError, match="selects every member"):
        DeepDiveSettings.from_params(params({"domain": {}}))
    with pytest.raises(ParamsError, match="min_export_share"):
        DeepDiveSettings.from_params(params({"domain": {"min_export_share": 30}}))
    with pytest.raises(ParamsError, match="deep_dive.from"):
        DeepDiveSettings.from_params(params({"domain": {"cities": ["甲市"]}, "from": 2012}))
