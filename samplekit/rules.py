"""Rules that several steps apply, each defined once and read from params in one place.

* :class:`MassLayoffRule` — an enterprise cutting at least ``min_persons`` people, or at least
  ``min_share`` of its baseline employment, in one month (seed 002: such plans are reported to the
  labour department in advance). The monthly check flags it, the monthly tables list it, the
  warning counts it. Params: ``monthly.mass_layoff: {min_persons, min_share}``.
* :class:`EligibilityRule` — which register units may enter the panel: an ``active`` status and
  not excluded by an ``exclude`` rule of the allocation (micro enterprises in the demo). Allocation
  counts the frame by it, selection draws from it, the register summary reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from samplekit.errors import ParamsError


@dataclass(frozen=True)
class MassLayoffRule:
    """A month's fall of at least ``min_persons`` people or ``min_share`` of the baseline."""

    min_persons: int = 100
    min_share: float = 0.10

    KEY = "monthly.mass_layoff"

    @classmethod
    def from_params(cls, params: Any) -> MassLayoffRule:
        """Read ``monthly.mass_layoff`` (defaults: 100 persons, 10 %)."""
        if params is None:
            return cls()
        for old in (
            "monthly.validation.mass_layoff_persons",
            "monthly.validation.mass_layoff_share",
            "warning.mass_layoffs",
        ):
            if params.get(old, None) is not None:
                raise ParamsError(
                    f"{params.path}: key '{old}' moved to '{cls.KEY}' "
                    "(min_persons, min_share): the mass-layoff rule is defined once for the "
                    "monthly check, the monthly tables and the warning"
                )
        raw = params.get(cls.KEY, {})
        if not isinstance(raw, Mapping) or set(raw) - {"min_persons", "min_share"}:
            raise ParamsError(
                f"{params.path}: '{cls.KEY}' takes min_persons and min_share, found {raw!r}"
            )
        d = cls()
        return cls(
            min_persons=int(params.number(f"{cls.KEY}.min_persons", d.min_persons, low=1)),
            min_share=float(params.number(f"{cls.KEY}.min_share", d.min_share, low=0, high=1)),
        )

    def criteria(
        self, fall: pd.Series | np.ndarray, baseline: pd.Series | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(by_persons, by_share)``: which rows meet each criterion (a fall is positive)."""
        fall = np.asarray(fall, dtype=float)
        base = np.asarray(baseline, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(base > 0, fall / base, np.nan)
        by_persons = fall >= self.min_persons
        by_share = (fall > 0) & (np.nan_to_num(share, nan=-1.0) >= self.min_share - 1e-12)
        return by_persons, by_share

    def mask(self, fall: pd.Series | np.ndarray, baseline: pd.Series | np.ndarray) -> np.ndarray:
        """Rows that are mass layoffs under the rule."""
        by_persons, by_share = self.criteria(fall, baseline)
        return by_persons | by_share

    def describe_zh(self) -> str:
        """The rule in words, for tables and reports."""
        return f"单月减员{self.min_persons}人及以上或减员占比{self.min_share:.0%}及以上"


@dataclass(frozen=True)
class EligibilityRule:
    """Register units that may enter the panel.

    ``statuses``: register statuses that may be selected (``active``); ``exclude``: conditions
    (column → values) that exclude a unit, taken from the allocation's ``exclude`` rules of scope
    ``sample`` (e.g. ``{"size_class": ("micro",)}``).
    """

    statuses: tuple[str, ...] = ("active",)
    exclude: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] = ((("size_class", ("micro",)),),)

    @classmethod
    def from_rules(cls, rules: Any) -> EligibilityRule:
        """From the allocation's rules: every ``exclude`` rule of scope ``sample``."""
        exclude = []
        for rule in rules:
            if getattr(rule, "kind", None) == "exclude" and getattr(rule, "scope", "") == "sample":
                where = getattr(rule, "where", {}) or {}
                items = where.items() if isinstance(where, Mapping) else where
                exclude.append(tuple((str(k), tuple(map(str, v))) for k, v in items))
        return cls(exclude=tuple(exclude))

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Eligible rows of a classified register."""
        ok = np.array(frame["status"].astype(str).isin(self.statuses), dtype=bool)
        for condition in self.exclude:
            hit = np.ones(len(frame), dtype=bool)
            for column, values in condition:
                hit &= np.array(frame[column].astype(str).isin(values), dtype=bool)
            ok &= ~hit
        return ok

    def describe_zh(self) -> str:
        """The rule in words."""
        parts = ["正常经营"]
        names = {
            "size_class": {"micro": "微型", "large": "大型", "medium": "中型", "small": "小型"}
        }
        for condition in self.exclude:
            text = "、".join(
                "、".join(names.get(c, {}).get(v, v) for v in values) for c, values in condition
            )
            parts.append(f"不含{text}企业")
        return ",".join(parts)
