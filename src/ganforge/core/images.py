"""Image tensors between the stages and the nets: uint8 N×C×H×W in the data and the samples,
floats in [-1, 1] inside the nets. Fitting to a training size and back, channel changes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # an RGB image to one channel


def fit_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 N×C×H×W images brought to size×size once, before training: zero-padded when
    they are smaller by an even margin (MNIST 28 → 32), resized (antialiased) otherwise."""
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    if h == w and h < size and (size - h) % 2 == 0:
        pad = (size - h) // 2
        return F.pad(images, (pad, pad, pad, pad))
    x = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def unfit_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """The inverse of `fit_images` for generated images: crop the centre where it padded
    (32 → 28), resize otherwise."""
    h, w = images.shape[-2:]
    if h == w and h > size and (h - size) % 2 == 0:
        m = (h - size) // 2
        return images[..., m : m + size, m : m + size]
    return fit_images(images, size)


def to_model_input(images: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """uint8 images → float in [-1, 1] (in the memory format the nets use)."""
    x = images.float().mul_(2.0 / 255.0).sub_(1.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Net output in [-1, 1] → uint8 images (on the CPU)."""
    return x.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to("cpu", torch.uint8)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Images (uint8 or float) with one channel replicated to `channels`, or RGB reduced to
    one channel by luma; unchanged when they already match."""
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 1:
        return images.expand(-1, channels, -1, -1)
    weights = torch.tensor(LUMA, device=images.device).view(1, 3, 1, 1)
    gray = (images.float() * weights).sum(1, keepdim=True)
    return gray.round().clamp(0, 255).to(torch.uint8) if images.dtype == torch.uint8 else gray
