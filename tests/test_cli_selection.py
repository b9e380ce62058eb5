"""The `select` / `maintain` commands on a user's register file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit import cli
from samplekit.paths import project_root

DEMO = project_root() / "params" / "guangdong_2013.yaml"


@pytest.fixture(scope="module")
def small_register(tmp_path_factory):
    """A 4000-unit slice of the demo register as a user's CSV file, and a cells table."""
    from samplekit.jobs import inputs as load_inputs
    from samplekit.params import load_params
    from samplekit.selection import CELL

    tmp = tmp_path_factory.mktemp("register")
    _, frame = load_inputs(load_params(DEMO))
    frame = frame[frame["city"].isin(["珠海", "汕尾"]) & (frame["size_class"] != "micro")]
    frame = frame.sample(4000, random_state=3).sort_values("enterprise_id")
    frame.drop(columns=["sector", "size_class", "ownership"]).to_csv(
        tmp / "register.csv", index=False
    )
    active = frame[frame["status"] == "active"]
    cells = (
        active.groupby(CELL)
        .agg(frame_units=("enterprise_id", "size"), existing=("in_panel", "sum"))
        .reset_index()
    )
    cells["frame_employment"] = active.groupby(CELL)["employees"].sum().to_numpy()
    cells["existing_monthly"] = 0
    cells["n"] = np.minimum(cells["frame_units"], cells["existing"] + 2)
    cells["n_monthly"] = (cells["n"] >= 3).astype(int)
    cells.to_csv(tmp / "cells.csv", index=False)
    return tmp, frame


def _params_units_only(tmp_path):
    """The demo params calibrating units only (a 4000-unit slice cannot meet every
    employment margin within the bounds — see the calibration_failed test below)."""
    text = DEMO.read_text(encoding="utf-8")
    assert "totals: [units, employment]" in text
    path = tmp_path / "units_only.yaml"
    path.write_text(
        text.replace("totals: [units, employment]", "totals: [units]"), encoding="utf-8"
    )
    return path


def test_cli_select_and_maintain(small_register, tmp_path, capsys):
    tmp, frame = small_register
    reg, cells = tmp / "register.csv", tmp / "cells.csv"
    params = _params_units_only(tmp_path)
    a = tmp_path / "a"
    assert (
        cli.main(
            ["select", str(params), "--frame", str(reg), "--cells", str(cells), "--out", str(a)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "保留" in out and "权数校准" in out
    sample = pd.read_csv(a / "sample_list.csv", encoding="utf-8-sig", dtype={"enterprise_id": str})
    want = pd.read_csv(cells, encoding="utf-8-sig")["n"].sum()
    assert len(sample) == want
    for name in ("reserve_list.csv", "representativeness.csv", "sample_list.xlsx"):
        assert (a / name).exists()

    # next December: two members closed
    new = frame.copy()
    closed = sample["enterprise_id"].iloc[:2].tolist()
    new.loc[new["enterprise_id"].isin(closed), "status"] = "closed"
    new.drop(columns=["sector", "size_class", "ownership"]).to_csv(
        tmp_path / "new.csv", index=False
    )
    b = tmp_path / "b"
    assert (
        cli.main(
            [
                "maintain",
                str(params),
                "--panel",
                str(a / "sample_list.csv"),
                "--frame",
                str(tmp_path / "new.csv"),
                "--out",
                str(b),
                "--period",
                "2014-12",
            ]
        )
        == 0
    )
    log = pd.read_csv(b / "change_log.csv", encoding="utf-8-sig", dtype=str).fillna("")
    assert sorted(log.loc[log["action"] == "retired", "enterprise_id"]) == sorted(closed)
    assert set(log.loc[log["action"].isin(["replacement", "borrowed"]), "replaces"]) <= {
        *closed,
        "",
    }
    after = pd.read_csv(b / "sample_list.csv", encoding="utf-8-sig", dtype={"enterprise_id": str})
    assert len(after) == len(sample)
    assert len(set(after["enterprise_id"]) & set(sample["enterprise_id"])) == len(sample) - 2

    # outside the window: exit 1, nothing written
    c = tmp_path / "c"
    assert (
        cli.main(
            [
                "maintain",
                str(params),
                "--panel",
                str(a / "sample_list.csv"),
                "--frame",
                str(tmp_path / "new.csv"),
                "--out",
                str(c),
                "--period",
                "2014-06",
            ]
        )
        == 1
    )
    assert "outside the replacement window" in capsys.readouterr().err
    assert not c.exists()


def test_cli_select_reports_calibration_conflicts(small_register, tmp_path, capsys):
    tmp, _ = small_register
    # g-weights held within ±2 %: the design weights' employment totals miss the frame's by more
    text = DEMO.read_text(encoding="utf-8")
    assert "bounds: [0.3, 3.0]" in text
    tight = tmp_path / "tight.yaml"
    tight.write_text(text.replace("bounds: [0.3, 3.0]", "bounds: [0.98, 1.02]"), encoding="utf-8")
    code = cli.main(
        [
            "select",
            str(tight),
            "--frame",
            str(tmp / "register.csv"),
            "--cells",
            str(tmp / "cells.csv"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "calibration_failed" in err and "conflicting margins: " in err
    assert "largest residuals" in err and "(0.98, 1.02)" in err
    assert (tmp_path / "o" / "sample_list.csv").exists()  # written for inspection


def test_cli_select_reports_a_cell_with_too_few_units(small_register, tmp_path, capsys):
    tmp, _ = small_register
    cells = pd.read_csv(tmp / "cells.csv", encoding="utf-8-sig")
    cells.loc[0, "n"] = cells.loc[0, "frame_units"] + 3
    cells.to_csv(tmp_path / "cells.csv", index=False)
    code = cli.main(
        [
            "select",
            str(_params_units_only(tmp_path)),
            "--frame",
            str(tmp / "register.csv"),
            "--cells",
            str(tmp_path / "cells.csv"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "可入样企业不足" in err and str(cells.loc[0, "city"]) in err
    flags = pd.read_csv(tmp_path / "o" / "selection_flags.csv", encoding="utf-8-sig")
    assert (flags["flag"] == "too_few_eligible").sum() == 1
