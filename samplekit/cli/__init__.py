"""The ``samplekit`` command line.

Each command family lives in its own module of this package exposing ``register(subparsers)``;
handlers return an exit code. User errors (:class:`~samplekit.errors.SamplekitError`) are printed
as one clear message and mapped to their exit code — never a traceback.

Exit codes: 0 ok; 1 bad input/params or problems found; 2 infeasible rule set;
3 some rows quarantined (ingest).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from samplekit import __version__
from samplekit.errors import SamplekitError, SamplekitWarning

#: Modules that register sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "samplekit.cli.init",
    "samplekit.cli.frame",
    "samplekit.cli.allocation",
    "samplekit.cli.selection",
    "samplekit.cli.panel",
    "samplekit.cli.monthly",
    "samplekit.cli.estimate",
    "samplekit.cli.warning",
    "samplekit.cli.network",
    "samplekit.cli.extract",
    "samplekit.cli.runner",
    "samplekit.cli.release",
)


#: argparse's own messages, in Chinese (patterns of CPython's argparse; others pass through).
_ARGPARSE_ZH: tuple[tuple[str, str], ...] = (
    (r"the following arguments are required: (.*)", r"缺少必填参数:\1"),
    (r"unrecognized arguments: (.*)", r"无法识别的参数:\1"),
    (
        r"argument (\S+): invalid choice: (.*) \(choose from (.*)\)",
        r"参数 \1 的取值 \2 无效(可选:\3)",
    ),
    (r"argument (\S+): expected one argument", r"参数 \1 需要一个值"),
    (r"argument (\S+): invalid (\w+) value: (.*)", r"参数 \1 的取值 \3 无效(应为 \2)"),
)


class ChineseArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose own words (usage, help option, section titles, errors) are
    Chinese; sub-command parsers inherit it."""

    def __init__(self, *args, **kwargs) -> None:
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "位置参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本帮助后退出"
            )

    def format_usage(self) -> str:
        return super().format_usage().replace("usage: ", "用法:", 1)

    def format_help(self) -> str:
        return super().format_help().replace("usage: ", "用法:", 1)

    def error(self, message: str) -> NoReturn:
        import re

        for pattern, zh in _ARGPARSE_ZH:
            if re.fullmatch(pattern, message):
                message = re.sub(pattern, zh, message)
                break
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}:错误:{message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(
        prog="samplekit",
        description="企业用工定点监测:样本设计、样本维护、月度监测与失业预警。"
        "选项名和参数文件的键为英文,说明和输出为中文。",
        epilog="退出码:0 成功;1 输入或参数有误、发现问题;2 规则不可行;3 部分行被隔离(导入)。",
    )
    parser.add_argument(
        "--version", action="version", version=f"samplekit {__version__}", help="显示版本号后退出"
    )
    sub = parser.add_subparsers(dest="command", metavar="命令", title="命令")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


@contextlib.contextmanager
def _warnings_as_notes(command: str):
    """Show the package's own warnings as one 提示 line each, once per message (not Python's
    ``file:line: UserWarning`` form); other libraries' warnings keep the default display."""
    shown: set[str] = set()
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, SamplekitWarning):
            return default(message, category, filename, lineno, file, line)
        text = str(message)
        if text not in shown:
            shown.add(text)
            print(f"samplekit {command}:提示:{text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", SamplekitWarning)
        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        with _warnings_as_notes(args.command):
            return int(args.handler(args) or 0)
    except SamplekitError as exc:
        print(f"samplekit {args.command}: 错误:{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("已中断", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
