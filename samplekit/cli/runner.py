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
        "run", help="run notebooks with papermill; write executed notebooks, HTML, provenance",
        description="Execute notebooks (kernel python3) with parameters from one params file. "
        "Writes OUT/<name>.ipynb, a code-hidden OUT/<name>.html and OUT/provenance.json.")
    run.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebooks, run in order")
    run.add_argument("--params", default=None, metavar="FILE",
                     help=f"params YAML (default: params/{DEFAULT_PARAMS})")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder of the run")
    _common(run)
    run.add_argument("--no-html", action="store_true", help="skip the HTML copies")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="notebooks run side by side after the shared inputs are cached "
                     "(default 1: one after another)")
    run.set_defaults(handler=_run)

    demo = subparsers.add_parser(
        "demo", help="run every notebook on the embedded demo province",
        description="Run every notebook in notebooks/ (in name order) on "
        f"params/{DEFAULT_PARAMS} and say where the results are.")
    demo.add_argument("--out", default=None, metavar="DIR",
                      help="output folder (default: reports/demo)")
    _common(demo)
    demo.set_defaults(handler=_demo)

    verify = subparsers.add_parser(
        "verify", help="re-execute a run from its provenance and compare its output tables",
        description="Refuses when an input file changed since the run; otherwise re-runs the "
        "same notebooks with the same params in a temporary folder and compares every CSV/XLSX "
        "table cell by cell. Exit 0 when all match, 1 otherwise.")
    verify.add_argument("run_dir", metavar="RUN_DIR", help="folder holding provenance.json")
    verify.add_argument("--keep", default=None, metavar="DIR",
                        help="re-run into DIR and keep it (default: a temporary folder)")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify.set_defaults(handler=_verify)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"per-cell execution timeout (default {DEFAULT_TIMEOUT}; 0 = none)")
    parser.add_argument("--keep-going", action="store_true",
                        help="run the remaining notebooks after one fails")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def show_progress(args: argparse.Namespace) -> bool:
    """papermill's bar only on an interactive terminal, never under CI."""
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return not args.no_progress and not ci and sys.stderr.isatty()


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _timeout(value: float) -> float | None:
    return value if value and value > 0 else None


def _report(result: RunResult) -> int:
    for nb in result.failures:
        print(f"error: {nb.message()}", file=sys.stderr)
    status = "finished" if result.ok else "FAILED"
    print(f"run {status}: {result.out_dir}")
    groups = list_results(result)
    labels = {"notebooks": "executed notebooks", "html": "HTML (code hidden)", "tables": "tables",
              "figures": "figures", "other": "other files"}
    for key, label in labels.items():
        files = groups[key]
        if not files:
            continue
        shown = ", ".join(files[:8]) + (f", … ({len(files)} in all)" if len(files) > 8 else "")
        print(f"  {label}: {shown}")
    print(f"  provenance: {result.provenance}")
    return 0 if result.ok else 1


def _run(args: argparse.Namespace) -> int:
    params = args.params if args.params else params_dir() / DEFAULT_PARAMS
    result = run_notebooks(args.notebooks, params,
                           Path(args.out).expanduser().resolve(),
                           timeout=_timeout(args.timeout), progress=show_progress(args),
                           html=not args.no_html, keep_going=args.keep_going,
                           pre_steps=("warm",) if args.workers > 1 else (),
                           workers=max(args.workers, 1), echo=_echo)
    return _report(result)


def _demo(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser().resolve() if args.out else None
    result = run_demo(out, progress=show_progress(args), timeout=_timeout(args.timeout),
                      keep_going=args.keep_going, echo=_echo)
    return _report(result)


def _verify(args: argparse.Namespace) -> int:
    report = verify_run(Path(args.run_dir).expanduser(), progress=show_progress(args),
                        keep=args.keep, echo=_echo)
    for note in report.notes:
        print(f"note: {note}")
    for nb in report.rerun.failures:
        print(f"error: re-run {nb.message()}", file=sys.stderr)
    for table in report.tables:
        line = f"  {table.status:<17} {table.path}"
        print(line + (f" — {table.detail}" if table.detail else ""))
    differing = [t for t in report.tables if t.status != "same"]
    if report.ok:
        print(f"verify: all {len(report.tables)} output table(s) of {report.run_dir} match "
              "the re-execution")
        return 0
    print(f"verify: {len(differing)} of {len(report.tables)} output table(s) differ"
          + ("" if report.rerun.ok else "; the re-execution failed"))
    return 1
