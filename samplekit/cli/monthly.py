"""``samplekit ingest``, ``samplekit check`` and ``samplekit tables`` (monthly reports).

Exit codes of ``ingest``: 0 every row loaded; 3 some rows quarantined; 1 a file could not be
read (nothing loaded from it; the other files are still processed). ``check``: 0 no errors
(warnings allowed), 1 errors found. ``tables``: 0 written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samplekit.errors import PROBLEM_HEADERS_ZH, InputError, summarize_problems


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest", help="validate monthly report files and load them into the store",
        description="Validate each file and load it into the DuckDB store in one transaction: "
        "accepted rows are loaded (a resubmission replaces earlier rows, which go to the audit "
        "table), rows with errors go to the quarantine table. Loading the same file twice "
        "changes nothing. Exit 0: all loaded; 3: some quarantined; 1: a file could not be read.")
    p.add_argument("files", nargs="+", metavar="FILE", help="report files (CSV/XLSX, either "
                   "layout) or city-table files")
    p.add_argument("--store", required=True, metavar="PATH", help="DuckDB store (created)")
    p.add_argument("--panel", metavar="FILE", help="sample list (sample_list.csv) to load as "
                   "the current panel before ingesting")
    p.add_argument("--period", metavar="YYYY-MM", help="expected month of every row "
                   "(default: the month in each file name)")
    p.add_argument("--params", metavar="FILE", help="params YAML for validation thresholds")
    p.set_defaults(handler=run_ingest)

    c = subparsers.add_parser(
        "check", help="validate a report file without loading it; write the problem list",
        description="Validate one file by the form's rules and write the problems as CSV and "
        "XLSX (Chinese headers) to send back to the city. Exit 1 when any row has an error.")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--store", metavar="PATH", help="store to take the panel and last month's "
                   "figures from (read only)")
    c.add_argument("--panel", metavar="FILE", help="sample list to check membership against")
    c.add_argument("--period", metavar="YYYY-MM", help="expected month")
    c.add_argument("--out", metavar="DIR", help="where to write the problem list "
                   "(default: next to FILE)")
    c.add_argument("--params", metavar="FILE", help="params YAML for validation thresholds")
    c.set_defaults(handler=run_check)

    t = subparsers.add_parser(
        "tables", help="write the monthly tables (附表一/二/三 …) for one month",
        description="Write 附表一 (per city, every enterprise and a total), 附表二 (provincial "
        "summary by city and industry), 附表三 (individual economic organisations), the top 5 "
        "industries by persons reduced, the mass-layoff list and the reason distribution as "
        "CSV and one Chinese XLSX, for one network (--network) from the members in force that "
        "month.")
    t.add_argument("--store", required=True, metavar="PATH")
    t.add_argument("--period", required=True, metavar="YYYY-MM")
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--params", metavar="FILE", help="params YAML (layoff thresholds, city order)")
    t.add_argument("--network", choices=["ministry", "province"], default="ministry",
                   help="ministry (default): the ministry's tables from its monthly network "
                   "(失业动态监测) in the monitored cities; province: the province's own tables "
                   "from every member (企业用工定点监测). File names carry the network, e.g. "
                   "table2_ministry_2013-12.csv")
    t.set_defaults(handler=run_tables)


def _params(path: str | None):
    if path is None:
        return None
    from samplekit.params import load_params

    return load_params(path)


def _read_panel_file(path: str):
    from samplekit.io import read_table

    return read_table(path)


def run_ingest(args: argparse.Namespace) -> int:
    from samplekit.reports import ValidationRules
    from samplekit.store import connect, ingest_into, load_panel

    rules = ValidationRules.from_params(_params(args.params))
    if args.panel:
        n = load_panel(args.store, _read_panel_file(args.panel))
        print(f"panel: {n} enterprises loaded from {args.panel}")
    unreadable = 0
    totals = {"loaded": 0, "replaced": 0, "flagged": 0, "quarantined": 0}
    with connect(args.store) as con:
        for f in args.files:
            try:
                r = ingest_into(con, Path(f), expected_period=args.period, rules=rules)
            except InputError as exc:
                unreadable += 1
                print(f"{f}: NOT LOADED — {exc}")
                continue
            print(r.line())
            for k in totals:
                totals[k] += getattr(r, k)
            if r.quarantined:
                err = r.problems[r.problems["severity"] == "error"]
                print("  " + summarize_problems(err).replace("\n", "\n  "))
    print(f"total: loaded {totals['loaded']}, replaced {totals['replaced']}, "
          f"flagged {totals['flagged']}, quarantined {totals['quarantined']}"
          + (f"; {unreadable} file(s) could not be read" if unreadable else ""))
    if unreadable:
        return 1
    return 3 if totals["quarantined"] else 0


def run_check(args: argparse.Namespace) -> int:
    from samplekit.io import write_csv, write_xlsx
    from samplekit.reports import ValidationRules, check_file, previous_period, read_report_file

    rules = ValidationRules.from_params(_params(args.params))
    panel_ids = None
    previous = None
    if args.panel:
        panel_ids = _read_panel_file(args.panel)["enterprise_id"].astype(str).str.strip().tolist()
    membership = None
    if args.store:
        from samplekit.store import read_membership, read_reports

        if panel_ids is None:  # by month: the members in force in each row's month
            membership = read_membership(args.store)
            membership = membership if len(membership) else None
        rf = read_report_file(args.file, period=args.period)
        prev = sorted({previous_period(p) for p in rf.data["period"].dropna().unique()
                       if isinstance(p, str) and len(p) == 7})
        previous = read_reports(args.store, prev)
    rf, problems = check_file(args.file, panel_ids=panel_ids, expected_period=args.period,
                              previous=previous, rules=rules)
    if membership is not None:
        import pandas as pd

        from samplekit.errors import problems_frame
        from samplekit.panel import not_in_panel_problems

        extra = not_in_panel_problems(rf.data, membership, file=rf.path.name)
        if len(extra):
            problems = problems_frame(pd.concat([problems, extra], ignore_index=True))
    src = Path(args.file)
    out = Path(args.out) if args.out else src.parent
    stem = f"{src.stem}_problems"
    csv_path = write_csv(problems, out / f"{stem}.csv")
    xlsx_path = write_xlsx({"问题清单": problems}, out / f"{stem}.xlsx",
                           headers=PROBLEM_HEADERS_ZH,
                           titles={"问题清单": f"{src.name} 数据审核问题清单"},
                           about={"文件": src.name, "行数": len(rf.data),
                                  "错误": int((problems["severity"] == "error").sum()),
                                  "警告": int((problems["severity"] == "warning").sum()),
                                  "说明": "错误(error)的行不会入库;警告(warning)的行入库并标记待核实"})
    n_err = int((problems["severity"] == "error").sum())
    n_warn = int((problems["severity"] == "warning").sum())
    bad_rows = problems.loc[problems["severity"] == "error", "row"].dropna().nunique()
    print(f"{src.name}: {len(rf.data)} rows ({rf.layout} layout) — {n_err} error(s) in "
          f"{bad_rows} row(s), {n_warn} warning(s)")
    if len(problems):
        print(summarize_problems(problems))
    print(f"problem list: {csv_path}\n              {xlsx_path}")
    return 1 if n_err else 0


def run_tables(args: argparse.Namespace) -> int:
    from samplekit.monthly_tables import write_monthly_tables

    params = _params(args.params)
    paths = write_monthly_tables(args.store, args.period, args.out, params=params,
                                 network=args.network)
    for p in paths:
        print(p)
    return 0
