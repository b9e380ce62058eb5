"""CLI: ``samplekit allocate PARAMS --out DIR`` (sample allocation under all rules at once).

Exit codes: 0 written; 1 bad params or input (the message names the file and key); 2 the rule
set is infeasible — the diagnosis is printed and written to ``DIR/diagnosis.csv``/``.xlsx``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samplekit.errors import InfeasibleError, ParamsError


def add_params(p: argparse.ArgumentParser) -> None:
    """``--params FILE`` (the one spelling across commands); a bare PARAMS still works."""
    p.add_argument(
        "params_pos",
        nargs="?",
        type=Path,
        default=None,
        metavar="PARAMS",
        help="参数文件(旧写法,同 --params)",
    )
    p.add_argument(
        "--params",
        type=Path,
        default=None,
        metavar="FILE",
        help="参数文件(YAML),如 params/guangdong_2013.yaml",
    )


def params_arg(args: argparse.Namespace) -> Path:
    """The params file of ``--params`` or the positional PARAMS."""
    path = args.params or args.params_pos
    if path is None:
        raise ParamsError("请用 --params 指定参数文件")
    return path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "allocate",
        help="把样本分配到各市、行业门类、企业规模和所有制",
        description="按从业人员和 GDP 得分、最低样本数、上限和倾斜系数把样本分到各市,划分二三产业,"
        "并在 地市 × 行业门类 × 规模 × 所有制 的单元上一次求解整数分配(含嵌套的月度子样本),"
        "满足参数文件中的全部规则。写出 allocation_city.csv、allocation_cells.csv、"
        "rules_report.csv、precision.csv 和 allocation.xlsx。规则冲突时退出码 2 并给出诊断。",
    )
    add_params(p)
    p.add_argument(
        "--out",
        type=Path,
        default=Path("reports/allocation"),
        metavar="DIR",
        help="输出目录(默认 reports/allocation)",
    )
    p.add_argument(
        "--city-totals",
        type=str,
        default=None,
        metavar="FILE",
        help="采用 FILE 中的各市任务数(city, total[, secondary, tertiary]),"
        "覆盖参数 allocation.city_totals",
    )
    p.set_defaults(handler=_allocate)


def _allocate(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.allocation import HEADERS_ZH, write_allocation
    from samplekit.io import write_csv, write_xlsx
    from samplekit.params import load_params

    params = load_params(params_arg(args))
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
            write_xlsx(
                {"不可行诊断": exc.diagnosis},
                out / "diagnosis.xlsx",
                headers=HEADERS_ZH,
                titles={"不可行诊断": "规则冲突诊断与最小放宽方案"},
            )
            print(f"规则冲突诊断已写入 {out / 'diagnosis.csv'}", file=sys.stderr)
        raise
    paths = write_allocation(result, out, params)
    city = result.city
    print(
        f"已分配 {int(city['allocated'].sum())} 家企业到 {len(city)} 个城市"
        f"(其中月度子样本 {int(city['monthly_subsample'].sum())} 家)"
    )
    if result.settings.city_totals:
        sec = int(city["secondary"].sum()) + (
            int(city["primary"].sum()) if result.settings.given_primary == "secondary" else 0
        )
        ter = int(city["tertiary"].sum()) + (
            int(city["primary"].sum()) if result.settings.given_primary == "tertiary" else 0
        )
        sector = {"secondary": "第二产业", "tertiary": "第三产业"}
        print(
            f"各市总数取自 {result.settings.city_totals}:第二产业 {sec} 家,第三产业 {ter} 家"
            f"(现有第一产业监测企业计入"
            f"{sector.get(result.settings.given_primary, result.settings.given_primary)})"
        )
    if result.weight_fit is not None:
        for r in result.weight_fit.itertuples(index=False):
            print(
                f"{r.parameter}:参数取值 {r.params_value:g},最接近给定任务表的取值 "
                f"{r.fitted:.3f}(均方根误差 {r.rmse_params:.1f} → {r.rmse_fitted:.1f});"
                f"公式分配与给定任务数平均相差 {r.mean_abs_formula:.1f} 家"
            )
    binding = result.rules_report[result.rules_report["binding"] == "是"]
    print(f"规则检查 {len(result.rules_report)} 项,其中约束生效 {len(binding)} 项")
    for path in paths.values():
        print(f"已写入 {path}")
    return 0
