"""Image datasets: the domain classifier's features (for labelled datasets) and Inception's
(where its weights exist), each with its real-data reference; class coverage by the
classifier's predictions, and for conditional models whether each sample is its class."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.base import Evaluator
from ganforge.evaluation.common import (
    Log,
    Settings,
    inception,
    inception_report,
    load_domain_extractor,
    real_subset,
    train_domain_classifier,
)
from ganforge.metrics.features import Features, Unavailable
from ganforge.metrics.frechet import feature_stats, frechet_from_stats
from ganforge.metrics.kid import kernel_inception_distance
from ganforge.metrics.suite import Reference, class_scores, feature_scores

CLASSIFIER_FILE = "classifier.pt"
VALIDATION_KID_SUBSETS = 10  # KID's subsets during training (the final scores take evaluation.kid_subsets)


class ImageEvaluator(Evaluator):
    name = "images"
    data_kinds = ("images",)

    def __init__(
        self,
        refs: dict[str, Reference],
        state: Mapping[str, Any],
        extractors: dict[str, Any],
        settings: Settings,
    ):
        self.refs, self.state, self.extractors, self.settings = refs, state, extractors, settings

    @classmethod
    def build(
        cls,
        ds: PreparedDataset,
        settings: Settings,
        folder: Path,
        log: Log,
        borrowed: Mapping[str, Path] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        cfg = settings.eval
        idx = real_subset(len(ds), cfg.real_count)
        labels = ds.labels[idx].numpy() if ds.labels is not None else None
        classes = len(ds.class_names)
        references: dict[str, Any] = {}
        extractors: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        if ds.labels is not None and classes > 1:
            domain, report = train_domain_classifier(
                ds.name, ds.images, ds.labels, ds.class_names, settings, folder / CLASSIFIER_FILE, log
            )
            references["domain"] = Reference.build(
                domain.name, domain(ds.images[idx]), labels, classes, cfg
            ).to_state()
            extractors["domain"] = report
        else:
            unavailable["domain"] = f"dataset {ds.name} has no class labels to train a domain classifier on"
        net = inception(settings, cfg.inception_download)
        if isinstance(net, Unavailable):
            unavailable["inception"] = net.reason
        else:
            references["inception"] = Reference.build(
                "inception", net(ds.images[idx]), labels, classes, cfg
            ).to_state()
            extractors["inception"] = inception_report(net)
        for name, reason in unavailable.items():
            extractors[name] = {"available": False, "reason": reason}
        state = {"references": references, "unavailable": unavailable, "class_names": ds.class_names}
        report = {"extractors": extractors, "unavailable": unavailable, "real_examples": len(idx)}
        return state, report

    @classmethod
    def load(cls, state: Mapping[str, Any], folder: Path, settings: Settings) -> ImageEvaluator:
        refs = {k: Reference.from_state(v) for k, v in state["references"].items()}
        extractors: dict[str, Any] = {}
        domain = load_domain_extractor(
            folder / CLASSIFIER_FILE,
            state.get("classifier_of", state["dataset"]),  # whole_set: the set it was drawn from
            settings.device,
            settings.eval.extraction_precision,
        )
        if domain is not None:
            extractors["domain"] = domain
        if "inception" in refs:
            net = inception(settings, False)
            if not isinstance(net, Unavailable):
                extractors["inception"] = net
        return cls(refs, state, extractors, settings)

    def reference_count(self) -> int | None:
        first = next(iter(self.refs.values()), None)
        return first.stats.count if first is not None else None

    def validation_scores(self, payload: Mapping[str, Any], seed: int) -> dict[str, float]:
        """The domain classifier's Fréchet distance and KID (the headline pair, without the
        k-NN scores, the extrapolation or Inception): cheap enough to take during training."""
        if "domain" not in self.extractors or "domain" not in self.refs:
            return super().validation_scores(payload, seed)
        ref, features = self.refs["domain"], self.extractors["domain"](payload["samples"]["ema"])
        kid, _ = kernel_inception_distance(
            ref.features, features.features, VALIDATION_KID_SUBSETS, self.settings.eval.kid_subset_size, seed
        )
        return {
            "domain.fd": frechet_from_stats(ref.stats, feature_stats(features.features)),
            "domain.kid_mean": kid,
        }

    def score(self, payload: Mapping[str, Any], seed: int) -> dict[str, Any]:
        requested = payload["labels"].numpy() if payload.get("labels") is not None else None
        generators = {}
        for which, fake in payload["samples"].items():
            scores: dict[str, Any] = {}
            for key, extractor in self.extractors.items():
                if key not in self.refs:
                    continue
                features: Features = extractor(fake)
                scores[key] = feature_scores(self.refs[key], features, self.settings.eval, seed)
                if key == "domain" and features.log_probs is not None:
                    scores["classes"] = class_scores(
                        features.log_probs,
                        self.state["class_names"],
                        self.refs[key].class_histogram,
                        requested,
                    )
            for key, reason in self.state.get("unavailable", {}).items():
                scores[key] = {"available": False, "reason": reason}
            generators[which] = scores
        first = next(iter(self.refs.values()), None)
        return {
            "generators": generators,
            "real_samples": first.stats.count if first is not None else 0,
            "generated_samples": len(next(iter(payload["samples"].values()))),
        }
