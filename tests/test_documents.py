"""Word documents: house style, numbered sections, formatted numbers, the synthetic marking,
per-city versions, reproducible bytes, the PDF message; the warning and allocation workbooks
as readers see them (no English codes)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from docx import Document as open_docx
from openpyxl import load_workbook
from test_allocation import make_cities, make_frame, small_settings

from samplekit import documents as D
from samplekit.errors import InputError
from samplekit.maps import Boundary

NOTE = "城市表中的从业人员为合成数据。"
#: Words that may stand alone in ASCII in a user-facing cell (abbreviations readers know).
ALLOWED_ASCII = {"GDP", "CV", "ETS", "ARIMA", "samplekit"}
CODE = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")


def squares(cities):
    """A fake boundary provider: city i is the unit square at (i mod 5, i div 5)."""

    def provide(names):
        out = {}
        for i, c in enumerate(sorted(names)):
            x, y = i % 5, i // 5
            ring = np.array([[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]], float)
            out[c] = Boundary(city=c, code=f"{440100 + 100 * i}", rings=(ring,))
        return out

    return provide


@pytest.fixture(scope="module")
def warn():
    from samplekit.demo import (
        HistorySettings,
        demo_city_indicators,
        simulate_history,
        synthetic_panel,
    )
    from samplekit.forecast import ForecastSettings
    from samplekit.params import load_params
    from samplekit.warning import WarningSettings, compute_warning, quarter_climate

    panel = synthetic_panel(2400, rng=5)
    reports, city = simulate_history(panel, HistorySettings(start="2011-01"), rng=11)
    n_h = panel.groupby(["city", "section"])["enterprise_id"].transform("size")
    sample = panel.assign(cell_n=n_h, cell_frame_units=n_h * 5, weight=5.0, calibrated_weight=5.0)
    cities = pd.DataFrame({"city": sorted(panel["city"].unique()), "employed": 100.0})
    table = demo_city_indicators(
        cities,
        province="广东省",
        start="2011-01",
        end="2013-12",
        shock={"cities": ["东莞", "深圳"], "start": "2013-07", "end": "2013-12"},
        city_reports=city,
        rng=3,
    )
    settings = dataclasses.replace(
        WarningSettings.from_params(load_params("params/guangdong_2013.yaml")), history_quarters=3
    )
    fs = ForecastSettings(models=("naive", "seasonal_naive"), origins=2, simulations=100, seed=1)
    res = compute_warning(
        reports, sample, table, settings, quarter="2013Q4", province="广东省", fsettings=fs
    )
    climate = quarter_climate(reports, sample, "2013Q4", province="广东省")
    return {"result": res, "climate": climate, "reports": reports, "panel": panel}


def texts(doc) -> list[str]:
    return [p.text for p in doc.paragraphs]


def table_cells(doc) -> list[str]:
    return [c.text for t in doc.tables for r in t.rows for c in r.cells]


def english_codes(cells) -> list[str]:
    return sorted(
        {
            c
            for c in cells
            if isinstance(c, str) and CODE.match(c.strip()) and c.strip() not in ALLOWED_ASCII
        }
    )


def footer_text(doc) -> str:
    return "".join(
        t.text or ""
        for t in doc.sections[0].footer._element.iter()
        if t.tag.endswith("}t") or t.tag.endswith("}instrText")
    )


def test_warning_report_structure_numbers_and_marking(warn, tmp_path):
    res = warn["result"]
    path = D.warning_report(
        res,
        climate=warn["climate"],
        boundaries=squares(None),
        data_note=NOTE,
        order=["深圳", "广州"],
    ).save(tmp_path / "w.docx")
    doc = open_docx(path)
    sec = doc.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)  # A4
    paras = texts(doc)
    assert paras[0] == "广东省人力资源和社会保障厅" and "失业预警监测报告" in paras
    assert "(2013年第四季度)" in paras
    assert any(p.startswith("数据说明:本文件使用合成演示数据") and NOTE in p for p in paras)
    foot = footer_text(doc)
    assert "合成演示数据" in foot and "PAGE" in foot  # banner and page number on every page
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads[:2] == ["一、综合预警等级", "二、核心指标与警戒线"]
    assert heads[-1].endswith("、主要结论")
    # table 1: the province first, then the official order given, then the rest by name
    t1 = doc.tables[0]
    cities = [r.cells[0].text for r in t1.rows[1:]]
    others = sorted(c for c in res.current_composite["city"] if c not in ("广东省", "深圳", "广州"))
    assert cities == ["广东省", "深圳", "广州", *others]
    # the net change rate table: values with two decimals, as computed from the levels
    lv = res.current_levels.set_index(["indicator", "city"])
    t2 = doc.tables[1]
    assert [c.text for c in t2.rows[0].cells][:2] == ["地区", "指标值"]
    for r in t2.rows[1:]:
        value = lv.loc[("net_change_rate", r.cells[0].text), "value"]
        assert r.cells[1].text == f"{value:,.2f}"
    # beside every estimate: its response rate and, below the small-domain threshold, a mark
    head = [c.text for c in t2.rows[0].cells]
    assert "报送率(%)" in head and "可靠性" in head
    n_col, mark_col = head.index("报送企业数"), head.index("可靠性")
    for r in t2.rows[1:]:
        n = int(r.cells[n_col].text.replace(",", "") or 0)
        small = 0 < n < res.settings.min_reporters
        assert r.cells[mark_col].text == ("样本偏少" if small else ""), r.cells[0].text
    captions = [p for p in paras if re.match(r"^表\d+  ", p)]
    assert [int(re.match(r"^表(\d+)", c).group(1)) for c in captions] == list(
        range(1, len(doc.tables) + 1)
    )  # numbered tables, one caption each
    assert sum(p.startswith("资料来源:") for p in paras) >= len(doc.tables)
    n_core = sum(i.core for i in res.settings.indicators)
    assert len(doc.inline_shapes) == 1 + n_core  # level map + one map per core indicator
    assert english_codes(table_cells(doc)) == []


def test_warning_report_real_data_has_no_banner_and_city_version(warn, tmp_path):
    res = warn["result"]
    doc = open_docx(D.warning_report(res, city="东莞").save(tmp_path / "dg.docx"))
    assert not any("合成演示数据" in p for p in texts(doc))
    assert "合成演示数据" not in footer_text(doc)
    assert "东莞" in texts(doc)  # the subtitle
    assert [r.cells[0].text for r in doc.tables[0].rows[1:]] == ["广东省", "东莞"]
    assert len(doc.inline_shapes) == 0  # no provider, no maps
    with pytest.raises(InputError, match="不在本季度预警结果中"):
        D.warning_report(res, city="杭州")
    paths = D.write_city_warning_reports(res, tmp_path / "cities", issuer="测试单位")
    assert sorted(p.name for p in paths) == sorted(
        f"warning_report_{c}.docx" for c in res.current_composite["city"] if c != "广东省"
    )


def test_documents_are_byte_reproducible(warn, tmp_path):
    res = warn["result"]
    for name in ("a", "b"):
        D.circular(res, climate=warn["climate"], boundaries=squares(None), data_note=NOTE).save(
            tmp_path / f"{name}.docx"
        )
    assert (tmp_path / "a.docx").read_bytes() == (tmp_path / "b.docx").read_bytes()


def test_circular_ranking_and_level_counts(warn, tmp_path):
    from samplekit.warning_report import ranking_table

    res = warn["result"]
    doc = open_docx(D.circular(res, climate=warn["climate"]).save(tmp_path / "c.docx"))
    ranking = ranking_table(res, warn["climate"])
    t = doc.tables[0]
    assert [c.text for c in t.rows[0].cells][:3] == ["排名", "地市", "综合等级"]
    assert [r.cells[1].text for r in t.rows[1:]] == list(ranking["city"])
    counts = res.current_composite.query("city != '广东省'")["composite_rank"]
    summary = next(p for p in texts(doc) if p.endswith("个。") and "参加排名地市" in p)
    for rank, lv in enumerate(res.settings.levels, start=1):
        assert f"{lv.code}级({lv.name}){int((counts == rank).sum())}个" in summary
    assert english_codes(table_cells(doc)) == []


def test_monthly_report_figures_and_city_versions(warn, tmp_path):
    from samplekit.monthly_tables import monthly_tables

    reports, panel = warn["reports"], warn["panel"]
    month = reports[reports["period"] == "2013-12"]
    tables = monthly_tables(month, panel, network="province")
    doc = open_docx(
        D.monthly_report(tables, period="2013-12", province="广东省", data_note=NOTE).save(
            tmp_path / "m.docx"
        )
    )
    assert "失业动态监测分析报告" in texts(doc) and "(2013年12月)" in texts(doc)
    overview = {r.cells[0].text: r.cells[1].text for r in doc.tables[0].rows[1:]}
    change = int(month["survey_employment"].sum() - month["baseline_employment"].sum())
    assert overview["监测企业数"] == f"{month['enterprise_id'].nunique():,}"
    assert overview["增减人数"] == f"{change:,}"
    assert english_codes(table_cells(doc)) == []
    paths = D.write_city_monthly_reports(
        reports, panel, tmp_path / "mc", period="2013-12", province="广东省"
    )
    assert len(paths) == panel["city"].nunique()
    one = open_docx(paths[0])
    city = paths[0].stem.rsplit("_", 1)[1]
    ids = panel.loc[panel["city"] == city, "enterprise_id"]
    n_city = month["enterprise_id"].isin(ids).sum()
    first = {r.cells[0].text: r.cells[1].text for r in one.tables[0].rows[1:]}
    assert first["监测企业数"] == f"{n_city:,}"
    assert any(p.startswith(f"2013年12月,{city}") for p in texts(one))


def test_design_report_and_allocation_workbook(tmp_path):
    from samplekit.allocation import allocate, write_allocation

    rng = np.random.default_rng(3)
    cities = make_cities(3, rng)
    result = allocate(cities, make_frame(cities, rng, units_per_cell=10), small_settings())
    doc = open_docx(
        D.design_report(result, boundaries=squares(None), province="广东省", data_note=NOTE).save(
            tmp_path / "d.docx"
        )
    )
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads[0] == "一、样本总量与分配方法" and "五、预期精度" in heads
    alloc = {r.cells[0].text: r.cells[5].text for r in doc.tables[0].rows[1:]}
    assert alloc == {
        c: f"{n:,}" for c, n in zip(result.city["city"], result.city["allocated"], strict=True)
    }
    assert len(doc.inline_shapes) == 1
    assert english_codes(table_cells(doc)) == []
    paths = write_allocation(result, tmp_path / "x")
    wb = load_workbook(paths["allocation_xlsx"])
    for ws in wb.worksheets:
        if ws.title == "说明":
            continue
        cells = [c.value for row in ws.iter_rows(min_row=4) for c in row]
        assert english_codes(cells) == [], ws.title
    about = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    rules = [k for k in about if re.fullmatch(r"规则\d+", k)]  # numbered, not by rule key
    assert rules == [f"规则{i}" for i in range(1, len(result.settings.rules) + 1)]
    assert result.rules_report["rule"].iloc[0] not in str(about)


def test_warning_workbook_has_no_english_codes(warn, tmp_path):
    from samplekit.warning_report import write_warning

    write_warning(warn["result"], tmp_path, figures=False, data_note=NOTE)
    wb = load_workbook(tmp_path / "warning.xlsx")
    assert wb.sheetnames == ["综合等级", "指标等级", "预测", "越线概率", "综合得分", "说明"]
    for ws in wb.worksheets[:-1]:
        assert ws["A3"].value.endswith("(合成演示数据,非真实统计数据)")
        cells = [c.value for row in ws.iter_rows(min_row=4) for c in row]
        assert english_codes(cells) == [], ws.title
        assert "job_loss_rate" not in cells and "IV" not in cells
    assert wb["说明"]["A2"].value == "数据说明" and NOTE in wb["说明"]["B2"].value


def test_pdf_without_libreoffice_is_a_chinese_message(warn, tmp_path, monkeypatch):
    path = D.warning_report(warn["result"]).save(tmp_path / "w.docx")
    monkeypatch.setattr(D.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="未找到 LibreOffice"):
        D.to_pdf(path)


@pytest.mark.parametrize(
    "value, fmt, text",
    [
        (1234567, "#,##0", "1,234,567"),
        (-3.7001473309282, "#,##0.00", "-3.70"),
        (0.0719, "0.0%", "7.2%"),
        (7683613.0, "#,##0", "7,683,613"),
        (float("nan"), "0.00", "—"),
        (True, None, "是"),
        ("东莞", None, "东莞"),
        (12, None, "12"),
    ],
)
def test_format_number(value, fmt, text):
    assert D.format_number(value, fmt) == text


def test_chinese_numerals_and_periods():
    assert [D.chinese_numeral(n) for n in (1, 9, 10, 11, 20, 23)] == [
        "一",
        "九",
        "十",
        "十一",
        "二十",
        "二十三",
    ]
    assert D.quarter_zh("2013Q4") == "2013年第四季度"
    assert D.month_zh("2013-02") == "2013年2月"


def test_city_summary_says_why_a_level_is_held(warn):
    """A level kept by the hysteresis rule has no driver this quarter: the city summary says
    it is held, never "触发指标:" with nothing after it."""
    res = warn["result"]
    cur = res.current_composite
    cur = cur[cur["city"] != res.province]
    assert ((cur["composite_rank"] > 0) & (cur["drivers"] == "")).any()  # the case exists
    for row in cur.itertuples():
        head = D._city_findings(res, row.city)[0]
        assert not head.endswith("触发指标:。")
        held = row.composite_rank > 0 and not row.drivers
        assert ("维持" in head) == held, (row.city, head)
        if row.composite_rank == 0:
            assert head.endswith("综合等级为无警。")


def test_write_quarterly_and_monthly_documents(warn, tmp_path):
    res = warn["result"]
    paths = D.write_quarterly_documents(
        res, tmp_path / "q", climate=warn["climate"], boundaries=squares(None), data_note=NOTE
    )
    names = sorted(p.relative_to(tmp_path / "q").as_posix() for p in paths)
    cities = sorted(c for c in res.current_composite["city"] if c != res.province)
    assert names == sorted(
        [
            "warning_report_2013Q4.docx",
            "circular_2013Q4.docx",
            *[f"cities/warning_report_{c}.docx" for c in cities],
        ]
    )
    for p in paths:
        doc = open_docx(p)
        assert "合成演示数据" in footer_text(doc) and english_codes(table_cells(doc)) == []
    reports, panel = warn["reports"], warn["panel"]
    from samplekit.monthly_tables import monthly_tables

    tables = monthly_tables(reports[reports["period"] == "2013-12"], panel, network="province")
    paths = D.write_monthly_documents(
        tables, tmp_path / "m", period="2013-12", province="广东省", reports=reports, panel=panel
    )
    assert paths[0].name == "monthly_report_2013-12.docx"
    assert len(paths) == 1 + panel["city"].nunique()
    # with the history, the report compares the month with the previous twelve
    assert any("此前12个月平均水平" in p for p in texts(open_docx(paths[0])))
    provider, why = D.map_provider("火星省")
    assert provider is None and why.startswith("未绘制地图:")


def _county_tables(settings):
    """County levels and forecast levels through the county functions: 深圳's 南山区 judged
    (−3.5 against the county lines −2.4/−3.2/−4.0/−4.8: the second line), 盐田区 too small,
    东莞's 莞城 judged normal."""
    from samplekit.counties import county_forecasts, county_levels

    est = pd.DataFrame(
        {
            "quarter": "2013Q4",
            "city": ["深圳", "深圳", "东莞"],
            "county": ["南山区", "盐田区", "莞城"],
            "indicator": "net_change_rate",
            "estimate": [-3.5, -9.0, 0.4],
            "se": 0.5,
            "ci_low": [-4.48, -10.0, -0.58],
            "ci_high": [-2.52, -8.0, 1.38],
            "n_reporters": [settings.min_reporters + 10, 3, settings.min_reporters],
            "small_domain": [False, True, False],
        }
    )
    lv = county_levels(est, settings, quarter="2013Q4")
    periods = [str(p) for p in pd.period_range("2011-01", "2013-12", freq="M")]
    monthly = pd.concat(
        [
            pd.DataFrame(
                {
                    "city": c,
                    "county": k,
                    "indicator": "net_change_rate",
                    "period": periods,
                    "value": v,
                    "n_reporters": n,
                    "small_domain": n < settings.min_reporters,
                }
            )
            for c, k, v, n in (
                ("深圳", "南山区", -3.5, settings.min_reporters + 10),
                ("深圳", "盐田区", -9.0, 3),
            )
        ],
        ignore_index=True,
    )
    from samplekit.forecast import ForecastSettings

    fs = ForecastSettings(models=("naive",), origins=2, simulations=100, spring_festival=False)
    _, fl = county_forecasts(monthly, settings, fs, end="2013-12")
    return lv, fl


def test_warning_report_has_a_county_section_with_small_domains_in_chinese(warn, tmp_path):
    from samplekit.warning_report import write_warning

    res = warn["result"]
    lv, fl = _county_tables(res.settings)
    doc = open_docx(
        D.warning_report(res, county_levels=lv, county_forecast=fl).save(tmp_path / "w.docx")
    )
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert "三、县(区)预警" in heads
    levels = [
        t
        for t in doc.tables
        if [c.text for c in t.rows[0].cells][:3] == ["城市", "县(区)", "指标值"]
    ]
    rows = {r.cells[1].text: [c.text for c in r.cells] for r in levels[0].rows[1:]}
    # levels: city, county, value, CI, line, level, reporters (one indicator: no indicator column)
    assert rows["南山区"][:3] == ["深圳", "南山区", "-3.50"] and rows["南山区"][5] == "-3.20"
    assert rows["南山区"][6].startswith("III级")
    assert rows["盐田区"][6] == "样本过少,不判断" and rows["莞城"][6] == "无警"
    forecast = [t for t in doc.tables if t.rows[0].cells[2].text == "预测期"]
    cells = {r.cells[1].text: [c.text for c in r.cells] for r in forecast[0].rows[1:]}
    # a flat −3.5 % a month compounds to 100·(0.965³ − 1) = −10.14 % a quarter: beyond −4.8, I级
    assert cells["南山区"][3] == f"{100 * (0.965**3 - 1):.2f}" == "-10.14"
    assert cells["南山区"][6].startswith("I级")
    assert cells["盐田区"][3:6] == ["—", "—", "—"] and cells["盐田区"][6] == "样本过少,不预测"
    assert english_codes(table_cells(doc)) == []
    # 东莞's version: its own county only; without county tables, no section at all
    dg = open_docx(
        D.warning_report(res, city="东莞", county_levels=lv, county_forecast=fl).save(
            tmp_path / "d.docx"
        )
    )
    county_rows = [r.cells[1].text for t in dg.tables for r in t.rows[1:]]
    assert "莞城" in county_rows and "南山区" not in county_rows
    plain = open_docx(D.warning_report(res).save(tmp_path / "p.docx"))
    assert not any("县(区)" in p.text for p in plain.paragraphs)
    # the workbook: two county sheets, Chinese throughout
    write_warning(res, tmp_path, figures=False, county_levels=lv, county_forecast=fl)
    wb = load_workbook(tmp_path / "warning.xlsx")
    assert wb.sheetnames[-3:] == ["县区等级", "县区预测", "说明"]
    for name in ("县区等级", "县区预测"):
        values = [c.value for row in wb[name].iter_rows(min_row=4) for c in row]
        assert english_codes(values) == [], name
        assert "样本过少" in values
