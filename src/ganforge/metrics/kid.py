"""Kernel Inception Distance: the unbiased squared MMD between two feature sets under the
cubic polynomial kernel, averaged over random subsets."""

from __future__ import annotations

import numpy as np
import torch

from ganforge.core.errors import ConfigError, DataError


def _features(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    array = (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).astype(np.float64)
    if array.ndim != 2:
        raise DataError(f"{name} features must be a 2-D (samples, dims) array, got shape {array.shape}")
    if array.shape[0] < 2:
        raise DataError(f"{name} features need at least 2 samples, got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise DataError(f"{name} features contain NaN or infinite values")
    return array


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x·y / d + 1)³ for every pair of rows."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    return k * k * k  # much faster than ** 3 (a generic power) on large arrays


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimate of MMD² from two equally sized samples (diagonals of k(x, x) and
    k(y, y) left out; every cross pair kept)."""
    m = x.shape[0]
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * polynomial_kernel(x, y).mean())


def kernel_inception_distance(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² over `subsets` random subsets of each set.

    Each subset is drawn without replacement with a numpy Generator seeded by `seed`;
    `subset_size` shrinks to the smaller set's size when there are fewer samples. The std is
    the population std (ddof=0) of the per-subset estimates, so one subset gives 0.
    """
    if subsets < 1:
        raise ConfigError(f"KID subsets must be 1 or more, got {subsets}")
    if subset_size < 2:
        raise ConfigError(f"KID subset_size must be 2 or more, got {subset_size}")
    x, y = _features(real, "real"), _features(fake, "fake")
    if x.shape[1] != y.shape[1]:
        raise DataError(f"real and fake features differ in width: {x.shape[1]} and {y.shape[1]}")
    size = min(subset_size, x.shape[0], y.shape[0])
    rng = np.random.default_rng(seed)
    draws = [
        (rng.choice(x.shape[0], size=size, replace=False), rng.choice(y.shape[0], size=size, replace=False))
        for _ in range(subsets)
    ]
    n_x, n_y = x.shape[0], y.shape[0]
    if n_x * n_x + n_y * n_y + n_x * n_y <= FULL_KERNEL_LIMIT:
        values = _mmd2_from_full_kernels(x, y, draws)
    else:
        values = np.array([mmd2_unbiased(x[rows_x], y[rows_y]) for rows_x, rows_y in draws])
    return float(values.mean()), float(values.std())


# Kernel entries (float64) up to which the three whole kernel matrices are computed once and
# every subset's MMD² is read off them: 25M entries, 200 MB.
FULL_KERNEL_LIMIT = 25_000_000


def _mmd2_from_full_kernels(
    x: np.ndarray, y: np.ndarray, draws: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """The unbiased MMD² of every subset at once. With indicator columns V (one per subset),
    a subset's kernel sum is vᵀKv, so three kernel matrices and three matrix products replace
    three kernel evaluations per subset (the same numbers up to rounding)."""
    m = len(draws[0][0])
    v_x = np.zeros((x.shape[0], len(draws)))
    v_y = np.zeros((y.shape[0], len(draws)))
    for i, (rows_x, rows_y) in enumerate(draws):
        v_x[rows_x, i] = 1.0
        v_y[rows_y, i] = 1.0
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (v_x * (k_xx @ v_x)).sum(0) - v_x.T @ np.diag(k_xx)
    within_y = (v_y * (k_yy @ v_y)).sum(0) - v_y.T @ np.diag(k_yy)
    cross = (v_x * (k_xy @ v_y)).sum(0)
    return (within_x + within_y) / (m * (m - 1)) - 2.0 * cross / (m * m)
