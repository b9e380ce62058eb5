"""``samplekit warn`` (the quarter's warning levels, estimates, forecasts and figures) and
``samplekit backtest`` (a warning rule against known episodes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from samplekit.paths import resolve


def register(subparsers: argparse._SubParsersAction) -> None:
    warn = subparsers.add_parser(
        "warn", help="季度失业预警:预警等级、估计值、预测和图形",
        description="按警戒线判定本季度每个预警指标(全省和各市)的等级,给出各市综合等级、预测和图形。")
    warn.add_argument("--params", required=True, metavar="FILE",
                      help="参数文件(其 warning 部分)")
    warn.add_argument("--quarter", metavar="YYYYQn", help="季度,如 2013Q4(默认取参数 quarter)")
    warn.add_argument("--out", required=True, metavar="DIR", help="输出目录")
    warn.add_argument("--no-figures", action="store_true", help="不画 PNG 图形")
    warn.set_defaults(handler=run_warn)

    bt = subparsers.add_parser(
        "backtest", help="用已知的失业波动期回测预警规则",
        description="按报警起点评价预警规则(识别的波动期数、报警提前期、误报、噪声信号比、AUC;"
        "固定警戒线与实时警戒线),并按预测步长比较样本外预测精度与朴素预测。最后打印评分。")
    bt.add_argument("--series", required=True, metavar="FILE",
                    help="含 period,value 的 CSV/XLSX(2013-07 或 2013Q3)")
    bt.add_argument("--events", required=True, metavar="FILE",
                    help="含已知波动期 start,end 的 CSV/XLSX")
    bt.add_argument("--params", required=True, metavar="FILE", help="含 backtest 部分的参数文件")
    bt.add_argument("--out", required=True, metavar="DIR", help="输出目录")
    bt.add_argument("--forecast-from", metavar="PERIOD",
                    help="第一个预测起点(如 1990Q1);每次预测只用起点以前的数据(默认:最后12期)")
    bt.set_defaults(handler=run_backtest_cmd)


def run_warn(args: argparse.Namespace) -> int:
    from samplekit import __version__, jobs
    from samplekit.params import load_params
    from samplekit.warning_report import composite_table, write_warning

    params = load_params(args.params, quarter=args.quarter)
    result = jobs.warning(params, params.get("quarter", types=str))
    out = resolve(args.out)
    about = {"参数文件": str(params.path), "季度": result.quarter, "samplekit": __version__,
             "参数摘要(SHA-256)": params.digest()}
    paths = write_warning(result, out, about=about, figures=not args.no_figures)
    comp = composite_table(result)
    alarms = comp[comp["composite_rank"] > 0]
    print(f"已写入 {len(paths)} 个文件到 {out}")
    for rec in alarms.itertuples(index=False):
        print(f"  {rec.city}: {rec.composite_level}级({rec.composite_name}) — {rec.drivers_zh}")
    prov = comp[comp["city"] == result.province]
    prov_level = prov["composite_name"].iloc[0] if len(prov) else "—"
    print(f"{result.quarter} 预警:{len(comp)} 个地区中 {len(alarms)} 个达到预警等级;"
          f"{result.province} {prov_level}")
    return 0


def run_backtest_cmd(args: argparse.Namespace) -> int:
    from samplekit.backtest import (
        BacktestRule,
        read_events,
        read_series,
        run_backtest,
        write_backtest,
    )
    from samplekit.params import load_params

    params = load_params(args.params)
    rule = BacktestRule.from_params(params)
    series = read_series(resolve(args.series))
    freq = "Q" if "Q" in series["period"].iloc[0] else "M"
    events = read_events(resolve(args.events), freq)
    result = run_backtest(series, events, rule, forecast_from=args.forecast_from)
    out = resolve(args.out)
    paths = write_backtest(result, out)
    print(f"已写出 {len(paths)} 个文件到 {Path(out)}")
    print(result.forecast_summary())
    print(result.summary())
    return 0
