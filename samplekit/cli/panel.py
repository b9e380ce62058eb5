"""CLI: ``samplekit panel`` — the panel of record in force in a month (counts, list).

Exit codes: 0 written/printed; 1 bad input (no store, bad month, no member in force).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samplekit.errors import InputError

#: Chinese headers of the panel list and its counts (XLSX).
PANEL_HEADERS_ZH: dict[str, str] = {
    "enterprise_id": "统一社会信用代码",
    "name": "企业名称",
    "city": "地市",
    "county": "县(区)",
    "section": "行业门类",
    "size_class": "企业规模",
    "ownership": "所有制",
    "registration_type": "登记注册类型",
    "employees": "从业人数(入样时)",
    "export_share": "出口比重",
    "individual": "个体经济组织",
    "inclusion_prob": "入样概率",
    "weight": "设计权数",
    "calibrated_weight": "校准权数",
    "cell_frame_units": "层内框内企业数",
    "cell_n": "层样本量",
    "ministry": "失业动态监测(部级月报)",
    "monthly": "月报",
    "entry_reason": "入样原因",
    "window_id": "名单版本",
    "valid_from": "起始月份",
    "valid_to": "截止月份",
    "network": "监测网络",
    "province": "省级监测",
    "total": "合计",
    "members": "监测企业数",
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``panel`` command."""
    p = sub.add_parser(
        "panel",
        help="某月在册的监测企业(按地市、监测网络、抽样层计数)",
        description="按监测数据库中带日期的在册记录(panel_membership)列出某月在册的监测企业:"
        "按地市和监测网络、按抽样层计数;给出 --out 时写出 panel_YYYY-MM.csv、"
        "panel_YYYY-MM.xlsx(中文表头)和计数表。",
    )
    p.add_argument("--store", type=Path, required=True, metavar="PATH", help="DuckDB 监测数据库")
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="月份")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="panel_YYYY-MM.csv/.xlsx 和计数表的输出目录",
    )
    p.set_defaults(handler=run_panel)


def run_panel(args: argparse.Namespace) -> int:
    from samplekit.panel import NETWORK_ZH, network_of, panel_counts
    from samplekit.store import panel_in_force, read_windows

    members = panel_in_force(args.store, args.period)
    if not len(members):
        windows = read_windows(args.store)
        span = (
            f"名单版本自 {windows['effective'].min()} 起" if len(windows) else "存储中没有名单记录"
        )
        raise InputError(f"{args.store}: {args.period} 没有有效的监测企业({span})")
    by_city, by_cell = panel_counts(members)
    # 县(区) is shown only when the panel of record carries it (the register had the column).
    has_county = bool(members["county"].notna().any())
    if not has_county:
        members = members.drop(columns="county")
    versions = sorted(set(members["window_id"].astype(int)))
    total = by_city.iloc[-1]
    print(
        f"{args.period} 有效的监测名单:{len(members)} 家(名单版本 "
        f"{', '.join(map(str, versions))},自 {members['valid_from'].min()} 起生效)"
    )
    print(
        f"  {NETWORK_ZH['ministry']} {total['ministry']} 家,{NETWORK_ZH['province']} "
        f"{total['province']} 家,{NETWORK_ZH['individual']} {total['individual']} 家;"
        f"抽样层 {len(by_cell)} 个"
    )
    print("按地市和监测网络:")
    print(by_city.rename(columns={**PANEL_HEADERS_ZH, **NETWORK_ZH}).to_string(index=False))
    by_county = None
    if has_county:
        by_county = (
            members.assign(county=members["county"].fillna("(未填)"))
            .groupby(["city", "county"], sort=True)
            .size()
            .rename("members")
            .reset_index()
        )
        print("按县(区):")
        print(by_county.rename(columns=PANEL_HEADERS_ZH).to_string(index=False))
    if args.out is None:
        return 0
    from samplekit.io import write_csv, write_xlsx

    out = Path(args.out)
    listing = members.assign(network=network_of(members))
    csv = write_csv(listing, out / f"panel_{args.period}.csv")
    write_csv(by_city, out / f"panel_{args.period}_by_city.csv")
    write_csv(by_cell, out / f"panel_{args.period}_by_cell.csv")
    sheets = {
        "监测名单": listing.assign(network=listing["network"].map(NETWORK_ZH)),
        "按地市和网络": by_city,
        "按层": by_cell,
    }
    if by_county is not None:
        write_csv(by_county, out / f"panel_{args.period}_by_county.csv")
        sheets["按县(区)"] = by_county
    xlsx = write_xlsx(
        sheets,
        out / f"panel_{args.period}.xlsx",
        headers={**PANEL_HEADERS_ZH, **NETWORK_ZH},
        titles={
            "监测名单": f"{args.period} 有效的监测企业名单",
            "按地市和网络": f"{args.period} 监测企业数(按地市和监测网络)",
            "按层": f"{args.period} 监测企业数(按抽样层)",
            "按县(区)": f"{args.period} 监测企业数(按县(区))",
        },
        about={
            "存储": str(args.store),
            "月份": args.period,
            "监测企业": len(members),
            "名单版本": ", ".join(map(str, versions)),
            "说明": "名单来自存储的名单记录(panel_membership):起始月份 ≤ 本月 ≤ 截止月份",
        },
    )
    print(f"已写入 {csv}、{xlsx} 及按地市、按层的计数")
    return 0
