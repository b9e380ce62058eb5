"""Back-testing a warning rule on an indicator series against known episodes.

A *rule* turns a series into a signal (the value itself, or a Sahm-style rise of its moving
average above the recent minimum) and the signal into levels through lines. The back-test reports
which episodes were caught, the lead (+) or lag (−) of the first alarm in periods, the false
alarms and the noise-to-signal ratio — with the fixed lines of the params and in a real-time mode
where the lines at each period are quantiles of the signal seen before it — and the forecast RMSE
by horizon of the forecasting models against the naive baseline. See ``docs/warning.md``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from samplekit.errors import (
    PROBLEM_COLUMNS,
    InputError,
    ParamsError,
    ValidationError,
    problems_frame,
    summarize_problems,
)
from samplekit.forecast import MODELS, ForecastSettings, choose_model, score_models
from samplekit.io import read_table, round_floats, write_csv
from samplekit.params import Params
from samplekit.periods import MONTH_RE, QUARTER_RE
from samplekit.warning import DEFAULT_LEVELS, Level, _lines, classify, parse_levels

Signal = Literal["level", "sahm"]
Mode = Literal["fixed", "realtime"]


@dataclass(frozen=True)
class BacktestRule:
    """A warning rule for one series (the ``backtest:`` section of a params file).

    Parameters
    ----------
    name : str
        Indicator name shown in the chart and the summary.
    signal : {"level", "sahm"}
        ``level``: the value itself. ``sahm``: the rise of the ``window``-period moving average
        above its minimum over the previous ``lookback`` periods (a fall below the maximum when
        lower is worse), so the signal grows as the situation worsens.
    direction : {"higher_is_worse", "lower_is_worse"}
        Of the series.
    lines : tuple of float
        One line per level, mildest first, on the signal's scale.
    alarm_rank : int
        The lowest level (1 = the mildest) that counts as an alarm.
    max_lead : int
        An alarm up to ``max_lead`` periods before an episode starts counts as an early warning.
    quantiles : tuple of float
        Real-time mode: the lines at period t are these quantiles of the signal before t.
    min_history : int
        Real-time mode: periods with fewer earlier signal values are not judged.
    """

    name: str = "indicator"
    signal: Signal = "level"
    window: int = 3
    lookback: int = 12
    direction: Literal["higher_is_worse", "lower_is_worse"] = "higher_is_worse"
    levels: tuple[Level, ...] = DEFAULT_LEVELS
    lines: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)
    alarm_rank: int = 1
    max_lead: int = 6
    quantiles: tuple[float, ...] = (0.80, 0.90, 0.95, 0.99)
    min_history: int = 24
    forecast: ForecastSettings = field(default_factory=ForecastSettings)

    @property
    def signal_direction(self) -> str:
        return "higher_is_worse" if self.signal == "sahm" else self.direction

    @classmethod
    def from_params(cls, params: Params, key: str = "backtest") -> BacktestRule:
        """Read and validate the rule; errors name the file and dotted key."""
        allowed = {"name", "signal", "window", "lookback", "direction", "levels", "lines",
                   "alarm_level", "max_lead", "realtime", "forecast"}
        params.check_keys(key, allowed)
        levels = parse_levels(params.get(f"{key}.levels", None), params, f"{key}.levels")
        signal = params.choice(f"{key}.signal", ("level", "sahm"), "level")
        direction = params.choice(f"{key}.direction", ("higher_is_worse", "lower_is_worse"),
                                  "higher_is_worse")
        sig_dir = "higher_is_worse" if signal == "sahm" else direction
        lines = _lines(params.get(f"{key}.lines", None), params, f"{key}.lines", len(levels),
                       sig_dir)
        codes = [lv.code for lv in levels]
        alarm_code = str(params.get(f"{key}.alarm_level", codes[0]))
        if alarm_code not in codes:
            raise ParamsError(f"{params.path}: '{key}.alarm_level' = {alarm_code!r} is not one "
                              f"of the level codes {codes}")
        rt = params.get(f"{key}.realtime", {})
        if not isinstance(rt, Mapping) or set(rt) - {"quantiles", "min_history"}:
            raise ParamsError(f"{params.path}: '{key}.realtime' takes quantiles and "
                              f"min_history, found {rt!r}")
        quantiles = params.get(f"{key}.realtime.quantiles", [0.80, 0.90, 0.95, 0.99], types=list)
        if len(quantiles) != len(levels) or not all(
                isinstance(q, (int, float)) and 0 < q < 1 for q in quantiles) or any(
                b <= a for a, b in zip(quantiles, quantiles[1:], strict=False)):
            raise ParamsError(f"{params.path}: '{key}.realtime.quantiles' = {quantiles!r} must "
                              f"be {len(levels)} increasing numbers in (0, 1), one per level")
        return cls(
            name=str(params.get(f"{key}.name", "indicator")),
            signal=signal,  # type: ignore[arg-type]
            window=int(params.number(f"{key}.window", 3, low=1, high=24)),
            lookback=int(params.number(f"{key}.lookback", 12, low=1, high=120)),
            direction=direction,  # type: ignore[arg-type]
            levels=levels,
            lines=lines,
            alarm_rank=codes.index(alarm_code) + 1,
            max_lead=int(params.number(f"{key}.max_lead", 6, low=0, high=60)),
            quantiles=tuple(float(q) for q in quantiles),
            min_history=int(params.number(f"{key}.realtime.min_history", 24, low=4)),
            forecast=ForecastSettings.from_params(params, f"{key}.forecast"),
        )


# ---------------------------------------------------------------------------------- inputs
def _freq_of(label: str) -> str | None:
    if MONTH_RE.match(label):
        return "M"
    if QUARTER_RE.match(label):
        return "Q"
    return None


def validate_series(raw: pd.DataFrame, *, file: str = "<series>") -> pd.DataFrame:
    """Check a ``period,value`` table: one frequency, no duplicates, numbers, no gaps.

    Returns the series sorted by period with ``value`` as float. Raises
    :class:`ValidationError` naming every bad row.
    """
    cols = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("period", "value") if c not in cols]
    if missing:
        raise InputError(f"{file}: column(s) {missing} not found; found {list(raw.columns)}. "
                         "The series file needs the columns period,value")
    df = pd.DataFrame({"period": raw[cols["period"]].astype("string").str.strip(),
                       "value": raw[cols["value"]]})
    problems: list[dict] = []

    def add(i: int, column: str, value: object, rule: str, message: str) -> None:
        problems.append({"severity": "error", "file": file, "row": i + 2, "column": column,
                         "value": str(value), "rule": rule, "message": message})

    freqs = [_freq_of(str(p)) if pd.notna(p) else None for p in df["period"]]
    for i, (p, f) in enumerate(zip(df["period"], freqs, strict=True)):
        if f is None:
            add(i, "period", p, "period_format", "use a month like 2013-07 or a quarter like "
                "2013Q3")
    known = {f for f in freqs if f}
    if len(known) > 1:
        add(0, "period", "", "mixed_frequency", "months and quarters are mixed; use one")
    num = pd.to_numeric(df["value"], errors="coerce")
    for i in np.flatnonzero(num.isna().to_numpy()):
        add(int(i), "value", df["value"].iloc[i], "not_numeric", "value must be a number")
    for i in np.flatnonzero(df["period"].duplicated(keep=False).to_numpy()):
        add(int(i), "period", df["period"].iloc[i], "duplicate", "the same period appears twice")
    if not problems:
        freq = known.pop()
        idx = pd.PeriodIndex(df["period"].tolist(), freq=freq)
        order = np.argsort(idx.asi8, kind="stable")
        idx = idx[order]
        full = pd.period_range(idx[0], idx[-1], freq=freq)
        gaps = sorted(set(map(str, full)) - set(map(str, idx)))
        if gaps:
            shown = ", ".join(gaps[:5]) + (" …" if len(gaps) > 5 else "")
            raise InputError(f"{file}: {len(gaps)} period(s) missing ({shown}); the series must "
                             "have every period between its first and last")
        out = pd.DataFrame({"period": [str(p) for p in idx],
                            "value": num.to_numpy(dtype=float)[order]})
        if len(out) < 8:
            raise InputError(f"{file}: only {len(out)} periods; a back-test needs at least 8")
        return out
    probs = problems_frame(pd.DataFrame(problems, columns=PROBLEM_COLUMNS))
    raise ValidationError(f"{file}: {len(probs)} problem(s) in the series\n"
                          + summarize_problems(probs), probs)


def validate_events(raw: pd.DataFrame, freq: str, *, file: str = "<events>") -> pd.DataFrame:
    """Check a ``start,end`` table of episodes (same frequency as the series; start ≤ end).

    A month given for a quarterly series is read as its quarter (and the reverse is refused).
    """
    cols = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("start", "end") if c not in cols]
    if missing:
        raise InputError(f"{file}: column(s) {missing} not found; found {list(raw.columns)}. "
                         "The events file needs the columns start,end")
    problems: list[dict] = []
    rows = []
    for i, (s, e) in enumerate(zip(raw[cols["start"]], raw[cols["end"]], strict=True)):
        parsed = []
        for column, v in (("start", s), ("end", e)):
            text = str(v).strip()
            f = _freq_of(text)
            if f is None or (freq == "M" and f == "Q"):
                problems.append({"severity": "error", "file": file, "row": i + 2,
                                 "column": column, "value": text, "rule": "period_format",
                                 "message": "use a month like 2013-07" + (
                                     "" if freq == "M" else " or a quarter like 2013Q3")})
                parsed.append(None)
            else:
                parsed.append(pd.Period(text, freq=f).asfreq(freq))
        if None not in parsed:
            if parsed[0] > parsed[1]:
                problems.append({"severity": "error", "file": file, "row": i + 2,
                                 "column": "end", "value": str(e), "rule": "order",
                                 "message": "end is before start"})
            rows.append({"start": str(parsed[0]), "end": str(parsed[1])})
    if problems:
        probs = problems_frame(pd.DataFrame(problems, columns=PROBLEM_COLUMNS))
        raise ValidationError(f"{file}: {len(probs)} problem(s) in the events\n"
                              + summarize_problems(probs), probs)
    return pd.DataFrame(rows, columns=["start", "end"]).sort_values("start").reset_index(
        drop=True)


def read_series(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a series CSV/XLSX (``period,value``)."""
    return validate_series(read_table(path), file=Path(path).name)


def read_events(path: str | os.PathLike[str], freq: str) -> pd.DataFrame:
    """Read and validate an events CSV/XLSX (``start,end``)."""
    return validate_events(read_table(path), freq, file=Path(path).name)


# ---------------------------------------------------------------------------------- signal
def compute_signal(values: Sequence[float] | np.ndarray, rule: BacktestRule) -> np.ndarray:
    """The rule's signal at each period (NaN where the history is too short).

    ``sahm``: m_t = mean(x_{t−w+1..t}); signal_t = m_t − min(m_{t−L..t−1}) (or
    max(m_{t−L..t−1}) − m_t when lower is worse), defined once L earlier averages exist.
    """
    x = np.asarray(values, dtype=float)
    if rule.signal == "level":
        return x.copy()
    ma = pd.Series(x).rolling(rule.window, min_periods=rule.window).mean()
    if rule.direction == "higher_is_worse":
        ref = ma.shift(1).rolling(rule.lookback, min_periods=rule.lookback).min()
        return (ma - ref).to_numpy()
    ref = ma.shift(1).rolling(rule.lookback, min_periods=rule.lookback).max()
    return (ref - ma).to_numpy()


def fixed_ranks(signal: np.ndarray, rule: BacktestRule) -> np.ndarray:
    """Level rank per period under the params' lines (−1 where the signal is NaN)."""
    return np.array([classify(float(s), rule.lines, rule.signal_direction)[0]  # type: ignore[arg-type]
                     if np.isfinite(s) else -1 for s in signal])


def realtime_lines(signal: np.ndarray, rule: BacktestRule) -> np.ndarray:
    """Lines at each period from the signal strictly before it (``periods × levels``; NaN rows
    where fewer than ``min_history`` earlier values exist). Lower-is-worse signals use the
    mirrored quantiles (1 − q)."""
    out = np.full((len(signal), len(rule.quantiles)), np.nan)
    qs = np.array(rule.quantiles)
    if rule.signal_direction == "lower_is_worse":
        qs = 1 - qs
    for t in range(len(signal)):
        past = signal[:t]
        past = past[np.isfinite(past)]
        if len(past) >= rule.min_history:
            out[t] = np.quantile(past, qs)
    return out


def realtime_ranks(signal: np.ndarray, lines: np.ndarray, rule: BacktestRule) -> np.ndarray:
    ranks = np.full(len(signal), -1)
    for t in range(len(signal)):
        row = lines[t]
        if np.isfinite(signal[t]) and np.isfinite(row).all():
            # Ties in quantiles (flat history) would break the strict order: nudge them apart.
            row = np.maximum.accumulate(row + np.arange(len(row)) * 1e-12) if (
                rule.signal_direction == "higher_is_worse") else np.minimum.accumulate(
                row - np.arange(len(row)) * 1e-12)
            ranks[t] = classify(float(signal[t]), row, rule.signal_direction)[0]  # type: ignore[arg-type]
    return ranks


# ------------------------------------------------------------------------------ evaluation
def evaluate_alarms(periods: Sequence[str], ranks: np.ndarray, events: pd.DataFrame, *,
                    alarm_rank: int = 1, max_lead: int = 6) -> tuple[pd.DataFrame, dict]:
    """Episodes caught, lead/lag, false alarms and the noise-to-signal ratio.

    Parameters
    ----------
    periods : sequence of str
        The series' periods, in order.
    ranks : array of int
        Level rank per period; −1 marks periods that cannot be judged (left out of the counts).
    events : DataFrame
        ``start, end`` of the true episodes (labels of the same frequency).
    alarm_rank : int
        Ranks at or above it are alarms.
    max_lead : int
        Each episode's window runs from ``max_lead`` periods before its start to its end.

    Returns
    -------
    (episodes, metrics)
        ``episodes``: start, end, detected, first_alarm, lead (start − first alarm, in periods:
        positive = early warning, negative = late). ``metrics``: episodes, detected,
        false_alarms (runs of consecutive alarms wholly outside every window), A (alarms in
        windows), B (alarms outside), C (no alarm in windows), D (no alarm outside),
        noise_to_signal = [B/(B+D)] / [A/(A+C)] (Kaminsky–Lizondo–Reinhart), mean_lead.
    """
    labels = list(periods)
    pos = {p: i for i, p in enumerate(labels)}
    freq = _freq_of(labels[0]) or "M"
    first, last = pd.Period(labels[0], freq=freq), pd.Period(labels[-1], freq=freq)
    n = len(labels)
    judged = ranks >= 0
    alarm = (ranks >= alarm_rank) & judged
    window = np.zeros(n, dtype=bool)
    rows = []
    for ev in events.itertuples(index=False):
        s, e = pd.Period(ev.start, freq=freq), pd.Period(ev.end, freq=freq)
        if e < first or s > last:
            rows.append({"start": ev.start, "end": ev.end, "detected": False,
                         "first_alarm": "", "lead": np.nan, "in_sample": False})
            continue
        si = (s - first).n
        ei = min((e - first).n, n - 1)
        lo = max(si - max_lead, 0)
        window[lo:ei + 1] = True
        hits = np.flatnonzero(alarm[lo:ei + 1]) + lo
        detected = len(hits) > 0
        rows.append({"start": ev.start, "end": ev.end, "detected": detected,
                     "first_alarm": labels[hits[0]] if detected else "",
                     "lead": float(si - hits[0]) if detected else np.nan, "in_sample": True})
    del pos
    episodes = pd.DataFrame(rows, columns=["start", "end", "detected", "first_alarm", "lead",
                                           "in_sample"])
    a = int((alarm & window).sum())
    b = int((alarm & ~window).sum())
    c = int((~alarm & window & judged).sum())
    d = int((~alarm & ~window & judged).sum())
    runs = 0
    t = 0
    while t < n:
        if alarm[t]:
            u = t
            while u + 1 < n and alarm[u + 1]:
                u += 1
            if not window[t:u + 1].any():
                runs += 1
            t = u + 1
        else:
            t += 1
    signal_rate = a / (a + c) if a + c else np.nan
    noise_rate = b / (b + d) if b + d else np.nan
    nsr = noise_rate / signal_rate if signal_rate and np.isfinite(signal_rate) else np.nan
    inside = episodes[episodes["in_sample"]]
    metrics = {
        "episodes": int(len(inside)), "detected": int(inside["detected"].sum()),
        "false_alarms": runs, "A": a, "B": b, "C": c, "D": d,
        "noise_to_signal": float(nsr) if np.isfinite(nsr) else np.nan,
        "mean_lead": float(inside["lead"].mean()) if inside["detected"].any() else np.nan,
    }
    return episodes, metrics


@dataclass(frozen=True)
class BacktestResult:
    """Tables of one back-test."""

    rule: BacktestRule
    periods: pd.DataFrame
    episodes: pd.DataFrame
    metrics: pd.DataFrame
    forecast: pd.DataFrame
    chosen_model: str

    def summary(self) -> str:
        """The one-line summary printed last by ``samplekit backtest``."""
        m = self.metrics.set_index(["mode", "metric"])["value"]

        def f(mode: str, key: str, fmt: str = "{:.0f}") -> str:
            v = m.get((mode, key), np.nan)
            return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

        fc = self.forecast[self.forecast["model"] == self.chosen_model]
        ratio = fc["ratio_to_naive"].mean() if len(fc) else np.nan
        return (f"backtest {self.rule.name}: fixed lines caught {f('fixed', 'detected')}/"
                f"{f('fixed', 'episodes')} episodes (mean lead {f('fixed', 'mean_lead', '{:+.1f}')}"
                f", {f('fixed', 'false_alarms')} false alarms, NSR "
                f"{f('fixed', 'noise_to_signal', '{:.2f}')}); real-time caught "
                f"{f('realtime', 'detected')}/{f('realtime', 'episodes')} (NSR "
                f"{f('realtime', 'noise_to_signal', '{:.2f}')}); forecast {self.chosen_model} "
                f"RMSE/naive {'—' if not np.isfinite(ratio) else f'{ratio:.2f}'}")


def run_backtest(series: pd.DataFrame, events: pd.DataFrame, rule: BacktestRule
                 ) -> BacktestResult:
    """Back-test ``rule`` on a validated series and its episodes (both modes + forecasts).

    Examples
    --------
    >>> res = run_backtest(read_series("s.csv"), read_events("e.csv", "M"), rule)  # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    """
    periods = series["period"].tolist()
    values = series["value"].to_numpy(dtype=float)
    freq = _freq_of(periods[0]) or "M"
    sig = compute_signal(values, rule)
    fixed = fixed_ranks(sig, rule)
    rt_lines = realtime_lines(sig, rule)
    realtime = realtime_ranks(sig, rt_lines, rule)
    table = pd.DataFrame({"period": periods, "value": values, "signal": sig})
    for k, lv in enumerate(rule.levels):
        table[f"line_{lv.code}"] = rule.lines[k]
    for k, lv in enumerate(rule.levels):
        table[f"realtime_line_{lv.code}"] = rt_lines[:, k]
    codes = ["", *[lv.code for lv in rule.levels]]
    table["fixed_level"] = [codes[r] if r > 0 else ("none" if r == 0 else "") for r in fixed]
    table["fixed_alarm"] = fixed >= rule.alarm_rank
    table["realtime_level"] = [codes[r] if r > 0 else ("none" if r == 0 else "")
                               for r in realtime]
    table["realtime_alarm"] = realtime >= rule.alarm_rank
    metric_rows, episode_parts = [], []
    for mode, ranks in (("fixed", fixed), ("realtime", realtime)):
        eps, met = evaluate_alarms(periods, ranks, events, alarm_rank=rule.alarm_rank,
                                   max_lead=rule.max_lead)
        episode_parts.append(eps.assign(mode=mode))
        metric_rows += [{"mode": mode, "metric": k, "value": v} for k, v in met.items()]
    in_window = np.zeros(len(periods), dtype=bool)
    first = pd.Period(periods[0], freq=freq)
    for ev in events.itertuples(index=False):
        s = (pd.Period(ev.start, freq=freq) - first).n
        e = (pd.Period(ev.end, freq=freq) - first).n
        in_window[max(s, 0):max(e + 1, 0)] = True
    table["in_episode"] = in_window
    settings = ForecastSettings(
        models=rule.forecast.models, horizon=rule.forecast.horizon,
        season=12 if freq == "M" else 4, origins=rule.forecast.origins,
        level=rule.forecast.level, simulations=rule.forecast.simulations,
        seed=rule.forecast.seed)
    scores = score_models(values, settings)
    chosen = choose_model(scores, settings.models)
    naive = scores[scores["model"] == "naive"].set_index("horizon")["rmse"]
    fc = scores.copy()
    fc["ratio_to_naive"] = [r / naive.get(h, np.nan) if naive.get(h, np.nan) else np.nan
                            for r, h in zip(fc["rmse"], fc["horizon"], strict=True)]
    fc["chosen"] = fc["model"] == chosen
    episodes = pd.concat(episode_parts, ignore_index=True)[
        ["mode", "start", "end", "detected", "first_alarm", "lead", "in_sample"]]
    return BacktestResult(rule=rule, periods=table, episodes=episodes,
                          metrics=pd.DataFrame(metric_rows, columns=["mode", "metric", "value"]),
                          forecast=fc, chosen_model=chosen)


def plot_backtest(result: BacktestResult):
    """Two panels: the series with the episodes shaded; the signal, its lines and the alarms."""
    from samplekit.plotting import new_figure

    fig, (ax1, ax2) = new_figure(10, 6.5, nrows=2, sharex=True)
    t = result.periods
    x = np.arange(len(t))
    ax1.plot(x, t["value"], color="#333333", lw=1.5, label=result.rule.name)
    for ax in (ax1, ax2):
        shade = t["in_episode"].to_numpy()
        for i in np.flatnonzero(shade):
            ax.axvspan(i - 0.5, i + 0.5, color="#f4cccc", lw=0)
    ax1.set_ylabel(result.rule.name)
    ax1.set_title(f"{result.rule.name}:回测(阴影为实际失业波动期)")
    ax2.plot(x, t["signal"], color="#1f4e79", lw=1.5, label="预警信号")
    for k, lv in enumerate(result.rule.levels):
        ax2.axhline(result.rule.lines[k], color=lv.color, ls="--", lw=1,
                    label=f"{lv.code}级({lv.name})警戒线")
    fa = t["fixed_alarm"].to_numpy()
    ax2.scatter(x[fa], t["signal"].to_numpy()[fa], color="#d62728", s=18, zorder=3,
                label="报警(固定警戒线)")
    ra = t["realtime_alarm"].to_numpy()
    ax2.scatter(x[ra], np.full(ra.sum(), np.nanmin(t["signal"])), marker="|", color="#6a3d9a",
                s=60, label="报警(实时警戒线)")
    ax2.set_ylabel("信号")
    ax2.legend(loc="upper left", fontsize=8, ncol=2)
    step = max(len(t) // 12, 1)
    ax2.set_xticks(x[::step])
    ax2.set_xticklabels(t["period"].iloc[::step], rotation=45, ha="right")
    return fig


def write_backtest(result: BacktestResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``backtest_periods.csv``, ``backtest_episodes.csv``, ``backtest_metrics.csv``,
    ``backtest_forecast_rmse.csv`` and ``backtest.png``; returns the paths."""
    from samplekit.plotting import save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        write_csv(round_floats(result.periods), out / "backtest_periods.csv"),
        write_csv(round_floats(result.episodes), out / "backtest_episodes.csv"),
        write_csv(round_floats(result.metrics), out / "backtest_metrics.csv"),
        write_csv(round_floats(result.forecast), out / "backtest_forecast_rmse.csv"),
        save_figure(plot_backtest(result), out / "backtest.png"),
    ]
    return paths


# --------------------------------------------------------------------------- example data
def example_series(seed: int = 2013) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shipped example (``data/demo/backtest/``): a synthetic monthly registered
    unemployment rate, 2005-01 … 2013-12, with two episodes — a crisis (2008-10 … 2009-06) and
    an export-demand shock (2013-07 … 2013-12) — on a seasonal, slowly drifting base.

    Returns ``(series, events)``; the test suite checks the committed files equal this.
    """
    rng = np.random.default_rng(seed)
    idx = pd.period_range("2005-01", "2013-12", freq="M")
    n = len(idx)
    month = np.array([p.month for p in idx])
    base = 2.6 - 0.15 * np.arange(n) / n + 0.06 * np.isin(month, (2, 3))
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = 0.5 * noise[t - 1] + rng.normal(0, 0.025)
    bump = np.zeros(n)
    for start, end, height in (("2008-10", "2009-06", 0.9), ("2013-07", "2013-12", 0.6)):
        s, e = idx.get_loc(pd.Period(start, "M")), idx.get_loc(pd.Period(end, "M"))
        length = e - s + 1
        up = np.minimum((np.arange(length) + 1) / (length * 0.6), 1.0) * height
        bump[s:e + 1] = np.maximum(bump[s:e + 1], up)
        decay = height * 0.5 ** (np.arange(1, min(12, n - e - 1) + 1) / 2)
        bump[e + 1:e + 1 + len(decay)] = np.maximum(bump[e + 1:e + 1 + len(decay)], decay)
    series = pd.DataFrame({"period": [str(p) for p in idx],
                           "value": np.round(base + noise + bump, 2)})
    events = pd.DataFrame({"start": ["2008-10", "2013-07"], "end": ["2009-06", "2013-12"]})
    return series, events


__all__ = ["BacktestRule", "BacktestResult", "MODELS", "compute_signal", "evaluate_alarms",
           "example_series", "fixed_ranks", "read_events", "read_series", "realtime_lines",
           "run_backtest", "validate_events", "validate_series", "write_backtest"]
