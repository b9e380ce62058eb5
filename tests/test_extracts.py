"""Research extracts (issue 18): a research role sees no identity and no small cell; the
monitoring office sees identities; every extract is logged in the store."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import synthetic_panel as sp
import yaml

from samplekit import store as st
from samplekit.errors import InputError, ParamsError
from samplekit.extracts import (
    MERGED,
    ExtractSettings,
    Role,
    build_extract,
    coarsen_cells,
    periods_of,
)
from samplekit.io import file_sha256
from samplekit.params import Params

Q4 = ["2013-10", "2013-11", "2013-12"]
RESEARCH = Role(key="research", name="研究人员")
OFFICE = Role(key="office", name="监测处", identities=True, contacts=True)


@pytest.fixture(scope="module")
def data():
    members = sp.membership()
    return members, sp.reports(members, months=Q4)


def _all_text(df: pd.DataFrame) -> str:
    return "\n".join([str(v) for v in df.to_numpy().ravel()] + list(map(str, df.columns)))


def test_research_extract_has_no_identity_and_no_small_cell(data):
    members, reps = data
    ex = build_extract(reps, members, role=RESEARCH, periods=Q4, min_cell=5, salt="7|research")
    text = _all_text(ex.data)
    for eid, name in zip(members["enterprise_id"], members["name"], strict=True):
        assert eid not in text and name not in text
    forbidden = {
        "enterprise_id",
        "name",
        "remark",
        "registration_type",
        "export_share",
        "calibrated_weight",
        "weight",
    } | {c for c in ex.data.columns if c.startswith("contact_")}
    assert not forbidden & set(ex.data.columns)
    assert "备注" not in text  # the remarks name the firm
    # every combination of the quasi-identifiers holds at least 5 firms
    firms = ex.data.drop_duplicates("firm_key")
    counts = firms.groupby(["city", "section", "size_class", "ownership"]).size()
    assert counts.min() >= 5
    # strata of 7-8 firms split by ownership (1 in 3 state) must have been merged
    assert (ex.data["ownership"] == MERGED).any()
    assert ex.firms + ex.suppressed == len(members)
    assert len(ex.data) == 3 * ex.firms
    # the data are the reports, only relabelled (no firm needed suppressing at 5 here)
    assert ex.suppressed == 0
    assert ex.data["survey_employment"].sum() == reps["survey_employment"].sum()


def test_coarsening_by_hand():
    firms = pd.DataFrame(
        {
            "enterprise_id": list("abcdefg"),
            "city": ["甲"] * 7,
            "section": ["C"] * 7,
            "size_class": ["small"] * 4 + ["large"] * 3,
            "ownership": ["private"] * 3 + ["state"] + ["private"] * 3,
        }
    )
    cells = ["city", "section", "size_class", "ownership"]
    # k = 3: the lone state firm merges with the 3 private small firms (4 ≥ 3), nothing else
    out, merged, suppressed = coarsen_cells(firms, min_cell=3)
    assert suppressed == 0 and merged == {"ownership": 4, "size_class": 0, "section": 0, "city": 0}
    assert out.groupby(cells).size().to_dict() == {
        ("甲", "C", "large", "private"): 3,
        ("甲", "C", "small", MERGED): 4,
    }
    # k = 5: both ownership groups are merged, then the size classes (4 + 3 = 7 ≥ 5)
    out, merged, suppressed = coarsen_cells(firms, min_cell=5)
    assert suppressed == 0 and merged["ownership"] == 7 and merged["size_class"] == 7
    assert out.groupby(cells).size().to_dict() == {("甲", "C", MERGED, MERGED): 7}
    # k = 8: 7 firms can never make a cell of 8: all are left out
    out, _, suppressed = coarsen_cells(firms, min_cell=8)
    assert suppressed == 7 and out.empty


def test_office_extract_sees_identities_and_contacts(data):
    members, reps = data
    contacts = pd.DataFrame(
        {
            "enterprise_id": members["enterprise_id"].iloc[:2],
            "contact_name": ["张三", "李四"],
            "contact_phone": ["020-1", "020-2"],
        }
    )
    ex = build_extract(reps, members, role=OFFICE, periods=["2013-12"], contacts=contacts)
    assert {"enterprise_id", "name", "contact_name", "remark"} <= set(ex.data.columns)
    row = ex.data.set_index("enterprise_id").loc[members["enterprise_id"].iloc[0]]
    assert row["contact_name"] == "张三" and row["name"] == members["name"].iloc[0]
    assert ex.firms == len(members)


def test_role_periods_and_settings_are_checked(tmp_path, data):
    members, reps = data
    role = Role(key="r", name="研究人员", first="2013-11", last="2013-12")
    with pytest.raises(InputError, match="2013-10"):
        build_extract(reps, members, role=role, periods=Q4)
    p = Params(tmp_path / "p.yaml", {"extracts": {"roles": {"x": {"contacts": True}}}})
    with pytest.raises(ParamsError, match="identities"):
        ExtractSettings.from_params(p)
    p = Params(tmp_path / "p.yaml", {"extracts": {"roles": {"x": {"see": True}}}})
    with pytest.raises(ParamsError, match="extracts.roles.x"):
        ExtractSettings.from_params(p)
    assert periods_of("2013Q4") == Q4
    assert periods_of("2013-11:2013-12") == Q4[1:]


def test_cli_writes_the_extract_and_logs_it(tmp_path, data, capsys):
    from samplekit.cli import main

    members, reps = data
    store = tmp_path / "store.duckdb"
    st.seed_from_sample_list(
        store, members.drop(columns=["valid_from", "valid_to"]), effective="2012-01"
    )
    with duckdb.connect(str(store)) as con:
        con.register("r", reps.assign(load_id=1, source_row=0))
        cols = ", ".join([*st.REPORT_COLUMNS, "load_id", "source_row"])
        con.execute(f"INSERT INTO reports ({cols}) SELECT {cols} FROM r")
    root = Path(__file__).resolve().parents[1]
    params = tmp_path / "p.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "seed": 7,
                "quarter": "2013Q4",
                "province": {
                    "name": "测试省",
                    "cities": str(root / "data/demo/guangdong_cities.csv"),
                },
                "monthly": {"store": str(store)},
                "extracts": {
                    "min_cell": 5,
                    "terms": "仅限测试使用。",
                    "roles": {"research": {"name": "研究人员", "identities": False}},
                },
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code = main(
        [
            "extract",
            "--params",
            str(params),
            "--role",
            "research",
            "--out",
            str(out),
            "--who",
            "王研究员",
        ]
    )
    assert code == 0, capsys.readouterr().err
    files = list(out.glob("*.xlsx"))
    assert [f.name for f in files] == ["extract_research_2013-10_2013-12.xlsx"]
    log = st.read_extract_log(store)
    assert len(log) == 1
    rec = log.iloc[0]
    assert (rec["who"], rec["role"], rec["periods"]) == (
        "王研究员",
        "research",
        "2013-10;2013-11;2013-12",
    )
    assert rec["sha256"] == file_sha256(files[0])
    book = pd.read_excel(files[0], sheet_name=None, header=None)
    assert "说明" in book
    about = _all_text(book["说明"])
    assert "仅限测试使用。" in about and "研究人员" in about
    sheet = _all_text(book["数据"])
    assert not any(e in sheet for e in members["enterprise_id"])
    assert not any(n in sheet for n in members["name"])
    # a second extract gets the next id; unknown roles are refused with the list of roles
    assert (
        main(
            [
                "extract",
                "--params",
                str(params),
                "--role",
                "research",
                "--out",
                str(out),
                "--who",
                "王研究员",
                "--periods",
                "2013-12",
            ]
        )
        == 0
    )
    assert list(st.read_extract_log(store)["extract_id"]) == [1, 2]
    # the same request later gives the same bytes (the log grows, the workbook does not change)
    assert (
        main(
            [
                "extract",
                "--params",
                str(params),
                "--role",
                "research",
                "--out",
                str(tmp_path / "again"),
                "--who",
                "王研究员",
            ]
        )
        == 0
    )
    log = st.read_extract_log(store)
    assert list(log["extract_id"]) == [1, 2, 3]
    assert log["sha256"].iloc[2] == log["sha256"].iloc[0]
    assert main(["extract", "--params", str(params), "--role", "boss", "--out", str(out)]) != 0
    assert "research" in capsys.readouterr().err
