"""Scores during training: the variant's evaluator scores the generators on a validation
sample every `train.eval_every` steps. The sample comes from latents of their own stream
(`VALIDATION_SEED + seed`), never the evaluation stream the final scores use, or for a
translation system from the training examples the run keeps aside (never the held-out test
pairs), so the best checkpoint is selected on numbers the test scores are not made from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.evaluation.base import Evaluator
from ganforge.sampling import VALIDATION_SEED, SampleConfig
from ganforge.scores import METRIC_BY_KEY, PRIMARY
from ganforge.systems.kind import RunContext, SystemKind
from ganforge.train.config import StopRule
from ganforge.train.selection import Selection, Watched


@dataclass
class Validator:
    """Scores one run's generators on its validation sample: `count` draws, latents from
    `VALIDATION_SEED + seed`, the evaluator's headline scores of them."""

    evaluator: Evaluator
    kind: SystemKind
    run: RunContext
    count: int
    seed: int

    def __post_init__(self) -> None:
        reference = self.evaluator.reference_count()
        if reference is not None and self.count > reference:
            raise ConfigError(
                f"{self.run.variant.name}: train.eval_samples ({self.count}) is larger than the "
                f"evaluator's held-out reference ({reference} real examples): lower it"
            )

    def draw(self, nets: Mapping[str, nn.Module]) -> dict:
        cfg = SampleConfig(count=self.count, batch_size=min(self.count, 500))
        return self.kind.draw({"ema": nets}, self.run, cfg, self.seed, stream=VALIDATION_SEED)

    def __call__(self, step: int, nets: Mapping[str, nn.Module]) -> dict[str, float]:
        return self.evaluator.validation_scores(self.draw(nets), self.seed)


def selection_for(scores: Mapping[str, float], stop: StopRule | None, where: str) -> Selection:
    """What the trainer keeps, given a first set of validation scores (their keys): the best
    checkpoint by the dataset's primary score, and the stopping rule's watched score."""
    primary = next((key for key in PRIMARY if key in scores), None) or next(iter(scores))
    selects = Watched(primary, bool(METRIC_BY_KEY[primary].higher_is_better))
    watches = None
    if stop is not None:
        key = primary if stop.metric == "primary" else stop.metric
        if key not in scores:
            raise ConfigError(
                f"{where}.stop_when.metric: unknown metric {stop.metric!r}; the validation scores are "
                f"primary, {', '.join(scores)}"
            )
        direction = METRIC_BY_KEY[key].higher_is_better
        if direction is None:
            raise ConfigError(f"{where}.stop_when.metric: {key} has no better direction to watch")
        watches = Watched(key, direction)
    return Selection(selects, stop, watches)
