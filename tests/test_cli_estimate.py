"""``samplekit estimate``: reads the store, writes estimates with SE, CI and df (CSV + Excel with
Chinese headers) for any domain column; the same numbers as `estimate` (issue 10 item 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import samplekit.store as store_mod
from samplekit.cli import main
from samplekit.estimation import domain_estimates, estimate
from tests.test_estimation_calibrated import _small_design


@pytest.fixture()
def fake_store(tmp_path, monkeypatch):
    sample, reports = _small_design("raking", (0.3, 3.0))
    membership = sample.assign(valid_from="2013-01", valid_to=None, ministry=True)
    path = tmp_path / "store.duckdb"
    path.write_bytes(b"")
    monkeypatch.setattr(store_mod, "read_membership", lambda store: membership)
    monkeypatch.setattr(store_mod, "read_reports", lambda store, periods=None: reports)
    return path, membership, reports


def test_estimate_command_writes_csv_and_xlsx(fake_store, tmp_path, capsys):
    path, membership, reports = fake_store
    out = tmp_path / "out"
    code = main(
        ["estimate", "--store", str(path), "--period", "2013-12", "--by", "city", "--out", str(out)]
    )
    assert code == 0
    got = pd.read_csv(out / "estimates_2013-12.csv")
    want = estimate(reports, membership, periods="2013-12", by=["city"])
    assert {"se", "ci_low", "ci_high", "df", "small_domain"} <= set(got.columns)
    pd.testing.assert_series_equal(got["se"], want["se"], check_names=False, rtol=1e-6)
    assert (got["df"] == want["df"]).all()
    xlsx = pd.read_excel(out / "estimates_2013-12.xlsx", sheet_name="估计结果", header=3)
    assert {"地市", "指标", "估计值", "标准误", "自由度"} <= set(xlsx.columns)
    printed = capsys.readouterr().out
    assert "估计完成" in printed and "报送率" in printed
    # the response table by city: members in force and reporters counted by hand
    resp = pd.read_csv(out / "response_2013-12.csv")
    month = reports[reports["period"] == "2013-12"]
    for city, n in membership.groupby("city").size().items():
        ids = set(membership.loc[membership["city"] == city, "enterprise_id"])
        r = resp.set_index("city").loc[city]
        assert r["n_members"] == n
        assert r["n_reporters"] == month["enterprise_id"].isin(ids).sum()
    assert resp["city"].iloc[-1] == "全省" and resp["n_members"].iloc[-1] == len(membership)
    cells = pd.read_csv(out / "response_cells_2013-12.csv")
    assert cells["n_members"].sum() == len(membership)
    assert np.allclose(got["response_rate"], 100 * got["n_reporters"] / got["n_members"])
    sheet = pd.read_excel(out / "estimates_2013-12.xlsx", sheet_name="回答单元", header=3)
    assert {"无报送单元的合并方式", "并入单元", "报送率(%)"} <= set(sheet.columns)
    # design weights: another SE, same domains
    main(
        [
            "estimate",
            "--store",
            str(path),
            "--period",
            "2013-12",
            "--by",
            "section",
            "--weights",
            "design",
            "--out",
            str(out / "d"),
        ]
    )
    d = pd.read_csv(out / "d" / "estimates_2013-12.csv")
    assert set(d["section"]) == {"C", "G"} and (d["weights"] == "design").all()
    # Satterthwaite df: the same SEs, fewer df (tested by hand in test_estimation*.py)
    args = ["estimate", "--store", str(path), "--period", "2013-12", "--by", "city"]
    main([*args, "--df", "satterthwaite", "--out", str(out / "s")])
    s = pd.read_csv(out / "s" / "estimates_2013-12.csv")
    want_s = estimate(reports, membership, periods="2013-12", by=["city"], dof="satterthwaite")
    pd.testing.assert_series_equal(s["se"], got["se"], check_names=False, rtol=1e-9)
    assert (s["df"] == want_s["df"]).all() and (s["df"] <= got["df"]).all()
    assert (s["df"] < got["df"]).any()


def test_estimate_command_errors_in_chinese(fake_store, tmp_path, capsys):
    path, *_ = fake_store
    assert (
        main(["estimate", "--store", str(path), "--period", "2013-13", "--out", str(tmp_path)]) == 1
    )
    assert "不是月份" in capsys.readouterr().err
    assert (
        main(
            [
                "estimate",
                "--store",
                str(path),
                "--period",
                "2013-12",
                "--by",
                "nope",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "不是监测名单的列" in capsys.readouterr().err
    assert (
        main(
            [
                "estimate",
                "--store",
                str(tmp_path / "none.duckdb"),
                "--period",
                "2013-12",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "数据库不存在" in capsys.readouterr().err


def test_domain_estimates_ministry_network_and_names(fake_store):
    _, membership, reports = fake_store
    t = domain_estimates(
        reports, membership, period="2013-12", network="ministry", indicators=["job_loss_rate"]
    )
    assert t["indicator_name"].tolist() == ["岗位流失率(%)"] and (t["network"] == "ministry").all()
