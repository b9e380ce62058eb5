"""The allocation MILP: variables, constraint rows, the convex-piece objective, the solver, and
the diagnosis of an infeasible rule set (the smallest relaxation).

Split out of :mod:`samplekit.allocation`, which prepares the inputs (settings, city totals,
sector split, cells and their targets) and reports the result. Everything here works on the
prepared tables: ``cells`` (one row per open cell with ``existing``, ``upper``, ``target``,
``target_monthly``, the cell keys and ``sector``) and ``city`` (per city ``allocated``,
``secondary``, ``tertiary``, ``monitored``, ``monthly_subsample``). See ``docs/allocation.md``
§4 and §6 for the formulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from samplekit import reference

if TYPE_CHECKING:
    from samplekit.allocation import AllocationSettings, Rule

PROVINCE = "全省"
SCOPE_ZH: dict[str, str] = {"sample": "全部样本", "monthly": "月度子样本"}


# ---------------------------------------------------------------------------------- the model
@dataclass
class _Model:
    c: np.ndarray
    integrality: np.ndarray
    bounds: Bounds
    constraints: LinearConstraint
    rows: list[dict[str, Any]]
    decode: Any = None  # solution vector -> (n, m)


class _Rows:
    """Accumulates sparse constraint rows ``lb <= a · x <= ub`` with a description each."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.info: list[dict[str, Any]] = []

    def add(
        self,
        cols: np.ndarray,
        vals: np.ndarray,
        lb: float,
        ub: float,
        info: dict[str, Any] | None = None,
    ) -> None:
        i = len(self.lb)
        self.r.append(np.full(len(cols), i, dtype=np.int64))
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lb.append(lb)
        self.ub.append(ub)
        self.info.append(info or {})

    def add_block(
        self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, lb: np.ndarray, ub: np.ndarray
    ) -> None:
        """Many rows at once (``rows`` relative to the block); no descriptions."""
        start = len(self.lb)
        count = len(lb)
        self.r.append(start + np.asarray(rows, dtype=np.int64))
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lb.extend(np.asarray(lb, dtype=float).tolist())
        self.ub.extend(np.asarray(ub, dtype=float).tolist())
        self.info.extend([{}] * count)

    def matrix(self, ncols: int) -> sparse.csr_array:
        r = np.concatenate(self.r) if self.r else np.zeros(0, dtype=np.int64)
        c = np.concatenate(self.c) if self.c else np.zeros(0, dtype=np.int64)
        v = np.concatenate(self.v) if self.v else np.zeros(0)
        return sparse.csr_array((v, (r, c)), shape=(len(self.lb), ncols))


def city_index(cells: pd.DataFrame) -> dict[str, np.ndarray]:
    """City -> positions of its cells (sorted), computed once per model."""
    codes, uniques = pd.factorize(cells["city"], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(u): order[bounds[i] : bounds[i + 1]] for i, u in enumerate(uniques)}


def _rule_groups(
    rule: Rule,
    cells: pd.DataFrame,
    city: pd.DataFrame,
    settings: AllocationSettings,
    by_city: dict[str, np.ndarray] | None = None,
) -> list[tuple[str, np.ndarray, int]]:
    """(group name, cell indices, base total) for each province/city group a rule applies to.

    A rule naming cities counts only their cells: ``per: province`` makes one group of the
    named cities together (base = their total), ``per: city`` one group per named city.
    """
    mask = rule.mask(cells)
    monthly = rule.scope == "monthly"
    named = set(rule.cities)
    if rule.per == "province" and not named:
        base = settings.monthly_total if monthly else settings.total
        return [(PROVINCE, np.flatnonzero(mask), int(base))]
    groups = []
    index = city_index(cells) if by_city is None else by_city
    empty = np.zeros(0, dtype=np.int64)
    joint: list[np.ndarray] = []
    joint_base = 0
    for r in city.itertuples(index=False):
        if named and r.city not in named:
            continue
        base = int(r.monthly_subsample) if monthly else int(r.allocated)
        if monthly and not r.monitored:
            continue
        pos = index.get(r.city, empty)
        if rule.per == "province":
            joint.append(pos[mask[pos]])
            joint_base += base
        else:
            groups.append((r.city, pos[mask[pos]], base))
    if rule.per == "province":
        cols = np.sort(np.concatenate(joint)) if joint else empty
        return [("、".join(sorted(named)), cols, joint_base)]
    return groups


def rule_bounds(rule: Rule, base: int) -> tuple[float, float]:
    """The count bounds ``(lo, hi)`` a rule puts on its cells in a group of ``base`` units.

    Shares are turned into counts with the group total fixed: ``max_share v`` allows
    ``floor(v · base)``, ``min_share v`` requires ``ceil(v · base)``.
    """
    if rule.kind == "max_share":
        return 0.0, float(math.floor(rule.value * base + 1e-9))
    if rule.kind == "min_share":
        return float(math.ceil(rule.value * base - 1e-9)), math.inf
    if rule.kind == "exclude":
        return 0.0, 0.0
    if rule.kind == "min_count":
        return float(math.ceil(rule.value - 1e-9)), math.inf
    return 0.0, float(math.floor(rule.value + 1e-9))


def _build_model(
    cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings, *, relax: bool = False
) -> _Model:
    """Variables: n (k), m (k), then either deviations dn, dm and shortfall s (solve), or one
    slack per relaxable row (``relax=True``, the diagnosis)."""
    k = len(cells)
    idx = np.arange(k)
    existing = cells["existing"].to_numpy().astype(float)
    upper = cells["upper"].to_numpy().astype(float)
    ex_monthly = np.minimum(cells["existing_monthly"].to_numpy(), cells["upper"].to_numpy())
    monitored = cells["city"].map(city.set_index("city")["monitored"]).to_numpy().astype(bool)
    m_upper = np.where(monitored, upper, 0.0)
    rows = _Rows()
    relaxable: list[tuple[int, int]] = []  # (row index, direction: +1 raise ub / -1 lower lb)

    def add_relaxable(cols, vals, lb, ub, info):
        rows.add(cols, vals, lb, ub, info)
        i = len(rows.lb) - 1
        if np.isfinite(ub):
            relaxable.append((i, +1))
        if np.isfinite(lb) and lb > -math.inf and (lb > 0 or not np.isfinite(ub)):
            relaxable.append((i, -1))

    # m <= n
    rows.add_block(
        np.concatenate([idx, idx]),
        np.concatenate([idx + k, idx]),
        np.concatenate([np.ones(k), -np.ones(k)]),
        np.full(k, -np.inf),
        np.zeros(k),
    )
    # sector totals per city (secondary, tertiary); primary is fixed by bounds
    city_codes = cells["city"].to_numpy()
    sector = cells["sector"].to_numpy()
    by_city = city_index(cells)
    empty = np.zeros(0, dtype=np.int64)
    for r in city.itertuples(index=False):
        pos = by_city.get(r.city, empty)
        for s in ("secondary", "tertiary"):
            cols = pos[sector[pos] == s]
            total = int(getattr(r, s))
            info = {
                "rule": "sector_split",
                "scope": "sample",
                "city": r.city,
                "label": f"{reference.SECTORS_ZH[s]}样本数 = {total}",
                "base": total,
                "source": "city_totals" if getattr(r, "given", False) else "province_plan_2013",
            }
            add_relaxable(cols, np.ones(len(cols)), total, total, info)
        if r.monitored:
            cols = pos + k
            info = {
                "rule": "monthly_city_total",
                "scope": "monthly",
                "city": r.city,
                "label": f"月度子样本 = {int(r.monthly_subsample)}",
                "base": int(r.monthly_subsample),
                "source": "province_plan_2013",
            }
            add_relaxable(cols, np.ones(len(cols)), r.monthly_subsample, r.monthly_subsample, info)
    # rules
    for rule in settings.rules:
        offset = k if rule.scope == "monthly" else 0
        for group, cols, base in _rule_groups(rule, cells, city, settings, by_city):
            lo, hi = rule_bounds(rule, base)
            info = {
                "rule": rule.name,
                "scope": rule.scope,
                "city": group,
                "label": rule.describe(),
                "base": base,
                "source": rule.source,
                "kind": rule.kind,
                "existing": int(existing[cols].sum()),
                "capacity": int(upper[cols].sum()),
            }
            add_relaxable(cols + offset, np.ones(len(cols)), lo if lo > 0 else -math.inf, hi, info)
    if not relax:
        return _segment_model(cells, rows, settings, existing, upper, m_upper, ex_monthly)
    # relaxed model: slack per relaxable row, and per kept existing member (n >= existing - s);
    # the city totals stay fixed, so a relaxed sector split moves places between sectors
    for r in city.itertuples(index=False):
        pos = by_city.get(r.city, empty)
        rows.add(pos, np.ones(len(pos)), float(r.allocated), float(r.allocated))
    keep = np.flatnonzero(existing > 0)
    for i in keep:
        info = {
            "rule": "keep_existing",
            "scope": "sample",
            "city": city_codes[i],
            "label": f"保留现有监测企业 {cells['section'].iat[i]}/"
            f"{reference.SIZE_CLASSES_ZH.get(cells['size_class'].iat[i])}/"
            f"{reference.OWNERSHIP_ZH.get(cells['ownership'].iat[i])}",
            "base": int(existing[i]),
            "source": "province_plan_2013",
            "cell": i,
        }
        rows.add(np.array([i]), np.ones(1), existing[i], math.inf, info)
        relaxable.append((len(rows.lb) - 1, -1))
    nslack = len(relaxable)
    nvar = 2 * k + nslack
    slack_rows = np.array([r for r, _ in relaxable], dtype=np.int64)
    slack_dirs = np.array([d for _, d in relaxable], dtype=float)
    # a row lb <= a·x <= ub with slack: a·x - s <= ub (dir +1) or a·x + s >= lb (dir -1);
    # split equality rows into two so each side gets its own slack
    A_base = rows.matrix(nvar)
    lb_arr, ub_arr = np.array(rows.lb), np.array(rows.ub)
    out = _Rows()
    base_coo = A_base.tocoo()
    row_of_slack: dict[tuple[int, int], int] = {
        (r, int(d)): 2 * k + j for j, (r, d) in enumerate(zip(slack_rows, slack_dirs, strict=True))
    }
    order = np.argsort(base_coo.row, kind="stable")
    rr, cc, vv = base_coo.row[order], base_coo.col[order], base_coo.data[order]
    starts = np.searchsorted(rr, np.arange(len(lb_arr) + 1))
    infos = []
    for i in range(len(lb_arr)):
        cols, vals = cc[starts[i] : starts[i + 1]], vv[starts[i] : starts[i + 1]]
        up_slack = row_of_slack.get((i, 1))
        lo_slack = row_of_slack.get((i, -1))
        if up_slack is None and lo_slack is None:
            out.add(cols, vals, lb_arr[i], ub_arr[i])
            infos.append(None)
            continue
        if np.isfinite(ub_arr[i]):
            if up_slack is not None:
                out.add(np.append(cols, up_slack), np.append(vals, -1.0), -math.inf, ub_arr[i])
            else:
                out.add(cols, vals, -math.inf, ub_arr[i])
        if np.isfinite(lb_arr[i]):
            if lo_slack is not None:
                out.add(np.append(cols, lo_slack), np.append(vals, 1.0), lb_arr[i], math.inf)
            else:
                out.add(cols, vals, lb_arr[i], math.inf)
    # dropping an existing panel member weighs twice a change of one in a rule's bound: the
    # province keeps its panel, so the diagnosis prefers relaxing rules
    weight = np.array(
        [2.0 if rows.info[r].get("rule") == "keep_existing" else 1.0 for r, _ in relaxable]
    )
    c = np.concatenate([np.zeros(2 * k), weight])
    lb = np.concatenate([np.zeros(k), np.zeros(k), np.zeros(nslack)])
    ub = np.concatenate([upper, m_upper, np.full(nslack, np.inf)])
    integrality = np.concatenate([np.ones(2 * k), np.zeros(nslack)])
    slack_info = []
    for r, d in relaxable:
        info = dict(rows.info[r])
        info["direction"] = int(d)
        info["lb"], info["ub"] = lb_arr[r], ub_arr[r]
        slack_info.append(info)
    A = out.matrix(nvar)
    return _Model(
        c=c,
        integrality=integrality,
        bounds=Bounds(lb, ub),
        constraints=LinearConstraint(A, np.array(out.lb), np.array(out.ub)),
        rows=slack_info,
    )


def solve_model(model: _Model, settings: AllocationSettings) -> Any:
    """Solve the allocation MILP: first its LP relaxation (simplex, a vertex), which the
    segment formulation makes integral in practice — an integral LP optimum is optimal for the
    MILP too; otherwise HiGHS branch-and-bound with ``settings.mip_gap``."""
    integer = model.integrality > 0
    lp = milp(
        model.c,
        integrality=None,
        bounds=model.bounds,
        constraints=model.constraints,
        options={"time_limit": settings.time_limit, "presolve": False},
    )
    if lp.x is not None and np.abs(lp.x[integer] - np.round(lp.x[integer])).max(initial=0.0) < 1e-6:
        lp.method = "lp_integral"
        return lp
    if lp.status == 2:  # the relaxation is infeasible, so is the MILP
        lp.method = "lp_infeasible"
        return lp
    res = milp(
        model.c,
        integrality=model.integrality,
        bounds=model.bounds,
        constraints=model.constraints,
        options={
            "mip_rel_gap": settings.mip_gap,
            "time_limit": settings.time_limit,
            "presolve": True,
        },
    )
    res.method = "branch_and_bound"
    return res


def _segments(
    t: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``x`` in ``[lower, upper]`` as ``x = b + p1 + p2 − q`` around the integer base
    ``b = clip(floor(t), lower, upper)`` so that ``|x − t|`` is linear in each piece.

    ``p1 ∈ [0, 1]`` costs ``|b + 1 − t| − |b − t|`` (between −1 and 1), each unit of ``p2``
    and ``q`` costs 1. The pieces are convex, so the LP relaxation pays exactly the cost of the
    integer points (the convex hull of each cell's cost) and is nearly always integral.
    Returns ``b, p1_ub, p2_ub, q_ub, cost_p1, cost_q``.
    """
    b = np.clip(np.floor(t), lower, upper)
    p1_ub = np.minimum(1.0, upper - b)
    p2_ub = np.maximum(upper - b - 1.0, 0.0)
    q_ub = b - lower
    cost_p1 = np.abs(b + 1.0 - t) - np.abs(b - t)
    cost_q = np.abs(b - 1.0 - t) - np.abs(b - t)
    return b, p1_ub, p2_ub, q_ub, cost_p1, cost_q


def _segment_model(
    cells: pd.DataFrame,
    rows: _Rows,
    settings: AllocationSettings,
    existing: np.ndarray,
    upper: np.ndarray,
    m_upper: np.ndarray,
    ex_monthly: np.ndarray,
) -> _Model:
    """The allocation MILP with the weighted L1 deviation written as convex pieces.

    ``rows`` holds the structural constraints over ``x = (n, m)``; here ``n`` and ``m`` are
    replaced by their pieces (columns p1, p2, q for n, then for m), the constants moved to the
    row bounds, and a shortfall ``s >= existing_monthly − m`` added for cells with members of
    the monthly network.
    """
    k = len(cells)
    tgt = cells["target"].to_numpy(dtype=float)
    tgt_m = cells["target_monthly"].to_numpy(dtype=float)
    # weight 1/sqrt(t): between absolute (L1) and relative deviation, so a miss of one
    # enterprise counts more in a small cell than in a large one
    a = 1.0 / np.sqrt(np.maximum(tgt, 1.0))
    w_m = 1.0 / np.sqrt(np.maximum(tgt_m, 1.0))
    bn, p1n, p2n, qn, cp1n, cqn = _segments(tgt, existing, upper)
    bm, p1m, p2m, qm, cp1m, cqm = _segments(tgt_m, np.zeros(k), m_upper)
    A0 = rows.matrix(2 * k).tocsc()
    An, Am = A0[:, :k], A0[:, k:]
    base = np.concatenate([bn, bm])
    shift = A0 @ base
    lb = np.array(rows.lb) - shift
    ub = np.array(rows.ub) - shift
    pref = np.flatnonzero(ex_monthly > 0)
    # shortfall rows: s_j + m_j >= em_j  with m_j = bm + p1 + p2 - q
    npref = len(pref)
    sr = sparse.csc_array((np.ones(npref), (np.arange(npref), pref)), shape=(npref, k))
    zero_n = sparse.csc_array((npref, k))
    top = sparse.hstack([An, An, -An, Am, Am, -Am, sparse.csc_array((A0.shape[0], npref))])
    bottom = sparse.hstack(
        [zero_n, zero_n, zero_n, sr, sr, -sr, sparse.identity(npref, format="csc")]
    )
    A = sparse.vstack([top, bottom]).tocsr()
    lb = np.concatenate([lb, ex_monthly[pref] - bm[pref]])
    ub = np.concatenate([ub, np.full(npref, np.inf)])
    c = np.concatenate(
        [
            a * cp1n,
            a,
            a * cqn,
            w_m * cp1m,
            w_m,
            w_m * cqm,
            np.full(npref, settings.prefer_existing_monthly),
        ]
    )
    var_lb = np.zeros(6 * k + npref)
    var_ub = np.concatenate([p1n, p2n, qn, p1m, p2m, qm, np.full(npref, np.inf)])
    integrality = np.concatenate([np.ones(6 * k), np.zeros(npref)])

    def decode(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.round(x[: 6 * k])
        n = bn + x[:k] + x[k : 2 * k] - x[2 * k : 3 * k]
        m = bm + x[3 * k : 4 * k] + x[4 * k : 5 * k] - x[5 * k : 6 * k]
        return n.astype(np.int64), m.astype(np.int64)

    return _Model(
        c=c,
        integrality=integrality,
        bounds=Bounds(var_lb, var_ub),
        constraints=LinearConstraint(A, lb, ub),
        rows=rows.info,
        decode=decode,
    )


# ---------------------------------------------------------------------------------- diagnosis
DIAGNOSIS_COLUMNS = [
    "rule",
    "label",
    "source",
    "scope",
    "city",
    "base",
    "required",
    "achievable",
    "slack",
    "existing",
    "capacity",
    "message",
]


def diagnose(cells: pd.DataFrame, city: pd.DataFrame, settings: AllocationSettings) -> pd.DataFrame:
    """The smallest relaxation that makes the rule set feasible.

    Solves the allocation model with one non-negative slack per rule row, per sector and
    monthly city total, and per kept existing member, minimising the total slack (in
    enterprises). Each non-zero slack becomes one row: the rule, its scope and city, the
    required bound, the nearest achievable count, and a sentence with the numbers.
    """
    model = _build_model(cells, city, settings, relax=True)
    res = milp(
        model.c,
        integrality=model.integrality,
        bounds=model.bounds,
        constraints=model.constraints,
        options={"time_limit": settings.time_limit, "mip_rel_gap": 0.0},
    )
    if res.x is None:
        return pd.DataFrame(
            [
                {
                    "rule": "frame",
                    "label": "名录容量",
                    "source": "",
                    "scope": "sample",
                    "city": PROVINCE,
                    "base": np.nan,
                    "required": np.nan,
                    "achievable": np.nan,
                    "slack": np.nan,
                    "existing": np.nan,
                    "capacity": np.nan,
                    "message": f"no relaxation of the rules helps ({res.message}); the frame itself "
                    "cannot hold the city totals",
                }
            ],
            columns=DIAGNOSIS_COLUMNS,
        )
    k = len(cells)
    slacks = np.round(res.x[2 * k :], 6)
    merged: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for s, info in zip(slacks, model.rows, strict=True):
        if s <= 1e-6:
            continue
        d = info["direction"]
        required = info["ub"] if d > 0 else info["lb"]
        achievable = required + s if d > 0 else required - s
        key = (info["rule"], info["scope"], info["city"], d)
        if info["rule"] == "keep_existing" and key in merged:
            merged[key]["required"] += required
            merged[key]["achievable"] += achievable
            merged[key]["slack"] += s
            continue
        merged[key] = {
            "rule": info["rule"],
            "label": info.get("label", ""),
            "source": info.get("source", ""),
            "scope": info["scope"],
            "city": info["city"],
            "base": info.get("base", np.nan),
            "required": required,
            "achievable": achievable,
            "slack": s,
            "existing": info.get("existing", np.nan),
            "capacity": info.get("capacity", np.nan),
            "direction": d,
        }
    rows = []
    for row in merged.values():
        row["message"] = _slack_message(row)
        rows.append(row)
    df = pd.DataFrame(rows, columns=DIAGNOSIS_COLUMNS)
    return df.sort_values(
        ["slack", "rule", "city"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)


def _slack_message(row: Mapping[str, Any]) -> str:
    rule, city_name, s = row["rule"], row["city"], row["slack"]
    req, ach = row["required"], row["achievable"]
    sample = SCOPE_ZH.get(row["scope"], row["scope"])
    where = city_name
    if rule == "keep_existing":
        return (
            f"{where}: {s:.0f} existing panel member(s) cannot keep their places "
            f"({sample}); the other rules leave room for only {ach:.0f} of {req:.0f}"
        )
    if rule in ("sector_split", "monthly_city_total"):
        return (
            f"{where}: {row['label']} cannot be met; the nearest feasible is {ach:.0f} "
            f"({s:+.0f} if relaxed)"
        )
    label = row["label"]
    base = row["base"]
    existing = row.get("existing")
    capacity = row.get("capacity")
    if row.get("direction", 1) > 0:
        text = (
            f"{where}: {label} of {base:.0f} ({sample}) allows {req:.0f}, but at least "
            f"{ach:.0f} are needed"
        )
        if row["scope"] == "sample" and isinstance(existing, (int, float)) and existing > req:
            text += f"; the existing panel already holds {existing:.0f} there"
        return text + f" — relax the rule by {s:.0f} enterprise(s) (rule '{rule}')"
    text = (
        f"{where}: {label} of {base:.0f} ({sample}) requires {req:.0f}, but at most "
        f"{ach:.0f} can be reached"
    )
    if isinstance(capacity, (int, float)) and not math.isnan(capacity) and capacity < req:
        text += f"; the eligible frame has only {capacity:.0f} such units there"
    return text + f" — relax the rule by {s:.0f} enterprise(s) (rule '{rule}')"


def _diagnosis_message(diagnosis: pd.DataFrame, limit: int = 8) -> str:
    lines = [
        f"the allocation rules cannot all hold; the smallest relaxation changes "
        f"{len(diagnosis)} rule bound(s) by {diagnosis['slack'].sum():.0f} enterprise(s) "
        "in total:"
    ]
    lines += [f"  - {m}" for m in diagnosis["message"].head(limit)]
    if len(diagnosis) > limit:
        lines.append(f"  … and {len(diagnosis) - limit} more (see the diagnosis table)")
    return "\n".join(lines)
