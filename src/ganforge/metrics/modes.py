"""Mode-coverage scores: from a classifier's predictions on generated samples (which classes
appear, how evenly, whether a conditional generator draws the class it was asked for), and
against the known mixtures and circle of the 2-D toy benchmarks."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import rel_entr

from ganforge.core.errors import ConfigError, DataError

KL_EPSILON = 1e-10
"""Mass added to every class of the reference histogram before normalising, so KL stays finite."""


def _numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _labels(x: np.ndarray | torch.Tensor, num_classes: int, name: str) -> np.ndarray:
    labels = _numpy(x)
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise DataError(f"{name} must be a non-empty 1-D array of class indices, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{name} must hold integer class indices, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"{name} must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def _check_num_classes(num_classes: int) -> None:
    if num_classes < 1:
        raise ConfigError(f"num_classes must be 1 or more, got {num_classes}")


def _reference(real_histogram: np.ndarray | None, num_classes: int) -> np.ndarray:
    """The reference distribution: uniform by default, else `real_histogram` normalised."""
    if real_histogram is None:
        return np.full(num_classes, 1.0 / num_classes)
    ref = _numpy(real_histogram).astype(np.float64)
    if ref.shape != (num_classes,) or (ref < 0).any() or not np.isfinite(ref).all() or ref.sum() <= 0:
        raise DataError(f"real_histogram needs {num_classes} non-negative finite values, not all 0")
    return ref / ref.sum()


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) with 0·log(0/q) = 0; q is smoothed by KL_EPSILON so a class q lacks costs
    about log(1 / KL_EPSILON) instead of infinity."""
    smoothed = (q + KL_EPSILON) / (1.0 + KL_EPSILON * q.shape[0])
    return float(rel_entr(p, smoothed).sum())


def class_coverage(
    pred_classes: np.ndarray | torch.Tensor, num_classes: int, real_histogram: np.ndarray | None = None
) -> dict[str, object]:
    """How a generator's samples spread over the classes a classifier assigns them.

    `classes_hit`: classes predicted at least once; `histogram`: fraction of samples per
    class; `kl_to_real`: KL(generated histogram || real histogram), the real one uniform unless
    given (0 when the proportions match; log(num_classes) when a uniform real set meets a
    generator of a single class). Empty generated classes contribute 0 (0·log 0 = 0); the
    real histogram is smoothed by KL_EPSILON so a class it lacks keeps KL finite.
    """
    _check_num_classes(num_classes)
    labels = _labels(pred_classes, num_classes, "pred_classes")
    histogram = np.bincount(labels, minlength=num_classes) / labels.shape[0]
    return {
        "classes_hit": int((histogram > 0).sum()),
        "histogram": histogram.tolist(),
        "kl_to_real": kl_divergence(histogram, _reference(real_histogram, num_classes)),
    }


def conditional_accuracy(
    pred_classes: np.ndarray | torch.Tensor, requested_classes: np.ndarray | torch.Tensor, num_classes: int
) -> dict[str, object]:
    """How often a conditional generator's samples are classified as the class requested:
    `accuracy` over all samples and `per_class` (None for a class never requested)."""
    _check_num_classes(num_classes)
    pred = _labels(pred_classes, num_classes, "pred_classes")
    requested = _labels(requested_classes, num_classes, "requested_classes")
    if pred.shape != requested.shape:
        raise DataError(f"{pred.shape[0]} predictions for {requested.shape[0]} requested classes")
    correct = pred == requested
    asked = np.bincount(requested, minlength=num_classes)
    right = np.bincount(requested, weights=correct, minlength=num_classes)
    per_class = [float(r / a) if a else None for r, a in zip(right, asked, strict=True)]
    return {"accuracy": float(correct.mean()), "per_class": per_class}


def _points_2d(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    points = _numpy(x).astype(np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise DataError(f"{name} must be a non-empty (N, 2) array, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise DataError(f"{name} contain NaN or infinite values")
    return points


def mixture_modes(
    points: np.ndarray | torch.Tensor,
    means: np.ndarray | torch.Tensor,
    sigma: float,
    threshold: float = 3.0,
    min_count: int = 1,
) -> dict[str, object]:
    """The VEEGAN / PacGAN scores of 2-D samples against a Gaussian mixture with the given
    component `means` (K, 2) and common std `sigma`.

    A sample is high quality when its distance to the nearest mean is below threshold·sigma;
    a mode is covered when it is the nearest mode of at least `min_count` high-quality
    samples (1 by default; PacGAN's protocol uses 20 of 2500). `mode_histogram` is the
    fraction of the high-quality samples at each mode, and `reverse_kl` is
    KL(mode_histogram || uniform), between 0 (balanced) and log K (one mode). With no
    high-quality sample at all the histogram is all zeros and `reverse_kl` is log K, the
    worst value any histogram can reach: such a generator scores as badly as a collapsed one.
    """
    if sigma <= 0 or threshold <= 0:
        raise ConfigError(f"sigma and threshold must be positive, got {sigma} and {threshold}")
    if min_count < 1:
        raise ConfigError(f"min_count must be 1 or more, got {min_count}")
    samples, centres = _points_2d(points, "points"), _points_2d(means, "means")
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(samples.shape[0]), nearest] < threshold * sigma
    counts = np.bincount(nearest[good], minlength=centres.shape[0])
    modes = centres.shape[0]
    if good.any():
        histogram = counts / counts.sum()
        reverse_kl = float(rel_entr(histogram, 1.0 / modes).sum())
    else:
        histogram, reverse_kl = np.zeros(modes), math.log(modes)
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "modes_total": int(modes),
        "high_quality_fraction": float(good.mean()),
        "reverse_kl": reverse_kl,
        "mode_histogram": histogram.tolist(),
    }


def circle_scores(points: np.ndarray | torch.Tensor, radius: float) -> dict[str, float]:
    """How far 2-D samples lie from a circle of `radius` about the origin: the mean absolute
    radius error, and the mean and std (population) of the samples' radii."""
    radii = np.linalg.norm(_points_2d(points, "points"), axis=1)
    return {
        "mean_abs_radius_error": float(np.abs(radii - radius).mean()),
        "mean_radius": float(radii.mean()),
        "radius_std": float(radii.std()),
    }


def stacked_coverage(channel_classes: np.ndarray | torch.Tensor, classes: int = 10) -> dict[str, object]:
    """Stacked MNIST's mode scores (the VEEGAN and PacGAN protocol) from the class a digit
    classifier gives each channel of each sample (N×3, R first): the mode of a sample is its
    three digits, `classes`³ modes in all; `modes_covered` is how many modes at least one
    sample falls in, `reverse_kl` KL(mode histogram || uniform over the modes), the same
    quantity as the 2-D mixtures' reverse KL (VEEGAN and PacGAN call it KL)."""
    _check_num_classes(classes)
    per_channel = _numpy(channel_classes)
    if per_channel.ndim != 2 or per_channel.shape[1] != 3:
        raise DataError(f"channel_classes must be N×3 (one class per channel), got shape {per_channel.shape}")
    labels = [_labels(per_channel[:, c], classes, f"channel {c} classes") for c in range(3)]
    modes = (labels[0] * classes + labels[1]) * classes + labels[2]
    coverage = class_coverage(modes, classes**3)
    return {
        "modes_covered": coverage["classes_hit"],
        "modes_total": classes**3,
        "reverse_kl": coverage["kl_to_real"],
        "samples": int(modes.shape[0]),
    }
