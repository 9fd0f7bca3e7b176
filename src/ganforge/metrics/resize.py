"""Resizing images for a feature extractor, as part of a score's definition.

`clean` is an antialiased bicubic resize that matches PIL's (the filter clean-fid argues for,
Parmar et al. 2022: FID moves with the resize filter, as much as a model improvement does);
`legacy` is pytorch-fid's bilinear resize without antialiasing, which aliases when it shrinks
and which published FIDs computed with pytorch-fid used. A score's protocol stamp says which."""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F

from ganforge.core.errors import ConfigError

ResizeFilter = Literal["clean", "legacy"]
RESIZE_FILTERS: tuple[str, ...] = get_args(ResizeFilter)


def check_filter(name: str) -> ResizeFilter:
    if name not in RESIZE_FILTERS:
        raise ConfigError(f"unknown resize filter {name!r}; known: {', '.join(RESIZE_FILTERS)}")
    return name  # type: ignore[return-value]


def resize_images(images: torch.Tensor, size: int, resize: ResizeFilter) -> torch.Tensor:
    """Float images N×C×H×W resized to size×size with the named filter (values may overshoot
    their range slightly at edges, as PIL's bicubic does in float mode)."""
    check_filter(resize)
    if images.shape[-2:] == (size, size):
        return images
    if resize == "clean":
        return F.interpolate(images, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
