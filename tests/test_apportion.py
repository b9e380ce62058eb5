"""Apportionment methods: textbook cases, paradoxes, bounds and the divisor-method property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplekit.apportion import METHODS, apportion, proportional_quotas
from samplekit.errors import InfeasibleError


def test_alabama_paradox_for_largest_remainder():
    # Populations 6, 6, 2 (total 14). House 10: quotas 4.29, 4.29, 1.43 -> floors 4, 4, 1 and
    # the one seat left goes to the largest remainder (0.43, the third state): 4, 4, 2.
    # House 11: quotas 4.71, 4.71, 1.57 -> floors 4, 4, 1, two seats left go to 0.71, 0.71:
    # 5, 5, 1. The house grew and the third state lost a seat.
    assert apportion([6, 6, 2], 10).tolist() == [4, 4, 2]
    assert apportion([6, 6, 2], 11).tolist() == [5, 5, 1]


@pytest.mark.parametrize("method", ["webster", "huntington_hill"])
def test_no_alabama_paradox_for_divisor_methods_on_the_textbook_case(method):
    small, large = apportion([6, 6, 2], 10, method=method), apportion([6, 6, 2], 11, method=method)
    assert (large >= small).all()


def test_three_methods_on_a_hand_worked_case():
    # Weights 43, 39, 14, 4, house 10 (standard divisor 10; quotas 4.3, 3.9, 1.4, 0.4).
    # Hamilton: floors 4,3,1,0 (8); remainders .3 .9 .4 .4 -> B, then C (tie with D, larger
    # weight first): 4, 4, 2, 0.
    # Webster: rounding at x.5 gives 4,4,1,0 (9); next seat by w/(a+.5): A 43/4.5=9.56 beats
    # C 14/1.5=9.33, B 39/4.5=8.67, D 4/.5=8: 5, 4, 1, 0 (divisor 9.5 reproduces it).
    # Huntington-Hill: round up above sqrt(a(a+1)): 4.3<4.47 -> 4; 3.9>3.46 -> 4;
    # 1.4<1.414 -> 1; 0.4>0 -> 1: 4, 4, 1, 1 (10 seats at divisor 10).
    w = [43, 39, 14, 4]
    assert apportion(w, 10, method="largest_remainder").tolist() == [4, 4, 2, 0]
    assert apportion(w, 10, method="webster").tolist() == [5, 4, 1, 0]
    assert apportion(w, 10, method="huntington_hill").tolist() == [4, 4, 1, 1]


def test_bounds_are_respected_and_surplus_goes_proportionally():
    # B is lifted to its floor 3; the other 7 seats follow the weights 100 : 1 of A and C
    a = apportion([100, 1, 1], 10, lower=[0, 3, 0])
    assert a.tolist() == [7, 3, 0]
    # a cap on A pushes seats to the others
    a = apportion([100, 10, 10], 12, upper=[4, 100, 100], method="webster")
    assert a.tolist() == [4, 4, 4]


def test_infeasible_bounds_raise_with_diagnosis():
    with pytest.raises(InfeasibleError) as err:
        apportion([1, 1, 1], 10, lower=[4, 4, 4], labels=["甲", "乙", "丙"])
    assert "12 > total 10" in str(err.value)
    assert err.value.diagnosis["slack"].tolist() == [2]
    with pytest.raises(InfeasibleError) as err:
        apportion([1, 1], 10, upper=[3, 4])
    assert "add up to 7 < total 10" in str(err.value)


def _divisor_priority(method: str, w: float, seats: float) -> float:
    if w == 0:
        return 0.0
    d = seats + 0.5 if method == "webster" else math.sqrt(seats * (seats + 1))
    return math.inf if d == 0 else w / d


weights_st = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=8).filter(
    lambda w: sum(w) > 0
)


@settings(max_examples=60, deadline=None)
@given(w=weights_st, total=st.integers(min_value=0, max_value=60), method=st.sampled_from(METHODS))
def test_exact_total_and_bounds(w, total, method):
    rng = np.random.default_rng(len(w) * 1000 + total)
    lower = rng.integers(0, 3, len(w))
    upper = lower + rng.integers(0, 30, len(w))
    if lower.sum() > total or upper.sum() < total:
        with pytest.raises(InfeasibleError):
            apportion(w, total, method=method, lower=lower, upper=upper)
        return
    a = apportion(w, total, method=method, lower=lower, upper=upper)
    assert a.sum() == total
    assert (a >= lower).all() and (a <= upper).all()


@settings(max_examples=60, deadline=None)
@given(w=weights_st, total=st.integers(min_value=1, max_value=60))
def test_largest_remainder_stays_within_quota(w, total):
    q = np.asarray(w, float) * total / sum(w)
    a = apportion(w, total)
    assert (a >= np.floor(q) - 1e-9).all() and (a <= np.ceil(q) + 1e-9).all()


@settings(max_examples=60, deadline=None)
@given(
    w=weights_st,
    total=st.integers(min_value=1, max_value=60),
    method=st.sampled_from(["webster", "huntington_hill"]),
)
def test_divisor_methods_are_house_monotone_and_satisfy_the_min_max_inequality(w, total, method):
    a = apportion(w, total, method=method)
    b = apportion(w, total + 1, method=method)
    assert (b >= a).all()  # no Alabama paradox
    # defining property of a divisor method: the last seat given has a priority at least as
    # high as every seat not given (max over units of the next seat <= min over given seats)
    next_seat = max(_divisor_priority(method, wi, ai) for wi, ai in zip(w, a, strict=True))
    last_seat = min(
        (_divisor_priority(method, wi, ai - 1) for wi, ai in zip(w, a, strict=True) if ai > 0),
        default=math.inf,
    )
    assert next_seat <= last_seat + 1e-12


def test_huntington_hill_gives_everyone_a_seat_first():
    a = apportion([1000, 1, 1], 3, method="huntington_hill")
    assert a.tolist() == [1, 1, 1]


def test_quotas_add_up_and_respect_bounds():
    q = proportional_quotas(
        np.array([5.0, 3.0, 2.0]), 20.0, np.array([0.0, 0.0, 6.0]), np.array([8.0, 100.0, 100.0])
    )
    assert q.sum() == pytest.approx(20.0)
    assert q[0] == pytest.approx(8.0) and q[2] >= 6.0
