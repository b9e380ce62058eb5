"""Set-up for notebooks: validate injected parameters, register the CJK font, resolve paths.

Called from the cell right after the ``parameters`` cell, so a wrong parameter fails there with a
clear message instead of deep inside an analysis.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samplekit.params import Params, load_params
from samplekit.paths import resolve


@dataclass(frozen=True)
class NotebookContext:
    """What a notebook needs: the validated params and its output folder."""

    params: Params
    out_dir: Path

    def output(self, name: str) -> Path:
        """Path of an output file inside ``out_dir`` (folders created)."""
        path = self.out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def setup(params_file: str, out_dir: str, *, subdir: str | None = None, **overrides: Any
          ) -> NotebookContext:
    """Validate the notebook's parameters and prepare plotting.

    Parameters
    ----------
    params_file : str
        The params YAML (relative paths resolve against the project root).
    out_dir : str
        The run's output folder (``samplekit run`` gives every notebook the same one).
    subdir : str, optional
        This notebook's folder inside ``out_dir`` (e.g. ``"monthly"``), so a run's outputs are
        grouped by step.
    **overrides
        Notebook parameters that override top-level params keys (``period``, ``quarter``).

    Returns
    -------
    NotebookContext
    """
    from samplekit.plotting import setup_fonts

    params = load_params(params_file, **overrides)
    setup_fonts()
    # Third-party chatter (statsmodels convergence notes, pandas future notes) is not for readers.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    out = resolve(out_dir) / subdir if subdir else resolve(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return NotebookContext(params=params, out_dir=out)
