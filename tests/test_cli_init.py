"""``samplekit init`` and ``demo-register`` for a new province, and the one place that decides
demo vs real input (``jobs.uses_demo``): a new province never gets synthetic data silently."""

from __future__ import annotations

import pandas as pd
import pytest

from samplekit import jobs
from samplekit.cli import main
from samplekit.cli.init import demo_city_names
from samplekit.errors import ParamsError
from samplekit.frame import load_frame
from samplekit.params import load_params

#: A made-up province of 11 cities (names not used by the demo province).
NAMES = ["临江", "青川", "白石", "云岭", "东浦", "南塘", "西峡", "北岸", "秀水", "枫林", "石门"]
POP = [820, 560, 310, 240, 120, 95, 80, 70, 60, 45, 40]
PANEL = [200, 120, 80, 60, 40, 35, 30, 30, 30, 30, 30]


@pytest.fixture
def city_table(tmp_path):
    rows = [
        {
            "city": n,
            "municipality": False,
            "population": p,
            "employed": round(0.6 * p, 1),
            "employed_secondary": round(0.24 * p, 1),
            "employed_tertiary": round(0.27 * p, 1),
            "gdp": 8.0 * p,
            "gdp_secondary": 3.5 * p,
            "gdp_tertiary": 4.0 * p,
            "existing_panel": e,
            "existing_monthly": 30,
        }
        for n, p, e in zip(NAMES, POP, PANEL, strict=True)
    ]
    path = tmp_path / "本省城市表.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _init(tmp_path, city_table, *extra):
    job = tmp_path / "job"
    code = main(["init", str(job), "--cities", str(city_table), "--province", "云州省", *extra])
    return code, job


def test_init_writes_a_params_file_with_no_demo_names(tmp_path, city_table, capsys):
    code, job = _init(tmp_path, city_table)
    assert code == 0
    text = (job / "params.yaml").read_text(encoding="utf-8")
    checklist = (job / "检查清单.md").read_text(encoding="utf-8")
    out = capsys.readouterr().out
    for name in demo_city_names():  # 广州 … 云浮 and 广东
        assert name not in text and name not in checklist and name not in out
    params = load_params(job / "params.yaml")  # every section validates
    assert params.get("demo") is False
    assert params.path_of("province.cities") == city_table.resolve()
    assert params.get("frame.path", None) is None and "frame.path" in checklist
    assert params.path_of("monthly.store").parent == (job / "数据").resolve()
    assert "demo" not in params.section("monthly") and "demo" not in params.section("frame")
    alloc = params.section("allocation")
    assert "tilt" not in alloc and "pillar" not in alloc["sections"]
    assert "compare_with" not in alloc
    assert all(r["source"] != "province_plan_2013" for r in alloc["rules"])
    # Room for every city's lower bound: max(existing panel, population floor) per city,
    # by hand: 200+120+80+60+60+45+45+45+45+30+30 = 760, plus a quarter -> 950 -> 1000.
    assert alloc["total"] == 1000
    assert "warning.city_indicators" in checklist and "demo: true" not in text


def test_a_new_province_is_refused_demo_data_naming_the_key(tmp_path, city_table):
    _, job = _init(tmp_path, city_table)
    params = load_params(job / "params.yaml")
    with pytest.raises(ParamsError, match=r"'frame\.path' 为空.*demo: true"):
        jobs.register(params)
    with pytest.raises(ParamsError, match=r"'warning\.city_indicators'"):
        jobs.uses_demo(params, "city_indicators")
    assert jobs.data_note(params) == ""  # nothing synthetic is claimed or used
    # The demo province keeps its demo data without any opt-in.
    assert jobs.uses_demo(load_params(), "frame") and jobs.data_note(load_params())


def test_demo_true_is_a_marked_rehearsal(tmp_path, city_table):
    _, job = _init(tmp_path, city_table)
    path = job / "params.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("demo: false", "demo: true"), encoding="utf-8"
    )
    params = load_params(path)
    assert jobs.uses_demo(params, "frame") and "合成" in jobs.data_note(params)
    # The demo shock and network problems move onto this province's own cities.
    history = jobs._history(params, jobs.cities(params))
    assert set(history.shock.cities) <= set(NAMES)
    net = jobs._network_demo(jobs.cities(params), history.shock, demo_province=False)
    named = {
        *net.late_cities,
        *net.missing_cities,
        *net.analysis_late,
        *net.analysis_missing,
        *net.event_cities,
    }
    assert named <= set(NAMES)


def test_demo_register_is_loadable_and_marked(tmp_path, city_table, capsys):
    _, job = _init(tmp_path, city_table)
    out = tmp_path / "合成演练名录.csv"
    assert (
        main(
            [
                "demo-register",
                "--params",
                str(job / "params.yaml"),
                "--units",
                "3000",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "合成" in capsys.readouterr().out
    frame = load_frame(out, cities=NAMES)  # passes the real register checks
    assert len(frame) == 3000 and set(frame["city"]) <= set(NAMES)
    assert not any(n in " ".join(frame["name"].head(200)) for n in demo_city_names())
    path = job / "params.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "frame:\n  path: null", f"frame:\n  path: {out}\n  synthetic: true"
    )
    path.write_text(text, encoding="utf-8")
    params = load_params(path)
    assert not jobs.uses_demo(params, "frame") and "合成演练名录" in jobs.data_note(params)


def test_init_refuses_to_overwrite(tmp_path, city_table):
    assert _init(tmp_path, city_table)[0] == 0
    assert _init(tmp_path, city_table)[0] == 1
    assert _init(tmp_path, city_table, "--force")[0] == 0
