"""Research extracts of the monitoring data for colleagues (数据共享, seed 001).

"监测直报数据可根据业务职能分工在一定范围内共享,用于专项分析研究": who may see what is a params
section (``extracts:``), never code. Each role either sees firm identities (name, credit code)
and, if allowed, contacts — the monitoring office — or gets de-identified microdata:

* no name, credit code, registration subtype, export share, employees of record, remark (free
  text), contact or weight (a design weight is N_h / n_h of the firm's stratum: it would tell
  the merged cell back);
* firms are keyed by a pseudonym (``F00001`` …) whose order comes from a salted hash, so it is
  neither the register's order nor stable across roles;
* each firm carries one set of quasi-identifiers (city, section, size class, ownership: those
  of its row in force in the extract's last month it was a member); a combination held by fewer
  than ``min_cell`` firms is coarsened step by step (ownership, then size class, then section,
  then city become ``合并`` within the combination of the other columns, pulling in the next
  smallest values until the merged group is large enough: :func:`coarsen_cells`); a firm still
  in a small cell is left out (counted in the 说明).

The module is pure (DataFrames in, DataFrames out); ``samplekit extract`` reads the store,
writes the workbook and logs the extract in the store (``store.log_extract``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from samplekit.errors import InputError, ParamsError
from samplekit.periods import MONTH_RE, month_range

#: Quasi-identifiers of a de-identified extract, coarsened in this order.
QUASI_IDENTIFIERS: tuple[str, ...] = ("ownership", "size_class", "section", "city")
MERGED = "合并"
#: Report fields every extract carries (``remark`` is free text: identified extracts only).
REPORT_FIELDS: list[str] = [
    "baseline_employment",
    "survey_employment",
    "change",
    "change_pct",
    "reduction_closure",
    "reduction_suspension",
    "reduction_layoff",
    "reduction_relocation",
    "reduction_other",
    "reason_1",
    "reason_2",
    "reason_3",
]
IDENTITY_FIELDS: list[str] = ["enterprise_id", "name", "registration_type", "export_share"]
HEADERS_ZH: dict[str, str] = {
    "firm_key": "企业编号(假名)",
    "enterprise_id": "统一社会信用代码",
    "name": "单位名称",
    "period": "调查期",
    "city": "地市",
    "section": "行业门类",
    "size_class": "企业规模",
    "ownership": "经济类型",
    "registration_type": "登记注册类型",
    "export_share": "出口交货值占比",
    "ministry": "人社部月报网络",
    "calibrated_weight": "权数(校准后)",
    "baseline_employment": "建档期期末就业人数",
    "survey_employment": "调查期期末就业人数",
    "change": "增减人数",
    "change_pct": "增减幅度(%)",
    "reduction_closure": "关闭破产",
    "reduction_suspension": "停业整顿",
    "reduction_layoff": "经济性裁员",
    "reduction_relocation": "迁出本市",
    "reduction_other": "其他",
    "reason_1": "减员原因1",
    "reason_2": "减员原因2",
    "reason_3": "减员原因3",
    "remark": "备注",
    "contact_name": "联系人",
    "contact_unit": "联系人单位",
    "contact_post": "职务",
    "contact_phone": "电话",
    "contact_mobile": "手机",
    "contact_email": "电子邮箱",
}


@dataclass(frozen=True)
class Role:
    """What one role may see."""

    key: str
    name: str
    identities: bool = False
    contacts: bool = False
    min_cell: int | None = None  # overrides the section's threshold (de-identified roles)
    first: str | None = None  # earliest month the role may request
    last: str | None = None  # latest month


@dataclass(frozen=True)
class ExtractSettings:
    """The ``extracts:`` params section."""

    roles: dict[str, Role] = field(default_factory=dict)
    min_cell: int = 5
    terms: str = (
        "本数据仅限内部用于批准的专项分析研究,不得对外提供或公开,不得尝试识别单个企业;"
        "发表或报送的结果须为汇总数。"
    )

    @classmethod
    def from_params(cls, params: Any) -> ExtractSettings:
        """Parse and check ``extracts:``; errors name the file and the dotted key."""
        params.check_keys("extracts", {"min_cell", "terms", "roles"})
        min_cell = int(params.number("extracts.min_cell", 5, low=2))
        terms = params.get("extracts.terms", cls.terms, types=str)
        raw = params.get("extracts.roles", {})
        if not isinstance(raw, dict) or not raw:
            raise ParamsError(
                f"{params.path}: 'extracts.roles' must be a mapping of role "
                "names to what each may see (identities, contacts, ...)"
            )
        roles = {}
        allowed = {"name", "identities", "contacts", "min_cell", "periods"}
        for key, spec in raw.items():
            where = f"extracts.roles.{key}"
            if not isinstance(spec, dict):
                raise ParamsError(f"{params.path}: '{where}' must be a mapping")
            unknown = sorted(set(spec) - allowed)
            if unknown:
                raise ParamsError(
                    f"{params.path}: unknown key(s) {', '.join(map(repr, unknown))}"
                    f" in '{where}'; allowed: {', '.join(sorted(allowed))}"
                )
            flags = {}
            for flag in ("identities", "contacts"):
                value = spec.get(flag, False)
                if not isinstance(value, bool):
                    raise ParamsError(
                        f"{params.path}: key '{where}.{flag}' must be true or "
                        f"false, found {value!r}"
                    )
                flags[flag] = value
            if flags["contacts"] and not flags["identities"]:
                raise ParamsError(
                    f"{params.path}: '{where}' sees contacts but not identities; "
                    "contacts identify a firm: set identities: true or contacts: "
                    "false"
                )
            cell = spec.get("min_cell")
            if cell is not None and (
                isinstance(cell, bool) or not isinstance(cell, int) or cell < 2
            ):
                raise ParamsError(
                    f"{params.path}: key '{where}.min_cell' must be an integer ≥ 2, found {cell!r}"
                )
            periods = spec.get("periods") or {}
            if not isinstance(periods, dict) or set(periods) - {"from", "to"}:
                raise ParamsError(
                    f"{params.path}: key '{where}.periods' takes from and to "
                    f'(months "YYYY-MM"), found {periods!r}'
                )
            for k, v in periods.items():
                if v is not None and not (isinstance(v, str) and MONTH_RE.match(v)):
                    raise ParamsError(
                        f"{params.path}: key '{where}.periods.{k}' = {v!r} must "
                        'be a quoted month like "2013-12"'
                    )
            roles[str(key)] = Role(
                key=str(key),
                name=str(spec.get("name", key)),
                identities=flags["identities"],
                contacts=flags["contacts"],
                min_cell=cell,
                first=periods.get("from"),
                last=periods.get("to"),
            )
        return cls(roles=roles, min_cell=min_cell, terms=_squeeze(str(terms)))

    def role(self, key: str) -> Role:
        """The role ``key``; a clear error listing the roles when it is unknown."""
        if key not in self.roles:
            raise ParamsError(
                f"角色“{key}”未在参数 extracts.roles 中定义(可用:{'、'.join(self.roles)})"
            )
        return self.roles[key]

    def threshold(self, role: Role) -> int:
        return role.min_cell if role.min_cell is not None else self.min_cell


def _squeeze(text: str) -> str:
    """Whitespace from YAML folding out of Chinese text (kept between Latin words)."""
    import re

    text = " ".join(text.split())
    return re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) | (?=[\u3000-\u9fff\uff00-\uffef])", "", text)


@dataclass(frozen=True)
class Extract:
    """One extract: the microdata and what the 说明 sheet says about it."""

    role: Role
    periods: list[str]
    data: pd.DataFrame
    firms: int
    min_cell: int | None
    coarsened: dict[str, int]  # column -> firms whose value was merged
    suppressed: int  # firms left out (still in a small cell)


def check_periods(role: Role, periods: Sequence[str]) -> list[str]:
    """The requested months, checked against what the role may request."""
    months = sorted({str(p) for p in periods})
    if not months:
        raise InputError("no month requested; give --periods like 2013Q4 or 2013-01:2013-12")
    bad = [m for m in months if not MONTH_RE.match(m)]
    if bad:
        raise InputError(f"periods {bad} are not months YYYY-MM")
    outside = [
        m for m in months if (role.first and m < role.first) or (role.last and m > role.last)
    ]
    if outside:
        raise InputError(
            f"角色“{role.name}”只能申请 {role.first or '最早'} 至 "
            f"{role.last or '最近'} 的数据,申请中的 {outside[0]} 等 {len(outside)} "
            "个月份超出范围"
        )
    return months


def _rows_in_force(membership: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """One row per member × month of ``months`` with the membership row in force then."""
    from samplekit.brief import members_in_force

    parts = [members_in_force(membership, m).assign(period=m) for m in months]
    return pd.concat(parts, ignore_index=True)


def pseudonyms(ids: Sequence[str], *, salt: str) -> dict[str, str]:
    """``F00001``… in the order of SHA-256(salt ‖ id): not the register's order, and different
    for another salt (role, seed)."""
    uniq = sorted(set(map(str, ids)))
    order = sorted(uniq, key=lambda i: hashlib.sha256(f"{salt}|{i}".encode()).hexdigest())
    width = max(5, len(str(len(order))))
    return {i: f"F{k:0{width}d}" for k, i in enumerate(order, start=1)}


def coarsen_cells(
    firms: pd.DataFrame, *, min_cell: int, columns: Sequence[str] = QUASI_IDENTIFIERS
) -> tuple[pd.DataFrame, dict[str, int], int]:
    """Merge small cells: one row per firm in, ``(firms, merged counts, suppressed)`` out.

    A cell is a combination of ``columns``. For each column in turn, within each combination
    of the other columns, the values held by fewer than ``min_cell`` firms become
    :data:`MERGED`; when the merged group is still too small, the next smallest values join it
    (smallest first) until it is large enough or the column is merged entirely. A cell still
    too small after the last column (fewer than ``min_cell`` firms in all) is dropped.
    """
    out = firms.copy().reset_index(drop=True)
    cols = list(columns)
    merged: dict[str, int] = {}
    for col in cols:
        parent = [c for c in cols if c != col]
        before = out[col].copy()
        for _, idx in out.groupby(parent, dropna=False, sort=True).groups.items():
            values = out.loc[idx, col]
            sizes = values.value_counts(dropna=False).sort_index().sort_values(kind="stable")
            small = sizes[sizes < min_cell]
            if small.empty:
                continue
            merge, total = list(small.index), int(small.sum())
            for value, n in sizes.drop(small.index).items():
                if total >= min_cell:
                    break
                merge.append(value)
                total += int(n)
            out.loc[idx[values.isin(merge).to_numpy()], col] = MERGED
        merged[col] = int((out[col] != before).sum())
    size = out.groupby(cols, dropna=False)[cols[0]].transform("size")
    keep = (size >= min_cell).to_numpy()
    return out.loc[keep].reset_index(drop=True), merged, int((~keep).sum())


def build_extract(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    role: Role,
    periods: Sequence[str],
    min_cell: int = 5,
    contacts: pd.DataFrame | None = None,
    salt: str = "",
) -> Extract:
    """The microdata one role may see for ``periods`` (pure).

    Parameters
    ----------
    reports : DataFrame
        Accepted reports (``store.read_reports``).
    membership : DataFrame
        The panel of record: each report is joined to its firm's row in force that month
        (individual organisations and reports of non-members are not extracted).
    role : Role
        What the role may see (:class:`ExtractSettings`).
    periods : list of str
        Months ``YYYY-MM`` (checked against the role's range).
    min_cell : int
        The small-cell threshold of a de-identified extract.
    contacts : DataFrame, optional
        ``enterprise_id`` and ``contact_*`` columns (identified roles with contacts only).
    salt : str
        Salt of the pseudonyms (the job's seed and the role; never written to the extract).

    Returns
    -------
    Extract
    """
    months = check_periods(role, periods)
    rows = _rows_in_force(membership, months)
    rep = reports.copy()
    rep["enterprise_id"] = rep["enterprise_id"].astype(str)
    rep["period"] = rep["period"].astype(str)
    rows["enterprise_id"] = rows["enterprise_id"].astype(str)
    fields = REPORT_FIELDS + (["remark"] if role.identities and "remark" in rep.columns else [])
    data = rows.merge(
        rep[["enterprise_id", "period", *fields]], on=["enterprise_id", "period"], how="inner"
    )
    attrs = ["city", "section", "size_class", "ownership"]
    if role.identities:
        keep = [
            "enterprise_id",
            "name",
            "period",
            *attrs,
            "registration_type",
            "export_share",
            "ministry",
            "calibrated_weight",
            *fields,
        ]
        out = data[[c for c in keep if c in data.columns]]
        if role.contacts:
            from samplekit.list_form import CONTACT_COLUMNS

            table = (
                contacts
                if contacts is not None
                else pd.DataFrame(columns=["enterprise_id", *CONTACT_COLUMNS])
            )
            table = table.assign(enterprise_id=table["enterprise_id"].astype(str))
            have = [c for c in CONTACT_COLUMNS if c in table.columns]
            out = out.merge(
                table[["enterprise_id", *have]].drop_duplicates("enterprise_id"),
                on="enterprise_id",
                how="left",
            )
            for c in CONTACT_COLUMNS:
                out[c] = out[c].fillna("").astype(str) if c in out.columns else ""
        out = out.sort_values(["period", "city", "enterprise_id"], kind="stable")
        return Extract(
            role=role,
            periods=months,
            data=out.reset_index(drop=True),
            firms=int(out["enterprise_id"].nunique()),
            min_cell=None,
            coarsened={},
            suppressed=0,
        )
    # De-identified: one set of quasi-identifiers per firm (its latest row in the extract).
    latest = data.sort_values(["enterprise_id", "period"], kind="stable").drop_duplicates(
        "enterprise_id", keep="last"
    )[["enterprise_id", *attrs]]
    firms, merged, suppressed = coarsen_cells(latest, min_cell=min_cell)
    keys = pseudonyms(firms["enterprise_id"], salt=salt)
    firms["firm_key"] = firms["enterprise_id"].map(keys)
    body = data.drop(columns=attrs).merge(firms, on="enterprise_id", how="inner")
    # No weight: a design weight is N_h / n_h of the firm's stratum and would undo the merging.
    cols = ["firm_key", "period", *attrs, "ministry", *REPORT_FIELDS]
    out = (
        body[[c for c in cols if c in body.columns]]
        .sort_values(["period", "firm_key"], kind="stable")
        .reset_index(drop=True)
    )
    return Extract(
        role=role,
        periods=months,
        data=out,
        firms=len(firms),
        min_cell=min_cell,
        coarsened=merged,
        suppressed=suppressed,
    )


def about_rows(extract: Extract, settings: ExtractSettings) -> dict[str, Any]:
    """The 说明 sheet's extract-specific rows: role, periods, scope, protection, terms."""
    e = extract
    rows: dict[str, Any] = {
        "使用角色": f"{e.role.name}({e.role.key})",
        "数据期间": f"{e.periods[0]} 至 {e.periods[-1]}(共{len(e.periods)}个月)",
        "记录与企业": f"{len(e.data):,} 条记录,{e.firms:,} 家企业",
        "可见范围": (
            "企业名称、统一社会信用代码" + ("及联系方式" if e.role.contacts else "")
            if e.role.identities
            else "去标识微观数据:不含企业名称、代码、登记注册类型细类、出口占比、备注、联系方式和"
            "权数(权数可反推分层);企业以假名编号表示"
        ),
    }
    if not e.role.identities:
        merged = ";".join(f"{HEADERS_ZH[c]}合并 {n} 家" for c, n in e.coarsened.items() if n)
        rows["小单元处理"] = (
            f"地市×行业门类×企业规模×经济类型组合中企业少于{e.min_cell}家的,依次将经济类型、"
            f"企业规模、行业门类、地市合并为“{MERGED}”"
            + (f"({merged})" if merged else "(无需合并)")
            + (f";合并后仍不足{e.min_cell}家的{e.suppressed}家企业未提供" if e.suppressed else "")
        )
    rows["数据校验(SHA-256)"] = data_digest(e.data)
    rows["使用条款"] = settings.terms
    rows["减员原因代码"] = (
        "1 产业结构调整;2 重大技术革新;3 节能减排、淘汰落后产能;4 订单不足;"
        "5 原材料涨价;6 工资、社保等用工成本上升;7 劳动力供给不足;8 经营资金困难;"
        "9 税收政策变化;10 季节性用工;11 其他"
    )
    return rows


def data_digest(data: pd.DataFrame) -> str:
    """SHA-256 of the extract's rows (CSV text): the same data give the same digest, whatever
    else the store holds."""
    return hashlib.sha256(data.to_csv(index=False).encode("utf-8")).hexdigest()


def small_cells(
    data: pd.DataFrame,
    *,
    key: str = "firm_key",
    columns: Sequence[str] = ("city", "section", "size_class", "ownership"),
) -> pd.DataFrame:
    """Firms per combination of ``columns`` in an extract (a check for readers and tests)."""
    firms = data.drop_duplicates(key)
    return firms.groupby(list(columns), dropna=False).size().rename("firms").reset_index()


def periods_of(text: str) -> list[str]:
    """``2013Q4`` → its months; ``2013-01:2013-12`` → the run; ``2013-12`` → one month."""
    from samplekit.periods import QUARTER_RE, quarter_months

    text = str(text).strip()
    if QUARTER_RE.match(text):
        return quarter_months(text)
    if ":" in text:
        a, b = (t.strip() for t in text.split(":", 1))
        if not (MONTH_RE.match(a) and MONTH_RE.match(b)) or a > b:
            raise InputError(f"--periods {text!r}: give months like 2013-01:2013-12")
        return month_range(a, b)
    if MONTH_RE.match(text):
        return [text]
    raise InputError(
        f"--periods {text!r}: give a quarter 2013Q4, a month 2013-12 or a run 2013-01:2013-12"
    )
