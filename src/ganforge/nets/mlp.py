"""Fully connected GANs: the classic MNIST MLP GAN (and its conditional form, with a one-hot
label concatenated to z and to the flattened image), and the small 2-D toy GAN."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ganforge.nets.base import Discriminator, Generator, require_kind
from ganforge.nets.config import DataShape, NetConfig
from ganforge.nets.layers import mlp

_LEAKY = partial(nn.LeakyReLU, 0.2)


class MLPGenerator(Generator):
    """z (+ label) → 128 → 256 → 512 → 1024 (LeakyReLU, batch norm after the first) → tanh image."""

    def __init__(self, latent_dim: int, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("mlp", shape, "images", "use arch toy for points")
        super().__init__(latent_dim, shape, cfg)
        hidden = list(cfg.hidden or (128, 256, 512, 1024))
        label_dim = self.label.dim if self.label is not None else 0
        self.body = mlp(
            [latent_dim + label_dim, *hidden], _LEAKY, norm=cfg.norm or "batch", reference=self.reference
        )
        self.out = nn.Linear(hidden[-1], shape.numel)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        x = torch.tanh(self.out(self.body(self.latent_input(z, labels))))
        return x.view(-1, self.shape.channels, self.shape.size, self.shape.size)


class _DenseDiscriminator(Discriminator):
    """Flattened input (+ label vector) → hidden layers (optional dropout and input noise) →
    one logit. With
    packing, `pack` consecutive samples are concatenated into one input (PacGAN), so the net
    gives one logit per pack."""

    def __init__(
        self, shape: DataShape, cfg: NetConfig, hidden: tuple[int, ...], activation: Callable[[], nn.Module]
    ) -> None:
        super().__init__(shape, cfg)
        sizes = list(cfg.hidden or hidden)
        label_dim = self.label.dim if self.label is not None else 0
        self.body = mlp(
            [cfg.pack * (shape.numel + label_dim), *sizes],
            activation,
            norm=cfg.norm or "none",
            dropout=cfg.dropout,
            noise=cfg.noise,
        )
        self.make_head(sizes[-1])

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels)
        h = x.flatten(1)
        if self.label is not None and labels is not None:
            h = torch.cat([h, self.label(labels, h.dtype)], dim=1)
        if self.cfg.pack > 1:
            if h.shape[0] % self.cfg.pack:
                raise ValueError(f"a batch of {h.shape[0]} does not split into packs of {self.cfg.pack}")
            h = h.reshape(h.shape[0] // self.cfg.pack, -1)
        return self.body(h)


class MLPDiscriminator(_DenseDiscriminator):
    """Flattened image (+ label) → 512 → 256 (LeakyReLU 0.2, optional dropout) → one logit."""

    def __init__(self, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("mlp", shape, "images", "use arch toy for points")
        super().__init__(shape, cfg, (512, 256), _LEAKY)


class ToyGenerator(Generator):
    """z (10-d by default) → 128 → 128 (ReLU) → a point."""

    def __init__(self, latent_dim: int, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("toy", shape, "points", "use arch mlp or dcgan for images")
        super().__init__(latent_dim, shape, cfg)
        hidden = list(cfg.hidden or (128, 128))
        label_dim = self.label.dim if self.label is not None else 0
        self.body = mlp(
            [latent_dim + label_dim, *hidden], nn.ReLU, norm=cfg.norm or "none", reference=self.reference
        )
        self.out = nn.Linear(hidden[-1], shape.dim)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.out(self.body(self.latent_input(z, labels)))


class ToyDiscriminator(_DenseDiscriminator):
    """A point (+ label) → 128 → 128 (ReLU) → one logit."""

    def __init__(self, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("toy", shape, "points", "use arch mlp or dcgan for images")
        super().__init__(shape, cfg, (128, 128), nn.ReLU)
