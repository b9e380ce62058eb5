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
