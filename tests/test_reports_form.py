"""The ministry's 附表一 as cities fill it: no code column, two-level merged header, 甲/1…12 row,
总计 row, negative reductions; names matched to the panel; the period agreed; refusals leave the
store unchanged. Every case is one crafted file."""

from __future__ import annotations

import csv
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from samplekit import store
from samplekit.cli import main
from samplekit.names import match_names, normalize_name

PANEL = pd.DataFrame(
    {
        "enterprise_id": ["G1", "G2", "G3", "G4", "G5", "G6", "S1"],
        "name": [
            "广州市甲电子有限责任公司",
            "广州乙（集团）股份有限公司",
            "广州ＡＢＣ制衣厂",
            "广州丁物流有限公司",
            "广州庚食品有限公司",
            "广州庚食品有限责任公司",
            "深圳戊有限公司",
        ],
        "city": ["广州"] * 6 + ["深圳"],
        "section": ["C", "C", "C", "G", "C", "C", "C"],
        "size_class": "medium",
        "ownership": "private",
        "registration_type": "173",
    }
)
TITLE = "监测城市就业人员变化情况表(2013年6月)"
UNIT = "填报单位:广州市人力资源和社会保障局(单位盖章)"
HEAD1 = [
    "单位名称",
    "企业性质",
    "企业所属行业",
    "建档期期末就业人数",
    "调查期期末就业人数",
    "调查期比建档期期末增减就业人数",
    "增减幅度(%)",
    "就业人数减少类型",
    "",
    "",
    "",
    "",
    "就业人数减少主要原因",
]
HEAD2 = [
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "关闭破产",
    "停业整顿",
    "经济性裁员",
    "企业迁出本市",
    "其他",
    "",
]
NUMBERS = ["甲", *[str(i) for i in range(1, 13)]]
# Name as the city wrote it (variants of the panel's spelling), baseline, survey, change,
# change %, five reductions (negative), reasons. Hand-checked: change = survey − baseline,
# reductions sum to the fall, change % = change ÷ baseline × 100.
ROWS = [
    [
        "广州市甲电子有限公司",
        "173",
        "C",
        "200",
        "190",
        "-10",
        "-5.0",
        "",
        "",
        "-4",
        "",
        "-6",
        "4、8",
    ],
    ["广州乙(集团)股份有限公司 ", "160", "C", "150", "156", "6", "4.0", "", "", "", "", "", ""],
    ["广州ABC制衣厂", "171", "C", "100", "100", "0", "0", "", "", "", "", "", ""],
    ["广州丁物流有限公司", "173", "G", "1000", "980", "-20", "-2", "", "", "-11", "", "-9", "4"],
]
TOTAL = ["总计", "", "", "1450", "1426", "-24", "-1.7", "", "", "-15", "", "-15", "4、8"]


def form_rows(rows=ROWS, total=TOTAL, title=TITLE):
    return [
        [title] + [""] * 12,
        [UNIT] + [""] * 11 + ["单位:人、%"],
        HEAD1,
        HEAD2,
        NUMBERS,
        total,
        *rows,
    ]


def write_form(path, rows=None, encoding="gbk"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows if rows is not None else form_rows())
    return path


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "m.duckdb"
    store.load_panel(path, PANEL)
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_names_normalise_widths_brackets_spaces_and_legal_form():
    assert normalize_name("广州ＡＢＣ制衣厂") == normalize_name("广州ABC制衣厂")
    assert normalize_name("广州乙（集团）股份有限公司") == normalize_name(
        " 广州乙 [集团] 股份有限公司"
    )
    assert normalize_name("甲有限责任公司") == normalize_name("甲有限公司")
    assert normalize_name("甲股份有限公司") != normalize_name("甲有限公司")
    assert normalize_name("甲一有限公司") != normalize_name("甲二有限公司")


def test_match_never_guesses_and_suggests():
    names = pd.Series(
        ["广州市甲电子有限公司", "广州市甲电器有限公司", "广州庚食品有限公司", "深圳戊有限公司"]
    )
    m = match_names(names, panel=PANEL, city="广州")
    assert m.enterprise_id.tolist()[:1] == ["G1"]
    assert m.status.tolist() == ["name", "unmatched", "ambiguous", "unmatched"]
    assert "G1" in m.suggestions[1]  # the closest panel name is offered, not taken
    assert "G5" in m.suggestions[2] and "G6" in m.suggestions[2]
    # the city's own mapping settles it
    m2 = match_names(names, panel=PANEL, city="广州", mapping={"广州庚食品有限公司": "G6"})
    assert m2.enterprise_id[2] == "G6" and m2.status[2] == "mapping"
    # without a city the whole panel is searched: 深圳戊 is found there
    assert match_names(names[3:], panel=PANEL).enterprise_id.tolist() == ["S1"]


def test_printed_form_without_codes_loads(db, tmp_path, capsys):
    f = write_form(tmp_path / "附表一_广州_2013-06.csv")
    code, out = run(["ingest", f, "--store", db], capsys)
    assert code == 0, out
    got = store.read_reports(db, ["2013-06"]).set_index("enterprise_id")
    assert sorted(got.index) == ["G1", "G2", "G3", "G4"]
    assert got.loc["G1", "reduction_layoff"] == 4 and got.loc["G1", "reduction_other"] == 6
    assert got.loc["G4", "change"] == -20 and got.loc["G2", "change"] == 6
    assert got.loc["G1", "reason_1"] == 4 and got.loc["G1", "reason_2"] == 8
    files = store.read_table(db, "files")
    assert files[["rows", "loaded", "quarantined"]].iloc[0].tolist() == [4, 4, 0]
    # source rows are the file's lines: 6 header/title lines (incl. 总计), data from line 7
    assert sorted(store.read_table(db, "reports")["source_row"]) == [7, 8, 9, 10]


def test_printed_form_xlsx_with_merged_header(db, tmp_path, capsys):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in form_rows():
        ws.append([int(v) if v.lstrip("-").isdigit() and len(v) < 6 and v != "" else v for v in r])
    ws.merge_cells("A1:M1")
    ws.merge_cells("H3:L3")  # 就业人数减少类型 over its five columns
    for col in "ABCDEFGM":
        ws.merge_cells(f"{col}3:{col}4")
    path = tmp_path / "附表一_2013-06.xlsx"
    wb.save(path)
    code, out = run(["ingest", path, "--store", db], capsys)
    assert code == 0, out
    got = store.read_reports(db, ["2013-06"]).set_index("enterprise_id")
    assert got.loc["G4", "reduction_layoff"] == 11 and got.loc["G4", "reduction_other"] == 9


def planted():
    rows = [list(r) for r in ROWS]
    rows[0][9] = "-5"  # row 7: types −5 −6 ≠ fall 10 → reduction_sum
    rows[1][0] = "广州市乙集团公司"  # row 8: not in the panel → name_unmatched
    rows.append(
        ["广州庚食品有限公司", "173", "C", "50", "50", "0", "0", "", "", "", "", "", ""]
    )  # row 11: two panel firms → name_ambiguous
    rows.append(
        [
            "广州丁物流有限公司 ",
            "173",
            "G",
            "99999999999999999999",
            "980",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    )  # row 12: oversized number (and a duplicate of 10)
    total = list(TOTAL)
    total[3] = "2450"  # 总计 1000 off → file-level warning
    return form_rows(rows, total)


def test_planted_problems_quarantined_row_by_row_and_check_names_each(db, tmp_path, capsys):
    f = write_form(tmp_path / "附表一_广州_2013-06.csv", planted())
    code, out = run(["check", f, "--store", db, "--out", tmp_path / "out"], capsys)
    assert code == 1
    probs = pd.read_csv(
        tmp_path / "out" / "附表一_广州_2013-06_problems.csv", dtype=str, encoding="utf-8-sig"
    )
    found = {(r.rule, r.row, r.column) for r in probs.itertuples()}
    for want in [
        ("reduction_sum", "7", "reduction_*"),
        ("name_unmatched", "8", "name"),
        ("name_ambiguous", "11", "name"),
        ("number", "12", "baseline_employment"),
        ("duplicate", "10", "enterprise_id"),
        ("duplicate", "12", "enterprise_id"),
    ]:
        assert want in found, (want, found)
    total = probs[probs["rule"] == "total_row"]
    assert len(total) == 1 and "建档期期末就业人数" in total["message"].iloc[0]
    assert "第6行" in total["message"].iloc[0] and pd.isna(total["row"].iloc[0])
    unmatched = probs[probs["rule"] == "name_unmatched"]["message"].iloc[0]
    assert (
        "广州乙(集团)股份有限公司(G2)" in unmatched or "广州乙（集团）股份有限公司(G2)" in unmatched
    )

    before = store.table_counts(db)
    code, out = run(["ingest", f, "--store", db], capsys)
    assert code == 3, out
    files = store.read_table(db, "files").iloc[-1]
    assert files["rows"] == 6 and files["rows"] == files["loaded"] + files["quarantined"]
    assert files["quarantined"] == 5  # rows 7, 8, 10, 11, 12; row 9 (G3) loads
    q = store.read_table(db, "quarantine")
    assert sorted(q["row"].tolist()) == [7, 8, 10, 11, 12]
    assert store.read_reports(db, ["2013-06"])["enterprise_id"].tolist() == ["G3"]
    assert store.table_counts(db)["reports"] == before["reports"] + 1


def test_mapping_file_resolves_names(db, tmp_path, capsys):
    rows = [list(r) for r in ROWS]
    rows[1][0] = "广州市乙集团公司"
    f = write_form(tmp_path / "附表一_2013-06.csv", form_rows(rows))
    mapping = tmp_path / "对照表.csv"
    pd.DataFrame({"单位名称": ["广州市乙集团公司"], "统一社会信用代码": ["G2"]}).to_csv(
        mapping, index=False
    )
    code, out = run(["ingest", f, "--store", db, "--names", mapping], capsys)
    assert code == 0, out
    assert "G2" in store.read_reports(db, ["2013-06"])["enterprise_id"].tolist()


@pytest.mark.parametrize(
    "name, argv, word",
    [
        ("附表一_2013-07.csv", [], "标题 2013-06"),  # title vs file name
        ("附表一.csv", ["--period", "2013-07"], "--period 2013-07"),  # title vs --period
    ],
)
def test_period_disagreement_refused_store_unchanged(db, tmp_path, capsys, name, argv, word):
    f = write_form(tmp_path / name)
    before = store.table_counts(db)
    for cmd in (["check", f, "--store", db], ["ingest", f, "--store", db]):
        code, out = run([*cmd, *argv], capsys)
        assert code == 1 and "调查期不一致" in out and word in out, out
    assert store.table_counts(db) == before


def test_check_and_ingest_decide_period_alike(db, tmp_path, capsys):
    # canonical file with a period column of 2013-07 but the file name says 2013-06:
    d = pd.DataFrame(
        {
            "enterprise_id": ["G3"],
            "period": ["2013-07"],
            "baseline_employment": [100],
            "survey_employment": [100],
        }
    )
    f = tmp_path / "reports_2013-06.csv"
    d.to_csv(f, index=False)
    code, out = run(["check", f, "--store", db, "--out", tmp_path], capsys)
    assert code == 1 and "period_expected" in out
    code, out = run(["ingest", f, "--store", db], capsys)
    assert code == 3 and "period_expected" in out


def test_future_month_refused_unless_asked(db, tmp_path, capsys):
    rows = form_rows(title="监测城市就业人员变化情况表(2099年6月)")
    f = write_form(tmp_path / "附表一.csv", rows)
    before = store.table_counts(db)
    code, out = run(["ingest", f, "--store", db], capsys)
    assert code == 1 and "2099-06" in out and "--allow-future" in out
    assert store.table_counts(db) == before
    code, out = run(["ingest", f, "--store", db, "--allow-future"], capsys)
    assert code == 0, out


@pytest.mark.parametrize(
    "content, word",
    [
        (b"", "文件为空"),
        ("\n".join(",".join(r) for r in form_rows()[:5]).encode("gbk"), "没有数据行"),
    ],
)
def test_empty_and_header_only_files_are_errors(db, tmp_path, capsys, content, word):
    f = tmp_path / "附表一_2013-06.csv"
    f.write_bytes(content)
    before = store.table_counts(db)
    code, out = run(["ingest", f, "--store", db], capsys)
    assert code == 1 and word in out, out
    assert store.table_counts(db) == before


def test_mixed_encoding_named_with_line(db, tmp_path, capsys):
    lines = [",".join(r) for r in form_rows()]
    data = "\n".join(lines[:8]).encode("utf-8") + b"\n" + "\n".join(lines[8:]).encode("gbk")
    f = tmp_path / "附表一_2013-06.csv"
    f.write_bytes(data)
    code, out = run(["ingest", f, "--store", db], capsys)
    assert code == 1 and "编码混杂" in out and "第9行" in out, out


def test_formula_cells_without_values_are_named(db, tmp_path, capsys):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "建档期期末就业人数", "调查期期末就业人数", "增减人数"])
    ws.append(["G3", 100, 100, "=C2-B2"])  # openpyxl writes no cached value
    path = tmp_path / "reports_2013-06.xlsx"
    wb.save(path)
    code, out = run(["check", path, "--store", db, "--out", tmp_path], capsys)
    assert code == 1
    probs = pd.read_csv(tmp_path / "reports_2013-06_problems.csv", dtype=str, encoding="utf-8-sig")
    hit = probs[probs["rule"] == "formula_no_value"]
    assert hit[["row", "column"]].values.tolist() == [["2", "change"]]
    assert "=C2-B2" in hit["value"].iloc[0]


def test_oversized_number_is_a_row_error_and_other_files_still_load(db, tmp_path, capsys):
    bad = tmp_path / "reports_2013-05.csv"
    bad.write_text(
        "enterprise_id,baseline_employment,survey_employment\n"
        "G3,99999999999999999999,100\nG4,1000,1000\n",
        encoding="utf-8",
    )
    unreadable = tmp_path / "reports_2013-04.csv"
    unreadable.write_bytes(b"")
    good = write_form(tmp_path / "附表一_2013-06.csv")
    code, out = run(["ingest", bad, unreadable, good, "--store", db], capsys)
    assert code == 1, out  # one file could not be read; the others loaded
    assert "Traceback" not in out
    files = store.read_table(db, "files").set_index("file_name")
    assert files.loc["reports_2013-05.csv", ["rows", "loaded", "quarantined"]].tolist() == [2, 1, 1]
    assert files.loc["附表一_2013-06.csv", "loaded"] == 4
    qp = store.read_table(db, "quarantine_problems")
    hit = qp[(qp["rule"] == "number") & (qp["file_name"] == "reports_2013-05.csv")]
    assert hit[["row", "column"]].values.tolist() == [[2, "baseline_employment"]]


def test_store_locked_by_another_process_is_one_clear_message(db, tmp_path, capsys):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(30)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, out = run(
            ["ingest", write_form(tmp_path / "附表一_2013-06.csv"), "--store", db], capsys
        )
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    assert str(db) in out and "另一个进程占用" in out and "Traceback" not in out


def test_disk_full_mid_load_names_store_and_cause(db, tmp_path, capsys, monkeypatch):
    real = store._insert_quarantine

    def full(con, *a, **k):
        real(con, *a, **k)
        # What DuckDB does on ENOSPC: the transaction is gone, so a ROLLBACK would fail with
        # "cannot rollback - no transaction is active".
        con.execute("ROLLBACK")
        raise duckdb.IOException("Could not write file: No space left on device")

    monkeypatch.setattr(store, "_insert_quarantine", full)
    before = store.table_counts(db)
    code, out = run(["ingest", write_form(tmp_path / "附表一_2013-06.csv"), "--store", db], capsys)
    assert code == 1
    assert str(db) in out and "磁盘空间不足" in out and "no transaction" not in out, out
    monkeypatch.undo()
    assert store.table_counts(db) == before


def test_names_that_look_like_formulas_stay_text_in_problem_lists_and_tables(tmp_path, capsys):
    from openpyxl import load_workbook

    panel = PANEL.copy()
    panel.loc[2, "name"] = '=HYPERLINK("http://x","ABC")'
    db = tmp_path / "m.duckdb"
    store.load_panel(db, panel)
    rows = [list(r) for r in ROWS]
    rows[2][0] = panel.loc[2, "name"]  # matched: the same (odd) name
    rows[1][0] = "@SUM(1+1)"  # unmatched: goes to the problem list
    f = write_form(tmp_path / "附表一_2013-06.csv", form_rows(rows), encoding="utf-8")
    code, out = run(["check", f, "--store", db, "--out", tmp_path / "chk"], capsys)
    assert code == 1
    ws = load_workbook(tmp_path / "chk" / "附表一_2013-06_problems.xlsx").active
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not any(c.data_type == "f" for c in cells)
    assert any(c.value == "@SUM(1+1)" for c in cells)
    assert "'@SUM(1+1)" in (tmp_path / "chk" / "附表一_2013-06_problems.csv").read_text(
        encoding="utf-8-sig"
    )
    rows[1][0] = ROWS[1][0]
    f = write_form(tmp_path / "附表一_2013-06.csv", form_rows(rows), encoding="utf-8")
    code, out = run(["ingest", f, "--store", db], capsys)
    assert code == 0, out
    assert (
        main(
            [
                "tables",
                "--store",
                str(db),
                "--period",
                "2013-06",
                "--out",
                str(tmp_path / "tables"),
                "--network",
                "province",
            ]
        )
        == 0
    )
    wb = load_workbook(tmp_path / "tables" / "monthly_tables_province_2013-06.xlsx")
    cells = [
        c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
    ]
    assert not any(c.data_type == "f" for c in cells)
    assert any(c.value == panel.loc[2, "name"] for c in cells)
    table1 = next((tmp_path / "tables").glob("table1*.csv")).read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in table1
