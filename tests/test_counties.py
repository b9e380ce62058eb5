"""Counties (县/区) end to end: the register's 县(区) column validated against the declared
county table, carried through selection into the panel of record (store schema 3), the list
form and ``samplekit panel``; older stores migrated; county forecasts and report section."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from samplekit import store
from samplekit.calibration import CalibrationSettings
from samplekit.counties import validate_counties
from samplekit.errors import ValidationError
from samplekit.frame import load_frame, validate_frame
from samplekit.selection import CELL, SelectionSettings, select_sample

CITIES = ["甲市", "乙市"]
COUNTY_TABLE = validate_counties(
    pd.DataFrame({"城市": ["甲市", "甲市"], "县(区)": ["东区", "西区"], "分配权重": ["3", "1"]}),
    cities=CITIES,
)


def _register(n: int = 40) -> pd.DataFrame:
    """A small register as a file holds it: 甲市 with counties 东区/西区, 乙市 without."""
    k = np.arange(n)
    city = np.where(k % 2 == 0, "甲市", "乙市")
    county = np.where(city == "甲市", np.where(k % 4 == 0, "东区", "西区"), "")
    return pd.DataFrame(
        {
            "企业代码": [f"E{i:03d}" for i in k],
            "企业名称": [f"企业{i}" for i in k],
            "城市": city,
            "县(区)": county,
            "行业门类": "C",
            "登记注册类型": "173",
            "从业人数": (50 + 10 * k).astype(str),
            "营业收入": (3000 + 100 * k).astype(str),
        }
    )


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    cells = frame.groupby(CELL, observed=True).size().rename("units").reset_index()
    return cells.assign(n=np.minimum(cells["units"], 3), n_monthly=1)


def test_register_counties_travel_through_selection_into_the_store(tmp_path):
    path = tmp_path / "名录.csv"
    _register().to_csv(path, index=False, encoding="utf-8-sig")
    frame = load_frame(path, cities=CITIES, counties=COUNTY_TABLE)
    by_id = frame.set_index("enterprise_id")["county"]
    # The register's own cells, read independently of the validator.
    reg = _register()
    raw = {i: (c or None) for i, c in zip(reg["企业代码"], reg["县(区)"], strict=True)}
    assert {i: _none(c) for i, c in by_id.items()} == raw
    settings = SelectionSettings(
        seed=7,
        reserve_per_cell=0,
        calibration=CalibrationSettings(margins=("city",), totals=("units",)),
    )
    sample = select_sample(frame, _cells(frame), settings).sample
    assert [_none(c) for c in sample["county"]] == [raw[i] for i in sample["enterprise_id"]]
    assert set(sample["city"]) == set(CITIES)
    db = tmp_path / "m.duckdb"
    store.write_window(db, members=sample, window_month="2012-12", kind="design")
    m = store.read_membership(db)
    assert len(m) == len(sample)
    assert m["county"].tolist() == [raw[i] for i in m["enterprise_id"]]
    assert set(m.loc[m["city"] == "甲市", "county"]) <= {"东区", "西区"}
    assert m.loc[m["city"] == "乙市", "county"].isna().all()
    inforce = store.panel_in_force(db, "2013-03")
    assert inforce.set_index("enterprise_id")["county"].to_dict() == {
        i: raw[i] for i in inforce["enterprise_id"]
    }


def test_an_unknown_or_missing_county_is_refused_with_file_row_and_column(tmp_path):
    reg = _register(12)
    reg.loc[4, "县(区)"] = "南区"  # 甲市 has 东区 and 西区 only   (file line 6)
    reg.loc[5, "县(区)"] = "北区"  # 乙市 has no counties in the table (line 7)
    reg.loc[8, "县(区)"] = ""  # 甲市 row without its county (line 10)
    path = tmp_path / "名录.csv"
    reg.to_csv(path, index=False, encoding="utf-8-sig")
    with pytest.raises(ValidationError) as err:
        load_frame(path, cities=CITIES, counties=COUNTY_TABLE)
    p = err.value.problems
    p = p[p["column"] == "county"].sort_values("row")
    assert p[["file", "row", "column", "value", "rule"]].values.tolist() == [
        ["名录.csv", 6, "county", "南区", "unknown_county"],
        ["名录.csv", 7, "county", "北区", "unknown_county"],
        ["名录.csv", 10, "county", "", "county_missing"],
    ]
    assert "东区、西区" in p.iloc[0]["message"]  # says which counties the city has
    # Without a declared county table any county (or none) is taken as given.
    check = validate_frame(reg, file="名录.csv", cities=CITIES)
    assert check.ok and check.frame["county"].tolist()[4:6] == ["南区", "北区"]
    assert check.frame["county"].iloc[8] is None


def test_a_register_without_the_county_column_is_unchanged():
    reg = _register(8).drop(columns="县(区)")
    check = validate_frame(reg, cities=CITIES, counties=COUNTY_TABLE)
    assert check.ok and "county" not in check.frame.columns


def _schema2(path) -> None:
    """Turn a fresh store into what schema 2 wrote: no county column, version 2."""
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE panel_membership DROP COLUMN county")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()


def test_a_schema_2_store_is_read_as_is_and_migrated_when_written(tmp_path):
    from tests.test_panel import members

    db = tmp_path / "old.duckdb"
    store.write_window(db, members=members(["A", "B"]), window_month="2012-12")
    _schema2(db)
    m = store.read_membership(db)  # read-only: not migrated, county null
    assert m["county"].isna().all() and len(m) == 2
    assert store.read_table(db, "meta")["value"].tolist() == ["2"]
    with store.connect(db):  # opened for writing: migrated in place
        pass
    assert store.read_table(db, "meta")["value"].tolist() == [store.SCHEMA_VERSION] == ["3"]
    store.write_window(
        db,
        members=members(["A", "C"]).assign(county=["东区", " 西区 "]),
        window_month="2013-12",
    )
    m = store.read_membership(db)
    assert m[["enterprise_id", "valid_from", "county"]].values.tolist() == [
        ["A", "2013-01", None],
        ["A", "2014-01", "东区"],
        ["B", "2013-01", None],
        ["C", "2014-01", "西区"],
    ]


def test_a_store_of_a_newer_schema_is_refused_in_chinese(tmp_path):
    from tests.test_panel import members

    db = tmp_path / "new.duckdb"
    store.write_window(db, members=members(["A"]), window_month="2012-12")
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    con.close()
    for read in (store.read_membership, lambda p: store.connect(p).__enter__()):
        with pytest.raises(store.StoreError, match="结构版本为 9.*请升级 samplekit"):
            read(db)


def test_list_form_and_panel_command_show_the_county(tmp_path, capsys):
    from samplekit.cli import main
    from samplekit.list_form import LIST_HEADERS_ZH, list_form
    from tests.test_panel import members

    sample = members(["A", "B", "C"]).assign(county=["西区", "东区", None])
    lists = list_form(sample)
    assert list(lists["甲市"].columns[:3]) == ["seq", "city", "county"]
    assert lists["甲市"]["county"].tolist() == ["西区", "东区", ""]  # by name: 企业A, B, C
    assert LIST_HEADERS_ZH["county"] == "县(区)"
    assert "county" not in list_form(sample.drop(columns="county"))["甲市"].columns
    db = tmp_path / "m.duckdb"
    store.write_window(db, members=sample, window_month="2012-12")
    out = tmp_path / "out"
    assert main(["panel", "--store", str(db), "--period", "2013-02", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "按县(区)" in printed
    counts = pd.read_csv(out / "panel_2013-02_by_county.csv", encoding="utf-8-sig")
    assert counts.values.tolist() == [
        ["甲市", "(未填)", 1],
        ["甲市", "东区", 1],
        ["甲市", "西区", 1],
    ]
    listing = pd.read_csv(out / "panel_2013-02.csv", encoding="utf-8-sig")
    assert listing.set_index("enterprise_id")["county"].fillna("").to_dict() == {
        "A": "西区",
        "B": "东区",
        "C": "",
    }


# ------------------------------------------------------------------------------ forecasts
def _settings(tmp_path, min_reporters: int = 10):
    from samplekit.params import load_params
    from samplekit.warning import WarningSettings

    p = tmp_path / "p.yaml"
    p.write_text(
        f"name: t\nseed: 1\nwarning:\n  min_reporters: {min_reporters}\n  indicators:\n"
        "    net_change_rate: {source: estimate, direction: lower_is_worse,"
        " lines: [-1.8, -2.4, -3.0, -3.6], county_lines: [-3, -4, -5, -6],"
        " scope: [province, city, county], core: true}\n",
        encoding="utf-8",
    )
    return WarningSettings.from_params(load_params(p))


def _monthly(county: str, values, reporters, city: str = "甲市") -> pd.DataFrame:
    periods = [str(p) for p in pd.period_range("2011-01", periods=len(values), freq="M")]
    n = np.broadcast_to(np.asarray(reporters), (len(values),))
    return pd.DataFrame(
        {
            "city": city,
            "county": county,
            "indicator": "net_change_rate",
            "period": periods,
            "value": np.asarray(values, dtype=float),
            "n_reporters": n,
            "small_domain": n < 10,
        }
    )


def test_county_forecasts_judge_county_lines_and_skip_small_domains(tmp_path):
    from samplekit.counties import county_forecasts
    from samplekit.forecast import ForecastSettings

    s = _settings(tmp_path)
    f = ForecastSettings(models=("naive",), origins=2, simulations=200, spring_festival=False)
    flat = np.full(36, -4.5)  # 36 months 2011-01…2013-12 at −4.5 %: a naive forecast −4.5
    few_now = np.r_[np.full(35, 30), 6]  # the last month has 6 reporters (< 10)
    short = np.r_[np.full(14, 6), np.full(22, 40)]  # only 22 judgeable months (< 24)
    monthly = pd.concat(
        [
            _monthly("东区", flat, 40),
            _monthly("西区", flat, few_now),
            _monthly("南区", flat, short),
        ],
        ignore_index=True,
    )
    fc, lv = county_forecasts(monthly, s, f, end="2013-12")
    lv = lv.set_index("county")
    # −4.5 against the county lines −3/−4/−5/−6 (lower is worse) crosses the second line:
    # level III (IV mildest … I worst); the city lines (−1.8 … −3.6) would have made it I.
    e = lv.loc["东区"]
    assert e["target"] == "2014Q1" and e["forecast"] == pytest.approx(-4.5)
    assert e["line"] == -4 and e["level"] == "III" and e["probability"] == pytest.approx(1.0)
    assert not e["small_domain"] and e["judgeable_months"] == 36 and e["n_reporters"] == 40
    for k, months in (("西区", 35), ("南区", 22)):
        assert lv.loc[k, "small_domain"] and lv.loc[k, "status"] == "small_domain"
        assert lv.loc[k, "level_name"] == "样本过少,不预测" and np.isnan(lv.loc[k, "forecast"])
        assert lv.loc[k, "judgeable_months"] == months
    assert set(fc["county"]) == {"东区"}  # small domains are not forecast at all
    assert fc[fc["kind"] == "month"]["target"].tolist() == ["2014-01", "2014-02", "2014-03"]


def test_a_county_series_is_forecast_exactly_as_a_city_series(tmp_path):
    """The same series through the city machinery (warning.forecast_indicators) and the
    county one gives the same forecast and interval."""
    from samplekit.counties import county_forecasts
    from samplekit.forecast import ForecastSettings
    from samplekit.warning import forecast_indicators

    s = _settings(tmp_path)
    f = ForecastSettings(origins=3, simulations=300, spring_festival=False)
    rng = np.random.default_rng(5)
    t = np.arange(36)
    y = -1.0 + 0.8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.2, 36)
    county = _monthly("东区", y, 50)
    fc, lv = county_forecasts(county, s, f, end="2013-12")
    # The city machinery keys its random stream by city|indicator: give it the same key.
    city = county.drop(columns=["county", "n_reporters", "small_domain"]).assign(city="甲市|东区")
    ref, _, _ = forecast_indicators(city, s, f, province="全省")
    got = fc.drop(columns="county").assign(city="甲市|东区").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref.reset_index(drop=True), check_dtype=False)
    q = ref[ref["kind"] == "quarter"].iloc[0]
    assert lv.iloc[0]["forecast"] == pytest.approx(q["forecast"])
