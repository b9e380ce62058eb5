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
        write_xlsx({"表": df}, tmp_path / name, headers={"a": "数值"}, titles={"表": "标题"},
                   about={"版本": "0.1"}, source="测试")
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
    raw = pd.read_csv(tmp_path / "a.csv", dtype=str, encoding="utf-8-sig",
                      keep_default_na=False)["name"].tolist()
    assert raw[:5] == ["'=1+2", "'+A1", "'-A1+1", "'@SUM(A1)", "'\tx"]
    assert raw[5:] == values[5:]  # numbers untouched
    assert read_table(tmp_path / "a.csv")["name"].tolist()[:4] == values[:4]  # round trip
    write_xlsx({"表": df}, tmp_path / "a.xlsx", titles={"表": "=标题"}, about={"=k": "=v"})
    wb = load_workbook(tmp_path / "a.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if c.value is not None]
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
