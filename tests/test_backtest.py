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
    roc_curve,
    run_backtest,
    us_unemployment,
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
    ranks[0] = -1  # not judged
    ranks[[2, 3]] = 1  # a false-alarm run (onset at 2, outside every window)
    ranks[9] = 2  # onset 1 period before episode 1 (starts at index 10): lead +1
    ranks[10:12] = 1
    ranks[17:20] = 1  # episode 2 (index 16–18): onset at 17, lag −1; 19 persists after
    events = pd.DataFrame(
        {
            "start": [periods[0], periods[10], periods[16], "2030-01"],
            "end": [periods[0], periods[12], periods[18], "2030-02"],
        }
    )
    eps, m = evaluate_alarms(periods, ranks, events, alarm_rank=1, max_lead=2)
    # episode 0 lies where nothing is judged; the 2030 one is outside the series
    assert eps["judgeable"].tolist() == [False, True, True, False]
    assert eps["onset"].tolist() == ["", periods[9], periods[17], ""]
    assert eps["lead"].tolist()[1:3] == [1.0, -1.0]
    assert eps["persistence"].tolist() == [0, 0, 1, 0]
    # windows: index 0, 8–12 and 14–18; judged periods: 19 (index 0 is not)
    a = 5  # 9, 10, 11, 17, 18
    b = 3  # 2, 3, 19
    c = 10 - a  # judged, in windows, no alarm
    d = 19 - 10 - b  # judged, outside windows, no alarm
    assert (m["A"], m["B"], m["C"], m["D"]) == (a, b, c, d)
    assert m["false_alarm_runs"] == 1 and m["false_alarm_periods"] == b
    assert m["persistence"] == 1
    assert math.isclose(m["noise_to_signal"], (b / (b + d)) / (a / (a + c)))
    assert (m["episodes"], m["judgeable"], m["called"]) == (4, 2, 2)
    assert m["share_called"] == 1.0 and math.isclose(m["mean_lead"], 0.0)
    assert np.isnan(m["auc"])


def test_missed_episode_and_alarm_rank():
    periods = months(12)
    ranks = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0])
    events = pd.DataFrame({"start": [periods[8]], "end": [periods[9]]})
    _, m = evaluate_alarms(periods, ranks, events, alarm_rank=2, max_lead=0)
    assert m["called"] == 0 and m["A"] == 0 and np.isnan(m["noise_to_signal"])
    assert m["judgeable"] == 1 and m["share_called"] == 0
    eps, m = evaluate_alarms(periods, ranks, events, alarm_rank=1, max_lead=0)
    assert m["called"] == 1 and eps["lead"].iloc[0] == 0.0 and m["false_alarm_runs"] == 1


def test_an_onset_is_credited_to_one_episode_and_tails_are_not_onsets():
    periods = months(16)
    ranks = np.zeros(16, dtype=int)
    ranks[6:10] = 1  # one run starting at 6, inside both windows below
    events = pd.DataFrame({"start": [periods[5], periods[8]], "end": [periods[6], periods[9]]})
    eps, m = evaluate_alarms(periods, ranks, events, alarm_rank=1, max_lead=3)
    assert eps["onset"].tolist() == [periods[6], ""]  # the second episode is missed
    assert m["called"] == 1 and m["judgeable"] == 2 and m["share_called"] == 0.5
    # A run already on before a window is no onset inside it (the old score gave lead +2).
    ranks = np.zeros(16, dtype=int)
    ranks[2:10] = 1
    eps, m = evaluate_alarms(periods, ranks, events.iloc[[1]], alarm_rank=1, max_lead=2)
    assert eps["onset"].tolist() == [""] and m["false_alarm_runs"] == 1
    # A run on when the signal starts has no visible onset but is still a false-alarm run.
    ranks = np.full(16, -1)
    ranks[4:8] = 1
    ranks[8:] = 0
    _, m = evaluate_alarms(periods, ranks, events.iloc[[1]], alarm_rank=1, max_lead=0)
    assert m["false_alarm_runs"] == 1 and m["called"] == 0


def test_roc_and_auc_by_hand():
    score = np.array([1.0, 2.0, 3.0, 4.0, 2.0, np.nan])
    truth = np.array([False, True, False, True, False, True])
    roc, auc = roc_curve(score, truth)
    # positives {2, 4} vs negatives {1, 3, 2}: 2>1, 2<3, 2=2 (½), 4>1, 4>3, 4>2 → 4.5 / 6
    assert math.isclose(auc, 4.5 / 6)
    fpr, tpr = roc["fpr"].to_numpy(), roc["tpr"].to_numpy()
    assert math.isclose(float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)), auc)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    _, m = evaluate_alarms(
        months(6),
        np.array([0, 1, 0, 1, 1, -1]),
        pd.DataFrame({"start": [months(6)[1]], "end": [months(6)[1]]}),
        max_lead=0,
        score=score,
    )
    # window = index 1 only; judged 0–4 → positives {2}, negatives {1, 3, 4, 2}: 1 + 0 + 0 + ½
    assert math.isclose(m["auc"], 1.5 / 4)


def test_sahm_signal_by_hand():
    rule = BacktestRule(signal="sahm", window=2, lookback=3)
    x = np.array([1.0, 3.0, 2.0, 2.0, 6.0, 1.0])
    # moving averages: nan, 2, 2.5, 2, 4, 3.5; min of the 3 before t (t ≥ 4)
    sig = compute_signal(x, rule)
    assert np.isnan(sig[:4]).all()
    assert math.isclose(sig[4], 4 - 2) and math.isclose(sig[5], 3.5 - 2)
    down = compute_signal(
        x,
        BacktestRule(
            signal="sahm", window=2, lookback=3, direction="lower_is_worse", lines=(1, 2, 3, 4)
        ),
    )
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
    rule = BacktestRule(
        signal="level",
        lines=(3.3, 3.5, 3.7, 3.9),
        max_lead=1,
        min_history=8,
        forecast=ForecastSettings(horizon=2, origins=4, simulations=100),
    )
    res = run_backtest(series, events, rule, forecast_from=periods[20])
    m = res.metrics.set_index(["mode", "metric"])["value"]
    assert m[("fixed", "called")] == 1 and m[("fixed", "false_alarm_runs")] == 0
    assert m[("fixed", "mean_lead")] == 0
    # AUC over all pairs (window = 2011Q4 … 2012Q4, indices 27–31), by brute force
    pos, neg = values[27:32], np.delete(values, range(27, 32))
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert math.isclose(m[("fixed", "auc")], pairs.mean())
    assert m[("realtime", "called")] == 1
    acc = res.accuracy
    assert set(acc["model"]) >= {"naive", "seasonal_naive", "selected"}
    assert (acc.groupby("horizon")["origins"].first() == [16, 15]).all()
    naive = acc[acc["model"] == "naive"]
    assert np.allclose(naive["rmse"], naive["naive_rmse"])
    # naive 1 step ahead from each origin t ≥ 20: the previous value
    e = values[20:] - values[19:-1]
    assert math.isclose(naive[naive["horizon"] == 1]["rmse"].iloc[0], np.sqrt(np.mean(e**2)))
    assert "识别 1/1 个可判断事件" in res.summary()


def test_series_and_events_validation():
    bad = pd.DataFrame(
        {
            "period": ["2013-01", "2013-02", "2013-02", "2013Q1", "x"],
            "value": ["1", "2", "a", "3", "4"],
        }
    )
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
        validate_events(
            pd.DataFrame({"start": ["2013-05", "2013Q1"], "end": ["2013-03", "x"]}),
            "M",
            file="e.csv",
        )
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
    assert m[("fixed", "called")] == 2 and m[("fixed", "false_alarm_runs")] == 0
    assert m[("fixed", "noise_to_signal")] < 0.5


def test_us_files_match_statsmodels_and_nber():
    series, events = us_unemployment()
    root = project_root() / "data" / "demo" / "backtest"
    got = read_series(root / "us_unemployment.csv")
    assert got["period"].tolist() == series["period"].tolist()
    assert np.array_equal(got["value"].to_numpy(), series["value"].to_numpy())
    assert (got["period"].iloc[0], got["period"].iloc[-1]) == ("1959Q1", "2009Q3")
    assert read_events(root / "us_recessions.csv", "Q").equals(events)
    assert len(events) == 8


def test_cli_on_us_unemployment_scores_onsets_and_beats_ar2(tmp_path, capsys):
    """The issue's acceptance run: onset scores and forecasts that beat a plain AR(2)."""
    import warnings

    from statsmodels.tsa.ar_model import AutoReg

    from samplekit.cli import main

    root = "data/demo/backtest"
    code = main(
        [
            "backtest",
            "--series",
            f"{root}/us_unemployment.csv",
            "--events",
            f"{root}/us_recessions.csv",
            "--params",
            "params/backtest_example.yaml",
            "--out",
            str(tmp_path),
            "--forecast-from",
            "1990Q1",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("回测 ") and "固定警戒线" in out[-1] and "实时警戒线" in out[-1]
    eps = read_table(tmp_path / "episodes.csv")
    assert list(eps.columns[:5]) == ["start", "end", "judgeable", "onset", "lead"]
    assert len(eps) == 8
    # 1960 cannot be judged (the signal starts 1962Q3); 1973 is scored by its own onset
    first = eps.set_index("start")
    assert first.loc["1960Q2", "judgeable"] == "False"
    assert first.loc["1973Q4", "onset"] == "1974Q2"
    metrics = read_table(tmp_path / "backtest_metrics.csv")
    m = metrics.set_index(["mode", "metric"])["value"].astype(float)
    assert (m[("fixed", "called")], m[("fixed", "judgeable")]) == (6, 7)
    assert math.isclose(m[("fixed", "mean_lead")], -0.5)
    assert m[("fixed", "false_alarm_periods")] == 53
    acc = read_table(tmp_path / "forecast_accuracy.csv")
    assert list(acc.columns[:5]) == ["horizon", "model", "rmse", "naive_rmse", "origins"]
    acc = acc.astype({"horizon": int, "rmse": float, "origins": int})
    h1 = acc[acc["horizon"] == 1].set_index("model")
    assert h1.loc["selected", "origins"] == 79
    # AR(2) refitted by statsmodels on the data before each origin 1990Q1 … 2009Q3
    series, _ = us_unemployment()
    y = series["value"].to_numpy()
    start = series["period"].tolist().index("1990Q1")
    err = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(start, len(y)):
            fit = AutoReg(y[:t], lags=2, trend="c").fit()
            err.append(y[t] - fit.predict(start=t, end=t)[0])
    ar2 = float(np.sqrt(np.mean(np.square(err))))
    assert ar2 == pytest.approx(0.2035, abs=5e-4)
    assert h1.loc["selected", "rmse"] <= ar2
    assert h1.loc["naive", "rmse"] == pytest.approx(0.3048, abs=5e-4)


def test_cli_prints_the_summary_last(tmp_path, capsys):
    from samplekit.cli import main

    root = "data/demo/backtest"
    code = main(
        [
            "backtest",
            "--series",
            f"{root}/registered_rate.csv",
            "--events",
            f"{root}/episodes.csv",
            "--params",
            "params/backtest_example.yaml",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("回测 ") and "AUC" in lines[-1]
    for name in (
        "episodes.csv",
        "forecast_accuracy.csv",
        "backtest_periods.csv",
        "backtest_metrics.csv",
        "backtest_roc.csv",
        "backtest.png",
    ):
        assert (tmp_path / name).stat().st_size > 0
    bad = tmp_path / "bad.csv"
    bad.write_text("period,value\n2013-01,1\n2013-01,2\n", encoding="utf-8")
    assert (
        main(
            [
                "backtest",
                "--series",
                str(bad),
                "--events",
                f"{root}/episodes.csv",
                "--params",
                "params/backtest_example.yaml",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "duplicate" in capsys.readouterr().err
    assert (
        main(
            [
                "backtest",
                "--series",
                f"{root}/registered_rate.csv",
                "--events",
                f"{root}/episodes.csv",
                "--params",
                "params/backtest_example.yaml",
                "--out",
                str(tmp_path),
                "--forecast-from",
                "1990Q1",
            ]
        )
        == 1
    )
    assert "forecast-from" in capsys.readouterr().err
