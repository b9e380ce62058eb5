"""The panel of record: dated membership rows written by windows, refusals, readers, CLI."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from samplekit import store
from samplekit.cli import main
from samplekit.errors import InputError, ValidationError
from samplekit.io import write_csv
from samplekit.maintenance import CHANGE_COLUMNS
from samplekit.panel import overlaps, panel_counts
from samplekit.reports import REPORT_COLUMNS


def members(
    ids: list[str],
    status: list[str] | None = None,
    weight: float = 2.0,
    ministry: tuple[str, ...] = ("A",),
) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "enterprise_id": ids,
            "name": [f"企业{i}" for i in ids],
            "city": "甲市",
            "section": "C",
            "size_class": "small",
            "ownership": "private",
            "registration_type": "170",
            "employees": 50,
            "export_share": 0.0,
            "status": status or ["new"] * n,
            "monthly": [i in ministry for i in ids],
            "inclusion_prob": 1 / weight,
            "weight": weight,
            "calibrated_weight": weight * 1.1,
            "cell_frame_units": 6,
            "cell_n": n,
        }
    )


def change_log(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "enterprise_id": i,
                "name": f"企业{i}",
                "city": "甲市",
                "section": "C",
                "size_class": "small",
                "ownership": "private",
                "action": a,
                "reason": r,
                "replaces": rep,
                "note": "",
            }
            for i, a, r, rep in rows
        ],
        columns=CHANGE_COLUMNS,
    )


@pytest.fixture()
def two_windows(tmp_path):
    """Design 2010-01: A, B, C. December 2010: B closed, D replaces it (from 2011-01)."""
    path = tmp_path / "p.duckdb"
    w1 = store.write_window(
        path,
        members=members(["A", "B", "C"], ["retained", "new", "new"]),
        window_month="2009-12",
        effective="2010-01",
        kind="design",
    )
    w2 = store.write_window(
        path,
        members=members(["A", "C", "D"], ["retained", "retained", "replacement"], weight=3.0),
        window_month="2010-12",
        kind="maintenance",
        changes=change_log([("B", "retired", "closed", ""), ("D", "replacement", "", "B")]),
    )
    return path, w1, w2


def snapshot(path) -> dict[str, pd.DataFrame]:
    return {t: store.read_table(path, t) for t in store.SCHEMA}


def assert_unchanged(path, before: dict[str, pd.DataFrame]) -> None:
    after = snapshot(path)
    assert {t: len(v) for t, v in after.items()} == {t: len(v) for t, v in before.items()}
    for t in before:
        pd.testing.assert_frame_equal(after[t], before[t], obj=t)


def test_two_windows_close_and_open_rows_as_worked_by_hand(two_windows):
    path, w1, w2 = two_windows
    assert (w1.window_id, w1.members, w1.entered, w1.exited) == (1, 3, 3, 0)
    assert (w2.window_id, w2.effective, w2.entered, w2.exited, w2.continued) == (
        2,
        "2011-01",
        1,
        1,
        2,
    )
    m = store.read_membership(path)
    got = [
        (
            r.enterprise_id,
            r.valid_from,
            r.valid_to,
            r.exit_reason,
            r.entry_reason,
            r.window_id,
            r.weight,
        )
        for r in m.itertuples(index=False)
    ]
    assert got == [
        ("A", "2010-01", "2010-12", None, "existing", 1, 2.0),
        ("A", "2011-01", None, None, "existing", 2, 3.0),
        ("B", "2010-01", "2010-12", "closed", "new", 1, 2.0),
        ("C", "2010-01", "2010-12", None, "new", 1, 2.0),
        ("C", "2011-01", None, None, "existing", 2, 3.0),
        ("D", "2011-01", None, None, "replacement", 2, 3.0),
    ]
    assert m["ministry"].tolist() == [True, True, False, False, False, False]
    assert overlaps(m).empty
    w = store.read_windows(path)
    assert w[
        ["kind", "window_month", "effective", "members", "entered", "exited", "forced"]
    ].values.tolist() == [
        ["design", "2009-12", "2010-01", 3, 3, 0, False],
        ["maintenance", "2010-12", "2011-01", 3, 1, 1, False],
    ]
    log = store.read_panel_changes(path)
    two = log[log["window_id"] == 2]
    assert two[["enterprise_id", "action", "reason", "replaces"]].values.tolist() == [
        ["D", "replacement", "", "B"],
        ["B", "retired", "closed", ""],
    ]
    # the design's derived log: who entered (A was retained from the panel before: existing)
    one = log[log["window_id"] == 1]
    assert one[["enterprise_id", "action"]].values.tolist() == [["B", "new"], ["C", "new"]]


def test_panel_in_force_by_month(two_windows):
    path, _, _ = two_windows
    assert store.panel_in_force(path, "2009-12").empty
    june = store.panel_in_force(path, "2010-06")
    assert june["enterprise_id"].tolist() == ["A", "B", "C"]
    assert (june["weight"] == 2.0).all() and set(june["window_id"]) == {1}
    dec = store.panel_in_force(path, "2010-12")
    assert dec["enterprise_id"].tolist() == ["A", "B", "C"]  # B reports until its last month
    jan = store.panel_in_force(path, "2011-01")
    assert jan["enterprise_id"].tolist() == ["A", "C", "D"]
    assert (jan["weight"] == 3.0).all() and jan["monthly"].tolist() == [True, False, False]
    assert jan["valid_to"].isna().all()
    assert store.panel_in_force(path, "2030-01")["enterprise_id"].tolist() == ["A", "C", "D"]
    with pytest.raises(InputError, match="YYYY-MM"):
        store.panel_in_force(path, "2011-1")
    # read_panel: every enterprise of record with its latest row (B keeps its closed row)
    p = store.read_panel(path)
    assert p["enterprise_id"].tolist() == ["A", "B", "C", "D"]
    assert p["valid_to"].isna().tolist() == [True, False, True, True]


def test_december_rule_refused_unless_forced_and_store_unchanged(two_windows):
    path, _, _ = two_windows
    before = snapshot(path)
    with pytest.raises(ValidationError, match="12月"):
        store.write_window(path, members=members(["A", "C"]), window_month="2011-06")
    assert_unchanged(path, before)
    r = store.write_window(path, members=members(["A", "C"]), window_month="2011-06", force=True)
    assert r.forced and r.effective == "2011-07" and r.exited == 1
    assert store.read_windows(path)["forced"].tolist() == [False, False, True]
    m = store.read_membership(path)
    d = m[m["enterprise_id"] == "D"]
    assert d[["valid_from", "valid_to", "exit_reason"]].values.tolist() == [
        ["2011-01", "2011-06", "removed"]
    ]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"window_month": "2010-12", "effective": "2011-01"}, ValidationError, "不晚于"),
        (
            {"window_month": "2009-12", "effective": "2010-06", "force": True},
            ValidationError,
            "不晚于",
        ),
        ({"window_month": "2011-12", "kind": "census"}, InputError, "窗口类型"),
        ({"window_month": "2011-13"}, InputError, "YYYY-MM"),
        ({"window_month": "2011-12", "effective": "2011-12"}, InputError, "晚于调整月份"),
    ],
)
def test_bad_windows_are_refused_and_store_unchanged(two_windows, kwargs, error, match):
    path, _, _ = two_windows
    before = snapshot(path)
    with pytest.raises(error, match=match):
        store.write_window(path, members=members(["A", "C", "E"]), **kwargs)
    assert_unchanged(path, before)


def test_duplicate_ids_and_bad_weights_are_refused_with_rows(two_windows):
    path, _, _ = two_windows
    before = snapshot(path)
    with pytest.raises(ValidationError) as exc:
        store.write_window(path, members=members(["A", "C", "A"]), window_month="2011-12")
    assert exc.value.problems["row"].tolist() == [2, 4]
    assert set(exc.value.problems["rule"]) == {"duplicate"}
    bad = members(["A", "C", "E"])
    bad.loc[2, "weight"] = 0.0
    with pytest.raises(ValidationError) as exc:
        store.write_window(path, members=bad, window_month="2011-12")
    assert exc.value.problems[["row", "rule"]].values.tolist() == [[4, "weight_positive"]]
    with pytest.raises(InputError, match="ownership"):
        store.write_window(path, members=bad.drop(columns="ownership"), window_month="2011-12")
    assert_unchanged(path, before)


def test_overlapping_rows_are_found_and_refused(two_windows, tmp_path):
    m = pd.DataFrame(
        {
            "enterprise_id": ["X", "X", "Y", "Y", "Z"],
            "valid_from": ["2010-01", "2010-12", "2010-01", "2011-01", "2012-05"],
            "valid_to": ["2010-12", None, "2010-12", None, "2012-04"],
        }
    )
    bad = overlaps(m)
    # X: 2010-01..2010-12 overlaps 2010-12..open; Z is an empty range; Y is fine
    assert sorted(bad["enterprise_id"]) == ["X", "Z"]
    # a store whose rows were tampered with: the next window is refused
    path, _, _ = two_windows
    con = duckdb.connect(str(path))
    con.execute("UPDATE panel_membership SET valid_to = '2013-03' WHERE enterprise_id = 'B'")
    con.close()
    before = snapshot(path)
    with pytest.raises(ValidationError, match="重叠"):
        store.write_window(path, members=members(["A", "C", "D", "B"]), window_month="2011-12")
    assert_unchanged(path, before)


def report_rows(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "enterprise_id": [i for i, _ in pairs],
            "period": [p for _, p in pairs],
            "baseline_employment": 50,
            "survey_employment": 50,
            "change": 0,
            "change_pct": 0.0,
        }
    )
    for c in REPORT_COLUMNS:
        if c not in rows.columns:
            rows[c] = pd.NA
    return rows[REPORT_COLUMNS]


def test_not_in_panel_is_checked_against_the_members_of_each_month(two_windows, tmp_path):
    path, _, _ = two_windows
    f = tmp_path / "multi.csv"
    # B in force until 2010-12, D from 2011-01: only (B, 2011-01) and (D, 2010-12) are outside
    write_csv(
        report_rows(
            [
                ("A", "2010-12"),
                ("B", "2010-12"),
                ("D", "2010-12"),
                ("A", "2011-01"),
                ("B", "2011-01"),
                ("D", "2011-01"),
            ]
        ),
        f,
        excel=False,
    )
    r = store.ingest_file(path, f)
    assert (r.loaded, r.quarantined) == (4, 2)
    q = store.read_table(path, "quarantine")
    assert sorted(zip(q["enterprise_id"], q["period"], strict=True)) == [
        ("B", "2011-01"),
        ("D", "2010-12"),
    ]
    assert set(q["rules"]) == {"not_in_panel"}
    # every stored report belongs to a member in force in its month
    m = store.read_membership(path)
    for rec in store.read_reports(path).itertuples(index=False):
        rows = m[
            (m["enterprise_id"] == rec.enterprise_id)
            & (m["valid_from"] <= rec.period)
            & (m["valid_to"].isna() | (m["valid_to"].fillna("") >= rec.period))
        ]
        assert len(rows) == 1


def test_a_window_that_would_orphan_stored_reports_is_refused(two_windows, tmp_path):
    path, _, _ = two_windows
    f = tmp_path / "r_2012-02.csv"
    write_csv(report_rows([("A", "2012-02"), ("C", "2012-02"), ("D", "2012-02")]), f, excel=False)
    assert store.ingest_file(path, f).loaded == 3
    before = snapshot(path)
    with pytest.raises(ValidationError, match="D 的 2012-02"):
        store.write_window(path, members=members(["A", "C", "E"]), window_month="2011-12")
    assert_unchanged(path, before)


def test_seed_import_and_load_panel_compatibility(tmp_path):
    path = tmp_path / "s.duckdb"
    plain = members(["P", "Q"]).drop(columns=["weight", "status"])
    r = store.seed_from_sample_list(path, plain, effective="2012-01")
    assert (r.kind, r.members, r.effective) == ("import", 2, "2012-01")
    with pytest.raises(ValidationError, match="已有"):
        store.seed_from_sample_list(path, plain)
    other = tmp_path / "o.duckdb"
    assert store.load_panel(other, plain) == 2
    assert store.read_membership(other)["valid_from"].tolist() == ["0001-01", "0001-01"]
    before = snapshot(other)
    assert store.load_panel(other, plain) == 2  # the same list again: nothing changes
    assert_unchanged(other, before)
    with pytest.raises(ValidationError, match="maintain"):
        store.load_panel(other, members(["P", "R"]))
    assert_unchanged(other, before)


def test_schema_1_store_is_migrated_to_an_import_window(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        "CREATE TABLE panel (enterprise_id VARCHAR PRIMARY KEY, name VARCHAR, "
        "city VARCHAR, section VARCHAR, size_class VARCHAR, ownership VARCHAR, "
        "registration_type VARCHAR, export_share DOUBLE, individual BOOLEAN)"
    )
    con.execute(
        "INSERT INTO panel VALUES ('K1', 'k', '甲市', 'C', 'small', 'private', '170', "
        "0.0, false), ('K2', 'k2', '甲市', 'H', 'micro', 'private', '', 0.0, true)"
    )
    con.close()
    with store.connect(path):
        pass
    m = store.read_membership(path)
    assert m["enterprise_id"].tolist() == ["K1", "K2"]
    assert m["individual"].tolist() == [False, True]
    assert store.read_table(path, "meta")["value"].tolist() == [store.SCHEMA_VERSION]
    assert store.read_windows(path)["kind"].tolist() == ["import"]


def test_panel_counts_by_city_network_and_cell():
    m = pd.DataFrame(
        {
            "enterprise_id": list("abcdef"),
            "city": list("xxyyyx"),
            "section": list("CCCCHH"),
            "size_class": "small",
            "ownership": "private",
            "ministry": [True, False, True, False, False, False],
            "individual": [False, False, False, False, True, False],
            "cell_n": [2, 2, 2, 2, pd.NA, 1],
            "cell_frame_units": 9,
        }
    )
    by_city, by_cell = panel_counts(m)
    assert by_city.values.tolist() == [["x", 1, 2, 0, 3], ["y", 1, 1, 1, 3], ["合计", 2, 3, 1, 6]]
    assert by_cell[["city", "section", "members", "ministry"]].values.tolist() == [
        ["x", "C", 2, 1],
        ["x", "H", 1, 0],
        ["y", "C", 2, 1],
    ]


def test_cli_panel(two_windows, tmp_path, capsys):
    path, _, _ = two_windows
    out = tmp_path / "out"
    assert main(["panel", "--store", str(path), "--period", "2011-03", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 家" in text and "合计" in text
    listing = pd.read_csv(out / "panel_2011-03.csv", encoding="utf-8-sig", dtype=str)
    assert listing["enterprise_id"].tolist() == ["A", "C", "D"]
    head = pd.read_excel(out / "panel_2011-03.xlsx", sheet_name="监测名单", header=3).columns
    assert {"统一社会信用代码", "设计权数", "起始月份", "监测网络"} <= set(head)
    by_city = pd.read_csv(out / "panel_2011-03_by_city.csv", encoding="utf-8-sig")
    assert by_city.iloc[-1].tolist() == ["合计", 1, 2, 0, 3]
    assert main(["panel", "--store", str(path), "--period", "2009-06"]) == 1
    assert "没有有效的监测企业" in capsys.readouterr().err
    assert main(["panel", "--store", str(tmp_path / "none.duckdb"), "--period", "2011-03"]) == 1


# ------------------------------------------------------------------ select / maintain --store
@pytest.fixture(scope="module")
def small_register(tmp_path_factory):
    """A 3000-unit slice of the demo register as a user's CSV file, and a cells table."""
    from samplekit.jobs import inputs as load_inputs
    from samplekit.params import load_params
    from samplekit.paths import project_root
    from samplekit.selection import CELL

    demo = project_root() / "params" / "guangdong_2013.yaml"
    tmp = tmp_path_factory.mktemp("register")
    _, frame = load_inputs(load_params(demo))
    frame = frame[frame["city"].isin(["珠海", "汕尾"]) & (frame["size_class"] != "micro")]
    frame = frame.sample(3000, random_state=4).sort_values("enterprise_id")
    frame.drop(columns=["sector", "size_class", "ownership"]).to_csv(
        tmp / "register.csv", index=False
    )
    active = frame[frame["status"] == "active"]
    cells = (
        active.groupby(CELL)
        .agg(frame_units=("enterprise_id", "size"), existing=("in_panel", "sum"))
        .reset_index()
    )
    cells["frame_employment"] = active.groupby(CELL)["employees"].sum().to_numpy()
    cells["existing_monthly"] = 0
    cells["n"] = np.minimum(cells["frame_units"], cells["existing"] + 2)
    cells["n_monthly"] = (cells["n"] >= 3).astype(int)
    cells.to_csv(tmp / "cells.csv", index=False)
    text = demo.read_text(encoding="utf-8").replace(
        "totals: [units, employment]", "totals: [units]"
    )
    (tmp / "params.yaml").write_text(text, encoding="utf-8")
    return tmp, frame


def test_cli_select_and_maintain_write_windows(small_register, tmp_path, capsys):
    tmp, frame = small_register
    params, reg, cells = tmp / "params.yaml", tmp / "register.csv", tmp / "cells.csv"
    db = tmp_path / "panel.duckdb"
    a = tmp_path / "a"
    assert (
        main(
            [
                "select",
                str(params),
                "--frame",
                str(reg),
                "--cells",
                str(cells),
                "--out",
                str(a),
                "--store",
                str(db),
                "--period",
                "2013-12",
            ]
        )
        == 0
    )
    assert "名单版本 1" in capsys.readouterr().out
    sample = pd.read_csv(a / "sample_list.csv", encoding="utf-8-sig", dtype={"enterprise_id": str})
    jan = store.panel_in_force(db, "2014-01")
    assert sorted(jan["enterprise_id"]) == sorted(sample["enterprise_id"])
    np.testing.assert_allclose(
        jan.set_index("enterprise_id").loc[sample["enterprise_id"], "weight"],
        sample["weight"],
        rtol=1e-6,
    )  # the CSV holds weights to 6 decimals

    # two individual units (附表三) join in a forced window; maintain carries them over
    ind = members(["IND1", "IND2"]).drop(columns=["weight"]).assign(individual=True)
    store.write_window(
        db,
        members=pd.concat([jan, ind], ignore_index=True),
        window_month="2014-03",
        force=True,
        kind="import",
    )

    # next December: three members closed; the current panel comes from the store
    closed = sorted(sample["enterprise_id"].iloc[:3])
    new = frame.copy()
    new.loc[new["enterprise_id"].isin(closed), "status"] = "closed"
    new.drop(columns=["sector", "size_class", "ownership"]).to_csv(
        tmp_path / "new.csv", index=False
    )
    b = tmp_path / "b"
    assert (
        main(
            [
                "maintain",
                str(params),
                "--store",
                str(db),
                "--frame",
                str(tmp_path / "new.csv"),
                "--out",
                str(b),
                "--period",
                "2014-12",
            ]
        )
        == 0
    )
    assert "名单版本 3" in capsys.readouterr().out
    m = store.read_membership(db)
    gone = m[m["exit_reason"].notna()]
    assert sorted(gone["enterprise_id"]) == closed and set(gone["exit_reason"]) == {"closed"}
    assert set(gone["valid_to"]) == {"2014-12"}
    assert overlaps(m).empty
    after = store.panel_in_force(db, "2015-01")
    assert len(after) == len(sample) + 2 and not set(closed) & set(after["enterprise_id"])
    assert after.loc[after["individual"], "enterprise_id"].tolist() == ["IND1", "IND2"]
    log = store.read_panel_changes(db)
    assert (
        sorted(log.loc[(log["window_id"] == 3) & (log["action"] == "retired"), "enterprise_id"])
        == closed
    )

    # the same window again: refused by the store (exit 1), the store unchanged
    before = snapshot(db)
    c = tmp_path / "c"
    assert (
        main(
            [
                "maintain",
                str(params),
                "--store",
                str(db),
                "--frame",
                str(tmp_path / "new.csv"),
                "--out",
                str(c),
                "--period",
                "2014-12",
            ]
        )
        == 1
    )
    assert "存储未改变" in capsys.readouterr().err
    assert_unchanged(db, before)
    # a select outside December without --force: refused; with --force: written, forced
    assert (
        main(
            [
                "select",
                str(params),
                "--frame",
                str(reg),
                "--cells",
                str(cells),
                "--out",
                str(tmp_path / "d"),
                "--store",
                str(db),
                "--period",
                "2015-06",
            ]
        )
        == 1
    )
    assert "12月" in capsys.readouterr().err
    assert_unchanged(db, before)
    assert (
        main(
            [
                "select",
                str(params),
                "--frame",
                str(reg),
                "--cells",
                str(cells),
                "--out",
                str(tmp_path / "d"),
                "--store",
                str(db),
                "--period",
                "2015-06",
                "--force",
            ]
        )
        == 0
    )
    assert store.read_windows(db)["forced"].tolist() == [False, False, False, True]
    # maintain with neither --panel nor --store: a clear error
    assert main(["maintain", str(params), "--frame", str(reg), "--out", str(c)]) == 1
    assert "--panel" in capsys.readouterr().err
