"""Scores of translations against their ground truth, per image and then averaged: L1 and
PSNR in [0, 1] intensity units, and SSIM (Wang et al. 2004: 11×11 Gaussian window, σ 1.5,
K1 0.01, K2 0.03, over the valid region, averaged over channels). Images are uint8."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PSNR_CAP = 100.0  # identical images: the PSNR of an MSE of 1e-10


def _unit(images: torch.Tensor) -> torch.Tensor:
    return images.double() / 255.0


def _check(outputs: torch.Tensor, targets: torch.Tensor) -> None:
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)} differ in shape")


def l1_per_image(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of each image pair, in [0, 1] units."""
    _check(outputs, targets)
    return (_unit(outputs) - _unit(targets)).abs().flatten(1).mean(1)


def psnr_per_image(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """10·log10(1 / MSE) of each image pair (intensities in [0, 1]), capped at 100 dB."""
    _check(outputs, targets)
    mse = (_unit(outputs) - _unit(targets)).pow(2).flatten(1).mean(1).clamp_min(10 ** (-PSNR_CAP / 10))
    return 10.0 * torch.log10(1.0 / mse)


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_per_image(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """The mean SSIM of each image pair (the window shrinks, odd, for images under 11 px)."""
    _check(outputs, targets)
    x, y = _unit(outputs), _unit(targets)
    size = min(window, *x.shape[-2:])
    size -= 1 - size % 2
    g = _gaussian_window(size, sigma)
    channels = x.shape[1]
    kx = g.view(1, 1, 1, -1).expand(channels, 1, 1, size)
    ky = g.view(1, 1, -1, 1).expand(channels, 1, size, 1)

    def blur(v: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(v, kx, groups=channels), ky, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = k1**2, k2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1)


def pair_scores(outputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 500) -> dict[str, float]:
    """Mean L1, PSNR and SSIM of aligned uint8 outputs and targets."""
    parts = {"l1": [], "psnr": [], "ssim": []}
    for o, t in zip(outputs.split(batch_size), targets.split(batch_size), strict=True):
        parts["l1"].append(l1_per_image(o, t))
        parts["psnr"].append(psnr_per_image(o, t))
        parts["ssim"].append(ssim_per_image(o, t))
    out = {k: float(torch.cat(v).mean()) for k, v in parts.items()}
    return {k: v for k, v in out.items() if math.isfinite(v)}
