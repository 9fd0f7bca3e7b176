import itertools

import numpy as np
import pytest
import torch

from ganforge.core.errors import DataError
from ganforge.metrics.frechet import (
    feature_stats,
    frechet_distance,
    frechet_distance_sqrtm,
    frechet_from_stats,
)


def correlated_features(rng, n, d=64, shift=0.0):
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mixing + shift


def random_rotation(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def closed_form(mu1, var1, mu2, var2):
    """FD of two Gaussians whose covariances share eigenvectors, from their eigenvalues."""
    return float(((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum())


def test_matches_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = 1 + 0 + 6.25 + (1 + 9 - 6) + (4 + 1 - 4) + 0
    assert closed_form(mu1, var1, mu2, var2) == pytest.approx(expected)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-12)


def test_matches_closed_form_for_rotated_covariances_sharing_eigenvectors():
    rng = np.random.default_rng(1)
    d = 12
    rotation = random_rotation(rng, d)
    var1, var2 = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    sigma1, sigma2 = rotation @ np.diag(var1) @ rotation.T, rotation @ np.diag(var2) @ rotation.T
    expected = closed_form(mu1, var1, mu2, var2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-10)


def test_one_dimensional_distance_is_squared_mean_and_std_gaps():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(2.0**2 + (2.0 - 3.0) ** 2)


def test_identical_statistics_give_zero():
    stats = feature_stats(correlated_features(np.random.default_rng(2), 500, d=32))
    assert frechet_from_stats(stats, stats) == pytest.approx(0.0, abs=1e-9)


def test_is_symmetric():
    rng = np.random.default_rng(3)
    a = feature_stats(correlated_features(rng, 300, d=32))
    b = feature_stats(correlated_features(rng, 300, d=32, shift=0.3))
    assert frechet_from_stats(a, b) == pytest.approx(frechet_from_stats(b, a), rel=1e-9)
    assert frechet_from_stats(a, b) > 1.0


@pytest.mark.parametrize(
    ("n1", "n2"), [(2000, 2000), (40, 2000), (40, 50)], ids=["full-rank", "one-rank-deficient", "both"]
)
def test_agrees_with_scipy_sqrtm_reference(n1, n2):
    rng = np.random.default_rng(4)
    a = feature_stats(correlated_features(rng, n1))
    b = feature_stats(correlated_features(rng, n2, shift=0.05))
    ours = frechet_from_stats(a, b)
    reference = frechet_distance_sqrtm(a.mean, a.cov, b.mean, b.cov)
    assert ours == pytest.approx(reference, rel=1e-6)


def test_grows_with_noise_added_to_one_half():
    rng = np.random.default_rng(5)
    data = correlated_features(rng, 2000, d=16)
    first, second = data[:1000], data[1000:]
    noise = rng.normal(size=second.shape)
    base = feature_stats(first)
    scores = [frechet_from_stats(base, feature_stats(second + s * noise)) for s in (0.0, 0.1, 0.3, 1.0, 3.0)]
    assert all(lo < hi for lo, hi in itertools.pairwise(scores)), scores


def test_shape_mismatches_raise_data_error():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(DataError, match="same length"):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(DataError, match="covariances must be 3x3"):
        frechet_distance(mu, sigma, mu, np.eye(4))
    with pytest.raises(DataError, match="covariances must be 3x3"):
        frechet_distance_sqrtm(mu, np.ones((3, 2)), mu, sigma)


def test_feature_stats_are_float64_unbiased_and_accept_tensors():
    features = np.random.default_rng(6).normal(size=(50, 4)).astype(np.float32)
    stats = feature_stats(torch.from_numpy(features))
    assert stats.mean.dtype == np.float64 and stats.cov.dtype == np.float64 and stats.count == 50
    np.testing.assert_allclose(stats.mean, features.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-10)


@pytest.mark.parametrize("bad", [np.zeros((1, 4)), np.zeros(4), np.array([[0.0, np.nan], [1.0, 2.0]])])
def test_feature_stats_reject_unusable_features(bad):
    with pytest.raises(DataError):
        feature_stats(bad)
