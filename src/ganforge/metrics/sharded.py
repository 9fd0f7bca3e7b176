"""Feature extraction split across the ranks of a data-parallel run: each rank extracts a
contiguous run of the extractor's own batches, and the ranks' features are gathered in rank
order. Since every batch holds the same images as in one process, the gathered features are
the single-process ones, bit for bit, and scoring no longer waits for one device."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ganforge.metrics.features import Features

Extract = Callable[[torch.Tensor], Features]
Gather = Callable[[Any], list[Any]]
"""Every rank's object, in rank order, on every rank (`Group.gather`)."""


def shard_bounds(count: int, batch_size: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [start, stop) of `rank`: whole batches of `batch_size`, split as evenly as they go."""
    batches = -(-count // batch_size) if count else 0
    per, extra = divmod(batches, world)
    first = rank * per + min(rank, extra)
    last = first + per + (1 if rank < extra else 0)
    return min(first * batch_size, count), min(last * batch_size, count)


@dataclass(frozen=True)
class ShardedExtractor:
    """An extractor whose calls are split across `world` ranks (see the module's docstring);
    every rank must call it with the same images."""

    extract: Extract
    rank: int
    world: int
    gather: Gather

    def __call__(self, images: torch.Tensor) -> Features:
        batch = int(getattr(self.extract, "batch_size", None) or len(images) or 1)
        start, stop = shard_bounds(len(images), batch, self.rank, self.world)
        local = self.extract(images[start:stop]) if stop > start else None
        parts = [p for p in self.gather(local) if p is not None]
        if not parts:
            return self.extract(images)
        log_probs = [p.log_probs for p in parts]
        return Features(
            np.concatenate([p.features for p in parts]),
            np.concatenate(log_probs) if all(lp is not None for lp in log_probs) else None,
        )

    def __getattr__(self, name: str) -> Any:
        if name == "extract":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.extract, name)  # the extractor's name, protocol, ...
