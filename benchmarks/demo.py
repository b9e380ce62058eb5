"""Time the stages of a cold ``samplekit demo``: wall and CPU seconds per stage, one table.

    PYTHONPATH=$PWD python benchmarks/demo.py [--params params/guangdong_2013.yaml]
        [--notebooks all|none|08,09] [--profile DIR]

Stages, in the order the demo runs them, on an empty cache (a fresh temporary folder named by
``SAMPLEKIT_CACHE_DIR``, which the notebook kernels inherit):

* ``register``  — the seeded demo register (:func:`samplekit.jobs.register`);
* ``selection`` — allocation and selection (:func:`samplekit.jobs.selection`);
* ``store``     — the demo store, split into ``simulation`` (the monthly history, without the
  December windows), ``maintain`` (the windows: :func:`samplekit.maintenance.maintain`),
  ``files`` (writing the monthly files), ``windows`` (writing the panel of record),
  ``ingest`` (reading, validating and loading every file) and ``network`` (receipts, events,
  special notes, insurance);
* ``warning``   — the quarter's warning (:func:`samplekit.jobs.warning`, as ``warm`` does);
* each notebook run alone (``samplekit run`` of that one notebook, after the stages above
  cached their results, as in the demo where ``warm`` runs first). A notebook's CPU is its
  kernel's (a child process) plus the runner's.

Sub-stages are measured by wrapping the functions in place; the sums are inclusive (``store``
holds its parts). ``--profile DIR`` writes a cProfile file per top stage
(``DIR/<stage>.prof``; read with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import importlib
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Timed sub-stages: (label, module, attribute) wrapped in place while the store is built.
_WRAPPED = (
    ("maintain", "samplekit.maintenance", "maintain"),
    ("files", "samplekit.demo.history", "write_history_files"),
    ("windows", "samplekit.store", "write_window"),
    ("ingest", "samplekit.store", "ingest_files"),
    ("network", "samplekit.demo.network", "add_network_demo"),
    ("history", "samplekit.demo.history", "simulate_panel_history"),
    ("history", "samplekit.demo.history", "simulate_expansion_history"),
)

wall: dict[str, float] = defaultdict(float)
cpu: dict[str, float] = defaultdict(float)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@contextlib.contextmanager
def timed(label: str, profile: Path | None = None) -> Iterator[None]:
    prof = cProfile.Profile() if profile is not None else None
    w0, c0 = time.perf_counter(), _cpu()
    if prof is not None:
        prof.enable()
    try:
        yield
    finally:
        if prof is not None:
            prof.disable()
            profile.mkdir(parents=True, exist_ok=True)
            prof.dump_stats(str(profile / f"{label}.prof"))
        wall[label] += time.perf_counter() - w0
        cpu[label] += _cpu() - c0


def _wrap(label: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with timed(label):
            return fn(*args, **kwargs)

    return inner


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params/guangdong_2013.yaml")
    ap.add_argument("--notebooks", default="all", help="all, none or stems/prefixes (08,09)")
    ap.add_argument("--profile", default=None, metavar="DIR")
    ap.add_argument(
        "--cache", default=None, metavar="DIR", help="cache folder (default: a new one)"
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="BLAS threads of this process and the kernels (default: as in the demo, "
        "runner.blas_threads(DEMO_WORKERS); 0 = the library's default)",
    )
    args = ap.parse_args()
    profile = Path(args.profile) if args.profile else None

    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="samplekit_bench_"))
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["SAMPLEKIT_CACHE_DIR"] = str(cache)  # this process and every kernel
    os.environ.pop("SAMPLEKIT_NO_CACHE", None)
    import samplekit.cache
    import samplekit.paths

    if samplekit.paths.cache_dir() != cache:  # an older checkout without the variable
        samplekit.paths.cache_dir = lambda: cache  # type: ignore[assignment]
        samplekit.cache.cache_dir = lambda: cache  # type: ignore[assignment]

    from samplekit import jobs
    from samplekit.params import load_params

    limits = contextlib.ExitStack()  # held open until the process ends
    try:
        from samplekit.runner import DEMO_WORKERS, _thread_share, blas_threads
    except ImportError:  # an older checkout (before/after comparisons): its own defaults
        threads = None
    else:
        threads = (
            blas_threads(DEMO_WORKERS) if args.blas_threads is None else args.blas_threads or None
        )
        # The whole benchmark: the stages here and every kernel started below.
        limits.enter_context(_thread_share(threads))

    for label, module, attr in _WRAPPED:
        mod = importlib.import_module(module)
        if hasattr(mod, attr):
            setattr(mod, attr, _wrap(label, getattr(mod, attr)))

    total_w0, total_c0 = time.perf_counter(), _cpu()
    params = load_params(ROOT / args.params)
    with timed("register", profile):
        jobs.register(params)
    with timed("selection", profile):
        jobs.selection(params)
    with timed("store", profile):
        jobs.store(params)
    with timed("warning", profile):
        if params.get("warning", None) is not None and params.get("quarter", None) is not None:
            jobs.warning(params)
    # The history's own simulation is what is left once its windows are taken out.
    wall["simulation"] = wall.pop("history", 0.0) - wall["maintain"]
    cpu["simulation"] = cpu.pop("history", 0.0) - cpu["maintain"]

    from samplekit.runner import demo_notebooks, run_notebooks

    books = demo_notebooks()
    if args.notebooks == "none":
        books = []
    elif args.notebooks != "all":
        wanted = [s.strip() for s in args.notebooks.split(",") if s.strip()]
        books = [nb for nb in books if any(nb.stem.startswith(w) for w in wanted)]
    out = Path(tempfile.mkdtemp(prefix="samplekit_bench_run_"))
    for nb in books:
        with timed(f"nb {nb.stem}"):
            result = run_notebooks([nb], ROOT / args.params, out, html=True)
        if not result.ok:
            print(f"{nb.name} failed: {result.results[0].failure}", file=sys.stderr)
    total_w, total_c = time.perf_counter() - total_w0, _cpu() - total_c0

    order = [
        ("register", 0),
        ("selection", 0),
        ("store", 0),
        ("simulation", 1),
        ("maintain", 1),
        ("files", 1),
        ("windows", 1),
        ("ingest", 1),
        ("network", 1),
        ("warning", 0),
        *((f"nb {nb.stem}", 0) for nb in books),
    ]
    print(f"{'stage':<34}{'wall s':>9}{'cpu s':>9}")
    for label, depth in order:
        if label in wall:
            print(f"{'  ' * depth + label:<34}{wall[label]:>9.1f}{cpu[label]:>9.1f}")
    print(f"{'total (stages run one at a time)':<34}{total_w:>9.1f}{total_c:>9.1f}")
    print(f"cache: {cache}; notebooks: {out}; BLAS threads: {threads or 'default'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
