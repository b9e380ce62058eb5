"""Solve time of the allocation: the demo province and a synthetic national case.

Targets (issue 3): demo province under 1 s; national case (~340 cities × 20 sections × 4 sizes ×
5 ownership groups) under 60 s. Prints wall-clock and CPU seconds for each stage (the machine is
shared, so CPU time is the steadier figure).

Usage: ``python benchmarks/allocation.py [--skip-national] [--cities 340]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from samplekit import reference
from samplekit.allocation import AllocationSettings, Floors, Rule, allocate, frame_cells


def national_case(n_cities: int = 340, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic country: city table and allocation cells (no unit-level register).

    Every city × section × size × ownership cell of the 20 × 4 × 5 grid gets a Poisson number
    of units (sections and sizes with realistic relative weights), so the cell grid has the
    full ~136k combinations the issue names, most with units.
    """
    rng = np.random.default_rng(seed)
    cities = [f"市{i:03d}" for i in range(n_cities)]
    pop = np.exp(rng.normal(np.log(400), 0.6, n_cities))  # 10k persons
    employed = pop * rng.uniform(0.45, 0.65, n_cities)
    sec_share = rng.uniform(0.3, 0.6, n_cities)
    gdp = employed * np.exp(rng.normal(np.log(6), 0.5, n_cities))
    city_tab = pd.DataFrame(
        {
            "city": cities,
            "municipality": np.arange(n_cities) < 4,
            "population": pop.round(1),
            "employed": employed.round(1),
            "employed_secondary": (employed * sec_share * 0.95).round(1),
            "employed_tertiary": (employed * (1 - sec_share) * 0.95).round(1),
            "gdp": gdp.round(1),
            "gdp_secondary": (gdp * (sec_share + 0.05)).round(1),
            "gdp_tertiary": (gdp * (0.9 - sec_share)).round(1),
        }
    )
    sections = reference.sections()["section"].tolist()
    sec_w = rng.dirichlet(np.full(len(sections), 0.8))
    sec_w[sections.index("C")] += 0.25
    sizes = list(reference.SIZE_CLASSES)
    size_units = np.array([0.02, 0.12, 0.46, 0.40])
    size_emp = np.array([1500.0, 400.0, 80.0, 15.0])
    owners = list(reference.OWNERSHIP_GROUPS)
    own_w = np.array([0.08, 0.04, 0.68, 0.10, 0.10])
    grid = pd.MultiIndex.from_product(
        [cities, sections, sizes, owners], names=["city", "section", "size_class", "ownership"]
    )
    cells = grid.to_frame(index=False)
    ci = np.repeat(np.arange(n_cities), len(sections) * len(sizes) * len(owners))
    si = np.tile(np.repeat(np.arange(len(sections)), len(sizes) * len(owners)), n_cities)
    zi = np.tile(np.repeat(np.arange(len(sizes)), len(owners)), n_cities * len(sections))
    oi = np.tile(np.arange(len(owners)), n_cities * len(sections) * len(sizes))
    units_city = employed * 25  # units per city (scaled)
    lam = units_city[ci] * sec_w[si] * size_units[zi] * own_w[oi]
    units = rng.poisson(lam * rng.gamma(2.0, 0.5, len(lam)))
    cells["frame_units"] = units
    cells["frame_employment"] = np.round(
        units * size_emp[zi] * rng.uniform(0.7, 1.3, len(lam))
    ).astype(np.int64)
    # existing panel: large and medium firms, about 40 per city
    p_exist = np.where(zi == 0, 0.25, np.where(zi == 1, 0.03, 0.0))
    existing = rng.binomial(units, p_exist)
    cells["existing"] = existing
    cells["existing_monthly"] = rng.binomial(existing, 0.2)
    cells = cells[cells["frame_units"] > 0].reset_index(drop=True)
    return city_tab, cells


def national_settings(total: int, monthly_total: int) -> AllocationSettings:
    rules = (
        Rule("micro_excluded", "exclude", (("size_class", ("micro",)),)),
        Rule("sme_min", "min_share", (("size_class", ("small", "medium")),), value=0.6),
        Rule("manufacturing_max", "max_share", (("section", ("C",)),), value=0.4),
        Rule("state_max", "max_share", (("ownership", ("state",)),), value=1 / 3),
        Rule(
            "m_manufacturing_max",
            "max_share",
            (("section", ("C",)),),
            scope="monthly",
            per="city",
            value=0.4,
        ),
        Rule(
            "m_sme_min",
            "min_share",
            (("size_class", ("small", "medium")),),
            scope="monthly",
            per="city",
            value=0.6,
        ),
        Rule(
            "m_state_max",
            "max_share",
            (("ownership", ("state",)),),
            scope="monthly",
            per="city",
            value=1 / 3,
        ),
    )
    return AllocationSettings(
        total=total,
        rules=rules,
        monthly_total=monthly_total,
        monthly_floors=Floors(90, ((0.0, 30),)),
        time_limit=120,
    )


def _timed(fn, *args, **kwargs):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-national", action="store_true")
    parser.add_argument("--cities", type=int, default=340)
    args = parser.parse_args()

    from samplekit.jobs import inputs as load_inputs
    from samplekit.params import load_params

    params = load_params("params/guangdong_2013.yaml")
    settings = AllocationSettings.from_params(params)
    (cities, frame), wall, cpu = _timed(load_inputs, params)
    print(f"demo province: register {len(frame):,} units loaded in {wall:.2f} s wall")
    cells, wall, cpu = _timed(frame_cells, frame)
    print(f"  frame_cells (register -> {len(cells):,} cells): {wall:.2f} s wall, {cpu:.2f} s CPU")
    runs = []
    for _ in range(3):
        result, wall, cpu = _timed(allocate, cities, frame, settings, cells=cells)
        runs.append((wall, cpu, result.solver["solve_seconds"]))
    best = min(runs)
    print(
        f"  allocate (city totals + joint MILP + rules + precision), best of 3: {best[0]:.2f} s "
        f"wall, {best[1]:.2f} s CPU; MILP {best[2]:.2f} s; model {result.solver['cells']:,} "
        f"cells, {result.solver['variables']:,} variables, {result.solver['rows']:,} rows"
    )
    if args.skip_national:
        return
    city_tab, ncells = national_case(args.cities)
    total = 30 * len(city_tab) * 5
    settings = national_settings(total=total, monthly_total=35 * len(city_tab))
    print(
        f"national case: {len(city_tab)} cities, {len(ncells):,} cells with units "
        f"({ncells['frame_units'].sum():,} units), N = {total:,}, monthly "
        f"{settings.monthly_total:,}"
    )
    result, wall, cpu = _timed(allocate, city_tab, None, settings, cells=ncells)
    s = result.solver
    print(
        f"  allocate: {wall:.1f} s wall, {cpu:.1f} s CPU; MILP {s['solve_seconds']:.1f} s; "
        f"model {s['cells']:,} cells, {s['variables']:,} variables, {s['rows']:,} rows; "
        f"solved by {s['method']}: {s['message']}"
    )


if __name__ == "__main__":
    main()
