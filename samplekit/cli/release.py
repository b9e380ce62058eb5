"""``samplekit release`` (the quarterly public release: wages, vacancies, shortage
occupations, climate indices, with disclosure control) and ``samplekit ingest-labour`` (load
quarterly labour-use forms into the store)."""

from __future__ import annotations

import argparse

from samplekit.paths import resolve


def register(subparsers: argparse._SubParsersAction) -> None:
    rel = subparsers.add_parser(
        "release",
        help="季度公开发布:薪酬水平、紧缺职业、用工景气指数(含统计披露控制)",
        description="按地区、行业、企业规模估计季度薪酬水平、岗位空缺、紧缺职业排名和用工景气"
        "指数,进行统计披露控制(最少企业数、支配规则、二次隐匿、变异系数标注),写出公开表与"
        "新闻通稿(DIR/public/)和含标准误的内部附表(DIR/internal/)。",
    )
    rel.add_argument("--params", required=True, help="参数文件 YAML(release: 节)")
    rel.add_argument("--quarter", required=True, help="季度,如 2013Q4")
    rel.add_argument("--out", required=True, help="输出目录")
    rel.set_defaults(handler=run_release)

    ing = subparsers.add_parser(
        "ingest-labour",
        help="载入企业用工情况调查表(季度)",
        description="校验并载入季度企业用工情况调查表(规范格式或中文表式):有错误的行进入隔离区,"
        "整个文件一次性载入,相同文件重复载入不改变存储。",
    )
    ing.add_argument("files", nargs="+", help="调查表文件(CSV/XLSX)")
    ing.add_argument("--store", required=True, help="DuckDB 存储文件")
    ing.add_argument("--quarter", required=True, help="季度,如 2013Q4")
    ing.add_argument("--params", help="参数文件(release.form 校验阈值)")
    ing.set_defaults(handler=run_ingest_labour)


def run_release(args: argparse.Namespace) -> int:
    from samplekit import jobs
    from samplekit.io import standard_about
    from samplekit.params import load_params
    from samplekit.release import write_release

    params = load_params(args.params, quarter=args.quarter)
    quarter = params.get("quarter", types=str)
    result = jobs.release(params, quarter)
    out = resolve(args.out)
    note = jobs.release_note(params)
    paths = write_release(
        result,
        out,
        province=str(params.get("province.name", "全省")),
        data_note=note,
        about=standard_about(params),
    )
    k = result.counts()
    print(f"已写出 {len(paths)} 个文件到 {out}")
    print(
        f"release {quarter}: {k['cells']} 个指标格,公开 {k['published']},一次隐匿 "
        f"{k['primary']},二次隐匿 {k['secondary']},标注不可靠 {k['unreliable']}"
    )
    return 0


def run_ingest_labour(args: argparse.Namespace) -> int:
    from samplekit.labour_form import FormRules
    from samplekit.params import load_params
    from samplekit.store import ingest_labour_forms

    rules = FormRules.from_params(load_params(args.params)) if args.params else FormRules()
    quarantined = 0
    for f in args.files:
        res = ingest_labour_forms(
            resolve(args.store), resolve(f), quarter=args.quarter, rules=rules
        )
        print(res.line())
        quarantined += res.quarantined
    return 3 if quarantined else 0
