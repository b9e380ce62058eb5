"""``samplekit warn`` (the quarter's warning levels, estimates, forecasts and figures) and
``samplekit backtest`` (a warning rule against known episodes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from samplekit.paths import resolve


def register(subparsers: argparse._SubParsersAction) -> None:
    warn = subparsers.add_parser(
        "warn",
        help="季度失业预警:预警等级、估计值、预测和图形",
        description="按警戒线判定本季度每个预警指标(全省和各市)的等级,给出各市综合等级、预测和图形。",
    )
    warn.add_argument("--params", required=True, metavar="FILE", help="参数文件(其 warning 部分)")
    warn.add_argument("--quarter", metavar="YYYYQn", help="季度,如 2013Q4(默认取参数 quarter)")
    warn.add_argument(
        "--period",
        metavar="YYYY-MM",
        help="按月研判:判断该月的月度指标;触发重大变化规则时在 immediate/ 写立即报告(Word + Excel)",
    )
    warn.add_argument("--out", required=True, metavar="DIR", help="输出目录")
    warn.add_argument("--no-figures", action="store_true", help="不画 PNG 图形")
    warn.add_argument(
        "--no-documents",
        action="store_true",
        help="不写 Word 报告(失业预警监测报告、季通报、各市报告)",
    )
    warn.add_argument(
        "--pdf", action="store_true", help="同时把 Word 报告转为 PDF(需要 LibreOffice)"
    )
    warn.set_defaults(handler=run_warn)

    bt = subparsers.add_parser(
        "backtest",
        help="用已知的失业波动期回测预警规则",
        description="按报警起点评价预警规则(识别的波动期数、报警提前期、误报、噪声信号比、AUC;"
        "固定警戒线与实时警戒线),并按预测步长比较样本外预测精度与朴素预测。最后打印评分。",
    )
    bt.add_argument(
        "--series",
        required=True,
        metavar="FILE",
        help="含 period,value 的 CSV/XLSX(2013-07 或 2013Q3)",
    )
    bt.add_argument(
        "--events", required=True, metavar="FILE", help="含已知波动期 start,end 的 CSV/XLSX"
    )
    bt.add_argument("--params", required=True, metavar="FILE", help="含 backtest 部分的参数文件")
    bt.add_argument("--out", required=True, metavar="DIR", help="输出目录")
    bt.add_argument(
        "--forecast-from",
        metavar="PERIOD",
        help="第一个预测起点(如 1990Q1);每次预测只用起点以前的数据(默认:最后12期)",
    )
    bt.add_argument(
        "--regressor",
        action="append",
        default=[],
        metavar="FILE",
        help="先行序列(period,value;宏观经济序列或规模裁员报告数),可重复:检验加入"
        "ARIMA 预测后样本外 RMSE(Diebold–Mariano 检验)与预测报警提前期是否改进",
    )
    bt.add_argument(
        "--regressor-lag", type=int, default=1, metavar="N", help="先行序列领先的期数(默认 1)"
    )
    bt.add_argument(
        "--regressor-order",
        default="2,0,0",
        metavar="P,D,Q",
        help="基准模型与回归误差的 ARIMA 阶数(默认 2,0,0)",
    )
    bt.set_defaults(handler=run_backtest_cmd)


def run_warn(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.io import standard_about
    from samplekit.params import load_params
    from samplekit.warning import quarter_climate
    from samplekit.warning_report import composite_table, write_warning

    if args.period:
        return run_warn_month(args)
    params = load_params(args.params, quarter=args.quarter)
    inputs = jobs.warning_inputs(params)
    result = jobs.warning(params, params.get("quarter", types=str), inputs=inputs)
    out = resolve(args.out)
    note = jobs.data_note(params)
    about = standard_about(params, extra={"季度": result.quarter})
    county = {"county_levels": None, "county_forecast": None}
    if any("county" in ind.scope for ind in result.settings.indicators):
        from samplekit.warning_report import write_county_warning

        alloc, county_lv = jobs.county_warning(params, result.quarter, inputs=inputs)
        _, county_fc = jobs.county_forecast(params, result.quarter, inputs=inputs)
        county = {"county_levels": county_lv, "county_forecast": county_fc}
        county_paths = write_county_warning(
            alloc,
            county_lv,
            out,
            quarter=result.quarter,
            data_note=note,
            about=about,
            forecast=county_fc,
            settings=result.settings,
        )
    else:
        county_paths = []
    paths = write_warning(
        result, out, about=about, figures=not args.no_figures, data_note=note, **county
    )
    paths += county_paths
    if not args.no_documents:
        from samplekit import documents

        boundaries, why = documents.map_provider(result.province)
        if why:
            print(why)
        climate = quarter_climate(
            inputs["reports"], inputs["membership"], result.quarter, province=result.province
        )
        paths += documents.write_quarterly_documents(
            result,
            out,
            climate=climate,
            data_note=note,
            boundaries=boundaries,
            pdf=args.pdf,
            **county,
        )
    comp = composite_table(result)
    alarms = comp[comp["composite_rank"] > 0]
    print(f"已写入 {len(paths)} 个文件到 {out}")
    for rec in alarms.itertuples(index=False):
        why = rec.drivers_zh or "本季度未达该等级,按“连续平稳后降级”规则维持"
        print(f"  {rec.city}: {rec.composite_level}级({rec.composite_name}) — {why}")
    prov = comp[comp["city"] == result.province]
    prov_level = prov["composite_name"].iloc[0] if len(prov) else "—"
    print(
        f"{result.quarter} 预警:{len(comp)} 个地区中 {len(alarms)} 个达到预警等级;"
        f"{result.province} {prov_level}"
    )
    return 0


def run_warn_month(args: argparse.Namespace) -> int:
    """``samplekit warn --period YYYY-MM``: monthly levels and, when triggered, the immediate
    report."""
    from samplekit import jobs
    from samplekit.io import standard_about
    from samplekit.params import load_params
    from samplekit.warning_report import write_monthly_warning

    if args.quarter:
        from samplekit.errors import ParamsError

        raise ParamsError("give --period (a month) or --quarter, not both")
    params = load_params(args.params)
    result = jobs.monthly_warning(params, args.period)
    out = resolve(args.out)
    about = standard_about(params, extra={"报告月份": args.period})
    paths = write_monthly_warning(result, out, about=about, data_note=jobs.data_note(params))
    alarms = result.levels[result.levels["rank"] > 0]
    print(f"已写出 {len(paths)} 个文件到 {out}")
    for rec in alarms.itertuples(index=False):
        print(f"  {rec.city}: {rec.indicator_name} {rec.value:.2f} — {rec.level_name}预警")
    if result.immediate:
        print(f"warn {result.period}: 重大变化,已写立即报告(immediate/):{'、'.join(result.areas)}")
    else:
        print(f"warn {result.period}: {len(alarms)} 项月度指标处于预警等级;无重大变化,不写立即报告")
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
    if args.regressor:
        from samplekit.backtest import regressor_comparison, regressor_summary
        from samplekit.errors import InputError
        from samplekit.io import round_floats, write_csv

        try:
            order = tuple(int(v) for v in args.regressor_order.split(","))
        except ValueError:
            order = ()
        if len(order) != 3 or min(order) < 0:
            raise InputError(f"--regressor-order {args.regressor_order!r}: use p,d,q like 2,0,0")
        regs = {Path(f).stem: read_series(resolve(f)) for f in args.regressor}
        comp, errs = regressor_comparison(
            series,
            regs,
            events,
            rule,
            start=result.forecast_from,
            lag=args.regressor_lag,
            order=order,
        )  # type: ignore[arg-type]
        write_csv(round_floats(comp, 6), out / "regressor_comparison.csv")
        write_csv(round_floats(errs, 6), out / "regressor_errors.csv")
        print(regressor_summary(comp))
    print(result.summary())
    return 0
