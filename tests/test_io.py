"""Readers and writers: encodings, byte-identical outputs, atomic writes."""

from __future__ import annotations

import pandas as pd
import pytest

from samplekit.errors import InputError
from samplekit.io import atomic_path, read_table, write_csv, write_xlsx


def test_read_utf8_bom_gbk(tmp_path):
    df = pd.DataFrame({"城市": ["广州", "深圳"], "代码": ["010", "020"]})
    for enc in ("utf-8", "utf-8-sig", "gbk"):
        path = tmp_path / f"{enc}.csv"
        df.to_csv(path, index=False, encoding=enc)
        got = read_table(path)
        assert got.columns.tolist() == ["城市", "代码"]
        assert got["代码"].tolist() == ["010", "020"]  # codes keep leading zeros


def test_unknown_type_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unknown file type"):
        (tmp_path / "a.json").write_text("{}")
        read_table(tmp_path / "a.json")
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.csv")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="bad.xlsx"):
        read_table(bad)


def test_outputs_are_byte_identical(tmp_path):
    df = pd.DataFrame({"a": [1.5, 2.25], "b": ["甲", "乙"]})
    write_csv(df, tmp_path / "1.csv")
    write_csv(df, tmp_path / "2.csv")
    assert (tmp_path / "1.csv").read_bytes() == (tmp_path / "2.csv").read_bytes()
    assert (tmp_path / "1.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    for name in ("1.xlsx", "2.xlsx"):
        write_xlsx(
            {"表": df},
            tmp_path / name,
            headers={"a": "数值"},
            titles={"表": "标题"},
            about={"版本": "0.1"},
            source="测试",
        )
    assert (tmp_path / "1.xlsx").read_bytes() == (tmp_path / "2.xlsx").read_bytes()
    back = pd.read_excel(tmp_path / "1.xlsx", sheet_name=None, header=None)
    assert list(back) == ["表", "说明"]
    assert back["表"].iloc[3].tolist() == ["数值", "b"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_formula_text_escaped_in_csv_and_kept_as_text_in_xlsx(tmp_path):
    from openpyxl import load_workbook

    from samplekit.io import formula_text

    values = ["=1+2", "+A1", "-A1+1", "@SUM(A1)", "\tx", "\rx", "-5", "+3.5", "-1e3", "普通"]
    assert [formula_text(v) for v in values] == [True] * 6 + [False] * 4
    values.remove("\rx")  # (a bare CR inside a cell is a CSV problem of its own)
    df = pd.DataFrame({"name": values, "n": range(len(values))})
    write_csv(df, tmp_path / "a.csv")
    raw = pd.read_csv(tmp_path / "a.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)[
        "name"
    ].tolist()
    assert raw[:5] == ["'=1+2", "'+A1", "'-A1+1", "'@SUM(A1)", "'\tx"]
    assert raw[5:] == values[5:]  # numbers untouched
    assert read_table(tmp_path / "a.csv")["name"].tolist()[:4] == values[:4]  # round trip
    write_xlsx({"表": df}, tmp_path / "a.xlsx", titles={"表": "=标题"}, about={"=k": "=v"})
    wb = load_workbook(tmp_path / "a.xlsx")
    cells = [
        c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
    ]
    assert not any(c.data_type == "f" for c in cells)
    assert {"=1+2", "=标题", "=k", "=v"} <= {c.value for c in cells}


def test_mixed_encoding_and_ragged_rows_named_with_line(tmp_path):
    mixed = tmp_path / "m.csv"
    mixed.write_bytes("城市,代码\n广州,1\n".encode() + "深圳,2\n".encode("gbk"))
    with pytest.raises(InputError, match="第3行"):
        read_table(mixed)
    gbk = tmp_path / "g.csv"
    gbk.write_bytes("城市,代码\n广州,1\n深圳,2\n".encode("gbk"))  # all GBK: fine
    assert read_table(gbk)["城市"].tolist() == ["广州", "深圳"]
    ragged = tmp_path / "r.csv"
    ragged.write_text("城市,代码\n广州,1\n深圳,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="第3行有3列"):
        read_table(ragged)
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="文件为空"):
        read_table(empty)


# ------------------------------------------------------------------ analyst-ready workbooks
def _workbook(tmp_path, **kw):
    from openpyxl import load_workbook

    df = pd.DataFrame(
        {
            "city": ["广州", "深圳"],
            "employees": [1234567, 89],
            "employment_share": [0.0719, 0.9281],
            "change_pct": [-3.7001473309282, 1.5],
            "prn": [0.123456789, 0.5],
            "cv": [0.10131, 0.2],
            "size_class": ["large", "micro"],
            "section": ["C", "G"],
            "monitored": [True, False],
            "weight": [5.0, 6.0],
            "note": ["甲", "乙"],
        }
    )
    write_xlsx(
        {"表": df},
        tmp_path / "w.xlsx",
        headers={"city": "城市", "employees": "从业人数"},
        titles={"表": "测试表"},
        source="测试来源",
        units="单位:人",
        about={"参数文件": str(tmp_path / "p.yaml"), "倾斜系数": {"广州": 1.05}},
        **kw,
    )
    return df, load_workbook(tmp_path / "w.xlsx")


def test_workbook_formats_layout_and_print_setup(tmp_path):
    df, wb = _workbook(tmp_path, formats={"weight": "dec1"})
    ws = wb["表"]
    assert [ws["A1"].value, ws["A2"].value, ws["A3"].value] == [
        "测试表",
        "单位:人",
        "来源:测试来源",
    ]
    head = [c.value for c in ws[4]]
    assert head[:2] == ["城市", "从业人数"]
    fmt = {h: ws.cell(row=5, column=j + 1).number_format for j, h in enumerate(head)}
    assert fmt["从业人数"] == "#,##0"  # integers with thousands separators
    assert fmt["employment_share"] == "0.0%"  # shares as percentages
    assert fmt["change_pct"] == "#,##0.00"  # already in per cent: two decimals
    assert fmt["prn"] == "0.000000" and fmt["cv"] == "0.000"
    assert fmt["weight"] == "#,##0.0"  # the explicit mapping wins
    assert ws.cell(row=5, column=2).value == 1234567  # values stay numbers
    # codes for readers: size class in Chinese, the section letter as its name, booleans 是/否
    row = dict(zip(head, [c.value for c in ws[5]], strict=True))
    assert row["size_class"] == "大型" and row["section"] == "制造业" and row["monitored"] == "是"
    assert ws.freeze_panes == "A5" and ws.auto_filter.ref == "A4:K6"
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9  # A4
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$4:$4"  # the header row repeats on every page
    assert "&P" in ws.oddFooter.center.text
    # a CJK column is twice as wide per character as a Latin one
    assert ws.column_dimensions["K"].width < ws.column_dimensions["B"].width
    about = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert about["参数文件"] == "p.yaml"  # no absolute machine path
    assert about["倾斜系数"] == "广州:1.05"
    assert "数据说明" not in about


def test_workbook_marks_synthetic_data(tmp_path):
    _, wb = _workbook(tmp_path, data_note="城市表中的人口为合成数据。")
    assert wb["表"]["A3"].value == "来源:测试来源(合成演示数据,非真实统计数据)"
    first = next(wb["说明"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert first[0] == "数据说明" and "城市表中的人口为合成数据。" in first[1]


def test_standard_about_names_inputs_relative_and_synthetic_columns():
    from samplekit.io import standard_about
    from samplekit.params import load_params

    info = standard_about(load_params("params/guangdong_2013.yaml"), extra={"表格": "测试"})
    assert list(info)[0] == "表格"
    assert info["参数文件"] == "params/guangdong_2013.yaml"
    assert "data/demo/guangdong_cities.csv" in info["输入文件校验(SHA-256)"]
    assert "年末人口(21个城市)" in info["合成数据列(城市表)"]
    assert not any(str(v).startswith("/") for v in info.values())
    assert info["samplekit 版本"]


def test_formula_scan_agrees_with_reading_the_sheet_twice(tmp_path):
    """The quick look for formula elements answers only "none here"; every workbook that has
    formulas (also text that merely looks like one) gets the full openpyxl comparison."""
    from openpyxl import Workbook, load_workbook

    from samplekit import io as skio

    def full(path):  # the two-read definition, written out independently
        f = load_workbook(path, read_only=True, data_only=False).worksheets[0]
        v = load_workbook(path, read_only=True, data_only=True).worksheets[0]
        return {
            (r, c): a
            for r, (rf, rv) in enumerate(
                zip(f.iter_rows(values_only=True), v.iter_rows(values_only=True), strict=False), 1
            )
            for c, (a, b) in enumerate(zip(rf, rv, strict=False), 1)
            if isinstance(a, str) and a.startswith("=") and b is None
        }

    cases = {
        "plain": [["id", "n"], ["a", 1], ["b", 2.5]],
        "text_like_formula": [["id", "n"], ["'=1+2", 1], ["=x", None]],
        "formula": [["id", "n"], ["a", 1], ["b", "=B2*2"]],
    }
    for name, rows in cases.items():
        wb = Workbook()
        ws = wb.active
        for row in rows:
            ws.append(row)
        if name == "text_like_formula":
            ws["A3"].data_type = "s"  # a text cell "=x", not a formula
        path = tmp_path / f"{name}.xlsx"
        wb.save(path)
        assert skio.xlsx_formulas_without_values(path) == full(path), name
    assert skio._has_formula_elements(tmp_path / "formula.xlsx")
    assert not skio._has_formula_elements(tmp_path / "plain.xlsx")
    assert skio.xlsx_formulas_without_values(tmp_path / "formula.xlsx") == {(3, 2): "=B2*2"}
