"""The monitored-enterprise list in the ministry's list form (失业动态监测城市监测企业名单).

Seed 001 (人社部发〔2009〕152号 附件 and 人社部函〔2011〕308号) gives the layout: per monitored city
the rows 序号, 城市名, 企业名称, 企业性质, 所属行业, and below them the liaisons (联系人) of the
provincial department and of each city bureau — 姓名, 单位, 职务, 电话, 手机, 邮箱. The 152号
plan also asks for a liaison in every monitored enterprise (联络员制度), so each enterprise row
carries its own contact columns too; chase-up lists use them.

Pure functions: :func:`attach_contacts` joins contacts (the register's optional contact columns
or a contacts table) to the sample and checks their formats; :func:`list_form` lays the list
out per city and for the province; :func:`write_list_form` writes it. Contacts come from the
register's ``contact_*`` columns or from a contacts file (params ``selection.contacts``, read by
:func:`samplekit.jobs.list_form`); a phone, mobile or e-mail in the wrong format is kept and reported as a
warning naming file, row and column — never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from samplekit import reference
from samplekit.errors import InputError

CONTACT_FIELDS: tuple[str, ...] = ("name", "unit", "post", "phone", "mobile", "email")
CONTACT_COLUMNS: list[str] = [f"contact_{f}" for f in CONTACT_FIELDS]
#: Column aliases a contacts file may use (Chinese headers of the ministry's form).
CONTACT_ALIASES: dict[str, str] = {
    "企业编号": "enterprise_id",
    "统一社会信用代码": "enterprise_id",
    "城市": "city",
    "姓名": "contact_name",
    "联系人": "contact_name",
    "单位": "contact_unit",
    "职务": "contact_post",
    "电话": "contact_phone",
    "手机": "contact_mobile",
    "邮箱": "contact_email",
    "电子邮件": "contact_email",
    **{f: f"contact_{f}" for f in CONTACT_FIELDS},
}
LIST_COLUMNS: list[str] = ["seq", "city", "name", "nature", "industry", *CONTACT_COLUMNS]
LIST_HEADERS_ZH: dict[str, str] = {
    "seq": "序号",
    "city": "城市",
    "county": "县(区)",
    "name": "企业名称",
    "nature": "企业性质",
    "industry": "所属行业",
    "contact_name": "联系人姓名",
    "contact_unit": "联系人单位",
    "contact_post": "职务",
    "contact_phone": "电话",
    "contact_mobile": "手机",
    "contact_email": "邮箱",
    "level": "层级",
    "file": "文件",
    "row": "行",
    "column": "列",
    "value": "内容",
    "message": "说明",
    "enterprise_id": "企业编号",
}
WARNING_COLUMNS: list[str] = ["file", "row", "column", "enterprise_id", "city", "value", "message"]
PROVINCE = "全省"

# Fixed line: optional 0 + area code (2–3 digits after the 0), 7–8 digits, optional extension;
# separators "-" or space. Mobile: 11 digits starting 13–19 (optional +86). E-mail: one "@", a dot
# in the domain, no spaces.
PHONE_RE = re.compile(r"^(?:\(?0\d{2,3}\)?[- ]?)?\d{7,8}(?:[- ]?(?:转|ext\.?|-)?\d{1,6})?$")
MOBILE_RE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_FORMATS = {
    "contact_phone": (PHONE_RE, "固定电话格式应为 区号-号码,如 020-83327680"),
    "contact_mobile": (MOBILE_RE, "手机号码应为 11 位数字,以 13–19 开头"),
    "contact_email": (EMAIL_RE, "邮箱格式应为 name@example.com"),
}


def check_contacts(contacts: pd.DataFrame, *, file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a contacts table and check phone, mobile and e-mail formats.

    Parameters
    ----------
    contacts : DataFrame
        ``enterprise_id`` (or ``city`` alone for a bureau liaison: a city name or 全省) and any of
        ``contact_name, contact_unit, contact_post, contact_phone, contact_mobile,
        contact_email`` (the bare names and the form's Chinese headers are accepted).
    file : str
        Name used in warnings.

    Returns
    -------
    (DataFrame, DataFrame)
        The contacts (all contact columns, strings, blanks as ""), and the warnings
        (``WARNING_COLUMNS``; ``row`` is the spreadsheet row, header = 1). Wrong values are kept.

    Raises
    ------
    InputError
        When neither ``enterprise_id`` nor ``city`` is present, or an enterprise appears twice.
    """
    c = contacts.rename(columns={k: v for k, v in CONTACT_ALIASES.items() if k in contacts.columns})
    if "enterprise_id" not in c.columns and "city" not in c.columns:
        raise InputError(
            f"{file}: a contacts table needs an enterprise_id column (enterprise "
            "liaisons) or a city column (bureau liaisons); found "
            f"{', '.join(map(str, contacts.columns))}"
        )
    out = pd.DataFrame(index=c.index)
    for col in ("enterprise_id", "city", *CONTACT_COLUMNS):
        values = c[col] if col in c.columns else pd.Series("", index=c.index)
        out[col] = values.astype("string").fillna("").str.strip().astype(object)
    out = out.reset_index(drop=True)
    ids = out["enterprise_id"]
    dup = ids.ne("") & ids.duplicated(keep="first")
    if dup.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(dup.to_numpy())[:5])
        raise InputError(
            f"{file}: enterprise_id appears more than once (row {rows}); give one "
            "liaison per enterprise"
        )
    return out, contact_warnings(out, file=file)


def contact_warnings(contacts: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """One warning per phone, mobile or e-mail value in the wrong format (blank is allowed).

    ``row`` is the table's row as a spreadsheet shows it (header = row 1).
    """
    n = len(contacts)
    blank = pd.Series([""] * n, index=contacts.index, dtype=object)
    ids = contacts["enterprise_id"].astype(str) if "enterprise_id" in contacts else blank
    city = contacts["city"].astype(str) if "city" in contacts else blank
    rows = []
    for col, (pattern, hint) in _FORMATS.items():
        if col not in contacts.columns:
            continue
        v = contacts[col].astype("string").fillna("").str.strip()
        text = v if col == "contact_phone" else v.str.replace(" ", "", regex=False)
        bad = (v != "") & ~text.str.match(pattern).fillna(False).astype(bool)
        for i in np.flatnonzero(bad.to_numpy()):
            rows.append(
                {
                    "file": file,
                    "row": int(i) + 2,
                    "column": col,
                    "enterprise_id": ids.iat[i],
                    "city": city.iat[i],
                    "value": v.iat[i],
                    "message": f"{LIST_HEADERS_ZH[col]}“{v.iat[i]}”格式不对:{hint}",
                }
            )
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def register_contacts(frame: pd.DataFrame) -> pd.DataFrame | None:
    """The register's optional contact columns (``contact_*``) as a contacts table, or None."""
    present = [c for c in CONTACT_COLUMNS if c in frame.columns]
    if not present or "enterprise_id" not in frame.columns:
        return None
    return frame[["enterprise_id", *present]].copy()


def attach_contacts(
    sample: pd.DataFrame, contacts: pd.DataFrame | None, *, file: str = "contacts"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carry enterprise contacts into the sample (panel of record) by ``enterprise_id``.

    Returns the sample with the ``contact_*`` columns (blank where unknown; a contacts table
    overrides the sample's own values field by field when it has a non-blank value) and the
    format warnings. Contacts of enterprises outside the sample are ignored.
    """
    out = sample.copy()
    for col in CONTACT_COLUMNS:
        out[col] = out[col].astype("string").fillna("").astype(object) if col in out.columns else ""
    if contacts is None:
        return out, pd.DataFrame(columns=WARNING_COLUMNS)
    checked, warnings = check_contacts(contacts, file=file)
    checked = checked[checked["enterprise_id"] != ""].set_index("enterprise_id")
    ids = out["enterprise_id"].astype(str)
    for col in CONTACT_COLUMNS:
        given = ids.map(checked[col]).fillna("")
        out[col] = np.where(given != "", given, out[col])
    # warnings about enterprises outside the sample do not concern the list; bureau rows do
    keep = warnings["enterprise_id"].isin(set(ids)) | (warnings["enterprise_id"] == "")
    return out, warnings[keep].reset_index(drop=True)


def _nature(sample: pd.DataFrame) -> pd.Series:
    """企业性质: the registration type's name (国统字〔1998〕200号), else the ownership group."""
    if "registration_type" in sample.columns:
        names = reference.registration_types().set_index("code")["name"]
        codes = sample["registration_type"].astype("string").fillna("")
        named = codes.map(names)
        return named.fillna(codes).astype(object)
    return sample["ownership"].map(reference.OWNERSHIP_ZH).fillna(sample["ownership"])


def _industry(sample: pd.DataFrame) -> pd.Series:
    """所属行业: the section's name with the division (大类) code, e.g. 制造业(C18)."""
    names = reference.section_names()
    sec = sample["section"].astype(str)
    name = sec.map(names).fillna(sec)
    if "division" in sample.columns:
        div = sample["division"].astype("string").fillna("").str[:2]
        return pd.Series(
            np.where(div != "", name + "(" + sec + div + ")", name),
            index=sample.index,
            dtype=object,
        )
    return name.astype(object)


def list_form(
    sample: pd.DataFrame, *, monthly_only: bool = False, cities: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """The monitored-enterprise list per city and for the province, in the form's layout.

    Parameters
    ----------
    sample : DataFrame
        The selected panel (``samplekit.selection`` sample: enterprise_id, name, city, section,
        ownership, and optionally registration_type, division, monthly, contact columns).
    monthly_only : bool
        Only the monthly (失业动态监测) subsample, as the ministry's list asks.
    cities : list of str, optional
        Cities to list (default: every city in the sample, sorted).

    Returns
    -------
    dict
        City name → its list (``LIST_COLUMNS``, 序号 from 1, ordered by enterprise name then
        id), and ``全省`` → every city's rows one after another with a running 序号. A sample
        with the register's optional ``county`` gets a 县(区) column after 城市.
    """
    s = sample
    if monthly_only:
        if "monthly" not in s.columns:
            raise InputError("sample: no 'monthly' column to pick the monthly subsample")
        s = s[s["monthly"].astype(bool)]
    s = s.copy()
    for col in CONTACT_COLUMNS:
        s[col] = s[col].astype("string").fillna("").astype(object) if col in s.columns else ""
    body = pd.DataFrame(
        {
            "city": s["city"].astype(str).to_numpy(),
            **({"county": _county_text(s["county"])} if "county" in s.columns else {}),
            "name": s["name"].astype(str).to_numpy(),
            "nature": _nature(s).to_numpy(),
            "industry": _industry(s).to_numpy(),
            **{c: s[c].to_numpy() for c in CONTACT_COLUMNS},
            "_id": s["enterprise_id"].astype(str).to_numpy(),
        }
    )
    body = body.sort_values(["city", "name", "_id"], kind="stable").reset_index(drop=True)
    columns = [*LIST_COLUMNS[:2], "county", *LIST_COLUMNS[2:]] if "county" in body else LIST_COLUMNS
    wanted = sorted(body["city"].unique()) if cities is None else list(cities)
    out: dict[str, pd.DataFrame] = {}
    parts = []
    for name in wanted:
        part = body[body["city"] == name].drop(columns="_id").reset_index(drop=True)
        part.insert(0, "seq", np.arange(1, len(part) + 1))
        out[name] = part[columns]
        parts.append(out[name])
    prov = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    prov["seq"] = np.arange(1, len(prov) + 1)
    out[PROVINCE] = prov[columns]
    return out


def _county_text(values: pd.Series) -> np.ndarray:
    """The 县(区) as shown on the form: blank where the register gave none."""
    text = values.astype("string").str.strip().fillna("")
    return text.astype(object).to_numpy()


def bureau_contacts(contacts: pd.DataFrame | None) -> pd.DataFrame:
    """The liaisons of the provincial department (city 全省) and the city bureaus: the rows of a
    contacts table without an ``enterprise_id`` (the form's footer)."""
    cols = ["level", "city", *CONTACT_COLUMNS]
    if contacts is None or "city" not in contacts.columns:
        return pd.DataFrame(columns=cols)
    rows = contacts[(contacts.get("enterprise_id", "") == "") & (contacts["city"] != "")].copy()
    rows["level"] = np.where(
        rows["city"] == PROVINCE, "省级人力资源和社会保障厅(局)", "市级人力资源和社会保障局"
    )
    rows = rows.sort_values(["level", "city"], ascending=[False, True], kind="stable")
    return rows[cols].reset_index(drop=True)


def write_list_form(
    lists: Mapping[str, pd.DataFrame],
    out_dir: str | Path,
    *,
    bureau: pd.DataFrame | None = None,
    warnings: pd.DataFrame | None = None,
    title: str = "失业动态监测城市监测企业名单",
) -> dict[str, Path]:
    """Write ``monitored_list.csv`` (the province's list), ``monitored_list.xlsx`` (one sheet per
    city and 全省, Chinese headers; the liaisons sheet 联系人; the warnings sheet 联系方式问题)
    and ``contact_warnings.csv``."""
    from samplekit.io import write_csv, write_xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"monitored_list": write_csv(lists[PROVINCE], out / "monitored_list.csv")}
    sheets: dict[str, pd.DataFrame] = {PROVINCE: lists[PROVINCE]}
    titles = {PROVINCE: f"{title}(全省)"}
    for name, table in lists.items():
        if name != PROVINCE:
            sheets[name] = table
            titles[name] = f"{title}({name})"
    if bureau is not None:
        sheets["联系人"] = bureau
        titles["联系人"] = "省级、市级人力资源和社会保障部门联系人"
    warn = warnings if warnings is not None else pd.DataFrame(columns=WARNING_COLUMNS)
    paths["contact_warnings"] = write_csv(warn, out / "contact_warnings.csv")
    if len(warn):
        sheets["联系方式问题"] = warn
        titles["联系方式问题"] = "联系方式格式问题(已保留原值,请核对)"
    paths["monitored_list_xlsx"] = write_xlsx(
        sheets,
        out / "monitored_list.xlsx",
        headers=LIST_HEADERS_ZH,
        titles=titles,
        about={
            "表格": title,
            "依据": "人社部发〔2009〕152号附件、人社部函〔2011〕308号(seed 001)",
            "企业数": len(lists[PROVINCE]),
            "联系方式问题": len(warn),
        },
        source="samplekit 监测企业名单(list_form)",
    )
    return paths
