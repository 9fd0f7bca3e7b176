"""Differentiable augmentations of image batches (N×C×H×W, in the model's [-1, 1] range),
applied to real and generated images alike, so gradients reach G through them. Every random
draw is made for the global batch and this process takes its slice (`Shard`), so a
data-parallel run augments as one process would; draws come from the system's generator,
so a run and its resumed copy augment alike.

The draws are made on the generator's device (a CPU generator serves a CUDA batch too).
`diff_augment` applies every op of a policy to every image (DiffAugment); `ada_augment`
applies each op to each image with probability p (adaptive augmentation)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganforge.augment.config import AugmentConfig
from ganforge.core.sharding import Shard

Draw = Callable[..., torch.Tensor]


def _draw(x: torch.Tensor, generator: torch.Generator | None, shard: Shard) -> Draw:
    """U[0, 1) draws of shape (N, *rest) for this process's N images (drawn for all ranks)."""

    device = generator.device if generator is not None else x.device

    def uniform(*rest: int) -> torch.Tensor:
        full = torch.rand((x.shape[0] * shard.world, *rest), generator=generator, device=device)
        return shard.take(full).to(x.device)

    return uniform


def color(x: torch.Tensor, uniform: Draw) -> torch.Tensor:
    """Brightness (+U[-0.5, 0.5)), saturation (×U[0, 2) around the pixel's channel mean) and
    contrast (×U[0.5, 1.5) around the image's mean), in that order."""
    x = x + (uniform(1, 1, 1).to(x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (uniform(1, 1, 1).to(x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (uniform(1, 1, 1).to(x.dtype) + 0.5) + mean


def _shift_amount(side: int, fraction: float) -> int:
    return max(1, int(side * fraction + 0.5))


def translation(x: torch.Tensor, uniform: Draw, fraction: float) -> torch.Tensor:
    """Each image shifted by whole pixels, up to `fraction` of its side in each direction,
    the uncovered border filled with zeros."""
    n, _, h, w = x.shape
    sy, sx = _shift_amount(h, fraction), _shift_amount(w, fraction)
    shifts = uniform(2)
    ty = (shifts[:, 0] * (2 * sy + 1)).long() - sy
    tx = (shifts[:, 1] * (2 * sx + 1)).long() - sx
    padded = F.pad(x, (sx, sx, sy, sy))
    rows = torch.arange(h, device=x.device)[None, :] + sy - ty[:, None]
    cols = torch.arange(w, device=x.device)[None, :] + sx - tx[:, None]
    batch = torch.arange(n, device=x.device)[:, None, None]
    moved = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return moved.permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, uniform: Draw, fraction: float) -> torch.Tensor:
    """One square of `fraction` of the side zeroed in each image, centred anywhere on it."""
    _, _, h, w = x.shape
    size_y, size_x = _shift_amount(h, fraction), _shift_amount(w, fraction)
    centre = uniform(2)
    cy = (centre[:, 0] * h).long()
    cx = (centre[:, 1] * w).long()
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    inside_y = (rows >= (cy - size_y // 2)[:, None]) & (rows < (cy - size_y // 2 + size_y)[:, None])
    inside_x = (cols >= (cx - size_x // 2)[:, None]) & (cols < (cx - size_x // 2 + size_x)[:, None])
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


def xflip(x: torch.Tensor, uniform: Draw) -> torch.Tensor:
    """Every image mirrored left to right (ADA applies it with probability p)."""
    return x.flip(3)


def _apply(name: str, x: torch.Tensor, uniform: Draw, cfg: AugmentConfig) -> torch.Tensor:
    if name == "color":
        return color(x, uniform)
    if name == "translation":
        return translation(x, uniform, cfg.translation)
    if name == "cutout":
        return cutout(x, uniform, cfg.cutout)
    return xflip(x, uniform)


def diff_augment(
    x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None, shard: Shard | None = None
) -> torch.Tensor:
    """Every op of `cfg.policy`, in order, on every image."""
    uniform = _draw(x, generator, shard or Shard())
    for name in cfg.policy:
        x = _apply(name, x, uniform, cfg)
    return x


def ada_augment(
    x: torch.Tensor,
    p: float,
    cfg: AugmentConfig,
    generator: torch.Generator | None,
    shard: Shard | None = None,
) -> torch.Tensor:
    """Each op of `cfg.ada_ops`, in order, on each image with probability `p` (the draws are
    made whatever p is, so the random stream does not depend on p's value)."""
    uniform = _draw(x, generator, shard or Shard())
    for name in cfg.ada_ops:
        chosen = (uniform() < p).view(-1, 1, 1, 1)
        x = torch.where(chosen, _apply(name, x, uniform, cfg), x)
    return x
