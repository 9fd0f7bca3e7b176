"""A fixed fraction of a prepared image set (few-shot training: `emoji64_10pct` is 10% of
emoji64). Its runs are scored by the evaluator of the whole set it was drawn from (the
`whole_set` evaluator, built by the cross_evaluator stage), so a generator that only
reproduces its few training images does not look good."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.core.errors import DataError
from ganforge.data.fetch import SourceContext
from ganforge.data.folder import subset
from ganforge.data.prepared import PreparedDataset
from ganforge.data.translation import derived_meta, source_images


@dataclass(frozen=True)
class SubsetConfig:
    """`fraction` of `from_dataset`'s images (rounded, at least one), drawn with `seed`; the
    images keep their order and labels."""

    from_dataset: str
    fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")


def make_subset(cfg: SubsetConfig, ctx: SourceContext) -> PreparedDataset:
    """The subset of a prepared image dataset."""
    source = source_images(ctx, cfg.from_dataset, None)
    if len(source) == 0:
        raise DataError(f"{ctx.name}: {source.name!r} has no images")
    count = max(1, round(len(source) * cfg.fraction))
    idx = torch.from_numpy(subset(len(source), count, cfg.seed))
    tensors = {key: torch.as_tensor(value[idx]) for key, value in source.tensors.items()}
    meta = derived_meta(
        source,
        {
            "source": f"{count} of the {len(source)} {source.name} images (fraction {cfg.fraction:g}, "
            f"seed {cfg.seed})",
            "subset": {"of": source.name, "fraction": cfg.fraction, "seed": cfg.seed, "count": count},
            "evaluator": "whole_set",  # scored against the whole set, not its own few images
            "classifier_from": source.name,
        },
    )
    meta["counts"] = {"kept": count, "skipped": len(source) - count}
    return PreparedDataset(ctx.name, "images", tensors, source.class_names, meta)
