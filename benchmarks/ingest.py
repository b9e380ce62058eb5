"""Validate + load one month of reports: 10 000 (the province) and 310 000 (a national month).

Targets (issue 5): under 2 s and under 30 s. Prints one line per size and layout:

    /work/venv/bin/python benchmarks/ingest.py [--sizes 10000 310000] [--repeat 3]

Timed: reading the file, validating every row (panel membership, last month's figures from
the store, all rules) and loading it into a DuckDB store in one transaction (the panel and the
previous month are already in the store, as in production). The best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from samplekit.demo import HistorySettings, simulate_history, synthetic_panel
from samplekit.io import write_csv
from samplekit.reports import read_report_file, to_form, validate_reports
from samplekit.store import ingest_file, load_panel, table_counts


def bench(n: int, layout: str, repeat: int, work: Path) -> None:
    panel = synthetic_panel(n, rng=1)
    reports, _ = simulate_history(
        panel, HistorySettings(start="2013-06", end="2013-07", seed=1, shock=None)
    )
    june = reports[reports["period"] == "2013-06"]
    july = reports[reports["period"] == "2013-07"]
    prev_file = work / f"prev_{n}_2013-06.csv"
    write_csv(june, prev_file, excel=False)
    if layout == "form":
        path = work / f"附表一_{n}_2013-07.csv"
        with open(path, "w", encoding="gbk", newline="") as fh:
            to_form(july, names=panel["name"]).to_csv(fh, index=False, lineterminator="\n")
    else:
        path = work / f"reports_{n}_2013-07.csv"
        write_csv(july, path, excel=False)
    best_validate = best_total = float("inf")
    for k in range(repeat):
        store = work / f"s_{n}_{layout}_{k}.duckdb"
        load_panel(store, panel)
        ingest_file(store, prev_file)
        t0 = time.perf_counter()
        rf = read_report_file(path)
        validate_reports(rf.data, panel_ids=panel["enterprise_id"], expected_period="2013-07")
        best_validate = min(best_validate, time.perf_counter() - t0)
        t0 = time.perf_counter()
        r = ingest_file(store, path)
        best_total = min(best_total, time.perf_counter() - t0)
        assert r.loaded == n and table_counts(store)["reports"] == 2 * n
    size_mb = path.stat().st_size / 1e6
    print(
        f"{n:>7} rows  {layout:<9} ({size_mb:5.1f} MB)  read+validate {best_validate:6.2f} s"
        f"   ingest (read+validate+load) {best_total:6.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 310_000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            for layout in ("canonical", "form"):
                bench(n, layout, args.repeat if n <= 50_000 else 1, Path(tmp))


if __name__ == "__main__":
    main()
