"""CLI: ``samplekit estimate`` — design-based estimates with SE, t intervals and df by domain.

Reads the reports and the membership (panel of record) from the store and writes
``estimates_<period>.csv`` and ``estimates_<period>.xlsx`` (Chinese headers) with
:func:`samplekit.estimation.domain_estimates` — the function notebooks 03–04 use — and the
period's response by city (``response_<period>.csv``) and by response cell with the collapses of
cells without any reporter (``response_cells_<period>.csv``,
:func:`samplekit.estimation.response_tables`), also as sheets of the workbook.

Exit codes: 0 written; 1 bad input (no store, bad period, unknown domain column, no reports).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samplekit.errors import InputError

_WEIGHTS_ZH = {"calibrated": "校准权数(校准感知标准误)", "design": "设计权数(设计标准误)"}
_NETWORK_ZH = {"province": "全省企业用工定点监测", "ministry": "人社部失业动态监测(月报)"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``estimate`` command."""
    p = sub.add_parser(
        "estimate",
        help="按域的设计估计(标准误、t 置信区间、自由度)",
        description="从数据库读取监测企业报表和监测名单(panel_membership),按月份或季度、按任一"
        "名单列(如 city)计算各指标的加权估计、标准误、95% 置信区间和设计自由度,写出 CSV 和"
        "Excel(中文表头)。校准权数时标准误计入校准(Deville–Särndal 残差)。",
    )
    p.add_argument("--store", type=Path, required=True, metavar="PATH", help="DuckDB 数据库")
    p.add_argument("--period", required=True, metavar="YYYY-MM|YYYYQn", help="月份或季度")
    p.add_argument(
        "--by",
        default=None,
        metavar="COL[,COL]",
        help="估计域:名单的列,逗号分隔(如 city 或 city,section);省略为全省",
    )
    p.add_argument(
        "--weights",
        choices=["calibrated", "design"],
        default="calibrated",
        help="权数:calibrated 校准权数(默认)或 design 设计权数",
    )
    p.add_argument(
        "--network",
        choices=["province", "ministry"],
        default="province",
        help="监测网络:province 全省(默认)或 ministry 人社部月报网络",
    )
    p.add_argument(
        "--df",
        choices=["design", "satterthwaite"],
        default="design",
        help="置信区间自由度:design 设计自由度(报送企业数 − 方差层数,默认)或 satterthwaite "
        "有效自由度(方差集中在少数层时较小,小地市区间更宽;docs/estimation.md)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="输出目录")
    p.set_defaults(handler=run_estimate)


def run_estimate(args: argparse.Namespace) -> int:
    from samplekit.estimation import (
        ESTIMATE_HEADERS_ZH,
        domain_estimates,
        resolve_periods,
        response_tables,
    )
    from samplekit.io import write_csv, write_xlsx
    from samplekit.store import read_membership, read_reports

    store = Path(args.store)
    if not store.exists():
        raise InputError(f"{store}: 数据库不存在;先用 samplekit ingest 建库或检查路径")
    try:
        label, months = resolve_periods(args.period)
    except InputError as exc:
        raise InputError(
            f"--period {args.period!r} 不是月份 YYYY-MM 或季度 YYYYQn(如 2013-12、2013Q4)"
        ) from exc
    by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else []
    membership = read_membership(store)
    if membership.empty:
        raise InputError(f"{store}: 数据库中没有监测名单(panel_membership)")
    unknown = [c for c in by if c not in membership.columns]
    if unknown:
        raise InputError(
            f"--by {','.join(unknown)} 不是监测名单的列;可用的列:"
            f"{', '.join(map(str, membership.columns))}"
        )
    reports = read_reports(store)
    reports = reports[reports["period"].astype(str).str.slice(0, 7) <= months[-1]]
    if not reports["period"].astype(str).str.slice(0, 7).isin(months).any():
        raise InputError(f"{store}: {label} 没有已入库的报表")
    table = domain_estimates(
        reports,
        membership,
        period=label,
        by=by,
        weights=args.weights,
        network=args.network,
        dof=args.df,
    )
    out = Path(args.out)
    stem = f"estimates_{label}"
    csv = write_csv(table, out / f"{stem}.csv")
    by_city, cells = response_tables(
        reports, membership, period=label, weights=args.weights, network=args.network
    )
    write_csv(by_city, out / f"response_{label}.csv")
    write_csv(cells, out / f"response_cells_{label}.csv")
    shown = table.assign(
        weights=table["weights"].map(_WEIGHTS_ZH),
        network=table["network"].map(_NETWORK_ZH),
        small_domain=table["small_domain"].map({True: "是", False: "否"}),
    )
    domain_zh = "、".join(ESTIMATE_HEADERS_ZH.get(c, c) for c in by) or "全省"
    xlsx = write_xlsx(
        {
            "估计结果": shown,
            "报送率_分市": by_city,
            "回答单元": cells.drop(columns=["collapse_level"]),
        },
        out / f"{stem}.xlsx",
        headers=ESTIMATE_HEADERS_ZH,
        titles={
            "估计结果": f"{label} 监测指标估计(按{domain_zh})",
            "报送率_分市": f"{label} 分市报送率(在册监测企业、报送企业)",
            "回答单元": f"{label} 各回答单元报送情况与无报送单元的合并",
        },
        about={
            "数据库": str(store),
            "期别": label,
            "估计域": domain_zh,
            "权数": _WEIGHTS_ZH[args.weights],
            "监测网络": _NETWORK_ZH[args.network],
            "说明": (
                "置信区间用设计自由度(报送企业数 − 方差层数)"
                if args.df == "design"
                else "置信区间用 Satterthwaite 有效自由度"
            )
            + "的 t 分位数;比率类指标在 logit "
            "尺度、总量在对数尺度构造;“样本过少”为蒙特卡罗研究中覆盖率低于 93% 的"
            "报送企业数以下(docs/estimation.md)",
            "无回答调整": "报送企业的权数在其回答单元(抽样层;保留的原监测企业单独成组)内按在册"
            "企业权数合计放大;单元内无报送企业时,其权数依次并入同一抽样层的另一设计组、同市"
            "同行业同规模、同市同行业、同市同规模、同市的报送企业(按权数比例分摊),不跨市合并",
        },
    )
    n_small = int(table.drop_duplicates([*by, "period"])["small_domain"].sum())
    print(
        f"{label} 估计完成:{table.drop_duplicates([*by, 'period']).shape[0]} 个估计域、"
        f"{table['indicator'].nunique()} 项指标(样本过少的域 {n_small} 个)"
    )
    total = by_city.iloc[-1]
    print(
        f"报送率:{total['response_rate']:.1f}%({int(total['n_reporters'])}/"
        f"{int(total['n_members'])});无报送的回答单元 {int(total['cells_empty'])} 个,已合并 "
        f"{int(total['cells_collapsed'])} 个,缺失权数 {total['weight_lost']:.1f}"
    )
    print(f"已写入 {csv}、{xlsx}、response_{label}.csv、response_cells_{label}.csv")
    return 0
