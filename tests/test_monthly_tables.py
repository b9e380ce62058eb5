"""附表一/二/三 and the lists: hand-computed totals and the form's column relationships."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit import store
from samplekit.demo import HistorySettings, build_demo_store, individual_units, synthetic_panel
from samplekit.monthly_tables import (
    check_identities,
    main_reasons,
    mass_layoffs,
    monthly_tables,
    reason_distribution,
    table1,
    table2,
    table3,
    top_industries,
    write_monthly_tables,
)

PANEL = pd.DataFrame(
    {
        "enterprise_id": ["A", "B", "C", "D", "P"],
        "name": ["甲厂", "乙厂", "丙店", "丁司", "个体户"],
        "city": ["东莞", "东莞", "深圳", "深圳", "深圳"],
        "section": ["C", "C", "F", "C", "H"],
        "registration_type": ["170", "330", "170", "110", ""],
        "individual": [False, False, False, False, True],
    }
)


def tiny() -> pd.DataFrame:
    """Hand-made month: A −150 (layoff 120, other 30), B +10, C −5 (other), D 0, P −2."""
    return pd.DataFrame(
        {
            "enterprise_id": ["A", "B", "C", "D", "P"],
            "period": "2013-12",
            "baseline_employment": [1000, 90, 40, 300, 12],
            "survey_employment": [850, 100, 35, 300, 10],
            "change": [-150, 10, -5, 0, -2],
            "change_pct": [-15.0, 11.1, -12.5, 0.0, -16.7],
            "reduction_closure": [0, 0, 0, 0, 0],
            "reduction_suspension": [0, 0, 0, 0, 0],
            "reduction_layoff": [120, 0, 0, 0, 0],
            "reduction_relocation": [0, 0, 0, 0, 0],
            "reduction_other": [30, 0, 5, 0, 2],
            "reason_1": [4, pd.NA, 6, pd.NA, 10],
            "reason_2": [9, pd.NA, pd.NA, pd.NA, pd.NA],
            "reason_3": [pd.NA] * 5,
            "remark": [pd.NA] * 5,
        }
    ).astype({f"reason_{k}": "Int64" for k in (1, 2, 3)})


def test_table1_hand_totals():
    t1 = table1(tiny(), PANEL, network="province")
    assert t1["city"].tolist() == ["东莞", "东莞", "东莞", "深圳", "深圳", "深圳"]
    tot = t1[t1["seq"] == "总计"].set_index("city")
    assert tot.loc["东莞", "baseline_employment"] == 1090
    assert tot.loc["东莞", "change"] == -140
    assert tot.loc["东莞", "change_pct"] == pytest.approx(-12.8)  # −140/1090 = −12.84 %
    assert tot.loc["东莞", "reduction_layoff"] == -120  # the form's minus sign
    assert tot.loc["深圳", "reduction_other"] == -5  # individual P is not in 附表一
    assert tot.loc["东莞", "reasons"] == "4、9"
    a = t1[t1["enterprise_id"] == "A"].iloc[0]
    assert a["registration_type_name"] == "私营企业" and a["section_name"] == "制造业"
    assert check_identities(
        t1, table2(tiny(), PANEL, network="province"), table3(tiny(), PANEL, network="province")
    ).empty


def test_table2_hand_totals():
    t2 = table2(tiny(), PANEL, network="province").set_index(["level", "city", "section"])
    total = t2.loc[("total", "", "")]
    assert (total["enterprises"], total["enterprises_reduced"]) == (4, 2)
    assert (total["baseline_employment"], total["survey_employment"]) == (1430, 1285)
    assert total["change"] == -145 and total["change_pct"] == pytest.approx(-10.1)
    assert (total["layoff_enterprises"], total["layoff_persons"]) == (1, -120)
    assert (total["other_enterprises"], total["other_persons"]) == (2, -35)
    assert total["reduced_persons"] == -155  # falls of A and C; B's growth is netted in change
    c = t2.loc[("industry", "", "C")]
    assert (c["enterprises"], c["baseline_employment"], c["change"]) == (3, 1390, -140)
    top = top_industries(table2(tiny(), PANEL, network="province"))
    assert top["section"].tolist() == ["C", "F"] and top["persons_reduced"].tolist() == [150, 5]


def test_table3_individual_organisations():
    t3 = table3(tiny(), PANEL, network="province")
    assert t3["level"].tolist() == ["total", "city", "city_industry"]
    assert t3["change"].tolist() == [-2, -2, -2]
    assert t3["change_pct"].iloc[0] == pytest.approx(-16.7)
    assert table3(tiny(), PANEL.assign(individual=False), network="province").empty


def test_mass_layoffs_thresholds_by_hand():
    ml = mass_layoffs(tiny(), PANEL, network="province")
    # A: 150 people (15 %) both; C: 5 of 40 = 12.5 % share; P: 2 of 12 = 16.7 % share
    assert ml["enterprise_id"].tolist() == ["A", "C", "P"]
    assert ml["criterion"].tolist() == ["both", "share", "share"]
    assert ml["main_type"].iloc[0] == "经济性裁员"
    assert mass_layoffs(tiny(), PANEL, network="province", min_persons=100, min_share=0.5)[
        "enterprise_id"
    ].tolist() == ["A"]
    assert mass_layoffs(tiny(), PANEL, network="province", min_persons=200, min_share=0.13)[
        "enterprise_id"
    ].tolist() == ["A", "P"]


def test_reason_distribution_and_main_reasons():
    rd = reason_distribution(tiny()).set_index("code")
    assert rd.loc[4, "enterprises_citing"] == 1 and rd.loc[4, "persons_first"] == 150
    assert rd.loc[9, "enterprises_first"] == 0 and rd.loc[9, "enterprises_citing"] == 1
    assert rd["enterprises_first"].sum() == 3  # A, C, P fell, each with a first reason
    g = tiny().assign(fall=[150, 0, 5, 0, 2])
    # scores: 4 → 450, 9 → 300, 6 → 15, 10 → 6
    assert main_reasons(g) == "4、9、6"


def test_check_identities_catches_a_broken_total():
    t1, t2, t3 = (
        table1(tiny(), PANEL, network="province"),
        table2(tiny(), PANEL, network="province"),
        table3(tiny(), PANEL, network="province"),
    )
    broken = t1.copy()
    broken.loc[broken["seq"] == "总计", "survey_employment"] += 1
    bad = check_identities(broken, t2, t3)
    assert len(bad) and "Σ rows" in " ".join(bad["check"])
    t2b = t2.copy()
    t2b.loc[0, "layoff_persons"] -= 1
    assert not check_identities(t1, t2b, t3).empty


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    panel = synthetic_panel(500, cities=("东莞", "深圳", "广州", "汕头"), rng=21)
    panel = pd.concat(
        [panel, individual_units(panel, 8, np.random.default_rng(2))], ignore_index=True
    )
    path = build_demo_store(
        panel,
        tmp_path_factory.mktemp("demo"),
        settings=HistorySettings(start="2013-09", end="2013-12", seed=9),
    )
    return path


def test_identities_hold_on_the_demo_history_and_match_a_hand_sum(demo):
    panel = store.read_panel(demo)
    for period in store.store_periods(demo):
        reports = store.read_reports(demo, [period])
        t = monthly_tables(reports, panel, network="province")
        assert check_identities(t["table1"], t["table2"], t["table3"]).empty, period
        # independent: province total = plain sums over non-individual enterprises
        firms = reports.merge(panel[["enterprise_id", "individual"]], on="enterprise_id")
        firms = firms[~firms["individual"]]
        total = t["table2"].iloc[0]
        assert total["baseline_employment"] == firms["baseline_employment"].sum()
        assert total["survey_employment"] == firms["survey_employment"].sum()
        assert total["layoff_persons"] == -firms["reduction_layoff"].sum()
        assert total["enterprises_reduced"] == (firms["change"] < 0).sum()
        ml = t["mass_layoffs"]
        fall = -firms["change"].clip(upper=0)
        want = ((fall >= 100) | (fall >= 0.1 * firms["baseline_employment"])) & (fall > 0)
        assert len(ml[~ml["enterprise_id"].str.startswith("IND")]) == int(want.sum())
        assert not t["table3"].empty


def test_write_monthly_tables_files(demo, tmp_path):
    paths = write_monthly_tables(demo, "2013-12", tmp_path, network="province")
    names = sorted(p.name for p in paths)
    assert (
        "monthly_tables_province_2013-12.xlsx" in names and "table2_province_2013-12.csv" in names
    )
    t2 = pd.read_csv(tmp_path / "table2_province_2013-12.csv", encoding="utf-8-sig")
    assert t2["level"].iloc[0] == "总计"
    xl = pd.ExcelFile(tmp_path / "monthly_tables_province_2013-12.xlsx")
    assert {"附表一", "附表二", "附表三", "减员前5位行业", "说明"} <= set(xl.sheet_names)
    head = pd.read_excel(xl, "附表二", header=3).columns
    assert "其中:就业人数减少企业个数" in head and "经济性裁员:减少人数" in head
    again = write_monthly_tables(demo, "2013-12", tmp_path / "again", network="province")
    for a, b in zip(sorted(paths), sorted(again), strict=True):
        assert a.read_bytes() == b.read_bytes()  # byte-identical
    from samplekit.errors import InputError

    with pytest.raises(InputError, match="no accepted reports"):
        write_monthly_tables(demo, "2011-01", tmp_path, network="province")


def test_cli_tables(demo, tmp_path, capsys):
    from samplekit.cli import main

    assert (
        main(
            [
                "tables",
                "--store",
                str(demo),
                "--period",
                "2013-11",
                "--out",
                str(tmp_path),
                "--network",
                "province",
            ]
        )
        == 0
    )
    assert (tmp_path / "monthly_tables_province_2013-11.xlsx").exists()
    assert "table1_province_2013-11.csv" in capsys.readouterr().out
    assert (
        main(
            [
                "tables",
                "--store",
                str(demo),
                "--period",
                "2010-01",
                "--out",
                str(tmp_path),
                "--network",
                "province",
            ]
        )
        == 1
    )  # no reports that month: a clear error, exit 1
    assert "no accepted reports" in capsys.readouterr().err


# ------------------------------------------------------------------ two networks (issue 9)
# The ministry's monthly network: A (东莞) and C (深圳) and the individual unit P (深圳).
MEMBERS = PANEL.assign(
    ministry=[True, False, True, False, True], valid_from="2013-01", valid_to=None
)


def test_ministry_tables_count_only_ministry_members():
    from samplekit.monthly_tables import network_panel

    t2 = table2(tiny(), MEMBERS, network="ministry").set_index(["level", "city", "section"])
    total = t2.loc[("total", "", "")]
    # by hand: A (1000 → 850) and C (40 → 35); B, D are province-only members
    assert total["enterprises"] == 2 and total["enterprises_reduced"] == 2
    assert total["baseline_employment"] == 1040 and total["survey_employment"] == 885
    assert total["reduced_persons"] == -155 and total["layoff_persons"] == -120
    assert t2.loc[("city", "东莞", ""), "enterprises"] == 1
    t1 = table1(tiny(), MEMBERS, network="ministry")
    assert set(t1["enterprise_id"]) == {"A", "C", ""}
    t3 = table3(tiny(), MEMBERS, network="ministry")
    assert t3.iloc[0]["baseline_employment"] == 12
    province = table2(tiny(), MEMBERS, network="province")
    assert province.iloc[0]["enterprises"] == 4  # every non-individual member, as before
    ml = mass_layoffs(tiny(), MEMBERS, network="ministry")
    # B rose, D flat (province only); C −12.5 % and P −16.7 % ≥ 10 %
    assert ml["enterprise_id"].tolist() == ["A", "C", "P"]
    assert sorted(
        network_panel(MEMBERS, network="ministry", period="2013-12")["enterprise_id"]
    ) == ["A", "C", "P"]
    with pytest.raises(Exception, match="ministry"):
        table2(tiny(), PANEL)  # the default network needs the flag


def test_tables_use_the_member_row_in_force_that_month():
    # D left at a window (row closed 2013-11); A's 2012 row (another city) is not in force
    rows = pd.concat(
        [
            MEMBERS.assign(valid_to=[None, None, None, "2013-11", None]),
            MEMBERS.iloc[[0]].assign(city="深圳", valid_from="2012-01", valid_to="2012-12"),
        ],
        ignore_index=True,
    )
    t2 = table2(tiny(), rows, network="province").set_index(["level", "city"])
    assert t2.loc[("city", "东莞"), "enterprises"] == 2  # A (its 2013 row) and B
    assert t2.loc[("city", "(名单外)"), "enterprises"] == 1  # D reports but is not a member


def test_monthly_trend_counts_the_networks_members_in_force_each_month():
    from samplekit.monthly_tables import monthly_trend

    both = pd.concat([tiny().assign(period="2013-11"), tiny()], ignore_index=True)
    rows = MEMBERS.assign(valid_from=["2013-01", "2013-01", "2013-12", "2013-01", "2013-01"])
    trend = monthly_trend(both, rows, network="ministry").set_index("period")
    # by hand: November A only (C's row starts in December); December A and C
    assert trend["enterprises"].tolist() == [1, 2]
    assert trend.loc["2013-11", "baseline_employment"] == 1000
    assert trend.loc["2013-12", "baseline_employment"] == 1040
    assert trend.loc["2013-12", "reduced_persons"] == 155
    province = monthly_trend(both, rows, network="province").set_index("period")
    assert province["enterprises"].tolist() == [4, 4]  # C shown as (名单外) in November


def _flagged_panel(demo):
    """The demo store's panel with every 5th enterprise (and every individual unit) in the
    ministry's monthly network, as store.panel_in_force returns it."""
    panel = store.read_panel(demo)
    return panel.assign(ministry=(np.arange(len(panel)) % 5 == 0) | panel["individual"])


def test_ministry_tables_on_the_demo_store_and_cli(demo, tmp_path, monkeypatch, capsys):
    from samplekit import monthly_tables as mt
    from samplekit.cli import main

    panel = _flagged_panel(demo)
    reports = store.read_reports(demo, ["2013-12"])
    tables = mt.tables_for(demo, "2013-12", network="ministry", panel=panel)
    assert check_identities(tables["table1"], tables["table2"], tables["table3"]).empty
    mine = reports.merge(panel, on="enterprise_id")
    firms = mine[mine["ministry"] & ~mine["individual"]]
    total = tables["table2"].iloc[0]
    assert total["enterprises"] == len(firms) < len(mine[~mine["individual"]]) / 4
    assert total["baseline_employment"] == firms["baseline_employment"].sum()
    assert set(tables["table1"]["enterprise_id"]) - {""} == set(firms["enterprise_id"])
    monkeypatch.setattr(mt, "_store_panel", lambda store_path, period: panel)
    assert (
        main(["tables", "--store", str(demo), "--period", "2013-12", "--out", str(tmp_path)]) == 0
    )  # default: the ministry's network
    out = capsys.readouterr().out
    assert "table2_ministry_2013-12.csv" in out and "monthly_tables_ministry_2013-12.xlsx" in out
    t2 = pd.read_csv(tmp_path / "table2_ministry_2013-12.csv", encoding="utf-8-sig")
    assert t2["enterprises"].iloc[0] == len(firms)
    xl = pd.ExcelFile(tmp_path / "monthly_tables_ministry_2013-12.xlsx")
    title = pd.read_excel(xl, "附表二", header=None).iloc[0, 0]
    assert "失业动态监测(人社部月报网络)" in title
    with pytest.raises(Exception, match="network"):
        mt.write_monthly_tables(demo, "2013-12", tmp_path, network="province", tables=tables)
