"""Image-to-image networks (pix2pix, CycleGAN): the U-Net and ResNet generators, and the
PatchGAN discriminator, following the reference implementation's layouts
(junyanz/pytorch-CycleGAN-and-pix2pix), sized by the image size."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.core.errors import ConfigError
from ganforge.nets.config import ImagePair, NetConfig
from ganforge.nets.layers import dcgan_init, norm_2d
from ganforge.nets.shapes import conv_out, conv_transpose_out, is_power_of_two, receptive_field

MAX_MULTIPLIER = 8  # channels stop doubling at 8 × width, as in the reference
FIRST_FULL_LEVEL = 4  # the first level at MAX_MULTIPLIER × width: 2⁴ ≥ 8
PATCH_LAYERS = 3  # the paper's 70×70 PatchGAN


def unet_dropout_levels(levels: int) -> list[int]:
    """The decoder levels with dropout, as in the paper's U-Net: the blocks at 8 × width on
    both sides (levels 4 to levels − 2), outside the innermost one. None at 32 px (5 levels),
    one at 64 px, three at 256 px. Dropout before a batch norm shifts the statistics the norm
    sees between training and sampling, so the small U-Nets, whose every block is normed, get
    none."""
    return list(range(FIRST_FULL_LEVEL, levels - 1))


def _bias(norm: str) -> bool:
    """Convolutions before a batch norm need no bias (its shift is one); before instance norm
    without affine parameters, or no norm, they do."""
    return norm != "batch"


class Translator(nn.Module):
    """Maps `pair.in_channels` images to `pair.out_channels` images of the same size, in
    [-1, 1] (tanh)."""

    convolutional = True

    def __init__(self, pair: ImagePair) -> None:
        super().__init__()
        self.pair = pair


class UNetGenerator(Translator):
    """The pix2pix U-Net: log2(size) stride-2 convolutions down to 1×1 (channels width·2^i,
    at most 8·width), transposed convolutions back up, each decoder level concatenated with
    its encoder level (skip connections). LeakyReLU 0.2 down, ReLU up, no norm on the
    outermost and innermost encoder layers (whose convolutions keep a bias, having no norm to
    shift them). Dropout (the generator's only noise) sits where the paper puts it
    (`unet_dropout_levels`): none below 64 px."""

    def __init__(self, pair: ImagePair, cfg: NetConfig) -> None:
        super().__init__(pair)
        if not (is_power_of_two(pair.size) and 8 <= pair.size <= 1024):
            raise ConfigError(f"the U-Net needs a power-of-two image size from 8 to 1024; got {pair.size}")
        norm = cfg.norm or "batch"
        levels = pair.size.bit_length() - 1
        channels = [cfg.width * min(2**i, MAX_MULTIPLIER) for i in range(levels)]
        dropout_levels = set(unet_dropout_levels(levels))
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        for i in range(levels):
            c_in = pair.in_channels if i == 0 else channels[i - 1]
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(c_in, channels[i], 4, 2, 1, bias=_bias(norm) or i in (0, levels - 1)))
            if 0 < i < levels - 1:
                layers.append(norm_2d(norm, channels[i]))
            self.down.append(nn.Sequential(*layers))
        for i in range(levels):
            c_in = channels[i] if i == levels - 1 else 2 * channels[i]
            c_out = pair.out_channels if i == 0 else channels[i - 1]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=_bias(norm) or i == 0)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(norm_2d(norm, c_out))
                if i in dropout_levels and cfg.dropout > 0:
                    layers.append(nn.Dropout(cfg.dropout))
            self.up.append(nn.Sequential(*layers))
        self.levels, self.dropout_levels = levels, sorted(dropout_levels)
        size = pair.size
        for _ in range(levels):
            size = conv_out(size, 4, 2, 1)
        for _ in range(levels):
            size = conv_transpose_out(size, 4, 2, 1)
        if size != pair.size:  # a bug in the layer arithmetic, caught when the net is built
            raise AssertionError(f"U-Net layers give {size}×{size}, expected {pair.size}")
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        h = self.up[-1](skips[-1])
        for i in range(self.levels - 2, -1, -1):
            h = self.up[i](torch.cat([skips[i], h], dim=1))
        return h


class ResnetBlock(nn.Module):
    """x + (reflection pad, 3×3 conv, norm, ReLU, [dropout], reflection pad, 3×3 conv, norm)(x)."""

    def __init__(self, channels: int, norm: str, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=_bias(norm)),
            norm_2d(norm, channels),
            nn.ReLU(True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=_bias(norm)),
            norm_2d(norm, channels),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_blocks(size: int) -> int:
    """Residual blocks by image size: 9 from 256 px, 6 from 128 px (the reference's two
    settings), 3 below."""
    return 9 if size >= 256 else 6 if size >= 128 else 3


class ResnetGenerator(Translator):
    """The CycleGAN generator (Johnson et al.'s transform net): a 7×7 convolution with
    reflection padding, two stride-2 convolutions down, residual blocks at 4·width channels,
    two transposed convolutions up, a 7×7 convolution and tanh. Any size divisible by 4."""

    def __init__(self, pair: ImagePair, cfg: NetConfig) -> None:
        super().__init__(pair)
        if pair.size % 4 or pair.size < 8:
            raise ConfigError(
                f"the ResNet generator needs an image size divisible by 4 (8 or more); got {pair.size}"
            )
        norm = cfg.norm or "instance"
        w = cfg.width
        self.blocks = resnet_blocks(pair.size) if cfg.blocks is None else cfg.blocks
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(pair.in_channels, w, 7, bias=_bias(norm)),
            norm_2d(norm, w),
            nn.ReLU(True),
        ]
        for i in range(2):
            c = w * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=_bias(norm)), norm_2d(norm, 2 * c), nn.ReLU(True)]
        layers += [ResnetBlock(4 * w, norm, cfg.dropout) for _ in range(self.blocks)]
        for i in range(2):
            c = w * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=_bias(norm)),
                norm_2d(norm, c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, pair.out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def patch_layers(size: int) -> int:
    """PatchGAN strided layers for an image size: the paper's 3 (a 70 px receptive field) at
    every size whose logit map keeps at least one patch (24 px and up), else the most that
    do. Below 70 px the patches overlap the whole image, padding included: the paper's
    discriminator, not a smaller one (a 1-layer, 16 px PatchGAN at 32 px let the U-Net draw
    one brown blob for every input)."""
    for n in range(PATCH_LAYERS, 0, -1):
        if PatchDiscriminator.output(size, n) >= 1:
            return n
    return 1


class PatchDiscriminator(nn.Module):
    """PatchGAN: `layers` stride-2 4×4 convolutions (width, 2·width, … at most 8·width), a
    stride-1 4×4 convolution and a 1-channel stride-1 4×4 convolution; LeakyReLU 0.2, no norm
    on the first layer. Returns an N×1×h×w map of logits, each judging one patch of
    `receptive_field` pixels."""

    convolutional = True

    def __init__(self, in_channels: int, size: int, cfg: NetConfig) -> None:
        super().__init__()
        norm = cfg.norm or "batch"
        self.layers = patch_layers(size) if cfg.layers is None else cfg.layers
        w = cfg.width
        mods: list[nn.Module] = [nn.Conv2d(in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = w
        for n in range(1, self.layers + 1):
            c_next = w * min(2**n, MAX_MULTIPLIER)
            stride = 2 if n < self.layers else 1
            mods += [
                nn.Conv2d(c, c_next, 4, stride, 1, bias=_bias(norm)),
                norm_2d(norm, c_next),
                nn.LeakyReLU(0.2, True),
            ]
            c = c_next
        mods.append(nn.Conv2d(c, 1, 4, 1, 1))
        out = self.output(size, self.layers)
        if out < 1:
            raise ConfigError(
                f"a PatchGAN with {self.layers} layers shrinks a {size} px image to nothing: use fewer layers"
            )
        self.net = nn.Sequential(*mods)
        self.receptive_field = self.field(self.layers)
        self.output_size = out
        self.apply(dcgan_init)

    @staticmethod
    def output(size: int, layers: int) -> int:
        """The side of the logit map a `layers`-layer PatchGAN gives for a `size` px image."""
        out = size
        for stride in [2] * layers + [1, 1]:
            out = conv_out(out, 4, stride, 1)
        return out

    @staticmethod
    def field(layers: int) -> int:
        """Receptive field of a PatchGAN with `layers` stride-2 layers: 16, 34, 70, 142 px."""
        return receptive_field([(4, 2)] * layers + [(4, 1), (4, 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
