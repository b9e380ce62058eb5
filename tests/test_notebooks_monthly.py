"""Notebook 03 runs under papermill with injected parameters and writes its tables and charts."""

from __future__ import annotations

import nbformat
import pandas as pd
import papermill

from samplekit.paths import notebooks_dir

NOTEBOOK = notebooks_dir() / "03_monthly_monitoring.ipynb"


def test_notebook_structure():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert "period: str = " in tagged[0].source
    after = nb.cells[nb.cells.index(tagged[0]) + 1].source
    assert "setup(params_file, out_dir" in after
    pinned = [c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert 1 <= len(pinned) <= 3 and all(c.outputs for c in pinned)
    assert all(c.execution_count is not None for c in pinned)  # nbval needs it on a reference
    others = [c for c in nb.cells if c.cell_type == "code" and c not in pinned]
    assert all(not c.outputs and c.execution_count is None for c in others)


def test_notebook_runs_with_parameters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # papermill runs in the launching directory: any will do
    out = tmp_path / "nb03"
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "executed.ipynb"), kernel_name="python3",
        parameters={"out_dir": str(out), "period": "2013-11"}, progress_bar=False,
        execution_timeout=600)
    out = out / "monthly"  # the notebook's own folder inside the run's out_dir
    t2 = pd.read_csv(out / "table2_2013-11.csv", encoding="utf-8-sig")
    total = t2.iloc[0]
    assert total["level"] == "总计"
    cities = t2[t2["level"] == "城市"]
    assert total["baseline_employment"] == cities["baseline_employment"].sum()
    assert (out / "monthly_tables_2013-11.xlsx").exists()
    for name in ("change_by_city", "reasons", "job_loss_trend"):
        assert (out / f"{name}_2013-11.png").stat().st_size > 10_000
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "调查期 2013-11" in text
