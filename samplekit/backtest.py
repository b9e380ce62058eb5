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
from samplekit.forecast import MODELS, ForecastSettings
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
        allowed = {
            "name",
            "signal",
            "window",
            "lookback",
            "direction",
            "levels",
            "lines",
            "alarm_level",
            "max_lead",
            "realtime",
            "forecast",
        }
        params.check_keys(key, allowed)
        levels = parse_levels(params.get(f"{key}.levels", None), params, f"{key}.levels")
        signal = params.choice(f"{key}.signal", ("level", "sahm"), "level")
        direction = params.choice(
            f"{key}.direction", ("higher_is_worse", "lower_is_worse"), "higher_is_worse"
        )
        sig_dir = "higher_is_worse" if signal == "sahm" else direction
        lines = _lines(
            params.get(f"{key}.lines", None), params, f"{key}.lines", len(levels), sig_dir
        )
        codes = [lv.code for lv in levels]
        alarm_code = str(params.get(f"{key}.alarm_level", codes[0]))
        if alarm_code not in codes:
            raise ParamsError(
                f"{params.path}: '{key}.alarm_level' = {alarm_code!r} is not one "
                f"of the level codes {codes}"
            )
        rt = params.get(f"{key}.realtime", {})
        if not isinstance(rt, Mapping) or set(rt) - {"quantiles", "min_history"}:
            raise ParamsError(
                f"{params.path}: '{key}.realtime' takes quantiles and min_history, found {rt!r}"
            )
        quantiles = params.get(f"{key}.realtime.quantiles", [0.80, 0.90, 0.95, 0.99], types=list)
        if (
            len(quantiles) != len(levels)
            or not all(isinstance(q, (int, float)) and 0 < q < 1 for q in quantiles)
            or any(b <= a for a, b in zip(quantiles, quantiles[1:], strict=False))
        ):
            raise ParamsError(
                f"{params.path}: '{key}.realtime.quantiles' = {quantiles!r} must "
                f"be {len(levels)} increasing numbers in (0, 1), one per level"
            )
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
        raise InputError(
            f"{file}: column(s) {missing} not found; found {list(raw.columns)}. "
            "The series file needs the columns period,value"
        )
    df = pd.DataFrame(
        {"period": raw[cols["period"]].astype("string").str.strip(), "value": raw[cols["value"]]}
    )
    problems: list[dict] = []

    def add(i: int, column: str, value: object, rule: str, message: str) -> None:
        problems.append(
            {
                "severity": "error",
                "file": file,
                "row": i + 2,
                "column": column,
                "value": str(value),
                "rule": rule,
                "message": message,
            }
        )

    freqs = [_freq_of(str(p)) if pd.notna(p) else None for p in df["period"]]
    for i, (p, f) in enumerate(zip(df["period"], freqs, strict=True)):
        if f is None:
            add(
                i, "period", p, "period_format", "use a month like 2013-07 or a quarter like 2013Q3"
            )
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
            raise InputError(
                f"{file}: {len(gaps)} period(s) missing ({shown}); the series must "
                "have every period between its first and last"
            )
        out = pd.DataFrame(
            {"period": [str(p) for p in idx], "value": num.to_numpy(dtype=float)[order]}
        )
        if len(out) < 8:
            raise InputError(f"{file}: only {len(out)} periods; a back-test needs at least 8")
        return out
    probs = problems_frame(pd.DataFrame(problems, columns=PROBLEM_COLUMNS))
    raise ValidationError(
        f"{file}: {len(probs)} problem(s) in the series\n" + summarize_problems(probs), probs
    )


def validate_events(raw: pd.DataFrame, freq: str, *, file: str = "<events>") -> pd.DataFrame:
    """Check a ``start,end`` table of episodes (same frequency as the series; start ≤ end).

    A month given for a quarterly series is read as its quarter (and the reverse is refused).
    """
    cols = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("start", "end") if c not in cols]
    if missing:
        raise InputError(
            f"{file}: column(s) {missing} not found; found {list(raw.columns)}. "
            "The events file needs the columns start,end"
        )
    problems: list[dict] = []
    rows = []
    for i, (s, e) in enumerate(zip(raw[cols["start"]], raw[cols["end"]], strict=True)):
        parsed = []
        for column, v in (("start", s), ("end", e)):
            text = str(v).strip()
            f = _freq_of(text)
            if f is None or (freq == "M" and f == "Q"):
                problems.append(
                    {
                        "severity": "error",
                        "file": file,
                        "row": i + 2,
                        "column": column,
                        "value": text,
                        "rule": "period_format",
                        "message": "use a month like 2013-07"
                        + ("" if freq == "M" else " or a quarter like 2013Q3"),
                    }
                )
                parsed.append(None)
            else:
                parsed.append(pd.Period(text, freq=f).asfreq(freq))
        if None not in parsed:
            if parsed[0] > parsed[1]:
                problems.append(
                    {
                        "severity": "error",
                        "file": file,
                        "row": i + 2,
                        "column": "end",
                        "value": str(e),
                        "rule": "order",
                        "message": "end is before start",
                    }
                )
            rows.append({"start": str(parsed[0]), "end": str(parsed[1])})
    if problems:
        probs = problems_frame(pd.DataFrame(problems, columns=PROBLEM_COLUMNS))
        raise ValidationError(
            f"{file}: {len(probs)} problem(s) in the events\n" + summarize_problems(probs), probs
        )
    return pd.DataFrame(rows, columns=["start", "end"]).sort_values("start").reset_index(drop=True)


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
    return np.array(
        [
            classify(float(s), rule.lines, rule.signal_direction)[0]  # type: ignore[arg-type]
            if np.isfinite(s)
            else -1
            for s in signal
        ]
    )


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
            row = (
                np.maximum.accumulate(row + np.arange(len(row)) * 1e-12)
                if (rule.signal_direction == "higher_is_worse")
                else np.minimum.accumulate(row - np.arange(len(row)) * 1e-12)
            )
            ranks[t] = classify(float(signal[t]), row, rule.signal_direction)[0]  # type: ignore[arg-type]
    return ranks


# ------------------------------------------------------------------------------ evaluation
def _windows(
    labels: Sequence[str], events: pd.DataFrame, max_lead: int
) -> list[tuple[int, int, int] | None]:
    """(window start, episode start, episode end) indices per event, clipped to the series;
    None for an event wholly outside it."""
    freq = _freq_of(labels[0]) or "M"
    first, last = pd.Period(labels[0], freq=freq), pd.Period(labels[-1], freq=freq)
    n = len(labels)
    out: list[tuple[int, int, int] | None] = []
    for ev in events.itertuples(index=False):
        s, e = pd.Period(ev.start, freq=freq), pd.Period(ev.end, freq=freq)
        if e < first or s > last:
            out.append(None)
            continue
        si, ei = (s - first).n, min((e - first).n, n - 1)
        out.append((max(si - max_lead, 0), si, ei))
    return out


def alarm_onsets(ranks: np.ndarray, alarm_rank: int = 1) -> np.ndarray:
    """Indices where an alarm run starts: an alarm whose previous period was judged and quiet.

    An alarm at the first judged period is not an onset: the run may have begun before the
    signal could be computed.
    """
    r = np.asarray(ranks)
    judged = r >= 0
    alarm = judged & (r >= alarm_rank)
    prev_quiet = np.zeros(len(r), dtype=bool)
    prev_quiet[1:] = judged[:-1] & ~alarm[:-1]
    return np.flatnonzero(alarm & prev_quiet)


def roc_curve(score: np.ndarray, positive: np.ndarray) -> tuple[pd.DataFrame, float]:
    """ROC of a score (higher = worse) against a 0/1 truth, over the finite scores.

    Returns ``threshold, tpr, fpr`` (alarm when score ≥ threshold, from the highest threshold
    down, starting at (0, 0)) and the area under the curve, computed as the Mann–Whitney
    probability that a positive period scores above a negative one (ties count one half) —
    equal to the trapezoid area of the curve.
    """
    sc = np.asarray(score, dtype=float)
    pos = np.asarray(positive, dtype=bool)
    ok = np.isfinite(sc)
    sc, pos = sc[ok], pos[ok]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    rows = [{"threshold": np.inf, "tpr": 0.0, "fpr": 0.0}]
    if n_pos == 0 or n_neg == 0:
        return pd.DataFrame(rows), float("nan")
    for thr in np.unique(sc)[::-1]:
        hit = sc >= thr
        rows.append(
            {
                "threshold": float(thr),
                "tpr": float((hit & pos).sum() / n_pos),
                "fpr": float((hit & ~pos).sum() / n_neg),
            }
        )
    ranks = pd.Series(sc).rank(method="average").to_numpy()
    auc = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return pd.DataFrame(rows, columns=["threshold", "tpr", "fpr"]), float(auc)


def evaluate_alarms(
    periods: Sequence[str],
    ranks: np.ndarray,
    events: pd.DataFrame,
    *,
    alarm_rank: int = 1,
    max_lead: int = 6,
    score: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Onset-based scores of an alarm series against known episodes.

    Parameters
    ----------
    periods : sequence of str
        The series' periods, in order.
    ranks : array of int
        Level rank per period; −1 marks periods that cannot be judged (left out of the counts).
    events : DataFrame
        ``start, end`` of the true episodes (labels of the same frequency), in order.
    alarm_rank : int
        Ranks at or above it are alarms.
    max_lead : int
        Each episode's window runs from ``max_lead`` periods before its start to its end.
    score : array, optional
        A continuous score (higher = worse; NaN where not judged) for the ROC / AUC against
        window membership.

    Returns
    -------
    (episodes, metrics)
        ``episodes``: ``start, end, judgeable, onset, lead, persistence``. An episode is
        judgeable when its window holds a judged period whose previous period is judged too
        (so an onset could be seen). ``onset`` is the first alarm onset (:func:`alarm_onsets`)
        in its window not already credited to an earlier episode; ``lead`` = start − onset
        (positive = early). ``persistence``: alarm periods running on right after the
        episode's end, outside every window.
        ``metrics``: ``episodes, judgeable, called, share_called`` (called / judgeable),
        ``mean_lead`` (over called episodes), ``false_alarm_runs`` (alarm runs starting
        outside every window, including a run already on when the signal starts), ``false_alarm_periods`` (= B, alarm periods outside every window, KLR),
        ``persistence`` (the part of B that continues an episode's alarm), A, B, C, D (judged
        periods: alarm in a window, alarm outside, quiet in a window, quiet outside),
        ``noise_to_signal`` = [B/(B+D)] / [A/(A+C)] (Kaminsky, Lizondo & Reinhart 1998) and
        ``auc`` (NaN without ``score``).
    """
    labels = list(periods)
    n = len(labels)
    r = np.asarray(ranks)
    judged = r >= 0
    alarm = (r >= alarm_rank) & judged
    onsets = alarm_onsets(r, alarm_rank)
    # Runs for the false-alarm count also include one already on when the signal starts.
    prev_alarm = np.concatenate([[False], alarm[:-1]])
    run_starts = np.flatnonzero(alarm & ~prev_alarm)
    wins = _windows(labels, events, max_lead)
    window = np.zeros(n, dtype=bool)
    for w in wins:
        if w is not None:
            window[w[0] : w[2] + 1] = True
    credited: set[int] = set()
    rows = []
    for ev, w in zip(events.itertuples(index=False), wins, strict=True):
        row = {
            "start": ev.start,
            "end": ev.end,
            "judgeable": False,
            "onset": "",
            "lead": np.nan,
            "persistence": 0,
        }
        if w is not None:
            lo, si, ei = w
            row["judgeable"] = bool(
                any(judged[t] and judged[t - 1] for t in range(max(lo, 1), ei + 1))
            )
            inside = [int(t) for t in onsets if lo <= t <= ei and int(t) not in credited]
            if inside:
                credited.add(inside[0])
                row["onset"], row["lead"] = labels[inside[0]], float(si - inside[0])
            t = ei + 1
            while t < n and alarm[t] and alarm[ei] and not window[t]:
                row["persistence"] += 1
                t += 1
        rows.append(row)
    episodes = pd.DataFrame(
        rows, columns=["start", "end", "judgeable", "onset", "lead", "persistence"]
    )
    a = int((alarm & window).sum())
    b = int((alarm & ~window).sum())
    c = int((~alarm & window & judged).sum())
    d = int((~alarm & ~window & judged).sum())
    signal_rate = a / (a + c) if a + c else np.nan
    noise_rate = b / (b + d) if b + d else np.nan
    nsr = noise_rate / signal_rate if signal_rate and np.isfinite(signal_rate) else np.nan
    judgeable = int(episodes["judgeable"].sum())
    called = int((episodes["onset"] != "").sum())
    auc = np.nan
    if score is not None:
        sc = np.where(judged, np.asarray(score, dtype=float), np.nan)
        auc = roc_curve(sc, window)[1]
    metrics = {
        "episodes": int(len(episodes)),
        "judgeable": judgeable,
        "called": called,
        "share_called": called / judgeable if judgeable else np.nan,
        "mean_lead": float(episodes["lead"].mean()) if called else np.nan,
        "false_alarm_runs": int(sum(1 for t in run_starts if not window[t])),
        "false_alarm_periods": b,
        "persistence": int(episodes["persistence"].sum()),
        "A": a,
        "B": b,
        "C": c,
        "D": d,
        "noise_to_signal": float(nsr) if np.isfinite(nsr) else np.nan,
        "auc": float(auc) if np.isfinite(auc) else np.nan,
    }
    return episodes, metrics


def realtime_scores(signal: np.ndarray, rule: BacktestRule) -> np.ndarray:
    """Real-time score per period: the share of the earlier signal values below the current
    one (its percentile in the history the real-time lines see; higher = worse), NaN where
    fewer than ``min_history`` earlier values exist."""
    sig = np.asarray(signal, dtype=float)
    if rule.signal_direction == "lower_is_worse":
        sig = -sig
    out = np.full(len(sig), np.nan)
    for t in range(len(sig)):
        past = sig[:t]
        past = past[np.isfinite(past)]
        if len(past) >= rule.min_history and np.isfinite(sig[t]):
            out[t] = (np.sum(past < sig[t]) + 0.5 * np.sum(past == sig[t])) / len(past)
    return out


@dataclass(frozen=True)
class BacktestResult:
    """Tables of one back-test.

    ``episodes``: one row per event — fixed-line ``judgeable, onset, lead, persistence`` and the
    same for real-time lines prefixed ``realtime_``. ``metrics``: ``mode, metric, value``.
    ``roc``: ``mode, threshold, tpr, fpr``. ``accuracy``: :func:`forecast.rolling_accuracy`.
    ``forecast_errors``: every out-of-sample forecast behind it.
    """

    rule: BacktestRule
    periods: pd.DataFrame
    episodes: pd.DataFrame
    metrics: pd.DataFrame
    roc: pd.DataFrame
    accuracy: pd.DataFrame
    forecast_errors: pd.DataFrame
    forecast_from: str

    def summary(self) -> str:
        """The line printed last by ``samplekit backtest`` (Chinese, for the user)."""
        m = self.metrics.set_index(["mode", "metric"])["value"]

        def f(mode: str, key: str, fmt: str = "{:.0f}") -> str:
            v = m.get((mode, key), np.nan)
            return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

        def part(mode: str, label: str) -> str:
            return (
                f"{label}:识别 {f(mode, 'called')}/{f(mode, 'judgeable')} 个可判断事件"
                f"(共 {f(mode, 'episodes')} 个),按报警起点的平均提前期(负为滞后) "
                f"{f(mode, 'mean_lead', '{:+.1f}')} 期,误报 {f(mode, 'false_alarm_runs')} 段/"
                f"{f(mode, 'false_alarm_periods')} 期(其中事件结束后延续 "
                f"{f(mode, 'persistence')} 期),噪声信号比 "
                f"{f(mode, 'noise_to_signal', '{:.2f}')},AUC {f(mode, 'auc', '{:.2f}')}"
            )

        return (
            f"回测 {self.rule.name}:{part('fixed', '固定警戒线')};{part('realtime', '实时警戒线')}"
        )

    def forecast_summary(self) -> str:
        """One line on the 1-step forecasts (Chinese): the selected procedure against naive."""
        acc = self.accuracy[self.accuracy["horizon"] == 1].set_index("model")
        if "selected" not in acc.index:
            return "预测:样本太短,未评估"
        sel = acc.loc["selected"]
        return (
            f"预测(自 {self.forecast_from} 起滚动预测 {int(sel['origins'])} 次,提前 1 期):"
            f"所选方法 RMSE {sel['rmse']:.3f},朴素法 {sel['naive_rmse']:.3f},"
            f"Diebold–Mariano 检验 p = {sel['dm_pvalue']:.3f}"
        )


def default_forecast_from(periods: Sequence[str], rule: BacktestRule) -> str:
    """The first forecast origin when none is given: the last 12 periods (kept short because
    every origin refits every candidate)."""
    return str(periods[max(len(periods) - 12, 1)])


def run_backtest(
    series: pd.DataFrame,
    events: pd.DataFrame,
    rule: BacktestRule,
    *,
    forecast_from: str | None = None,
) -> BacktestResult:
    """Back-test ``rule`` on a validated series and its episodes (both modes + forecasts).

    Parameters
    ----------
    series, events : DataFrame
        From :func:`read_series` / :func:`read_events`.
    rule : BacktestRule
    forecast_from : str, optional
        First forecast origin (a period of the series); every forecast from it on uses only
        the data before its origin. Default: :func:`default_forecast_from`.

    Examples
    --------
    >>> res = run_backtest(read_series("s.csv"), read_events("e.csv", "M"), rule)  # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    """
    from samplekit.forecast import rolling_accuracy

    periods = series["period"].tolist()
    values = series["value"].to_numpy(dtype=float)
    freq = _freq_of(periods[0]) or "M"
    if forecast_from is not None and forecast_from not in periods:
        raise InputError(
            f"--forecast-from {forecast_from!r} is not a period of the series "
            f"({periods[0]} … {periods[-1]})"
        )
    start = forecast_from or default_forecast_from(periods, rule)
    if periods.index(start) < 1:
        raise InputError(f"--forecast-from {start!r}: the first origin needs earlier data")
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
    table["realtime_level"] = [codes[r] if r > 0 else ("none" if r == 0 else "") for r in realtime]
    table["realtime_alarm"] = realtime >= rule.alarm_rank
    oriented = sig if rule.signal_direction == "higher_is_worse" else -sig
    scores = {"fixed": oriented, "realtime": realtime_scores(sig, rule)}
    metric_rows, roc_parts = [], []
    episodes = None
    in_window = np.zeros(len(periods), dtype=bool)
    for w in _windows(periods, events, rule.max_lead):
        if w is not None:
            in_window[w[0] : w[2] + 1] = True
    for mode, ranks in (("fixed", fixed), ("realtime", realtime)):
        eps, met = evaluate_alarms(
            periods,
            ranks,
            events,
            alarm_rank=rule.alarm_rank,
            max_lead=rule.max_lead,
            score=scores[mode],
        )
        metric_rows += [{"mode": mode, "metric": k, "value": v} for k, v in met.items()]
        roc, _ = roc_curve(np.where(ranks >= 0, scores[mode], np.nan), in_window)
        roc_parts.append(roc.assign(mode=mode))
        if episodes is None:
            episodes = eps
        else:
            for col in ("judgeable", "onset", "lead", "persistence"):
                episodes[f"realtime_{col}"] = eps[col].to_numpy()
    table["in_window"] = in_window
    in_episode = np.zeros(len(periods), dtype=bool)
    for w in _windows(periods, events, 0):
        if w is not None:
            in_episode[w[1] : w[2] + 1] = True
    table["in_episode"] = in_episode
    fs = rule.forecast
    settings = ForecastSettings(
        models=fs.models,
        horizon=fs.horizon,
        season=None if fs.season is None else (12 if freq == "M" else 4),
        origins=fs.origins,
        level=fs.level,
        simulations=fs.simulations,
        seed=fs.seed,
        spring_festival=fs.spring_festival,
        combine=fs.combine,
    )
    accuracy, errors = rolling_accuracy(pd.Series(values, index=periods), settings, start=start)
    roc_all = pd.concat(roc_parts, ignore_index=True)[["mode", "threshold", "tpr", "fpr"]]
    return BacktestResult(
        rule=rule,
        periods=table,
        episodes=episodes,  # type: ignore[arg-type]
        metrics=pd.DataFrame(metric_rows, columns=["mode", "metric", "value"]),
        roc=roc_all,
        accuracy=accuracy,
        forecast_errors=errors,
        forecast_from=start,
    )


REGRESSOR_COLUMNS: list[str] = [
    "model",
    "regressor",
    "lag",
    "origins",
    "rmse",
    "base_rmse",
    "dm_stat",
    "dm_pvalue",
    "judgeable",
    "called",
    "mean_lead",
    "false_alarm_runs",
    "improves_rmse",
    "improves_lead",
]


def regressor_comparison(
    series: pd.DataFrame,
    regressors: Mapping[str, pd.DataFrame],
    events: pd.DataFrame,
    rule: BacktestRule,
    *,
    start: str,
    lag: int = 1,
    order: tuple[int, int, int] = (2, 0, 0),
    alpha: float = 0.10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Does a leading series (a macro series, the layoff-notice count) earn its place?

    For each origin t from ``start`` on, two one-step forecasts of the indicator are made from
    the data before t only (statsmodels SARIMAX, :func:`samplekit.forecast.arimax_forecast`):
    the ARIMA ``order`` benchmark, and the same model with each regressor led by ``lag`` ≥ 1
    periods (x_{t−lag}, known at the origin). Each is scored by

    * out-of-sample RMSE and a Diebold–Mariano test against the benchmark (negative = the
      regressor helps; ``improves_rmse`` = lower RMSE and DM p < ``alpha``);
    * the onset-based lead of a *forecast alarm*: at t − 1 the rule's signal is computed on the
      observed values with the forecast of t appended, judged by the fixed lines, and scored by
      :func:`evaluate_alarms` against the episodes (``improves_lead`` = at least as many episodes
      called with a longer mean lead, or more episodes called, than the benchmark's forecast
      alarm). Row ``model = observed`` is the rule on the observed series over the same periods.

    Parameters
    ----------
    series : DataFrame
        ``period, value`` (validated, no gaps).
    regressors : mapping of name -> DataFrame
        ``period, value`` per leading series; must cover the series' periods shifted by ``lag``.
    events : DataFrame
        ``start, end`` of the episodes.

    Returns
    -------
    (comparison, errors)
        ``comparison``: :data:`REGRESSOR_COLUMNS`; ``errors``: ``origin, model, forecast,
        actual``.
    """
    from samplekit.forecast import arimax_forecast, diebold_mariano, lagged_regressor

    if lag < 1:
        raise InputError(
            f"--regressor-lag {lag}: a leading series needs a lag ≥ 1 (its value "
            "must be known when the forecast is made)"
        )
    periods = series["period"].astype(str).tolist()
    y = series["value"].to_numpy(dtype=float)
    if start not in periods or periods.index(start) < 8:
        raise InputError(
            f"--forecast-from {start!r}: not a period of the series or too few periods before it"
        )
    xs = {}
    for name, reg in regressors.items():
        r = reg.assign(period=reg["period"].astype(str)).set_index("period")["value"]
        x = lagged_regressor(r.reindex(periods).to_numpy(dtype=float), lag)
        missing = [
            periods[t] for t in range(periods.index(start), len(periods)) if not np.isfinite(x[t])
        ]
        if missing:
            raise InputError(
                f"regressor {name}: no value {lag} period(s) before "
                f"{', '.join(missing[:5])}; the leading series must cover the "
                "series' periods"
            )
        xs[name] = x
    first = periods.index(start)
    # Train from the first period where every regressor is known.
    t0 = max([0] + [int(np.argmax(np.isfinite(x))) for x in xs.values()])
    models = {"benchmark": None, **xs}
    fc: dict[str, np.ndarray] = {m: np.full(len(y), np.nan) for m in models}
    for t in range(first, len(y)):
        for m, x in models.items():
            if x is None:
                fc[m][t] = arimax_forecast(y[t0:t], order=order)[0]
            else:
                fc[m][t] = arimax_forecast(
                    y[t0:t], exog=x[t0:t], exog_future=x[t : t + 1], order=order
                )[0]
    judged = np.arange(first - 1, len(y) - 1)
    labels = [periods[t] for t in judged]

    def forecast_ranks(f: np.ndarray) -> np.ndarray:
        out = np.full(len(judged), -1)
        for i, t in enumerate(judged):
            sig = compute_signal(np.r_[y[: t + 1], f[t + 1]], rule)[-1]
            if np.isfinite(sig):
                out[i] = classify(float(sig), rule.lines, rule.signal_direction)[0]  # type: ignore[arg-type]
        return out

    ev = events[(events["end"].astype(str) >= labels[0])]
    rows, err_rows = [], []
    obs = fixed_ranks(compute_signal(y, rule), rule)[judged]
    _, met = evaluate_alarms(labels, obs, ev, alarm_rank=rule.alarm_rank, max_lead=rule.max_lead)
    rows.append(
        {
            "model": "observed",
            "regressor": "",
            "lag": np.nan,
            "origins": np.nan,
            "rmse": np.nan,
            "base_rmse": np.nan,
            "dm_stat": np.nan,
            "dm_pvalue": np.nan,
            "judgeable": met["judgeable"],
            "called": met["called"],
            "mean_lead": met["mean_lead"],
            "false_alarm_runs": met["false_alarm_runs"],
            "improves_rmse": np.nan,
            "improves_lead": np.nan,
        }
    )
    e_base = y[first:] - fc["benchmark"][first:]
    base = None
    for m in models:
        e = y[first:] - fc[m][first:]
        for t in range(first, len(y)):
            err_rows.append(
                {"origin": periods[t], "model": m, "forecast": fc[m][t], "actual": y[t]}
            )
        _, met = evaluate_alarms(
            labels, forecast_ranks(fc[m]), ev, alarm_rank=rule.alarm_rank, max_lead=rule.max_lead
        )
        dm, p = (np.nan, np.nan) if m == "benchmark" else diebold_mariano(e, e_base)
        row = {
            "model": "arima" if m == "benchmark" else "arimax",
            "regressor": "" if m == "benchmark" else m,
            "lag": np.nan if m == "benchmark" else lag,
            "origins": len(e),
            "rmse": float(np.sqrt(np.mean(e**2))),
            "base_rmse": float(np.sqrt(np.mean(e_base**2))),
            "dm_stat": dm,
            "dm_pvalue": p,
            "judgeable": met["judgeable"],
            "called": met["called"],
            "mean_lead": met["mean_lead"],
            "false_alarm_runs": met["false_alarm_runs"],
        }
        if m == "benchmark":
            base = row
            row.update(improves_rmse=np.nan, improves_lead=np.nan)
        else:
            row["improves_rmse"] = bool(row["rmse"] < base["rmse"] and p < alpha)
            lead, base_lead = row["mean_lead"], base["mean_lead"]
            row["improves_lead"] = bool(
                row["called"] > base["called"]
                or (
                    row["called"] == base["called"]
                    and row["called"] > 0
                    and lead > base_lead + 1e-9
                )
            )
        rows.append(row)
    comparison = pd.DataFrame(rows, columns=REGRESSOR_COLUMNS)
    errors = pd.DataFrame(err_rows, columns=["origin", "model", "forecast", "actual"])
    return comparison, errors


def regressor_summary(comparison: pd.DataFrame) -> str:
    """Chinese lines for the user: each regressor's RMSE, DM p and lead against the benchmark."""
    base = comparison[comparison["model"] == "arima"].iloc[0]
    obs = comparison[comparison["model"] == "observed"].iloc[0]
    lines = [
        f"先行指标检验(提前1期预测,滚动 {int(base['origins'])} 次):基准 ARIMA RMSE "
        f"{base['rmse']:.4f},按预测报警识别 {int(base['called'])}/{int(base['judgeable'])} "
        f"个事件,平均提前期 {base['mean_lead']:+.2f}(按观测值报警:识别 "
        f"{int(obs['called'])}/{int(obs['judgeable'])} 个,平均提前期 "
        f"{obs['mean_lead']:+.2f})"
    ]
    for r in comparison[comparison["model"] == "arimax"].itertuples(index=False):
        verdict = "改进" if r.improves_rmse else "未显著改进"
        lead = "提前期改进" if r.improves_lead else "提前期未改进"
        lines.append(
            f"  加入 {r.regressor}(滞后 {int(r.lag)} 期):RMSE {r.rmse:.4f}"
            f"(DM = {r.dm_stat:+.2f},p = {r.dm_pvalue:.3f},{verdict});识别 "
            f"{int(r.called)}/{int(r.judgeable)} 个,平均提前期 {r.mean_lead:+.2f}"
            f"({lead})"
        )
    return "\n".join(lines)


def us_gdp_growth() -> pd.DataFrame:
    """US real GDP growth (%, quarter on quarter, 100·Δlog ``realgdp``) 1959Q2–2009Q3 from
    statsmodels' ``macrodata`` (``data/demo/backtest/us_gdp_growth.csv``): the leading regressor
    of the US example."""
    from statsmodels.datasets import macrodata

    d = macrodata.load_pandas().data
    g = 100 * np.diff(np.log(d["realgdp"].to_numpy(dtype=float)))
    periods = [f"{int(y)}Q{int(q)}" for y, q in zip(d["year"], d["quarter"], strict=True)]
    return pd.DataFrame({"period": periods[1:], "value": np.round(g, 6)})


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
        ax2.axhline(
            result.rule.lines[k],
            color=lv.color,
            ls="--",
            lw=1,
            label=f"{lv.code}级({lv.name})警戒线",
        )
    fa = t["fixed_alarm"].to_numpy()
    ax2.scatter(
        x[fa], t["signal"].to_numpy()[fa], color="#d62728", s=18, zorder=3, label="报警(固定警戒线)"
    )
    ra = t["realtime_alarm"].to_numpy()
    ax2.scatter(
        x[ra],
        np.full(ra.sum(), np.nanmin(t["signal"])),
        marker="|",
        color="#6a3d9a",
        s=60,
        label="报警(实时警戒线)",
    )
    ax2.set_ylabel("信号")
    ax2.legend(loc="upper left", fontsize=8, ncol=2)
    step = max(len(t) // 12, 1)
    ax2.set_xticks(x[::step])
    ax2.set_xticklabels(t["period"].iloc[::step], rotation=45, ha="right")
    return fig


def write_backtest(result: BacktestResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``episodes.csv`` (one row per event: ``start, end, judgeable, onset, lead``, then
    persistence and the real-time columns), ``forecast_accuracy.csv`` (``horizon, model, rmse,
    naive_rmse, origins`` + Diebold–Mariano), ``forecast_errors.csv``, ``backtest_periods.csv``,
    ``backtest_metrics.csv``, ``backtest_roc.csv`` and ``backtest.png``; returns the paths."""
    from samplekit.plotting import save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        write_csv(round_floats(result.episodes), out / "episodes.csv"),
        write_csv(round_floats(result.accuracy), out / "forecast_accuracy.csv"),
        write_csv(round_floats(result.forecast_errors), out / "forecast_errors.csv"),
        write_csv(round_floats(result.periods), out / "backtest_periods.csv"),
        write_csv(round_floats(result.metrics), out / "backtest_metrics.csv"),
        write_csv(round_floats(result.roc), out / "backtest_roc.csv"),
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
        bump[s : e + 1] = np.maximum(bump[s : e + 1], up)
        decay = height * 0.5 ** (np.arange(1, min(12, n - e - 1) + 1) / 2)
        bump[e + 1 : e + 1 + len(decay)] = np.maximum(bump[e + 1 : e + 1 + len(decay)], decay)
    series = pd.DataFrame(
        {"period": [str(p) for p in idx], "value": np.round(base + noise + bump, 2)}
    )
    events = pd.DataFrame({"start": ["2008-10", "2013-07"], "end": ["2009-06", "2013-12"]})
    return series, events


def example_layoff_notices(seed: int = 2014) -> pd.DataFrame:
    """A SYNTHETIC monthly count of layoff notices (规模裁员报告企业数) for the shipped example
    (``data/demo/backtest/layoff_notices.csv``), built to lead the example's registered rate by
    two months: Poisson with mean 6 + 30·max(0, y_{t+2} − y_{t−10}) (the rate's rise over the
    year to two months ahead; the last two months use the last value). A test of the
    regressor back-test, not evidence that notices lead in real data.
    """
    series, _ = example_series()
    y = series["value"].to_numpy(dtype=float)
    n = len(y)
    ahead = np.r_[y[2:], np.full(2, y[-1])]
    past = np.r_[np.full(10, y[0]), y[:-10]]
    lam = 6.0 + 30.0 * np.maximum(0.0, ahead - past)
    counts = np.random.default_rng(seed).poisson(lam)
    return pd.DataFrame({"period": series["period"], "value": counts.astype(float)}).iloc[:n]


#: NBER business-cycle reference dates 1959–2009, quarterly: (peak, trough). Source: National
#: Bureau of Economic Research, "US Business Cycle Expansions and Contractions"
#: (https://www.nber.org/research/data/us-business-cycle-expansions-and-contractions).
NBER_RECESSIONS: tuple[tuple[str, str], ...] = (
    ("1960Q2", "1961Q1"),
    ("1969Q4", "1970Q4"),
    ("1973Q4", "1975Q1"),
    ("1980Q1", "1980Q3"),
    ("1981Q3", "1982Q4"),
    ("1990Q3", "1991Q1"),
    ("2001Q1", "2001Q4"),
    ("2007Q4", "2009Q2"),
)


def us_unemployment() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The US example (``data/demo/backtest/us_unemployment.csv``, ``us_recessions.csv``): the
    quarterly civilian unemployment rate (%, seasonally adjusted) 1959Q1–2009Q3 from
    statsmodels' ``macrodata`` (column ``unemp``) and the NBER recessions (peak quarter to
    trough quarter, :data:`NBER_RECESSIONS`).

    Returns ``(series, events)``; the test suite checks the committed files equal this.
    """
    from statsmodels.datasets import macrodata

    d = macrodata.load_pandas().data
    series = pd.DataFrame(
        {
            "period": [f"{int(y)}Q{int(q)}" for y, q in zip(d["year"], d["quarter"], strict=True)],
            "value": d["unemp"].astype(float).to_numpy(),
        }
    )
    events = pd.DataFrame(list(NBER_RECESSIONS), columns=["start", "end"])
    return series, events


__all__ = [
    "BacktestRule",
    "BacktestResult",
    "MODELS",
    "alarm_onsets",
    "compute_signal",
    "default_forecast_from",
    "evaluate_alarms",
    "example_layoff_notices",
    "example_series",
    "fixed_ranks",
    "read_events",
    "read_series",
    "realtime_lines",
    "realtime_scores",
    "roc_curve",
    "regressor_comparison",
    "regressor_summary",
    "run_backtest",
    "us_gdp_growth",
    "us_unemployment",
    "validate_events",
    "validate_series",
    "write_backtest",
]
