"""Selecting the monitored enterprises: permanent random numbers, sequential SRS or Pareto πps
(exact inclusion probabilities) per allocation cell, inclusion probabilities, design and calibrated weights, reserves,
the monthly subsample and representativeness.

Everything is vectorised over units (one ``lexsort`` and a few ``bincount`` calls), so 10 million
register rows take seconds. See ``docs/selection.md`` for the methods and their assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.calibration import CalibrationSettings, calibrate
from samplekit.errors import InputError, ParamsError
from samplekit.io import round_floats

CELL: list[str] = ["city", "section", "size_class", "ownership"]
CELLS_COLUMNS: list[str] = [
    *CELL,
    "frame_units",
    "frame_employment",
    "existing",
    "existing_monthly",
    "n",
    "n_monthly",
]
FRAME_COLUMNS: list[str] = [
    "enterprise_id",
    "name",
    *CELL,
    "employees",
    "status",
    "in_panel",
    "in_monthly",
]
SAMPLE_COLUMNS: list[str] = [
    "enterprise_id",
    "name",
    *CELL,
    "employees",
    "status",
    "monthly",
    "prn",
    "inclusion_prob",
    "weight",
    "calibrated_weight",
    "cell_frame_units",
    "cell_n",
    "selection_prob",
    "export_share",
    "registration_type",
    "division",
]
RESERVE_COLUMNS: list[str] = [
    *CELL,
    "reserve_rank",
    "enterprise_id",
    "name",
    "employees",
    "prn",
    "order_key",
]
FLAG_COLUMNS: list[str] = [*CELL, "flag", "severity", "value", "message"]
STATUS_ORDER = ("retained", "replacement", "new")
STATUS_ZH = {"retained": "保留", "new": "新增", "replacement": "替换"}

SelectionMethod = Literal["srs", "pps"]
PanelWeights = Literal["two_group", "quasi"]

_MASK64 = (1 << 64) - 1
_WORD_MULT = np.uint64(0xBF58476D1CE4E5B9)  # odd constant of splitmix64


# ---------------------------------------------------------------------------------------- PRN
def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (full avalanche), on uint64 arrays (returns a new array)."""
    h = np.array(h, dtype=np.uint64, copy=True)
    s33 = np.uint64(33)
    h ^= h >> s33
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> s33
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> s33
    return h


def _seed_word(seed: int, salt: int) -> np.uint64:
    s = np.array([(int(seed) ^ salt) & _MASK64], dtype=np.uint64)
    return _fmix64(_fmix64(s))[0]


def _arrow_strings(ids: pd.Series | np.ndarray | list[str]):
    """The ids as one pyarrow LargeStringArray (zero-copy for Arrow-backed pandas strings)."""
    import pyarrow as pa

    values = ids if isinstance(ids, pd.Series) else pd.Series(ids, copy=False)
    if values.isna().any():
        rows = ", ".join(str(i) for i in np.flatnonzero(values.isna().to_numpy())[:5])
        raise InputError(f"enterprise_id is missing at positions {rows}: every unit needs an id")
    try:
        arr = pa.array(values.array) if not isinstance(values.dtype, pd.CategoricalDtype) else None
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        arr = None
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pa.array(values.astype(str).to_numpy(dtype=object), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def prn_hash(ids: pd.Series | np.ndarray | list[str], seed: int) -> np.ndarray:
    """The 64-bit hash behind :func:`prn` (uint64); also breaks exact PRN ties.

    The id's UTF-8 bytes, zero-padded to whole 8-byte little-endian words, are folded into a
    seed- and length-dependent state by ``h = (h ^ word) * C; h ^= h >> 29`` (each step a
    bijection of the state), then finished with a second seed word and MurmurHash3's 64-bit
    avalanche finaliser ``fmix64``.
    """
    arr = _arrow_strings(ids)
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype="<i8")[arr.offset : arr.offset + n + 1]
    buf = arr.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    s1, s2 = _seed_word(seed, 0x5DEECE66D), _seed_word(seed, 0x9E3779B97F4A7C15)
    h = s1 ^ (lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    if n == 0:
        return h
    nwords = (lengths + 7) // 8
    width = int(nwords.max()) * 8
    chunk = 1 << 20
    for lo in range(0, n, chunk):  # bounded memory: about width MiB per chunk
        hi = min(n, lo + chunk)
        ln = lengths[lo:hi]
        block = np.zeros((hi - lo, width), dtype=np.uint8)
        L = int(ln[0])
        if (ln == L).all() and offsets[hi] - offsets[lo] == L * (hi - lo):
            block[:, :L] = data[offsets[lo] : offsets[hi]].reshape(hi - lo, L)
        else:  # ids of different lengths: gather byte position by byte position
            st = offsets[lo:hi]
            last = max(len(data) - 1, 0)
            for j in range(int(ln.max())):
                block[:, j] = np.where(ln > j, data[np.minimum(st + j, last)], 0)
        words = block.view("<u8")
        hc = h[lo:hi]
        nw = nwords[lo:hi]
        for k in range(words.shape[1]):
            # fold a word in: xor, odd multiply, xorshift (each a bijection of the state)
            mixed = (hc ^ words[:, k]) * _WORD_MULT
            mixed ^= mixed >> np.uint64(29)
            hc = mixed if (nw > k).all() else np.where(nw > k, mixed, hc)
        h[lo:hi] = hc
    return _fmix64(_fmix64(h ^ s2))


def prn(ids: pd.Series | np.ndarray | list[str], seed: int) -> np.ndarray:
    """Permanent random numbers: a uniform (0, 1) number per enterprise id.

    The number depends only on the id string (its UTF-8 bytes) and the province seed: not on the
    row order, the frame, the year or the platform (fixed-width unsigned 64-bit arithmetic on
    the UTF-8 bytes read as little-endian words, each folded in with MurmurHash3's avalanche
    mixer, keyed by the seed; see :func:`prn_hash`). The top 53 bits give the float
    ``(k + 0.5) / 2**53``, never 0 or 1.

    Parameters
    ----------
    ids : Series or array of str
        Enterprise ids (the 18-character 统一社会信用代码 in real registers).
    seed : int
        Province-level seed (params ``seed``).

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> u = prn(pd.Series(["91440101MA59XXXX1A", "91440101MA59XXXX2B"]), seed=1)
    >>> bool(((u > 0) & (u < 1)).all()), bool(prn(["91440101MA59XXXX2B"], seed=1)[0] == u[1])
    (True, True)
    """
    h = prn_hash(ids, seed)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


# ----------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SelectionSettings:
    """Settings of the selection (params ``seed`` and ``selection``).

    Parameters
    ----------
    seed : int
        Province seed of the permanent random numbers.
    method : {"srs", "pps"}
        Sequential simple random sampling (smallest PRN) or Pareto πps with exact inclusion
        probabilities proportional to ``employees`` (:func:`pareto_keys`).
    reserve_per_cell : int
        Reserve units listed per cell (the next ones in selection order).
    flag_smd : float
        Flag a cell when the retained panel's mean employees differs from the cell's frame
        mean by more than this many frame standard deviations.
    flag_min_retained : int
        Only cells with at least this many retained members are tested.
    calibration : CalibrationSettings
    panel_weights : {"two_group", "quasi"}
        Design weights of a cell holding retained legacy-panel members. "two_group" (default):
        the retained members are a take-all group (π = 1, weight 1) and the fresh units an SRS
        (or πps) of n_h − R_h from the N_h − R_h others; "quasi": the whole cell's sample is
        treated as if it were an SRS (πps) of n_h from N_h (quasi-randomisation).
    flag_panel_treatment : float
        Flag a cell when the two treatments' design-weighted employment totals differ by more
        than this share of the cell's frame employment (``panel_treatment_differs``).
    min_fresh : int
        In a cell holding retained legacy members, draw at least ``min(min_fresh, N_h − R_h)``
        fresh units even when the retained members fill (or exceed) the cell's places: the
        fresh group is then never empty, so the two-group weights and their variance hold in
        every cell (flag ``fresh_added``). Default 0: the allocation (the task table) is the
        contract; units beyond it are the province's decision, not the tool's.
    """

    seed: int
    method: SelectionMethod = "srs"
    reserve_per_cell: int = 5
    flag_smd: float = 0.5
    flag_min_retained: int = 3
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    panel_weights: PanelWeights = "two_group"
    flag_panel_treatment: float = 0.10
    min_fresh: int = 0

    @classmethod
    def from_params(cls, params: Any) -> SelectionSettings:
        """Read and check the ``selection`` section (every key optional)."""
        params.check_keys(
            "selection",
            {
                "method",
                "reserve_per_cell",
                "flag_smd",
                "contacts",
                "flag_min_retained",
                "calibration",
                "maintenance",
                "panel_weights",
                "flag_panel_treatment",
                "min_fresh",
            },
        )
        seed = params.get("seed", types=int)
        return cls(
            seed=int(seed),
            method=params.choice("selection.method", ("srs", "pps"), "srs"),
            reserve_per_cell=int(params.number("selection.reserve_per_cell", 5, low=0)),
            flag_smd=float(params.number("selection.flag_smd", 0.5, low=0)),
            flag_min_retained=int(params.number("selection.flag_min_retained", 3, low=1)),
            calibration=CalibrationSettings.from_params(params),
            panel_weights=params.choice(
                "selection.panel_weights", ("two_group", "quasi"), "two_group"
            ),
            flag_panel_treatment=float(
                params.number("selection.flag_panel_treatment", 0.10, low=0)
            ),
            min_fresh=int(params.number("selection.min_fresh", 0, low=0)),
        )


@dataclass(frozen=True)
class SelectionResult:
    """The selected panel and everything said about it.

    Attributes
    ----------
    sample : DataFrame
        The sample list (``SAMPLE_COLUMNS``), sorted by cell, then status, then PRN.
    reserves : DataFrame
        Per cell the next units in selection order (``RESERVE_COLUMNS``).
    representativeness : DataFrame
        Sample vs frame per dimension (city, section, size_class, ownership, total).
    cells : DataFrame
        Per cell: allocation, eligible units, sample counts by status, weighted totals.
    calibration : DataFrame
        Calibration diagnostics (key, value).
    calibration_totals : DataFrame
        Each calibration constraint: target, design and calibrated estimates.
    flags : DataFrame
        Cells with too few eligible units, over-full cells, panels unlike their frame cell,
        calibration failure (``FLAG_COLUMNS``).
    replacements : DataFrame
        Inactive former panel members and the units that took their places.
    """

    sample: pd.DataFrame
    reserves: pd.DataFrame
    representativeness: pd.DataFrame
    cells: pd.DataFrame
    calibration: pd.DataFrame
    calibration_totals: pd.DataFrame
    flags: pd.DataFrame
    replacements: pd.DataFrame
    method: str = "srs"
    calibration_converged: bool = True
    calibration_message: str = ""


# ------------------------------------------------------------------------------------ helpers
def _codes(values: pd.Series, categories: pd.Index) -> np.ndarray:
    """Position of each value in ``categories``; ``len(categories)`` when absent (int32)."""
    k = len(categories)
    if isinstance(values.dtype, pd.CategoricalDtype):
        # one look-up; code -1 (missing) picks the trailing sentinel
        mapping = categories.get_indexer(values.cat.categories.astype(str))
        mapping = np.append(np.where(mapping < 0, k, mapping), k).astype(np.int32)
        return mapping[values.cat.codes.to_numpy()]
    if isinstance(values.dtype, pd.StringDtype):
        # Strings compare as strings: look up the distinct values only (a register column
        # holds a few dozen), not every row (300 000 string conversions).
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        found = categories.get_indexer(pd.Series(uniques, dtype=values.dtype).astype(str))
        return np.where(found < 0, k, found).astype(np.int32)[codes]
    codes = categories.get_indexer(values.astype(str))
    return np.where(codes < 0, k, codes).astype(np.int32)


def cell_index(frame: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Row position in ``cells`` of each frame unit's cell (-1: the cell is not in the table)."""
    cats = [pd.Index(sorted(cells[col].astype(str).unique())) for col in CELL]
    span = int(np.prod([len(c) + 1 for c in cats], dtype=np.int64))
    dtype = np.int32 if span < 2**31 else np.int64
    key_f = np.zeros(len(frame), dtype=dtype)
    key_c = np.zeros(len(cells), dtype=np.int64)
    for col, cat in zip(CELL, cats, strict=True):
        key_f *= len(cat) + 1
        key_f += _codes(frame[col], cat)  # absent values use the sentinel slot
        key_c = key_c * (len(cat) + 1) + cat.get_indexer(cells[col].astype(str))
    if span <= 50_000_000:  # direct look-up table over the product of the categories
        lut = np.full(span, -1, dtype=np.int64)
        lut[key_c] = np.arange(len(cells))
        return lut[key_f]
    order = np.argsort(key_c, kind="stable")
    pos = np.minimum(np.searchsorted(key_c[order], key_f), len(cells) - 1)
    return np.where(key_c[order][pos] == key_f, order[pos], -1)


def pips(size: np.ndarray, group: np.ndarray, n_group: np.ndarray) -> np.ndarray:
    """πps inclusion probabilities ``min(1, n_h x_i / Σ x)`` per group, with take-all iteration.

    Units whose probability reaches 1 are taken with certainty and removed; the remaining
    ``n_h - k`` places are shared in proportion to size among the others, until none exceeds 1.

    Examples
    --------
    >>> pips(np.array([10.0, 1, 1, 1, 1]), np.zeros(5, int), np.array([2])).round(3).tolist()
    [1.0, 0.25, 0.25, 0.25, 0.25]
    """
    size = np.asarray(size, dtype=float)
    n_group = np.asarray(n_group, dtype=float)
    H = len(n_group)
    take_all = np.zeros(len(size), dtype=bool)
    lam = np.zeros(len(size))
    for _ in range(len(size) + 1):
        free = ~take_all
        total = np.bincount(group[free], weights=size[free], minlength=H)
        k = np.bincount(group[take_all], minlength=H)
        m = np.maximum(n_group - k, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(
                take_all, 1.0, np.where(total[group] > 0, m[group] * size / total[group], 0.0)
            )
        new = free & (lam >= 1.0)
        if not new.any():
            break
        take_all |= new
    return np.minimum(lam, 1.0)


#: Pareto πps: cells where (free candidates) × (places) is at most this get exact inclusion
#: probabilities and adjusted targets; larger cells use Rosén's targets as they are (their error
#: is in docs/selection.md).
PARETO_EXACT_LIMIT = 20000
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


def pareto_inclusion_probs(odds: np.ndarray, n: int) -> np.ndarray:
    """Exact inclusion probabilities of Pareto order sampling (Rosén 1997; Aires 1999).

    Units with odds θ_i get the ranking key ξ_i = [u_i/(1−u_i)] / θ_i (u_i uniform) and the
    ``n`` smallest keys are drawn, so P(ξ_i ≤ t) = F_i(t) = θ_i t/(1 + θ_i t) and

        π_i = ∫ f_i(t) P(fewer than n of the other units have ξ_j ≤ t) dt.

    The odds of F_j(t) are θ_j t, so the Poisson-binomial probability factorises:
    P(fewer than n others ≤ t) = Π_{j≠i} (1 + θ_j t)⁻¹ · Σ_{k<n} t^k e_k(θ_{−i}), with e_k the
    elementary symmetric polynomials of the other units' odds (computed in logs from prefix ×
    suffix products: positive terms only, no cancellation). The integral runs over log t with
    8-point Gauss–Legendre panels of width 2 from 22 below −log θ_max to 22 above −log θ_min
    (the integrand falls like e^{−|log t|} outside; error < 1e-8, checked against an
    independent integral in the tests).

    Parameters
    ----------
    odds : array
        θ_i > 0 of the units competing for the ``n`` places (take-alls removed).
    n : int
        Places, ``0 < n < len(odds)``.

    Returns
    -------
    array of π_i (summing to ``n``).
    """
    th = np.asarray(odds, dtype=float)
    N = len(th)
    if n <= 0:
        return np.zeros(N)
    if n >= N:
        return np.ones(N)
    lo, hi = -np.log(th.max()) - 22.0, -np.log(th.min()) + 22.0
    edges = np.linspace(lo, hi, int(np.ceil((hi - lo) / 2.0)) + 1)
    mid, half = (edges[:-1] + edges[1:]) / 2, (edges[1:] - edges[:-1]) / 2
    v = (mid[:, None] + half[:, None] * _GL_X).ravel()  # log t
    w = (half[:, None] * _GL_W).ravel()
    lt = np.log(th)
    ek = np.zeros((N, 1)) if n == 1 else _loo_log_esp(lt, n)
    x = lt[:, None] + v[None, :]  # log(θ_i t), (N, K)
    log1p_all = np.logaddexp(0.0, x)  # log(1 + θ_i t)
    log_p0 = -log1p_all.sum(axis=0)[None, :] + log1p_all  # Π_{j≠i} (1 + θ_j t)⁻¹
    poly = np.logaddexp.reduce(
        ek[:, None, :] + np.arange(n)[None, None, :] * v[None, :, None], axis=2
    )
    log_dens = x - 2.0 * log1p_all  # F_i (1 − F_i): the density of ξ_i in log t
    return np.exp(log_dens + log_p0 + poly) @ w


def _loo_log_esp(lt: np.ndarray, n: int) -> np.ndarray:
    """log e_k(θ_{−i}), k = 0…n−1, for every i (``lt`` = log θ), from prefix × suffix."""
    N = len(lt)
    if n == 2:  # e_1(θ_{−i}) = Σθ − θ_i, exact enough unless one unit holds nearly all the odds
        th = np.exp(lt)
        rest = th.sum() - th
        if (rest > 1e-9 * th.sum()).all():
            return np.column_stack([np.zeros(N), np.log(rest)])
    # log e_k of units 0…j−1 (prefix) and j…N−1 (suffix), k = 0…n−1
    pre = np.full((N + 1, n), -np.inf)
    pre[0, 0] = 0.0
    for j in range(N):
        pre[j + 1] = pre[j]
        pre[j + 1, 1:] = np.logaddexp(pre[j, 1:], lt[j] + pre[j, :-1])
    suf = np.full((N + 1, n), -np.inf)
    suf[N, 0] = 0.0
    for j in range(N - 1, -1, -1):
        suf[j] = suf[j + 1]
        suf[j, 1:] = np.logaddexp(suf[j + 1, 1:], lt[j] + suf[j + 1, :-1])
    # leave-one-out: log e_k(θ_{−i}) = logsumexp_a pre[i][a] + suf[i+1][k−a]
    ek = np.full((N, n), -np.inf)
    for k in range(n):
        terms = pre[:N, : k + 1] + suf[1:, k::-1]
        ek[:, k] = np.logaddexp.reduce(terms, axis=1)
    return ek


def pareto_odds(
    target: np.ndarray, n: int, *, tol: float = 1e-7, max_iter: int = 100
) -> np.ndarray:
    """Odds for Pareto πps whose exact inclusion probabilities equal ``target``.

    Rosén's odds λ/(1−λ) give inclusion probabilities close to λ except in small cells (N = 3,
    n = 1: up to 45 % off); the odds are rescaled by the fixed point
    θ ← θ · [λ/(1−λ)] / [π(θ)/(1−π(θ))] until every π(θ) is within ``tol`` (relative) of λ
    (:func:`pareto_inclusion_probs`). ``target`` must be in (0, 1) and sum to ``n``.
    """
    lam = np.asarray(target, dtype=float)
    goal = lam / (1.0 - lam)
    th = goal.copy()
    for _ in range(max_iter):
        pi = pareto_inclusion_probs(th, n)
        if np.max(np.abs(pi / lam - 1.0)) < tol:
            break
        pi = np.clip(pi, 1e-300, 1 - 1e-16)
        th = th * goal / (pi / (1.0 - pi))
        th = th / np.exp(np.mean(np.log(th / goal)))  # the scale is free: keep it near Rosén's
    return th


def pareto_keys(u: np.ndarray, lam: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Ranking keys of Pareto πps: ``u − 1`` for take-alls (λ ≥ 1, first), else
    [u/(1−u)] / θ with θ from :func:`pareto_odds` per group (Rosén's λ/(1−λ) in groups larger
    than :data:`PARETO_EXACT_LIMIT`); units with λ = 0 get +inf."""
    u = np.asarray(u, dtype=float)
    lam = np.asarray(lam, dtype=float)
    group = np.asarray(group)
    free = (lam > 0) & (lam < 1)
    odds = np.zeros(len(lam))
    odds[free] = lam[free] / (1.0 - lam[free])
    cache: dict[tuple[bytes, int], np.ndarray] = {}
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for members in np.split(order, bounds):
        if len(members) == 0:
            continue
        f = members[free[members]]
        m = int(round(float(lam[f].sum())))  # places left after take-alls: Σλ of the free
        if m < 1 or m >= len(f) or len(f) * m > PARETO_EXACT_LIMIT:
            continue
        key = (np.round(lam[f], 12).tobytes(), m)
        if key not in cache:
            # 1e-5: far inside the 1 % promise, and most large cells stop after one pass.
            cache[key] = pareto_odds(lam[f], m, tol=1e-5)
        odds[f] = cache[key]
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.where(
            lam >= 1, u - 1.0, np.where(free, (u / (1.0 - u)) / np.where(free, odds, 1.0), np.inf)
        )
    return xi


def _check_columns(df: pd.DataFrame, needed: list[str], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(
            f"{what}: missing column(s) {', '.join(missing)}; found "
            f"{', '.join(map(str, df.columns))}"
        )


def _plain_str(s: pd.Series) -> pd.Series:
    """A column as plain strings; categoricals through their categories (fast)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = np.append(s.cat.categories.astype(str).to_numpy(dtype=object), None)
        return pd.Series(cats[s.cat.codes.to_numpy()], index=s.index, dtype="str")
    return s.astype(str)


def _equals(s: pd.Series, value: str) -> np.ndarray:
    """``s == value`` as a bool array, without converting categoricals to strings."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return (s == value).to_numpy(dtype=bool, na_value=False)
    return (s.astype(str) == value).to_numpy(dtype=bool)


def _as_bool(s: pd.Series) -> np.ndarray:
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype(str).str.lower().isin(["true", "1", "yes", "是"]).to_numpy()


# ----------------------------------------------------------------------------------- selection
def select_sample(
    frame: pd.DataFrame, cells: pd.DataFrame, settings: SelectionSettings
) -> SelectionResult:
    """Select the panel cell by cell: keep the active existing members, fill the other places.

    Parameters
    ----------
    frame : DataFrame
        The classified register (``enterprise_id, name, city, section, size_class, ownership,
        employees, status, in_panel, in_monthly``; ``export_share, registration_type,
        division`` are carried over when present).
    cells : DataFrame
        The allocation (``city, section, size_class, ownership, n, n_monthly``, …). Units whose
        cell is not in the table are out of scope.
    settings : SelectionSettings

    Returns
    -------
    SelectionResult

    Notes
    -----
    In each cell ``h`` with ``n_h`` places and ``N_h`` eligible (active, in-scope) units:

    * every active existing panel member is kept (status ``retained``), even beyond ``n_h``
      (flagged);
    * the remaining ``n_h - R_h`` places go to the other eligible units in increasing PRN
      (``srs``) or increasing Pareto key ``[PRN/(1−PRN)] / θ_i`` with odds θ_i set so the
      inclusion probability is exactly ``λ_i = (n_h - R_h) x_i / Σx`` (``pps``, take-alls
      first; :func:`pareto_keys`); the first ones up to the number of inactive
      former members of the cell have status ``replacement``, the rest ``new``;
    * ``inclusion_prob`` follows the quasi-randomisation model: the cell's whole sample is
      treated as a SRS of ``n_h`` out of ``N_h`` (``srs``) or a πps sample of ``n_h`` on
      employees (``pps``); ``weight = 1 / inclusion_prob``. ``selection_prob`` is the probability
      of the draw actually made (1 for retained members).

    Examples
    --------
    >>> frame = pd.DataFrame({"enterprise_id": list("abcd"), "name": list("ABCD"),
    ...     "city": "广州市", "section": "C", "size_class": "small", "ownership": "private",
    ...     "employees": [60, 80, 100, 120], "status": "active",
    ...     "in_panel": [True, False, False, False], "in_monthly": False})
    >>> cells = pd.DataFrame({"city": ["广州市"], "section": ["C"], "size_class": ["small"],
    ...     "ownership": ["private"], "n": [2], "n_monthly": [1]})
    >>> res = select_sample(frame, cells, SelectionSettings(seed=1))
    >>> res.sample["status"].tolist()[0], len(res.sample), float(res.sample["weight"].sum())
    ('retained', 2, 4.0)
    """
    _check_columns(frame, FRAME_COLUMNS, "frame")
    _check_columns(cells, [*CELL, "n", "n_monthly"], "allocation cells")
    if "employees_band" in cells.columns and cells.duplicated(CELL).any():
        raise InputError(
            "allocation cells are split by employee band (a rule with "
            "where.employees); selection does not yet select within bands, so the "
            "band rule would not hold in the sample — see docs/allocation.md §4"
        )
    cells = cells.sort_values(CELL, kind="stable").reset_index(drop=True)
    H = len(cells)
    n_alloc = cells["n"].to_numpy(dtype=np.int64)
    n_monthly = cells["n_monthly"].to_numpy(dtype=np.int64)

    cell = cell_index(frame, cells)
    active = _equals(frame["status"], "active")
    in_panel = _as_bool(frame["in_panel"])
    in_monthly = _as_bool(frame["in_monthly"])
    eligible = active & (cell >= 0)
    employees = frame["employees"].to_numpy(dtype=float)

    idx = np.flatnonzero(eligible | (in_panel & (cell >= 0)))
    full = len(idx) == len(frame)

    def sub(a: np.ndarray) -> np.ndarray:  # restrict to the units in play (no copy if all are)
        return a if full else a[idx]

    # Hash every id (cheaper than gathering the eligible ones out of an Arrow column first).
    hashes = sub(prn_hash(frame["enterprise_id"], settings.seed))
    u_sub = ((hashes >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    el = sub(eligible)
    c_sub = sub(cell)
    pan = sub(in_panel)

    # Counts per cell.
    N_h = np.bincount(c_sub[el], minlength=H)
    R_h = np.bincount(c_sub[el & pan], minlength=H)
    D_h = np.bincount(c_sub[~el & pan], minlength=H)  # inactive former members to replace
    fill = np.maximum(n_alloc - R_h, 0)

    cand = el & ~pan
    C_h = np.bincount(c_sub[cand], minlength=H)
    # A cell filled by its retained members still gets fresh units (min_fresh): without a
    # fresh group nothing stands for the cell's other units, whose weight the purposive
    # members would otherwise carry (conditionally biased, with no variance to show it).
    fill = np.where(R_h > 0, np.maximum(fill, np.minimum(settings.min_fresh, C_h)), fill)
    order_key = u_sub
    lam_cand = np.zeros(len(idx))
    if settings.method == "pps":
        size = np.maximum(sub(employees), 1.0)  # every unit keeps a positive PPS probability
        lam_cand[cand] = pips(size[cand], c_sub[cand], fill)
        # Pareto πps with odds adjusted so the true inclusion probabilities equal λ (take-alls
        # first); sequential Poisson keys u/λ were up to 28 % off in small cells.
        xi = pareto_keys(u_sub[cand], lam_cand[cand], c_sub[cand])
        order_key = u_sub.copy()
        order_key[cand] = xi

    # Only the first fill_h + reserve candidates of a cell matter: keep the units below a
    # per-cell threshold of the ordering key, raised until each cell has enough (exact, and it
    # spares sorting 10 million rows).
    need = fill + settings.reserve_per_cell
    with np.errstate(divide="ignore", invalid="ignore"):
        thr = np.where(C_h > 0, (need + 3 * np.sqrt(need) + 5) / np.maximum(C_h, 1), 0.0)
    if settings.method == "pps":
        thr = (need + 3 * np.sqrt(need) + 5) / np.maximum(fill, 1)
    cand_pos = np.flatnonzero(cand)
    cand_key, cand_cell = order_key[cand_pos], c_sub[cand_pos]
    for _ in range(64):
        below = cand_key < thr[cand_cell]
        got = np.bincount(cand_cell[below], minlength=H)
        short = (got < need) & (got < C_h)
        if not short.any():
            break
        thr[short] = np.where(thr[short] > 1e6, np.inf, thr[short] * 4)
    kept = el & pan
    kept[cand_pos[below]] = True
    keep = np.flatnonzero(kept)

    # Sort the kept units by cell, retained members first, then selection order.
    prio = (~pan[keep]).astype(np.int8)
    order = keep[np.lexsort((hashes[keep], order_key[keep], prio, c_sub[keep]))]
    c_s = c_sub[order]
    counts = np.bincount(c_s, minlength=H)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(order)) - starts[c_s]
    is_ret = pan[order]
    cand_rank = rank - R_h[c_s]  # 0-based position among the candidates of the cell
    selected = is_ret | (cand_rank < fill[c_s])
    top = np.maximum(fill, 0)
    reserve = ~is_ret & (cand_rank >= top[c_s]) & (cand_rank < top[c_s] + settings.reserve_per_cell)

    sel_pos = order[selected]  # positions in idx
    sel_rows = idx[sel_pos]
    sel_cell = c_sub[sel_pos]
    n_sel = np.bincount(sel_cell, minlength=H)
    status = np.where(
        is_ret[selected],
        "retained",
        np.where(cand_rank[selected] < D_h[sel_cell], "replacement", "new"),
    )

    # Inclusion probabilities (quasi-randomisation) and the draw's own probability.
    if settings.method == "pps":
        el_pos = np.flatnonzero(el)
        pi_all = np.zeros(len(idx))
        pi_all[el_pos] = pips(size[el_pos], c_sub[el_pos], n_sel.astype(float))
        pi = pi_all[sel_pos]
        sel_prob = np.where(is_ret[selected], 1.0, lam_cand[sel_pos])
    else:
        pi = n_sel[sel_cell] / N_h[sel_cell]
        with np.errstate(divide="ignore", invalid="ignore"):
            p_c = np.where(C_h > 0, np.minimum(fill, C_h) / np.where(C_h > 0, C_h, 1), 0.0)
        sel_prob = np.where(is_ret[selected], 1.0, p_c[sel_cell])
    # Two design groups per cell: the retained legacy members (purposive, a take-all group of
    # themselves) and the fresh units, a probability sample of n_h − R_h from N_h − R_h — whose
    # inclusion probability is exactly the draw's own. The quasi-randomisation weight is kept
    # for the sensitivity columns of the cell table.
    # A cell whose places all went to retained members has no fresh group to stand for its
    # other units: there the retained members keep the quasi-randomisation weight.
    quasi_weight = 1.0 / pi
    if settings.panel_weights == "two_group":
        fresh_h = np.bincount(sel_cell[~is_ret[selected]], minlength=H)
        pi = np.where((fresh_h[sel_cell] > 0) | (C_h[sel_cell] == 0), sel_prob, pi)
    weight = 1.0 / pi

    take = ["enterprise_id", "name", *CELL, "employees"]
    extra = [
        c for c in ("export_share", "registration_type", "division", "county") if c in frame.columns
    ]
    # One gather from the (possibly Arrow-backed, 10-million-row) frame for every row we report.
    res_pos = order[reserve]
    gone = np.flatnonzero(~el & pan)
    block = (
        frame[[*take, *extra, "status"]]
        .iloc[np.concatenate([sel_rows, idx[res_pos], idx[gone]])]
        .reset_index(drop=True)
    )
    n1, n2 = len(sel_rows), len(sel_rows) + len(res_pos)
    sample = block.iloc[:n1][take + extra].reset_index(drop=True)
    for col in CELL:  # plain strings from here on (categoricals convert slowly, repeatedly)
        sample[col] = _plain_str(sample[col])
    sample["status"] = status
    sample["prn"] = u_sub[sel_pos]
    sample["inclusion_prob"] = pi
    sample["weight"] = weight
    sample["_quasi_weight"] = quasi_weight
    sample["cell_frame_units"] = N_h[sel_cell]
    sample["cell_n"] = n_sel[sel_cell]
    sample["selection_prob"] = sel_prob
    sample["_cell"] = sel_cell
    sample["_hash"] = hashes[sel_pos]
    sample["_in_monthly"] = in_monthly[sel_rows]
    sample["_status_rank"] = pd.Categorical(status, categories=list(STATUS_ORDER)).codes
    for col in ("export_share", "registration_type", "division"):
        if col not in sample.columns:
            sample[col] = pd.NA
    sample = sample.sort_values(
        ["_cell", "_status_rank", "prn", "_hash"], kind="stable"
    ).reset_index(drop=True)

    # Monthly subsample: existing monthly-network members first, then PRN order.
    mon = sample.sort_values(
        ["_cell", "_in_monthly", "prn", "_hash"], ascending=[True, False, True, True], kind="stable"
    )
    mrank = mon.groupby("_cell", sort=False).cumcount().to_numpy()
    monthly = np.zeros(len(sample), dtype=bool)
    monthly[mon.index.to_numpy()] = mrank < n_monthly[mon["_cell"].to_numpy()]
    sample["monthly"] = monthly

    # Calibration to the in-scope population's margins, from cell totals (not unit rows).
    emp_el = sub(employees)[el]
    X_h = np.bincount(c_sub[el], weights=emp_el, minlength=H)
    X2_h = np.bincount(c_sub[el], weights=emp_el**2, minlength=H)
    population = cells.loc[N_h > 0, CELL].assign(units=N_h[N_h > 0], employees=X_h[N_h > 0])
    cal = calibrate(sample, sample["weight"].to_numpy(), population, settings.calibration)
    sample["calibrated_weight"] = cal.weights

    reserves = _reserves(
        block.iloc[n1:n2],
        res_pos,
        c_sub,
        u_sub,
        order_key,
        cand_rank[reserve] - top[c_s[reserve]] + 1,
        cells,
    )
    cell_table = _cell_table(cells, sample, X_h, N_h, D_h, n_sel)
    flags = _flags(cells, cell_table, sample, N_h, X_h, X2_h, settings, cal)
    replacements = _replacement_log(block.iloc[n2:], gone, c_sub, u_sub, hashes, sample, cells)
    # Represented population: the in-scope units of margin categories that hold sample units
    # (e.g. micro enterprises, excluded by rule, are listed apart as not represented).
    covered = cal.covered if cal.covered is not None else np.ones(len(population), bool)
    rep = representativeness(sample, population[covered])
    if not covered.all():
        gone = population[~covered]
        rep = pd.concat(
            [
                rep,
                pd.DataFrame(
                    {
                        "dimension": "not_represented",
                        "category": cal.diagnostics.set_index("key").loc[
                            "uncovered_categories", "value"
                        ],
                        "frame_units": [int(gone["units"].sum())],
                        "frame_employment": [float(gone["employees"].sum())],
                    }
                ),
            ],
            ignore_index=True,
        )
        rep = rep.fillna({c: 0 for c in rep.columns if c not in ("dimension", "category")})
        rep = rep.astype({"frame_units": np.int64, "sample_n": np.int64})

    # The register's optional 县(区) rides along only when the register has it.
    sample = sample[[*SAMPLE_COLUMNS, *(["county"] if "county" in frame.columns else [])]].copy()
    return SelectionResult(
        sample=sample,
        reserves=reserves,
        representativeness=rep,
        cells=cell_table,
        calibration=cal.diagnostics,
        calibration_totals=cal.totals,
        flags=flags,
        replacements=replacements,
        method=settings.method,
        calibration_converged=cal.converged,
        calibration_message=cal.message,
    )


def _reserves(part, res_pos, c_sub, u_sub, order_key, res_rank, cells) -> pd.DataFrame:
    out = cells.iloc[c_sub[res_pos]][CELL].reset_index(drop=True)
    out["reserve_rank"] = res_rank.astype(np.int64)
    out = pd.concat(
        [out, part[["enterprise_id", "name", "employees"]].reset_index(drop=True)], axis=1
    )
    out["prn"] = u_sub[res_pos]
    out["order_key"] = order_key[res_pos]
    out["_cell"] = c_sub[res_pos]
    out = out.sort_values(["_cell", "reserve_rank"], kind="stable").reset_index(drop=True)
    return out[RESERVE_COLUMNS]


def _cell_table(cells, sample, X_h, N_h, D_h, n_sel) -> pd.DataFrame:
    H = len(cells)
    sc = sample["_cell"].to_numpy()
    se = sample["employees"].to_numpy(dtype=float)
    w = sample["weight"].to_numpy()
    qw = sample["_quasi_weight"].to_numpy()
    cw = sample["calibrated_weight"].to_numpy()
    out = cells[CELL].copy()
    out["n_allocated"] = cells["n"].to_numpy(dtype=np.int64)
    out["eligible_units"] = N_h
    out["eligible_employment"] = X_h
    out["sample_n"] = n_sel
    for st in STATUS_ORDER:
        out[st] = np.bincount(sc[sample["status"].to_numpy() == st], minlength=H)
    out["inactive_members"] = D_h
    out["weighted_units"] = np.bincount(sc, weights=w, minlength=H)
    out["weighted_employment"] = np.bincount(sc, weights=w * se, minlength=H)
    out["calibrated_units"] = np.bincount(sc, weights=cw, minlength=H)
    out["calibrated_employment"] = np.bincount(sc, weights=cw * se, minlength=H)
    # Sensitivity to the treatment of the legacy panel: the cell's employment total under the
    # other treatment (two design groups vs quasi-randomisation) and the gap in % of the frame.
    out["quasi_weighted_employment"] = np.bincount(sc, weights=qw * se, minlength=H)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["panel_treatment_gap_pct"] = np.where(
            X_h > 0,
            100 * (out["quasi_weighted_employment"] - out["weighted_employment"]) / X_h,
            0.0,
        )
    out["shortfall"] = np.maximum(out["n_allocated"] - n_sel, 0)
    return out


def _flags(cells, table, sample, N_h, X_h, X2_h, settings, cal) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    H = len(cells)
    short = table[table["shortfall"] > 0]
    for r in short.itertuples(index=False):
        rows.append(
            {
                **{c: getattr(r, c) for c in CELL},
                "flag": "too_few_eligible",
                "severity": "error",
                "value": int(r.shortfall),
                "message": f"cell allocated {r.n_allocated} places but has only "
                f"{r.eligible_units} eligible active units: {r.shortfall} "
                "place(s) unfilled; merge the cell or move the places in the "
                "allocation",
            }
        )
    added = table[
        (table["new"] + table["replacement"] > 0) & (table["sample_n"] > table["n_allocated"])
    ]
    added = added[added["sample_n"] - np.maximum(added["retained"], added["n_allocated"]) > 0]
    for r in added.itertuples(index=False):
        extra = int(r.sample_n - max(r.retained, r.n_allocated))
        rows.append(
            {
                **{c: getattr(r, c) for c in CELL},
                "flag": "fresh_added",
                "severity": "warning",
                "value": extra,
                "message": f"{r.retained} retained members fill the cell's {r.n_allocated} "
                f"places: {extra} fresh unit(s) drawn beyond the allocation "
                f"(selection.min_fresh = {settings.min_fresh}) so that the cell's other "
                "units are represented by a probability sample",
            }
        )
    over = table[table["retained"] > table["n_allocated"]]
    for r in over.itertuples(index=False):
        rows.append(
            {
                **{c: getattr(r, c) for c in CELL},
                "flag": "retained_exceeds_allocation",
                "severity": "warning",
                "value": int(r.retained - r.n_allocated),
                "message": f"{r.retained} active existing members kept although the "
                f"allocation gives {r.n_allocated} places",
            }
        )
    # Retained panel vs frame: standardised mean difference of employees per cell.
    cnt = N_h.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = X_h / cnt
        var = X2_h / cnt - mean**2
        ret = sample["status"].to_numpy() == "retained"
        sc = sample["_cell"].to_numpy()[ret]
        se = sample["employees"].to_numpy(dtype=float)[ret]
        rc = np.bincount(sc, minlength=H)
        rmean = np.bincount(sc, weights=se, minlength=H) / rc
        sd = np.sqrt(np.maximum(var, 0))
        smd = np.where(sd > 0, (rmean - mean) / sd, 0.0)
    bad = np.flatnonzero(
        (rc >= settings.flag_min_retained) & (np.abs(smd) > settings.flag_smd) & (rc < cnt)
    )
    differs = cells.iloc[bad][CELL].reset_index(drop=True)
    differs["flag"] = "panel_differs_from_frame"
    differs["severity"] = "warning"
    differs["value"] = np.round(smd[bad], 3)
    differs["message"] = [
        f"the {rc[h]} retained members average {rmean[h]:.0f} employees against {mean[h]:.0f} "
        f"in the frame cell (standardised difference {smd[h]:+.2f}, limit "
        f"{settings.flag_smd}); calibrated weights correct the totals, not the selection"
        for h in bad
    ]
    gap = table["panel_treatment_gap_pct"].to_numpy()
    for h in np.flatnonzero(
        (table["retained"].to_numpy() > 0) & (np.abs(gap) > 100 * settings.flag_panel_treatment)
    ):
        r = table.iloc[h]
        rows.append(
            {
                **{c: r[c] for c in CELL},
                "flag": "panel_treatment_differs",
                "severity": "warning",
                "value": round(float(gap[h]), 1),
                "message": f"{int(r['retained'])} retained legacy members: treating the "
                "cell's sample as one random sample (quasi-randomisation) "
                f"instead of two design groups moves its employment total by "
                f"{gap[h]:+.1f}% of the frame ({r['quasi_weighted_employment']:,.0f}"
                f" vs {r['weighted_employment']:,.0f}); estimates of its domains "
                "depend on how the legacy panel was chosen (docs/selection.md)",
            }
        )
    if not cal.converged:
        rows.append(
            {
                **dict.fromkeys(CELL, ""),
                "flag": "calibration_failed",
                "severity": "error",
                "value": ", ".join(cal.conflicts),
                "message": cal.message,
            }
        )
    out = (
        pd.concat(
            [pd.DataFrame(rows, columns=FLAG_COLUMNS), differs[FLAG_COLUMNS]], ignore_index=True
        )
        if len(differs)
        else pd.DataFrame(rows, columns=FLAG_COLUMNS)
    )
    for col in CELL:
        out[col] = out[col].astype(str)
    return out.sort_values([*CELL, "flag"], kind="stable").reset_index(drop=True)


def _replacement_log(who, gone, c_sub, u_sub, hashes, sample, cells) -> pd.DataFrame:
    """Pair inactive former members with replacement units of the same cell, both in PRN order."""
    cols = [*CELL, "retired_id", "retired_name", "reason", "replacement_id", "replacement_name"]
    if len(gone) == 0:
        return pd.DataFrame(columns=cols)
    g = pd.DataFrame(
        {
            "_cell": c_sub[gone],
            "prn": u_sub[gone],
            "_hash": hashes[gone],
            "retired_id": who["enterprise_id"].to_numpy(),
            "retired_name": who["name"].to_numpy(),
            "reason": who["status"].astype(str).to_numpy(),
        }
    )
    g = g.sort_values(["_cell", "prn", "_hash"], kind="stable")
    g["_k"] = g.groupby("_cell").cumcount()
    r = sample.loc[sample["status"] == "replacement", ["_cell", "enterprise_id", "name"]].copy()
    r["_k"] = r.groupby("_cell").cumcount()
    r = r.rename(columns={"enterprise_id": "replacement_id", "name": "replacement_name"})
    out = g.merge(r, on=["_cell", "_k"], how="left")
    out = pd.concat(
        [
            cells.iloc[out["_cell"].to_numpy()][CELL].reset_index(drop=True),
            out.reset_index(drop=True),
        ],
        axis=1,
    )
    return out.sort_values(["_cell", "_k"], kind="stable")[cols].reset_index(drop=True)


def representativeness(sample: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Sample against frame by city, section, size class, ownership and in total.

    ``population`` holds the in-scope units, or aggregated rows with a ``units`` count and
    their total ``employees`` (as :func:`select_sample` passes cell totals).

    Columns: ``dimension, category, frame_units, frame_employment, frame_share, sample_n,
    sample_share, weighted_units, weighted_employment, calibrated_units,
    calibrated_employment``. Shares are of units.
    """
    from samplekit.calibration import labels_and_codes

    parts = []
    pu = (
        population["units"].to_numpy(dtype=float)
        if "units" in population.columns
        else np.ones(len(population))
    )
    N, n = pu.sum(), len(sample)
    pe = population["employees"].to_numpy(dtype=float)
    se = sample["employees"].to_numpy(dtype=float)
    w = sample["weight"].to_numpy(dtype=float)
    cw = sample["calibrated_weight"].to_numpy(dtype=float)
    for dim in [*CELL, "total"]:
        if dim == "total":
            cats = ["全部"]
            fcode, scode = np.zeros(len(pu), dtype=np.int64), np.zeros(n, dtype=np.int64)
        else:
            fcode, fcats = labels_and_codes(population[dim])
            scats = sorted(set(sample[dim].astype(str).unique()))
            cats = sorted(set(fcats) | set(scats))
            fcode = pd.Index(cats).get_indexer(pd.Index(fcats))[fcode] if len(pu) else fcode
            scode = pd.Index(cats).get_indexer(sample[dim].astype(str))
        K = len(cats)
        t = pd.DataFrame({"dimension": dim, "category": cats})
        t["frame_units"] = np.rint(np.bincount(fcode, weights=pu, minlength=K)).astype(np.int64)
        t["frame_employment"] = np.bincount(fcode, weights=pe, minlength=K)
        t["frame_share"] = t["frame_units"] / max(N, 1)
        t["sample_n"] = np.bincount(scode, minlength=K).astype(np.int64)
        t["sample_share"] = t["sample_n"] / max(n, 1)
        t["weighted_units"] = np.bincount(scode, weights=w, minlength=K)
        t["weighted_employment"] = np.bincount(scode, weights=w * se, minlength=K)
        t["calibrated_units"] = np.bincount(scode, weights=cw, minlength=K)
        t["calibrated_employment"] = np.bincount(scode, weights=cw * se, minlength=K)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------ params & files


SAMPLE_HEADERS_ZH: dict[str, str] = {
    "enterprise_id": "统一社会信用代码",
    "name": "企业名称",
    "city": "地市",
    "section": "行业门类",
    "section_name": "行业名称",
    "size_class": "企业规模",
    "ownership": "所有制",
    "employees": "从业人数",
    "status": "入样状态",
    "monthly": "失业动态监测(月报)",
    "prn": "永久随机数",
    "inclusion_prob": "入样概率",
    "weight": "设计权数",
    "calibrated_weight": "校准权数",
    "cell_frame_units": "层内框内企业数",
    "cell_n": "层样本量",
    "selection_prob": "抽取概率",
    "export_share": "出口比重",
    "registration_type": "登记注册类型",
    "division": "行业大类",
    "county": "县(区)",
    "reserve_rank": "备选顺序",
    "order_key": "排序键",
    "dimension": "维度",
    "category": "类别",
    "frame_units": "框内企业数",
    "frame_employment": "框内从业人数",
    "frame_share": "框内占比",
    "sample_n": "样本企业数",
    "sample_share": "样本占比",
    "weighted_units": "加权企业数(设计权数)",
    "weighted_employment": "加权从业人数(设计权数)",
    "calibrated_units": "加权企业数(校准权数)",
    "calibrated_employment": "加权从业人数(校准权数)",
    "quasi_weighted_employment": "加权从业人数(准随机化权数,敏感性)",
    "retained": "保留企业数",
    "eligible_employment": "可入样从业人数",
    "panel_treatment_gap_pct": "两种老样本处理之差(占框内从业人数%)",
}


def write_selection(
    result: SelectionResult, out_dir: str | Path, params: Any, *, data_note: str = ""
) -> list[Path]:
    """Write the sample list, reserves, representativeness and the cities' workbook.

    Files: ``sample_list.csv``, ``reserve_list.csv``, ``representativeness.csv``,
    ``selection_cells.csv``, ``calibration.csv``, ``selection_flags.csv``,
    ``replacement_log.csv`` (all ``utf-8-sig``) and ``sample_list.xlsx`` (监测企业名单: one sheet
    per city with Chinese headers, and an 说明 sheet).
    """
    from samplekit import __version__
    from samplekit.io import write_csv, write_xlsx
    from samplekit.reference import OWNERSHIP_ZH, SIZE_CLASSES_ZH, section_names

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_csv(_round_sample(result.sample), out / "sample_list.csv"),
        write_csv(_round_sample(result.reserves), out / "reserve_list.csv"),
        write_csv(_round_sample(result.representativeness), out / "representativeness.csv"),
        write_csv(_round_sample(result.cells), out / "selection_cells.csv"),
        write_csv(result.calibration, out / "calibration.csv"),
        write_csv(_round_sample(result.calibration_totals), out / "calibration_totals.csv"),
        write_csv(result.flags, out / "selection_flags.csv"),
        write_csv(result.replacements, out / "replacement_log.csv"),
    ]
    names = section_names()
    zh = result.sample.copy()
    zh.insert(zh.columns.get_loc("section") + 1, "section_name", zh["section"].map(names))
    zh["size_class"] = zh["size_class"].map(SIZE_CLASSES_ZH).fillna(zh["size_class"])
    zh["ownership"] = zh["ownership"].map(OWNERSHIP_ZH).fillna(zh["ownership"])
    zh["status"] = zh["status"].map(STATUS_ZH)
    zh["monthly"] = np.where(zh["monthly"], "是", "否")
    zh = _round_sample(zh.drop(columns=["selection_prob"]))
    sheets = {
        str(city): g.drop(columns="city").reset_index(drop=True)
        for city, g in zh.groupby("city", sort=True)
    }
    titles = {c: f"{c}监测企业名单({len(g)}家)" for c, g in sheets.items()}
    about = {
        "名单": "监测企业名单(企业用工定点监测扩面)",
        "参数文件": str(params.path.name),
        "参数摘要": params.digest()[:16],
        "省级随机数种子": params.get("seed"),
        "抽样方法": "层内序贯简单随机抽样(永久随机数)"
        if result.method == "srs"
        else "层内序贯泊松抽样(按从业人数的概率比例)",
        "样本企业数": len(result.sample),
        "其中保留/替换/新增": "/".join(
            str(int((result.sample["status"] == s).sum())) for s in STATUS_ORDER
        ),
        "失业动态监测样本": int(result.sample["monthly"].sum()),
        "权数": "设计权数=1/入样概率;校准权数按地市、行业、规模、所有制的企业数和从业人数校准",
        "校准": result.calibration_message,
        "samplekit 版本": __version__,
    }
    from samplekit.io import standard_about

    written.append(
        write_xlsx(
            sheets,
            out / "sample_list.xlsx",
            headers=SAMPLE_HEADERS_ZH,
            titles=titles,
            about=standard_about(params, extra=about),
            source="企业名录(框)与样本分配结果",
            units="单位:人(从业人数)",
            data_note=data_note,
        )
    )
    return written


def check_method(method: str) -> SelectionMethod:
    """Validate a selection method name (for CLI flags)."""
    if method not in ("srs", "pps"):
        raise ParamsError(f"selection method {method!r} is not one of srs, pps")
    return method  # type: ignore[return-value]


def synthetic_frame(
    units: int,
    cells: int,
    *,
    sample_size: int | None = None,
    panel_share: float = 0.01,
    inactive_share: float = 0.03,
    rng: np.random.Generator | int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic register and allocation following the contracts, for tests and benchmarks.

    ``cells`` cells (cities × sections × size classes × ownership groups) of random sizes; an
    existing panel of about ``panel_share`` of the units; ``inactive_share`` closed/moved/
    suspended units; an allocation of ``sample_size`` places (default 1% of the units)
    proportional to cell size, at least the cell's active panel members and at most its eligible
    units. Columns are categoricals (as a 10M-row register would be loaded).
    """
    rng = np.random.default_rng(rng)
    sizes = ("large", "medium", "small", "micro")
    owners = ("state", "collective", "private", "hmt", "foreign")
    sections = tuple("ABCDEFGHIJKLMNOPQRST")
    n_city = max(1, int(np.ceil(cells / (len(sizes) * len(owners) * len(sections)))))
    cities = tuple(f"市{k:02d}" for k in range(n_city))
    grid = pd.MultiIndex.from_product([cities, sections, sizes, owners], names=CELL)
    grid = grid[np.sort(rng.choice(len(grid), size=min(cells, len(grid)), replace=False))]
    table = grid.to_frame(index=False)
    share = rng.gamma(0.7, size=len(table))
    cell_of = rng.choice(len(table), size=units, p=share / share.sum())
    if units >= len(table):  # every cell holds at least one unit
        cell_of[: len(table)] = np.arange(len(table))
    frame = pd.DataFrame(
        {
            col: pd.Categorical.from_codes(
                pd.Categorical(table[col]).codes[cell_of],
                categories=pd.Categorical(table[col]).categories,
            )
            for col in CELL
        }
    )
    frame.insert(
        0, "enterprise_id", pd.Series([f"9144{k:014d}" for k in range(units)], dtype="str")
    )
    frame.insert(1, "name", pd.Series([f"企业{k}" for k in range(units)], dtype="str"))
    base = np.array([800.0, 200.0, 60.0, 10.0])[
        pd.Categorical(table["size_class"], categories=sizes).codes[cell_of]
    ]
    frame["employees"] = np.maximum(1, rng.lognormal(np.log(base), 0.5)).astype(np.int64)
    frame["status"] = pd.Categorical(
        np.where(
            rng.random(units) < inactive_share,
            rng.choice(["closed", "moved", "suspended"], size=units),
            "active",
        ),
        categories=["active", "closed", "suspended", "moved"],
    )
    frame["in_panel"] = rng.random(units) < panel_share
    frame["in_monthly"] = frame["in_panel"] & (rng.random(units) < 0.2)
    frame["export_share"] = np.round(rng.random(units) * 0.5, 3)
    frame["registration_type"] = "173"
    frame["division"] = pd.NA
    active = (frame["status"] == "active").to_numpy()
    N = np.bincount(cell_of[active], minlength=len(table))
    R = np.bincount(cell_of[active & frame["in_panel"].to_numpy()], minlength=len(table))
    total = sample_size if sample_size is not None else max(len(table), units // 100)
    n = np.maximum(np.floor(total * N / max(N.sum(), 1)).astype(np.int64), R)
    n = np.minimum(np.maximum(n, np.minimum(N, 1)), N)
    table["frame_units"] = N
    table["frame_employment"] = np.bincount(
        cell_of[active], weights=frame["employees"].to_numpy()[active], minlength=len(table)
    )
    table["existing"] = R
    table["existing_monthly"] = np.bincount(
        cell_of[active & frame["in_monthly"].to_numpy()], minlength=len(table)
    )
    table["n"] = n
    table["n_monthly"] = np.maximum(table["existing_monthly"], n // 10)
    table["n_monthly"] = np.minimum(table["n_monthly"], n)
    return frame, table


# ---------------------------------------------------------------------------- report helpers
CITY_SUMMARY_HEADERS_ZH: dict[str, str] = {
    "city": "地市",
    "sample_n": "样本企业",
    "retained": "保留",
    "replacement": "替换",
    "new": "新增",
    "monthly": "月报子样本",
    "reserves": "备选企业",
    "eligible_units": "框内可入样企业",
    "retained_share": "保留占比",
}


def city_summary(result: SelectionResult) -> pd.DataFrame:
    """Per city: sample size by status, monthly subsample, reserves and eligible units."""
    s = result.sample
    out = pd.crosstab(s["city"].astype(str), s["status"]).reindex(
        columns=list(STATUS_ORDER), fill_value=0
    )
    out.insert(0, "sample_n", out.sum(axis=1))
    out["monthly"] = s.groupby(s["city"].astype(str))["monthly"].sum()
    out["reserves"] = result.reserves.groupby(result.reserves["city"].astype(str)).size()
    out["eligible_units"] = result.cells.groupby(result.cells["city"].astype(str))[
        "eligible_units"
    ].sum()
    out = out.fillna(0).astype(np.int64)
    out["retained_share"] = (out["retained"] / out["sample_n"]).round(4)
    return out.reset_index(names="city").sort_values("city").reset_index(drop=True)


def summary_lines(result: SelectionResult) -> list[str]:
    """Key figures of a selection as short Chinese sentences (rounded, for reports)."""
    s = result.sample
    counts = s["status"].value_counts()
    diag = dict(zip(result.calibration["key"], result.calibration["value"], strict=True))
    short = result.flags[result.flags["flag"] == "too_few_eligible"]
    differs = result.flags[result.flags["flag"] == "panel_differs_from_frame"]
    method = (
        "层内按永久随机数顺序抽取(序贯简单随机抽样)"
        if result.method == "srs"
        else "层内按从业人数序贯泊松抽样(πps)"
    )
    lines = [
        f"样本企业 {len(s)} 家,分布在 {s['city'].nunique()} 个地市、"
        f"{len(result.cells[result.cells['sample_n'] > 0])} 个抽样层;{method}",
        f"保留现有监测企业 {counts.get('retained', 0)} 家,替换已关闭/迁出/停业企业 "
        f"{counts.get('replacement', 0)} 家,新增 {counts.get('new', 0)} 家;"
        f"月报子样本 {int(s['monthly'].sum())} 家",
        f"备选企业 {len(result.reserves)} 家(每层按替换顺序列出至多 "
        f"{int(result.reserves.groupby(CELL, observed=True).size().max()) if len(result.reserves) else 0}"
        " 家);"
        f"样本量不足的层 {len(short)} 个;现有样本与框明显不同的层 {len(differs)} 个",
        f"权数校准:{'收敛' if result.calibration_converged else '未收敛'}"
        f"(迭代 {diag.get('iterations', '-')} 次),g 值范围 "
        f"{float(diag.get('g_min', 'nan')):.2f}–{float(diag.get('g_max', 'nan')):.2f},"
        f"Kish 设计效应 {float(diag.get('design_kish_deff', 'nan')):.2f} → "
        f"{float(diag.get('calibrated_kish_deff', 'nan')):.2f}",
    ]
    return lines


_PRECISE = ("prn", "inclusion_prob", "selection_prob", "frame_share", "sample_share", "order_key")


def _round_sample(df: pd.DataFrame) -> pd.DataFrame:
    """Probabilities keep 12 digits, everything else 6 (identical bytes, exact enough)."""
    return round_floats(df, 6, digits_by_column=dict.fromkeys(_PRECISE, 12))
