"""What every evaluator shares: the evaluation settings, the domain classifiers it trains and
reloads, the Inception extractor where its weights exist, and the seeded real subsets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge.core.io import sha256_file
from ganforge.metrics.classifier import ClassifierConfig, load_classifier, save_classifier, train_classifier
from ganforge.metrics.features import (
    INCEPTION_SIZE,
    DomainExtractor,
    InceptionExtractor,
    Unavailable,
    extraction_route,
    load_inception,
)
from ganforge.metrics.suite import EvalConfig
from ganforge.protocol import extractor_protocol

REFERENCE_SEED = 1234  # which real examples form a reference
Log = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """How to score (`EvalConfig`), how to train domain classifiers, and on which device."""

    eval: EvalConfig
    classifier: ClassifierConfig

    @property
    def device(self) -> str:
        if self.eval.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.eval.device


def real_subset(n: int, count: int) -> torch.Tensor:
    """A fixed, seeded choice of `count` real examples (all when there are fewer)."""
    if count >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(REFERENCE_SEED))[:count].sort().values


def train_domain_classifier(
    name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    class_names: list[str],
    settings: Settings,
    path: Path,
    log: Log,
) -> tuple[DomainExtractor, dict[str, Any]]:
    """Train a domain's classifier, save it at `path`; its extractor and its report."""
    start = time.perf_counter()
    cfg = settings.classifier
    model, result = train_classifier(
        images, labels, len(class_names), cfg, log=lambda m: log(f"classifier {name}: {m}")
    )
    size, channels = int(images.shape[-1]), int(images.shape[1])
    save_classifier(path, model, cfg, channels, class_names, size, result)
    route = extraction_route(settings.device, settings.eval.extraction_precision)
    extractor = DomainExtractor(f"domain:{name}", model, size, channels, settings.device, route=route)
    log(
        f"classifier {name}: held-out accuracy {result['heldout_accuracy']:.4f} "
        f"({result['heldout_examples']} images)"
    )
    report = {
        "available": True,
        "name": extractor.name,
        "dim": cfg.feature_dim,
        "classes": len(class_names),
        "precision": route.precision,
        **result,
        "seconds": round(time.perf_counter() - start, 1),
        "protocol": domain_protocol(extractor.name, path, size, route.precision),
    }
    return extractor, report


def domain_protocol(name: str, path: Path, size: int, precision: str) -> dict[str, Any]:
    """The stamp of a domain classifier's scores: its own weights, trained in the pipeline,
    read at the dataset's native resolution."""
    return extractor_protocol(
        name, sha256_file(path), size, "none (native resolution)", "uint8 -> [-1, 1]", precision
    )


def load_domain_extractor(
    path: Path, name: str, device: str, precision: str = "auto"
) -> DomainExtractor | None:
    """A saved domain classifier as an extractor, or None when there is none."""
    if not path.is_file():
        return None
    model, info = load_classifier(path)
    route = extraction_route(device, precision)
    return DomainExtractor(f"domain:{name}", model, info["image_size"], info["channels"], device, route=route)


def inception(settings: Settings, download: bool) -> InceptionExtractor | Unavailable:
    route = extraction_route(settings.device, settings.eval.extraction_precision)
    return load_inception(
        settings.eval.inception_weights,
        download,
        device=settings.device,
        route=route,
        resize=settings.eval.inception_resize,
    )


def inception_report(extractor: InceptionExtractor) -> dict[str, Any]:
    return {
        "available": True,
        "name": "inception",
        "dim": 2048,
        "weights": str(extractor.path),
        "weights_sha256": extractor.sha256,
        "precision": extractor.route.precision,
        "resolution": INCEPTION_SIZE,
        "resize": extractor.resize,
        "protocol": extractor_protocol(
            "inception (pytorch-fid FID weights)",
            extractor.sha256 or None,
            INCEPTION_SIZE,
            extractor.resize,
            "uint8 -> [0, 1] -> [-1, 1]",
            extractor.route.precision,
        ),
    }
