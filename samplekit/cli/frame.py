"""CLI: ``samplekit frame check`` (register) and ``samplekit cities check`` (city table)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from samplekit.errors import PROBLEM_HEADERS_ZH, ValidationError, summarize_problems
from samplekit.io import atomic_path, write_csv, write_xlsx


def register(sub: argparse._SubParsersAction) -> None:
    frame = sub.add_parser("frame", help="企业名录(抽样框)")
    fsub = frame.add_subparsers(dest="frame_command", metavar="操作", title="操作")
    check = fsub.add_parser(
        "check",
        help="检查并分类企业名录文件(CSV/XLSX/Parquet)",
        description="逐行检查企业名录,写出分类后的名录(企业规模、所有制、产业)和问题清单"
        "(CSV + XLSX,供各市核改)。全部无误退出码 0,任何一行有错误退出码 1。",
    )
    check.add_argument("file", type=Path, help="企业名录文件")
    check.add_argument(
        "--params",
        type=Path,
        default=None,
        metavar="FILE",
        help="参数文件(必填):按其城市表(province.cities)核对城市",
    )
    check.add_argument(
        "--out",
        type=Path,
        default=Path("reports/frame_check"),
        metavar="DIR",
        help="输出目录(默认 reports/frame_check)",
    )
    check.set_defaults(handler=_frame_check)

    cities = sub.add_parser("cities", help="城市表(统计年鉴数据)")
    csub = cities.add_subparsers(dest="cities_command", metavar="操作", title="操作")
    ccheck = csub.add_parser("check", help="检查城市表,逐格指出错误")
    ccheck.add_argument("file", type=Path, help="城市表文件")
    ccheck.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="问题清单(CSV + XLSX)写到此目录"
    )
    ccheck.set_defaults(handler=_cities_check)


def write_problems(problems: pd.DataFrame, out: Path, stem: str = "problems") -> list[Path]:
    """Write a problem list as CSV (utf-8-sig) and XLSX with Chinese headers."""
    out.mkdir(parents=True, exist_ok=True)
    csv = write_csv(problems, out / f"{stem}.csv")
    xlsx = write_xlsx(
        {"问题清单": problems},
        out / f"{stem}.xlsx",
        headers=PROBLEM_HEADERS_ZH,
        titles={"问题清单": "数据问题清单(请逐条核对修改后重新报送)"},
    )
    return [csv, xlsx]


def _frame_check(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.cities import load_cities
    from samplekit.errors import ParamsError
    from samplekit.frame import FRAME_HEADERS_ZH, check_frame
    from samplekit.params import load_params

    if args.params is None:
        # Never assume the demo province: its cities would flag every row of another register.
        raise ParamsError(
            "请用 --params 指定参数文件:名录中的城市要按该参数文件的城市表(province.cities)核对。"
            "还没有参数文件?先运行 `samplekit init 目录 --cities 城市表`"
        )
    params = load_params(args.params)
    cities = load_cities(params.path_of("province.cities"))
    result = check_frame(args.file, cities=cities["city"], counties=jobs.declared_counties(params))
    out: Path = args.out
    written = write_problems(result.problems, out)
    errors = result.problems[result.problems["severity"] == "error"]
    if not result.ok:
        print(f"{args.file}:{errors['row'].nunique()} 行共 {len(errors)} 处错误;未载入任何数据。")
        print(summarize_problems(errors))
        print(f"问题清单:{written[0]} 和 {written[1]}")
        return 1
    frame = result.frame
    with atomic_path(out / "frame_classified.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    write_csv(frame, out / "frame_classified.csv")
    from samplekit.reference import SIZE_CLASSES_ZH

    sizes = frame.groupby("size_class").size()
    summary = "、".join(f"{SIZE_CLASSES_ZH.get(k, k)} {v:,}" for k, v in sizes.items())
    print(
        f"{args.file}:企业 {len(frame):,} 家,全部行有效(提示 {len(result.problems)} 条)。"
        f"企业规模:{summary}"
    )
    if len(result.problems):
        print(summarize_problems(result.problems))
    print(
        f"分类后的名录:{out / 'frame_classified.csv'}(中文表头:"
        f"{'、'.join(list(FRAME_HEADERS_ZH.values())[:3])} …);问题清单:{written[0]}"
    )
    return 0


def _cities_check(args: argparse.Namespace) -> int:
    from samplekit.cities import load_cities

    try:
        cities = load_cities(args.file)
    except ValidationError as exc:
        if args.out is not None:
            write_problems(exc.problems, args.out, "city_table_problems")
        raise
    print(f"{args.file}:{len(cities)} 个城市,全部单元格有效。")
    return 0
