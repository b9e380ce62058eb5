"""The ``samplekit`` command line.

Each command family lives in its own module of this package exposing ``register(subparsers)``;
handlers return an exit code. User errors (:class:`~samplekit.errors.SamplekitError`) are printed
as one clear message and mapped to their exit code — never a traceback.

Exit codes: 0 ok; 1 bad input/params or problems found; 2 infeasible rule set;
3 some rows quarantined (ingest).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from samplekit import __version__
from samplekit.errors import SamplekitError

#: Modules that register sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "samplekit.cli.init",
    "samplekit.cli.frame",
    "samplekit.cli.allocation",
    "samplekit.cli.selection",
    "samplekit.cli.panel",
    "samplekit.cli.monthly",
    "samplekit.cli.warning",
    "samplekit.cli.network",
    "samplekit.cli.runner",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samplekit",
        description="企业用工定点监测:样本设计、样本维护、月度监测与失业预警。"
        "选项名和参数文件的键为英文,说明和输出为中文。",
        epilog="退出码:0 成功;1 输入或参数有误、发现问题;2 规则不可行;3 部分行被隔离(导入)。",
    )
    parser._positionals.title = "位置参数"
    parser._optionals.title = "选项"
    parser.add_argument("--version", action="version", version=f"samplekit {__version__}",
                        help="显示版本号后退出")
    sub = parser.add_subparsers(dest="command", metavar="命令", title="命令")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        return int(args.handler(args) or 0)
    except SamplekitError as exc:
        print(f"samplekit {args.command}: 错误:{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("已中断", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
