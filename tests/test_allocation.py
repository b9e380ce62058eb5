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
    RULE_SOURCES,
    AllocationSettings,
    Floors,
    Rule,
    allocate,
    check_given_totals,
    employee_bands,
    fit_employment_weight,
    fit_sector_weight,
    frame_cells,
    rule_bounds,
    rule_table,
    write_allocation,
)
from samplekit.apportion import apportion
from samplekit.errors import InfeasibleError, InputError, ParamsError
from samplekit.params import Params, load_params

SECTIONS = ("A", "C", "E", "F", "G")
SIZES = ("large", "medium", "small", "micro")
OWNERS = ("state", "private", "foreign")


def make_cities(n: int, rng: np.random.Generator) -> pd.DataFrame:
    pop = rng.uniform(30, 300, n)
    emp = pop * 0.55
    sec = rng.uniform(0.3, 0.6, n)
    gdp = emp * rng.uniform(3, 8, n)
    return pd.DataFrame(
        {
            "city": [f"城{i}" for i in range(n)],
            "municipality": [False] * n,
            "population": pop,
            "employed": emp,
            "employed_secondary": emp * sec,
            "employed_tertiary": emp * (1 - sec),
            "gdp": gdp,
            "gdp_secondary": gdp * sec,
            "gdp_tertiary": gdp * (1 - sec),
            "existing_panel": 0,
            "existing_monthly": 0,
        }
    )


def make_frame(
    cities: pd.DataFrame,
    rng: np.random.Generator,
    units_per_cell: int = 6,
    p_existing: float = 0.25,
) -> pd.DataFrame:
    rows = []
    size_emp = {"large": 1200, "medium": 300, "small": 60, "micro": 8}
    for city in cities["city"]:
        for section, size, owner in itertools.product(SECTIONS, SIZES, OWNERS):
            for _ in range(rng.integers(0, units_per_cell + 1)):
                existing = size in ("large", "medium") and rng.random() < p_existing
                rows.append(
                    {
                        "city": city,
                        "section": section,
                        "size_class": size,
                        "ownership": owner,
                        "employees": int(size_emp[size] * rng.uniform(0.5, 1.5)),
                        "status": "active" if rng.random() < 0.95 else "closed",
                        "in_panel": existing,
                        "in_monthly": existing and rng.random() < 0.4,
                    }
                )
    return pd.DataFrame(rows)


MINISTRY_RULES = (
    Rule("micro_excluded", "exclude", (("size_class", ("micro",)),)),
    Rule("sme_min", "min_share", (("size_class", ("small", "medium")),), value=0.6),
    Rule("manufacturing_max", "max_share", (("section", ("C",)),), per="city", value=0.4),
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
)


def small_settings(**kw) -> AllocationSettings:
    base = {
        "total": 180,
        "rules": MINISTRY_RULES,
        "monthly_total": 60,
        "top_sections": 3,
        "floors": Floors(300, ((100.0, 30), (0.0, 20))),
        "monthly_floors": Floors(90, ((0.0, 5),)),
        "mip_gap": 0.0,
    }
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
        col_base = "monthly_subsample" if rule.scope == "monthly" else "allocated"
        named = list(rule.cities)
        if rule.per == "province" and named:
            groups = [("+".join(named), cells[cells["city"].isin(named)])]
        elif rule.per == "province":
            groups = [("全省", cells)]
        else:
            groups = [(k, g) for k, g in cells.groupby("city") if not named or k in named]
        for name, g in groups:
            if rule.per == "province" and named:
                base = int(c.loc[named, col_base].sum())
            elif rule.per == "province":
                base = settings.monthly_total if rule.scope == "monthly" else settings.total
            else:
                base = int(c.loc[name, col_base])
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
    one = active[
        (active["city"] == "城0")
        & (active["section"] == "C")
        & (active["size_class"] == "large")
        & (active["ownership"] == "state")
    ]
    row = cells[
        (cells["city"] == "城0")
        & (cells["section"] == "C")
        & (cells["size_class"] == "large")
        & (cells["ownership"] == "state")
    ]
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
        assert city.loc[name, "floor"] == min(
            max(minimum, city.loc[name, "existing"]), city.loc[name, "cap"]
        )


def _existing_employment(frame: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Employees of the active existing members per cell, summed from the frame."""
    keys = ["city", "section", "size_class", "ownership"]
    act = frame[(frame["status"] == "active") & frame["in_panel"].astype(bool)]
    held = act.groupby(keys)["employees"].sum()
    return held.reindex(pd.MultiIndex.from_frame(cells[keys]), fill_value=0).to_numpy(float)


def test_cell_targets_are_proportional_to_frame_employment(case, result):
    cities, frame = case
    shared = allocate(cities, frame, small_settings(panel_targets="shared"))
    for res, on_top in ((result, True), (shared, False)):
        cells = res.cells
        open_ = cells[
            cells["allowed"] & (cells["size_class"] != "micro") & (cells["sector"] == "secondary")
        ]
        for name, g in open_.groupby("city"):
            total = res.city.set_index("city").loc[name, "secondary"]
            if on_top:
                # the existing members on top; the rest ∝ the employment of the other units
                rest = g["frame_employment"] - _existing_employment(frame, g)
                left = max(total - g["existing"].sum(), 0)
                expect = g["existing"] + left * rest / rest.sum()
            else:
                expect = total * g["frame_employment"] / g["frame_employment"].sum()
            assert np.allclose(g["target_n"], expect)


def test_fresh_floors_that_do_not_fit_fall_back_to_the_existing_members():
    # 12 places for a cell of 10 units holding 4 members and another holding 8 of 10:
    # 4 + 2 and 8 + 2 fresh places need 16 > 12, so the plain floors (4, 8) are used
    rows = []
    for size, members in (("medium", 4), ("small", 8)):
        for k in range(10):
            rows.append(
                {
                    "city": "城0",
                    "section": "C",
                    "size_class": size,
                    "ownership": "private",
                    "employees": 100,
                    "status": "active",
                    "in_panel": k < members,
                    "in_monthly": False,
                }
            )
    frame = pd.DataFrame(rows)
    cities = make_cities(1, np.random.default_rng(0))
    frame["city"] = cities["city"].iloc[0]
    kw = {
        "total": 12,
        "rules": (),
        "monthly_total": 0,
        "top_sections": 1,
        "floors": Floors(0, ((0.0, 0),)),
        "monthly_floors": Floors(0, ((0.0, 0),)),
    }
    res = allocate(cities, frame, small_settings(**kw))
    assert not res.solver["fresh_floor"]
    n = res.cells.set_index("size_class")["n"]
    assert n["medium"] >= 4 and n["small"] >= 8 and n.sum() == 12
    # with room for them (16 places) every cell gets its 2 fresh places
    res = allocate(cities, frame, small_settings(**{**kw, "total": 16}))
    assert res.solver["fresh_floor"]
    assert res.cells.set_index("size_class")["n"].to_dict() == {"medium": 6, "small": 10}


def test_on_top_targets_give_the_fresh_part_its_share():
    # one city, one section: cell a holds 4 existing members of its 10 units, cell b none;
    # 12 places → on top: a = 4 + 8·(a's non-panel employment)/(non-panel employment of a, b)
    rows = []
    for cell, size in (("a", "medium"), ("b", "small")):
        for k in range(10):
            rows.append(
                {
                    "city": "城0",
                    "section": "C",
                    "size_class": size,
                    "ownership": "private",
                    "employees": 100,
                    "status": "active",
                    "in_panel": cell == "a" and k < 4,
                    "in_monthly": False,
                }
            )
    frame = pd.DataFrame(rows)
    cities = make_cities(1, np.random.default_rng(0))
    frame["city"] = cities["city"].iloc[0]
    kw = {
        "total": 12,
        "rules": (),
        "monthly_total": 0,
        "top_sections": 1,
        "floors": Floors(0, ((0.0, 0),)),
        "monthly_floors": Floors(0, ((0.0, 0),)),
    }
    got = {}
    for mode in ("on_top", "shared"):
        res = allocate(cities, frame, small_settings(panel_targets=mode, **kw))
        got[mode] = res.cells.set_index("size_class")["target_n"]
        total = res.city["secondary"].iloc[0]
    assert total == 12  # both cells are manufacturing (secondary)
    # cells given without existing_employment: the members count at the cell's mean (= 100)
    given = frame_cells(frame).drop(columns="existing_employment")
    res = allocate(cities, None, small_settings(**kw), cells=given)
    assert res.cells.set_index("size_class")["target_n"]["medium"] == pytest.approx(7.0)
    assert got["on_top"]["medium"] == pytest.approx(4 + 8 * 600 / 1600)  # 7.0
    assert got["on_top"]["small"] == pytest.approx(8 * 1000 / 1600)  # 5.0
    # shared: 6 places each, 4 taken by the existing members: 2 fresh for 6 other units
    assert got["shared"]["medium"] == pytest.approx(6.0)


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
        allocate(
            cities,
            frame,
            small_settings(monthly_floors=Floors(90, ((0.0, 30),)), keep_existing_monthly=False),
        )
    assert "90 > total 60" in str(err.value)
    assert err.value.exit_code == 2


def test_optimal_against_brute_force():
    """One city, four open cells, a rule; enumerate every (n, m) and compare objectives."""
    cities = make_cities(1, np.random.default_rng(0))
    cities.loc[0, ["employed_secondary", "gdp_secondary"]] = [1.0, 1.0]
    cities.loc[0, ["employed_tertiary", "gdp_tertiary"]] = [0.0, 0.0]
    cells = pd.DataFrame(
        {
            "city": "城0",
            "section": ["C", "C", "E", "E"],
            "size_class": ["large", "small"] * 2,
            "ownership": "private",
            "frame_units": [3, 5, 4, 2],
            "frame_employment": [3000, 400, 1700, 150],
            "existing": [1, 0, 0, 0],
            "existing_monthly": [1, 0, 0, 0],
        }
    )
    rule = Rule("c_max", "max_share", (("section", ("C",)),), value=0.4)
    m_rule = Rule("m_sme", "min_share", (("size_class", ("small",)),), scope="monthly", value=0.5)
    st_ = AllocationSettings(
        total=9,
        rules=(rule, m_rule),
        monthly_total=4,
        top_sections=2,
        floors=Floors(0, ((0.0, 0),)),
        monthly_floors=Floors(0, ((0.0, 0),)),
        keep_existing_monthly=False,
        prefer_existing_monthly=0.7,
        mip_gap=0.0,
        panel_targets="shared",  # the hand targets below share the whole total
        min_fresh=0,  # the enumeration below runs from the existing members up
    )
    res = allocate(cities, None, st_, cells=cells)
    out = res.cells.sort_values(["section", "size_class"]).reset_index(drop=True)
    t, tm = out["target_n"].to_numpy(), out["target_monthly"].to_numpy()
    # targets: 9 shared by frame employment, monthly 4/9 of it
    emp = out["frame_employment"].to_numpy()
    assert np.allclose(t, 9 * emp / emp.sum()) and np.allclose(tm, t * 4 / 9)
    upper, ex, em = (
        out["frame_units"].to_numpy(),
        out["existing"].to_numpy(),
        out["existing_monthly"].to_numpy(),
    )
    c_mask = (out["section"] == "C").to_numpy()
    small = (out["size_class"] == "small").to_numpy()

    def objective(n, m):
        a = 1 / np.sqrt(np.maximum(t, 1))
        b = 1 / np.sqrt(np.maximum(tm, 1))
        return (
            np.sum(a * np.abs(n - t))
            + np.sum(b * np.abs(m - tm))
            + 0.7 * np.sum(np.maximum(em - m, 0))
        )

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
        Rule("sme_min", "min_share", (("size_class", ("small", "medium")),), per=per, value=sme),
        Rule(
            "m_c_max", "max_share", (("section", ("C",)),), scope="monthly", per="city", value=c_max
        ),
    )
    st_ = AllocationSettings(
        total=total,
        rules=rules,
        monthly_total=monthly,
        top_sections=3,
        method=method,
        floors=Floors(0, ((0.0, 5),)),
        monthly_floors=Floors(0, ((0.0, 0),)),
        keep_existing_monthly=False,
    )
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


@pytest.mark.parametrize(
    "allocation, needle",
    [
        ({"total": 100, "mehtod": "webster"}, "'mehtod'"),
        ({"total": 100, "method": "dhondt"}, "allocation.method"),
        (
            {
                "total": 100,
                "rules": [
                    {"name": "r", "kind": "max_share", "where": {"section": ["Z"]}, "value": 0.4}
                ],
            },
            "allocation.rules[0] (r).where.section",
        ),
        (
            {
                "total": 100,
                "rules": [
                    {"name": "r", "kind": "max_share", "where": {"section": ["C"]}, "value": 40}
                ],
            },
            "write 0.4 for 40%",
        ),
        ({"total": 100, "monthly": {"total": 10}, "precision": {"target_cv": -1}}, "target_cv"),
    ],
)
def test_bad_params_name_the_key(tmp_path, allocation, needle):
    with pytest.raises(ParamsError) as err:
        AllocationSettings.from_params(_params(tmp_path, allocation))
    assert needle in str(err.value)


# ------------------------------------------------------------------ given city totals (issue 17)
def _given_table(result, shift: int = 6) -> pd.DataFrame:
    """A task table unlike the formula: ``shift`` places move from the largest city's tertiary
    sector to the smallest city's, and 2 secondary places of the city with the most room move to
    its tertiary sector (primary members counted in tertiary)."""
    city = result.city.sort_values("allocated").reset_index(drop=True)
    cells = result.cells
    total = city["allocated"].to_numpy().copy()
    total[0] += shift
    total[-1] -= shift
    sec = city["secondary"].to_numpy().copy()
    ex_sec = cells[cells["sector"] == "secondary"].groupby("city")["existing"].sum()
    room = sec - ex_sec.reindex(city["city"], fill_value=0).to_numpy()
    sec[int(np.argmax(room))] -= 2
    return pd.DataFrame(
        {
            "city": city["city"],
            "total": total.astype(str),
            "secondary": sec.astype(str),
            "tertiary": (total - sec).astype(str),
        }
    )


def test_imposed_city_totals_are_met_with_every_rule(case, result):
    cities, frame = case
    given = _given_table(result)
    res = allocate(cities, frame, small_settings(), city_totals=given)
    out = res.cells.groupby("city")[["n"]].sum()["n"]
    g = given.set_index("city").astype(int)
    # city totals from the cell table, the split counting primary members in tertiary
    assert (out[g.index] == g["total"]).all()
    sec = res.cells[res.cells["sector"] == "secondary"].groupby("city")["n"].sum()
    assert (sec.reindex(g.index, fill_value=0) == g["secondary"]).all()
    rest = res.cells[res.cells["sector"] != "secondary"].groupby("city")["n"].sum()
    assert (rest.reindex(g.index, fill_value=0) == g["tertiary"]).all()
    check_all_constraints(res, frame_cells(frame), res.settings)
    # the comparison is with the given table; the formula's own totals are kept there
    comp = res.comparison.set_index("city")
    assert (comp["given_total"] == g["total"][comp.index]).all()
    assert (comp["formula_total"] == result.city.set_index("city")["allocated"][comp.index]).all()


def test_given_total_below_the_existing_panel_is_diagnosed(case, result):
    cities, frame = case
    given = _given_table(result)
    city = result.city.set_index("city")
    name = given["city"].iat[0]
    existing = int(city.loc[name, "existing"])
    given["total"] = given["total"].astype(int)
    given.loc[0, "total"] = existing - 2
    given.loc[1, "total"] += int(given["total"].sum()) * 0 + (180 - int(given["total"].sum()))
    given = given.drop(columns=["secondary", "tertiary"])
    with pytest.raises(InfeasibleError) as err:
        allocate(cities, frame, small_settings(), city_totals=given)
    diag = err.value.diagnosis
    row = diag[(diag["rule"] == "keep_existing") & (diag["city"] == name)].iloc[0]
    assert row["slack"] == 2 and row["required"] == existing
    assert err.value.exit_code == 2 and f"{name}: the given city total" in str(err.value)


@pytest.mark.parametrize(
    "table, needle",
    [
        (
            pd.DataFrame({"city": ["城0", "城1", "城2"], "total": ["60", "x", "60"]}),
            "row 3, column 'total'",
        ),
        (
            pd.DataFrame({"city": ["城0", "城1", "城9"], "total": ["60", "60", "60"]}),
            "row 4, column 'city': 城9",
        ),
        (
            pd.DataFrame(
                {
                    "city": ["城0", "城1", "城2"],
                    "total": ["60"] * 3,
                    "secondary": ["30"] * 3,
                    "tertiary": ["30", "31", "30"],
                }
            ),
            "row 3: secondary + tertiary = 61",
        ),
        (
            pd.DataFrame(
                {"城市": ["城0", "城1", "城2"], "target_10000": ["60"] * 3, "secondary": ["30"] * 3}
            ),
            "without its partner",
        ),
    ],
)
def test_given_table_errors_name_row_and_column(table, needle):
    with pytest.raises(InputError) as err:
        check_given_totals(table, file="task.csv", cities=["城0", "城1", "城2"])
    assert needle in str(err.value) and "task.csv" in str(err.value)


def _score(cities: pd.DataFrame, w: float, tilt: np.ndarray) -> np.ndarray:
    e = cities["employed"] / cities["employed"].sum()
    g = cities["gdp"] / cities["gdp"].sum()
    raw = tilt * (w * e + (1 - w) * g)
    return (raw / raw.sum()).to_numpy()


@pytest.mark.parametrize("w0", [0.0, 0.3, 0.72, 1.0])
def test_weight_fit_recovers_a_known_weight(w0):
    rng = np.random.default_rng(11)
    cities = make_cities(21, rng)
    tilt = np.where(np.arange(21) < 2, 1.05, 1.0)
    city = pd.DataFrame(
        {
            "employment_share": cities["employed"] / cities["employed"].sum(),
            "gdp_share": cities["gdp"] / cities["gdp"].sum(),
            "tilt": tilt,
        }
    )
    exact = fit_employment_weight(city, 10000 * _score(cities, w0, tilt))
    assert exact["weight"] == pytest.approx(w0, abs=1e-6) and exact["rmse"] < 1e-4
    # a whole-number table (largest remainders of 100000 places) still gives the weight
    whole = apportion(_score(cities, w0, tilt), 100000, method="largest_remainder")
    assert fit_employment_weight(city, whole)["weight"] == pytest.approx(w0, abs=2e-3)
    # the sector weight: secondary = total · (w e + (1 − w) g) with e ≠ g
    cities["gdp_secondary"] = cities["gdp"] * rng.uniform(0.3, 0.6, 21)
    cities["gdp_tertiary"] = cities["gdp"] - cities["gdp_secondary"]
    total = np.full(21, 400.0)
    e = cities["employed_secondary"] / (cities["employed_secondary"] + cities["employed_tertiary"])
    g = cities["gdp_secondary"] / (cities["gdp_secondary"] + cities["gdp_tertiary"])
    sec = total * (w0 * e + (1 - w0) * g)
    fit = fit_sector_weight(cities, total, sec.to_numpy())
    assert fit["weight"] == pytest.approx(w0, abs=1e-9)


def test_compare_with_keeps_the_formula(case, result):
    cities, frame = case
    given = _given_table(result)
    res = allocate(cities, frame, small_settings(), compare_with=given)
    assert res.city["allocated"].tolist() == result.city["allocated"].tolist()
    comp = res.comparison.set_index("city")
    g = given.set_index("city").astype(int)
    assert (comp["difference"] == comp["formula_total"] - g["total"][comp.index]).all()
    assert sorted(comp["difference"].abs())[-1] == 6
    fit = res.weight_fit.set_index("parameter")
    assert 0 <= fit.loc["employment_weight", "fitted"] <= 1
    assert (
        fit.loc["employment_weight", "rmse_fitted"]
        <= fit.loc["employment_weight", "rmse_params"] + 1e-9
    )


# ------------------------------------------------------------------ band and city rules
def test_employee_bands_of_the_cells_match_the_frame(case):
    _, frame = case
    rule = Rule("band_50_300", "min_share", (), employees=(50.0, 300.0), value=0.45)
    cells = frame_cells(frame, bands=employee_bands([rule]))
    active = frame[frame["status"] == "active"]
    inside = active[(active["employees"] >= 50) & (active["employees"] <= 300)]
    got = cells.loc[cells["employees_band"] == "50-300"].groupby("city")["frame_units"].sum()
    assert (got == inside.groupby("city").size()[got.index]).all()
    assert set(cells["employees_band"]) <= {"0-49", "50-300", "301+"}
    assert cells["frame_units"].sum() == len(active)


def test_band_rule_and_city_rule_hold(case):
    cities, frame = case
    # without the rules: the band's share and city 城2's share of section E
    base = allocate(
        cities,
        frame,
        small_settings(
            rules=MINISTRY_RULES
            + (Rule("band_50_300", "min_count", (), employees=(50.0, 300.0), value=0),)
        ),
    )
    band0 = base.cells.loc[base.cells["employees_band"] == "50-300", "n"].sum() / 180
    c1 = base.cells[
        (base.cells["city"] == "城2")
        & base.cells["allowed"]
        & (base.cells["size_class"] != "micro")
        & (base.cells["sector"] != "primary")
    ]
    by_sec = c1.groupby("section")[["frame_units", "n"]].sum()
    sec = (by_sec["frame_units"] - by_sec["n"]).idxmax()  # the section with most room
    e0 = by_sec.loc[sec, "n"] / base.city.set_index("city").loc["城2", "allocated"]
    band = Rule(
        "band_50_300", "min_share", (), employees=(50.0, 300.0), value=round(band0 + 0.1, 2)
    )
    city = Rule(
        "key_industry_city2",
        "min_share",
        (("section", (sec,)),),
        per="city",
        value=round(e0 + 0.05, 2),
        cities=("城2",),
    )
    res = allocate(cities, frame, small_settings(rules=MINISTRY_RULES + (band, city)))
    # independent counts from the output cells (bands checked against the frame above)
    got_band = res.cells.loc[res.cells["employees_band"] == "50-300", "n"].sum()
    assert got_band >= math.ceil(band.value * 180) > band0 * 180
    c1 = res.cells[res.cells["city"] == "城2"]
    total1 = int(res.city.set_index("city").loc["城2", "allocated"])
    assert c1["n"].sum() == total1
    assert (
        c1.loc[c1["section"] == sec, "n"].sum()
        >= math.ceil(city.value * total1)
        > by_sec.loc[sec, "n"]
    )
    check_all_constraints(res, frame_cells(frame, bands=(50.0, 301.0)), res.settings)
    report = res.rules_report
    assert set(report.loc[report["rule"] == "key_industry_city2", "city"]) == {"城2"}


def test_province_rule_over_named_cities_counts_them_together(case):
    cities, frame = case
    rule = Rule("e_two", "min_count", (("section", ("E",)),), value=25, cities=("城0", "城2"))
    res = allocate(cities, frame, small_settings(rules=MINISTRY_RULES + (rule,)))
    both = res.cells[res.cells["city"].isin(["城0", "城2"]) & (res.cells["section"] == "E")]
    assert both["n"].sum() >= 25
    row = res.rules_report[res.rules_report["rule"] == "e_two"]
    assert len(row) == 1 and row["city"].item() == "城0、城2"


def test_infeasible_band_and_city_rules_are_named(case):
    cities, frame = case
    band = Rule("band_50_300", "min_share", (), employees=(50.0, 300.0), value=0.99)
    city = Rule(
        "key_e_city1", "min_share", (("section", ("E",)),), per="city", value=0.95, cities=("城1",)
    )
    with pytest.raises(InfeasibleError) as err:
        allocate(cities, frame, small_settings(rules=MINISTRY_RULES + (band, city)))
    diag = err.value.diagnosis
    assert {"band_50_300", "key_e_city1"} <= set(diag["rule"])
    assert set(diag.loc[diag["rule"] == "key_e_city1", "city"]) == {"城1"}
    assert err.value.exit_code == 2


def test_rule_naming_an_unknown_city_is_refused(case):
    cities, frame = case
    rule = Rule("x", "min_share", (("section", ("E",)),), value=0.1, cities=("深圳",))
    with pytest.raises(ParamsError, match="深圳, not in the city table"):
        allocate(cities, frame, small_settings(rules=MINISTRY_RULES + (rule,)))


@pytest.mark.parametrize(
    "rule, needle",
    [
        (
            {
                "name": "r",
                "kind": "max_share",
                "where": {"section": ["C"]},
                "value": 0.4,
                "source": "province",
            },
            "name the document",
        ),
        (
            {"name": "r", "kind": "max_share", "where": {"section": ["C"]}, "value": 0.4},
            "'allocation.rules[0] (r).source' is missing",
        ),
        (
            {
                "name": "r",
                "kind": "max_share",
                "where": {"section": ["C"]},
                "value": 0.4,
                "source": "assumption",
            },
            "needs a one-line 'note'",
        ),
        (
            {
                "name": "r",
                "kind": "min_share",
                "where": {"employees": [300, 50]},
                "value": 0.4,
                "source": "mohrss_2011_308",
            },
            "0 <= lo <= hi",
        ),
        (
            {
                "name": "r",
                "kind": "min_share",
                "where": {"section": ["I"]},
                "cities": [],
                "value": 0.1,
                "source": "assumption",
                "note": "x",
            },
            "non-empty list of city names",
        ),
    ],
)
def test_rule_sources_bands_and_cities_are_validated(tmp_path, rule, needle):
    with pytest.raises(ParamsError) as err:
        AllocationSettings.from_params(_params(tmp_path, {"total": 100, "rules": [rule]}))
    assert needle in str(err.value)


def test_every_shipped_rule_names_a_documented_source():
    for path in ("params/guangdong_2013.yaml", "params/infeasible_example.yaml"):
        s = AllocationSettings.from_params(load_params(path))
        table = rule_table(s)
        assert set(table["source"]) <= set(RULE_SOURCES) - {""}
        assert (table.loc[table["source"] == "assumption", "note"].str.len() > 5).all()
        # the ministry's numbers are labelled with the ministry's document, not the province
        src = dict(zip(table["rule"], table["source"], strict=True))
        assert src["m_manufacturing_max"] == "mohrss_2011_308"
        assert src["large_max"] == "assumption"
        assert src["monthly_city_floor"] == "mohrss_2009_152"


# ------------------------------------------------------------------ the official task table (demo)
def test_demo_with_the_official_task_table_reproduces_it(tmp_path):
    from samplekit.cli import main

    out = tmp_path / "given"
    code = main(
        [
            "allocate",
            "params/guangdong_2013.yaml",
            "--city-totals",
            "data/reference/guangdong_2013_task_table.csv",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    official = pd.read_csv("data/reference/guangdong_2013_task_table.csv").set_index("city")
    cells = pd.read_csv(out / "allocation_cells.csv")
    n = cells.groupby("city")["n"].sum()
    assert len(n) == 21 and (n[official.index] == official["target_10000"]).all()
    sec = cells[cells["sector"] == "secondary"].groupby("city")["n"].sum()
    assert (sec[official.index] == official["secondary"]).all()
    assert sec.sum() == 5311 and n.sum() - sec.sum() == 4689
    report = pd.read_csv(out / "rules_report.csv")
    assert (report["achieved"] >= 0).all()
    for r in report.itertuples(index=False):
        if r.rule in ("keep_existing",):
            assert r.achieved == r.required
        elif r.kind in ("max_share", "max_count", "exclude"):
            assert r.achieved <= r.required, r
        else:
            assert r.achieved >= r.required, r
    fit = pd.read_csv(out / "weight_fit.csv").set_index("parameter")
    assert 0 <= fit.loc["employment_weight", "fitted"] <= 1


def test_demo_cli_exits_2_naming_infeasible_band_and_city_rules(tmp_path):
    import yaml

    from samplekit.cli import main

    data = yaml.safe_load(Path("params/guangdong_2013.yaml").read_text(encoding="utf-8"))
    data["allocation"]["rules"] += [
        {
            "name": "band_50_300",
            "kind": "min_share",
            "where": {"employees": [50, 300]},
            "value": 0.95,
            "source": "province_plan_2013",
            "note": "演示:不可行",
        },
        {
            "name": "sz_key_industry",
            "kind": "min_share",
            "where": {"section": ["I"]},
            "cities": ["深圳"],
            "per": "city",
            "value": 0.9,
            "source": "assumption",
            "note": "演示:不可行",
        },
    ]
    data["allocation"]["compare_with"] = None
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["allocate", str(path), "--out", str(tmp_path / "out")]) == 2
    diag = pd.read_csv(tmp_path / "out" / "diagnosis.csv")
    assert {"band_50_300", "sz_key_industry"} <= set(diag["rule"])
    assert set(diag.loc[diag["rule"] == "sz_key_industry", "city"]) == {"深圳"}
