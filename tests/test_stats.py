"""The A/B statistics against hand-computed cases."""

import math

import numpy as np
import pytest
from scipy import stats

from ganforge.core.errors import ConfigError
from ganforge.stats import (
    compare_pair,
    holm,
    min_mwu_p,
    pairwise_table,
    probability_of_improvement,
    summarize,
)


def test_summary_values_and_interval_contain_the_mean():
    s = summarize([1.0, 2.0, 3.0, 4.0, 10.0])
    assert s.n == 5 and s.mean == 4.0 and s.median == 3.0
    assert s.std == pytest.approx(np.std([1, 2, 3, 4, 10], ddof=1))
    assert s.ci_low < s.mean < s.ci_high and not s.few_seeds
    assert summarize([1.0, 2.0, 3.0]).few_seeds


def test_summary_edge_cases():
    one = summarize([2.5])
    assert one.n == 1 and one.std is None and one.ci_low is None
    same = summarize([3.0, 3.0, 3.0])
    assert same.ci_low == same.ci_high == 3.0
    assert summarize([1.0, float("nan"), 3.0]).n == 2


def test_holm_order_and_adjusted_values():
    # sorted p: 0.01 (x4), 0.02 (x3), 0.03 (x2), 0.04 (x1), with step-down monotonicity
    assert holm([0.04, 0.01, 0.03, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.001, 0.5]) == pytest.approx([0.002, 0.5])
    with_gap = holm([0.3, None, 0.9])
    assert with_gap[1] is None and with_gap[0] == pytest.approx(0.6) and with_gap[2] == pytest.approx(0.9)
    assert holm([0.6, 0.6]) == [1.0, 1.0]


def test_probability_of_improvement_respects_direction_and_ties():
    assert probability_of_improvement([3, 4], [1, 2], higher_is_better=True) == 1.0
    assert probability_of_improvement([3, 4], [1, 2], higher_is_better=False) == 0.0
    assert probability_of_improvement([1, 2], [2, 2], higher_is_better=True) == pytest.approx(
        (0 + 0.5 * 2) / 4
    )


def test_a_known_difference_is_detected():
    rng = np.random.default_rng(0)
    a, b = rng.normal(10.0, 1.0, 8), rng.normal(20.0, 1.0, 8)
    table = pairwise_table({"A": a, "B": b}, higher_is_better=False, alpha=0.05)  # lower is better (FID)
    assert table[0].verdict == "A better" and table[0].welch_p < 1e-6 and table[0].prob_improvement == 1.0


def test_identical_distributions_are_not_called_different():
    rng = np.random.default_rng(1)
    calls = 0
    for _ in range(40):
        table = pairwise_table({"A": rng.normal(0, 1, 6), "B": rng.normal(0, 1, 6)}, True, 0.05)
        calls += not table[0].verdict.startswith("no significant difference at α=0.05")
    assert calls <= 5  # about 5% false positives at α=0.05


def test_a_no_difference_verdict_states_the_smallest_effect_its_seeds_could_detect():
    """The stated effect is detected about 80% of the time by Welch's t at α (simulated with
    the same spread), and a null verdict names it with the observed difference."""
    table = pairwise_table({"A": [203.0, 150.0, 260.0], "B": [69.0, 75.0, 64.0]}, False, 0.05)
    mde = table[0].min_detectable
    assert mde is not None and mde > abs(203.0 - 69.0) * 0.5
    rng = np.random.default_rng(0)
    spread_a, spread_b = np.std([203.0, 150.0, 260.0], ddof=1), np.std([69.0, 75.0, 64.0], ddof=1)
    hits = 0
    for _ in range(2000):
        a, b = rng.normal(mde, spread_a, 3), rng.normal(0.0, spread_b, 3)
        hits += stats.ttest_ind(a, b, equal_var=False).pvalue < 0.05
    assert 0.7 < hits / 2000 < 0.9
    null = pairwise_table({"A": [1.0, 2.0, 3.0], "B": [1.5, 2.5, 2.0]}, True, 0.05)[0]
    assert null.verdict.startswith("no significant difference at α=0.05; these seeds detect only |Δ| ≥ ")
    assert "Δ here +0" in null.verdict


def test_welch_matches_scipy_by_hand():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0]
    mean_a, mean_b, var_a, var_b = 2.5, 5.0, np.var(a, ddof=1), np.var(b, ddof=1)
    t = (mean_a - mean_b) / math.sqrt(var_a / 4 + var_b / 4)
    dof = (var_a / 4 + var_b / 4) ** 2 / ((var_a / 4) ** 2 / 3 + (var_b / 4) ** 2 / 3)
    from scipy import stats as st

    assert compare_pair("a", a, "b", b, True).welch_p == pytest.approx(2 * st.t.sf(abs(t), dof))


def test_three_seeds_cannot_reach_significance_with_mann_whitney():
    assert min_mwu_p(3, 3) == pytest.approx(0.1)
    table = pairwise_table({"A": [1, 2, 3], "B": [10, 11, 12]}, True, 0.05)
    assert "Mann-Whitney cannot reach" in table[0].power_note
    assert table[0].verdict == "B better"  # Welch's t still can


def test_holm_applies_across_the_table():
    arms = {"A": [1.0, 1.1, 0.9, 1.05], "B": [1.5, 1.6, 1.4, 1.55], "C": [1.02, 1.0, 0.98, 1.1]}
    table = pairwise_table(arms, False, 0.05)
    raw = [c.welch_p for c in table]
    assert [c.welch_p_holm for c in table] == pytest.approx(holm(raw))
    assert {(c.a, c.b) for c in table} == {("A", "B"), ("A", "C"), ("B", "C")}


def test_bad_alpha():
    with pytest.raises(ConfigError, match="alpha"):
        pairwise_table({"A": [1, 2], "B": [3, 4]}, True, 1.5)
