"""The rules defined once: mass layoff and eligibility, against hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samplekit.errors import ParamsError
from samplekit.params import load_params
from samplekit.rules import EligibilityRule, MassLayoffRule


def test_mass_layoff_persons_or_share():
    rule = MassLayoffRule(min_persons=100, min_share=0.10)
    fall = np.array([100, 99, 20, 0, 5])
    base = np.array([5000, 5000, 200, 10, 0])
    by_persons, by_share = rule.criteria(fall, base)
    assert by_persons.tolist() == [True, False, False, False, False]
    assert by_share.tolist() == [False, False, True, False, False]  # 20/200 = 10 % exactly
    assert rule.mask(fall, base).tolist() == [True, False, True, False, False]


def test_old_mass_layoff_keys_are_refused_with_the_new_key(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("monthly:\n  validation: {mass_layoff_persons: 50}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"moved to 'monthly\.mass_layoff'"):
        load_params(p)
    p.write_text("monthly:\n  mass_layoff: {min_persons: 50, min_share: 0.2}\n", encoding="utf-8")
    rule = MassLayoffRule.from_params(load_params(p))
    assert (rule.min_persons, rule.min_share) == (50, 0.2)


def test_eligibility_from_the_allocation_rules_on_arrow_strings():
    from samplekit.allocation import AllocationSettings

    rules = AllocationSettings.from_params(load_params()).rules
    rule = EligibilityRule.from_rules(rules)
    frame = pd.DataFrame(
        {
            "status": pd.array(["active", "active", "closed", "active"], dtype="string[pyarrow]"),
            "size_class": pd.array(["small", "micro", "small", "large"], dtype="string[pyarrow]"),
        }
    )
    assert rule.mask(frame).tolist() == [True, False, False, True]
    assert "微型" in rule.describe_zh()
