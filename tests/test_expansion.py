"""The 2013 expansion as it happened (issue 16): the demo history behind monthly.demo.expansion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit import bridge, store
from samplekit.demo import HistorySettings, build_demo_store, individual_units, synthetic_panel
from samplekit.errors import ParamsError
from samplekit.estimation import monthly_series
from samplekit.params import Params

STRATA = ["city", "section", "size_class", "ownership"]


@pytest.fixture(scope="module")
def world():
    """A register of 4000 with a size-biased old panel of ~300 and a new design of ~900."""
    rng = np.random.default_rng(5)
    frame = synthetic_panel(4000, cities=("广州", "东莞"), rng=5).drop(columns="individual")
    frame["status"] = np.where(rng.random(len(frame)) < 0.03, "closed", "active")
    eligible = frame["size_class"] != "micro"
    p = np.where(eligible, frame["employees"] / frame.loc[eligible, "employees"].sum() * 300, 0)
    frame["in_panel"] = rng.random(len(frame)) < p
    frame["in_monthly"] = (
        frame["in_panel"] & (frame["status"] == "active") & (rng.random(len(frame)) < 0.3)
    )
    scope = frame[eligible]
    retained = scope["in_panel"] & (scope["status"] == "active")
    others = scope[~scope["in_panel"] & (scope["status"] == "active")]
    extra = others.sample(600, random_state=1)
    design = pd.concat([scope[retained], extra])
    big_n = scope.groupby(STRATA).size().rename("cell_frame_units")
    design = design.join(big_n, on=STRATA)
    design["cell_n"] = design.groupby(STRATA)["enterprise_id"].transform("size")
    design["weight"] = design["cell_frame_units"] / design["cell_n"]
    design["calibrated_weight"] = design["weight"]
    design["monthly"] = design["in_monthly"] | (rng.random(len(design)) < 0.1)
    design["status"] = np.where(design["in_panel"], "retained", "new")
    design = design.drop(columns=["in_panel", "in_monthly"])
    panel = pd.concat(
        [design.assign(individual=False), individual_units(design, 4, np.random.default_rng(2))],
        ignore_index=True,
    )
    return frame, panel


@pytest.fixture(scope="module")
def built(world, tmp_path_factory):
    frame, panel = world
    s = HistorySettings(
        start="2012-01",
        end="2014-03",
        seed=7,
        expansion=True,
        shock=None,
        individual_units=4,
        xlsx_periods=(),
        closure_prob=0.005,
    )
    path = build_demo_store(
        panel, tmp_path_factory.mktemp("exp"), settings=s, frame=frame, selection=object()
    )
    return path, store.read_membership(path), store.read_reports(path)


def test_windows_trial_rows_and_who_reports(world, built):
    frame, panel = world
    path, membership, reports = built
    old_ids = set(frame.loc[frame["in_panel"], "enterprise_id"].astype(str))
    design_ids = set(panel.loc[~panel["individual"], "enterprise_id"].astype(str))
    trial = membership[membership["entry_reason"] == "trial"]
    assert set(trial["valid_from"]) == {"2013-10"} and set(trial["valid_to"]) == {"2013-11"}
    members_sep = set(store.panel_in_force(path, "2013-09")["enterprise_id"])
    assert set(trial["enterprise_id"]) == design_ids - members_sep
    # before the trial only the old panel (with its replacements) and individual units report
    sep = set(reports.loc[reports["period"] == "2013-09", "enterprise_id"])
    assert sep <= members_sep and not (sep & set(trial["enterprise_id"]))
    assert len(members_sep & old_ids) > 0.8 * len(old_ids)
    oct_ = set(reports.loc[reports["period"] == "2013-10", "enterprise_id"])
    assert set(trial["enterprise_id"]) - oct_ == set() or len(
        set(trial["enterprise_id"]) - oct_
    ) < 0.02 * len(trial)
    dec = set(reports.loc[reports["period"] == "2013-12", "enterprise_id"])
    assert dec <= design_ids | {i for i in dec if i.startswith("IND")}
    in_dec = store.panel_in_force(path, "2013-12")
    assert set(in_dec.loc[~in_dec["individual"].astype(bool), "enterprise_id"]) == design_ids
    # the old panel's December windows replaced closed members; the expansion was forced
    windows = store.read_windows(path) if hasattr(store, "read_windows") else None
    if windows is not None:
        assert {"2013-10", "2013-12"} <= set(windows["effective"])
    assert (membership["entry_reason"] == "replacement").any()
    assert reports["period"].max() == "2014-03"


def test_official_estimates_leave_trial_reports_out(built):
    path, membership, reports = built
    official = monthly_series(reports, membership, indicator="job_loss_rate")
    with_trial = monthly_series(
        reports, bridge.include_trial(membership), indicator="job_loss_rate"
    )
    o = official.set_index("period")["n_reporters"]
    t = with_trial.set_index("period")["n_reporters"]
    trial_n = int((membership["entry_reason"] == "trial").sum())
    assert t["2013-10"] - o["2013-10"] > 0.95 * trial_n
    assert (t.drop(["2013-10", "2013-11"]) == o.drop(["2013-10", "2013-11"])).all()
    assert o["2013-12"] > 2 * o["2013-09"]


def test_ministry_network_before_and_after(world, built):
    frame, panel = world
    path, membership, _ = built
    before = store.panel_in_force(path, "2013-06")
    after = store.panel_in_force(path, "2014-01")
    old_monthly = set(frame.loc[frame["in_monthly"], "enterprise_id"].astype(str))
    got = set(before.loc[before["ministry"].astype(bool), "enterprise_id"])
    assert got <= old_monthly and len(got) >= 0.8 * len(old_monthly)
    assert after["ministry"].astype(bool).sum() == panel["monthly"].fillna(False).astype(bool).sum()


def test_old_panel_weights_reproduce_the_register_each_window(world, built):
    frame, _ = world
    _, membership, _ = built
    scope = frame[frame["size_class"] != "micro"]
    for month in ("2012-01", "2013-01"):
        rows = membership[(membership["valid_from"] == month) & ~membership["individual"]]
        got = rows.groupby("city")["calibrated_weight"].sum()
        np.testing.assert_allclose(
            got.sort_index(), scope.groupby("city").size().sort_index(), rtol=1e-6
        )


def test_expansion_switch_is_validated(tmp_path):
    def params(demo):
        return Params(path=tmp_path / "p.yaml", data={"monthly": {"demo": demo}})

    assert not HistorySettings.from_params(params({})).expansion
    s = HistorySettings.from_params(params({"expansion": True}))
    assert s.expansion and s.end == "2014-06"
    with pytest.raises(ParamsError, match="true or false"):
        HistorySettings.from_params(params({"expansion": "yes"}))
    with pytest.raises(ParamsError, match="2014-01"):
        HistorySettings.from_params(params({"expansion": True, "end": "2013-12"}))


def test_series_across_break_on_the_expansion_store(built):
    _, membership, reports = built
    settings = bridge.BreakSettings(
        month="2013-12", overlap=("2013-10", "2013-11", "2013-12", "2014-01")
    )
    shift, series = bridge.series_across_break(reports, membership, settings)
    official = {
        i: monthly_series(reports, membership, indicator=i).set_index("period")["estimate"]
        for i in settings.indicators
    }
    for ind in settings.indicators:
        s = shift[shift["indicator"] == ind].set_index("period")
        # the trial months' old-panel estimate is the official series; December's new one too
        assert s.loc["2013-10", "estimate_old"] == pytest.approx(official[ind]["2013-10"])
        assert s.loc["2013-11", "estimate_old"] == pytest.approx(official[ind]["2013-11"])
        assert s.loc["2013-12", "estimate_new"] == pytest.approx(official[ind]["2013-12"])
        assert s.loc["overlap", "n_shared"] > 0 and s.loc["overlap", "se"] > 0
        one = series[series["indicator"] == ind].set_index("period")
        assert one.loc["2013-06", "estimate"] == pytest.approx(
            official[ind]["2013-06"] + s.loc["overlap", "shift"]
        )
        assert one.loc["2014-02", "estimate"] == pytest.approx(official[ind]["2014-02"])
        assert one["series_break"].sum() == 1 and one.loc["2013-12", "series_break"]
    old, new = bridge.designs_around_break(membership, break_month="2013-12")
    assert not (old["entry_reason"] == "trial").any() and len(new) > 2 * len(old)
