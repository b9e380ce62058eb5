"""The December window: retirements, replacements from the same cell, re-balancing, overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.calibration import CalibrationSettings
from samplekit.maintenance import MaintenanceSettings, maintain
from samplekit.selection import CELL, SelectionSettings, prn, select_sample, synthetic_frame

SETTINGS = SelectionSettings(
    seed=77, reserve_per_cell=5, calibration=CalibrationSettings(margins=("city", "size_class"))
)


def _key(df: pd.DataFrame) -> pd.Series:
    return df[CELL].astype(str).agg("|".join, axis=1)


def _next_year(
    frame: pd.DataFrame, panel: pd.DataFrame, year: int, close_share: float = 0.08
) -> pd.DataFrame:
    """Close a share of the panel and of the rest, drop a few members from the register,
    and register new enterprises."""
    rng = np.random.default_rng(year)
    f = frame.copy()
    f["status"] = f["status"].astype(str)
    members = f["enterprise_id"].isin(panel["enterprise_id"]).to_numpy()
    hit = members & (rng.random(len(f)) < close_share)
    f.loc[hit, "status"] = rng.choice(["closed", "moved", "suspended"], size=int(hit.sum()))
    gone = members & ~hit & (rng.random(len(f)) < 0.01)  # deregistered: not in the register
    f = f[~gone]
    new = f.sample(200, random_state=year).copy()
    new["enterprise_id"] = [f"NEW{year}{k:06d}" for k in range(len(new))]
    new["status"] = "active"
    new["in_panel"] = False
    new["in_monthly"] = False
    return pd.concat([f, new], ignore_index=True)


@pytest.fixture(scope="module")
def year0():
    frame, cells = synthetic_frame(
        8000, 60, sample_size=500, panel_share=0.02, inactive_share=0.02, rng=5
    )
    return frame, cells, select_sample(frame, cells, SETTINGS)


def test_outside_the_window_nothing_changes(year0):
    frame, _, res = year0
    out = maintain(res.sample, frame, SETTINGS, period="2014-06")
    assert not out.in_window and out.selection is None and out.changes.empty
    assert "outside the replacement window" in out.message
    forced = maintain(
        res.sample, frame, SETTINGS, period="2014-06", window=MaintenanceSettings(force=True)
    )
    assert forced.in_window
    summary = dict(zip(forced.summary["key"], forced.summary["value"], strict=True))
    assert summary["forced_outside_window"] == "true"


def test_two_year_maintenance_keeps_the_overlap_maximal(year0):
    frame, cells, res = year0
    panel, f = res.sample, frame
    for year in (2014, 2015):
        f = _next_year(f, panel, year)
        out = maintain(panel, f, SETTINGS, period=f"{year}-12")
        new = out.selection.sample
        active = set(f.loc[f["status"] == "active", "enterprise_id"])
        still = panel[panel["enterprise_id"].isin(active)]
        # every member that is still active keeps its place: the overlap is maximal
        assert set(still["enterprise_id"]) <= set(new["enterprise_id"])
        overlap = len(set(panel["enterprise_id"]) & set(new["enterprise_id"]))
        assert overlap == len(still)
        # no retired member stays; same number of places per cell (stratum of record), except
        # where a dry cell's place moved to its nearest cell
        assert not new["enterprise_id"].isin(set(f["enterprise_id"]) - active).any()
        log = out.changes
        borrowed = log[log["action"] == "borrowed"]
        moved = set(_key(borrowed)) | {n.rsplit(" ", 1)[-1] for n in borrowed["note"]}
        a, b = _key(new).value_counts(), _key(panel).value_counts()
        assert len(new) == len(panel)
        for k in set(a.index) | set(b.index):
            if k not in moved:
                assert a.get(k, 0) == b.get(k, 0), k
        # each replacement comes from the retired member's own cell
        retired = log[log["action"] == "retired"].set_index("enterprise_id")
        repl = log[log["action"] == "replacement"]
        assert len(retired) == len(panel) - len(still)
        assert len(repl) + len(borrowed) == len(retired)
        for r in repl.itertuples(index=False):
            assert r.replaces in retired.index
            assert tuple(retired.loc[r.replaces, CELL]) == tuple(getattr(r, c) for c in CELL)
        summary = dict(zip(out.summary["key"], out.summary["value"], strict=True))
        assert int(summary["kept"]) == overlap
        panel = new


def test_replacements_are_the_reserves_in_prn_order(year0):
    frame, _, res = year0
    f = frame.copy()
    victim = res.sample.iloc[0]
    f.loc[f["enterprise_id"] == victim["enterprise_id"], "status"] = "closed"
    out = maintain(res.sample, f, SETTINGS, period="2013-12")
    repl = out.changes[out.changes["action"] == "replacement"]
    assert repl["replaces"].tolist() == [victim["enterprise_id"]]
    cell_res = res.reserves[_key(res.reserves) == "|".join(str(victim[c]) for c in CELL)]
    assert repl["enterprise_id"].tolist() == [cell_res.iloc[0]["enterprise_id"]]


def test_a_dry_cell_borrows_from_the_nearest_cell():
    frame, cells = synthetic_frame(3000, 30, sample_size=300, panel_share=0.0, rng=9)
    cells = cells.copy()
    # make one cell take every eligible unit: it has no reserve left
    active = frame[frame["status"] == "active"]
    per = active.groupby(CELL, observed=True).size()
    h = int(np.flatnonzero(cells["n"].to_numpy() >= 2)[0])
    key = tuple(cells.loc[h, CELL])
    cells.loc[h, "n"] = int(per.loc[key])
    res = select_sample(frame, cells, SETTINGS)
    f = frame.copy()
    members = res.sample[
        (res.sample[CELL].astype(str).to_numpy() == np.array(key, dtype=str)).all(axis=1)
    ]
    f.loc[f["enterprise_id"] == members.iloc[0]["enterprise_id"], "status"] = "closed"
    out = maintain(res.sample, f, SETTINGS, period="2013-12")
    log = out.changes
    assert (log["action"] == "borrowed").sum() == 1
    b = log[log["action"] == "borrowed"].iloc[0]
    assert b["city"] == key[0]  # the nearest cell is in the same city
    assert "|".join(map(str, key)) in b["note"]
    assert len(out.selection.sample) == len(res.sample)


def test_new_allocation_rebalances_and_drops_the_largest_prns(year0):
    frame, cells, res = year0
    # places of record = the counts selected (selection.min_fresh may have drawn fresh units
    # beyond the allocation where the existing members filled a cell)
    got = res.cells[[*CELL, "sample_n"]].astype(dict.fromkeys(CELL, str))
    cells = cells.astype(dict.fromkeys(CELL, str)).merge(got, on=CELL, how="left")
    cells = cells.assign(n=cells.pop("sample_n").fillna(0).astype(int).to_numpy())
    new_cells = cells.copy()
    grown = int(np.flatnonzero((cells["n"] >= 3) & (cells["frame_units"] > cells["n"] + 3))[0])
    shrunk = int(np.flatnonzero((cells["existing"] >= 2) & (cells.index != grown))[0])
    new_cells.loc[grown, "n"] += 2
    new_cells.loc[shrunk, "n"] = int(cells.loc[shrunk, "existing"]) - 1
    new_cells["n_monthly"] = np.minimum(new_cells["n_monthly"], new_cells["n"])
    out = maintain(res.sample, frame, SETTINGS, cells=new_cells, period="2013-12")
    log = out.changes
    dropped = log[log["action"] == "rebalanced_out"]
    key = tuple(cells.loc[shrunk, CELL])
    members = res.sample[_key(res.sample) == "|".join(map(str, key))]
    assert len(dropped) == len(members) - new_cells.loc[shrunk, "n"]
    # every current member counts as existing; the largest permanent random numbers leave
    u = dict(zip(members["enterprise_id"], prn(members["enterprise_id"], 77), strict=True))
    stay = set(out.selection.sample["enterprise_id"]) & set(members["enterprise_id"])
    assert len(stay) == new_cells.loc[shrunk, "n"]
    assert min(u[i] for i in dropped["enterprise_id"]) > max(u[i] for i in stay)
    counts = _key(out.selection.sample).value_counts()
    assert counts["|".join(map(str, tuple(cells.loc[grown, CELL])))] == new_cells.loc[grown, "n"]


def test_a_place_no_reserve_can_fill_is_reported_unfilled():
    frame, cells = synthetic_frame(3000, 30, sample_size=300, panel_share=0.0, rng=9)
    res = select_sample(frame, cells, SETTINGS)
    # Every unit of the province selected: no cell has a reserve, so a closure cannot be refilled.
    f = frame.copy()
    f.loc[~f["enterprise_id"].isin(res.sample["enterprise_id"]), "status"] = "closed"
    victim = res.sample.iloc[0]["enterprise_id"]
    f.loc[f["enterprise_id"] == victim, "status"] = "closed"
    out = maintain(res.sample, f, SETTINGS, period="2013-12")
    summary = dict(zip(out.summary["key"], out.summary["value"], strict=True))
    assert len(out.selection.sample) == len(res.sample) - 1
    assert summary["unfilled"] == "1" and "1 place(s) unfilled" in out.message
