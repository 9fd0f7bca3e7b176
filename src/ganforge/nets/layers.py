"""Small building blocks shared by the nets."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.nets.improved import VirtualBatchNorm


def one_hot(labels: torch.Tensor, classes: int, dtype: torch.dtype) -> torch.Tensor:
    return nn.functional.one_hot(labels, classes).to(dtype)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (also pix2pix's and CycleGAN's): conv weights N(0, 0.02);
    batch-norm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class GaussianNoise(nn.Module):
    """Adds N(0, sigma²) noise in training mode (the Improved-GAN discriminator's regulariser);
    the identity in eval mode. Draws from the global generator, which the trainer seeds."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training and self.sigma > 0 else x


def norm_1d(kind: str, features: int, reference: int = 0) -> nn.Module:
    """Normalisation for vectors: batch, layer, vbn (virtual batch norm), or none (identity)."""
    if kind == "vbn":
        return VirtualBatchNorm(features, reference)
    if kind == "instance":
        raise ConfigError("instance norm is for convolutional nets; use batch, layer or none here")
    return {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}.get(kind, lambda _: nn.Identity())(features)


def norm_2d(kind: str, channels: int, reference: int = 0) -> nn.Module:
    """Normalisation for feature maps: batch, instance (no affine parameters and no running
    statistics, as the pix2pix/CycleGAN code), layer (over C, H, W: one group), vbn, or none."""
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "vbn":
        return VirtualBatchNorm(channels, reference)
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


def mlp(
    sizes: list[int],
    activation: Callable[[], nn.Module],
    norm: str = "none",
    dropout: float = 0.0,
    first_norm: bool = False,
    reference: int = 0,
    noise: float = 0.0,
) -> nn.Sequential:
    """Linear layers `sizes[0] -> ... -> sizes[-1]`, each followed by (a norm,) an activation
    (and dropout), and with Gaussian `noise` added to each layer's input while training. The
    norm skips the first layer unless `first_norm`."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if noise > 0:
            layers.append(GaussianNoise(noise))
        layers.append(nn.Linear(n_in, n_out))
        if norm != "none" and (i > 0 or first_norm):
            layers.append(norm_1d(norm, n_out, reference))
        layers.append(activation())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
