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
    "samplekit.cli.frame",
    "samplekit.cli.allocation",
    "samplekit.cli.selection",
    "samplekit.cli.panel",
    "samplekit.cli.monthly",
    "samplekit.cli.estimate",
    "samplekit.cli.warning",
    "samplekit.cli.network",
    "samplekit.cli.runner",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samplekit",
        description="Sample design, panel maintenance, monthly monitoring and unemployment "
        "early warning for enterprise employment monitoring.",
    )
    parser.add_argument("--version", action="version", version=f"samplekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
        print(f"samplekit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
