"""Layers from Salimans et al., "Improved Techniques for Training GANs": minibatch
discrimination (for discriminators) and virtual batch normalization (for generators), and
spectral normalization (Miyato et al.) applied to a whole network."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class MinibatchDiscrimination(nn.Module):
    """For features f (N×A) and a learned tensor T (A×B×C): M_i = f_i·T (B×C); for each of the
    B kernels, o(x_i)_b = Σ_j exp(-||M_i,b - M_j,b||₁) over the whole batch (j = i included,
    as in the paper, so every output is at least 1). Returns the B outputs, to concatenate to
    the features, so the discriminator sees how close a sample is to the rest of its batch."""

    def __init__(self, in_features: int, kernels: int, dims: int) -> None:
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.T = nn.Parameter(torch.randn(in_features, kernels * dims) * 0.1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        m = (features @ self.T).view(-1, self.kernels, self.dims)  # N×B×C
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # N×N×B
        return torch.exp(-l1).sum(dim=1)  # N×B


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalization: each example is normalised with the statistics of a fixed
    reference batch combined with the example itself (weight 1/(R+1)), so an example's output
    does not depend on the other examples of its batch. The reference batch is the first
    `reference` rows of every input (the generator puts it there); those rows are normalised
    with the reference statistics alone. Statistics are per feature (1-d inputs) or per channel
    (feature maps: over the spatial positions of each example)."""

    def __init__(self, features: int, reference: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.reference, self.eps = reference, eps
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1, -1) if x.dim() == 2 else (1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ref, rows = x[: self.reference], x[self.reference :]
        dims = (0,) if x.dim() == 2 else (0, 2, 3)
        ref_mean, ref_sq = ref.mean(dims, keepdim=True), (ref**2).mean(dims, keepdim=True)
        own = (lambda t: t) if x.dim() == 2 else (lambda t: t.mean((2, 3), keepdim=True))
        w = 1.0 / (self.reference + 1)
        mean = w * own(rows) + (1 - w) * ref_mean
        var = w * own(rows**2) + (1 - w) * ref_sq - mean**2
        out = torch.cat(
            [
                (ref - ref_mean) / torch.sqrt(ref_sq - ref_mean**2 + self.eps),
                (rows - mean) / torch.sqrt(var.clamp_min(0) + self.eps),
            ]
        )
        return out * self.weight.view(self._shape(x)) + self.bias.view(self._shape(x))


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (torch's parametrization, one power iteration per forward) on
    every linear and convolutional layer of `module`."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and not hasattr(
            child, "parametrizations"
        ):
            spectral_norm(child)
    return module
