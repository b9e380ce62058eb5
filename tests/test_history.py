"""The demo history: deterministic, valid by the form's rules, seasonal, shocked, ingestible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit import store
from samplekit.demo import (
    RESUBMITTED_PERIOD,
    HistorySettings,
    ShockSettings,
    build_demo_store,
    individual_units,
    seasonal_profile,
    simulate_history,
    synthetic_panel,
    write_history_files,
)
from samplekit.reports import previous_period, rejected_rows, validate_reports


@pytest.fixture(scope="module")
def panel():
    p = synthetic_panel(400, cities=("东莞", "深圳", "广州"), rng=11)
    return pd.concat([p, individual_units(p, 6, np.random.default_rng(1))], ignore_index=True)


@pytest.fixture(scope="module")
def year(panel):
    return simulate_history(panel, HistorySettings(start="2013-01", end="2013-12", seed=2))


def test_same_seed_same_history_other_seed_differs(panel, year):
    again = simulate_history(panel, HistorySettings(start="2013-01", end="2013-12", seed=2))
    pd.testing.assert_frame_equal(year[0], again[0])
    pd.testing.assert_frame_equal(year[1], again[1])
    other = simulate_history(panel, HistorySettings(start="2013-01", end="2013-12", seed=3))
    assert not other[0]["survey_employment"].equals(year[0]["survey_employment"])


def test_every_simulated_row_meets_the_form_rules(panel, year):
    reports = year[0].copy()
    reports["row"] = np.arange(len(reports)) + 2
    previous = reports.assign(period=reports["period"])[
        ["enterprise_id", "period", "survey_employment"]
    ]
    problems = validate_reports(reports, panel_ids=panel["enterprise_id"], previous=previous)
    assert rejected_rows(problems) == set()
    assert "baseline_break" not in set(problems["rule"])  # baseline = last month's survey
    # the chain holds: each month's baseline is the previous month's survey
    r = reports.set_index(["enterprise_id", "period"])["survey_employment"]
    feb = reports[reports["period"] == "2013-02"]
    prev = r.loc[
        list(zip(feb["enterprise_id"], [previous_period("2013-02")] * len(feb), strict=True))
    ].to_numpy()
    assert (feb["baseline_employment"].to_numpy() == prev).all()


def test_spring_festival_dip_and_return_in_manufacturing(year):
    reports = year[0]
    assert seasonal_profile(["2013-01", "2013-02", "2013-03", "2013-04"]).tolist() == [
        0.0,
        -1.0,
        0.8,
        0.2,
    ]  # lunar new year 2013-02-10
    assert seasonal_profile(["2012-01", "2012-02", "2012-03"]).tolist() == [-1.0, 0.5, 0.5]
    net = reports.groupby("period")[["change", "baseline_employment"]].sum()
    rate = net["change"] / net["baseline_employment"]
    assert rate["2013-02"] < -0.005 and rate["2013-03"] > 0.005
    seasonal = reports[(reports["period"] == "2013-02") & (reports["change"] < 0)]
    assert (seasonal["reason_1"] == 10).mean() > 0.5  # 季节性用工


def test_shock_hits_exposed_enterprises_in_its_months(panel, year):
    reports = year[0].merge(
        panel[["enterprise_id", "city", "section", "export_share"]], on="enterprise_id"
    )
    s = ShockSettings()
    exposed = (
        reports["city"].isin(s.cities)
        & (reports["section"] == "C")
        & (reports["export_share"] >= 0.3)
    )
    shock = reports["period"].between(s.start, s.end)
    quiet = reports["period"].between("2013-04", "2013-06")

    def loss_rate(mask):
        g = reports[mask]
        return (-g["change"].clip(upper=0)).sum() / g["baseline_employment"].sum()

    assert loss_rate(exposed & shock) > 3 * loss_rate(exposed & quiet)
    assert loss_rate(~exposed & shock) < 2 * loss_rate(~exposed & quiet)
    fell = reports[exposed & shock & (reports["change"] < 0)]
    assert (fell["reason_1"] == 4).mean() > 0.8  # 订单不足
    city = year[1].set_index(["city", "period"])
    rise = {
        c: city.loc[(c, "2013-12"), "registered_rate_end"]
        - city.loc[(c, "2013-06"), "registered_rate_end"]
        for c in ("东莞", "深圳", "广州")
    }
    assert rise["东莞"] > 0.1 and rise["深圳"] > 0.1 and rise["东莞"] > rise["广州"]


def test_no_shock_when_disabled(panel):
    reports, _ = simulate_history(
        panel, HistorySettings(start="2013-07", end="2013-09", seed=2, shock=None)
    )
    fell = reports[reports["change"] < 0]
    assert (fell["reason_1"] == 4).mean() < 0.3


def test_files_with_errors_and_resubmission_go_through_ingest(panel, tmp_path):
    settings = HistorySettings(start="2013-06", end="2013-09", seed=4, xlsx_periods=("2013-07",))
    path = build_demo_store(panel, tmp_path, settings=settings)
    files = store.read_table(path, "files")
    assert set(files["layout"]) == {"canonical", "form"}
    assert any(files["file_name"].str.endswith(".xlsx"))
    assert (files["rows"] == files["loaded"] + files["quarantined"]).all()  # nothing lost
    bad = files[files["quarantined"] > 0]
    assert bad["periods"].tolist() == [RESUBMITTED_PERIOD]
    assert "更正" not in bad["file_name"].iloc[0]
    assert len(store.read_table(path, "quarantine")) == int(bad["quarantined"].iloc[0])
    # after the corrected resubmission the month is complete and equals the truth
    truth, _ = simulate_history(panel, settings)
    got = store.read_reports(path, [RESUBMITTED_PERIOD]).set_index("enterprise_id")
    want = truth[truth["period"] == RESUBMITTED_PERIOD].set_index("enterprise_id")
    assert sorted(got.index) == sorted(want.index)
    for c in ("baseline_employment", "survey_employment", "change"):
        assert (got[c] == want.loc[got.index, c]).all()
    assert len(store.read_table(path, "audit")) == 3  # the three revised rows
    resub = files[files["file_name"].str.contains("更正")]
    assert resub["replaced"].tolist() == [3]


def test_write_history_files_layouts(panel, year, tmp_path):
    reports = year[0][year[0]["period"] <= "2013-03"]
    paths = write_history_files(reports, year[1], panel, tmp_path, rng=0)
    names = [p.name for p in paths]
    assert names[0] == "city_table_2013.csv"
    assert names[1:] == ["reports_2013-01.csv", "附表一_2013-02.csv", "reports_2013-03.csv"]
    raw = (tmp_path / "附表一_2013-02.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "建档期期末就业人数" in raw.decode("gbk")


def test_history_settings_from_params():
    from samplekit.errors import ParamsError
    from samplekit.params import load_params

    s = HistorySettings.from_params(load_params())
    assert (s.start, s.end) == ("2010-01", "2013-12")
    assert s.shock is not None and s.shock.cities == ("东莞", "深圳", "佛山", "中山")
    off = load_params().with_overrides(monthly={"demo": {"shock": None}})
    assert HistorySettings.from_params(off).shock is None
    bad = load_params().with_overrides(monthly={"demo": {"shok": None}})
    with pytest.raises(ParamsError, match="shok"):
        HistorySettings.from_params(bad)


# --- the demo with December windows: the store as the panel of record -----------------------
@pytest.fixture(scope="module")
def windowed(tmp_path_factory):
    """A small design with December windows 2010–2013 and frequent closures and relocations."""
    from samplekit.calibration import CalibrationSettings
    from samplekit.selection import SelectionSettings, select_sample, synthetic_frame

    frame, cells = synthetic_frame(
        6000, 40, sample_size=400, panel_share=0.02, inactive_share=0.02, rng=5
    )
    # min_fresh=0: this small frame's reserves then suffice to refill every place (fresh units
    # drawn beyond the allocation would exhaust some cells; maintenance reports those places as
    # unfilled, tests/test_maintenance.py).
    sel = SelectionSettings(
        seed=31, calibration=CalibrationSettings(margins=("city",)), min_fresh=0
    )
    design = select_sample(frame, cells, sel).sample.assign(individual=False)
    panel = pd.concat(
        [design, individual_units(design, 4, np.random.default_rng(3))], ignore_index=True
    )
    settings = HistorySettings(
        start="2010-01",
        end="2013-12",
        seed=8,
        closure_prob=0.004,
        relocation_prob=0.003,
        xlsx_periods=(),
    )
    path = build_demo_store(
        panel, tmp_path_factory.mktemp("windowed"), settings=settings, frame=frame, selection=sel
    )
    return path, panel, frame, sel, settings


def test_demo_store_holds_december_windows_without_overlaps(windowed):
    from samplekit.panel import overlaps

    path, panel, *_ = windowed
    w = store.read_windows(path)
    assert w["kind"].tolist() == ["design"] + ["maintenance"] * 4
    assert w["window_month"].tolist() == ["2009-12", "2010-12", "2011-12", "2012-12", "2013-12"]
    assert w["effective"].tolist() == ["2010-01", "2011-01", "2012-01", "2013-01", "2014-01"]
    assert (w["members"] == len(panel)).all()  # every place refilled
    assert w["exited"].iloc[1:].sum() >= 20 and (w["exited"].iloc[1:] > 0).all()
    m = store.read_membership(path)
    assert overlaps(m).empty
    # each exit is explained by the simulated history and replaced in its cell
    log = store.read_panel_changes(path)
    retired = log[log["action"] == "retired"]
    assert set(retired["reason"]) <= {"closed", "moved", "not_in_frame"}
    assert {"closed", "moved", "not_in_frame"} <= set(retired["reason"])
    reps = log[(log["action"] == "replacement") & (log["replaces"] != "")]
    assert len(reps) >= 20
    cell = ["city", "section", "size_class", "ownership"]
    old = retired.set_index("enterprise_id")[cell]
    assert (old.loc[reps["replaces"]].to_numpy() == reps[cell].to_numpy()).all()
    gone = m[m["exit_reason"].notna()]
    assert set(gone["exit_reason"]) == {"closed", "moved", "bankrupt"}
    assert len(gone) == len(retired)


def test_every_stored_report_belongs_to_a_member_in_force(windowed):
    path, *_ = windowed
    m = store.read_membership(path)
    reports = store.read_reports(path)
    j = (
        reports[["enterprise_id", "period"]]
        .reset_index()
        .merge(m[["enterprise_id", "valid_from", "valid_to"]], on="enterprise_id", how="left")
    )
    inside = (j["valid_from"] <= j["period"]) & (
        j["valid_to"].isna() | (j["valid_to"].fillna("") >= j["period"])
    )
    assert inside.groupby(j["index"]).sum().eq(1).all()  # exactly one row in force
    # and each member in force reports every month it is in force (none lost to quarantine
    # except the deliberately corrupted rows, resubmitted or not)
    q = store.read_table(path, "quarantine")
    for period in ("2010-06", "2011-01", "2012-07", "2013-12"):
        want = set(store.panel_in_force(path, period)["enterprise_id"])
        got = set(reports.loc[reports["period"] == period, "enterprise_id"])
        assert got <= want
        assert want - got <= set(q.loc[q["period"] == period, "enterprise_id"])


def test_retired_stop_and_replacements_start_at_the_window(windowed):
    path, *_ = windowed
    m = store.read_membership(path)
    reports = store.read_reports(path)
    last = reports.groupby("enterprise_id")["period"].max()
    first = reports.groupby("enterprise_id")["period"].min()
    gone = m[m["exit_reason"].notna()]
    assert (last.loc[gone["enterprise_id"]].to_numpy() <= gone["valid_to"].to_numpy()).all()
    closed = gone[gone["exit_reason"].isin(["closed", "bankrupt"])]
    final = reports.set_index(["enterprise_id", "period"])["survey_employment"]
    # a closure is a reported fall to zero, reported until the window
    assert (
        final.loc[list(zip(closed["enterprise_id"], closed["valid_to"], strict=True))] == 0
    ).all()
    new = m[
        (m["entry_reason"] == "replacement")
        & (m["valid_from"] > "2010-01")
        & (m["valid_from"] <= "2013-12")
    ]
    assert len(new) >= 20
    assert (first.loc[new["enterprise_id"]].to_numpy() == new["valid_from"].to_numpy()).all()


def test_windowed_history_is_deterministic(windowed):
    from samplekit.demo.history import simulate_panel_history

    _, panel, frame, sel, settings = windowed
    a = simulate_panel_history(panel, frame, sel, settings)
    b = simulate_panel_history(panel, frame, sel, settings)
    pd.testing.assert_frame_equal(a.reports, b.reports)
    pd.testing.assert_frame_equal(a.city_reports, b.city_reports)
    for x, y in zip(a.windows, b.windows, strict=True):
        pd.testing.assert_frame_equal(x.members, y.members)
