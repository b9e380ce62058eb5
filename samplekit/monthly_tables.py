"""The ministry's monthly tables (seed 001, 附表一/二/三) and the lists that go with them.

Sign convention: like the form (填表说明(七)), falls and reductions carry a minus sign in every
table here (``change`` < 0, ``reduction_*`` ≤ 0); the store keeps reductions non-negative.

Column relationships checked by :func:`check_identities` (填表说明(十), see ``docs/monthly.md``):

* 附表一: total row = sum of its enterprise rows; change = survey − baseline;
  change % = change ÷ baseline × 100; for an enterprise whose employment fell, the reduction
  types add up to the change.
* 附表二: total = sum of cities = sum of industries; enterprises ≥ enterprises with a fall;
  change = survey − baseline; change % = change ÷ baseline × 100; persons by reduction type add
  up to the persons reduced (``reduced_persons``, the falls of the enterprises that fell);
  each type's enterprise count ≤ enterprises with a fall ≤ the sum of the type counts (the form's
  "(2) = (7)+(9)+(11)+(13)+(15)" holds exactly when each enterprise reports a single type).
* 附表三: total = sum of cities = sum of city × industry rows; change = survey − baseline;
  change % = change ÷ baseline × 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.reports import REASON_COLUMNS, REDUCTION_COLUMNS, REDUCTION_TYPES, change_pct
from samplekit.rules import MassLayoffRule

Network = Literal["ministry", "province"]

#: The two networks of one sample (两网合并): the ministry's monthly network in the monitored
#: cities (its 附表一/二/三 go to the ministry) and the province's whole panel.
NETWORK_ZH: dict[str, str] = {
    "ministry": "失业动态监测(人社部月报网络)",
    "province": "企业用工定点监测(全省)",
}

TYPE_ZH: dict[str, str] = {
    "closure": "关闭破产",
    "suspension": "停业整顿",
    "layoff": "经济性裁员",
    "relocation": "企业迁出本市",
    "other": "其他",
}

TABLE1_COLUMNS: list[str] = [
    "city",
    "seq",
    "enterprise_id",
    "name",
    "registration_type",
    "registration_type_name",
    "section",
    "section_name",
    "baseline_employment",
    "survey_employment",
    "change",
    "change_pct",
    *REDUCTION_COLUMNS,
    "reasons",
]
TABLE2_COLUMNS: list[str] = [
    "level",
    "city",
    "section",
    "section_name",
    "enterprises",
    "enterprises_reduced",
    "baseline_employment",
    "survey_employment",
    "change",
    "change_pct",
    *[f"{t}_{k}" for t in REDUCTION_TYPES for k in ("enterprises", "persons")],
    "reasons",
    "reduced_persons",
]
TABLE3_COLUMNS: list[str] = [
    "level",
    "city",
    "section",
    "section_name",
    "baseline_employment",
    "survey_employment",
    "change",
    "change_pct",
    "reasons",
]

HEADERS_ZH: dict[str, str] = {
    "level": "汇总层次",
    "city": "城市",
    "seq": "序号",
    "enterprise_id": "统一社会信用代码",
    "name": "单位名称",
    "registration_type": "企业性质代码",
    "registration_type_name": "企业性质",
    "section": "行业门类",
    "section_name": "企业所属行业",
    "period": "调查期",
    "baseline_employment": "建档期期末就业人数",
    "survey_employment": "调查期期末就业人数",
    "change": "增减人数",
    "change_pct": "增减幅度(%)",
    **{f"reduction_{t}": f"减少类型:{z}" for t, z in TYPE_ZH.items()},
    **{f"{t}_enterprises": f"{z}:企业个数" for t, z in TYPE_ZH.items()},
    **{f"{t}_persons": f"{z}:减少人数" for t, z in TYPE_ZH.items()},
    "enterprises": "企业个数",
    "enterprises_reduced": "其中:就业人数减少企业个数",
    "reasons": "就业人数减少主要原因",
    "reduced_persons": "减少人数合计",
    "rank": "位次",
    "persons_reduced": "减少人数",
    "share_pct": "减员比例(%)",
    "main_type": "主要减少类型",
    "criterion": "标准",
    "code": "原因代码",
    "reason": "原因",
    "enterprises_citing": "填报该原因的企业数",
    "enterprises_first": "列为第一原因的企业数",
    "persons_first": "列为第一原因企业的减少人数",
    "share_of_reducing_pct": "占减员企业比例(%)",
    "registered_unemployed_start": "建档期期末城镇登记失业人数",
    "registered_unemployed_end": "调查期期末城镇登记失业人数",
    "registered_rate_start": "建档期期末城镇登记失业率(%)",
    "registered_rate_end": "调查期期末城镇登记失业率(%)",
    "table": "表",
    "check": "关系",
    "key": "行",
    "difference": "差额",
}

LEVEL_ZH = {"total": "总计", "city": "城市", "industry": "行业", "city_industry": "城市×行业"}
_REASON_WEIGHTS = (3, 2, 1)  # rank 1, 2, 3: weight of a code in a group's "main reasons"


def _names() -> tuple[dict[str, str], dict[str, str]]:
    from samplekit.reference import registration_types, section_names

    rt = registration_types()
    return section_names(), dict(zip(rt["code"], rt["name"], strict=True))


def _ministry_flag(panel: pd.DataFrame) -> str:
    """The column that marks the ministry's monthly network (``ministry``; a sample list's
    ``monthly``)."""
    from samplekit.errors import InputError

    for c in ("ministry", "monthly"):
        if c in panel.columns:
            return c
    raise InputError(
        "the panel has no 'ministry' column (member of the ministry's monthly "
        "network, 失业动态监测), so the ministry's tables cannot be told apart; load "
        "the panel of record (store.panel_in_force) or use network='province' "
        "(samplekit tables --network province)"
    )


def _truthy(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).astype(bool)
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "1", "1.0", "yes", "是"]).fillna(False).astype(bool)


def network_panel(
    panel: pd.DataFrame, *, network: Network = "ministry", period: str | None = None
) -> pd.DataFrame:
    """The members of a network in force in ``period``.

    Parameters
    ----------
    panel : DataFrame
        The membership (``valid_from``/``valid_to``: then ``period`` is needed) or the panel in
        force (``store.panel_in_force``), with ``ministry`` (or a sample list's ``monthly``).
    network : {"ministry", "province"}
        "ministry": members with the ministry flag (the monthly network; its cities are the
        monitored cities); "province": every member.
    period : str, optional
        ``YYYY-MM``; required for a membership table.
    """
    from samplekit.errors import InputError

    if network not in NETWORK_ZH:
        raise InputError(f"network={network!r}: use 'ministry' or 'province'")
    out = panel
    if "valid_from" in panel.columns:
        if period is None:
            raise InputError(
                "a membership table (valid_from/valid_to) needs the month: "
                "network_panel(panel, period='2013-12')"
            )
        out = out[_in_force(out, pd.Series(period, index=out.index))]
    if network == "ministry":
        out = out[_truthy(out[_ministry_flag(out)]).to_numpy()]
    return out.reset_index(drop=True)


def _in_force(rows: pd.DataFrame, period: pd.Series) -> np.ndarray:
    """valid_from ≤ period ≤ valid_to (an empty valid_to is open); months compare as text."""
    start = rows["valid_from"].astype("string").str.strip().str.slice(0, 7)
    end = (
        rows["valid_to"].astype("string").str.strip().str.slice(0, 7)
        if "valid_to" in rows.columns
        else pd.Series(pd.NA, index=rows.index, dtype="string")
    )
    open_ = end.isna() | end.isin(["", "None", "nan", "NaN", "NaT", "<NA>"])
    p = period.astype("string").str.slice(0, 7)
    return ((start <= p) & (open_ | (p <= end))).fillna(False).to_numpy(bool)


def _join(
    reports: pd.DataFrame, panel: pd.DataFrame, network: Network = "province"
) -> pd.DataFrame:
    """Reports with the attributes of the member row in force that month; reductions signed
    like the form (≤ 0). "ministry" keeps the reports of ministry-network members only;
    "province" keeps every report (non-members shown as "(名单外)")."""
    from samplekit.errors import InputError

    if network not in NETWORK_ZH:
        raise InputError(f"network={network!r}: use 'ministry' or 'province'")
    flag = [_ministry_flag(panel)] if network == "ministry" else []
    cols = [
        c
        for c in ("enterprise_id", "name", "city", "section", "registration_type", "individual")
        if c in panel.columns
    ]
    members = panel[list(dict.fromkeys([*cols, *flag]))].assign(_member=True)
    if "valid_from" in panel.columns:
        # The row in force in each report's month (rows of one enterprise never overlap).
        pos = reports[["enterprise_id", "period"]].reset_index(drop=True)
        pos["_pos"] = np.arange(len(pos))
        cand = pos.merge(
            members.assign(
                valid_from=panel["valid_from"].to_numpy(),
                valid_to=panel["valid_to"].to_numpy() if "valid_to" in panel.columns else None,
            ),
            on="enterprise_id",
            how="inner",
        )
        cand = cand[_in_force(cand, cand["period"])].drop_duplicates("_pos")
        attrs = cand.set_index("_pos").drop(
            columns=["enterprise_id", "period", "valid_from", "valid_to"]
        )
        d = reports.reset_index(drop=True).join(attrs, how="left")
    else:
        d = reports.merge(
            members.drop_duplicates("enterprise_id"), on="enterprise_id", how="left", validate="m:1"
        )
    d["_member"] = d["_member"].astype("boolean").fillna(False).astype(bool)
    if network == "ministry":
        d = d[d["_member"].to_numpy() & _truthy(d[flag[0]]).to_numpy()].reset_index(drop=True)
        d = d.drop(columns=flag)
    d = d.drop(columns="_member")
    d["city"] = d["city"].fillna("(名单外)")
    d["section"] = d["section"].fillna("?")
    if "individual" not in d.columns:
        d["individual"] = False
    d["individual"] = _truthy(d["individual"])
    for c in ("baseline_employment", "survey_employment", "change", *REDUCTION_COLUMNS):
        d[c] = d[c].astype("Int64").fillna(0).astype("int64")
    for c in REDUCTION_COLUMNS:
        d[c] = -d[c].abs()
    d["fall"] = np.where(d["change"] < 0, -d["change"], 0)
    return d


def network_reports(
    reports: pd.DataFrame, panel: pd.DataFrame, *, network: Network = "ministry"
) -> pd.DataFrame:
    """The reports of the network's members in force that month ("province": all reports)."""
    if network == "province":
        return reports
    d = _join(reports, panel, network)
    mine = pd.MultiIndex.from_arrays([reports["enterprise_id"], reports["period"]]).isin(
        pd.MultiIndex.from_arrays([d["enterprise_id"], d["period"]])
    )
    return reports[mine]


def main_reasons(group: pd.DataFrame, k: int = 3) -> str:
    """The group's main reasons: codes ranked by Σ fall × weight (3/2/1 for rank 1/2/3)."""
    score: dict[int, float] = {}
    fell = group[group["fall"] > 0]
    for c, w in zip(REASON_COLUMNS, _REASON_WEIGHTS, strict=True):
        v = fell[c].astype("Int64")
        ok = v.notna()
        for code, pts in (fell.loc[ok, "fall"] * w).groupby(v[ok].astype(int)).sum().items():
            score[int(code)] = score.get(int(code), 0.0) + float(pts)
    top = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return "、".join(str(c) for c, _ in top)


def _reasons_cell(d: pd.DataFrame) -> pd.Series:
    from samplekit.reports import reasons_text

    return reasons_text(d)


def table1(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    city_order: Sequence[str] | None = None,
    network: Network = "ministry",
) -> pd.DataFrame:
    """附表一: per monitored city, every enterprise with all columns, then the city's total row.

    Parameters
    ----------
    reports : DataFrame
        One month of reports (canonical layout, e.g. :func:`samplekit.store.read_reports`).
    panel : DataFrame
        The members: the membership (``valid_from``/``valid_to``; each report is matched to the
        row in force in its month) or the panel in force (``store.panel_in_force``), with
        ``enterprise_id, name, city, section, registration_type``, ``ministry`` (the ministry's
        monthly network) and ``individual`` (urban individual economic organisations go to
        附表三, not here).
    city_order : list of str, optional
        Order of the cities (default: by name).
    network : {"ministry", "province"}
        "ministry" (default, 失业动态监测): the members of the ministry's monthly network in the
        monitored cities (the cities with ministry members); "province" (企业用工定点监测):
        every member (reports of non-members shown under "(名单外)").

    Returns
    -------
    DataFrame
        :data:`TABLE1_COLUMNS`; ``seq`` is 1, 2, … per city and "总计" on the total row.
    """
    sec_names, rt_names = _names()
    d = _join(reports, panel, network)
    d = d[~d["individual"]]
    cities = _ordered(d["city"].unique(), city_order)
    parts = []
    for city in cities:
        g = d[d["city"] == city].sort_values("enterprise_id", kind="stable")
        rows = pd.DataFrame(
            {
                "city": city,
                "seq": [str(i) for i in range(1, len(g) + 1)],
                "enterprise_id": g["enterprise_id"].to_numpy(),
                "name": g["name"].to_numpy(),
                "registration_type": g["registration_type"].to_numpy(),
                "registration_type_name": g["registration_type"].map(rt_names).to_numpy(),
                "section": g["section"].to_numpy(),
                "section_name": g["section"].map(sec_names).to_numpy(),
            }
        )
        for c in ("baseline_employment", "survey_employment", "change", *REDUCTION_COLUMNS):
            rows[c] = g[c].to_numpy()
        rows["change_pct"] = change_pct(g["change"], g["baseline_employment"]).to_numpy()
        rows["reasons"] = _reasons_cell(g).to_numpy()
        total = {
            "city": city,
            "seq": "总计",
            "enterprise_id": "",
            "name": "",
            "section": "",
            "registration_type": "",
            "registration_type_name": "",
            "section_name": "",
        }
        for c in ("baseline_employment", "survey_employment", "change", *REDUCTION_COLUMNS):
            total[c] = int(g[c].sum())
        total["change_pct"] = _pct(total["change"], total["baseline_employment"])
        total["reasons"] = main_reasons(g)
        parts.append(pd.concat([rows, pd.DataFrame([total])], ignore_index=True))
    if not parts:
        return pd.DataFrame(columns=TABLE1_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[TABLE1_COLUMNS]
    out["change_pct"] = out["change_pct"].astype("Float64")
    return out


def _pct(change: float, base: float) -> float:
    return float(change_pct(pd.Series([change]), pd.Series([base])).iloc[0]) if base > 0 else np.nan


def _ordered(values: Any, order: Sequence[str] | None) -> list[str]:
    vals = list(dict.fromkeys(values))
    if order is None:
        return sorted(vals)
    rank = {c: i for i, c in enumerate(order)}
    return sorted(vals, key=lambda c: (rank.get(c, len(rank)), c))


def _summary_row(g: pd.DataFrame) -> dict[str, Any]:
    row: dict[str, Any] = {
        "enterprises": len(g),
        "enterprises_reduced": int((g["fall"] > 0).sum()),
        "baseline_employment": int(g["baseline_employment"].sum()),
        "survey_employment": int(g["survey_employment"].sum()),
        "change": int(g["change"].sum()),
    }
    row["change_pct"] = _pct(row["change"], row["baseline_employment"])
    for t in REDUCTION_TYPES:
        c = f"reduction_{t}"
        row[f"{t}_enterprises"] = int((g[c] < 0).sum())
        row[f"{t}_persons"] = int(g[c].sum())
    row["reasons"] = main_reasons(g)
    row["reduced_persons"] = -int(g["fall"].sum())
    return row


def table2(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    city_order: Sequence[str] | None = None,
    network: Network = "ministry",
) -> pd.DataFrame:
    """附表二: provincial summary — total, each city, each industry (section).

    Per row: enterprises, of which with a fall, employment at both ends, change, change %,
    for each reduction type the enterprises and persons (negative), main reasons, and
    ``reduced_persons`` (Σ falls, negative) against which the types add up.
    """
    sec_names, _ = _names()
    d = _join(reports, panel, network)
    d = d[~d["individual"]]
    rows = [{"level": "total", "city": "", "section": "", "section_name": "", **_summary_row(d)}]
    for city in _ordered(d["city"].unique(), city_order):
        rows.append(
            {
                "level": "city",
                "city": city,
                "section": "",
                "section_name": "",
                **_summary_row(d[d["city"] == city]),
            }
        )
    for sec in sorted(d["section"].unique()):
        rows.append(
            {
                "level": "industry",
                "city": "",
                "section": sec,
                "section_name": sec_names.get(sec, sec),
                **_summary_row(d[d["section"] == sec]),
            }
        )
    out = pd.DataFrame(rows, columns=TABLE2_COLUMNS)
    out["change_pct"] = out["change_pct"].astype("Float64")
    return out


def table3(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    city_order: Sequence[str] | None = None,
    network: Network = "ministry",
) -> pd.DataFrame:
    """附表三: urban individual economic organisations — total, per city, per city × industry.

    Empty (no rows) when no individual organisations reported this month.
    """
    sec_names, _ = _names()
    d = _join(reports, panel, network)
    d = d[d["individual"]]
    if d.empty:
        return pd.DataFrame(columns=TABLE3_COLUMNS)

    def row(level: str, city: str, sec: str, g: pd.DataFrame) -> dict[str, Any]:
        b, s = int(g["baseline_employment"].sum()), int(g["survey_employment"].sum())
        return {
            "level": level,
            "city": city,
            "section": sec,
            "section_name": sec_names.get(sec, "") if sec else "",
            "baseline_employment": b,
            "survey_employment": s,
            "change": s - b,
            "change_pct": _pct(s - b, b),
            "reasons": main_reasons(g),
        }

    rows = [row("total", "", "", d)]
    for city in _ordered(d["city"].unique(), city_order):
        g = d[d["city"] == city]
        rows.append(row("city", city, "", g))
        for sec in sorted(g["section"].unique()):
            rows.append(row("city_industry", city, sec, g[g["section"] == sec]))
    out = pd.DataFrame(rows, columns=TABLE3_COLUMNS)
    out["change_pct"] = out["change_pct"].astype("Float64")
    return out


def top_industries(table2_df: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """补充资料: the ``n`` industries with the most persons reduced (ties by section letter)."""
    ind = table2_df[table2_df["level"] == "industry"].copy()
    ind = ind[ind["reduced_persons"] < 0]
    ind["persons_reduced"] = -ind["reduced_persons"]
    ind = ind.sort_values(
        ["persons_reduced", "section"], ascending=[False, True], kind="stable"
    ).head(n)
    ind["rank"] = np.arange(1, len(ind) + 1)
    return ind[
        ["rank", "section", "section_name", "persons_reduced", "enterprises_reduced", "change"]
    ].reset_index(drop=True)


def mass_layoffs(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    min_persons: int = 100,
    min_share: float = 0.10,
    network: Network = "ministry",
) -> pd.DataFrame:
    """Enterprises cutting at least ``min_persons`` people or ``min_share`` of their baseline.

    Parameters
    ----------
    reports : DataFrame
        Reports of one or more months (canonical layout).
    panel : DataFrame
        ``enterprise_id, name, city, section`` (the membership or the panel in force).
    min_persons, min_share
        Seed 002's reporting line (≥100 people or ≥10 %); ``monthly.validation`` in params.
    network : {"ministry", "province"}
        Whose enterprises (see :func:`table1`).

    Returns
    -------
    DataFrame
        ``period, city, enterprise_id, name, section, section_name, baseline_employment,
        survey_employment, persons_reduced, share_pct, main_type, reduction_* (negative),
        reasons, criterion`` (``persons``, ``share`` or ``both``), sorted by period, persons
        reduced (descending), enterprise id.

    Examples
    --------
    >>> ml = mass_layoffs(read_reports(store, ["2013-12"]), read_panel(store))  # doctest: +SKIP
    >>> ml.groupby("city").size()  # doctest: +SKIP
    """
    sec_names, _ = _names()
    d = _join(reports, panel, network)
    share = d["fall"] / d["baseline_employment"].where(d["baseline_employment"] > 0)
    by_persons, by_share = MassLayoffRule(min_persons=min_persons, min_share=min_share).criteria(
        d["fall"], d["baseline_employment"]
    )
    by_persons = pd.Series(by_persons, index=d.index)
    by_share = pd.Series(by_share, index=d.index)
    keep = by_persons | by_share
    g = d[keep].copy()
    g["persons_reduced"] = g["fall"].astype("int64")
    g["share_pct"] = (100 * share[keep]).round(1)
    red = -g[REDUCTION_COLUMNS].to_numpy()
    g["main_type"] = (
        [TYPE_ZH[REDUCTION_TYPES[int(np.argmax(r))]] if r.max() > 0 else "" for r in red]
        if len(g)
        else []
    )
    g["criterion"] = np.select(
        [by_persons[keep] & by_share[keep], by_persons[keep]], ["both", "persons"], "share"
    )
    g["section_name"] = g["section"].map(sec_names)
    g["reasons"] = _reasons_cell(g).to_numpy() if len(g) else []
    g = g.sort_values(
        ["period", "persons_reduced", "enterprise_id"], ascending=[True, False, True], kind="stable"
    )
    cols = [
        "period",
        "city",
        "enterprise_id",
        "name",
        "section",
        "section_name",
        "baseline_employment",
        "survey_employment",
        "persons_reduced",
        "share_pct",
        "main_type",
        *REDUCTION_COLUMNS,
        "reasons",
        "criterion",
    ]
    return g[cols].reset_index(drop=True)


def reason_distribution(reports: pd.DataFrame) -> pd.DataFrame:
    """Per reason code (1–11): enterprises citing it at any rank, first, and their falls."""
    from samplekit.reference import reason_codes

    codes = reason_codes()
    d = reports.copy()
    d["fall"] = np.where(
        d["change"].astype("Int64").fillna(0) < 0, -d["change"].astype("Int64").fillna(0), 0
    )
    fell = d[d["fall"] > 0]
    n_red = max(len(fell), 1)
    rows = []
    for code, name in zip(codes["code"], codes["name_zh"], strict=True):
        any_rank = np.zeros(len(fell), bool)
        for c in REASON_COLUMNS:
            any_rank |= (fell[c].astype("Int64") == code).fillna(False).to_numpy()
        first = (fell["reason_1"].astype("Int64") == code).fillna(False).to_numpy()
        rows.append(
            {
                "code": int(code),
                "reason": name,
                "enterprises_citing": int(any_rank.sum()),
                "enterprises_first": int(first.sum()),
                "persons_first": int(fell["fall"].to_numpy()[first].sum()),
                "share_of_reducing_pct": round(100 * any_rank.sum() / n_red, 1),
            }
        )
    return pd.DataFrame(rows)


def check_identities(t1: pd.DataFrame, t2: pd.DataFrame, t3: pd.DataFrame) -> pd.DataFrame:
    """Every column relationship of 填表说明(十) that fails: ``table, check, key, difference``.

    An empty frame means all totals meet the form's relationships.
    """
    bad: list[dict[str, Any]] = []

    def need(ok: bool, table: str, check: str, key: str, diff: float) -> None:
        if not ok:
            bad.append({"table": table, "check": check, "key": key, "difference": diff})

    counts = ["baseline_employment", "survey_employment", "change", *REDUCTION_COLUMNS]
    for city, g in t1.groupby("city", sort=False):
        ent, tot = g[g["seq"] != "总计"], g[g["seq"] == "总计"]
        need(len(tot) == 1, "附表一", "one total row", city, len(tot))
        if len(tot) != 1:
            continue
        for c in counts:
            diff = float(tot[c].iloc[0]) - float(ent[c].sum())
            need(diff == 0, "附表一", f"total {c} = Σ rows", city, diff)
        _rows_identities(g, "附表一", city, need)
        fell = ent[ent["change"] < 0]
        diff = (fell[REDUCTION_COLUMNS].sum(axis=1) - fell["change"]).abs()
        need(
            bool((diff == 0).all()),
            "附表一",
            "(5) = (7)+…+(11) when fell",
            city,
            float(diff.max()) if len(diff) else 0.0,
        )

    sums = [
        "enterprises",
        "enterprises_reduced",
        "baseline_employment",
        "survey_employment",
        "change",
        "reduced_persons",
        *[f"{t}_{k}" for t in REDUCTION_TYPES for k in ("enterprises", "persons")],
    ]
    if len(t2):
        total = t2[t2["level"] == "total"].iloc[0]
        for level in ("city", "industry"):
            part = t2[t2["level"] == level]
            for c in sums:
                diff = float(total[c]) - float(part[c].sum())
                need(diff == 0, "附表二", f"total {c} = Σ {level}", "总计", diff)
        for _, r in t2.iterrows():
            key = r["city"] or r["section"] or "总计"
            need(
                r["enterprises"] >= r["enterprises_reduced"],
                "附表二",
                "(1) ≥ (2)",
                key,
                r["enterprises_reduced"] - r["enterprises"],
            )
            types_p = sum(r[f"{t}_persons"] for t in REDUCTION_TYPES)
            need(
                types_p == r["reduced_persons"],
                "附表二",
                "Σ type persons = reduced persons",
                key,
                types_p - r["reduced_persons"],
            )
            types_e = [r[f"{t}_enterprises"] for t in REDUCTION_TYPES]
            need(
                max(types_e) <= r["enterprises_reduced"] <= sum(types_e),
                "附表二",
                "type enterprises ≤ (2) ≤ Σ type enterprises",
                key,
                r["enterprises_reduced"] - sum(types_e),
            )
        _rows_identities(t2, "附表二", "all", need)
    if len(t3):
        total = t3[t3["level"] == "total"].iloc[0]
        for c in ("baseline_employment", "survey_employment", "change"):
            diff = float(total[c]) - float(t3.loc[t3["level"] == "city", c].sum())
            need(diff == 0, "附表三", f"total {c} = Σ cities", "总计", diff)
            for city, g in t3[t3["level"] == "city_industry"].groupby("city"):
                crow = t3[(t3["level"] == "city") & (t3["city"] == city)].iloc[0]
                diff = float(crow[c]) - float(g[c].sum())
                need(diff == 0, "附表三", f"city {c} = Σ industries", city, diff)
        _rows_identities(t3, "附表三", "all", need)
    return pd.DataFrame(bad, columns=["table", "check", "key", "difference"])


def _rows_identities(t: pd.DataFrame, table: str, key: str, need: Any) -> None:
    diff = (t["survey_employment"] - t["baseline_employment"] - t["change"]).abs()
    need(bool((diff == 0).all()), table, "change = survey − baseline", key, float(diff.max()))
    base = t["baseline_employment"].astype(float)
    exact = 100 * t["change"].astype(float) / base.where(base > 0)
    pct = t["change_pct"].astype("Float64").astype(float)
    gap = (pct - exact).abs().where(base > 0, 0).fillna(0)
    need(
        bool((gap <= 0.05 + 1e-9).all()),
        table,
        "change % = change ÷ baseline × 100",
        key,
        float(gap.max()),
    )


def monthly_tables(
    reports: pd.DataFrame,
    panel: pd.DataFrame,
    *,
    min_persons: int = 100,
    min_share: float = 0.10,
    city_order: Sequence[str] | None = None,
    network: Network = "ministry",
) -> dict[str, pd.DataFrame]:
    """All tables of one month for one network, keyed ``table1, table2, table3,
    top_industries, mass_layoffs, reasons``; each table's ``attrs["network"]`` is the network.

    ``network="ministry"`` (default): the ministry's 附表一/二/三 from its monthly network;
    ``"province"``: the province's own tables from every member (see :func:`table1`).
    """
    kw = {"city_order": city_order, "network": network}
    t1, t2, t3 = (
        table1(reports, panel, **kw),
        table2(reports, panel, **kw),
        table3(reports, panel, **kw),
    )
    tables = {
        "table1": t1,
        "table2": t2,
        "table3": t3,
        "top_industries": top_industries(t2),
        "mass_layoffs": mass_layoffs(
            reports, panel, min_persons=min_persons, min_share=min_share, network=network
        ),
        "reasons": reason_distribution(network_reports(reports, panel, network=network)),
    }
    for df in tables.values():
        df.attrs["network"] = network
    return tables


SHEETS_ZH: dict[str, str] = {
    "table1": "附表一",
    "table2": "附表二",
    "table3": "附表三",
    "top_industries": "减员前5位行业",
    "mass_layoffs": "大规模减员企业",
    "reasons": "减少原因分布",
    "city": "补充资料_登记失业",
    "supplementary": "补充数据_裁员方案",
    "notes_missing": "未报专项说明",
}
TITLES_ZH: dict[str, str] = {
    "table1": "监测城市就业人员变化情况表",
    "table2": "监测城市企业就业人员分类型变化情况省级汇总表",
    "table3": "监测城市个体经济组织就业人员分类型变化情况省级汇总表",
    "top_industries": "调查期比建档期期末减少就业人数前5位的行业",
    "mass_layoffs": "减员100人以上或10%以上的企业",
    "reasons": "就业人数减少主要原因分布",
    "city": "补充资料:城镇登记失业人数和登记失业率",
    "supplementary": "监测范围外企业补充数据及企业裁员方案报告(不计入监测数据)",
    "notes_missing": "应作专项说明而尚未报送的监测企业",
}


def _for_file(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "level" in out.columns:
        out["level"] = out["level"].map(LEVEL_ZH).fillna(out["level"])
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].astype("Float64").round(2 if "rate" in c else 1)
    return out


def _store_panel(store: str | Path, period: str) -> pd.DataFrame:
    """The members in force in ``period``: ``store.panel_in_force`` (the panel of record, issue
    9), or the store's single panel where that is not available yet."""
    from samplekit import store as st

    if hasattr(st, "panel_in_force"):
        return st.panel_in_force(store, period)
    return st.read_panel(store)


def tables_for(
    store: str | Path,
    period: str,
    *,
    params: Any = None,
    network: Network = "ministry",
    panel: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """All tables of ``period`` for one network from a store (plus ``city``: the city table of
    that month).

    ``network``: "ministry" (default) — the ministry's 附表一/二/三 and top-5 industries from its
    monthly network; "province" — the province's own tables from every member. ``panel``: the
    members to use (default: the members in force in ``period`` read from the store).

    Raises
    ------
    InputError
        No accepted report for ``period`` in the store.
    RuntimeError
        A total breaks the form's column relationships (a bug: never ship such tables).
    """
    from samplekit.errors import InputError
    from samplekit.reports import ValidationRules
    from samplekit.store import read_city_reports, read_reports, store_periods

    rules = ValidationRules.from_params(params)
    reports = read_reports(store, [period])
    if reports.empty:
        have = store_periods(store)
        raise InputError(
            f"{store}: no accepted reports for period {period}; the store has "
            f"{have[0] + ' … ' + have[-1] if have else 'no reports'}"
        )
    if panel is None:
        panel = _store_panel(store, period)
    tables = monthly_tables(
        reports,
        panel,
        min_persons=rules.mass_layoff.min_persons,
        min_share=rules.mass_layoff.min_share,
        city_order=_city_order(params),
        network=network,
    )
    tables["city"] = read_city_reports(store, [period])
    tables["city"].attrs["network"] = network
    tables.update(supplementary_tables(store, period, params=params))
    bad = check_identities(tables["table1"], tables["table2"], tables["table3"])
    if len(bad):
        raise RuntimeError(
            f"monthly tables for {period} break the form's relationships:\n{bad.to_string()}"
        )
    return tables


def write_monthly_tables(
    store: str | Path,
    period: str,
    out_dir: str | Path,
    *,
    params: Any = None,
    tables: dict[str, pd.DataFrame] | None = None,
    network: Network = "ministry",
    data_note: str = "",
) -> list[Path]:
    """Write one month's tables as CSV (utf-8-sig) and one Chinese XLSX laid out like the forms.

    Parameters
    ----------
    store : the DuckDB store
    period : ``YYYY-MM``
    out_dir : folder (created)
    params : Params, optional
        ``monthly.mass_layoff`` and the city order of the province.
    tables : dict, optional
        Tables already computed by :func:`tables_for` for the same ``network`` (saves
        recomputing them).
    network : {"ministry", "province"}
        Whose tables (see :func:`tables_for`); in every file name, title and note.

    Returns
    -------
    list of Path
        ``<table>_<network>_<period>.csv`` for each table (e.g. ``table2_ministry_2013-12.csv``)
        and ``monthly_tables_<network>_<period>.xlsx``.
    """
    from samplekit.errors import InputError
    from samplekit.io import write_csv, write_xlsx

    if tables is None:
        tables = tables_for(store, period, params=params, network=network)
    made_for = tables["table2"].attrs.get("network", network)
    if made_for != network:
        raise InputError(
            f"the tables were computed for network={made_for!r} but are written "
            f"as network={network!r}; pass the same network to both"
        )
    n_reports = int(tables["table2"]["enterprises"].iloc[0]) if len(tables["table2"]) else 0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, df in tables.items():
        paths.append(write_csv(_for_file(df), out / f"{key}_{network}_{period}.csv"))
    from samplekit import __version__

    about = {
        "调查期": period,
        "监测网络": NETWORK_ZH[network],
        "存储": str(Path(store).name),
        "监测企业数": n_reports,
        "版本": f"samplekit {__version__}",
        "符号约定": "减少人数和减少类型以负数表示(填表说明(七))",
        "栏目关系": "已逐项核对填表说明(十)的栏目关系,全部满足",
    }
    # The workbook shows names, not codes (the CSV keeps both): fewer cells to write.
    sheets = {
        SHEETS_ZH[k]: _for_file(
            v.drop(columns=["registration_type", "section"]) if k == "table1" else v
        )
        for k, v in tables.items()
    }
    titles = {SHEETS_ZH[k]: f"{TITLES_ZH[k]}({period},{NETWORK_ZH[network]})" for k in tables}
    from samplekit.io import standard_about

    paths.append(
        write_xlsx(
            sheets,
            out / f"monthly_tables_{network}_{period}.xlsx",
            headers=_supplementary_headers() | HEADERS_ZH,
            titles=titles,
            about=standard_about(params, extra=about),
            source=f"{NETWORK_ZH[network]}直报数据",
            units="单位:个、人、%",
            data_note=data_note,
        )
    )
    return paths


def supplementary_tables(
    store: str | Path, period: str, *, params: Any = None
) -> dict[str, pd.DataFrame]:
    """The month's supplementary records (补充数据, 裁员方案报告) and the special notes still
    missing (issue 13), listed beside the panel's mass layoffs.

    Empty dict for a store that has never loaded a side file (the tables of such a store are
    unchanged). Supplementary records are listed only: they never enter the totals above.
    """
    from samplekit.events import event_list
    from samplekit.special_notes import NoteSettings, missing_notes, note_status, required_notes
    from samplekit.store import read_network_table, read_panel, read_reports

    if read_network_table(store, "side_files").empty:
        return {}
    need = required_notes(read_reports(store, [period]), settings=NoteSettings.from_params(params))
    return {
        "supplementary": event_list(read_network_table(store, "events"), period=period),
        "notes_missing": missing_notes(
            note_status(need, read_network_table(store, "special_notes"), read_panel(store))
        ),
    }


def _supplementary_headers() -> dict[str, str]:
    from samplekit.events import HEADERS_ZH as EVENTS
    from samplekit.special_notes import HEADERS_ZH as NOTES

    return EVENTS | NOTES


def _city_order(params: Any) -> list[str] | None:
    if params is None:
        return None
    from samplekit.cities import load_cities

    path = params.path_of("province.cities", None)
    return None if path is None else load_cities(path)["city"].tolist()


def monthly_trend(
    reports: pd.DataFrame,
    panel: pd.DataFrame | None = None,
    *,
    by: str | None = None,
    network: Network = "ministry",
) -> pd.DataFrame:
    """Per month (and ``by`` group, e.g. ``city``): employment at both ends, net change %, and
    the job-loss rate (persons reduced ÷ baseline × 100) of the network's enterprises that
    reported.

    Each month counts the members in force that month (``panel``: the membership, or the panel
    in force); ``network`` as in :func:`table1` (without ``panel`` only "province": every
    report). Individual economic organisations are left out (they are reported in 附表三).
    """
    if panel is None and network == "ministry":
        from samplekit.errors import InputError

        raise InputError(
            "monthly_trend(network='ministry') needs the panel (membership) to "
            "tell the ministry's monthly network apart; pass panel=…, or "
            "network='province'"
        )
    d = (
        _join(reports, panel, network)
        if panel is not None
        else reports.assign(
            fall=-reports["change"].astype("Int64").fillna(0).clip(upper=0), individual=False
        )
    )
    d = d[~d["individual"]]
    keys = ["period"] + ([by] if by else [])
    g = (
        d.groupby(keys, sort=True)
        .agg(
            enterprises=("enterprise_id", "size"),
            baseline_employment=("baseline_employment", "sum"),
            survey_employment=("survey_employment", "sum"),
            reduced_persons=("fall", "sum"),
        )
        .reset_index()
    )
    g["change"] = g["survey_employment"] - g["baseline_employment"]
    base = g["baseline_employment"].where(g["baseline_employment"] > 0)
    g["change_pct"] = (100 * g["change"] / base).round(3)
    g["job_loss_rate_pct"] = (100 * g["reduced_persons"] / base).round(3)
    return g


def key_figures(tables: dict[str, pd.DataFrame], period: str) -> dict[str, Any]:
    """The numbers the monthly report quotes (plain Python values, rounded)."""
    t2 = tables["table2"]
    total = t2[t2["level"] == "total"].iloc[0]
    cities = t2[t2["level"] == "city"].sort_values("change", kind="stable")
    types = {TYPE_ZH[t]: -int(total[f"{t}_persons"]) for t in REDUCTION_TYPES}
    reasons = tables["reasons"].sort_values(["enterprises_first", "code"], ascending=[False, True])
    top = tables["top_industries"]
    return {
        "period": period,
        "network": t2.attrs.get("network"),
        "enterprises": int(total["enterprises"]),
        "enterprises_reduced": int(total["enterprises_reduced"]),
        "baseline": int(total["baseline_employment"]),
        "survey": int(total["survey_employment"]),
        "change": int(total["change"]),
        "change_pct": round(
            100 * int(total["change"]) / max(int(total["baseline_employment"]), 1), 2
        ),
        "reduced_persons": -int(total["reduced_persons"]),
        "job_loss_rate_pct": round(
            100 * -int(total["reduced_persons"]) / max(int(total["baseline_employment"]), 1), 2
        ),
        "types": types,
        "worst_cities": [
            (r["city"], int(r["change"]), round(float(r["change_pct"]), 2))
            for _, r in cities.head(3).iterrows()
            if r["change"] < 0
        ],
        "top_industries": [
            (r["section_name"], int(r["persons_reduced"])) for _, r in top.iterrows()
        ],
        "top_reasons": [
            (int(r["code"]), r["reason"], int(r["enterprises_first"]))
            for _, r in reasons.head(3).iterrows()
            if r["enterprises_first"] > 0
        ],
        "mass_layoffs": len(tables["mass_layoffs"]),
    }


def analysis_text(fig: dict[str, Any], trend: pd.DataFrame | None = None) -> list[str]:
    """Paragraphs of the 月度失业动态监测分析报告 written from the key figures (Chinese)."""
    y, m = fig["period"][:4], int(fig["period"][5:7])
    direction = "减少" if fig["change"] < 0 else "增加"
    where = {
        "ministry": "人社部月报网络(失业动态监测)",
        "province": "全省企业用工定点监测网络",
    }.get(fig.get("network") or "", "全省")
    paras = [
        f"{y}年{m}月,{where}{fig['enterprises']}家监测企业调查期期末就业人数为{fig['survey']}人,"
        f"比建档期期末{direction}{abs(fig['change'])}人,增减幅度为{fig['change_pct']:.2f}%。"
        f"其中{fig['enterprises_reduced']}家企业就业人数减少,共减少{fig['reduced_persons']}人,"
        f"岗位流失率为{fig['job_loss_rate_pct']:.2f}%。"
    ]
    if trend is not None and len(trend) >= 4:
        t = trend.sort_values("period")
        t = t[t["period"] <= fig["period"]]
        last = float(t["job_loss_rate_pct"].iloc[-1])
        prior = float(t["job_loss_rate_pct"].iloc[-13:-1].mean())
        text = f"本月岗位流失率{'高于' if last > prior else '低于'}此前12个月平均水平({prior:.2f}%)"
        if len(t) > 12:
            yoy = float(t["job_loss_rate_pct"].iloc[-13])
            text += f",{'高于' if last > yoy else '低于'}上年同月({yoy:.2f}%)"
        paras.append(text + "。")
    types = sorted(fig["types"].items(), key=lambda kv: -kv[1])
    main = [f"{k}{v}人" for k, v in types if v > 0]
    if main:
        paras.append("从减少类型看," + "、".join(main) + "。")
    if fig["worst_cities"]:
        paras.append(
            "就业人数减少较多的城市为"
            + "、".join(f"{c}(减少{-n}人,{p:.2f}%)" for c, n, p in fig["worst_cities"])
            + "。"
        )
    if fig["top_industries"]:
        paras.append(
            "减少就业人数前5位的行业依次为"
            + "、".join(f"{s}({n}人)" for s, n in fig["top_industries"])
            + "。"
        )
    if fig["top_reasons"]:
        paras.append(
            "企业填报的首要减员原因主要是"
            + "、".join(f"{name}({n}家)" for _, name, n in fig["top_reasons"])
            + "。"
        )
    paras.append(
        f"本月减员100人以上或10%以上的企业共{fig['mass_layoffs']}家,"
        "已列入跟踪名单,请相关城市核实并作出专项说明。"
    )
    return paras
