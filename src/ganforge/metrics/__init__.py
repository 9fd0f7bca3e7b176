"""Scores of generated samples, as pure functions of features, class predictions or 2-D points:
Fréchet distance (FID), KID, Inception Score, precision / recall, density / coverage and mode
coverage. Feature extraction (which network, which layer) is not part of this package."""

from __future__ import annotations

from ganforge.metrics.frechet import (
    FeatureStats,
    feature_stats,
    frechet_distance,
    frechet_distance_sqrtm,
    frechet_from_stats,
)
from ganforge.metrics.inception_score import inception_score, log_probs_from_logits
from ganforge.metrics.kid import kernel_inception_distance
from ganforge.metrics.manifold import density_coverage, precision_recall
from ganforge.metrics.modes import circle_scores, class_coverage, conditional_accuracy, mixture_modes

__all__ = [
    "FeatureStats",
    "circle_scores",
    "class_coverage",
    "conditional_accuracy",
    "density_coverage",
    "feature_stats",
    "frechet_distance",
    "frechet_distance_sqrtm",
    "frechet_from_stats",
    "inception_score",
    "kernel_inception_distance",
    "log_probs_from_logits",
    "mixture_modes",
    "precision_recall",
]
