"""The quarterly labour-use form: every validation rule on crafted bad forms, both layouts, and
atomic, audited, idempotent loads with quarantine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samplekit.labour_form import (
    FORM_COLUMNS,
    RULES,
    FormRules,
    to_form_layout,
    validate_labour_forms,
)


def good_row(eid: str = "E1", emp: int = 100) -> dict:
    """A consistent form: 100 staff, wage bill 1 200 千元 → 4 000 元 a month."""
    row = dict.fromkeys(FORM_COLUMNS, "0")
    row.update(
        enterprise_id=eid,
        quarter="2013Q4",
        wage_bill=str(emp * 12.0),
        average_wage="4000",
        employees_total=str(emp),
        emp_6=str(emp - 10),
        emp_2="10",
        vac_6="5",
        hard_6="2",
        vac_2="3",
        hard_2="3",
        planned_hiring="8",
        outlook="1",
    )
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, dtype=object)
    df["row"] = np.arange(len(df)) + 2
    return df


def rules_of(problems: pd.DataFrame, row: int) -> set[str]:
    return set(problems.loc[problems["row"] == row, "rule"])


def test_a_consistent_form_has_no_problem():
    data, problems = validate_labour_forms(
        frame([good_row()]),
        file="f.csv",
        quarter="2013Q4",
        panel_ids=["E1"],
        headcount=pd.Series({"E1": 102.0}),
    )
    assert problems.empty
    assert data["average_wage"].iloc[0] == 4000
    assert int(data["outlook"].iloc[0]) == 1


# One crafted bad row per rule: (change to the good row, rule, column).
BAD = [
    ({"wage_bill": ""}, "required", "wage_bill"),
    ({"vac_3": "2.5"}, "number", "vac_3"),
    ({"planned_hiring": "-1"}, "nonnegative", "planned_hiring"),
    ({"quarter": "2013-12"}, "quarter_format", "quarter"),
    ({"quarter": "2013Q3"}, "quarter_mismatch", "quarter"),
    ({"enterprise_id": "NOT_IN_PANEL"}, "unknown_enterprise", "enterprise_id"),
    ({"emp_2": "11"}, "occupation_sum", "employees_total"),
    ({"hard_6": "6"}, "hard_le_vacancies", "hard_6"),
    (
        {"employees_total": "0", "emp_6": "0", "emp_2": "0", "average_wage": ""},
        "wage_without_staff",
        "wage_bill",
    ),
    ({"average_wage": "5000"}, "average_wage_identity", "average_wage"),
    ({"outlook": "4"}, "outlook_code", "outlook"),
    ({"wage_bill": "30", "average_wage": "100"}, "wage_range", "average_wage"),
    ({"vac_4": "150", "hard_4": "0"}, "vacancy_plausibility", "employees_total"),
    ({"enterprise_id": "E9"}, "headcount_plausibility", "employees_total"),
]


@pytest.mark.parametrize(("change", "rule", "column"), BAD, ids=[b[1] for b in BAD])
def test_every_rule_fires_on_its_crafted_bad_form(change, rule, column):
    bad = good_row("E2") | change
    data, problems = validate_labour_forms(
        frame([good_row("E1"), bad]),
        file="bad.csv",
        quarter="2013Q4",
        panel_ids=["E1", "E2", "E9"],
        headcount=pd.Series({"E1": 100.0, "E2": 100.0, "E9": 50.0}),
    )
    hit = problems.loc[(problems["row"] == 3) & (problems["rule"] == rule)]
    assert len(hit) >= 1, problems
    assert hit["column"].iloc[0] == column
    assert hit["file"].iloc[0] == "bad.csv"
    assert hit["severity"].iloc[0] == RULES[rule][0]
    assert rules_of(problems, 2) == set()  # the good row stays clean


def test_duplicates_are_both_rejected():
    _, problems = validate_labour_forms(frame([good_row("E1"), good_row("E1")]), file="d.csv")
    assert rules_of(problems, 2) == {"duplicate"} == rules_of(problems, 3)


def test_every_rule_is_covered_by_a_crafted_form():
    assert {b[1] for b in BAD} | {"duplicate"} == set(RULES)


def test_outlook_accepts_chinese_words_and_a_blank_average_wage_is_derived():
    row = good_row() | {"outlook": "下降", "average_wage": ""}
    data, problems = validate_labour_forms(frame([row]))
    assert problems.empty
    assert int(data["outlook"].iloc[0]) == 3
    assert data["average_wage"].iloc[0] == pytest.approx(1200 * 1000 / 300)


def test_rules_from_params_refuse_unknown_keys(tmp_path):
    from samplekit.errors import ParamsError
    from samplekit.params import load_params

    p = tmp_path / "p.yaml"
    p.write_text("release:\n  form:\n    wage_min: 900\n    wage_maxx: 1\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="wage_maxx"):
        FormRules.from_params(load_params(p, validate=False))


def _store(tmp_path: Path) -> Path:
    from samplekit.store import load_panel

    n = 6
    sample = pd.DataFrame(
        {
            "enterprise_id": [f"E{k}" for k in range(1, n + 1)],
            "name": [f"企业{k}" for k in range(n)],
            "city": "东莞",
            "section": "C",
            "size_class": "small",
            "ownership": "private",
            "registration_type": "170",
            "calibrated_weight": 10.0,
            "cell_frame_units": 60,
        }
    )
    store = tmp_path / "s.duckdb"
    load_panel(store, sample)
    return store


def test_ingest_chinese_layout_quarantines_bad_rows_and_is_idempotent(tmp_path):
    from samplekit.store import ingest_labour_forms, read_labour_forms, read_network_table

    store = _store(tmp_path)
    rows = [good_row("E1"), good_row("E2") | {"hard_6": "9"}, good_row("E3")]
    path = tmp_path / "2013Q4_企业用工情况调查表.csv"
    to_form_layout(pd.DataFrame(rows)).to_csv(path, index=False, encoding="utf-8-sig")
    res = ingest_labour_forms(store, path, quarter="2013Q4")
    assert (res.loaded, res.quarantined) == (2, 1)
    forms = read_labour_forms(store, "2013Q4")
    assert forms["enterprise_id"].tolist() == ["E1", "E3"]
    assert forms["wage_bill"].tolist() == [1200.0, 1200.0]
    quarantine = read_network_table(store, "side_quarantine")
    assert quarantine["row"].tolist() == [3] and quarantine["rules"].tolist() == [
        "hard_le_vacancies"
    ]
    again = ingest_labour_forms(store, path, quarter="2013Q4")
    assert again.status == "already_loaded"
    # A resubmission replaces the stored row and keeps the old one in the audit.
    fixed = tmp_path / "fix.csv"
    pd.DataFrame([good_row("E1", emp=200)]).to_csv(fixed, index=False)
    assert ingest_labour_forms(store, fixed, quarter="2013Q4").replaced == 1
    assert (
        read_labour_forms(store, "2013Q4").set_index("enterprise_id").loc["E1", "employees_total"]
        == 200
    )
    assert len(read_network_table(store, "side_audit")) == 1


def test_cli_ingest_labour_exit_code_says_rows_were_quarantined(tmp_path, capsys):
    from samplekit.cli import main

    store = _store(tmp_path)
    path = tmp_path / "f.csv"
    pd.DataFrame([good_row("E1"), good_row("E2") | {"outlook": "7"}]).to_csv(path, index=False)
    code = main(["ingest-labour", str(path), "--store", str(store), "--quarter", "2013Q4"])
    assert code == 3
    assert "quarantined 1" in capsys.readouterr().out
