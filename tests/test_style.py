"""House habits checked in CI: ``ruff check`` and ``ruff format --check`` clean on the tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from samplekit.paths import project_root


def _ruff() -> str:
    local = Path(sys.executable).parent / "ruff"
    found = str(local) if local.exists() else shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: pip install -e '.[dev]' installs it")
    return found


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(command):
    done = subprocess.run([_ruff(), *command], cwd=project_root(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
