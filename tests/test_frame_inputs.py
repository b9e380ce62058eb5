"""Registers as they come: every registration code of 国统字〔1998〕200号, names and
market-regulation codes in place of codes, id check characters, magnitude warnings, file-line
row numbers, header below title rows, wrong delimiter, mixed encoding, empty files, formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.cli import main
from samplekit.errors import InputError
from samplekit.frame import check_frame

CITIES = ["广州", "深圳", "东莞"]
COLUMNS = [
    "enterprise_id",
    "name",
    "city",
    "section",
    "division",
    "registration_type",
    "employees",
    "revenue",
]
# A published example of a valid 统一社会信用代码 and one with its check character changed.
VALID_USCC, BAD_USCC = "91350100M000100Y43", "91350100M000100Y44"


def rows_with(types):
    return [
        [f"E{i:03d}", f"企业{i}", "广州", "C", "39", t, "350", "2500"] for i, t in enumerate(types)
    ]


def write(tmp_path, rows, name="register.csv", columns=COLUMNS, encoding="utf-8", above=()):
    path = tmp_path / name
    body = pd.DataFrame(rows, columns=columns).to_csv(index=False, lineterminator="\n")
    path.write_bytes(("".join(line + "\n" for line in above) + body).encode(encoding))
    return path


def test_private_firms_with_171_to_174_pass_frame_check(tmp_path, capsys):
    path = write(tmp_path, rows_with(["171", "172", "173", "174", "141", "149", "151", "159"]))
    code = main(
        [
            "frame",
            "check",
            str(path),
            "--params",
            "params/guangdong_2013.yaml",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0, capsys.readouterr().out
    got = pd.read_csv(tmp_path / "out" / "frame_classified.csv", dtype=str, encoding="utf-8-sig")
    assert got["registration_type"].tolist() == [
        "171",
        "172",
        "173",
        "174",
        "141",
        "149",
        "151",
        "159",
    ]
    # subtypes take their parent's group (17x, 14x private), 151 国有独资公司 is state
    assert got["ownership"].tolist() == ["private"] * 6 + ["state", "private"]


def test_names_and_market_regulation_codes_accepted_in_place_of_codes(tmp_path):
    path = write(
        tmp_path,
        rows_with(
            [
                "私营有限责任公司",
                "外资企业",
                "1130",
                "1110",
                "1122",
                "中外合资经营企业",
                "港、澳、台商独资经营企业",
            ]
        ),
    )
    result = check_frame(path, cities=CITIES)
    assert result.ok, result.problems
    assert result.frame["registration_type"].tolist() == [
        "173",
        "330",
        "173",
        "151",
        "310",
        "310",
        "230",
    ]


def test_unmapped_and_unknown_codes_are_named(tmp_path):
    path = write(tmp_path, rows_with(["173", "1150", "9999", "175"]))
    result = check_frame(path, cities=CITIES)
    got = {(r.row, r.rule) for r in result.problems.itertuples()}
    assert {
        (3, "unmapped_enterprise_type"),
        (4, "unknown_registration_type"),
        (5, "unknown_registration_type"),
    } <= got
    assert (2, "unknown_registration_type") not in got


def test_check_character_warning_with_row(tmp_path):
    rows = rows_with(["173", "173", "173", "173"])
    rows[0][0], rows[1][0] = VALID_USCC, BAD_USCC
    rows[2][0], rows[3][0] = "D2143569-X", "D2143569-1"  # 9-character organisation codes
    result = check_frame(write(tmp_path, rows), cities=CITIES)
    assert result.ok
    hit = result.problems[result.problems["rule"] == "id_check"]
    assert hit["row"].tolist() == [3, 5] and (hit["severity"] == "warning").all()


def test_revenue_in_yuan_under_wan_yuan_header_is_flagged(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    emp = rng.integers(20, 800, n)
    revenue = np.round(emp * rng.uniform(20, 80, n), 1)  # 20–80 万元 a head: manufacturing
    in_yuan = rng.choice(n, 25, replace=False)
    revenue[in_yuan] *= 10_000
    rows = [
        [f"E{i:03d}", f"企业{i}", "广州", "C", "39", "173", str(emp[i]), str(revenue[i])]
        for i in range(n)
    ]
    result = check_frame(write(tmp_path, rows), cities=CITIES)
    hit = result.problems[result.problems["rule"] == "magnitude"]
    assert sorted(hit["row"].tolist()) == sorted((in_yuan + 2).tolist())
    assert (hit["column"] == "revenue").all() and (hit["severity"] == "warning").all()


def test_header_below_title_rows_and_blank_lines_give_file_lines(tmp_path):
    rows = rows_with(["173", "173", "999"])
    path = tmp_path / "register.csv"
    head = "广州市企业名录\n导出日期:2013-06-30\n" + ",".join(COLUMNS) + "\n"
    body = "\n".join(",".join(r) for r in rows[:2]) + "\n\n\n" + ",".join(rows[2]) + "\n"
    path.write_text(head + body, encoding="utf-8")
    result = check_frame(path, cities=CITIES)
    hit = result.problems[result.problems["rule"] == "unknown_registration_type"]
    assert hit["row"].tolist() == [8]  # title 1–2, header 3, rows 4–5, blank 6–7, row 8


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.write_bytes(b""), ["文件为空"]),
        (lambda p: p.write_text(",".join(COLUMNS) + "\n", encoding="utf-8"), ["只有表头"]),
        (
            lambda p: p.write_text(
                ";".join(COLUMNS) + "\n" + ";".join(rows_with(["173"])[0]) + "\n", encoding="utf-8"
            ),
            ["第1行", "分号"],
        ),
        (
            lambda p: p.write_bytes(
                (",".join(COLUMNS) + "\n" + ",".join(rows_with(["173"])[0]) + "\n").encode("utf-8")
                + ",".join(rows_with(["173"])[0]).replace("企业0", "东莞丙公司").encode("gbk")
                + b"\n"
            ),
            ["编码混杂", "第3行"],
        ),
        (
            lambda p: p.write_text(
                ",".join(COLUMNS) + "\n" + ",".join(rows_with(["173"])[0]) + ",多出一格\n",
                encoding="utf-8",
            ),
            ["第2行", "9列"],
        ),
    ],
)
def test_structural_problems_are_named_with_the_line(tmp_path, capsys, make, words):
    path = tmp_path / "register.csv"
    make(path)
    with pytest.raises(InputError) as info:
        check_frame(path, cities=CITIES)
    for w in words:
        assert w in str(info.value), str(info.value)
    assert (
        main(
            [
                "frame",
                "check",
                str(path),
                "--params",
                "params/guangdong_2013.yaml",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 1
    )
    assert "Traceback" not in capsys.readouterr().err


def test_oversized_numbers_are_errors_not_overflows(tmp_path):
    rows = rows_with(["173", "173"])
    rows[1][6] = "99999999999999999999"
    result = check_frame(write(tmp_path, rows), cities=CITIES)
    hit = result.problems[result.problems["rule"] == "out_of_range"]
    assert hit[["row", "column"]].values.tolist() == [[3, "employees"]]


def test_formula_like_names_written_as_text(tmp_path):
    from openpyxl import load_workbook

    rows = rows_with(["173", "173", "173"])
    rows[0][1] = '=HYPERLINK("http://x","点我")'
    rows[2][1] = "+cmd|' /C calc'!A0"
    rows[1][0] = rows[2][0] = "=1+2"  # a duplicated id that looks like a formula
    out = tmp_path / "out"
    assert (
        main(
            [
                "frame",
                "check",
                str(write(tmp_path, rows)),
                "--params",
                "params/guangdong_2013.yaml",
                "--out",
                str(out),
            ]
        )
        == 1
    )
    ws = load_workbook(out / "problems.xlsx").active
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert [c.data_type for c in cells if c.value == "=1+2"] == ["s", "s"]
    assert not any(c.data_type == "f" for c in cells)
    assert "'=1+2" in (out / "problems.csv").read_text(encoding="utf-8-sig")
    rows[1][0], rows[2][0] = "E001", "E002"
    assert (
        main(
            [
                "frame",
                "check",
                str(write(tmp_path, rows)),
                "--params",
                "params/guangdong_2013.yaml",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = (out / "frame_classified.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'+cmd" in text
    frame = pd.read_parquet(out / "frame_classified.parquet")
    assert frame["name"].iloc[0] == rows[0][1]  # the data keep the name as written


def test_formula_cells_without_values_in_a_register_are_named(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["企业名录"])
    ws.append(COLUMNS)
    for r in rows_with(["173", "173"]):
        ws.append(r)
    ws["H4"] = "=G4*10"  # revenue of the second enterprise: a formula never calculated
    path = tmp_path / "register.xlsx"
    wb.save(path)
    result = check_frame(path, cities=CITIES)
    hit = result.problems[result.problems["rule"] == "formula_no_value"]
    assert hit[["row", "column", "value"]].values.tolist() == [[4, "revenue", "=G4*10"]]
    assert result.frame is None
