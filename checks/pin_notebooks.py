"""Copy the outputs of the pinned summary cells (tag ``nbval-check-output``) from an executed run
into the committed notebooks, after a deliberate change of the demo's numbers.

Usage: python checks/pin_notebooks.py RUN_DIR [NOTEBOOK ...]

RUN_DIR is the folder of ``samplekit demo --out RUN_DIR`` (it holds the executed notebooks). Only
the pinned cells change; every other cell stays without outputs. Review the diff before committing:
``git diff notebooks/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

PINNED = "nbval-check-output"


def pin(run_dir: Path, notebook: Path) -> int:
    executed = nbformat.read(run_dir / notebook.name, as_version=4)
    committed = nbformat.read(notebook, as_version=4)
    done = [c for c in executed.cells if PINNED in c.metadata.get("tags", [])]
    targets = [c for c in committed.cells if PINNED in c.metadata.get("tags", [])]
    if len(done) != len(targets):
        raise SystemExit(f"{notebook.name}: {len(targets)} pinned cells, the run has {len(done)}")
    for old, new in zip(targets, done, strict=True):
        if old.source != new.source:
            raise SystemExit(f"{notebook.name}: a pinned cell's source differs from the run's")
        old.outputs = new.outputs
        old.execution_count = new.execution_count
    for cell in committed.cells:
        if cell.cell_type == "code" and cell not in targets:
            cell.outputs, cell.execution_count = [], None
    nbformat.write(committed, notebook)
    return len(targets)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 1
    run_dir = Path(argv[0])
    root = Path(__file__).resolve().parent.parent / "notebooks"
    names = argv[1:] or sorted(p.name for p in root.glob("*.ipynb"))
    for name in names:
        print(f"{name}: {pin(run_dir, root / name)} cell(s) pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
