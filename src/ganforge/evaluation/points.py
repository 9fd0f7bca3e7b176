"""The 2-D toy datasets: the points are their own features, and the exact scores against the
true mixture (modes covered, high-quality fraction, reverse KL) or circle."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.base import Evaluator
from ganforge.evaluation.common import Log, Settings, real_subset
from ganforge.metrics.features import PointsExtractor
from ganforge.metrics.suite import Reference, feature_scores, toy_scores
from ganforge.protocol import extractor_protocol


class PointsEvaluator(Evaluator):
    name = "points"
    data_kinds = ("points",)

    def __init__(self, ref: Reference, truth: Mapping[str, Any], settings: Settings) -> None:
        self.ref, self.truth, self.settings = ref, truth, settings

    @classmethod
    def build(
        cls,
        ds: PreparedDataset,
        settings: Settings,
        folder: Path,
        log: Log,
        borrowed: Mapping[str, Path] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        idx = real_subset(len(ds), settings.eval.real_count)
        ref = Reference.build("points", PointsExtractor()(ds.points[idx]), None, 0, settings.eval)
        truth = ds.meta.get("truth") or {}
        state = {"references": {"points": ref.to_state()}, "truth": truth}
        report = {
            "extractors": {
                "points": {
                    "available": True,
                    "dim": int(ds.points.shape[1]),
                    "protocol": extractor_protocol(
                        "points (the 2-D coordinates)", "none: no weights", "n/a", "none", "as drawn", "fp64"
                    ),
                }
            },
            "truth": truth,
            "real_examples": len(idx),
        }
        return state, report

    @classmethod
    def load(cls, state: Mapping[str, Any], folder: Path, settings: Settings) -> PointsEvaluator:
        return cls(Reference.from_state(state["references"]["points"]), state["truth"], settings)

    def reference_count(self) -> int | None:
        return self.ref.stats.count

    def validation_scores(self, payload: Mapping[str, Any], seed: int) -> dict[str, float]:
        """The exact mode scores against the true mixture (no feature scores: the k-NN and KID
        terms cost more than a toy's training steps)."""
        points = PointsExtractor()(payload["samples"]["ema"]).features
        modes = toy_scores(points, dict(self.truth), self.settings.eval)
        keys = ("modes_covered", "high_quality_fraction", "reverse_kl", "mean_abs_radius_error")
        return {f"modes.{k}": float(modes[k]) for k in keys if isinstance(modes.get(k), (int, float))}

    def score(self, payload: Mapping[str, Any], seed: int) -> dict[str, Any]:
        generators = {}
        for which, fake in payload["samples"].items():
            points = PointsExtractor()(fake)
            generators[which] = {
                "points": feature_scores(self.ref, points, self.settings.eval, seed),
                "modes": toy_scores(points.features, dict(self.truth), self.settings.eval),
            }
        return {
            "generators": generators,
            "real_samples": self.ref.stats.count,
            "generated_samples": len(next(iter(payload["samples"].values()))),
        }
