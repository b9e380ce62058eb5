"""Every notebook, executed once: the demo run through the real runner (papermill, injected
parameters, provenance, HTML), then its outputs checked and its pinned summary cells compared.

The pinned cells (tag ``nbval-check-output``) keep their outputs in the committed notebooks; a
changed key number fails here, as nbval's check would, without executing the notebook a second
time. Per-notebook properties of the written tables follow.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from samplekit.paths import notebooks_dir, params_dir
from samplekit.runner import (
    DEMO_PRE_STEPS,
    DEMO_WORKERS,
    PROVENANCE_FILE,
    demo_notebooks,
    run_notebooks,
)

SHOCKED = {"东莞", "深圳", "佛山", "中山"}
PINNED = "nbval-check-output"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """All notebooks on the demo params, once, into one run folder."""
    out = tmp_path_factory.mktemp("demo_run")
    result = run_notebooks(
        demo_notebooks(),
        params_dir() / "guangdong_2013.yaml",
        out,
        timeout=900,
        html=True,
        pre_steps=DEMO_PRE_STEPS,
        workers=DEMO_WORKERS,
    )
    failures = [r.message() for r in result.failures]
    assert result.ok, "notebook(s) failed:\n" + "\n".join(failures)
    return out


def _text(cell) -> str:
    """What nbval compares: stream and plain-text outputs, in order."""
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            parts.append(o.get("data", {}).get("text/plain", ""))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "".join(parts)


def _pinned(nb) -> list:
    return [c for c in nb.cells if PINNED in c.metadata.get("tags", [])]


@pytest.mark.parametrize("notebook", [p.name for p in demo_notebooks()])
def test_committed_notebook_is_clean_with_pinned_outputs(notebook):
    nb = nbformat.read(notebooks_dir() / notebook, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    after = nb.cells[nb.cells.index(tagged[0]) + 1].source
    assert "setup(params_file, out_dir" in after
    pinned = _pinned(nb)
    assert 1 <= len(pinned) <= 4 and all(c.outputs for c in pinned)
    others = [c for c in nb.cells if c.cell_type == "code" and c not in pinned]
    assert all(not c.outputs and c.execution_count is None for c in others)
    # No blanket warning filter: the package's own warnings must reach the statistician.
    assert not any('filterwarnings("ignore")' in c.source for c in nb.cells)


@pytest.mark.parametrize("notebook", [p.name for p in demo_notebooks()])
def test_pinned_summary_cells_match_the_demo_run(demo_run, notebook):
    committed = _pinned(nbformat.read(notebooks_dir() / notebook, as_version=4))
    executed = _pinned(nbformat.read(demo_run / notebook, as_version=4))
    assert len(executed) == len(committed)
    for old, new in zip(committed, executed, strict=True):
        assert _text(new) == _text(old), f"{notebook}: pinned cell changed:\n{old.source}"


def test_run_records_provenance_and_injected_parameters(demo_run):
    prov = json.loads((demo_run / PROVENANCE_FILE).read_text(encoding="utf-8"))
    assert prov["status"] == "ok"
    assert [nb["name"] for nb in prov["notebooks"]] == [p.stem for p in demo_notebooks()]
    by_name = {nb["name"]: nb["parameters"] for nb in prov["notebooks"]}
    assert by_name["03_monthly_monitoring"]["period"] == "2013-12"
    assert by_name["04_quarterly_warning"]["quarter"] == "2013Q4"
    for p in demo_notebooks():
        executed = nbformat.read(demo_run / p.name, as_version=4)
        injected = [
            c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
        ]
        assert len(injected) == 1 and str(demo_run) in injected[0].source
        assert (demo_run / f"{p.stem}.html").stat().st_size > 10_000


# ------------------------------------------------------------------ 01 sample design
def test_sample_design_outputs(demo_run):
    out = demo_run / "allocation"
    city = pd.read_csv(out / "allocation_city.csv", encoding="utf-8-sig")
    cells = pd.read_csv(out / "allocation_cells.csv", encoding="utf-8-sig")
    assert city["allocated"].sum() == 10000 and city["monthly_subsample"].sum() == 1000
    assert (cells.groupby("city")["n"].sum() == city.set_index("city")["allocated"]).all()
    assert (out / "allocation.xlsx").stat().st_size > 0
    for name in ("city_share_vs_allocation", "mix_sample_vs_frame", "expected_cv_by_city"):
        assert (demo_run / "figures" / f"{name}.png").stat().st_size > 10_000


# ------------------------------------------------------------------ 02 sample selection
def test_sample_selection_outputs(demo_run):
    out = demo_run / "selection"
    sample = pd.read_csv(
        out / "sample_list.csv", encoding="utf-8-sig", dtype={"enterprise_id": str}
    )
    assert len(sample) == 10000 and sample["enterprise_id"].is_unique
    assert set(sample["status"]) <= {"retained", "new", "replacement"}
    assert sample["monthly"].sum() == 1000
    rep = pd.read_csv(out / "representativeness.csv", encoding="utf-8-sig")
    city = rep[rep["dimension"] == "city"]
    np.testing.assert_allclose(city["calibrated_units"], city["frame_units"], rtol=1e-6)
    assert (out / "sample_list.xlsx").stat().st_size > 0
    for name in ("sample_by_city_status", "sample_vs_frame_shares", "calibration_g_weights"):
        assert (demo_run / "figures" / f"{name}.png").stat().st_size > 10_000


# ------------------------------------------------------------------ 03 monthly monitoring
def test_monthly_monitoring_outputs(demo_run):
    out = demo_run / "monthly"
    tables = sorted(out.glob("table2*_2013-12.csv"))
    assert tables, "no 附表二 for 2013-12"
    for path in tables:
        t2 = pd.read_csv(path, encoding="utf-8-sig")
        total = t2.iloc[0]
        assert total["level"] == "总计"
        cities = t2[t2["level"] == "城市"]
        assert total["baseline_employment"] == cities["baseline_employment"].sum()
    assert sorted(out.glob("monthly_tables*_2013-12.xlsx"))
    for name in ("change_by_city", "reasons", "job_loss_trend"):
        assert (out / f"{name}_2013-12.png").stat().st_size > 10_000


# ------------------------------------------------------------------ 04 / 05 warning
def test_quarterly_warning_outputs(demo_run):
    out = demo_run / "warning"
    levels = pd.read_csv(out / "levels.csv", encoding="utf-8-sig")
    assert list(levels.columns[:8]) == [
        "city",
        "indicator",
        "value",
        "ci_low",
        "ci_high",
        "line",
        "level",
        "status",
    ]
    comp = pd.read_csv(out / "composite.csv", encoding="utf-8-sig").set_index("city")
    assert all(comp.loc[c, "composite_rank"] >= 1 for c in SHOCKED)
    quiet = comp.drop(index=[*SHOCKED, "广东省"])
    assert (quiet["composite_rank"] == 0).mean() >= 0.8
    fc = pd.read_csv(out / "forecasts.csv", encoding="utf-8-sig")
    assert (fc.loc[fc["kind"] == "quarter", "target"] == "2014Q1").all()
    for name in (
        "estimates.csv",
        "crossing.csv",
        "fig_levels.png",
        "warning.xlsx",
        "backtest/backtest.png",
    ):
        assert (out / name).stat().st_size > 0


def test_quarterly_circular_outputs(demo_run):
    out = demo_run / "circular"
    ranking = pd.read_csv(out / "ranking.csv", encoding="utf-8-sig")
    assert ranking["rank_no"].tolist() == list(range(1, len(ranking) + 1))
    assert len(ranking) == 21 and "广东省" not in set(ranking["city"])
    # the shocked cities lead the 2013Q4 ranking
    assert set(ranking["city"].head(4)) == SHOCKED
    assert (out / "ranking.xlsx").stat().st_size > 0


def test_quarterly_brief_outputs(demo_run):
    out = demo_run / "brief"
    assert (out / "brief_2013Q4.docx").stat().st_size > 0
    book = pd.read_excel(out / "brief_2013Q4.xlsx", sheet_name=None, header=3)
    cities = book["地市同比"].set_index("地市")
    # the export shock: the shocked cities' job-loss rate rose most year on year, each with a
    # 95% interval above zero (most cities are flagged small by the Monte Carlo threshold, so
    # the brief's own judgement column says 样本过少 for them)
    change = cities["同比变动(百分点)"].sort_values(ascending=False)
    assert set(change.index[:4]) == SHOCKED
    assert (cities.loc[list(SHOCKED), "95%下限"] > 0).all()


def test_deep_dive_outputs(demo_run):
    book = pd.read_excel(demo_run / "deep_dive" / "deep_dive.xlsx", sheet_name=None, header=3)
    diff = book["对象与其余之差"]
    net = diff[diff["指标"] == "就业人数净变动率(%)"].set_index("季度")["判断"]
    # export-exposed manufacturers fall behind the rest from the 2013 shock on, not before
    assert list(net.loc[["2013Q3", "2013Q4"]]) == ["对象显著偏低"] * 2
    assert (net.loc[["2012Q1", "2012Q2", "2012Q3", "2012Q4"]] != "对象显著偏低").all()
