"""The notebook runner: parameter planning, provenance, the failure path and verify.

Notebook runs use the tiny fixture notebooks in tests/fixtures (each kernel start costs seconds,
so one successful run is shared by the tests that only read it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from samplekit import runner, verify
from samplekit.cache import REFERENCE_SUFFIXES
from samplekit.cli import main
from samplekit.cli.runner import show_progress
from samplekit.errors import InputError, ParamsError
from samplekit.params import load_params
from samplekit.paths import reference_dir

FIXTURES = Path(__file__).parent / "fixtures"
OK_NB = FIXTURES / "runner_ok.ipynb"
FAIL_NB = FIXTURES / "runner_fail.ipynb"
PARAMS = FIXTURES / "runner_params.yaml"
CITIES = FIXTURES / "runner_cities.csv"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_notebook(path: Path, parameters_source: str | None, *, tagged: int = 1) -> Path:
    """A notebook whose first ``tagged`` code cells carry the parameters tag."""
    cells = []
    for i in range(max(tagged, 1)):
        cell = nbformat.v4.new_code_cell(parameters_source or "x: int = 1  # 示例")
        cell.id = f"p{i}"
        if i < tagged:
            cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(nb, str(path))
    return path


# ------------------------------------------------------------------ parameters cell and planning
def test_parameters_cell_rules(tmp_path):
    good = make_notebook(
        tmp_path / "good.ipynb",
        'params_file: str = "p.yaml"  # 参数文件\nout_dir: str = "o"  # 输出目录',
    )
    assert runner.parameters_cell_problems(good) == []

    none = make_notebook(tmp_path / "none.ipynb", None, tagged=0)
    two = make_notebook(tmp_path / "two.ipynb", None, tagged=2)
    assert "found 0" in runner.parameters_cell_problems(none)[0]
    assert "found 2" in runner.parameters_cell_problems(two)[0]

    derived = make_notebook(tmp_path / "derived.ipynb", "n: int = 3\nm: int = n * 2")
    (msg,) = runner.parameters_cell_problems(derived)
    assert "line 2" in msg and "not a literal" in msg

    plain = make_notebook(tmp_path / "plain.ipynb", 'period = "2013-12"')
    (msg,) = runner.parameters_cell_problems(plain)
    assert "line 1" in msg and "annotated assignment" in msg

    two_on_line = make_notebook(tmp_path / "semi.ipynb", "a: int = 1; b: int = 2")
    assert any("one parameter per line" in m for m in runner.parameters_cell_problems(two_on_line))


def test_plan_parameters_injects_paths_and_params_values(tmp_path):
    nb = make_notebook(
        tmp_path / "nb.ipynb",
        'params_file: str = "x.yaml"  # 参数文件\nout_dir: str = "x"  # 输出目录\n'
        'period: str = "2099-01"  # 报告月份',
    )
    params = load_params(PARAMS)
    plan = runner.plan_parameters(nb, params, tmp_path / "out")
    # The params file's period wins over the notebook's default; paths are absolute.
    assert plan == {
        "params_file": str(PARAMS.resolve()),
        "out_dir": str((tmp_path / "out").resolve()),
        "period": "2013-12",
    }


def test_plan_parameters_refuses_what_it_cannot_supply(tmp_path):
    params = load_params(PARAMS)
    head = 'params_file: str = "x.yaml"  # 参数文件\nout_dir: str = "x"  # 输出目录\n'
    unknown = make_notebook(tmp_path / "unknown.ipynb", head + "threshold: float = 0.5  # 阈值")
    with pytest.raises(ParamsError) as err:
        runner.plan_parameters(unknown, params, tmp_path)
    assert "unknown.ipynb" in str(err.value) and "'threshold'" in str(err.value)

    # A real top-level key the params file does not have: named, with the params file.
    absent = make_notebook(tmp_path / "absent.ipynb", head + 'quarter: str = "2013Q4"  # 季度')
    with pytest.raises(ParamsError) as err:
        runner.plan_parameters(absent, params, tmp_path)
    assert "'quarter'" in str(err.value) and "runner_params.yaml" in str(err.value)

    mapping = make_notebook(tmp_path / "mapping.ipynb", head + 'province: str = "x"  # 省份')
    with pytest.raises(ParamsError, match="not a single value"):
        runner.plan_parameters(mapping, params, tmp_path)

    no_out = make_notebook(tmp_path / "no_out.ipynb", 'params_file: str = "x.yaml"  # 参数文件')
    with pytest.raises(ParamsError, match="'out_dir'"):
        runner.plan_parameters(no_out, params, tmp_path)


def test_run_refuses_bad_notebooks_before_running_any(tmp_path):
    bad = make_notebook(tmp_path / "bad.ipynb", None, tagged=0)
    with pytest.raises(InputError) as err:
        runner.run_notebooks([OK_NB, bad, tmp_path / "missing.ipynb"], PARAMS, tmp_path / "out")
    assert "bad.ipynb" in str(err.value) and "missing.ipynb" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_input_files_walks_nested_paths(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "sub" / "b.xlsx"
    b.parent.mkdir()
    a.write_text("x\n1\n", encoding="utf-8")
    b.write_bytes(b"not really xlsx")
    yaml_text = (
        f"name: t\nprovince:\n  cities: {a}\nframe:\n  files: [{b}, not/a/file.csv]\n"
        f"  folder: {tmp_path}\ntitle: 标题\n"
    )
    p = tmp_path / "p.yaml"
    p.write_text(yaml_text, encoding="utf-8")
    found = runner.input_files(load_params(p, validate=False))
    assert found[:2] == [
        {"key": "frame.files[0]", "path": str(b), "sha256": sha256(b)},
        {"key": "province.cities", "path": str(a), "sha256": sha256(a)},
    ]
    # Then every reference table, project-relative.
    reference = sorted(
        f for f in reference_dir().iterdir() if f.suffix.lower() in REFERENCE_SUFFIXES
    )
    assert reference and {e["path"]: e["sha256"] for e in found[2:]} == {
        f"data/reference/{f.name}": sha256(f) for f in reference
    }


# ------------------------------------------------------------------ comparing tables
def test_compare_grids_tolerance_and_positions():
    a = pd.DataFrame([["city", "share"], ["广州市", 0.1 + 0.2], ["深圳市", 1e6]], dtype=object)
    assert verify.compare_grids(a, a.copy()) == []
    noise = a.copy()
    noise.iloc[1, 1] = 0.3  # 0.30000000000000004 vs 0.3: last-digit noise
    noise.iloc[2, 1] = 1e6 * (1 + 1e-12)
    assert verify.compare_grids(a, noise) == []
    real = a.copy()
    real.iloc[2, 1] = 1e6 + 1
    real.iloc[1, 0] = "珠海市"
    assert verify.compare_grids(a, real) == [
        (1, 0, "广州市", "珠海市"),
        (2, 1, "1000000.0", "1000001.0"),
    ]
    assert verify.compare_grids(a, a.iloc[:2])[0][0] == -1  # shape difference
    with_path = a.copy()
    with_path.iloc[0, 0] = "/tmp/rerun/x"
    orig = a.copy()
    orig.iloc[0, 0] = "/runs/one/x"
    assert verify.compare_grids(orig, with_path, replace={"/tmp/rerun": "/runs/one"}) == []
    nan = pd.DataFrame([[np.nan, None]], dtype=object)
    assert verify.compare_grids(nan, pd.DataFrame([[None, np.nan]], dtype=object)) == []


# ------------------------------------------------------------------ real runs
@pytest.fixture(scope="module")
def ok_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ok") / "run"
    code = main(["run", str(OK_NB), "--params", str(PARAMS), "--out", str(out), "--no-progress"])
    return code, out


def test_run_writes_notebook_html_tables_and_provenance(ok_run):
    code, out = ok_run
    assert code == 0
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["status"] == "ok" and prov["samplekit_version"]
    assert prov["started"] <= prov["finished"]
    assert prov["params"]["path"] == "tests/fixtures/runner_params.yaml"
    assert prov["params"]["sha256"] == sha256(PARAMS)
    assert prov["params"]["content"]["seed"] == 7
    inputs = {e["key"]: e for e in prov["inputs"]}
    assert inputs["province.cities"]["sha256"] == sha256(CITIES)
    assert inputs["notebook:runner_ok"]["sha256"] == sha256(OK_NB)
    assert prov["environment"]["packages"]["papermill"]
    package = Path(runner.__file__).parent
    listing = "".join(
        f"{f.relative_to(package).as_posix()}\0{sha256(f)}\n" for f in sorted(package.rglob("*.py"))
    )
    assert prov["code"]["package_sha256"] == hashlib.sha256(listing.encode()).hexdigest()
    if prov["git"] is not None:
        assert len(prov["git"]["commit"]) == 40 and isinstance(prov["git"]["dirty"], bool)
    (nb,) = prov["notebooks"]
    assert nb["parameters"] == {
        "params_file": str(PARAMS.resolve()),
        "out_dir": str(out.resolve()),
        "period": "2013-12",
    }
    assert nb["status"] == "ok" and nb["failure"] is None
    # Every listed output exists with the recorded hash; tables written where the notebook said.
    outputs = {o["path"]: o["sha256"] for o in prov["outputs"]}
    assert set(outputs) == {
        "runner_ok.ipynb",
        "runner_ok.html",
        "summary.xlsx",
        "tables/summary.csv",
    }
    for rel, digest in outputs.items():
        assert sha256(out / rel) == digest
    table = pd.read_csv(out / "tables" / "summary.csv", encoding="utf-8-sig")
    assert table["existing_panel"].sum() == 640  # 300 + 280 + 60 from the fixture city table
    # The executed notebook carries the injected parameters.
    executed = nbformat.read(str(out / "runner_ok.ipynb"), as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and str(out.resolve()) in injected[0].source


def test_html_copy_hides_code_but_keeps_outputs(ok_run):
    _, out = ok_run
    html = (out / "runner_ok.html").read_text(encoding="utf-8")
    assert "城市数 3,现有样本合计 640,报告月份 2013-12" in html  # printed output kept
    assert "运行器测试笔记本" in html  # markdown kept
    for code in ("default_rng", "write_xlsx", "from samplekit", "params_file: str"):
        assert code not in html


def test_failure_names_notebook_and_cell_and_keeps_partial(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            str(FAIL_NB),
            str(OK_NB),
            "--params",
            str(PARAMS),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "runner_fail.ipynb" in err and "cell 4" in err
    assert "ValueError: fixture failure: 故意失败" in err and 'print("失败之前")' in err
    partial = nbformat.read(str(out / "runner_fail.ipynb"), as_version=4)
    outputs = [o for c in partial.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.output_type == "error" and o.ename == "ValueError" for o in outputs)
    assert any(o.output_type == "stream" and "失败之前" in o.text for o in outputs)
    last = partial.cells[-1]
    assert last.source == 'print("never reached")' and last.execution_count is None
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["status"] == "failed"
    failed, skipped = prov["notebooks"]
    assert failed["status"] == "failed" and failed["failure"]["cell"] == 4
    assert failed["failure"]["ename"] == "ValueError"
    assert skipped["name"] == "runner_ok" and skipped["status"] == "not run"
    assert not (out / "runner_ok.ipynb").exists()


def test_verify_reports_a_changed_output_table(ok_run, tmp_path, capsys):
    _, out = ok_run
    copy = shutil.copytree(out, tmp_path / "copy")
    csv = copy / "tables" / "summary.csv"
    table = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    table.loc[1, "existing_panel"] = "281"  # a hand edit of one cell
    table.to_csv(csv, index=False, encoding="utf-8-sig")
    prov_path = copy / "provenance.json"
    prov = json.loads(prov_path.read_text(encoding="utf-8"))
    prov["code"]["package_sha256"] = "0" * 64  # as if the package was edited since the run
    prov_path.write_text(json.dumps(prov, ensure_ascii=False), encoding="utf-8")
    code = main(["verify", str(copy), "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == 1
    assert "注意:the samplekit source files differ from the run's" in stdout
    rows = dict(
        re.findall(
            r"^\s+(?:一致|不一致|重新运行缺失|重新运行新增)\s+(\S+)(.*)$", stdout, flags=re.M
        )
    )
    status = {m[1]: m[0] for m in re.findall(r"^\s+(一致|不一致)\s+(\S+)", stdout, flags=re.M)}
    # The XLSX (whose 说明 sheet holds the run folder) is re-created identically.
    assert status == {"tables/summary.csv": "不一致", "summary.xlsx": "一致"}
    assert "row 3 column 2: '281' vs '280'" in rows["tables/summary.csv"]
    assert "2 个输出表格中有 1 个不一致" in stdout


def test_verify_refuses_when_an_input_changed(ok_run, tmp_path, capsys):
    _, out = ok_run
    copy = shutil.copytree(out, tmp_path / "copy")
    cities = tmp_path / "cities.csv"
    shutil.copy(CITIES, cities)
    prov_path = copy / "provenance.json"
    prov = json.loads(prov_path.read_text(encoding="utf-8"))
    for entry in prov["inputs"]:  # point the record at a copy with the same bytes
        if entry["key"] == "province.cities":
            entry["path"] = str(cities)
    prov_path.write_text(json.dumps(prov, ensure_ascii=False), encoding="utf-8")
    assert verify.changed_inputs(prov) == []
    cities.write_text(CITIES.read_text(encoding="utf-8").replace("300", "301"), encoding="utf-8")
    code = main(["verify", str(copy), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "refusing" in err and str(cities) in err and "province.cities" in err


def test_verify_needs_a_provenance_file(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 1
    assert "provenance.json" in capsys.readouterr().err


def test_demo_runs_every_notebook_on_the_demo_params(tmp_path, monkeypatch, capsys):
    books = tmp_path / "notebooks"
    books.mkdir()
    shutil.copy(OK_NB, books / "00_first.ipynb")
    monkeypatch.setattr(runner, "notebooks_dir", lambda: books)
    # A foreign `python3` kernel spec first on the Jupyter path must not be used.
    bogus = tmp_path / "jupyter" / "kernels" / "python3"
    bogus.mkdir(parents=True)
    (bogus / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    "/nonexistent/python",
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "other",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == 0
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["params"]["path"] == "params/guangdong_2013.yaml"
    assert [nb["name"] for nb in prov["notebooks"]] == ["00_first"]
    assert "运行后的 notebook:00_first.ipynb" in stdout and str(out) in stdout
    assert "表格:summary.xlsx, tables/summary.csv" in stdout
    index = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<a href="00_first.html">[^<]+</a>', index) and "运行状态:完成" in index


def test_demo_with_no_notebooks_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "notebooks_dir", lambda: tmp_path)
    assert main(["demo", "--out", str(tmp_path / "o")]) == 1
    assert "no notebooks found" in capsys.readouterr().err


def test_progress_bar_off_under_ci(monkeypatch):
    class Args:
        no_progress = False

    monkeypatch.setenv("CI", "true")
    assert show_progress(Args()) is False


def test_locate_falls_back_to_the_project_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.locate("tests/fixtures/runner_ok.ipynb") == OK_NB.resolve()
    (tmp_path / "tests" / "fixtures").mkdir(parents=True)
    here = tmp_path / "tests" / "fixtures" / "runner_ok.ipynb"
    here.write_text("{}", encoding="utf-8")
    assert runner.locate("tests/fixtures/runner_ok.ipynb") == here  # the working dir wins


def test_compare_tables_parquet_and_xlsx_files(tmp_path):
    from samplekit.io import write_xlsx

    df = pd.DataFrame({"city": ["广州市", "深圳市"], "n": [3, 4], "w": [0.5, 0.25]})
    df.to_parquet(tmp_path / "a.parquet")
    df.assign(n=[3, 5]).to_parquet(tmp_path / "b.parquet")
    df.to_parquet(tmp_path / "c.parquet")
    assert verify.compare_tables(tmp_path / "a.parquet", tmp_path / "c.parquet") == ""
    assert (
        verify.compare_tables(tmp_path / "a.parquet", tmp_path / "b.parquet")
        == "1 cell(s) differ, first at row 3 column 2: '4' vs '5'"
    )
    write_xlsx({"汇总": df}, tmp_path / "a.xlsx", titles={"汇总": "标题"})
    write_xlsx({"汇总": df}, tmp_path / "b.xlsx", titles={"汇总": "另一个标题"})
    write_xlsx({"明细": df}, tmp_path / "c.xlsx", titles={"明细": "标题"})
    assert (
        verify.compare_tables(tmp_path / "a.xlsx", tmp_path / "b.xlsx")
        == "sheet '汇总': 1 cell(s) differ, first at row 1 column 1: '标题' vs '另一个标题'"
    )
    assert verify.compare_tables(tmp_path / "a.xlsx", tmp_path / "c.xlsx").startswith(
        "sheets differ"
    )


def test_side_by_side_notebooks_run_in_the_run_folder_and_leave_cwd_alone(tmp_path, monkeypatch):
    # papermill's cwd= changes the whole process's directory; with two notebooks at once the
    # process could be left in a run folder and later relative paths would break.
    books = []
    for name, pause in (("a_first", 1.5), ("b_second", 0.2)):
        nb = make_notebook(
            tmp_path / f"{name}.ipynb",
            'params_file: str = "p.yaml"  # 参数文件\nout_dir: str = "o"  # 输出目录',
        )
        book = nbformat.read(str(nb), as_version=4)
        code = (
            "import os, time, pathlib\n"
            f"time.sleep({pause})\n"
            f"pathlib.Path(out_dir, '{name}.txt').write_text(os.getcwd())"
        )
        book.cells.append(nbformat.v4.new_code_cell(code))
        book.cells[-1].id = "w"
        book.metadata["kernelspec"] = {"name": "python3", "language": "python"}
        nbformat.write(book, str(nb))
        books.append(nb)
    # Whether a race shows depends on timing, so the test asserts the cause: nothing moves the
    # process anywhere else (papermill's file handler re-enters the current folder, harmless).
    moves: list[str] = []
    real_chdir = os.chdir
    monkeypatch.setattr(os, "chdir", lambda path: (moves.append(str(path)), real_chdir(path)))
    before = Path.cwd()
    out = tmp_path / "run"
    result = runner.run_notebooks(books, PARAMS, out, html=False, workers=2)
    assert result.ok
    assert Path.cwd() == before and set(moves) <= {str(before)}
    for name in ("a_first", "b_second"):
        assert Path((out / f"{name}.txt").read_text()) == out.resolve()


def test_side_by_side_the_pre_steps_take_one_worker_and_kernels_share_the_cores(
    tmp_path, monkeypatch
):
    """With two workers the first notebook starts while the pre-step still runs, every kernel
    runs with one BLAS thread (recorded in provenance; the environment is restored after), and
    a failing pre-step fails the run after the notebooks."""
    import time

    marks: dict[str, float] = {}

    def slow_step(params, out):
        marks["step_start"] = time.time()
        time.sleep(4.0)
        marks["step_end"] = time.time()

    monkeypatch.setitem(runner.PRE_STEPS, "slow", slow_step)
    nb = make_notebook(
        tmp_path / "a.ipynb",
        'params_file: str = "p.yaml"  # 参数文件\nout_dir: str = "o"  # 输出目录',
    )
    book = nbformat.read(str(nb), as_version=4)
    book.cells.append(
        nbformat.v4.new_code_cell(
            "import os, time, pathlib\n"
            "pathlib.Path(out_dir, 'a.txt').write_text("
            "f\"{time.time()} {os.environ.get('OPENBLAS_NUM_THREADS')}\")"
        )
    )
    book.cells[-1].id = "w"
    book.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    nbformat.write(book, str(nb))
    out = tmp_path / "run"
    env_before = {k: os.environ.get(k) for k in runner._THREAD_VARS}
    result = runner.run_notebooks([nb], PARAMS, out, html=False, workers=2, pre_steps=["slow"])
    assert result.ok
    started, threads = (out / "a.txt").read_text().split()
    assert float(started) < marks["step_end"]  # the notebook ran while the pre-step did
    expected = 1  # one BLAS thread per kernel, whatever the core count
    assert threads == str(expected)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["options"]["blas_threads"] == expected
    assert {k: os.environ.get(k) for k in runner._THREAD_VARS} == env_before  # restored

    def failing(params, out):
        raise InputError("预备步骤失败")

    monkeypatch.setitem(runner.PRE_STEPS, "failing", failing)
    with pytest.raises(InputError, match="预备步骤失败"):
        runner.run_notebooks(
            [nb], PARAMS, tmp_path / "run2", html=False, workers=2, pre_steps=["failing"]
        )
    prov = json.loads((tmp_path / "run2" / "provenance.json").read_text(encoding="utf-8"))
    assert prov["status"] == "failed"
