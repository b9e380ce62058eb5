"""The series bridge (issue 16): hand computations and a simulation of the purposive old panel."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from samplekit import bridge
from samplekit.errors import InputError, ParamsError
from samplekit.estimation import monthly_series
from samplekit.params import Params
from samplekit.paths import project_root

RED = ["reduction_closure", "reduction_suspension", "reduction_layoff", "reduction_relocation"]


def _reports(rows):
    df = pd.DataFrame(
        rows,
        columns=[
            "enterprise_id",
            "period",
            "baseline_employment",
            "survey_employment",
            "reduction_other",
        ],
    )
    for c in RED:
        df[c] = 0.0
    df["reason_1"] = 11
    return df


def _design(ids, strata, weights, big_n, city="广州"):
    return pd.DataFrame(
        {
            "enterprise_id": ids,
            "city": city,
            "section": "C",
            "size_class": strata,
            "ownership": "private",
            "calibrated_weight": weights,
            "cell_frame_units": big_n,
        }
    )


@pytest.fixture
def small():
    """Old panel A1 A2 B1 B2 (purposive weights); new design A1 A2 A3 B1 B3 B4; shared A1 A2 B1."""
    old = _design(
        ["A1", "A2", "B1", "B2"],
        ["small", "small", "large", "large"],
        [30.0, 30.0, 5.0, 5.0],
        [100, 100, 20, 20],
    )
    new = _design(
        ["A1", "A2", "A3", "B1", "B3", "B4"],
        ["small", "small", "small", "large", "large", "large"],
        [100 / 3] * 3 + [20 / 3] * 3,
        [100] * 3 + [20] * 3,
    )
    x = {"A1": 20, "A2": 40, "A3": 30, "B1": 400, "B2": 300, "B3": 500, "B4": 350}
    r = {"A1": 2, "A2": 1, "A3": 4, "B1": 3, "B2": 6, "B3": 10, "B4": 2}
    h = {"A1": 1, "A2": 3, "A3": 0, "B1": 5, "B2": 1, "B3": 4, "B4": 9}
    rows = [(k, "2013-11", x[k], x[k] - r[k] + h[k], r[k]) for k in x]
    return old, new, _reports(rows), x, r


def test_level_shift_by_hand_with_shared_firms(small):
    old, new, reports, x, r = small
    res = bridge.level_shift(
        reports, old=old, new=new, months=["2013-11"], indicators=["job_loss_rate"]
    )
    row = res[res["period"] == "2013-11"].iloc[0]

    def est(design):
        w = design.set_index("enterprise_id")["calibrated_weight"]
        xs = np.array([x[k] for k in w.index], float)
        rs = np.array([r[k] for k in w.index], float)
        big_x = (w.to_numpy() * xs).sum()
        theta = (w.to_numpy() * rs).sum() / big_x
        u = w.to_numpy() * 100 * (rs - theta * xs) / big_x
        return 100 * theta, dict(zip(w.index, u, strict=True))

    t_old, u_old = est(old)
    t_new, u_new = est(new)
    assert row["estimate_old"] == pytest.approx(t_old)
    assert row["estimate_new"] == pytest.approx(t_new)
    assert row["shift"] == pytest.approx(t_new - t_old)
    # Shared firms contribute w_new z_new − w_old z_old; strata and N_h of the new design (the
    # old-only B2 sits in stratum "large" with N = 20).
    ids = sorted(set(u_old) | set(u_new))
    u = {k: u_new.get(k, 0.0) - u_old.get(k, 0.0) for k in ids}
    var = 0.0
    for members, big_n in ((["A1", "A2", "A3"], 100), (["B1", "B2", "B3", "B4"], 20)):
        v = np.array([u[k] for k in members])
        n = len(v)
        var += (1 - n / big_n) * n / (n - 1) * ((v - v.mean()) ** 2).sum()
    assert row["se"] == pytest.approx(np.sqrt(var))
    assert row["n_shared"] == 3 and row["n_old"] == 4 and row["n_new"] == 6
    # The ratio link and its linearisation: (u_new − R u_old) / θ_old.
    ratio = t_new / t_old
    q = {k: (u_new.get(k, 0.0) - ratio * u_old.get(k, 0.0)) / t_old for k in ids}
    var_r = 0.0
    for members, big_n in ((["A1", "A2", "A3"], 100), (["B1", "B2", "B3", "B4"], 20)):
        v = np.array([q[k] for k in members])
        n = len(v)
        var_r += (1 - n / big_n) * n / (n - 1) * ((v - v.mean()) ** 2).sum()
    assert row["ratio"] == pytest.approx(ratio)
    assert row["ratio_se"] == pytest.approx(np.sqrt(var_r))


def test_pooled_shift_is_the_mean_over_months_and_sharing_lowers_the_se(small):
    old, new, reports, x, r = small
    dec = reports.assign(period="2013-12", reduction_other=reports["reduction_other"] * 2)
    both = pd.concat([reports, dec], ignore_index=True)
    res = bridge.level_shift(
        both, old=old, new=new, months=["2013-11", "2013-12"], indicators=["job_loss_rate"]
    )
    by_p = res.set_index("period")
    assert by_p.loc["overlap", "shift"] == pytest.approx(
        by_p.loc[["2013-11", "2013-12"], "shift"].mean()
    )
    # Two identical-but-doubled months: the pooled linearised values are 1.5 × month 1's.
    assert by_p.loc["overlap", "se"] == pytest.approx(1.5 * by_p.loc["2013-11", "se"])
    # The same firms in both panels: the SE of the difference is below the independent one.
    one = bridge.level_shift(
        reports, old=new, new=new, months=["2013-11"], indicators=["job_loss_rate"]
    ).iloc[0]
    assert one["shift"] == pytest.approx(0.0) and one["se"] == pytest.approx(0.0, abs=1e-12)


def test_level_shift_by_city_and_membership_refused(small):
    old, new, reports, *_ = small
    new2 = new.assign(enterprise_id=new["enterprise_id"] + "z", city="东莞")
    old2 = old.assign(enterprise_id=old["enterprise_id"] + "z", city="东莞")
    reps = pd.concat([reports, reports.assign(enterprise_id=reports["enterprise_id"] + "z")])
    res = bridge.level_shift(
        reps,
        old=pd.concat([old, old2]),
        new=pd.concat([new, new2]),
        months=["2013-11"],
        indicators=["job_loss_rate"],
        by=["city"],
    )
    alone = bridge.level_shift(
        reports, old=old, new=new, months=["2013-11"], indicators=["job_loss_rate"]
    )
    gz = res[(res["city"] == "广州") & (res["period"] == "2013-11")].iloc[0]
    assert gz["shift"] == pytest.approx(alone.iloc[0]["shift"])
    assert gz["se"] == pytest.approx(alone.iloc[0]["se"])
    with pytest.raises(InputError, match="membership"):
        bridge.level_shift(
            reports, old=old.assign(valid_from="2013-01"), new=new, months=["2013-11"]
        )


def test_old_panel_weights_reproduce_the_register_margins():
    rng = np.random.default_rng(4)
    n = 3000
    reg = pd.DataFrame(
        {
            "enterprise_id": [f"R{k}" for k in range(n)],
            "city": rng.choice(["广州", "东莞"], n),
            "section": rng.choice(["C", "G"], n),
            "size_class": rng.choice(["small", "large"], n, p=[0.8, 0.2]),
            "ownership": "private",
            "employees": rng.integers(20, 900, n),
        }
    )
    # purposive: large firms ten times as likely
    p = np.where(reg["size_class"] == "large", 0.3, 0.03)
    panel = reg[rng.random(n) < p]
    weighted, res = bridge.old_panel_weights(panel, reg)
    assert res.converged
    for dim in ("city", "section", "size_class"):
        got = weighted.groupby(dim)["calibrated_weight"].sum()
        want = reg.groupby(dim).size()
        np.testing.assert_allclose(got.sort_index(), want.sort_index(), rtol=1e-6)
        emp = (weighted["calibrated_weight"] * weighted["employees"]).groupby(weighted[dim]).sum()
        np.testing.assert_allclose(
            emp.sort_index(), reg.groupby(dim)["employees"].sum().sort_index(), rtol=1e-6
        )
    cell = reg.groupby(["city", "section", "size_class"]).size()
    key = list(zip(weighted["city"], weighted["section"], weighted["size_class"], strict=True))
    assert (weighted["cell_frame_units"].to_numpy() == cell.loc[key].to_numpy()).all()
    with pytest.raises(InputError, match="employees"):
        bridge.old_panel_weights(panel.drop(columns="employees"), reg)


def test_bridged_series_shift_and_ratio_mark_the_break():
    months = ["2013-09", "2013-10", "2013-11", "2013-12", "2014-01"]
    old = pd.DataFrame({"period": months, "estimate": [2.0, 2.2, 2.1, 2.0, 2.3], "se": [0.1] * 5})
    new = pd.DataFrame({"period": months, "estimate": [2.5, 2.7, 2.6, 2.6, 2.9], "se": [0.2] * 5})
    shift = pd.DataFrame(
        {
            "period": ["overlap"],
            "indicator": ["job_loss_rate"],
            "shift": [0.5],
            "se": [0.05],
            "ratio": [1.25],
            "ratio_se": [0.02],
        }
    )
    out = bridge.bridged_series(old, new, shift, break_month="2013-12")
    assert out["estimate"].tolist() == pytest.approx([2.5, 2.7, 2.6, 2.6, 2.9])
    assert out["adjusted"].tolist() == [True, True, True, False, False]
    assert out["series_break"].tolist() == [False, False, False, True, False]
    assert out["se"].iloc[0] == pytest.approx(np.hypot(0.1, 0.05))
    assert out["raw_estimate"].iloc[0] == 2.0 and out["source"].iloc[3] == "new_design"
    ratio = bridge.bridged_series(old, new, shift, break_month="2013-12", method="ratio")
    assert ratio["estimate"].iloc[0] == pytest.approx(2.5)
    assert ratio["se"].iloc[0] == pytest.approx(np.hypot(1.25 * 0.1, 2.0 * 0.02))


def test_year_on_year_across_the_break():
    months = pd.period_range("2012-10", "2014-03", freq="M").strftime("%Y-%m")
    old = pd.DataFrame({"period": months, "estimate": 2.0, "se": 0.1})
    new = pd.DataFrame({"period": months, "estimate": 2.6, "se": 0.1})
    shift = pd.DataFrame(
        {
            "period": ["overlap"],
            "indicator": ["job_loss_rate"],
            "shift": [0.5],
            "se": [0.05],
            "ratio": [1.25],
            "ratio_se": [0.02],
        }
    )
    series = bridge.bridged_series(old, new, shift, break_month="2013-12")
    q = bridge.year_on_year(series, period="2014Q1").iloc[0]
    assert q["period_a"] == "2013Q1" and q["basis"] == "bridged"
    assert q["change"] == pytest.approx(2.6 - 2.5)
    assert "衔接" in q["note_zh"]
    raw = pd.concat([old[old["period"] < "2013-12"], new[new["period"] >= "2013-12"]])
    nc = bridge.year_on_year(raw, period="2014Q1", break_month="2013-12").iloc[0]
    assert nc["basis"] == "not_comparable" and np.isnan(nc["change"])
    assert "不能直接同比" in nc["note_zh"]
    same = bridge.year_on_year(raw, period="2013-11", break_month="2013-12").iloc[0]
    assert same["basis"] == "same_design" and same["change"] == pytest.approx(0.0)
    assert bridge.crosses_break("2012Q4", "2013Q4", break_month="2013-12")
    assert not bridge.crosses_break("2014-01", "2014Q2", break_month="2013-12")
    f = bridge.forecast_input(series)
    assert f.loc["2013-01"] == pytest.approx(2.5) and f.loc["2014-01"] == pytest.approx(2.6)


def test_break_settings_from_params(tmp_path):
    p = Params(path=tmp_path / "p.yaml", data={"monthly": {"break": {"month": "2013-12"}}})
    s = bridge.BreakSettings.from_params(p)
    assert s.method == "shift"
    assert s.overlap_months() == ["2013-10", "2013-11", "2013-12", "2014-01", "2014-02"]
    assert bridge.BreakSettings.from_params(Params(path=tmp_path / "p.yaml", data={})) is None
    for bad, msg in (
        ({"month": "2013-13"}, "not a month"),
        ({"month": "2013-12", "method": "spline"}, "not one of"),
        ({"month": "2013-12", "overlap": ["Oct"]}, "overlap"),
        ({"month": "2013-12", "indicators": ["jobs"]}, "indicators"),
        ({"month": "2013-12", "when": 1}, "unknown key"),
    ):
        with pytest.raises(ParamsError, match=msg):
            bridge.BreakSettings.from_params(
                Params(path=tmp_path / "p.yaml", data={"monthly": {"break": bad}})
            )


def test_trial_rows_are_left_out_unless_included(small):
    old, new, reports, *_ = small
    member = new.assign(valid_from="2013-12", valid_to=None, entry_reason="existing")
    trial = new[new["enterprise_id"].isin(["A3", "B3", "B4"])].assign(
        valid_from="2013-10", valid_to="2013-11", entry_reason="trial"
    )
    oldm = old.assign(valid_from="2013-01", valid_to="2013-11", entry_reason="existing")
    membership = pd.concat(
        [
            oldm[~oldm["enterprise_id"].isin(["A1", "A2", "B1"])],
            oldm[oldm["enterprise_id"].isin(["A1", "A2", "B1"])],
            member,
            trial,
        ],
        ignore_index=True,
    )
    # the shared firms' old rows end 2013-11, new rows start 2013-12: no overlap
    official = monthly_series(reports, membership, indicator="job_loss_rate")
    assert official["n_reporters"].iloc[0] == 4  # the old panel only; trial reports left out
    incl = monthly_series(reports, bridge.include_trial(membership), indicator="job_loss_rate")
    assert incl["n_reporters"].iloc[0] == 7


@pytest.fixture(scope="module")
def study():
    path = project_root() / "studies" / "bridge_simulation.py"
    spec = importlib.util.spec_from_file_location("bridge_simulation", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_simulation_bridge_covers_the_true_shift(study):
    """60 replicates stacked as domains of one bridge call: the purposive old panel
    (over-representing large, established firms with lower job loss) is calibrated; the
    pooled shift's 95 % interval covers θ_N − E[θ̂_old] in ≥ 90 % of replicates."""
    reps = 60
    pop = study.make_population(6000, rng=11)
    rng = np.random.default_rng(12)
    olds, news, theta_old = [], [], []
    by_month = {
        m: pop.reports[pop.reports["period"] == m].set_index("enterprise_id") for m in study.MONTHS
    }
    for k in range(reps):
        old, new = study.draw_panels(pop, rng=rng, old_size=300, new_size=600)
        w, _ = bridge.old_panel_weights(old, pop.register)
        # E[θ̂_old] computed directly (numpy), not by the bridge
        ww = w.set_index("enterprise_id")["calibrated_weight"]
        vals = [
            100
            * (ww * by_month[m].loc[ww.index, "reduction_other"]).sum()
            / (ww * by_month[m].loc[ww.index, "baseline_employment"]).sum()
            for m in study.MONTHS
        ]
        theta_old.append(np.mean(vals))
        tag = f"r{k:03d}"
        olds.append(
            w.assign(replicate=tag, city=tag + w["city"], enterprise_id=tag + w["enterprise_id"])
        )
        news.append(
            new.assign(
                replicate=tag, city=tag + new["city"], enterprise_id=tag + new["enterprise_id"]
            )
        )
    old_all, new_all = pd.concat(olds), pd.concat(news)
    ids = pd.concat([old_all["enterprise_id"], new_all["enterprise_id"]]).unique()
    rep = pd.concat(
        [
            pop.reports.assign(enterprise_id=f"r{k:03d}" + pop.reports["enterprise_id"])
            for k in range(reps)
        ]
    )
    rep = rep[rep["enterprise_id"].isin(set(ids))]
    res = bridge.level_shift(
        rep,
        old=old_all,
        new=new_all,
        months=list(study.MONTHS),
        indicators=["job_loss_rate"],
        by=["replicate"],
    )
    pooled = res[res["period"] == "overlap"]
    truth = pop.truth["job_loss_rate"] - np.mean(theta_old)
    assert truth > 0.3  # the old panel's calibrated level is clearly too low
    covered = ((pooled["ci_low"] <= truth) & (truth <= pooled["ci_high"])).mean()
    assert covered >= 0.90, covered
    assert 0.7 < pooled["se"].mean() / pooled["shift"].std() < 1.4
    assert (pooled["n_shared"] > 0).all()
