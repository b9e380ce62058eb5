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
    p.add_argument("--city-totals", type=str, default=None, metavar="FILE",
                   help="impose the city totals of FILE (city, total[, secondary, tertiary]), "
                   "e.g. data/reference/guangdong_2013_task_table.csv; overrides "
                   "allocation.city_totals")
    p.set_defaults(handler=_allocate)


def _allocate(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.allocation import HEADERS_ZH, write_allocation
    from samplekit.io import write_csv, write_xlsx
    from samplekit.params import load_params

    params = load_params(args.params)
    if args.city_totals is not None:
        from samplekit.params import Params

        data = dict(params.data)
        data["allocation"] = {**params.section("allocation"), "city_totals": args.city_totals}
        params = Params(params.path, data)
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
    if result.settings.city_totals:
        sec = int(city["secondary"].sum()) + (
            int(city["primary"].sum()) if result.settings.given_primary == "secondary" else 0)
        ter = int(city["tertiary"].sum()) + (
            int(city["primary"].sum()) if result.settings.given_primary == "tertiary" else 0)
        print(f"city totals imposed from {result.settings.city_totals}: secondary {sec}, "
              f"tertiary {ter} (existing primary-sector members counted in "
              f"{result.settings.given_primary})")
    if result.weight_fit is not None:
        for r in result.weight_fit.itertuples(index=False):
            print(f"{r.parameter}: params {r.params_value:g}, best fit to the given table "
                  f"{r.fitted:.3f} (RMSE {r.rmse_params:.1f} -> {r.rmse_fitted:.1f}); formula vs "
                  f"given: mean |difference| {r.mean_abs_formula:.1f}")
    binding = result.rules_report[result.rules_report["binding"] == "是"]
    print(f"{len(binding)} of {len(result.rules_report)} rule checks are binding")
    for path in paths.values():
        print(f"wrote {path}")
    return 0
