"""The demo register: consistent with the city table, the size rule and the seed's panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.classification import classify
from samplekit.demo import demo_cities, generate_register
from samplekit.jobs import inputs as load_inputs
from samplekit.params import load_params


@pytest.fixture(scope="module")
def register():
    return generate_register(demo_cities(), units=40_000, seed=7)


def test_size_and_totals(register):
    assert len(register) == 40_000
    assert register["enterprise_id"].is_unique


def test_units_per_city_follow_employment(register):
    cities = demo_cities().set_index("city")
    share_units = register.groupby("city").size() / len(register)
    # primary employment counts only 3% towards registered firms
    emp = (
        cities["employed_secondary"]
        + cities["employed_tertiary"]
        + 0.03 * (cities["employed"] - cities["employed_secondary"] - cities["employed_tertiary"])
    )
    share_emp = emp / emp.sum()
    assert np.allclose(share_units.sort_index(), share_emp.sort_index(), atol=2e-4)


def test_size_classes_agree_with_the_rule(register):
    again, _ = classify(register.drop(columns=["size_class", "ownership", "sector"]))
    assert (again["size_class"] == register["size_class"]).all()
    mix = register["size_class"].value_counts(normalize=True)
    assert mix["micro"] > 0.2 and mix["small"] > 0.3 and 0 < mix["large"] < 0.02


def test_existing_panel_matches_seed_counts_and_is_biased_to_large(register):
    cities = demo_cities().set_index("city")
    panel = register[register["in_panel"]]
    counts = panel.groupby("city").size()
    assert (counts.sort_index() == cities["existing_panel"].sort_index()).all()
    assert not (panel["size_class"] == "micro").any()
    frame_lm = register["size_class"].isin(["large", "medium"]).mean()
    panel_lm = panel["size_class"].isin(["large", "medium"]).mean()
    assert panel_lm > 4 * frame_lm
    monthly = register[register["in_monthly"]]
    assert monthly["in_panel"].all() and (monthly["status"] == "active").all()
    assert (
        monthly.groupby("city").size().sort_index() == cities["existing_monthly"].sort_index()
    ).all()
    assert (panel["status"] != "active").any()  # some legacy members closed since: to replace


def test_same_seed_same_register(register):
    again = generate_register(demo_cities(), units=40_000, seed=7)
    pd.testing.assert_frame_equal(register, again)
    other = generate_register(demo_cities(), units=40_000, seed=8)
    assert not register["enterprise_id"].equals(other["enterprise_id"])


def test_ids_are_valid_unified_social_credit_codes(register):
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    for code in register["enterprise_id"].head(200):
        assert len(code) == 18
        total = sum(alphabet.index(ch) * w for ch, w in zip(code[:17], weights, strict=True))
        assert alphabet[(31 - total % 31) % 31] == code[17]


def test_load_inputs_default_params():
    cities, frame = load_inputs(load_params())
    assert len(cities) == 21
    assert len(frame) == load_params().get("frame.demo.units")
    assert frame["in_panel"].sum() == 3000
