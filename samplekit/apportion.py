"""Apportionment: share an integer total among units in proportion to weights, within bounds.

Three classic methods (Balinski & Young, *Fair Representation*, 2nd ed. 2001):

- ``largest_remainder`` (Hamilton / Vinton): quotas, floors, then the largest fractional parts.
  Not house-monotone — the Alabama paradox can occur.
- ``webster`` (Sainte-Laguë): divisor method rounding at ``a + 1/2``.
- ``huntington_hill`` (equal proportions): divisor method rounding at ``sqrt(a (a + 1))``; it
  gives every unit with a positive weight at least one seat when the total allows.

Bounds ``lower <= a <= upper`` are met exactly: for Hamilton the quotas are the continuous
proportional shares clipped to the bounds (one multiplier found by bisection); for the divisor
methods the bounded divisor method ``a_i = clip(round(w_i / d), l_i, u_i)`` is computed in its
equivalent sequential ("highest averages") form starting from the lower bounds.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from samplekit.errors import InfeasibleError

Method = Literal["largest_remainder", "webster", "huntington_hill"]
METHODS: tuple[str, ...] = ("largest_remainder", "webster", "huntington_hill")
METHODS_ZH: dict[str, str] = {
    "largest_remainder": "最大余数法(Hamilton)",
    "webster": "Sainte-Laguë/Webster 除数法",
    "huntington_hill": "Huntington–Hill 等比例法",
}


def _as_bounds(
    values: Sequence[float] | np.ndarray | None, size: int, default: float
) -> np.ndarray:
    if values is None:
        return np.full(size, default, dtype=float)
    arr = np.asarray(values, dtype=float)
    if arr.shape != (size,):
        raise ValueError(f"bounds have shape {arr.shape}, expected ({size},)")
    return arr


def check_bounds(
    total: int,
    lower: np.ndarray,
    upper: np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    what: str = "apportionment",
) -> None:
    """Raise :class:`InfeasibleError` when ``sum(lower) > total``, ``sum(upper) < total`` or
    some ``lower > upper``; the diagnosis lists the units and numbers involved."""
    labels = list(labels) if labels is not None else [str(i) for i in range(len(lower))]
    rows = []
    bad = np.flatnonzero(lower > upper)
    for i in bad:
        rows.append(
            {
                "rule": "bounds",
                "scope": what,
                "city": labels[i],
                "required": lower[i],
                "achievable": upper[i],
                "slack": lower[i] - upper[i],
                "message": f"{labels[i]}: lower bound {lower[i]:.0f} exceeds upper bound "
                f"{upper[i]:.0f}",
            }
        )
    if lower.sum() > total:
        rows.append(
            {
                "rule": "total",
                "scope": what,
                "city": "全省",
                "required": total,
                "achievable": lower.sum(),
                "slack": lower.sum() - total,
                "message": f"the lower bounds add up to {lower.sum():.0f} > total {total}; "
                f"raise the total by {lower.sum() - total:.0f} or lower the "
                f"floors",
            }
        )
    if np.isfinite(upper).all() and upper.sum() < total:
        rows.append(
            {
                "rule": "total",
                "scope": what,
                "city": "全省",
                "required": total,
                "achievable": upper.sum(),
                "slack": total - upper.sum(),
                "message": f"the upper bounds (caps) add up to {upper.sum():.0f} < total "
                f"{total}; lower the total by {total - upper.sum():.0f} or "
                f"raise the caps",
            }
        )
    if rows:
        diagnosis = pd.DataFrame(rows)
        raise InfeasibleError(
            f"{what} is infeasible:\n" + "\n".join(diagnosis["message"]), diagnosis=diagnosis
        )


def proportional_quotas(
    weights: np.ndarray, total: float, lower: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    """Continuous shares ``clip(lam * w, lower, upper)`` adding up to ``total``.

    The function of ``lam`` is continuous and non-decreasing, so bisection finds it; units with
    zero weight sit at their lower bound unless all free units are exhausted.
    """
    w = np.asarray(weights, dtype=float)

    def filled(lam: float) -> float:
        return float(np.clip(lam * w, lower, upper).sum())

    if filled(0.0) >= total:
        return lower.astype(float).copy()
    hi = 1.0
    while filled(hi) < total:
        hi *= 2.0
        if hi > 1e300:  # only zero-weight units left below their caps
            break
    lo = 0.0
    for _ in range(200):
        if hi - lo <= 1e-13 * hi:
            break
        mid = 0.5 * (lo + hi)
        if filled(mid) < total:
            lo = mid
        else:
            hi = mid
    quotas = np.clip(hi * w, lower, upper)
    gap = total - quotas.sum()
    if abs(gap) > 1e-9:
        # rounding in the bisection, or zero-weight units needed: fill them up to their caps
        room = upper - quotas
        order = np.argsort(-room, kind="stable")
        for i in order:
            if gap <= 1e-12:
                break
            take = min(room[i], gap)
            quotas[i] += take
            gap -= take
    return quotas


def apportion(
    weights: Sequence[float] | np.ndarray,
    total: int,
    *,
    method: Method = "largest_remainder",
    lower: Sequence[float] | np.ndarray | None = None,
    upper: Sequence[float] | np.ndarray | None = None,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Integer shares of ``total`` proportional to ``weights`` with ``lower <= a <= upper``.

    Parameters
    ----------
    weights : array of float
        Non-negative weights (e.g. scores, populations).
    total : int
        The integer total to share out; the result adds up to it exactly.
    method : {"largest_remainder", "webster", "huntington_hill"}
        Apportionment method (see the module docstring).
    lower, upper : array of int, optional
        Integer bounds per unit (default 0 and unbounded).
    labels : sequence of str, optional
        Unit names used in the diagnosis when the bounds are infeasible.

    Returns
    -------
    numpy.ndarray of int64

    Raises
    ------
    InfeasibleError
        When the bounds cannot be met (``sum(lower) > total`` …).

    Examples
    --------
    >>> apportion([6, 6, 2], 10).tolist()
    [4, 4, 2]
    >>> apportion([6, 6, 2], 11).tolist()   # the Alabama paradox: the third loses a seat
    [5, 5, 1]
    >>> apportion([6, 6, 2], 11, method="webster").tolist()
    [5, 5, 1]
    """
    if method not in METHODS:
        raise ValueError(f"unknown apportionment method {method!r}; use one of {METHODS}")
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        raise ValueError("weights must be one-dimensional")
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and non-negative")
    total = int(total)
    k = len(w)
    lo = np.ceil(_as_bounds(lower, k, 0.0) - 1e-9)
    up = np.floor(_as_bounds(upper, k, np.inf) + 1e-9)
    check_bounds(total, lo, up, labels)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if method == "largest_remainder":
        return _hamilton(w, total, lo, up)
    return _divisor(w, total, lo, up, method)


def _hamilton(w: np.ndarray, total: int, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    quotas = proportional_quotas(w, total, lo, up)
    base = np.floor(quotas + 1e-9)
    base = np.clip(base, lo, up)
    left = int(round(total - base.sum()))
    if left > 0:
        frac = quotas - base
        frac[base >= up] = -np.inf
        # largest fractional part first; ties to the larger weight, then the first unit
        order = np.lexsort((np.arange(len(w)), -w, -frac))
        base[order[:left]] += 1
    return base.astype(np.int64)


def _divisor(w: np.ndarray, total: int, lo: np.ndarray, up: np.ndarray, method: str) -> np.ndarray:
    a = lo.copy()
    left = total - int(a.sum())

    def priority(i: int) -> float:
        seats = a[i]
        if method == "webster":
            d = seats + 0.5
        else:
            d = math.sqrt(seats * (seats + 1.0))
        if d == 0.0:
            return math.inf if w[i] > 0 else 0.0
        return w[i] / d

    heap = [(-priority(i), i) for i in range(len(w)) if a[i] < up[i]]
    heapq.heapify(heap)
    while left > 0:
        _, i = heapq.heappop(heap)
        a[i] += 1
        left -= 1
        if a[i] < up[i]:
            heapq.heappush(heap, (-priority(i), i))
    return a.astype(np.int64)
