"""``samplekit ingest``, ``samplekit check`` and ``samplekit tables`` (monthly reports).

Exit codes of ``ingest``: 0 every row loaded; 3 some rows quarantined; 1 a file could not be
read (nothing loaded from it; the other files are still processed). ``check``: 0 no errors
(warnings allowed), 1 errors found. ``tables``: 0 written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samplekit.errors import PROBLEM_HEADERS_ZH, summarize_problems
from samplekit.params import load_optional_params


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="审核月度报表文件并导入监测数据库",
        description="逐个文件审核并在一个事务中导入 DuckDB 监测数据库:通过的行入库(更正重报替换"
        "原有行,原行进入审计表),有错误的行进入隔离表。同一文件导入两次不会改变任何数据。"
        "退出码 0:全部入库;3:部分行被隔离;1:有文件无法读取。",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="报表文件(CSV/XLSX,两种格式均可)或城市汇总表文件"
    )
    p.add_argument("--store", required=True, metavar="PATH", help="DuckDB 监测数据库(不存在则新建)")
    p.add_argument("--panel", metavar="FILE", help="导入前先载入的当前样本名单(sample_list.csv)")
    p.add_argument("--period", metavar="YYYY-MM", help="每行应属的月份(默认取各文件名中的月份)")
    p.add_argument("--params", metavar="FILE", help="参数文件(审核阈值)")
    p.add_argument(
        "--names",
        metavar="FILE",
        help="某市的名称对照表(单位名称, 统一社会信用代码),用于只填了名称的行",
    )
    p.add_argument("--allow-future", action="store_true", help="接受晚于当前月份的报表")
    p.add_argument(
        "--force", action="store_true", help="接受改变数据库中四分之一以上在册企业的 --panel 名单"
    )
    p.set_defaults(handler=run_ingest)

    c = subparsers.add_parser(
        "check",
        help="只审核报表文件(不入库),写出问题清单",
        description="按报表规则审核一个文件,把问题写成 CSV 和 XLSX(中文表头)退回城市核改。"
        "任何一行有错误时退出码 1。",
    )
    c.add_argument("file", metavar="FILE", help="报表文件")
    c.add_argument("--store", metavar="PATH", help="从此数据库读取在册名单和上月数据(只读)")
    c.add_argument("--panel", metavar="FILE", help="核对是否在册所用的样本名单")
    c.add_argument("--period", metavar="YYYY-MM", help="应属月份")
    c.add_argument("--out", metavar="DIR", help="问题清单的输出目录(默认与 FILE 同目录)")
    c.add_argument("--params", metavar="FILE", help="参数文件(审核阈值)")
    c.add_argument(
        "--names",
        metavar="FILE",
        help="某市的名称对照表(单位名称, 统一社会信用代码),用于只填了名称的行",
    )
    c.add_argument("--allow-future", action="store_true", help="接受晚于当前月份的报表")
    c.set_defaults(handler=run_check)

    t = subparsers.add_parser(
        "tables",
        help="写出某月的月度报表(附表一/二/三等)",
        description="按当月在册的监测企业写出附表一(各市逐户及合计)、附表二(全省按城市和行业汇总)、"
        "附表三(城镇个体经济组织)、减员最多的5个行业、大规模减员企业名单和减员原因分布,"
        "每个监测网络(--network)一套 CSV 和一个中文 XLSX。",
    )
    t.add_argument("--store", required=True, metavar="PATH", help="DuckDB 监测数据库")
    t.add_argument("--period", required=True, metavar="YYYY-MM", help="调查月份")
    t.add_argument("--out", required=True, metavar="DIR", help="输出目录")
    t.add_argument("--params", metavar="FILE", help="参数文件(规模裁员阈值、城市顺序)")
    t.add_argument(
        "--network",
        choices=["ministry", "province"],
        default="ministry",
        help="ministry(默认):人社部失业动态监测网络在监测城市的报表;province:"
        "全省企业用工定点监测网络全部企业的报表。文件名带网络名,"
        "如 table2_ministry_2013-12.csv",
    )
    t.add_argument("--no-documents", action="store_true", help="不写 Word 月度分析报告")
    t.add_argument("--pdf", action="store_true", help="同时把 Word 报告转为 PDF(需要 LibreOffice)")
    t.set_defaults(handler=run_tables)


def _read_panel_file(path: str):
    from samplekit.io import read_table

    return read_table(path)


def _mapping(path: str | None) -> dict[str, str] | None:
    if path is None:
        return None
    from samplekit.io import read_table
    from samplekit.names import read_name_mapping

    return read_name_mapping(read_table(path), file=path)


def _cities(params) -> list[str] | None:
    if params is None or params.get("province.cities", None) is None:
        return None
    from samplekit.cities import load_cities

    return load_cities(params.path_of("province.cities"))["city"].tolist()


def _checked_panel(args: argparse.Namespace, params) -> object:
    """Read the --panel file and validate it in full against the stored panel; refuse (the
    store untouched) on any error."""
    from samplekit.errors import ValidationError
    from samplekit.sample_list_check import validate_panel

    panel = _read_panel_file(args.panel)
    stored = None
    if Path(args.store).exists():
        from samplekit.store import connect

        with connect(args.store, read_only=True) as con:
            if con.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE "
                "table_name = 'panel_membership'"
            ).fetchall()[0][0]:
                stored = [
                    r[0]
                    for r in con.execute(
                        "SELECT enterprise_id FROM panel_membership WHERE valid_to IS NULL"
                    ).fetchall()
                ] or None
    problems = validate_panel(
        panel,
        file=Path(args.panel).name,
        stored_ids=stored,
        cities=_cities(params),
        force=args.force,
    )
    errors = problems[problems["severity"] == "error"]
    if len(errors):
        raise ValidationError(
            f"{args.panel}: 名单有 {len(errors)} 个问题,未载入,存储中的名单未改变:\n"
            + summarize_problems(errors),
            problems,
        )
    return panel


def run_ingest(args: argparse.Namespace) -> int:
    from samplekit.errors import SamplekitError
    from samplekit.reports import ValidationRules
    from samplekit.store import connect, ingest_into, load_panel

    params = load_optional_params(args.params)
    rules = ValidationRules.from_params(params)
    mapping = _mapping(args.names)
    if args.panel:
        n = load_panel(
            args.store, _checked_panel(args, params), force=args.force, effective=args.period
        )
        print(f"样本名单:已从 {args.panel} 载入 {n} 家企业")
    unreadable = 0
    totals = {"loaded": 0, "replaced": 0, "unchanged": 0, "flagged": 0, "quarantined": 0}
    with connect(args.store) as con:
        for f in args.files:
            try:
                r = ingest_into(
                    con,
                    Path(f),
                    expected_period=args.period,
                    rules=rules,
                    mapping=mapping,
                    allow_future=args.allow_future,
                )
            except SamplekitError as exc:  # one bad file never stops the others
                unreadable += 1
                print(f"{f}:未入库 — {exc}")
                continue
            print(r.line())
            for k in totals:
                totals[k] += getattr(r, k)
            if r.quarantined:
                err = r.problems[r.problems["severity"] == "error"]
                print("  " + summarize_problems(err).replace("\n", "\n  "))
            file_level = r.problems[r.problems["row"].isna()]
            for msg in file_level["message"]:
                print(f"  注意:{msg}")
    print(
        f"合计:入库 {totals['loaded']} 行,更正替换 {totals['replaced']} 行,"
        f"未变 {totals['unchanged']} 行,标记待核实 {totals['flagged']} 行,"
        f"隔离 {totals['quarantined']} 行" + (f";{unreadable} 个文件无法读取" if unreadable else "")
    )
    if unreadable:
        return 1
    return 3 if totals["quarantined"] else 0


def run_check(args: argparse.Namespace) -> int:
    from samplekit.io import write_csv, write_xlsx
    from samplekit.reports import ValidationRules, check_file, previous_period, read_report_file

    rules = ValidationRules.from_params(load_optional_params(args.params))
    mapping = _mapping(args.names)
    panel = None
    previous = None
    # The month is decided as ingest decides it (--period, title and file name must agree).
    rf = read_report_file(args.file, period=args.period, allow_future=args.allow_future)
    if args.panel:
        raw = _read_panel_file(args.panel)
        panel = raw.reindex(columns=["enterprise_id", "name", "city"])
        panel["enterprise_id"] = panel["enterprise_id"].astype(str).str.strip()
    if args.store:
        from samplekit.store import connect, panel_members, read_reports

        if panel is None:
            with connect(args.store, read_only=True) as con:
                panel = panel_members(con, rf.expected_period)
        prev = sorted(
            {
                previous_period(p)
                for p in rf.data["period"].dropna().unique()
                if isinstance(p, str) and len(p) == 7
            }
        )
        previous = read_reports(args.store, prev)
    panel = panel if panel is not None and len(panel) else None
    rf, problems = check_file(
        args.file,
        expected_period=args.period,
        previous=previous,
        rules=rules,
        panel=panel,
        mapping=mapping,
        allow_future=args.allow_future,
    )
    src = Path(args.file)
    out = Path(args.out) if args.out else src.parent
    stem = f"{src.stem}_problems"
    csv_path = write_csv(problems, out / f"{stem}.csv")
    xlsx_path = write_xlsx(
        {"问题清单": problems},
        out / f"{stem}.xlsx",
        headers=PROBLEM_HEADERS_ZH,
        titles={"问题清单": f"{src.name} 数据审核问题清单"},
        about={
            "文件": src.name,
            "行数": len(rf.data),
            "调查期": rf.expected_period or "",
            "错误": int((problems["severity"] == "error").sum()),
            "警告": int((problems["severity"] == "warning").sum()),
            "说明": "错误(error)的行不会入库;警告(warning)的行入库并标记待核实",
        },
    )
    n_err = int((problems["severity"] == "error").sum())
    n_warn = int((problems["severity"] == "warning").sum())
    bad_rows = problems.loc[problems["severity"] == "error", "row"].dropna().nunique()
    print(
        f"{src.name}:{len(rf.data)} 行({rf.layout} 格式)— {bad_rows} 行共 {n_err} 处错误,"
        f"警告 {n_warn} 条"
    )
    if len(problems):
        print(summarize_problems(problems))
    print(f"问题清单:{csv_path}\n          {xlsx_path}")
    return 1 if n_err else 0


def run_tables(args: argparse.Namespace) -> int:
    from samplekit.monthly_tables import tables_for, write_monthly_tables

    params = load_optional_params(args.params)
    note = ""
    if params is not None:
        from samplekit import jobs

        note = jobs.data_note(params)
    tables = tables_for(args.store, args.period, params=params, network=args.network)
    paths = write_monthly_tables(
        args.store,
        args.period,
        args.out,
        params=params,
        network=args.network,
        tables=tables,
        data_note=note,
    )
    if not args.no_documents:
        from samplekit import documents
        from samplekit.store import read_membership, read_reports

        province = str(params.get("province.name", "全省")) if params is not None else "全省"
        paths += documents.write_monthly_documents(
            tables,
            args.out,
            period=args.period,
            province=province,
            reports=read_reports(args.store),
            panel=read_membership(args.store),
            data_note=note,
            pdf=args.pdf,
        )
    for p in paths:
        print(p)
    return 0
