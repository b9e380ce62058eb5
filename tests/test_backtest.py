"""Back-test metrics on hand-made series with known answers, inputs, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from samplekit.backtest import (
    BacktestRule,
    compute_signal,
    evaluate_alarms,
    example_series,
    fixed_ranks,
    read_events,
    read_series,
    realtime_lines,
    run_backtest,
    validate_events,
    validate_series,
)
from samplekit.errors import InputError, ValidationError
from samplekit.forecast import ForecastSettings
from samplekit.io import read_table
from samplekit.params import load_params
from samplekit.paths import project_root


def months(n, start="2010-01"):
    return [str(p) for p in pd.period_range(start, periods=n, freq="M")]


def test_evaluate_alarms_by_hand():
    periods = months(20)
    ranks = np.zeros(20, dtype=int)
    ranks[[2, 3]] = 1        # a false alarm run (outside every window)
    ranks[9] = 2             # 1 period before episode 1 (starts at index 10): lead +1
    ranks[10:12] = 1
    ranks[17] = 1            # episode 2 (index 16–18) detected at index 17: lag −1
    ranks[0] = -1            # not judged
    events = pd.DataFrame({"start": [periods[10], periods[16]],
                           "end": [periods[12], periods[18]]})
    eps, m = evaluate_alarms(periods, ranks, events, alarm_rank=1, max_lead=2)
    assert eps["detected"].tolist() == [True, True]
    assert eps["first_alarm"].tolist() == [periods[9], periods[17]]
    assert eps["lead"].tolist() == [1.0, -1.0]
    # windows: indices 8–12 and 14–18 (10 periods); judged periods: 19
    a = 4            # 9, 10, 11, 17
    b = 2            # 2, 3
    c = 10 - a       # in windows without alarm
    d = 19 - 10 - b  # judged, outside windows, no alarm
    assert (m["A"], m["B"], m["C"], m["D"]) == (a, b, c, d)
    assert m["false_alarms"] == 1
    assert math.isclose(m["noise_to_signal"], (b / (b + d)) / (a / (a + c)))
    assert m["episodes"] == 2 and m["detected"] == 2 and math.isclose(m["mean_lead"], 0.0)


def test_missed_episode_and_alarm_rank():
    periods = months(12)
    ranks = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0])
    events = pd.DataFrame({"start": [periods[8]], "end": [periods[9]]})
    _, m = evaluate_alarms(periods, ranks, events, alarm_rank=2, max_lead=0)
    assert m["detected"] == 0 and m["A"] == 0 and np.isnan(m["noise_to_signal"])
    eps, m = evaluate_alarms(periods, ranks, events, alarm_rank=1, max_lead=0)
    assert m["detected"] == 1 and eps["lead"].iloc[0] == 0.0 and m["false_alarms"] == 1


def test_sahm_signal_by_hand():
    rule = BacktestRule(signal="sahm", window=2, lookback=3)
    x = np.array([1.0, 3.0, 2.0, 2.0, 6.0, 1.0])
    # moving averages: nan, 2, 2.5, 2, 4, 3.5; min of the 3 before t (t ≥ 4)
    sig = compute_signal(x, rule)
    assert np.isnan(sig[:4]).all()
    assert math.isclose(sig[4], 4 - 2) and math.isclose(sig[5], 3.5 - 2)
    down = compute_signal(x, BacktestRule(signal="sahm", window=2, lookback=3,
                                          direction="lower_is_worse", lines=(1, 2, 3, 4)))
    assert math.isclose(down[4], 2.5 - 4) and math.isclose(down[5], 4 - 3.5)


def test_realtime_lines_use_only_the_past():
    rng = np.random.default_rng(0)
    sig = rng.normal(size=60)
    rule = BacktestRule(min_history=20, quantiles=(0.5, 0.7, 0.9, 0.95))
    lines = realtime_lines(sig, rule)
    assert np.isnan(lines[:20]).all() and np.isfinite(lines[20:]).all()
    changed = sig.copy()
    changed[40:] += 100  # the future cannot move earlier lines
    assert np.array_equal(realtime_lines(changed, rule)[:41], lines[:41], equal_nan=True)
    assert np.allclose(lines[30], np.quantile(sig[:30], [0.5, 0.7, 0.9, 0.95]))


def test_fixed_ranks_level_rule():
    rule = BacktestRule(signal="level", direction="lower_is_worse", lines=(5, 4, 3, 2))
    assert fixed_ranks(np.array([6, 5, 3.5, 1, np.nan]), rule).tolist() == [0, 1, 2, 4, -1]


def test_run_backtest_on_a_quarterly_step():
    """A quarterly series that steps up at a known quarter: caught on time, no false alarm."""
    periods = [str(p) for p in pd.period_range("2005Q1", periods=36, freq="Q")]
    rng = np.random.default_rng(2)
    values = 3 + rng.normal(0, 0.02, 36)
    values[28:32] += 1.0
    series = pd.DataFrame({"period": periods, "value": values})
    events = validate_events(pd.DataFrame({"start": ["2012-01"], "end": ["2012Q4"]}), "Q")
    assert events["start"].iloc[0] == "2012Q1"
    rule = BacktestRule(signal="level", lines=(3.3, 3.5, 3.7, 3.9), max_lead=1, min_history=8,
                        forecast=ForecastSettings(horizon=2, origins=4, simulations=100))
    res = run_backtest(series, events, rule)
    m = res.metrics.set_index(["mode", "metric"])["value"]
    assert m[("fixed", "detected")] == 1 and m[("fixed", "false_alarms")] == 0
    assert m[("fixed", "mean_lead")] == 0
    assert m[("realtime", "detected")] == 1
    assert set(res.forecast["model"]) >= {"naive", "seasonal_naive"}
    naive = res.forecast[res.forecast["model"] == "naive"]
    assert np.allclose(naive["ratio_to_naive"], 1.0)
    assert "caught 1/1" in res.summary()


def test_series_and_events_validation():
    bad = pd.DataFrame({"period": ["2013-01", "2013-02", "2013-02", "2013Q1", "x"],
                        "value": ["1", "2", "a", "3", "4"]})
    with pytest.raises(ValidationError) as exc:
        validate_series(bad, file="s.csv")
    rules = set(exc.value.problems["rule"])
    assert {"duplicate", "not_numeric", "period_format", "mixed_frequency"} <= rules
    gap = pd.DataFrame({"period": months(10)[:5] + months(10)[6:], "value": range(9)})
    with pytest.raises(InputError, match="1 period"):
        validate_series(gap, file="s.csv")
    with pytest.raises(InputError, match="period,value"):
        validate_series(pd.DataFrame({"month": ["2013-01"]}))
    with pytest.raises(ValidationError) as exc:
        validate_events(pd.DataFrame({"start": ["2013-05", "2013Q1"], "end": ["2013-03", "x"]}),
                        "M", file="e.csv")
    assert set(exc.value.problems["rule"]) == {"order", "period_format"}


def test_example_files_match_the_generator():
    series, events = example_series()
    root = project_root() / "data" / "demo" / "backtest"
    got = read_table(root / "registered_rate.csv")
    assert got["period"].tolist() == series["period"].tolist()
    assert np.allclose(got["value"].astype(float), series["value"])
    assert read_table(root / "episodes.csv").equals(events.astype(str))


def test_example_rule_catches_both_episodes():
    rule = BacktestRule.from_params(load_params("params/backtest_example.yaml"))
    root = project_root() / "data" / "demo" / "backtest"
    series = read_series(root / "registered_rate.csv")
    res = run_backtest(series, read_events(root / "episodes.csv", "M"), rule)
    m = res.metrics.set_index(["mode", "metric"])["value"]
    assert m[("fixed", "detected")] == 2 and m[("fixed", "false_alarms")] == 0
    assert m[("fixed", "noise_to_signal")] < 0.5


def test_cli_prints_the_summary_last(tmp_path, capsys):
    from samplekit.cli import main

    root = "data/demo/backtest"
    code = main(["backtest", "--series", f"{root}/registered_rate.csv", "--events",
                 f"{root}/episodes.csv", "--params", "params/backtest_example.yaml", "--out",
                 str(tmp_path)])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("backtest ") and "episodes" in lines[-1]
    for name in ("backtest_periods.csv", "backtest_episodes.csv", "backtest_metrics.csv",
                 "backtest_forecast_rmse.csv", "backtest.png"):
        assert (tmp_path / name).stat().st_size > 0
    bad = tmp_path / "bad.csv"
    bad.write_text("period,value\n2013-01,1\n2013-01,2\n", encoding="utf-8")
    assert main(["backtest", "--series", str(bad), "--events", f"{root}/episodes.csv",
                 "--params", "params/backtest_example.yaml", "--out", str(tmp_path)]) == 1
    assert "duplicate" in capsys.readouterr().err
