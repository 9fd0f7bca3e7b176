"""Adversarial losses, chosen by name, all computed from logits (numerically stable: no
sigmoid followed by a log)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.errors import unknown_name


@dataclass(frozen=True)
class AdversarialLoss:
    """The discriminator's and the generator's objectives (both minimised)."""

    name: str
    probabilities: bool = True
    """Whether sigmoid(logit) is D's probability that a sample is real (for D(x) diagnostics)."""

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        raise NotImplementedError

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class _CrossEntropyGame(AdversarialLoss):
    """The discriminator of the original GAN: -log D(x) (against target α, for one-sided
    label smoothing) - log(1 - D(G(z)))."""

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        real_loss = F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target))
        return real_loss + F.softplus(fake).mean()


@dataclass(frozen=True)
class NonSaturating(_CrossEntropyGame):
    """Goodfellow et al.'s practical variant: G maximises log D(G(z))."""

    name: str = "ns"

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake).mean()  # -log sigmoid(fake)


@dataclass(frozen=True)
class Minimax(_CrossEntropyGame):
    """The original minimax game: G minimises log(1 - D(G(z)))."""

    name: str = "minimax"

    def generator(self, fake: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake).mean()  # log(1 - sigmoid(fake))


LOSSES: Mapping[str, AdversarialLoss] = {"ns": NonSaturating(), "minimax": Minimax()}


def get_loss(name: str) -> AdversarialLoss:
    if name not in LOSSES:
        raise unknown_name("loss", name, list(LOSSES))
    return LOSSES[name]
