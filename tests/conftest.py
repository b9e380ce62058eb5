"""Shared test set-up: the package's own warnings are errors (pyproject filterwarnings)."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
