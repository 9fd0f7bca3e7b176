"""Every score of a set of generated samples against its dataset's reference: the scores of
each extractor (Fréchet distance, KID, IS, precision/recall, density/coverage, class
coverage) and, for the 2-D toys, the exact mixture scores. Real-data statistics are made
once per (dataset, extractor, sample count): `Reference`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from ganforge.core.errors import DataError
from ganforge.metrics.features import Features
from ganforge.metrics.frechet import FeatureStats, feature_stats, frechet_from_stats
from ganforge.metrics.frechet_infinity import frechet_infinity
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.kid import kernel_inception_distance
from ganforge.metrics.manifold import knn_radii, manifold_scores
from ganforge.metrics.modes import circle_scores, class_coverage, conditional_accuracy, mixture_modes
from ganforge.metrics.resize import ResizeFilter, check_filter


@dataclass(frozen=True)
class EvalConfig:
    """How samples are scored. `real_count` real examples form each reference.
    `extraction_precision` "auto" extracts features in bf16 where that is fast (see
    `ganforge.metrics.features.Route`); "fp32" keeps fp32. `threads` is how many CPU threads
    a run's scoring computes on (0: every core; part of what the scores are, to the last bit).
    `inception_resize` is how images reach Inception's 299×299 (`ganforge.metrics.resize`):
    `clean` by default, since the legacy bilinear filter aliases and moves FID by itself.
    `fd_sizes`: also the Fréchet distance of the first n generated against the first n real
    examples (`fd_<n>`), for each n both sides have: a published table's N-vs-N protocol
    (StudioGAN's 10k vs 10k) beside the full-reference `fd`."""

    real_count: int = 5000
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    dc_k: int = 5
    is_splits: int = 10
    mode_threshold: float = 3.0
    inception_weights: str | None = None
    inception_download: bool = True
    inception_resize: ResizeFilter = "clean"
    device: str = "auto"
    extraction_precision: Literal["auto", "fp32"] = "auto"
    threads: int = 0
    fd_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("real_count", "kid_subsets", "kid_subset_size", "pr_k", "dc_k", "is_splits"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        check_filter(self.inception_resize)
        if self.threads < 0:
            raise ValueError(f"threads must be 0 or more, got {self.threads}")
        if self.mode_threshold <= 0:
            raise ValueError(f"mode_threshold must be positive, got {self.mode_threshold}")
        if any(n < 2 for n in self.fd_sizes):
            raise ValueError(f"fd_sizes must be sample counts of 2 or more, got {list(self.fd_sizes)}")


@dataclass
class Reference:
    """Real-data features of one extractor, their statistics, the real class histogram, and
    the k-NN radii of the real features for the k of precision/recall and density/coverage."""

    extractor: str
    features: np.ndarray
    stats: FeatureStats
    class_histogram: list[float] | None = None
    radii: dict[int, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def build(
        cls, extractor: str, real: Features, labels: np.ndarray | None, classes: int, cfg: EvalConfig
    ) -> Reference:
        histogram = None
        if labels is not None and classes:
            histogram = (np.bincount(labels, minlength=classes) / max(len(labels), 1)).tolist()
        points = torch.as_tensor(real.features, dtype=torch.float64)
        radii = {k: knn_radii(points, k) for k in sorted({cfg.pr_k, cfg.dc_k}) if len(points) > k}
        return cls(
            extractor, real.features.astype(np.float32), feature_stats(real.features), histogram, radii
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "extractor": self.extractor,
            "features": torch.from_numpy(self.features),
            "mean": torch.from_numpy(self.stats.mean),
            "cov": torch.from_numpy(self.stats.cov),
            "count": self.stats.count,
            "class_histogram": self.class_histogram,
            "radii": self.radii,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Reference:
        stats = FeatureStats(state["mean"].numpy(), state["cov"].numpy(), int(state["count"]))
        return cls(
            state["extractor"],
            state["features"].numpy(),
            stats,
            state["class_histogram"],
            dict(state["radii"]),
        )


def _finite(value: float) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return float(value) if math.isfinite(value) else None


def feature_scores(ref: Reference, fake: Features, cfg: EvalConfig, seed: int = 0) -> dict[str, Any]:
    """Fréchet distance (and FD∞, extrapolated to infinitely many samples, with its fit), KID,
    precision/recall and density/coverage on one extractor's features, and, for classifiers,
    the Inception Score and class coverage of the predictions."""
    fake_stats = feature_stats(fake.features)
    kid_mean, kid_std = kernel_inception_distance(
        ref.features, fake.features, cfg.kid_subsets, cfg.kid_subset_size, seed
    )
    scores: dict[str, Any] = {
        "fd": _finite(frechet_from_stats(ref.stats, fake_stats)),
        "kid_mean": _finite(kid_mean),
        "kid_std": _finite(kid_std),
        **manifold_scores(ref.features, fake.features, cfg.pr_k, cfg.dc_k, ref.radii),
    }
    for n in cfg.fd_sizes:
        if n <= min(len(ref.features), len(fake.features)):
            head = frechet_from_stats(feature_stats(ref.features[:n]), feature_stats(fake.features[:n]))
            scores[f"fd_{n}"] = _finite(head)
    try:
        scores.update(frechet_infinity(ref.stats, fake.features, seed=seed).to_dict())
    except DataError:  # too few samples for five subset sizes
        scores["fd_inf"] = None
    if fake.log_probs is not None:
        inception = inception_score(fake.log_probs, cfg.is_splits)
        scores.update(
            {"is": inception["is_1split"], "is_mean": inception["is_mean"], "is_std": inception["is_std"]}
        )
    return scores


def class_scores(
    log_probs: np.ndarray,
    class_names: list[str],
    real_histogram: list[float] | None,
    requested: np.ndarray | None,
) -> dict[str, Any]:
    """Which classes the samples fall in (and, for conditional models, whether they are the
    class that was asked for), by the domain classifier's predictions."""
    predicted = log_probs.argmax(axis=1)
    classes = len(class_names)
    coverage = class_coverage(predicted, classes, np.asarray(real_histogram) if real_histogram else None)
    out: dict[str, Any] = {
        "classes_hit": coverage["classes_hit"],
        "classes_total": classes,
        "class_kl": _finite(coverage["kl_to_real"]),
        "class_histogram": dict(zip(class_names, coverage["histogram"], strict=True)),
    }
    if requested is not None:
        acc = conditional_accuracy(predicted, requested, classes)
        out["conditional_accuracy"] = acc["accuracy"]
        out["conditional_accuracy_per_class"] = dict(zip(class_names, acc["per_class"], strict=True))
    return out


def toy_scores(points: np.ndarray, truth: dict[str, Any], cfg: EvalConfig) -> dict[str, Any]:
    """The exact scores of 2-D samples against the true mixture (or circle)."""
    if truth.get("type") == "gaussian_mixture":
        modes = mixture_modes(points, np.asarray(truth["means"]), float(truth["sigma"]), cfg.mode_threshold)
        modes["reverse_kl"] = _finite(modes["reverse_kl"])
        return modes
    if truth.get("type") == "circle":
        return circle_scores(points, float(truth["radius"]))
    return {}
