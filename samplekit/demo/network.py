"""Running the demo network: receipt times, missing reports, supplementary records, special
notes and an insured-persons file with planted discrepancies (issue 13, all synthetic).

Two steps around the demo store build (:func:`samplekit.demo.build_demo_store`):

1. :func:`drop_unreported` — after simulating the history and before writing the files: some
   members of some cities do not report in some months (漏报);
2. :func:`add_network_demo` — after ingesting: receipt times of every report file per city (some
   cities late), the cities' quarterly analysis reports, a file of out-of-sample layoffs and
   layoff-plan notices (with two bad rows, quarantined), special notes for most required cases
   (some missing), an insured-persons file with planted discrepancies, and the cross-check's
   warnings. Every file goes through the real ingest path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.io import write_csv
from samplekit.sidefiles import _CREDIT_CHARS, credit_code_check


@dataclass(frozen=True)
class NetworkDemoSettings:
    """What the demo network plants (plain values; the lead derives them from params).

    Attributes
    ----------
    late_cities : cities whose files arrive late in ``late_periods``
    missing_cities : cities where ``missing_share`` of members skip ``missing_periods``
    late_periods, missing_periods : months affected
    analysis_late, analysis_missing : cities whose quarterly analysis report of
        ``analysis_quarter`` is late / missing
    supplementary, notices : number of out-of-sample layoffs and of layoff-plan notices
    event_cities : cities where the events happen (the shock's cities)
    missing_note_share : share of required special notes never sent
    insured_periods : months of the insured-persons file
    persistent_gaps, transient_gaps : firms planted with a gap in every insured month / in one
    """

    late_cities: tuple[str, ...] = ("湛江", "茂名")
    missing_cities: tuple[str, ...] = ("揭阳", "湛江")
    late_periods: tuple[str, ...] = ("2013-10", "2013-11", "2013-12")
    missing_periods: tuple[str, ...] = ("2013-11", "2013-12")
    missing_share: float = 0.05
    analysis_quarter: str = "2013Q4"
    analysis_late: tuple[str, ...] = ("茂名",)
    analysis_missing: tuple[str, ...] = ("揭阳",)
    supplementary: int = 6
    notices: int = 10
    event_cities: tuple[str, ...] = ("东莞", "深圳", "佛山", "中山")
    missing_note_share: float = 0.25
    insured_periods: tuple[str, ...] = (
        "2013-07",
        "2013-08",
        "2013-09",
        "2013-10",
        "2013-11",
        "2013-12",
    )
    persistent_gaps: int = 4
    transient_gaps: int = 2


def drop_unreported(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    settings: NetworkDemoSettings | None = None,
    rng: np.random.Generator | int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remove the reports of members that do not report (漏报) in the missing cities and months.

    Returns ``(reports kept, reports dropped)``. The same members skip every missing month
    (a firm that stopped answering), so the next month's baseline chain is broken for them only.
    """
    s = settings or NetworkDemoSettings()
    rng = np.random.default_rng(rng)
    members = panel[
        panel["city"].isin(s.missing_cities)
        & ~panel.get("individual", pd.Series(False, index=panel.index)).astype(bool)
    ]
    ids = members["enterprise_id"].astype(str).to_numpy()
    k = int(round(s.missing_share * len(ids)))
    skip = set(rng.choice(np.sort(ids), size=k, replace=False)) if k else set()
    drop = reports["enterprise_id"].astype(str).isin(skip) & reports["period"].isin(
        s.missing_periods
    )
    return reports[~drop].reset_index(drop=True), reports[drop].reset_index(drop=True)


def _credit_code(rng: np.random.Generator, region: str = "440300") -> str:
    body = "91" + region + "".join(rng.choice(list(_CREDIT_CHARS), size=9))
    return body + str(credit_code_check(body))


def add_network_demo(
    store: str | Path,
    *,
    out_dir: str | Path,
    settings: NetworkDemoSettings | None = None,
    calendar: Any = None,
    insurance: Any = None,
    notes: Any = None,
    rng: np.random.Generator | int | None = None,
) -> dict[str, Any]:
    """Add receipts, events, special notes, insured persons and insurance warnings to a store.

    Parameters
    ----------
    store : the demo store (reports already ingested)
    out_dir : folder for the generated files (events, notes, insured)
    settings : NetworkDemoSettings
    calendar, insurance, notes : CalendarSettings, InsuranceSettings, NoteSettings
        (``from_params`` of the job's params; defaults when None)
    rng : seed or Generator

    Returns
    -------
    dict
        ``files`` written, ``planted`` (persistent / transient discrepancy firms, missing notes,
        late and missing cities) and the ingest results — for tests and the demo's note.
    """
    from samplekit.insurance import InsuranceSettings, insurance_gaps, persistent_gaps
    from samplekit.periods import quarter_months
    from samplekit.reporting_calendar import CalendarSettings, deadline, quarterly_deadline
    from samplekit.special_notes import NoteSettings, required_notes
    from samplekit.store import (
        ingest_events,
        ingest_insured,
        ingest_special_notes,
        read_panel,
        read_reports,
        read_table,
        record_receipts,
        write_insurance_warnings,
    )

    s = settings or NetworkDemoSettings()
    cal = calendar or CalendarSettings()
    ins_settings = insurance or InsuranceSettings()
    rng = np.random.default_rng(rng)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    panel = read_panel(store)
    panel["enterprise_id"] = panel["enterprise_id"].astype(str)
    cities = sorted(panel["city"].astype(str).unique())
    files = read_table(store, "files")
    result: dict[str, Any] = {"files": [], "planted": {}}

    # 1. receipts: each city's part of each monthly file; late cities after the deadline.
    receipts: list[dict[str, Any]] = []

    def record_receipt(**kw: Any) -> None:  # collected, then written in one transaction
        receipts.append({"kind": "reports", **kw})

    for row in files[files["kind"] == "reports"].itertuples():
        period = str(row.periods).split(";")[0]
        # On time for every network (by the earliest deadline), late for every network (after
        # the latest), so the planted lateness does not depend on who is in which network.
        dues = [
            d
            for n in ("ministry", "provincial")
            if (d := deadline(period, network=n, level=cal.judge_level, settings=cal)) is not None
        ]
        due, last_due = min(dues), max(dues)
        if "更正" in str(row.file_name):  # the corrected resubmission: one whole-file receipt
            record_receipt(
                load_id=int(row.load_id),
                source="argument",
                received_at=last_due + pd.Timedelta(days=8, hours=10),
            )
            continue
        for city in cities:
            early = int(rng.integers(0, 4))
            at = due - pd.Timedelta(days=early) + pd.Timedelta(hours=int(rng.integers(9, 18)))
            if city in s.late_cities and period in s.late_periods:
                at = last_due + pd.Timedelta(days=int(rng.integers(1, 7)), hours=10)
            record_receipt(load_id=int(row.load_id), city=city, source="argument", received_at=at)
    # Quarterly analysis reports of every quarter in the store; some late or missing.
    periods = sorted(
        {str(p).split(";")[0] for p in files.loc[files["kind"] == "reports", "periods"]}
    )
    quarters = sorted({str(pd.Period(p, freq="M").asfreq("Q")) for p in periods})
    for q in quarters:
        if not set(quarter_months(q)) <= set(periods):
            continue
        due = quarterly_deadline(q, settings=cal)
        for city in cities:
            if q == s.analysis_quarter and city in s.analysis_missing:
                continue
            at = due - pd.Timedelta(days=int(rng.integers(0, 3)), hours=-15)
            if q == s.analysis_quarter and city in s.analysis_late:
                at = due + pd.Timedelta(days=3, hours=11)
            record_receipt(kind="analysis", city=city, period=q, source="argument", received_at=at)
    record_receipts(store, pd.DataFrame(receipts))
    result["planted"].update(
        late_cities=list(s.late_cities),
        missing_cities=list(s.missing_cities),
        analysis_late=list(s.analysis_late),
        analysis_missing=list(s.analysis_missing),
    )

    # 2. supplementary records: out-of-sample layoffs and layoff-plan notices, two bad rows.
    last = periods[-1]
    ev_cities = [c for c in s.event_cities if c in cities] or cities[:2]
    months_ev = [str(pd.Period(last, freq="M") - k) for k in range(7, -1, -1)]
    rows = []
    for i in range(s.supplementary):
        staff = int(rng.integers(400, 3000))
        persons = int(max(100, round(staff * rng.uniform(0.08, 0.3))))
        p = months_ev[3 + i % 5]
        rows.append(
            {
                "记录类型": "补充数据",
                "城市": ev_cities[i % len(ev_cities)],
                "企业名称": f"演示监测范围外企业{i + 1}",
                "统一社会信用代码": _credit_code(rng),
                "日期": f"{p}-{int(rng.integers(1, 28)):02d}",
                "涉及人数": persons,
                "职工总数": staff,
                "占职工比例(%)": round(100 * persons / staff, 1),
                "类型": "经济性裁员",
                "主要原因": "4、8",
                "信息来源": "市人社局劳动关系科",
                "说明": "外贸订单下降,分批裁员(演示数据)",
                "计划实施日期": "",
            }
        )
    notice_ids = panel.loc[panel["city"].isin(ev_cities), "enterprise_id"].sort_values()
    for i in range(s.notices):
        staff = int(rng.integers(300, 2500))
        persons = int(max(100, round(staff * rng.uniform(0.1, 0.25))))
        p = months_ev[min(i * len(months_ev) // max(s.notices, 1), len(months_ev) - 2)]
        day = int(rng.integers(1, 28))
        code = (
            str(notice_ids.iloc[int(rng.integers(len(notice_ids)))])
            if i % 3 == 0 and len(notice_ids)
            else _credit_code(rng)
        )
        planned = (pd.Timestamp(f"{p}-{day:02d}") + pd.Timedelta(days=30)).strftime("%Y-%m-%d")
        rows.append(
            {
                "记录类型": "裁员方案报告",
                "城市": ev_cities[i % len(ev_cities)],
                "企业名称": f"演示裁员方案企业{i + 1}",
                "统一社会信用代码": code,
                "日期": f"{p}-{day:02d}",
                "涉及人数": persons,
                "职工总数": staff,
                "占职工比例(%)": round(100 * persons / staff, 1),
                "类型": "经济性裁员",
                "主要原因": "4",
                "信息来源": "企业裁员方案报告",
                "说明": "",
                "计划实施日期": planned,
            }
        )
    bad = dict(rows[0])
    bad.update(
        {"企业名称": "演示错误记录1", "统一社会信用代码": "9144030012345", "说明": ""}
    )  # short code, no explanation
    bad2 = dict(rows[1])
    bad2.update(
        {"企业名称": "演示错误记录2", "统一社会信用代码": _credit_code(rng), "涉及人数": "约200"}
    )  # not a number
    events = pd.DataFrame([*rows, bad, bad2])
    ev_path = write_csv(events, out / "补充数据_裁员方案报告.csv")
    result["files"].append(ev_path)
    result["events"] = ingest_events(store, ev_path, cities=cities)

    # 3. special notes: every required case of the last months, some left missing.
    reports = read_reports(store, months_ev)
    need = required_notes(reports, settings=notes or NoteSettings())
    keep = rng.random(len(need)) >= s.missing_note_share
    sent = need[keep]
    note_df = pd.DataFrame(
        {
            "统一社会信用代码": sent["enterprise_id"],
            "调查期": sent["period"],
            "报送日期": [
                f"{(pd.Period(p, freq='M') + 1)}-0{int(rng.integers(2, 9))}" for p in sent["period"]
            ],
            "专项说明": [
                f"{t or '减员'}{int(f)}人,企业已制定安置方案(演示数据)"
                for t, f in zip(sent["main_type"], sent["fall"], strict=True)
            ],
        }
    )
    note_path = write_csv(note_df, out / "专项说明.csv")
    result["files"].append(note_path)
    result["notes"] = ingest_special_notes(store, note_path)
    result["planted"]["missing_notes"] = need[~keep][["enterprise_id", "period"]].to_dict("records")

    # 4. insured persons: within tolerance, except the planted firms.
    rep = read_reports(store, list(s.insured_periods))
    rep = rep[
        rep["enterprise_id"].isin(
            set(panel.loc[~panel["individual"].astype(bool), "enterprise_id"])
        )
    ]
    insured = rep[["enterprise_id", "period", "survey_employment"]].copy()
    factor = rng.uniform(0.88, 1.0, len(insured))
    insured["insured"] = np.round(insured["survey_employment"].astype(float) * factor).astype(int)
    big = rep.groupby("enterprise_id")["survey_employment"].agg(["min", "size"])
    eligible = np.sort(
        big[(big["min"] >= 150) & (big["size"] == len(s.insured_periods))].index.to_numpy()
    )
    chosen = rng.choice(eligible, size=s.persistent_gaps + s.transient_gaps, replace=False)
    persistent, transient = sorted(chosen[: s.persistent_gaps]), sorted(chosen[s.persistent_gaps :])
    hit = insured["enterprise_id"].isin(persistent).to_numpy()
    insured.loc[hit, "insured"] = np.round(
        insured.loc[hit, "survey_employment"].astype(float) / 1.6
    ).astype(int)
    spike_period = s.insured_periods[len(s.insured_periods) // 2]
    hit = (
        insured["enterprise_id"].isin(transient) & (insured["period"] == spike_period)
    ).to_numpy()
    insured.loc[hit, "insured"] = np.round(
        insured.loc[hit, "survey_employment"].astype(float) * 1.8
    ).astype(int)
    ins_path = write_csv(
        insured.rename(
            columns={"enterprise_id": "统一社会信用代码", "period": "月份", "insured": "参保人数"}
        )[["统一社会信用代码", "月份", "参保人数"]],
        out / "社保参保人数.csv",
    )
    result["files"].append(ins_path)
    result["insured"] = ingest_insured(store, ins_path)
    result["planted"].update(
        persistent_gaps=[str(x) for x in persistent],
        transient_gaps=[str(x) for x in transient],
        transient_period=spike_period,
    )

    # 5. the cross-check's warnings, stored.
    stored = read_reports(store, list(s.insured_periods))
    from samplekit.store import read_network_table

    gaps = insurance_gaps(
        stored, read_network_table(store, "insured"), panel, settings=ins_settings
    )
    warnings = persistent_gaps(gaps, settings=ins_settings)
    write_insurance_warnings(
        store, warnings, checked_from=s.insured_periods[0], checked_to=s.insured_periods[-1]
    )
    result["insurance_warnings"] = len(warnings)
    return result
