"""The city table validator and the demo city table."""

from __future__ import annotations

import pandas as pd
import pytest

from samplekit.cities import load_cities, synthetic_columns
from samplekit.cli import main
from samplekit.demo import DEMO_SYNTHETIC, build_demo_cities, demo_cities, demo_cities_path
from samplekit.errors import ValidationError
from samplekit.paths import project_root


def test_template_validates():
    cities = load_cities(project_root() / "data/templates/city_table_template.csv")
    assert cities["city"].tolist() == ["示例市"]


def test_every_bad_cell_is_named(tmp_path):
    df = pd.read_csv(demo_cities_path(), dtype=str).head(3)
    df.loc[0, "employed"] = "n/a"
    df.loc[1, "gdp"] = "-5"
    df.loc[2, "city"] = df.loc[0, "city"]
    df.loc[2, "employed_secondary"] = "1000000"
    path = tmp_path / "cities.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ValidationError) as info:
        load_cities(path)
    got = set(
        zip(
            info.value.problems["row"],
            info.value.problems["column"],
            info.value.problems["rule"],
            strict=True,
        )
    )
    assert {
        (2, "employed", "not_numeric"),
        (3, "gdp", "negative"),
        (4, "city", "duplicate_city"),
        (4, "employed_secondary", "sector_sum"),
    } <= got


def test_missing_columns_named(tmp_path):
    path = tmp_path / "cities.csv"
    pd.DataFrame({"城市": ["甲"], "年末人口": [1]}).to_csv(path, index=False)
    with pytest.raises(ValidationError, match="employed"):
        load_cities(path)
    assert main(["cities", "check", str(path), "--out", str(tmp_path / "p")]) == 1
    assert (tmp_path / "p" / "city_table_problems.xlsx").exists()


def test_demo_city_table_is_the_documented_procedure():
    committed = demo_cities()
    rebuilt = build_demo_cities(2013)
    pd.testing.assert_frame_equal(
        committed.reset_index(drop=True), load_cities_from(rebuilt).reset_index(drop=True)
    )


def load_cities_from(df: pd.DataFrame) -> pd.DataFrame:
    from samplekit.cities import validate_cities

    return validate_cities(df.astype(str))


def test_demo_city_table_real_figures_and_synthetic_marks():
    cities = demo_cities()
    panel = pd.read_csv(project_root() / "data/reference/guangdong_2013_existing_panel.csv")
    gdp = pd.read_csv(project_root() / "data/reference/guangdong_city_gdp.csv")
    assert len(cities) == 21 and cities["existing_panel"].sum() == 3000
    merged = cities.merge(panel, on="city").merge(gdp, on="city")
    assert (merged["existing_panel_x"] == merged["existing_panel_y"]).all()
    assert (merged["gdp"] == merged["gdp_100m_yuan"]).all()
    assert cities["existing_monthly"].sum() == 641 and cities["existing_monthly"].min() >= 30
    assert set(synthetic_columns(cities)) == set(DEMO_SYNTHETIC)
    assert "gdp" not in synthetic_columns(cities)
    assert (cities["employed_secondary"] + cities["employed_tertiary"] <= cities["employed"]).all()
