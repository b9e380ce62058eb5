"""The monitored-enterprise list in the ministry's list form: layout per city and province,
contacts carried from the register or a contacts file, format warnings naming row and column."""

from __future__ import annotations

import pandas as pd
import pytest

from samplekit.errors import InputError
from samplekit.list_form import (
    CONTACT_COLUMNS,
    LIST_COLUMNS,
    attach_contacts,
    bureau_contacts,
    check_contacts,
    list_form,
    register_contacts,
    write_list_form,
)


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "enterprise_id": ["e1", "e2", "e3", "e4", "e5"],
            "name": ["乙公司", "甲公司", "丙公司", "丁公司", "戊公司"],
            "city": ["深圳", "深圳", "广州", "广州", "广州"],
            "section": ["C", "I", "C", "F", "G"],
            "ownership": ["private", "state", "foreign", "private", "state"],
            "registration_type": ["173", "110", "310", "173", "110"],
            "division": ["18", "65", "39", None, "52"],
            "monthly": [True, False, True, True, False],
        }
    )


def test_layout_per_city_and_province():
    lists = list_form(sample())
    assert list(lists) == ["广州", "深圳", "全省"]
    for name in ("广州", "深圳", "全省"):
        assert list(lists[name].columns) == LIST_COLUMNS
    gz = lists["广州"]
    # ordered by enterprise name within the city, numbered from 1
    assert gz["name"].tolist() == sorted(["丙公司", "丁公司", "戊公司"])
    assert gz["seq"].tolist() == [1, 2, 3]
    prov = lists["全省"]
    assert prov["seq"].tolist() == [1, 2, 3, 4, 5]
    assert prov["city"].tolist() == ["广州"] * 3 + ["深圳"] * 2
    row = prov.set_index("name").loc["甲公司"]
    assert row["nature"] == "国有企业" and row["industry"] == "信息传输、软件和信息技术服务业(I65)"
    assert prov.set_index("name").loc["丁公司", "industry"] == "批发和零售业"  # no division
    assert (prov[CONTACT_COLUMNS] == "").all().all()


def test_monthly_only_lists_the_monthly_subsample():
    lists = list_form(sample(), monthly_only=True)
    assert sorted(lists["全省"]["name"]) == sorted(["乙公司", "丙公司", "丁公司"])
    assert lists["深圳"]["seq"].tolist() == [1]


def test_contacts_file_fills_the_list_and_warns_on_bad_formats():
    contacts = pd.DataFrame(
        {
            "企业编号": ["e1", "e2", "e3", "e9", ""],
            "城市": ["", "", "", "", "全省"],
            "姓名": ["张三", "李四", "王五", "赵六", "周敏"],
            "职务": ["人事经理", "", "主管", "", "科员"],
            "电话": ["0755-88886666", "83327680", "020-8332", "12", "020-83327680"],
            "手机": ["13800138000", "+86 13912345678", "2380013800", "", "13600000000"],
            "邮箱": ["hr@example.com", "li@example", "", "x@y.cn", "zm@gd.gov.cn"],
        }
    )
    out, warnings = attach_contacts(sample(), contacts, file="contacts.csv")
    got = out.set_index("enterprise_id")
    assert got.loc["e1", "contact_name"] == "张三" and got.loc["e1", "contact_post"] == "人事经理"
    assert got.loc["e4", "contact_name"] == ""
    # e2's e-mail, e3's phone and mobile are wrong; e9 is outside the sample (not listed)
    found = {(w.row, w.column) for w in warnings.itertuples()}
    assert found == {(3, "contact_email"), (4, "contact_phone"), (4, "contact_mobile")}
    assert (warnings["file"] == "contacts.csv").all()
    assert warnings.set_index("column").loc["contact_phone", "message"].startswith("电话“020-8332”")
    # the wrong values are kept, not dropped
    assert got.loc["e3", "contact_phone"] == "020-8332"
    lists = list_form(out)
    assert lists["深圳"].set_index("name").loc["乙公司", "contact_mobile"] == "13800138000"
    bureau = bureau_contacts(check_contacts(contacts, file="contacts.csv")[0])
    assert bureau["city"].tolist() == ["全省"] and bureau["contact_name"].tolist() == ["周敏"]


def test_register_contact_columns_are_carried():
    frame = sample().assign(
        contact_name=["甲", "", None, "丁", "戊"], contact_email=["a@b.cn", "", "", "bad", ""]
    )
    out, warnings = attach_contacts(sample(), register_contacts(frame), file="register")
    assert out.set_index("enterprise_id").loc["e4", "contact_name"] == "丁"
    assert out.set_index("enterprise_id").loc["e3", "contact_name"] == ""
    assert warnings[["row", "column", "enterprise_id"]].values.tolist() == [
        [5, "contact_email", "e4"]
    ]
    assert register_contacts(sample()) is None


def test_duplicate_enterprise_contacts_are_refused():
    with pytest.raises(InputError, match="row 3"):
        check_contacts(
            pd.DataFrame({"enterprise_id": ["e1", "e1"], "姓名": ["a", "b"]}), file="c.csv"
        )
    with pytest.raises(InputError, match="needs an enterprise_id column"):
        check_contacts(pd.DataFrame({"姓名": ["a"]}), file="c.csv")


def test_written_files_are_byte_identical(tmp_path):
    lists = list_form(sample())
    a = write_list_form(lists, tmp_path / "a")
    b = write_list_form(lists, tmp_path / "b")
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    back = pd.read_csv(a["monitored_list"], dtype=str, keep_default_na=False)
    assert back["name"].tolist() == lists["全省"]["name"].tolist()
