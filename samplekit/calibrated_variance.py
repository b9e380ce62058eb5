"""Calibration-aware linearised variances (Deville & Särndal 1992) for totals, ratios and domains.

A calibrated estimator Σ w_i z_i (w = g·d, calibrated to known totals of the calibration
variables m_i) behaves to first order like the design-weighted estimator of the residuals
e_i = z_i − m_i'B, B = (Σ d m m')⁻¹ Σ d m z (the regression of the linearised variable on the
calibration matrix with the design weights d). Its variance is estimated by the stratified
with-replacement formula applied to u_i = w_i e_i (g-weighted residuals):

    v = Σ_h (1 − n_h/N_h) · n_h/(n_h − 1) · Σ_i (u_hi − ū_h)²,

which is what R's ``survey`` package computes for ``calibrate()`` designs (``svytotal``,
``svyratio``, ``svyby``), for linear (GREG), raking and bounded (logit) calibration alike: the
distance function changes g, not the linearisation. The variable z is the value itself for a
total, (y − R̂x)/X̂ for a ratio R̂ = Ŷ/X̂, and either of them times the domain indicator for a
domain (the residuals of the units outside the domain still count: the calibration ties them to
the domain). Negative calibrated weights (unbounded linear calibration) are used as they are.

The module is pure: arrays in, numbers / DataFrames out. See ``docs/estimation.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from samplekit.errors import InputError

__all__ = [
    "calibrated_domains",
    "calibrated_ratio",
    "calibrated_total",
    "calibration_residuals",
    "stratified_variance",
]


def _vector(name: str, values: object, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"{name}: expected one value per unit, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise InputError(f"{name}: {len(arr)} values for {n} units")
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        raise InputError(
            f"{name}: missing or non-finite value at unit(s) {', '.join(str(i) for i in bad[:5])}"
        )
    return arr


def calibration_residuals(
    z: np.ndarray, *, design_weight: np.ndarray, calibration_matrix: np.ndarray
) -> np.ndarray:
    """Residuals e = z − M B of the design-weighted regression of ``z`` on the calibration
    matrix ``M`` (B = (M'DM)⁺ M'Dz; a pseudo-inverse, so redundant columns are harmless).

    Parameters
    ----------
    z : array (n,) or (n, k)
        Linearised variable(s).
    design_weight : array (n,)
        Design weights d (before calibration), positive.
    calibration_matrix : array (n, p)
        The auxiliary variables the weights were calibrated on (one column per constraint).
    """
    m = np.asarray(calibration_matrix, dtype=float)
    d = np.asarray(design_weight, dtype=float)
    zz = np.asarray(z, dtype=float)
    one = zz.ndim == 1
    if one:
        zz = zz[:, None]
    # Weighted least squares through √d, as survey's qr.resid on mm·√d.
    sq = np.sqrt(d)[:, None]
    coef, *_ = np.linalg.lstsq(m * sq, zz * sq, rcond=None)
    e = zz - m @ coef
    return e[:, 0] if one else e


def stratified_variance(
    u: np.ndarray, *, strata: np.ndarray, fpc: np.ndarray | None = None
) -> float:
    """Σ_h (1 − n_h/N_h) n_h/(n_h − 1) Σ_i (u_hi − ū_h)² for weighted values ``u``.

    ``fpc`` gives N_h per unit (None: no finite-population correction). A stratum with one unit
    has no variance estimate and is an error.
    """
    u = np.asarray(u, dtype=float)
    codes, inverse = np.unique(np.asarray(strata), return_inverse=True)
    n_h = np.bincount(inverse, minlength=len(codes)).astype(float)
    lonely = codes[n_h < 2]
    if len(lonely):
        raise InputError(
            f"strata {list(lonely)[:5]} have a single unit: no variance estimate "
            "(merge them with a similar stratum)"
        )
    mean = np.bincount(inverse, weights=u, minlength=len(codes)) / n_h
    ss = np.bincount(inverse, weights=(u - mean[inverse]) ** 2, minlength=len(codes))
    f = np.zeros(len(codes))
    if fpc is not None:
        # N_h is repeated on every unit of stratum h: its stratum mean is N_h.
        big_n = (
            np.bincount(inverse, weights=np.asarray(fpc, dtype=float), minlength=len(codes)) / n_h
        )
        f = n_h / big_n
    return float(np.sum((1.0 - f) * n_h / (n_h - 1.0) * ss))


def _check(weight, design_weight, strata, calibration_matrix, fpc):
    w = _vector("weight", weight)
    n = len(w)
    d = _vector("design_weight", design_weight, n)
    if (d <= 0).any():
        raise InputError(f"design_weight: must be positive (unit {int(np.argmax(d <= 0))})")
    m = np.asarray(calibration_matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != n:
        raise InputError(f"calibration_matrix: expected {n} rows, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InputError("calibration_matrix: missing or non-finite values")
    s = np.asarray(strata)
    if len(s) != n:
        raise InputError(f"strata: {len(s)} values for {n} units")
    f = None if fpc is None else _vector("fpc", fpc, n)
    return w, d, s, m, f


def calibrated_total(
    y: Sequence[float] | np.ndarray,
    *,
    weight: np.ndarray,
    design_weight: np.ndarray,
    strata: np.ndarray,
    calibration_matrix: np.ndarray,
    fpc: np.ndarray | None = None,
    domain: np.ndarray | None = None,
) -> tuple[float, float]:
    """Calibrated total Σ w y (over ``domain`` when given) and its calibration-aware SE.

    Parameters
    ----------
    y : array (n,)
    weight : array (n,)
        Calibrated weights w = g·d.
    design_weight : array (n,)
        Design weights d.
    strata : array (n,)
        Stratum labels.
    calibration_matrix : array (n, p)
        Calibration variables (e.g. category dummies and employment).
    fpc : array (n,), optional
        Stratum population size N_h per unit.
    domain : bool array (n,), optional
        Units of the domain.

    Returns
    -------
    (estimate, se)
    """
    w, d, s, m, f = _check(weight, design_weight, strata, calibration_matrix, fpc)
    z = _vector("y", y, len(w))
    if domain is not None:
        z = z * np.asarray(domain, dtype=bool)
    e = calibration_residuals(z, design_weight=d, calibration_matrix=m)
    return float(np.sum(w * z)), float(np.sqrt(stratified_variance(w * e, strata=s, fpc=f)))


def calibrated_ratio(
    y: Sequence[float] | np.ndarray,
    x: Sequence[float] | np.ndarray,
    *,
    weight: np.ndarray,
    design_weight: np.ndarray,
    strata: np.ndarray,
    calibration_matrix: np.ndarray,
    fpc: np.ndarray | None = None,
    domain: np.ndarray | None = None,
) -> tuple[float, float]:
    """Calibrated ratio R̂ = Σ w y / Σ w x (over ``domain``) and its calibration-aware SE,
    linearised with z = (y − R̂x)/X̂. Parameters as :func:`calibrated_total`."""
    w, d, s, m, f = _check(weight, design_weight, strata, calibration_matrix, fpc)
    yy, xx = _vector("y", y, len(w)), _vector("x", x, len(w))
    ind = np.ones(len(w), bool) if domain is None else np.asarray(domain, dtype=bool)
    big_x = float(np.sum(w * xx * ind))
    if big_x == 0:
        raise InputError("x: the weighted total of the denominator is 0 in the domain")
    r = float(np.sum(w * yy * ind)) / big_x
    z = (yy - r * xx) / big_x * ind
    e = calibration_residuals(z, design_weight=d, calibration_matrix=m)
    return r, float(np.sqrt(stratified_variance(w * e, strata=s, fpc=f)))


def calibrated_domains(
    y: Sequence[float] | np.ndarray,
    *,
    by: Sequence[object] | np.ndarray,
    weight: np.ndarray,
    design_weight: np.ndarray,
    strata: np.ndarray,
    calibration_matrix: np.ndarray,
    x: Sequence[float] | None = None,
    fpc: np.ndarray | None = None,
) -> pd.DataFrame:
    """Totals (or ratios y/x when ``x`` is given) for every domain of ``by``, with
    calibration-aware SEs (as ``svyby`` on a calibrated design).

    Returns
    -------
    DataFrame ``domain, estimate, se, n`` (n = units in the domain), domains sorted.
    """
    labels = pd.Series(np.asarray(by, dtype=object))
    rows = []
    for label in sorted(labels.dropna().unique(), key=str):
        dom = (labels == label).to_numpy()
        kw = {
            "weight": weight,
            "design_weight": design_weight,
            "strata": strata,
            "calibration_matrix": calibration_matrix,
            "fpc": fpc,
            "domain": dom,
        }
        est, se = calibrated_total(y, **kw) if x is None else calibrated_ratio(y, x, **kw)
        rows.append({"domain": label, "estimate": est, "se": se, "n": int(dom.sum())})
    return pd.DataFrame(rows, columns=["domain", "estimate", "se", "n"])
