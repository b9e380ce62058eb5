"""`samplekit allocate`: tables written, exit codes for infeasible rules and bad params."""

from __future__ import annotations

import pandas as pd

from samplekit import cli
from samplekit.paths import project_root


def test_cli_allocate_writes_tables_and_exit_codes(tmp_path, capsys):
    demo = project_root() / "params" / "guangdong_2013.yaml"
    assert cli.main(["allocate", str(demo), "--out", str(tmp_path / "ok")]) == 0
    for name in (
        "allocation_city.csv",
        "allocation_cells.csv",
        "rules_report.csv",
        "precision.csv",
        "allocation.xlsx",
    ):
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
    broken.write_text(
        demo.read_text(encoding="utf-8").replace("method: largest_remainder", "method: dhondt"),
        encoding="utf-8",
    )
    assert cli.main(["allocate", str(broken), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "allocation.method" in err
