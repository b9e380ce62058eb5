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

from samplekit.errors import InputError

_CELL_INT_COLUMNS = ("frame_units", "existing", "existing_monthly", "n", "n_monthly")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``select`` and ``maintain`` commands."""
    p = sub.add_parser(
        "select", help="select the monitored enterprises cell by cell (permanent random numbers)",
        description="Keep the active existing panel members of each allocation cell and fill the "
        "other places in permanent-random-number order (or sequential Poisson PPS); compute "
        "inclusion probabilities, design and calibrated weights, reserves and the monthly "
        "subsample. Writes sample_list.csv/.xlsx (监测企业名单), reserve_list.csv, "
        "representativeness.csv and diagnostics. Frame, panel and allocation come from params "
        "unless given as flags.")
    p.add_argument("params", type=Path, help="params YAML (e.g. params/guangdong_2013.yaml)")
    p.add_argument("--out", type=Path, default=Path("reports/selection"),
                   help="output folder (default: reports/selection)")
    p.add_argument("--frame", type=Path, default=None, help="register file (overrides frame.path)")
    p.add_argument("--panel", type=Path, default=None,
                   help="existing panel list with enterprise_id (overrides panel.path)")
    p.add_argument("--cells", type=Path, default=None,
                   help="allocation_cells.csv from `samplekit allocate` (default: allocate now)")
    p.add_argument("--method", choices=("srs", "pps"), default=None,
                   help="override selection.method")
    p.set_defaults(handler=_select)

    m = sub.add_parser(
        "maintain", help="December window: retire, replace from reserves, re-balance, log",
        description="Retire panel members that closed, left the register, moved out, were "
        "suspended or became ineligible; replace each from its cell's reserve (PRN order; the "
        "nearest cell when a cell runs dry); re-balance to a new allocation when --cells is "
        "given, keeping every active member a place allows. Writes the new sample list and "
        "change_log.csv. Outside the window month nothing changes unless params force it.")
    m.add_argument("params", type=Path, help="params YAML (seed and selection settings)")
    m.add_argument("--panel", type=Path, required=True,
                   help="current panel: the sample_list.csv of the last select/maintain run")
    m.add_argument("--frame", type=Path, required=True, help="the new register file")
    m.add_argument("--out", type=Path, required=True, help="output folder")
    m.add_argument("--cells", type=Path, default=None,
                   help="new allocation cells (default: keep every cell's number of places)")
    m.add_argument("--period", default=None, help="month of the run YYYY-MM (default: params "
                   "period)")
    m.add_argument("--force", action="store_true",
                   help="allow changes outside the window month (recorded in the summary)")
    m.set_defaults(handler=_maintain)


def read_cells(path: Path) -> pd.DataFrame:
    """Read an allocation cells table (CSV/XLSX) and check its columns and counts."""
    from samplekit.io import read_table
    from samplekit.selection import CELL

    cells = read_table(path)
    missing = [c for c in [*CELL, "n", "n_monthly"] if c not in cells.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected the "
                         "allocation_cells.csv written by `samplekit allocate`")
    for col in _CELL_INT_COLUMNS:
        if col in cells.columns:
            values = pd.to_numeric(cells[col], errors="coerce")
            bad = values.isna() | (values < 0) | (values != np.floor(values))
            if bad.any():
                rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
                raise InputError(f"{path}: column '{col}' must hold whole numbers >= 0 "
                                 f"(rows {rows})")
            cells[col] = values.astype(np.int64)
    return cells


def _load(params: Any, args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    from samplekit.frame import apply_panel
    from samplekit.io import read_table
    from samplekit.jobs import inputs as load_inputs

    if args.frame is not None:
        from samplekit.cities import load_cities
        from samplekit.frame import load_frame

        cities = load_cities(params.path_of("province.cities"))
        frame = load_frame(args.frame, cities=cities["city"])
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
        where = "/".join(str(getattr(r, c)) for c in ("city", "section", "size_class",
                                                      "ownership") if getattr(r, c))
        print(f"error: {r.flag} {where}: {r.message}", file=sys.stderr)
    if len(warn):
        counts = warn["flag"].value_counts()
        print("warnings: " + ", ".join(f"{k} × {v}" for k, v in counts.items())
              + " (see selection_flags.csv)", file=sys.stderr)
    return 1 if len(errors) else 0


def _select(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from samplekit.params import load_params
    from samplekit.selection import SelectionSettings, select_sample, write_selection

    params = load_params(args.params)
    settings = SelectionSettings.from_params(params)
    if args.method:
        settings = replace(settings, method=args.method)
    frame, cells = _load(params, args)
    result = select_sample(frame, cells, settings)
    write_selection(result, args.out, params)
    s = result.sample
    counts = s["status"].value_counts()
    print(f"selected {len(s)} enterprises in {s['city'].nunique()} cities: "
          f"{counts.get('retained', 0)} retained, {counts.get('replacement', 0)} replacements, "
          f"{counts.get('new', 0)} new; {int(s['monthly'].sum())} in the monthly subsample; "
          f"calibration: {result.calibration_message}")
    print(f"written to {args.out}/sample_list.csv, sample_list.xlsx, reserve_list.csv, "
          "representativeness.csv")
    return _report_flags(result)


def _maintain(args: argparse.Namespace) -> int:
    from samplekit.cities import load_cities
    from samplekit.frame import load_frame
    from samplekit.io import read_table, write_csv
    from samplekit.maintenance import MaintenanceSettings, maintain, with_force
    from samplekit.params import load_params
    from samplekit.selection import SelectionSettings, write_selection

    params = load_params(args.params)
    settings = SelectionSettings.from_params(params)
    window = with_force(MaintenanceSettings.from_params(params), args.force)
    period = args.period or params.get("period", None)
    cities = load_cities(params.path_of("province.cities"))
    frame = load_frame(args.frame, cities=cities["city"])
    panel = read_table(args.panel)
    cells = read_cells(args.cells) if args.cells is not None else None
    result = maintain(panel, frame, settings, cells=cells, period=period, window=window)
    if not result.in_window:
        print(f"samplekit maintain: {result.message}", file=sys.stderr)
        return 1
    write_selection(result.selection, args.out, params)
    write_csv(result.changes, args.out / "change_log.csv")
    write_csv(result.summary, args.out / "maintenance_summary.csv")
    print(f"{result.message}; change log: {args.out / 'change_log.csv'}")
    return _report_flags(result.selection)
