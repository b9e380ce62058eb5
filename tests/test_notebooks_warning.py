"""Notebooks 04 (失业预警监测报告) and 05 (季通报) run under papermill with injected parameters."""

from __future__ import annotations

import pandas as pd
import papermill
import pytest

from samplekit.paths import notebooks_dir

SHOCKED = {"东莞", "深圳", "佛山", "中山"}


def _run(name: str, tmp_path, **params) -> None:
    papermill.execute_notebook(
        str(notebooks_dir() / name), str(tmp_path / name), kernel_name="python3",
        parameters={"params_file": "params/guangdong_2013.yaml", "out_dir": str(tmp_path / "out"),
                    **params},
        cwd=str(tmp_path), execution_timeout=600, progress_bar=False)


@pytest.mark.slow
def test_quarterly_warning_notebook(tmp_path):
    _run("04_quarterly_warning.ipynb", tmp_path, quarter="2013Q4")
    out = tmp_path / "out" / "warning"
    levels = pd.read_csv(out / "levels.csv", encoding="utf-8-sig")
    assert list(levels.columns[:8]) == ["city", "indicator", "value", "ci_low", "ci_high",
                                        "line", "level", "status"]
    comp = pd.read_csv(out / "composite.csv", encoding="utf-8-sig").set_index("city")
    assert all(comp.loc[c, "composite_rank"] >= 1 for c in SHOCKED)
    quiet = comp.drop(index=[*SHOCKED, "广东省"])
    assert (quiet["composite_rank"] == 0).mean() >= 0.8
    fc = pd.read_csv(out / "forecasts.csv", encoding="utf-8-sig")
    assert (fc.loc[fc["kind"] == "quarter", "target"] == "2014Q1").all()
    for name in ("estimates.csv", "crossing.csv", "fig_levels.png", "warning.xlsx",
                 "backtest/backtest.png"):
        assert (out / name).stat().st_size > 0


@pytest.mark.slow
def test_quarterly_circular_notebook(tmp_path):
    _run("05_quarterly_circular.ipynb", tmp_path, quarter="2013Q3")
    out = tmp_path / "out" / "circular"
    ranking = pd.read_csv(out / "ranking.csv", encoding="utf-8-sig")
    assert ranking["rank_no"].tolist() == list(range(1, len(ranking) + 1))
    assert len(ranking) == 21 and "广东省" not in set(ranking["city"])
    # the shocked cities lead the 2013Q3 ranking
    assert set(ranking["city"].head(4)) == SHOCKED
    assert (out / "ranking.xlsx").stat().st_size > 0
