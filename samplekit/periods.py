"""Reporting periods: months ``YYYY-MM`` and quarters ``YYYYQn``."""

from __future__ import annotations

import re

import pandas as pd

#: A month ``YYYY-MM`` (groups: year, month) and a quarter ``YYYYQn`` (groups: year, quarter).
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_label(month: str) -> str:
    """The quarter of a month: ``"2013-11"`` -> ``"2013Q4"``."""
    return str(pd.Period(month, freq="M").asfreq("Q"))


def quarter_months(quarter: str) -> list[str]:
    """The three months of a quarter: ``"2013Q4"`` -> ``["2013-10", "2013-11", "2013-12"]``."""
    q = pd.Period(quarter, freq="Q")
    return [str(q.asfreq("M", "start") + k) for k in range(3)]


def quarters_back(quarter: str, n: int) -> list[str]:
    """The ``n`` quarters ending with ``quarter``, oldest first."""
    q = pd.Period(quarter, freq="Q")
    return [str(q - k) for k in range(n - 1, -1, -1)]


def previous_period(period: str) -> str:
    """The month before ``period`` (``2013-01`` -> ``2012-12``)."""
    return str(pd.Period(period, freq="M") - 1)


def next_periods(last: str, h: int) -> list[str]:
    """The ``h`` periods after ``last`` (months ``YYYY-MM`` or quarters ``YYYYQn``)."""
    freq = "Q" if "Q" in last else "M"
    p = pd.Period(last, freq=freq)
    return [str(p + k) for k in range(1, h + 1)]


def month_range(start: str, end: str) -> list[str]:
    """Months ``YYYY-MM`` from ``start`` to ``end`` inclusive."""
    return [str(p) for p in pd.period_range(start, end, freq="M")]
