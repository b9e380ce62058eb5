"""Employment climate index (用工景气指数): a diffusion index of employment change.

For each domain, the weighted share of enterprises whose employment rose, plus half the weighted
share whose employment did not change: ``100 · Σw(1[y > x] + ½·1[y = x]) / Σw``. 50 is neutral,
above 50 more enterprises hiring than shedding (the convention of China's PMI employment
sub-index). It is a ratio of two weighted totals, so its standard error comes from the same
Taylor linearisation as :func:`samplekit.estimation.estimate` (docs/estimation.md).
"""

from __future__ import annotations

import pandas as pd

from samplekit.estimation import (
    Network,
    Nonresponse,
    OutOfSample,
    Singleton,
    Spec,
    Variance,
    build_units,
    linearised_estimates,
    network_members,
    network_reports,
    resolve_variance,
)

#: Indicators returned by :func:`climate_index`, in output order.
CLIMATE_INDICATORS: list[str] = [
    "climate_index",
    "share_rising",
    "share_unchanged",
    "share_falling",
]

CLIMATE_NAMES_ZH: dict[str, str] = {
    "climate_index": "用工景气指数",
    "share_rising": "增员企业占比(%)",
    "share_unchanged": "持平企业占比(%)",
    "share_falling": "减员企业占比(%)",
}

_SPECS = [
    Spec("climate_index", "climate", "one", 100.0, bounded=True),
    Spec("share_rising", "rising", "one", 100.0, bounded=True),
    Spec("share_unchanged", "unchanged", "one", 100.0, bounded=True),
    Spec("share_falling", "falling", "one", 100.0, bounded=True),
]


def climate_index(
    reports: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    periods: str | list[str],
    by: list[str] | None = None,
    weight: str = "calibrated_weight",
    min_reporters: int = 5,
    level: float = 0.95,
    nonresponse: Nonresponse = "stratum",
    singleton: Singleton = "collapse",
    out_of_sample: OutOfSample = "error",
    network: Network = "province",
    variance: Variance | None = None,
) -> pd.DataFrame:
    """Employment climate index with its standard error, by domain.

    Parameters
    ----------
    reports, periods, by, weight, min_reporters, level, nonresponse, singleton, out_of_sample
        As in :func:`samplekit.estimation.estimate`. For a quarter, an enterprise's change is
        its last month's survey employment against its first month's baseline (members in force
        and reporting in every month only; a closed member counts with employment 0).
    sample : DataFrame
        The membership (panel of record, ``valid_from``/``valid_to``: each period from the
        members in force in it, with that window's weights) or a one-window sample list.
    network : {"province", "ministry"}
        The monitoring network (:func:`samplekit.estimation.network_members`): the province's
        whole panel (default) or the ministry's monthly network.
    variance : {"calibrated", "design"}, optional
        As in :func:`samplekit.estimation.estimate`.

    Returns
    -------
    DataFrame
        ``by…, period, indicator, estimate, se, ci_low, ci_high, df, n_reporters,
        small_domain`` with indicators ``climate_index`` (0–100, 50 neutral), ``share_rising``,
        ``share_unchanged`` and ``share_falling`` (%, summing to 100).

    Examples
    --------
    >>> climate_index(reports, sample, periods="2013Q4", by=["city"])  # doctest: +SKIP
    """
    by = list(by or [])
    reports = network_reports(reports, sample, network=network)
    sample = network_members(sample, network=network)
    design_weight, model = resolve_variance(sample, weight=weight, variance=variance)
    units = build_units(
        reports,
        sample,
        periods=periods,
        by=by,
        weight=weight,
        nonresponse=nonresponse,
        singleton=singleton,
        out_of_sample=out_of_sample,
        design_weight=design_weight,
    )
    return linearised_estimates(
        units,
        _SPECS,
        by=by,
        level=level,
        min_reporters=min_reporters,
        domains=sample[by] if by else None,
        calibration=model,
    )
