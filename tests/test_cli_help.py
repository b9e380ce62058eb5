"""The command line speaks Chinese: every command's help, every option's help, argparse's own
words and its errors (option names and params keys stay English)."""

from __future__ import annotations

import argparse
import re

import pytest

from samplekit.cli import build_parser, main

CJK = re.compile(r"[\u4e00-\u9fff]")
#: The commands of the modules translated here (new command modules bring their own tests).
COMMANDS = (
    "init",
    "demo-register",
    "frame",
    "cities",
    "allocate",
    "select",
    "maintain",
    "panel",
    "ingest",
    "check",
    "tables",
    "warn",
    "backtest",
    "receive",
    "receipt",
    "chase",
    "supplement",
    "crosscheck",
    "evaluate",
    "run",
    "demo",
    "verify",
)


def _parsers(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", helps.get(name), sub
                yield from _parsers(sub, f"{prefix}{name} ")


def test_every_command_and_option_has_chinese_help():
    missing = []
    for name, help_text, sub in _parsers(build_parser()):
        if name.split()[0] not in COMMANDS:
            continue
        if not (help_text and CJK.search(help_text)):
            missing.append(f"{name}: {help_text!r}")
        for action in sub._actions:
            if action.help is argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
                continue
            if not (action.help and CJK.search(action.help)):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing


def test_argparse_words_and_errors_are_chinese(capsys):
    with pytest.raises(SystemExit):
        main(["warn", "--params", "x.yaml"])
    err = capsys.readouterr().err
    assert err.startswith("用法:samplekit warn") and "缺少必填参数:--out" in err
    with pytest.raises(SystemExit):
        main(["select", "--help"])
    out = capsys.readouterr().out
    assert "显示本帮助后退出" in out and "选项:" in out and "usage" not in out


def test_params_is_spelled_the_same_everywhere(tmp_path, capsys):
    """allocate/select/maintain take --params like every other command (PARAMS still works)."""
    assert main(["allocate", "--out", str(tmp_path)]) == 1
    assert "--params" in capsys.readouterr().err
