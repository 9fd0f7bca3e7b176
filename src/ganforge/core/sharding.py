"""Which part of every global batch a process takes, and what a system does differently when
its nets are data-parallel replicas. Plain code: the process group itself lives in
`ganforge.train.distributed`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganforge.core.errors import ConfigError


@dataclass(frozen=True)
class Shard:
    """Which slice of every global batch this process takes: rank `rank` of `world`."""

    rank: int = 0
    world: int = 1

    def check(self, global_size: int, what: str) -> None:
        if global_size % self.world:
            raise ConfigError(f"{what}: {global_size} does not split over {self.world} processes")

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a tensor drawn for the global batch."""
        if self.world == 1:
            return tensor
        size = tensor.shape[0] // self.world
        return tensor[self.rank * size : (self.rank + 1) * size]


def no_sync(net: nn.Module) -> contextlib.AbstractContextManager[None]:
    """DDP's no_sync for a replica (a frozen net's forward must not wait for its gradients)."""
    if isinstance(net, DistributedDataParallel):
        return net.no_sync()
    return contextlib.nullcontext()
