"""Shared test set-up: the package's own warnings are errors (pyproject filterwarnings)."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

# Fixture notebooks (some fail on purpose) are inputs of the runner tests, not notebooks to test.
collect_ignore_glob = ["fixtures/*"]
