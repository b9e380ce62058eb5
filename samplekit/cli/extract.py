"""``samplekit extract``: a research extract for one role, logged in the store (issue 18)."""

from __future__ import annotations

import argparse
import getpass

from samplekit.paths import resolve


def register(subparsers: argparse._SubParsersAction) -> None:
    ex = subparsers.add_parser(
        "extract",
        help="数据共享:按角色导出监测数据(记录在监测数据库中)",
        description="按参数 extracts.roles 中角色的可见范围导出监测企业月报数据:监测处可见企业名称、"
        "代码和联系方式;研究人员得到去标识微观数据(小单元合并)。每次导出都记入监测数据库的"
        "导出日志(谁、何时、角色、月份、文件校验码),工作簿附“说明”页(使用条款)。",
    )
    ex.add_argument("--params", required=True, help="参数文件(含 extracts: 节)")
    ex.add_argument("--role", required=True, help="角色(extracts.roles 中的名称)")
    ex.add_argument("--out", required=True, help="输出目录")
    ex.add_argument(
        "--periods", help="月份:季度 2013Q4、月份 2013-12 或区间 2013-01:2013-12(默认:参数中的季度)"
    )
    ex.add_argument("--who", help="数据接收人(写入导出日志;默认当前系统用户)")
    ex.set_defaults(handler=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.extracts import periods_of
    from samplekit.params import load_params

    params = load_params(args.params)
    text = args.periods or params.get("quarter", types=str)
    who = args.who or getpass.getuser()
    done = jobs.extract(
        params, role=args.role, periods=periods_of(text), out_dir=resolve(args.out), who=who
    )
    print(
        f"已导出 {done['file']}:{done['rows']:,} 条记录、{done['firms']:,} 家企业"
        f"(角色 {done['role']},{done['periods']}),导出日志编号 {done['extract_id']},"
        f"SHA-256 {done['sha256'][:16]}…"
    )
    return 0
