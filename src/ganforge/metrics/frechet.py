"""The Fréchet distance between two Gaussians fitted to feature sets (FID when the features
are Inception's pool features), and the feature statistics it is computed from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import blas

from ganforge.core.errors import DataError


@dataclass(frozen=True)
class FeatureStats:
    """Mean (float64 vector), unbiased covariance (float64 matrix) and row count of a feature set."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def _to_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def feature_stats(features: np.ndarray | torch.Tensor) -> FeatureStats:
    """The statistics of an (N, D) feature matrix, N >= 2, in float64."""
    x = _to_numpy(features).astype(np.float64, copy=False)
    if x.ndim != 2:
        raise DataError(f"features must be a 2-D (samples, dims) array, got shape {x.shape}")
    if x.shape[0] < 2:
        raise DataError(f"features need at least 2 rows for a covariance, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise DataError("features contain NaN or infinite values")
    mean = x.mean(axis=0)
    centred = x - mean
    cov = centred.T @ centred / (x.shape[0] - 1)
    return FeatureStats(mean=mean, cov=cov, count=int(x.shape[0]))


def _checked(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four inputs as float64 arrays; DataError unless they describe two D-dim Gaussians."""
    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(s, dtype=np.float64)) for s in (sigma1, sigma2))
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise DataError(f"means must be vectors of the same length, got shapes {mu1.shape} and {mu2.shape}")
    dims = (mu1.shape[0], mu1.shape[0])
    if sigma1.shape != dims or sigma2.shape != dims:
        raise DataError(
            f"covariances must be {dims[0]}x{dims[0]} to match the means, "
            f"got shapes {sigma1.shape} and {sigma2.shape}"
        )
    return mu1, sigma1, mu2, sigma2


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix (round-off negative eigenvalues -> 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr(sqrt(sigma1 · sigma2)) for PSD sigma1, sigma2: the sum of the square roots of the
    eigenvalues of a symmetric matrix similar to sigma1 · sigma2. With a Cholesky factor
    sigma1 = L Lᵀ that matrix is Lᵀ sigma2 L (one factorisation, two triangular products,
    one eigvalsh); when sigma1 is singular (fewer samples than dimensions) it is
    sqrt(sigma1) sigma2 sqrt(sigma1), with the square root from an eigen-decomposition."""
    try:
        factor = np.linalg.cholesky(sigma1)
        right = blas.dtrmm(1.0, factor, sigma2, side=1, lower=1)  # sigma2 · L
        middle = blas.dtrmm(1.0, factor, right, side=0, lower=1, trans_a=1)  # Lᵀ · (sigma2 · L)
    except np.linalg.LinAlgError:
        root1 = psd_sqrt(sigma1)
        middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||² + Tr(sigma1) + Tr(sigma2) - 2 Tr(sqrt(sigma1 · sigma2)), in float64.

    The trace term comes from two eigen-decompositions of symmetric matrices instead of a
    general matrix square root (scipy.linalg.sqrtm) of the non-symmetric product
    sigma1 · sigma2. Symmetric solvers are backward stable and several times faster, their
    eigenvalues are real, so nothing complex appears: a singular (rank-deficient) covariance
    needs no diagonal offset and no imaginary part has to be thrown away. The result is
    clipped at 0, since round-off can leave about -1e-12 for equal inputs.
    """
    mu1, sigma1, mu2, sigma2 = _checked(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return max(float(value), 0.0)


def frechet_from_stats(a: FeatureStats, b: FeatureStats) -> float:
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def frechet_distance_sqrtm(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """The textbook computation with scipy.linalg.sqrtm of sigma1 · sigma2: kept only as the
    reference that tests and benchmarks compare `frechet_distance` against.

    When the product is singular enough that sqrtm returns non-finite values it is retried
    with `eps` added to both diagonals; a negligible imaginary part of the result is dropped.
    """
    from scipy.linalg import sqrtm

    mu1, sigma1, mu2, sigma2 = _checked(mu1, sigma1, mu2, sigma2)
    root = sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        offset = np.eye(sigma1.shape[0]) * eps
        root = sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(root):
        imaginary = np.abs(np.diagonal(root).imag).max()
        if imaginary > 1e-3 * max(1.0, np.abs(np.diagonal(root).real).max()):
            raise DataError(f"sqrtm left an imaginary part of {imaginary:.3g}; the covariances are not PSD")
        root = root.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(root))
