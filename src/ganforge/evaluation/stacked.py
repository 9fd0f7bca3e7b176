"""Stacked datasets (Stacked MNIST, the VEEGAN and PacGAN benchmark): each channel of a sample
is one digit, read by the source dataset's domain classifier (borrowed from that dataset's
evaluator, never a 1,000-class classifier of its own). Scores: the modes covered and the KL
of the mode histogram to uniform over every generated sample, and the Fréchet distance,
KID and precision/recall on the three channels' classifier features side by side."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.core.errors import DataError, MissingDataError
from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.base import Evaluator
from ganforge.evaluation.common import Log, Settings, domain_protocol, load_domain_extractor, real_subset
from ganforge.metrics.features import DomainExtractor, Features
from ganforge.metrics.modes import stacked_coverage
from ganforge.metrics.sharded import Extract, Gather, ShardedExtractor
from ganforge.metrics.suite import Reference, feature_scores

CLASSIFIER_FILE = "channel_classifier.pt"
"""The source dataset's domain classifier, copied here so scoring needs only this folder."""
SOURCE_CLASSIFIER_FILE = "classifier.pt"
CHANNELS = 3  # R, G, B: one digit each


def read_channels(extractor: Extract, images: torch.Tensor) -> tuple[Features, np.ndarray]:
    """The classifier's features of every channel side by side (N × 3·dim), and the digit it
    reads in each channel (N × 3)."""
    if images.ndim != 4 or images.shape[1] != CHANNELS:
        raise DataError(f"stacked samples must be N×{CHANNELS}×H×W, got shape {tuple(images.shape)}")
    per_channel = [extractor(images[:, c : c + 1]) for c in range(CHANNELS)]
    features = np.concatenate([f.features for f in per_channel], axis=1)
    digits = np.stack([f.log_probs.argmax(axis=1) for f in per_channel if f.log_probs is not None], axis=1)
    return Features(features), digits


def channel_digits(labels: torch.Tensor, classes: int) -> np.ndarray:
    """The true digit of each channel from a stacked label (R most significant)."""
    modes = labels.long().numpy()
    return np.stack([modes // classes**2, (modes // classes) % classes, modes % classes], axis=1)


class StackedEvaluator(Evaluator):
    name = "stacked"
    data_kinds = ()  # chosen by the dataset (its meta names this evaluator), not by its kind

    def __init__(self, ref: Reference, extractor: Extract, classes: int, settings: Settings) -> None:
        self.ref, self.extractor, self.classes, self.settings = ref, extractor, classes, settings

    def sharded(self, rank: int, world: int, gather: Gather) -> StackedEvaluator:
        """Its one channel classifier split across the ranks, as `Evaluator.sharded` splits
        the extractors of the other kinds."""
        if world == 1:
            return self
        twin = copy.copy(self)
        twin.extractor = ShardedExtractor(self.extractor, rank, world, gather)
        return twin

    @staticmethod
    def source_of(ds: PreparedDataset) -> str:
        source = ds.meta.get("classifier_from")
        if not isinstance(source, str):
            raise DataError(f"{ds.name} does not name the dataset whose classifier reads its channels")
        return source

    @classmethod
    def build(
        cls,
        ds: PreparedDataset,
        settings: Settings,
        folder: Path,
        log: Log,
        borrowed: Mapping[str, Path] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        source = cls.source_of(ds)
        source_folder = (borrowed or {}).get(source)
        if source_folder is None:
            raise DataError(
                f"{ds.name} is scored by {source}'s domain classifier: build it with "
                f"`python -m pipeline evaluator {ds.name} --classifier-from {source}` (the "
                f"cross_evaluator stage, from run.cross_evaluators), not from run.evaluators"
            )
        classifier = source_folder / SOURCE_CLASSIFIER_FILE
        if not classifier.is_file():
            raise MissingDataError(
                f"no domain classifier at {classifier}: run `dvc repro evaluator@{source}` first"
            )
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(classifier, folder / CLASSIFIER_FILE)
        extractor = cls._extractor(folder, source, settings)
        classes = round(len(ds.class_names) ** (1 / 3))
        if classes**3 != len(ds.class_names) or ds.labels is None:
            raise DataError(f"{ds.name} must be labelled with classes³ stacked modes")
        idx = real_subset(len(ds), settings.eval.real_count)
        features, digits = read_channels(extractor, ds.images[idx])
        truth = channel_digits(ds.labels[idx], classes)
        ref = Reference.build(f"channels:{source}", features, None, 0, settings.eval)
        real = stacked_coverage(digits, classes)
        accuracy = float((digits == truth).mean())
        log(
            f"evaluator {ds.name}: {source}'s classifier reads {accuracy:.4f} of the real channels "
            f"right; the real stacks cover {real['modes_covered']} of {real['modes_total']} modes "
            f"(KL {real['reverse_kl']:.4f}, {len(idx)} stacks)"
        )
        report = {
            "extractors": {
                "channels": {
                    "available": True,
                    "name": extractor.name,
                    "classifier_from": source,
                    "channel_accuracy": accuracy,
                    "dim": int(features.features.shape[1]),
                    "protocol": domain_protocol(
                        extractor.name,
                        folder / CLASSIFIER_FILE,
                        int(ds.images.shape[-1]),
                        extractor.route.precision,
                    ),
                }
            },
            "real_modes": real,
            "real_examples": len(idx),
        }
        state = {"references": {"channels": ref.to_state()}, "source": source, "classes": classes}
        return state, report

    @staticmethod
    def _extractor(folder: Path, source: str, settings: Settings) -> DomainExtractor:
        extractor = load_domain_extractor(
            folder / CLASSIFIER_FILE, source, settings.device, settings.eval.extraction_precision
        )
        if extractor is None:  # build copied it there: gone only if the folder was tampered with
            raise MissingDataError(
                f"no channel classifier at {folder / CLASSIFIER_FILE}: rebuild the evaluator"
            )
        return extractor

    @classmethod
    def load(cls, state: Mapping[str, Any], folder: Path, settings: Settings) -> StackedEvaluator:
        ref = Reference.from_state(state["references"]["channels"])
        return cls(ref, cls._extractor(folder, state["source"], settings), int(state["classes"]), settings)

    def score(self, payload: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """Modes over every sample; the feature scores over as many samples as the reference
        has real ones (the k-NN scores grow with the square of the count)."""
        generators = {}
        for which, fake in payload["samples"].items():
            features, digits = read_channels(self.extractor, fake)
            head = Features(features.features[: self.ref.stats.count])
            generators[which] = {
                "modes": stacked_coverage(digits, self.classes),
                "channels": feature_scores(self.ref, head, self.settings.eval, seed),
            }
        return {
            "generators": generators,
            "real_samples": self.ref.stats.count,
            "generated_samples": len(next(iter(payload["samples"].values()))),
        }
