"""CLI: ``samplekit frame check`` (register) and ``samplekit cities check`` (city table)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from samplekit.errors import PROBLEM_HEADERS_ZH, ValidationError, summarize_problems
from samplekit.io import atomic_path, write_csv, write_xlsx


def register(sub: argparse._SubParsersAction) -> None:
    frame = sub.add_parser("frame", help="the enterprise register (sampling frame)")
    fsub = frame.add_subparsers(dest="frame_command", metavar="ACTION")
    check = fsub.add_parser(
        "check", help="validate and classify a register file (CSV/XLSX/Parquet)",
        description="Validate every row of a register and write the classified frame "
        "(size_class, ownership, sector) and a problems file (CSV + XLSX) for the city to fix. "
        "Exit 0 when clean, 1 when any row has an error.")
    check.add_argument("file", type=Path, help="the register file")
    check.add_argument("--params", type=Path, default=None,
                       help="params file whose city table lists the valid cities "
                       "(default: the demo province)")
    check.add_argument("--out", type=Path, default=Path("reports/frame_check"),
                       help="output folder (default: reports/frame_check)")
    check.set_defaults(handler=_frame_check)

    cities = sub.add_parser("cities", help="the city table (yearbook figures)")
    csub = cities.add_subparsers(dest="cities_command", metavar="ACTION")
    ccheck = csub.add_parser("check", help="validate a city table; name every bad cell")
    ccheck.add_argument("file", type=Path)
    ccheck.add_argument("--out", type=Path, default=None,
                        help="write the problems (CSV + XLSX) here")
    ccheck.set_defaults(handler=_cities_check)


def write_problems(problems: pd.DataFrame, out: Path, stem: str = "problems") -> list[Path]:
    """Write a problem list as CSV (utf-8-sig) and XLSX with Chinese headers."""
    out.mkdir(parents=True, exist_ok=True)
    csv = write_csv(problems, out / f"{stem}.csv")
    xlsx = write_xlsx({"问题清单": problems}, out / f"{stem}.xlsx", headers=PROBLEM_HEADERS_ZH,
                      titles={"问题清单": "数据问题清单(请逐条核对修改后重新报送)"})
    return [csv, xlsx]


def _frame_check(args: argparse.Namespace) -> int:
    from samplekit.demo import demo_cities
    from samplekit.frame import FRAME_HEADERS_ZH, check_frame
    from samplekit.params import load_params

    if args.params is not None:
        from samplekit.cities import load_cities

        cities = load_cities(load_params(args.params).path_of("province.cities"))
    else:
        cities = demo_cities()
    result = check_frame(args.file, cities=cities["city"])
    out: Path = args.out
    written = write_problems(result.problems, out)
    errors = result.problems[result.problems["severity"] == "error"]
    if not result.ok:
        print(f"{args.file}: {len(errors)} error(s) in "
              f"{errors['row'].nunique()} row(s); nothing was loaded.")
        print(summarize_problems(errors))
        print(f"problems: {written[0]} and {written[1]}")
        return 1
    frame = result.frame
    with atomic_path(out / "frame_classified.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    write_csv(frame, out / "frame_classified.csv")
    summary = frame.groupby("size_class").size().to_dict()
    print(f"{args.file}: {len(frame)} enterprises, all rows valid "
          f"({len(result.problems)} warning(s)). Size classes: {summary}")
    if len(result.problems):
        print(summarize_problems(result.problems))
    print(f"classified frame: {out / 'frame_classified.csv'} (Chinese headers: "
          f"{', '.join(list(FRAME_HEADERS_ZH.values())[:3])} …); problems: {written[0]}")
    return 0


def _cities_check(args: argparse.Namespace) -> int:
    from samplekit.cities import load_cities

    try:
        cities = load_cities(args.file)
    except ValidationError as exc:
        if args.out is not None:
            write_problems(exc.problems, args.out, "city_table_problems")
        raise
    print(f"{args.file}: {len(cities)} cities, all cells valid.")
    return 0
