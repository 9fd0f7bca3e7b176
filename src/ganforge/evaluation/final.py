"""The final evaluation of one trained run (the evaluate stage's work for a seed): the
samples and figures its system draws, every score of its generators (raw, EMA, and the best
checkpoint where training kept one) and its metrics record; in one process, or over the
ranks of a data-parallel process group (torch.distributed.run).

Over a group, rank 0 alone loads the generators, draws the samples and writes them and the
figures, and sends the samples to every rank; each rank then extracts the features of a
contiguous run of every extractor's batches (`Evaluator.sharded`), gathered in rank order.
Since every batch holds the same images as in one process, every rank computes the
single-process scores bit for bit (on the same threads, `threads`), and rank 0 returns the
record, which is therefore the one a single process writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganforge.core.device import cpu_threads
from ganforge.data.prepared import PreparedDataset
from ganforge.evaluation.base import Evaluator
from ganforge.evaluation.record import metrics_record, sampling_record
from ganforge.sampling import SampleConfig
from ganforge.train.distributed import Group
from ganforge.trained import load_trained, sample_run, with_best
from ganforge.variants import Variant


@dataclass(frozen=True)
class FinalEvaluation:
    """What scoring the runs (seeds) of one variant needs, shared by all of them: its
    dataset, how it is sampled, the dataset's evaluator and that evaluator's report, the CPU
    threads scoring computes on (0: as they are), and the process group it is split over
    (None: one process)."""

    variant: Variant
    data: PreparedDataset
    sample_cfg: SampleConfig
    evaluator: Evaluator
    report: Mapping[str, Any]
    threads: int = 0
    group: Group | None = None

    @property
    def main(self) -> bool:
        """Whether this process writes (one process, or rank 0)."""
        return self.group is None or self.group.main


def evaluate_run(
    job: FinalEvaluation,
    seed: int,
    generator: Path,
    best: Path | None,
    training: Mapping[str, Any],
    samples_path: Path,
    figures_dir: Path,
) -> dict[str, Any] | None:
    """Draw and score the run saved at `generator` (with its best checkpoint, `best`, where
    training kept one; `training`: its train.json): its samples go to `samples_path` and
    its figures to `figures_dir`; return its metrics record. Over a group every rank calls
    this alike; rank 0 alone reads the generators and writes, and returns the record (the
    other ranks None)."""
    evaluator, group = job.evaluator, job.group
    if group is not None:
        evaluator = evaluator.sharded(group.rank, group.world, group.gather)
    with cpu_threads(job.threads):
        payload: dict[str, Any] | None = None
        selected: Mapping[str, Any] | None = None  # which step the best generators are of
        if job.main:
            trained = load_trained(generator)
            if best is not None:
                with_best(trained, load_trained(best))
            selected = trained.info.get("best")
            payload = sample_run(trained, job.data, job.sample_cfg, seed, samples_path, figures_dir)
        if group is not None:
            payload = group.broadcast(payload)  # rank 0's samples, on every rank
        if payload is None:
            raise RuntimeError("no samples came from rank 0")  # broadcast guarantees them
        scores = evaluator.score(payload, seed)  # every rank alike: it extracts its share
    if not job.main:
        return None
    return metrics_record(
        job.variant,
        seed,
        job.report,
        sampling_record(job.sample_cfg, payload, selected),
        scores,
        evaluator.baselines(),
        training,
    )
