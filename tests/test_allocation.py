"""Allocation: totals at every level, rules, floors and caps, the existing panel, the monthly
subsample, determinism, infeasibility diagnosis, optimality against brute force."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samplekit.allocation import (
    AllocationSettings,
    Floors,
    Rule,
    allocate,
    frame_cells,
    rule_bounds,
    write_allocation,
)
from samplekit.errors import InfeasibleError, ParamsError
from samplekit.params import Params, load_params

SECTIONS = ("A", "C", "E", "F", "G")
SIZES = ("large", "medium", "small", "micro")
OWNERS = ("state", "private", "foreign")


def make_cities(n: int, rng: np.random.Generator) -> pd.DataFrame:
    pop = rng.uniform(30, 300, n)
    emp = pop * 0.55
    sec = rng.uniform(0.3, 0.6, n)
    gdp = emp * rng.uniform(3, 8, n)
    return pd.DataFrame({
        "city": [f"城{i}" for i in range(n)], "municipality": [False] * n,
        "population": pop, "employed": emp, "employed_secondary": emp * sec,
        "employed_tertiary": emp * (1 - sec), "gdp": gdp, "gdp_secondary": gdp * sec,
        "gdp_tertiary": gdp * (1 - sec), "existing_panel": 0, "existing_monthly": 0,
    })


def make_frame(cities: pd.DataFrame, rng: np.random.Generator, units_per_cell: int = 6,
               p_existing: float = 0.25) -> pd.DataFrame:
    rows = []
    size_emp = {"large": 1200, "medium": 300, "small": 60, "micro": 8}
    for city in cities["city"]:
        for section, size, owner in itertools.product(SECTIONS, SIZES, OWNERS):
            for _ in range(rng.integers(0, units_per_cell + 1)):
                existing = size in ("large", "medium") and rng.random() < p_existing
                rows.append({
                    "city": city, "section": section, "size_class": size, "ownership": owner,
                    "employees": int(size_emp[size] * rng.uniform(0.5, 1.5)),
                    "status": "active" if rng.random() < 0.95 else "closed",
                    "in_panel": existing, "in_monthly": existing and rng.random() < 0.4,
                })
    return pd.DataFrame(rows)


MINISTRY_RULES = (
    Rule("micro_excluded", "exclude", (("size_class", ("micro",)),)),
    Rule("sme_min", "min_share", (("size_class", ("small", "medium")),), value=0.6),
    Rule("manufacturing_max", "max_share", (("section", ("C",)),), per="city", value=0.4),
    Rule("state_max", "max_share", (("ownership", ("state",)),), value=1 / 3),
    Rule("m_manufacturing_max", "max_share", (("section", ("C",)),), scope="monthly",
         per="city", value=0.4),
    Rule("m_sme_min", "min_share", (("size_class", ("small", "medium")),), scope="monthly",
         per="city", value=0.6),
)


def small_settings(**kw) -> AllocationSettings:
    base = {"total": 180, "rules": MINISTRY_RULES, "monthly_total": 60, "top_sections": 3,
                "floors": Floors(300, ((100.0, 30), (0.0, 20))),
                "monthly_floors": Floors(90, ((0.0, 5),)), "mip_gap": 0.0}
    base.update(kw)
    return AllocationSettings(**base)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    cities = make_cities(3, rng)
    frame = make_frame(cities, rng, units_per_cell=10)
    return cities, frame


@pytest.fixture(scope="module")
def result(case):
    cities, frame = case
    return allocate(cities, frame, small_settings())


def check_all_constraints(result, frame_cells_df, settings):
    """Independent check of every constraint from the output tables."""
    city, cells = result.city, result.cells
    assert city["allocated"].sum() == settings.total
    assert city["monthly_subsample"].sum() == settings.monthly_total
    by_city = cells.groupby("city")[["n", "n_monthly"]].sum()
    assert (by_city["n"] == city.set_index("city")["allocated"]).all()
    assert (by_city["n_monthly"] == city.set_index("city")["monthly_subsample"]).all()
    assert (city["primary"] + city["secondary"] + city["tertiary"] == city["allocated"]).all()
    sector_n = cells.groupby(["city", "sector"])["n"].sum().unstack(fill_value=0)
    c = city.set_index("city")
    for s in ("secondary", "tertiary"):
        got = sector_n[s] if s in sector_n else 0
        assert (got == c[s]).all()
    assert (city["allocated"] >= city["floor"]).all() and (city["allocated"] <= city["cap"]).all()
    assert (cells["n"] >= cells["existing"]).all()
    assert (cells["n"] <= cells["frame_units"]).all()
    assert (cells["n_monthly"] <= cells["n"]).all()
    # no cell lost: the output covers every cell of the frame
    assert len(cells) == len(frame_cells_df)
    for rule in settings.rules:
        col = "n_monthly" if rule.scope == "monthly" else "n"
        groups = [("全省", cells)] if rule.per == "province" else list(cells.groupby("city"))
        for name, g in groups:
            if rule.per == "province":
                base = settings.monthly_total if rule.scope == "monthly" else settings.total
            else:
                base = int(c.loc[name, "monthly_subsample" if rule.scope == "monthly"
                                 else "allocated"])
            count = int(g.loc[rule.mask(g), col].sum())
            if rule.kind == "max_share":
                assert count <= rule.value * base + 1e-9, (rule.name, name)
            elif rule.kind == "min_share":
                assert count >= rule.value * base - 1e-9, (rule.name, name)
            elif rule.kind == "exclude":
                assert count == 0, (rule.name, name)
            elif rule.kind == "min_count":
                assert count >= rule.value
            else:
                assert count <= rule.value


def test_frame_cells_counts_active_units_and_members(case):
    _, frame = case
    cells = frame_cells(frame)
    active = frame[frame["status"] == "active"]
    assert cells["frame_units"].sum() == len(active)
    assert cells["frame_employment"].sum() == active["employees"].sum()
    assert cells["existing"].sum() == active["in_panel"].sum()
    assert cells["existing_monthly"].sum() == active["in_monthly"].sum()
    one = active[(active["city"] == "城0") & (active["section"] == "C")
                 & (active["size_class"] == "large") & (active["ownership"] == "state")]
    row = cells[(cells["city"] == "城0") & (cells["section"] == "C")
                & (cells["size_class"] == "large") & (cells["ownership"] == "state")]
    assert row["frame_units"].item() == len(one)


def test_totals_rules_floors_caps_and_existing_panel(case, result):
    _, frame = case
    check_all_constraints(result, frame_cells(frame), result.settings)
    # every existing member keeps its place
    assert (result.cells["n"] >= result.cells["existing"]).all()
    report = result.rules_report
    assert set(report["binding"]) <= {"是", "否"}
    # the report's achieved numbers are the cell sums
    row = report[(report["rule"] == "state_max")].iloc[0]
    assert row["achieved"] == result.cells.loc[result.cells["ownership"] == "state", "n"].sum()
    assert row["required"] == math.floor(180 / 3)


def test_city_scores_and_floors(case, result):
    cities, _ = case
    city = result.city.set_index("city")
    emp = cities.set_index("city")["employed"]
    gdp = cities.set_index("city")["gdp"]
    score = 0.5 * emp / emp.sum() + 0.5 * gdp / gdp.sum()
    assert np.allclose(city.loc[score.index, "score"], score)
    pop = cities.set_index("city")["population"]
    for name in city.index:
        minimum = 30 if pop[name] >= 100 else 20
        assert city.loc[name, "floor"] == min(max(minimum, city.loc[name, "existing"]),
                                              city.loc[name, "cap"])


def test_cell_targets_are_proportional_to_frame_employment(result):
    cells = result.cells
    open_ = cells[cells["allowed"] & (cells["size_class"] != "micro")
                  & (cells["sector"] == "secondary")]
    for name, g in open_.groupby("city"):
        total = result.city.set_index("city").loc[name, "secondary"]
        expect = total * g["frame_employment"] / g["frame_employment"].sum()
        assert np.allclose(g["target_n"], expect)


def test_monthly_prefers_existing_network_members(case):
    cities, frame = case
    res = allocate(cities, frame, small_settings(prefer_existing_monthly=5.0))
    kept = np.minimum(res.cells["n_monthly"], res.cells["existing_monthly"]).sum()
    res0 = allocate(cities, frame, small_settings(prefer_existing_monthly=0.0))
    kept0 = np.minimum(res0.cells["n_monthly"], res0.cells["existing_monthly"]).sum()
    assert kept >= kept0
    assert kept == min(res.cells["existing_monthly"].sum(), 60) or kept > kept0


def test_allocation_is_deterministic(case, tmp_path):
    cities, frame = case
    a = allocate(cities, frame, small_settings())
    b = allocate(cities, frame, small_settings())
    pa = write_allocation(a, tmp_path / "a")
    time.sleep(1.1)  # the workbook must not carry the clock (openpyxl stamps "modified")
    pb = write_allocation(b, tmp_path / "b")
    for key in pa:
        assert Path(pa[key]).read_bytes() == Path(pb[key]).read_bytes(), key


@pytest.mark.parametrize("method", ["largest_remainder", "webster", "huntington_hill"])
def test_every_method_gives_exact_totals(case, method):
    cities, frame = case
    res = allocate(cities, frame, small_settings(method=method))
    check_all_constraints(res, frame_cells(frame), res.settings)


def test_infeasible_rule_names_the_rule_city_and_numbers(case):
    cities, frame = case
    # no large state-owned enterprise in any city: the existing panel holds some
    where = (("ownership", ("state",)), ("size_class", ("large",)))
    rules = MINISTRY_RULES + (Rule("no_large_state", "max_count", where, per="city", value=0),)
    with pytest.raises(InfeasibleError) as err:
        allocate(cities, frame, small_settings(rules=rules))
    diag = err.value.diagnosis
    cells = frame_cells(frame)
    mask = (cells["ownership"] == "state") & (cells["size_class"] == "large")
    existing = cells[mask].groupby("city")["existing"].sum()
    existing = existing[existing > 0]
    # the smallest relaxation: exactly the existing members, city by city, and nothing else
    assert set(diag["rule"]) == {"no_large_state"}
    got = diag.set_index("city")
    assert set(got.index) == set(existing.index)
    assert (got["slack"] == existing[got.index]).all()
    assert (got["required"] == 0).all() and (got["achievable"] == existing[got.index]).all()
    text = str(err.value)
    assert "no_large_state" in text and "existing panel already holds" in text
    name = existing.index[0]
    assert f"{name}:" in text


def test_infeasible_monthly_floors_are_diagnosed(case):
    cities, frame = case
    with pytest.raises(InfeasibleError) as err:
        allocate(cities, frame, small_settings(monthly_floors=Floors(90, ((0.0, 30),)),
                                               keep_existing_monthly=False))
    assert "90 > total 60" in str(err.value)
    assert err.value.exit_code == 2


def test_optimal_against_brute_force():
    """One city, four open cells, a rule; enumerate every (n, m) and compare objectives."""
    cities = make_cities(1, np.random.default_rng(0))
    cities.loc[0, ["employed_secondary", "gdp_secondary"]] = [1.0, 1.0]
    cities.loc[0, ["employed_tertiary", "gdp_tertiary"]] = [0.0, 0.0]
    cells = pd.DataFrame({
        "city": "城0", "section": ["C", "C", "E", "E"], "size_class": ["large", "small"] * 2,
        "ownership": "private", "frame_units": [3, 5, 4, 2],
        "frame_employment": [3000, 400, 1700, 150], "existing": [1, 0, 0, 0],
        "existing_monthly": [1, 0, 0, 0]})
    rule = Rule("c_max", "max_share", (("section", ("C",)),), value=0.4)
    m_rule = Rule("m_sme", "min_share", (("size_class", ("small",)),), scope="monthly",
                  value=0.5)
    st_ = AllocationSettings(total=9, rules=(rule, m_rule), monthly_total=4, top_sections=2,
                             floors=Floors(0, ((0.0, 0),)), monthly_floors=Floors(0, ((0.0, 0),)),
                             keep_existing_monthly=False, prefer_existing_monthly=0.7,
                             mip_gap=0.0)
    res = allocate(cities, None, st_, cells=cells)
    out = res.cells.sort_values(["section", "size_class"]).reset_index(drop=True)
    t, tm = out["target_n"].to_numpy(), out["target_monthly"].to_numpy()
    # targets: 9 shared by frame employment, monthly 4/9 of it
    emp = out["frame_employment"].to_numpy()
    assert np.allclose(t, 9 * emp / emp.sum()) and np.allclose(tm, t * 4 / 9)
    upper, ex, em = out["frame_units"].to_numpy(), out["existing"].to_numpy(), \
        out["existing_monthly"].to_numpy()
    c_mask = (out["section"] == "C").to_numpy()
    small = (out["size_class"] == "small").to_numpy()

    def objective(n, m):
        a = 1 / np.sqrt(np.maximum(t, 1))
        b = 1 / np.sqrt(np.maximum(tm, 1))
        return (np.sum(a * np.abs(n - t)) + np.sum(b * np.abs(m - tm))
                + 0.7 * np.sum(np.maximum(em - m, 0)))

    best = math.inf
    for n in itertools.product(*[range(e, u + 1) for e, u in zip(ex, upper, strict=True)]):
        n = np.array(n)
        if n.sum() != 9 or n[c_mask].sum() > math.floor(0.4 * 9):
            continue
        for m in itertools.product(*[range(0, v + 1) for v in n]):
            m = np.array(m)
            if m.sum() != 4 or m[small].sum() < 2:
                continue
            best = min(best, objective(n, m))
    got = objective(out["n"].to_numpy(), out["n_monthly"].to_numpy())
    assert got == pytest.approx(best, abs=1e-9)


@st.composite
def random_case(draw):
    seed = draw(st.integers(0, 10_000))
    n_cities = draw(st.integers(1, 4))
    total = draw(st.integers(40, 220))
    c_max = draw(st.sampled_from([0.2, 0.4, 0.6]))
    sme = draw(st.sampled_from([0.3, 0.6, 0.8]))
    per = draw(st.sampled_from(["province", "city"]))
    monthly = draw(st.integers(0, 40))
    method = draw(st.sampled_from(["largest_remainder", "webster", "huntington_hill"]))
    return seed, n_cities, total, c_max, sme, per, monthly, method


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_case())
def test_random_rule_sets_are_met_or_diagnosed(args):
    seed, n_cities, total, c_max, sme, per, monthly, method = args
    rng = np.random.default_rng(seed)
    cities = make_cities(n_cities, rng)
    frame = make_frame(cities, rng, units_per_cell=4)
    rules = (
        Rule("micro_excluded", "exclude", (("size_class", ("micro",)),)),
        Rule("c_max", "max_share", (("section", ("C",)),), per=per, value=c_max),
        Rule("sme_min", "min_share", (("size_class", ("small", "medium")),), per=per,
             value=sme),
        Rule("m_c_max", "max_share", (("section", ("C",)),), scope="monthly", per="city",
             value=c_max),
    )
    st_ = AllocationSettings(total=total, rules=rules, monthly_total=monthly, top_sections=3,
                             method=method, floors=Floors(0, ((0.0, 5),)),
                             monthly_floors=Floors(0, ((0.0, 0),)), keep_existing_monthly=False)
    try:
        res = allocate(cities, frame, st_)
    except InfeasibleError as exc:
        assert exc.diagnosis is not None and len(exc.diagnosis) > 0
        assert (exc.diagnosis["slack"] > 0).all()
        assert exc.diagnosis["message"].str.len().min() > 10
        return
    check_all_constraints(res, frame_cells(frame), st_)


def test_rule_bounds_turn_shares_into_counts():
    r = Rule("x", "max_share", (("section", ("C",)),), value=0.4)
    assert rule_bounds(r, 1096) == (0.0, 438.0)  # 40% of 1096 allows 438
    r = Rule("x", "min_share", (("size_class", ("small",)),), value=0.6)
    assert rule_bounds(r, 1096)[0] == 658.0


def _params(tmp_path, allocation: dict) -> Params:
    return Params(tmp_path / "p.yaml", {"allocation": allocation})


def test_settings_from_demo_params():
    s = AllocationSettings.from_params(load_params("params/guangdong_2013.yaml"))
    assert s.total == 10000 and s.monthly_total == 1000
    assert {r.name for r in s.rules} >= {"micro_excluded", "m_manufacturing_max"}
    assert s.floors.minimum(150.0, False) == 60 and s.floors.minimum(60.0, False) == 45


@pytest.mark.parametrize("allocation, needle", [
    ({"total": 100, "mehtod": "webster"}, "'mehtod'"),
    ({"total": 100, "method": "dhondt"}, "allocation.method"),
    ({"total": 100, "rules": [{"name": "r", "kind": "max_share", "where": {"section": ["Z"]},
                                "value": 0.4}]}, "allocation.rules[0] (r).where.section"),
    ({"total": 100, "rules": [{"name": "r", "kind": "max_share", "where": {"section": ["C"]},
                                "value": 40}]}, "write 0.4 for 40%"),
    ({"total": 100, "monthly": {"total": 10}, "precision": {"target_cv": -1}}, "target_cv"),
])
def test_bad_params_name_the_key(tmp_path, allocation, needle):
    with pytest.raises(ParamsError) as err:
        AllocationSettings.from_params(_params(tmp_path, allocation))
    assert needle in str(err.value)
