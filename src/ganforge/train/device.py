"""Where a run computes, and which GPU-only speed-ups it uses there."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import ConfigError


@dataclass(frozen=True)
class Placement:
    device: torch.device
    amp_dtype: torch.dtype | None
    """bf16 autocast on CUDA (when asked), None elsewhere."""
    channels_last: bool


def resolve_placement(device: str, amp: str, channels_last: str, convolutional: bool) -> Placement:
    """`device` "auto" means CUDA when present, else the CPU; mixed precision (bf16) and
    channels_last are used on CUDA only (channels_last for convolutional nets only)."""
    if device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ConfigError(f"train.device: {exc}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"train.device is {device!r} but CUDA is not available: use auto or cpu")
    on_gpu = dev.type == "cuda"
    amp_dtype = torch.bfloat16 if on_gpu and amp == "auto" and torch.cuda.is_bf16_supported() else None
    return Placement(dev, amp_dtype, on_gpu and channels_last == "auto" and convolutional)
