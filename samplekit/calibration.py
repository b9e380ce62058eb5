"""Calibrating design weights to known frame totals: raking (bounded = logit) or linear (GREG).

The calibration estimator of Deville & Särndal (1992): final weights ``w_i = d_i F(x_i'λ)`` that
reproduce the frame totals ``Σ w_i x_i = T`` and stay close to the design weights ``d_i``.

* ``method="linear"``: ``F(u) = 1 + u`` (chi-square distance; the GREG weights). With bounds the
  g-weights are truncated to ``[L, U]`` (Newton on the piecewise-linear equations).
* ``method="raking"``: ``F(u) = exp(u)`` (multiplicative raking, the limit of iterative
  proportional fitting). With bounds it becomes the *logit* method of CALMAR, whose g-weights stay
  strictly inside ``(L, U)``.

The equations are solved by damped Newton steps with a pseudo-inverse, so redundant constraints
(every margin sums to the same number of units) are harmless. When the iteration cannot reach the
totals inside the bounds, :func:`calibrate` tries each pair of margin dimensions alone to name the
ones that conflict, and reports the largest residuals.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from samplekit.errors import ParamsError

CalibrationMethod = Literal["raking", "linear"]
TotalKind = Literal["units", "employment"]

_MARGINS_ZH = {"city": "地市", "section": "行业门类", "size_class": "规模", "ownership": "所有制"}


@dataclass(frozen=True)
class CalibrationSettings:
    """How weights are calibrated (params ``selection.calibration``).

    Parameters
    ----------
    method : {"raking", "linear"}
        Distance function; with ``bounds`` raking is the bounded (logit) raking.
    margins : tuple of str
        Frame columns whose category totals are reproduced.
    totals : tuple of {"units", "employment"}
        Which totals per category: the number of enterprises and/or the sum of ``employees``.
    bounds : (float, float) or None
        Lower and upper bound of the g-weight ``w_i / d_i`` (``L < 1 < U``).
    max_iter : int
        Newton iterations.
    tol : float
        Convergence: largest relative residual of a total.
    """

    method: CalibrationMethod = "raking"
    margins: tuple[str, ...] = ("city", "section", "size_class", "ownership")
    totals: tuple[TotalKind, ...] = ("units", "employment")
    bounds: tuple[float, float] | None = (0.3, 3.0)
    max_iter: int = 100
    tol: float = 1e-8

    @classmethod
    def from_params(cls, params: Any, key: str = "selection.calibration") -> CalibrationSettings:
        """Read and check ``selection.calibration`` (every key optional)."""
        section = params.get(key, {})
        allowed = {"method", "margins", "totals", "bounds", "max_iter", "tol"}
        unknown = sorted(set(section) - allowed)
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {unknown} in '{key}'; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        method = params.choice(f"{key}.method", ("raking", "linear"), cls.method)
        margins = tuple(params.get(f"{key}.margins", list(cls.margins), types=list))
        bad = [m for m in margins if m not in _MARGINS_ZH]
        if bad or not margins:
            raise ParamsError(
                f"{params.path}: key '{key}.margins' = {margins!r}: use one or more "
                f"of {', '.join(_MARGINS_ZH)}"
            )
        totals = tuple(params.get(f"{key}.totals", list(cls.totals), types=list))
        if not totals or any(t not in ("units", "employment") for t in totals):
            raise ParamsError(
                f"{params.path}: key '{key}.totals' = {totals!r}: use units and/or employment"
            )
        bounds = params.get(f"{key}.bounds", list(cls.bounds), types=list)
        if bounds is not None:
            ok = (
                len(bounds) == 2
                and all(isinstance(b, (int, float)) for b in bounds)
                and 0 <= bounds[0] < 1 < bounds[1]
            )
            if not ok:
                raise ParamsError(
                    f"{params.path}: key '{key}.bounds' = {bounds!r} must be "
                    "[lower, upper] with 0 <= lower < 1 < upper, e.g. [0.3, 3.0]"
                )
            bounds = (float(bounds[0]), float(bounds[1]))
        return cls(
            method=method,
            margins=margins,
            totals=totals,
            bounds=bounds,
            max_iter=int(params.number(f"{key}.max_iter", cls.max_iter, low=1)),
            tol=float(params.number(f"{key}.tol", cls.tol, low=0)),
        )


@dataclass(frozen=True)
class CalibrationResult:
    """Calibrated weights and how they were reached.

    ``totals`` has one row per constraint: ``dimension, category, total (units/employment),
    target, design_estimate, calibrated_estimate, rel_residual``. ``diagnostics`` is a
    key/value table (convergence, dispersion, trimming).
    """

    weights: np.ndarray
    g: np.ndarray
    converged: bool
    iterations: int
    message: str
    totals: pd.DataFrame
    diagnostics: pd.DataFrame
    conflicts: tuple[str, ...] = field(default=())
    covered: np.ndarray | None = None  # population rows inside every covered margin category


def _distance(method: CalibrationMethod, bounds: tuple[float, float] | None):
    """F(u) and F'(u) of the calibration distance."""
    if method == "linear":
        if bounds is None:
            return (lambda u: 1.0 + u), (lambda u: np.ones_like(u))
        low, up = bounds
        return (
            (lambda u: np.clip(1.0 + u, low, up)),
            (lambda u: ((1.0 + u > low) & (1.0 + u < up)).astype(float)),
        )
    if bounds is None:
        return (lambda u: np.exp(np.clip(u, -700, 700))), (lambda u: np.exp(np.clip(u, -700, 700)))
    low, up = bounds
    a = (up - low) / ((1.0 - low) * (up - 1.0))
    shift = np.log((1.0 - low) / (up - 1.0))

    # Logit distance written with q = expit(a u + shift): F = L + (U - L) q, F' = a (U - L) q (1-q),
    # which never overflows (F(0) = 1).
    def expit(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, overflow-free

    def f(u):
        return low + (up - low) * expit(a * u + shift)

    def fprime(u):
        q = expit(a * u + shift)
        return a * (up - low) * q * (1.0 - q)

    return f, fprime


def solve_calibration(
    d: np.ndarray,
    x: np.ndarray,
    targets: np.ndarray,
    *,
    method: CalibrationMethod = "raking",
    bounds: tuple[float, float] | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> tuple[np.ndarray, bool, int, np.ndarray]:
    """Solve the calibration equations ``Σ d_i F(x_i'λ) x_i = targets``.

    Parameters
    ----------
    d : (n,) array
        Design weights (positive).
    x : (n, p) array
        Auxiliary variables of the sample units.
    targets : (p,) array
        Known totals.
    method, bounds, max_iter, tol
        See :class:`CalibrationSettings`.

    Returns
    -------
    g : (n,) array
        g-weights (final weight = ``d * g``).
    converged : bool
    iterations : int
    rel_residual : (p,) array
        ``(Σ d g x − T) / max(|T|, 1)`` per constraint.

    Examples
    --------
    >>> d = np.array([2.0, 2.0, 2.0]); x = np.array([[1.0], [1.0], [1.0]])
    >>> g, ok, _, _ = solve_calibration(d, x, np.array([9.0]), method="linear")
    >>> bool(ok), np.round(g, 6).tolist()
    (True, [1.5, 1.5, 1.5])
    """
    try:  # small dense products: BLAS threads cost more than they save (and fight on CI)
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn's dependency, normally present
        return _solve(d, x, targets, method, bounds, max_iter, tol)
    with threadpool_limits(limits=1, user_api="blas"):
        return _solve(d, x, targets, method, bounds, max_iter, tol)


def _solve(d, x, targets, method, bounds, max_iter, tol):
    d = np.asarray(d, dtype=float)
    targets = np.asarray(targets, dtype=float)
    # Indicator-like auxiliaries are sparse: products cost O(nonzeros), not O(n p).
    x = sparse.csr_matrix(x, dtype=float)
    # Scale each constraint by its target so units (1e5) and employment (1e7) weigh alike.
    scale = np.where(np.abs(targets) > 0, np.abs(targets), np.maximum(np.abs(x.T @ d), 1.0))
    xs = sparse.csr_matrix(x @ sparse.diags(1.0 / scale))
    xst = sparse.csr_matrix(xs.T)
    ts = targets / scale
    f, fprime = _distance(method, bounds)
    lam = np.zeros(x.shape[1])

    def residual(lam_):
        g_ = f(xs @ lam_)
        return g_, xst @ (d * g_) - ts

    g, res = residual(lam)
    it = 0
    for it in range(1, max_iter + 1):
        if np.max(np.abs(res), initial=0.0) < tol:
            it -= 1
            break
        jac = (xst @ sparse.diags(d * fprime(xs @ lam)) @ xs).toarray()
        step = np.linalg.lstsq(jac, -res, rcond=1e-12)[0]
        # Damped Newton: halve the step until the residual shrinks (robust near the bounds).
        base = np.linalg.norm(res)
        t = 1.0
        for _ in range(30):
            g_new, res_new = residual(lam + t * step)
            if np.linalg.norm(res_new) < base or t < 1e-6:
                break
            t /= 2
        lam = lam + t * step
        g, res = g_new, res_new
    converged = bool(np.max(np.abs(res), initial=0.0) < tol)
    return g, converged, it, res


def margin_matrix(
    units: pd.DataFrame,
    margins: Sequence[str],
    totals: Sequence[TotalKind],
    categories: dict[str, list[str]],
):
    """Sparse indicator (and employment) columns of ``units`` for each margin category.

    Returns a CSR matrix and one ``(dimension, category, total)`` label per column.
    """
    rows, cols, vals = [], [], []
    labels: list[tuple[str, str, str]] = []
    n = len(units)
    emp = units["employees"].to_numpy(dtype=float)
    for dim in margins:
        codes = pd.Index(categories[dim]).get_indexer(units[dim].astype(str))
        ok = np.flatnonzero(codes >= 0)
        for kind in totals:
            rows.append(ok)
            cols.append(len(labels) + codes[ok] * len(totals) + list(totals).index(kind))
            vals.append(np.ones(len(ok)) if kind == "units" else emp[ok])
        labels += [(dim, cat, kind) for cat in categories[dim] for kind in totals]
    if not labels:
        return sparse.csr_matrix((n, 0)), labels
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, len(labels))
    ), labels


def labels_and_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and sorted string labels of a column (fast for categoricals)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in values.cat.categories]
        order = np.argsort(np.array(cats, dtype=object), kind="stable")
        remap = np.empty(len(cats), dtype=np.int64)
        remap[order] = np.arange(len(cats))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, remap[np.maximum(codes, 0)], -1), [cats[i] for i in order]
    codes, cats = pd.factorize(values.astype(str), sort=True)
    return codes, [str(c) for c in cats]


def frame_totals(
    frame: pd.DataFrame, margins: Sequence[str], totals: Sequence[TotalKind]
) -> dict[tuple[str, str, str], float]:
    """Population totals per margin category (units and/or employment).

    A ``units`` column makes each row stand for that many units (``employees`` is then their
    total employment), so cell-level totals can replace millions of unit rows.
    """
    out: dict[tuple[str, str, str], float] = {}
    emp = frame["employees"].to_numpy(dtype=float)
    units = (
        frame["units"].to_numpy(dtype=float) if "units" in frame.columns else np.ones(len(frame))
    )
    for dim in margins:
        codes, cats = labels_and_codes(frame[dim])
        ok = codes >= 0
        n = np.bincount(codes[ok], weights=units[ok], minlength=len(cats))
        e = np.bincount(codes[ok], weights=emp[ok], minlength=len(cats))
        for k, cat in enumerate(cats):
            for kind in totals:
                out[(dim, str(cat), kind)] = float(n[k] if kind == "units" else e[k])
    return out


def weight_dispersion(w: np.ndarray) -> dict[str, float]:
    """CV, max/min ratio and Kish design effect ``1 + CV²`` (= n Σw² / (Σw)²) of weights."""
    w = np.asarray(w, dtype=float)
    if len(w) == 0:
        return {"cv": float("nan"), "max_min_ratio": float("nan"), "kish_deff": float("nan")}
    mean = w.mean()
    cv = float(w.std() / mean) if mean > 0 else float("nan")
    return {
        "cv": cv,
        "max_min_ratio": float(w.max() / w.min()) if w.min() > 0 else float("inf"),
        "kish_deff": float(len(w) * np.sum(w**2) / np.sum(w) ** 2),
    }


def calibrate(
    sample: pd.DataFrame,
    design_weights: np.ndarray,
    population: pd.DataFrame,
    settings: CalibrationSettings,
) -> CalibrationResult:
    """Calibrate the sample's design weights to the population's margin totals.

    Parameters
    ----------
    sample : DataFrame
        Sampled units with the margin columns and ``employees``.
    design_weights : (n,) array
        Their design weights ``1/π``.
    population : DataFrame
        The units the weights must represent (margin columns and ``employees``); or aggregated
        rows with a ``units`` count and their total ``employees``.
    settings : CalibrationSettings

    Returns
    -------
    CalibrationResult
        On non-convergence ``weights`` are the design weights, ``converged`` is False and
        ``message``/``conflicts`` name the margin dimensions that cannot be met together.

    Notes
    -----
    Margin categories present in the population but without any sample unit cannot be
    reproduced by any weights; the units of such categories are dropped from the population
    before calibrating and reported in ``diagnostics`` (``uncovered_units``).
    """
    d = np.asarray(design_weights, dtype=float)
    margins, kinds = list(settings.margins), list(settings.totals)
    # Restrict the population to units whose every margin category holds a sample unit.
    keep = np.ones(len(population), dtype=bool)
    uncovered: list[str] = []
    for dim in margins:
        have = set(sample[dim].astype(str).unique())
        codes, cats = labels_and_codes(population[dim])
        covered = np.array([c in have for c in cats] + [False])
        miss = ~covered[codes]  # code -1 (missing) maps to the trailing False
        if miss.any():
            uncovered += [f"{dim}={cats[c]}" for c in np.unique(codes[miss]) if c >= 0]
            keep &= ~miss
    pop = population.loc[keep] if not keep.all() else population
    targets_map = frame_totals(pop, margins, kinds)
    categories = {dim: sorted({k[1] for k in targets_map if k[0] == dim}) for dim in margins}
    x, labels = margin_matrix(sample, margins, kinds, categories)
    targets = np.array([targets_map[lab] for lab in labels])
    g, ok, it, res = solve_calibration(
        d,
        x,
        targets,
        method=settings.method,
        bounds=settings.bounds,
        max_iter=settings.max_iter,
        tol=settings.tol,
    )
    conflicts: tuple[str, ...] = ()
    message = f"converged in {it} iterations"
    if not ok:
        conflicts = _find_conflicts(d, x, targets, labels, margins, settings)
        worst = np.argsort(-np.abs(res))[:3]
        detail = "; ".join(
            f"{labels[k][0]}={labels[k][1]} {labels[k][2]} target {targets[k]:,.0f}, "
            f"reached {(x.T @ (d * g))[k]:,.0f}"
            for k in worst
        )
        pairs = ", ".join(conflicts) if conflicts else "all margins together"
        message = (
            f"calibration did not converge in {settings.max_iter} iterations within g-bounds "
            f"{settings.bounds}: conflicting margins: {pairs}; largest residuals: {detail}. "
            "Widen selection.calibration.bounds, drop a margin, or collapse small "
            "categories"
        )
        g = np.ones_like(d)
    w = d * g
    table = pd.DataFrame(labels, columns=["dimension", "category", "total"])
    table["target"] = targets
    table["design_estimate"] = x.T @ d if len(labels) else []
    table["calibrated_estimate"] = x.T @ w if len(labels) else []
    table["rel_residual"] = (table["calibrated_estimate"] - table["target"]) / np.maximum(
        np.abs(table["target"]), 1.0
    )
    dd, dw = weight_dispersion(d), weight_dispersion(w)
    at_bounds = 0
    if settings.bounds is not None and ok:
        low, up = settings.bounds
        span = up - low
        at_bounds = int(np.sum((g <= low + 1e-3 * span) | (g >= up - 1e-3 * span)))
    diag = [
        (
            "method",
            settings.method
            + (" (logit, bounded)" if settings.method == "raking" and settings.bounds else ""),
        ),
        (
            "bounds",
            "none" if settings.bounds is None else f"[{settings.bounds[0]}, {settings.bounds[1]}]",
        ),
        ("margins", " × ".join(margins) + " : " + ", ".join(kinds)),
        ("constraints", len(labels)),
        ("converged", ok),
        ("iterations", it),
        ("max_abs_rel_residual", float(np.max(np.abs(res))) if len(res) else 0.0),
        ("message", message),
        ("sample_units", len(d)),
        (
            "uncovered_units",
            int(population["units"].to_numpy()[~keep].sum())
            if "units" in population.columns
            else int((~keep).sum()),
        ),
        ("uncovered_categories", "; ".join(uncovered) if uncovered else "none"),
        ("g_min", float(g.min()) if len(g) else float("nan")),
        ("g_max", float(g.max()) if len(g) else float("nan")),
        ("trimmed_at_bounds", at_bounds),
        ("design_cv", dd["cv"]),
        ("design_max_min_ratio", dd["max_min_ratio"]),
        ("design_kish_deff", dd["kish_deff"]),
        ("calibrated_cv", dw["cv"]),
        ("calibrated_max_min_ratio", dw["max_min_ratio"]),
        ("calibrated_kish_deff", dw["kish_deff"]),
    ]
    diagnostics = pd.DataFrame({"key": [k for k, _ in diag], "value": [_fmt(v) for _, v in diag]})
    return CalibrationResult(
        weights=w,
        g=g,
        converged=ok,
        iterations=it,
        message=message,
        totals=table,
        diagnostics=diagnostics,
        conflicts=conflicts,
        covered=keep,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _find_conflicts(d, x, targets, labels, margins, settings) -> tuple[str, ...]:
    """Margin dimensions (alone or in pairs) whose totals cannot be met within the bounds."""
    dims = np.array([lab[0] for lab in labels])
    x = x.tocsc()
    found: list[str] = []
    for dim in margins:
        cols = dims == dim
        if not solve_calibration(
            d,
            x[:, cols],
            targets[cols],
            method=settings.method,
            bounds=settings.bounds,
            max_iter=settings.max_iter,
            tol=settings.tol,
        )[1]:
            found.append(dim)
    if found:
        return tuple(found)
    for a, b in itertools.combinations(margins, 2):
        cols = (dims == a) | (dims == b)
        if not solve_calibration(
            d,
            x[:, cols],
            targets[cols],
            method=settings.method,
            bounds=settings.bounds,
            max_iter=settings.max_iter,
            tol=settings.tol,
        )[1]:
            found.append(f"{a} × {b}")
    return tuple(found)
