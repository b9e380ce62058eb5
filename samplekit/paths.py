"""Where things are: the project root, reference data, demo data, reports and caches.

Notebooks never rely on relative paths (papermill runs in the launching directory, nbval in the
notebook's); everything is resolved from here.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The repository root (the folder holding ``pyproject.toml`` and ``data/``).

    ``SAMPLEKIT_ROOT`` overrides it, for an installed package used outside the repository.
    """
    env = os.environ.get("SAMPLEKIT_ROOT")
    if env:
        return Path(env).resolve()
    return PACKAGE_DIR.parent


def reference_dir() -> Path:
    return project_root() / "data" / "reference"


def demo_dir() -> Path:
    return project_root() / "data" / "demo"


def cache_dir() -> Path:
    """Git-ignored cache for regenerated demo data (frame, history).

    ``SAMPLEKIT_CACHE_DIR`` names another folder (``benchmarks/demo.py`` times a cold demo in
    an empty one; notebook kernels inherit it).
    """
    env = os.environ.get("SAMPLEKIT_CACHE_DIR")
    path = Path(env) if env else demo_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def params_dir() -> Path:
    return project_root() / "params"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def reports_dir() -> Path:
    return project_root() / "reports"


def resolve(path: str | os.PathLike[str], base: Path | None = None) -> Path:
    """Resolve ``path`` against ``base`` (default: the project root) unless it is absolute."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return ((base or project_root()) / p).resolve()
