"""FD∞ against Gaussians whose true Fréchet distance is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from ganforge.core.errors import DataError
from ganforge.metrics.frechet import FeatureStats, frechet_distance
from ganforge.metrics.frechet_infinity import frechet_infinity, subset_sizes

DIMS = 64
TARGET_COV = np.diag(np.linspace(0.25, 4.0, DIMS))


def test_fd_infinity_lands_closer_to_the_true_distance_than_fd_at_the_largest_n():
    """Samples of N(0, I) against the exact statistics of N(0, diag(0.25..4)): the distance
    of 1,000 samples is biased upwards (by about 1.6 here) and FD∞ removes most of it, on
    every one of 8 draws."""
    truth = frechet_distance(np.zeros(DIMS), np.eye(DIMS), np.zeros(DIMS), TARGET_COV)
    reference = FeatureStats(np.zeros(DIMS), TARGET_COV, 10**9)
    for seed in range(8):
        samples = np.random.default_rng(seed).standard_normal((1000, DIMS))
        fit = frechet_infinity(reference, samples, seed=seed)
        assert fit.sizes[-1] == 1000 and len(fit.sizes) >= 5
        at_largest = fit.distances[-1]
        assert at_largest - truth > 1.0  # the bias FD∞ exists to remove
        assert abs(fit.value - truth) < abs(at_largest - truth) / 2
        assert fit.slope > 0 and fit.r2 > 0.9


def test_fd_infinity_is_deterministic_for_a_seed_and_reports_its_fit():
    reference = FeatureStats(np.zeros(8), np.eye(8), 10**9)
    samples = np.random.default_rng(0).normal(0.5, 1.0, (300, 8))
    a, b = frechet_infinity(reference, samples, seed=3), frechet_infinity(reference, samples, seed=3)
    assert a == b
    record = a.to_dict()
    assert record["fd_inf"] == a.value
    assert record["fd_inf_fit"]["sizes"] == list(a.sizes)
    assert len(record["fd_inf_fit"]["distances"]) == len(a.sizes)


def test_subset_sizes_span_a_fifth_to_all_and_bad_requests_are_one_line():
    assert subset_sizes(1000) == (200, 360, 520, 680, 840, 1000)
    with pytest.raises(DataError, match="at least 5 subset sizes"):
        subset_sizes(1000, points=3)
    with pytest.raises(DataError, match="5 distinct subset sizes"):
        subset_sizes(4)
    with pytest.raises(DataError, match=r"subset sizes must lie in \[2, 10\]"):
        frechet_infinity(FeatureStats(np.zeros(2), np.eye(2), 10), np.zeros((10, 2)), sizes=(2, 4, 6, 8, 20))


def test_fd_at_the_published_sizes_is_the_fd_of_the_first_n_of_each():
    from ganforge.metrics.features import Features
    from ganforge.metrics.frechet import feature_stats, frechet_from_stats
    from ganforge.metrics.suite import EvalConfig, Reference, feature_scores

    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(300, 4)), rng.normal(0.3, 1.0, size=(260, 4))
    cfg = EvalConfig(kid_subsets=2, kid_subset_size=50, fd_sizes=(100, 280))
    ref = Reference.build("x", Features(real, None), None, 0, cfg)
    scores = feature_scores(ref, Features(fake, None), cfg)
    expected = frechet_from_stats(feature_stats(real[:100]), feature_stats(fake[:100]))
    assert scores["fd_100"] == pytest.approx(expected) and "fd_280" not in scores  # only 260 generated
    assert "fd_100" not in feature_scores(
        ref, Features(fake, None), EvalConfig(kid_subsets=2, kid_subset_size=50)
    )
