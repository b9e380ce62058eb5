"""The job layer: params in, inputs and results out; demo for null paths; caches keyed by content."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from samplekit import jobs, store
from samplekit.demo import demo_cities, synthetic_panel
from samplekit.errors import InputError
from samplekit.params import load_params
from samplekit.paths import params_dir


def test_data_note_marks_every_demo_input(tmp_path):
    note = jobs.data_note(load_params())
    for word in ("年末人口", "合成演示名录", "演示历史数据", "城市预警指标"):
        assert word in note
    cities = tmp_path / "cities.csv"
    demo_cities().drop(columns="synthetic").to_csv(cities, index=False)
    for name in ("register.csv", "ind.csv"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    real = tmp_path / "real.yaml"
    real.write_text(
        f"province: {{cities: {cities}}}\nframe: {{path: {tmp_path / 'register.csv'}}}\n"
        f"monthly: {{store: {tmp_path / 'store.duckdb'}}}\n"
        f"warning: {{city_indicators: {tmp_path / 'ind.csv'}}}\n",
        encoding="utf-8",
    )
    assert jobs.data_note(load_params(real, validate=False)) == ""
    assert not any(
        jobs.uses_demo(load_params(real, validate=False), w)
        for w in ("frame", "store", "city_indicators")
    )


def test_store_uses_monthly_store_from_params(tmp_path):
    path = tmp_path / "province.duckdb"
    store.load_panel(path, synthetic_panel(3, rng=0))
    params = load_params().with_overrides(monthly={"store": str(path)})
    assert jobs.store(params) == path
    missing = load_params().with_overrides(monthly={"store": str(tmp_path / "none.duckdb")})
    with pytest.raises(InputError, match="不存在"):
        jobs.store(missing)


def test_demo_city_indicators_follow_the_params():
    params = load_params()
    table = jobs.city_indicators(params)
    cities = set(jobs.cities(params)["city"])
    assert set(table["city"]) == cities | {params.get("province.name")}
    assert table["period"].min() <= "2010-01" and table["period"].max() >= "2013-12"


def test_editing_an_input_file_in_place_changes_the_result(tmp_path):
    """Caches are keyed by file content: a corrected city table is never served stale."""
    cities = tmp_path / "cities.csv"
    shutil.copy(params_dir().parent / "data" / "demo" / "guangdong_cities.csv", cities)
    text = (params_dir() / "guangdong_2013.yaml").read_text(encoding="utf-8")
    text = text.replace("cities: data/demo/guangdong_cities.csv", f"cities: {cities}")
    text = text.replace("units: 300000", "units: 20000")
    text = "demo: true  # a rehearsal on the demo generators with a copied city table\n" + text
    p = tmp_path / "p.yaml"
    p.write_text(text, encoding="utf-8")
    first = jobs.register(load_params(p))
    table = pd.read_csv(cities)
    gz = table["city"] == "广州"  # corrected in place: more of its employment is secondary
    moved = table.loc[gz, "employed_tertiary"] * 0.5
    table.loc[gz, "employed_secondary"] += moved
    table.loc[gz, "employed_tertiary"] -= moved
    table.to_csv(cities, index=False)
    second = jobs.register(load_params(p))
    share = [((f["city"] == "广州") & (f["section"] == "C")).mean() for f in (first, second)]
    assert share[1] > share[0]


def test_the_demo_store_is_the_panel_of_record():
    """The demo (params/guangdong_2013.yaml): ≥ 3 December windows, a few dozen replacements
    each, no overlapping rows, every stored report from a member in force in its month."""
    from samplekit.panel import not_in_panel_problems, overlaps

    path = jobs.store(load_params())
    w = store.read_windows(path)
    dec = w[(w["kind"] == "maintenance") & w["window_month"].str.endswith("-12")]
    assert len(dec) >= 3 and (dec["exited"] >= 24).all() and not w["forced"].any()
    m = store.read_membership(path)
    assert overlaps(m).empty
    reports = store.read_reports(path).assign(row=lambda d: np.arange(len(d)) + 2)
    assert not_in_panel_problems(reports, m).empty
    # the task table's 10 000 places (selection.min_fresh 0: none beyond it) + 40 individual
    # businesses
    sel = jobs.selection(load_params())
    assert sel.flags.query("flag == 'fresh_added'").empty
    assert len(store.panel_in_force(path, "2013-12")) == 10000 + 40


def test_ministry_tables_count_only_the_ministry_network():
    """`samplekit tables --network ministry` for 2013-12: about 1000 firms, all ministry members."""
    from samplekit import monthly_tables as mt

    path = jobs.store(load_params())
    members = store.panel_in_force(path, "2013-12")
    reports = store.read_reports(path, ["2013-12"])
    ministry_ids = set(members.loc[members["ministry"].astype(bool), "enterprise_id"])
    expected = int(reports["enterprise_id"].isin(ministry_ids).sum())
    tables = mt.tables_for(path, "2013-12", network="ministry")
    total = tables["table2"].iloc[0]
    assert total["enterprises"] == expected
    assert 900 <= expected <= 1100
    t1 = tables["table1"]
    listed = set(t1["enterprise_id"].dropna()) - {""} if "enterprise_id" in t1 else ministry_ids
    assert listed <= ministry_ids
    province = mt.tables_for(path, "2013-12", network="province")["table2"].iloc[0]
    assert province["enterprises"] > 9000


@pytest.mark.parametrize("kind", ["object", "file", "dir"])
def test_concurrent_builders_of_one_key_build_once(tmp_path, monkeypatch, kind):
    """A notebook that asks for the store while the warm step is building it waits for that
    build (the cache's lock) and reads its result, instead of building it a second time."""
    import threading
    import time

    import samplekit.cache as cache

    monkeypatch.setattr(cache, "cache_dir", lambda: tmp_path)
    monkeypatch.delenv("SAMPLEKIT_NO_CACHE", raising=False)
    calls: list[int] = []

    def slow(*_args):
        calls.append(1)
        time.sleep(0.3)
        if kind == "file":
            _args[0].write_text("built")
        elif kind == "dir":
            (_args[0] / "x.txt").write_text("built")
        return "built"

    def get():
        if kind == "object":
            return cache.cached_object("k_obj", slow)
        if kind == "file":
            return cache.cached_file("k_file", ".txt", slow).read_text()
        return (cache.cached_dir("k_dir", slow) / "x.txt").read_text()

    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(get())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["built"] * 3
    assert len(calls) == 1
