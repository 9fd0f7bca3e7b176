"""Metric speed: ganforge's Fréchet distance against pytorch-fid's, in the same run, on the same
statistics.

The statistics are those of two sets of synthetic 2048-d features shaped like Inception pool
features (non-negative and strongly correlated): ReLU of a random
256-factor model plus a little independent noise, the second set from a perturbed model.
Each implementation computes the distance `--repeats` times from the same statistics; the
median time is reported. One line per measurement is printed, and last one JSON object whose
`frechet_speedup_vs_pytorch_fid` is pytorch-fid's time / ganforge's (above 1: ganforge is
faster) and `frechet_abs_diff` the absolute difference of the two values.

Both implementations spend their time in LAPACK. On a machine shared with other work,
OpenBLAS's worker threads can stall for seconds at a time and make both timings several times
longer and erratic; pin them (OPENBLAS_NUM_THREADS=1) for stable numbers.

    OPENBLAS_NUM_THREADS=1 python benchmarks/metrics_speed.py
    python benchmarks/metrics_speed.py --count 2000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance

from ganforge.metrics import FeatureStats, feature_stats, frechet_from_stats

DIMS = 2048
FACTORS = 256


def synthetic_features(rng: np.random.Generator, count: int, weights: np.ndarray) -> np.ndarray:
    """ReLU(z · W + 0.3) + small noise: (count, DIMS) non-negative correlated features."""
    latent = rng.normal(size=(count, FACTORS))
    return np.maximum(latent @ weights + 0.3, 0.0) + 0.02 * rng.normal(size=(count, DIMS))


def two_stats(count: int, seed: int) -> tuple[FeatureStats, FeatureStats]:
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(FACTORS, DIMS)) / np.sqrt(FACTORS)
    perturbed = weights + 0.1 * rng.normal(size=weights.shape) / np.sqrt(FACTORS)
    return feature_stats(synthetic_features(rng, count, weights)), feature_stats(
        synthetic_features(rng, count, perturbed)
    )


def timed(compute: Callable[[], float], repeats: int) -> tuple[float, float]:
    """(value, median seconds) of `repeats` calls of `compute`."""
    seconds, value = [], 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = compute()
        seconds.append(time.perf_counter() - start)
    return value, statistics.median(seconds)


def pytorch_fid_distance(a: FeatureStats, b: FeatureStats) -> float:
    with warnings.catch_warnings():  # its sqrtm(disp=False) call is deprecated in SciPy >= 1.16
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(calculate_frechet_distance(a.mean, a.cov, b.mean, b.cov))


def frechet_benchmark(count: int, repeats: int, seed: int) -> dict[str, Any]:
    a, b = two_stats(count, seed)
    ours, ours_s = timed(lambda: frechet_from_stats(a, b), repeats)
    theirs, theirs_s = timed(lambda: pytorch_fid_distance(a, b), repeats)
    diff = abs(ours - theirs)
    rel = diff / abs(theirs)
    print(f"frechet {DIMS}-d from {count} features: ganforge {ours:.6f} in {ours_s:.3f} s")
    print(f"frechet {DIMS}-d from {count} features: pytorch-fid {theirs:.6f} in {theirs_s:.3f} s")
    print(f"frechet: speed-up {theirs_s / ours_s:.2f}x, |difference| {diff:.3g}, relative {rel:.3g}")
    return {
        "frechet_speedup_vs_pytorch_fid": round(theirs_s / ours_s, 3),
        "frechet_abs_diff": diff,
        "frechet_rel_diff": rel,
        "frechet_ganforge": ours,
        "frechet_pytorch_fid": theirs,
        "frechet_ganforge_s": round(ours_s, 4),
        "frechet_pytorch_fid_s": round(theirs_s, 4),
        "frechet_features": count,
        "frechet_dims": DIMS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="features per set behind each statistic")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each implementation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "repeats": args.repeats,
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    # Each measurement adds its own keys; a further one is one more update here.
    results.update(frechet_benchmark(args.count, args.repeats, args.seed))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
