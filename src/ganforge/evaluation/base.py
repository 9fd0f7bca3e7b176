"""What every evaluator is: built once per dataset (domain classifiers, real-data
references, baselines), saved in a folder, reloaded to score a run's samples. The kinds of
evaluator implement it; `evaluator` chooses one per dataset."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.common import Log, Settings
from ganforge.metrics.sharded import Gather, ShardedExtractor

REFERENCE_FILE = "reference.pt"
"""What an evaluator folder saves its state in (`evaluator.build_evaluator`)."""


class Evaluator(ABC):
    """Scores the samples of one kind of dataset. `build` makes and saves what scoring needs
    (returning the state to store and a report for people); `load` restores it."""

    name: ClassVar[str]
    data_kinds: ClassVar[tuple[str, ...]]

    @classmethod
    @abstractmethod
    def build(
        cls,
        ds: PreparedDataset,
        settings: Settings,
        folder: Path,
        log: Log,
        borrowed: Mapping[str, Path] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """`borrowed`: the evaluator folders of other datasets this one is scored with."""

    @classmethod
    @abstractmethod
    def load(cls, state: Mapping[str, Any], folder: Path, settings: Settings) -> Evaluator: ...

    @abstractmethod
    def score(self, payload: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """{"generators": {which: scores}, "real_samples": n, "generated_samples": n}."""

    def validation_scores(self, payload: Mapping[str, Any], seed: int) -> dict[str, float]:
        """The headline scores of the samples of `payload["samples"]["ema"]`, by metric key,
        for the scores during training (kinds with a cheaper path override this)."""
        from ganforge.scores import METRICS, lookup

        scores = self.score(payload, seed)["generators"]["ema"]
        return {m.key: v for m in METRICS if m.headline and (v := lookup(scores, m.key)) is not None}

    def reference_count(self) -> int | None:
        """How many real examples the scores are made against (None: not a count)."""
        return None

    def sharded(self, rank: int, world: int, gather: Gather) -> Evaluator:
        """This evaluator with its feature extraction split across the `world` ranks of a
        data-parallel run (`ganforge.metrics.sharded`): every rank calls it alike, and every
        rank gets the single-process scores. Itself when there is nothing to split. Used by
        the scores during training and by the final evaluation (`evaluation.final`); this
        splits the `extractors` a kind keeps, and a kind that keeps them otherwise overrides it."""
        extractors = getattr(self, "extractors", None)
        if world == 1 or not extractors:
            return self
        twin = copy.copy(self)
        twin.extractors = {k: ShardedExtractor(v, rank, world, gather) for k, v in extractors.items()}  # type: ignore[attr-defined]
        return twin

    def baselines(self) -> dict[str, Any]:
        """Scores of reference rows (e.g. translation's identity) to show beside the variants."""
        return {}
