"""CLI: ``samplekit select`` (the sample list) and ``samplekit maintain`` (the December window).

Exit codes: 0 written; 1 bad params/input, or written but with problems (a cell with too few
eligible units, a calibration that did not converge, a run outside the window); 2 infeasible.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.cli.allocation import add_params, params_arg
from samplekit.errors import InputError
from samplekit.reference import FLAG_ZH, code_names

_CELL_INT_COLUMNS = ("frame_units", "existing", "existing_monthly", "n", "n_monthly")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``select`` and ``maintain`` commands."""
    p = sub.add_parser(
        "select",
        help="逐层抽选监测企业(永久随机数)",
        description="每个分配单元保留正常经营的现有监测企业,其余名额按永久随机数顺序"
        "(或序贯泊松 PPS)补足;计算入样概率、设计权数与校准权数、备选名单和月度子样本。"
        "写出 sample_list.csv/.xlsx(监测企业名单)、reserve_list.csv、representativeness.csv "
        "及诊断表。名录、现有样本和分配结果默认取自参数文件。",
    )
    add_params(p)
    p.add_argument(
        "--out",
        type=Path,
        default=Path("reports/selection"),
        metavar="DIR",
        help="输出目录(默认 reports/selection)",
    )
    p.add_argument(
        "--frame", type=Path, default=None, metavar="FILE", help="企业名录文件(覆盖参数 frame.path)"
    )
    p.add_argument(
        "--panel",
        type=Path,
        default=None,
        metavar="FILE",
        help="现有监测企业名单(enterprise_id 列;覆盖参数 panel.path)",
    )
    p.add_argument(
        "--cells",
        type=Path,
        default=None,
        metavar="FILE",
        help="samplekit allocate 写出的 allocation_cells.csv(默认:现在分配)",
    )
    p.add_argument(
        "--method", choices=("srs", "pps"), default=None, help="抽样方法,覆盖参数 selection.method"
    )
    _store_flags(p, "把样本名单作为新的抽样设计窗口写入此 DuckDB 监测数据库(在册记录)")
    p.set_defaults(handler=_select)

    m = sub.add_parser(
        "maintain",
        help="12月调整窗口:退出、从备选名单替换、重新平衡、记录",
        description="关闭、迁出、停业、不在名录或不再符合条件的监测企业退出,由同层备选企业按永久随机数"
        "顺序替换(本层用尽时取最近的层);给出 --cells 时按新分配重新平衡,尽量保留正常经营的企业。"
        "写出新的样本名单和 change_log.csv。不在调整月份时不作任何改变,除非参数或 --force 强制。",
    )
    add_params(m)
    m.add_argument(
        "--panel",
        type=Path,
        default=None,
        metavar="FILE",
        help="当前名单:上次 select/maintain 写出的 sample_list.csv"
        "(给出 --store 时默认取数据库中在册的企业)",
    )
    m.add_argument("--frame", type=Path, required=True, metavar="FILE", help="新的企业名录文件")
    m.add_argument("--out", type=Path, required=True, metavar="DIR", help="输出目录")
    m.add_argument(
        "--cells", type=Path, default=None, metavar="FILE", help="新的分配单元(默认:各单元名额不变)"
    )
    m.add_argument("--period", default=None, metavar="YYYY-MM", help="调整月份(默认取参数 period)")
    m.add_argument("--force", action="store_true", help="允许在调整月份以外调整(记入摘要)")
    m.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="PATH",
        help="DuckDB 监测数据库:未给 --panel 时从中取当前名单,并把新名单写为维护窗口",
    )
    m.add_argument(
        "--effective",
        default=None,
        metavar="YYYY-MM",
        help="新名单的起始月份(默认 --period 的下一个月)",
    )
    m.set_defaults(handler=_maintain)


def _store_flags(p: argparse.ArgumentParser, help_store: str) -> None:
    p.add_argument("--store", type=Path, default=None, metavar="PATH", help=help_store)
    p.add_argument(
        "--period",
        default=None,
        metavar="YYYY-MM",
        help="窗口所在月份(默认取参数 period;除非 --force 须为12月)",
    )
    p.add_argument(
        "--effective",
        default=None,
        metavar="YYYY-MM",
        help="新名单的起始月份(默认 --period 的下一个月)",
    )
    p.add_argument("--force", action="store_true", help="允许在12月以外写入窗口(记为强制)")


def _write_window(
    args: argparse.Namespace,
    params: Any,
    members: pd.DataFrame,
    *,
    kind: str,
    period: str | None,
    changes: pd.DataFrame | None,
) -> int:
    """Write the new panel into ``--store``; a refusal leaves the store unchanged (exit 1)."""
    from samplekit.errors import SamplekitError
    from samplekit.store import write_window

    if period is None:
        print(
            "samplekit: 未写入存储:请用 --period YYYY-MM 指明调整月份(或在 params 中设 period)",
            file=sys.stderr,
        )
        return 1
    try:
        r = write_window(
            args.store,
            members=members,
            window_month=str(period),
            effective=args.effective,
            kind=kind,  # type: ignore[arg-type]
            run_id=f"{args.command}-{period}",
            params_sha256=params.digest(),
            changes=changes,
            force=bool(args.force),
            note=str(params_arg(args)),
        )
    except SamplekitError as exc:
        print(
            f"samplekit {args.command}: 名单文件已写入 {args.out},但未写入存储 {args.store}"
            f"(存储未改变):{exc}",
            file=sys.stderr,
        )
        return exc.exit_code
    print(f"{args.store}: {r.line()}")
    return 0


def _panel_from_store(store: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The design members and the individual units open in ``store`` (the current panel)."""
    from samplekit.store import read_membership

    m = read_membership(store)
    if not len(m):
        raise InputError(
            f"{store}: 存储中没有监测名单记录;请先用 samplekit select --store 写入"
            "抽样设计,或用 --panel 指定当前名单"
        )
    open_rows = m[m["valid_to"].isna()].assign(monthly=lambda d: d["ministry"])
    individual = open_rows["individual"].astype(bool)
    return open_rows[~individual].reset_index(drop=True), open_rows[individual].reset_index(
        drop=True
    )


def read_cells(path: Path) -> pd.DataFrame:
    """Read an allocation cells table (CSV/XLSX) and check its columns and counts."""
    from samplekit.io import read_table
    from samplekit.selection import CELL

    cells = read_table(path)
    missing = [c for c in [*CELL, "n", "n_monthly"] if c not in cells.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the "
            "allocation_cells.csv written by `samplekit allocate`"
        )
    for col in _CELL_INT_COLUMNS:
        if col in cells.columns:
            values = pd.to_numeric(cells[col], errors="coerce")
            bad = values.isna() | (values < 0) | (values != np.floor(values))
            if bad.any():
                rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
                raise InputError(
                    f"{path}: column '{col}' must hold whole numbers >= 0 (rows {rows})"
                )
            cells[col] = values.astype(np.int64)
    return cells


def _load(params: Any, args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    from samplekit.frame import apply_panel
    from samplekit.io import read_table
    from samplekit.jobs import inputs as load_inputs

    if args.frame is not None:
        from samplekit.cities import load_cities
        from samplekit.frame import load_frame
        from samplekit.jobs import declared_counties

        cities = load_cities(params.path_of("province.cities"))
        frame = load_frame(args.frame, cities=cities["city"], counties=declared_counties(params))
    else:
        cities, frame = load_inputs(params)
    if args.panel is not None:
        frame = apply_panel(frame, read_table(args.panel), file=args.panel.name)
    if args.cells is not None:
        cells = read_cells(args.cells)
    elif args.frame is None and args.panel is None:
        from samplekit import jobs

        cells = jobs.allocation(params).cells
    else:
        from samplekit.allocation import AllocationSettings, allocate

        cells = allocate(cities, frame, AllocationSettings.from_params(params)).cells
    return frame, cells


def _report_flags(result: Any) -> int:
    flags = result.flags
    errors = flags[flags["severity"] == "error"]
    warn = flags[flags["severity"] == "warning"]
    for r in errors.itertuples(index=False):
        where = "/".join(
            code_names(c).get(str(getattr(r, c)), str(getattr(r, c)))
            for c in ("city", "section", "size_class", "ownership")
            if getattr(r, c)
        )
        print(f"错误:{FLAG_ZH.get(r.flag, r.flag)} {where}:{r.message}", file=sys.stderr)
    if len(warn):
        counts = warn["flag"].value_counts()
        print(
            "提示:"
            + "、".join(f"{FLAG_ZH.get(k, k)} {v} 条" for k, v in counts.items())
            + "(见 selection_flags.csv)",
            file=sys.stderr,
        )
    return 1 if len(errors) else 0


def _select(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from samplekit.params import load_params
    from samplekit.selection import SelectionSettings, select_sample, write_selection

    params = load_params(params_arg(args))
    settings = SelectionSettings.from_params(params)
    if args.method:
        settings = replace(settings, method=args.method)
    frame, cells = _load(params, args)
    result = select_sample(frame, cells, settings)
    write_selection(result, args.out, params)
    s = result.sample
    counts = s["status"].value_counts()
    converged = (
        "已收敛" if result.calibration_converged else f"未收敛({result.calibration_message})"
    )
    print(
        f"已抽选 {s['city'].nunique()} 个城市的 {len(s)} 家企业:保留 {counts.get('retained', 0)} 家,"
        f"替换 {counts.get('replacement', 0)} 家,新增 {counts.get('new', 0)} 家;"
        f"月度子样本 {int(s['monthly'].sum())} 家;权数校准{converged}"
    )
    print(
        f"已写入 {args.out}/sample_list.csv、sample_list.xlsx、reserve_list.csv、"
        "representativeness.csv"
    )
    code = _report_flags(result)
    if args.store is not None:
        period = args.period or params.get("period", None)
        code = max(code, _write_window(args, params, s, kind="design", period=period, changes=None))
    return code


def _maintain(args: argparse.Namespace) -> int:
    from samplekit.cities import load_cities
    from samplekit.frame import load_frame
    from samplekit.io import read_table, write_csv
    from samplekit.jobs import declared_counties
    from samplekit.maintenance import MaintenanceSettings, maintain, with_force
    from samplekit.params import load_params
    from samplekit.selection import SelectionSettings, write_selection

    params = load_params(params_arg(args))
    settings = SelectionSettings.from_params(params)
    window = with_force(MaintenanceSettings.from_params(params), args.force)
    period = args.period or params.get("period", None)
    cities = load_cities(params.path_of("province.cities"))
    frame = load_frame(args.frame, cities=cities["city"], counties=declared_counties(params))
    individuals = None
    if args.panel is not None:
        panel = read_table(args.panel)
        if args.store is not None and Path(args.store).exists():
            from samplekit.store import read_membership

            m = read_membership(args.store)
            # individual units are not in a sample list: carry the store's over unchanged
            individuals = m[m["valid_to"].isna() & m["individual"]].reset_index(drop=True)
    elif args.store is not None:
        panel, individuals = _panel_from_store(args.store)
    else:
        raise InputError(
            "samplekit maintain: 请用 --panel 指定当前名单(sample_list.csv),"
            "或用 --store 从存储中读取当前名单"
        )
    cells = read_cells(args.cells) if args.cells is not None else None
    result = maintain(panel, frame, settings, cells=cells, period=period, window=window)
    if not result.in_window:
        print(f"samplekit maintain: {result.message}", file=sys.stderr)
        return 1
    write_selection(result.selection, args.out, params)
    write_csv(result.changes, args.out / "change_log.csv")
    write_csv(result.summary, args.out / "maintenance_summary.csv")
    print(f"{result.message};变动记录:{args.out / 'change_log.csv'}")
    code = _report_flags(result.selection)
    if args.store is not None:
        members = result.selection.sample
        if individuals is not None and len(individuals):  # not part of the design: carried
            keep = ~individuals["enterprise_id"].isin(set(members["enterprise_id"].astype(str)))
            members = pd.concat(
                [members.assign(individual=False), individuals[keep]], ignore_index=True
            )
        code = max(
            code,
            _write_window(
                args, params, members, kind="maintenance", period=period, changes=result.changes
            ),
        )
    return code
