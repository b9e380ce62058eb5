"""The December window: retire invalid panel members, replace them from their cell's reserve,
re-balance to a new allocation, and log every change.

Rules (人社部函〔2011〕308号, ``docs/selection.md``): members that closed, went bankrupt (left the
register), moved out, were suspended or became ineligible are retired; each is replaced by the
next unit of the *same cell* in permanent-random-number order; additions and replacements happen
only in the window month (December) unless params force them. Because the PRNs never change, the
units that stay, the replacements and the reserves are reproducible, and every active member is
kept as long as its cell has a place: the overlap with the previous panel is as large as the
allocation allows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import InputError, ParamsError
from samplekit.reference import SIZE_CLASSES
from samplekit.selection import (
    CELL,
    SelectionResult,
    SelectionSettings,
    _as_bool,
    cell_index,
    prn,
    select_sample,
)

CHANGE_COLUMNS: list[str] = ["enterprise_id", "name", *CELL, "action", "reason", "replaces", "note"]
ACTIONS_ZH = {
    "retired": "退出",
    "rebalanced_out": "调整退出",
    "replacement": "替换入样",
    "new": "新增入样",
    "borrowed": "邻近层补入",
}
REASONS_ZH = {
    "closed": "关闭破产",
    "suspended": "停业",
    "moved": "迁出",
    "not_in_frame": "已注销(名录中无)",
    "ineligible": "不再符合条件",
    "over_allocation": "超出本层分配数",
}
ALL_RETIRE_STATUSES = ("closed", "suspended", "moved")


@dataclass(frozen=True)
class MaintenanceSettings:
    """The replacement window (params ``selection.maintenance``).

    Parameters
    ----------
    window_month : int
        The month in which panel changes are allowed (12: December).
    force : bool
        Allow changes outside the window (an explicit, logged decision).
    retire_statuses : tuple of str
        Register statuses that retire a member; members with other non-active statuses are kept.
    """

    window_month: int = 12
    force: bool = False
    retire_statuses: tuple[str, ...] = ALL_RETIRE_STATUSES

    @classmethod
    def from_params(cls, params: Any) -> MaintenanceSettings:
        key = "selection.maintenance"
        section = params.get(key, {})
        allowed = {"window_month", "force", "retire_statuses"}
        unknown = sorted(set(section) - allowed)
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {unknown} in '{key}'; allowed: "
                f"{', '.join(sorted(allowed))}"
            )
        statuses = tuple(
            params.get(f"{key}.retire_statuses", list(ALL_RETIRE_STATUSES), types=list)
        )
        bad = [s for s in statuses if s not in ALL_RETIRE_STATUSES]
        if bad:
            raise ParamsError(
                f"{params.path}: key '{key}.retire_statuses' has {bad}; use "
                f"{', '.join(ALL_RETIRE_STATUSES)}"
            )
        return cls(
            window_month=int(params.number(f"{key}.window_month", 12, low=1, high=12)),
            force=bool(params.get(f"{key}.force", False, types=bool)),
            retire_statuses=statuses,
        )


@dataclass(frozen=True)
class MaintenanceResult:
    """The maintained panel.

    ``selection`` is the new panel (a :class:`SelectionResult`, None outside the window);
    ``changes`` the change log (``CHANGE_COLUMNS``); ``summary`` a key/value table.
    """

    in_window: bool
    selection: SelectionResult | None
    changes: pd.DataFrame
    summary: pd.DataFrame
    message: str


def _nearest_cells(cells: pd.DataFrame, h: int) -> list[int]:
    """Cells to borrow from when cell ``h`` runs dry, nearest first (documented rule).

    1. same city, section and ownership, the next size class up or down (distance 1, 2, 3);
    2. same city, section and size class, another ownership group;
    3. same city and section, any other cell;
    4. same city, size class and ownership, another section.
    Ties are broken by the cells' sort order.
    """
    c = cells.iloc[h]
    size_rank = {s: i for i, s in enumerate(SIZE_CLASSES)}
    same_city = cells["city"] == c["city"]
    same_sec = cells["section"] == c["section"]
    same_own = cells["ownership"] == c["ownership"]
    same_size = cells["size_class"] == c["size_class"]
    dist = (cells["size_class"].map(size_rank) - size_rank.get(c["size_class"], 0)).abs()
    tiers = [
        (same_city & same_sec & same_own & ~same_size, dist),
        (same_city & same_sec & same_size & ~same_own, pd.Series(0, index=cells.index)),
        (same_city & same_sec, dist),
        (same_city & same_size & same_own & ~same_sec, pd.Series(0, index=cells.index)),
    ]
    out: list[int] = []
    for mask, key in tiers:
        pos = np.flatnonzero(mask.to_numpy())
        pos = pos[np.argsort(key.to_numpy()[pos], kind="stable")]
        out += [int(p) for p in pos if p != h and p not in out]
    return out


def maintain(
    panel: pd.DataFrame,
    frame: pd.DataFrame,
    settings: SelectionSettings,
    *,
    cells: pd.DataFrame | None = None,
    period: str | None = None,
    window: MaintenanceSettings | None = None,
) -> MaintenanceResult:
    """Run the December window on the current panel against the new register.

    Parameters
    ----------
    panel : DataFrame
        The current sample list (``enterprise_id`` and the cell columns; ``monthly`` optional).
    frame : DataFrame
        The new classified register.
    settings : SelectionSettings
        The same settings (seed!) as the original selection.
    cells : DataFrame, optional
        A new allocation (cells table). Without it every cell keeps its current number of
        places and members stay in the cell they were selected in (stratum of record).
    period : str, optional
        The month of the run (``YYYY-MM``); outside ``window.window_month`` nothing changes
        unless ``window.force``.
    window : MaintenanceSettings, optional

    Returns
    -------
    MaintenanceResult
    """
    window = window or MaintenanceSettings()
    if "enterprise_id" not in panel.columns:
        raise InputError(
            "current panel: needs an 'enterprise_id' column (the sample_list.csv "
            "written by `samplekit select` or `samplekit maintain`)"
        )
    missing = [c for c in CELL if c not in panel.columns]
    if missing:
        raise InputError(
            f"current panel: missing column(s) {', '.join(missing)}; pass the "
            "sample_list.csv written by `samplekit select`"
        )
    month = int(period[5:7]) if period else window.window_month
    if month != window.window_month and not window.force:
        msg = (
            f"period {period} is outside the replacement window (month "
            f"{window.window_month}); nothing was changed. Additions and replacements happen "
            "only in the unified window; set selection.maintenance.force: true to override"
        )
        return MaintenanceResult(
            False,
            None,
            pd.DataFrame(columns=CHANGE_COLUMNS),
            pd.DataFrame({"key": ["in_window", "message"], "value": ["false", msg]}),
            msg,
        )

    panel = panel.copy()
    panel["enterprise_id"] = panel["enterprise_id"].astype(str)
    if panel["enterprise_id"].duplicated().any():
        dup = panel.loc[panel["enterprise_id"].duplicated(), "enterprise_id"].head(5).tolist()
        raise InputError(f"current panel: duplicated enterprise_id {dup}; one row per member")
    monthly = (
        _as_bool(panel["monthly"]) if "monthly" in panel.columns else np.zeros(len(panel), bool)
    )
    panel["_monthly"] = monthly
    for col in CELL:
        panel[col] = panel[col].astype(str)

    work = frame.copy()
    for col in CELL:
        work[col] = work[col].astype(str)
    work["status"] = work["status"].astype(str)
    ids = work["enterprise_id"].astype(str)
    pos = pd.Index(ids).get_indexer(panel["enterprise_id"])
    in_frame = pos >= 0
    work["in_panel"] = False
    work["in_monthly"] = False
    work.loc[work.index[pos[in_frame]], "in_panel"] = True
    work.loc[work.index[pos[in_frame & monthly]], "in_monthly"] = True

    # Reasons to leave: status, gone from the register, out of scope of the new allocation.
    status_now = np.where(in_frame, work["status"].to_numpy()[np.maximum(pos, 0)], "not_in_frame")
    reason = np.where(np.isin(status_now, window.retire_statuses) | ~in_frame, status_now, "")
    keep_statuses = ~in_frame | np.isin(status_now, ["active", *window.retire_statuses])
    # Members whose non-active status is not retiring stay (treated as active for the panel).
    stay_inactive = in_frame & ~keep_statuses
    if stay_inactive.any():
        work.loc[work.index[pos[stay_inactive]], "status"] = "active"

    if cells is None:
        # Same places per cell as now; members stay in the cell they were selected in.
        target = (
            panel.groupby(CELL, sort=True)
            .agg(n=("enterprise_id", "size"), n_monthly=("_monthly", "sum"))
            .reset_index()
        )
        rec = pos[in_frame]
        for col in CELL:
            work.loc[work.index[rec], col] = panel.loc[in_frame, col].to_numpy()
    else:
        target = cells.copy()
        for col in CELL:
            target[col] = target[col].astype(str)
        new_cell = cell_index(work.iloc[pos[in_frame]], target)
        out_of_scope = np.zeros(len(panel), dtype=bool)
        out_of_scope[np.flatnonzero(in_frame)] = new_cell < 0
        reason = np.where((reason == "") & out_of_scope, "ineligible", reason)
    retire = reason != ""
    # Retired members are replaced in the cell they were selected in.
    ret_in = retire & in_frame
    for col in CELL:
        work.loc[work.index[pos[ret_in]], col] = panel.loc[ret_in, col].to_numpy()
    work.loc[work.index[pos[ret_in]], "status"] = reason[ret_in]
    gone = panel.loc[~in_frame]
    if len(gone):  # members no longer in the register still count as places to fill
        ghost = pd.DataFrame(
            {
                "enterprise_id": gone["enterprise_id"].to_numpy(),
                "name": gone["name"].to_numpy() if "name" in gone else "",
                **{c: gone[c].to_numpy() for c in CELL},
                "employees": 0,
                "status": "not_in_frame",
                "in_panel": True,
                "in_monthly": False,
            }
        )
        work = pd.concat([work, ghost], ignore_index=True)

    # Re-balance: a cell with more active members than places keeps the smallest PRNs.
    rebalanced: list[str] = []
    target = target.sort_values(CELL, kind="stable").reset_index(drop=True)
    wc = cell_index(work, target)
    act = (work["status"].to_numpy() == "active") & work["in_panel"].to_numpy() & (wc >= 0)
    if act.any():
        u = prn(work["enterprise_id"].astype(str), settings.seed)
        sub = pd.DataFrame({"c": wc[act], "u": u[act], "row": np.flatnonzero(act)})
        sub = sub.sort_values(["c", "u"], kind="stable")
        sub["k"] = sub.groupby("c").cumcount()
        over = sub[sub["k"] >= target["n"].to_numpy()[sub["c"].to_numpy()]]
        if len(over):
            work.loc[work.index[over["row"].to_numpy()], "in_panel"] = False
            work.loc[work.index[over["row"].to_numpy()], "in_monthly"] = False
            rebalanced = work["enterprise_id"].iloc[over["row"].to_numpy()].astype(str).tolist()

    # The members kept here are the panel of record (its cells' places are the stratum of
    # record), not a purposive legacy panel: no fresh units beyond the places (min_fresh).
    settings = replace(settings, min_fresh=0)
    result = select_sample(work, target, settings)
    borrowed: dict[str, str] = {}
    short = result.cells[result.cells["shortfall"] > 0]
    if len(short):
        target, borrowed = _borrow(target, result, short)
        result = select_sample(work, target, settings)

    changes = _change_log(panel, reason, rebalanced, result, borrowed, target)
    unfilled = int(result.cells["shortfall"].sum())
    new_ids = set(result.sample["enterprise_id"].astype(str))
    kept = int(panel["enterprise_id"].isin(new_ids).sum())
    counts = changes["action"].value_counts()
    summary_rows = [
        ("period", period or ""),
        ("in_window", "true"),
        ("panel_before", len(panel)),
        ("panel_after", len(result.sample)),
        ("kept", kept),
        ("overlap_share", round(kept / max(len(panel), 1), 6)),
        *[
            (f"retired_{r}", int((reason == r).sum()))
            for r in ("closed", "suspended", "moved", "not_in_frame", "ineligible")
        ],
        *[(a, int(counts.get(a, 0))) for a in ("rebalanced_out", "replacement", "new", "borrowed")],
        # Places no reserve could fill, here or in a nearest cell: kept visible, never dropped.
        ("unfilled", unfilled),
        ("forced_outside_window", "true" if month != window.window_month else "false"),
    ]
    summary = pd.DataFrame(
        {"key": [k for k, _ in summary_rows], "value": [str(v) for _, v in summary_rows]}
    )
    msg = (
        f"{kept} of {len(panel)} members kept, {int((reason != '').sum())} retired, "
        f"{int(counts.get('replacement', 0))} replaced, {int(counts.get('new', 0))} new"
        + (f", {unfilled} place(s) unfilled (no reserve left)" if unfilled else "")
    )
    return MaintenanceResult(True, result, changes, summary, msg)


def _borrow(
    target: pd.DataFrame, result: SelectionResult, short: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Move unfillable places of dry cells to their nearest cells that have reserves."""
    target = target.copy()
    n = target["n"].to_numpy().copy()
    spare = result.reserves.groupby(CELL, sort=False).size()
    spare_left = {k: int(v) for k, v in spare.items()}
    key = [tuple(r) for r in target[CELL].astype(str).itertuples(index=False)]
    pos_of = {k: i for i, k in enumerate(key)}
    borrowed: dict[str, str] = {}
    for r in short.itertuples(index=False):
        h = pos_of[tuple(str(getattr(r, c)) for c in CELL)]
        need = int(r.shortfall)
        n[h] -= need
        for d in _nearest_cells(target, h):
            if need == 0:
                break
            take = min(need, spare_left.get(key[d], 0))
            if take:
                n[d] += take
                spare_left[key[d]] -= take
                need -= take
                borrowed["|".join(key[d])] = "|".join(key[h])
        n[h] += need  # whatever could not be borrowed stays reported as a shortfall
    target["n"] = n
    target["n_monthly"] = np.minimum(target["n_monthly"].to_numpy(), n)
    return target, borrowed


def _change_log(panel, reason, rebalanced, result, borrowed, target) -> pd.DataFrame:
    rows = []
    left = panel.loc[reason != ""]
    for r, why in zip(left.itertuples(index=False), reason[reason != ""], strict=True):
        rows.append(
            {
                "enterprise_id": r.enterprise_id,
                "name": getattr(r, "name", ""),
                **{c: getattr(r, c) for c in CELL},
                "action": "retired",
                "reason": why,
                "replaces": "",
                "note": "",
            }
        )
    reb = panel[panel["enterprise_id"].isin(rebalanced)]
    for r in reb.itertuples(index=False):
        rows.append(
            {
                "enterprise_id": r.enterprise_id,
                "name": getattr(r, "name", ""),
                **{c: getattr(r, c) for c in CELL},
                "action": "rebalanced_out",
                "reason": "over_allocation",
                "replaces": "",
                "note": "",
            }
        )
    pairs = result.replacements.dropna(subset=["replacement_id"])
    replaces = dict(
        zip(pairs["replacement_id"].astype(str), pairs["retired_id"].astype(str), strict=True)
    )
    old = set(panel["enterprise_id"])
    new = result.sample[~result.sample["enterprise_id"].astype(str).isin(old)]
    for r in new.itertuples(index=False):
        cell = "|".join(str(getattr(r, c)) for c in CELL)
        action = r.status if r.status in ("replacement", "new") else "new"
        note = ""
        if cell in borrowed and action == "new":
            action, note = "borrowed", f"place moved from dry cell {borrowed[cell]}"
        rows.append(
            {
                "enterprise_id": r.enterprise_id,
                "name": r.name,
                **{c: getattr(r, c) for c in CELL},
                "action": action,
                "reason": "",
                "replaces": replaces.get(str(r.enterprise_id), ""),
                "note": note,
            }
        )
    out = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    order = {
        a: i for i, a in enumerate(["retired", "rebalanced_out", "replacement", "borrowed", "new"])
    }
    out["_a"] = out["action"].map(order)
    out = out.sort_values([*CELL, "_a", "enterprise_id"], kind="stable")
    del target
    return out.drop(columns="_a").reset_index(drop=True)


def with_force(window: MaintenanceSettings, force: bool) -> MaintenanceSettings:
    """A copy with ``force`` set (CLI ``--force``)."""
    return replace(window, force=force or window.force)
