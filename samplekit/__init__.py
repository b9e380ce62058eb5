"""samplekit: sample design, panel maintenance, monthly monitoring and unemployment early warning.

A workbench for the statisticians of a provincial human-resources and social-security department
(see ``docs/`` and ``../shared/DOMAIN.md`` for the rules it implements).

The public API is re-exported here and loaded on first use (``import samplekit`` stays fast for
the command line): the job layer (:mod:`samplekit.jobs`: a params file in, inputs and results
out), the params loader, and the pure functions of each step.

Examples
--------
>>> import samplekit as sk
>>> params = sk.load_params()  # doctest: +SKIP
>>> result = sk.jobs.warning(params, "2013Q4")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # params, errors and the job layer
    "load_params": "samplekit.params",
    "load_optional_params": "samplekit.params",
    "Params": "samplekit.params",
    "SamplekitError": "samplekit.errors",
    "ParamsError": "samplekit.errors",
    "InputError": "samplekit.errors",
    "ValidationError": "samplekit.errors",
    "InfeasibleError": "samplekit.errors",
    "SamplekitWarning": "samplekit.errors",
    # register and cities
    "load_frame": "samplekit.frame",
    "load_cities": "samplekit.cities",
    "classify": "samplekit.classification",
    # allocation and selection
    "AllocationSettings": "samplekit.allocation",
    "allocate": "samplekit.allocation",
    "SelectionSettings": "samplekit.selection",
    "select_sample": "samplekit.selection",
    "prn": "samplekit.selection",
    "calibrate": "samplekit.calibration",
    "MaintenanceSettings": "samplekit.maintenance",
    "maintain": "samplekit.maintenance",
    "MassLayoffRule": "samplekit.rules",
    "EligibilityRule": "samplekit.rules",
    # the store: panel of record and reports
    "write_window": "samplekit.store",
    "panel_in_force": "samplekit.store",
    "read_membership": "samplekit.store",
    "ingest_file": "samplekit.store",
    "ingest_files": "samplekit.store",
    "read_reports": "samplekit.store",
    "read_report_file": "samplekit.reports",
    "validate_reports": "samplekit.reports",
    # monthly tables, estimation, warning
    "tables_for": "samplekit.monthly_tables",
    "estimate": "samplekit.estimation",
    "monthly_series": "samplekit.estimation",
    "change_between": "samplekit.estimation",
    "climate_index": "samplekit.climate",
    "WarningSettings": "samplekit.warning",
    "compute_warning": "samplekit.warning",
    "write_warning": "samplekit.warning_report",
    "ForecastSettings": "samplekit.forecast",
    "forecast_series": "samplekit.forecast",
    "BacktestRule": "samplekit.backtest",
    "run_backtest": "samplekit.backtest",
    # notebooks and runs
    "run_notebooks": "samplekit.runner",
    "verify_run": "samplekit.verify",
}
#: Submodules reachable as attributes (``samplekit.jobs``).
_MODULES = ("jobs", "store", "documents", "maps", "demo")

__all__ = ["__version__", *_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"samplekit.{name}")
    else:
        raise AttributeError(f"module 'samplekit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
