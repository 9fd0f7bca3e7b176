"""Progressive growing (Karras et al., ProGAN): a generator and a discriminator that hold
every resolution from 4×4 up to the image size and train from the smallest, each new
resolution faded in linearly. Pixel normalisation after every generator convolution,
equalised learning rate on every layer, the minibatch standard-deviation feature before the
discriminator's last block, linear RGB output.

The nets keep their growth state (`level`: 0 is 4×4; `alpha`: the new block's weight while it
fades in) as buffers, so a checkpoint or a saved generator restores it; the trainer's schedule
sets it (`ganforge.train.schedule`). The generator always returns images of the full size
(nearest-upsampled from the current resolution), so sampling and every tool that uses a
trained model work unchanged; the discriminator takes images of the current resolution (or
larger ones, which it average-pools down)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ganforge.core.errors import ConfigError
from ganforge.nets.base import Discriminator, Generator, require_kind
from ganforge.nets.config import DataShape, NetConfig
from ganforge.nets.shapes import is_power_of_two

LEAK = 0.2
SQRT2 = math.sqrt(2.0)


class EqualizedLinear(nn.Module):
    """A linear layer with equalised learning rate: weights drawn N(0, 1) and scaled at run
    time by He's constant gain/√fan_in, so Adam's step is alike for every layer."""

    def __init__(self, in_features: int, out_features: int, gain: float = SQRT2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class EqualizedConv2d(nn.Module):
    """A stride-1 convolution with equalised learning rate (`EqualizedLinear`'s scaling, the
    fan-in being in_channels·k²), padded to keep the size."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, gain: float = SQRT2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """Each pixel's feature vector scaled to unit root-mean-square over the channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def minibatch_stddev(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """x with one more channel: within each group of samples (sample i is in group i mod
    N/group_size), the standard deviation of every feature over the group, averaged over
    features and positions, as a constant map. The group size is the largest divisor of the
    batch up to `group`."""
    n, c, h, w = x.shape
    size = math.gcd(n, group)
    y = x.float().reshape(size, n // size, c, h, w)
    std = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()
    feature = std.mean(dim=(1, 2, 3)).to(x.dtype)  # one value per group
    return torch.cat([x, feature.repeat(size).view(n, 1, 1, 1).expand(n, 1, h, w)], dim=1)


class MinibatchStddev(nn.Module):
    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(x, self.group)


def downsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images average-pooled down to size×size (unchanged when already that size)."""
    factor = x.shape[-1] // size
    return x if factor == 1 else F.avg_pool2d(x, factor)


def upsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images nearest-upsampled to size×size (unchanged when already that size)."""
    factor = size // x.shape[-1]
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def fade(old: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    """The blend of a fade-in: (1 − α)·old + α·new (the new path alone at α = 1)."""
    return new if alpha >= 1.0 else torch.lerp(old, new, alpha)


def fade_reals(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Real images at the current resolution blended with their half-resolution version
    (upsampled back), as the generator's output is while its new block fades in."""
    return fade(upsample(F.avg_pool2d(x, 2), x.shape[-1]), x, alpha)


def progan_levels(size: int) -> int:
    """How many resolutions (4, 8, …, size) the nets hold; ConfigError for impossible sizes."""
    if not (is_power_of_two(size) and 8 <= size <= 1024):
        raise ConfigError(f"progan nets need a square power-of-two image size from 8 to 1024; got {size}")
    return size.bit_length() - 2


def level_channels(cfg: NetConfig, levels: int) -> list[int]:
    """Feature maps at each level: `width` at the full size, doubling towards 4×4 up to 8×width."""
    return [cfg.width * 2 ** min(levels - 1 - level, 3) for level in range(levels)]


def _refuse(arch_cfg: NetConfig, who: str) -> None:
    """The options the progan nets do not implement, refused rather than ignored."""
    unsupported = {
        "norm": arch_cfg.norm not in (None, "none"),
        "dropout": arch_cfg.dropout > 0,
        "noise": arch_cfg.noise > 0,
        "spectral_norm": arch_cfg.spectral_norm,
        "minibatch_kernels": arch_cfg.minibatch_kernels > 0,
        "pack": arch_cfg.pack > 1,
    }
    named = [name for name, set_ in unsupported.items() if set_]
    if named:
        raise ConfigError(
            f"the progan {who} does not implement {', '.join(named)}: it has pixel norm (generator), "
            f"equalised lr and the minibatch stddev layer (discriminator) built in"
        )


class Growing(nn.Module):
    """The growth state of a progressive net: buffers (saved with the weights) and their
    Python mirrors (read by `forward` without a device sync)."""

    levels: int

    def init_growth(self, levels: int) -> None:
        self.levels = levels
        self.register_buffer("growth_level", torch.tensor(levels - 1))
        self.register_buffer("growth_alpha", torch.tensor(1.0))
        self.level, self.alpha = levels - 1, 1.0
        self.register_load_state_dict_post_hook(lambda module, _: module.sync_growth())

    def set_growth(self, level: int, alpha: float) -> None:
        """Train at `level` (capped at the last) with the new block's weight `alpha`."""
        if level >= self.levels:
            level, alpha = self.levels - 1, 1.0
        if level == 0:
            alpha = 1.0
        if (level, alpha) != (self.level, self.alpha):
            self.growth_level.fill_(level)
            self.growth_alpha.fill_(alpha)
            self.level, self.alpha = level, alpha

    def sync_growth(self) -> None:
        self.level, self.alpha = int(self.growth_level), float(self.growth_alpha)

    @property
    def resolution(self) -> int:
        return 4 << self.level


class ProGANGenerator(Generator, Growing):
    """z (pixel-normalised, with a label vector when conditional) → 4×4 by a dense layer and
    a 3×3 convolution; each level doubles the size (nearest) and runs two 3×3 convolutions;
    a 1×1 toRGB per level. While level L fades in, the output is the blend of level L−1's
    RGB upsampled and level L's."""

    convolutional = True

    def __init__(self, latent_dim: int, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("progan", shape, "images", "use arch toy for points")
        super().__init__(latent_dim, shape, cfg)
        _refuse(cfg, "generator")
        levels = progan_levels(shape.size)
        channels = level_channels(cfg, levels)
        in_features = latent_dim + (self.label.dim if self.label is not None else 0)
        self.norm = PixelNorm()
        self.dense = EqualizedLinear(in_features, channels[0] * 16, gain=SQRT2 / 4)
        first = nn.Sequential(EqualizedConv2d(channels[0], channels[0], 3), nn.LeakyReLU(LEAK), PixelNorm())
        blocks = [first]
        for level in range(1, levels):
            blocks.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    EqualizedConv2d(channels[level - 1], channels[level], 3),
                    nn.LeakyReLU(LEAK),
                    PixelNorm(),
                    EqualizedConv2d(channels[level], channels[level], 3),
                    nn.LeakyReLU(LEAK),
                    PixelNorm(),
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, shape.channels, 1, gain=1.0) for c in channels)
        self.init_growth(levels)

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Images at the current resolution."""
        h = self.norm(self.latent_input(z, labels))
        h = self.norm(F.leaky_relu(self.dense(h), LEAK).view(z.shape[0], -1, 4, 4))
        h = self.blocks[0](h)
        previous = h
        for level in range(1, self.level + 1):
            previous, h = h, self.blocks[level](h)
        rgb = self.to_rgb[self.level](h)
        if self.level > 0 and self.alpha < 1.0:
            rgb = fade(upsample(self.to_rgb[self.level - 1](previous), rgb.shape[-1]), rgb, self.alpha)
        return rgb

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return upsample(self.synthesize(z, labels), self.shape.size)


class ProGANDiscriminator(Discriminator, Growing):
    """A 1×1 fromRGB per level; each level runs two 3×3 convolutions and halves the size;
    at 4×4 the minibatch-stddev channel, a 3×3 convolution, a dense layer (the features) and
    the linear head. While level L fades in, its path is blended with level L−1's fromRGB of
    the half-size input."""

    convolutional = True

    def __init__(self, shape: DataShape, cfg: NetConfig) -> None:
        require_kind("progan", shape, "images", "use arch toy for points")
        super().__init__(shape, cfg)
        _refuse(cfg, "discriminator")
        if shape.classes:
            raise ConfigError("the progan discriminator is unconditional: use system conditional: false")
        levels = progan_levels(shape.size)
        channels = level_channels(cfg, levels)
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(shape.channels, c, 1), nn.LeakyReLU(LEAK)) for c in channels
        )
        blocks: list[nn.Module] = [nn.Identity()]  # level 0's block is the final one below
        for level in range(1, levels):
            blocks.append(
                nn.Sequential(
                    EqualizedConv2d(channels[level], channels[level], 3),
                    nn.LeakyReLU(LEAK),
                    EqualizedConv2d(channels[level], channels[level - 1], 3),
                    nn.LeakyReLU(LEAK),
                    nn.AvgPool2d(2),
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.final = nn.Sequential(
            MinibatchStddev(),
            EqualizedConv2d(channels[0] + 1, channels[0], 3),
            nn.LeakyReLU(LEAK),
            nn.Flatten(),
            EqualizedLinear(channels[0] * 16, channels[0]),
            nn.LeakyReLU(LEAK),
        )
        self.head = EqualizedLinear(channels[0], 1, gain=1.0)
        self.init_growth(levels)

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels)
        x = downsample(x, self.resolution)
        h = self.from_rgb[self.level](x)
        if self.level > 0:
            h = self.blocks[self.level](h)
            if self.alpha < 1.0:
                h = fade(self.from_rgb[self.level - 1](F.avg_pool2d(x, 2)), h, self.alpha)
        for level in range(self.level - 1, 0, -1):
            h = self.blocks[level](h)
        return self.final(h)
