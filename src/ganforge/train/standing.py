"""Standing statistics (as BigGAN samples its EMA generator): an averaged generator's
batch-norm running statistics are not those of its averaged weights, so before it is sampled
or saved they are recomputed from its own activations: reset, then a cumulative average over
a fixed number of batches of fresh inputs drawn from a fixed seed, with only the batch-norm
layers in training mode (dropout stays off, as when sampling)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def batch_norms(net: nn.Module) -> list[_BatchNorm]:
    return [m for m in net.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_batch_norm(net: nn.Module, batches: Iterable[Sequence[torch.Tensor | None]]) -> int:
    """Replace the running statistics of every batch-norm layer of `net` by their cumulative
    average over `batches` (each the positional inputs of one forward); return how many
    batches were used. `net` is left in eval mode."""
    norms = batch_norms(net)
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    net.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
        m.train()
    count = 0
    try:
        for inputs in batches:
            net(*inputs)
            count += 1
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        net.eval()
    return count
