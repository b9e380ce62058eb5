"""The embedded demo province (Guangdong 2013): its generators and nothing else.

The demo is an input like any other: the job layer (:mod:`samplekit.jobs`) chooses it when a params
path is null, and no domain module imports this package. Everything generated here is synthetic and
labelled as such wherever it appears (``docs/demo_province.md``).

* :mod:`samplekit.demo.province` — the city table (real existing-panel counts and GDP, synthetic
  other columns) and the seeded register;
* :mod:`samplekit.demo.history` — the monthly history of the panel, its files (both layouts, with
  errors and a resubmission) and the demo store;
* :mod:`samplekit.demo.indicators` — the city indicators table (registered unemployment, UI fund…)
  and the macro series (export growth);
* :mod:`samplekit.demo.synthetic` — stand-in panels and registers for tests and benchmarks.
"""

from samplekit.demo.history import (
    ERROR_PERIODS,
    RESUBMITTED_PERIOD,
    SPRING_FESTIVAL,
    HistorySettings,
    ShockSettings,
    build_demo_store,
    demo_panel,
    individual_units,
    seasonal_profile,
    simulate_history,
    write_history_files,
)
from samplekit.demo.indicators import demo_city_indicators, demo_macro_indicators
from samplekit.demo.province import (
    CITY_CODES,
    DEMO_SYNTHETIC,
    EXPORT_CITIES,
    PRD,
    build_demo_cities,
    demo_cities,
    demo_cities_path,
    generate_register,
    write_demo_cities,
)
from samplekit.demo.synthetic import synthetic_panel

__all__ = [
    "CITY_CODES",
    "DEMO_SYNTHETIC",
    "ERROR_PERIODS",
    "EXPORT_CITIES",
    "PRD",
    "RESUBMITTED_PERIOD",
    "SPRING_FESTIVAL",
    "HistorySettings",
    "ShockSettings",
    "build_demo_cities",
    "build_demo_store",
    "demo_panel",
    "demo_cities",
    "demo_cities_path",
    "demo_city_indicators",
    "demo_macro_indicators",
    "generate_register",
    "individual_units",
    "seasonal_profile",
    "simulate_history",
    "synthetic_panel",
    "write_demo_cities",
    "write_history_files",
]
