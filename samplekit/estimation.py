"""Design-based estimation from the monitoring sample: totals, rates and their standard errors.

The sample is a stratified sample of enterprises (strata = allocation cells: city × section ×
size_class × ownership). Every estimate is a weighted total or a ratio of two weighted totals,
with a standard error by Taylor linearisation for the stratified design:

* totals :math:`\\hat Y = \\sum_{hi} w_{hi} y_{hi}`;
* ratios :math:`\\hat R = \\hat Y / \\hat X` with the linearised variable
  :math:`z_{hi} = (y_{hi} - \\hat R x_{hi}) / \\hat X`;
* variance of a total of :math:`u_{hi} = w_{hi} z_{hi}`:
  :math:`v = \\sum_h (1 - n_h/N_h)\\, \\frac{n_h}{n_h - 1} \\sum_i (u_{hi} - \\bar u_h)^2`
  (with-replacement-within-stratum form with the finite-population correction);
* domains are sub-populations: :math:`y` is set to zero outside the domain, the strata stay whole.

Non-response is handled by re-weighting within strata (``nonresponse="stratum"``), singleton
strata by collapsing (``singleton="collapse"``). docs/estimation.md gives the formulas, the
assumptions and the treatment of each special case.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats

from samplekit.errors import InputError, SamplekitWarning
from samplekit.periods import MONTH_RE, QUARTER_RE

#: Strata of the sample design (the allocation cells).
STRATUM_COLUMNS: list[str] = ["city", "section", "size_class", "ownership"]

#: Reduction types of the monthly form, in form order (stored non-negative).
REDUCTION_TYPES: list[str] = ["closure", "suspension", "layoff", "relocation", "other"]
REDUCTION_COLUMNS: list[str] = [f"reduction_{t}" for t in REDUCTION_TYPES]
REASON_COLUMNS: list[str] = ["reason_1", "reason_2", "reason_3"]
#: Reason codes 1–11 of the monthly form.
REASON_CODES: list[int] = list(range(1, 12))

#: Indicators returned by :func:`estimate`, in output order.
INDICATORS: list[str] = (
    [
        "baseline_employment",
        "survey_employment",
        "net_change_rate",
        "job_loss_rate",
        "share_reducing",
    ]
    + [f"reduced_{t}" for t in REDUCTION_TYPES]
    + [f"reduced_reason_{k}" for k in REASON_CODES]
)

#: Chinese names of the indicators (for tables and charts).
INDICATOR_NAMES_ZH: dict[str, str] = {
    "baseline_employment": "建档期就业人数",
    "survey_employment": "调查期就业人数",
    "net_change_rate": "就业人数净变动率(%)",
    "job_loss_rate": "岗位流失率(%)",
    "share_reducing": "减员企业占比(%)",
    "reduced_closure": "关闭破产减少人数",
    "reduced_suspension": "停业整顿减少人数",
    "reduced_layoff": "经济性裁员减少人数",
    "reduced_relocation": "迁出本市减少人数",
    "reduced_other": "其他类型减少人数",
    "reduced_reason_1": "产业结构调整",
    "reduced_reason_2": "重大技术革新",
    "reduced_reason_3": "节能减排、淘汰落后产能",
    "reduced_reason_4": "订单不足",
    "reduced_reason_5": "原材料涨价",
    "reduced_reason_6": "工资、社保等用工成本上升",
    "reduced_reason_7": "劳动力供给不足",
    "reduced_reason_8": "经营资金困难",
    "reduced_reason_9": "税收政策变化",
    "reduced_reason_10": "季节性用工",
    "reduced_reason_11": "其他原因",
}

RESULT_COLUMNS: list[str] = [
    "period",
    "indicator",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "df",
    "n_reporters",
    "small_domain",
]

#: Domains with fewer reporters are flagged ``small_domain``: below this the Monte Carlo study
#: (studies/monte_carlo.py: the legacy panel kept on top of a fresh stratified sample,
#: calibration, 5% non-response; docs/estimation.md, 120 replicates) finds a city's 95%
#: intervals covering less than 93% for some rate — 1120 = just above the largest city that
#: fails (广州, 1110 reporters: job loss 91.7%), so every city of the demo design is flagged.
#: Params: ``warning.min_reporters``.
SMALL_DOMAIN_REPORTERS: int = 1120

Nonresponse = Literal["stratum", "none"]
Singleton = Literal["collapse", "zero"]
OutOfSample = Literal["error", "drop"]
Network = Literal["province", "ministry"]
Variance = Literal["calibrated", "design"]
DegreesOfFreedom = Literal["design", "satterthwaite"]

#: Column of the design weights (before calibration) and of the calibration size variable.
DESIGN_WEIGHT = "weight"
SIZE_COLUMN = "employees"

#: Columns that make a table a membership (panel of record, docs/estimation.md "A panel with
#: windows"); a table without them is a one-window sample list, in force in every month.
VALIDITY_COLUMNS: list[str] = ["valid_from", "valid_to"]


class WindowStraddleWarning(SamplekitWarning):
    """A run of months (e.g. a quarter) crosses a window of the panel: the run's units are the
    members in force in every month, weighted by the rows in force at its first month."""


@dataclass(frozen=True)
class Spec:
    """One estimated quantity: ``scale × Σw·numerator / Σw·denominator`` (a total when no
    denominator)."""

    name: str
    numerator: str
    denominator: str | None = None
    scale: float = 1.0
    #: A share in [0, scale] (logit interval); other ratios get a symmetric t interval and
    #: totals a log interval when positive.
    bounded: bool = False


@dataclass(frozen=True)
class CalibrationModel:
    """The calibration the weights went through, for calibration-aware variances.

    The calibration matrix of the units has, for every margin column, one indicator per
    category (``"units"``) and/or the indicator times the size column (``"employment"``), plus
    the numeric ``columns`` as they are — as ``samplekit.calibration.margin_matrix`` builds it.
    The defaults are those of ``CalibrationSettings`` (city, section, size_class, ownership ×
    units, employment).
    """

    margins: tuple[str, ...] = ("city", "section", "size_class", "ownership")
    totals: tuple[str, ...] = ("units", "employment")
    columns: tuple[str, ...] = ()
    size: str = "_emp"

    @classmethod
    def from_settings(cls, settings: object) -> CalibrationModel:
        """The model of a ``samplekit.calibration.CalibrationSettings``."""
        return cls(margins=tuple(settings.margins), totals=tuple(settings.totals))

    def matrix(self, units: pd.DataFrame) -> np.ndarray:
        """Dense calibration matrix (one row per unit), columns scaled to unit RMS."""
        parts = []
        size = (
            units[self.size].to_numpy(float)
            if "employment" in self.totals
            else np.zeros(len(units))
        )
        for dim in self.margins:
            codes, _ = pd.factorize(units[dim].astype(str), sort=True)
            dummies = np.zeros((len(units), int(codes.max()) + 1 if len(codes) else 0))
            dummies[np.arange(len(units)), codes] = 1.0
            if "units" in self.totals:
                parts.append(dummies)
            if "employment" in self.totals:
                parts.append(dummies * size[:, None])
        parts += [units[c].to_numpy(float)[:, None] for c in self.columns]
        m = np.hstack(parts) if parts else np.zeros((len(units), 0))
        rms = np.sqrt(np.mean(m * m, axis=0)) if len(m) else np.ones(m.shape[1])
        return m / np.where(rms > 0, rms, 1.0)


# ---------------------------------------------------------------------------------- periods
def _month_index(period: str) -> int:
    m = MONTH_RE.match(period)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InputError(
            f"period {period!r} is not a month YYYY-MM (e.g. '2013-12') "
            "or a quarter YYYYQn (e.g. '2013Q4')"
        )
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def resolve_periods(periods: str | Sequence[str]) -> tuple[str, list[str]]:
    """The label and the consecutive months of a period argument.

    Parameters
    ----------
    periods : str or list of str
        A month ``"2013-12"``, a quarter ``"2013Q4"`` or a list of consecutive months.

    Returns
    -------
    label, months
        ``("2013Q4", ["2013-10", "2013-11", "2013-12"])``; a list that is a whole calendar quarter
        gets the quarter's label, another run of months ``"first~last"``.

    Examples
    --------
    >>> resolve_periods("2013Q4")
    ('2013Q4', ['2013-10', '2013-11', '2013-12'])
    """
    if isinstance(periods, str):
        q = QUARTER_RE.match(periods)
        if q:
            first = int(q.group(1)) * 12 + (int(q.group(2)) - 1) * 3
            return periods, [_month_label(first + k) for k in range(3)]
        _month_index(periods)
        return periods, [periods]
    months = [str(p) for p in periods]
    if not months:
        raise InputError(
            "periods is an empty list; give a month '2013-12', a quarter '2013Q4' "
            "or a list of consecutive months"
        )
    idx = [_month_index(p) for p in months]
    if any(b != a + 1 for a, b in zip(idx, idx[1:], strict=False)):
        raise InputError(
            f"periods {months} are not consecutive ascending months; a quarter is "
            "e.g. ['2013-10', '2013-11', '2013-12'] or '2013Q4'"
        )
    if len(months) == 1:
        return months[0], months
    if len(months) == 3 and idx[0] % 3 == 0:
        return f"{idx[0] // 12}Q{idx[0] % 12 // 3 + 1}", months
    return f"{months[0]}~{months[-1]}", months


def _normalise_period(series: pd.Series) -> pd.Series:
    """Reports' period column as 'YYYY-MM' strings (accepts strings, Periods, timestamps)."""
    if isinstance(series.dtype, pd.PeriodDtype):
        return series.dt.strftime("%Y-%m")
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m")
    return series.astype(str).str.strip().str.slice(0, 7)


# ---------------------------------------------------------------------------------- inputs
def _check_columns(df: pd.DataFrame, required: Sequence[str], what: str, fix: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"{what} lacks column(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, df.columns))}); {fix}"
        )


def prepare_sample(
    sample: pd.DataFrame,
    *,
    weight: str = "calibrated_weight",
    by: Sequence[str] = (),
    design_weight: str | None = None,
) -> pd.DataFrame:
    """Validate the sample list and keep what estimation needs.

    Returns one row per enterprise: ``enterprise_id``, the strata columns, the ``by`` columns,
    ``_w`` (the chosen weight) and ``_N`` (the stratum's frame units :math:`N_h`, NaN when the
    sample list has no ``cell_frame_units``: then no finite-population correction); with
    ``design_weight`` also ``_d`` (the design weight) and ``_emp`` (``employees``), for
    calibration-aware variances. ``calibrated_weight`` may be zero or negative (unbounded
    linear calibration); every other weight must be positive.

    Raises
    ------
    InputError
        Missing columns, duplicated enterprises, missing or non-positive weights, or a stratum
        with more sampled units than frame units.
    """
    fix = "pass the sample list (sample_list.csv) of the selection step"
    _check_columns(sample, ["enterprise_id", *STRATUM_COLUMNS, weight], "the sample list", fix)
    extra = [c for c in by if c not in sample.columns]
    if extra:
        raise InputError(
            f"domain column(s) {', '.join(extra)} are not columns of the sample list "
            f"(available: {', '.join(map(str, sample.columns))}); choose "
            "'by' among them, e.g. by=['city']"
        )
    cols = list(dict.fromkeys(["enterprise_id", *STRATUM_COLUMNS, *by]))
    out = sample[cols].copy()
    out["enterprise_id"] = out["enterprise_id"].astype(str)
    dup = out["enterprise_id"].duplicated(keep=False)
    if dup.any():
        ids = sorted(out.loc[dup, "enterprise_id"].unique())
        raise InputError(
            f"the sample list has {len(ids)} duplicated enterprise_id(s) "
            f"(e.g. {', '.join(ids[:3])}); each enterprise must appear once"
        )
    w = pd.to_numeric(sample[weight], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | ((w <= 0) & (weight != "calibrated_weight"))
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 2).tolist()
        raise InputError(
            f"the sample list has {int(bad.sum())} row(s) with a missing or "
            f"non-positive '{weight}' (spreadsheet rows {rows}); recompute the "
            "weights or choose another weight column"
        )
    out["_w"] = w
    out["_take"] = _take_all(sample)
    if design_weight is not None:
        out["_d"], out["_emp"] = _design_columns(
            sample, design_weight, np.ones(len(sample), bool), "the sample list"
        )
    if "cell_frame_units" in sample.columns:
        n_frame = pd.to_numeric(sample["cell_frame_units"], errors="coerce").to_numpy(float)
        out["_N"] = n_frame
        # one N_h per stratum: the largest value given (they should all be equal)
        out["_N"] = out.groupby(STRATUM_COLUMNS, observed=True, dropna=False)["_N"].transform("max")
        n_sampled = out.groupby(STRATUM_COLUMNS, observed=True, dropna=False)["_w"].transform(
            "size"
        )
        over = out["_N"].notna() & (n_sampled > out["_N"])
        if over.any():
            first = out.loc[over].iloc[0]
            raise InputError(
                f"stratum {tuple(first[STRATUM_COLUMNS])} has {int(n_sampled[over].iloc[0])} "
                f"sampled enterprises but cell_frame_units = {first['_N']:g}; "
                "cell_frame_units must be the stratum's frame count N_h ≥ n_h"
            )
    else:
        out["_N"] = np.nan
    return out


# ------------------------------------------------------------------------- panel with windows
#: Month code of an open row (``valid_to`` null): later than any month.
_OPEN = 10**7


def is_membership(sample: pd.DataFrame) -> bool:
    """True when ``sample`` is a membership table (has ``valid_from``), not a sample list."""
    return "valid_from" in sample.columns


def _flag(values: pd.Series) -> np.ndarray:
    """A yes/no column as booleans (bool, 0/1, true/false, 是/否; missing = False)."""
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).to_numpy(dtype=bool)
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "1", "1.0", "yes", "y", "是"]).fillna(False).to_numpy(dtype=bool)


def _month_codes(values: pd.Series, column: str, *, allow_open: bool) -> np.ndarray:
    """``YYYY-MM`` → year·12 + month − 1; null/empty → :data:`_OPEN` when ``allow_open``."""
    raw = pd.Series(values).reset_index(drop=True)
    if isinstance(raw.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(raw):
        raw = _normalise_period(raw).where(raw.notna(), None)
    # Few distinct months: parse each once.
    inv, uniq = pd.factorize(raw, use_na_sentinel=True)
    parsed = np.full(len(uniq) + 1, -1, dtype=np.int64)  # last slot: missing
    for k, v in enumerate(uniq):
        text = str(v).strip()
        if text in ("", "None", "nan", "NaN", "NaT", "<NA>"):
            continue
        m = MONTH_RE.match(text[:7] if len(text) > 7 and text[7] in " T" else text)
        parsed[k] = int(m.group(1)) * 12 + int(m.group(2)) - 1 if m else -2
    code = parsed[np.where(inv < 0, len(uniq), inv)]
    missing = code == -1
    bad = (code == -2) | (missing & (not allow_open))
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 2).tolist()
        raise InputError(
            f"the membership table has {int(bad.sum())} row(s) whose '{column}' is "
            f"not a month YYYY-MM (spreadsheet rows {rows}, e.g. "
            f"{raw.iloc[np.flatnonzero(bad)[0]]!r})"
            + ("; leave it empty for a row still open" if allow_open else "")
        )
    return np.where(missing, _OPEN, code)


def prepare_membership(
    membership: pd.DataFrame,
    *,
    weight: str = "calibrated_weight",
    by: Sequence[str] = (),
    design_weight: str | None = None,
) -> tuple[pd.DataFrame, set[str]]:
    """Validate the membership table (panel of record) and keep what estimation needs.

    Parameters
    ----------
    membership : DataFrame
        One row per enterprise × window (``store.read_membership``): ``enterprise_id``, the
        strata, the weight column, ``valid_from`` (YYYY-MM), ``valid_to`` (YYYY-MM or empty =
        open), ``cell_frame_units`` (N_h of the row's window), optionally ``individual``.
    weight, by, design_weight
        As in :func:`prepare_sample`.

    Returns
    -------
    rows, individual_ids
        ``rows``: one row per design row — ``enterprise_id``, strata, ``by`` columns, ``_w``,
        ``_N`` (this row's N_h, NaN without ``cell_frame_units``), ``_from``, ``_to`` (month
        codes); ``individual_ids``: enterprises that are urban individual economic organisations
        (附表三 only, not part of the design; their reports are left out of estimation).

    Raises
    ------
    InputError
        Missing columns, bad months, ``valid_from`` after ``valid_to``, overlapping rows of one
        enterprise, missing or non-positive weights.
    """
    fix = "pass the panel membership (store.read_membership) or a one-window sample list"
    _check_columns(
        membership,
        ["enterprise_id", *STRATUM_COLUMNS, weight, "valid_from"],
        "the membership table",
        fix,
    )
    extra = [c for c in by if c not in membership.columns]
    if extra:
        raise InputError(
            f"domain column(s) {', '.join(extra)} are not columns of the membership "
            f"table (available: {', '.join(map(str, membership.columns))}); choose "
            "'by' among them, e.g. by=['city']"
        )
    src = membership.reset_index(drop=True)
    ids = src["enterprise_id"].astype(str).str.strip()
    individual = (
        _flag(src["individual"]) if "individual" in src.columns else np.zeros(len(src), dtype=bool)
    )
    start = _month_codes(src["valid_from"], "valid_from", allow_open=False)
    end = (
        _month_codes(src["valid_to"], "valid_to", allow_open=True)
        if "valid_to" in src.columns
        else np.full(len(src), _OPEN, dtype=np.int64)
    )
    rows_of = np.flatnonzero(start > end)
    if len(rows_of):
        r = rows_of[0]
        raise InputError(
            f"the membership table has {len(rows_of)} row(s) with valid_from after "
            f"valid_to (e.g. spreadsheet row {r + 2}, enterprise {ids.iloc[r]}: "
            f"{src['valid_from'].iloc[r]} > {src['valid_to'].iloc[r]}); such rows "
            "are never written — check the store"
        )
    order = np.lexsort((start, ids.to_numpy()))
    sid, sst, sen = ids.to_numpy()[order], start[order], end[order]
    overlap = np.flatnonzero((sid[1:] == sid[:-1]) & (sst[1:] <= sen[:-1]))
    if len(overlap):
        k = overlap[0]
        raise InputError(
            f"the membership table has {len(overlap)} overlapping row pair(s) of one "
            f"enterprise (e.g. {sid[k]}: spreadsheet rows {order[k] + 2} and "
            f"{order[k + 1] + 2}); an enterprise has one row in force per month"
        )
    # Trial-reporting rows (entry_reason "trial", issue 16) are not part of the official
    # design: left out with their reports (:func:`_drop_trial`).
    keep = ~individual & ~_trial_mask(src)
    cols = list(dict.fromkeys(["enterprise_id", *STRATUM_COLUMNS, *by]))
    out = src.loc[keep, cols].copy()
    out["enterprise_id"] = ids[keep].to_numpy()
    w = pd.to_numeric(src[weight], errors="coerce").to_numpy(dtype=float)
    bad = keep & (~np.isfinite(w) | ((w <= 0) & (weight != "calibrated_weight")))
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 2).tolist()
        raise InputError(
            f"the membership table has {int(bad.sum())} design row(s) with a missing "
            f"or non-positive '{weight}' (spreadsheet rows {rows}); every member "
            "that is not an individual organisation needs a weight for its window"
        )
    out["_w"] = w[keep]
    out["_take"] = _take_all(src)[keep]
    if design_weight is not None:
        out["_d"], out["_emp"] = _design_columns(src, design_weight, keep, "the membership table")
    out["_N"] = (
        pd.to_numeric(src["cell_frame_units"], errors="coerce").to_numpy(float)[keep]
        if "cell_frame_units" in src.columns
        else np.nan
    )
    out["_from"], out["_to"] = start[keep], end[keep]
    return out.reset_index(drop=True), set(ids[individual].tolist())


#: Entry reason of a trial-reporting membership row (试行填报): such rows and their reports are
#: left out of estimation unless passed through ``samplekit.bridge.include_trial``.
TRIAL_REASON = "trial"


def _trial_mask(membership: pd.DataFrame) -> np.ndarray:
    if "entry_reason" not in membership.columns:
        return np.zeros(len(membership), dtype=bool)
    return (
        membership["entry_reason"]
        .astype("string")
        .str.strip()
        .eq(TRIAL_REASON)
        .fillna(False)
        .to_numpy(dtype=bool)
    )


def _drop_trial(rep: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Reports (``enterprise_id``, ``period``) made under a trial row of the membership."""
    trial = _trial_mask(membership)
    if not trial.any() or rep.empty:
        return rep
    rows = membership.loc[trial]
    t = pd.DataFrame(
        {
            "enterprise_id": rows["enterprise_id"].astype(str).str.strip().to_numpy(),
            "_tf": _month_codes(rows["valid_from"], "valid_from", allow_open=False),
            "_tt": (
                _month_codes(rows["valid_to"], "valid_to", allow_open=True)
                if "valid_to" in rows.columns
                else _OPEN
            ),
        }
    )
    period = pd.Series(rep["period"].to_numpy())
    code = period.map({p: _month_index(p) for p in pd.unique(period)}).to_numpy(np.int64)
    left = pd.DataFrame(
        {"enterprise_id": rep["enterprise_id"].to_numpy(), "_m": code, "_pos": np.arange(len(rep))}
    )
    hit = left.merge(t, on="enterprise_id")
    drop = hit.loc[(hit["_m"] >= hit["_tf"]) & (hit["_m"] <= hit["_tt"]), "_pos"].to_numpy()
    if not len(drop):
        return rep
    keep = np.ones(len(rep), dtype=bool)
    keep[drop] = False
    return rep.loc[keep].reset_index(drop=True)


def _take_all(src: pd.DataFrame) -> np.ndarray:
    """Certainty units: design weight (``weight``) 1, i.e. inclusion probability 1 — the retained
    legacy members (a take-all design group of their cell) and the units of census cells. They
    form their own variance stratum within the cell and contribute no sampling variance."""
    if DESIGN_WEIGHT not in src.columns:
        return np.zeros(len(src), dtype=bool)
    d = pd.to_numeric(src[DESIGN_WEIGHT], errors="coerce").to_numpy(float)
    return np.isfinite(d) & (np.abs(d - 1.0) <= 1e-9)


def _design_columns(
    src: pd.DataFrame, design_weight: str, keep: np.ndarray, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Design weights (positive) and ``employees`` (finite) of the kept rows."""
    _check_columns(
        src,
        [design_weight, SIZE_COLUMN],
        what,
        "calibration-aware variances need the design weights and the register "
        "employees the weights were calibrated on; or pass variance='design'",
    )
    d = pd.to_numeric(src[design_weight], errors="coerce").to_numpy(float)
    emp = pd.to_numeric(src[SIZE_COLUMN], errors="coerce").to_numpy(float)
    for name, bad in (
        (design_weight, keep & (~np.isfinite(d) | (d <= 0))),
        (SIZE_COLUMN, keep & ~np.isfinite(emp)),
    ):
        if bad.any():
            rows = (np.flatnonzero(bad)[:5] + 2).tolist()
            raise InputError(
                f"{what} has {int(bad.sum())} row(s) with a missing or invalid "
                f"'{name}' (spreadsheet rows {rows}); calibration-aware variances "
                "need it on every design row — or pass variance='design'"
            )
    return d[keep], emp[keep]


def _finish_design(design: pd.DataFrame) -> pd.DataFrame:
    """One N_h per period × stratum (the largest given) and the check n_h ≤ N_h."""
    keys = ["period", *STRATUM_COLUMNS]
    g = design.groupby(keys, observed=True, dropna=False, sort=False)
    design["_N"] = g["_N"].transform("max")
    n_sampled = g["_w"].transform("size")
    over = design["_N"].notna() & (n_sampled > design["_N"])
    if over.any():
        first = design.loc[over].iloc[0]
        raise InputError(
            f"stratum {tuple(first[STRATUM_COLUMNS])} has {int(n_sampled[over].iloc[0])} "
            f"members in force in {first['period']} but cell_frame_units = {first['_N']:g}; "
            "cell_frame_units must be the stratum's frame count N_h ≥ n_h of the window"
        )
    return design.drop(columns=["_from", "_to"], errors="ignore")


def design_by_month(rows: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """The design rows in force in each month: one row per member × month (``period``).

    ``rows`` is the first result of :func:`prepare_membership`. A row is in force in month m
    when ``valid_from ≤ m ≤ valid_to`` (open rows: from ``valid_from`` on).
    """
    labels = np.array(sorted(set(months)), dtype=object)
    codes = np.array([_month_index(m) for m in labels], dtype=np.int64)
    lo = np.searchsorted(codes, rows["_from"].to_numpy(), side="left")
    hi = np.searchsorted(codes, rows["_to"].to_numpy(), side="right")
    count = np.maximum(hi - lo, 0)
    which = np.repeat(np.arange(len(rows)), count)
    offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    design = rows.iloc[which].reset_index(drop=True)
    design.insert(0, "period", labels[np.repeat(lo, count) + offset])
    return _finish_design(design)


def design_for_run(rows: pd.DataFrame, months: Sequence[str], label: str) -> pd.DataFrame:
    """The design of a run of months (a quarter): the members in force in **every** month, with
    the rows in force at the first month. Warns (:class:`WindowStraddleWarning`) when a row
    starts or ends inside the run, i.e. a window took effect within it."""
    first, last = _month_index(months[0]), _month_index(months[-1])
    start, end = rows["_from"].to_numpy(), rows["_to"].to_numpy()
    covered = np.maximum(np.minimum(end, last) - np.maximum(start, first) + 1, 0)
    touching = covered > 0
    inside = touching & ((start > first) | (end < last))
    if inside.any():
        ids = sorted(rows.loc[inside, "enterprise_id"].unique())
        warnings.warn(
            WindowStraddleWarning(
                f"{label}:{len(ids)}家监测企业的在册记录在{months[0]}至{months[-1]}之间开始或"
                f"结束(如 {'、'.join(ids[:3])}),即期内有调整窗口生效。本期按每个月都在册的企业"
                "估计,权数取期初在册记录的权数(见 docs/estimation.md“A panel with windows”)。"
            ),
            stacklevel=3,
        )
    full = pd.Series(covered, index=rows.index).groupby(rows["enterprise_id"]).transform("sum")
    keep = (start <= first) & (end >= first) & (full.to_numpy() == len(months))
    design = rows.loc[keep].reset_index(drop=True)
    design.insert(0, "period", label)
    return _finish_design(design)


def network_members(
    membership: pd.DataFrame,
    *,
    network: Network = "province",
    weights: Sequence[str] = ("weight", "calibrated_weight"),
) -> pd.DataFrame:
    """The members of one monitoring network (两网合并: one sample, two networks).

    Parameters
    ----------
    membership : DataFrame
        A membership table or a sample list; the ministry flag is the ``ministry`` column
        (a sample list's ``monthly`` column is accepted in its place).
    network : {"province", "ministry"}
        "province" (企业用工定点监测, 全省): every member, returned unchanged. "ministry"
        (失业动态监测, 人社部月报网络): the members with the flag set; their ``weights`` are
        scaled within each stratum (and window) so that the network keeps the stratum's weight
        total — the network is treated as a subsample within strata. Strata without a ministry
        member drop out (docs/estimation.md).

    Returns
    -------
    DataFrame
        The network's rows, same columns.
    """
    if network == "province":
        return membership
    if network != "ministry":
        raise InputError(f"network={network!r}: use 'province' or 'ministry'")
    on = _flag(membership[_ministry_column(membership)])
    window = [c for c in ("window_id", "valid_from") if c in membership.columns][:1]
    keys = [*window, *STRATUM_COLUMNS]
    out = membership.loc[on].copy()
    for col in weights:
        if col not in membership.columns:
            continue
        w = pd.to_numeric(membership[col], errors="coerce")
        total = w.groupby([membership[k] for k in keys], dropna=False).transform("sum")
        part = (
            w.where(on, 0.0).groupby([membership[k] for k in keys], dropna=False).transform("sum")
        )
        out[col] = (w * total / part)[on].to_numpy()
    return out.reset_index(drop=True)


def _ministry_column(membership: pd.DataFrame) -> str:
    for c in ("ministry", "monthly"):
        if c in membership.columns:
            return c
    raise InputError(
        "the membership table has no 'ministry' column (the ministry's monthly "
        "network flag, 失业动态监测); load a panel that keeps it, or use "
        "network='province'"
    )


def network_reports(
    reports: pd.DataFrame, membership: pd.DataFrame, *, network: Network = "province"
) -> pd.DataFrame:
    """The reports of one network's members.

    "province": all reports. "ministry": leaves out the reports of members whose row in force
    that month is not in the ministry's network (they report to the province's network only,
    so they are neither out of sample nor non-response); reports of non-members are kept, for
    ``out_of_sample`` to judge.
    """
    if network == "province":
        return reports
    if network != "ministry":
        raise InputError(f"network={network!r}: use 'province' or 'ministry'")
    flag = _ministry_column(membership)
    other = membership.loc[~_flag(membership[flag])]
    ids = reports["enterprise_id"].astype(str).str.strip()
    if not is_membership(membership):
        return reports[~ids.isin(set(other["enterprise_id"].astype(str).str.strip())).to_numpy()]
    rows = pd.DataFrame(
        {
            "enterprise_id": membership["enterprise_id"].astype(str).str.strip().to_numpy(),
            "_from": _month_codes(membership["valid_from"], "valid_from", allow_open=False),
            "_to": (
                _month_codes(membership["valid_to"], "valid_to", allow_open=True)
                if "valid_to" in membership.columns
                else _OPEN
            ),
            "_in": _flag(membership[flag]),
        }
    ).sort_values("_from", kind="stable")
    period = _normalise_period(reports["period"])
    ok = period.str.match(MONTH_RE.pattern).to_numpy(bool)
    left = pd.DataFrame({"enterprise_id": ids.to_numpy(), "_pos": np.arange(len(reports))})
    left = left.loc[ok]
    left["_m"] = _month_codes(period[ok], "period", allow_open=False)
    hit = pd.merge_asof(
        left.sort_values("_m", kind="stable"),
        rows,
        left_on="_m",
        right_on="_from",
        by="enterprise_id",
        direction="backward",
    )
    drop = hit.loc[
        hit["_from"].notna()
        & (hit["_m"] <= hit["_to"])
        & ~hit["_in"].astype("boolean").fillna(True).astype(bool),
        "_pos",
    ].to_numpy()
    keep = np.ones(len(reports), dtype=bool)
    keep[drop] = False
    return reports[keep]


def _closure_reports(reports: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """Closures as structural zeros: for each month of ``months`` in which an enterprise has no
    report and its latest earlier report shows survey employment 0, a report row with
    x = y = 0 and nothing reduced (the layout of :func:`prepare_reports`)."""
    y = pd.to_numeric(reports["survey_employment"], errors="coerce").to_numpy(float)
    x = pd.to_numeric(reports["baseline_employment"], errors="coerce").to_numpy(float)
    cols = [
        "enterprise_id",
        "period",
        "x",
        "y",
        *[f"reduced_{t}" for t in REDUCTION_TYPES],
        "reduced",
        *[f"reduced_reason_{k}" for k in REASON_CODES],
    ]
    zero = (y == 0) & np.isfinite(x)
    if not zero.any() or not len(months):
        return pd.DataFrame(columns=cols)
    ids = np.unique(reports["enterprise_id"].astype(str).to_numpy()[zero])
    sub = reports[reports["enterprise_id"].astype(str).isin(ids)]
    period = _normalise_period(sub["period"])
    ok = (
        period.str.match(MONTH_RE.pattern).to_numpy(bool)
        & np.isfinite(pd.to_numeric(sub["survey_employment"], errors="coerce").to_numpy(float))
        & np.isfinite(pd.to_numeric(sub["baseline_employment"], errors="coerce").to_numpy(float))
    )
    sub_ids = sub["enterprise_id"].astype(str).to_numpy()[ok]
    sub_m = _month_codes(period[ok], "period", allow_open=False)
    sub_y = pd.to_numeric(sub["survey_employment"], errors="coerce").to_numpy(float)[ok]
    eid = np.searchsorted(ids, sub_ids)
    big = _OPEN + 1
    key = eid.astype(np.int64) * big + sub_m
    order = np.argsort(key, kind="stable")
    key, sub_y = key[order], sub_y[order]
    targets = np.array(sorted({_month_index(m) for m in months}), dtype=np.int64)
    g_eid = np.repeat(np.arange(len(ids), dtype=np.int64), len(targets))
    g_m = np.tile(targets, len(ids))
    g_key = g_eid * big + g_m
    pos = np.searchsorted(key, g_key, side="left")
    reported = (pos < len(key)) & (key[np.minimum(pos, len(key) - 1)] == g_key)
    prior = pos - 1
    has_prior = (prior >= 0) & (key[np.maximum(prior, 0)] // big == g_eid)
    closed = ~reported & has_prior & (sub_y[np.maximum(prior, 0)] == 0)
    out = pd.DataFrame(
        {"enterprise_id": ids[g_eid[closed]], "period": [_month_label(int(m)) for m in g_m[closed]]}
    )
    for c in cols[2:]:
        out[c] = 0.0
    return out[cols]


def prepare_reports(reports: pd.DataFrame, months: Sequence[str] | None = None) -> pd.DataFrame:
    """Validate reports and derive per-enterprise-month variables.

    Keeps rows of ``months`` (all when None) whose baseline and survey employment are both
    present (a row without them is not a report). Adds ``reduced`` (sum of the five reduction
    types; blanks count as 0) and ``reduced_reason_k`` (persons reduced when the first-ranked
    reason is k, else 0).

    Raises
    ------
    InputError
        Missing columns, duplicated enterprise-months, negative employment or reductions.
    """
    fix = "pass reports in the canonical monthly layout (docs/architecture.md)"
    _check_columns(
        reports,
        [
            "enterprise_id",
            "period",
            "baseline_employment",
            "survey_employment",
            *REDUCTION_COLUMNS,
            "reason_1",
        ],
        "the reports table",
        fix,
    )
    df = pd.DataFrame(
        {
            "enterprise_id": reports["enterprise_id"].astype(str).to_numpy(),
            "period": _normalise_period(reports["period"]).to_numpy(),
        }
    )
    if months is not None:
        keep = df["period"].isin(list(months)).to_numpy()
    else:
        keep = np.ones(len(df), dtype=bool)
    src = reports.loc[keep]
    df = df.loc[keep].reset_index(drop=True)
    df["x"] = pd.to_numeric(src["baseline_employment"], errors="coerce").to_numpy(float)
    df["y"] = pd.to_numeric(src["survey_employment"], errors="coerce").to_numpy(float)
    red = np.column_stack(
        [
            pd.to_numeric(src[c], errors="coerce").fillna(0.0).to_numpy(float)
            for c in REDUCTION_COLUMNS
        ]
    )
    for name, values in (("baseline_employment", df["x"]), ("survey_employment", df["y"])):
        neg = values.to_numpy() < 0
        if neg.any():
            raise InputError(
                f"{int(neg.sum())} report(s) have negative {name} (e.g. enterprise "
                f"{df.loc[neg, 'enterprise_id'].iloc[0]}, period "
                f"{df.loc[neg, 'period'].iloc[0]}); employment counts are ≥ 0"
            )
    if (red < 0).any():
        r, c = np.argwhere(red < 0)[0]
        raise InputError(
            f"{int((red < 0).any(axis=1).sum())} report(s) have negative reductions "
            f"(e.g. enterprise {df['enterprise_id'].iloc[r]}, period "
            f"{df['period'].iloc[r]}, column {REDUCTION_COLUMNS[c]}); reductions are "
            "stored non-negative — read the form with samplekit.reports, which "
            "flips the ministry's minus signs"
        )
    valid = df["x"].notna().to_numpy() & df["y"].notna().to_numpy()
    df = df.loc[valid].reset_index(drop=True)
    red = red[valid]
    dup = df.duplicated(["enterprise_id", "period"], keep=False)
    if dup.any():
        first = df.loc[dup].iloc[0]
        raise InputError(
            f"{int(dup.sum())} rows repeat an enterprise and month (e.g. "
            f"{first['enterprise_id']} in {first['period']}); keep one accepted "
            "report per enterprise and month"
        )
    for j, t in enumerate(REDUCTION_TYPES):
        df[f"reduced_{t}"] = red[:, j]
    df["reduced"] = red.sum(axis=1)
    reason = pd.to_numeric(src["reason_1"], errors="coerce").to_numpy(float)[valid]
    for k in REASON_CODES:
        df[f"reduced_reason_{k}"] = np.where(reason == k, df["reduced"].to_numpy(), 0.0)
    return df


def _derive(df: pd.DataFrame) -> pd.DataFrame:
    """Indicator variables from x (baseline), y (survey) and reductions."""
    x, y = df["x"].to_numpy(), df["y"].to_numpy()
    df["one"] = 1.0
    df["change"] = y - x
    df["falling"] = (y < x).astype(float)
    df["rising"] = (y > x).astype(float)
    df["unchanged"] = (y == x).astype(float)
    df["climate"] = df["rising"] + 0.5 * df["unchanged"]
    return df


def _variable_columns() -> list[str]:
    return (
        ["x", "y", "reduced"]
        + [f"reduced_{t}" for t in REDUCTION_TYPES]
        + [f"reduced_reason_{k}" for k in REASON_CODES]
    )


def build_units(
    reports: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    periods: str | Sequence[str],
    by: Sequence[str] = (),
    weight: str = "calibrated_weight",
    nonresponse: Nonresponse = "stratum",
    singleton: Singleton = "collapse",
    out_of_sample: OutOfSample = "error",
    design_weight: str | None = None,
) -> pd.DataFrame:
    """One row per reporting member for one period (a month or a run of months).

    ``sample`` is a membership table (``valid_from``/``valid_to``: the members in force in the
    period, with their rows' weights and strata) or a one-window sample list (in force always).
    A member whose latest earlier report shows survey employment 0 and who does not report
    counts as a reporter with x = y = 0 (a closure, not non-response). For several months an
    enterprise counts only when it is a member in force and reports in every month: ``x`` is the
    first month's baseline, ``y`` the last month's survey employment, reductions (by type and by
    first-ranked reason) are summed over the months; its design row is the one in force at the
    first month. The result carries the design columns used by :func:`linearised_estimates`
    (with ``design_weight``, also ``_d`` and ``_emp`` for calibration-aware variances).
    """
    return _units_and_design(
        reports,
        sample,
        periods=periods,
        by=by,
        weight=weight,
        nonresponse=nonresponse,
        singleton=singleton,
        out_of_sample=out_of_sample,
        design_weight=design_weight,
    )[0]


def _not_in_force(
    rep: pd.DataFrame, design: pd.DataFrame, *, out_of_sample: OutOfSample
) -> pd.DataFrame:
    """Reports must come from members in force that month: an error, or dropped with "drop"
    (imputed closure rows of non-members are dropped silently)."""
    if "period" in design.columns:
        here = pd.MultiIndex.from_arrays([rep["period"], rep["enterprise_id"]]).isin(
            pd.MultiIndex.from_arrays([design["period"], design["enterprise_id"]])
        )
    else:
        here = rep["enterprise_id"].isin(design["enterprise_id"]).to_numpy()
    closed = rep["_closed"].to_numpy(bool)
    outside = ~here & ~closed
    if outside.any() and out_of_sample != "drop":
        bad = rep.loc[outside].sort_values(["period", "enterprise_id"])
        ids = list(dict.fromkeys(bad["enterprise_id"]))
        raise InputError(
            f"{len(ids)} reporting enterprise(s) are not members in force in the "
            f"month they report (e.g. {bad['enterprise_id'].iloc[0]} in "
            f"{bad['period'].iloc[0]}); estimation needs their design weights — "
            "pass the membership (or the sample list they were selected in), or "
            "pass out_of_sample='drop'"
        )
    return rep.loc[here].drop(columns="_closed").reset_index(drop=True)


def _units_and_design(
    reports: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    periods: str | Sequence[str],
    by: Sequence[str],
    weight: str,
    nonresponse: Nonresponse,
    singleton: Singleton,
    out_of_sample: OutOfSample,
    design_weight: str | None = None,
    cells: list[pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`build_units` and the design it used (with ``period`` for a membership); with
    ``cells`` (a list), the response cells of the non-response adjustment are appended to it."""
    label, months = resolve_periods(periods)
    rep = prepare_reports(reports, months)
    closures = _closure_reports(reports, months)
    if is_membership(sample):
        rows, individual = prepare_membership(
            sample, weight=weight, by=by, design_weight=design_weight
        )
        in_force = design_by_month(rows, months)
        design = in_force if len(months) == 1 else design_for_run(rows, months, label)
        rep = _drop_trial(rep, sample)
        rep = (
            pd.concat([rep.assign(_closed=False), closures.assign(_closed=True)], ignore_index=True)
            if len(closures)
            else rep.assign(_closed=False)
        )
        if individual:
            rep = rep.loc[~rep["enterprise_id"].isin(individual)]
        rep = _not_in_force(rep, in_force, out_of_sample=out_of_sample)
    else:
        design = prepare_sample(sample, weight=weight, by=by, design_weight=design_weight)
        closures = closures.loc[closures["enterprise_id"].isin(design["enterprise_id"])]
        if len(closures):
            rep = pd.concat([rep, closures], ignore_index=True)
    if len(months) == 1:
        units = rep
    else:
        count = rep.groupby("enterprise_id")["period"].transform("size")
        rep = rep.loc[count == len(months)].sort_values(["enterprise_id", "period"])
        sums = rep.groupby("enterprise_id", sort=True)[_variable_columns()[2:]].sum()
        first = rep.groupby("enterprise_id", sort=True)["x"].first()
        last = rep.groupby("enterprise_id", sort=True)["y"].last()
        units = sums.assign(x=first, y=last).reset_index()
        if is_membership(sample):
            # Members of only part of the run (a window within it) are not units of the run.
            units = units.loc[units["enterprise_id"].isin(design["enterprise_id"])]
    if units.empty:
        raise InputError(
            f"no enterprise reported in every month of {label} "
            f"({', '.join(months)}); check the period or load those months' reports"
        )
    units = _derive(units.assign(period=label).reset_index(drop=True))
    units = _attach_design(
        units,
        design,
        nonresponse=nonresponse,
        singleton=singleton,
        out_of_sample=out_of_sample,
        cells=cells,
    )
    return units, design


#: Where the weight of a response cell without any reporter goes, nearest first: the other
#: design group of the same stratum (retained take-all members / fresh sample), then the cells
#: of the same city × section × size class (other ownership), city × section (other size
#: classes), city × size class (other sections), city. A city without any reporter is not
#: collapsed into other cities (that would move its weight into their totals): its weight is
#: reported as lost. docs/estimation.md, "Weights and non-response".
COLLAPSE_LEVELS: list[tuple[str, list[str]]] = [
    ("stratum", STRATUM_COLUMNS),
    ("city_section_size", ["city", "section", "size_class"]),
    ("city_section", ["city", "section"]),
    ("city_size", ["city", "size_class"]),
    ("city", ["city"]),
]
#: Chinese names of the collapse levels (``none`` = not collapsed: the city has no reporter).
COLLAPSE_LEVELS_ZH: dict[str, str] = {
    "stratum": "同一抽样层的另一设计组",
    "city_section_size": "同市同行业同规模(其他所有制)",
    "city_section": "同市同行业(其他规模)",
    "city_size": "同市同规模(其他行业)",
    "city": "同市(其他行业和规模)",
    "none": "未合并:全市无报送企业,权数缺失",
}


def _response_cells(units: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Members, reporters and the non-response factor of every period × response cell.

    A response cell is a variance stratum ``_h`` (a stratum, or one of its two design groups
    when retained take-all members form their own) in a period. ``_factor`` multiplies the
    weights of the cell's reporters: ``Σ_members w / Σ_reporters w`` (design weights when the
    calibrated ones sum to ≤ 0), times ``1 + Σ_e W_e / W_G(e)`` over the empty cells e collapsed
    into a group G(e) that contains the cell (W_e = the empty cell's member weight total, W_G =
    the member weight total of G's cells with reporters) — so each empty cell's weight is
    spread over G's reporters in proportion to their adjusted weights and no weight is lost.
    """
    has_d = "_d" in units.columns and "_d" in design.columns
    take = "_take" in design.columns
    first_cols = [*STRATUM_COLUMNS, *(["_take"] if take else [])]
    agg: dict[str, tuple[str, str]] = {c: (c, "first") for c in first_cols}
    agg["n_members"] = ("_w", "size")
    agg["w_members"] = ("_w", "sum")
    if has_d:
        agg["d_members"] = ("_d", "sum")
    periods = sorted(pd.unique(units["period"]))
    if "period" in design.columns:
        mine = design.loc[design["period"].isin(periods)]
        members = mine.groupby(["period", "_h"], sort=True, dropna=False).agg(**agg).reset_index()
    else:
        one = design.groupby("_h", sort=True, dropna=False).agg(**agg).reset_index()
        members = pd.DataFrame({"period": periods}).merge(one, how="cross")
    rep_agg = {"n_reporters": ("_w", "size"), "w_reporters": ("_w", "sum")}
    if has_d:
        rep_agg["d_reporters"] = ("_d", "sum")
    rep = units.groupby(["period", "_h"], sort=True).agg(**rep_agg).reset_index()
    cells = members.merge(rep, on=["period", "_h"], how="left")
    cells["n_reporters"] = cells["n_reporters"].fillna(0).astype(np.int64)
    for c in ("w_reporters", "d_reporters"):
        if c in cells.columns:
            cells[c] = cells[c].fillna(0.0)
    w_mem = cells["w_members"].to_numpy(float)
    w_rep = cells["w_reporters"].to_numpy(float)
    has_rep = cells["n_reporters"].to_numpy() > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(has_rep, w_mem / w_rep, np.nan)
        if has_d:
            # Negative calibrated weights (unbounded linear calibration) can leave a cell's
            # reporters with a weight total ≤ 0: there the design weights give the factor.
            d_mem = cells["d_members"].to_numpy(float)
            d_factor = d_mem / cells["d_reporters"].to_numpy(float)
            factor = np.where((w_rep > 0) & (w_mem > 0), factor, d_factor)
            factor = np.where(has_rep, factor, np.nan)
    empty = ~has_rep
    pending = empty.copy()
    extra = np.zeros(len(cells))
    level = np.where(empty, "none", "").astype(object)
    into = np.full(len(cells), "", dtype=object)
    receivers = np.zeros(len(cells), dtype=np.int64)
    if pending.any():
        for name, cols in COLLAPSE_LEVELS:
            if not pending.any():
                break
            g = cells.groupby(["period", *cols], sort=False, dropna=False).ngroup().to_numpy()
            n_g = int(g.max()) + 1
            w_g = np.bincount(g, weights=np.where(has_rep, w_mem, 0.0), minlength=n_g)
            rep_g = np.bincount(g, weights=cells["n_reporters"].to_numpy(float), minlength=n_g)
            moved = pending & (rep_g[g] > 0)
            if not moved.any():
                continue
            give = np.bincount(g, weights=np.where(moved, w_mem, 0.0), minlength=n_g)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = give / w_g
                if has_d:
                    d_g = np.bincount(g, weights=np.where(has_rep, d_mem, 0.0), minlength=n_g)
                    d_give = np.bincount(g, weights=np.where(moved, d_mem, 0.0), minlength=n_g)
                    share = np.where(w_g > 0, share, d_give / d_g)
            extra += np.where(has_rep, share[g], 0.0)
            level[moved] = name
            # Column-wise concatenation: a row-wise join over thousands of cells was the
            # slowest step of the brief (8 s of 23).
            parts = [cells.loc[moved, c].astype(str) for c in cols]
            joined = parts[0].str.cat(parts[1:], sep="/") if len(parts) > 1 else parts[0]
            into[moved] = joined.to_numpy()
            receivers[moved] = rep_g[g[moved]].astype(np.int64)
            pending &= ~moved
    cells["_factor"] = np.where(has_rep, factor * (1.0 + extra), np.nan)
    cells["collapse_level"] = level
    cells["collapsed_into"] = into
    cells["receiving_reporters"] = receivers
    cells["weight_added"] = np.where(has_rep, w_mem * extra, 0.0)
    cells["weight_lost"] = np.where(pending, w_mem, 0.0)
    return cells


def _attach_design(
    units: pd.DataFrame,
    design: pd.DataFrame,
    *,
    nonresponse: Nonresponse,
    singleton: Singleton,
    out_of_sample: OutOfSample = "error",
    cells: list[pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Join weights and strata; re-weight for non-response; set the variance strata.

    Per period and response cell (stratum, or its take-all / sampled design group): ``_w``
    becomes ``w × Σ_members w / Σ_reporters w`` (non-response missing at random within the
    cell); the weight of a cell without any reporter is spread over the reporters of the
    nearest cells (:data:`COLLAPSE_LEVELS`). ``_n`` is the number of reporters, and the
    variance stratum ``_vs`` with its factor ``_c = (1 − n_G/N_G)·n_G/(n_G − 1)`` (0 when
    ``n_G = 1``). With ``cells`` (a list), the table of response cells (:func:`_response_cells`)
    is appended to it.
    """
    if nonresponse not in ("stratum", "none"):
        raise InputError(f"nonresponse={nonresponse!r}: use 'stratum' or 'none'")
    if singleton not in ("collapse", "zero"):
        raise InputError(f"singleton={singleton!r}: use 'collapse' or 'zero'")
    if "_take" in design.columns and (design["_take"] & design["_N"].notna()).any():
        # Two design groups per cell: the take-all units (N = their own count: no variance) and
        # the others (N = N_h − take-all units of the cell in force). Without N_h (no fpc at
        # all) the cell stays one stratum.
        cell_keys = [*(["period"] if "period" in design.columns else []), *STRATUM_COLUMNS]
        take = (design["_take"] & design["_N"].notna()).to_numpy(bool)
        design = design.assign(_take=take)
        n_take = (
            design.groupby(cell_keys, observed=True, dropna=False, sort=False)["_take"]
            .transform("sum")
            .to_numpy(float)
        )
        design = design.assign(_N=np.where(take, n_take, design["_N"].to_numpy(float) - n_take))
        h = design.groupby(
            [*STRATUM_COLUMNS, "_take"], observed=True, dropna=False, sort=True
        ).ngroup()
    else:
        h = design.groupby(STRATUM_COLUMNS, observed=True, dropna=False, sort=True).ngroup()
    design = design.assign(_h=h.to_numpy())
    # A membership's design has one row per period × member (the rows in force); a sample
    # list's one row per member, in force in every period.
    per_period = "period" in design.columns
    on = ["period", "enterprise_id"] if per_period else "enterprise_id"
    units = units.merge(design, on=on, how="left", validate="many_to_one")
    unknown = units["_h"].isna().to_numpy()
    if unknown.any() and out_of_sample == "drop":
        units = units.loc[~unknown].reset_index(drop=True)
    elif unknown.any():
        ids = sorted(units.loc[unknown, "enterprise_id"].unique())
        where = "members in force in the period" if per_period else "in the sample list"
        raise InputError(
            f"{len(ids)} reporting enterprise(s) are not {where} (e.g. "
            f"{', '.join(ids[:3])}); estimation needs their design weights — pass "
            "the sample list they were selected in, or pass out_of_sample='drop'"
        )
    units["_h"] = units["_h"].astype(np.int64)
    period_code, _ = pd.factorize(units["period"], sort=True)
    n_strata = int(design["_h"].max()) + 1
    ph = period_code.astype(np.int64) * n_strata + units["_h"].to_numpy()  # period × stratum
    ph_code, ph_inv = np.unique(ph, return_inverse=True)
    w = units["_w"].to_numpy(float)
    if nonresponse == "stratum":
        table = _response_cells(units, design)
        # Each reporter takes its cell's factor: within-cell re-weighting, plus the share of the
        # weight of collapsed cells without any reporter (docs/estimation.md).
        pos = pd.MultiIndex.from_frame(table[["period", "_h"]]).get_indexer(
            pd.MultiIndex.from_arrays([units["period"], units["_h"]])
        )
        factor = table["_factor"].to_numpy(float)[pos]
        if "_d" in units.columns:
            units["_d"] = units["_d"].to_numpy(float) * factor
        w = w * factor
        units["_w"] = w
        if cells is not None:
            cells.append(table)
    n_rep = np.bincount(ph_inv)[ph_inv]
    big_n = units["_N"].to_numpy(float)
    units["_n"] = n_rep
    vs = ph_inv.astype(np.int64)
    n_v = n_rep.astype(float)
    big_n_v = np.where(np.isnan(big_n), np.inf, big_n)
    # A stratum with one reporter and other units unobserved has no variance estimate.
    lonely = (n_rep == 1) & ~(big_n <= 1)
    units["_singleton"] = lonely
    if singleton == "collapse" and lonely.any():
        # Pool singleton strata with each other at the nearest common level (drop ownership,
        # then size class, then section, then city); a pool of one goes up a level, the last
        # resort is one province pool.
        pending = lonely.copy()
        pool = np.full(len(units), -1, dtype=np.int64)
        next_id = len(ph_code)
        for depth in (3, 2, 1, 0):
            rows = np.flatnonzero(pending)
            if not len(rows):
                break
            cols = ["period", *STRATUM_COLUMNS[:depth]]
            inv = units.iloc[rows].groupby(cols, observed=True, dropna=False).ngroup()
            inv = inv.to_numpy()
            size = np.bincount(inv)[inv]
            take = size >= 2 if depth else np.ones(len(rows), dtype=bool)
            pool[rows[take]] = next_id + inv[take]
            next_id += int(inv.max()) + 1
            pending[rows[take]] = False
        vs = np.where(lonely, pool, vs)
        _, pool_inv = np.unique(pool[lonely], return_inverse=True)
        n_v[lonely] = np.bincount(pool_inv)[pool_inv]
        big_n_v[lonely] = np.bincount(pool_inv, weights=big_n_v[lonely])[pool_inv]
    units["_vs"] = vs
    units["_nv"] = n_v
    with np.errstate(divide="ignore", invalid="ignore"):
        fpc = np.clip(1.0 - n_v / big_n_v, 0.0, 1.0)
        c = np.where(n_v > 1, fpc * n_v / np.maximum(n_v - 1, 1), 0.0)
    units["_c"] = c
    return units


# ----------------------------------------------------------------------------- the engine
def linearised_estimates(
    units: pd.DataFrame,
    specs: Sequence[Spec],
    *,
    by: Sequence[str] = (),
    level: float = 0.95,
    min_reporters: int = SMALL_DOMAIN_REPORTERS,
    domains: pd.DataFrame | None = None,
    calibration: CalibrationModel | None = None,
    dof: DegreesOfFreedom = "design",
) -> pd.DataFrame:
    """Estimates, Taylor-linearised standard errors and t intervals for each period × domain.

    Parameters
    ----------
    units : DataFrame
        From :func:`build_units` (or several stacked, one ``period`` each).
    specs : list of Spec
        What to estimate.
    by : list of str
        Domain columns; none = the whole population.
    domains : DataFrame, optional
        The ``by`` combinations to report even without reporters (shown with NaN and
        ``n_reporters = 0``, flagged small).
    calibration : CalibrationModel, optional
        The weights ``_w`` are calibrated: the linearised variable of each estimate is replaced
        by its calibration residual (regression on the model's calibration matrix with the
        design weights ``_d``, over all units of the period), g-weighted (Deville–Särndal;
        :mod:`samplekit.calibrated_variance`). ``units`` must then hold every unit of each
        period (not a subset), ``_d`` and the model's columns.
    dof : {"design", "satterthwaite"}
        Degrees of freedom of the t interval. "design": reporters of the domain − variance
        strata holding them. "satterthwaite": the effective df of the stratified variance,
        (Σ_h v_h)² / Σ_h v_h²/(n_h − 1) with v_h the stratum's contribution (of the
        calibration residuals under ``calibration``), at most the design df — small when a
        few strata carry the variance (a closure among a small city's reports).

    Returns
    -------
    DataFrame
        ``by…, period, indicator, estimate, se, ci_low, ci_high, df, n_reporters,
        small_domain``: ``df`` = reporters − variance strata of the domain (at least 1); the
        interval uses the t quantile with ``df``, on the logit scale for bounded shares
        (``Spec.bounded``), on the log scale for positive totals, symmetric otherwise.
    """
    by = list(by)
    keys = ["period", *by]
    w = units["_w"].to_numpy()
    if len(units):
        grp = units.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    else:
        grp = np.zeros(0, dtype=int)
    n_groups = int(grp.max()) + 1 if len(grp) else 0
    needed = sorted({s.numerator for s in specs} | {s.denominator for s in specs if s.denominator})
    totals = {
        v: np.bincount(grp, weights=w * units[v].to_numpy(float), minlength=n_groups)
        for v in needed
    }
    u = np.empty((len(units), len(specs)))
    zmat = np.empty((len(units), len(specs)))
    est = np.empty((n_groups, len(specs)))
    for j, s in enumerate(specs):
        num = units[s.numerator].to_numpy(float)
        if s.denominator is None:
            est[:, j] = totals[s.numerator]
            zmat[:, j] = num
            u[:, j] = w * num
        else:
            den_total = totals[s.denominator]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = totals[s.numerator] / den_total
                z = (num - ratio[grp] * units[s.denominator].to_numpy(float)) / den_total[grp]
            est[:, j] = ratio
            zmat[:, j] = z
            u[:, j] = w * z
    # Σ_h c_h Σ_i (u_hi − ū_h)² with zeros outside the domain = Σ_h c_h (S2 − S1²/n_h), where the
    # sums run over the domain's reporters and n_h counts all the stratum's reporters.
    vs = units["_vs"].to_numpy(np.int64)
    cell = (
        np.unique(grp.astype(np.int64) * (int(vs.max()) + 1) + vs, return_inverse=True)[1]
        if len(units)
        else grp
    )
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    cell_g = np.zeros(n_cells, dtype=int)
    cell_g[cell] = grp
    cell_c = np.zeros(n_cells)
    cell_c[cell] = units["_c"].to_numpy()
    cell_n = np.ones(n_cells)
    cell_n[cell] = units["_nv"].to_numpy()
    var = np.empty((n_groups, len(specs)))
    # Σ_h v_h²/(n_h − 1) per domain and spec, for the Satterthwaite df
    spread = np.zeros((n_groups, len(specs)))
    for j in range(len(specs)):
        uj = np.nan_to_num(u[:, j])
        s1 = np.bincount(cell, weights=uj, minlength=n_cells)
        s2 = np.bincount(cell, weights=uj * uj, minlength=n_cells)
        contrib = cell_c * np.maximum(s2 - s1 * s1 / cell_n, 0.0)
        var[:, j] = np.bincount(cell_g, weights=contrib, minlength=n_groups)
        spread[:, j] = np.bincount(
            cell_g, weights=contrib**2 / np.maximum(cell_n - 1, 1), minlength=n_groups
        )
    if calibration is not None and len(units):
        var = var - _calibration_adjustment(
            units, grp, n_groups, np.nan_to_num(zmat), np.nan_to_num(u), calibration
        )
        if dof == "satterthwaite":
            spread = _calibrated_spread(units, grp, n_groups, np.nan_to_num(zmat), calibration)
    se = np.sqrt(np.maximum(var, 0.0))
    for j, s in enumerate(specs):
        est[:, j] *= s.scale
        se[:, j] *= s.scale
        if s.denominator is not None:
            se[~np.isfinite(est[:, j]), j] = np.nan
    n_rep = np.bincount(grp, minlength=n_groups)
    # Design degrees of freedom of a domain: its reporters minus the variance strata they are in.
    strata_in = np.bincount(cell_g, minlength=n_groups) if n_cells else np.zeros(n_groups, int)
    design_df = np.maximum(n_rep - strata_in, 1)
    df_mat = np.repeat(design_df[:, None], len(specs), axis=1)
    if dof == "satterthwaite":
        v = np.maximum(var, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            satt = np.floor(v * v / spread)
        ok = np.isfinite(satt) & (v > 0)
        df_mat = np.where(ok, np.clip(satt, 1, df_mat), df_mat).astype(np.int64)
    if len(units):
        first = units.groupby(keys, sort=False, observed=True, dropna=False).ngroup()
        key_frame = units.loc[~first.duplicated(), keys].reset_index(drop=True)
        key_frame.index = first[~first.duplicated()].to_numpy()
        key_frame = key_frame.sort_index()
    else:
        key_frame = pd.DataFrame(columns=keys)
    names = [s.name for s in specs]
    out = key_frame.loc[np.repeat(key_frame.index.to_numpy(), len(specs))].reset_index(drop=True)
    out["indicator"] = np.tile(names, n_groups)
    out["estimate"] = est.ravel()
    out["se"] = se.ravel()
    low, high = confidence_interval(
        est,
        se,
        df_mat,
        level=level,
        kind=np.array([_interval_kind(s) for s in specs])[None, :].repeat(n_groups, axis=0),
        scale=np.array([s.scale for s in specs])[None, :].repeat(n_groups, axis=0),
    )
    out["ci_low"] = low.ravel()
    out["ci_high"] = high.ravel()
    out["df"] = df_mat.ravel()
    out["n_reporters"] = np.repeat(n_rep, len(specs))
    if domains is not None and by:
        periods = pd.DataFrame({"period": pd.unique(units["period"])}) if len(units) else None
        if periods is not None:
            grid = (
                domains[by]
                .drop_duplicates()
                .merge(periods, how="cross")
                .merge(pd.DataFrame({"indicator": names}), how="cross")
            )
            out = grid.merge(out, on=[*by, "period", "indicator"], how="left")
            out["n_reporters"] = out["n_reporters"].fillna(0)
            out["df"] = out["df"].fillna(0)
    out["n_reporters"] = out["n_reporters"].astype(int)
    out["df"] = out["df"].astype(int)
    out["small_domain"] = out["n_reporters"] < min_reporters
    order = {name: i for i, name in enumerate(names)}
    out = (
        out.assign(_o=out["indicator"].map(order))
        .sort_values([*by, "period", "_o"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    return out[[*by, *RESULT_COLUMNS]]


def _interval_kind(spec: Spec) -> str:
    if spec.bounded:
        return "logit"
    return "log" if spec.denominator is None else "symmetric"


def confidence_interval(
    estimate: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    *,
    level: float = 0.95,
    kind: np.ndarray | str = "symmetric",
    scale: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """t intervals with ``df`` degrees of freedom, per element.

    ``kind``: "symmetric" (estimate ± t·se); "log" for a positive total (estimate ·
    exp(±t·se/estimate)); "logit" for a share p = estimate/scale in (0, 1)
    (expit(logit p ± t·se/(scale·p(1−p))) · scale). A "log"/"logit" element outside its range
    (0, a total ≤ 0, a share at 0 or 1) gets the symmetric interval.
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    tq = stats.t.ppf(0.5 + level / 2, np.maximum(np.asarray(df, dtype=float), 1.0))
    kind = np.broadcast_to(np.asarray(kind, dtype=object), est.shape)
    scale = np.broadcast_to(np.asarray(scale, dtype=float), est.shape)
    low, high = est - tq * se, est + tq * se
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pos = (kind == "log") & (est > 0) & (se > 0)
        half = tq * se / est
        low = np.where(pos, est * np.exp(-half), low)
        high = np.where(pos, est * np.exp(half), high)
        p = est / scale
        share = (kind == "logit") & (p > 0) & (p < 1) & (se > 0)
        centre = np.log(p / (1 - p))
        half = tq * se / scale / (p * (1 - p))
        low = np.where(share, scale / (1 + np.exp(-(centre - half))), low)
        high = np.where(share, scale / (1 + np.exp(-(centre + half))), high)
    return low, high


def _calibration_arrays(
    units: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated and design weights, the variance factor (1 − f)·n/(n − 1), the variance stratum
    and the period index of the prepared units (one calibration per period)."""
    periods = (
        pd.factorize(units["period"])[0]
        if "period" in units.columns
        else np.zeros(len(units), dtype=np.int64)
    )
    return (
        units["_w"].to_numpy(float),
        units["_d"].to_numpy(float),
        units["_c"].to_numpy(float),
        units["_vs"].to_numpy(np.int64),
        periods,
    )


def _calibration_adjustment(
    units: pd.DataFrame,
    grp: np.ndarray,
    n_groups: int,
    z: np.ndarray,
    a: np.ndarray,
    model: CalibrationModel,
) -> np.ndarray:
    """V₀ − V_cal per group × spec, where V₀ is the stratified variance of a = w·z·1_g and
    V_cal that of the g-weighted calibration residuals w·(z·1_g − M B_g).

    With B_g = (M'DM)⁺ Σ_{i∈g} d_i M_i z_i, centring within variance strata (Mc = wM minus its
    stratum mean) gives V_cal = V₀ − 2 B_g'C_g + B_g'Q B_g, C_g = Σ_{i∈g} c_i a_i Mc_i,
    Q = Σ_i c_i Mc_i Mc_i' — so the residuals outside the domain are never materialised.
    """
    if "_d" not in units.columns:
        raise InputError(
            "calibration-aware variances need the design weights of the units "
            "(build them with design_weight=...), or pass variance='design'"
        )
    out = np.zeros((n_groups, z.shape[1]))
    w, d, c, vs, periods = _calibration_arrays(units)
    for p in range(int(periods.max()) + 1):
        rows = np.flatnonzero(periods == p)
        m = model.matrix(units.iloc[rows])
        k = m.shape[1]
        if k == 0:
            continue
        wm = w[rows, None] * m
        v_code, v_inv = np.unique(vs[rows], return_inverse=True)
        in_v = sparse.csr_matrix(
            (np.ones(len(rows)), (v_inv, np.arange(len(rows)))), shape=(len(v_code), len(rows))
        )
        mc = wm - ((in_v @ wm) / np.bincount(v_inv)[:, None])[v_inv]
        q = (mc * c[rows, None]).T @ mc
        gram = (m * d[rows, None]).T @ m
        pinv = np.linalg.pinv(gram, rcond=1e-10, hermitian=True)
        g_code, g_inv = np.unique(grp[rows], return_inverse=True)
        member = sparse.csr_matrix(
            (np.ones(len(rows)), (g_inv, np.arange(len(rows)))), shape=(len(g_code), len(rows))
        )
        for j in range(z.shape[1]):
            b = (member @ (m * (d[rows] * z[rows, j])[:, None])) @ pinv
            cc = member @ (mc * (c[rows] * a[rows, j])[:, None])
            out[g_code, j] = 2.0 * np.sum(b * cc, axis=1) - np.einsum("gk,kl,gl->g", b, q, b)
    return out


def _calibrated_spread(
    units: pd.DataFrame,
    grp: np.ndarray,
    n_groups: int,
    z: np.ndarray,
    model: CalibrationModel,
) -> np.ndarray:
    """Σ_h v_h²/(n_h − 1) per group × spec, v_h the variance stratum's contribution of the
    g-weighted calibration residuals w·(z·1_g − M B_g) (materialised here, one spec at a
    time: units × groups)."""
    out = np.zeros((n_groups, z.shape[1]))
    w, d, c, vs, periods = _calibration_arrays(units)
    nv = units["_nv"].to_numpy(float)
    for p in range(int(periods.max()) + 1):
        rows = np.flatnonzero(periods == p)
        m = model.matrix(units.iloc[rows])
        v_code, v_inv = np.unique(vs[rows], return_inverse=True)
        in_v = sparse.csr_matrix(
            (np.ones(len(rows)), (v_inv, np.arange(len(rows)))), shape=(len(v_code), len(rows))
        )
        c_v = np.zeros(len(v_code))
        c_v[v_inv] = c[rows]
        n_v = np.ones(len(v_code))
        n_v[v_inv] = nv[rows]
        g_code, g_inv = np.unique(grp[rows], return_inverse=True)
        dm = m * d[rows, None]
        pinv = np.linalg.pinv(dm.T @ m, rcond=1e-10, hermitian=True) if m.shape[1] else None
        for j in range(z.shape[1]):
            e = np.zeros((len(rows), len(g_code)))
            e[np.arange(len(rows)), g_inv] = z[rows, j]
            if pinv is not None:
                e = e - m @ (pinv @ (dm.T @ e))  # residuals on the calibration variables
            uu = w[rows, None] * e
            s1 = in_v @ uu
            s2 = in_v @ (uu * uu)
            contrib = c_v[:, None] * np.maximum(s2 - s1 * s1 / n_v[:, None], 0.0)
            out[g_code, j] = (contrib**2 / np.maximum(n_v - 1, 1)[:, None]).sum(axis=0)
    return out


def indicator_specs() -> list[Spec]:
    """The :data:`INDICATORS` as estimation specs."""
    specs = [
        Spec("baseline_employment", "x"),
        Spec("survey_employment", "y"),
        Spec("net_change_rate", "change", "x", 100.0),
        Spec("job_loss_rate", "reduced", "x", 100.0, bounded=True),
        Spec("share_reducing", "falling", "one", 100.0, bounded=True),
    ]
    specs += [Spec(f"reduced_{t}", f"reduced_{t}") for t in REDUCTION_TYPES]
    specs += [Spec(f"reduced_reason_{k}", f"reduced_reason_{k}") for k in REASON_CODES]
    return specs


def _specs_for(indicators: Sequence[str] | None) -> list[Spec]:
    specs = indicator_specs()
    if indicators is None:
        return specs
    known = {s.name: s for s in specs}
    unknown = [i for i in indicators if i not in known]
    if unknown:
        raise InputError(
            f"unknown indicator(s) {', '.join(unknown)}; choose among {', '.join(INDICATORS)}"
        )
    return [known[i] for i in indicators]


# ----------------------------------------------------------------------------- public API
def resolve_variance(
    sample: pd.DataFrame,
    *,
    weight: str,
    variance: Variance | None,
    calibration: CalibrationModel | None = None,
) -> tuple[str | None, CalibrationModel | None]:
    """The design-weight column and calibration model a ``variance`` choice needs.

    ``None`` (default): "calibrated" when ``weight`` is ``calibrated_weight`` and the table
    has the design weights (``weight``) and ``employees``, else "design". "calibrated" with
    another weight column, or without those columns, is an error.
    """
    if variance not in (None, "calibrated", "design"):
        raise InputError(f"variance={variance!r}: use 'calibrated' or 'design'")
    has = all(c in sample.columns for c in (DESIGN_WEIGHT, SIZE_COLUMN))
    if variance is None:
        variance = "calibrated" if weight == "calibrated_weight" and has else "design"
    if variance == "design":
        return None, None
    if weight == DESIGN_WEIGHT:
        raise InputError(
            f"variance='calibrated' with weight={weight!r}: the design weights are "
            "not calibrated; use weight='calibrated_weight' or variance='design'"
        )
    if not has:
        raise InputError(
            "variance='calibrated' needs the columns 'weight' (design weights) and "
            "'employees' in the membership / sample list; or pass "
            "variance='design'"
        )
    return DESIGN_WEIGHT, calibration or CalibrationModel()


def estimate(
    reports: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    periods: str | list[str],
    by: list[str] | None = None,
    weight: str = "calibrated_weight",
    min_reporters: int = SMALL_DOMAIN_REPORTERS,
    level: float = 0.95,
    indicators: list[str] | None = None,
    nonresponse: Nonresponse = "stratum",
    singleton: Singleton = "collapse",
    out_of_sample: OutOfSample = "error",
    variance: Variance | None = None,
    calibration: CalibrationModel | None = None,
    dof: DegreesOfFreedom = "design",
) -> pd.DataFrame:
    """Design-based estimates of the monitoring indicators for one period and each domain.

    Parameters
    ----------
    reports : DataFrame
        Monthly reports in the canonical layout (``enterprise_id, period, baseline_employment,
        survey_employment, reduction_*`` non-negative, ``reason_1..3``).
    sample : DataFrame
        The membership (panel of record: one row per enterprise × window with ``valid_from``,
        ``valid_to``; each month is estimated from the members in force in it, with their rows'
        weights and strata — docs/estimation.md, "A panel with windows") or a one-window sample
        list (``enterprise_id``, strata ``city, section, size_class, ownership``, the ``weight``
        column, ``cell_frame_units`` = N_h for the finite-population correction), in force in
        every month. A member whose latest earlier report shows 0 employed and who does not
        report counts as a reporter with x = y = 0 (a closure, not non-response).
    periods : str or list of str
        ``"2013-12"``, ``"2013Q4"`` or consecutive months. For several months only members in
        force and reporting in every month count, with the rows in force at the first month
        (:class:`WindowStraddleWarning` when a window takes effect inside the run); baseline =
        the first month's baseline, survey = the last month's survey, reductions are summed.
    by : list of str, optional
        Domain columns of the sample list (e.g. ``["city"]``); none = one province row.
    weight : str
        Weight column of the sample list.
    min_reporters : int
        Domains with fewer reporters are flagged ``small_domain`` (never dropped); the default
        is where the Monte Carlo study finds coverage below 93%.
    level : float
        Confidence level of the t interval (design degrees of freedom; logit scale for
        shares, log scale for positive totals).
    indicators : list of str, optional
        A subset of :data:`INDICATORS` (default all).
    nonresponse : {"stratum", "none"}
        "stratum": weights of reporters are scaled up within each response cell (stratum, or
        its design group) to the cell's member weight total (missing at random within cells);
        a cell without any reporter is collapsed into its nearest cells with reporters
        (:data:`COLLAPSE_LEVELS`, :func:`response_cells`); "none": weights used as given.
    singleton : {"collapse", "zero"}
        Strata with a single reporter (and N_h > 1): pooled with other such strata
        ("collapse"), or contribute zero variance ("zero").
    out_of_sample : {"error", "drop"}
        Reports of enterprises that are not members in force in their month (missing from the
        sample list): an error (default), or dropped.
    variance : {"calibrated", "design"}, optional
        "calibrated": calibration-aware SE (the linearised variable replaced by its
        calibration residual, Deville–Särndal); "design": the stratified SE that ignores the
        calibration. Default: "calibrated" when ``weight`` is ``calibrated_weight`` and the
        table has ``weight`` and ``employees`` (:func:`resolve_variance`).
    calibration : CalibrationModel, optional
        The calibration margins (default: city, section, size_class, ownership × units,
        employment — ``CalibrationSettings``' defaults).
    dof : {"design", "satterthwaite"}
        Degrees of freedom of the intervals (:func:`linearised_estimates`).

    Returns
    -------
    DataFrame
        ``by…, period, indicator, estimate, se, ci_low, ci_high, df, n_members, n_reporters,
        response_rate, small_domain``; rates in %, totals in persons. ``n_members`` = members
        in force in the domain (every month of a run), ``response_rate`` = 100 · n_reporters /
        n_members (:func:`with_response`).

    Examples
    --------
    >>> est = estimate(reports, sample, periods="2013Q4", by=["city"])  # doctest: +SKIP
    >>> est.query("indicator == 'job_loss_rate'")[["city", "estimate", "se"]]  # doctest: +SKIP
    """
    by = list(by or [])
    specs = _specs_for(indicators)
    design_weight, model = resolve_variance(
        sample, weight=weight, variance=variance, calibration=calibration
    )
    units, design = _units_and_design(
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
    domains = sample[by] if by else None
    out = linearised_estimates(
        units,
        specs,
        by=by,
        level=level,
        min_reporters=min_reporters,
        domains=domains,
        calibration=model,
        dof=dof,
    )
    return with_response(out, design, by=by)


#: Response columns beside every estimate (:func:`estimate`, :func:`monthly_series`).
RESPONSE_COLUMNS: list[str] = ["n_members", "n_reporters", "response_rate"]


def with_response(out: pd.DataFrame, design: pd.DataFrame, *, by: Sequence[str]) -> pd.DataFrame:
    """``out`` (a result table with ``period``, ``by…`` and ``n_reporters``) with the members
    of each domain (``n_members``: design rows in force in the period — for a run of months,
    in force in every month) and ``response_rate`` = 100 · n_reporters / n_members, placed
    around ``n_reporters``. A closed member counted as a reporter with 0 employed counts as a
    reporter here too."""
    by = list(by)
    keys = ["period", *by]
    periods = pd.DataFrame({"period": pd.unique(out["period"])})
    if "period" in design.columns:
        rows = design.loc[design["period"].isin(periods["period"]), keys]
    else:  # a one-window sample list: the same members in every period
        rows = design[by].merge(periods, how="cross") if by else periods.iloc[[]]
        if not by:
            rows = pd.DataFrame({"period": np.repeat(periods["period"].to_numpy(), len(design))})
    members = rows.groupby(keys, sort=False, dropna=False).size().rename("n_members")
    res = out.drop(columns=["n_members", "response_rate"], errors="ignore").merge(
        members.reset_index(), on=keys, how="left"
    )
    res["n_members"] = res["n_members"].fillna(0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        res["response_rate"] = np.where(
            res["n_members"] > 0, 100.0 * res["n_reporters"] / res["n_members"], np.nan
        )
    cols = [c for c in out.columns if c not in ("n_members", "response_rate")]
    at = cols.index("n_reporters")
    return res[[*cols[:at], "n_members", "n_reporters", "response_rate", *cols[at + 1 :]]]


def response_cells(
    reports: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    periods: str | list[str],
    weight: str = "calibrated_weight",
    out_of_sample: OutOfSample = "error",
) -> pd.DataFrame:
    """The response cells of the non-response adjustment of one period, and the collapses.

    Parameters
    ----------
    reports, sample, periods, weight, out_of_sample
        As in :func:`estimate` (non-response ``"stratum"``).

    Returns
    -------
    DataFrame
        One row per response cell (stratum; or its ``take_all`` / ``sampled`` design group when
        retained members form their own): ``period, city, section, size_class, ownership,
        design_group, n_members, n_reporters, response_rate, weight_members, weight_reporters,
        adjustment`` (the factor of the cell's reporters' weights, collapse shares included;
        NaN for a cell without reporter), ``collapse_level`` (:data:`COLLAPSE_LEVELS`, ``none``
        = not collapsed, "" = the cell has reporters), ``collapse_level_zh``,
        ``collapsed_into`` (the key of the receiving group, ``/``-joined), ``receiving_reporters``,
        ``weight_added`` (weight received from collapsed cells), ``weight_lost``.
    """
    design_weight, _ = resolve_variance(sample, weight=weight, variance=None)
    found: list[pd.DataFrame] = []
    _units_and_design(
        reports,
        sample,
        periods=periods,
        by=[],
        weight=weight,
        nonresponse="stratum",
        singleton="collapse",
        out_of_sample=out_of_sample,
        design_weight=design_weight,
        cells=found,
    )
    cells = found[0]
    groups = cells.groupby(["period", *STRATUM_COLUMNS], dropna=False)["_h"].transform("size")
    take = cells["_take"].astype(bool) if "_take" in cells.columns else False
    cells["design_group"] = np.where(groups > 1, np.where(take, "take_all", "sampled"), "all")
    with np.errstate(divide="ignore", invalid="ignore"):
        cells["response_rate"] = 100.0 * cells["n_reporters"] / cells["n_members"]
    cells = cells.rename(
        columns={
            "w_members": "weight_members",
            "w_reporters": "weight_reporters",
            "_factor": "adjustment",
        }
    )
    cells["collapse_level_zh"] = cells["collapse_level"].map(COLLAPSE_LEVELS_ZH).fillna("")
    cols = [
        "period",
        *STRATUM_COLUMNS,
        "design_group",
        "n_members",
        "n_reporters",
        "response_rate",
        "weight_members",
        "weight_reporters",
        "adjustment",
        "collapse_level",
        "collapse_level_zh",
        "collapsed_into",
        "receiving_reporters",
        "weight_added",
        "weight_lost",
    ]
    return cells.sort_values(["period", *STRATUM_COLUMNS, "design_group"]).reset_index(drop=True)[
        cols
    ]


def response_summary(
    cells: pd.DataFrame, *, by: Sequence[str] = ("city",), province: str | None = None
) -> pd.DataFrame:
    """Response by domain from :func:`response_cells`: ``period, by…, n_members, n_reporters,
    response_rate, cells, cells_empty, cells_collapsed, weight_members, weight_added,
    weight_lost``; with ``province``, a total row labelled so in the first ``by`` column."""
    by = list(by)
    keys = ["period", *by]
    c = cells.assign(
        _cell=1,
        _empty=(cells["n_reporters"] == 0).astype(int),
        _collapsed=cells["collapse_level"].isin([n for n, _ in COLLAPSE_LEVELS]).astype(int),
    )
    sums = {
        "n_members": ("n_members", "sum"),
        "n_reporters": ("n_reporters", "sum"),
        "cells": ("_cell", "sum"),
        "cells_empty": ("_empty", "sum"),
        "cells_collapsed": ("_collapsed", "sum"),
        "weight_members": ("weight_members", "sum"),
        "weight_added": ("weight_added", "sum"),
        "weight_lost": ("weight_lost", "sum"),
    }
    out = c.groupby(keys, sort=True, dropna=False).agg(**sums).reset_index()
    if province is not None and by:
        total = c.groupby("period", sort=True).agg(**sums).reset_index()
        total[by[0]] = province
        for col in by[1:]:
            total[col] = ""
        out = pd.concat([out, total[out.columns]], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["response_rate"] = 100.0 * out["n_reporters"] / out["n_members"]
    cols = [
        *keys,
        "n_members",
        "n_reporters",
        "response_rate",
        "cells",
        "cells_empty",
        "cells_collapsed",
        "weight_members",
        "weight_added",
        "weight_lost",
    ]
    return out[cols]


def change_between(
    reports: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    period_a: str,
    period_b: str,
    indicator: str,
    by: list[str] | None = None,
    weight: str = "calibrated_weight",
    level: float = 0.95,
    min_reporters: int = SMALL_DOMAIN_REPORTERS,
    nonresponse: Nonresponse = "stratum",
    singleton: Singleton = "collapse",
    out_of_sample: OutOfSample = "error",
    variance: Variance | None = None,
    calibration: CalibrationModel | None = None,
) -> pd.DataFrame:
    """Change of an indicator between two periods on the matched panel.

    Only enterprises that are units of both periods (each a month, a quarter or a run of months)
    count. With a one-window sample list they have the same weights in both; with a membership
    each period keeps its own design rows (weights scaled within that period's strata to its
    members in force; strata, domains and variance strata of period a). The difference
    ``θ_b − θ_a`` is linearised jointly (``u = w_b z_b − w_a z_a`` per enterprise), so the
    covariance between the periods enters the SE. ``variance``/``calibration`` as in
    :func:`estimate` (the difference's linearised variable is regressed on period a's
    calibration matrix); the interval is a symmetric t interval with the matched domain's df.

    Returns
    -------
    DataFrame
        ``by…, period_a, period_b, indicator, estimate_a, estimate_b, estimate`` (= b − a),
        ``se, ci_low, ci_high, df, n_reporters, small_domain``.

    Examples
    --------
    >>> change_between(reports, sample, period_a="2013Q3", period_b="2013Q4",
    ...                indicator="job_loss_rate", by=["city"])  # doctest: +SKIP
    """
    by = list(by or [])
    spec = _specs_for([indicator])[0]
    design_weight, model = resolve_variance(
        sample, weight=weight, variance=variance, calibration=calibration
    )
    kw = {
        "by": by,
        "weight": weight,
        "nonresponse": "none",
        "singleton": singleton,
        "out_of_sample": out_of_sample,
        "design_weight": design_weight,
    }
    ua, design_a = _units_and_design(reports, sample, periods=period_a, **kw)
    ub, design_b = _units_and_design(reports, sample, periods=period_b, **kw)
    label_a, label_b = resolve_periods(period_a)[0], resolve_periods(period_b)[0]
    vars_ = sorted(
        {
            "x",
            "y",
            "one",
            "change",
            "falling",
            "rising",
            "unchanged",
            "climate",
            *_variable_columns(),
        }
    )
    matched = ua[["enterprise_id", *vars_]].merge(
        ub[["enterprise_id", *vars_]], on="enterprise_id", suffixes=("_a", "_b")
    )
    if matched.empty:
        raise InputError(
            f"no enterprise reported in both {label_a} and {label_b}; the change "
            "is estimated on the matched panel only"
        )
    label = f"{label_a}→{label_b}"
    if is_membership(sample):
        # Each period keeps its own design rows: strata, domains and variance strata of the
        # change are period a's; period b enters through its weights, w_b = r · w_a.
        units = _attach_design(
            matched.assign(period=label),
            design_a.assign(period=label),
            nonresponse=nonresponse,
            singleton=singleton,
        )
        w_b = _attach_design(
            matched.assign(period=label),
            design_b.assign(period=label),
            nonresponse=nonresponse,
            singleton=singleton,
        )["_w"].to_numpy()
        ratio = w_b / units["_w"].to_numpy()
        for v in vars_:
            units[f"{v}_b"] = units[f"{v}_b"].to_numpy(float) * ratio
    else:
        units = _attach_design(
            matched.assign(period=label), design_a, nonresponse=nonresponse, singleton=singleton
        )
    # Linearised variable of the difference: z_b − z_a (each from its own ratio and total).
    specs_ab = []
    for suffix in ("_a", "_b"):
        specs_ab.append(
            Spec(
                f"{spec.name}{suffix}",
                spec.numerator + suffix,
                None if spec.denominator is None else spec.denominator + suffix,
                spec.scale,
            )
        )
    parts = linearised_estimates(units, specs_ab, by=by, level=level, min_reporters=min_reporters)
    diff = _difference_se(units, specs_ab, by=by, calibration=model)
    wide = parts.pivot_table(
        index=[*by, "period"] if by else ["period"],
        columns="indicator",
        values="estimate",
        dropna=False,
        observed=True,
    )
    n_rep = parts.drop_duplicates([*by, "period"]).set_index([*by, "period"])["n_reporters"]
    out = wide.reset_index().rename(
        columns={specs_ab[0].name: "estimate_a", specs_ab[1].name: "estimate_b"}
    )
    out.columns.name = None
    out = out.merge(diff, on=[*by, "period"], how="left")
    out["n_reporters"] = out.set_index([*by, "period"]).index.map(n_rep).to_numpy()
    out["estimate"] = out["estimate_b"] - out["estimate_a"]
    out["df"] = out["df"].fillna(1).astype(int)
    out["ci_low"], out["ci_high"] = confidence_interval(
        out["estimate"].to_numpy(float),
        out["se"].to_numpy(float),
        out["df"].to_numpy(),
        level=level,
    )
    out["period_a"], out["period_b"], out["indicator"] = label_a, label_b, indicator
    out["n_reporters"] = out["n_reporters"].fillna(0).astype(int)
    out["small_domain"] = out["n_reporters"] < min_reporters
    cols = [
        *by,
        "period_a",
        "period_b",
        "indicator",
        "estimate_a",
        "estimate_b",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "df",
        "n_reporters",
        "small_domain",
    ]
    return out.sort_values(by or ["period_a"], kind="stable").reset_index(drop=True)[cols]


def _difference_se(
    units: pd.DataFrame,
    specs_ab: Sequence[Spec],
    *,
    by: Sequence[str],
    calibration: CalibrationModel | None = None,
) -> pd.DataFrame:
    """SE of ``θ_b − θ_a``: the linearised variables of both, differenced, as one total."""
    keys = ["period", *by]
    grp = units.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    w = units["_w"].to_numpy()
    zs = []
    for s in specs_ab:
        num = units[s.numerator].to_numpy(float)
        t_num = np.bincount(grp, weights=w * num)
        if s.denominator is None:
            zs.append(num * s.scale)
        else:
            den = units[s.denominator].to_numpy(float)
            t_den = np.bincount(grp, weights=w * den)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = t_num / t_den
                zs.append(s.scale * (num - ratio[grp] * den) / t_den[grp])
    tmp = units.assign(_dz=zs[1] - zs[0])
    res = linearised_estimates(tmp, [Spec("d", "_dz")], by=by, calibration=calibration)
    return res[[*by, "period", "se", "df"]]


def monthly_series(
    reports: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    indicator: str,
    by: list[str] | None = None,
    weight: str = "calibrated_weight",
    level: float = 0.95,
    min_reporters: int = SMALL_DOMAIN_REPORTERS,
    nonresponse: Nonresponse = "stratum",
    singleton: Singleton = "collapse",
    out_of_sample: OutOfSample = "error",
    variance: Variance | None = None,
    calibration: CalibrationModel | None = None,
) -> pd.DataFrame:
    """Monthly estimates of one indicator for every month in the reports (vectorised).

    Each month from its members in force (``sample`` as in :func:`estimate`: a membership or a
    one-window sample list), closures counting as reporters with 0 employed; ``variance`` and
    ``calibration`` as in :func:`estimate` (residuals per month, from that month's rows).

    Returns
    -------
    DataFrame
        ``period, by…, estimate, se, ci_low, ci_high, df, n_members, n_reporters,
        response_rate, small_domain``, sorted by period then domain; the months are those
        present in ``reports``.

    Examples
    --------
    >>> monthly_series(reports, sample, indicator="job_loss_rate", by=["city"])  # doctest: +SKIP
    """
    by = list(by or [])
    spec = _specs_for([indicator])[0]
    design_weight, model = resolve_variance(
        sample, weight=weight, variance=variance, calibration=calibration
    )
    rep = prepare_reports(reports)
    months = sorted(pd.unique(rep["period"]))
    closures = _closure_reports(reports, months)
    if is_membership(sample):
        rows, individual = prepare_membership(
            sample, weight=weight, by=by, design_weight=design_weight
        )
        design = design_by_month(rows, months)
        rep = _drop_trial(rep, sample)
        if len(closures):
            rep = pd.concat(
                [rep.assign(_closed=False), closures.assign(_closed=True)], ignore_index=True
            )
            if individual:
                rep = rep.loc[~rep["enterprise_id"].isin(individual)]
            rep = _not_in_force(rep, design, out_of_sample=out_of_sample)
        elif individual:
            rep = rep.loc[~rep["enterprise_id"].isin(individual)].reset_index(drop=True)
    else:
        design = prepare_sample(sample, weight=weight, by=by, design_weight=design_weight)
        closures = closures.loc[closures["enterprise_id"].isin(design["enterprise_id"])]
        if len(closures):
            rep = pd.concat([rep, closures], ignore_index=True)
    units = _attach_design(
        _derive(rep),
        design,
        nonresponse=nonresponse,
        singleton=singleton,
        out_of_sample=out_of_sample,
    )
    res = linearised_estimates(
        units,
        [spec],
        by=by,
        level=level,
        min_reporters=min_reporters,
        domains=sample[by] if by else None,
        calibration=model,
    )
    res = with_response(res, design, by=by)
    cols = [
        "period",
        *by,
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "df",
        *RESPONSE_COLUMNS,
        "small_domain",
    ]
    return res.sort_values(["period", *by], kind="stable").reset_index(drop=True)[cols]


# ---------------------------------------------------------------- legacy panel, user tables
def panel_sensitivity(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    periods: str | list[str],
    by: list[str] | None = None,
    indicators: list[str] | None = None,
    level: float = 0.95,
    out_of_sample: OutOfSample = "error",
) -> pd.DataFrame:
    """Estimates under the two treatments of the retained legacy panel, side by side.

    "two_group" uses the design weights of the membership (``weight``: retained members a
    take-all group, fresh units a probability sample of the rest of their cell —
    docs/selection.md); "quasi" treats each cell's members as one SRS of ``cell_n`` from
    ``cell_frame_units`` (weight N_h/n_h, the quasi-randomisation treatment). Both with design
    weights and design SEs, so that the difference is the treatment's alone.

    Returns
    -------
    DataFrame
        ``by…, period, indicator, estimate, se, estimate_quasi, se_quasi, difference``
        (quasi − two_group), ``material`` (|difference| > the two-group SE: the treatment of the
        legacy panel moves the estimate by more than its sampling error) and ``n_reporters``.
    """
    _check_columns(
        membership,
        [DESIGN_WEIGHT, "cell_frame_units", "cell_n"],
        "the membership table",
        "the sensitivity check needs the design weights and "
        "the cells' N_h and n_h of the selection",
    )
    by = list(by or [])
    kw = {
        "periods": periods,
        "by": by,
        "indicators": indicators,
        "level": level,
        "weight": DESIGN_WEIGHT,
        "variance": "design",
        "out_of_sample": out_of_sample,
    }
    two = estimate(reports, membership, **kw)
    quasi_w = pd.to_numeric(membership["cell_frame_units"], errors="coerce") / pd.to_numeric(
        membership["cell_n"], errors="coerce"
    )
    # the quasi treatment has no take-all group: its weights are never exactly 1 unless n = N
    quasi = estimate(reports, membership.assign(**{DESIGN_WEIGHT: quasi_w}), **kw)
    keys = [*by, "period", "indicator"]
    out = two[[*keys, "estimate", "se", "n_reporters"]].merge(
        quasi[[*keys, "estimate", "se"]].rename(
            columns={"estimate": "estimate_quasi", "se": "se_quasi"}
        ),
        on=keys,
    )
    out["difference"] = out["estimate_quasi"] - out["estimate"]
    out["material"] = out["difference"].abs() > out["se"]
    return out[
        [
            *keys,
            "estimate",
            "se",
            "estimate_quasi",
            "se_quasi",
            "difference",
            "material",
            "n_reporters",
        ]
    ]


#: Chinese headers of :func:`domain_estimates` tables.
ESTIMATE_HEADERS_ZH: dict[str, str] = {
    "period": "期别",
    "indicator": "指标代码",
    "indicator_name": "指标",
    "estimate": "估计值",
    "se": "标准误",
    "ci_low": "95%置信下限",
    "ci_high": "95%置信上限",
    "df": "自由度",
    "n_members": "在册监测企业数",
    "n_reporters": "报送企业数",
    "response_rate": "报送率(%)",
    "small_domain": "样本过少",
    "design_group": "设计组",
    "weight_members": "在册企业权数合计",
    "weight_reporters": "报送企业权数合计",
    "adjustment": "无回答调整系数",
    "collapse_level": "合并层级代码",
    "collapse_level_zh": "无报送单元的合并方式",
    "collapsed_into": "并入单元",
    "receiving_reporters": "承接的报送企业数",
    "weight_added": "并入权数",
    "weight_lost": "缺失权数",
    "cells": "回答单元数",
    "cells_empty": "无报送单元数",
    "cells_collapsed": "已合并单元数",
    "weights": "权数",
    "network": "监测网络",
    "city": "地市",
    "section": "行业门类",
    "size_class": "企业规模",
    "ownership": "所有制",
    "ministry": "人社部月报网络",
    "estimate_quasi": "估计值(准随机化处理)",
    "difference": "两种处理之差",
    "material": "差异显著",
}


def domain_estimates(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    period: str,
    by: list[str] | None = None,
    weights: Literal["calibrated", "design"] = "calibrated",
    network: Network = "province",
    level: float = 0.95,
    min_reporters: int = SMALL_DOMAIN_REPORTERS,
    indicators: list[str] | None = None,
    dof: DegreesOfFreedom = "design",
) -> pd.DataFrame:
    """The user-facing estimates table (``samplekit estimate`` and the notebooks).

    Parameters
    ----------
    reports, membership
        The store's reports and membership (panel of record).
    period : str
        A month ``YYYY-MM`` or a quarter ``YYYYQn``.
    by : list of str, optional
        Domain columns of the membership (none = the province).
    weights : {"calibrated", "design"}
        Calibrated weights with calibration-aware SEs, or design weights with design SEs.
    network : {"province", "ministry"}
        Monitoring network (:func:`network_members`).
    dof : {"design", "satterthwaite"}
        Degrees of freedom of the intervals (:func:`linearised_estimates`).

    Returns
    -------
    DataFrame
        :func:`estimate`'s table with ``indicator_name`` (Chinese), ``weights`` and ``network``.
    """
    if weights not in ("calibrated", "design"):
        raise InputError(f"weights={weights!r}: use 'calibrated' or 'design'")
    members = network_members(membership, network=network)
    rep = network_reports(reports, membership, network=network)
    out = estimate(
        rep,
        members,
        periods=period,
        by=by,
        level=level,
        min_reporters=min_reporters,
        indicators=indicators,
        weight="calibrated_weight" if weights == "calibrated" else DESIGN_WEIGHT,
        variance=weights,
        dof=dof,
    )
    out.insert(len(by or []) + 2, "indicator_name", out["indicator"].map(INDICATOR_NAMES_ZH))
    return out.assign(weights=weights, network=network)


def response_tables(
    reports: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    period: str,
    weights: Literal["calibrated", "design"] = "calibrated",
    network: Network = "province",
    province: str = "全省",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(by_city, cells)``: the response of one period by city (with a ``province`` row) and
    by response cell with the collapses — the tables ``samplekit estimate`` writes beside the
    estimates (:func:`response_cells`, :func:`response_summary`)."""
    if weights not in ("calibrated", "design"):
        raise InputError(f"weights={weights!r}: use 'calibrated' or 'design'")
    members = network_members(membership, network=network)
    rep = network_reports(reports, membership, network=network)
    cells = response_cells(
        rep,
        members,
        periods=period,
        weight="calibrated_weight" if weights == "calibrated" else DESIGN_WEIGHT,
    )
    return response_summary(cells, by=["city"], province=province), cells
