"""The public API: every name in ``samplekit.__all__`` resolves, and the package imports fast."""

from __future__ import annotations

import subprocess
import sys

import samplekit


def test_every_public_name_resolves():
    for name in samplekit.__all__:
        assert getattr(samplekit, name) is not None, name


def test_no_public_name_shadows_a_submodule():
    """``from samplekit import monthly_tables`` must give the module, never a function."""
    from pathlib import Path

    package = Path(samplekit.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} | {
        p.name for p in package.iterdir() if (p / "__init__.py").exists()
    }
    assert not (set(samplekit.__all__) - set(samplekit._MODULES)) & modules


def test_importing_the_package_does_not_import_the_domain_modules():
    code = "import sys, samplekit; print('samplekit.estimation' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _imports(path):
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            if node.module == "samplekit":
                for a in node.names:
                    yield node.lineno, f"samplekit.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name


def test_no_domain_module_imports_the_demo_or_the_job_layer():
    """Domain → demo imports: zero. Only the job layer chooses the demo; domain modules never
    call the job layer (``params`` calls ``jobs.validate`` when a file loads, by design)."""
    from pathlib import Path

    package = Path(samplekit.__file__).parent
    edges = {
        "jobs.py",
        "cache.py",
        "notebook.py",
        "runner.py",
        "verify.py",
        "__init__.py",
        "params.py",
    }
    demo, job = [], []
    for path in sorted(package.glob("*.py")):
        for line, module in _imports(path):
            if module.startswith("samplekit.demo") and path.name != "jobs.py":
                demo.append(f"{path.name}:{line}")
            if module.startswith("samplekit.jobs") and path.name not in edges:
                job.append(f"{path.name}:{line}")
    assert demo == [] and job == []
