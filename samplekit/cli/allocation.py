"""CLI: ``samplekit allocate PARAMS --out DIR`` (sample allocation under all rules at once).

Exit codes: 0 written; 1 bad params or input (the message names the file and key); 2 the rule
set is infeasible — the diagnosis is printed and written to ``DIR/diagnosis.csv``/``.xlsx``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samplekit.errors import InfeasibleError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "allocate", help="allocate the sample to cities, industries, sizes and ownership",
        description="Share the sample out to cities (score of employment and GDP, floors, caps, "
        "tilt), split secondary/tertiary, and solve one joint integer allocation over the cells "
        "city × section × size × ownership with the nested monthly subsample, meeting every "
        "rule in params. Writes allocation_city.csv, allocation_cells.csv, rules_report.csv, "
        "precision.csv and allocation.xlsx. Exit 2 with a diagnosis when the rules conflict.")
    p.add_argument("params", type=Path, help="params YAML (e.g. params/guangdong_2013.yaml)")
    p.add_argument("--out", type=Path, default=Path("reports/allocation"),
                   help="output folder (default: reports/allocation)")
    p.set_defaults(handler=_allocate)


def _allocate(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.allocation import HEADERS_ZH, write_allocation
    from samplekit.io import write_csv, write_xlsx
    from samplekit.params import load_params

    params = load_params(args.params)
    out: Path = args.out
    try:
        result = jobs.allocation(params)
    except InfeasibleError as exc:
        if exc.diagnosis is not None:
            out.mkdir(parents=True, exist_ok=True)
            write_csv(exc.diagnosis, out / "diagnosis.csv")
            write_xlsx({"不可行诊断": exc.diagnosis}, out / "diagnosis.xlsx",
                              headers=HEADERS_ZH,
                              titles={"不可行诊断": "规则冲突诊断与最小放宽方案"})
            print(f"diagnosis written to {out / 'diagnosis.csv'}", file=sys.stderr)
        raise
    paths = write_allocation(result, out, params)
    city = result.city
    print(f"allocated {int(city['allocated'].sum())} enterprises to {len(city)} cities "
          f"({int(city['monthly_subsample'].sum())} in the monthly subsample); "
          f"solver: {result.solver.get('message', '')}")
    binding = result.rules_report[result.rules_report["binding"] == "是"]
    print(f"{len(binding)} of {len(result.rules_report)} rule checks are binding")
    for path in paths.values():
        print(f"wrote {path}")
    return 0
