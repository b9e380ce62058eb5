"""Topical deep dives (典型分析, seed 001): a domain of the panel against the rest, over time.

A domain is any combination of city, industry section, size class, ownership, a minimum
export share, or a list of firms (:class:`DomainFilter`, params section ``deep_dive:``). Each
membership row is in the domain or not by the attributes of that row (the row in force in a
month), so the panel's windows are respected: a quarter is estimated from the members in force
in it, with their window's weights (``estimation.build_units``).

For each quarter and indicator the domain and the rest are estimated as domains of the whole
sample (the strata stay whole, :math:`y = 0` outside the domain), and their difference
:math:`\\hat R_d - \\hat R_r` is linearised jointly: per reporter
:math:`u = w\\,(z_d - z_r)` with :math:`z_g = 1_g (y - \\hat R_g x) / \\hat X_g`, so the
covariance of the two domains (which share strata) enters the standard error
(docs/estimation.md, "Deep dives").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import InputError, ParamsError
from samplekit.periods import QUARTER_RE, quarter_months

GROUP = "deep_dive_group"
GROUP_ZH: dict[str, str] = {"domain": "分析对象", "rest": "其余监测企业"}
DEFAULT_INDICATORS: tuple[str, ...] = ("net_change_rate", "job_loss_rate", "share_reducing")
_DOMAIN_KEYS = {"cities", "sections", "size_classes", "ownerships", "min_export_share", "firms"}


@dataclass(frozen=True)
class DomainFilter:
    """Which members form the domain: every given condition must hold (an empty one is not a
    condition). ``firms`` lists enterprise ids (统一社会信用代码)."""

    cities: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    size_classes: tuple[str, ...] = ()
    ownerships: tuple[str, ...] = ()
    min_export_share: float | None = None
    firms: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (
            self.cities
            or self.sections
            or self.size_classes
            or self.ownerships
            or self.firms
            or self.min_export_share is not None
        )

    def mask(self, rows: pd.DataFrame) -> np.ndarray:
        """True for the membership rows in the domain."""
        keep = np.ones(len(rows), dtype=bool)
        for column, values in (
            ("city", self.cities),
            ("section", self.sections),
            ("size_class", self.size_classes),
            ("ownership", self.ownerships),
            ("enterprise_id", self.firms),
        ):
            if values:
                if column not in rows.columns:
                    raise InputError(
                        f"the membership has no column '{column}' for the deep-dive domain filter"
                    )
                keep &= rows[column].astype(str).str.strip().isin(set(values)).to_numpy()
        if self.min_export_share is not None:
            if "export_share" not in rows.columns:
                raise InputError(
                    "the membership has no column 'export_share' for "
                    "deep_dive.domain.min_export_share"
                )
            share = pd.to_numeric(rows["export_share"], errors="coerce").to_numpy(float)
            keep &= np.nan_to_num(share, nan=-1.0) >= self.min_export_share
        return keep

    def describe(self) -> str:
        """The filter in Chinese words (for titles and notes)."""
        from samplekit import reference

        parts = []
        if self.cities:
            parts.append("地市:" + "、".join(self.cities))
        if self.sections:
            names = reference.section_names()
            parts.append("行业:" + "、".join(names.get(s, s) for s in self.sections))
        if self.size_classes:
            parts.append(
                "规模:" + "、".join(reference.SIZE_CLASSES_ZH.get(s, s) for s in self.size_classes)
            )
        if self.ownerships:
            parts.append(
                "经济类型:" + "、".join(reference.OWNERSHIP_ZH.get(s, s) for s in self.ownerships)
            )
        if self.min_export_share is not None:
            parts.append(f"出口交货值占比≥{self.min_export_share:.0%}")
        if self.firms:
            parts.append(f"指定企业{len(self.firms)}家")
        return ";".join(parts) or "全部监测企业"


@dataclass(frozen=True)
class DeepDiveSettings:
    """The ``deep_dive:`` params section."""

    title: str = "专题分析"
    domain: DomainFilter = field(default_factory=DomainFilter)
    indicators: tuple[str, ...] = DEFAULT_INDICATORS
    start: str | None = None  # first quarter shown (YYYYQn); None = the first with reports
    end: str | None = None  # last quarter shown; None = the last with reports
    level: float = 0.95
    min_reporters: int = 5

    @classmethod
    def from_params(cls, params: Any) -> DeepDiveSettings:
        """Parse and check ``deep_dive:``; errors name the file and the dotted key."""
        from samplekit.estimation import INDICATORS

        params.check_keys(
            "deep_dive", {"title", "domain", "indicators", "from", "to", "level", "min_reporters"}
        )
        raw = params.get("deep_dive.domain", {})
        if not isinstance(raw, dict):
            raise ParamsError(
                f"{params.path}: 'deep_dive.domain' must be a mapping of "
                f"{', '.join(sorted(_DOMAIN_KEYS))}"
            )
        unknown = sorted(set(raw) - _DOMAIN_KEYS)
        if unknown:
            raise ParamsError(
                f"{params.path}: unknown key(s) {', '.join(map(repr, unknown))} in "
                f"'deep_dive.domain'; allowed: {', '.join(sorted(_DOMAIN_KEYS))}"
            )

        def strings(key: str) -> tuple[str, ...]:
            value = raw.get(key)
            if value is None:
                return ()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ParamsError(
                    f"{params.path}: key 'deep_dive.domain.{key}' must be a list "
                    f"of quoted strings, found {value!r}"
                )
            return tuple(v.strip() for v in value)

        share = raw.get("min_export_share")
        if share is not None and (
            isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1
        ):
            raise ParamsError(
                f"{params.path}: key 'deep_dive.domain.min_export_share' must be a "
                f"number in [0, 1], found {share!r}"
            )
        domain = DomainFilter(
            cities=strings("cities"),
            sections=strings("sections"),
            size_classes=strings("size_classes"),
            ownerships=strings("ownerships"),
            min_export_share=None if share is None else float(share),
            firms=strings("firms"),
        )
        if domain.is_empty():
            raise ParamsError(
                f"{params.path}: 'deep_dive.domain' selects every member; give at "
                "least one of cities, sections, size_classes, ownerships, "
                "min_export_share, firms"
            )
        inds = params.get("deep_dive.indicators", list(DEFAULT_INDICATORS))
        if not isinstance(inds, list) or any(i not in INDICATORS for i in inds):
            raise ParamsError(
                f"{params.path}: key 'deep_dive.indicators' = {inds!r}: choose "
                f"among {', '.join(INDICATORS)}"
            )
        bounds = {}
        for key in ("from", "to"):
            value = params.get(f"deep_dive.{key}", None)
            if value is not None and not (isinstance(value, str) and QUARTER_RE.match(value)):
                raise ParamsError(
                    f"{params.path}: key 'deep_dive.{key}' = {value!r} must be a "
                    'quoted quarter like "2012Q1"'
                )
            bounds[key] = value
        return cls(
            title=str(params.get("deep_dive.title", "专题分析")),
            domain=domain,
            indicators=tuple(inds),
            start=bounds["from"],
            end=bounds["to"],
            level=float(params.number("deep_dive.level", 0.95, low=0.5, high=0.999)),
            min_reporters=int(params.number("deep_dive.min_reporters", 5, low=1)),
        )


@dataclass(frozen=True)
class DeepDiveResult:
    """The domain against the rest of the panel."""

    settings: DeepDiveSettings
    quarterly: pd.DataFrame  # quarter, indicator, group, estimate, se, ci_low, ci_high, n_reporters
    difference: pd.DataFrame  # quarter, indicator, difference, se, ci_low, ci_high, significant
    monthly: pd.DataFrame  # period, indicator, group, estimate, ci_low, ci_high, n_reporters
    profile: pd.DataFrame  # the domain's members in force at the end, by city and section
    findings: list[str]


def label_groups(membership: pd.DataFrame, domain: DomainFilter) -> pd.DataFrame:
    """The membership with :data:`GROUP` = "domain" / "rest" per row."""
    return membership.assign(**{GROUP: np.where(domain.mask(membership), "domain", "rest")})


def _quarters(reports: pd.DataFrame, start: str | None, end: str | None) -> list[str]:
    months = set(reports["period"].astype(str))
    have = sorted({str(pd.Period(m, freq="M").asfreq("Q")) for m in months})
    full = [q for q in have if set(quarter_months(q)) <= months]
    return [q for q in full if (start is None or q >= start) and (end is None or q <= end)]


def domain_difference(
    units: pd.DataFrame, indicator: str, *, level: float = 0.95
) -> tuple[float, float]:
    """``(θ_domain − θ_rest, se)`` of one indicator from the units of one period.

    ``units`` come from ``estimation.build_units(..., by=[GROUP])``; the difference's
    linearised variable is ``z_domain − z_rest`` (see the module docstring).
    """
    from samplekit.estimation import Spec, _specs_for, linearised_estimates

    spec = _specs_for([indicator])[0]
    w = units["_w"].to_numpy(float)
    num = units[spec.numerator].to_numpy(float)
    den = units[spec.denominator].to_numpy(float) if spec.denominator else None
    z = {}
    est = {}
    for g in ("domain", "rest"):
        in_g = (units[GROUP] == g).to_numpy()
        t_num = float(np.sum(w * num * in_g))
        if den is None:
            est[g] = t_num * spec.scale
            z[g] = in_g * num * spec.scale
        else:
            t_den = float(np.sum(w * den * in_g))
            ratio = t_num / t_den if t_den else np.nan
            est[g] = ratio * spec.scale
            z[g] = (
                spec.scale * in_g * (num - ratio * den) / t_den
                if t_den
                else np.full(len(units), np.nan)
            )
    tmp = units.drop(columns=[GROUP]).assign(_dz=z["domain"] - z["rest"])
    res = linearised_estimates(tmp, [Spec("d", "_dz")], level=level)
    return est["domain"] - est["rest"], float(res["se"].iloc[0])


def compare_domain(
    reports: pd.DataFrame, membership: pd.DataFrame, *, settings: DeepDiveSettings
) -> DeepDiveResult:
    """The domain of ``settings`` against the rest of the panel, quarter by quarter (pure).

    Parameters
    ----------
    reports : DataFrame
        Accepted monthly reports (``store.read_reports``).
    membership : DataFrame
        The panel of record (``store.read_membership``) or a one-window sample list.
    settings : DeepDiveSettings
        The domain filter, indicators and quarters.

    Returns
    -------
    DeepDiveResult

    Examples
    --------
    >>> s = DeepDiveSettings(domain=DomainFilter(sections=("C",), min_export_share=0.3))
    >>> dd = compare_domain(reports, membership, settings=s)  # doctest: +SKIP
    >>> dd.difference.query("indicator == 'job_loss_rate'")  # doctest: +SKIP
    """
    from scipy import stats

    from samplekit.estimation import _specs_for, build_units, linearised_estimates, monthly_series

    labelled = label_groups(membership, settings.domain)
    if not (labelled[GROUP] == "domain").any():
        raise InputError(
            f"深度分析对象({settings.domain.describe()})在监测名单中没有企业;"
            "请检查 deep_dive.domain 的条件"
        )
    quarters = _quarters(reports, settings.start, settings.end)
    if not quarters:
        raise InputError(
            f"no full quarter of reports between {settings.start} and "
            f"{settings.end}; check deep_dive.from / deep_dive.to"
        )
    specs = _specs_for(list(settings.indicators))
    zq = float(stats.norm.ppf(0.5 + settings.level / 2))
    q_parts, d_rows = [], []
    for q in quarters:
        rep = reports[reports["period"].astype(str) <= quarter_months(q)[-1]]
        units = build_units(rep, labelled, periods=q, by=[GROUP])
        est = linearised_estimates(
            units, specs, by=[GROUP], level=settings.level, min_reporters=settings.min_reporters
        )
        q_parts.append(est.rename(columns={"period": "quarter", GROUP: "group"}))
        for ind in settings.indicators:
            diff, se = domain_difference(units, ind, level=settings.level)
            d_rows.append(
                {
                    "quarter": q,
                    "indicator": ind,
                    "difference": diff,
                    "se": se,
                    "ci_low": diff - zq * se,
                    "ci_high": diff + zq * se,
                }
            )
    quarterly = pd.concat(q_parts, ignore_index=True)[
        [
            "quarter",
            "indicator",
            "group",
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            "n_reporters",
            "small_domain",
        ]
    ]
    difference = pd.DataFrame(d_rows)
    difference["significant"] = np.where(
        difference["ci_low"] > 0, "up", np.where(difference["ci_high"] < 0, "down", "")
    )
    first, last = quarter_months(quarters[0])[0], quarter_months(quarters[-1])[-1]
    period = reports["period"].astype(str)
    rep = reports[period <= last]
    m_parts = []
    for ind in settings.indicators:
        if ind not in ("net_change_rate", "job_loss_rate"):
            continue
        s = monthly_series(
            rep,
            labelled,
            indicator=ind,
            by=[GROUP],
            level=settings.level,
            min_reporters=settings.min_reporters,
        )
        m_parts.append(
            s[s["period"] >= first].assign(indicator=ind).rename(columns={GROUP: "group"})
        )
    monthly = (
        pd.concat(m_parts, ignore_index=True)[
            ["period", "indicator", "group", "estimate", "ci_low", "ci_high", "n_reporters"]
        ]
        if m_parts
        else pd.DataFrame(
            columns=["period", "indicator", "group", "estimate", "ci_low", "ci_high", "n_reporters"]
        )
    )
    profile = _profile(labelled, last)
    findings = findings_zh(quarterly, difference, settings)
    return DeepDiveResult(
        settings=settings,
        quarterly=quarterly,
        difference=difference,
        monthly=monthly,
        profile=profile,
        findings=findings,
    )


def _profile(labelled: pd.DataFrame, month: str) -> pd.DataFrame:
    from samplekit.brief import members_in_force

    m = members_in_force(labelled, month)
    m = m[m[GROUP] == "domain"]
    return (
        m.groupby(["city", "section"])
        .size()
        .rename("members")
        .reset_index()
        .sort_values(["members", "city"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )


def findings_zh(
    quarterly: pd.DataFrame, difference: pd.DataFrame, settings: DeepDiveSettings
) -> list[str]:
    """Sentences generated from the numbers: the latest gap, when it opened, how sure."""
    from samplekit.estimation import INDICATOR_NAMES_ZH

    lines = [f"分析对象:{settings.domain.describe()}。"]
    for ind in settings.indicators:
        d = difference[difference["indicator"] == ind].sort_values("quarter")
        if not len(d):
            continue
        name = INDICATOR_NAMES_ZH.get(ind, ind).split("(")[0]
        last = d.iloc[-1]
        q = quarterly[(quarterly["indicator"] == ind) & (quarterly["quarter"] == last["quarter"])]
        dom = q[q["group"] == "domain"].iloc[0]
        rest = q[q["group"] == "rest"].iloc[0]
        unit = "个百分点" if ind.endswith(("_rate", "_reducing")) else "人"
        verdict = "差异显著" if last["significant"] else "差异在抽样误差范围内"
        text = (
            f"{last['quarter']}分析对象{name}为{dom['estimate']:.2f},其余监测企业为"
            f"{rest['estimate']:.2f},相差{last['difference']:+.2f}{unit}(95%置信区间"
            f"{last['ci_low']:+.2f}~{last['ci_high']:+.2f},{verdict})"
        )
        if last["significant"]:
            # the run of quarters up to the latest with a significant gap of the same sign
            run = 0
            for flag in reversed(list(d["significant"])):
                if flag != last["significant"]:
                    break
                run += 1
            side = "偏高" if last["significant"] == "up" else "偏低"
            first = d["quarter"].iloc[len(d) - run]
            text += f";自{first}起连续{run}个季度显著{side}"
        else:
            text += f";所示{len(d)}个季度中差异显著的有{int((d['significant'] != '').sum())}个"
        lines.append(text + "。")
    small = quarterly[(quarterly["group"] == "domain") & quarterly["small_domain"]]
    if len(small):
        lines.append(
            f"分析对象报送企业少于{settings.min_reporters}家的季度("
            + "、".join(sorted(set(small["quarter"])))
            + ")估计不稳定。"
        )
    return lines


def headers_zh() -> dict[str, str]:
    return {
        "quarter": "季度",
        "indicator": "指标代码",
        "group": "组别",
        "estimate": "估计值",
        "se": "标准误",
        "ci_low": "95%下限",
        "ci_high": "95%上限",
        "n_reporters": "报送企业",
        "small_domain": "样本过少",
        "difference": "差值(对象−其余)",
        "significant": "判断",
        "period": "月份",
        "city": "地市",
        "section": "行业门类",
        "members": "企业数",
        "name": "指标",
    }


def result_tables(result: DeepDiveResult) -> dict[str, pd.DataFrame]:
    """The deep dive's tables with Chinese labels (for the notebook and the workbook)."""
    from samplekit.estimation import INDICATOR_NAMES_ZH

    q = result.quarterly.copy()
    q.insert(1, "name", q["indicator"].map(INDICATOR_NAMES_ZH))
    q["group"] = q["group"].map(GROUP_ZH)
    d = result.difference.copy()
    d.insert(1, "name", d["indicator"].map(INDICATOR_NAMES_ZH))
    d["significant"] = d["significant"].map(
        {"up": "对象显著偏高", "down": "对象显著偏低", "": "不显著"}
    )
    return {
        "分组估计": q.drop(columns="indicator"),
        "对象与其余之差": d.drop(columns="indicator"),
        "对象构成": result.profile,
    }


def plot_comparison(result: DeepDiveResult, indicators: Sequence[str] | None = None):
    """Monthly series of the domain and the rest with 95% bands, one panel per indicator, and
    the settings' shock months shaded when known by the caller (not here)."""
    from samplekit.estimation import INDICATOR_NAMES_ZH
    from samplekit.plotting import new_figure

    inds = [
        i
        for i in (indicators or result.settings.indicators)
        if i in set(result.monthly["indicator"])
    ]
    fig, axes = new_figure(
        9, 2.6 * max(len(inds), 1) + 0.6, nrows=max(len(inds), 1), sharex=True, squeeze=False
    )
    for ax, ind in zip(axes[:, 0], inds, strict=False):
        for g, color in (("domain", "#c00000"), ("rest", "#1f4e79")):
            s = result.monthly[
                (result.monthly["indicator"] == ind) & (result.monthly["group"] == g)
            ]
            x = np.arange(len(s))
            ax.fill_between(x, s["ci_low"], s["ci_high"], color=color, alpha=0.18, lw=0)
            ax.plot(x, s["estimate"], color=color, lw=1.3, marker="o", ms=2, label=GROUP_ZH[g])
            periods = list(s["period"])
        ax.set_ylabel(INDICATOR_NAMES_ZH.get(ind, ind), fontsize=9)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.legend(fontsize=8, frameon=False, loc="upper left")
    if inds:
        step = max(len(periods) // 12, 1)
        axes[-1, 0].set_xticks(range(0, len(periods), step))
        axes[-1, 0].set_xticklabels(periods[::step], rotation=45, ha="right", fontsize=8)
    axes[0, 0].set_title(f"{result.settings.title}与其余监测企业(月度,95%置信区间)", fontsize=11)
    return fig
