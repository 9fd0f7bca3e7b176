import numpy as np
import pytest
import torch

from ganforge.core.errors import ConfigError, DataError
from ganforge.metrics import kid
from ganforge.metrics.kid import kernel_inception_distance


def mmd2_by_loops(x, y):
    """The unbiased MMD² written out pair by pair, as the definition reads."""
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_single_full_subset_matches_the_definition():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(1.0, 2.0, size=(6, 3))
    mean, std = kernel_inception_distance(x, y, subsets=1, subset_size=6)
    assert mean == pytest.approx(mmd2_by_loops(x, y), rel=1e-12)
    assert std == 0.0


def test_same_distribution_is_near_zero_and_shifted_is_clearly_positive():
    rng = np.random.default_rng(1)
    real, same = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    shifted = rng.normal(0.5, 1.0, size=(600, 16))
    same_mean, _ = kernel_inception_distance(real, same, subsets=20, subset_size=300)
    shifted_mean, shifted_std = kernel_inception_distance(real, shifted, subsets=20, subset_size=300)
    assert shifted_mean > 0.1
    assert shifted_mean > 5 * shifted_std
    assert abs(same_mean) < 0.02 * shifted_mean


def test_subset_size_shrinks_to_the_smaller_set():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    assert kernel_inception_distance(real, fake, subsets=3, subset_size=1000, seed=9) == pytest.approx(
        kernel_inception_distance(real, fake, subsets=3, subset_size=5, seed=9), rel=1e-12
    )
    # Every subset of `real` is then all of it, so the value only moves with fake's choice.
    full, _ = kernel_inception_distance(real, fake[:5], subsets=4, subset_size=1000)
    assert full == pytest.approx(mmd2_by_loops(real, fake[:5]), rel=1e-12)


def test_reproducible_with_a_seed_and_varies_without():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(200, 8)), rng.normal(0.2, 1.0, size=(200, 8))
    first = kernel_inception_distance(real, fake, subsets=5, subset_size=50, seed=7)
    assert kernel_inception_distance(real, fake, subsets=5, subset_size=50, seed=7) == first
    assert kernel_inception_distance(real, fake, subsets=5, subset_size=50, seed=8) != first


def test_accepts_tensors():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    expected = kernel_inception_distance(real, fake, subsets=2, subset_size=10)
    got = kernel_inception_distance(torch.from_numpy(real), torch.from_numpy(fake), subsets=2, subset_size=10)
    assert got == pytest.approx(expected, rel=1e-12)


def test_unusable_inputs_raise():
    ok = np.zeros((4, 3))
    with pytest.raises(DataError, match="at least 2 samples"):
        kernel_inception_distance(np.zeros((1, 3)), ok)
    with pytest.raises(DataError, match="differ in width"):
        kernel_inception_distance(ok, np.zeros((4, 2)))
    with pytest.raises(ConfigError, match="subsets"):
        kernel_inception_distance(ok, ok, subsets=0)
    with pytest.raises(ConfigError, match="subset_size"):
        kernel_inception_distance(ok, ok, subset_size=1)


def test_whole_kernel_route_matches_the_per_subset_route(monkeypatch):
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(300, 16)), rng.normal(0.2, 1.1, size=(250, 16))
    fast = kid.kernel_inception_distance(real, fake, subsets=20, subset_size=100, seed=1)
    monkeypatch.setattr(kid, "FULL_KERNEL_LIMIT", 0)
    slow = kid.kernel_inception_distance(real, fake, subsets=20, subset_size=100, seed=1)
    assert fast == pytest.approx(slow, rel=1e-9, abs=1e-12)
