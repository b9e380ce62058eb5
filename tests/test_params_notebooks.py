"""Every params file against every notebook's parameters (the papermill/YAML pitfalls).

- every ``params/*.yaml`` loads with ``load_params``;
- every notebook has exactly one ``parameters`` cell of annotated literal assignments, one per
  line, each with a Chinese comment;
- the parameters a notebook declares (``papermill.inspect_notebook``) are ``params_file``,
  ``out_dir`` or top-level params keys, and where a params file holds such a key its value has
  the notebook's declared type;
- the demo params supply every parameter of every notebook (``samplekit demo`` runs them all).

The fixture notebooks of ``tests/fixtures`` are checked too, so these tests always check
something while ``notebooks/`` is being written.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from samplekit import runner
from samplekit.params import TOP_LEVEL_KEYS, load_params
from samplekit.paths import notebooks_dir, params_dir

FIXTURES = Path(__file__).parent / "fixtures"
CJK = re.compile(r"[\u4e00-\u9fff]")
TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool}


def params_files() -> list[Path]:
    return sorted(params_dir().glob("*.yaml"))


def all_notebooks() -> list[Path]:
    return sorted(notebooks_dir().glob("*.ipynb")) + sorted(FIXTURES.glob("*.ipynb"))


def test_every_params_file_loads():
    files = params_files()
    assert params_dir() / "guangdong_2013.yaml" in files
    for path in files:
        params = load_params(path)
        assert set(params.data) <= set(TOP_LEVEL_KEYS), path


def test_each_notebook_has_one_literal_parameters_cell_with_chinese_comments():
    problems = []
    notebooks = all_notebooks()
    assert FIXTURES / "runner_ok.ipynb" in notebooks
    for path in notebooks:
        problems += runner.parameters_cell_problems(path)
        nb = nbformat.read(str(path), as_version=4)
        cells = runner.parameters_cells(nb)
        if len(cells) != 1:
            continue
        for number, line in enumerate(nb.cells[cells[0]].source.splitlines(), start=1):
            code, _, comment = line.partition("#")
            if code.strip() and not CJK.search(comment):
                problems.append(
                    f"{path}: parameters cell line {number} `{line.strip()}` needs a "
                    "Chinese comment saying what it is"
                )
    assert problems == []


def test_declared_parameters_are_params_keys_with_matching_types():
    problems = []
    allowed = set(runner.RUNNER_PARAMETERS) | set(TOP_LEVEL_KEYS)
    declared = {path: runner.notebook_parameters(path) for path in all_notebooks()}
    for path, parameters in declared.items():
        for name in runner.RUNNER_PARAMETERS:
            if name not in parameters:
                problems.append(f"{path}: does not declare '{name}'")
        for name in sorted(set(parameters) - allowed):
            problems.append(f"{path}: declares '{name}', not a params key")
    for params_path in params_files():
        data = load_params(params_path).data
        for path, parameters in declared.items():
            for name, info in parameters.items():
                if name in runner.RUNNER_PARAMETERS or name not in data:
                    continue
                expected = TYPES.get(info["inferred_type_name"])
                value = data[name]
                if expected is None:  # an annotation papermill cannot name: nothing to compare
                    continue
                if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
                    problems.append(
                        f"{params_path}: '{name}' = {value!r} does not fit "
                        f"{path.name}'s `{name}: {info['inferred_type_name']}`"
                    )
    assert problems == []


def test_demo_params_supply_every_notebook(tmp_path):
    demo = load_params(params_dir() / "guangdong_2013.yaml")
    for path in sorted(notebooks_dir().glob("*.ipynb")):
        plan = runner.plan_parameters(path, demo, tmp_path)
        assert plan["params_file"] == str(demo.path.resolve())
        # Re-validate the injected values the way the notebook's set-up cell does.
        load_params(
            plan["params_file"],
            **{k: v for k, v in plan.items() if k not in runner.RUNNER_PARAMETERS},
        )
    # The fixture notebook declares `period`, which the demo params must hold.
    assert runner.plan_parameters(FIXTURES / "runner_ok.ipynb", demo, tmp_path)[
        "period"
    ] == demo.get("period")
