"""``samplekit run``, ``samplekit demo`` and ``samplekit verify``: notebooks, provenance, re-runs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from samplekit.params import DEFAULT_PARAMS
from samplekit.paths import params_dir
from samplekit.runner import (
    DEFAULT_TIMEOUT,
    RunResult,
    list_results,
    run_demo,
    run_notebooks,
)
from samplekit.verify import verify_run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run``, ``demo`` and ``verify`` commands."""
    run = subparsers.add_parser(
        "run",
        help="运行分析报告(notebook),写出报告、表格、图形和运行记录",
        description="按一个参数文件运行 notebook(papermill,内核 python3)。写出 DIR/<名称>.ipynb、"
        "隐藏代码的 DIR/<名称>.html、运行记录 DIR/provenance.json 和索引页 DIR/index.html。",
    )
    run.add_argument(
        "notebooks", nargs="+", metavar="NOTEBOOK", help="notebook 文件,按给出的顺序运行"
    )
    run.add_argument(
        "--params", default=None, metavar="FILE", help=f"参数文件(默认 params/{DEFAULT_PARAMS})"
    )
    run.add_argument("--out", required=True, metavar="DIR", help="本次运行的输出目录")
    _common(run)
    run.add_argument("--no-html", action="store_true", help="不写 HTML 报告")
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="同时运行的笔记本数(先缓存共用的输入;默认 1:逐个运行)",
    )
    run.set_defaults(handler=_run)

    demo = subparsers.add_parser(
        "demo",
        help="在内置的演示省份上运行全部报告(合成数据)",
        description="按文件名顺序运行 notebooks/ 中的全部 notebook(参数 "
        f"params/{DEFAULT_PARAMS}),并列出结果所在位置。",
    )
    demo.add_argument("--out", default=None, metavar="DIR", help="输出目录(默认 reports/demo)")
    _common(demo)
    demo.set_defaults(handler=_demo)

    verify = subparsers.add_parser(
        "verify",
        help="按运行记录重新运行并逐格比较输出表格",
        description="输入文件自运行以来有改动时拒绝;否则在临时目录中用相同参数重新运行相同的 notebook,"
        "逐格比较每个 CSV/XLSX 表格。全部一致退出码 0,否则 1。",
    )
    verify.add_argument("run_dir", metavar="RUN_DIR", help="含 provenance.json 的运行目录")
    verify.add_argument(
        "--keep", default=None, metavar="DIR", help="重新运行到 DIR 并保留(默认:临时目录)"
    )
    verify.add_argument("--no-progress", action="store_true", help="不显示进度条")
    verify.set_defaults(handler=_verify)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"每个单元格的运行时限(秒,默认 {DEFAULT_TIMEOUT};0 = 不限)",
    )
    parser.add_argument(
        "--keep-going", action="store_true", help="某个 notebook 失败后继续运行其余的"
    )
    parser.add_argument("--no-progress", action="store_true", help="不显示进度条")


def show_progress(args: argparse.Namespace) -> bool:
    """papermill's bar only on an interactive terminal, never under CI."""
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return not args.no_progress and not ci and sys.stderr.isatty()


#: Outcome of one table in ``verify`` (the codes of :mod:`samplekit.verify`).
VERIFY_STATUS_ZH: dict[str, str] = {
    "same": "一致",
    "differs": "不一致",
    "missing in re-run": "重新运行缺失",
    "new in re-run": "重新运行新增",
}


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _timeout(value: float) -> float | None:
    return value if value and value > 0 else None


def _report(result: RunResult) -> int:
    for nb in result.failures:
        print(f"错误:{nb.message()}", file=sys.stderr)
    status = "完成" if result.ok else "失败"
    print(f"运行{status}:{result.out_dir}")
    groups = list_results(result)
    labels = {
        "notebooks": "运行后的 notebook",
        "html": "HTML 报告(隐藏代码)",
        "tables": "表格",
        "figures": "图形",
        "other": "其他文件",
    }
    for key, label in labels.items():
        files = groups[key]
        if not files:
            continue
        shown = ", ".join(files[:8]) + (f", …(共 {len(files)} 个)" if len(files) > 8 else "")
        print(f"  {label}:{shown}")
    index = result.out_dir / "index.html"
    if index.exists():
        print(f"  索引页:{index}")
    print(f"  运行记录:{result.provenance}")
    return 0 if result.ok else 1


def _run(args: argparse.Namespace) -> int:
    params = args.params if args.params else params_dir() / DEFAULT_PARAMS
    result = run_notebooks(
        args.notebooks,
        params,
        Path(args.out).expanduser().resolve(),
        timeout=_timeout(args.timeout),
        progress=show_progress(args),
        html=not args.no_html,
        keep_going=args.keep_going,
        pre_steps=("warm",) if args.workers > 1 else (),
        workers=max(args.workers, 1),
        echo=_echo,
    )
    return _report(result)


def _demo(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser().resolve() if args.out else None
    result = run_demo(
        out,
        progress=show_progress(args),
        timeout=_timeout(args.timeout),
        keep_going=args.keep_going,
        echo=_echo,
    )
    return _report(result)


def _verify(args: argparse.Namespace) -> int:
    report = verify_run(
        Path(args.run_dir).expanduser(), progress=show_progress(args), keep=args.keep, echo=_echo
    )
    for note in report.notes:
        print(f"注意:{note}")
    for nb in report.rerun.failures:
        print(f"错误:重新运行 {nb.message()}", file=sys.stderr)
    for table in report.tables:
        line = f"  {VERIFY_STATUS_ZH.get(table.status, table.status)} {table.path}"
        print(line + (f" — {table.detail}" if table.detail else ""))
    differing = [t for t in report.tables if t.status != "same"]
    if report.ok:
        print(f"核对:{report.run_dir} 的全部 {len(report.tables)} 个输出表格与重新运行的结果一致")
        return 0
    print(
        f"核对:{len(report.tables)} 个输出表格中有 {len(differing)} 个不一致"
        + ("" if report.rerun.ok else ";重新运行失败")
    )
    return 1
