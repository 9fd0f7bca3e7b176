"""DCGAN (Radford et al.) for any square power-of-two size from 16 to 128 and any channel
count: transposed convolutions up from 4×4 in G, strided convolutions down to 4×4 in D,
batch norm except on D's first layer and G's output, ReLU in G, LeakyReLU 0.2 in D, tanh
output, N(0, 0.02) init. Conditional nets take the label as extra input channels."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.nets.base import Discriminator, Generator, require_kind
from ganforge.nets.config import DataShape, NetConfig
from ganforge.nets.layers import dcgan_init, norm_2d
from ganforge.nets.shapes import check_image_size, conv_out, conv_transpose_out


def _check(got: int, want: int, what: str) -> None:
    if got != want:  # a bug in the layer arithmetic, caught when the net is built
        raise AssertionError(f"{what}: layers produce {got}×{got}, expected {want}×{want}")


class DCGANGenerator(Generator):
    """(z, label) as a 1×1 map → 4×4 → … → size×size, halving the channels at each step."""

    convolutional = True

    def __init__(self, latent_dim: int, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("dcgan", shape, "images", "use arch toy for points")
        super().__init__(latent_dim, shape, cfg)
        stages = check_image_size(shape.size)
        norm = cfg.norm or "batch"
        channels = cfg.width * 2 ** (stages - 1)
        in_channels = latent_dim + (self.label.dim if self.label is not None else 0)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_channels, channels, 4, 1, 0, bias=False),
            norm_2d(norm, channels, self.reference),
            nn.ReLU(True),
        ]
        size = conv_transpose_out(1, 4, 1, 0)
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                norm_2d(norm, channels // 2, self.reference),
                nn.ReLU(True),
            ]
            channels //= 2
            size = conv_transpose_out(size, 4, 2, 1)
        layers += [nn.ConvTranspose2d(channels, shape.channels, 4, 2, 1, bias=False), nn.Tanh()]
        _check(conv_transpose_out(size, 4, 2, 1), shape.size, "DCGAN generator")
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        h = self.latent_input(z, labels)
        return self.net(h.view(h.shape[0], -1, 1, 1))


class DCGANDiscriminator(Discriminator):
    """size×size → … → 4×4 features, doubling the channels at each step; the head is the
    4×4 convolution to one logit (a linear layer on the flattened features). With packing,
    `pack` consecutive samples (with their label planes) are stacked as channels of one input,
    as PacGAN feeds its convolutional discriminators: one logit per pack."""

    convolutional = True

    def __init__(self, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("dcgan", shape, "images", "use arch toy for points")
        super().__init__(shape, cfg)
        if cfg.noise > 0:
            raise ConfigError("input noise (`noise`) is implemented for the mlp and toy discriminators")
        stages = check_image_size(shape.size)
        norm = cfg.norm or "batch"
        label_channels = 0
        self.label_plane: nn.Module | None = None
        if self.label is not None:
            if self.label.embedding is not None:  # embedding → one learned plane
                self.label_plane = nn.Linear(self.label.dim, shape.size * shape.size)
                label_channels = 1
            else:  # one-hot → one constant plane per class
                label_channels = self.label.dim
        channels = cfg.width
        layers: list[nn.Module] = [  # a pack of samples (PacGAN) enters as one stack of channels
            nn.Conv2d(cfg.pack * (shape.channels + label_channels), channels, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        size = conv_out(shape.size, 4, 2, 1)
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                norm_2d(norm, channels * 2),
                nn.LeakyReLU(0.2, True),
            ]
            if cfg.dropout > 0:
                layers.append(nn.Dropout(cfg.dropout))
            channels *= 2
            size = conv_out(size, 4, 2, 1)
        _check(size, 4, "DCGAN discriminator")
        self.net = nn.Sequential(*layers)
        self.make_head(channels * 4 * 4)
        self.apply(dcgan_init)

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels)
        if self.label is not None and labels is not None:
            vec = self.label(labels, x.dtype)
            n, _, h, w = x.shape
            plane = (
                self.label_plane(vec).view(n, 1, h, w)
                if self.label_plane is not None
                else vec.view(n, -1, 1, 1).expand(-1, -1, h, w)
            )
            x = torch.cat([x, plane], dim=1)
        pack = self.cfg.pack
        if pack > 1:
            if x.shape[0] % pack:
                raise ValueError(f"a batch of {x.shape[0]} does not split into packs of {pack}")
            x = x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])
        return self.net(x).flatten(1)
