"""The DuckDB store: atomic, idempotent loads, resubmission with audit, quarantine, CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from samplekit import store
from samplekit.cli import main
from samplekit.demo import HistorySettings, simulate_history, synthetic_panel
from samplekit.errors import InputError
from samplekit.io import write_csv
from samplekit.reports import CITY_COLUMNS, REDUCTION_COLUMNS, REPORT_COLUMNS


@pytest.fixture(scope="module")
def history():
    panel = synthetic_panel(60, rng=3)
    reports, city = simulate_history(
        panel, HistorySettings(start="2013-05", end="2013-08", seed=5, shock=None)
    )
    return panel, reports, city


@pytest.fixture()
def db(tmp_path, history):
    path = tmp_path / "m.duckdb"
    store.load_panel(path, history[0])
    return path


def month_file(reports, period, path):
    write_csv(reports[reports["period"] == period], path, excel=False)
    return path


def canonical(df: pd.DataFrame) -> pd.DataFrame:
    out = df[REPORT_COLUMNS].sort_values(["period", "enterprise_id"]).reset_index(drop=True)
    for c in REDUCTION_COLUMNS:
        out[c] = out[c].astype("Int64").fillna(0)
    return out.astype({"remark": object})


def test_load_then_read_back_identical(db, history, tmp_path):
    _, reports, _ = history
    r = store.ingest_file(db, month_file(reports, "2013-05", tmp_path / "r_2013-05.csv"))
    assert (r.status, r.rows, r.loaded, r.quarantined, r.replaced) == ("loaded", 60, 60, 0, 0)
    got = store.read_reports(db, ["2013-05"])
    want = canonical(reports[reports["period"] == "2013-05"])
    pd.testing.assert_frame_equal(canonical(got), want, check_dtype=False)
    assert (got[REDUCTION_COLUMNS] >= 0).all().all()


def test_same_file_twice_changes_nothing(db, history, tmp_path):
    f = month_file(history[1], "2013-05", tmp_path / "r_2013-05.csv")
    store.ingest_file(db, f)
    before = store.table_counts(db)
    again = store.ingest_file(db, f)
    assert again.status == "already_loaded" and again.loaded == 0
    assert store.table_counts(db) == before


def test_failure_mid_load_leaves_store_unchanged(db, history, tmp_path, monkeypatch):
    _, reports, _ = history
    store.ingest_file(db, month_file(reports, "2013-05", tmp_path / "r_2013-05.csv"))
    bad = reports[reports["period"] == "2013-06"].copy()
    bad.loc[bad.index[0], "change"] = 999  # one row for the quarantine
    f = tmp_path / "r_2013-06.csv"
    write_csv(bad, f, excel=False)
    before = store.table_counts(db)
    reports_before = store.read_reports(db)

    def boom(*args, **kwargs):  # after the reports were inserted, before the quarantine
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert_quarantine", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        store.ingest_file(db, f)
    assert store.table_counts(db) == before
    pd.testing.assert_frame_equal(store.read_reports(db), reports_before)
    monkeypatch.undo()
    r = store.ingest_file(db, f)  # not recorded as loaded: it loads fine afterwards
    assert (r.status, r.loaded, r.quarantined) == ("loaded", 59, 1)


def test_resubmission_replaces_and_audits(db, history, tmp_path):
    _, reports, _ = history
    month = reports[reports["period"] == "2013-06"].reset_index(drop=True)
    store.ingest_file(db, month_file(reports, "2013-06", tmp_path / "r_2013-06.csv"))
    fixed = month.iloc[:3].copy()
    fixed["remark"] = "更正"
    write_csv(fixed, tmp_path / "r_2013-06_更正.csv", excel=False)
    r = store.ingest_file(db, tmp_path / "r_2013-06_更正.csv")
    assert (r.loaded, r.replaced) == (3, 3)
    got = store.read_reports(db, ["2013-06"])
    assert len(got) == 60  # replaced, not duplicated
    assert (got.set_index("enterprise_id").loc[fixed["enterprise_id"], "remark"] == "更正").all()
    audit = store.read_table(db, "audit")
    assert sorted(audit["enterprise_id"]) == sorted(fixed["enterprise_id"])
    assert set(audit["replaced_by"]) == {r.load_id}
    assert set(audit["load_id"]) == {r.load_id - 1}
    assert audit["remark"].isna().all() or (audit["remark"] != "更正").all()


def test_quarantine_keeps_every_rejected_row_with_its_problems(db, history, tmp_path):
    _, reports, _ = history
    month = reports[reports["period"] == "2013-07"].reset_index(drop=True)
    month.loc[0, "change"] = month.loc[0, "change"] + 7
    month.loc[1, "enterprise_id"] = "UNKNOWN-1"
    month.loc[2, "reason_1"] = 15
    month.loc[2, "change"] = month.loc[2, "change"] + 1  # two problems on one row
    month = pd.concat([month, month.iloc[[5]]], ignore_index=True)  # duplicate row
    f = tmp_path / "r_2013-07.csv"
    write_csv(month, f, excel=False)
    r = store.ingest_file(db, f)
    assert r.rows == 61 and r.loaded + r.quarantined == r.rows  # nothing is lost
    assert r.quarantined == 5
    q = store.read_table(db, "quarantine")
    assert sorted(q["row"]) == [2, 3, 4, 7, 62]
    cells = json.loads(q.loc[q["row"] == 3, "cells"].iloc[0])
    assert cells["enterprise_id"] == "UNKNOWN-1"  # the original cells are kept
    qp = store.read_table(db, "quarantine_problems")
    assert set(qp.loc[qp["row"] == 4, "rule"]) >= {"change", "reason_code"}
    assert q.loc[q["row"] == 4, "rules"].iloc[0] == "change;reason_code"
    loaded = store.read_reports(db, ["2013-07"])
    assert "UNKNOWN-1" not in set(loaded["enterprise_id"])
    assert month.loc[5, "enterprise_id"] not in set(loaded["enterprise_id"])


def test_baseline_break_against_stored_previous_month(db, history, tmp_path):
    _, reports, _ = history
    store.ingest_file(db, month_file(reports, "2013-05", tmp_path / "r_2013-05.csv"))
    june = reports[reports["period"] == "2013-06"].reset_index(drop=True)
    june.loc[0, "baseline_employment"] += 3
    june.loc[0, "change"] -= 3
    june.loc[0, "change_pct"] = pd.NA
    june.loc[0, ["reduction_other", "reason_1"]] = pd.NA
    if june.loc[0, "change"] < 0:
        june.loc[0, REDUCTION_COLUMNS] = pd.NA
        june.loc[0, "reduction_other"] = -june.loc[0, "change"]
        june.loc[0, ["reason_1", "reason_2", "reason_3"]] = [11, pd.NA, pd.NA]
    else:
        june.loc[0, REDUCTION_COLUMNS] = pd.NA
        june.loc[0, ["reason_1", "reason_2", "reason_3"]] = pd.NA
    write_csv(june, tmp_path / "r_2013-06.csv", excel=False)
    r = store.ingest_file(db, tmp_path / "r_2013-06.csv")
    assert r.quarantined == 0
    flags = store.read_table(db, "report_flags")
    hit = flags[flags["rule"] == "baseline_break"]
    assert hit["enterprise_id"].tolist() == [june.loc[0, "enterprise_id"]]


def test_city_table_and_city_resubmission(db, history, tmp_path):
    _, _, city = history
    write_csv(city, tmp_path / "city.csv", excel=False)
    store.ingest_file(db, tmp_path / "city.csv")
    got = store.read_city_reports(db)
    pd.testing.assert_frame_equal(got[CITY_COLUMNS], city[CITY_COLUMNS], check_dtype=False)
    one = city.iloc[[0]].copy()
    one["registered_unemployed_end"] += 10
    write_csv(one, tmp_path / "city_fix.csv", excel=False)
    r = store.ingest_file(db, tmp_path / "city_fix.csv")
    assert r.replaced == 1 and len(store.read_table(db, "city_audit")) == 1


def test_panel_must_be_unique(tmp_path):
    with pytest.raises(InputError, match="duplicate enterprise_id"):
        store.load_panel(
            tmp_path / "p.duckdb",
            pd.DataFrame({"enterprise_id": ["A", "A"], "city": ["x", "x"], "section": ["C", "C"]}),
        )


def test_cli_ingest_exit_codes_and_check(db, history, tmp_path, capsys):
    panel, reports, _ = history
    panel_csv = tmp_path / "sample_list.csv"
    write_csv(panel, panel_csv)
    good = month_file(reports, "2013-05", tmp_path / "r_2013-05.csv")
    assert (
        main(
            ["ingest", str(good), "--store", str(tmp_path / "c.duckdb"), "--panel", str(panel_csv)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "loaded 60" in out and "quarantined 0" in out
    bad = reports[reports["period"] == "2013-06"].copy()
    bad.loc[bad.index[0], "reason_1"] = 99
    bad.loc[bad.index[0], "change"] = -99999
    write_csv(bad, tmp_path / "r_2013-06.csv", excel=False)
    assert (
        main(["ingest", str(tmp_path / "r_2013-06.csv"), "--store", str(tmp_path / "c.duckdb")])
        == 3
    )
    assert "quarantined 1" in capsys.readouterr().out
    assert main(["ingest", str(tmp_path / "nope.csv"), "--store", str(tmp_path / "c.duckdb")]) == 1
    # check: validates without loading, writes the list for the city
    before = store.table_counts(tmp_path / "c.duckdb")
    code = main(
        [
            "check",
            str(tmp_path / "r_2013-06.csv"),
            "--store",
            str(tmp_path / "c.duckdb"),
            "--out",
            str(tmp_path / "chk"),
        ]
    )
    assert code == 1
    assert store.table_counts(tmp_path / "c.duckdb") == before
    problems = pd.read_csv(tmp_path / "chk" / "r_2013-06_problems.csv", encoding="utf-8-sig")
    assert {"change", "reason_code"} <= set(problems["rule"])
    headers = pd.read_excel(tmp_path / "chk" / "r_2013-06_problems.xlsx", header=3).columns
    assert {"严重程度", "行号", "规则"} <= set(headers)
    assert (
        main(["check", str(good), "--panel", str(panel_csv), "--out", str(tmp_path / "chk")]) == 0
    )


def test_resubmission_replaces_and_audits_only_changed_rows(db, history, tmp_path):
    _, reports, _ = history
    month = reports[reports["period"] == "2013-06"].reset_index(drop=True)
    store.ingest_file(db, month_file(reports, "2013-06", tmp_path / "r_2013-06.csv"))
    fixed = month.copy()
    fixed.loc[:2, "remark"] = "更正"  # three rows change, 57 are sent again unchanged
    write_csv(fixed, tmp_path / "r_2013-06_更正.csv", excel=False)
    flags_before = len(store.read_table(db, "report_flags"))
    r = store.ingest_file(db, tmp_path / "r_2013-06_更正.csv")
    assert (r.rows, r.loaded, r.replaced, r.unchanged, r.quarantined) == (60, 60, 3, 57, 0)
    assert "unchanged 57" in r.line()
    audit = store.read_table(db, "audit")
    assert sorted(audit["enterprise_id"]) == sorted(month.loc[:2, "enterprise_id"])
    files = store.read_table(db, "files").iloc[-1]
    assert (files["replaced"], files["unchanged"]) == (3, 57)
    got = store.read_table(db, "reports").set_index("enterprise_id")
    # unchanged rows keep the load that first brought them
    assert (got.loc[month.loc[3:, "enterprise_id"], "load_id"] == 1).all()
    assert (got.loc[month.loc[:2, "enterprise_id"], "load_id"] == r.load_id).all()
    # their warnings were flagged once, not again
    assert len(store.read_table(db, "report_flags")) == flags_before + len(
        r.problems[(r.problems["severity"] == "warning") & r.problems["row"].isin([2, 3, 4])]
    )


def test_identical_rejected_row_is_not_quarantined_again(db, history, tmp_path):
    _, reports, _ = history
    month = reports[reports["period"] == "2013-07"].reset_index(drop=True)
    month.loc[0, "change"] = month.loc[0, "change"] + 7
    write_csv(month, tmp_path / "r_2013-07.csv", excel=False)
    store.ingest_file(db, tmp_path / "r_2013-07.csv")
    again = month.copy()
    again.loc[5, "remark"] = "更正"  # other bytes: a resubmission with the same bad row
    write_csv(again, tmp_path / "r_2013-07_b.csv", excel=False)
    r = store.ingest_file(db, tmp_path / "r_2013-07_b.csv")
    assert (r.quarantined, r.already_quarantined) == (1, 1)
    assert r.rows == r.loaded + r.quarantined
    q = store.read_table(db, "quarantine")
    assert len(q) == 1 and q["row"].tolist() == [2]


@pytest.fixture()
def panel_store(tmp_path, history):
    panel = history[0]
    path = tmp_path / "p.duckdb"
    store.load_panel(path, panel)
    return path, panel


def test_panel_file_with_unquoted_comma_refused_store_unchanged(panel_store, tmp_path, capsys):
    path, panel = panel_store
    f = tmp_path / "sample_list.csv"
    write_csv(panel, f, excel=False)
    lines = f.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace("企业3", "企业3,广州分厂")  # one unquoted comma in a name
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = store.read_panel(path)
    good = tmp_path / "r_2013-05.csv"
    write_csv(history_month(panel), good, excel=False)
    code = main(["ingest", str(good), "--store", str(path), "--panel", str(f)])
    out = capsys.readouterr()
    assert code == 1 and "第5行" in out.err and "未加引号的逗号" in out.err
    pd.testing.assert_frame_equal(store.read_panel(path), before)
    assert store.table_counts(path)["reports"] == 0  # nothing else ran either


def history_month(panel):
    return pd.DataFrame(
        {
            "enterprise_id": panel["enterprise_id"],
            "period": "2013-05",
            "baseline_employment": 10,
            "survey_employment": 10,
        }
    )


@pytest.mark.parametrize(
    "edit, rule",
    [
        (lambda p: p.assign(section=p["section"].where(p.index != 7, "湛江")), "unknown_section"),
        (lambda p: p.assign(enterprise_id=p["enterprise_id"].where(p.index != 9, "")), "required"),
        (
            lambda p: p.assign(size_class=p["size_class"].where(p.index != 3, "0.35")),
            "unknown_size_class",
        ),
        (lambda p: p.iloc[:30], "panel_change"),
    ],
)
def test_panel_file_validated_in_full_before_it_changes_the_store(
    panel_store, tmp_path, capsys, edit, rule
):
    path, panel = panel_store
    f = tmp_path / "sample_list.csv"
    write_csv(edit(panel.copy()), f, excel=False)
    before = store.read_panel(path)
    code = main(["ingest", str(f), "--store", str(path), "--panel", str(f)])
    assert code == 1 and rule in capsys.readouterr().err
    pd.testing.assert_frame_equal(store.read_panel(path), before)
    if rule == "panel_change":  # a deliberate new list goes in with --force
        assert (
            main(
                [
                    "ingest",
                    str(tmp_path / "none.csv"),
                    "--store",
                    str(path),
                    "--panel",
                    str(f),
                    "--force",
                    "--period",
                    "2014-01",
                ]
            )
            == 1
        )  # no report file; list in
        # A new version of the panel, never an overwrite: the old rows are closed, not deleted.
        assert len(store.panel_in_force(path, "2014-01")) == 30
        assert len(store.panel_in_force(path, "2013-12")) == 60


def test_panel_names_that_look_like_formulas_round_trip(panel_store, tmp_path, capsys):
    _, panel = panel_store
    path = tmp_path / "fresh.duckdb"  # a new store: the list is its first panel of record
    p = panel.copy()
    p.loc[0, "name"] = '=HYPERLINK("http://x","点我")'
    p.loc[1, "name"] = "@SUM(A1)"
    f = tmp_path / "sample_list.csv"
    write_csv(p, f)
    text = f.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM" in text  # escaped for Excel
    assert (
        main(["ingest", str(tmp_path / "none.csv"), "--store", str(path), "--panel", str(f)]) == 1
    )
    got = store.read_panel(path).set_index("enterprise_id")["name"]
    assert got[p.loc[0, "enterprise_id"]] == p.loc[0, "name"]  # stored as the city wrote it
    assert got[p.loc[1, "enterprise_id"]] == "@SUM(A1)"
