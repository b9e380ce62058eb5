"""Shared test set-up: the package's own warnings are errors (pyproject filterwarnings)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Fixture notebooks (some fail on purpose) are inputs of the runner tests, not notebooks to test.
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(autouse=True)
def _working_directory_kept():
    """Fail the test that leaves the process in another folder, not a later one that reads a
    relative path (a run once left CI in a notebook's run folder)."""
    before = Path.cwd()
    yield
    after = Path.cwd()
    if after != before:
        os.chdir(before)
        pytest.fail(f"the test left the working directory at {after} (was {before})")
