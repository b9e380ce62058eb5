"""Running the monitoring network (issue 13): receipts, chase-up lists, supplementary records,
the social-insurance cross-check and the quarterly city evaluation.

* ``samplekit receive FILE... --store S --received TIME [--city C]`` — ingest report files and
  record when they were received (the time comes from ``--received`` or from the file's
  报送时间 column; never guessed: without either the file is not loaded);
* ``samplekit receipt --store S --city C --quarter Q --received TIME`` — a city's quarterly
  analysis report was received;
* ``samplekit chase --store S --period YYYY-MM [--out DIR]`` — the chase-up list (催报名单) per
  city, with the contacts the panel has;
* ``samplekit supplement FILE... --store S --kind events|notes|insured`` — supplementary
  records (补充数据, 裁员方案报告), special notes (专项说明), insured persons (社保参保人数);
* ``samplekit crosscheck --store S --from M --to M [--out DIR]`` — reported employment vs
  insured persons; persistent gaps become warnings in the store;
* ``samplekit evaluate --params FILE --quarter YYYYQn --out DIR`` — the quarterly evaluation of
  cities (考核通报) as Excel and CSV.

Exit codes: 0 ok; 1 bad input; 3 some rows quarantined (receive, supplement).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from samplekit.errors import InputError, summarize_problems
from samplekit.params import load_optional_params

RECEIPT_COLUMNS = ("received_at", "报送时间", "上报时间", "收到时间", "接收时间")


def register(subparsers: argparse._SubParsersAction) -> None:
    r = subparsers.add_parser(
        "receive",
        help="导入报表文件并记录收到时间",
        description="像 ingest 一样审核并导入报表文件,同时记录每个文件的收到时间(--received,"
        "或文件中只有一个取值的“报送时间”列)。没有收到时间的文件被拒绝:迟报与否从不猜测。",
    )
    r.add_argument("files", nargs="+", metavar="FILE", help="报表文件")
    r.add_argument("--store", required=True, metavar="PATH", help="DuckDB 监测数据库")
    r.add_argument("--received", metavar="TIME", help="收到时间,如 '2013-10-04 16:30'")
    r.add_argument(
        "--city",
        metavar="CITY",
        help="文件所属城市(默认:全省文件,各市部分记相同时间)",
    )
    r.add_argument("--period", metavar="YYYY-MM", help="每行应属的月份")
    r.add_argument("--params", metavar="FILE", help="参数文件(审核阈值)")
    r.set_defaults(handler=run_receive)

    a = subparsers.add_parser(
        "receipt",
        help="登记某市季度分析报告的收到时间",
        description="登记某市季度分析(预警)报告的收到时间;考核按报送时限"
        "(monthly.calendar.quarterly_report_day)评分。",
    )
    a.add_argument("--store", required=True, metavar="PATH", help="DuckDB 监测数据库")
    a.add_argument("--city", required=True, metavar="CITY", help="城市")
    a.add_argument("--quarter", required=True, metavar="YYYYQn", help="季度,如 2013Q4")
    a.add_argument(
        "--received", required=True, metavar="TIME", help="收到时间,如 '2014-01-04 16:30'"
    )
    a.set_defaults(handler=run_receipt)

    c = subparsers.add_parser(
        "chase",
        help="按城市写出某月的催报名单",
        description="按城市列出当月应报而未报或报表未通过审核的监测企业及其联系方式,"
        "并给出各市当月报送情况(按时、迟报、漏报、隔离、更正重报)。",
    )
    c.add_argument("--store", required=True, metavar="PATH", help="DuckDB 监测数据库")
    c.add_argument("--period", required=True, metavar="YYYY-MM", help="月份")
    c.add_argument("--out", metavar="DIR", help="输出目录(默认当前目录)")
    c.add_argument("--params", metavar="FILE", help="参数文件(monthly.calendar)")
    c.set_defaults(handler=run_chase)

    s = subparsers.add_parser(
        "supplement",
        help="导入补充数据、专项说明或社保参保人数",
        description="审核并导入报表以外的文件:events(补充数据:样本外规模裁员;裁员方案报告)、"
        "notes(监测企业规模减员和关闭的专项说明)或 insured(逐企业逐月社保参保人数)。"
        "有错误的行被隔离;同一文件导入两次不会改变任何数据。",
    )
    s.add_argument("files", nargs="+", metavar="FILE", help="文件")
    s.add_argument("--store", required=True, metavar="PATH", help="DuckDB 监测数据库")
    s.add_argument(
        "--kind",
        required=True,
        choices=["events", "notes", "insured"],
        help="文件类别:events 补充数据 / notes 专项说明 / insured 社保参保人数",
    )
    s.add_argument("--period", metavar="YYYY-MM", help="events:应属月份")
    s.add_argument("--params", metavar="FILE", help="参数文件(monthly.events)")
    s.set_defaults(handler=run_supplement)

    x = subparsers.add_parser(
        "crosscheck",
        help="报表从业人数与社保参保人数比对",
        description="把 `supplement --kind insured` 导入的参保人数与监测企业报表逐户比对;"
        "列出超出容差的差异,持续差异记为预警(monthly.insurance)。",
    )
    x.add_argument("--store", required=True, metavar="PATH", help="DuckDB 监测数据库")
    x.add_argument("--from", dest="start", required=True, metavar="YYYY-MM", help="起始月份")
    x.add_argument("--to", dest="end", required=True, metavar="YYYY-MM", help="截止月份")
    x.add_argument("--out", metavar="DIR", help="输出目录")
    x.add_argument("--params", metavar="FILE", help="参数文件(monthly.insurance)")
    x.set_defaults(handler=run_crosscheck)

    e = subparsers.add_parser(
        "evaluate",
        help="各市季度考核(考核通报)",
        description="按报送及时性、数据质量和数据分析给各市本季度评分(权重见参数 evaluation 部分),"
        "排名并写出考核通报(中文表头的 Excel 和 CSV)。",
    )
    e.add_argument("--params", required=True, metavar="FILE", help="参数文件")
    e.add_argument("--quarter", required=True, metavar="YYYYQn", help="季度,如 2013Q4")
    e.add_argument("--out", required=True, metavar="DIR", help="输出目录")
    e.set_defaults(handler=run_evaluate)


def _time(text: str, what: str) -> Any:
    from samplekit.sidefiles import parse_datetime

    ts = parse_datetime(text)
    if ts is None:
        raise InputError(f"{what} = {text!r} 不是时间;请写成 '2013-10-04 16:30' 的样式")
    return ts


def _file_receipt(path: Path) -> Any:
    """The receipt time written in the file (one value in a 报送时间 column), or None."""
    from samplekit.sidefiles import parse_datetime, read_side_file

    try:
        side = read_side_file(
            path,
            aliases=dict.fromkeys(RECEIPT_COLUMNS, "received_at"),
            required=["received_at"],
            what="报表",
        )
    except InputError:
        return None  # no such column (an unreadable file is reported by the ingest itself)
    values = sorted({str(v).strip() for v in side.data["received_at"].dropna() if str(v).strip()})
    if len(values) != 1:
        raise InputError(
            f"{path.name}:“报送时间”列对整个文件只能有一个时间,发现 {len(values)} 个"
            f"({'、'.join(values[:3])});请改用 --received"
        )
    ts = parse_datetime(values[0])
    if ts is None:
        raise InputError(f"{path.name}:报送时间 = {values[0]!r} 不是时间")
    return ts


def run_receive(args: argparse.Namespace) -> int:
    from samplekit.reports import ValidationRules
    from samplekit.store import connect, ingest_into, record_receipt

    rules = ValidationRules.from_params(load_optional_params(args.params))
    given = _time(args.received, "--received") if args.received else None
    quarantined = unreadable = 0
    for f in args.files:
        p = Path(f)
        try:
            at, source = (given, "argument") if given is not None else (_file_receipt(p), "file")
            if at is None:
                raise InputError(
                    f"{p.name}:没有收到时间;请用 --received 给出,或在文件中加“报送时间”列"
                    "(收到时间从不猜测)"
                )
            with connect(args.store) as con:
                r = ingest_into(con, p, expected_period=args.period, rules=rules)
        except InputError as exc:
            unreadable += 1
            print(f"{f}:未入库 — {exc}")
            continue
        print(r.line())
        if r.status == "loaded":
            record_receipt(
                args.store, load_id=r.load_id, city=args.city, received_at=at, source=source
            )
            print(
                f"  收到时间 {at:%Y-%m-%d %H:%M}({'命令行' if source == 'argument' else '文件'})"
                + (f",{args.city}" if args.city else "")
            )
        if r.quarantined:
            quarantined += r.quarantined
            err = r.problems[r.problems["severity"] == "error"]
            print("  " + summarize_problems(err).replace("\n", "\n  "))
    if unreadable:
        return 1
    return 3 if quarantined else 0


def run_receipt(args: argparse.Namespace) -> int:
    from samplekit.periods import QUARTER_RE
    from samplekit.store import record_receipt

    if not QUARTER_RE.match(args.quarter):
        raise InputError(f"--quarter {args.quarter!r} 应为 2013Q4 的样式")
    at = _time(args.received, "--received")
    record_receipt(
        args.store,
        kind="analysis",
        city=args.city,
        period=args.quarter,
        received_at=at,
        source="argument",
    )
    print(f"{args.city} {args.quarter} 季度分析报告: received {at:%Y-%m-%d %H:%M}")
    return 0


def run_chase(args: argparse.Namespace) -> int:
    from samplekit.io import write_csv, write_xlsx
    from samplekit.jobs import members_expected, reporting_status
    from samplekit.periods import MONTH_RE
    from samplekit.reporting_calendar import (
        HEADERS_ZH,
        STATUS_ZH,
        CalendarSettings,
        chase_list,
        city_status,
    )
    from samplekit.store import read_row_problems

    if not MONTH_RE.match(args.period):
        raise InputError(f"--period {args.period!r} 应为 2013-12 的月份样式")
    settings = CalendarSettings.from_params(load_optional_params(args.params))
    status = reporting_status(args.store, [args.period], settings=settings)
    panel = members_expected(args.store, args.period)
    problems = read_row_problems(args.store, [args.period])
    problems = problems[problems["severity"] == "error"]
    chase = chase_list(status, panel, problems=problems)
    summary = city_status(status)
    out = Path(args.out or ".")
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        write_csv(chase, out / f"chase_{args.period}.csv"),
        write_csv(summary.round(2), out / f"reporting_status_{args.period}.csv"),
    ]
    sheets = {"报送情况": summary.round(2)}
    for city, g in chase.groupby("city", sort=True):
        sheets[f"催报_{city}"] = g.drop(columns=["status"])
    missing_contacts = not any(c in panel.columns for c in ("contact_person", "contact_phone"))
    paths.append(
        write_xlsx(
            sheets,
            out / f"催报名单_{args.period}.xlsx",
            headers=HEADERS_ZH,
            titles={
                k: f"{args.period} {'各市报送情况' if k == '报送情况' else k[3:] + '催报名单'}"
                for k in sheets
            },
            about={
                "调查期": args.period,
                "存储": Path(args.store).name,
                "报送状态": ";".join(f"{k}={v}" for k, v in STATUS_ZH.items()),
                "联系人": "监测名单中无联系人信息,请各市补充"
                if missing_contacts
                else "取自监测名单",
            },
            source="企业用工定点监测直报数据",
        )
    )
    total = summary[summary["city"] == "全省"].iloc[0]
    print(
        f"{args.period}:应报 {total['expected']} 家,已报 {total['reported']} 家"
        f"(报送率 {total['response_rate']:.1f}%),按时 {total['on_time']},迟报 {total['late']},"
        f"漏报 {total['missing']},未通过审核 {total['quarantined']}"
    )
    for row in summary[
        (summary["city"] != "全省") & ((summary["missing"] > 0) | (summary["quarantined"] > 0))
    ].itertuples():
        print(f"  {row.city}: 漏报 {row.missing}, 未通过审核 {row.quarantined}")
    if missing_contacts:
        print("注意:样本名单没有联系方式列,催报名单中不含联系方式")
    for p in paths:
        print(p)
    return 0


def run_supplement(args: argparse.Namespace) -> int:
    from samplekit.events import EventSettings
    from samplekit.store import ingest_events, ingest_insured, ingest_special_notes

    params = load_optional_params(args.params)
    quarantined = unreadable = 0
    for f in args.files:
        try:
            if args.kind == "events":
                r = ingest_events(
                    args.store,
                    f,
                    settings=EventSettings.from_params(params),
                    expected_period=args.period,
                )
            elif args.kind == "notes":
                r = ingest_special_notes(args.store, f)
            else:
                r = ingest_insured(args.store, f)
        except InputError as exc:
            unreadable += 1
            print(f"{f}:未入库 — {exc}")
            continue
        print(r.line())
        if r.quarantined:
            quarantined += r.quarantined
            err = r.problems[r.problems["severity"] == "error"]
            print("  " + summarize_problems(err).replace("\n", "\n  "))
    if unreadable:
        return 1
    return 3 if quarantined else 0


def run_crosscheck(args: argparse.Namespace) -> int:
    from samplekit.insurance import (
        HEADERS_ZH,
        InsuranceSettings,
        city_gap_summary,
        insurance_gaps,
        persistent_gaps,
    )
    from samplekit.io import write_csv, write_xlsx
    from samplekit.periods import month_range
    from samplekit.store import (
        read_network_table,
        read_panel,
        read_reports,
        write_insurance_warnings,
    )

    settings = InsuranceSettings.from_params(load_optional_params(args.params))
    months = month_range(args.start, args.end)
    insured = read_network_table(args.store, "insured")
    insured = insured[insured["period"].isin(months)]
    if insured.empty:
        raise InputError(
            f"{args.store}:{args.start}–{args.end} 没有社保参保人数;"
            "请先用 `samplekit supplement 文件 --kind insured` 导入"
        )
    gaps = insurance_gaps(
        read_reports(args.store, months), insured, read_panel(args.store), settings=settings
    )
    warnings = persistent_gaps(gaps, settings=settings)
    write_insurance_warnings(args.store, warnings, checked_from=args.start, checked_to=args.end)
    flagged = gaps[gaps["status"] == "discrepancy"]
    print(
        f"{args.start}–{args.end}:企业·月 {len(gaps)} 个,匹配 "
        f"{int((gaps['status'] != 'no_insured').sum())} 个,超出容差 {len(flagged)} 个,"
        f"持续差异 {len(warnings)} 个(已记为预警)"
    )
    if args.out:
        out = Path(args.out)
        summary = city_gap_summary(gaps)
        write_csv(flagged, out / f"insurance_gaps_{args.start}_{args.end}.csv")
        write_csv(warnings, out / f"insurance_warnings_{args.start}_{args.end}.csv")
        print(
            write_xlsx(
                {"持续差异": warnings, "超出容差": flagged, "分市汇总": summary},
                out / f"社保比对_{args.start}_{args.end}.xlsx",
                headers=HEADERS_ZH,
                about={
                    "月份": f"{args.start}–{args.end}",
                    "容差": f"max({settings.tolerance_persons}人, "
                    f"{settings.tolerance_share:.0%}×参保人数)",
                    "持续": f"连续{settings.persistence_months}个月",
                },
            )
        )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from samplekit.periods import QUARTER_RE

    if not QUARTER_RE.match(args.quarter):
        raise InputError(f"--quarter {args.quarter!r} 应为 2013Q4 的样式")
    import importlib.util

    from samplekit import jobs
    from samplekit.evaluation import EvaluationSettings, write_circular

    params = load_optional_params(args.params)
    _, scores = jobs.evaluation(params, args.quarter)
    paths = write_circular(
        scores,
        quarter=args.quarter,
        out_dir=args.out,
        province=str(params.get("province.name", "全省")),
        settings=EvaluationSettings.from_params(params),
        note=jobs.data_note(params),
    )
    if importlib.util.find_spec("samplekit.documents") is None:
        print("注意:samplekit.documents 不可用,考核通报只写出 Excel 和 CSV(无 Word)")
    top, bottom = scores.iloc[0], scores.iloc[-1]
    print(
        f"{args.quarter}:{len(scores)} 个城市;第一名 {top['city']}({top['total']:.1f} 分),"
        f"最后一名 {bottom['city']}({bottom['total']:.1f} 分)"
    )
    for p in paths:
        print(p)
    return 0
