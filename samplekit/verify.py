"""Verify a run: re-execute it from its ``provenance.json`` and compare every output table.

:func:`verify_run` refuses when an input file's hash changed, re-runs the same notebooks with the
same params into a temporary folder **without caches** (so a stale cache cannot hide a change) and
compares every output table (CSV / XLSX / Parquet cell values) with the original run.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit import __version__
from samplekit.cache import code_fingerprint, no_cache
from samplekit.errors import InputError
from samplekit.io import file_sha256
from samplekit.paths import resolve
from samplekit.runner import (
    DEFAULT_TIMEOUT,
    PROVENANCE_FILE,
    PROVENANCE_FORMAT,
    TABLE_SUFFIXES,
    RunResult,
    git_state,
    run_notebooks,
)


def read_provenance(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``RUN_DIR/provenance.json``; :class:`InputError` naming it when missing or invalid."""
    path = Path(run_dir) / PROVENANCE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path}: not found; is {run_dir} the output folder of "
            "`samplekit run` or `samplekit demo`?"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    missing = [k for k in ("format", "params", "inputs", "notebooks", "outputs") if k not in data]
    if missing:
        raise InputError(
            f"{path}: missing key(s) {', '.join(missing)}; not a samplekit provenance file"
        )
    if data["format"] != PROVENANCE_FORMAT:
        raise InputError(
            f"{path}: provenance format {data['format']!r} is not supported "
            f"(this samplekit reads format {PROVENANCE_FORMAT})"
        )
    return data


def changed_inputs(provenance: Mapping[str, Any]) -> list[str]:
    """Messages for each recorded input (params file included) that is missing or changed."""
    entries = [{"key": "params file", **{k: provenance["params"][k] for k in ("path", "sha256")}}]
    entries += list(provenance["inputs"])
    problems = []
    for entry in entries:
        path = resolve(entry["path"])
        if not path.is_file():
            problems.append(f"{path} ({entry['key']}): missing")
        elif (digest := file_sha256(path)) != entry["sha256"]:
            problems.append(
                f"{path} ({entry['key']}): sha256 {digest[:12]}… differs from "
                f"the recorded {entry['sha256'][:12]}…"
            )
    return problems


#: Relative tolerance for numeric cells in :func:`compare_grids` (absorbs last-digit float noise).
RTOL = 1e-9
ATOL = 1e-12


@dataclass(frozen=True)
class TableDiff:
    """Comparison of one output table between a run and its re-execution."""

    path: str
    status: Literal["same", "differs", "missing in re-run", "new in re-run"]
    detail: str = ""


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_run`."""

    run_dir: Path
    tables: list[TableDiff]
    rerun: RunResult
    notes: list[str]

    @property
    def ok(self) -> bool:
        return self.rerun.ok and all(t.status == "same" for t in self.tables)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"path": t.path, "status": t.status, "detail": t.detail} for t in self.tables],
            columns=["path", "status", "detail"],
        )


def _read_grids(path: Path) -> dict[str, pd.DataFrame]:
    """A table file as ``{sheet: grid of cells}`` (CSV/Parquet: one sheet ``""`` with header row
    kept as data, so renamed columns are differences too)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            return {
                ws.title: pd.DataFrame(list(ws.iter_rows(values_only=True)), dtype=object)
                for ws in wb.worksheets
            }
        finally:
            wb.close()
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        from samplekit.io import read_table

        df = read_table(path)
    header = pd.DataFrame([list(df.columns)], dtype=object)
    body = pd.DataFrame(df.to_numpy(dtype=object), dtype=object)
    return {"": pd.concat([header, body], ignore_index=True)}


def _cells(grid: pd.DataFrame) -> np.ndarray:
    """The grid's cells as an object array with every missing value (NaN, NA, None) as None."""
    cells = grid.to_numpy(dtype=object).copy()
    cells[pd.isna(cells)] = None
    return cells


def _text(value: Any) -> str:
    """A cell as text: missing -> "", floats by ``repr`` (so 3 and 3.0 compare numerically)."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def compare_grids(
    original: pd.DataFrame,
    rerun: pd.DataFrame,
    *,
    replace: Mapping[str, str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> list[tuple[int, int, str, str]]:
    """Cells that differ between two grids of table cells, as ``(row, col, original, rerun)``.

    Cells are compared as text; text that differs but parses as numbers on both sides is equal
    when ``|a - b| <= atol + rtol * |b|`` (last-digit float noise). ``replace`` rewrites substrings
    of re-run cells first (the re-run's temporary folder -> the original run folder). A shape
    difference is reported as one pseudo-cell at ``(-1, -1)``.
    """
    if original.shape != rerun.shape:
        return [
            (
                -1,
                -1,
                f"{original.shape[0]}×{original.shape[1]} cells",
                f"{rerun.shape[0]}×{rerun.shape[1]} cells",
            )
        ]
    a, b = _cells(original), _cells(rerun)
    rows, cols = np.nonzero(a != b)
    diffs = []
    # Only cells that differ as values need the text, path and numeric comparison (fast path
    # for large tables: the element-wise comparison runs in C).
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        x, y = _text(a[r, c]), _text(b[r, c])
        for old, new in (replace or {}).items():
            y = y.replace(old, new)
        if x == y:
            continue
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            diffs.append((r, c, x, y))
            continue
        if not (
            fx == fy or (math.isnan(fx) and math.isnan(fy)) or abs(fx - fy) <= atol + rtol * abs(fy)
        ):
            diffs.append((r, c, x, y))
    return diffs


def compare_tables(original: Path, rerun: Path, *, replace: Mapping[str, str] | None = None) -> str:
    """Compare two table files cell by cell; return "" when equal, else a short description."""
    a, b = _read_grids(original), _read_grids(rerun)
    if list(a) != list(b):
        return f"sheets differ: {list(a)} vs {list(b)}"
    parts = []
    for sheet in a:
        diffs = compare_grids(a[sheet], b[sheet], replace=replace)
        if not diffs:
            continue
        label = f"sheet '{sheet}': " if sheet else ""
        r, c, x, y = diffs[0]
        if r < 0:
            parts.append(f"{label}shape {x} vs {y}")
        else:
            # Spreadsheet coordinates: row 1 is the first line of the file / sheet.
            parts.append(
                f"{label}{len(diffs)} cell(s) differ, first at row {r + 1} column "
                f"{c + 1}: {x!r} vs {y!r}"
            )
    return "; ".join(parts)


def verify_run(
    run_dir: str | os.PathLike[str],
    *,
    progress: bool = False,
    keep: str | os.PathLike[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Re-execute a run from its provenance and compare its output tables with the original.

    Parameters
    ----------
    run_dir : path
        The folder holding ``provenance.json``.
    progress : bool
        Show papermill's progress bar.
    keep : path, optional
        Re-run into this folder and keep it (default: a temporary folder, removed afterwards).
    echo : callable, optional
        Receives status lines.

    Returns
    -------
    VerifyReport
        ``ok`` when the re-run succeeded and every CSV/XLSX/Parquet output table of the original
        run has the same cell values in the re-run (see :func:`compare_grids`).

    Raises
    ------
    InputError
        ``provenance.json`` is missing or invalid, or the params file or an input file is missing
        or changed since the run (each one named); a recorded notebook no longer exists.
    """
    say = echo or (lambda _msg: None)
    run = Path(run_dir).resolve()
    prov = read_provenance(run)
    problems = changed_inputs(prov)
    if problems:
        raise InputError(
            f"refusing to verify {run}: input files changed since the run, so a re-execution "
            "would not reproduce it:\n  "
            + "\n  ".join(problems)
            + "\nrestore those files (or start a new run)"
        )
    notes = []
    if prov.get("status") != "ok":
        notes.append(f"the original run's status is {prov.get('status')!r}")
    now_git = git_state()
    if prov.get("git") and now_git and prov["git"].get("commit") != now_git.get("commit"):
        notes.append(
            f"code differs: the run used commit {prov['git']['commit'][:12]}, "
            f"this checkout is at {now_git['commit'][:12]}"
        )
    recorded_code = (prov.get("code") or {}).get("package_sha256")
    if recorded_code and recorded_code != code_fingerprint()["package_sha256"]:
        notes.append(
            "the samplekit source files differ from the run's (edited since, committed "
            "or not): differing tables may come from the code change, not from "
            "non-reproducibility"
        )
    if prov.get("samplekit_version") != __version__:
        notes.append(
            f"samplekit version differs: run {prov.get('samplekit_version')}, now {__version__}"
        )
    options = prov.get("options", {})
    notebooks = [resolve(nb["source"]) for nb in prov["notebooks"]]
    with tempfile.TemporaryDirectory(prefix="samplekit-verify-") as tmp:
        target = Path(keep).resolve() if keep is not None else Path(tmp) / "rerun"
        with no_cache():  # rebuild every cached input: a stale cache must not hide a change
            rerun = run_notebooks(
                notebooks,
                resolve(prov["params"]["path"]),
                target,
                timeout=options.get("timeout", DEFAULT_TIMEOUT),
                progress=progress,
                html=False,
                keep_going=bool(options.get("keep_going", False)),
                pre_steps=options.get("pre_steps", ()),
                workers=int(options.get("workers", 1)),
                echo=echo,
            )
        # Tables may quote the run folder (an 说明 sheet); the original quotes the folder the run
        # was written to, which may since have been moved.
        recorded_out = next(
            (
                nb["parameters"].get("out_dir")
                for nb in prov["notebooks"]
                if nb.get("parameters", {}).get("out_dir")
            ),
            str(run),
        )
        # Workbooks show the folder relative to the project, or by its name alone (io.about_text).
        replace = {str(target): recorded_out, target.name: Path(recorded_out).name}
        tables = []
        recorded = {
            row["path"]: row
            for row in prov["outputs"]
            if Path(row["path"]).suffix.lower() in TABLE_SUFFIXES
        }
        rerun_tables = {p for p in rerun.outputs if Path(p).suffix.lower() in TABLE_SUFFIXES}
        for rel, row in sorted(recorded.items()):
            original = run / rel
            if not original.is_file():
                tables.append(TableDiff(rel, "differs", "missing from the run folder"))
                continue
            if rel not in rerun_tables:
                tables.append(TableDiff(rel, "missing in re-run"))
                continue
            detail = compare_tables(original, target / rel, replace=replace)
            if not detail and file_sha256(original) != row["sha256"]:
                # Values equal but file edited after the run (formatting only): say so.
                notes.append(f"{rel}: file changed since the run but its cell values match")
            tables.append(TableDiff(rel, "differs" if detail else "same", detail))
        for rel in sorted(rerun_tables - set(recorded)):
            tables.append(TableDiff(rel, "new in re-run"))
    say(f"compared {len(tables)} table(s)")
    return VerifyReport(run, tables, rerun, notes)
