"""The reader's table layer: Chinese labels and codes, number formats, official city order, notes,
the synthetic banner, no index column; HTML parsed back and checked cell by cell."""

from __future__ import annotations

import re

import pandas as pd

from samplekit import reference
from samplekit.tables import html, order_cities, show


def cells(page: str) -> tuple[list[str], list[list[str]]]:
    """(column labels, body rows) of a great_tables HTML table."""
    heads = re.findall(r'<th class="gt_col_heading[^>]*>(.*?)</th>', page, flags=re.S)
    body = re.search(r'<tbody class="gt_table_body">(.*?)</tbody>', page, flags=re.S).group(1)
    rows = [
        re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)
        for tr in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    ]
    return heads, rows


DF = pd.DataFrame(
    {
        "city": ["深圳", "全省", "广州", "云浮"],
        "units": [7_683_613.0, 12_000_000.0, 3_000.0, 45_123.0],
        "share": [0.355, 1.0, 0.2, 0.012],
        "size_class": ["large", "small", "micro", "medium"],
        "section": ["C", "F", "G", "C"],
        "rate": [1.23456, 2.5, None, -0.004],
    },
    index=[7, 3, 9, 1],
)  # a non-default index that must not be shown


def test_labels_formats_order_and_notes():
    page = html(
        show(
            DF,
            labels={"units": "企业数"},
            units={"units": "家"},
            percent=["share"],
            notes=["说明一"],
            source="企业名录",
            data_note="合成名录",
        )
    )
    heads, rows = cells(page)
    # No index column: one label per DataFrame column, Chinese, the unit appended.
    assert heads == ["城市", "企业数(家)", "share", "企业规模", "行业门类", "rate"]
    # Official order by division code (广州 440100 < 深圳 440300 < 云浮 445300), total last.
    assert [r[0] for r in rows] == ["广州", "深圳", "云浮", "全省"]
    assert [r[1] for r in rows] == ["3,000", "7,683,613", "45,123", "12,000,000"]
    assert [r[2] for r in rows] == ["20.0%", "35.5%", "1.2%", "100.0%"]
    assert [r[3] for r in rows] == ["微型", "大型", "中型", "小型"]
    assert rows[1][4] == "C 制造业" and rows[0][4] == "G 交通运输、仓储和邮政业"
    assert [r[5] for r in rows] == ["—", "1.23", "0.00", "2.50"]  # fixed decimals, blanks as —
    assert "e+" not in page and "e-0" not in page
    text = re.sub(r"<[^>]+>", "", page)
    assert "合成演示数据" in text
    assert "合成演示数据" not in re.sub(r"<[^>]+>", "", html(show(DF)))  # real data: no banner
    assert "注:说明一" in text and "资料来源:企业名录" in text


def test_same_table_same_html_and_index_kept_on_request():
    assert html(show(DF)) == html(show(DF.copy()))
    pivot = pd.DataFrame({"甲": [1.5, 2.0]}, index=pd.Index(["深圳", "广州"], name="city"))
    heads, rows = cells(html(show(pivot, index=True)))
    assert heads == ["城市", "甲"] and [r[0] for r in rows] == ["广州", "深圳"]


def test_attrs_holding_a_table_do_not_break_it():
    df = DF.copy()
    df.attrs["rules"] = pd.DataFrame({"rule": ["a"], "n": [1]})
    assert cells(html(show(df)))[1] == cells(html(show(DF)))[1]


def test_whole_floats_are_counts():
    df = pd.DataFrame({"city": ["广州", "深圳"], "layoffs": [11.0, None], "rate": [3.0, 2.5]})
    _, rows = cells(html(show(df)))
    assert [r[1] for r in rows] == ["11", "—"] and [r[2] for r in rows] == ["3.00", "2.50"]


def test_max_rows_says_what_was_left_out():
    df = pd.DataFrame({"city": ["广州"] * 30, "n": range(30)})
    page = html(show(df, max_rows=5))
    assert len(cells(page)[1]) == 5 and "共 30 行" in page


def test_city_table_code_column_orders_another_province():
    table = pd.DataFrame({"city": ["乙", "甲", "丙"], "code": ["330200", "330100", ""]})
    assert reference.city_order(["丙", "甲", "乙"], table=table) == ["甲", "乙", "丙"]
    # Without codes the city table's row order is the official order.
    bare = table.drop(columns="code")
    assert reference.city_order(["丙", "甲", "乙"], table=bare) == ["乙", "甲", "丙"]
    df = pd.DataFrame({"city": ["全省", "丙", "甲"], "v": [1, 2, 3]})
    assert order_cities(df, city_table=table)["city"].tolist() == ["甲", "丙", "全省"]


def test_shipped_codes_cover_the_demo_cities():
    demo = pd.read_csv("data/demo/guangdong_cities.csv")["city"]
    codes = reference.admin_division_codes()
    assert set(demo) == set(codes["city"]) and codes["code"].str.fullmatch(r"44\d{4}").all()
    assert reference.city_order(list(demo))[:3] == ["广州", "韶关", "深圳"]


def test_readable_and_calibration_summary_have_no_codes():
    df = pd.DataFrame(
        {
            "status": ["retained", "alarm"],
            "ownership": ["hmt", "state"],
            "flag": ["too_few_eligible", "x"],
            "ok": [True, False],
        }
    )
    out = reference.readable(df)
    assert out.to_dict("list") == {
        "status": ["保留", "报警"],
        "ownership": ["港澳台商投资", "国有"],
        "flag": ["可入样企业不足", "x"],
        "ok": ["是", "否"],
    }
    cal = pd.DataFrame(
        {
            "key": ["method", "margins", "converged", "g_min", "message"],
            "value": [
                "raking (logit, bounded)",
                "city × size_class : units",
                "true",
                "0.305219",
                "converged in 5 iterations",
            ],
        }
    )
    got = reference.calibration_summary(cal)
    assert got["项目"].tolist() == ["校准方法", "校准维度:总量", "是否收敛", "g 值最小"]
    assert got["数值"].tolist() == [
        "有界 raking(logit 距离)",
        "地市 × 企业规模 : 企业数",
        "是",
        "0.3052",
    ]


def test_monthly_quality_codes_are_named():
    df = pd.DataFrame(
        {
            "kind": ["reports", "city"],
            "layout": ["form", "canonical"],
            "rule": ["mass_layoff", "large_swing"],
        }
    )
    assert reference.readable(df).to_dict("list") == {
        "kind": ["企业月报表", "城市汇总表"],
        "layout": ["部颁表式", "标准格式"],
        "rule": ["规模减员", "变动幅度大"],
    }
