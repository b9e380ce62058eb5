"""Notebook 01 (sample design) under papermill with injected parameters, and the CLI."""

from __future__ import annotations

import pandas as pd
import papermill

from samplekit import cli
from samplekit.paths import notebooks_dir, project_root


def test_sample_design_notebook_runs_under_papermill(tmp_path):
    out_dir = tmp_path / "run"
    papermill.execute_notebook(
        str(notebooks_dir() / "01_sample_design.ipynb"), str(tmp_path / "01.ipynb"),
        kernel_name="python3", parameters={
            "params_file": str(project_root() / "params" / "guangdong_2013.yaml"),
            "out_dir": str(out_dir)},
        cwd=str(tmp_path), progress_bar=False, execution_timeout=300)
    city = pd.read_csv(out_dir / "allocation" / "allocation_city.csv", encoding="utf-8-sig")
    cells = pd.read_csv(out_dir / "allocation" / "allocation_cells.csv", encoding="utf-8-sig")
    assert city["allocated"].sum() == 10000 and city["monthly_subsample"].sum() == 1000
    assert (cells.groupby("city")["n"].sum() == city.set_index("city")["allocated"]).all()
    assert (out_dir / "allocation" / "allocation.xlsx").stat().st_size > 0
    for name in ("city_share_vs_allocation", "mix_sample_vs_frame", "expected_cv_by_city"):
        assert (out_dir / "figures" / f"{name}.png").stat().st_size > 10_000


def test_cli_allocate_writes_tables_and_exit_codes(tmp_path, capsys):
    demo = project_root() / "params" / "guangdong_2013.yaml"
    assert cli.main(["allocate", str(demo), "--out", str(tmp_path / "ok")]) == 0
    for name in ("allocation_city.csv", "allocation_cells.csv", "rules_report.csv",
                 "precision.csv", "allocation.xlsx"):
        assert (tmp_path / "ok" / name).exists()
    report = pd.read_csv(tmp_path / "ok" / "rules_report.csv", encoding="utf-8-sig")
    assert {"rule", "scope", "city", "required", "achieved", "binding"} <= set(report.columns)
    # infeasible rule set: exit 2 with the diagnosis written and named
    bad = project_root() / "params" / "infeasible_example.yaml"
    assert cli.main(["allocate", str(bad), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "state_max_city_10" in err and "existing panel already holds" in err
    diag = pd.read_csv(tmp_path / "bad" / "diagnosis.csv", encoding="utf-8-sig")
    assert (diag["rule"] == "state_max_city_10").all() and (diag["slack"] > 0).all()
    # bad params: exit 1 naming the file and key
    broken = tmp_path / "broken.yaml"
    broken.write_text(demo.read_text(encoding="utf-8").replace(
        "method: largest_remainder", "method: dhondt"), encoding="utf-8")
    assert cli.main(["allocate", str(broken), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "allocation.method" in err
