"""Training batches from a dataset held in memory (on the training device): shuffled once
per epoch with the run's data generator, uint8 images scaled to [-1, 1] per batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass
class Batch:
    x: torch.Tensor
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def fit_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 N×C×H×W images brought to size×size once, before training: zero-padded when
    they are smaller by an even margin (MNIST 28 → 32), resized (antialiased) otherwise."""
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    if h == w and h < size and (size - h) % 2 == 0:
        pad = (size - h) // 2
        return F.pad(images, (pad, pad, pad, pad))
    x = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def unfit_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """The inverse of `fit_images` for generated images: crop the centre where it padded
    (32 → 28), resize otherwise."""
    h, w = images.shape[-2:]
    if h == w and h > size and (h - size) % 2 == 0:
        m = (h - size) // 2
        return images[..., m : m + size, m : m + size]
    return fit_images(images, size)


class BatchSampler:
    """Endless batches without replacement within an epoch (the last partial batch of an
    epoch is dropped). Its state goes into checkpoints so a resumed run sees the same data."""

    def __init__(
        self,
        data: torch.Tensor,
        labels: torch.Tensor | None,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        channels_last: bool = False,
    ) -> None:
        if len(data) < batch_size:
            raise ValueError(f"the dataset has {len(data)} examples, fewer than one batch of {batch_size}")
        self.data = data.to(device)
        self.labels = labels.to(device) if labels is not None else None
        self.batch_size = batch_size
        self.generator = generator
        self.device = device
        self.channels_last = channels_last
        self.images = data.dtype == torch.uint8
        self.order = torch.empty(0, dtype=torch.int64)
        self.position = 0
        self.epoch = 0

    def _new_epoch(self) -> None:
        self.order = torch.randperm(len(self.data), generator=self.generator)
        self.position = 0
        self.epoch += 1

    def next(self) -> Batch:
        if self.position + self.batch_size > len(self.order):
            self._new_epoch()
        idx = self.order[self.position : self.position + self.batch_size].to(self.device, non_blocking=True)
        self.position += self.batch_size
        x = self.data[idx]
        if self.images:
            x = x.float().mul_(2.0 / 255.0).sub_(1.0)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, self.labels[idx] if self.labels is not None else None)

    def state_dict(self) -> dict[str, Any]:
        """Where the sampler is in its epoch (its generator is saved with the run's RNGs)."""
        return {"order": self.order, "position": self.position, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order, self.position, self.epoch = state["order"], state["position"], state["epoch"]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] → uint8 images (on the CPU)."""
    return x.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to("cpu", torch.uint8)
