"""Small building blocks shared by the nets."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn


def one_hot(labels: torch.Tensor, classes: int, dtype: torch.dtype) -> torch.Tensor:
    return nn.functional.one_hot(labels, classes).to(dtype)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02); batch-norm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def norm_1d(kind: str, features: int) -> nn.Module:
    """Normalisation for vectors: batch, layer, or none (identity)."""
    return {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}.get(kind, lambda _: nn.Identity())(features)


def norm_2d(kind: str, channels: int) -> nn.Module:
    """Normalisation for feature maps: batch, layer (over C, H, W: one group), or none."""
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


def mlp(
    sizes: list[int],
    activation: Callable[[], nn.Module],
    norm: str = "none",
    dropout: float = 0.0,
    first_norm: bool = False,
) -> nn.Sequential:
    """Linear layers `sizes[0] -> ... -> sizes[-1]`, each followed by (a norm,) an activation
    (and dropout). The norm skips the first layer unless `first_norm`."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if norm != "none" and (i > 0 or first_norm):
            layers.append(norm_1d(norm, n_out))
        layers.append(activation())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
