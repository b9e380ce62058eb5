"""``samplekit ingest``, ``samplekit check`` and ``samplekit tables`` (monthly reports).

Exit codes of ``ingest``: 0 every row loaded; 3 some rows quarantined; 1 a file could not be
read (nothing loaded from it; the other files are still processed). ``check``: 0 no errors
(warnings allowed), 1 errors found. ``tables``: 0 written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samplekit.errors import PROBLEM_HEADERS_ZH, summarize_problems


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
    p.add_argument("--names", metavar="FILE", help="a city's name mapping (单位名称, "
                   "统一社会信用代码) for rows given by name only")
    p.add_argument("--allow-future", action="store_true", help="accept a month after the "
                   "current one")
    p.add_argument("--force", action="store_true", help="accept a --panel list that changes "
                   "more than a quarter of the stored panel")
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
    c.add_argument("--names", metavar="FILE", help="a city's name mapping (单位名称, "
                   "统一社会信用代码) for rows given by name only")
    c.add_argument("--allow-future", action="store_true", help="accept a month after the "
                   "current one")
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
    t.add_argument("--no-documents", action="store_true",
                   help="skip the Word monthly analysis report (月度分析报告)")
    t.add_argument("--pdf", action="store_true",
                   help="also convert the Word reports to PDF (needs LibreOffice)")
    t.set_defaults(handler=run_tables)


def _params(path: str | None):
    if path is None:
        return None
    from samplekit.params import load_params

    return load_params(path)


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
            if con.execute("SELECT COUNT(*) FROM information_schema.tables WHERE "
                           "table_name = 'panel_membership'").fetchall()[0][0]:
                stored = [r[0] for r in con.execute(
                    "SELECT enterprise_id FROM panel_membership WHERE valid_to IS NULL"
                ).fetchall()] or None
    problems = validate_panel(panel, file=Path(args.panel).name, stored_ids=stored,
                              cities=_cities(params), force=args.force)
    errors = problems[problems["severity"] == "error"]
    if len(errors):
        raise ValidationError(
            f"{args.panel}: 名单有 {len(errors)} 个问题,未载入,存储中的名单未改变:\n"
            + summarize_problems(errors), problems)
    return panel


def run_ingest(args: argparse.Namespace) -> int:
    from samplekit.errors import SamplekitError
    from samplekit.reports import ValidationRules
    from samplekit.store import connect, ingest_into, load_panel

    params = _params(args.params)
    rules = ValidationRules.from_params(params)
    mapping = _mapping(args.names)
    if args.panel:
        n = load_panel(args.store, _checked_panel(args, params), force=args.force,
                       effective=args.period)
        print(f"panel: {n} enterprises loaded from {args.panel}")
    unreadable = 0
    totals = {"loaded": 0, "replaced": 0, "unchanged": 0, "flagged": 0, "quarantined": 0}
    with connect(args.store) as con:
        for f in args.files:
            try:
                r = ingest_into(con, Path(f), expected_period=args.period, rules=rules,
                                mapping=mapping, allow_future=args.allow_future)
            except SamplekitError as exc:  # one bad file never stops the others
                unreadable += 1
                print(f"{f}: NOT LOADED — {exc}")
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
    print(f"total: loaded {totals['loaded']}, replaced {totals['replaced']}, "
          f"unchanged {totals['unchanged']}, flagged {totals['flagged']}, "
          f"quarantined {totals['quarantined']}"
          + (f"; {unreadable} file(s) could not be read" if unreadable else ""))
    if unreadable:
        return 1
    return 3 if totals["quarantined"] else 0


def run_check(args: argparse.Namespace) -> int:
    from samplekit.io import write_csv, write_xlsx
    from samplekit.reports import ValidationRules, check_file, previous_period, read_report_file

    rules = ValidationRules.from_params(_params(args.params))
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
        prev = sorted({previous_period(p) for p in rf.data["period"].dropna().unique()
                       if isinstance(p, str) and len(p) == 7})
        previous = read_reports(args.store, prev)
    panel = panel if panel is not None and len(panel) else None
    rf, problems = check_file(args.file, expected_period=args.period, previous=previous,
                              rules=rules, panel=panel, mapping=mapping,
                              allow_future=args.allow_future)
    src = Path(args.file)
    out = Path(args.out) if args.out else src.parent
    stem = f"{src.stem}_problems"
    csv_path = write_csv(problems, out / f"{stem}.csv")
    xlsx_path = write_xlsx({"问题清单": problems}, out / f"{stem}.xlsx",
                           headers=PROBLEM_HEADERS_ZH,
                           titles={"问题清单": f"{src.name} 数据审核问题清单"},
                           about={"文件": src.name, "行数": len(rf.data),
                                  "调查期": rf.expected_period or "",
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
    from samplekit.monthly_tables import tables_for, write_monthly_tables

    params = _params(args.params)
    note = ""
    if params is not None:
        from samplekit import jobs

        note = jobs.data_note(params)
    tables = tables_for(args.store, args.period, params=params, network=args.network)
    paths = write_monthly_tables(args.store, args.period, args.out, params=params,
                                 network=args.network, tables=tables, data_note=note)
    if not args.no_documents:
        from samplekit import documents
        from samplekit.store import read_membership, read_reports

        province = str(params.get("province.name", "全省")) if params is not None else "全省"
        paths += documents.write_monthly_documents(
            tables, args.out, period=args.period, province=province,
            reports=read_reports(args.store), panel=read_membership(args.store), data_note=note,
            pdf=args.pdf)
    for p in paths:
        print(p)
    return 0
