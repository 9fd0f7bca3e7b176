"""Convolution output-size arithmetic, in one place, so every net can check its shapes when
it is built (and say clearly when a size is impossible)."""

from __future__ import annotations

from ganforge.core.errors import ConfigError


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Spatial size after a Conv2d (floor division, as PyTorch computes it)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_out(
    size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Spatial size after a ConvTranspose2d."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def check_image_size(size: int, lo: int = 16, hi: int = 128, net: str = "DCGAN") -> int:
    """The number of stride-2 stages between 4×4 and `size`; ConfigError if `size` is not a
    power of two in [lo, hi]."""
    if not (is_power_of_two(size) and lo <= size <= hi):
        sizes = ", ".join(str(1 << k) for k in range(lo.bit_length() - 1, hi.bit_length()))
        raise ConfigError(f"{net} nets need a square power-of-two image size ({sizes}); got {size}")
    return size.bit_length() - 1 - 2


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """The receptive field, in input pixels, of one output unit of a stack of convolutions
    given as (kernel, stride) pairs, first layer first."""
    field = 1
    for kernel, stride in reversed(layers):
        field = (field - 1) * stride + kernel
    return field
