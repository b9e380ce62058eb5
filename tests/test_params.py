"""The params loader: strict YAML scalars, unknown keys refused, errors name file and key."""

from __future__ import annotations

import pytest

from samplekit.errors import ParamsError
from samplekit.params import TOP_LEVEL_KEYS, load_params
from samplekit.paths import params_dir


def write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_11_surprises_are_disabled(tmp_path):
    p = load_params(write(tmp_path, 'name: NO\ntitle: 010\nseed: 12\nquarter: "2013Q4"\n'))
    assert p.get("name") == "NO"
    assert p.get("title") == "010"
    assert p.get("seed") == 12
    p = load_params(write(tmp_path, "name: yes\nseed: true\n"))
    assert p.get("name") == "yes" and p.get("seed") is True


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(ParamsError, match="unknown top-level key 'allocaton'"):
        load_params(write(tmp_path, "allocaton: {}\n"))


def test_errors_name_file_and_key(tmp_path):
    p = load_params(write(tmp_path, "allocation:\n  total: many\n"), validate=False)
    with pytest.raises(ParamsError, match=r"p\.yaml.*allocation\.total.*int"):
        p.get("allocation.total", types=int)
    with pytest.raises(ParamsError, match="required key 'allocation.method'"):
        p.get("allocation.method")
    with pytest.raises(ParamsError, match="outside"):
        load_params(write(tmp_path, "seed: 5\n")).number("seed", low=10)
    with pytest.raises(ParamsError, match="unknown key"):
        load_params(write(tmp_path, "frame:\n  paht: x\n"), validate=False).check_keys(
            "frame", {"path", "demo"}
        )


def test_bool_is_not_a_number(tmp_path):
    p = load_params(write(tmp_path, "seed: true\n"))
    with pytest.raises(ParamsError):
        p.number("seed")


def test_period_and_quarter_format(tmp_path):
    with pytest.raises(ParamsError, match="period"):
        load_params(write(tmp_path, "period: 2013-13\n"))
    with pytest.raises(ParamsError, match="quarter"):
        load_params(write(tmp_path, "quarter: 2013-Q4\n"))
    with pytest.raises(ParamsError, match="quarter"):
        load_params(quarter="2013Q5")


def test_malformed_yaml_names_the_file(tmp_path):
    with pytest.raises(ParamsError, match="p.yaml: invalid YAML"):
        load_params(write(tmp_path, "a: [1, 2\n"))
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "missing.yaml")


@pytest.mark.parametrize("path", sorted(params_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_every_params_file_loads(path):
    p = load_params(path)
    assert set(p.data) <= set(TOP_LEVEL_KEYS)


def test_overrides_and_digest():
    base = load_params()
    other = base.with_overrides(quarter="2013Q3")
    assert other.get("quarter") == "2013Q3" and base.get("quarter") == "2013Q4"
    assert base.digest() != other.digest()
    assert base.digest() == load_params().digest()


def test_periods():
    from samplekit.periods import (
        next_periods,
        previous_period,
        quarter_label,
        quarter_months,
        quarters_back,
    )

    assert quarter_label("2013-11") == "2013Q4" and quarter_label("2013-01") == "2013Q1"
    assert quarter_months("2013Q4") == ["2013-10", "2013-11", "2013-12"]
    assert quarters_back("2013Q1", 3) == ["2012Q3", "2012Q4", "2013Q1"]
    assert previous_period("2013-01") == "2012-12"
    assert next_periods("2013-11", 3) == ["2013-12", "2014-01", "2014-02"]
    assert next_periods("2013Q4", 2) == ["2014Q1", "2014Q2"]


# ---------------------------------------------------------------- every section at load time
DEMO = (params_dir() / "guangdong_2013.yaml").read_text(encoding="utf-8")


def test_every_section_is_validated_when_the_file_loads(tmp_path):
    # A typo deep under warning: fails at load, naming the file and the dotted key.
    bad = DEMO.replace("    hysteresis_periods: 2", "    hysteresis_period: 2").replace(
        "  hysteresis_periods: 2", "  hysteresis_perods: 2"
    )
    assert bad != DEMO
    with pytest.raises(ParamsError, match=r"p\.yaml.*hysteresis_perods.*'warning'"):
        load_params(write(tmp_path, bad))
    bad = DEMO.replace("method: srs", "method: systematic")
    with pytest.raises(ParamsError, match=r"p\.yaml.*selection\.method"):
        load_params(write(tmp_path, bad))
    bad = DEMO.replace("swing_pct: 50", "swing_pct: -5")
    with pytest.raises(ParamsError, match=r"p\.yaml.*monthly\.validation\.swing_pct"):
        load_params(write(tmp_path, bad))


def test_missing_input_file_and_unknown_city_are_refused_at_load(tmp_path):
    bad = DEMO.replace("cities: data/demo/guangdong_cities.csv", "cities: data/demo/nowhere.csv")
    with pytest.raises(ParamsError, match=r"p\.yaml.*province\.cities.*nowhere\.csv"):
        load_params(write(tmp_path, bad))
    bad = DEMO.replace("tilt: {广州: 1.05, 深圳: 1.05}", "tilt: {杭州: 1.05}")
    with pytest.raises(ParamsError, match=r"allocation\.tilt\.杭州.*杭州"):
        load_params(write(tmp_path, bad))
    bad = DEMO.replace("cities: [东莞, 深圳, 佛山, 中山]", "cities: [东莞, 宁波]")
    with pytest.raises(ParamsError, match=r"monthly\.demo\.shock\.cities\[1\].*宁波"):
        load_params(write(tmp_path, bad))
