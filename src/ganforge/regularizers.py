"""Penalties and constraints that any variant can switch on (see `TrainConfig`): the WGAN-GP
gradient penalty, the R1 and R2 penalties (Mescheder et al. 2018; R1 on real images, R2 on
generated ones), WGAN weight clipping, feature matching and historical averaging (Salimans
et al., "Improved Techniques for Training GANs")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganforge.core.sharding import Shard


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
    shard: Shard | None = None,
) -> torch.Tensor:
    """E[(||∇ D(x̂)||₂ - 1)²] on random interpolates x̂ = εx + (1-ε)G(z), ε ~ U[0, 1] per
    sample, the norm taken per sample over all its elements (Gulrajani et al.)."""
    shard = shard or Shard()
    shape = (real.shape[0] * shard.world,) + (1,) * (real.dim() - 1)
    eps = shard.take(torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype))
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def gradient_square(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """E[||∇ₓ D(x)||²]: the squared L2 norm, per sample over all its elements, of the gradient
    of D's outputs (summed per sample, as for PatchGAN's map of logits) with respect to the
    inputs they were computed from (which must require grad), averaged over the batch. With
    real inputs this is R1, with generated ones R2; the graph is kept so the penalty trains D."""
    (grad,) = torch.autograd.grad(logits.float().sum(), inputs, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, bound: float) -> None:
    """Clamp every parameter into [-bound, bound] (the original WGAN's Lipschitz constraint)."""
    for p in module.parameters():
        p.clamp_(-bound, bound)


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E f(x) - E f(G(z))||²: the squared L2 distance between the batch means of an
    intermediate discriminator layer on real and generated samples."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).sum()


class HistoricalAverage:
    """θ̄, the average of a module's parameters over every past step; the penalty
    ||θ - θ̄||² pulls the parameters towards their own history."""

    def __init__(self, module: nn.Module) -> None:
        self.average = [p.detach().clone() for p in module.parameters()]
        self.count = 1

    def penalty(self, module: nn.Module) -> torch.Tensor:
        return sum(((p - a) ** 2).sum() for p, a in zip(module.parameters(), self.average, strict=True))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Fold the current parameters into the running average."""
        self.count += 1
        for p, a in zip(module.parameters(), self.average, strict=True):
            a.add_((p.detach() - a) / self.count)

    def state_dict(self) -> dict[str, Any]:
        return {"average": [a.clone() for a in self.average], "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for a, saved in zip(self.average, state["average"], strict=True):
            a.copy_(saved)
        self.count = int(state["count"])
