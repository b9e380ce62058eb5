"""The register loader: every kind of problem, all reported; encodings; Chinese headers; CLI."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from samplekit.cli import main
from samplekit.errors import SamplekitWarning, ValidationError
from samplekit.frame import check_frame, load_frame

CITIES = ["广州", "深圳", "东莞"]
DEMO_PARAMS = "params/guangdong_2013.yaml"  # a params file whose city table has CITIES
GOOD = [
    # enterprise_id, name, city, section, division, registration_type, employees, revenue, assets
    ("91440100A00000001Q", "广州市甲制造有限公司", "广州", "C", "39", "170", "350", "2500", ""),
    ("91440300A000000026", "深圳市乙贸易有限公司", "深圳", "F", "51", "330", "25", "6000", ""),
    ("91441900A00000003L", "东莞市丙建设有限公司", "东莞", "E", "48", "110", "80", "7000", "6000"),
]
COLUMNS = [
    "enterprise_id",
    "name",
    "city",
    "section",
    "division",
    "registration_type",
    "employees",
    "revenue",
    "assets",
]


def write(tmp_path, rows, name="register.csv", columns=COLUMNS, encoding="utf-8"):
    path = tmp_path / name
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False, encoding=encoding)
    return path


def test_good_file_loads_and_classifies(tmp_path):
    frame = load_frame(write(tmp_path, GOOD), cities=CITIES)
    assert frame["size_class"].tolist() == ["medium", "medium", "medium"]
    assert frame["ownership"].tolist() == ["private", "foreign", "state"]
    assert frame["status"].eq("active").all() and not frame["in_panel"].any()
    assert frame["employees"].dtype == "int64"


@pytest.mark.parametrize(
    "column, bad, rule",
    [
        ("city", "北京", "unknown_city"),
        ("section", "Z", "unknown_section"),
        ("division", "13", "invalid_division"),  # 13 is manufacturing, not wholesale (row 2: F)
        ("division", "5x", "invalid_division"),
        ("registration_type", "999", "unknown_registration_type"),
        ("employees", "abc", "not_numeric"),
        ("employees", "-3", "negative"),
        ("employees", "2.5", "not_integer"),
        ("revenue", "", "required"),
        ("name", "", "required"),
        ("enterprise_id", "91440100A00000001Q", "duplicate_id"),
    ],
)
def test_each_problem_kind_is_reported(tmp_path, column, bad, rule):
    rows = [list(r) for r in GOOD]
    rows[1][COLUMNS.index(column)] = bad
    result = check_frame(write(tmp_path, rows), cities=CITIES)
    assert not result.ok and result.frame is None
    hits = result.problems[result.problems["rule"] == rule]
    assert len(hits) >= 1
    assert 3 in hits["row"].tolist()  # spreadsheet row of the second data row
    assert (hits["column"] == column).all()
    assert (hits["file"] == "register.csv").all()


def test_all_problems_reported_not_just_the_first(tmp_path):
    rows = [list(r) for r in GOOD]
    rows[0][COLUMNS.index("section")] = "Z"
    rows[1][COLUMNS.index("employees")] = "x"
    rows[2][COLUMNS.index("city")] = "上海"
    rows[2][COLUMNS.index("registration_type")] = "555"
    result = check_frame(write(tmp_path, rows), cities=CITIES)
    got = set(zip(result.problems["row"], result.problems["rule"], strict=True))
    assert {
        (2, "unknown_section"),
        (3, "not_numeric"),
        (4, "unknown_city"),
        (4, "unknown_registration_type"),
    } <= got
    with pytest.raises(ValidationError) as info:
        load_frame(write(tmp_path, rows), cities=CITIES)
    assert len(info.value.problems) == len(result.problems)
    assert "nothing was loaded" in str(info.value)


def test_missing_required_column(tmp_path):
    cols = [c for c in COLUMNS if c != "revenue"]
    rows = [[v for c, v in zip(COLUMNS, r, strict=True) if c != "revenue"] for r in GOOD]
    result = check_frame(write(tmp_path, rows, columns=cols), cities=CITIES)
    assert result.problems["rule"].tolist() == ["missing_column"]
    assert "营业收入" in result.problems["message"].iloc[0]


def test_gbk_file_with_chinese_headers(tmp_path):
    zh = [
        "企业代码",
        "企业名称",
        "城市",
        "行业门类",
        "行业大类",
        "登记注册类型",
        "从业人数",
        "营业收入",
        "资产总额",
    ]
    path = write(tmp_path, GOOD, name="register_gbk.csv", columns=zh, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")
    frame = load_frame(path, cities=CITIES)
    assert frame["name"].iloc[0] == "广州市甲制造有限公司"
    assert frame["size_class"].tolist() == ["medium", "medium", "medium"]


def test_bom_xlsx_and_parquet_agree(tmp_path):
    df = pd.DataFrame(GOOD, columns=COLUMNS)
    df.to_csv(tmp_path / "bom.csv", index=False, encoding="utf-8-sig")
    df.to_excel(tmp_path / "r.xlsx", index=False)
    df.to_parquet(tmp_path / "r.parquet", index=False)
    frames = [load_frame(tmp_path / n, cities=CITIES) for n in ("bom.csv", "r.xlsx", "r.parquet")]
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other)


def test_status_and_panel_columns(tmp_path):
    cols = [*COLUMNS, "status", "in_panel", "export_share"]
    rows = [
        [*GOOD[0], "关闭", "是", "0.5"],
        [*GOOD[1], "active", "false", ""],
        [*GOOD[2], "停业", "1", "0"],
    ]
    frame = load_frame(write(tmp_path, rows, columns=cols), cities=CITIES)
    assert frame["status"].tolist() == ["closed", "active", "suspended"]
    assert frame["in_panel"].tolist() == [True, False, True]
    rows[1][cols.index("status")] = "倒闭了"
    rows[2][cols.index("export_share")] = "35"
    result = check_frame(write(tmp_path, rows, columns=cols), cities=CITIES)
    assert set(result.problems["rule"]) == {"unknown_status", "out_of_range"}


def test_missing_division_warns_with_default_group(tmp_path):
    rows = [list(r) for r in GOOD]
    rows[1][COLUMNS.index("division")] = ""
    path = write(tmp_path, rows)
    with pytest.warns(SamplekitWarning, match="division_missing"):
        frame = load_frame(path, cities=CITIES)
    assert len(frame) == 3


def test_cli_frame_check_exit_codes_and_outputs(tmp_path, capsys):
    good = write(tmp_path, GOOD)
    out = tmp_path / "out"
    assert main(["frame", "check", str(good), "--params", DEMO_PARAMS, "--out", str(out)]) == 0
    classified = pd.read_csv(out / "frame_classified.csv", encoding="utf-8-sig")
    assert {"size_class", "ownership", "sector"} <= set(classified.columns)
    rows = [list(r) for r in GOOD]
    rows[0][COLUMNS.index("section")] = "Z"
    bad_out = tmp_path / "bad"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(
            [
                "frame",
                "check",
                str(write(tmp_path, rows, name="bad.csv")),
                "--params",
                DEMO_PARAMS,
                "--out",
                str(bad_out),
            ]
        )
    assert code == 1
    problems = pd.read_csv(bad_out / "problems.csv", encoding="utf-8-sig")
    assert problems["rule"].tolist() == ["unknown_section"]
    assert (bad_out / "problems.xlsx").exists()
    assert not (bad_out / "frame_classified.csv").exists()
    assert "unknown_section" in capsys.readouterr().out


def test_cli_unreadable_file(tmp_path, capsys):
    path = tmp_path / "register.txt.gz"
    path.write_bytes(b"\x00\x01")
    assert main(["frame", "check", str(path), "--params", DEMO_PARAMS, "--out", str(tmp_path)]) == 1
    assert "register.txt.gz" in capsys.readouterr().err


def test_cli_frame_check_refuses_without_params(tmp_path, capsys):
    """No silent fallback to the demo province's cities: the city table must be named."""
    assert main(["frame", "check", str(write(tmp_path, GOOD)), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "--params" in err and "samplekit init" in err
    assert not (tmp_path / "problems.csv").exists()


def test_city_with_suffix_gets_the_table_spelling(tmp_path):
    """杭州市 for 杭州: the message names the spelling of the city table, row by row."""
    rows = [list(r) for r in GOOD]
    rows[1][COLUMNS.index("city")] = "深圳市"
    rows[2][COLUMNS.index("city")] = "北京"
    result = check_frame(write(tmp_path, rows), cities=CITIES)
    hits = result.problems[result.problems["rule"] == "unknown_city"].set_index("row")
    assert sorted(hits.index) == [3, 4]
    assert "“深圳”" in hits.loc[3, "message"] and "深圳市" in hits.loc[3, "message"]
    assert (
        "深圳”,请" not in hits.loc[4, "message"] and "广州、深圳、东莞" in hits.loc[4, "message"]
    )  # division-code order


@pytest.mark.parametrize(
    "written, code",
    [("民营企业", "170"), ("中外合资企业", "310"), ("外资", "330"), ("某某有限公司", "159")],
)
def test_registration_type_names_get_their_code(tmp_path, written, code):
    rows = [list(r) for r in GOOD]
    rows[0][COLUMNS.index("registration_type")] = written
    result = check_frame(write(tmp_path, rows), cities=CITIES)
    hits = result.problems[result.problems["rule"] == "unknown_registration_type"]
    assert hits["row"].tolist() == [2]
    assert code in hits["message"].iloc[0]


def test_padded_cells_are_stripped(tmp_path):
    rows = [list(r) for r in GOOD]
    rows[0][COLUMNS.index("city")] = " 广州 "
    rows[1][COLUMNS.index("section")] = "F "
    rows[2][COLUMNS.index("enterprise_id")] = " 91441900A00000003L"
    frame = load_frame(write(tmp_path, rows), cities=CITIES)
    assert frame["city"].tolist() == ["广州", "深圳", "东莞"]
    assert frame["section"].tolist() == ["C", "F", "E"]
    assert frame["enterprise_id"].iloc[2] == "91441900A00000003L"
