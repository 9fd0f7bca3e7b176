"""Stacked MNIST (Metz et al., "Unrolled GANs"; the protocol of VEEGAN and PacGAN): three
digits drawn independently from a prepared grayscale digit set, stacked as the R, G and B
channels of one image, so the data has 10 × 10 × 10 = 1,000 equally likely modes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.core.errors import DataError
from ganforge.data.fetch import SourceContext
from ganforge.data.prepared import PreparedDataset
from ganforge.data.translation import derived_meta, source_images

CHANNELS = ("R", "G", "B")


@dataclass(frozen=True)
class StackedConfig:
    """`count` stacked images; the three digits of each are drawn uniformly and independently
    (with replacement) from `from_dataset` with `seed`. The label of an image is its mode,
    100·d_R + 10·d_G + d_B, named like "372"."""

    from_dataset: str
    count: int = 50_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be positive, got {self.count}")


def mode_names(classes: int) -> list[str]:
    """The names of the classes³ modes: the digit of each channel, R first ("000" … "999")."""
    width = len(str(classes - 1))
    return [
        f"{r:0{width}d}{g:0{width}d}{b:0{width}d}"
        for r in range(classes)
        for g in range(classes)
        for b in range(classes)
    ]


def stack_modes(channel_labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Mode indices of N×3 per-channel class indices (R most significant)."""
    return (channel_labels[:, 0] * classes + channel_labels[:, 1]) * classes + channel_labels[:, 2]


def make_stacked(cfg: StackedConfig, ctx: SourceContext) -> PreparedDataset:
    """The stacked set from a prepared single-channel labelled image dataset."""
    source = source_images(ctx, cfg.from_dataset, None)
    if source.images.shape[1] != 1 or source.labels is None:
        raise DataError(
            f"{ctx.name}: stacking needs a labelled grayscale dataset; {source.name!r} has "
            f"{source.images.shape[1]} channel(s){'' if source.labels is not None else ' and no labels'}"
        )
    if len(source) == 0:
        raise DataError(f"{ctx.name}: {source.name!r} has no images")
    generator = torch.Generator().manual_seed(cfg.seed)
    picks = torch.randint(0, len(source), (cfg.count, 3), generator=generator)
    images = torch.cat([source.images[picks[:, c]] for c in range(3)], dim=1)
    classes = len(source.class_names)
    labels = stack_modes(source.labels[picks], classes)
    meta = derived_meta(
        source,
        {
            "source": f"{cfg.count} stacks of 3 {source.name} digits drawn independently (seed {cfg.seed})",
            "channels": {c: f"a {source.name} digit" for c in CHANNELS},
            "modes": classes**3,
            "seed": cfg.seed,
            "evaluator": "stacked",  # scored by the source's domain classifier, channel by channel
            "classifier_from": source.name,
        },
    )
    meta["counts"] = {"kept": cfg.count, "skipped": 0}
    return PreparedDataset(
        ctx.name, "images", {"images": images, "labels": labels}, mode_names(classes), meta
    )
