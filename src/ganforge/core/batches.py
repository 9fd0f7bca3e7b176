"""Training batches from a dataset held in memory (on the training device): shuffled once
per epoch with the run's data generator, uint8 images scaled to [-1, 1] per batch. A batch
carries named tensors (`x` and `labels` for a GAN, `a` and `b` for aligned image pairs)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from ganforge.core.errors import ConfigError
from ganforge.core.images import to_model_input
from ganforge.core.sharding import Shard


class Batch:
    """Named tensors of one batch, all with the same first dimension."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        self.tensors = dict(tensors)

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.tensors[key]

    def get(self, key: str) -> torch.Tensor | None:
        return self.tensors.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __len__(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])


def to_device(part: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host batch on the device: through pinned (page-locked) memory to a GPU, so the copy
    runs asynchronously."""
    if device.type == "cuda":
        return part.pin_memory().to(device, non_blocking=True)
    return part.to(device)


class BatchSampler:
    """Endless batches without replacement within an epoch (the last partial batch of an
    epoch is dropped), every named tensor indexed alike, so pairs stay aligned. Its state
    goes into checkpoints so a resumed run sees the same data. uint8 image tensors come out
    as floats in [-1, 1]. With a shard (data parallelism), every process draws the same global
    batch and keeps its slice. With `host`, the tensors stay where they are (host memory, e.g.
    memory-mapped from a streaming-format file) and each batch moves to the device on its own,
    through pinned memory to a GPU: for sets too large for the device."""

    def __init__(
        self,
        tensors: Mapping[str, torch.Tensor | None],
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        channels_last: bool = False,
        host: bool = False,
    ) -> None:
        self.host = host and device.type != "cpu"
        self.tensors = {k: v if self.host else v.to(device) for k, v in tensors.items() if v is not None}
        sizes = {k: int(v.shape[0]) for k, v in self.tensors.items()}
        if not sizes or len(set(sizes.values())) != 1:
            raise ValueError(f"a batch sampler needs tensors of one length, got {sizes}")
        self.length = next(iter(sizes.values()))
        if self.length < batch_size:
            raise ConfigError(
                f"the training data has {self.length} examples, fewer than one batch of {batch_size}: "
                f"lower train.batch_size (or the variant's own) or use more data"
            )
        self.batch_size = batch_size
        self.generator = generator
        self.device = device
        self.channels_last = channels_last
        self.order = torch.empty(0, dtype=torch.int64)
        self.position = 0
        self.epoch = 0
        self.shard = Shard()

    def set_shard(self, shard: Shard) -> None:
        """Draw the global batch as before but hand out only `shard` of it (data parallelism)."""
        shard.check(self.batch_size, "the batch size")
        self.shard = shard

    def _new_epoch(self) -> None:
        self.order = torch.randperm(self.length, generator=self.generator)
        self.position = 0
        self.epoch += 1

    def next(self) -> Batch:
        if self.position + self.batch_size > len(self.order):
            self._new_epoch()
        idx = self.shard.take(self.order[self.position : self.position + self.batch_size])
        if not self.host:
            idx = idx.to(self.device, non_blocking=True)
        self.position += self.batch_size
        out = {}
        for key, tensor in self.tensors.items():
            part = tensor[idx]
            if self.host:
                part = to_device(part, self.device)
            if part.dtype == torch.uint8 and part.dim() == 4:
                part = to_model_input(part, self.channels_last)
            out[key] = part
        return Batch(out)

    def state_dict(self) -> dict[str, Any]:
        """Where the sampler is in its epoch, and its generator's state."""
        return {
            "order": self.order,
            "position": self.position,
            "epoch": self.epoch,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order, self.position, self.epoch = state["order"], state["position"], state["epoch"]
        self.generator.set_state(state["generator"])
