"""Speed of the warning analysis: forecasts for 22 areas × 3 indicators, and the whole quarter.

Usage: python benchmarks/warning.py [--demo]   (--demo also times `jobs.warning` on the demo params)
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def synthetic_monthly(
    areas: int = 22, indicators: int = 3, months: int = 48, seed: int = 1
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    periods = [str(p) for p in pd.period_range("2010-01", periods=months, freq="M")]
    t = np.arange(months)
    rows = []
    for a in range(areas):
        for k in range(indicators):
            y = (
                1
                + 0.5 * np.sin(2 * np.pi * t / 12 + a)
                + 1.5 * (t % 12 == 1)
                + rng.normal(0, 0.2, months)
            )
            rows.append(
                pd.DataFrame(
                    {"city": f"area{a:02d}", "indicator": f"ind{k}", "period": periods, "value": y}
                )
            )
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", action="store_true")
    args = parser.parse_args()
    from samplekit.forecast import ForecastSettings
    from samplekit.warning import (
        DEFAULT_LEVELS,
        IndicatorDef,
        WarningSettings,
        forecast_indicators,
    )

    monthly = synthetic_monthly()
    inds = tuple(
        IndicatorDef(
            key=f"ind{k}",
            name=f"ind{k}",
            source="city",
            column=f"ind{k}",
            direction="higher_is_worse",
            lines=(3.0, 4.0, 5.0, 6.0),
            core=True,
            aggregate="sum",
        )
        for k in range(3)
    )
    settings = WarningSettings(levels=DEFAULT_LEVELS, indicators=inds)
    fs = ForecastSettings()
    forecast_indicators(monthly.head(96), settings, fs, province="none")  # imports, warm-up
    t0 = time.perf_counter()
    fc, cr, sc = forecast_indicators(monthly, settings, fs, province="none")
    dt = time.perf_counter() - t0
    n = monthly.groupby(["indicator", "city"]).ngroups
    chosen = sc[sc["chosen"] & (sc["horizon"] == 0)]["model"].value_counts().to_dict()
    print(
        f"forecasts: {n} series × 48 months, {len(fs.models)} candidate models, 6 origins, 1000 paths: "
        f"{dt:.1f} s ({1000 * dt / n:.0f} ms per series); chosen {chosen}"
    )
    if args.demo:
        from samplekit.jobs import warning as warning_for
        from samplekit.jobs import warning_inputs as load_warning_inputs
        from samplekit.params import load_params

        params = load_params()
        t0 = time.perf_counter()
        inputs = load_warning_inputs(params)
        t1 = time.perf_counter()
        warning_for(params, "2013Q4", inputs=inputs)
        t2 = time.perf_counter()
        warning_for(params, "2013Q4", inputs=inputs, forecasts=False)
        t3 = time.perf_counter()
        print(f"demo inputs (store, sample, city table; cached): {t1 - t0:.1f} s")
        print(f"demo warning_for 2013Q4 with forecasts: {t2 - t1:.1f} s; without: {t3 - t2:.1f} s")
        out_of_sample(inputs)


def out_of_sample(inputs: dict) -> None:
    """Chosen models vs naive on the demo history: origins 2012-03 … 2013-03 (before the shock),
    forecasts 1–3 months ahead, every city."""
    from samplekit.estimation import monthly_series
    from samplekit.forecast import ForecastSettings, out_of_sample_rmse

    sample = inputs["sample"]
    reports = inputs["reports"]
    reports = reports[reports["enterprise_id"].isin(sample["enterprise_id"])]
    s = ForecastSettings(horizon=3, origins=6, simulations=100, seed=1)
    for indicator in ("job_loss_rate", "net_change_rate"):
        ms = monthly_series(reports, sample, indicator=indicator, by=["city"])
        rm, rn, cases = out_of_sample_rmse(
            ms, s, origins=("2012-03", "2012-06", "2012-09", "2012-12", "2013-03")
        )
        print(
            f"demo out-of-sample {indicator}: RMSE chosen {rm:.3f} vs naive {rn:.3f} "
            f"(ratio {rm / rn:.2f}; {cases} city-origins × 3 months)"
        )


if __name__ == "__main__":
    main()
