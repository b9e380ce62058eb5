"""Forecasts of warning indicators: a small model set chosen by rolling-origin error.

For each monthly series the candidates are the naive (random walk) and seasonal-naive baselines,
an additive-error seasonal ETS(A,N,A) model (parameters by statsmodels' Holt–Winters) and a seasonal
ARIMA(1,0,0)(0,1,0)_m with drift (statsmodels ``AutoReg`` on the seasonal differences). Each candidate is scored by its
out-of-sample RMSE over the last ``origins`` forecast origins and the horizons 1…H (parameters
estimated once on the data before the first origin, then held fixed while the origin rolls
forward); the lowest RMSE wins, ties going to the simpler model. The chosen model, with those
parameters, filters the whole series and is simulated ``simulations`` times: prediction intervals are quantiles of the
simulated paths, the next quarter's value is the indicator's aggregate of each path, and the
probability of crossing a line is the share of paths beyond it. See ``docs/warning.md``.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from samplekit.errors import ParamsError
from samplekit.params import Params
from samplekit.periods import next_periods, quarter_label

ModelName = Literal["naive", "seasonal_naive", "ets", "arima", "ar", "ari", "damped"]
MODELS: tuple[str, ...] = ("naive", "seasonal_naive", "ets", "arima", "ar", "ari", "damped")
#: Candidates that need a season; dropped when ``season`` is None (seasonally adjusted series).
SEASONAL_MODELS: frozenset[str] = frozenset({"seasonal_naive", "ets", "arima"})
MODEL_ZH: dict[str, str] = {
    "naive": "朴素法",
    "seasonal_naive": "季节朴素法",
    "ets": "指数平滑(ETS)",
    "arima": "季节ARIMA",
    "ar": "自回归AR(p)",
    "ari": "差分自回归ARIMA(p,1,0)",
    "damped": "阻尼趋势指数平滑",
}
#: Largest AR order tried by AIC (``ar`` and ``ari``).
MAX_AR_LAG = 8
Aggregate = Literal["sum", "last", "mean", "compound"]

FORECAST_COLUMNS: list[str] = [
    "city",
    "indicator",
    "kind",
    "target",
    "horizon",
    "model",
    "forecast",
    "pi_low",
    "pi_high",
]


@dataclass(frozen=True)
class ForecastSettings:
    """Forecast settings (``warning.forecast`` in params).

    Parameters
    ----------
    models : tuple of model names
        Candidates, simplest first (ties go to the earlier one).
    horizon : int
        Periods ahead (3 months = the next quarter when the series ends at a quarter's end).
    season : int or None
        Season length (12 for months, 4 for quarters); None for a seasonally adjusted or
        non-seasonal series: the seasonal candidates (:data:`SEASONAL_MODELS`) are then dropped.
    origins : int
        Rolling forecast origins used to score the candidates.
    level : float
        Prediction-interval level.
    simulations : int
        Simulated paths for intervals, quarter aggregates and crossing probabilities.
    seed : int
        Seed of the simulations (combined with a hash of each series' key).
    spring_festival : bool
        Monthly series: remove the Spring Festival effect (moving between January and February
        with the lunar calendar) before the candidates see the series, and add it back to the
        forecasts (:func:`festival_regressors`).
    combine : int
        1 = the candidate with the lowest rolling-origin RMSE; k > 1 = the equal-weight average
        of the k best (a forecast combination, less exposed to a lucky score).
    """

    models: tuple[str, ...] = MODELS
    horizon: int = 3
    season: int | None = 12
    origins: int = 6
    level: float = 0.95
    simulations: int = 1000
    seed: int = 0
    spring_festival: bool = True
    combine: int = 1

    @property
    def candidates(self) -> tuple[str, ...]:
        """The models actually scored (seasonal ones dropped when ``season`` is None)."""
        if self.season is None:
            return tuple(m for m in self.models if m not in SEASONAL_MODELS)
        return self.models

    @classmethod
    def from_params(cls, params: Params, key: str = "warning.forecast") -> ForecastSettings:
        raw = params.get(key, {})
        if not isinstance(raw, Mapping):
            raise ParamsError(f"{params.path}: '{key}' must be a mapping")
        allowed = {
            "models",
            "horizon",
            "season",
            "origins",
            "level",
            "simulations",
            "spring_festival",
            "combine",
        }
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {unknown} in '{key}'; allowed: "
                f"{', '.join(sorted(allowed))}"
            )
        models = params.get(f"{key}.models", list(MODELS), types=list)
        bad = [m for m in models if m not in MODELS]
        if bad or not models:
            raise ParamsError(
                f"{params.path}: '{key}.models' = {models!r}: use one or more of "
                f"{', '.join(MODELS)}"
            )
        season: int | None = 12
        if "season" in raw and raw["season"] is None:
            season = None
            if all(m in SEASONAL_MODELS for m in models):
                raise ParamsError(
                    f"{params.path}: '{key}.season' is null (no season) but every "
                    f"model in '{key}.models' = {models!r} is seasonal; add one of "
                    "naive, ar, ari, damped"
                )
        else:
            season = int(params.number(f"{key}.season", 12, low=2, high=52))
        combine = int(params.number(f"{key}.combine", 1, low=1, high=len(models)))
        return cls(
            models=tuple(models),
            horizon=int(params.number(f"{key}.horizon", 3, low=1, high=24)),
            season=season,
            origins=int(params.number(f"{key}.origins", 6, low=1, high=60)),
            level=float(params.number(f"{key}.level", 0.95, low=0.5, high=0.999)),
            simulations=int(params.number(f"{key}.simulations", 1000, low=100, high=100000)),
            seed=int(params.get("seed", 0, types=int)),
            spring_festival=bool(params.get(f"{key}.spring_festival", True, types=bool)),
            combine=combine,
        )


# ------------------------------------------------------------------------------- models
class _Fitted:
    """A model with fixed parameters applied to one series."""

    def forecast(self, h: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:  # (n, h)
        raise NotImplementedError  # pragma: no cover

    def refilter(self, y: np.ndarray) -> _Fitted:  # pragma: no cover - interface
        raise NotImplementedError


class _Naive(_Fitted):
    def __init__(self, y: np.ndarray, sigma: float | None = None):
        self.y = y
        d = np.diff(y)
        self.sigma = float(
            sigma if sigma is not None else (np.std(d, ddof=1) if len(d) > 1 else 0.0)
        )

    def forecast(self, h: int) -> np.ndarray:
        return np.full(h, self.y[-1])

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.y[-1] + np.cumsum(rng.normal(0.0, self.sigma, (n, h)), axis=1)

    def refilter(self, y: np.ndarray) -> _Fitted:
        return _Naive(y, self.sigma)


class _SeasonalNaive(_Fitted):
    def __init__(self, y: np.ndarray, m: int, sigma: float | None = None):
        self.y, self.m = y, m
        d = y[m:] - y[:-m]
        self.sigma = float(
            sigma if sigma is not None else (np.std(d, ddof=1) if len(d) > 1 else 0.0)
        )

    def forecast(self, h: int) -> np.ndarray:
        m, n = self.m, len(self.y)
        # ŷ_{T+h} = y_{T+h-m·k}, k = ⌈h/m⌉ (the same month of the last observed season).
        return np.array([self.y[n - m + (j % m)] for j in range(h)])

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        # y_t = y_{t-m} + e_t: for h ≤ m each horizon adds one independent error; beyond m the
        # errors of the same season accumulate.
        e = rng.normal(0.0, self.sigma, (n, h))
        for j in range(self.m, h):
            e[:, j] += e[:, j - self.m]
        return self.forecast(h) + e

    def refilter(self, y: np.ndarray) -> _Fitted:
        return _SeasonalNaive(y, self.m, self.sigma)


class _StateSpace(_Fitted):
    """A model whose paths follow from its recursions driven by innovations ``e`` (n, h):
    zero innovations give the point forecast, N(0, σ²) ones simulate the predictive law."""

    sigma: float

    def _paths(self, e: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def forecast(self, h: int) -> np.ndarray:
        return self._paths(np.zeros((1, h)))[0]

    def simulate(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._paths(rng.normal(0.0, self.sigma, (n, h)))


class _ETS(_StateSpace):
    """ETS(A,N,A): ŷ_t = l_{t−1} + s_{t−m}; l_t = l_{t−1} + α e_t; s_t = s_{t−m} + γ e_t.

    Parameters (α, γ, initial level and seasonal states) are estimated by statsmodels'
    Holt–Winters ``ExponentialSmoothing`` (least squares, the point-forecast equations of
    ETS(A,N,A)); filtering, forecasting and simulation with fixed
    parameters run the recursions above directly, which is what makes rolling origins cheap.
    """

    def __init__(
        self, y: np.ndarray, m: int, params: tuple[float, float, float, np.ndarray] | None = None
    ):
        self.y, self.m = y, m
        if params is None:
            from statsmodels.tsa.holtwinters import ExponentialSmoothing

            model = ExponentialSmoothing(
                y, trend=None, seasonal="add", seasonal_periods=m, initialization_method="estimated"
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = model.fit().params
            params = (
                float(p["smoothing_level"]),
                float(p["smoothing_seasonal"]),
                float(p["initial_level"]),
                np.asarray(p["initial_seasons"], dtype=float),
            )
        self.params = params
        alpha, gamma, level, seasonal = params
        season = list(seasonal)
        errors = np.empty(len(y))
        for t, value in enumerate(y):
            e = value - (level + season[t])
            errors[t] = e
            level += alpha * e
            season.append(season[t] + gamma * e)
        self.level = level
        self.season = np.array(season[-m:])  # s_{T-m+1} … s_T
        self.sigma = float(np.sqrt(np.mean(errors**2))) if len(errors) else 0.0

    def _paths(self, e: np.ndarray) -> np.ndarray:
        n, h = e.shape
        alpha, gamma = self.params[0], self.params[1]
        level = np.full(n, self.level)
        season = np.tile(self.season, (n, 1))
        out = np.empty((n, h))
        for j in range(h):
            s_old = season[:, j]
            out[:, j] = level + s_old + e[:, j]
            level = level + alpha * e[:, j]
            season = np.column_stack([season, s_old + gamma * e[:, j]])
        return out

    def refilter(self, y: np.ndarray) -> _Fitted:
        return _ETS(y, self.m, self.params)


class _SeasonalAR(_StateSpace):
    """ARIMA(1,0,0)(0,1,0)_m with drift: z_t = y_t − y_{t−m} = c + φ z_{t−1} + e_t.

    Fitted by conditional least squares (statsmodels ``AutoReg`` on the seasonal differences),
    which is fast enough to score every series by rolling origin.
    """

    def __init__(self, y: np.ndarray, m: int, params: tuple[float, float, float] | None = None):
        self.y, self.m = y, m
        z = y[m:] - y[:-m]
        if params is None:
            from statsmodels.tsa.ar_model import AutoReg

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = AutoReg(z, lags=1, trend="c").fit()
            c, phi = (float(v) for v in res.params)
            # Keep the AR part stationary so long horizons stay bounded.
            phi = float(np.clip(phi, -0.98, 0.98))
            resid = z[1:] - c - phi * z[:-1]
            sigma = float(np.sqrt(np.sum(resid**2) / max(len(resid) - 2, 1)))
            params = (c, phi, sigma)
        self.c, self.phi, self.sigma = params
        self.z = z

    def _paths(self, e: np.ndarray) -> np.ndarray:
        n, h = e.shape
        m = self.m
        hist = np.tile(self.y, (n, 1))
        z_prev = np.full(n, self.z[-1])
        out = np.empty((n, h))
        for j in range(h):
            z_prev = self.c + self.phi * z_prev + e[:, j]
            base = hist[:, len(self.y) - m + j] if j < m else out[:, j - m]
            out[:, j] = base + z_prev
        return out

    def refilter(self, y: np.ndarray) -> _Fitted:
        return _SeasonalAR(y, self.m, (self.c, self.phi, self.sigma))


def _ar_order_by_aic(x: np.ndarray, trend: Literal["c", "n"]) -> int:
    """AR order 0…:data:`MAX_AR_LAG` with the lowest AIC (statsmodels ``ar_select_order``, all
    orders on the same sample); at most a quarter of the series so short series stay stable."""
    maxlag = min(MAX_AR_LAG, max(len(x) // 4, 1))
    from statsmodels.tsa.ar_model import ar_select_order

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = ar_select_order(x, maxlag=maxlag, ic="aic", trend=trend)
    return max(sel.ar_lags) if sel.ar_lags else 0


def _ols_ar(x: np.ndarray, p: int, trend: Literal["c", "n"]) -> tuple[float, np.ndarray, float]:
    """(c, φ_1…φ_p, σ) of an AR(p) by conditional least squares (as statsmodels ``AutoReg``)."""
    n = len(x)
    cols = [x[p - i - 1 : n - i - 1] for i in range(p)]
    if trend == "c":
        cols = [np.ones(n - p), *cols]
    target = x[p:]
    if not cols:
        resid = target
        return 0.0, np.zeros(0), float(np.sqrt(np.mean(resid**2)))
    design = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    resid = target - design @ coef
    sigma = float(np.sqrt(np.sum(resid**2) / max(len(resid) - design.shape[1], 1)))
    c = float(coef[0]) if trend == "c" else 0.0
    phi = np.asarray(coef[1:] if trend == "c" else coef, dtype=float)
    return c, phi, sigma


class _AR(_StateSpace):
    """AR(p) with a constant, p by AIC: y_t = c + Σ φ_i y_{t−i} + e_t (conditional least
    squares). For a seasonally adjusted rate this is the usual benchmark (AR(2) on US
    unemployment)."""

    def __init__(self, y: np.ndarray, params: tuple[float, np.ndarray, float] | None = None):
        self.y = y
        if params is None:
            p = _ar_order_by_aic(y, "c")
            params = _ols_ar(y, p, "c")
        self.params = params
        self.c, self.phi, self.sigma = params

    def _paths(self, e: np.ndarray) -> np.ndarray:
        n, h = e.shape
        p = len(self.phi)
        hist = np.tile(self.y[len(self.y) - p :] if p else np.zeros(0), (n, 1))
        out = np.empty((n, h))
        for j in range(h):
            lagged = np.column_stack([hist, out[:, :j]])[:, ::-1][:, :p]
            out[:, j] = self.c + lagged @ self.phi + e[:, j]
        return out

    def refilter(self, y: np.ndarray) -> _Fitted:
        return _AR(y, self.params)


class _ARI(_StateSpace):
    """ARIMA(p,1,0) without drift, p by AIC: Δy_t = Σ φ_i Δy_{t−i} + e_t (p = 0 is the random
    walk). No drift: a rate has no lasting trend to extrapolate."""

    def __init__(self, y: np.ndarray, params: tuple[float, np.ndarray, float] | None = None):
        self.y = y
        z = np.diff(y)
        if params is None:
            p = _ar_order_by_aic(z, "n")
            params = _ols_ar(z, p, "n")
        self.params = params
        self.z = z
        _, self.phi, self.sigma = params

    def _paths(self, e: np.ndarray) -> np.ndarray:
        n, h = e.shape
        p = len(self.phi)
        hist = np.tile(self.z[len(self.z) - p :] if p else np.zeros(0), (n, 1))
        dz = np.empty((n, h))
        for j in range(h):
            lagged = np.column_stack([hist, dz[:, :j]])[:, ::-1][:, :p]
            dz[:, j] = lagged @ self.phi + e[:, j]
        return self.y[-1] + np.cumsum(dz, axis=1)

    def refilter(self, y: np.ndarray) -> _Fitted:
        return _ARI(y, self.params)


class _Damped(_StateSpace):
    """ETS(A,Ad,N), damped additive trend: ŷ_t = l_{t−1} + φb_{t−1};
    l_t = l_{t−1} + φb_{t−1} + αe_t; b_t = φb_{t−1} + βe_t.

    α, β* (β = αβ*), φ and the initial states are estimated by statsmodels' Holt–Winters
    ``ExponentialSmoothing(trend="add", damped_trend=True)`` (least squares); the recursions
    above filter, forecast and simulate with those parameters fixed.
    """

    def __init__(
        self, y: np.ndarray, params: tuple[float, float, float, float, float] | None = None
    ):
        self.y = y
        if params is None:
            from statsmodels.tsa.holtwinters import ExponentialSmoothing

            model = ExponentialSmoothing(
                y, trend="add", damped_trend=True, seasonal=None, initialization_method="estimated"
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = model.fit().params
            alpha = float(p["smoothing_level"])
            params = (
                alpha,
                alpha * float(p["smoothing_trend"]),
                float(p["damping_trend"]),
                float(p["initial_level"]),
                float(p["initial_trend"]),
            )
        self.params = params
        alpha, beta, phi, level, trend = params
        errors = np.empty(len(y))
        for t, value in enumerate(y):
            e = value - (level + phi * trend)
            errors[t] = e
            level, trend = level + phi * trend + alpha * e, phi * trend + beta * e
        self.level, self.trend = level, trend
        self.sigma = float(np.sqrt(np.mean(errors**2))) if len(errors) else 0.0

    def _paths(self, e: np.ndarray) -> np.ndarray:
        n, h = e.shape
        alpha, beta, phi = self.params[:3]
        level, trend = np.full(n, self.level), np.full(n, self.trend)
        out = np.empty((n, h))
        for j in range(h):
            out[:, j] = level + phi * trend + e[:, j]
            level, trend = level + phi * trend + alpha * e[:, j], phi * trend + beta * e[:, j]
        return out

    def refilter(self, y: np.ndarray) -> _Fitted:
        return _Damped(y, self.params)


def fit_model(
    y: Sequence[float] | np.ndarray, model: ModelName, *, season: int | None = 12
) -> _Fitted:
    """Fit one candidate model to a series (no missing values).

    Returns an object with ``forecast(h)``, ``simulate(h, n, rng)`` (an ``n × h`` array) and
    ``refilter(y)`` (the same parameters applied to another stretch of the series).
    """
    arr = np.asarray(y, dtype=float)
    if model == "naive":
        return _Naive(arr)
    if model == "ar":
        return _AR(arr)
    if model == "ari":
        return _ARI(arr)
    if model == "damped":
        return _Damped(arr)
    if season is None:
        raise ValueError(f"model {model!r} needs a season")
    if model == "seasonal_naive":
        return _SeasonalNaive(arr, season)
    if model == "ets":
        return _ETS(arr, season)
    if model == "arima":
        return _SeasonalAR(arr, season)
    raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")


def min_length(model: str, season: int | None) -> int:
    """Shortest training series a candidate is fitted on."""
    fixed = {"naive": 3, "ar": 12, "ari": 13, "damped": 10}
    if model in fixed:
        return fixed[model]
    if season is None:
        return 10**9  # never fitted without a season
    return {"seasonal_naive": season + 3, "ets": 2 * season + 2, "arima": season + 6}[model]


def rolling_origin_errors(
    y: Sequence[float] | np.ndarray,
    model: ModelName,
    *,
    horizon: int,
    origins: int,
    season: int | None = 12,
) -> np.ndarray:
    """See :func:`rolling_origin_fit` (this returns only the errors)."""
    return rolling_origin_fit(y, model, horizon=horizon, origins=origins, season=season)[0]


def rolling_origin_fit(
    y: Sequence[float] | np.ndarray,
    model: ModelName,
    *,
    horizon: int,
    origins: int,
    season: int | None = 12,
) -> tuple[np.ndarray, _Fitted | None]:
    """Out-of-sample errors (actual − forecast) at the last ``origins`` origins.

    Origin ``t`` trains on ``y[:t]`` and forecasts ``y[t : t + horizon]``; origins are
    ``T − horizon − origins + 1 … T − horizon`` so every horizon is observed. Parameters are
    estimated on the data before the first origin and held fixed.

    Returns an ``origins × horizon`` array (NaN rows when the training data are too short)
    and the model fitted before the first origin (None when too short).
    """
    arr = np.asarray(y, dtype=float)
    n = len(arr)
    first = n - horizon - origins + 1
    err = np.full((origins, horizon), np.nan)
    if first < min_length(model, season):
        return err, None
    fitted = fit_model(arr[:first], model, season=season)
    for k in range(origins):
        t = first + k
        f = fitted if k == 0 else fitted.refilter(arr[:t])
        err[k] = arr[t : t + horizon] - f.forecast(horizon)
    return err, fitted


def score_models(y: Sequence[float] | np.ndarray, settings: ForecastSettings) -> pd.DataFrame:
    """RMSE by model and horizon from :func:`rolling_origin_errors`.

    Returns ``model, horizon, rmse, n`` with ``horizon = 0`` for the pooled RMSE over all
    horizons (the selection score); models that cannot be fitted have NaN.
    """
    return _score_and_fit(y, settings)[0]


def _score_and_fit(
    y: Sequence[float] | np.ndarray, settings: ForecastSettings
) -> tuple[pd.DataFrame, dict[str, _Fitted]]:
    rows = []
    fits: dict[str, _Fitted] = {}
    for model in settings.candidates:
        err, fitted = rolling_origin_fit(
            y,
            model,
            horizon=settings.horizon,  # type: ignore[arg-type]
            origins=settings.origins,
            season=settings.season,
        )
        if fitted is not None:
            fits[model] = fitted
        ok = ~np.isnan(err).all(axis=1)
        for h in range(settings.horizon):
            e = err[ok, h]
            rows.append(
                {
                    "model": model,
                    "horizon": h + 1,
                    "rmse": float(np.sqrt(np.mean(e**2))) if len(e) else np.nan,
                    "n": int(len(e)),
                }
            )
        e = err[ok].ravel()
        rows.append(
            {
                "model": model,
                "horizon": 0,
                "rmse": float(np.sqrt(np.mean(e**2))) if len(e) else np.nan,
                "n": int(len(e)),
            }
        )
    return pd.DataFrame(rows, columns=["model", "horizon", "rmse", "n"]), fits


def choose_model(scores: pd.DataFrame, models: Sequence[str]) -> str:
    """The model with the lowest pooled RMSE; ties (within 1e-12) go to the earlier model."""
    return choose_models(scores, models, 1)[0]


def choose_models(scores: pd.DataFrame, models: Sequence[str], k: int = 1) -> list[str]:
    """The models a forecast uses, best first, by pooled rolling-origin RMSE.

    ``k = 1``: the lowest RMSE (ties within 1e-12 go to the earlier model). ``k > 1``: the naive
    forecast is the benchmark, not a member: the best ``k`` of the candidates that beat it
    (lower RMSE than ``naive``; all candidates when naive was not scored), or ``naive`` alone
    when none does. ``naive`` when nothing could be scored.
    """
    pooled = scores[scores["horizon"] == 0].set_index("model")["rmse"]
    ranked = [
        (float(pooled[m]), i, m)
        for i, m in enumerate(models)
        if m in pooled.index and np.isfinite(pooled[m])
    ]
    # Round so that ties within 1e-12 keep the simpler (earlier) model first.
    ranked.sort(key=lambda r: (round(r[0], 12), r[1]))
    if not ranked:
        return ["naive"]
    if k == 1:
        return [ranked[0][2]]
    return [m for _, _, m in ranked[:k]]


# ------------------------------------------------------------------------- aggregation
def aggregate_paths(paths: np.ndarray, how: Aggregate) -> np.ndarray:
    """The quarter's value of each path (rows) of monthly values.

    ``sum`` (flows, e.g. rates of persons reduced per month), ``last`` (stocks at the period's
    end), ``mean``, ``compound`` (monthly % changes chained: 100·(Π(1 + r/100) − 1)).
    """
    p = np.atleast_2d(paths)
    if how == "sum":
        return p.sum(axis=1)
    if how == "last":
        return p[:, -1]
    if how == "mean":
        return p.mean(axis=1)
    if how == "compound":
        return 100.0 * (np.prod(1.0 + p / 100.0, axis=1) - 1.0)
    raise ValueError(f"unknown aggregate {how!r}")


@dataclass(frozen=True)
class SeriesForecast:
    """The forecast of one series.

    ``model`` names the procedure (one model, or ``a+b`` for an average of several);
    ``models`` lists the models it uses.
    """

    model: str
    scores: pd.DataFrame
    periods: list[str]
    mean: np.ndarray
    paths: np.ndarray  # simulations × horizon
    models: tuple[str, ...] = ()


#: Month (1 or 2) of the Spring Festival (春节, lunar new year's day), 2000–2030.
SPRING_FESTIVAL_MONTH: dict[int, int] = {
    2000: 2,
    2001: 1,
    2002: 2,
    2003: 2,
    2004: 1,
    2005: 2,
    2006: 1,
    2007: 2,
    2008: 2,
    2009: 1,
    2010: 2,
    2011: 2,
    2012: 1,
    2013: 2,
    2014: 1,
    2015: 2,
    2016: 2,
    2017: 1,
    2018: 2,
    2019: 2,
    2020: 1,
    2021: 2,
    2022: 2,
    2023: 1,
    2024: 2,
    2025: 1,
    2026: 2,
    2027: 2,
    2028: 1,
    2029: 2,
    2030: 2,
}


def festival_regressors(periods: Sequence[str]) -> np.ndarray:
    """Spring Festival dummies for months ``YYYY-MM``: the festival's month and the two months
    after it (migrant workers leave before the festival and return over the next months).

    Returns an ``n × 3`` array of 0/1 (all zero for quarters or years outside the calendar).
    """
    out = np.zeros((len(periods), 3))
    for i, label in enumerate(periods):
        if "Q" in str(label):
            continue
        p = pd.Period(str(label), freq="M")
        month = SPRING_FESTIVAL_MONTH.get(p.year)
        if month is None:
            continue
        lag = p.month - month
        if 0 <= lag <= 2:
            out[i, lag] = 1.0
    return out


def festival_effects(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least-squares effects of the festival dummies (with an intercept); zero for dummies that
    never occur in the series."""
    beta = np.zeros(x.shape[1])
    used = x.sum(axis=0) > 0
    if not used.any():
        return beta
    design = np.column_stack([np.ones(len(y)), x[:, used]])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    beta[used] = coef[1:]
    return beta


def _one_blas_thread():
    """Limit BLAS to one thread while fitting: the optimiser's tiny BLAS calls are many times
    slower when several threads contend for two cores (measured 12 s → 1 s on 66 series)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _rng_for(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def _festival_adjust(
    s: pd.Series, settings: ForecastSettings, future: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(series without the Spring Festival effect, effect of the future periods)."""
    y = s.to_numpy(dtype=float)
    effect_future = np.zeros(len(future))
    if settings.spring_festival and "Q" not in str(s.index[-1]):
        # The festival moves between January and February: a fixed-month season cannot hold it.
        x = festival_regressors([str(p) for p in s.index])
        beta = festival_effects(y, x)
        y = y - x @ beta
        effect_future = festival_regressors(list(future)) @ beta
    return y, effect_future


def _clean(series: pd.Series, key: str) -> pd.Series:
    s = pd.Series(series, dtype=float)
    valid = s.dropna()
    if valid.empty:
        raise ValueError(f"series {key!r} has no values")
    return s.loc[valid.index[0] : valid.index[-1]].interpolate(limit_area="inside")


def _select(
    y: np.ndarray, settings: ForecastSettings
) -> tuple[pd.DataFrame, list[str], list[_Fitted]]:
    """Score the candidates on rolling origins, keep the best ``combine`` of them and filter the
    whole series with the parameters estimated before the first origin."""
    with _one_blas_thread():
        scores, fits = _score_and_fit(y, settings)
        chosen = choose_models(scores, settings.candidates, settings.combine)
        # The chosen models are refitted on the whole series: the scoring parameters were
        # estimated before the first origin, up to origins + horizon periods stale.
        fitted = [
            fit_model(y, m, season=settings.season)  # type: ignore[arg-type]
            for m in chosen
        ]
    return scores, chosen, fitted


def forecast_series(
    series: pd.Series, settings: ForecastSettings, *, key: str = ""
) -> SeriesForecast:
    """Choose a model (or an average of the best ``combine``) for one series and forecast it.

    Parameters
    ----------
    series : Series
        Values indexed by period labels in order (``YYYY-MM`` or ``YYYYQn``); leading/trailing
        NaN are dropped, inner gaps are filled by linear interpolation (documented).
    settings : ForecastSettings
    key : str
        Identifies the series for its random stream (same key → same simulations).

    Returns
    -------
    SeriesForecast
        With ``combine > 1`` the point forecast is the average of the chosen models' forecasts
        and the paths are the best model's paths shifted to that average.
    """
    s = _clean(series, key)
    future = next_periods(str(s.index[-1]), settings.horizon)
    y, effect_future = _festival_adjust(s, settings, future)
    scores, chosen, fitted = _select(y, settings)
    rng = _rng_for(settings.seed, key)
    mean = np.mean([f.forecast(settings.horizon) for f in fitted], axis=0)
    paths = fitted[0].simulate(settings.horizon, settings.simulations, rng)
    paths = paths + (mean - fitted[0].forecast(settings.horizon)) + effect_future
    return SeriesForecast(
        model="+".join(chosen),
        scores=scores,
        periods=future,
        mean=mean + effect_future,
        paths=paths,
        models=tuple(chosen),
    )


def point_forecast(series: pd.Series, settings: ForecastSettings) -> np.ndarray:
    """The point forecast :func:`forecast_series` gives (no simulation), 1…``horizon`` ahead."""
    s = _clean(series, "")
    future = next_periods(str(s.index[-1]), settings.horizon)
    y, effect_future = _festival_adjust(s, settings, future)
    _, _, fitted = _select(y, settings)
    return np.mean([f.forecast(settings.horizon) for f in fitted], axis=0) + effect_future


def candidate_forecast(
    series: pd.Series, model: ModelName, settings: ForecastSettings
) -> np.ndarray | None:
    """One candidate fitted on the whole series (festival-adjusted like the procedure),
    1…``horizon`` ahead; None when the series is too short for it."""
    s = _clean(series, "")
    if len(s) < min_length(model, settings.season):
        return None
    future = next_periods(str(s.index[-1]), settings.horizon)
    y, effect_future = _festival_adjust(s, settings, future)
    with _one_blas_thread():
        f = fit_model(y, model, season=settings.season)
    return f.forecast(settings.horizon) + effect_future


def diebold_mariano(
    e_model: Sequence[float] | np.ndarray,
    e_naive: Sequence[float] | np.ndarray,
    *,
    horizon: int = 1,
) -> tuple[float, float]:
    """Diebold–Mariano test of equal squared-error accuracy, with the Harvey–Leybourne–Newbold
    small-sample correction.

    d_t = e_model,t² − e_naive,t²; DM = d̄ / √(V̂/n) with V̂ the autocovariances of d up to lag
    h − 1 (rectangular window, as DM 1995); HLN multiply by √[(n + 1 − 2h + h(h − 1)/n)/n] and
    refer to Student's t with n − 1 df. Negative = the model is more accurate.

    Returns
    -------
    (statistic, two-sided p-value); NaN when fewer than 3 pairs or d is constant.
    """
    from scipy import stats

    d = np.asarray(e_model, dtype=float) ** 2 - np.asarray(e_naive, dtype=float) ** 2
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 3:
        return float("nan"), float("nan")
    dc = d - d.mean()
    v = float(np.sum(dc * dc) / n)
    for k in range(1, horizon):
        v += 2.0 * float(np.sum(dc[k:] * dc[:-k]) / n)
    if not v > 0:
        return float("nan"), float("nan")
    dm = d.mean() / np.sqrt(v / n)
    dm *= np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    p = 2.0 * float(stats.t.sf(abs(dm), df=n - 1))
    return float(dm), p


def lagged_regressor(x: Sequence[float] | np.ndarray, lag: int) -> np.ndarray:
    """The regressor column for a leading series: row t holds x_{t−lag} (NaN for t < lag)."""
    x = np.asarray(x, dtype=float)
    if lag < 0:
        raise ValueError("lag must be ≥ 0")
    out = np.full(len(x), np.nan)
    out[lag:] = x[: len(x) - lag] if lag else x
    return out


def arimax_forecast(
    y: Sequence[float] | np.ndarray,
    *,
    exog: np.ndarray | None = None,
    exog_future: np.ndarray | None = None,
    horizon: int = 1,
    order: tuple[int, int, int] = (2, 0, 0),
) -> np.ndarray:
    """Forecast with a regression on macro series and ARIMA errors (statsmodels ``SARIMAX``).

    y_t = β'x_t + u_t with φ(L)Δ^d u_t = c + θ(L)e_t (statsmodels' regression with ARIMA
    errors, its trend in the error equation: for d = 0 the mean of u is c / (1 − Σφ); for
    d ≥ 1 there is no constant — a rate has no lasting drift, as for ``ari``), estimated by exact Gaussian maximum likelihood (the
    Kalman filter). ``exog`` holds x_t for the training periods and ``exog_future`` for the
    ``horizon`` periods ahead — known when each column is a series led by at least ``horizon``
    periods (:func:`lagged_regressor`). Without ``exog`` this is the plain ARIMA benchmark.

    Returns the ``horizon`` point forecasts.
    """
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = np.asarray(y, dtype=float)
    trend = "c" if order[1] == 0 else "n"  # no drift when differenced (as ``ari``)
    x = None if exog is None else np.asarray(exog, dtype=float).reshape(len(y), -1)
    xf = None if exog_future is None else np.asarray(exog_future, dtype=float).reshape(horizon, -1)
    if x is not None and not np.all(np.isfinite(x)):
        raise ValueError("the regressors have missing values in the training periods")
    with _one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the fits are checked by tests
        model = SARIMAX(y, exog=x, order=order, trend=trend)
        res = model.fit(disp=False)
        return np.asarray(res.forecast(steps=horizon, exog=xf), dtype=float)


def rolling_accuracy(
    series: pd.Series, settings: ForecastSettings, *, start: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Out-of-sample accuracy from ``start`` on: every forecast uses only data before its origin.

    For each origin t (periods from ``start`` to the last), each candidate is fitted on the
    periods before t, and the selection procedure (:func:`point_forecast`: candidates scored on
    rolling origins inside that training stretch) is run on the same stretch; both forecast
    t, t+1, …, t+H−1. Horizon h is scored on the origins whose target t+h−1 is observed.

    Returns
    -------
    (accuracy, errors)
        ``accuracy``: ``horizon, model, rmse, naive_rmse, origins, dm_stat, dm_pvalue`` — one row
        per candidate and a row ``model = selected`` per horizon (DM against naive, see
        :func:`diebold_mariano`). ``errors``: ``origin, horizon, model, target, forecast,
        actual``.
    """
    s = _clean(series, "")
    labels = [str(p) for p in s.index]
    if start not in labels:
        raise ValueError(
            f"forecast origin {start!r} is not a period of the series ({labels[0]} … {labels[-1]})"
        )
    first = labels.index(start)
    horizon = settings.horizon
    rows = []
    for t in range(first, len(labels)):
        train = s.iloc[:t]
        actual = s.to_numpy()[t : t + horizon]
        forecasts: dict[str, np.ndarray | None] = {
            m: candidate_forecast(train, m, settings)  # type: ignore[arg-type]
            for m in settings.candidates
        }
        forecasts["naive"] = np.full(horizon, train.iloc[-1])
        forecasts["selected"] = point_forecast(train, settings)
        for model, f in forecasts.items():
            if f is None:
                continue
            for h in range(len(actual)):
                rows.append(
                    {
                        "origin": labels[t],
                        "horizon": h + 1,
                        "model": model,
                        "target": labels[t + h],
                        "forecast": float(f[h]),
                        "actual": float(actual[h]),
                    }
                )
    errors = pd.DataFrame(
        rows, columns=["origin", "horizon", "model", "target", "forecast", "actual"]
    )
    errors["error"] = errors["actual"] - errors["forecast"]
    out = []
    order = [
        *settings.candidates,
        *([] if "naive" in settings.candidates else ["naive"]),
        "selected",
    ]
    for h in range(1, horizon + 1):
        eh = errors[errors["horizon"] == h]
        naive = eh[eh["model"] == "naive"].set_index("origin")["error"]
        for model in order:
            em = eh[eh["model"] == model].set_index("origin")["error"]
            if em.empty:
                continue
            common = em.index.intersection(naive.index)
            dm, p = diebold_mariano(em[common].to_numpy(), naive[common].to_numpy(), horizon=h)
            out.append(
                {
                    "horizon": h,
                    "model": model,
                    "rmse": float(np.sqrt(np.mean(em[common] ** 2))),
                    "naive_rmse": float(np.sqrt(np.mean(naive[common] ** 2))),
                    "origins": int(len(common)),
                    "dm_stat": dm,
                    "dm_pvalue": p,
                }
            )
    accuracy = pd.DataFrame(
        out, columns=["horizon", "model", "rmse", "naive_rmse", "origins", "dm_stat", "dm_pvalue"]
    )
    return accuracy, errors.drop(columns="error")


def out_of_sample_rmse(
    series: pd.DataFrame,
    settings: ForecastSettings,
    *,
    origins: Sequence[str],
    by: str = "city",
    value: str = "estimate",
    horizon: int = 3,
) -> tuple[float, float, int]:
    """RMSE of the chosen forecasts and of the naive forecast, pooled over groups and origins.

    For each group of ``series`` (columns ``period``, ``by``, ``value``) and each origin, the
    model is chosen and fitted on the months up to the origin and scored on the next
    ``horizon`` months; the naive forecast repeats the origin's value.

    Returns
    -------
    (rmse_model, rmse_naive, cases)
        ``cases`` is the number of group × origin forecasts scored.
    """
    err_model, err_naive = [], []
    for _key, g in series.groupby(by):
        y = g.set_index("period")[value]
        for origin in origins:
            train = y[y.index <= origin]
            test = y[y.index > origin].iloc[:horizon].to_numpy()
            mean = point_forecast(train, settings)
            err_model.append(test - mean[: len(test)])
            err_naive.append(test - train.iloc[-1])
    rmse = float(np.sqrt(np.mean(np.concatenate(err_model) ** 2)))
    rmse_naive = float(np.sqrt(np.mean(np.concatenate(err_naive) ** 2)))
    return rmse, rmse_naive, len(err_model)


def forecast_table(
    fc: SeriesForecast,
    *,
    city: str,
    indicator: str,
    aggregate: Aggregate,
    level: float,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Rows of :data:`FORECAST_COLUMNS`: each month ahead and the next quarter.

    ``transform`` maps the quarter aggregate (e.g. to a year-on-year % change); the quarter row
    is written only when the horizon covers the three months of one quarter.
    """
    a = (1 - level) / 2
    rows = []
    for h, period in enumerate(fc.periods):
        lo, hi = np.quantile(fc.paths[:, h], [a, 1 - a])
        rows.append(
            {
                "city": city,
                "indicator": indicator,
                "kind": "month",
                "target": period,
                "horizon": h + 1,
                "model": fc.model,
                "forecast": float(fc.mean[h]),
                "pi_low": float(lo),
                "pi_high": float(hi),
            }
        )
    q = quarter_values(fc, aggregate, transform)
    if q is not None:
        label, point, draws = q
        lo, hi = np.quantile(draws, [a, 1 - a])
        rows.append(
            {
                "city": city,
                "indicator": indicator,
                "kind": "quarter",
                "target": label,
                "horizon": 1,
                "model": fc.model,
                "forecast": point,
                "pi_low": float(lo),
                "pi_high": float(hi),
            }
        )
    return pd.DataFrame(rows, columns=FORECAST_COLUMNS)


def quarter_values(
    fc: SeriesForecast,
    aggregate: Aggregate,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[str, float, np.ndarray] | None:
    """(quarter label, point forecast, simulated values) of the first complete quarter ahead."""
    quarters = [quarter_label(p) for p in fc.periods]
    for start in range(len(fc.periods) - 2):
        if (
            fc.periods[start].endswith(("-01", "-04", "-07", "-10"))
            and len(set(quarters[start : start + 3])) == 1
        ):
            sl = slice(start, start + 3)
            draws = aggregate_paths(fc.paths[:, sl], aggregate)
            point = aggregate_paths(fc.mean[None, sl], aggregate)
            if transform is not None:
                draws, point = transform(draws), transform(point)
            return quarters[start], float(point[0]), draws
    return None


def crossing_probabilities(
    draws: np.ndarray, lines: Sequence[float], direction: str
) -> list[float]:
    """Share of simulated values at or beyond each line (the probability of crossing it)."""
    sign = 1.0 if direction == "higher_is_worse" else -1.0
    return [float(np.mean(sign * (draws - line) >= 0)) for line in lines]
