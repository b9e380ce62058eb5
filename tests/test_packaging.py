"""The project's install files agree: environment.yml installs exactly what pyproject lists."""

from __future__ import annotations

import tomllib

import yaml

from samplekit.paths import project_root

ROOT = project_root()


def test_environment_yml_installs_the_project_with_dev_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["requires-python"] == ">=3.11"
    pip = [d for d in deps if isinstance(d, dict)][0]["pip"]
    # Dependencies are listed once, in pyproject.toml: conda users install the same set from it.
    assert pip == ['-e ".[dev]"'] or pip == ["-e .[dev]"]
    conda_pkgs = {d.split("=")[0] for d in deps if isinstance(d, str)}
    assert conda_pkgs == {"python", "pip"}, "list packages in pyproject.toml, not here"


def test_core_packages_the_user_fixed_are_dependencies():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = (
        pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["dev"]
    )
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in deps}
    for core in (
        "jupyterlab",
        "pandas",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "papermill",
        "nbval",
        "statsmodels",
        "duckdb",
        "openpyxl",
        "mplfonts",
    ):
        assert core in names, core
    assert pyproject["project"]["scripts"]["samplekit"] == "samplekit.cli:main"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = readme.split("```")
    commands = [b.strip().removeprefix("bash").strip() for b in blocks[1::2]]
    test_command = commands[1]
    assert test_command in ci
    assert "pytest" in test_command
