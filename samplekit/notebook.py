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


def setup(
    params_file: str, out_dir: str, *, subdir: str | None = None, **overrides: Any
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
    quiet_third_party_warnings()
    out = resolve(out_dir) / subdir if subdir else resolve(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return NotebookContext(params=params, out_dir=out)


def quiet_third_party_warnings() -> None:
    """Silence third-party noise by category; samplekit's own warnings always reach the reader.

    Library deprecation and future notes (pandas, numpy, nbclient …) and statsmodels' model-fit
    notes (convergence, frequency inference) are for developers, not for a report. Everything
    else, and every :class:`~samplekit.errors.SamplekitWarning`, is shown.
    """
    from samplekit.errors import SamplekitWarning

    for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    try:
        from statsmodels.tools import sm_exceptions as sm
    except ImportError:  # pragma: no cover - statsmodels is a dependency
        sm = None
    if sm is not None:
        for name in (
            "ConvergenceWarning",
            "ValueWarning",
            "EstimationWarning",
            "HessianInversionWarning",
            "ModelWarning",
        ):
            category = getattr(sm, name, None)
            if category is not None:
                warnings.filterwarnings("ignore", category=category)
    warnings.simplefilter("always", SamplekitWarning)
