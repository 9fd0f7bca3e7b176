"""Adversarial losses, chosen by name, all computed from logits (numerically stable: no
sigmoid followed by a log)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.core.errors import unknown_name


@dataclass(frozen=True)
class AdversarialLoss:
    """The discriminator's and the generator's objectives (both minimised)."""

    name: str
    probabilities: bool = True
    """Whether sigmoid(logit) is D's probability that a sample is real (for D(x) diagnostics)."""
    pairs: bool = False
    """Whether the generator's loss compares each generated sample with a real one (relativistic
    pairing): its caller then passes D's outputs on the batch's real images too."""

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        raise NotImplementedError

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
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

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return F.softplus(-fake).mean()  # -log sigmoid(fake)


@dataclass(frozen=True)
class Minimax(_CrossEntropyGame):
    """The original minimax game: G minimises log(1 - D(G(z)))."""

    name: str = "minimax"

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return -F.softplus(fake).mean()  # log(1 - sigmoid(fake))


@dataclass(frozen=True)
class Wasserstein(AdversarialLoss):
    """WGAN (Arjovsky et al.): the critic maximises E[D(x)] - E[D(G(z))] (no sigmoid); its
    Lipschitz constraint comes from weight clipping or a gradient penalty (regularizers)."""

    name: str = "wgan"
    probabilities: bool = False

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return fake.mean() - real.mean()

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return -fake.mean()


@dataclass(frozen=True)
class Hinge(AdversarialLoss):
    """The hinge loss of SNGAN / SAGAN: D minimises relu(1 - D(x)) + relu(1 + D(G(z)))."""

    name: str = "hinge"
    probabilities: bool = False

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return F.relu(real_target - real).mean() + F.relu(1.0 + fake).mean()

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return -fake.mean()


@dataclass(frozen=True)
class LeastSquares(AdversarialLoss):
    """LSGAN (Mao et al., a = 0, b = c = 1): D minimises ½(D(x) - 1)² + ½D(G(z))², G
    minimises ½(D(G(z)) - 1)². One-sided smoothing moves the real target to α."""

    name: str = "ls"
    probabilities: bool = False

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * (fake**2).mean()

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * ((fake - 1.0) ** 2).mean()


@dataclass(frozen=True)
class RelativisticPairing(AdversarialLoss):
    """RpGAN (Jolicoeur-Martineau 2018; the loss of R3GAN, Huang et al. 2024): each generated
    sample is judged against a real one. D minimises softplus(D(G(z)) - D(x)) = -log σ(D(x) -
    D(G(z))), G minimises softplus(D(x) - D(G(z))), pairs taken in batch order. Its raw
    outputs are no probabilities; there is no label to smooth."""

    name: str = "rpgan"
    probabilities: bool = False
    pairs: bool = True

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return F.softplus(fake - real).mean()

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        if real is None:
            raise ValueError("the relativistic pairing loss needs D's outputs on real images for G's loss")
        return F.softplus(real - fake).mean()


def top_k(fake: torch.Tensor, fraction: float) -> torch.Tensor:
    """The `fraction` (at least one) of the discriminator's outputs on generated samples that
    rate them most real, for top-k training (Sinha et al. 2020): the generator learns only
    from its most realistic samples, as a flat tensor; all of them, unchanged, at 1."""
    if fraction >= 1.0:
        return fake
    flat = fake.reshape(-1)
    return flat.topk(max(1, round(fraction * flat.numel()))).values


LOSSES: Mapping[str, AdversarialLoss] = {
    loss.name: loss
    for loss in (NonSaturating(), Minimax(), Wasserstein(), Hinge(), LeastSquares(), RelativisticPairing())
}


def get_loss(name: str) -> AdversarialLoss:
    if name not in LOSSES:
        raise unknown_name("loss", name, list(LOSSES))
    return LOSSES[name]
