"""The quarterly city evaluation (考核通报): scores recomputed by hand for the cities."""

from __future__ import annotations

import pandas as pd
import pytest

from samplekit.evaluation import (
    EvaluationSettings,
    circular_text,
    city_metrics,
    score_cities,
)

Q = "2013Q4"
# Penalties chosen so the hand computation below stays readable.
SETTINGS = EvaluationSettings(
    penalties={
        "days_late": 5.0,
        "quarantined": 1.0,
        "rules": 0.5,
        "resubmissions": 0.5,
        "identity": 2.0,
        "insurance": 1.0,
    }
)


def _inputs():
    # 甲市: 40 members in October: 36 on time, 4 late by 1, 1, 2, 4 days (mean 2).
    # 乙市: 20 members, all on time. 丙市: 10 members, none reported.
    status = pd.DataFrame(
        [(f"a{i:02d}", "甲市", "2013-10", "on_time", pd.NA) for i in range(36)]
        + [(f"a{36 + i:02d}", "甲市", "2013-10", "late", d) for i, d in enumerate([1, 1, 2, 4])]
        + [(f"b{i:02d}", "乙市", "2013-10", "on_time", pd.NA) for i in range(20)]
        + [(f"c{i:02d}", "丙市", "2013-10", "missing", pd.NA) for i in range(10)]
        + [("a00", "甲市", "2013-09", "late", 9)],  # another quarter: ignored
        columns=["enterprise_id", "city", "period", "status", "days_late"],
    )
    status["days_late"] = status["days_late"].astype("Int64")
    panel = status[["enterprise_id", "city"]].drop_duplicates("enterprise_id")
    # 甲市 delivered 50 rows: 40 accepted, 5 replaced by a correction, 5 quarantined.
    a_ids = [f"a{i:02d}" for i in range(40)]
    deliveries = pd.DataFrame(
        [(e, "2013-10", 1, "accepted") for e in a_ids]
        + [(e, "2013-10", 1, "replaced") for e in a_ids[:5]]
        + [(e, "2013-10", 1, "quarantined") for e in a_ids[5:10]]
        + [(f"b{i:02d}", "2013-10", 1, "accepted") for i in range(20)],
        columns=["enterprise_id", "period", "load_id", "status"],
    )
    # 10 problems in 甲市: 2 identity errors, 3 other errors, 5 warnings.
    rules = (
        [("error", "change")] * 2
        + [("error", "reason_missing")] * 3
        + [("warning", "mass_layoff")] * 5
    )
    row_problems = pd.DataFrame(
        [(a_ids[i], "2013-10", sev, rule) for i, (sev, rule) in enumerate(rules)],
        columns=["enterprise_id", "period", "severity", "rule"],
    )
    warnings = pd.DataFrame(
        {
            "enterprise_id": ["a01", "a02", "a03"],
            "city": "甲市",
            "first_period": ["2013-08", "2013-11", "2013-01"],
            "last_period": ["2013-10", "2013-12", "2013-06"],
        }
    )
    analysis = pd.DataFrame(
        {
            "city": ["甲市", "乙市", "丙市"],
            "received_at": pd.to_datetime(["2014-01-03", "2014-01-08", None]),
            "on_time": [True, False, False],
        }
    )
    return status, deliveries, row_problems, warnings, analysis, panel


def test_city_scores_recomputed_by_hand():
    status, deliveries, problems, warnings, analysis, panel = _inputs()
    m = city_metrics(
        status,
        deliveries,
        problems,
        warnings,
        analysis,
        panel,
        quarter=Q,
        cities=["甲市", "乙市", "丙市"],
    )
    a = m.set_index("city").loc["甲市"]
    assert (
        a["due"],
        a["on_time"],
        a["late"],
        a["rows_delivered"],
        a["quarantined_rows"],
        a["resubmitted_rows"],
        a["rules_broken"],
        a["identity_failures"],
        a["members"],
        a["insurance_warnings"],
    ) == (40, 36, 4, 50, 5, 5, 10, 2, 40, 2)
    assert a["on_time_rate"] == pytest.approx(90.0)
    assert a["mean_days_late"] == pytest.approx(2.0)
    s = score_cities(m, settings=SETTINGS).set_index("city")
    # 甲市: timeliness 90 − 5 × 2 = 80; per 100 rows: quarantined 10, rules 20, resubmitted 10,
    # identity 4; insurance 2 per 40 members = 5 per 100:
    # quality = 100 − (1×10 + 0.5×20 + 0.5×10 + 2×4 + 1×5) = 62; analysis on time = 100;
    # total = 0.4×80 + 0.4×62 + 0.2×100 = 76.8
    assert s.loc[
        "甲市", ["timeliness", "quality", "analysis_score", "total"]
    ].tolist() == pytest.approx([80.0, 62.0, 100.0, 76.8])
    # 乙市: 100 on time, nothing wrong, analysis late (half credit): 40 + 40 + 10 = 90
    assert s.loc[
        "乙市", ["timeliness", "quality", "analysis_score", "total"]
    ].tolist() == pytest.approx([100.0, 100.0, 50.0, 90.0])
    # 丙市: nothing reported on time, no rows (no quality penalty), no analysis: 0 + 40 + 0
    assert s.loc["丙市", "total"] == pytest.approx(40.0)
    assert s["rank"].to_dict() == {"乙市": 1, "甲市": 2, "丙市": 3}
    assert s["grade"].to_dict() == {"乙市": "优秀", "甲市": "良好", "丙市": "不合格"}
    text = "".join(circular_text(score_cities(m, settings=SETTINGS), quarter=Q))
    assert "乙市综合得分90.0分,位列第一" in text and "丙市综合得分40.0分,位列末位" in text


def test_weights_change_the_ranking_and_ties_share_a_rank():
    status, deliveries, problems, warnings, analysis, panel = _inputs()
    m = city_metrics(status, deliveries, problems, warnings, analysis, panel, quarter=Q)
    only_quality = EvaluationSettings(
        weights={"timeliness": 0.0, "quality": 1.0, "analysis": 0.0}, penalties=SETTINGS.penalties
    )
    s = score_cities(m, settings=only_quality).set_index("city")
    assert s["total"].to_dict() == pytest.approx({"乙市": 100.0, "丙市": 100.0, "甲市": 62.0})
    assert s["rank"].to_dict() == {"乙市": 1, "丙市": 1, "甲市": 3}


def test_evaluation_params(tmp_path):
    from samplekit.errors import ParamsError
    from samplekit.params import load_params

    p = tmp_path / "p.yaml"
    p.write_text(
        "evaluation:\n  weights: {timeliness: 0.5, quality: 0.4, analysis: 0.2}\n", encoding="utf-8"
    )
    with pytest.raises(ParamsError, match=r"p\.yaml.*evaluation\.weights.*sum to 1"):
        load_params(p)
    p.write_text("evaluation:\n  penalties: {lateness: 3}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"evaluation\.penalties\.lateness"):
        load_params(p)
    p.write_text(
        "evaluation:\n  grades: [{min: 60, name: 合格}, {min: 80, name: 优秀}]\n", encoding="utf-8"
    )
    with pytest.raises(ParamsError, match=r"evaluation\.grades"):
        load_params(p)
    p.write_text(
        "evaluation:\n  weights: {timeliness: 0.5, quality: 0.3, analysis: 0.2}\n"
        "  penalties: {days_late: 2}\n",
        encoding="utf-8",
    )
    s = EvaluationSettings.from_params(load_params(p))
    assert s.weights["timeliness"] == 0.5 and s.penalties["days_late"] == 2.0
    assert s.penalties["rules"] == 2.0  # default kept


def test_cli_evaluate_writes_the_circular_reproducibly(tmp_path, capsys):
    from samplekit.cli import main
    from samplekit.io import write_csv
    from samplekit.reports import REPORT_COLUMNS
    from samplekit.store import ingest_file, load_panel, record_receipt

    store = tmp_path / "s.duckdb"
    ids = {"东莞": ["d1", "d2"], "深圳": ["s1", "s2"]}
    load_panel(
        store,
        pd.DataFrame(
            {
                "enterprise_id": [*ids["东莞"], *ids["深圳"]],
                "city": ["东莞", "东莞", "深圳", "深圳"],
                "section": "C",
                "size_class": "small",
                "ownership": "private",
            }
        ),
    )
    for month in ("2013-10", "2013-11", "2013-12"):
        rows = pd.DataFrame(
            {
                "enterprise_id": ["d1", "d2", "s1", "s2"],
                "period": month,
                "baseline_employment": 100,
                "survey_employment": 100,
                "change": 0,
                "change_pct": 0.0,
            }
        )
        for c in REPORT_COLUMNS[6:]:
            rows[c] = None
        r = ingest_file(
            store, write_csv(rows[REPORT_COLUMNS], tmp_path / f"r_{month}.csv", excel=False)
        )
        nxt = str(pd.Period(month, freq="M") + 1)
        record_receipt(
            store, load_id=r.load_id, city="东莞", received_at=f"{nxt}-06", source="argument"
        )
        record_receipt(
            store, load_id=r.load_id, city="深圳", received_at=f"{nxt}-10", source="argument"
        )  # 2 days after the provincial deadline (8th)
    for city in ("东莞", "深圳"):
        record_receipt(
            store, kind="analysis", city=city, period=Q, received_at="2014-01-03", source="argument"
        )
    params = tmp_path / "p.yaml"
    params.write_text(
        f"province: {{name: 广东省, cities: data/demo/guangdong_cities.csv}}\n"
        f"monthly: {{store: {store}}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["evaluate", "--params", str(params), "--quarter", Q, "--out", str(out)]) == 0
    assert "第一名 东莞(100.0 分),最后一名 深圳" in capsys.readouterr().out
    scores = pd.read_csv(out / f"city_evaluation_{Q}.csv", encoding="utf-8-sig")
    # 深圳: every report 2 days late -> timeliness 0 − 5 × 2 -> 0; quality 100; analysis 100
    assert scores.set_index("city")["total"].to_dict() == pytest.approx(
        {"东莞": 100.0, "深圳": 60.0}
    )
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["evaluate", "--params", str(params), "--quarter", Q, "--out", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert f"考核通报_{Q}.xlsx" in first
