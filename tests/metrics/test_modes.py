import math

import numpy as np
import pytest
import torch

from ganforge.core.errors import ConfigError, DataError
from ganforge.metrics.modes import circle_scores, class_coverage, conditional_accuracy, mixture_modes

RING_SIGMA = 0.01


def ring_means(modes=8, radius=1.0):
    angles = np.arange(modes) * 2 * np.pi / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_samples(rng, n, sigma=RING_SIGMA):
    means = ring_means()
    return means[rng.integers(0, len(means), size=n)] + rng.normal(0.0, sigma, size=(n, 2))


def test_single_class_generator_hits_one_class_with_kl_log_c():
    scores = class_coverage(np.full(500, 3), num_classes=10)
    assert scores["classes_hit"] == 1
    assert scores["histogram"][3] == 1.0 and sum(scores["histogram"]) == 1.0
    assert scores["kl_to_real"] >= math.log(10) - 1e-9


def test_balanced_predictions_hit_every_class_with_kl_zero():
    scores = class_coverage(torch.arange(10).repeat(30), num_classes=10)
    assert scores["classes_hit"] == 10
    assert scores["kl_to_real"] == pytest.approx(0.0, abs=1e-12)
    assert scores["histogram"] == pytest.approx([0.1] * 10)


def test_kl_against_a_given_real_histogram():
    real = np.array([60, 30, 10])  # counts are fine: normalised
    matching = np.repeat([0, 1, 2], [6, 3, 1])
    assert class_coverage(matching, 3, real)["kl_to_real"] == pytest.approx(0.0, abs=1e-9)
    skewed = np.repeat([0, 1], [1, 1])
    expected = 0.5 * math.log(0.5 / 0.6) + 0.5 * math.log(0.5 / 0.3)
    assert class_coverage(skewed, 3, real)["kl_to_real"] == pytest.approx(expected, rel=1e-6)
    # A class the real set lacks gives a large but finite KL.
    lacking = class_coverage(np.array([2, 2]), 3, np.array([1.0, 1.0, 0.0]))["kl_to_real"]
    assert 20 < lacking < math.inf


def test_conditional_accuracy_overall_and_per_class():
    requested = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 0, 0, 0])
    scores = conditional_accuracy(predicted, requested, num_classes=4)
    assert scores["accuracy"] == pytest.approx(4 / 8)
    assert scores["per_class"] == [pytest.approx(0.75), pytest.approx(0.5), 0.0, None]


def test_true_ring_samples_cover_all_modes_with_high_quality():
    scores = mixture_modes(ring_samples(np.random.default_rng(0), 4000), ring_means(), RING_SIGMA)
    assert scores["modes_covered"] == 8 and scores["modes_total"] == 8
    assert scores["high_quality_fraction"] >= 0.99
    assert scores["reverse_kl"] < 0.01
    assert sum(scores["mode_histogram"]) == pytest.approx(1.0)


def test_collapse_onto_one_mode_covers_one_with_reverse_kl_log_k():
    rng = np.random.default_rng(1)
    points = ring_means()[2] + rng.normal(0.0, RING_SIGMA, size=(300, 2))
    scores = mixture_modes(torch.from_numpy(points), ring_means(), RING_SIGMA)
    assert scores["modes_covered"] == 1
    assert scores["reverse_kl"] == pytest.approx(math.log(8), rel=1e-12)
    assert scores["mode_histogram"][2] == 1.0


def test_samples_off_every_mode_score_zero_coverage_and_worst_reverse_kl():
    points = np.zeros((50, 2))  # the ring's centre: distance 1 from every mode, far beyond 3 sigma
    scores = mixture_modes(points, ring_means(), RING_SIGMA)
    assert scores["modes_covered"] == 0 and scores["high_quality_fraction"] == 0.0
    assert scores["reverse_kl"] == pytest.approx(math.log(8))
    assert scores["mode_histogram"] == [0.0] * 8


def test_only_high_quality_samples_register_and_min_count_applies():
    means = ring_means()
    points = np.concatenate([np.repeat(means[:1], 5, axis=0), means[1:2], means[3:4] * 1.5])
    scores = mixture_modes(points, means, RING_SIGMA)
    assert scores["modes_covered"] == 2  # modes 0 and 1; the point 0.5 off mode 3 is low quality
    assert scores["high_quality_fraction"] == pytest.approx(6 / 7)
    assert mixture_modes(points, means, RING_SIGMA, min_count=2)["modes_covered"] == 1


def test_circle_scores():
    angles = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    exact = 5.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    scores = circle_scores(exact, radius=5.0)
    assert scores["mean_abs_radius_error"] == pytest.approx(0.0, abs=1e-12)
    assert scores["radius_std"] == pytest.approx(0.0, abs=1e-12)
    half_out = exact * np.where(np.arange(100) % 2 == 0, 1.1, 0.9)[:, None]
    assert circle_scores(half_out, radius=5.0) == pytest.approx(
        {"mean_abs_radius_error": 0.5, "mean_radius": 5.0, "radius_std": 0.5}
    )


def test_bad_inputs_raise():
    with pytest.raises(DataError, match=r"in \[0, 3\)"):
        class_coverage(np.array([0, 3]), num_classes=3)
    with pytest.raises(DataError, match="integer"):
        class_coverage(np.array([0.0, 1.0]), num_classes=3)
    with pytest.raises(ConfigError, match="num_classes"):
        class_coverage(np.array([0]), num_classes=0)
    with pytest.raises(DataError, match="real_histogram"):
        class_coverage(np.array([0]), 2, np.array([1.0, -1.0]))
    with pytest.raises(DataError, match="predictions for"):
        conditional_accuracy(np.array([0, 1]), np.array([0]), num_classes=2)
    with pytest.raises(DataError, match=r"\(N, 2\)"):
        mixture_modes(np.zeros((4, 3)), ring_means(), RING_SIGMA)
    with pytest.raises(ConfigError, match="sigma"):
        mixture_modes(np.zeros((4, 2)), ring_means(), 0.0)
