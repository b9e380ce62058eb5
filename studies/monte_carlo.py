"""Monte Carlo study of the design-based estimators (samplekit.estimation, samplekit.climate).

On the demo register (``samplekit.jobs.inputs(params)``) every enterprise gets a simulated
month of employment change — so the population value of each indicator is known — and then,
replicate after replicate:

1. a stratified sample is drawn (strata = city × section × size_class × ownership), by
   ``samplekit.selection.select_sample`` with a new PRN seed each time — with the register's
   legacy panel retained in every replicate (``--panel legacy``, the production case: the
   purposive 3000 kept, the rest of each cell drawn by PRN) or without it (``--panel none``, a
   pure stratified SRS) — weights calibrated by the selection step; or by a plain numpy
   stratified SRS (``--selector numpy``);
2. reports are simulated: each sampled enterprise responds with probability ``--response-rate``
   (missing at random) and reports its simulated baseline, survey employment, reductions and
   first-ranked reason;
3. the estimators run on the reports (calibration-aware SE with ``--variance calibrated``, t
   intervals with design df or ``--df satterthwaite``, logit for shares, log for totals);
   estimates and 95% CIs are
   compared with the truth, for the province and **every** city (the small-domain threshold is
   read off the city rows: :func:`small_domain_threshold`).

Printed per domain and indicator: the truth, the mean estimate, the relative bias
``(mean − truth)/|truth|`` with its Monte Carlo standard error, the empirical coverage of the 95% CI, and the ratio of the mean
estimated SE to the empirical SD of the estimates. Run::

    python studies/monte_carlo.py --replicates 1000

The design (allocation) is fixed across replicates: ``--sample-size`` places are allocated to
the non-micro cells proportionally to frame employment, with at least 2 places per cell having
at least 2 units (micro enterprises are excluded, as the ministry's rules say); with the legacy
panel (``--allocation panel``, default) its members keep their places on top and the rest go
to each cell's non-panel units by their employment (``allocation.panel_targets: on_top``;
``--allocation proportional`` is the design before issue 10). See docs/estimation.md for the
results and their reading.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from samplekit.climate import _SPECS as CLIMATE_SPECS
from samplekit.estimation import (
    REDUCTION_COLUMNS,
    STRATUM_COLUMNS,
    CalibrationModel,
    DegreesOfFreedom,
    Variance,
    build_units,
    indicator_specs,
    linearised_estimates,
)
from samplekit.params import load_params

PERIOD = "2013-12"
STUDIED = [
    "baseline_employment",
    "net_change_rate",
    "job_loss_rate",
    "share_reducing",
    "climate_index",
]
Selector = Literal["selection", "numpy"]
Panel = Literal["legacy", "none"]
Allocation = Literal["panel", "proportional"]
RATES = ["net_change_rate", "job_loss_rate", "share_reducing", "climate_index"]


# ------------------------------------------------------------------------------ population
def simulate_population(
    frame: pd.DataFrame,
    rng: np.random.Generator | int | None = None,
    *,
    closure_rate: float = 0.004,
) -> pd.DataFrame:
    """One simulated month for every active enterprise of the register.

    Each enterprise falls (probability ≈ 0.35, higher in manufacturing and in a few "shocked"
    cities), rises (≈ 0.30) or stays unchanged (more often for small firms); falls are Beta-
    distributed fractions of the baseline, ``closure_rate`` (0.4%) of enterprises close (all staff reduced,
    type closure). Reductions go to one type and the first-ranked reason is drawn from sector-
    specific probabilities. Returns the register's strata columns plus the report columns.
    """
    rng = np.random.default_rng(rng)
    active = frame["status"].astype(str).to_numpy() == "active"
    keep = ["enterprise_id", *STRATUM_COLUMNS, "employees"] + [
        c for c in ("in_panel",) if c in frame.columns
    ]
    pop = frame.loc[active, keep].reset_index(drop=True)
    for col in STRATUM_COLUMNS:  # categoricals make the selection's cell look-up fast
        pop[col] = pop[col].astype("category")
    n = len(pop)
    # The register is a year or two old: this month's baseline differs from register employees
    # (which drive selection and calibration) by a log-normal factor.
    register = np.maximum(pop["employees"].to_numpy(float), 1.0)
    x = np.maximum(1.0, np.round(register * np.exp(rng.normal(0.0, 0.25, n))))
    cities = np.sort(pop["city"].unique())
    city_shock = dict(zip(cities, rng.normal(0.0, 0.06, len(cities)), strict=True))
    manufacturing = pop["section"].to_numpy() == "C"
    small = np.isin(pop["size_class"].to_numpy(), ["small", "micro"])
    logit_fall = -0.62 + 0.35 * manufacturing + 4.0 * pop["city"].map(city_shock).to_numpy()
    p_fall = 1 / (1 + np.exp(-logit_fall))
    p_same = np.where(small, 0.40, 0.20) * (1 - p_fall)
    u = rng.random(n)
    falling = u < p_fall
    rising = u >= p_fall + p_same
    frac_fall = rng.beta(1.3, 14.0, n)
    frac_rise = rng.beta(1.3, 22.0, n)
    reduced = np.where(falling, np.minimum(x, np.maximum(1.0, np.round(x * frac_fall))), 0.0)
    closed = rng.random(n) < closure_rate
    reduced = np.where(closed, x, reduced)
    gained = np.where(rising & ~closed, np.maximum(1.0, np.round(x * frac_rise)), 0.0)
    y = x - reduced + gained
    kinds = np.array([1, 2, 3, 4])  # suspension, layoff, relocation, other (closure = 0)
    kind = np.where(closed, 0, rng.choice(kinds, n, p=[0.10, 0.30, 0.08, 0.52]))
    pop["baseline_employment"] = x
    pop["survey_employment"] = y
    for j, col in enumerate(REDUCTION_COLUMNS):
        pop[col] = np.where(kind == j, reduced, 0.0)
    reasons_mfg = np.array([0.10, 0.04, 0.06, 0.34, 0.06, 0.14, 0.04, 0.08, 0.02, 0.06, 0.06])
    reasons_other = np.array([0.08, 0.02, 0.02, 0.20, 0.04, 0.18, 0.06, 0.12, 0.02, 0.14, 0.12])
    draw_m = rng.choice(np.arange(1, 12), n, p=reasons_mfg)
    draw_o = rng.choice(np.arange(1, 12), n, p=reasons_other)
    reason = np.where(manufacturing, draw_m, draw_o).astype(float)
    pop["reason_1"] = np.where(reduced > 0, reason, np.nan)
    pop["reason_2"] = np.nan
    pop["reason_3"] = np.nan
    pop["period"] = PERIOD
    return pop


def design_cells(
    pop: pd.DataFrame,
    sample_size: int = 10_000,
    min_per_cell: int = 2,
    *,
    allocation: Allocation = "proportional",
) -> pd.DataFrame:
    """Allocation cells: non-micro cells, places ∝ frame employment, ≥ ``min_per_cell``.

    ``allocation="panel"``: the legacy panel (``pop["in_panel"]``) is a take-all stratum of
    its own and keeps its ``R_h`` places on top; the remaining ``sample_size − ΣR_h`` places
    go to the fresh part of each cell in proportion to the employment of its ``N_h − R_h``
    non-panel units, at least ``min(min_per_cell, N_h − R_h)`` each — so the fresh group of a
    cell is as large as it would be in a design without the panel, and never empty.
    """
    scope = pop[pop["size_class"] != "micro"]
    in_panel = (
        scope["in_panel"].to_numpy(bool)
        if allocation == "panel" and "in_panel" in scope
        else np.zeros(len(scope), dtype=bool)
    )
    emp = scope["baseline_employment"].to_numpy(float)
    cells = (
        scope.assign(_r=in_panel.astype(np.int64), _rest=np.where(in_panel, 0.0, emp))
        .groupby(STRATUM_COLUMNS, observed=True)
        .agg(
            frame_units=("enterprise_id", "size"),
            frame_employment=("baseline_employment", "sum"),
            _r=("_r", "sum"),
            _rest=("_rest", "sum"),
        )
        .reset_index()
    )
    r = cells.pop("_r").to_numpy()
    rest_emp = cells.pop("_rest").to_numpy()
    others = cells["frame_units"].to_numpy() - r
    floor = np.minimum(others, min_per_cell)
    rest = max(sample_size - int(r.sum()) - int(floor.sum()), 0)
    share = rest_emp / rest_emp.sum()
    extra = np.floor(share * rest)
    # largest remainders, deterministic
    left = int(rest - extra.sum())
    order = np.argsort(-(share * rest - extra), kind="stable")[:left]
    extra[order] += 1
    n = r + np.minimum(floor + extra, others)
    cells["n"] = n.astype(np.int64)
    cells["n_monthly"] = 0
    return cells[cells["n"] > 0].reset_index(drop=True)


def population_truth(pop: pd.DataFrame, cells: pd.DataFrame, cities: Sequence[str]) -> pd.DataFrame:
    """Population values of the studied indicators, province and ``cities``."""
    scope = pop.merge(cells[STRATUM_COLUMNS], on=STRATUM_COLUMNS)
    x = scope["baseline_employment"]
    y = scope["survey_employment"]
    red = scope[REDUCTION_COLUMNS].sum(axis=1)
    frame = pd.DataFrame(
        {
            "domain": scope["city"],
            "x": x,
            "y": y,
            "red": red,
            "fall": (y < x).astype(float),
            "climate": (y > x) + 0.5 * (y == x),
            "one": 1.0,
        }
    )
    rows = []
    for name, part in [("全省", frame), *[(c, frame[frame["domain"] == c]) for c in cities]]:
        s = part[["x", "y", "red", "fall", "climate", "one"]].sum()
        rows += [
            (name, "baseline_employment", s["x"]),
            (name, "net_change_rate", 100 * (s["y"] - s["x"]) / s["x"]),
            (name, "job_loss_rate", 100 * s["red"] / s["x"]),
            (name, "share_reducing", 100 * s["fall"] / s["one"]),
            (name, "climate_index", 100 * s["climate"] / s["one"]),
        ]
    return pd.DataFrame(rows, columns=["domain", "indicator", "truth"])


# ------------------------------------------------------------------------------ replicates
def draw_sample(
    pop: pd.DataFrame,
    cells: pd.DataFrame,
    rng: np.random.Generator,
    *,
    selector: Selector = "selection",
    panel: Panel = "none",
    min_fresh: int = 2,
) -> pd.DataFrame:
    """One stratified sample of the allocation ``cells`` from the simulated population
    (``panel="legacy"``: the register's ``in_panel`` members are retained, and every cell
    holding them gets at least ``min_fresh`` fresh units: ``SelectionSettings.min_fresh``)."""
    if selector == "selection":
        from samplekit.selection import SelectionSettings, select_sample

        legacy = (
            pop["in_panel"].to_numpy(bool) if panel == "legacy" and "in_panel" in pop else False
        )
        frame = pop[["enterprise_id", *STRATUM_COLUMNS, "employees"]].assign(
            name="", status="active", in_panel=legacy, in_monthly=False
        )
        seed = int(rng.integers(1, 2**31 - 1))
        settings = SelectionSettings(seed=seed, min_fresh=min_fresh)
        return select_sample(frame, cells, settings).sample
    # plain stratified SRS: random order within each cell, first n_h
    keyed = pop[["enterprise_id", *STRATUM_COLUMNS]].merge(
        cells[[*STRATUM_COLUMNS, "n", "frame_units"]], on=STRATUM_COLUMNS
    )
    cell_id = keyed.groupby(STRATUM_COLUMNS, observed=True, sort=False).ngroup().to_numpy()
    order = np.lexsort((rng.random(len(keyed)), cell_id))
    counts = np.bincount(cell_id)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(keyed), dtype=np.int64)
    rank[order] = np.arange(len(keyed)) - starts[cell_id[order]]
    sample = keyed[rank < keyed["n"].to_numpy()].reset_index(drop=True)
    w = sample["frame_units"] / sample["n"]
    return sample.assign(
        weight=w, calibrated_weight=w, cell_frame_units=sample["frame_units"], cell_n=sample["n"]
    )


def simulate_reports(
    pop: pd.DataFrame,
    sample: pd.DataFrame,
    rng: np.random.Generator,
    *,
    response_rate: float = 0.95,
) -> pd.DataFrame:
    """Reports of the responding sampled enterprises (response missing at random)."""
    responding = sample["enterprise_id"][rng.random(len(sample)) < response_rate]
    cols = [
        "enterprise_id",
        "period",
        "baseline_employment",
        "survey_employment",
        *REDUCTION_COLUMNS,
        "reason_1",
        "reason_2",
        "reason_3",
    ]
    return pd.DataFrame({"enterprise_id": responding.to_numpy()}).merge(
        pop[cols], on="enterprise_id", how="inner"
    )


def run(
    params_file: str = "params/guangdong_2013.yaml",
    *,
    replicates: int = 1000,
    seed: int = 20131231,
    sample_size: int = 10_000,
    response_rate: float = 0.95,
    selector: Selector = "selection",
    weight: str = "calibrated_weight",
    n_cities: int = 3,
    closure_rate: float = 0.004,
    progress: bool = False,
    panel: Panel = "none",
    variance: Variance = "design",
    all_cities: bool = False,
    min_fresh: int = 2,
    allocation: Allocation = "panel",
    dof: DegreesOfFreedom = "design",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the study; returns (summary, per-replicate results).

    The summary has one row per domain and indicator: ``truth, mean_estimate, rel_bias_pct,
    coverage_pct, se_ratio`` (mean SE / empirical SD) and ``replicates``. Domains: the
    province and ``n_cities`` cities spread by sample size (largest … smallest), or with
    ``all_cities`` every city (ordered by sample size, largest first).
    """
    from samplekit.jobs import inputs as load_inputs

    rng = np.random.default_rng(seed)
    _, frame = load_inputs(load_params(params_file))
    pop = simulate_population(frame, rng, closure_rate=closure_rate)
    # the panel-aware allocation only makes sense when the panel is retained
    cells = design_cells(
        pop, sample_size, allocation=allocation if panel == "legacy" else "proportional"
    )
    # a large, a middle and a small city by sample size
    by_city = cells.groupby("city")["n"].sum().sort_values(ascending=False, kind="stable")
    picks = by_city.index[np.linspace(0, len(by_city) - 1, n_cities).round().astype(int)]
    cities = list(by_city.index) if all_cities else list(dict.fromkeys(picks))
    truth = population_truth(pop, cells, cities)
    specs = [s for s in indicator_specs() if s.name in STUDIED] + [
        s for s in CLIMATE_SPECS if s.name in STUDIED
    ]
    results = []
    calibrated = variance == "calibrated" and selector == "selection"
    model = CalibrationModel() if calibrated else None
    for r in range(replicates):
        sample = draw_sample(pop, cells, rng, selector=selector, panel=panel, min_fresh=min_fresh)
        reports = simulate_reports(pop, sample, rng, response_rate=response_rate)
        units = build_units(
            reports,
            sample,
            periods=PERIOD,
            by=["city"],
            weight=weight,
            design_weight="weight" if calibrated else None,
        )
        prov = linearised_estimates(units, specs, calibration=model, dof=dof).assign(domain="全省")
        # the calibration residuals need every unit: estimate all cities, keep the studied ones
        city = linearised_estimates(units, specs, by=["city"], calibration=model, dof=dof)
        city = city[city["city"].isin(cities)].rename(columns={"city": "domain"})
        results.append(pd.concat([prov, city], ignore_index=True).assign(replicate=r))
        if progress and (r + 1) % 50 == 0:
            print(f"  {r + 1}/{replicates} replicates", file=sys.stderr, flush=True)
    res = pd.concat(results, ignore_index=True)[
        ["replicate", "domain", "indicator", "estimate", "se", "ci_low", "ci_high", "n_reporters"]
    ]
    res = res.merge(truth, on=["domain", "indicator"])
    res["covered"] = (res["ci_low"] <= res["truth"]) & (res["truth"] <= res["ci_high"])
    summary = (
        res.groupby(["domain", "indicator"], sort=False)
        .agg(
            truth=("truth", "first"),
            mean_estimate=("estimate", "mean"),
            sd_estimate=("estimate", "std"),
            mean_se=("se", "mean"),
            coverage=("covered", "mean"),
            mean_reporters=("n_reporters", "mean"),
            replicates=("replicate", "nunique"),
        )
        .reset_index()
    )
    summary["rel_bias_pct"] = (
        100 * (summary["mean_estimate"] - summary["truth"]) / summary["truth"].abs()
    )
    # Monte Carlo standard error of the relative bias: how much of it is simulation noise
    summary["rel_bias_mc_se"] = (
        100 * summary["sd_estimate"] / np.sqrt(summary["replicates"]) / summary["truth"].abs()
    )
    summary["coverage_pct"] = 100 * summary["coverage"]
    summary["se_ratio"] = summary["mean_se"] / summary["sd_estimate"]
    order = {d: i for i, d in enumerate(["全省", *cities])}
    summary = summary.assign(
        _d=summary["domain"].map(order),
        _i=summary["indicator"].map({k: i for i, k in enumerate(STUDIED)}),
    )
    summary = summary.sort_values(["_d", "_i"]).drop(columns=["_d", "_i"]).reset_index(drop=True)
    return summary[
        [
            "domain",
            "indicator",
            "truth",
            "mean_estimate",
            "rel_bias_pct",
            "rel_bias_mc_se",
            "coverage_pct",
            "se_ratio",
            "mean_reporters",
            "replicates",
        ]
    ], res


def small_domain_threshold(
    summary: pd.DataFrame, *, floor: float = 93.0, indicators: Sequence[str] = tuple(RATES)
) -> int:
    """Reporters below which a city's 95% intervals cover less than ``floor`` %.

    The smallest reporter count R such that every city with at least R mean reporters covers
    ≥ ``floor`` % for every rate in ``indicators``: one more than the mean reporters of the
    largest city that fails (rounded up to a multiple of 10); 0 when none fails.
    """
    city = summary[(summary["domain"] != "全省") & summary["indicator"].isin(indicators)]
    worst = city.groupby("domain").agg(
        coverage=("coverage_pct", "min"), reporters=("mean_reporters", "mean")
    )
    failing = worst[worst["coverage"] < floor]
    if failing.empty:
        return 0
    return int(np.ceil((failing["reporters"].max() + 1) / 10.0) * 10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params/guangdong_2013.yaml")
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20131231)
    parser.add_argument("--sample-size", type=int, default=10_000)
    parser.add_argument("--response-rate", type=float, default=0.95)
    parser.add_argument("--selector", choices=["selection", "numpy"], default="selection")
    parser.add_argument("--weight", default="calibrated_weight")
    parser.add_argument(
        "--closure-rate",
        type=float,
        default=0.004,
        help="share of enterprises closing in the simulated month",
    )
    parser.add_argument(
        "--panel",
        choices=["legacy", "none"],
        default="legacy",
        help="retain the register's legacy panel in every replicate",
    )
    parser.add_argument("--variance", choices=["calibrated", "design"], default="calibrated")
    parser.add_argument(
        "--df",
        choices=["design", "satterthwaite"],
        default="design",
        help="degrees of freedom of the t intervals",
    )
    parser.add_argument(
        "--allocation",
        choices=["panel", "proportional"],
        default="panel",
        help="panel: the legacy panel on top, the rest ∝ the non-panel employment of each cell",
    )
    parser.add_argument(
        "--min-fresh",
        type=int,
        default=2,
        help="fresh units drawn at least in a cell holding legacy members (0: none)",
    )
    parser.add_argument(
        "--all-cities", action="store_true", help="every city (for the small-domain threshold)"
    )
    parser.add_argument("--out", default=None, help="optional CSV for the summary")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    summary, _ = run(
        args.params,
        replicates=args.replicates,
        seed=args.seed,
        sample_size=args.sample_size,
        response_rate=args.response_rate,
        selector=args.selector,
        weight=args.weight,
        closure_rate=args.closure_rate,
        progress=True,
        panel=args.panel,
        variance=args.variance,
        all_cities=args.all_cities,
        min_fresh=args.min_fresh,
        allocation=args.allocation,
        dof=args.df,
    )
    elapsed = time.perf_counter() - start
    with pd.option_context(
        "display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4f}".format
    ):
        print(summary.to_string(index=False))
    if args.out:
        from samplekit.io import write_csv

        write_csv(summary, args.out)
    worst_cov = summary.loc[summary["indicator"] != "baseline_employment", "coverage_pct"]
    print(
        f"replicates={args.replicates} selector={args.selector} weight={args.weight} "
        f"coverage range {worst_cov.min():.1f}–{worst_cov.max():.1f}% "
        f"max |rel bias| {summary['rel_bias_pct'].abs().max():.3f}% "
        f"time {elapsed:.0f}s ({elapsed / args.replicates:.2f}s/replicate)"
    )
    if args.all_cities:
        print(
            f"small-domain threshold (coverage < 93% below): "
            f"{small_domain_threshold(summary)} reporters"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
