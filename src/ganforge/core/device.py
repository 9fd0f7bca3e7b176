"""Where a run computes, and which speed-ups it uses there."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge.core.errors import ConfigError

CPU_BF16_ENV = "GANFORGE_CPU_BF16"
"""`auto` (default): probe the CPU for native bf16. `off`: take the CPU as one without it, so
`amp: auto` and feature extraction stay in fp32 (the path of an AVX2-only CPU, checkable on
any machine). `on`: take it as one with it (bf16 autocast even where the CPU only emulates
bf16: slow, for checking the bf16 path on an AVX2-only machine)."""


@dataclass(frozen=True)
class Placement:
    device: torch.device
    amp_dtype: torch.dtype | None
    """bf16 autocast where `amp` "auto" finds it fast (see resolve_placement), else None."""
    channels_last: bool

    @property
    def precision(self) -> str:
        return "bf16 autocast" if self.amp_dtype is not None else "fp32"


def cpu_probes_native_bf16() -> bool:
    """Whether the CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX), so that
    oneDNN's bf16 kernels beat fp32 rather than emulate bf16."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # a torch build without these probes
        return False


def cpu_has_native_bf16() -> bool:
    """Whether `amp: auto` takes this CPU as one with native bf16: the probe, unless
    GANFORGE_CPU_BF16 says `off` or `on` (see CPU_BF16_ENV)."""
    setting = os.environ.get(CPU_BF16_ENV, "auto").strip().lower() or "auto"
    if setting not in ("auto", "off", "on"):
        raise ConfigError(f"{CPU_BF16_ENV} must be auto, off or on, got {setting!r}")
    return cpu_probes_native_bf16() if setting == "auto" else setting == "on"


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what the platform says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> dict[str, Any]:
    """What a run's numbers depend on beyond its configuration: the CPU (and GPU), whether bf16
    runs natively there (and what GANFORGE_CPU_BF16 made of it), the threads and the torch
    version. Written beside every run's results."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_native_bf16": cpu_probes_native_bf16(),
        "bf16_taken_as_native": cpu_has_native_bf16(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def image_precision() -> str:
    """The precision `amp: auto` gives an image model on this machine's default device."""
    return resolve_placement("auto", "auto", "auto", convolutional=True).precision


def resolve_placement(
    device: str, amp: str, channels_last: str, convolutional: bool, images: bool = True
) -> Placement:
    """`device` "auto" means CUDA when present, else the CPU. `amp` "auto" turns on bf16
    autocast on CUDA (with bf16 support), and on a CPU with native bf16 for image models: it
    makes an MLP step about 1.3× and a small DCGAN step about 1.7× faster on an AVX512-BF16
    CPU, but slows the 2-D toys, whose layers are too small to gain. `channels_last` "auto"
    applies to convolutional nets whenever bf16 autocast is on; "on" applies it to them in
    fp32 too (a DCGAN's transposed convolutions run faster so on a CPU: see quick.yaml)."""
    if device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ConfigError(f"train.device: {exc}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"train.device is {device!r} but CUDA is not available: use auto or cpu")
    if dev.type == "cuda":
        fast_bf16 = torch.cuda.is_bf16_supported()
    else:
        fast_bf16 = dev.type == "cpu" and images and cpu_has_native_bf16()
    amp_dtype = torch.bfloat16 if amp == "auto" and fast_bf16 else None
    layout = channels_last == "on" or (channels_last == "auto" and amp_dtype is not None)
    return Placement(dev, amp_dtype, layout and convolutional)


@contextlib.contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """torch's intra-op CPU threads set to `count` within the block (0: left as they are),
    then restored."""
    if count <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
