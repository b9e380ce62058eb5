"""The command line's own behaviour: warnings shown as Chinese notes, errors without tracebacks."""

from __future__ import annotations

import argparse
import warnings

import samplekit.cli as cli
from samplekit.errors import InputError, SamplekitWarning


def _parser_with(handler) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samplekit")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo-step").set_defaults(handler=handler)
    return parser


def test_package_warnings_are_one_chinese_note_each(monkeypatch, capsys):
    def handler(_args):
        for _ in range(2):  # the same note twice (e.g. one per quarter) is shown once
            warnings.warn("期内有调整窗口生效", SamplekitWarning, stacklevel=1)
        warnings.warn("另一条提示", SamplekitWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_with(handler))
    assert cli.main(["demo-step"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "samplekit demo-step:提示:期内有调整窗口生效",
        "samplekit demo-step:提示:另一条提示",
    ]


def test_errors_are_one_line_with_their_exit_code(monkeypatch, capsys):
    def handler(_args):
        raise InputError("名录.csv 第3行 城市列:未知城市 乙")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_with(handler))
    assert cli.main(["demo-step"]) == InputError("x").exit_code != 0
    err = capsys.readouterr().err
    assert err == "samplekit demo-step: 错误:名录.csv 第3行 城市列:未知城市 乙\n"
    assert "Traceback" not in err
