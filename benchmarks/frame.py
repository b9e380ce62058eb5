"""Benchmark: load + validate + classify a register of 1M and 10M rows.

Generates the synthetic register once per size (Parquet and CSV in a temp folder), then times
`samplekit.frame.load_frame` on each and prints wall time and peak memory (VmHWM, the resident high-water
mark of a fresh child process per measurement). Targets on a 2-core machine: 1M < 5 s, 10M < 60 s,
memory < 8 GiB.

    python benchmarks/frame.py [--sizes 1000000 10000000] [--formats parquet csv]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
from samplekit.demo import demo_cities
from samplekit.frame import load_frame
cities = demo_cities()["city"]
t1 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    frame = load_frame(sys.argv[1], cities=cities)
t2 = time.perf_counter()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of the process that
# generated the register would report the parent's peak.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"rows": len(frame), "seconds": t2 - t1, "peak_gib": hwm / 2**20}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    args = parser.parse_args()
    from samplekit.demo import demo_cities, generate_register

    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            t = time.perf_counter()
            frame = generate_register(demo_cities(), units=size, seed=1)
            gen = time.perf_counter() - t
            raw = frame.drop(columns=["sector", "size_class", "ownership"])
            del frame
            for fmt in args.formats:
                if fmt == "csv" and size > 2_000_000:
                    continue  # a 10M-row CSV register is not a realistic delivery format
                path = Path(tmp) / f"register_{size}.{fmt}"
                if fmt == "parquet":
                    raw.to_parquet(path, index=False)
                else:
                    raw.to_csv(path, index=False)
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                res = json.loads(out.strip().splitlines()[-1])
                print(
                    f"frame {size:>10,} rows  {fmt:<7}  load+validate+classify "
                    f"{res['seconds']:6.1f} s  peak memory {res['peak_gib']:5.2f} GiB  "
                    f"(generation {gen:5.1f} s)",
                    flush=True,
                )
            del raw


if __name__ == "__main__":
    main()
