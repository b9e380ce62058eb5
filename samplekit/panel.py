"""The panel of record: dated membership rows and the rules of a window (pure DataFrame logic).

A *window* (the December window of 人社部函〔2011〕308号, a first design, or an imported list)
re-issues one membership row for every member in force from its ``effective`` month and closes
the previous open rows at ``effective − 1``. Rows are closed, never overwritten or deleted; per
enterprise, rows never overlap. ``samplekit.store`` writes the rows (``write_window``); this
module turns a new panel into rows, plans the closing of the open ones and checks the rules.
Schema and semantics: ``docs/monthly.md`` (store) and ``docs/selection.md`` (December window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from samplekit.errors import InputError, Problem, ValidationError, problems_frame
from samplekit.periods import MONTH_RE

WindowKind = Literal["design", "maintenance", "import"]
WINDOW_KINDS: tuple[str, ...] = ("design", "maintenance", "import")

MEMBERSHIP_COLUMNS: list[str] = [
    "enterprise_id",
    "name",
    "city",
    "section",
    "size_class",
    "ownership",
    "registration_type",
    "employees",
    "export_share",
    "individual",
    "valid_from",
    "valid_to",
    "inclusion_prob",
    "weight",
    "calibrated_weight",
    "cell_frame_units",
    "cell_n",
    "ministry",
    "entry_reason",
    "exit_reason",
    "window_id",
    # Added in store schema 3 (the register's optional 县(区)); null where not given.
    "county",
]
WINDOW_COLUMNS: list[str] = [
    "window_id",
    "run_id",
    "kind",
    "window_month",
    "effective",
    "made_at",
    "params_sha256",
    "members",
    "entered",
    "exited",
    "forced",
    "note",
]
CHANGE_LOG_COLUMNS: list[str] = [
    "window_id",
    "enterprise_id",
    "name",
    "city",
    "section",
    "size_class",
    "ownership",
    "action",
    "reason",
    "replaces",
    "note",
]
#: The sample-list layout returned by ``panel_in_force`` (what estimation takes).
IN_FORCE_COLUMNS: list[str] = [
    "enterprise_id",
    "name",
    "city",
    "section",
    "size_class",
    "ownership",
    "registration_type",
    "employees",
    "export_share",
    "individual",
    "inclusion_prob",
    "weight",
    "calibrated_weight",
    "cell_frame_units",
    "cell_n",
    "ministry",
    "monthly",
    "entry_reason",
    "window_id",
    "valid_from",
    "valid_to",
    "county",
]

STRATUM: list[str] = ["city", "section", "size_class", "ownership"]
ENTRY_REASONS: tuple[str, ...] = ("existing", "new", "replacement", "birth", "trial")
#: Exit reasons of the contract, plus ``rebalanced`` (a place lost to a new allocation) and
#: ``removed`` (left a window with no reason given).
EXIT_REASONS: tuple[str, ...] = (
    "closed",
    "bankrupt",
    "suspended",
    "moved",
    "ineligible",
    "rebalanced",
    "removed",
)
#: ``maintenance.maintain`` change-log reasons -> exit_reason.
MAINTENANCE_EXIT: dict[str, str] = {
    "closed": "closed",
    "suspended": "suspended",
    "moved": "moved",
    "not_in_frame": "bankrupt",
    "ineligible": "ineligible",
    "over_allocation": "rebalanced",
}
_STATUS_ENTRY = {
    "retained": "existing",
    "existing": "existing",
    "new": "new",
    "replacement": "replacement",
    "borrowed": "new",
    "birth": "birth",
}
#: Valid from "before any report": an imported list with no effective month.
OPEN_START = "0001-01"


def next_month(period: str) -> str:
    """The month after ``period`` (``YYYY-MM``)."""
    y, m = int(period[:4]), int(period[5:7])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def previous_month(period: str) -> str:
    """The month before ``period`` (``YYYY-MM``)."""
    y, m = int(period[:4]), int(period[5:7])
    return f"{y - (m == 1):04d}-{(m - 2) % 12 + 1:02d}"


def _as_bool(values: pd.Series) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    return values.map(
        lambda v: str(v).strip().lower() in ("true", "1", "yes", "是", "1.0")
    ).to_numpy(dtype=bool)


def membership_rows(
    members: pd.DataFrame,
    *,
    effective: str,
    window_id: int,
    existing_ids: set[str] | frozenset[str] = frozenset(),
    file: str = "members",
) -> pd.DataFrame:
    """The rows a window opens: one per member of the new panel, valid from ``effective``.

    Parameters
    ----------
    members : DataFrame
        The new panel in the sample-list layout (``enterprise_id`` and the stratum columns;
        weights, ``monthly``/``ministry``, ``status``, ``individual`` optional).
    effective : str
        First month of the rows (``YYYY-MM``).
    window_id : int
    existing_ids : set of str
        Members in force before the window: their entry_reason is ``existing``; the others take
        ``entry_reason`` or ``status`` (retained → existing: a member of the panel before the
        store kept it; new; replacement; birth) and default to ``new``.
    file : str
        Name used in error messages.

    Returns
    -------
    DataFrame
        ``MEMBERSHIP_COLUMNS``; ``valid_to`` and ``exit_reason`` null.

    Raises
    ------
    InputError
        A required column is missing or an enterprise_id is empty.
    """
    need = ["enterprise_id", *STRATUM]
    missing = [c for c in need if c not in members.columns]
    if missing:
        raise InputError(
            f"{file}: missing column(s) {', '.join(missing)}; expected the "
            f"sample_list.csv layout ({', '.join(need)}, weights …)"
        )
    n = len(members)
    ids = members["enterprise_id"].astype("str").str.strip()
    empty = members["enterprise_id"].isna().to_numpy() | (ids == "").to_numpy()
    if empty.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(empty)[:5])
        raise InputError(f"{file}: enterprise_id is empty in row(s) {rows}")

    def col(name: str, default: object = None) -> pd.Series:
        if name in members.columns:
            return members[name].reset_index(drop=True)
        return pd.Series([default] * n, dtype=object)

    ids = ids.reset_index(drop=True)
    if "ministry" in members.columns:
        ministry = _as_bool(members["ministry"])
    elif "monthly" in members.columns:
        ministry = _as_bool(members["monthly"])
    else:
        ministry = np.zeros(n, dtype=bool)
    individual = (
        _as_bool(members["individual"])
        if "individual" in members.columns
        else np.zeros(n, dtype=bool)
    )
    entry = pd.Series([None] * n, dtype=object)
    if "status" in members.columns:
        entry = members["status"].astype(object).map(_STATUS_ENTRY).reset_index(drop=True)
    if "entry_reason" in members.columns:  # given reasons win over the selection status
        given = members["entry_reason"].astype(object).reset_index(drop=True)
        entry = given.where(given.isin(ENTRY_REASONS), entry)
    # A member in force before the window continues ("existing") whatever its status says.
    was = ids.isin(list(existing_ids)).to_numpy()
    entry = entry.where(entry.isin(ENTRY_REASONS), "new")
    entry = pd.Series(np.where(was, "existing", entry), dtype=object)

    def num(name: str) -> pd.Series:
        return pd.to_numeric(col(name), errors="coerce").astype("float64")

    def text(name: str) -> pd.Series:
        s = col(name, "")
        return s.where(s.notna(), "").astype("str")

    out = pd.DataFrame(
        {
            "enterprise_id": ids.astype(object),
            "name": text("name"),
            **{c: text(c) for c in STRATUM},
            "registration_type": text("registration_type"),
            "employees": num("employees").round().astype("Int64"),
            "export_share": num("export_share"),
            "individual": individual,
            "valid_from": effective,
            "valid_to": pd.Series([None] * n, dtype=object),
            "inclusion_prob": num("inclusion_prob"),
            "weight": num("weight"),
            "calibrated_weight": num("calibrated_weight"),
            "cell_frame_units": num("cell_frame_units").round().astype("Int64"),
            "cell_n": num("cell_n").round().astype("Int64"),
            "ministry": ministry,
            "entry_reason": entry,
            "exit_reason": pd.Series([None] * n, dtype=object),
            "window_id": int(window_id),
            "county": _county(col("county")),
        }
    )
    return out[MEMBERSHIP_COLUMNS]


def _county(values: pd.Series) -> pd.Series:
    """The optional 县(区) as stripped text, None where blank (no county given)."""
    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: None if v is None else (str(v).strip() or None))
    return text.astype(object)


def exits_from_changes(changes: pd.DataFrame | None) -> dict[str, str]:
    """``enterprise_id -> exit_reason`` from a ``maintain`` change log (retired, rebalanced)."""
    if changes is None or not len(changes):
        return {}
    gone = changes[changes["action"].isin(["retired", "rebalanced_out"])]
    return {
        str(i): MAINTENANCE_EXIT.get(str(r), "removed")
        for i, r in zip(gone["enterprise_id"], gone["reason"], strict=True)
    }


@dataclass(frozen=True)
class WindowPlan:
    """What a window does to the membership table.

    ``closing``: ``enterprise_id, valid_from, valid_to, exit_reason`` of the open rows it closes
    (the key of a row is enterprise_id + valid_from); ``opening``: the rows it opens.
    """

    closing: pd.DataFrame
    opening: pd.DataFrame
    entered: int
    exited: int
    continued: int


def plan_window(
    open_rows: pd.DataFrame,
    opening: pd.DataFrame,
    *,
    effective: str,
    exits: Mapping[str, str] | None = None,
) -> WindowPlan:
    """Close every open row at ``effective − 1``; leavers get their ``exit_reason``.

    Parameters
    ----------
    open_rows : DataFrame
        The rows with a null ``valid_to`` (membership layout).
    opening : DataFrame
        The rows of the new window (:func:`membership_rows`).
    effective : str
    exits : mapping, optional
        ``enterprise_id -> exit_reason`` for members that leave; a leaver without one gets
        ``removed``. Members that stay get a null exit_reason on their closed row.
    """
    exits = dict(exits or {})
    new_ids = set(opening["enterprise_id"].astype(str))
    old_ids = open_rows["enterprise_id"].astype(str)
    leaving = ~old_ids.isin(new_ids)
    reason = np.where(leaving, old_ids.map(lambda i: exits.get(i, "removed")), None)
    closing = pd.DataFrame(
        {
            "enterprise_id": old_ids.to_numpy(dtype=object),
            "valid_from": open_rows["valid_from"].astype(str).to_numpy(dtype=object),
            "valid_to": previous_month(effective),
            "exit_reason": pd.Series(reason, dtype=object),
        }
    )
    stay = int((~leaving).sum())
    return WindowPlan(
        closing, opening, entered=len(new_ids) - stay, exited=int(leaving.sum()), continued=stay
    )


def apply_plan(membership: pd.DataFrame, plan: WindowPlan) -> pd.DataFrame:
    """The membership table after ``plan`` (used to validate before writing)."""
    out = membership.copy()
    if len(plan.closing):
        key = out["enterprise_id"].astype(str) + "|" + out["valid_from"].astype(str)
        ckey = plan.closing["enterprise_id"] + "|" + plan.closing["valid_from"]
        pos = pd.Index(key).get_indexer(ckey)
        out.loc[out.index[pos], "valid_to"] = plan.closing["valid_to"].to_numpy()
        out.loc[out.index[pos], "exit_reason"] = plan.closing["exit_reason"].to_numpy()
    parts = [p for p in (out, plan.opening) if len(p)]
    if not parts:
        return plan.opening.copy()
    return pd.concat(parts, ignore_index=True)


def overlaps(membership: pd.DataFrame) -> pd.DataFrame:
    """Pairs of rows of the same enterprise whose month ranges overlap (empty when none).

    Also returns rows with ``valid_from > valid_to`` (an empty range is never written).
    """
    m = membership[["enterprise_id", "valid_from", "valid_to"]].copy()
    m["valid_to"] = m["valid_to"].fillna("9999-12")
    bad_range = m[m["valid_from"] > m["valid_to"]].assign(other_from=None, other_to=None)
    m = m.sort_values(["enterprise_id", "valid_from"], kind="stable")
    nxt_id = m["enterprise_id"].shift(-1)
    nxt_from = m["valid_from"].shift(-1)
    hit = (nxt_id == m["enterprise_id"]) & (nxt_from <= m["valid_to"])
    pairs = m[hit].assign(other_from=nxt_from[hit], other_to=m["valid_to"].shift(-1)[hit])
    return pd.concat([pairs, bad_range], ignore_index=True)


def in_force(membership: pd.DataFrame, period: str) -> pd.DataFrame:
    """Rows in force in month ``period``: valid_from ≤ period ≤ valid_to (or open)."""
    vt = membership["valid_to"]
    mask = (membership["valid_from"] <= period) & (vt.isna() | (vt.fillna("") >= period))
    return membership[mask.to_numpy(dtype=bool)]


def validate_window(
    membership: pd.DataFrame,
    windows: pd.DataFrame,
    opening: pd.DataFrame,
    *,
    kind: str,
    window_month: str,
    effective: str,
    force: bool,
    file: str = "members",
) -> None:
    """Check a window against the rules before anything is written.

    Rules: ``kind`` is design, maintenance or import; months are ``YYYY-MM``; a design or
    maintenance window is held in December unless ``force`` and takes effect after the month it
    is held; the effective month is after the last window's; ids are unique; design and
    maintenance members (not individual units) have weights > 0.

    Raises
    ------
    InputError
        Bad kind, months or structure.
    ValidationError
        A rule is broken; ``problems`` lists every offending member (row = member position + 2).
    """
    if kind not in WINDOW_KINDS:
        raise InputError(f"窗口类型 '{kind}' 无效;应为 {', '.join(WINDOW_KINDS)} 之一")
    for name, value in (("window_month", window_month), ("effective", effective)):
        if not MONTH_RE.match(str(value)):
            raise InputError(f"{name} = '{value}' 不是有效月份;应写作 YYYY-MM,例如 2013-12")
    if kind != "import" and window_month[5:7] != "12" and not force:
        raise ValidationError(
            f"{window_month} 不是统一调整窗口(12月):样本的新增和替换只在每年12月进行"
            "(人社部函〔2011〕308号);确需在窗口外调整请加 --force(或 force=True),将记录在案",
            problems_frame([]),
        )
    if kind != "import" and effective <= window_month:
        raise InputError(
            f"生效月份 {effective} 应晚于调整月份 {window_month}(12月窗口的名单自次年1月起生效)"
        )
    if len(windows):
        last = str(windows["effective"].max())
        if effective <= last:
            raise ValidationError(
                f"生效月份 {effective} 不晚于上一次调整的生效月份 {last};名单只能向后追加新的"
                "版本,已有记录不会被改写",
                problems_frame([]),
            )
    if not len(opening):
        raise InputError(f"{file}: 新名单为空;一个窗口至少要有一家监测企业")
    probs: list[Problem] = []
    dup = opening["enterprise_id"].duplicated(keep=False).to_numpy()
    for i in np.flatnonzero(dup):
        probs.append(
            Problem(
                "error",
                file,
                int(i) + 2,
                "enterprise_id",
                str(opening["enterprise_id"].iloc[i]),
                "duplicate",
                "同一企业在名单中出现多次;每家企业只能有一行",
            )
        )
    if kind != "import":
        w = opening["weight"]
        bad = (~opening["individual"].to_numpy(dtype=bool)) & ~(w.fillna(0) > 0).to_numpy()
        for i in np.flatnonzero(bad):
            probs.append(
                Problem(
                    "error",
                    file,
                    int(i) + 2,
                    "weight",
                    str(w.iloc[i]),
                    "weight_positive",
                    "设计权数应大于0(由 samplekit select/maintain 计算)",
                )
            )
    if probs:
        p = problems_frame(probs)
        raise ValidationError(
            f"{file}: {len(p)} 处问题,名单未写入:"
            f"{p['message'].iloc[0]}(第 {p['row'].iloc[0]} 行等)",
            p,
        )


def check_no_overlap(membership: pd.DataFrame) -> None:
    """Raise :class:`ValidationError` when rows of one enterprise overlap."""
    bad = overlaps(membership)
    if len(bad):
        probs = [
            Problem(
                "error",
                "panel_membership",
                None,
                "enterprise_id",
                str(r.enterprise_id),
                "overlap",
                f"{r.enterprise_id} 的名单记录 {r.valid_from}–{r.valid_to} 与 "
                f"{r.other_from}–{r.other_to} 重叠",
            )
            for r in bad.itertuples(index=False)
        ]
        raise ValidationError(
            f"名单记录重叠,未写入:{probs[0].message}(共 {len(probs)} 处)", problems_frame(probs)
        )


def sample_layout(rows: pd.DataFrame) -> pd.DataFrame:
    """Membership rows in the sample-list layout (``IN_FORCE_COLUMNS``; ``monthly`` = ministry)."""
    out = rows.assign(monthly=rows["ministry"].astype(bool))
    return out[IN_FORCE_COLUMNS].sort_values("enterprise_id", kind="stable").reset_index(drop=True)


def not_in_panel_problems(
    data: pd.DataFrame, membership: pd.DataFrame, *, file: str = ""
) -> pd.DataFrame:
    """Rule ``not_in_panel`` by month: each report row's enterprise must be in force that month.

    Parameters
    ----------
    data : DataFrame
        Report rows with ``row``, ``enterprise_id`` and ``period``.
    membership : DataFrame
        ``enterprise_id, valid_from, valid_to`` (all rows of the store).
    file : str

    Returns
    -------
    DataFrame
        One error per row whose enterprise has no membership row covering the row's month
        (rows with an empty id or a malformed period are left to their own rules).
    """
    d = data[["row", "enterprise_id", "period"]].copy()
    d["enterprise_id"] = d["enterprise_id"].astype(object)
    d["period"] = d["period"].astype(object)
    ok = d["enterprise_id"].notna() & d["period"].map(
        lambda p: isinstance(p, str) and MONTH_RE.match(p) is not None
    )
    d = d[ok.to_numpy(dtype=bool)]
    if not len(d):
        return problems_frame([])
    m = membership[["enterprise_id", "valid_from", "valid_to"]].astype(object)
    m = m.assign(valid_to=m["valid_to"].fillna("9999-12"))
    lo, hi = d["period"].min(), d["period"].max()  # only rows that can cover the file's months
    m = m[((m["valid_from"] <= hi) & (m["valid_to"] >= lo)).to_numpy(dtype=bool)]
    j = d.reset_index().merge(m, on="enterprise_id", how="left")
    cover = (
        j["valid_from"].notna() & (j["valid_from"] <= j["period"]) & (j["period"] <= j["valid_to"])
    )
    covered = set(j.loc[cover.to_numpy(dtype=bool), "index"])
    bad = d[~d.index.isin(covered)]
    probs = [
        Problem(
            "error",
            file,
            int(r.row),
            "enterprise_id",
            str(r.enterprise_id),
            "not_in_panel",
            f"该企业在 {r.period} 不在有效的监测名单中;请核对统一社会"
            "信用代码,或查看名单调整记录(samplekit panel)",
        )
        for r in bad.itertuples(index=False)
    ]
    return problems_frame(probs)


NETWORK_ZH = {
    "ministry": "失业动态监测(部级月报)",
    "province": "省级监测",
    "individual": "个体经济组织",
}


def network_of(members: pd.DataFrame) -> pd.Series:
    """Network of each member: ``individual`` (附表三), ``ministry`` (the ~1000 of the ministry's
    monthly network) or ``province`` (the rest of the provincial panel)."""
    ind = members["individual"].astype(bool).to_numpy()
    mini = members["ministry"].astype(bool).to_numpy()
    return pd.Series(
        np.where(ind, "individual", np.where(mini, "ministry", "province")),
        index=members.index,
        dtype=object,
    )


def panel_counts(members: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts of a panel in force: by city × network (with a 合计 row) and by cell (stratum).

    Returns
    -------
    (by_city, by_cell)
        ``by_city``: ``city, ministry, province, individual, total``; ``by_cell``: the stratum
        columns, ``members``, ``ministry``, ``cell_n``, ``cell_frame_units`` (design members).
    """
    net = network_of(members)
    by_city = pd.crosstab(members["city"], net).reindex(
        columns=["ministry", "province", "individual"], fill_value=0
    )
    by_city["total"] = by_city.sum(axis=1)
    by_city = by_city.reset_index().rename_axis(columns=None)
    total = by_city.drop(columns="city").sum().to_frame().T.assign(city="合计")
    by_city = pd.concat([by_city, total[by_city.columns]], ignore_index=True)
    design = members[~members["individual"].astype(bool)]
    by_cell = (
        design.groupby(STRATUM, sort=True)
        .agg(
            members=("enterprise_id", "size"),
            ministry=("ministry", "sum"),
            cell_n=("cell_n", "max"),
            cell_frame_units=("cell_frame_units", "max"),
        )
        .reset_index()
    )
    by_cell["ministry"] = by_cell["ministry"].astype("int64")
    return by_city, by_cell


def window_summary(windows: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """One row per window: when it was held and took effect, members, and the moves by reason.

    Columns (Chinese, for reports): 窗口, 类型, 调整月份, 生效月份, 在册企业, 新进, 退出 and one
    column per exit reason (关闭破产, 迁出, 已注销(名录中无) …), 同层替换, 邻近层补入.
    """
    from samplekit.maintenance import REASONS_ZH

    kinds = {"design": "抽样设计", "maintenance": "年度轮换(12月)", "import": "导入名单"}
    out = pd.DataFrame(
        {
            "窗口": windows["window_id"].astype(int),
            "类型": windows["kind"].map(kinds).fillna(windows["kind"]),
            "调整月份": windows["window_month"],
            "生效月份": windows["effective"],
            "在册企业": windows["members"].astype(int),
            "新进": windows["entered"].astype(int),
            "退出": windows["exited"].astype(int),
        }
    )
    retired = changes[changes["action"].isin(["retired", "rebalanced_out"])]
    if len(retired):
        by_reason = retired.assign(
            r=retired["reason"].map(REASONS_ZH).fillna(retired["reason"])
        ).pivot_table(
            index="window_id", columns="r", values="enterprise_id", aggfunc="count", fill_value=0
        )
        out = out.merge(by_reason, left_on="窗口", right_index=True, how="left")
    for action, label in (("replacement", "同层替换"), ("borrowed", "邻近层补入")):
        n = changes[changes["action"] == action].groupby("window_id").size()
        out[label] = out["窗口"].map(n).fillna(0).astype(int)
    out = out.fillna(0)
    counts = [c for c in out.columns if c not in ("类型", "调整月份", "生效月份")]
    out[counts] = out[counts].astype(int)
    return out.reset_index(drop=True)


def changes_by_city(
    changes: pd.DataFrame, *, kind: str = "maintenance", windows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Members retired and replaced per city over the windows of ``kind`` (Chinese headers)."""
    if windows is not None:
        keep = windows.loc[windows["kind"] == kind, "window_id"]
        changes = changes[changes["window_id"].isin(keep)]
    out = (
        pd.DataFrame(
            {
                "退出": changes[changes["action"].isin(["retired", "rebalanced_out"])]
                .groupby("city")
                .size(),
                "替换入样": changes[changes["action"].isin(["replacement", "borrowed"])]
                .groupby("city")
                .size(),
            }
        )
        .fillna(0)
        .astype(int)
    )
    return out.rename_axis("城市").reset_index()
