"""The reporting calendar: deadlines, receipt attribution, and who reported on time.

Seeds: enterprises report between the 25th of the survey month and the 5th of the next (seed 000,
the Zhoukou practice); the province reports the ministry's data by the 5th of each month, moved
earlier when that day is a public holiday ("遇法定节假日须提前", seed 001); cities send the quarterly
warning report by the 5th of the quarter's first month (seed 000). Deadlines are params
(``monthly.calendar``) per network (``ministry`` = 失业动态监测 ~1000 members, ``provincial`` = the
rest of the 10 000) and level (``enterprise`` → city, ``city`` → province, ``province`` →
ministry); ``docs/network.md`` gives the defaults and why.

Every function here is pure: DataFrames and plain values in and out. The store supplies the
deliveries (:func:`samplekit.store.read_deliveries`) and receipts
(:func:`samplekit.store.read_network_table` ``"receipts"``).

A member's report for month m is judged by the deadline of its network at ``judge_level``
(default ``city``: the time the province received the city's file), counted in calendar days:
received on the deadline day (any hour) is on time; the next day is 1 day late. A receipt time
is never guessed: a report whose load has no recorded receipt is ``time_unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from samplekit.errors import ParamsError
from samplekit.periods import MONTH_RE, QUARTER_RE

Network = Literal["ministry", "provincial"]
Level = Literal["enterprise", "city", "province"]
NETWORKS: tuple[str, ...] = ("ministry", "provincial")
LEVELS: tuple[str, ...] = ("enterprise", "city", "province")

#: Status of one expected member in one month.
STATUSES: tuple[str, ...] = ("on_time", "late", "time_unknown", "quarantined", "missing", "closed")
STATUS_ZH: dict[str, str] = {
    "on_time": "按时报送",
    "late": "迟报",
    "time_unknown": "报送时间未登记",
    "quarantined": "报送但未通过审核",
    "missing": "漏报(未报送)",
    "closed": "已关闭(不再催报)",
}
NETWORK_ZH: dict[str, str] = {"ministry": "人社部月度监测", "provincial": "省定点监测"}

#: Contact columns taken from the panel when it has them (the chase-up list shows them).
CONTACT_COLUMNS: tuple[str, ...] = (
    "contact_person",
    "contact_phone",
    "contact_mobile",
    "contact_email",
    "address",
)

CITY_STATUS_COLUMNS: list[str] = [
    "city",
    "period",
    "expected",
    "reported",
    "on_time",
    "late",
    "time_unknown",
    "quarantined",
    "missing",
    "closed",
    "resubmitted",
    "response_rate",
    "on_time_rate",
    "mean_days_late",
    "max_days_late",
]

HEADERS_ZH: dict[str, str] = {
    "city": "城市",
    "period": "调查期",
    "expected": "应报企业数",
    "reported": "已报企业数",
    "on_time": "按时报送",
    "late": "迟报",
    "time_unknown": "报送时间未登记",
    "quarantined": "报送未通过审核",
    "missing": "漏报",
    "closed": "已关闭",
    "resubmitted": "更正重报",
    "response_rate": "报送率(%)",
    "on_time_rate": "按时报送率(%)",
    "mean_days_late": "平均迟报天数",
    "max_days_late": "最长迟报天数",
    "enterprise_id": "统一社会信用代码",
    "name": "单位名称",
    "network": "监测网络",
    "status": "报送状态",
    "status_zh": "报送状态",
    "deadline": "报送截止日期",
    "received_at": "收到时间",
    "days_late": "迟报天数",
    "problems": "审核未通过原因",
    "contact_person": "联系人",
    "contact_phone": "联系电话",
    "contact_mobile": "手机",
    "contact_email": "电子邮箱",
    "address": "地址",
    "respondents": "已报企业数",
    "rate": "报送率(%)",
    "section": "行业门类",
    "size_class": "规模",
    "ownership": "所有制",
}

_DEFAULT_DEADLINES: dict[str, dict[str, int | None]] = {
    "ministry": {"enterprise": 3, "city": 4, "province": 5},
    "provincial": {"enterprise": 5, "city": 8, "province": None},
}


@dataclass(frozen=True)
class CalendarSettings:
    """Deadlines of the monthly reports (``monthly.calendar`` in params).

    Attributes
    ----------
    opens_day : int
        Enterprises may report from this day of the survey month (25, seed 000).
    deadlines : mapping network -> level -> day of the month after the survey month
        ``None`` = that level has no deadline in that network (the provincial network is not
        reported to the ministry).
    quarterly_report_day : int
        Cities send the quarterly warning report by this day of the quarter's first following
        month (5, seed 000).
    holidays : tuple of 'YYYY-MM-DD'
        A deadline on one of these days moves to the previous working day (seed 001).
    weekends : bool
        Also move deadlines off Saturdays and Sundays.
    judge_level : str
        The level whose deadline a member's report is judged by (``city``: when the province
        received the city's file).
    """

    opens_day: int = 25
    deadlines: Mapping[str, Mapping[str, int | None]] = field(
        default_factory=lambda: {k: dict(v) for k, v in _DEFAULT_DEADLINES.items()}
    )
    quarterly_report_day: int = 5
    holidays: tuple[str, ...] = ()
    weekends: bool = False
    judge_level: Level = "city"

    @classmethod
    def from_params(cls, params: Any) -> CalendarSettings:
        """Read ``monthly.calendar`` (missing keys keep their defaults)."""
        d = cls()
        if params is None:
            return d
        base = "monthly.calendar"
        params.check_keys(
            base,
            {
                "opens_day",
                "deadlines",
                "quarterly_report_day",
                "holidays",
                "weekends",
                "judge_level",
            },
        )
        deadlines = {k: dict(v) for k, v in d.deadlines.items()}
        given = params.get(f"{base}.deadlines", {}) or {}
        if not isinstance(given, Mapping):
            raise ParamsError(
                f"{params.path}: key '{base}.deadlines' must map a network "
                f"({', '.join(NETWORKS)}) to levels, found {given!r}"
            )
        for net, levels in given.items():
            if net not in NETWORKS:
                raise ParamsError(
                    f"{params.path}: key '{base}.deadlines.{net}': unknown network; "
                    f"use {', '.join(NETWORKS)}"
                )
            if not isinstance(levels, Mapping):
                raise ParamsError(
                    f"{params.path}: key '{base}.deadlines.{net}' must map levels "
                    f"({', '.join(LEVELS)}) to a day (1–28) or null"
                )
            for level in levels:
                key = f"{base}.deadlines.{net}.{level}"
                if level not in LEVELS:
                    raise ParamsError(
                        f"{params.path}: key '{key}': unknown level; use {', '.join(LEVELS)}"
                    )
                value = levels[level]
                deadlines[net][level] = (
                    None if value is None else int(params.number(key, low=1, high=28))
                )
        holidays = params.get(f"{base}.holidays", [], types=list)
        for i, h in enumerate(holidays):
            try:
                ok = isinstance(h, str) and pd.Timestamp(h).strftime("%Y-%m-%d") == h
            except ValueError:
                ok = False
            if not ok:
                raise ParamsError(
                    f"{params.path}: key '{base}.holidays[{i}]' = {h!r} must be a "
                    'quoted date like "2013-10-04"'
                )
        judge = params.choice(f"{base}.judge_level", LEVELS, d.judge_level)
        if all(deadlines[n][judge] is None for n in NETWORKS):
            raise ParamsError(
                f"{params.path}: key '{base}.judge_level' = {judge!r} has no "
                "deadline in any network"
            )
        return cls(
            opens_day=int(params.number(f"{base}.opens_day", d.opens_day, low=1, high=28)),
            deadlines=deadlines,
            quarterly_report_day=int(
                params.number(
                    f"{base}.quarterly_report_day", d.quarterly_report_day, low=1, high=28
                )
            ),
            holidays=tuple(holidays),
            weekends=bool(params.get(f"{base}.weekends", d.weekends, types=bool)),
            judge_level=judge,  # type: ignore[arg-type]
        )


def _working_day_on_or_before(day: pd.Timestamp, settings: CalendarSettings) -> pd.Timestamp:
    holidays = set(settings.holidays)
    while day.strftime("%Y-%m-%d") in holidays or (settings.weekends and day.weekday() >= 5):
        day = day - pd.Timedelta(days=1)
    return day


def deadline(
    period: str,
    *,
    network: Network = "ministry",
    level: Level = "city",
    settings: CalendarSettings | None = None,
) -> pd.Timestamp | None:
    """The last day (midnight timestamp) a report of month ``period`` is on time.

    Parameters
    ----------
    period : ``YYYY-MM`` survey month
    network, level : whose deadline
    settings : CalendarSettings

    Returns
    -------
    Timestamp or None
        ``None`` when the level has no deadline in that network.

    Examples
    --------
    >>> deadline("2013-09", network="ministry", level="province",
    ...          settings=CalendarSettings(holidays=("2013-10-05",)))
    Timestamp('2013-10-04 00:00:00')
    """
    s = settings or CalendarSettings()
    if not MONTH_RE.match(period):
        raise ValueError(f"period {period!r} must be a month YYYY-MM")
    day = s.deadlines.get(network, {}).get(level)
    if day is None:
        return None
    nxt = pd.Period(period, freq="M") + 1
    return _working_day_on_or_before(pd.Timestamp(nxt.year, nxt.month, int(day)), s)


def quarterly_deadline(quarter: str, *, settings: CalendarSettings | None = None) -> pd.Timestamp:
    """The deadline of a city's quarterly warning report (day of the next quarter's first month)."""
    s = settings or CalendarSettings()
    if not QUARTER_RE.match(quarter):
        raise ValueError(f"quarter {quarter!r} must be like 2013Q4")
    first = (pd.Period(quarter, freq="Q") + 1).asfreq("M", "start")
    return _working_day_on_or_before(
        pd.Timestamp(first.year, first.month, s.quarterly_report_day), s
    )


def days_late(received_at: pd.Series, due: pd.Series) -> pd.Series:
    """Calendar days after the deadline day (0 when on time, NA when either is unknown)."""
    r = pd.to_datetime(received_at).dt.normalize()
    d = pd.to_datetime(due)
    out = (r - d).dt.days.astype("Float64")
    return out.clip(lower=0).astype("Int64")


def attribute_receipts(
    deliveries: pd.DataFrame, receipts: pd.DataFrame, panel: pd.DataFrame
) -> pd.DataFrame:
    """The receipt time of every delivered row.

    A receipt names a load and optionally a city (that city's part of a province-wide file);
    a row gets the receipt of its load and its enterprise's city, else the load's whole-file
    receipt, else none (``received_at`` NaT, ``receipt_source`` NA) — never a guess.

    Parameters
    ----------
    deliveries : ``enterprise_id, period, load_id, status`` (:func:`store.read_deliveries`)
    receipts : the ``receipts`` table (``kind, load_id, city, received_at, source``)
    panel : ``enterprise_id, city`` (rows of enterprises not in it get the whole-file receipt)
    """
    d = deliveries.copy()
    d["enterprise_id"] = d["enterprise_id"].astype(str)
    city = panel.drop_duplicates("enterprise_id").set_index(
        panel.drop_duplicates("enterprise_id")["enterprise_id"].astype(str)
    )["city"]
    d["city"] = d["enterprise_id"].map(city)
    r = receipts[receipts["kind"] == "reports"] if len(receipts) else receipts
    r = (
        r.assign(received_at=pd.to_datetime(r["received_at"]))
        if len(r)
        else pd.DataFrame(columns=["load_id", "city", "received_at", "source"])
    )
    per_city = r[r["city"].notna()][["load_id", "city", "received_at", "source"]]
    whole = r[r["city"].isna()][["load_id", "received_at", "source"]]
    per_city = per_city.astype({"load_id": "int64"})
    whole = whole.astype({"load_id": "int64"}).drop_duplicates("load_id")
    d = d.astype({"load_id": "int64"})
    d = d.merge(
        per_city.rename(columns={"received_at": "_rc", "source": "_sc"}),
        on=["load_id", "city"],
        how="left",
    )
    d = d.merge(
        whole.rename(columns={"received_at": "_rw", "source": "_sw"}), on="load_id", how="left"
    )
    d["received_at"] = pd.to_datetime(d["_rc"]).fillna(pd.to_datetime(d["_rw"]))
    d["receipt_source"] = d["_sc"].where(d["_rc"].notna(), d["_sw"])
    return d.drop(columns=["_rc", "_sc", "_rw", "_sw"])


def closed_before(reports: pd.DataFrame, period: str) -> set[str]:
    """Members whose last report before ``period`` shows employment 0 (a closure, seed rules:
    a closure is a reported fall to zero; such a member is not chased for later months)."""
    prior = reports[reports["period"].astype(str) < period]
    if prior.empty:
        return set()
    last = prior.sort_values(["enterprise_id", "period"]).drop_duplicates(
        "enterprise_id", keep="last"
    )
    return set(
        last.loc[last["survey_employment"].astype("Float64") == 0, "enterprise_id"].astype(str)
    )


def member_status(
    expected: pd.DataFrame,
    deliveries: pd.DataFrame,
    receipts: pd.DataFrame,
    *,
    period: str,
    settings: CalendarSettings | None = None,
    closed: Sequence[str] | set[str] = (),
) -> pd.DataFrame:
    """Per expected member of month ``period``: on time, late, missing, quarantined ….

    Parameters
    ----------
    expected : the members in force in ``period`` (``enterprise_id, city``; ``ministry`` bool
        marks the ministry network, absent = all provincial; ``name`` optional)
    deliveries : rows delivered (:func:`samplekit.store.read_deliveries`), any months
    receipts : the ``receipts`` table
    period : ``YYYY-MM``
    settings : CalendarSettings
    closed : members closed before ``period`` (:func:`closed_before`): ``closed`` unless they
        reported anyway

    Returns
    -------
    DataFrame
        ``enterprise_id, name, city, network, period, status, deadline, received_at, days_late,
        resubmitted, loads``. The first accepted delivery decides timeliness (a later
        correction does not make an on-time report late; a rejected first try does not make a
        late accepted one on time). ``resubmitted``: a stored row was replaced by a later load.
    """
    s = settings or CalendarSettings()
    exp = expected.drop_duplicates("enterprise_id").copy()
    exp["enterprise_id"] = exp["enterprise_id"].astype(str)
    net = (
        exp["ministry"].fillna(False).astype(bool)
        if "ministry" in exp.columns
        else pd.Series(False, index=exp.index)
    )
    exp["network"] = np.where(net, "ministry", "provincial")
    dues = {
        n: deadline(period, network=n, level=s.judge_level, settings=s)  # type: ignore[arg-type]
        for n in NETWORKS
    }
    # A network without a deadline at this level is judged by the other network's.
    fallback = next(v for v in dues.values() if v is not None)
    exp["deadline"] = exp["network"].map(lambda n: dues[n] or fallback)
    d = deliveries[deliveries["period"].astype(str) == period]
    d = attribute_receipts(d, receipts, exp[["enterprise_id", "city"]])
    acc = d[d["status"].isin(["accepted", "replaced"])]
    first = acc.groupby("enterprise_id")["received_at"].min()
    n_acc = acc.groupby("enterprise_id").size()
    replaced = set(d.loc[d["status"] == "replaced", "enterprise_id"].astype(str))
    quarantined = set(d.loc[d["status"] == "quarantined", "enterprise_id"].astype(str))
    loads = d.groupby("enterprise_id")["load_id"].nunique()
    out = exp[["enterprise_id"]].copy()
    out["name"] = exp["name"].astype(str) if "name" in exp.columns else ""
    out["city"] = exp["city"].astype(str)
    out["network"] = exp["network"]
    out["period"] = period
    out["deadline"] = pd.to_datetime(exp["deadline"])
    out["received_at"] = pd.to_datetime(out["enterprise_id"].map(first))
    has_acc = out["enterprise_id"].map(n_acc).fillna(0).astype(int) > 0
    late = days_late(out["received_at"], out["deadline"])
    status = np.select(
        [
            has_acc & out["received_at"].isna(),
            has_acc & (late.fillna(0) > 0),
            has_acc,
            out["enterprise_id"].isin(quarantined),
            out["enterprise_id"].isin(set(closed)),
        ],
        ["time_unknown", "late", "on_time", "quarantined", "closed"],
        "missing",
    )
    out["status"] = status
    out["days_late"] = late.where(out["status"] == "late", pd.NA).astype("Int64")
    out["resubmitted"] = out["enterprise_id"].isin(replaced)
    out["loads"] = out["enterprise_id"].map(loads).fillna(0).astype(int)
    return out.sort_values(["city", "enterprise_id"], kind="stable").reset_index(drop=True)


def city_status(status: pd.DataFrame, *, total_label: str | None = "全省") -> pd.DataFrame:
    """Per city and month: expected, reported, on time, late, missing, quarantined, resubmitted.

    Rates in % of the members expected to report (expected − closed); ``mean_days_late`` over
    the late members (0 when none). With ``total_label`` a total row is appended per month.
    """

    def one(g: pd.DataFrame) -> dict[str, Any]:
        counts = g["status"].value_counts()
        n = {k: int(counts.get(k, 0)) for k in STATUSES}
        due = len(g) - n["closed"]
        reported = n["on_time"] + n["late"] + n["time_unknown"]
        late = g.loc[g["status"] == "late", "days_late"].astype(float)
        return {
            "expected": len(g),
            "reported": reported,
            **n,
            "resubmitted": int(g["resubmitted"].sum()),
            "response_rate": 100.0 * reported / due if due else np.nan,
            "on_time_rate": 100.0 * n["on_time"] / due if due else np.nan,
            "mean_days_late": float(late.mean()) if len(late) else 0.0,
            "max_days_late": int(late.max()) if len(late) else 0,
        }

    rows = []
    for (per, city), g in status.groupby(["period", "city"], sort=True):
        rows.append({"city": city, "period": per, **one(g)})
    if total_label is not None:
        for per, g in status.groupby("period", sort=True):
            rows.append({"city": total_label, "period": per, **one(g)})
    return pd.DataFrame(rows, columns=CITY_STATUS_COLUMNS)


def response_rates(
    expected: pd.DataFrame,
    reports: pd.DataFrame,
    *,
    period: str,
    by: Sequence[str] = ("city",),
    closed: Sequence[str] | set[str] = (),
) -> pd.DataFrame:
    """Response rates of month ``period`` by domain (city, or the cells: city × section ×
    size_class × ownership).

    A respondent is an expected member with an accepted report of ``period``; members closed
    before ``period`` that do not report are neither expected nor respondents (a closure is a
    fall to zero, not nonresponse), as in :func:`member_status`.

    Returns
    -------
    DataFrame
        ``by…, period, expected, respondents, rate`` (rate in %).
    """
    by = list(by)
    exp = expected.drop_duplicates("enterprise_id").copy()
    exp["enterprise_id"] = exp["enterprise_id"].astype(str)
    got = set(reports.loc[reports["period"].astype(str) == period, "enterprise_id"].astype(str))
    # As in member_status: a closed member that still reports (zero) is a respondent.
    exp = exp[~(exp["enterprise_id"].isin(set(closed)) & ~exp["enterprise_id"].isin(got))]
    exp["_r"] = exp["enterprise_id"].isin(got)
    out = (
        exp.groupby(by, sort=True, dropna=False)
        .agg(expected=("_r", "size"), respondents=("_r", "sum"))
        .reset_index()
    )
    out.insert(len(by), "period", period)
    out["respondents"] = out["respondents"].astype(int)
    out["rate"] = 100.0 * out["respondents"] / out["expected"]
    return out


def chase_list(
    status: pd.DataFrame, panel: pd.DataFrame, *, problems: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The chase-up list (催报名单): members missing or quarantined, with their contacts.

    Parameters
    ----------
    status : :func:`member_status`
    panel : the members (contact columns of :data:`CONTACT_COLUMNS` are used when present;
        absent columns come out empty)
    problems : ``enterprise_id, period, rule`` of quarantined rows (their rules are listed)

    Returns
    -------
    DataFrame
        ``city, enterprise_id, name, network, status, status_zh, deadline, problems`` and the
        contact columns, sorted by city, status, enterprise_id.
    """
    todo = status[status["status"].isin(["missing", "quarantined"])].copy()
    p = panel.drop_duplicates("enterprise_id").copy()
    p["enterprise_id"] = p["enterprise_id"].astype(str)
    p = p.set_index("enterprise_id")
    for c in CONTACT_COLUMNS:
        todo[c] = todo["enterprise_id"].map(p[c]).fillna("").astype(str) if c in p.columns else ""
    if "name" in p.columns:
        todo["name"] = todo["enterprise_id"].map(p["name"]).fillna(todo["name"]).astype(str)
    todo["status_zh"] = todo["status"].map(STATUS_ZH)
    todo["problems"] = ""
    if problems is not None and len(problems):
        pr = problems[problems["period"].astype(str).isin(set(todo["period"]))]
        rules = pr.groupby("enterprise_id")["rule"].agg(lambda x: ";".join(sorted(set(x))))
        todo["problems"] = todo["enterprise_id"].map(rules).fillna("")
    todo["deadline"] = pd.to_datetime(todo["deadline"]).dt.strftime("%Y-%m-%d")
    cols = [
        "city",
        "enterprise_id",
        "name",
        "network",
        "status",
        "status_zh",
        "deadline",
        "problems",
        *CONTACT_COLUMNS,
    ]
    return (
        todo[cols]
        .sort_values(["city", "status", "enterprise_id"], kind="stable")
        .reset_index(drop=True)
    )


def analysis_status(
    receipts: pd.DataFrame,
    *,
    cities: Sequence[str],
    quarter: str,
    settings: CalendarSettings | None = None,
) -> pd.DataFrame:
    """Per city: the quarterly analysis (warning) report received, and on time?

    ``receipts`` rows of kind ``analysis`` for period ``quarter``. Returns ``city, quarter,
    deadline, received_at, on_time`` (False when missing), ``days_late``.
    """
    s = settings or CalendarSettings()
    due = quarterly_deadline(quarter, settings=s)
    r = (
        receipts[(receipts["kind"] == "analysis") & (receipts["period"] == quarter)]
        if len(receipts)
        else receipts
    )
    first = (
        pd.to_datetime(r["received_at"]).groupby(r["city"]).min()
        if len(r)
        else pd.Series(dtype="datetime64[ns]")
    )
    out = pd.DataFrame({"city": list(cities)})
    out["quarter"] = quarter
    out["deadline"] = due
    out["received_at"] = pd.to_datetime(out["city"].map(first))
    late = days_late(out["received_at"], out["deadline"])
    out["on_time"] = out["received_at"].notna() & (late.fillna(0) == 0)
    out["days_late"] = late
    return out
