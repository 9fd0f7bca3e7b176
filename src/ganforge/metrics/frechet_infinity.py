"""FD∞: the Fréchet distance extrapolated to infinitely many generated samples (Chong and
Forsyth, "Effectively Unbiased FID and Inception Score and where to find them", CVPR 2020).

The Fréchet distance of N generated samples against a fixed reference is biased upwards by a
term that shrinks as 1/N, and its size depends on the model, so two models scored with the
same N are not compared fairly. FD∞ scores random subsets of several sizes, fits the distances
as a straight line in 1/N and reports the line's value at 1/N = 0, with the fit beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganforge.core.errors import DataError
from ganforge.metrics.frechet import FeatureStats, feature_stats, frechet_from_stats


@dataclass(frozen=True)
class FrechetInfinity:
    """The extrapolated distance (`value`), the fitted slope in 1/N, how well the line fits
    (`r2`), and the subset sizes and distances it was fitted to."""

    value: float
    slope: float
    r2: float
    sizes: tuple[int, ...]
    distances: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "fd_inf": self.value,
            "fd_inf_fit": {
                "slope": self.slope,
                "r2": self.r2,
                "sizes": list(self.sizes),
                "distances": list(self.distances),
            },
        }


def subset_sizes(count: int, points: int = 6, smallest: float = 0.2) -> tuple[int, ...]:
    """`points` subset sizes from `smallest` × count up to count, evenly spaced in N (as the
    paper's sizes are), without repeats."""
    if points < 5:
        raise DataError(f"FD∞ needs at least 5 subset sizes for its fit, got {points}")
    if not 0 < smallest < 1:
        raise DataError(f"the smallest subset must be a fraction in (0, 1), got {smallest}")
    low = max(2, round(count * smallest))
    sizes = tuple(sorted({round(float(n)) for n in np.linspace(low, count, points)}))
    if len(sizes) < 5:
        raise DataError(f"FD∞ needs at least 5 distinct subset sizes; {count} samples give {len(sizes)}")
    return sizes


def frechet_infinity(
    reference: FeatureStats, features: np.ndarray, sizes: tuple[int, ...] | None = None, seed: int = 0
) -> FrechetInfinity:
    """FD∞ of generated `features` (N × D) against the `reference` statistics: the Fréchet
    distance of a random subset (drawn with `seed`, without replacement) at each size, then
    the least-squares line distance = value + slope / N."""
    x = np.asarray(features, dtype=np.float64)
    sizes = sizes or subset_sizes(len(x))
    if max(sizes) > len(x) or min(sizes) < 2:
        raise DataError(f"subset sizes must lie in [2, {len(x)}], got {min(sizes)} to {max(sizes)}")
    rng = np.random.default_rng(seed)
    distances = []
    for size in sizes:
        rows = x if size == len(x) else x[rng.choice(len(x), size, replace=False)]
        distances.append(frechet_from_stats(reference, feature_stats(rows)))
    inverse = 1.0 / np.asarray(sizes, dtype=np.float64)
    y = np.asarray(distances)
    slope, value = np.polyfit(inverse, y, 1)
    residual = y - (value + slope * inverse)
    spread = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - float((residual**2).sum() / spread) if spread > 0 else 1.0
    return FrechetInfinity(float(value), float(slope), r2, tuple(sizes), tuple(float(d) for d in y))
