"""Benchmark: samplekit's PRN selection vs svy's plain stratified SRS on the same frame and sizes.

For each frame size (default 1M and 10M units, about 5000 cells) a synthetic register and
allocation are generated once (:func:`samplekit.selection.synthetic_frame`), then timed in the same
run, each in its own subprocess so that peak memory (max RSS) is attributed to one method:

* ``samplekit``: ``select_sample`` — PRN hashing of every id, retained panel, sequential SRS per
  cell, reserves, monthly subsample, weights, bounded raking calibration, representativeness;
* ``svy``: ``svy.Sample(df, Design(stratum="cell")).sampling.srs(n={cell: n_h})`` on a polars
  frame of the eligible units with a prepared cell label column (preparation not timed).

Each method runs three times in its process and the best time is printed (shared machines are
noisy); peak memory is the process's max RSS, input frame included.

Usage: ``python benchmarks/selection.py [--sizes 1000000 10000000] [--cells 5000]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 3  # each method runs 3 times in its process; the best time is reported (timeit rule)


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _make(units: int, cells: int, path: Path) -> None:
    from samplekit.selection import synthetic_frame

    frame, table = synthetic_frame(units, cells, sample_size=max(10_000, units // 200), rng=2013)
    frame.to_parquet(path / "frame.parquet", index=False)
    table.to_parquet(path / "cells.parquet", index=False)


def _run_samplekit(path: Path) -> dict:
    import pandas as pd

    from samplekit.selection import SelectionSettings, select_sample

    frame = pd.read_parquet(path / "frame.parquet")
    cells = pd.read_parquet(path / "cells.parquet")
    base = _peak_gib()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        result = select_sample(frame, cells, SelectionSettings(seed=20130627))
        times.append(time.perf_counter() - t)
    return {
        "seconds": min(times),
        "sample": len(result.sample),
        "peak_gib": _peak_gib(),
        "input_gib": base,
        "converged": result.calibration_converged,
    }


def _run_svy(path: Path) -> dict:
    import numpy as np
    import pandas as pd
    import polars as pl
    import svy

    from samplekit.selection import CELL

    frame = pd.read_parquet(path / "frame.parquet")
    cells = pd.read_parquet(path / "cells.parquet")
    frame = frame[frame["status"] == "active"]
    codes = np.zeros(len(frame), dtype=np.int64)
    ccodes = np.zeros(len(cells), dtype=np.int64)
    for col in CELL:  # one integer stratum label per cell (preparation, not timed)
        cats = pd.Index(sorted(cells[col].astype(str).unique()))
        codes = codes * (len(cats) + 1) + cats.get_indexer(frame[col].astype(str))
        ccodes = ccodes * (len(cats) + 1) + cats.get_indexer(cells[col].astype(str))
    df = pl.DataFrame(
        {
            "enterprise_id": frame["enterprise_id"].to_numpy(dtype=object).astype(str),
            "cell": codes.astype(str),
            "employees": frame["employees"].to_numpy(),
        }
    )
    present = set(np.unique(codes).astype(str))
    n = {str(k): int(v) for k, v in zip(ccodes, cells["n"], strict=True) if str(k) in present}
    del frame
    base = _peak_gib()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        sample = svy.Sample(df, svy.Design(stratum="cell"))
        sample = sample.sampling.srs(n=n, rstate=20130627)
        times.append(time.perf_counter() - t)
    return {
        "seconds": min(times),
        "sample": int(sample.data.height),
        "peak_gib": _peak_gib(),
        "input_gib": base,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, path = args.worker
        out = {
            "make": lambda p: _make(*json.loads((p / "spec.json").read_text()), p),
            "samplekit": _run_samplekit,
            "svy": _run_svy,
        }[kind](Path(path))
        print(json.dumps(out))
        return 0
    print(f"{'units':>11} {'cells':>6} {'method':>10} {'seconds':>8} {'sample':>7} {'peak GiB':>8}")
    for units in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp)
            (p / "spec.json").write_text(json.dumps([units, args.cells]))
            subprocess.run(
                [sys.executable, __file__, "--worker", "make", tmp],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            res = {}
            for kind in ("samplekit", "svy"):
                done = subprocess.run(
                    [sys.executable, __file__, "--worker", kind, tmp],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                res[kind] = json.loads(done.stdout.strip().splitlines()[-1])
                r = res[kind]
                print(
                    f"{units:>11,} {args.cells:>6} {kind:>10} {r['seconds']:>8.2f} "
                    f"{r['sample']:>7} {r['peak_gib']:>8.2f}",
                    flush=True,
                )
            ratio = res["samplekit"]["seconds"] / res["svy"]["seconds"]
            print(
                f"{'':>11} {'':>6} {'ratio':>10} {ratio:>8.2f}  (samplekit / svy; < 1 is faster)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
